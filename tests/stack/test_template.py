"""The template's IAM, read straight from cloudformation/transit-gateway-peering.yaml: each function's
role grants exactly the EC2 actions cloudformation/function-permissions.json lists (which
tests/it/permissions.rs checks against the calls the functions really make), with no wildcard actions
and every mutating action scoped to resources, and where IAM allows it, to this tool's tag."""

from __future__ import annotations

import json
import re

import pytest
from cfnlint.decode import decode
from stack_support import ROOT, TEMPLATE

ROLE_OF = {"peer": "PeerRole", "get-status": "GetStatusRole", "modify-routes": "ModifyRoutesRole"}
FUNCTION_OF = {"peer": "PeerFunction", "get-status": "GetStatusFunction", "modify-routes": "ModifyRoutesFunction"}
READ_ONLY_PREFIXES = ("Describe", "Search", "Get", "List")


def template() -> dict:
    parsed, errors = decode(str(TEMPLATE))
    assert not errors, errors
    return parsed


def policies(role: dict) -> list[dict]:
    """The role's inline policies; a conditional one (Fn::If with AWS::NoValue) counts as granted."""
    found = []
    for policy in role["Properties"]["Policies"]:
        if "Fn::If" in policy:
            found.extend(branch for branch in policy["Fn::If"][1:] if isinstance(branch, dict) and "PolicyDocument" in branch)
        else:
            found.append(policy)
    return found


def statements(role: dict) -> list[dict]:
    found = []
    for policy in policies(role):
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def declared() -> dict:
    return json.loads((ROOT / "cloudformation/function-permissions.json").read_text())


@pytest.mark.parametrize("function", sorted(ROLE_OF))
def test_each_role_grants_exactly_the_ec2_actions_its_function_needs(function):
    resources = template()["Resources"]
    role = resources[ROLE_OF[function]]
    granted = {a.removeprefix("ec2:") for s in statements(role) for a in as_list(s["Action"])
               if a.startswith("ec2:")}
    wanted = declared()[function]
    assert granted == set(wanted["calls"]) | set(wanted["iamOnly"])
    assert resources[FUNCTION_OF[function]]["Properties"]["Role"] == {"Fn::GetAtt": [ROLE_OF[function], "Arn"]}


def test_no_statement_in_the_template_grants_a_wildcard_action():
    for name, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in statements(resource):
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{name} grants {action}"


@pytest.mark.parametrize("function", sorted(ROLE_OF))
def test_every_mutating_ec2_action_is_scoped_to_resources_not_star(function):
    role = template()["Resources"][ROLE_OF[function]]
    for statement in statements(role):
        actions = [a for a in as_list(statement["Action"]) if a.startswith("ec2:")]
        if any(not a.removeprefix("ec2:").startswith(READ_ONLY_PREFIXES) for a in actions):
            assert "*" not in as_list(statement["Resource"]), statement


def test_creating_and_deleting_peerings_requires_this_tools_tag():
    role = template()["Resources"]["PeerRole"]
    conditions = {}
    for statement in statements(role):
        for action in as_list(statement["Action"]):
            conditions.setdefault(action, []).append(statement.get("Condition", {}))
    tag = {"tgw-peering:managed-by": "tgw-peering"}

    def keys(condition: dict) -> dict:
        return {k.split("/", 1)[1]: v for k, v in condition.get("StringEquals", {}).items() if "/" in k}

    # In the mesh Regions the same conditions hold, and the Region is one of MeshRegions.
    in_mesh = {"aws:RequestedRegion": {"Ref": "MeshRegions"}}
    assert any(keys(c) == tag for c in conditions["ec2:CreateTransitGatewayPeeringAttachment"])
    assert [keys(c) for c in conditions["ec2:DeleteTransitGatewayPeeringAttachment"]] == [tag, tag]
    assert conditions["ec2:CreateTags"] == [
        {"StringEquals": {"ec2:CreateAction": "CreateTransitGatewayPeeringAttachment"}},
        {"StringEquals": {"ec2:CreateAction": "CreateTransitGatewayPeeringAttachment", **in_mesh}}]


