//! Behavioural detectors (issue 3): synthetic planted truth, and CTU-13
//! scenario 6 read in place with a test-local binetflow reader (to be replaced
//! by `ingest::binetflow` once merged).

use std::borrow::Cow;
use std::net::IpAddr;

use c2atlas::detect::allowlist::Allowlist;
use c2atlas::detect::eval::{DEFAULT_WINDOW, Evaluator, RitaBaseline};
use c2atlas::detect::select::{DEFAULT_MIN_CONFIDENCE, build};
use c2atlas::detect::{Context, Controller, Detector, Finding, Method};
use c2atlas::enrich::Home;
use c2atlas::intel::IntelSet;
use c2atlas::model::{Dns, Event, Flow, Micros, Proto, RecordRef};

use crate::common;

const S: Micros = 1_000_000;

fn home(net: &str) -> Home {
    Home {
        countries: vec![],
        networks: vec![net.parse().unwrap()],
        ..Default::default()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn flow(
    ts: Micros,
    src: IpAddr,
    dst: IpAddr,
    dport: u16,
    bytes: u64,
    dur: Micros,
) -> Event<'static> {
    Event::Flow(Flow {
        ts,
        duration: dur,
        proto: Proto::Tcp,
        src,
        sport: 40000,
        dst,
        dport,
        src_bytes: bytes / 3,
        dst_bytes: bytes - bytes / 3,
        packets: 10,
        label: None,
    })
}

fn dns(
    ts: Micros,
    src: IpAddr,
    q: &str,
    qtype: &str,
    rcode: &str,
    answers: &[&str],
) -> Event<'static> {
    Event::Dns(Dns {
        ts,
        src,
        sport: 5353,
        dst: ip("192.168.1.1"),
        dport: 53,
        query: Cow::Owned(q.to_owned()),
        qtype: Some(Cow::Owned(qtype.to_owned())),
        rcode: Some(Cow::Owned(rcode.to_owned())),
        answers: answers
            .iter()
            .map(|a| Cow::Owned((*a).to_owned()))
            .collect(),
        label: None,
    })
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `d` over `events` (sorted by time as a reader would deliver them per input).
fn run(d: &mut dyn Detector, events: &[Event<'_>], ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let rec = RecordRef {
            input: 0,
            line: i as u64 + 1,
        };
        d.observe(rec, ev, ctx, &mut |f| out.push(f));
    }
    d.finish(ctx, &mut |f| out.push(f));
    out
}

