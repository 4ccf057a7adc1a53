//! Choosing detectors by name, applying `--min-confidence` and allow-lists.
//!
//! [`build`] turns `intel,beacon,dga,dns,long,cluster` into a [`DetectorSet`],
//! itself a [`Detector`]: the pipeline drives it like any other. The set
//! drops findings below the minimum confidence (counted) and findings whose
//! controller is allow-listed — directly, or because the address was an
//! answer to a query for an allowed name (counted by reason).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use super::allowlist::Allowlist;
use super::beacon::{BeaconConfig, BeaconDetector};
use super::cluster::ClusterDetector;
use super::dga::DgaDetector;
use super::dns_tunnel::DnsTunnelDetector;
use super::intel::IntelDetector;
use super::long_conn::LongConnDetector;
use super::names::normalise;
use super::{Context, Controller, Detector, Finding, Method};
use crate::intel::IntelSet;
use crate::model::{Event, RecordRef};

/// Every method, in the order of the contract (`--detect` default).
pub const ALL_METHODS: &str = "intel,beacon,dga,dns,long,cluster";
/// Default `--min-confidence`.
pub const DEFAULT_MIN_CONFIDENCE: f64 = 0.6;
/// Most addresses remembered as answers for allowed names.
const MAX_ALLOWED_ANSWERS: usize = 1 << 20;

/// A `--detect` list that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum SelectError {
    #[error("unknown detection method {0:?} (known: {ALL_METHODS})")]
    Unknown(String),
    #[error("no detection method selected")]
    Empty,
    #[error("--min-confidence must be in [0, 1], got {0}")]
    Confidence(f64),
}

/// Parses a comma-separated method list (`all` selects every method).
pub fn parse_methods(list: &str) -> Result<Vec<Method>, SelectError> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let ms: &[Method] = match name.to_ascii_lowercase().as_str() {
            "all" => &[
                Method::Intel,
                Method::Beacon,
                Method::Dga,
                Method::Dns,
                Method::Long,
                Method::Cluster,
            ],
            "intel" => &[Method::Intel],
            "beacon" => &[Method::Beacon],
            "dga" => &[Method::Dga],
            "dns" => &[Method::Dns],
            "long" => &[Method::Long],
            "cluster" => &[Method::Cluster],
            _ => return Err(SelectError::Unknown(name.to_owned())),
        };
        for m in ms {
            if !out.contains(m) {
                out.push(*m);
            }
        }
    }
    if out.is_empty() {
        return Err(SelectError::Empty);
    }
    Ok(out)
}

/// The selected detectors, the confidence filter and the allow-list.
pub struct DetectorSet<'i> {
    detectors: Vec<Box<dyn Detector + Send + 'i>>,
    methods: Vec<Method>,
    min_confidence: f64,
    allow: Allowlist,
    allowed_answers: HashMap<IpAddr, Arc<str>, foldhash::fast::FixedState>,
    /// Findings dropped for confidence below the minimum.
    pub below_confidence: u64,
    /// Findings suppressed by the allow-list, by reason (`file:line (entry)`).
    pub suppressed: BTreeMap<Arc<str>, u64>,
    /// Findings of the event being observed (reused).
    found: Vec<Finding>,
}

/// Builds the detectors named in `methods` (see [`parse_methods`]).
pub fn build<'i>(
    methods: &str,
    intel: &'i IntelSet,
    min_confidence: f64,
    allow: Allowlist,
) -> Result<DetectorSet<'i>, SelectError> {
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(SelectError::Confidence(min_confidence));
    }
    let methods = parse_methods(methods)?;
    let mut detectors: Vec<Box<dyn Detector + Send + 'i>> = Vec::new();
    let has = |m| methods.contains(&m);
    if has(Method::Intel) {
        detectors.push(Box::new(IntelDetector::new(intel)));
    }
    match (has(Method::Beacon), has(Method::Cluster)) {
        (_, true) => detectors.push(Box::new(ClusterDetector::new(
            BeaconConfig::default(),
            has(Method::Beacon),
        ))),
        (true, false) => detectors.push(Box::new(BeaconDetector::new(BeaconConfig::default()))),
        _ => {}
    }
    if has(Method::Dga) {
        detectors.push(Box::new(DgaDetector::new()));
    }
    if has(Method::Dns) {
        detectors.push(Box::new(DnsTunnelDetector::new()));
    }
    if has(Method::Long) {
        detectors.push(Box::new(LongConnDetector::new()));
    }
    Ok(DetectorSet {
        detectors,
        methods,
        min_confidence,
        allow,
        allowed_answers: HashMap::default(),
        below_confidence: 0,
        suppressed: BTreeMap::new(),
        found: Vec::new(),
    })
}

