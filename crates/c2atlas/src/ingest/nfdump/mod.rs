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

use crate::ingest::gate::Gated;
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
    let mut negative = Note::default();
    // Flows the sink's gate rejects (both ends IPv4 outside its /24s) are
    // decoded (so malformed records are counted as ever) but become no event.
    let gate = sink.gate();
    let mut run = Gated::default();
    let counts = read_flows(
        path,
        reader,
        &mut |line, f| {
            if f.last_ms < f.first_ms {
                negative.add(line, String::new);
            }
            if let (Some(g), IpAddr::V4(s), IpAddr::V4(d)) = (&gate, f.src, f.dst)
                && !g.pass(u32::from(s), u32::from(d))
            {
                run.add(ms_to_us(f.first_ms));
                return;
            }
            if let Some(g) = run.take() {
                sink.gated(&g);
            }
            let (ev, _) = flow_event(f);
            sink.event(RecordRef { input, line }, &ev);
        },
        diag,
    )?;
    if let Some(g) = run.take() {
        sink.gated(&g);
    }
    if let Some((line, _)) = negative.first.take() {
        diag(Diagnostic {
            path: path.to_path_buf(),
            line,
            reason: format!(
                "{} flow(s) end before they start; duration taken as 0; first here",
                negative.count
            ),
        });
    }
    Ok(counts)
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
    let (header, offset) = block::read_header(reader).map_err(|e| IngestError::UnknownFormat {
        path: path.to_path_buf(),
        reason: format!("nfcapd: {e}"),
    })?;
    let mut blocks = BlockReader::new(&header, offset);
    let mut maps = ExtensionMaps::default();
    let mut c = NfcapdCounts::default();
    // Flow records seen (the record number of the next one is `seen + 1`).
    let mut seen = 0u64;
    let mut report = |line: u64, reason: String| {
        diag(Diagnostic {
            path: path.to_path_buf(),
            line,
            reason,
        })
    };
    let mut unread = Note::default();
    let mut no_addr = Note::default();
    loop {
        let block_at = blocks.offset;
        let block_no = blocks.block_no + 1;
        let next = match blocks.next_block(reader) {
            Ok(n) => n,
            Err(e) => {
                report(
                    seen + 1,
                    format!("block {block_no} at offset {block_at}: read error: {e}"),
                );
                break;
            }
        };
        let (bh, data) = match next {
            Next::End => break,
            Next::Fatal(reason) => {
                c.bad_blocks += 1;
                c.malformed += 1;
                report(seen + 1, reason);
                break;
            }
            Next::Bad(bh, reason) => {
                c.bad_blocks += 1;
                let n = claimed(bh.num_records, bh.size as usize);
                c.malformed += n;
                report(seen + 1, format!("{reason}; {n} record(s) skipped"));
                continue;
            }
            Next::Block(bh, data) => (bh, data),
        };
        c.blocks += 1;
        match bh.kind {
            2 | 3 => {}
            4 => continue, // nfdump-internal block type, skipped by nfdump too.
            k => {
                c.bad_blocks += 1;
                let n = claimed(bh.num_records, data.len());
                c.malformed += n;
                report(
                    seen + 1,
                    format!(
                        "block {block_no} at offset {block_at}: unknown block type {k}; {n} record(s) skipped"
                    ),
                );
                continue;
            }
        }
        let mut at = 0usize;
        for i in 0..bh.num_records {
            let hdr = data.get(at..at + 4);
            let (kind, size) = match hdr {
                Some(&[a, b, x, y]) => (
                    u16::from_le_bytes([a, b]),
                    usize::from(u16::from_le_bytes([x, y])),
                ),
                _ => (0, 0),
            };
            let rec = data.get(at..at + size).filter(|_| size >= 4);
            let Some(rec) = rec else {
                let left = u64::from(bh.num_records - i);
                let n = left.min(((data.len().saturating_sub(at)) / 4).max(1) as u64);
                c.malformed += n;
                c.bad_blocks += 1;
                report(
                    seen + 1,
                    format!(
                        "block {block_no} at offset {block_at}: record {} of {} at block offset {at}: {}; rest of the block ({n} record(s)) skipped",
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
            at += size;
            let decoded = match kind {
                record::V3_RECORD_TYPE => record::decode_v3(rec),
                record::COMMON_RECORD_TYPE => record::decode_common(rec, &maps),
                record::EXTENSION_MAP_TYPE => {
                    if let Err(RecordError::Malformed(why)) = maps.insert(rec) {
                        c.malformed += 1;
                        report(
                            seen + 1,
                            format!("block {block_no} at offset {block_at}: {why}"),
                        );
                    }
                    continue;
                }
                k if record::is_metadata(k) => continue,
                k => {
                    c.skipped += 1;
                    unread.add(seen + 1, || {
                        format!("block {block_no} at offset {block_at}: record type {k}")
                    });
                    continue;
                }
            };
            seen += 1;
            match decoded {
                Ok(f) => {
                    c.records += 1;
                    on_flow(seen, &f);
                }
                Err(RecordError::NoAddresses) => {
                    c.skipped += 1;
                    no_addr.add(seen, String::new);
                }
                Err(RecordError::Malformed(why)) => {
                    c.malformed += 1;
                    report(
                        seen,
                        format!("block {block_no} at offset {block_at}: flow record {seen}: {why}"),
                    );
                }
            }
        }
    }
    if let Some((line, what)) = unread.first.take() {
        report(
            line,
            format!(
                "skipped {} record(s) of types this reader does not decode (nfdump 1.5 or 1.8 records), not counted as malformed; first: {what}",
                unread.count
            ),
        );
    }
    if let Some((line, _)) = no_addr.first.take() {
        report(
            line,
            format!(
                "skipped {} flow record(s) without IP addresses (events without a flow), not counted as malformed; first here",
                no_addr.count
            ),
        );
    }
    Ok(c)
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