def test_the_state_machine_may_invoke_only_the_three_functions():
    role = template()["Resources"]["StateMachineRole"]
    invoke = [s for s in statements(role) if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert len(invoke) == 1
    assert invoke[0]["Resource"] == [{"Fn::GetAtt": [f, "Arn"]} for f in
                                     ("PeerFunction", "GetStatusFunction", "ModifyRoutesFunction")]


PASSIVE_TEMPLATE = ROOT / "cloudformation/passive-account-role.yaml"


def passive_template() -> dict:
    parsed, errors = decode(str(PASSIVE_TEMPLATE))
    assert not errors, errors
    return parsed


@pytest.mark.parametrize("function", sorted(ROLE_OF))
def test_each_function_may_assume_only_the_roles_the_stack_names_and_only_when_it_names_them(function):
    role = template()["Resources"][ROLE_OF[function]]
    conditional = [p for p in role["Properties"]["Policies"] if "Fn::If" in p]
    assert [p["Fn::If"][0] for p in conditional if p["Fn::If"][0] != "HasMeshRegions"] == [
        "HasPassiveRole", "HasMeshRoles"]
    assert all(p["Fn::If"][2] == {"Ref": "AWS::NoValue"} for p in conditional)
    sts = [s for s in statements(role) if any(a.startswith("sts:") for a in as_list(s["Action"]))]
    assert [(s["Action"], s["Resource"]) for s in sts] == [
        ("sts:AssumeRole", {"Ref": "PassiveRoleArn"}), ("sts:AssumeRole", {"Ref": "MeshRoleArns"})]
    conditions = template()["Conditions"]
    assert conditions["HasMeshRoles"] == {"Fn::Not": [{"Fn::Equals": [
        {"Fn::Join": [",", {"Ref": "MeshRoleArns"}]}, ""]}]}


def test_the_passive_role_trusts_exactly_the_three_function_roles():
    role = passive_template()["Resources"]["PassiveRole"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": [{"Ref": "PeerRoleArn"}, {"Ref": "GetStatusRoleArn"},
                                          {"Ref": "ModifyRoutesRoleArn"}]}


def granted_by(policies_: list[dict]) -> set[str]:
    return {a.removeprefix("ec2:") for p in policies_ for s in p["PolicyDocument"]["Statement"]
            for a in as_list(s["Action"])}


def wanted(entry: str) -> set[str]:
    lists = declared()[entry]
    return set(lists["calls"]) | set(lists["iamOnly"])


def test_the_passive_role_grants_exactly_the_passive_side_calls_in_the_passive_region_only():
    role = passive_template()["Resources"]["PassiveRole"]
    always = [p for p in role["Properties"]["Policies"] if "Fn::If" not in p]
    (requests,) = [p["Fn::If"] for p in role["Properties"]["Policies"] if "Fn::If" in p]
    assert requests[0] == "RequestsPeerings" and requests[2] == {"Ref": "AWS::NoValue"}
    assert granted_by(always) == wanted("passive-side")
    # A mesh side that may request peerings (RequestsPeerings "true") may also do the requester's part.
    assert granted_by([requests[1]]) == wanted("requests-peerings")
    every_function = set().union(*(wanted(function) for function in ROLE_OF))
    assert every_function <= wanted("passive-side") | wanted("requests-peerings")
    for statement in statements(role):
        if statement["Resource"] == "*":
            assert all(a.removeprefix("ec2:").startswith(READ_ONLY_PREFIXES) for a in as_list(statement["Action"]))
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": {"Ref": "PassiveRegion"}}}
        else:
            for resource in as_list(statement["Resource"]):
                assert "${PassiveRegion}:${AWS::AccountId}" in resource["Fn::Sub"], statement


