//! pcap and pcapng captures → flows, DNS, HTTP and TLS-SNI events.
//!
//! The capture is read with `pcap-parser` through a bounded buffer
//! ([`BUFFER_BYTES`]); frames are decoded by [`decode`] (Ethernet with VLAN
//! tags, Linux SLL/SLL2, raw IPv4/IPv6, BSD loopback), assembled into
//! bidirectional flows by [`flow::Tracker`], and the application readers
//! ([`dns`], [`http`], [`tls`]) turn the first payload segments into name
//! events. Every packet is a record: `RecordRef.line` is its 1-based packet
//! number (a flow's is that of its first packet).
//!
//! Counts: `records` are packets decoded as IP; `malformed` are packets that
//! could not be decoded (each reported with its packet number and reason),
//! plus one for a capture that ends mid-record or in a corrupt block (the
//! packets before it are kept); `skipped` are frames without IP (ARP, LLDP,
//! non-first fragments), reported once per file.
//!
//! Invariant: no input makes this module panic or hold more than
//! [`BUFFER_BYTES`] of capture plus the bounded flow table.

pub(crate) mod decode;
mod dns;
pub mod flow;
mod http;
mod tls;

use std::io::{self, Read};
use std::path::Path;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

use super::{Diagnostic, IngestError, Sink};
use crate::model::Micros;
use decode::Decoded;

/// Capture bytes buffered at once. A record larger than this is taken as a
/// corrupt length and ends the file: libpcap's largest snap length is
/// 256 KiB, dumpcap's blocks stay well under 1 MiB.
pub const BUFFER_BYTES: usize = 2 << 20;

/// Classic pcap magics as stored (both byte orders, micro- and nanosecond)
/// and the pcapng section header block type.
const MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

/// Whether `head` (the first bytes of a file, after gunzip) starts a pcap or pcapng capture.
pub fn is_capture(head: &[u8]) -> bool {
    MAGICS.iter().any(|m| head.starts_with(m))
}

/// What reading one capture produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcapCounts {
    pub packets: u64,
    pub records: u64,
    pub malformed: u64,
    pub skipped: u64,
    pub tracker: flow::TrackerStats,
}

/// A reader that fills the buffer as far as it can (pcap-parser reads the
/// file header with one `read` call) and turns an I/O error — a truncated
/// gzip stream — into an end of file, keeping the error for the caller.
struct FullRead<'r> {
    inner: &'r mut dyn Read,
    error: Option<io::Error>,
}

impl Read for FullRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.error.is_none() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.error = Some(e),
            }
        }
        Ok(n)
    }
}

/// An interface of a pcapng section: link type and timestamp scale.
#[derive(Clone, Copy)]
struct Iface {
    link: i32,
    /// Timestamp units per second.
    units: u64,
    /// Seconds added to every timestamp.
    offset: i64,
}

/// The capture loop's state.
struct Reading<'a> {
    path: &'a Path,
    sink: &'a mut dyn Sink,
    diag: &'a mut dyn FnMut(Diagnostic),
    tracker: flow::Tracker,
    counts: PcapCounts,
    first_skip: Option<(u64, String)>,
    /// Timestamp of the last timed packet (stands in for pcapng simple packets).
    last_ts: Micros,
}

impl Reading<'_> {
    fn report(&mut self, line: u64, reason: String) {
        (self.diag)(Diagnostic {
            path: self.path.to_path_buf(),
            line,
            reason,
        });
    }

    fn frame(&mut self, link: i32, ts: Micros, data: &[u8]) {
        self.counts.packets += 1;
        self.last_ts = ts;
        let no = self.counts.packets;
        match decode::decode(link, data) {
            Decoded::Ip(p) => {
                self.counts.records += 1;
                self.tracker.packet(no, ts, &p, self.sink);
            }
            Decoded::NotIp(why) => {
                self.counts.skipped += 1;
                if self.first_skip.is_none() {
                    self.first_skip = Some((no, why));
                }
            }
            Decoded::Malformed(why) => {
                self.counts.malformed += 1;
                self.report(no, format!("packet {no}: {why}"));
            }
        }
    }

    /// The capture ended badly after the last good packet.
    fn broken(&mut self, reason: String) {
        self.counts.malformed += 1;
        let line = self.counts.packets + 1;
        self.report(
            line,
            format!(
                "{reason} after packet {}; the packets before it are kept",
                self.counts.packets
            ),
        );
    }
}

