//! Intel detector: the controller is a known C2 indicator.
//!
//! - Flows: either end matches an IP/CIDR indicator and the other end is domestic.
//! - DNS: the query (or a CNAME in the answers) matches a domain indicator; each
//!   address answer becomes a controller of the querying host, and the pair is
//!   remembered so the connections that follow are attributed to the domain.
//!   A matching query with no address answer yields a name-only controller.
//! - HTTP `Host`/URL and TLS SNI: a domain/URL match makes the server a controller,
//!   and the pair is remembered likewise.
//!
//! Inputs of a run are read DNS/HTTP/TLS first (see `ingest::Format::ALL`), so a
//! domain indicator matches the connection that resolved it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::{Context, Controller, Detector, Finding, Method};
use crate::enrich::{CountryCache, Locale};
use crate::ingest::gate::{FlowGate, GATE_WORDS};
use crate::intel::{IndicatorId, IntelSet};
use crate::model::{Event, Micros, RecordRef};

/// Confidence of a feed match: feeds are curated but go stale and list shared hosting.
pub const FEED_CONFIDENCE: f64 = 0.9;

/// Longest URL we rebuild from an HTTP request for URL matching (longer ones are not indicators in practice).
const MAX_URL_LEN: usize = 4096;

type PairMap = HashMap<(IpAddr, IpAddr), IndicatorId, foldhash::fast::RandomState>;

pub struct IntelDetector<'i> {
    intel: &'i IntelSet,
    /// (victim, controller address) pairs learnt from names (DNS answers, HTTP Host, SNI).
    /// Shared with forks ([`Detector::fork`]): flows only read it, names copy on write.
    pairs: Arc<PairMap>,
    url_buf: String,
    /// Countries of flow ends (the domestic test of every matching flow).
    countries: CountryCache,
    /// The last gate built, and the number of learnt pairs it covers
    /// (pairs are only ever added, so the count identifies the set).
    gate: Option<(usize, FlowGate)>,
}