def test_a_side_role_requests_and_deletes_only_peerings_tagged_as_this_tools():
    role = passive_template()["Resources"]["PassiveRole"]
    (requests,) = [p["Fn::If"][1] for p in role["Properties"]["Policies"] if "Fn::If" in p]
    by_sid = {s["Sid"]: s for s in requests["PolicyDocument"]["Statement"]}
    tag = {"StringEquals": {"aws:RequestTag/tgw-peering:managed-by": "tgw-peering"}}
    assert by_sid["CreateTaggedPeeringInItsRegion"]["Condition"] == tag
    assert by_sid["DeleteOnlyPeeringsThisToolCreated"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/tgw-peering:managed-by": "tgw-peering"}}
    assert by_sid["TagOnlyWhileCreatingThePeering"]["Condition"] == {
        "StringEquals": {"ec2:CreateAction": "CreateTransitGatewayPeeringAttachment"}}


# --- notifications (docs/guides/operating.md) ------------------------------------------------

TOPIC = {"Fn::If": ["HasNotificationTopicArn", {"Ref": "NotificationTopicArn"}, {"Ref": "NotificationTopic"}]}


def of_type(kind: str) -> dict[str, dict]:
    return {name: r for name, r in template()["Resources"].items() if r["Type"] == kind}


def test_the_execution_failed_rule_matches_only_this_state_machines_failures_and_targets_the_topic():
    rule = template()["Resources"]["ExecutionFailedRule"]
    assert rule["Condition"] == "NotificationsConfigured"
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [{"Ref": "StateMachine"}]},
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == TOPIC
    assert "RoleArn" not in target, "SNS targets are allowed by the topic's policy, not a role"
    paths = target["InputTransformer"]["InputPathsMap"]
    assert {paths[k] for k in ("error", "cause", "execution")} == {
        "$.detail.error", "$.detail.cause", "$.detail.executionArn"}


