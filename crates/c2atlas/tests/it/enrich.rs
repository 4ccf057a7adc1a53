//! Integration tests: enrich.
//!
//! Real files used in place: the MaxMind test databases and their JSON
//! sources (`../shared/data/geoip/maxmind-MaxMind-DB/`), the expectation
//! table derived from them (`maxmind_ipv4_expectations.tsv`), and the default
//! ip-location-db databases (`$C2ATLAS_DB_DIR` or `data/db`).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use c2atlas::enrich::{AsnDb, CountryCode, CountryField, EnrichError, GeoDb};
use rand::{RngExt, SeedableRng};

use crate::common;

const TEST_DATA: &str = "geoip/maxmind-MaxMind-DB/test-data";
const SOURCE_DATA: &str = "geoip/maxmind-MaxMind-DB/source-data";

fn opt(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

/// `::a.b.c.d/(96+n)` or `a.b.c.d/n` → the IPv4 network.
fn tsv_network(s: &str) -> ipnet::Ipv4Net {
    let s = s.strip_prefix("::").map_or_else(
        || s.to_owned(),
        |rest| {
            let (a, len) = rest.split_once('/').expect("prefix length");
            format!("{a}/{}", len.parse::<u8>().expect("length") - 96)
        },
    );
    s.parse().expect("IPv4 network in the expectation table")
}

#[test]
fn maxmind_ipv4_expectations_agree() {
    let (Some(tsv), Some(dir)) = (
        common::shared("geoip/maxmind_ipv4_expectations.tsv"),
        common::shared(TEST_DATA),
    ) else {
        return;
    };
    let text = std::fs::read_to_string(tsv).expect("readable tsv");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("column {name} in {header:?}"))
    };
    let (c_db, c_net, c_cc, c_reg, c_asn, c_org) = (
        col("db"),
        col("network_in_json"),
        col("country.iso_code"),
        col("registered_country.iso_code"),
        col("asn"),
        col("as_org"),
    );
    let mut geo: BTreeMap<String, (GeoDb, GeoDb)> = BTreeMap::new();
    let mut asn: BTreeMap<String, AsnDb> = BTreeMap::new();
    let mut checked = 0;
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let db = f[c_db];
        let path = dir.join(format!("{db}.mmdb"));
        let net = tsv_network(f[c_net]);
        let probes = [net.network(), net.broadcast()];
        if opt(f[c_asn]).is_some() {
            let a = asn
                .entry(db.to_owned())
                .or_insert_with(|| AsnDb::open(&path).expect("ASN test db opens"));
            let want_asn: u32 = f[c_asn].parse().expect("asn number");
            // The table writes a missing organisation as Python's `None`.
            let want_org = match f[c_org] {
                "None" | "-" => "",
                o => o,
            };
            for ip in probes {
                let got = a.lookup(IpAddr::V4(ip)).expect("ASN answer");
                assert_eq!(
                    (got.asn, &*got.org),
                    (want_asn, want_org),
                    "{db} {ip} ({line})"
                );
                checked += 1;
            }
        } else {
            let (g, r) = geo.entry(db.to_owned()).or_insert_with(|| {
                (
                    GeoDb::open(&path, CountryField::Country).expect("test db opens"),
                    GeoDb::open(&path, CountryField::Registered).expect("test db opens"),
                )
            });
            for ip in probes {
                let ip = IpAddr::V4(ip);
                assert_eq!(
                    g.country(ip).map(|c| c.to_string()).as_deref(),
                    opt(f[c_cc]),
                    "{db} country of {ip} ({line})"
                );
                assert_eq!(
                    r.country(ip).map(|c| c.to_string()).as_deref(),
                    opt(f[c_reg]),
                    "{db} registered country of {ip} ({line})"
                );
                checked += 1;
            }
        }
    }
    // 523 rows, two probes each.
    assert_eq!(checked, 2 * 523);
}

/// One JSON source entry: network and its (country, registered, asn, org).
struct JsonEntry {
    net: ipnet::IpNet,
    country: Option<String>,
    registered: Option<String>,
    asn: Option<u32>,
    org: Option<String>,
}

fn json_entries(file: &Path) -> Vec<JsonEntry> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("json")).expect("valid json");
    let mut out = Vec::new();
    for item in v.as_array().expect("array") {
        for (k, rec) in item.as_object().expect("object") {
            let iso = |key: &str| {
                rec.get(key)
                    .and_then(|c| c.get("iso_code"))
                    .and_then(|c| c.as_str())
                    .map(str::to_owned)
            };
            out.push(JsonEntry {
                net: k.parse().expect("network key"),
                country: iso("country"),
                registered: iso("registered_country"),
                asn: rec
                    .get("autonomous_system_number")
                    .and_then(|n| n.as_u64())
                    .map(|n| n as u32),
                org: rec
                    .get("autonomous_system_organization")
                    .and_then(|o| o.as_str())
                    .map(str::to_owned),
            });
        }
    }
    out
}

