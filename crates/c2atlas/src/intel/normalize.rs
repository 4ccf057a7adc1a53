//! Normalisation of indicator values: IPs, CIDRs, domains and URLs.
//!
//! Parsing here is pure (no I/O) and never panics; each function returns the
//! canonical form or the reason the value was refused. The URL helpers work on
//! borrowed text and a caller-supplied buffer so that matching allocates
//! nothing.

use std::net::IpAddr;

use ipnet::IpNet;

/// Longest domain name accepted, in bytes without the trailing dot (RFC 1035:
/// 255 octets on the wire, i.e. 253 characters in text form).
pub const MAX_DOMAIN_LEN: usize = 253;
/// Longest DNS label (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest URL handled: the size of the stack buffer used to normalise a URL
/// while matching. Real C2 URLs are far shorter; longer indicators are refused
/// at load time and longer queried URLs fall back to their host.
pub const MAX_URL_LEN: usize = 4096;

/// Maps IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) to IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Parses an IP address or CIDR. A prefix covering a single address becomes a
/// plain address; host bits are cleared; IPv4-mapped IPv6 becomes IPv4.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    match text.split_once('/') {
        None => {
            let ip = parse_ip(text)?;
            Ok(IpNet::from(ip))
        }
        Some((addr, len)) => {
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("invalid address in CIDR {text:?}"))?;
            let len: u8 = len
                .parse()
                .map_err(|_| format!("invalid prefix length in CIDR {text:?}"))?;
            let net = IpNet::new(ip, len).map_err(|_| format!("prefix too long in {text:?}"))?;
            Ok(canonical_net(net.trunc()))
        }
    }
}

/// Parses a bare IP address (v4 or v6, with optional `[...]` brackets).
pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    let t = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    t.parse::<IpAddr>()
        .map(canonical_ip)
        .map_err(|_| format!("invalid IP address {text:?}"))
}

/// IPv4-mapped IPv6 prefixes of length ≥ 96 become IPv4 prefixes.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(n) = net
        && let Some(v4) = n.addr().to_ipv4_mapped()
        && n.prefix_len() >= 96
        && let Ok(v4net) = ipnet::Ipv4Net::new(v4, n.prefix_len() - 96)
    {
        return IpNet::V4(v4net);
    }
    net
}

/// Canonical text of a network: a bare address for /32 and /128, else `addr/len`.
pub fn net_text(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// Validates and normalises a domain: lower-case, trailing dot removed, at
/// least two labels, each 1–63 bytes of letters, digits, `-` (not at either
/// end) or `_`; the last label is not all digits (that would be an IP).
/// Punycode (`xn--…`) is plain ASCII and passes.
pub fn parse_domain(text: &str) -> Result<String, String> {
    let t = text.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    if t.is_empty() {
        return Err("empty domain".into());
    }
    if t.len() > MAX_DOMAIN_LEN {
        return Err(format!("domain longer than {MAX_DOMAIN_LEN} bytes"));
    }
    let mut labels = 0usize;
    let mut last = "";
    for label in t.split('.') {
        check_label(label).map_err(|r| format!("invalid domain {text:?}: {r}"))?;
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err(format!(
            "invalid domain {text:?}: a single label would match a whole top-level domain"
        ));
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid domain {text:?}: numeric top-level label"));
    }
    Ok(t.to_ascii_lowercase())
}

/// A lone host-name label (`http://intranet/`): valid in a URL, though too
/// broad to be a domain indicator on its own.
fn is_single_label(host: &str) -> bool {
    !host.contains('.') && check_label(host).is_ok()
}

fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("empty label");
    }
    if label.len() > MAX_LABEL_LEN {
        return Err("label longer than 63 bytes");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("label starts or ends with '-'");
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("character not allowed in a host name");
    }
    Ok(())
}

/// The parts of a URL that matching cares about, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    /// Host without brackets, userinfo or port; not yet lower-cased.
    pub host: &'a str,
    /// Port text when present and not the scheme's default.
    pub port: Option<&'a str>,
    /// Everything from the first `/`, `?` or `#` after the authority
    /// (may be empty).
    pub rest: &'a str,
}

/// Splits `scheme://[userinfo@]host[:port][rest]`. Without `://` the
/// scheme is taken as `http` (Zeek writes URLs as `host/path`). Returns
/// `None` when there is no host or the scheme has invalid characters.
pub fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let url = url.trim();
    let (scheme, after) = url.split_once("://").unwrap_or(("http", url));
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let hostport = match authority.rfind('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let close = inner.find(']')?;
        let host = &inner[..close];
        let tail = &inner[close + 1..];
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(p),
            None if tail.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = port.filter(|p| !p.is_empty() && !is_default_port(scheme, p));
    Some(UrlParts {
        scheme,
        host,
        port,
        rest,
    })
}

