//! Evaluation on labelled request sets: the OWASP CRS regression tests
//! (go-ftw YAML: positives are stages with `expect_ids`, negatives stages with
//! `no_expect_ids`; the class comes from the rule-file folder) and
//! libinjection's payload lists (one URL-encoded input per line, replayed as
//! `GET /?q=<line>`).
//!
//! YAML is read with `yaml-rust2`: pure Rust, maintained (the YAML 1.2
//! successor of yaml-rust), no unsafe C translation (unlike the
//! `unsafe-libyaml` behind `serde_yaml` forks) and `serde_yml` is deprecated.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use super::{Class, classify};
use crate::ingest::weblog::WebRequest;

/// CRS rule groups evaluated, with their class.
pub const CRS_GROUPS: &[(&str, Class)] = &[
    ("942", Class::Sqli),
    ("941", Class::Xss),
    ("930", Class::Traversal),
    ("931", Class::Rfi),
    ("932", Class::Rce),
    ("933", Class::Php),
    ("944", Class::Java),
];

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid YAML: {reason}")]
    Yaml { path: PathBuf, reason: String },
}

/// Score of one CRS group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupScore {
    pub group: String,
    pub class: Option<Class>,
    pub positives: u64,
    pub detected: u64,
    pub negatives: u64,
    /// Negatives flagged for this group's class.
    pub false_positives: u64,
    /// Stages that could not be turned into a request (counted, skipped).
    pub skipped: u64,
}

impl GroupScore {
    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.positives)
    }
    /// Share of negatives not flagged for the class.
    pub fn specificity(&self) -> f64 {
        1.0 - ratio(self.false_positives, self.negatives)
    }
}

/// Score of one payload list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListScore {
    pub name: String,
    /// The class the list is about (`None` for the benign list).
    pub class: Option<Class>,
    pub inputs: u64,
    /// Inputs flagged for `class` (any class for the benign list).
    pub flagged: u64,
}

impl ListScore {
    pub fn rate(&self) -> f64 {
        ratio(self.flagged, self.inputs)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The whole evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalReport {
    pub crs: Vec<GroupScore>,
    pub lists: Vec<ListScore>,
}

fn class_of_folder(name: &str) -> Option<(&'static str, Class)> {
    CRS_GROUPS
        .iter()
        .find(|(g, _)| name.contains(&format!("-{g}-")))
        .map(|(g, c)| (*g, *c))
}

fn ystr(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        Yaml::Array(a) => Some(a.iter().filter_map(ystr).collect::<Vec<_>>().join("")),
        _ => None,
    }
}

/// A request from a go-ftw `input` map. `None` when it has nothing usable.
pub fn crs_request(input: &Yaml) -> Option<WebRequest<'static>> {
    if let Some(enc) = input["encoded_request"].as_str() {
        let raw = super::decode::base64(&enc.replace(['\n', '\r', ' '], ""))?;
        return raw_request(&String::from_utf8_lossy(&raw));
    }
    let mut r = WebRequest {
        method: Cow::Owned(input["method"].as_str().unwrap_or("GET").to_owned()),
        uri: Cow::Owned(ystr(&input["uri"]).unwrap_or_else(|| "/".into())),
        body: ystr(&input["data"]).map(Cow::Owned),
        ..WebRequest::default()
    };
    if let Some(h) = input["headers"].as_hash() {
        for (k, v) in h {
            let (Some(k), Some(v)) = (ystr(k), ystr(v)) else {
                continue;
            };
            set_header(&mut r, k, v);
        }
    }
    Some(r)
}

fn set_header(r: &mut WebRequest<'static>, k: String, v: String) {
    match k.to_ascii_lowercase().as_str() {
        "host" => r.site = Some(Cow::Owned(v)),
        "user-agent" => r.user_agent = Some(Cow::Owned(v)),
        "referer" => r.referer = Some(Cow::Owned(v)),
        "accept" | "content-length" | "connection" | "accept-encoding" => {}
        _ => r.headers.push((Cow::Owned(k), Cow::Owned(v))),
    }
}

/// A request from raw HTTP text (request line, headers, blank line, body).
pub fn raw_request(raw: &str) -> Option<WebRequest<'static>> {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""));
    let mut lines = head.lines();
    let first = lines.next()?;
    let mut it = first.splitn(3, ' ');
    let mut r = WebRequest {
        method: Cow::Owned(it.next()?.to_owned()),
        uri: Cow::Owned(it.next().unwrap_or("/").to_owned()),
        body: if body.is_empty() {
            None
        } else {
            Some(Cow::Owned(body.to_owned()))
        },
        ..WebRequest::default()
    };
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            set_header(&mut r, k.trim().to_owned(), v.trim().to_owned());
        }
    }
    Some(r)
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> Result<(), EvalError> {
    let rd = std::fs::read_dir(dir).map_err(|source| EvalError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files(&p, ext, out)?;
        } else if p.extension().is_some_and(|e| e == ext) {
            out.push(p);
        }
    }
    Ok(())
}

