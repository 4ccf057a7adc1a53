//! IPFIX export files (RFC 7011 messages stored back to back, the RFC 5655
//! file format) for the simulated flows, and a reader of such files'
//! messages (for `c2atlas replay`).
//!
//! Layout written:
//! - one template, id [`TEMPLATE_ID`], of [`FIELDS`] (IPv4 addresses, ports,
//!   protocol, packets, octets, flowStart/EndMilliseconds), all fixed-length,
//!   [`RECORD_LEN`] bytes per record;
//! - messages of at most [`MAX_MESSAGE`] bytes (one UDP datagram each when
//!   replayed), holding up to [`RECORDS_PER_MESSAGE`] data records;
//! - the template set opens every file and is repeated every
//!   [`TEMPLATE_EVERY`] messages, as an exporter over UDP does (RFC 7011 §8.4),
//!   so a collector that missed a datagram recovers;
//! - the header's sequence number counts the data records sent before the
//!   message in the observation domain (RFC 7011 §3.1); each file is its own
//!   observation domain ([`DOMAIN_ID`] + hour).
//!
//! A Zeek connection becomes one IPFIX flow per direction (uniflows): the
//! originator's, and the responder's when it answered.
//!
//! Invariant: every message written is well-formed (lengths add up), and
//! [`Messages`] never panics on any bytes.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::SimError;
use crate::model::Micros;

/// IPFIX version number in the message header.
pub const VERSION: u16 = 10;
/// Message header length.
pub const HEADER_LEN: usize = 16;
/// Set header length.
const SET_HEADER_LEN: usize = 4;
/// Template set id.
const TEMPLATE_SET_ID: u16 = 2;
/// The data template's id (the first id available to templates).
pub const TEMPLATE_ID: u16 = 256;
/// Largest message written: one datagram within a 1500-byte Ethernet MTU.
pub const MAX_MESSAGE: usize = 1400;
/// Messages between two copies of the template set.
pub const TEMPLATE_EVERY: u64 = 256;
/// Observation domain of the first file; file `h` (hour `h`) uses `DOMAIN_ID + h`,
/// so that each file's sequence numbers run on without a gap when the files
/// are replayed one after the other to one collector.
pub const DOMAIN_ID: u32 = 1;

/// (information element id, length) of the template's fields, IANA numbering.
pub const FIELDS: [(u16, u16); 9] = [
    (8, 4),   // sourceIPv4Address
    (12, 4),  // destinationIPv4Address
    (7, 2),   // sourceTransportPort
    (11, 2),  // destinationTransportPort
    (4, 1),   // protocolIdentifier
    (2, 8),   // packetDeltaCount
    (1, 8),   // octetDeltaCount
    (152, 8), // flowStartMilliseconds
    (153, 8), // flowEndMilliseconds
];
/// Bytes per data record.
pub const RECORD_LEN: usize = 45;
/// Data records per full message.
pub const RECORDS_PER_MESSAGE: usize =
    (MAX_MESSAGE - HEADER_LEN - SET_HEADER_LEN - TEMPLATE_SET_LEN) / RECORD_LEN;
/// Template set length: set header, template header, 4 bytes per field.
const TEMPLATE_SET_LEN: usize = SET_HEADER_LEN + 4 + 4 * FIELDS.len();

/// One unidirectional flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub src: u32,
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub packets: u64,
    pub octets: u64,
    pub start_ms: u64,
    pub end_ms: u64,
}

impl FlowRecord {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.src.to_be_bytes());
        out.extend_from_slice(&self.dst.to_be_bytes());
        out.extend_from_slice(&self.sport.to_be_bytes());
        out.extend_from_slice(&self.dport.to_be_bytes());
        out.push(self.proto);
        out.extend_from_slice(&self.packets.to_be_bytes());
        out.extend_from_slice(&self.octets.to_be_bytes());
        out.extend_from_slice(&self.start_ms.to_be_bytes());
        out.extend_from_slice(&self.end_ms.to_be_bytes());
    }
}

