//! Zeek logs (conn, dns, http, ssl), as TSV or JSON lines.
//!
//! **TSV**: the `#separator`, `#set_separator`, `#empty_field`,
//! `#unset_field` and `#fields` headers are honoured; columns are mapped by
//! their `#fields` name, never by position, so added or reordered columns are
//! fine. A new header block mid-file (concatenated logs) replaces the old one.
//! Labelled Stratosphere/IoT-23 logs whose last `#fields` entry is
//! `tunnel_parents   label   detailedlabel` (separated by spaces, not the
//! separator) are split on runs of spaces, in the header and in data lines
//! whose last column holds them. One trailing empty column (a separator at
//! the end of every line) is tolerated.
//!
//! **JSON**: one object per line with Zeek's key names (`id.orig_h`, …); `ts`
//! is epoch seconds (number or string) or an ISO 8601 string.
//!
//! Mapping: unset (`-`) and empty (`(empty)`) values are `None` or 0. conn
//! bytes are `orig_bytes`/`resp_bytes`, falling back to `orig_ip_bytes`/
//! `resp_ip_bytes` when unset; packets = `orig_pkts + resp_pkts`. A dns record
//! without a query gets an empty `query`. The label of a labelled log is the
//! `label` column, followed by a space and `detailedlabel` when that is set
//! (e.g. `Malicious From_malicious-To_malicious-Malware_data_exfiltration-RemcosRAT`).

use std::borrow::Cow;

use serde::Deserialize;

use super::field::{self, ProtoName, quoted};
use super::{Format, Outcome, WantsFlow};
use crate::model::{Dns, Event, Flow, Http, Micros, Proto, Tls};

/// Most columns a `#fields` header may have (Zeek's widest stock logs have ~40).
pub const MAX_COLUMNS: usize = 256;

/// Which log a parser reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Conn,
    Dns,
    Http,
    Ssl,
}

impl Kind {
    pub(crate) fn from_format(f: Format) -> Option<Kind> {
        match f {
            Format::ZeekConn => Some(Kind::Conn),
            Format::ZeekDns => Some(Kind::Dns),
            Format::ZeekHttp => Some(Kind::Http),
            Format::ZeekSsl => Some(Kind::Ssl),
            Format::Binetflow
            | Format::Pcap
            | Format::Ipfix
            | Format::Netflow
            | Format::Nfcapd
            | Format::NfdumpCsv => None,
            Format::AccessLog | Format::AccessJson | Format::IisW3c | Format::SuricataEveHttp => {
                None
            }
        }
    }

    fn format(self) -> Format {
        match self {
            Kind::Conn => Format::ZeekConn,
            Kind::Dns => Format::ZeekDns,
            Kind::Http => Format::ZeekHttp,
            Kind::Ssl => Format::ZeekSsl,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Conn => "conn",
            Kind::Dns => "dns",
            Kind::Http => "http",
            Kind::Ssl => "ssl",
        }
    }

    fn from_path(p: &str) -> Option<Kind> {
        match p {
            "conn" => Some(Kind::Conn),
            "dns" => Some(Kind::Dns),
            "http" => Some(Kind::Http),
            "ssl" => Some(Kind::Ssl),
            _ => None,
        }
    }
}

/// The columns c2atlas reads, by Zeek name.
const ROLE_NAMES: [&str; N_ROLES] = [
    "ts",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "orig_pkts",
    "resp_pkts",
    "orig_ip_bytes",
    "resp_ip_bytes",
    "query",
    "qtype_name",
    "rcode_name",
    "answers",
    "method",
    "host",
    "uri",
    "user_agent",
    "status_code",
    "request_body_len",
    "response_body_len",
    "server_name",
    "label",
    "detailedlabel",
];
const N_ROLES: usize = 27;
const TS: usize = 0;
const ORIG_H: usize = 1;
const ORIG_P: usize = 2;
const RESP_H: usize = 3;
const RESP_P: usize = 4;
const PROTO: usize = 5;
const DURATION: usize = 6;
const ORIG_BYTES: usize = 7;
const RESP_BYTES: usize = 8;
const ORIG_PKTS: usize = 9;
const RESP_PKTS: usize = 10;
const ORIG_IP_BYTES: usize = 11;
const RESP_IP_BYTES: usize = 12;
const QUERY: usize = 13;
const QTYPE: usize = 14;
const RCODE: usize = 15;
const ANSWERS: usize = 16;
const METHOD: usize = 17;
const HOST: usize = 18;
const URI: usize = 19;
const USER_AGENT: usize = 20;
const STATUS: usize = 21;
const REQ_LEN: usize = 22;
const RESP_LEN: usize = 23;
const SERVER_NAME: usize = 24;
const LABEL: usize = 25;
const DETAILED: usize = 26;
/// Role-table marker for a column c2atlas does not read.
const NO_ROLE: u8 = u8::MAX;

fn role_of(name: &str) -> u8 {
    ROLE_NAMES
        .iter()
        .position(|n| *n == name)
        .map_or(NO_ROLE, |i| i as u8)
}

/// Header metadata (`#separator` …) in force.
#[derive(Debug, Clone)]
struct Meta {
    sep: u8,
    set_sep: u8,
    empty: Box<str>,
    unset: Box<str>,
}

impl Default for Meta {
    fn default() -> Meta {
        Meta {
            sep: b'\t',
            set_sep: b',',
            empty: "(empty)".into(),
            unset: "-".into(),
        }
    }
}

