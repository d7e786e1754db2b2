"""Turns the reliability log that the tests write ($TGW_PEERING_RELIABILITY_LOG, JSON lines) into
the table of docs/reliability.md: each fault or bad input tried, how many runs, and what was
created, lost and duplicated. Every figure is one a test measured and asserted on in this run.

    reliability_report.py LOG [--out FILE]

Prints the table; with --out, also writes the whole page (table plus the run's date, commit and
machine) to FILE.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

COLUMNS = [
    ("runs", "runs"),
    ("peeringCreates", "peerings created"),
    ("peeringsLive", "live peerings after"),
    ("routeCreates", "routes created"),
    ("foreignLost", "foreign routes/attachments lost"),
    ("duplicated", "duplicated"),
    ("mutatingCalls", "mutating calls"),
]

INTRO = """# Reliability

What the tests tried, and what happened. `scripts/test.sh` writes this table on every run (to
`dist/reliability/reliability.md`); this copy is from the run named below. Every figure was measured
by a test that also asserts on it, so a run that printed different figures would have failed.

- **suite** `emulator`: the functions driven through their Lambda handlers against the EC2 emulator
  (`tests/emulator_tests.rs`). `stack`: the real template and state machine deployed into the local
  AWS, running the real function binaries (`tests/stack/`).
- **foreign routes/attachments lost** counts every route and attachment another team made (VPC
  attachments, static routes, a blackhole, a conflicting route, a peering to a third Region) that is
  gone or changed afterwards.
- **duplicated**: live peerings beyond one, after the scenario.
- "–": the scenario does not measure that figure.

## Security checks (also under `scripts/test.sh`)

- **Least privilege.** `cloudformation/function-permissions.json` is the one list of EC2 actions per
  function. `tests/permissions.rs` runs every path of each function on the emulator and asserts that
  the actions called are exactly that list; `tests/stack/test_template.py` asserts that each role
  grants exactly those actions, no `*` action, mutating actions scoped to the account and the stack's
  Regions, creates only with the managed-by request tag and deletes only with the managed-by resource
  tag.
- **Template linters.** cfn-lint with no errors or warnings; checkov with each skip justified in the
  template's Metadata.
- **No credentials in logs.** A stack test runs the functions with distinctive stand-in credentials
  and session token and greps every captured log line for them.
- **Dependencies.** `cargo deny check licenses bans sources` (configured in `deny.toml`): every
  crate comes from crates.io, under a permissive licence on the allow list, with no wildcard
  versions.
- **Dependency advisories: not checked here.** `cargo audit` and `cargo deny check advisories` need
  the RustSec advisory database, which is a GitHub repository; this project's machines reach only
  crates.io, PyPI, npm and Debian, and no copy of the database is published there. No advisory has
  been accepted, because none could be read. Run `cargo deny check advisories` (it uses
  `deny.toml`) or `cargo audit` where GitHub is reachable, before a release.

## Figures
"""


def load(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def aggregate(records: list[dict]) -> list[dict]:
    """One row per (suite, scenario): runs add up; other figures keep their largest value, so a
    repeated scenario shows its worst case."""
    rows: dict[tuple[str, str], dict] = {}
    for record in records:
        key = (record.get("suite", ""), record["scenario"])
        row = rows.setdefault(key, {"suite": key[0], "scenario": key[1], "outcome": []})
        for field, _ in COLUMNS:
            if field not in record:
                continue
            if field == "runs":
                row[field] = row.get(field, 0) + record[field]
            else:
                row[field] = max(row.get(field, 0), record[field])
        if record.get("outcome") and record["outcome"] not in row["outcome"]:
            row["outcome"].append(record["outcome"])
    return sorted(rows.values(), key=lambda r: (r["suite"], r["scenario"]))


def table(rows: list[dict]) -> str:
    header = ["fault or bad input", "suite", *(title for _, title in COLUMNS), "outcome"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["scenario"], row["suite"], *(str(row.get(f, "–")) for f, _ in COLUMNS),
                 "; ".join(row["outcome"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def provenance() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    today = datetime.date.today().isoformat()
    return (f"Run: {today}, commit `{commit}`, {platform.machine()} with {os.cpu_count()} cores, "
            f"`scripts/test.sh`.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not args.log.exists():
        print(f"no reliability log at {args.log}: did the tests run?", file=sys.stderr)
        return 1
    rendered = table(aggregate(load(args.log)))
    print(rendered)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"{INTRO}\n{provenance()}\n\n{rendered}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
