"""AWS limits the templates and the state machine must stay within, checked here because we cannot
reach AWS to be refused: every physical name the templates build from the stack name fits its
service's limit for the longest stack name CloudFormation accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass

import botocore.session
import pytest
from cfnlint.decode import decode
from stack_support import ROOT

TEMPLATES = ("transit-gateway-peering.yaml", "passive-account-role.yaml", "passive-region-events.yaml")


def template(name: str) -> dict:
    parsed, errors = decode(str(ROOT / "cloudformation" / name))
    assert not errors, errors
    return parsed


# --- names ----------------------------------------------------------------------------------------

# CreateStack: "A stack name can contain only alphanumeric characters (case sensitive) and hyphens.
# It must start with an alphabetical character and can't be longer than 128 characters."
STACK_NAME_LIMIT = 128
STACK_NAME_PATTERN = r"[A-Za-z][A-Za-z0-9-]*"
LONGEST_STACK_NAME = "t" + "-x" * 63 + "y"


@dataclass(frozen=True)
class NameLimit:
    longest: int
    source: str
    # Where botocore's model of the API carries the same limit, (service, operation, member): the
    # test checks the row against it, so a mistyped row fails.
    model: tuple[str, str, str] | None = None


NAME_LIMITS = {
    ("AWS::Events::Rule", "Name"): NameLimit(
        64, "botocore events 2015-10-07 PutRule.Name (shape RuleName, max 64); "
            "https://github.com/aws-samples/aws-control-tower-config-customization/issues/36 (the error AWS gives)",
        ("events", "PutRule", "Name")),
    ("AWS::Lambda::Function", "FunctionName"): NameLimit(
        64, "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/lambda/aws.sdk.kotlin.services.lambda.model/"
            "-invoke-request/function-name.html (\"If you specify only the function name, it is limited to 64 "
            "characters\"; the model's 140 is the ARN's)"),
    ("AWS::IAM::Role", "RoleName"): NameLimit(
        64, "https://docs.aws.amazon.com/goto/WebAPI/iam-2010-05-08/PolicyRole (RoleName: maximum length of 64); "
            "botocore iam CreateRole.RoleName", ("iam", "CreateRole", "RoleName")),
    ("AWS::StepFunctions::StateMachine", "StateMachineName"): NameLimit(
        80, "https://docs.aws.amazon.com/step-functions/latest/dg/limits.html (names of state machines, executions "
            "and activities: 80 characters); botocore stepfunctions CreateStateMachine.name",
        ("stepfunctions", "CreateStateMachine", "name")),
    ("AWS::Logs::LogGroup", "LogGroupName"): NameLimit(
        512, "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html "
             "(1 to 512 characters); botocore logs CreateLogGroup.logGroupName",
        ("logs", "CreateLogGroup", "logGroupName")),
    ("AWS::DynamoDB::Table", "TableName"): NameLimit(
        255, "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html "
             "(table names: 3 to 255 characters)"),
    ("AWS::SNS::Topic", "TopicName"): NameLimit(
        256, "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sns/aws.sdk.kotlin.services.sns.model/"
             "-create-topic-request/name.html (1 to 256 characters)"),
    ("AWS::CloudWatch::Alarm", "AlarmName"): NameLimit(
        255, "botocore cloudwatch PutMetricAlarm.AlarmName (shape AlarmName, max 255)",
        ("cloudwatch", "PutMetricAlarm", "AlarmName")),
    ("AWS::CloudWatch::Dashboard", "DashboardName"): NameLimit(
        255, "https://docs.amazonaws.cn/en_us/AWSCloudFormation/latest/UserGuide/aws-properties-cw-dashboard.html "
             "(1 to 255 characters)"),
}


@dataclass(frozen=True)
class DerivedName:
    where: str
    kind: str
    prop: str
    longest: str


def longest_value(parameters: dict, value) -> str | None:
    """The longest string a name property can be, or None when it does not depend on the deployer."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return re.sub(r"\$\{([^}]+)\}", lambda m: longest_variable(parameters, m.group(1)), text)
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in parameters:
        return "p" * longest_parameter(parameters[value["Ref"]])
    return None


def longest_variable(parameters: dict, name: str) -> str:
    if name == "AWS::StackName":
        return LONGEST_STACK_NAME
    assert name in parameters, f"a name uses ${{{name}}}: give its longest value here"
    return "p" * longest_parameter(parameters[name])


def longest_parameter(parameter: dict) -> int:
    bound = re.search(r"\{\d+,(\d+)\}\$$", parameter.get("AllowedPattern", ""))
    longest = parameter.get("MaxLength") or (bound and int(bound.group(1)))
    assert longest, f"a name comes from a parameter with no bound: {parameter}"
    return int(longest)


def derived_names() -> list[DerivedName]:
    found = []
    for name in TEMPLATES:
        body = template(name)
        parameters = body.get("Parameters", {})
        for logical, resource in body["Resources"].items():
            for prop, value in resource.get("Properties", {}).items():
                longest = longest_value(parameters, value) if prop.endswith("Name") else None
                if longest is not None:
                    found.append(DerivedName(f"{name}: {logical}.{prop}", resource["Type"], prop, longest))
    return found


def test_the_longest_stack_name_is_one_cloudformation_accepts():
    assert len(LONGEST_STACK_NAME) == STACK_NAME_LIMIT
    assert re.fullmatch(STACK_NAME_PATTERN, LONGEST_STACK_NAME)


def test_the_templates_derive_names_from_the_stack_name():
    # Guards the walk below: if it found nothing, the next test would pass for nothing.
    kinds = {(n.kind, n.prop) for n in derived_names()}
    assert ("AWS::Logs::LogGroup", "LogGroupName") in kinds and ("AWS::IAM::Role", "RoleName") in kinds


@pytest.mark.parametrize("name", derived_names(), ids=lambda n: n.where)
def test_every_name_fits_its_services_limit_for_the_longest_stack_name(name):
    # Given the name built from the longest stack name (and the longest value of any parameter in it)
    assert (name.kind, name.prop) in NAME_LIMITS, f"{name.where}: add the limit of {name.kind}.{name.prop}"
    limit = NAME_LIMITS[(name.kind, name.prop)]
    # Then the service accepts it
    assert len(name.longest) <= limit.longest, (
        f"{name.where} is {len(name.longest)} characters for a {STACK_NAME_LIMIT}-character stack name; "
        f"{name.kind} allows {limit.longest} ({limit.source})")
    pattern = model_shape(*limit.model).metadata.get("pattern") if limit.model else None
    assert pattern is None or re.fullmatch(pattern, name.longest), (name.where, pattern)


def model_shape(service: str, operation: str, member: str):
    """The API model's shape of a request member, as botocore (pinned) ships it."""
    return botocore.session.get_session().get_service_model(service) \
        .operation_model(operation).input_shape.members[member]


@pytest.mark.parametrize("row", [r for r in NAME_LIMITS.values() if r.model], ids=lambda r: r.model[0])
def test_each_name_limit_agrees_with_the_api_model(row):
    assert model_shape(*row.model).metadata["max"] == row.longest