/// The most specific entry containing `ip` (later entries win ties, as the
/// test-data writer inserts them in order).
fn expected_for(entries: &[JsonEntry], ip: IpAddr) -> Option<&JsonEntry> {
    entries
        .iter()
        .filter(|e| e.net.contains(&ip))
        .max_by_key(|e| e.net.prefix_len())
}

#[test]
fn maxmind_ipv6_source_json_agrees() {
    let (Some(src), Some(dir)) = (common::shared(SOURCE_DATA), common::shared(TEST_DATA)) else {
        return;
    };
    let mut checked = 0;
    for name in [
        "GeoIP2-Country-Test",
        "GeoLite2-Country-Test",
        "GeoIP2-City-Test",
        "GeoLite2-City-Test",
    ] {
        let entries = json_entries(&src.join(format!("{name}.json")));
        let db = dir.join(format!("{name}.mmdb"));
        let g = GeoDb::open(&db, CountryField::Country).expect("opens");
        let r = GeoDb::open(&db, CountryField::Registered).expect("opens");
        for e in entries.iter().filter(|e| match e.net {
            ipnet::IpNet::V6(n) => !n.to_string().starts_with("::"),
            ipnet::IpNet::V4(_) => false,
        }) {
            for ip in [e.net.network(), e.net.broadcast()] {
                let want = expected_for(&entries, ip).expect("self contains");
                assert_eq!(
                    g.country(ip).map(|c| c.to_string()),
                    want.country,
                    "{name} country of {ip}"
                );
                assert_eq!(
                    r.country(ip).map(|c| c.to_string()),
                    want.registered,
                    "{name} registered country of {ip}"
                );
                checked += 1;
            }
        }
    }
    let entries = json_entries(&src.join("GeoLite2-ASN-Test.json"));
    let a = AsnDb::open(&dir.join("GeoLite2-ASN-Test.mmdb")).expect("ASN db opens");
    for e in entries
        .iter()
        .filter(|e| matches!(e.net, ipnet::IpNet::V6(_)))
    {
        for ip in [e.net.network(), e.net.broadcast()] {
            let want = expected_for(&entries, ip).expect("self contains");
            let got = a.lookup(ip);
            assert_eq!(got.as_ref().map(|g| g.asn), want.asn, "ASN of {ip}");
            if let Some(g) = got {
                assert_eq!(&*g.org, want.org.as_deref().unwrap_or(""), "org of {ip}");
            }
            checked += 1;
        }
    }
    assert!(checked > 400, "only {checked} IPv6 checks");
    eprintln!("checked {checked} IPv6 lookups against the JSON sources");
}

#[test]
fn info_and_networks_of_country_on_test_db() {
    let Some(dir) = common::shared(TEST_DATA) else {
        return;
    };
    let path = dir.join("GeoIP2-Country-Test.mmdb");
    let g = GeoDb::open(&path, CountryField::Country).expect("opens");
    let info = g.info();
    assert_eq!(info.database_type, "GeoIP2-Country");
    assert!(info.build_epoch > 1_300_000_000, "{}", info.build_epoch);
    use sha2::Digest;
    let want = hex::encode(sha2::Sha256::digest(std::fs::read(&path).expect("read")));
    assert_eq!(info.sha256, want);

    let gb = CountryCode::parse("GB").expect("cc");
    let nets = g.ipv4_networks_of(gb);
    assert!(nets.windows(2).all(|w| w[0] < w[1]), "sorted: {nets:?}");
    for want in ["2.125.160.216/29", "81.2.69.142/31", "81.2.69.160/27"] {
        let want: ipnet::Ipv4Net = want.parse().expect("net");
        assert!(
            nets.iter().any(|n| n.contains(&want)),
            "{want} not covered by {nets:?}"
        );
    }
    for n in &nets {
        for ip in [n.network(), n.broadcast()] {
            assert_eq!(g.country(IpAddr::V4(ip)), Some(gb), "{n}");
        }
    }
    let none = g.ipv4_networks_of(CountryCode::parse("ZZ").expect("cc"));
    assert!(none.is_empty());
}