/// Column layout from a `#fields` line.
#[derive(Debug, Clone)]
struct Columns {
    roles: Vec<u8>,
    index: [Option<usize>; N_ROLES],
    /// Number of separator-delimited columns when the header's last entry
    /// held several space-separated names (IoT-23); `None` otherwise.
    space_tail_phys: Option<usize>,
    /// Index of the last column that has a role (the fast path splits no further).
    last_role: usize,
    /// Index of the last of the `ts`, `id.orig_h`, `id.resp_h` columns.
    addr_last: usize,
}

/// Decodes Zeek's `\xNN` escapes in a header value (only used for separators).
fn unescape_byte(v: &str) -> Option<u8> {
    let v = v.trim_matches(|c| c == ' ' || c == '\r');
    if let Some(hex) = v.strip_prefix("\\x") {
        return u8::from_str_radix(hex, 16).ok();
    }
    match v.as_bytes() {
        [b] => Some(*b),
        b"\\t" => Some(b'\t'),
        _ => None,
    }
}

impl Columns {
    fn parse(kind: Kind, meta: &Meta, value: &str) -> Result<Columns, String> {
        let mut names: Vec<Box<str>> = Vec::new();
        let mut space_tail_phys = None;
        let phys: Vec<&str> = value.split(char::from(meta.sep)).collect();
        let mut phys_len = phys.len();
        while phys_len > 0 && phys[phys_len - 1].trim().is_empty() {
            phys_len -= 1;
        }
        for (i, p) in phys[..phys_len].iter().enumerate() {
            if p.trim().contains(' ') {
                if i + 1 != phys_len {
                    return Err(format!(
                        "#fields entry {} holds spaces but is not the last one",
                        quoted(p)
                    ));
                }
                space_tail_phys = Some(phys_len);
                names.extend(p.split_ascii_whitespace().map(Box::from));
            } else {
                names.push(p.trim().into());
            }
        }
        if names.len() > MAX_COLUMNS {
            return Err(format!("#fields has more than {MAX_COLUMNS} columns"));
        }
        let mut index = [None; N_ROLES];
        let mut roles = Vec::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            let r = role_of(n);
            if r != NO_ROLE {
                if index[usize::from(r)].is_some() {
                    return Err(format!("#fields names {n} twice"));
                }
                index[usize::from(r)] = Some(i);
            }
            roles.push(r);
        }
        let mut required = vec![TS, ORIG_H, ORIG_P, RESP_H, RESP_P];
        if kind == Kind::Dns {
            required.push(QUERY);
        }
        for r in required {
            if index[r].is_none() {
                return Err(format!(
                    "#fields lacks {} (needed for a Zeek {} log)",
                    ROLE_NAMES[r],
                    kind.path()
                ));
            }
        }
        let last_role = roles.iter().rposition(|r| *r != NO_ROLE).unwrap_or(0);
        let addr_last = [TS, ORIG_H, RESP_H]
            .iter()
            .filter_map(|r| index[*r])
            .max()
            .unwrap_or(0);
        Ok(Columns {
            roles,
            index,
            space_tail_phys,
            last_role,
            addr_last,
        })
    }
}

/// Line parser for one Zeek log file (TSV or JSON lines).
#[derive(Debug)]
pub(crate) struct Parser {
    kind: Kind,
    meta: Meta,
    cols: Option<Columns>,
}

impl Parser {
    pub(crate) fn new(kind: Kind) -> Parser {
        Parser {
            kind,
            meta: Meta::default(),
            cols: None,
        }
    }

    /// Parses one line (no line terminator, non-blank).
    pub(crate) fn line<'l>(&mut self, line: &'l str) -> Outcome<'l> {
        match line.as_bytes().first() {
            Some(b'#') => self.header(line),
            Some(b'{') => json_record(self.kind, line),
            _ => match &self.cols {
                Some(c) => match self.kind {
                    Kind::Conn => conn_fast(&self.meta, c, line, None)
                        .unwrap_or_else(|| tsv_record(self.kind, &self.meta, c, line)),
                    _ => tsv_record(self.kind, &self.meta, c, line),
                },
                None => Outcome::Fatal(format!(
                    "no #fields header before data; first line {}",
                    quoted(line)
                )),
            },
        }
    }

    /// [`Parser::line`] for a sink with a flow gate ([`super::Sink::gate`]).
    ///
    /// A conn TSV record whose column count, timestamp and addresses are valid
    /// and whose addresses `wants` rejects is [`Outcome::PassedOver`]: its
    /// other columns (ports, proto, duration, counts, labels) are not parsed,
    /// so a bad value there is not counted as malformed in such a run. Every
    /// other line gets exactly the outcome of [`Parser::line`].
    pub(crate) fn line_filtered<'l>(&mut self, line: &'l str, wants: WantsFlow<'_>) -> Outcome<'l> {
        if self.kind == Kind::Conn
            && let Some(c) = &self.cols
            && let Some(o) = conn_fast(&self.meta, c, line, Some(wants))
        {
            return o;
        }
        self.line(line)
    }

    fn header<'l>(&mut self, line: &'l str) -> Outcome<'l> {
        if let Some(v) = line.strip_prefix("#separator") {
            return match unescape_byte(v) {
                Some(b) if b != b'\n' => {
                    // A new header block starts: forget the old one.
                    self.meta = Meta {
                        sep: b,
                        ..Meta::default()
                    };
                    self.cols = None;
                    Outcome::Skip
                }
                _ => Outcome::Fatal(format!("unsupported #separator {}", quoted(v))),
            };
        }
        let sep = char::from(self.meta.sep);
        let (key, value) = match line.split_once(sep) {
            Some((k, v)) => (k, v),
            None => (line, ""),
        };
        match key {
            "#set_separator" => match unescape_byte(value) {
                Some(b) => self.meta.set_sep = b,
                None => {
                    return Outcome::Fatal(format!("unsupported #set_separator {}", quoted(value)));
                }
            },
            "#empty_field" => self.meta.empty = value.into(),
            "#unset_field" => self.meta.unset = value.into(),
            "#path" => {
                let p = value.trim();
                if Kind::from_path(p) != Some(self.kind) {
                    return Outcome::Fatal(format!(
                        "#path is {}, not {}",
                        quoted(p),
                        self.kind.path()
                    ));
                }
            }
            "#fields" => match Columns::parse(self.kind, &self.meta, value) {
                Ok(c) => self.cols = Some(c),
                Err(e) => return Outcome::Fatal(e),
            },
            _ => {}
        }
        Outcome::Skip
    }
}

