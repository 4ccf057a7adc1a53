//! ASN and organisation lookups: GeoLite2-ASN-format mmdb or ip-location-db range CSV.
//!
//! Whatever the source, the database is held as two sorted tables of
//! disjoint inclusive ranges (IPv4 as `u32`, IPv6 as `u128`) with organisation
//! names left where they are in the file's bytes (kept; a range holds their
//! offset and length, and a lookup unquotes them), and a lookup is one
//! binary search. An mmdb is flattened into those tables at open time (its
//! tree walked once, its organisation names copied into one buffer).
//! Loading is on the start-up path of every census: no per-line allocation,
//! no hash map of names.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{DbInfo, EnrichError};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsnInfo {
    pub asn: u32,
    /// Organisation name; empty when the source has none.
    pub org: Arc<str>,
}

/// Most diagnostics kept per database (the count of bad lines is exact;
/// only the first ones are kept with their reasons, to bound memory).
pub const MAX_DIAGNOSTICS: usize = 100;

/// The ip-location-db file names looked for when `path` is a directory.
pub const CSV_V4_NAME: &str = "asn-ipv4.csv";
pub const CSV_V6_NAME: &str = "asn-ipv6.csv";

/// The marker that starts the metadata section of every MaxMind DB.
const MMDB_METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
/// The metadata section sits within this many bytes of the end of the file
/// (the format's own bound: readers search the last 128 KiB).
const MMDB_METADATA_MAX_SIZE: usize = 128 * 1024;

/// One skipped CSV line and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvIssue {
    pub path: PathBuf,
    pub line: u64,
    pub reason: String,
}

/// An inclusive range `start..=end` of addresses (as integers) in one AS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range<T> {
    start: T,
    end: T,
    asn: u32,
    /// Offset and length of the organisation field (as stored: bare or
    /// CSV-quoted) in `AsnDb::text`.
    org: u32,
    org_len: u32,
}

/// An ASN database. Format chosen from content (mmdb magic vs. CSV).
///
/// Invariants: `v4` and `v6` are sorted by `start`, each range has
/// `start <= end`, and ranges do not overlap; every `org..org + org_len` span
/// lies in `text` and holds a bare or a well-quoted CSV field.
pub struct AsnDb {
    v4: Vec<Range<u32>>,
    /// `v4_index[h]` = index of the first `v4` range whose start is
    /// `>= h << V4_INDEX_SHIFT` (length `V4_BUCKETS + 1`): a lookup
    /// binary-searches only the ranges starting in its own bucket.
    v4_index: Vec<u32>,
    v6: Vec<Range<u128>>,
    /// The CSV files' bytes (IPv4 then IPv6), or the mmdb's names.
    text: Vec<u8>,
    malformed: u64,
    issues: Vec<CsvIssue>,
    info: DbInfo,
}

impl AsnDb {
    /// Opens one file; for ip-location-db CSV, `path` may be one of
    /// `asn-ipv4.csv` / `asn-ipv6.csv`, or a directory holding both.
    ///
    /// For a directory, whichever of the two files exist are loaded (at
    /// least one must); [`DbInfo::sha256`] is then the SHA-256 of the IPv4
    /// file's bytes followed by the IPv6 file's bytes, and `build_epoch` the
    /// newer of their modification times.
    pub fn open(path: &Path) -> Result<AsnDb, EnrichError> {
        if path.is_dir() {
            return Self::open_dir(path);
        }
        let bytes = super::read_file(path)?;
        let mtime = std::fs::metadata(path)
            .map(|m| super::mtime_secs(&m))
            .unwrap_or(0);
        if looks_like_mmdb(&bytes) {
            return Self::from_mmdb(path, bytes);
        }
        let sha256 = super::sha256_hex([bytes.as_slice()]);
        let mut b = Builder::default();
        b.add_csv(path, bytes)?;
        Ok(b.finish(DbInfo {
            path: path.display().to_string(),
            build_epoch: mtime,
            sha256,
            database_type: "ip-location-db asn CSV".to_owned(),
        }))
    }

