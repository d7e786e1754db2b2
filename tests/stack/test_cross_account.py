"""The passive transit gateway in another account, end to end on the local AWS: the main stack
deployed by deploy.sh with PassiveAccountId / PassiveRoleArn, cloudformation/passive-account-role.yaml
deployed in the passive account by its administrator with the main stack's three function role
ARNs, and the real state machine peering account A's active-Region gateway with account B's.

The functions act as sessions of their execution roles (local_aws_patches.
functions_run_as_their_execution_role), so the passive role's trust policy, which names exactly
those roles, is checked as on AWS (patches.assume_role_needs_a_trusting_role).
"""

from __future__ import annotations

import boto3
import pytest
import seed_demo  # noqa: E402  (stack_support puts scripts/lib on the path)
from stack_support import ACTIVE, PASSIVE, ROOT, LocalAws, harness

B = "111122223333"
ROLE_NAME = "tgw-peering-passive"
ROLE_ARN = f"arn:aws:iam::{B}:role/{ROLE_NAME}"
ROLE_STACK = "tgw-peering-passive-role"
ROLE_TEMPLATE = ROOT / "cloudformation" / "passive-account-role.yaml"
TAG_KEY = "addToTransitGateway"
# Account B's network in the passive Region; account A's own there (the fixture's demo network,
# 10.20.0.0/16 tagged) must not be routed.
B_LAYOUT = {"tagged": ["10.30.0.0/16"], "untagged": "10.39.0.0/16"}
A_TAGGED = {"10.1.0.0/16", "10.2.0.0/16"}  # the demo's tagged active VPCs
FUNCTION_ROLES = ("PeerRoleArn", "GetStatusRoleArn", "ModifyRoutesRoleArn")