/// Broken, truncated and foreign files: errors or `None`, never a panic.
#[test]
fn broken_databases_never_panic() {
    let Some(dir) = common::shared(TEST_DATA) else {
        return;
    };
    let probes: Vec<IpAddr> = [
        "1.1.1.1",
        "1.1.1.3",
        "81.2.69.142",
        "2.125.160.216",
        "::1:ffff:ffff",
        "2001:218::1",
        "::ffff:1.1.1.1",
        "255.255.255.255",
    ]
    .iter()
    .map(|s| s.parse().expect("ip"))
    .collect();
    let mut opened = 0;
    let mut rejected = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for p in files {
        match GeoDb::open(&p, CountryField::Country) {
            Ok(g) => {
                opened += 1;
                for ip in &probes {
                    let _ = g.country(*ip);
                }
                let _ = g.ipv4_networks_of(CountryCode::parse("US").expect("cc"));
            }
            Err(EnrichError::InvalidMmdb { reason, .. }) => {
                rejected.push(p.file_name().expect("name").to_string_lossy().into_owned());
                assert!(!reason.is_empty());
            }
            Err(e) => panic!("{}: unexpected error kind {e}", p.display()),
        }
        // The ASN loader on the same files: an error or a database.
        if let Ok(a) = AsnDb::open(&p) {
            for ip in &probes {
                let _ = a.lookup(*ip);
            }
        }
    }
    eprintln!("opened {opened}, rejected {rejected:?}");
    assert!(rejected.iter().any(|n| n == "README.md"));
    assert!(
        rejected
            .iter()
            .any(|n| n == "GeoIP2-City-Test-Invalid-Node-Count.mmdb")
    );
    // Lookups in the broken-pointer database answer None instead of panicking.
    let bp = dir.join("MaxMind-DB-test-broken-pointers-24.mmdb");
    if let Ok(g) = GeoDb::open(&bp, CountryField::Country) {
        assert_eq!(g.country("1.1.1.16".parse().expect("ip")), None);
    }

    // Truncated: the first 1000 bytes of a real database.
    let real = common::default_db("country/geo-whois-asn-country.mmdb")
        .unwrap_or_else(|| dir.join("GeoIP2-City-Test.mmdb"));
    let bytes = std::fs::read(&real).expect("read");
    let tmp = tempfile::tempdir().expect("tmp");
    let cut = tmp.path().join("truncated.mmdb");
    std::fs::write(&cut, &bytes[..1000]).expect("write");
    assert!(matches!(
        GeoDb::open(&cut, CountryField::Country),
        Err(EnrichError::InvalidMmdb { .. })
    ));
    // Missing file.
    assert!(matches!(
        GeoDb::open(&tmp.path().join("absent.mmdb"), CountryField::Country),
        Err(EnrichError::Io { .. })
    ));
    assert!(matches!(
        AsnDb::open(&tmp.path().join("absent.csv")),
        Err(EnrichError::Io { .. })
    ));
    // A directory without the CSV files.
    assert!(matches!(
        AsnDb::open(tmp.path()),
        Err(EnrichError::Io { .. })
    ));
    // Garbage given to the ASN loader: not a usable CSV.
    let junk = tmp.path().join("junk.csv");
    std::fs::write(&junk, b"\x00\x01binary junk\nmore junk\n").expect("write");
    assert!(matches!(
        AsnDb::open(&junk),
        Err(EnrichError::InvalidCsv { line: 1, .. })
    ));
}

fn reference_script() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/mmdb_reference.py"
    ))
}

/// Runs the Python reference reader; `None` (with a SKIP message) when
/// python3 or its `maxminddb` package is missing.
fn python_reference(db: &Path, ips: &[IpAddr], registered: bool) -> Option<Vec<String>> {
    let tmp = tempfile::NamedTempFile::new().expect("tmp");
    {
        let mut w = std::io::BufWriter::new(tmp.as_file());
        for ip in ips {
            writeln!(w, "{ip}").expect("write");
        }
    }
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(reference_script()).arg(db);
    if registered {
        cmd.arg("registered");
    }
    let out = match cmd
        .stdin(std::fs::File::open(tmp.path()).expect("reopen"))
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIP: python3 not runnable: {e}");
            return None;
        }
    };
    if out.status.code() == Some(3) {
        eprintln!("SKIP: the Python maxminddb package is missing (pip install maxminddb)");
        return None;
    }
    assert!(
        out.status.success(),
        "reference script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let codes: Vec<String> = text
        .lines()
        .map(|l| l.split_once('\t').expect("tab").1.to_owned())
        .collect();
    assert_eq!(codes.len(), ips.len());
    Some(codes)
}

