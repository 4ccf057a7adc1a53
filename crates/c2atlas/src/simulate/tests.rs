//! End-to-end tests of the simulator on hand-built country ranges: the
//! telemetry is parsed back here (independently of the ingest module) and a
//! minimal census over it must reproduce `truth.json` exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use ipnet::Ipv4Net;

use super::*;
use crate::census::{RelView, summarize};
use crate::enrich::{CountryCode, Locale};

fn cc(s: &str) -> CountryCode {
    CountryCode::parse(s).unwrap()
}

/// Fake but public, non-overlapping allocations for a handful of countries.
fn test_ranges() -> CountryRanges {
    let mut m: BTreeMap<CountryCode, Vec<Ipv4Net>> = BTreeMap::new();
    let mut add = |c: &str, nets: &[&str]| {
        m.insert(cc(c), nets.iter().map(|n| n.parse().unwrap()).collect());
    };
    add("CN", &["36.0.0.0/16", "36.1.0.0/17", "58.16.0.0/16"]);
    add("US", &["3.0.0.0/16", "4.0.0.0/16"]);
    add("JP", &["126.0.0.0/16"]);
    add("DE", &["5.0.0.0/16"]);
    add("KR", &["14.0.0.0/16"]);
    add("RU", &["31.0.0.0/16"]);
    add("GB", &["25.0.0.0/16"]);
    add("FR", &["62.0.0.0/16"]);
    CountryRanges::new(m).unwrap()
}

fn test_config(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        hosts: 3_000,
        infected_fraction: 0.3,
        controllers_overseas: 60,
        controllers_domestic: 8,
        background_flows_per_host: 3.0,
        benign_servers: 100,
        window_secs: 4 * 3600,
        max_beacons_per_relationship: 6,
        ..SimConfig::scale("small").unwrap()
    }
}

fn run(cfg: &SimConfig, dir: &Path) -> SimOutput {
    let mut calls = 0;
    let out = simulate(cfg, &test_ranges(), None, dir, &mut |_, _| calls += 1).unwrap();
    assert!(calls >= 1);
    out
}

fn read_text(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap();
    if p.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(bytes).unwrap()
    }
}

/// Rows (split on tabs) of every file of one Zeek log kind, checking the header.
fn zeek_rows(out: &SimOutput, kind: &str, columns: usize) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut n_files = 0;
    for f in &out.files {
        let name = f.file_name().unwrap().to_str().unwrap();
        if !name.starts_with(&format!("{kind}.")) {
            continue;
        }
        n_files += 1;
        let text = read_text(f);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#separator \\x09");
        assert_eq!(lines[4], format!("#path\t{kind}"));
        assert!(lines[6].starts_with("#fields\tts\tuid\tid.orig_h"));
        assert_eq!(lines[6].split('\t').count(), columns + 1);
        assert_eq!(lines[7].split('\t').count(), columns + 1);
        assert!(lines.last().unwrap().starts_with("#close\t"));
        for l in &lines[8..lines.len() - 1] {
            let cols: Vec<String> = l.split('\t').map(str::to_string).collect();
            assert_eq!(cols.len(), columns, "{name}: {l}");
            assert!(cols[0].parse::<f64>().is_ok(), "{l}");
            rows.push(cols);
        }
    }
    assert!(n_files >= 1);
    rows
}

struct Intel {
    ips: HashSet<Ipv4Addr>,
    domains: HashSet<String>,
}

fn read_intel(out: &SimOutput) -> Intel {
    let csv = std::fs::read_to_string(out.intel_dir.join("c2-feed.csv")).unwrap();
    let mut ips = HashSet::new();
    let mut lines = csv.lines().filter(|l| !l.starts_with('#'));
    assert_eq!(
        lines.next().unwrap(),
        r#""first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware""#
    );
    let mut n = 0;
    for l in lines {
        let f: Vec<&str> = l.split(',').map(|x| x.trim_matches('"')).collect();
        assert_eq!(f.len(), 6, "{l}");
        assert!(f[1].parse::<Ipv4Addr>().is_ok());
        assert!(f[2].parse::<u16>().is_ok());
        assert!(ips.insert(f[1].parse().unwrap()), "duplicate {l}");
        n += 1;
    }
    assert!(csv.ends_with(&format!("# END {n} entries\n")));
    let txt = std::fs::read_to_string(out.intel_dir.join("c2-domains.txt")).unwrap();
    let domains: HashSet<String> = txt
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    Intel { ips, domains }
}

