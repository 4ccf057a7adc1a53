//! Long connections (≥ 1 h of connection time per pair) and strobes (very
//! many connections per pair), after RITA; and retry loops (below).
//!
//! Per (domestic host, external address): total connection time (durations
//! summed, each clamped to [`MAX_DURATION`]), connection count, first and last
//! record. Long connections are common in benign use (VPNs, chat, streaming),
//! so their confidence stays moderate unless they last very long; strobes are
//! scored by their rate over the pair's active period.
//!
//! A *retry loop* is a host that keeps trying to reach an endpoint that never
//! answers, without backing off: what an implant does while its controller is
//! down or blocked (RemcosRAT's reconnect loop in Slips' CTU-SME-11 capture:
//! a new connection every 2 s for 8 minutes, each refused). Benign clients
//! retry too, but back off exponentially and give up; a dead popular
//! service is retried by many hosts; and a host running several such loops
//! at once is fanning out (spam to dead mail servers, P2P peers, a client of
//! several servers — CTU-13's background has all three), not calling its one
//! controller. So a retry loop needs [`RETRY_MIN_ATTEMPTS`] unanswered
//! attempts (no byte from the responder) over at least [`RETRY_MIN_SPAN`],
//! none answered, no pause longer than [`RETRY_MAX_PAUSE`] of its span (no
//! back-off), to an endpoint no other internal host contacts, and it must be
//! the host's only such loop (see [`retry_confidence`]). Flow sources that count header bytes
//! as payload (Argus binetflow's `TotBytes`) never show a refused connection
//! as unanswered, so there the feature stays silent rather than wrong.

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

/// Fewest unanswered attempts of a retry loop: a minute of 1-second retries,
/// far beyond the handful a client makes before it gives up.
pub const RETRY_MIN_ATTEMPTS: u32 = 60;
/// Shortest retry loop: five minutes of trying (a brief outage is not one).
pub const RETRY_MIN_SPAN: Micros = 300_000_000;
/// Longest pause between attempts, as a share of the loop's span. Exponential
/// back-off makes the last pause about half the span; a steady loop keeps
/// every pause a small fraction of it.
pub const RETRY_MAX_PAUSE: f64 = 0.125;
/// An endpoint retried by at least this many internal hosts…
pub const RETRY_POPULAR_HOSTS: u32 = 3;
/// …that are at least this share of all internal hosts seen is a dead popular
/// service (an update server down), not a controller.
pub const RETRY_POPULAR_SHARE: f64 = 0.02;

#[derive(Clone, Debug)]
struct PairTime {
    /// Connection time, overlaps counted once (for records in time order).
    total: Micros,
    covered_until: Micros,
    conns: u32,
    first: (Micros, RecordRef),
    last: (Micros, RecordRef),
    bytes: u64,
    /// Flows the responder sent no byte in, and flows it answered.
    unanswered: u32,
    answered: u32,
    /// First and last unanswered attempt (time order) and the longest pause
    /// between consecutive ones; attempts older than the last are late and
    /// make no pause.
    retry_first: Micros,
    retry_last: Micros,
    max_pause: Micros,
}

impl PairTime {
    fn new(
        ts: Micros,
        end: Micros,
        dur: Micros,
        bytes: u64,
        rec: RecordRef,
        unanswered: bool,
    ) -> Self {
        let mut p = PairTime {
            total: dur,
            covered_until: end,
            conns: 1,
            first: (ts, rec),
            last: (end, rec),
            bytes,
            unanswered: 0,
            answered: 0,
            retry_first: Micros::MAX,
            retry_last: Micros::MIN,
            max_pause: 0,
        };
        p.attempt(ts, unanswered);
        p
    }

    /// Records one attempt at `ts`; `unanswered` when the responder sent nothing.
    fn attempt(&mut self, ts: Micros, unanswered: bool) {
        if !unanswered {
            self.answered = self.answered.saturating_add(1);
            return;
        }
        self.unanswered = self.unanswered.saturating_add(1);
        if self.retry_first == Micros::MAX {
            self.retry_first = ts;
            self.retry_last = ts;
            return;
        }
        self.retry_first = self.retry_first.min(ts);
        if ts > self.retry_last {
            self.max_pause = self.max_pause.max(ts.saturating_sub(self.retry_last));
            self.retry_last = ts;
        }
    }

