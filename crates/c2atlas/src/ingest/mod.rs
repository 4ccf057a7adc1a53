//! Ingest: bytes on disk → normalised [`Event`]s.
//!
//! One module per format (`binetflow`, `zeek`), one driver ([`read_input`])
//! that opens a file (transparently gunzipping), detects its format from its
//! content, feeds it line by line to the format's parser and hands every
//! event to a [`Sink`]. Malformed records are counted and reported through
//! the diagnostic callback, never fatal; an unreadable or unrecognisable file
//! is an [`IngestError`].
//!
//! Invariant: parsers are pure functions of their input bytes (plus the
//! header state they read from the same file); they never panic on any input.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use memchr::memchr;
use sha2::{Digest, Sha256};

use std::net::IpAddr;

use crate::model::{Event, Micros, RecordRef};
use weblog::{WebLogFormat, WebRequest};

pub mod binetflow;
mod field;
pub mod gate;
pub mod netflow;
pub mod nfdump;
pub mod pcap;
pub mod weblog;
pub mod zeek;

/// Longest line accepted, in bytes. Real records are < 2 KiB (binetflow with
/// user data ~1.5 KiB); a longer "line" is binary data or a missing newline,
/// and buffering it whole would let one bad file exhaust memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Bytes (after gunzip) looked at to detect a format: enough for any Zeek
/// header block and a first JSON record.
pub const DETECT_BYTES: usize = 64 * 1024;

/// Read buffer size: large reads keep syscalls and gzip refills off the profile.
const READ_BUF: usize = 256 * 1024;

/// Gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A telemetry format c2atlas can read. The string names (`as_str`) are a
/// contract: they appear in the census JSON (`inputs[].format`) and are what
/// `--input-format` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Argus bidirectional flows as CSV (CTU-13, Stratosphere).
    Binetflow,
    /// Zeek conn.log (TSV or JSON lines).
    ZeekConn,
    /// Zeek dns.log.
    ZeekDns,
    /// Zeek http.log.
    ZeekHttp,
    /// Zeek ssl.log.
    ZeekSsl,
    /// A pcap or pcapng packet capture (flows plus DNS, HTTP and TLS-SNI events).
    Pcap,
    /// Apache/nginx common or combined access log (web requests, not events).
    AccessLog,
    /// nginx or Caddy JSON access log.
    AccessJson,
    /// IIS W3C extended log.
    IisW3c,
    /// Suricata eve.json `http` events.
    SuricataEveHttp,
    /// IPFIX file: IPFIX messages back to back (RFC 5655).
    Ipfix,
    /// Flow export datagrams (NetFlow v5/v9, IPFIX, sFlow v5) received live by
    /// `collect`; not in [`Format::ALL`] (a file of them is read as [`Format::Ipfix`]).
    Netflow,
    /// nfdump binary files (`nfcapd.*`, nfdump 1.6 and 1.7 layouts, any block compression).
    Nfcapd,
    /// nfdump's CSV output (`nfdump -o csv`).
    NfdumpCsv,
}

impl Format {
    /// All formats, in the order inputs of one run are processed
    /// (name-bearing logs first, so a domain indicator seen in DNS, HTTP or
    /// TLS is known before the connections that followed it).
    /// A capture yields names and flows; it comes after the Zeek name logs
    /// and before the flow-only formats.
    /// Web access logs come last: they feed only the web census.
    pub const ALL: [Format; 13] = [
        Format::ZeekDns,
        Format::ZeekHttp,
        Format::ZeekSsl,
        Format::Pcap,
        Format::ZeekConn,
        Format::Binetflow,
        Format::Ipfix,
        Format::Nfcapd,
        Format::NfdumpCsv,
        Format::AccessLog,
        Format::AccessJson,
        Format::IisW3c,
        Format::SuricataEveHttp,
    ];

