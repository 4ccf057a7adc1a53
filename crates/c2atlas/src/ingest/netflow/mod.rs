//! Flow export protocols: NetFlow v5, NetFlow v9, IPFIX and sFlow v5 →
//! [`FlowRecord`]s → [`Event::Flow`](crate::model::Event).
//!
//! One [`Decoder`] holds everything that lives across datagrams: templates
//! per (exporter address, observation domain / source id), sequence-number
//! state, data sets waiting for their template, and counters per exporter.
//! [`Decoder::datagram`] takes one UDP payload (or one IPFIX message of a
//! file) and calls back once per flow record; the protocol is recognised
//! from the first bytes (sFlow's 32-bit version 5 cannot be confused with a
//! NetFlow 16-bit version), so one decoder serves every port.
//!
//! Why not the `netflow_parser` crate: it returns every record as a map of
//! field name → enum value (`BTreeMap`/`Vec` allocations per record and per
//! field), which caps it far below the ≥ 10 M IPFIX records/s per core the
//! census needs from files. Here a template is compiled once into fixed
//! offsets of the ~20 fields c2atlas uses ([`template`]) and each record is
//! read in place, without allocation.
//!
//! Bad input never panics and never grows memory without bound: every limit
//! is a named constant below or in [`template`]; a malformed datagram (or set)
//! is counted against its exporter and skipped, and the good records before
//! it are kept.

pub mod file;
mod ipfix;
pub mod sflow;
pub mod template;
mod v5;
mod v9;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::ingest::gate::{FlowGate, Gated};
use crate::model::{Flow, Micros, Proto};
pub use ipfix::{IPFIX_HEADER_LEN, message_len};
use template::{Template, TimeCtx};

/// Exporters tracked individually; beyond this, counters of new exporters go
/// to [`Decoder::overflow`] (their records are still decoded). An exporter's
/// counters are ~150 bytes: 4096 of them are < 1 MiB.
pub const MAX_EXPORTERS: usize = 4096;

/// Template scopes (exporter × observation domain / source id) kept. A
/// datagram of a new scope beyond this is counted (`over_limit`) and skipped:
/// a flood of spoofed domains cannot fill memory.
pub const MAX_SOURCES: usize = 16_384;

/// Templates kept over all scopes. With at most
/// [`template::MAX_TEMPLATE_FIELDS`] fields of 4 bytes each, this bounds the
/// template cache at ~64 MiB in the worst case (a few MiB in practice).
pub const MAX_TEMPLATES: usize = 65_536;

/// Data sets kept while waiting for their template, and their total bytes.
/// Exporters resend templates every few seconds to minutes; what waits longer
/// than [`PENDING_MAX_AGE`] or does not fit is counted as lost.
pub const MAX_PENDING_SETS: usize = 4096;
pub const MAX_PENDING_BYTES: usize = 8 << 20;

/// How long a data set waits for its template (µs of the decoder's clock:
/// arrival time for the collector, export time for files).
pub const PENDING_MAX_AGE: Micros = 60_000_000;

/// One decoded (unidirectional) flow record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// First and last packet, µs since the epoch.
    pub start: Micros,
    pub end: Micros,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
    pub tcp_flags: u8,
    pub packets: u64,
    pub bytes: u64,
}

/// Latest timestamp passed on (9999-12-31T23:59:59.999999Z, µs). Exporter
/// clocks are 32/64-bit fields of any value; clamping start and end to
/// `0..=MAX_TS` keeps `ts + duration` far from overflow in every detector.
pub const MAX_TS: Micros = 253_402_300_799_999_999;

impl FlowRecord {
    /// The normalised event. Export records are unidirectional: all bytes are
    /// the source's (`src_bytes`), `dst_bytes` is 0. Times are clamped to
    /// `0..=`[`MAX_TS`]; an end before the start gives duration 0.
    pub fn to_flow(&self) -> Flow<'static> {
        let start = self.start.clamp(0, MAX_TS);
        let end = self.end.clamp(0, MAX_TS);
        Flow {
            ts: start,
            duration: (end - start).max(0),
            proto: match self.proto {
                6 => Proto::Tcp,
                17 => Proto::Udp,
                1 | 58 => Proto::Icmp,
                n => Proto::Other(n),
            },
            src: self.src,
            sport: self.sport,
            dst: self.dst,
            dport: self.dport,
            src_bytes: self.bytes,
            dst_bytes: 0,
            packets: self.packets,
            label: None,
        }
    }
}

