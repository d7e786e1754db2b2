"""Turns the reliability log that the tests write ($TGW_PEERING_RELIABILITY_LOG, JSON lines) into
the table of docs/reliability.md: each fault or bad input tried, how many runs, and what was
created, lost and duplicated. Every figure is one a test measured and asserted on in this run.

    reliability_report.py LOG [--out FILE]

Prints the table; with --out, also writes the whole page (table plus the run's date, commit and
machine) to FILE. The log's advisories record (scripts/lib/advisories.sh: "kind": "advisories") is
not a row: it becomes the page's "Dependency advisories" paragraph, what was checked against which
database.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import textwrap
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

INTRO_HEAD = """# Reliability

What the tests tried, and what happened. `scripts/test.sh` writes this table on every run (to
`dist/reliability/reliability.md`); this copy is from the run named below. Every figure was measured
by a test that also asserts on it, so a run that printed different figures would have failed.

- **suite** `emulator`: the functions driven through their Lambda handlers against the EC2 emulator
  (`tests/it/emulator.rs`). `stack`: the real template and state machine deployed into the local
  AWS, running the real function binaries (`tests/stack/`).
- **foreign routes/attachments lost** counts every route and attachment another team made (VPC
  attachments, static routes, a blackhole, a conflicting route, a peering to a third Region) that is
  gone or changed afterwards.
- **duplicated**: live peerings beyond one, after the scenario.
- "–": the scenario does not measure that figure.

## Security checks (also under `scripts/test.sh`)

