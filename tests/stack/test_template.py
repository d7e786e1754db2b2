"""The template's IAM, read straight from cloudformation/transit-gateway-peering.yaml: each function's
role grants exactly the EC2 actions cloudformation/function-permissions.json lists (which
tests/it/permissions.rs checks against the calls the functions really make), with no wildcard actions
and every mutating action scoped to resources, and where IAM allows it, to this tool's tag."""

from __future__ import annotations

import json

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

    assert any(keys(c) == tag for c in conditions["ec2:CreateTransitGatewayPeeringAttachment"])
    assert [keys(c) for c in conditions["ec2:DeleteTransitGatewayPeeringAttachment"]] == [tag]
    assert conditions["ec2:CreateTags"] == [
        {"StringEquals": {"ec2:CreateAction": "CreateTransitGatewayPeeringAttachment"}}]


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
def test_each_function_may_assume_only_the_passive_role_and_only_when_one_is_given(function):
    role = template()["Resources"][ROLE_OF[function]]
    conditional = [p for p in role["Properties"]["Policies"] if "Fn::If" in p]
    assert [p["Fn::If"][0] for p in conditional] == ["HasPassiveRole"]
    assert conditional[0]["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    sts = [s for s in statements(role) if any(a.startswith("sts:") for a in as_list(s["Action"]))]
    assert [(s["Action"], s["Resource"]) for s in sts] == [("sts:AssumeRole", {"Ref": "PassiveRoleArn"})]


def test_the_passive_role_trusts_exactly_the_three_function_roles():
    role = passive_template()["Resources"]["PassiveRole"]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": [{"Ref": "PeerRoleArn"}, {"Ref": "GetStatusRoleArn"},
                                          {"Ref": "ModifyRoutesRoleArn"}]}


def test_the_passive_role_grants_exactly_the_passive_side_calls_in_the_passive_region_only():
    role = passive_template()["Resources"]["PassiveRole"]
    granted = {a.removeprefix("ec2:") for s in statements(role) for a in as_list(s["Action"])}
    wanted = declared()["passive-side"]
    assert granted == set(wanted["calls"]) | set(wanted["iamOnly"])
    for statement in statements(role):
        if statement["Resource"] == "*":
            assert all(a.removeprefix("ec2:").startswith(READ_ONLY_PREFIXES) for a in as_list(statement["Action"]))
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": {"Ref": "PassiveRegion"}}}
        else:
            for resource in as_list(statement["Resource"]):
                assert "${PassiveRegion}:${AWS::AccountId}" in resource["Fn::Sub"], statement
