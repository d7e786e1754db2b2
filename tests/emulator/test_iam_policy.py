"""The IAM identity-policy evaluator (iam_policy.py), on its own: no server, no moto."""

from __future__ import annotations

import json

import pytest
from iam_policy import Decision, evaluate

ACCOUNT = "123456789012"
TABLE = f"arn:aws:ec2:us-east-1:{ACCOUNT}:transit-gateway-route-table/tgw-rtb-1"
OTHER_REGION_TABLE = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:transit-gateway-route-table/tgw-rtb-2"
ATTACHMENT = f"arn:aws:ec2:us-east-1:{ACCOUNT}:transit-gateway-attachment/tgw-attach-1"
ACTION = "ec2:CreateTransitGatewayRoute"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action="ec2:CreateTransitGatewayRoute", resource="*", **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="ec2:CreateTransitGatewayRoute", resource="*", **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def decide(*statements: dict, action=ACTION, resources=(TABLE,), context=None, resource_contexts=None):
    return evaluate([policy(*statements)], action, list(resources), context or {}, resource_contexts)


def allowed_with(condition: dict, context: dict) -> bool:
    return decide(allow(Condition=condition), context=context).allowed


# --- effect ---------------------------------------------------------------------------------


def test_given_an_allow_for_the_action_and_resource_when_evaluating_then_allowed():
    verdict = decide(allow(resource=TABLE))
    assert verdict.decision is Decision.ALLOW
    assert verdict.reason == "" and verdict.resource is None


def test_given_no_statement_for_the_action_when_evaluating_then_implicit_deny_in_aws_words():
    verdict = decide(allow(action="ec2:DeleteTransitGatewayRoute"))
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.reason == (
        "because no identity-based policy allows the ec2:CreateTransitGatewayRoute action"
    )
    assert verdict.resource == TABLE


def test_given_no_policy_at_all_when_evaluating_then_implicit_deny():
    assert evaluate([], ACTION, [TABLE], {}).decision is Decision.IMPLICIT_DENY


def test_given_an_allow_and_a_deny_that_both_apply_when_evaluating_then_explicit_deny_wins():
    verdict = decide(allow(), deny(resource=TABLE, Sid="NoRoutes"))
    assert verdict.decision is Decision.EXPLICIT_DENY
    assert verdict.reason == "with an explicit deny in an identity-based policy"
    assert "NoRoutes" in verdict.detail


def test_given_a_deny_for_another_action_when_evaluating_then_it_does_not_apply():
    assert decide(allow(), deny(action="ec2:DeleteTransitGatewayRoute")).allowed


def test_given_a_deny_whose_condition_fails_when_evaluating_then_the_allow_stands():
    denied_elsewhere = deny(Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}})
    assert decide(allow(), denied_elsewhere, context={"aws:RequestedRegion": "us-east-1"}).allowed


def test_given_policies_as_json_text_and_a_single_statement_object_when_evaluating_then_read_alike():
    text = json.dumps({"Version": "2012-10-17", "Statement": allow(resource=TABLE)})
    assert evaluate([text], ACTION, [TABLE], {}).allowed


def test_given_two_policies_when_one_allows_and_another_denies_then_explicit_deny():
    verdict = evaluate([policy(allow()), policy(deny())], ACTION, [TABLE], {})
    assert verdict.decision is Decision.EXPLICIT_DENY


# --- Action / NotAction ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern", ["ec2:*", "*", "ec2:Create*Route", "ec2:CreateTransitGatewayRout?", "EC2:createtransitgatewayroute"]
)
def test_given_an_action_pattern_that_names_the_action_when_evaluating_then_allowed(pattern):
    assert decide(allow(action=pattern)).allowed


@pytest.mark.parametrize("pattern", ["ec2:Create*Routes", "ec2:CreateTransitGatewayRoute?", "sts:*", "ec2:Create"])
def test_given_an_action_pattern_that_does_not_name_it_when_evaluating_then_implicit_deny(pattern):
    assert decide(allow(action=pattern)).decision is Decision.IMPLICIT_DENY


def test_given_not_action_when_the_action_is_not_listed_then_the_statement_applies():
    statement = {"Effect": "Allow", "NotAction": "ec2:Delete*", "Resource": "*"}
    assert decide(statement).allowed


