//! NetFlow v9 / IPFIX templates compiled into fixed field offsets.
//!
//! A template is compiled once, when it arrives, into a [`Template`]: the
//! list of its fields (for walking variable-length records and counting
//! records of templates we do not decode) and, for every field c2atlas uses,
//! its [`Slot`] and location. Records of a template whose fields are all of
//! fixed length (the usual case) are then decoded with precomputed offsets:
//! no per-field dispatch, no allocation.
//!
//! Invariants: a compiled template has at most [`MAX_TEMPLATE_FIELDS`]
//! fields, no zero-length field, and a minimum record length ≥ 1 (so a data
//! set of `n` bytes holds at most `n` records and decoding always advances).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{FlowOut, FlowRecord, MAX_TS};
use crate::ingest::gate::{FlowGate, Gated};
use crate::model::Micros;

/// Most fields accepted in one template. Real templates have < 100 fields
/// (nfdump's largest IPFIX template has ~60, Cisco's ~80); a larger count is a
/// "template bomb" that would make every cached template cost kilobytes.
pub const MAX_TEMPLATE_FIELDS: usize = 256;

/// IPFIX field length meaning "variable length" (RFC 7011 §7).
pub const VARLEN: u16 = 65535;

/// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

/// The information elements c2atlas decodes, by what they mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Slot {
    Src4,
    Dst4,
    Src6,
    Dst6,
    Sport,
    Dport,
    Proto,
    Flags,
    BytesDelta,
    BytesTotal,
    PktsDelta,
    PktsTotal,
    StartSec,
    EndSec,
    StartMs,
    EndMs,
    StartNtp,
    EndNtp,
    StartUptime,
    EndUptime,
    StartDeltaUs,
    EndDeltaUs,
    SysInitMs,
}

/// Number of [`Slot`]s.
const N_SLOTS: usize = Slot::SysInitMs as usize + 1;

/// The slot of IANA IPFIX information element (or NetFlow v9 field type,
/// identical for these numbers) `ie` with length `len`, when c2atlas uses it
/// and the length is one the element can have (RFC 7011 reduced-size
/// encoding for counters; fixed sizes for addresses, ports and times).
fn slot_of(ie: u16, len: u16) -> Option<Slot> {
    let counter = (1..=8).contains(&len);
    let s = match (ie, len) {
        (8, 4) => Slot::Src4,
        (12, 4) => Slot::Dst4,
        (27, 16) => Slot::Src6,
        (28, 16) => Slot::Dst6,
        (7, 2) => Slot::Sport,
        (11, 2) => Slot::Dport,
        (4, 1) => Slot::Proto,
        (6, 1 | 2) => Slot::Flags,
        (1, _) if counter => Slot::BytesDelta,
        (85, _) if counter => Slot::BytesTotal,
        (2, _) if counter => Slot::PktsDelta,
        (86, _) if counter => Slot::PktsTotal,
        (150, 4) => Slot::StartSec,
        (151, 4) => Slot::EndSec,
        (152, 8) => Slot::StartMs,
        (153, 8) => Slot::EndMs,
        (154 | 156, 8) => Slot::StartNtp,
        (155 | 157, 8) => Slot::EndNtp,
        (22, 4) => Slot::StartUptime,
        (21, 4) => Slot::EndUptime,
        (158, 4) => Slot::StartDeltaUs,
        (159, 4) => Slot::EndDeltaUs,
        (160, 8) => Slot::SysInitMs,
        _ => return None,
    };
    Some(s)
}

/// One template field: its length (or [`VARLEN`]) and slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Field {
    slot: Option<Slot>,
    len: u16,
}

/// Where a slot's bytes are in a record (`len == 0`: absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Loc {
    off: u32,
    len: u16,
}

type Locs = [Loc; N_SLOTS];