def as_b(local_aws: LocalAws, service: str, region: str = PASSIVE):
    """A client of account B's administrator (moto's x-moto-account-id; never in the code under test)."""
    client = boto3.client(service, region_name=region, endpoint_url=local_aws.endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.meta.events.register("before-sign", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", B))
    return client


def seed_b(local_aws: LocalAws) -> dict:
    """B's transit gateway in the passive Region, with a tagged, attached VPC and an untagged one."""
    ec2 = as_b(local_aws, "ec2")
    seed_demo.seed_region(ec2, PASSIVE, B_LAYOUT, TAG_KEY)
    (tgw,) = ec2.describe_transit_gateways()["TransitGateways"]
    assert tgw["OwnerId"] == B
    harness(local_aws.endpoint, "POST", "calls/reset")
    return tgw


def deploy_main_stack(local_aws: LocalAws) -> dict[str, str]:
    local_aws.deploy(f"PassiveAccountId={B}", f"PassiveRoleArn={ROLE_ARN}")
    return local_aws.outputs()


def deploy_role_stack(local_aws: LocalAws, **parameters: str) -> str:
    """passive-account-role.yaml in account B, as B's administrator; returns its PassiveRoleArn."""
    cfn = as_b(local_aws, "cloudformation")
    cfn.create_stack(StackName=ROLE_STACK, TemplateBody=ROLE_TEMPLATE.read_text(),
                     Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    (stack,) = cfn.describe_stacks(StackName=ROLE_STACK)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["PassiveRoleArn"]


def role_parameters(outputs: dict[str, str]) -> dict[str, str]:
    return {"PassiveRegion": PASSIVE, **{name: outputs[name] for name in FUNCTION_ROLES}}


def static_routes(ec2, route_table_id: str) -> dict[str, str]:
    found = ec2.search_transit_gateway_routes(TransitGatewayRouteTableId=route_table_id,
                                              Filters=[{"Name": "type", "Values": ["static"]}])["Routes"]
    return {r["DestinationCidrBlock"]: r["TransitGatewayAttachments"][0]["TransitGatewayAttachmentId"]
            for r in found}


def a_peerings(local_aws: LocalAws) -> list[dict]:
    """Account A's peering attachments in both Regions, whatever their state."""
    return [a for region in (ACTIVE, PASSIVE)
            for a in local_aws.client("ec2", region).describe_transit_gateway_peering_attachments()[
                "TransitGatewayPeeringAttachments"]]


def only_tgw(local_aws: LocalAws, region: str) -> dict:
    (tgw,) = local_aws.client("ec2", region).describe_transit_gateways()["TransitGateways"]
    return tgw


def test_the_passive_gateway_in_another_account_is_peered_and_routed_through_its_role(local_aws):
    b_tgw = seed_b(local_aws)
    outputs = deploy_main_stack(local_aws)
    assert deploy_role_stack(local_aws, **role_parameters(outputs)) == ROLE_ARN
    request = {"passiveTransitGatewayId": b_tgw["TransitGatewayId"]}

    run = local_aws.run(request)

    assert run.status == "SUCCEEDED", run.described
    output = run.output
    attachment = output["attachmentId"]
    assert output["passiveAccountId"] == B
    assert output["status"] == "available" and output["created"] and output["accepted"]
    (peering,) = local_aws.client("ec2").describe_transit_gateway_peering_attachments(
        TransitGatewayAttachmentIds=[attachment])["TransitGatewayPeeringAttachments"]
    assert peering["State"] == "available"
    assert (peering["AccepterTgwInfo"]["TransitGatewayId"], peering["AccepterTgwInfo"]["OwnerId"]) == (
        b_tgw["TransitGatewayId"], B)
    # A's active table routes B's tagged VPC; B's table (read as B) routes A's tagged VPCs.
    a_table = only_tgw(local_aws, ACTIVE)["Options"]["AssociationDefaultRouteTableId"]
    assert static_routes(local_aws.client("ec2"), a_table) == {"10.30.0.0/16": attachment}
    b_table = b_tgw["Options"]["AssociationDefaultRouteTableId"]
    assert static_routes(as_b(local_aws, "ec2"), b_table) == {cidr: attachment for cidr in A_TAGGED}
    # A's own gateway in the passive Region is left alone.
    assert local_aws.static_routes(PASSIVE) == {}

    harness(local_aws.endpoint, "POST", "calls/reset")
    again = local_aws.run(request)

    assert again.status == "SUCCEEDED", again.described
    assert again.output["attachmentId"] == attachment
    assert not again.output["created"] and not again.output["accepted"]
    assert local_aws.mutating_calls() == {}


def _untrusting(local_aws: LocalAws, outputs: dict[str, str]) -> None:
    """The role trusts get-status and modify-routes, not peer."""
    deploy_role_stack(local_aws, **{**role_parameters(outputs), "PeerRoleArn": outputs["GetStatusRoleArn"]})


def _another_name(local_aws: LocalAws, outputs: dict[str, str]) -> None:
    """The role exists under a name the main stack does not use."""
    deploy_role_stack(local_aws, **role_parameters(outputs), RoleName="tgw-peering-other")


def _deleted(local_aws: LocalAws, outputs: dict[str, str]) -> None:
    """The role stack was deployed, then deleted."""
    deploy_role_stack(local_aws, **role_parameters(outputs))
    as_b(local_aws, "cloudformation").delete_stack(StackName=ROLE_STACK)
    with pytest.raises(as_b(local_aws, "iam").exceptions.NoSuchEntityException):
        as_b(local_aws, "iam").get_role(RoleName=ROLE_NAME)


@pytest.mark.parametrize("role_stack", [_untrusting, _another_name, _deleted],
                         ids=["peer-role-not-trusted", "another-role-name", "role-stack-deleted"])
def test_a_passive_role_that_cannot_be_assumed_fails_with_access_denied_and_creates_nothing(
        local_aws, role_stack):
    b_tgw = seed_b(local_aws)
    outputs = deploy_main_stack(local_aws)
    role_stack(local_aws, outputs)
    harness(local_aws.endpoint, "POST", "calls/reset")

    run = local_aws.run({"passiveTransitGatewayId": b_tgw["TransitGatewayId"]})

    assert run.status == "FAILED", run.described
    assert run.described["error"] == "AccessDenied", run.described
    cause = run.described["cause"]
    assert "passiveRoleArn" in cause and ROLE_ARN in cause, cause
    assert run.entered("Peer") == ["Peer"] and run.entered("ModifyRoutes") == []
    assert local_aws.mutating_calls() == {}
    assert a_peerings(local_aws) == []


def test_a_passive_role_trusting_only_peer_fails_the_routes_with_access_denied_and_adds_none(local_aws):
    # The role stack given PeerRoleArn for all three: peer gets in, modify-routes is refused.
    b_tgw = seed_b(local_aws)
    outputs = deploy_main_stack(local_aws)
    deploy_role_stack(local_aws, PassiveRegion=PASSIVE,
                      **{name: outputs["PeerRoleArn"] for name in FUNCTION_ROLES})

    run = local_aws.run({"passiveTransitGatewayId": b_tgw["TransitGatewayId"]})

    assert run.status == "FAILED", run.described
    assert run.described["error"] == "AccessDenied", run.described
    cause = run.described["cause"]
    assert "passiveRoleArn" in cause and ROLE_ARN in cause, cause
    assert run.entered("ModifyRoutes") == ["ModifyRoutes"]
    assert "CreateTransitGatewayRoute" not in local_aws.mutating_calls()
    a_table = only_tgw(local_aws, ACTIVE)["Options"]["AssociationDefaultRouteTableId"]
    assert static_routes(local_aws.client("ec2"), a_table) == {}
    assert static_routes(as_b(local_aws, "ec2"), b_tgw["Options"]["AssociationDefaultRouteTableId"]) == {}


# --- a mesh across three accounts --------------------------------------------------------------

C = "444455556666"
THIRD = "eu-west-1"
MESH_TAG = "addToMesh"


def as_account(local_aws: LocalAws, account: str, service: str, region: str):
    """A client of `account`'s administrator (moto's x-moto-account-id)."""
    client = boto3.client(service, region_name=region, endpoint_url=local_aws.endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.meta.events.register("before-sign", lambda request, **_: request.headers.__setitem__(
        "x-moto-account-id", account))
    return client


def deploy_side_role(local_aws: LocalAws, account: str, outputs: dict[str, str], region: str,
                     requests_peerings: bool) -> str:
    """passive-account-role.yaml in `account` for its mesh side in `region`; returns the role."""
    cfn = as_account(local_aws, account, "cloudformation", ACTIVE)
    parameters = {**role_parameters(outputs), "PassiveRegion": region, "RoleName": f"tgw-peering-{region}",
                  "RequestsPeerings": "true" if requests_peerings else "false"}
    cfn.create_stack(StackName=f"tgw-peering-side-{region}", TemplateBody=ROLE_TEMPLATE.read_text(),
                     Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    (stack,) = cfn.describe_stacks(StackName=f"tgw-peering-side-{region}")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["PassiveRoleArn"]


def mesh_gateway(ec2) -> dict:
    """The gateway whose VPCs carry the mesh's tag."""
    tagged = {v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag-key", "Values": [MESH_TAG]}])["Vpcs"]}
    attachments = ec2.describe_transit_gateway_vpc_attachments()["TransitGatewayVpcAttachments"]
    tgw_id = next(a["TransitGatewayId"] for a in attachments if a["VpcId"] in tagged)
    (tgw,) = ec2.describe_transit_gateways(TransitGatewayIds=[tgw_id])["TransitGateways"]
    return tgw


def test_a_mesh_with_sides_in_two_other_accounts_is_peered_as_each_sides_role_and_torn_down(local_aws):
    # A (the stack's account) in ACTIVE, B in PASSIVE, C in THIRD: each its own network.
    sides = {ACTIVE: (None, local_aws.client("ec2", ACTIVE)),
             PASSIVE: (B, as_account(local_aws, B, "ec2", PASSIVE)),
             THIRD: (C, as_account(local_aws, C, "ec2", THIRD))}
    cidrs = {}
    for index, (region, (_, ec2)) in enumerate(sides.items()):
        layout = seed_demo.mesh_layout(index)
        seed_demo.seed_region(ec2, region, layout, MESH_TAG)
        cidrs[region] = layout["tagged"]
    local_aws.deploy(f"MeshRegions={ACTIVE},{PASSIVE},{THIRD}")
    outputs = local_aws.outputs()
    # B pairs with C as the requester (it is listed first), so its role may request peerings.
    roles = {PASSIVE: deploy_side_role(local_aws, B, outputs, PASSIVE, requests_peerings=True),
             THIRD: deploy_side_role(local_aws, C, outputs, THIRD, requests_peerings=False)}
    gateways = {region: mesh_gateway(ec2) for region, (_, ec2) in sides.items()}
    request = {"mesh": [{"region": region, "transitGatewayId": gateways[region]["TransitGatewayId"],
                         **({"roleArn": roles[region]} if region in roles else {})} for region in sides],
               "vpcTagKey": MESH_TAG, "vpcRoutes": True}

    # Until the stack names the roles, the mesh is refused before anything is created.
    harness(local_aws.endpoint, "POST", "calls/reset")
    refused = local_aws.run(request)
    assert refused.status == "FAILED", refused.described
    assert refused.described["error"] == "InvalidInput", refused.described
    assert "mesh[1].roleArn" in refused.described["cause"] and "MeshRoleArns" in refused.described["cause"]
    assert local_aws.mutating_calls() == {}

    local_aws.deploy(f"MeshRegions={ACTIVE},{PASSIVE},{THIRD}", f"MeshRoleArns={roles[PASSIVE]},{roles[THIRD]}")
    harness(local_aws.endpoint, "POST", "calls/reset")
    run = local_aws.run(request)

    assert run.status == "SUCCEEDED", run.described
    per_pair = 2 * 2 + 2 * 2 * 2
    assert run.output["summary"]["text"] == (
        f"3 of 3 pairs available, {3 * per_pair} routes created, 12 of 12 VPC pairs reachable")
    for a, b in [(ACTIVE, PASSIVE), (ACTIVE, THIRD), (PASSIVE, THIRD)]:
        ends = {gateways[a]["TransitGatewayId"], gateways[b]["TransitGatewayId"]}
        listed = sides[a][1].describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"]
        (peering,) = [p for p in listed if p["State"] == "available" and {
            p["RequesterTgwInfo"]["TransitGatewayId"], p["AccepterTgwInfo"]["TransitGatewayId"]} == ends]
        # The stack's account requests its pairs; between B and C, B does, as its role.
        assert peering["RequesterTgwInfo"]["OwnerId"] == (B if a == PASSIVE else sides[ACTIVE][1].describe_transit_gateways(
            TransitGatewayIds=[gateways[ACTIVE]["TransitGatewayId"]])["TransitGateways"][0]["OwnerId"])
        via = peering["TransitGatewayAttachmentId"]
        for side, other in ((a, b), (b, a)):
            table = gateways[side]["Options"]["AssociationDefaultRouteTableId"]
            routes = static_routes(sides[side][1], table)
            for cidr in cidrs[other]:
                assert routes.get(cidr) == via, f"{side}: {cidr} goes {routes.get(cidr)}, not via {a} <-> {b}"

    harness(local_aws.endpoint, "POST", "calls/reset")
    again = local_aws.run(request)
    assert again.status == "SUCCEEDED", again.described
    assert local_aws.mutating_calls() == {}, "a re-run with nothing to do makes no mutating call"

    gone = local_aws.run({**request, "action": "teardown"})
    assert gone.status == "SUCCEEDED", gone.described
    for region, (_, ec2) in sides.items():
        assert static_routes(ec2, gateways[region]["Options"]["AssociationDefaultRouteTableId"]) == {}, region
        live = [p for p in ec2.describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"]
                if p["State"] not in ("deleted", "deleting", "rejected", "failed")]
        assert live == [], region
