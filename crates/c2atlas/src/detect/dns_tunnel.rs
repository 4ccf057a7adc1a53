//! C2 over DNS and DNS tunnelling: per (domestic host, registered domain),
//! the number of distinct subdomains queried (linear counting in a fixed
//! bitmap), the length and character entropy of the subdomain part, and the
//! share of TXT/NULL queries. The registered domain comes from the public
//! suffix list.
//!
//! Score: distinct subdomains on a log scale (10 → 0.33, 100 → 0.67,
//! 1,000 → 1; RITA's thresholds are 100/500/800/1000) times a blend of
//! label length, entropy and TXT/NULL share; domains many internal hosts
//! query (DNS blocklists, CDNs) are discounted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::names::{is_victim, normalise, registered_domain};
use super::{Context, Controller, Detector, Finding, Method};
use crate::model::{Event, Micros, RecordRef};

/// Bits of the distinct-subdomain bitmap (linear counting; accurate to a few thousand).
const BITMAP_BITS: usize = 1024;
/// Fewest distinct subdomains for a finding.
pub const MIN_UNIQUE: f64 = 50.0;
/// Most (host, domain) pairs tracked.
pub const MAX_PAIRS: usize = 4 << 20;

#[derive(Clone, Debug)]
struct Tunnel {
    bits: [u64; BITMAP_BITS / 64],
    queries: u32,
    txt: u32,
    sub_len: u64,
    entropy: f64,
    first: (Micros, RecordRef),
    last: (Micros, RecordRef),
}

impl Tunnel {
    fn distinct(&self) -> f64 {
        let zeros: u32 = self.bits.iter().map(|w| w.count_zeros()).sum();
        let m = BITMAP_BITS as f64;
        if zeros == 0 {
            return m * m.ln(); // saturated: at least this many
        }
        -m * (f64::from(zeros) / m).ln()
    }
}

fn entropy(s: &[u8]) -> f64 {
    let mut c = [0u32; 256];
    for &b in s {
        c[usize::from(b)] += 1;
    }
    let n = s.len().max(1) as f64;
    c.iter()
        .filter(|&&x| x > 0)
        .map(|&x| {
            let p = f64::from(x) / n;
            -p * p.log2()
        })
        .sum()
}

