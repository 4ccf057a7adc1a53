//! `c2atlas replay` (an IPFIX exporter over UDP) and `c2atlas bench` (the
//! national-scale benchmark: census throughput and peak memory next to
//! nfdump's on the same files, in the same run).
//!
//! Every workload of the bench is a child process, timed by wall clock and
//! measured by `wait4` (CPU time and peak RSS of that child alone).

use std::fs::File;
use std::io::BufReader;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use c2atlas::simulate::ipfix::Messages;
use c2atlas::simulate::{SimConfig, SimFormat};
use clap::Args;

/// Below this lead over the schedule the sender does not sleep (sleeps are coarse).
const MIN_SLEEP: Duration = Duration::from_millis(2);

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// IPFIX files (RFC 5655: messages back to back), sent in the order given.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The collector.
    #[arg(long, value_name = "HOST:PORT")]
    pub to: SocketAddr,
    /// Flow records per second (0: as fast as the socket takes them).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub rate: u64,
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// What a replay sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sent {
    pub messages: u64,
    pub records: u64,
    pub bytes: u64,
    pub secs: f64,
}

/// Sends every message of `files` to `to` as one datagram, pacing to `rate` records/s.
pub fn send_files(files: &[PathBuf], to: SocketAddr, rate: u64) -> Result<Sent> {
    let bind: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(bind).context("cannot open a UDP socket")?;
    sock.connect(to)
        .with_context(|| format!("cannot address {to}"))?;
    let start = Instant::now();
    let mut sent = Sent::default();
    for path in files {
        let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut msgs = Messages::new(BufReader::with_capacity(1 << 20, f));
        loop {
            let (msg, records) = match msgs.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => bail!("{}: {e}", path.display()),
            };
            // A blocking socket waits for room in its send buffer: the sender loses nothing.
            sock.send(msg)
                .with_context(|| format!("cannot send to {to}"))?;
            sent.messages += 1;
            sent.records += records;
            sent.bytes += msg.len() as u64;
            if rate > 0 {
                let due = Duration::from_secs_f64(sent.records as f64 / rate as f64);
                let now = start.elapsed();
                if due > now + MIN_SLEEP {
                    std::thread::sleep(due - now);
                }
            }
        }
    }
    sent.secs = start.elapsed().as_secs_f64();
    Ok(sent)
}

