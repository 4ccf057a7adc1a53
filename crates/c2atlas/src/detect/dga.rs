//! DGA domains: a character-level model scoring each queried name, and
//! NXDOMAIN bursts per host.
//!
//! The model (`models/dga_model.bin`, format 3, trained by
//! `examples/train_dga.rs` on `shared/data/dga/` only) is one logistic
//! regression over
//! - eleven dense features of the *generated label* (the registered domain
//!   without its public suffix): its mean log-probability under a benign and a
//!   DGA order-2 Markov character model (`P(c3 | c1 c2)` over the alphabet
//!   `a-z 0-9 - other ^`, quantised to bytes; together they give the
//!   log-likelihood ratio), length, digit ratio, vowel ratio, character
//!   entropy, longest consonant run, fraction of trigrams the benign model
//!   finds rare, distinct characters, letter↔digit switches and
//!   consonant↔vowel alternation;
//! - a bag of hashed tokens learnt discriminatively (the model's
//!   [`TokenSpec`]; shipped: 2^17 buckets of `i8`): the character 2- to
//!   6-grams of `^label$`, the 2- to 5-grams of its character classes
//!   (consonant, vowel, `y`, digit, hyphen: the pronounceability pattern
//!   whatever the letters), the public suffix, the label length and the
//!   suffix joined with the length (a generator fixes both).
//!
//! Scores are in [0, 1]; the model's threshold is set at 1 % FPR on benign
//! names. Scoring one name is a public-suffix lookup, one pass over the label
//! for the features and ≈ 11 table reads per character.
//!
//! The detector emits, per domestic host, a finding for every DGA-looking name
//! that resolved (controller: the address it resolved to) and, at the end, one
//! finding per host whose failed lookups form a burst (controller: the name of
//! the most DGA-like failed name, since no address is known).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use super::names::{MAX_NAME_LEN, is_victim, normalise, strip_port};
use super::{Context, Controller, Detector, Finding, Method};
use crate::model::{Event, Micros, RecordRef};

/// Number of dense model features (see [`features`]).
pub const NF: usize = 11;
/// Alphabet size: 26 letters, 10 digits, `-`, any other byte, boundary.
pub const ALPHA: usize = 39;
/// Index of the boundary symbol.
const BOUNDARY: usize = 38;
/// Number of trigram cells in a table.
pub const CELLS: usize = ALPHA * ALPHA * ALPHA;
/// Quantisation of `-ln P` into a byte: `byte = round(-ln P * LP_SCALE)`.
pub const LP_SCALE: f32 = 16.0;
/// A trigram with `-ln P` above this (P < 0.1 %) is "rare" for the benign model.
const RARE_NLP: f32 = 6.9;
/// Magic and version of the model file format.
pub const MAGIC: &[u8; 6] = b"C2ADGA";
/// Format 2 added the hashed n-gram weights (format 1: dense features only);
/// format 3 records the token set in the file ([`TokenSpec`]: n-gram orders,
/// character-class "shape" n-grams, suffix × length tokens).
pub const FORMAT_VERSION: u16 = 3;
/// Longest character n-gram a model may hash (6 bits per symbol fit the key).
pub const NGRAM_LIMIT: u8 = 7;
/// Longest shape n-gram a model may hash (3 bits per class fit the key).
pub const SHAPE_LIMIT: u8 = 8;
/// Hash-table sizes accepted from a model file (2^12 … 2^22 buckets): a
/// corrupt header must not make the loader allocate gigabytes.
const HASH_BITS_RANGE: std::ops::RangeInclusive<u8> = 12..=22;

/// Longest label scored (DNS labels are ≤ 63 octets; a registered-domain label too).
const MAX_LABEL: usize = 63;
/// Longest public suffix hashed as a token (longer ones are cut: still a stable token).
const MAX_SUFFIX: usize = 32;

/// A failed lookup burst: at least this many NXDOMAIN answers to one host in one window…
pub const NX_BURST_MIN: u32 = 20;
/// …within this window (one hour: the CTU-13 evaluation window).
pub const NX_WINDOW: Micros = 3_600_000_000;
/// …for at least this many distinct registered domains (one dead site retried is not a burst).
pub const NX_DISTINCT_MIN: f64 = 15.0;
/// At most this many hosts tracked for NXDOMAIN bursts (then new hosts are counted, not tracked).
pub const MAX_NX_HOSTS: usize = 1 << 20;

/// The shipped model (see the module docs).
static MODEL_BYTES: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/models/dga_model.bin"));

