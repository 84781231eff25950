#!/usr/bin/env bash
# Builds the release bundle offline and serves it on http://127.0.0.1:8080 (PORT overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
trunk build --release
exec node scripts/serve.mjs dist "${PORT:-8080}"
