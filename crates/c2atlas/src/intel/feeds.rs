//! Feed loaders: format detection by content and per-line parsing.
//!
//! Every format is read line by line from bytes (no file access here), so the
//! same code serves files, tests and the fuzzer. A line yields one
//! [`Outcome`]: an indicator, a skip (a valid line that holds nothing we
//! match on, such as a file hash), or a malformed line with its reason.
//! Comment and blank lines yield nothing.

use ipnet::IpNet;

use super::FeedFormat;
use super::normalize::{looks_like_ip, normalize_url, parse_domain, parse_ip, parse_net};

/// How many lines are examined to find a header and decide the format.
/// abuse.ch headers are ~10 lines, FireHOL headers ~35.
pub const DETECT_LINES: usize = 200;

/// A parsed indicator value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Net(IpNet),
    Domain(String),
    /// `value` as given (trimmed), `norm` the match key, `host` lower-cased.
    Url {
        value: String,
        norm: String,
        host: String,
    },
}

/// One indicator read from a feed, before it gets an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawIndicator {
    pub parsed: Parsed,
    pub family: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    /// Overrides the feed's file name as source (Zeek `meta.source`).
    pub source: Option<String>,
}

impl RawIndicator {
    fn bare(parsed: Parsed) -> Self {
        RawIndicator {
            parsed,
            family: None,
            first_seen: None,
            last_seen: None,
            source: None,
        }
    }
}

/// What one data line gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Indicator(Box<RawIndicator>),
    /// Valid, but not an indicator kind we match on (e.g. a hash).
    Skipped,
    Malformed(String),
}

/// Column layout of a CSV or Zeek feed, found from its header.
#[derive(Debug, Clone, Default)]
struct Columns {
    names: Vec<String>,
}

impl Columns {
    fn idx(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// Detected format plus what parsing needs from the header.
struct Detected {
    format: FeedFormat,
    columns: Columns,
    /// 0-based index of an uncommented header line to skip.
    header_line: Option<usize>,
}

/// Parses a whole feed, calling `emit(line_number, outcome)` for each data
/// line (1-based numbers). Returns the detected format.
pub fn parse_feed(data: &[u8], file_name: &str, emit: &mut dyn FnMut(u64, Outcome)) -> FeedFormat {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let det = detect(data, file_name);
    let layout = Layout::new(&det);
    let mut fields: Vec<String> = Vec::new();
    for (i, raw) in lines(data).enumerate() {
        let line_no = i as u64 + 1;
        if Some(i) == det.header_line {
            continue;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            emit(
                line_no,
                Outcome::Malformed("line is not valid UTF-8".into()),
            );
            continue;
        };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let outcome = match det.format {
            FeedFormat::PlainList => {
                if t.starts_with(';') {
                    continue;
                }
                plain_line(t, false)
            }
            FeedFormat::FireholSet => plain_line(t, true),
            FeedFormat::ZeekIntel => {
                fields.clear();
                fields.extend(line.split('\t').map(str::to_string));
                layout.zeek(&fields)
            }
            FeedFormat::FeodoCsv | FeedFormat::ThreatFoxCsv | FeedFormat::UrlhausCsv => {
                match split_csv(t, &mut fields) {
                    Err(r) => Outcome::Malformed(r.into()),
                    Ok(()) => layout.csv(det.format, &fields),
                }
            }
        };
        emit(line_no, outcome);
    }
    det.format
}

/// Lines split on `\n` with a trailing `\r` removed.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    data.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(move |_| !data.is_empty())
}

fn detect(data: &[u8], file_name: &str) -> Detected {
    let mut fields = Vec::new();
    let mut firehol_hint = false;
    for (i, raw) in lines(data).enumerate().take(DETECT_LINES) {
        let Ok(line) = std::str::from_utf8(raw) else {
            continue;
        };
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix("#fields") {
            let names: Vec<String> = rest
                .split('\t')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if names.iter().any(|n| n == "indicator") {
                return Detected {
                    format: FeedFormat::ZeekIntel,
                    columns: Columns { names },
                    header_line: None,
                };
            }
        }
        let commented = t.starts_with('#');
        let body = t.trim_start_matches('#').trim();
        let lower = body.to_ascii_lowercase();
        if commented && (lower.contains("ipset") || lower.contains("firehol")) {
            firehol_hint = true;
        }
        if split_csv(&lower, &mut fields).is_ok() && fields.len() >= 3 {
            let has = |n: &str| fields.iter().any(|f| f == n);
            let format = if has("dst_ip") {
                Some(FeedFormat::FeodoCsv)
            } else if has("ioc_value") && has("ioc_type") {
                Some(FeedFormat::ThreatFoxCsv)
            } else if has("url") && (has("urlhaus_link") || has("url_status")) {
                Some(FeedFormat::UrlhausCsv)
            } else {
                None
            };
            if let Some(format) = format {
                return Detected {
                    format,
                    columns: Columns {
                        names: fields.clone(),
                    },
                    header_line: (!commented).then_some(i),
                };
            }
        }
        if !commented {
            // First data line and no header seen: a one-value-per-line list.
            break;
        }
    }
    let lower = file_name.to_ascii_lowercase();
    let format = if firehol_hint || lower.ends_with(".ipset") || lower.ends_with(".netset") {
        FeedFormat::FireholSet
    } else {
        FeedFormat::PlainList
    };
    Detected {
        format,
        columns: Columns::default(),
        header_line: None,
    }
}

/// Column indices resolved once per feed.
struct Layout {
    // Feodo
    dst_ip: Option<usize>,
    malware: Option<usize>,
    first_seen_utc: Option<usize>,
    last_online: Option<usize>,
    // ThreatFox
    ioc_value: Option<usize>,
    ioc_type: Option<usize>,
    malware_printable: Option<usize>,
    last_seen_utc: Option<usize>,
    // URLhaus
    url: Option<usize>,
    dateadded: Option<usize>,
    tags: Option<usize>,
    // Zeek
    indicator: Option<usize>,
    indicator_type: Option<usize>,
    meta_source: Option<usize>,
}

impl Layout {
    fn new(det: &Detected) -> Layout {
        let c = &det.columns;
        Layout {
            dst_ip: c.idx("dst_ip"),
            malware: c.idx("malware"),
            first_seen_utc: c.idx("first_seen_utc"),
            last_online: c.idx("last_online"),
            ioc_value: c.idx("ioc_value"),
            ioc_type: c.idx("ioc_type"),
            malware_printable: c.idx("malware_printable"),
            last_seen_utc: c.idx("last_seen_utc"),
            url: c.idx("url"),
            dateadded: c.idx("dateadded"),
            tags: c.idx("tags"),
            indicator: c.idx("indicator"),
            indicator_type: c.idx("indicator_type"),
            meta_source: c.idx("meta.source"),
        }
    }

