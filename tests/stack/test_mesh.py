"""A full mesh on the local AWS: the real template and state machine, one execution meshing N
Regions. Each pair runs as an execution of the same state machine (startExecution.sync:2 in a
Map), so each keeps today's pair flow; the mesh adds the rows up."""

from __future__ import annotations

import itertools

import seed_demo  # noqa: E402  (stack_support puts scripts/lib on the path)
from stack_support import ACTIVE, PASSIVE, LocalAws, harness, record

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


def test_a_three_region_mesh_peers_every_pair_once_and_a_rerun_changes_nothing(local_aws):
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

    harness(local_aws.endpoint, "POST", "calls/reset")
    again = local_aws.run(mesh_request(local_aws, regions))
    assert again.status == "SUCCEEDED", again.described
    assert local_aws.mutating_calls() == {}, "a re-run with nothing to do makes no mutating call"
    assert again.output["summary"]["routes"]["created"] == 0
