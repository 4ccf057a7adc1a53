//! nfdump records inside a decompressed block → flow records.
//!
//! Read from nfdump's `nfxV3.h`, `id.h` and the 1.6 compatibility code
//! (`compat_1_6_x/nfx.h`, `convert.c`); format only, no code copied.
//!
//! Every record starts with `type u16, size u16` (size includes these four
//! bytes). The types read here:
//! - `11` (V3 record, nfdump 1.7): a 12-byte header (`type, size,
//!   numElements u16, engineType u8, engineID u8, exporterID u16, flags u8,
//!   nfversion u8`) then `numElements` extension elements, each `type u16,
//!   length u16` (length includes the 4-byte element header). Used elements:
//!   1 `EXgenericFlow` (msecFirst, msecLast, msecReceived, inPackets, inBytes
//!   u64; srcPort, dstPort u16; proto, tcpFlags, fwdStatus, srcTos u8),
//!   2 `EXipv4Flow` (src, dst u32), 3 `EXipv6Flow` (src, dst as two u64
//!   halves each, high half first), 5 `EXcntFlow` (flows, outPackets,
//!   outBytes u64).
//! - `10` (common record, nfdump 1.6): a 32-byte header (`type, size, flags
//!   u16, ext_map u16, msec_first u16, msec_last u16, first u32, last u32,
//!   fwd_status, tcp_flags, prot, tos u8, srcPort, dstPort u16,
//!   exporter_sysid u16, biFlowDir, flowEndReason u8`), then the addresses
//!   (IPv4 or IPv6 by flag bit 0), input packets and bytes (u32 or u64 by
//!   flag bits 1 and 2), then the optional extensions listed by the
//!   extension map `ext_map`, whose sizes are fixed per extension id.
//! - `2` (extension map, nfdump 1.6): `type, size, map_id u16,
//!   extension_size u16, ex_id u16…` terminated by 0.
//!
//! Exporter, sampler, statistics, name and appendix records carry no flow and
//! are ignored. Integers are little-endian (host order of the writer).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Record type of an nfdump 1.6 extension map.
pub const EXTENSION_MAP_TYPE: u16 = 2;
/// Record type of an nfdump 1.6 flow record.
pub const COMMON_RECORD_TYPE: u16 = 10;
/// Record type of an nfdump 1.7 flow record.
pub const V3_RECORD_TYPE: u16 = 11;
/// Record type of the nfdump 1.8 flow record (not read: counted as skipped).
pub const V4_RECORD_TYPE: u16 = 16;

/// Record types that carry no flow (exporter info/stats, samplers, NBAR,
/// interface and VRF names, appendix ident/stat) — ignored without a count.
pub fn is_metadata(kind: u16) -> bool {
    matches!(kind, 7 | 8 | 9 | 12 | 13 | 14 | 15 | 0x8001 | 0x8002)
}

/// One flow as nfdump stores it (the fields c2atlas uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// Milliseconds since the epoch.
    pub first_ms: u64,
    pub last_ms: u64,
    pub proto: u8,
    pub tcp_flags: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub in_packets: u64,
    pub in_bytes: u64,
    pub out_packets: u64,
    pub out_bytes: u64,
}

/// Why a record was not turned into a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Malformed: counted as malformed.
    Malformed(String),
    /// A well-formed record without IP addresses (e.g. an NSEL/NEL event
    /// without a flow): counted as skipped.
    NoAddresses,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// An IPv6 address stored as two host-order u64 halves, high half first.
fn ipv6_at(b: &[u8], at: usize) -> Option<IpAddr> {
    let hi = u64_at(b, at)?;
    let lo = u64_at(b, at + 8)?;
    Some(IpAddr::V6(Ipv6Addr::from(
        (u128::from(hi) << 64) | u128::from(lo),
    )))
}

fn ipv4_at(b: &[u8], at: usize) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::from(u32_at(b, at)?)))
}

fn malformed(what: &str) -> RecordError {
    RecordError::Malformed(what.to_string())
}

/// Element ids of a V3 record.
const EX_GENERIC_FLOW: u16 = 1;
const EX_IPV4_FLOW: u16 = 2;
const EX_IPV6_FLOW: u16 = 3;
const EX_CNT_FLOW: u16 = 5;
/// Data bytes (after the 4-byte element header) each used element needs.
const GENERIC_FLOW_BYTES: usize = 48;
const IPV4_FLOW_BYTES: usize = 8;
const IPV6_FLOW_BYTES: usize = 32;
const CNT_FLOW_BYTES: usize = 24;
/// Size of the V3 record header.
const V3_HEADER_BYTES: usize = 12;