/// A synthetic day: 200 hosts browsing at random, twelve bots beaconing with
/// 25 % jitter and 10 % missed beats to one controller (three of them also
/// spamming), one spamming host with a slow 2-hourly beacon, one host doing
/// DNS tunnelling, one DGA bot, everyone polling a popular update service
/// every 10 minutes, and two hosts polling a rare service alike (benign).
fn synthetic() -> (Vec<Event<'static>>, Vec<(IpAddr, IpAddr)>) {
    let mut rng = Lcg(42);
    let mut ev = Vec::new();
    let day = 24 * 3600 * S;
    let host = |i: u32| IpAddr::from([10, 1, (i / 250) as u8, (i % 250 + 1) as u8]);
    let c2 = ip("185.100.87.9");
    let slow_c2 = ip("45.9.148.3");
    let update = ip("13.107.4.50");
    for h in 0..200 {
        let src = host(h);
        let mut t = (rng.next() * 600.0) as Micros * S;
        while t < day {
            let dst = IpAddr::from([
                93,
                184,
                (rng.next() * 200.0) as u8,
                (rng.next() * 250.0) as u8 + 1,
            ]);
            ev.push(flow(
                t,
                src,
                dst,
                443,
                (rng.next() * 50_000.0) as u64 + 200,
                S,
            ));
            t += (-(1.0 - rng.next()).ln() * 900.0 * 1e6) as Micros + 3 * S;
        }
        let mut t = (rng.next() * 600.0) as Micros * S;
        while t < day {
            ev.push(flow(t, src, update, 443, 1200, S));
            t += 600 * S;
        }
    }
    let mut truth = Vec::new();
    let spam = |ev: &mut Vec<Event<'static>>, src: IpAddr, rng: &mut Lcg| {
        for i in 0..300 {
            let mx = IpAddr::from([
                64,
                (rng.next() * 250.0) as u8,
                (rng.next() * 250.0) as u8,
                1,
            ]);
            ev.push(flow(i * 250 * S, src, mx, 25, 0, 3 * S));
        }
    };
    for b in [3u32, 77, 150, 160, 161, 162, 163, 164, 165, 166, 167, 168] {
        let src = host(b);
        if b < 160 {
            truth.push((src, c2));
            spam(&mut ev, src, &mut rng);
        }
        let mut t = (rng.next() * 300.0) as Micros * S;
        while t < day {
            if rng.next() > 0.1 {
                // a beat: a short session of two flows
                ev.push(flow(t, src, c2, 8080, 700, S / 2));
                ev.push(flow(t + S / 2, src, c2, 8080, 2400, S));
            }
            t += (300.0 * (1.0 - 0.25 * rng.next()) * 1e6) as Micros;
        }
    }
    for b in [20u32, 21] {
        for i in 0..144 {
            ev.push(flow(
                i * 600 * S + i64::from(b),
                host(b),
                ip("198.51.100.7"),
                443,
                800,
                S,
            ));
        }
    }
    let slow = host(120);
    truth.push((slow, slow_c2));
    spam(&mut ev, slow, &mut rng);
    for i in 0..12 {
        ev.push(flow(
            i * 2 * 3600 * S + 17 * S,
            slow,
            slow_c2,
            443,
            5000,
            2 * S,
        ));
    }
    // DNS tunnel from host 30
    let tun = host(30);
    for i in 0..1500u32 {
        let q = format!(
            "{:08x}{:024x}.t.exfil-tunnel.net",
            i.wrapping_mul(2654435761),
            u128::from(i) * 0x9e3779b97f4a7c15
        );
        ev.push(dns(i as i64 * 40 * S, tun, &q, "TXT", "NOERROR", &[]));
    }
    // DGA bot host 60: NXDOMAIN burst, then one name resolves and is contacted
    let dga = host(60);
    let names = [
        "xgvwgynjeuypbajfxwzpzmreiucdi",
        "ljbeutceyovxjnirdepudyfm",
        "biaymnbqqshyllcqjlfhlj",
        "qwkzjvbhxtnmrpslfgdc",
        "zqxvbnmkjhgfdsapoiuytr",
        "mnbvcxzlkjhgfdsqwertyp",
        "plmoknijbuhvygctfxrdz",
        "hjklzxcvbnmqwrtypsdfg",
    ];
    for (i, n) in names.iter().cycle().take(40).enumerate() {
        let q = format!("{n}{i}.ru");
        ev.push(dns(
            3600 * S + i as i64 * 20 * S,
            dga,
            &q,
            "A",
            "NXDOMAIN",
            &[],
        ));
    }
    ev.push(dns(
        3600 * S + 900 * S,
        dga,
        "xgvwgynjeuypbajfxwzpzmreiucdiq.ru",
        "A",
        "NOERROR",
        &["91.243.44.12"],
    ));
    ev.sort_by_key(|e| e.ts());
    (ev, truth)
}

#[test]
fn synthetic_day_finds_planted_controllers_and_nothing_else() {
    let (events, truth) = synthetic();
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let intel = IntelSet::new();
    let mut set = build(
        "beacon,dga,dns,long,cluster",
        &intel,
        DEFAULT_MIN_CONFIDENCE,
        Allowlist::new(),
    )
    .unwrap();
    let found = run(&mut set, &events, &ctx);
    let key = |f: &Finding| (f.victim, f.controller.clone(), f.method);
    let mut rels: Vec<_> = found.iter().map(key).collect();
    rels.sort();
    rels.dedup();
    for r in &rels {
        eprintln!("{} -> {} {}", r.0, r.1, r.2.as_str());
    }
    for (v, c) in &truth {
        assert!(
            rels.iter()
                .any(|r| r.0 == *v && r.1 == Controller::Ip(*c) && r.2 == Method::Beacon),
            "beacon {v} -> {c} missed"
        );
    }
    // the three bots form a cluster of 3
    let cluster: Vec<_> = found
        .iter()
        .filter(|f| f.method == Method::Cluster)
        .collect();
    assert!(cluster.iter().any(|f| {
        f.explanation
            .as_deref()
            .is_some_and(|e| e.contains("cluster of 12"))
    }));
    let members: std::collections::BTreeSet<_> = cluster.iter().map(|f| f.victim).collect();
    assert_eq!(members.len(), 12);
    // tunnel and DGA
    assert!(
        rels.iter()
            .any(|r| r.1 == Controller::Name("exfil-tunnel.net".into()) && r.2 == Method::Dns)
    );
    assert!(
        rels.iter()
            .any(|r| r.0 == ip("10.1.0.61") && r.2 == Method::Dga)
    );
    assert!(
        rels.iter()
            .any(|r| r.1 == Controller::Ip(ip("91.243.44.12")) && r.2 == Method::Dga)
    );
    // nothing about the popular update service or random browsing
    let bad: Vec<_> = rels
        .iter()
        .filter(|r| matches!(r.1, Controller::Ip(IpAddr::V4(a)) if [93, 13, 64, 198].contains(&a.octets()[0])))
        .collect();
    assert!(bad.is_empty(), "false positives: {bad:?}");
    for f in &found {
        assert!((0.0..=1.0).contains(&f.confidence) && f.confidence >= DEFAULT_MIN_CONFIDENCE);
        assert!(f.explanation.as_deref().is_some_and(|e| !e.is_empty()));
    }
}