    /// Contract name, e.g. `zeek-conn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Binetflow => "binetflow",
            Format::ZeekConn => "zeek-conn",
            Format::ZeekDns => "zeek-dns",
            Format::ZeekHttp => "zeek-http",
            Format::ZeekSsl => "zeek-ssl",
            Format::Pcap => "pcap",
            Format::AccessLog => "access-log",
            Format::AccessJson => "access-json",
            Format::IisW3c => "iis-w3c",
            Format::SuricataEveHttp => "suricata-eve-http",
            Format::Ipfix => "ipfix",
            Format::Netflow => "netflow",
            Format::Nfcapd => "nfcapd",
            Format::NfdumpCsv => "nfdump-csv",
        }
    }

    /// The web log format this input is read as, when it is a web log.
    pub fn web(self) -> Option<WebLogFormat> {
        match self {
            Format::AccessLog => Some(WebLogFormat::Clf),
            Format::AccessJson => Some(WebLogFormat::JsonAccess),
            Format::IisW3c => Some(WebLogFormat::W3c),
            Format::SuricataEveHttp => Some(WebLogFormat::SuricataEve),
            _ => None,
        }
    }

    /// The input format of a web log format.
    pub fn from_web(f: WebLogFormat) -> Format {
        match f {
            WebLogFormat::Clf => Format::AccessLog,
            WebLogFormat::JsonAccess => Format::AccessJson,
            WebLogFormat::W3c => Format::IisW3c,
            WebLogFormat::SuricataEve => Format::SuricataEveHttp,
        }
    }

    /// Parses a contract name.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Receives the events of an input, in file order.
pub trait Sink {
    /// Called once per event; `rec` says where it came from.
    fn event(&mut self, rec: RecordRef, ev: &Event<'_>);
    /// Called once per request of a web log input (`req.rec` is its line).
    /// Sinks that do not use web requests ignore them.
    fn web(&mut self, _input: u32, _req: &WebRequest<'_>) {}
    /// The gate of flow-only inputs (IPFIX, nfcapd, Zeek conn TSV,
    /// binetflow), asked once per input: flows whose two IPv4 ends it rejects
    /// yield nothing in this sink and are reported with [`Sink::gated`]
    /// instead of [`Sink::event`] (see [`gate`]); text readers then leave the
    /// line's other fields unparsed. `None` (the default): every flow is an event.
    fn gate(&mut self) -> Option<gate::FlowGate> {
        None
    }
    /// `g.n` flow records the gate rejected (in file order, between the
    /// events around them): counted as records, their timestamps in the period.
    fn gated(&mut self, _g: &gate::Gated) {}
}

/// A problem with one record (or one header line) that was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub path: PathBuf,
    /// 1-based line (or record) number.
    pub line: u64,
    /// What was wrong, e.g. `column 4 (SrcAddr): invalid IP address "1.2.3"`.
    pub reason: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
    }
}

/// What reading one input produced. Serialised into the census `inputs` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputStats {
    pub path: PathBuf,
    pub format: Format,
    /// Records turned into events.
    pub records: u64,
    /// Records counted and skipped as malformed.
    pub malformed: u64,
    /// Well-formed records that carry no IP traffic (Argus `arp`, `llc`, …),
    /// skipped without being counted as records or as malformed.
    pub skipped: u64,
    /// Lowercase hex SHA-256 of the file's bytes as stored (compressed if gzip).
    pub sha256: String,
    /// Whether the file was gzip-compressed.
    pub gzip: bool,
}

/// An input that cannot be used at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: is empty")]
    Empty { path: PathBuf },
    #[error("{path}: not a known telemetry format ({reason})")]
    UnknownFormat { path: PathBuf, reason: String },
    #[error("{path}: truncated or corrupt gzip stream after {records} records: {source}")]
    Gzip {
        path: PathBuf,
        records: u64,
        #[source]
        source: std::io::Error,
    },
}

/// One file chosen for a run, with its detected (or forced) format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedInput {
    pub path: PathBuf,
    pub format: Format,
}

/// Expands the command line's paths into the files of a run.
///
/// Files named explicitly must be readable telemetry (else an error);
/// directories are walked recursively, in sorted order, and files in them that
/// are not telemetry (READMEs, licences, other Zeek logs) are skipped with a
/// warning pushed to `warnings`. `forced` overrides detection for every file.
/// The result is ordered by [`Format::ALL`] (DNS/HTTP/TLS before flows), then path,
/// so one run reads a directory of Zeek logs as one dataset.
///
/// With `forced`, every regular file (also inside directories) is planned
/// with that format without looking at it; a file that then turns out not to
/// be of that format fails in [`read_input`]. Hidden files and directories
/// (names starting with `.`) inside a walked directory are skipped silently.
pub fn plan_inputs(
    paths: &[PathBuf],
    forced: Option<Format>,
    warnings: &mut Vec<String>,
) -> Result<Vec<PlannedInput>, IngestError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| io_err(p, e))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files, warnings);
            skip_in_progress(p, &mut files, warnings);
            for f in files {
                match forced.map_or_else(|| detect_format(&f), Ok) {
                    Ok(format) => out.push(PlannedInput { path: f, format }),
                    Err(e) => {
                        warnings.push(format!("{}: skipped: {}", f.display(), skip_reason(&e)))
                    }
                }
            }
        } else {
            let format = match forced {
                Some(f) => f,
                None => detect_format(p)?,
            };
            out.push(PlannedInput {
                path: p.clone(),
                format,
            });
        }
    }
    let rank = |f: Format| {
        Format::ALL
            .iter()
            .position(|x| *x == f)
            .unwrap_or(usize::MAX)
    };
    out.sort_by(|a, b| (rank(a.format), &a.path).cmp(&(rank(b.format), &b.path)));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

