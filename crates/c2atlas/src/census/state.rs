//! The census state: control relationships accumulated from findings.
//!
//! Invariants:
//! - one entry per (victim, controller); a relationship's figures are sums,
//!   minima and maxima of its findings, so two states merge by the same rules
//!   and the result does not depend on how findings were split or ordered
//!   (evidence keeps the `cap` smallest record references, which is also
//!   order-independent);
//! - the state is shardable by victim: findings of different victims never
//!   touch the same entry.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::detect::{Controller, Finding, Method, MethodSet};
use crate::intel::IndicatorId;
use crate::model::{Micros, RecordRef};

/// Default number of evidence records kept per relationship.
pub const DEFAULT_EVIDENCE_CAP: usize = 20;

/// Key of a relationship.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelKey {
    pub victim: IpAddr,
    pub controller: Controller,
}

/// Accumulated figures of one relationship.
#[derive(Clone, Debug, PartialEq)]
pub struct RelState {
    pub first_seen: Micros,
    pub last_seen: Micros,
    /// What each method that found the relationship counted, sorted by method.
    /// Several detectors see the same flows, so figures are per method and
    /// reported as the maximum over methods ([`RelState::flows`]), never summed.
    pub counts: Vec<MethodCounts>,
    /// The strongest method that found it, and its confidence.
    pub method: Method,
    /// Every method that found it.
    pub methods: MethodSet,
    pub confidence: f64,
    /// What the strongest finding's detector saw (features that fired).
    pub explanation: Option<Arc<str>>,
    /// The matching indicator (smallest id when several matched).
    pub indicator: Option<IndicatorId>,
    /// The smallest `cap` supporting record references, sorted.
    pub evidence: Vec<RecordRef>,
}

/// The support one method found for a relationship.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodCounts {
    pub method: Method,
    /// Flow records.
    pub flows: u64,
    /// Bytes of those flows, both directions.
    pub bytes: u64,
    /// All supporting records (flows, DNS answers, HTTP requests, TLS handshakes).
    pub events: u64,
}

impl RelState {
    /// Flow records supporting the relationship (the most any one method saw).
    pub fn flows(&self) -> u64 {
        self.counts.iter().map(|c| c.flows).max().unwrap_or(0)
    }
    /// Bytes of those flows.
    pub fn bytes(&self) -> u64 {
        self.counts.iter().map(|c| c.bytes).max().unwrap_or(0)
    }
    /// Supporting records of any kind.
    pub fn events(&self) -> u64 {
        self.counts.iter().map(|c| c.events).max().unwrap_or(0)
    }

    fn add_counts(&mut self, o: &MethodCounts) {
        match self.counts.binary_search_by(|c| c.method.cmp(&o.method)) {
            Ok(i) => {
                let c = &mut self.counts[i];
                c.flows = c.flows.saturating_add(o.flows);
                c.bytes = c.bytes.saturating_add(o.bytes);
                c.events = c.events.saturating_add(o.events);
            }
            Err(i) => self.counts.insert(i, *o),
        }
    }

    fn from_finding(f: &Finding) -> RelState {
        RelState {
            first_seen: f.ts,
            last_seen: f.ts,
            counts: vec![MethodCounts {
                method: f.method,
                flows: f.flows,
                bytes: f.bytes,
                events: 1,
            }],
            method: f.method,
            methods: MethodSet::of(f.method),
            confidence: f.confidence,
            explanation: f.explanation.clone(),
            indicator: f.indicator,
            evidence: vec![f.rec],
        }
    }

    /// [`RelState::absorb`] of `RelState::from_finding(f)`, without building
    /// it: the hot path of a census (one call per matching flow) allocates nothing.
    fn absorb_finding(&mut self, f: &Finding, cap: usize) {
        self.first_seen = self.first_seen.min(f.ts);
        self.last_seen = self.last_seen.max(f.ts);
        self.add_counts(&MethodCounts {
            method: f.method,
            flows: f.flows,
            bytes: f.bytes,
            events: 1,
        });
        self.methods = self.methods.union(MethodSet::of(f.method));
        if f.confidence > self.confidence
            || (f.confidence == self.confidence && f.method < self.method)
        {
            self.method = f.method;
            self.confidence = f.confidence;
            self.explanation = f.explanation.clone();
        }
        self.indicator = match (self.indicator, f.indicator) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        insert_evidence(&mut self.evidence, f.rec, cap);
    }

