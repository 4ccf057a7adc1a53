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
    /// `registered_country.iso_code`. A flat ip-location-db record (only
    /// `country_code`, derived from registry whois data) answers its
    /// `country_code`; a GeoIP2-style record without `registered_country`
    /// answers `None`.
    Registered,
}

/// A country database: any MaxMind-DB-format file, read into memory once.
///
/// Invariants: the file passed the reader's structural checks at open time
/// (metadata, search-tree layout); data-section damage found later makes the
/// affected lookups answer `None`, never panic.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
    field: CountryField,
    info: DbInfo,
}

/// `{ "iso_code": "GB", ... }` — only the code is decoded, the rest skipped.
#[derive(serde::Deserialize)]
struct IsoOnly<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

/// The few fields we read from a record; every other field is skipped
/// without being decoded (strings are borrowed from the database buffer).
#[derive(serde::Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow, default)]
    country: Option<IsoOnly<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<IsoOnly<'a>>,
    /// The flat key of the ip-location-db builds.
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
}

impl<'a> CountryRecord<'a> {
    /// The code `field` asks for.
    ///
    /// `Country`: `country.iso_code`, else the flat `country_code`.
    /// `Registered`: `registered_country.iso_code`; a flat record (no
    /// `country`/`registered_country` map at all, as in the ip-location-db
    /// builds, whose single code comes from registry whois data) answers
    /// its `country_code`.
    fn code(&self, field: CountryField) -> Option<&'a str> {
        fn iso<'a>(m: &Option<IsoOnly<'a>>) -> Option<&'a str> {
            m.as_ref().and_then(|c| c.iso_code)
        }
        match field {
            CountryField::Country => iso(&self.country).or(self.country_code),
            CountryField::Registered => {
                if self.country.is_none() && self.registered_country.is_none() {
                    self.country_code
                } else {
                    iso(&self.registered_country)
                }
            }
        }
    }
}

