//! Beaconing: periodic contact from a domestic host to an external endpoint,
//! per (host, address) and per (host, domain).
//!
//! Each pair keeps a fixed-size [`PairSketch`] (no timestamp lists):
//! - flows closer than [`BeaconConfig::burst_gap`] to the previous one are one
//!   *beat* (many short flows of one session, retries, parallel connections);
//! - the gaps between beat starts and the bytes of each beat go into small
//!   reservoirs (uniform samples), so memory does not grow with the pair's
//!   traffic;
//! - records older than the current beat (out of order beyond the burst gap)
//!   are counted as late and do not make gaps; a record more than
//!   [`REWIND`] older than the beat in progress (a clock step back, or a
//!   clock jump ahead before it) is counted apart as a rewind, and makes no
//!   gap either;
//! - a record with the same timestamp as the pair's latest is counted as a
//!   duplicate (it joins the beat; it never makes a gap).
//!
//! Scoring starts from RITA (interval skew and dispersion, size dispersion,
//! coverage) and adds what it lacks: gaps that are near-integer multiples of
//! the period are folded (missed beats), gaps far beyond it are set apart
//! (sleep/resume) and only cost their share, jitter is scored on a smooth
//! scale (±30 % jitter still scores high, random traffic does not), and the
//! sample size is accounted for. Popular endpoints (contacted by half the
//! internal hosts) are discounted.
//!
//! Domains come from DNS answers (the flows to a resolved address also feed
//! the (host, domain) pair), HTTP `Host` and TLS SNI (a proxy's CONNECT target
//! included), so a beacon through a proxy or a rotating address is still seen.
//! A (host, domain) beacon is reported only when none of the addresses it
//! resolved to was already reported for that host.
//!
//! HTTP requests whose `Host` is a bare address (no name: the client was
//! given the address itself, as implants are) feed a third table keyed by
//! (host, that address). It sees beacons that flows hide — many requests
//! inside one keep-alive connection (Caldera's Sandcat) — and it is evidence
//! in its own right ([`BARE_ADDRESS_EVIDENCE`]): benign software and browsers
//! name their servers.
//!
//! Packet captures also give the exchanges inside TCP connections
//! ([`crate::model::Exchange`]); they feed a fourth table keyed by (host,
//! address), so a heartbeat inside one connection held open for the whole
//! capture (Caldera's Manx over TCP) is seen. Like the requests, the
//! exchanges replace the flows for a pair when they show the beacon better;
//! they are timing, not evidence, and earn no corroboration.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use super::activity::HostActivity;
use super::names::{is_controller, is_victim, normalise, strip_port};
use super::{Context, Controller, Detector, Finding, Method};
use crate::model::{Event, Micros, RecordRef};

/// Gap samples kept per pair.
pub const GAP_SLOTS: usize = 16;
/// Beat-size samples kept per pair.
pub const SIZE_SLOTS: usize = 8;
/// Gaps within this fraction of an integer multiple of the period are missed beats.
const FOLD_TOLERANCE: f32 = 0.2;
/// At most this many consecutive missed beats are folded; longer silences are sleeps.
const MAX_FOLD: f32 = 4.0;
/// Dispersion (MAD / median) at which the interval or size score falls to 1/e.
const DISPERSION_SCALE: f32 = 0.35;
/// Interquartile range below this fraction of the median is no spread at all.
const NEGLIGIBLE_SPREAD: f32 = 0.02;
/// Minimum gaps kept after setting sleeps apart (RITA requires 4 timestamps).
const MIN_GAPS: usize = 4;
const MICROS: f64 = 1e6;
/// A record this much older than the beat in progress is a step back of the
/// clock, not a late delivery: Zeek and flow exporters deliver records late
/// by at most their rotation or active timeout (minutes to an hour).
pub const REWIND: Micros = 2 * 3_600_000_000;
/// Share of the periodicity score a beacon finding gets without corroborating
/// host activity: a perfect but lone beacon stays below the default minimum
/// confidence (0.6), since benign software beacons just as regularly.
pub const UNCORROBORATED: f64 = 0.6;
/// Corroboration a beacon earns when the victim's HTTP requests name the
/// controller by bare address: half of full evidence, since some devices and
/// internal tools do so too (so a beacon needs a score of 0.75 to pass the
/// default `--min-confidence` of 0.6 on it).
pub const BARE_ADDRESS_EVIDENCE: f64 = 0.5;
/// A beacon stands on its own (needs no corroboration) when it is
/// statistically perfect and long-running: interval and size scores ramp from
/// the first to the second figure…
const STANDALONE_INTERVAL: (f64, f64) = (0.95, 0.99);
const STANDALONE_SIZE: (f64, f64) = (0.8, 0.95);
/// …over this many beats (a day at a 30-minute period is 48)…
const STANDALONE_BEATS: (f64, f64) = (24.0, 48.0);
/// …spanning this many hours: tens of exact repeats over half a day do not
/// happen by chance, whereas a short capture of a periodic service proves little.
const STANDALONE_HOURS: (f64, f64) = (6.0, 12.0);

mod table;

pub use table::DEFAULT_BATCH;
use table::{Hasher, PairTable};

/// Tunables of the beacon detector.
#[derive(Clone, Debug)]
pub struct BeaconConfig {
    /// Flows closer than this are one beat (default 2 s).
    pub burst_gap: Micros,
    /// Fewest beats for a pair to be scored (default 6).
    pub min_beats: u32,
    /// Findings below this score are not emitted (default 0.5).
    pub min_score: f64,
    /// Most pairs tracked (each ~170 bytes plus table slack); new pairs beyond are counted, not tracked.
    pub max_pairs: usize,
    /// Flows buffered before they are applied to their (host, address)
    /// pairs, in one pass sorted by pair (default [`DEFAULT_BATCH`], ≈ 92
    /// bytes of buffers each); 0 applies each flow at once. The findings do
    /// not depend on it (see `table.rs`).
    pub batch: usize,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            burst_gap: 2_000_000,
            min_beats: 6,
            min_score: 0.5,
            max_pairs: 8 << 20,
            batch: DEFAULT_BATCH,
        }
    }
}

/// Fixed-size summary of one pair's contacts.
#[derive(Clone, Debug)]
pub struct PairSketch {
    first: Micros,
    beat_start: Micros,
    last: Micros,
    first_rec: RecordRef,
    last_rec: RecordRef,
    bytes: u64,
    beat_bytes: u64,
    flows: u32,
    beats: u32,
    late: u32,
    duplicates: u32,
    rewinds: u32,
    /// Gap samples (seconds) and beat sizes (bytes), log-quantised ([`quantise`]).
    gaps: [u16; GAP_SLOTS],
    sizes: [u16; SIZE_SLOTS],
}

/// Codes per natural-log unit of `1 + v`: relative resolution 0.07 %, and
/// `u64::MAX` bytes (ln ≈ 44.4) still fits in a `u16`.
const LOG_SCALE: f64 = 1400.0;

/// `v ≥ 0` → `round(ln(1 + v) · LOG_SCALE)` (half away from zero), saturating.
///
/// Computed by [`fast_code`] and, for the few inputs whose code it cannot
/// decide (within [`UNDECIDED`] of a rounding boundary, or out of its
/// range), by [`quantise_exact`]: the result is that of `quantise_exact`
/// for every input (see `fast_code` for the argument; tested on dense
/// sweeps and at every boundary).
#[inline]
pub fn quantise(v: f64) -> u16 {
    fast_code(v).unwrap_or_else(|| quantise_exact(v))
}

