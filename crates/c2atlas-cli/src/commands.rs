//! One function per subcommand.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use c2atlas::census::document::{self, CensusDoc, Relationship};
use c2atlas::census::shard::{self, Shard};
use c2atlas::detect::allowlist::Allowlist;
use c2atlas::enrich::{self, AsnDb, CountryCode, CountryField, GeoDb, Home};
use c2atlas::ingest::{self, Format, PlannedInput};
use c2atlas::intel::IntelSet;
use c2atlas::pipeline::{Detection, Pipeline, RunResult};
use c2atlas::simulate::{CountryRanges, SimConfig, SimFormat, SimOutput};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{CensusArgs, Cli, Command, ExplainArgs, MergeArgs, OutputFormat, RunArgs};
use crate::progress::Progress;

pub fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Census(a) => census(a),
        Command::Explain(a) => explain(a),
        Command::Simulate(a) => crate::commands::simulate(a),
        Command::Demo(a) => crate::commands::demo(a),
        Command::Detect(a) => crate::behave::detect(a),
        Command::Merge(a) => merge(a),
        Command::ScoreDomains => crate::behave::score_domains(),
        Command::Eval(a) => crate::behave::eval(a),
        Command::WebScan(a) => crate::web::web_scan(a),
        Command::EvalWeb(a) => crate::web::eval_web(a),
        Command::Collect(a) => crate::collect::collect(a),
        Command::Replay(a) => crate::perf::replay(a),
        Command::Bench(a) => crate::perf::bench(a),
    }
}

/// The default country database (fetched by scripts/setup.sh).
pub fn default_country_db() -> PathBuf {
    enrich::default_db_dir().join("country/geo-whois-asn-country.mmdb")
}

/// The default ASN database folder (fetched by scripts/setup.sh).
pub fn default_asn_db() -> PathBuf {
    enrich::default_db_dir().join("asn")
}

fn open_geo(
    path: Option<&Path>,
    registered: bool,
    needed: bool,
    p: &Progress,
) -> Result<Option<GeoDb>> {
    let field = if registered {
        CountryField::Registered
    } else {
        CountryField::Country
    };
    match path {
        Some(path) => Ok(Some(GeoDb::open(path, field)?)),
        None => {
            let def = default_country_db();
            if def.exists() {
                Ok(Some(GeoDb::open(&def, field)?))
            } else if needed {
                bail!(
                    "--home-country needs a country database: pass --country-db or run scripts/setup.sh to fetch the default ({})",
                    def.display()
                )
            } else {
                p.warn(&format!(
                    "no country database ({} absent; run scripts/setup.sh or pass --country-db): controllers will have no country",
                    def.display()
                ));
                Ok(None)
            }
        }
    }
}

fn open_asn(path: Option<&Path>, p: &Progress) -> Result<Option<AsnDb>> {
    match asn_path(path, p) {
        Some(path) => Ok(Some(AsnDb::open(&path)?)),
        None => Ok(None),
    }
}

/// The ASN database to open: `path`, else the default when it exists (else a
/// warning and none).
fn asn_path(path: Option<&Path>, p: &Progress) -> Option<PathBuf> {
    match path {
        Some(path) => Some(path.to_path_buf()),
        None => {
            let def = default_asn_db();
            if def.exists() {
                Some(def)
            } else {
                p.warn(&format!(
                    "no ASN database ({} absent; run scripts/setup.sh or pass --asn-db): controllers will have no ASN",
                    def.display()
                ));
                None
            }
        }
    }
}

/// Opens databases and feeds, plans the inputs: everything before reading telemetry.
pub fn prepare(a: &RunArgs, p: &Progress) -> Result<(Pipeline, Vec<PlannedInput>)> {
    prepare_threads(a, p, 1)
}

