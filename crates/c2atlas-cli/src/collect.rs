//! `c2atlas collect`: the live collector.
//!
//! Threads: one receiver per UDP socket (NetFlow v5/v9 + IPFIX on `--listen`,
//! sFlow v5 on `--sflow-listen`) with a large `SO_RCVBUF`, pushing datagrams
//! into one bounded queue (`--queue`); when the queue is full the datagram is
//! dropped and counted (`c2atlas_queue_dropped_total`), never blocking the
//! socket. The main thread decodes ([`Decoder`]), feeds the flow events to a
//! streaming pipeline run ([`Pipeline::stream`]) and every
//! `--snapshot-interval` writes `STATE_DIR/census.json` (the `census --format
//! json` document) and `STATE_DIR/state.jsonl` (the mergeable state,
//! `c2atlas.state/1`), each atomically (temp file + rename). An optional
//! `/metrics` endpoint serves Prometheus text. SIGTERM/SIGINT: stop
//! receiving, drain the queue, final snapshot, exit 0.
//!
//! Restart: `state.jsonl` is read back at start ([`resume::load`]) and is the
//! base every snapshot merges the new session into; what was snapshotted is
//! neither lost nor counted twice (the new session sees only new datagrams).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result, bail};
use c2atlas::census::document;
use c2atlas::census::resume;
use c2atlas::census::shard::{self, Shard};
use c2atlas::census::state::CensusState;
use c2atlas::ingest::netflow::Decoder;
use c2atlas::ingest::{Format, InputStats};
use c2atlas::model::{Event, Micros, RecordRef};
use c2atlas::pipeline::{Pipeline, RunResult};
use clap::Args;

use crate::args::RunArgs;
use crate::progress::Progress;

/// Largest UDP payload (IPv4/IPv6 without jumbograms).
const MAX_DATAGRAM: usize = 65_535;
/// Receive buffer asked of the kernel (it may grant less: see `net.core.rmem_max`).
const RECV_BUFFER: usize = 32 << 20;
/// How often receivers and the pipeline look at the stop flag, and how often
/// metrics and the progress line are refreshed.
const TICK: Duration = Duration::from_millis(200);
const METRICS_EVERY: Duration = Duration::from_secs(1);

