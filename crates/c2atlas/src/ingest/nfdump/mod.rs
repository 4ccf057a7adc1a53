//! nfdump archives: `nfcapd.*` binary files (nfdump 1.6 and 1.7 layouts,
//! uncompressed or LZO/BZ2/LZ4/ZSTD block compression) and nfdump's CSV
//! output (`nfdump -o csv`).
//!
//! - [`block`]: file header and data blocks (container, decompression);
//! - [`record`]: records inside a block → [`record::FlowRecord`];
//! - [`read`]: the driver, a file → [`Event::Flow`]s with counts and diagnostics.
//!
//! Record numbers: the `line` of a [`RecordRef`] is the 1-based ordinal of
//! the flow record in the file (counting malformed flow records too), which
//! is the row of that flow in `nfdump -r FILE -o csv` (after its header line)
//! when no flow record is malformed.
//!
//! Bad input: a block that cannot be decompressed, or whose records do not
//! fit in it, is counted (its records as malformed) and skipped, and reading
//! goes on with the next block, whose position the block length gives. A
//! block length beyond [`block::MAX_BLOCK_BYTES`] or a file cut inside a
//! block ends the file's reading with one diagnostic. A malformed record is
//! counted and skipped; the records after it in the block are still read.

use std::io::Read;
use std::path::Path;

use std::net::IpAddr;

use crate::ingest::gate::{FlowGate, Gated};
use crate::ingest::{Diagnostic, IngestError, NullSink, Sink};
use crate::model::{Event, Flow, Micros, Proto, RecordRef};

pub mod block;
pub mod csv;
pub mod record;

pub use block::is_nfdump;
use block::{BlockReader, Next};
use record::{ExtensionMaps, FlowRecord, RecordError};

/// What reading one nfcapd file gave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NfcapdCounts {
    /// Flow records turned into events.
    pub records: u64,
    /// Malformed flow records and records of corrupt blocks, skipped.
    pub malformed: u64,
    /// Well-formed records that are not read as flows (no IP addresses,
    /// record types this version does not decode), skipped with a note.
    pub skipped: u64,
    /// Blocks read, and blocks skipped as corrupt.
    pub blocks: u64,
    pub bad_blocks: u64,
}

/// The protocol of a flow from its IP protocol number.
pub fn proto(n: u8) -> Proto {
    match n {
        6 => Proto::Tcp,
        17 => Proto::Udp,
        1 => Proto::Icmp,
        n => Proto::Other(n),
    }
}

/// Milliseconds (u64) → microseconds, saturating.
fn ms_to_us(ms: u64) -> Micros {
    i64::try_from(ms)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

/// The event of a flow record.
pub fn flow_event(f: &FlowRecord) -> (Event<'static>, bool) {
    let negative = f.last_ms < f.first_ms;
    let duration = f.last_ms.saturating_sub(f.first_ms);
    let ev = Event::Flow(Flow {
        ts: ms_to_us(f.first_ms),
        duration: ms_to_us(duration),
        proto: proto(f.proto),
        src: f.src,
        sport: f.sport,
        dst: f.dst,
        dport: f.dport,
        src_bytes: f.in_bytes,
        dst_bytes: f.out_bytes,
        packets: f.in_packets.saturating_add(f.out_packets),
        label: None,
    });
    (ev, negative)
}

/// A note kept for the end of a file: how many, and the first one.
#[derive(Default)]
struct Note {
    count: u64,
    first: Option<(u64, String)>,
}

impl Note {
    fn add(&mut self, line: u64, what: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((line, what()));
        }
    }
}

