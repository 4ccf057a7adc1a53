//! Evaluation against ground truth, the way the CTU-13 comparison scored
//! methods (García et al. 2014): per source host per time window, and per
//! (host, controller) relationship — TP, FP, TN, FN, precision, recall, F1,
//! FPR. Plus a RITA-style baseline beacon scorer, so improvements show.
//!
//! Truth comes from labelled events ([`label_class`]: CTU-13 binetflow
//! `From-Botnet-…` / `…-CC…`, Stratosphere/IoT-23 Zeek `Malicious`, `C&C`,
//! `CC`) or is marked by hand ([`Evaluator::mark_cc`], e.g. from a
//! simulator's truth file). A host-window is malicious when the host sent a
//! botnet-labelled flow in it; it is flagged when a finding of that host
//! covers it (a relationship covers the windows from its first to its last
//! finding).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use super::names::{is_controller, is_victim};
use super::{Context, Controller, Detector, Finding, Method};
use crate::model::{Event, Micros, RecordRef};

/// Default evaluation window: one hour.
pub const DEFAULT_WINDOW: Micros = 3_600_000_000;

/// What a ground-truth label says about a flow's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelClass {
    /// Botnet traffic to its C&C.
    CommandAndControl,
    /// Other botnet / malicious traffic.
    Malicious,
    Normal,
    /// Background or unlabelled.
    Background,
}

/// Classifies a label of CTU-13 binetflow or Stratosphere/IoT-23 Zeek logs.
pub fn label_class(label: &str) -> LabelClass {
    let l = label.trim();
    let lower = l.to_ascii_lowercase();
    let cc = l.contains("C&C")
        || lower.split(|c: char| !c.is_ascii_alphanumeric()).any(|t| {
            t == "cc"
                || (t.starts_with("cc")
                    && t[2..].bytes().all(|b| b.is_ascii_digit())
                    && t.len() > 2)
        });
    if lower.contains("from-botnet") {
        return if cc {
            LabelClass::CommandAndControl
        } else {
            LabelClass::Malicious
        };
    }
    if lower.contains("botnet") && !lower.contains("to-botnet") {
        return if cc {
            LabelClass::CommandAndControl
        } else {
            LabelClass::Malicious
        };
    }
    if lower.starts_with("malicious")
        || lower.contains(" malicious")
        || lower.contains("\tmalicious")
    {
        return if cc {
            LabelClass::CommandAndControl
        } else {
            LabelClass::Malicious
        };
    }
    if lower.contains("normal") || lower.starts_with("benign") {
        return LabelClass::Normal;
    }
    LabelClass::Background
}

/// Confusion counts and the usual rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    pub fn_: u64,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    pub fn fpr(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }
}

/// Results of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalReport {
    pub window: Micros,
    /// Per (source host, window).
    pub host_windows: Counts,
    /// Per (host, controller address) relationship among observed pairs.
    pub relationships: Counts,
    /// Hosts with no malicious label that were flagged at least once, and all such hosts.
    pub flagged_clean_hosts: u64,
    pub clean_hosts: u64,
    /// Findings per method.
    pub by_method: Vec<(Method, u64)>,
}

/// Accumulates truth and findings.
pub struct Evaluator {
    window: Micros,
    /// Active (host, window) of domestic sources, with whether it is malicious.
    active: HashMap<(IpAddr, i64), bool>,
    malicious_hosts: HashSet<IpAddr>,
    pairs: HashSet<(IpAddr, IpAddr)>,
    cc: HashSet<(IpAddr, IpAddr)>,
    /// Per (victim, controller): first and last finding time.
    found: HashMap<(IpAddr, Controller), (Micros, Micros)>,
    by_method: HashMap<Method, u64>,
}

impl Evaluator {
    pub fn new(window: Micros) -> Self {
        Evaluator {
            window: window.max(1),
            active: HashMap::new(),
            malicious_hosts: HashSet::new(),
            pairs: HashSet::new(),
            cc: HashSet::new(),
            found: HashMap::new(),
            by_method: HashMap::new(),
        }
    }

    fn win(&self, ts: Micros) -> i64 {
        ts.div_euclid(self.window)
    }

    /// Records the activity and the label (if any) of one event.
    pub fn observe(&mut self, ev: &Event<'_>, ctx: &Context<'_>) {
        let Event::Flow(f) = ev else { return };
        if !is_victim(ctx, f.src) {
            return;
        }
        let class = f
            .label
            .as_deref()
            .map_or(LabelClass::Background, label_class);
        let bad = matches!(class, LabelClass::CommandAndControl | LabelClass::Malicious);
        let w = self.win(f.ts);
        let e = self.active.entry((f.src, w)).or_insert(false);
        *e |= bad;
        if bad {
            self.malicious_hosts.insert(f.src);
        }
        if is_controller(ctx, f.dst) {
            self.pairs.insert((f.src, f.dst));
            if class == LabelClass::CommandAndControl {
                self.cc.insert((f.src, f.dst));
            }
        }
    }

