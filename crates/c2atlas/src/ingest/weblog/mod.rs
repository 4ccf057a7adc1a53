//! Web access logs and HTTP telemetry → [`WebRequest`]s.
//!
//! Formats ([`WebLogFormat`]): Apache/nginx common and combined logs (with or
//! without a leading virtual-host field, with trailing `%D`/`$request_time`
//! fields), nginx/Caddy JSON access logs, IIS W3C extended logs (the
//! `#Fields:` directive is honoured and may change mid-file) and Suricata
//! eve.json `http` events.
//!
//! [`WebLogReader`] opens a file (gunzipping transparently), detects its
//! format from its first lines ([`detect`]), and hands every request to a
//! callback. Lines are capped at [`MAX_LINE`] bytes. Every bad line (overlong,
//! invalid UTF-8, NUL bytes, unbalanced quotes, truncated, a line of another
//! format) is counted and reported with its line number and a reason; it
//! never aborts the file and never panics.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::model::Micros;

pub mod clf;
pub mod eve;
pub mod json;
pub mod stamp;
pub mod w3c;
pub mod zeek;

/// Longest line accepted, in bytes. Real access-log lines are a few hundred
/// bytes; Apache caps the request line at 8 KiB by default. Longer lines are
/// discarded (counted) without being held in memory.
pub const MAX_LINE: usize = 1 << 20;

/// Lines examined by format detection.
pub const DETECT_LINES: usize = 20;

/// One HTTP request as a web server (or sensor) logged it.
///
/// Fields borrow from the line when the format allows it. `uri` is the raw
/// request target as logged (path and query, still percent-encoded).
#[derive(Clone, Debug, PartialEq)]
pub struct WebRequest<'a> {
    pub ts: Micros,
    /// The client (`%h`, `remote_addr`, `c-ip`, `src_ip`); lines without a valid one are malformed.
    pub src: IpAddr,
    /// The site: `Host` header or vhost field, when the log names one.
    pub site: Option<Cow<'a, str>>,
    /// Request method as logged (may be garbage for garbage request lines).
    pub method: Cow<'a, str>,
    /// Raw request target.
    pub uri: Cow<'a, str>,
    pub status: Option<u16>,
    /// Response bytes (0 when unknown or `-`).
    pub bytes: u64,
    pub referer: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    /// Request body, when the log carries it (`$request_body`, eval sets).
    pub body: Option<Cow<'a, str>>,
    /// Other request headers (name, value), when the source has them (eval sets, Caddy).
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// 1-based line number in the input.
    pub rec: u64,
}

impl Default for WebRequest<'_> {
    /// An empty `GET` from `0.0.0.0` (for building requests by hand).
    fn default() -> Self {
        WebRequest {
            ts: 0,
            src: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            site: None,
            method: Cow::Borrowed("GET"),
            uri: Cow::Borrowed("/"),
            status: None,
            bytes: 0,
            referer: None,
            user_agent: None,
            body: None,
            headers: Vec::new(),
            rec: 0,
        }
    }
}

impl WebRequest<'_> {
    /// A request with everything borrowed turned into owned data.
    pub fn into_owned(self) -> WebRequest<'static> {
        fn o(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        WebRequest {
            ts: self.ts,
            src: self.src,
            site: self.site.map(o),
            method: o(self.method),
            uri: o(self.uri),
            status: self.status,
            bytes: self.bytes,
            referer: self.referer.map(o),
            user_agent: self.user_agent.map(o),
            body: self.body.map(o),
            headers: self
                .headers
                .into_iter()
                .map(|(k, v)| (o(k), o(v)))
                .collect(),
            rec: self.rec,
        }
    }
}

/// A web log format. The names (`as_str`) are a contract like [`crate::ingest::Format`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WebLogFormat {
    /// Apache/nginx common or combined log format (optional vhost, optional trailing fields).
    Clf,
    /// nginx or Caddy JSON access log (one object per line).
    JsonAccess,
    /// IIS W3C extended log.
    W3c,
    /// Suricata eve.json (only `http` events are read).
    SuricataEve,
}

impl WebLogFormat {
    pub const ALL: [WebLogFormat; 4] = [
        WebLogFormat::Clf,
        WebLogFormat::JsonAccess,
        WebLogFormat::W3c,
        WebLogFormat::SuricataEve,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebLogFormat::Clf => "access-log",
            WebLogFormat::JsonAccess => "access-json",
            WebLogFormat::W3c => "iis-w3c",
            WebLogFormat::SuricataEve => "suricata-eve-http",
        }
    }

    pub fn from_name(name: &str) -> Option<WebLogFormat> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Why one line was skipped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    #[error("line longer than {MAX_LINE} bytes")]
    Overlong,
    #[error("invalid UTF-8 at byte {0}")]
    Utf8(usize),
    #[error("NUL byte at byte {0}")]
    Nul(usize),
    #[error("{0}")]
    Syntax(String),
    #[error("not a {expected} line (another format mid-file?)")]
    OtherFormat { expected: &'static str },
}