/// Splits a TSV data line into the values of the roles present.
fn split_tsv<'l>(
    meta: &Meta,
    c: &Columns,
    line: &'l str,
) -> Result<[Option<&'l str>; N_ROLES], String> {
    let mut vals: [Option<&'l str>; N_ROLES] = [None; N_ROLES];
    let n = c.roles.len();
    let bytes = line.as_bytes();
    let mut start = 0usize;
    let mut col = 0usize;
    let mut last;
    // One vectorised scan of the line yields every separator in turn
    // (see `field::Separators`).
    let mut seps = field::Separators::new(meta.sep, bytes);
    loop {
        let end = seps.next().unwrap_or(bytes.len());
        // `start..end` are delimited by an ASCII separator: char boundaries.
        let v = line.get(start..end).unwrap_or("");
        if col < n {
            let r = c.roles[col];
            if r != NO_ROLE {
                vals[usize::from(r)] = Some(v);
            }
        }
        last = v;
        col += 1;
        if end >= bytes.len() {
            break;
        }
        start = end + 1;
    }
    if col == n || (col == n + 1 && last.is_empty()) {
        return Ok(vals);
    }
    if let Some(phys) = c.space_tail_phys.filter(|p| *p == col) {
        {
            // IoT-23: the last column holds the tail fields separated by runs of spaces.
            let mut rest = last;
            for (logical, r) in c.roles.iter().enumerate().skip(phys - 1) {
                let rest_trim = rest.trim_start_matches(' ');
                let (piece, tail) = if logical + 1 == n {
                    (rest_trim.trim_end_matches(' '), "")
                } else {
                    match rest_trim.find(' ') {
                        Some(i) => (&rest_trim[..i], &rest_trim[i..]),
                        None => (rest_trim, ""),
                    }
                };
                if *r != NO_ROLE {
                    vals[usize::from(*r)] = Some(piece);
                }
                rest = tail;
            }
            return Ok(vals);
        }
    }
    Err(format!("expected {n} columns, found {col}"))
}

/// `v` when it is set: non-empty and neither the unset nor the empty marker
/// (first bytes compared before whole values).
#[inline]
fn set_value<'l>(meta: &Meta, v: &'l str) -> Option<&'l str> {
    let is = |b: &[u8], marker: &[u8]| b.first() == marker.first() && b == marker;
    let b = v.as_bytes();
    (!b.is_empty() && !is(b, meta.unset.as_bytes()) && !is(b, meta.empty.as_bytes())).then_some(v)
}

/// Splits a TSV line from left to right, a few columns at a time.
struct Cutter<'l> {
    line: &'l str,
    seps: field::Separators<'l>,
    /// Start of the next column.
    start: usize,
    /// Separators walked so far.
    found: usize,
}