fn is_default_port(scheme: &str, port: &str) -> bool {
    (scheme.eq_ignore_ascii_case("http") && port == "80")
        || (scheme.eq_ignore_ascii_case("https") && port == "443")
}

/// A fixed-capacity byte buffer on the stack; `push` fails instead of growing.
pub struct StackBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> StackBuf<N> {
    pub fn new() -> Self {
        StackBuf {
            buf: [0; N],
            len: 0,
        }
    }
    /// Appends `bytes`, ASCII-lower-cased when `lower`; `false` if full.
    pub fn push(&mut self, bytes: &[u8], lower: bool) -> bool {
        let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) else {
            return false;
        };
        dst.copy_from_slice(bytes);
        if lower {
            dst.make_ascii_lowercase();
        }
        self.len += bytes.len();
        true
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    /// The contents as text; only ASCII case changes are ever applied to
    /// UTF-8 input, so this holds whenever only `&str` bytes were pushed.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }
}

impl<const N: usize> Default for StackBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// A URL host that ends in a number is an IPv4 address in the WHATWG URL
/// standard (what browsers and most HTTP clients follow), written with hex
/// (`0x4A`), octal (`012`) or fewer than four parts (`127.1`). Malware URLs
/// use these spellings to dodge naive lists (ThreatFox has
/// `http://94.0x4A.164.136/…`). Returns `None` when the host does not end in
/// a number (a name), `Some(Err(()))` when it does but is not a valid address.
pub fn whatwg_ipv4(host: &str) -> Option<Result<std::net::Ipv4Addr, ()>> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or(host);
    let numeric = |p: &str| {
        let digits = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"));
        match digits {
            Some(h) => h.bytes().all(|b| b.is_ascii_hexdigit()),
            None => !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
        }
    };
    if !numeric(last) {
        return None;
    }
    let parse = |p: &str| -> Result<u64, ()> {
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"))
        {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (p, 10)
        };
        if digits.is_empty() {
            return Ok(0);
        }
        // More than 11 significant digits cannot fit in 32 bits in any radix.
        if digits.trim_start_matches('0').len() > 11 {
            return Err(());
        }
        u64::from_str_radix(digits, radix).map_err(|_| ())
    };
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 {
        return Some(Err(()));
    }
    let mut value: u64 = 0;
    let n = parts.len();
    for (i, part) in parts.iter().enumerate() {
        let v = match parse(part) {
            Ok(v) => v,
            Err(()) => return Some(Err(())),
        };
        if i + 1 < n {
            if v > 255 {
                return Some(Err(()));
            }
            value |= v << (8 * (3 - i));
        } else {
            if v >= 1u64 << (8 * (5 - n)) {
                return Some(Err(()));
            }
            value |= v;
        }
    }
    Some(
        u32::try_from(value)
            .map(std::net::Ipv4Addr::from)
            .map_err(|_| ()),
    )
}

/// Writes `ip` in dotted decimal without allocating.
fn push_ipv4<const N: usize>(ip: std::net::Ipv4Addr, out: &mut StackBuf<N>) -> bool {
    for (i, o) in ip.octets().into_iter().enumerate() {
        let digits = [b'0' + o / 100, b'0' + (o / 10) % 10, b'0' + o % 10];
        let skip = if o >= 100 {
            0
        } else if o >= 10 {
            1
        } else {
            2
        };
        if (i > 0 && !out.push(b".", false)) || !out.push(&digits[skip..], false) {
            return false;
        }
    }
    true
}

/// Writes the normalised URL (`scheme://host[:port]rest` with scheme and host
/// lower-cased, a trailing dot of the host removed, a numeric host written as
/// dotted IPv4, the default port dropped and an empty path written as `/`)
/// into `out`. `false` if it does not fit or the host is an invalid number.
pub fn normalize_url_into<const N: usize>(p: &UrlParts<'_>, out: &mut StackBuf<N>) -> bool {
    let host = p.host.strip_suffix('.').unwrap_or(p.host);
    let v6 = host.contains(':');
    let mut ok = out.push(p.scheme.as_bytes(), true) && out.push(b"://", false);
    if v6 {
        ok = ok && out.push(b"[", false);
    }
    ok = ok
        && match (v6, whatwg_ipv4(host)) {
            (false, Some(Ok(ip))) => push_ipv4(ip, out),
            (false, Some(Err(()))) => false,
            _ => out.push(host.as_bytes(), true),
        };
    if v6 {
        ok = ok && out.push(b"]", false);
    }
    if let Some(port) = p.port {
        ok = ok && out.push(b":", false) && out.push(port.as_bytes(), false);
    }
    if p.rest.is_empty() || !p.rest.starts_with('/') {
        ok = ok && out.push(b"/", false);
    }
    ok && out.push(p.rest.as_bytes(), false)
}