pub(crate) fn syntax(msg: impl Into<String>) -> LineError {
    LineError::Syntax(msg.into())
}

/// What one line was. (Returned, never stored: the size gap between variants is harmless.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Parsed<'a> {
    Request(WebRequest<'a>),
    /// A header, comment or an event that is not a request (e.g. eve `alert`).
    Skip,
}

/// Format detection from the first lines of a file (after gunzip).
///
/// Returns the format that most of the non-empty lines parse as, preferring
/// the structured formats (their markers are unambiguous).
pub fn detect(first_lines: &[&[u8]]) -> Option<WebLogFormat> {
    let mut votes = [0usize; 4];
    for raw in first_lines.iter().take(DETECT_LINES) {
        let Ok(line) = std::str::from_utf8(raw) else {
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with("#Fields:")
            || line.starts_with("#Software: Microsoft")
            || line.starts_with("#Version: 1.0")
        {
            if line.starts_with("#Fields:") && !w3c::is_w3c_fields(line) {
                continue;
            }
            votes[2] += 3;
            continue;
        }
        if line.starts_with('{') {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if eve::looks_like_eve(&v) {
                votes[3] += 1;
            } else if json::looks_like_access(&v) {
                votes[1] += 1;
            }
            continue;
        }
        if clf::parse(line, 0).is_ok() {
            votes[0] += 1;
        }
    }
    let (best, n) = votes
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, 3 - *i))?;
    if *n == 0 {
        return None;
    }
    Some(WebLogFormat::ALL[best])
}

/// A stateful line parser for one format (W3C headers change the columns).
#[derive(Debug, Clone)]
pub enum LineParser {
    Clf,
    JsonAccess,
    W3c(w3c::W3cState),
    SuricataEve,
}

impl LineParser {
    pub fn new(format: WebLogFormat) -> LineParser {
        match format {
            WebLogFormat::Clf => LineParser::Clf,
            WebLogFormat::JsonAccess => LineParser::JsonAccess,
            WebLogFormat::W3c => LineParser::W3c(w3c::W3cState::default()),
            WebLogFormat::SuricataEve => LineParser::SuricataEve,
        }
    }

    /// Parses one line (without its terminator). `rec` is its 1-based number.
    pub fn parse<'a>(&mut self, raw: &'a [u8], rec: u64) -> Result<Parsed<'a>, LineError> {
        if let Some(p) = memchr::memchr(0, raw) {
            return Err(LineError::Nul(p));
        }
        let line = std::str::from_utf8(raw).map_err(|e| LineError::Utf8(e.valid_up_to()))?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            return Ok(Parsed::Skip);
        }
        match self {
            LineParser::Clf => {
                if line.starts_with('{') || line.starts_with('#') {
                    return Err(LineError::OtherFormat {
                        expected: "access-log",
                    });
                }
                clf::parse(line, rec).map(Parsed::Request)
            }
            LineParser::JsonAccess => json::parse(line, rec),
            LineParser::W3c(st) => st.parse(line, rec),
            LineParser::SuricataEve => eve::parse(line, rec),
        }
    }
}

/// Counters of one web log input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebLogStats {
    pub lines: u64,
    pub requests: u64,
    pub malformed: u64,
    pub skipped: u64,
    pub gzip: bool,
}

/// A file that cannot be read as a web log at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebLogError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a known web log format")]
    UnknownFormat { path: PathBuf },
    #[error("{path}: truncated or corrupt gzip stream after line {line}: {source}")]
    Gzip {
        path: PathBuf,
        line: u64,
        #[source]
        source: std::io::Error,
    },
}

/// One line out of [`LineReader`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'b> {
    Text(&'b [u8]),
    /// A line over [`MAX_LINE`] bytes, discarded.
    Overlong,
}

/// Reads lines of at most [`MAX_LINE`] bytes from any reader without ever
/// buffering more than that: longer lines are skipped to their end.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line: u64,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(4096),
            line: 0,
        }
    }

    /// Number of the line last returned (1-based).
    pub fn line_no(&self) -> u64 {
        self.line
    }

    /// The next line (terminator stripped), or `None` at end of input.
    pub fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut overlong = false;
        let mut any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            any = true;
            let (chunk, used, done) = match memchr::memchr(b'\n', avail) {
                Some(i) => (&avail[..i], i + 1, true),
                None => (avail, avail.len(), false),
            };
            if !overlong {
                if self.buf.len() + chunk.len() > MAX_LINE {
                    overlong = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line += 1;
        if overlong {
            return Ok(Some(Line::Overlong));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Text(&self.buf)))
    }
}

