//! Classification throughput on synthetic combined-format lines (parse +
//! all per-request classifiers + the stateful detector), single thread.
//! Target (issue 4): ≥ 300,000 lines/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use c2atlas::detect::web::synth::synthetic_log;
use c2atlas::detect::web::{WebDetector, WebDetectorConfig};
use c2atlas::ingest::weblog::{self, WebLogFormat};

fn bench(c: &mut Criterion) {
    let n = 20_000;
    let data = synthetic_log(n);
    if let Ok(p) = std::env::var("WEB_BENCH_WRITE") {
        let _ = std::fs::write(p, &data);
    }
    let mut g = c.benchmark_group("web");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function("parse+classify combined", |b| {
        b.iter(|| {
            let mut det = WebDetector::new(WebDetectorConfig::default());
            let mut flagged = 0u64;
            weblog::read_bytes(
                &data,
                WebLogFormat::Clf,
                &mut |r| flagged += det.observe(r, "bench").is_some() as u64,
                &mut |_, _| {},
            );
            assert!(flagged >= (n / 20) as u64);
            flagged
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
