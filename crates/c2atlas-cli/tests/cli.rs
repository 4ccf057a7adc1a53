//! End-to-end runs of the `c2atlas` binary on real data and on simulated data.
//! Tests needing `../shared/data` or the default databases skip with a message when absent.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;
use common::{bin, db_dir, run_ok, shared};

/// Reference lookup of the country with the Python `maxminddb` package (the reference reader).
fn python_country(db: &Path, ips: &[String]) -> Option<BTreeMap<String, String>> {
    let script = "import sys, maxminddb\nr = maxminddb.open_database(sys.argv[1])\nfor l in sys.stdin:\n    ip = l.strip()\n    rec = r.get(ip) or {}\n    cc = rec.get('country_code') or (rec.get('country') or {}).get('iso_code') or ''\n    print(ip + '\\t' + cc)\n";
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()?
        .write_all(ips.join("\n").as_bytes())
        .ok()?;
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        eprintln!("SKIP: python3 maxminddb unavailable");
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    )
}

/// Naive ASN lookup: a linear scan of the ip-location-db CSV (independent of the library's index).
fn naive_asn(csv: &Path, ip: Ipv4Addr) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(csv).ok()?;
    let ip = u32::from(ip);
    for line in text.lines() {
        let mut it = line.splitn(4, ',');
        let (Some(a), Some(b), Some(asn), Some(org)) = (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        let (Ok(a), Ok(b)) = (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>()) else {
            continue;
        };
        if u32::from(a) <= ip && ip <= u32::from(b) {
            return Some((asn.parse().ok()?, org.trim_matches('"').to_string()));
        }
    }
    None
}

