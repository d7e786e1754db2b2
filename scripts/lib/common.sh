# Shared set-up for the project's scripts: source it, don't run it.
# Puts cargo's build output in a persistent cache outside the clone, and gives every script the
# same project-local Python environment, installed from pinned versions on first use.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tgw-peering/target}"
VENV="$ROOT/.venv"
PYTHON_LOCK="$ROOT/tests/emulator/requirements.lock"

say() { printf '==> %s\n' "$*" >&2; }

# Creates or refreshes .venv from the lock file; a no-op when the lock has not changed.
ensure_python_env() {
  local stamp="$VENV/.lock.sha256" want
  want="$(sha256sum "$PYTHON_LOCK" | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  say "installing the emulator's Python environment into .venv (pinned in tests/emulator/requirements.lock)"
  command -v python3 >/dev/null || { echo "python3 is required (3.10 or newer)" >&2; exit 1; }
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv \
    --no-deps -r "$PYTHON_LOCK"
  echo "$want" > "$stamp"
}

ensure_rust() {
  command -v cargo >/dev/null || { echo "cargo is required: install Rust with rustup" >&2; exit 1; }
  if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    say "adding the rustfmt and clippy components"
    rustup component add rustfmt clippy
  fi
}