#[derive(Args, Debug)]
#[command(mut_arg("inputs", |a| a.required(false).hide(true)))]
pub struct CollectArgs {
    /// The census options (home, intel, databases, detection). Inputs are not used.
    #[command(flatten)]
    pub run: RunArgs,
    /// UDP address for NetFlow v5, v9 and IPFIX, e.g. 127.0.0.1:2055.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// UDP address for sFlow v5, e.g. 127.0.0.1:6343.
    #[arg(long, value_name = "ADDR")]
    pub sflow_listen: Option<SocketAddr>,
    /// Directory kept current with census.json and state.jsonl (created if absent; resumed from if present).
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Time between snapshots: e.g. 60s, 5m, 1h, 500ms (a plain number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub snapshot_interval: Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Datagrams queued between the receivers and the decoder; beyond, datagrams are dropped and counted.
    #[arg(long, value_name = "N", default_value_t = 65_536)]
    pub queue: usize,
}

/// `60s`, `5m`, `1h`, `500ms`, `30`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 60s, 5m, 1h or 500ms"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    if !(0.01..=86_400.0 * 7.0).contains(&secs) {
        return Err(format!("{s:?}: out of range (10ms to 7 days)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A datagram on its way from a receiver to the decoder.
struct Datagram {
    listener: u32,
    from: IpAddr,
    at: Micros,
    data: Vec<u8>,
}

/// Counters shared by the threads.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    received: AtomicU64,
    dropped: AtomicU64,
    queued: AtomicU64,
    recv_errors: AtomicU64,
    metrics: Mutex<String>,
}

fn now_micros() -> Micros {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn bind(addr: SocketAddr) -> Result<(UdpSocket, usize)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .with_context(|| format!("cannot open a UDP socket for {addr}"))?;
    // Best effort: the kernel caps it at net.core.rmem_max; what we got is reported.
    let _ = sock.set_recv_buffer_size(RECV_BUFFER);
    sock.bind(&addr.into())
        .with_context(|| format!("cannot listen on udp {addr}"))?;
    let got = sock.recv_buffer_size().unwrap_or(0);
    let sock: UdpSocket = sock.into();
    sock.set_read_timeout(Some(TICK))?;
    Ok((sock, got))
}

fn receiver(listener: u32, sock: UdpSocket, tx: SyncSender<Datagram>, sh: Arc<Shared>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !sh.stop.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                sh.received.fetch_add(1, Ordering::Relaxed);
                let d = Datagram {
                    listener,
                    from: from.ip(),
                    at: now_micros(),
                    data: buf.get(..n).unwrap_or(&[]).to_vec(),
                };
                sh.queued.fetch_add(1, Ordering::Relaxed);
                match tx.try_send(d) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        sh.queued.fetch_sub(1, Ordering::Relaxed);
                        sh.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => return,
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                sh.recv_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn metrics_server(addr: SocketAddr, sh: Arc<Shared>) -> Result<()> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
    std::thread::spawn(move || {
        while !sh.stop.load(Ordering::Relaxed) {
            let Ok(Some(req)) = server.recv_timeout(TICK) else {
                continue;
            };
            let resp = if req.url() == "/metrics" {
                let body = sh.metrics.lock().map(|m| m.clone()).unwrap_or_default();
                let ct = tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    &b"text/plain; version=0.0.4"[..],
                )
                .ok();
                let mut r = tiny_http::Response::from_string(body);
                if let Some(h) = ct {
                    r = r.with_header(h);
                }
                r
            } else {
                tiny_http::Response::from_string("see /metrics\n").with_status_code(404)
            };
            let _ = req.respond(resp);
        }
    });
    Ok(())
}

/// One listening socket's view as a census input.
struct Listener {
    name: String,
    records: u64,
    malformed: u64,
    skipped: u64,
    /// Records before this session (from the resumed state): evidence lines continue after them.
    base_records: u64,
    base_malformed: u64,
    base_skipped: u64,
}

impl Listener {
    fn stats(&self) -> InputStats {
        InputStats {
            path: PathBuf::from(&self.name),
            format: Format::Netflow,
            records: self.base_records + self.records,
            malformed: self.base_malformed + self.malformed,
            skipped: self.base_skipped + self.skipped,
            sha256: String::new(),
            gzip: false,
        }
    }
}

/// Writes `text` to `path` atomically (temp file in the same directory, then rename).
fn write_atomic(path: &Path, text: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(text)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The saved state (base) merged with this session's result → census.json and state.jsonl.
fn snapshot(
    dir: &Path,
    pipeline: &Pipeline,
    base: &CensusState,
    base_period: Option<(Micros, Micros)>,
    base_below: u64,
    mut res: RunResult,
    registered: bool,
) -> Result<usize> {
    let mut state = base.clone();
    state.merge(&res.state);
    res.state = state;
    res.period = match (base_period, res.period) {
        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        (p, q) => p.or(q),
    };
    res.below_confidence += base_below;
    let (rels, views) = document::relationships(pipeline, &res);
    let doc = document::document(pipeline, &res, &views, registered);
    let mut state_text = Vec::new();
    shard::write_state(&mut state_text, Shard::WHOLE, &doc, &rels)?;
    write_atomic(&dir.join("state.jsonl"), &state_text)?;
    write_atomic(
        &dir.join("census.json"),
        crate::commands::to_json(&doc)?.as_bytes(),
    )?;
    // The relationships with their evidence, as day-partitioned Parquet
    // (DIR/relationships/day=YYYY-MM-DD/part-00000.parquet), replaced atomically.
    #[cfg(feature = "parquet")]
    {
        let pq = dir.join("relationships");
        c2atlas::report::parquet::write_relationships(&pq, &rels)
            .with_context(|| format!("cannot write the Parquet snapshot under {}", pq.display()))?;
    }
    Ok(rels.len())
}

pub fn collect(a: CollectArgs) -> Result<()> {
    if a.listen.is_none() && a.sflow_listen.is_none() {
        bail!("give --listen ADDR (NetFlow/IPFIX) and/or --sflow-listen ADDR (sFlow)");
    }
    if !a.run.inputs.is_empty() {
        bail!("collect reads from the network, not from files (use `census` for files)");
    }
    if a.queue == 0 {
        bail!("--queue must be at least 1");
    }
    std::fs::create_dir_all(&a.state_dir)
        .with_context(|| format!("cannot create {}", a.state_dir.display()))?;
    let progress = Progress::new(a.run.quiet, 0);
    let pipeline = crate::commands::build_pipeline(&a.run, &progress)?;
    progress.finish();

    // Resume.
    let state_file = a.state_dir.join("state.jsonl");
    let (base, base_period, base_below, base_inputs) = if state_file.exists() {
        let r = resume::load(&state_file, &pipeline.intel, a.run.max_evidence)?;
        eprintln!(
            "c2atlas: resumed {} relationships from {}",
            r.state.len(),
            state_file.display()
        );
        (
            r.state,
            r.period,
            r.doc.detection.below_confidence,
            r.doc.inputs,
        )
    } else {
        (CensusState::new(a.run.max_evidence), None, 0, Vec::new())
    };

    let sh = Arc::new(Shared::default());
    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&term))
            .context("cannot install signal handlers")?;
    }

    let (tx, rx) = std::sync::mpsc::sync_channel::<Datagram>(a.queue);
    let mut listeners = Vec::new();
    let mut handles = Vec::new();
    for addr in [a.listen, a.sflow_listen].into_iter().flatten() {
        let (sock, buf) = bind(addr)?;
        let local = sock.local_addr()?;
        let idx = listeners.len() as u32;
        let name = format!("udp://{addr}");
        let base_in = base_inputs.iter().find(|i| i.path == name);
        eprintln!("c2atlas: listening on udp {local} (receive buffer {buf} bytes)");
        listeners.push(Listener {
            name,
            records: 0,
            malformed: 0,
            skipped: 0,
            base_records: base_in.map_or(0, |i| i.records),
            base_malformed: base_in.map_or(0, |i| i.malformed),
            base_skipped: base_in.map_or(0, |i| i.skipped),
        });
        let tx = tx.clone();
        let sh = Arc::clone(&sh);
        handles.push(std::thread::spawn(move || receiver(idx, sock, tx, sh)));
    }
    drop(tx);
    if let Some(m) = a.metrics_listen {
        metrics_server(m, Arc::clone(&sh))?;
        eprintln!("c2atlas: metrics on http://{m}/metrics");
    }

    let mut stream = pipeline.stream()?;
    let mut decoder = Decoder::new();
    let registered = a.run.registered_country;
    let terminal = std::io::stderr().is_terminal() && !a.run.quiet;
    let mut last_snap = Instant::now();
    let mut last_metrics = Instant::now() - METRICS_EVERY;
    let mut last_records = 0u64;
    let mut snapshots = 0u64;
    loop {
        if term.load(Ordering::Relaxed) {
            sh.stop.store(true, Ordering::Relaxed);
        }
        let stopping = sh.stop.load(Ordering::Relaxed);
        match recv(&rx, stopping) {
            Some(d) => {
                sh.queued.fetch_sub(1, Ordering::Relaxed);
                let l = listeners.get_mut(d.listener as usize);
                let Some(l) = l else { continue };
                let base_line = l.base_records + l.records;
                let mut n = 0u64;
                let input = d.listener;
                let out = decoder.datagram(d.from, d.at, &d.data, &mut |r| {
                    n += 1;
                    stream.event(
                        RecordRef {
                            input,
                            line: base_line + n,
                        },
                        &Event::Flow(r.to_flow()),
                    );
                });
                l.records += n;
                if out.error.is_some() {
                    l.malformed += 1;
                }
            }
            None if stopping => break,
            None => {}
        }
        if last_metrics.elapsed() >= METRICS_EVERY {
            let secs = last_metrics.elapsed().as_secs_f64();
            let rate = (stream.records() - last_records) as f64 / secs;
            last_records = stream.records();
            last_metrics = Instant::now();
            let text = render_metrics(&decoder, &sh, &listeners, rate, snapshots);
            if let Ok(mut m) = sh.metrics.lock() {
                *m = text;
            }
            if terminal {
                let t = decoder.totals();
                eprint!(
                    "\rc2atlas: {} records ({:.0}/s), {} datagrams, {} dropped, {} malformed, {} exporters   ",
                    stream.records(),
                    rate,
                    sh.received.load(Ordering::Relaxed),
                    sh.dropped.load(Ordering::Relaxed),
                    t.malformed,
                    decoder.exporters().count()
                );
            }
        }
        if last_snap.elapsed() >= a.snapshot_interval {
            last_snap = Instant::now();
            decoder.expire(now_micros());
            let inputs = listeners.iter().map(Listener::stats).collect();
            let n = snapshot(
                &a.state_dir,
                &pipeline,
                &base,
                base_period,
                base_below,
                stream.snapshot(inputs),
                registered,
            )?;
            snapshots += 1;
            if !terminal && !a.run.quiet {
                eprintln!("c2atlas: snapshot {snapshots}: {n} relationships");
            }
        }
    }
    for h in handles {
        let _ = h.join();
    }
    decoder.finish();
    let inputs = listeners.iter().map(Listener::stats).collect();
    let n = snapshot(
        &a.state_dir,
        &pipeline,
        &base,
        base_period,
        base_below,
        stream.finish(inputs),
        registered,
    )?;
    let t = decoder.totals();
    if terminal {
        eprintln!();
    }
    eprintln!(
        "c2atlas: stopped: {} datagrams, {} records, {} dropped (queue full), {} malformed, \
         {} lost by sequence, {} sets without template; {n} relationships in {}",
        sh.received.load(Ordering::Relaxed),
        t.records,
        sh.dropped.load(Ordering::Relaxed),
        t.malformed,
        t.lost_records + t.lost_datagrams,
        t.lost_sets,
        a.state_dir.join("census.json").display()
    );
    Ok(())
}