/// CTU-13 scenario 6 with an intel list of the labelled C&C destinations: the census finds the
/// infected host and exactly those controllers, with countries and ASNs of the default databases,
/// and `explain` points at evidence lines that are indeed C&C flows.
#[test]
fn ctu13_census_finds_the_bot_and_its_controllers() {
    let (Some(dir), Some(db)) = (shared("ctu13/scenario06_menti_capture20110816"), db_dir()) else {
        return;
    };
    // Ground truth from the labels, read independently of the library.
    let mut cc_dsts = BTreeSet::new();
    let mut cc_srcs = BTreeSet::new();
    for e in std::fs::read_dir(&dir).expect("dir") {
        let p = e.expect("entry").path();
        if !p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("binetflow"))
        {
            continue;
        }
        for line in std::fs::read_to_string(&p).expect("read").lines() {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() >= 15 && f[14].contains("From-Botnet") && f[14].contains("-CC") {
                cc_srcs.insert(f[3].to_string());
                cc_dsts.insert(f[6].to_string());
            }
        }
    }
    assert!(!cc_dsts.is_empty());
    let tmp = tempfile::tempdir().expect("tempdir");
    let feed = tmp.path().join("ctu13-cc.txt");
    std::fs::write(
        &feed,
        cc_dsts.iter().map(|s| format!("{s}\n")).collect::<String>(),
    )
    .expect("write feed");

    let out = run_ok(
        bin()
            .args([
                "census",
                "--home-net",
                "147.32.0.0/16",
                "--format",
                "json",
                "-q",
                "--intel",
            ])
            .arg(&feed)
            .arg(&dir),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["schema"], "c2atlas.census/1");
    let inputs = doc["inputs"].as_array().expect("inputs");
    assert_eq!(inputs.len(), 26, "26 slices read, the README skipped");
    // 558,919 lines: 558,719 IP flows plus 200 ARP/IPX records (MAC addresses), skipped and counted apart.
    let sum = |k: &str| -> u64 { inputs.iter().map(|i| i[k].as_u64().unwrap_or(0)).sum() };
    assert_eq!(
        (sum("records"), sum("skipped"), sum("malformed")),
        (558_719, 200, 0)
    );
    let c2 = &doc["c2"];
    assert_eq!(c2["victims"]["total"], cc_srcs.len() as u64);
    assert_eq!(c2["controllers"]["total"], cc_dsts.len() as u64);
    assert_eq!(c2["controllers"]["overseas"], cc_dsts.len() as u64);

    // Countries agree with the reference reader; ASNs with a naive scan of the CSV.
    let ips: Vec<String> = cc_dsts.iter().cloned().collect();
    if let Some(cc) = python_country(&db.join("country/geo-whois-asn-country.mmdb"), &ips) {
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for ip in &ips {
            *expected.entry(cc[ip].clone()).or_default() += 1;
        }
        let got: BTreeMap<String, u64> = c2["overseas_by_country"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["country"].as_str().unwrap_or("").to_string(),
                    r["controllers"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(got, expected);
    }
    let asn_rows = c2["overseas_by_asn"].as_array().expect("asn rows");
    for ip in &ips {
        let ip: Ipv4Addr = ip.parse().expect("ipv4");
        let (asn, org) =
            naive_asn(&db.join("asn/asn-ipv4.csv"), ip).unwrap_or((0, "unknown".into()));
        assert!(
            asn_rows
                .iter()
                .any(|r| r["asn"] == asn && r["org"] == org.as_str()),
            "AS{asn} {org} of {ip} missing from {asn_rows:?}"
        );
    }

    // explain: every evidence record is a labelled C&C flow of the bot.
    let victim = cc_srcs.iter().next().expect("victim").clone();
    let out = run_ok(
        bin()
            .args([
                "explain",
                "--format",
                "json",
                "-q",
                "--home-net",
                "147.32.0.0/16",
                "--victim",
                &victim,
                "--intel",
            ])
            .arg(&feed)
            .arg(&dir),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let rels: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(rels.len(), cc_dsts.len());
    let mut checked = 0;
    for r in &rels {
        assert_eq!(r["flows"], 199);
        for e in r["evidence"].as_array().expect("evidence") {
            let file = e["file"].as_str().expect("file");
            let line = e["line"].as_u64().expect("line") as usize;
            let content = std::fs::read_to_string(file).expect("evidence file");
            let l = content.lines().nth(line - 1).expect("line exists");
            assert!(
                l.contains("-CC") && l.contains(&victim),
                "evidence {file}:{line} is not a C&C flow: {l}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// The same inputs give byte-identical JSON.
#[test]
fn census_json_is_deterministic() {
    let Some(dir) = shared("ctu13/scenario06_menti_capture20110816") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let feed = tmp.path().join("feed.txt");
    std::fs::write(&feed, "91.212.135.158\n# a comment\n147.32.96.69\n").expect("write");
    let slice = dir.join("capture20110816.binetflow.slice_1_1");
    let a = run_ok(
        bin()
            .args([
                "census",
                "--home-net",
                "147.32.0.0/16",
                "--format",
                "json",
                "-q",
                "--intel",
            ])
            .arg(&feed)
            .arg(&slice),
    );
    let b = run_ok(
        bin()
            .args([
                "census",
                "--home-net",
                "147.32.0.0/16",
                "--format",
                "json",
                "-q",
                "--intel",
            ])
            .arg(&feed)
            .arg(&slice),
    );
    assert_eq!(a.stdout, b.stdout);
    assert!(!a.stdout.is_empty());
}

/// A file named explicitly that is not telemetry is an error naming it (exit 2), not a panic.
#[test]
fn explicit_non_telemetry_file_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let readme = tmp.path().join("README.md");
    std::fs::write(&readme, "# Hello\nThis is not telemetry.\n").expect("write");
    let out = bin()
        .args(["census", "--home-net", "10.0.0.0/8", "-q"])
        .arg(&readme)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("README.md"), "stderr names the file: {err}");
    let empty = tmp.path().join("empty.log");
    std::fs::write(&empty, "").expect("write");
    let out = bin()
        .args(["census", "--home-net", "10.0.0.0/8", "-q"])
        .arg(&empty)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
}

/// No home is a usage error with a hint.
#[test]
fn census_without_home_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = tmp.path().join("x.binetflow");
    std::fs::write(&f, "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n").expect("write");
    let out = bin().args(["census", "-q"]).arg(&f).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--home"));
}

/// A simulated day of a national network with 100,000 hosts: the census over the telemetry equals the
/// simulator's ground truth exactly (the planted relationships, countries from the ranges they were drawn from).
#[test]
fn simulated_day_census_equals_truth() {
    if db_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let sim = tmp.path().join("sim");
    run_ok(
        bin()
            .args([
                "simulate",
                "--scale",
                "day",
                "--hosts",
                "100000",
                "--background-flows-per-host",
                "2",
                "--seed",
                "7",
                "-q",
                "--out",
            ])
            .arg(&sim),
    );
    let truth: Value =
        serde_json::from_slice(&std::fs::read(sim.join("truth.json")).expect("truth.json"))
            .expect("truth is JSON");
    assert!(truth["c2"]["victims"]["total"].as_u64().unwrap_or(0) > 1_000);
    let census = |detect: &str| -> Value {
        let out = run_ok(
            bin()
                .args([
                    "census",
                    "--home-country",
                    "CN",
                    "--format",
                    "json",
                    "-q",
                    "--detect",
                    detect,
                    "--intel",
                ])
                .arg(sim.join("intel/c2-feed.csv"))
                .arg("--intel")
                .arg(sim.join("intel/c2-domains.txt"))
                .arg(sim.join("telemetry")),
        );
        serde_json::from_slice(&out.stdout).expect("census JSON")
    };
    // The truth is what the planted feeds make known: the intel method must reproduce it exactly.
    let doc = census("intel");
    assert_eq!(doc["c2"], truth["c2"]);
    let malformed: u64 = doc["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| i["malformed"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(malformed, 0);
}

/// The demo runs end to end and says the census equals the truth.
#[test]
fn demo_writes_report_and_census() {
    if db_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = run_ok(bin().args(["demo", "--out"]).arg(tmp.path()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("census equals truth.json: yes"), "{stdout}");
    let report = std::fs::read_to_string(tmp.path().join("report.md")).expect("report.md");
    assert!(report.contains("| Rank | Country |"));
    let census: Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join("census.json")).expect("census.json"),
    )
    .expect("json");
    assert_eq!(census["schema"], "c2atlas.census/1");
}

/// Issue 3 on CTU-13 scenario 6 with no feed at all: `detect` finds the infected host and its C&C
/// endpoint by behaviour alone, and nothing else; `eval` scores it against the dataset's own labels.
#[test]
fn ctu13_detect_without_feeds_finds_the_bot_and_its_cc() {
    let Some(dir) = shared("ctu13/scenario06_menti_capture20110816") else {
        return;
    };
    let out = run_ok(
        bin()
            .args([
                "detect",
                "--format",
                "jsonl",
                "-q",
                "--home-net",
                "147.32.0.0/16",
            ])
            .arg(&dir),
    );
    let rels: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(rels.len(), 1, "{rels:?}");
    let r = &rels[0];
    assert_eq!(r["victim"], "147.32.84.165");
    assert_eq!(r["controller"], "91.212.135.158");
    assert_eq!(r["controller_ip"], "91.212.135.158");
    assert_ne!(r["method"], "intel");
    let c = r["confidence"].as_f64().expect("confidence");
    assert!((0.6..=1.0).contains(&c));
    for k in ["first_seen", "last_seen", "explanation"] {
        assert!(r[k].is_string(), "{k} missing in {r}");
    }

    let out = run_ok(
        bin()
            .args([
                "eval",
                "--format",
                "json",
                "-q",
                "--baseline",
                "--home-net",
                "147.32.0.0/16",
            ])
            .arg(&dir),
    );
    let e: Value = serde_json::from_slice(&out.stdout).expect("eval JSON");
    let ours = &e["ours"];
    assert!(
        ours["host_windows"]["f1"].as_f64().unwrap_or(0.0) >= 0.95,
        "{ours}"
    );
    assert!(
        ours["relationships"]["f1"].as_f64().unwrap_or(0.0) >= 0.9,
        "{ours}"
    );
    let clean = ours["clean_hosts"].as_u64().unwrap_or(0);
    assert!(clean > 300);
    // No more than 0.1 % of normal/background hosts flagged.
    assert!(ours["flagged_clean_hosts"].as_u64().unwrap_or(u64::MAX) * 1000 <= clean);
    // The RITA-style baseline on the same data does worse (the point of the behavioural detectors).
    let base = &e["baseline"];
    assert!(
        base["host_windows"]["f1"].as_f64().unwrap_or(1.0)
            < ours["host_windows"]["f1"].as_f64().unwrap_or(0.0)
    );
}

/// `score-domains` reads stdin and prints `domain<TAB>score` with the score in [0, 1]; popular
/// names score low, random-looking ones high.
#[test]
fn score_domains_reads_stdin() {
    use std::process::Stdio;
    let mut child = bin()
        .arg("score-domains")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"google.com\n# comment\n\nwikipedia.org\nxjwqzkpvtrbmhdlq.ru\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let rows: Vec<(String, f64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (d, s) = l.split_once('\t').expect("tab");
            (d.to_string(), s.parse().expect("score"))
        })
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
    assert!(rows[0].1 < 0.5 && rows[1].1 < 0.5, "{rows:?}");
    assert!(rows[2].1 > 0.5, "{rows:?}");
}

/// A bad `--detect` list is a usage error before any input is read.
#[test]
fn unknown_detection_method_is_an_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let f = tmp.path().join("x.binetflow");
    std::fs::write(&f, "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,Label\n").expect("write");
    let out = bin()
        .args([
            "census",
            "-q",
            "--home-net",
            "10.0.0.0/8",
            "--detect",
            "intel,telepathy",
        ])
        .arg(&f)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("telepathy"));
}

