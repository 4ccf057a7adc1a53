#!/usr/bin/env bash
# Builds c2atlas, fetches the default databases, and runs the demo
# (a simulated national network in miniature → census.json + report.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
cargo build --release --locked -p c2atlas-cli
./target/release/c2atlas demo --out out/demo "$@"
