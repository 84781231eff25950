#!/usr/bin/env bash
# Size, first-visit download per page (writes static/reports/bundle.json) and start-up benchmark
# of the release bundle (build it first: trunk build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/bench.mjs "$@"
