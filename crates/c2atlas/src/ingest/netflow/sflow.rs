//! sFlow version 5 datagrams (sflow.org `sflow_version_5.txt`).
//!
//! Flow samples (standard and expanded) become one [`FlowRecord`] each, from
//! their sampled packet header (decoded by the pcap module's frame decoder,
//! built on `etherparse`) or from a "sampled IPv4/IPv6" record. A sample
//! stands for `sampling_rate` packets: `packets` is the rate and `bytes` the
//! frame length times the rate (the usual sFlow estimate). sFlow carries no
//! wall clock: records are stamped with the receive time. Counter samples
//! are counted and skipped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::template::{be32, be64};
use super::{Ctx, FlowRecord, SourceKey};
use crate::ingest::pcap::decode::{Decoded, decode as decode_frame, linktype};
use crate::model::Proto;

/// The version word at the start of every sFlow v5 datagram.
pub const VERSION: u32 = 5;
/// Samples decoded per datagram. A datagram is ≤ 64 KiB and a sample has an
/// 8-byte header, so a larger declared count is bogus; the bound also caps
/// the work one datagram can cause.
pub const MAX_SAMPLES: u32 = 8192;
/// Flow records read per flow sample (agents send 1–8).
pub const MAX_FLOW_RECORDS: u32 = 256;

/// Enterprise-0 sample formats.
const FLOW_SAMPLE: u32 = 1;
const COUNTER_SAMPLE: u32 = 2;
const FLOW_SAMPLE_EXPANDED: u32 = 3;
const COUNTER_SAMPLE_EXPANDED: u32 = 4;
/// Enterprise-0 flow record formats.
const RAW_HEADER: u32 = 1;
const SAMPLED_IPV4: u32 = 3;
const SAMPLED_IPV6: u32 = 4;
/// Raw header protocols.
const HEADER_ETHERNET: u32 = 1;
const HEADER_IPV4: u32 = 11;
const HEADER_IPV6: u32 = 12;

/// XDR opaque data is padded to 4 bytes.
fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

pub(crate) fn decode(ctx: &mut Ctx<'_>, data: &[u8]) {
    let Some(addr_type) = be32(data, 4) else {
        ctx.malformed(0, "sFlow header cut");
        return;
    };
    let (agent_len, _agent) = match addr_type {
        1 => (4, data.get(8..12)),
        2 => (16, data.get(8..24)),
        t => {
            ctx.malformed(4, format!("sFlow agent address type {t}"));
            return;
        }
    };
    let h = 8 + agent_len;
    let (Some(sub_agent), Some(seq), Some(_uptime), Some(count)) = (
        be32(data, h),
        be32(data, h + 4),
        be32(data, h + 8),
        be32(data, h + 12),
    ) else {
        ctx.malformed(0, format!("sFlow header cut ({} bytes)", data.len()));
        return;
    };
    let key = SourceKey {
        exporter: ctx.exporter,
        version: 5 | 0x80,
        domain: sub_agent,
    };
    if ctx.source(key).is_none() {
        return;
    }
    ctx.sequence(key, seq, Some(1), false);
    let mut pos = h + 16;
    if count > MAX_SAMPLES {
        ctx.malformed(h + 12, format!("sample count {count} above {MAX_SAMPLES}"));
    }
    for i in 0..count.min(MAX_SAMPLES) {
        let (Some(format), Some(len)) = (be32(data, pos), be32(data, pos + 4)) else {
            ctx.malformed(
                pos,
                format!("{count} samples announced, datagram ends after {i}"),
            );
            return;
        };
        let len = len as usize;
        let Some(body) = data.get(pos + 8..(pos + 8).saturating_add(len)) else {
            ctx.malformed(pos, format!("sample {i} length {len} beyond the datagram"));
            return;
        };
        let enterprise = format >> 12;
        match (enterprise, format & 0xfff) {
            (0, FLOW_SAMPLE) => flow_sample(ctx, body, pos + 8, false),
            (0, FLOW_SAMPLE_EXPANDED) => flow_sample(ctx, body, pos + 8, true),
            (0, COUNTER_SAMPLE | COUNTER_SAMPLE_EXPANDED) => ctx.stats.counter_samples += 1,
            _ => {}
        }
        pos += 8 + pad4(len);
    }
}

