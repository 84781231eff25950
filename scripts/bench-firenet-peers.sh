#!/usr/bin/env bash
# FIRENET side by side with the independent NumPy reference (scripts/firenet_reference.py), natively
# on this machine: the golden N = 32 cases and the MRI page's default 128² reconstruction; the time of
# both and the relative difference of the outputs, merged as "firenet" into static/reports/peers.json.
# Installs NumPy (pinned) into target/py when it is missing (lab's default --python is
# target/py/bin/python). Arguments go to `lab firenet-peers` (--repeats 20, --reference-repeats 5,
# --out static/reports/peers.json).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
NUMPY=2.4.6
PY=target/py/bin/python
if ! "$PY" -c "import numpy, sys; sys.exit(numpy.__version__ != '$NUMPY')" 2>/dev/null; then
  python3 -m venv target/py
  "$PY" -m pip install --quiet --disable-pip-version-check "numpy==$NUMPY"
fi
cargo build --release --bin lab
exec ./target/release/lab firenet-peers "$@"