    fn absorb(&mut self, o: &RelState, cap: usize) {
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        for c in &o.counts {
            self.add_counts(c);
        }
        self.methods = self.methods.union(o.methods);
        if o.confidence > self.confidence
            || (o.confidence == self.confidence && o.method < self.method)
        {
            self.method = o.method;
            self.confidence = o.confidence;
            self.explanation = o.explanation.clone();
        }
        self.indicator = match (self.indicator, o.indicator) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        merge_evidence(&mut self.evidence, &o.evidence, cap);
    }
}

/// Inserts `r` into sorted, deduplicated `a` (at most `cap` long), keeping the
/// `cap` smallest: the same as `merge_evidence(a, &[r], cap)`, in place.
fn insert_evidence(a: &mut Vec<RecordRef>, r: RecordRef, cap: usize) {
    if a.len() >= cap && a.last().is_some_and(|l| *l <= r) {
        return;
    }
    if let Err(i) = a.binary_search(&r) {
        a.insert(i, r);
        a.truncate(cap);
    }
}

/// Merges sorted `b` into sorted `a`, deduplicated, keeping the `cap` smallest.
fn merge_evidence(a: &mut Vec<RecordRef>, b: &[RecordRef], cap: usize) {
    if b.len() == 1 && a.len() >= cap && a.last().is_some_and(|l| *l <= b[0]) {
        return; // fast path: the common case once a relationship is full
    }
    let mut merged = Vec::with_capacity((a.len() + b.len()).min(cap));
    let (mut i, mut j) = (0, 0);
    while merged.len() < cap && (i < a.len() || j < b.len()) {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x < y => {
                i += 1;
                *x
            }
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
                *x
            }
            (_, Some(y)) => {
                j += 1;
                *y
            }
            (Some(x), None) => {
                i += 1;
                *x
            }
            (None, None) => break,
        };
        merged.push(next);
    }
    *a = merged;
}

/// All relationships of a run (or of a shard of one).
#[derive(Clone, Debug)]
pub struct CensusState {
    cap: usize,
    /// Seeded hasher: keys come from attacker-controlled traffic; output is sorted anyway.
    rels: HashMap<RelKey, RelState, foldhash::fast::RandomState>,
}

impl Default for CensusState {
    fn default() -> Self {
        CensusState::new(DEFAULT_EVIDENCE_CAP)
    }
}

impl CensusState {
    /// `cap`: evidence records kept per relationship (at least 1).
    pub fn new(cap: usize) -> CensusState {
        CensusState {
            cap: cap.max(1),
            rels: HashMap::default(),
        }
    }

    pub fn add(&mut self, f: &Finding) {
        let key = RelKey {
            victim: f.victim,
            controller: f.controller.clone(),
        };
        match self.rels.get_mut(&key) {
            Some(s) => s.absorb_finding(f, self.cap),
            None => {
                self.rels.insert(key, RelState::from_finding(f));
            }
        }
    }

    /// Merges another state (e.g. another shard's, or another time slice's).
    pub fn merge(&mut self, other: &CensusState) {
        for (k, v) in &other.rels {
            match self.rels.get_mut(k) {
                Some(s) => s.absorb(v, self.cap),
                None => {
                    let mut v = v.clone();
                    v.evidence.truncate(self.cap);
                    self.rels.insert(k.clone(), v);
                }
            }
        }
    }