    /// Span of the unanswered attempts.
    fn retry_span(&self) -> Micros {
        if self.unanswered == 0 {
            0
        } else {
            self.retry_last.saturating_sub(self.retry_first)
        }
    }
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

/// Whether a pair's unanswered attempts form a steady loop: at least
/// [`RETRY_MIN_ATTEMPTS`] over at least [`RETRY_MIN_SPAN`], none answered,
/// no pause longer than [`RETRY_MAX_PAUSE`] of the span.
pub fn is_retry_loop(unanswered: u32, answered: u32, span: Micros, max_pause: Micros) -> bool {
    unanswered >= RETRY_MIN_ATTEMPTS
        && answered == 0
        && span >= RETRY_MIN_SPAN
        && max_pause as f64 <= RETRY_MAX_PAUSE * span as f64
}

/// Confidence of a steady retry loop ([`is_retry_loop`]) of `span` to an
/// endpoint contacted by `hosts` internal hosts, the host running `loops`
/// such loops: 0 unless the endpoint is the host's alone and the loop its
/// only one (module docs); then 0.6 (the default `--min-confidence`: an
/// implant calling its dead controller is a census claim) rising to 0.8 for
/// an hour of trying.
pub fn retry_confidence(span: Micros, hosts: u32, loops: u32) -> f64 {
    if hosts != 1 || loops != 1 {
        return 0.0;
    }
    let hour = 3_600e6;
    let min = RETRY_MIN_SPAN as f64;
    0.6 + 0.2 * ((span as f64 - min) / (hour - min)).clamp(0.0, 1.0)
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
        let unanswered = f.dst_bytes == 0;
        if let Some(p) = self.pairs.get_mut(&(f.src, f.dst)) {
            let from = f.ts.max(p.covered_until);
            p.total = p.total.saturating_add(end.saturating_sub(from).max(0));
            p.covered_until = p.covered_until.max(end);
            p.conns = p.conns.saturating_add(1);
            p.bytes = p.bytes.saturating_add(bytes);
            p.attempt(f.ts, unanswered);
            if f.ts < p.first.0 {
                p.first = (f.ts, rec);
            }
            if end > p.last.0 {
                p.last = (end, rec);
            }
        } else if self.pairs.len() < MAX_PAIRS {
            self.pairs.insert(
                (f.src, f.dst),
                PairTime::new(f.ts, end, dur, bytes, rec, unanswered),
            );
        } else {
            self.untracked += 1;
        }
    }