/// A minimal, independent census over the simulated telemetry: relationships
/// are (host, feed IP) connections and (host, answer) for lookups of listed
/// domains followed by a connection to the answer. Countries come from the
/// test ranges, locale from the home country.
fn census(out: &SimOutput, ranges: &CountryRanges, home: CountryCode) -> (Vec<RelView>, usize) {
    let intel = read_intel(out);
    let dns = zeek_rows(out, "dns", 24);
    let conn = zeek_rows(out, "conn", 21);
    let mut resolved: HashSet<(Ipv4Addr, Ipv4Addr)> = HashSet::new();
    for r in &dns {
        if intel.domains.contains(&r[9]) {
            resolved.insert((r[2].parse().unwrap(), r[21].parse().unwrap()));
        }
    }
    let mut pairs: BTreeSet<(Ipv4Addr, Ipv4Addr)> = BTreeSet::new();
    for r in &conn {
        let (o, d): (Ipv4Addr, Ipv4Addr) = (r[2].parse().unwrap(), r[4].parse().unwrap());
        if intel.ips.contains(&d) || resolved.contains(&(o, d)) {
            pairs.insert((o, d));
        }
    }
    let rels = pairs
        .iter()
        .map(|&(v, c)| {
            let country = ranges.country_of(c);
            RelView {
                victim: IpAddr::V4(v),
                controller_ip: Some(IpAddr::V4(c)),
                controller_locale: if country == Some(home) {
                    Locale::Domestic
                } else {
                    Locale::Overseas
                },
                country,
                asn: None,
                methods: crate::detect::MethodSet::of(crate::detect::Method::Intel),
            }
        })
        .collect();
    (rels, conn.len())
}

fn all_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for sub in ["telemetry", "intel", ""] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                m.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    m
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let cfg = SimConfig {
        hosts: 800,
        ..test_config(7)
    };
    run(&cfg, a.path());
    run(&cfg, b.path());
    run(&SimConfig { seed: 8, ..cfg }, c.path());
    let (fa, fb, fc) = (
        all_files(a.path()),
        all_files(b.path()),
        all_files(c.path()),
    );
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    assert_eq!(fa.len(), 6, "{:?}", fa.keys());
    for (k, v) in &fa {
        assert!(*v == fb[k], "{k} differs for the same seed");
        assert!(*v != fc[k], "{k} identical for another seed");
    }
}

#[test]
fn census_over_telemetry_reproduces_truth_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = test_config(42);
    let out = run(&cfg, dir.path());
    let ranges = test_ranges();
    let (rels, conn_rows) = census(&out, &ranges, cfg.home_country);
    let t = &out.truth;
    assert_eq!(conn_rows as u64, out.flows);
    assert_eq!(t.planted.conn_rows, out.flows);
    assert_eq!(rels.len() as u64, t.planted.relationships);
    assert_eq!(summarize(&rels), t.c2);
    // The truth's own invariants.
    let victims: HashSet<IpAddr> = rels.iter().map(|r| r.victim).collect();
    assert_eq!(t.c2.victims.total, victims.len() as u64);
    assert_eq!(t.c2.victims.total, t.planted.victims);
    assert_eq!(t.planted.victims, cfg.victims());
    assert_eq!(
        t.planted.relationships,
        t.planted.victims + t.planted.multi_country_victims
    );
    assert!(t.planted.multi_country_victims > 0);
    assert_eq!(
        t.planted.controllers_idle, 0,
        "victims ≥ controllers ⇒ all used"
    );
    assert_eq!(t.c2.controllers.total, t.planted.controllers);
    assert_eq!(t.c2.controllers.overseas, cfg.controllers_overseas);
    assert_eq!(t.c2.controllers.domestic, cfg.controllers_domestic);
    assert_eq!(
        t.c2.by_method.get(TRUTH_METHOD),
        Some(&t.planted.relationships)
    );
    let share_sum: f64 =
        t.c2.overseas_by_country
            .iter()
            .map(|r| r.controllers_share)
            .sum();
    assert!((share_sum - 1.0).abs() < 1e-4, "{share_sum}");
    let vsum: f64 =
        t.c2.overseas_by_country
            .iter()
            .map(|r| r.victims_share)
            .sum();
    assert!(
        vsum >= 1.0 - 1e-4,
        "victim shares cover every overseas-held victim: {vsum}"
    );
    for r in &t.c2.overseas_by_country {
        let exp = r.victims as f64 / t.c2.victims.controlled_from_overseas as f64;
        assert!((r.victims_share - exp).abs() < 1e-6);
    }
}

