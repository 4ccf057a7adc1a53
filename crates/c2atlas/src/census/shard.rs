//! Partitioning a census by victim, and merging the parts back.
//!
//! `census --shard i/n --state-out FILE` runs every detector on every event (so
//! detectors that look across hosts, like `cluster`, see the whole picture) but
//! keeps only the relationships whose victim falls in shard `i` of `n`; it writes
//! them, enriched, with the parts of the census document that are the same for
//! every shard, to a state file. [`merge`] reads the `n` state files of one run
//! and rebuilds the census document byte-identical to the unsharded run, without
//! re-reading telemetry, feeds or databases.
//!
//! Invariants:
//! - shard assignment is a pure function of the victim address
//!   ([`Shard::of`]: FNV-1a 64 over the canonical address bytes, modulo `n`),
//!   stable across runs, machines and versions of this file format;
//! - shard indices are 0-based: `0/3`, `1/3`, `2/3`;
//! - the whole-run parts (home, period, inputs, databases, feeds, detection
//!   counters) are identical in every shard of one run: every shard reads all
//!   events and runs all detectors; [`merge`] checks they agree;
//! - the census figures depend only on the set of relationships, and every
//!   relationship belongs to exactly one shard, so summarizing the union of the
//!   shards' relationships gives the unsharded figures.
//!
//! State file format (`schema: c2atlas.state/1`), JSON Lines: the first line is
//! the header ([`StateHeader`]: shard, relationship count, and the census
//! document whose `c2` section is left empty); then one enriched relationship per
//! line (the objects of `explain --format json`), sorted by (victim, controller).

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::document::{CensusDoc, Relationship};
use super::summary::{C2Summary, RelView, summarize};
use crate::detect::{Method, MethodSet};
use crate::enrich::{CountryCode, Locale};

/// Schema of the state file (header line).
pub const STATE_SCHEMA: &str = "c2atlas.state/1";

/// Largest shard count accepted: beyond this a shard is a handful of hosts and
/// the per-shard overhead (every shard reads every input) dominates.
pub const MAX_SHARDS: u32 = 65_536;

/// One part of a run partitioned by victim: shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// A `--shard` value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "--shard {value}: {reason} (expected I/N with 0 <= I < N <= {MAX_SHARDS}, 0-based, e.g. 0/3)"
)]
pub struct ShardError {
    pub value: String,
    pub reason: &'static str,
}

/// FNV-1a 64-bit (fixed offset basis and prime: stable everywhere).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