    fn csv(&self, format: FeedFormat, f: &[String]) -> Outcome {
        let get = |i: Option<usize>| i.and_then(|i| f.get(i)).map(|s| s.trim());
        let opt = |i: Option<usize>| get(i).filter(|s| !s.is_empty()).map(str::to_string);
        let (value_col, what) = match format {
            FeedFormat::FeodoCsv => (self.dst_ip, "dst_ip"),
            FeedFormat::ThreatFoxCsv => (self.ioc_value, "ioc_value"),
            _ => (self.url, "url"),
        };
        let Some(value) = get(value_col) else {
            return Outcome::Malformed(format!("missing {what} column ({} fields)", f.len()));
        };
        match format {
            FeedFormat::FeodoCsv => match parse_ip(value) {
                Err(r) => Outcome::Malformed(r),
                Ok(ip) => Outcome::Indicator(Box::new(RawIndicator {
                    parsed: Parsed::Net(IpNet::from(ip)),
                    family: opt(self.malware),
                    first_seen: opt(self.first_seen_utc),
                    last_seen: opt(self.last_online),
                    source: None,
                })),
            },
            FeedFormat::ThreatFoxCsv => {
                let Some(kind) = get(self.ioc_type) else {
                    return Outcome::Malformed("missing ioc_type column".into());
                };
                let parsed = match kind {
                    "ip:port" => parse_ip_port(value).map(|ip| Parsed::Net(IpNet::from(ip))),
                    "domain" => parse_domain(value).map(Parsed::Domain),
                    "url" => parse_url(value),
                    _ => return Outcome::Skipped,
                };
                match parsed {
                    Err(r) => Outcome::Malformed(r),
                    Ok(parsed) => Outcome::Indicator(Box::new(RawIndicator {
                        parsed,
                        family: opt(self.malware_printable).filter(|m| {
                            !matches!(m.as_str(), "None" | "Unknown malware" | "unknown")
                        }),
                        first_seen: opt(self.first_seen_utc),
                        last_seen: opt(self.last_seen_utc),
                        source: None,
                    })),
                }
            }
            _ => match parse_url(value) {
                Err(r) => Outcome::Malformed(r),
                Ok(parsed) => Outcome::Indicator(Box::new(RawIndicator {
                    parsed,
                    family: get(self.tags).and_then(family_from_tags),
                    first_seen: opt(self.dateadded),
                    last_seen: opt(self.last_online),
                    source: None,
                })),
            },
        }
    }