/// [`prepare`] with up to `threads` threads: with more than one, the ASN
/// database (the slowest to open: a CSV table is parsed) is opened on its own
/// thread while the country database and the feeds load. Same result.
pub fn prepare_threads(
    a: &RunArgs,
    p: &Progress,
    threads: usize,
) -> Result<(Pipeline, Vec<PlannedInput>)> {
    let forced = match &a.input_format {
        Some(name) => Some(
            Format::from_name(name).with_context(|| format!("unknown --input-format {name}"))?,
        ),
        None => None,
    };
    let mut warnings = Vec::new();
    let planned = ingest::plan_inputs(&a.inputs, forced, &mut warnings)?;
    for w in &warnings {
        p.warn(w);
    }
    if planned.is_empty() {
        bail!("no telemetry found in the inputs given");
    }
    Ok((build_pipeline_threads(a, p, threads)?, planned))
}

/// Opens databases, feeds and allow-lists and checks the detection options
/// (everything of [`prepare`] but the inputs; `collect` uses it alone).
pub fn build_pipeline(a: &RunArgs, p: &Progress) -> Result<Pipeline> {
    build_pipeline_threads(a, p, 1)
}

/// [`build_pipeline`] with the ASN database opened on a second thread when
/// `threads` > 1 (see [`prepare_threads`]).
pub fn build_pipeline_threads(a: &RunArgs, p: &Progress, threads: usize) -> Result<Pipeline> {
    if threads > 1
        && let Some(path) = asn_path(a.asn_db.as_deref(), p)
    {
        return std::thread::scope(|s| {
            let asn = s.spawn(move || AsnDb::open(&path));
            build_with(a, p, || match asn.join() {
                Ok(r) => Ok(Some(r?)),
                Err(_) => bail!("the thread opening the ASN database panicked"),
            })
        });
    }
    build_with(a, p, || open_asn(a.asn_db.as_deref(), p))
}

/// Opens the country database, feeds and allow-lists, takes the ASN database
/// from `asn`, and checks the detection options.
fn build_with(
    a: &RunArgs,
    p: &Progress,
    asn: impl FnOnce() -> Result<Option<AsnDb>>,
) -> Result<Pipeline> {
    let home =
        Home::new(&a.home_countries, &a.home_nets)?.with_controller_nets(&a.controller_nets)?;
    if home.countries.is_empty() && home.networks.is_empty() {
        bail!(
            "no home defined: give --home-country CC and/or --home-net CIDR (victims are the hosts at home)"
        );
    }
    let geo = open_geo(
        a.country_db.as_deref(),
        a.registered_country,
        !home.countries.is_empty(),
        p,
    )?;
    let mut intel = IntelSet::new();
    let mut feeds = Vec::new();
    for path in &a.intel {
        let mut shown = 0;
        let stats = intel.load(path, &mut |line, reason| {
            shown += 1;
            if shown <= 5 {
                p.warn(&format!(
                    "{}:{line}: skipped indicator: {reason}",
                    path.display()
                ));
            }
        })?;
        if stats.malformed > 0 {
            p.warn(&format!(
                "{}: {} indicators loaded, {} malformed lines skipped",
                path.display(),
                stats.indicators,
                stats.malformed
            ));
        }
        feeds.push(stats);
    }
    intel.build();
    if intel.is_empty() {
        p.warn("no threat-intel indicators loaded (--intel): no relationship can be found by the intel method");
    }
    let mut allow = Allowlist::new();
    for path in &a.allow {
        allow.load(path)?;
    }
    // Fail early on a bad --detect / --min-confidence, before any telemetry is read.
    c2atlas::detect::select::build(&a.detect, &intel, a.min_confidence, Allowlist::new())?;
    let asn = asn()?;
    Ok(Pipeline {
        home,
        geo,
        asn,
        intel,
        feeds,
        evidence_cap: a.max_evidence,
        detection: Detection {
            methods: a.detect.clone(),
            min_confidence: a.min_confidence,
            allow,
        },
    })
}