/// `n` IPv4 addresses uniformly at random plus `m` IPv6 addresses in the
/// RIR-delegated parts of 2000::/3 (and some anywhere in it).
fn sample_addresses(seed: u64, n: usize, m: usize) -> Vec<IpAddr> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut ips: Vec<IpAddr> = (0..n)
        .map(|_| IpAddr::V4(Ipv4Addr::from(rng.random::<u32>())))
        .collect();
    // 2001::/16, 2400::/12 APNIC, 2600::/12 ARIN, 2a00::/12 RIPE,
    // 2800::/12 LACNIC, 2c00::/12 AFRINIC, and 2000::/3 itself.
    let blocks: [(u128, u32); 7] = [
        (0x2001 << 112, 16),
        (0x2400 << 112, 12),
        (0x2600 << 112, 12),
        (0x2a00 << 112, 12),
        (0x2800 << 112, 12),
        (0x2c00 << 112, 12),
        (0x2000 << 112, 3),
    ];
    for i in 0..m {
        let (net, len) = blocks[i % blocks.len()];
        // Keep the prefix, randomise the next 36 bits, leave the rest
        // random too: most hits come from the top 48 bits.
        let host = rng.random::<u128>() >> len;
        ips.push(IpAddr::V6(Ipv6Addr::from(net | host)));
    }
    ips
}

