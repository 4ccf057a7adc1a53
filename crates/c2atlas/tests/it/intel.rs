//! Integration tests: intel. Real feeds are read in place from
//! `shared/data/intel/` (abuse.ch Feodo/ThreatFox/URLhaus snapshots and the
//! 2016-12-12 FireHOL ipsets); Zeek Intel and the format variants absent from
//! the snapshot are written as fixtures into a temp dir.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use c2atlas::intel::{FeedFormat, FeedStats, IndicatorKind, IntelError, IntelSet};
use ipnet::IpNet;

use crate::common;

/// Every feed file under `dir`, recursively, sorted; documentation
/// (`*.md`) and the snapshot's `MANIFEST.tsv` (sizes and hashes) are not feeds.
fn feed_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x != "md")
                && p.file_name().is_some_and(|n| n != "MANIFEST.tsv")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Independent count of data lines: non-blank, not a `#` comment, and not an
/// uncommented CSV header (those name the `dst_ip` or `dateadded` column).
fn count_data_lines(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).expect("feed is UTF-8");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| !l.contains("\"dst_ip\"") && !l.starts_with("id,dateadded"))
        .count() as u64
}

fn load_one(path: &Path) -> (IntelSet, FeedStats, Vec<(u64, String)>) {
    let mut set = IntelSet::new();
    let mut diags = Vec::new();
    let stats = set
        .load(path, &mut |l, r| diags.push((l, r)))
        .unwrap_or_else(|e| panic!("{e}"));
    set.build();
    (set, stats, diags)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// Naive reference: is `a` inside any IP/CIDR indicator of `set`?
fn naive_covered(set: &IntelSet, a: IpAddr) -> bool {
    set.iter().any(|(_, ind)| {
        matches!(ind.kind, IndicatorKind::Ip | IndicatorKind::Cidr)
            && ind
                .value
                .parse::<IpNet>()
                .or_else(|_| ind.value.parse::<IpAddr>().map(IpNet::from))
                .is_ok_and(|n| n.contains(&a))
    })
}

fn next_ip(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(v) => IpAddr::from(u32::from(v).wrapping_add(1).to_be_bytes()),
        IpAddr::V6(v) => IpAddr::from(u128::from(v).wrapping_add(1).to_be_bytes()),
    }
}

#[test]
fn every_shared_feed_loads_completely() {
    let Some(dir) = common::shared("intel") else {
        return;
    };
    let files = feed_files(&dir);
    assert!(
        files.len() >= 30,
        "expected the snapshot's feeds, got {files:?}"
    );
    let mut total = 0;
    for path in &files {
        let (set, stats, diags) = load_one(path);
        let expected = count_data_lines(path);
        // The real feeds are clean: every data line is a valid indicator.
        assert_eq!(stats.malformed, 0, "{}: {diags:?}", path.display());
        assert_eq!(stats.skipped, 0, "{}", path.display());
        assert_eq!(
            stats.indicators,
            expected - stats.malformed,
            "{}",
            path.display()
        );
        assert_eq!(set.len() as u64, stats.indicators);
        assert_eq!(stats.sha256.len(), 64);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let want = match path
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
        {
            Some("abusech-feodo") => FeedFormat::FeodoCsv,
            Some("abusech-threatfox") => FeedFormat::ThreatFoxCsv,
            Some("abusech-urlhaus") => FeedFormat::UrlhausCsv,
            _ => FeedFormat::FireholSet,
        };
        assert_eq!(stats.format, want, "{name}");
        // Every indicator is attributed to its file and matches itself; the
        // first one's neighbour does not match.
        let mut first_net = None;
        for (id, ind) in set.iter() {
            assert_eq!(&*ind.source, name);
            let hit = match ind.kind {
                IndicatorKind::Url => set.match_url(&ind.value),
                IndicatorKind::Domain => set.match_domain(&ind.value),
                IndicatorKind::Ip => set.match_ip(ip(&ind.value)),
                IndicatorKind::Cidr => {
                    let n: IpNet = ind.value.parse().expect("canonical CIDR");
                    assert_eq!(
                        set.match_ip(n.broadcast())
                            .map(|h| set.get(h).value.clone()),
                        Some(ind.value.clone())
                    );
                    set.match_ip(n.network())
                }
            };
            let hit = hit.unwrap_or_else(|| panic!("{name}: {ind:?} does not match itself"));
            // The hit is the first-loaded member of this indicator's group
            // (same value; for URLs, same normalised URL).
            assert!(
                set.sources_of(hit).any(|s| std::ptr::eq(s, set.get(id))),
                "{name}: {ind:?}"
            );
            if ind.kind != IndicatorKind::Url {
                assert_eq!(set.get(hit).value, ind.value, "{name}");
            }
            if first_net.is_none() && ind.kind != IndicatorKind::Url {
                first_net = Some(ind.value.clone());
            }
        }
        if let Some(v) = first_net {
            let last = match v.parse::<IpNet>() {
                Ok(n) => n.broadcast(),
                Err(_) => ip(&v),
            };
            let mut probe = next_ip(last);
            while naive_covered(&set, probe) {
                probe = next_ip(probe);
            }
            assert_eq!(set.match_ip(probe), None, "{name}: {probe}");
        } else {
            let (_, first) = set.iter().next().expect("non-empty feed");
            let neighbour = format!("{}x", first.value.trim_end_matches('/'));
            assert_eq!(set.match_url(&neighbour), None, "{name}: {neighbour}");
        }
        total += stats.indicators;
    }
    eprintln!("loaded {} feeds, {total} indicators", files.len());
}

