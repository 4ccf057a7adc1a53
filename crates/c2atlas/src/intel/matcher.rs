//! Longest-prefix match over a static set of IP prefixes.
//!
//! # Why flattened ranges and not a trie
//! The indicator set is built once and then only read, per flow, for both
//! ends. Prefixes form a laminar family (two prefixes are either disjoint or
//! nested), so the whole set can be flattened into sorted, disjoint address
//! ranges, each labelled with the most specific prefix covering it: a nested
//! prefix splits its parent into up to three pieces. A lookup is then one
//! binary search over a dense array of integers (`u32` for IPv4, `u128` for
//! IPv6): no pointer chasing, no per-node allocation, a few cache lines per
//! query, where a trie touches one scattered node per bit or stride. For
//! IPv4 a 65,536-entry table indexed by the top 16 bits narrows the search to
//! the ranges starting in that /16 (usually a handful).
//!
//! # Invariants (after [`Ranges::build`])
//! - `starts` is strictly increasing; `starts[i] <= ends[i] < starts[i + 1]`.
//! - the label of range `i` is the payload of the longest input prefix that
//!   contains all of `starts[i]..=ends[i]`.

/// An address as an unsigned integer.
pub trait Key: Copy + Ord + std::fmt::Debug {
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

impl Key for u32 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Key for u128 {
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// Sorted disjoint ranges, each with a payload (an indicator id).
#[derive(Debug, Clone, Default)]
pub struct Ranges<K> {
    starts: Vec<K>,
    ends: Vec<K>,
    labels: Vec<u32>,
}

impl<K: Key> Ranges<K> {
    /// Builds from prefixes given as `(first, last, payload)`. The input must
    /// be laminar (true of CIDR prefixes) and hold each `(first, last)` once.
    pub fn build(mut prefixes: Vec<(K, K, u32)>) -> Self {
        // Outer prefixes first: ascending start, then descending end.
        prefixes.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut out = Ranges {
            starts: Vec::with_capacity(prefixes.len()),
            ends: Vec::with_capacity(prefixes.len()),
            labels: Vec::with_capacity(prefixes.len()),
        };
        // Stack of enclosing prefixes (end, payload); `cur` is the first
        // address not yet emitted (None once past the top of the space).
        let mut stack: Vec<(K, u32)> = Vec::new();
        let mut cur: Option<K> = None;
        for (s, e, p) in prefixes {
            while let Some(&(te, tp)) = stack.last() {
                if te >= s {
                    break;
                }
                if let Some(c) = cur
                    && c <= te
                {
                    out.push(c, te, tp);
                }
                cur = te.succ();
                stack.pop();
            }
            if let Some(&(_, tp)) = stack.last()
                && let Some(c) = cur
                && c < s
                && let Some(before) = s.pred()
            {
                out.push(c, before, tp);
            }
            cur = Some(s);
            stack.push((e, p));
        }
        while let Some((te, tp)) = stack.pop() {
            if let Some(c) = cur
                && c <= te
            {
                out.push(c, te, tp);
            }
            cur = te.succ();
        }
        out
    }

    fn push(&mut self, s: K, e: K, label: u32) {
        self.starts.push(s);
        self.ends.push(e);
        self.labels.push(label);
    }

    /// Label of the range containing `k`, searching only `lo..hi` for the
    /// last start `<= k`, falling back to range `lo - 1`.
    #[inline]
    fn lookup_in(&self, k: K, lo: usize, hi: usize) -> Option<u32> {
        let slice = self.starts.get(lo..hi)?;
        let i = slice.partition_point(|&s| s <= k);
        let j = if i > 0 {
            lo + i - 1
        } else {
            lo.checked_sub(1)?
        };
        match self.ends.get(j) {
            Some(&e) if k <= e => self.labels.get(j).copied(),
            _ => None,
        }
    }