/// Reads one nfcapd file from `reader` (positioned at its first byte),
/// sending each flow to `sink`. `path` names the file in diagnostics.
///
/// Errors: a file whose header is not a readable nfdump header (bad magic,
/// unknown layout or compression, encrypted, truncated) is
/// [`IngestError::UnknownFormat`] with the reason. Everything after the
/// header is counted and reported, never an error (an I/O error while
/// reading the blocks is one diagnostic that ends the file).
pub fn read(
    input: u32,
    path: &Path,
    reader: &mut dyn Read,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<NfcapdCounts, IngestError> {
    read_threads(input, path, reader, sink, diag, 1)
}

/// [`read`] with the blocks decompressed and decoded on `threads` worker
/// threads (1: all on the calling thread). The calling thread reads the
/// file (and so hashes it) and hands every flow to `sink` in file order with
/// its file-order record number: events, counts and diagnostics are those of
/// [`read`] for any `threads` (tested). Workers only decompress, decode and
/// apply the sink's flow gate; blocks of the nfdump 1.6 record layout, whose
/// decoding needs the file's extension maps so far, are decoded on the
/// calling thread in their turn.
pub fn read_threads(
    input: u32,
    path: &Path,
    reader: &mut dyn Read,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
    threads: usize,
) -> Result<NfcapdCounts, IngestError> {
    // Flows the sink's gate rejects (both ends IPv4 outside its /24s) are
    // decoded (so malformed records are counted as ever) but become no event.
    let gate = sink.gate();
    let mut emit = |item: Item| match item {
        Item::Gated(g) => sink.gated(&g),
        Item::Flow(line, rec) => {
            let (ev, _) = flow_event(&rec);
            sink.event(RecordRef { input, line }, &ev);
        }
    };
    read_file(path, reader, gate, true, threads, &mut emit, diag)
}

/// [`read`] without events: `on_flow(record_number, flow)` is called for
/// each flow record, in file order. The decoder behind [`read`], also used
/// to compare records field by field with nfdump's own output.
pub fn read_flows(
    path: &Path,
    reader: &mut dyn Read,
    on_flow: &mut dyn FnMut(u64, &FlowRecord),
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<NfcapdCounts, IngestError> {
    let mut out = |it: Item| {
        if let Item::Flow(line, rec) = it {
            on_flow(line, &rec);
        }
    };
    read_file(path, reader, None, false, 1, &mut out, diag)
}

/// The driver behind [`read_threads`] and [`read_flows`]: flows (gated by
/// `gate`) go to `out` in file order; `keep_negative`: note flows that end
/// before they start.
fn read_file(
    path: &Path,
    reader: &mut dyn Read,
    gate: Option<FlowGate>,
    keep_negative: bool,
    threads: usize,
    out: &mut dyn FnMut(Item),
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<NfcapdCounts, IngestError> {
    let (header, offset) = block::read_header(reader).map_err(|e| IngestError::UnknownFormat {
        path: path.to_path_buf(),
        reason: format!("nfcapd: {e}"),
    })?;
    let mut f = FileState {
        keep_negative,
        ..Default::default()
    };
    let mut blocks = BlockReader::new(&header, offset);
    if threads <= 1 {
        let mut filter = Filter::new(gate);
        loop {
            let block_at = blocks.offset;
            let block_no = blocks.block_no + 1;
            match blocks.next_block(reader) {
                Err(e) => {
                    f.report(
                        0,
                        format!("block {block_no} at offset {block_at}: read error: {e}"),
                    );
                    break;
                }
                Ok(Next::End) => break,
                Ok(Next::Fatal(reason)) => {
                    f.fatal(reason);
                    break;
                }
                Ok(Next::Bad(bh, reason)) => f.bad(&bh, reason),
                Ok(Next::Block(bh, data)) => {
                    let at = Position { block_no, block_at };
                    f.decode(&bh, data, at, &mut filter, out);
                }
            }
            f.flush_reports(diag, path);
        }
        filter.flush(out);
    } else {
        read_blocks_parallel(
            &header,
            &mut blocks,
            reader,
            gate,
            threads,
            &mut f,
            out,
            &mut |f| f.flush_reports(diag, path),
        );
    }
    f.finish(diag, path);
    Ok(f.c)
}

/// Where a block is, for diagnostics.
#[derive(Clone, Copy, Debug)]
struct Position {
    block_no: u64,
    block_at: u64,
}

/// What the decoding of records hands on, in file order.
#[derive(Debug)]
enum Item {
    /// A flow that passed the gate (or there is none), with its record number.
    Flow(u64, FlowRecord),
    /// A run of gated flows.
    Gated(Gated),
}

/// The gate and the current run of gated flows.
struct Filter {
    gate: Option<FlowGate>,
    run: Gated,
}

impl Filter {
    fn new(gate: Option<FlowGate>) -> Self {
        Filter {
            gate,
            run: Gated::default(),
        }
    }

    fn flow(&mut self, line: u64, f: &FlowRecord, out: &mut dyn FnMut(Item)) {
        if let (Some(g), IpAddr::V4(s), IpAddr::V4(d)) = (&self.gate, f.src, f.dst)
            && !g.pass(u32::from(s), u32::from(d))
        {
            self.run.add(ms_to_us(f.first_ms));
            return;
        }
        self.flush(out);
        out(Item::Flow(line, *f));
    }

    fn flush(&mut self, out: &mut dyn FnMut(Item)) {
        if let Some(g) = self.run.take() {
            out(Item::Gated(g));
        }
    }
}

/// Counts, notes and pending diagnostics of one file (or, in a worker, of
/// one block, with record numbers relative to the block: see [`Part`]).
struct FileState {
    c: NfcapdCounts,
    /// Flow records seen (the record number of the next one is `seen + 1`).
    seen: u64,
    maps: ExtensionMaps,
    unread: Note,
    no_addr: Note,
    negative: Note,
    /// Whether flows that end before they start are noted (not by `read_flows`).
    keep_negative: bool,
    /// Diagnostics not yet handed on: (record number, reason).
    reports: Vec<(u64, Reason)>,
}

impl Default for FileState {
    fn default() -> Self {
        FileState {
            c: NfcapdCounts::default(),
            seen: 0,
            maps: ExtensionMaps::default(),
            unread: Note::default(),
            no_addr: Note::default(),
            negative: Note::default(),
            keep_negative: true,
            reports: Vec::new(),
        }
    }
}

impl FileState {
    /// A diagnostic at the next record (`line` 0) or at record `line`.
    fn report(&mut self, line: u64, reason: String) {
        let line = if line == 0 { self.seen + 1 } else { line };
        self.reports.push((line, Reason::Plain(reason)));
    }

    fn fatal(&mut self, reason: String) {
        self.c.bad_blocks += 1;
        self.c.malformed += 1;
        self.report(0, reason);
    }

    fn bad(&mut self, bh: &block::BlockHeader, reason: String) {
        self.c.bad_blocks += 1;
        let n = claimed(bh.num_records, bh.size as usize);
        self.c.malformed += n;
        self.report(0, format!("{reason}; {n} record(s) skipped"));
    }

    fn flush_reports(&mut self, diag: &mut dyn FnMut(Diagnostic), path: &Path) {
        for (line, reason) in self.reports.drain(..) {
            let reason = match reason {
                Reason::Plain(r) => r,
                Reason::Record { at, why } => format!("{at}: flow record {line}: {why}"),
            };
            diag(Diagnostic {
                path: path.to_path_buf(),
                line,
                reason,
            });
        }
    }

    /// Decodes the records of one decompressed block.
    fn decode(
        &mut self,
        bh: &block::BlockHeader,
        data: &[u8],
        at: Position,
        filter: &mut Filter,
        out: &mut dyn FnMut(Item),
    ) {
        let Position { block_no, block_at } = at;
        self.c.blocks += 1;
        match bh.kind {
            2 | 3 => {}
            4 => return, // nfdump-internal block type, skipped by nfdump too.
            k => {
                self.c.bad_blocks += 1;
                let n = claimed(bh.num_records, data.len());
                self.c.malformed += n;
                self.report(
                    0,
                    format!(
                        "block {block_no} at offset {block_at}: unknown block type {k}; {n} record(s) skipped"
                    ),
                );
                return;
            }
        }
        let mut pos = 0usize;
        for i in 0..bh.num_records {
            let hdr = data.get(pos..pos + 4);
            let (kind, size) = match hdr {
                Some(&[a, b, x, y]) => (
                    u16::from_le_bytes([a, b]),
                    usize::from(u16::from_le_bytes([x, y])),
                ),
                _ => (0, 0),
            };
            let rec = data.get(pos..pos + size).filter(|_| size >= 4);
            let Some(rec) = rec else {
                let left = u64::from(bh.num_records - i);
                let n = left.min(((data.len().saturating_sub(pos)) / 4).max(1) as u64);
                self.c.malformed += n;
                self.c.bad_blocks += 1;
                self.report(
                    0,
                    format!(
                        "block {block_no} at offset {block_at}: record {} of {} at block offset {pos}: {}; rest of the block ({n} record(s)) skipped",
                        i + 1,
                        bh.num_records,
                        if hdr.is_none() {
                            format!("past the block's {} bytes", data.len())
                        } else {
                            format!("size {size} outside the block's {} bytes", data.len())
                        }
                    ),
                );
                break;
            };
            pos += size;
            let decoded = match kind {
                record::V3_RECORD_TYPE => record::decode_v3(rec),
                record::COMMON_RECORD_TYPE => record::decode_common(rec, &self.maps),
                record::EXTENSION_MAP_TYPE => {
                    if let Err(RecordError::Malformed(why)) = self.maps.insert(rec) {
                        self.c.malformed += 1;
                        self.report(0, format!("block {block_no} at offset {block_at}: {why}"));
                    }
                    continue;
                }
                k if record::is_metadata(k) => continue,
                k => {
                    self.c.skipped += 1;
                    let line = self.seen + 1;
                    self.unread.add(line, || {
                        format!("block {block_no} at offset {block_at}: record type {k}")
                    });
                    continue;
                }
            };
            self.seen += 1;
            let seen = self.seen;
            match decoded {
                Ok(f) => {
                    self.c.records += 1;
                    if self.keep_negative && f.last_ms < f.first_ms {
                        self.negative.add(seen, String::new);
                    }
                    filter.flow(seen, &f, out);
                }
                Err(RecordError::NoAddresses) => {
                    self.c.skipped += 1;
                    self.no_addr.add(seen, String::new);
                }
                Err(RecordError::Malformed(why)) => {
                    self.c.malformed += 1;
                    // The record number is rendered with the line, when it is known
                    // in the file (a worker counts from its block's start).
                    self.reports.push((
                        seen,
                        Reason::Record {
                            at: format!("block {block_no} at offset {block_at}"),
                            why,
                        },
                    ));
                }
            }
        }
    }

    /// The end-of-file notes.
    fn finish(&mut self, diag: &mut dyn FnMut(Diagnostic), path: &Path) {
        if let Some((line, what)) = self.unread.first.take() {
            self.report(
                line,
                format!(
                    "skipped {} record(s) of types this reader does not decode (nfdump 1.5 or 1.8 records), not counted as malformed; first: {what}",
                    self.unread.count
                ),
            );
        }
        if let Some((line, _)) = self.no_addr.first.take() {
            self.report(
                line,
                format!(
                    "skipped {} flow record(s) without IP addresses (events without a flow), not counted as malformed; first here",
                    self.no_addr.count
                ),
            );
        }
        if let Some((line, _)) = self.negative.first.take() {
            self.report(
                line,
                format!(
                    "{} flow(s) end before they start; duration taken as 0; first here",
                    self.negative.count
                ),
            );
        }
        self.flush_reports(diag, path);
    }

    /// Adds what a worker found in one block (record numbers relative to
    /// the block) at the current position of the file.
    fn absorb(&mut self, p: Part, out: &mut dyn FnMut(Item)) {
        let base = self.seen;
        let s = p.state;
        self.c.records += s.c.records;
        self.c.malformed += s.c.malformed;
        self.c.skipped += s.c.skipped;
        self.c.blocks += s.c.blocks;
        self.c.bad_blocks += s.c.bad_blocks;
        for (note, theirs) in [
            (&mut self.unread, s.unread),
            (&mut self.no_addr, s.no_addr),
            (&mut self.negative, s.negative),
        ] {
            note.count += theirs.count;
            if note.first.is_none() {
                note.first = theirs.first.map(|(l, w)| (base + l, w));
            }
        }
        self.reports
            .extend(s.reports.into_iter().map(|(l, r)| (base + l, r)));
        for it in p.items {
            out(match it {
                Item::Flow(l, f) => Item::Flow(base + l, f),
                g => g,
            });
        }
        self.seen = base + s.seen;
    }
}

/// A pending diagnostic's reason.
enum Reason {
    Plain(String),
    /// A malformed flow record: its number (the diagnostic's line) is part
    /// of the text, written when the diagnostic is handed on.
    Record {
        at: String,
        why: String,
    },
}

/// What a worker made of one block: its items and state, record numbers
/// counted from the block's start (the first flow record of the block is 1).
struct Part {
    items: Vec<Item>,
    state: FileState,
}

/// A block for a worker.
struct Job {
    k: u64,
    block: block::StoredBlock,
    data: Vec<u8>,
}

/// A worker's answer for block `k`.
enum Done {
    Decoded(Box<Part>),
    /// Decompressed, but its records need the file's extension maps: the
    /// calling thread decodes it in turn.
    Sequential(block::BlockHeader, Vec<u8>, Position),
    Bad(block::BlockHeader, String),
}

/// Whether a block holds records whose decoding depends on earlier blocks
/// (nfdump 1.6 extension maps and the records that use them).
fn needs_maps(bh: &block::BlockHeader, data: &[u8]) -> bool {
    let mut pos = 0usize;
    for _ in 0..bh.num_records {
        let Some(&[a, b, x, y]) = data.get(pos..pos + 4) else {
            return false;
        };
        let kind = u16::from_le_bytes([a, b]);
        if kind == record::COMMON_RECORD_TYPE || kind == record::EXTENSION_MAP_TYPE {
            return true;
        }
        let size = usize::from(u16::from_le_bytes([x, y]));
        if size < 4 {
            return false;
        }
        pos += size;
    }
    false
}

/// How the reading of a file's blocks ended (parallel driver).
enum End {
    Clean,
    /// As [`block::Stored::Fatal`]: counted as a bad block and reported.
    Fatal(String),
    /// A read error, or a worker gone: reported, not counted.
    Stopped(String),
}

/// Blocks in flight per worker (each up to two [`block::MAX_BLOCK_BYTES`] buffers).
const IN_FLIGHT_PER_WORKER: usize = 2;

/// The parallel driver of [`read_threads`]: this thread reads stored
/// blocks and hands them round-robin to `threads` workers, which decompress,
/// decode and gate them; their answers are applied to `f` strictly in block
/// order, so record numbers and the order of items and diagnostics are those
/// of the sequential reader. Memory: at most `threads × IN_FLIGHT_PER_WORKER`
/// blocks in flight.
#[allow(clippy::too_many_arguments)]
fn read_blocks_parallel(
    header: &block::FileHeader,
    blocks: &mut BlockReader,
    reader: &mut dyn Read,
    gate: Option<FlowGate>,
    threads: usize,
    f: &mut FileState,
    out: &mut dyn FnMut(Item),
    flush: &mut dyn FnMut(&mut FileState),
) {
    use std::collections::BTreeMap;
    use std::sync::mpsc;
    let cap = threads * IN_FLIGHT_PER_WORKER;
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<(u64, Done, Vec<u8>)>();
        let mut jobs: Vec<mpsc::SyncSender<Job>> = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (tx, rx) = mpsc::sync_channel::<Job>(IN_FLIGHT_PER_WORKER);
            jobs.push(tx);
            let done_tx = done_tx.clone();
            let gate = gate.clone();
            let mut dec = block::Decompressor::new(header);
            scope.spawn(move || {
                for job in rx {
                    let b = &job.block;
                    let at = Position {
                        block_no: b.block_no,
                        block_at: b.offset,
                    };
                    let src = job.data.get(..b.header.size as usize).unwrap_or_default();
                    let done = match dec.decompress(b, src) {
                        Next::Block(bh, data) if needs_maps(&bh, data) => {
                            Done::Sequential(bh, data.to_vec(), at)
                        }
                        Next::Block(bh, data) => {
                            let mut state = FileState::default();
                            let mut items = Vec::new();
                            let mut filter = Filter::new(gate.clone());
                            state.decode(&bh, data, at, &mut filter, &mut |it| items.push(it));
                            filter.flush(&mut |it| items.push(it));
                            Done::Decoded(Box::new(Part { items, state }))
                        }
                        Next::Bad(bh, why) => Done::Bad(bh, why),
                        // `decompress` returns only blocks and bad blocks.
                        Next::Fatal(why) => Done::Bad(b.header, why),
                        Next::End => Done::Bad(b.header, String::new()),
                    };
                    // The buffer goes back to the reader for reuse.
                    if done_tx.send((job.k, done, job.data)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
        let mut spare: Vec<Vec<u8>> = Vec::new();
        let (mut sent, mut applied) = (0u64, 0u64);
        let mut end: Option<End> = None;
        let mut filter = Filter::new(gate.clone());
        loop {
            // Keep the workers busy while the file lasts.
            while end.is_none() && (sent - applied) < cap as u64 {
                let mut buf = spare.pop().unwrap_or_default();
                let block_at = blocks.offset;
                let block_no = blocks.block_no + 1;
                match blocks.next_stored(reader, &mut buf) {
                    Ok(block::Stored::Block(block)) => {
                        let w = (sent % threads as u64) as usize;
                        let job = Job {
                            k: sent,
                            block,
                            data: buf,
                        };
                        if let Some(tx) = jobs.get(w)
                            && tx.send(job).is_ok()
                        {
                            sent += 1;
                        } else {
                            end = Some(End::Stopped(format!(
                                "block {block_no} at offset {block_at}: worker thread ended"
                            )));
                        }
                    }
                    Ok(block::Stored::End) => end = Some(End::Clean),
                    Ok(block::Stored::Fatal(why)) => end = Some(End::Fatal(why)),
                    Err(e) => {
                        end = Some(End::Stopped(format!(
                            "block {block_no} at offset {block_at}: read error: {e}"
                        )))
                    }
                }
            }
            if applied == sent {
                break;
            }
            let Ok((k, done, buf)) = done_rx.recv() else {
                break;
            };
            spare.push(buf);
            pending.insert(k, done);
            while let Some(done) = pending.remove(&applied) {
                applied += 1;
                match done {
                    Done::Decoded(part) => {
                        // A run of gated flows may go on from the block before.
                        let mut carry = |it: Item| match it {
                            Item::Gated(g) => filter.run.merge(&g),
                            flow => {
                                filter.flush(out);
                                out(flow);
                            }
                        };
                        f.absorb(*part, &mut carry);
                    }
                    Done::Sequential(bh, data, at) => {
                        f.decode(&bh, &data, at, &mut filter, out);
                    }
                    Done::Bad(bh, why) => f.bad(&bh, why),
                }
                flush(f);
            }
        }
        drop(jobs);
        filter.flush(out);
        match end {
            Some(End::Stopped(why)) => f.report(0, why),
            Some(End::Fatal(why)) => f.fatal(why),
            Some(End::Clean) | None => {}
        }
        flush(f);
    });
}

/// Records to count as lost for an unusable block: its record count when
/// plausible (each record takes at least 4 bytes), else one.
fn claimed(num_records: u32, size: usize) -> u64 {
    u64::from(num_records).min((size / 4) as u64).max(1)
}

/// Fuzz entry point: `data` read as a whole file, then (so that the fuzzer
/// reaches every codec and both record layouts without having to find a
/// header) `data[1..]` read as the blocks of a file whose header is chosen by
/// `data[0]`: layout 2 with compression `data[0] % 5`, or layout 1 for
/// values ≥ 128. Never panics.
pub fn fuzz(data: &[u8]) {
    let path = Path::new("fuzz-input");
    for gated in [false, true] {
        let _ = read(0, path, &mut { data }, &mut NullSink { gated }, &mut |_| {});
    }
    // The threaded block decoder too (its own reorder and renumbering logic).
    let _ = read_threads(
        0,
        path,
        &mut { data },
        &mut NullSink { gated: true },
        &mut |_| {},
        2,
    );
    if let Some((&sel, rest)) = data.split_first() {
        let mut file = if sel >= 128 {
            let flags = [0u32, 0x1, 0x8, 0x10][usize::from(sel & 3)];
            block::v1_header(flags, 0).to_vec()
        } else {
            block::v2_header(sel % 5, 0).to_vec()
        };
        file.extend_from_slice(rest);
        let _ = read(
            0,
            path,
            &mut file.as_slice(),
            &mut NullSink { gated: true },
            &mut |_| {},
        );
    }
}
