//! The census JSON document (`schema: c2atlas.census/1`) and the enriched
//! relationship list behind it. Field names are a contract read by other tools:
//! add fields, never rename them.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize};

use super::state::{RelKey, RelState};
use super::summary::{C2Summary, RelView, Summarizer, summarize};
use crate::detect::Controller;
use crate::enrich::{DbInfo, Locale};
use crate::ingest::InputStats;
use crate::intel::FeedFormat;
use crate::pipeline::{Pipeline, RunResult};
use crate::time::rfc3339;

pub const SCHEMA: &str = "c2atlas.census/1";

/// A name from a fixed set (schema, method). An alias so that serde's derive does
/// not treat the field as borrowed from the input (it is read back through
/// `deserialize_with`, mapping to the static names).
pub type StaticName = &'static str;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HomeDoc {
    pub countries: Vec<String>,
    pub networks: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeriodDoc {
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InputDoc {
    pub path: String,
    pub format: String,
    pub records: u64,
    pub malformed: u64,
    /// Well-formed records without IP traffic (e.g. Argus ARP records), not counted in `records`.
    pub skipped: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CountryDbDoc {
    #[serde(flatten)]
    pub info: DbInfo,
    /// Which country the figures use: `country` or `registered_country`.
    pub field: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatabasesDoc {
    pub country: Option<CountryDbDoc>,
    pub asn: Option<DbInfo>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeedDoc {
    pub path: String,
    pub format: String,
    pub indicators: u64,
    pub malformed: u64,
    pub sha256: String,
}

/// The census document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CensusDoc {
    #[serde(deserialize_with = "de_schema")]
    pub schema: StaticName,
    pub home: HomeDoc,
    pub period: PeriodDoc,
    pub inputs: Vec<InputDoc>,
    pub databases: DatabasesDoc,
    pub intel: Vec<FeedDoc>,
    pub detection: DetectionDoc,
    pub c2: C2Summary,
    /// Attacks on web sites, when the run read web requests (absent otherwise,
    /// so documents of flow-only runs are unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web: Option<super::web::WebSummary>,
}

/// Reads back the census schema name (only [`SCHEMA`] is accepted).
fn de_schema<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let s = String::deserialize(d)?;
    if s == SCHEMA {
        Ok(SCHEMA)
    } else {
        Err(serde::de::Error::custom(format!(
            "census schema {s:?}, this version reads {SCHEMA:?}"
        )))
    }
}

/// Reads back method names (the contract names of [`crate::detect::Method`]).
fn de_methods<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<&'static str>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            crate::detect::Method::ALL
                .into_iter()
                .map(crate::detect::Method::as_str)
                .find(|m| m == s)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown method {s:?}")))
        })
        .collect()
}

/// What detection ran and what it left out.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DetectionDoc {
    #[serde(deserialize_with = "de_methods")]
    pub methods: Vec<StaticName>,
    pub min_confidence: f64,
    /// Findings dropped for confidence below `min_confidence`.
    pub below_confidence: u64,
    /// Findings suppressed by allow-lists, by reason (`file:line (entry)`).
    pub suppressed: std::collections::BTreeMap<String, u64>,
}

/// A piece of evidence: an input record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EvidenceRef {
    pub file: String,
    pub line: u64,
}

/// The indicator that made a relationship, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndicatorDoc {
    pub value: String,
    pub kind: crate::intel::IndicatorKind,
    pub source: String,
    pub family: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// One control relationship with everything an analyst needs to check it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Relationship {
    pub victim: IpAddr,
    /// Address or name of the controller.
    pub controller: String,
    pub controller_ip: Option<IpAddr>,
    /// `overseas`, `domestic` or `unknown`.
    pub controller_locale: &'static str,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub org: Option<String>,
    /// The strongest method (highest confidence) that found it.
    pub method: &'static str,
    /// Every method that found it.
    pub methods: Vec<&'static str>,
    pub confidence: f64,
    /// Why the detector flagged it (features that fired), when it says.
    pub explanation: Option<String>,
    pub indicator: Option<IndicatorDoc>,
    pub first_seen: String,
    pub last_seen: String,
    pub flows: u64,
    pub bytes: u64,
    /// All supporting records, of which `evidence` lists the first ones.
    pub events: u64,
    pub evidence: Vec<EvidenceRef>,
}

