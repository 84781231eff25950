#!/usr/bin/env bash
# The CPU and GPU engines natively (Vulkan) and in the browser worker (WebGPU), in the same run; writes static/reports/engine.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --release --bin lab
[ -f dist/index.html ] || trunk build --release
exec node scripts/bench-engine.mjs "$@"
