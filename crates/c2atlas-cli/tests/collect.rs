//! `c2atlas collect` end to end: a real process on 127.0.0.1, fed real NetFlow
//! v9 datagrams (produced by nfdump's `nfreplay` from a real nfcapd file and
//! captured here) interleaved with random and malformed datagrams from another
//! loopback address; checked through `/metrics` and `census.json`, stopped
//! with SIGTERM, restarted on the same state directory.
//! Skips with a message when the nfdump tools or the shared data are absent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

mod common;
use common::{bin, db_dir, run_ok, shared};

const NFCAPD: &str = "slips/dataset/test1-malicious.nfdump";
/// Flows in the file (`nfdump -I`).
const FLOWS: u64 = 4593;
/// An overseas address the file's hosts talk to (nfdump -s dstip): the "controller" of the test feed.
const CONTROLLER: &str = "50.62.139.155";

/// The v9 datagrams nfreplay sends for the (1.7-converted) test file.
fn nfreplay_datagrams(dir: &Path) -> Option<Vec<Vec<u8>>> {
    let src = shared(NFCAPD)?;
    if Command::new("nfreplay").arg("-V").output().is_err() {
        eprintln!("SKIP: nfreplay is not installed (scripts/setup.sh installs nfdump)");
        return None;
    }
    let conv = dir.join("conv.nfcapd");
    let st = Command::new("nfdump")
        .arg("-r")
        .arg(&src)
        .arg("-w")
        .arg(&conv)
        .status()
        .ok()?;
    assert!(st.success());
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    let port = sock.local_addr().expect("addr").port().to_string();
    let mut child = Command::new("nfreplay")
        .args(["-v", "9", "-H", "127.0.0.1", "-d", "200", "-p", &port, "-r"])
        .arg(&conv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nfreplay");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    assert!(child.wait().expect("nfreplay").success());
    Some(out)
}

/// Random and malformed datagrams (deterministic xorshift stream).
fn junk(real: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut v = Vec::new();
    for i in 0..200 {
        let len = (next() % 1500) as usize;
        v.push((0..len).map(|_| next() as u8).collect());
        // Truncated copies of real datagrams.
        let r = &real[i % real.len()];
        v.push(r[..(next() as usize % r.len())].to_vec());
    }
    // IPFIX template bomb, v9 bogus flowset length, sFlow sample count lie, bogus IPFIX length.
    let mut bomb = vec![
        0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0xff, 0xff, 1, 0, 0xff, 0xff,
    ];
    bomb.extend(std::iter::repeat_n(0u8, 1000));
    let blen = bomb.len() as u16;
    bomb[2..4].copy_from_slice(&blen.to_be_bytes());
    v.push(bomb);
    let mut v9 = real[0].clone();
    v9[22] = 0xff;
    v9[23] = 0xff;
    v.push(v9);
    let mut sflow = vec![
        0, 0, 0, 5, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    ];
    sflow.extend_from_slice(&u32::MAX.to_be_bytes());
    v.push(sflow);
    v.push(vec![0, 10, 0xff, 0xff, 0, 0, 0, 0]);
    v
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn http_get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

struct Collector {
    child: Child,
    lines: Receiver<String>,
    port: u16,
    metrics: String,
}

fn start(state: &Path, feed: &Path, db: &Path) -> Collector {
    let mport = free_tcp_port();
    let metrics = format!("127.0.0.1:{mport}");
    let mut child = bin()
        .args([
            "collect",
            "--listen",
            "127.0.0.1:0",
            "--snapshot-interval",
            "500ms",
        ])
        .args([
            "--home-net",
            "147.32.0.0/16",
            "--detect",
            "intel",
            "--metrics-listen",
            &metrics,
        ])
        .arg("--state-dir")
        .arg(state)
        .arg("--intel")
        .arg(feed)
        .arg("--country-db")
        .arg(db.join("country/geo-whois-asn-country.mmdb"))
        .arg("--asn-db")
        .arg(db.join("asn"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start collect");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        let l = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("collect printed its listening address");
        if let Some(rest) = l.strip_prefix("c2atlas: listening on udp ") {
            let addr: SocketAddr = rest
                .split(' ')
                .next()
                .and_then(|a| a.parse().ok())
                .expect("addr");
            break addr.port();
        }
    };
    Collector {
        child,
        lines: rx,
        port,
        metrics,
    }
}

impl Collector {
    /// Waits until `/metrics` says `want` records came from 127.0.0.1.
    fn wait_records(&self, want: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(m) = http_get(&self.metrics) {
                let got = metric(&m, "c2atlas_exporter_records_total{exporter=\"127.0.0.1\"}");
                if got == Some(want as f64) {
                    return m;
                }
            }
            assert!(
                Instant::now() < deadline,
                "collector never reached {want} records"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(mut self) -> Vec<String> {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill")
                .success()
        );
        let st = self.child.wait().expect("wait");
        assert!(st.success(), "collect exit status {st:?}");
        self.lines.try_iter().collect()
    }
}

fn census(state: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(state.join("census.json")).expect("census.json");
    serde_json::from_str(&text).expect("census.json is JSON")
}

fn send(to: u16, from: &UdpSocket, dgrams: &[Vec<u8>]) {
    for d in dgrams {
        from.send_to(d, ("127.0.0.1", to)).expect("send");
        std::thread::sleep(Duration::from_micros(300));
    }
}

#[test]
fn collect_counts_real_netflow_among_garbage_and_resumes_without_double_counting() {
    let Some(db) = common::db_dir() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(real) = nfreplay_datagrams(dir.path()) else {
        return;
    };
    let feed: PathBuf = dir.path().join("feed.txt");
    std::fs::write(&feed, format!("{CONTROLLER}\n")).expect("feed");
    let state = dir.path().join("state");
    let bad = junk(&real);

    let c = start(&state, &feed, &db);
    let good_sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let bad_sock = UdpSocket::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    // Interleave: every real datagram followed by a few bad ones.
    let per = bad.len().div_ceil(real.len());
    for (i, g) in real.iter().enumerate() {
        send(c.port, &good_sock, std::slice::from_ref(g));
        let lo = (i * per).min(bad.len());
        send(c.port, &bad_sock, &bad[lo..(lo + per).min(bad.len())]);
    }
    let m = c.wait_records(FLOWS);
    let malformed = metric(
        &m,
        "c2atlas_exporter_malformed_total{exporter=\"127.0.0.2\"}",
    )
    .expect("metric");
    assert!(
        malformed >= 50.0,
        "malformed datagrams counted: {malformed}"
    );
    assert_eq!(
        metric(
            &m,
            "c2atlas_exporter_malformed_total{exporter=\"127.0.0.1\"}"
        ),
        Some(0.0)
    );
    assert_eq!(metric(&m, "c2atlas_queue_dropped_total"), Some(0.0));
    assert!(metric(&m, "c2atlas_templates").is_some_and(|t| t >= 1.0));
    // A snapshot taken while running already has them.
    std::thread::sleep(Duration::from_millis(1200));
    let running = census(&state);
    let input = &running["inputs"][0];
    assert_eq!(input["format"], "netflow");
    assert!(input["records"].as_u64().expect("records") >= FLOWS);
    let log = c.stop();
    assert!(
        log.iter().any(|l| l.contains("c2atlas: stopped:")),
        "{log:?}"
    );

    let first = census(&state);
    let recs1 = first["inputs"][0]["records"].as_u64().expect("records");
    let flows1 = relationship_flows(&state);
    assert!(flows1 > 0, "the controller of the feed is found");
    if cfg!(feature = "parquet") {
        // The relationships are also snapshotted as day-partitioned Parquet.
        let days: Vec<_> = std::fs::read_dir(state.join("relationships"))
            .expect("relationships/ written at exit")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("day="))
            .collect();
        assert!(!days.is_empty(), "a day=YYYY-MM-DD partition");
        assert!(
            days.iter()
                .all(|d| d.path().join("part-00000.parquet").is_file())
        );
    }
    assert_eq!(
        first["c2"]["controllers"]["overseas"].as_u64(),
        Some(1),
        "{}",
        first["c2"]
    );

    // Restart, no traffic: same figures (nothing doubled).
    let c = start(&state, &feed, &db);
    std::thread::sleep(Duration::from_millis(1200));
    c.stop();
    let again = census(&state);
    assert_eq!(again["inputs"][0]["records"].as_u64(), Some(recs1));
    assert_eq!(again["c2"], first["c2"]);
    assert_eq!(relationship_flows(&state), flows1);

    // Restart and replay the same flows: everything counted exactly twice.
    let c = start(&state, &feed, &db);
    send(c.port, &good_sock, &real);
    c.wait_records(FLOWS);
    c.stop();
    let twice = census(&state);
    assert_eq!(twice["inputs"][0]["records"].as_u64(), Some(recs1 + FLOWS));
    assert_eq!(relationship_flows(&state), 2 * flows1);
    assert_eq!(twice["c2"]["controllers"]["overseas"].as_u64(), Some(1));
}

/// Flows of the (single) relationship with the test controller, summed over victims.
fn relationship_flows(state: &Path) -> u64 {
    let text = std::fs::read_to_string(state.join("state.jsonl")).expect("state.jsonl");
    text.lines()
        .skip(1)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .filter(|r| r["controller"] == CONTROLLER)
        .map(|r| r["flows"].as_u64().expect("flows"))
        .sum()
}

/// `bench --only collect`: the simulated day's IPFIX replayed over loopback into a real
/// collector process; the row accounts for every record sent (decoded + lost = sent).
#[test]
fn bench_collect_row_accounts_for_every_record() {
    if db_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run_ok(
        bin()
            .args(["bench", "--scale", "small", "--only", "collect"])
            .args(["--collect-rate", "200000", "--dir"])
            .arg(tmp.path()),
    );
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("collect-udp"))
        .unwrap_or_else(|| panic!("no collect-udp row in:\n{table}"));
    let num = |after: &str| -> u64 {
        row.split(after)
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no `{after}` in {row}"))
    };
    let sent = num("records/s (");
    let decoded = num("decoded ");
    let lost = num("lost ");
    assert!(sent > 100_000, "{row}");
    assert_eq!(decoded + lost, sent, "{row}");
    // The row's record count is the collector's own count of decoded records.
    let records: u64 = row
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(records, decoded, "{row}");
}
