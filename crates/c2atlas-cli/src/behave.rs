//! Subcommands of behavioural detection: `detect`, `score-domains`, `eval`.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use c2atlas::detect::eval::{Counts, EvalReport, Evaluator, RitaBaseline};
use c2atlas::detect::{Context, Detector, Finding};
use c2atlas::model::Event;
use c2atlas::pipeline::Tap;

use crate::args::{DetectArgs, DetectFormat, EvalArgs, OutputFormat};
use crate::progress::Progress;

pub fn detect(a: DetectArgs) -> Result<()> {
    let (_, _, rels, doc) = crate::commands::run(&a.run)?;
    let mut out = std::io::stdout().lock();
    for r in &rels {
        match a.format {
            DetectFormat::Jsonl => writeln!(out, "{}", serde_json::to_string(r)?)?,
            DetectFormat::Human => writeln!(
                out,
                "{} <- {} {} {:.2} {} .. {}: {}",
                r.victim,
                r.controller,
                r.method,
                r.confidence,
                r.first_seen,
                r.last_seen,
                r.explanation.as_deref().unwrap_or("")
            )?,
        }
    }
    out.flush()?;
    eprintln!(
        "c2atlas: {} relationships ({}); {} findings below --min-confidence {}, {} suppressed by allow-lists",
        rels.len(),
        doc.c2
            .by_method
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        doc.detection.below_confidence,
        doc.detection.min_confidence,
        doc.detection.suppressed.values().sum::<u64>()
    );
    Ok(())
}

/// Writes a score in [0, 1] with four decimals (`0.1234`) by integer
/// formatting: `{:.4}` of an `f64` took a fifth of `score-domains`' time.
/// Ties round half away from zero (`{:.4}` rounds the exact binary value).
fn write_score(out: &mut impl Write, score: f64) -> std::io::Result<()> {
    let v = (score.clamp(0.0, 1.0) * 10_000.0).round() as u32;
    write!(out, "{}.{:04}", v / 10_000, v % 10_000)
}

pub fn score_domains() -> Result<()> {
    if c2atlas::detect::dga::model().is_none() {
        bail!("the DGA model shipped with c2atlas could not be loaded");
    }
    let mut stdin = std::io::BufReader::with_capacity(1 << 16, std::io::stdin().lock());
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // One line buffer reused for every line (no allocation per domain).
    let mut line = Vec::with_capacity(256);
    for i in 1.. {
        line.clear();
        if stdin
            .read_until(b'\n', &mut line)
            .context("cannot read stdin")?
            == 0
        {
            break;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            eprintln!("c2atlas: stdin:{i}: not UTF-8, skipped");
            continue;
        };
        let d = text.trim();
        if d.is_empty() || d.starts_with('#') {
            continue;
        }
        let score = c2atlas::detect::dga::score_domain(d);
        out.write_all(d.as_bytes())?;
        out.write_all(b"\t")?;
        write_score(&mut out, score)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Feeds the evaluator (and optionally the baseline detector) from the pipeline's tap.
struct EvalTap<'i> {
    /// Ground-truth pairs from a simulator truth file: when set, they replace the inputs' labels.
    truth: Option<HashSet<(IpAddr, IpAddr)>>,
    eval: Evaluator,
    baseline: Option<(RitaBaseline, Evaluator)>,
    rec: u64,
    _intel: std::marker::PhantomData<&'i ()>,
}

impl Tap for EvalTap<'_> {
    fn event(&mut self, ev: &Event<'_>, ctx: &Context<'_>) {
        // With a truth file, flows are labelled from it the way CTU-13 labels C&C flows.
        let relabelled = match (&self.truth, ev) {
            (Some(truth), Event::Flow(f)) => {
                let mut f = f.clone();
                f.label = truth
                    .contains(&(f.src, f.dst))
                    .then_some(Cow::Borrowed(SIM_CC_LABEL));
                Some(Event::Flow(f))
            }
            _ => None,
        };
        let ev = relabelled.as_ref().unwrap_or(ev);
        self.eval.observe(ev, ctx);
        if let Some((b, e)) = &mut self.baseline {
            e.observe(ev, ctx);
            self.rec += 1;
            let rec = c2atlas::model::RecordRef {
                input: 0,
                line: self.rec,
            };
            b.observe(rec, ev, ctx, &mut |f: Finding| e.finding(&f));
        }
    }
    fn finding(&mut self, f: &Finding) {
        self.eval.finding(f);
    }
}

/// One set of counts as Markdown table cells (`TP | FP | TN | FN | precision | recall | F1 | FPR`).
fn cells(c: &Counts) -> String {
    format!(
        "{} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.4}",
        c.tp,
        c.fp,
        c.tn,
        c.fn_,
        c.precision(),
        c.recall(),
        c.f1(),
        c.fpr()
    )
}

