//! Enrich: IP → country, ASN/organisation, and home (domestic) vs. abroad.
//!
//! Databases are opened once per run and are read-only afterwards; lookups
//! take `&self` and are safe to share across threads.

use std::path::PathBuf;

pub mod asn;
pub mod geo;
pub mod home;

pub use asn::{AsnDb, AsnInfo};
pub use geo::{CountryCache, CountryCode, CountryField, GeoDb};
pub use home::{Home, Locale};

/// Which database produced the figures: recorded in the census `databases`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DbInfo {
    pub path: String,
    /// Build time from the database's metadata (mmdb `build_epoch`); for CSV
    /// sources, the file's modification time in seconds since the epoch.
    pub build_epoch: u64,
    /// Lowercase hex SHA-256 of the file. For an ASN CSV directory: of the
    /// IPv4 file's bytes followed by the IPv6 file's bytes.
    pub sha256: String,
    /// e.g. `GeoLite2-Country`, `geo-whois-asn-country`, `ip-location-db asn CSV`.
    pub database_type: String,
}

/// A database that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrichError {
    #[error("{path}: cannot read database: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a usable MaxMind DB: {reason}")]
    InvalidMmdb { path: PathBuf, reason: String },
    #[error("{path}:{line}: {reason}")]
    InvalidCsv {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("invalid network {value:?}: {reason}")]
    InvalidNetwork { value: String, reason: String },
    /// A `--home-country` value that is not an ISO 3166-1 alpha-2 code.
    #[error("invalid country code {value:?}: {reason}")]
    InvalidCountry { value: String, reason: String },
}

/// Lowercase hex SHA-256 of `parts` fed in order (i.e. of their concatenation).
pub(crate) fn sha256_hex<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// Modification time of `meta` in seconds since the epoch (0 when unknown).
pub(crate) fn mtime_secs(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Reads a whole database file, mapping failures to [`EnrichError::Io`].
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>, EnrichError> {
    std::fs::read(path).map_err(|source| EnrichError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Where the default databases are looked for: `$C2ATLAS_DB_DIR`, else the
/// `data/db` folder of the source tree this binary was built from (filled by
/// `scripts/setup.sh`).
pub fn default_db_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("C2ATLAS_DB_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/db"))
}
