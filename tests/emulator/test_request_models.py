"""Requests checked against the API model (request_models.py, ec2_filters.py).

The checks themselves are tested on the module's functions (no server); the server tests send raw
requests (boto3 validates its own requests, and cannot send an unknown member) and fail with the
patch `requests_match_the_api_model` skipped, since moto then answers them.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import ec2_filters
import request_models
from request_models import ec2_refusal, ec2_violations, json_message, json_violations, query_violations
from test_harness import REQUESTER, endpoint  # noqa: F401  (a fixture, found by name)

PERMISSIONS = Path(__file__).resolve().parents[2] / "cloudformation" / "function-permissions.json"
TGW_ID = "tgw-0123456789abcdef0"
TABLE_ID = "tgw-rtb-0123456789abcdef0"


def ec2_error(action: str, **params: str) -> tuple[str, str] | None:
    """EC2's (code, message) for the first thing this request breaks, else None."""
    found = ec2_violations(action, {"Action": action, "Version": "2016-11-15", **params})
    return ec2_refusal(found[0]) if found else None


# --- EC2: the checks --------------------------------------------------------------------------------


def test_given_a_valid_request_when_checked_then_it_passes():
    # Given a search with its required members, a documented filter and MaxResults in range
    params = {"TransitGatewayRouteTableId": TABLE_ID, "Filter.1.Name": "type",
              "Filter.1.Value.1": "static", "Filter.2.Name": "route-search.exact-match",
              "Filter.2.Value.1": "10.0.0.0/16", "MaxResults": "1000", "DryRun": "false"}

    # When checked, then nothing is refused
    assert ec2_error("SearchTransitGatewayRoutes", **params) is None


def test_given_an_unknown_member_when_checked_then_unknown_parameter():
    # Given DescribeTransitGateways with a parameter its model does not have
    # When checked
    error = ec2_error("DescribeTransitGateways", TransitGatewayId="tgw-1")

    # Then UnknownParameter, naming it
    assert error == ("UnknownParameter", "The parameter TransitGatewayId is not recognized")


def test_given_an_unknown_nested_key_when_checked_then_unknown_parameter():
    # Given a filter with a key Filter does not have (Value, not Values, is its member's key)
    error = ec2_error("DescribeVpcs", **{"Filter.1.Name": "vpc-id", "Filter.1.Values.1": "vpc-1"})

    # Then the key is refused, though Filter.1.Name is known
    assert error == ("UnknownParameter", "The parameter Values is not recognized")


def test_given_list_keys_when_checked_then_named_by_location_name_else_member_name():
    # DescribeVpcs' VpcIds has locationName VpcId; DescribeTransitGateways' TransitGatewayIds has none
    assert ec2_error("DescribeVpcs", **{"VpcId.1": "vpc-1", "VpcId.2": "vpc-2"}) is None
    assert ec2_error("DescribeVpcs", **{"VpcIds.1": "vpc-1"}) == (
        "UnknownParameter", "The parameter VpcIds is not recognized"
    )
    assert ec2_error("DescribeTransitGateways", **{"TransitGatewayIds.1": TGW_ID}) is None


def test_given_a_missing_required_member_when_checked_then_missing_parameter():
    # Given a search without its route table (required by the model)
    error = ec2_error("SearchTransitGatewayRoutes", **{"Filter.1.Name": "type", "Filter.1.Value.1": "static"})

    # Then MissingParameter, naming it
    assert error == ("MissingParameter", "The request must contain the parameter TransitGatewayRouteTableId")


def test_given_a_value_outside_its_enum_when_checked_then_invalid_parameter_value():
    # Given a tag specification for a resource type EC2 does not have
    error = ec2_error(
        "CreateTransitGatewayPeeringAttachment", TransitGatewayId=TGW_ID, PeerTransitGatewayId="tgw-2",
        PeerAccountId="123456789012", PeerRegion="eu-west-1",
        **{"TagSpecification.1.ResourceType": "peering", "TagSpecification.1.Tag.1.Key": "k"},
    )

    # Then InvalidParameterValue for that key
    assert error[0] == "InvalidParameterValue"
    assert error[1].startswith("Value (peering) for parameter TagSpecification.1.ResourceType is invalid.")


