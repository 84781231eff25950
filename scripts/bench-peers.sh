#!/usr/bin/env bash
# The lab beside TensorFlow.js in headless Chromium: logits, DeepFool per digit, a batch of 2,000
# digits, the single-core floor; writes the key "tfjs" of static/reports/peers.json.
# Needs the release bundle (trunk build --release) and the npm packages (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -f dist/index.html ] || trunk build --release
# One core's multiply–add rate, for the floor: a tiny native benchmark, no crate involved.
mkdir -p target/bench-peers
if [ ! -x target/bench-peers/flops ] || [ bench/peers/flops.rs -nt target/bench-peers/flops ]; then
  rustc --edition 2021 -O -o target/bench-peers/flops bench/peers/flops.rs
fi
exec node scripts/bench-peers.mjs "$@"
