//! Country lookups from any MaxMind-DB-format file.

use std::net::IpAddr;
use std::path::Path;

use super::{DbInfo, EnrichError};

/// An ISO 3166-1 alpha-2 code, upper case (`US`), stored inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode(pub [u8; 2]);

impl CountryCode {
    /// Parses two ASCII letters (any case).
    pub fn parse(s: &str) -> Option<CountryCode> {
        let b = s.as_bytes();
        if b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic) {
            Some(CountryCode([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
            ]))
        } else {
            None
        }
    }
    pub fn as_str(&self) -> &str {
        // Invariant: constructed only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl std::fmt::Display for CountryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which country a lookup reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CountryField {
    /// `country.iso_code` (GeoIP2/GeoLite2/DB-IP), falling back to the flat
    /// `country_code` of the ip-location-db builds.
    #[default]
    Country,
    /// `registered_country.iso_code`.
    Registered,
}

/// A country database.
pub struct GeoDb {
    _private: (),
}

impl GeoDb {
    pub fn open(path: &Path, field: CountryField) -> Result<GeoDb, EnrichError> {
        let _ = (path, field);
        todo!("enrich helper")
    }
    /// Country of an address, `None` when the database has no answer.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        let _ = ip;
        todo!("enrich helper")
    }
    pub fn info(&self) -> &DbInfo {
        todo!("enrich helper")
    }
    /// Every network the database maps to `cc` (for the simulator), IPv4 only, sorted.
    pub fn ipv4_networks_of(&self, cc: CountryCode) -> Vec<ipnet::Ipv4Net> {
        let _ = cc;
        todo!("enrich helper")
    }
}
