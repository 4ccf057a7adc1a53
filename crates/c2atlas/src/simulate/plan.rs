//! The planted world: controllers (with their countries, ports, names),
//! decoys, neighbours of controllers, benign servers, the resolver, and how
//! victims are assigned to controllers. Everything except the hosts is held
//! in memory (at national scale: ~100 k entries); hosts are generated on the
//! fly from a permutation of the home ranges.

use std::collections::{BTreeMap, HashSet};

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::SimError;
use super::config::SimConfig;
use super::names;
use super::ranges::{CountryRanges, IndexSpace, Permutation, usable};
use crate::enrich::{CountryCode, Locale};
use crate::model::Micros;

/// Attempts to find a free usable address in a country before giving up.
const MAX_DRAW_ATTEMPTS: u32 = 10_000;
/// Ports IP-addressed controllers listen on (typical of Feodo Tracker entries).
const C2_PORTS: [u16; 12] = [
    443, 447, 449, 8080, 8443, 4443, 2222, 995, 7080, 1194, 5000, 13783,
];
/// Attempts to find a second country for a multi-country victim.
const SECOND_COUNTRY_ATTEMPTS: u32 = 8;
/// Feed `first_seen` dates fall in the 60 days before the window.
const FIRST_SEEN_SPAN_SECS: i64 = 60 * 86_400;

/// A planted controller (or a decoy feed entry, which has the same shape).
#[derive(Clone, Debug)]
pub(crate) struct Controller {
    pub ip: u32,
    pub country: CountryCode,
    pub locale: Locale,
    pub port: u16,
    /// Reached by this name (listed in the domain feed) instead of by IP.
    pub domain: Option<String>,
    pub family: &'static str,
    pub first_seen: Micros,
    pub online: bool,
    /// Base beacon period of this botnet.
    pub interval_secs: u64,
    /// Base request size of its beacons.
    pub request_bytes: u64,
}

/// Controllers of one country, with cumulative Pareto weights (botnet sizes).
#[derive(Clone, Debug)]
struct Group {
    country: CountryCode,
    overseas: bool,
    first: usize,
    cum: Vec<f64>,
}

pub(crate) struct Plan {
    pub controllers: Vec<Controller>,
    groups: Vec<Group>,
    /// Cumulative victim weights over `groups`.
    group_cum: Vec<f64>,
    /// Cumulative victim weights over overseas groups only (0 for domestic).
    overseas_cum: Vec<f64>,
    pub decoys: Vec<Controller>,
    pub decoy_domains: Vec<String>,
    /// Benign addresses in the same /24 as an overseas controller.
    pub neighbors: Vec<u32>,
    /// Benign servers: (address, domestic?); server `i` is named `names::benign_domain(i)`.
    pub benign: Vec<(u32, bool)>,
    pub resolver: u32,
    home: IndexSpace,
    home_perm: Permutation,
    /// Next permutation index for hosts (after the domestic infrastructure).
    pub host_cursor: u64,
    /// Victim selection: host `i` is victim number `victim_perm(i)` if that is below `victims`.
    victim_perm: Permutation,
    pub victims: u64,
    multi: f64,
}

/// Largest-remainder apportionment of `n` by `weights` (deterministic).
fn apportion(n: u64, weights: &[f64]) -> Vec<u64> {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 || weights.is_empty() {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| n as f64 * w / total).collect();
    let mut out: Vec<u64> = exact.iter().map(|e| e.floor() as u64).collect();
    let mut left = n.saturating_sub(out.iter().sum());
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for i in order.into_iter().cycle() {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

fn pick_cum(cum: &[f64], rng: &mut ChaCha8Rng) -> Option<usize> {
    let total = *cum.last()?;
    if total <= 0.0 {
        return None;
    }
    let u = rng.random::<f64>() * total;
    Some(cum.partition_point(|&c| c <= u).min(cum.len() - 1))
}

fn cumulative(w: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    w.map(|x| {
        acc += x;
        acc
    })
    .collect()
}

/// Draws unique usable addresses from overseas countries.
struct OverseasDraw<'r> {
    ranges: &'r CountryRanges,
    spaces: BTreeMap<CountryCode, IndexSpace>,
    used: HashSet<u32>,
}

impl OverseasDraw<'_> {
    fn draw(&mut self, cc: CountryCode, rng: &mut ChaCha8Rng) -> Result<u32, SimError> {
        let ranges = self.ranges;
        let space = self
            .spaces
            .entry(cc)
            .or_insert_with(|| IndexSpace::new(ranges.networks(cc)));
        let total = space.total();
        if total > 0 {
            for _ in 0..MAX_DRAW_ATTEMPTS {
                let a = space.addr(rng.random_range(0..total));
                if usable(a) && self.used.insert(a) {
                    return Ok(a);
                }
            }
        }
        Err(SimError::NotEnoughAddresses {
            country: cc.to_string(),
            needed: self.used.len() as u64 + 1,
        })
    }
}

