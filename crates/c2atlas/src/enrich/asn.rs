//! ASN and organisation lookups: GeoLite2-ASN-format mmdb or ip-location-db range CSV.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use super::{DbInfo, EnrichError};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsnInfo {
    pub asn: u32,
    pub org: Arc<str>,
}

/// An ASN database. Format chosen from content (mmdb magic vs. CSV).
pub struct AsnDb {
    _private: (),
}

impl AsnDb {
    /// Opens one file; for ip-location-db CSV, `path` may be one of
    /// `asn-ipv4.csv` / `asn-ipv6.csv`, or a directory holding both.
    pub fn open(path: &Path) -> Result<AsnDb, EnrichError> {
        let _ = path;
        todo!("enrich helper")
    }
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnInfo> {
        let _ = ip;
        todo!("enrich helper")
    }
    pub fn info(&self) -> &DbInfo {
        todo!("enrich helper")
    }
}