/// Why a template was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template {id} declares {count} fields, more than the limit of {MAX_TEMPLATE_FIELDS}")]
    TooManyFields { id: u16, count: usize },
    #[error("template {id}: field {index} (type {ie}) has length 0")]
    ZeroLength { id: u16, index: usize, ie: u16 },
    #[error("template {id}: variable-length field {index} not allowed in NetFlow v9")]
    VarlenInV9 { id: u16, index: usize },
}

/// A compiled template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    fields: Box<[Field]>,
    /// Record length when no field is variable-length.
    fixed_len: Option<usize>,
    /// Shortest possible record (variable-length fields count 1 byte).
    min_len: usize,
    /// Slot locations (fixed-length templates only).
    locs: Locs,
    /// An options template: its records are counted, not decoded.
    pub options: bool,
}

/// A field as read from the wire: information element (enterprise-specific
/// elements are passed as `None`: never decoded) and length.
#[derive(Clone, Copy, Debug)]
pub struct RawField {
    pub ie: Option<u16>,
    pub len: u16,
}

impl Template {
    /// Compiles the fields of template `id`. `varlen_ok`: IPFIX (true) or v9.
    pub fn compile(
        id: u16,
        raw: &[RawField],
        options: bool,
        varlen_ok: bool,
    ) -> Result<Template, TemplateError> {
        if raw.len() > MAX_TEMPLATE_FIELDS {
            return Err(TemplateError::TooManyFields {
                id,
                count: raw.len(),
            });
        }
        let mut fields = Vec::with_capacity(raw.len());
        let mut locs = Locs::default();
        let mut off = 0usize;
        let mut fixed = true;
        for (index, f) in raw.iter().enumerate() {
            if f.len == 0 {
                return Err(TemplateError::ZeroLength {
                    id,
                    index,
                    ie: f.ie.unwrap_or(0),
                });
            }
            if f.len == VARLEN {
                if !varlen_ok {
                    return Err(TemplateError::VarlenInV9 { id, index });
                }
                fixed = false;
                off += 1;
                fields.push(Field {
                    slot: None,
                    len: VARLEN,
                });
                continue;
            }
            let slot = if options {
                None
            } else {
                f.ie.and_then(|ie| slot_of(ie, f.len))
            };
            if let Some(s) = slot {
                let loc = &mut locs[s as usize];
                // The first occurrence wins (as in nfdump).
                if loc.len == 0 {
                    *loc = Loc {
                        off: off as u32,
                        len: f.len,
                    };
                }
            }
            fields.push(Field { slot, len: f.len });
            off += usize::from(f.len);
        }
        Ok(Template {
            fields: fields.into_boxed_slice(),
            fixed_len: fixed.then_some(off),
            min_len: off,
            locs: if fixed { locs } else { Locs::default() },
            options,
        })
    }

    /// Shortest record of this template (≥ 1 for a non-empty template).
    pub fn min_len(&self) -> usize {
        self.min_len
    }

    /// Number of fields.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Decodes the records of a data set body `data`. Calls `out` for every
    /// record with addresses (options templates: none), returns the number
    /// of records (all of them, also those without addresses) and, when a
    /// variable-length field overflows the set, the byte offset of the bad
    /// record in `data`. Trailing bytes shorter than a record are padding.
    ///
    /// With a gate ([`FlowOut::gate`]) and a fixed-length template with IPv4
    /// addresses, a record whose two ends the gate rejects costs two loads,
    /// two bit tests and its start time: it goes to [`FlowOut::gated`].
    pub(crate) fn decode_set(
        &self,
        data: &[u8],
        t: &TimeCtx,
        out: &mut dyn FlowOut,
        no_addr: &mut u64,
    ) -> (u64, Option<usize>) {
        if self.min_len == 0 {
            return (0, None);
        }
        if let Some(len) = self.fixed_len {
            if self.options {
                return ((data.len() / len) as u64, None);
            }
            let (s4, d4) = (
                self.locs[Slot::Src4 as usize],
                self.locs[Slot::Dst4 as usize],
            );
            if let Some(gate) = out.gate().cloned()
                && s4.len == 4
                && d4.len == 4
            {
                return (self.decode_gated(data, len, s4, d4, &gate, t, out), None);
            }
            let mut n = 0;
            for rec in data.chunks_exact(len) {
                n += 1;
                match decode_record(rec, &self.locs, t) {
                    Some(r) => out.flow(&r),
                    None => *no_addr += 1,
                }
            }
            return (n, None);
        }
        let mut n = 0;
        let mut pos = 0usize;
        while data.len().saturating_sub(pos) >= self.min_len {
            let Some(rest) = data.get(pos..) else { break };
            let mut locs = Locs::default();
            let Some(len) = self.walk(rest, &mut locs) else {
                return (n, Some(pos));
            };
            n += 1;
            if !self.options {
                match rest.get(..len).and_then(|rec| decode_record(rec, &locs, t)) {
                    Some(r) => out.flow(&r),
                    None => *no_addr += 1,
                }
            }
            pos += len;
        }
        (n, None)
    }