/// Next datagram; when stopping, drains without waiting.
fn recv(rx: &Receiver<Datagram>, stopping: bool) -> Option<Datagram> {
    if stopping {
        return rx.try_recv().ok();
    }
    // Timeout or (at shutdown) every receiver gone: nothing this time.
    rx.recv_timeout(TICK).ok()
}

fn render_metrics(
    d: &Decoder,
    sh: &Shared,
    listeners: &[Listener],
    rate: f64,
    snapshots: u64,
) -> String {
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, rows: &[(String, f64)]| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in rows {
            let _ = writeln!(s, "{name}{labels} {v}");
        }
    };
    let g = |v: u64| vec![(String::new(), v as f64)];
    metric(
        "c2atlas_datagrams_received_total",
        "counter",
        "UDP datagrams received.",
        &g(sh.received.load(Ordering::Relaxed)),
    );
    metric(
        "c2atlas_queue_dropped_total",
        "counter",
        "Datagrams dropped because the decoder queue was full.",
        &g(sh.dropped.load(Ordering::Relaxed)),
    );
    metric(
        "c2atlas_queue_depth",
        "gauge",
        "Datagrams waiting in the decoder queue.",
        &g(sh.queued.load(Ordering::Relaxed)),
    );
    metric(
        "c2atlas_receive_errors_total",
        "counter",
        "Socket receive errors.",
        &g(sh.recv_errors.load(Ordering::Relaxed)),
    );
    metric(
        "c2atlas_records_per_second",
        "gauge",
        "Flow records decoded per second (last second).",
        &[(String::new(), rate)],
    );
    metric(
        "c2atlas_templates",
        "gauge",
        "Templates cached (all exporters and domains).",
        &g(d.template_count() as u64),
    );
    metric(
        "c2atlas_pending_sets",
        "gauge",
        "Data sets waiting for their template.",
        &g(d.pending_sets() as u64),
    );
    metric(
        "c2atlas_snapshots_total",
        "counter",
        "Snapshots written.",
        &g(snapshots),
    );
    let rows = |f: &dyn Fn(&c2atlas::ingest::netflow::ExporterStats) -> u64| {
        let mut v: Vec<(String, f64)> = d
            .exporters()
            .map(|(ip, s)| (format!("{{exporter=\"{ip}\"}}"), f(s) as f64))
            .collect();
        v.push(("{exporter=\"other\"}".into(), f(&d.overflow) as f64));
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    type Get = fn(&c2atlas::ingest::netflow::ExporterStats) -> u64;
    let per: [(&str, &str, Get); 10] = [
        (
            "c2atlas_exporter_datagrams_total",
            "Datagrams decoded per exporter.",
            |s| s.datagrams,
        ),
        (
            "c2atlas_exporter_records_total",
            "Flow records per exporter (rate() gives records/s).",
            |s| s.records,
        ),
        (
            "c2atlas_exporter_malformed_total",
            "Malformed datagrams, sets, templates or samples per exporter.",
            |s| s.malformed,
        ),
        (
            "c2atlas_exporter_templates_total",
            "Templates received per exporter.",
            |s| s.templates,
        ),
        (
            "c2atlas_exporter_lost_sets_total",
            "Data sets whose template never came, per exporter.",
            |s| s.lost_sets,
        ),
        (
            "c2atlas_exporter_sequence_lost_records_total",
            "Records missing by sequence numbers (v5, IPFIX).",
            |s| s.lost_records,
        ),
        (
            "c2atlas_exporter_sequence_lost_datagrams_total",
            "Datagrams missing by sequence numbers (v9, sFlow).",
            |s| s.lost_datagrams,
        ),
        (
            "c2atlas_exporter_options_records_total",
            "Options records counted and skipped.",
            |s| s.options_records,
        ),
        (
            "c2atlas_exporter_counter_samples_total",
            "sFlow counter samples counted and skipped.",
            |s| s.counter_samples,
        ),
        (
            "c2atlas_exporter_over_limit_total",
            "Datagrams skipped at a decoder limit.",
            |s| s.over_limit,
        ),
    ];
    for (name, help, f) in per {
        metric(name, "counter", help, &rows(&f));
    }
    let l: Vec<(String, f64)> = listeners
        .iter()
        .map(|l| (format!("{{listener=\"{}\"}}", l.name), l.malformed as f64))
        .collect();
    metric(
        "c2atlas_malformed_datagrams_total",
        "counter",
        "Datagrams with at least one problem, per listener.",
        &l,
    );
    s
}