/// The reference quantiser: `ln_1p` from the platform's libm.
#[cold]
#[inline(never)]
fn quantise_exact(v: f64) -> u16 {
    let x = v.max(0.0).ln_1p() * LOG_SCALE;
    // `x ≥ 0` (or −0): rounded by hand, since `f64::round` is a libm call on
    // baseline x86-64 and this runs for every beat; `x - t` is exact.
    if x >= f64::from(u16::MAX) - 0.5 {
        return u16::MAX;
    }
    let t = x as u16;
    t + u16::from(x - f64::from(t) >= 0.5)
}

/// Inputs at or above this go to [`quantise_exact`] (their code is ≈ 61 200,
/// below saturation; a beat of 10^19 bytes or a gap of 317 billion years).
const FAST_LIMIT: f64 = 1e19;
/// Distance (in codes) from a rounding boundary `c + ½` within which
/// [`fast_code`] gives up. Its error is below 10⁻⁷ codes (see there) and
/// libm's `ln_1p` is within a few ulps (< 10⁻¹² codes here), so outside this
/// band both round the same way.
const UNDECIDED: f64 = 1e-6;
/// Mantissa bits indexing [`ln_table`].
const LN_BITS: u32 = 7;

/// For each of the 2^[`LN_BITS`] sub-intervals of `[1, 2)`: its centre `c`
/// (exact), `ln c` and `1 / c`.
fn ln_table() -> &'static [(f64, f64, f64); 1 << LN_BITS] {
    type Table = [(f64, f64, f64); 1 << LN_BITS];
    static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [(0.0, 0.0, 0.0); 1 << LN_BITS];
        for (j, e) in t.iter_mut().enumerate() {
            let c = 1.0 + (j as f64 + 0.5) / f64::from(1u32 << LN_BITS);
            *e = (c, c.ln(), 1.0 / c);
        }
        t
    })
}

/// `LOG_SCALE · ln(1 + v)` approximated without a libm call
/// ([`fast_scaled_ln_1p`]), rounded to a code when that is certain; `None`
/// when it is not (or `v` is out of range).
///
/// `w = 1 + v` (rounding: ≤ 2⁻⁵³ relative, 1.6·10⁻¹³ codes) is split as
/// `2^e · m`, `m ∈ [1, 2)`; with `c` the centre of `m`'s sub-interval,
/// `r = (m − c) / c` (`m − c` is exact, Sterbenz), `|r| ≤ 2⁻⁸`, and
/// `ln w = e ln 2 + ln c + ln(1 + r)` with `ln(1 + r) ≈ r − r²/2 + r³/3`
/// (truncation ≤ r⁴/4 ≤ 5.9·10⁻¹¹, 8.2·10⁻⁸ codes). The table's `ln c`
/// (≤ 1 ulp), `ln 2` and the sums (≤ 64 · ln 2 here) add below 10⁻⁹ codes:
/// in all below 10⁻⁷ codes, tenfold under [`UNDECIDED`].
#[inline]
fn fast_code(v: f64) -> Option<u16> {
    // Round to nearest by the 1.5 · 2^52 trick (`x < 2^16` here): `y`'s low
    // mantissa bits are the integer `k` nearest to `x`, `x - k` is exact.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let x = fast_scaled_ln_1p(v)?;
    let y = x + MAGIC;
    let k = y - MAGIC;
    if 0.5 - (x - k).abs() <= UNDECIDED {
        return None;
    }
    // `k ≥ 0` (x > −½ + UNDECIDED), below 2^16 (x < 61 300).
    u16::try_from(y.to_bits() & 0xffff_ffff).ok()
}

/// `LOG_SCALE · ln(1 + max(v, 0))` for `v < FAST_LIMIT` (see [`fast_code`]
/// for its error); `None` beyond (NaN and ∞ included).
#[inline]
fn fast_scaled_ln_1p(v: f64) -> Option<f64> {
    // NaN and ∞ too. Negative inputs quantise to 0.
    if v.is_nan() || v >= FAST_LIMIT {
        return None;
    }
    let w = 1.0 + v.max(0.0);
    let bits = w.to_bits();
    let e = ((bits >> 52) as i64 - 1023) as f64;
    let j = ((bits >> (52 - LN_BITS)) & ((1 << LN_BITS) - 1)) as usize;
    let m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    let &(c, ln_c, inv_c) = ln_table().get(j)?;
    let r = (m - c) * inv_c;
    let ln1r = r * (1.0 + r * (-0.5 + r * (1.0 / 3.0)));
    Some((e * std::f64::consts::LN_2 + ln_c + ln1r) * LOG_SCALE)
}

/// Inverse of [`quantise`] (to its resolution).
pub fn dequantise(c: u16) -> f32 {
    ((f64::from(c) / LOG_SCALE).exp_m1()) as f32
}

/// [`dequantise`] of every code, computed once (256 KB): scoring a pair
/// reads 24 codes, and a table lookup costs a fraction of an `exp_m1`.
fn dequantised() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..=u16::MAX).map(dequantise).collect())
}

