"""Operator control through the deployed stack: a dry run of the real state machine plans the
peering and every route, makes no mutating EC2 call, and plans exactly what a real run then does;
a teardown returns EC2 to its state before setup, and a second one changes nothing.
"""

from __future__ import annotations

import subprocess

from stack_support import ACTIVE, PASSIVE, ROOT, STACK, side_table


def test_a_dry_run_execution_plans_the_peering_and_the_routes_and_changes_nothing(local_aws):
    local_aws.deploy("VpcRoutes=true")

    dry = local_aws.run({"dryRun": True})

    assert dry.status == "SUCCEEDED", dry.described
    assert local_aws.mutating_calls() == {}, "a dry run makes no mutating EC2 call"
    assert dry.entered() == ["MeshOrPair", "Configure", "Peer", "JustCreated", "ModifyRoutes", "MoreRoutes", "Done"]
    plan = dry.output
    assert plan["dryRun"] is True and plan["attachmentId"] is None
    assert plan["peeringPlan"] == {"createPeering": True, "acceptPeering": True, "deleteDuplicates": []}
    assert side_table(plan["routePlan"], "active")["create"] == ["10.20.0.0/16"]
    assert side_table(plan["routePlan"], "passive")["create"] == ["10.1.0.0/16", "10.2.0.0/16"]
    planned_tables = {t["routeTableId"]: t["create"] for t in plan["routePlan"]["vpcRouteTables"]}
    assert len(planned_tables) == 3, "one main table per tagged, attached demo VPC"
    assert local_aws.static_routes("us-east-1") == {}

    real = local_aws.run({})

    assert real.status == "SUCCEEDED", real.described
    routes = real.output["routes"]
    for side in ("active", "passive"):
        assert side_table(routes, side)["created"] == side_table(plan["routePlan"], side)["create"], side
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


def vpc_route_state(local_aws) -> dict:
    """Every VPC route table's routes (other than local ones) and tags, in both Regions."""
    state = {}
    for region in (ACTIVE, PASSIVE):
        ec2 = local_aws.client("ec2", region)
        for table in ec2.describe_route_tables()["RouteTables"]:
            routes = sorted((r.get("DestinationCidrBlock"), r.get("TransitGatewayId") or r.get("GatewayId"))
                            for r in table["Routes"] if r.get("GatewayId") != "local")
            tags = sorted((t["Key"], t["Value"]) for t in table.get("Tags", []))
            state[table["RouteTableId"]] = (routes, tags)
    return state


def ec2_state(local_aws) -> dict:
    peerings = local_aws.client("ec2", ACTIVE).describe_transit_gateway_peering_attachments()[
        "TransitGatewayPeeringAttachments"]
    return {
        "tgw": {region: local_aws.static_routes(region) for region in (ACTIVE, PASSIVE)},
        "vpc": vpc_route_state(local_aws),
        "live": sorted(p["TransitGatewayAttachmentId"] for p in peerings
                       if p["State"] not in ("deleted", "deleting", "rejected", "failed")),
    }


def test_setup_then_teardown_through_the_state_machine_leaves_ec2_as_it_was_and_a_second_teardown_is_a_no_op(local_aws):
    local_aws.deploy("VpcRoutes=true")
    before = ec2_state(local_aws)
    setup = local_aws.run({})
    assert setup.status == "SUCCEEDED", setup.described
    assert ec2_state(local_aws) != before

    planned = local_aws.run({"action": "teardown", "dryRun": True})
    assert planned.status == "SUCCEEDED", planned.described
    assert planned.output["peeringDeleted"] is True and planned.output["routesRemoved"] is False
    assert ec2_state(local_aws)["live"] == [setup.output["attachmentId"]], "a dry run deletes nothing"

    torn = local_aws.run({"action": "teardown"})

    assert torn.status == "SUCCEEDED", torn.described
    assert torn.output["status"] == "deleted"
    assert {"RemoveRoutes", "DeletePeering", "TornDown"} <= set(torn.entered())
    assert ec2_state(local_aws) == before
    planned_deletes = planned.output["teardown"]
    for side in ("active", "passive"):
        assert side_table(torn.output["teardown"], side)["deleted"] == side_table(planned_deletes, side)["deleted"], side

    calls_before = local_aws.mutating_calls()
    again = local_aws.run({"action": "teardown"})
    assert again.status == "SUCCEEDED", again.described
    assert local_aws.mutating_calls() == calls_before, "a second teardown changes nothing"


def test_teardown_sh_removes_what_setup_created(local_aws):
    local_aws.deploy()
    assert local_aws.run({}).status == "SUCCEEDED"

    done = subprocess.run([str(ROOT / "scripts/teardown.sh"), "--stack-name", STACK],
                          env=local_aws.env, capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "TORN DOWN" in done.stdout and "is deleted" in done.stdout, done.stdout
    assert "10.20.0.0/16" in done.stdout, done.stdout
    assert local_aws.static_routes("us-east-1") == {}
