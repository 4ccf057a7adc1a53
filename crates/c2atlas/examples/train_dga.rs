//! Trains the DGA model shipped in `models/dga_model.bin`.
//!
//! Usage: `cargo run -p c2atlas --release --example train_dga -- [DATA_DIR] [OUT] [MODEL_VERSION]`
//! (defaults: `../shared/data/dga/andrewaeva-DGA`, `crates/c2atlas/models/dga_model.bin`, 1).
//!
//! Trains ONLY on the DGA folder: the per-family generated domains and the
//! benign lists shipped there (OpenDNS top and random, Alexa 1000). 30 % of
//! every family and of the benign names (chosen by a hash of the name, so the
//! split is stable) are held apart and only used for the evaluation printed
//! at the end. The two character tables are cross-fitted (features of one half
//! come from tables built on the other) so the regression does not learn the
//! tables' overfit; the shipped tables are built from the whole training part.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use c2atlas::detect::dga::{ALPHA, CELLS, DgaModel, LP_SCALE, NF, features, for_each_trigram};
use c2atlas::detect::names::{generated_label, normalise};

/// Fraction (in tenths) of each family held apart for evaluation.
const HOLDOUT_TENTHS: u64 = 3;
/// Additive smoothing of the trigram counts.
const SMOOTHING: f64 = 0.5;
/// Target false-positive rate on benign training names for the threshold.
const TARGET_FPR: f64 = 0.01;

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn read_list(p: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .filter_map(|l| normalise(l.trim().trim_matches('"')))
        .filter_map(|n| generated_label(&n).map(str::to_owned))
        .collect()
}

fn table(labels: &[&str]) -> Vec<u8> {
    let mut counts = vec![0u32; CELLS];
    for l in labels {
        for_each_trigram(l.as_bytes(), |i| counts[i] += 1);
    }
    let mut t = vec![0u8; CELLS];
    for ctx in 0..ALPHA * ALPHA {
        let row = &counts[ctx * ALPHA..(ctx + 1) * ALPHA];
        let total: f64 = row.iter().map(|&c| f64::from(c)).sum();
        for (c, &n) in row.iter().enumerate() {
            let p = (f64::from(n) + SMOOTHING) / (total + SMOOTHING * ALPHA as f64);
            t[ctx * ALPHA + c] = (-p.ln() * f64::from(LP_SCALE)).round().clamp(0.0, 255.0) as u8;
        }
    }
    t
}