/// Replays the CRS regression tests under `dir` (the `tests/regression/tests` folder or above it).
pub fn eval_crs(dir: &Path) -> Result<Vec<GroupScore>, EvalError> {
    let mut paths = Vec::new();
    files(dir, "yaml", &mut paths)?;
    let mut scores: Vec<GroupScore> = CRS_GROUPS
        .iter()
        .map(|(g, c)| GroupScore {
            group: (*g).to_owned(),
            class: Some(*c),
            ..GroupScore::default()
        })
        .collect();
    for p in paths {
        let folder = p
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some((g, class)) = class_of_folder(&folder) else {
            continue;
        };
        let Some(score) = scores.iter_mut().find(|s| s.group == g) else {
            continue;
        };
        let text = std::fs::read_to_string(&p).map_err(|source| EvalError::Io {
            path: p.clone(),
            source,
        })?;
        let docs = YamlLoader::load_from_str(&text).map_err(|e| EvalError::Yaml {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        for doc in &docs {
            let Some(tests) = doc["tests"].as_vec() else {
                continue;
            };
            for t in tests {
                let Some(stages) = t["stages"].as_vec() else {
                    continue;
                };
                for st in stages {
                    // Older files nest under `stage:`.
                    let st = if st["stage"].is_badvalue() {
                        st
                    } else {
                        &st["stage"]
                    };
                    let log = &st["output"]["log"];
                    let pos = !log["expect_ids"].is_badvalue();
                    let neg = !log["no_expect_ids"].is_badvalue();
                    if !pos && !neg {
                        continue;
                    }
                    let Some(req) = crs_request(&st["input"]) else {
                        score.skipped += 1;
                        continue;
                    };
                    let hit = classify(&req).is_some_and(|v| v.has(class));
                    if std::env::var_os("C2ATLAS_EVAL_MISSES").is_some() && (pos != hit) {
                        eprintln!(
                            "{} {g} {}: {} {} body={:?} hdr={:?} ua={:?}",
                            if pos { "MISS" } else { "FP" },
                            p.display(),
                            req.method,
                            req.uri,
                            req.body,
                            req.headers,
                            req.user_agent
                        );
                    }
                    if pos {
                        score.positives += 1;
                        score.detected += hit as u64;
                    } else {
                        score.negatives += 1;
                        score.false_positives += hit as u64;
                    }
                }
            }
        }
    }
    Ok(scores)
}

/// Replays the libinjection payload lists under `dir` (its `data/` folder):
/// all `sqli-*.txt` as one SQLi list, all `xss-*.txt` as one XSS list, and
/// `false_positives.txt` (flagged for any class).
pub fn eval_libinjection(dir: &Path) -> Result<Vec<ListScore>, EvalError> {
    let mut paths = Vec::new();
    files(dir, "txt", &mut paths)?;
    let mut sqli = ListScore {
        name: "libinjection sqli-*.txt".into(),
        class: Some(Class::Sqli),
        ..Default::default()
    };
    let mut xss = ListScore {
        name: "libinjection xss-*.txt".into(),
        class: Some(Class::Xss),
        ..Default::default()
    };
    let mut fp = ListScore {
        name: "libinjection false_positives.txt".into(),
        class: None,
        ..Default::default()
    };
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let score = if name.starts_with("sqli-") {
            &mut sqli
        } else if name.starts_with("xss-") {
            &mut xss
        } else if name == "false_positives.txt" {
            &mut fp
        } else {
            continue;
        };
        let bytes = std::fs::read(&p).map_err(|source| EvalError::Io {
            path: p.clone(),
            source,
        })?;
        for line in bytes.split(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let req = WebRequest {
                uri: Cow::Owned(format!("/?q={line}")),
                ..WebRequest::default()
            };
            let v = classify(&req);
            let hit = match score.class {
                Some(c) => v.as_ref().is_some_and(|v| v.has(c)),
                None => v.is_some(),
            };
            if std::env::var_os("C2ATLAS_EVAL_MISSES").is_some() && hit != score.class.is_some() {
                let why: Vec<String> = v
                    .iter()
                    .flat_map(|v| v.hits.iter())
                    .map(|h| format!("{}:{}:{:.2}", h.class.as_str(), h.rule, h.confidence))
                    .collect();
                eprintln!(
                    "{} {name}: {line}  [{}]",
                    if hit { "FP" } else { "MISS" },
                    why.join(", ")
                );
            }
            score.inputs += 1;
            score.flagged += hit as u64;
        }
    }
    Ok(vec![sqli, xss, fp])
}

/// Folders (relative to the shared data root, the parent of `web/`) whose
/// Zeek `http.log` files are the benign real-traffic set.
pub const BENIGN_HTTP_DIRS: &[&str] = &["zeek", "stratosphere-zeek", "slips/dataset"];

/// Zeek http.log files under `dir` (`http.log`, `http.log.gz`, `http.log.labeled`), sorted.
pub fn http_logs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("http.log"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

struct BenignSink<'a> {
    score: &'a mut ListScore,
    path: &'a Path,
}

impl crate::ingest::Sink for BenignSink<'_> {
    fn event(&mut self, rec: crate::model::RecordRef, ev: &crate::model::Event<'_>) {
        let crate::model::Event::Http(h) = ev else {
            return;
        };
        let r = crate::ingest::weblog::zeek::from_http(h, rec.line);
        let v = classify(&r);
        if std::env::var_os("C2ATLAS_EVAL_MISSES").is_some()
            && let Some(v) = &v
        {
            eprintln!(
                "FP benign {}:{}: {} {} ua={:?} [{}:{}]",
                self.path.display(),
                rec.line,
                r.method,
                r.uri,
                r.user_agent,
                v.hits.first().map(|h| h.class.as_str()).unwrap_or(""),
                v.hits.first().map(|h| h.rule).unwrap_or("")
            );
        }
        self.score.inputs += 1;
        self.score.flagged += v.is_some() as u64;
    }
}

