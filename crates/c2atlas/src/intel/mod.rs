//! Threat intelligence: feed loaders and the indicator matcher.
//!
//! Feeds are loaded once into an [`IntelSet`], which is then read-only and
//! answers: is this IP (longest prefix) / domain (suffix) / URL a known C2
//! indicator? Matching on the hot path allocates nothing.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;
use sha2::Digest;

mod feeds;
mod matcher;
mod normalize;

use feeds::{Outcome, Parsed, RawIndicator};
use matcher::{Ranges, V4Ranges, v4_bounds, v6_bounds};
pub use normalize::{MAX_DOMAIN_LEN, MAX_URL_LEN};
use normalize::{StackBuf, normalize_url_into, url_parts};

/// Largest feed file read. The biggest public feeds (full ThreatFox or
/// URLhaus dumps) are tens of MiB; this leaves room while refusing to read a
/// wrongly named disk image into memory.
pub const MAX_FEED_BYTES: u64 = 1 << 30;

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
    /// Valid lines of a kind that is not matched on (ThreatFox hashes, Zeek
    /// Intel types other than ADDR/SUBNET/DOMAIN/URL): counted, not reported.
    pub skipped: u64,
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

/// Hash state for the lookup maps: seeded per process, because keys come
/// from feeds and flows that an attacker can shape. Nothing iterates these
/// maps, so the seed never affects ids or output order.
type Seeded = foldhash::fast::RandomState;