    /// Marks `victim` → `controller` as a true C&C relationship active at `ts` (simulator truth).
    pub fn mark_cc(&mut self, victim: IpAddr, controller: IpAddr, ts: Micros) {
        let w = self.win(ts);
        self.active.insert((victim, w), true);
        self.malicious_hosts.insert(victim);
        self.pairs.insert((victim, controller));
        self.cc.insert((victim, controller));
    }

    /// Records a finding (after any confidence filter).
    pub fn finding(&mut self, f: &Finding) {
        *self.by_method.entry(f.method).or_insert(0) += 1;
        let e = self
            .found
            .entry((f.victim, f.controller.clone()))
            .or_insert((f.ts, f.ts));
        e.0 = e.0.min(f.ts);
        e.1 = e.1.max(f.ts);
    }

    pub fn report(&self) -> EvalReport {
        let mut flagged: HashSet<(IpAddr, i64)> = HashSet::new();
        let mut flagged_hosts: HashSet<IpAddr> = HashSet::new();
        for ((victim, _), &(a, b)) in &self.found {
            flagged_hosts.insert(*victim);
            let (wa, wb) = (self.win(a), self.win(b));
            // Bounded: only windows where the host was active count.
            if wb - wa > 10_000 {
                for (h, w) in self.active.keys() {
                    if h == victim && *w >= wa && *w <= wb {
                        flagged.insert((*h, *w));
                    }
                }
            } else {
                for w in wa..=wb {
                    flagged.insert((*victim, w));
                }
            }
        }
        let mut host_windows = Counts::default();
        for (k, &bad) in &self.active {
            match (bad, flagged.contains(k)) {
                (true, true) => host_windows.tp += 1,
                (true, false) => host_windows.fn_ += 1,
                (false, true) => host_windows.fp += 1,
                (false, false) => host_windows.tn += 1,
            }
        }
        let predicted: HashSet<(IpAddr, IpAddr)> = self
            .found
            .keys()
            .filter_map(|(v, c)| match c {
                Controller::Ip(ip) => Some((*v, *ip)),
                Controller::Name(_) => None,
            })
            .collect();
        let mut relationships = Counts::default();
        for p in self.pairs.iter().chain(predicted.difference(&self.pairs)) {
            match (self.cc.contains(p), predicted.contains(p)) {
                (true, true) => relationships.tp += 1,
                (true, false) => relationships.fn_ += 1,
                (false, true) => relationships.fp += 1,
                (false, false) => relationships.tn += 1,
            }
        }
        let hosts: BTreeSet<IpAddr> = self.active.keys().map(|(h, _)| *h).collect();
        let clean: Vec<&IpAddr> = hosts
            .iter()
            .filter(|h| !self.malicious_hosts.contains(h))
            .collect();
        let flagged_clean_hosts = clean.iter().filter(|h| flagged_hosts.contains(h)).count() as u64;
        let mut by_method: Vec<(Method, u64)> =
            self.by_method.iter().map(|(m, n)| (*m, *n)).collect();
        by_method.sort();
        EvalReport {
            window: self.window,
            host_windows,
            relationships,
            flagged_clean_hosts,
            clean_hosts: clean.len() as u64,
            by_method,
        }
    }
}

/// Full per-pair history for the baseline (unbounded by design: it is the reference, not the product).
#[derive(Default)]
struct History {
    ts: Vec<Micros>,
    bytes: Vec<u64>,
    first: Option<RecordRef>,
}

/// A RITA-v5-style beacon scorer (see `docs/field.md`): per pair, the mean of
/// the timestamp score (Bowley skew and MAD dispersion of the non-zero gaps),
/// the data-size score (the same on bytes), the histogram score (24 bins over
/// the observation window, `1 − σ/μ`) and the duration score (coverage of
/// the window, or the longest run of busy bins / 12). At least 4 distinct
/// timestamps. Emitted with `method = beacon`.
#[derive(Default)]
pub struct RitaBaseline {
    pairs: HashMap<(IpAddr, IpAddr), History>,
    window: Option<(Micros, Micros)>,
}

fn quartiles(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.25), q(0.5), q(0.75))
}