/// Normalised URL as an owned string (load time), or the reason it is refused.
pub fn normalize_url(url: &str) -> Result<(String, String), String> {
    let p = url_parts(url).ok_or_else(|| format!("invalid URL {url:?}: no scheme or host"))?;
    if let Some(Err(())) = whatwg_ipv4(p.host) {
        return Err(format!(
            "invalid URL {url:?}: bad numeric host {:?}",
            p.host
        ));
    }
    let mut buf = StackBuf::<MAX_URL_LEN>::new();
    if !normalize_url_into(&p, &mut buf) {
        return Err(format!("URL longer than {MAX_URL_LEN} bytes"));
    }
    let norm = buf
        .as_str()
        .ok_or_else(|| "URL is not valid UTF-8".to_string())?
        .to_string();
    let host = p.host.strip_suffix('.').unwrap_or(p.host);
    if let Some(Ok(v4)) = whatwg_ipv4(host) {
        return Ok((norm, v4.to_string()));
    }
    if parse_ip(host).is_err() && parse_domain(host).is_err() && !is_single_label(host) {
        return Err(format!("invalid URL {url:?}: bad host {host:?}"));
    }
    Ok((norm, host.to_ascii_lowercase()))
}

/// Whether `text` looks like an attempt at an IP address or CIDR (digits,
/// dots, colons, slashes, hex) rather than a name: used to report `1.2.3.4/33`
/// as a bad CIDR instead of a bad domain.
pub fn looks_like_ip(text: &str) -> bool {
    let t = text.split('/').next().unwrap_or(text);
    (t.contains(':')
        && t.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'))
        || (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        || text.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets() {
        assert_eq!(net_text(&parse_net("10.1.2.3/8").unwrap()), "10.0.0.0/8");
        assert_eq!(net_text(&parse_net("10.1.2.3/32").unwrap()), "10.1.2.3");
        assert_eq!(net_text(&parse_net("::ffff:1.2.3.4").unwrap()), "1.2.3.4");
        assert_eq!(
            net_text(&parse_net("::ffff:1.2.3.4/120").unwrap()),
            "1.2.3.0/24"
        );
        assert_eq!(
            net_text(&parse_net("2001:db8::1/32").unwrap()),
            "2001:db8::/32"
        );
        assert!(parse_net("1.2.3.4/33").is_err());
        assert!(parse_net("1.2.3.256").is_err());
        assert!(parse_net("1.2.3.4/x").is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(parse_domain("EVIL.Example.").unwrap(), "evil.example");
        assert_eq!(
            parse_domain("_dmarc.xn--bcher-kva.de").unwrap(),
            "_dmarc.xn--bcher-kva.de"
        );
        assert!(parse_domain("localhost").is_err());
        assert!(parse_domain("a..b").is_err());
        assert!(parse_domain("-a.b").is_err());
        assert!(parse_domain("a b.c").is_err());
        assert!(parse_domain("é.com").is_err());
        assert!(parse_domain("1.2.3.999").is_err());
        assert!(parse_domain(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn urls() {
        let (n, h) = normalize_url("HTTP://User@EVIL.Example.:80").unwrap();
        assert_eq!(n, "http://evil.example/");
        assert_eq!(h, "evil.example");
        let (n, h) = normalize_url("https://[2001:DB8::1]:8443/a?B").unwrap();
        assert_eq!(n, "https://[2001:db8::1]:8443/a?B");
        assert_eq!(h, "2001:db8::1");
        let (n, _) = normalize_url("http://1.2.3.4:8080?x").unwrap();
        assert_eq!(n, "http://1.2.3.4:8080/?x");
        assert!(normalize_url("not a url").is_err());
        let (n, h) = normalize_url("http://94.0x4A.164.136/fifx.odd").unwrap();
        assert_eq!(
            (n.as_str(), h.as_str()),
            ("http://94.74.164.136/fifx.odd", "94.74.164.136")
        );
        assert_eq!(
            normalize_url("http://127.1:8080").unwrap().0,
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            normalize_url("http://0300.0250.0.1/").unwrap().1,
            "192.168.0.1"
        );
        assert_eq!(
            normalize_url("http://3232235521/").unwrap().1,
            "192.168.0.1"
        );
        assert!(normalize_url("http://1.2.3.256/").is_err());
        assert!(normalize_url("http://1.2.3.4.5/").is_err());
        assert!(normalize_url("http://example.0x1/").is_err());
        assert!(normalize_url("http:///path").is_err());
        assert!(normalize_url("http://a b/").is_err());
        let (n, h) = normalize_url("Evil.Example/gate.php").unwrap();
        assert_eq!(
            (n.as_str(), h.as_str()),
            ("http://evil.example/gate.php", "evil.example")
        );
    }
}