#[test]
fn country_shares_follow_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        hosts: 6_000,
        infected_fraction: 0.5,
        background_flows_per_host: 0.5,
        max_beacons_per_relationship: 1,
        ..test_config(3)
    };
    let out = run(&cfg, dir.path());
    let us = out
        .truth
        .c2
        .overseas_by_country
        .iter()
        .find(|r| r.country == "US")
        .unwrap();
    // The profile's US weights renormalised over the countries the ranges
    // have (the test ranges lack most of the tail).
    let present = cfg
        .overseas
        .iter()
        .filter(|p| !test_ranges().networks(p.country).is_empty() && p.country != cfg.home_country);
    let (pc, pv) = present.fold((0.0, 0.0), |(c, v), p| {
        (c + p.controller_weight, v + p.victim_weight)
    });
    // Victim share: that of first controllers, plus a little from second ones.
    let exp_v = config::US_VICTIM_SHARE / pv;
    assert!(
        us.victims_share >= exp_v - 0.03 && us.victims_share <= exp_v + 0.04,
        "{} vs {exp_v}",
        us.victims_share
    );
    let exp = config::US_CONTROLLER_SHARE / pc;
    assert!(
        (us.controllers_share - exp).abs() < 0.02,
        "{} vs {exp}",
        us.controllers_share
    );
    assert_eq!(out.truth.c2.overseas_by_country[0].country, "US");
    // Heavy tail: the biggest botnet is much larger than the median one.
    let (rels, _) = census(&out, &test_ranges(), cfg.home_country);
    let mut sizes: HashMap<IpAddr, u64> = HashMap::new();
    for r in &rels {
        *sizes.entry(r.controller_ip.unwrap()).or_default() += 1;
    }
    let mut s: Vec<u64> = sizes.into_values().collect();
    s.sort_unstable();
    assert!(s[s.len() - 1] >= 8 * s[s.len() / 2], "sizes {s:?}");
}

#[test]
fn intel_lists_every_controller_and_decoys_stay_silent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = test_config(11);
    let out = run(&cfg, dir.path());
    let intel = read_intel(&out);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(PLAN_STREAM);
    let plan = plan::Plan::build(&cfg, &test_ranges(), &mut rng).unwrap();
    assert_eq!(plan.controllers.len() as u64, out.truth.planted.controllers);
    for c in &plan.controllers {
        match &c.domain {
            Some(d) => {
                assert!(intel.domains.contains(d), "{d}");
                assert!(!intel.ips.contains(&Ipv4Addr::from(c.ip)));
            }
            None => assert!(intel.ips.contains(&Ipv4Addr::from(c.ip))),
        }
    }
    assert!(out.truth.planted.controllers_by_domain > 0);
    assert!(!plan.decoys.is_empty() && !plan.decoy_domains.is_empty());
    let conn = zeek_rows(&out, "conn", 21);
    let dns = zeek_rows(&out, "dns", 24);
    let contacted: HashSet<Ipv4Addr> = conn.iter().map(|r| r[4].parse().unwrap()).collect();
    let queried: HashSet<&str> = dns.iter().map(|r| r[9].as_str()).collect();
    let truth_ips: HashSet<String> = out
        .truth
        .c2
        .overseas_by_asn
        .iter()
        .map(|r| r.org.clone())
        .collect();
    assert_eq!(truth_ips.len(), 1, "no ASN database: one 'unknown' row");
    for d in &plan.decoys {
        assert!(intel.ips.contains(&Ipv4Addr::from(d.ip)));
        assert!(!contacted.contains(&Ipv4Addr::from(d.ip)));
    }
    for d in &plan.decoy_domains {
        assert!(intel.domains.contains(d));
        assert!(!queried.contains(d.as_str()));
    }
    // Neighbours: contacted, same /24 as a controller, never listed.
    assert!(!plan.neighbors.is_empty());
    let ctrl24: HashSet<u32> = plan.controllers.iter().map(|c| c.ip >> 8).collect();
    let mut reached = 0;
    for &n in &plan.neighbors {
        assert!(ctrl24.contains(&(n >> 8)));
        assert!(!intel.ips.contains(&Ipv4Addr::from(n)));
        reached += usize::from(contacted.contains(&Ipv4Addr::from(n)));
    }
    assert!(reached > 0, "no neighbour was contacted");
}