/// Decodes a V3 record (`rec` is the whole record, header included).
pub fn decode_v3(rec: &[u8]) -> Result<FlowRecord, RecordError> {
    let n = u16_at(rec, 4).ok_or_else(|| malformed("V3 record shorter than its header"))?;
    if rec.len() < V3_HEADER_BYTES {
        return Err(malformed("V3 record shorter than its header"));
    }
    let mut at = V3_HEADER_BYTES;
    let mut generic: Option<&[u8]> = None;
    let mut addrs: Option<(IpAddr, IpAddr)> = None;
    let mut cnt: Option<&[u8]> = None;
    for i in 0..n {
        let (Some(kind), Some(len)) = (u16_at(rec, at), u16_at(rec, at + 2)) else {
            return Err(RecordError::Malformed(format!(
                "element {i} of {n} at record offset {at}: past the record's {} bytes",
                rec.len()
            )));
        };
        let len = usize::from(len);
        let Some(data) = rec.get(at + 4..at + len).filter(|_| len >= 4) else {
            return Err(RecordError::Malformed(format!(
                "element {i} (type {kind}) at record offset {at}: length {len} outside the record's {} bytes",
                rec.len()
            )));
        };
        let short = |need: usize| {
            RecordError::Malformed(format!(
                "element {i} (type {kind}): {} data bytes, needs {need}",
                data.len()
            ))
        };
        match kind {
            EX_GENERIC_FLOW if data.len() < GENERIC_FLOW_BYTES => {
                return Err(short(GENERIC_FLOW_BYTES));
            }
            EX_GENERIC_FLOW => generic = Some(data),
            EX_IPV4_FLOW => {
                let (Some(s), Some(d)) = (ipv4_at(data, 0), ipv4_at(data, 4)) else {
                    return Err(short(IPV4_FLOW_BYTES));
                };
                addrs = Some((s, d));
            }
            EX_IPV6_FLOW => {
                let (Some(s), Some(d)) = (ipv6_at(data, 0), ipv6_at(data, 16)) else {
                    return Err(short(IPV6_FLOW_BYTES));
                };
                addrs = Some((s, d));
            }
            EX_CNT_FLOW if data.len() < CNT_FLOW_BYTES => return Err(short(CNT_FLOW_BYTES)),
            EX_CNT_FLOW => cnt = Some(data),
            _ => {}
        }
        at += len;
    }
    let Some((src, dst)) = addrs else {
        return Err(RecordError::NoAddresses);
    };
    let g = generic
        .ok_or_else(|| malformed("V3 record with addresses but no EXgenericFlow element"))?;
    let get64 = |b: &[u8], at| u64_at(b, at).unwrap_or(0);
    Ok(FlowRecord {
        first_ms: get64(g, 0),
        last_ms: get64(g, 8),
        in_packets: get64(g, 24),
        in_bytes: get64(g, 32),
        sport: u16_at(g, 40).unwrap_or(0),
        dport: u16_at(g, 42).unwrap_or(0),
        proto: g.get(44).copied().unwrap_or(0),
        tcp_flags: g.get(45).copied().unwrap_or(0),
        src,
        dst,
        out_packets: cnt.map_or(0, |c| get64(c, 8)),
        out_bytes: cnt.map_or(0, |c| get64(c, 16)),
    })
}

/// Size in bytes of each nfdump 1.6 extension, by id (`compat_1_6_x/nfx.c`);
/// `None` for ids that were never defined. Ids 0-3 are the required fields
/// in the record header and have no extension data.
fn extension_size(id: u16) -> Option<usize> {
    Some(match id {
        0..=3 => 0,
        4 => 4,
        5 => 8,
        6 => 4,
        7 => 8,
        8 => 4,
        9 => 4,
        10 => 16,
        11 => 4,
        12 => 16,
        13 => 4,
        14 => 4,
        15 => 8,
        16 => 4,
        17 => 8,
        18 => 4,
        19 => 8,
        20 | 21 => 16,
        22 => 40,
        23 => 4,
        24 => 16,
        25 => 4,
        26 | 27 => 8,
        28..=36 => 0,
        37 => 20,
        38 => 4,
        39 => 8,
        40 => 32,
        41 | 42 => 24,
        43 => 72,
        44 => 0,
        45 => 24,
        46 => 12,
        47 => 0,
        48 => 8,
        49 => 0,
        _ => return None,
    })
}

/// Extension ids of nfdump 1.6 output counters.
const EX_OUT_PKG_4: u16 = 14;
const EX_OUT_PKG_8: u16 = 15;
const EX_OUT_BYTES_4: u16 = 16;
const EX_OUT_BYTES_8: u16 = 17;