fn mix(x: u64) -> u64 {
    // splitmix64 finaliser: a deterministic pseudo-random slot choice.
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn reservoir<const N: usize>(slots: &mut [u16; N], k: u32, salt: u64, v: u16) {
    let k = k as usize;
    if k < N {
        slots[k] = v;
    } else {
        let j = (mix(k as u64 ^ salt) % (k as u64 + 1)) as usize;
        if j < N {
            slots[j] = v;
        }
    }
}

impl PairSketch {
    /// A sketch holding one flow.
    pub fn new(ts: Micros, bytes: u64, rec: RecordRef) -> PairSketch {
        PairSketch {
            first: ts,
            beat_start: ts,
            last: ts,
            first_rec: rec,
            last_rec: rec,
            bytes,
            beat_bytes: bytes,
            flows: 1,
            beats: 1,
            late: 0,
            duplicates: 0,
            rewinds: 0,
            gaps: [0; GAP_SLOTS],
            sizes: [0; SIZE_SLOTS],
        }
    }

    /// Adds one flow (or request) at `ts` carrying `bytes`.
    pub fn add(&mut self, ts: Micros, bytes: u64, rec: RecordRef, burst_gap: Micros) {
        self.flows = self.flows.saturating_add(1);
        self.bytes = self.bytes.saturating_add(bytes);
        if ts < self.first {
            self.first = ts;
            self.first_rec = rec;
        }
        if ts == self.last {
            self.duplicates = self.duplicates.saturating_add(1);
        }
        if ts < self.beat_start {
            if self.beat_start.saturating_sub(ts) > REWIND {
                // The clock stepped back (or a clock jump ahead came before):
                // counted apart from ordinary late records, never a gap.
                // Restarting the pair here was tried and rejected: flow
                // exporters (Argus) report long flows at their end, hours
                // after their start, which is no clock step.
                self.rewinds = self.rewinds.saturating_add(1);
                return;
            }
            // Older than the current beat: out of order beyond a burst, no gap.
            self.late = self.late.saturating_add(1);
            return;
        }
        if ts.saturating_sub(self.last) <= burst_gap {
            self.beat_bytes = self.beat_bytes.saturating_add(bytes);
            if ts > self.last {
                self.last = ts;
                self.last_rec = rec;
            }
            return;
        }
        let closed = self.beats - 1; // beats closed so far, also gaps so far
        let salt = self.first as u64;
        reservoir(
            &mut self.sizes,
            closed,
            salt,
            quantise(self.beat_bytes as f64),
        );
        reservoir(
            &mut self.gaps,
            closed,
            salt ^ 1,
            quantise(ts.saturating_sub(self.beat_start) as f64 / MICROS),
        );
        self.beats = self.beats.saturating_add(1);
        self.beat_start = ts;
        self.last = ts;
        self.last_rec = rec;
        self.beat_bytes = bytes;
    }

    pub fn flows(&self) -> u32 {
        self.flows
    }
    pub fn beats(&self) -> u32 {
        self.beats
    }
    /// Records that arrived older than the beat in progress.
    pub fn late(&self) -> u32 {
        self.late
    }
    /// Records with the same timestamp as the pair's latest.
    pub fn duplicates(&self) -> u32 {
        self.duplicates
    }
    /// Steps back of the clock by more than [`REWIND`] (the pair restarted).
    pub fn rewinds(&self) -> u32 {
        self.rewinds
    }
    pub fn first(&self) -> Micros {
        self.first
    }
    pub fn last(&self) -> Micros {
        self.last
    }
}

/// Median, first and third quartile and median absolute deviation of `v` (sorted in place).
fn robust(v: &mut [f32]) -> (f32, f32, f32, f32) {
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |v: &[f32], p: f32| {
        let x = p * (v.len() - 1) as f32;
        let lo = x.floor() as usize;
        let hi = (lo + 1).min(v.len() - 1);
        v[lo] + (v[hi] - v[lo]) * (x - lo as f32)
    };
    let (q1, m, q3) = (q(v, 0.25), q(v, 0.5), q(v, 0.75));
    let mut dev: [f32; GAP_SLOTS] = [0.0; GAP_SLOTS];
    let n = v.len().min(GAP_SLOTS);
    for (d, x) in dev.iter_mut().zip(v.iter()) {
        *d = (x - m).abs();
    }
    let dev = &mut dev[..n];
    dev.sort_by(|a, b| a.total_cmp(b));
    (m, q1, q3, q(dev, 0.5))
}

fn dispersion_score(d: f32) -> f32 {
    (-(d / DISPERSION_SCALE).powi(2)).exp()
}

/// The scored features of one pair.
#[derive(Clone, Debug, PartialEq)]
pub struct BeaconScore {
    /// Overall score in [0, 1]: periodicity × popularity.
    pub score: f64,
    /// The pair's periodicity alone (interval, size, duration, support), the
    /// figure comparable to RITA's beacon score.
    pub periodicity: f64,
    pub interval: f64,
    pub size: f64,
    pub duration: f64,
    /// Sample-size factor in [0.5, 1].
    pub support: f64,
    /// Popularity discount in (0, 1].
    pub popularity: f64,
    /// Estimated period, seconds.
    pub period: f64,
    /// Interval dispersion (MAD / median).
    pub jitter: f64,
    pub missed: u32,
    pub sleeps: u32,
    /// Median bytes per beat.
    pub beat_bytes: f64,
    /// In [0, 1]: how far the pair is a statistically perfect, long-running
    /// beacon (strong evidence on its own, see [`Candidate::confidence`]).
    /// The detector zeroes it unless the endpoint is an address the host never
    /// resolved while its DNS lookups are visible.
    pub standalone: f64,
}

/// 0 at or below `r.0`, 1 at or above `r.1`, linear between.
fn ramp(x: f64, r: (f64, f64)) -> f64 {
    ((x - r.0) / (r.1 - r.0)).clamp(0.0, 1.0)
}

impl BeaconScore {
    /// One-line account of the features, for analysts.
    pub fn explain(&self, s: &PairSketch, hosts: u32) -> String {
        format!(
            "{} contacts in {} beats over {:.1} h, period ≈ {:.0} s (jitter {:.0} %), {} missed beats, {} sleeps, \
             ≈ {:.0} bytes per beat; endpoint seen from {} internal host(s); \
             interval {:.2}, size {:.2}, duration {:.2}, support {:.2}, popularity {:.2} → {:.2}{}",
            s.flows,
            s.beats,
            s.last.saturating_sub(s.first) as f64 / 3.6e9,
            self.period,
            self.jitter * 100.0,
            self.missed,
            self.sleeps,
            self.beat_bytes,
            hosts,
            self.interval,
            self.size,
            self.duration,
            self.support,
            self.popularity,
            self.score,
            if self.standalone > 0.0 {
                format!(
                    "; perfect long-running beacon to an address the host never resolved ({:.2})",
                    self.standalone
                )
            } else {
                String::new()
            }
        )
    }
}

/// Scores a pair. `window` is the observation period of the run; `hosts` the
/// number of internal hosts that contacted the endpoint, `total_hosts` all
/// internal hosts seen. `None` when the pair has too few beats to tell.
pub fn score_pair(
    s: &PairSketch,
    window: (Micros, Micros),
    hosts: u32,
    total_hosts: u32,
    min_beats: u32,
) -> Option<BeaconScore> {
    if s.beats < min_beats.max(MIN_GAPS as u32 + 1) {
        return None;
    }
    let n = (s.beats as usize - 1).min(GAP_SLOTS);
    let table = dequantised();
    let mut raw = [0f32; GAP_SLOTS];
    for (r, &c) in raw.iter_mut().zip(&s.gaps) {
        *r = table.get(usize::from(c)).copied().unwrap_or(f32::NAN);
    }
    let raw = &mut raw[..n];
    let (m0, ..) = robust(raw);
    if m0.is_nan() || m0 <= 0.0 {
        return None;
    }
    let mut kept = [0f32; GAP_SLOTS];
    let (mut k, mut missed, mut sleeps, mut folded) = (0usize, 0u32, 0u32, 0u32);
    let (mut kept_time, mut all_time) = (0f64, 0f64);
    for &g in raw.iter() {
        all_time += f64::from(g);
        let r = g / m0;
        if r < 1.5 {
            kept[k] = g;
        } else {
            let f = r.round();
            if f <= MAX_FOLD && (r - f).abs() <= FOLD_TOLERANCE {
                kept[k] = g / f;
                missed += f as u32 - 1;
                folded += 1;
            } else {
                sleeps += 1;
                continue;
            }
        }
        kept_time += f64::from(g);
        k += 1;
    }
    if k < MIN_GAPS.min(n) || (k as f32) < 0.6 * n as f32 {
        return None;
    }
    let (m, q1, q3, mad) = robust(&mut kept[..k]);
    let jitter = if m > 0.0 { mad / m } else { 1.0 };
    // Skew is noise when the spread is negligible (RITA's weak spot: a 0.1 s
    // wobble around a 30 min period flips the sign of Bowley's skew).
    let bowley = if q3 - q1 > NEGLIGIBLE_SPREAD * m {
        ((q1 + q3 - 2.0 * m) / (q3 - q1)).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let penalty = 1.0 - 0.5 * (folded + sleeps) as f32 / n as f32;
    let interval =
        f64::from((0.8 * dispersion_score(jitter) + 0.2 * (1.0 - bowley.abs())) * penalty);

    let ns = (s.beats as usize - 1).min(SIZE_SLOTS);
    let (size, beat_bytes) = if ns == 0 {
        (0.0, s.beat_bytes as f64)
    } else {
        let mut sizes = [0f32; SIZE_SLOTS];
        for (r, &c) in sizes.iter_mut().zip(&s.sizes) {
            *r = table.get(usize::from(c)).copied().unwrap_or(f32::NAN);
        }
        let (ms, _, _, mads) = robust(&mut sizes[..ns]);
        let d = if ms > 0.0 { mads / ms } else { 0.0 };
        (f64::from(dispersion_score(d)), f64::from(ms))
    };

    let span = s.last.saturating_sub(s.first).max(1) as f64;
    let wlen = window.1.saturating_sub(window.0).max(1) as f64;
    let coverage = (span / wlen).clamp(0.0, 1.0);
    let continuity = if all_time > 0.0 {
        (kept_time / all_time).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let duration = 0.5 * coverage + 0.5 * continuity;

    let support = 1.0 - 0.5 * (-((k as f64) - 3.0) / 5.0).exp();
    let frac = if total_hosts > 0 {
        f64::from(hosts) / f64::from(total_hosts)
    } else {
        0.0
    };
    let popularity = if hosts >= 3 && frac >= 0.5 {
        0.5
    } else if hosts >= 3 && frac >= 0.02 {
        0.85
    } else {
        1.0
    };
    let raw_score = 0.55 * interval + 0.25 * size + 0.2 * duration;
    let standalone = ramp(interval, STANDALONE_INTERVAL)
        * ramp(size, STANDALONE_SIZE)
        * ramp(f64::from(s.beats), STANDALONE_BEATS)
        * ramp(span / 3.6e9, STANDALONE_HOURS);
    Some(BeaconScore {
        score: (raw_score * support * popularity).clamp(0.0, 1.0),
        periodicity: (raw_score * support).clamp(0.0, 1.0),
        interval,
        size,
        duration,
        support,
        popularity,
        period: f64::from(m),
        jitter: f64::from(jitter),
        missed,
        sleeps,
        beat_bytes,
        standalone,
    })
}

/// Counters of the beacon detector.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BeaconStats {
    pub flows: u64,
    /// New pairs not tracked because [`BeaconConfig::max_pairs`] was reached.
    pub untracked: u64,
    pub late: u64,
    /// Records with the same timestamp as their pair's latest.
    pub duplicates: u64,
    /// Steps back of the clock beyond [`REWIND`].
    pub rewinds: u64,
    pub scored: u64,
}

type Map<K, V> = HashMap<K, V, Hasher>;

/// The beacon detector (see the module docs).
pub struct BeaconDetector {
    cfg: BeaconConfig,
    ip_pairs: PairTable<(IpAddr, IpAddr)>,
    name_pairs: PairTable<(IpAddr, u32)>,
    /// HTTP requests to a bare-address `Host`, per (host, address).
    bare_pairs: PairTable<(IpAddr, IpAddr)>,
    /// Exchanges inside TCP connections (packet captures), per (host, address).
    session_pairs: PairTable<(IpAddr, IpAddr)>,
    resolved: Map<(IpAddr, IpAddr), u32>,
    /// Internal hosts whose DNS lookups are in the input (at most `max_pairs`).
    dns_hosts: HashSet<IpAddr, Hasher>,
    domains: Vec<Arc<str>>,
    domain_ids: Map<Arc<str>, u32>,
    window: Option<(Micros, Micros)>,
    activity: Map<IpAddr, HostActivity>,
    pub stats: BeaconStats,
}

impl BeaconDetector {
    pub fn new(cfg: BeaconConfig) -> Self {
        BeaconDetector {
            ip_pairs: PairTable::new(cfg.batch),
            cfg,
            name_pairs: PairTable::new(0),
            bare_pairs: PairTable::new(0),
            session_pairs: PairTable::new(0),
            resolved: Map::default(),
            dns_hosts: HashSet::default(),
            domains: Vec::new(),
            domain_ids: Map::default(),
            window: None,
            activity: Map::default(),
            stats: BeaconStats::default(),
        }
    }

    /// Bytes held per tracked (host, address) pair: the pair table's slots
    /// and entries (capacity included) divided by the pairs tracked.
    pub fn bytes_per_pair(&self) -> f64 {
        self.ip_pairs.heap_bytes() as f64 / self.ip_pairs.len().max(1) as f64
    }

    /// Applies the flows still buffered (see [`BeaconConfig::batch`]);
    /// [`Self::candidates`] does so itself.
    pub fn flush(&mut self) {
        self.stats.untracked += self.ip_pairs.flush(self.cfg.max_pairs, self.cfg.burst_gap);
    }

    fn domain_id(&mut self, name: &str) -> Option<u32> {
        if let Some(&id) = self.domain_ids.get(name) {
            return Some(id);
        }
        if self.domains.len() >= self.cfg.max_pairs {
            return None;
        }
        let id = u32::try_from(self.domains.len()).ok()?;
        let a: Arc<str> = Arc::from(name);
        self.domains.push(a.clone());
        self.domain_ids.insert(a, id);
        Some(id)
    }

    fn feed<K: std::hash::Hash + Eq + Copy>(
        table: &mut PairTable<K>,
        cfg: &BeaconConfig,
        stats: &mut BeaconStats,
        key: K,
        ts: Micros,
        bytes: u64,
        rec: RecordRef,
    ) {
        stats.untracked += table.add(key, cfg.max_pairs, ts, bytes, rec, cfg.burst_gap);
    }

    fn see(&mut self, ts: Micros) {
        self.window = Some(match self.window {
            Some((a, b)) => (a.min(ts), b.max(ts)),
            None => (ts, ts),
        });
    }

    fn named(&mut self, src: IpAddr, host: &str, ts: Micros, bytes: u64, rec: RecordRef) {
        let Some(name) = normalise(strip_port(host)) else {
            return;
        };
        let Some(id) = self.domain_id(&name) else {
            return;
        };
        Self::feed(
            &mut self.name_pairs,
            &self.cfg,
            &mut self.stats,
            (src, id),
            ts,
            bytes,
            rec,
        );
    }
}

impl Default for BeaconDetector {
    fn default() -> Self {
        Self::new(BeaconConfig::default())
    }
}

impl Detector for BeaconDetector {
    fn name(&self) -> &'static str {
        "beacon"
    }

    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        _out: &mut dyn FnMut(Finding),
    ) {
        match ev {
            Event::Flow(f) => {
                self.see(f.ts);
                self.stats.flows += 1;
                if !is_victim(ctx, f.src) || !is_controller(ctx, f.dst) {
                    return;
                }
                let mail = HostActivity::is_mail_port(f.dport);
                if mail || f.dst_bytes == 0 {
                    if let Some(a) = self.activity.get_mut(&f.src) {
                        a.add(f);
                    } else if self.activity.len() < self.cfg.max_pairs {
                        self.activity.entry(f.src).or_default().add(f);
                    }
                }
                if mail {
                    return; // spam is activity, not contact with a controller
                }
                let bytes = f.src_bytes.saturating_add(f.dst_bytes);
                Self::feed(
                    &mut self.ip_pairs,
                    &self.cfg,
                    &mut self.stats,
                    (f.src, f.dst),
                    f.ts,
                    bytes,
                    rec,
                );
                // (no lookup at all for flow-only input: one cache miss less per flow)
                if let Some(&id) = (!self.resolved.is_empty())
                    .then(|| self.resolved.get(&(f.src, f.dst)))
                    .flatten()
                {
                    Self::feed(
                        &mut self.name_pairs,
                        &self.cfg,
                        &mut self.stats,
                        (f.src, id),
                        f.ts,
                        bytes,
                        rec,
                    );
                }
            }
            Event::Dns(d) => {
                if !is_victim(ctx, d.src) {
                    return;
                }
                if self.dns_hosts.len() < self.cfg.max_pairs {
                    self.dns_hosts.insert(d.src);
                }
                if d.answers.is_empty() {
                    return;
                }
                let Some(name) = normalise(&d.query) else {
                    return;
                };
                for a in &d.answers {
                    if let Ok(ip) = a.parse::<IpAddr>() {
                        if self.resolved.len() >= self.cfg.max_pairs {
                            return;
                        }
                        if let Some(id) = self.domain_id(&name) {
                            self.resolved.insert((d.src, ip), id);
                        }
                    }
                }
            }
            Event::Http(h) => {
                self.see(h.ts);
                if let Some(host) = h.host.as_deref()
                    && is_victim(ctx, h.src)
                {
                    let bytes = h.request_bytes.saturating_add(h.response_bytes);
                    match bare_address(host) {
                        Some(ip) if is_controller(ctx, ip) => Self::feed(
                            &mut self.bare_pairs,
                            &self.cfg,
                            &mut self.stats,
                            (h.src, ip),
                            h.ts,
                            bytes,
                            rec,
                        ),
                        Some(_) => {}
                        None => self.named(h.src, host, h.ts, bytes, rec),
                    }
                }
            }
            Event::Tls(t) => {
                self.see(t.ts);
                if let Some(sni) = t.server_name.as_deref()
                    && is_victim(ctx, t.src)
                {
                    self.named(t.src, sni, t.ts, 0, rec);
                }
            }
            Event::Exchange(x) => {
                self.see(x.ts);
                if is_victim(ctx, x.src)
                    && is_controller(ctx, x.dst)
                    && !HostActivity::is_mail_port(x.dport)
                {
                    Self::feed(
                        &mut self.session_pairs,
                        &self.cfg,
                        &mut self.stats,
                        (x.src, x.dst),
                        x.ts,
                        x.src_bytes.saturating_add(x.dst_bytes),
                        rec,
                    );
                }
            }
        }
    }

    fn finish(&mut self, _ctx: &Context<'_>, out: &mut dyn FnMut(Finding)) {
        let floor = self.cfg.min_score;
        for c in self.candidates(floor) {
            c.emit(Method::Beacon, c.confidence(), None, out);
        }
    }
}

