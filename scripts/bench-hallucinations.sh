#!/usr/bin/env bash
# The hallucinations demo: forward and instability-search iteration time per network and FIRENET, natively and in the browser worker.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --release --bin lab
[ -f dist/index.html ] || trunk build --release
exec node scripts/bench-hallucinations.mjs "$@"
