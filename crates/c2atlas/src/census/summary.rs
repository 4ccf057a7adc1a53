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

use crate::detect::MethodSet;
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
type AsnAcc = (
    String,
    BTreeMap<CountryCode, u64>,
    BTreeSet<IpAddr>,
    BTreeSet<IpAddr>,
);

/// Computes the census figures. The result does not depend on the order of `rels`.
pub fn summarize<'a>(rels: impl IntoIterator<Item = &'a RelView>) -> C2Summary {
    let mut s = C2Summary::default();
    let mut controllers: BTreeMap<IpAddr, Locale> = BTreeMap::new();
    let mut victims: BTreeSet<IpAddr> = BTreeSet::new();
    let mut victims_overseas: BTreeSet<IpAddr> = BTreeSet::new();
    let mut victims_home: BTreeSet<IpAddr> = BTreeSet::new();
    let mut by_country: BTreeMap<CountryCode, (BTreeSet<IpAddr>, BTreeSet<IpAddr>)> =
        BTreeMap::new();
    let mut by_asn: BTreeMap<u32, AsnAcc> = BTreeMap::new();
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
                let e = by_asn
                    .entry(asn)
                    .or_insert_with(|| (org, BTreeMap::new(), BTreeSet::new(), BTreeSet::new()));
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