#[test]
fn same_files_same_order_same_ids() {
    let Some(dir) = common::shared("intel/abusech-feodo") else {
        return;
    };
    let files = feed_files(&dir);
    let load = || {
        let mut set = IntelSet::new();
        for f in &files {
            set.load(f, &mut |_, _| {}).expect("loads");
        }
        set.build();
        set.iter()
            .map(|(id, i)| (id, i.clone()))
            .collect::<Vec<_>>()
    };
    let a = load();
    assert!(!a.is_empty());
    assert_eq!(a, load());
}

#[test]
fn feodo_families_and_dates() {
    let Some(path) = common::shared("intel/abusech-feodo/ipblocklist_aggressive_2021-03.csv")
    else {
        return;
    };
    let (set, stats, _) = load_one(&path);
    assert_eq!(stats.indicators, 472);
    let count = |fam: &str| {
        set.iter()
            .filter(|(_, i)| i.family.as_deref() == Some(fam))
            .count()
    };
    assert_eq!(
        (count("Emotet"), count("Dridex"), count("TrickBot")),
        (178, 166, 128)
    );
    assert!(
        set.iter()
            .all(|(_, i)| i.first_seen.is_some() && i.last_seen.is_some())
    );
    let hit = set.match_ip(ip("67.213.75.205")).expect("listed C2");
    let ind = set.get(hit);
    assert_eq!(ind.kind, IndicatorKind::Ip);
    assert_eq!(ind.family.as_deref(), Some("Dridex"));
    assert_eq!(ind.first_seen.as_deref(), Some("2021-01-17 07:30:05"));
    assert_eq!(ind.last_seen.as_deref(), Some("2021-03-19"));
    // IPv4-mapped IPv6 form of the same address matches too.
    assert_eq!(set.match_ip(ip("::ffff:67.213.75.205")), Some(hit));
    // 465 distinct IPs in 472 rows: repeated IPs (other ports) share a group.
    let dup = set
        .iter()
        .find(|(id, _)| set.sources_of(*id).count() > 1)
        .expect("a repeated IP");
    assert!(set.sources_of(dup.0).all(|s| s.value == dup.1.value));

    let Some(commented) = common::shared("intel/abusech-feodo/ipblocklist_57009e0.csv") else {
        return;
    };
    let (set, stats, _) = load_one(&commented);
    assert_eq!(stats.indicators, 28, "the header says 28 entries");
    assert!(
        set.iter()
            .all(|(_, i)| i.family.as_deref() == Some("Pikabot"))
    );
}

