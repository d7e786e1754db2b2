"""Checks the EC2 emulator (server.py) against documented AWS behaviour, through
boto3 over HTTP. Set EMULATOR_SKIP_PATCHES=name[,name] to start the server
without those patches and see which tests catch the gap."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from server_process import running_server

SERVER = Path(__file__).with_name("server.py")
ACCOUNT = "123456789012"  # moto's default account
REQUESTER, ACCEPTER = "us-east-1", "eu-west-1"
# GET /_harness/calls after a reset.
NO_CALLS = {
    "total": {},
    "byRegion": {},
    "throttled": {},
    "faulted": {},
    "dynamodb": {},
    "serverMs": {"total": {}, "byRegion": {}},
    "serverBusyMs": 0,
}


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


def test_given_route_writes_when_reading_route_writes_then_each_accepted_one_is_listed_in_order(
    endpoint, ec2_a
):
    table = create_tgw(ec2_a)["Options"]["AssociationDefaultRouteTableId"]
    ec2_a.create_transit_gateway_route(TransitGatewayRouteTableId=table, DestinationCidrBlock="10.1.0.0/16",
                                       Blackhole=True)
    with pytest.raises(ClientError):  # a refused write changed nothing and is not listed
        ec2_a.create_transit_gateway_route(TransitGatewayRouteTableId=table, DestinationCidrBlock="10.1.0.0/16",
                                           Blackhole=True)
    ec2_a.delete_transit_gateway_route(TransitGatewayRouteTableId=table, DestinationCidrBlock="10.1.0.0/16")

    writes = harness(endpoint, "GET", "route-writes")["routeWrites"]

    assert [(w["op"], w["region"], w["routeTableId"], w["cidr"]) for w in writes] == [
        ("create", REQUESTER, table, "10.1.0.0/16"),
        ("delete", REQUESTER, table, "10.1.0.0/16"),
    ]
    assert writes[0]["at"] <= writes[1]["at"]
    assert harness(endpoint, "POST", "calls/reset") and harness(endpoint, "GET", "route-writes") == {"routeWrites": []}


def test_given_calls_when_reading_calls_then_moto_s_own_time_per_action_and_region_is_given(
    endpoint, ec2_a, ec2_b
):
    # Given moto answering 200 VPCs' worth of DescribeVpcs in one Region, and one quick call in
    # the other, with an injected delay that is not moto's time
    for i in range(200):
        ec2_a.create_vpc(CidrBlock=f"10.{i}.0.0/16")
    harness(endpoint, "POST", "faults", {"action": "DescribeTransitGateways", "delayMs": 500})
    harness(endpoint, "POST", "calls/reset")

    # When
    started = time.perf_counter()
    ec2_a.describe_vpcs()
    ec2_a.describe_vpcs()
    client_ms = (time.perf_counter() - started) * 1000
    ec2_b.describe_transit_gateways()
    calls = harness(endpoint, "GET", "calls")

    # Then each action that reached moto has its time, by Region, summed over its calls
    server = calls["serverMs"]
    assert set(server["total"]) == {"DescribeVpcs", "DescribeTransitGateways"}
    assert set(server["byRegion"][REQUESTER]) == {"DescribeVpcs"}
    assert 0 < server["total"]["DescribeVpcs"] <= client_ms  # within what the client waited
    # The injected delay is the harness's, not moto's handling
    assert server["byRegion"][ACCEPTER]["DescribeTransitGateways"] < 500
    # and a reset zeroes it with the counters
    harness(endpoint, "POST", "calls/reset")
    assert harness(endpoint, "GET", "calls")["serverMs"] == {"total": {}, "byRegion": {}}


def test_given_calls_at_once_when_reading_calls_then_moto_s_busy_time_counts_overlapping_calls_once(
    endpoint, ec2_a
):
    # Given 300 VPCs, so that each DescribeVpcs keeps moto busy for a while
    for i in range(300):
        ec2_a.create_vpc(CidrBlock=f"10.{i // 256}.{i % 256}.0/24")
    harness(endpoint, "POST", "calls/reset")

    # When four clients describe them all at once
    clients = [client(endpoint, REQUESTER) for _ in range(4)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda ec2: ec2.describe_vpcs(), clients))
    client_ms = (time.perf_counter() - started) * 1000
    calls = harness(endpoint, "GET", "calls")

    # Then the time moto was busy is within what the clients waited, while the calls' own times,
    # each also waiting for the others, add up to more
    busy, summed = calls["serverBusyMs"], calls["serverMs"]["total"]["DescribeVpcs"]
    assert 0 < busy <= client_ms
    assert busy < summed


def test_given_counted_calls_when_resetting_calls_then_counters_are_empty_but_state_kept(
    endpoint, ec2_a
):
    vpc_id = ec2_a.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]

    harness(endpoint, "POST", "calls/reset")

    assert harness(endpoint, "GET", "calls") == NO_CALLS
    assert ec2_a.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]


def test_given_state_faults_and_settings_when_resetting_then_all_are_cleared(endpoint, ec2_a, ec2_b):
    create_tgw(ec2_a)
    tgw_b = create_tgw(ec2_b)["TransitGatewayId"]
    harness(endpoint, "POST", "peering", {"initiatingRequestSeconds": 3600})
    harness(endpoint, "POST", "faults", {"action": "DescribeVpcs", "times": 5})

    harness(endpoint, "POST", "reset")

    assert harness(endpoint, "GET", "calls") == NO_CALLS
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


def test_given_dynamodb_calls_and_a_fault_naming_one_then_counted_apart_from_ec2_and_only_it_fails(endpoint, ec2_a):
    # Given the state table, a fault for its transactions, and a fault for every EC2 action
    dynamodb = boto3.client("dynamodb", region_name=REQUESTER, endpoint_url=endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    dynamodb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    harness(endpoint, "POST", "faults",
            {"action": "dynamodb:TransactWriteItems", "code": "ValidationException", "times": 1})
    harness(endpoint, "POST", "faults", {"action": "*", "code": "RequestLimitExceeded", "times": 5})
    put = {"Put": {"TableName": "state", "Item": {"pk": {"S": "routes#x"}}}}

    # When the record is written twice and read
    with pytest.raises(ClientError) as excinfo:
        dynamodb.transact_write_items(TransactItems=[put])
    dynamodb.transact_write_items(TransactItems=[put])
    items = dynamodb.query(TableName="state", KeyConditionExpression="pk = :pk",
                           ExpressionAttributeValues={":pk": {"S": "routes#x"}})["Items"]

    # Then only the first write failed, as DynamoDB fails one; EC2's wildcard fault never fired
    assert error_code(excinfo) == "ValidationException"
    assert items == [{"pk": {"S": "routes#x"}}]
    calls = harness(endpoint, "GET", "calls")
    assert calls["dynamodb"] == {REQUESTER: {"dynamodb:CreateTable": 1, "dynamodb:TransactWriteItems": 2,
                                             "dynamodb:Query": 1}}
    assert calls["total"] == {} and calls["faulted"] == {"dynamodb:TransactWriteItems": 1}


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

# Short enough to keep the tests quick, long enough that a poll every POLL_GAP
# seconds sees every state even on a busy machine.
STEP = 0.2
POLL_GAP = 0.02


def states_seen(read, final: str, since: float, timeout: float = 30) -> list[tuple[str | None, float]]:
    """Each state read() shows, in order, with the seconds from `since` until it
    was first seen (None: not listed), until it shows `final`."""
    seen: list[tuple[str | None, float]] = []
    while time.monotonic() - since < timeout:
        states = read()
        state = states[0] if states else None
        if not seen or seen[-1][0] != state:
            seen.append((state, time.monotonic() - since))
        if state == final:
            break
        time.sleep(POLL_GAP)
    return seen


def names(seen: list[tuple[str | None, float]]) -> list[str | None]:
    return [state for state, _ in seen]


def first_seen(seen: list[tuple[str | None, float]], state: str) -> float:
    return next(at for s, at in seen if s == state)


def test_given_initiating_seconds_when_polling_then_initiating_then_initiating_request_then_pending_acceptance(
    endpoint, ec2_a, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingSeconds": STEP, "initiatingRequestSeconds": STEP})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    started = time.monotonic()  # before the harness stamps the attachment's creation

    created = create_peering(ec2_a, tgw_a, tgw_b)
    peering_id = created["TransitGatewayAttachmentId"]
    seen = states_seen(lambda: peering_states(ec2_a, peering_id), "pendingAcceptance", started)

    assert created["State"] == "initiating"
    assert names(seen) == ["initiating", "initiatingRequest", "pendingAcceptance"]
    # Lower bounds only: each state starts once the ones before it had their time.
    assert first_seen(seen, "initiatingRequest") >= STEP
    assert first_seen(seen, "pendingAcceptance") >= 2 * STEP


def test_given_long_states_when_described_many_times_at_once_then_the_state_does_not_advance(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingRequestSeconds": 3600})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    waiting_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    harness(endpoint, "POST", "peering", {"pendingSeconds": 3600})
    accepted_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=accepted_id)

    # Counting reads was how the emulator used to advance; 40 of them must change nothing.
    waiting = [peering_states(ec2_a, waiting_id) for _ in range(20)]
    accepted = [peering_states(ec2, accepted_id) for ec2 in (ec2_a, ec2_b) * 10]

    assert waiting == [["initiatingRequest"]] * 20
    assert accepted == [["pending"]] * 20


def test_given_initiating_when_the_accepter_describes_then_not_listed_and_accept_is_incorrect_state(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingSeconds": 3600})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    accepter_view = ec2_b.describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"]
    with pytest.raises(ClientError) as excinfo:
        ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert accepter_view == []
    assert error_code(excinfo) == "IncorrectState"
    assert peering_states(ec2_a, peering_id) == ["initiating"]


def test_given_initiating_request_when_the_accepter_describes_then_listed_only_from_pending_acceptance(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingRequestSeconds": STEP})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    started = time.monotonic()
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    seen_by_accepter = states_seen(lambda: peering_states(ec2_b, peering_id), "pendingAcceptance", started)

    assert names(seen_by_accepter) == [None, "pendingAcceptance"]
    assert first_seen(seen_by_accepter, "pendingAcceptance") >= STEP
    assert peering_states(ec2_a, peering_id) == ["pendingAcceptance"]


def test_given_outcome_failed_when_polling_then_failing_then_failed_never_listed_by_the_accepter(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(
        endpoint, "POST", "peering", {"outcome": "failed", "initiatingRequestSeconds": STEP, "failingSeconds": STEP}
    )
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    started = time.monotonic()
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    seen = states_seen(lambda: peering_states(ec2_a, peering_id), "failed", started)
    with pytest.raises(ClientError) as excinfo:
        ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert names(seen) == ["initiatingRequest", "failing", "failed"]
    assert first_seen(seen, "failed") >= 2 * STEP
    assert peering_states(ec2_b, peering_id) == []
    assert error_code(excinfo) == "IncorrectState"


def test_given_outcome_rejected_when_polling_then_pending_acceptance_then_rejecting_then_rejected(
    endpoint, ec2_a, ec2_b, tgws
):
    harness(
        endpoint,
        "POST",
        "peering",
        {"outcome": "rejected", "pendingAcceptanceSeconds": STEP, "rejectingSeconds": STEP},
    )
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    started = time.monotonic()
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    seen = states_seen(lambda: peering_states(ec2_b, peering_id), "rejected", started)
    with pytest.raises(ClientError) as excinfo:
        ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert names(seen) == ["pendingAcceptance", "rejecting", "rejected"]
    assert first_seen(seen, "rejected") >= 2 * STEP
    assert peering_states(ec2_a, peering_id) == ["rejected"]
    assert error_code(excinfo) == "IncorrectState"


def test_given_pending_seconds_when_accepting_then_pending_then_available_no_earlier(
    endpoint, ec2_a, ec2_b, tgws
):
    settings = harness(endpoint, "POST", "peering", {"pendingSeconds": STEP})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    started = time.monotonic()  # before the harness stamps the accept

    accepted = ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    seen = states_seen(lambda: peering_states(ec2_a, peering_id), "available", started)

    assert settings["peering"]["pendingSeconds"] == STEP
    assert accepted["TransitGatewayPeeringAttachment"]["State"] == "pending"
    assert names(seen) == ["pending", "available"]
    assert first_seen(seen, "available") >= STEP


def test_given_deleting_seconds_when_deleting_then_deleting_then_deleted(endpoint, ec2_a, ec2_b, tgws):
    harness(endpoint, "POST", "peering", {"deletingSeconds": STEP})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    started = time.monotonic()

    deleted = ec2_a.delete_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    seen = states_seen(lambda: peering_states(ec2_b, peering_id), "deleted", started)

    assert deleted["TransitGatewayPeeringAttachment"]["State"] == "deleting"
    assert names(seen) == ["deleting", "deleted"]
    assert first_seen(seen, "deleted") >= STEP


def test_given_default_settings_when_deleting_then_deleted_at_once(ec2_a, ec2_b, tgws):
    # Regression guard, like the fast-path test: the default keeps moto's immediate delete.
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    deleted = ec2_a.delete_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert deleted["TransitGatewayPeeringAttachment"]["State"] == "deleted"
    assert peering_states(ec2_a, peering_id) == ["deleted"]


@pytest.fixture
def available_peering(ec2_a, ec2_b, tgws) -> str:
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    return peering_id


def test_given_available_peering_when_modified_then_modifying_then_available_again(
    endpoint, ec2_a, available_peering
):
    started = time.monotonic()

    answer = harness(
        endpoint, "POST", "peering/modify", {"attachmentId": available_peering, "modifyingSeconds": STEP}
    )
    seen = states_seen(lambda: peering_states(ec2_a, available_peering), "available", started)

    assert answer == {"attachmentId": available_peering, "state": "modifying"}
    assert names(seen) == ["modifying", "available"]
    assert first_seen(seen, "available") >= STEP


def test_given_available_peering_when_modified_with_roll_back_then_modifying_rolling_back_available(
    endpoint, ec2_b, available_peering
):
    started = time.monotonic()

    harness(
        endpoint,
        "POST",
        "peering/modify",
        {"attachmentId": available_peering, "modifyingSeconds": STEP, "rollBack": True, "rollingBackSeconds": STEP},
    )
    seen = states_seen(lambda: peering_states(ec2_b, available_peering), "available", started)

    assert names(seen) == ["modifying", "rollingBack", "available"]
    assert first_seen(seen, "available") >= 2 * STEP


def test_given_peering_pending_acceptance_when_modified_then_http_400_and_state_kept(endpoint, ec2_a, tgws):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    with pytest.raises(urllib.error.HTTPError) as excinfo:
        harness(endpoint, "POST", "peering/modify", {"attachmentId": peering_id, "modifyingSeconds": 1})

    assert excinfo.value.code == 400
    assert "pendingAcceptance" in json.load(excinfo.value)["error"]
    assert peering_states(ec2_a, peering_id) == ["pendingAcceptance"]


@pytest.mark.parametrize(
    "body",
    [
        {"attachmentId": "tgw-attach-00000000000000000", "modifyingSeconds": 1},
        {"modifyingSeconds": 1},
        {"attachmentId": "tgw-attach-00000000000000000"},
        {"attachmentId": "tgw-attach-00000000000000000", "modifyingSeconds": 1, "rollBack": "yes"},
        {"attachmentId": "tgw-attach-00000000000000000", "modifyingSeconds": 1, "rollingBackSeconds": 1},
        {"attachmentId": "tgw-attach-00000000000000000", "modifyingSeconds": -1},
    ],
)
def test_given_a_bad_modify_body_when_posting_then_http_400(endpoint, body):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        harness(endpoint, "POST", "peering/modify", body)
    assert excinfo.value.code == 400


@pytest.mark.parametrize(
    "retired, replacement",
    [
        ("initiatingRequestPolls", "initiatingRequestSeconds"),
        ("pendingPolls", "pendingSeconds"),
        ("pendingAcceptancePolls", "pendingAcceptanceSeconds"),
        ("provisioningSeconds", "pendingSeconds"),
    ],
)
def test_given_a_retired_poll_count_field_when_posting_peering_then_http_400_naming_its_replacement(
    endpoint, retired, replacement
):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        harness(endpoint, "POST", "peering", {retired: 2})
    assert excinfo.value.code == 400
    assert replacement in json.load(excinfo.value)["error"]


def test_given_a_negative_duration_when_posting_peering_then_http_400(endpoint):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        harness(endpoint, "POST", "peering", {"pendingSeconds": -1})
    assert excinfo.value.code == 400


def test_given_settings_changed_after_creation_when_polling_then_creation_time_settings_apply(
    endpoint, ec2_a, tgws
):
    harness(endpoint, "POST", "peering", {"initiatingRequestSeconds": 3600})
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    harness(endpoint, "POST", "peering", {})  # the defaults: pendingAcceptance at once

    assert peering_states(ec2_a, peering_id) == ["initiatingRequest"]


def test_given_accepted_peering_when_accepting_again_then_incorrect_state(ec2_a, ec2_b, tgws):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    with pytest.raises(ClientError) as excinfo:
        ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert error_code(excinfo) == "IncorrectState"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_given_a_peering_rejected_by_the_accepter_when_read_later_then_it_stays_rejected(ec2_a, ec2_b, tgws):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    ec2_b.reject_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert peering_states(ec2_a, peering_id) == ["rejected"]
    assert peering_states(ec2_a, peering_id) == ["rejected"]


def test_given_an_accepted_peering_when_rejecting_it_then_incorrect_state(ec2_a, ec2_b, tgws):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    peering_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    with pytest.raises(ClientError) as excinfo:
        ec2_b.reject_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert error_code(excinfo) == "IncorrectState"
    assert peering_states(ec2_a, peering_id) == ["available"]


# --- patch: propagation_yields_propagated_routes -------------------------------


@pytest.fixture
def manual_tgw(ec2_a):
    """A TGW created with DefaultRouteTablePropagation disable: its attachments propagate
    nowhere until EnableTransitGatewayRouteTablePropagation."""
    return ec2_a.create_transit_gateway(
        Description="manual", Options={"DefaultRouteTablePropagation": "disable"}
    )["TransitGateway"]


@pytest.fixture
def manual_table(manual_tgw):
    return manual_tgw["Options"]["AssociationDefaultRouteTableId"]


def attach_vpc(ec2, tgw_id: str) -> tuple[str, str]:
    """A VPC 10.50.0.0/16 with a secondary block 10.51.0.0/16 attached to the TGW:
    (vpc id, attachment id)."""
    vpc_id = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.51.0.0/16")
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.50.0.0/24")["Subnet"]["SubnetId"]
    attachment = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw_id, VpcId=vpc_id, SubnetIds=[subnet_id]
    )["TransitGatewayVpcAttachment"]
    return vpc_id, attachment["TransitGatewayAttachmentId"]


@pytest.fixture
def vpc_attachment(ec2_a, manual_tgw):
    """attach_vpc on manual_tgw: nothing propagates until a test enables it."""
    return attach_vpc(ec2_a, manual_tgw["TransitGatewayId"])


def create_vpn_attachment(ec2, tgw_id: str) -> tuple[str, str]:
    """A VPN connection on the TGW (moto attaches it): (VPN connection id, attachment id)."""
    cgw = ec2.create_customer_gateway(BgpAsn=65000, PublicIp="198.51.100.1", Type="ipsec.1")
    vpn_id = ec2.create_vpn_connection(
        CustomerGatewayId=cgw["CustomerGateway"]["CustomerGatewayId"],
        Type="ipsec.1",
        TransitGatewayId=tgw_id,
    )["VpnConnection"]["VpnConnectionId"]
    (attachment,) = ec2.describe_transit_gateway_attachments(
        Filters=[{"Name": "resource-id", "Values": [vpn_id]}]
    )["TransitGatewayAttachments"]
    assert attachment["ResourceType"] == "vpn"
    return vpn_id, attachment["TransitGatewayAttachmentId"]


def enable_propagation(ec2, table: str, attachment_id: str) -> None:
    ec2.enable_transit_gateway_route_table_propagation(
        TransitGatewayRouteTableId=table, TransitGatewayAttachmentId=attachment_id
    )


def propagated(ec2, table: str) -> dict[str, dict]:
    routes = ec2.search_transit_gateway_routes(
        TransitGatewayRouteTableId=table, Filters=[{"Name": "type", "Values": ["propagated"]}]
    )["Routes"]
    return {r["DestinationCidrBlock"]: r for r in routes}


def propagated_route(cidr: str, resource_id: str, resource_type: str, attachment_id: str) -> dict:
    return {
        "DestinationCidrBlock": cidr,
        "TransitGatewayAttachments": [
            {
                "ResourceId": resource_id,
                "ResourceType": resource_type,
                "TransitGatewayAttachmentId": attachment_id,
            }
        ],
        "Type": "propagated",
        "State": "active",
    }


def advertise(endpoint: str, attachment_id: str, cidrs: list[str]) -> dict:
    return harness(endpoint, "POST", "advertised-routes", {"attachmentId": attachment_id, "cidrs": cidrs})


def test_given_vpc_attachment_propagating_when_searching_then_its_cidrs_are_propagated_routes(
    ec2_a, manual_table, vpc_attachment
):
    vpc_id, attachment_id = vpc_attachment
    add_routes(ec2_a, manual_table, ["10.9.0.0/16"])

    enable_propagation(ec2_a, manual_table, attachment_id)

    (listed,) = ec2_a.get_transit_gateway_route_table_propagations(
        TransitGatewayRouteTableId=manual_table
    )["TransitGatewayRouteTablePropagations"]
    assert (listed["TransitGatewayAttachmentId"], listed["State"]) == (attachment_id, "enabled")
    active = ec2_a.search_transit_gateway_routes(
        TransitGatewayRouteTableId=manual_table, Filters=[{"Name": "state", "Values": ["active"]}]
    )["Routes"]
    assert sorted(active, key=lambda r: r["DestinationCidrBlock"]) == [
        propagated_route("10.50.0.0/16", vpc_id, "vpc", attachment_id),
        propagated_route("10.51.0.0/16", vpc_id, "vpc", attachment_id),  # the secondary block
    ]
    assert search(ec2_a, manual_table, {"type": ["static"]}) == ["10.9.0.0/16"]
    assert search(ec2_a, manual_table, {"type": ["propagated"]}) == ["10.50.0.0/16", "10.51.0.0/16"]
    assert search(ec2_a, manual_table, {"attachment.resource-type": ["vpc"]}) == [
        "10.50.0.0/16",
        "10.51.0.0/16",
    ]


def test_given_vpc_attachment_when_propagation_enabled_then_disabled_then_routes_come_and_go(
    ec2_a, manual_table, vpc_attachment
):
    vpc_id, attachment_id = vpc_attachment
    (vpc,) = ec2_a.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    (secondary,) = [
        a["AssociationId"] for a in vpc["CidrBlockAssociationSet"] if a["CidrBlock"] == "10.51.0.0/16"
    ]

    before = propagated(ec2_a, manual_table)
    enable_propagation(ec2_a, manual_table, attachment_id)
    enabled = propagated(ec2_a, manual_table)
    ec2_a.disassociate_vpc_cidr_block(AssociationId=secondary)
    disassociated = propagated(ec2_a, manual_table)
    ec2_a.disable_transit_gateway_route_table_propagation(
        TransitGatewayRouteTableId=manual_table, TransitGatewayAttachmentId=attachment_id
    )
    disabled = propagated(ec2_a, manual_table)

    assert before == {}
    assert sorted(enabled) == ["10.50.0.0/16", "10.51.0.0/16"]
    assert list(disassociated) == ["10.50.0.0/16"]  # computed from the VPC's current blocks
    assert disabled == {}


def test_given_vpn_attachment_propagating_when_routes_advertised_then_withdrawn_then_they_come_and_go(
    endpoint, ec2_a, manual_tgw, manual_table
):
    vpn_id, attachment_id = create_vpn_attachment(ec2_a, manual_tgw["TransitGatewayId"])
    enable_propagation(ec2_a, manual_table, attachment_id)

    before = propagated(ec2_a, manual_table)
    advertise(endpoint, attachment_id, ["192.168.0.0/16", "172.16.0.0/12"])
    both = propagated(ec2_a, manual_table)
    advertise(endpoint, attachment_id, ["172.16.0.0/12"])  # replaces what it advertises
    one = propagated(ec2_a, manual_table)
    withdrawn = advertise(endpoint, attachment_id, [])
    after = propagated(ec2_a, manual_table)

    assert before == {}
    assert both == {
        cidr: propagated_route(cidr, vpn_id, "vpn", attachment_id)
        for cidr in ("192.168.0.0/16", "172.16.0.0/12")
    }
    assert list(one) == ["172.16.0.0/12"]
    assert withdrawn == {"advertisedRoutes": {}}
    assert after == {}


def test_given_static_route_for_a_propagated_cidr_when_searching_then_only_the_static_route(
    ec2_a, manual_table, vpc_attachment
):
    _, attachment_id = vpc_attachment
    enable_propagation(ec2_a, manual_table, attachment_id)
    add_routes(ec2_a, manual_table, ["10.50.0.0/16"])  # blackhole

    def exact(cidr: str) -> list[tuple[str, str]]:
        routes = ec2_a.search_transit_gateway_routes(
            TransitGatewayRouteTableId=manual_table,
            Filters=[{"Name": "route-search.exact-match", "Values": [cidr]}],
        )["Routes"]
        return [(r["Type"], r["State"]) for r in routes]

    shadowed = exact("10.50.0.0/16")
    ec2_a.delete_transit_gateway_route(
        TransitGatewayRouteTableId=manual_table, DestinationCidrBlock="10.50.0.0/16"
    )

    assert shadowed == [("static", "blackhole")]
    assert exact("10.50.0.0/16") == [("propagated", "active")]


def test_given_propagated_routes_when_searching_exact_match_then_the_propagated_route(
    ec2_a, manual_table, vpc_attachment
):
    vpc_id, attachment_id = vpc_attachment
    enable_propagation(ec2_a, manual_table, attachment_id)

    found = ec2_a.search_transit_gateway_routes(
        TransitGatewayRouteTableId=manual_table,
        Filters=[{"Name": "route-search.exact-match", "Values": ["10.51.0.0/16"]}],
    )["Routes"]

    assert found == [propagated_route("10.51.0.0/16", vpc_id, "vpc", attachment_id)]
    assert search(ec2_a, manual_table, {"route-search.subnet-of-match": ["10.50.0.0/15"]}) == [
        "10.50.0.0/16",
        "10.51.0.0/16",
    ]


def test_given_static_and_propagated_routes_when_paging_then_every_route_once(
    ec2_a, manual_table, vpc_attachment
):
    _, attachment_id = vpc_attachment
    enable_propagation(ec2_a, manual_table, attachment_id)
    add_routes(ec2_a, manual_table, [f"10.{i}.0.0/16" for i in range(4)])

    def page(**token):
        return ec2_a.search_transit_gateway_routes(
            TransitGatewayRouteTableId=manual_table,
            Filters=[{"Name": "state", "Values": ["active", "blackhole"]}],
            MaxResults=5,
            **token,
        )

    first = page()
    second = page(NextToken=first["NextToken"])

    assert (len(first["Routes"]), first["AdditionalRoutesAvailable"]) == (5, True)
    assert (len(second["Routes"]), second["AdditionalRoutesAvailable"]) == (1, False)
    assert sorted(r["DestinationCidrBlock"] for r in first["Routes"] + second["Routes"]) == [
        "10.0.0.0/16", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.50.0.0/16", "10.51.0.0/16",
    ]


def test_given_vpn_attachment_in_another_region_when_advertising_then_listed_by_get(
    endpoint, ec2_b, tgws
):
    _, attachment_id = create_vpn_attachment(ec2_b, tgws[1]["TransitGatewayId"])

    posted = advertise(endpoint, attachment_id, ["192.168.1.0/24", "192.168.1.0/24", "2001:db8::/32"])

    expected = {"advertisedRoutes": {attachment_id: ["192.168.1.0/24", "2001:db8::/32"]}}
    assert posted == expected
    assert harness(endpoint, "GET", "advertised-routes") == expected


def test_given_bad_advertised_routes_bodies_when_posting_then_http_400(
    endpoint, ec2_a, tgws, vpc_attachment
):
    _, vpn_attachment_id = create_vpn_attachment(ec2_a, tgws[0]["TransitGatewayId"])
    _, vpc_attachment_id = vpc_attachment
    bodies = {
        "bad CIDR": {"attachmentId": vpn_attachment_id, "cidrs": ["10.0.0.0/33"]},
        "not a CIDR": {"attachmentId": vpn_attachment_id, "cidrs": ["ten"]},
        "host bits set": {"attachmentId": vpn_attachment_id, "cidrs": ["10.0.0.1/16"]},
        "cidrs not a list": {"attachmentId": vpn_attachment_id, "cidrs": "10.0.0.0/16"},
        "missing cidrs": {"attachmentId": vpn_attachment_id},
        "missing attachmentId": {"cidrs": ["10.0.0.0/16"]},
        "unknown field": {"attachmentId": vpn_attachment_id, "cidrs": [], "asPath": []},
        "unknown attachment": {"attachmentId": "tgw-attach-00000000000000000", "cidrs": []},
        "a VPC attachment": {"attachmentId": vpc_attachment_id, "cidrs": ["10.0.0.0/16"]},
    }

    answers = {}
    for case, body in bodies.items():
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            harness(endpoint, "POST", "advertised-routes", body)
        answers[case] = (excinfo.value.code, "error" in json.load(excinfo.value))

    assert answers == {case: (400, True) for case in bodies}
    assert harness(endpoint, "GET", "advertised-routes") == {"advertisedRoutes": {}}


def test_given_advertised_routes_when_resetting_then_they_are_cleared(endpoint, ec2_a, tgws):
    _, attachment_id = create_vpn_attachment(ec2_a, tgws[0]["TransitGatewayId"])
    before = advertise(endpoint, attachment_id, ["192.168.0.0/16"])

    harness(endpoint, "POST", "reset")

    assert before == {"advertisedRoutes": {attachment_id: ["192.168.0.0/16"]}}

    assert harness(endpoint, "GET", "advertised-routes") == {"advertisedRoutes": {}}


# --- patch: attachments_propagate_to_the_default_table -----------------------


def propagations(ec2, table: str) -> list[tuple[str, str, str, str]]:
    found = ec2.get_transit_gateway_route_table_propagations(TransitGatewayRouteTableId=table)
    return [
        (p["TransitGatewayAttachmentId"], p["ResourceId"], p["ResourceType"], p["State"])
        for p in found["TransitGatewayRouteTablePropagations"]
    ]


@pytest.fixture
def default_table(tgws):
    return tgws[0]["Options"]["PropagationDefaultRouteTableId"]


def test_given_default_tgw_when_attaching_a_vpc_and_a_peering_then_only_the_vpc_propagates(
    ec2_a, tgws, default_table
):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)

    vpc_id, attachment_id = attach_vpc(ec2_a, tgw_a)
    create_peering(ec2_a, tgw_a, tgw_b)  # peering attachments do not support propagation

    assert tgws[0]["Options"]["DefaultRouteTablePropagation"] == "enable"  # the default
    assert propagations(ec2_a, default_table) == [(attachment_id, vpc_id, "vpc", "enabled")]
    assert propagated(ec2_a, default_table) == {
        cidr: propagated_route(cidr, vpc_id, "vpc", attachment_id)
        for cidr in ("10.50.0.0/16", "10.51.0.0/16")
    }


def test_given_default_tgw_when_attaching_a_vpn_then_its_advertised_routes_propagate(
    endpoint, ec2_a, tgws, default_table
):
    vpn_id, attachment_id = create_vpn_attachment(ec2_a, tgws[0]["TransitGatewayId"])

    advertise(endpoint, attachment_id, ["192.168.0.0/16"])  # no EnableTransitGatewayRouteTablePropagation

    assert propagations(ec2_a, default_table) == [(attachment_id, vpn_id, "vpn", "enabled")]
    assert propagated(ec2_a, default_table) == {
        "192.168.0.0/16": propagated_route("192.168.0.0/16", vpn_id, "vpn", attachment_id)
    }


def test_given_tgw_with_default_propagation_disabled_when_attaching_then_nothing_propagates(
    endpoint, ec2_a, tgws, default_table, manual_tgw, manual_table
):
    _, vpn_attachment_id = create_vpn_attachment(ec2_a, manual_tgw["TransitGatewayId"])
    advertise(endpoint, vpn_attachment_id, ["192.168.0.0/16"])
    attach_vpc(ec2_a, manual_tgw["TransitGatewayId"])
    _, default_attachment_id = attach_vpc(ec2_a, tgws[0]["TransitGatewayId"])  # for contrast

    assert (propagations(ec2_a, manual_table), propagated(ec2_a, manual_table)) == ([], {})
    assert [p[0] for p in propagations(ec2_a, default_table)] == [default_attachment_id]


def test_given_a_second_route_table_when_attaching_a_vpc_then_only_the_default_table_gets_it(
    ec2_a, tgws, default_table
):
    tgw_a = tgws[0]["TransitGatewayId"]
    extra = ec2_a.create_transit_gateway_route_table(TransitGatewayId=tgw_a)
    extra_table = extra["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]

    attach_vpc(ec2_a, tgw_a)

    assert (propagations(ec2_a, extra_table), propagated(ec2_a, extra_table)) == ([], {})
    assert sorted(propagated(ec2_a, default_table)) == ["10.50.0.0/16", "10.51.0.0/16"]


def test_given_propagation_default_table_changed_when_attaching_a_vpc_then_it_propagates_there(
    ec2_a, tgws, default_table
):
    tgw_a = tgws[0]["TransitGatewayId"]
    extra = ec2_a.create_transit_gateway_route_table(TransitGatewayId=tgw_a)
    extra_table = extra["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
    ec2_a.modify_transit_gateway(
        TransitGatewayId=tgw_a, Options={"PropagationDefaultRouteTableId": extra_table}
    )

    _, attachment_id = attach_vpc(ec2_a, tgw_a)

    assert [p[0] for p in propagations(ec2_a, extra_table)] == [attachment_id]
    assert (propagations(ec2_a, default_table), propagated(ec2_a, default_table)) == ([], {})


def test_given_default_propagation_when_disabling_it_then_propagation_and_routes_go(
    ec2_a, tgws, default_table
):
    _, attachment_id = attach_vpc(ec2_a, tgws[0]["TransitGatewayId"])
    before = propagated(ec2_a, default_table)

    disabled = ec2_a.disable_transit_gateway_route_table_propagation(
        TransitGatewayRouteTableId=default_table, TransitGatewayAttachmentId=attachment_id
    )["Propagation"]

    assert sorted(before) == ["10.50.0.0/16", "10.51.0.0/16"]
    assert (disabled["TransitGatewayAttachmentId"], disabled["State"]) == (attachment_id, "disabled")
    assert (propagations(ec2_a, default_table), propagated(ec2_a, default_table)) == ([], {})


# --- cross-account: account A assumes a role in account B ----------------------

PEER_ACCOUNT = "111122223333"  # account B, owner of the accepter TGW
OTHER_ACCOUNT = "444455556666"


def as_account(aws_client, account: str):
    """Act as that account's administrator: moto's `x-moto-account-id` header (no AWS
    equivalent; only to set up account B, e.g. the role account A assumes)."""
    aws_client.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
    )
    return aws_client


def session_client(endpoint: str, service: str, region: str, credentials: dict | None = None):
    """A client signing with these STS credentials (AssumeRole's Credentials), else account A's."""
    keys = (
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
        if credentials
        else {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    )
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        **keys,
    )


# What the roles of these tests may do once assumed: everything (IAM is enforced on their
# sessions, see function_calls_need_their_roles_permissions; these tests are about other things).
EVERYTHING = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def create_role(
    endpoint: str, account: str, name: str, *statements: dict, permissions: tuple[dict, ...] = (EVERYTHING,)
) -> str:
    """Create a role in `account` with this trust policy and an inline policy of `permissions`;
    return its ARN."""
    iam = as_account(session_client(endpoint, "iam", REQUESTER), account)
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"]
    if permissions:
        document = {"Version": "2012-10-17", "Statement": list(permissions)}
        iam.put_role_policy(RoleName=name, PolicyName="permissions", PolicyDocument=json.dumps(document))
    return arn


def trust(principal: str, effect: str = "Allow", **condition) -> dict:
    statement = {"Effect": effect, "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return statement


def assume(endpoint: str, role_arn: str, credentials: dict | None = None, **params) -> dict:
    sts = session_client(endpoint, "sts", REQUESTER, credentials)
    return sts.assume_role(RoleArn=role_arn, RoleSessionName="tgw-peering", **params)["Credentials"]


@pytest.fixture
def peer_credentials(endpoint) -> dict:
    """Account A's credentials for account B: a role in B trusting A, assumed by A."""
    role_arn = create_role(endpoint, PEER_ACCOUNT, "tgw-peering-accepter", trust(f"arn:aws:iam::{ACCOUNT}:root"))
    return assume(endpoint, role_arn)


@pytest.fixture
def ec2_peer(endpoint, peer_credentials):
    """Account B in the accepter Region."""
    return session_client(endpoint, "ec2", ACCEPTER, peer_credentials)


def test_given_a_role_in_another_account_trusting_us_when_assuming_it_then_calls_act_in_that_account(
    endpoint, ec2_a, ec2_b, peer_credentials, ec2_peer
):
    identity = session_client(endpoint, "sts", REQUESTER, peer_credentials).get_caller_identity()
    peer_vpc = ec2_peer.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]
    peer_subnet = ec2_peer.create_subnet(VpcId=peer_vpc["VpcId"], CidrBlock="10.1.0.0/24")["Subnet"]
    peer_tgw = create_tgw(ec2_peer)
    own_tgw = create_tgw(ec2_b)  # account A, same Region

    def ids(items: list[dict], key: str) -> set[str]:
        return {i[key] for i in items}

    assert peer_credentials["AccessKeyId"].startswith("ASIA") and peer_credentials["SessionToken"]
    assert identity["Account"] == PEER_ACCOUNT
    assert identity["Arn"] == f"arn:aws:sts::{PEER_ACCOUNT}:assumed-role/tgw-peering-accepter/tgw-peering"
    assert (peer_vpc["OwnerId"], peer_subnet["OwnerId"], peer_tgw["OwnerId"]) == (PEER_ACCOUNT,) * 3
    # Each account sees only its own resources (moto keeps one backend per account and Region).
    assert ids(ec2_peer.describe_transit_gateways()["TransitGateways"], "TransitGatewayId") == {
        peer_tgw["TransitGatewayId"]
    }
    assert ids(ec2_b.describe_transit_gateways()["TransitGateways"], "TransitGatewayId") == {
        own_tgw["TransitGatewayId"]
    }
    assert peer_vpc["VpcId"] not in ids(ec2_b.describe_vpcs()["Vpcs"], "VpcId")
    assert peer_subnet["SubnetId"] not in ids(ec2_b.describe_subnets()["Subnets"], "SubnetId")
    peer_table = peer_tgw["Options"]["AssociationDefaultRouteTableId"]
    assert peer_table not in ids(
        ec2_b.describe_transit_gateway_route_tables()["TransitGatewayRouteTables"], "TransitGatewayRouteTableId"
    )
    peer_vpc_tables = ids(ec2_peer.describe_route_tables()["RouteTables"], "RouteTableId")
    assert peer_vpc_tables.isdisjoint(ids(ec2_b.describe_route_tables()["RouteTables"], "RouteTableId"))