def test_given_not_action_when_the_action_is_listed_then_the_statement_does_not_apply():
    statement = {"Effect": "Allow", "NotAction": ["ec2:Create*"], "Resource": "*"}
    assert decide(statement).decision is Decision.IMPLICIT_DENY


def test_given_a_deny_with_not_action_when_another_action_is_called_then_explicit_deny():
    statement = {"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"}
    assert decide(allow(), statement).decision is Decision.EXPLICIT_DENY


# --- Resource / NotResource ------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        f"arn:aws:ec2:us-east-1:{ACCOUNT}:transit-gateway-route-table/*",
        f"arn:aws:ec2:*:{ACCOUNT}:transit-gateway-route-table/*",
        f"arn:aws:ec2:us-east-?:{ACCOUNT}:transit-gateway-route-table/tgw-rtb-1",
        "arn:aws:ec2:*:*:*",
    ],
)
def test_given_a_resource_pattern_that_names_the_arn_when_evaluating_then_allowed(pattern):
    assert decide(allow(resource=pattern)).allowed


@pytest.mark.parametrize(
    "pattern",
    [
        f"arn:aws:ec2:eu-west-1:{ACCOUNT}:transit-gateway-route-table/*",
        f"arn:aws:ec2:us-east-1:{ACCOUNT}:transit-gateway-attachment/*",
        f"arn:aws:ec2:us-east-1:111122223333:transit-gateway-route-table/*",
        # Resource ARNs are case-sensitive.
        f"arn:aws:ec2:us-east-1:{ACCOUNT}:Transit-Gateway-Route-Table/*",
    ],
)
def test_given_a_resource_pattern_that_does_not_name_the_arn_when_evaluating_then_implicit_deny(pattern):
    assert decide(allow(resource=pattern)).decision is Decision.IMPLICIT_DENY


def test_given_an_action_that_supports_only_star_when_the_policy_names_arns_then_implicit_deny():
    statement = allow(action="ec2:GetTransitGatewayRouteTablePropagations", resource=[TABLE, ATTACHMENT])
    verdict = decide(statement, action="ec2:GetTransitGatewayRouteTablePropagations", resources=["*"])
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.resource == "*"


def test_given_not_resource_when_the_arn_is_not_listed_then_the_statement_applies():
    statement = {"Effect": "Allow", "Action": ACTION, "NotResource": OTHER_REGION_TABLE}
    assert decide(statement).allowed


def test_given_not_resource_when_the_arn_is_listed_then_the_statement_does_not_apply():
    statement = {"Effect": "Allow", "Action": ACTION, "NotResource": [TABLE]}
    assert decide(statement).decision is Decision.IMPLICIT_DENY


# --- several resources -------------------------------------------------------------------------


def test_given_two_resources_when_both_are_allowed_by_different_statements_then_allowed():
    verdict = decide(allow(resource=TABLE), allow(resource=ATTACHMENT), resources=[TABLE, ATTACHMENT])
    assert verdict.allowed


def test_given_two_resources_when_only_the_first_is_allowed_then_implicit_deny_naming_the_second():
    verdict = decide(allow(resource=TABLE), resources=[TABLE, ATTACHMENT])
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.resource == ATTACHMENT


def test_given_two_resources_when_a_deny_applies_to_one_then_explicit_deny_naming_it():
    verdict = decide(allow(), deny(resource=ATTACHMENT), resources=[TABLE, ATTACHMENT])
    assert verdict.decision is Decision.EXPLICIT_DENY
    assert verdict.resource == ATTACHMENT


def test_given_no_resource_when_evaluating_then_refused():
    assert decide(allow(), resources=[]).decision is Decision.IMPLICIT_DENY


def test_given_per_resource_tags_when_a_condition_reads_them_then_each_resource_is_judged_on_its_own():
    managed = {"StringEquals": {"aws:ResourceTag/owner": "tgw-peering"}}
    tags = {TABLE: {"aws:ResourceTag/owner": "tgw-peering"}, ATTACHMENT: {"aws:ResourceTag/owner": "else"}}
    verdict = decide(allow(Condition=managed), resources=[TABLE, ATTACHMENT], resource_contexts=tags)
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.resource == ATTACHMENT
    assert decide(allow(Condition=managed), resources=[TABLE], resource_contexts=tags).allowed


# --- condition logic -----------------------------------------------------------------------


