//! `web-scan` and `eval-web`: web access logs → flagged requests; the
//! labelled-set evaluation table.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use c2atlas::detect::web::{WebDetector, WebDetectorConfig, eval};
use c2atlas::ingest::weblog::{self, WebLogFormat};
use clap::{Args, ValueEnum};

/// Diagnostics shown per file before summarising.
const MAX_SHOWN_DIAGNOSTICS: u64 = 5;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanFormat {
    /// One JSON object per flagged request.
    Jsonl,
    /// One line per flagged request for a terminal.
    Human,
}

#[derive(Args, Debug)]
pub struct WebScanArgs {
    /// Web logs (Apache/nginx common/combined, nginx/Caddy JSON, IIS W3C, Suricata eve.json; plain or gzip).
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Human)]
    pub format: ScanFormat,
    /// Force the log format instead of detecting it.
    #[arg(long, value_name = "FORMAT", value_parser = ["access-log", "access-json", "iis-w3c", "suricata-eve-http"])]
    pub input_format: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalFormat {
    Human,
    Md,
}

#[derive(Args, Debug)]
pub struct EvalWebArgs {
    /// Folder with `coreruleset-regression-tests/` and `libinjection/` (default: ../shared/data/web).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = EvalFormat::Human)]
    pub format: EvalFormat,
}

pub fn web_scan(a: WebScanArgs) -> Result<()> {
    let forced = a.input_format.as_deref().and_then(WebLogFormat::from_name);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut flagged = 0u64;
    for path in &a.logs {
        let fallback = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut det = WebDetector::new(WebDetectorConfig::default());
        let mut err: Option<std::io::Error> = None;
        let mut shown = 0u64;
        let file = path.display().to_string();
        let (_, stats) = weblog::read_file(
            path,
            forced,
            &mut |r| {
                let Some(v) = det.observe(r, &fallback) else { return };
                flagged += 1;
                if err.is_some() {
                    return;
                }
                let site = r.site.as_deref().unwrap_or(&fallback);
                let classes: Vec<&str> = v.classes().iter().map(|c| c.as_str()).collect();
                let res = match a.format {
                    ScanFormat::Jsonl => {
                        let j = serde_json::json!({
                            "file": file, "line": r.rec, "src": r.src.to_string(), "site": site,
                            "method": r.method, "uri": r.uri, "status": r.status,
                            "classes": classes, "confidence": (v.confidence() as f64 * 100.0).round() / 100.0,
                            "evidence": v.evidence(),
                            "rule": v.hits.first().map(|h| h.rule).unwrap_or(""),
                        });
                        writeln!(out, "{j}")
                    }
                    ScanFormat::Human => writeln!(
                        out,
                        "{file}:{} {} {site} [{}] {:.2} {:?}",
                        r.rec,
                        r.src,
                        classes.join(","),
                        v.confidence(),
                        v.evidence()
                    ),
                };
                if let Err(e) = res {
                    err = Some(e);
                }
            },
            &mut |line, reason| {
                shown += 1;
                if shown <= MAX_SHOWN_DIAGNOSTICS {
                    eprintln!("c2atlas: warning: {file}:{line}: skipped: {reason}");
                }
            },
        )
        .with_context(|| format!("reading {}", path.display()))?;
        if let Some(e) = err {
            return Err(e.into());
        }
        if stats.malformed > 0 {
            eprintln!(
                "c2atlas: warning: {file}: {} requests read, {} malformed lines skipped",
                stats.requests, stats.malformed
            );
        }
        for b in det.backdoors() {
            let ips: Vec<String> = b.controller_ips.iter().map(|i| i.to_string()).collect();
            let line = match a.format {
                ScanFormat::Jsonl => serde_json::json!({"file": file, "backdoor": {"site": b.site, "path": b.path, "controller_ips": ips, "posts": b.posts}}).to_string(),
                ScanFormat::Human => format!("{file}: suspected backdoor {}{} controlled by {}", b.site, b.path, ips.join(", ")),
            };
            writeln!(out, "{line}")?;
        }
        for d in det.defacements() {
            let line = match a.format {
                ScanFormat::Jsonl => serde_json::json!({"file": file, "defacement": {"site": d.site, "path": d.path, "baseline_bytes": d.baseline_bytes, "new_bytes": d.new_bytes, "line": d.first_rec}}).to_string(),
                ScanFormat::Human => format!("{file}:{}: suspected defacement of {}{}: {} bytes, was about {}", d.first_rec, d.site, d.path, d.new_bytes, d.baseline_bytes),
            };
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    eprintln!("c2atlas: {flagged} requests flagged");
    Ok(())
}

pub fn eval_web(a: EvalWebArgs) -> Result<()> {
    let dir = a
        .data
        .unwrap_or_else(|| PathBuf::from("../shared/data/web"));
    if !dir.exists() {
        bail!(
            "evaluation data {} is absent (pass --data DIR)",
            dir.display()
        );
    }
    let rep = eval::run(&dir)?;
    let text = match a.format {
        EvalFormat::Human => rep.text(),
        EvalFormat::Md => rep.markdown(),
    };
    print!("{text}");
    Ok(())
}