    fn open_dir(dir: &Path) -> Result<AsnDb, EnrichError> {
        let mut b = Builder::default();
        let mut contents = Vec::new();
        let mut epoch = 0;
        for name in [CSV_V4_NAME, CSV_V6_NAME] {
            let p = dir.join(name);
            if !p.is_file() {
                continue;
            }
            let bytes = super::read_file(&p)?;
            if let Ok(m) = std::fs::metadata(&p) {
                epoch = epoch.max(super::mtime_secs(&m));
            }
            contents.push((p, bytes));
        }
        if contents.is_empty() {
            return Err(EnrichError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("neither {CSV_V4_NAME} nor {CSV_V6_NAME} in this directory"),
                ),
            });
        }
        let sha256 = super::sha256_hex(contents.iter().map(|(_, b)| b.as_slice()));
        for (p, bytes) in contents {
            b.add_csv(&p, bytes)?;
        }
        Ok(b.finish(DbInfo {
            path: dir.display().to_string(),
            build_epoch: epoch,
            sha256,
            database_type: "ip-location-db asn CSV".to_owned(),
        }))
    }

    /// Flattens a GeoLite2-ASN-format mmdb into range tables.
    fn from_mmdb(path: &Path, bytes: Vec<u8>) -> Result<AsnDb, EnrichError> {
        #[derive(serde::Deserialize)]
        struct AsnRecord<'a> {
            #[serde(default)]
            autonomous_system_number: Option<u32>,
            #[serde(borrow, default)]
            autonomous_system_organization: Option<&'a str>,
        }
        let sha256 = super::sha256_hex([bytes.as_slice()]);
        let reader = super::geo::open_mmdb(path, bytes)?;
        let invalid = |reason: String| EnrichError::InvalidMmdb {
            path: path.to_path_buf(),
            reason,
        };
        let all = if reader.metadata().ip_version == 6 {
            "::/0"
        } else {
            "0.0.0.0/0"
        };
        let all = all.parse().map_err(|e| invalid(format!("{e}")))?;
        let iter = reader
            .within(all, maxminddb::WithinOptions::default())
            .map_err(|e| invalid(e.to_string()))?;
        let mut b = Builder::default();
        for item in iter {
            let found = item.map_err(|e| invalid(e.to_string()))?;
            let rec = match found.decode::<AsnRecord<'_>>() {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => return Err(invalid(e.to_string())),
            };
            let Some(asn) = rec.autonomous_system_number else {
                continue;
            };
            let net = found.network().map_err(|e| invalid(e.to_string()))?;
            let (org, org_len) = b.intern(rec.autonomous_system_organization.unwrap_or(""));
            match (net.network(), net.prefix()) {
                (IpAddr::V4(a), p) => {
                    let n = ipnet::Ipv4Net::new(a, p).map_err(|e| invalid(e.to_string()))?;
                    b.v4.push(Staged {
                        r: Range {
                            start: n.network().into(),
                            end: n.broadcast().into(),
                            asn,
                            org,
                            org_len,
                        },
                        line: 0,
                    });
                }
                (IpAddr::V6(a), p) => {
                    let n = ipnet::Ipv6Net::new(a, p).map_err(|e| invalid(e.to_string()))?;
                    b.v6.push(Staged {
                        r: Range {
                            start: n.network().into(),
                            end: n.broadcast().into(),
                            asn,
                            org,
                            org_len,
                        },
                        line: 0,
                    });
                }
            }
        }
        let info = super::geo::mmdb_info(path, sha256, &reader);
        Ok(b.finish(info))
    }

    /// ASN of `ip` (an IPv4-mapped IPv6 address is looked up as IPv4).
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnInfo> {
        let (asn, org, len) = match ip.to_canonical() {
            IpAddr::V4(a) => find_v4(&self.v4, &self.v4_index, u32::from(a))?,
            IpAddr::V6(a) => find(&self.v6, u128::from(a))?,
        };
        let field = self.text.get(org as usize..)?.get(..len as usize)?;
        // Checked when loaded: a quoted field is well-quoted.
        let org = unquote(field).map_or_else(|_| Arc::from(""), Arc::from);
        Some(AsnInfo { asn, org })
    }

    pub fn info(&self) -> &DbInfo {
        &self.info
    }

    /// Number of CSV lines skipped as malformed or overlapping.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// The first [`MAX_DIAGNOSTICS`] skipped lines, with reasons.
    pub fn issues(&self) -> &[CsvIssue] {
        &self.issues
    }

    /// Number of (IPv4, IPv6) ranges held.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Whether no range at all is held.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// Bits of an IPv4 address that select its bucket in the first-level
