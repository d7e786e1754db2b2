#!/usr/bin/env bash
# Runs every test: formatting and lints, the emulator harness's own tests, the library's unit,
# property and SDK-double tests, and the integration tests against the EC2 emulator.
# On a fresh machine it first installs what it needs (a pinned Python venv in .venv).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

ensure_rust
ensure_python_env
export TGW_PEERING_PYTHON="$VENV/bin/python"

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings

say "emulator harness tests (pytest)"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/emulator

say "Rust tests (unit, property, SDK doubles, emulator integration)"
cargo test --workspace --locked
