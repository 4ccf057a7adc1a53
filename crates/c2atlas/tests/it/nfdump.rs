//! nfcapd files: our reader against nfdump's own reader (`nfdump -r FILE -o csv`), on the real
//! nfdump 1.6 file of the Slips dataset and on files made at test time with nfdump's tools
//! (nfdump 1.7 layout, every block compression nfdump writes, nfpcapd from a real capture).
//! Tests skip with a message when the shared data or the nfdump tools are absent.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use c2atlas::ingest::nfdump::block::BLOCK_HEADER_BYTES;
use c2atlas::ingest::nfdump::record::FlowRecord;
use c2atlas::ingest::nfdump::{self as nf, NfcapdCounts};
use c2atlas::ingest::{Diagnostic, Format, PlannedInput, Sink, plan_inputs, read_input};
use c2atlas::model::{Event, RecordRef};
use proptest::prelude::*;

use crate::common::shared;

const REAL: &str = "slips/dataset/test1-malicious.nfdump";

/// Whether nfdump's tools are installed (scripts/setup.sh installs them).
fn have_nfdump() -> bool {
    let ok = Command::new("nfdump")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIP: nfdump is not installed (scripts/setup.sh installs it)");
    }
    ok
}

/// Runs nfdump with `args`, in UTC; returns stdout.
fn nfdump(args: &[&str]) -> String {
    let out = Command::new("nfdump")
        .env("TZ", "UTC")
        .args(args)
        .output()
        .expect("nfdump runs");
    assert!(
        out.status.success(),
        "nfdump {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// One flow as nfdump's CSV prints it (the fields we read).
#[derive(Clone, Debug, PartialEq, Eq)]
struct CsvFlow {
    ts: i64,
    te: i64,
    td_ms: u64,
    sa: IpAddr,
    da: IpAddr,
    sp: u16,
    dp: String,
    pr: String,
    flg: String,
    ipkt: u64,
    ibyt: u64,
    opkt: u64,
    obyt: u64,
}

/// Seconds since the epoch of `YYYY-MM-DD HH:MM:SS` (UTC).
fn epoch(s: &str) -> i64 {
    let d: Vec<i64> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|x| !x.is_empty())
        .map(|x| x.parse().expect("digits"))
        .collect();
    let days = c2atlas::time::days_from_civil(d[0], d[1] as u32, d[2] as u32);
    days * 86_400 + d[3] * 3600 + d[4] * 60 + d[5]
}

/// Parses `nfdump -o csv` (header, rows, then the Summary block).
fn parse_csv(text: &str) -> Vec<CsvFlow> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    let (ts, te, td, sa, da, sp, dp, pr, flg) = (
        col("ts"),
        col("te"),
        col("td"),
        col("sa"),
        col("da"),
        col("sp"),
        col("dp"),
        col("pr"),
        col("flg"),
    );
    let (ipkt, ibyt, opkt, obyt) = (col("ipkt"), col("ibyt"), col("opkt"), col("obyt"));
    let mut out = Vec::new();
    for l in lines {
        if l.starts_with("Summary") || l.is_empty() {
            break;
        }
        let f: Vec<&str> = l.split(',').collect();
        let td_s: f64 = f[td].trim().parse().expect("td");
        out.push(CsvFlow {
            ts: epoch(f[ts]),
            te: epoch(f[te]),
            td_ms: (td_s * 1000.0).round() as u64,
            sa: f[sa].parse().expect("sa"),
            da: f[da].parse().expect("da"),
            sp: f[sp].parse().expect("sp"),
            dp: f[dp].to_string(),
            pr: proto_number(f[pr].trim()),
            flg: f[flg].to_string(),
            ipkt: f[ipkt].parse().expect("ipkt"),
            ibyt: f[ibyt].parse().expect("ibyt"),
            opkt: f[opkt].parse().expect("opkt"),
            obyt: f[obyt].parse().expect("obyt"),
        });
    }
    out
}

/// The protocol number of nfdump's protocol column (a name from its table, or a number).
fn proto_number(s: &str) -> String {
    let n = match s {
        "ICMP" => 1,
        "IGMP" => 2,
        "TCP" => 6,
        "UDP" => 17,
        "GRE" => 47,
        "ESP" => 50,
        "AH" => 51,
        "ICMP6" => 58,
        "OSPF" => 89,
        "PIM" => 103,
        "SCTP" => 132,
        n => n
            .parse::<u8>()
            .unwrap_or_else(|_| panic!("protocol name {n:?} not in the test's table")),
    };
    n.to_string()
}

