//! Command-line arguments. Command names, flags and JSON field names are a
//! contract: add, never rename.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "c2atlas",
    version,
    about = "Census of hijacked hosts and their C2 controllers, by country and network, from network telemetry",
    long_about = "c2atlas reads network telemetry (Argus binetflow, Zeek conn/dns/http/ssl logs; plain or gzip), \
matches it against threat-intelligence feeds, geolocates the controllers, and counts how many controller \
IPs abroad control how many of your hosts, by country and ASN, with the evidence behind each figure.\n\n\
Quick start:\n  c2atlas demo                      # simulate a small national network and census it\n  \
c2atlas census --home-net 147.32.0.0/16 --intel feed.csv capture.binetflow\n  \
c2atlas explain --country US --home-country CN --intel feed.csv logs/\n\n\
Exit codes: 0 success, 2 error (bad usage, unusable input, database or feed)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Count controllers and victims by country and ASN (human summary, JSON or Markdown).
    Census(CensusArgs),
    /// List the relationships (with their evidence records) behind a census figure.
    Explain(ExplainArgs),
    /// Write synthetic telemetry of a national network with planted botnets and its truth.json.
    Simulate(SimulateArgs),
    /// Simulate a small day, run the census on it, and write report.md and census.json.
    Demo(DemoArgs),
    /// Print the control relationships found (one JSON object per line with --format jsonl).
    Detect(DetectArgs),
    /// Combine the state files written by `census --shard I/N --state-out FILE` into the census
    /// (identical to the unsharded run's).
    Merge(MergeArgs),
    /// Score domains read from stdin (one per line) with the DGA model: prints `domain<TAB>score`.
    ScoreDomains,
    /// Score detection against ground truth (dataset labels or a simulator truth.json):
    /// per host per time window and per (host, controller) relationship.
    Eval(EvalArgs),
    /// Classify the requests of web access logs; print the ones flagged as attacks.
    WebScan(crate::web::WebScanArgs),
    /// Replay labelled web-attack sets (OWASP CRS tests, libinjection lists) and print recall / FP rates.
    EvalWeb(crate::web::EvalWebArgs),
    /// Receive NetFlow v5/v9, IPFIX and sFlow over UDP and keep a census current in a state
    /// directory (census.json, state.jsonl); resumes from it; metrics at /metrics.
    Collect(crate::collect::CollectArgs),
    /// Send the messages of IPFIX files over UDP, one datagram each, at a set rate (a flow exporter
    /// for collectors: `nfcapd`, `c2atlas collect`).
    Replay(crate::perf::ReplayArgs),
    /// Benchmark: simulate a day, convert it with nfdump's tools, time the census and the peers
    /// side by side and print records/s, peak RSS and ratios.
    Bench(crate::perf::BenchArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Plain-text summary for a terminal.
    Human,
    /// The census document (schema c2atlas.census/1).
    Json,
    /// A report section in Markdown.
    Md,
}

