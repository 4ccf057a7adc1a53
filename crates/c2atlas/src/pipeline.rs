//! The run: planned inputs → ingest → detect → census state.
//!
//! This is the only place that wires the stages together; each stage stays
//! ignorant of the others' internals.

use std::path::Path;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::census::shard::Shard;
use crate::census::state::CensusState;
use crate::census::web::WebCensus;
use crate::detect::allowlist::Allowlist;
use crate::detect::select::{self, DetectorSet, SelectError};
use crate::detect::{Context, Detector, Finding, Method};
use crate::enrich::{AsnDb, GeoDb, Home};
use crate::ingest::weblog::{self, WebRequest};
use crate::ingest::{self, Diagnostic, IngestError, InputStats, PlannedInput, Sink};
use crate::intel::{FeedStats, IntelSet};
use crate::model::{Event, Micros, RecordRef};

/// How often (in records) the observer hears about progress.
const PROGRESS_EVERY: u64 = 1 << 18;

/// Malformed-record diagnostics passed on per input; the rest are only counted
/// (`InputStats::malformed`), so a garbage file cannot fill memory with messages.
pub const MAX_DIAGNOSTICS_PER_INPUT: usize = 100;

/// Everything a run is configured with: the home definition, the databases
/// and the threat intelligence. Read-only during the run.
pub struct Pipeline {
    pub home: Home,
    pub geo: Option<GeoDb>,
    pub asn: Option<AsnDb>,
    pub intel: IntelSet,
    pub feeds: Vec<FeedStats>,
    pub evidence_cap: usize,
    pub detection: Detection,
}

/// Which detectors run, and what they may report.
#[derive(Clone, Debug)]
pub struct Detection {
    /// Comma-separated method names (`intel,beacon,dga,dns,long,cluster`, or `all`).
    pub methods: String,
    /// Findings below this confidence are dropped (and counted).
    pub min_confidence: f64,
    /// Known-good destinations whose findings are suppressed (and counted by reason).
    pub allow: Allowlist,
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            methods: select::ALL_METHODS.to_string(),
            min_confidence: select::DEFAULT_MIN_CONFIDENCE,
            allow: Allowlist::new(),
        }
    }
}

/// Sees every event and every finding that is kept (used by `eval` to score detection
/// against ground truth without a second pass).
pub trait Tap {
    fn event(&mut self, ev: &Event<'_>, ctx: &Context<'_>);
    fn finding(&mut self, f: &Finding);
}

/// A run that cannot be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Detection(#[from] SelectError),
}

/// Receives what a run reports along the way (progress, skipped records).
pub trait Observer {
    /// A malformed record was skipped.
    fn diagnostic(&mut self, d: &Diagnostic);
    /// `records` read so far in the input `path` (called every [`PROGRESS_EVERY`] records).
    fn progress(&mut self, path: &Path, records: u64);
    /// An input was read to its end.
    fn input_done(&mut self, stats: &InputStats);
}

/// An observer that ignores everything (library use, tests).
pub struct Silent;

impl Observer for Silent {
    fn diagnostic(&mut self, _: &Diagnostic) {}
    fn progress(&mut self, _: &Path, _: u64) {}
    fn input_done(&mut self, _: &InputStats) {}
}

/// What a run produced.
pub struct RunResult {
    pub inputs: Vec<InputStats>,
    pub state: CensusState,
    /// Earliest and latest event timestamps over all inputs.
    pub period: Option<(Micros, Micros)>,
    /// Records read over all inputs.
    pub records: u64,
    pub elapsed: Duration,
    /// Methods that ran.
    pub methods: Vec<Method>,
    /// Findings dropped for confidence below the minimum.
    pub below_confidence: u64,
    /// Findings suppressed by the allow-list, by reason.
    pub suppressed: BTreeMap<Arc<str>, u64>,
    /// The web census, when the run read web requests (web logs, Zeek http.log,
    /// HTTP in captures); `None` when it read none.
    pub web: Option<WebCensus>,
}

