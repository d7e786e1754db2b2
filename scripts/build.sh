#!/usr/bin/env bash
# Builds the three Lambda functions for AWS (provided.al2023, arm64, release) with cargo-lambda and
# leaves one zip per function in dist/lambda/, named as the template's S3 keys expect:
#   dist/lambda/peer.zip, dist/lambda/get-status.zip, dist/lambda/modify-routes.zip
# deploy.sh uploads them under a digest of their contents, so new code always gets new keys and
# unchanged code redeploys as a no-op. Each binary is built through `cargo auditable`, so it carries
# its dependency list (the .dep-v0 section) for scanners such as Amazon Inspector; see
# docs/aws-facts.md.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

ensure_rust
ensure_python_env
ensure_cargo_auditable
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  say "adding the aarch64-unknown-linux-gnu target"
  rustup target add aarch64-unknown-linux-gnu
fi

# Clones share CARGO_TARGET_DIR, and cargo-lambda writes each zip after cargo has let go of its own
# lock: a second build at the same moment could copy out a half-written zip (seen once). So one
# build-and-copy at a time, and every zip is checked before it is left in dist/.
mkdir -p "$CARGO_TARGET_DIR"
exec 9>"$CARGO_TARGET_DIR/lambda-build.lock"
flock 9

say "cargo lambda build --release --arm64 (the first build takes about 15 minutes; later ones seconds)"
for fn in "${FUNCTIONS[@]}"; do packages+=(--package "$fn"); done
# cargo-lambda bakes its own path into the linker wrappers it makes for zig, and a new linker path
# rebuilds everything. So it runs from a fixed place beside the build cache, not from this clone's
# .venv: every clone that shares CARGO_TARGET_DIR then shares one arm64 build.
cargo_lambda="$CARGO_TARGET_DIR/tools/$("$VENV/bin/cargo-lambda" lambda --version | cut -d' ' -f1-2 | tr ' ' '-')"
if ! cmp -s "$VENV/bin/cargo-lambda" "$cargo_lambda"; then
  mkdir -p "$(dirname "$cargo_lambda")"
  cp "$VENV/bin/cargo-lambda" "$cargo_lambda.tmp" && mv "$cargo_lambda.tmp" "$cargo_lambda"
fi
# `cargo auditable CMD` runs `cargo CMD` with itself as RUSTC_WORKSPACE_WRAPPER, which embeds the
# dependency list in the workspace's binaries (dependencies are not rebuilt for it), and cargo-lambda
# runs cargo with the environment it was given. Cargo finds `cargo lambda` as `cargo-lambda` on
# PATH: a link to the fixed copy above, which cargo-lambda resolves to its own path, so the linker
# wrappers keep theirs.
subcommand="$(mktemp -d)"
trap 'rm -rf "$subcommand"' EXIT
ln -s "$cargo_lambda" "$subcommand/cargo-lambda"
PATH="$subcommand:$VENV/bin:$PATH" "$CARGO_AUDITABLE" auditable lambda build --release --arm64 --output-format zip \
  --locked "${packages[@]}"

out="$ROOT/dist/lambda"
rm -rf "$out" && mkdir -p "$out"
for fn in "${FUNCTIONS[@]}"; do
  cp "$CARGO_TARGET_DIR/lambda/$fn/bootstrap.zip" "$out/$fn.zip"
  "$VENV/bin/python" -m zipfile -t "$out/$fn.zip" >/dev/null ||
    { echo "build.sh: $out/$fn.zip is not a whole zip; run scripts/build.sh again" >&2; exit 1; }
done
say "built:"
ls -l "$out" >&2
