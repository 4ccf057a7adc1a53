//! Detector benchmarks (issue 3): beacon scoring of 1 M (host, endpoint)
//! pairs with 50 events each, and DGA scoring of 1 M domains, on one core.
//! Run: `cargo bench -p c2atlas --bench detect`. Prints bytes per tracked pair.

use std::hint::black_box;
use std::net::IpAddr;

use c2atlas::detect::beacon::{BeaconConfig, BeaconDetector};
use c2atlas::detect::dga::score_domain;
use c2atlas::detect::{Context, Detector};
use c2atlas::enrich::Home;
use c2atlas::model::{Event, Flow, Proto, RecordRef};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PAIRS: u32 = 1_000_000;
const EVENTS: u32 = 50;

fn beacon(c: &mut Criterion) {
    let home = Home {
        countries: vec![],
        networks: vec!["10.0.0.0/8".parse().unwrap()],
        ..Default::default()
    };
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let mut g = c.benchmark_group("beacon");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(PAIRS)));
    let mut report = true;
    g.bench_function("1M_pairs_x50_events", |b| {
        b.iter(|| {
            let mut d = BeaconDetector::new(BeaconConfig::default());
            let mut sink = |_f| {};
            for t in 0..EVENTS {
                for p in 0..PAIRS {
                    let src = IpAddr::from([10, (p >> 16) as u8, (p >> 8) as u8, p as u8]);
                    let dst =
                        IpAddr::from([45, (p % 97) as u8, (p % 89) as u8, (p % 83) as u8 + 1]);
                    let jitter =
                        i64::from((p.wrapping_mul(2654435761) ^ t.wrapping_mul(40503)) % 20);
                    let ev = Event::Flow(Flow {
                        ts: i64::from(t) * 60_000_000
                            + jitter * 1_000_000
                            + i64::from(p % 60) * 1_000_000,
                        duration: 1_000_000,
                        proto: Proto::Tcp,
                        src,
                        sport: 50000,
                        dst,
                        dport: 443,
                        src_bytes: 300,
                        dst_bytes: 1200 + u64::from(p % 7),
                        packets: 10,
                        label: None,
                    });
                    d.observe(
                        RecordRef {
                            input: 0,
                            line: u64::from(t * PAIRS + p),
                        },
                        &ev,
                        &ctx,
                        &mut sink,
                    );
                }
            }
            let found = d.candidates(0.0);
            if report {
                eprintln!(
                    "beacon: {} pairs scored, {:.0} bytes per tracked pair (table included)",
                    found.len(),
                    d.bytes_per_pair()
                );
                report = false;
            }
            black_box(found.len())
        })
    });
    g.finish();
}

fn dga(c: &mut Criterion) {
    // Deterministic mix: dictionary-like and random-like names under common suffixes.
    let names = c2atlas::simulate::bench_domains(1_000_000);
    let mut g = c.benchmark_group("dga");
    g.sample_size(10);
    g.throughput(Throughput::Elements(names.len() as u64));
    g.bench_function("score_1M_domains", |b| {
        b.iter(|| {
            let mut s = 0.0;
            for n in &names {
                s += score_domain(n);
            }
            black_box(s)
        })
    });
    g.finish();
}

criterion_group!(benches, beacon, dga);
criterion_main!(benches);