def test_given_two_operators_when_one_fails_then_the_statement_does_not_apply():
    condition = {
        "StringEquals": {"aws:RequestedRegion": "us-east-1"},
        "StringLike": {"aws:RequestTag/name": "tgw-*"},
    }
    assert allowed_with(condition, {"aws:RequestedRegion": "us-east-1", "aws:RequestTag/name": "tgw-a"})
    assert not allowed_with(condition, {"aws:RequestedRegion": "us-east-1", "aws:RequestTag/name": "vpc-a"})


def test_given_two_keys_under_one_operator_when_one_fails_then_the_statement_does_not_apply():
    condition = {"StringEquals": {"aws:RequestedRegion": "us-east-1", "ec2:CreateAction": "CreateVpc"}}
    assert allowed_with(condition, {"aws:RequestedRegion": "us-east-1", "ec2:CreateAction": "CreateVpc"})
    assert not allowed_with(condition, {"aws:RequestedRegion": "us-east-1", "ec2:CreateAction": "RunInstances"})


def test_given_condition_key_names_in_another_case_when_evaluating_then_they_match():
    assert allowed_with({"StringEquals": {"AWS:requestedregion": "us-east-1"}}, {"aws:RequestedRegion": "us-east-1"})


# --- String operators ------------------------------------------------------------------------


def test_given_string_equals_with_several_values_when_the_request_has_any_of_them_then_it_holds():
    condition = {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}
    assert allowed_with(condition, {"aws:RequestedRegion": "us-east-1"})
    assert not allowed_with(condition, {"aws:RequestedRegion": "ap-south-1"})


def test_given_string_equals_when_the_case_differs_then_it_fails():
    assert not allowed_with({"StringEquals": {"aws:RequestTag/k": "Value"}}, {"aws:RequestTag/k": "value"})


def test_given_string_equals_when_the_key_is_absent_then_it_fails():
    assert not allowed_with({"StringEquals": {"aws:RequestTag/k": "v"}}, {})


def test_given_string_equals_with_a_wildcard_when_evaluating_then_the_star_is_literal():
    condition = {"StringEquals": {"aws:RequestTag/k": "tgw-*"}}
    assert not allowed_with(condition, {"aws:RequestTag/k": "tgw-a"})
    assert allowed_with(condition, {"aws:RequestTag/k": "tgw-*"})


def test_given_string_not_equals_when_the_key_is_absent_then_it_holds():
    assert allowed_with({"StringNotEquals": {"aws:RequestTag/k": "v"}}, {})


def test_given_string_not_equals_with_several_values_when_the_request_has_one_of_them_then_it_fails():
    condition = {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}}
    assert not allowed_with(condition, {"aws:RequestedRegion": "us-east-1"})
    assert allowed_with(condition, {"aws:RequestedRegion": "ap-south-1"})


def test_given_string_equals_ignore_case_when_the_case_differs_then_it_holds():
    assert allowed_with({"StringEqualsIgnoreCase": {"aws:RequestTag/k": "VALUE"}}, {"aws:RequestTag/k": "value"})
    assert not allowed_with({"StringNotEqualsIgnoreCase": {"aws:RequestTag/k": "VALUE"}}, {"aws:RequestTag/k": "value"})


@pytest.mark.parametrize(("value", "holds"), [("tgw-peering", True), ("tgw-", True), ("tgw", False), ("TGW-x", False)])
def test_given_string_like_when_matching_wildcards_then_case_sensitive_glob(value, holds):
    assert allowed_with({"StringLike": {"aws:RequestTag/k": "tgw-*"}}, {"aws:RequestTag/k": value}) is holds


def test_given_string_like_with_a_question_mark_when_matching_then_exactly_one_character():
    condition = {"StringLike": {"aws:RequestTag/k": "a?c"}}
    assert allowed_with(condition, {"aws:RequestTag/k": "abc"})
    assert not allowed_with(condition, {"aws:RequestTag/k": "ac"})


def test_given_string_like_when_the_key_is_absent_then_it_fails():
    assert not allowed_with({"StringLike": {"aws:RequestTag/k": "*"}}, {})


def test_given_string_not_like_when_the_key_is_absent_then_it_holds_and_when_it_matches_then_it_fails():
    condition = {"StringNotLike": {"aws:RequestTag/k": "tgw-*"}}
    assert allowed_with(condition, {})
    assert not allowed_with(condition, {"aws:RequestTag/k": "tgw-a"})
    assert allowed_with(condition, {"aws:RequestTag/k": "vpc-a"})


