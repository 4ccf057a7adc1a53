//! DGA scoring throughput on one core, in CPU time of the scoring thread
//! (the machine may be shared: wall-clock would measure the neighbours).
//!
//! Usage: `cargo run -p c2atlas --release --example bench_dga -- [DATA_DIR] [N]`
//! (defaults: `../shared/data/dga/andrewaeva-DGA`, 1 000 000 names).
//!
//! Two workloads of N names each, scored with `dga::score_domain` (the path
//! of `score-domains` and of the detector: normalisation, public-suffix split,
//! features, hashed n-grams):
//! - `lists`: the benign and DGA names shipped in DATA_DIR, drawn in a fixed
//!   pseudo-random order, a third of them behind `www.`;
//! - `synthetic`: `simulate::bench_domains`, as in `benches/detect.rs` (half
//!   two-word names under `www.`, half random letters).
//!
//! Criterion repeats the synthetic workload: `cargo bench -p c2atlas --bench detect -- dga`.

use std::path::PathBuf;
use std::time::Instant;

use c2atlas::detect::dga::score_domain;

/// CPU time of the calling thread in nanoseconds (Linux `schedstat`), or
/// `None` where it is not available.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

fn lcg(x: &mut u64) -> u64 {
    *x = x
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *x >> 33
}

fn lists(dir: &std::path::Path, n: usize) -> Option<Vec<String>> {
    let mut pool = Vec::new();
    for sub in ["help/1000domains", "dga_wordlists"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).ok()?;
            pool.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| l.contains('.'))
                    .map(str::to_owned),
            );
        }
    }
    if pool.is_empty() {
        return None;
    }
    let mut x = 7u64;
    Some(
        (0..n)
            .map(|i| {
                let name = &pool[lcg(&mut x) as usize % pool.len()];
                if i % 3 == 0 {
                    format!("www.{name}")
                } else {
                    name.clone()
                }
            })
            .collect(),
    )
}

fn run(what: &str, names: &[String]) {
    // Warm the model (lazy load) and the caches outside the measurement.
    let mut s = names
        .iter()
        .take(1000)
        .map(|n| score_domain(n))
        .sum::<f64>();
    let (c0, t0) = (thread_cpu_ns(), Instant::now());
    s += names.iter().map(|n| score_domain(n)).sum::<f64>();
    let wall = t0.elapsed().as_secs_f64();
    let n = names.len() as f64;
    match (c0, thread_cpu_ns()) {
        (Some(a), Some(b)) => {
            let cpu = (b.saturating_sub(a)) as f64 / 1e9;
            println!(
                "dga {what}: {} names in {cpu:.3} s CPU = {:.2} M names/CPU-s ({:.0} ns/name; wall {wall:.3} s; checksum {s:.1})",
                names.len(),
                n / cpu / 1e6,
                cpu * 1e9 / n
            );
        }
        _ => println!(
            "dga {what}: {} names in {wall:.3} s wall = {:.2} M names/s (no thread CPU clock here; checksum {s:.1})",
            names.len(),
            n / wall / 1e6
        ),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../../shared/data/dga/andrewaeva-DGA"));
    let n: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    match lists(&dir, n) {
        Some(names) => run("lists", &names),
        None => println!("dga lists: skipped ({} absent)", dir.display()),
    }
    run("synthetic", &c2atlas::simulate::bench_domains(n));
}
