//! IPFIX files (RFC 5655 §3: a file is a stream of IPFIX messages, back to
//! back) → flow events. Every message goes through the same [`Decoder`] as
//! the collector's datagrams (exporter `0.0.0.0`, templates per observation
//! domain); the decoder's clock is the message export time.
//!
//! `RecordRef.line` is the 1-based number of the flow record in the file, so
//! evidence can be found again (`c2atlas explain`); diagnostics name the
//! message number and byte offset.
//!
//! A message header that is not IPFIX, or a length that runs past the end of
//! the file, ends the file (there is no way to resynchronise a byte stream):
//! counted as one malformed record, the records before it are kept.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::{Decoder, ExporterStats, FlowOut, FlowRecord, IPFIX_HEADER_LEN, message_len};
use crate::ingest::gate::{FlowGate, Gated};
use crate::ingest::{Diagnostic, IngestError, Sink};
use crate::model::{Event, RecordRef};

/// What reading one IPFIX file produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub messages: u64,
    pub records: u64,
    /// Malformed messages/sets/templates, data sets that never found their
    /// template, and a cut or corrupt end of file.
    pub malformed: u64,
    /// Data records that are not flows (options records, no addresses).
    pub skipped: u64,
    /// The decoder's counters.
    pub stats: ExporterStats,
}

/// Whether `head` (the first bytes of a file) starts an IPFIX message.
pub fn is_ipfix(head: &[u8]) -> bool {
    // Version 10, a plausible message length, and a first set id that is a
    // template set (2), an options template set (3) or a data set (≥ 256).
    let Some(len) = message_len(head) else {
        return false;
    };
    let set = head.get(16..18).map(|b| u16::from_be_bytes([b[0], b[1]]));
    len >= IPFIX_HEADER_LEN + 4 && matches!(set, Some(2 | 3 | 256..))
}

/// The decoder's records → the sink's events (or gated counts), numbered.
struct ToSink<'a> {
    input: u32,
    /// Records so far (the number of the last one).
    records: u64,
    gate: Option<FlowGate>,
    sink: &'a mut dyn Sink,
}

impl FlowOut for ToSink<'_> {
    fn flow(&mut self, r: &FlowRecord) {
        self.records += 1;
        self.sink.event(
            RecordRef {
                input: self.input,
                line: self.records,
            },
            &Event::Flow(r.to_flow()),
        );
    }

    fn gate(&self) -> Option<&FlowGate> {
        self.gate.as_ref()
    }

    fn gated(&mut self, g: &Gated) {
        self.records += g.n;
        self.sink.gated(g);
    }
}

/// Reads exactly `buf.len()` bytes unless the stream ends; returns how many were read.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads an IPFIX file from `reader` (already gunzipped), sending flow
/// events to `sink`. Errors: an empty stream → [`IngestError::Empty`]; a
/// first message that is not IPFIX → [`IngestError::UnknownFormat`]; a read
/// error before any record → [`IngestError::Io`]/[`IngestError::Gzip`]
/// (after records: one malformed record, the records are kept).
pub fn read(
    input: u32,
    path: &Path,
    reader: &mut dyn Read,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<FileCounts, IngestError> {
    let mut dec = Decoder::new();
    let exporter = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let mut counts = FileCounts::default();
    let mut offset = 0u64;
    let mut head = [0u8; IPFIX_HEADER_LEN];
    let mut msg: Vec<u8> = Vec::with_capacity(1 << 16);
    let gate = sink.gate();
    let mut to = ToSink {
        input,
        records: 0,
        gate,
        sink,
    };
    let mut report = |line: u64, reason: String| {
        diag(Diagnostic {
            path: path.to_path_buf(),
            line,
            reason,
        })
    };
    loop {
        let got = match fill(reader, &mut head) {
            Ok(n) => n,
            Err(source) if to.records == 0 => {
                return Err(IngestError::Gzip {
                    path: path.to_path_buf(),
                    records: 0,
                    source,
                });
            }
            Err(e) => {
                counts.malformed += 1;
                report(
                    to.records + 1,
                    format!("read error after message {}: {e}", counts.messages),
                );
                break;
            }
        };
        if got == 0 {
            break;
        }
        let len = message_len(&head).filter(|&l| l >= IPFIX_HEADER_LEN && got == head.len());
        let Some(len) = len else {
            if counts.messages == 0 {
                return Err(IngestError::UnknownFormat {
                    path: path.to_path_buf(),
                    reason: "not an IPFIX message at byte 0".into(),
                });
            }
            counts.malformed += 1;
            report(
                to.records + 1,
                format!(
                    "message {} at byte {offset}: not an IPFIX message header ({got} bytes); \
                     the file ends here, the records before it are kept",
                    counts.messages + 1
                ),
            );
            break;
        };
        msg.clear();
        msg.extend_from_slice(&head);
        msg.resize(len, 0);
        let body = fill(reader, msg.get_mut(IPFIX_HEADER_LEN..).unwrap_or(&mut []));
        match body {
            Ok(n) if n == len - IPFIX_HEADER_LEN => {}
            Ok(n) => {
                counts.malformed += 1;
                report(
                    to.records + 1,
                    format!(
                        "message {} at byte {offset}: cut after {} of {len} bytes; \
                         the records before it are kept",
                        counts.messages + 1,
                        n + IPFIX_HEADER_LEN
                    ),
                );
                break;
            }
            Err(e) => {
                counts.malformed += 1;
                report(
                    to.records + 1,
                    format!("message {} at byte {offset}: {e}", counts.messages + 1),
                );
                break;
            }
        }
        counts.messages += 1;
        let export = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let out = dec.datagram_to(exporter, i64::from(export) * 1_000_000, &msg, &mut to);
        if let Some(e) = out.error {
            report(
                to.records + 1,
                format!(
                    "message {} at byte {}: {}",
                    counts.messages,
                    offset + e.offset as u64,
                    e.reason
                ),
            );
        }
        offset += len as u64;
    }
    dec.finish();
    let stats = dec.totals();
    if stats.lost_sets > 0 {
        report(
            to.records + 1,
            format!(
                "{} data set(s) never found their template; their records are not counted",
                stats.lost_sets
            ),
        );
    }
    if stats.lost_records > 0 {
        report(
            to.records + 1,
            format!(
                "sequence numbers show {} record(s) missing from the file (lost before it was written)",
                stats.lost_records
            ),
        );
    }
    if counts.messages == 0 && counts.malformed == 0 {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    counts.records = to.records;
    counts.malformed += stats.malformed + stats.lost_sets;
    counts.skipped = stats.no_address + stats.options_records;
    counts.stats = stats;
    Ok(counts)
}
