#!/usr/bin/env bash
# Builds the book (docs/book.toml) into dist/book/ with the pinned mdBook and fails on a broken
# internal link or anchor (scripts/lib/book_links.py). scripts/test.sh runs it; it also runs alone.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

ensure_python_env
ensure_mdbook
# mdBook only warns about markup it cannot render (an unclosed HTML tag such as a bare <ARN>
# swallows the text after it), so a warning fails the build too.
log="$("$MDBOOK" build docs 2>&1)" || { printf '%s\n' "$log" >&2; exit 1; }
printf '%s\n' "$log" >&2
if grep -q ' WARN ' <<<"$log"; then
  say "mdbook warned about the book's markup (above): fix it"
  exit 1
fi
"$VENV/bin/python" scripts/lib/book_links.py dist/book
