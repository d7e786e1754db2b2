"""A full mesh on the local AWS: the real template and state machine, one execution meshing N
Regions. Each pair runs as an execution of the same state machine (startExecution.sync:2 in a
Map), so each keeps today's pair flow; the mesh adds the rows up."""

from __future__ import annotations

import itertools
import json
import subprocess
import time

import seed_demo  # noqa: E402  (stack_support puts scripts/lib on the path)
from stack_support import ACTIVE, PASSIVE, ROOT, STACK, LocalAws, harness, record

THIRD, FOURTH = "eu-west-1", "ap-southeast-2"


def seed_mesh(local_aws: LocalAws, regions: list[str]) -> dict[str, list[str]]:
    """Fresh networks in `regions` (the fixture's own demo in ACTIVE and PASSIVE is cleared
    first by seeding on new gateways: each mesh side uses its new gateway by id)."""
    cidrs = {}
    for index, region in enumerate(regions):
        layout = seed_demo.mesh_layout(index)
        seed_demo.seed_region(local_aws.client("ec2", region), region, layout, "addToMesh")
        cidrs[region] = layout["tagged"]
    harness(local_aws.endpoint, "POST", "calls/reset")
    return cidrs


def gateway(local_aws: LocalAws, region: str) -> str:
    """The mesh gateway of `region`: the one whose VPCs carry the mesh's tag."""
    ec2 = local_aws.client("ec2", region)
    tagged = {v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": ["addToMesh"]}])["Vpcs"]}
    attachments = ec2.describe_transit_gateway_vpc_attachments()["TransitGatewayVpcAttachments"]
    return next(a["TransitGatewayId"] for a in attachments if a["VpcId"] in tagged)


def mesh_request(local_aws: LocalAws, regions: list[str], **fields) -> dict:
    sides = [{"region": r, "transitGatewayId": gateway(local_aws, r)} for r in regions]
    return {"mesh": sides, "vpcTagKey": "addToMesh", "vpcRoutes": True, **fields}


def vpc_routes(local_aws: LocalAws, region: str) -> set[tuple[str, str, str]]:
    """Every VPC route to a transit gateway in `region`: (route table, CIDR, gateway)."""
    tables = local_aws.client("ec2", region).describe_route_tables()["RouteTables"]
    return {(t["RouteTableId"], r.get("DestinationCidrBlock", ""), r["TransitGatewayId"])
            for t in tables for r in t.get("Routes", []) if r.get("TransitGatewayId")}


def start_sh(local_aws: LocalAws, tmp_path, request: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "mesh.json"
    path.write_text(json.dumps(request))
    return subprocess.run([str(ROOT / "scripts/start.sh"), str(path), "--stack-name", STACK],
                          env=local_aws.env, capture_output=True, text=True, timeout=300)


def live_peerings(local_aws: LocalAws, region: str) -> list[dict]:
    found = local_aws.client("ec2", region).describe_transit_gateway_peering_attachments()
    return [a for a in found["TransitGatewayPeeringAttachments"]
            if a["State"] not in ("deleted", "rejected", "failed")]


def assert_full_mesh(local_aws: LocalAws, regions: list[str], cidrs: dict[str, list[str]]) -> None:
    """Every pair peered exactly once, and every side routes every other side's CIDRs via the
    peering of that pair, never via a third Region."""
    gateways = {r: gateway(local_aws, r) for r in regions}
    for a, b in itertools.combinations(regions, 2):
        ends = {gateways[a], gateways[b]}
        joining = [p for p in live_peerings(local_aws, a)
                   if {p["RequesterTgwInfo"]["TransitGatewayId"], p["AccepterTgwInfo"]["TransitGatewayId"]} == ends]
        assert len(joining) == 1, f"{a} <-> {b}: {len(joining)} peerings"
        assert joining[0]["State"] == "available"
        via = joining[0]["TransitGatewayAttachmentId"]
        for side, other in ((a, b), (b, a)):
            routes = local_aws.static_routes(side)
            for cidr in cidrs[other]:
                assert routes.get(cidr) == via, f"{side}: {cidr} goes {routes.get(cidr)}, not via {a} <-> {b}"


def test_a_three_region_mesh_peers_every_pair_once_and_a_rerun_changes_nothing(local_aws, tmp_path):
    regions = [ACTIVE, PASSIVE, THIRD]
    local_aws.deploy(f"MeshRegions={','.join(regions)}")
    cidrs = seed_mesh(local_aws, regions)

    execution = local_aws.run(mesh_request(local_aws, regions))

    assert execution.status == "SUCCEEDED", [e for e in execution.events if "Fail" in e["type"]][:3]
    output = execution.output
    assert len(output["pairs"]) == 3
    assert {row["pair"] for row in output["pairs"]} == {
        f"{ACTIVE} <-> {PASSIVE}", f"{ACTIVE} <-> {THIRD}", f"{PASSIVE} <-> {THIRD}"}
    # Each pair: 2 CIDRs each way in the TGW tables, and in each of the 2 VPCs' tables on each side.
    per_pair = 2 * 2 + 2 * 2 * 2
    assert output["summary"]["text"] == (
        f"3 of 3 pairs available, {3 * per_pair} routes created, 12 of 12 VPC pairs reachable")
    assert_full_mesh(local_aws, regions, cidrs)
    record("mesh of 3 Regions", pairs=3, available=output["summary"]["available"],
           reachable=f"{output['summary']['reachable']}/{output['summary']['vpcPairs']}")

    # Again, as an operator runs it: start.sh prints the matrix and the summary line.
    harness(local_aws.endpoint, "POST", "calls/reset")
    done = start_sh(local_aws, tmp_path, mesh_request(local_aws, regions))
    assert done.returncode == 0, done.stdout + done.stderr
    assert local_aws.mutating_calls() == {}, "a re-run with nothing to do makes no mutating call"
    lines = done.stdout.splitlines()
    assert any(line.split()[:3] == ["pair", "attachment", "status"] for line in lines), done.stdout
    assert sum(1 for line in lines if " <-> " in line and "available" in line) == 3, done.stdout
    assert "3 of 3 pairs available, 0 routes created, 12 of 12 VPC pairs reachable" in done.stdout


def test_a_four_region_mesh_writes_within_each_regions_pace_and_its_dry_run_plans_what_it_does(local_aws):
    regions = [ACTIVE, PASSIVE, THIRD, FOURTH]
    local_aws.deploy(f"MeshRegions={','.join(regions)}")
    cidrs = seed_mesh(local_aws, regions)

    planned = local_aws.run(mesh_request(local_aws, regions, dryRun=True))
    assert planned.status == "SUCCEEDED", planned.described
    assert local_aws.mutating_calls() == {}, "a dry run changes nothing"
    assert planned.output["summary"]["text"].startswith("dry run: 6 pairs, 6 peerings to create")

    # EC2's mutating token bucket, per Region: the pairs together must stay within it.
    harness(local_aws.endpoint, "POST", "rate-limits", {"enabled": True})
    execution = local_aws.run(mesh_request(local_aws, regions))
    limits = harness(local_aws.endpoint, "GET", "rate-limits")
    harness(local_aws.endpoint, "DELETE", "rate-limits")

    assert execution.status == "SUCCEEDED", [e for e in execution.events if "Fail" in e["type"]][:3]
    summary = execution.output["summary"]
    assert summary["text"].startswith("6 of 6 pairs available")
    assert summary["reachable"] == summary["vpcPairs"] == 24
    planned_rows = {row["pair"]: (row["createPeering"], row["routes"]) for row in planned.output["pairs"]}
    done_rows = {row["pair"]: (True, row["routes"]) for row in execution.output["pairs"]}
    assert planned_rows == done_rows, "the dry run planned, pair by pair, exactly what the run did"
    assert_full_mesh(local_aws, regions, cidrs)
    mutating = limits["calls"]["mutating"]
    throttled = mutating["throttled"] / max(1, mutating["allowed"] + mutating["throttled"])
    assert throttled <= 0.05, limits
    record("mesh of 4 Regions", pairs=6, throttled=f"{throttled:.1%}",
           reachable=f"{summary['reachable']}/{summary['vpcPairs']}")

    harness(local_aws.endpoint, "POST", "calls/reset")
    again = local_aws.run(mesh_request(local_aws, regions))
    assert again.status == "SUCCEEDED", again.described
    assert local_aws.mutating_calls() == {}, "a re-run of the 4-Region mesh makes no mutating call"


def test_an_overlap_between_sides_that_are_not_adjacent_is_refused_before_anything_is_created(local_aws):
    regions = [ACTIVE, PASSIVE, THIRD]
    local_aws.deploy(f"MeshRegions={','.join(regions)}")
    seed_mesh(local_aws, regions)
    # The third side gets a VPC inside the first side's range.
    seed_demo.seed_region(local_aws.client("ec2", THIRD), THIRD,
                          {"tagged": ["10.100.128.0/20"], "untagged": "10.199.0.0/16"}, "addToMesh",
                          transit_gateway_id=gateway(local_aws, THIRD))
    harness(local_aws.endpoint, "POST", "calls/reset")

    execution = local_aws.run(mesh_request(local_aws, regions))

    assert execution.status == "FAILED"
    assert execution.described["error"] == "CidrOverlap"
    cause = execution.described["cause"]
    assert f"{ACTIVE} 10.100.0.0/16" in cause and f"{THIRD} 10.100.128.0/20" in cause, cause
    assert local_aws.mutating_calls() == {}, "nothing is created before the whole mesh is checked"


def test_a_vpc_tagged_after_the_plan_that_overlaps_a_third_side_is_refused_by_the_pair_before_it_writes(local_aws):
    # Given a three-Region mesh whose pairs are still waiting for their peerings when, after the
    # mesh was planned, a VPC inside the third side's range is tagged on the first side
    regions = [ACTIVE, PASSIVE, THIRD]
    local_aws.deploy(f"MeshRegions={','.join(regions)}")
    cidrs = seed_mesh(local_aws, regions)
    overlapping = "10.120.128.0/20"  # inside THIRD's 10.120.0.0/16
    assert any(cidr.startswith("10.120.") for cidr in cidrs[THIRD])
    local_aws.peering_progression(pendingSeconds=8)
    sfn = local_aws.client("stepfunctions")
    arn = local_aws.start(mesh_request(local_aws, regions))

    def planned() -> bool:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return any(e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] == "MeshPairs"
                   for e in events)

    deadline = time.monotonic() + 60
    while not planned():
        assert time.monotonic() < deadline, "the mesh was not planned within 60 s"
        time.sleep(0.1)
    seed_demo.seed_region(local_aws.client("ec2", ACTIVE), ACTIVE, {"tagged": [overlapping], "untagged": "10.198.0.0/16"},
                          "addToMesh", transit_gateway_id=gateway(local_aws, ACTIVE))

    # When the pairs write
    execution = local_aws.wait(arn)

    # Then the us-east-1 <-> us-west-2 pair, whose own two sides do not overlap, is refused with
    # CidrOverlap naming the new VPC's side and the third side, and wrote no route
    assert execution.status == "FAILED"
    assert execution.described["error"] == "MeshPairsFailed", execution.described
    rows = {row["pair"]: row for row in execution.task_outputs("MeshReport")[-1]["pairs"]}
    pair = rows[f"{ACTIVE} <-> {PASSIVE}"]
    assert pair.get("errorType") == "CidrOverlap", pair
    assert f"{ACTIVE} {overlapping}" in pair["cause"] and f"{THIRD} 10.120.0.0/16" in pair["cause"], pair["cause"]
    assert pair["routes"]["created"] == 0
    passive_routes, active_routes = local_aws.static_routes(PASSIVE), local_aws.static_routes(ACTIVE)
    assert overlapping not in passive_routes
    assert not any(cidr in passive_routes for cidr in cidrs[ACTIVE]), passive_routes
    assert not any(cidr in active_routes for cidr in cidrs[PASSIVE]), active_routes
    # The pair that joins the two overlapping sides refuses on its own check, as before.
    assert rows[f"{ACTIVE} <-> {THIRD}"]["errorType"] == "CidrOverlap"


def test_one_pair_rejected_lets_the_others_finish_and_a_rerun_completes_the_mesh(local_aws):
    regions = [ACTIVE, PASSIVE, THIRD]
    local_aws.deploy(f"MeshRegions={','.join(regions)}")
    cidrs = seed_mesh(local_aws, regions)
    gateways = {r: gateway(local_aws, r) for r in regions}
    # The other two pairs' peerings are requested already (the mesh accepts and reuses them);
    # the one the mesh creates, us-east-1 <-> us-west-2's, the peer Region then rejects.
    for a, b in ((ACTIVE, THIRD), (PASSIVE, THIRD)):
        local_aws.client("ec2", a).create_transit_gateway_peering_attachment(
            TransitGatewayId=gateways[a], PeerTransitGatewayId=gateways[b], PeerAccountId="123456789012",
            PeerRegion=b)
    local_aws.peering_progression(outcome="rejected")

    execution = local_aws.run(mesh_request(local_aws, regions))

    assert execution.status == "FAILED"
    assert execution.described["error"] == "MeshPairsFailed"
    assert execution.described["cause"].startswith(f"1 of 3 pairs failed: {ACTIVE} <-> {PASSIVE} (PeeringFailed)")
    for a, b in ((ACTIVE, THIRD), (PASSIVE, THIRD)):
        for side, other in ((a, b), (b, a)):
            routes = local_aws.static_routes(side)
            assert all(routes.get(cidr) for cidr in cidrs[other]), f"{a} <-> {b} completed"
    assert not any(local_aws.static_routes(ACTIVE).get(cidr) for cidr in cidrs[PASSIVE])

    local_aws.peering_progression()  # the peer Region accepts again
    again = local_aws.run(mesh_request(local_aws, regions))
    assert again.status == "SUCCEEDED", again.described
    assert_full_mesh(local_aws, regions, cidrs)
    rows = {row["pair"]: row for row in again.output["pairs"]}
    assert rows[f"{ACTIVE} <-> {THIRD}"]["routes"]["created"] == 0, "a re-run finishes only what is missing"
    assert rows[f"{ACTIVE} <-> {PASSIVE}"]["routes"]["created"] > 0


def test_one_region_leaves_the_mesh_then_the_whole_mesh_is_torn_down_leaving_foreign_routes(local_aws):
    regions = [ACTIVE, PASSIVE, THIRD]
    local_aws.deploy(f"MeshRegions={','.join(regions)}")
    cidrs = seed_mesh(local_aws, regions)
    before = {r: local_aws.static_routes(r) for r in regions}
    vpc_before = {r: vpc_routes(local_aws, r) for r in regions}
    ec2 = local_aws.client("ec2", ACTIVE)
    assert local_aws.run(mesh_request(local_aws, regions)).status == "SUCCEEDED"
    # A route of someone else's in a mesh table: teardown must leave it.
    table = ec2.describe_transit_gateway_route_tables(Filters=[
        {"Name": "transit-gateway-id", "Values": [gateway(local_aws, ACTIVE)]}])["TransitGatewayRouteTables"][0]
    ec2.create_transit_gateway_route(TransitGatewayRouteTableId=table["TransitGatewayRouteTableId"],
                                     DestinationCidrBlock="192.168.0.0/16", Blackhole=True)

    leaving = local_aws.run(mesh_request(local_aws, regions, action="teardown", leaving=THIRD))

    assert leaving.status == "SUCCEEDED", leaving.described
    assert {row["pair"] for row in leaving.output["pairs"]} == {f"{ACTIVE} <-> {THIRD}", f"{PASSIVE} <-> {THIRD}"}
    assert local_aws.static_routes(THIRD) == before[THIRD]
    for side, other in ((ACTIVE, PASSIVE), (PASSIVE, ACTIVE)):
        routes = local_aws.static_routes(side)
        assert all(routes.get(cidr) for cidr in cidrs[other]), f"{side} <-> {other} stays"
        assert not any(routes.get(cidr) for cidr in cidrs[THIRD]), f"{side}: no route to {THIRD} is left"
    assert not live_peerings(local_aws, THIRD)

    everything = local_aws.run(mesh_request(local_aws, regions, action="teardown"))
    assert everything.status == "SUCCEEDED", everything.described
    for region in regions:
        assert not live_peerings(local_aws, region)
    assert local_aws.static_routes(ACTIVE) == {**before[ACTIVE], "192.168.0.0/16": None}
    assert local_aws.static_routes(PASSIVE) == before[PASSIVE]
    assert {r: vpc_routes(local_aws, r) for r in regions} == vpc_before, "every VPC route it added is gone"