impl Plan {
    pub(crate) fn build(
        cfg: &SimConfig,
        ranges: &CountryRanges,
        rng: &mut ChaCha8Rng,
    ) -> Result<Plan, SimError> {
        let home_cc = cfg.home_country;
        let home = IndexSpace::new(ranges.networks(home_cc));
        if home.total() == 0 {
            return Err(SimError::NoRanges {
                country: home_cc.to_string(),
            });
        }
        let home_perm = Permutation::new(home.total(), |b| rng.random_range(0..b.max(1)));
        let mut cursor = 0u64;
        let next_home = |cursor: &mut u64| -> Result<u32, SimError> {
            while *cursor < home.total() {
                let a = home.addr(home_perm.apply(*cursor));
                *cursor += 1;
                if usable(a) {
                    return Ok(a);
                }
            }
            Err(SimError::NotEnoughAddresses {
                country: home_cc.to_string(),
                needed: cfg.hosts,
            })
        };

        // Overseas countries that have ranges, with their weights.
        let profile: Vec<_> = cfg
            .overseas
            .iter()
            .filter(|p| p.country != home_cc && !ranges.networks(p.country).is_empty())
            .collect();
        if profile.is_empty() && cfg.controllers_overseas > 0 {
            return Err(SimError::NoRanges {
                country: "any overseas country of the profile".into(),
            });
        }
        let counts = apportion(
            cfg.controllers_overseas,
            &profile
                .iter()
                .map(|p| p.controller_weight)
                .collect::<Vec<_>>(),
        );

        let mut draw = OverseasDraw {
            ranges,
            spaces: BTreeMap::new(),
            used: HashSet::new(),
        };
        let start_secs = cfg.start_ts / 1_000_000;
        let new_controller =
            |ip: u32, country: CountryCode, locale: Locale, rng: &mut ChaCha8Rng| {
                let by_domain = rng.random_bool(cfg.domain_controller_fraction);
                let domain = by_domain.then(|| names::c2_domain(rng));
                let port = if by_domain {
                    if rng.random_bool(0.5) { 80 } else { 443 }
                } else {
                    C2_PORTS[rng.random_range(0..C2_PORTS.len())]
                };
                Controller {
                    ip,
                    country,
                    locale,
                    port,
                    domain,
                    family: names::FAMILIES[rng.random_range(0..names::FAMILIES.len())],
                    first_seen: (start_secs - rng.random_range(3600..FIRST_SEEN_SPAN_SECS))
                        * 1_000_000,
                    online: rng.random_bool(0.7),
                    interval_secs: rng
                        .random_range(cfg.beacon_interval_min_secs..=cfg.beacon_interval_max_secs),
                    request_bytes: rng.random_range(80..1200),
                }
            };

        let pareto = |rng: &mut ChaCha8Rng| {
            let u = 1.0 - rng.random::<f64>(); // (0, 1]
            u.powf(-1.0 / cfg.botnet_pareto_alpha)
        };

        let mut controllers = Vec::new();
        let mut groups = Vec::new();
        let mut group_w = Vec::new();
        // Domestic infrastructure first: resolver, domestic controllers, domestic benign servers.
        let resolver = next_home(&mut cursor)?;
        if cfg.controllers_domestic > 0 {
            let first = controllers.len();
            let mut w = Vec::new();
            for _ in 0..cfg.controllers_domestic {
                let ip = next_home(&mut cursor)?;
                controllers.push(new_controller(ip, home_cc, Locale::Domestic, rng));
                w.push(pareto(rng));
            }
            groups.push(Group {
                country: home_cc,
                overseas: false,
                first,
                cum: cumulative(w.into_iter()),
            });
            group_w.push(cfg.domestic_victim_share);
        }
        let benign_domestic = cfg.benign_servers / 2;
        let mut benign = Vec::new();
        for _ in 0..benign_domestic {
            benign.push((next_home(&mut cursor)?, true));
        }
        let overseas_share = if cfg.controllers_domestic > 0 {
            1.0 - cfg.domestic_victim_share
        } else {
            1.0
        };
        let vsum: f64 = profile
            .iter()
            .zip(&counts)
            .filter(|(_, n)| **n > 0)
            .map(|(p, _)| p.victim_weight)
            .sum();
        for (p, &n) in profile.iter().zip(&counts) {
            if n == 0 {
                continue;
            }
            let first = controllers.len();
            let mut w = Vec::new();
            for _ in 0..n {
                let ip = draw.draw(p.country, rng)?;
                controllers.push(new_controller(ip, p.country, Locale::Overseas, rng));
                w.push(pareto(rng));
            }
            groups.push(Group {
                country: p.country,
                overseas: true,
                first,
                cum: cumulative(w.into_iter()),
            });
            group_w.push(if vsum > 0.0 {
                overseas_share * p.victim_weight / vsum
            } else {
                0.0
            });
        }
        let group_cum = cumulative(group_w.iter().copied());
        let overseas_cum = cumulative(
            groups
                .iter()
                .zip(&group_w)
                .map(|(g, w)| if g.overseas { *w } else { 0.0 }),
        );

        // Overseas benign servers, spread like the controllers.
        let ow: Vec<f64> = profile.iter().map(|p| p.controller_weight).collect();
        let ocum = cumulative(ow.iter().copied());
        for _ in benign_domestic..cfg.benign_servers {
            match pick_cum(&ocum, rng) {
                Some(k) => benign.push((draw.draw(profile[k].country, rng)?, false)),
                None => benign.push((next_home(&mut cursor)?, true)),
            }
        }

        // Neighbours: benign addresses in the /24 of an overseas controller.
        let mut neighbors = Vec::new();
        for c in controllers.iter().filter(|c| c.locale == Locale::Overseas) {
            if !rng.random_bool(cfg.neighbor_fraction) {
                continue;
            }
            for _ in 0..8 {
                let cand = (c.ip & !0xff) | rng.random_range(1..255u32);
                if usable(cand)
                    && ranges.country_of(cand.into()) == Some(c.country)
                    && draw.used.insert(cand)
                {
                    neighbors.push(cand);
                    break;
                }
            }
        }

        // Controllers' domains must be unique: redraw duplicates.
        let mut domains: HashSet<String> = HashSet::new();
        for c in &mut controllers {
            let Some(mut d) = c.domain.take() else {
                continue;
            };
            while !domains.insert(d.clone()) {
                d = names::c2_domain(rng);
            }
            c.domain = Some(d);
        }

        // Decoys: feed entries nobody contacts.
        let planted = controllers.len() as f64;
        let n_decoys = (planted * cfg.decoy_fraction).round() as u64;
        let mut decoys = Vec::new();
        let mut decoy_domains = Vec::new();
        for _ in 0..n_decoys {
            let Some(k) = pick_cum(&ocum, rng) else { break };
            let ip = draw.draw(profile[k].country, rng)?;
            let mut d = new_controller(ip, profile[k].country, Locale::Overseas, rng);
            if let Some(name) = d.domain.take() {
                if domains.insert(name.clone()) {
                    decoy_domains.push(name);
                }
            } else {
                decoys.push(d);
            }
        }
        let victims = cfg.victims();
        let victim_perm = Permutation::new(cfg.hosts, |b| rng.random_range(0..b.max(1)));
        Ok(Plan {
            controllers,
            groups,
            group_cum,
            overseas_cum,
            decoys,
            decoy_domains,
            neighbors,
            benign,
            resolver,
            home,
            home_perm,
            host_cursor: cursor,
            victim_perm,
            victims,
            multi: cfg.multi_country_fraction,
        })
    }

