"""Turns the results of bench.py (JSON) into tables on stdout, docs/performance.md and the plot
docs/performance-api-calls.png. It adds what needs no local AWS: the zip size of each function
from dist/lambda/, the release and untuned profiles from Cargo.toml, and the machine and commit.

    bench_report.py RESULTS --zips DIR --bin-dir DIR [--md FILE --png FILE]

Every figure is one that was measured in this run; a figure that could not be measured says why.
Targets are shown beside the figures for comparison and never fail the run.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ("peer", "get-status", "modify-routes")
ACTIVE, PASSIVE = "us-east-1", "us-west-2"
MIB = 1024 * 1024
PROFILES_BUILD = (
    f"host {platform.machine()}, release vs untuned profile; zips made by the bench "
    "(the shipped arm64 zips: the row above)"
)


# --- formatting ---------------------------------------------------------------------------------


ROUTE_WRITE_ACTIONS = ("CreateTransitGatewayRoute", "CreateRoute", "DeleteTransitGatewayRoute", "DeleteRoute")
ASSOCIATION_ACTIONS = ("AssociateTransitGatewayRouteTable", "DisassociateTransitGatewayRouteTable")


def route_writes(row: dict[str, Any]) -> int | None:
    """A scale row's route writes, or None when it made a write that is neither a route nor the
    peering's association (which would break the target)."""
    writes = row.get("writes") or {}
    if any(action not in ROUTE_WRITE_ACTIONS + ASSOCIATION_ACTIONS for action in writes):
        return None
    return sum(n for action, n in writes.items() if action in ROUTE_WRITE_ACTIONS)


def written(row: dict[str, Any]) -> str:
    """"routes/missing", with the association and any other write named after it."""
    writes = row.get("writes") or {}
    others = {a: n for a, n in writes.items() if a not in ROUTE_WRITE_ACTIONS}
    routes = sum(n for a, n in writes.items() if a in ROUTE_WRITE_ACTIONS)
    extra = "".join(f" + {n} {a}" for a, n in sorted(others.items()))
    return f"{routes}/{row['missing']}{extra}"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A Markdown pipe table, padded so that it also reads well as plain text."""
    cells = [[str(h) for h in headers]] + [["–" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = lambda row: "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join(
        [
            line(cells[0]),
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(line(row) for row in cells[1:]),
        ]
    )


def ms(value: float | None) -> str | None:
    return None if value is None else f"{value:,.1f} ms"


def pct(value: float | None) -> str | None:
    return None if value is None else f"{100 * value:.1f}%"


def mib(kib: int | None) -> str | None:
    return None if kib is None else f"{kib / 1024:.1f} MiB"


def change(before: float | None, after: float | None) -> str | None:
    """The relative change from before to after, signed."""
    if before is None or after is None or before == 0:
        return None
    return f"{100 * (after - before) / before:+.1f}%".replace("-", "−")


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("within" if ok else "**missed**")


def met(ok: bool | None) -> str:
    """The issue's targets read met or missed, never softened."""
    return "–" if ok is None else ("met" if ok else "**missed**")


# Issue 15's targets for the scale phase.
SCALE_RSS_TARGET_KIB = 64 * 1024
RERUN_GROWTH_TARGET = 2.0
# Linear cost: the function's CPU at the largest size is at most this many times the VPC ratio.
LINEAR_SLACK = 1.5
# How many calls each paged read takes for n VPCs (or about n routes in a table), as the functions
# page: 1,000 items a page; DescribeSubnets and DescribeRouteTables filter on at most 200 VPC ids a
# call, and DescribeRouteTables pages at 100 tables. A full page may be followed by an empty one.
FILTER_VALUES = 200


def _pages(items: int, size: int) -> int:
    return items // size + 1