/// Where the output counters sit in the extension data of records using a map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtensionLayout {
    /// Offset from the end of the required fields and width (4 or 8) of the output packets.
    out_packets: Option<(usize, usize)>,
    out_bytes: Option<(usize, usize)>,
    /// Bytes of all extensions.
    total: usize,
}

/// The extension maps seen so far in one file (nfdump 1.6 layout).
#[derive(Debug, Default)]
pub struct ExtensionMaps {
    maps: HashMap<u16, ExtensionLayout>,
}

impl ExtensionMaps {
    /// Reads an extension map record and remembers its layout.
    pub fn insert(&mut self, rec: &[u8]) -> Result<(), RecordError> {
        let id =
            u16_at(rec, 4).ok_or_else(|| malformed("extension map shorter than its header"))?;
        let mut layout = ExtensionLayout::default();
        let mut at = 8;
        // nfdump pads maps to 4 bytes; a map may end without the 0 when it fills the record.
        while let Some(ex) = u16_at(rec, at) {
            if ex == 0 {
                break;
            }
            let size = extension_size(ex).ok_or_else(|| {
                RecordError::Malformed(format!("extension map {id}: unknown extension id {ex}"))
            })?;
            match ex {
                EX_OUT_PKG_4 | EX_OUT_PKG_8 => layout.out_packets = Some((layout.total, size)),
                EX_OUT_BYTES_4 | EX_OUT_BYTES_8 => layout.out_bytes = Some((layout.total, size)),
                _ => {}
            }
            layout.total += size;
            at += 2;
        }
        self.maps.insert(id, layout);
        Ok(())
    }
}

/// Size of the nfdump 1.6 common record header.
const COMMON_HEADER_BYTES: usize = 32;

/// Decodes an nfdump 1.6 common record with the file's extension maps.
pub fn decode_common(rec: &[u8], maps: &ExtensionMaps) -> Result<FlowRecord, RecordError> {
    if rec.len() < COMMON_HEADER_BYTES {
        return Err(RecordError::Malformed(format!(
            "common record of {} bytes, shorter than its {COMMON_HEADER_BYTES}-byte header",
            rec.len()
        )));
    }
    let h16 = |at| u16_at(rec, at).unwrap_or(0);
    let h32 = |at| u32_at(rec, at).unwrap_or(0);
    let flags = h16(4);
    let map_id = h16(6);
    let layout = maps.maps.get(&map_id).ok_or_else(|| {
        RecordError::Malformed(format!(
            "extension map {map_id} not defined before the record"
        ))
    })?;
    let short = || {
        RecordError::Malformed(format!(
            "common record of {} bytes too short for its fields (flags {flags:#x}, map {map_id})",
            rec.len()
        ))
    };
    let mut at = COMMON_HEADER_BYTES;
    let (src, dst) = if flags & 0x1 != 0 {
        let a = (ipv6_at(rec, at), ipv6_at(rec, at + 16));
        at += 32;
        a
    } else {
        let a = (ipv4_at(rec, at), ipv4_at(rec, at + 4));
        at += 8;
        a
    };
    let (Some(src), Some(dst)) = (src, dst) else {
        return Err(short());
    };
    let mut counter = |wide: bool| -> Option<u64> {
        let v = if wide {
            u64_at(rec, at)
        } else {
            u32_at(rec, at).map(u64::from)
        };
        at += if wide { 8 } else { 4 };
        v
    };
    let in_packets = counter(flags & 0x2 != 0).ok_or_else(short)?;
    let in_bytes = counter(flags & 0x4 != 0).ok_or_else(short)?;
    if at + layout.total > rec.len() {
        return Err(short());
    }
    let ext = |field: Option<(usize, usize)>| -> u64 {
        match field {
            Some((off, 8)) => u64_at(rec, at + off).unwrap_or(0),
            Some((off, _)) => u32_at(rec, at + off).map_or(0, u64::from),
            None => 0,
        }
    };
    Ok(FlowRecord {
        first_ms: u64::from(h32(12)) * 1000 + u64::from(h16(8)),
        last_ms: u64::from(h32(16)) * 1000 + u64::from(h16(10)),
        tcp_flags: rec.get(21).copied().unwrap_or(0),
        proto: rec.get(22).copied().unwrap_or(0),
        sport: h16(24),
        dport: h16(26),
        src,
        dst,
        in_packets,
        in_bytes,
        out_packets: ext(layout.out_packets),
        out_bytes: ext(layout.out_bytes),
    })
}