#[test]
fn same_ip_in_two_feeds_keeps_both_sources() {
    let (Some(csv), Some(ipset)) = (
        common::shared("intel/abusech-feodo/ipblocklist_aggressive_2021-03.csv"),
        common::shared("intel/firehol-blocklist-ipsets_2016-12-12/feodo.ipset"),
    ) else {
        return;
    };
    let mut set = IntelSet::new();
    set.load(&ipset, &mut |_, _| {}).expect("loads");
    set.load(&csv, &mut |_, _| {}).expect("loads");
    set.build();
    let hit = set.match_ip(ip("87.106.18.216")).expect("listed by both");
    // The first loaded wins, and both sources stay retrievable.
    assert_eq!(&*set.get(hit).source, "feodo.ipset");
    let sources: Vec<&str> = set.sources_of(hit).map(|i| &*i.source).collect();
    assert!(sources.contains(&"feodo.ipset"), "{sources:?}");
    assert!(
        sources.contains(&"ipblocklist_aggressive_2021-03.csv"),
        "{sources:?}"
    );
}

#[test]
fn firehol_level1_longest_prefix() {
    let (Some(level1), Some(feodo)) = (
        common::shared("intel/firehol-blocklist-ipsets_2016-12-12/firehol_level1.netset"),
        common::shared("intel/firehol-blocklist-ipsets_2016-12-12/feodo.ipset"),
    ) else {
        return;
    };
    let mut set = IntelSet::new();
    let s1 = set.load(&level1, &mut |_, _| {}).expect("loads");
    let s2 = set.load(&feodo, &mut |_, _| {}).expect("loads");
    set.build();
    assert_eq!((s1.indicators, s2.indicators), (17257, 714));
    // A known /20 from the list: both ends match it, just outside does not.
    let hit = set.match_ip(ip("1.10.16.1")).expect("in 1.10.16.0/20");
    assert_eq!(set.get(hit).value, "1.10.16.0/20");
    assert_eq!(set.get(hit).kind, IndicatorKind::Cidr);
    assert_eq!(set.match_ip(ip("1.10.31.255")), Some(hit));
    assert_eq!(set.match_ip(ip("1.10.32.0")), None);
    // feodo.ipset addresses inside a wider level1 prefix: the /32 wins; other
    // addresses of that prefix still get the prefix.
    let cidrs: Vec<(IpNet, String)> = set
        .iter()
        .filter(|(_, i)| i.kind == IndicatorKind::Cidr)
        .map(|(_, i)| (i.value.parse().expect("CIDR"), i.value.clone()))
        .collect();
    let mut nested = 0;
    for (_, ind) in set.iter().filter(|(_, i)| &*i.source == "feodo.ipset") {
        let a = ip(&ind.value);
        let Some((net, text)) = cidrs
            .iter()
            .filter(|(n, _)| n.contains(&a))
            .max_by_key(|(n, _)| n.prefix_len())
        else {
            continue;
        };
        nested += 1;
        assert_eq!(
            set.match_ip(a).map(|h| set.get(h).value.clone()),
            Some(ind.value.clone())
        );
        let other = if a == net.network() {
            net.broadcast()
        } else {
            net.network()
        };
        if !set.iter().any(|(_, i)| i.value == other.to_string()) {
            assert_eq!(
                set.match_ip(other).map(|h| set.get(h).value.clone()),
                Some(text.clone())
            );
        }
    }
    assert!(nested > 0, "expected feodo IPs inside level1 prefixes");
}

