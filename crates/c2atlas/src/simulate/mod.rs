//! Simulator: a national network in miniature, with planted botnets and the
//! ground truth a census over it must reproduce.
//!
//! [`simulate`] writes into an output directory:
//! - `telemetry/conn.log` (or `conn.HH.log[.gz]` hourly) and `telemetry/dns.log`:
//!   Zeek TSV logs of every domestic host's traffic — background web and DNS
//!   for all hosts, and for victims, beacons to their controllers (60–600 s
//!   period with jitter) preceded by DNS lookups when the controller is
//!   reached by name;
//! - `intel/c2-feed.csv` (abuse.ch Feodo Tracker CSV: IP controllers and
//!   decoys) and `intel/c2-domains.txt` (domain controllers and decoys);
//! - `truth.json` ([`Truth`]): the config, what was planted, and `c2`, the
//!   census figures computed by [`crate::census::summarize`] from the planted
//!   relationships.
//!
//! Invariants:
//! - deterministic: same config, ranges and ASN database ⇒ identical bytes;
//! - every host and domestic controller is a distinct usable address of the
//!   home country's ranges; every overseas controller, decoy, neighbour and
//!   overseas benign server a distinct usable address of its country's
//!   ranges; no address has two roles;
//! - every planted controller is in the intel (IP feed or domain list), every
//!   relationship has at least one answered beacon; decoys are never
//!   contacted; neighbours (same /24 as a controller) are contacted but never
//!   listed;
//! - streaming: hosts are generated one at a time (never stored); memory is
//!   the planted infrastructure plus 8 bytes per relationship, then the
//!   [`crate::census::RelView`]s of the truth (at `national` scale, ~15 M
//!   views plus `summarize`'s sets: several GB; a streaming summariser would
//!   remove that peak).
//!
//! Country shares follow CNCERT's 2012 figures for the US and a second
//! country; the tail over ~40 other countries is illustrative (see
//! [`config::TAIL_COUNTRIES`]).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::enrich::{AsnDb, Locale};

pub mod config;
mod feed;
pub mod ipfix;
mod names;
mod plan;
pub mod ranges;
mod traffic;
pub mod truth;
mod zeeklog;

pub use config::{CountryProfile, DEFAULT_START_TS, SimConfig};
pub use names::bench_domains;
pub use ranges::CountryRanges;
pub use truth::{Planted, TRUTH_METHOD, TRUTH_SCHEMA, Truth, TruthHome};

/// File beside `truth.json` listing every planted (victim, controller address) pair, one per line.
pub const TRUTH_PAIRS_FILE: &str = "truth-relationships.tsv";

/// Progress is reported every this many hosts (and once at the end).
const PROGRESS_EVERY: u64 = 16_384;
/// Stream 0 of the seeded generator plans the world; host `i` uses stream `i + 1`,
/// so a host's traffic does not depend on how many numbers other hosts drew.
const PLAN_STREAM: u64 = 0;

/// Why a simulation could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error("{path}: cannot write: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid simulation config: {reason}")]
    InvalidConfig { reason: String },
    #[error("no IPv4 ranges for {country}")]
    NoRanges { country: String },
    #[error("not enough free usable addresses in {country} (needed about {needed})")]
    NotEnoughAddresses { country: String, needed: u64 },
    #[error("ranges of {a} and {b} overlap at {at}")]
    OverlappingRanges { a: String, b: String, at: Ipv4Addr },
    #[error("cannot serialise truth.json: {0}")]
    Json(#[from] serde_json::Error),
}

/// What [`simulate`] wrote.
#[derive(Clone, Debug)]
pub struct SimOutput {
    /// Every file written: telemetry logs, intel files, then `truth.json`.
    pub files: Vec<PathBuf>,
    /// `out_dir/telemetry`: give it to the census as input.
    pub telemetry_dir: PathBuf,
    /// `out_dir/intel`: the feeds to load.
    pub intel_dir: PathBuf,
    pub truth_path: PathBuf,
    pub truth: Truth,
    /// conn.log rows written.
    pub flows: u64,
    /// dns.log rows written.
    pub dns_queries: u64,
    /// IPFIX flow records written (0 for Zeek output, where `flows` are the rows).
    pub flow_records: u64,
}

fn mkdir(p: &Path) -> Result<(), SimError> {
    std::fs::create_dir_all(p).map_err(|source| SimError::Io {
        path: p.to_path_buf(),
        source,
    })
}

/// Generates a simulated dataset into `out_dir` (created if needed; files of
/// a previous run with the same layout are overwritten).
///
/// `ranges` must hold the home country's networks and those of (some of) the
/// overseas profile's countries — countries without ranges are left out.
/// `asn`, when given, fills the ASN of controllers in the truth (as a census
/// using the same database would). `progress(done, total)` is called with
/// hosts done so far.
pub fn simulate(
    cfg: &SimConfig,
    ranges: &CountryRanges,
    asn: Option<&AsnDb>,
    out_dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SimOutput, SimError> {
    simulate_as(cfg, ranges, asn, out_dir, SimFormat::Zeek, progress)
}

/// How the simulated connections are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimFormat {
    /// Zeek conn.log and dns.log (TSV).
    Zeek,
    /// IPFIX files `telemetry/flows.HH.ipfix` (one flow per direction, see
    /// [`ipfix`]) and a dns.log of the C2 lookups only. The same seed gives
    /// the same connections, victims and truth as [`SimFormat::Zeek`].
    Ipfix,
}

