"""The state round-trip check the stack tests run on every execution output
(tests/stack/stack_support.py) passes an unchanged state and fails a changed one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

BINARY = Path(os.environ.get("TGW_PEERING_LAMBDA_BIN_DIR", "")) / "examples" / "state_round_trip"


def round_trip(*values: object) -> subprocess.CompletedProcess:
    assert BINARY.is_file(), f"{BINARY} is missing: run cargo test --workspace (it builds the examples)"
    lines = "".join(json.dumps(value) + "\n" for value in values)
    return subprocess.run([str(BINARY)], input=lines, capture_output=True, text=True, timeout=30)


def test_given_states_the_functions_write_then_each_round_trips_unchanged():
    done = round_trip(
        {},
        {"Comment": "Insert your JSON here", "attachmentId": None, "status": "absent"},
        {"teardown": {"active": None, "passive": None, "vpcRouteTables": []}, "peeringKept": None},
    )
    assert done.returncode == 0, done.stderr


def test_given_a_value_the_state_cannot_hold_then_the_check_fails_naming_its_line():
    # An extraCidrs key that is not a side is refused by the request check, not kept.
    done = round_trip({}, {"extraCidrs": {"activ": []}})
    assert done.returncode == 1
    assert "line 2: changed by the round trip" in done.stderr, done.stderr


def test_given_a_value_of_the_wrong_type_then_the_check_fails_naming_the_field():
    done = round_trip({"created": "yes"})
    assert done.returncode == 1
    assert "created" in done.stderr, done.stderr