/// The address an HTTP `Host` value names, when it is a bare address
/// (`192.0.2.7`, `192.0.2.7:8888`, `[2001:db8::1]:80`).
pub fn bare_address(host: &str) -> Option<IpAddr> {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    strip_port(host).parse().ok()
}

/// A scored pair, for reporting and for clustering.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub victim: IpAddr,
    pub controller: Controller,
    pub score: BeaconScore,
    /// Internal hosts that contacted the same endpoint (or domain).
    pub hosts: u32,
    /// All internal hosts seen with external contacts.
    pub total_hosts: u32,
    pub sketch: PairSketch,
    /// Evidence of malicious activity of the victim (spam) in [0, 1].
    pub activity: f64,
    /// The victim's activity record, for explanations.
    pub host: Option<HostActivity>,
    /// Whether the victim's HTTP requests named the controller by bare address.
    pub bare: bool,
}

impl Candidate {
    /// Confidence of a beacon finding: periodicity alone earns at most
    /// [`UNCORROBORATED`] of the score (benign software beacons too); the
    /// rest is earned by the victim's malicious activity or, on its own, by a
    /// statistically perfect long-running beacon to a hard-coded address
    /// ([`BeaconScore::standalone`]: exact repeats of one size for half a day
    /// and more, to an address the host never looked up although its DNS is
    /// visible). The score keeps its popularity discount either way.
    pub fn confidence(&self) -> f64 {
        let evidence = self.activity.max(self.score.standalone);
        (self.score.score * (UNCORROBORATED + (1.0 - UNCORROBORATED) * evidence)).clamp(0.0, 1.0)
    }

