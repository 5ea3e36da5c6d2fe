#!/usr/bin/env bash
# Runs every check and test: formatting, lints, docs, then the tests. Installs what the end-to-end tests need when missing:
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
# Lints as the workspace sets them ([workspace.lints]), warnings are errors.
cargo clippy --workspace --all-targets --locked -- -D warnings
# The API docs build without broken links or other warnings.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
cargo test --workspace "$@"
