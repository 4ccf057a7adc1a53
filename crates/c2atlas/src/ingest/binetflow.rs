//! Argus binetflow CSV (CTU-13, Stratosphere, Slips test captures).
//!
//! The header line names the columns; they are mapped by name, in any order
//! (`StartTime`, `SrcAddr` and `DstAddr` are required; `Dur`, `Proto`,
//! `Sport`, `Dir`, `Dport`, `TotPkts`, `TotBytes`, `SrcBytes`, `Label` are
//! used when present; any other column is ignored). The separator is the
//! header's: comma, or tab for some Slips files. A header line repeated
//! mid-file (concatenated slices) is re-read, not counted as malformed.
//!
//! Mapping to [`Flow`]:
//! - `ts` = `StartTime` (`2011/08/16 10:01:46.972101`, `-`-separated dates or
//!   epoch seconds). A time without zone is taken as UTC (CTU-13's times are
//!   really Prague local time; c2atlas does not guess).
//! - `Dir` `<-` (an arrow pointing only left, e.g. `<-`, `<?`) means DstAddr
//!   originated: addresses, ports and byte counts are swapped so `src` is the
//!   originator. Every other direction (`->`, `<->`, `<?>`, `?>`, `who`) is kept.
//! - `src_bytes` = `SrcBytes`, `dst_bytes` = `TotBytes − SrcBytes` (saturating);
//!   without `SrcBytes` all of `TotBytes` is `src_bytes`. `packets` = `TotPkts`.
//! - Ports are decimal or hex (`0x0303`); empty means 0. For protocols other
//!   than TCP/UDP a hex value wider than 16 bits (ESP's SPI) becomes 0.
//! - `label` = `Label` (borrowed), `None` when empty. When `Label` is the last
//!   column, separators inside it are kept as part of the label.
//! - Non-IP records (`Proto` `arp`, `ipx/spx`, `llc`, `man`, …, or MAC
//!   addresses in place of IPs) are not IP flows: they are skipped and
//!   reported once per file (count and first line), not counted as malformed.
//!   CTU-13 scenario 6 has 200 of them (195 `arp`, 5 `ipx/spx`) among its
//!   558,919 flows, none labelled botnet.

use std::borrow::Cow;

use super::field::{self, ProtoName, quoted};
use super::{Format, Outcome, WantsFlow};
use crate::model::{Event, Flow, Micros, Proto};

/// Most columns a header may have: real files have 13–17; more means the
/// "header" is not one.
pub const MAX_COLUMNS: usize = 64;

/// The columns c2atlas reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    StartTime,
    Dur,
    Proto,
    SrcAddr,
    Sport,
    Dir,
    DstAddr,
    Dport,
    TotPkts,
    TotBytes,
    SrcBytes,
    Label,
}

const N_ROLES: usize = 12;

impl Role {
    fn from_name(name: &str) -> Option<Role> {
        Some(match name {
            "StartTime" => Role::StartTime,
            "Dur" => Role::Dur,
            "Proto" => Role::Proto,
            "SrcAddr" => Role::SrcAddr,
            "Sport" => Role::Sport,
            "Dir" => Role::Dir,
            "DstAddr" => Role::DstAddr,
            "Dport" => Role::Dport,
            "TotPkts" => Role::TotPkts,
            "TotBytes" => Role::TotBytes,
            "SrcBytes" => Role::SrcBytes,
            "Label" => Role::Label,
            _ => return None,
        })
    }
}

/// Column layout read from a header line.
#[derive(Debug, Clone)]
struct Header {
    sep: u8,
    /// Column names, for diagnostics.
    names: Vec<Box<str>>,
    /// Role of each column.
    roles: Vec<Option<Role>>,
    /// Column index of each role, if present.
    index: [Option<usize>; N_ROLES],
}