# --- patch: assume_role_needs_a_trusting_role -----------------------------------


def assume_role_error(endpoint: str, role_arn: str, credentials: dict | None = None, **params):
    with pytest.raises(ClientError) as excinfo:
        assume(endpoint, role_arn, credentials, **params)
    return excinfo.value.response


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param((), id="no-such-role"),
        pytest.param((trust(f"arn:aws:iam::{OTHER_ACCOUNT}:root"),), id="trusts-another-account"),
        pytest.param((trust(f"arn:aws:iam::{ACCOUNT}:role/someone-else"),), id="trusts-another-role-of-ours"),
        pytest.param(
            (trust(ACCOUNT), trust(f"arn:aws:iam::{ACCOUNT}:root", effect="Deny")), id="explicit-deny"
        ),
    ],
)
def test_given_no_role_trusting_us_when_assuming_it_then_access_denied(endpoint, statements):
    role_arn = f"arn:aws:iam::{PEER_ACCOUNT}:role/tgw-peering-accepter"
    if statements:
        create_role(endpoint, PEER_ACCOUNT, "tgw-peering-accepter", *statements)

    response = assume_role_error(endpoint, role_arn)

    assert response["Error"]["Code"] == "AccessDenied"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:user/moto is not authorized to perform: "
        f"sts:AssumeRole on resource: {role_arn}"
    )


