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
//!
//! Layout (national scale: ~15 M relationships must fit in a few GiB): the
//! relationships sit in one arena (`Vec<Entry>`) indexed by a hash table of
//! `u32` positions; controllers are interned (`u32`), IPv4 victims are their
//! own 32-bit id and IPv6 victims are interned; per-method counts and the first
//! evidence references are inline ([`SmallVec`]), so the common relationship
//! (one method, few records) needs no heap allocation of its own.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use hashbrown::HashTable;
use smallvec::SmallVec;

use crate::detect::{Controller, Finding, Method, MethodSet};
use crate::intel::IndicatorId;
use crate::model::{Micros, RecordRef};

/// Evidence references kept inline in a relationship (more spill to the heap).
pub const INLINE_EVIDENCE: usize = 2;

/// Per-method counts of a relationship (inline for the common single method).
pub type Counts = SmallVec<[MethodCounts; 1]>;
/// Evidence references of a relationship (sorted, at most the state's cap).
pub type Evidence = SmallVec<[RecordRef; INLINE_EVIDENCE]>;

/// Entries moved out of a consumed state between two releases of its unused
/// memory ([`CensusState::merge_from`]): bounds the memory both states hold at once.
const DRAIN_SHRINK_EVERY: usize = 1 << 20;

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
    pub counts: Counts,
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
    pub evidence: Evidence,
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

    fn from_finding(f: &Finding, cap: usize) -> RelState {
        let mut evidence = Evidence::new();
        if cap > 0 {
            evidence.push(f.rec);
        }
        RelState {
            first_seen: f.ts,
            last_seen: f.ts,
            counts: smallvec::smallvec![MethodCounts {
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
            evidence,
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
fn insert_evidence(a: &mut Evidence, r: RecordRef, cap: usize) {
    if cap == 0 || (a.len() >= cap && a.last().is_some_and(|l| *l <= r)) {
        return;
    }
    let Err(i) = a.binary_search(&r) else {
        return;
    };
    if a.len() >= cap {
        // `r` is below the last one, which falls out.
        a.pop();
    } else if a.len() == a.capacity() {
        // Grow by doubling but never past `cap` (smallvec would round up to a
        // power of two: 32 slots for a cap of 20).
        a.reserve_exact((a.len() * 2).min(cap) - a.len());
    }
    a.insert(i.min(a.len()), r);
}

/// Merges sorted `b` into sorted `a`, deduplicated, keeping the `cap` smallest.
fn merge_evidence(a: &mut Evidence, b: &[RecordRef], cap: usize) {
    if b.len() == 1 && a.len() >= cap && a.last().is_some_and(|l| *l <= b[0]) {
        return; // fast path: the common case once a relationship is full
    }
    let mut merged = Evidence::with_capacity((a.len() + b.len()).min(cap));
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

/// One relationship in the arena: its interned key and its figures.
#[derive(Clone, Debug)]
struct Entry {
    /// IPv4 victims: the address; IPv6 victims: `V6_TAG | index into `v6``.
    victim: u64,
    /// Index into `controllers`.
    ctrl: u32,
    state: RelState,
}

/// Tag of an interned IPv6 victim id (IPv4 ids are below 2^32).
const V6_TAG: u64 = 1 << 32;

/// All relationships of a run (or of a shard of one).
#[derive(Clone, Debug)]
pub struct CensusState {
    cap: usize,
    /// Seeded hasher: keys come from attacker-controlled traffic; output is sorted anyway.
    hasher: foldhash::fast::RandomState,
    controllers: Vec<Controller>,
    controller_ids: HashMap<Controller, u32, foldhash::fast::RandomState>,
    v6: Vec<Ipv6Addr>,
    v6_ids: HashMap<Ipv6Addr, u32, foldhash::fast::RandomState>,
    entries: Vec<Entry>,
    /// Positions in `entries`, hashed by (victim, ctrl).
    table: HashTable<u32>,
}

impl Default for CensusState {
    fn default() -> Self {
        CensusState::new(DEFAULT_EVIDENCE_CAP)
    }
}

impl CensusState {
    /// `cap`: evidence records kept per relationship (0: none, when no output
    /// shows evidence).
    pub fn new(cap: usize) -> CensusState {
        CensusState {
            cap,
            hasher: foldhash::fast::RandomState::default(),
            controllers: Vec::new(),
            controller_ids: HashMap::default(),
            v6: Vec::new(),
            v6_ids: HashMap::default(),
            entries: Vec::new(),
            table: HashTable::new(),
        }
    }

    fn hash(&self, victim: u64, ctrl: u32) -> u64 {
        self.hasher.hash_one((victim, ctrl))
    }

    fn victim_id(&mut self, ip: IpAddr) -> u64 {
        match ip {
            IpAddr::V4(a) => u64::from(u32::from(a)),
            IpAddr::V6(a) => {
                let next = u32::try_from(self.v6.len()).unwrap_or(u32::MAX);
                let id = *self.v6_ids.entry(a).or_insert_with(|| {
                    self.v6.push(a);
                    next
                });
                V6_TAG | u64::from(id)
            }
        }
    }

    fn victim_ip(&self, id: u64) -> IpAddr {
        if id & V6_TAG == 0 {
            IpAddr::from(std::net::Ipv4Addr::from(id as u32))
        } else {
            let i = (id & !V6_TAG) as usize;
            IpAddr::V6(self.v6.get(i).copied().unwrap_or(Ipv6Addr::UNSPECIFIED))
        }
    }

    fn ctrl_id(&mut self, c: &Controller) -> u32 {
        if let Some(&id) = self.controller_ids.get(c) {
            return id;
        }
        let id = u32::try_from(self.controllers.len()).unwrap_or(u32::MAX);
        self.controllers.push(c.clone());
        self.controller_ids.insert(c.clone(), id);
        id
    }

    /// Position of (victim, ctrl) in the arena.
    fn find(&self, victim: u64, ctrl: u32) -> Option<usize> {
        let h = self.hash(victim, ctrl);
        let entries = &self.entries;
        self.table
            .find(h, |&i| {
                entries
                    .get(i as usize)
                    .is_some_and(|e| e.victim == victim && e.ctrl == ctrl)
            })
            .map(|&i| i as usize)
    }

    fn insert_new(&mut self, victim: u64, ctrl: u32, state: RelState) {
        let i = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.push(Entry {
            victim,
            ctrl,
            state,
        });
        let h = self.hash(victim, ctrl);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.table.insert_unique(h, i, |&j| {
            let e = &entries[j as usize];
            hasher.hash_one((e.victim, e.ctrl))
        });
    }

    pub fn add(&mut self, f: &Finding) {
        let victim = self.victim_id(f.victim);
        let ctrl = self.ctrl_id(&f.controller);
        let cap = self.cap;
        match self.find(victim, ctrl) {
            Some(i) => self.entries[i].state.absorb_finding(f, cap),
            None => self.insert_new(victim, ctrl, RelState::from_finding(f, cap)),
        }
    }

    /// Adds `st` under (victim, controller), merged into an existing entry by the
    /// [`CensusState::merge`] rules.
    fn put(&mut self, victim: IpAddr, controller: &Controller, mut st: RelState) {
        let v = self.victim_id(victim);
        let c = self.ctrl_id(controller);
        let cap = self.cap;
        match self.find(v, c) {
            Some(i) => self.entries[i].state.absorb(&st, cap),
            None => {
                st.evidence.truncate(cap);
                self.insert_new(v, c, st);
            }
        }
    }

    /// Merges another state (e.g. another shard's, or another time slice's).
    pub fn merge(&mut self, other: &CensusState) {
        for e in &other.entries {
            let victim = other.victim_ip(e.victim);
            let ctrl = &other.controllers[e.ctrl as usize];
            self.put(victim, ctrl, e.state.clone());
        }
    }

    /// [`CensusState::merge`] consuming `other`: entries move instead of being
    /// cloned, the larger state is kept, and the consumed one releases its
    /// memory as it is drained, so that merging the states of parallel readers
    /// never holds a relationship twice.
    pub fn merge_from(&mut self, mut other: CensusState) {
        if other.cap == self.cap && other.entries.len() > self.entries.len() {
            std::mem::swap(self, &mut other);
        }
        other.table = HashTable::new();
        let mut moved = 0usize;
        while let Some(e) = other.entries.pop() {
            let victim = other.victim_ip(e.victim);
            let ctrl = other.controllers[e.ctrl as usize].clone();
            self.put(victim, &ctrl, e.state);
            moved += 1;
            if moved.is_multiple_of(DRAIN_SHRINK_EVERY) {
                other.entries.shrink_to_fit();
            }
        }
    }

    /// Splits the state into `n` states by victim (`lane(victim)` < `n`; out
    /// of range goes to the last), releasing its memory as it is drained.
    pub fn split(mut self, n: usize, lane: impl Fn(IpAddr) -> usize) -> Vec<CensusState> {
        let n = n.max(1);
        let mut parts: Vec<CensusState> = (0..n).map(|_| CensusState::new(self.cap)).collect();
        self.table = HashTable::new();
        let mut moved = 0usize;
        while let Some(e) = self.entries.pop() {
            let victim = self.victim_ip(e.victim);
            let ctrl = self.controllers[e.ctrl as usize].clone();
            let i = lane(victim).min(n - 1);
            parts[i].put(victim, &ctrl, e.state);
            moved += 1;
            if moved.is_multiple_of(DRAIN_SHRINK_EVERY) {
                self.entries.shrink_to_fit();
            }
        }
        parts
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds a relationship read back from a saved state (merged into an
    /// existing one by the [`CensusState::merge`] rules).
    pub fn restore(&mut self, key: RelKey, st: RelState) {
        self.put(key.victim, &key.controller, st);
    }

    /// Evidence records kept per relationship.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Distinct victims (hosts with at least one relationship).
    pub fn victims(&self) -> usize {
        let mut ids: Vec<u64> = self.entries.iter().map(|e| e.victim).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// Bytes the state holds (arena, table, interned keys, spilled counts and
    /// evidence), excluding allocator overhead: what `census` reports per relationship.
    pub fn heap_bytes(&self) -> usize {
        let spilled: usize = self
            .entries
            .iter()
            .map(|e| {
                let c = if e.state.counts.spilled() {
                    e.state.counts.capacity() * size_of::<MethodCounts>()
                } else {
                    0
                };
                let v = if e.state.evidence.spilled() {
                    e.state.evidence.capacity() * size_of::<RecordRef>()
                } else {
                    0
                };
                c + v
            })
            .sum();
        self.entries.capacity() * size_of::<Entry>()
            + self.table.capacity() * (size_of::<u32>() + 1)
            + self.controllers.capacity() * (size_of::<Controller>() * 2 + 4)
            + self.v6.capacity() * (size_of::<Ipv6Addr>() * 2 + 4)
            + spilled
    }

    /// Drops name-only relationships (a C2 name queried without an address
    /// answer, e.g. an AAAA query) when the same victim also has a relationship
    /// with an address through the same indicator: the controller is then known
    /// by its address, and counting the name as well would count it twice.
    /// Per victim, so it commutes with sharding by victim. Returns how many were dropped.
    /// Memory: proportional to the name-only relationships (few), not to all.
    pub fn drop_resolved_names(&mut self) -> usize {
        let is_name = |s: &CensusState, e: &Entry| {
            matches!(s.controllers[e.ctrl as usize], Controller::Name(_))
        };
        let names: std::collections::HashSet<(u64, IndicatorId)> = self
            .entries
            .iter()
            .filter(|e| is_name(self, e))
            .filter_map(|e| e.state.indicator.map(|i| (e.victim, i)))
            .collect();
        if names.is_empty() {
            return 0;
        }
        let resolved: std::collections::HashSet<(u64, IndicatorId)> = self
            .entries
            .iter()
            .filter(|e| !is_name(self, e))
            .filter_map(|e| e.state.indicator.map(|i| (e.victim, i)))
            .filter(|k| names.contains(k))
            .collect();
        let before = self.entries.len();
        let mut i = 0;
        while i < self.entries.len() {
            let e = &self.entries[i];
            if is_name(self, e)
                && e.state
                    .indicator
                    .is_some_and(|ind| resolved.contains(&(e.victim, ind)))
            {
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
        before - self.entries.len()
    }

    /// Removes the entry at `i` (the last entry takes its place).
    fn remove_at(&mut self, i: usize) {
        let (v, c) = (self.entries[i].victim, self.entries[i].ctrl);
        let h = self.hash(v, c);
        let i32_ = u32::try_from(i).unwrap_or(u32::MAX);
        if let Ok(slot) = self.table.find_entry(h, |&j| j == i32_) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        self.entries.swap_remove(i);
        if i != last {
            let (v, c) = (self.entries[i].victim, self.entries[i].ctrl);
            let h = self.hash(v, c);
            let last32 = u32::try_from(last).unwrap_or(u32::MAX);
            if let Some(slot) = self.table.find_mut(h, |&j| j == last32) {
                *slot = i32_;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Arena positions in key order (victim, then controller), computed on
    /// compact 64-bit sort keys (no key is cloned).
    fn order(&self) -> Vec<u32> {
        // Controller ranks in `Controller` order.
        let mut by_ctrl: Vec<u32> = (0..self.controllers.len() as u32).collect();
        by_ctrl.sort_unstable_by(|&a, &b| {
            self.controllers[a as usize].cmp(&self.controllers[b as usize])
        });
        let mut ctrl_rank = vec![0u32; self.controllers.len()];
        for (r, &c) in by_ctrl.iter().enumerate() {
            ctrl_rank[c as usize] = r as u32;
        }
        // IPv6 victims after every IPv4 one (`IpAddr` order), ranked by address.
        let mut by_v6: Vec<u32> = (0..self.v6.len() as u32).collect();
        by_v6.sort_unstable_by_key(|&i| self.v6[i as usize]);
        let mut v6_rank = vec![0u64; self.v6.len()];
        for (r, &i) in by_v6.iter().enumerate() {
            v6_rank[i as usize] = r as u64;
        }
        let victim_rank = |id: u64| -> u64 {
            if id & V6_TAG == 0 {
                id
            } else {
                V6_TAG + v6_rank[(id & !V6_TAG) as usize]
            }
        };
        // (victim rank, controller rank) packed in 64 bits when they fit,
        // which is the case unless there are 2^31 controllers or IPv6 victims.
        let fits = self.controllers.len() < (1 << 30) && self.v6.len() < (1 << 30);
        if fits {
            let mut keys: Vec<(u64, u32)> = self
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    (
                        (victim_rank(e.victim) << 30) | u64::from(ctrl_rank[e.ctrl as usize]),
                        i as u32,
                    )
                })
                .collect();
            keys.sort_unstable();
            keys.into_iter().map(|(_, i)| i).collect()
        } else {
            let mut idx: Vec<u32> = (0..self.entries.len() as u32).collect();
            idx.sort_unstable_by_key(|&i| {
                let e = &self.entries[i as usize];
                (victim_rank(e.victim), ctrl_rank[e.ctrl as usize])
            });
            idx
        }
    }

    /// Relationships in key order (deterministic), without copying them:
    /// the key is built on the fly (a controller name is shared, not copied).
    pub fn iter_sorted(&self) -> impl Iterator<Item = (RelKey, &RelState)> + '_ {
        self.order().into_iter().map(move |i| {
            let e = &self.entries[i as usize];
            (
                RelKey {
                    victim: self.victim_ip(e.victim),
                    controller: self.controllers[e.ctrl as usize].clone(),
                },
                &e.state,
            )
        })
    }

    /// Relationships sorted by key (deterministic).
    pub fn sorted(&self) -> Vec<(RelKey, &RelState)> {
        self.iter_sorted().collect()
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
        let (_, r) = &s.sorted()[0];
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
        let (_, r) = &s.sorted()[0];
        assert_eq!((r.flows(), r.bytes(), r.events()), (4, 400, 4));
        assert_eq!(r.method, Method::Beacon);
        assert!(r.methods.contains(Method::Intel) && r.methods.contains(Method::Beacon));
    }

    fn mixed(v: u8, c: u8, line: u64) -> Finding {
        let mut f = finding(v, c, line, line as i64);
        if v.is_multiple_of(4) {
            f.victim = IpAddr::from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, v]);
        }
        if v.is_multiple_of(3) {
            f.victim = IpAddr::from([192, 168, v, 1]);
        }
        if c.is_multiple_of(5) {
            f.controller = Controller::Name(Arc::from(format!("c{c}.example")));
        }
        f
    }

    proptest! {
        /// Key order is `RelKey` order (IPv4 before IPv6, addresses before
        /// names); splitting into lanes and joining them gives the same state;
        /// evidence never exceeds the cap (0: none).
        #[test]
        fn order_split_and_cap(
            fs in prop::collection::vec((0u8..24, 0u8..12, 0u64..40), 0..120),
            n in 1usize..5,
            cap in 0usize..4,
        ) {
            let fs: Vec<Finding> = fs.into_iter().map(|(v, c, l)| mixed(v, c, l)).collect();
            let mut whole = CensusState::new(cap);
            fs.iter().for_each(|f| whole.add(f));
            let sorted = whole.sorted();
            prop_assert!(sorted.windows(2).all(|w| w[0].0 < w[1].0));
            let distinct: std::collections::BTreeSet<RelKey> = fs.iter().map(|f| RelKey { victim: f.victim, controller: f.controller.clone() }).collect();
            prop_assert_eq!(sorted.len(), distinct.len());
            prop_assert!(sorted.iter().all(|(_, s)| s.evidence.len() <= cap));
            let w: Vec<_> = sorted.iter().map(|(k, v)| (k.clone(), (*v).clone())).collect();
            let mut joined = CensusState::new(cap);
            for part in whole.clone().split(n, |ip| usize::from(ip.is_ipv6()) + (match ip { IpAddr::V4(a) => usize::from(a.octets()[3]), IpAddr::V6(a) => usize::from(a.octets()[15]) })) {
                joined.merge_from(part);
            }
            let j: Vec<_> = joined.sorted().into_iter().map(|(k, v)| (k, v.clone())).collect();
            prop_assert_eq!(&w, &j);
            prop_assert_eq!(whole.victims(), distinct.iter().map(|k| k.victim).collect::<std::collections::BTreeSet<_>>().len());
        }
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
