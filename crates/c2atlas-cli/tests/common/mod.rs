//! Helpers shared by the CLI test binaries.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `c2atlas` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_c2atlas"))
}

pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIP: shared data {} is absent", p.display());
        None
    }
}

pub fn db_dir() -> Option<PathBuf> {
    let p = c2atlas::enrich::default_db_dir();
    if p.join("country/geo-whois-asn-country.mmdb").exists() && p.join("asn/asn-ipv4.csv").exists()
    {
        Some(p)
    } else {
        eprintln!(
            "SKIP: default databases absent in {} (run scripts/setup.sh)",
            p.display()
        );
        None
    }
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("binary runs");
    assert!(
        out.status.success(),
        "c2atlas failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