#[test]
fn default_country_db_agrees_with_python_reference() {
    let Some(db) = common::default_db("country/geo-whois-asn-country.mmdb") else {
        return;
    };
    let ips = sample_addresses(0x00c2_a71a5, 100_000, 5_000);
    let Some(want) = python_reference(&db, &ips, false) else {
        return;
    };
    let g = GeoDb::open(&db, CountryField::Country).expect("default db opens");
    let mut hits = 0;
    let mut disagreements = Vec::new();
    for (ip, want) in ips.iter().zip(&want) {
        let got = g.country(*ip).map(|c| c.to_string()).unwrap_or_default();
        if !got.is_empty() {
            hits += 1;
        }
        if &got != want {
            disagreements.push(format!("{ip}: ours {got:?}, python {want:?}"));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements, first: {:?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(10)]
    );
    // A real database answers for most public IPv4 space.
    assert!(hits > 50_000, "only {hits} answers");
    eprintln!("{} addresses agree ({hits} with a country)", ips.len());
}

#[test]
fn maxmind_test_db_registered_country_agrees_with_python_reference() {
    let Some(dir) = common::shared(TEST_DATA) else {
        return;
    };
    let db = dir.join("GeoIP2-City-Test.mmdb");
    // Addresses inside the database's networks and around them.
    let entries = common::shared(SOURCE_DATA)
        .map(|s| json_entries(&s.join("GeoIP2-City-Test.json")))
        .unwrap_or_default();
    let mut ips: Vec<IpAddr> = Vec::new();
    for e in &entries {
        ips.extend([e.net.network(), e.net.broadcast()]);
    }
    ips.extend(sample_addresses(7, 2_000, 500));
    for registered in [false, true] {
        let Some(want) = python_reference(&db, &ips, registered) else {
            return;
        };
        let field = if registered {
            CountryField::Registered
        } else {
            CountryField::Country
        };
        let g = GeoDb::open(&db, field).expect("opens");
        for (ip, want) in ips.iter().zip(&want) {
            let got = g.country(*ip).map(|c| c.to_string()).unwrap_or_default();
            assert_eq!(&got, want, "{ip} registered={registered}");
        }
    }
}

#[test]
fn default_asn_csv_matches_its_lines() {
    let Some(dir) = common::default_db("asn") else {
        return;
    };
    let t = Instant::now();
    let a = AsnDb::open(&dir).expect("default ASN dir opens");
    eprintln!(
        "loaded {:?} ranges in {:?}, {} malformed, issues {:?}",
        a.len(),
        t.elapsed(),
        a.malformed(),
        &a.issues()[..a.issues().len().min(5)]
    );
    assert_eq!(a.info().database_type, "ip-location-db asn CSV");
    assert_eq!(a.info().sha256.len(), 64);
    let cf = a
        .lookup("1.1.1.1".parse().expect("ip"))
        .expect("Cloudflare");
    assert_eq!((cf.asn, &*cf.org), (13335, "Cloudflare, Inc."));

    // Every sampled line, parsed independently with the csv crate, answers
    // for its first, last and middle address (unless the loader reported it).
    let reported: std::collections::HashSet<(String, u64)> = a
        .issues()
        .iter()
        .map(|i| (i.path.display().to_string(), i.line))
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let mut checked = 0;
    for name in ["asn-ipv4.csv", "asn-ipv6.csv"] {
        let path = dir.join(name);
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(&path)
            .expect("csv");
        for (i, rec) in rdr.records().enumerate() {
            if rng.random::<u32>() % 100 != 0 {
                continue;
            }
            let rec = rec.expect("record");
            if reported.contains(&(path.display().to_string(), i as u64 + 1)) {
                continue;
            }
            let s: IpAddr = rec[0].parse().expect("first");
            let e: IpAddr = rec[1].parse().expect("last");
            let asn: u32 = rec[2].parse().expect("asn");
            let mid = match (s, e) {
                (IpAddr::V4(s), IpAddr::V4(e)) => {
                    IpAddr::V4(Ipv4Addr::from(u32::from(s) / 2 + u32::from(e) / 2))
                }
                (IpAddr::V6(s), IpAddr::V6(e)) => {
                    IpAddr::V6(Ipv6Addr::from(u128::from(s) / 2 + u128::from(e) / 2))
                }
                _ => panic!("mixed families at line {}", i + 1),
            };
            for ip in [s, mid, e] {
                let got = a.lookup(ip).unwrap_or_else(|| panic!("no ASN for {ip}"));
                assert_eq!(
                    (got.asn, &*got.org),
                    (asn, &rec[3]),
                    "{name}:{} {ip}",
                    i + 1
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 4_000, "only {checked} lines checked");
}

/// Timing figures (run with `--ignored --nocapture`, ideally `--release`).
#[test]
#[ignore]
fn measure_load_and_lookup_speed() {
    let (Some(asn_dir), Some(cdb)) = (
        common::default_db("asn"),
        common::default_db("country/geo-whois-asn-country.mmdb"),
    ) else {
        return;
    };
    let t = Instant::now();
    let a = AsnDb::open(&asn_dir).expect("asn");
    let asn_load = t.elapsed();
    let t = Instant::now();
    let g = GeoDb::open(&cdb, CountryField::Country).expect("geo");
    let geo_open = t.elapsed();
    let ips = sample_addresses(1, 1_000_000, 0);
    let t = Instant::now();
    let mut n = 0usize;
    for ip in &ips {
        n += usize::from(g.country(*ip).is_some());
    }
    let cc_rate = ips.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut m = 0usize;
    for ip in &ips {
        m += usize::from(a.lookup(*ip).is_some());
    }
    let asn_rate = ips.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let jp = g.ipv4_networks_of(CountryCode::parse("JP").expect("cc"));
    let nets_time = t.elapsed();
    eprintln!(
        "ASN CSV load {asn_load:?} ({:?} ranges); mmdb open {geo_open:?}; \
         country lookups {cc_rate:.0}/s ({n} hits); ASN lookups {asn_rate:.0}/s ({m} hits); \
         ipv4_networks_of(JP) {} nets in {nets_time:?}",
        a.len(),
        jp.len()
    );
}

/// The country memo of the census hot path answers exactly what the database
/// answers: random addresses, neighbours in the same /16 and /24 (so that
/// memo hits and misses both happen), on the MaxMind test database and the
/// default database.
#[test]
fn country_cache_equals_lookups() {
    use c2atlas::enrich::CountryCache;
    let mut dbs = Vec::new();
    if let Some(dir) = common::shared(TEST_DATA) {
        dbs.push(dir.join("GeoIP2-Country-Test.mmdb"));
    }
    if let Some(p) = common::default_db("country/geo-whois-asn-country.mmdb") {
        dbs.push(p);
    }
    for path in dbs {
        let g = GeoDb::open(&path, CountryField::Country).expect("opens");
        let mut cache = CountryCache::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut ips = sample_addresses(5, 20_000, 200);
        // Neighbours: the same /16 and /24 again, and the test db's own networks.
        for _ in 0..20_000 {
            let base: u32 = rng.random::<u32>() & 0xffff_0000;
            for _ in 0..4 {
                ips.push(IpAddr::V4(Ipv4Addr::from(
                    base | rng.random_range(0..0x1_0000),
                )));
            }
        }
        for s in [
            "81.2.69.142",
            "81.2.69.160",
            "81.2.69.1",
            "2.125.160.216",
            "::ffff:81.2.69.142",
        ] {
            ips.push(s.parse().expect("ip"));
        }
        let mut hits = 0usize;
        for ip in &ips {
            hits += usize::from(cache.country(&g, *ip).is_some());
            assert_eq!(
                cache.country(&g, *ip),
                g.country(*ip),
                "{ip} in {}",
                path.display()
            );
        }
        assert!(
            hits > 0,
            "{}: some addresses have a country",
            path.display()
        );
    }
}
