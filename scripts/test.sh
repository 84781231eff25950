#!/usr/bin/env bash
# Runs every test of Barriers Lab: format and lints, native tests, wasm tests in headless
# Chromium, the release build, and end-to-end tests on it. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
start=$(date +%s)
step() { printf '\n\033[1m== %s (%ss)\033[0m\n' "$*" "$(( $(date +%s) - start ))"; }

step "set-up"
bash scripts/setup.sh --browser

step "format and lints (native and wasm32)"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings

step "dependency hygiene: licences, sources and bans of every crate (offline), and the scripts' unit tests"
node scripts/check-deps.mjs
node --test tests/scripts/

step "native tests"
cargo test

step "wasm tests in headless Chromium"
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test --target wasm32-unknown-unknown --test web --test web_structural

step "GPU engine in headless Chromium: SwiftShader's WebGPU adapter, then none (the CPU fallback)"
# tests/web_gpu.rs reads BARRIERS_WEBGPU at compile time: each run is built for what it expects.
BARRIERS_WEBGPU=adapter WASM_BINDGEN_TEST_WEBDRIVER_JSON=tests/web_support/webgpu.json \
  CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=300 \
  cargo test --target wasm32-unknown-unknown --test web_gpu
BARRIERS_WEBGPU=none CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test --target wasm32-unknown-unknown --test web_gpu

step "release build"
trunk build --release

step "end-to-end tests (Playwright, headless Chromium)"
node --test --test-reporter=spec tests/e2e/

step "all tests passed in $(( $(date +%s) - start )) s"
