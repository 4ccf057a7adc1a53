//! Helpers shared by the behavioural detectors: domain names (normalisation,
//! registered domain via the public-suffix list) and who may be a victim or a
//! controller.

use std::net::IpAddr;

use super::Context;

/// Longest DNS name (RFC 1035: 255 octets on the wire, 253 as text). Longer
/// names are not DNS names and are ignored.
pub const MAX_NAME_LEN: usize = 253;

/// Lower-cases and strips the trailing dot and a `:port`; `None` for names
/// that cannot be DNS names (empty, too long, IP literals).
pub fn normalise(name: &str) -> Option<String> {
    let name = strip_port(name.trim()).trim_end_matches('.');
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    if name.starts_with('[') {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

/// `host:port` → `host` (leaves IPv6 literals alone).
pub fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

/// The registered (registrable) domain of an already normalised `name`
/// according to the public-suffix list, e.g. `a.b.example.co.uk` →
/// `example.co.uk`. Names under an unknown suffix are taken at their last two
/// labels (the list's `*` rule); a bare suffix has none.
pub fn registered_domain(name: &str) -> Option<&str> {
    psl::domain_str(name)
}

/// The label that a DGA would have generated: the registered domain without its
/// public suffix (`xkqz.co.uk` → `xkqz`, `www.google.com` → `google`).
pub fn generated_label(name: &str) -> Option<&str> {
    let dom = psl::domain(name.as_bytes())?;
    let suffix_len = dom.suffix().as_bytes().len();
    let reg = std::str::from_utf8(dom.as_bytes()).ok()?;
    let cut = reg.len().checked_sub(suffix_len + 1)?;
    reg.get(..cut).filter(|l| !l.is_empty())
}

/// Whether `ip` may be a victim: a domestic host. With no home country this
/// is decided by the home networks alone (no database lookup).
pub fn is_victim(ctx: &Context<'_>, ip: IpAddr) -> bool {
    if ctx.home.countries.is_empty() {
        return ctx.home.networks.iter().any(|n| net_contains(n, ip));
    }
    ctx.is_domestic(ip)
}

/// `n.contains(&ip)`, comparing the prefix bits directly (`ipnet` masks
/// both ends per call; this runs twice for every flow of the beacon detector).
fn net_contains(n: &ipnet::IpNet, ip: IpAddr) -> bool {
    match (n, ip) {
        (ipnet::IpNet::V4(n), IpAddr::V4(a)) => {
            let p = u32::from(n.prefix_len());
            (u32::from(a) ^ u32::from(n.addr()))
                .checked_shr(32 - p)
                .is_none_or(|x| x == 0)
        }
        (ipnet::IpNet::V6(n), IpAddr::V6(a)) => {
            let p = u32::from(n.prefix_len());
            (u128::from(a) ^ u128::from(n.addr()))
                .checked_shr(128 - p)
                .is_none_or(|x| x == 0)
        }
        _ => false,
    }
}

/// Whether `ip` may be a controller: a routable address that is not a
/// victim, or any address in a `--controller-net` (internal controllers).
pub fn is_controller(ctx: &Context<'_>, ip: IpAddr) -> bool {
    (routable(ip) && !is_victim(ctx, ip)) || ctx.home.in_controller_net(ip)
}

/// Whether `ip` can be a remote peer: private, loopback, link-local,
/// multicast, broadcast and unspecified addresses cannot (documentation
/// ranges are kept: synthetic data uses them).
pub fn routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => {
            !(v.is_private()
                || v.is_loopback()
                || v.is_link_local()
                || v.is_multicast()
                || v.is_broadcast()
                || v.is_unspecified())
        }
        IpAddr::V6(v) => {
            let seg0 = v.segments()[0];
            !(v.is_loopback()
                || v.is_multicast()
                || v.is_unspecified()
                || (seg0 & 0xfe00) == 0xfc00
                || (seg0 & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_contains_is_ipnet_contains() {
        let nets: Vec<ipnet::IpNet> = [
            "10.0.0.0/8",
            "10.1.2.3/8",
            "0.0.0.0/0",
            "192.0.2.7/32",
            "172.16.0.0/12",
            "2001:db8::/32",
            "::/0",
            "2001:db8::1/128",
            "::ffff:10.0.0.0/104",
        ]
        .iter()
        .map(|n| n.parse().expect("net"))
        .collect();
        let ips: Vec<IpAddr> = [
            "10.0.0.1",
            "11.0.0.1",
            "9.255.255.255",
            "192.0.2.7",
            "192.0.2.8",
            "172.31.255.255",
            "172.32.0.0",
            "0.0.0.0",
            "255.255.255.255",
            "2001:db8::1",
            "2001:db9::",
            "::ffff:10.1.1.1",
            "::",
        ]
        .iter()
        .map(|a| a.parse().expect("ip"))
        .collect();
        for n in &nets {
            for &ip in &ips {
                assert_eq!(net_contains(n, ip), n.contains(&ip), "{n} {ip}");
            }
        }
    }

    #[test]
    fn registered_and_generated() {
        assert_eq!(
            registered_domain("a.b.example.co.uk"),
            Some("example.co.uk")
        );
        assert_eq!(generated_label("a.b.example.co.uk"), Some("example"));
        assert_eq!(generated_label("www.google.com"), Some("google"));
        assert_eq!(generated_label("hufofpnjs.biz"), Some("hufofpnjs"));
        assert_eq!(generated_label("com"), None);
        assert_eq!(
            normalise("WWW.Example.COM.:80").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(normalise("10.0.0.1"), None);
        assert_eq!(normalise(""), None);
    }

    #[test]
    fn routability() {
        assert!(routable("91.212.135.158".parse().unwrap()));
        assert!(!routable("10.1.2.3".parse().unwrap()));
        assert!(!routable("224.0.0.251".parse().unwrap()));
        assert!(!routable("fe80::1".parse().unwrap()));
        assert!(routable("2001:db8::1".parse().unwrap()));
    }
}
