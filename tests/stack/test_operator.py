"""Operator control through the deployed stack: a dry run of the real state machine plans the
peering and every route, makes no mutating EC2 call, and plans exactly what a real run then does.
"""

from __future__ import annotations

import subprocess

from stack_support import ROOT, STACK


def test_a_dry_run_execution_plans_the_peering_and_the_routes_and_changes_nothing(local_aws):
    local_aws.deploy("VpcRoutes=true")

    dry = local_aws.run({"dryRun": True})

    assert dry.status == "SUCCEEDED", dry.described
    assert local_aws.mutating_calls() == {}, "a dry run makes no mutating EC2 call"
    assert dry.entered() == ["Configure", "Peer", "JustCreated", "ModifyRoutes", "MoreRoutes", "Done"]
    plan = dry.output
    assert plan["dryRun"] is True and plan["attachmentId"] is None
    assert plan["peeringPlan"] == {"createPeering": True, "acceptPeering": True, "deleteDuplicates": []}
    assert plan["routePlan"]["active"]["create"] == ["10.20.0.0/16"]
    assert plan["routePlan"]["passive"]["create"] == ["10.1.0.0/16", "10.2.0.0/16"]
    planned_tables = {t["routeTableId"]: t["create"] for t in plan["routePlan"]["vpcRouteTables"]}
    assert len(planned_tables) == 3, "one main table per tagged, attached demo VPC"
    assert local_aws.static_routes("us-east-1") == {}

    real = local_aws.run({})

    assert real.status == "SUCCEEDED", real.described
    routes = real.output["routes"]
    for side in ("active", "passive"):
        assert routes[side]["created"] == plan["routePlan"][side]["create"], side
    assert {t["routeTableId"]: t["created"] for t in routes["vpcRouteTables"]} == planned_tables


def test_start_sh_dry_run_prints_the_plan_and_changes_nothing(local_aws):
    local_aws.deploy()

    done = subprocess.run([str(ROOT / "scripts/start.sh"), "--dry-run", "--stack-name", STACK],
                          env=local_aws.env, capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "DRY RUN" in done.stdout and "nothing changed" in done.stdout, done.stdout
    assert "a real run would create and accept it" in done.stdout, done.stdout
    assert any(line.split()[:2] == ["create", "10.20.0.0/16"] for line in done.stdout.splitlines()), done.stdout
    assert local_aws.mutating_calls() == {}