/// A hand-written combined-format access log: five attacks (sqli from 8.8.8.8 US,
/// traversal and rce from 77.88.8.8 RU, xss from 1.1.1.1 AU, sqli from the domestic
/// 114.114.114.114 CN) among three benign requests.
const SHOP_LOG: &str = r#"8.8.8.8 - - [10/Oct/2025:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
8.8.8.8 - - [10/Oct/2025:13:55:40 +0000] "GET /products.php?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users-- HTTP/1.1" 200 512 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
77.88.8.8 - - [10/Oct/2025:13:56:01 +0000] "GET /download?file=../../../../etc/passwd HTTP/1.1" 404 0 "-" "Mozilla/5.0 (X11; Linux x86_64)"
1.1.1.1 - - [10/Oct/2025:13:57:12 +0000] "GET /search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E HTTP/1.1" 200 1024 "-" "Mozilla/5.0 (Macintosh)"
9.9.9.9 - - [10/Oct/2025:13:58:00 +0000] "GET /about.html HTTP/1.1" 200 900 "https://www.example.org/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
77.88.8.8 - - [10/Oct/2025:13:59:30 +0000] "GET /ping.php?host=127.0.0.1;cat%20/etc/passwd HTTP/1.1" 200 300 "-" "Mozilla/5.0 (X11; Linux x86_64)"
114.114.114.114 - - [10/Oct/2025:14:00:00 +0000] "GET /item.php?id=1%27%20OR%20%271%27=%271 HTTP/1.1" 200 400 "-" "Mozilla/5.0 (Windows NT 6.1)"
8.8.4.4 - - [10/Oct/2025:14:01:00 +0000] "GET /images/logo.png HTTP/1.1" 200 5000 "https://shop.example/" "Mozilla/5.0 (iPhone)"
"#;

