//! Ground truth: what was planted, and the census figures a perfect census
//! over the simulated telemetry must reproduce (`c2`, computed by
//! [`summarize`] from the planted relationships, never from lookups of the
//! generated addresses — except the ASN, which comes from the ASN database
//! when one is given, as the census would).

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use super::config::SimConfig;
use super::plan::Plan;
use crate::census::{C2Summary, RelView, summarize};
use crate::enrich::AsnDb;

/// `schema` value of `truth.json`.
pub const TRUTH_SCHEMA: &str = "c2atlas.truth/1";
/// Detection method recorded on every planted relationship: each planted
/// controller is in the intel the simulation writes (IP feed or domain list),
/// so a census finds them all by intel matching.
pub const TRUTH_METHOD: &str = "intel";

/// The home definition the census must use to reproduce the truth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthHome {
    pub countries: Vec<String>,
    pub networks: Vec<String>,
}

/// Counts of what was planted (including what a census must NOT report).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Planted {
    pub hosts: u64,
    pub victims: u64,
    /// Victims held by controllers in two countries.
    pub multi_country_victims: u64,
    pub relationships: u64,
    pub controllers: u64,
    pub controllers_overseas: u64,
    pub controllers_domestic: u64,
    /// Controllers reached by a domain name (listed in `c2-domains.txt`, not in the IP feed).
    pub controllers_by_domain: u64,
    /// Planted controllers no victim was assigned to (only when victims < controllers).
    pub controllers_idle: u64,
    /// Feed IPs nobody contacts.
    pub decoy_ips: u64,
    /// Listed domains nobody looks up.
    pub decoy_domains: u64,
    /// Benign addresses in a controller's /24, reached by background traffic.
    pub neighbors: u64,
    pub benign_servers: u64,
    pub conn_rows: u64,
    pub dns_rows: u64,
    pub beacons: u64,
    pub background_connections: u64,
    pub method: String,
}

/// The content of `truth.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    pub schema: String,
    pub seed: u64,
    pub home: TruthHome,
    pub config: SimConfig,
    pub c2: C2Summary,
    pub planted: Planted,
}

/// Builds the relationship views of the planted truth: `rels` are
/// (victim address, controller index) pairs.
pub(crate) fn rel_views(plan: &Plan, rels: &[(u32, u32)], asn: Option<&AsnDb>) -> Vec<RelView> {
    let asns: Vec<Option<(u32, String)>> = plan
        .controllers
        .iter()
        .map(|c| {
            asn.and_then(|db| db.lookup(IpAddr::V4(Ipv4Addr::from(c.ip))))
                .map(|a| (a.asn, a.org.to_string()))
        })
        .collect();
    rels.iter()
        .filter_map(|&(v, ci)| {
            let c = plan.controllers.get(ci as usize)?;
            Some(RelView {
                victim: IpAddr::V4(Ipv4Addr::from(v)),
                controller_ip: Some(IpAddr::V4(Ipv4Addr::from(c.ip))),
                controller_locale: c.locale,
                country: Some(c.country),
                asn: asns.get(ci as usize).cloned().flatten(),
                methods: crate::detect::MethodSet::of(crate::detect::Method::Intel),
            })
        })
        .collect()
}

/// The census figures of the planted relationships.
pub(crate) fn summary(plan: &Plan, rels: &[(u32, u32)], asn: Option<&AsnDb>) -> C2Summary {
    summarize(&rel_views(plan, rels, asn))
}
