//! Where simulated addresses come from: the IPv4 networks of each country,
//! and samplers that draw public, usable host addresses from them.
//!
//! Invariants: networks of one country are sorted and non-overlapping
//! (aggregated on construction); networks of different countries never
//! overlap (checked on construction), so an address drawn from a country's
//! ranges belongs to that country and to no other.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::SimError;
use crate::enrich::{CountryCode, GeoDb};

/// The IPv4 networks of each country the simulator may draw addresses from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountryRanges {
    by_country: BTreeMap<CountryCode, Vec<Ipv4Net>>,
}

impl CountryRanges {
    /// Builds from networks per country. Each country's networks are
    /// aggregated (sorted, merged); networks shared by two countries are an
    /// error, since an address there would have no single planted country.
    pub fn new(map: BTreeMap<CountryCode, Vec<Ipv4Net>>) -> Result<CountryRanges, SimError> {
        let by_country: BTreeMap<CountryCode, Vec<Ipv4Net>> = map
            .into_iter()
            .map(|(cc, nets)| (cc, Ipv4Net::aggregate(&nets)))
            .filter(|(_, nets)| !nets.is_empty())
            .collect();
        let mut all: Vec<(u32, u32, CountryCode)> = by_country
            .iter()
            .flat_map(|(cc, nets)| {
                nets.iter()
                    .map(|n| (u32::from(n.network()), u32::from(n.broadcast()), *cc))
            })
            .collect();
        all.sort_unstable();
        for w in all.windows(2) {
            if w[1].0 <= w[0].1 {
                return Err(SimError::OverlappingRanges {
                    a: w[0].2.to_string(),
                    b: w[1].2.to_string(),
                    at: Ipv4Addr::from(w[1].0),
                });
            }
        }
        Ok(CountryRanges { by_country })
    }

    /// Reads the networks of `countries` from a country database
    /// ([`GeoDb::ipv4_networks_of`]); countries the database does not know
    /// are simply absent (the simulator then leaves them out).
    pub fn from_geo(geo: &GeoDb, countries: &[CountryCode]) -> Result<CountryRanges, SimError> {
        let map = countries
            .iter()
            .map(|cc| (*cc, geo.ipv4_networks_of(*cc)))
            .collect();
        CountryRanges::new(map)
    }

    /// The (aggregated, sorted) networks of `cc`; empty when unknown.
    pub fn networks(&self, cc: CountryCode) -> &[Ipv4Net] {
        self.by_country.get(&cc).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Countries that have at least one network.
    pub fn countries(&self) -> impl Iterator<Item = CountryCode> + '_ {
        self.by_country.keys().copied()
    }

    /// Which country's ranges hold `ip` (linear in the number of countries).
    pub fn country_of(&self, ip: Ipv4Addr) -> Option<CountryCode> {
        self.by_country
            .iter()
            .find(|(_, nets)| {
                let i = nets.partition_point(|n| n.broadcast() < ip);
                nets.get(i).is_some_and(|n| n.contains(&ip))
            })
            .map(|(cc, _)| *cc)
    }
}

/// Whether a simulator may give `ip` to a host or server: public (not in an
/// IANA special-purpose block) and not the `.0` / `.255` of its /24, which
/// many networks treat as network and broadcast addresses.
pub fn usable(ip: u32) -> bool {
    let last = ip & 0xff;
    last != 0 && last != 0xff && !special_v4(ip)
}

/// IANA IPv4 special-purpose blocks (RFC 6890 and successors) plus multicast
/// and reserved space. Kept local so the simulator does not depend on the
/// enrich implementation it is meant to test.
const SPECIAL_V4: [(u32, u8); 16] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10/8 private
    (0x6440_0000, 10), // 100.64/10 shared address space
    (0x7f00_0000, 8),  // 127/8 loopback
    (0xa9fe_0000, 16), // 169.254/16 link local
    (0xac10_0000, 12), // 172.16/12 private
    (0xc000_0000, 24), // 192.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2/24 TEST-NET-1
    (0xc058_6300, 24), // 192.88.99/24 6to4 relay anycast
    (0xc0a8_0000, 16), // 192.168/16 private
    (0xc612_0000, 15), // 198.18/15 benchmarking
    (0xc633_6400, 24), // 198.51.100/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113/24 TEST-NET-3
    (0xe000_0000, 4),  // 224/4 multicast
    (0xf000_0000, 4),  // 240/4 reserved + broadcast
    (0xc01f_c400, 24), // 192.31.196/24 AS112
];

fn special_v4(ip: u32) -> bool {
    SPECIAL_V4
        .iter()
        .any(|&(net, len)| (ip ^ net) >> (32 - u32::from(len)) == 0)
}

/// Maps a dense index `0..total` onto the addresses of a list of networks.
#[derive(Clone, Debug)]
pub(crate) struct IndexSpace {
    starts: Vec<u32>,
    /// `ends[k]` = total size of networks `0..=k`.
    ends: Vec<u64>,
}

