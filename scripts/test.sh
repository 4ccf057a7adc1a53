#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (default databases, Python
# reference reader), formatting, lints, then every test of the workspace.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
