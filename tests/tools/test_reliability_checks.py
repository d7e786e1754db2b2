"""The "Stricter than AWS" section of docs/reliability.md: what each check covered in the run,
from the `awsCheck` records the tests write."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))

import reliability_report  # noqa: E402  (scripts/lib is not a package)


def check(name: str, count: int, worst: bool = False) -> dict:
    return {"kind": "awsCheck", "check": name, "count": count, "detail": "things", "worst": worst}


def test_given_records_of_one_check_then_their_counts_add_up():
    section = reliability_report.checks_section([check("IAM: calls evaluated", 40),
                                                 check("IAM: calls evaluated", 2)])
    assert "- **IAM: calls evaluated**: 42 things." in section


def test_given_a_worst_case_check_then_the_largest_is_kept():
    section = reliability_report.checks_section([check("history", 900, worst=True),
                                                 check("history", 18396, worst=True)])
    assert "- **history**: 18,396 things." in section


def test_given_no_record_then_the_section_says_nothing_was_measured():
    assert "No check recorded" in reliability_report.checks_section([{"scenario": "x", "runs": 1}])


def test_the_checks_are_not_rows_of_the_fault_table():
    rows = reliability_report.aggregate([r for r in [check("x", 1), {"scenario": "s", "runs": 1}]
                                         if "kind" not in r])
    assert [row["scenario"] for row in rows] == ["s"]


def sweep(scenario: str, fault: str, **counts: int) -> dict:
    row = {"injected": 0, "converged": 0, "failedLoudly": 0, "wrong": 0, "notReached": 0, **counts}
    return {"kind": "faultSweep", "sweepScenario": scenario, "fault": fault, "calls": 40, "seed": 12,
            "sampled": True, **row}


def test_given_sweep_records_then_the_section_lists_each_scenario_and_kind_and_the_totals():
    section = reliability_report.sweep_section([
        sweep("teardown", "crash", injected=3, converged=2, failedLoudly=1),
        sweep("first setup", "answerLost", injected=5, converged=5)])
    assert "seed 12" in section
    assert "| teardown | crash | 40 | 3 | 2 | 1 | 0 | 0 |" in section
    assert "| **all** | | | **8** | **7** | **1** | **0** | **0** |" in section


def test_given_no_sweep_record_then_the_section_says_it_did_not_run():
    assert "did not run" in reliability_report.sweep_section([check("x", 1)])