static MODEL: LazyLock<Option<DgaModel>> = LazyLock::new(|| DgaModel::from_bytes(MODEL_BYTES).ok());

/// The shipped model, or `None` if the file in the build is unusable.
pub fn model() -> Option<&'static DgaModel> {
    MODEL.as_ref()
}

/// DGA score in [0, 1] of a domain name (any case, trailing dot and port
/// allowed). 0 for names that have no registered domain or when the model is
/// unusable.
pub fn score_domain(name: &str) -> f64 {
    let Some(m) = model() else { return 0.0 };
    let mut buf = [0u8; MAX_NAME_LEN];
    match normalise_into(name, &mut buf) {
        Some(n) => m.score_name_bytes(n),
        None => 0.0,
    }
}

/// [`normalise`] into a caller's stack buffer: the same result without a heap
/// allocation (the scoring hot path: `score-domains`, bulk triage). The IP
/// literal check only runs for names that could be one (an IPv4 literal ends
/// in a digit, an IPv6 literal holds a `:`; no top-level domain is numeric).
fn normalise_into<'b>(name: &str, buf: &'b mut [u8; MAX_NAME_LEN]) -> Option<&'b [u8]> {
    let name = strip_port(name.trim()).trim_end_matches('.');
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.starts_with('[') {
        return None;
    }
    let b = name.as_bytes();
    if (b.last().is_some_and(u8::is_ascii_digit) || b.contains(&b':'))
        && name.parse::<IpAddr>().is_ok()
    {
        return None;
    }
    let out = buf.get_mut(..b.len())?;
    for (o, &c) in out.iter_mut().zip(b) {
        *o = c.to_ascii_lowercase();
    }
    Some(out)
}

/// A model file that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ModelError {
    #[error("DGA model: bad magic")]
    Magic,
    #[error(
        "DGA model: unsupported format version {0} (this build reads format {FORMAT_VERSION} only; retrain with examples/train_dga.rs or use the matching build)"
    )]
    Version(u16),
    #[error("DGA model: truncated ({0} bytes)")]
    Truncated(usize),
    #[error("DGA model: hash table of 2^{0} buckets is out of range")]
    HashBits(u8),
    #[error("DGA model: token set out of range (n-grams {0}..={1}, shape n-grams 2..={2})")]
    Tokens(u8, u8, u8),
}

/// Which hashed tokens a model uses (stored in the model file, format 3).
///
/// Invariant (checked by [`DgaModel::from_bytes`]):
/// `1 ≤ ngram_min ≤ ngram_max ≤ NGRAM_LIMIT` and `shape_max ≤ SHAPE_LIMIT`
/// (`shape_max < 2`: no shape tokens).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenSpec {
    /// Shortest and longest character n-gram of `^label$`.
    pub ngram_min: u8,
    pub ngram_max: u8,
    /// Longest n-gram (from 2) of the label's character classes
    /// (consonant, vowel, `y`, digit, hyphen, other, boundary): the
    /// pronounceability pattern, independent of the letters themselves.
    pub shape_max: u8,
    /// Also hash the public suffix joined with the label length (a
    /// generator fixes both: 8 letters under `.ru`).
    pub suffix_len: bool,
}

impl TokenSpec {
    fn valid(&self) -> bool {
        (1..=self.ngram_max).contains(&self.ngram_min)
            && self.ngram_max <= NGRAM_LIMIT
            && self.shape_max <= SHAPE_LIMIT
    }
}

/// A loaded DGA model: a logistic regression over [`NF`] dense features of
/// the generated label and a bag of hashed tokens (character n-grams of the
/// label, their character-class shapes, the public suffix and length; the
/// set is the model's [`TokenSpec`]).
///
/// `score = sigmoid(bias + Σ weights·(x − mean)/scale + hash_scale · Σ hashed[token])`
#[derive(Clone, Debug)]
pub struct DgaModel {
    /// Training run identifier (the trainer writes a date-free counter).
    pub model_version: u32,
    /// Score above which a name is called DGA (the trainer sets it at 1 % FPR
    /// on out-of-fold scores of benign training names).
    pub threshold: f32,
    pub weights: [f32; NF],
    pub bias: f32,
    pub mean: [f32; NF],
    pub scale: [f32; NF],
    /// `-ln P(c3|c1 c2)` × [`LP_SCALE`] for benign names.
    pub benign: Vec<u8>,
    /// The same for DGA names.
    pub dga: Vec<u8>,
    /// log2 of the number of hashed-token buckets.
    pub hash_bits: u8,
    /// Which tokens are hashed (see [`for_each_token`]).
    pub tokens: TokenSpec,
    /// Weight of one quantisation step of `hashed`.
    pub hash_scale: f32,
    /// Quantised token weights (`2^hash_bits` entries).
    pub hashed: Vec<i8>,
}