@pytest.mark.parametrize(("action", "value", "bound"), [
    ("DescribeTransitGateways", "4", "greater than or equal to 5"),
    ("DescribeTransitGateways", "1001", "less than or equal to 1000"),
    ("DescribeRouteTables", "101", "less than or equal to 100"),
])
def test_given_max_results_out_of_range_when_checked_then_invalid_parameter_value(action, value, bound):
    # Given MaxResults outside the model's min/max (5..1000 for TGW describes, 5..100 for route tables)
    # When checked
    error = ec2_error(action, MaxResults=value)

    # Then InvalidParameterValue naming the value and the bound
    assert error[0] == "InvalidParameterValue"
    assert f"Value ({value}) for parameter MaxResults is invalid" in error[1] and bound in error[1]


@pytest.mark.parametrize(("action", "value"), [
    ("DescribeTransitGateways", "5"), ("DescribeTransitGateways", "1000"), ("DescribeRouteTables", "100"),
])
def test_given_max_results_at_its_bounds_when_checked_then_it_passes(action, value):
    assert ec2_error(action, MaxResults=value) is None


def test_given_an_unknown_filter_name_when_checked_then_invalid_parameter_value():
    # Given a filter DescribeTransitGatewayRouteTables does not document (vpc-id is another action's)
    error = ec2_error("DescribeTransitGatewayRouteTables", **{"Filter.1.Name": "vpc-id", "Filter.1.Value.1": "v"})

    # Then InvalidParameterValue, as EC2 answers an unknown filter
    assert error == ("InvalidParameterValue", "The filter 'vpc-id' is invalid")


def test_given_a_tag_filter_when_checked_then_taken_where_documented_and_refused_for_routes():
    tag = {"Filter.1.Name": "tag:managed-by", "Filter.1.Value.1": "tgw-peering"}

    assert ec2_error("DescribeVpcs", **tag) is None
    assert ec2_error("DescribeTransitGatewayPeeringAttachments", **tag) is None
    assert ec2_error("SearchTransitGatewayRoutes", TransitGatewayRouteTableId=TABLE_ID, **tag)[0] == (
        "InvalidParameterValue"
    )


def test_given_a_non_numeric_max_results_when_checked_then_invalid_parameter_value():
    assert ec2_error("DescribeVpcs", MaxResults="ten")[0] == "InvalidParameterValue"


# --- EC2: the filter table ----------------------------------------------------------------------------


def _documented_filter_names(action: str) -> set[str]:
    """The filter names botocore's model documents for the action's Filters member (the same text
    as the API reference page)."""
    doc = request_models.operation_model("ec2", action).input_shape.members["Filters"].documentation
    return {name.strip() for name in re.findall(r"<li>\s*<p>\s*<code>([^<]+)</code>", doc)} - {"tag"}


def _described_actions() -> set[str]:
    permissions = json.loads(PERMISSIONS.read_text())
    calls = {c for role in permissions.values() if isinstance(role, dict) for c in role.get("calls", [])}
    return {c for c in calls if "Filters" in request_models.operation_model("ec2", c).input_shape.members}


def test_every_action_the_functions_call_with_filters_has_a_row_with_its_reference_page():
    assert set(ec2_filters.FILTERS) == _described_actions()
    for action, row in ec2_filters.FILTERS.items():
        assert row.source == f"https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_{action}.html"


@pytest.mark.parametrize("action", sorted(ec2_filters.FILTERS))
def test_each_row_holds_every_filter_name_the_model_documents(action):
    assert _documented_filter_names(action) <= ec2_filters.FILTERS[action].names


# --- JSON protocol: DynamoDB, Step Functions ---------------------------------------------------------------


def test_given_a_valid_dynamodb_request_when_checked_then_it_passes():
    request = {"TableName": "tgw-peering-state", "Key": {"pk": {"S": "lock#a"}},
               "ConsistentRead": True, "ReturnConsumedCapacity": "NONE"}
    assert json_violations("dynamodb", "GetItem", request) == []


