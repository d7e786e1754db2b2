#!/usr/bin/env bash
# Deploys (or updates) the tgw-peering stack: uploads the build from dist/lambda/ and the state
# machine definition to S3 under a digest of their contents, runs `aws cloudformation deploy`, and
# prints the stack's outputs. Unchanged code and parameters make it a no-op. With --passive-events it
# also deploys cloudformation/passive-region-events.yaml in the stack's passive Region (and in its
# ActiveRegion, when that is not the stack's own Region).
#
# With --release DIR it deploys a release bundle from scripts/release.sh instead: it checks the
# bundle's SHA256SUMS, uploads its zips and definition under the key prefix its template names, and
# deploys its template; it needs only the aws CLI (no Rust, cargo-lambda, zig or Python venv).
#
# It uses the aws CLI's usual configuration (profile, AWS_REGION, credentials) and respects
# AWS_ENDPOINT_URL, so scripts/local.sh uses it unchanged against the local emulator.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<'USAGE'
usage: scripts/deploy.sh --bucket BUCKET [--passive-region REGION] [options] [Key=Value ...]

  --bucket BUCKET         S3 bucket in the stack's Region for the code (env CODE_BUCKET)
  --prefix PREFIX         key prefix, ending in "/" (default tgw-peering/)
  --stack-name NAME       default tgw-peering (env STACK_NAME)
  --template FILE         default cloudformation/transit-gateway-peering.yaml
  --code-dir DIR          the zips to deploy (default dist/lambda/, from scripts/build.sh)
  --release DIR           deploy a release bundle (scripts/release.sh, or one downloaded): its
                          zips, definition and templates, under the key prefix its template
                          names (--prefix, --template and --code-dir do not apply); needs only
                          the aws CLI on PATH
  --passive-region REGION the peer Region; needed on the first deploy
  --passive-events        also deploy cloudformation/passive-region-events.yaml, as stack
                          NAME-passive-events in the passive Region: it forwards that Region's
                          network and tag changes to this stack's Region (same account only);
                          with ActiveRegion set to another Region than the stack's, also as
                          NAME-active-events there, whose events the stack's rules cannot see
  Key=Value ...           more template parameters, e.g. VpcTagKey=routed PollIntervalSeconds=30
                          ScheduleExpression="rate(1 hour)"

Run scripts/build.sh first (or use --release). Parameters you leave out keep their current value
on an update.
USAGE
}

bucket="${CODE_BUCKET:-}" prefix="tgw-peering/" stack="${STACK_NAME:-tgw-peering}" overrides=()
passive_events=false release=""
template="$ROOT/cloudformation/transit-gateway-peering.yaml" dist="$ROOT/dist/lambda"
definition="$ROOT/statemachine/peering.asl.json"
events_template="$ROOT/cloudformation/passive-region-events.yaml"
while [ $# -gt 0 ]; do
  case "$1" in
    --bucket) bucket="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --stack-name) stack="$2"; shift 2 ;;
    --template) template="$2"; shift 2 ;;
    --code-dir) dist="$2"; shift 2 ;;
    --passive-region) overrides+=("PassiveRegion=$2"); shift 2 ;;
    --passive-events) passive_events=true; shift ;;
    --release) release="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *=*) overrides+=("$1"); shift ;;
    *) echo "deploy.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$bucket" ] || { echo "deploy.sh: --bucket is required (or set CODE_BUCKET)" >&2; exit 2; }
case "$prefix" in */|"") ;; *) prefix="$prefix/" ;; esac

# The CodeKeyPrefix a release template defaults to: where its build is expected in the bucket.
release_key_prefix() { # TEMPLATE
  awk '/^  CodeKeyPrefix:$/ {inside = 1; next}
       inside && /^    Default: / {print $2; exit}
       inside && /^  [^ ]/ {exit}' "$1"
}

if [ -n "$release" ]; then
  # A release needs the aws CLI and nothing of the build: the one on PATH, else the clone's.
  aws_cli="$(command -v aws || true)"
  [ -n "$aws_cli" ] || aws_cli="$VENV/bin/aws"
  [ -x "$aws_cli" ] || { echo "deploy.sh: --release needs the aws CLI on PATH" >&2; exit 1; }
  [ -f "$release/SHA256SUMS" ] || { echo "deploy.sh: $release has no SHA256SUMS: not a release bundle" >&2; exit 1; }
  say "checking $release/SHA256SUMS"
  if command -v sha256sum >/dev/null; then
    (cd "$release" && sha256sum --quiet -c SHA256SUMS)
  else
    (cd "$release" && shasum -a 256 --quiet -c SHA256SUMS)
  fi
  dist="$release" definition="$release/peering.asl.json" template="$release/transit-gateway-peering.yaml"
  events_template="$release/passive-region-events.yaml"
  key_prefix="$(release_key_prefix "$template")"
  [ -n "$key_prefix" ] || { echo "deploy.sh: $template names no CodeKeyPrefix default" >&2; exit 1; }
