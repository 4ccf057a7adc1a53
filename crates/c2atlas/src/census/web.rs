//! Web census: attacks on the sites of web access logs (and Zeek/pcap HTTP),
//! by class and by the attackers' country.
//!
//! [`WebCensus`] accumulates classified requests during a run (per-request
//! classes from [`classify`](crate::detect::web::classify) plus the stateful
//! ones of [`WebDetector`]); [`WebCensus::summary`] turns it into the census
//! `web` section with the home definition and the country database.
//!
//! Invariants: an attack is one flagged request (counted once, whatever its
//! number of classes; `by_class` counts it once per flagged class); every map
//! is ordered, so the same inputs give the same document.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::detect::web::{Class, WebDetector, WebDetectorConfig};
use crate::enrich::{GeoDb, Home, Locale};
use crate::ingest::weblog::WebRequest;

/// Longest evidence string kept per request in the explain list (characters):
/// enough to show the payload, short enough for a terminal line.
pub const EVIDENCE_CHARS: usize = 120;

/// One flagged request, as `explain --web` lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WebHit {
    /// Index of the input (as in [`crate::model::RecordRef::input`]).
    #[serde(skip)]
    pub input: u32,
    /// 1-based line of the request in its input.
    pub line: u64,
    pub src: IpAddr,
    pub site: String,
    pub classes: Vec<&'static str>,
    pub confidence: f32,
    pub evidence: String,
}

/// What one attacking address did.
#[derive(Clone, Debug, Default)]
pub struct Attacker {
    /// Flagged requests.
    pub attacks: u64,
    /// Sites it attacked.
    pub sites: BTreeSet<String>,
    /// The first flagged requests (up to the evidence cap), in input order.
    pub hits: Vec<WebHit>,
}

/// The web accumulator of a run.
pub struct WebCensus {
    detector: WebDetector,
    evidence_cap: usize,
    /// Requests seen (flagged or not).
    pub requests: u64,
    /// Flagged requests.
    pub attacks: u64,
    /// Flagged requests per class.
    pub by_class: BTreeMap<Class, u64>,
    /// Per attacking address.
    pub attackers: BTreeMap<IpAddr, Attacker>,
}

impl WebCensus {
    /// An empty accumulator keeping at most `evidence_cap` requests per attacking address.
    pub fn new(evidence_cap: usize) -> Self {
        WebCensus {
            detector: WebDetector::new(WebDetectorConfig::default()),
            evidence_cap,
            requests: 0,
            attacks: 0,
            by_class: BTreeMap::new(),
            attackers: BTreeMap::new(),
        }
    }

    /// Classifies one request of input `input`. `fallback_site` names the site
    /// when the request does not (the log file's name).
    pub fn observe(&mut self, input: u32, r: &WebRequest<'_>, fallback_site: &str) {
        self.requests += 1;
        let Some(v) = self.detector.observe(r, fallback_site) else {
            return;
        };
        let classes = v.classes();
        if classes.is_empty() {
            return;
        }
        self.attacks += 1;
        for c in &classes {
            *self.by_class.entry(*c).or_insert(0) += 1;
        }
        let site = r
            .site
            .as_deref()
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| fallback_site.to_string());
        let a = self.attackers.entry(r.src).or_default();
        a.attacks += 1;
        if !a.sites.contains(&site) {
            a.sites.insert(site.clone());
        }
        if a.hits.len() < self.evidence_cap {
            a.hits.push(WebHit {
                input,
                line: r.rec,
                src: r.src,
                site,
                classes: classes.iter().map(|c| c.as_str()).collect(),
                confidence: v.confidence(),
                evidence: v.evidence().chars().take(EVIDENCE_CHARS).collect(),
            });
        }
    }

    /// The census `web` section.
    pub fn summary(&self, home: &Home, geo: Option<&GeoDb>) -> WebSummary {
        let mut sites: BTreeSet<&str> = BTreeSet::new();
        // country → (attacks, ips, sites)
        let mut by_cc: BTreeMap<String, (u64, u64, BTreeSet<&str>)> = BTreeMap::new();
        let (mut o_attacks, mut o_ips) = (0u64, 0u64);
        for (ip, a) in &self.attackers {
            sites.extend(a.sites.iter().map(String::as_str));
            if let (Locale::Overseas, Some(cc)) = home.locate(*ip, geo) {
                let e = by_cc.entry(cc.to_string()).or_default();
                e.0 += a.attacks;
                e.1 += 1;
                e.2.extend(a.sites.iter().map(String::as_str));
                o_attacks += a.attacks;
                o_ips += 1;
            }
        }
        let mut overseas: Vec<WebCountry> = by_cc
            .into_iter()
            .map(|(country, (attacks, ips, s))| WebCountry {
                country,
                attacks,
                attacks_share: share(attacks, o_attacks),
                attacking_ips: ips,
                attacking_ips_share: share(ips, o_ips),
                sites: s.len() as u64,
            })
            .collect();
        overseas.sort_by(|a, b| {
            b.attacks
                .cmp(&a.attacks)
                .then(b.attacking_ips.cmp(&a.attacking_ips))
                .then(a.country.cmp(&b.country))
        });
        let backdoors = self
            .detector
            .backdoors()
            .into_iter()
            .map(|b| {
                let countries: BTreeSet<String> = b
                    .controller_ips
                    .iter()
                    .filter_map(|ip| home.locate(*ip, geo).1)
                    .map(|c| c.to_string())
                    .collect();
                WebBackdoor {
                    site: b.site,
                    path: b.path,
                    controller_ips: b.controller_ips.len() as u64,
                    countries: countries.into_iter().collect(),
                }
            })
            .collect();
        let defacements = self
            .detector
            .defacements()
            .iter()
            .map(|d| WebDefacement {
                site: d.site.clone(),
                path: d.path.clone(),
                baseline_bytes: d.baseline_bytes,
                new_bytes: d.new_bytes,
            })
            .collect();
        WebSummary {
            requests: self.requests,
            attacks: self.attacks,
            attacking_ips: self.attackers.len() as u64,
            sites_attacked: sites.len() as u64,
            by_class: Class::ALL
                .iter()
                .map(|c| {
                    (
                        c.as_str().to_string(),
                        self.by_class.get(c).copied().unwrap_or(0),
                    )
                })
                .collect(),
            overseas_attacks: o_attacks,
            overseas_attacking_ips: o_ips,
            overseas_by_country: overseas,
            backdoors,
            defacements,
        }
    }

    /// The kept flagged requests of the addresses `keep` selects, in (input, line) order.
    pub fn hits(&self, mut keep: impl FnMut(IpAddr) -> bool) -> Vec<&WebHit> {
        let mut out: Vec<&WebHit> = self
            .attackers
            .iter()
            .filter(|(ip, _)| keep(**ip))
            .flat_map(|(_, a)| a.hits.iter())
            .collect();
        out.sort_by_key(|h| (h.input, h.line));
        out
    }
}