def read_pages(action: str, vpcs: int) -> int | None:
    chunks = -(-vpcs // FILTER_VALUES) or 1
    if action == "DescribeSubnets":
        return chunks * _pages(min(vpcs, FILTER_VALUES), 1000)
    if action == "DescribeRouteTables":
        return chunks * _pages(min(vpcs, FILTER_VALUES), 100)
    if action in (
        "DescribeVpcs",
        "DescribeTransitGatewayVpcAttachments",
        "DescribeTransitGatewayAttachments",
        "SearchTransitGatewayRoutes",
    ):
        return _pages(vpcs, 1000)
    return None


def allowed_reads(base: dict[str, int], base_vpcs: int, vpcs: int) -> int:
    """The read calls at `vpcs` VPCs that pagination alone explains, from `base` (reads by action
    at `base_vpcs`): a paged action's calls may grow as its pages do; any other stays as it was."""
    total = 0
    for action, calls in base.items():
        then, now = read_pages(action, base_vpcs), read_pages(action, vpcs)
        total += calls if then is None or now is None else -(-calls * now // then)
    return total


def rerun_rows(scale: dict[str, Any]) -> list[dict[str, Any]]:
    """Per size, the re-run (nothing to do): modify-routes wall time, the emulator's time during it,
    the function's CPU, its wall time apart from the emulator, peak RSS and read calls per side."""
    out = []
    for vpcs in sorted({row["vpcs"] for row in scale["rows"]}):
        mine = [row for row in scale["rows"] if row["vpcs"] == vpcs and row["run"] == "re-run"]
        if not mine:
            continue
        first = mine[0]
        wall, server = first["modifyRoutesMs"], first.get("runServerMs")
        out.append(
            {
                "vpcs": vpcs,
                "wallMs": wall,
                "serverMs": server,
                "cpuMs": first.get("cpuMs"),
                "ownMs": None if server is None else wall - server,
                "peakRssKiB": first.get("peakRssKiB"),
                "reads": {row["side"]: row["readCalls"] for row in mine},
                "readsByAction": {row["side"]: row["reads"] for row in mine},
                "serverByAction": next(
                    (row.get("serverMsByAction") or {} for row in mine if row["side"] == "active"), {}
                ),
                "writes": sum(row["writeCalls"] for row in mine),
                "status": first["status"],
                "pairs": first.get("pairs"),
                "load": first.get("loadAverage"),
            }
        )
    return out


def growth(rows: list[dict[str, Any]], key: str) -> float | None:
    if len(rows) < 2 or rows[0].get(key) in (None, 0) or rows[-1].get(key) is None:
        return None
    return rows[-1][key] / rows[0][key]


def side_name(region: str) -> str:
    return "active" if region == ACTIVE else "passive"


def actions(counts: dict[str, int]) -> str:
    return ", ".join(f"{a} {n}" for a, n in sorted(counts.items())) or "none"


def run_figures(x: dict[str, Any]) -> str:
    """One measured no-op execution: its outcome, modify-routes' time and where it went."""
    outcome = x["status"] + (f": {x['error']}" if x["error"] else "")
    counts = "; ".join(
        f"{side}: " + ", ".join(f"{k} {v:,}" for k, v in c.items()) for side, c in x["counts"].items()
    )
    return (
        f"{outcome} in {x['executionSeconds']:.2f} s; modify-routes reported {counts}; it ran "
        f"{x['modifyRoutesInvocations']} invocation(s){' from a cold start' if x['coldStart'] else ''}: "
        f"{ms(x['modifyRoutesMs'])} wall, billed {x['billedMs']:,} ms; moto was busy answering its calls for "
        f"{ms(x['runServerMs'])}, which leaves {ms(x['ownMs'])} for the function, its SDK and the loopback hops "
        f"(billed {x['ownBilledMs']:,} ms); function CPU {ms(x['cpuMs'])}, peak RSS {mib(x['peakRssKiB'])}, "
        f"load average {x['loadAverage']}"
    )


def table_contents(x: dict[str, Any]) -> str:
    return "; ".join(
        f"{side_name(region)} {s['tableRoutes']:,} routes, {s['toolRoutes']:,} of them the tool's"
        for region, s in x["sides"].items()
    )


def reconcile_text(rec: dict[str, Any]) -> str:
    """What the reconcile phase did, with its figures for both sides advertising."""
    n = rec["routesPerRegion"]
    seeding = "; ".join(
        f"run {i} {run['status']} in {run['seconds']:.0f} s ({run['modifyRoutesInvocations']} modify-routes "
        f"invocation(s)), the tool's routes then "
        + ", ".join(f"{side_name(r)} {held:,}" for r, held in run["routesHeld"].items())
        for i, run in enumerate(rec["seeding"], 1)
    )
    over_quota = (
        ", above the default quota of 10,000 routes per gateway, which on AWS would need raising too"
        if 2 * n > 10_000
        else ""
    )
    return (
        f"Issue 16: a reconcile with nothing to do at {n:,} routes per table. Each Region's transit gateway has "
        f"a VPN attachment advertising {n:,} ranges (`POST /_harness/advertised-routes`) into its default route "
        f"table, which the peering is associated with; the stack is deployed with `PropagatedCidrs=true`, so "
        f"each side's table wants the other side's {n:,} ranges as static routes via the peering. Each table "
        f"then holds the tool's static routes and its own propagated ones: {table_contents(rec)} (`routes in "
        f"table`: every route SearchTransitGatewayRoutes lists). Seeding runs create the routes with "
        f"modify-routes' writes unpaced and its route quota raised (`TGW_ROUTE_QUOTA`: each gateway then "
        f"holds about {2 * n:,} routes{over_quota}): {seeding} ({rec['seedSeconds']:.0f} s). Then the stack's "
        f"own settings are put back and one execution runs with nothing to do: {run_figures(rec)}. The CPU is "
        f"this machine's, a whole core; Lambda gives a function CPU in proportion to its memory (one vCPU at "
        f"1,769 MB), so at the stack's 128 MB the same work takes longer there.\n\n"
        f"Reads and writes are the calls the harness recorded during modify-routes' invocations, per Region "
        f"and action. SearchTransitGatewayRoutes pages 1,000 routes a call, static and propagated alike, so "
        f"the table's whole size sets its pages. The record's reads (`dynamodb:Query`, one a side while it "
        f"fits a MB) go to the state table in the stack's Region, so both sides' are counted there: the "
        f"active side's count is the larger by the passive side's Query. `emulator` is moto's time "
        f"answering that Region's EC2 calls; both Regions are "
        f"read at once, so the two overlap. States: {' → '.join(rec['states'])}."
    )


def one_sided_text(one: dict[str, Any]) -> str:
    """The same reconcile where only the active side advertises, so that each table holds exactly N."""
    if "sides" not in one:
        why = one.get("failed", "").splitlines()[0][:200] if one.get("failed") else "it did not run"
        return f"\n\nThe same with only the active side advertising was not measured: {why}."
    return (
        f"\n\nThe same in a second account where only the active side's VPN attachment advertises its ranges, "
        f"so that each table holds {one['routesPerRegion']:,} routes and no more: {table_contents(one)}. "
        f"The no-op execution: {run_figures(one)}."
    )


# --- what needs no local AWS ------------------------------------------------------------------


def machine(started: str | None = None) -> dict[str, str]:
    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unknown"

    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    dirty = run("git", "status", "--porcelain", "--untracked-files=no")
    commit = run("git", "rev-parse", "HEAD")
    return {
        "date": started or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "arch": run("uname", "-m"),
        "cores": run("nproc"),
        "cpu": cpu,
        "kernel": platform.release(),
        "memory": _memory(),
        "commit": commit + (" with uncommitted changes" if dirty and dirty != "unknown" else ""),
        "rustc": run("rustc", "--version"),
    }


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kib = int(f.readline().split()[1])
        return f"{kib / MIB:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def zip_sizes(zips: Path) -> dict[str, int | None]:
    return {
        f: (zips / f"{f}.zip").stat().st_size if (zips / f"{f}.zip").is_file() else None for f in FUNCTIONS
    }


def release_profile(name: str = "release") -> str:
    """The `[profile.NAME]` section of Cargo.toml: its header and settings, up to the first
    blank line or next section."""
    lines = (ROOT / "Cargo.toml").read_text(encoding="utf-8").splitlines()
    header = f"[profile.{name}]"
    if header not in lines:
        return f"(no {header} in Cargo.toml)"
    start = lines.index(header)
    section = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith("["):
            break
        section.append(line)
    return "\n".join(section)


# --- figures --------------------------------------------------------------------------------------


PEERING_DESCRIBE = "DescribeTransitGatewayPeeringAttachments"


def held_pending(billed: dict[str, Any]) -> str:
    seconds = billed.get("pendingSeconds")
    return f"{seconds:g} s" if seconds is not None else f"{billed.get('pendingReads', '?')} describe reads (older results)"


def describes_per_execution(run: dict[str, Any]) -> str:
    """How many DescribeTransitGatewayPeeringAttachments calls the execution made, and per poll:
    the emulator's peering progresses by time, so a tool that polls more often is no faster and
    shows only here."""
    n = run.get("peeringDescribes")
    if n is None:
        return f"{PEERING_DESCRIBE} calls not measured (results from before they were counted)"
    polls = run.get("getStatusPolls") or 0
    by_function = run.get("peeringDescribesByFunction") or {}
    mine = by_function.get("get-status")
    per_poll = f", {mine / polls:.1f} per poll" if polls and mine is not None else ""
    who = ", ".join(f"{f} {c}" for f, c in by_function.items() if c)
    return (f"{n} {PEERING_DESCRIBE} calls in {run['seconds']:.1f} s" + (f" ({who})" if who else "")
            + f"; get-status polls: {polls}{per_poll}")


def describes_row(run: dict[str, Any], pending_seconds: float, poll_seconds: float, build: str) -> list[Any]:
    """The summary row: describes per execution with the peering pending T s and polled every P s.
    Each poll reads both Regions, and the run needs about T / P polls, so the count shows a tool
    that polls more often than its interval says."""
    return [
        f"{PEERING_DESCRIBE} calls per execution, peering pending {pending_seconds:g} s, "
        f"polled every {poll_seconds:g} s",
        describes_per_execution(run) + f"; {run['status']}",
        "report it",
        build,
        "–",
    ]


class Report:
    def __init__(self, results: dict[str, Any], zips: dict[str, int | None], bin_dir: str) -> None:
        self.r = results
        self.zips = zips
        self.host_build = f"host release ({platform.machine()}), `{bin_dir}`"
        self.failures = results.get("failures", {})

    def why_missing(self, phase: str) -> str:
        if phase in self.failures:
            return f"not measured: the {phase} phase failed ({self.failures[phase].splitlines()[0][:200]})"
        return f"not measured: the {phase} phase did not run"

    # One row of the summary per figure of the issue.
    def summary_rows(self) -> list[list[Any]]:
        rows = []
        scale = self.r.get("scale")
        if scale:
            reads = "; ".join(
                f"{side}: "
                + ", ".join(
                    f"{row['readCalls']}"
                    for row in scale["rows"]
                    if row["side"] == side and row["run"] == "first"
                )
                for side in ("active", "passive")
            )
            counts = "/".join(f"{v:,}" for v in sorted({row["vpcs"] for row in scale["rows"]}))
            # The target is about routes: one write per missing route, nothing per table (the old
            # tag record cost a CreateTags a table). The peering's association with its table is
            # one write the first run makes once, listed apart.
            write_ok = all(route_writes(row) == row["missing"] for row in scale["rows"])
            read_sets = {
                side: {row["readCalls"] for row in scale["rows"] if row["side"] == side}
                for side in ("active", "passive")
            }
            constant = all(len(v) == 1 for v in read_sets.values())
            rows.append(
                [
                    "EC2 read calls per modify-routes run, per Region",
                    f"{reads} (at {counts} VPCs)",
                    "constant apart from pagination pages",
                    self.host_build,
                    verdict(constant) if constant else "varies: see the table below",
                ]
            )
            per_run = []
            for vpcs, run in dict.fromkeys((row["vpcs"], row["run"]) for row in scale["rows"]):
                mine = {row["side"]: row for row in scale["rows"] if (row["vpcs"], row["run"]) == (vpcs, run)}
                pairs = {side: written(row) for side, row in mine.items()}
                per_run.append(
                    next(iter(pairs.values()))
                    if len(set(pairs.values())) == 1
                    else ", ".join(f"{side} {v}" for side, v in pairs.items())
                )
            rows.append(
                [
                    "EC2 write calls per modify-routes run, per Region",
                    " · ".join(per_run) + " (route writes/missing routes, first run and re-run at each size)",
                    "route writes equal to the missing routes, no other write but the association",
                    self.host_build,
                    verdict(write_ok),
                ]
            )
            rows.extend(self.scale_target_rows(scale))
        else:
            rows.append(["EC2 calls per modify-routes run", self.why_missing("scale"), "", "", "–"])

        throttle = self.r.get("throttle")
        if throttle:
            sides = throttle["sides"].values()
            rate = min(
                (s["shareOfSustainable"] for s in sides if s["shareOfSustainable"] is not None), default=None
            )
            share = max((s["throttledShare"] for s in sides if s["throttledShare"] is not None), default=None)
            scaled = f" (timeScale {throttle['timeScale']:g})" if throttle["timeScale"] != 1 else ""
            rows.append(
                [
                    f"routes created per second under the token bucket{scaled}",
                    ", ".join(
                        (
                            f"{s['routesPerSecond']:.2f}/s ({pct(s['shareOfSustainable'])})"
                            if s["routesPerSecond"] is not None
                            else "–"
                        )
                        for s in sides
                    )
                    + f" per Region of {throttle['sustainablePerSecond']:g}/s sustainable; {throttle['status']}",
                    "≥ 90% of the sustainable rate",
                    self.host_build,
                    verdict(rate >= 0.9 if rate is not None and throttle["status"] == "SUCCEEDED" else False),
                ]
            )
            rows.append(
                [
                    "share of mutating calls throttled",
                    ", ".join(pct(s["throttledShare"]) or "–" for s in sides) + " per Region",
                    "≤ 5%",
                    self.host_build,
                    verdict(share <= 0.05 if share is not None else None),
                ]
            )
        else:
            rows.append(["throughput under the token bucket", self.why_missing("throttle"), "", "", "–"])

        prune = self.r.get("prune")
        if prune:
            sides = prune["sides"].values()
            rate = min((s["shareOfSustainable"] for s in sides if s["shareOfSustainable"] is not None), default=None)
            share = max((s["throttledShare"] for s in sides if s["throttledShare"] is not None), default=None)
            done = prune["status"] == "SUCCEEDED" and all(s["left"] == 0 for s in sides)
            rows.append(
                [
                    "stale routes pruned per second under the token bucket",
                    ", ".join(
                        f"{s['removed']} in {s['routesPerSecond'] and s['removed'] / s['routesPerSecond']:.1f} s: "
                        f"{s['routesPerSecond']:.2f}/s ({pct(s['shareOfSustainable'])})"
                        if s["routesPerSecond"]
                        else "–"
                        for s in sides
                    )
                    + f" per Region of {prune['sustainablePerSecond']:g}/s sustainable; {prune['status']}",
                    "≥ 90% of the sustainable rate",
                    self.host_build,
                    verdict(rate >= 0.9 if rate is not None and done else False),
                ]
            )
            rows.append(
                [
                    "share of mutating calls throttled while pruning",
                    ", ".join(pct(s["throttledShare"]) or "–" for s in sides) + " per Region",
                    "≤ 5%",
                    self.host_build,
                    verdict(share <= 0.05 if share is not None else None),
                ]
            )
        else:
            rows.append(["pruning under the token bucket", self.why_missing("prune"), "", "", "–"])
        rows.extend(self.reconcile_rows())
        rows.extend(self.mesh_rows())

        cold = (self.r.get("cold") or {}).get("coldStart")
        if cold:
            medians = {
                f: cold[f]["null"]["summary"]["median"] for f in FUNCTIONS if "null" in cold.get(f, {})
            }
            rows.append(
                [
                    "cold start, process start to first answer (input refused before any AWS call)",
                    ", ".join(f"{f} {ms(m)}" for f, m in medians.items()) + " (medians)",
                    "≤ 50 ms",
                    self.host_build,
                    verdict(all(m <= 50 for m in medians.values()) if medians else None),
                ]
            )
            real = {f: cold[f]["real"]["summary"]["median"] for f in FUNCTIONS if "real" in cold.get(f, {})}
            rows.append(
                [
                    "cold start, process start to first answer (a real request, EC2 calls to the emulator included)",
                    ", ".join(f"{f} {ms(m)}" for f, m in real.items()) + " (medians)",
                    "(context)",
                    self.host_build,
                    "–",
                ]
            )
            warm = self.r["cold"]["warm"].get("real")
            floor = self.r.get("floor") or {}
            if warm:
                context = ""
                if floor.get("keepAlive", {}).get("median") is not None:
                    context = (
                        f"; a do-nothing runtime on the same path: {ms(floor['keepAlive']['median'])}"
                        + (
                            f", {ms(floor['quickack']['median'])} with TCP_QUICKACK"
                            if floor.get("quickack", {}).get("median") is not None
                            else ""
                        )
                    )
                rows.append(
                    [
                        "warm invocation of get-status (a real request: 2 DescribeTransitGatewayPeeringAttachments)",
                        f"{ms(warm['summary']['median'])} median of {warm['summary']['n']}{context}",
                        "report it",
                        self.host_build,
                        "–",
                    ]
                )
        else:
            rows.append(["cold start and warm latency", self.why_missing("cold"), "", "", "–"])

        small = self.r.get("small")
        if small:
            billed = small["billed"]
            rss = {f: billed["functions"][f]["peakRssKiB"] for f in FUNCTIONS}
            known = [v for v in rss.values() if v is not None]
            rows.append(
                [
                    "peak RSS during a full run (VmHWM)",
                    ", ".join(f"{f} {mib(v)}" for f, v in rss.items()),
                    "≤ 32 MiB",
                    self.host_build,
                    verdict(all(v <= 32 * 1024 for v in known) if known else None),
                ]
            )
            rows.append(
                [
                    f"billed Lambda time, one execution pending for {billed['pendingPolls']} polls",
                    f"{billed['totalBilledMs']:,} ms in {len(billed['invocations'])} invocations; {billed['status']}",
                    "≤ 2 s",
                    self.host_build,
                    verdict(billed["totalBilledMs"] <= 2000),
                ]
            )
            e2e = small["endToEnd"]
            rows.append(describes_row(e2e, e2e["provisioningSeconds"], e2e["pollSeconds"], self.host_build))
            rows.append(
                [
                    f"end-to-end time minus provisioning time T = {e2e['provisioningSeconds']:g} s",
                    f"{e2e['overSeconds']:.2f} s (execution {e2e['seconds']:.2f} s; {e2e['status']})",
                    f"≤ one poll interval ({e2e['pollSeconds']} s)",
                    self.host_build,
                    verdict(e2e["overSeconds"] <= e2e["pollSeconds"] and e2e["status"] == "SUCCEEDED"),
                ]
            )
        else:
            rows.append(["peak RSS, billed time, end-to-end time", self.why_missing("small"), "", "", "–"])
        scale_rss = self._scale_rss()
        if scale_rss is not None:
            rows.append(
                [
                    f"peak RSS of modify-routes at {self.r['scale']['vpcs']:,} tagged VPCs per Region",
                    mib(scale_rss),
                    "≤ 32 MiB",
                    self.host_build,
                    verdict(scale_rss <= 32 * 1024),
                ]
            )

        sizes = {f: s for f, s in self.zips.items() if s is not None}
        rows.append(
            [
                "zip size per function",
                ", ".join(f"{f} {s / MIB:.2f} MiB ({s:,} B)" for f, s in sizes.items())
                or "not measured: no dist/lambda/*.zip (scripts/build.sh)",
                "≤ 8 MiB",
                "arm64 release (`scripts/build.sh`, cargo lambda)",
                verdict(all(s <= 8 * MIB for s in sizes.values()) if sizes else None),
            ]
        )
        rows.append(
            [
                "release profile: binary/zip size and cold start, tuned vs untuned",
                self._profiles_change(),
                "report the change",
                PROFILES_BUILD,
                "–",
            ]
        )
        return rows

    def two_region(self, key: str) -> float | None:
        """The small phase's two-Region run with provisioning held T s, summed over its
        invocations: `billedMs` or `cpuMs`."""
        end = (self.r.get("small") or {}).get("endToEnd") or {}
        values = [f.get(key) for f in (end.get("functions") or {}).values()]
        return sum(values) if values and None not in values else None

    def mesh_rows(self) -> list[list[Any]]:
        """Issue 17's targets for a 4-Region mesh, each with met or missed."""
        mesh = self.r.get("mesh")
        if not mesh:
            return [["4-Region mesh in one execution", self.why_missing("mesh"), "", "", "–"]]
        run, rerun = mesh["run"], mesh["rerun"]
        ok = run["status"] == "SUCCEEDED"
        two = self.two_region("billedMs")
        two_cpu = self.two_region("cpuMs")
        n = len(mesh["regions"])
        pairs = run.get("pairSeconds") or []
        spent = (
            f"; the check {run['planSeconds']:.1f} s, the pairs' own executions {min(pairs):.1f}–{max(pairs):.1f} s, "
            f"all pairs {run['pairsSeconds']:.1f} s"
            if pairs and run.get("planSeconds") is not None and run.get("pairsSeconds") is not None
            else ""
        )
        rerun_writes = sum(c["writes"] for c in rerun["calls"].values())
        return [
            [
                f"{n}-Region mesh ({run['pairs']} pairs), provisioning held {mesh['provisioningSeconds']:g} s: "
                "execution time minus that",
                f"{run['overSeconds']:.1f} s ({run['seconds']:.1f} s in all{spent}); {run['status']}: {run['summary']}",
                f"≤ one poll interval ({mesh['pollSeconds']} s)",
                self.host_build,
                met(ok and run["overSeconds"] <= mesh["pollSeconds"]),
            ],
            [
                "the same: billed Lambda time, every pair's execution included",
                f"{run['totalBilledMs']:,} ms"
                + (f" (two Regions: {two:,} ms; ×{run['totalBilledMs'] / two:.1f})" if two else ""),
                "≤ 6 × the two-Region run's",
                self.host_build,
                met(ok and two is not None and run["totalBilledMs"] <= 6 * two) if two else "not measured: no small phase",
            ],
            [
                "the same: the functions' CPU time (what the functions do, whatever the emulator's queue)",
                f"{run['cpuMs']:,.0f} ms"
                + (f" (two Regions: {two_cpu:,.0f} ms; ×{run['cpuMs'] / two_cpu:.1f})" if two_cpu else ""),
                "≤ 6 × the two-Region run's",
                self.host_build,
                met(ok and run["cpuMs"] <= 6 * two_cpu) if two_cpu and run.get("cpuMs") is not None else "–",
            ],
            [
                "the same: EC2 calls per Region (reads/writes)",
                ", ".join(f"{region} {c['reads']}/{c['writes']}" for region, c in run["calls"].items()),
                "report it",
                self.host_build,
                "–",
            ],
            [
                "the same mesh again, with nothing to do: execution time; EC2 writes",
                f"{rerun['seconds']:.1f} s, billed {rerun['totalBilledMs']:,} ms; {rerun_writes} writes; "
                f"{rerun['status']}",
                "report the time; 0 writes",
                self.host_build,
                met(rerun["status"] == "SUCCEEDED" and rerun_writes == 0),
            ],
        ]

    def reconcile_rows(self) -> list[list[Any]]:
        """Issue 16's targets for a reconcile with nothing to do, each with met or missed."""
        rec = self.r.get("reconcile")
        if not rec:
            return [["reconcile with nothing to do at 10,000 routes per table", self.why_missing("reconcile"), "",
                     "", "–"]]
        size = f"{rec['routesPerRegion']:,} of the tool's routes per peering table"
        sides = rec["sides"]
        reads = {side_name(region): s["readCalls"] for region, s in sides.items()}
        own_writes = sum(s["writeCalls"] for s in sides.values())
        all_writes = sum(rec["executionWrites"].values())
        ok = rec["status"] == "SUCCEEDED"
        rows = [
            [
                f"reconcile with nothing to do, {size}: modify-routes read calls per Region",
                ", ".join(f"{side} {n}" for side, n in reads.items()) + f"; {rec['status']}",
                f"≤ {rec['readsTarget']} per side",
                self.host_build,
                met(ok and all(n <= rec["readsTarget"] for n in reads.values())),
            ],
            [
                "the same: mutating calls",
                f"modify-routes {own_writes}; the whole execution's EC2 writes {all_writes}",
                "0",
                self.host_build,
                met(ok and own_writes == 0 and all_writes == 0),
            ],
            [
                "the same: modify-routes billed time (the emulator's time answering its calls included)",
                f"{rec['billedMs']:,} ms in {rec['modifyRoutesInvocations']} invocation(s)"
                + (" (cold)" if rec["coldStart"] else ""),
                f"≤ {rec['billedTargetMs'] / 1000:g} s",
                self.host_build,
                met(ok and rec["billedMs"] <= rec["billedTargetMs"]),
            ],
            [
                "the same, the function's own: billed time less the emulator's (see below)",
                f"{rec['ownBilledMs']:,} ms (emulator {ms(rec['runServerMs'])}, function CPU {ms(rec['cpuMs'])})",
                f"≤ {rec['billedTargetMs'] / 1000:g} s",
                self.host_build,
                met(ok and rec["ownBilledMs"] <= rec["billedTargetMs"]),
            ],
            [
                "the same: the execution's wall time (Step Functions' start to stop)",
                f"{rec['executionSeconds']:.2f} s",
                "report it",
                self.host_build,
                "–",
            ],
        ]
        return rows + self._one_sided_rows(rec.get("oneSided") or {})

    def _one_sided_rows(self, one: dict[str, Any]) -> list[list[Any]]:
        """The same reconcile where only the active side advertises: each table holds N routes."""
        if "sides" not in one:
            why = f"not measured: {one['failed'].splitlines()[0][:200]}" if one.get("failed") else "not measured"
            return [["the same with only the active side advertising", why, "", "", "–"]]
        reads = {side_name(region): s["readCalls"] for region, s in one["sides"].items()}
        sizes = "/".join(f"{s['tableRoutes']:,}" for s in one["sides"].values())
        ok = one["status"] == "SUCCEEDED"
        return [
            [
                f"the same with only the active side advertising (tables of {sizes} routes; the passive "
                f"one all the tool's): read calls per Region",
                ", ".join(f"{side} {n}" for side, n in reads.items())
                + f"; writes {sum(s['writeCalls'] for s in one['sides'].values())}; {one['status']}",
                f"≤ {one['readsTarget']} per side",
                self.host_build,
                met(ok and all(n <= one["readsTarget"] for n in reads.values())),
            ],
            [
                "the same: modify-routes billed time; the function's own (less the emulator's)",
                f"{one['billedMs']:,} ms; own {one['ownBilledMs']:,} ms",
                f"≤ {one['billedTargetMs'] / 1000:g} s",
                self.host_build,
                f"{met(ok and one['billedMs'] <= one['billedTargetMs'])}; own "
                f"{met(ok and one['ownBilledMs'] <= one['billedTargetMs'])}",
            ],
        ]

    def profiles_missing(self) -> str:
        if "profiles" in self.failures:
            return self.why_missing("profiles")
        return (
            "not run: this run was without `--profiles`; `scripts/bench.sh --profiles` measures it "
            "(`scripts/bench.sh --phases profiles --profiles` for this section alone)"
        )

    def _profile_figures(self, profile: str, function: str) -> dict[str, Any]:
        """bytes, zipBytes, and the cold start medians and sample counts of one profile's binary."""
        entry = (self.r.get("profiles") or {}).get(profile) or {}
        binary = entry.get("binaries", {}).get(function, {})
        cold = (entry.get("coldStart") or {}).get(function, {})
        return {
            "bytes": binary.get("bytes"),
            "zipBytes": binary.get("zipBytes"),
            **{f"{kind}Median": cold.get(kind, {}).get("summary", {}).get("median") for kind in ("null", "real")},
            **{f"{kind}N": cold.get(kind, {}).get("summary", {}).get("n") for kind in ("null", "real")},
            **{f"{kind}Answer": ", ".join(cold.get(kind, {}).get("errorTypes", [])) for kind in ("null", "real")},
        }

    def _profiles_change(self) -> str:
        profiles = self.r.get("profiles")
        if not profiles:
            return self.profiles_missing()
        figures = {
            f: (self._profile_figures("untuned", f), self._profile_figures("release", f)) for f in FUNCTIONS
        }

        def part(label: str, key: str, fmt: Any) -> str:
            return f"{label}: " + ", ".join(
                f"{f} "
                + (
                    f"{fmt(u[key])} → {fmt(t[key])} ({change(u[key], t[key])})"
                    if u[key] is not None and t[key] is not None
                    else "–"
                )
                for f, (u, t) in figures.items()
            )

        parts = [
            part("binary", "bytes", lambda b: f"{b / MIB:.2f} MiB"),
            part("zip", "zipBytes", lambda b: f"{b / MIB:.2f} MiB"),
            part("cold start (`null`)", "nullMedian", lambda v: f"{v:.1f} ms"),
            part("cold start (real request)", "realMedian", lambda v: f"{v:.1f} ms"),
        ]
        failed = [p for p in ("release", "untuned") if (profiles.get(p) or {}).get("error")]
        note = f"; cold starts not measured for {', '.join(failed)} (see below)" if failed else ""
        return "untuned → tuned; " + "; ".join(parts) + " (medians)" + note

    def scale_target_rows(self, scale: dict[str, Any]) -> list[list[Any]]:
        """Issue 15's targets, each with its figures and met or missed."""
        reruns = rerun_rows(scale)
        if not reruns:
            return []
        small, large = reruns[0], reruns[-1]
        sizes = " → ".join(f"{r['vpcs']:,}" for r in reruns)
        series = lambda key, fmt: " → ".join(fmt(r[key]) for r in reruns)  # noqa: E731
        n_ratio = large["vpcs"] / small["vpcs"]
        rows = []
        rss = large["peakRssKiB"]
        rows.append(
            [
                f"peak RSS of modify-routes at {large['vpcs']:,} tagged VPCs per Region (issue 15)",
                mib(rss),
                "≤ 64 MiB",
                self.host_build,
                met(None if rss is None else rss <= SCALE_RSS_TARGET_KIB),
            ]
        )
        wall_growth, own_growth = growth(reruns, "wallMs"), growth(reruns, "ownMs")
        rows.append(
            [
                f"re-run with nothing to do, {sizes} VPCs: modify-routes wall time, the emulator's included",
                f"{series('wallMs', ms)} (×{wall_growth:.1f})" if wall_growth else series("wallMs", ms),
                f"at {large['vpcs']:,} ≤ {RERUN_GROWTH_TARGET:g}× at {small['vpcs']:,}",
                self.host_build,
                met(None if wall_growth is None else wall_growth <= RERUN_GROWTH_TARGET),
            ]
        )
        rows.append(
            [
                f"the same, the function's own: wall time less the emulator's time answering its calls "
                f"(the figure the target is judged on, see below)",
                f"{series('ownMs', ms)} (×{own_growth:.1f}); emulator {series('serverMs', ms)}"
                if own_growth
                else series("ownMs", ms),
                f"at {large['vpcs']:,} ≤ {RERUN_GROWTH_TARGET:g}× at {small['vpcs']:,}",
                self.host_build,
                met(None if own_growth is None else own_growth <= RERUN_GROWTH_TARGET),
            ]
        )
        cpu_growth = growth(reruns, "cpuMs")
        rows.append(
            [
                "the same, the function's CPU (it also computes while the emulator answers the other "
                "side, so it can exceed wall − emulator)",
                f"{series('cpuMs', ms)} (×{cpu_growth:.1f})" if cpu_growth else series("cpuMs", ms),
                f"at {large['vpcs']:,} ≤ {RERUN_GROWTH_TARGET:g}× at {small['vpcs']:,}",
                self.host_build,
                met(None if cpu_growth is None else cpu_growth <= RERUN_GROWTH_TARGET),
            ]
        )
        rows.append(
            [
                f"cost linear in VPCs: the function's CPU per re-run, {sizes} VPCs",
                f"{series('cpuMs', ms)} (×{cpu_growth:.1f} for ×{n_ratio:g} VPCs)"
                if cpu_growth
                else series("cpuMs", ms),
                f"grows at most {LINEAR_SLACK:g}× as fast as the VPCs (×{LINEAR_SLACK * n_ratio:g})",
                self.host_build,
                met(None if cpu_growth is None else cpu_growth <= LINEAR_SLACK * n_ratio),
            ]
        )
        paged = []
        for side in ("active", "passive"):
            base = small["readsByAction"].get(side)
            if base is None:
                continue
            for r in reruns:
                if side in r["reads"]:
                    paged.append(r["reads"][side] <= allowed_reads(base, small["vpcs"], r["vpcs"]))
        rows.append(
            [
                f"read calls per modify-routes re-run, per side, {sizes} VPCs "
                f"({scale.get('segments', 1)} segment tables + the peering's per side)",
                "; ".join(
                    f"{side}: " + " → ".join(str(r["reads"].get(side, "–")) for r in reruns)
                    for side in ("active", "passive")
                ),
                "independent of the VPC count apart from pagination (each table read once)",
                self.host_build,
                met(all(paged) if paged else None),
            ]
        )
        return rows

    def _scale_rss(self) -> int | None:
        values = [
            row["peakRssKiB"] for row in (self.r.get("scale") or {}).get("rows", []) if row.get("peakRssKiB")
        ]
        throttle = self.r.get("throttle") or {}
        if throttle.get("peakRssKiB"):
            values.append(throttle["peakRssKiB"])
        return max(values) if values else None

    # --- detail tables ----------------------------------------------------------------------

    def sections(self) -> list[tuple[str, str, str]]:
        """(title, explanation, table) for each detail table that has figures."""
        out = []
        scale = self.r.get("scale")
        if scale:
            out.append(
                (
                    "EC2 calls per modify-routes run",
                    "Each row is one Region's side of one execution's modify-routes invocations, from the EC2 "
                    "calls the harness counted while they ran (`GET /_harness/lambda`, `ec2Calls`). Tagged VPCs "
                    "are added in steps; at each step the first execution creates the missing routes and the "
                    "re-run finds them present. No rate limits. `missing` is what the table lacked before the "
                    "run (ground truth from SearchTransitGatewayRoutes), `created` what it gained.",
                    table(
                        [
                            "tagged VPCs per Region",
                            "run",
                            "side",
                            "missing",
                            "created",
                            "read calls",
                            "reads by action",
                            "write calls",
                            "modify-routes time",
                            "status",
                        ],
                        [
                            [
                                f"{row['vpcs']:,}",
                                row["run"],
                                f"{row['side']} ({row['region']})",
                                row["missing"],
                                row["created"],
                                row["readCalls"],
                                actions(row["reads"]),
                                row["writeCalls"],
                                ms(row["modifyRoutesMs"]),
                                row["status"],
                            ]
                            for row in scale["rows"]
                        ],
                    ),
                )
            )
        if scale and rerun_rows(scale):
            reruns = rerun_rows(scale)
            out.append(
                (
                    "Where a re-run's time goes",
                    "The re-run at each size has nothing to do: it reads both sides, plans, writes nothing and "
                    "walks every VPC pair for the report. `wall` is modify-routes' time as the harness timed "
                    "it; `emulator` is the time moto was busy answering the EC2 calls made meanwhile (the "
                    "harness times each call it hands to moto; calls made at once count once: "
                    "`serverBusyMs`), and `emulator by action` splits moto's time per call on the active side; "
                    "`load average` is the machine's (1 minute) just after the run: other work slows the wall "
                    "times, not the CPU times; `function CPU` is the function "
                    "process's user + system time over the invocation (`/proc/PID/stat`); `wall − emulator` "
                    "is what is left for the function, its SDK and the loopback hops. `reads` and the reads "
                    "by action are per side.",
                    table(
                        [
                            "tagged VPCs per Region",
                            "VPC pairs",
                            "wall",
                            "emulator",
                            "wall − emulator",
                            "function CPU",
                            "peak RSS",
                            "reads (active / passive)",
                            "reads by action (active)",
                            "emulator by action (active)",
                            "writes",
                            "load average",
                            "status",
                        ],
                        [
                            [
                                f"{r['vpcs']:,}",
                                f"{r['pairs']:,}" if r["pairs"] is not None else None,
                                ms(r["wallMs"]),
                                ms(r["serverMs"]),
                                ms(r["ownMs"]),
                                ms(r["cpuMs"]),
                                mib(r["peakRssKiB"]),
                                f"{r['reads'].get('active', '–')} / {r['reads'].get('passive', '–')}",
                                actions(r["readsByAction"].get("active", {})),
                                ", ".join(f"{a} {v:,.0f} ms" for a, v in r["serverByAction"].items()) or None,
                                r["writes"],
                                r["load"],
                                r["status"],
                            ]
                            for r in reruns
                        ],
                    ),
                )
            )
        throttle = self.r.get("throttle")
        if throttle:
            window = throttle["windowSeconds"]
            timing = (
                f"Routes per second = routes created / the time from entering ModifyRoutes to the end "
                f"of the execution ({window:.1f} s)"
                if window
                else "The ModifyRoutes window could not be "
                "read from the execution's history, so no rate is given"
            )
            errors = f", errors {throttle['modifyRoutesErrors']}" if throttle["modifyRoutesErrors"] else ""
            outcome = throttle["status"] + (f": {throttle['error']}" if throttle["error"] else "")
            out.append(
                (
                    "Creating missing routes under the token bucket",
                    f"The routes are deleted and one execution creates them again with the harness's token bucket "
                    f"on: mutating {throttle['bucket']} tokens refilling {throttle['refillPerSecond']}/s, "
                    f"non-mutating at its defaults (100, 20/s), one bucket per Region, timeScale "
                    f"{throttle['timeScale']:g} (sustainable rate {throttle['sustainablePerSecond']:g} creates/s "
                    f"per Region). {timing}; both Regions create at once, each against its own bucket. "
                    f"Execution {outcome}; {throttle['modifyRoutesInvocations']} modify-routes invocation(s){errors}.",
                    table(
                        [
                            "side",
                            "routes missing",
                            "created",
                            "routes/s",
                            "of sustainable",
                            "mutating calls allowed",
                            "throttled",
                            "throttled share",
                        ],
                        [
                            [
                                f"{'active' if region == ACTIVE else 'passive'} ({region})",
                                s["routes"],
                                s["created"],
                                f"{s['routesPerSecond']:.2f}" if s["routesPerSecond"] is not None else None,
                                pct(s["shareOfSustainable"]),
                                s["mutatingAllowed"],
                                s["mutatingThrottled"],
                                pct(s["throttledShare"]),
                            ]
                            for region, s in throttle["sides"].items()
                        ]
                        + [
                            [
                                "all calls of the execution",
                                "",
                                "",
                                "",
                                "",
                                throttle["allCalls"] - throttle["allThrottled"],
                                throttle["allThrottled"],
                                pct(throttle["allThrottledShare"]),
                            ]
                        ],
                    ),
                )
            )
        prune = self.r.get("prune")
        if prune:
            errors = f", errors {prune['modifyRoutesErrors']}" if prune["modifyRoutesErrors"] else ""
            outcome = prune["status"] + (f": {prune['error']}" if prune["error"] else "")
            window = f"{prune['windowSeconds']:.1f} s" if prune["windowSeconds"] else "not read"
            out.append(
                (
                    "Pruning stale routes under the token bucket",
                    f"A VPN attachment in each Region advertises ranges that a first run (propagatedCidrs) "
                    f"routes to the other side and records. They are withdrawn, and one execution with prune "
                    f"(confirmPrune: every route of each side goes) removes the stale routes with the same token "
                    f"bucket as above (timeScale {prune['timeScale']:g}, sustainable "
                    f"{prune['sustainablePerSecond']:g} writes/s per Region). Routes per second = routes removed / "
                    f"the time from entering ModifyRoutes to the end of the execution ({window}); the record's "
                    f"tag writes count against the same bucket. Execution {outcome}; "
                    f"{prune['modifyRoutesInvocations']} modify-routes invocation(s){errors}.",
                    table(
                        ["side", "stale", "removed", "left", "routes/s", "of sustainable", "mutating calls allowed",
                         "throttled", "throttled share"],
                        [
                            [
                                f"{'active' if region == ACTIVE else 'passive'} ({region})",
                                s["stale"],
                                s["removed"],
                                s["left"],
                                f"{s['routesPerSecond']:.2f}" if s["routesPerSecond"] is not None else None,
                                pct(s["shareOfSustainable"]),
                                s["mutatingAllowed"],
                                s["mutatingThrottled"],
                                pct(s["throttledShare"]),
                            ]
                            for region, s in prune["sides"].items()
                        ],
                    ),
                )
            )
        reconcile = self.reconcile_section()
        if reconcile:
            out.append(reconcile)
        mesh = self.mesh_section()
        if mesh:
            out.append(mesh)
        cold = self.r.get("cold")
        if cold:
            rows = []
            for f in FUNCTIONS:
                for kind, label in (
                    ("null", "`null` (refused before any AWS call)"),
                    ("real", "a real request on the demo network"),
                ):
                    found = cold["coldStart"].get(f, {}).get(kind)
                    if found:
                        s = found["summary"]
                        rows.append(
                            [
                                f,
                                label,
                                s["n"],
                                ms(s["median"]),
                                ms(s["min"]),
                                ms(s["p90"]),
                                ms(s["max"]),
                                mib(found["peakRssKiB"]),
                                ", ".join(found["errorTypes"]),
                            ]
                        )
            for kind, label in (
                ("real", "warm get-status, a real request"),
                ("null", "warm get-status, `null`"),
            ):
                found = cold["warm"].get(kind)
                if found:
                    s = found["summary"]
                    rows.append(
                        [
                            "get-status",
                            label,
                            s["n"],
                            ms(s["median"]),
                            ms(s["min"]),
                            ms(s["p90"]),
                            ms(s["max"]),
                            None,
                            ", ".join(found["errorTypes"]),
                        ]
                    )
            floor = self.r.get("floor") or {}
            for key, label in (
                ("keepAlive", "do-nothing runtime, one kept-alive connection"),
                ("quickack", "do-nothing runtime, kept alive, TCP_QUICKACK"),
            ):
                s = floor.get(key)
                if s:
                    rows.append(
                        [
                            "(floor)",
                            label,
                            s["n"],
                            ms(s["median"]),
                            ms(s["min"]),
                            ms(s["p90"]),
                            ms(s["max"]),
                            None,
                            "answered",
                        ]
                    )
            out.append(
                (
                    "Cold start and warm latency",
                    "Through the project's runner (tests/emulator/lambda_runner.py) under `cargo lambda watch "
                    "--only-lambda-apis`. Each cold sample follows a configuration change, so the runner starts a "
                    "new process for the invoke, and is timed from the process's start to the answer "
                    "(`durationMs` of an invocation with `coldStart`). Warm samples are timed from sending the "
                    "event to the answer. Both include the hop through cargo-lambda; the real requests include "
                    "moto answering their EC2 calls. The floor rows are warm invocations of "
                    "`scripts/lib/bench_runtime.py`, a runtime that answers every event at once over one "
                    "kept-alive connection as the Rust runtime does, run by a second local AWS the same way: what "
                    "the runner and cargo-lambda add to each warm invocation. With TCP_QUICKACK on that runtime's "
                    "socket the rest of the floor is what delayed ACKs on the connection cost.",
                    table(
                        ["function", "input", "n", "median", "min", "p90", "max", "peak RSS", "answer"], rows
                    ),
                )
            )
        small = self.r.get("small")
        if small:
            billed = small["billed"]
            rows = [
                [
                    f,
                    v["invocations"],
                    v["cold"],
                    f"{v['billedMs']:,} ms",
                    ", ".join(f"{d:.0f}" for d in v["durationsMs"]),
                    mib(v["peakRssKiB"]),
                ]
                for f, v in billed["functions"].items()
            ]
            rows.append(
                [
                    "total",
                    len(billed["invocations"]),
                    sum(v["cold"] for v in billed["functions"].values()),
                    f"{billed['totalBilledMs']:,} ms",
                    "",
                    None,
                ]
            )
            out.append(
                (
                    f"One execution, peering pending for {billed['pendingPolls']} polls",
                    f"The demo network (scripts/lib/seed_demo.py), PollIntervalSeconds=1, the peering pending for "
                    f"{billed['pendingPolls']} get-status polls; {billed['status']} in {billed['seconds']:.2f} s through "
                    f"{' → '.join(billed['states'])}. Billed time is the sum of each invocation's duration rounded up "
                    f"to 1 ms; a cold invocation's duration counts from its process's start (Lambda bills the INIT "
                    f"phase too). Peak RSS is VmHWM of the function's process after each invocation. The harness "
                    f"held the peering pending for {held_pending(billed)} after the accept (`pendingSeconds`); "
                    f"get-status saw {', '.join(billed['getStatusSaw']) or 'nothing'}; "
                    f"{describes_per_execution(billed)}.",
                    table(["function", "invocations", "cold", "billed", "durations (ms)", "peak RSS"], rows),
                )
            )
            e2e = small["endToEnd"]
            out.append(
                (
                    "End to end with provisioning taking T seconds",
                    f"The harness holds the peering `pending` for T seconds after the accept, however "
                    f'often it is read (`POST /_harness/peering {{"pendingSeconds": T}}`); the stack polls every '
                    f"{e2e['pollSeconds']} s. States: {' → '.join(e2e['states'])}; get-status saw "
                    f"{', '.join(e2e.get('getStatusSaw') or []) or 'nothing'}; "
                    f"{describes_per_execution(e2e)}.",
                    table(
                        ["T", "poll interval", "execution", "execution − T", "get-status polls", "status"],
                        [
                            [
                                f"{e2e['provisioningSeconds']:g} s",
                                f"{e2e['pollSeconds']} s",
                                f"{e2e['seconds']:.2f} s",
                                f"{e2e['overSeconds']:.2f} s",
                                e2e["getStatusPolls"],
                                e2e["status"] + (f": {e2e['error']}" if e2e["error"] else ""),
                            ]
                        ],
                    ),
                )
            )
        sizes = [
            [f, f"{s:,}" if s is not None else None, f"{s / MIB:.2f} MiB" if s is not None else None]
            for f, s in self.zips.items()
        ]
        out.append(
            (
                "Zip size per function",
                "`dist/lambda/*.zip` from `scripts/build.sh` (arm64, release, "
                "`cargo lambda build --output-format zip`).",
                table(["function", "bytes", "MiB"], sizes),
            )
        )
        out.append(self._profiles_section())
        return out

    def mesh_section(self) -> tuple[str, str, str] | None:
        mesh = self.r.get("mesh")
        if not mesh:
            return None
        rows = []
        for label, run in (("the mesh", mesh["run"]), ("again, nothing to do", mesh["rerun"])):
            for region, calls in run["calls"].items():
                rows.append([label, region, calls["reads"], calls["writes"], actions(calls["writesByAction"])])
        text = (
            f"Issue 17: one execution meshes {len(mesh['regions'])} Regions ({', '.join(mesh['regions'])}), "
            f"two tagged VPCs each, with the stack's defaults and PollIntervalSeconds={mesh['pollSeconds']}; "
            f"the emulator holds each peering pending for {mesh['provisioningSeconds']:g} s after its accept. The "
            "pairs run at once, each as an execution of the same state machine, so the mesh takes about "
            "as long as one pair. Billed time counts every invocation of every pair's execution and the "
            "mesh's own steps (PlanMesh, a row per pair, MeshReport). The same request again finds "
            "everything in place."
        )
        return (
            f"A {len(mesh['regions'])}-Region mesh in one execution",
            text,
            table(["run", "Region", "EC2 reads", "EC2 writes", "writes by action"], rows),
        )

    def reconcile_section(self) -> tuple[str, str, str] | None:
        rec = self.r.get("reconcile")
        if not rec:
            return None
        one = rec.get("oneSided") or {}
        scenarios = [("both sides", rec)] + ([("the active side only", one)] if "sides" in one else [])
        rows = [
            [
                label,
                f"{side_name(region)} ({region})",
                f"{s['tableRoutes']:,}",
                f"{s['toolRoutes']:,}",
                s["readCalls"],
                actions(s["reads"]),
                s["writeCalls"],
                ms(s["serverMs"]),
                ", ".join(f"{a} {v:,.0f} ms" for a, v in s["serverMsByAction"].items()) or None,
                met(x["status"] == "SUCCEEDED" and s["readCalls"] <= x["readsTarget"]),
            ]
            for label, x in scenarios
            for region, s in x["sides"].items()
        ]
        headers = [
            "VPN ranges advertised by",
            "side",
            "routes in table",
            "the tool's",
            "read calls",
            "reads by action",
            "write calls",
            "emulator",
            "emulator by action",
            f"reads ≤ {rec['readsTarget']}",
        ]
        return (
            f"A reconcile with nothing to do at {rec['routesPerRegion']:,} of the tool's routes per table",
            reconcile_text(rec) + one_sided_text(one),
            table(headers, rows),
        )

    def _profiles_section(self) -> tuple[str, str, str]:
        title = "Release profile: tuned against cargo's defaults"
        profiles = self.r.get("profiles")
        settings = (
            f"\n\n```toml\n{release_profile('release')}\n\n{release_profile('untuned')}\n```"
        )
        if not profiles:
            return (title, self.profiles_missing().replace("not run", "Not run", 1) + "." + settings, "")
        n = self.r.get("options", {}).get("cold_starts")
        labels = {"release": "release (tuned)", "untuned": "untuned (cargo's defaults)"}
        rows = []
        for f in FUNCTIONS:
            for profile in ("release", "untuned"):
                x = self._profile_figures(profile, f)
                rows.append(
                    [
                        f,
                        labels[profile],
                        f"{x['bytes']:,}" if x["bytes"] is not None else None,
                        f"{x['zipBytes']:,}" if x["zipBytes"] is not None else None,
                        ms(x["nullMedian"]),
                        x["nullN"],
                        ms(x["realMedian"]),
                        x["realN"],
                    ]
                )
        errors = "".join(
            f" The {p} profile's cold starts were not measured: {e['error'].splitlines()[0][:200]}."
            for p, e in profiles.items()
            if e.get("error")
        )
        demo = "; ".join(
            f"{p} {e['demoExecution']}" for p, e in profiles.items() if e.get("demoExecution")
        )
        text = (
            "Each function built twice for this machine: with the tuned `[profile.release]` (the binaries "
            "every other host figure on this page runs, `target/release`) and with `[profile.untuned]` "
            "(`target/untuned`, `cargo build --profile untuned`), which inherits release but restores "
            "cargo's release defaults (settings below). **These are host "
            f"{platform.machine()} binaries, and the zips are made by the bench**: each binary stored as "
            "`bootstrap` in a zip, deflated at level 9 (Python's zipfile, ZIP_DEFLATED, compresslevel 9), "
            "as in a Lambda zip. The shipped arm64 zips are the ones in \"Zip size per function\" above; an "
            "arm64 build of the untuned profile would take about 15 minutes here and is not made. Cold starts "
            "are the measurement of \"Cold start and warm latency\" (the same code, "
            f"{n if n is not None else 'N'} samples per function and input, process start to first answer; "
            "`null` is refused before any AWS call, the real request is made on the demo network), on a "
            "local AWS of each profile's own running its binaries, release first, then untuned, after the "
            "demo network, the stack and one execution"
            + (f" ({demo})" if demo else "")
            + ". So the release medians here are a second sample of the same binaries as above, taken "
            "in this phase next to the untuned ones." + errors + settings
        )
        return (
            title,
            text,
            table(
                [
                    "function",
                    "profile",
                    "binary (bytes)",
                    "zipped (bytes)",
                    "cold start, `null`",
                    "n",
                    "cold start, real request",
                    "n",
                ],
                rows,
            ),
        )


# --- plot -------------------------------------------------------------------------------------------


def plot(results: dict[str, Any], png: Path) -> bool:
    scale = results.get("scale")
    if not scale:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7.5, 5.6), dpi=120)
    colours = {"active": "tab:blue", "passive": "tab:orange"}
    sizes = sorted({r["vpcs"] for r in scale["rows"]})
    first = [r for r in scale["rows"] if r["run"] == "first" and r["side"] == "active"]
    ax.plot(
        [r["vpcs"] for r in first],
        [r["missing"] for r in first],
        color="grey",
        linestyle="--",
        linewidth=1,
        label="missing routes (first run)",
    )
    for side, colour in colours.items():
        for run, line, marker in (("first", "-", "o"), ("re-run", ":", "^")):
            rows = [r for r in scale["rows"] if r["side"] == side and r["run"] == run]
            if not rows:
                continue
            x = [r["vpcs"] for r in rows]
            ax.plot(
                x,
                [r["readCalls"] for r in rows],
                color=colour,
                linestyle=line,
                marker=marker,
                label=f"reads, {side} ({rows[0]['region']}), {run}",
            )
            ax.plot(
                x,
                [r["writeCalls"] for r in rows],
                color=colour,
                linestyle=line,
                marker="s",
                markerfacecolor="none",
                label=f"writes, {side}, {run}",
            )
            if run == "first":
                for r in rows:
                    ax.annotate(
                        f"{r['readCalls']}",
                        (r["vpcs"], r["readCalls"]),
                        textcoords="offset points",
                        xytext=(5, 3 if side == "active" else -9),
                        fontsize=7,
                        color=colour,
                    )
                    ax.annotate(
                        f"{r['writeCalls']}",
                        (r["vpcs"], r["writeCalls"]),
                        textcoords="offset points",
                        xytext=(5, 3 if side == "active" else -9),
                        fontsize=7,
                        color=colour,
                    )
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{v:,}" for v in sizes])
    ax.minorticks_off()
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=-0.5)
    top = max([r["writeCalls"] for r in scale["rows"]] + [r["readCalls"] for r in scale["rows"]] + [1])
    ax.set_yticks([0, 1] + [10**k for k in range(1, len(str(top)) + 1)])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("tagged VPCs per Region")
    ax.set_ylabel("EC2 API calls per modify-routes run")
    ax.set_title(
        "EC2 calls per modify-routes run, per Region: reads (circles), writes (squares)\n"
        "first run creates the missing routes; the re-run (dotted) finds them present",
        fontsize=9,
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=6.5, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.13), frameon=False)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    return True


