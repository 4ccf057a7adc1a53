//! `census --threads N`: flow inputs read in parallel give the byte-identical
//! census of the one-thread run (IOC census on a simulated day of hourly conn
//! logs, also sharded; behavioural methods fall back to one thread).
//! Skips with a message when the default databases are absent.

use std::ffi::OsString;
use std::path::Path;

mod common;
use common::{bin, run_ok};

fn census(args: &[OsString], threads: u32, extra: &[&str]) -> Vec<u8> {
    run_ok(
        bin()
            .args(["census", "-q", "--format", "json", "--threads"])
            .arg(threads.to_string())
            .args(extra)
            .args(args),
    )
    .stdout
}

fn simulated_day(dir: &Path) -> Vec<OsString> {
    let sim = dir.join("sim");
    // `day` writes one conn log per hour: 24 flow inputs to share out.
    run_ok(
        bin()
            .args([
                "simulate", "--scale", "day", "--hosts", "3000", "-q", "--out",
            ])
            .arg(&sim),
    );
    vec![
        "--home-country".into(),
        "CN".into(),
        "--intel".into(),
        sim.join("intel/c2-feed.csv").into(),
        "--intel".into(),
        sim.join("intel/c2-domains.txt").into(),
        sim.join("telemetry").into(),
    ]
}

#[test]
fn threaded_census_is_byte_identical() {
    if common::db_dir().is_none() {
        eprintln!("skipped: default databases absent (scripts/setup.sh)");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut args = simulated_day(tmp.path());
    args.splice(0..0, ["--detect".into(), "intel".into()]);
    let one = census(&args, 1, &[]);
    let v: serde_json::Value = serde_json::from_slice(&one).expect("census JSON");
    assert!(v["c2"]["relationships"].as_u64().expect("relationships") > 50);
    for n in [2, 3, 8] {
        assert_eq!(
            String::from_utf8_lossy(&census(&args, n, &[])),
            String::from_utf8_lossy(&one),
            "--threads {n}"
        );
    }
    // Sharded and threaded: each shard's state equals its one-thread state.
    for t in [1u32, 2] {
        let state = tmp.path().join(format!("s{t}.jsonl"));
        census(
            &args,
            t,
            &[
                "--shard",
                "1/2",
                "--state-out",
                state.to_str().expect("utf-8 path"),
            ],
        );
    }
    assert_eq!(
        std::fs::read(tmp.path().join("s1.jsonl")).expect("state"),
        std::fs::read(tmp.path().join("s2.jsonl")).expect("state")
    );
    // Behavioural methods (which accumulate over flows) run on one thread: same bytes.
    let mut all = args.clone();
    all.splice(0..2, ["--detect".into(), "intel,beacon".into()]);
    assert_eq!(census(&all, 2, &[]), census(&all, 1, &[]));
    // Zero threads is refused.
    let out = bin()
        .args(["census", "-q", "--threads", "0"])
        .args(&args)
        .output()
        .expect("binary runs");
    assert_eq!(out.status.code(), Some(2));
}
