"""The bench report's reconcile section (scripts/lib/bench_report.py): issue 16's targets read met
or missed from the figures, and a phase that did not run reads "not measured"."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))

import bench_report  # noqa: E402  (scripts/lib is not a package)


def side(reads: int, writes: int = 0) -> dict[str, Any]:
    return {
        "tableRoutes": 20_000,
        "toolRoutes": 10_000,
        "reads": {"DescribeVpcs": 1, "SearchTransitGatewayRoutes": reads - 1},
        "readCalls": reads,
        "writes": {"CreateTags": writes} if writes else {},
        "writeCalls": writes,
        "serverMs": 900.0,
        "serverMsByAction": {"SearchTransitGatewayRoutes": 850.0, "DescribeVpcs": 50.0},
    }


def reconcile(active_reads: int, billed: int, own: int, writes: int = 0) -> dict[str, Any]:
    return {
        "status": "SUCCEEDED",
        "error": "",
        "routesPerRegion": 10_000,
        "seedSeconds": 150.0,
        "seeding": [{"status": "SUCCEEDED", "seconds": 136.0, "modifyRoutesInvocations": 1,
                     "routesHeld": {"us-east-1": 10_000, "us-west-2": 10_000}}],
        "executionSeconds": 3.2,
        "states": ["Peer", "ModifyRoutes", "Done"],
        "modifyRoutesInvocations": 1,
        "coldStart": True,
        "modifyRoutesMs": billed - 0.5,
        "billedMs": billed,
        "runServerMs": billed - own,
        "ownMs": own - 0.5,
        "ownBilledMs": own,
        "cpuMs": 100.0,
        "peakRssKiB": 20_000,
        "loadAverage": 1.0,
        "executionWrites": {},
        "counts": {"active": {"created": 0, "present": 10_000}},
        "readsTarget": 20,
        "billedTargetMs": 2000,
        "sides": {"us-east-1": side(active_reads, writes), "us-west-2": side(15)},
    }


def verdicts(results: dict[str, Any]) -> list[str]:
    """The verdicts of the summary's reconcile rows, both sides advertising (the issue's figure)."""
    rows = bench_report.Report(results, {}, "bin").reconcile_rows()
    return [row[-1] for row in rows[:5]]


def test_given_figures_within_the_targets_then_each_reads_met():
    assert verdicts({"reconcile": reconcile(active_reads=20, billed=1_900, own=300)}) == [
        "met", "met", "met", "met", "–"]


def test_given_too_many_reads_on_one_side_and_a_slow_run_then_those_read_missed():
    assert verdicts({"reconcile": reconcile(active_reads=25, billed=23_000, own=1_500)}) == [
        "**missed**", "met", "**missed**", "met", "–"]


def test_given_a_write_then_the_no_write_target_reads_missed():
    assert verdicts({"reconcile": reconcile(active_reads=15, billed=500, own=100, writes=1)})[1] == "**missed**"


def test_given_a_failed_execution_then_no_target_reads_met():
    failed = reconcile(active_reads=15, billed=500, own=100) | {"status": "FAILED", "error": "boom"}
    assert "met" not in verdicts({"reconcile": failed})


def test_given_no_reconcile_phase_then_the_row_says_why_and_there_is_no_section():
    report = bench_report.Report({"failures": {"reconcile": "RuntimeError: seeding"}}, {}, "bin")
    (row,) = report.reconcile_rows()
    assert row[1].startswith("not measured: the reconcile phase failed (RuntimeError: seeding")
    assert report.reconcile_section() is None


def test_the_section_names_each_side_with_its_reads_by_action():
    report = bench_report.Report({"reconcile": reconcile(25, 23_000, 1_500)}, {}, "bin")
    title, text, rendered = report.reconcile_section()
    assert title == "A reconcile with nothing to do at 10,000 of the tool's routes per table"
    assert "active 20,000 routes, 10,000 of them the tool's" in text
    assert "active (us-east-1)" in rendered and "SearchTransitGatewayRoutes 24" in rendered


def test_given_the_one_sided_figures_then_they_read_met_or_missed_on_their_own():
    one = reconcile(active_reads=15, billed=3_000, own=400)
    rows = bench_report.Report({"reconcile": reconcile(25, 23_000, 1_500) | {"oneSided": one}}, {}, "bin")
    reads, billed = rows.reconcile_rows()[5:]
    assert reads[-1] == "met" and billed[-1] == "**missed**; own met"


def test_given_the_one_sided_scenario_failed_then_its_row_says_why():
    failed = reconcile(25, 23_000, 1_500) | {"oneSided": {"failed": "RuntimeError: no attachment"}}
    (row,) = bench_report.Report({"reconcile": failed}, {}, "bin").reconcile_rows()[5:]
    assert row[1] == "not measured: RuntimeError: no attachment"


def test_route_writes_count_routes_and_allow_only_the_association_besides():
    first = {"writes": {"AssociateTransitGatewayRouteTable": 1, "CreateTransitGatewayRoute": 300}, "missing": 300}
    assert bench_report.route_writes(first) == 300
    assert bench_report.written(first) == "300/300 + 1 AssociateTransitGatewayRouteTable"
    # A write per table (the old tag record) is not a route write: the target is missed.
    tagged = {"writes": {"CreateTags": 4, "CreateTransitGatewayRoute": 300}, "missing": 300}
    assert bench_report.route_writes(tagged) is None
    assert bench_report.written(tagged) == "300/300 + 4 CreateTags"
    assert bench_report.route_writes({"writes": {}, "missing": 0}) == 0


# --- issue 17: the mesh ---------------------------------------------------------------------


def mesh_run(seconds: float, over: float, billed: int, writes: int) -> dict[str, Any]:
    return {
        "status": "SUCCEEDED", "error": "", "seconds": seconds, "overSeconds": over,
        "summary": "6 of 6 pairs available, 48 routes created, 0 of 0 VPC pairs reachable", "pairs": 6,
        "functions": {}, "totalBilledMs": billed, "cpuMs": billed / 10, "planSeconds": 0.5,
        "pairsSeconds": seconds - 1, "pairSeconds": [seconds - 2, seconds - 1.5],
        "calls": {"us-east-1": {"reads": 90, "writes": writes, "writesByAction": {"CreateTransitGatewayRoute": writes}}},
    }


def mesh_results(over: float, billed: int, rerun_writes: int = 0, two_region_billed: int = 1_000) -> dict[str, Any]:
    return {
        "small": {"endToEnd": {"functions": {"peer": {"billedMs": two_region_billed - 400, "cpuMs": 60},
                                             "modify-routes": {"billedMs": 400, "cpuMs": 40}}}},
        "mesh": {"regions": ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"], "provisioningSeconds": 20,
                 "pollSeconds": 5, "run": mesh_run(20 + over, over, billed, 12),
                 "rerun": mesh_run(6.0, 6.0, billed // 2, rerun_writes)},
    }


def mesh_verdicts(results: dict[str, Any]) -> list[str]:
    return [row[-1] for row in bench_report.Report(results, {}, "bin").mesh_rows()]


def test_given_a_mesh_within_a_poll_and_six_times_the_pair_then_those_read_met():
    assert mesh_verdicts(mesh_results(over=4.0, billed=6_000)) == ["met", "met", "met", "–", "met"]


def test_given_a_slow_costly_mesh_whose_rerun_writes_then_those_read_missed():
    assert mesh_verdicts(mesh_results(over=9.0, billed=6_010, rerun_writes=1)) == [
        "**missed**", "**missed**", "**missed**", "–", "**missed**"]


def test_given_no_mesh_phase_then_the_row_says_why_and_there_is_no_section():
    report = bench_report.Report({"failures": {"mesh": "RuntimeError: deploy"}}, {}, "bin")
    (row,) = report.mesh_rows()
    assert row[1].startswith("not measured: the mesh phase failed (RuntimeError: deploy")
    assert report.mesh_section() is None
    title, _, rendered = bench_report.Report(mesh_results(4.0, 6_000), {}, "bin").mesh_section()
    assert title == "A 4-Region mesh in one execution" and "CreateTransitGatewayRoute 12" in rendered


# --- issue 28: describes per execution ------------------------------------------------------


def small_results(describes: int | None) -> dict[str, Any]:
    end_to_end = {"status": "SUCCEEDED", "error": "", "provisioningSeconds": 20, "pollSeconds": 5, "seconds": 25.0,
                  "overSeconds": 5.0, "getStatusPolls": 5, "getStatusSaw": ["pending"] * 4 + ["available"],
                  "states": ["Peer", "Done"], "functions": {}}
    billed = {"status": "SUCCEEDED", "error": "", "pendingPolls": 3, "pendingSeconds": 3.5, "seconds": 5.0,
              "getStatusSaw": ["pending"] * 3 + ["available"], "getStatusPolls": 4, "states": ["Peer", "Done"],
              "invocations": [], "totalBilledMs": 900,
              "functions": {f: {"peakRssKiB": 10_000, "invocations": 1, "cold": 1, "billedMs": 300,
                                "durationsMs": [300.0]} for f in bench_report.FUNCTIONS}}
    if describes is not None:
        by_function = {"peer": 2, "get-status": describes - 2, "modify-routes": 0}
        for run in (end_to_end, billed):
            run.update(peeringDescribes=describes, peeringDescribesByFunction=by_function)
    return {"small": {"billed": billed, "endToEnd": end_to_end}}


def describes_row(results: dict[str, Any]) -> list[Any]:
    rows = bench_report.Report(results, {}, "bin").summary_rows()
    (row,) = [r for r in rows if r[0].startswith("DescribeTransitGatewayPeeringAttachments calls per execution")]
    return row


def test_given_the_describes_of_a_run_then_a_row_gives_them_per_execution_and_per_poll():
    row = describes_row(small_results(describes=12))

    assert row[0] == "DescribeTransitGatewayPeeringAttachments calls per execution, peering pending 20 s, polled every 5 s"
    assert row[1] == ("12 DescribeTransitGatewayPeeringAttachments calls in 25.0 s (peer 2, get-status 10); "
                      "get-status polls: 5, 2.0 per poll; SUCCEEDED")


def test_given_a_tool_that_polls_more_often_then_its_row_shows_more_describes_per_poll():
    assert "get-status polls: 5, 11.6 per poll" in describes_row(small_results(describes=60))[1]


def test_given_results_from_before_describes_were_counted_then_the_row_says_not_measured():
    row = describes_row(small_results(describes=None))

    assert row[1].startswith("DescribeTransitGatewayPeeringAttachments calls not measured")


def test_the_small_sections_give_the_describes_and_the_time_the_peering_was_held_pending():
    sections = bench_report.Report(small_results(describes=12), {}, "bin").sections()
    texts = " ".join(text for _, text, _ in sections)

    assert "pending for 3.5 s after the accept (`pendingSeconds`)" in texts
    assert texts.count("12 DescribeTransitGatewayPeeringAttachments calls") == 2