/// Runs the whole pipeline; prints throughput to stderr.
pub fn run(a: &RunArgs) -> Result<(Pipeline, RunResult, Vec<Relationship>, CensusDoc)> {
    run_sharded(a, None)
}

/// [`run`], keeping only the relationships of `shard`'s victims when given.
pub fn run_sharded(
    a: &RunArgs,
    shard: Option<Shard>,
) -> Result<(Pipeline, RunResult, Vec<Relationship>, CensusDoc)> {
    run_threads(a, shard, 1)
}

/// [`run_sharded`] on up to `threads` threads (see `Pipeline::run_threads`).
pub fn run_threads(
    a: &RunArgs,
    shard: Option<Shard>,
    threads: usize,
) -> Result<(Pipeline, RunResult, Vec<Relationship>, CensusDoc)> {
    let (pipeline, result, doc) = run_doc(a, shard, threads)?;
    let (rels, _) = document::relationships(&pipeline, &result);
    Ok((pipeline, result, rels, doc))
}

/// The run and its census document, computed from the census state without
/// materialising the relationships (what a national-scale census needs).
pub fn run_doc(
    a: &RunArgs,
    shard: Option<Shard>,
    threads: usize,
) -> Result<(Pipeline, RunResult, CensusDoc)> {
    let progress = Progress::new(a.quiet, 0);
    let (pipeline, planned) = prepare_threads(a, &progress, threads)?;
    progress.finish();
    let mut progress = Progress::new(a.quiet, planned.len());
    let result = pipeline.run_threads(&planned, &mut progress, shard, threads)?;
    progress.finish();
    let doc = document::census(&pipeline, &result, a.registered_country);
    let secs = result.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        result.records as f64 / secs
    } else {
        0.0
    };
    let rels = result.state.len();
    let victims = doc.c2.victims.total;
    let held = result.state.heap_bytes();
    eprintln!(
        "c2atlas: read {} records from {} inputs in {:.2} s ({:.0} records/s); {} relationships, {} victims; census state {:.1} MiB: {:.0} bytes per relationship, {:.0} bytes per victim",
        result.records,
        result.inputs.len(),
        secs,
        rate,
        rels,
        victims,
        held as f64 / (1024.0 * 1024.0),
        held as f64 / rels.max(1) as f64,
        held as f64 / victims.max(1) as f64,
    );
    Ok((pipeline, result, doc))
}

fn write_output(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// The census document as deterministic, pretty JSON (with a final newline).
pub fn to_json(doc: &CensusDoc) -> Result<String> {
    let mut s = serde_json::to_string_pretty(doc)?;
    s.push('\n');
    Ok(s)
}

fn census(a: CensusArgs) -> Result<()> {
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    let threads = match a.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    // Evidence is kept only when an output shows it (the census document does not).
    let mut run = a.run.clone();
    if a.state_out.is_none() && a.parquet.is_none() {
        run.max_evidence = 0;
    }
    let (pipeline, result, doc) = run_doc(&run, shard, threads)?;
    if let Some(path) = &a.state_out {
        write_state_file(
            path,
            shard.unwrap_or(Shard::WHOLE),
            &doc,
            &pipeline,
            &result,
        )?;
    }
    if let Some(dir) = &a.parquet {
        let (rels, _) = document::relationships(&pipeline, &result);
        write_parquet(dir, &rels)?;
    }
    emit(&doc, a.format, a.output.as_deref())
}

/// Writes the relationships as day-partitioned Parquet files under `dir`.
#[cfg(feature = "parquet")]
fn write_parquet(dir: &Path, rels: &[Relationship]) -> Result<()> {
    let files = c2atlas::report::parquet::write_relationships(dir, rels)?;
    eprintln!(
        "c2atlas: {} relationships written to {} Parquet file(s) under {}",
        rels.len(),
        files.len(),
        dir.display()
    );
    Ok(())
}

#[cfg(not(feature = "parquet"))]
fn write_parquet(_dir: &Path, _rels: &[Relationship]) -> Result<()> {
    anyhow::bail!("--parquet: this c2atlas was built without the `parquet` feature")
}

/// Writes a census state file (see `c2atlas::census::shard`).
fn write_state_file(
    path: &Path,
    shard: Shard,
    doc: &CensusDoc,
    pipeline: &Pipeline,
    result: &RunResult,
) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    shard::write_state_run(&mut w, shard, doc, pipeline, result)
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "c2atlas: shard {shard}: {} relationships written to {}",
        result.state.len(),
        path.display()
    );
    Ok(())
}

