//! The census figures (`c2` section of the census document) and the pure
//! function that computes them from a list of control relationships.
//!
//! Definitions (a contract; see issue 2):
//! - `controllers_share` = that country's controllers / all overseas controllers;
//! - `victims` (per country) = distinct domestic hosts controlled by at least one
//!   controller in that country; `victims_share` = that / `victims.controlled_from_overseas`
//!   (victim shares may add up to more than 1);
//! - lists sorted by controllers desc, then victims desc, then code asc.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use smallvec::SmallVec;

use crate::detect::{Method, MethodSet};
use crate::enrich::{CountryCode, Locale};

/// What the census needs to know about one relationship. Built by the census
/// from telemetry and lookups, and by the simulator from its ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct RelView {
    pub victim: IpAddr,
    /// `None` for a controller known only by name (a C2 domain that did not resolve).
    pub controller_ip: Option<IpAddr>,
    pub controller_locale: Locale,
    pub country: Option<CountryCode>,
    pub asn: Option<(u32, String)>,
    /// Every method that found the relationship.
    pub methods: MethodSet,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ControllerCounts {
    pub total: u64,
    pub overseas: u64,
    pub domestic: u64,
    /// Controllers neither overseas nor domestic (special-purpose ranges, or no country in the database).
    pub unknown: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VictimCounts {
    pub total: u64,
    pub controlled_from_overseas: u64,
    pub controlled_from_home: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountryRow {
    pub country: String,
    pub controllers: u64,
    pub controllers_share: f64,
    pub victims: u64,
    pub victims_share: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AsnRow {
    /// 0 when the ASN database had no answer.
    pub asn: u32,
    pub org: String,
    /// The country most of this ASN's overseas controllers are in.
    pub country: String,
    pub controllers: u64,
    pub victims: u64,
}

/// The `c2` section of the census document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct C2Summary {
    pub relationships: u64,
    pub controllers: ControllerCounts,
    pub victims: VictimCounts,
    pub overseas_by_country: Vec<CountryRow>,
    pub overseas_by_asn: Vec<AsnRow>,
    /// Relationships found by each detection method (a relationship found by
    /// several methods counts under each, so these can add up to more than `relationships`).
    pub by_method: BTreeMap<String, u64>,
    /// Relationships whose controller is known only by a name that did not resolve.
    pub unresolved_controllers: u64,
}

/// Share rounded to 6 decimals, so the JSON is stable and readable.
fn share(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        ((n as f64 / d as f64) * 1e6).round() / 1e6
    }
}

/// Per-ASN accumulator: organisation, controllers per country, controllers, victims.
type AsnAcc = (String, BTreeMap<CountryCode, u64>, BTreeSet<IpAddr>, u64);

/// What the figures need of the relationships of the victim being added.
#[derive(Default)]
struct VictimAcc {
    overseas: bool,
    home: bool,
    /// Countries and ASNs of its overseas controllers (a handful: linear sets).
    countries: SmallVec<[CountryCode; 4]>,
    asns: SmallVec<[u32; 4]>,
}

/// Computes the census figures from relationships fed one at a time, all the
/// relationships of one victim one after the other (e.g. in key order, as
/// [`crate::census::state::CensusState::iter_sorted`] gives them). Distinct
/// victims are counted per victim as it ends, so memory is proportional to
/// the controllers, countries and ASNs, never to the victims or relationships
/// (national scale: ~15 M relationships, ~73,000 controllers).
#[derive(Default)]
pub struct Summarizer {
    s: C2Summary,
    by_method: [u64; Method::ALL.len()],
    controllers: BTreeMap<IpAddr, Locale>,
    /// Per country: controllers, victims.
    by_country: BTreeMap<CountryCode, (BTreeSet<IpAddr>, u64)>,
    by_asn: BTreeMap<u32, AsnAcc>,
    current: Option<(IpAddr, VictimAcc)>,
}

impl Summarizer {
    pub fn new() -> Summarizer {
        Summarizer::default()
    }

    /// Adds one relationship ([`RelView`]).
    pub fn add(&mut self, r: &RelView) {
        self.add_parts(
            r.victim,
            r.controller_ip,
            r.controller_locale,
            r.country,
            r.asn.as_ref().map(|(a, o)| (*a, o.as_str())),
            r.methods,
        );
    }

    /// [`Summarizer::add`] from the parts of a view (no organisation name is
    /// copied unless its ASN is new).
    pub fn add_parts(
        &mut self,
        victim: IpAddr,
        controller_ip: Option<IpAddr>,
        locale: Locale,
        country: Option<CountryCode>,
        asn: Option<(u32, &str)>,
        methods: MethodSet,
    ) {
        if self.current.as_ref().is_none_or(|(v, _)| *v != victim) {
            self.end_victim();
            self.current = Some((victim, VictimAcc::default()));
        }
        self.s.relationships += 1;
        for m in methods.iter() {
            self.by_method[m as usize] += 1;
        }
        let Some(cip) = controller_ip else {
            self.s.unresolved_controllers += 1;
            return;
        };
        self.controllers.entry(cip).or_insert(locale);
        let Some((_, acc)) = self.current.as_mut() else {
            return;
        };
        match locale {
            Locale::Overseas => {
                acc.overseas = true;
                if let Some(cc) = country {
                    self.by_country.entry(cc).or_default().0.insert(cip);
                    if !acc.countries.contains(&cc) {
                        acc.countries.push(cc);
                    }
                }
                let (asn, org) = asn.unwrap_or((0, "unknown"));
                let e = self
                    .by_asn
                    .entry(asn)
                    .or_insert_with(|| (org.to_string(), BTreeMap::new(), BTreeSet::new(), 0));
                if e.2.insert(cip)
                    && let Some(cc) = country
                {
                    *e.1.entry(cc).or_default() += 1;
                }
                if !acc.asns.contains(&asn) {
                    acc.asns.push(asn);
                }
            }
            Locale::Domestic => acc.home = true,
            Locale::Unknown => {}
        }
    }

    /// Counts the victim being added.
    fn end_victim(&mut self) {
        let Some((_, acc)) = self.current.take() else {
            return;
        };
        self.s.victims.total += 1;
        if acc.overseas {
            self.s.victims.controlled_from_overseas += 1;
        }
        if acc.home {
            self.s.victims.controlled_from_home += 1;
        }
        for cc in acc.countries {
            self.by_country.entry(cc).or_default().1 += 1;
        }
        for asn in acc.asns {
            if let Some(e) = self.by_asn.get_mut(&asn) {
                e.3 += 1;
            }
        }
    }

    /// The figures.
    pub fn finish(mut self) -> C2Summary {
        self.end_victim();
        let mut s = self.s;
        for (m, n) in Method::ALL.into_iter().zip(self.by_method) {
            if n > 0 {
                s.by_method.insert(m.as_str().to_string(), n);
            }
        }
        for locale in self.controllers.values() {
            s.controllers.total += 1;
            match locale {
                Locale::Overseas => s.controllers.overseas += 1,
                Locale::Domestic => s.controllers.domestic += 1,
                Locale::Unknown => s.controllers.unknown += 1,
            }
        }
        let oc = s.controllers.overseas;
        let ov = s.victims.controlled_from_overseas;
        s.overseas_by_country = self
            .by_country
            .into_iter()
            .map(|(cc, (c, v))| CountryRow {
                country: cc.to_string(),
                controllers: c.len() as u64,
                controllers_share: share(c.len() as u64, oc),
                victims: v,
                victims_share: share(v, ov),
            })
            .collect();
        s.overseas_by_country.sort_by(|a, b| {
            b.controllers
                .cmp(&a.controllers)
                .then(b.victims.cmp(&a.victims))
                .then(a.country.cmp(&b.country))
        });
        s.overseas_by_asn = self
            .by_asn
            .into_iter()
            .map(|(asn, (org, countries, c, v))| {
                // Most frequent country; ties go to the smaller code (BTreeMap order + strict >).
                let mut best: Option<(CountryCode, u64)> = None;
                for (cc, n) in countries {
                    if best.is_none_or(|(_, bn)| n > bn) {
                        best = Some((cc, n));
                    }
                }
                AsnRow {
                    asn,
                    org,
                    country: best.map(|(cc, _)| cc.to_string()).unwrap_or_default(),
                    controllers: c.len() as u64,
                    victims: v,
                }
            })
            .collect();
        s.overseas_by_asn.sort_by(|a, b| {
            b.controllers
                .cmp(&a.controllers)
                .then(b.victims.cmp(&a.victims))
                .then(a.asn.cmp(&b.asn))
        });
        s
    }
}

/// Computes the census figures. The result does not depend on the order of
/// `rels` (they are grouped by victim, keeping their order within a victim;
/// an ASN's organisation is the first one seen in that order).
pub fn summarize<'a>(rels: impl IntoIterator<Item = &'a RelView>) -> C2Summary {
    let mut v: Vec<&RelView> = rels.into_iter().collect();
    // Stable: within a victim, the given order (key order for a census).
    v.sort_by_key(|a| a.victim);
    let mut s = Summarizer::new();
    for r in v {
        s.add(r);
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The previous, materialising implementation (reference).
    /// Per-ASN accumulator: organisation, controllers per country, controllers, victims.
    type RefAcc = (
        String,
        BTreeMap<CountryCode, u64>,
        BTreeSet<IpAddr>,
        BTreeSet<IpAddr>,
    );

    /// Computes the census figures. The result does not depend on the order of `rels`.
    fn reference<'a>(rels: impl IntoIterator<Item = &'a RelView>) -> C2Summary {
        let mut s = C2Summary::default();
        let mut controllers: BTreeMap<IpAddr, Locale> = BTreeMap::new();
        let mut victims: BTreeSet<IpAddr> = BTreeSet::new();
        let mut victims_overseas: BTreeSet<IpAddr> = BTreeSet::new();
        let mut victims_home: BTreeSet<IpAddr> = BTreeSet::new();
        let mut by_country: BTreeMap<CountryCode, (BTreeSet<IpAddr>, BTreeSet<IpAddr>)> =
            BTreeMap::new();
        let mut by_asn: BTreeMap<u32, RefAcc> = BTreeMap::new();
        for r in rels {
            s.relationships += 1;
            for m in r.methods.iter() {
                *s.by_method.entry(m.as_str().to_string()).or_default() += 1;
            }
            victims.insert(r.victim);
            let Some(cip) = r.controller_ip else {
                s.unresolved_controllers += 1;
                continue;
            };
            controllers.entry(cip).or_insert(r.controller_locale);
            match r.controller_locale {
                Locale::Overseas => {
                    victims_overseas.insert(r.victim);
                    if let Some(cc) = r.country {
                        let e = by_country.entry(cc).or_default();
                        e.0.insert(cip);
                        e.1.insert(r.victim);
                    }
                    let (asn, org) = r.asn.clone().unwrap_or((0, "unknown".to_string()));
                    let e = by_asn.entry(asn).or_insert_with(|| {
                        (org, BTreeMap::new(), BTreeSet::new(), BTreeSet::new())
                    });
                    if e.2.insert(cip)
                        && let Some(cc) = r.country
                    {
                        *e.1.entry(cc).or_default() += 1;
                    }
                    e.3.insert(r.victim);
                }
                Locale::Domestic => {
                    victims_home.insert(r.victim);
                }
                Locale::Unknown => {}
            }
        }
        for locale in controllers.values() {
            s.controllers.total += 1;
            match locale {
                Locale::Overseas => s.controllers.overseas += 1,
                Locale::Domestic => s.controllers.domestic += 1,
                Locale::Unknown => s.controllers.unknown += 1,
            }
        }
        s.victims.total = victims.len() as u64;
        s.victims.controlled_from_overseas = victims_overseas.len() as u64;
        s.victims.controlled_from_home = victims_home.len() as u64;
        let oc = s.controllers.overseas;
        let ov = s.victims.controlled_from_overseas;
        s.overseas_by_country = by_country
            .into_iter()
            .map(|(cc, (c, v))| CountryRow {
                country: cc.to_string(),
                controllers: c.len() as u64,
                controllers_share: share(c.len() as u64, oc),
                victims: v.len() as u64,
                victims_share: share(v.len() as u64, ov),
            })
            .collect();
        s.overseas_by_country.sort_by(|a, b| {
            b.controllers
                .cmp(&a.controllers)
                .then(b.victims.cmp(&a.victims))
                .then(a.country.cmp(&b.country))
        });
        s.overseas_by_asn = by_asn
            .into_iter()
            .map(|(asn, (org, countries, c, v))| {
                // Most frequent country; ties go to the smaller code (BTreeMap order + strict >).
                let mut best: Option<(CountryCode, u64)> = None;
                for (cc, n) in countries {
                    if best.is_none_or(|(_, bn)| n > bn) {
                        best = Some((cc, n));
                    }
                }
                AsnRow {
                    asn,
                    org,
                    country: best.map(|(cc, _)| cc.to_string()).unwrap_or_default(),
                    controllers: c.len() as u64,
                    victims: v.len() as u64,
                }
            })
            .collect();
        s.overseas_by_asn.sort_by(|a, b| {
            b.controllers
                .cmp(&a.controllers)
                .then(b.victims.cmp(&a.victims))
                .then(a.asn.cmp(&b.asn))
        });
        s
    }

    fn view(v: u8, c: u8, locale: u8, methods: u8) -> RelView {
        let (controller_ip, controller_locale) = match locale % 4 {
            0 => (None, Locale::Unknown),
            1 => (Some(IpAddr::from([198, 51, 100, c])), Locale::Overseas),
            2 => (Some(IpAddr::from([10, 9, 0, c])), Locale::Domestic),
            _ => (Some(IpAddr::from([192, 0, 2, c])), Locale::Unknown),
        };
        let mut m = MethodSet::default();
        for (i, x) in Method::ALL.into_iter().enumerate() {
            if methods & (1 << i) != 0 {
                m.insert(x);
            }
        }
        RelView {
            victim: if v.is_multiple_of(5) {
                IpAddr::from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, v])
            } else {
                IpAddr::from([10, 0, 0, v])
            },
            controller_ip,
            controller_locale,
            country: CountryCode::parse(["US", "DE", "JP"][usize::from(c % 3)])
                .filter(|_| !c.is_multiple_of(7)),
            // One ASN maps to two organisation names: the first in key order wins.
            asn: (!c.is_multiple_of(11)).then(|| (u32::from(c % 4), format!("org{}", c % 5))),
            methods: m,
        }
    }

    proptest! {
        /// The streaming summary equals the previous materialising one, in any input order.
        #[test]
        fn streaming_equals_reference(
            rels in prop::collection::vec((0u8..30, 0u8..20, 0u8..4, 1u8..64), 0..150),
        ) {
            let mut views: Vec<RelView> = rels.into_iter().map(|(v, c, l, m)| view(v, c, l, m)).collect();
            let key = |r: &RelView| (r.victim, r.controller_ip);
            // Deduplicate (victim, controller) as a census does, in key order.
            views.sort_by_key(key);
            views.dedup_by_key(|r| key(r));
            let want = reference(&views);
            prop_assert_eq!(&summarize(&views), &want);
            let mut s = Summarizer::new();
            views.iter().for_each(|r| s.add(r));
            prop_assert_eq!(&s.finish(), &want);
            views.reverse();
            views.sort_by_key(|r| r.victim);
            views.reverse();
            let shuffled = summarize(&views);
            // Counts never depend on order (organisation names may, by design: first in key order).
            prop_assert_eq!(shuffled.victims, want.victims);
            prop_assert_eq!(shuffled.controllers, want.controllers);
            prop_assert_eq!(shuffled.overseas_by_country, want.overseas_by_country);
        }
    }
}