/// Opens a MaxMind DB from bytes, mapping every failure to `InvalidMmdb`.
pub(crate) fn open_mmdb(
    path: &Path,
    bytes: Vec<u8>,
) -> Result<maxminddb::Reader<Vec<u8>>, EnrichError> {
    maxminddb::Reader::from_source(bytes).map_err(|e| EnrichError::InvalidMmdb {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// `DbInfo` of an open MaxMind DB.
pub(crate) fn mmdb_info(
    path: &Path,
    sha256: String,
    reader: &maxminddb::Reader<Vec<u8>>,
) -> DbInfo {
    let m = reader.metadata();
    DbInfo {
        path: path.display().to_string(),
        build_epoch: m.build_epoch,
        sha256,
        database_type: m.database_type.clone(),
    }
}

impl GeoDb {
    /// Opens `path` (read fully into memory). A file that is not a MaxMind
    /// DB, or whose metadata or tree layout is damaged, is
    /// [`EnrichError::InvalidMmdb`].
    pub fn open(path: &Path, field: CountryField) -> Result<GeoDb, EnrichError> {
        let bytes = super::read_file(path)?;
        Self::from_bytes(path, bytes, field)
    }

    /// Like [`GeoDb::open`] on bytes already in memory; `path` names them in
    /// errors and in [`DbInfo`].
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        field: CountryField,
    ) -> Result<GeoDb, EnrichError> {
        let sha256 = super::sha256_hex([bytes.as_slice()]);
        let reader = open_mmdb(path, bytes)?;
        let info = mmdb_info(path, sha256, &reader);
        Ok(GeoDb {
            reader,
            field,
            info,
        })
    }

    /// Which country this database reports.
    pub fn field(&self) -> CountryField {
        self.field
    }

    /// Country of an address, `None` when the database has no answer (or
    /// the record is damaged, or an IPv6 address meets an IPv4-only
    /// database). An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is looked
    /// up as the IPv4 address.
    pub fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        let found = self.reader.lookup(ip.to_canonical()).ok()?;
        let rec: CountryRecord<'_> = found.decode().ok()??;
        rec.code(self.field).and_then(CountryCode::parse)
    }

    /// [`GeoDb::country`] of an IPv4 address, with the database network that
    /// holds it (first address, prefix length): every address of that network
    /// has the same record, hence the same answer. `None` for the network when
    /// the database does not say (damaged tree).
    pub fn country_v4_net(
        &self,
        ip: std::net::Ipv4Addr,
    ) -> (Option<CountryCode>, Option<(u32, u8)>) {
        let Ok(found) = self.reader.lookup(IpAddr::V4(ip)) else {
            return (None, None);
        };
        let net = found.network().ok().and_then(|n| match n.network() {
            IpAddr::V4(a) if n.prefix() <= 32 => Some((u32::from(a), n.prefix())),
            _ => None,
        });
        let cc = found
            .decode::<CountryRecord<'_>>()
            .ok()
            .flatten()
            .and_then(|rec| rec.code(self.field).and_then(CountryCode::parse));
        (cc, net)
    }

    pub fn info(&self) -> &DbInfo {
        &self.info
    }

    /// Every network the database maps to `cc` (for the simulator), IPv4 only, sorted.
    ///
    /// Walks the whole IPv4 tree (once per call: cache the result if you
    /// call it often). Records shared by many networks are decoded once.
    /// A damaged tree ends the walk early: the networks found so far are
    /// returned.
    pub fn ipv4_networks_of(&self, cc: CountryCode) -> Vec<ipnet::Ipv4Net> {
        let mut out = Vec::new();
        let Ok(all_v4) = "0.0.0.0/0".parse() else {
            return out;
        };
        let Ok(iter) = self
            .reader
            .within(all_v4, maxminddb::WithinOptions::default())
        else {
            return out;
        };
        // Data offset -> whether that record's country is `cc`.
        let mut seen: std::collections::HashMap<usize, bool, foldhash::fast::RandomState> =
            std::collections::HashMap::default();
        for item in iter {
            let Ok(found) = item else { break };
            let Some(offset) = found.offset() else {
                continue;
            };
            let matches = *seen.entry(offset).or_insert_with(|| {
                found
                    .decode::<CountryRecord<'_>>()
                    .ok()
                    .flatten()
                    .and_then(|r| r.code(self.field).and_then(CountryCode::parse))
                    == Some(cc)
            });
            if !matches {
                continue;
            }
            let Ok(net) = found.network() else { continue };
            if let IpAddr::V4(addr) = net.network()
                && let Ok(n) = ipnet::Ipv4Net::new(addr, net.prefix())
            {
                out.push(n);
            }
        }
        out.sort_unstable();
        out
    }
}

/// Slots of [`CountryCache`]: one per IPv4 /16.
const CACHE_SLOTS: usize = 1 << 16;

/// A per-thread memo of [`GeoDb::country`] for IPv4 addresses, exact: it
/// remembers, per /16, the last database network looked up there and its
/// country, and answers an address inside that network without a lookup.
/// Flow records hit the same networks again and again (a country's
/// networks are few and large), so most lookups of a census are memo hits.
pub struct CountryCache {
    /// (network first address, prefix length or `EMPTY`, country).
    slots: Vec<(u32, u8, Option<CountryCode>)>,
}

const EMPTY: u8 = u8::MAX;

impl Default for CountryCache {
    fn default() -> Self {
        CountryCache {
            slots: vec![(0, EMPTY, None); CACHE_SLOTS],
        }
    }
}

impl CountryCache {
    /// `db.country(ip)`, memoised for IPv4.
    #[inline]
    pub fn country(&mut self, db: &GeoDb, ip: IpAddr) -> Option<CountryCode> {
        let IpAddr::V4(v4) = ip.to_canonical() else {
            return db.country(ip);
        };
        let a = u32::from(v4);
        let slot = (a >> 16) as usize;
        if let Some(&(net, len, cc)) = self.slots.get(slot)
            && len != EMPTY
            && (len == 0 || (a ^ net) >> (32 - u32::from(len)) == 0)
        {
            return cc;
        }
        let (cc, net) = db.country_v4_net(v4);
        if let (Some((first, len)), Some(s)) = (net, self.slots.get_mut(slot)) {
            *s = (first, len, cc);
        }
        cc
    }
}