    fn finish(&mut self, _ctx: &Context<'_>, out: &mut dyn FnMut(Finding)) {
        let mut hosts_of: HashMap<IpAddr, u32, foldhash::fast::FixedState> = HashMap::default();
        for &(_, dst) in self.pairs.keys() {
            *hosts_of.entry(dst).or_insert(0) += 1;
        }
        let mut loops_of: HashMap<IpAddr, u32, foldhash::fast::FixedState> = HashMap::default();
        for (&(src, _), p) in &self.pairs {
            if is_retry_loop(p.unanswered, p.answered, p.retry_span(), p.max_pause) {
                *loops_of.entry(src).or_insert(0) += 1;
            }
        }
        let mut pairs: Vec<_> = self.pairs.iter().collect();
        pairs.sort_by_key(|(k, _)| **k);
        for (&(src, dst), p) in pairs {
            let hosts = hosts_of.get(&dst).copied().unwrap_or(1);
            let span = p.retry_span();
            let retry = if is_retry_loop(p.unanswered, p.answered, span, p.max_pause) {
                retry_confidence(span, hosts, loops_of.get(&src).copied().unwrap_or(0))
            } else {
                0.0
            };
            let hours = p.total as f64 / 3.6e9;
            let span_days = (p.last.0.saturating_sub(p.first.0) as f64 / DAY).max(1.0 / 24.0);
            let per_day = f64::from(p.conns) / span_days;
            let long = long_confidence(hours);
            let strobe = if p.conns >= STROBE_MIN {
                strobe_confidence(per_day)
            } else {
                0.0
            };
            if long <= 0.0 && strobe <= 0.0 && retry <= 0.0 {
                continue;
            }
            let text = if retry > long.max(strobe) {
                format!(
                    "retry loop: {} unanswered connection attempts over {:.1} min (one every {:.1} s, \
                     longest pause {:.1} s), never answered; the host's only such loop, to an endpoint no other internal host contacts",
                    p.unanswered,
                    span as f64 / 60e6,
                    span as f64 / 1e6 / f64::from(p.unanswered.max(2) - 1),
                    p.max_pause as f64 / 1e6,
                )
            } else if strobe > long {
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
            let confidence = long.max(strobe).max(retry);
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

    const S: Micros = 1_000_000;

    #[test]
    fn retry_loop_needs_persistence_silence_no_backoff_and_exclusivity() {
        // 240 refused attempts, one every 2 s for 8 min
        assert!(is_retry_loop(240, 0, 480 * S, 2 * S));
        // too few attempts, too short, answered once, backed off
        assert!(!is_retry_loop(59, 0, 480 * S, 2 * S));
        assert!(!is_retry_loop(240, 0, 299 * S, 2 * S));
        assert!(!is_retry_loop(240, 1, 480 * S, 2 * S));
        assert!(!is_retry_loop(240, 0, 480 * S, 61 * S));
        let ok = retry_confidence(480 * S, 1, 1);
        // 8 min is 180 s past the 5 min minimum, of the 55 min ramp to an hour.
        assert!((ok - (0.6 + 0.2 * 180.0 / 3300.0)).abs() < 1e-9, "{ok}");
        assert!(retry_confidence(3600 * S, 1, 1) > 0.79);
        // another host calls the endpoint too; the host runs two loops
        assert_eq!(retry_confidence(480 * S, 2, 1), 0.0);
        assert_eq!(retry_confidence(480 * S, 1, 2), 0.0);
    }

    #[test]
    fn retry_loop_found_in_flows_and_backoff_is_not() {
        use crate::enrich::Home;
        use crate::model::{Flow, Proto};
        let home = Home {
            networks: vec!["192.168.1.0/24".parse().expect("cidr")],
            ..Default::default()
        };
        let ctx = Context {
            home: &home,
            geo: None,
        };
        let run = |times: &[Micros]| {
            let mut d = LongConnDetector::new();
            for (i, &ts) in times.iter().enumerate() {
                let f = Flow {
                    ts,
                    duration: 30_000,
                    proto: Proto::Tcp,
                    src: "192.168.1.107".parse().expect("ip"),
                    sport: 50_000 + i as u16,
                    dst: "66.63.168.35".parse().expect("ip"),
                    dport: 5888,
                    src_bytes: 0,
                    dst_bytes: 0,
                    packets: 2,
                    label: None,
                };
                let rec = RecordRef {
                    input: 0,
                    line: i as u64 + 1,
                };
                d.observe(rec, &Event::Flow(f), &ctx, &mut |_| {});
            }
            let mut out = Vec::new();
            d.finish(&ctx, &mut |f| out.push(f));
            out
        };
        // out of order by up to a second, every 2 s for 8 minutes
        let steady: Vec<Micros> = (0..240).map(|i| i * 2 * S + (i % 3) * 400_000).collect();
        let found = run(&steady);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].confidence >= 0.6);
        let text = found[0].explanation.as_deref().unwrap_or_default();
        assert!(text.starts_with("retry loop: 240 unanswered"), "{text}");
        // exponential back-off from 1 s: 10 attempts, 17 minutes
        let backoff: Vec<Micros> = (0..10).map(|i| ((1 << i) - 1) * S).collect();
        assert!(run(&backoff).is_empty());
        // 200 quick retries then silence for the rest of the capture: a pause > 1/8 of the span
        let mut burst: Vec<Micros> = (0..200).map(|i| i * S).collect();
        burst.push(2_000 * S);
        assert!(run(&burst).is_empty());
    }
}