    /// The gated loop of [`Template::decode_set`]: records of `len` bytes
    /// whose IPv4 addresses are at `s4` and `d4` (so every record has
    /// addresses). Returns the number of records.
    #[allow(clippy::too_many_arguments)]
    fn decode_gated(
        &self,
        data: &[u8],
        len: usize,
        s4: Loc,
        d4: Loc,
        gate: &FlowGate,
        t: &TimeCtx,
        out: &mut dyn FlowOut,
    ) -> u64 {
        let (so, dof) = (s4.off as usize, d4.off as usize);
        let mut n = 0;
        let mut run = Gated::default();
        for rec in data.chunks_exact(len) {
            n += 1;
            let (Some(src), Some(dst)) = (be32(rec, so), be32(rec, dof)) else {
                // Unreachable (the locations lie inside a record); decode in full.
                if let Some(r) = decode_record(rec, &self.locs, t) {
                    out.flow(&r);
                }
                continue;
            };
            if gate.pass(src, dst) {
                if let Some(g) = run.take() {
                    out.gated(&g);
                }
                if let Some(r) = decode_record(rec, &self.locs, t) {
                    out.flow(&r);
                }
            } else {
                run.add(start_ts(rec, &self.locs, t));
            }
        }
        if let Some(g) = run.take() {
            out.gated(&g);
        }
        n
    }

    /// Walks one variable-length record at the start of `rest`, filling
    /// `locs`; returns its length, or `None` when it overflows `rest`.
    fn walk(&self, rest: &[u8], locs: &mut Locs) -> Option<usize> {
        let mut off = 0usize;
        for f in self.fields.iter() {
            let len = if f.len == VARLEN {
                let first = *rest.get(off)?;
                off += 1;
                if first == 255 {
                    let l = be16(rest, off)?;
                    off += 2;
                    usize::from(l)
                } else {
                    usize::from(first)
                }
            } else {
                usize::from(f.len)
            };
            if off + len > rest.len() {
                return None;
            }
            if let Some(s) = f.slot {
                let loc = &mut locs[s as usize];
                if loc.len == 0 {
                    *loc = Loc {
                        off: off as u32,
                        len: len as u16,
                    };
                }
            }
            off += len;
        }
        (off > 0).then_some(off)
    }
}

/// The message header's clock, for times relative to it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TimeCtx {
    /// Export time, microseconds since the epoch.
    pub export_us: Micros,
    /// NetFlow v5/v9 header `sys_uptime` (ms) at export time; `None` for IPFIX.
    pub uptime_ms: Option<u32>,
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?)?
        .try_into()
        .ok()
        .map(u16::from_be_bytes)
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)?
        .try_into()
        .ok()
        .map(u32::from_be_bytes)
}

#[inline]
pub(crate) fn be64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at.checked_add(8)?)?
        .try_into()
        .ok()
        .map(u64::from_be_bytes)
}