fn micros(sec: i64, frac: u64, units: u64) -> Micros {
    let sub = if units == 0 {
        0
    } else {
        (u128::from(frac) * 1_000_000 / u128::from(units)) as i64
    };
    sec.saturating_mul(1_000_000).saturating_add(sub)
}

/// Reads a pcap or pcapng capture from `reader` (already gunzipped), sending
/// events to `sink`. See the module docs for the counts.
///
/// Errors: an empty stream → [`IngestError::Empty`]; a stream that is not a
/// capture or whose file header is cut → [`IngestError::UnknownFormat`]; a
/// truncated gzip stream before any packet → [`IngestError::Gzip`].
pub fn read(
    input: u32,
    path: &Path,
    reader: &mut dyn Read,
    limits: flow::Limits,
    sink: &mut dyn Sink,
    diag: &mut dyn FnMut(Diagnostic),
) -> Result<PcapCounts, IngestError> {
    let unknown = |reason: &str| IngestError::UnknownFormat {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match reader.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(IngestError::Gzip {
                    path: path.to_path_buf(),
                    records: 0,
                    source,
                });
            }
        }
    }
    if got == 0 {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    if got < 4 || !is_capture(&magic) {
        return Err(unknown("not a pcap or pcapng capture (no magic number)"));
    }
    let mut chained = io::Cursor::new(magic).chain(reader);
    let mut full = FullRead {
        inner: &mut chained,
        error: None,
    };
    let mut r = Reading {
        path,
        sink,
        diag,
        tracker: flow::Tracker::new(input, limits),
        counts: PcapCounts::default(),
        first_skip: None,
        last_ts: 0,
    };
    let ng = magic == MAGICS[4];
    let header_err = |e: PcapError<&[u8]>| match e {
        PcapError::Incomplete(_) | PcapError::Eof | PcapError::UnexpectedEof => {
            unknown("capture file header is cut")
        }
        other => unknown(&format!("bad capture file header: {other:?}")),
    };
    let outcome = if ng {
        let rdr = PcapNGReader::new(BUFFER_BYTES, &mut full).map_err(header_err)?;
        run(rdr, &mut r)
    } else {
        let rdr = LegacyPcapReader::new(BUFFER_BYTES, &mut full).map_err(header_err)?;
        run(rdr, &mut r)
    };
    if let Some(reason) = outcome {
        r.broken(reason);
    }
    // FullRead kept the I/O error (a truncated gzip stream), if any.
    let gz_error = full.error.take();
    r.tracker.finish(r.sink);
    if let Some(source) = gz_error {
        if r.counts.packets == 0 {
            return Err(IngestError::Gzip {
                path: path.to_path_buf(),
                records: 0,
                source,
            });
        }
        r.broken(format!("truncated or corrupt gzip stream ({source})"));
    }
    if let Some((no, why)) = r.first_skip.take() {
        let n = r.counts.skipped;
        r.report(
            no,
            format!("skipped {n} frame(s) without IP or transport header, not counted as malformed; first is packet {no} ({why})"),
        );
    }
    let t = r.tracker.stats.clone();
    if let Some((no, why)) = t.first_dns_error {
        r.report(
            no,
            format!(
                "{} DNS payload(s) on port 53 could not be read; first in packet {no} ({why})",
                t.dns_errors
            ),
        );
    }
    if t.evicted > 0 {
        r.report(
            r.counts.packets,
            format!(
                "flow table full ({} flows): {} flows emitted before their end",
                limits.max_flows, t.evicted
            ),
        );
    }
    r.counts.tracker = t;
    Ok(r.counts)
}