/// nfdump's TCP flag string (`UAPRSF` in positions, `.` when unset; CWR/ECE first).
fn flags(f: u8) -> String {
    let names = ['C', 'E', 'U', 'A', 'P', 'R', 'S', 'F'];
    (0..8)
        .map(|i| if f & (0x80 >> i) != 0 { names[i] } else { '.' })
        .collect()
}

/// Our record in nfdump's CSV terms.
fn as_csv(r: &FlowRecord) -> CsvFlow {
    let icmp = r.proto == 1 || r.proto == 58;
    CsvFlow {
        ts: (r.first_ms / 1000) as i64,
        te: (r.last_ms / 1000) as i64,
        td_ms: r.last_ms.saturating_sub(r.first_ms),
        sa: r.src,
        da: r.dst,
        sp: if icmp { 0 } else { r.sport },
        dp: if icmp {
            format!("{}.{}", r.dport >> 8, r.dport & 0xff)
        } else {
            r.dport.to_string()
        },
        pr: r.proto.to_string(),
        flg: if r.proto == 6 {
            flags(r.tcp_flags)
        } else {
            flags(0)
        },
        ipkt: r.in_packets,
        ibyt: r.in_bytes,
        opkt: r.out_packets,
        obyt: r.out_bytes,
    }
}

/// Reads a file with our reader: its flows and counts; diagnostics collected.
fn ours(path: &Path) -> (Vec<FlowRecord>, NfcapdCounts, Vec<Diagnostic>) {
    let mut flows = Vec::new();
    let mut diags = Vec::new();
    let mut f = std::fs::File::open(path).expect("open");
    let counts = nf::read_flows(path, &mut f, &mut |_, r| flows.push(*r), &mut |d| {
        diags.push(d)
    })
    .expect("readable nfcapd file");
    (flows, counts, diags)
}

/// Every flow of `path` equals nfdump's CSV of it, field by field, in order.
fn assert_same_as_nfdump(path: &Path) -> usize {
    let want = parse_csv(&nfdump(&["-r", path.to_str().expect("path"), "-o", "csv"]));
    let (got, counts, diags) = ours(path);
    assert_eq!(counts.malformed, 0, "{diags:?}");
    assert_eq!(got.len(), want.len(), "{}: flow count", path.display());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(&as_csv(g), w, "{} flow {}", path.display(), i + 1);
    }
    got.len()
}

#[test]
fn real_nfdump_1_6_file_matches_nfdump() {
    let Some(file) = shared(REAL) else { return };
    let (flows, counts, diags) = ours(&file);
    // `nfdump -r FILE -I` of this file: "Flows: 4593".
    assert_eq!(counts.records, 4593, "{diags:?}");
    assert_eq!(counts.malformed, 0);
    assert_eq!(flows.len(), 4593);
    if have_nfdump() {
        assert_same_as_nfdump(&file);
    }
}

/// The file through the ingest driver: format detected from content, events and evidence numbers.
#[test]
fn driver_detects_nfcapd_and_numbers_records() {
    let Some(file) = shared(REAL) else { return };
    assert_eq!(
        c2atlas::ingest::detect_format(&file).expect("detect"),
        Format::Nfcapd
    );
    struct Collect(Vec<(RecordRef, u64, u64)>);
    impl Sink for Collect {
        fn event(&mut self, rec: RecordRef, ev: &Event<'_>) {
            if let Event::Flow(f) = ev {
                self.0.push((rec, f.src_bytes, f.packets));
            }
        }
    }
    let mut sink = Collect(Vec::new());
    let planned = PlannedInput {
        path: file.clone(),
        format: Format::Nfcapd,
    };
    let stats = read_input(3, &planned, &mut sink, &mut |d| panic!("{d}")).expect("read");
    assert_eq!(stats.records, 4593);
    assert_eq!(stats.format.as_str(), "nfcapd");
    assert_eq!(sink.0.len(), 4593);
    let lines: Vec<u64> = sink.0.iter().map(|(r, _, _)| r.line).collect();
    assert_eq!(lines, (1..=4593).collect::<Vec<u64>>());
    assert!(sink.0.iter().all(|(r, _, _)| r.input == 3));
    // Totals agree with the file's own statistics (`nfdump -I`: Bytes 241025, Packets 4652).
    let bytes: u64 = sink.0.iter().map(|(_, b, _)| b).sum();
    let packets: u64 = sink.0.iter().map(|(_, _, p)| p).sum();
    assert_eq!((bytes, packets), (241_025, 4652));
}

