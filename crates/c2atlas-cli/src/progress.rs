//! Progress and diagnostics on stderr (never stdout, which carries the output).

use std::path::Path;
use std::time::Duration;

use c2atlas::ingest::{Diagnostic, InputStats};
use c2atlas::pipeline::Observer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Diagnostics printed per input before the rest are only counted.
const SHOWN_PER_INPUT: u64 = 5;

pub struct Progress {
    bar: ProgressBar,
    shown_in_input: u64,
    current: Option<std::path::PathBuf>,
    done_records: u64,
}

impl Progress {
    pub fn new(quiet: bool, inputs: usize) -> Progress {
        let bar = if quiet {
            ProgressBar::with_draw_target(Some(inputs as u64), ProgressDrawTarget::hidden())
        } else {
            ProgressBar::with_draw_target(Some(inputs as u64), ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} inputs {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar,
            shown_in_input: 0,
            current: None,
            done_records: 0,
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    pub fn warn(&self, msg: &str) {
        self.bar.suspend(|| eprintln!("c2atlas: warning: {msg}"));
    }
}

impl Observer for Progress {
    fn diagnostic(&mut self, d: &Diagnostic) {
        if self.current.as_deref() != Some(d.path.as_path()) {
            self.current = Some(d.path.clone());
            self.shown_in_input = 0;
        }
        self.shown_in_input += 1;
        if self.shown_in_input <= SHOWN_PER_INPUT {
            self.bar.suspend(|| eprintln!("c2atlas: {d}"));
        }
    }

    fn progress(&mut self, path: &Path, records: u64) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.bar
            .set_message(format!("{} records — {name}", self.done_records + records));
    }

    fn input_done(&mut self, s: &InputStats) {
        self.done_records += s.records;
        if s.malformed > 0 {
            self.bar.suspend(|| {
                eprintln!(
                    "c2atlas: {}: {} records read, {} malformed records skipped",
                    s.path.display(),
                    s.records,
                    s.malformed
                )
            });
        }
        self.bar.inc(1);
        self.bar
            .set_message(format!("{} records", self.done_records));
    }
}