/// What every run over telemetry takes: inputs, home, databases, intel.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Telemetry files or directories (walked recursively; a directory of Zeek logs is one dataset).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Force the input format instead of detecting it from content.
    #[arg(long, value_name = "FORMAT", value_parser = ["binetflow", "zeek-conn", "zeek-dns", "zeek-http", "zeek-ssl", "pcap", "ipfix"])]
    pub input_format: Option<String>,

    /// A home (domestic) country, ISO 3166 alpha-2 (repeatable). An address is domestic when it geolocates there.
    #[arg(long = "home-country", value_name = "CC")]
    pub home_countries: Vec<String>,

    /// A home network in CIDR notation (repeatable). Explicit home networks win over geolocation;
    /// private and special-purpose ranges are domestic only when listed here.
    #[arg(long = "home-net", value_name = "CIDR")]
    pub home_nets: Vec<String>,

    /// A range whose addresses may be controllers even when private or inside a home network (repeatable):
    /// a lab's C2 server, an internal relay or pivot. Behavioural detectors then score hosts' contacts with it
    /// (e.g. `--home-net 10.0.0.0/8 --controller-net 10.9.0.0/16`); such controllers are never counted abroad.
    #[arg(long = "controller-net", value_name = "CIDR")]
    pub controller_nets: Vec<String>,

    /// Threat-intel feed (repeatable): Feodo Tracker / ThreatFox / URLhaus CSV, FireHOL .ipset/.netset,
    /// Zeek Intel TSV, or a plain list of IPs, CIDRs, domains and URLs.
    #[arg(long = "intel", value_name = "PATH")]
    pub intel: Vec<PathBuf>,

    /// Country database (any MaxMind DB format file). Default: the ip-location-db build fetched by scripts/setup.sh.
    #[arg(long, value_name = "PATH")]
    pub country_db: Option<PathBuf>,

    /// Use the registered country (`registered_country.iso_code`) instead of the country.
    #[arg(long)]
    pub registered_country: bool,

    /// ASN database: GeoLite2-ASN-format mmdb, or ip-location-db range CSV (a file or a folder with
    /// asn-ipv4.csv and asn-ipv6.csv). Default: the ip-location-db build fetched by scripts/setup.sh.
    #[arg(long, value_name = "PATH")]
    pub asn_db: Option<PathBuf>,

    /// Detection methods, comma-separated: intel (threat-intel feeds), beacon (periodic check-ins),
    /// dga (generated domain names, NXDOMAIN bursts), dns (DNS tunnelling / C2 over DNS),
    /// long (long connections, strobes), cluster (hosts beaconing alike to a rare endpoint); or `all`.
    #[arg(long, value_name = "METHODS", default_value = c2atlas::detect::select::ALL_METHODS)]
    pub detect: String,

    /// Drop findings below this confidence (0–1); they are counted in `detection.below_confidence`.
    #[arg(long, value_name = "X", default_value_t = c2atlas::detect::select::DEFAULT_MIN_CONFIDENCE)]
    pub min_confidence: f64,

    /// Allow-list of known-good destinations (repeatable): domains (suffix match) and IPs/CIDRs,
    /// one per line. Suppressed findings are counted by reason in `detection.suppressed`.
    #[arg(long = "allow", value_name = "PATH")]
    pub allow: Vec<PathBuf>,

    /// Evidence records kept per relationship.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_evidence: usize,

    /// No progress line on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct CensusArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Write the output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep only shard I of N of the internal hosts (0-based: 0/3, 1/3, 2/3; assigned by a stable
    /// hash of the victim address). Every shard still reads all inputs. Needs --state-out;
    /// `c2atlas merge` combines the N state files into the unsharded census.
    #[arg(long, value_name = "I/N", requires = "state_out")]
    pub shard: Option<String>,
    /// Write the mergeable census state (schema c2atlas.state/1, JSON Lines: header, then one
    /// relationship per line) to FILE, for `c2atlas merge`.
    #[arg(long, value_name = "FILE")]
    pub state_out: Option<PathBuf>,
    /// Also write the relationships with their evidence as Parquet files partitioned by day of
    /// last_seen (DIR/day=YYYY-MM-DD/part-00000.parquet), for DuckDB, pyarrow or Spark.
    #[arg(long, value_name = "DIR")]
    pub parquet: Option<PathBuf>,
    /// Threads reading flow inputs (conn logs, binetflow) in parallel when every selected
    /// method can (the IOC census, `--detect intel`); default: the available cores. The
    /// output is the same for any value.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// State files of one run, one per shard, in any order.
    #[arg(required = true, value_name = "STATE")]
    pub states: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Write the output to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Relationships whose controller is in this country (as in `overseas_by_country`).
    #[arg(long, value_name = "CC")]
    pub country: Option<String>,
    /// Relationships with this controller (IP address or name).
    #[arg(long, value_name = "IP")]
    pub controller: Option<String>,
    /// Relationships of this victim.
    #[arg(long, value_name = "IP")]
    pub victim: Option<String>,
    /// Relationships whose controller is in this ASN.
    #[arg(long, value_name = "ASN")]
    pub asn: Option<u32>,
    /// Explain the web census instead: list the flagged requests (`file:line src site
    /// classes evidence`) behind it. `--country CC` keeps attackers in that overseas
    /// country, `--controller IP` one attacking address, `--victim SITE` one site.
    #[arg(long)]
    pub web: bool,
    /// `human` (default) or `json` (one relationship per line, JSON Lines).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Output directory (created).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Scale preset: small (5,000 hosts), day (100,000 hosts), national (the 2012 report: ≈14.2 M victims,
    /// ≈73,000 overseas controllers; tens of GB).
    #[arg(long, default_value = "small", value_parser = ["small", "day", "national"])]
    pub scale: String,
    /// Override the number of domestic hosts.
    #[arg(long, value_name = "N")]
    pub hosts: Option<u64>,
    /// Random seed (same seed, same files).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Home country of the simulated network.
    #[arg(long, value_name = "CC", default_value = "CN")]
    pub home_country: String,
    /// Override the mean number of background (benign) connections per host.
    #[arg(long, value_name = "N")]
    pub background_flows_per_host: Option<f64>,
    /// Gzip the telemetry files.
    #[arg(long)]
    pub gzip: bool,
    /// How connections are written: Zeek conn.log, or IPFIX files (one flow per direction; the
    /// dns.log then holds only the C2 lookups).
    #[arg(long, default_value = "zeek", value_parser = ["zeek", "ipfix"])]
    pub format: String,
    /// Country database to draw real address ranges from.
    #[arg(long, value_name = "PATH")]
    pub country_db: Option<PathBuf>,
    /// ASN database (for the truth's per-ASN figures).
    #[arg(long, value_name = "PATH")]
    pub asn_db: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to write the simulated telemetry, census.json and report.md.
    #[arg(long, short = 'o', value_name = "DIR", default_value = "out/demo")]
    pub out: PathBuf,
    /// Scale preset (see `simulate --scale`).
    #[arg(long, default_value = "small", value_parser = ["small", "day", "national"])]
    pub scale: String,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectFormat {
    /// One relationship per line, JSON (JSON Lines).
    Jsonl,
    /// Readable text.
    Human,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DetectFormat::Jsonl)]
    pub format: DetectFormat,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Ground truth: `labels` (the inputs' own labels: CTU-13 binetflow `From-Botnet-…-CC…`,
    /// Stratosphere/IoT-23 Zeek `Malicious`/`C&C`), or the path of a simulator truth.json (its planted
    /// pairs in the `truth-relationships.tsv` beside it replace the inputs' labels).
    #[arg(long, value_name = "LABELS", default_value = "labels")]
    pub truth: String,
    /// Time window of the per-host scores, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub window: u64,
    /// Also score the RITA-style baseline on the same data.
    #[arg(long)]
    pub baseline: bool,
    /// Output format: human or md (a table for docs/evaluation.md) or json.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// Name of the dataset in the table (default: the first input's name).
    #[arg(long)]
    pub name: Option<String>,
}
