//! Integration tests: ingest.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use c2atlas::ingest::{
    Diagnostic, Format, IngestError, InputStats, PlannedInput, Sink, detect_format, plan_inputs,
    read_input,
};
use c2atlas::model::{Event, RecordRef};

use crate::common::shared;

/// Keeps what the tests look at.
#[derive(Default)]
struct Collect {
    flows: u64,
    dns: u64,
    http: u64,
    tls: u64,
    labels: HashMap<String, u64>,
    /// (line, src, dst) of every flow, for the malformed-neighbour checks.
    flow_lines: Vec<(u64, String, String)>,
    botnet_src: HashMap<String, u64>,
    refs: Vec<RecordRef>,
}

impl Sink for Collect {
    fn event(&mut self, rec: RecordRef, ev: &Event<'_>) {
        self.refs.push(rec);
        let label = match ev {
            Event::Flow(f) => {
                self.flows += 1;
                self.flow_lines
                    .push((rec.line, f.src.to_string(), f.dst.to_string()));
                if f.label.as_deref().is_some_and(|l| l.contains("Botnet")) {
                    *self.botnet_src.entry(f.src.to_string()).or_default() += 1;
                }
                &f.label
            }
            Event::Dns(d) => {
                self.dns += 1;
                &d.label
            }
            Event::Http(h) => {
                self.http += 1;
                &h.label
            }
            Event::Tls(t) => {
                self.tls += 1;
                &t.label
            }
            Event::Exchange(_) => return,
        };
        if let Some(l) = label {
            *self.labels.entry(l.to_string()).or_default() += 1;
        }
    }
}

fn read_all(planned: &[PlannedInput]) -> (Collect, Vec<InputStats>, Vec<Diagnostic>) {
    let mut sink = Collect::default();
    let mut diags = Vec::new();
    let mut stats = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        let s = read_input(i as u32, p, &mut sink, &mut |d| diags.push(d))
            .unwrap_or_else(|e| panic!("{}: {e}", p.path.display()));
        stats.push(s);
    }
    (sink, stats, diags)
}

fn read_one(
    path: &Path,
    format: Format,
) -> (Collect, Result<InputStats, IngestError>, Vec<Diagnostic>) {
    let mut sink = Collect::default();
    let mut diags = Vec::new();
    let planned = PlannedInput {
        path: path.to_path_buf(),
        format,
    };
    let r = read_input(0, &planned, &mut sink, &mut |d| diags.push(d));
    (sink, r, diags)
}

/// Non-comment, non-blank lines of a text file (what `grep -vc '^#'` counts).
fn data_lines(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .expect("readable")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count() as u64
}

#[test]
fn ctu13_scenario6_all_slices() {
    let Some(dir) = shared("ctu13/scenario06_menti_capture20110816") else {
        return;
    };
    let mut warnings = Vec::new();
    let planned = plan_inputs(&[dir], None, &mut warnings).expect("plan");
    assert_eq!(planned.len(), 26, "{planned:?}");
    assert!(planned.iter().all(|p| p.format == Format::Binetflow));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("UPSTREAM_README"), "{warnings:?}");
    let (sink, stats, diags) = read_all(&planned);
    // 558,919 flows = 558,719 IP flows + 200 non-IP records (195 arp, 5 ipx/spx),
    // skipped and reported once per file.
    let non_ip: u64 = diags
        .iter()
        .map(|d| {
            let n = d
                .reason
                .strip_prefix("skipped ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok());
            n.unwrap_or_else(|| panic!("unexpected diagnostic {d}"))
        })
        .sum();
    assert_eq!(non_ip, 200);
    assert_eq!(stats.iter().map(|s| s.records).sum::<u64>(), 558_719);
    assert_eq!(stats.iter().map(|s| s.malformed).sum::<u64>(), 0);
    assert_eq!(sink.flows, 558_719);
    // PROVENANCE.md: 4,630 botnet flows, all from 147.32.84.165; 199 C&C flows.
    assert_eq!(sink.botnet_src.len(), 1);
    assert_eq!(sink.botnet_src.get("147.32.84.165"), Some(&4_630));
    let cc: u64 = sink
        .labels
        .iter()
        .filter(|(l, _)| l.contains("CC"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(cc, 199);
    assert_eq!(
        sink.labels
            .get("flow=From-Botnet-V47-TCP-CC73-Not-Encrypted"),
        Some(&199)
    );
    // SHA-256 of the stored bytes matches the dataset manifest.
    let manifest = std::fs::read_to_string(shared("ctu13/MANIFEST.tsv").expect("manifest"))
        .expect("manifest readable");
    let s = stats
        .iter()
        .find(|s| s.path.ends_with("capture20110816.binetflow.slice_10_1"))
        .expect("slice 10_1");
    assert!(manifest.contains(&format!("slice_10_1\t2626624\t{}", s.sha256)));
    assert!(!s.gzip);
}

#[test]
fn slips_binetflow_variants() {
    let Some(dir) = shared("slips/historic_commit_911d3d4/dataset") else {
        return;
    };
    let mut warnings = Vec::new();
    let planned = plan_inputs(&[dir], None, &mut warnings).expect("plan");
    let bf: Vec<_> = planned
        .into_iter()
        .filter(|p| p.format == Format::Binetflow)
        .collect();
    assert_eq!(bf.len(), 5, "{bf:?}");
    let (sink, stats, diags) = read_all(&bf);
    assert_eq!(
        stats.iter().map(|s| s.malformed).sum::<u64>(),
        0,
        "{diags:?}"
    );
    // Non-IP (arp/llc) records are reported once per file, not counted.
    assert!(
        diags.iter().all(|d| d.reason.contains("non-IP")),
        "{diags:?}"
    );
    assert!(sink.flows > 30_000);
    // The tab-separated, 16-column Slips file.
    if let Some(p) = shared("slips/dataset/test5-mixed.binetflow") {
        assert_eq!(detect_format(&p).expect("detect"), Format::Binetflow);
        let (sink, r, diags) = read_one(&p, Format::Binetflow);
        let s = r.expect("read");
        assert_eq!(s.malformed, 0, "{diags:?}");
        // 300 data lines, 4 of them non-IP (2 arp, 1 man, 1 llc).
        assert_eq!(s.records, 296);
        assert_eq!(sink.flows, 296);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].reason.starts_with("skipped 4 non-IP"), "{diags:?}");
    }
}

