#!/usr/bin/env bash
# Runs the whole job locally, with no AWS account: builds, starts a local AWS (moto, with its Step
# Functions interpreter, and Lambda invokes forwarded to `cargo lambda watch`) on 127.0.0.1, seeds
# two Regions, deploys the real template with deploy.sh, runs start.sh, prints both transit
# gateway route tables, says what a real deployment changes, and stops everything it started.
# With no flags it ends with the VPC routes written and every VPC pair reachable.
#
#   scripts/local.sh [--pending S] [--reject] [--fail] [--poll-seconds S] [--max-polls N]
#                    [--without-vpc-routes] [--segmented] [--return-propagation] [--mesh REGION,...]
#
#   --pending S   the peering stays pending for S seconds after it is accepted, then becomes
#                 available (default 4: two polls at the default --poll-seconds 2; fractions allowed)
#   --reject      the peer Region rejects the peering: the execution fails, naming the state
#   --fail        the peering fails while pending
#   --max-polls N the stack's MaxPolls (with --pending, shows PeeringTimedOut)
#   --without-vpc-routes  deploy with VpcRoutes=false, the stack's default: only the transit
#                 gateway route tables are written, so every VPC pair ends unreachable (noVpcRoute)
#                 until someone adds the VPC routes; shows what the tool leaves to you with it off
#   --vpc-routes  VpcRoutes=true, the demo's default (kept for old command lines)
#   --segmented   a segmented network: default association and propagation off, a segment table
#                 and a peering table per side, a dual-stack VPC; ends with every pair reachable
#                 over IPv4 and IPv6
#   --return-propagation  the segmented network, but the VPC attachments do not propagate into the
#                 peering tables, so traffic arriving over the peering could not reach them; deploys
#                 with ReturnPropagation=true, and the tool enables those propagations itself
#   --mesh R1,R2,...  a full mesh: seeds a transit gateway and two tagged VPCs in each Region,
#                 deploys with MeshRegions, starts {"mesh": []} and ends with
#                 every pair's row and every VPC pair reachable (e.g. --mesh
#                 us-east-1,us-west-2,eu-west-1,ap-southeast-2)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

# VPC routes on: the demo shows the whole job, the VPC route tables written and every pair
# reachable. The stack's own default is off (a VPC route table is often someone else's to change).
pending=4 outcome=available poll_seconds=2 max_polls=30 vpc_routes=true segmented=false
return_propagation=false mesh=""
while [ $# -gt 0 ]; do
  case "$1" in
    --pending) pending="$2"; shift 2 ;;
    --reject) outcome=rejected; shift ;;
    --fail) outcome=failed; shift ;;
    --poll-seconds) poll_seconds="$2"; shift 2 ;;
    --max-polls) max_polls="$2"; shift 2 ;;
    --vpc-routes) vpc_routes=true; shift ;;
    --without-vpc-routes) vpc_routes=false; shift ;;
    --segmented) segmented=true; shift ;;
    --return-propagation) segmented=true return_propagation=true; shift ;;
    --mesh) mesh="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "local.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

ensure_rust
ensure_python_env

# The local AWS runs the functions as host binaries (cargo lambda watch), never the arm64 zips that
# scripts/build.sh makes for AWS, so this run builds only the host binaries and deploys zips of
# them (dist/local-lambda/). Those zips are for the local AWS only: deploy to AWS with build.sh's.
if [ -x "$CARGO_TARGET_DIR/debug/modify-routes" ]; then
  say "1/8 build the three functions for this machine (cargo build; seconds when nothing changed)"
else
  say "1/8 build the three functions for this machine (cargo build): the first build compiles aws-sdk-ec2, about 6 minutes on 2 cores; later builds take seconds"
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

say "2/8 start the local AWS on 127.0.0.1 (moto + Step Functions + cargo lambda watch)"
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

