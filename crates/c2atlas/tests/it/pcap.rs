//! pcap/pcapng ingest on real captures from `../shared/data` (read in place),
//! checked against facts established independently of the code under test:
//! packet counts from a minimal record walk written here, names present in
//! the capture bytes, and the contents documented in each PROVENANCE.md.

use std::path::{Path, PathBuf};

use c2atlas::ingest::{
    Diagnostic, Format, IngestError, InputStats, PlannedInput, Sink, detect_format, read_from,
    read_input,
};
use c2atlas::model::{Event, Proto, RecordRef};

use crate::common::shared;

/// Every event, owned, with its record reference.
#[derive(Default)]
struct Collect {
    events: Vec<(RecordRef, Event<'static>)>,
}

fn owned(ev: &Event<'_>) -> Event<'static> {
    use std::borrow::Cow;
    let o = |c: &Cow<'_, str>| Cow::Owned(c.to_string());
    match ev {
        Event::Flow(f) => Event::Flow(c2atlas::model::Flow {
            label: None,
            ..f.clone()
        }),
        Event::Dns(d) => Event::Dns(c2atlas::model::Dns {
            ts: d.ts,
            src: d.src,
            sport: d.sport,
            dst: d.dst,
            dport: d.dport,
            query: o(&d.query),
            qtype: d.qtype.as_ref().map(o),
            rcode: d.rcode.as_ref().map(o),
            answers: d.answers.iter().map(o).collect(),
            label: None,
        }),
        Event::Http(h) => Event::Http(c2atlas::model::Http {
            ts: h.ts,
            src: h.src,
            sport: h.sport,
            dst: h.dst,
            dport: h.dport,
            method: h.method.as_ref().map(o),
            host: h.host.as_ref().map(o),
            uri: h.uri.as_ref().map(o),
            user_agent: h.user_agent.as_ref().map(o),
            status: h.status,
            request_bytes: h.request_bytes,
            response_bytes: h.response_bytes,
            label: None,
        }),
        Event::Tls(t) => Event::Tls(c2atlas::model::Tls {
            ts: t.ts,
            src: t.src,
            sport: t.sport,
            dst: t.dst,
            dport: t.dport,
            server_name: t.server_name.as_ref().map(o),
            label: None,
        }),
        Event::Exchange(x) => Event::Exchange(x.clone()),
    }
}

impl Sink for Collect {
    fn event(&mut self, rec: RecordRef, ev: &Event<'_>) {
        self.events.push((rec, owned(ev)));
    }
}

struct Run {
    stats: InputStats,
    events: Vec<(RecordRef, Event<'static>)>,
    diags: Vec<Diagnostic>,
}

fn run(path: &Path) -> Run {
    let planned = PlannedInput {
        path: path.to_path_buf(),
        format: detect_format(path).expect("detected"),
    };
    assert_eq!(planned.format, Format::Pcap, "{}", path.display());
    let mut sink = Collect::default();
    let mut diags = Vec::new();
    let stats = read_input(0, &planned, &mut sink, &mut |d| diags.push(d)).expect("readable");
    Run {
        stats,
        events: sink.events,
        diags,
    }
}

fn run_bytes(bytes: &[u8]) -> (Result<InputStats, IngestError>, Run) {
    let planned = PlannedInput {
        path: PathBuf::from("mem.pcap"),
        format: Format::Pcap,
    };
    let mut sink = Collect::default();
    let mut diags = Vec::new();
    let res = read_from(0, &planned, bytes, &mut sink, &mut |d| diags.push(d));
    let stats = res.as_ref().ok().cloned().unwrap_or(InputStats {
        path: planned.path.clone(),
        format: Format::Pcap,
        records: 0,
        malformed: 0,
        skipped: 0,
        sha256: String::new(),
        gzip: false,
    });
    (
        res,
        Run {
            stats,
            events: sink.events,
            diags,
        },
    )
}

/// Packets counted by a minimal independent walk of the file's records
/// (classic pcap: 16-byte record headers; pcapng: enhanced/simple/obsolete
/// packet blocks). Also returns the byte offset where each record starts.
fn independent_walk(bytes: &[u8]) -> (u64, Vec<usize>) {
    let u32le = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let u32be = |b: &[u8], i: usize| u32::from_be_bytes(b[i..i + 4].try_into().unwrap());
    let mut starts = Vec::new();
    if bytes[..4] == [0x0a, 0x0d, 0x0d, 0x0a] {
        let be = bytes[8..12] == [0x1a, 0x2b, 0x3c, 0x4d];
        let rd = |i| if be { u32be(bytes, i) } else { u32le(bytes, i) };
        let mut pos = 0;
        while pos + 12 <= bytes.len() {
            let (ty, len) = (rd(pos), rd(pos + 4) as usize);
            if matches!(ty, 2 | 3 | 6) {
                starts.push(pos);
            }
            pos += len;
        }
    } else {
        let le = bytes[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || bytes[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
        let mut pos = 24;
        while pos + 16 <= bytes.len() {
            let caplen = if le {
                u32le(bytes, pos + 8)
            } else {
                u32be(bytes, pos + 8)
            } as usize;
            if pos + 16 + caplen > bytes.len() {
                break;
            }
            starts.push(pos);
            pos += 16 + caplen;
        }
    }
    (starts.len() as u64, starts)
}

fn all_shared_captures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for rel in ["pcaps", "slips/dataset"] {
        let Some(root) = shared(rel) else { continue };
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Some(ext) = p.extension().and_then(|e| e.to_str())
                    && matches!(ext, "pcap" | "pcapng" | "trace")
                {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

fn flows(r: &Run) -> Vec<&c2atlas::model::Flow<'static>> {
    r.events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Flow(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// Index of the `Flow` event of the connection an event with this 5-tuple belongs to.
fn flow_index(
    r: &Run,
    src: std::net::IpAddr,
    sport: u16,
    dst: std::net::IpAddr,
    dport: u16,
) -> usize {
    r.events
        .iter()
        .position(|(_, e)| matches!(e, Event::Flow(f) if f.src == src && f.sport == sport && f.dst == dst && f.dport == dport))
        .expect("the event's flow was emitted")
}

#[test]
fn every_shared_capture_is_read_whole() {
    let caps = all_shared_captures();
    if caps.is_empty() {
        return;
    }
    for p in &caps {
        let r = run(p);
        let (walked, _) = independent_walk(&std::fs::read(p).unwrap());
        let s = &r.stats;
        assert_eq!(s.malformed, 0, "{}: {:?}", p.display(), r.diags);
        assert_eq!(s.records + s.skipped, walked, "{}", p.display());
        // Every IP packet lands in exactly one flow.
        let in_flows: u64 = flows(&r).iter().map(|f| f.packets).sum();
        assert!(in_flows <= s.records, "{}", p.display());
        // Name events of a connection come before its Flow event.
        for (i, (_, e)) in r.events.iter().enumerate() {
            let (src, sp, dst, dp) = match e {
                Event::Http(h) => (h.src, h.sport, h.dst, h.dport),
                Event::Tls(t) => (t.src, t.sport, t.dst, t.dport),
                _ => continue,
            };
            let later = r.events[i..].iter().any(|(_, e)| matches!(e, Event::Flow(f) if f.src == src && f.sport == sp && f.dst == dst && f.dport == dp));
            assert!(later, "{}: {e:?} after its flow", p.display());
        }
    }
    eprintln!("read {} shared captures", caps.len());
}

#[test]
fn dns_query_and_response_pair() {
    let Some(p) = shared("pcaps/chrissanders-packets/dns_query_response.pcapng") else {
        return;
    };
    let bytes = std::fs::read(&p).unwrap();
    // Independent facts from the bytes: the question name and the A record's address.
    assert!(bytes.windows(15).any(|w| w == b"\x09wireshark\x03org\x00"));
    assert!(bytes.windows(6).any(|w| w == [0, 4, 128, 121, 50, 122]));
    let r = run(&p);
    assert_eq!(r.stats.records, 2);
    assert_eq!(r.events.len(), 2);
    let Event::Dns(d) = &r.events[0].1 else {
        panic!("first event {:?}", r.events[0])
    };
    assert_eq!(d.query, "wireshark.org");
    assert_eq!(d.qtype.as_deref(), Some("A"));
    assert_eq!(d.rcode.as_deref(), Some("NOERROR"));
    assert_eq!(d.answers, vec!["128.121.50.122"]);
    assert_eq!(d.dport, 53);
    assert_eq!(r.events[0].0.line, 1, "the query packet is the evidence");
    let Event::Flow(f) = &r.events[1].1 else {
        panic!()
    };
    assert_eq!(
        (f.src, f.sport, f.dst, f.dport),
        (d.src, d.sport, d.dst, d.dport)
    );
    assert_eq!((f.proto, f.packets), (Proto::Udp, 2));
}

#[test]
fn cryptowall_c2_posts() {
    let Some(p) = shared("pcaps/chrissanders-packets/cryptowall4_c2.pcapng") else {
        return;
    };
    let r = run(&p);
    let c2: std::net::IpAddr = "184.170.149.44".parse().unwrap();
    let posts: Vec<_> = r
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Http(h) => Some(h),
            _ => None,
        })
        .collect();
    // PROVENANCE: HTTP POSTs to 184.170.149.44 (homealldaylong.com/76N1Lm.php?...).
    assert_eq!(posts.len(), 3);
    for h in &posts {
        assert_eq!(h.dst, c2);
        assert_eq!(h.method.as_deref(), Some("POST"));
        assert_eq!(h.host.as_deref(), Some("homealldaylong.com"));
        assert!(h.uri.as_deref().unwrap().starts_with("/76N1Lm.php?"));
        assert_eq!(h.status, Some(200));
        let fi = flow_index(&r, h.src, h.sport, h.dst, h.dport);
        let hi = r
            .events
            .iter()
            .position(|(_, e)| matches!(e, Event::Http(x) if x == *h))
            .unwrap();
        assert!(hi < fi);
    }
    let f = flows(&r);
    assert_eq!(f.len(), 3);
    assert!(
        f.iter()
            .all(|f| f.dst == c2 && f.dport == 80 && f.proto == Proto::Tcp)
    );
    assert_eq!(f.iter().map(|f| f.packets).sum::<u64>(), 162);
}

#[test]
fn periodic_https_beacons_have_sni() {
    let Some(p) = shared("slips/dataset/test-cc/test-cc-capture-1.pcap") else {
        return;
    };
    let r = run(&p);
    // PROVENANCE: `curl https://testing.com` every 2 s from 147.32.80.37.
    let src: std::net::IpAddr = "147.32.80.37".parse().unwrap();
    let tls: Vec<_> = r
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Tls(t) => Some(t),
            _ => None,
        })
        .collect();
    assert!(tls.len() > 100, "{}", tls.len());
    for t in &tls {
        assert_eq!(t.server_name.as_deref(), Some("testing.com"));
        assert_eq!((t.src, t.dport), (src, 443));
    }
    let https: Vec<_> = flows(&r).into_iter().filter(|f| f.dport == 443).collect();
    assert_eq!(
        https.len(),
        tls.len(),
        "one ClientHello per HTTPS connection"
    );
    assert!(
        https
            .iter()
            .all(|f| f.src == src && f.dst_bytes > 0 && f.src_bytes > 0)
    );
}

/// Caldera's Manx agent over TCP keeps one connection to its server open for
/// the whole capture; the server writes one byte every ~20 s (its heartbeat,
/// seen in the capture bytes) and, now and then, a task the agent answers.
/// The flow is one record; its exchanges show the heartbeat, and the TCP
/// keep-alive probes in between (no payload) make none.
#[test]
fn exchanges_show_the_heartbeat_inside_one_connection() {
    let Some(p) = shared("pcaps/corelight-zeek-caldera-detector/testing/Traces/manx-tcp.pcap")
    else {
        eprintln!("skipped: caldera manx-tcp.pcap absent");
        return;
    };
    let r = run(&p);
    let session: Vec<_> = flows(&r).into_iter().filter(|f| f.dport == 7010).collect();
    assert_eq!(session.len(), 1, "{session:?}");
    let s = session[0];
    assert!(s.duration > 700_000_000, "{s:?}");
    let xs: Vec<_> = r
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Exchange(x) if x.dport == 7010 && x.sport == s.sport => Some(x),
            _ => None,
        })
        .collect();
    assert!(xs.len() >= 35, "{}", xs.len());
    assert!(xs.iter().enumerate().all(|(i, x)| x.index as usize == i));
    assert!(xs.iter().all(|x| x.src_bytes + x.dst_bytes > 0));
    // New payload only: the exchanges hold no more than the flow's bytes.
    assert!(xs.iter().map(|x| x.src_bytes).sum::<u64>() <= s.src_bytes);
    assert!(xs.iter().map(|x| x.dst_bytes).sum::<u64>() <= s.dst_bytes);
    let mut gaps: Vec<i64> = xs.windows(2).map(|w| w[1].ts - w[0].ts).collect();
    gaps.sort_unstable();
    let median = gaps[gaps.len() / 2];
    assert!((19_000_000..=21_000_000).contains(&median), "{gaps:?}");
    // Every exchange is an event before the flow's own.
    let flow_at = r
        .events
        .iter()
        .position(|(_, e)| matches!(e, Event::Flow(f) if f.dport == 7010))
        .expect("flow");
    assert!(
        r.events[flow_at..]
            .iter()
            .all(|(_, e)| !matches!(e, Event::Exchange(x) if x.dport == 7010))
    );
}

/// Writes `bytes` to a temp file and reads it as a capture.
fn run_file(name: &str, bytes: &[u8]) -> (Result<InputStats, IngestError>, Vec<Diagnostic>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let planned = PlannedInput {
        path,
        format: Format::Pcap,
    };
    let mut sink = Collect::default();
    let mut diags = Vec::new();
    let res = read_input(0, &planned, &mut sink, &mut |d| diags.push(d));
    (res, diags, sink.events.len())
}

#[test]
fn truncated_captures_keep_the_packets_before_the_cut() {
    for rel in [
        "slips/dataset/test7-malicious.pcap",
        "pcaps/chrissanders-packets/ek_to_cryptowall4.pcapng",
    ] {
        let Some(p) = shared(rel) else { continue };
        let bytes = std::fs::read(&p).unwrap();
        let (_, starts) = independent_walk(&bytes);
        let cut = starts[100] + 30; // inside the 101st packet
        let (res, diags, events) = run_file("cut.pcap", &bytes[..cut]);
        let s = res.expect("a cut capture is still read");
        assert_eq!(s.records + s.skipped, 100, "{rel}");
        assert_eq!(s.malformed, 1, "{rel}");
        assert!(events > 0);
        assert_eq!(
            diags
                .iter()
                .filter(|d| d.reason.contains("cut mid-record"))
                .count(),
            1,
            "{diags:?}"
        );
        assert!(diags.iter().any(|d| d.line == 101), "{diags:?}");
    }
}

#[test]
fn garbage_after_a_valid_header_is_malformed() {
    let Some(p) = shared("slips/dataset/test7-malicious.pcap") else {
        return;
    };
    let bytes = std::fs::read(&p).unwrap();
    let (_, starts) = independent_walk(&bytes);
    // Header and 3 good packets, then a record header claiming 3 GiB.
    let mut b = bytes[..starts[3]].to_vec();
    b.extend_from_slice(&[0xff; 64]);
    let (res, diags, _) = run_file("garbage.pcap", &b);
    let s = res.expect("readable");
    assert_eq!(s.records + s.skipped, 3);
    assert_eq!(s.malformed, 1, "{diags:?}");
    // Only a file header: no packets, no error.
    let (res, _, events) = run_file("header-only.pcap", &bytes[..24]);
    assert_eq!(res.expect("readable").records, 0);
    assert_eq!(events, 0);
    // A cut file header is not a capture.
    let (res, _, _) = run_file("short.pcap", &bytes[..10]);
    assert!(
        matches!(res, Err(IngestError::UnknownFormat { .. })),
        "{res:?}"
    );
}

#[test]
fn gzip_capture_reads_like_the_plain_one() {
    use std::io::Write;
    let Some(p) = shared("pcaps/chrissanders-packets/http_google.pcapng") else {
        return;
    };
    let bytes = std::fs::read(&p).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let (plain_res, plain) = run_bytes(&bytes);
    let (gz_res, zipped) = run_bytes(&gz);
    assert!(gz_res.as_ref().unwrap().gzip && !plain_res.as_ref().unwrap().gzip);
    assert_eq!(plain.events, zipped.events);
    assert_eq!(plain.stats.records, 12);
    let host = plain.events.iter().find_map(|(_, e)| match e {
        Event::Http(h) => h.host.clone(),
        _ => None,
    });
    assert_eq!(host.as_deref(), Some("www.google.com"));
    // Truncated gzip: the packets inflated so far are kept, one diagnostic.
    let (res, diags, _) = run_file("cut.pcap.gz", &gz[..gz.len() * 2 / 3]);
    let s = res.expect("readable");
    assert!(s.records > 0 && s.records < 12, "{s:?}");
    assert!(s.malformed >= 1);
    assert!(
        diags
            .iter()
            .any(|d| d.reason.contains("gzip") || d.reason.contains("cut")),
        "{diags:?}"
    );
}

#[test]
fn explore_one() {
    let Ok(f) = std::env::var("PCAP_SHOW") else {
        return;
    };
    let r = run(Path::new(&f));
    for (rec, e) in &r.events {
        eprintln!("{} {:?}", rec.line, e);
    }
}