/// Opens `path`, gunzipping when it starts with the gzip magic.
pub fn open(path: &Path) -> Result<(Box<dyn BufRead>, bool), WebLogError> {
    let io = |source| WebLogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let head = f.fill_buf().map_err(io)?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    if gz {
        Ok((
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::bufread::MultiGzDecoder::new(f),
            )),
            true,
        ))
    } else {
        Ok((Box::new(f), false))
    }
}

/// Detects the format of a file from its first [`DETECT_LINES`] lines.
pub fn detect_file(path: &Path) -> Result<Option<WebLogFormat>, WebLogError> {
    let (r, _) = open(path)?;
    let mut lr = LineReader::new(r);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    while lines.len() < DETECT_LINES {
        match lr.next_line() {
            Ok(Some(Line::Text(t))) => lines.push(t.to_vec()),
            Ok(Some(Line::Overlong)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let refs: Vec<&[u8]> = lines.iter().map(|l| l.as_slice()).collect();
    Ok(detect(&refs))
}

/// Reads a whole web log: each request to `on_req`, each bad line to `diag(line, reason)`.
pub fn read_file(
    path: &Path,
    format: Option<WebLogFormat>,
    on_req: &mut dyn FnMut(&WebRequest<'_>),
    diag: &mut dyn FnMut(u64, &LineError),
) -> Result<(WebLogFormat, WebLogStats), WebLogError> {
    let format = match format {
        Some(f) => f,
        None => detect_file(path)?.ok_or_else(|| WebLogError::UnknownFormat {
            path: path.to_path_buf(),
        })?,
    };
    let (r, gz) = open(path)?;
    let mut stats = read_lines(r, format, on_req, diag).map_err(|(line, source)| {
        if gz {
            WebLogError::Gzip {
                path: path.to_path_buf(),
                line,
                source,
            }
        } else {
            WebLogError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    stats.gzip = gz;
    Ok((format, stats))
}

/// Reads lines of a known format from any reader (the core of [`read_file`]).
/// An I/O error ends the read and is returned with the last good line number.
pub fn read_lines<R: BufRead>(
    r: R,
    format: WebLogFormat,
    on_req: &mut dyn FnMut(&WebRequest<'_>),
    diag: &mut dyn FnMut(u64, &LineError),
) -> Result<WebLogStats, (u64, std::io::Error)> {
    let mut lr = LineReader::new(r);
    let mut parser = LineParser::new(format);
    let mut stats = WebLogStats::default();
    loop {
        let no = lr.line_no() + 1;
        let line = match lr.next_line() {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => return Err((no - 1, e)),
        };
        stats.lines += 1;
        let res = match line {
            Line::Overlong => Err(LineError::Overlong),
            Line::Text(t) => parser.parse(t, no),
        };
        match res {
            Ok(Parsed::Request(req)) => {
                stats.requests += 1;
                on_req(&req);
            }
            Ok(Parsed::Skip) => stats.skipped += 1,
            Err(e) => {
                stats.malformed += 1;
                diag(no, &e);
            }
        }
    }
    Ok(stats)
}

/// Convenience: reads from a `Read` (not buffered) — used by tests and fuzzing.
pub fn read_bytes(
    data: &[u8],
    format: WebLogFormat,
    on_req: &mut dyn FnMut(&WebRequest<'_>),
    diag: &mut dyn FnMut(u64, &LineError),
) -> WebLogStats {
    let r: &mut dyn Read = &mut &data[..];
    // Reading a byte slice cannot fail.
    read_lines(BufReader::new(r), format, on_req, diag).unwrap_or_default()
}

/// Fuzz entry point: detection plus every parser on the same bytes.
pub fn fuzz(data: &[u8]) {
    let lines: Vec<&[u8]> = data.split(|b| *b == b'\n').take(DETECT_LINES).collect();
    let _ = detect(&lines);
    for f in WebLogFormat::ALL {
        let mut n = 0u64;
        let s = read_bytes(data, f, &mut |_| n += 1, &mut |_, _| {});
        assert_eq!(s.requests, n);
        assert_eq!(s.requests + s.malformed + s.skipped, s.lines);
    }
}

/// Splits `s` at the first `c`.
pub(crate) fn split1(s: &str, c: char) -> (&str, Option<&str>) {
    match s.find(c) {
        Some(i) => (&s[..i], Some(&s[i + c.len_utf8()..])),
        None => (s, None),
    }
}

/// `None` for a logged empty value (`-` or empty).
pub(crate) fn opt(s: &str) -> Option<&str> {
    if s.is_empty() || s == "-" {
        None
    } else {
        Some(s)
    }
}

pub(crate) fn parse_ip(s: &str) -> Result<IpAddr, LineError> {
    let t = s.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    t.parse()
        .map_err(|_| syntax(format!("invalid client address {:?}", short(s))))
}

/// At most 40 characters of `s`, for diagnostics.
pub(crate) fn short(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests;