#[test]
fn allowlist_suppresses_and_reports_why() {
    let (events, _) = synthetic();
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let intel = IntelSet::new();
    let mut allow = Allowlist::new();
    allow.add_text("185.100.87.0/24 # a test\nexfil-tunnel.net\n", "allow.txt");
    let mut set = build("beacon,dns", &intel, 0.5, allow).unwrap();
    let found = run(&mut set, &events, &ctx);
    assert!(
        found
            .iter()
            .all(|f| f.controller != Controller::Ip(ip("185.100.87.9")))
    );
    assert!(
        found
            .iter()
            .all(|f| f.controller != Controller::Name("exfil-tunnel.net".into()))
    );
    let reasons: Vec<_> = set.suppressed.keys().map(|k| k.to_string()).collect();
    assert!(
        reasons.iter().any(|r| r.starts_with("allow.txt:1")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("allow.txt:2")),
        "{reasons:?}"
    );
}

#[test]
fn absurd_records_do_not_panic() {
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let intel = IntelSet::new();
    let mut set = build("beacon,dga,dns,long,cluster", &intel, 0.0, Allowlist::new()).unwrap();
    let src = ip("10.0.0.1");
    let dst = ip("8.8.4.4");
    let mut events = Vec::new();
    for ts in [i64::MAX, i64::MIN, 0, -5, 0, 0, i64::MAX - 1, 3, 2, 1] {
        events.push(flow(ts, src, dst, 80, u64::MAX, i64::MIN));
        events.push(flow(ts, src, dst, 80, 0, i64::MAX));
        events.push(dns(ts, src, "", "", "", &["", "not-an-ip", "1.2.3.4"]));
        events.push(dns(ts, src, &"a.".repeat(300), "NULL", "NXDOMAIN", &[]));
        events.push(dns(ts, src, "\u{0}\u{ffff}.xn--.", "TXT", "3", &["::"]));
    }
    let found = run(&mut set, &events, &ctx);
    for f in &found {
        assert!((0.0..=1.0).contains(&f.confidence));
    }
}

// ---- CTU-13 scenario 6, test-local reader ----

/// `2011/08/16 10:09:58.055700` → microseconds (taken as UTC).
fn ctu_time(s: &str) -> Option<Micros> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('/').map(|x| x.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let days = c2atlas::time::days_from_civil(y, m as u32, dd as u32);
    let mut t = time.split(':');
    let (h, mi) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    Some(days * 86_400_000_000 + (h * 3600 + mi * 60) * S + (sec * 1e6) as Micros)
}

fn ctu_flow(line: &str) -> Option<Event<'_>> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() < 15 {
        return None;
    }
    let port = |p: &str| {
        if let Some(h) = p.strip_prefix("0x") {
            u16::from_str_radix(h, 16).ok()
        } else {
            p.parse().ok()
        }
    };
    let tot: u64 = f[12].parse().ok()?;
    let src_bytes: u64 = f[13].parse().ok()?;
    Some(Event::Flow(Flow {
        ts: ctu_time(f[0])?,
        duration: (f[1].parse::<f64>().ok()? * 1e6) as Micros,
        proto: match f[2] {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "icmp" => Proto::Icmp,
            _ => Proto::Other(0),
        },
        src: f[3].parse().ok()?,
        sport: port(f[4]).unwrap_or(0),
        dst: f[6].parse().ok()?,
        dport: port(f[7]).unwrap_or(0),
        src_bytes,
        dst_bytes: tot.saturating_sub(src_bytes),
        packets: f[11].parse().unwrap_or(0),
        label: Some(Cow::Borrowed(f[14])),
    }))
}

fn ctu13_text() -> Option<Vec<String>> {
    let dir = common::shared("ctu13/scenario06_menti_capture20110816")?;
    let mut out = Vec::new();
    for i in 1..=13 {
        for j in 1..=2 {
            let p = dir.join(format!("capture20110816.binetflow.slice_{i}_{j}"));
            out.push(std::fs::read_to_string(&p).ok()?);
        }
    }
    Some(out)
}

fn evaluate(
    d: &mut dyn Detector,
    texts: &[String],
    ctx: &Context<'_>,
    min: f64,
) -> c2atlas::detect::eval::EvalReport {
    let mut ev = Evaluator::new(DEFAULT_WINDOW);
    let mut found = Vec::new();
    for (input, text) in texts.iter().enumerate() {
        for (i, line) in text.lines().enumerate().skip(1) {
            let Some(e) = ctu_flow(line) else { continue };
            ev.observe(&e, ctx);
            let rec = RecordRef {
                input: input as u32,
                line: i as u64 + 1,
            };
            d.observe(rec, &e, ctx, &mut |f| found.push(f));
        }
    }
    d.finish(ctx, &mut |f| found.push(f));
    for f in found.iter().filter(|f| f.confidence >= min) {
        ev.finding(f);
    }
    ev.report()
}