/// The reason part of a detection error, for a skip warning.
fn skip_reason(e: &IngestError) -> String {
    match e {
        IngestError::Io { source, .. } => format!("cannot read: {source}"),
        IngestError::Empty { .. } => "empty file".into(),
        IngestError::UnknownFormat { reason, .. } => reason.clone(),
        IngestError::Gzip { source, .. } => format!("corrupt gzip stream: {source}"),
    }
}

/// Prefix of the file nfcapd is still writing (renamed to `nfcapd.YYYYMMDDhhmm`
/// when the interval closes): incomplete, and read again once complete.
const NFCAPD_IN_PROGRESS: &str = "nfcapd.current.";

/// Drops nfcapd's in-progress files (`nfcapd.current.*`) from a directory
/// walk, with one warning giving their number and the first one.
fn skip_in_progress(dir: &Path, files: &mut Vec<PathBuf>, warnings: &mut Vec<String>) {
    let is_current = |f: &PathBuf| {
        f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(NFCAPD_IN_PROGRESS))
    };
    let skipped: Vec<PathBuf> = files.iter().filter(|f| is_current(f)).cloned().collect();
    if let Some(first) = skipped.first() {
        warnings.push(format!(
            "{}: skipped {} in-progress nfcapd file(s) ({NFCAPD_IN_PROGRESS}*), first {}",
            dir.display(),
            skipped.len(),
            first.display()
        ));
        files.retain(|f| !is_current(f));
    }
}

/// Collects the regular files under `dir`, recursively, in sorted order.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, warnings: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            warnings.push(format!(
                "{}: skipped: cannot read directory: {e}",
                dir.display()
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    paths.sort();
    for p in paths {
        // `symlink_metadata`: a symlinked directory is not followed (no loops);
        // a symlinked file is read through `metadata`.
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, files, warnings),
            Ok(m) if m.is_file() => files.push(p),
            Ok(_) => match std::fs::metadata(&p) {
                Ok(m) if m.is_file() => files.push(p),
                Ok(_) => {}
                Err(e) => warnings.push(format!("{}: skipped: cannot read: {e}", p.display())),
            },
            Err(e) => warnings.push(format!("{}: skipped: cannot read: {e}", p.display())),
        }
    }
}

fn io_err(path: &Path, source: io::Error) -> IngestError {
    IngestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Detects the format of a file from its first bytes (after gunzip).
pub fn detect_format(path: &Path) -> Result<Format, IngestError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let mut raw = BufReader::with_capacity(DETECT_BYTES, file);
    let gzip = raw
        .fill_buf()
        .map_err(|e| io_err(path, e))?
        .starts_with(&GZIP_MAGIC);
    let mut head = Vec::with_capacity(DETECT_BYTES);
    let res = if gzip {
        MultiGzDecoder::new(raw)
            .take(DETECT_BYTES as u64)
            .read_to_end(&mut head)
    } else {
        raw.take(DETECT_BYTES as u64).read_to_end(&mut head)
    };
    if let Err(source) = res {
        if !gzip {
            return Err(io_err(path, source));
        }
        if head.is_empty() {
            return Err(IngestError::Gzip {
                path: path.to_path_buf(),
                records: 0,
                source,
            });
        }
        // A truncated gzip file: detect from what could be inflated.
    }
    detect_bytes(&head).map_err(|e| match e {
        Detect::Empty => IngestError::Empty {
            path: path.to_path_buf(),
        },
        Detect::Unknown(reason) => IngestError::UnknownFormat {
            path: path.to_path_buf(),
            reason,
        },
    })
}

/// Why [`detect_bytes`] found no format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detect {
    /// No non-blank content.
    Empty,
    /// Content of no format c2atlas reads, with the reason.
    Unknown(String),
}