def test_given_a_role_of_ours_trusted_by_name_when_its_session_assumes_the_peer_role_then_only_it_may(
    endpoint,
):
    ours = create_role(endpoint, ACCOUNT, "tgw-peering-lambda", trust(ACCOUNT))
    peer_role = create_role(endpoint, PEER_ACCOUNT, "tgw-peering-accepter", trust(ours))
    lambda_session = assume(endpoint, ours)

    chained = assume(endpoint, peer_role, lambda_session)
    refused = assume_role_error(endpoint, peer_role)  # account A, but not that role

    assert session_client(endpoint, "sts", REQUESTER, chained).get_caller_identity()["Account"] == PEER_ACCOUNT
    assert refused["Error"]["Code"] == "AccessDenied"


def test_given_a_trust_policy_requiring_an_external_id_when_assuming_then_only_with_that_id(endpoint):
    role_arn = create_role(
        endpoint,
        PEER_ACCOUNT,
        "tgw-peering-accepter",
        trust(f"arn:aws:iam::{ACCOUNT}:root", StringEquals={"sts:ExternalId": "peering-42"}),
    )

    without = assume_role_error(endpoint, role_arn)
    wrong = assume_role_error(endpoint, role_arn, ExternalId="peering-43")
    assumed = assume(endpoint, role_arn, ExternalId="peering-42")

    assert without["Error"]["Code"] == wrong["Error"]["Code"] == "AccessDenied"
    assert assumed["AccessKeyId"]