#[test]
fn ctu13_scenario6_found_without_feeds() {
    let Some(texts) = ctu13_text() else { return };
    let home = home("147.32.0.0/16");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let intel = IntelSet::new();
    let mut set = build(
        "beacon,dga,dns,long,cluster",
        &intel,
        DEFAULT_MIN_CONFIDENCE,
        Allowlist::new(),
    )
    .unwrap();
    let ours = evaluate(&mut set, &texts, &ctx, DEFAULT_MIN_CONFIDENCE);
    let mut rita = RitaBaseline::default();
    let base = evaluate(&mut rita, &texts, &ctx, DEFAULT_MIN_CONFIDENCE);
    for (name, r) in [("c2atlas", &ours), ("rita-baseline", &base)] {
        eprintln!(
            "{name}: host-windows {:?} P {:.3} R {:.3} F1 {:.3} FPR {:.4}; relationships {:?} F1 {:.3}; clean hosts flagged {}/{}; {:?}",
            r.host_windows,
            r.host_windows.precision(),
            r.host_windows.recall(),
            r.host_windows.f1(),
            r.host_windows.fpr(),
            r.relationships,
            r.relationships.f1(),
            r.flagged_clean_hosts,
            r.clean_hosts,
            r.by_method
        );
    }
    assert!(
        ours.host_windows.f1() >= 0.95,
        "host F1 {:.3}",
        ours.host_windows.f1()
    );
    assert!(
        ours.relationships.f1() >= 0.9,
        "relationship F1 {:.3}",
        ours.relationships.f1()
    );
    assert!(
        ours.flagged_clean_hosts as f64 <= 0.001 * ours.clean_hosts as f64,
        "{} of {} clean hosts flagged",
        ours.flagged_clean_hosts,
        ours.clean_hosts
    );
}

#[test]
#[ignore = "diagnostic listing"]
fn ctu13_list_beacons() {
    let Some(texts) = ctu13_text() else { return };
    let home = home("147.32.0.0/16");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let mut d = c2atlas::detect::beacon::BeaconDetector::default();
    let mut found = Vec::new();
    for (input, text) in texts.iter().enumerate() {
        for (i, line) in text.lines().enumerate().skip(1) {
            let Some(e) = ctu_flow(line) else { continue };
            d.observe(
                RecordRef {
                    input: input as u32,
                    line: i as u64,
                },
                &e,
                &ctx,
                &mut |f| found.push(f),
            );
        }
    }
    let mut c = d.candidates(0.3);
    c.sort_by(|a, b| b.confidence().total_cmp(&a.confidence()));
    for x in c
        .iter()
        .take(15)
        .chain(c.iter().filter(|x| x.victim == ip("147.32.84.165")))
    {
        eprintln!(
            "{} -> {} {:.2} {:.2} {} {:?}",
            x.victim,
            x.controller,
            x.confidence(),
            x.score.score,
            x.score.explain(&x.sketch, x.hosts),
            x.host.as_ref().map(|h| h.describe())
        );
    }
    eprintln!("bytes/pair {:.0}", d.bytes_per_pair());
}

#[test]
#[ignore = "diagnostic listing"]
fn synthetic_list_clusters() {
    let (events, _) = synthetic();
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let mut d = c2atlas::detect::cluster::ClusterDetector::new(Default::default(), true);
    for f in run(&mut d, &events, &ctx) {
        eprintln!(
            "{} -> {} {} {:.2} {}",
            f.victim,
            f.controller,
            f.method.as_str(),
            f.confidence,
            f.explanation.as_deref().unwrap_or("")
        );
    }
}

// ---- RITA's own test data (http.log), test-local Zeek TSV reader ----

fn zeek_http(text: &str) -> Vec<Event<'_>> {
    let mut cols: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            cols = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let v: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| {
            cols.iter()
                .position(|c| *c == name)
                .and_then(|i| v.get(i))
                .copied()
        };
        let num = |name: &str| get(name).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
        let (Some(ts), Some(src), Some(dst)) = (
            get("ts").and_then(|t| t.parse::<f64>().ok()),
            get("id.orig_h").and_then(|x| x.parse().ok()),
            get("id.resp_h").and_then(|x| x.parse().ok()),
        ) else {
            continue;
        };
        out.push(Event::Http(c2atlas::model::Http {
            ts: (ts * 1e6) as Micros,
            src,
            sport: num("id.orig_p") as u16,
            dst,
            dport: num("id.resp_p") as u16,
            method: get("method").map(Cow::Borrowed),
            host: get("host").filter(|h| *h != "-").map(Cow::Borrowed),
            uri: get("uri").map(Cow::Borrowed),
            user_agent: None,
            status: None,
            request_bytes: num("request_body_len"),
            response_bytes: num("response_body_len"),
            label: None,
        }));
    }
    out
}