impl Header {
    /// Parses a header line; `Err` says why it is not a binetflow header.
    fn parse(line: &str) -> Result<Header, String> {
        let sep = if line.contains('\t') && !line.contains(',') {
            b'\t'
        } else {
            b','
        };
        let mut names = Vec::new();
        let mut roles = Vec::new();
        let mut index = [None; N_ROLES];
        for (i, name) in line.split(char::from(sep)).enumerate() {
            if i >= MAX_COLUMNS {
                return Err(format!("header has more than {MAX_COLUMNS} columns"));
            }
            let name = name.trim();
            let role = Role::from_name(name);
            if let Some(r) = role {
                if index[r as usize].is_some() {
                    return Err(format!("header names column {name} twice"));
                }
                index[r as usize] = Some(i);
            }
            names.push(name.into());
            roles.push(role);
        }
        for (role, name) in [
            (Role::StartTime, "StartTime"),
            (Role::SrcAddr, "SrcAddr"),
            (Role::DstAddr, "DstAddr"),
        ] {
            if index[role as usize].is_none() {
                return Err(format!("CSV header lacks {name}"));
            }
        }
        Ok(Header {
            sep,
            names,
            roles,
            index,
        })
    }
}

/// Whether `line` is a binetflow header (its first column is `StartTime`).
pub(crate) fn is_header(line: &str) -> bool {
    // Fast path: data lines start with a digit.
    if !line.trim_start().starts_with("StartTime") {
        return false;
    }
    let first = match line.find([',', '\t']) {
        Some(i) => &line[..i],
        None => line,
    };
    first.trim() == "StartTime"
}

/// Checks a first line for detection: `Ok` when it is a usable header.
pub(crate) fn check_header(line: &str) -> Result<(), String> {
    Header::parse(line).map(|_| ())
}

/// Line parser for one binetflow file.
#[derive(Debug, Default)]
pub(crate) struct Parser {
    header: Option<Header>,
}

impl Parser {
    pub(crate) fn new() -> Parser {
        Parser::default()
    }

    /// Parses one line (no line terminator, non-blank).
    pub(crate) fn line<'l>(&mut self, line: &'l str) -> Outcome<'l> {
        if is_header(line) {
            return match Header::parse(line) {
                Ok(h) => {
                    self.header = Some(h);
                    Outcome::Skip
                }
                Err(e) => Outcome::Fatal(e),
            };
        }
        let Some(h) = &self.header else {
            return Outcome::Fatal(format!(
                "no binetflow CSV header (StartTime,…,SrcAddr,…,DstAddr) before data; first line {}",
                quoted(line)
            ));
        };
        parse_record(h, line)
    }
}

impl Parser {
    /// [`Parser::line`] for a sink with a flow gate ([`super::Sink::gate`]).
    ///
    /// A record whose column count, `Proto`, `StartTime` and addresses are
    /// valid and whose flow (after `Dir` is applied) `wants` rejects is
    /// [`Outcome::PassedOver`]: its other columns (`Dur`, ports, counts,
    /// `Label`) are not parsed, so a bad value there is not counted as
    /// malformed in such a run. Every other line gets exactly the outcome of
    /// [`Parser::line`].
    pub(crate) fn line_filtered<'l>(&mut self, line: &'l str, wants: WantsFlow<'_>) -> Outcome<'l> {
        if let Some(h) = &self.header
            && !is_header(line)
            && let Some(ts) = passed_over(h, line, wants)
        {
            return Outcome::PassedOver(ts);
        }
        self.line(line)
    }
}

