#!/usr/bin/env bash
# Tears down what tgw-peering created between the stack's two transit gateways: the routes it
# recorded (and, for a peering it created, every static route via it), then the peering
# attachment if it created it, waiting until it is deleted. Foreign routes and peerings are left
# alone; tearing down nothing succeeds.
#
#   scripts/teardown.sh [input.json] [--dry-run] [--stack-name NAME | --state-machine-arn ARN]
#
# It is scripts/start.sh with "action": "teardown" added to the input. --dry-run shows what would
# go and changes nothing.
set -euo pipefail
exec "$(dirname "$0")/start.sh" --teardown "$@"