fn sym(b: u8) -> usize {
    match b {
        b'a'..=b'z' => usize::from(b - b'a'),
        b'A'..=b'Z' => usize::from(b - b'A'),
        b'0'..=b'9' => 26 + usize::from(b - b'0'),
        b'-' => 36,
        _ => 37,
    }
}

/// Calls `f` with the trigram cell index of every trigram of `^label$`.
pub fn for_each_trigram(label: &[u8], mut f: impl FnMut(usize)) {
    let (mut a, mut b) = (BOUNDARY, BOUNDARY);
    for &c in label.iter().take(MAX_LABEL) {
        let c = sym(c);
        if !(a == BOUNDARY && b == BOUNDARY) {
            f((a * ALPHA + b) * ALPHA + c);
        }
        a = b;
        b = c;
    }
    f((a * ALPHA + b) * ALPHA + BOUNDARY);
}

#[inline]
fn bucket(key: u64, bits: u8) -> usize {
    // Multiply-shift hashing (Fibonacci constant): keys are small packed
    // integers, so the high bits of the product spread them well.
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - u32::from(bits))) as usize
}

/// Character class of a symbol for the shape tokens: consonant 1, vowel 2,
/// `y` 3, digit 4, hyphen 5, other 6, boundary 7 (0 is never used, so a
/// shorter window never equals a longer one).
#[inline]
fn class(c: usize) -> u64 {
    match c {
        0 | 4 | 8 | 14 | 20 => 2, // a e i o u
        24 => 3,                  // y
        0..=25 => 1,
        26..=35 => 4,
        36 => 5,
        BOUNDARY => 7,
        _ => 6,
    }
}

/// Tags in the top three key bits keep the token kinds apart.
const TAG_SHAPE: u64 = 1 << 61;
const TAG_LEN: u64 = 2 << 61;
const TAG_SUFFIX: u64 = 4 << 61;
const TAG_SUFFIX_LEN: u64 = 6 << 61;
const TAG_MASK: u64 = (1 << 61) - 1;

/// Calls `f` with the bucket (in `0..2^bits`) of every hashed token of a
/// name under `spec`: each character n-gram of `^label$`
/// (`ngram_min ≤ n ≤ ngram_max`), each shape n-gram (`2 ≤ n ≤ shape_max`),
/// the public suffix, the label length and, if asked, suffix × length.
/// Symbols are packed 6 bits each (classes 3 bits) into the key with the
/// n-gram length above them and a kind tag on top, so distinct tokens have
/// distinct keys before hashing.
pub fn for_each_token(
    label: &[u8],
    suffix: &[u8],
    spec: &TokenSpec,
    bits: u8,
    mut f: impl FnMut(usize),
) {
    let (nmin, nmax) = (usize::from(spec.ngram_min), usize::from(spec.ngram_max));
    let smax = usize::from(spec.shape_max);
    let mut window: u64 = BOUNDARY as u64;
    let mut shape: u64 = class(BOUNDARY);
    let mut have = 1usize;
    let label = &label[..label.len().min(MAX_LABEL)];
    let mut push = |c: usize| {
        window = ((window << 6) | c as u64) & ((1u64 << (6 * NGRAM_LIMIT as usize)) - 1);
        shape = ((shape << 3) | class(c)) & ((1u64 << (3 * SHAPE_LIMIT as usize)) - 1);
        have += 1;
        for n in nmin..=nmax.min(have) {
            let key = (window & ((1u64 << (6 * n)) - 1)) | ((n as u64) << 48);
            f(bucket(key, bits));
        }
        for n in 2..=smax.min(have) {
            let key = (shape & ((1u64 << (3 * n)) - 1)) | ((n as u64) << 48) | TAG_SHAPE;
            f(bucket(key, bits));
        }
    };
    for &c in label {
        push(sym(c));
    }
    push(BOUNDARY);
    // The suffix token: FNV-1a of its bytes, tagged so it cannot equal an n-gram key.
    let h = suffix
        .iter()
        .take(MAX_SUFFIX)
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    f(bucket((h & TAG_MASK) | TAG_SUFFIX, bits));
    // The label length as a token: a non-linear length prior.
    let len = label.len() as u64;
    f(bucket(len | TAG_LEN, bits));
    if spec.suffix_len {
        let k = (h ^ len).wrapping_mul(0x0100_0000_01b3);
        f(bucket((k & TAG_MASK) | TAG_SUFFIX_LEN, bits));
    }
}