association_params=()
start_input=()
if [ -n "$mesh" ]; then
  IFS=, read -r -a mesh_regions <<< "$mesh"
  active="${mesh_regions[0]}" passive="${mesh_regions[1]:-}"
  [ "${#mesh_regions[@]}" -ge 2 ] || { echo "local.sh: --mesh needs two or more Regions" >&2; exit 2; }
  export AWS_REGION="$active" AWS_DEFAULT_REGION="$active"
  say "3/8 seed ${mesh_regions[*]}"
  "$VENV/bin/python" scripts/lib/seed_demo.py --mesh "$mesh"
  association_params=("MeshRegions=$mesh")
  echo '{"mesh": []}' > "$work/mesh.json"
  start_input=("$work/mesh.json")
elif [ "$segmented" = true ]; then
  say "3/8 seed $active and $passive"
  seed_flags=(--segmented --out "$work/peering-tables.json")
  [ "$return_propagation" = true ] && seed_flags+=(--no-peering-propagation)
  "$VENV/bin/python" scripts/lib/seed_demo.py --active-region "$active" --passive-region "$passive" \
    "${seed_flags[@]}"
  read -r active_table passive_table < <("$VENV/bin/python" -c \
    'import json, sys; t = json.load(open(sys.argv[1])); print(t["active"], t["passive"])' "$work/peering-tables.json")
  association_params=("ActivePeeringRouteTableId=$active_table" "PassivePeeringRouteTableId=$passive_table"
    "ReturnPropagation=$return_propagation")
else
  say "3/8 seed $active and $passive"
  "$VENV/bin/python" scripts/lib/seed_demo.py --active-region "$active" --passive-region "$passive"
fi
# Pending for a time, as on AWS, however often the tool reads it.
curl -fsS -X POST "$endpoint/_harness/peering" -H 'content-type: application/json' \
  -d "{\"pendingSeconds\": $pending, \"outcome\": \"$outcome\"}" > /dev/null

say "4/8 deploy the stack (scripts/deploy.sh) with VpcRoutes=$vpc_routes"
if [ "$vpc_routes" = false ]; then
  cat <<'NOTE'
  --without-vpc-routes: the tool writes the transit gateway route tables only and leaves the VPC
  route tables alone (the stack's default, for VPCs whose route tables are someone else's). No VPC
  here has a route to the other side, so every VPC pair will end unreachable (noVpcRoute), and the
  run's notice says so: that is this scenario's point, not a fault. Without the flag the demo
  writes the VPC routes too and ends with every pair reachable.
NOTE
fi
aws s3 mb s3://tgw-peering-local > /dev/null
"$ROOT/scripts/deploy.sh" --bucket tgw-peering-local --code-dir "$ROOT/dist/local-lambda" --passive-region "$passive" \
  "PollIntervalSeconds=$poll_seconds" "MaxPolls=$max_polls" "VpcRoutes=$vpc_routes" ${association_params[@]+"${association_params[@]}"}

request='{}'
[ -n "${start_input[0]:-}" ] && request="$(cat "${start_input[0]}")"
say "5/8 start an execution with $request (scripts/start.sh)"
status=0
"$ROOT/scripts/start.sh" ${start_input[@]+"${start_input[@]}"} || status=$?

say "6/8 the transit gateway route tables"
for region in "$active" "$passive" ${mesh_regions[@]+"${mesh_regions[@]:2}"}; do
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

say "7/8 what a real deployment changes"
cat <<NOTE
  - the code: deploy.sh uploads scripts/build.sh's arm64 zips (or a release bundle's, with
    deploy.sh --release DIR; see docs/guides/install-from-a-release.md), not these host builds
  - the network: your transit gateways and VPCs; only VPCs tagged addToTransitGateway=true are
    routed, and routes the tool did not write are never changed
  - the time: a real peering takes minutes to become available; the stack reads its state every
    15 s for up to 30 minutes (PollIntervalSeconds, MaxPolls), not every ${poll_seconds} s
  - VPC routes: the stack's default is VpcRoutes=false; this demo deployed VpcRoutes=$vpc_routes.
    Turn it on where the tool may write the VPC route tables, or add those routes yourself
  - try it first: {"dryRun": true} as the input prints the plan and changes nothing
NOTE

say "8/8 stop the local AWS"
exit "$status"
