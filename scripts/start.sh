#!/usr/bin/env bash
# Starts an execution of the tgw-peering state machine and follows it, one line per state with the
# elapsed time. Exits 0 with a summary of the routes, or non-zero with the errorType and cause.
#
#   scripts/start.sh [input.json] [--stack-name NAME | --state-machine-arn ARN]
#
# The input defaults to {} (the stack's defaults). Respects AWS_ENDPOINT_URL and the usual AWS config.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ensure_python_env
exec "$VENV/bin/python" "$ROOT/scripts/lib/execution.py" "$@"