impl<'i> IntelDetector<'i> {
    pub fn new(intel: &'i IntelSet) -> Self {
        IntelDetector {
            intel,
            pairs: Arc::new(PairMap::default()),
            url_buf: String::new(),
            countries: CountryCache::default(),
            gate: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        out: &mut dyn FnMut(Finding),
        victim: IpAddr,
        controller: Controller,
        ind: IndicatorId,
        ts: Micros,
        flows: u64,
        bytes: u64,
        rec: RecordRef,
    ) {
        out(Finding {
            victim,
            controller,
            method: Method::Intel,
            confidence: FEED_CONFIDENCE,
            indicator: Some(ind),
            ts,
            flows,
            bytes,
            rec,
            explanation: None,
        });
    }

    /// `ctx.is_domestic(ip)` through the country memo.
    fn domestic(&mut self, ctx: &Context<'_>, ip: IpAddr) -> bool {
        let cc = ctx.geo.and_then(|g| self.countries.country(g, ip));
        ctx.home.classify(ip, cc) == Locale::Domestic
    }

    fn name_match(&mut self, name: &str) -> Option<IndicatorId> {
        if name.is_empty() {
            return None;
        }
        self.intel.match_domain(name)
    }
}

impl Detector for IntelDetector<'_> {
    fn name(&self) -> &'static str {
        "intel"
    }

    fn fork<'s>(&'s self) -> Option<Box<dyn Detector + Send + 's>> {
        Some(Box::new(IntelDetector {
            intel: self.intel,
            pairs: Arc::clone(&self.pairs),
            url_buf: String::new(),
            countries: CountryCache::default(),
            gate: self.gate.clone(),
        }))
    }

    /// A flow yields a finding only when an end matches an IP indicator
    /// (whose /24 is in [`IntelSet::v4_slash24s`]) or when (src, dst) is a
    /// learnt pair (dst's /24 added here); nothing else about a flow changes
    /// this detector's state.
    fn flow_gate(&mut self) -> Option<FlowGate> {
        if let Some((n, g)) = &self.gate
            && *n == self.pairs.len()
        {
            return Some(g.clone());
        }
        let mut bits = vec![0u64; GATE_WORDS];
        for (w, c) in bits.iter_mut().zip(self.intel.v4_slash24s()) {
            *w = *c;
        }
        for (_, dst) in self.pairs.keys() {
            if let IpAddr::V4(a) = dst {
                let b = u32::from(*a) >> 8;
                if let Some(w) = bits.get_mut((b >> 6) as usize) {
                    *w |= 1u64 << (b & 63);
                }
            }
        }
        let g = FlowGate::from_bits(bits)?;
        self.gate = Some((self.pairs.len(), g.clone()));
        Some(g)
    }

    fn observe(
        &mut self,
        rec: RecordRef,
        ev: &Event<'_>,
        ctx: &Context<'_>,
        out: &mut dyn FnMut(Finding),
    ) {
        match ev {
            Event::Flow(f) => {
                let bytes = f.src_bytes.saturating_add(f.dst_bytes);
                if let Some(ind) = self.intel.match_ip(f.dst)
                    && self.domestic(ctx, f.src)
                {
                    self.emit(out, f.src, Controller::Ip(f.dst), ind, f.ts, 1, bytes, rec);
                    return;
                }
                if let Some(ind) = self.intel.match_ip(f.src)
                    && self.domestic(ctx, f.dst)
                {
                    self.emit(out, f.dst, Controller::Ip(f.src), ind, f.ts, 1, bytes, rec);
                    return;
                }
                if !self.pairs.is_empty()
                    && let Some(&ind) = self.pairs.get(&(f.src, f.dst))
                {
                    self.emit(out, f.src, Controller::Ip(f.dst), ind, f.ts, 1, bytes, rec);
                }
            }
            Event::Dns(d) => {
                if !self.intel.has_names() {
                    return;
                }
                let mut ind = self.name_match(&d.query);
                if ind.is_none() {
                    ind = d
                        .answers
                        .iter()
                        .filter(|a| a.parse::<IpAddr>().is_err())
                        .find_map(|a| self.intel.match_domain(a));
                }
                let Some(ind) = ind else { return };
                if !ctx.is_domestic(d.src) {
                    return;
                }
                let mut resolved = false;
                for a in &d.answers {
                    if let Ok(ip) = a.parse::<IpAddr>() {
                        resolved = true;
                        Arc::make_mut(&mut self.pairs)
                            .entry((d.src, ip))
                            .or_insert(ind);
                        self.emit(out, d.src, Controller::Ip(ip), ind, d.ts, 0, 0, rec);
                    }
                }
                if !resolved {
                    let name = normalise_name(&d.query);
                    self.emit(
                        out,
                        d.src,
                        Controller::Name(Arc::from(name)),
                        ind,
                        d.ts,
                        0,
                        0,
                        rec,
                    );
                }
            }
            Event::Http(h) => {
                let mut ind = h
                    .host
                    .as_deref()
                    .and_then(|host| self.name_match(strip_port(host)));
                if ind.is_none()
                    && self.intel.has_names()
                    && let (Some(host), Some(uri)) = (h.host.as_deref(), h.uri.as_deref())
                    && host.len() + uri.len() < MAX_URL_LEN
                {
                    self.url_buf.clear();
                    if !uri.starts_with("http://") && !uri.starts_with("https://") {
                        self.url_buf.push_str("http://");
                        self.url_buf.push_str(host);
                    }
                    self.url_buf.push_str(uri);
                    ind = self.intel.match_url(&self.url_buf);
                }
                let Some(ind) = ind else { return };
                if ctx.is_domestic(h.src) {
                    Arc::make_mut(&mut self.pairs)
                        .entry((h.src, h.dst))
                        .or_insert(ind);
                    self.emit(out, h.src, Controller::Ip(h.dst), ind, h.ts, 0, 0, rec);
                }
            }
            Event::Tls(t) => {
                let Some(sni) = t.server_name.as_deref() else {
                    return;
                };
                let Some(ind) = self.name_match(sni) else {
                    return;
                };
                if ctx.is_domestic(t.src) {
                    Arc::make_mut(&mut self.pairs)
                        .entry((t.src, t.dst))
                        .or_insert(ind);
                    self.emit(out, t.src, Controller::Ip(t.dst), ind, t.ts, 0, 0, rec);
                }
            }
            Event::Exchange(_) => {}
        }
    }
}

/// `host:port` → `host` (leaves IPv6 literals in brackets alone).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

fn normalise_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("evil.example:8080"), "evil.example");
        assert_eq!(strip_port("evil.example"), "evil.example");
        assert_eq!(strip_port("[::1]:80"), "[::1]:80");
        assert_eq!(strip_port("::1"), "::1");
    }
}
