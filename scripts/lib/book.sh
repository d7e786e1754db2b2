#!/usr/bin/env bash
# Builds the book (docs/book.toml) into dist/book/ with the pinned mdBook and fails on a broken
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

ensure_python_env
ensure_mdbook
"$MDBOOK" build docs