def test_given_a_number_or_bool_as_a_condition_value_when_evaluating_then_compared_as_text():
    assert allowed_with({"StringEquals": {"ec2:Count": 5}}, {"ec2:Count": "5"})


# --- IfExists --------------------------------------------------------------------------------


def test_given_if_exists_when_the_key_is_absent_then_it_holds():
    assert allowed_with({"StringEqualsIfExists": {"aws:RequestTag/k": "v"}}, {})


def test_given_if_exists_when_the_key_is_present_then_it_is_evaluated():
    condition = {"StringEqualsIfExists": {"aws:RequestTag/k": "v"}}
    assert allowed_with(condition, {"aws:RequestTag/k": "v"})
    assert not allowed_with(condition, {"aws:RequestTag/k": "w"})


def test_given_a_negated_if_exists_when_the_key_is_present_and_matches_then_it_fails():
    assert not allowed_with({"StringNotLikeIfExists": {"aws:RequestTag/k": "v*"}}, {"aws:RequestTag/k": "vv"})


# --- ForAllValues / ForAnyValue ----------------------------------------------------------------


TAG_PATTERNS = {"ForAllValues:StringLike": {"aws:TagKeys": ["tgw-peering:routes:*", "tgw-peering:propagations:*"]}}


def test_given_for_all_values_when_every_request_value_matches_some_policy_value_then_it_holds():
    keys = ["tgw-peering:routes:a", "tgw-peering:propagations:b"]
    assert allowed_with(TAG_PATTERNS, {"aws:TagKeys": keys})


def test_given_for_all_values_when_one_request_value_matches_none_then_it_fails():
    assert not allowed_with(TAG_PATTERNS, {"aws:TagKeys": ["tgw-peering:routes:a", "Name"]})


def test_given_for_all_values_when_the_key_is_absent_then_it_holds_as_documented():
    assert allowed_with(TAG_PATTERNS, {})


def test_given_for_all_values_when_the_request_set_is_empty_then_it_holds():
    assert allowed_with(TAG_PATTERNS, {"aws:TagKeys": []})


def test_given_for_all_values_on_a_single_valued_key_when_evaluating_then_it_is_a_one_member_set():
    assert allowed_with(TAG_PATTERNS, {"aws:TagKeys": "tgw-peering:routes:a"})
    assert not allowed_with(TAG_PATTERNS, {"aws:TagKeys": "Name"})


def test_given_for_all_values_with_a_negated_operator_when_every_value_avoids_the_pattern_then_it_holds():
    condition = {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}}
    assert allowed_with(condition, {"aws:TagKeys": ["key2:audit"]})
    assert not allowed_with(condition, {"aws:TagKeys": ["key1:legal"]})
    assert not allowed_with(condition, {"aws:TagKeys": ["key1:hr", "key2:x"]})


def test_given_for_any_value_when_one_request_value_matches_then_it_holds():
    condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": "owner"}}
    assert allowed_with(condition, {"aws:TagKeys": ["Name", "owner"]})
    assert not allowed_with(condition, {"aws:TagKeys": ["Name"]})


def test_given_for_any_value_when_the_key_is_absent_or_empty_then_it_fails():
    condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": "owner"}}
    assert not allowed_with(condition, {})
    assert not allowed_with(condition, {"aws:TagKeys": []})