/// Walks the blocks of a capture. Returns why it stopped early, if it did.
fn run<R: PcapReaderIterator>(mut rdr: R, r: &mut Reading<'_>) -> Option<String> {
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut legacy: Option<(i32, u64)> = None;
    loop {
        match rdr.next() {
            Ok((used, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        let units = if h.is_nanosecond_precision() {
                            1_000_000_000
                        } else {
                            1_000_000
                        };
                        legacy = Some((h.network.0, units));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let (link, units) =
                            legacy.unwrap_or((decode::linktype::ETHERNET, 1_000_000));
                        let ts = micros(i64::from(b.ts_sec), u64::from(b.ts_usec), units);
                        r.frame(link, ts, b.data);
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => ifaces.push(Iface {
                        link: idb.linktype.0,
                        units: idb.ts_resolution().unwrap_or(1_000_000),
                        offset: idb.ts_offset(),
                    }),
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        match ifaces.get(epb.if_id as usize).copied() {
                            Some(i) => {
                                let raw = u64::from(epb.ts_high) << 32 | u64::from(epb.ts_low);
                                let units = i.units.max(1);
                                let sec = i64::try_from(raw / units).unwrap_or(i64::MAX);
                                let ts = micros(sec.saturating_add(i.offset), raw % units, units);
                                // Data beyond caplen is block padding.
                                let cap = (epb.caplen as usize).min(epb.data.len());
                                r.frame(i.link, ts, &epb.data[..cap]);
                            }
                            None => {
                                r.counts.packets += 1;
                                r.counts.malformed += 1;
                                let no = r.counts.packets;
                                r.report(
                                    no,
                                    format!(
                                        "packet {no}: interface {} was not described",
                                        epb.if_id
                                    ),
                                );
                            }
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let link = ifaces
                            .first()
                            .map_or(decode::linktype::ETHERNET, |i| i.link);
                        let cap = (spb.origlen as usize).min(spb.data.len());
                        // No timestamp: the last one seen stands in (0 before any).
                        r.frame(link, r.last_ts, &spb.data[..cap]);
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                rdr.consume(used);
            }
            Err(PcapError::Eof) => return None,
            Err(PcapError::Incomplete(_)) => {
                let before = rdr.data().len();
                if rdr.refill().is_err() {
                    return Some("read error".into());
                }
                if rdr.data().len() == before && !rdr.reader_exhausted() {
                    return Some(format!(
                        "record larger than the {BUFFER_BYTES}-byte buffer (corrupt length?)"
                    ));
                }
            }
            Err(PcapError::UnexpectedEof) => {
                return Some(format!(
                    "capture cut mid-record ({} bytes left)",
                    rdr.data().len()
                ));
            }
            Err(PcapError::BufferTooSmall) => {
                return Some(format!(
                    "record larger than the {BUFFER_BYTES}-byte buffer (corrupt length?)"
                ));
            }
            Err(e) => return Some(format!("corrupt record: {}", describe(&e))),
        }
    }
}

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => format!("{kind:?}"),
        other => format!("{other:?}"),
    }
}

/// Reads `data` as a capture, discarding the results. For the fuzz target; never panics.
pub fn fuzz(data: &[u8]) {
    let mut null = NullSink;
    let _ = read(
        0,
        Path::new("fuzz-input"),
        &mut { data },
        flow::Limits {
            max_flows: 64,
            ..flow::Limits::default()
        },
        &mut null,
        &mut |_| {},
    );
}

struct NullSink;

impl Sink for NullSink {
    fn event(&mut self, _: crate::model::RecordRef, _: &crate::model::Event<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, RecordRef};

    /// A capture written by hand (see the fuzz corpus): DNS query/response for
    /// c2.example.net, then a TCP connection with one HTTP request and its 200 response.
    const DNS_HTTP: &[u8] = include_bytes!("../../../../../fuzz/corpus/pcap/dns_http.pcap");

    #[derive(Default)]
    struct Names(Vec<(u64, String)>);