/// The real file rewritten by nfdump 1.7 in its own layout, with every compression it writes.
#[test]
fn nfdump_1_7_layout_in_every_compression_matches_nfdump() {
    let Some(file) = shared(REAL) else { return };
    if !have_nfdump() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let src = file.to_str().expect("path");
    let mut sizes = BTreeMap::new();
    for (name, flag, codec) in [
        ("plain", None, 0u8),
        ("lzo", Some("-z"), 1),
        ("bz2", Some("-j"), 2),
        ("lz4", Some("-y"), 3),
    ] {
        let out = tmp.path().join(name);
        let o = out.to_str().expect("path");
        let mut args = vec!["-r", src, "-w", o];
        args.extend(flag);
        nfdump(&args);
        let bytes = std::fs::read(&out).expect("written");
        assert_eq!(&bytes[..4], &[0x0c, 0xa5, 2, 0], "{name}: layout 2");
        assert_eq!(bytes[16], codec, "{name}: compression byte");
        assert_eq!(assert_same_as_nfdump(&out), 4593, "{name}");
        sizes.insert(name, bytes.len());
    }
    assert!(sizes["lz4"] < sizes["plain"] && sizes["bz2"] < sizes["plain"]);
}

/// Splits a layout-2 file into (header, blocks as (header+payload) byte ranges).
fn blocks_of(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut at = 40;
    let mut out = Vec::new();
    while at + BLOCK_HEADER_BYTES <= bytes.len() {
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4")) as usize;
        out.push(at..at + BLOCK_HEADER_BYTES + size);
        at += BLOCK_HEADER_BYTES + size;
    }
    out
}

/// A layout-2 file whose data blocks are the first block of `bytes` repeated
/// `n` times (the appendix dropped), recompressed with `codec` when given.
fn multi_block(bytes: &[u8], n: u32) -> Vec<u8> {
    let first = blocks_of(bytes)[0].clone();
    let mut out = bytes[..40].to_vec();
    out[36..40].copy_from_slice(&n.to_le_bytes());
    out[18..20].copy_from_slice(&0u16.to_le_bytes()); // no appendix
    out[24..32].copy_from_slice(&0u64.to_le_bytes());
    for _ in 0..n {
        out.extend_from_slice(&bytes[first.clone()]);
    }
    out
}

/// ZSTD: nfdump 1.7.1 cannot write it, so the uncompressed layout-2 file's
/// blocks are recompressed here; nfdump reads the result (when built with
/// ZSTD) and so do we, with the same flows.
#[test]
fn zstd_blocks_read_like_the_uncompressed_file() {
    let Some(file) = shared(REAL) else { return };
    if !have_nfdump() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let plain = tmp.path().join("plain");
    nfdump(&[
        "-r",
        file.to_str().expect("p"),
        "-w",
        plain.to_str().expect("p"),
    ]);
    let bytes = std::fs::read(&plain).expect("plain");
    let mut z = bytes[..40].to_vec();
    z[16] = 4;
    for b in blocks_of(&bytes) {
        let payload = &bytes[b.start + BLOCK_HEADER_BYTES..b.end];
        let c = zstd::bulk::compress(payload, 3).expect("zstd");
        z.extend_from_slice(&bytes[b.start..b.start + 4]);
        z.extend_from_slice(&(c.len() as u32).to_le_bytes());
        z.extend_from_slice(&bytes[b.start + 8..b.start + BLOCK_HEADER_BYTES]);
        z.extend_from_slice(&c);
    }
    let zf = tmp.path().join("zstd");
    std::fs::write(&zf, &z).expect("write");
    let (want, _, _) = ours(&plain);
    let (got, counts, diags) = ours(&zf);
    assert_eq!(counts.malformed, 0, "{diags:?}");
    assert_eq!(got, want);
    assert_eq!(got.len(), 4593);
    // nfdump's own reader agrees, when it was built with ZSTD.
    let o = Command::new("nfdump")
        .env("TZ", "UTC")
        .args(["-r", zf.to_str().expect("p"), "-o", "csv"])
        .output()
        .expect("nfdump");
    let text = String::from_utf8_lossy(&o.stdout);
    let readable = text.starts_with("ts,")
        && text
            .lines()
            .nth(1)
            .is_some_and(|l| l.split(',').count() > 10);
    if o.status.success() && readable {
        assert_same_as_nfdump(&zf);
    } else {
        eprintln!(
            "note: this nfdump cannot read ZSTD files; compared with the uncompressed file only"
        );
    }
}