impl IndexSpace {
    pub(crate) fn new(nets: &[Ipv4Net]) -> IndexSpace {
        let mut starts = Vec::with_capacity(nets.len());
        let mut ends = Vec::with_capacity(nets.len());
        let mut total = 0u64;
        for n in nets {
            starts.push(u32::from(n.network()));
            total += 1u64 << (32 - u32::from(n.prefix_len()));
            ends.push(total);
        }
        IndexSpace { starts, ends }
    }

    pub(crate) fn total(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// The address at `idx` (`idx < total()`).
    pub(crate) fn addr(&self, idx: u64) -> u32 {
        let k = self.ends.partition_point(|&e| e <= idx);
        let before = if k == 0 { 0 } else { self.ends[k - 1] };
        // `idx - before` < the size of network k, so it fits in u32 and the sum does not wrap.
        self.starts.get(k).copied().unwrap_or(0) + (idx - before) as u32
    }
}

/// A bijection of `0..n` given by `i ↦ (a·i + b) mod n` with `gcd(a, n) = 1`:
/// it visits every index once, in an order that scatters neighbours, and needs
/// no memory (hosts of a 20 M-host country are never held in memory).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Permutation {
    n: u64,
    a: u64,
    b: u64,
}

impl Permutation {
    /// `pick(bound)` must return a value in `0..bound`.
    pub(crate) fn new(n: u64, mut pick: impl FnMut(u64) -> u64) -> Permutation {
        if n <= 1 {
            return Permutation { n, a: 1, b: 0 };
        }
        let mut a = n / 3 + pick(n / 3 + 1);
        while gcd(a, n) != 1 {
            a += 1;
        }
        Permutation {
            n,
            a: a % n,
            b: pick(n),
        }
    }

    pub(crate) fn apply(&self, i: u64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        ((u128::from(self.a) * u128::from(i) + u128::from(self.b)) % u128::from(self.n)) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn usable_rejects_special_and_edges() {
        assert!(usable(u32::from(Ipv4Addr::new(8, 8, 8, 8))));
        assert!(!usable(u32::from(Ipv4Addr::new(8, 8, 8, 0))));
        assert!(!usable(u32::from(Ipv4Addr::new(8, 8, 8, 255))));
        assert!(!usable(u32::from(Ipv4Addr::new(10, 1, 2, 3))));
        assert!(!usable(u32::from(Ipv4Addr::new(192, 168, 1, 1))));
        assert!(!usable(u32::from(Ipv4Addr::new(100, 100, 1, 1))));
        assert!(usable(u32::from(Ipv4Addr::new(100, 128, 1, 1))));
        assert!(!usable(u32::from(Ipv4Addr::new(224, 0, 0, 5))));
        assert!(!usable(u32::from(Ipv4Addr::new(203, 0, 113, 9))));
    }

    #[test]
    fn overlapping_countries_are_rejected() {
        let mut m = BTreeMap::new();
        m.insert(CountryCode(*b"AA"), vec![net("1.0.0.0/16")]);
        m.insert(CountryCode(*b"BB"), vec![net("1.0.128.0/17")]);
        assert!(matches!(
            CountryRanges::new(m),
            Err(SimError::OverlappingRanges { .. })
        ));
    }

    #[test]
    fn index_space_and_country_of() {
        let mut m = BTreeMap::new();
        m.insert(
            CountryCode(*b"AA"),
            vec![net("2.0.0.0/24"), net("1.0.0.0/24"), net("1.0.1.0/24")],
        );
        let r = CountryRanges::new(m).unwrap();
        assert_eq!(
            r.networks(CountryCode(*b"AA")),
            &[net("1.0.0.0/23"), net("2.0.0.0/24")]
        );
        let s = IndexSpace::new(r.networks(CountryCode(*b"AA")));
        assert_eq!(s.total(), 768);
        assert_eq!(Ipv4Addr::from(s.addr(0)), Ipv4Addr::new(1, 0, 0, 0));
        assert_eq!(Ipv4Addr::from(s.addr(511)), Ipv4Addr::new(1, 0, 1, 255));
        assert_eq!(Ipv4Addr::from(s.addr(512)), Ipv4Addr::new(2, 0, 0, 0));
        assert_eq!(
            r.country_of(Ipv4Addr::new(2, 0, 0, 7)),
            Some(CountryCode(*b"AA"))
        );
        assert_eq!(r.country_of(Ipv4Addr::new(2, 0, 1, 7)), None);
    }

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 7, 256, 1000, 4099] {
            let mut x = 12345u64;
            let p = Permutation::new(n, |b| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 33) % b
            });
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.apply(i) as usize;
                assert!(!seen[j], "n={n}: {j} twice");
                seen[j] = true;
            }
        }
    }
}