/// Prints a census document in the chosen format (the summary goes to stderr for json and md).
fn emit(doc: &CensusDoc, format: OutputFormat, output: Option<&Path>) -> Result<()> {
    let summary = c2atlas::report::summary_text(doc);
    match format {
        OutputFormat::Human => write_output(output, &summary),
        OutputFormat::Json => {
            eprint!("{summary}");
            write_output(output, &to_json(doc)?)
        }
        OutputFormat::Md => {
            eprint!("{summary}");
            write_output(output, &c2atlas::report::markdown(doc))
        }
    }
}

fn merge(a: MergeArgs) -> Result<()> {
    let doc = shard::merge(&a.states)?;
    emit(&doc, a.format, a.output.as_deref())
}

fn explain(a: ExplainArgs) -> Result<()> {
    if a.web {
        return explain_web(a);
    }
    if a.country.is_none() && a.controller.is_none() && a.victim.is_none() && a.asn.is_none() {
        bail!("say which figure to explain: --country CC, --controller IP, --victim IP or --asn N");
    }
    let victim: Option<IpAddr> = match &a.victim {
        Some(v) => Some(
            v.parse()
                .with_context(|| format!("--victim {v}: not an IP address"))?,
        ),
        None => None,
    };
    let country = a.country.as_ref().map(|c| c.to_ascii_uppercase());
    let (_, _, rels, _) = run(&a.run)?;
    let selected: Vec<&Relationship> = rels
        .iter()
        .filter(|r| {
            country.as_ref().is_none_or(|c| {
                r.country.as_deref() == Some(c.as_str()) && r.controller_locale == "overseas"
            }) && a.controller.as_ref().is_none_or(|c| r.controller == *c)
                && victim.is_none_or(|v| r.victim == v)
                && a.asn.is_none_or(|n| r.asn == Some(n))
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match a.format {
        OutputFormat::Json => {
            for r in &selected {
                writeln!(out, "{}", serde_json::to_string(r)?)?;
            }
        }
        OutputFormat::Human | OutputFormat::Md => {
            for r in &selected {
                write_relationship(&mut out, r)?;
            }
        }
    }
    out.flush()?;
    eprintln!("c2atlas: {} relationships match", selected.len());
    Ok(())
}

fn explain_web(a: ExplainArgs) -> Result<()> {
    if a.asn.is_some() {
        bail!("--asn does not apply to --web");
    }
    let src: Option<IpAddr> = match &a.controller {
        Some(v) => Some(
            v.parse()
                .with_context(|| format!("--controller {v}: not an IP address"))?,
        ),
        None => None,
    };
    let country = a.country.as_ref().map(|c| c.to_ascii_uppercase());
    let site = a.victim.as_ref().map(|s| s.to_ascii_lowercase());
    let (pipeline, result, _, _) = run(&a.run)?;
    let Some(web) = &result.web else {
        bail!("no web requests in the inputs (web access logs, Zeek http.log or captures)");
    };
    let locate = |ip: IpAddr| pipeline.home.locate(ip, pipeline.geo.as_ref());
    let hits = web.hits(|ip| {
        src.is_none_or(|s| s == ip)
            && country.as_ref().is_none_or(|c| match locate(ip) {
                (enrich::Locale::Overseas, Some(cc)) => cc.to_string() == *c,
                _ => false,
            })
    });
    let mut out = std::io::stdout().lock();
    let mut n = 0u64;
    for h in hits {
        if site.as_ref().is_some_and(|s| *s != h.site) {
            continue;
        }
        n += 1;
        let file = result
            .inputs
            .get(h.input as usize)
            .map(|i| i.path.display().to_string())
            .unwrap_or_default();
        match a.format {
            OutputFormat::Json => {
                let mut line = serde_json::Map::new();
                line.insert("file".into(), file.into());
                if let serde_json::Value::Object(m) = serde_json::to_value(h)? {
                    line.extend(m);
                }
                line.insert(
                    "country".into(),
                    locate(h.src).1.map(|c| c.to_string()).into(),
                );
                writeln!(out, "{}", serde_json::Value::Object(line))?;
            }
            OutputFormat::Human | OutputFormat::Md => writeln!(
                out,
                "{file}:{} {} {} {} {}",
                h.line,
                h.src,
                h.site,
                h.classes.join(","),
                h.evidence
            )?,
        }
    }
    out.flush()?;
    eprintln!(
        "c2atlas: {n} flagged requests listed (at most {} per attacking address)",
        pipeline.evidence_cap
    );
    Ok(())
}

fn write_relationship(out: &mut impl Write, r: &Relationship) -> Result<()> {
    writeln!(
        out,
        "{} <- {} [{} {}{}] {} conf {:.2}",
        r.victim,
        r.controller,
        r.country.as_deref().unwrap_or("??"),
        r.asn.map(|a| format!("AS{a} ")).unwrap_or_default(),
        r.org.as_deref().unwrap_or(""),
        r.method,
        r.confidence
    )?;
    if let Some(i) = &r.indicator {
        writeln!(
            out,
            "  indicator {} ({:?}) from {}{}",
            i.value,
            i.kind,
            i.source,
            i.family
                .as_deref()
                .map(|f| format!(", family {f}"))
                .unwrap_or_default()
        )?;
    }
    writeln!(
        out,
        "  seen {} .. {}: {} flows, {} bytes, {} supporting records",
        r.first_seen, r.last_seen, r.flows, r.bytes, r.events
    )?;
    for e in &r.evidence {
        writeln!(out, "  evidence {}:{}", e.file, e.line)?;
    }
    if r.events > r.evidence.len() as u64 {
        writeln!(
            out,
            "  … and {} more records",
            r.events - r.evidence.len() as u64
        )?;
    }
    Ok(())
}

/// Runs the simulator with a progress bar; returns its output.
pub fn run_simulation(
    cfg: &SimConfig,
    country_db: Option<&Path>,
    asn_db: Option<&Path>,
    out: &Path,
    format: SimFormat,
    quiet: bool,
) -> Result<SimOutput> {
    let p = Progress::new(true, 0);
    let geo =
        open_geo(country_db, false, true, &p)?.context("the simulator needs a country database")?;
    let asn = open_asn(asn_db, &p)?;
    let ranges = CountryRanges::from_geo(&geo, &cfg.countries())?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("simulate [{elapsed_precise}] {wide_bar} {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = std::time::Instant::now();
    let output = c2atlas::simulate::simulate_as(
        cfg,
        &ranges,
        asn.as_ref(),
        out,
        format,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    let ipfix = if format == SimFormat::Ipfix {
        format!(" ({} IPFIX flow records)", output.flow_records)
    } else {
        String::new()
    };
    eprintln!(
        "c2atlas: simulated {} hosts ({} victims, {} relationships): {} flows{ipfix}, {} DNS queries in {:.1} s",
        cfg.hosts,
        output.truth.c2.victims.total,
        output.truth.c2.relationships,
        output.flows,
        output.dns_queries,
        start.elapsed().as_secs_f64()
    );
    Ok(output)
}

pub fn simulate(a: crate::args::SimulateArgs) -> Result<()> {
    let mut cfg =
        SimConfig::scale(&a.scale).with_context(|| format!("unknown --scale {}", a.scale))?;
    cfg.seed = a.seed;
    cfg.home_country = CountryCode::parse(&a.home_country).with_context(|| {
        format!(
            "--home-country {}: not a two-letter country code",
            a.home_country
        )
    })?;
    if let Some(h) = a.hosts {
        cfg.hosts = h;
    }
    if let Some(b) = a.background_flows_per_host {
        cfg.background_flows_per_host = b;
    }
    if a.gzip {
        cfg.gzip = true;
    }
    let format = if a.format == "ipfix" {
        SimFormat::Ipfix
    } else {
        SimFormat::Zeek
    };
    let out = run_simulation(
        &cfg,
        a.country_db.as_deref(),
        a.asn_db.as_deref(),
        &a.out,
        format,
        a.quiet,
    )?;
    println!("telemetry: {}", out.telemetry_dir.display());
    println!("intel:     {}", out.intel_dir.display());
    println!("truth:     {}", out.truth_path.display());
    println!(
        "census:    c2atlas census --home-country {} --intel {} --intel {} {}",
        cfg.home_country,
        out.intel_dir.join("c2-feed.csv").display(),
        out.intel_dir.join("c2-domains.txt").display(),
        out.telemetry_dir.display()
    );
    Ok(())
}

/// The simulated data's census arguments.
fn sim_run_args(cfg: &SimConfig, out: &SimOutput, quiet: bool) -> RunArgs {
    RunArgs {
        inputs: vec![out.telemetry_dir.clone()],
        input_format: None,
        home_countries: vec![cfg.home_country.to_string()],
        home_nets: vec![],
        controller_nets: vec![],
        intel: vec![
            out.intel_dir.join("c2-feed.csv"),
            out.intel_dir.join("c2-domains.txt"),
        ],
        country_db: None,
        registered_country: false,
        asn_db: None,
        max_evidence: c2atlas::census::state::DEFAULT_EVIDENCE_CAP,
        quiet,
        // The simulator plants controllers that its feeds list: its truth is what the intel method finds.
        detect: "intel".to_string(),
        min_confidence: c2atlas::detect::select::DEFAULT_MIN_CONFIDENCE,
        allow: vec![],
    }
}

pub fn demo(a: crate::args::DemoArgs) -> Result<()> {
    let mut cfg =
        SimConfig::scale(&a.scale).with_context(|| format!("unknown --scale {}", a.scale))?;
    cfg.seed = a.seed;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let sim_dir = a.out.join("sim");
    let sim = run_simulation(&cfg, None, None, &sim_dir, SimFormat::Zeek, false)?;
    let (_, _, _, doc) = run(&sim_run_args(&cfg, &sim, false))?;
    let census_path = a.out.join("census.json");
    let report_path = a.out.join("report.md");
    std::fs::write(&census_path, to_json(&doc)?)
        .with_context(|| format!("cannot write {}", census_path.display()))?;
    let mut report = String::from("# c2atlas demo: a simulated national network\n\n");
    report.push_str(&format!(
        "Simulated with `c2atlas simulate --scale {} --seed {}` (telemetry in `{}`, ground truth in `{}`).\n\n",
        a.scale,
        a.seed,
        sim.telemetry_dir.display(),
        sim.truth_path.display()
    ));
    report.push_str(&c2atlas::report::markdown(&doc));
    std::fs::write(&report_path, report)
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    eprint!("{}", c2atlas::report::summary_text(&doc));
    let matches = doc.c2 == sim.truth.c2;
    println!("report:  {}", report_path.display());
    println!("census:  {}", census_path.display());
    println!("truth:   {}", sim.truth_path.display());
    println!(
        "census equals truth.json: {}",
        if matches { "yes" } else { "NO" }
    );
    if !matches {
        bail!("the census differs from the simulator's truth.json")
    }
    Ok(())
}
