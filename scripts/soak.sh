#!/usr/bin/env bash
# The soak test (not part of CI): 30 minutes of seeded random actions on every page of the
# release bundle in headless Chromium, with console errors, dead workers and memory recorded
# (static/reports/soak.json; docs/hardening.md, "The soak test"). Arguments go to
# scripts/soak.mjs: [--minutes 30] [--seed 2026] [--sample 30] [--warmup 5] [--max-growth 10]
# [--out static/reports/soak.json]. Builds the release bundle first if there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -n "${LAB_DIST:-}" ] || [ -f dist/index.html ] || { bash scripts/setup.sh --browser && trunk build --release; }
exec node scripts/soak.mjs "$@"
