#!/usr/bin/env bash
# Start-up and size benchmark of the release bundle (build it first: trunk build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/bench.mjs "$@"
