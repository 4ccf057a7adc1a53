//! Shared controllers (BotMiner's idea): several internal hosts beaconing
//! alike — similar period and beat size — to the same rare endpoint form a
//! botnet cluster. Members may individually score below the beacon
//! threshold; agreement across hosts is the evidence.
//!
//! The detector wraps a [`BeaconDetector`] run with a low floor, groups its
//! candidates by controller, and emits one `cluster` finding per member with
//! the cluster size in the explanation. As in BotMiner, a communication
//! cluster needs a member with malicious activity (A-plane, see
//! [`super::activity`]) unless it has at least [`LARGE_CLUSTER`] hosts. When `beacon` is also selected it
//! emits the beacon findings too (one pass, one state).

use super::beacon::{BeaconConfig, BeaconDetector, Candidate};
use super::{Context, Detector, Finding, Method};
use crate::model::{Event, RecordRef};

/// Beacon candidates down to this score may join a cluster.
pub const CLUSTER_FLOOR: f64 = 0.3;
/// Fewest hosts in a cluster.
pub const MIN_CLUSTER: usize = 2;
/// A member with at least this activity evidence vouches for its cluster.
pub const ACTIVE_MEMBER: f64 = 0.5;
/// A cluster this large counts without activity evidence.
pub const LARGE_CLUSTER: usize = 10;
/// Confidence gain per doubling of the cluster size.
pub const CLUSTER_GAIN: f64 = 0.05;
/// Members' periods within this fraction of the cluster's median period.
pub const PERIOD_TOLERANCE: f64 = 0.25;
/// Members' median beat sizes within this factor of the cluster's median.
pub const SIZE_FACTOR: f64 = 2.0;
/// An endpoint is rare when at most this share of internal hosts contact it
/// (or at most [`MIN_CLUSTER`] hosts in a small network).
pub const RARE_FRACTION: f64 = 0.2;

/// One cluster: indices into the candidate list, all with the same controller.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub members: Vec<usize>,
    pub period: f64,
    pub confidence: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Groups candidates (sorted by victim, then controller, as
/// [`BeaconDetector::candidates`] returns them) into clusters.
pub fn clusters(cands: &[Candidate]) -> Vec<Cluster> {
    let mut by_ctrl: std::collections::BTreeMap<_, Vec<usize>> = Default::default();
    for (i, c) in cands.iter().enumerate() {
        if c.score.score >= CLUSTER_FLOOR {
            by_ctrl.entry(&c.controller).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (_, idx) in by_ctrl {
        if idx.len() < MIN_CLUSTER {
            continue;
        }
        let c0 = &cands[idx[0]];
        let rare = f64::from(c0.hosts)
            <= (RARE_FRACTION * f64::from(c0.total_hosts)).max(MIN_CLUSTER as f64);
        if !rare {
            continue;
        }
        let period = median(idx.iter().map(|&i| cands[i].score.period).collect());
        let size = median(idx.iter().map(|&i| cands[i].score.beat_bytes).collect());
        let members: Vec<usize> = idx
            .into_iter()
            .filter(|&i| {
                let s = &cands[i].score;
                (s.period - period).abs() <= PERIOD_TOLERANCE * period
                    && s.beat_bytes <= SIZE_FACTOR * size.max(1.0)
                    && s.beat_bytes * SIZE_FACTOR >= size
            })
            .collect();
        if members.len() < MIN_CLUSTER {
            continue;
        }
        // BotMiner's cross-plane rule: a communication cluster counts when one
        // of its members also shows malicious activity (spam), or when it is
        // large; a handful of hosts polling one service alike is common and benign.
        let active = members.iter().any(|&i| cands[i].activity >= ACTIVE_MEMBER);
        if !active && members.len() < LARGE_CLUSTER {
            continue;
        }
        let mean =
            members.iter().map(|&i| cands[i].score.score).sum::<f64>() / members.len() as f64;
        let factor = 1.0 + CLUSTER_GAIN * (members.len() as f64 / MIN_CLUSTER as f64).log2();
        let confidence = (mean * factor).min(0.95);
        out.push(Cluster {
            members,
            period,
            confidence,
        });
    }
    out
}

/// The cluster detector (see the module docs).
pub struct ClusterDetector {
    beacon: BeaconDetector,
    /// Emit the beacon findings too, from this score up (`None`: clusters only).
    beacon_min: Option<f64>,
}

impl ClusterDetector {
    pub fn new(cfg: BeaconConfig, also_beacon: bool) -> Self {
        let beacon_min = also_beacon.then_some(cfg.min_score);
        ClusterDetector {
            beacon: BeaconDetector::new(BeaconConfig {
                min_score: CLUSTER_FLOOR,
                ..cfg
            }),
            beacon_min,
        }
    }
}

impl Detector for ClusterDetector {
    fn name(&self) -> &'static str {
        "cluster"
    }

    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        out: &mut dyn FnMut(Finding),
    ) {
        self.beacon.observe(rec, ev, ctx, out);
    }

    fn finish(&mut self, _ctx: &Context<'_>, out: &mut dyn FnMut(Finding)) {
        let cands = self.beacon.candidates(CLUSTER_FLOOR);
        if let Some(min) = self.beacon_min {
            for c in cands.iter().filter(|c| c.confidence() >= min) {
                c.emit(Method::Beacon, c.confidence(), None, out);
            }
        }
        for cl in clusters(&cands) {
            let text = format!(
                "cluster of {} internal hosts beaconing alike (period ≈ {:.0} s) to {}",
                cl.members.len(),
                cl.period,
                cands[cl.members[0]].controller
            );
            for &i in &cl.members {
                cands[i].emit(Method::Cluster, cl.confidence, Some(&text), out);
            }
        }
    }
}