/// index (65,536 buckets: a 256 KiB index that keeps the binary search of
/// ~400k ranges within one /16's few entries, far fewer cache misses).
const V4_INDEX_SHIFT: u32 = 16;
const V4_BUCKETS: usize = 1 << (32 - V4_INDEX_SHIFT);

/// Builds `AsnDb::v4_index` for a sorted table.
fn build_v4_index(v4: &[Range<u32>]) -> Vec<u32> {
    let mut index = Vec::with_capacity(V4_BUCKETS + 1);
    let mut i = 0usize;
    for b in 0..V4_BUCKETS as u64 {
        let bucket_start = b << V4_INDEX_SHIFT;
        while i < v4.len() && u64::from(v4[i].start) < bucket_start {
            i += 1;
        }
        index.push(u32::try_from(i).unwrap_or(u32::MAX));
    }
    index.push(u32::try_from(v4.len()).unwrap_or(u32::MAX));
    index
}

/// IPv4 lookup through the bucket index; same answer as [`find`].
fn find_v4(table: &[Range<u32>], index: &[u32], ip: u32) -> Option<(u32, u32, u32)> {
    let b = (ip >> V4_INDEX_SHIFT) as usize;
    let lo = *index.get(b)? as usize;
    let hi = *index.get(b + 1)? as usize;
    // Ranges before `lo` start before this bucket, ranges from `hi` on after it.
    let p = lo + table.get(lo..hi)?.partition_point(|r| r.start <= ip);
    let r = table.get(p.checked_sub(1)?)?;
    (ip <= r.end).then_some((r.asn, r.org, r.org_len))
}

/// Binary search in a sorted table of disjoint ranges.
fn find<T: Copy + Ord>(table: &[Range<T>], ip: T) -> Option<(u32, u32, u32)> {
    let i = table.partition_point(|r| r.start <= ip);
    let r = table.get(i.checked_sub(1)?)?;
    (ip <= r.end).then_some((r.asn, r.org, r.org_len))
}

/// Whether `bytes` carry the MaxMind DB metadata marker near their end.
fn looks_like_mmdb(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(MMDB_METADATA_MAX_SIZE)..];
    memchr::memmem::rfind(tail, MMDB_METADATA_MARKER).is_some()
}

/// Address integers: the next address, and the address as text.
trait Successor: Sized {
    fn successor(self) -> Option<Self>;
    fn display(self) -> String;
}

impl Successor for u32 {
    fn successor(self) -> Option<u32> {
        self.checked_add(1)
    }
    fn display(self) -> String {
        std::net::Ipv4Addr::from(self).to_string()
    }
}

impl Successor for u128 {
    fn successor(self) -> Option<u128> {
        self.checked_add(1)
    }
    fn display(self) -> String {
        std::net::Ipv6Addr::from(self).to_string()
    }
}

/// A range before validation, with the line it came from (0 for mmdb).
struct Staged<T> {
    r: Range<T>,
    line: u64,
}

/// Accumulates ranges from one or more sources, then sorts and validates.
#[derive(Default)]
struct Builder {
    v4: Vec<Staged<u32>>,
    v6: Vec<Staged<u128>>,
    /// See `AsnDb::text`.
    text: Vec<u8>,
    /// Names already copied into `text` (mmdb only).
    mmdb_orgs: HashMap<Box<str>, (u32, u32), foldhash::fast::RandomState>,
    malformed: u64,
    issues: Vec<CsvIssue>,
    /// The file of each staged line, for overlap diagnostics
    /// (index = `Staged::line >> LINE_BITS`).
    files: Vec<PathBuf>,
}

/// Staged line numbers carry the file index in their top bits.
const LINE_BITS: u32 = 40;
const LINE_MASK: u64 = (1 << LINE_BITS) - 1;