fn flow_sample(ctx: &mut Ctx<'_>, s: &[u8], at: usize, expanded: bool) {
    // Standard: seq, source id, rate, pool, drops, input, output, n (8 words);
    // expanded: source id and interfaces take two words each (11 words).
    let (rate_at, n_at) = if expanded { (12, 40) } else { (8, 28) };
    let (Some(rate), Some(n)) = (be32(s, rate_at), be32(s, n_at)) else {
        ctx.malformed(at, "flow sample header cut");
        return;
    };
    let rate = u64::from(rate.max(1));
    let mut pos = n_at + 4;
    if n > MAX_FLOW_RECORDS {
        ctx.malformed(
            at,
            format!("flow record count {n} above {MAX_FLOW_RECORDS}"),
        );
        return;
    }
    for i in 0..n {
        let (Some(format), Some(len)) = (be32(s, pos), be32(s, pos + 4)) else {
            ctx.malformed(
                at + pos,
                format!("{n} flow records announced, sample ends after {i}"),
            );
            return;
        };
        let len = len as usize;
        let Some(body) = s.get(pos + 8..(pos + 8).saturating_add(len)) else {
            ctx.malformed(
                at + pos,
                format!("flow record {i} length {len} beyond the sample"),
            );
            return;
        };
        let rec = match format {
            RAW_HEADER => raw_header(body),
            SAMPLED_IPV4 => sampled_ip(body, false),
            SAMPLED_IPV6 => sampled_ip(body, true),
            _ => Ok(None),
        };
        match rec {
            Ok(Some((mut r, frame_len))) => {
                r.start = ctx.now;
                r.end = ctx.now;
                r.packets = rate;
                r.bytes = frame_len.saturating_mul(rate);
                ctx.stats.records += 1;
                ctx.outcome.records += 1;
                ctx.out.flow(&r);
                // One flow record per sample: the other records (extended
                // switch/router data) describe the same packet.
                return;
            }
            Ok(None) => {}
            Err(why) => {
                ctx.malformed(at + pos, why);
                return;
            }
        }
        pos += 8 + pad4(len);
    }
}

type Sampled = (FlowRecord, u64);

fn blank(src: IpAddr, dst: IpAddr) -> FlowRecord {
    FlowRecord {
        start: 0,
        end: 0,
        src,
        dst,
        sport: 0,
        dport: 0,
        proto: 0,
        tcp_flags: 0,
        packets: 0,
        bytes: 0,
    }
}

/// A sampled packet header → its addresses, ports and frame length.
fn raw_header(b: &[u8]) -> Result<Option<Sampled>, String> {
    let (Some(proto), Some(frame_len), Some(hlen)) = (be32(b, 0), be32(b, 4), be32(b, 12)) else {
        return Err("raw packet header record cut".into());
    };
    let Some(header) = b.get(16..16usize.saturating_add(hlen as usize)) else {
        return Err(format!("sampled header length {hlen} beyond the record"));
    };
    let link = match proto {
        HEADER_ETHERNET => linktype::ETHERNET,
        HEADER_IPV4 => linktype::IPV4,
        HEADER_IPV6 => linktype::IPV6,
        _ => return Ok(None),
    };
    match decode_frame(link, header) {
        Decoded::Ip(p) => {
            let mut r = blank(p.src, p.dst);
            r.sport = p.sport;
            r.dport = p.dport;
            r.tcp_flags = p.flags;
            r.proto = match p.proto {
                Proto::Tcp => 6,
                Proto::Udp => 17,
                Proto::Icmp if p.src.is_ipv6() => 58,
                Proto::Icmp => 1,
                Proto::Other(n) => n,
            };
            Ok(Some((r, u64::from(frame_len))))
        }
        Decoded::NotIp(_) => Ok(None),
        Decoded::Malformed(why) => Err(format!("sampled packet header: {why}")),
    }
}

/// A "sampled IPv4" (format 3) or "sampled IPv6" (format 4) record.
fn sampled_ip(b: &[u8], v6: bool) -> Result<Option<Sampled>, String> {
    let cut = || "sampled IP record cut".to_string();
    let len = be32(b, 0).ok_or_else(cut)?;
    let proto = be32(b, 4).ok_or_else(cut)?;
    let (src, dst, p) = if v6 {
        let s: [u8; 16] = b
            .get(8..24)
            .and_then(|x| x.try_into().ok())
            .ok_or_else(cut)?;
        let d: [u8; 16] = b
            .get(24..40)
            .and_then(|x| x.try_into().ok())
            .ok_or_else(cut)?;
        (
            IpAddr::V6(Ipv6Addr::from(s)),
            IpAddr::V6(Ipv6Addr::from(d)),
            40,
        )
    } else {
        let s = be32(b, 8).ok_or_else(cut)?;
        let d = be32(b, 12).ok_or_else(cut)?;
        (
            IpAddr::V4(Ipv4Addr::from(s)),
            IpAddr::V4(Ipv4Addr::from(d)),
            16,
        )
    };
    let ports = be64(b, p).ok_or_else(cut)?;
    let flags = be32(b, p + 8).ok_or_else(cut)?;
    let mut r = blank(src, dst);
    r.sport = (ports >> 32) as u16;
    r.dport = ports as u16;
    r.proto = proto as u8;
    r.tcp_flags = flags as u8;
    Ok(Some((r, u64::from(len))))
}

/// Fuzz entry point: `data` after an sFlow version word, as one datagram.
pub(crate) fn fuzz(data: &[u8]) {
    let mut dgram = VERSION.to_be_bytes().to_vec();
    dgram.extend_from_slice(data);
    let mut d = super::Decoder::new();
    d.datagram(IpAddr::from([192, 0, 2, 1]), 0, &dgram, &mut |r| {
        let _ = r.to_flow();
    });
    d.datagram(IpAddr::from([192, 0, 2, 1]), 0, data, &mut |_| {});
}