/// One IPFIX file being written.
struct OneFile {
    path: PathBuf,
    w: BufWriter<File>,
    /// Encoded data records of the message being filled.
    records: Vec<u8>,
    n: usize,
    /// Latest flow end (seconds) in the message: its export time.
    export_secs: u32,
    /// Data records written before the current message.
    seq: u64,
    messages: u64,
    domain: u32,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl OneFile {
    fn flush_message(&mut self) -> Result<(), SimError> {
        if self.n == 0 {
            return Ok(());
        }
        let with_template = self.messages.is_multiple_of(TEMPLATE_EVERY);
        let data_len = SET_HEADER_LEN + self.records.len();
        let len = HEADER_LEN + data_len + if with_template { TEMPLATE_SET_LEN } else { 0 };
        let mut m = Vec::with_capacity(len);
        m.extend_from_slice(&VERSION.to_be_bytes());
        // `len` <= MAX_MESSAGE by construction of RECORDS_PER_MESSAGE.
        m.extend_from_slice(&(len as u16).to_be_bytes());
        m.extend_from_slice(&self.export_secs.to_be_bytes());
        m.extend_from_slice(&(self.seq as u32).to_be_bytes());
        m.extend_from_slice(&self.domain.to_be_bytes());
        if with_template {
            m.extend_from_slice(&TEMPLATE_SET_ID.to_be_bytes());
            m.extend_from_slice(&(TEMPLATE_SET_LEN as u16).to_be_bytes());
            m.extend_from_slice(&TEMPLATE_ID.to_be_bytes());
            m.extend_from_slice(&(FIELDS.len() as u16).to_be_bytes());
            for (id, l) in FIELDS {
                m.extend_from_slice(&id.to_be_bytes());
                m.extend_from_slice(&l.to_be_bytes());
            }
        }
        m.extend_from_slice(&TEMPLATE_ID.to_be_bytes());
        m.extend_from_slice(&(data_len as u16).to_be_bytes());
        m.extend_from_slice(&self.records);
        self.w.write_all(&m).map_err(io_err(&self.path))?;
        self.seq += self.n as u64;
        self.messages += 1;
        self.records.clear();
        self.n = 0;
        self.export_secs = 0;
        Ok(())
    }
}

/// Flows of a simulated day as IPFIX files, one per hour (`flows.HH.ipfix`)
/// or one (`flows.ipfix`); a flow goes to the file of its start hour.
pub(crate) struct IpfixLog {
    files: Vec<OneFile>,
    start: Micros,
    /// Data records written.
    pub records: u64,
}

const HOUR_MICROS: Micros = 3_600_000_000;
/// Output buffer per file.
const WRITE_BUFFER: usize = 1 << 18;

impl IpfixLog {
    pub(crate) fn create(
        dir: &Path,
        start: Micros,
        window_secs: u64,
        hourly: bool,
    ) -> Result<IpfixLog, SimError> {
        let window = (window_secs as Micros).saturating_mul(1_000_000).max(1);
        let hours = if hourly {
            (window + HOUR_MICROS - 1) / HOUR_MICROS
        } else {
            1
        };
        let mut files = Vec::new();
        for h in 0..hours {
            let name = if hourly {
                format!("flows.{h:02}.ipfix")
            } else {
                "flows.ipfix".to_string()
            };
            let path = dir.join(name);
            let f = File::create(&path).map_err(io_err(&path))?;
            files.push(OneFile {
                path,
                w: BufWriter::with_capacity(WRITE_BUFFER, f),
                records: Vec::with_capacity(MAX_MESSAGE),
                n: 0,
                export_secs: 0,
                seq: 0,
                messages: 0,
                domain: DOMAIN_ID + u32::try_from(h).unwrap_or(0),
            });
        }
        Ok(IpfixLog {
            files,
            start,
            records: 0,
        })
    }