fn rita_part(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let (q1, m, q3) = quartiles(v);
    let skew = if q3 - q1 > 0.0 && m != q1 && m != q3 {
        (q1 + q3 - 2.0 * m) / (q3 - q1)
    } else {
        0.0
    };
    let mut dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    let (_, mad, _) = quartiles(&mut dev);
    let disp = if m > 0.0 {
        ((m - mad) / m).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (((1.0 - skew.abs()) + disp) / 2.0).clamp(0.0, 1.0)
}

/// RITA-style score of one pair's timestamps and sizes in `window`.
pub fn rita_score(ts: &[Micros], bytes: &[u64], window: (Micros, Micros)) -> Option<f64> {
    let mut t: Vec<Micros> = ts.to_vec();
    t.sort_unstable();
    t.dedup();
    if t.len() < 4 {
        return None;
    }
    let mut gaps: Vec<f64> = t
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64)
        .filter(|g| *g > 0.0)
        .collect();
    let ts_score = rita_part(&mut gaps);
    let mut b: Vec<f64> = bytes.iter().map(|&x| x as f64).collect();
    let ds_score = rita_part(&mut b);
    let wlen = window.1.saturating_sub(window.0).max(1) as f64;
    let mut bins = [0f64; 24];
    for &x in ts {
        let i = (((x.saturating_sub(window.0)) as f64 / wlen) * 24.0).clamp(0.0, 23.0) as usize;
        bins[i] += 1.0;
    }
    let mu = bins.iter().sum::<f64>() / 24.0;
    let sd = (bins.iter().map(|c| (c - mu).powi(2)).sum::<f64>() / 24.0).sqrt();
    let hist = if mu > 0.0 {
        (1.0 - sd / mu).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (mut run, mut best) = (0, 0);
    for i in 0..48 {
        if bins[i % 24] > 0.0 {
            run += 1;
            best = best.max(run.min(24));
        } else {
            run = 0;
        }
    }
    let coverage = ((t[t.len() - 1] - t[0]) as f64 / wlen).clamp(0.0, 1.0);
    let dur = coverage.max((f64::from(best) / 12.0).min(1.0));
    Some((ts_score + ds_score + hist + dur) / 4.0)
}

impl Detector for RitaBaseline {
    fn name(&self) -> &'static str {
        "rita-baseline"
    }

    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        _out: &mut dyn FnMut(Finding),
    ) {
        let Event::Flow(f) = ev else { return };
        self.window = Some(match self.window {
            Some((a, b)) => (a.min(f.ts), b.max(f.ts)),
            None => (f.ts, f.ts),
        });
        if !is_victim(ctx, f.src) || !is_controller(ctx, f.dst) {
            return;
        }
        let h = self.pairs.entry((f.src, f.dst)).or_default();
        h.ts.push(f.ts);
        h.bytes.push(f.src_bytes.saturating_add(f.dst_bytes));
        h.first.get_or_insert(rec);
    }

    fn finish(&mut self, _ctx: &Context<'_>, out: &mut dyn FnMut(Finding)) {
        let Some(window) = self.window else { return };
        let mut keys: Vec<_> = self.pairs.keys().copied().collect();
        keys.sort();
        for k in keys {
            let Some(h) = self.pairs.get(&k) else {
                continue;
            };
            let Some(score) = rita_score(&h.ts, &h.bytes, window) else {
                continue;
            };
            let (Some(&a), Some(&b)) = (h.ts.iter().min(), h.ts.iter().max()) else {
                continue;
            };
            let Some(rec) = h.first else { continue };
            for ts in [a, b] {
                out(Finding {
                    victim: k.0,
                    controller: Controller::Ip(k.1),
                    method: Method::Beacon,
                    confidence: score,
                    indicator: None,
                    ts,
                    flows: 0,
                    bytes: 0,
                    rec,
                    explanation: Some(std::sync::Arc::from(format!("RITA-style score {score:.2}"))),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(
            label_class("flow=From-Botnet-V47-TCP-CC73-Not-Encrypted"),
            LabelClass::CommandAndControl
        );
        assert_eq!(
            label_class("flow=From-Botnet-V47-TCP-Attempt-SPAM"),
            LabelClass::Malicious
        );
        assert_eq!(
            label_class("flow=To-Botnet-V47-UDP"),
            LabelClass::Background
        );
        assert_eq!(
            label_class("flow=From-Normal-V47-Grill"),
            LabelClass::Normal
        );
        assert_eq!(
            label_class("flow=Background-UDP-Established"),
            LabelClass::Background
        );
        assert_eq!(
            label_class("Malicious   C&C"),
            LabelClass::CommandAndControl
        );
        assert_eq!(
            label_class("Malicious   PartOfAHorizontalPortScan"),
            LabelClass::Malicious
        );
        assert_eq!(label_class("Benign   -"), LabelClass::Normal);
        assert_eq!(label_class("Malicious CC"), LabelClass::CommandAndControl);
    }

    #[test]
    fn counts_rates() {
        let c = Counts {
            tp: 9,
            fp: 1,
            tn: 89,
            fn_: 1,
        };
        assert!((c.precision() - 0.9).abs() < 1e-9);
        assert!((c.recall() - 0.9).abs() < 1e-9);
        assert!((c.f1() - 0.9).abs() < 1e-9);
        assert!((c.fpr() - 1.0 / 90.0).abs() < 1e-9);
        assert_eq!(Counts::default().f1(), 0.0);
    }

    #[test]
    fn rita_scores_perfect_high() {
        let ts: Vec<Micros> = (0..100).map(|i| i * 60_000_000).collect();
        let b = vec![500u64; 100];
        let s = rita_score(&ts, &b, (0, 99 * 60_000_000)).unwrap();
        assert!(s > 0.95, "{s}");
    }
}