impl<'l> Cutter<'l> {
    /// The next `roles.len()` columns: the value of each that has a role goes
    /// to `vals`. `None` when the line has fewer columns.
    #[inline]
    fn roles(&mut self, roles: &[u8], vals: &mut [&'l str; N_ROLES]) -> Option<()> {
        let len = self.line.len();
        for &r in roles {
            let end = match self.seps.next() {
                Some(e) => {
                    self.found += 1;
                    e
                }
                None => len,
            };
            if r != NO_ROLE {
                // Separator (ASCII) boundaries are char boundaries.
                *vals.get_mut(usize::from(r))? = self.line.get(self.start..end)?;
            }
            self.start = end + 1;
        }
        Some(())
    }

    /// Number of columns of the whole line: those walked plus those in the rest.
    fn columns(&self, sep: u8) -> usize {
        let rest = self.line.as_bytes().get(self.start..).unwrap_or(&[]);
        self.found + field::count_byte(sep, rest) + 1
    }
}

/// The fast path for a conn TSV data line: one split, each value parsed once.
///
/// Returns the outcome [`tsv_record`] gives for a line whose columns are all
/// valid (the same [`Flow`], property-tested), or [`Outcome::PassedOver`]
/// when `wants` rejects the line's addresses once its column count,
/// timestamp and addresses have passed the same checks. `None` sends the
/// line to [`tsv_record`]: headers, JSON, IoT-23 space-separated tails, a
/// wrong column count or any invalid value (whose diagnostic `tsv_record`
/// words).
fn conn_fast<'l>(
    meta: &Meta,
    c: &Columns,
    line: &'l str,
    wants: Option<WantsFlow<'_>>,
) -> Option<Outcome<'l>> {
    let bytes = line.as_bytes();
    if c.space_tail_phys.is_some() || matches!(bytes.first(), None | Some(b'#' | b'{')) {
        return None;
    }
    let n = c.roles.len();
    // Column count as `split_tsv` sees it (one trailing empty column tolerated).
    let count_ok = |cols: usize| cols == n || (cols == n + 1 && bytes.last() == Some(&meta.sep));
    // Absent roles stay empty, which `set_value` reads as unset, as `tsv_record` does.
    let mut vals: [&'l str; N_ROLES] = [""; N_ROLES];
    let mut cut = Cutter {
        line,
        seps: field::Separators::new(meta.sep, bytes),
        start: 0,
        found: 0,
    };
    // First the columns up to the addresses: a flow the sink does not want
    // needs no more than these and a count of the separators after them.
    cut.roles(c.roles.get(..=c.addr_last)?, &mut vals)?;
    let ts = field::timestamp_micros(set_value(meta, vals[TS])?)?;
    let src = field::ip(set_value(meta, vals[ORIG_H])?)?;
    let dst = field::ip(set_value(meta, vals[RESP_H])?)?;
    if let Some(w) = wants
        && !w(src, dst)
    {
        return count_ok(cut.columns(meta.sep)).then_some(Outcome::PassedOver(ts));
    }
    cut.roles(
        c.roles
            .get(c.addr_last + 1..=c.last_role.max(c.addr_last))?,
        &mut vals,
    )?;
    if !count_ok(cut.columns(meta.sep)) {
        return None;
    }
    let get = |r: usize| set_value(meta, vals[r]);
    let sport = field::port(get(ORIG_P).unwrap_or(""))?;
    let dport = field::port(get(RESP_P).unwrap_or(""))?;
    let proto = match get(PROTO).map(field::proto) {
        Some(ProtoName::Ip(p)) => p,
        Some(ProtoName::NotIp) | None => Proto::Other(0),
    };
    let duration = match get(DURATION) {
        None => 0,
        Some(d) => field::seconds_micros(d)?,
    };
    // `Some(None)`: unset; `None`: invalid.
    let count = |r: usize| -> Option<Option<u64>> {
        match get(r) {
            None => Some(None),
            Some(v) => field::count(v).map(Some),
        }
    };
    let ob = count(ORIG_BYTES)?;
    let rb = count(RESP_BYTES)?;
    let oib = count(ORIG_IP_BYTES)?;
    let rib = count(RESP_IP_BYTES)?;
    let op = count(ORIG_PKTS)?.unwrap_or(0);
    let rp = count(RESP_PKTS)?.unwrap_or(0);
    Some(Outcome::Event(Event::Flow(Flow {
        ts,
        duration: duration.max(0),
        proto,
        src,
        sport,
        dst,
        dport,
        src_bytes: ob.or(oib).unwrap_or(0),
        dst_bytes: rb.or(rib).unwrap_or(0),
        packets: op.saturating_add(rp),
        label: make_label(get(LABEL), get(DETAILED)),
    })))
}

fn tsv_record<'l>(kind: Kind, meta: &Meta, c: &Columns, line: &'l str) -> Outcome<'l> {
    let vals = match split_tsv(meta, c, line) {
        Ok(v) => v,
        Err(e) => return Outcome::Malformed(e),
    };
    let unset = &*meta.unset;
    let empty = &*meta.empty;
    // Present, set and non-empty value of a role.
    let get = |r: usize| -> Option<&'l str> {
        vals[r].filter(|v| !v.is_empty() && *v != unset && *v != empty)
    };
    let bad = |r: usize, what: &str| -> Outcome<'l> {
        let col = c.index[r].map_or(0, |i| i + 1);
        Outcome::Malformed(format!(
            "column {col} ({}): {what} {}",
            ROLE_NAMES[r],
            quoted(vals[r].unwrap_or(""))
        ))
    };
    macro_rules! need {
        ($e:expr, $r:expr, $what:expr) => {
            match $e {
                Some(v) => v,
                None => return bad($r, $what),
            }
        };
    }
    macro_rules! count {
        ($r:expr) => {
            match get($r) {
                None => None,
                Some(v) => Some(need!(field::count(v), $r, "invalid count")),
            }
        };
    }
    let ts = need!(
        get(TS).and_then(field::timestamp_micros),
        TS,
        "invalid timestamp"
    );
    let src = need!(
        get(ORIG_H).and_then(field::ip),
        ORIG_H,
        "invalid IP address"
    );
    let dst = need!(
        get(RESP_H).and_then(field::ip),
        RESP_H,
        "invalid IP address"
    );
    let sport = need!(
        field::port(get(ORIG_P).unwrap_or("")),
        ORIG_P,
        "invalid port"
    );
    let dport = need!(
        field::port(get(RESP_P).unwrap_or("")),
        RESP_P,
        "invalid port"
    );
    let label = make_label(get(LABEL), get(DETAILED));
    let ev = match kind {
        Kind::Conn => {
            let proto = match get(PROTO).map(field::proto) {
                Some(ProtoName::Ip(p)) => p,
                Some(ProtoName::NotIp) | None => Proto::Other(0),
            };
            let duration = match get(DURATION) {
                None => 0,
                Some(d) => need!(field::seconds_micros(d), DURATION, "invalid interval"),
            };
            let ob = count!(ORIG_BYTES);
            let rb = count!(RESP_BYTES);
            let oib = count!(ORIG_IP_BYTES);
            let rib = count!(RESP_IP_BYTES);
            let op = count!(ORIG_PKTS).unwrap_or(0);
            let rp = count!(RESP_PKTS).unwrap_or(0);
            Event::Flow(Flow {
                ts,
                duration: duration.max(0),
                proto,
                src,
                sport,
                dst,
                dport,
                src_bytes: ob.or(oib).unwrap_or(0),
                dst_bytes: rb.or(rib).unwrap_or(0),
                packets: op.saturating_add(rp),
                label,
            })
        }
        Kind::Dns => Event::Dns(Dns {
            ts,
            src,
            sport,
            dst,
            dport,
            query: Cow::Borrowed(get(QUERY).unwrap_or("")),
            qtype: get(QTYPE).map(Cow::Borrowed),
            rcode: get(RCODE).map(Cow::Borrowed),
            answers: match get(ANSWERS) {
                None => Vec::new(),
                Some(a) => a
                    .split(char::from(meta.set_sep))
                    .filter(|s| !s.is_empty())
                    .map(Cow::Borrowed)
                    .collect(),
            },
            label,
        }),
        Kind::Http => {
            let status = match get(STATUS) {
                None => None,
                Some(s) => Some(need!(s.parse::<u16>().ok(), STATUS, "invalid status code")),
            };
            Event::Http(Http {
                ts,
                src,
                sport,
                dst,
                dport,
                method: get(METHOD).map(Cow::Borrowed),
                host: get(HOST).map(Cow::Borrowed),
                uri: get(URI).map(Cow::Borrowed),
                user_agent: get(USER_AGENT).map(Cow::Borrowed),
                status,
                request_bytes: count!(REQ_LEN).unwrap_or(0),
                response_bytes: count!(RESP_LEN).unwrap_or(0),
                label,
            })
        }
        Kind::Ssl => Event::Tls(Tls {
            ts,
            src,
            sport,
            dst,
            dport,
            server_name: get(SERVER_NAME).map(Cow::Borrowed),
            label,
        }),
    };
    Outcome::Event(ev)
}