/// The raw (unstandardised) dense features of a label given the two tables:
/// mean benign `-ln P`, mean DGA `-ln P`, length / 10, digit ratio, vowel
/// ratio, character entropy, longest consonant run / length, fraction of
/// trigrams rare for the benign model, distinct characters / length,
/// letter↔digit transitions / length and consonant↔vowel alternations /
/// letters (pronounceable generators alternate almost perfectly).
pub fn features(label: &str, benign: &[u8], dga: &[u8]) -> [f32; NF] {
    features_bytes(label.as_bytes(), benign, dga)
}

/// `c · log2 c` for every count a label can hold (`0 ≤ c ≤ MAX_LABEL`), and
/// `log2 n` likewise: the entropy of a label is then
/// `log2 n − Σ c·log2 c / n` with no logarithm per name (scoring hot path).
static LOG2_TABLES: LazyLock<([f32; MAX_LABEL + 1], [f32; MAX_LABEL + 1])> = LazyLock::new(|| {
    let mut clog = [0f32; MAX_LABEL + 1];
    let mut log = [0f32; MAX_LABEL + 1];
    for c in 1..=MAX_LABEL {
        log[c] = (c as f32).log2();
        clog[c] = c as f32 * log[c];
    }
    (clog, log)
});

/// [`features`] of a label given as bytes.
fn features_bytes(label: &[u8], benign: &[u8], dga: &[u8]) -> [f32; NF] {
    let bytes = &label[..label.len().min(MAX_LABEL)];
    let (mut lb, mut ld, mut n, mut rare) = (0f32, 0f32, 0f32, 0f32);
    for_each_trigram(bytes, |i| {
        let nb = f32::from(benign.get(i).copied().unwrap_or(255)) / LP_SCALE;
        let nd = f32::from(dga.get(i).copied().unwrap_or(255)) / LP_SCALE;
        lb += nb;
        ld += nd;
        n += 1.0;
        if nb > RARE_NLP {
            rare += 1.0;
        }
    });
    let len = bytes.len().max(1) as f32;
    let mut counts = [0u32; ALPHA];
    let (mut digits, mut vowels, mut letters, mut run, mut max_run) =
        (0f32, 0f32, 0f32, 0u32, 0u32);
    let (mut switches, mut prev_digit) = (0f32, None::<bool>);
    let (mut alternations, mut prev_vowel) = (0f32, None::<bool>);
    for &c in bytes {
        counts[sym(c)] += 1;
        let lc = c.to_ascii_lowercase();
        let is_digit = lc.is_ascii_digit();
        if is_digit {
            digits += 1.0;
        }
        if (is_digit || lc.is_ascii_lowercase()) && prev_digit.is_some_and(|p| p != is_digit) {
            switches += 1.0;
        }
        if is_digit || lc.is_ascii_lowercase() {
            prev_digit = Some(is_digit);
        }
        if lc.is_ascii_lowercase() {
            letters += 1.0;
            let vowel = b"aeiouy".contains(&lc);
            if prev_vowel.is_some_and(|p| p != vowel) {
                alternations += 1.0;
            }
            prev_vowel = Some(vowel);
            if vowel {
                vowels += 1.0;
                run = 0;
            } else {
                run += 1;
                max_run = max_run.max(run);
            }
        } else {
            run = 0;
            prev_vowel = None;
        }
    }
    let (clog, log) = &*LOG2_TABLES;
    let mut sum_clog = 0f32;
    let mut distinct = 0f32;
    for &c in &counts {
        if c > 0 {
            // c ≤ bytes.len() ≤ MAX_LABEL: always inside the table
            sum_clog += clog.get(c as usize).copied().unwrap_or(0.0);
            distinct += 1.0;
        }
    }
    let entropy = if bytes.is_empty() {
        0.0
    } else {
        log.get(bytes.len()).copied().unwrap_or(0.0) - sum_clog / len
    };
    let n = n.max(1.0);
    [
        lb / n,
        ld / n,
        len / 10.0,
        digits / len,
        if letters > 0.0 { vowels / letters } else { 0.0 },
        entropy,
        max_run as f32 / len,
        rare / n,
        distinct / len,
        switches / len,
        alternations / letters.max(1.0),
    ]
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// A little-endian reader over the model bytes that reports truncation.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or(ModelError::Truncated(self.b.len()))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ModelError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn f32(&mut self) -> Result<f32, ModelError> {
        self.u32().map(f32::from_bits)
    }
    fn arr(&mut self) -> Result<[f32; NF], ModelError> {
        let mut a = [0f32; NF];
        for x in &mut a {
            *x = self.f32()?;
        }
        Ok(a)
    }
}

