#!/usr/bin/env bash
# The sampling sweep: the shipped default sweep natively and in the browser worker, whole and per slice, with the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --release --bin lab
[ -f dist/index.html ] || trunk build --release
exec node scripts/bench-sweep.mjs "$@"