    impl Sink for Names {
        fn event(&mut self, rec: RecordRef, ev: &Event<'_>) {
            let s = match ev {
                Event::Flow(f) => format!(
                    "flow {} {}:{} {} pkts",
                    f.proto.name(),
                    f.dst,
                    f.dport,
                    f.packets
                ),
                Event::Dns(d) => format!("dns {} {:?} {:?}", d.query, d.rcode, d.answers),
                Event::Http(h) => format!("http {:?} {:?} {:?}", h.host, h.uri, h.status),
                Event::Tls(t) => format!("tls {:?}", t.server_name),
                Event::Exchange(x) => {
                    format!("exchange {} {}+{} bytes", x.index, x.src_bytes, x.dst_bytes)
                }
            };
            self.0.push((rec.line, s));
        }
    }

    fn read_with(
        data: &[u8],
        limits: flow::Limits,
    ) -> (PcapCounts, Vec<(u64, String)>, Vec<String>) {
        let mut names = Names::default();
        let mut diags = Vec::new();
        let c = read(
            0,
            Path::new("t.pcap"),
            &mut { data },
            limits,
            &mut names,
            &mut |d| diags.push(d.reason),
        )
        .unwrap();
        (c, names.0, diags)
    }

    #[test]
    fn names_precede_their_flows() {
        let (c, ev, diags) = read_with(DNS_HTTP, flow::Limits::default());
        assert_eq!((c.packets, c.records, c.malformed), (8, 8, 0), "{diags:?}");
        // The request and its response are 1 s apart (the capture's packets
        // are): two exchanges (`flow::EXCHANGE_IDLE`), both before the flow.
        let want = [
            (1, "dns c2.example.net Some(\"NOERROR\") [\"198.51.100.7\"]"),
            (5, "exchange 0 70+0 bytes"),
            (
                5,
                "http Some(\"c2.example.net\") Some(\"/gate.php?id=1\") Some(200)",
            ),
            (1, "flow udp 8.8.8.8:53 2 pkts"),
            (6, "exchange 1 0+19 bytes"),
            (3, "flow tcp 198.51.100.7:80 6 pkts"),
        ];
        let got: Vec<(u64, &str)> = ev.iter().map(|(l, s)| (*l, s.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn full_table_evicts_and_counts() {
        let limits = flow::Limits {
            max_flows: 1,
            ..flow::Limits::default()
        };
        let (c, ev, diags) = read_with(DNS_HTTP, limits);
        assert_eq!(c.tracker.evicted, 1);
        assert_eq!(ev.iter().filter(|(_, s)| s.starts_with("flow")).count(), 2);
        assert!(
            diags.iter().any(|d| d.contains("flow table full")),
            "{diags:?}"
        );
    }

    #[test]
    fn active_timeout_slices_long_flows() {
        // Packets are 1 s apart: a 2 s active timeout cuts the TCP flow.
        let limits = flow::Limits {
            active_timeout: 2_000_000,
            ..flow::Limits::default()
        };
        let (_, ev, _) = read_with(DNS_HTTP, limits);
        let tcp: Vec<_> = ev
            .iter()
            .filter(|(_, s)| s.starts_with("flow tcp"))
            .collect();
        assert_eq!(tcp.len(), 3, "{ev:?}");
        assert_eq!(
            tcp.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            vec![3, 5, 7]
        );
    }

    #[test]
    fn cut_capture_keeps_earlier_packets() {
        let (c, _, diags) = read_with(&DNS_HTTP[..150], flow::Limits::default());
        assert_eq!((c.records, c.malformed), (1, 1));
        assert!(
            diags.iter().any(|d| d.contains("cut mid-record")
                && d.ends_with("after packet 1; the packets before it are kept")),
            "{diags:?}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            fuzz(&data);
            // The same bytes behind a valid header, and with a real capture's head.
            let mut d = DNS_HTTP[..24].to_vec();
            d.extend_from_slice(&data);
            fuzz(&d);
            let mut d = DNS_HTTP[..200].to_vec();
            d.extend_from_slice(&data);
            fuzz(&d);
        }

        #[test]
        fn flipped_bytes_never_panic(i in 24usize..729, b in proptest::prelude::any::<u8>()) {
            let mut d = DNS_HTTP.to_vec();
            if let Some(x) = d.get_mut(i) { *x = b; }
            fuzz(&d);
        }
    }
}
