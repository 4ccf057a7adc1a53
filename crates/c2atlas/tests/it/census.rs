//! Integration tests: the pipeline (ingest → intel detect → census) on real Zeek logs.

use std::path::PathBuf;

use c2atlas::census::document;
use c2atlas::enrich::{GeoDb, Home};
use c2atlas::ingest::plan_inputs;
use c2atlas::intel::IntelSet;
use c2atlas::pipeline::{Detection, Pipeline, Silent};

use crate::common::{default_db, shared};

fn pipeline(home_nets: &[&str], indicators: &str, geo: Option<GeoDb>) -> Pipeline {
    let mut intel = IntelSet::new();
    intel
        .load_bytes(indicators.as_bytes(), "test-list", &mut |_, r| {
            panic!("bad indicator: {r}")
        })
        .expect("indicators load");
    intel.build();
    let nets: Vec<String> = home_nets.iter().map(|s| s.to_string()).collect();
    Pipeline {
        home: Home::new(&[], &nets).expect("home"),
        geo,
        asn: None,
        intel,
        feeds: vec![],
        evidence_cap: 50,
        detection: Detection {
            methods: "intel".into(),
            ..Detection::default()
        },
    }
}

/// A C2 domain seen in HTTP `Host` makes the server a controller, and the connections to it
/// (in conn.log, which carries no names) are attributed to the relationship; the DNS answer makes
/// the querying address a victim too. Figures checked against the logs counted independently.
#[test]
fn domain_indicator_matches_http_dns_and_the_connections_that_followed() {
    let Some(dir) = shared("stratosphere-zeek/005-zeek-scenario-malicious") else {
        return;
    };
    let geo = default_db("country/geo-whois-asn-country.mmdb")
        .map(|p| GeoDb::open(&p, Default::default()).expect("default country db"));
    let p = pipeline(
        &["192.168.0.0/16", "fd00::/8"],
        "# C2 domain\nlykymox.com\n",
        geo,
    );
    let mut warnings = Vec::new();
    let planned = plan_inputs(std::slice::from_ref(&dir), None, &mut warnings).expect("plan");
    let run = p.run(&planned, &mut Silent).expect("run");
    let (rels, views) = document::relationships(&p, &run);

    // Independent counts from the raw logs.
    let conn = std::fs::read_to_string(dir.join("conn.log")).expect("conn.log");
    let flows = conn
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            f.len() > 5 && f[2] == "192.168.1.116" && f[4] == "74.119.239.234"
        })
        .count() as u64;
    assert!(flows > 0);

    let v4 = rels
        .iter()
        .find(|r| r.victim.to_string() == "192.168.1.116")
        .expect("the IPv4 host is a victim");
    assert_eq!(v4.controller, "74.119.239.234");
    assert_eq!(
        v4.flows, flows,
        "every connection to the controller is attributed"
    );
    let ind = v4.indicator.as_ref().expect("indicator");
    assert_eq!(
        (ind.value.as_str(), ind.source.as_str()),
        ("lykymox.com", "test-list")
    );
    // Evidence points at http.log and conn.log lines naming the controller.
    for e in &v4.evidence {
        let text = std::fs::read_to_string(&e.file).expect("evidence file");
        let line = text.lines().nth(e.line as usize - 1).expect("line");
        assert!(
            line.contains("74.119.239.234"),
            "{}:{} = {line}",
            e.file,
            e.line
        );
    }
    assert!(v4.evidence.iter().any(|e| e.file.ends_with("http.log")));
    assert!(v4.evidence.iter().any(|e| e.file.ends_with("conn.log")));

    // The DNS client (the host's IPv6 address) resolved the C2 name: a victim too.
    let v6 = rels
        .iter()
        .find(|r| r.victim.to_string().starts_with("fd77:"))
        .expect("the DNS client is a victim");
    assert_eq!(v6.controller, "74.119.239.234");
    assert!(v6.evidence.iter().all(|e| e.file.ends_with("dns.log")));
    assert_eq!(rels.len(), 2, "{rels:#?}");
    let summary = c2atlas::census::summarize(&views);
    assert_eq!(summary.controllers.total, 1);
    assert_eq!(summary.victims.total, 2);
}

/// Names that never resolved: the controller is known by name only and counted apart.
#[test]
fn unresolved_c2_names_are_counted_apart() {
    let Some(dir) = shared("stratosphere-zeek/005-zeek-scenario-malicious") else {
        return;
    };
    let dns = std::fs::read_to_string(dir.join("dns.log")).expect("dns.log");
    // Pick a queried name whose answers are all unset (NXDOMAIN-style).
    let name = dns
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() > 21 && f[21] == "-" && f[9].contains('.') && f[2].starts_with("192.168."))
                .then(|| f[9].to_string())
        })
        .find(|n| {
            !dns.lines().any(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                f.len() > 21 && f[9] == n && f[21] != "-"
            })
        });
    let Some(name) = name else {
        eprintln!("SKIP: no unanswered query in dns.log");
        return;
    };
    let p = pipeline(&["192.168.0.0/16", "fd00::/8"], &format!("{name}\n"), None);
    let file: PathBuf = dir.join("dns.log");
    let planned = plan_inputs(&[file], None, &mut Vec::new()).expect("plan");
    let run = p.run(&planned, &mut Silent).expect("run");
    let (rels, views) = document::relationships(&p, &run);
    assert!(!rels.is_empty());
    assert!(
        rels.iter()
            .all(|r| r.controller_ip.is_none() && r.controller == name)
    );
    let s = c2atlas::census::summarize(&views);
    assert_eq!(s.controllers.total, 0);
    assert_eq!(s.unresolved_controllers, rels.len() as u64);
}