pub fn replay(a: ReplayArgs) -> Result<()> {
    let s = send_files(&a.files, a.to, a.rate)?;
    if !a.quiet {
        eprintln!(
            "c2atlas: replayed {} messages ({} records, {} bytes) to {} in {:.2} s ({:.0} records/s)",
            s.messages,
            s.records,
            s.bytes,
            a.to,
            s.secs,
            s.records as f64 / s.secs.max(1e-9)
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Data size: `small` (5,000 hosts), `day` (100,000 hosts) or `national` (the 2012 report's
    /// scale: 20 M hosts, 14.2 M victims, 73,000 overseas controllers; ~200 M IPFIX records).
    #[arg(long, default_value = "small", value_parser = ["small", "day", "national"])]
    pub scale: String,
    /// Where the generated data is kept (reused by later runs of the same scale).
    #[arg(long, value_name = "DIR", default_value = "out/bench")]
    pub dir: PathBuf,
    /// Threads of the multi-core workloads (default: the available cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Records/s at which IPFIX is replayed into nfcapd to write the nfcapd files.
    #[arg(long, value_name = "N", default_value_t = 400_000)]
    pub replay_rate: u64,
    /// Background connections per host (default: the scale's; `national` uses 4 to pass 200 M records).
    #[arg(long, value_name = "N")]
    pub background_flows_per_host: Option<f64>,
    /// Comma-separated subset of workloads to run (default: all); see the table for names.
    #[arg(long, value_name = "LIST")]
    pub only: Option<String>,
    /// Records/s offered to `c2atlas collect` over loopback UDP in the `collect` workload
    /// (the day's IPFIX messages, one datagram each; the target is 1,000,000).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub collect_rate: u64,
}

/// One measured child process.
#[derive(Clone, Debug)]
struct Measure {
    wall: f64,
    cpu: f64,
    max_rss_kib: u64,
    ok: bool,
    stderr: String,
}

/// Runs `cmd` (stdout discarded) and measures it with `wait4`.
fn measure(cmd: &mut Command) -> Result<Measure> {
    Running::spawn(cmd)?.wait()
}

/// A child started by [`Running::spawn`], measured when [`Running::wait`] reaps it.
struct Running {
    start: Instant,
    pid: libc::pid_t,
    reader: std::thread::JoinHandle<String>,
    /// Kept so that the handle outlives the wait (reaped by `wait4`, not by `Child::wait`).
    _child: std::process::Child,
}

impl Running {
    fn spawn(cmd: &mut Command) -> Result<Running> {
        let start = Instant::now();
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run {cmd:?}"))?;
        let mut err = child.stderr.take();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(e) = err.as_mut() {
                let _ = std::io::Read::read_to_string(e, &mut s);
            }
            s
        });
        let pid = libc::pid_t::try_from(child.id()).context("child pid out of range")?;
        Ok(Running {
            start,
            pid,
            reader,
            _child: child,
        })
    }

    /// Asks the child to stop (SIGTERM).
    fn terminate(&self) {
        // SAFETY: plain syscall on our own, not yet reaped, child's pid.
        unsafe {
            libc::kill(self.pid, libc::SIGTERM);
        }
    }

    fn wait(self) -> Result<Measure> {
        let Running {
            start, pid, reader, ..
        } = self;
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is plain old data, fully written by `wait4` on success.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our unreaped child; `status` and `ru` are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r != pid {
            bail!("wait4 failed: {}", std::io::Error::last_os_error());
        }
        let wall = start.elapsed().as_secs_f64();
        let stderr = reader.join().unwrap_or_default();
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Ok(Measure {
            wall,
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
            ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            stderr,
        })
    }
}

/// Records a census run reports on stderr (`read N records from …`).
fn census_records(stderr: &str) -> Option<u64> {
    let i = stderr.find("c2atlas: read ")?;
    stderr[i + 14..].split_whitespace().next()?.parse().ok()
}

/// One row of the table.
struct Row {
    name: String,
    records: u64,
    m: Option<Measure>,
    /// Name of the row this one is compared with, and the ratios (peer s /
    /// our s) on wall-clock and on CPU time.
    ratio: Vec<(String, f64, f64)>,
    note: String,
}

fn me() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the c2atlas binary")
}