# --- patch: function_calls_need_their_roles_permissions ---------------------------------------


def role_session(endpoint: str, *permissions: dict, name: str = "limited") -> dict:
    """The credentials of a session of a role of account A allowed only `permissions`."""
    role_arn = create_role(endpoint, ACCOUNT, name, trust(ACCOUNT), permissions=permissions)
    return assume(endpoint, role_arn)


def client_error(call, *args, **kwargs) -> dict:
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    return excinfo.value.response


def denied_message(action: str, resource: str, name: str = "limited", explicit: bool = False) -> str:
    reason = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {action} action"
    )
    return (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{name}/tgw-peering is not authorized to perform: "
        f"{action} on resource: {resource} {reason}"
    )


def test_given_a_role_allowed_one_action_when_its_session_calls_another_then_unauthorized_operation(
    endpoint, ec2_a
):
    session = role_session(endpoint, {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"})
    ec2 = session_client(endpoint, "ec2", REQUESTER, session)

    ec2.describe_vpcs()
    refused = client_error(ec2.describe_transit_gateways)

    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused["Error"]["Code"] == "UnauthorizedOperation"
    assert refused["Error"]["Message"] == "You are not authorized to perform this operation. " + denied_message(
        "ec2:DescribeTransitGateways", "*"
    )
    # The refused call was received, so it is counted; moto never saw it.
    assert harness(endpoint, "GET", "calls")["total"]["DescribeTransitGateways"] == 1


def test_given_a_role_session_when_it_calls_then_the_iam_tally_counts_each_call_and_each_refusal(endpoint, ec2_a):
    session = role_session(endpoint, {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"})
    ec2 = session_client(endpoint, "ec2", REQUESTER, session)
    before = harness(endpoint, "GET", "iam")

    ec2.describe_vpcs()
    client_error(ec2.describe_transit_gateways)
    ec2_a.describe_transit_gateways()  # the test's own keys: not a role session, not evaluated

    after = harness(endpoint, "GET", "iam")
    assert after["callsEvaluated"] - before["callsEvaluated"] == 2
    assert after["callsRefused"] - before["callsRefused"] == 1
    assert after["authorizations"] - before["authorizations"] >= 2


def test_given_a_grant_on_one_regions_tables_when_writing_a_route_elsewhere_then_refused_naming_that_table(
    endpoint, ec2_a, ec2_b
):
    tables = {tgw["Options"]["AssociationDefaultRouteTableId"]: region
              for region, tgw in ((REQUESTER, create_tgw(ec2_a)), (ACCEPTER, create_tgw(ec2_b)))}
    session = role_session(endpoint, {
        "Effect": "Allow", "Action": ["ec2:CreateTransitGatewayRoute", "ec2:DeleteTransitGatewayRoute"],
        "Resource": f"arn:aws:ec2:{REQUESTER}:{ACCOUNT}:transit-gateway-route-table/*",
    })
    (here, _), (there, _) = sorted(tables.items(), key=lambda item: item[1] != REQUESTER)

    session_client(endpoint, "ec2", REQUESTER, session).create_transit_gateway_route(
        TransitGatewayRouteTableId=here, DestinationCidrBlock="10.9.0.0/16", Blackhole=True)
    refused = client_error(session_client(endpoint, "ec2", ACCEPTER, session).create_transit_gateway_route,
                           TransitGatewayRouteTableId=there, DestinationCidrBlock="10.9.0.0/16", Blackhole=True)

    table_arn = f"arn:aws:ec2:{ACCEPTER}:{ACCOUNT}:transit-gateway-route-table/{there}"
    assert refused["Error"]["Code"] == "UnauthorizedOperation"
    assert refused["Error"]["Message"].endswith(denied_message("ec2:CreateTransitGatewayRoute", table_arn))
    assert [w["routeTableId"] for w in harness(endpoint, "GET", "route-writes")["routeWrites"]] == [here]


def test_given_an_explicit_deny_when_the_session_calls_then_refused_with_an_explicit_deny(endpoint):
    session = role_session(
        endpoint, EVERYTHING, {"Effect": "Deny", "Action": "ec2:Describe*", "Resource": "*"}
    )

    refused = client_error(session_client(endpoint, "ec2", REQUESTER, session).describe_vpcs)

    assert refused["Error"]["Message"].endswith(denied_message("ec2:DescribeVpcs", "*", explicit=True))


def test_given_leading_keys_limited_when_the_session_writes_another_partition_then_access_denied_exception(
    endpoint,
):
    dynamodb = session_client(endpoint, "dynamodb", REQUESTER)  # account A's administrator
    table = dynamodb.create_table(
        TableName="state", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )["TableDescription"]["TableArn"]
    session = role_session(endpoint, {
        "Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:Query"], "Resource": table,
        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["routes#*"]}},
    })
    limited = session_client(endpoint, "dynamodb", REQUESTER, session)

    limited.transact_write_items(TransactItems=[{"Put": {"TableName": "state", "Item": {
        "pk": {"S": "routes#a"}, "sk": {"S": "1"}}}}])
    refused = client_error(limited.transact_write_items, TransactItems=[{"Put": {"TableName": "state", "Item": {
        "pk": {"S": "lock#a"}, "sk": {"S": "lock"}}}}])

    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused["Error"]["Code"] == "AccessDeniedException"
    assert refused["Error"]["Message"] == denied_message("dynamodb:PutItem", table)
    items = dynamodb.scan(TableName="state")["Items"]
    assert [i["pk"]["S"] for i in items] == ["routes#a"]


def test_given_a_session_without_sts_assume_role_when_it_assumes_another_accounts_role_then_access_denied(
    endpoint,
):
    peer_role = create_role(endpoint, PEER_ACCOUNT, "tgw-peering-accepter", trust(ACCOUNT))
    session = role_session(endpoint, {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"})

    refused = assume_role_error(endpoint, peer_role, session)

    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused["Error"]["Code"] == "AccessDenied"
    assert refused["Error"]["Message"] == denied_message("sts:AssumeRole", peer_role)


def test_given_a_session_when_it_asks_who_it_is_then_no_permission_is_needed(endpoint):
    session = role_session(endpoint, {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"})

    identity = session_client(endpoint, "sts", REQUESTER, session).get_caller_identity()

    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/limited/tgw-peering"


def test_given_keys_that_are_no_role_session_when_calling_then_not_evaluated(endpoint, ec2_a):
    # The tests' own keys act as account A's administrator, as before.
    assert ec2_a.describe_transit_gateways()["TransitGateways"] == []


# --- cross-account peering (moto already keeps each account's side; tags: patch below)


@pytest.fixture
def cross_account(endpoint, ec2_a, peer_credentials, ec2_peer):
    """Account A's TGW in the requester Region, account B's in the accepter Region, and the
    views no AWS account would have: A in the accepter Region, B in the requester Region."""
    return {
        "tgw_a": create_tgw(ec2_a)["TransitGatewayId"],
        "tgw_b": create_tgw(ec2_peer)["TransitGatewayId"],
        "a_in_accepter_region": client(endpoint, ACCEPTER),
        "b_in_requester_region": session_client(endpoint, "ec2", REQUESTER, peer_credentials),
    }


def create_cross_account_peering(ec2_a, tgw_a: str, tgw_b: str, **extra) -> dict:
    return ec2_a.create_transit_gateway_peering_attachment(
        TransitGatewayId=tgw_a,
        PeerTransitGatewayId=tgw_b,
        PeerAccountId=PEER_ACCOUNT,
        PeerRegion=ACCEPTER,
        **extra,
    )["TransitGatewayPeeringAttachment"]


def listed(ec2) -> list[str]:
    found = ec2.describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"]
    return [a["TransitGatewayAttachmentId"] for a in found]


def test_given_cross_account_peering_when_the_accepter_account_accepts_then_each_side_sees_it_as_on_aws(
    ec2_a, ec2_peer, cross_account
):
    tgw_a, tgw_b = cross_account["tgw_a"], cross_account["tgw_b"]

    created = create_cross_account_peering(ec2_a, tgw_a, tgw_b)
    peering_id = created["TransitGatewayAttachmentId"]
    accepter_view = ec2_peer.describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"]
    accepted = ec2_peer.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    requester = {"TransitGatewayId": tgw_a, "OwnerId": ACCOUNT, "Region": REQUESTER}
    accepter = {"TransitGatewayId": tgw_b, "OwnerId": PEER_ACCOUNT, "Region": ACCEPTER}
    assert (created["State"], created["RequesterTgwInfo"], created["AccepterTgwInfo"]) == (
        "pendingAcceptance", requester, accepter
    )
    # The accepter's side is the same attachment id, with the same (not swapped) TGW info.
    assert [(a["TransitGatewayAttachmentId"], a["State"]) for a in accepter_view] == [
        (peering_id, "pendingAcceptance")
    ]
    assert (accepter_view[0]["RequesterTgwInfo"], accepter_view[0]["AccepterTgwInfo"]) == (requester, accepter)
    assert accepted["TransitGatewayPeeringAttachment"]["State"] == "available"
    assert peering_states(ec2_a, peering_id) == peering_states(ec2_peer, peering_id) == ["available"]
    assert listed(cross_account["a_in_accepter_region"]) == []
    assert listed(cross_account["b_in_requester_region"]) == []


def test_given_cross_account_peering_initiating_when_the_accepter_account_polls_then_listed_from_pending_acceptance(
    endpoint, ec2_a, ec2_peer, cross_account
):
    harness(endpoint, "POST", "peering", {"initiatingRequestSeconds": STEP, "pendingSeconds": STEP})
    started = time.monotonic()
    peering_id = create_cross_account_peering(ec2_a, cross_account["tgw_a"], cross_account["tgw_b"])[
        "TransitGatewayAttachmentId"
    ]

    seen_by_accepter = states_seen(lambda: peering_states(ec2_peer, peering_id), "pendingAcceptance", started)
    accepted = ec2_peer.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    seen_by_requester = states_seen(lambda: peering_states(ec2_a, peering_id), "available", time.monotonic())

    assert names(seen_by_accepter) == [None, "pendingAcceptance"]  # the request reaches account B in time
    assert accepted["TransitGatewayPeeringAttachment"]["State"] == "pending"
    assert names(seen_by_requester) == ["pending", "available"]
    assert listed(cross_account["a_in_accepter_region"]) == listed(cross_account["b_in_requester_region"]) == []


def test_given_accepted_cross_account_peering_when_the_accepter_routes_over_it_then_its_own_table_lists_the_route(
    ec2_a, ec2_peer, cross_account
):
    tgw_a, tgw_b = cross_account["tgw_a"], cross_account["tgw_b"]
    peering_id = create_cross_account_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_peer.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)
    table = ec2_peer.describe_transit_gateways(TransitGatewayIds=[tgw_b])["TransitGateways"][0]["Options"][
        "AssociationDefaultRouteTableId"
    ]

    ec2_peer.create_transit_gateway_route(
        TransitGatewayRouteTableId=table, DestinationCidrBlock="10.0.0.0/16", TransitGatewayAttachmentId=peering_id
    )
    routes = ec2_peer.search_transit_gateway_routes(
        TransitGatewayRouteTableId=table, Filters=[{"Name": "type", "Values": ["static"]}]
    )["Routes"]

    assert [(r["DestinationCidrBlock"], r["TransitGatewayAttachments"]) for r in routes] == [
        ("10.0.0.0/16", [{"ResourceId": tgw_a, "TransitGatewayAttachmentId": peering_id, "ResourceType": "peering"}])
    ]
    assert cross_account["a_in_accepter_region"].describe_transit_gateway_route_tables()[
        "TransitGatewayRouteTables"
    ] == []


# --- patch: accepter_side_has_its_own_tags --------------------------------------


def test_given_cross_account_peering_tagged_by_each_account_when_described_then_each_sees_only_its_own_tags(
    ec2_a, ec2_peer, cross_account
):
    managed = [{"Key": "managed-by", "Value": "tgw-peering"}]
    created = create_cross_account_peering(
        ec2_a,
        cross_account["tgw_a"],
        cross_account["tgw_b"],
        TagSpecifications=[{"ResourceType": "transit-gateway-attachment", "Tags": managed}],
    )
    peering_id = created["TransitGatewayAttachmentId"]

    def tags(ec2, **filters) -> list:
        found = ec2.describe_transit_gateway_peering_attachments(
            Filters=[{"Name": k, "Values": [v]} for k, v in filters.items()]
        )["TransitGatewayPeeringAttachments"]
        return [a["Tags"] for a in found]

    accepter_before = tags(ec2_peer)
    accepter_by_requester_tag = tags(ec2_peer, **{"tag:managed-by": "tgw-peering"})
    ec2_peer.create_tags(Resources=[peering_id], Tags=[{"Key": "side", "Value": "accepter"}])
    accepted = ec2_peer.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering_id)

    assert created["Tags"] == managed
    assert (accepter_before, accepter_by_requester_tag) == ([[]], [])
    assert tags(ec2_peer, **{"tag:side": "accepter"}) == [[{"Key": "side", "Value": "accepter"}]]
    assert accepted["TransitGatewayPeeringAttachment"]["Tags"] == [{"Key": "side", "Value": "accepter"}]
    assert tags(ec2_a) == [managed]
    assert tags(ec2_a, **{"tag:side": "accepter"}) == []


# --- route table associations (issue 15) ------------------------------------------


def segmented_tgw(ec2) -> tuple[str, str]:
    """A TGW with default association and propagation off and one route table of its
    own: (TGW id, table id)."""
    tgw = ec2.create_transit_gateway(
        Description="segmented",
        Options={"DefaultRouteTableAssociation": "disable", "DefaultRouteTablePropagation": "disable"},
    )["TransitGateway"]["TransitGatewayId"]
    table = ec2.create_transit_gateway_route_table(TransitGatewayId=tgw)
    return tgw, table["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]


def accepted_peering(ec2_a, ec2_b, tgw_a: str, tgw_b: str) -> str:
    attachment_id = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=attachment_id)
    return attachment_id


def associate(ec2, table: str, attachment_id: str) -> dict:
    return ec2.associate_transit_gateway_route_table(
        TransitGatewayRouteTableId=table, TransitGatewayAttachmentId=attachment_id
    )["Association"]


def disassociate(ec2, table: str, attachment_id: str) -> dict:
    return ec2.disassociate_transit_gateway_route_table(
        TransitGatewayRouteTableId=table, TransitGatewayAttachmentId=attachment_id
    )["Association"]


def associations(ec2, table: str) -> list[tuple[str, str, str, str]]:
    found = ec2.get_transit_gateway_route_table_associations(TransitGatewayRouteTableId=table)
    return [
        (a["TransitGatewayAttachmentId"], a["ResourceId"], a["ResourceType"], a["State"])
        for a in found["Associations"]
    ]


def attachment_views(ec2, **params) -> dict[str, dict]:
    found = ec2.describe_transit_gateway_attachments(**params)["TransitGatewayAttachments"]
    return {a["TransitGatewayAttachmentId"]: a for a in found}


def by_tgw(tgw_id: str) -> dict:
    return {"Filters": [{"Name": "transit-gateway-id", "Values": [tgw_id]}]}


@pytest.fixture
def segmented_peering(ec2_a, ec2_b):
    """Segmented TGWs in both Regions, peered and accepted, nothing associated:
    (tgw_a, table_a, tgw_b, table_b, peering id)."""
    tgw_a, table_a = segmented_tgw(ec2_a)
    tgw_b, table_b = segmented_tgw(ec2_b)
    return tgw_a, table_a, tgw_b, table_b, accepted_peering(ec2_a, ec2_b, tgw_a, tgw_b)


# --- patch: associations_are_per_side_and_exclusive ---------------------------


def test_given_a_peering_associated_on_both_sides_when_associating_again_then_resource_already_associated(
    ec2_a, ec2_b, segmented_peering
):
    tgw_a, table_a, tgw_b, table_b, peering = segmented_peering
    second_a = ec2_a.create_transit_gateway_route_table(TransitGatewayId=tgw_a)
    second_a = second_a["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]

    made_a = associate(ec2_a, table_a, peering)
    made_b = associate(ec2_b, table_b, peering)  # the accepter's side is its own
    answers = {}
    for case, (ec2, table) in {
        "same table, requester": (ec2_a, table_a),
        "other table, requester": (ec2_a, second_a),
        "same table, accepter": (ec2_b, table_b),
    }.items():
        with pytest.raises(ClientError) as excinfo:
            associate(ec2, table, peering)
        answers[case] = (error_code(excinfo), excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"])

    assert made_a == {
        "TransitGatewayRouteTableId": table_a, "TransitGatewayAttachmentId": peering,
        "ResourceId": tgw_b, "ResourceType": "peering", "State": "associated",
    }
    assert (made_b["TransitGatewayRouteTableId"], made_b["ResourceId"]) == (table_b, tgw_a)
    assert answers == {case: ("Resource.AlreadyAssociated", 400) for case in answers}
    assert associations(ec2_a, table_a) == [(peering, tgw_b, "peering", "associated")]
    assert associations(ec2_a, second_a) == []
    assert associations(ec2_b, table_b) == [(peering, tgw_a, "peering", "associated")]


def test_given_a_table_of_another_gateway_when_associating_then_invalid_parameter_value_and_nothing_changes(
    ec2_a, ec2_b, segmented_peering
):
    tgw_a, table_a, tgw_b, table_b, peering = segmented_peering
    _, other_table = segmented_tgw(ec2_a)
    _, vpc_attachment_id = attach_vpc(ec2_a, tgw_a)

    with pytest.raises(ClientError) as vpc_error:
        associate(ec2_a, other_table, vpc_attachment_id)
    with pytest.raises(ClientError) as peering_error:
        associate(ec2_a, other_table, peering)

    assert error_code(vpc_error) == error_code(peering_error) == "InvalidParameterValue"
    assert associations(ec2_a, other_table) == []
    associate(ec2_a, table_a, vpc_attachment_id)  # its own gateway's table still takes it


def test_given_no_association_when_disassociating_then_invalid_route_table_id_not_found(
    ec2_a, ec2_b, segmented_peering
):
    tgw_a, table_a, tgw_b, table_b, peering = segmented_peering
    associate(ec2_b, table_b, peering)

    with pytest.raises(ClientError) as never:
        disassociate(ec2_a, table_a, peering)  # associated on the accepter's side only
    gone = disassociate(ec2_b, table_b, peering)
    with pytest.raises(ClientError) as again:
        disassociate(ec2_b, table_b, peering)

    assert error_code(never) == error_code(again) == "InvalidRouteTableID.NotFound"
    assert (gone["TransitGatewayRouteTableId"], gone["State"]) == (table_b, "disassociated")
    assert associations(ec2_b, table_b) == []
    associate(ec2_b, table_b, peering)  # free again


def test_given_a_peering_pending_acceptance_when_associating_then_incorrect_state(ec2_a, ec2_b):
    tgw_a, table_a = segmented_tgw(ec2_a)
    tgw_b, table_b = segmented_tgw(ec2_b)
    peering = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]

    with pytest.raises(ClientError) as excinfo:
        associate(ec2_b, table_b, peering)

    assert error_code(excinfo) == "IncorrectState"
    assert associations(ec2_b, table_b) == []


# --- patch: attachments_show_their_own_sides_association ---------------------


def test_given_a_peering_associated_differently_per_side_when_described_by_gateway_then_each_side_shows_its_own(
    ec2_a, ec2_b, segmented_peering
):
    tgw_a, table_a, tgw_b, table_b, peering = segmented_peering
    vpc_id, vpc_attachment_id = attach_vpc(ec2_a, tgw_a)
    associate(ec2_a, table_a, vpc_attachment_id)
    associate(ec2_b, table_b, peering)

    requester = attachment_views(ec2_a, **by_tgw(tgw_a))
    accepter = attachment_views(ec2_b, **by_tgw(tgw_b))
    disassociate(ec2_b, table_b, peering)
    after = attachment_views(ec2_b, **by_tgw(tgw_b))

    assert set(requester) == {vpc_attachment_id, peering}
    assert requester[vpc_attachment_id]["Association"] == {
        "TransitGatewayRouteTableId": table_a, "State": "associated"
    }
    assert requester[vpc_attachment_id]["ResourceId"] == vpc_id
    assert "Association" not in requester[peering]  # not associated on the requester's side
    assert (requester[peering]["TransitGatewayId"], requester[peering]["ResourceId"]) == (tgw_a, tgw_b)
    assert list(accepter) == [peering]
    assert accepter[peering]["Association"] == {"TransitGatewayRouteTableId": table_b, "State": "associated"}
    assert (accepter[peering]["TransitGatewayId"], accepter[peering]["ResourceId"]) == (tgw_b, tgw_a)
    assert accepter[peering]["ResourceType"] == "peering"
    assert "Association" not in after[peering]


def test_given_attachments_when_describing_by_attachment_id_then_only_that_one(ec2_a, ec2_b, segmented_peering):
    tgw_a, table_a, tgw_b, table_b, peering = segmented_peering
    _, vpc_attachment_id = attach_vpc(ec2_a, tgw_a)
    associate(ec2_a, table_a, peering)

    by_id = attachment_views(ec2_a, TransitGatewayAttachmentIds=[peering])
    by_filter = attachment_views(
        ec2_a, Filters=[{"Name": "transit-gateway-attachment-id", "Values": [peering]}]
    )
    by_association = attachment_views(
        ec2_a,
        Filters=[{"Name": "association.transit-gateway-route-table-id", "Values": [table_a]}],
    )
    from_accepter = attachment_views(ec2_b, TransitGatewayAttachmentIds=[peering])
    by_tag = attachment_views(ec2_a, Filters=[{"Name": "tag:Name", "Values": ["p"]}])

    assert list(by_id) == list(by_filter) == list(by_association) == list(by_tag) == [peering]
    assert by_id[peering]["Association"]["TransitGatewayRouteTableId"] == table_a
    assert "Association" not in from_accepter[peering]


# --- patch: default_association_follows_the_gateway_option -------------------


def test_given_tgw_with_default_association_disabled_when_attaching_then_nothing_is_associated(ec2_a):
    tgw = ec2_a.create_transit_gateway(
        Options={"DefaultRouteTableAssociation": "disable"}
    )["TransitGateway"]
    default_table = tgw["Options"]["AssociationDefaultRouteTableId"]

    _, attachment_id = attach_vpc(ec2_a, tgw["TransitGatewayId"])

    assert associations(ec2_a, default_table) == []
    assert "Association" not in attachment_views(ec2_a, TransitGatewayAttachmentIds=[attachment_id])[attachment_id]


def test_given_default_tgw_when_attaching_a_vpc_and_a_vpn_then_both_join_the_association_default_table(
    ec2_a, tgws
):
    tgw_a = tgws[0]["TransitGatewayId"]
    extra = ec2_a.create_transit_gateway_route_table(TransitGatewayId=tgw_a)
    extra_table = extra["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
    default_table = tgws[0]["Options"]["AssociationDefaultRouteTableId"]

    vpc_id, vpc_attachment_id = attach_vpc(ec2_a, tgw_a)
    ec2_a.modify_transit_gateway(TransitGatewayId=tgw_a, Options={"AssociationDefaultRouteTableId": extra_table})
    vpn_id, vpn_attachment_id = create_vpn_attachment(ec2_a, tgw_a)

    assert associations(ec2_a, default_table) == [(vpc_attachment_id, vpc_id, "vpc", "associated")]
    assert associations(ec2_a, extra_table) == [(vpn_attachment_id, vpn_id, "vpn", "associated")]


# --- patch: accepted_peering_joins_the_default_association_table -------------


def test_given_default_tgws_when_the_peering_is_accepted_then_each_side_joins_its_default_table(
    ec2_a, ec2_b, tgws
):
    tgw_a, tgw_b = (t["TransitGatewayId"] for t in tgws)
    table_a, table_b = (t["Options"]["AssociationDefaultRouteTableId"] for t in tgws)
    pending = create_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    before = associations(ec2_a, table_a), associations(ec2_b, table_b)

    ec2_b.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=pending)

    assert before == ([], [])
    assert associations(ec2_a, table_a) == [(pending, tgw_b, "peering", "associated")]
    assert associations(ec2_b, table_b) == [(pending, tgw_a, "peering", "associated")]
    assert attachment_views(ec2_b, **by_tgw(tgw_b))[pending]["Association"] == {
        "TransitGatewayRouteTableId": table_b, "State": "associated"
    }
    assert pending not in [p[0] for p in propagations(ec2_a, table_a) + propagations(ec2_b, table_b)]


def test_given_one_segmented_side_when_the_peering_is_accepted_then_only_the_default_side_is_associated(
    ec2_a, ec2_b, tgws
):
    tgw_a, table_a = segmented_tgw(ec2_a)
    tgw_b, default_b = tgws[1]["TransitGatewayId"], tgws[1]["Options"]["AssociationDefaultRouteTableId"]

    peering = accepted_peering(ec2_a, ec2_b, tgw_a, tgw_b)

    assert "Association" not in attachment_views(ec2_a, **by_tgw(tgw_a))[peering]
    assert associations(ec2_b, default_b) == [(peering, tgw_a, "peering", "associated")]


# --- patch: association_state_progression ------------------------------------


def association_state(ec2, tgw_id: str, attachment_id: str) -> str | None:
    return (attachment_views(ec2, **by_tgw(tgw_id))[attachment_id].get("Association") or {}).get("State")


def test_given_associating_describes_when_associating_then_associating_for_that_many_describes(
    endpoint, ec2_a, ec2_b, segmented_peering
):
    tgw_a, table_a, tgw_b, table_b, peering = segmented_peering
    posted = harness(endpoint, "POST", "associations", {"associatingDescribes": 2})

    made = associate(ec2_b, table_b, peering)
    reads = [association_state(ec2_b, tgw_b, peering) for _ in range(3)]
    listed = associations(ec2_b, table_b)
    with pytest.raises(ClientError) as excinfo:
        associate(ec2_b, table_b, peering)  # already associating

    assert posted == {"associations": {"associatingDescribes": 2, "disassociatingDescribes": 0}}
    assert made["State"] == "associating"
    assert reads == ["associating", "associating", "associated"]
    assert listed == [(peering, tgw_a, "peering", "associated")]
    assert error_code(excinfo) == "Resource.AlreadyAssociated"
    assert association_state(ec2_a, tgw_a, peering) is None  # the other side is untouched


def test_given_disassociating_describes_when_disassociating_then_disassociating_then_gone(
    endpoint, ec2_a, segmented_peering
):
    tgw_a, table_a, tgw_b, _, peering = segmented_peering
    associate(ec2_a, table_a, peering)
    harness(endpoint, "POST", "associations", {"disassociatingDescribes": 1})

    gone = disassociate(ec2_a, table_a, peering)
    listed = associations(ec2_a, table_a)
    after = associations(ec2_a, table_a)

    assert gone["State"] == "disassociating"
    assert listed == [(peering, tgw_b, "peering", "disassociating")]
    assert after == []
    assert association_state(ec2_a, tgw_a, peering) is None


def test_given_default_association_describes_when_resetting_or_posting_bad_bodies_then_defaults_or_400(
    endpoint, ec2_a
):
    harness(endpoint, "POST", "associations", {"associatingDescribes": 3})
    harness(endpoint, "POST", "reset")
    answers = {}
    for case, body in {
        "negative": {"associatingDescribes": -1},
        "not an integer": {"disassociatingDescribes": 1.5},
        "unknown field": {"associatingSeconds": 1},
    }.items():
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            harness(endpoint, "POST", "associations", body)
        answers[case] = excinfo.value.code
    tgw, table = segmented_tgw(ec2_a)
    _, attachment_id = attach_vpc(ec2_a, tgw)

    assert answers == {case: 400 for case in answers}
    assert associate(ec2_a, table, attachment_id)["State"] == "associated"  # instant again


# --- patch: propagation_is_enabled_once_per_table ------------------------------


def test_given_an_enabled_propagation_when_enabling_again_then_duplicate_and_listed_once(
    ec2_a, manual_table, vpc_attachment
):
    _, attachment_id = vpc_attachment
    enable_propagation(ec2_a, manual_table, attachment_id)

    with pytest.raises(ClientError) as excinfo:
        enable_propagation(ec2_a, manual_table, attachment_id)

    assert error_code(excinfo) == "TransitGatewayRouteTablePropagation.Duplicate"
    assert [p[0] for p in propagations(ec2_a, manual_table)] == [attachment_id]


def test_given_propagation_to_two_tables_when_disabling_each_then_exactly_its_routes_go_and_again_not_found(
    ec2_a, manual_tgw, manual_table, vpc_attachment
):
    _, attachment_id = vpc_attachment
    second = ec2_a.create_transit_gateway_route_table(TransitGatewayId=manual_tgw["TransitGatewayId"])
    second = second["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
    add_routes(ec2_a, second, ["10.9.0.0/16"])
    enable_propagation(ec2_a, manual_table, attachment_id)
    enable_propagation(ec2_a, second, attachment_id)

    def disable(table: str) -> dict:
        return ec2_a.disable_transit_gateway_route_table_propagation(
            TransitGatewayRouteTableId=table, TransitGatewayAttachmentId=attachment_id
        )["Propagation"]

    first_off = disable(manual_table)
    kept = search(ec2_a, second, {"state": ["active", "blackhole"]})
    second_off = disable(second)
    with pytest.raises(ClientError) as excinfo:
        disable(second)

    assert (first_off["TransitGatewayRouteTableId"], first_off["State"]) == (manual_table, "disabled")
    assert propagated(ec2_a, manual_table) == {}
    assert kept == ["10.50.0.0/16", "10.51.0.0/16", "10.9.0.0/16"]
    assert (second_off["TransitGatewayRouteTableId"], second_off["State"]) == (second, "disabled")
    assert search(ec2_a, second, {"state": ["active", "blackhole"]}) == ["10.9.0.0/16"]
    assert error_code(excinfo) == "TransitGatewayRouteTablePropagation.NotFound"



# --- patch: deleted_attachments_leave_their_tables -----------------------------


def test_given_associated_and_propagating_attachments_when_deleted_then_no_table_lists_them(
    ec2_a, ec2_b, segmented_peering
):
    tgw_a, table_a, tgw_b, table_b, peering = segmented_peering
    _, vpc_attachment_id = attach_vpc(ec2_a, tgw_a)
    second = ec2_a.create_transit_gateway_route_table(TransitGatewayId=tgw_a)
    second = second["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
    associate(ec2_a, table_a, peering)
    associate(ec2_b, table_b, peering)
    associate(ec2_a, second, vpc_attachment_id)
    enable_propagation(ec2_a, table_a, vpc_attachment_id)
    enable_propagation(ec2_a, second, vpc_attachment_id)

    ec2_a.delete_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering)
    ec2_a.delete_transit_gateway_vpc_attachment(TransitGatewayAttachmentId=vpc_attachment_id)

    assert associations(ec2_a, table_a) == associations(ec2_b, table_b) == associations(ec2_a, second) == []
    assert propagations(ec2_a, table_a) == propagations(ec2_a, second) == []



# --- patch: segmented_gateway_has_no_default_table ------------------------------


def test_given_tgw_with_default_association_and_propagation_off_when_described_then_no_default_table(ec2_a):
    tgw = ec2_a.create_transit_gateway(
        Options={"DefaultRouteTableAssociation": "disable", "DefaultRouteTablePropagation": "disable"}
    )["TransitGateway"]
    tgw_id = tgw["TransitGatewayId"]

    _, attachment_id = attach_vpc(ec2_a, tgw_id)
    (described,) = ec2_a.describe_transit_gateways(TransitGatewayIds=[tgw_id])["TransitGateways"]
    tables = ec2_a.describe_transit_gateway_route_tables(
        Filters=[{"Name": "transit-gateway-id", "Values": [tgw_id]}]
    )["TransitGatewayRouteTables"]

    for options in (tgw["Options"], described["Options"]):
        assert "AssociationDefaultRouteTableId" not in options
        assert "PropagationDefaultRouteTableId" not in options
    assert tables == []
    assert "Association" not in attachment_views(ec2_a, TransitGatewayAttachmentIds=[attachment_id])[attachment_id]


# --- dual stack (issue 15) --------------------------------------------------------


def attach_dual_stack_vpc(ec2, tgw_id: str, ipv6_support: str) -> tuple[str, str, str]:
    """A VPC 10.60.0.0/16 with an Amazon-provided IPv6 block, attached with
    Options.Ipv6Support: (vpc id, its IPv6 block, attachment id)."""
    vpc_id = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc_id, AmazonProvidedIpv6CidrBlock=True)
    (vpc,) = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    (block,) = vpc["Ipv6CidrBlockAssociationSet"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.60.0.0/24")["Subnet"]["SubnetId"]
    attachment = ec2.create_transit_gateway_vpc_attachment(
        TransitGatewayId=tgw_id, VpcId=vpc_id, SubnetIds=[subnet_id], Options={"Ipv6Support": ipv6_support}
    )["TransitGatewayVpcAttachment"]
    return vpc_id, block["Ipv6CidrBlock"], attachment["TransitGatewayAttachmentId"]


def test_given_amazon_provided_ipv6_block_and_ipv6_support_when_described_then_associated_and_enabled(
    ec2_a, manual_tgw
):
    vpc_id, block, attachment_id = attach_dual_stack_vpc(ec2_a, manual_tgw["TransitGatewayId"], "enable")

    (vpc,) = ec2_a.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    (attachment,) = ec2_a.describe_transit_gateway_vpc_attachments(
        TransitGatewayAttachmentIds=[attachment_id]
    )["TransitGatewayVpcAttachments"]

    assert [(b["Ipv6CidrBlock"], b["Ipv6CidrBlockState"]["State"]) for b in vpc["Ipv6CidrBlockAssociationSet"]] == [
        (block, "associated")
    ]
    assert block.endswith("/56")
    assert attachment["Options"]["Ipv6Support"] == "enable"


# --- patch: ipv6_support_propagates_ipv6_blocks --------------------------------


def test_given_dual_stack_vpcs_when_propagating_then_ipv6_blocks_only_with_ipv6_support(
    ec2_a, manual_tgw, manual_table
):
    tgw_id = manual_tgw["TransitGatewayId"]
    vpc_on, block_on, attachment_on = attach_dual_stack_vpc(ec2_a, tgw_id, "enable")
    second = ec2_a.create_transit_gateway_route_table(TransitGatewayId=tgw_id)
    second = second["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]
    vpc_off, block_off, attachment_off = attach_dual_stack_vpc(ec2_a, tgw_id, "disable")
    enable_propagation(ec2_a, manual_table, attachment_on)
    enable_propagation(ec2_a, second, attachment_off)

    assert propagated(ec2_a, manual_table) == {
        "10.60.0.0/16": propagated_route("10.60.0.0/16", vpc_on, "vpc", attachment_on),
        block_on: propagated_route(block_on, vpc_on, "vpc", attachment_on),
    }
    assert search(ec2_a, manual_table, {"route-search.exact-match": [block_on]}) == [block_on]
    assert list(propagated(ec2_a, second)) == ["10.60.0.0/16"]  # Ipv6Support disable


# --- TGW IPv6 static routes (moto already does this) ------------------------------


def test_given_ipv6_static_routes_when_created_searched_and_deleted_then_as_ipv4_ones(
    ec2_a, route_table, vpc_and_peering
):
    _, peering_id = vpc_and_peering
    ec2_a.create_transit_gateway_route(
        TransitGatewayRouteTableId=route_table, DestinationCidrBlock="2001:db8:5::/48",
        TransitGatewayAttachmentId=peering_id,
    )
    add_routes(ec2_a, route_table, ["2001:db8:6::/48", "10.9.0.0/16"])  # blackholes

    with pytest.raises(ClientError) as excinfo:
        add_routes(ec2_a, route_table, ["2001:db8:5::/48"])
    exact = search(ec2_a, route_table, {"route-search.exact-match": ["2001:db8:5::/48"]})
    subnets = search(ec2_a, route_table, {"route-search.subnet-of-match": ["2001:db8::/32"]})
    active_static = search(ec2_a, route_table, {"type": ["static"], "state": ["active"]})
    ec2_a.delete_transit_gateway_route(TransitGatewayRouteTableId=route_table, DestinationCidrBlock="2001:db8:5::/48")

    assert error_code(excinfo) == "RouteAlreadyExists"
    assert exact == ["2001:db8:5::/48"]
    assert subnets == ["2001:db8:5::/48", "2001:db8:6::/48"]
    assert active_static == ["2001:db8:5::/48"]
    assert search(ec2_a, route_table, {"type": ["static"]}) == ["10.9.0.0/16", "2001:db8:6::/48"]


# --- patch: vpc_ipv6_route_refuses_duplicates ----------------------------------


def test_given_an_ipv6_vpc_route_to_the_tgw_when_created_again_then_route_already_exists_and_delete_removes_it(
    ec2_a, tgws
):
    tgw_a = tgws[0]["TransitGatewayId"]
    other = create_tgw(ec2_a)["TransitGatewayId"]
    vpc_id = ec2_a.create_vpc(CidrBlock="10.70.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    table = ec2_a.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]

    def routes() -> list[tuple[str, str]]:
        (found,) = ec2_a.describe_route_tables(RouteTableIds=[table])["RouteTables"]
        return [(r["DestinationIpv6CidrBlock"], r.get("TransitGatewayId", r.get("GatewayId")))
                for r in found["Routes"] if "DestinationIpv6CidrBlock" in r]

    ec2_a.create_route(RouteTableId=table, DestinationIpv6CidrBlock="2001:db8:9::/48", TransitGatewayId=tgw_a)
    with pytest.raises(ClientError) as excinfo:
        ec2_a.create_route(RouteTableId=table, DestinationIpv6CidrBlock="2001:db8:9::/48", TransitGatewayId=other)
    created = routes()
    ec2_a.delete_route(RouteTableId=table, DestinationIpv6CidrBlock="2001:db8:9::/48")

    assert error_code(excinfo) == "RouteAlreadyExists"
    assert ("2001:db8:9::/48", tgw_a) in created  # unchanged
    assert [gateway for _, gateway in routes()] == ["local"]


# --- patch: vpc_takes_ipv6_blocks_from_a_pool ----------------------------------


def test_given_an_ipv6_block_from_a_pool_when_associating_then_listed_and_the_vpc_still_works(ec2_a):
    vpc_id = ec2_a.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
    table = ec2_a.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]

    answer = ec2_a.associate_vpc_cidr_block(
        VpcId=vpc_id, Ipv6CidrBlock="2001:db8:1200::/56", Ipv6Pool="ipv6pool-ec2-0123456789abcdef0"
    )["Ipv6CidrBlockAssociation"]
    ec2_a.create_subnet(VpcId=vpc_id, CidrBlock="10.80.0.0/24")
    (vpc,) = ec2_a.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    (found,) = ec2_a.describe_route_tables(RouteTableIds=[table])["RouteTables"]

    assert (answer["Ipv6CidrBlock"], answer["Ipv6CidrBlockState"]["State"]) == ("2001:db8:1200::/56", "associating")
    assert [(b["Ipv6CidrBlock"], b["Ipv6CidrBlockState"]["State"], b["Ipv6Pool"])
            for b in vpc["Ipv6CidrBlockAssociationSet"]] == [
        ("2001:db8:1200::/56", "associated", "ipv6pool-ec2-0123456789abcdef0")
    ]
    assert {"DestinationIpv6CidrBlock": "2001:db8:1200::/56", "GatewayId": "local"}.items() <= next(
        r for r in found["Routes"] if r.get("DestinationIpv6CidrBlock") == "2001:db8:1200::/56"
    ).items()


# --- patch: default_acl_allows_ipv6 ----------------------------------------------


def test_given_a_vpc_with_ipv6_then_its_default_acl_allows_ipv6_both_ways_unless_its_rules_were_changed(ec2_a):
    def ipv6_rules(vpc_id: str) -> list[tuple[int, bool, str]]:
        (acl,) = ec2_a.describe_network_acls(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default", "Values": ["true"]}]
        )["NetworkAcls"]
        return sorted((e["RuleNumber"], e["Egress"], e["RuleAction"])
                      for e in acl["Entries"] if e.get("Ipv6CidrBlock") == "::/0")

    created = ec2_a.create_vpc(CidrBlock="10.81.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    later = ec2_a.create_vpc(CidrBlock="10.82.0.0/16")["Vpc"]["VpcId"]
    ec2_a.associate_vpc_cidr_block(VpcId=later, AmazonProvidedIpv6CidrBlock=True)
    changed = ec2_a.create_vpc(CidrBlock="10.83.0.0/16")["Vpc"]["VpcId"]
    (acl,) = ec2_a.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [changed]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"]
    ec2_a.create_network_acl_entry(NetworkAclId=acl["NetworkAclId"], RuleNumber=50, Protocol="6",
                                   RuleAction="deny", Egress=False, CidrBlock="10.0.0.0/8",
                                   PortRange={"From": 22, "To": 22})
    ec2_a.associate_vpc_cidr_block(VpcId=changed, AmazonProvidedIpv6CidrBlock=True)

    both_ways = [(101, False, "allow"), (101, True, "allow"), (32768, False, "deny"), (32768, True, "deny")]
    assert ipv6_rules(created) == both_ways
    assert ipv6_rules(later) == both_ways
    assert ipv6_rules(changed) == [(101, True, "allow"), (32768, False, "deny"), (32768, True, "deny")]


# --- counters: the new actions ----------------------------------------------------


def test_given_association_and_propagation_calls_when_reading_calls_then_each_action_is_counted(
    endpoint, ec2_a, ec2_b, segmented_peering
):
    tgw_a, table_a, tgw_b, table_b, peering = segmented_peering
    _, vpc_attachment_id = attach_vpc(ec2_a, tgw_a)
    harness(endpoint, "POST", "calls/reset")

    associate(ec2_b, table_b, peering)
    associations(ec2_b, table_b)
    disassociate(ec2_b, table_b, peering)
    enable_propagation(ec2_a, table_a, vpc_attachment_id)
    propagations(ec2_a, table_a)
    ec2_a.disable_transit_gateway_route_table_propagation(
        TransitGatewayRouteTableId=table_a, TransitGatewayAttachmentId=vpc_attachment_id
    )
    with pytest.raises(ClientError):
        disassociate(ec2_b, table_b, peering)
    attachment_views(ec2_a, **by_tgw(tgw_a))

    calls = harness(endpoint, "GET", "calls")
    assert calls["byRegion"] == {
        ACCEPTER: {
            "AssociateTransitGatewayRouteTable": 1,
            "GetTransitGatewayRouteTableAssociations": 1,
            "DisassociateTransitGatewayRouteTable": 2,  # failed calls count too
        },
        REQUESTER: {
            "EnableTransitGatewayRouteTablePropagation": 1,
            "GetTransitGatewayRouteTablePropagations": 1,
            "DisableTransitGatewayRouteTablePropagation": 1,
            "DescribeTransitGatewayAttachments": 1,
        },
    }


# --- associations across accounts (issue 15) ------------------------------------


def test_given_accepted_cross_account_peering_when_each_account_reads_and_moves_its_association_then_only_its_own(
    ec2_a, ec2_peer, cross_account
):
    tgw_a, tgw_b = cross_account["tgw_a"], cross_account["tgw_b"]
    peering = create_cross_account_peering(ec2_a, tgw_a, tgw_b)["TransitGatewayAttachmentId"]
    ec2_peer.accept_transit_gateway_peering_attachment(TransitGatewayAttachmentId=peering)
    (tgw_b_described,) = ec2_peer.describe_transit_gateways(TransitGatewayIds=[tgw_b])["TransitGateways"]
    default_b = tgw_b_described["Options"]["AssociationDefaultRouteTableId"]
    own = ec2_peer.create_transit_gateway_route_table(TransitGatewayId=tgw_b)
    own = own["TransitGatewayRouteTable"]["TransitGatewayRouteTableId"]

    seen_by_b = attachment_views(ec2_peer, **by_tgw(tgw_b))[peering]
    disassociate(ec2_peer, default_b, peering)
    moved = associate(ec2_peer, own, peering)

    assert seen_by_b["Association"] == {"TransitGatewayRouteTableId": default_b, "State": "associated"}
    assert (seen_by_b["TransitGatewayId"], seen_by_b["TransitGatewayOwnerId"]) == (tgw_b, PEER_ACCOUNT)
    assert (seen_by_b["ResourceId"], seen_by_b["ResourceOwnerId"]) == (tgw_a, ACCOUNT)
    assert (moved["TransitGatewayRouteTableId"], moved["ResourceId"]) == (own, tgw_a)
    assert associations(ec2_peer, default_b) == []
    seen_by_a = attachment_views(ec2_a, **by_tgw(tgw_a))[peering]
    (tgw_a_described,) = ec2_a.describe_transit_gateways(TransitGatewayIds=[tgw_a])["TransitGateways"]
    assert seen_by_a["Association"]["TransitGatewayRouteTableId"] == tgw_a_described["Options"][
        "AssociationDefaultRouteTableId"
    ]  # the requester's side is untouched
    assert (seen_by_a["TransitGatewayOwnerId"], seen_by_a["ResourceOwnerId"]) == (ACCOUNT, PEER_ACCOUNT)
    assert attachment_views(cross_account["a_in_accepter_region"]) == {}
