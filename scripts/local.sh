#!/usr/bin/env bash
# Runs the whole job locally, with no AWS account: builds, starts a local AWS (moto, with its Step
# Functions interpreter, and Lambda invokes forwarded to `cargo lambda watch`) on 127.0.0.1, seeds
# two Regions, deploys the real template with deploy.sh, runs start.sh, prints both transit
# gateway route tables, and stops everything it started.
#
#   scripts/local.sh [--pending N] [--reject] [--fail] [--poll-seconds S] [--max-polls N] [--vpc-routes]
#                    [--segmented] [--return-propagation]
#
#   --pending N   the peering stays pending for N polls before it becomes available (default 2)
#   --reject      the peer Region rejects the peering: the execution fails, naming the state
#   --fail        the peering fails while pending
#   --max-polls N the stack's MaxPolls (with --pending, shows PeeringTimedOut)
#   --vpc-routes  deploy with VpcRoutes=true: the VPC route tables get their routes too, and the
#                 reachability report shows every pair reachable
#   --segmented   a segmented network: default association and propagation off, a segment table
#                 and a peering table per side, a dual-stack VPC; implies --vpc-routes, and ends
#                 with every pair reachable over IPv4 and IPv6
#   --return-propagation  the segmented network, but the VPC attachments do not propagate into the
#                 peering tables, so traffic arriving over the peering could not reach them; deploys
#                 with ReturnPropagation=true, and the tool enables those propagations itself
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

pending=2 outcome=available poll_seconds=2 max_polls=30 vpc_routes=false segmented=false
return_propagation=false
while [ $# -gt 0 ]; do
  case "$1" in
    --pending) pending="$2"; shift 2 ;;
    --reject) outcome=rejected; shift ;;
    --fail) outcome=failed; shift ;;
    --poll-seconds) poll_seconds="$2"; shift 2 ;;
    --max-polls) max_polls="$2"; shift 2 ;;
    --vpc-routes) vpc_routes=true; shift ;;
    --segmented) segmented=true vpc_routes=true; shift ;;
    --return-propagation) segmented=true vpc_routes=true return_propagation=true; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "local.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

ensure_rust
ensure_python_env

# The local AWS runs the functions as host binaries (cargo lambda watch), never the arm64 zips that
# scripts/build.sh makes for AWS, so this run builds only the host binaries and deploys zips of
# them (dist/local-lambda/). Those zips are for the local AWS only: deploy to AWS with build.sh's.
if [ -x "$CARGO_TARGET_DIR/debug/modify-routes" ]; then
  say "1/7 build the three functions for this machine (cargo build; seconds when nothing changed)"
else
  say "1/7 build the three functions for this machine (cargo build): the first build compiles aws-sdk-ec2, about 6 minutes on 2 cores; later builds take seconds"
fi
cargo build --workspace --bins --locked
package_host_functions "$ROOT/dist/local-lambda"

rm -rf "$ROOT/dist/local-logs"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say "2/7 start the local AWS on 127.0.0.1 (moto + Step Functions + cargo lambda watch)"
mkfifo "$work/ready"
"$VENV/bin/python" tests/emulator/server.py --port 0 --ignore-stdin --stepfunctions \
  --lambda-bin-dir "$CARGO_TARGET_DIR/debug" --lambda-log-dir "$ROOT/dist/local-logs" \
  > "$work/ready" 2> "$work/server.log" < /dev/null &
server_pid=$!
read -r ready endpoint < "$work/ready" || { cat "$work/server.log" >&2; exit 1; }
[ "$ready" = READY ] || { cat "$work/server.log" >&2; exit 1; }
say "local AWS at $endpoint; function logs in dist/local-logs/"

export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
active=us-east-1 passive=us-west-2
aws() { "$VENV/bin/aws" "$@"; }

say "3/7 seed $active and $passive"
association_params=()
if [ "$segmented" = true ]; then
  seed_flags=(--segmented --out "$work/peering-tables.json")
  [ "$return_propagation" = true ] && seed_flags+=(--no-peering-propagation)
  "$VENV/bin/python" scripts/lib/seed_demo.py --active-region "$active" --passive-region "$passive" \
    "${seed_flags[@]}"
  read -r active_table passive_table < <("$VENV/bin/python" -c \
    'import json, sys; t = json.load(open(sys.argv[1])); print(t["active"], t["passive"])' "$work/peering-tables.json")
  association_params=("ActivePeeringRouteTableId=$active_table" "PassivePeeringRouteTableId=$passive_table"
    "ReturnPropagation=$return_propagation")
else
  "$VENV/bin/python" scripts/lib/seed_demo.py --active-region "$active" --passive-region "$passive"
fi
# get-status reads the attachment in both Regions, so one poll is two reads.
curl -fsS -X POST "$endpoint/_harness/peering" -H 'content-type: application/json' \
  -d "{\"pendingPolls\": $((2 * pending)), \"outcome\": \"$outcome\"}" > /dev/null

say "4/7 deploy the stack (scripts/deploy.sh)"
aws s3 mb s3://tgw-peering-local > /dev/null
"$ROOT/scripts/deploy.sh" --bucket tgw-peering-local --code-dir "$ROOT/dist/local-lambda" --passive-region "$passive" \
  "PollIntervalSeconds=$poll_seconds" "MaxPolls=$max_polls" "VpcRoutes=$vpc_routes" ${association_params[@]+"${association_params[@]}"}

say "5/7 start an execution with {} (scripts/start.sh)"
status=0
"$ROOT/scripts/start.sh" || status=$?

say "6/7 the transit gateway route tables"
for region in "$active" "$passive"; do
  for table in $(aws ec2 describe-transit-gateway-route-tables --region "$region" \
      --query 'TransitGatewayRouteTables[].TransitGatewayRouteTableId' --output text); do
    echo "$region $table"
    routes="$(aws ec2 search-transit-gateway-routes --region "$region" --transit-gateway-route-table-id "$table" \
      --filters Name=type,Values=static,propagated \
      --query 'Routes[].[DestinationCidrBlock,Type,State,TransitGatewayAttachments[0].ResourceType,TransitGatewayAttachments[0].TransitGatewayAttachmentId]' \
      --output table)"
    echo "${routes:-  (no static or propagated routes)}"
  done
done

say "7/7 stop the local AWS"
exit "$status"
