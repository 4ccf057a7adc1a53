//! Names the simulator invents: Zeek connection UIDs, C2 domains, benign
//! domains, malware family labels.
//!
//! Invariant: C2 domains and benign domains use disjoint top-level domains,
//! so no benign name can match a C2 domain indicator, even by suffix.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// TLDs C2 domains are registered under (cheap or lax registries).
pub(crate) const C2_TLDS: [&str; 8] = ["net", "info", "biz", "ru", "cc", "pw", "top", "xyz"];
/// TLDs benign names use; disjoint from [`C2_TLDS`].
pub(crate) const BENIGN_TLDS: [&str; 4] = ["com", "org", "cn", "com.cn"];

const WORDS: [&str; 32] = [
    "apple", "river", "cloud", "stone", "tiger", "ocean", "maple", "delta", "pixel", "lunar",
    "amber", "cedar", "frost", "ember", "noble", "quick", "solar", "swift", "vivid", "zephyr",
    "orbit", "prime", "metro", "union", "north", "green", "happy", "smart", "photo", "music",
    "travel", "market",
];

/// Feodo Tracker family names (the feed's `malware` column).
pub(crate) const FAMILIES: [&str; 6] = ["Feodo", "Cridex", "Dridex", "Heodo", "TrickBot", "QakBot"];

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A Zeek-style connection UID: `C` + 17 base-62 characters.
pub(crate) fn uid(rng: &mut ChaCha8Rng, out: &mut String) {
    out.clear();
    out.push('C');
    let mut x: u128 = rng.random();
    for _ in 0..17 {
        out.push(char::from(BASE62[(x % 62) as usize]));
        x /= 62;
    }
}

/// A C2 domain: either DGA-looking (10–16 random letters) or two words and
/// digits, under one of [`C2_TLDS`].
pub(crate) fn c2_domain(rng: &mut ChaCha8Rng) -> String {
    let tld = C2_TLDS[rng.random_range(0..C2_TLDS.len())];
    if rng.random_bool(0.6) {
        let len = rng.random_range(10..=16);
        let label: String = (0..len)
            .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
            .collect();
        format!("{label}.{tld}")
    } else {
        let a = WORDS[rng.random_range(0..WORDS.len())];
        let b = WORDS[rng.random_range(0..WORDS.len())];
        let n: u32 = rng.random_range(1..1000);
        format!("{a}{b}{n}.{tld}")
    }
}

/// The name of benign server number `i` (unique per `i`).
pub(crate) fn benign_domain(i: usize) -> String {
    let a = WORDS[i % WORDS.len()];
    let b = WORDS[(i / WORDS.len()) % WORDS.len()];
    let tld = BENIGN_TLDS[i % BENIGN_TLDS.len()];
    format!("www.{a}-{b}{i}.{tld}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tld_sets_are_disjoint_and_names_use_them() {
        for t in C2_TLDS {
            assert!(!BENIGN_TLDS.iter().any(|b| b.ends_with(t) || t.ends_with(b)));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let d = c2_domain(&mut rng);
            assert!(C2_TLDS.iter().any(|t| d.ends_with(&format!(".{t}"))), "{d}");
        }
        assert_ne!(benign_domain(1), benign_domain(33));
        assert!(benign_domain(7).starts_with("www."));
    }

    #[test]
    fn uid_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut s = String::new();
        uid(&mut rng, &mut s);
        assert_eq!(s.len(), 18);
        assert!(s.starts_with('C') && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
}