/// One set of counts as labelled text.
fn labelled(c: &Counts) -> String {
    format!(
        "TP {} FP {} TN {} FN {}  precision {:.3} recall {:.3} F1 {:.3} FPR {:.4}",
        c.tp,
        c.fp,
        c.tn,
        c.fn_,
        c.precision(),
        c.recall(),
        c.f1(),
        c.fpr()
    )
}

fn row(name: &str, method: &str, r: &EvalReport) -> String {
    format!(
        "| {name} | {method} | {} | {} | {}/{} |",
        cells(&r.host_windows),
        cells(&r.relationships),
        r.flagged_clean_hosts,
        r.clean_hosts
    )
}

/// Header of the Markdown table written by `eval --format md`.
pub const TABLE_HEADER: &str = "| dataset | method | host TP | FP | TN | FN | precision | recall | F1 | FPR | rel. TP | FP | TN | FN | precision | recall | F1 | FPR | clean hosts flagged |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

/// The label given to flows of planted pairs (recognised as C&C by `label_class`).
const SIM_CC_LABEL: &str = "flow=From-Botnet-Simulated-CC";

/// Reads the planted (victim, controller) pairs: a `truth.json` (its sibling
/// `truth-relationships.tsv` is read) or the TSV itself.
fn read_truth_pairs(path: &Path) -> Result<HashSet<(IpAddr, IpAddr)>> {
    let tsv = if path.extension().is_some_and(|e| e == "json") {
        path.with_file_name(c2atlas::simulate::TRUTH_PAIRS_FILE)
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&tsv)
        .with_context(|| format!("--truth: cannot read {}", tsv.display()))?;
    let mut pairs = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let parsed = line
            .split_once('\t')
            .and_then(|(v, c)| Some((v.trim().parse().ok()?, c.trim().parse().ok()?)));
        match parsed {
            Some(p) => {
                pairs.insert(p);
            }
            None => bail!(
                "{}:{}: expected `victim<TAB>controller` addresses",
                tsv.display(),
                i + 1
            ),
        }
    }
    Ok(pairs)
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let truth = if a.truth == "labels" {
        None
    } else {
        Some(read_truth_pairs(Path::new(&a.truth))?)
    };
    if a.window == 0 {
        bail!("--window must be at least 1 second");
    }
    let window = i64::try_from(a.window)
        .ok()
        .and_then(|w| w.checked_mul(1_000_000))
        .context("--window too large")?;
    let p = Progress::new(a.run.quiet, 0);
    let (pipeline, planned) = crate::commands::prepare(&a.run, &p)?;
    p.finish();
    let mut tap = EvalTap {
        truth,
        eval: Evaluator::new(window),
        baseline: a
            .baseline
            .then(|| (RitaBaseline::default(), Evaluator::new(window))),
        rec: 0,
        _intel: std::marker::PhantomData,
    };
    let mut progress = Progress::new(a.run.quiet, planned.len());
    let result = pipeline.run_tapped(&planned, &mut progress, Some(&mut tap))?;
    progress.finish();
    if let Some((b, e)) = &mut tap.baseline {
        let ctx = Context {
            home: &pipeline.home,
            geo: pipeline.geo.as_ref(),
        };
        b.finish(&ctx, &mut |f: Finding| e.finding(&f));
    }
    let name = a.name.clone().unwrap_or_else(|| {
        a.run.inputs[0]
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let methods = result
        .methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let ours = tap.eval.report();
    let base = tap.baseline.as_ref().map(|(_, e)| e.report());
    let mut out = std::io::stdout().lock();
    match a.format {
        OutputFormat::Md => {
            writeln!(out, "{TABLE_HEADER}")?;
            writeln!(out, "{}", row(&name, &methods, &ours))?;
            if let Some(b) = &base {
                writeln!(out, "{}", row(&name, "RITA-style baseline", b))?;
            }
        }
        OutputFormat::Json => {
            let j = |r: &EvalReport| {
                let c = |c: &Counts| {
                    serde_json::json!({"tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn_,
                        "precision": c.precision(), "recall": c.recall(), "f1": c.f1(), "fpr": c.fpr()})
                };
                serde_json::json!({"host_windows": c(&r.host_windows), "relationships": c(&r.relationships),
                    "flagged_clean_hosts": r.flagged_clean_hosts, "clean_hosts": r.clean_hosts,
                    "window_seconds": r.window / 1_000_000})
            };
            let mut v = serde_json::json!({"dataset": name, "methods": methods, "ours": j(&ours)});
            if let Some(b) = &base {
                v["baseline"] = j(b);
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        OutputFormat::Human => {
            let runs = std::iter::once(("c2atlas", methods.as_str(), &ours))
                .chain(base.as_ref().map(|b| ("RITA-style baseline", "beacon", b)));
            for (label, methods, r) in runs {
                writeln!(
                    out,
                    "{label} ({methods}) on {name}, {} s windows:\n  hosts×windows: {}\n  relationships: {}\n  clean hosts flagged: {}/{}",
                    a.window,
                    labelled(&r.host_windows),
                    labelled(&r.relationships),
                    r.flagged_clean_hosts,
                    r.clean_hosts
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
