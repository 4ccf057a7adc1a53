//! The pair store of the beacon detector ([`PairTable`]) and its batched feed.
//!
//! A table is a hash index of small [`Slot`]s into a dense vector of
//! (key, sketch) entries (the layout of `indexmap`). Fed one contact at a
//! time over a million pairs, each contact costs two cache misses in random
//! order: the index slot, then the entry. A *batched* table instead buffers
//! up to `batch` contacts and applies them together ([`PairTable::flush`]):
//!
//! 1. the buffered contacts are radix-sorted by their index position (the low
//!    bits of their hash), so the index is probed in ascending order;
//! 2. contacts of pairs not in the table are taken in arrival order: the
//!    first creates the pair (while the table holds fewer than `max` pairs,
//!    exactly as one-at-a-time feeding would decide), the rest join it;
//! 3. the contacts are radix-sorted (stably) by entry, and each entry's run is
//!    applied in arrival order, walking the entries in ascending order.
//!
//! Pairs are independent and each pair sees its contacts in arrival order,
//! so the sketches are those of one-at-a-time feeding (tested against it in
//! `tests::batched_equals_unbatched`). Slots carry the full 64-bit hash, so a
//! probe compares keys only on a hash match and no probe reads an entry; the
//! key is checked when the entry is updated (step 3), in entry order. A
//! contact whose hash matched a different pair (a 64-bit hash collision) is
//! then looked up again by key; should that pair be new (two keys of one
//! 64-bit hash, one in the table), it is added at that point, i.e. after the
//! batch's other new pairs, which matters only when the table is full.
//!
//! Memory: the index (12 bytes per slot plus a control byte), the entries,
//! and per buffered contact 92 bytes of buffers (for (address, address) keys:
//! the 64-byte contact, its hash, its tentative entry and two sort words),
//! reused from batch to batch and counted by [`PairTable::heap_bytes`].

use super::PairSketch;
use crate::model::{Micros, RecordRef};

pub(super) type Hasher = foldhash::fast::FixedState;

/// Contacts buffered by the (host, address) table by default: 2^16, ≈ 6 MB
/// of buffers (92 bytes each). Larger batches were measured no faster
/// (`examples/bench_beacon.rs`: 2^16, 2^18 and 2^20 within 5 % at a million
/// pairs): once sorted, applying a batch is bound by the sketch updates.
pub const DEFAULT_BATCH: usize = 1 << 16;

/// An index slot: the entry and the full hash of its key (so growing the
/// index and most mismatching probes never read an entry).
#[derive(Clone, Copy)]
struct Slot {
    lo: u32,
    hi: u32,
    entry: u32,
}

impl Slot {
    fn hash(&self) -> u64 {
        u64::from(self.hi) << 32 | u64::from(self.lo)
    }
}

/// A buffered contact.
#[derive(Clone, Copy)]
struct Pending<K> {
    ts: Micros,
    bytes: u64,
    line: u64,
    input: u32,
    key: K,
}

/// Marks in `slots`: no tentative entry (the pair was not in the index), and
/// already applied (a new pair's first contact) or untracked.
const ABSENT: u32 = u32::MAX;
const DONE: u32 = u32::MAX - 1;
/// Entries are numbered below the marks.
const MAX_ENTRIES: usize = DONE as usize;

/// Pair → sketch store (see the module docs). Invariants: every slot's
/// `entry` indexes `entries`, its hash is the hash of that entry's key, and
/// no two entries share a key; `pending` is empty unless the table is
/// batched, and holds fewer than `batch` contacts between calls.
pub(super) struct PairTable<K> {
    index: hashbrown::HashTable<Slot>,
    entries: Vec<(K, PairSketch)>,
    hasher: Hasher,
    /// Contacts buffered before they are applied; 0: applied at once.
    batch: usize,
    pending: Vec<Pending<K>>,
    hashes: Vec<u64>,
    slots: Vec<u32>,
    order: Vec<u64>,
    scratch: Vec<u64>,
}

impl<K: std::hash::Hash + Eq + Copy> PairTable<K> {
    /// A table applying each contact at once (`batch` 0) or buffering up to
    /// `batch` contacts.
    pub(super) fn new(batch: usize) -> Self {
        PairTable {
            index: hashbrown::HashTable::new(),
            entries: Vec::new(),
            hasher: Hasher::default(),
            batch,
            pending: Vec::new(),
            hashes: Vec::new(),
            slots: Vec::new(),
            order: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Pairs tracked (contacts still buffered excluded: see [`Self::flush`]).
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    fn hash(&self, k: &K) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, k)
    }

