#!/usr/bin/env bash
# Runs the whole peering job locally on the EC2 emulator, with no AWS account: a demo network in
# two Regions, then peer -> get-status (until available, accepting on the way) -> modify-routes,
# printing every function's output, and a second run to show it changes nothing.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

ensure_rust
ensure_python_env
export TGW_PEERING_PYTHON="$VENV/bin/python"
export RUST_LOG="${RUST_LOG:-warn}"
cargo run --quiet --locked -p tgw-peering-integration --bin local-run