/// Detects a format from the first bytes of a file's (decompressed) content.
///
/// Zeek TSV by `#path` (or the `#fields` names), Zeek JSON by its keys,
/// binetflow by its CSV header, pcap/pcapng by their magic numbers. Bytes that are not text (NUL, invalid UTF-8
/// in the first lines) are "binary data".
pub fn detect_bytes(head: &[u8]) -> Result<Format, Detect> {
    if pcap::is_capture(head) {
        return Ok(Format::Pcap);
    }
    if netflow::file::is_ipfix(head) {
        return Ok(Format::Ipfix);
    }
    if nfdump::is_nfdump(head) {
        return Ok(Format::Nfcapd);
    }
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Detect::Empty);
    }
    if head.contains(&0) {
        return Err(Detect::Unknown("binary data".into()));
    }
    // The last line may be cut by the detection window: drop it unless it is the only one.
    let text_end = match memchr::memrchr(b'\n', head) {
        Some(i) if head.len() == DETECT_BYTES => i,
        _ => head.len(),
    };
    let text = match std::str::from_utf8(&head[..text_end]) {
        Ok(t) => t,
        Err(e) if e.valid_up_to() > 0 && e.error_len().is_none() => {
            // Cut inside a multi-byte character at the window's end.
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return Err(Detect::Unknown("binary data (not UTF-8 text)".into())),
    };
    let lines = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty());
    let Some(first) = lines.clone().next() else {
        return Err(Detect::Empty);
    };
    if first.starts_with('#') {
        return zeek::detect_tsv(lines.clone())
            .or_else(|e| detect_web(lines).ok_or(e))
            .map_err(Detect::Unknown);
    }
    if first.trim_start().starts_with('{') {
        return zeek::detect_json(first.trim())
            .or_else(|e| detect_web(lines).ok_or(e))
            .map_err(Detect::Unknown);
    }
    if nfdump::csv::is_header(first) {
        return Ok(Format::NfdumpCsv);
    }
    if binetflow::is_header(first) || first.contains("SrcAddr") {
        return binetflow::check_header(first)
            .map(|()| Format::Binetflow)
            .map_err(Detect::Unknown);
    }
    if let Some(f) = detect_web(lines) {
        return Ok(f);
    }
    Err(Detect::Unknown(format!(
        "no Zeek #fields header, Zeek JSON, binetflow CSV header or web access log; first line {}",
        field::quoted(first)
    )))
}

/// Web log detection (after the telemetry formats failed) over the first lines.
fn detect_web<'a>(lines: impl Iterator<Item = &'a str>) -> Option<Format> {
    let first: Vec<&[u8]> = lines
        .take(weblog::DETECT_LINES)
        .map(str::as_bytes)
        .collect();
    weblog::detect(&first).map(Format::from_web)
}

/// What a parser made of one line.
#[derive(Debug)]
pub(crate) enum Outcome<'l> {
    /// A record.
    Event(Event<'l>),
    /// A header, comment or repeated header line: not a record.
    Skip,
    /// A bad record, with the reason.
    Malformed(String),
    /// A well-formed record that is not IP traffic (Argus `arp`, `llc`, `man`).
    NotIp(String),
    /// The file's header is unusable: fatal before the first record,
    /// a malformed line after it.
    Fatal(String),
    /// A flow record whose timestamp and addresses were read and whose
    /// addresses the sink's gate rejects (see [`Sink::gate`]): its
    /// timestamp. Its other fields were not parsed.
    PassedOver(Micros),
}

/// Asks the sink whether it wants a flow (source, destination) in full.
pub(crate) type WantsFlow<'a> = &'a dyn Fn(IpAddr, IpAddr) -> bool;

/// The parser of one input.
// One per input, created once and never moved in the hot path: size is irrelevant.
#[allow(clippy::large_enum_variant)]
enum Parser {
    Binetflow(binetflow::Parser),
    Zeek(zeek::Parser),
    NfdumpCsv(nfdump::csv::Parser),
}

impl Parser {
    fn new(format: Format) -> Parser {
        if format == Format::NfdumpCsv {
            return Parser::NfdumpCsv(nfdump::csv::Parser::new());
        }
        match zeek::Kind::from_format(format) {
            Some(k) => Parser::Zeek(zeek::Parser::new(k)),
            None => Parser::Binetflow(binetflow::Parser::new()),
        }
    }