impl Builder {
    /// Copies an mmdb organisation name into `text` once, quoted when a
    /// bare field would not read back as the same name; its span.
    fn intern(&mut self, s: &str) -> (u32, u32) {
        if let Some(&span) = self.mmdb_orgs.get(s) {
            return span;
        }
        let start = self.text.len();
        if s.starts_with('"') {
            self.text.push(b'"');
            self.text
                .extend_from_slice(s.replace('"', "\"\"").as_bytes());
            self.text.push(b'"');
        } else {
            self.text.extend_from_slice(s.as_bytes());
        }
        let span = match (u32::try_from(start), u32::try_from(self.text.len() - start)) {
            (Ok(o), Ok(l)) => (o, l),
            // Beyond 4 GiB of names (no real database): no name.
            _ => (0, 0),
        };
        self.mmdb_orgs.insert(s.into(), span);
        span
    }

    fn issue(&mut self, path: &Path, line: u64, reason: String) {
        self.malformed += 1;
        if self.issues.len() < MAX_DIAGNOSTICS {
            self.issues.push(CsvIssue {
                path: path.to_path_buf(),
                line,
                reason,
            });
        }
    }

    /// Parses one CSV file's bytes. Bad lines are counted and skipped; a
    /// file with no usable line at all is [`EnrichError::InvalidCsv`]
    /// naming its first bad line (or line 0 when it is empty).
    fn add_csv(&mut self, path: &Path, bytes: Vec<u8>) -> Result<(), EnrichError> {
        let file_idx = self.files.len() as u64;
        self.files.push(path.to_path_buf());
        let mut good = 0u64;
        let mut first_bad: Option<(u64, String)> = None;
        let mut line_no = 0u64;
        // The file's bytes stay (organisation names are spans into them).
        let base = self.text.len();
        let text = if base == 0 {
            bytes
        } else {
            let mut t = std::mem::take(&mut self.text);
            t.extend_from_slice(&bytes);
            t
        };
        let mut pos = base;
        while pos < text.len() {
            let end = memchr::memchr(b'\n', &text[pos..]).map_or(text.len(), |i| pos + i);
            let line_start = pos;
            let raw = &text[pos..end];
            pos = end + 1;
            line_no += 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.is_empty() {
                continue;
            }
            let rec = parse_line(raw).and_then(|rec| {
                match (
                    u32::try_from(line_start + rec.org.0),
                    u32::try_from(rec.org.1),
                ) {
                    (Ok(o), Ok(l)) => Ok((rec, o, l)),
                    _ => Err(LineError::TooLarge),
                }
            });
            match rec {
                Ok((rec, org, org_len)) => {
                    good += 1;
                    let line = (file_idx << LINE_BITS) | (line_no & LINE_MASK);
                    match (rec.start, rec.end) {
                        (IpAddr::V4(s), IpAddr::V4(e)) => self.v4.push(Staged {
                            r: Range {
                                start: s.into(),
                                end: e.into(),
                                asn: rec.asn,
                                org,
                                org_len,
                            },
                            line,
                        }),
                        (IpAddr::V6(s), IpAddr::V6(e)) => self.v6.push(Staged {
                            r: Range {
                                start: s.into(),
                                end: e.into(),
                                asn: rec.asn,
                                org,
                                org_len,
                            },
                            line,
                        }),
                        // parse_line rejects mixed families.
                        _ => {}
                    }
                }
                Err(_) if line_no == 1 && is_header(raw) => {}
                Err(e) => {
                    let reason = e.to_string();
                    if first_bad.is_none() {
                        first_bad = Some((line_no, reason.clone()));
                    }
                    self.issue(path, line_no, reason);
                }
            }
        }
        self.text = text;
        if good == 0 {
            let (line, reason) = first_bad.unwrap_or((0, "no ASN ranges in the file".to_owned()));
            return Err(EnrichError::InvalidCsv {
                path: path.to_path_buf(),
                line,
                reason,
            });
        }
        Ok(())
    }

    fn finish(mut self, info: DbInfo) -> AsnDb {
        let v4 = std::mem::take(&mut self.v4);
        let v6 = std::mem::take(&mut self.v6);
        let v4 = self.validate(v4);
        let v6 = self.validate(v6);
        AsnDb {
            v4_index: build_v4_index(&v4),
            v4,
            v6,
            text: self.text,
            malformed: self.malformed,
            issues: self.issues,
            info,
        }
    }