/// A corrupted block is counted and skipped; the blocks around it are read whole.
#[test]
fn corrupt_block_is_skipped_and_its_neighbours_read() {
    let Some(file) = shared(REAL) else { return };
    if !have_nfdump() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let lz4 = tmp.path().join("lz4");
    nfdump(&[
        "-r",
        file.to_str().expect("p"),
        "-y",
        "-w",
        lz4.to_str().expect("p"),
    ]);
    let three = multi_block(&std::fs::read(&lz4).expect("lz4"), 3);
    let f3 = tmp.path().join("three");
    std::fs::write(&f3, &three).expect("write");
    // nfdump itself reads the three-block file as three copies.
    assert_eq!(
        parse_csv(&nfdump(&["-r", f3.to_str().expect("p"), "-o", "csv"])).len(),
        3 * 4593
    );
    assert_eq!(ours(&f3).0.len(), 3 * 4593);

    // Garbage in the middle block's payload: that block fails to decompress.
    let mid = blocks_of(&three)[1].clone();
    let mut bad = three.clone();
    for b in &mut bad[mid.start + BLOCK_HEADER_BYTES + 10..mid.start + BLOCK_HEADER_BYTES + 200] {
        *b = 0xff;
    }
    let fb = tmp.path().join("bad");
    std::fs::write(&fb, &bad).expect("write");
    let (flows, counts, diags) = ours(&fb);
    assert_eq!(flows.len(), 2 * 4593, "{diags:?}");
    // The damaged block either fails to decompress or decompresses to records that do not fit:
    // either way it is counted (at most its 4593 records) and named.
    assert_eq!(counts.bad_blocks, 1);
    assert!(
        (1..=4593).contains(&counts.malformed),
        "{}",
        counts.malformed
    );
    assert!(
        diags
            .iter()
            .any(|d| d.reason.contains("block 2")
                && d.reason.contains(&format!("offset {}", mid.start))),
        "{diags:?}"
    );

    // Cut inside the last block: the first two are read, the cut is reported.
    let cut = &three[..three.len() - 100];
    let fc = tmp.path().join("cut");
    std::fs::write(&fc, cut).expect("write");
    let (flows, counts, diags) = ours(&fc);
    assert_eq!(flows.len(), 2 * 4593);
    assert_eq!(counts.malformed, 1);
    assert!(
        diags
            .iter()
            .any(|d| d.reason.contains("file ends inside the block")),
        "{diags:?}"
    );
}

