#!/usr/bin/env bash
# Measures tgw-peering's performance on the local AWS (tests/emulator/server.py: moto, its Step
# Functions interpreter, and the real function binaries behind `cargo lambda watch`), prints every
# figure as a table, and writes docs/performance.md with the plot docs/performance-api-calls.png.
# Figures are reported, never asserted: the script fails only if it cannot run at all.
#
#   scripts/bench.sh [--time-scale S] [--provisioning-seconds T] [--poll-seconds P]
#                    [--cold-starts N] [--vpcs 100,300,1000] [--routes N] [--reconcile-routes N]
#                    [--phases small,cold,scale,throttle,prune,reconcile,mesh,profiles] [--profiles]
#                    [--no-docs]
#
#   --time-scale S    the token bucket's timeScale for the throughput run (default 1: EC2's real
#                     rate, about 3 minutes; 10 is ten times quicker, figures relative to 10x the
#                     rate, though a client pacing its writes in real time then looks slower)
#   --provisioning-seconds T   how long the emulator takes to provision the peering (default 20)
#   --poll-seconds P  the stack's PollIntervalSeconds for that run (default 5)
#   --cold-starts N   cold starts per function and input (default 15)
#   --vpcs LIST       tagged VPCs per Region at each step of the scale phase (default 100,300,1000)
#   --routes N        routes per Region to create under the token bucket (default 1000, at most
#                     the largest --vpcs)
#   --reconcile-routes N  ranges each Region's VPN attachment advertises in the reconcile phase, so
#                     the tool's routes in each side's peering table (default 10000, issue 16's size;
#                     the table holds as many propagated ones besides)
#   --phases LIST     which phases to run (default: small,cold,scale,throttle,prune,reconcile,mesh, and
#                     profiles with --profiles; profiles in the list implies --profiles).
#                     docs/performance.md is rewritten from this run alone: with a few phases, the
#                     others read "not measured"
#   --profiles        also compare the tuned [profile.release] with [profile.untuned] (cargo's
#                     release defaults): binary size, the size of a Lambda zip of each (host binaries
#                     zipped by the bench) and the cold starts of the cold phase; builds
#                     `--profile untuned` too (quick when warm)
#   --no-docs         print the tables only; leave docs/ as it is
#
# Builds first, as scripts/build.sh (the arm64 zips, whose sizes it reports; skipped with --phases
# and --no-docs) and `cargo build --release` for this machine (the binaries it runs), and with
# --profiles `cargo build --profile untuned`; all are quick when warm.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

bench_args=() docs=1 profiles=0 phases=""
while [ $# -gt 0 ]; do
  case "$1" in
    --time-scale|--provisioning-seconds|--poll-seconds|--cold-starts|--vpcs|--routes|--reconcile-routes)
      [ $# -ge 2 ] || { echo "bench.sh: $1 needs a value" >&2; exit 2; }
      bench_args+=("$1" "$2"); shift 2 ;;
    --phases)
      [ $# -ge 2 ] || { echo "bench.sh: $1 needs a value" >&2; exit 2; }
      phases="$2"; shift 2 ;;
    --profiles) profiles=1; shift ;;
    --no-docs) docs=0; shift ;;
    -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

case ",$phases," in *,profiles,*) profiles=1 ;; esac
if [ "$profiles" = 1 ]; then
  phases="${phases:-small,cold,scale,throttle,prune,reconcile,mesh}"
  case ",$phases," in *,profiles,*) ;; *) phases="$phases,profiles" ;; esac
  steps=5
else
  steps=4
fi
[ -n "$phases" ] && bench_args+=(--phases "$phases")

ensure_rust
ensure_python_env

started=$SECONDS
if [ "$docs" = 0 ] && [ -n "$phases" ] && [ "$profiles" = 0 ]; then
  # The arm64 zips serve only the zip-size row (the local AWS runs the host binaries), and their
  # first build takes a quarter of an hour: a run of chosen phases that writes no docs skips them.
  say "1/$steps build: the arm64 Lambda zips skipped (--phases with --no-docs: only the zip-size row needs them)"
else
  say "1/$steps build: the arm64 Lambda zips (scripts/build.sh)"
  "$ROOT/scripts/build.sh"
fi
say "2/$steps build: the functions for this machine, release profile"
cargo build --release --workspace --bins --locked --quiet
bin_dir="$CARGO_TARGET_DIR/release"
step=3
if [ "$profiles" = 1 ]; then
  say "3/$steps build: the functions for this machine, untuned profile (cargo's release defaults)"
  cargo build --profile untuned --workspace --bins --locked --quiet
  bench_args+=(--untuned-bin-dir "$CARGO_TARGET_DIR/untuned")
  step=4
fi
build_seconds=$((SECONDS - started))

work="$(mktemp -d)"
bench_pid=""
cleanup() {
  # bench.py stops the local AWS (and with it cargo-lambda and every function process) on
  # SIGTERM; the server also exits when bench.py's end of its stdin pipe closes.
  if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "$step/$steps measure on the local AWS (about 6 minutes at --time-scale 1)"
"$VENV/bin/python" scripts/lib/bench.py --bin-dir "$bin_dir" --out "$work/results.json" \
  ${bench_args[@]+"${bench_args[@]}"} &
bench_pid=$!
wait "$bench_pid"
bench_pid=""

say "$((step + 1))/$steps the figures (builds took ${build_seconds} s)"
report_args=(--zips "$ROOT/dist/lambda" --bin-dir "$bin_dir")
if [ "$docs" = 1 ]; then
  report_args+=(--md "$ROOT/docs/performance.md" --png "$ROOT/docs/performance-api-calls.png")
fi
"$VENV/bin/python" scripts/lib/bench_report.py "$work/results.json" "${report_args[@]}"
mkdir -p "$ROOT/dist/bench"
cp "$work/results.json" "$ROOT/dist/bench/results.json"
say "raw results in dist/bench/results.json; total $((SECONDS - started)) s"