fn fnv(s: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Scores a domain's features: `unique` distinct subdomains, mean subdomain
/// length, mean entropy (bits/char), TXT/NULL share, and the number of
/// internal hosts querying it. In [0, 1].
pub fn tunnel_score(
    unique: f64,
    mean_len: f64,
    mean_entropy: f64,
    txt_share: f64,
    hosts: u32,
) -> f64 {
    if unique < MIN_UNIQUE {
        return 0.0;
    }
    let u = (unique.log10() / 3.0).clamp(0.0, 1.0);
    let len = ((mean_len - 8.0) / 32.0).clamp(0.0, 1.0);
    let ent = ((mean_entropy - 2.5) / 2.0).clamp(0.0, 1.0);
    let shape = 0.4 + 0.3 * len + 0.2 * ent + 0.1 * txt_share.clamp(0.0, 1.0);
    let popularity = if hosts >= 3 { 0.5 } else { 1.0 };
    (u * shape * popularity).clamp(0.0, 1.0)
}

/// The DNS tunnelling detector.
#[derive(Default)]
pub struct DnsTunnelDetector {
    pairs: HashMap<(IpAddr, Arc<str>), Tunnel, foldhash::fast::FixedState>,
    pub untracked: u64,
    /// Findings below this are not emitted (default 0.3).
    pub min_score: f64,
}

impl DnsTunnelDetector {
    pub fn new() -> Self {
        DnsTunnelDetector {
            min_score: 0.3,
            ..Self::default()
        }
    }
}

impl Detector for DnsTunnelDetector {
    fn name(&self) -> &'static str {
        "dns"
    }

    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        _out: &mut dyn FnMut(Finding),
    ) {
        let Event::Dns(d) = ev else { return };
        if !is_victim(ctx, d.src) {
            return;
        }
        let Some(name) = normalise(&d.query) else {
            return;
        };
        let Some(reg) = registered_domain(&name) else {
            return;
        };
        let sub = name
            .len()
            .checked_sub(reg.len() + 1)
            .map_or(&name[..0], |n| &name[..n]);
        let txt = d.qtype.as_deref().is_some_and(|q| {
            q.eq_ignore_ascii_case("TXT")
                || q.eq_ignore_ascii_case("NULL")
                || q == "16"
                || q == "10"
        });
        let key = (d.src, Arc::<str>::from(reg));
        if !self.pairs.contains_key(&key) && self.pairs.len() >= MAX_PAIRS {
            self.untracked += 1;
            return;
        }
        let t = self.pairs.entry(key).or_insert(Tunnel {
            bits: [0; BITMAP_BITS / 64],
            queries: 0,
            txt: 0,
            sub_len: 0,
            entropy: 0.0,
            first: (d.ts, rec),
            last: (d.ts, rec),
        });
        t.queries = t.queries.saturating_add(1);
        t.txt += u32::from(txt);
        t.sub_len = t.sub_len.saturating_add(sub.len() as u64);
        t.entropy += entropy(sub.as_bytes());
        if !sub.is_empty() {
            let h = fnv(sub.as_bytes()) as usize % BITMAP_BITS;
            t.bits[h / 64] |= 1 << (h % 64);
        }
        if d.ts < t.first.0 {
            t.first = (d.ts, rec);
        }
        if d.ts > t.last.0 {
            t.last = (d.ts, rec);
        }
    }

    fn finish(&mut self, _ctx: &Context<'_>, out: &mut dyn FnMut(Finding)) {
        let mut hosts: HashMap<&str, u32> = HashMap::new();
        for (_, reg) in self.pairs.keys() {
            *hosts.entry(reg).or_insert(0) += 1;
        }
        let mut pairs: Vec<_> = self.pairs.iter().collect();
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        for ((src, reg), t) in pairs {
            let q = f64::from(t.queries.max(1));
            let unique = t.distinct();
            let (len, ent, txt) = (t.sub_len as f64 / q, t.entropy / q, f64::from(t.txt) / q);
            let h = hosts.get(&**reg).copied().unwrap_or(1);
            let score = tunnel_score(unique, len, ent, txt, h);
            if score < self.min_score || score <= 0.0 {
                continue;
            }
            let explanation: Arc<str> = Arc::from(format!(
                "{} queries for ≈{unique:.0} distinct subdomains of {reg}, mean subdomain length {len:.0}, \
                 entropy {ent:.1} bits/char, TXT/NULL {:.0} %, queried by {h} internal host(s)",
                t.queries,
                txt * 100.0
            ));
            for (i, &(ts, rec)) in [t.first, t.last].iter().enumerate() {
                if i == 1 && rec == t.first.1 {
                    break;
                }
                out(Finding {
                    victim: *src,
                    controller: Controller::Name(reg.clone()),
                    method: Method::Dns,
                    confidence: score,
                    indicator: None,
                    ts,
                    flows: 0,
                    bytes: 0,
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
    fn linear_counting_is_close() {
        let mut t = Tunnel {
            bits: [0; BITMAP_BITS / 64],
            queries: 0,
            txt: 0,
            sub_len: 0,
            entropy: 0.0,
            first: (0, RecordRef { input: 0, line: 1 }),
            last: (0, RecordRef { input: 0, line: 1 }),
        };
        for i in 0..500 {
            let h = fnv(format!("sub{i}").as_bytes()) as usize % BITMAP_BITS;
            t.bits[h / 64] |= 1 << (h % 64);
        }
        let d = t.distinct();
        assert!((d - 500.0).abs() < 60.0, "{d}");
    }

    #[test]
    fn score_shape() {
        assert_eq!(tunnel_score(10.0, 40.0, 4.5, 1.0, 1), 0.0);
        let tunnel = tunnel_score(2000.0, 50.0, 4.8, 0.9, 1);
        let blocklist = tunnel_score(2000.0, 12.0, 2.8, 0.0, 40);
        assert!(tunnel > 0.9 && blocklist < 0.3, "{tunnel} {blocklist}");
    }
}