impl DgaModel {
    /// Parses a model file (all numbers little-endian):
    /// magic, `u16` format version, `u32` model version, `f32` threshold,
    /// `f32`×NF weights, `f32` bias, `f32`×NF mean, `f32`×NF scale,
    /// benign table (`CELLS` bytes), DGA table (`CELLS` bytes),
    /// `u8` hash bits, the token set (`u8` n-gram min, `u8` n-gram max,
    /// `u8` shape max, `u8` suffix × length flag: [`TokenSpec`]),
    /// `f32` hash scale, `i8`×2^bits hashed weights.
    pub fn from_bytes(b: &[u8]) -> Result<DgaModel, ModelError> {
        if b.len() < 8 {
            return Err(ModelError::Truncated(b.len()));
        }
        if &b[..6] != MAGIC {
            return Err(ModelError::Magic);
        }
        let v = u16::from_le_bytes([b[6], b[7]]);
        if v != FORMAT_VERSION {
            return Err(ModelError::Version(v));
        }
        let mut r = Reader { b, pos: 8 };
        let model_version = r.u32()?;
        let threshold = r.f32()?;
        let weights = r.arr()?;
        let bias = r.f32()?;
        let mean = r.arr()?;
        let scale = r.arr()?;
        let benign = r.take(CELLS)?.to_vec();
        let dga = r.take(CELLS)?.to_vec();
        let hash_bits = r.take(1)?[0];
        if !HASH_BITS_RANGE.contains(&hash_bits) {
            return Err(ModelError::HashBits(hash_bits));
        }
        let t = r.take(4)?;
        let tokens = TokenSpec {
            ngram_min: t[0],
            ngram_max: t[1],
            shape_max: t[2],
            suffix_len: t[3] != 0,
        };
        if !tokens.valid() || t[3] > 1 {
            return Err(ModelError::Tokens(t[0], t[1], t[2]));
        }
        let hash_scale = r.f32()?;
        let hashed = r
            .take(1usize << hash_bits)?
            .iter()
            .map(|&x| x as i8)
            .collect();
        Ok(DgaModel {
            model_version,
            threshold,
            weights,
            bias,
            mean,
            scale,
            benign,
            dga,
            hash_bits,
            tokens,
            hash_scale,
            hashed,
        })
    }

    /// Serialises in the format read by [`DgaModel::from_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(2 * CELLS + self.hashed.len() + 256);
        o.extend_from_slice(MAGIC);
        o.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        o.extend_from_slice(&self.model_version.to_le_bytes());
        o.extend_from_slice(&self.threshold.to_le_bytes());
        for x in self.weights {
            o.extend_from_slice(&x.to_le_bytes());
        }
        o.extend_from_slice(&self.bias.to_le_bytes());
        for x in self.mean.iter().chain(&self.scale) {
            o.extend_from_slice(&x.to_le_bytes());
        }
        o.extend_from_slice(&self.benign);
        o.extend_from_slice(&self.dga);
        o.push(self.hash_bits);
        let t = &self.tokens;
        o.extend_from_slice(&[
            t.ngram_min,
            t.ngram_max,
            t.shape_max,
            u8::from(t.suffix_len),
        ]);
        o.extend_from_slice(&self.hash_scale.to_le_bytes());
        o.extend(self.hashed.iter().map(|&x| x as u8));
        o
    }

    /// The logit of a generated label under a public suffix.
    pub fn logit(&self, label: &str, suffix: &str) -> f32 {
        self.logit_bytes(label.as_bytes(), suffix.as_bytes())
    }

    fn logit_bytes(&self, label: &[u8], suffix: &[u8]) -> f32 {
        let f = features_bytes(label, &self.benign, &self.dga);
        let mut z = self.bias;
        for (i, x) in f.iter().enumerate() {
            let s = if self.scale[i] > 0.0 {
                self.scale[i]
            } else {
                1.0
            };
            z += self.weights[i] * (x - self.mean[i]) / s;
        }
        let mut h = 0i32;
        for_each_token(label, suffix, &self.tokens, self.hash_bits, |i| {
            h += i32::from(self.hashed.get(i).copied().unwrap_or(0));
        });
        z + self.hash_scale * h as f32
    }

    /// Score of a generated label under a public suffix (see [`split_name`]).
    pub fn score_label(&self, label: &str, suffix: &str) -> f64 {
        if label.is_empty() {
            return 0.0;
        }
        f64::from(sigmoid(self.logit(label, suffix)))
    }

    /// Score of a normalised domain name (its generated label and suffix).
    pub fn score_name(&self, name: &str) -> f64 {
        self.score_name_bytes(name.as_bytes())
    }

    /// [`DgaModel::score_name`] of a normalised name given as bytes.
    fn score_name_bytes(&self, name: &[u8]) -> f64 {
        match split_bytes(name) {
            Some((l, s)) if !l.is_empty() => f64::from(sigmoid(self.logit_bytes(l, s))),
            _ => 0.0,
        }
    }

    /// Whether a score calls the name DGA.
    pub fn is_dga(&self, score: f64) -> bool {
        score >= f64::from(self.threshold)
    }
}