#[test]
fn threatfox_urls_and_fixture_kinds() {
    if let Some(path) = common::shared("intel/abusech-threatfox/threatfox_full_urls_2025-12-07.csv")
    {
        let (set, stats, _) = load_one(&path);
        assert_eq!(stats.indicators, 12_351, "the footer says 12351 entries");
        assert!(set.iter().all(|(_, i)| i.kind == IndicatorKind::Url));
        let hit = set.match_url("https://shilohbn.ru.com").expect("listed");
        assert_eq!(set.get(hit).family.as_deref(), Some("DCRat"));
        assert_eq!(
            set.get(hit).first_seen.as_deref(),
            Some("2025-12-07 10:24:02")
        );
        // Light normalisation: case of scheme/host, default port, empty path.
        assert_eq!(set.match_url("HTTPS://ShilohBN.ru.com:443/"), Some(hit));
        assert_eq!(set.match_url("https://shilohbn.ru.com/other"), None);
        let loki = set
            .match_url("http://alphastand.win/alien/fre.php")
            .expect("listed");
        assert_eq!(
            set.get(loki).family.as_deref(),
            Some("Loki Password Stealer (PWS)")
        );
        assert_eq!(
            set.get(loki).last_seen.as_deref(),
            Some("2025-07-18 09:12:43")
        );
        assert!(set.has_names());
        // An obfuscated numeric host (WHATWG: 0x8A = 138) is the same URL.
        let plain = set
            .match_url("http://185.138.88.248/t1.tar")
            .expect("listed");
        let values: Vec<&str> = set.sources_of(plain).map(|i| i.value.as_str()).collect();
        assert!(
            values.contains(&"http://185.0x8A.88.248/t1.tar"),
            "{values:?}"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("threatfox_mixed.csv");
    let row = |v: &str, t: &str| {
        format!(
            "\"2025-01-02 03:04:05\", \"1\", \"{v}\", \"{t}\", \"botnet_cc\", \"win.x\", \"None\", \"XRat\", \"2025-02-01 00:00:00\", \"75\", \"\", \"c2\", \"0\", \"me\"\n"
        )
    };
    let mut text = String::from(
        "# \"first_seen_utc\",\"ioc_id\",\"ioc_value\",\"ioc_type\",\"threat_type\",\"fk_malware\",\"malware_alias\",\"malware_printable\",\"last_seen_utc\",\"confidence_level\",\"reference\",\"tags\",\"anonymous\",\"reporter\"\n",
    );
    text += &row("198.51.100.7:8443", "ip:port");
    text += &row("C2.Evil.Example", "domain");
    text += &row("http://c2.evil.example/gate.php", "url");
    text += &row(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "sha256_hash",
    );
    text += &row("[2001:db8::5]:443", "ip:port");
    std::fs::write(&path, text).expect("write fixture");
    let (set, stats, _) = load_one(&path);
    assert_eq!(
        (stats.indicators, stats.skipped, stats.malformed),
        (4, 1, 0)
    );
    let kinds: Vec<_> = set
        .iter()
        .map(|(_, i)| (i.kind, i.value.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (IndicatorKind::Ip, "198.51.100.7"),
            (IndicatorKind::Domain, "c2.evil.example"),
            (IndicatorKind::Url, "http://c2.evil.example/gate.php"),
            (IndicatorKind::Ip, "2001:db8::5"),
        ]
    );
    assert!(set.match_ip(ip("2001:db8::5")).is_some());
    assert_eq!(set.match_ip(ip("2001:db8::6")), None);
    assert!(set.iter().all(|(_, i)| i.family.as_deref() == Some("XRat")));
    // A URL not listed falls back to its host as a domain.
    let d = set
        .match_url("https://x.c2.evil.example/other")
        .expect("host listed");
    assert_eq!(set.get(d).kind, IndicatorKind::Domain);
}

#[test]
fn urlhaus_real_and_commented_header() {
    if let Some(path) = common::shared("intel/abusech-urlhaus/urlhaus_2025-04-21.csv") {
        let (set, stats, _) = load_one(&path);
        assert_eq!(stats.indicators, 11_125);
        let hit = set
            .match_url("http://117.209.87.242:60905/bin.sh")
            .expect("listed");
        let ind = set.get(hit);
        assert_eq!(ind.family.as_deref(), Some("Mozi"));
        assert_eq!(ind.first_seen.as_deref(), Some("2025-04-21 12:35:06"));
        // The dropper's host is known through its URL, not as an IP indicator.
        assert_eq!(set.match_ip(ip("117.209.87.242")), None);
        assert_eq!(set.match_url_host_ip(ip("117.209.87.242")), Some(hit));
        assert_eq!(set.match_url_host_ip(ip("117.209.87.243")), None);
        assert!(set.match_url_host_name("P3.ZBJIMG.com").is_some());
    }
    // abuse.ch's own export comments the header out.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("urlhaus.csv");
    std::fs::write(
        &path,
        "################\n# abuse.ch URLhaus Database Dump (CSV)\n#\n# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\
\"1\",\"2025-01-01 00:00:00\",\"http://dl.bad.example/x.exe\",\"online\",\"2025-01-02 00:00:00\",\"malware_download\",\"exe,AgentTesla\",\"https://urlhaus.abuse.ch/url/1/\",\"r\"\r\n\
\"2\",\"2025-01-01 00:00:00\",\"not a url\",\"online\",\"\",\"malware_download\",\"zip\",\"https://urlhaus.abuse.ch/url/2/\",\"r\"\r\n\
\"3\",\"2025-01-01 00:00:00\",\"https://203.0.113.9/a\",\"offline\",\"\",\"malware_download\",\"zip\",\"https://urlhaus.abuse.ch/url/3/\",\"r\"\r\n",
    )
    .expect("write fixture");
    let mut diags = Vec::new();
    let mut set = IntelSet::new();
    let stats = set
        .load(&path, &mut |l, r| diags.push((l, r)))
        .expect("loads");
    set.build();
    assert_eq!(stats.format, FeedFormat::UrlhausCsv);
    assert_eq!((stats.indicators, stats.malformed), (2, 1));
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].0, 6);
    let a = set.get(
        set.match_url("http://DL.bad.example:80/x.exe")
            .expect("listed"),
    );
    assert_eq!(a.family.as_deref(), Some("AgentTesla"));
    let b = set.get(set.match_url("https://203.0.113.9/a").expect("listed"));
    assert_eq!((b.family.as_deref(), b.last_seen.as_deref()), (None, None));
}