/// An unsigned big-endian integer of `loc.len` (1..=8) bytes; `None` when absent.
#[inline]
fn uint(rec: &[u8], loc: Loc) -> Option<u64> {
    if loc.len == 0 {
        return None;
    }
    let off = loc.off as usize;
    match loc.len {
        4 => be32(rec, off).map(u64::from),
        8 => be64(rec, off),
        2 => be16(rec, off).map(u64::from),
        n => rec
            .get(off..off + usize::from(n))
            .filter(|b| b.len() <= 8)
            .map(|b| b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))),
    }
}

/// An NTP timestamp (RFC 5905: seconds since 1900, 2^-32 fractions) in µs since 1970.
fn ntp_us(v: u64) -> Micros {
    let secs = (v >> 32) as i64 - NTP_UNIX_OFFSET;
    let frac = ((v & 0xffff_ffff) * 1_000_000) >> 32;
    secs.saturating_mul(1_000_000).saturating_add(frac as i64)
}

/// The slots of one flow edge (start or end), by encoding.
#[derive(Clone, Copy)]
struct EdgeSlots {
    ms: Slot,
    sec: Slot,
    ntp: Slot,
    up: Slot,
    delta: Slot,
}

const START: EdgeSlots = EdgeSlots {
    ms: Slot::StartMs,
    sec: Slot::StartSec,
    ntp: Slot::StartNtp,
    up: Slot::StartUptime,
    delta: Slot::StartDeltaUs,
};

const END: EdgeSlots = EdgeSlots {
    ms: Slot::EndMs,
    sec: Slot::EndSec,
    ntp: Slot::EndNtp,
    up: Slot::EndUptime,
    delta: Slot::EndDeltaUs,
};

/// Time of a flow edge from whichever encoding the template carries.
#[inline]
fn edge(rec: &[u8], locs: &Locs, t: &TimeCtx, e: &EdgeSlots) -> Option<Micros> {
    let EdgeSlots {
        ms,
        sec,
        ntp,
        up,
        delta,
    } = *e;
    if let Some(v) = uint(rec, locs[ms as usize]) {
        return Some((v as i64).saturating_mul(1000));
    }
    if let Some(v) = uint(rec, locs[sec as usize]) {
        return Some((v as i64) * 1_000_000);
    }
    if let Some(v) = uint(rec, locs[ntp as usize]) {
        return Some(ntp_us(v));
    }
    if let Some(v) = uint(rec, locs[up as usize]) {
        let v = v as u32;
        if let Some(now_up) = t.uptime_ms {
            // Signed distance (wrap-safe) back from the export time.
            let back = i64::from(now_up.wrapping_sub(v) as i32);
            return Some(t.export_us - back * 1000);
        }
        if let Some(init) = uint(rec, locs[Slot::SysInitMs as usize]) {
            return Some(
                (init as i64)
                    .saturating_add(i64::from(v))
                    .saturating_mul(1000),
            );
        }
        return None;
    }
    uint(rec, locs[delta as usize]).map(|d| t.export_us - d as i64)
}

/// The event timestamp of a record, as [`decode_record`] then
/// [`FlowRecord::to_flow`] would give it: the start (else the end, else the
/// export time), clamped to `0..=MAX_TS`.
#[inline]
fn start_ts(rec: &[u8], locs: &Locs, t: &TimeCtx) -> Micros {
    edge(rec, locs, t, &START)
        .or_else(|| edge(rec, locs, t, &END))
        .unwrap_or(t.export_us)
        .clamp(0, MAX_TS)
}