/// A normalised name's generated label and its public suffix
/// (`a.xkqz.co.uk` → (`xkqz`, `co.uk`)); `None` without a registered domain.
pub fn split_name(name: &str) -> Option<(&str, &str)> {
    let (l, s) = split_bytes(name.as_bytes())?;
    // Both are sub-slices of `name` cut at ASCII dots, so still UTF-8.
    Some((std::str::from_utf8(l).ok()?, std::str::from_utf8(s).ok()?))
}

/// [`split_name`] on bytes (no UTF-8 check: the scoring hot path).
fn split_bytes(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let dom = psl::domain(name)?;
    let suffix_len = dom.suffix().as_bytes().len();
    let reg = dom.as_bytes();
    let cut = reg.len().checked_sub(suffix_len + 1)?;
    let label = reg.get(..cut).filter(|l| !l.is_empty())?;
    let suffix = reg.get(cut + 1..)?;
    Some((label, suffix))
}

/// Failed-lookup state of one host.
#[derive(Clone, Debug)]
struct NxState {
    window_start: Micros,
    in_window: u32,
    dga_in_window: u32,
    /// Distinct registered domains that failed in the window (linear counting).
    domains: [u64; 4],
    /// Best window so far: (count, DGA-like count, distinct registered domains).
    best: (u32, u32, f64),
    top_name: Option<(f64, Arc<str>)>,
    /// The first failed name (shown when none looks generated).
    any_name: Option<(f64, Arc<str>)>,
    first: (Micros, RecordRef),
    last: Micros,
}

/// The DGA detector (see the module docs).
pub struct DgaDetector {
    model: Option<&'static DgaModel>,
    nx: HashMap<IpAddr, NxState, foldhash::fast::RandomState>,
    /// Hosts not tracked because [`MAX_NX_HOSTS`] was reached.
    pub untracked_hosts: u64,
}

impl Default for DgaDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl DgaDetector {
    pub fn new() -> Self {
        DgaDetector {
            model: model(),
            nx: HashMap::default(),
            untracked_hosts: 0,
        }
    }
}

fn is_nx(rcode: Option<&str>) -> bool {
    rcode.is_some_and(|r| r.eq_ignore_ascii_case("NXDOMAIN") || r == "3")
}