#[test]
fn zeek_intel_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("intel.dat");
    std::fs::write(
        &path,
        "#separator \\x09\n#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n\
198.51.100.1\tIntel::ADDR\tcert-feed\tC2\t-\n\
198.51.100.0/24\tIntel::SUBNET\tcert-feed\tbad net\t-\n\
Bad.Example.\tIntel::DOMAIN\t-\tphish\t-\n\
bad.example/dl/x.exe\tIntel::URL\tother\t-\t-\n\
d41d8cd98f00b204e9800998ecf8427e\tIntel::FILE_HASH\tcert-feed\t-\t-\n\
10.0.0.0/33\tIntel::SUBNET\tcert-feed\t-\t-\n\
just-one-field\n",
    )
    .expect("write fixture");
    let mut diags = Vec::new();
    let mut set = IntelSet::new();
    let stats = set
        .load(&path, &mut |l, r| diags.push((l, r)))
        .expect("loads");
    set.build();
    assert_eq!(stats.format, FeedFormat::ZeekIntel);
    assert_eq!(
        (stats.indicators, stats.skipped, stats.malformed),
        (4, 1, 2)
    );
    assert_eq!(diags.iter().map(|d| d.0).collect::<Vec<_>>(), [8, 9]);
    let one = set.get(set.match_ip(ip("198.51.100.1")).expect("listed"));
    assert_eq!((one.kind, &*one.source), (IndicatorKind::Ip, "cert-feed"));
    let net = set.get(set.match_ip(ip("198.51.100.2")).expect("in /24"));
    assert_eq!(
        (net.kind, net.value.as_str()),
        (IndicatorKind::Cidr, "198.51.100.0/24")
    );
    assert_eq!(set.match_ip(ip("198.51.101.1")), None);
    let dom = set.get(set.match_domain("www.BAD.example.").expect("suffix"));
    // No meta.source: the file name.
    assert_eq!(
        (dom.value.as_str(), &*dom.source),
        ("bad.example", "intel.dat")
    );
    assert_eq!(set.match_domain("notbad.example"), None);
    let url = set.get(
        set.match_url("http://bad.example/dl/x.exe")
            .expect("listed"),
    );
    assert_eq!((url.kind, &*url.source), (IndicatorKind::Url, "other"));
}