    /// [`CensusState::merge`] consuming `other`: entries move instead of being
    /// cloned, and the larger map is kept, so merging the states of parallel
    /// readers needs no second copy of the relationships.
    pub fn merge_from(&mut self, mut other: CensusState) {
        if other.cap == self.cap && other.rels.len() > self.rels.len() {
            std::mem::swap(&mut self.rels, &mut other.rels);
        }
        for (k, mut v) in other.rels {
            match self.rels.get_mut(&k) {
                Some(s) => s.absorb(&v, self.cap),
                None => {
                    v.evidence.truncate(self.cap);
                    self.rels.insert(k, v);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.rels.len()
    }

    /// Adds a relationship read back from a saved state (merged into an
    /// existing one by the [`CensusState::merge`] rules).
    pub fn restore(&mut self, key: RelKey, mut st: RelState) {
        match self.rels.get_mut(&key) {
            Some(s) => s.absorb(&st, self.cap),
            None => {
                st.evidence.truncate(self.cap);
                self.rels.insert(key, st);
            }
        }
    }

    /// Evidence records kept per relationship.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Drops name-only relationships (a C2 name queried without an address
    /// answer, e.g. an AAAA query) when the same victim also has a relationship
    /// with an address through the same indicator: the controller is then known
    /// by its address, and counting the name as well would count it twice.
    /// Per victim, so it commutes with sharding by victim. Returns how many were dropped.
    pub fn drop_resolved_names(&mut self) -> usize {
        let resolved: std::collections::HashSet<(IpAddr, IndicatorId)> = self
            .rels
            .iter()
            .filter(|(k, _)| matches!(k.controller, Controller::Ip(_)))
            .filter_map(|(k, v)| v.indicator.map(|i| (k.victim, i)))
            .collect();
        let before = self.rels.len();
        self.rels.retain(|k, v| {
            !(matches!(k.controller, Controller::Name(_))
                && v.indicator
                    .is_some_and(|i| resolved.contains(&(k.victim, i))))
        });
        before - self.rels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rels.is_empty()
    }

    /// Relationships sorted by key (deterministic).
    pub fn sorted(&self) -> Vec<(&RelKey, &RelState)> {
        let mut v: Vec<_> = self.rels.iter().collect();
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn finding(victim: u8, ctrl: u8, line: u64, ts: i64) -> Finding {
        Finding {
            victim: IpAddr::from([10, 0, 0, victim]),
            controller: Controller::Ip(IpAddr::from([203, 0, 113, ctrl])),
            method: Method::Intel,
            confidence: 0.9,
            indicator: Some(IndicatorId(u32::from(ctrl))),
            ts,
            flows: 1,
            bytes: 100,
            rec: RecordRef { input: 0, line },
            explanation: None,
        }
    }

    #[test]
    fn accumulates_one_relationship() {
        let mut s = CensusState::new(2);
        s.add(&finding(1, 1, 5, 50));
        s.add(&finding(1, 1, 3, 10));
        s.add(&finding(1, 1, 9, 90));
        assert_eq!(s.len(), 1);
        let (_, r) = s.sorted()[0];
        assert_eq!(
            (r.first_seen, r.last_seen, r.flows(), r.bytes(), r.events()),
            (10, 90, 3, 300, 3)
        );
        let lines: Vec<u64> = r.evidence.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 5]);
    }

    #[test]
    fn methods_seeing_the_same_flows_are_not_summed() {
        let mut s = CensusState::new(5);
        for line in 1..=4 {
            s.add(&finding(1, 1, line, line as i64));
        }
        // A behavioural detector reports the same four flows in one summary finding.
        let mut b = finding(1, 1, 1, 1);
        b.method = Method::Beacon;
        b.confidence = 0.95;
        b.flows = 4;
        b.bytes = 400;
        s.add(&b);
        let (_, r) = s.sorted()[0];
        assert_eq!((r.flows(), r.bytes(), r.events()), (4, 400, 4));
        assert_eq!(r.method, Method::Beacon);
        assert!(r.methods.contains(Method::Intel) && r.methods.contains(Method::Beacon));
    }

    proptest! {
        /// Splitting findings into shards (by victim or arbitrarily) and merging gives the same state.
        #[test]
        fn merge_is_split_invariant(fs in prop::collection::vec((0u8..6, 0u8..4, 0u64..50, 0i64..1000), 0..60), split in 0usize..60) {
            let fs: Vec<Finding> = fs.into_iter().map(|(v, c, l, t)| finding(v, c, l, t)).collect();
            let mut whole = CensusState::new(3);
            fs.iter().for_each(|f| whole.add(f));
            let split = split.min(fs.len());
            let (mut a, mut b) = (CensusState::new(3), CensusState::new(3));
            fs[..split].iter().for_each(|f| a.add(f));
            fs[split..].iter().rev().for_each(|f| b.add(f));
            let (a2, b2) = (a.clone(), b.clone());
            b.merge(&a);
            let w: Vec<_> = whole.sorted().into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let m: Vec<_> = b.sorted().into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(&w, &m);
            // Consuming merges, either way round, give the same state.
            for (mut x, y) in [(a2.clone(), b2.clone()), (b2, a2)] {
                x.merge_from(y);
                let m: Vec<_> = x.sorted().into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                prop_assert_eq!(&w, &m);
            }
        }
    }
}
