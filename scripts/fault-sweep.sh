#!/usr/bin/env bash
# The fault sweep: for each scenario (first setup, re-run, prune, teardown, mesh pair, cross-account
# pair), a clean run records the AWS calls it makes; then each chosen call meets each fault kind in
# turn (a throttle, the call's own failure, the function killed right after the answer, the answer
# lost after the write), on the same network rebuilt, and the invariants are checked after the
# state machine's Retry and Catch and one more execution (tests/stack/fault_sweep.py). Prints every
# injection and, per scenario and fault kind, faults injected, converged, failed loudly, wrong and
# not reached; writes that table to dist/reliability/fault-sweep.md. Fails if any injection is wrong.
#
#   scripts/fault-sweep.sh [--all] [--seed N] [--scenario NAME]...
#
#   --all            every fault kind at every call (about 3 hours on 2 cores); without it, the
#                    sample scripts/test.sh runs: the first and last call, one write of each scenario,
#                    drawn at random, each with one kind, and the faults it
#                    once found wrong
#   --seed N         the draw of the sample (printed by every run; default random)
#   --scenario NAME  only this scenario (repeatable): "first setup", re-run, prune, teardown,
#                    "mesh pair", cross-account
#
# Builds first as scripts/test.sh does (the zips, and the functions for this machine).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

scenarios=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --all) export TGW_PEERING_FAULT_SWEEP=all; shift ;;
    --seed) export TGW_PEERING_FAULT_SWEEP_SEED="$2"; shift 2 ;;
    --scenario) scenarios+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "fault-sweep.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [[ ${#scenarios[@]} -gt 0 ]]; then
  TGW_PEERING_FAULT_SWEEP_SCENARIOS="$(IFS=,; echo "${scenarios[*]}")"
  export TGW_PEERING_FAULT_SWEEP_SCENARIOS
fi

ensure_rust
ensure_python_env
scripts/build.sh
cargo build --workspace --bins --examples --locked
export TGW_PEERING_LAMBDA_BIN_DIR="$CARGO_TARGET_DIR/debug"
export TGW_PEERING_PYTHON="$VENV/bin/python"
export TGW_PEERING_RELIABILITY_LOG="$ROOT/dist/reliability/fault-sweep.jsonl"
mkdir -p "$(dirname "$TGW_PEERING_RELIABILITY_LOG")"
: >"$TGW_PEERING_RELIABILITY_LOG"

say "fault sweep (tests/stack/test_fault_sweep.py)"
status=0
"$VENV/bin/python" -m pytest -q -s -p no:cacheprovider tests/stack/test_fault_sweep.py || status=$?
"$VENV/bin/python" scripts/lib/reliability_report.py "$TGW_PEERING_RELIABILITY_LOG" --sweep-only \
  --out dist/reliability/fault-sweep.md
exit "$status"
