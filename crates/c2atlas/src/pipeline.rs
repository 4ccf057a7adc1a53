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
use crate::ingest::gate::{FlowGate, Gated};
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
    state: Target,
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

    /// The detectors' gate; none when a tap must see every event.
    fn gate(&mut self) -> Option<FlowGate> {
        if self.tap.is_some() {
            return None;
        }
        self.detector.flow_gate()
    }

    /// Gated flows: counted and in the period, as their events would have been.
    fn gated(&mut self, g: &Gated) {
        if g.n == 0 {
            return;
        }
        self.period = Some(match self.period {
            Some((a, b)) => (a.min(g.min_ts), b.max(g.max_ts)),
            None => (g.min_ts, g.max_ts),
        });
        let before = self.records / PROGRESS_EVERY;
        self.records += g.n;
        if self.records / PROGRESS_EVERY != before {
            self.obs.progress(self.path, self.records);
        }
    }
}

/// Adds a finding to the state when its victim belongs to `shard` (or there is no shard).
fn keep(state: &mut Target, shard: Option<Shard>, f: &Finding) {
    if shard.is_none_or(|s| s.owns(f.victim)) {
        state.add(f)
    }
}

/// Findings a parallel reader buffers per lane before taking that lane's
/// lock: amortises locking (a few µs) over many cheap updates.
const LANE_BATCH: usize = 1024;

/// Findings buffered for a lane whose lock is busy before the reader waits
/// for it (bounds the buffer: ~100 bytes per finding).
const LANE_BUFFER_MAX: usize = 16 * LANE_BATCH;

/// The census state findings go to: the run's own, or, for a parallel
/// reader, the run's state split into lanes by victim ([`Shard::lane`]),
/// shared by all readers. Every relationship lives in exactly one lane, so
/// readers of different files never hold the same relationship twice.
struct Target {
    own: CensusState,
    lanes: Option<Lanes>,
}

/// A parallel reader's view of the shared lanes, with its buffers.
struct Lanes {
    parts: Arc<Vec<std::sync::Mutex<CensusState>>>,
    buf: Vec<Vec<Finding>>,
}

impl Target {
    fn own(state: CensusState) -> Target {
        Target {
            own: state,
            lanes: None,
        }
    }

    fn add(&mut self, f: &Finding) {
        let Some(l) = self.lanes.as_mut() else {
            return self.own.add(f);
        };
        let n = u32::try_from(l.parts.len()).unwrap_or(u32::MAX);
        let i = Shard::lane(f.victim, n) as usize;
        let Some(b) = l.buf.get_mut(i) else {
            return self.own.add(f);
        };
        b.push(f.clone());
        let len = b.len();
        if len >= LANE_BATCH {
            l.flush(i, len >= LANE_BUFFER_MAX);
        }
    }

    /// Applies every buffered finding (end of a reader).
    fn flush(&mut self) {
        if let Some(l) = self.lanes.as_mut() {
            for i in 0..l.buf.len() {
                l.flush(i, true);
            }
        }
    }
}

impl Lanes {
    /// Applies lane `i`'s buffer, waiting for its lock only when `wait`.
    fn flush(&mut self, i: usize, wait: bool) {
        let (Some(part), Some(buf)) = (self.parts.get(i), self.buf.get_mut(i)) else {
            return;
        };
        if buf.is_empty() {
            return;
        }
        let guard = if wait {
            Some(
                part.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
        } else {
            part.try_lock().ok()
        };
        if let Some(mut st) = guard {
            for f in buf.drain(..) {
                st.add(&f);
            }
        }
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
    /// its own fork of the detectors; the census state is split by victim into
    /// one lane per thread ([`Shard::lane`]) that every reader adds to (in
    /// batches, under the lane's lock), so no relationship is held twice, and
    /// the lanes are joined after ([`CensusState::merge`] is
    /// order-independent): the result is the one of the sequential run. When a selected detector cannot fork
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
            state: Target::own(CensusState::new(self.evidence_cap)),
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
            // One input on its own: its format may still split it across the threads.
            let stats = ingest::read_input_threads(
                idx,
                p,
                &mut sink,
                &mut |d| {
                    if diags.len() < MAX_DIAGNOSTICS_PER_INPUT {
                        diags.push(d)
                    }
                },
                threads,
            );
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
        state,
        period,
        records,
        mut tap,
        web,
        shard,
        ..
    } = sink;
    let mut state = Target::own(state.own);
    detector.finish(&ctx, &mut |f| {
        if let Some(t) = tap.as_deref_mut() {
            t.finding(&f);
        }
        keep(&mut state, shard, &f)
    });
    let mut state = state.own;
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
        let mut state = self.sink.state.own.clone();
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
    let cap = sink.state.own.cap();
    // The run's state so far (e.g. from name logs read before) is split into
    // one lane per thread; readers add to the lanes; the lanes are joined
    // after. Lanes partition victims, so the join only concatenates.
    let n = u32::try_from(forks.len()).unwrap_or(1).max(1);
    let parts: Arc<Vec<std::sync::Mutex<CensusState>>> = Arc::new(
        std::mem::replace(&mut sink.state.own, CensusState::new(cap))
            .split(n as usize, |v| Shard::lane(v, n) as usize)
            .into_iter()
            .map(std::sync::Mutex::new)
            .collect(),
    );
    let mut results: Vec<Option<Result<InputStats, IngestError>>> =
        (0..range.len()).map(|_| None).collect();
    let outcomes: Vec<Worker> = std::thread::scope(|scope| {
        let handles: Vec<_> = forks
            .into_iter()
            .map(|detector| {
                let tx = tx.clone();
                let next = &next;
                let end = range.end;
                let lanes = Lanes {
                    parts: Arc::clone(&parts),
                    buf: (0..n).map(|_| Vec::new()).collect(),
                };
                scope.spawn(move || {
                    let mut obs = ChannelObserver(tx.clone());
                    let mut w = RunSink {
                        detector,
                        tap: None,
                        ctx: Context {
                            home: ctx.home,
                            geo: ctx.geo,
                        },
                        state: Target {
                            own: CensusState::new(cap),
                            lanes: Some(lanes),
                        },
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
                    w.state.flush();
                    Worker {
                        state: w.state.own,
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
    // Every reader has ended: the lanes are no longer shared.
    let lanes: Vec<CensusState> = match Arc::try_unwrap(parts) {
        Ok(p) => p
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            })
            .collect(),
        Err(shared) => shared
            .iter()
            .map(|m| {
                std::mem::take(&mut *m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
            })
            .collect(),
    };
    for part in lanes {
        sink.state.own.merge_from(part);
    }
    for w in outcomes {
        sink.state.own.merge_from(w.state);
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