fn kind_name(k: crate::intel::IndicatorKind) -> &'static str {
    match k {
        crate::intel::IndicatorKind::Ip => "IP",
        crate::intel::IndicatorKind::Cidr => "network",
        crate::intel::IndicatorKind::Domain => "domain",
        crate::intel::IndicatorKind::Url => "URL",
    }
}

fn locale_name(l: Locale) -> &'static str {
    match l {
        Locale::Domestic => "domestic",
        Locale::Overseas => "overseas",
        Locale::Unknown => "unknown",
    }
}

fn feed_format_name(f: FeedFormat) -> &'static str {
    match f {
        FeedFormat::FeodoCsv => "feodo-csv",
        FeedFormat::ThreatFoxCsv => "threatfox-csv",
        FeedFormat::UrlhausCsv => "urlhaus-csv",
        FeedFormat::FireholSet => "firehol",
        FeedFormat::ZeekIntel => "zeek-intel",
        FeedFormat::PlainList => "plain",
    }
}

/// Country and ASN of a controller address.
type Enriched = (
    Locale,
    Option<crate::enrich::CountryCode>,
    Option<crate::enrich::AsnInfo>,
);

/// Looks up each controller address once (a census has far fewer controllers
/// than relationships).
struct Enricher<'p> {
    p: &'p Pipeline,
    cache: HashMap<IpAddr, Enriched>,
}

impl<'p> Enricher<'p> {
    fn new(p: &'p Pipeline) -> Self {
        Enricher {
            p,
            cache: HashMap::new(),
        }
    }

    fn controller(&mut self, c: &Controller) -> (Option<IpAddr>, &Enriched) {
        static NONE: Enriched = (Locale::Unknown, None, None);
        match c {
            Controller::Ip(ip) => {
                let p = self.p;
                let e = self.cache.entry(*ip).or_insert_with(|| {
                    let (l, cc) = p.home.locate(*ip, p.geo.as_ref());
                    (l, cc, p.asn.as_ref().and_then(|a| a.lookup(*ip)))
                });
                (Some(*ip), e)
            }
            Controller::Name(_) => (None, &NONE),
        }
    }
}

/// Enriches the run's relationships (country, ASN, indicator), sorted by
/// (victim, controller). Each controller address is looked up once.
/// Materialises every relationship: for `explain` and small runs; the census
/// document itself is built without them ([`census`]).
pub fn relationships(p: &Pipeline, run: &RunResult) -> (Vec<Relationship>, Vec<RelView>) {
    let mut rels = Vec::with_capacity(run.state.len());
    let mut views = Vec::with_capacity(run.state.len());
    let mut en = Enricher::new(p);
    for (k, s) in run.state.iter_sorted() {
        let (cip, e) = en.controller(&k.controller);
        let (locale, cc, asn) = e.clone();
        views.push(RelView {
            victim: k.victim,
            controller_ip: cip,
            controller_locale: locale,
            country: cc,
            asn: asn.as_ref().map(|a| (a.asn, a.org.to_string())),
            methods: s.methods,
        });
        rels.push(enrich_one(p, run, &k, s, cip, (locale, cc, asn.as_ref())));
    }
    (rels, views)
}

/// Calls `f` with each enriched relationship of the run, in key order, one
/// at a time (nothing is kept): for writers of every relationship (state files).
pub fn for_each_relationship<E>(
    p: &Pipeline,
    run: &RunResult,
    mut f: impl FnMut(&Relationship) -> Result<(), E>,
) -> Result<(), E> {
    let mut en = Enricher::new(p);
    for (k, s) in run.state.iter_sorted() {
        let (cip, e) = en.controller(&k.controller);
        let rel = enrich_one(p, run, &k, s, cip, (e.0, e.1, e.2.as_ref()));
        f(&rel)?;
    }
    Ok(())
}

/// The census figures of the run, streamed from its state in key order:
/// no relationship is materialised (national scale: ~15 M of them).
pub fn summary(p: &Pipeline, run: &RunResult) -> C2Summary {
    let mut en = Enricher::new(p);
    let mut sum = Summarizer::new();
    for (k, s) in run.state.iter_sorted() {
        let (cip, (locale, cc, asn)) = en.controller(&k.controller);
        sum.add_parts(
            k.victim,
            cip,
            *locale,
            *cc,
            asn.as_ref().map(|a| (a.asn, &*a.org)),
            s.methods,
        );
    }
    sum.finish()
}

