"""iam_requests.py: the authorizations a request needs, from its parameters and a stand-in for
moto's state; the ARN formats and resource types come from the Service Authorization Reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from iam_policy import evaluate
from iam_requests import Request, Unmapped, authorizations

ACCOUNT = "123456789012"
REGION = "us-east-1"
PERMISSIONS = Path(__file__).resolve().parents[2] / "cloudformation" / "function-permissions.json"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/stack-ModifyRoutesRole-X/stack-ModifyRoutes"


def ec2_arn(kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:{kind}/{resource_id}"


class FakeState:
    def __init__(self, tags: dict[str, dict[str, str]] | None = None, hash_key: str = "pk") -> None:
        self.tags = tags or {}
        self.hash_key = hash_key

    def ec2_tags(self, resource_id: str) -> dict[str, str]:
        return self.tags.get(resource_id, {})

    def dynamodb_hash_key(self, table_name: str) -> str:
        return self.hash_key


def build(service: str, operation: str, params: dict, state: FakeState | None = None, region: str = REGION):
    request = Request(service, operation, params, region, ACCOUNT, SESSION)
    return authorizations(request, state or FakeState())


# Representative parameters for every EC2 call the functions make (function-permissions.json).
EC2_PARAMETERS = {
    "AcceptTransitGatewayPeeringAttachment": {"TransitGatewayAttachmentId": "tgw-attach-1"},
    "AssociateTransitGatewayRouteTable": {"TransitGatewayAttachmentId": "tgw-attach-1", "TransitGatewayRouteTableId": "tgw-rtb-1"},
    "CreateRoute": {"RouteTableId": "rtb-1", "DestinationCidrBlock": "10.1.0.0/16", "TransitGatewayId": "tgw-1"},
    "CreateTags": {"ResourceId.1": "tgw-rtb-1", "Tag.1.Key": "tgw-peering:routes:x", "Tag.1.Value": "1"},
    "CreateTransitGatewayPeeringAttachment": {
        "TransitGatewayId": "tgw-1", "PeerTransitGatewayId": "tgw-2", "PeerAccountId": ACCOUNT, "PeerRegion": "eu-west-1",
        "TagSpecification.1.ResourceType": "transit-gateway-attachment",
        "TagSpecification.1.Tag.1.Key": "tgw-peering:managed-by", "TagSpecification.1.Tag.1.Value": "tgw-peering",
    },
    "CreateTransitGatewayRoute": {"TransitGatewayRouteTableId": "tgw-rtb-1", "DestinationCidrBlock": "10.1.0.0/16", "TransitGatewayAttachmentId": "tgw-attach-1"},
    "DeleteRoute": {"RouteTableId": "rtb-1", "DestinationCidrBlock": "10.1.0.0/16"},
    "DeleteTags": {"ResourceId.1": "rtb-1", "Tag.1.Key": "tgw-peering:routes:x"},
    "DeleteTransitGatewayPeeringAttachment": {"TransitGatewayAttachmentId": "tgw-attach-1"},
    "DeleteTransitGatewayRoute": {"TransitGatewayRouteTableId": "tgw-rtb-1", "DestinationCidrBlock": "10.1.0.0/16"},
    "DisableTransitGatewayRouteTablePropagation": {"TransitGatewayRouteTableId": "tgw-rtb-1", "TransitGatewayAttachmentId": "tgw-attach-2"},
    "DisassociateTransitGatewayRouteTable": {"TransitGatewayAttachmentId": "tgw-attach-1", "TransitGatewayRouteTableId": "tgw-rtb-1"},
    "EnableTransitGatewayRouteTablePropagation": {"TransitGatewayRouteTableId": "tgw-rtb-1", "TransitGatewayAttachmentId": "tgw-attach-2"},
    "GetTransitGatewayRouteTablePropagations": {"TransitGatewayRouteTableId": "tgw-rtb-1"},
    "GetManagedPrefixListEntries": {"PrefixListId": "pl-1"},
    "SearchTransitGatewayRoutes": {"TransitGatewayRouteTableId": "tgw-rtb-1", "Filter.1.Name": "type", "Filter.1.Value.1": "static"},
}


def every_ec2_call() -> list[str]:
    permissions = json.loads(PERMISSIONS.read_text())
    return sorted(
        {a for name, f in permissions.items() if not name.startswith("_") for a in f["calls"] + f["iamOnly"]}
    )


@pytest.mark.parametrize("operation", every_ec2_call())
def test_given_each_ec2_call_the_functions_make_when_mapping_then_every_authorization_names_resources(operation):
    found = build("ec2", operation, EC2_PARAMETERS.get(operation, {}))
    assert found and all(a.resources for a in found)
    assert all(a.context["aws:RequestedRegion"] == REGION for a in found)


def test_given_create_transit_gateway_route_via_an_attachment_when_mapping_then_the_table_and_the_attachment():
    (found,) = build("ec2", "CreateTransitGatewayRoute", EC2_PARAMETERS["CreateTransitGatewayRoute"])
    assert found.action == "ec2:CreateTransitGatewayRoute"
    assert found.resources == (ec2_arn("transit-gateway-route-table", "tgw-rtb-1"), ec2_arn("transit-gateway-attachment", "tgw-attach-1"))


def test_given_a_blackhole_route_when_mapping_then_only_the_table():
    (found,) = build("ec2", "CreateTransitGatewayRoute", {"TransitGatewayRouteTableId": "tgw-rtb-1", "Blackhole": "true"})
    assert found.resources == (ec2_arn("transit-gateway-route-table", "tgw-rtb-1"),)


def test_given_a_write_without_its_required_resource_when_mapping_then_unmapped():
    with pytest.raises(Unmapped):
        build("ec2", "CreateTransitGatewayRoute", {"DestinationCidrBlock": "10.0.0.0/16"})


@pytest.mark.parametrize("operation", ["DescribeVpcs", "DescribeTransitGatewayAttachments", "GetTransitGatewayRouteTablePropagations"])
def test_given_an_action_with_no_resource_types_when_mapping_then_star_and_ec2_region(operation):
    (found,) = build("ec2", operation, EC2_PARAMETERS.get(operation, {}))
    assert found.resources == ("*",)
    assert found.context["ec2:Region"] == REGION


def test_given_create_tags_on_several_resources_when_mapping_then_one_arn_per_id_by_its_prefix():
    params = {"ResourceId.1": "rtb-9", "ResourceId.2": "tgw-rtb-1", "ResourceId.3": "tgw-attach-1",
              "Tag.1.Key": "tgw-peering:routes:a", "Tag.1.Value": "x", "Tag.2.Key": "b", "Tag.2.Value": "y"}
    (found,) = build("ec2", "CreateTags", params, FakeState({"rtb-9": {"owner": "me"}}))
    assert found.resources == (
        ec2_arn("route-table", "rtb-9"), ec2_arn("transit-gateway-route-table", "tgw-rtb-1"),
        ec2_arn("transit-gateway-attachment", "tgw-attach-1"),
    )
    table = found.resource_contexts[ec2_arn("route-table", "rtb-9")]
    assert table["aws:TagKeys"] == ["tgw-peering:routes:a", "b"]
    assert table["aws:RequestTag/b"] == "y"
    assert table["aws:ResourceTag/owner"] == table["ec2:ResourceTag/owner"] == "me"
    assert "ec2:CreateAction" not in found.context


def test_given_create_tags_on_an_id_of_unknown_kind_when_mapping_then_unmapped():
    with pytest.raises(Unmapped):
        build("ec2", "CreateTags", {"ResourceId.1": "i-123", "Tag.1.Key": "k", "Tag.1.Value": "v"})


def test_given_delete_tags_with_keys_only_when_mapping_then_tag_keys_but_no_request_tags():
    (found,) = build("ec2", "DeleteTags", EC2_PARAMETERS["DeleteTags"])
    context = found.resource_contexts[ec2_arn("route-table", "rtb-1")]
    assert context == {"aws:TagKeys": ["tgw-peering:routes:x"]}


def test_given_delete_tags_without_tags_when_mapping_then_no_tag_keys_in_the_context():
    (found,) = build("ec2", "DeleteTags", {"ResourceId.1": "rtb-1"})
    assert "aws:TagKeys" not in found.resource_contexts[ec2_arn("route-table", "rtb-1")]


def test_given_a_tagged_create_when_mapping_then_the_create_and_an_implicit_create_tags():
    create, tagging = build("ec2", "CreateTransitGatewayPeeringAttachment",
                            EC2_PARAMETERS["CreateTransitGatewayPeeringAttachment"],
                            FakeState({"tgw-1": {"Name": "hub"}}))
    new_attachment = ec2_arn("transit-gateway-attachment", "*")
    assert create.action == "ec2:CreateTransitGatewayPeeringAttachment"
    assert create.resources == (ec2_arn("transit-gateway", "tgw-1"), new_attachment)
    assert create.resource_contexts[new_attachment] == {
        "aws:TagKeys": ["tgw-peering:managed-by"], "aws:RequestTag/tgw-peering:managed-by": "tgw-peering"}
    # The gateway carries its own tags, not the request's (the reference lists no RequestTag for it).
    assert create.resource_contexts[ec2_arn("transit-gateway", "tgw-1")] == {
        "aws:ResourceTag/Name": "hub", "ec2:ResourceTag/Name": "hub"}
    assert tagging.action == "ec2:CreateTags"
    assert tagging.resources == (new_attachment,)
    assert tagging.context["ec2:CreateAction"] == "CreateTransitGatewayPeeringAttachment"
    assert tagging.resource_contexts[new_attachment]["aws:RequestTag/tgw-peering:managed-by"] == "tgw-peering"


def test_given_an_untagged_create_when_mapping_then_no_create_tags():
    params = {k: v for k, v in EC2_PARAMETERS["CreateTransitGatewayPeeringAttachment"].items() if "Tag" not in k}
    assert [a.action for a in build("ec2", "CreateTransitGatewayPeeringAttachment", params)] == [
        "ec2:CreateTransitGatewayPeeringAttachment"]


def test_given_a_tagged_peering_create_when_evaluating_the_templates_grant_then_both_decisions_allow():
    grant = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:CreateTransitGatewayPeeringAttachment",
         "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT}:transit-gateway-attachment/*",
         "Condition": {"StringEquals": {"aws:RequestTag/tgw-peering:managed-by": "tgw-peering"}}},
        {"Effect": "Allow", "Action": "ec2:CreateTransitGatewayPeeringAttachment",
         "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT}:transit-gateway/*"},
        {"Effect": "Allow", "Action": "ec2:CreateTags",
         "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT}:transit-gateway-attachment/*",
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateTransitGatewayPeeringAttachment"}}},
    ]}
    found = build("ec2", "CreateTransitGatewayPeeringAttachment", EC2_PARAMETERS["CreateTransitGatewayPeeringAttachment"])
    verdicts = [evaluate([grant], a.action, a.resources, a.context, a.resource_contexts) for a in found]
    assert [v.allowed for v in verdicts] == [True, True]
    # Without the tag on creation, the create is refused on the attachment.
    untagged = {k: v for k, v in EC2_PARAMETERS["CreateTransitGatewayPeeringAttachment"].items() if "Tag" not in k}
    (create,) = build("ec2", "CreateTransitGatewayPeeringAttachment", untagged)
    verdict = evaluate([grant], create.action, create.resources, create.context, create.resource_contexts)
    assert verdict.resource == ec2_arn("transit-gateway-attachment", "*") and not verdict.allowed


def test_given_a_delete_of_a_tagged_attachment_when_mapping_then_its_tags_are_resource_tags():
    state = FakeState({"tgw-attach-1": {"tgw-peering:managed-by": "tgw-peering"}})
    (found,) = build("ec2", "DeleteTransitGatewayPeeringAttachment", EC2_PARAMETERS["DeleteTransitGatewayPeeringAttachment"], state)
    context = found.resource_contexts[ec2_arn("transit-gateway-attachment", "tgw-attach-1")]
    assert context["aws:ResourceTag/tgw-peering:managed-by"] == "tgw-peering"


def test_given_an_ec2_action_the_reference_does_not_know_when_mapping_then_unmapped():
    with pytest.raises(Unmapped):
        build("ec2", "CreateTransitGatewayRoutes", {"TransitGatewayRouteTableId": "tgw-rtb-1"})


def test_given_tag_specifications_on_a_call_that_creates_nothing_when_mapping_then_unmapped():
    params = {**EC2_PARAMETERS["AcceptTransitGatewayPeeringAttachment"], "TagSpecification.1.ResourceType": "vpc"}
    with pytest.raises(Unmapped):
        build("ec2", "AcceptTransitGatewayPeeringAttachment", params)


def test_given_a_session_when_mapping_then_the_principal_is_its_role():
    (found,) = build("ec2", "DescribeVpcs", {})
    assert found.context["aws:PrincipalArn"] == f"arn:aws:iam::{ACCOUNT}:role/stack-ModifyRoutesRole-X"
    assert found.context["aws:PrincipalAccount"] == ACCOUNT


# --- DynamoDB ---------------------------------------------------------------------------------

TABLE = "stack-StateTable-1"
TABLE_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"


def test_given_a_query_when_mapping_then_the_table_and_its_partition_key_as_leading_keys():
    body = {"TableName": TABLE, "KeyConditionExpression": "#pk = :pk", "ExpressionAttributeNames": {"#pk": "pk"},
            "ExpressionAttributeValues": {":pk": {"S": "routes#us-east-1#tgw-attach-1"}}, "ConsistentRead": True}
    (found,) = build("dynamodb", "Query", body)
    assert (found.action, found.resources) == ("dynamodb:Query", (TABLE_ARN,))
    assert found.context["dynamodb:LeadingKeys"] == ["routes#us-east-1#tgw-attach-1"]


def test_given_a_query_with_a_sort_key_condition_when_mapping_then_the_partition_key_still_found():
    body = {"TableName": TABLE, "KeyConditionExpression": "sk > :s AND pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "routes#a"}, ":s": {"S": "0"}}}
    (found,) = build("dynamodb", "Query", body)
    assert found.context["dynamodb:LeadingKeys"] == ["routes#a"]


def test_given_a_query_whose_partition_key_cannot_be_read_when_mapping_then_unmapped():
    with pytest.raises(Unmapped):
        build("dynamodb", "Query", {"TableName": TABLE, "KeyConditionExpression": "begins_with(pk, :p)",
                                    "ExpressionAttributeValues": {":p": {"S": "r"}}})


def test_given_a_transaction_when_mapping_then_one_item_action_per_item_each_with_its_leading_key():
    body = {"TransactItems": [
        {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "routes#a"}, "sk": {"S": "1"}, "cidrs": {"S": "x"}}}},
        {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "routes#b"}, "sk": {"S": "2"}}}},
    ]}
    found = build("dynamodb", "TransactWriteItems", body)
    assert [(a.action, a.resources, a.context["dynamodb:LeadingKeys"]) for a in found] == [
        ("dynamodb:PutItem", (TABLE_ARN,), ["routes#a"]), ("dynamodb:DeleteItem", (TABLE_ARN,), ["routes#b"])]
    assert {a.context["dynamodb:EnclosingOperation"] for a in found} == {"TransactWriteItems"}


def test_given_a_transaction_item_of_unknown_kind_when_mapping_then_unmapped():
    with pytest.raises(Unmapped):
        build("dynamodb", "TransactWriteItems", {"TransactItems": [{"Upsert": {"TableName": TABLE}}]})


@pytest.mark.parametrize("operation", ["PutItem", "GetItem", "UpdateItem", "DeleteItem"])
def test_given_a_single_item_call_when_mapping_then_its_key_is_the_leading_key(operation):
    member = "Item" if operation == "PutItem" else "Key"
    (found,) = build("dynamodb", operation, {"TableName": TABLE, member: {"pk": {"S": "lock#1"}, "sk": {"S": "lock"}}})
    assert (found.action, found.context["dynamodb:LeadingKeys"]) == (f"dynamodb:{operation}", ["lock#1"])


def test_given_a_dynamodb_operation_not_mapped_when_mapping_then_unmapped():
    with pytest.raises(Unmapped):
        build("dynamodb", "Scan", {"TableName": TABLE})


# --- STS, SNS, Step Functions, CloudWatch, others -----------------------------------------------


def test_given_assume_role_when_mapping_then_the_resource_is_the_role_arn():
    role = "arn:aws:iam::111122223333:role/tgw-peering-passive"
    (found,) = build("sts", "AssumeRole", {"RoleArn": role, "RoleSessionName": "peer"})
    assert (found.action, found.resources) == ("sts:AssumeRole", (role,))
    assert found.context["sts:RoleSessionName"] == "peer"


def test_given_publish_when_mapping_then_the_topic():
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:notices"
    assert build("sns", "Publish", {"TopicArn": topic, "Message": "m"})[0].resources == (topic,)


def test_given_step_functions_calls_when_mapping_then_the_state_machine_or_execution():
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:sm"
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:run"
    assert build("states", "StartExecution", {"stateMachineArn": machine})[0].resources == (machine,)
    assert build("states", "DescribeExecution", {"executionArn": execution})[0].resources == (execution,)


def test_given_put_metric_data_when_mapping_then_star_and_the_namespace():
    (found,) = build("cloudwatch", "PutMetricData", {"Namespace": "tgw-peering"})
    assert found.resources == ("*",) and found.context["cloudwatch:namespace"] == "tgw-peering"


def test_given_any_action_the_reference_lists_with_star_only_when_mapping_then_star():
    (found,) = build("dynamodb", "ListTables", {})
    assert (found.action, found.resources) == ("dynamodb:ListTables", ("*",))


@pytest.mark.parametrize(("service", "operation"), [("lambda", "Invoke"), ("iam", "CreateRole"), ("sns", "Subscribe")])
def test_given_a_call_not_mapped_when_mapping_then_unmapped(service, operation):
    with pytest.raises(Unmapped):
        build(service, operation, {})


def test_given_a_create_call_when_mapping_then_the_new_resource_is_star_and_named_ones_are_existing():
    params = {"VpcId": "vpc-1", "TransitGatewayId": "tgw-1", "SubnetIds.1": "subnet-1", "SubnetIds.2": "subnet-2"}
    (found,) = build("ec2", "CreateTransitGatewayVpcAttachment", params)
    assert set(found.resources) == {
        ec2_arn("subnet", "subnet-1"), ec2_arn("subnet", "subnet-2"), ec2_arn("transit-gateway", "tgw-1"),
        ec2_arn("transit-gateway-attachment", "*"), ec2_arn("vpc", "vpc-1"),
    }


def test_given_a_create_call_missing_a_required_existing_resource_when_mapping_then_unmapped():
    with pytest.raises(Unmapped):
        build("ec2", "CreateSubnet", {"CidrBlock": "10.0.0.0/24"})