#[test]
fn rita_expectations_on_its_http_log() {
    use std::io::Read;
    let Some(p) =
        common::shared("zeek/activecm-rita/test_data/dnscat2-ja3-strobe-agent/http.log.gz")
    else {
        return;
    };
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let events = zeek_http(&text);
    assert!(events.len() > 27_000);
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let mut d = c2atlas::detect::beacon::BeaconDetector::default();
    for (i, e) in events.iter().enumerate() {
        d.observe(
            RecordRef {
                input: 0,
                line: i as u64,
            },
            e,
            &ctx,
            &mut |_| {},
        );
    }
    let cands = d.candidates(0.0);
    let periodicity = |v: &str, name: &str| {
        cands
            .iter()
            .find(|c| c.victim == ip(v) && c.controller == Controller::Name(name.into()))
            .map(|c| {
                eprintln!("{v} -> {name}: {}", c.score.explain(&c.sketch, c.hosts));
                c.score.periodicity
            })
    };
    let perfect = periodicity("10.55.100.111", "tile-service.weather.microsoft.com");
    let alexa = periodicity("10.55.100.109", "www.alexa.com");
    let bank = periodicity("10.55.100.103", "www.bankofamerica.com");
    eprintln!("RITA 1.0 → {perfect:?}; RITA 0.896 → {alexa:?}; RITA 0.465 → {bank:?}");
    assert!(perfect.is_some_and(|s| s >= 0.9), "{perfect:?}");
    assert!(bank.is_none_or(|s| s < 0.6), "{bank:?}");
    // the popular site stays low as a finding: most internal hosts poll it
    let alexa_conf = cands.iter().find(|c| {
        c.victim == ip("10.55.100.109") && c.controller == Controller::Name("www.alexa.com".into())
    });
    assert!(alexa_conf.is_some_and(|c| c.confidence() < 0.6));

    // RITA's perfect beacon seen alone (only its host's traffic, so not a
    // popular endpoint): periodicity ≥ 0.9, but it is a *named* service (HTTP
    // Host), so perfection alone does not make it a finding (benign software
    // beacons perfectly to the names it looks up).
    let mut lone = c2atlas::detect::beacon::BeaconDetector::default();
    for (i, e) in events.iter().enumerate() {
        if matches!(e, Event::Http(h) if h.src == ip("10.55.100.111")) {
            let rec = RecordRef {
                input: 0,
                line: i as u64,
            };
            lone.observe(rec, e, &ctx, &mut |_| {});
        }
    }
    let cands = lone.candidates(0.0);
    let tile = cands
        .iter()
        .find(|c| c.controller == Controller::Name("tile-service.weather.microsoft.com".into()));
    eprintln!(
        "alone: {:?}",
        tile.map(|c| (c.score.periodicity, c.confidence()))
    );
    assert!(tile.is_some_and(|c| c.score.periodicity >= 0.9 && c.confidence() < 0.6));
}

/// A perfect day-long beacon to an address the host never resolved, while its
/// DNS lookups are visible, is a finding on its own; the same beacon to an
/// address it resolved, or from a host whose DNS is not in the input, needs
/// corroboration.
#[test]
fn perfect_beacon_to_unresolved_address_stands_alone() {
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let (a, b, c) = (ip("10.1.1.1"), ip("10.1.1.2"), ip("10.1.1.3"));
    let (c2, cdn) = (ip("198.51.100.7"), ip("203.0.113.9"));
    let mut ev = Vec::new();
    for h in [a, b] {
        ev.push(dns(
            0,
            h,
            "updates.example.com",
            "A",
            "NOERROR",
            &["203.0.113.9"],
        ));
    }
    for i in 0..48i64 {
        let t = S + i * 1800 * S;
        ev.push(flow(t, a, c2, 443, 1500, S));
        ev.push(flow(t, b, cdn, 443, 1500, S));
        ev.push(flow(t, c, c2, 443, 1500, S));
    }
    let mut d = c2atlas::detect::beacon::BeaconDetector::default();
    let found = run(&mut d, &ev, &ctx);
    let conf = |v: IpAddr, ctl: IpAddr| {
        found
            .iter()
            .filter(|f| f.victim == v && f.controller == Controller::Ip(ctl))
            .map(|f| f.confidence)
            .fold(0.0, f64::max)
    };
    assert!(conf(a, c2) >= 0.9, "{found:?}");
    assert!(conf(b, cdn) < DEFAULT_MIN_CONFIDENCE, "{found:?}");
    assert!(conf(c, c2) < DEFAULT_MIN_CONFIDENCE, "{found:?}");
}

