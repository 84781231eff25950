#!/usr/bin/env bash
# DeepFool time per digit natively and in the browser worker, and the slider's re-evaluation time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --release --bin lab
[ -f dist/index.html ] || trunk build --release
exec node scripts/bench-attacks.mjs "$@"