    /// One line; with `wants`, flows the sink does not want may be passed over.
    fn line<'l>(&mut self, line: &'l str, wants: Option<WantsFlow<'_>>) -> Outcome<'l> {
        match (self, wants) {
            (Parser::Binetflow(p), Some(w)) => p.line_filtered(line, w),
            (Parser::Binetflow(p), None) => p.line(line),
            (Parser::Zeek(p), Some(w)) => p.line_filtered(line, w),
            (Parser::Zeek(p), None) => p.line(line),
            (Parser::NfdumpCsv(p), _) => p.line(line),
        }
    }
}

/// Feeds lines to a parser and keeps the counts.
struct Driver<'a> {
    input: u32,
    path: &'a Path,
    parser: Parser,
    sink: &'a mut dyn Sink,
    diag: &'a mut dyn FnMut(Diagnostic),
    line_no: u64,
    records: u64,
    malformed: u64,
    /// Non-IP records skipped, and the line and reason of the first.
    not_ip: u64,
    first_not_ip: Option<(u64, String)>,
    /// Any non-blank content seen.
    content: bool,
    /// The sink's gate ([`Sink::gate`]), asked once per input.
    gate: Option<gate::FlowGate>,
    /// Flow lines passed over by the gate since the last event, handed to
    /// [`Sink::gated`] as one run (as the binary readers do).
    passed: gate::Gated,
}

impl Driver<'_> {
    fn report(&mut self, reason: String) {
        (self.diag)(Diagnostic {
            path: self.path.to_path_buf(),
            line: self.line_no,
            reason,
        });
    }

    fn malformed(&mut self, reason: String) {
        self.malformed += 1;
        self.report(reason);
    }

    /// Hands the run of passed-over flow lines to the sink (before the next
    /// event, and at the end of the input).
    fn flush_passed(&mut self) {
        if let Some(g) = self.passed.take() {
            self.sink.gated(&g);
        }
    }

    /// One physical line, without its `\n`.
    fn line(&mut self, bytes: &[u8]) -> Result<(), IngestError> {
        self.line_no += 1;
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.len() > MAX_LINE_BYTES {
            return self.too_long(bytes.len() as u64);
        }
        let line = match std::str::from_utf8(bytes) {
            Ok(l) => l,
            Err(e) => {
                self.content = true;
                self.malformed(format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1));
                return Ok(());
            }
        };
        if line.trim_ascii().is_empty() {
            return Ok(());
        }
        self.content = true;
        let outcome = match &self.gate {
            // IPv6 ends always take the full path (the gate is IPv4 /24s).
            Some(g) => self.parser.line(
                line,
                Some(&|s, d| match (s, d) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => g.pass(u32::from(s), u32::from(d)),
                    _ => true,
                }),
            ),
            None => self.parser.line(line, None),
        };
        match outcome {
            Outcome::PassedOver(ts) => {
                self.records += 1;
                self.passed.add(ts);
            }
            Outcome::Event(ev) => {
                self.records += 1;
                self.flush_passed();
                self.sink.event(
                    RecordRef {
                        input: self.input,
                        line: self.line_no,
                    },
                    &ev,
                );
                // A gate holds until the next non-flow event (a DNS answer
                // may teach a detector a new controller address): an input
                // that mixes log kinds is read in full from there on.
                if !matches!(ev, Event::Flow(_)) {
                    self.gate = None;
                }
            }
            Outcome::Skip => {}
            Outcome::Malformed(r) => self.malformed(r),
            Outcome::NotIp(r) => {
                self.not_ip += 1;
                if self.first_not_ip.is_none() {
                    self.first_not_ip = Some((self.line_no, r));
                }
            }
            Outcome::Fatal(reason) => {
                if self.records == 0 {
                    return Err(IngestError::UnknownFormat {
                        path: self.path.to_path_buf(),
                        reason: format!("line {}: {reason}", self.line_no),
                    });
                }
                self.malformed(reason);
            }
        }
        Ok(())
    }

    fn too_long(&mut self, len: u64) -> Result<(), IngestError> {
        self.content = true;
        self.malformed(format!(
            "line of {len} bytes exceeds the limit of {MAX_LINE_BYTES} bytes"
        ));
        Ok(())
    }

    /// Reads all lines of `r`. A read error is returned as is.
    fn run<R: BufRead>(&mut self, r: &mut R) -> Result<Result<(), io::Error>, IngestError> {
        // A line split across buffer refills is gathered here (up to the limit).
        let mut spill: Vec<u8> = Vec::new();
        // Length of an over-long line being skipped, if any.
        let mut skipping: Option<u64> = None;
        loop {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.flush_passed();
                    return Ok(Err(e));
                }
            };
            if buf.is_empty() {
                if let Some(len) = skipping {
                    self.line_no += 1;
                    self.too_long(len)?;
                } else if !spill.is_empty() {
                    self.line(&spill)?;
                }
                self.flush_passed();
                return Ok(Ok(()));
            }
            let used = match memchr(b'\n', buf) {
                Some(i) => {
                    if let Some(len) = skipping.take() {
                        self.line_no += 1;
                        self.too_long(len + i as u64)?;
                    } else if spill.is_empty() {
                        self.line(&buf[..i])?;
                    } else if spill.len() + i > MAX_LINE_BYTES {
                        let len = (spill.len() + i) as u64;
                        spill.clear();
                        self.line_no += 1;
                        self.too_long(len)?;
                    } else {
                        spill.extend_from_slice(&buf[..i]);
                        self.line(&spill)?;
                        spill.clear();
                    }
                    i + 1
                }
                None => {
                    let n = buf.len();
                    if let Some(len) = &mut skipping {
                        *len += n as u64;
                    } else if spill.len() + n > MAX_LINE_BYTES {
                        skipping = Some((spill.len() + n) as u64);
                        spill = Vec::new();
                    } else {
                        spill.extend_from_slice(buf);
                    }
                    n
                }
            };
            r.consume(used);
        }
    }
}