struct RunSink<'p, 'o> {
    detector: DetectorSet<'p>,
    tap: Option<&'o mut dyn Tap>,
    ctx: Context<'p>,
    state: CensusState,
    period: Option<(Micros, Micros)>,
    records: u64,
    path: &'p Path,
    /// The current input's file name: the site of requests that name none.
    fallback_site: String,
    web: WebCensus,
    obs: &'o mut dyn Observer,
    /// Only findings of this shard's victims enter the state (detectors still see every event).
    shard: Option<Shard>,
}

impl RunSink<'_, '_> {
    fn count(&mut self, ts: Micros) {
        self.period = Some(match self.period {
            Some((a, b)) => (a.min(ts), b.max(ts)),
            None => (ts, ts),
        });
        self.records += 1;
        if self.records.is_multiple_of(PROGRESS_EVERY) {
            self.obs.progress(self.path, self.records);
        }
    }
}

impl Sink for RunSink<'_, '_> {
    fn event(&mut self, rec: RecordRef, ev: &Event<'_>) {
        self.count(ev.ts());
        if let Event::Http(h) = ev {
            let req = weblog::zeek::from_http(h, rec.line);
            self.web.observe(rec.input, &req, &self.fallback_site);
        }
        let state = &mut self.state;
        let shard = self.shard;
        match self.tap.as_deref_mut() {
            None => self
                .detector
                .observe(rec, ev, &self.ctx, &mut |f: Finding| keep(state, shard, &f)),
            Some(tap) => {
                tap.event(ev, &self.ctx);
                self.detector
                    .observe(rec, ev, &self.ctx, &mut |f: Finding| {
                        tap.finding(&f);
                        keep(state, shard, &f)
                    });
            }
        }
    }

    fn web(&mut self, input: u32, req: &WebRequest<'_>) {
        self.count(req.ts);
        self.web.observe(input, req, &self.fallback_site);
    }
}

/// Adds a finding to the state when its victim belongs to `shard` (or there is no shard).
fn keep(state: &mut CensusState, shard: Option<Shard>, f: &Finding) {
    if shard.is_none_or(|s| s.owns(f.victim)) {
        state.add(f)
    }
}

impl Pipeline {
    /// Reads every planned input in order and returns the census state.
    /// An unusable input aborts the run with its error.
    pub fn run(
        &self,
        planned: &[PlannedInput],
        obs: &mut dyn Observer,
    ) -> Result<RunResult, RunError> {
        self.run_tapped(planned, obs, None)
    }

    /// [`Pipeline::run`] keeping only the relationships of `shard`'s victims.
    /// Every event is still read and every detector sees all of them, so the
    /// run-wide figures (period, records, detection counters) are those of the
    /// whole run, and relationships found by cross-host detectors (`cluster`)
    /// are the same as in the unsharded run.
    pub fn run_shard(
        &self,
        planned: &[PlannedInput],
        obs: &mut dyn Observer,
        shard: Shard,
    ) -> Result<RunResult, RunError> {
        self.run_inner(planned, obs, None, Some(shard))
    }