/// nfpcapd turns a real capture into nfcapd files; a directory walk reads
/// them (skipping nfcapd's in-progress file) with the flows `nfdump -R` prints.
#[test]
fn nfpcapd_directory_matches_nfdump_recursive() {
    let Some(pcaps) = shared("pcaps") else { return };
    if !have_nfdump() {
        return;
    }
    let mut caps: Vec<PathBuf> = Vec::new();
    collect(&pcaps, &mut caps);
    caps.retain(|p| p.extension().is_some_and(|e| e == "pcap"));
    caps.sort_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
    let Some(cap) = caps
        .iter()
        .rev()
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() < 20_000_000))
    else {
        eprintln!("SKIP: no pcap under {}", pcaps.display());
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("flows");
    std::fs::create_dir(&dir).expect("mkdir");
    let o = Command::new("nfpcapd")
        .env("TZ", "UTC")
        .arg("-r")
        .arg(cap)
        .arg("-l")
        .arg(&dir)
        .output()
        .expect("nfpcapd runs");
    assert!(
        o.status.success(),
        "nfpcapd: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut files = Vec::new();
    collect(&dir, &mut files);
    assert!(
        !files.is_empty(),
        "nfpcapd wrote no file from {}",
        cap.display()
    );
    // An in-progress file next to them is skipped with a note.
    std::fs::copy(&files[0], dir.join("nfcapd.current.4242")).expect("copy");

    let want = parse_csv(&nfdump(&["-R", dir.to_str().expect("p"), "-o", "csv"]));
    let mut warnings = Vec::new();
    let planned = plan_inputs(std::slice::from_ref(&dir), None, &mut warnings).expect("plan");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("in-progress") && w.contains("nfcapd.current.4242")),
        "{warnings:?}"
    );
    assert!(planned.iter().all(|p| p.format == Format::Nfcapd));
    assert_eq!(planned.len(), files.len());
    let mut got = Vec::new();
    for p in &planned {
        let (flows, counts, diags) = ours(&p.path);
        assert_eq!(counts.malformed, 0, "{diags:?}");
        got.extend(flows.iter().map(as_csv));
    }
    // nfdump -R prints the files in the same (name) order.
    assert_eq!(got.len(), want.len(), "{}", cap.display());
    assert!(!got.is_empty());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "flow {} of {}", i + 1, cap.display());
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A small valid two-block nfcapd file (layout 2, LZ4) made from the real file, or None.
fn small_file() -> Option<Vec<u8>> {
    let file = shared(REAL)?;
    if !have_nfdump() {
        return None;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let lz4 = tmp.path().join("lz4");
    nfdump(&["-r", file.to_str()?, "-y", "-c", "300", "-w", lz4.to_str()?]);
    Some(multi_block(&std::fs::read(&lz4).ok()?, 3))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random damage anywhere never panics; damage confined to one block leaves the others whole.
    #[test]
    fn random_corruption_never_panics_and_spares_good_blocks(
        pos in any::<prop::sample::Index>(),
        len in 1usize..64,
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        thread_local!(static FILE: Option<Vec<u8>> = small_file());
        let Some(good) = FILE.with(|f| f.clone()) else { return Ok(()); };
        let blocks = blocks_of(&good);
        let per_block = 300usize;
        let mut bad = good.clone();
        let start = pos.index(bad.len());
        let end = (start + len).min(bad.len());
        for b in &mut bad[start..end] { *b ^= byte | 1; }
        let (flows, _c, _d) = {
            let mut flows = Vec::new();
            let r = nf::read_flows(Path::new("x"), &mut bad.as_slice(), &mut |_, f| flows.push(*f), &mut |_| {});
            (flows, r, ())
        };
        // Blocks entirely before the damage are read whole.
        let intact_before = blocks.iter().filter(|b| b.end <= start).count();
        if start >= 40 {
            prop_assert!(flows.len() >= intact_before * per_block);
        }
        // Damage inside one block's payload: the other two blocks are read whole.
        if blocks.iter().any(|b| start >= b.start + BLOCK_HEADER_BYTES && end <= b.end) {
            prop_assert!(flows.len() >= 2 * per_block, "{} flows", flows.len());
        }
        // Truncation anywhere: no panic, never more flows than the file has.
        let t = &good[..cut.index(good.len())];
        let mut n = 0usize;
        let _ = nf::read_flows(Path::new("x"), &mut { t }, &mut |_, _| n += 1, &mut |_| {});
        prop_assert!(n <= 3 * per_block);
    }
}

/// nfdump's own CSV of the real file, read through the ingest driver as `nfdump-csv`, gives the
/// same flows (to the second, as the CSV prints them) as the nfcapd reader on the file itself.
#[test]
fn nfdump_csv_reads_like_the_nfcapd_file() {
    let Some(file) = shared(REAL) else { return };
    if !have_nfdump() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let csv = tmp.path().join("flows.csv");
    std::fs::write(
        &csv,
        nfdump(&["-r", file.to_str().expect("p"), "-o", "csv"]),
    )
    .expect("write");
    assert_eq!(
        c2atlas::ingest::detect_format(&csv).expect("detect"),
        Format::NfdumpCsv
    );
    struct Collect(Vec<(u64, c2atlas::model::Flow<'static>)>);
    impl Sink for Collect {
        fn event(&mut self, rec: RecordRef, ev: &Event<'_>) {
            if let Event::Flow(f) = ev {
                let owned = c2atlas::model::Flow {
                    ts: f.ts,
                    duration: f.duration,
                    proto: f.proto,
                    src: f.src,
                    sport: f.sport,
                    dst: f.dst,
                    dport: f.dport,
                    src_bytes: f.src_bytes,
                    dst_bytes: f.dst_bytes,
                    packets: f.packets,
                    label: None,
                };
                self.0.push((rec.line, owned));
            }
        }
    }
    let read = |path: &Path, format| {
        let mut sink = Collect(Vec::new());
        let planned = PlannedInput {
            path: path.to_path_buf(),
            format,
        };
        let stats = read_input(0, &planned, &mut sink, &mut |d| panic!("{d}")).expect("read");
        (stats, sink.0)
    };
    let (cs, from_csv) = read(&csv, Format::NfdumpCsv);
    let (_, from_bin) = read(&file, Format::Nfcapd);
    assert_eq!(cs.records, 4593);
    assert_eq!(cs.malformed, 0);
    assert_eq!(from_csv.len(), from_bin.len());
    for ((line, c), (_, mut b)) in from_csv.into_iter().zip(from_bin) {
        // The CSV prints whole seconds: compare the start to the second, the duration exactly.
        b.ts -= b.ts.rem_euclid(1_000_000);
        assert_eq!(c, b, "CSV line {line}");
    }
}

/// The same traffic through two formats gives the same census: the nfcapd file and nfdump's CSV
/// of it, with the file's DNS server as the "controller" indicator (intel method), give the same
/// relationships with the same flow and byte counts (first/last seen differ only below the second,
/// which the CSV does not print).
#[test]
fn census_from_nfcapd_equals_census_from_its_csv() {
    use c2atlas::census::document;
    use c2atlas::enrich::Home;
    use c2atlas::intel::IntelSet;
    use c2atlas::pipeline::{Detection, Pipeline, Silent};
    let Some(file) = shared(REAL) else { return };
    if !have_nfdump() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let csv = tmp.path().join("flows.csv");
    std::fs::write(
        &csv,
        nfdump(&["-r", file.to_str().expect("p"), "-o", "csv"]),
    )
    .expect("write");
    let census = |input: &Path| {
        let mut intel = IntelSet::new();
        intel
            .load_bytes(b"147.32.82.62\n", "test-list", &mut |_, r| panic!("{r}"))
            .expect("indicators");
        intel.build();
        let p = Pipeline {
            home: Home::new(&[], &["147.32.0.0/16".to_string()]).expect("home"),
            geo: None,
            asn: None,
            intel,
            feeds: vec![],
            evidence_cap: 50,
            detection: Detection {
                methods: "intel".into(),
                ..Detection::default()
            },
        };
        let mut w = Vec::new();
        let planned = plan_inputs(&[input.to_path_buf()], None, &mut w).expect("plan");
        let run = p.run(&planned, &mut Silent).expect("run");
        let (rels, _) = document::relationships(&p, &run);
        rels.into_iter()
            .map(|r| {
                (
                    r.victim,
                    r.controller,
                    r.flows,
                    r.bytes,
                    r.events,
                    r.last_seen[..19].to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let a = census(&file);
    let b = census(&csv);
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

/// The flow gate on a real nfcapd file: with the file's DNS server as the
/// indicator, the gated census equals the ungated one.
#[test]
fn gated_nfcapd_census_equals_full_census() {
    let Some(file) = shared(REAL) else { return };
    let n = crate::netflow::gated_equals_ungated("147.32.82.62\n", "147.32.0.0/16", &[file]);
    assert!(n > 0);
}

/// Everything a reader hands a sink, in order.
#[derive(Debug, PartialEq)]
enum Call {
    Event(RecordRef, String),
    Gated(c2atlas::ingest::gate::Gated),
}

struct Record {
    calls: Vec<Call>,
    gate: Option<c2atlas::ingest::gate::FlowGate>,
}

impl Sink for Record {
    fn event(&mut self, rec: RecordRef, ev: &Event<'_>) {
        self.calls.push(Call::Event(rec, format!("{ev:?}")));
    }
    fn gate(&mut self) -> Option<c2atlas::ingest::gate::FlowGate> {
        self.gate.clone()
    }
    fn gated(&mut self, g: &c2atlas::ingest::gate::Gated) {
        self.calls.push(Call::Gated(*g));
    }
}

/// A gate that passes the /24s of every `k`-th flow's source in `bytes`.
fn gate_of(bytes: &[u8], k: usize) -> Option<c2atlas::ingest::gate::FlowGate> {
    let mut bits = vec![0u64; c2atlas::ingest::gate::GATE_WORDS];
    let mut i = 0usize;
    let _ = nf::read_flows(
        Path::new("x"),
        &mut { bytes },
        &mut |_, f| {
            if let IpAddr::V4(s) = f.src
                && i.is_multiple_of(k)
            {
                let b = (u32::from(s) >> 8) as usize;
                bits[b >> 6] |= 1 << (b & 63);
            }
            i += 1;
        },
        &mut |_| {},
    );
    c2atlas::ingest::gate::FlowGate::from_bits(bits)
}

/// What [`nf::read_threads`] hands on: calls, counts, diagnostics (or the error).
fn read_with(
    bytes: &[u8],
    threads: usize,
    gate: Option<c2atlas::ingest::gate::FlowGate>,
) -> (Vec<Call>, Result<NfcapdCounts, String>, Vec<Diagnostic>) {
    let mut sink = Record {
        calls: Vec::new(),
        gate,
    };
    let mut diags = Vec::new();
    let r = nf::read_threads(
        7,
        Path::new("x"),
        &mut { bytes },
        &mut sink,
        &mut |d| diags.push(d),
        threads,
    )
    .map_err(|e| e.to_string());
    (sink.calls, r, diags)
}

/// Blocks decoded on worker threads give exactly what the one-thread reader gives: the same
/// events with the same record numbers, gated runs, counts and diagnostics, on the real
/// nfdump 1.6 file (extension maps: decoded in turn on the reading thread) and on a
/// many-block 1.7 LZ4 file, gated and not.
#[test]
fn threaded_block_decoding_equals_sequential_on_real_files() {
    let Some(file) = shared(REAL) else { return };
    let Some(good) = small_file() else { return };
    let v16 = std::fs::read(&file).expect("read");
    let many = {
        let tmp = tempfile::tempdir().expect("tmp");
        let lz4 = tmp.path().join("lz4");
        nfdump(&[
            "-r",
            file.to_str().expect("p"),
            "-y",
            "-w",
            lz4.to_str().expect("p"),
        ]);
        multi_block(&std::fs::read(&lz4).expect("lz4"), 9)
    };
    for (name, bytes) in [("1.6", &v16), ("small", &good), ("nine blocks", &many)] {
        for gate in [None, gate_of(bytes, 3)] {
            let want = read_with(bytes, 1, gate.clone());
            assert!(!want.0.is_empty(), "{name}");
            for t in [2, 3, 5] {
                let got = read_with(bytes, t, gate.clone());
                assert!(got == want, "{name}, {t} threads, gate {}", gate.is_some());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Damaged and cut files too: threads change nothing a sink or the diagnostics see.
    #[test]
    fn threaded_block_decoding_equals_sequential_on_damaged_files(
        pos in any::<prop::sample::Index>(),
        len in 1usize..64,
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
        threads in 2usize..5,
        gated in any::<bool>(),
    ) {
        thread_local!(static FILE: Option<Vec<u8>> = small_file());
        let Some(good) = FILE.with(|f| f.clone()) else { return Ok(()); };
        let mut bad = good.clone();
        let start = pos.index(bad.len());
        let end = (start + len).min(bad.len());
        for b in &mut bad[start..end] { *b ^= byte | 1; }
        let bad = &bad[..cut.index(bad.len()).max(start)];
        let gate = if gated { gate_of(&good, 2) } else { None };
        let want = read_with(bad, 1, gate.clone());
        let got = read_with(bad, threads, gate);
        let first_call = got.0.iter().zip(&want.0).position(|(a, b)| a != b);
        let diag_diff: Vec<_> = got.2.iter().zip(&want.2).filter(|(a, b)| a != b).take(2).collect();
        prop_assert!(
            got == want,
            "{:?} vs {:?}; calls {} vs {}, first differing {:?}; diagnostics {} vs {}, differing {:?}",
            got.1,
            want.1,
            got.0.len(),
            want.0.len(),
            first_call,
            got.2.len(),
            want.2.len(),
            diag_diff
        );
    }
}