/// Benign real traffic: every request of the given Zeek http.log files,
/// flagged for any class (the false-positive rate on real HTTP). Files that
/// are not Zeek http logs are skipped; bad lines are skipped by the reader.
pub fn eval_benign_http(paths: &[PathBuf]) -> Result<ListScore, EvalError> {
    let mut score = ListScore {
        name: "benign Zeek http.log requests".into(),
        class: None,
        ..Default::default()
    };
    for p in paths {
        let Ok(format) = crate::ingest::detect_format(p) else {
            continue;
        };
        if format != crate::ingest::Format::ZeekHttp {
            continue;
        }
        let planned = crate::ingest::PlannedInput {
            path: p.clone(),
            format,
        };
        let mut sink = BenignSink {
            score: &mut score,
            path: p,
        };
        crate::ingest::read_input(0, &planned, &mut sink, &mut |_| {}).map_err(|e| {
            EvalError::Io {
                path: p.clone(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
    }
    Ok(score)
}

/// Runs the evaluations from the shared data folder `web_root`
/// (containing `coreruleset-regression-tests/` and `libinjection/`); the
/// benign Zeek http.log set is taken from [`BENIGN_HTTP_DIRS`] beside it
/// when present (absent folders contribute nothing).
pub fn run(web_root: &Path) -> Result<EvalReport, EvalError> {
    let mut lists = eval_libinjection(&web_root.join("libinjection/data"))?;
    let root = web_root.parent().unwrap_or(web_root);
    let logs: Vec<PathBuf> = BENIGN_HTTP_DIRS
        .iter()
        .flat_map(|d| http_logs(&root.join(d)))
        .collect();
    if !logs.is_empty() {
        lists.push(eval_benign_http(&logs)?);
    }
    Ok(EvalReport {
        crs: eval_crs(&web_root.join("coreruleset-regression-tests"))?,
        lists,
    })
}

impl EvalReport {
    /// The table as Markdown (for `docs/evaluation-web.md`).
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s.push_str("### OWASP CRS regression tests (per rule group)\n\n");
        s.push_str("| group | class | positives | detected | recall | negatives | not flagged for class | target |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---|\n");
        for g in &self.crs {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.3} | {} | {:.3} | recall ≥ 0.95, ≥ 0.95 |\n",
                g.group,
                g.class.map(|c| c.as_str()).unwrap_or("-"),
                g.positives,
                g.detected,
                g.recall(),
                g.negatives,
                g.specificity()
            ));
        }
        s.push_str("\n### libinjection payload lists and benign real traffic\n\n| list | inputs | flagged | rate | target |\n|---|---:|---:|---:|---|\n");
        for l in &self.lists {
            let target = if l.class.is_some() {
                "recall ≥ 0.97"
            } else if l.name.starts_with("benign") {
                "flagged ≤ 0.001"
            } else {
                "flagged ≤ 0.01"
            };
            s.push_str(&format!(
                "| {} | {} | {} | {:.4} | {} |\n",
                l.name,
                l.inputs,
                l.flagged,
                l.rate(),
                target
            ));
        }
        s
    }

    /// Plain-text table for a terminal.
    pub fn text(&self) -> String {
        let mut s = String::from("group class      positives detected recall  negatives clean\n");
        for g in &self.crs {
            s.push_str(&format!(
                "{:<5} {:<10} {:>9} {:>8} {:>6.3} {:>9} {:>6.3}\n",
                g.group,
                g.class.map(|c| c.as_str()).unwrap_or("-"),
                g.positives,
                g.detected,
                g.recall(),
                g.negatives,
                g.specificity()
            ));
        }
        for l in &self.lists {
            s.push_str(&format!(
                "{:<36} {:>6} inputs {:>6} flagged  rate {:.4}\n",
                l.name,
                l.inputs,
                l.flagged,
                l.rate()
            ));
        }
        s
    }
}