    /// Sorts by start and resolves overlaps in favour of the range that
    /// starts first (ties: the earlier line): a range wholly inside the kept
    /// one before it is dropped, one that sticks out is clipped to start
    /// just after it. Either way the line is counted and reported.
    /// (`start > end` was rejected at parse time.)
    fn validate<T: Copy + Ord + Successor>(&mut self, mut staged: Vec<Staged<T>>) -> Vec<Range<T>> {
        staged.sort_by_key(|s| (s.r.start, s.line));
        let mut out: Vec<Range<T>> = Vec::with_capacity(staged.len());
        for mut s in staged {
            if let Some(prev) = out.last()
                && s.r.start <= prev.end
            {
                let file = usize::try_from(s.line >> LINE_BITS)
                    .ok()
                    .and_then(|i| self.files.get(i).cloned())
                    .unwrap_or_default();
                // `prev.end < s.r.end` implies `prev.end` has a successor.
                let clipped = (prev.end < s.r.end).then(|| prev.end.successor()).flatten();
                let reason = match clipped {
                    Some(start) => format!(
                        "range overlaps the range before it (which ends at {}): \
                         clipped to start at {}",
                        T::display(prev.end),
                        T::display(start)
                    ),
                    None => format!(
                        "range lies inside the range before it (which ends at {}): skipped",
                        T::display(prev.end)
                    ),
                };
                self.issue(&file, s.line & LINE_MASK, reason);
                match clipped {
                    Some(start) => s.r.start = start,
                    None => continue,
                }
            }
            out.push(s.r);
        }
        out.shrink_to_fit();
        out
    }
}

/// One parsed CSV line.
struct CsvRecord {
    start: IpAddr,
    end: IpAddr,
    asn: u32,
    /// Offset in the line and length of the organisation field (as stored).
    org: (usize, usize),
}

#[derive(Debug, thiserror::Error)]
enum LineError {
    #[error("expected `first_ip,last_ip,asn,org`, found {0} field(s)")]
    Fields(usize),
    #[error("invalid {what} address {value:?}")]
    Address { what: &'static str, value: String },
    #[error("first_ip and last_ip are of different IP versions")]
    MixedFamilies,
    #[error("first_ip is after last_ip")]
    Reversed,
    #[error("invalid AS number {0:?}")]
    Asn(String),
    #[error("unterminated quoted organisation")]
    Quote,
    #[error("line beyond the first 4 GiB of the database")]
    TooLarge,
}

/// A first line whose first field is a word (`first_ip,last_ip,asn,org`).
fn is_header(raw: &[u8]) -> bool {
    let first = raw.split(|&b| b == b',').next().unwrap_or(raw);
    !first.is_empty() && first.iter().all(|c| c.is_ascii_alphabetic() || *c == b'_')
}

/// Longest address text accepted (a full IPv6 with an embedded IPv4 is 45).
const MAX_ADDR_LEN: usize = 64;

fn parse_addr(field: &[u8], what: &'static str) -> Result<IpAddr, LineError> {
    let bad = || LineError::Address {
        what,
        value: String::from_utf8_lossy(&field[..field.len().min(MAX_ADDR_LEN)]).into_owned(),
    };
    if field.len() > MAX_ADDR_LEN {
        return Err(bad());
    }
    if let Some(a) = parse_ipv4_fast(field) {
        return Ok(IpAddr::V4(a));
    }
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(bad)
}

/// Strict dotted-quad parser for the common case (same rules as the
/// standard library: four decimal parts of 1-3 digits, each <= 255, no
/// leading zeros); `None` sends the caller to the general parser.
fn parse_ipv4_fast(field: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = field.split(|&b| b == b'.');
    for o in &mut octets {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p[0] == b'0') {
            return None;
        }
        let mut v = 0u16;
        for &c in p {
            v = v * 10 + u16::from(c.checked_sub(b'0').filter(|d| *d < 10)?);
        }
        *o = u8::try_from(v).ok()?;
    }
    parts
        .next()
        .is_none()
        .then_some(std::net::Ipv4Addr::from(octets))
}