/// One record → a flow record; `None` when it has no source or destination address.
#[inline]
fn decode_record(rec: &[u8], locs: &Locs, t: &TimeCtx) -> Option<FlowRecord> {
    let addr = |s4: Slot, s6: Slot| -> Option<IpAddr> {
        let l4 = locs[s4 as usize];
        if l4.len == 4 {
            return be32(rec, l4.off as usize).map(|v| IpAddr::V4(Ipv4Addr::from(v)));
        }
        let l6 = locs[s6 as usize];
        if l6.len == 16 {
            let o = l6.off as usize;
            let b: [u8; 16] = rec.get(o..o + 16)?.try_into().ok()?;
            return Some(IpAddr::V6(Ipv6Addr::from(b)));
        }
        None
    };
    let src = addr(Slot::Src4, Slot::Src6)?;
    let dst = addr(Slot::Dst4, Slot::Dst6)?;
    let get = |s: Slot| uint(rec, locs[s as usize]);
    let start = edge(rec, locs, t, &START);
    let end = edge(rec, locs, t, &END);
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s),
        (None, Some(e)) => (e, e),
        (None, None) => (t.export_us, t.export_us),
    };
    Some(FlowRecord {
        start,
        end,
        src,
        dst,
        sport: get(Slot::Sport).unwrap_or(0) as u16,
        dport: get(Slot::Dport).unwrap_or(0) as u16,
        proto: get(Slot::Proto).unwrap_or(0) as u8,
        // tcpControlBits may be 2 bytes (RFC 7125): the classic flags are the low byte.
        tcp_flags: get(Slot::Flags).unwrap_or(0) as u8,
        packets: get(Slot::PktsDelta)
            .or_else(|| get(Slot::PktsTotal))
            .unwrap_or(0),
        bytes: get(Slot::BytesDelta)
            .or_else(|| get(Slot::BytesTotal))
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(ie: u16, len: u16) -> RawField {
        RawField { ie: Some(ie), len }
    }

    #[test]
    fn fixed_template_offsets() {
        let t = Template::compile(
            256,
            &[f(8, 4), f(12, 4), f(7, 2), f(11, 2), f(2, 4)],
            false,
            true,
        )
        .unwrap();
        assert_eq!(t.fixed_len, Some(16));
        let rec = [10, 0, 0, 1, 8, 8, 8, 8, 0x1f, 0x90, 0, 53, 0, 0, 0, 7];
        let mut got = Vec::new();
        let (n, bad) = t.decode_set(
            &rec,
            &TimeCtx::default(),
            &mut super::super::EveryRecord(&mut |r| got.push(r.clone())),
            &mut 0,
        );
        assert_eq!((n, bad), (1, None));
        assert_eq!(got[0].src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!((got[0].sport, got[0].dport, got[0].packets), (8080, 53, 7));
    }

    #[test]
    fn rejects_bombs_and_zero_length() {
        let many = vec![f(1, 4); MAX_TEMPLATE_FIELDS + 1];
        assert!(matches!(
            Template::compile(300, &many, false, true),
            Err(TemplateError::TooManyFields { .. })
        ));
        assert!(matches!(
            Template::compile(300, &[f(8, 4), f(1, 0)], false, true),
            Err(TemplateError::ZeroLength { index: 1, .. })
        ));
        assert!(Template::compile(300, &[f(8, VARLEN)], false, false).is_err());
    }

    #[test]
    fn varlen_overflow_is_reported() {
        let t = Template::compile(256, &[f(8, 4), f(12, 4), f(82, VARLEN)], false, true).unwrap();
        // Record 1: 3-byte string; record 2: claims 200 bytes.
        let mut data = vec![1, 1, 1, 1, 2, 2, 2, 2, 3, b'a', b'b', b'c'];
        data.extend_from_slice(&[1, 1, 1, 1, 2, 2, 2, 2, 200, 0]);
        let mut got = 0;
        let (n, bad) = t.decode_set(
            &data,
            &TimeCtx::default(),
            &mut super::super::EveryRecord(&mut |_| got += 1),
            &mut 0,
        );
        assert_eq!((n, bad, got), (1, Some(12), 1));
    }

    #[test]
    fn ntp_conversion() {
        // 2020-01-01T00:00:00Z = 1577836800 Unix = 3786825600 NTP, plus half a second.
        let v = (3_786_825_600u64 << 32) | (1 << 31);
        assert_eq!(ntp_us(v), 1_577_836_800_500_000);
    }
}