struct Sample {
    label: String,
    dga: bool,
    fold: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../../shared/data/dga/andrewaeva-DGA"));
    let out = args
        .get(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models/dga_model.bin"));
    let version: u32 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(1);

    let fam = |f: &str| data.join("help/1000domains").join(f);
    let families: Vec<(&str, PathBuf)> = vec![
        ("conficker", fam("conficker_1000.txt")),
        ("cryptolocker", fam("cryptolocker_1000.txt")),
        ("matsnu", fam("matsnu_1000.txt")),
        ("pushdo", fam("pushdo_1000.txt")),
        ("ramdo", fam("ramdo_1000.txt")),
        ("rovnix", fam("rovnix_1000.txt")),
        ("tinba", fam("tinba_1000.txt")),
        ("zeus", fam("zeus_1000.txt")),
        ("goz", data.join("dga_wordlists/goz.txt")),
        ("new_goz", data.join("dga_wordlists/new_goz.txt")),
        ("others", data.join("dga_wordlists/others_dga.txt")),
    ];
    let benign_files = [
        data.join("dga_wordlists/opendns-top-domains.txt"),
        data.join("dga_wordlists/opendns-random-domains.txt"),
        fam("alexa_1000.txt"),
    ];

    let mut train: Vec<Sample> = Vec::new();
    let mut test: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |name: &str, labels: Vec<String>, dga: bool, train: &mut Vec<Sample>| {
        for l in labels {
            if !seen.insert(l.clone()) {
                continue;
            }
            let h = fnv(&l);
            if h % 10 < HOLDOUT_TENTHS {
                test.entry(name.to_owned()).or_default().push(l);
            } else {
                train.push(Sample {
                    label: l,
                    dga,
                    fold: ((h >> 8) & 1) as usize,
                });
            }
        }
    };
    for f in &benign_files {
        add("benign", read_list(f), false, &mut train);
    }
    for (name, f) in &families {
        add(name, read_list(f), true, &mut train);
    }

    // Cross-fitted tables.
    let tables: Vec<(Vec<u8>, Vec<u8>)> = (0..2)
        .map(|fold| {
            let b: Vec<&str> = train
                .iter()
                .filter(|s| s.fold == fold && !s.dga)
                .map(|s| s.label.as_str())
                .collect();
            let d: Vec<&str> = train
                .iter()
                .filter(|s| s.fold == fold && s.dga)
                .map(|s| s.label.as_str())
                .collect();
            (table(&b), table(&d))
        })
        .collect();
    let x: Vec<[f32; NF]> = train
        .iter()
        .map(|s| {
            let (b, d) = &tables[1 - s.fold];
            features(&s.label, b, d)
        })
        .collect();
    let y: Vec<f32> = train
        .iter()
        .map(|s| if s.dga { 1.0 } else { 0.0 })
        .collect();

    let n = x.len() as f32;
    let mut mean = [0f32; NF];
    let mut scale = [0f32; NF];
    for r in &x {
        for i in 0..NF {
            mean[i] += r[i] / n;
        }
    }
    for r in &x {
        for i in 0..NF {
            scale[i] += (r[i] - mean[i]).powi(2) / n;
        }
    }
    for s in &mut scale {
        *s = s.sqrt().max(1e-6);
    }
    let z: Vec<[f32; NF]> = x
        .iter()
        .map(|r| std::array::from_fn(|i| (r[i] - mean[i]) / scale[i]))
        .collect();
    let pos = y.iter().sum::<f32>();
    let (wp, wn) = (0.5 / pos, 0.5 / (n - pos));
    let (mut w, mut bias) = ([0f32; NF], 0f32);
    let l2 = 1e-4f32;
    for _ in 0..3000 {
        let mut gw = [0f32; NF];
        let mut gb = 0f32;
        for (r, &t) in z.iter().zip(&y) {
            let p = 1.0 / (1.0 + (-(bias + (0..NF).map(|i| w[i] * r[i]).sum::<f32>())).exp());
            let k = (p - t) * if t > 0.5 { wp } else { wn };
            for i in 0..NF {
                gw[i] += k * r[i];
            }
            gb += k;
        }
        for i in 0..NF {
            w[i] -= 1.0 * (gw[i] + l2 * w[i]);
        }
        bias -= 1.0 * gb;
    }

    let all_b: Vec<&str> = train
        .iter()
        .filter(|s| !s.dga)
        .map(|s| s.label.as_str())
        .collect();
    let all_d: Vec<&str> = train
        .iter()
        .filter(|s| s.dga)
        .map(|s| s.label.as_str())
        .collect();
    let mut model = DgaModel {
        model_version: version,
        threshold: 0.5,
        weights: w,
        bias,
        mean,
        scale,
        benign: table(&all_b),
        dga: table(&all_d),
    };
    // Threshold at TARGET_FPR on cross-fitted benign training scores.
    let mut bscores: Vec<f32> = z
        .iter()
        .zip(&y)
        .filter(|(_, t)| **t < 0.5)
        .map(|(r, _)| 1.0 / (1.0 + (-(bias + (0..NF).map(|i| w[i] * r[i]).sum::<f32>())).exp()))
        .collect();
    bscores.sort_by(|a, b| a.total_cmp(b));
    let idx = ((1.0 - TARGET_FPR) * bscores.len() as f64) as usize;
    model.threshold = bscores[idx.min(bscores.len() - 1)];

    std::fs::write(&out, model.to_bytes()).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!(
        "model v{version} written to {} ({} train names)",
        out.display(),
        train.len()
    );
    println!("weights {w:?} bias {bias}");
    println!(
        "threshold {:.4} (FPR {TARGET_FPR} on cross-fitted benign training names)",
        model.threshold
    );
    println!();
    println!("| held-out set | names | flagged | rate |");
    println!("|---|---:|---:|---:|");
    for (name, labels) in &test {
        let flagged = labels
            .iter()
            .filter(|l| model.is_dga(model.score_label(l)))
            .count();
        let what = if name == "benign" { "FPR" } else { "TPR" };
        println!(
            "| {name} | {} | {flagged} | {what} {:.3} |",
            labels.len(),
            flagged as f64 / labels.len().max(1) as f64
        );
    }
}