    /// The next host address (hosts are consumed in order, never stored).
    pub(crate) fn next_host(&self, cursor: &mut u64) -> Option<u32> {
        while *cursor < self.home.total() {
            let a = self.home.addr(self.home_perm.apply(*cursor));
            *cursor += 1;
            if usable(a) {
                return Some(a);
            }
        }
        None
    }

    /// Victim number of host `i`, if it is a victim.
    pub(crate) fn victim_number(&self, host: u64) -> Option<u64> {
        let v = self.victim_perm.apply(host);
        (v < self.victims).then_some(v)
    }

    /// Controllers (indices) holding victim number `v`: one, or two in two countries.
    /// Victims `0..controllers` get controller `v` first, so every planted
    /// controller has at least one victim when victims ≥ controllers.
    pub(crate) fn controllers_of(&self, v: u64, rng: &mut ChaCha8Rng, out: &mut Vec<usize>) {
        out.clear();
        let (g, c) = if (v as usize) < self.controllers.len() {
            let c = v as usize;
            let g = self
                .groups
                .partition_point(|g| g.first + g.cum.len() <= c)
                .min(self.groups.len().saturating_sub(1));
            (g, c)
        } else {
            let Some(g) = pick_cum(&self.group_cum, rng) else {
                return;
            };
            let Some(k) = pick_cum(&self.groups[g].cum, rng) else {
                return;
            };
            (g, self.groups[g].first + k)
        };
        out.push(c);
        if rng.random::<f64>() < self.multi {
            for _ in 0..SECOND_COUNTRY_ATTEMPTS {
                let Some(g2) = pick_cum(&self.overseas_cum, rng) else {
                    return;
                };
                if self.groups[g2].country == self.groups[g].country {
                    continue;
                }
                if let Some(k) = pick_cum(&self.groups[g2].cum, rng) {
                    out.push(self.groups[g2].first + k);
                }
                return;
            }
        }
    }
}