#[test]
fn stratosphere_zeek_directory() {
    let Some(dir) = shared("stratosphere-zeek/005-zeek-scenario-malicious") else {
        return;
    };
    let mut warnings = Vec::new();
    let planned = plan_inputs(std::slice::from_ref(&dir), None, &mut warnings).expect("plan");
    let formats: Vec<Format> = planned.iter().map(|p| p.format).collect();
    // Format::ALL order: DNS, HTTP, then conn.
    assert_eq!(
        formats,
        [Format::ZeekDns, Format::ZeekHttp, Format::ZeekConn]
    );
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("README.md: skipped:"), "{warnings:?}");
    let (sink, stats, diags) = read_all(&planned);
    assert!(diags.is_empty(), "{diags:?}");
    for s in &stats {
        assert_eq!(s.records, data_lines(&s.path), "{}", s.path.display());
        assert_eq!(s.malformed, 0);
    }
    assert_eq!((sink.dns, sink.http, sink.flows), (992, 992, 992));
}

#[test]
fn labelled_zeek_logs() {
    let Some(p) = shared("stratosphere-zeek/008-zeek-mixed/data/conn.log.labeled") else {
        return;
    };
    assert_eq!(detect_format(&p).expect("detect"), Format::ZeekConn);
    let (sink, r, diags) = read_one(&p, Format::ZeekConn);
    let s = r.expect("read");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(s.records, data_lines(&p));
    // PROVENANCE.md: Malicious/External-Attack-to-Device 4,201.
    assert_eq!(
        sink.labels.get("Malicious External-Attack-to-Device"),
        Some(&4_201)
    );
    assert_eq!(sink.labels.get("Benign Microsoft"), Some(&652));

    if let Some(p) =
        shared("slips/dataset/test18-malicious-ctu-sme-11-win/zeek-labeled/conn.log.labeled")
    {
        let (sink, r, diags) = read_one(&p, Format::ZeekConn);
        let s = r.expect("read");
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(s.records, data_lines(&p));
        assert!(
            sink.labels.keys().any(|l| l
                == "Malicious From_malicious-To_malicious-Malware_data_exfiltration-RemcosRAT")
        );
    }
}

#[test]
fn iot23_space_separated_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("conn.log.labeled");
    std::fs::write(
        &p,
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents   label   detailedlabel\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]   string   string\n\
1525879831.015811\tCUmrqr4svHuSXJy5z7\t192.168.100.103\t51524\t65.127.233.163\t23\ttcp\t-\t2.999051\t0\t0\tS0\t-\t-\t0\tS\t3\t180\t0\t0\t-   Malicious   PartOfAHorizontalPortScan\n\
1525879831.025055\tCH98aB3s1kJeq6SFOc\t192.168.100.103\t56305\t63.150.16.171\t23\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t60\t0\t0\t-   Benign   -\n",
    )
    .expect("write");
    assert_eq!(detect_format(&p).expect("detect"), Format::ZeekConn);
    let (sink, r, diags) = read_one(&p, Format::ZeekConn);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(r.expect("read").records, 2);
    assert_eq!(
        sink.labels.get("Malicious PartOfAHorizontalPortScan"),
        Some(&1)
    );
    assert_eq!(sink.labels.get("Benign"), Some(&1));
}