else
  ensure_python_env
  aws_cli="$VENV/bin/aws"
fi
aws() { "$aws_cli" "$@"; }

for fn in "${FUNCTIONS[@]}"; do
  [ -f "$dist/$fn.zip" ] || { echo "deploy.sh: $dist/$fn.zip is missing; run scripts/build.sh first" >&2; exit 1; }
done

if [ -z "$release" ]; then
  # One digest over everything the stack runs, so new code or a new definition gets new keys.
  version="$({ for fn in "${FUNCTIONS[@]}"; do sha256sum "$dist/$fn.zip"; done; sha256sum "$definition"; } \
    | cut -d' ' -f1 | sha256sum | cut -c1-16)"
  key_prefix="$prefix$version/"
fi

say "uploading the build to s3://$bucket/$key_prefix"
for fn in "${FUNCTIONS[@]}"; do
  aws s3 cp --quiet "$dist/$fn.zip" "s3://$bucket/$key_prefix$fn.zip"
done
aws s3 cp --quiet "$definition" "s3://$bucket/${key_prefix}peering.asl.json"

say "deploying stack $stack"
# CloudFormation takes a template body of at most 51,200 bytes inline; this one is larger, so the CLI
# uploads it to the code bucket (under the build's prefix) and deploys it from there.
aws cloudformation deploy \
  --stack-name "$stack" \
  --template-file "$template" \
  --s3-bucket "$bucket" \
  --s3-prefix "${key_prefix%/}" \
  --capabilities CAPABILITY_IAM \
  --no-fail-on-empty-changeset \
  --parameter-overrides "CodeBucket=$bucket" "CodeKeyPrefix=$key_prefix" ${overrides[@]+"${overrides[@]}"}

aws cloudformation describe-stacks --stack-name "$stack" \
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output table

if [ "$passive_events" = true ]; then
  # The forwarder goes into the stack's PassiveRegion, with its VpcTagKey, and forwards to the
  # default event bus of the Region this stack is in (the fourth field of its StackId).
  IFS=$'\t' read -r stack_id passive_region tag_key passive_account < <(aws cloudformation describe-stacks \
    --stack-name "$stack" --output text --query '[Stacks[0].StackId,
      Stacks[0].Parameters[?ParameterKey==`PassiveRegion`].ParameterValue | [0],
      Stacks[0].Parameters[?ParameterKey==`VpcTagKey`].ParameterValue | [0],
      Stacks[0].Parameters[?ParameterKey==`PassiveAccountId`].ParameterValue | [0]]')
  # Asked apart: text output joins fields with tabs, and read folds an empty one into the next.
  active_region="$(aws cloudformation describe-stacks --stack-name "$stack" --output text \
    --query 'Stacks[0].Parameters[?ParameterKey==`ActiveRegion`].ParameterValue | [0]')"
  if [ -n "$passive_account" ] && [ "$passive_account" != "None" ]; then
    echo "deploy.sh: --passive-events forwards this account's events only; the passive transit" \
      "gateway is in account $passive_account" >&2
    exit 2
  fi
  stack_region="$(cut -d: -f4 <<<"$stack_id")"
  forward_from() { # REGION STACK: the forwarder there, to the default bus of the stack's Region
    say "deploying stack $2 in $1 (forwards to $stack_region's default bus)"
    aws cloudformation deploy \
      --region "$1" \
      --stack-name "$2" \
      --template-file "$events_template" \
      --capabilities CAPABILITY_IAM \
      --no-fail-on-empty-changeset \
      --parameter-overrides "ActiveRegion=$stack_region" "VpcTagKey=$tag_key"
  }
  forward_from "$passive_region" "$stack-passive-events"
  # The stack's rules see its own Region's events only: an active transit gateway elsewhere needs
  # its Region's events forwarded too.
  if [ -n "$active_region" ] && [ "$active_region" != "None" ] && [ "$active_region" != "$stack_region" ]; then
    forward_from "$active_region" "$stack-active-events"
  fi
fi