/// Where decoded flow records go.
pub trait FlowOut {
    /// A record that passed the gate (every record when there is no gate).
    fn flow(&mut self, r: &FlowRecord);
    /// The gate: IPFIX and v9 records of fixed-length templates whose two
    /// IPv4 ends it rejects are not decoded beyond their start time, and are
    /// reported with [`FlowOut::gated`] (see [`crate::ingest::gate`]).
    fn gate(&self) -> Option<&FlowGate> {
        None
    }
    /// `g.n` records the gate rejected, after the records already passed on
    /// and before the next ones (records keep their order).
    fn gated(&mut self, _g: &Gated) {}
}

/// A closure as a [`FlowOut`] without a gate.
pub(crate) struct EveryRecord<'a>(pub &'a mut dyn FnMut(&FlowRecord));

impl FlowOut for EveryRecord<'_> {
    fn flow(&mut self, r: &FlowRecord) {
        (self.0)(r)
    }
}

/// The export protocol of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    NetflowV5,
    NetflowV9,
    Ipfix,
    Sflow,
}

/// Counters of one exporter (or, in [`Decoder::overflow`], of all exporters
/// beyond [`MAX_EXPORTERS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExporterStats {
    /// Datagrams (IPFIX messages) received.
    pub datagrams: u64,
    /// Flow records decoded and passed on.
    pub records: u64,
    /// Data records without source or destination address (not flows).
    pub no_address: u64,
    /// Options data records, counted and skipped.
    pub options_records: u64,
    /// sFlow counter samples, counted and skipped.
    pub counter_samples: u64,
    /// Malformed datagrams, sets, templates or samples, each skipped.
    pub malformed: u64,
    /// Templates (and options templates) received, and withdrawn.
    pub templates: u64,
    pub withdrawals: u64,
    /// Data sets whose template never came in time (or did not fit the buffer).
    pub lost_sets: u64,
    /// Records the sequence numbers say were never received (v5, IPFIX).
    pub lost_records: u64,
    /// Datagrams the sequence numbers say were never received (v9, sFlow).
    pub lost_datagrams: u64,
    /// Sequence numbers that went backwards (restart or reordering).
    pub sequence_resets: u64,
    /// Datagrams skipped because a limit ([`MAX_SOURCES`], [`MAX_TEMPLATES`]) was reached.
    pub over_limit: u64,
}

/// A malformed datagram: where (byte offset in the datagram) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {reason}")]
pub struct DecodeError {
    pub offset: usize,
    pub reason: String,
}

impl DecodeError {
    fn new(offset: usize, reason: impl Into<String>) -> DecodeError {
        DecodeError {
            offset,
            reason: reason.into(),
        }
    }
}

/// What one datagram produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub protocol: Option<Protocol>,
    /// Flow records passed to the callback.
    pub records: u64,
    /// The first problem found (each problem is also counted in the exporter's `malformed`).
    pub error: Option<DecodeError>,
}

/// A template scope: exporter address, protocol and observation domain / source id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SourceKey {
    pub exporter: IpAddr,
    pub version: u8,
    pub domain: u32,
}

/// Per-scope state.
#[derive(Debug, Default)]
pub(crate) struct Source {
    pub templates: HashMap<u16, Template>,
    /// Expected next sequence number, when known.
    pub next_seq: Option<u32>,
}

/// A data set waiting for its template.
#[derive(Debug)]
pub(crate) struct Pending {
    key: SourceKey,
    template: u16,
    arrived: Micros,
    time: TimeCtx,
    body: Vec<u8>,
}

/// Decoder state shared by all protocols. See the module docs.
#[derive(Debug, Default)]
pub struct Decoder {
    sources: HashMap<SourceKey, Source>,
    exporters: HashMap<IpAddr, ExporterStats>,
    /// Counters of exporters beyond [`MAX_EXPORTERS`].
    pub overflow: ExporterStats,
    pending: VecDeque<Pending>,
    pending_bytes: usize,
    templates: usize,
}

/// Everything a protocol decoder needs for one datagram.
pub(crate) struct Ctx<'a> {
    pub exporter: IpAddr,
    pub stats: &'a mut ExporterStats,
    pub sources: &'a mut HashMap<SourceKey, Source>,
    pub templates: &'a mut usize,
    pub pending: &'a mut VecDeque<Pending>,
    pub pending_bytes: &'a mut usize,
    pub now: Micros,
    pub out: &'a mut dyn FlowOut,
    pub outcome: &'a mut Outcome,
}