/// Hashes every byte read through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads one input to the end, sending events to `sink` and malformed-record
/// diagnostics to `diag`. `input` is the index stamped on every [`RecordRef`].
///
/// The file is read once: its SHA-256 is computed over the stored bytes as
/// they stream by (the rest of the file is hashed even when a gzip stream ends
/// early). Gzip is recognised by its magic bytes, whatever the name.
///
/// Errors and counts:
/// - an unusable header before the first record (no binetflow header, no
///   Zeek `#fields`, a Zeek `#path` of another kind) → [`IngestError::UnknownFormat`];
/// - a gzip stream that is truncated or corrupt → [`IngestError::Gzip`] when no
///   record was read; otherwise the records read are kept, one diagnostic
///   "truncated or corrupt gzip stream after N records" is reported and counted
///   as one malformed record;
/// - a file with no content (after gunzip) → [`IngestError::Empty`];
/// - a bad line (wrong column count, bad field, invalid UTF-8, longer than
///   [`MAX_LINE_BYTES`]) → one diagnostic naming the line and column, counted in
///   `malformed`; its neighbours are kept;
/// - non-IP Argus records (`arp`, `llc`, `man`) are skipped, neither records
///   nor malformed, with one diagnostic per file giving their number and the
///   first one's line.
pub fn read_input(
    input: u32,
    planned: &PlannedInput,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<InputStats, IngestError> {
    read_input_threads(input, planned, sink, diag, 1)
}

/// [`read_input`] with up to `threads` threads for one file, where its
/// format can split it (nfcapd: blocks decoded on worker threads, see
/// [`nfdump::read_threads`]); the result is that of [`read_input`].
pub fn read_input_threads(
    input: u32,
    planned: &PlannedInput,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
    threads: usize,
) -> Result<InputStats, IngestError> {
    let file = File::open(&planned.path).map_err(|e| io_err(&planned.path, e))?;
    read_from_threads(input, planned, file, sink, diag, threads)
}

/// [`read_input`] over any reader (the bytes of a file), e.g. an in-memory
/// buffer. `planned.path` is only used in diagnostics and errors.
pub fn read_from<R: Read>(
    input: u32,
    planned: &PlannedInput,
    reader: R,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<InputStats, IngestError> {
    read_from_threads(input, planned, reader, sink, diag, 1)
}

/// [`read_from`] with up to `threads` threads (see [`read_input_threads`]).
pub fn read_from_threads<R: Read>(
    input: u32,
    planned: &PlannedInput,
    reader: R,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
    threads: usize,
) -> Result<InputStats, IngestError> {
    let path = planned.path.as_path();
    let mut raw = BufReader::with_capacity(
        READ_BUF,
        Hashing {
            inner: reader,
            hasher: Sha256::new(),
        },
    );
    let gzip = loop {
        match raw.fill_buf() {
            Ok(b) => break b.starts_with(&GZIP_MAGIC),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(path, e)),
        }
    };
    if planned.format == Format::Pcap {
        return read_capture(input, planned, raw, gzip, sink, diag);
    }
    if matches!(planned.format, Format::Ipfix | Format::Netflow) {
        return read_binary_flows(planned, raw, gzip, sink, diag, &mut |r, sink, diag| {
            let c = netflow::file::read(input, &planned.path, r, sink, diag)?;
            Ok((c.records, c.malformed, c.skipped))
        });
    }
    if planned.format == Format::Nfcapd {
        return read_binary_flows(planned, raw, gzip, sink, diag, &mut |r, sink, diag| {
            let c = nfdump::read_threads(input, &planned.path, r, sink, diag, threads)?;
            Ok((c.records, c.malformed, c.skipped))
        });
    }
    if let Some(wf) = planned.format.web() {
        return read_weblog(input, planned, wf, raw, gzip, sink, diag);
    }
    let mut d = Driver {
        input,
        path,
        parser: Parser::new(planned.format),
        sink,
        diag,
        line_no: 0,
        records: 0,
        malformed: 0,
        not_ip: 0,
        first_not_ip: None,
        content: false,
        gate: None,
        passed: gate::Gated::default(),
    };
    d.gate = d.sink.gate();
    let (read_result, mut raw) = if gzip {
        let mut dec = BufReader::with_capacity(READ_BUF, MultiGzDecoder::new(raw));
        let r = d.run(&mut dec)?;
        (r, dec.into_inner().into_inner())
    } else {
        let r = d.run(&mut raw)?;
        (r, raw)
    };
    if let Err(source) = read_result {
        if !gzip {
            return Err(io_err(path, source));
        }
        if d.records == 0 {
            return Err(IngestError::Gzip {
                path: path.to_path_buf(),
                records: 0,
                source,
            });
        }
        let n = d.records;
        d.line_no += 1;
        d.malformed(format!(
            "truncated or corrupt gzip stream after {n} records: {source}"
        ));
    }
    if let Some((line, reason)) = d.first_not_ip.take() {
        let n = d.not_ip;
        (d.diag)(Diagnostic {
            path: path.to_path_buf(),
            line,
            reason: format!(
                "skipped {n} non-IP record(s), not counted as malformed; first here ({reason})"
            ),
        });
    }
    if !d.content {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    // Hash what the decoder left unread (trailing bytes after the last gzip member).
    io::copy(&mut raw, &mut io::sink()).map_err(|e| io_err(path, e))?;
    let sha256 = hex::encode(raw.into_inner().hasher.finalize());
    Ok(InputStats {
        path: path.to_path_buf(),
        format: planned.format,
        records: d.records,
        malformed: d.malformed,
        skipped: d.not_ip,
        sha256,
        gzip,
    })
}

/// [`read_from`] for a capture: `raw` is the (hashing) file reader.
fn read_capture<R: Read>(
    input: u32,
    planned: &PlannedInput,
    mut raw: BufReader<Hashing<R>>,
    gzip: bool,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<InputStats, IngestError> {
    let path = planned.path.as_path();
    let limits = pcap::flow::Limits::default();
    let counts = if gzip {
        let mut dec = MultiGzDecoder::new(&mut raw);
        pcap::read(input, path, &mut dec, limits, sink, diag)?
    } else {
        pcap::read(input, path, &mut raw, limits, sink, diag)?
    };
    io::copy(&mut raw, &mut io::sink()).map_err(|e| io_err(path, e))?;
    let sha256 = hex::encode(raw.into_inner().hasher.finalize());
    Ok(InputStats {
        path: path.to_path_buf(),
        format: Format::Pcap,
        records: counts.records,
        malformed: counts.malformed,
        skipped: counts.skipped,
        sha256,
        gzip,
    })
}

/// What a binary flow-file reader counted: records, malformed, skipped.
type BinaryCounts = (u64, u64, u64);

/// A binary flow-file reader (IPFIX file, nfcapd) over the decompressed stream.
type BinaryReader<'a> = dyn FnMut(
        &mut dyn Read,
        &mut dyn Sink,
        &mut dyn FnMut(Diagnostic),
    ) -> Result<BinaryCounts, IngestError>
    + 'a;

/// [`read_from`] for a binary flow file (IPFIX, nfcapd): `raw` is the (hashing) file reader,
/// `read` the format's reader; the rest of the file is hashed after it.
fn read_binary_flows<R: Read>(
    planned: &PlannedInput,
    mut raw: BufReader<Hashing<R>>,
    gzip: bool,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
    read: &mut BinaryReader<'_>,
) -> Result<InputStats, IngestError> {
    let path = planned.path.as_path();
    let (records, malformed, skipped) = if gzip {
        let mut dec = MultiGzDecoder::new(&mut raw);
        read(&mut dec, sink, diag)?
    } else {
        read(&mut raw, sink, diag)?
    };
    io::copy(&mut raw, &mut io::sink()).map_err(|e| io_err(path, e))?;
    let sha256 = hex::encode(raw.into_inner().hasher.finalize());
    Ok(InputStats {
        path: path.to_path_buf(),
        format: planned.format,
        records,
        malformed,
        skipped,
        sha256,
        gzip,
    })
}

/// [`read_from`] for a web log: each request goes to [`Sink::web`]. Counts and
/// errors as for the other formats (`records` = requests; header and non-request
/// lines are neither records nor malformed).
fn read_weblog<R: Read>(
    input: u32,
    planned: &PlannedInput,
    wf: WebLogFormat,
    mut raw: BufReader<Hashing<R>>,
    gzip: bool,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<InputStats, IngestError> {
    let path = planned.path.as_path();
    let mut records = 0u64;
    let mut malformed = 0u64;
    let mut lines = 0u64;
    let res = {
        let mut on_req = |r: &WebRequest<'_>| {
            records += 1;
            sink.web(input, r);
        };
        let mut on_bad = |line: u64, e: &weblog::LineError| {
            malformed += 1;
            diag(Diagnostic {
                path: path.to_path_buf(),
                line,
                reason: e.to_string(),
            });
        };
        if gzip {
            let dec = BufReader::with_capacity(READ_BUF, MultiGzDecoder::new(&mut raw));
            weblog::read_lines(dec, wf, &mut on_req, &mut on_bad)
        } else {
            weblog::read_lines(&mut raw, wf, &mut on_req, &mut on_bad)
        }
    };
    match res {
        Ok(s) => lines = s.lines,
        Err((line, source)) => {
            if !gzip {
                return Err(io_err(path, source));
            }
            if records == 0 {
                return Err(IngestError::Gzip {
                    path: path.to_path_buf(),
                    records: 0,
                    source,
                });
            }
            malformed += 1;
            diag(Diagnostic {
                path: path.to_path_buf(),
                line: line + 1,
                reason: format!(
                    "truncated or corrupt gzip stream after {records} records: {source}"
                ),
            });
        }
    }
    if records == 0 && malformed == 0 && lines == 0 {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    io::copy(&mut raw, &mut io::sink()).map_err(|e| io_err(path, e))?;
    let sha256 = hex::encode(raw.into_inner().hasher.finalize());
    Ok(InputStats {
        path: path.to_path_buf(),
        format: planned.format,
        records,
        malformed,
        skipped: 0,
        sha256,
        gzip,
    })
}

/// A sink that drops everything (fuzzing, benchmarks). With `gated`, it
/// has a gate (every other /16 of every other /8), so that the fuzzers
/// reach both the lean and the full path of the binary readers.
pub(crate) struct NullSink {
    pub(crate) gated: bool,
}

impl Sink for NullSink {
    fn event(&mut self, _rec: RecordRef, _ev: &Event<'_>) {}
    fn gate(&mut self) -> Option<gate::FlowGate> {
        static GATE: std::sync::OnceLock<Option<gate::FlowGate>> = std::sync::OnceLock::new();
        if !self.gated {
            return None;
        }
        GATE.get_or_init(|| {
            // Word `w` covers /24s `w*64..w*64+63`; a /16 is 4 words.
            let bits = (0..gate::GATE_WORDS)
                .map(|w| if (w >> 2) & 0x101 == 0 { u64::MAX } else { 0 })
                .collect();
            gate::FlowGate::from_bits(bits)
        })
        .clone()
    }
}

/// Reads `data` as a file of `format`, discarding the results. For the fuzz
/// entry points; never panics.
pub(crate) fn fuzz_format(format: Format, data: &[u8]) {
    let planned = PlannedInput {
        path: PathBuf::from("fuzz-input"),
        format,
    };
    let _ = detect_bytes(data);
    let _ = read_from(
        0,
        &planned,
        data,
        &mut NullSink { gated: false },
        &mut |_| {},
    );
    let _ = read_from(
        0,
        &planned,
        data,
        &mut NullSink { gated: true },
        &mut |_| {},
    );
}