/// The timestamp of a data line that `wants` does not want, when its column
/// count, protocol, timestamp and addresses pass the checks [`parse_record`]
/// makes (same rules); `None` sends the line to the full parser.
fn passed_over(h: &Header, line: &str, wants: WantsFlow<'_>) -> Option<Micros> {
    let ncols = h.roles.len();
    let bytes = line.as_bytes();
    const NEED: [Role; 5] = [
        Role::Proto,
        Role::StartTime,
        Role::SrcAddr,
        Role::DstAddr,
        Role::Dir,
    ];
    let last = NEED
        .iter()
        .filter_map(|r| h.index[*r as usize])
        .max()
        .unwrap_or(0);
    let mut vals = [""; 5];
    let mut it = field::Separators::new(h.sep, bytes);
    let mut start = 0usize;
    let mut found = 0usize;
    for k in 0..=last {
        let end = match it.next() {
            Some(e) => {
                found += 1;
                e
            }
            None => bytes.len(),
        };
        // Separator (ASCII) boundaries are char boundaries.
        let v = line.get(start..end)?.trim_ascii();
        for (slot, r) in vals.iter_mut().zip(NEED) {
            if h.index[r as usize] == Some(k) {
                *slot = v;
            }
        }
        start = end + 1;
    }
    // Column count as `parse_record` sees it: the separators walked plus those
    // in the unread rest; it stops splitting at a last `Label` column.
    let seps = found + field::count_byte(h.sep, bytes.get(start..).unwrap_or(&[]));
    let cols = if h.index[Role::Label as usize] == Some(ncols - 1) {
        (seps + 1).min(ncols)
    } else {
        seps + 1
    };
    if cols != ncols {
        return None;
    }
    let [proto, ts, src, dst, dir] = vals;
    if h.index[Role::Proto as usize].is_some() && matches!(field::proto(proto), ProtoName::NotIp) {
        return None;
    }
    let ts = field::timestamp_micros(ts)?;
    let src = field::ip(src)?;
    let dst = field::ip(dst)?;
    let reversed = dir.contains('<') && !dir.contains('>');
    let (src, dst) = if reversed { (dst, src) } else { (src, dst) };
    (!wants(src, dst)).then_some(ts)
}

/// A port; for protocols without ports, Argus writes other identifiers
/// there (the 32-bit ESP SPI, `0x2020bb29`), which become port 0.
fn port_or_spi(s: &str, has_ports: bool) -> Option<u16> {
    field::port(s).or_else(|| {
        let hex = s.strip_prefix("0x")?;
        (!has_ports && u32::from_str_radix(hex, 16).is_ok()).then_some(0)
    })
}