    fn zeek(&self, f: &[String]) -> Outcome {
        let (Some(value), Some(kind)) = (
            self.indicator.and_then(|i| f.get(i)),
            self.indicator_type.and_then(|i| f.get(i)),
        ) else {
            return Outcome::Malformed(format!(
                "expected indicator and indicator_type columns, got {} fields",
                f.len()
            ));
        };
        let value = value.trim();
        let parsed = match kind.trim() {
            "Intel::ADDR" => parse_ip(value).map(|ip| Parsed::Net(IpNet::from(ip))),
            "Intel::SUBNET" => parse_net(value).map(Parsed::Net),
            "Intel::DOMAIN" => parse_domain(value).map(Parsed::Domain),
            "Intel::URL" => parse_url(value),
            _ => return Outcome::Skipped,
        };
        match parsed {
            Err(r) => Outcome::Malformed(r),
            Ok(parsed) => {
                let mut raw = RawIndicator::bare(parsed);
                raw.source = self
                    .meta_source
                    .and_then(|i| f.get(i))
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty() && *s != "-")
                    .map(str::to_string);
                Outcome::Indicator(Box::new(raw))
            }
        }
    }
}

/// ThreatFox `ip:port` values: `1.2.3.4:443`, `[2001:db8::1]:443`, or a bare IP.
fn parse_ip_port(v: &str) -> Result<std::net::IpAddr, String> {
    if v.starts_with('[') {
        let end = v
            .find(']')
            .ok_or_else(|| format!("invalid ip:port {v:?}"))?;
        return parse_ip(&v[1..end]);
    }
    if v.matches(':').count() == 1
        && let Some((ip, _)) = v.split_once(':')
    {
        return parse_ip(ip);
    }
    parse_ip(v)
}

fn parse_url(v: &str) -> Result<Parsed, String> {
    let (norm, host) = normalize_url(v)?;
    Ok(Parsed::Url {
        value: v.trim().to_string(),
        norm,
        host,
    })
}

/// Tags that describe the file or platform, not the malware family.
const GENERIC_TAGS: &[&str] = &[
    "32-bit",
    "64-bit",
    "elf",
    "exe",
    "dll",
    "zip",
    "rar",
    "7z",
    "gz",
    "tar",
    "msi",
    "iso",
    "lnk",
    "js",
    "vbs",
    "ps1",
    "bat",
    "hta",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "pdf",
    "apk",
    "jar",
    "sh",
    "txt",
    "arm",
    "arm4",
    "arm5",
    "arm6",
    "arm7",
    "aarch64",
    "mips",
    "mipsel",
    "mpsl",
    "x86",
    "x86-64",
    "x86_64",
    "amd64",
    "i686",
    "sparc",
    "m68k",
    "ppc",
    "powerpc",
    "sh4",
    "arc",
    "powershell",
    "ascii",
    "base64",
    "encoded",
    "opendir",
    "payload",
    "dropper",
    "script",
    "none",
    "signed",
    "unsigned",
    "github",
    "dropbox",
    "discord",
    "malware_download",
    "botnetdomain",
];

/// URLhaus family guess: the first tag that is not a file or platform tag.
fn family_from_tags(tags: &str) -> Option<String> {
    tags.split(',')
        .map(str::trim)
        .find(|t| {
            !t.is_empty()
                && !GENERIC_TAGS.iter().any(|g| g.eq_ignore_ascii_case(t))
                && !t.bytes().all(|b| b.is_ascii_digit())
        })
        .map(str::to_string)
}

/// One value per line (plain lists and FireHOL sets). `nets_only`: FireHOL
/// sets hold IPs and CIDRs only.
fn plain_line(t: &str, nets_only: bool) -> Outcome {
    let (token, rest) = match t.find(char::is_whitespace) {
        Some(i) => (&t[..i], t[i..].trim_start()),
        None => (t, ""),
    };
    if !rest.is_empty() && !rest.starts_with('#') && !rest.starts_with(';') {
        return Outcome::Malformed(format!("unexpected text after indicator: {rest:?}"));
    }
    let parsed = if nets_only {
        parse_net(token).map(Parsed::Net)
    } else if token.contains("://") {
        parse_url(token)
    } else if looks_like_ip(token) {
        parse_net(token).map(Parsed::Net)
    } else {
        parse_domain(token).map(Parsed::Domain)
    };
    match parsed {
        Ok(p) => Outcome::Indicator(Box::new(RawIndicator::bare(p))),
        Err(r) => Outcome::Malformed(r),
    }
}

