//! Reading a state file (`c2atlas.state/1`, see [`super::shard`]) back into a
//! live [`CensusState`], so that `collect` restarted on the same state
//! directory continues from its last snapshot: the saved relationships are the
//! base, the new session's findings are merged into them
//! ([`CensusState::merge`] rules), nothing is counted twice because the new
//! session only sees new datagrams.
//!
//! What a state line does not carry is rebuilt or approximated, and said so:
//! - per-method counts: a line has the figures (the maximum over methods);
//!   they are restored under the strongest method, so later findings of that
//!   method add to them exactly, other methods start from zero;
//! - the indicator: looked up again in the current feeds (by controller
//!   address or name), `None` when the feeds changed and no longer match;
//! - evidence: `{file, line}` back to the index of that file in the saved
//!   document's inputs (references to unknown files are dropped).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::document::CensusDoc;
use super::shard::{MergeError, StateFile};
use super::state::{CensusState, MethodCounts, RelKey, RelState};
use crate::detect::{Controller, Method, MethodSet};
use crate::intel::IntelSet;
use crate::model::{Micros, RecordRef};
use crate::time::parse_rfc3339;

/// A saved census read back.
pub struct Resumed {
    /// The saved document (inputs, period, detection counters as saved).
    pub doc: CensusDoc,
    pub state: CensusState,
    /// The saved period, as timestamps.
    pub period: Option<(Micros, Micros)>,
}

#[derive(Deserialize)]
struct Evidence {
    file: String,
    line: u64,
}

/// The fields of a relationship line needed to rebuild its state.
#[derive(Deserialize)]
struct Line {
    victim: IpAddr,
    controller: String,
    controller_ip: Option<IpAddr>,
    method: String,
    methods: Vec<String>,
    confidence: f64,
    explanation: Option<String>,
    first_seen: String,
    last_seen: String,
    flows: u64,
    bytes: u64,
    events: u64,
    evidence: Vec<Evidence>,
}

fn method(s: &str) -> Option<Method> {
    Method::ALL.into_iter().find(|m| m.as_str() == s)
}

/// Reads the state file at `path` (written by `census --state-out` or
/// `collect`). `cap`: evidence kept per relationship. Errors name the file
/// and line.
pub fn load(path: &Path, intel: &IntelSet, cap: usize) -> Result<Resumed, MergeError> {
    let (header, mut f) = StateFile::open(path)?;
    let doc = header.census;
    let mut state = CensusState::new(cap);
    while let Some(line) = f.next_line()? {
        let l: Line =
            serde_json::from_str(&line).map_err(|e| f.bad(format!("not a relationship: {e}")))?;
        let strongest =
            method(&l.method).ok_or_else(|| f.bad(format!("unknown method {:?}", l.method)))?;
        let mut methods = MethodSet::default();
        for m in &l.methods {
            methods.insert(method(m).ok_or_else(|| f.bad(format!("unknown method {m:?}")))?);
        }
        let (Some(first_seen), Some(last_seen)) =
            (parse_rfc3339(&l.first_seen), parse_rfc3339(&l.last_seen))
        else {
            return Err(f.bad("first_seen/last_seen are not RFC 3339 times".into()));
        };
        let controller = match l.controller_ip {
            Some(ip) => Controller::Ip(ip),
            None => Controller::Name(Arc::from(l.controller.as_str())),
        };
        let indicator = match &controller {
            Controller::Ip(ip) => intel.match_ip(*ip),
            Controller::Name(name) => intel.match_domain(name),
        };
        let mut evidence: Vec<RecordRef> = l
            .evidence
            .iter()
            .filter_map(|e| {
                let input = doc.inputs.iter().position(|i| i.path == e.file)?;
                Some(RecordRef {
                    input: u32::try_from(input).ok()?,
                    line: e.line,
                })
            })
            .collect();
        evidence.sort();
        evidence.truncate(cap);
        state.restore(
            RelKey {
                victim: l.victim,
                controller,
            },
            RelState {
                first_seen,
                last_seen,
                counts: smallvec::smallvec![MethodCounts {
                    method: strongest,
                    flows: l.flows,
                    bytes: l.bytes,
                    events: l.events,
                }],
                method: strongest,
                methods,
                confidence: l.confidence,
                explanation: l.explanation.map(Arc::from),
                indicator,
                evidence: evidence.into(),
            },
        );
    }
    let period = match (&doc.period.first_seen, &doc.period.last_seen) {
        (Some(a), Some(b)) => parse_rfc3339(a).zip(parse_rfc3339(b)),
        _ => None,
    };
    Ok(Resumed { doc, state, period })
}
