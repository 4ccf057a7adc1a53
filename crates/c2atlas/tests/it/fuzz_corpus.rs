//! Replays every file of `fuzz/corpus/<target>/` through the library's fuzz
//! entry point for that target: the corpora become regression tests.

use std::path::PathBuf;

#[test]
fn replay_fuzz_corpora() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus"));
    let Ok(dirs) = std::fs::read_dir(&root) else {
        eprintln!("SKIP: no fuzz corpora at {}", root.display());
        return;
    };
    let mut replayed = 0;
    for dir in dirs.flatten() {
        let target = dir.file_name().to_string_lossy().into_owned();
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for f in files.flatten() {
            let data = std::fs::read(f.path()).expect("corpus file readable");
            assert!(
                c2atlas::fuzzing::run(&target, &data),
                "unknown fuzz target {target}"
            );
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} corpus inputs");
}