    /// Label of the range containing `k`.
    #[inline]
    pub fn lookup(&self, k: K) -> Option<u32> {
        self.lookup_in(k, 0, self.starts.len())
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// IPv4 ranges with a first-level index on the top 16 bits.
#[derive(Debug, Clone, Default)]
pub struct V4Ranges {
    ranges: Ranges<u32>,
    /// `bucket[h]` = index of the first range whose start is `>= h << 16`;
    /// 65,537 entries (the last is `len`). Empty when there are no ranges.
    bucket: Vec<u32>,
    /// One bit per /24, set when some range holds an address of that /24
    /// (2 MiB, L2-resident): nearly every flow end is rejected by one bit
    /// test before the search. Empty when there are no ranges.
    covered: Vec<u64>,
    /// One bit per /16 with any bit of `covered` set (8 KiB, L1-resident):
    /// `covered` (2 MiB) does not fit a core's L2 here, so most ends are
    /// rejected before touching it. Empty when there are no ranges.
    top: Vec<u64>,
}

/// Words of the /24 bitmap (2^24 bits).
const COVERED_WORDS: usize = 1 << 18;

impl V4Ranges {
    pub fn build(prefixes: Vec<(u32, u32, u32)>) -> Self {
        let ranges = Ranges::build(prefixes);
        let mut bucket = Vec::new();
        if !ranges.is_empty() {
            bucket.reserve_exact(65_537);
            let mut i = 0usize;
            for h in 0u32..=65_536 {
                let floor = u64::from(h) << 16;
                while i < ranges.starts.len() && u64::from(ranges.starts[i]) < floor {
                    i += 1;
                }
                // Fewer than 2^32 ranges can exist (each is a distinct u32 start).
                bucket.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
        let mut covered = Vec::new();
        if !ranges.is_empty() {
            covered = vec![0u64; COVERED_WORDS];
            for (s, e) in ranges.starts.iter().zip(&ranges.ends) {
                for b in (s >> 8)..=(e >> 8) {
                    if let Some(w) = covered.get_mut((b >> 6) as usize) {
                        *w |= 1u64 << (b & 63);
                    }
                }
            }
        }
        let mut top = Vec::new();
        if !covered.is_empty() {
            top = vec![0u64; 1 << 10];
            // A /16 is 256 /24s = 4 words of `covered`.
            for (h, quad) in covered.chunks_exact(4).enumerate() {
                if quad.iter().any(|&w| w != 0)
                    && let Some(t) = top.get_mut(h >> 6)
                {
                    *t |= 1u64 << (h & 63);
                }
            }
        }
        V4Ranges {
            ranges,
            bucket,
            covered,
            top,
        }
    }

    #[inline]
    pub fn lookup(&self, k: u32) -> Option<u32> {
        let h16 = k >> 16;
        let t = *self.top.get((h16 >> 6) as usize)?;
        if t & (1u64 << (h16 & 63)) == 0 {
            return None;
        }
        let b = k >> 8;
        let w = *self.covered.get((b >> 6) as usize)?;
        if w & (1u64 << (b & 63)) == 0 {
            return None;
        }
        let h = (k >> 16) as usize;
        let lo = *self.bucket.get(h)? as usize;
        let hi = *self.bucket.get(h + 1)? as usize;
        self.ranges.lookup_in(k, lo, hi)
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The /24 bitmap: bit `b` of word `w` set when some range holds an
    /// address of the /24 `w * 64 + b` (2^18 words; empty when there are no ranges).
    pub fn covered(&self) -> &[u64] {
        &self.covered
    }
}

/// First and last address of an IPv4 prefix as integers.
pub fn v4_bounds(addr: u32, len: u8) -> (u32, u32) {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    };
    (addr & mask, (addr & mask) | !mask)
}

/// First and last address of an IPv6 prefix as integers.
pub fn v6_bounds(addr: u128, len: u8) -> (u128, u128) {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    };
    (addr & mask, (addr & mask) | !mask)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Naive reference: the longest prefix containing `k`, ties impossible
    /// because each (addr, len) appears once.
    fn naive<K: Key>(prefixes: &[(K, K, u32, u8)], k: K) -> Option<u32> {
        prefixes
            .iter()
            .filter(|p| p.0 <= k && k <= p.1)
            .max_by_key(|p| p.3)
            .map(|p| p.2)
    }

    fn v4_set(raw: Vec<(u32, u8)>) -> Vec<(u32, u32, u32, u8)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (a, l) in raw {
            let (s, e) = v4_bounds(a, l);
            if seen.insert((s, e)) {
                out.push((s, e, out.len() as u32, l));
            }
        }
        out
    }

    fn v6_set(raw: Vec<(u128, u8)>) -> Vec<(u128, u128, u32, u8)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (a, l) in raw {
            let (s, e) = v6_bounds(a, l);
            if seen.insert((s, e)) {
                out.push((s, e, out.len() as u32, l));
            }
        }
        out
    }

    /// Addresses concentrated in a small region so prefixes nest often.
    fn v4_addr() -> impl Strategy<Value = u32> {
        prop_oneof![
            any::<u32>(),
            (0u32..4096).prop_map(|x| 0x0A00_0000 | (x << 4)),
            Just(0),
            Just(u32::MAX)
        ]
    }

    fn v6_addr() -> impl Strategy<Value = u128> {
        prop_oneof![
            any::<u128>(),
            (0u128..4096).prop_map(|x| (0x2001_0db8u128 << 96) | (x << 80)),
            Just(0),
            Just(u128::MAX)
        ]
    }

    proptest! {
        #[test]
        fn v4_lpm_equals_naive(
            raw in proptest::collection::vec((v4_addr(), 0u8..=32), 0..60),
            probes in proptest::collection::vec(v4_addr(), 1..60),
        ) {
            let set = v4_set(raw);
            let built = V4Ranges::build(set.iter().map(|p| (p.0, p.1, p.2)).collect());
            let plain = Ranges::build(set.iter().map(|p| (p.0, p.1, p.2)).collect());
            // Probe the given addresses and every prefix edge and its neighbours.
            let mut all = probes;
            for p in &set {
                all.extend([p.0, p.1, p.0.wrapping_sub(1), p.1.wrapping_add(1)]);
            }
            for k in all {
                prop_assert_eq!(built.lookup(k), naive(&set, k), "addr {:#x}", k);
                prop_assert_eq!(plain.lookup(k), naive(&set, k), "addr {:#x}", k);
            }
        }

        #[test]
        fn v6_lpm_equals_naive(
            raw in proptest::collection::vec((v6_addr(), 0u8..=128), 0..60),
            probes in proptest::collection::vec(v6_addr(), 1..60),
        ) {
            let set = v6_set(raw);
            let built = Ranges::build(set.iter().map(|p| (p.0, p.1, p.2)).collect());
            let mut all = probes;
            for p in &set {
                all.extend([p.0, p.1, p.0.wrapping_sub(1), p.1.wrapping_add(1)]);
            }
            for k in all {
                prop_assert_eq!(built.lookup(k), naive(&set, k), "addr {:#x}", k);
            }
        }
    }

    #[test]
    fn nested_split_into_pieces() {
        // 10.0.0.0/8 (0) containing 10.1.0.0/16 (1) containing 10.1.2.3/32 (2).
        let p = vec![
            (0x0A00_0000, 0x0AFF_FFFF, 0),
            (0x0A01_0000, 0x0A01_FFFF, 1),
            (0x0A01_0203, 0x0A01_0203, 2),
        ];
        let r = V4Ranges::build(p);
        assert_eq!(r.len(), 5);
        assert_eq!(r.lookup(0x0A00_0001), Some(0));
        assert_eq!(r.lookup(0x0A01_0202), Some(1));
        assert_eq!(r.lookup(0x0A01_0203), Some(2));
        assert_eq!(r.lookup(0x0A01_0204), Some(1));
        assert_eq!(r.lookup(0x0A02_0000), Some(0));
        assert_eq!(r.lookup(0x0B00_0000), None);
        assert_eq!(r.lookup(0x09FF_FFFF), None);
    }

    #[test]
    fn whole_space() {
        let r = Ranges::<u128>::build(vec![(0, u128::MAX, 7), (5, 5, 8)]);
        assert_eq!(r.lookup(u128::MAX), Some(7));
        assert_eq!(r.lookup(5), Some(8));
        assert_eq!(r.lookup(6), Some(7));
        assert_eq!(V4Ranges::build(vec![]).lookup(1), None);
    }
}