impl Ctx<'_> {
    /// Counts a problem; keeps the first for the caller.
    pub fn malformed(&mut self, offset: usize, reason: impl Into<String>) {
        self.stats.malformed += 1;
        if self.outcome.error.is_none() {
            self.outcome.error = Some(DecodeError::new(offset, reason));
        }
    }

    /// The scope `key`, created if there is room; `None` (counted) when the
    /// [`MAX_SOURCES`] limit is reached.
    pub fn source(&mut self, key: SourceKey) -> Option<&mut Source> {
        if !self.sources.contains_key(&key) && self.sources.len() >= MAX_SOURCES {
            self.stats.over_limit += 1;
            return None;
        }
        Some(self.sources.entry(key).or_default())
    }

    /// Stores template `id` of scope `key` and decodes the sets that waited for it.
    pub fn add_template(&mut self, key: SourceKey, id: u16, t: Template) {
        self.stats.templates += 1;
        let Some(src) = self.sources.get_mut(&key) else {
            return;
        };
        if !src.templates.contains_key(&id) {
            if *self.templates >= MAX_TEMPLATES {
                self.stats.over_limit += 1;
                return;
            }
            *self.templates += 1;
        }
        src.templates.insert(id, t);
        if self
            .pending
            .iter()
            .any(|p| p.key == key && p.template == id)
        {
            let waiting: Vec<Pending> = {
                let (hit, keep): (Vec<_>, Vec<_>) = self
                    .pending
                    .drain(..)
                    .partition(|p| p.key == key && p.template == id);
                self.pending.extend(keep);
                hit
            };
            for p in waiting {
                *self.pending_bytes -= p.body.len();
                self.data_set(key, id, &p.body, &p.time, 0);
            }
        }
    }

    /// Withdraws template `id` of scope `key` (`None`: all of them).
    pub fn withdraw(&mut self, key: SourceKey, id: Option<u16>) {
        self.stats.withdrawals += 1;
        if let Some(src) = self.sources.get_mut(&key) {
            match id {
                Some(id) => {
                    if src.templates.remove(&id).is_some() {
                        *self.templates -= 1;
                    }
                }
                None => {
                    *self.templates -= src.templates.len();
                    src.templates.clear();
                }
            }
        }
    }

    /// Decodes data set `body` (after its 4-byte header, at `offset` in the
    /// datagram) with template `id`, or parks it until the template comes.
    /// Returns the number of data records, `None` when unknown (parked).
    pub fn data_set(
        &mut self,
        key: SourceKey,
        id: u16,
        body: &[u8],
        time: &TimeCtx,
        offset: usize,
    ) -> Option<u64> {
        let Some(t) = self.sources.get(&key).and_then(|s| s.templates.get(&id)) else {
            self.park(key, id, body, time);
            return None;
        };
        let mut no_addr = 0;
        let options = t.options;
        let (n, bad) = t.decode_set(body, time, &mut *self.out, &mut no_addr);
        // Every record with addresses was passed on (or gated).
        let records = if options { 0 } else { n - no_addr };
        self.stats.records += records;
        self.outcome.records += records;
        self.stats.no_address += no_addr;
        if options {
            self.stats.options_records += n;
        }
        if let Some(at) = bad {
            self.malformed(
                offset + at,
                format!("template {id}: variable-length field overflows the data set"),
            );
        }
        Some(n)
    }

    fn park(&mut self, key: SourceKey, id: u16, body: &[u8], time: &TimeCtx) {
        if self.pending.len() >= MAX_PENDING_SETS
            || *self.pending_bytes + body.len() > MAX_PENDING_BYTES
        {
            self.stats.lost_sets += 1;
            return;
        }
        *self.pending_bytes += body.len();
        self.pending.push_back(Pending {
            key,
            template: id,
            arrived: self.now,
            time: *time,
            body: body.to_vec(),
        });
    }

    /// Sequence check: `seq` is this datagram's number, `advance` how much the
    /// next one should be ahead (`None`: unknown, skip the next check).
    /// `records`: the gap counts records (v5, IPFIX) rather than datagrams.
    pub fn sequence(&mut self, key: SourceKey, seq: u32, advance: Option<u32>, records: bool) {
        let Some(src) = self.sources.get_mut(&key) else {
            return;
        };
        if let Some(expected) = src.next_seq {
            let gap = seq.wrapping_sub(expected) as i32;
            if gap > 0 {
                if records {
                    self.stats.lost_records += gap as u64;
                } else {
                    self.stats.lost_datagrams += gap as u64;
                }
            } else if gap < 0 {
                self.stats.sequence_resets += 1;
            }
        }
        src.next_seq = advance.map(|a| seq.wrapping_add(a));
    }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decodes one datagram from `exporter` received at `now` (µs), calling
    /// `out` for every flow record. Never panics; problems are counted in the
    /// exporter's [`ExporterStats`] and the first one is returned in the outcome.
    pub fn datagram(
        &mut self,
        exporter: IpAddr,
        now: Micros,
        data: &[u8],
        out: &mut dyn FnMut(&FlowRecord),
    ) -> Outcome {
        self.datagram_to(exporter, now, data, &mut EveryRecord(out))
    }

    /// [`Decoder::datagram`] into a [`FlowOut`] (which may have a gate).
    /// `Outcome::records` and the exporter's `records` count gated records too.
    pub fn datagram_to(
        &mut self,
        exporter: IpAddr,
        now: Micros,
        data: &[u8],
        out: &mut dyn FlowOut,
    ) -> Outcome {
        self.expire(now);
        let stats =
            if self.exporters.contains_key(&exporter) || self.exporters.len() < MAX_EXPORTERS {
                self.exporters.entry(exporter).or_default()
            } else {
                &mut self.overflow
            };
        stats.datagrams += 1;
        let mut outcome = Outcome::default();
        let mut ctx = Ctx {
            exporter,
            stats,
            sources: &mut self.sources,
            templates: &mut self.templates,
            pending: &mut self.pending,
            pending_bytes: &mut self.pending_bytes,
            now,
            out,
            outcome: &mut outcome,
        };
        match (template::be16(data, 0), template::be32(data, 0)) {
            (_, Some(sflow::VERSION)) => {
                ctx.outcome.protocol = Some(Protocol::Sflow);
                sflow::decode(&mut ctx, data);
            }
            (Some(5), _) => {
                ctx.outcome.protocol = Some(Protocol::NetflowV5);
                v5::decode(&mut ctx, data);
            }
            (Some(9), _) => {
                ctx.outcome.protocol = Some(Protocol::NetflowV9);
                v9::decode(&mut ctx, data);
            }
            (Some(10), _) => {
                ctx.outcome.protocol = Some(Protocol::Ipfix);
                ipfix::decode(&mut ctx, data);
            }
            (Some(v), _) => ctx.malformed(0, format!("unknown export version {v}")),
            (None, _) => ctx.malformed(0, format!("datagram of {} bytes", data.len())),
        }
        outcome
    }

    /// Counts as lost the parked data sets older than [`PENDING_MAX_AGE`] at `now`.
    pub fn expire(&mut self, now: Micros) {
        while let Some(p) = self.pending.front() {
            if now.saturating_sub(p.arrived) <= PENDING_MAX_AGE {
                break;
            }
            if let Some(p) = self.pending.pop_front() {
                self.pending_bytes -= p.body.len();
                self.lost(p.key.exporter);
            }
        }
    }

    /// Counts every parked data set as lost (end of a file, shutdown).
    pub fn finish(&mut self) {
        while let Some(p) = self.pending.pop_front() {
            self.pending_bytes -= p.body.len();
            self.lost(p.key.exporter);
        }
    }

    fn lost(&mut self, exporter: IpAddr) {
        match self.exporters.get_mut(&exporter) {
            Some(s) => s.lost_sets += 1,
            None => self.overflow.lost_sets += 1,
        }
    }

    /// Counters per exporter.
    pub fn exporters(&self) -> impl Iterator<Item = (&IpAddr, &ExporterStats)> {
        self.exporters.iter()
    }

    /// Counters summed over all exporters.
    pub fn totals(&self) -> ExporterStats {
        let mut t = self.overflow.clone();
        for s in self.exporters.values() {
            t.add(s);
        }
        t
    }

    /// Templates currently cached, over all scopes.
    pub fn template_count(&self) -> usize {
        self.templates
    }

    /// Data sets currently waiting for their template.
    pub fn pending_sets(&self) -> usize {
        self.pending.len()
    }
}