fn parse_record<'l>(h: &Header, line: &'l str) -> Outcome<'l> {
    let ncols = h.roles.len();
    let mut vals: [&'l str; N_ROLES] = [""; N_ROLES];
    let bytes = line.as_bytes();
    let label_last = h.index[Role::Label as usize] == Some(ncols - 1);
    let mut start = 0usize;
    let mut col = 0usize;
    // One word-wide scan yields the separators in turn (see `field::Separators`).
    let mut seps = field::Separators::new(h.sep, bytes);
    loop {
        let end = if label_last && col == ncols - 1 {
            bytes.len()
        } else {
            seps.next().unwrap_or(bytes.len())
        };
        if let Some(Some(r)) = h.roles.get(col) {
            // `start..end` are separator (ASCII) boundaries, hence char boundaries.
            vals[*r as usize] = line.get(start..end).unwrap_or("");
        }
        col += 1;
        if end >= bytes.len() {
            break;
        }
        start = end + 1;
    }
    if col != ncols {
        return Outcome::Malformed(format!("expected {ncols} columns, found {col}"));
    }
    let v = |r: Role| vals[r as usize].trim_ascii();
    let name = |r: Role| -> String {
        match h.index[r as usize] {
            Some(i) => format!("column {} ({})", i + 1, h.names[i]),
            None => format!("{r:?}"),
        }
    };
    let bad = |r: Role, what: &str| -> Outcome<'l> {
        Outcome::Malformed(format!("{}: {what} {}", name(r), quoted(v(r))))
    };

    let proto = if h.index[Role::Proto as usize].is_some() {
        match field::proto(v(Role::Proto)) {
            ProtoName::Ip(p) => p,
            ProtoName::NotIp => return Outcome::NotIp(format!("Proto {}", v(Role::Proto))),
        }
    } else {
        Proto::Other(0)
    };
    let Some(ts) = field::timestamp_micros(v(Role::StartTime)) else {
        return bad(Role::StartTime, "invalid timestamp");
    };
    let duration = match v(Role::Dur) {
        "" => 0,
        d => match field::seconds_micros(d) {
            Some(d) => d,
            None => return bad(Role::Dur, "invalid duration"),
        },
    };
    if field::is_mac(v(Role::SrcAddr)) || field::is_mac(v(Role::DstAddr)) {
        return Outcome::NotIp("MAC addresses".into());
    }
    let Some(src) = field::ip(v(Role::SrcAddr)) else {
        return bad(Role::SrcAddr, "invalid IP address");
    };
    let Some(dst) = field::ip(v(Role::DstAddr)) else {
        return bad(Role::DstAddr, "invalid IP address");
    };
    let has_ports = matches!(proto, Proto::Tcp | Proto::Udp);
    let Some(sport) = port_or_spi(v(Role::Sport), has_ports) else {
        return bad(Role::Sport, "invalid port");
    };
    let Some(dport) = port_or_spi(v(Role::Dport), has_ports) else {
        return bad(Role::Dport, "invalid port");
    };
    let Some(packets) = field::count(v(Role::TotPkts)) else {
        return bad(Role::TotPkts, "invalid count");
    };
    let Some(tot) = field::count(v(Role::TotBytes)) else {
        return bad(Role::TotBytes, "invalid count");
    };
    let src_bytes_raw = v(Role::SrcBytes);
    let (src_bytes, dst_bytes) = if src_bytes_raw.is_empty() {
        (tot, 0)
    } else {
        let Some(sb) = field::count(src_bytes_raw) else {
            return bad(Role::SrcBytes, "invalid count");
        };
        (sb, tot.saturating_sub(sb))
    };
    let dir = v(Role::Dir);
    let reversed = dir.contains('<') && !dir.contains('>');
    let label = vals[Role::Label as usize].trim_ascii();
    let label = (!label.is_empty()).then_some(Cow::Borrowed(label));
    let flow = if reversed {
        Flow {
            ts,
            duration: duration.max(0),
            proto,
            src: dst,
            sport: dport,
            dst: src,
            dport: sport,
            src_bytes: dst_bytes,
            dst_bytes: src_bytes,
            packets,
            label,
        }
    } else {
        Flow {
            ts,
            duration: duration.max(0),
            proto,
            src,
            sport,
            dst,
            dport,
            src_bytes,
            dst_bytes,
            packets,
            label,
        }
    };
    Outcome::Event(Event::Flow(flow))
}