def test_the_alarms_watch_the_tools_metrics_and_point_at_the_topic_when_one_is_configured():
    alarms = of_type("AWS::CloudWatch::Alarm")
    assert set(alarms) == {"UnreachableVpcPairsAlarm", "FailedExecutionsAlarm"}
    wired = {"Fn::If": ["NotificationsConfigured", [TOPIC], {"Ref": "AWS::NoValue"}]}
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == wired
        assert "Condition" not in alarm, "the alarms exist with or without notifications"
    unreachable = alarms["UnreachableVpcPairsAlarm"]["Properties"]
    namespace = re.search(r'pub const NAMESPACE: &str = "(\w+)";',
                          (ROOT / "lambdas/common/src/plan/metrics.rs").read_text()).group(1)
    assert (unreachable["Namespace"], unreachable["MetricName"]) == (namespace, "UnreachableVpcPairs")
    assert unreachable["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ModifyRoutesFunction"}}]
    assert (unreachable["ComparisonOperator"], unreachable["Threshold"]) == ("GreaterThanThreshold", 0)
    failed = alarms["FailedExecutionsAlarm"]["Properties"]
    watched = {m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]["Dimensions"]
               for m in failed["Metrics"] if "MetricStat" in m}
    assert watched == {name: [{"Name": "StateMachineArn", "Value": {"Ref": "StateMachine"}}]
                       for name in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")}


def test_the_state_machines_publishing_policy_names_only_the_topic_and_its_key():
    policies_of = of_type("AWS::IAM::Policy")
    assert set(policies_of) == {"StateMachineNotifyPolicy", "StateMachineLockPolicy"}
    policy = policies_of["StateMachineNotifyPolicy"]
    assert policy["Condition"] == "NotificationsConfigured"
    assert policy["Properties"]["Roles"] == [{"Ref": "StateMachineRole"}]
    publish, key = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (publish["Effect"], publish["Action"], publish["Resource"]) == ("Allow", "sns:Publish", TOPIC)
    assert key["Fn::If"][0] == "CreatesNotificationTopic" and key["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    key = key["Fn::If"][1]
    assert key["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert key["Resource"] == {"Fn::GetAtt": ["NotificationKey", "Arn"]}
    # No role may publish anywhere else.
    for name, role in of_type("AWS::IAM::Role").items():
        assert not [s for s in statements(role) if any(a.startswith("sns:") for a in as_list(s["Action"]))], name


def test_the_stacks_topic_is_encrypted_and_only_the_rule_and_the_stacks_alarms_may_publish_to_it():
    resources = template()["Resources"]
    topic = resources["NotificationTopic"]
    assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "NotificationKey"}
    assert resources["NotificationKey"]["Properties"]["EnableKeyRotation"] is True
    policy = resources["NotificationTopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "NotificationTopic"}]
    by_service = {s["Principal"]["Service"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert set(by_service) == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    for statement in by_service.values():
        assert (statement["Action"], statement["Resource"]) == ("sns:Publish", {"Ref": "NotificationTopic"})
    # The rule's name is CloudFormation's (tests/stack/test_limits.py), so the topic names its ARN.
    rule_arn = by_service["events.amazonaws.com"]["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert rule_arn == {"Fn::GetAtt": ["ExecutionFailedRule", "Arn"]}
    assert "Name" not in resources["ExecutionFailedRule"]["Properties"]
    alarm_arns = by_service["cloudwatch.amazonaws.com"]["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert alarm_arns.endswith(":alarm:${AWS::StackName}-*")
    for alarm in of_type("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-")


def test_without_notification_parameters_nothing_is_notified():
    parsed = template()
    for name in ("NotificationEmail", "NotificationTopicArn"):
        assert parsed["Parameters"][name]["Default"] == ""
    substitution = parsed["Resources"]["StateMachine"]["Properties"]["DefinitionSubstitutions"]["NotificationTopicArn"]
    assert substitution == {"Fn::If": ["NotificationsConfigured", TOPIC, ""]}


# --- the gateway pair's lock ------------------------------------------------------------------


def test_the_lock_table_is_on_demand_recoverable_encrypted_and_retained():
    table = template()["Resources"]["StateTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_the_state_machine_may_use_only_the_lock_table_and_describe_only_its_own_executions():
    role = template()["Resources"]["StateMachineRole"]
    dynamodb = [s for s in statements(role) if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert len(dynamodb) == 1
    assert sorted(as_list(dynamodb[0]["Action"])) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert dynamodb[0]["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}
    # Besides modify-routes' record (below), no other role touches DynamoDB or Step Functions
    # executions.
    for name, other in of_type("AWS::IAM::Role").items():
        for statement in statements(other):
            actions = as_list(statement["Action"])
            allowed = name in ("StateMachineRole", "ModifyRoutesRole")
            assert allowed or not any(a.startswith("dynamodb:") for a in actions), name
            assert "states:DescribeExecution" not in actions, name

    policy = of_type("AWS::IAM::Policy")["StateMachineLockPolicy"]
    assert "Condition" not in policy
    assert policy["Properties"]["Roles"] == [{"Ref": "StateMachineRole"}]
    describe, start, follow = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (describe["Effect"], describe["Action"]) == ("Allow", ["states:DescribeExecution", "states:StopExecution"])
    assert describe["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
                                                ":execution:${StateMachine.Name}:*"}
    # A mesh starts only executions of this same state machine, and follows them (.sync:2)
    # through Step Functions' one managed rule.
    assert (start["Action"], start["Resource"]) == ("states:StartExecution", {"Ref": "StateMachine"})
    assert sorted(follow["Action"]) == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
    assert follow["Resource"]["Fn::Sub"].endswith(":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule")


@pytest.mark.parametrize("function", ["peer", "modify-routes"])
def test_every_mesh_region_grant_is_limited_to_the_mesh_regions(function):
    role = template()["Resources"][ROLE_OF[function]]
    (mesh,) = [p["Fn::If"] for p in role["Properties"]["Policies"] if "Fn::If" in p and p["Fn::If"][0] == "HasMeshRegions"]
    for statement in mesh[1]["PolicyDocument"]["Statement"]:
        assert statement["Condition"]["StringEquals"]["aws:RequestedRegion"] == {"Ref": "MeshRegions"}, statement


def test_modify_routes_may_keep_its_route_record_and_never_reach_the_lock_items():
    function = template()["Resources"]["ModifyRoutesFunction"]["Properties"]
    assert function["Environment"]["Variables"]["STATE_TABLE"] == {"Ref": "StateTable"}
    role = template()["Resources"]["ModifyRoutesRole"]
    (record,) = [s for s in statements(role) if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    # TransactWriteItems is authorised as the PutItem and DeleteItem it holds.
    assert sorted(as_list(record["Action"])) == ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query"]
    assert record["Resource"] == {"Fn::GetAtt": ["StateTable", "Arn"]}
    assert record["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["routes#*"]}}


def test_the_definition_uses_exactly_the_lock_actions_the_role_grants():
    definition = json.loads((ROOT / "statemachine/peering.asl.json").read_text())
    resources = {state["Resource"] for state in definition["States"].values()
                 if state["Type"] == "Task" and not state["Resource"].startswith("${")}
    assert resources == {"arn:aws:states:::sns:publish", "arn:aws:states:::dynamodb:getItem",
                         "arn:aws:states:::dynamodb:updateItem", "arn:aws:states:::aws-sdk:sfn:describeExecution"}
    tables = {state["Parameters"]["TableName"] for state in definition["States"].values()
              if state["Type"] == "Task" and "dynamodb" in state["Resource"]}
    assert tables == {"${StateTableName}"}
