//! NetFlow v5: a 24-byte header and up to [`MAX_V5_RECORDS`] fixed 48-byte records.

use std::net::{IpAddr, Ipv4Addr};

use super::template::{be16, be32};
use super::{Ctx, FlowRecord, SourceKey};

const HEADER: usize = 24;
const RECORD: usize = 48;
/// Cisco's limit on records per v5 packet (30 × 48 + 24 = 1464 bytes, one MTU).
pub const MAX_V5_RECORDS: usize = 30;

pub(crate) fn decode(ctx: &mut Ctx<'_>, data: &[u8]) {
    let (Some(count), Some(uptime), Some(secs), Some(nsecs), Some(seq)) = (
        be16(data, 2),
        be32(data, 4),
        be32(data, 8),
        be32(data, 12),
        be32(data, 16),
    ) else {
        ctx.malformed(0, format!("NetFlow v5 header cut ({} bytes)", data.len()));
        return;
    };
    let engine = data
        .get(20..22)
        .map_or(0, |b| b.iter().fold(0u32, |a, &x| (a << 8) | u32::from(x)));
    let key = SourceKey {
        exporter: ctx.exporter,
        version: 5,
        domain: engine,
    };
    if ctx.source(key).is_none() {
        return;
    }
    let count = usize::from(count);
    let present = data.len().saturating_sub(HEADER) / RECORD;
    if count > MAX_V5_RECORDS {
        ctx.malformed(2, format!("record count {count} above {MAX_V5_RECORDS}"));
    } else if present < count {
        ctx.malformed(
            HEADER + present * RECORD,
            format!("{count} records announced, {present} present (datagram cut)"),
        );
    }
    let n = count.min(present).min(MAX_V5_RECORDS);
    // flow_sequence counts flows sent before this packet.
    ctx.sequence(key, seq, Some(count.min(MAX_V5_RECORDS) as u32), true);
    let export_us = i64::from(secs) * 1_000_000 + i64::from(nsecs / 1000).min(999_999);
    for i in 0..n {
        let Some(r) = data.get(HEADER + i * RECORD..HEADER + (i + 1) * RECORD) else {
            break;
        };
        let (Some(src), Some(dst), Some(pkts), Some(octets), Some(first), Some(last)) = (
            be32(r, 0),
            be32(r, 4),
            be32(r, 16),
            be32(r, 20),
            be32(r, 24),
            be32(r, 28),
        ) else {
            break;
        };
        let at = |up: u32| export_us - i64::from(uptime.wrapping_sub(up) as i32) * 1000;
        let rec = FlowRecord {
            start: at(first),
            end: at(last),
            src: IpAddr::V4(Ipv4Addr::from(src)),
            dst: IpAddr::V4(Ipv4Addr::from(dst)),
            sport: be16(r, 32).unwrap_or(0),
            dport: be16(r, 34).unwrap_or(0),
            tcp_flags: r.get(37).copied().unwrap_or(0),
            proto: r.get(38).copied().unwrap_or(0),
            packets: u64::from(pkts),
            bytes: u64::from(octets),
        };
        ctx.stats.records += 1;
        ctx.outcome.records += 1;
        ctx.out.flow(&rec);
    }
}