/// Share rounded to 6 decimals (as in the C2 summary).
fn share(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        ((n as f64 / d as f64) * 1e6).round() / 1e6
    }
}

/// The census `web` section (a contract: add fields, never rename them).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct WebSummary {
    /// Web requests read (flagged or not).
    pub requests: u64,
    /// Flagged requests.
    pub attacks: u64,
    /// Distinct source addresses of flagged requests.
    pub attacking_ips: u64,
    /// Distinct sites with at least one flagged request.
    pub sites_attacked: u64,
    /// Flagged requests per class (a request counts once in each of its classes).
    pub by_class: BTreeMap<String, u64>,
    /// Flagged requests from overseas addresses (the denominator of `attacks_share`).
    pub overseas_attacks: u64,
    /// Overseas attacking addresses (the denominator of `attacking_ips_share`).
    pub overseas_attacking_ips: u64,
    pub overseas_by_country: Vec<WebCountry>,
    pub backdoors: Vec<WebBackdoor>,
    /// Pages with a stable size suddenly served at a very different size.
    #[serde(default)]
    pub defacements: Vec<WebDefacement>,
}

/// A suspected defacement (see [`crate::detect::web::Defacement`]).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct WebDefacement {
    pub site: String,
    pub path: String,
    /// Mean size of the page before the change (bytes).
    pub baseline_bytes: u64,
    /// Mean size of the changed responses (bytes).
    pub new_bytes: u64,
}

/// Attacks from one overseas country.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct WebCountry {
    pub country: String,
    pub attacks: u64,
    pub attacks_share: f64,
    pub attacking_ips: u64,
    pub attacking_ips_share: f64,
    /// Distinct sites its addresses attacked.
    pub sites: u64,
}

/// A suspected backdoor and where its controllers are.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct WebBackdoor {
    pub site: String,
    pub path: String,
    pub controller_ips: u64,
    /// Countries of the controller addresses (sorted, those the database knows).
    pub countries: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn req(src: &str, uri: &'static str, rec: u64) -> WebRequest<'static> {
        WebRequest {
            src: src.parse().unwrap(),
            uri: Cow::Borrowed(uri),
            status: Some(200),
            site: Some(Cow::Borrowed("Shop.example")),
            rec,
            ..WebRequest::default()
        }
    }

    #[test]
    fn counts_flagged_requests_and_caps_evidence() {
        let mut w = WebCensus::new(1);
        w.observe(0, &req("192.0.2.1", "/index.html", 1), "f");
        w.observe(0, &req("192.0.2.1", "/a?id=1' union select 1,2--", 2), "f");
        w.observe(0, &req("192.0.2.1", "/../../../../etc/passwd", 3), "f");
        assert_eq!((w.requests, w.attacks), (3, 2));
        let a = &w.attackers[&"192.0.2.1".parse::<IpAddr>().unwrap()];
        assert_eq!(a.attacks, 2);
        assert_eq!(a.hits.len(), 1);
        assert_eq!(a.hits[0].line, 2);
        assert_eq!(a.hits[0].site, "shop.example");
        assert!(w.by_class[&Class::Sqli] >= 1);
        // No geo database: nobody is overseas.
        let s = w.summary(&Home::default(), None);
        assert_eq!((s.attacking_ips, s.sites_attacked), (1, 1));
        assert!(s.overseas_by_country.is_empty());
        assert_eq!(s.by_class.len(), Class::ALL.len());
    }
}