    /// The findings of this candidate: one at its first record (carrying the
    /// flows and bytes) and one at its last (for last-seen).
    pub fn emit(
        &self,
        method: Method,
        confidence: f64,
        extra: Option<&str>,
        out: &mut dyn FnMut(Finding),
    ) {
        let s = &self.sketch;
        let mut text = self.score.explain(s, self.hosts);
        if self.bare {
            text = format!(
                "{text}; HTTP requests name the controller by bare address (evidence {BARE_ADDRESS_EVIDENCE})"
            );
        }
        if let Some(h) = &self.host {
            text = format!("{text}; {}", h.describe());
        }
        if let Some(e) = extra {
            text = format!("{e}; {text}");
        }
        let explanation: Arc<str> = Arc::from(text);
        out(Finding {
            victim: self.victim,
            controller: self.controller.clone(),
            method,
            confidence,
            indicator: None,
            ts: s.first,
            flows: u64::from(s.flows),
            bytes: s.bytes,
            rec: s.first_rec,
            explanation: Some(explanation.clone()),
        });
        if s.last_rec != s.first_rec {
            out(Finding {
                victim: self.victim,
                controller: self.controller.clone(),
                method,
                confidence,
                indicator: None,
                ts: s.last,
                flows: 0,
                bytes: 0,
                rec: s.last_rec,
                explanation: Some(explanation),
            });
        }
    }
}