/// Makes (or reuses) the simulated data of a scale in `dir`: `zeek/` and `ipfix/`.
fn ensure_sim(
    cfg: &SimConfig,
    scale: &str,
    dir: &Path,
    format: SimFormat,
) -> Result<c2atlas::simulate::SimOutput> {
    let done = dir.join("truth.json");
    if done.exists() {
        let truth: c2atlas::simulate::Truth = serde_json::from_slice(
            &std::fs::read(&done).with_context(|| format!("cannot read {}", done.display()))?,
        )?;
        if truth.config == *cfg {
            eprintln!("c2atlas bench: using {}", dir.display());
            return Ok(c2atlas::simulate::SimOutput {
                files: vec![],
                telemetry_dir: dir.join("telemetry"),
                intel_dir: dir.join("intel"),
                truth_path: done,
                flows: truth.planted.conn_rows,
                dns_queries: truth.planted.dns_rows,
                flow_records: 0,
                truth,
            });
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    // In a child process: the bench itself stays small, so that the peak RSS
    // `wait4` reports for its later children is theirs (Linux counts the
    // parent's high-water mark at fork into a child's `ru_maxrss`).
    let status = Command::new(me()?)
        .args(["simulate", "-q", "--scale", scale, "--format"])
        .arg(match format {
            SimFormat::Ipfix => "ipfix",
            SimFormat::Zeek => "zeek",
        })
        .arg("--background-flows-per-host")
        .arg(cfg.background_flows_per_host.to_string())
        .arg("--out")
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .context("cannot run c2atlas simulate")?;
    if !status.success() {
        bail!("c2atlas simulate failed for {}", dir.display());
    }
    if !dir.join("truth.json").exists() {
        bail!("c2atlas simulate wrote no truth.json in {}", dir.display());
    }
    let written: c2atlas::simulate::Truth =
        serde_json::from_slice(&std::fs::read(dir.join("truth.json"))?)?;
    if written.config != *cfg {
        bail!("c2atlas simulate wrote another configuration than the bench's");
    }
    ensure_sim(cfg, scale, dir, format)
}

/// Writes nfcapd files from the IPFIX files with nfdump's own collector.
fn ensure_nfcapd(ipfix: &[PathBuf], dir: &Path, rate: u64) -> Result<(PathBuf, u64, u64)> {
    let nf = dir.join("nfcapd");
    let marker = dir.join("nfcapd.sent");
    if let Ok(s) = std::fs::read_to_string(&marker) {
        let mut it = s.split_whitespace().filter_map(|x| x.parse::<u64>().ok());
        if let (Some(sent), Some(stored)) = (it.next(), it.next()) {
            eprintln!("c2atlas bench: reusing {}", nf.display());
            return Ok((nf, sent, stored));
        }
    }
    let _ = std::fs::remove_dir_all(&nf);
    std::fs::create_dir_all(&nf)?;
    let port = {
        let probe = UdpSocket::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let mut collector = Command::new("nfcapd")
        .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-w"])
        .arg(&nf)
        .args(["-t", "3600", "-y", "-B", "67108864"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start nfcapd (nfdump 1.7; scripts/setup.sh installs it)")?;
    std::thread::sleep(Duration::from_millis(500));
    let to: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    eprintln!(
        "c2atlas bench: replaying {} IPFIX files into nfcapd at {rate} records/s",
        ipfix.len()
    );
    let sent = send_files(ipfix, to, rate);
    std::thread::sleep(Duration::from_secs(2));
    // SIGTERM: nfcapd flushes and closes its file.
    let pid = libc::pid_t::try_from(collector.id()).context("pid")?;
    // SAFETY: plain syscall on our own child's pid.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    collector.wait()?;
    let sent = sent?;
    let stored = nfdump_flows(&nf)?;
    std::fs::write(&marker, format!("{} {}\n", sent.records, stored))?;
    eprintln!(
        "c2atlas bench: nfcapd stored {stored} of {} records sent ({} lost)",
        sent.records,
        sent.records.saturating_sub(stored)
    );
    Ok((nf, sent.records, stored))
}

/// Flows in an nfcapd directory, as `nfdump -I` counts them.
fn nfdump_flows(dir: &Path) -> Result<u64> {
    let out = Command::new("nfdump")
        .arg("-R")
        .arg(dir)
        .arg("-I")
        .output()
        .context("cannot run nfdump")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut total = 0;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Flows:") {
            total += v.trim().parse::<u64>().unwrap_or(0);
        }
    }
    Ok(total)
}

pub fn bench(a: BenchArgs) -> Result<()> {
    let mut cfg =
        SimConfig::scale(&a.scale).with_context(|| format!("unknown --scale {}", a.scale))?;
    if a.scale == "national" {
        cfg.background_flows_per_host = 4.0;
    }
    if let Some(b) = a.background_flows_per_host {
        cfg.background_flows_per_host = b;
    }
    let ipfix_cfg = cfg.clone();
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let want = |name: &str| {
        a.only
            .as_deref()
            .is_none_or(|l| l.split(',').any(|w| w.trim() == name))
    };
    let root = a.dir.join(&a.scale);
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let bin = me()?;

    // Data: IPFIX (all scales); Zeek text only below national (tens of GB there).
    let ipfix = ensure_sim(&ipfix_cfg, &a.scale, &root.join("ipfix"), SimFormat::Ipfix)?;
    let mut ipfix_files: Vec<PathBuf> = std::fs::read_dir(&ipfix.telemetry_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ipfix"))
        .collect();
    ipfix_files.sort();
    let zeek = if a.scale == "national" {
        None
    } else {
        Some(ensure_sim(
            &cfg,
            &a.scale,
            &root.join("zeek"),
            SimFormat::Zeek,
        )?)
    };
    let (nf_dir, nf_sent, nf_stored) = if want("nfcapd") || want("nfdump") {
        let (d, s, k) = ensure_nfcapd(&ipfix_files, &root, a.replay_rate)?;
        (Some(d), s, k)
    } else {
        (None, 0, 0)
    };

    let intel = |sim: &c2atlas::simulate::SimOutput| -> Vec<std::ffi::OsString> {
        vec![
            "--home-country".into(),
            sim.truth.config.home_country.to_string().into(),
            "--detect".into(),
            "intel".into(),
            "--intel".into(),
            sim.intel_dir.join("c2-feed.csv").into(),
            "--intel".into(),
            sim.intel_dir.join("c2-domains.txt").into(),
        ]
    };
    let census = |sim: &c2atlas::simulate::SimOutput,
                  inputs: &[&Path],
                  t: usize|
     -> Result<(Measure, u64)> {
        // The document is kept (small) to compare its figures with the truth, then deleted.
        let out = root.join(format!("census-{t}t.json"));
        let mut c = Command::new(&bin);
        c.args(["census", "-q", "--format", "json", "-o"])
            .arg(&out)
            .arg("--threads")
            .arg(t.to_string())
            .args(intel(sim))
            .args(inputs);
        let mut m = measure(&mut c)?;
        if m.ok {
            let equal = std::fs::read(&out)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .zip(serde_json::to_value(&sim.truth.c2).ok())
                .is_some_and(|(doc, truth)| doc.get("c2") == Some(&truth));
            m.stderr.push_str(&format!(
                "\ncensus equals truth.json: {}\n",
                if equal { "yes" } else { "no" }
            ));
        }
        let _ = std::fs::remove_file(&out);
        let n = census_records(&m.stderr).unwrap_or(0);
        Ok((m, n))
    };

    let mut rows: Vec<Row> = Vec::new();
    let mut push = |name: String, res: Result<(Measure, u64)>, note: String| {
        let row = match res {
            Ok((m, records)) => {
                let note = if m.ok {
                    note
                } else {
                    format!(
                        "failed: {}",
                        m.stderr
                            .lines()
                            .last()
                            .unwrap_or("")
                            .chars()
                            .take(100)
                            .collect::<String>()
                    )
                };
                Row {
                    name,
                    records,
                    m: Some(m),
                    ratio: vec![],
                    note,
                }
            }
            Err(e) => Row {
                name,
                records: 0,
                m: None,
                ratio: vec![],
                note: format!("not run: {e:#}"),
            },
        };
        rows.push(row);
    };

    // IOC census from IPFIX files (+ the dns.log of C2 lookups).
    for t in [1, threads] {
        let name = format!("census-ipfix-{t}t");
        if want("ipfix") || want(&name) {
            push(
                name,
                census(&ipfix, &[ipfix.telemetry_dir.as_path()], t),
                format!("{} IPFIX files", ipfix_files.len()),
            );
        }
        if t == threads && threads == 1 {
            break;
        }
    }
    // IOC census from the nfcapd files nfcapd wrote (+ the same dns.log).
    if let Some(nf) = &nf_dir {
        let dns = ipfix.telemetry_dir.join("dns.log");
        let dns_hourly = ipfix.telemetry_dir.clone();
        let mut inputs: Vec<PathBuf> = vec![nf.clone()];
        if dns.exists() {
            inputs.push(dns);
        } else {
            // Hourly dns.HH.log files.
            for e in std::fs::read_dir(&dns_hourly)?.flatten() {
                let p = e.path();
                if p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("dns."))
                {
                    inputs.push(p);
                }
            }
        }
        let refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        for t in [1, threads] {
            let name = format!("census-nfcapd-{t}t");
            if want("nfcapd") || want(&name) {
                // The run must have read the nfcapd files, not only the dns logs beside them.
                let res = census(&ipfix, &refs, t).and_then(|(m, n)| {
                    if m.ok && n < nf_stored {
                        bail!(
                            "the census read {n} records, fewer than the {nf_stored} flows of the nfcapd files (no nfcapd reader in this build?)"
                        )
                    }
                    Ok((m, n))
                });
                push(
                    name,
                    res,
                    format!("{nf_stored} of {nf_sent} replayed records stored by nfcapd"),
                );
            }
            if threads == 1 {
                break;
            }
        }
        if want("nfdump") {
            for (name, args) in [
                ("nfdump -A srcip,dstip", vec!["-A", "srcip,dstip"]),
                ("nfdump -s srcip/flows", vec!["-s", "srcip/flows"]),
            ] {
                let mut c = Command::new("nfdump");
                c.arg("-R").arg(nf).args(&args).arg("-q");
                push(
                    name.to_string(),
                    measure(&mut c).map(|m| (m, nf_stored)),
                    "peer, one core".into(),
                );
            }
        }
    }
    // Live collector: the IPFIX messages replayed over loopback UDP into `c2atlas collect`.
    if want("collect") {
        let res = collect(&bin, &ipfix_files, &root, a.collect_rate, &intel(&ipfix));
        let note = match &res {
            Ok((m, _)) => m
                .stderr
                .split("\ncollect: ")
                .nth(1)
                .unwrap_or("")
                .to_string(),
            Err(_) => String::new(),
        };
        push("collect-udp".to_string(), res, note);
    }
    // Zeek conn.log TSV.
    if let Some(z) = &zeek {
        for t in [1, threads] {
            let name = format!("census-zeek-{t}t");
            if want("zeek") || want(&name) {
                push(
                    name,
                    census(z, &[z.telemetry_dir.as_path()], t),
                    "conn + dns logs".into(),
                );
            }
            if threads == 1 {
                break;
            }
        }
    }
    // binetflow: CTU-13 scenario 6 (real; 26 slices), with the simulated day's feeds.
    for t in [1, threads] {
        let name = format!("census-binetflow-{t}t");
        if want("binetflow") || want(&name) {
            push(
                name,
                binetflow(&bin, &ipfix, t),
                "CTU-13 scenario 6 (26 files)".into(),
            );
        }
        if threads == 1 {
            break;
        }
    }
    // Memory: a census of no records (same feeds and databases) is the baseline.
    let baseline = empty_census(&bin, &ipfix, &root).ok();

    // Ratios of our census to nfdump on the same nfcapd files.
    let secs = |rows: &[Row], n: &str| {
        rows.iter()
            .find(|r| r.name == n)
            .and_then(|r| r.m.as_ref().filter(|m| m.ok).map(|m| (m.wall, m.cpu)))
    };
    let peers = ["nfdump -A srcip,dstip", "nfdump -s srcip/flows"];
    let peer_secs: Vec<(String, Option<(f64, f64)>)> = peers
        .iter()
        .map(|p| (p.to_string(), secs(&rows, p)))
        .collect();
    for r in rows.iter_mut() {
        if !r.name.starts_with("census-nfcapd") {
            continue;
        }
        if let Some(m) = r.m.as_ref().filter(|m| m.ok) {
            for (p, s) in &peer_secs {
                if let Some((wall, cpu)) = s {
                    r.ratio
                        .push((p.clone(), wall / m.wall, cpu / m.cpu.max(1e-9)));
                }
            }
        }
    }
    print_table(&a.scale, threads, &rows, baseline.as_ref().map(|b| b.cpu));
    if let Some(base) = baseline {
        println!(
            "baseline (census of no records, same feeds and databases): peak {:.1} MiB, {:.2} cpu s \
             (start-up: loading databases and feeds; `net rec/cpu-s` = records / (cpu s - this))",
            base.max_rss_kib as f64 / 1024.0,
            base.cpu
        );
        for r in &rows {
            if let (Some(m), true) = (&r.m, r.name.starts_with("census-ipfix"))
                && let Some((rels, victims)) = census_sizes(&m.stderr).filter(|_| m.ok)
            {
                {
                    let extra = (m.max_rss_kib.saturating_sub(base.max_rss_kib) * 1024) as f64;
                    println!(
                        "{}: {rels} relationships, {victims} victims: {:.0} bytes per relationship, {:.0} bytes per victim above the baseline (peak RSS); census state {}; census equals truth.json: {}",
                        r.name,
                        extra / rels.max(1) as f64,
                        extra / victims.max(1) as f64,
                        m.stderr
                            .split("census state ")
                            .nth(1)
                            .and_then(|s| s.lines().next())
                            .unwrap_or("not reported"),
                        m.stderr
                            .split("census equals truth.json: ")
                            .nth(1)
                            .and_then(|s| s.split_whitespace().next())
                            .unwrap_or("not checked"),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Kernel-wide UDP receive-buffer drops (`RcvbufErrors` in `/proc/net/snmp`): datagrams the
/// kernel discarded before any process read them, which no collector can count itself.
fn udp_rcvbuf_errors() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = s.lines().filter(|l| l.starts_with("Udp:"));
    let (head, vals) = (udp.next()?, udp.next()?);
    let i = head.split_whitespace().position(|w| w == "RcvbufErrors")?;
    vals.split_whitespace().nth(i)?.parse().ok()
}

/// The `key N` figures of the collector's closing line (`c2atlas: stopped: N datagrams, …`).
fn stopped_figure(stderr: &str, key: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.contains("c2atlas: stopped: "))?;
    let body = line.split("stopped: ").nth(1)?;
    body.split(',').find_map(|part| {
        let mut w = part.split_whitespace();
        let n = w.next()?.parse().ok()?;
        (w.collect::<Vec<_>>().join(" ") == key).then_some(n)
    })
}

/// The collector workload: `c2atlas collect` on a loopback port, fed by [`send_files`] at `rate`
/// records/s; SIGTERM once the sender is done and the collector has caught up. The row's
/// `wall s` is the sending interval (records/s = decoded records over it); CPU and peak RSS are the
/// collector's whole run. Loss is reported, not hidden: records sent minus decoded, and where they
/// went (the collector's full queue, the kernel's receive buffer, sequence gaps).
fn collect(
    bin: &Path,
    files: &[PathBuf],
    root: &Path,
    rate: u64,
    intel: &[std::ffi::OsString],
) -> Result<(Measure, u64)> {
    let free_port = || -> Result<u16> {
        let probe = UdpSocket::bind("127.0.0.1:0")?;
        Ok(probe.local_addr()?.port())
    };
    let port = free_port()?;
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let state = root.join("collect-state");
    let _ = std::fs::remove_dir_all(&state);
    let to: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let metrics: SocketAddr = format!("127.0.0.1:{metrics_port}").parse()?;
    let mut c = Command::new(bin);
    c.args(["collect", "-q", "--snapshot-interval", "1h", "--listen"])
        .arg(to.to_string())
        .arg("--metrics-listen")
        .arg(metrics.to_string())
        .arg("--state-dir")
        .arg(&state)
        .args(intel);
    let child = Running::spawn(&mut c)?;
    // Ready when the metrics endpoint answers (it starts after the UDP socket is bound).
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect_timeout(&metrics, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            child.terminate();
            let m = child.wait()?;
            bail!(
                "collector did not start: {}",
                m.stderr.lines().last().unwrap_or("")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let kernel_before = udp_rcvbuf_errors();
    eprintln!(
        "c2atlas bench: replaying {} IPFIX files into c2atlas collect at {rate} records/s",
        files.len()
    );
    let sent = send_files(files, to, rate);
    // Let the decoder drain its queue, then stop it.
    std::thread::sleep(Duration::from_secs(2));
    child.terminate();
    let mut m = child.wait()?;
    let sent = sent?;
    let kernel = kernel_before
        .zip(udp_rcvbuf_errors())
        .map(|(a, b)| b.saturating_sub(a));
    let decoded = stopped_figure(&m.stderr, "records").unwrap_or(0);
    let queue = stopped_figure(&m.stderr, "dropped (queue full)").unwrap_or(0);
    let seq = stopped_figure(&m.stderr, "lost by sequence").unwrap_or(0);
    let lost = sent.records.saturating_sub(decoded);
    m.wall = sent.secs;
    m.stderr.push_str(&format!(
        "\ncollect: offered {:.0} records/s ({} records in {} datagrams over {:.2} s); decoded {decoded}; \
         lost {lost} ({:.3} %): {queue} datagrams dropped at the full queue, {} datagrams dropped by the \
         kernel (RcvbufErrors, machine-wide), {seq} records by sequence numbers",
        sent.records as f64 / sent.secs.max(1e-9),
        sent.records,
        sent.messages,
        sent.secs,
        100.0 * lost as f64 / sent.records.max(1) as f64,
        kernel.map_or("?".to_string(), |k| k.to_string()),
    ));
    let _ = std::fs::remove_dir_all(&state);
    Ok((m, decoded))
}

/// The binetflow workload: the CTU-13 scenario 6 slices, read in place.
fn binetflow(
    bin: &Path,
    sim: &c2atlas::simulate::SimOutput,
    threads: usize,
) -> Result<(Measure, u64)> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let dir = shared.join("ctu13/scenario06_menti_capture20110816");
    if !dir.is_dir() {
        bail!("{} absent", dir.display());
    }
    let mut c = Command::new(bin);
    c.args([
        "census",
        "-q",
        "--format",
        "json",
        "-o",
        "/dev/null",
        "--threads",
    ])
    .arg(threads.to_string())
    .args([
        "--detect",
        "intel",
        "--home-net",
        "147.32.0.0/16",
        "--intel",
    ])
    .arg(sim.intel_dir.join("c2-feed.csv"))
    .arg(dir);
    let m = measure(&mut c)?;
    let n = census_records(&m.stderr).unwrap_or(0);
    Ok((m, n))
}

/// Peak RSS of a census that reads no record (a Zeek conn log header only).
fn empty_census(bin: &Path, sim: &c2atlas::simulate::SimOutput, root: &Path) -> Result<Measure> {
    let empty = root.join("empty-conn.log");
    std::fs::write(
        &empty,
        "#separator \\x09\n#path\tconn\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\n",
    )?;
    let mut c = Command::new(bin);
    c.args([
        "census",
        "-q",
        "--format",
        "json",
        "-o",
        "/dev/null",
        "--threads",
        "1",
    ])
    .args([
        "--home-country",
        &sim.truth.config.home_country.to_string(),
        "--detect",
        "intel",
        "--intel",
    ])
    .arg(sim.intel_dir.join("c2-feed.csv"))
    .arg("--intel")
    .arg(sim.intel_dir.join("c2-domains.txt"))
    .arg(&empty);
    let m = measure(&mut c)?;
    if !m.ok {
        bail!("{}", m.stderr.lines().last().unwrap_or(""));
    }
    Ok(m)
}

/// Relationships and victims a census reports on stderr.
fn census_sizes(stderr: &str) -> Option<(u64, u64)> {
    let rels = stderr
        .split("records/s); ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let victims = stderr
        .split("victims: ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((rels, victims))
}

/// Prints the table; `base_cpu`: CPU seconds of the census of no records
/// (the start-up every census row pays), for the `net rec/cpu-s` column.
fn print_table(scale: &str, threads: usize, rows: &[Row], base_cpu: Option<f64>) {
    println!("c2atlas bench --scale {scale} (multi-core rows: {threads} threads)");
    println!(
        "{:<24} {:>12} {:>9} {:>9} {:>13} {:>13} {:>15} {:>10}  ratio (wall; cpu) / note",
        "workload",
        "records",
        "wall s",
        "cpu s",
        "records/s",
        "rec/cpu-s",
        "net rec/cpu-s",
        "peak MiB"
    );
    for r in rows {
        match &r.m {
            Some(m) if m.ok => {
                let ratios: Vec<String> = r
                    .ratio
                    .iter()
                    .map(|(p, w, c)| format!("{w:.2}× ({c:.2}× cpu) {p}"))
                    .collect();
                let net = match base_cpu {
                    Some(b) if r.name.starts_with("census") && m.cpu > b => {
                        format!("{:.0}", r.records as f64 / (m.cpu - b))
                    }
                    _ => "-".to_string(),
                };
                println!(
                    "{:<24} {:>12} {:>9.2} {:>9.2} {:>13.0} {:>13.0} {:>15} {:>10.1}  {}{}",
                    r.name,
                    r.records,
                    m.wall,
                    m.cpu,
                    r.records as f64 / m.wall.max(1e-9),
                    r.records as f64 / m.cpu.max(1e-9),
                    net,
                    m.max_rss_kib as f64 / 1024.0,
                    ratios.join(", "),
                    if ratios.is_empty() {
                        r.note.clone()
                    } else {
                        format!("; {}", r.note)
                    }
                );
            }
            _ => println!("{:<24} {:>12} {:>9}  {}", r.name, "-", "-", r.note),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parse follows the collector's own closing line (collect.rs); a change of its words
    /// must show here rather than as silent zeros in the bench table.
    #[test]
    fn reads_the_collectors_closing_line() {
        let err = "c2atlas: listening on udp 127.0.0.1:2055 (receive buffer 425984 bytes)\n\
                   c2atlas: stopped: 226936 datagrams, 6580774 records, 12 dropped (queue full), 3 malformed, \
                   7 lost by sequence, 0 sets without template; 309 relationships in /tmp/x/census.json\n";
        assert_eq!(stopped_figure(err, "datagrams"), Some(226_936));
        assert_eq!(stopped_figure(err, "records"), Some(6_580_774));
        assert_eq!(stopped_figure(err, "dropped (queue full)"), Some(12));
        assert_eq!(stopped_figure(err, "lost by sequence"), Some(7));
        assert_eq!(stopped_figure(err, "bytes"), None);
        assert_eq!(stopped_figure("no such line", "records"), None);
    }

    #[test]
    fn reads_kernel_udp_drops_on_linux() {
        if std::path::Path::new("/proc/net/snmp").exists() {
            assert!(udp_rcvbuf_errors().is_some());
        }
    }
}
