//! Trains the DGA model shipped in `models/dga_model.bin`.
//!
//! Usage: `cargo run -p c2atlas --release --example train_dga -- [DATA_DIR] [OUT] [MODEL_VERSION]`
//! (defaults: `../shared/data/dga/andrewaeva-DGA`, `crates/c2atlas/models/dga_model.bin`, 4).
//!
//! Trains ONLY on the DGA folder: the per-family generated domains and the
//! benign lists shipped there (OpenDNS top and random, Alexa 1000). 30 % of
//! every family and of the benign names (chosen by a hash of the name, so the
//! split is stable) are held apart and only used for the evaluation printed
//! at the end.
//!
//! The model (see `DgaModel`) is one logistic regression over
//! - dense features of the generated label, among them the mean log-probability
//!   under a benign and a DGA order-2 character model (their difference is the
//!   log-likelihood ratio); the two character tables are cross-fitted (the
//!   features of one half come from tables built on the other) so the
//!   regression does not learn the tables' overfit;
//! - a bag of hashed tokens (`TOKENS`): character 2- to 6-grams of `^label$`,
//!   2- to 5-grams of its character classes (consonant/vowel/digit shape), the
//!   public suffix, the label length and suffix × length, learnt
//!   discriminatively with L2 regularisation.
//!
//! The decision threshold is set at 1 % FPR on *out-of-fold* scores of the
//! benign training names (two models each trained on one half score the other
//! half), since the hashed weights fit the names they were trained on; the
//! shipped weights are then trained on the whole training part.
//!
//! Deterministic: no randomness beyond hashes of the names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use c2atlas::detect::dga::{
    ALPHA, CELLS, DgaModel, LP_SCALE, NF, TokenSpec, features, for_each_token, for_each_trigram,
    split_name,
};
use c2atlas::detect::names::normalise;

/// Fraction (in tenths) of each family held apart for evaluation.
const HOLDOUT_TENTHS: u64 = 3;
/// Additive smoothing of the trigram counts.
const SMOOTHING: f64 = 0.5;
/// Target false-positive rate on benign training names for the threshold.
const TARGET_FPR: f64 = 0.01;
/// log2 of the number of hashed-token buckets (2^17 = 128 KiB of `i8`).
const HASH_BITS: u8 = 17;
/// The hashed tokens of the shipped model (see `TokenSpec`).
const TOKENS: TokenSpec = TokenSpec {
    ngram_min: 2,
    ngram_max: 6,
    shape_max: 5,
    suffix_len: true,
};

/// `HASH_BITS` and `TOKENS`, overridable for experiments.
fn hash_bits() -> u8 {
    knob("DGA_BITS", HASH_BITS)
}
fn tokens() -> TokenSpec {
    TokenSpec {
        ngram_min: knob("DGA_NMIN", TOKENS.ngram_min),
        ngram_max: knob("DGA_NMAX", TOKENS.ngram_max),
        shape_max: knob("DGA_SHAPE", TOKENS.shape_max),
        suffix_len: knob("DGA_SUFLEN", u8::from(TOKENS.suffix_len)) == 1,
    }
}
/// L2 penalty on the hashed weights (per sample, per step).
const L2_HASHED: f32 = 1e-4;
/// Passes of AdaGrad over the training names.
const EPOCHS: usize = 20;
/// AdaGrad learning rate.
const LR: f32 = 0.01;
/// Index of the benign list with known label noise: OpenDNS's *top* domains
/// include real DGA lookups (Conficker's `.ws`/`.cc`/`.biz` names are queried
/// so often by infected machines that they rank among the top domains). It is
/// trained on (with confident-learning cleaning) and always reported, but the
/// "clean benign" columns of the evaluation leave it out.
const CONTAMINATED: usize = 0;
/// Out-of-fold score above which a benign training name is treated as a
/// label error (see the cleaning step in `main`).
const CLEAN_CUT: f32 = 0.99;

