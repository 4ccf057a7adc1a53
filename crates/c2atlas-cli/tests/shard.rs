//! `census --shard I/N --state-out FILE` + `c2atlas merge`: the merged census is
//! byte-identical to the unsharded run, on real (CTU-13) and simulated data;
//! incomplete or mixed shard sets are refused with exit code 2.
//! Tests needing `../shared/data` or the default databases skip with a message when absent.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{bin, run_ok, shared};

fn have_dbs() -> bool {
    common::db_dir().is_some()
}

/// Runs the census unsharded and as `n` shards; returns (unsharded stdout, state files).
fn census_and_shards(run_args: &[OsString], n: u32, dir: &Path) -> (Vec<u8>, Vec<PathBuf>) {
    let whole = run_ok(
        bin()
            .args(["census", "-q", "--format", "json"])
            .args(run_args),
    )
    .stdout;
    let mut states = Vec::new();
    for i in 0..n {
        let state = dir.join(format!("shard-{i}-of-{n}.jsonl"));
        run_ok(
            bin()
                .args(["census", "-q", "--format", "json", "--shard"])
                .arg(format!("{i}/{n}"))
                .arg("--state-out")
                .arg(&state)
                .args(run_args),
        );
        states.push(state);
    }
    (whole, states)
}

fn merge(states: &[PathBuf]) -> Output {
    bin()
        .args(["merge", "--format", "json"])
        .args(states)
        .output()
        .expect("binary runs")
}

fn assert_fails(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(out.stdout.is_empty());
}

fn relationships(doc: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(doc).expect("census JSON");
    v["c2"]["relationships"].as_u64().expect("relationships")
}

#[test]
fn ctu13_sharded_census_merges_to_the_unsharded_bytes() {
    let Some(data) = shared("ctu13/scenario06_menti_capture20110816") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let args: Vec<OsString> = vec!["--home-net".into(), "147.32.0.0/16".into(), data.into()];
    let (whole, states) = census_and_shards(&args, 3, tmp.path());
    assert!(relationships(&whole) >= 1, "the scenario's bot is found");
    let out = merge(&states);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&whole)
    );
    // Order of the files does not matter.
    let rev: Vec<PathBuf> = states.iter().rev().cloned().collect();
    assert_eq!(merge(&rev).stdout, whole);

    // A missing shard.
    assert_fails(&merge(&states[..2]), "shards missing: 2 of 3");
    // The same shard twice.
    let dup = vec![states[0].clone(), states[1].clone(), states[1].clone()];
    assert_fails(&merge(&dup), "given twice");
    // A shard of another run (other detection settings).
    let other = tmp.path().join("other.jsonl");
    run_ok(
        bin()
            .args([
                "census",
                "-q",
                "--format",
                "json",
                "--min-confidence",
                "0.9",
            ])
            .args(["--shard", "2/3", "--state-out"])
            .arg(&other)
            .args(&args),
    );
    let mixed = vec![states[0].clone(), states[1].clone(), other.clone()];
    let out = merge(&mixed);
    assert_fails(&out, "not from the same run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("other.jsonl"));
    // A truncated state file (the shard holding the bot's relationship loses it).
    let full = (0..3)
        .find(|&i| {
            std::fs::read_to_string(&states[i])
                .map(|t| t.lines().count() > 1)
                .unwrap_or(false)
        })
        .expect("one shard holds the relationship");
    let text = std::fs::read_to_string(&states[full]).expect("state");
    let cut = tmp.path().join("cut.jsonl");
    std::fs::write(&cut, text.lines().next().unwrap_or("")).expect("write");
    let mut truncated = states.clone();
    truncated[full] = cut;
    assert_fails(&merge(&truncated), "truncated");
    // Bad --shard values.
    let out = bin()
        .args(["census", "-q", "--shard", "3/3", "--state-out"])
        .arg(tmp.path().join("x.jsonl"))
        .args(&args)
        .output()
        .expect("binary runs");
    assert_fails(&out, "0-based");
}

#[test]
fn simulated_sharded_census_merges_to_the_unsharded_bytes() {
    if !have_dbs() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let sim = tmp.path().join("sim");
    run_ok(
        bin()
            .args(["simulate", "--scale", "small", "--seed", "3", "-q", "--out"])
            .arg(&sim),
    );
    let args: Vec<OsString> = vec![
        "--home-country".into(),
        "CN".into(),
        "--detect".into(),
        "intel".into(),
        "--intel".into(),
        sim.join("intel/c2-feed.csv").into(),
        "--intel".into(),
        sim.join("intel/c2-domains.txt").into(),
        sim.join("telemetry").into(),
    ];
    let (whole, states) = census_and_shards(&args, 3, tmp.path());
    assert!(relationships(&whole) > 10);
    // Every shard holds some of the relationships.
    for s in &states {
        let lines = std::fs::read_to_string(s).expect("state").lines().count();
        assert!(lines > 1, "{} holds no relationship", s.display());
    }
    let out = merge(&states);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&whole)
    );
    // One shard (the whole run as 0/1 via --state-out alone) merges to the same bytes too.
    let one = tmp.path().join("whole.jsonl");
    run_ok(
        bin()
            .args(["census", "-q", "--format", "json", "--state-out"])
            .arg(&one)
            .args(&args),
    );
    assert_eq!(merge(std::slice::from_ref(&one)).stdout, whole);
    // Mixing a 1-shard run with 3-shard files is refused.
    assert_fails(&merge(&[states[0].clone(), one]), "shard counts");
}
