//! HTTP/1.x request heads and response status lines from single TCP segments.
//!
//! No stream reassembly: a request is recognised when an originator segment
//! starts with a method token, and its head is read from that segment only
//! (a head cut by the segment or the snap length keeps what was present).
//! `httparse` reads well-formed heads; malformed ones — common in attack
//! traffic — fall back to a lenient split of the request line and a scan for
//! the `Host` and `User-Agent` headers.

/// Headers read per request by `httparse`; more sends the request to the lenient path.
const MAX_HEADERS: usize = 64;

/// Longest field kept (URI, host, user agent), in bytes; longer values are cut
/// at a character boundary. Apache's default request-line limit is 8 KiB.
pub(crate) const MAX_FIELD_BYTES: usize = 8 * 1024;

/// Methods recognised at the start of a segment.
const METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
    b"PATCH ",
];

/// One request head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Request {
    pub method: String,
    pub uri: Option<String>,
    pub host: Option<String>,
    pub user_agent: Option<String>,
}

/// Whether `seg` starts like an HTTP request.
pub(crate) fn is_request(seg: &[u8]) -> bool {
    METHODS.iter().any(|m| seg.starts_with(m))
}

fn text(b: &[u8]) -> String {
    let b = &b[..b.len().min(MAX_FIELD_BYTES)];
    String::from_utf8_lossy(b).into_owned()
}

/// Parses the request head at the start of `seg` (call only when [`is_request`]).
pub(crate) fn parse_request(seg: &[u8]) -> Request {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    if let Ok(httparse::Status::Complete(_)) = req.parse(seg) {
        let find = |name: &str| {
            req.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| text(h.value))
        };
        return Request {
            method: req.method.unwrap_or_default().to_string(),
            uri: req.path.map(|p| text(p.as_bytes())),
            host: find("host"),
            user_agent: find("user-agent"),
        };
    }
    lenient(seg)
}

/// Request line split on spaces, then a line-by-line header scan.
fn lenient(seg: &[u8]) -> Request {
    let mut lines = seg
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let method = parts.next().map(text).unwrap_or_default();
    let uri = parts.next().map(text);
    let mut r = Request {
        method,
        uri,
        host: None,
        user_agent: None,
    };
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.trim_ascii().eq_ignore_ascii_case(b"host") && r.host.is_none() {
            r.host = Some(text(value));
        } else if name.trim_ascii().eq_ignore_ascii_case(b"user-agent") && r.user_agent.is_none() {
            r.user_agent = Some(text(value));
        }
    }
    r
}

/// The status code of a response segment starting `HTTP/1.x NNN`.
pub(crate) fn parse_status(seg: &[u8]) -> Option<u16> {
    if !seg.starts_with(b"HTTP/") {
        return None;
    }
    let sp = seg.iter().take(16).position(|&b| b == b' ')?;
    let code = seg.get(sp + 1..sp + 4)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_request() {
        let r = parse_request(
            b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n\r\n",
        );
        assert_eq!(r.method, "GET");
        assert_eq!(r.uri.as_deref(), Some("/a?b=1"));
        assert_eq!(r.host.as_deref(), Some("example.com"));
        assert_eq!(r.user_agent.as_deref(), Some("curl/8"));
    }

    #[test]
    fn malformed_and_cut_requests_fall_back() {
        // Space in the URI and a header without a colon: httparse rejects it.
        let r = parse_request(
            b"GET /x y/../../etc/passwd HTTP/1.1\r\nbroken\r\nhost:  evil.example \r\n",
        );
        assert_eq!(r.method, "GET");
        assert_eq!(r.uri.as_deref(), Some("/x"));
        assert_eq!(r.host.as_deref(), Some("evil.example"));
        // Cut in the middle of the head (segment or snaplen).
        let r = parse_request(b"POST /gate.php HTTP/1.0\r\nHost: c2.example\r\nUser-Ag");
        assert_eq!(r.host.as_deref(), Some("c2.example"));
        assert_eq!(r.user_agent, None);
        assert!(!is_request(b"GETX / HTTP/1.1"));
    }

    #[test]
    fn status() {
        assert_eq!(parse_status(b"HTTP/1.1 404 Not Found\r\n"), Some(404));
        assert_eq!(parse_status(b"HTTP/1.1 4x4"), None);
        assert_eq!(parse_status(b"SSH-2.0"), None);
    }
}
