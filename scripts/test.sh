#!/usr/bin/env bash
# Runs every test. Installs what the end-to-end tests need when missing:
# the tansu Kafka-compatible broker (15-20 minutes to build on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo install puts binaries here; look there before deciding to build.
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tansu >/dev/null 2>&1; then
  echo "tansu not found: installing it (cargo install, takes a while)"
  cargo install tansu --version 0.6.0 --locked --features dynostore,libsql
fi

cargo fmt --all -- --check
cargo test --workspace "$@"
