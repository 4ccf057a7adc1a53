//! Home (domestic) vs. abroad.

use std::net::IpAddr;

use super::{CountryCode, EnrichError, GeoDb};

/// Where an address stands relative to home.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Locale {
    /// In a `--home-net`, or geolocated in a `--home-country`.
    Domestic,
    /// Geolocated in another country (public address).
    Overseas,
    /// Private or special-purpose (RFC 6890 etc.) and not a home network; or
    /// public but with no country in the database. Never counted as overseas.
    Unknown,
}

/// The home definition of a run.
#[derive(Clone, Debug, Default)]
pub struct Home {
    pub countries: Vec<CountryCode>,
    pub networks: Vec<ipnet::IpNet>,
    /// `--controller-net`: ranges whose addresses may be controllers even
    /// when private or inside a home network (a lab's C2 server, an internal
    /// relay or pivot). Empty by default: then only routable addresses outside
    /// home can be controllers. Does not change [`Home::classify`] (an
    /// internal controller is still domestic or unknown, never overseas).
    pub controller_nets: Vec<ipnet::IpNet>,
}

impl Home {
    /// Builds from `--home-country` and `--home-net` values.
    ///
    /// Country codes must be two ASCII letters (any case). Networks are
    /// CIDRs (`192.0.2.0/24`, `2001:db8::/32`) or bare addresses (a /32 or
    /// /128); host bits are allowed and cleared (`10.1.2.3/8` → `10.0.0.0/8`).
    /// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is stored as the
    /// IPv4 network it denotes.
    pub fn new(countries: &[String], networks: &[String]) -> Result<Home, EnrichError> {
        let countries = countries
            .iter()
            .map(|c| {
                CountryCode::parse(c.trim()).ok_or_else(|| EnrichError::InvalidCountry {
                    value: c.clone(),
                    reason: "expected an ISO 3166-1 alpha-2 code such as CN or US".to_owned(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let networks = networks
            .iter()
            .map(|n| parse_network(n))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Home {
            countries,
            networks,
            controller_nets: Vec::new(),
        })
    }

    /// Adds `--controller-net` values (same syntax as `--home-net`).
    pub fn with_controller_nets(mut self, networks: &[String]) -> Result<Home, EnrichError> {
        for n in networks {
            self.controller_nets.push(parse_network(n)?);
        }
        Ok(self)
    }

    /// Whether `ip` is in a `--controller-net`.
    pub fn in_controller_net(&self, ip: IpAddr) -> bool {
        !self.controller_nets.is_empty() && {
            let ip = ip.to_canonical();
            self.controller_nets.iter().any(|n| n.contains(&ip))
        }
    }

    /// Classifies `ip`; `country` is its geolocation (looked up by the caller).
    ///
    /// Precedence: a listed home network → `Domestic`; else a special-purpose
    /// address ([`is_special`]) → `Unknown` (never overseas); else a home
    /// country → `Domestic`; another country → `Overseas`; no country →
    /// `Unknown`. An IPv4-mapped IPv6 address is classified as its IPv4
    /// address.
    pub fn classify(&self, ip: IpAddr, country: Option<CountryCode>) -> Locale {
        let ip = ip.to_canonical();
        if self.networks.iter().any(|n| n.contains(&ip)) {
            return Locale::Domestic;
        }
        if is_special(ip) {
            return Locale::Unknown;
        }
        match country {
            Some(c) if self.countries.contains(&c) => Locale::Domestic,
            Some(_) => Locale::Overseas,
            None => Locale::Unknown,
        }
    }
    /// Convenience: looks the country up in `geo` first.
    pub fn locate(&self, ip: IpAddr, geo: Option<&GeoDb>) -> (Locale, Option<CountryCode>) {
        let cc = geo.and_then(|g| g.country(ip));
        (self.classify(ip, cc), cc)
    }
}

/// Parses one `--home-net` value (see [`Home::new`]).
fn parse_network(value: &str) -> Result<ipnet::IpNet, EnrichError> {
    let v = value.trim();
    let net = match v.parse::<ipnet::IpNet>() {
        Ok(n) => n,
        Err(e) => match v.parse::<IpAddr>() {
            Ok(a) => ipnet::IpNet::from(a),
            Err(_) => {
                return Err(EnrichError::InvalidNetwork {
                    value: value.to_owned(),
                    reason: e.to_string(),
                });
            }
        },
    };
    Ok(canonical_net(net.trunc()))
}

/// `::ffff:a.b.c.d/(96+n)` → `a.b.c.d/n`; other networks unchanged.
fn canonical_net(net: ipnet::IpNet) -> ipnet::IpNet {
    if let ipnet::IpNet::V6(n6) = net
        && let Some(v4) = n6.addr().to_ipv4_mapped()
        && let Some(len) = n6.prefix_len().checked_sub(96)
        && let Ok(n4) = ipnet::Ipv4Net::new(v4, len)
    {
        return ipnet::IpNet::V4(n4.trunc());
    }
    net
}

/// IPv4 special-purpose blocks as (network, prefix length), from the IANA
/// IPv4 Special-Purpose Address Registry (RFC 6890 and updates) plus
/// multicast and the former class E.
const SPECIAL_V4: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 shared address space (CGN)
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link local
    (0xac10_0000, 12), // 172.16.0.0/12 private
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24 TEST-NET-1
    (0xc058_6300, 24), // 192.88.99.0/24 6to4 relay anycast (deprecated)
    (0xc0a8_0000, 16), // 192.168.0.0/16 private
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113.0/24 TEST-NET-3
    (0xe000_0000, 4),  // 224.0.0.0/4 multicast
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved, incl. 255.255.255.255
];

/// IPv6 special blocks *inside* 2000::/3 (everything outside 2000::/3 is
/// special, see [`is_special`]), as (network, prefix length).
const SPECIAL_V6_IN_GLOBAL: &[(u128, u8)] = &[
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23), // 2001::/23 IETF protocol assignments (incl. Teredo 2001::/32)
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // 2001:db8::/32 documentation
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // 3fff::/20 documentation (RFC 9637)
];

#[inline]
fn in_v4(x: u32, (net, len): (u32, u8)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    x & mask == net
}

#[inline]
fn in_v6(x: u128, (net, len): (u128, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    x & mask == net
}

/// Whether `ip` is private or special-purpose (IANA special-purpose registries).
///
/// IPv4: the blocks of [`SPECIAL_V4`]. IPv6: an IPv4-mapped address
/// (`::ffff:0:0/96`) is judged as its IPv4 address; anything outside the
/// global unicast space 2000::/3 is special (this covers `::`, `::1`,
/// 64:ff9b::/96 and 64:ff9b:1::/48 NAT64, 100::/64 discard, 5f00::/16 SRv6,
/// fc00::/7 unique local, fe80::/10 link local, ff00::/8 multicast); inside
/// it, the blocks of [`SPECIAL_V6_IN_GLOBAL`]. 6to4 (2002::/16) is left
/// public. Integer compares only, no allocation.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let x = u32::from(a);
            SPECIAL_V4.iter().any(|&b| in_v4(x, b))
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_special(IpAddr::V4(v4));
            }
            let x = u128::from(a);
            if x >> 125 != 0b001 {
                return true;
            }
            SPECIAL_V6_IN_GLOBAL.iter().any(|&b| in_v6(x, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }
    fn cc(s: &str) -> Option<CountryCode> {
        CountryCode::parse(s)
    }
    fn home(c: &[&str], n: &[&str]) -> Home {
        let c: Vec<String> = c.iter().map(|s| s.to_string()).collect();
        let n: Vec<String> = n.iter().map(|s| s.to_string()).collect();
        Home::new(&c, &n).expect("valid home")
    }

    #[test]
    fn special_v4_edges() {
        for s in [
            "0.0.0.0",
            "10.255.255.255",
            "100.64.0.0",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.1.1",
            "172.16.0.0",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(is_special(ip(s)), "{s} should be special");
        }
        for s in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "8.8.8.8",
        ] {
            assert!(!is_special(ip(s)), "{s} should be public");
        }
    }

    #[test]
    fn special_v6_edges() {
        for s in [
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "64:ff9b::8.8.8.8",
            "100::1",
            "2001::1",
            "2001:1ff:ffff::1",
            "2001:db8::1",
            "3fff::1",
            "fc00::1",
            "fdff::1",
            "fe80::1",
            "ff02::1",
            "5f00::1",
        ] {
            assert!(is_special(ip(s)), "{s} should be special");
        }
        for s in [
            "2001:200::1",
            "2001:4860:4860::8888",
            "2400:cb00::1",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "2002:c000:0201::1",
            "3ffe::1",
        ] {
            assert!(!is_special(ip(s)), "{s} should be public");
        }
    }

    #[test]
    fn precedence() {
        let h = home(
            &["cn"],
            &["10.1.2.3/16", "203.0.113.0/24", "2001:db8:1::/48"],
        );
        assert_eq!(h.networks[0].to_string(), "10.1.0.0/16");
        // Home network beats geolocation and special-ness.
        assert_eq!(h.classify(ip("10.1.9.9"), cc("US")), Locale::Domestic);
        assert_eq!(h.classify(ip("203.0.113.5"), None), Locale::Domestic);
        assert_eq!(h.classify(ip("2001:db8:1::5"), cc("DE")), Locale::Domestic);
        // Special, not listed: never overseas, even with a country.
        assert_eq!(h.classify(ip("10.2.0.1"), cc("US")), Locale::Unknown);
        assert_eq!(h.classify(ip("192.168.0.1"), cc("CN")), Locale::Unknown);
        assert_eq!(h.classify(ip("2001:db8:2::1"), cc("US")), Locale::Unknown);
        // Public: by country.
        assert_eq!(h.classify(ip("1.2.3.4"), cc("CN")), Locale::Domestic);
        assert_eq!(h.classify(ip("1.2.3.4"), cc("US")), Locale::Overseas);
        assert_eq!(h.classify(ip("1.2.3.4"), None), Locale::Unknown);
        // Mapped IPv6 is its IPv4 address.
        assert_eq!(h.classify(ip("::ffff:10.1.0.1"), None), Locale::Domestic);
        assert_eq!(
            h.classify(ip("::ffff:192.168.0.1"), cc("US")),
            Locale::Unknown
        );
        assert_eq!(h.classify(ip("::ffff:1.2.3.4"), cc("US")), Locale::Overseas);
    }

    #[test]
    fn mapped_home_net_and_bare_address() {
        let h = home(&[], &["::ffff:10.0.0.0/104", "8.8.8.8"]);
        assert_eq!(h.networks[0].to_string(), "10.0.0.0/8");
        assert_eq!(h.networks[1].to_string(), "8.8.8.8/32");
        assert_eq!(h.classify(ip("10.9.9.9"), None), Locale::Domestic);
        assert_eq!(h.classify(ip("8.8.8.8"), cc("US")), Locale::Domestic);
        assert_eq!(h.classify(ip("8.8.8.9"), cc("US")), Locale::Overseas);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let bad_cc = Home::new(&["CHN".to_owned()], &[]);
        assert!(matches!(bad_cc, Err(EnrichError::InvalidCountry { .. })));
        let bad_net = Home::new(&[], &["10.0.0.0/33".to_owned()]);
        assert!(matches!(bad_net, Err(EnrichError::InvalidNetwork { .. })));
        let bad_net = Home::new(&[], &["not-a-net".to_owned()]);
        assert!(matches!(bad_net, Err(EnrichError::InvalidNetwork { .. })));
    }

    fn reference_special_v4(a: std::net::Ipv4Addr) -> bool {
        a.is_private()
            || a.is_loopback()
            || a.is_link_local()
            || a.is_multicast()
            || a.is_broadcast()
            || a.is_documentation()
            || a.is_unspecified()
            || a.octets()[0] == 0
            || (a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
            || (a.octets()[0] == 192 && a.octets()[1] == 0 && a.octets()[2] == 0)
            || (a.octets()[0] == 192 && a.octets()[1] == 88 && a.octets()[2] == 99)
            || (a.octets()[0] == 198 && (a.octets()[1] & 0xfe) == 18)
            || a.octets()[0] >= 240
    }

    proptest! {
        /// The mask table agrees with the standard library's predicates
        /// (plus the blocks std has no stable predicate for).
        #[test]
        fn special_v4_matches_std(x in any::<u32>()) {
            let a = std::net::Ipv4Addr::from(x);
            prop_assert_eq!(is_special(IpAddr::V4(a)), reference_special_v4(a));
            // Mapped form agrees.
            prop_assert_eq!(is_special(IpAddr::V6(a.to_ipv6_mapped())), reference_special_v4(a));
        }

        /// A listed home network wins whatever the country; special
        /// addresses outside home networks are never overseas.
        #[test]
        fn precedence_props(x in any::<u32>(), len in 8u8..=32, c in "[A-Z]{2}", probe in any::<u32>()) {
            let net = ipnet::Ipv4Net::new(x.into(), len).expect("len <= 32").trunc();
            let h = home(&["CN"], &[&net.to_string()]);
            let inside = std::net::Ipv4Addr::from(u32::from(net.network()) | (probe & !u32::from(net.netmask())));
            prop_assert_eq!(h.classify(IpAddr::V4(inside), cc(&c)), Locale::Domestic);
            prop_assert_eq!(h.classify(IpAddr::V6(inside.to_ipv6_mapped()), None), Locale::Domestic);
            let p = std::net::Ipv4Addr::from(probe);
            if !net.contains(&p) && is_special(IpAddr::V4(p)) {
                prop_assert_eq!(h.classify(IpAddr::V4(p), cc(&c)), Locale::Unknown);
            }
        }
    }
}