impl BeaconDetector {
    /// Scores every pair and returns those scoring at least `floor`, sorted by
    /// (victim, controller). A (host, domain) pair is left out when one of the
    /// addresses the domain resolved to for that host is already in.
    pub fn candidates(&mut self, floor: f64) -> Vec<Candidate> {
        let mut found = Vec::new();
        self.flush();
        let Some(window) = self.window else {
            return found;
        };
        let mut hosts_of: Map<IpAddr, u32> = Map::default();
        let mut victims: HashSet<IpAddr, Hasher> = HashSet::default();
        for (src, dst) in self.ip_pairs.keys() {
            *hosts_of.entry(*dst).or_insert(0) += 1;
            victims.insert(*src);
        }
        let mut hosts_of_name: Map<u32, u32> = Map::default();
        for (src, id) in self.name_pairs.keys() {
            *hosts_of_name.entry(*id).or_insert(0) += 1;
            victims.insert(*src);
        }
        let total = u32::try_from(victims.len()).unwrap_or(u32::MAX);
        let (mut late, mut duplicates, mut rewinds) = (0u64, 0u64, 0u64);
        for (_, s) in self.ip_pairs.iter() {
            late += u64::from(s.late);
            duplicates += u64::from(s.duplicates);
            rewinds += u64::from(s.rewinds);
        }
        (self.stats.late, self.stats.duplicates, self.stats.rewinds) = (late, duplicates, rewinds);

        let mut pairs: Vec<_> = self.ip_pairs.iter().collect();
        pairs.sort_by_key(|(k, _)| **k);
        let mut covered: HashSet<(IpAddr, u32), Hasher> = HashSet::default();
        for (&(src, dst), s) in pairs {
            let hosts = hosts_of.get(&dst).copied().unwrap_or(1);
            // Requests to the bare address may show the beacon better than
            // the flows (one keep-alive connection): the better one counts.
            let bare = self.bare_pairs.get(&(src, dst));
            // So may the exchanges inside its connections (one held open).
            let session = self.session_pairs.get(&(src, dst));
            let score = |k: &PairSketch| score_pair(k, window, hosts, total, self.cfg.min_beats);
            let Some((s, mut sc)) = [Some(s), bare, session]
                .into_iter()
                .flatten()
                .filter_map(|k| score(k).map(|sc| (k, sc)))
                .reduce(|best, x| if x.1.score > best.1.score { x } else { best })
            else {
                continue;
            };
            // Benign software beacons perfectly too, but to names it looks up:
            // perfection stands alone only for an address the host contacts
            // without ever resolving it while its DNS lookups are visible
            // (a hard-coded controller).
            if !self.dns_hosts.contains(&src) || self.resolved.contains_key(&(src, dst)) {
                sc.standalone = 0.0;
            }
            self.stats.scored += 1;
            if sc.score < floor {
                continue;
            }
            if let Some(&id) = self.resolved.get(&(src, dst)) {
                covered.insert((src, id));
            }
            let activity = self.activity.get(&src).map_or(0.0, HostActivity::evidence);
            found.push(Candidate {
                victim: src,
                controller: Controller::Ip(dst),
                score: sc,
                hosts,
                total_hosts: total,
                sketch: s.clone(),
                activity: if bare.is_some() {
                    activity.max(BARE_ADDRESS_EVIDENCE)
                } else {
                    activity
                },
                bare: bare.is_some(),
                host: self.activity.get(&src).cloned(),
            });
        }
        // Bare-address requests with no flows of their own in the input
        // (HTTP logs only, or a proxy between).
        let mut bare: Vec<_> = self
            .bare_pairs
            .iter()
            .filter(|(k, _)| self.ip_pairs.get(k).is_none())
            .collect();
        bare.sort_by_key(|(k, _)| **k);
        for (&(src, dst), s) in bare {
            let hosts = 1;
            let Some(mut sc) = score_pair(s, window, hosts, total, self.cfg.min_beats) else {
                continue;
            };
            sc.standalone = 0.0;
            self.stats.scored += 1;
            if sc.score < floor {
                continue;
            }
            let activity = self.activity.get(&src).map_or(0.0, HostActivity::evidence);
            found.push(Candidate {
                victim: src,
                controller: Controller::Ip(dst),
                score: sc,
                hosts,
                total_hosts: total,
                sketch: s.clone(),
                activity: activity.max(BARE_ADDRESS_EVIDENCE),
                bare: true,
                host: self.activity.get(&src).cloned(),
            });
        }
        let mut named: Vec<_> = self.name_pairs.iter().collect();
        named.sort_by_key(|(k, _)| **k);
        for (&(src, id), s) in named {
            if covered.contains(&(src, id)) {
                continue;
            }
            let hosts = hosts_of_name.get(&id).copied().unwrap_or(1);
            let Some(mut sc) = score_pair(s, window, hosts, total, self.cfg.min_beats) else {
                continue;
            };
            sc.standalone = 0.0; // a looked-up name: see above

            self.stats.scored += 1;
            if sc.score < floor {
                continue;
            }
            let Some(name) = self.domains.get(id as usize) else {
                continue;
            };
            found.push(Candidate {
                victim: src,
                controller: Controller::Name(name.clone()),
                score: sc,
                hosts,
                total_hosts: total,
                sketch: s.clone(),
                activity: self.activity.get(&src).map_or(0.0, HostActivity::evidence),
                bare: false,
                host: self.activity.get(&src).cloned(),
            });
        }
        found.sort_by(|a, b| (a.victim, &a.controller).cmp(&(b.victim, &b.controller)));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The home network of these tests: 10.0.0.0/8.
    fn home_10() -> crate::enrich::Home {
        crate::enrich::Home {
            countries: vec![],
            networks: vec!["10.0.0.0/8".parse().expect("cidr")],
            ..Default::default()
        }
    }
    use proptest::prelude::*;

    const S: Micros = 1_000_000;
    const REC: RecordRef = RecordRef { input: 0, line: 1 };

    fn sketch(ts: &[Micros], bytes: u64) -> PairSketch {
        let mut s = PairSketch::new(ts[0], bytes, REC);
        for &t in &ts[1..] {
            s.add(t, bytes, REC, 2 * S);
        }
        s
    }

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    fn score(ts: &[Micros]) -> f64 {
        let w = (ts[0], *ts.last().unwrap());
        score_pair(&sketch(ts, 500), w, 1, 100, 6).map_or(0.0, |s| s.score)
    }

    #[test]
    fn perfect_beacon_scores_high_and_poisson_low() {
        let ts: Vec<Micros> = (0..50).map(|i| i * 60 * S).collect();
        assert!(score(&ts) >= 0.9, "{}", score(&ts));
        let mut seed = 7;
        let mut t = 0;
        let pois: Vec<Micros> = (0..50)
            .map(|_| {
                t += (-(1.0 - lcg(&mut seed)).ln() * 60.0 * 1e6) as Micros + 3 * S;
                t
            })
            .collect();
        let mut p = sketch(&pois, 500);
        // random sizes too
        let mut seed2 = 3;
        for &x in &pois {
            p.add(x + 10 * S, (lcg(&mut seed2) * 5000.0) as u64, REC, 2 * S);
        }
        let sp = score_pair(&p, (0, t), 1, 100, 6).map_or(0.0, |s| s.score);
        assert!(sp < 0.5, "poisson {sp}");
    }

    #[test]
    fn perfect_long_running_beacon_stands_alone_short_or_jittery_does_not() {
        let standalone = |ts: &[Micros]| {
            let w = (ts[0], *ts.last().unwrap());
            score_pair(&sketch(ts, 500), w, 1, 100, 6).map_or(0.0, |s| s.standalone)
        };
        // 30-minute beacon for a day: stands alone.
        let day: Vec<Micros> = (0..48).map(|i| i * 1800 * S).collect();
        assert!(standalone(&day) > 0.95, "{}", standalone(&day));
        // the same for three hours: needs corroboration.
        assert_eq!(standalone(&day[..7]), 0.0);
        // days with ±30 % jitter: periodic, but not statistically perfect.
        for seed in 1..20 {
            let mut seed = seed;
            let jit: Vec<Micros> = (0..48)
                .map(|i| i * 1800 * S + ((lcg(&mut seed) - 0.5) * 1080.0 * 1e6) as Micros)
                .collect();
            let w = (jit[0], jit[47]);
            let sc = score_pair(&sketch(&jit, 500), w, 1, 100, 6).expect("scored");
            assert!(sc.standalone < 0.5, "{sc:?}");
        }
    }

    #[test]
    fn robust_to_jitter_missed_beats_and_sleep() {
        let mut seed = 11;
        let mut t = 0;
        let mut ts = Vec::new();
        for i in 0..80 {
            // Cobalt-Strike-style jitter: sleep in [0.7 P, P]
            t += (300.0 * (1.0 - 0.3 * lcg(&mut seed)) * 1e6) as Micros;
            if i % 9 == 4 {
                continue; // missed beat
            }
            if i == 40 {
                t += 6 * 3600 * S; // laptop asleep
            }
            ts.push(t);
        }
        let s = score(&ts);
        assert!(s >= 0.7, "jittered beacon {s}");
    }

    #[test]
    fn slow_beacon_and_session_bursts_aggregate() {
        // every 3 h for 3 days, each beat a burst of 5 short flows
        let mut ts = Vec::new();
        for i in 0..24 {
            for j in 0..5 {
                ts.push(i * 3 * 3600 * S + j * 300_000);
            }
        }
        let sk = sketch(&ts, 200);
        assert_eq!(sk.beats(), 24);
        let sc = score_pair(&sk, (0, ts[ts.len() - 1]), 1, 10, 6).unwrap();
        assert!(sc.score >= 0.9, "{sc:?}");
        assert!(
            (sc.period - 10800.0).abs() < 0.002 * 10800.0,
            "{}",
            sc.period
        );
    }

    #[test]
    fn popular_endpoint_is_discounted() {
        let ts: Vec<Micros> = (0..50).map(|i| i * 60 * S).collect();
        let sk = sketch(&ts, 500);
        let w = (0, 49 * 60 * S);
        let lone = score_pair(&sk, w, 1, 100, 6).unwrap().score;
        let popular = score_pair(&sk, w, 80, 100, 6).unwrap().score;
        assert!(popular < 0.6 && lone > 0.9, "{lone} {popular}");
    }

    #[test]
    fn quantisation_is_fine_and_total() {
        for v in [0.0, 0.5, 1.0, 33.3, 3600.0, 86_400.0 * 30.0, 1e12] {
            let back = f64::from(dequantise(quantise(v)));
            assert!((back - v).abs() <= 1e-3 * v.max(1.0), "{v} -> {back}");
        }
        assert_eq!(quantise(-5.0), 0);
        assert_eq!(quantise(f64::MAX), u16::MAX);
        assert_eq!(quantise(f64::NAN), 0);
        // the hand rounding is `f64::round`, ties and saturation included
        let reference = |v: f64| {
            let c = (v.max(0.0).ln_1p() * LOG_SCALE).round();
            if c >= f64::from(u16::MAX) {
                u16::MAX
            } else {
                c as u16
            }
        };
        let mut seed = 5;
        for i in 0..200_000u32 {
            let v = match i % 4 {
                0 => f64::from(i),
                1 => lcg(&mut seed) * 1e7,
                2 => (f64::from(i % 60_000) / LOG_SCALE).exp_m1() + (lcg(&mut seed) - 0.5) * 1e-9,
                _ => ((f64::from(i % 65_600) + 0.5) / LOG_SCALE).exp_m1(),
            };
            assert_eq!(quantise(v), reference(v), "{v}");
        }
        for v in [
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(quantise(v), reference(v), "{v}");
        }
        for c in (0..=u16::MAX).step_by(97).chain([u16::MAX]) {
            assert_eq!(
                dequantised()[usize::from(c)].to_bits(),
                dequantise(c).to_bits()
            );
        }
    }

    /// The table-driven quantiser gives `quantise_exact`'s code everywhere:
    /// at, and a few ulps around, every rounding boundary `c + ½` (where the
    /// two could differ at all), for every byte count below 2^20 and every
    /// boundary's neighbouring integers (beat sizes are integers), for gaps
    /// on a microsecond grid, and on random inputs over the whole range.
    #[test]
    fn fast_quantiser_is_the_exact_one() {
        let check = |v: f64| assert_eq!(quantise(v), quantise_exact(v), "{v:e}");
        for c in 0..=u16::MAX {
            let b = ((f64::from(c) + 0.5) / LOG_SCALE).exp_m1();
            let (mut up, mut down) = (b, b);
            check(b);
            for _ in 0..48 {
                up = up.next_up();
                down = down.next_down();
                check(up);
                check(down);
            }
            if b < 1e15 {
                for k in -8..=8 {
                    check(b.floor() + f64::from(k));
                    // gaps: microseconds / 10^6
                    check(((b * MICROS).floor() + f64::from(k)) / MICROS);
                }
            }
        }
        for n in 0..(1u32 << 20) {
            check(f64::from(n));
        }
        for us in (2_000_000i64..4_000_000).chain((0..2_000_000).map(|i| i * 1_800_007)) {
            check(us as f64 / MICROS);
        }
        let mut seed = 17;
        let (mut fast, mut all) = (0u32, 0u32);
        for i in 0..1_000_000 {
            // up to e^46 (saturation is at e^46.8); below `FAST_LIMIT`
            // (e^43.7) nearly all on the fast path
            let v = (lcg(&mut seed) * 46.0).exp() * if i % 2 == 0 { 1.0 } else { lcg(&mut seed) };
            check(v);
            if v < FAST_LIMIT {
                all += 1;
                fast += u32::from(fast_code(v).is_some());
            }
        }
        assert!(
            fast as f64 >= 0.999 * all as f64,
            "{fast} of {all} on the fast path"
        );
        for v in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            check(v);
        }
        check(FAST_LIMIT);
        check(FAST_LIMIT.next_down());
    }