impl Detector for DgaDetector {
    fn name(&self) -> &'static str {
        "dga"
    }

    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        out: &mut dyn FnMut(Finding),
    ) {
        let Event::Dns(d) = ev else { return };
        let Some(model) = self.model else { return };
        let Some(name) = normalise(&d.query) else {
            return;
        };
        if !is_victim(ctx, d.src) {
            return;
        }
        let score = model.score_name(&name);
        let dga = model.is_dga(score);
        if is_nx(d.rcode.as_deref()) {
            let tracked = self.nx.len() < MAX_NX_HOSTS || self.nx.contains_key(&d.src);
            if !tracked {
                self.untracked_hosts += 1;
                return;
            }
            let st = self.nx.entry(d.src).or_insert_with(|| NxState {
                window_start: d.ts,
                in_window: 0,
                dga_in_window: 0,
                domains: [0; 4],
                best: (0, 0, 0.0),
                top_name: None,
                any_name: None,
                first: (d.ts, rec),
                last: d.ts,
            });
            if d.ts.saturating_sub(st.window_start) > NX_WINDOW || d.ts < st.window_start {
                st.window_start = d.ts;
                st.in_window = 0;
                st.dga_in_window = 0;
                st.domains = [0; 4];
            }
            st.in_window = st.in_window.saturating_add(1);
            st.dga_in_window = st.dga_in_window.saturating_add(u32::from(dga));
            let reg = super::names::registered_domain(&name).unwrap_or(&name);
            let slot = (reg.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            }) >> 56) as usize;
            st.domains[slot / 64] |= 1 << (slot % 64);
            if st.in_window > st.best.0 {
                let zeros: u32 = st.domains.iter().map(|w| w.count_zeros()).sum();
                let distinct = if zeros == 0 {
                    1420.0
                } else {
                    -256.0 * (f64::from(zeros) / 256.0).ln()
                };
                st.best = (st.in_window, st.dga_in_window, distinct);
            }
            st.last = st.last.max(d.ts);
            if st.any_name.is_none() {
                st.any_name = Some((score, Arc::from(name.as_str())));
            }
            if dga && st.top_name.as_ref().is_none_or(|(s, _)| score > *s) {
                st.top_name = Some((score, Arc::from(name.as_str())));
            }
            return;
        }
        if !dga {
            return;
        }
        for a in &d.answers {
            if let Ok(ip) = a.parse::<IpAddr>() {
                if !super::names::routable(ip) {
                    continue; // sinkholed to loopback or a private address: no controller
                }
                out(Finding {
                    victim: d.src,
                    controller: Controller::Ip(ip),
                    method: Method::Dga,
                    confidence: score,
                    indicator: None,
                    ts: d.ts,
                    flows: 0,
                    bytes: 0,
                    rec,
                    explanation: Some(Arc::from(format!(
                        "resolved {name} whose label scores {score:.2} on the DGA model (threshold {:.2})",
                        model.threshold
                    ))),
                });
            }
        }
    }

    fn finish(&mut self, _ctx: &Context<'_>, out: &mut dyn FnMut(Finding)) {
        let mut hosts: Vec<_> = self.nx.iter().collect();
        hosts.sort_by_key(|(ip, _)| **ip);
        for (&victim, st) in hosts {
            let (count, dga, distinct) = st.best;
            if count < NX_BURST_MIN || distinct < NX_DISTINCT_MIN {
                continue;
            }
            let Some((top, name)) = st.top_name.as_ref().or(st.any_name.as_ref()) else {
                continue;
            };
            let frac = f64::from(dga) / f64::from(count);
            // Many distinct registered domains failing is the DGA signature in
            // itself (benign clients fail on a few names, retried); a DGA-like
            // share raises confidence. 0.6 for a bare burst of distinct names,
            // up to 0.95 when they also look generated.
            let size = 1.0 - (-distinct / NX_DISTINCT_MIN).exp();
            let confidence = (size * (0.65 + 0.3 * frac)).clamp(0.0, 1.0);
            out(Finding {
                victim,
                controller: Controller::Name(name.clone()),
                method: Method::Dga,
                confidence,
                indicator: None,
                ts: st.first.0,
                flows: 0,
                bytes: 0,
                rec: st.first.1,
                explanation: Some(Arc::from(format!(
                    "burst of {count} NXDOMAIN answers within an hour for ≈{distinct:.0} registered domains, {dga} of them DGA-like; e.g. {name} ({top:.2})"
                ))),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_model_loads_and_separates() {
        let m = model().expect("shipped model parses");
        assert!(m.threshold > 0.0 && m.threshold < 1.0);
        for benign in [
            "google.com",
            "www.facebook.com",
            "wikipedia.org",
            "bbc.co.uk",
            "amazon.de",
        ] {
            assert!(
                !m.is_dga(score_domain(benign)),
                "{benign}: {}",
                score_domain(benign)
            );
        }
        for dga in [
            "xgvwgynjeuypbajfxwzpzmreiucdi.ru",
            "1sbh3891b5qfxt3dszss1grf20g.biz",
            "eiyoesgwgagqgyue.org",
        ] {
            assert!(m.is_dga(score_domain(dga)), "{dga}: {}", score_domain(dga));
        }
    }

    #[test]
    fn model_roundtrips_and_rejects_garbage() {
        let m = model().expect("model");
        let b = m.to_bytes();
        let m2 = DgaModel::from_bytes(&b).expect("roundtrip");
        assert_eq!(m2.weights, m.weights);
        assert_eq!(
            DgaModel::from_bytes(b"nope").unwrap_err(),
            ModelError::Truncated(4)
        );
        assert_eq!(
            DgaModel::from_bytes(b"C2ADGA\x09\x00").unwrap_err(),
            ModelError::Version(9)
        );
        assert!(matches!(
            DgaModel::from_bytes(&b[..100]),
            Err(ModelError::Truncated(100))
        ));
        // the hashed table cut short, and an absurd table size in the header
        assert!(matches!(
            DgaModel::from_bytes(&b[..b.len() - 1]),
            Err(ModelError::Truncated(_))
        ));
        let mut bad = b.clone();
        bad[8 + 4 + 4 + 4 * (3 * NF + 1) + 2 * CELLS] = 60;
        assert_eq!(
            DgaModel::from_bytes(&bad).unwrap_err(),
            ModelError::HashBits(60)
        );
        // scoring is the same after the round trip
        for n in ["google.com", "xgvwgynjeuypbajfxwzpzmreiucdi.ru"] {
            assert_eq!(m2.score_name(n), m.score_name(n));
        }
    }

    proptest::proptest! {
        #[test]
        fn score_is_a_probability(s in ".{0,300}") {
            let x = score_domain(&s);
            proptest::prop_assert!((0.0..=1.0).contains(&x));
        }

        /// The allocation-free normaliser of the hot path agrees with
        /// `names::normalise`, and scoring through it equals scoring the
        /// normalised string.
        #[test]
        fn normalise_into_matches_normalise(s in "[ a-zA-Z0-9.:\\[\\]É-]{0,40}") {
            let mut buf = [0u8; MAX_NAME_LEN];
            let fast = normalise_into(&s, &mut buf).map(<[u8]>::to_vec);
            let slow = normalise(&s).map(String::into_bytes);
            proptest::prop_assert_eq!(&fast, &slow);
            if let (Some(m), Some(n)) = (model(), normalise(&s)) {
                proptest::prop_assert_eq!(score_domain(&s), m.score_name(&n));
            }
        }
    }

    #[test]
    fn normalise_into_edge_cases() {
        let mut buf = [0u8; MAX_NAME_LEN];
        for s in [
            "WWW.Example.COM.",
            "1.2.3.4",
            "::1",
            "[::1]:53",
            "host:8080",
            "",
            "...",
            "a.b9",
        ] {
            let fast = normalise_into(s, &mut buf).map(<[u8]>::to_vec);
            assert_eq!(fast, normalise(s).map(String::into_bytes), "{s}");
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(normalise_into(&long, &mut buf).is_none());
    }

    #[test]
    fn loader_rejects_a_bad_token_set_and_names_the_format() {
        let b = model().expect("model").to_bytes();
        // the token set follows the hash-bits byte: n-gram min, max, shape max, flag
        let at = 8 + 4 + 4 + 4 * (3 * NF + 1) + 2 * CELLS + 1;
        for (off, v) in [(0, 0u8), (1, NGRAM_LIMIT + 1), (2, SHAPE_LIMIT + 1), (3, 2)] {
            let mut bad = b.clone();
            bad[at + off] = v;
            assert!(
                matches!(DgaModel::from_bytes(&bad), Err(ModelError::Tokens(..))),
                "byte {off} = {v}"
            );
        }
        // a format-2 file (the previous layout) is refused with a message saying why
        let mut old = b.clone();
        old[6] = 2;
        let e = DgaModel::from_bytes(&old).unwrap_err();
        assert_eq!(e, ModelError::Version(2));
        assert!(e.to_string().contains("reads format 3"), "{e}");
    }

    /// Tokens of `label` that `spec` adds over the same spec without shape n-grams.
    fn shape_tokens(label: &str, spec: TokenSpec) -> Vec<usize> {
        let collect = |s: &TokenSpec| {
            let mut v = Vec::new();
            for_each_token(label.as_bytes(), b"com", s, 17, |i| v.push(i));
            v
        };
        let plain = collect(&TokenSpec {
            shape_max: 0,
            ..spec
        });
        let mut all = collect(&spec);
        for t in plain {
            let i = all.iter().position(|&x| x == t).expect("superset");
            all.swap_remove(i);
        }
        all.sort_unstable();
        all
    }

    #[test]
    fn shape_tokens_see_the_pattern_not_the_letters() {
        let spec = TokenSpec {
            ngram_min: 2,
            ngram_max: 6,
            shape_max: 5,
            suffix_len: true,
        };
        // Simda-like CVCyCVC names share every shape token, whatever their letters…
        let a = shape_tokens("gacyfew", spec);
        // n = 2..=5 over the 9 symbols of `^gacyfew$`: 1 + 2 + 3 + 4 × 5 windows
        assert_eq!(a.len(), 26);
        assert_eq!(a, shape_tokens("hobyzaq", spec));
        // …and differ from a consonant cluster of the same length.
        assert_ne!(a, shape_tokens("gstrkpw", spec));
        // digits are a class of their own
        assert_ne!(shape_tokens("ab12", spec), shape_tokens("abcd", spec));
    }
}