#[test]
fn zeek_json_logs() {
    let Some(dir) = shared("zeek/activecm-rita/test_data/json_with_all_fields") else {
        return;
    };
    for (name, format) in [
        ("conn.log", Format::ZeekConn),
        ("dns.log", Format::ZeekDns),
        ("http.log", Format::ZeekHttp),
        ("ssl.log", Format::ZeekSsl),
    ] {
        let p = dir.join(name);
        assert_eq!(detect_format(&p).expect("detect"), format, "{name}");
        let (_, r, diags) = read_one(&p, format);
        let s = r.expect("read");
        assert!(diags.is_empty(), "{name}: {diags:?}");
        assert_eq!(s.records, data_lines(&p), "{name}");
        assert!(s.records >= 10);
    }
    // The JSON port-scan conn.log and the JSON ssh.log (not read).
    if let Some(p) = shared("stratosphere-zeek/002-zeek-scenario-port-scanning/conn.log") {
        let (sink, r, _) = read_one(&p, Format::ZeekConn);
        assert_eq!(r.expect("read").records, 4_504);
        assert_eq!(sink.flows, 4_504);
    }
    if let Some(p) = shared("stratosphere-zeek/004-zeek-scenario-ssh/ssh.log") {
        match detect_format(&p) {
            Err(IngestError::UnknownFormat { reason, .. }) => {
                assert_eq!(reason, "Zeek `ssh` log: not read by c2atlas");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn rita_truncated_logs() {
    let Some(dir) = shared("zeek/activecm-rita/test_data/truncated") else {
        return;
    };
    // Cut mid-line: the last partial line is malformed, the rest kept.
    let p = dir.join("conn.log");
    let (_, r, diags) = read_one(&p, Format::ZeekConn);
    let s = r.expect("read");
    assert_eq!(s.malformed, 1, "{diags:?}");
    assert_eq!(s.records + 1, data_lines(&p));
    let p = dir.join("conn_json.log");
    let (_, r, diags) = read_one(&p, Format::ZeekConn);
    let s = r.expect("read");
    // The cut last record, and a record whose id.orig_p is 93145.
    assert_eq!(s.malformed, 2, "{diags:?}");
    assert!(
        diags
            .iter()
            .any(|d| d.reason.contains("id.orig_p: port 93145"))
    );
    // Headerless TSV: not detectable.
    match detect_format(&dir.join("conn_top.log")) {
        Err(IngestError::UnknownFormat { reason, .. }) => {
            assert!(reason.starts_with("no Zeek #fields header"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn gzip_and_truncated_gzip() {
    let Some(src) = shared("stratosphere-zeek/005-zeek-scenario-malicious/conn.log") else {
        return;
    };
    let raw = std::fs::read(&src).expect("read");
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = dir.path().join("conn.log.gz");
    let bytes = gzip(&raw);
    std::fs::write(&gz, &bytes).expect("write");
    assert_eq!(detect_format(&gz).expect("detect"), Format::ZeekConn);
    let (_, r, diags) = read_one(&gz, Format::ZeekConn);
    let s = r.expect("read");
    assert!(diags.is_empty());
    assert!(s.gzip);
    assert_eq!(s.records, 992);
    let (_, plain, _) = read_one(&src, Format::ZeekConn);
    assert_ne!(
        plain.expect("read").sha256,
        s.sha256,
        "hash is of the stored (gzip) bytes"
    );
    use sha2::Digest;
    assert_eq!(s.sha256, hex::encode(sha2::Sha256::digest(&bytes)));

    // Truncated to half: the records before the cut are kept, one malformed.
    let cut = dir.path().join("cut.log.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let (sink, r, diags) = read_one(&cut, Format::ZeekConn);
    let s = r.expect("read");
    assert!(s.records > 100 && s.records < 992, "{}", s.records);
    assert_eq!(sink.flows, s.records);
    assert!(s.malformed >= 1);
    assert!(diags.iter().any(|d| {
        d.reason
            .starts_with("truncated or corrupt gzip stream after")
    }));

    // Truncated inside the header: nothing read → Gzip error.
    let tiny = dir.path().join("tiny.log.gz");
    std::fs::write(&tiny, &bytes[..30]).expect("write");
    let (_, r, _) = read_one(&tiny, Format::ZeekConn);
    assert!(
        matches!(r, Err(IngestError::Gzip { records: 0, .. })),
        "{r:?}"
    );
}

#[test]
fn directory_skips_non_telemetry_with_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    std::fs::write(dir.path().join("README.md"), "# Data\nSome notes.\n").expect("write");
    std::fs::write(dir.path().join("empty.log"), "").expect("write");
    std::fs::write(dir.path().join("blob.bin"), [0u8, 159, 146, 150, 0, 1]).expect("write");
    std::fs::write(
        sub.join("flows.binetflow"),
        "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n\
2011/08/16 10:01:46.972101,1.0,tcp,10.0.0.1,1025,   ->,8.8.8.8,80,S_,0,0,2,120,60,flow=x\n",
    )
    .expect("write");
    std::fs::write(
        sub.join("dns.log"),
        "{\"ts\":1.5,\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":5,\"id.resp_h\":\"8.8.8.8\",\"id.resp_p\":53,\"query\":\"a.example\"}\n",
    )
    .expect("write");
    let mut warnings = Vec::new();
    let planned = plan_inputs(&[dir.path().to_path_buf()], None, &mut warnings).expect("plan");
    assert_eq!(
        planned,
        vec![
            PlannedInput {
                path: sub.join("dns.log"),
                format: Format::ZeekDns
            },
            PlannedInput {
                path: sub.join("flows.binetflow"),
                format: Format::Binetflow
            },
        ]
    );
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].ends_with("README.md: skipped: no #fields header"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].ends_with("blob.bin: skipped: binary data"),
        "{warnings:?}"
    );
    assert!(
        warnings[2].ends_with("empty.log: skipped: empty file"),
        "{warnings:?}"
    );

    // Named explicitly, the same files are errors; `forced` overrides detection.
    let readme = dir.path().join("README.md");
    assert!(matches!(
        plan_inputs(std::slice::from_ref(&readme), None, &mut warnings),
        Err(IngestError::UnknownFormat { .. })
    ));
    assert!(matches!(
        plan_inputs(&[dir.path().join("blob.bin")], None, &mut warnings),
        Err(IngestError::UnknownFormat { .. })
    ));
    assert!(matches!(
        plan_inputs(&[dir.path().join("empty.log")], None, &mut warnings),
        Err(IngestError::Empty { .. })
    ));
    let forced = plan_inputs(
        std::slice::from_ref(&readme),
        Some(Format::ZeekConn),
        &mut warnings,
    )
    .expect("forced");
    assert_eq!(forced[0].format, Format::ZeekConn);
    let (_, r, _) = read_one(&readme, Format::ZeekConn);
    assert!(matches!(r, Err(IngestError::UnknownFormat { .. })), "{r:?}");
    let (_, r, _) = read_one(&dir.path().join("empty.log"), Format::Binetflow);
    assert!(matches!(r, Err(IngestError::Empty { .. })), "{r:?}");
}

#[test]
fn readme_skip_message_names_reason() {
    // The README case above ends with the reason; here: a CSV without SrcAddr.
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("x.csv");
    std::fs::write(&p, "StartTime,Dur,DstAddr\n1,2,3\n").expect("write");
    match detect_format(&p) {
        Err(IngestError::UnknownFormat { reason, .. }) => {
            assert_eq!(reason, "CSV header lacks SrcAddr")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_lines_are_counted_and_neighbours_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.binetflow");
    let hdr = "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label";
    let good = |i: u32| {
        format!(
            "2011/08/16 10:01:46.{i:06},1.0,tcp,10.0.0.{i},1025,   ->,8.8.8.8,80,S_,0,0,2,120,60,flow=x"
        )
    };
    let mut text = vec![hdr.to_string(), good(1)];
    text.push("2011/08/16 10:01:46.1,1.0,tcp,10.0.0.1,1025,   ->,8.8.8.8".into()); // line 3: columns
    text.push(good(2));
    text.push(
        "2011/08/16 10:01:46.1,1.0,tcp,10.0.0.300,1025,   ->,8.8.8.8,80,S_,0,0,2,120,60,x".into(),
    ); // 5: IP
    text.push(hdr.to_string()); // 6: repeated header, silently skipped
    text.push(
        "2011/08/16 25:01:46.1,1.0,tcp,10.0.0.3,1025,   ->,8.8.8.8,80,S_,0,0,2,120,60,x".into(),
    ); // 7: time
    text.push(String::new()); // 8: blank
    text.push(good(3));
    let mut bytes = text.join("\n").into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe,garbage\n"); // line 10: invalid UTF-8
    bytes.extend_from_slice(good(4).as_bytes());
    bytes.push(b'\n');
    bytes.extend(std::iter::repeat_n(
        b'a',
        c2atlas::ingest::MAX_LINE_BYTES + 10,
    )); // line 12: too long
    bytes.push(b'\n');
    bytes.extend_from_slice(good(5).as_bytes()); // line 13, no final newline
    std::fs::write(&p, &bytes).expect("write");
    let (sink, r, diags) = read_one(&p, Format::Binetflow);
    let s = r.expect("read");
    assert_eq!(s.records, 5);
    assert_eq!(s.malformed, 5, "{diags:?}");
    let lines: Vec<u64> = sink.flow_lines.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lines, [2, 4, 9, 11, 13]);
    let reasons: Vec<(u64, &str)> = diags.iter().map(|d| (d.line, d.reason.as_str())).collect();
    assert_eq!(reasons[0], (3, "expected 15 columns, found 7"));
    assert_eq!(
        reasons[1],
        (5, "column 4 (SrcAddr): invalid IP address \"10.0.0.300\"")
    );
    assert_eq!(reasons[2].0, 7);
    assert!(
        reasons[2]
            .1
            .starts_with("column 1 (StartTime): invalid timestamp")
    );
    assert_eq!(reasons[3].0, 10);
    assert!(reasons[3].1.starts_with("invalid UTF-8"));
    assert_eq!(reasons[4].0, 12);
    assert!(reasons[4].1.contains("exceeds the limit"));
    assert!(diags.iter().all(|d| d.path == p));
    assert_eq!(
        diags[0].to_string(),
        format!("{}:3: expected 15 columns, found 7", p.display())
    );

    // Zeek: bad lines in the middle of a real log.
    let Some(src) = shared("stratosphere-zeek/005-zeek-scenario-malicious/dns.log") else {
        return;
    };
    let text = std::fs::read_to_string(&src).expect("read");
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let n_data = lines.iter().filter(|l| !l.starts_with('#')).count() as u64;
    lines.insert(20, "13.5\tCx\t192.168.1.116\t50814".into());
    let mut cols: Vec<&str> = lines[29].split('\t').collect();
    cols[2] = "192.168.1.1160";
    let bad_ip = cols.join("\t");
    lines.insert(30, bad_ip);
    lines.insert(40, lines[39].replacen("\t", "x\t", 1));
    let p = dir.path().join("dns.log");
    std::fs::write(&p, lines.join("\n")).expect("write");
    let (sink, r, diags) = read_one(&p, Format::ZeekDns);
    let s = r.expect("read");
    assert_eq!((s.records, s.malformed), (n_data, 3), "{diags:?}");
    assert_eq!(sink.dns, n_data);
    let at: Vec<u64> = diags.iter().map(|d| d.line).collect();
    assert_eq!(at, [21, 31, 41]);
    assert!(
        diags[1]
            .reason
            .starts_with("column 3 (id.orig_h): invalid IP address")
    );
    assert!(
        diags[2]
            .reason
            .starts_with("column 1 (ts): invalid timestamp")
    );
}

#[test]
fn record_refs_are_input_and_line() {
    let Some(p) = shared("stratosphere-zeek/003-zeek-scenario-malicious/dns.log") else {
        return;
    };
    let mut sink = Collect::default();
    let planned = PlannedInput {
        path: p.clone(),
        format: Format::ZeekDns,
    };
    let s = read_input(7, &planned, &mut sink, &mut |d| panic!("{d}")).expect("read");
    assert_eq!(s.records, 1);
    let header_lines = std::fs::read_to_string(&p)
        .expect("read")
        .lines()
        .take_while(|l| l.starts_with('#'))
        .count() as u64;
    assert_eq!(
        sink.refs,
        [RecordRef {
            input: 7,
            line: header_lines + 1
        }]
    );
}

#[test]
fn explicit_paths_are_sorted_by_format_then_path() {
    let Some(d) = shared("stratosphere-zeek/005-zeek-scenario-malicious") else {
        return;
    };
    let paths: Vec<PathBuf> = ["conn.log", "http.log", "dns.log"]
        .iter()
        .map(|n| d.join(n))
        .collect();
    let mut w = Vec::new();
    let planned = plan_inputs(&paths, None, &mut w).expect("plan");
    let names: Vec<_> = planned
        .iter()
        .map(|p| p.path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        [
            Some("dns.log".into()),
            Some("http.log".into()),
            Some("conn.log".into())
        ]
    );
    assert!(w.is_empty());
}
