"""Checks the EC2 emulator (server.py) against documented AWS behaviour, through
boto3 over HTTP. Set EMULATOR_SKIP_PATCHES=name[,name] to start the server
without those patches and see which tests catch the gap."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from server_process import running_server

SERVER = Path(__file__).with_name("server.py")
ACCOUNT = "123456789012"  # moto's default account
REQUESTER, ACCEPTER = "us-east-1", "eu-west-1"


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def endpoint():
    with running_server() as url:
        yield url


def harness(endpoint: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{endpoint}/_harness/{path}", data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


@pytest.fixture(autouse=True)
def clean_state(endpoint):
    harness(endpoint, "POST", "reset")


def client(endpoint: str, region: str, **config):
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config),
    )


@pytest.fixture
def ec2_a(endpoint):
    return client(endpoint, REQUESTER)


@pytest.fixture
def ec2_b(endpoint):
    return client(endpoint, ACCEPTER)


def create_tgw(ec2) -> dict:
    return ec2.create_transit_gateway(Description="test")["TransitGateway"]


def create_peering(ec2_a, tgw_a: str, tgw_b: str) -> dict:
    return ec2_a.create_transit_gateway_peering_attachment(
        TransitGatewayId=tgw_a,
        PeerTransitGatewayId=tgw_b,
        PeerAccountId=ACCOUNT,
        PeerRegion=ACCEPTER,
        TagSpecifications=[
            {"ResourceType": "transit-gateway-attachment", "Tags": [{"Key": "Name", "Value": "p"}]}
        ],
    )["TransitGatewayPeeringAttachment"]


@pytest.fixture
def tgws(ec2_a, ec2_b):
    return create_tgw(ec2_a), create_tgw(ec2_b)


def peering_states(ec2, attachment_id: str) -> list[str]:
    found = ec2.describe_transit_gateway_peering_attachments(
        TransitGatewayAttachmentIds=[attachment_id]
    )["TransitGatewayPeeringAttachments"]
    return [a["State"] for a in found]


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


# --- control API: counters ----------------------------------------------------


def test_given_calls_in_two_regions_when_reading_calls_then_counts_per_action_and_region(
    endpoint, ec2_a, ec2_b
):
    ec2_a.describe_vpcs()
    ec2_a.describe_vpcs()
    ec2_b.describe_transit_gateways()
    with pytest.raises(ClientError):
        ec2_b.describe_vpcs(VpcIds=["vpc-00000000000000000"])

    calls = harness(endpoint, "GET", "calls")

    assert calls["total"] == {"DescribeVpcs": 3, "DescribeTransitGateways": 1}
    assert calls["byRegion"] == {
        REQUESTER: {"DescribeVpcs": 2},
        ACCEPTER: {"DescribeTransitGateways": 1, "DescribeVpcs": 1},
    }


def test_given_counted_calls_when_resetting_calls_then_counters_are_empty_but_state_kept(
    endpoint, ec2_a
):
    vpc_id = ec2_a.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]

    harness(endpoint, "POST", "calls/reset")

    assert harness(endpoint, "GET", "calls") == {"total": {}, "byRegion": {}, "throttled": {}, "faulted": {}}
    assert ec2_a.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]


def test_given_state_faults_and_settings_when_resetting_then_all_are_cleared(endpoint, ec2_a, ec2_b):
    create_tgw(ec2_a)
    tgw_b = create_tgw(ec2_b)["TransitGatewayId"]
    harness(endpoint, "POST", "peering", {"initiatingRequestPolls": 3})
    harness(endpoint, "POST", "faults", {"action": "DescribeVpcs", "times": 5})

    harness(endpoint, "POST", "reset")

    assert harness(endpoint, "GET", "calls") == {"total": {}, "byRegion": {}, "throttled": {}, "faulted": {}}
    assert harness(endpoint, "GET", "faults") == {"faults": []}
    assert ec2_a.describe_transit_gateways()["TransitGateways"] == []
    ec2_a.describe_vpcs()  # the fault is gone
    created = create_peering(ec2_a, create_tgw(ec2_a)["TransitGatewayId"], tgw_b)
    assert created["State"] == "pendingAcceptance"  # default progression again


# --- control API: faults ------------------------------------------------------


def test_given_fault_when_calling_action_then_request_limit_exceeded_and_next_call_succeeds(
    endpoint, ec2_a, tgws
):
    harness(
        endpoint,
        "POST",
        "faults",
        {"action": "CreateTransitGatewayRoute", "code": "RequestLimitExceeded", "httpStatus": 503, "times": 1},
    )
    route_table = tgws[0]["Options"]["AssociationDefaultRouteTableId"]

    def create_route():
        return ec2_a.create_transit_gateway_route(
            TransitGatewayRouteTableId=route_table, DestinationCidrBlock="10.9.0.0/16", Blackhole=True
        )

    with pytest.raises(ClientError) as excinfo:
        create_route()
    assert error_code(excinfo) == "RequestLimitExceeded"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert create_route()["Route"]["State"] == "blackhole"
    assert harness(endpoint, "GET", "calls")["total"]["CreateTransitGatewayRoute"] == 2
    assert harness(endpoint, "GET", "faults") == {"faults": []}


def test_given_wildcard_fault_for_one_region_when_calling_then_only_that_region_fails(
    endpoint, ec2_a, ec2_b
):
    harness(endpoint, "POST", "faults", {"action": "*", "region": ACCEPTER, "times": 2})

    ec2_a.describe_vpcs()
    with pytest.raises(ClientError) as first:
        ec2_b.describe_vpcs()
    with pytest.raises(ClientError) as second:
        ec2_b.describe_transit_gateways()
    ec2_b.describe_vpcs()

    assert error_code(first) == error_code(second) == "RequestLimitExceeded"


def test_given_faults_when_deleting_them_then_calls_succeed(endpoint, ec2_a):
    harness(endpoint, "POST", "faults", {"action": "DescribeVpcs", "code": "Unavailable", "times": 3})
    harness(endpoint, "POST", "faults", {"action": "*", "times": 3})

    assert harness(endpoint, "DELETE", "faults") == {"faults": []}
    ec2_a.describe_vpcs()


def test_given_drop_connection_fault_when_calling_then_connection_closes_without_response(
    endpoint, ec2_a
):
    harness(endpoint, "POST", "faults", {"action": "DescribeVpcs", "dropConnection": True})

    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        ec2_a.describe_vpcs()
    ec2_a.describe_vpcs()


def test_given_bad_control_request_when_posting_then_http_400(endpoint):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        harness(endpoint, "POST", "peering", {"outcome": "maybe"})
    assert excinfo.value.code == 400


# --- round trip of the actions tgw-peering uses --------------------------------


def test_given_resources_when_described_then_fields_the_sdk_reads_round_trip(ec2_a, ec2_b, tgws):
    tgw_a, tgw_b = tgws
    vpc = ec2_a.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]
    ec2_a.associate_vpc_cidr_block(VpcId=vpc["VpcId"], CidrBlock="10.1.0.0/16")
    ec2_a.create_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": "tgw-peering", "Value": "yes"}])
    subnet = ec2_a.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.1.0/24")["Subnet"]
    ec2_a.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw_a["TransitGatewayId"], VpcId=vpc["VpcId"], SubnetIds=[subnet["SubnetId"]]
    )
    extra_table = ec2_a.create_transit_gateway_route_table(TransitGatewayId=tgw_a["TransitGatewayId"])

    described_tgw = ec2_a.describe_transit_gateways()["TransitGateways"][0]
    assert described_tgw["OwnerId"] == ACCOUNT
    assert described_tgw["Options"]["AssociationDefaultRouteTableId"].startswith("tgw-rtb-")
    tables = ec2_a.describe_transit_gateway_route_tables(
        Filters=[{"Name": "transit-gateway-id", "Values": [tgw_a["TransitGatewayId"]]}]
    )["TransitGatewayRouteTables"]
    assert {t["TransitGatewayRouteTableId"] for t in tables} == {
        described_tgw["Options"]["AssociationDefaultRouteTableId"],
        extra_table["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"],
    }
    described_vpc = ec2_a.describe_vpcs(Filters=[{"Name": "tag:tgw-peering", "Values": ["yes"]}])["Vpcs"]
    assert [a["CidrBlock"] for a in described_vpc[0]["CidrBlockAssociationSet"]] == [
        "10.0.0.0/16",
        "10.1.0.0/16",
    ]
    vpc_attachments = ec2_a.describe_transit_gateway_vpc_attachments(
        Filters=[{"Name": "transit-gateway-id", "Values": [tgw_a["TransitGatewayId"]]}]
    )["TransitGatewayVpcAttachments"]
    assert [a["VpcId"] for a in vpc_attachments] == [vpc["VpcId"]]

    created = create_peering(ec2_a, tgw_a["TransitGatewayId"], tgw_b["TransitGatewayId"])
    for described in (
        ec2_a.describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"][0],
        ec2_b.describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"][0],
    ):
        assert described["TransitGatewayAttachmentId"] == created["TransitGatewayAttachmentId"]
        assert described["RequesterTgwInfo"] == {
            "TransitGatewayId": tgw_a["TransitGatewayId"], "OwnerId": ACCOUNT, "Region": REQUESTER
        }
        assert described["AccepterTgwInfo"] == {
            "TransitGatewayId": tgw_b["TransitGatewayId"], "OwnerId": ACCOUNT, "Region": ACCEPTER
        }
        assert described["State"] == "pendingAcceptance"
        assert "CreationTime" in described
        assert described["Tags"] == [{"Key": "Name", "Value": "p"}]


def test_given_default_settings_when_creating_and_accepting_then_aws_fast_path(ec2_a, ec2_b, tgws):
    # Regression guard for peering_state_progression: with the default settings it
    # must keep moto's (and AWS's) fast path, so this passes without the patch too.
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)

    created = create_peering(ec2_a, tgw_a, tgw_b)
    peering_id = created["TransitGatewayAttachmentId"]
    assert created["State"] == "pendingAcceptance"
    assert peering_states(ec2_a, peering_id) == peering_states(ec2_b, peering_id) == ["pendingAcceptance"]

    accepted = ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    assert accepted["TransitGatewayPeeringAttachment"]["State"] == "available"
    assert peering_states(ec2_a, peering_id) == ["available"]


# --- patch: routes_keep_their_attachment --------------------------------------


def test_given_route_via_peering_when_searching_then_route_lists_its_attachment(ec2_a, ec2_b, tgws):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    for ec2, tgw, peer_tgw in ((ec2_a, tgws[0], tgw_b), (ec2_b, tgws[1], tgw_a)):
        table = tgw["Options"]["AssociationDefaultRouteTableId"]
        created = ec2.create_transit_gateway_route(
            TransitGatewayRouteTableId=table,
            DestinationCidrBlock="10.20.0.0/16",
            TransitGatewayAttachmentId=peering_id,
        )["Route"]
        ec2.create_transit_gateway_route(
            TransitGatewayRouteTableId=table, DestinationCidrBlock="10.30.0.0/16", Blackhole=True
        )

        routes = ec2.search_transit_gateway_routes(
            TransitGatewayRouteTableId=table,
            Filters=[{"Name": "type", "Values": ["static"]}],
            MaxResults=1000,
        )["Routes"]

        expected = [
            {"ResourceId": peer_tgw, "ResourceType": "peering", "TransitGatewayAttachmentId": peering_id}
        ]
        assert created["TransitGatewayAttachments"] == expected
        by_cidr = {r["DestinationCidrBlock"]: r for r in routes}
        assert by_cidr["10.20.0.0/16"]["TransitGatewayAttachments"] == expected
        assert by_cidr["10.20.0.0/16"]["State"] == "active"
        assert by_cidr["10.30.0.0/16"]["State"] == "blackhole"
        assert not by_cidr["10.30.0.0/16"].get("TransitGatewayAttachments")


# --- patch: create_route_refuses_duplicates -----------------------------------


def test_given_a_static_route_when_creating_it_again_then_route_already_exists_and_it_is_unchanged(
    ec2_a, tgws
):
    table = tgws[0]["Options"]["AssociationDefaultRouteTableId"]
    ec2_a.create_transit_gateway_route(
        TransitGatewayRouteTableId=table, DestinationCidrBlock="10.40.0.0/16", Blackhole=True
    )
    tgw_b = tgws[1]["TransitGatewayId"]
    peering_id = create_peering(ec2_a, tgws[0]["TransitGatewayId"], tgw_b)["TransitGatewayAttachmentId"]

    with pytest.raises(ClientError) as excinfo:
        ec2_a.create_transit_gateway_route(
            TransitGatewayRouteTableId=table,
            DestinationCidrBlock="10.40.0.0/16",
            TransitGatewayAttachmentId=peering_id,
        )

    assert error_code(excinfo) == "RouteAlreadyExists"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    (route,) = ec2_a.search_transit_gateway_routes(
        TransitGatewayRouteTableId=table,
        Filters=[{"Name": "route-search.exact-match", "Values": ["10.40.0.0/16"]}],
    )["Routes"]
    assert route["State"] == "blackhole"


# --- patch: search_routes_honours_max_results ---------------------------------


@pytest.fixture
def route_table(tgws):
    return tgws[0]["Options"]["AssociationDefaultRouteTableId"]


def add_routes(ec2, table: str, cidrs: list[str], attachment_id: str | None = None) -> None:
    for cidr in cidrs:
        target = {"TransitGatewayAttachmentId": attachment_id} if attachment_id else {"Blackhole": True}
        ec2.create_transit_gateway_route(
            TransitGatewayRouteTableId=table, DestinationCidrBlock=cidr, **target
        )


def search(ec2, table: str, filters: dict[str, list[str]], **kwargs) -> list[str]:
    response = ec2.search_transit_gateway_routes(
        TransitGatewayRouteTableId=table,
        Filters=[{"Name": k, "Values": v} for k, v in filters.items()],
        **kwargs,
    )
    return sorted(r["DestinationCidrBlock"] for r in response["Routes"])


def test_given_more_routes_than_max_results_when_searching_then_capped_with_more_available(
    ec2_a, route_table
):
    add_routes(ec2_a, route_table, [f"10.{i}.0.0/16" for i in range(7)])

    capped = ec2_a.search_transit_gateway_routes(
        TransitGatewayRouteTableId=route_table,
        Filters=[{"Name": "type", "Values": ["static"]}],
        MaxResults=5,
    )
    full = ec2_a.search_transit_gateway_routes(
        TransitGatewayRouteTableId=route_table,
        Filters=[{"Name": "type", "Values": ["static"]}],
        MaxResults=1000,
    )

    assert len(capped["Routes"]) == 5 and capped["AdditionalRoutesAvailable"] is True
    assert len(full["Routes"]) == 7 and full["AdditionalRoutesAvailable"] is False


def test_given_more_routes_than_one_page_when_following_next_token_then_every_route_once(
    ec2_a, route_table
):
    cidrs = [f"10.{i}.0.0/16" for i in range(12)]
    add_routes(ec2_a, route_table, cidrs)
    seen, token, pages = [], None, 0

    while True:
        page = ec2_a.search_transit_gateway_routes(
            TransitGatewayRouteTableId=route_table,
            Filters=[{"Name": "type", "Values": ["static"]}],
            MaxResults=5,
            **({"NextToken": token} if token else {}),
        )
        pages += 1
        seen += [r["DestinationCidrBlock"] for r in page["Routes"]]
        token = page.get("NextToken")
        if not token:
            assert page["AdditionalRoutesAvailable"] is False
            break

    assert pages == 3
    assert sorted(seen) == sorted(cidrs)


def test_given_a_forged_next_token_when_searching_then_invalid_next_token(ec2_a, route_table):
    with pytest.raises(ClientError) as excinfo:
        ec2_a.search_transit_gateway_routes(
            TransitGatewayRouteTableId=route_table,
            Filters=[{"Name": "type", "Values": ["static"]}],
            NextToken="not-a-token",
        )

    assert error_code(excinfo) == "InvalidNextToken"


def test_given_nested_routes_when_searching_supernet_of_match_then_encompassing_routes(
    ec2_a, route_table
):
    add_routes(ec2_a, route_table, ["10.0.1.0/29", "10.0.1.0/31", "10.0.0.0/16", "10.1.0.0/16"])

    # The EC2 API reference's own example: /29 and /31 routes, filter /30 -> /29.
    assert search(ec2_a, route_table, {"route-search.supernet-of-match": ["10.0.1.0/30"]}) == [
        "10.0.0.0/16",
        "10.0.1.0/29",
    ]
    # Exact match included (the reference does not say; see the patch docstring).
    assert search(ec2_a, route_table, {"route-search.supernet-of-match": ["10.1.0.0/16"]}) == [
        "10.1.0.0/16"
    ]


def test_given_nested_routes_when_searching_subnet_of_match_then_contained_routes(ec2_a, route_table):
    add_routes(ec2_a, route_table, ["10.0.1.0/29", "10.0.1.0/31", "10.0.0.0/16", "10.1.0.0/16", "0.0.0.0/0"])

    assert search(
        ec2_a, route_table, {"route-search.subnet-of-match": ["10.0.0.0/16"], "type": ["static"]}
    ) == ["10.0.0.0/16", "10.0.1.0/29", "10.0.1.0/31"]


def test_given_routes_via_two_attachments_when_filtering_by_attachment_id_then_only_its_routes(
    ec2_a, ec2_b, tgws, route_table
):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    first = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    second = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    add_routes(ec2_a, route_table, ["10.1.0.0/16", "10.2.0.0/16"], first)
    add_routes(ec2_a, route_table, ["10.3.0.0/16"], second)

    assert search(
        ec2_a, route_table, {"attachment.transit-gateway-attachment-id": [second]}
    ) == ["10.3.0.0/16"]


# --- patch: peer_region_sees_peering ------------------------------------------


def test_given_peer_region_never_called_when_creating_peering_then_peer_region_lists_it(
    ec2_a, ec2_b
):
    tgw_a = create_tgw(ec2_a)["TransitGatewayId"]
    # No call to the accepter Region before the create call (moto has no
    # backend for it yet); moto does not check that the peer TGW exists.
    peering_id = create_peering(ec2_a, tgw_a, "tgw-0123456789abcdef0")["TransitGatewayAttachmentId"]

    assert peering_states(ec2_b, peering_id) == ["pendingAcceptance"]


# --- patch: peering_describe_lists_only_peerings / vpc_describe_lists_only_vpcs


@pytest.fixture
def vpc_and_peering(ec2_a, tgws):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    vpc_id = ec2_a.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2_a.create_subnet(VpcId=vpc_id, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    vpc_attachment = ec2_a.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw_a,
        VpcId=vpc_id,
        SubnetIds=[subnet_id],
        TagSpecifications=[
            {"ResourceType": "transit-gateway-attachment", "Tags": [{"Key": "Name", "Value": "v"}]}
        ],
    )["TransitGatewayVpcAttachment"]
    peering = create_peering(ec2_a, tgw_a, tgw_b)
    return vpc_attachment["TransitGatewayAttachmentId"], peering["TransitGatewayAttachmentId"]


def test_given_vpc_and_peering_attachments_when_describing_peerings_then_only_peerings(
    ec2_a, vpc_and_peering
):
    _, peering_id = vpc_and_peering

    found = ec2_a.describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"]

    assert [a["TransitGatewayAttachmentId"] for a in found] == [peering_id]


def test_given_vpc_and_peering_attachments_when_describing_vpc_attachments_then_only_vpcs(
    ec2_a, vpc_and_peering
):
    vpc_attachment_id, _ = vpc_and_peering

    found = ec2_a.describe_transit_gateway_vpc_attachments()["TransitGatewayVpcAttachments"]

    assert [a["TransitGatewayAttachmentId"] for a in found] == [vpc_attachment_id]


# --- patch: vpc_attachment_keeps_its_tags -------------------------------------


def test_given_vpc_attachment_created_with_tags_when_described_then_tags_returned(
    ec2_a, vpc_and_peering
):
    vpc_attachment_id, _ = vpc_and_peering

    found = ec2_a.describe_transit_gateway_vpc_attachments(
        TransitGatewayAttachmentIds=[vpc_attachment_id]
    )["TransitGatewayVpcAttachments"]

    assert found[0]["Tags"] == [{"Key": "Name", "Value": "v"}]


# --- patch: peering_state_progression -----------------------------------------


def test_given_initiating_request_polls_when_polling_then_initiating_then_pending_acceptance(
    endpoint, ec2_a, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingRequestPolls": 2})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)

    created = create_peering(ec2_a, tgw_a, tgw_b)
    peering_id = created["TransitGatewayAttachmentId"]

    assert created["State"] == "initiatingRequest"
    assert [peering_states(ec2_a, peering_id) for _ in range(3)] == [
        ["initiatingRequest"],
        ["initiatingRequest"],
        ["pendingAcceptance"],
    ]


def test_given_initiating_request_when_accepter_describes_then_not_listed_until_pending_acceptance(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingRequestPolls": 2})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    # Each describe that matches the attachment counts as one of its polls,
    # in either Region, even while the accepter Region does not list it yet.
    accepter_view = ec2_b.describe_transit_gateway_peering_attachments()
    with pytest.raises(ClientError) as excinfo:
        ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    requester_view = peering_states(ec2_a, peering_id)
    accepter_view_after = peering_states(ec2_b, peering_id)

    assert accepter_view["TransitGatewayPeeringAttachments"] == []
    assert error_code(excinfo) == "IncorrectState"
    assert requester_view == ["initiatingRequest"]
    assert accepter_view_after == ["pendingAcceptance"]


def test_given_outcome_failed_when_polling_then_failed_and_accept_is_incorrect_state(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingRequestPolls": 1, "outcome": "failed"})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    assert [peering_states(ec2_a, peering_id) for _ in range(2)] == [["initiatingRequest"], ["failed"]]
    with pytest.raises(ClientError) as excinfo:
        ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    assert error_code(excinfo) == "IncorrectState"


def test_given_outcome_rejected_when_polling_then_pending_acceptance_then_rejected(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(endpoint, "POST", "peering", {"outcome": "rejected", "pendingAcceptancePolls": 2})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    assert [peering_states(ec2, peering_id) for ec2 in (ec2_a, ec2_b, ec2_a)] == [
        ["pendingAcceptance"],
        ["pendingAcceptance"],
        ["rejected"],
    ]
    with pytest.raises(ClientError) as excinfo:
        ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    assert error_code(excinfo) == "IncorrectState"


def test_given_pending_polls_when_accepting_then_pending_then_available(endpoint, ec2_a, ec2_b, tgws):
    harness(endpoint, "POST", "peering", {"pendingPolls": 2})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    accepted = ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert accepted["TransitGatewayPeeringAttachment"]["State"] == "pending"
    assert [peering_states(ec2, peering_id) for ec2 in (ec2_b, ec2_a, ec2_b)] == [
        ["pending"],
        ["pending"],
        ["available"],
    ]


def test_given_provisioning_seconds_when_polled_right_after_accept_then_pending_however_often(
    endpoint, ec2_a, ec2_b, tgws
):
    settings = harness(endpoint, "POST", "peering", {"provisioningSeconds": 3600})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    accepted = ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert settings["peering"]["provisioningSeconds"] == 3600
    assert accepted["TransitGatewayPeeringAttachment"]["State"] == "pending"
    # pendingPolls is 0: without the time condition the first read would show available.
    assert [peering_states(ec2, peering_id) for ec2 in (ec2_a, ec2_b) * 3] == [["pending"]] * 6


def test_given_provisioning_seconds_when_polled_until_available_then_no_earlier_than_that(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(endpoint, "POST", "peering", {"provisioningSeconds": 0.5})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    started = time.monotonic()  # before the harness stamps the attachment's creation
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    deadline = started + 60
    while (states := peering_states(ec2_a, peering_id)) == ["pending"] and time.monotonic() < deadline:
        time.sleep(0.05)
    seen_available = time.monotonic()

    assert states == ["available"]
    assert seen_available - started >= 0.5  # a lower bound only


def test_given_a_negative_provisioning_time_when_posting_peering_then_http_400(endpoint):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        harness(endpoint, "POST", "peering", {"provisioningSeconds": -1})
    assert excinfo.value.code == 400


def test_given_settings_changed_after_creation_when_polling_then_creation_time_settings_apply(
    endpoint, ec2_a, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingRequestPolls": 1})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    harness(endpoint, "POST", "peering", {"initiatingRequestPolls": 5})

    assert [peering_states(ec2_a, peering_id) for _ in range(2)] == [
        ["initiatingRequest"],
        ["pendingAcceptance"],
    ]


def test_given_accepted_peering_when_accepting_again_then_incorrect_state(ec2_a, ec2_b, tgws):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    with pytest.raises(ClientError) as excinfo:
        ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert error_code(excinfo) == "IncorrectState"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
