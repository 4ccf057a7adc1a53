//! One-shot timing of the beacon detector on 1 M (host, endpoint) pairs × 50
//! events (the criterion bench `benches/detect.rs` repeats it 10 times):
//! `cargo run -p c2atlas --release --example bench_beacon [PAIRS [BATCH]]`
//! (`BATCH`: [`BeaconConfig::batch`], flows buffered before they are applied;
//! 0 applies each at once). The events come interleaved (every pair's first
//! flow, then every pair's second, …), not grouped by pair; the figures
//! include the buffering and sorting of the batched feed.

use std::net::IpAddr;
use std::time::Instant;

use c2atlas::detect::beacon::{BeaconConfig, BeaconDetector};
use c2atlas::detect::dga::score_domain;
use c2atlas::detect::{Context, Detector};
use c2atlas::enrich::Home;
use c2atlas::model::{Event, Flow, Proto, RecordRef};

/// On-CPU time of this thread (Linux `/proc/thread-self/schedstat`, first
/// field, nanoseconds): the figure to compare on a shared, loaded machine.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(f64::NAN, |ns| ns as f64 / 1e9)
}

fn main() {
    let pairs: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let batch: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(BeaconConfig::default().batch);
    let events = 50u32;
    let home = Home {
        countries: vec![],
        networks: vec!["10.0.0.0/8".parse().expect("cidr")],
        ..Default::default()
    };
    let ctx = Context {
        home: &home,
        geo: None,
    };
    let mut d = BeaconDetector::new(BeaconConfig {
        batch,
        ..BeaconConfig::default()
    });
    let t0 = Instant::now();
    let c0 = cpu_s();
    for t in 0..events {
        for p in 0..pairs {
            let src = IpAddr::from([10, (p >> 16) as u8, (p >> 8) as u8, p as u8]);
            let dst = IpAddr::from([45, (p % 97) as u8, (p % 89) as u8, (p % 83) as u8 + 1]);
            let jitter = i64::from((p.wrapping_mul(2654435761) ^ t.wrapping_mul(40503)) % 20);
            let ev = Event::Flow(Flow {
                ts: i64::from(t) * 60_000_000 + (jitter + i64::from(p % 60)) * 1_000_000,
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
                    line: u64::from(t * pairs + p),
                },
                &ev,
                &ctx,
                &mut |_| {},
            );
        }
    }
    d.flush();
    let fed = t0.elapsed();
    let c1 = cpu_s();
    let t1 = Instant::now();
    let found = d.candidates(0.0);
    let scored = t1.elapsed();
    let c2 = cpu_s();
    println!(
        "beacon: {pairs} pairs x {events} events (batch {batch}): CPU time feed {:.2} s ({:.0} ns/event), score {:.2} s, total {:.2} s \
         (wall clock {:.2} s); {} scored; {:.0} bytes per tracked pair (table included)",
        c1 - c0,
        (c1 - c0) * 1e9 / f64::from(pairs * events),
        c2 - c1,
        c2 - c0,
        (fed + scored).as_secs_f64(),
        found.len(),
        d.bytes_per_pair()
    );
    let names: Vec<String> = (0..1_000_000u32)
        .map(|i| {
            format!(
                "x{:x}q{}.example{}.com",
                i.wrapping_mul(2654435761),
                i % 97,
                i % 13
            )
        })
        .collect();
    let t2 = Instant::now();
    let s: f64 = names.iter().map(|n| score_domain(n)).sum();
    let e = t2.elapsed();
    println!(
        "dga: 1M domains in {:.2} s = {:.2} M domains/s (checksum {s:.1})",
        e.as_secs_f64(),
        1.0 / e.as_secs_f64()
    );
}
