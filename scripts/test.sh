#!/usr/bin/env bash
# Runs every check and test: formatting, lints, docs, then the tests. Installs what the end-to-end tests need when missing:
# the tansu Kafka-compatible broker (15-20 minutes to build on 2 cores) and Chromium (the live page test's browser).
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo install puts binaries here; look there before deciding to build.
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tansu >/dev/null 2>&1; then
  echo "tansu not found: installing it (cargo install, takes a while)"
  cargo install tansu --version 0.6.0 --locked --features dynostore,libsql
fi

# tests/live_page.rs drives the live event page in a headless Chromium; it says SKIPPED without one.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "chromium not found: installing it (apt-get)"
    apt-get update && apt-get install -y chromium
  else
    echo "chromium not found and not root with apt-get: the live page test will be skipped"
  fi
fi

# A clean clone gains nothing from incremental caches, and they cost gigabytes of disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

cargo fmt --all -- --check
# Lints as the workspace sets them ([workspace.lints]), warnings are errors.
cargo clippy --workspace --all-targets --locked -- -D warnings
# The API docs build without broken links or other warnings.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
cargo test --workspace "$@"