/// The countries the test log relies on, checked against the default database.
fn shop_countries_hold(db: &Path) -> bool {
    let ips: Vec<String> = ["8.8.8.8", "77.88.8.8", "1.1.1.1", "114.114.114.114"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let want = ["US", "RU", "AU", "CN"];
    match python_country(&db.join("country/geo-whois-asn-country.mmdb"), &ips) {
        Some(m) => ips
            .iter()
            .zip(want)
            .all(|(ip, cc)| m.get(ip).map(String::as_str) == Some(cc)),
        None => true,
    }
}

#[test]
fn web_census_counts_attacks_by_country_and_explains_them() {
    let Some(db) = db_dir() else {
        return;
    };
    if !shop_countries_hold(&db) {
        eprintln!("SKIP: the default database places the test addresses elsewhere");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = tmp.path().join("shop_access.log");
    std::fs::write(&log, SHOP_LOG).expect("write");
    let out = run_ok(
        bin()
            .args(["census", "--home-country", "CN", "--format", "json", "-q"])
            .arg(&log),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("census JSON");
    assert_eq!(doc["inputs"][0]["format"], "access-log");
    assert_eq!(doc["inputs"][0]["records"], 8);
    assert_eq!(doc["inputs"][0]["malformed"], 0);
    let w = &doc["web"];
    assert_eq!(w["requests"], 8);
    assert_eq!(w["attacks"], 5);
    assert_eq!(w["attacking_ips"], 4);
    assert_eq!(w["sites_attacked"], 1);
    for (class, n) in [
        ("sqli", 2),
        ("xss", 1),
        // `cat /etc/passwd` in the ping injection reads a system file too.
        ("traversal", 2),
        ("rce", 1),
        ("scanner", 0),
        ("webshell", 0),
        ("backdoor", 0),
    ] {
        assert_eq!(w["by_class"][class], n, "by_class.{class}");
    }
    assert_eq!(w["overseas_attacks"], 4);
    assert_eq!(w["overseas_attacking_ips"], 3);
    let rows: Vec<(String, u64, f64, u64, f64, u64)> = w["overseas_by_country"]
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            (
                r["country"].as_str().unwrap_or("").to_string(),
                r["attacks"].as_u64().unwrap_or(99),
                r["attacks_share"].as_f64().unwrap_or(-1.0),
                r["attacking_ips"].as_u64().unwrap_or(99),
                r["attacking_ips_share"].as_f64().unwrap_or(-1.0),
                r["sites"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("RU".to_string(), 2, 0.5, 1, 0.333333, 1),
            ("AU".to_string(), 1, 0.25, 1, 0.333333, 1),
            ("US".to_string(), 1, 0.25, 1, 0.333333, 1),
        ]
    );
    assert_eq!(w["backdoors"], Value::Array(vec![]));

    // explain --web --country RU: the two requests of 77.88.8.8, by line.
    let out = run_ok(
        bin()
            .args([
                "explain",
                "--web",
                "--country",
                "ru",
                "--home-country",
                "CN",
                "-q",
            ])
            .arg(&log),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let f = log.display().to_string();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(&format!("{f}:3 77.88.8.8 shop_access.log traversal")),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(&format!("{f}:6 77.88.8.8 shop_access.log rce")),
        "{}",
        lines[1]
    );

    // JSON lines, all attackers: lines 2, 3, 4, 6, 7 in order, with their countries.
    let out = run_ok(
        bin()
            .args([
                "explain",
                "--web",
                "--format",
                "json",
                "--home-country",
                "CN",
                "-q",
            ])
            .arg(&log),
    );
    let got: Vec<(u64, String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            assert_eq!(v["file"], f.as_str());
            (
                v["line"].as_u64().unwrap_or(0),
                v["src"].as_str().unwrap_or("").to_string(),
                v["country"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String, String)> = [
        (2, "8.8.8.8", "US"),
        (3, "77.88.8.8", "RU"),
        (4, "1.1.1.1", "AU"),
        (6, "77.88.8.8", "RU"),
        (7, "114.114.114.114", "CN"),
    ]
    .iter()
    .map(|(l, s, c)| (*l, s.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want);
}

/// A directory mixing a Zeek conn.log and an access log reads both; a census of the
/// conn.log alone has no `web` key.
#[test]
fn web_logs_mix_with_zeek_logs_and_flow_only_census_has_no_web_key() {
    if db_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("logs");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("shop_access.log"), SHOP_LOG).expect("write");
    let conn = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n\
1600000000.000000\tC1\t114.114.114.114\t50000\t8.8.8.8\t443\ttcp\tssl\t1.0\t100\t200\tSF\t-\t-\t0\tShADadFf\t5\t300\t5\t400\t-\n";
    std::fs::write(dir.join("conn.log"), conn).expect("write");
    let out = run_ok(
        bin()
            .args(["census", "--home-country", "CN", "--format", "json", "-q"])
            .arg(&dir),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("census JSON");
    let formats: Vec<&str> = doc["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|i| i["format"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(formats, ["zeek-conn", "access-log"]);
    assert_eq!(doc["inputs"][0]["records"], 1);
    assert_eq!(doc["web"]["attacks"], 5);

    let out = run_ok(
        bin()
            .args(["census", "--home-country", "CN", "--format", "json", "-q"])
            .arg(dir.join("conn.log")),
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("census JSON");
    assert_eq!(doc["inputs"][0]["format"], "zeek-conn");
    assert!(doc.get("web").is_none(), "{doc}");
}

/// `eval --truth truth.json` scores behavioural detection (no feeds) against the simulator's planted pairs.
#[test]
fn eval_against_simulator_truth() {
    if db_dir().is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    run_ok(
        bin()
            .args(["simulate", "-q", "--scale", "small", "--seed", "3", "--out"])
            .arg(tmp.path()),
    );
    let out = run_ok(
        bin()
            .args([
                "eval",
                "-q",
                "--format",
                "json",
                "--home-country",
                "CN",
                "--truth",
            ])
            .arg(tmp.path().join("truth.json"))
            .arg(tmp.path().join("telemetry")),
    );
    let e: Value = serde_json::from_slice(&out.stdout).expect("eval JSON");
    let rel = &e["ours"]["relationships"];
    assert!(rel["tp"].as_u64().unwrap_or(0) > 100, "{e}");
    assert!(rel["precision"].as_f64().unwrap_or(0.0) >= 0.9, "{e}");
    assert_eq!(e["ours"]["flagged_clean_hosts"], 0, "{e}");
    // A truth file that is not there is an error naming it.
    let out = bin()
        .args([
            "eval",
            "-q",
            "--home-country",
            "CN",
            "--truth",
            "/nonexistent/truth.json",
        ])
        .arg(tmp.path().join("telemetry"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truth-relationships.tsv"));
}