    /// Appends one flow to the file of its start time.
    pub(crate) fn push(&mut self, r: &FlowRecord) -> Result<(), SimError> {
        let last = self.files.len().saturating_sub(1);
        let ts = (r.start_ms as Micros).saturating_mul(1000);
        let h = usize::try_from((ts - self.start).max(0) / HOUR_MICROS).unwrap_or(last);
        let Some(f) = self.files.get_mut(h.min(last)) else {
            return Ok(());
        };
        r.encode(&mut f.records);
        f.n += 1;
        f.export_secs = f
            .export_secs
            .max(u32::try_from(r.end_ms / 1000).unwrap_or(u32::MAX));
        self.records += 1;
        if f.n == RECORDS_PER_MESSAGE {
            f.flush_message()?;
        }
        Ok(())
    }

    /// Writes the last messages; returns the paths.
    pub(crate) fn finish(self) -> Result<Vec<PathBuf>, SimError> {
        let mut out = Vec::with_capacity(self.files.len());
        for mut f in self.files {
            f.flush_message()?;
            f.w.flush().map_err(io_err(&f.path))?;
            out.push(f.path);
        }
        Ok(out)
    }
}

/// Why an IPFIX file's message sequence stops early.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    #[error("offset {offset}: not an IPFIX message header (version {version}, length {length})")]
    BadHeader {
        offset: u64,
        version: u16,
        length: u16,
    },
    #[error("offset {offset}: message of {length} bytes cut short at the end of the file")]
    Truncated { offset: u64, length: u16 },
    #[error("read error: {0}")]
    Io(String),
}

/// The messages of an IPFIX file, in order (each returned whole, header
/// included), with a count of the data records of fixed-length templates.
pub struct Messages<R> {
    r: R,
    offset: u64,
    buf: Vec<u8>,
    /// Record length per template id seen (0: variable length, not counted).
    record_len: std::collections::HashMap<u16, usize>,
}

impl<R: Read> Messages<R> {
    pub fn new(r: R) -> Self {
        Messages {
            r,
            offset: 0,
            buf: Vec::with_capacity(1 << 16),
            record_len: std::collections::HashMap::new(),
        }
    }

    /// The next message and its number of data records (of templates seen so
    /// far with fixed-length fields); `Ok(None)` at a clean end of file.
    pub fn next_message(&mut self) -> Result<Option<(&[u8], u64)>, MessageError> {
        let mut hdr = [0u8; HEADER_LEN];
        let got = read_full(&mut self.r, &mut hdr).map_err(|e| MessageError::Io(e.to_string()))?;
        if got == 0 {
            return Ok(None);
        }
        let version = u16::from_be_bytes([hdr[0], hdr[1]]);
        let length = u16::from_be_bytes([hdr[2], hdr[3]]);
        if got < HEADER_LEN {
            return Err(MessageError::Truncated {
                offset: self.offset,
                length,
            });
        }
        if version != VERSION || usize::from(length) < HEADER_LEN {
            return Err(MessageError::BadHeader {
                offset: self.offset,
                version,
                length,
            });
        }
        self.buf.clear();
        self.buf.extend_from_slice(&hdr);
        self.buf.resize(usize::from(length), 0);
        let body = &mut self.buf[HEADER_LEN..];
        let got = read_full(&mut self.r, body).map_err(|e| MessageError::Io(e.to_string()))?;
        if got < body.len() {
            return Err(MessageError::Truncated {
                offset: self.offset,
                length,
            });
        }
        self.offset += u64::from(length);
        let records = count_records(&self.buf, &mut self.record_len);
        Ok(Some((&self.buf, records)))
    }
}