/// `label`, or `label detailedlabel` when the detailed label is set.
fn make_label<'l>(label: Option<&'l str>, detailed: Option<&'l str>) -> Option<Cow<'l, str>> {
    match (label, detailed) {
        (Some(l), Some(d)) if d != "-" => Some(Cow::Owned(format!("{l} {d}"))),
        (Some(l), _) => Some(Cow::Borrowed(l)),
        (None, Some(d)) if d != "-" => Some(Cow::Borrowed(d)),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonTs<'a> {
    Num(f64),
    Str(#[serde(borrow)] Cow<'a, str>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonAnswers<'a> {
    List(#[serde(borrow)] Vec<Cow<'a, str>>),
    One(#[serde(borrow)] Cow<'a, str>),
}

/// The keys c2atlas reads from a Zeek JSON record (others are ignored).
#[derive(Deserialize)]
struct JsonRec<'a> {
    #[serde(borrow)]
    ts: Option<JsonTs<'a>>,
    #[serde(rename = "id.orig_h", borrow)]
    orig_h: Option<Cow<'a, str>>,
    #[serde(rename = "id.orig_p")]
    orig_p: Option<u64>,
    #[serde(rename = "id.resp_h", borrow)]
    resp_h: Option<Cow<'a, str>>,
    #[serde(rename = "id.resp_p")]
    resp_p: Option<u64>,
    #[serde(borrow)]
    proto: Option<Cow<'a, str>>,
    duration: Option<f64>,
    orig_bytes: Option<u64>,
    resp_bytes: Option<u64>,
    orig_pkts: Option<u64>,
    resp_pkts: Option<u64>,
    orig_ip_bytes: Option<u64>,
    resp_ip_bytes: Option<u64>,
    #[serde(borrow)]
    query: Option<Cow<'a, str>>,
    #[serde(borrow)]
    qtype_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rcode_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    answers: Option<JsonAnswers<'a>>,
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    host: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uri: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_agent: Option<Cow<'a, str>>,
    status_code: Option<u64>,
    request_body_len: Option<u64>,
    response_body_len: Option<u64>,
    #[serde(borrow)]
    server_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    label: Option<Cow<'a, str>>,
    #[serde(borrow)]
    detailedlabel: Option<Cow<'a, str>>,
}

fn json_ts(ts: &JsonTs<'_>) -> Option<Micros> {
    match ts {
        JsonTs::Num(f) => field::float_seconds_micros(*f),
        JsonTs::Str(s) => field::timestamp_micros(s),
    }
}

fn json_port(key: &str, p: Option<u64>) -> Result<u16, String> {
    match p {
        None => Ok(0),
        Some(p) => u16::try_from(p).map_err(|_| format!("JSON key {key}: port {p} out of range")),
    }
}

fn json_record(kind: Kind, line: &str) -> Outcome<'_> {
    let rec: JsonRec<'_> = match serde_json::from_str(line) {
        Ok(r) => r,
        Err(e) => return Outcome::Malformed(format!("invalid JSON record: {e}")),
    };
    match json_event(kind, rec) {
        Ok(ev) => Outcome::Event(ev),
        Err(e) => Outcome::Malformed(e),
    }
}

/// `v` unless it is empty or Zeek's unset marker.
fn nonempty(v: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    v.filter(|s| !s.is_empty() && s != "-")
}

fn json_event(kind: Kind, r: JsonRec<'_>) -> Result<Event<'_>, String> {
    let ts = match &r.ts {
        None => return Err("JSON key ts: missing".into()),
        Some(t) => json_ts(t).ok_or_else(|| "JSON key ts: invalid timestamp".to_string())?,
    };
    let ip = |key: &str, v: &Option<Cow<'_, str>>| match v {
        None => Err(format!("JSON key {key}: missing")),
        Some(s) => {
            field::ip(s).ok_or_else(|| format!("JSON key {key}: invalid IP address {}", quoted(s)))
        }
    };
    let src = ip("id.orig_h", &r.orig_h)?;
    let dst = ip("id.resp_h", &r.resp_h)?;
    let sport = json_port("id.orig_p", r.orig_p)?;
    let dport = json_port("id.resp_p", r.resp_p)?;
    let label = match (nonempty(r.label), nonempty(r.detailedlabel)) {
        (Some(l), Some(d)) => Some(Cow::Owned(format!("{l} {d}"))),
        (Some(l), None) => Some(l),
        (None, d) => d,
    };
    Ok(match kind {
        Kind::Conn => {
            let proto = match r.proto.as_deref().map(field::proto) {
                Some(ProtoName::Ip(p)) => p,
                _ => Proto::Other(0),
            };
            let duration = match r.duration {
                None => 0,
                Some(d) => field::float_seconds_micros(d)
                    .ok_or_else(|| format!("JSON key duration: invalid interval {d}"))?,
            };
            Event::Flow(Flow {
                ts,
                duration: duration.max(0),
                proto,
                src,
                sport,
                dst,
                dport,
                src_bytes: r.orig_bytes.or(r.orig_ip_bytes).unwrap_or(0),
                dst_bytes: r.resp_bytes.or(r.resp_ip_bytes).unwrap_or(0),
                packets: r
                    .orig_pkts
                    .unwrap_or(0)
                    .saturating_add(r.resp_pkts.unwrap_or(0)),
                label,
            })
        }
        Kind::Dns => Event::Dns(Dns {
            ts,
            src,
            sport,
            dst,
            dport,
            query: r.query.unwrap_or(Cow::Borrowed("")),
            qtype: r.qtype_name,
            rcode: r.rcode_name,
            answers: match r.answers {
                None => Vec::new(),
                Some(JsonAnswers::List(v)) => v,
                Some(JsonAnswers::One(s)) => vec![s],
            },
            label,
        }),
        Kind::Http => Event::Http(Http {
            ts,
            src,
            sport,
            dst,
            dport,
            method: r.method,
            host: r.host,
            uri: r.uri,
            user_agent: r.user_agent,
            status: match r.status_code {
                None => None,
                Some(s) => Some(
                    u16::try_from(s)
                        .map_err(|_| format!("JSON key status_code: {s} out of range"))?,
                ),
            },
            request_bytes: r.request_body_len.unwrap_or(0),
            response_bytes: r.response_body_len.unwrap_or(0),
            label,
        }),
        Kind::Ssl => Event::Tls(Tls {
            ts,
            src,
            sport,
            dst,
            dport,
            server_name: r.server_name,
            label,
        }),
    })
}

/// Detects the log kind from the first header lines of a TSV Zeek log.
pub(crate) fn detect_tsv<'a>(lines: impl Iterator<Item = &'a str>) -> Result<Format, String> {
    let mut sep = '\t';
    for line in lines {
        if !line.starts_with('#') {
            break;
        }
        if let Some(v) = line.strip_prefix("#separator") {
            sep = unescape_byte(v).map_or('\t', char::from);
            continue;
        }
        let (key, value) = line.split_once(sep).unwrap_or((line, ""));
        match key {
            "#path" => {
                let p = value.trim();
                return Kind::from_path(p)
                    .map(Kind::format)
                    .ok_or_else(|| format!("Zeek `{p}` log: not read by c2atlas"));
            }
            "#fields" => {
                let names: Vec<&str> = value.split([sep, ' ']).collect();
                let has = |n: &str| names.contains(&n);
                if !has("id.orig_h") {
                    return Err("Zeek log without id.orig_h: not read by c2atlas".into());
                }
                return if has("conn_state") || (has("duration") && has("orig_bytes")) {
                    Ok(Format::ZeekConn)
                } else if has("query") {
                    Ok(Format::ZeekDns)
                } else if has("method") || has("uri") {
                    Ok(Format::ZeekHttp)
                } else if has("server_name") || has("cipher") {
                    Ok(Format::ZeekSsl)
                } else {
                    Err("Zeek log of a kind not read by c2atlas (#fields)".into())
                };
            }
            _ => {}
        }
    }
    Err("no #fields header".into())
}

