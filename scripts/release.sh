#!/usr/bin/env bash
# Writes a release bundle, dist/release/VERSION/, that deploys with the aws CLI alone (no Rust,
# cargo-lambda or zig on the deployer's machine):
#
#   peer.zip get-status.zip modify-routes.zip   the arm64 functions from scripts/build.sh, built
#                                               through cargo auditable (a .dep-v0 section in each
#                                               bootstrap names the crates it contains)
#   peering.asl.json                            the state machine definition
#   transit-gateway-peering.yaml                the stack template, its CodeKeyPrefix defaulting to
#                                               tgw-peering/VERSION/: where the deployer puts the
#                                               zips and the definition in their own bucket
#   passive-account-role.yaml passive-region-events.yaml   the other templates, unchanged
#   <function>.cdx.json                         a CycloneDX SBOM of each function (cargo-cyclonedx)
#   SHA256SUMS                                  checksums of all of the above (sha256sum -c SHA256SUMS)
#
#   scripts/release.sh VERSION     (VERSION: letters, digits, '.', '_' and '-', such as 1.4.0)
#
# Deploy it with scripts/deploy.sh --release dist/release/VERSION --bucket BUCKET ..., or with the
# aws CLI alone as docs/guides/install-from-a-release.md shows. A version names one build: the
# functions update only when their keys change, so release changed code under a new VERSION.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$ROOT"

version="${1:-}"
[[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] ||
  { echo "usage: scripts/release.sh VERSION (letters, digits, '.', '_' and '-', such as 1.4.0)" >&2; exit 2; }
out="$ROOT/dist/release/$version"
key_prefix="tgw-peering/$version/"

"$ROOT/scripts/build.sh"
ensure_cargo_cyclonedx

say "writing $out"
rm -rf "$out" && mkdir -p "$out"
for fn in "${FUNCTIONS[@]}"; do cp "$ROOT/dist/lambda/$fn.zip" "$out/"; done
cp statemachine/peering.asl.json cloudformation/passive-account-role.yaml cloudformation/passive-region-events.yaml "$out/"
"$VENV/bin/python" - cloudformation/transit-gateway-peering.yaml "$out/transit-gateway-peering.yaml" "$key_prefix" <<'PY'
import sys
source, target, prefix = sys.argv[1:]
text = open(source, encoding="utf-8").read()
# The one Default of the CodeKeyPrefix parameter; anything else means the template changed shape.
old = '      code always gets new keys.\n    Default: tgw-peering/\n'
new = ('      code always gets new keys. This release expects them under ' + prefix + '.\n'
       '    Default: ' + prefix + '\n')
if text.count(old) != 1:
    sys.exit("release.sh: the template's CodeKeyPrefix parameter is not as release.sh expects; update release.sh")
open(target, "w", encoding="utf-8").write(text.replace(old, new))
PY

say "CycloneDX SBOMs (cargo-cyclonedx $CARGO_CYCLONEDX_VERSION)"
# cargo-cyclonedx writes <package>.cdx.json beside each package's Cargo.toml, listing every crate the
# package is built from for the arm64 target, build dependencies included. The functions' SBOMs go
# into the bundle; the others (the library, the tests) are removed, leaving the clone as it was.
"$CARGO_CYCLONEDX" cyclonedx --format json --spec-version 1.5 --target aarch64-unknown-linux-gnu --quiet
while read -r package manifest_dir; do
  sbom="$manifest_dir/$package.cdx.json"
  if [[ " ${FUNCTIONS[*]} " == *" $package "* ]]; then mv "$sbom" "$out/"; else rm -f "$sbom"; fi
done < <(cargo metadata --format-version 1 --no-deps --locked | "$VENV/bin/python" -c '
import json, os, sys
for package in json.load(sys.stdin)["packages"]:
    print(package["name"], os.path.dirname(package["manifest_path"]))')

(cd "$out" && sha256sum -- * > SHA256SUMS)
say "release $version:"
ls -l "$out" >&2
