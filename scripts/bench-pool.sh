#!/usr/bin/env bash
# The worker pool: the same live sweep and transfer table in the browser with 1, 2 and 4 workers
# (writes the "pool" key of static/reports/peers.json; arguments: [runs=3] [slices=4]
# [jobs=sweep,transfer]). Builds the release bundle first if there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/index.html ] || trunk build --release
exec node scripts/bench-pool.mjs "$@"