/// Detects the log kind from the first line of a Zeek JSON log.
pub(crate) fn detect_json(line: &str) -> Result<Format, String> {
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(line).map_err(|e| format!("first line is not a JSON object: {e}"))?;
    if let Some(serde_json::Value::String(p)) = obj.get("_path") {
        return Kind::from_path(p)
            .map(Kind::format)
            .ok_or_else(|| format!("Zeek `{p}` log: not read by c2atlas"));
    }
    let has = |k: &str| obj.contains_key(k);
    if has("note") {
        return Err("Zeek `notice` log: not read by c2atlas".into());
    }
    if has("auth_attempts") || has("auth_success") {
        return Err("Zeek `ssh` log: not read by c2atlas".into());
    }
    if !has("id.orig_h") {
        return Err("JSON without id.orig_h: not a Zeek log c2atlas reads".into());
    }
    if has("conn_state") || (has("duration") && has("orig_bytes")) {
        Ok(Format::ZeekConn)
    } else if has("query") {
        Ok(Format::ZeekDns)
    } else if has("method") || has("uri") || has("status_code") {
        Ok(Format::ZeekHttp)
    } else if has("server_name") || has("cipher") || has("ja3") {
        Ok(Format::ZeekSsl)
    } else {
        Err("Zeek JSON log of a kind not read by c2atlas".into())
    }
}

