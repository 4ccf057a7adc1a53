//! Threat intelligence: feed loaders and the indicator matcher.
//!
//! Feeds are loaded once into an [`IntelSet`], which is then read-only and
//! answers: is this IP (longest prefix) / domain (suffix) / URL a known C2
//! indicator? Matching on the hot path allocates nothing.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What kind of value an indicator is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorKind {
    Ip,
    Cidr,
    Domain,
    Url,
}

/// One indicator and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indicator {
    pub kind: IndicatorKind,
    /// Normalised value: canonical IP text, CIDR with host bits cleared,
    /// lower-case domain without trailing dot, URL as given.
    pub value: String,
    /// Feed name (file name of the feed, or the Zeek Intel `meta.source`).
    pub source: Arc<str>,
    /// Malware family, when the feed says.
    pub family: Option<Arc<str>>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// Index of an indicator in its [`IntelSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndicatorId(pub u32);

/// Feed formats recognised (by content).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedFormat {
    FeodoCsv,
    ThreatFoxCsv,
    UrlhausCsv,
    FireholSet,
    ZeekIntel,
    PlainList,
}

/// Summary of one loaded feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedStats {
    pub path: PathBuf,
    pub format: FeedFormat,
    pub indicators: u64,
    /// Lines that were not valid indicators (counted, reported, skipped).
    pub malformed: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntelError {
    #[error("{path}: cannot read feed: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no indicators could be read ({reason})")]
    Unusable { path: PathBuf, reason: String },
}

/// All loaded indicators.
#[derive(Default)]
pub struct IntelSet {
    _private: (),
}

impl IntelSet {
    pub fn new() -> IntelSet {
        IntelSet::default()
    }
    /// Loads a feed file, detecting its format. Malformed lines are reported
    /// to `diag` as `(line, reason)` and counted.
    pub fn load(
        &mut self,
        path: &Path,
        diag: &mut dyn FnMut(u64, String),
    ) -> Result<FeedStats, IntelError> {
        let _ = (path, diag);
        todo!("intel helper")
    }
    /// Adds one indicator programmatically (used by tests and the simulator).
    pub fn add(&mut self, ind: Indicator) -> IndicatorId {
        let _ = ind;
        todo!("intel helper")
    }
    /// Must be called after the last `load`/`add` and before matching
    /// (builds the lookup structures). Idempotent.
    pub fn build(&mut self) {
        todo!("intel helper")
    }
    pub fn len(&self) -> usize {
        todo!("intel helper")
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn get(&self, id: IndicatorId) -> &Indicator {
        let _ = id;
        todo!("intel helper")
    }
    /// Longest-prefix match over IP and CIDR indicators.
    pub fn match_ip(&self, ip: IpAddr) -> Option<IndicatorId> {
        let _ = ip;
        todo!("intel helper")
    }
    /// Suffix match on label boundaries: `evil.example` matches `a.b.evil.example`
    /// (case-insensitive, trailing dot ignored). The longest matching indicator wins.
    pub fn match_domain(&self, name: &str) -> Option<IndicatorId> {
        let _ = name;
        todo!("intel helper")
    }
    /// URL indicators (exact after normalisation), then the URL's host as a domain/IP.
    pub fn match_url(&self, url: &str) -> Option<IndicatorId> {
        let _ = url;
        todo!("intel helper")
    }
    /// Whether any domain or URL indicators are loaded (lets callers skip work).
    pub fn has_names(&self) -> bool {
        todo!("intel helper")
    }
}