impl ExporterStats {
    /// Adds `o`'s counters to these.
    pub fn add(&mut self, o: &ExporterStats) {
        self.datagrams += o.datagrams;
        self.records += o.records;
        self.no_address += o.no_address;
        self.options_records += o.options_records;
        self.counter_samples += o.counter_samples;
        self.malformed += o.malformed;
        self.templates += o.templates;
        self.withdrawals += o.withdrawals;
        self.lost_sets += o.lost_sets;
        self.lost_records += o.lost_records;
        self.lost_datagrams += o.lost_datagrams;
        self.sequence_resets += o.sequence_resets;
        self.over_limit += o.over_limit;
    }
}

/// Fuzz entry point: a stream of datagrams (2-byte big-endian length prefix
/// each) through one decoder, so templates carry across datagrams.
pub(crate) fn fuzz(data: &[u8]) {
    let mut d = Decoder::new();
    let exporter = IpAddr::from([192, 0, 2, 1]);
    let mut rest = data;
    let mut now = 0;
    while let Some(len) = template::be16(rest, 0) {
        let end = (2 + usize::from(len)).min(rest.len());
        let dgram = rest.get(2..end).unwrap_or(&[]);
        d.datagram(exporter, now, dgram, &mut |r| {
            let _ = r.to_flow();
        });
        now += 1_000_000;
        rest = rest.get(end..).unwrap_or(&[]);
    }
    d.finish();
}
