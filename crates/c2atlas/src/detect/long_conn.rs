//! Long connections (≥ 1 h of connection time per pair) and strobes (very
//! many connections per pair), after RITA.
//!
//! Per (domestic host, external address): total connection time (durations
//! summed, each clamped to [`MAX_DURATION`]), connection count, first and last
//! record. Long connections are common in benign use (VPNs, chat, streaming),
//! so their confidence stays moderate unless they last very long; strobes are
//! scored by their rate over the pair's active period.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::names::{is_controller, is_victim};
use super::{Context, Controller, Detector, Finding, Method};
use crate::model::{Event, Micros, RecordRef};

/// A pair with at least this much connection time is a long connection (RITA: 1 h).
pub const LONG_MIN: Micros = 3_600_000_000;
/// One record's duration is clamped to this (a week): absurd values cannot dominate.
pub const MAX_DURATION: Micros = 7 * 24 * 3_600_000_000;
/// A pair with at least this many connections per day of activity is a strobe (RITA: 86,400).
pub const STROBE_PER_DAY: f64 = 86_400.0;
/// …and at least this many connections in all (a burst of a few seconds is not a strobe).
pub const STROBE_MIN: u32 = 3_600;
/// Most pairs tracked; beyond, new pairs are counted, not tracked.
pub const MAX_PAIRS: usize = 8 << 20;

const DAY: f64 = 86_400e6;

#[derive(Clone, Debug)]
struct PairTime {
    /// Connection time, overlaps counted once (for records in time order).
    total: Micros,
    covered_until: Micros,
    conns: u32,
    first: (Micros, RecordRef),
    last: (Micros, RecordRef),
    bytes: u64,
}

/// The long-connection and strobe detector.
#[derive(Default)]
pub struct LongConnDetector {
    pairs: HashMap<(IpAddr, IpAddr), PairTime, foldhash::fast::FixedState>,
    pub untracked: u64,
}

impl LongConnDetector {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Most confidence a long connection alone can reach: below the default
/// `--min-confidence` (0.6). Long-lived connections are what benign push and
/// sync services (cloud storage, messaging, VPNs) do all day — seen on the
/// benign Stratosphere host, whose only long pairs were Dropbox — so on their own
/// they are a hunting lead (`--min-confidence 0.5`), not a C2 claim for a census.
pub const LONG_MAX_CONFIDENCE: f64 = 0.55;

/// Confidence of a long connection of `hours` in total: 0.35 at 1 h, rising
/// towards [`LONG_MAX_CONFIDENCE`].
pub fn long_confidence(hours: f64) -> f64 {
    if hours < 1.0 {
        return 0.0;
    }
    0.35 + (LONG_MAX_CONFIDENCE - 0.35) * (1.0 - (-(hours - 1.0) / 10.0).exp())
}

/// Confidence of a strobe of `per_day` connections per day: 0.6 at the threshold, → 0.85.
pub fn strobe_confidence(per_day: f64) -> f64 {
    if per_day < STROBE_PER_DAY {
        return 0.0;
    }
    0.6 + 0.25 * (1.0 - STROBE_PER_DAY / per_day)
}

impl Detector for LongConnDetector {
    fn name(&self) -> &'static str {
        "long"
    }

    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        _out: &mut dyn FnMut(Finding),
    ) {
        let Event::Flow(f) = ev else { return };
        if !is_victim(ctx, f.src) || !is_controller(ctx, f.dst) {
            return;
        }
        let dur = f.duration.clamp(0, MAX_DURATION);
        let bytes = f.src_bytes.saturating_add(f.dst_bytes);
        let end = f.ts.saturating_add(dur);
        if let Some(p) = self.pairs.get_mut(&(f.src, f.dst)) {
            let from = f.ts.max(p.covered_until);
            p.total = p.total.saturating_add(end.saturating_sub(from).max(0));
            p.covered_until = p.covered_until.max(end);
            p.conns = p.conns.saturating_add(1);
            p.bytes = p.bytes.saturating_add(bytes);
            if f.ts < p.first.0 {
                p.first = (f.ts, rec);
            }
            if end > p.last.0 {
                p.last = (end, rec);
            }
        } else if self.pairs.len() < MAX_PAIRS {
            self.pairs.insert(
                (f.src, f.dst),
                PairTime {
                    total: dur,
                    covered_until: end,
                    conns: 1,
                    first: (f.ts, rec),
                    last: (end, rec),
                    bytes,
                },
            );
        } else {
            self.untracked += 1;
        }
    }

    fn finish(&mut self, _ctx: &Context<'_>, out: &mut dyn FnMut(Finding)) {
        let mut pairs: Vec<_> = self.pairs.iter().collect();
        pairs.sort_by_key(|(k, _)| **k);
        for (&(src, dst), p) in pairs {
            let hours = p.total as f64 / 3.6e9;
            let span_days = (p.last.0.saturating_sub(p.first.0) as f64 / DAY).max(1.0 / 24.0);
            let per_day = f64::from(p.conns) / span_days;
            let long = long_confidence(hours);
            let strobe = if p.conns >= STROBE_MIN {
                strobe_confidence(per_day)
            } else {
                0.0
            };
            if long <= 0.0 && strobe <= 0.0 {
                continue;
            }
            let text = if strobe > long {
                format!(
                    "strobe: {} connections ({per_day:.0} per day of activity)",
                    p.conns
                )
            } else {
                format!(
                    "long connection: {hours:.1} h of connection time over {} connection(s)",
                    p.conns
                )
            };
            let explanation: Arc<str> = Arc::from(text);
            let confidence = long.max(strobe);
            for (i, &(ts, rec)) in [p.first, p.last].iter().enumerate() {
                if i == 1 && rec == p.first.1 {
                    break;
                }
                out(Finding {
                    victim: src,
                    controller: Controller::Ip(dst),
                    method: Method::Long,
                    confidence,
                    indicator: None,
                    ts,
                    flows: if i == 0 { u64::from(p.conns) } else { 0 },
                    bytes: if i == 0 { p.bytes } else { 0 },
                    rec,
                    explanation: Some(explanation.clone()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidences_are_monotone_and_bounded() {
        assert_eq!(long_confidence(0.5), 0.0);
        assert!((long_confidence(1.0) - 0.35).abs() < 1e-9);
        assert!(long_confidence(24.0) > long_confidence(2.0));
        assert!(long_confidence(1e9) <= LONG_MAX_CONFIDENCE);
        assert_eq!(strobe_confidence(1000.0), 0.0);
        assert!(strobe_confidence(1e7) <= 0.85 && strobe_confidence(1e7) > 0.8);
    }
}
