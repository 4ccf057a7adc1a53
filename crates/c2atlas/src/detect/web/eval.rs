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

/// Paranoia level of the CRS rules at level 2 or above (every other rule of
/// these groups is level 1, the level a production site runs by default).
/// Read from the `tag:'paranoia-level/N'` of each rule in the `rules/*.conf`
/// files of coreruleset at the commit the regression tests were taken from
/// (`2cbd1d0`, see the data's PROVENANCE.md): rule metadata only, used to
/// split recall by level. Levels 2–4 are the rules CRS itself documents as
/// trading false positives for coverage (single SQL keywords, lone
/// special characters), so their positives are reported apart.
pub const CRS_HIGH_PARANOIA: &[(u32, u8)] = &[
    (930121, 2),
    (931130, 2),
    (931131, 2),
    (932131, 2),
    (932161, 2),
    (932190, 3),
    (932200, 2),
    (932205, 2),
    (932206, 2),
    (932207, 2),
    (932210, 2),
    (932220, 2),
    (932231, 2),
    (932232, 3),
    (932236, 2),
    (932237, 3),
    (932238, 3),
    (932239, 2),
    (932240, 2),
    (932271, 2),
    (932281, 2),
    (932290, 3),
    (932300, 2),
    (932301, 3),
    (932310, 2),
    (932311, 3),
    (932320, 2),
    (932321, 3),
    (932331, 3),
    (932350, 3),
    (932371, 2),
    (932390, 2),
    (933111, 3),
    (933131, 3),
    (933151, 2),
    (933152, 2),
    (933153, 2),
    (933161, 3),
    (933190, 3),
    (933211, 3),
    (941101, 2),
    (941150, 2),
    (941181, 2),
    (941320, 2),
    (941330, 2),
    (941340, 2),
    (941380, 2),
    (942101, 2),
    (942120, 2),
    (942130, 2),
    (942131, 2),
    (942150, 2),
    (942152, 2),
    (942180, 2),
    (942200, 2),
    (942210, 2),
    (942251, 3),
    (942260, 2),
    (942300, 2),
    (942310, 2),
    (942321, 2),
    (942330, 2),
    (942340, 2),
    (942361, 2),
    (942362, 2),
    (942370, 2),
    (942380, 2),
    (942390, 2),
    (942400, 2),
    (942410, 2),
    (942420, 3),
    (942421, 4),
    (942430, 2),
    (942431, 3),
    (942432, 4),
    (942440, 2),
    (942450, 2),
    (942460, 3),
    (942470, 2),
    (942480, 2),
    (942490, 3),
    (942510, 2),
    (942511, 3),
    (942520, 2),
    (942521, 2),
    (942522, 2),
    (942530, 3),
    (944151, 2),
    (944152, 4),
    (944200, 2),
    (944210, 2),
    (944240, 2),
    (944250, 2),
    (944260, 2),
    (944300, 3),
];

/// Paranoia level of a CRS rule id (1 when not in [`CRS_HIGH_PARANOIA`]).
pub fn paranoia_level(rule: u32) -> u8 {
    CRS_HIGH_PARANOIA
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, l)| *l)
        .unwrap_or(1)
}

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
    /// Positives of paranoia-level-1 rules ([`paranoia_level`]), and how many were detected.
    pub pl1_positives: u64,
    pub pl1_detected: u64,
}

impl GroupScore {
    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.positives)
    }
    /// Recall on the positives of paranoia-level-1 rules.
    pub fn pl1_recall(&self) -> f64 {
        ratio(self.pl1_detected, self.pl1_positives)
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
                    // The rule under test: the first expected id, else the file's.
                    let ids = if pos {
                        &log["expect_ids"]
                    } else {
                        &log["no_expect_ids"]
                    };
                    let rule = ids
                        .as_vec()
                        .and_then(|v| v.first())
                        .and_then(Yaml::as_i64)
                        .or_else(|| doc["rule_id"].as_i64())
                        .and_then(|r| u32::try_from(r).ok())
                        .unwrap_or(0);
                    let Some(req) = crs_request(&st["input"]) else {
                        score.skipped += 1;
                        continue;
                    };
                    let hit = classify(&req).is_some_and(|v| v.has(class));
                    if std::env::var_os("C2ATLAS_EVAL_MISSES").is_some() && (pos != hit) {
                        eprintln!(
                            "{} {g} PL{} {}: {} {} body={:?} hdr={:?} ua={:?} referer={:?}",
                            if pos { "MISS" } else { "FP" },
                            paranoia_level(rule),
                            p.display(),
                            req.method,
                            req.uri,
                            req.body,
                            req.headers,
                            req.user_agent,
                            req.referer
                        );
                    }
                    if pos {
                        score.positives += 1;
                        score.detected += hit as u64;
                        if paranoia_level(rule) == 1 {
                            score.pl1_positives += 1;
                            score.pl1_detected += hit as u64;
                        }
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
        s.push_str("| group | class | positives | detected | recall | PL1 positives | PL1 recall | negatives | not flagged for class | target |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for g in &self.crs {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.3} | {} | {:.3} | {} | {:.3} | recall ≥ 0.95, ≥ 0.95 |\n",
                g.group,
                g.class.map(|c| c.as_str()).unwrap_or("-"),
                g.positives,
                g.detected,
                g.recall(),
                g.pl1_positives,
                g.pl1_recall(),
                g.negatives,
                g.specificity()
            ));
        }
        s.push_str(
            "\nPL1: positives of the rules at CRS paranoia level 1 (the default level; levels 2–4 \
             flag single SQL keywords, lone special characters and similar fragments that CRS \
             itself expects to cost false positives). Levels are read from the rule tags at the \
             tests' commit (`eval::CRS_HIGH_PARANOIA`).\n",
        );
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
        let mut s = String::from(
            "group class      positives detected recall  pl1-pos pl1-rec negatives clean\n",
        );
        for g in &self.crs {
            s.push_str(&format!(
                "{:<5} {:<10} {:>9} {:>8} {:>6.3} {:>8} {:>7.3} {:>9} {:>6.3}\n",
                g.group,
                g.class.map(|c| c.as_str()).unwrap_or("-"),
                g.positives,
                g.detected,
                g.recall(),
                g.pl1_positives,
                g.pl1_recall(),
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