    fn find(&self, h: u64, k: &K) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(h, |s| {
                s.hash() == h
                    && entries
                        .get(s.entry as usize)
                        .is_some_and(|(key, _)| key == k)
            })
            .map(|s| s.entry as usize)
    }

    /// The sketch of `k`. Buffered contacts are not in it: flush first.
    pub(super) fn get(&self, k: &K) -> Option<&PairSketch> {
        debug_assert!(self.pending.is_empty(), "get before flush");
        let i = self.find(self.hash(k), k)?;
        self.entries.get(i).map(|(_, s)| s)
    }

    /// Adds a new pair when the table holds fewer than `max` pairs.
    fn insert(&mut self, h: u64, k: K, sketch: PairSketch, max: usize) -> Option<u32> {
        let n = self.entries.len();
        if n >= max || n >= MAX_ENTRIES {
            return None;
        }
        let entry = u32::try_from(n).ok()?;
        self.entries.push((k, sketch));
        self.index.insert_unique(
            h,
            Slot {
                lo: h as u32,
                hi: (h >> 32) as u32,
                entry,
            },
            Slot::hash,
        );
        Some(entry)
    }

    /// Adds a contact (flow or request) to the pair's sketch, creating it
    /// when the table holds fewer than `max` pairs. Returns how many
    /// contacts were left untracked (new pairs while the table was full) by
    /// this call: this contact, or, when it fills the batch, the batch's.
    pub(super) fn add(
        &mut self,
        k: K,
        max: usize,
        ts: Micros,
        bytes: u64,
        rec: RecordRef,
        gap: Micros,
    ) -> u64 {
        let h = self.hash(&k);
        if self.batch == 0 {
            if let Some(i) = self.find(h, &k) {
                if let Some((_, s)) = self.entries.get_mut(i) {
                    s.add(ts, bytes, rec, gap);
                }
                return 0;
            }
            return u64::from(
                self.insert(h, k, PairSketch::new(ts, bytes, rec), max)
                    .is_none(),
            );
        }
        self.pending.push(Pending {
            ts,
            bytes,
            line: rec.line,
            input: rec.input,
            key: k,
        });
        self.hashes.push(h);
        if self.pending.len() >= self.batch {
            self.flush(max, gap)
        } else {
            0
        }
    }

    /// Applies the buffered contacts (see the module docs); returns how many
    /// were left untracked.
    pub(super) fn flush(&mut self, max: usize, gap: Micros) -> u64 {
        let n = self.pending.len();
        if n == 0 {
            return 0;
        }
        // 1. Probe the index in the order of its buckets.
        let buckets = if self.index.capacity() == 0 {
            1
        } else {
            (self.index.capacity() * 8 / 7).next_power_of_two() as u64
        };
        let mask = buckets - 1;
        let pos_bits = 64 - mask.leading_zeros();
        self.order.clear();
        self.order.extend(
            self.hashes
                .iter()
                .enumerate()
                .map(|(i, &h)| ((h & mask) << 32) | i as u64),
        );
        radix_sort(&mut self.order, &mut self.scratch, pos_bits);
        self.slots.clear();
        self.slots.resize(n, ABSENT);
        for &o in &self.order {
            let i = (o & 0xffff_ffff) as usize;
            let (Some(&h), Some(slot)) = (self.hashes.get(i), self.slots.get_mut(i)) else {
                continue;
            };
            if let Some(s) = self.index.find(h, |s| s.hash() == h) {
                *slot = s.entry;
            }
        }
        // 2. New pairs, in arrival order.
        let mut untracked = 0;
        for i in 0..n {
            if self.slots.get(i) != Some(&ABSENT) {
                continue;
            }
            let (Some(p), Some(&h)) = (self.pending.get(i).copied(), self.hashes.get(i)) else {
                continue;
            };
            let mark = if let Some(e) = self.find(h, &p.key) {
                e as u32
            } else {
                let rec = RecordRef {
                    input: p.input,
                    line: p.line,
                };
                if self
                    .insert(h, p.key, PairSketch::new(p.ts, p.bytes, rec), max)
                    .is_none()
                {
                    untracked += 1;
                }
                DONE
            };
            if let Some(s) = self.slots.get_mut(i) {
                *s = mark;
            }
        }
        // 3. Runs per entry, in entry order, each in arrival order.
        self.order.clear();
        self.order.extend(
            self.slots
                .iter()
                .enumerate()
                .filter(|&(_, &s)| s < DONE)
                .map(|(i, &s)| (u64::from(s) << 32) | i as u64),
        );
        let entry_bits = 64 - (self.entries.len() as u64).leading_zeros();
        radix_sort(&mut self.order, &mut self.scratch, entry_bits);
        for k in 0..self.order.len() {
            let Some(&o) = self.order.get(k) else { break };
            let (e, i) = ((o >> 32) as usize, (o & 0xffff_ffff) as usize);
            let Some(p) = self.pending.get(i).copied() else {
                continue;
            };
            let rec = RecordRef {
                input: p.input,
                line: p.line,
            };
            match self.entries.get_mut(e) {
                Some((key, s)) if *key == p.key => s.add(p.ts, p.bytes, rec, gap),
                _ => {
                    // A 64-bit hash shared with another pair.
                    let h = self
                        .hashes
                        .get(i)
                        .copied()
                        .unwrap_or_else(|| self.hash(&p.key));
                    if let Some(e) = self.find(h, &p.key) {
                        if let Some((_, s)) = self.entries.get_mut(e) {
                            s.add(p.ts, p.bytes, rec, gap);
                        }
                    } else if self
                        .insert(h, p.key, PairSketch::new(p.ts, p.bytes, rec), max)
                        .is_none()
                    {
                        untracked += 1;
                    }
                }
            }
        }
        self.pending.clear();
        self.hashes.clear();
        untracked
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&K, &PairSketch)> {
        debug_assert!(self.pending.is_empty(), "iter before flush");
        self.entries.iter().map(|(k, s)| (k, s))
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Heap bytes held: the index (a power-of-two bucket count, 7/8 usable,
    /// a slot and a control byte each), the entries' capacity and the batch
    /// buffers' capacity.
    pub(super) fn heap_bytes(&self) -> usize {
        let buckets = if self.index.capacity() == 0 {
            0
        } else {
            (self.index.capacity() * 8 / 7).next_power_of_two()
        };
        buckets * (std::mem::size_of::<Slot>() + 1)
            + self.entries.capacity() * std::mem::size_of::<(K, PairSketch)>()
            + self.pending.capacity() * std::mem::size_of::<Pending<K>>()
            + self.hashes.capacity() * 8
            + self.slots.capacity() * 4
            + (self.order.capacity() + self.scratch.capacity()) * 8
    }
}

/// Stable LSD radix sort of `v` by bits `32..32 + bits` of its words (the
/// low 32 bits ride along), 11 bits per pass; `tmp` is scratch.
fn radix_sort(v: &mut Vec<u64>, tmp: &mut Vec<u64>, bits: u32) {
    const DIGIT: u32 = 11;
    let mut shift = 32;
    let end = 32 + bits.min(32);
    while shift < end {
        let width = DIGIT.min(end - shift);
        let mask = (1u64 << width) - 1;
        let mut count = [0usize; 1 << DIGIT];
        for &x in v.iter() {
            if let Some(c) = count.get_mut(((x >> shift) & mask) as usize) {
                *c += 1;
            }
        }
        let mut sum = 0;
        for c in count.iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        tmp.clear();
        tmp.resize(v.len(), 0);
        for &x in v.iter() {
            if let Some(c) = count.get_mut(((x >> shift) & mask) as usize) {
                if let Some(t) = tmp.get_mut(*c) {
                    *t = x;
                }
                *c += 1;
            }
        }
        std::mem::swap(v, tmp);
        shift += width;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_is_a_stable_sort_by_the_high_word() {
        let mut seed = 9u64;
        let mut v: Vec<u64> = (0..10_000u64)
            .map(|i| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((seed >> 40) % 5000) << 32 | i
            })
            .collect();
        let mut want = v.clone();
        want.sort_by_key(|x| x >> 32); // stable
        let mut tmp = Vec::new();
        radix_sort(&mut v, &mut tmp, 13);
        assert_eq!(v, want);
    }
}