def test_given_a_for_all_values_deny_when_the_key_is_absent_then_the_deny_applies():
    denied = deny(Condition={"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}})
    assert decide(allow(), denied).decision is Decision.EXPLICIT_DENY


# --- Arn operators -----------------------------------------------------------------------------


RULE = "arn:aws:events:us-east-1:123456789012:rule/stack-execution-failed"


def test_given_arn_equals_when_the_arn_is_the_same_then_it_holds():
    assert allowed_with({"ArnEquals": {"aws:SourceArn": RULE}}, {"aws:SourceArn": RULE})
    assert not allowed_with({"ArnEquals": {"aws:SourceArn": RULE}}, {"aws:SourceArn": RULE + "-2"})


def test_given_arn_like_when_each_part_matches_its_pattern_then_it_holds():
    pattern = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:stack-*"
    assert allowed_with({"ArnLike": {"aws:SourceArn": pattern}}, {"aws:SourceArn": pattern.replace("*", "lock")})
    # The wildcard stays in the resource part: another account does not match.
    other = "arn:aws:cloudwatch:us-east-1:111122223333:alarm:stack-lock"
    assert not allowed_with({"ArnLike": {"aws:SourceArn": pattern}}, {"aws:SourceArn": other})


def test_given_arn_like_when_the_value_is_not_an_arn_then_it_fails():
    assert not allowed_with({"ArnLike": {"aws:SourceArn": "arn:*:*:*:*:*"}}, {"aws:SourceArn": "not-an-arn"})


def test_given_arn_operators_when_the_key_is_absent_then_positive_fails_and_negated_holds():
    assert not allowed_with({"ArnLike": {"aws:SourceArn": "arn:*:*:*:*:*"}}, {})
    assert allowed_with({"ArnNotLike": {"aws:SourceArn": RULE}}, {})
    assert allowed_with({"ArnNotEquals": {"aws:SourceArn": RULE}}, {})
    assert not allowed_with({"ArnNotEquals": {"aws:SourceArn": RULE}}, {"aws:SourceArn": RULE})


# --- Bool and Null -----------------------------------------------------------------------------


def test_given_bool_when_the_value_matches_then_it_holds_and_json_booleans_are_accepted():
    assert allowed_with({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "true"})
    assert not allowed_with({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"})
    assert not allowed_with({"Bool": {"aws:SecureTransport": "true"}}, {})


def test_given_null_true_when_the_key_is_absent_then_it_holds():
    assert allowed_with({"Null": {"aws:RequestTag/k": "true"}}, {})
    assert not allowed_with({"Null": {"aws:RequestTag/k": "true"}}, {"aws:RequestTag/k": "v"})


def test_given_null_false_when_the_key_is_present_then_it_holds():
    assert allowed_with({"Null": {"aws:TagKeys": "false"}}, {"aws:TagKeys": ["a"]})
    assert not allowed_with({"Null": {"aws:TagKeys": "false"}}, {})


# --- not modelled: refused, never allowed ----------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        allow(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}),
        allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        allow(Condition={"ForEachValue:StringLike": {"aws:TagKeys": "*"}}),
        allow(Condition={"StringLike": {"aws:RequestTag/k": "${aws:username}"}}),
        allow(resource="arn:aws:ec2:*:*:transit-gateway-route-table/${aws:userid}"),
        allow(Principal={"AWS": "*"}),
        allow(NotPrincipal={"AWS": "*"}),
        {"Effect": "Allow", "Action": ACTION},
        {"Effect": "Allow", "Action": ACTION, "Resource": "*", "NotResource": TABLE},
        {"Effect": "allow", "Action": ACTION, "Resource": "*"},
        allow(action="CreateTransitGatewayRoute"),
        allow(resource="arn:aws:ec2:us-east-1*:transit-gateway-route-table/*"),
        allow(resource="tgw-rtb-1"),
    ],
    ids=[
        "numeric", "ip-address", "unknown-qualifier", "variable-in-condition", "variable-in-resource",
        "principal", "not-principal", "no-resource", "resource-and-not-resource", "lower-case-effect",
        "action-without-service", "five-part-arn", "not-an-arn",
    ],
)
def test_given_a_policy_with_something_not_modelled_when_it_would_allow_then_refused(statement):
    verdict = decide(allow(), statement, context={"aws:MultiFactorAuthAge": "1", "aws:RequestTag/k": "x"})
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.detail.startswith("not modelled:")


def test_given_a_plain_operator_on_a_multivalued_key_when_evaluating_then_refused():
    verdict = decide(allow(Condition={"StringLike": {"aws:TagKeys": "*"}}), context={"aws:TagKeys": ["a", "b"]})
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.detail.startswith("not modelled:")


def test_given_an_unknown_policy_version_when_evaluating_then_refused():
    verdict = evaluate([{"Version": "2020-01-01", "Statement": [allow()]}], ACTION, [TABLE], {})
    assert verdict.decision is Decision.IMPLICIT_DENY


def test_given_the_2008_version_when_a_resource_holds_dollar_braces_then_they_are_literal():
    statement = allow(resource="arn:aws:ec2:*:*:transit-gateway-route-table/${x}")
    verdict = evaluate([{"Version": "2008-10-17", "Statement": [statement]}], ACTION,
                       ["arn:aws:ec2:us-east-1:1:transit-gateway-route-table/${x}"], {})
    assert verdict.allowed
