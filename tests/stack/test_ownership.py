"""Ownership: the tool never deletes or replaces a route or an attachment it did not create.

Each test seeds a foreign estate next to the demo network: VPC attachments and static routes of
another team in both Regions, a blackhole route, a route that conflicts with a CIDR the tool wants,
and a peering from the same transit gateway to a third Region. Then it runs one scenario of the
reliability issue through the real state machine and checks that every foreign thing is exactly
as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from stack_support import ACTIVE, PASSIVE, LocalAws, harness, record, side_table

THIRD = "eu-west-1"
TAG_KEY = "addToTransitGateway"
ROUTED_TO_PASSIVE = {"10.1.0.0/16", "10.2.0.0/16"}  # the demo's tagged active VPCs
ROUTED_TO_ACTIVE = {"10.20.0.0/16"}  # the demo's tagged passive VPC
CONFLICTED = "10.21.0.0/16"  # a tagged passive VPC whose CIDR the active table already sends elsewhere
NEVER_TOUCHED = ("DeleteTransitGatewayRoute", "ReplaceTransitGatewayRoute",
                 "DeleteTransitGatewayVpcAttachment", "RejectTransitGatewayPeeringAttachment")


@dataclass
class ForeignEstate:
    routes: dict[str, dict[str, str | None]]  # region -> CIDR -> target (None: blackhole)
    attachments: dict[str, dict[str, str]]  # region -> attachment id -> state

    def lost(self, local_aws: LocalAws) -> list[str]:
        """Everything foreign that is gone or changed, as readable lines."""
        lost = []
        for region, routes in self.routes.items():
            now = local_aws.static_routes(region)
            lost += [f"{region} route {cidr} -> {target} is now {now.get(cidr, 'gone')}"
                     for cidr, target in routes.items() if now.get(cidr, "gone") != target]
        for region, attachments in self.attachments.items():
            now = attachment_states(local_aws, region)
            lost += [f"{region} attachment {a} {state} is now {now.get(a, 'gone')}"
                     for a, state in attachments.items() if now.get(a) != state]
        return lost


def attachment_states(local_aws: LocalAws, region: str) -> dict[str, str]:
    found = local_aws.client("ec2", region).describe_transit_gateway_attachments()
    return {a["TransitGatewayAttachmentId"]: a["State"] for a in found["TransitGatewayAttachments"]}


def only_tgw(ec2) -> dict:
    (tgw,) = ec2.describe_transit_gateways()["TransitGateways"]
    return tgw


def foreign_vpc_attachment(ec2, tgw_id: str, cidr: str, tags: list[dict] | None = None) -> str:
    spec = [{"ResourceType": "vpc", "Tags": tags}] if tags else []
    vpc = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=spec)["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
    attachment = ec2.create_transit_gateway_vpc_attachment(TransitGatewayId=tgw_id, VpcId=vpc,
                                                           SubnetIds=[subnet])
    return attachment["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]


def seed_foreign_estate(local_aws: LocalAws) -> ForeignEstate:
    routes: dict[str, dict[str, str | None]] = {}
    for region, own_cidr, blackhole in ((ACTIVE, "172.16.0.0/16", "192.168.0.0/24"),
                                         (PASSIVE, "172.17.0.0/16", "192.168.1.0/24")):
        ec2 = local_aws.client("ec2", region)
        tgw = only_tgw(ec2)
        table = tgw["Options"]["AssociationDefaultRouteTableId"]
        theirs = foreign_vpc_attachment(ec2, tgw["TransitGatewayId"], own_cidr)
        ec2.create_transit_gateway_route(DestinationCidrBlock=own_cidr, TransitGatewayRouteTableId=table,
                                         TransitGatewayAttachmentId=theirs)
        ec2.create_transit_gateway_route(DestinationCidrBlock=blackhole, TransitGatewayRouteTableId=table,
                                         Blackhole=True)
        routes[region] = {own_cidr: theirs, blackhole: None}
        if region == ACTIVE:
            # Another team already sends this CIDR elsewhere: a conflict the tool must leave alone.
            ec2.create_transit_gateway_route(DestinationCidrBlock=CONFLICTED,
                                             TransitGatewayRouteTableId=table,
                                             TransitGatewayAttachmentId=theirs)
            routes[region][CONFLICTED] = theirs
        else:
            foreign_vpc_attachment(ec2, tgw["TransitGatewayId"], CONFLICTED,
                                   tags=[{"Key": TAG_KEY, "Value": "true"}])

    # A peering from the same active transit gateway to a third Region: same gateway, other pair.
    active_tgw = only_tgw(local_aws.client("ec2", ACTIVE))["TransitGatewayId"]
    third = local_aws.client("ec2", THIRD)
    third_tgw = third.create_transit_gateway(Description="another team")["TransitGateway"]["TransitGatewayId"]
    foreign_peering = local_aws.client("ec2", ACTIVE).create_transit_gateway_peering_attachment(
        TransitGatewayId=active_tgw, PeerTransitGatewayId=third_tgw, PeerAccountId="123456789012",
        PeerRegion=THIRD)["TransitGatewayPeeringAttachment"]["TransitGatewayAttachmentId"]
    third.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=foreign_peering)

    attachments = {region: attachment_states(local_aws, region) for region in (ACTIVE, PASSIVE)}
    assert attachments[ACTIVE][foreign_peering] == "available"
    harness(local_aws.endpoint, "POST", "calls/reset")
    return ForeignEstate(routes, attachments)


@pytest.fixture
def estate(local_aws) -> ForeignEstate:
    local_aws.deploy()
    return seed_foreign_estate(local_aws)


def our_live_peerings(local_aws: LocalAws, estate: ForeignEstate) -> list[str]:
    found = local_aws.client("ec2", ACTIVE).describe_transit_gateway_peering_attachments()
    return [a["TransitGatewayAttachmentId"] for a in found["TransitGatewayPeeringAttachments"]
            if a["State"] not in ("deleted", "rejected", "failed")
            and a["TransitGatewayAttachmentId"] not in estate.attachments[ACTIVE]]


def assert_converged(local_aws: LocalAws, estate: ForeignEstate, attachment_id: str) -> None:
    """Exactly the wanted routes via our peering, and the foreign routes as they were."""
    assert local_aws.static_routes(ACTIVE) == {
        **{cidr: attachment_id for cidr in ROUTED_TO_ACTIVE}, **estate.routes[ACTIVE]}
    assert local_aws.static_routes(PASSIVE) == {
        **{cidr: attachment_id for cidr in ROUTED_TO_PASSIVE}, **estate.routes[PASSIVE]}


def finish(local_aws: LocalAws, estate: ForeignEstate, scenario: str, runs: int, outcome: str) -> None:
    """The checks every scenario ends with, recorded for docs/reliability.md."""
    calls = harness(local_aws.endpoint, "GET", "calls")
    succeeded = {a: n - calls["faulted"].get(a, 0) for a, n in calls["total"].items()}
    lost = estate.lost(local_aws)
    live = our_live_peerings(local_aws, estate)
    record(scenario, runs=runs, outcome=outcome, peeringsLive=len(live),
           peeringCreates=succeeded.get("CreateTransitGatewayPeeringAttachment", 0),
           routeCreates=succeeded.get("CreateTransitGatewayRoute", 0), foreignLost=len(lost),
           duplicated=max(0, len(live) - 1))
    assert lost == [], lost
    assert {a: succeeded.get(a, 0) for a in NEVER_TOUCHED} == {a: 0 for a in NEVER_TOUCHED}
    assert len(live) <= 1, f"duplicate live peerings: {live}"


def test_a_full_run_and_a_rerun_leave_foreign_routes_conflicts_and_attachments_alone(local_aws, estate):
    first = local_aws.run({})
    second = local_aws.run({})

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), first.described
    attachment = first.output["attachmentId"]
    assert second.output["attachmentId"] == attachment
    assert_converged(local_aws, estate, attachment)
    assert side_table(first.output["routes"], "active")["conflicts"] == [
        {"cidr": CONFLICTED, "target": estate.routes[ACTIVE][CONFLICTED]}]
    assert side_table(second.output["routes"], "active")["created"] == []
    assert side_table(second.output["routes"], "passive")["created"] == []
    finish(local_aws, estate, "full run, then a re-run", runs=2,
           outcome="converged; the re-run created nothing")


def test_with_30_percent_of_calls_throttled_foreign_things_survive(local_aws, estate):
    harness(local_aws.endpoint, "POST", "faults", {"action": "*", "probability": 0.3, "seed": 11,
                                                   "code": "RequestLimitExceeded", "httpStatus": 503})

    run = local_aws.run({})

    harness(local_aws.endpoint, "DELETE", "faults")
    assert run.status == "SUCCEEDED", run.described
    assert_converged(local_aws, estate, run.output["attachmentId"])
    finish(local_aws, estate, "30% of EC2 calls throttled", runs=1, outcome="converged")


def test_modify_routes_dying_part_way_is_retried_and_converges_without_touching_foreign_routes(
        local_aws, estate):
    # Every SDK attempt (6 each) at both passive routes, written at once, loses its connection: the
    # function dies with the active side's route made, and the state machine runs it again.
    harness(local_aws.endpoint, "POST", "faults", {"action": "CreateTransitGatewayRoute", "region": PASSIVE,
                                                   "dropConnection": True, "times": 6 * 2})

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    failures = [e.get("lambdaFunctionFailedEventDetails", e.get("taskFailedEventDetails", {})).get("error")
                for e in run.events if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    assert failures == ["Ec2Unreachable"], failures
    outputs = run.task_outputs("ModifyRoutes")
    assert side_table(outputs[-1]["peering"]["routes"], "active")["created"] == [], "the retry found the active route present"
    assert_converged(local_aws, estate, run.output["attachmentId"])
    finish(local_aws, estate, "modify-routes dies after part of its routes", runs=1,
           outcome="the state machine retried it; converged, no already-exists error")


def test_two_executions_at_once_leave_one_peering_and_foreign_things_alone(local_aws, estate):
    arns = [local_aws.start({}), local_aws.start({})]

    runs = [local_aws.wait(arn) for arn in arns]

    assert [r.status for r in runs] == ["SUCCEEDED", "SUCCEEDED"], [r.described for r in runs]
    assert runs[0].output["attachmentId"] == runs[1].output["attachmentId"]
    assert_converged(local_aws, estate, runs[0].output["attachmentId"])
    finish(local_aws, estate, "two executions started at once (the local Lambda takes one call at a time)",
           runs=2, outcome="one live peering; both report it")


@pytest.mark.parametrize("outcome", ["rejected", "failed"])
def test_a_peering_that_dies_while_waiting_changes_nothing_else(local_aws, estate, outcome):
    # `peer` sees the request initiating (so it accepts nothing); it dies a second later, while the
    # state machine waits.
    local_aws.peering_progression(outcome=outcome, initiatingRequestSeconds=1)

    run = local_aws.run({})

    assert run.status == "FAILED"
    assert run.described["error"] == "PeeringFailed"
    assert f"is {outcome}" in run.described["cause"]
    assert local_aws.mutating_calls() == {"CreateTransitGatewayPeeringAttachment": 1}
    assert local_aws.static_routes(ACTIVE) == estate.routes[ACTIVE]
    assert local_aws.static_routes(PASSIVE) == estate.routes[PASSIVE]
    finish(local_aws, estate, f"peering {outcome} while waiting", runs=1,
           outcome=f"FAILED naming {outcome}; only the request was created")


def test_a_peering_that_never_leaves_pending_times_out_and_changes_nothing_else(local_aws, estate):
    local_aws.deploy("MaxPolls=3")
    local_aws.peering_progression(pendingSeconds=3600)
    harness(local_aws.endpoint, "POST", "calls/reset")

    run = local_aws.run({})

    assert run.described["error"] == "PeeringTimedOut"
    assert local_aws.static_routes(ACTIVE) == estate.routes[ACTIVE]
    assert set(local_aws.mutating_calls()) <= {"CreateTransitGatewayPeeringAttachment",
                                               "AcceptTransitGatewayPeeringAttachment"}
    finish(local_aws, estate, "peering pending past MaxPolls", runs=1,
           outcome="FAILED with PeeringTimedOut; no routes")


def test_bad_input_creates_nothing_and_leaves_foreign_things_alone(local_aws, estate):
    foreign_table = local_aws.client("ec2", THIRD).describe_transit_gateway_route_tables()[
        "TransitGatewayRouteTables"][0]["TransitGatewayRouteTableId"]
    bad = [{"passiveRegion": ACTIVE}, {"activeTransitGatewayId": "tgw-'; DROP TABLE--"},
           {"passiveRouteTableId": foreign_table}, {"vpcTagKey": None}]

    runs = [local_aws.run(request) for request in bad]

    assert [r.described.get("error") for r in runs] == [
        "InvalidInput", "InvalidInput", "RouteTableMismatch", "InvalidInput"], [r.described for r in runs]
    mutating = local_aws.mutating_calls()
    record("bad input through the state machine", runs=len(runs), mutatingCalls=sum(mutating.values()),
           outcome="FAILED with the errorType")
    assert mutating == {}
    finish(local_aws, estate, "bad input through the state machine", runs=0,
           outcome="FAILED with the errorType")