// ---- Simda NXDOMAIN names (Stratosphere 005), test-local Zeek dns.log reader ----

fn zeek_dns(text: &str) -> Vec<Event<'_>> {
    let mut cols: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            cols = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let v: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| {
            cols.iter()
                .position(|c| *c == name)
                .and_then(|i| v.get(i))
                .copied()
                .filter(|x| *x != "-")
        };
        let (Some(ts), Some(src), Some(dst), Some(q)) = (
            get("ts").and_then(|t| t.parse::<f64>().ok()),
            get("id.orig_h").and_then(|x| x.parse().ok()),
            get("id.resp_h").and_then(|x| x.parse().ok()),
            get("query"),
        ) else {
            continue;
        };
        out.push(Event::Dns(Dns {
            ts: (ts * 1e6) as Micros,
            src,
            sport: 0,
            dst,
            dport: 53,
            query: Cow::Borrowed(q),
            qtype: get("qtype_name").map(Cow::Borrowed),
            rcode: get("rcode_name").map(Cow::Borrowed),
            answers: get("answers")
                .map(|a| a.split(',').map(Cow::Borrowed).collect())
                .unwrap_or_default(),
            label: None,
        }));
    }
    out
}

#[test]
fn simda_nxdomain_burst_is_flagged() {
    let Some(p) = common::shared("stratosphere-zeek/005-zeek-scenario-malicious/dns.log") else {
        return;
    };
    let text = std::fs::read_to_string(p).unwrap();
    let events = zeek_dns(&text);
    let home = Home {
        countries: vec![],
        networks: vec![
            "192.168.1.0/24".parse().unwrap(),
            "fd77:48a1:c0bb::/48".parse().unwrap(),
        ],
        ..Default::default()
    };
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let mut d = c2atlas::detect::dga::DgaDetector::new();
    let found = run(&mut d, &events, &ctx);
    let model = c2atlas::detect::dga::model().unwrap();
    let nx: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Dns(d)
                if d.rcode.as_deref() == Some("NXDOMAIN") && !d.query.ends_with(".lan") =>
            {
                Some(&*d.query)
            }
            _ => None,
        })
        .collect();
    let flagged = nx
        .iter()
        .filter(|q| model.is_dga(c2atlas::detect::dga::score_domain(q)))
        .count();
    eprintln!(
        "Simda NXDOMAIN names scored DGA by the model: {flagged}/{}",
        nx.len()
    );
    for f in &found {
        eprintln!(
            "{} -> {} {:.2} {}",
            f.victim,
            f.controller,
            f.confidence,
            f.explanation.as_deref().unwrap_or("")
        );
    }
    let victim: IpAddr = ip("fd77:48a1:c0bb:0:b96c:506d:6c7f:e8be");
    assert!(found.iter().any(|f| f.victim == victim
        && f.method == Method::Dga
        && f.confidence >= DEFAULT_MIN_CONFIDENCE));
}

#[test]
fn beacon_to_rotating_addresses_and_through_a_proxy_is_seen_by_name() {
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let victim = ip("10.9.9.9");
    let proxied = ip("10.9.9.10");
    let proxy = ip("100.64.0.1");
    let mut ev = Vec::new();
    let mut rng = Lcg(5);
    for i in 0..60i64 {
        let t = i * 900 * S + (rng.next() * 60.0) as Micros * S;
        // fast flux: every beat resolves to a different address
        let addr = format!("198.18.{}.{}", i / 200, i % 200 + 1);
        ev.push(dns(
            t,
            victim,
            "update.flux-c2.example",
            "A",
            "NOERROR",
            &[addr.as_str()],
        ));
        ev.push(flow(t + S / 10, victim, addr.parse().unwrap(), 443, 900, S));
        // a proxied client: HTTP requests to the proxy carry the C2's Host
        ev.push(Event::Http(c2atlas::model::Http {
            ts: t + 7 * S,
            src: proxied,
            sport: 40000,
            dst: proxy,
            dport: 3128,
            method: Some(Cow::Borrowed("CONNECT")),
            host: Some(Cow::Borrowed("panel.proxied-c2.example:443")),
            uri: None,
            user_agent: None,
            status: Some(200),
            request_bytes: 300,
            response_bytes: 600,
            label: None,
        }));
    }
    let mut d = c2atlas::detect::beacon::BeaconDetector::default();
    run(&mut d, &ev, &ctx);
    let cands = d.candidates(0.5);
    let by_name = |v: IpAddr, n: &str| {
        cands
            .iter()
            .find(|c| c.victim == v && c.controller == Controller::Name(n.into()))
    };
    let flux = by_name(victim, "update.flux-c2.example").expect("flux beacon by name");
    assert!(flux.score.periodicity >= 0.8, "{:?}", flux.score);
    assert!((flux.score.period - 900.0).abs() < 90.0);
    assert!(
        by_name(proxied, "panel.proxied-c2.example").is_some(),
        "proxied beacon by name"
    );
    // no single rotating address has enough beats to be reported on its own
    assert!(
        cands
            .iter()
            .all(|c| !matches!(c.controller, Controller::Ip(_)) || c.victim != victim)
    );
}