/// Parses `first_ip,last_ip,asn,org`; `org` may be quoted (`"a, b"`, with
/// `""` for a quote) or bare (then everything after the third comma).
fn parse_line(raw: &[u8]) -> Result<CsvRecord, LineError> {
    let mut it = raw.splitn(4, |&b| b == b',');
    let (Some(a), Some(b), Some(asn), org) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(LineError::Fields(raw.split(|&b| b == b',').count()));
    };
    let start = parse_addr(a, "first_ip")?;
    let end = parse_addr(b, "last_ip")?;
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) if s > e => return Err(LineError::Reversed),
        (IpAddr::V6(s), IpAddr::V6(e)) if s > e => return Err(LineError::Reversed),
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {}
        _ => return Err(LineError::MixedFamilies),
    }
    let asn_num = parse_asn(asn)
        .ok_or_else(|| LineError::Asn(String::from_utf8_lossy(asn).chars().take(32).collect()))?;
    let org = match org {
        None => (raw.len(), 0),
        Some(o) => {
            if o.starts_with(b"\"") && (o.len() < 2 || !o.ends_with(b"\"")) {
                return Err(LineError::Quote);
            }
            // `splitn` pieces are consecutive: the fourth starts after three commas.
            (a.len() + b.len() + asn.len() + 3, o.len())
        }
    };
    Ok(CsvRecord {
        start,
        end,
        asn: asn_num,
        org,
    })
}

/// `64500` or `AS64500` (surrounding blanks allowed) → 64500.
fn parse_asn(field: &[u8]) -> Option<u32> {
    let t = field.trim_ascii();
    let t = t.strip_prefix(b"AS").unwrap_or(t);
    if t.is_empty() || t.len() > 10 {
        return None;
    }
    t.iter().try_fold(0u32, |acc, &c| {
        let d = c.checked_sub(b'0').filter(|d| *d < 10)?;
        acc.checked_mul(10)?.checked_add(u32::from(d))
    })
}

/// The organisation field: bare text, or one quoted CSV field. Invalid
/// UTF-8 is replaced (U+FFFD) rather than losing the range.
fn unquote(field: &[u8]) -> Result<Cow<'_, str>, LineError> {
    let Some(inner) = field.strip_prefix(b"\"") else {
        return Ok(String::from_utf8_lossy(field));
    };
    let inner = inner.strip_suffix(b"\"").ok_or(LineError::Quote)?;
    let text = String::from_utf8_lossy(inner);
    Ok(if text.contains("\"\"") {
        Cow::Owned(text.replace("\"\"", "\""))
    } else {
        text
    })
}

/// Parses `data` as an ASN CSV and looks a few addresses up: the `asn_csv`
/// fuzz entry point. Never panics.
pub fn fuzz(data: &[u8]) {
    let mut b = Builder::default();
    if b.add_csv(Path::new("<fuzz>"), data.to_vec()).is_err() {
        return;
    }
    let db = b.finish(DbInfo {
        path: "<fuzz>".to_owned(),
        build_epoch: 0,
        sha256: String::new(),
        database_type: "ip-location-db asn CSV".to_owned(),
    });
    // Invariants the lookup relies on.
    assert!(db.v4.windows(2).all(|w| w[0].end < w[1].start));
    assert!(db.v6.windows(2).all(|w| w[0].end < w[1].start));
    for r in &db.v4 {
        assert!(r.start <= r.end);
        for x in [r.start, r.end, r.end.wrapping_add(1)] {
            assert_eq!(find_v4(&db.v4, &db.v4_index, x), find(&db.v4, x));
            let _ = db.lookup(IpAddr::V4(x.into()));
        }
    }
    for r in db.v6.iter().take(64) {
        let _ = db.lookup(IpAddr::V6(r.end.into()));
    }
}