/// Splits one CSV line into `out`: fields may be quoted with `"` (`""`
/// escapes a quote) and padded with spaces around the separators, as in
/// ThreatFox exports. Multi-line quoted fields are not supported.
fn split_csv(line: &str, out: &mut Vec<String>) -> Result<(), &'static str> {
    out.clear();
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i < b.len() && b[i] == b'"' {
            let mut field = String::new();
            let mut start = i + 1;
            let mut j = start;
            loop {
                match memchr::memchr(b'"', &b[j..]) {
                    None => return Err("unterminated quoted field"),
                    Some(k) => {
                        j += k;
                        field.push_str(&line[start..j]);
                        if b.get(j + 1) == Some(&b'"') {
                            field.push('"');
                            j += 2;
                            start = j;
                        } else {
                            i = j + 1;
                            break;
                        }
                    }
                }
            }
            out.push(field);
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            match b.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(_) => return Err("text after a closing quote"),
            }
        } else {
            let end = memchr::memchr(b',', &b[i..]).map_or(b.len(), |k| i + k);
            out.push(line[i..end].trim().to_string());
            if end == b.len() {
                return Ok(());
            }
            i = end + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &str, name: &str) -> (FeedFormat, Vec<(u64, Outcome)>) {
        let mut v = Vec::new();
        let f = parse_feed(data.as_bytes(), name, &mut |l, o| v.push((l, o)));
        (f, v)
    }

    #[test]
    fn csv_split() {
        let mut f = Vec::new();
        split_csv(r#""a", "b,c" ,d, "e""f""#, &mut f).unwrap();
        assert_eq!(f, ["a", "b,c", "d", "e\"f"]);
        split_csv("x,,y,", &mut f).unwrap();
        assert_eq!(f, ["x", "", "y", ""]);
        assert!(split_csv(r#""open"#, &mut f).is_err());
        assert!(split_csv(r#""a"b"#, &mut f).is_err());
    }

    #[test]
    fn threatfox_types() {
        let data = "# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"reference\",\"tags\",\"anonymous\",\"reporter\"\n\
\"2025-01-01 00:00:00\", \"1\", \"1.2.3.4:443\", \"ip:port\", \"botnet_cc\", \"win.x\", \"None\", \"XRat\", \"\", \"50\", \"\", \"c2\", \"0\", \"me\"\n\
\"2025-01-01 00:00:00\", \"2\", \"Evil.Example\", \"domain\", \"botnet_cc\", \"win.x\", \"None\", \"XRat\", \"\", \"50\", \"\", \"c2\", \"0\", \"me\"\n\
\"2025-01-01 00:00:00\", \"3\", \"0123abcd\", \"md5_hash\", \"payload\", \"win.x\", \"None\", \"XRat\", \"\", \"50\", \"\", \"c2\", \"0\", \"me\"\n\
\"2025-01-01 00:00:00\", \"4\", \"bad..domain\", \"domain\", \"botnet_cc\", \"win.x\", \"None\", \"XRat\", \"\", \"50\", \"\", \"c2\", \"0\", \"me\"\n";
        let (f, v) = run(data, "tf.csv");
        assert_eq!(f, FeedFormat::ThreatFoxCsv);
        assert_eq!(v.len(), 4);
        let Outcome::Indicator(ip) = &v[0].1 else {
            panic!("{:?}", v[0])
        };
        assert_eq!(ip.parsed, Parsed::Net("1.2.3.4/32".parse().unwrap()));
        assert_eq!(ip.family.as_deref(), Some("XRat"));
        assert_eq!(ip.last_seen, None);
        let Outcome::Indicator(d) = &v[1].1 else {
            panic!("{:?}", v[1])
        };
        assert_eq!(d.parsed, Parsed::Domain("evil.example".into()));
        assert_eq!(v[2], (4, Outcome::Skipped));
        assert!(matches!(v[3], (5, Outcome::Malformed(_))));
    }

    #[test]
    fn plain_and_firehol() {
        let (f, v) = run(
            "# list\n1.2.3.4 # c\n\n10.0.0.0/8\nevil.example\n1.2.3.4/33\nfoo bar\n",
            "x.txt",
        );
        assert_eq!(f, FeedFormat::PlainList);
        let kinds: Vec<_> = v
            .iter()
            .map(|(l, o)| (*l, matches!(o, Outcome::Indicator(_))))
            .collect();
        assert_eq!(
            kinds,
            [(2, true), (4, true), (5, true), (6, false), (7, false)]
        );
        let (f, v) = run("1.2.3.4\nevil.example\n", "x.netset");
        assert_eq!(f, FeedFormat::FireholSet);
        assert!(matches!(v[1].1, Outcome::Malformed(_)));
    }

    #[test]
    fn urlhaus_family() {
        assert_eq!(
            family_from_tags("32-bit,elf,mips,Mozi").as_deref(),
            Some("Mozi")
        );
        assert_eq!(family_from_tags("zip"), None);
        assert_eq!(family_from_tags(""), None);
    }
}
