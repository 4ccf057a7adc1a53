//! Allow-lists: known-good destinations (CDNs, update services, popular
//! domains), given as files, one entry per line: a domain (matches itself and
//! its subdomains), an address or a CIDR. `#` starts a comment. Findings whose
//! controller is allowed are suppressed and counted by the entry and file that
//! allowed them, so a census can say what it left out and why.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Controller;
use super::names::normalise;

/// Longest allow-list line considered (longer lines are malformed).
const MAX_LINE: usize = 1024;

/// An allow-list file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AllowError {
    #[error("{path}: cannot read allow-list: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A malformed allow-list line (skipped and reported, never fatal).
#[derive(Clone, Debug, PartialEq)]
pub struct BadLine {
    pub source: Arc<str>,
    pub line: u64,
    pub reason: &'static str,
}

/// Domains and networks allowed.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    /// Domain → "file:line" that allowed it.
    domains: HashMap<String, Arc<str>>,
    nets: Vec<(ipnet::IpNet, Arc<str>)>,
    pub bad_lines: Vec<BadLine>,
}

impl Allowlist {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the entries of a file.
    pub fn load(&mut self, path: &Path) -> Result<(), AllowError> {
        let text = std::fs::read(path).map_err(|source| AllowError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.add_text(&String::from_utf8_lossy(&text), &path.display().to_string());
        Ok(())
    }

    /// Adds the entries of `text` (named `source` in reasons).
    pub fn add_text(&mut self, text: &str, source: &str) {
        let src: Arc<str> = Arc::from(source);
        for (i, line) in text.lines().enumerate() {
            let n = i as u64 + 1;
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            let bad = |reason| BadLine {
                source: src.clone(),
                line: n,
                reason,
            };
            if entry.len() > MAX_LINE {
                self.bad_lines.push(bad("line too long"));
                continue;
            }
            let why: Arc<str> = Arc::from(format!("{source}:{n} ({entry})"));
            if let Ok(net) = entry.parse::<ipnet::IpNet>() {
                self.nets.push((net, why));
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                self.nets.push((ipnet::IpNet::from(ip), why));
            } else if let Some(d) = normalise(entry.trim_start_matches("*.")) {
                if d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
                {
                    self.domains.insert(d, why);
                } else {
                    self.bad_lines.push(bad("not a domain, address or CIDR"));
                }
            } else {
                self.bad_lines.push(bad("not a domain, address or CIDR"));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.nets.is_empty()
    }

    /// Why `name` (normalised) is allowed: itself or a parent domain listed.
    pub fn domain_reason(&self, name: &str) -> Option<&Arc<str>> {
        let mut n = name;
        loop {
            if let Some(r) = self.domains.get(n) {
                return Some(r);
            }
            n = n.split_once('.')?.1;
        }
    }

    /// Why `ip` is allowed.
    pub fn ip_reason(&self, ip: IpAddr) -> Option<&Arc<str>> {
        self.nets
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .map(|(_, r)| r)
    }

    /// Why `c` is allowed, if it is.
    pub fn reason(&self, c: &Controller) -> Option<&Arc<str>> {
        match c {
            Controller::Ip(ip) => self.ip_reason(*ip),
            Controller::Name(n) => self.domain_reason(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_bad_lines() {
        let mut a = Allowlist::new();
        a.add_text(
            "# cdn\nakamaiedge.net\n*.windowsupdate.com\n13.107.4.0/24\n8.8.8.8\nnot a domain!\n",
            "allow.txt",
        );
        assert!(a.domain_reason("e123.a.akamaiedge.net").is_some());
        assert!(a.domain_reason("download.windowsupdate.com").is_some());
        assert!(a.domain_reason("akamaiedge.net.evil.com").is_none());
        assert!(a.ip_reason("13.107.4.50".parse().unwrap()).is_some());
        assert!(a.ip_reason("8.8.8.8".parse().unwrap()).is_some());
        assert!(a.ip_reason("8.8.4.4".parse().unwrap()).is_none());
        assert_eq!(a.bad_lines.len(), 1);
        assert_eq!(a.bad_lines[0].line, 6);
        assert_eq!(
            &**a.domain_reason("akamaiedge.net").unwrap(),
            "allow.txt:2 (akamaiedge.net)"
        );
    }
}