    /// [`Pipeline::run`], with a [`Tap`] seeing every event and kept finding.
    pub fn run_tapped<'o>(
        &self,
        planned: &[PlannedInput],
        obs: &'o mut dyn Observer,
        tap: Option<&'o mut dyn Tap>,
    ) -> Result<RunResult, RunError> {
        self.run_inner(planned, obs, tap, None)
    }

    /// The sink every run feeds: detectors, census state, web census.
    fn sink<'o>(
        &self,
        obs: &'o mut dyn Observer,
        tap: Option<&'o mut dyn Tap>,
        shard: Option<Shard>,
    ) -> Result<RunSink<'_, 'o>, RunError> {
        let detector = select::build(
            &self.detection.methods,
            &self.intel,
            self.detection.min_confidence,
            self.detection.allow.clone(),
        )?;
        Ok(RunSink {
            detector,
            tap,
            ctx: Context {
                home: &self.home,
                geo: self.geo.as_ref(),
            },
            state: CensusState::new(self.evidence_cap),
            period: None,
            records: 0,
            path: Path::new(""),
            fallback_site: String::new(),
            web: WebCensus::new(self.evidence_cap),
            obs,
            shard,
        })
    }

    fn run_inner<'o>(
        &self,
        planned: &[PlannedInput],
        obs: &'o mut dyn Observer,
        tap: Option<&'o mut dyn Tap>,
        shard: Option<Shard>,
    ) -> Result<RunResult, RunError> {
        let start = Instant::now();
        let mut inputs = Vec::with_capacity(planned.len());
        let mut sink = self.sink(obs, tap, shard)?;
        for (i, p) in planned.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            sink.path = &p.path;
            sink.fallback_site = p
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut diags: Vec<Diagnostic> = Vec::new();
            let stats = ingest::read_input(idx, p, &mut sink, &mut |d| {
                if diags.len() < MAX_DIAGNOSTICS_PER_INPUT {
                    diags.push(d)
                }
            });
            for d in &diags {
                sink.obs.diagnostic(d);
            }
            let stats = stats?;
            sink.obs.input_done(&stats);
            inputs.push(stats);
        }
        Ok(finish(sink, inputs, start))
    }

    /// A streaming run (the live collector): events are fed one by one with
    /// [`Stream::event`], the state can be looked at any time
    /// ([`Stream::snapshot`]) and the run ends with [`Stream::finish`].
    /// Same detectors and census as [`Pipeline::run`].
    pub fn stream(&self) -> Result<Stream<'_>, RunError> {
        // `Silent` is zero-sized: leaking it allocates nothing.
        let obs: &'static mut Silent = Box::leak(Box::new(Silent));
        Ok(Stream {
            sink: self.sink(obs, None, None)?,
            start: Instant::now(),
        })
    }
}

/// Ends a run: lets detectors report what they kept for the end, then
/// assembles the result.
fn finish(sink: RunSink<'_, '_>, inputs: Vec<InputStats>, start: Instant) -> RunResult {
    let RunSink {
        mut detector,
        ctx,
        mut state,
        period,
        records,
        mut tap,
        web,
        shard,
        ..
    } = sink;
    detector.finish(&ctx, &mut |f| {
        if let Some(t) = tap.as_deref_mut() {
            t.finding(&f);
        }
        keep(&mut state, shard, &f)
    });
    state.drop_resolved_names();
    RunResult {
        inputs,
        state,
        period,
        records,
        elapsed: start.elapsed(),
        methods: detector.methods().to_vec(),
        below_confidence: detector.below_confidence,
        suppressed: std::mem::take(&mut detector.suppressed),
        web: (web.requests > 0).then_some(web),
    }
}

/// A streaming run; see [`Pipeline::stream`].
pub struct Stream<'p> {
    sink: RunSink<'p, 'static>,
    start: Instant,
}

impl Stream<'_> {
    /// Feeds one event (`rec`: its evidence reference).
    pub fn event(&mut self, rec: RecordRef, ev: &Event<'_>) {
        self.sink.event(rec, ev);
    }

    /// Records fed so far.
    pub fn records(&self) -> u64 {
        self.sink.records
    }

    /// The result so far, without ending the run: the relationships found
    /// up to now. Detectors that report at the end of a run (behavioural
    /// methods) contribute only to [`Stream::finish`]; so does the web census.
    pub fn snapshot(&self, inputs: Vec<InputStats>) -> RunResult {
        let mut state = self.sink.state.clone();
        state.drop_resolved_names();
        let d = &self.sink.detector;
        RunResult {
            inputs,
            state,
            period: self.sink.period,
            records: self.sink.records,
            elapsed: self.start.elapsed(),
            methods: d.methods().to_vec(),
            below_confidence: d.below_confidence,
            suppressed: d.suppressed.clone(),
            // Flow telemetry carries no web requests; the web census is in `finish`.
            web: None,
        }
    }

    /// Ends the run (detectors report what they kept for the end).
    pub fn finish(self, inputs: Vec<InputStats>) -> RunResult {
        finish(self.sink, inputs, self.start)
    }
}
