//! The simulator's configuration and its named scales.

use serde::{Deserialize, Serialize};

use super::SimError;
use crate::enrich::CountryCode;
use crate::model::Micros;

/// 2012-06-01T00:00:00Z: the default simulated day (the year of the CNCERT
/// figures the `national` scale reproduces).
pub const DEFAULT_START_TS: Micros = 1_338_508_800_000_000;
const DAY_SECS: u64 = 86_400;

/// One overseas country of the controller distribution: its relative weight
/// in the number of controllers, and in the victims they hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CountryProfile {
    #[serde(with = "cc_serde")]
    pub country: CountryCode,
    /// Relative share of overseas controllers placed in this country.
    pub controller_weight: f64,
    /// Relative probability that an overseas-held victim's (first) controller is here.
    pub victim_weight: f64,
}

/// Everything that determines a simulated dataset. Same config (and same
/// ranges and ASN database) ⇒ byte-identical output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    pub seed: u64,
    /// The home country: every host (victim or not) and every domestic
    /// controller is drawn from its ranges.
    #[serde(with = "cc_serde")]
    pub home_country: CountryCode,
    /// Domestic hosts that produce traffic.
    pub hosts: u64,
    /// Fraction of hosts that are victims (held by at least one controller).
    pub infected_fraction: f64,
    pub controllers_overseas: u64,
    pub controllers_domestic: u64,
    /// Overseas controller distribution (the home country is ignored if listed).
    pub overseas: Vec<CountryProfile>,
    /// Probability that a victim's first controller is domestic.
    pub domestic_victim_share: f64,
    /// Probability that a victim is also held by a controller in a second (overseas) country.
    pub multi_country_fraction: f64,
    /// Fraction of controllers reached by a domain name (DNS lookup, then connection);
    /// the others are reached by IP and listed in the IP feed.
    pub domain_controller_fraction: f64,
    /// Feed entries (IPs and domains) that nobody contacts, as a fraction of planted controllers.
    pub decoy_fraction: f64,
    /// Fraction of overseas controllers with a benign neighbour in the same /24
    /// that background traffic reaches.
    pub neighbor_fraction: f64,
    /// Mean number of background (benign) connections per host.
    pub background_flows_per_host: f64,
    /// Benign servers (web) the background traffic goes to; half domestic.
    pub benign_servers: u64,
    /// Pareto shape of botnet sizes (smaller = heavier tail).
    pub botnet_pareto_alpha: f64,
    /// Start of the capture window.
    pub start_ts: Micros,
    /// Length of the capture window.
    pub window_secs: u64,
    /// Beacon period range, drawn per controller (jittered ±10 % per beacon).
    pub beacon_interval_min_secs: u64,
    pub beacon_interval_max_secs: u64,
    /// Cap on beacons per relationship (bounds output size at national scale).
    pub max_beacons_per_relationship: u32,
    /// One Zeek file per hour of the window instead of one file.
    pub hourly_files: bool,
    /// gzip the Zeek logs.
    pub gzip: bool,
}

/// The overseas countries of the long tail. Illustrative: the 2012 report
/// names only the top countries; the tail's membership and Zipf shape are ours.
pub const TAIL_COUNTRIES: [&str; 40] = [
    "DE", "KR", "RU", "GB", "FR", "NL", "CA", "TW", "HK", "IN", "BR", "TR", "UA", "IT", "ES", "PL",
    "RO", "VN", "TH", "ID", "MY", "SG", "AU", "SE", "CZ", "BG", "LV", "LT", "IL", "AR", "MX", "CL",
    "ZA", "EG", "IR", "PH", "PK", "KZ", "HU", "CH",
];

/// US share of overseas controllers and of overseas-held victims (CNCERT 2012:
/// 12,891 of ~73,000 controllers, 10.5 M of 14.2 M hosts).
pub const US_CONTROLLER_SHARE: f64 = 0.176;
pub const US_VICTIM_SHARE: f64 = 0.74;
/// The second country's victim share (778,000 / 14.2 M). Its controller
/// share and its identity are not in our notes: 8 % and `JP` are illustrative.
pub const SECOND_VICTIM_SHARE: f64 = 0.055;
pub const SECOND_CONTROLLER_SHARE: f64 = 0.08;
pub const SECOND_COUNTRY: &str = "JP";

impl SimConfig {
    /// The 2012-like overseas distribution: US, a second country, then a Zipf
    /// tail over [`TAIL_COUNTRIES`].
    pub fn cncert_2012_profile() -> Vec<CountryProfile> {
        let mut v = vec![
            CountryProfile {
                country: CountryCode(*b"US"),
                controller_weight: US_CONTROLLER_SHARE,
                victim_weight: US_VICTIM_SHARE,
            },
            CountryProfile {
                country: CountryCode::parse(SECOND_COUNTRY).unwrap_or(CountryCode(*b"JP")),
                controller_weight: SECOND_CONTROLLER_SHARE,
                victim_weight: SECOND_VICTIM_SHARE,
            },
        ];
        let tail_c = 1.0 - US_CONTROLLER_SHARE - SECOND_CONTROLLER_SHARE;
        let tail_v = 1.0 - US_VICTIM_SHARE - SECOND_VICTIM_SHARE;
        let zc: f64 = (1..=TAIL_COUNTRIES.len()).map(|r| 1.0 / r as f64).sum();
        let zv: f64 = (1..=TAIL_COUNTRIES.len())
            .map(|r| 1.0 / (r as f64).powf(1.2))
            .sum();
        for (i, cc) in TAIL_COUNTRIES.iter().enumerate() {
            let r = (i + 1) as f64;
            if let Some(country) = CountryCode::parse(cc) {
                v.push(CountryProfile {
                    country,
                    controller_weight: round6(tail_c / r / zc),
                    victim_weight: round6(tail_v / r.powf(1.2) / zv),
                });
            }
        }
        v
    }