/// A hyper-parameter, overridable by an environment variable for experiments
/// (the shipped model uses the defaults above).
fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// (label, suffix) of every usable line of a list.
fn read_list(p: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    text.lines()
        .filter_map(|l| normalise(l.split(',').next().unwrap_or("").trim().trim_matches('"')))
        .filter_map(|n| split_name(&n).map(|(l, s)| (l.to_owned(), s.to_owned())))
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
    family: usize,
    /// Which benign list the name came from (index into `benign_files`), or
    /// `None` for DGA names.
    list: Option<usize>,
    label: String,
    suffix: String,
    dga: bool,
    fold: usize,
}

/// Standardised dense features and hashed tokens of one sample.
struct Row {
    x: [f32; NF],
    tokens: Vec<u32>,
    y: f32,
    /// Sample weight: the benign class and every DGA family weigh the same
    /// in total (half for benign, half shared equally by the families), so
    /// small families are not drowned by large ones.
    weight: f32,
}

struct Fit {
    w: [f32; NF],
    bias: f32,
    hashed: Vec<f32>,
}

impl Fit {
    fn logit(&self, r: &Row) -> f32 {
        self.bias
            + (0..NF).map(|i| self.w[i] * r.x[i]).sum::<f32>()
            + r.tokens
                .iter()
                .map(|&t| self.hashed[t as usize])
                .sum::<f32>()
    }
}