/// Fuzz entry point: reads `data` as each Zeek log kind in turn. Never panics.
pub fn fuzz(data: &[u8]) {
    for f in [
        Format::ZeekConn,
        Format::ZeekDns,
        Format::ZeekHttp,
        Format::ZeekSsl,
    ] {
        super::fuzz_format(f, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONN_HDR: &[&str] = &[
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents",
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]",
    ];

    fn conn_parser(extra_fields: &str) -> Parser {
        let mut p = Parser::new(Kind::Conn);
        for h in CONN_HDR {
            let h = if h.starts_with("#fields") {
                format!("{h}{extra_fields}")
            } else {
                (*h).to_string()
            };
            match p.line(&h) {
                Outcome::Skip => {}
                o => panic!("{h}: {o:?}"),
            }
        }
        p
    }

    fn flow<'l>(o: Outcome<'l>) -> Flow<'l> {
        match o {
            Outcome::Event(Event::Flow(f)) => f,
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn conn_tsv_with_ip_bytes_fallback() {
        let mut p = conn_parser("");
        let f = flow(p.line("1517336042.279652\tC1\t192.168.88.2\t55638\t165.227.88.15\t53\tudp\tdns\t0.069982\t-\t81\tSF\tT\tF\t0\tDd\t1\t89\t1\t109\t(empty)"));
        assert_eq!(f.ts, 1_517_336_042_279_652);
        assert_eq!(f.duration, 69_982);
        assert_eq!(f.proto, Proto::Udp);
        assert_eq!((f.sport, f.dport), (55638, 53));
        assert_eq!((f.src_bytes, f.dst_bytes, f.packets), (89, 81, 2));
        assert_eq!(f.label, None);
    }

    #[test]
    fn iot23_space_separated_labels() {
        let mut p = conn_parser("   label   detailedlabel");
        let f = flow(p.line("1.5\tC1\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\t-\t-\tS0\tT\tF\t0\tS\t1\t40\t0\t0\t-   Malicious   PartOfAHorizontalPortScan"));
        assert_eq!(
            f.label.as_deref(),
            Some("Malicious PartOfAHorizontalPortScan")
        );
        let f = flow(p.line("1.5\tC1\t10.0.0.1\t1\t10.0.0.2\t2\ttcp\t-\t-\t-\t-\tS0\tT\tF\t0\tS\t1\t40\t0\t0\t-\tBenign\t-"));
        assert_eq!(f.label.as_deref(), Some("Benign"));
    }

    #[test]
    fn errors_name_the_column() {
        let mut p = conn_parser("");
        match p.line(
            "1.5\tC1\t10.0.0.999\t1\t10.0.0.2\t2\ttcp\t-\t-\t-\t-\tS0\tT\tF\t0\tS\t1\t40\t0\t0\t-",
        ) {
            Outcome::Malformed(r) => {
                assert_eq!(r, "column 3 (id.orig_h): invalid IP address \"10.0.0.999\"")
            }
            o => panic!("{o:?}"),
        }
        match p.line("1.5\tC1\t10.0.0.9") {
            Outcome::Malformed(r) => assert_eq!(r, "expected 21 columns, found 3"),
            o => panic!("{o:?}"),
        }
        let mut p = Parser::new(Kind::Conn);
        assert!(matches!(p.line("#path\tdns"), Outcome::Fatal(_)));
        assert!(matches!(p.line("1.5\tC1"), Outcome::Fatal(_)));
    }

    #[test]
    fn json_dns_and_http() {
        let mut p = Parser::new(Kind::Dns);
        let line = r#"{"ts": "2018-01-30T18:14:02.279652Z", "id.orig_h": "192.168.88.2", "id.orig_p": 55638, "id.resp_h": "165.227.88.15", "id.resp_p": 53, "query": "a.example", "qtype_name": "TXT", "answers": ["x", "y"], "label": "Malicious", "detailedlabel": "C&C"}"#;
        match p.line(line) {
            Outcome::Event(Event::Dns(d)) => {
                assert_eq!(d.ts, 1_517_336_042_279_652);
                assert_eq!(d.query, "a.example");
                assert_eq!(d.answers, vec!["x", "y"]);
                assert_eq!(d.label.as_deref(), Some("Malicious C&C"));
            }
            o => panic!("{o:?}"),
        }
        let mut p = Parser::new(Kind::Conn);
        match p.line(r#"{"ts":1.0,"id.orig_h":"10.0.0.1","id.orig_p":93145,"id.resp_h":"10.0.0.2","id.resp_p":1}"#) {
            Outcome::Malformed(r) => assert_eq!(r, "JSON key id.orig_p: port 93145 out of range"),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn detection() {
        let conn = CONN_HDR.iter().copied();
        assert_eq!(detect_tsv(conn), Ok(Format::ZeekConn));
        assert_eq!(
            detect_tsv(["#separator \\x09", "#path\tssh"].into_iter()),
            Err("Zeek `ssh` log: not read by c2atlas".into())
        );
        assert_eq!(
            detect_json(r#"{"ts":1,"id.orig_h":"1.1.1.1","query":"x"}"#),
            Ok(Format::ZeekDns)
        );
        assert!(
            detect_json(r#"{"ts":1,"id.orig_h":"1.1.1.1","auth_attempts":0,"version":2}"#).is_err()
        );
    }

    /// A conn field: usually a valid value, sometimes unset, empty or junk.
    fn conn_value(valid: BoxedStrategy<String>) -> BoxedStrategy<String> {
        prop_oneof![
            6 => valid,
            1 => Just("-".to_string()),
            1 => Just("(empty)".to_string()),
            1 => Just(String::new()),
            1 => "[0-9a-z.:-]{0,8}",
        ]
        .boxed()
    }

    fn conn_line() -> impl Strategy<Value = String> {
        let num = || any::<u32>().prop_map(|n| n.to_string()).boxed();
        let ip = || {
            prop_oneof![
                any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
                any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
            ]
            .boxed()
        };
        let fields = vec![
            conn_value("[0-9]{1,10}\\.[0-9]{6}".boxed()),
            "C[a-zA-Z0-9]{5}".boxed(),
            conn_value(ip()),
            conn_value(any::<u16>().prop_map(|n| n.to_string()).boxed()),
            conn_value(ip()),
            conn_value(any::<u16>().prop_map(|n| n.to_string()).boxed()),
            conn_value(
                prop_oneof![Just("tcp"), Just("udp"), Just("icmp")]
                    .prop_map(String::from)
                    .boxed(),
            ),
            Just("-".to_string()).boxed(),
            conn_value("[0-9]{1,3}\\.[0-9]{6}".boxed()),
            conn_value(num()),
            conn_value(num()),
            Just("SF".to_string()).boxed(),
            Just("T".to_string()).boxed(),
            Just("F".to_string()).boxed(),
            Just("0".to_string()).boxed(),
            Just("Dd".to_string()).boxed(),
            conn_value(num()),
            conn_value(num()),
            conn_value(num()),
            conn_value(num()),
            Just("(empty)".to_string()).boxed(),
        ];
        (fields, 0u8..12).prop_map(|(f, shape)| {
            let mut line = f.join("\t");
            match shape {
                9 => line.push('\t'),
                10 => line.push_str("\textra"),
                11 => line.truncate(line.rfind('\t').unwrap_or(0)),
                _ => {}
            }
            line
        })
    }

    proptest! {
        /// The fast path gives the full parser's outcome; with a prefilter, a
        /// passed-over line is one the full parser reads as a flow with the
        /// same timestamp, or rejects only for a column the prefilter skips.
        #[test]
        fn conn_fast_path_equals_full_parser(line in conn_line(), mode in 0u8..3) {
            let mut p = conn_parser("");
            let reference = {
                let c = p.cols.as_ref().expect("header read");
                format!("{:?}", tsv_record(Kind::Conn, &p.meta, c, &line))
            };
            prop_assert_eq!(format!("{:?}", p.line(&line)), reference.clone());
            let wants = |s: std::net::IpAddr, _d: std::net::IpAddr| match mode {
                0 => false,
                1 => true,
                _ => s.is_ipv4(),
            };
            match p.line_filtered(&line, &wants) {
                Outcome::PassedOver(ts) => {
                    let c = p.cols.as_ref().expect("header read");
                    match tsv_record(Kind::Conn, &p.meta, c, &line) {
                        Outcome::Event(Event::Flow(f)) => {
                            prop_assert_eq!(f.ts, ts);
                            prop_assert!(!wants(f.src, f.dst));
                        }
                        Outcome::Malformed(r) => prop_assert!(
                            !r.contains("(ts)") && !r.contains("(id.orig_h)")
                                && !r.contains("(id.resp_h)") && !r.contains("columns"),
                            "{}", r
                        ),
                        o => prop_assert!(false, "{:?}", o),
                    }
                }
                o => prop_assert_eq!(format!("{o:?}"), reference),
            }
        }

        #[test]
        fn never_panics(lines in proptest::collection::vec("[#{]?.{0,120}", 0..8)) {
            for k in [Kind::Conn, Kind::Dns, Kind::Http, Kind::Ssl] {
                let mut p = conn_parser("");
                p.kind = k;
                for l in &lines {
                    let _ = p.line(l);
                }
            }
        }

        #[test]
        fn conn_round_trip(
            secs in 0i64..4_000_000_000, us in 0i64..1_000_000,
            src: std::net::Ipv4Addr, dst: std::net::Ipv6Addr, sport: u16, dport: u16,
            ob: Option<u32>, rb: u32, op: u32, rp: u32, dur_us in 0i64..1_000_000_000,
        ) {
            let obs = ob.map_or("-".to_string(), |b| b.to_string());
            let line = format!(
                "{secs}.{us:06}\tCx\t{src}\t{sport}\t{dst}\t{dport}\ttcp\t-\t{}.{:06}\t{obs}\t{rb}\tSF\tT\tF\t0\tS\t{op}\t777\t{rp}\t0\t(empty)",
                dur_us / 1_000_000, dur_us % 1_000_000,
            );
            let mut p = conn_parser("");
            let f = flow(p.line(&line));
            prop_assert_eq!(f.ts, secs * 1_000_000 + us);
            prop_assert_eq!(f.duration, dur_us);
            prop_assert_eq!(f.src, std::net::IpAddr::V4(src));
            prop_assert_eq!(f.dst, std::net::IpAddr::V6(dst));
            prop_assert_eq!((f.sport, f.dport), (sport, dport));
            prop_assert_eq!(f.src_bytes, ob.map_or(777, u64::from));
            prop_assert_eq!(f.dst_bytes, u64::from(rb));
            prop_assert_eq!(f.packets, u64::from(op) + u64::from(rp));
        }
    }
}