    /// A named scale with the given home country:
    /// - `small`: 5,000 hosts, one day, one file per log — for demos and tests;
    /// - `day`: 100,000 hosts, one day, hourly files;
    /// - `national`: 20 M hosts, 14.2 M victims, 73,000 overseas controllers
    ///   (CNCERT 2012), capped at 2 beacons per relationship and 1 background
    ///   connection per host, hourly gzip files — streams, tens of GB of text.
    pub fn scale(name: &str) -> Option<SimConfig> {
        let base = SimConfig {
            seed: 1,
            home_country: CountryCode(*b"CN"),
            hosts: 5_000,
            infected_fraction: 0.06,
            controllers_overseas: 40,
            controllers_domestic: 6,
            overseas: SimConfig::cncert_2012_profile(),
            domestic_victim_share: 0.08,
            multi_country_fraction: 0.04,
            domain_controller_fraction: 0.25,
            decoy_fraction: 0.2,
            neighbor_fraction: 0.3,
            background_flows_per_host: 8.0,
            benign_servers: 400,
            botnet_pareto_alpha: 1.1,
            start_ts: DEFAULT_START_TS,
            window_secs: DAY_SECS,
            beacon_interval_min_secs: 60,
            beacon_interval_max_secs: 600,
            max_beacons_per_relationship: 10_000,
            hourly_files: false,
            gzip: false,
        };
        match name {
            "small" => Some(base),
            "day" => Some(SimConfig {
                hosts: 100_000,
                infected_fraction: 0.05,
                controllers_overseas: 400,
                controllers_domestic: 40,
                background_flows_per_host: 10.0,
                benign_servers: 5_000,
                hourly_files: true,
                ..base
            }),
            "national" => Some(SimConfig {
                hosts: 20_000_000,
                infected_fraction: 0.71,
                controllers_overseas: 73_000,
                controllers_domestic: 20_000,
                background_flows_per_host: 1.0,
                benign_servers: 50_000,
                max_beacons_per_relationship: 2,
                hourly_files: true,
                gzip: true,
                ..base
            }),
            _ => None,
        }
    }

    /// Names accepted by [`SimConfig::scale`].
    pub const SCALES: [&'static str; 3] = ["small", "day", "national"];

    /// Every country whose ranges the simulation wants: home first, then the
    /// overseas profile. Pass to [`super::CountryRanges::from_geo`].
    pub fn countries(&self) -> Vec<CountryCode> {
        let mut v = vec![self.home_country];
        for p in &self.overseas {
            if !v.contains(&p.country) {
                v.push(p.country);
            }
        }
        v
    }

    /// Number of victims planted: `round(hosts × infected_fraction)`.
    pub fn victims(&self) -> u64 {
        (self.hosts as f64 * self.infected_fraction).round() as u64
    }

    /// Checks ranges and consistency.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |reason: String| Err(SimError::InvalidConfig { reason });
        for (name, v) in [
            ("infected_fraction", self.infected_fraction),
            ("domestic_victim_share", self.domestic_victim_share),
            ("multi_country_fraction", self.multi_country_fraction),
            (
                "domain_controller_fraction",
                self.domain_controller_fraction,
            ),
            ("decoy_fraction", self.decoy_fraction),
            ("neighbor_fraction", self.neighbor_fraction),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} = {v} is not in [0, 1]"));
            }
        }
        if !(self.background_flows_per_host >= 0.0 && self.background_flows_per_host <= 1e6) {
            return bad(format!(
                "background_flows_per_host = {} is not in [0, 1e6]",
                self.background_flows_per_host
            ));
        }
        if !(self.botnet_pareto_alpha > 0.1 && self.botnet_pareto_alpha < 100.0) {
            return bad(format!(
                "botnet_pareto_alpha = {} is not in (0.1, 100)",
                self.botnet_pareto_alpha
            ));
        }
        if self.hosts == 0 || self.hosts > u64::from(u32::MAX) {
            return bad(format!("hosts = {} is not in [1, 2^32)", self.hosts));
        }
        if self.window_secs == 0 || self.window_secs > 366 * DAY_SECS {
            return bad(format!(
                "window_secs = {} is not in [1, 1 year]",
                self.window_secs
            ));
        }
        if self.beacon_interval_min_secs == 0
            || self.beacon_interval_min_secs > self.beacon_interval_max_secs
        {
            return bad(format!(
                "beacon interval {}..{} s is empty or starts at 0",
                self.beacon_interval_min_secs, self.beacon_interval_max_secs
            ));
        }
        if self.max_beacons_per_relationship == 0 {
            return bad("max_beacons_per_relationship must be at least 1".into());
        }
        if self.controllers_overseas + self.controllers_domestic == 0 && self.victims() > 0 {
            return bad("victims planted but no controllers".into());
        }
        if self
            .overseas
            .iter()
            .any(|p| !(p.controller_weight >= 0.0 && p.victim_weight >= 0.0))
        {
            return bad("negative or NaN weight in the overseas profile".into());
        }
        Ok(())
    }
}

/// Rounds to 6 decimals: readable JSON, and text that parses back to the same `f64`.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// `CountryCode` as its two-letter string in JSON.
pub(crate) mod cc_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::enrich::CountryCode;

    pub fn serialize<S: Serializer>(cc: &CountryCode, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(cc.as_str())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CountryCode, D::Error> {
        let s = String::deserialize(d)?;
        CountryCode::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid country code {s:?}")))
    }
}