/// Class-balanced logistic regression by AdaGrad, in a fixed (hash) order.
// Three parallel arrays (weights, gradient sums, features) indexed together.
#[allow(clippy::needless_range_loop)]
fn fit(rows: &[&Row]) -> Fit {
    let (l2, epochs, lr) = (
        knob("DGA_L2", L2_HASHED),
        knob("DGA_EPOCHS", EPOCHS),
        knob("DGA_LR", LR),
    );
    let mut f = Fit {
        w: [0.0; NF],
        bias: 0.0,
        hashed: vec![0.0; 1 << hash_bits()],
    };
    let mut gw = [1e-8f32; NF];
    let mut gb = 1e-8f32;
    let mut gh = vec![1e-8f32; 1 << hash_bits()];
    for epoch in 0..epochs {
        // A deterministic per-epoch permutation: sort by a hash of (index, epoch).
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| {
            (i as u64 ^ ((epoch as u64) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7
        });
        for &i in &order {
            let r = rows[i];
            let p = 1.0 / (1.0 + (-f.logit(r)).exp());
            let g = (p - r.y) * r.weight;
            for k in 0..NF {
                let d = g * r.x[k];
                gw[k] += d * d;
                f.w[k] -= lr * d / gw[k].sqrt();
            }
            gb += g * g;
            f.bias -= lr * g / gb.sqrt();
            for &t in &r.tokens {
                let t = t as usize;
                let d = g + l2 * f.hashed[t];
                gh[t] += d * d;
                f.hashed[t] -= lr * d / gh[t].sqrt();
            }
        }
    }
    f
}

/// Features of every training sample, with character tables cross-fitted by
/// fold and built without family `exclude` (leave-one-family-out runs).
fn make_rows(
    train: &[Sample],
    exclude: Option<usize>,
    families: usize,
) -> (Vec<Row>, [f32; NF], [f32; NF]) {
    let keep = |s: &&Sample| exclude != Some(s.family);
    let tables: Vec<(Vec<u8>, Vec<u8>)> = (0..2)
        .map(|fold| {
            let of = |dga: bool| -> Vec<&str> {
                train
                    .iter()
                    .filter(keep)
                    .filter(|s| s.fold == fold && s.dga == dga)
                    .map(|s| s.label.as_str())
                    .collect()
            };
            (table(&of(false)), table(&of(true)))
        })
        .collect();
    let raw: Vec<[f32; NF]> = train
        .iter()
        .map(|s| {
            let (b, d) = &tables[1 - s.fold];
            features(&s.label, b, d)
        })
        .collect();
    let n = raw.len() as f32;
    let mut mean = [0f32; NF];
    let mut scale = [0f32; NF];
    for r in &raw {
        for i in 0..NF {
            mean[i] += r[i] / n;
        }
    }
    for r in &raw {
        for i in 0..NF {
            scale[i] += (r[i] - mean[i]).powi(2) / n;
        }
    }
    for s in &mut scale {
        *s = s.sqrt().max(1e-6);
    }
    let mut per_family = vec![0f32; families + 1];
    for s in train.iter().filter(keep) {
        per_family[s.family] += 1.0;
    }
    let dga_families = families - usize::from(exclude.is_some());
    let spec = tokens();
    let rows = train
        .iter()
        .zip(&raw)
        .map(|(s, r)| {
            let mut tokens = Vec::new();
            for_each_token(
                s.label.as_bytes(),
                s.suffix.as_bytes(),
                &spec,
                hash_bits(),
                |i| tokens.push(i as u32),
            );
            Row {
                x: std::array::from_fn(|i| (r[i] - mean[i]) / scale[i]),
                tokens,
                y: if s.dga { 1.0 } else { 0.0 },
                weight: if s.dga {
                    0.5 * n / (dga_families as f32 * per_family[s.family].max(1.0))
                } else {
                    0.5 * n / per_family[0]
                },
            }
        })
        .collect();
    (rows, mean, scale)
}

fn threshold_at(benign_scores: &mut [f32], fpr: f64) -> f32 {
    benign_scores.sort_by(|a, b| a.total_cmp(b));
    let idx = ((1.0 - fpr) * benign_scores.len() as f64).ceil() as usize;
    benign_scores[idx.min(benign_scores.len() - 1)]
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
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
    let version: u32 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(4);

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
    // The first list is the one with label noise (see `CONTAMINATED`).
    let benign_files = [
        (
            "benign: opendns-top",
            data.join("dga_wordlists/opendns-top-domains.txt"),
        ),
        (
            "benign: opendns-random",
            data.join("dga_wordlists/opendns-random-domains.txt"),
        ),
        ("benign: alexa-1000", fam("alexa_1000.txt")),
    ];

    let mut train: Vec<Sample> = Vec::new();
    let mut test: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut add = |name: &str,
                   family: usize,
                   list: Option<usize>,
                   names: Vec<(String, String)>,
                   dga: bool,
                   train: &mut Vec<Sample>| {
        for (l, s) in names {
            // One copy of each label: a label in both classes or in two lists
            // must not sit on both sides of the split.
            if !seen.insert(l.clone()) {
                continue;
            }
            let h = fnv(&l);
            if h % 10 < HOLDOUT_TENTHS {
                test.entry(name.to_owned()).or_default().push((l, s));
            } else {
                train.push(Sample {
                    family,
                    list,
                    label: l,
                    suffix: s,
                    dga,
                    fold: ((h >> 8) & 1) as usize,
                });
            }
        }
    };
    for (k, (name, f)) in benign_files.iter().enumerate() {
        add(name, 0, Some(k), read_list(f), false, &mut train);
    }
    for (i, (name, f)) in families.iter().enumerate() {
        add(name, i + 1, None, read_list(f), true, &mut train);
    }

    let labels_of = |fold: Option<usize>, dga: bool| -> Vec<&str> {
        train
            .iter()
            .filter(|s| fold.is_none_or(|f| s.fold == f) && s.dga == dga)
            .map(|s| s.label.as_str())
            .collect()
    };
    let (rows, mean, scale) = make_rows(&train, None, families.len());

    if knob("DGA_LOFO", 0u8) == 1 {
        // Leave-one-family-out: the estimate for a family the model never saw.
        println!("| left-out family | TPR at 1 % out-of-fold benign FPR |");
        println!("|---|---:|");
        for (k, (name, _)) in families.iter().enumerate() {
            let k = k + 1;
            let (rows, _, _) = make_rows(&train, Some(k), families.len());
            let mut scores = vec![0f32; rows.len()];
            for fold in 0..2 {
                let part: Vec<&Row> = (0..rows.len())
                    .filter(|&i| train[i].fold != fold && train[i].family != k)
                    .map(|i| &rows[i])
                    .collect();
                let f = fit(&part);
                for i in (0..rows.len()).filter(|&i| train[i].fold == fold) {
                    scores[i] = sigmoid(f.logit(&rows[i]));
                }
            }
            let mut b: Vec<f32> = (0..rows.len())
                .filter(|&i| !train[i].dga)
                .map(|i| scores[i])
                .collect();
            let t = threshold_at(&mut b, TARGET_FPR);
            let fam: Vec<f32> = (0..rows.len())
                .filter(|&i| train[i].family == k)
                .map(|i| scores[i])
                .collect();
            let hit = fam.iter().filter(|&&x| x >= t).count();
            println!("| {name} | {:.3} |", hit as f64 / fam.len().max(1) as f64);
        }
    }

    // Out-of-fold scores: two models, each trained on one half (minus the
    // names in `drop`), score the other half.
    let oof = |drop: &[bool]| -> Vec<f32> {
        let mut scores = vec![0f32; rows.len()];
        for fold in 0..2 {
            let part: Vec<&Row> = (0..rows.len())
                .filter(|&i| train[i].fold != fold && !drop[i])
                .map(|i| &rows[i])
                .collect();
            let f = fit(&part);
            for i in (0..rows.len()).filter(|&i| train[i].fold == fold) {
                scores[i] = sigmoid(f.logit(&rows[i]));
            }
        }
        scores
    };
    // Label noise: the benign lists hold real DGA names (OpenDNS's *top*
    // domains include Conficker's, queried by infected machines). Benign
    // training names that the first out-of-fold pass scores above
    // `CLEAN_CUT` are left out of the regression (confident learning); they
    // still count as benign for the threshold and in the held-out evaluation.
    let first = oof(&vec![false; rows.len()]);
    let cut = knob("DGA_CLEAN_CUT", CLEAN_CUT);
    let drop: Vec<bool> = (0..rows.len())
        .map(|i| !train[i].dga && first[i] >= cut)
        .collect();
    let dropped: Vec<String> = (0..rows.len())
        .filter(|&i| drop[i])
        .map(|i| format!("{}.{}", train[i].label, train[i].suffix))
        .collect();
    let second = oof(&drop);
    let mut oof_benign: Vec<f32> = (0..rows.len())
        .filter(|&i| !train[i].dga)
        .map(|i| second[i])
        .collect();
    let threshold = threshold_at(&mut oof_benign, TARGET_FPR);
    // The same on the benign lists without label noise: the operating point
    // of the "clean benign" evaluation columns (not shipped).
    let mut oof_clean: Vec<f32> = (0..rows.len())
        .filter(|&i| !train[i].dga && train[i].list != Some(CONTAMINATED))
        .map(|i| second[i])
        .collect();
    let clean_threshold = threshold_at(&mut oof_clean, TARGET_FPR);

    let all: Vec<&Row> = (0..rows.len())
        .filter(|&i| !drop[i])
        .map(|i| &rows[i])
        .collect();
    let f = fit(&all);
    let max = f.hashed.iter().fold(0f32, |m, &x| m.max(x.abs()));
    let hash_scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let model = DgaModel {
        model_version: version,
        threshold,
        weights: f.w,
        bias: f.bias,
        mean,
        scale,
        benign: table(&labels_of(None, false)),
        dga: table(&labels_of(None, true)),
        hash_bits: hash_bits(),
        tokens: tokens(),
        hash_scale,
        hashed: f
            .hashed
            .iter()
            .map(|&x| (x / hash_scale).round().clamp(-127.0, 127.0) as i8)
            .collect(),
    };

    std::fs::write(&out, model.to_bytes()).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!(
        "model v{version} written to {} ({} train names, {} bytes)",
        out.display(),
        train.len(),
        model.to_bytes().len()
    );
    println!(
        "{} benign training names set aside as likely label errors (out-of-fold score ≥ {cut}), e.g. {:?}",
        dropped.len(),
        &dropped[..dropped.len().min(12)]
    );
    println!("dense weights {:?} bias {}", f.w, f.bias);
    println!("threshold {threshold:.4} (FPR {TARGET_FPR} on out-of-fold benign training names)");
    println!();
    println!(
        "clean-benign threshold {clean_threshold:.4} (FPR {TARGET_FPR} on out-of-fold benign training names of the lists without label noise)"
    );
    println!();
    println!(
        "| held-out set | names | flagged (shipped threshold) | rate | flagged (clean-benign threshold) | rate |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let is_benign = |name: &str| name.starts_with("benign");
    let mut totals = [(0usize, 0usize, 0usize); 2]; // (names, flagged, flagged clean): all benign, clean benign
    for (name, names) in &test {
        let scores: Vec<f64> = names.iter().map(|(l, s)| model.score_label(l, s)).collect();
        let flagged = scores.iter().filter(|&&x| model.is_dga(x)).count();
        let flagged_clean = scores
            .iter()
            .filter(|&&x| x >= f64::from(clean_threshold))
            .count();
        let what = if is_benign(name) { "FPR" } else { "TPR" };
        let n = names.len().max(1) as f64;
        println!(
            "| {name} | {} | {flagged} | {what} {:.3} | {flagged_clean} | {what} {:.3} |",
            names.len(),
            flagged as f64 / n,
            flagged_clean as f64 / n
        );
        if is_benign(name) {
            let noisy = name == benign_files[CONTAMINATED].0;
            for (k, t) in totals.iter_mut().enumerate() {
                if k == 1 && noisy {
                    continue;
                }
                t.0 += names.len();
                t.1 += flagged;
                t.2 += flagged_clean;
            }
        }
    }
    for (label, (n, f, fc)) in [
        ("benign, all three lists", totals[0]),
        ("benign without opendns-top (clean)", totals[1]),
    ] {
        let n1 = n.max(1) as f64;
        println!(
            "| **{label}** | {n} | {f} | FPR {:.3} | {fc} | FPR {:.3} |",
            f as f64 / n1,
            fc as f64 / n1
        );
    }
    if let Ok(path) = std::env::var("DGA_DUMP") {
        // Experiments: every held-out name with its set and score.
        let mut o = String::new();
        for (name, names) in &test {
            for (l, s) in names {
                o.push_str(&format!(
                    "{name}\t{l}.{s}\t{:.4}\n",
                    model.score_label(l, s)
                ));
            }
        }
        std::fs::write(&path, o).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    // Not used for training: the real Simda lookups of a Stratosphere capture.
    let simda =
        root.join("../../../shared/data/stratosphere-zeek/005-zeek-scenario-malicious/dns.log");
    if let Ok(text) = std::fs::read_to_string(&simda) {
        let mut names: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.get(15) == Some(&"NXDOMAIN")).then(|| f.get(9).map(|q| q.to_string()))?
            })
            .filter(|q| !q.ends_with(".lan"))
            .collect();
        names.sort();
        names.dedup();
        let flagged = names
            .iter()
            .filter(|q| model.is_dga(model.score_name(q)))
            .count();
        let flagged_clean = names
            .iter()
            .filter(|q| model.score_name(q) >= f64::from(clean_threshold))
            .count();
        let n = names.len().max(1) as f64;
        println!(
            "| (not trained on) Simda NXDOMAIN names, stratosphere-zeek/005 | {} | {flagged} | TPR {:.3} | {flagged_clean} | TPR {:.3} |",
            names.len(),
            flagged as f64 / n,
            flagged_clean as f64 / n
        );
    }
}
