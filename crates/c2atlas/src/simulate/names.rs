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

/// A Zeek-style connection UID: `C` + 17 base-62 characters (10 from one
/// random word, 7 from another: 62^10 < 2^64, and u64 division is cheap).
pub(crate) fn uid(rng: &mut ChaCha8Rng, out: &mut String) {
    out.clear();
    out.push('C');
    for (n, mut x) in [(10, rng.random::<u64>()), (7, rng.random::<u64>())] {
        for _ in 0..n {
            out.push(char::from(BASE62[(x % 62) as usize]));
            x /= 62;
        }
    }
}

/// Appends `ip` in dotted-quad form (faster than `Ipv4Addr`'s `Display`,
/// which goes through the padding-aware formatter).
pub(crate) fn push_ipv4(out: &mut String, ip: u32) {
    for (k, shift) in [24u32, 16, 8, 0].into_iter().enumerate() {
        if k > 0 {
            out.push('.');
        }
        let o = (ip >> shift) as u8;
        if o >= 100 {
            out.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            out.push(char::from(b'0' + (o / 10) % 10));
        }
        out.push(char::from(b'0' + o % 10));
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

/// `n` names for scoring benchmarks (`benches/detect.rs`,
/// `examples/bench_dga.rs`), the same for every call: half two-word names
/// under `www.`, half random letters, under common suffixes.
pub fn bench_domains(n: usize) -> Vec<String> {
    let words = [
        "mail", "shop", "news", "cloud", "bank", "photo", "data", "secure", "online", "market",
    ];
    let tlds = ["com", "net", "org", "ru", "co.uk", "de", "info", "biz"];
    let mut x: u64 = 0x1234_5678;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let tld = tlds[(x >> 60) as usize % tlds.len()];
            if i % 2 == 0 {
                format!(
                    "www.{}{}.{tld}",
                    words[(x >> 33) as usize % 10],
                    words[(x >> 40) as usize % 10]
                )
            } else {
                let len = 8 + (x >> 58) as usize % 12;
                let s: String = (0..len)
                    .map(|k| (b'a' + ((x >> (k * 3 % 60)) % 26) as u8) as char)
                    .collect();
                format!("{s}.{tld}")
            }
        })
        .collect()
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
    fn ipv4_text_matches_display() {
        for ip in [0u32, 0x0102_0304, 0xffff_ffff, 0x0a00_630a, 0xc0a8_6401] {
            let mut s = String::new();
            push_ipv4(&mut s, ip);
            assert_eq!(s, std::net::Ipv4Addr::from(ip).to_string());
        }
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