/// Reads until `buf` is full or the end of input; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Counts the data records of a message, learning template record lengths
/// from its template sets. Malformed sets end the count (never panics).
fn count_records(msg: &[u8], lens: &mut std::collections::HashMap<u16, usize>) -> u64 {
    let be16 = |b: &[u8], at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
    };
    let mut records = 0u64;
    let mut at = HEADER_LEN;
    while at + SET_HEADER_LEN <= msg.len() {
        let (Some(id), Some(len)) = (be16(msg, at), be16(msg, at + 2)) else {
            break;
        };
        let len = usize::from(len);
        if len < SET_HEADER_LEN || at + len > msg.len() {
            break;
        }
        let set = &msg[at + SET_HEADER_LEN..at + len];
        if id == TEMPLATE_SET_ID {
            let mut t = 0;
            while t + 4 <= set.len() {
                let (Some(tid), Some(count)) = (be16(set, t), be16(set, t + 2)) else {
                    break;
                };
                t += 4;
                let mut rec = 0usize;
                for _ in 0..count {
                    let (Some(ie), Some(fl)) = (be16(set, t), be16(set, t + 2)) else {
                        break;
                    };
                    t += 4;
                    if ie & 0x8000 != 0 {
                        t += 4; // enterprise number
                    }
                    rec = if fl == u16::MAX || rec == usize::MAX {
                        usize::MAX
                    } else {
                        rec + usize::from(fl)
                    };
                }
                lens.insert(tid, if rec == usize::MAX { 0 } else { rec });
            }
        } else if id >= TEMPLATE_ID
            && let Some(&rl) = lens.get(&id)
            && rl > 0
        {
            records += (set.len() / rl) as u64;
        }
        at += len;
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u32) -> FlowRecord {
        FlowRecord {
            src: 0x0A00_0000 + i,
            dst: 0xC633_6401,
            sport: 50_000,
            dport: 443,
            proto: 6,
            packets: 3,
            octets: 1200 + u64::from(i),
            start_ms: 1_338_508_800_000 + u64::from(i),
            end_ms: 1_338_508_801_000 + u64::from(i),
        }
    }

    #[test]
    fn messages_round_trip_and_count() {
        assert_eq!(RECORDS_PER_MESSAGE, 29);
        let dir = tempfile::tempdir().unwrap();
        let start = 1_338_508_800_000_000;
        let mut log = IpfixLog::create(dir.path(), start, 3600, false).unwrap();
        let n = 1000u32;
        for i in 0..n {
            log.push(&rec(i)).unwrap();
        }
        assert_eq!(log.records, u64::from(n));
        let files = log.finish().unwrap();
        let bytes = std::fs::read(&files[0]).unwrap();
        let mut m = Messages::new(&bytes[..]);
        let (mut total, mut msgs, mut seq_ok) = (0u64, 0u64, true);
        while let Some((msg, k)) = m.next_message().unwrap() {
            assert!(msg.len() <= MAX_MESSAGE);
            let seq = u32::from_be_bytes([msg[8], msg[9], msg[10], msg[11]]);
            seq_ok &= u64::from(seq) == total;
            total += k;
            msgs += 1;
        }
        assert!(seq_ok);
        assert_eq!(total, u64::from(n));
        assert_eq!(msgs, u64::from(n).div_ceil(RECORDS_PER_MESSAGE as u64));
        // The first record decodes back.
        let first = &bytes[HEADER_LEN + TEMPLATE_SET_LEN + SET_HEADER_LEN..][..RECORD_LEN];
        let mut want = Vec::new();
        rec(0).encode(&mut want);
        assert_eq!(first, &want[..]);
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        let mut m = Messages::new(&[0u8, 9, 0, 20][..]);
        assert!(matches!(
            m.next_message(),
            Err(MessageError::Truncated { .. })
        ));
        let mut m = Messages::new(&[0u8, 9, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]);
        assert!(matches!(
            m.next_message(),
            Err(MessageError::BadHeader { version: 9, .. })
        ));
        let mut m = Messages::new(&[][..]);
        assert_eq!(m.next_message(), Ok(None));
        // A set claiming more bytes than the message holds: counted as nothing.
        let mut lens = std::collections::HashMap::new();
        let mut msg = vec![0u8; HEADER_LEN];
        msg.extend_from_slice(&[1, 0, 0xff, 0xff, 1, 2]);
        assert_eq!(count_records(&msg, &mut lens), 0);
    }
}
