//! The `c2atlas` command line: a thin layer over the `c2atlas` library.
//!
//! Exit codes: 0 success; 1 the run worked but found a problem the caller asked
//! to fail on (reserved); 2 an error (bad usage, unusable input or database).
//! Everything that is not the requested output goes to stderr.

mod args;
mod behave;
mod collect;
mod commands;
mod perf;
mod progress;
mod web;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    let code = match commands::dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            if is_broken_pipe(&e) {
                0
            } else {
                eprintln!("c2atlas: error: {e:#}");
                2
            }
        }
    };
    std::process::exit(code);
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
