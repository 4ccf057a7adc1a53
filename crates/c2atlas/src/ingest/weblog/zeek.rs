//! Zeek http.log rows (read by [`crate::ingest`] as [`Http`] events) as
//! [`WebRequest`]s, so the web classifier runs on sensor telemetry as on
//! access logs.
//!
//! Zeek logs the request line and a few headers only: `method`, `host`,
//! `uri`, `user_agent`, the status and the response body length. The body,
//! cookies and the referer are not in the stock http.log, so the request
//! carries none. The site is the `Host` header, else the server address.

use std::borrow::Cow;

use crate::model::Http;

use super::WebRequest;

/// The request a Zeek http.log row describes. Borrows from `h`; `rec` is the
/// row's line number. A row without a method keeps an empty one (Zeek logs
/// such rows for non-HTTP payloads on HTTP ports).
pub fn from_http<'a>(h: &'a Http<'_>, rec: u64) -> WebRequest<'a> {
    WebRequest {
        ts: h.ts,
        src: h.src,
        site: Some(match h.host.as_deref() {
            Some(host) if !host.is_empty() => Cow::Borrowed(host),
            _ => Cow::Owned(h.dst.to_string()),
        }),
        method: Cow::Borrowed(h.method.as_deref().unwrap_or("")),
        uri: Cow::Borrowed(h.uri.as_deref().unwrap_or("/")),
        status: h.status,
        bytes: h.response_bytes,
        referer: None,
        user_agent: h.user_agent.as_deref().map(Cow::Borrowed),
        body: None,
        headers: Vec::new(),
        rec,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn maps_fields() {
        let h = Http {
            ts: 5,
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            sport: 1234,
            dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)),
            dport: 80,
            method: Some(Cow::Borrowed("GET")),
            host: None,
            uri: Some(Cow::Borrowed("/a?b=1")),
            user_agent: Some(Cow::Borrowed("curl/8")),
            status: Some(200),
            request_bytes: 0,
            response_bytes: 42,
            label: None,
        };
        let r = from_http(&h, 9);
        assert_eq!(r.site.as_deref(), Some("192.0.2.7"));
        assert_eq!((r.method.as_ref(), r.uri.as_ref()), ("GET", "/a?b=1"));
        assert_eq!((r.status, r.bytes, r.rec, r.ts), (Some(200), 42, 9, 5));
        assert_eq!(r.user_agent.as_deref(), Some("curl/8"));
    }
}