def test_given_dynamodb_requests_breaking_the_model_when_checked_then_validation_message_as_coral_words_it():
    # Given a GetItem without its key, a Query with Limit 0 and a PutItem with a bad enum
    no_key = json_violations("dynamodb", "GetItem", {"TableName": "state"})
    no_limit = json_violations("dynamodb", "Query", {"TableName": "state", "Limit": 0})
    bad_enum = json_violations("dynamodb", "PutItem", {"TableName": "state", "Item": {}, "ReturnValues": "ALL"})

    # Then DynamoDB's validation messages
    assert json_message(no_key) == (
        "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null"
    )
    assert json_message(no_limit) == (
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    assert "at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set" in json_message(bad_enum)


def test_given_a_step_functions_request_without_its_arn_when_checked_then_refused():
    assert json_message(json_violations("states", "DescribeExecution", {})).startswith(
        "1 validation error detected: Value null at 'executionArn'"
    )


# --- through the server ------------------------------------------------------------------------------------


def _post(endpoint: str, service: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    scope = f"Credential=testing/20250101/{REQUESTER}/{service}/aws4_request"
    request = urllib.request.Request(endpoint, data=body, method="POST", headers={
        "Authorization": f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _ec2(endpoint: str, **params: str) -> tuple[int, str | None]:
    form = urllib.parse.urlencode({"Version": "2016-11-15", **params}).encode()
    status, body = _post(endpoint, "ec2", form, {"Content-Type": "application/x-www-form-urlencoded"})
    code = ET.fromstring(body).findtext(".//Error/Code") if status != 200 else None
    return status, code


def test_given_the_server_when_ec2_requests_break_the_model_then_refused_as_ec2_refuses_them(endpoint):
    # Given the emulator (with requests_match_the_api_model)
    # When EC2 requests break the model, and a valid one is sent
    unknown = _ec2(endpoint, Action="DescribeTransitGateways", Bogus="1")
    low = _ec2(endpoint, Action="DescribeTransitGateways", MaxResults="4")
    high = _ec2(endpoint, Action="DescribeTransitGateways", MaxResults="1001")
    bad_filter = _ec2(endpoint, Action="DescribeTransitGateways", **{"Filter.1.Name": "bogus", "Filter.1.Value.1": "x"})
    missing = _ec2(endpoint, Action="SearchTransitGatewayRoutes", **{"Filter.1.Name": "type", "Filter.1.Value.1": "static"})
    valid = _ec2(endpoint, Action="DescribeTransitGateways", MaxResults="5")

    # Then each is refused with HTTP 400 and EC2's code; the valid one reaches moto
    assert unknown == (400, "UnknownParameter")
    assert low == high == bad_filter == (400, "InvalidParameterValue")
    assert missing == (400, "MissingParameter")
    assert valid == (200, None)


def test_given_the_server_when_a_dynamodb_request_breaks_the_model_then_validation_exception(endpoint):
    # When ListTables asks for 101 names (the model's Limit is 1..100), and then for 100
    def list_tables(limit: int) -> tuple[int, dict]:
        status, answer = _post(endpoint, "dynamodb", json.dumps({"Limit": limit}).encode(), {
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.ListTables"})
        return status, json.loads(answer)

    too_many, in_range = list_tables(101), list_tables(100)

    # Then DynamoDB's ValidationException (moto lists the tables), and the valid one is answered
    assert too_many == (400, {
        "__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
        "message": "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: "
                   "Member must have value less than or equal to 100",
    })
    assert in_range[0] == 200


# --- Query protocol: STS ------------------------------------------------------------------------------------

ROLE = "arn:aws:iam::111122223333:role/tgw-peering-accepter"


def test_given_a_valid_assume_role_when_checked_then_it_passes():
    params = {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": ROLE,
              "RoleSessionName": "tgw-peering", "DurationSeconds": "900",
              "Tags.member.1.Key": "k", "Tags.member.1.Value": "v"}
    assert query_violations("sts", "AssumeRole", params) == []


def test_given_assume_role_breaking_the_model_when_checked_then_sts_validation_messages():
    # Given a session name with a slash, and a request without one and with a 3-letter role ARN
    slash = query_violations("sts", "AssumeRole", {"RoleArn": ROLE, "RoleSessionName": "a/b"})
    short = query_violations("sts", "AssumeRole", {"RoleArn": "arn", "Bogus": "1"})

    # Then STS's ValidationError messages (every violation, as STS lists them)
    assert json_message(slash) == (
        "1 validation error detected: Value 'a/b' at 'roleSessionName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]*"
    )
    assert json_message(short).startswith("3 validation errors detected: Value '1' at 'Bogus'")
    assert "Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null" in json_message(short)


def test_given_an_empty_list_in_query_form_when_checked_then_it_is_an_empty_list():
    assert ec2_error("DescribeVpcs", Filter="") is None


def test_given_the_server_when_assume_role_breaks_the_model_then_validation_error(endpoint):
    # When AssumeRole names a session with a slash (the model's pattern is [\w+=,.@-]*)
    form = urllib.parse.urlencode({"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": ROLE,
                                   "RoleSessionName": "a/b"}).encode()
    status, body = _post(endpoint, "sts", form, {"Content-Type": "application/x-www-form-urlencoded"})

    # Then STS's ValidationError, type Sender
    error = ET.fromstring(body).find("{https://sts.amazonaws.com/doc/2011-06-15/}Error")
    assert status == 400
    assert [child.text for child in error][:2] == ["Sender", "ValidationError"]