/// Fuzz entry point: reads `data` as a binetflow file. Never panics.
pub fn fuzz(data: &[u8]) {
    super::fuzz_format(Format::Binetflow, data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HDR: &str = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label";

    fn flow(p: &mut Parser, line: &'static str) -> Flow<'static> {
        match p.line(line) {
            Outcome::Event(Event::Flow(f)) => f,
            other => panic!("not a flow: {other:?}"),
        }
    }

    fn parser() -> Parser {
        let mut p = Parser::new();
        assert!(matches!(p.line(HDR), Outcome::Skip));
        p
    }

    #[test]
    fn ctu13_line() {
        let mut p = parser();
        let f = flow(
            &mut p,
            "2011/08/16 11:30:00.005958,0.732511,tcp,81.200.53.227,1696,   ->,147.32.84.36,443,SRPA_FSPA,0,0,138,145859,3207,flow=Background-TCP-Established",
        );
        assert_eq!(f.ts, 1_313_494_200_005_958);
        assert_eq!(f.duration, 732_511);
        assert_eq!(f.proto, Proto::Tcp);
        assert_eq!(f.src.to_string(), "81.200.53.227");
        assert_eq!((f.sport, f.dport), (1696, 443));
        assert_eq!((f.src_bytes, f.dst_bytes, f.packets), (3207, 142_652, 138));
        assert_eq!(f.label.as_deref(), Some("flow=Background-TCP-Established"));
    }

    #[test]
    fn reverse_arrow_swaps_and_hex_ports() {
        let mut p = parser();
        let f = flow(
            &mut p,
            "2011/08/16 11:30:00,1,icmp,1.1.1.1,0x0303,  <-,2.2.2.2,0x0008,ECO,0,,2,100,40,",
        );
        assert_eq!(f.src.to_string(), "2.2.2.2");
        assert_eq!((f.sport, f.dport), (8, 771));
        assert_eq!((f.src_bytes, f.dst_bytes), (60, 40));
        assert_eq!(f.label, None);
    }

    #[test]
    fn non_ip_and_errors() {
        let mut p = parser();
        assert!(matches!(
            p.line("1970/01/01 01:00:00.000000,0.000000,llc,00:00:00:00:00:00,0,   ->,00:00:00:00:00:00,0,INT,,,1,60,60,"),
            Outcome::NotIp(_)
        ));
        match p.line("2011/08/16 11:30:00,1,tcp,1.2.3,1,->,2.2.2.2,2,S,0,0,1,1,1,x") {
            Outcome::Malformed(r) => {
                assert_eq!(r, "column 4 (SrcAddr): invalid IP address \"1.2.3\"")
            }
            o => panic!("{o:?}"),
        }
        match p.line("2011/08/16 11:30:00,1,tcp,1.2.3.4,1,->,2.2.2.2") {
            Outcome::Malformed(r) => assert_eq!(r, "expected 15 columns, found 7"),
            o => panic!("{o:?}"),
        }
        match p.line("2011/13/16 11:30:00,1,tcp,1.2.3.4,1,->,2.2.2.2,2,S,0,0,1,1,1,x") {
            Outcome::Malformed(r) => assert!(r.starts_with("column 1 (StartTime)"), "{r}"),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn header_reordered_tab_and_missing_label() {
        let mut p = Parser::new();
        assert!(matches!(
            p.line("StartTime\tSrcAddr\tDstAddr\tTotBytes"),
            Outcome::Skip
        ));
        let f = flow(&mut p, "1313488906.5\t::1\t10.0.0.1\t77");
        assert_eq!(f.ts, 1_313_488_906_500_000);
        assert_eq!((f.src_bytes, f.dst_bytes), (77, 0));
        assert!(matches!(p.line("StartTime,Dur,SrcAddr"), Outcome::Fatal(_)));
    }

    fn arb_ip() -> impl Strategy<Value = std::net::IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(std::net::IpAddr::from),
            any::<[u16; 8]>().prop_map(std::net::IpAddr::from),
        ]
    }

    /// A binetflow field: usually a valid value, sometimes empty or junk.
    fn bin_value(valid: BoxedStrategy<String>) -> BoxedStrategy<String> {
        prop_oneof![
            6 => valid,
            1 => Just(String::new()),
            1 => "[0-9a-z.:x -]{0,8}",
        ]
        .boxed()
    }

    fn bin_line() -> impl Strategy<Value = String> {
        let num = || any::<u32>().prop_map(|n| n.to_string()).boxed();
        let addr = || {
            prop_oneof![
                4 => any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
                1 => any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
                1 => Just("00:0c:29:97:a3:eb".to_string()),
            ]
            .boxed()
        };
        let port = || {
            prop_oneof![
                any::<u16>().prop_map(|n| n.to_string()),
                any::<u32>().prop_map(|n| format!("0x{n:04x}")),
            ]
            .boxed()
        };
        let fields = vec![
            bin_value("2011/08/1[0-9] 1[0-9]:[0-5][0-9]:[0-5][0-9]\\.[0-9]{6}".boxed()),
            bin_value("[0-9]\\.[0-9]{6}".boxed()),
            bin_value(
                prop_oneof![
                    Just("tcp"),
                    Just("udp"),
                    Just("icmp"),
                    Just("esp"),
                    Just("arp")
                ]
                .prop_map(String::from)
                .boxed(),
            ),
            bin_value(addr()),
            bin_value(port()),
            bin_value(
                prop_oneof![
                    Just("   ->"),
                    Just("  <-"),
                    Just("  <->"),
                    Just("  <?"),
                    Just("who")
                ]
                .prop_map(String::from)
                .boxed(),
            ),
            bin_value(addr()),
            bin_value(port()),
            Just("CON".to_string()).boxed(),
            Just("0".to_string()).boxed(),
            Just(String::new()).boxed(),
            bin_value(num()),
            bin_value(num()),
            bin_value(num()),
            "flow=[A-Za-z,-]{0,12}".boxed(),
        ];
        (fields, 0u8..10).prop_map(|(f, shape)| {
            let mut line = f.join(",");
            if shape == 9 {
                // A column short (the label's commas may make up for it).
                line.truncate(line.find(",CON").unwrap_or(0));
            }
            line
        })
    }

    proptest! {
        /// With a prefilter, a line is either read as without it, or passed
        /// over: then the full parser reads it as a flow with the same
        /// timestamp, or rejects it only for a column the prefilter skips.
        #[test]
        fn prefilter_agrees_with_full_parser(line in bin_line(), mode in 0u8..3) {
            let mut p = parser();
            let reference = format!("{:?}", p.line(&line));
            let wants = |s: std::net::IpAddr, _d: std::net::IpAddr| match mode {
                0 => false,
                1 => true,
                _ => s.is_ipv4(),
            };
            match p.line_filtered(&line, &wants) {
                Outcome::PassedOver(ts) => match p.line(&line) {
                    Outcome::Event(Event::Flow(f)) => {
                        prop_assert_eq!(f.ts, ts);
                        prop_assert!(!wants(f.src, f.dst));
                    }
                    Outcome::Malformed(r) => prop_assert!(
                        ["(Dur)", "(Sport)", "(Dport)", "(TotPkts)", "(TotBytes)", "(SrcBytes)"]
                            .iter()
                            .any(|c| r.contains(c)),
                        "{}", r
                    ),
                    o => prop_assert!(false, "{:?}", o),
                },
                o => prop_assert_eq!(format!("{o:?}"), reference),
            }
        }
    }

    proptest! {
        #[test]
        fn never_panics(lines in proptest::collection::vec(".{0,200}", 0..8)) {
            let mut p = parser();
            for l in &lines {
                let _ = p.line(l);
            }
        }

        #[test]
        fn round_trip(
            secs in 0i64..4_000_000_000, us in 0i64..1_000_000, dur_us in 0i64..10_000_000_000,
            src in arb_ip(), dst in arb_ip(), sport: u16, dport: u16, hex: bool,
            pk: u32, sb in 0u64..1<<40, db in 0u64..1<<40, label in "[A-Za-z0-9=-]{0,40}",
        ) {
            let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (y, m, d) = crate::time::civil_from_days(days);
            let sp = if hex { format!("0x{sport:04x}") } else { sport.to_string() };
            let line = format!(
                "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}.{us:06},{}.{:06},tcp,{src},{sp},   ->,{dst},{dport},S,0,0,{pk},{},{sb},{label}",
                sod / 3600, (sod / 60) % 60, sod % 60, dur_us / 1_000_000, dur_us % 1_000_000, sb + db,
            );
            let mut p = parser();
            match p.line(&line) {
                Outcome::Event(Event::Flow(f)) => {
                    prop_assert_eq!(f.ts, secs * 1_000_000 + us);
                    prop_assert_eq!(f.duration, dur_us);
                    prop_assert_eq!((f.src, f.dst, f.sport, f.dport), (src, dst, sport, dport));
                    prop_assert_eq!((f.src_bytes, f.dst_bytes, f.packets), (sb, db, u64::from(pk)));
                    prop_assert_eq!(f.label.as_deref(), (!label.is_empty()).then_some(label.as_str()));
                }
                other => prop_assert!(false, "{line}: {other:?}"),
            }
        }
    }
}