impl DetectorSet<'_> {
    /// The methods selected.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// A copy for another thread (see [`Detector::fork`]): `None` unless every
    /// selected detector can fork. The copy's counters start at zero (the
    /// caller adds them back).
    pub fn fork(&self) -> Option<DetectorSet<'_>> {
        let detectors = self
            .detectors
            .iter()
            .map(|d| d.fork())
            .collect::<Option<Vec<_>>>()?;
        Some(DetectorSet {
            detectors,
            methods: self.methods.clone(),
            min_confidence: self.min_confidence,
            allow: self.allow.clone(),
            allowed_answers: self.allowed_answers.clone(),
            below_confidence: 0,
            suppressed: BTreeMap::new(),
            found: Vec::new(),
        })
    }

    fn filter(&mut self, f: Finding, out: &mut dyn FnMut(Finding)) {
        if f.confidence < self.min_confidence {
            self.below_confidence += 1;
            return;
        }
        let reason = self
            .allow
            .reason(&f.controller)
            .cloned()
            .or_else(|| match &f.controller {
                Controller::Ip(ip) => self.allowed_answers.get(ip).cloned(),
                Controller::Name(_) => None,
            });
        if let Some(r) = reason {
            *self.suppressed.entry(r).or_insert(0) += 1;
            return;
        }
        out(f);
    }
}

impl Detector for DetectorSet<'_> {
    fn name(&self) -> &'static str {
        "set"
    }

    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        out: &mut dyn FnMut(Finding),
    ) {
        if let Event::Dns(d) = ev
            && !self.allow.is_empty()
            && self.allowed_answers.len() < MAX_ALLOWED_ANSWERS
            && let Some(r) = normalise(&d.query).and_then(|n| self.allow.domain_reason(&n).cloned())
        {
            for a in &d.answers {
                if let Ok(ip) = a.parse::<IpAddr>() {
                    self.allowed_answers.insert(ip, r.clone());
                }
            }
        }
        // A buffer kept across events: a matching flow allocates nothing.
        let mut found = std::mem::take(&mut self.found);
        for d in &mut self.detectors {
            d.observe(rec, ev, ctx, &mut |f| found.push(f));
        }
        for f in found.drain(..) {
            self.filter(f, out);
        }
        self.found = found;
    }

    fn filters_flows(&self) -> bool {
        !self.detectors.is_empty() && self.detectors.iter().all(|d| d.filters_flows())
    }

    fn wants_flow(&self, src: IpAddr, dst: IpAddr) -> bool {
        self.detectors.iter().any(|d| d.wants_flow(src, dst))
    }

    fn finish(&mut self, ctx: &Context<'_>, out: &mut dyn FnMut(Finding)) {
        let mut found = Vec::new();
        for d in &mut self.detectors {
            d.finish(ctx, &mut |f| found.push(f));
        }
        for f in found {
            self.filter(f, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_method_lists() {
        assert_eq!(parse_methods(ALL_METHODS).unwrap().len(), 6);
        assert_eq!(parse_methods("all").unwrap().len(), 6);
        assert_eq!(
            parse_methods("beacon, dga,beacon").unwrap(),
            vec![Method::Beacon, Method::Dga]
        );
        assert_eq!(
            parse_methods("bogus").unwrap_err(),
            SelectError::Unknown("bogus".into())
        );
        assert_eq!(parse_methods(" , ").unwrap_err(), SelectError::Empty);
        for m in parse_methods("all").unwrap() {
            assert_eq!(parse_methods(m.as_str()).unwrap(), vec![m]);
        }
    }
}