#[test]
fn long_connections_and_strobes() {
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let mut ev = Vec::new();
    // 20 h tunnel, cut into overlapping records (counted once)
    for i in 0..20i64 {
        ev.push(flow(
            i * 3600 * S,
            ip("10.0.0.5"),
            ip("203.0.113.50"),
            443,
            1_000,
            3600 * S + 60 * S,
        ));
    }
    // a strobe: 2 connections a second for 2 hours
    for i in 0..14_400i64 {
        ev.push(flow(
            i * S / 2,
            ip("10.0.0.6"),
            ip("203.0.113.60"),
            80,
            100,
            1000,
        ));
    }
    // a short connection: nothing
    ev.push(flow(
        0,
        ip("10.0.0.7"),
        ip("203.0.113.70"),
        443,
        10,
        600 * S,
    ));
    ev.sort_by_key(|e| e.ts());
    let mut d = c2atlas::detect::long_conn::LongConnDetector::new();
    let found = run(&mut d, &ev, &ctx);
    let of = |v: &str| found.iter().find(|f| f.victim == ip(v));
    let long = of("10.0.0.5").expect("long connection");
    // Found, but alone it stays below the default --min-confidence (a lead, not a C2 claim).
    assert!(
        long.confidence >= 0.5
            && long.confidence <= c2atlas::detect::long_conn::LONG_MAX_CONFIDENCE
            && long.confidence < c2atlas::detect::select::DEFAULT_MIN_CONFIDENCE,
        "{}",
        long.confidence
    );
    assert!(
        long.explanation.as_deref().unwrap().contains("20.0 h"),
        "{:?}",
        long.explanation
    );
    let strobe = of("10.0.0.6").expect("strobe");
    assert!(strobe.explanation.as_deref().unwrap().starts_with("strobe"));
    assert!(of("10.0.0.7").is_none());
}

/// Bad input through every detector: a beacon delivered with duplicates, late
/// (out-of-order) records and a clock jump, plus absurd values (negative
/// durations, 2^64−1 bytes, timestamps at the ends of the range). No panic,
/// confidences stay in [0, 1], the beacon is still found and the late records
/// are counted.
#[test]
fn detectors_survive_disordered_duplicated_and_absurd_input() {
    let home = home("10.0.0.0/8");
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let (v, c2) = (ip("10.2.2.2"), ip("198.51.100.77"));
    let mut ev = Vec::new();
    for i in 0..40i64 {
        let t = i * 600 * S;
        ev.push(flow(t, v, c2, 443, 1500, S));
        if i % 5 == 0 {
            ev.push(flow(t, v, c2, 443, 1500, S)); // duplicate record
        }
        if i % 7 == 3 {
            ev.push(flow(t - 1800 * S, v, c2, 443, 1500, S)); // 30 min late
        }
    }
    // clock jump: one record years ahead, then back to normal
    ev.push(flow(
        40 * 600 * S + 3 * 365 * 86_400 * S,
        v,
        c2,
        443,
        1500,
        S,
    ));
    // absurd values
    let mut absurd = flow(i64::MAX, v, ip("45.1.1.1"), 443, u64::MAX, -5 * S);
    if let Event::Flow(f) = &mut absurd {
        f.packets = u64::MAX;
    }
    ev.push(absurd);
    ev.push(flow(i64::MIN, v, ip("45.1.1.2"), 443, 0, i64::MIN));
    ev.push(dns(i64::MAX, v, &"x".repeat(300), "TXT", "NXDOMAIN", &[]));
    ev.push(dns(
        -1,
        v,
        ".",
        "A",
        "NOERROR",
        &["not-an-ip", "::1", "300.1.1.1"],
    ));

    let intel = c2atlas::intel::IntelSet::default();
    let mut set = c2atlas::detect::select::build(
        c2atlas::detect::select::ALL_METHODS,
        &intel,
        0.0,
        Default::default(),
    )
    .unwrap();
    let found = run(&mut set, &ev, &ctx);
    assert!(found.iter().all(|f| (0.0..=1.0).contains(&f.confidence)));

    let mut b = c2atlas::detect::beacon::BeaconDetector::default();
    let _ = run(&mut b, &ev, &ctx);
    assert!(b.stats.late > 0, "{:?}", b.stats);
    let cands = b.candidates(0.0);
    let beacon = cands
        .iter()
        .find(|c| c.victim == v && c.controller == Controller::Ip(c2));
    assert!(
        beacon.is_some_and(|c| c.score.periodicity >= 0.7 && (c.score.period - 600.0).abs() < 60.0),
        "{beacon:?}"
    );
}