/// [`simulate`] writing the connections as `format`.
pub fn simulate_as(
    cfg: &SimConfig,
    ranges: &CountryRanges,
    asn: Option<&AsnDb>,
    out_dir: &Path,
    format: SimFormat,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<SimOutput, SimError> {
    cfg.validate()?;
    let telemetry_dir = out_dir.join("telemetry");
    let intel_dir = out_dir.join("intel");
    mkdir(&telemetry_dir)?;
    mkdir(&intel_dir)?;

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let host_base = rng.clone();
    rng.set_stream(PLAN_STREAM);
    let plan = plan::Plan::build(cfg, ranges, &mut rng)?;

    let conn = match format {
        SimFormat::Zeek => traffic::FlowOut::Zeek(zeeklog::ZeekLog::create(
            &telemetry_dir,
            zeeklog::LogKind::Conn,
            cfg.start_ts,
            cfg.window_secs,
            cfg.hourly_files,
            cfg.gzip,
        )?),
        SimFormat::Ipfix => traffic::FlowOut::Ipfix(ipfix::IpfixLog::create(
            &telemetry_dir,
            cfg.start_ts,
            cfg.window_secs,
            cfg.hourly_files,
        )?),
    };
    let dns = zeeklog::ZeekLog::create(
        &telemetry_dir,
        zeeklog::LogKind::Dns,
        cfg.start_ts,
        cfg.window_secs,
        cfg.hourly_files,
        cfg.gzip,
    )?;
    let mut w = traffic::Writer::new(
        &plan,
        cfg.start_ts,
        cfg.window_secs,
        cfg.max_beacons_per_relationship,
        cfg.background_flows_per_host,
        conn,
        dns,
    );

    let mut rels: Vec<(u32, u32)> = Vec::with_capacity(usize::try_from(cfg.victims()).unwrap_or(0));
    let mut used = vec![false; plan.controllers.len()];
    let mut multi = 0u64;
    let mut cursor = plan.host_cursor;
    let mut held = Vec::with_capacity(2);
    for i in 0..cfg.hosts {
        let Some(host) = plan.next_host(&mut cursor) else {
            return Err(SimError::NotEnoughAddresses {
                country: cfg.home_country.to_string(),
                needed: cfg.hosts,
            });
        };
        let mut hr = host_base.clone();
        hr.set_stream(i + 1);
        w.background(&mut hr, host)?;
        if let Some(v) = plan.victim_number(i) {
            plan.controllers_of(v, &mut hr, &mut held);
            multi += u64::from(held.len() > 1);
            for &c in &held {
                w.beacons(&mut hr, host, &plan.controllers[c])?;
                rels.push((host, c as u32));
                used[c] = true;
            }
        }
        if (i + 1) % PROGRESS_EVERY == 0 {
            progress(i + 1, cfg.hosts);
        }
    }
    let (mut files, counts) = w.finish()?;
    files.extend(feed::write(&plan, &intel_dir, cfg.start_ts)?);

    let c2 = truth::summary(&plan, &rels, asn);
    let count = |l: Locale| plan.controllers.iter().filter(|c| c.locale == l).count() as u64;
    let truth = Truth {
        schema: TRUTH_SCHEMA.to_string(),
        seed: cfg.seed,
        home: TruthHome {
            countries: vec![cfg.home_country.to_string()],
            networks: Vec::new(),
        },
        config: cfg.clone(),
        c2,
        planted: Planted {
            hosts: cfg.hosts,
            victims: plan.victims,
            multi_country_victims: multi,
            relationships: rels.len() as u64,
            controllers: plan.controllers.len() as u64,
            controllers_overseas: count(Locale::Overseas),
            controllers_domestic: count(Locale::Domestic),
            controllers_by_domain: plan
                .controllers
                .iter()
                .filter(|c| c.domain.is_some())
                .count() as u64,
            controllers_idle: used.iter().filter(|u| !**u).count() as u64,
            decoy_ips: plan.decoys.len() as u64,
            decoy_domains: plan.decoy_domains.len() as u64,
            neighbors: plan.neighbors.len() as u64,
            benign_servers: plan.benign.len() as u64,
            conn_rows: counts.conn_rows,
            dns_rows: counts.dns_rows,
            beacons: counts.beacons,
            background_connections: counts.background,
            method: TRUTH_METHOD.to_string(),
        },
    };
    // The planted pairs themselves, for `c2atlas eval --truth` (per-relationship ground truth).
    let pairs_path = out_dir.join(TRUTH_PAIRS_FILE);
    let mut pairs: Vec<(Ipv4Addr, Ipv4Addr)> = rels
        .iter()
        .filter_map(|&(v, ci)| {
            let c = plan.controllers.get(ci as usize)?;
            Some((Ipv4Addr::from(v), Ipv4Addr::from(c.ip)))
        })
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut text = String::from("#victim\tcontroller\n");
    for (v, c) in &pairs {
        text.push_str(&format!("{v}\t{c}\n"));
    }
    std::fs::write(&pairs_path, text).map_err(|source| SimError::Io {
        path: pairs_path.clone(),
        source,
    })?;
    files.push(pairs_path);
    let truth_path = out_dir.join("truth.json");
    let mut json = serde_json::to_string_pretty(&truth)?;
    json.push('\n');
    std::fs::write(&truth_path, json).map_err(|source| SimError::Io {
        path: truth_path.clone(),
        source,
    })?;
    files.push(truth_path.clone());
    progress(cfg.hosts, cfg.hosts);
    Ok(SimOutput {
        files,
        telemetry_dir,
        intel_dir,
        truth_path,
        truth,
        flows: counts.conn_rows,
        dns_queries: counts.dns_rows,
        flow_records: counts.flow_records,
    })
}

#[cfg(test)]
mod tests;