/// All loaded indicators.
///
/// Invariants:
/// - ids are dense and assigned in load/add order, so the same feeds loaded in
///   the same order give the same ids;
/// - indicators with the same kind and normalised value (an IP or prefix, a
///   domain, a normalised URL) form one group; the group's first member (the
///   first loaded) is what the matchers return, and [`IntelSet::sources_of`]
///   lists the whole group;
/// - the domain and URL maps are always current; the IP ranges reflect the
///   state at the last [`IntelSet::build`].
#[derive(Default)]
pub struct IntelSet {
    indicators: Vec<Indicator>,
    /// Group of each indicator. An indicator whose value did not parse (only
    /// possible through [`IntelSet::add`]) has a group of its own that no
    /// lookup map points to.
    group_of: Vec<u32>,
    /// Members of each group, first loaded first.
    groups: Vec<Vec<IndicatorId>>,
    /// IP/CIDR groups by network, plus the networks in insertion order (so
    /// building does not depend on hash order).
    net_groups: HashMap<IpNet, u32, Seeded>,
    nets: Vec<(IpNet, u32)>,
    domain_groups: HashMap<Box<str>, u32, Seeded>,
    url_groups: HashMap<Box<str>, u32, Seeded>,
    /// Host of URL indicators (lower-case name or canonical IP) → first URL
    /// indicator with that host.
    url_host_names: HashMap<Box<str>, IndicatorId, Seeded>,
    url_host_ips: HashMap<IpAddr, IndicatorId, Seeded>,
    families: HashMap<Box<str>, Arc<str>, Seeded>,
    v4: V4Ranges,
    v6: Ranges<u128>,
    built: bool,
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
        let io = |source| IntelError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut data = Vec::new();
        file.take(MAX_FEED_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(io)?;
        if data.len() as u64 > MAX_FEED_BYTES {
            return Err(IntelError::Unusable {
                path: path.to_path_buf(),
                reason: format!("larger than {MAX_FEED_BYTES} bytes"),
            });
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let mut stats = self.load_bytes(&data, &name, diag).map_err(|e| match e {
            IntelError::Unusable { reason, .. } => IntelError::Unusable {
                path: path.to_path_buf(),
                reason,
            },
            other => other,
        })?;
        stats.path = path.to_path_buf();
        Ok(stats)
    }

    /// Loads feed content held in memory; `source` names the feed (the file
    /// name when loading a file) and is the `path` of the returned stats.
    /// Nothing is added when the result is an error.
    pub fn load_bytes(
        &mut self,
        data: &[u8],
        source: &str,
        diag: &mut dyn FnMut(u64, String),
    ) -> Result<FeedStats, IntelError> {
        let mut read: Vec<RawIndicator> = Vec::new();
        let (mut malformed, mut skipped) = (0u64, 0u64);
        let format = feeds::parse_feed(data, source, &mut |line, outcome| match outcome {
            Outcome::Indicator(raw) => read.push(*raw),
            Outcome::Skipped => skipped += 1,
            Outcome::Malformed(reason) => {
                malformed += 1;
                diag(line, reason);
            }
        });
        if read.is_empty() && malformed > 0 {
            return Err(IntelError::Unusable {
                path: PathBuf::from(source),
                reason: format!("{malformed} lines, none a valid indicator (read as {format:?})"),
            });
        }
        let feed: Arc<str> = Arc::from(source);
        let indicators = read.len() as u64;
        for raw in read {
            self.add_raw(raw, &feed);
        }
        Ok(FeedStats {
            path: PathBuf::from(source),
            format,
            indicators,
            malformed,
            skipped,
            sha256: hex::encode(sha2::Sha256::digest(data)),
        })
    }

    fn family(&mut self, name: Option<String>) -> Option<Arc<str>> {
        let name = name?;
        if let Some(f) = self.families.get(name.as_str()) {
            return Some(f.clone());
        }
        let f: Arc<str> = Arc::from(name.as_str());
        self.families.insert(name.into_boxed_str(), f.clone());
        Some(f)
    }

    fn add_raw(&mut self, raw: RawIndicator, feed: &Arc<str>) -> IndicatorId {
        let source = match raw.source {
            Some(s) if *s != **feed => Arc::from(s.as_str()),
            _ => feed.clone(),
        };
        let family = self.family(raw.family);
        let (kind, value) = match &raw.parsed {
            Parsed::Net(n) => (net_kind(n), normalize::net_text(n)),
            Parsed::Domain(d) => (IndicatorKind::Domain, d.clone()),
            Parsed::Url { value, .. } => (IndicatorKind::Url, value.clone()),
        };
        let ind = Indicator {
            kind,
            value,
            source,
            family,
            first_seen: raw.first_seen,
            last_seen: raw.last_seen,
        };
        self.insert(ind, Some(raw.parsed))
    }

    /// Stores `ind` and indexes it under `parsed` (None: unindexed).
    fn insert(&mut self, ind: Indicator, parsed: Option<Parsed>) -> IndicatorId {
        // Ids are u32; more than 4 billion indicators cannot be loaded in
        // memory anyway, so saturating keeps this total without a panic.
        let id = IndicatorId(u32::try_from(self.indicators.len()).unwrap_or(u32::MAX - 1));
        let next_group = u32::try_from(self.groups.len()).unwrap_or(u32::MAX);
        let group = match parsed {
            None => next_group,
            Some(Parsed::Net(n)) => *self.net_groups.entry(n).or_insert_with(|| {
                self.nets.push((n, next_group));
                self.built = false;
                next_group
            }),
            Some(Parsed::Domain(d)) => *self
                .domain_groups
                .entry(d.into_boxed_str())
                .or_insert(next_group),
            Some(Parsed::Url { norm, host, .. }) => {
                match normalize::parse_ip(&host) {
                    Ok(ip) => {
                        self.url_host_ips.entry(ip).or_insert(id);
                    }
                    Err(_) => {
                        self.url_host_names
                            .entry(host.into_boxed_str())
                            .or_insert(id);
                    }
                }
                *self
                    .url_groups
                    .entry(norm.into_boxed_str())
                    .or_insert(next_group)
            }
        };
        if group == next_group {
            self.groups.push(Vec::with_capacity(1));
        }
        if let Some(members) = self.groups.get_mut(group as usize) {
            members.push(id);
        }
        self.group_of.push(group);
        self.indicators.push(ind);
        id
    }

    /// Adds one indicator programmatically (used by tests and the simulator).
    /// Its value is normalised as when loading (an IP or CIDR may change kind:
    /// a /32 is an `Ip`); a value that does not parse for its kind is kept
    /// but never matched.
    pub fn add(&mut self, ind: Indicator) -> IndicatorId {
        let parsed = match ind.kind {
            IndicatorKind::Ip | IndicatorKind::Cidr => {
                normalize::parse_net(&ind.value).ok().map(Parsed::Net)
            }
            IndicatorKind::Domain => normalize::parse_domain(&ind.value).ok().map(Parsed::Domain),
            IndicatorKind::Url => normalize::normalize_url(&ind.value)
                .ok()
                .map(|(norm, host)| Parsed::Url {
                    value: ind.value.trim().to_string(),
                    norm,
                    host,
                }),
        };
        let mut ind = ind;
        match &parsed {
            Some(Parsed::Net(n)) => {
                ind.kind = net_kind(n);
                ind.value = normalize::net_text(n);
            }
            Some(Parsed::Domain(d)) => ind.value = d.clone(),
            Some(Parsed::Url { value, .. }) => ind.value = value.clone(),
            None => {}
        }
        self.insert(ind, parsed)
    }

    /// Must be called after the last `load`/`add` and before matching
    /// (builds the lookup structures). Idempotent.
    pub fn build(&mut self) {
        if self.built {
            return;
        }
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (net, group) in &self.nets {
            let Some(primary) = self.primary(*group) else {
                continue;
            };
            match net {
                IpNet::V4(n) => {
                    let (s, e) = v4_bounds(u32::from(n.addr()), n.prefix_len());
                    v4.push((s, e, primary.0));
                }
                IpNet::V6(n) => {
                    let (s, e) = v6_bounds(u128::from(n.addr()), n.prefix_len());
                    v6.push((s, e, primary.0));
                }
            }
        }
        self.v4 = V4Ranges::build(v4);
        self.v6 = Ranges::build(v6);
        self.built = true;
    }

    fn primary(&self, group: u32) -> Option<IndicatorId> {
        self.groups.get(group as usize)?.first().copied()
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indicator with this id. Panics on an id that this set did not
    /// hand out (a caller bug, not an input error).
    pub fn get(&self, id: IndicatorId) -> &Indicator {
        &self.indicators[id.0 as usize]
    }

    /// All indicators in load order with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (IndicatorId, &Indicator)> {
        self.indicators
            .iter()
            .enumerate()
            .map(|(i, ind)| (IndicatorId(i as u32), ind))
    }

    /// Every indicator with the same kind and normalised value as `id`
    /// (itself included), first loaded first: e.g. the same IP listed by
    /// `feodo.ipset` and `ipblocklist.csv`, or twice in one feed for two ports.
    pub fn sources_of(&self, id: IndicatorId) -> impl Iterator<Item = &Indicator> {
        let members: &[IndicatorId] = self
            .group_of
            .get(id.0 as usize)
            .and_then(|&g| self.groups.get(g as usize))
            .map_or(&[], Vec::as_slice);
        members
            .iter()
            .filter_map(|m| self.indicators.get(m.0 as usize))
    }

    /// Longest-prefix match over IP and CIDR indicators.
    #[inline]
    pub fn match_ip(&self, ip: IpAddr) -> Option<IndicatorId> {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a)),
            IpAddr::V6(a) => self.v6.lookup(u128::from(a)),
        }
        .map(IndicatorId)
    }

    /// The IPv4 /24s holding an address of an IP or CIDR indicator, one bit
    /// each (bit `b` of word `w` is the /24 `w * 64 + b`; 2^18 words, or
    /// none when there are no IPv4 indicators): [`IntelSet::match_ip`] is
    /// `None` for every IPv4 address whose bit is clear.
    pub fn v4_slash24s(&self) -> &[u64] {
        self.v4.covered()
    }

    /// Suffix match on label boundaries: `evil.example` matches `a.b.evil.example`
    /// (case-insensitive, trailing dot ignored). The longest matching indicator wins.
    pub fn match_domain(&self, name: &str) -> Option<IndicatorId> {
        if self.domain_groups.is_empty() {
            return None;
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let mut buf = StackBuf::<MAX_DOMAIN_LEN>::new();
        if !buf.push(name.as_bytes(), true) {
            return None;
        }
        let mut rest = buf.as_str()?;
        loop {
            if let Some(&g) = self.domain_groups.get(rest) {
                return self.primary(g);
            }
            let dot = rest.find('.')?;
            rest = &rest[dot + 1..];
        }
    }

    /// URL indicators (exact after normalisation), then the URL's host as a domain/IP.
    pub fn match_url(&self, url: &str) -> Option<IndicatorId> {
        let parts = url_parts(url)?;
        if !self.url_groups.is_empty() {
            let mut buf = StackBuf::<MAX_URL_LEN>::new();
            if normalize_url_into(&parts, &mut buf)
                && let Some(norm) = buf.as_str()
                && let Some(&g) = self.url_groups.get(norm)
            {
                return self.primary(g);
            }
        }
        let host = parts.host.strip_suffix('.').unwrap_or(parts.host);
        match normalize::whatwg_ipv4(host) {
            Some(Ok(v4)) => self.match_ip(IpAddr::V4(v4)),
            Some(Err(())) => None,
            None => match host.parse::<IpAddr>() {
                Ok(ip) => self.match_ip(ip),
                Err(_) => self.match_domain(host),
            },
        }
    }

    /// The first URL indicator whose host is `ip` (e.g. a URLhaus dropper URL
    /// `http://ip:port/bin.sh`: that host is an infected machine serving
    /// malware). Not part of [`IntelSet::match_ip`], which answers for IP and
    /// CIDR indicators only.
    pub fn match_url_host_ip(&self, ip: IpAddr) -> Option<IndicatorId> {
        self.url_host_ips.get(&ip.to_canonical()).copied()
    }

    /// The first URL indicator whose host is exactly `name` (case-insensitive,
    /// trailing dot ignored; no suffix match).
    pub fn match_url_host_name(&self, name: &str) -> Option<IndicatorId> {
        if self.url_host_names.is_empty() {
            return None;
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let mut buf = StackBuf::<MAX_DOMAIN_LEN>::new();
        if !buf.push(name.as_bytes(), true) {
            return None;
        }
        self.url_host_names.get(buf.as_str()?).copied()
    }

    /// Whether any domain or URL indicators are loaded (lets callers skip work).
    pub fn has_names(&self) -> bool {
        !self.domain_groups.is_empty() || !self.url_groups.is_empty()
    }

    /// Number of disjoint IPv4 and IPv6 ranges the prefixes flatten into.
    pub fn range_counts(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }
}

fn net_kind(n: &IpNet) -> IndicatorKind {
    if n.prefix_len() == n.max_prefix_len() {
        IndicatorKind::Ip
    } else {
        IndicatorKind::Cidr
    }
}

/// Fuzz entry point: loads `data` as a feed and checks that every loaded
/// indicator matches (itself or a more specific entry). Never panics on any
/// input; a failed check here is a bug in the matcher.
pub fn fuzz(data: &[u8]) {
    let mut set = IntelSet::new();
    for name in ["fuzz.txt", "fuzz.netset"] {
        let _ = set.load_bytes(data, name, &mut |_, _| {});
    }
    set.build();
    for (id, ind) in set.iter() {
        let hit = match ind.kind {
            IndicatorKind::Ip | IndicatorKind::Cidr => ind
                .value
                .split('/')
                .next()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .and_then(|ip| set.match_ip(ip)),
            IndicatorKind::Domain => set.match_domain(&ind.value),
            IndicatorKind::Url => set.match_url(&ind.value),
        };
        assert!(
            hit.is_some(),
            "indicator {id:?} {ind:?} does not match itself"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ind(kind: IndicatorKind, value: &str) -> Indicator {
        Indicator {
            kind,
            value: value.to_string(),
            source: Arc::from("test"),
            family: None,
            first_seen: None,
            last_seen: None,
        }
    }

    /// Naive reference: the longest indicator `d` with `name == d` or
    /// `name` ending in `.d` (ASCII case-insensitive, one trailing dot ignored).
    fn naive_domain<'a>(domains: &'a [String], name: &str) -> Option<&'a str> {
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        domains
            .iter()
            .filter(|d| name == **d || name.ends_with(&format!(".{d}")))
            .max_by_key(|d| d.len())
            .map(String::as_str)
    }

    fn label() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just("evil".to_string()),
            Just("notevil".to_string()),
            Just("xn--bcher-kva".to_string()),
            "[a-z0-9_]{1,5}",
        ]
    }

    /// Valid domains: 1–3 labels under an alphabetic top-level label (a
    /// numeric one is refused at load, see `parse_domain`).
    fn domain() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(label(), 1..4),
            prop_oneof![Just("example"), Just("com"), Just("xn--p1ai")],
        )
            .prop_map(|(v, tld)| format!("{}.{tld}", v.join(".")))
    }

    proptest! {
        #[test]
        fn domain_suffix_equals_naive(
            listed in proptest::collection::vec(domain(), 0..12),
            queries in proptest::collection::vec((proptest::collection::vec(label(), 0..3), domain(), any::<bool>(), any::<bool>()), 1..30),
        ) {
            let mut set = IntelSet::new();
            for d in &listed {
                set.add(ind(IndicatorKind::Domain, d));
            }
            set.build();
            for (prefix, base, upper, dot) in queries {
                // Queries are built from listed names half the time.
                let base = if upper && !listed.is_empty() { listed[base.len() % listed.len()].clone() } else { base };
                let mut q = prefix.join(".");
                if !q.is_empty() { q.push('.'); }
                q.push_str(&base);
                if upper { q = q.to_ascii_uppercase(); }
                if dot { q.push('.'); }
                let got = set.match_domain(&q).map(|id| set.get(id).value.as_str());
                prop_assert_eq!(got, naive_domain(&listed, &q), "query {}", q);
            }
        }
    }

    #[test]
    fn domain_examples() {
        let mut set = IntelSet::new();
        let evil = set.add(ind(IndicatorKind::Domain, "evil.example"));
        let deeper = set.add(ind(IndicatorKind::Domain, "B.evil.example."));
        set.build();
        assert_eq!(set.match_domain("a.b.evil.example"), Some(deeper));
        assert_eq!(set.match_domain("a.c.evil.example"), Some(evil));
        assert_eq!(set.match_domain("EVIL.example."), Some(evil));
        assert_eq!(set.match_domain("notevil.example"), None);
        assert_eq!(set.match_domain("example"), None);
        assert_eq!(set.match_domain(&"a.".repeat(200)), None);
        assert!(set.has_names());
    }

    #[test]
    fn add_normalises_and_groups() {
        let mut set = IntelSet::new();
        let a = set.add(ind(IndicatorKind::Cidr, "10.1.2.3/32"));
        let b = set.add(ind(IndicatorKind::Ip, "::ffff:10.1.2.3"));
        let bad = set.add(ind(IndicatorKind::Ip, "nope"));
        set.build();
        assert_eq!(set.get(a).kind, IndicatorKind::Ip);
        assert_eq!(set.get(b).value, "10.1.2.3");
        assert_eq!(set.match_ip("10.1.2.3".parse().unwrap()), Some(a));
        assert_eq!(set.sources_of(b).count(), 2);
        assert_eq!(set.sources_of(bad).count(), 1);
        assert!(!set.has_names());
        // build is idempotent and picks up later additions.
        set.build();
        let c = set.add(ind(IndicatorKind::Cidr, "10.0.0.0/8"));
        set.build();
        assert_eq!(set.match_ip("10.9.9.9".parse().unwrap()), Some(c));
        assert_eq!(set.match_ip("10.1.2.3".parse().unwrap()), Some(a));
    }

    #[test]
    fn fuzz_entry_accepts_anything() {
        for data in [
            &b""[..],
            b"\n\n",
            b"#fields\tindicator\n",
            b"\xff\xfe",
            b"1.2.3.4/0\n::/0\nhttp://[::1\n",
        ] {
            fuzz(data);
        }
    }
}
