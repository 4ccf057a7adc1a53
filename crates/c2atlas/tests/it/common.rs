//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/data/<rel>` next to the project root, or `None` (with a message
/// on stderr) when it is absent, so the caller can skip.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIP: shared data {} is absent", p.display());
        None
    }
}

/// The default database directory (filled by scripts/setup.sh), or `None` with a message.
pub fn default_db(rel: &str) -> Option<PathBuf> {
    let p = c2atlas::enrich::default_db_dir().join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "SKIP: default database {} is absent (run scripts/setup.sh)",
            p.display()
        );
        None
    }
}
