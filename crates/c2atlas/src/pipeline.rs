//! The run: planned inputs → ingest → detect → census state.
//!
//! This is the only place that wires the stages together; each stage stays
//! ignorant of the others' internals.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
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
use crate::ingest::{self, Diagnostic, Format, IngestError, InputStats, PlannedInput, Sink};
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
    #[error("{path}: the thread reading it failed")]
    Worker { path: PathBuf },
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

    // A tap sees every event in full, so a tapped run never filters.
    fn filters_flows(&self) -> bool {
        self.tap.is_none() && self.detector.filters_flows()
    }

    fn wants_flow(&self, src: std::net::IpAddr, dst: std::net::IpAddr) -> bool {
        self.detector.wants_flow(src, dst)
    }

    fn flow_passed_over(&mut self, _rec: RecordRef, ts: Micros) {
        self.count(ts);
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

    /// [`Pipeline::run`] (or [`Pipeline::run_shard`] with `shard`) on up to
    /// `threads` threads. Consecutive flow-only inputs (see [`parallel_format`])
    /// are read in parallel, one input per thread at a time, each thread with
    /// its own fork of the detectors and its own census state; the states are
    /// then merged ([`CensusState::merge`] is order-independent), so the result
    /// is the one of the sequential run. When a selected detector cannot fork
    /// (behavioural methods accumulate over flows), the run is sequential.
    pub fn run_threads(
        &self,
        planned: &[PlannedInput],
        obs: &mut dyn Observer,
        shard: Option<Shard>,
        threads: usize,
    ) -> Result<RunResult, RunError> {
        self.run_inner_threads(planned, obs, None, shard, threads.max(1))
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
        self.run_inner_threads(planned, obs, tap, shard, 1)
    }

    fn run_inner_threads<'o>(
        &self,
        planned: &[PlannedInput],
        obs: &'o mut dyn Observer,
        tap: Option<&'o mut dyn Tap>,
        shard: Option<Shard>,
        threads: usize,
    ) -> Result<RunResult, RunError> {
        let start = Instant::now();
        let mut inputs = Vec::with_capacity(planned.len());
        let mut sink = self.sink(obs, tap, shard)?;
        let mut next = 0usize;
        while next < planned.len() {
            let i = next;
            next += 1;
            let batch = planned[i..]
                .iter()
                .take_while(|p| parallel_format(p.format))
                .count();
            if threads > 1
                && batch > 1
                && sink.tap.is_none()
                && let Some(stats) = read_parallel(&mut sink, planned, i..i + batch, threads)
            {
                inputs.extend(stats?);
                next = i + batch;
                continue;
            }
            let p = &planned[i];
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

/// Formats whose inputs only produce flow events, so that they can be read in
/// parallel with forked detectors (see [`Pipeline::run_threads`]).
pub fn parallel_format(f: Format) -> bool {
    matches!(
        f,
        Format::ZeekConn | Format::Binetflow | Format::Ipfix | Format::Nfcapd | Format::NfdumpCsv
    )
}

/// What a worker thread tells the run's observer.
enum WorkerMsg {
    Progress(PathBuf, u64),
    Done(usize, Vec<Diagnostic>, Result<InputStats, IngestError>),
}

/// Forwards a worker's progress to the main thread.
struct ChannelObserver(mpsc::Sender<WorkerMsg>);

impl Observer for ChannelObserver {
    fn diagnostic(&mut self, _: &Diagnostic) {}
    fn progress(&mut self, path: &Path, records: u64) {
        let _ = self
            .0
            .send(WorkerMsg::Progress(path.to_path_buf(), records));
    }
    fn input_done(&mut self, _: &InputStats) {}
}

/// Reads `planned[range]` (flow-only inputs) on up to `threads` threads and
/// merges what they found into `sink`. `None` when the detectors cannot fork
/// (nothing was read); otherwise the inputs' stats in input order, or the
/// error of the first input (in input order) that could not be read.
fn read_parallel(
    sink: &mut RunSink<'_, '_>,
    planned: &[PlannedInput],
    range: std::ops::Range<usize>,
    threads: usize,
) -> Option<Result<Vec<InputStats>, RunError>> {
    let forks: Vec<DetectorSet<'_>> = (0..threads.min(range.len()))
        .map(|_| sink.detector.fork())
        .collect::<Option<_>>()?;
    let next = AtomicUsize::new(range.start);
    let (tx, rx) = mpsc::channel();
    let ctx = &sink.ctx;
    let shard = sink.shard;
    let cap = sink.state.cap();
    let mut results: Vec<Option<Result<InputStats, IngestError>>> =
        (0..range.len()).map(|_| None).collect();
    let outcomes: Vec<Worker> = std::thread::scope(|scope| {
        let handles: Vec<_> = forks
            .into_iter()
            .map(|detector| {
                let tx = tx.clone();
                let next = &next;
                let end = range.end;
                scope.spawn(move || {
                    let mut obs = ChannelObserver(tx.clone());
                    let mut w = RunSink {
                        detector,
                        tap: None,
                        ctx: Context {
                            home: ctx.home,
                            geo: ctx.geo,
                        },
                        state: CensusState::new(cap),
                        period: None,
                        records: 0,
                        path: Path::new(""),
                        fallback_site: String::new(),
                        web: WebCensus::new(cap),
                        obs: &mut obs,
                        shard,
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= end {
                            break;
                        }
                        let Some(p) = planned.get(i) else { break };
                        w.path = &p.path;
                        let idx = u32::try_from(i).unwrap_or(u32::MAX);
                        let mut diags = Vec::new();
                        let stats = ingest::read_input(idx, p, &mut w, &mut |d| {
                            if diags.len() < MAX_DIAGNOSTICS_PER_INPUT {
                                diags.push(d)
                            }
                        });
                        let _ = tx.send(WorkerMsg::Done(i, diags, stats));
                    }
                    Worker {
                        state: w.state,
                        period: w.period,
                        records: w.records,
                        below_confidence: w.detector.below_confidence,
                        suppressed: w.detector.suppressed,
                    }
                })
            })
            .collect();
        drop(tx);
        for msg in rx {
            match msg {
                WorkerMsg::Progress(path, n) => sink.obs.progress(&path, n),
                WorkerMsg::Done(i, diags, stats) => {
                    for d in &diags {
                        sink.obs.diagnostic(d);
                    }
                    if let Ok(s) = &stats {
                        sink.obs.input_done(s);
                    }
                    if let Some(slot) = results.get_mut(i - range.start) {
                        *slot = Some(stats);
                    }
                }
            }
        }
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for w in outcomes {
        sink.state.merge_from(w.state);
        sink.records += w.records;
        if let Some((a, b)) = w.period {
            sink.period = Some(match sink.period {
                Some((x, y)) => (x.min(a), y.max(b)),
                None => (a, b),
            });
        }
        sink.detector.below_confidence += w.below_confidence;
        for (r, n) in w.suppressed {
            *sink.detector.suppressed.entry(r).or_insert(0) += n;
        }
    }
    let mut stats = Vec::with_capacity(range.len());
    for (k, r) in results.into_iter().enumerate() {
        match r {
            Some(Ok(s)) => stats.push(s),
            Some(Err(e)) => return Some(Err(e.into())),
            // A worker thread panicked before finishing this input.
            None => {
                return Some(Err(RunError::Worker {
                    path: planned
                        .get(range.start + k)
                        .map(|p| p.path.clone())
                        .unwrap_or_default(),
                }));
            }
        }
    }
    Some(Ok(stats))
}

/// What a worker thread hands back.
struct Worker {
    state: CensusState,
    period: Option<(Micros, Micros)>,
    records: u64,
    below_confidence: u64,
    suppressed: BTreeMap<Arc<str>, u64>,
}