    /// The error bound [`UNDECIDED`] rests on: the approximation stays
    /// within 10⁻⁷ codes of libm's `ln_1p` (tenfold margin).
    #[test]
    fn fast_ln_1p_error_is_below_its_bound() {
        let mut seed = 23;
        let mut worst = 0f64;
        let mut at = 0.0;
        for i in 0..2_000_000u32 {
            let v = match i % 3 {
                0 => f64::from(i),
                1 => (lcg(&mut seed) * 43.7).exp(),
                _ => lcg(&mut seed) * 4.0,
            };
            let Some(x) = fast_scaled_ln_1p(v) else {
                continue;
            };
            let err = (x - v.ln_1p() * LOG_SCALE).abs();
            if err > worst {
                (worst, at) = (err, v);
            }
        }
        assert!(worst < 1e-7, "{worst:e} at {at:e}");
        const { assert!(UNDECIDED >= 10.0 * 1e-7) };
    }

    #[test]
    fn sketch_is_small() {
        let entry = std::mem::size_of::<((IpAddr, IpAddr), PairSketch)>();
        assert!(entry <= 184, "{entry}");
    }

    #[test]
    fn clock_jumps_and_duplicates_are_counted_and_make_no_gaps() {
        // 30 beats a minute apart; one record a year behind (a clock step
        // back), then a duplicate of the latest and 20 more beats.
        let mut ts: Vec<Micros> = (0..30).map(|i| i * 60 * S).collect();
        ts.push(ts[29] - 365 * 86_400 * S);
        ts.push(ts[29]);
        ts.extend((30..50).map(|i| i * 60 * S));
        let s = sketch(&ts, 500);
        assert_eq!((s.rewinds(), s.late(), s.duplicates()), (1, 0, 1));
        assert_eq!(s.beats(), 50);
        let sc = score_pair(&s, (0, 50 * 60 * S), 1, 100, 6).expect("scored");
        assert!((sc.period - 60.0).abs() < 0.1, "{sc:?}");
        assert_eq!(sc.sleeps, 0, "{sc:?}");
        assert!(sc.periodicity >= 0.85, "{sc:?}");
        // a jump a year ahead: one sleep, the records after it are rewinds
        let mut ahead: Vec<Micros> = (0..30).map(|i| i * 60 * S).collect();
        ahead.push(365 * 86_400 * S);
        ahead.extend((30..40).map(|i| i * 60 * S));
        let s = sketch(&ahead, 500);
        assert_eq!(s.rewinds(), 10);
        let sc = score_pair(&s, (0, 40 * 60 * S), 1, 100, 6).expect("scored");
        assert!((sc.period - 60.0).abs() < 0.1, "{sc:?}");
    }

