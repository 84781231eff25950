#!/usr/bin/env bash
# Universal perturbations: each model's search on 500 training digits and the transfer table, natively and in the browser worker.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --release --bin lab
[ -f dist/index.html ] || trunk build --release
exec node scripts/bench-universal.mjs "$@"
