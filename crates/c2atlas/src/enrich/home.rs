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
}

impl Home {
    /// Builds from `--home-country` and `--home-net` values.
    pub fn new(countries: &[String], networks: &[String]) -> Result<Home, EnrichError> {
        let _ = (countries, networks);
        todo!("enrich helper")
    }
    /// Classifies `ip`; `country` is its geolocation (looked up by the caller).
    pub fn classify(&self, ip: IpAddr, country: Option<CountryCode>) -> Locale {
        let _ = (ip, country);
        todo!("enrich helper")
    }
    /// Convenience: looks the country up in `geo` first.
    pub fn locate(&self, ip: IpAddr, geo: Option<&GeoDb>) -> (Locale, Option<CountryCode>) {
        let cc = geo.and_then(|g| g.country(ip));
        (self.classify(ip, cc), cc)
    }
}

/// Whether `ip` is private or special-purpose (IANA special-purpose registries).
pub fn is_special(ip: IpAddr) -> bool {
    let _ = ip;
    todo!("enrich helper")
}
