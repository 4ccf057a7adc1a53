//! The flow gate: the lean path of the IOC census.
//!
//! Nearly every flow of a national day touches no indicator. A [`FlowGate`]
//! is a conservative test on a flow's two IPv4 addresses, built by the
//! detectors of a run (see `Detector::flow_gate`): one bit per IPv4 /24, set
//! for every /24 in which some address could make a flow yield a finding.
//! Invariant: when neither end of an IPv4 flow has its bit set, no detector
//! of the run would produce anything for that flow, so a binary reader
//! (IPFIX, nfcapd) that sees both bits clear decodes only what the run's
//! counters need (the record itself and its start time, for the period) and
//! reports the record through [`Sink::gated`](super::Sink::gated) instead of
//! building an event. Records with an IPv6 end always take the full path.
//!
//! The gate changes no output: records, period and findings are those of the
//! ungated run (tested in `tests/it` by comparing census documents).

use std::sync::Arc;

use crate::model::Micros;

/// Words of a /24 bitmap: 2^24 bits.
pub const GATE_WORDS: usize = 1 << 18;

/// Words of the /16 summary: 2^16 bits.
const TOP_WORDS: usize = 1 << 10;

/// The bitmaps of a gate.
#[derive(Debug)]
struct Bits {
    /// One bit per /16, set when any of its /24s is set (8 KiB, L1-resident:
    /// the 2 MiB /24 map does not fit a core's L2 here, and a random flow
    /// end would cost an L3 access without this first test).
    top: Box<[u64]>,
    /// One bit per /24.
    slash24: Box<[u64]>,
}

/// A set of IPv4 /24s (2 MiB, shared between threads); see the module docs.
#[derive(Clone, Debug)]
pub struct FlowGate {
    bits: Arc<Bits>,
}

impl FlowGate {
    /// The gate of `bits`, a bitmap of [`GATE_WORDS`] words (bit `b` of word
    /// `w` = the /24 `w * 64 + b`); `None` for any other length.
    pub fn from_bits(bits: Vec<u64>) -> Option<FlowGate> {
        if bits.len() != GATE_WORDS {
            return None;
        }
        let mut top = vec![0u64; TOP_WORDS];
        // A /16 is 256 /24s = 4 words of the /24 map.
        for (h, quad) in bits.chunks_exact(4).enumerate() {
            if quad.iter().any(|&w| w != 0)
                && let Some(t) = top.get_mut(h >> 6)
            {
                *t |= 1u64 << (h & 63);
            }
        }
        Some(FlowGate {
            bits: Arc::new(Bits {
                top: top.into(),
                slash24: bits.into(),
            }),
        })
    }

    /// Whether the /24 of `addr` is in the set.
    #[inline(always)]
    pub fn hit(&self, addr: u32) -> bool {
        let h = addr >> 16;
        // `top` has 2^10 words and `h >> 6 < 2^10`; `slash24` has 2^18 words
        // and `b >> 6 < 2^18`: never out of range.
        let top = self.bits.top.get((h >> 6) as usize).copied().unwrap_or(0);
        if top & (1u64 << (h & 63)) == 0 {
            return false;
        }
        let b = addr >> 8;
        self.bits
            .slash24
            .get((b >> 6) as usize)
            .is_some_and(|w| w & (1u64 << (b & 63)) != 0)
    }

    /// Whether a flow between `src` and `dst` must take the full path.
    #[inline(always)]
    pub fn pass(&self, src: u32, dst: u32) -> bool {
        self.hit(src) || self.hit(dst)
    }

    /// The union of two gates.
    pub fn union(&self, other: &FlowGate) -> FlowGate {
        let bits: Vec<u64> = self
            .bits
            .slash24
            .iter()
            .zip(other.bits.slash24.iter())
            .map(|(a, b)| a | b)
            .collect();
        // Same length as the inputs: always `Some`.
        FlowGate::from_bits(bits).unwrap_or_else(|| self.clone())
    }
}

/// Records a gate rejected, in a run of consecutive records: how many, and
/// the range of their (normalised, clamped) event timestamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gated {
    pub n: u64,
    pub min_ts: Micros,
    pub max_ts: Micros,
}

impl Default for Gated {
    fn default() -> Self {
        Gated {
            n: 0,
            min_ts: Micros::MAX,
            max_ts: Micros::MIN,
        }
    }
}

impl Gated {
    /// Counts one record with event timestamp `ts`.
    #[inline(always)]
    pub fn add(&mut self, ts: Micros) {
        self.n += 1;
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
    }

    /// Adds the records of `other`, a run that follows this one.
    pub fn merge(&mut self, other: &Gated) {
        self.n += other.n;
        self.min_ts = self.min_ts.min(other.min_ts);
        self.max_ts = self.max_ts.max(other.max_ts);
    }

    /// The run so far, leaving an empty one (`None` when empty).
    #[inline]
    pub fn take(&mut self) -> Option<Gated> {
        (self.n > 0).then(|| std::mem::take(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_and_union() {
        let mut a = vec![0u64; GATE_WORDS];
        let slash24 = 0x000a_0001_u32; // 10.0.1.0/24
        a[(slash24 >> 6) as usize] |= 1 << (slash24 & 63);
        let a = FlowGate::from_bits(a).unwrap();
        assert!(a.hit(0x0a00_0105));
        assert!(!a.hit(0x0a00_0205));
        assert!(a.pass(0x0808_0808, 0x0a00_01ff));
        assert!(!a.pass(0x0808_0808, 0x0909_0909));
        let mut b = vec![0u64; GATE_WORDS];
        b[0] = 1; // 0.0.0.0/24
        let u = a.union(&FlowGate::from_bits(b).unwrap());
        assert!(u.hit(0x0000_0001) && u.hit(0x0a00_0101) && !u.hit(0x0100_0000));
        assert!(FlowGate::from_bits(vec![0; 3]).is_none());
    }

    #[test]
    fn gated_runs() {
        let mut g = Gated::default();
        assert!(g.take().is_none());
        g.add(5);
        g.add(3);
        let t = g.take().unwrap();
        assert_eq!((t.n, t.min_ts, t.max_ts), (2, 3, 5));
        assert_eq!(g.n, 0);
    }
}