/// Parses CSV bytes into a database (no file behind it): for tests.
#[doc(hidden)]
pub fn from_csv_bytes(name: &Path, data: &[u8]) -> Result<AsnDb, EnrichError> {
    let mut b = Builder::default();
    b.add_csv(name, data.to_vec())?;
    Ok(b.finish(DbInfo {
        path: name.display().to_string(),
        build_epoch: 0,
        sha256: super::sha256_hex([data]),
        database_type: "ip-location-db asn CSV".to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn db(csv: &str) -> AsnDb {
        from_csv_bytes(Path::new("t.csv"), csv.as_bytes()).expect("usable csv")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn quoted_org_with_commas_and_quotes() {
        let d = db("1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
                    2.0.0.0,2.0.0.255,7,\"The \"\"Q\"\" Co\"\n\
                    3.0.0.0,3.0.0.255,8,Bare, with comma\r\n");
        assert_eq!(d.lookup(ip("1.0.0.7")).map(|a| a.asn), Some(13335));
        assert_eq!(
            &*d.lookup(ip("1.0.0.7")).expect("hit").org,
            "Cloudflare, Inc."
        );
        assert_eq!(&*d.lookup(ip("2.0.0.0")).expect("hit").org, "The \"Q\" Co");
        assert_eq!(
            &*d.lookup(ip("3.0.0.255")).expect("hit").org,
            "Bare, with comma"
        );
        assert_eq!(d.lookup(ip("1.0.1.0")), None);
        assert_eq!(d.lookup(ip("0.255.255.255")), None);
        assert_eq!(d.malformed(), 0);
    }

    #[test]
    fn bad_lines_are_counted_with_line_numbers_and_neighbours_kept() {
        let d = db("1.0.0.0,1.0.0.255,1,A\n\
                    garbage line\n\
                    2.0.0.9,2.0.0.1,2,Reversed\n\
                    3.0.0.0,3.0.0.255,notanumber,X\n\
                    1.0.0.128,1.0.1.0,9,Overlap\n\
                    4.0.0.0,::1,4,Mixed\n\
                    5.0.0.0,5.0.0.255,5,\"Unterminated\n\
                    6.0.0.0,6.0.0.255,6,F\n");
        assert_eq!(d.malformed(), 6);
        let lines: Vec<u64> = d.issues().iter().map(|i| i.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 6, 7, 5]);
        assert!(d.issues()[5].reason.contains("clipped to start at 1.0.1.0"));
        assert_eq!(d.lookup(ip("1.0.0.200")).map(|a| a.asn), Some(1));
        // The part sticking out of the earlier range is kept.
        assert_eq!(d.lookup(ip("1.0.1.0")).map(|a| a.asn), Some(9));
        assert_eq!(d.lookup(ip("1.0.1.1")), None);
        assert_eq!(d.lookup(ip("6.0.0.1")).map(|a| a.asn), Some(6));
        // 1.0.0.0/24, the clipped 1.0.1.0/32, 6.0.0.0/24.
        assert_eq!(d.len(), (3, 0));
    }

    #[test]
    fn range_inside_another_is_dropped() {
        let d = db("1.0.0.0,1.0.0.255,1,A\n1.0.0.0,1.0.0.255,2,Dup\n1.0.0.16,1.0.0.31,3,Inner\n");
        assert_eq!(d.malformed(), 2);
        assert!(d.issues().iter().all(|i| i.reason.contains("skipped")));
        assert_eq!(d.lookup(ip("1.0.0.20")).map(|a| a.asn), Some(1));
        assert_eq!(d.len(), (1, 0));
    }

    #[test]
    fn asn_field_forms() {
        assert_eq!(parse_asn(b"64500"), Some(64500));
        assert_eq!(parse_asn(b" AS64500 "), Some(64500));
        assert_eq!(parse_asn(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_asn(b"4294967296"), None);
        assert_eq!(parse_asn(b""), None);
        assert_eq!(parse_asn(b"-1"), None);
        assert_eq!(parse_asn(b"12a"), None);
    }

    #[test]
    fn header_is_skipped_not_counted() {
        let d = db("first_ip,last_ip,asn,org\n1.0.0.0,1.0.0.255,1,A\n");
        assert_eq!(d.malformed(), 0);
        assert_eq!(d.len(), (1, 0));
    }

    #[test]
    fn unusable_file_is_an_error_naming_the_line() {
        match from_csv_bytes(Path::new("x.csv"), b"\n\nhello,world\n") {
            Err(EnrichError::InvalidCsv { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected InvalidCsv, got {:?}", other.err()),
        }
        assert!(matches!(
            from_csv_bytes(Path::new("x.csv"), b""),
            Err(EnrichError::InvalidCsv { line: 0, .. })
        ));
    }

    #[test]
    fn ipv6_and_mapped_lookups() {
        let d = db(
            "2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,2500,WIDE\n\
                    8.8.8.0,8.8.8.255,15169,Google LLC\n",
        );
        assert_eq!(d.lookup(ip("2001:200::1")).map(|a| a.asn), Some(2500));
        assert_eq!(d.lookup(ip("2001:201::")), None);
        assert_eq!(d.lookup(ip("::ffff:8.8.8.8")).map(|a| a.asn), Some(15169));
    }

    #[test]
    fn org_spans_read_back() {
        let d = db("1.0.0.0,1.0.0.255,1,Same\n2.0.0.0,2.0.0.255,1,Same\n3.0.0.0,3.0.0.255,2,\n");
        let a = d.lookup(ip("1.0.0.1")).expect("hit").org;
        let b = d.lookup(ip("2.0.0.1")).expect("hit").org;
        assert_eq!((&*a, &*b), ("Same", "Same"));
        assert_eq!(&*d.lookup(ip("3.0.0.1")).expect("hit").org, "");
        // The quoting an mmdb name gets in the buffer reads back as the name.
        let mut b = Builder::default();
        for name in ["\"Quoted\" Inc", "Plain, Inc", "\""] {
            let (o, l) = b.intern(name);
            let field = &b.text[o as usize..(o + l) as usize];
            assert_eq!(unquote(field).expect("well quoted"), name);
        }
    }

    fn naive(ranges: &[(u32, u32, u32)], x: u32) -> Option<u32> {
        // First range (in file order) containing x, among those the loader
        // keeps: ranges are generated disjoint, so there is at most one.
        ranges
            .iter()
            .find(|(s, e, _)| *s <= x && x <= *e)
            .map(|r| r.2)
    }

    proptest! {
        /// The fast IPv4 parser accepts exactly what it should, and agrees
        /// with the standard library whenever it answers.
        #[test]
        fn fast_ipv4_parser_matches_std(s in "[0-9.]{0,16}", x in any::<u32>()) {
            if let Some(a) = parse_ipv4_fast(s.as_bytes()) {
                prop_assert_eq!(Some(a), s.parse::<std::net::Ipv4Addr>().ok());
            }
            let a = std::net::Ipv4Addr::from(x);
            prop_assert_eq!(parse_ipv4_fast(a.to_string().as_bytes()), Some(a));
        }

        /// Binary search agrees with a linear scan on disjoint ranges given
        /// in any order.
        #[test]
        fn binary_search_equals_linear_scan(
            cuts in prop_oneof![
                proptest::collection::btree_set(any::<u32>(), 2..60),
                // Dense: many ranges in few /16 buckets.
                proptest::collection::btree_set(0x0a00_0000u32..0x0a04_0000, 2..60),
            ],
            keep in proptest::collection::vec(any::<bool>(), 60),
            seed in any::<u64>(),
            probes in proptest::collection::vec(any::<u32>(), 50),
        ) {
            let cuts: Vec<u32> = cuts.into_iter().collect();
            let mut ranges = Vec::new();
            for (i, w) in cuts.windows(2).enumerate() {
                if keep[i % keep.len()] && w[0] < w[1] {
                    ranges.push((w[0], w[1] - 1, i as u32 + 1));
                }
            }
            prop_assume!(!ranges.is_empty());
            // Shuffle deterministically.
            let n = ranges.len();
            for i in 0..n {
                let j = (seed.wrapping_mul(i as u64 + 7) % n as u64) as usize;
                ranges.swap(i, j);
            }
            let csv: String = ranges
                .iter()
                .map(|(s, e, a)| {
                    format!("{},{},{a},Org {a}\n", std::net::Ipv4Addr::from(*s), std::net::Ipv4Addr::from(*e))
                })
                .collect();
            let d = db(&csv);
            prop_assert_eq!(d.malformed(), 0);
            let mut all = probes.clone();
            for (s, e, _) in &ranges {
                all.extend([*s, *e, s.wrapping_sub(1), e.wrapping_add(1)]);
            }
            for x in all {
                let got = d.lookup(IpAddr::V4(x.into())).map(|a| a.asn);
                prop_assert_eq!(
                    find_v4(&d.v4, &d.v4_index, x).map(|h| h.0),
                    find(&d.v4, x).map(|h| h.0)
                );
                prop_assert_eq!(got, naive(&ranges, x), "at {}", std::net::Ipv4Addr::from(x));
            }
        }

        #[test]
        fn fuzz_entry_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            fuzz(&data);
        }
    }
}