- **Least privilege.** `cloudformation/function-permissions.json` is the one list of EC2 actions per
  function. `tests/it/permissions.rs` runs every path of each function on the emulator and asserts that
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
"""

INTRO_TAIL = """
## Figures
"""

HOW_ADVISORIES = ("`scripts/lib/advisories.sh` checks Cargo.lock with `cargo deny check advisories` "
                  "against the live RustSec database where GitHub is reachable, else against the "
                  "snapshot in `../shared/advisory-db/`; with neither, it says so and the run goes on "
                  "(under `TGW_PEERING_REQUIRE_ADVISORIES=1` it fails).")


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


def advisories_paragraph(record: dict | None) -> str:
    """The "Dependency advisories" item of the security checks, from the advisories record of the
    run (the last one, if several), or saying that the run recorded none."""
    if record is None:
        text = f"**Dependency advisories: not recorded in this run.** {HOW_ADVISORIES}"
    elif not record.get("checked"):
        reason = record.get("reason") or "no reason recorded"
        text = (f"**Dependency advisories: NOT checked in this run:** {reason}. No advisory database "
                f"was read. {HOW_ADVISORIES}")
    else:
        commit = (record.get("commit") or "unknown")[:12]
        date = (record.get("date") or "unknown").split("T")[0]
        if record.get("database") == "live":
            against = f"the live database, {record.get('source')}, commit `{commit}`, dated {date}"
        else:
            against = (f"the offline snapshot `{record.get('source')}`, commit `{commit}`, dated {date} "
                       f"(“{record.get('subject')}”)")
            if record.get("liveReason"):
                against += f", because {record['liveReason']}"
        if record.get("passed"):
            title = "**Dependency advisories.**"
            outcome = f"This run read {against}: no advisory matched."
        else:
            title = "**Dependency advisories: FAILED in this run.**"
            outcome = (f"This run read {against}: cargo-deny reported errors, an advisory that "
                       "`deny.toml` does not accept or a failure to run; its output says which.")
        text = (f"{title} `cargo deny check advisories` (`scripts/lib/advisories.sh`, rules in "
                "`deny.toml`) checks every crate in Cargo.lock for arm64 and x86_64 Linux against the "
                "RustSec advisory database: a vulnerability, unsound, notice or unmaintained "
                f"advisory, or a yanked version, fails the run unless `deny.toml` accepts it. {outcome}")
        accepted = record.get("accepted")
        if accepted is not None:
            listed = ", ".join(f"`{a}`" for a in accepted) if accepted else "none"
            text += f" Accepted advisories (`ignore` in `deny.toml`, each with its reason): {listed}."
    return textwrap.fill(text, width=100, initial_indent="- ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


def checks_section(records: list[dict]) -> str:
    """What each stricter-than-AWS check covered in this run (`kind: awsCheck` records): counts
    of the same check add up across tests, except a worst case, which keeps its largest value."""
    totals: dict[str, dict] = {}
    for record in (r for r in records if r.get("kind") == "awsCheck"):
        entry = totals.setdefault(record["check"], {"count": 0, "detail": record["detail"]})
        if record.get("worst"):
            entry["count"] = max(entry["count"], record["count"])
        else:
            entry["count"] += record["count"]
    if not totals:
        return ("\n## Stricter than AWS\n\nNo check recorded what it covered in this run.\n")
    lines = ["", "## Stricter than AWS (measured in this run)", "",
             "What the local AWS and the static checks refused or covered, so that what passes here",
             "does not fail on AWS (docs/aws-facts.md lists each behaviour with its source).", ""]
    for check, entry in sorted(totals.items()):
        lines.append(textwrap.fill(f"**{check}**: {entry['count']:,} {entry['detail']}.", width=100,
                                   initial_indent="- ", subsequent_indent="  ",
                                   break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines) + "\n"


SWEEP_COLUMNS = ("injected", "converged", "failedLoudly", "wrong", "notReached")


def sweep_section(records: list[dict]) -> str:
    """The fault sweep's table (`kind: faultSweep` records, tests/stack/test_fault_sweep.py): per
    scenario and fault kind, faults injected and how each ended."""
    rows = [r for r in records if r.get("kind") == "faultSweep"]
    if not rows:
        return "\n## Fault sweep\n\nThe fault sweep did not run.\n"
    sampled = any(r.get("sampled") for r in rows)
    seeds = sorted({str(r["seed"]) for r in rows})
    lines = ["", "## Fault sweep (measured in this run)", "",
             "For each scenario, a clean run records its calls (the functions' and the state machine's own);",
             "then each chosen call meets each fault kind in turn, on the same network rebuilt: a throttle",
             "(`retryable`), the call's own failure (`nonRetryable`), the function killed right after the",
             "answer (`crash`), the call carried out with its answer lost (`answerLost`). The execution runs,",
             "one more follows as the schedule would start it, and the invariants are checked",
             "(tests/stack/fault_sweep.py). `wrong` counts runs that ended SUCCEEDED with the network wrong,",
             "changed what the tool did not create, leaked a record, or left a lock held or an execution",
             "running; `failedLoudly`, runs that did not converge and said so with their error.",
             "",
             (f"Sampled (the first and last call, one write of each scenario, drawn at"
              f" random, each with one kind, and the faults the sweep once found wrong; seed {', '.join(seeds)}); `scripts/fault-sweep.sh --all` injects every kind"
              " at every call." if sampled else "Every kind at every call (`scripts/fault-sweep.sh --all`)."),
             "",
             "| scenario | fault | calls in the clean run | " + " | ".join(SWEEP_COLUMNS) + " |",
             "|" + "---|" * (3 + len(SWEEP_COLUMNS))]
    for r in sorted(rows, key=lambda r: (r["sweepScenario"], r["fault"])):
        lines.append(f"| {r['sweepScenario']} | {r['fault']} | {r['calls']} | "
                     + " | ".join(str(r[c]) for c in SWEEP_COLUMNS) + " |")
    totals = {c: sum(r[c] for r in rows) for c in SWEEP_COLUMNS}
    lines.append("| **all** | | | " + " | ".join(f"**{totals[c]}**" for c in SWEEP_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def intro(records: list[dict]) -> str:
    advisories = [r for r in records if r.get("kind") == "advisories"]
    return (f"{INTRO_HEAD}{advisories_paragraph(advisories[-1] if advisories else None)}\n"
            f"{checks_section(records)}{sweep_section(records)}{INTRO_TAIL}")


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
    parser.add_argument("--sweep-only", action="store_true",
                        help="print and write only the fault sweep's table (scripts/fault-sweep.sh)")
    args = parser.parse_args()
    if not args.log.exists():
        print(f"no reliability log at {args.log}: did the tests run?", file=sys.stderr)
        return 1
    records = load(args.log)
    if args.sweep_only:
        section = sweep_section(records)
        print(section)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(f"# Fault sweep\n\n{provenance()}\n{section}", encoding="utf-8")
        return 0
    rendered = table(aggregate([r for r in records if "kind" not in r]))
    print(rendered)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"{intro(records)}\n{provenance()}\n\n{rendered}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