/// The census document of a run, its figures computed from the state
/// ([`summary`]); equal to [`document`] over the views of [`relationships`].
pub fn census(p: &Pipeline, run: &RunResult, registered: bool) -> CensusDoc {
    document_with(p, run, summary(p, run), registered)
}

fn enrich_one(
    p: &Pipeline,
    run: &RunResult,
    k: &RelKey,
    s: &RelState,
    cip: Option<IpAddr>,
    (locale, cc, asn): (
        Locale,
        Option<crate::enrich::CountryCode>,
        Option<&crate::enrich::AsnInfo>,
    ),
) -> Relationship {
    let indicator = s.indicator.map(|id| {
        let i = p.intel.get(id);
        IndicatorDoc {
            value: i.value.clone(),
            kind: i.kind,
            source: i.source.to_string(),
            family: i.family.as_deref().map(str::to_string),
            first_seen: i.first_seen.clone(),
            last_seen: i.last_seen.clone(),
        }
    });
    let evidence = s
        .evidence
        .iter()
        .map(|r| EvidenceRef {
            file: run
                .inputs
                .get(r.input as usize)
                .map(|i| i.path.display().to_string())
                .unwrap_or_default(),
            line: r.line,
        })
        .collect();
    Relationship {
        victim: k.victim,
        controller: k.controller.to_string(),
        controller_ip: cip,
        controller_locale: locale_name(locale),
        country: cc.map(|c| c.to_string()),
        asn: asn.map(|a| a.asn),
        org: asn.map(|a| a.org.to_string()),
        method: s.method.as_str(),
        methods: s.methods.iter().map(|m| m.as_str()).collect(),
        confidence: s.confidence,
        explanation: s.explanation.as_deref().map(str::to_string).or_else(|| {
            indicator.as_ref().map(|i| {
                format!(
                    "controller matches {} indicator {} listed by {}",
                    kind_name(i.kind),
                    i.value,
                    i.source
                )
            })
        }),
        indicator,
        first_seen: rfc3339(s.first_seen),
        last_seen: rfc3339(s.last_seen),
        flows: s.flows(),
        bytes: s.bytes(),
        events: s.events(),
        evidence,
    }
}

fn input_doc(i: &InputStats) -> InputDoc {
    InputDoc {
        path: i.path.display().to_string(),
        format: i.format.as_str().to_string(),
        records: i.records,
        malformed: i.malformed,
        skipped: i.skipped,
        sha256: i.sha256.clone(),
    }
}

/// Builds the census document of a run from the views of its relationships.
pub fn document(p: &Pipeline, run: &RunResult, views: &[RelView], registered: bool) -> CensusDoc {
    document_with(p, run, summarize(views), registered)
}

/// The census document of a run with its figures `c2`.
pub fn document_with(p: &Pipeline, run: &RunResult, c2: C2Summary, registered: bool) -> CensusDoc {
    CensusDoc {
        schema: SCHEMA,
        home: HomeDoc {
            countries: p.home.countries.iter().map(|c| c.to_string()).collect(),
            networks: p.home.networks.iter().map(|n| n.to_string()).collect(),
        },
        period: PeriodDoc {
            first_seen: run.period.map(|(a, _)| rfc3339(a)),
            last_seen: run.period.map(|(_, b)| rfc3339(b)),
        },
        inputs: run.inputs.iter().map(input_doc).collect(),
        databases: DatabasesDoc {
            country: p.geo.as_ref().map(|g| CountryDbDoc {
                info: g.info().clone(),
                field: if registered {
                    "registered_country"
                } else {
                    "country"
                }
                .to_string(),
            }),
            asn: p.asn.as_ref().map(|a| a.info().clone()),
        },
        intel: p
            .feeds
            .iter()
            .map(|f| FeedDoc {
                path: f.path.display().to_string(),
                format: feed_format_name(f.format).to_string(),
                indicators: f.indicators,
                malformed: f.malformed,
                sha256: f.sha256.clone(),
            })
            .collect(),
        detection: DetectionDoc {
            methods: run.methods.iter().map(|m| m.as_str()).collect(),
            min_confidence: p.detection.min_confidence,
            below_confidence: run.below_confidence,
            suppressed: run
                .suppressed
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        },
        c2,
        web: run.web.as_ref().map(|w| w.summary(&p.home, p.geo.as_ref())),
    }
}