    /// Runs `events` (host index, endpoint index, timestamp, bytes) through a
    /// detector with `batch`, as flows, and returns its candidates and stats.
    fn run_flows(
        events: &[(u8, u8, Micros, u64)],
        batch: usize,
        max_pairs: usize,
    ) -> (Vec<String>, BeaconStats) {
        use crate::model::{Flow, Proto};
        let home = home_10();
        let ctx = Context {
            home: &home,
            geo: None,
        };
        let mut d = BeaconDetector::new(BeaconConfig {
            batch,
            max_pairs,
            ..BeaconConfig::default()
        });
        for (line, &(h, e, ts, bytes)) in events.iter().enumerate() {
            let dst = if e % 3 == 2 {
                IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(e)])
            } else {
                IpAddr::from([45, 1, 2, e])
            };
            let ev = Event::Flow(Flow {
                ts,
                duration: 0,
                proto: Proto::Tcp,
                src: IpAddr::from([10, 0, 0, h]),
                sport: 40000,
                dst,
                dport: 443,
                src_bytes: bytes / 3,
                dst_bytes: bytes,
                packets: 4,
                label: None,
            });
            let rec = RecordRef {
                input: (line % 3) as u32,
                line: line as u64,
            };
            d.observe(rec, &ev, &ctx, &mut |_| {});
        }
        let found = d.candidates(0.0);
        let text = found
            .iter()
            .map(|c| format!("{} {} {:?} {:?}", c.victim, c.controller, c.score, c.sketch))
            .collect();
        (text, d.stats.clone())
    }

    #[test]
    fn batched_feed_finds_beacons_and_fills_up_like_one_at_a_time() {
        // 4 hosts × 5 endpoints beaconing every minute, interleaved, with
        // one late record in ten: the equivalence above is not vacuous.
        let events: Vec<(u8, u8, Micros, u64)> = (0..40i64)
            .flat_map(|i| {
                (0..20u8).map(move |p| {
                    let late = if (i + i64::from(p)) % 10 == 3 {
                        90 * S
                    } else {
                        0
                    };
                    (p % 4, p / 4, i * 60 * S + i64::from(p) * S - late, 500)
                })
            })
            .collect();
        let one = run_flows(&events, 0, usize::MAX);
        assert_eq!(one.0.len(), 20, "{:?}", one.0);
        assert!(one.1.late > 0, "{:?}", one.1);
        assert_eq!(run_flows(&events, 7, usize::MAX), one);
        let full = run_flows(&events, 0, 6);
        assert_eq!(full.0.len(), 6);
        assert_eq!(full.1.untracked, 14 * 40);
        assert_eq!(run_flows(&events, 33, 6), full);
    }

    #[test]
    fn heartbeat_inside_one_connection_is_scored_from_its_exchanges() {
        use crate::model::{Exchange, Flow, Proto};
        let home = home_10();
        let ctx = Context {
            home: &home,
            geo: None,
        };
        let (src, dst) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([45, 1, 2, 3]));
        let run = |with_exchanges: bool| {
            let mut d = BeaconDetector::default();
            if with_exchanges {
                for i in 0..40u32 {
                    let ev = Event::Exchange(Exchange {
                        ts: i64::from(i) * 20 * S,
                        src,
                        sport: 40000,
                        dst,
                        dport: 7010,
                        src_bytes: 0,
                        dst_bytes: 1,
                        index: i,
                    });
                    d.observe(REC, &ev, &ctx, &mut |_| {});
                }
            }
            // The connection itself: one flow over the whole span.
            let ev = Event::Flow(Flow {
                ts: 0,
                duration: 39 * 20 * S,
                proto: Proto::Tcp,
                src,
                sport: 40000,
                dst,
                dport: 7010,
                src_bytes: 0,
                dst_bytes: 40,
                packets: 160,
                label: None,
            });
            d.observe(REC, &ev, &ctx, &mut |_| {});
            d.candidates(0.0)
        };
        assert!(run(false).is_empty());
        let found = run(true);
        assert_eq!(found.len(), 1, "{found:?}");
        let c = &found[0];
        assert!((c.score.period - 20.0).abs() < 0.1, "{:?}", c.score);
        assert!(c.score.score > 0.9, "{:?}", c.score);
        // timing only: no corroboration, so a lone heartbeat stays below 0.6
        assert!(!c.bare && c.confidence() < 0.6, "{}", c.confidence());
    }

    proptest! {
        /// Batching flows changes nothing: the same sketches, scores,
        /// findings and counters as one-at-a-time feeding, for streams with
        /// late, duplicate and clock-stepped records, IPv4 and IPv6
        /// endpoints, any batch size and a table that fills up.
        #[test]
        fn batched_equals_unbatched(
            evs in proptest::collection::vec(
                (0u8..5, 0u8..6, 0u8..8, 0i64..4_000, 0u64..3000),
                1..600,
            ),
            batch in 1usize..70,
            max_pairs in prop_oneof![Just(usize::MAX), 1usize..30],
        ) {
            let mut t: Micros = 0;
            let mut last: Micros = 0;
            let events: Vec<(u8, u8, Micros, u64)> = evs
                .iter()
                .map(|&(h, e, kind, x, b)| {
                    t += 20 * S;
                    let ts = match kind {
                        0 => last,                    // duplicate of the previous record
                        1 => t - x * S,               // late, by up to an hour
                        2 => t - REWIND - x * S,      // clock step back
                        3 => t + x * 1000,            // within a burst
                        _ => t + x * S / 4,
                    };
                    last = ts;
                    (h, e, ts, b)
                })
                .collect();
            let one = run_flows(&events, 0, max_pairs);
            let batched = run_flows(&events, batch, max_pairs);
            prop_assert_eq!(&one.0, &batched.0);
            prop_assert_eq!(&one.1, &batched.1);
        }

        #[test]
        fn absurd_inputs_never_panic(
            evs in proptest::collection::vec((any::<i64>(), any::<u64>()), 1..200),
            burst in 0i64..10_000_000,
        ) {
            let mut s = PairSketch::new(evs[0].0, evs[0].1, REC);
            for &(t, b) in &evs[1..] {
                s.add(t, b, REC, burst);
            }
            prop_assert_eq!(s.flows() as usize, evs.len());
            prop_assert!(s.beats() as usize + s.late() as usize + s.rewinds() as usize <= evs.len());
            if let Some(sc) = score_pair(&s, (i64::MIN, i64::MAX), 1, 1, 1) {
                prop_assert!((0.0..=1.0).contains(&sc.score));
            }
        }

        #[test]
        fn order_of_a_beacon_does_not_matter_much(shift in 0usize..50) {
            // the same beacon with one record delivered late is still found
            let mut ts: Vec<Micros> = (0..50).map(|i| i * 60 * S).collect();
            let late = ts.remove(shift);
            ts.push(late);
            prop_assert!(score(&ts) >= 0.85);
        }
    }
}
