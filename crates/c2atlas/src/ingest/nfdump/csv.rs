//! nfdump's CSV output (`nfdump -r FILE -o csv`), one flow per line.
//!
//! nfdump 1.6/1.7 print a header `ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,
//! ibyt,opkt,obyt,…`, one line per flow, then a trailer: a `Summary` line, a
//! header `flows,bytes,packets,…` and one line of totals. Later versions
//! (`-o csv-fast`) name the columns `firstSeen,lastSeen,srcAddr,…`. Columns are
//! found by name, so either header works; the trailer is skipped (not
//! counted). Times `YYYY-MM-DD HH:MM:SS[.mmm]` are nfdump's local time: run
//! nfdump with `TZ=UTC` (they are read as UTC); integer times are
//! milliseconds since the epoch. For ICMP, nfdump prints the destination
//! port as `type.code`; it is read back as `type * 256 + code`, as nfdump
//! stores it.

use crate::ingest::Outcome;
use crate::ingest::field::{datetime_micros, ip, port, quoted, seconds_micros};
use crate::model::{Event, Flow, Micros, Proto};

/// Whether `line` is an nfdump CSV header.
pub fn is_header(line: &str) -> bool {
    line.starts_with("ts,te,td,sa,da,") || line.starts_with("cnt,af,firstSeen,lastSeen,")
}

/// Column positions of one header.
#[derive(Clone, Copy, Debug, Default)]
struct Cols {
    ts: usize,
    te: Option<usize>,
    td: Option<usize>,
    sa: usize,
    da: usize,
    sp: usize,
    dp: usize,
    pr: usize,
    ipkt: usize,
    ibyt: usize,
    opkt: Option<usize>,
    obyt: Option<usize>,
    n: usize,
}

impl Cols {
    fn parse(line: &str) -> Result<Cols, String> {
        let names: Vec<&str> = line.split(',').map(str::trim).collect();
        let find = |alts: &[&str]| names.iter().position(|n| alts.contains(n));
        let need = |alts: &[&str]| {
            find(alts).ok_or_else(|| format!("nfdump CSV header without a {} column", alts[0]))
        };
        Ok(Cols {
            ts: need(&["ts", "firstSeen"])?,
            te: find(&["te", "lastSeen"]),
            td: find(&["td"]),
            sa: need(&["sa", "srcAddr"])?,
            da: need(&["da", "dstAddr"])?,
            sp: need(&["sp", "srcPort"])?,
            dp: need(&["dp", "dstPort"])?,
            pr: need(&["pr", "proto"])?,
            ipkt: need(&["ipkt", "pkt", "packets"])?,
            ibyt: need(&["ibyt", "byt", "bytes"])?,
            opkt: find(&["opkt"]),
            obyt: find(&["obyt"]),
            n: names.len(),
        })
    }
}

/// Line parser of one nfdump CSV file.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    cols: Option<Cols>,
    /// Inside the `Summary` trailer (until the next header).
    trailer: bool,
}

/// A time: `YYYY-MM-DD HH:MM:SS[.fff]` or integer milliseconds.
fn time(s: &str) -> Option<Micros> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok()?.checked_mul(1000);
    }
    datetime_micros(s)
}

fn proto(s: &str) -> Option<Proto> {
    Some(match s.trim() {
        "TCP" | "tcp" => Proto::Tcp,
        "UDP" | "udp" => Proto::Udp,
        "ICMP" | "icmp" => Proto::Icmp,
        "ICMP6" | "icmp6" => Proto::Other(58),
        n => match n.parse::<u8>().ok()? {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            1 => Proto::Icmp,
            k => Proto::Other(k),
        },
    })
}

/// A destination port, or ICMP `type.code`.
fn dport(s: &str) -> Option<u16> {
    let s = s.trim();
    match s.split_once('.') {
        Some((t, c)) => Some(((t.parse::<u8>().ok()? as u16) << 8) | c.parse::<u8>().ok()? as u16),
        None => port(s),
    }
}

fn count(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

impl Parser {
    pub(crate) fn new() -> Parser {
        Parser::default()
    }

    /// Parses one line (no terminator, non-blank).
    pub(crate) fn line<'l>(&mut self, line: &'l str) -> Outcome<'l> {
        if is_header(line) {
            return match Cols::parse(line) {
                Ok(c) => {
                    self.cols = Some(c);
                    self.trailer = false;
                    Outcome::Skip
                }
                Err(e) => Outcome::Fatal(e),
            };
        }
        if line.starts_with("Summary") {
            self.trailer = true;
            return Outcome::Skip;
        }
        if self.trailer {
            return Outcome::Skip;
        }
        let Some(c) = self.cols else {
            return Outcome::Fatal(format!(
                "no nfdump CSV header (ts,te,td,sa,da,…) before data; first line {}",
                quoted(line)
            ));
        };
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != c.n {
            return Outcome::Malformed(format!("{} columns, the header has {}", f.len(), c.n));
        }
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        let bad = |name: &str, v: &str| {
            Outcome::Malformed(format!("column {name}: invalid value {}", quoted(v)))
        };
        let Some(ts) = time(get(c.ts)) else {
            return bad("ts", get(c.ts));
        };
        let duration = match (c.td, c.te) {
            (Some(i), _) => match seconds_micros(get(i).trim()) {
                Some(d) => d,
                None => return bad("td", get(i)),
            },
            (None, Some(i)) => match time(get(i)) {
                Some(te) => te - ts,
                None => return bad("te", get(i)),
            },
            (None, None) => 0,
        };
        let Some(src) = ip(get(c.sa).trim()) else {
            return bad("sa", get(c.sa));
        };
        let Some(dst) = ip(get(c.da).trim()) else {
            return bad("da", get(c.da));
        };
        let Some(sport) = port(get(c.sp).trim()) else {
            return bad("sp", get(c.sp));
        };
        let Some(dport) = dport(get(c.dp)) else {
            return bad("dp", get(c.dp));
        };
        let Some(proto) = proto(get(c.pr)) else {
            return bad("pr", get(c.pr));
        };
        let Some(ipkt) = count(get(c.ipkt)) else {
            return bad("ipkt", get(c.ipkt));
        };
        let Some(ibyt) = count(get(c.ibyt)) else {
            return bad("ibyt", get(c.ibyt));
        };
        let opt = |i: Option<usize>| i.map_or(Some(0), |i| count(get(i)));
        let (Some(opkt), Some(obyt)) = (opt(c.opkt), opt(c.obyt)) else {
            return Outcome::Malformed("column opkt/obyt: invalid value".into());
        };
        Outcome::Event(Event::Flow(Flow {
            ts,
            duration: duration.max(0),
            proto,
            src,
            sport,
            dst,
            dport,
            src_bytes: ibyt,
            dst_bytes: obyt,
            packets: ipkt.saturating_add(opkt),
            label: None,
        }))
    }
}

/// Fuzz entry point: `data` read as an nfdump CSV file. Never panics.
pub fn fuzz(data: &[u8]) {
    crate::ingest::fuzz_format(crate::ingest::Format::NfdumpCsv, data);
}
