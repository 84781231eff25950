#!/usr/bin/env bash
# FIRENET time natively and in the browser worker, 128² and 256², and one A/A* pair.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --release --bin lab
[ -f dist/index.html ] || trunk build --release
exec node scripts/bench-mri.mjs "$@"