# --- main -------------------------------------------------------------------------------------------


def render(
    report: Report, info: dict[str, str], results: dict[str, Any], png_name: str | None
) -> tuple[str, str]:
    """(what stdout shows, the whole of docs/performance.md)."""
    summary = table(["figure", "measured", "target", "build", "vs target"], report.summary_rows())
    parts = [f"## Summary\n\n{summary}"]
    for title, text, rendered in report.sections():
        parts.append(f"## {title}\n\n{text}" + (f"\n\n{rendered}" if rendered else ""))
    phases = ", ".join(f"{p} {s:.0f} s" for p, s in results.get("phaseSeconds", {}).items())
    parts.append(f"## Release profile (`Cargo.toml`)\n\n```toml\n{release_profile()}\n```")
    failures = results.get("failures", {})
    if failures:
        parts.append(
            "## Not measured\n\n" + "\n".join(f"- {p}: {why.splitlines()[0]}" for p, why in failures.items())
        )
    body = "\n\n".join(parts)
    provenance = table(
        ["", ""],
        [
            ["date", info["date"]],
            ["commit", f"`{info['commit']}`"],
            [
                "machine",
                f"{info['arch']}, {info['cores']} cores " f"(`nproc`), {info['cpu']}, {info['memory']}",
            ],
            ["kernel", info["kernel"]],
            ["Rust", info["rustc"]],
            ["bench", f"`scripts/bench.sh`, {results.get('benchSeconds', 0):.0f} s of measuring ({phases})"],
        ],
    )
    intro = (
        "# Performance\n\n"
        "What `scripts/bench.sh` measured on the local AWS (moto with its Step Functions interpreter and "
        "the harness in `tests/emulator/`, the real template and state machine, and the real function "
        "binaries behind `cargo lambda watch`). It rewrites this page on every run; the figures below "
        "are from the run named here. They are measurements on this machine against an emulator, "
        "reported and never asserted: moto answers in milliseconds where EC2 takes tens of them, so "
        "times that include EC2 calls are not AWS's. Each figure names the build it ran.\n\n"
        f"{provenance}\n"
    )
    plot_md = (
        f"\n\n![EC2 API calls per modify-routes run against tagged VPCs per Region]({png_name})\n"
        if png_name
        else ""
    )
    notes = (
        "\n\n## Notes on the method\n\n"
        "- EC2 calls are counted by the harness per action and Region; an invocation's `ec2Calls` are the "
        "calls counted while it ran, which is exact here because the bench runs one execution at a time "
        "and makes no EC2 calls of its own meanwhile.\n"
        "- moto ignores MaxResults on DescribeVpcs and DescribeTransitGatewayVpcAttachments, so each reads "
        "as one page here whatever the size. The functions ask for pages of 1,000; on EC2 a Region with "
        "1,000 tagged VPCs and its default VPC would take two DescribeVpcs pages (not measured here). "
        "SearchTransitGatewayRoutes pages at 1,000 routes in the emulator as on EC2; the scale phase's "
        "tables held at most 1,000 static routes, the reconcile phase's many thousands (static and propagated "
        "routes alike count towards a page).\n"
        "- Host binaries run without Lambda's 128 MB memory limit or CPU share; RSS and times are this "
        "machine's.\n"
        "- Issue 15's target \"a re-run with nothing to do at 1,000 VPCs no slower than 2× the re-run at "
        "100\" is judged on the function's own time: modify-routes' wall time less the time moto spent "
        "answering its EC2 calls (the harness times the calls it hands to moto, counting overlapping ones once: `serverBusyMs`). The wall "
        "time, moto's included, is printed beside it with its own met or missed, and so is the "
        "function's CPU time. Why: moto is a Python model that answers each filtered Describe by "
        "scanning every resource of the Region and matching each against every filter value "
        "(`moto/ec2/utils.py`, `generic_filter` and `is_filter_matching`, fnmatch per value), so "
        "DescribeSubnets and DescribeRouteTables, called with 200 VPC ids at a time, cost it time in "
        "proportion to VPCs × VPCs, and SearchTransitGatewayRoutes recomputes the propagated routes of "
        "a table on every call. That growth is the emulator's. EC2's own latency against the size of an "
        "account was not measured here and AWS publishes no figure for it, so this page makes no claim "
        "about it; what the tool controls is its calls (counted: the read-calls row) and its own work "
        "(timed: the function's row and its CPU). The function's CPU is printed against the same 2× too, "
        "and against linear growth: it reads, parses and plans every VPC, so it grows with them, and "
        "part of it overlaps moto's time (one side's answers are parsed while moto answers the other).\n"
    )
    return body, intro + plot_md + "\n" + body + notes


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", type=Path)
    parser.add_argument("--zips", type=Path, default=ROOT / "dist" / "lambda")
    parser.add_argument("--bin-dir", default="")
    parser.add_argument("--md", type=Path)
    parser.add_argument("--png", type=Path)
    args = parser.parse_args()
    results = json.loads(args.results.read_text(encoding="utf-8"))
    report = Report(results, zip_sizes(args.zips), args.bin_dir)
    info = machine(results.get("startedAt"))
    png_name = None
    if args.png and plot(results, args.png):
        png_name = os.path.relpath(args.png, args.md.parent) if args.md else args.png.name
    stdout, page = render(report, info, results, png_name)
    print(
        f"tgw-peering performance, {info['date']}, commit {info['commit']}, {info['arch']}, "
        f"{info['cores']} cores, {info['cpu']}\n"
    )
    print(stdout)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