impl Shard {
    /// The whole run as one shard.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` (0-based).
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let err = |reason| ShardError {
            value: s.to_string(),
            reason,
        };
        let (i, n) = s.split_once('/').ok_or_else(|| err("no '/'"))?;
        let index: u32 = i.trim().parse().map_err(|_| err("I is not a number"))?;
        let count: u32 = n.trim().parse().map_err(|_| err("N is not a number"))?;
        if count == 0 || count > MAX_SHARDS {
            return Err(err("N out of range"));
        }
        if index >= count {
            return Err(err("I must be below N (shards are numbered from 0)"));
        }
        Ok(Shard { index, count })
    }

    /// The shard (of `count`) that owns `victim`. An IPv4-mapped IPv6 address
    /// is the same host as its IPv4 address and lands in the same shard.
    pub fn of(victim: IpAddr, count: u32) -> u32 {
        let h = match victim.to_canonical() {
            IpAddr::V4(a) => fnv1a64(&a.octets()),
            IpAddr::V6(a) => fnv1a64(&a.octets()),
        };
        u32::try_from(h % u64::from(count.max(1))).unwrap_or(0)
    }

    /// The lane (of `count`) of `victim` when one run's state is split
    /// between threads: the high half of the same hash, so that the lanes of
    /// one shard are balanced whatever the shard count (the shard uses it modulo `n`).
    pub fn lane(victim: IpAddr, count: u32) -> u32 {
        let h = match victim.to_canonical() {
            IpAddr::V4(a) => fnv1a64(&a.octets()),
            IpAddr::V6(a) => fnv1a64(&a.octets()),
        };
        u32::try_from((h >> 32) % u64::from(count.max(1))).unwrap_or(0)
    }

    /// Whether this shard keeps the relationships of `victim`.
    pub fn owns(&self, victim: IpAddr) -> bool {
        Shard::of(victim, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// First line of a state file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StateHeader {
    pub schema: String,
    pub shard: Shard,
    /// Relationship lines that follow.
    pub relationships: u64,
    /// The census document of the run, `c2` left empty (the same in every shard).
    pub census: CensusDoc,
}

/// Writes a shard's state: header, then one relationship per line.
/// `doc` is the shard's census document (its `c2` is not written).
pub fn write_state(
    out: &mut impl Write,
    shard: Shard,
    doc: &CensusDoc,
    rels: &[Relationship],
) -> std::io::Result<()> {
    let mut census = doc.clone();
    census.c2 = C2Summary::default();
    let header = StateHeader {
        schema: STATE_SCHEMA.to_string(),
        shard,
        relationships: rels.len() as u64,
        census,
    };
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    for r in rels {
        serde_json::to_writer(&mut *out, r)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// [`write_state`] of a run's relationships, enriched and written one at a
/// time from its state (none is kept: national scale has ~15 M of them).
pub fn write_state_run(
    out: &mut impl Write,
    shard: Shard,
    doc: &CensusDoc,
    p: &crate::pipeline::Pipeline,
    run: &crate::pipeline::RunResult,
) -> std::io::Result<()> {
    let mut census = doc.clone();
    census.c2 = C2Summary::default();
    let header = StateHeader {
        schema: STATE_SCHEMA.to_string(),
        shard,
        relationships: run.state.len() as u64,
        census,
    };
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    super::document::for_each_relationship(p, run, |r| {
        serde_json::to_writer(&mut *out, r)?;
        out.write_all(b"\n")
    })?;
    out.flush()
}

/// State files that cannot be merged into one census.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    #[error("no state files given")]
    Empty,
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}")]
    Bad {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{path}: not from the same run as {first}: {part} differ")]
    Mismatch {
        path: PathBuf,
        first: PathBuf,
        part: &'static str,
    },
    #[error("{path}: shard {shard} given twice (also {other})")]
    Duplicate {
        path: PathBuf,
        other: PathBuf,
        shard: Shard,
    },
    #[error("shards missing: {missing} of {count} (have {have})")]
    Missing {
        missing: String,
        count: u32,
        have: String,
    },
}

/// The fields of a relationship line that the census figures use.
#[derive(Deserialize)]
struct RelLine {
    victim: IpAddr,
    controller: String,
    controller_ip: Option<IpAddr>,
    controller_locale: String,
    country: Option<String>,
    asn: Option<u32>,
    org: Option<String>,
    methods: Vec<String>,
}

fn locale(s: &str) -> Option<Locale> {
    match s {
        "overseas" => Some(Locale::Overseas),
        "domestic" => Some(Locale::Domestic),
        "unknown" => Some(Locale::Unknown),
        _ => None,
    }
}

fn method(s: &str) -> Option<Method> {
    Method::ALL.into_iter().find(|m| m.as_str() == s)
}

impl RelLine {
    fn view(self) -> Result<RelView, String> {
        let controller_locale = locale(&self.controller_locale)
            .ok_or_else(|| format!("unknown controller_locale {:?}", self.controller_locale))?;
        let country = match &self.country {
            Some(c) => {
                Some(CountryCode::parse(c).ok_or_else(|| format!("bad country code {c:?}"))?)
            }
            None => None,
        };
        let mut methods = MethodSet::default();
        for m in &self.methods {
            methods.insert(method(m).ok_or_else(|| format!("unknown method {m:?}"))?);
        }
        Ok(RelView {
            victim: self.victim,
            controller_ip: self.controller_ip,
            controller_locale,
            country,
            asn: self.asn.map(|a| (a, self.org.unwrap_or_default())),
            methods,
        })
    }
}

/// One state file read: its header and the figures' view of its relationships.
struct ShardState {
    path: PathBuf,
    header: StateHeader,
    views: Vec<RelView>,
}

/// An open state file, past its header (schema checked): the relationship
/// lines. The one reader of the file's framing, for `merge` and for
/// the collector's resume (`census/resume.rs`).
pub(crate) struct StateFile<'p> {
    path: &'p Path,
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    /// Line number of the last line read (the header is line 1).
    pub line: u64,
}

impl<'p> StateFile<'p> {
    /// Opens `path` and reads its header. Errors name the file and line.
    pub fn open(path: &'p Path) -> Result<(StateHeader, Self), MergeError> {
        let file = std::fs::File::open(path).map_err(|source| MergeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut f = StateFile {
            path,
            lines: std::io::BufReader::new(file).lines(),
            line: 0,
        };
        let first = f
            .next_line()?
            .ok_or_else(|| f.bad("empty file: not a c2atlas state file".into()))?;
        let header: StateHeader = serde_json::from_str(&first)
            .map_err(|e| f.bad(format!("not a c2atlas state header: {e}")))?;
        if header.schema != STATE_SCHEMA {
            return Err(f.bad(format!(
                "schema {:?}, this version reads {STATE_SCHEMA:?}",
                header.schema
            )));
        }
        Ok((header, f))
    }

    /// The next line, `None` at the end of the file.
    pub fn next_line(&mut self) -> Result<Option<String>, MergeError> {
        match self.lines.next() {
            None => Ok(None),
            Some(l) => {
                self.line += 1;
                l.map(Some).map_err(|source| MergeError::Io {
                    path: self.path.to_path_buf(),
                    source,
                })
            }
        }
    }

    /// An error at the current line.
    pub fn bad(&self, reason: String) -> MergeError {
        MergeError::Bad {
            path: self.path.to_path_buf(),
            line: self.line.max(1),
            reason,
        }
    }
}

fn read_state(path: &Path) -> Result<ShardState, MergeError> {
    let (header, mut f) = StateFile::open(path)?;
    let shard = header.shard;
    if shard.count == 0 || shard.count > MAX_SHARDS || shard.index >= shard.count {
        return Err(f.bad(format!("invalid shard {shard}")));
    }
    let mut views = Vec::new();
    let mut seen: HashSet<(IpAddr, String)> = HashSet::new();
    while let Some(line) = f.next_line()? {
        let rel: RelLine =
            serde_json::from_str(&line).map_err(|e| f.bad(format!("not a relationship: {e}")))?;
        if !shard.owns(rel.victim) {
            return Err(f.bad(format!(
                "victim {} does not belong to shard {shard}",
                rel.victim
            )));
        }
        if !seen.insert((rel.victim, rel.controller.clone())) {
            return Err(f.bad(format!(
                "relationship {} <- {} listed twice",
                rel.victim, rel.controller
            )));
        }
        views.push(rel.view().map_err(|r| f.bad(r))?);
    }
    if views.len() as u64 != header.relationships {
        return Err(f.bad(format!(
            "truncated: the header announces {} relationships, the file has {}",
            header.relationships,
            views.len()
        )));
    }
    Ok(ShardState {
        path: path.to_path_buf(),
        header,
        views,
    })
}

/// The run-wide parts of a census document, by name, serialized for comparison.
fn parts(d: &CensusDoc) -> Result<Vec<(&'static str, String)>, serde_json::Error> {
    Ok(vec![
        ("schema", serde_json::to_string(&d.schema)?),
        ("home definitions", serde_json::to_string(&d.home)?),
        ("inputs", serde_json::to_string(&d.inputs)?),
        ("databases", serde_json::to_string(&d.databases)?),
        ("intel feeds", serde_json::to_string(&d.intel)?),
        (
            "detection settings and counters",
            serde_json::to_string(&d.detection)?,
        ),
        ("periods", serde_json::to_string(&d.period)?),
    ])
}

/// Reads the state files of the shards of one run and returns its census
/// document, equal to the unsharded run's. Errors name the offending file:
/// unreadable or malformed files, files of another run, duplicate or missing shards.
pub fn merge(paths: &[PathBuf]) -> Result<CensusDoc, MergeError> {
    let mut states = Vec::with_capacity(paths.len());
    for p in paths {
        states.push(read_state(p)?);
    }
    let first = states.first().ok_or(MergeError::Empty)?;
    let ser = |path: &Path, e: serde_json::Error| MergeError::Bad {
        path: path.to_path_buf(),
        line: 1,
        reason: e.to_string(),
    };
    let first_parts = parts(&first.header.census).map_err(|e| ser(&first.path, e))?;
    let count = first.header.shard.count;
    let mut owner: Vec<Option<&Path>> = vec![None; count as usize];
    for s in &states {
        if s.header.shard.count != count {
            return Err(MergeError::Mismatch {
                path: s.path.clone(),
                first: first.path.clone(),
                part: "shard counts",
            });
        }
        let ps = parts(&s.header.census).map_err(|e| ser(&s.path, e))?;
        if let Some(((name, _), _)) = first_parts.iter().zip(&ps).find(|(a, b)| a.1 != b.1) {
            return Err(MergeError::Mismatch {
                path: s.path.clone(),
                first: first.path.clone(),
                part: name,
            });
        }
        let slot = &mut owner[s.header.shard.index as usize];
        if let Some(other) = slot {
            return Err(MergeError::Duplicate {
                path: s.path.clone(),
                other: other.to_path_buf(),
                shard: s.header.shard,
            });
        }
        *slot = Some(&s.path);
    }
    let list = |want: bool| {
        owner
            .iter()
            .enumerate()
            .filter(|(_, o)| o.is_some() == want)
            .map(|(i, _)| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if owner.iter().any(Option::is_none) {
        return Err(MergeError::Missing {
            missing: list(false),
            count,
            have: list(true),
        });
    }
    let mut doc = first.header.census.clone();
    doc.c2 = summarize(states.iter().flat_map(|s| s.views.iter()));
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::census::state::CensusState;
    use crate::detect::{Controller, Finding};
    use crate::intel::IndicatorId;
    use crate::model::RecordRef;
    use proptest::prelude::*;

    #[test]
    fn parses_and_validates_shards() {
        assert_eq!(Shard::parse("0/3"), Ok(Shard { index: 0, count: 3 }));
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "1/0", "x/3", "1", "-1/3", "0/70000", ""] {
            let e = Shard::parse(bad).expect_err(bad);
            assert_eq!(e.value, bad);
            assert!(e.to_string().contains("0-based"), "{e}");
        }
    }

    #[test]
    fn assignment_is_fnv1a_of_the_canonical_address() {
        // Reference values computed independently (Python FNV-1a 64 over the packed address).
        let v4: IpAddr = "10.0.0.1".parse().expect("ip");
        assert_eq!(fnv1a64(&[10, 0, 0, 1]), 10_155_667_543_913_099_244);
        assert_eq!(Shard::of(v4, 3), 0);
        assert_eq!(Shard::of("147.32.84.165".parse().expect("ip"), 7), 4);
        assert_eq!(Shard::of("2001:db8::1".parse().expect("ip"), 5), 3);
        // An IPv4-mapped IPv6 address is the same host.
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        for n in 1..20 {
            assert_eq!(Shard::of(mapped, n), Shard::of(v4, n));
        }
    }

    fn finding(victim: u8, ctrl: u8, line: u64) -> Finding {
        Finding {
            victim: IpAddr::from([10, 0, 0, victim]),
            controller: Controller::Ip(IpAddr::from([203, 0, 113, ctrl])),
            method: if ctrl.is_multiple_of(2) {
                Method::Intel
            } else {
                Method::Beacon
            },
            confidence: 0.9,
            indicator: Some(IndicatorId(u32::from(ctrl))),
            ts: line as i64,
            flows: 1,
            bytes: 10,
            rec: RecordRef { input: 0, line },
            explanation: None,
        }
    }

    fn view(k: &crate::census::state::RelKey, s: &crate::census::state::RelState) -> RelView {
        let ip = match &k.controller {
            Controller::Ip(ip) => Some(*ip),
            Controller::Name(_) => None,
        };
        let last = ip.map_or(0, |ip| match ip {
            IpAddr::V4(a) => a.octets()[3],
            IpAddr::V6(a) => a.octets()[15],
        });
        RelView {
            victim: k.victim,
            controller_ip: ip,
            controller_locale: if last.is_multiple_of(3) {
                Locale::Domestic
            } else {
                Locale::Overseas
            },
            country: CountryCode::parse(if last.is_multiple_of(2) { "US" } else { "DE" }),
            asn: Some((u32::from(last % 4), format!("AS{}", last % 4))),
            methods: s.methods,
        }
    }

    proptest! {
        /// Keeping each shard's victims' findings and merging the shards gives the
        /// whole run's relationships and the same census figures.
        #[test]
        fn shards_partition_and_merge_to_the_whole(
            fs in prop::collection::vec((0u8..40, 0u8..12, 0u64..500), 0..200),
            n in 1u32..8,
        ) {
            let fs: Vec<Finding> = fs.into_iter().map(|(v, c, l)| finding(v, c, l)).collect();
            let mut whole = CensusState::new(4);
            fs.iter().for_each(|f| whole.add(f));
            let mut merged = CensusState::new(4);
            let mut views = Vec::new();
            let mut total = 0;
            for i in 0..n {
                let shard = Shard { index: i, count: n };
                let mut part = CensusState::new(4);
                fs.iter().filter(|f| shard.owns(f.victim)).for_each(|f| part.add(f));
                for (k, s) in part.sorted() {
                    prop_assert!(shard.owns(k.victim));
                    views.push(view(&k, s));
                }
                total += part.len();
                merged.merge(&part);
            }
            // Every relationship is in exactly one shard.
            prop_assert_eq!(total, whole.len());
            let w: Vec<_> = whole.sorted().into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let m: Vec<_> = merged.sorted().into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(w, m);
            let whole_views: Vec<RelView> = whole.sorted().into_iter().map(|(k, s)| view(&k, s)).collect();
            prop_assert_eq!(summarize(&views), summarize(&whole_views));
        }
    }
}
