//! Detect: events → findings (one control relationship observation each).
//!
//! Every detector implements [`Detector`]; it sees each event once with a
//! [`Context`] (home definition and geolocation, to tell victims — domestic
//! hosts — from the rest) and emits [`Finding`]s. The census accumulates
//! findings into relationships; detectors never aggregate across hosts
//! themselves unless that is their method (e.g. clusters).

use std::net::IpAddr;
use std::sync::Arc;

use crate::enrich::{GeoDb, Home, Locale};
use crate::intel::IndicatorId;
use crate::model::{Event, Micros, RecordRef};

pub mod activity;
pub mod allowlist;
pub mod beacon;
pub mod cluster;
pub mod dga;
pub mod dns_tunnel;
pub mod eval;
pub mod fuzz;
pub mod intel;
pub mod long_conn;
pub mod names;
pub mod select;
pub mod web;

/// The other end of a control relationship.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Controller {
    /// A controller address.
    Ip(IpAddr),
    /// A controller known only by name (a C2 domain that was looked up but did not resolve).
    Name(Arc<str>),
}

impl std::fmt::Display for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Controller::Ip(ip) => write!(f, "{ip}"),
            Controller::Name(n) => f.write_str(n),
        }
    }
}

/// How a relationship was found. The string names are a contract (`by_method` keys).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// The controller is a known C2 indicator from a threat-intel feed.
    Intel,
    /// Periodic contact (beaconing) from the victim to the controller.
    Beacon,
    /// The controller's domain looks algorithmically generated, or the victim
    /// produced a burst of failed lookups.
    Dga,
    /// C2 over DNS / DNS tunnelling to the controller's registered domain.
    Dns,
    /// Long-lived connections or strobes (very many connections).
    Long,
    /// Several victims behave alike toward the same rare controller (a botnet cluster).
    Cluster,
}

impl Method {
    /// Every method, in contract order.
    pub const ALL: [Method; 6] = [
        Method::Intel,
        Method::Beacon,
        Method::Dga,
        Method::Dns,
        Method::Long,
        Method::Cluster,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Intel => "intel",
            Method::Beacon => "beacon",
            Method::Dga => "dga",
            Method::Dns => "dns",
            Method::Long => "long",
            Method::Cluster => "cluster",
        }
    }
}

/// A set of methods (which detectors found a relationship), as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MethodSet(u8);

impl MethodSet {
    /// The set holding only `m`.
    pub fn of(m: Method) -> MethodSet {
        MethodSet(1 << m as u8)
    }
    pub fn insert(&mut self, m: Method) {
        self.0 |= 1 << m as u8;
    }
    pub fn union(self, o: MethodSet) -> MethodSet {
        MethodSet(self.0 | o.0)
    }
    pub fn contains(self, m: Method) -> bool {
        self.0 & (1 << m as u8) != 0
    }
    /// Members in contract order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }
}

/// One observation of a (victim, controller) relationship.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub victim: IpAddr,
    pub controller: Controller,
    pub method: Method,
    /// In [0, 1].
    pub confidence: f64,
    /// The indicator that matched, for intel findings.
    pub indicator: Option<IndicatorId>,
    pub ts: Micros,
    /// 1 when the observation is a flow (it then counts toward flows and bytes), else 0.
    pub flows: u64,
    pub bytes: u64,
    pub rec: RecordRef,
    /// Human-readable account of the features that fired (behavioural
    /// detectors); `None` for methods that speak for themselves (intel).
    pub explanation: Option<Arc<str>>,
}

/// What detectors may consult about addresses.
pub struct Context<'a> {
    pub home: &'a Home,
    pub geo: Option<&'a GeoDb>,
}

impl Context<'_> {
    /// Whether `ip` is a domestic host (a potential victim).
    pub fn is_domestic(&self, ip: IpAddr) -> bool {
        self.home.locate(ip, self.geo).0 == Locale::Domestic
    }
}

/// A detector: sees events in input order, emits findings.
pub trait Detector {
    /// Short name, e.g. `intel`.
    fn name(&self) -> &'static str;
    /// Observes one event.
    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        out: &mut dyn FnMut(Finding),
    );
    /// Called once after the last event (for detectors that score at the end).
    fn finish(&mut self, _ctx: &Context<'_>, _out: &mut dyn FnMut(Finding)) {}
    /// A copy that another thread can run over other flow-only inputs, when
    /// this detector's findings for a flow depend only on that flow and on
    /// state learnt from non-flow events (DNS, HTTP, TLS), which flows never
    /// change: then splitting flow inputs across copies and merging the
    /// census states gives the findings of one sequential run. `None` (the
    /// default) for detectors that accumulate over flows (beacons, clusters).
    fn fork<'s>(&'s self) -> Option<Box<dyn Detector + Send + 's>> {
        None
    }
    /// Whether [`Detector::wants_flow`] can rule flows out from their two
    /// addresses alone. `false` (the default): every flow must be seen in full.
    fn filters_flows(&self) -> bool {
        false
    }
    /// For a detector that [`Detector::filters_flows`]: `false` only when a
    /// flow from `src` to `dst` cannot yield a finding whatever its other
    /// fields are, so that a reader may leave those fields unparsed and not
    /// call [`Detector::observe`] for it. Never `false` for a flow that would
    /// yield a finding.
    fn wants_flow(&self, _src: IpAddr, _dst: IpAddr) -> bool {
        true
    }
}