#[test]
fn malformed_lines_are_counted_and_neighbours_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("list.txt");
    std::fs::write(
        &path,
        "# my list\n192.0.2.1\n1.2.3.4/33\n192.0.2.0/30   # trailing comment\nbad_domain!.example\n\nEvil.Example.\n::ffff:192.0.2.200\nhttps://Evil.example/p\n2001:db8::/33 ; c\n999.1.1.1\n",
    )
    .expect("write fixture");
    let mut diags = Vec::new();
    let mut set = IntelSet::new();
    let stats = set
        .load(&path, &mut |l, r| diags.push((l, r)))
        .expect("loads");
    set.build();
    assert_eq!(stats.format, FeedFormat::PlainList);
    assert_eq!((stats.indicators, stats.malformed), (6, 3));
    assert_eq!(diags.iter().map(|d| d.0).collect::<Vec<_>>(), [3, 5, 11]);
    assert!(diags[0].1.contains("1.2.3.4/33"), "{:?}", diags[0]);
    let values: Vec<_> = set
        .iter()
        .map(|(_, i)| (i.kind, i.value.as_str()))
        .collect();
    assert_eq!(
        values,
        [
            (IndicatorKind::Ip, "192.0.2.1"),
            (IndicatorKind::Cidr, "192.0.2.0/30"),
            (IndicatorKind::Domain, "evil.example"),
            (IndicatorKind::Ip, "192.0.2.200"),
            (IndicatorKind::Url, "https://Evil.example/p"),
            (IndicatorKind::Cidr, "2001:db8::/33"),
        ]
    );
    // /32 inside the /30: longest prefix wins.
    assert_eq!(
        set.get(set.match_ip(ip("192.0.2.1")).expect("hit")).kind,
        IndicatorKind::Ip
    );
    assert_eq!(
        set.get(set.match_ip(ip("192.0.2.3")).expect("hit")).kind,
        IndicatorKind::Cidr
    );
    assert_eq!(set.match_ip(ip("192.0.2.4")), None);
    assert!(set.match_ip(ip("2001:db8:7fff::1")).is_some());
    assert_eq!(set.match_ip(ip("2001:db8:8000::1")), None);
}

#[test]
fn unusable_and_unreadable_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.txt");
    std::fs::write(
        &garbage,
        b"\x00\xff\xfe binary\n@@@ nope @@@\nnot_a host!\n",
    )
    .expect("write");
    let mut set = IntelSet::new();
    let mut n = 0;
    match set.load(&garbage, &mut |_, _| n += 1) {
        Err(IntelError::Unusable { path, reason }) => {
            assert_eq!(path, garbage);
            assert!(reason.contains("none a valid indicator"), "{reason}");
        }
        other => panic!("expected Unusable, got {other:?}"),
    }
    assert_eq!(n, 3);
    assert!(set.is_empty());
    let missing = dir.path().join("absent.csv");
    assert!(matches!(
        set.load(&missing, &mut |_, _| {}),
        Err(IntelError::Io { .. })
    ));
    // Comments only: an empty feed, not an error.
    let empty = dir.path().join("empty.ipset");
    std::fs::write(&empty, "# nothing listed today\n").expect("write");
    let stats = set.load(&empty, &mut |_, _| {}).expect("empty is fine");
    assert_eq!((stats.indicators, stats.malformed), (0, 0));
}

/// Throughput of `match_ip` on every shared feed plus synthetic prefixes up to
/// ~100k indicators. Prints figures; asserts nothing about time.
/// Run: `cargo test --release -p c2atlas --test it intel::match_ip_throughput -- --ignored --nocapture`
#[test]
#[ignore]
fn match_ip_throughput() {
    let mut set = IntelSet::new();
    if let Some(dir) = common::shared("intel") {
        for f in feed_files(&dir) {
            let _ = set.load(&f, &mut |_, _| {});
        }
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::new();
    while set.len() + text.lines().count() < 100_000 {
        let a = IpAddr::from((rnd() as u32).to_be_bytes());
        let len = [32, 32, 32, 24, 20, 16][(rnd() % 6) as usize];
        text += &format!("{a}/{len}\n");
    }
    set.load_bytes(text.as_bytes(), "synthetic.txt", &mut |_, _| {})
        .expect("loads");
    let t = std::time::Instant::now();
    set.build();
    let build = t.elapsed();
    let probes: Vec<IpAddr> = (0..1_000_000)
        .map(|_| IpAddr::from((rnd() as u32).to_be_bytes()))
        .collect();
    let t = std::time::Instant::now();
    let mut hits = 0u64;
    for _ in 0..5 {
        for &p in &probes {
            hits += u64::from(set.match_ip(std::hint::black_box(p)).is_some());
        }
    }
    let dt = t.elapsed();
    let n = 5 * probes.len();
    eprintln!(
        "match_ip: {} indicators, {:?} ranges, build {:?}; {n} lookups in {:?} = {:.1} M lookups/s ({hits} hits)",
        set.len(),
        set.range_counts(),
        build,
        dt,
        n as f64 / dt.as_secs_f64() / 1e6
    );
}