/// The full pipeline with every method at the default minimum confidence and
/// no feeds, over inputs read in place: (victim, controller, method, explanation).
fn behaviour_run(home: Home, rel: &str) -> Option<Vec<(String, String, String, String)>> {
    use c2atlas::census::document;
    use c2atlas::ingest::plan_inputs;
    use c2atlas::pipeline::{Detection, Pipeline, Silent};
    let dir = common::shared(rel)?;
    let mut intel = IntelSet::new();
    intel.build();
    let p = Pipeline {
        home,
        geo: None,
        asn: None,
        intel,
        feeds: vec![],
        evidence_cap: 50,
        detection: Detection::default(),
    };
    let mut warnings = Vec::new();
    let planned = plan_inputs(std::slice::from_ref(&dir), None, &mut warnings).expect("plan");
    let run = p.run(&planned, &mut Silent).expect("run");
    let (rels, _) = document::relationships(&p, &run);
    Some(
        rels.into_iter()
            .map(|r| {
                (
                    r.victim.to_string(),
                    r.controller,
                    r.method.to_string(),
                    r.explanation.unwrap_or_default(),
                )
            })
            .collect(),
    )
}

/// Slips' CTU-SME-11 capture (RemcosRAT): the implant's controller refused
/// every connection — 719 refused attempts, a new connection every ~2 s for
/// 8 minutes. Found as a retry loop, and nothing else is claimed.
#[test]
fn remcos_reconnect_loop_is_found() {
    let home = Home::new(&[], &["192.168.1.0/24".to_string()]).expect("home");
    let Some(rels) = behaviour_run(
        home,
        "slips/dataset/test18-malicious-ctu-sme-11-win/zeek-labeled",
    ) else {
        eprintln!("skipped: slips test18 absent");
        return;
    };
    assert_eq!(rels.len(), 1, "{rels:?}");
    let (v, c, m, e) = &rels[0];
    assert_eq!(
        (v.as_str(), c.as_str(), m.as_str()),
        ("192.168.1.107", "66.63.168.35", "long")
    );
    assert!(e.starts_with("retry loop: 719 unanswered"), "{e}");
}

/// Caldera agents (corelight's lab pcaps): the C2 server 172.18.0.2 is
/// private, so nothing is claimed by default; with the lab network declared
/// as possibly holding controllers (`--controller-net`) the agent's beacons
/// to it are found — Sandcat's inside one keep-alive connection, through its
/// bare-address HTTP requests.
#[test]
fn caldera_agents_found_with_controller_net() {
    let rel = "pcaps/corelight-zeek-caldera-detector/testing/Traces/sandcat.pcap";
    let lab = || Home::new(&[], &["172.18.0.0/16".to_string()]).expect("home");
    let Some(plain) = behaviour_run(lab(), rel) else {
        eprintln!("skipped: caldera pcaps absent");
        return;
    };
    assert!(plain.is_empty(), "{plain:?}");
    let home = lab()
        .with_controller_nets(&["172.18.0.0/16".to_string()])
        .expect("controller net");
    let rels = behaviour_run(home, rel).expect("present");
    assert_eq!(rels.len(), 1, "{rels:?}");
    let (v, c, m, e) = &rels[0];
    assert_eq!(
        (v.as_str(), c.as_str(), m.as_str()),
        ("172.18.0.3", "172.18.0.2", "beacon")
    );
    assert!(e.contains("by bare address"), "{e}");
}

/// Caldera's Manx agent over TCP: one connection held open for the whole
/// capture, no periodicity between flows. The exchanges inside it (the
/// server's one-byte heartbeat every 20 s, tasks and answers) are the beacon,
/// corroborated by the agent's bare-address download from the same server.
#[test]
fn manx_tcp_heartbeat_inside_one_connection_is_found() {
    let rel = "pcaps/corelight-zeek-caldera-detector/testing/Traces/manx-tcp.pcap";
    let home = Home::new(&[], &["172.18.0.0/16".to_string()])
        .expect("home")
        .with_controller_nets(&["172.18.0.0/16".to_string()])
        .expect("controller net");
    let Some(rels) = behaviour_run(home, rel) else {
        eprintln!("skipped: caldera manx-tcp.pcap absent");
        return;
    };
    assert_eq!(rels.len(), 1, "{rels:?}");
    let (v, c, m, e) = &rels[0];
    assert_eq!(
        (v.as_str(), c.as_str(), m.as_str()),
        ("172.18.0.3", "172.18.0.2", "beacon")
    );
    assert!(e.contains("period ≈ 20 s"), "{e}");
}