#[test]
fn addresses_are_unique_and_inside_their_countries() {
    let cfg = test_config(5);
    let ranges = test_ranges();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(PLAN_STREAM);
    let plan = plan::Plan::build(&cfg, &ranges, &mut rng).unwrap();
    let mut seen = HashSet::new();
    let mut claim = |ip: u32, want: CountryCode| {
        assert!(seen.insert(ip), "{} used twice", Ipv4Addr::from(ip));
        assert!(ranges::usable(ip));
        assert_eq!(
            ranges.country_of(ip.into()),
            Some(want),
            "{}",
            Ipv4Addr::from(ip)
        );
    };
    let home = cfg.home_country;
    claim(plan.resolver, home);
    let mut cursor = plan.host_cursor;
    for _ in 0..cfg.hosts {
        claim(plan.next_host(&mut cursor).unwrap(), home);
    }
    for c in plan.controllers.iter().chain(&plan.decoys) {
        claim(c.ip, c.country);
        assert_eq!(c.locale == Locale::Domestic, c.country == home);
    }
    for &(ip, domestic) in &plan.benign {
        assert!(seen.insert(ip));
        assert_eq!(ranges.country_of(ip.into()) == Some(home), domestic);
    }
    for &n in &plan.neighbors {
        assert!(seen.insert(n));
        assert!(ranges.country_of(n.into()).is_some_and(|c| c != home));
    }
}

#[test]
fn hourly_gzip_files_hold_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        hosts: 500,
        gzip: true,
        hourly_files: true,
        ..test_config(9)
    };
    let out = run(&cfg, dir.path());
    let conn_files = out
        .files
        .iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("conn.")
        })
        .count();
    assert_eq!(conn_files, 4);
    assert!(out.telemetry_dir.join("conn.03.log.gz").is_file());
    let rows = zeek_rows(&out, "conn", 21);
    assert_eq!(rows.len() as u64, out.flows);
    let dns = zeek_rows(&out, "dns", 24);
    assert_eq!(dns.len() as u64, out.dns_queries);
    let (rels, _) = census(&out, &test_ranges(), cfg.home_country);
    assert_eq!(summarize(&rels), out.truth.c2);
}

#[test]
fn truth_json_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &SimConfig {
            hosts: 300,
            ..test_config(1)
        },
        dir.path(),
    );
    let text = std::fs::read_to_string(&out.truth_path).unwrap();
    let back: Truth = serde_json::from_str(&text).unwrap();
    assert_eq!(back, out.truth);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema"], TRUTH_SCHEMA);
    assert_eq!(v["home"]["countries"][0], "CN");
    assert_eq!(v["config"]["home_country"], "CN");
    assert!(v["c2"]["victims"]["total"].as_u64().unwrap() > 0);
}

#[test]
fn scales_and_validation() {
    for s in SimConfig::SCALES {
        let c = SimConfig::scale(s).unwrap();
        c.validate().unwrap();
    }
    assert!(SimConfig::scale("galactic").is_none());
    let n = SimConfig::scale("national").unwrap();
    assert!((n.victims() as f64 - 14.2e6).abs() < 1e5);
    assert_eq!(n.controllers_overseas, 73_000);
    let bad = SimConfig {
        infected_fraction: 1.5,
        ..test_config(1)
    };
    assert!(matches!(
        bad.validate(),
        Err(SimError::InvalidConfig { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut no_home = BTreeMap::new();
    no_home.insert(cc("US"), vec!["3.0.0.0/16".parse().unwrap()]);
    let r = CountryRanges::new(no_home).unwrap();
    assert!(matches!(
        simulate(&test_config(1), &r, None, dir.path(), &mut |_, _| {}),
        Err(SimError::NoRanges { .. })
    ));
    // Home too small for the hosts asked.
    let mut tiny = BTreeMap::new();
    tiny.insert(cc("CN"), vec!["36.0.0.0/24".parse().unwrap()]);
    tiny.insert(cc("US"), vec!["3.0.0.0/16".parse().unwrap()]);
    let r = CountryRanges::new(tiny).unwrap();
    assert!(matches!(
        simulate(&test_config(1), &r, None, dir.path(), &mut |_, _| {}),
        Err(SimError::NotEnoughAddresses { .. })
    ));
}

/// Timing of the `day` scale (100,000 hosts) on the test ranges. Run with
/// `cargo test --release -p c2atlas --lib simulate::tests::day_scale -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn day_scale_timing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig::scale("day").unwrap();
    let t = std::time::Instant::now();
    let out = simulate(&cfg, &test_ranges(), None, dir.path(), &mut |_, _| {}).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let bytes: u64 = out
        .files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    eprintln!(
        "day: {secs:.2} s, {} conn rows, {} dns rows, {} relationships, {:.0} MB",
        out.flows,
        out.dns_queries,
        out.truth.planted.relationships,
        bytes as f64 / 1e6
    );
}
