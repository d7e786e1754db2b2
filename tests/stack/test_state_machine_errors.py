"""Every error name the state machine's Retry and Catch match is one that can be sent: a name a
Retry lists that nothing ever sends makes that retry dead, and a transient error then fails the
run. Checked against the functions' own errorTypes (lambdas/common/src/error.rs), the States
language's own names, and, for service integrations, the error shapes of botocore's API model of
that service (pinned in tools/requirements.lock): never a hand-copied list."""

from __future__ import annotations

import json
import re

import botocore.session
from stack_support import ROOT

DEFINITION = ROOT / "statemachine" / "peering.asl.json"

# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html#error-handling-error-representation
STATES_ERRORS = {
    "States.ALL", "States.DataLimitExceeded", "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout", "States.Http.Socket", "States.IntrinsicFailure",
    "States.ItemReaderFailed", "States.NoChoiceMatched", "States.ParameterPathFailure",
    "States.Permissions", "States.ResultPathMatchFailure", "States.ResultWriterFailed",
    "States.Runtime", "States.TaskFailed", "States.Timeout", "States.QueryEvaluationError",
}

# The Lambda integration's own names, documented in the Step Functions guide
# (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-best-practices.html#bp-lambda-serviceexception
# and the Lambda integration page); the Lambda Invoke API model's error shapes are checked too.
LAMBDA_CLIENT_ERRORS = {"Lambda.SdkClientException", "Lambda.AWSLambdaException"}

# A service integration's prefix, the botocore service whose model names its errors, and how Step
# Functions spells them:
# - "exact": the model's error shape, as the guide's own examples spell it (StepFunctions: the
#   nested-workflows page retries `StepFunctions.ExecutionLimitExceeded`,
#   https://docs.aws.amazon.com/step-functions/latest/dg/concepts-nested-workflows.html);
# - "suffixed": an AWS SDK integration (`aws-sdk:`) always appends `Exception`
#   (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html);
# - "either": an optimized integration whose spelling we could not find (docs/aws-facts.md
#   `sfn-integration-error-names`, unverified): the shape, or the shape with `Exception`.
PREFIX_SERVICE = {
    "Lambda": ("lambda", "exact"),
    "DynamoDB": ("dynamodb", "either"),
    "SNS": ("sns", "either"),
    "StepFunctions": ("stepfunctions", "exact"),
    "Sfn": ("stepfunctions", "suffixed"),
}


def error_names() -> dict[str, set[str]]:
    """Each name any Retry or Catch matches, with the states that match it."""
    found: dict[str, set[str]] = {}

    def walk(states: dict) -> None:
        for name, state in states.items():
            for rule in state.get("Retry", []) + state.get("Catch", []):
                for error in rule["ErrorEquals"]:
                    found.setdefault(error, set()).add(name)
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    walk(state[key]["States"])

    walk(json.loads(DEFINITION.read_text())["States"])
    return found


def function_error_types() -> set[str]:
    """The errorType strings `Error::error_type` returns."""
    source = (ROOT / "lambdas" / "common" / "src" / "error.rs").read_text()
    body = source[source.index("fn error_type"):]
    body = body[: body.index("\n    }\n")]
    return set(re.findall(r'=> "([A-Za-z0-9]+)"', body))


def model_error_shapes(service: str) -> set[str]:
    model = botocore.session.get_session().get_service_model(service)
    return set(model.error_shapes and (shape.name for shape in model.error_shapes))


def is_sent_by(prefix: str, name: str) -> bool:
    """Whether Step Functions can report `prefix.name` for that integration."""
    service, spelling = PREFIX_SERVICE[prefix]
    shapes = model_error_shapes(service)
    suffixed = {shape if shape.endswith("Exception") else f"{shape}Exception" for shape in shapes}
    return {"exact": name in shapes, "suffixed": name in suffixed,
            "either": name in shapes or name in suffixed}[spelling]


def test_the_function_error_types_are_read_from_the_error_enum():
    # Given the enum's stable names, then the parse finds them (so the test below can fail).
    assert {"Throttled", "Ec2Unreachable", "PeeringFailed", "StateTableError"} <= function_error_types()


def test_every_error_name_the_state_machine_matches_can_be_sent():
    own = function_error_types()
    unknown = []
    for name, states in sorted(error_names().items()):
        if name in own or name in STATES_ERRORS or name in LAMBDA_CLIENT_ERRORS:
            continue
        prefix, _, exception = name.partition(".")
        if prefix not in PREFIX_SERVICE or not exception or not is_sent_by(prefix, exception):
            unknown.append(f"{name} (in {', '.join(sorted(states))})")
    assert not unknown, f"names no one sends, so these Retry/Catch rules never match: {unknown}"


def test_a_misspelt_service_error_is_caught():
    # Given the name the mesh once retried on, then the model check refuses it.
    assert not is_sent_by("StepFunctions", "ExecutionLimitExceededException")
    assert is_sent_by("StepFunctions", "ExecutionLimitExceeded")
    assert not is_sent_by("StepFunctions", "SdkClientException")
    assert is_sent_by("Sfn", "ExecutionDoesNotExistException")
    assert not is_sent_by("Sfn", "ExecutionDoesNotExist")
