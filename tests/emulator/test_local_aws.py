"""Checks the "local AWS" mode of server.py (--stepfunctions, --lambda-bin-dir)
against documented AWS behaviour, through boto3 and the aws CLI over HTTP:
the CloudFormation / Step Functions / Lambda / EventBridge patches
(local_aws_patches.py), and the forwarding of Lambda invokes to function
processes through `cargo lambda watch`.

Two servers, each started once:
- `aws`: --stepfunctions, plus --lambda-bin-dir $TGW_PEERING_LAMBDA_BIN_DIR
  when that directory exists (the real binaries: peer, get-status,
  modify-routes); tests that run them skip without it.
- `fake`: --stepfunctions --lambda-bin-dir with fake_runtime.py standing in
  for the binaries (needs cargo-lambda next to this Python, and cargo).
Set EMULATOR_SKIP_PATCHES=name[,name] to start them without those patches.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import lambda_runner
import server_process

HERE = Path(__file__).parent
SERVER = HERE / "server.py"
FIXTURES = HERE / "fixtures"
STACK_TEMPLATE = (FIXTURES / "stack.yaml").read_text()
STATE_MACHINE = (FIXTURES / "statemachine.asl.json").read_text()
CARGO_LAMBDA = Path(sys.executable).with_name("cargo-lambda")
BIN_DIR = os.environ.get("TGW_PEERING_LAMBDA_BIN_DIR")
ACCOUNT = "123456789012"
REGION, PEER_REGION = "us-east-1", "eu-west-1"
BUCKET = "artifacts"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/test"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Set on the servers only: a function's process must not inherit it.
SERVER_ONLY_VARIABLE = "TGW_PEERING_SERVER_ONLY"


# --- servers --------------------------------------------------------------------


@contextlib.contextmanager
def running_server(*args: str) -> Iterator[str]:
    with server_process.running_server(*args, env={**os.environ, SERVER_ONLY_VARIABLE: "leaked"}) as url:
        yield url


@dataclass
class Aws:
    url: str
    log_dir: Path
    bin_dir: Path | None

    def client(self, service: str, region: str = REGION) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=120),
        )

    def harness(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_harness/{path}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.load(resp)

    def invocations(self) -> list[dict]:
        return self.harness("GET", "lambda")["invocations"]

    def log(self, function_name: str) -> str:
        path = self.log_dir / f"{function_name}.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture(scope="session")
def aws_server(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("aws-logs")
    bin_dir = Path(BIN_DIR) if BIN_DIR and (Path(BIN_DIR) / "get-status").is_file() else None
    args = ["--stepfunctions", "--lambda-log-dir", str(log_dir)]
    if bin_dir is not None:
        args += ["--lambda-bin-dir", str(bin_dir)]
    with running_server(*args) as url:
        yield Aws(url, log_dir, bin_dir)


@pytest.fixture
def aws(aws_server):
    aws_server.harness("POST", "reset")
    return aws_server


@pytest.fixture
def binaries(aws):
    if aws.bin_dir is None:
        pytest.skip(
            "set TGW_PEERING_LAMBDA_BIN_DIR to a directory holding the built peer, get-status and "
            "modify-routes binaries (e.g. $CARGO_TARGET_DIR/debug) to run the functions"
        )
    return aws


@pytest.fixture(scope="session")
def fake_server(tmp_path_factory):
    if not CARGO_LAMBDA.is_file() or shutil.which("cargo") is None:
        pytest.skip(f"needs {CARGO_LAMBDA} and cargo (cargo-lambda reads the project's metadata)")
    root = tmp_path_factory.mktemp("fake")
    bin_dir, log_dir = root / "bin", root / "logs"
    bin_dir.mkdir()
    source = (HERE / "fake_runtime.py").read_text()
    # cargo-lambda routes only the project's binary names.
    for name in ("get-status", "peer"):
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{source}")
        path.chmod(0o755)
    args = ["--stepfunctions", "--lambda-bin-dir", str(bin_dir), "--lambda-log-dir", str(log_dir)]
    with running_server(*args) as url:
        yield Aws(url, log_dir, bin_dir)


@pytest.fixture
def fake(fake_server):
    fake_server.harness("POST", "reset")
    return fake_server


# --- helpers --------------------------------------------------------------------


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def upload_artifacts(aws: Aws, prefix: str = "lambda", definition: str = STATE_MACHINE) -> None:
    s3 = aws.client("s3")
    with contextlib.suppress(ClientError):
        s3.create_bucket(Bucket=BUCKET)
    for name in ("peer", "get-status", "modify-routes"):
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{name}.zip", Body=zip_of(name))
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/statemachine.asl.json", Body=definition.encode())


def zip_of(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", text)
    return buffer.getvalue()


def parameters(values: dict[str, Any]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


def outputs_of(aws: Aws, stack: str) -> dict[str, str]:
    described = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs") or []}


def deploy(aws: Aws, template: str = STACK_TEMPLATE, stack: str = "tgw-peering", **values: Any) -> dict:
    """CreateStack, or UpdateStack if the stack exists; returns its Outputs."""
    cfn = aws.client("cloudformation")
    if template is STACK_TEMPLATE:
        values.setdefault("ArtifactBucket", BUCKET)
    try:
        cfn.describe_stacks(StackName=stack)
        cfn.update_stack(StackName=stack, TemplateBody=template, Parameters=parameters(values),
                         Capabilities=["CAPABILITY_IAM"])
    except ClientError as e:
        if "does not exist" not in str(e):
            raise
        cfn.create_stack(StackName=stack, TemplateBody=template, Parameters=parameters(values),
                         Capabilities=["CAPABILITY_IAM"])
    return outputs_of(aws, stack)


def deploy_change_set(aws: Aws, template: str, stack: str, change_set_type: str, **values: Any) -> dict:
    """CreateChangeSet + ExecuteChangeSet, as `aws cloudformation deploy` does; returns the change set."""
    cfn = aws.client("cloudformation")
    name = f"cs-{uuid.uuid4().hex[:8]}"
    cfn.create_change_set(StackName=stack, ChangeSetName=name, TemplateBody=template,
                          ChangeSetType=change_set_type, Parameters=parameters(values),
                          Capabilities=["CAPABILITY_IAM"])
    change_set = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
    if change_set["Status"] == "CREATE_COMPLETE":
        cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    return change_set


def finish(aws: Aws, execution_arn: str, timeout: float = 60) -> dict:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING after {timeout}s"
        time.sleep(0.1)


def run(aws: Aws, state_machine_arn: str, execution_input: Any = None, **kwargs: Any) -> dict:
    started = aws.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, input=json.dumps(execution_input or {}), **kwargs
    )
    return finish(aws, started["executionArn"])


def outcomes(invocations: list[dict]) -> list[dict]:
    """Each invocation's function, binary and result, without its measurements (timings, memory
    and EC2 calls, which test_given_invocations_when_listed_then_each_has_its_measurements checks)."""
    keys = ("function", "binary", "ok", "errorType")
    return [{k: i[k] for k in keys} for i in invocations]


def history(aws: Aws, execution_arn: str) -> list[dict]:
    sfn = aws.client("stepfunctions")
    events, token = [], None
    while True:
        paging = {"nextToken": token} if token else {}
        page = sfn.get_execution_history(executionArn=execution_arn, **paging)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def states_entered(aws: Aws, execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history(aws, execution_arn)
        if "stateEnteredEventDetails" in e
    ]


def state_machine_template(definition: dict | str, **extra_outputs: Any) -> str:
    """A stack of one state machine (DefinitionString), with Arn = Ref."""
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": ROLE_ARN,
                    "DefinitionString": definition if isinstance(definition, str) else json.dumps(definition),
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}, **extra_outputs},
    }
    return json.dumps(template)


ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}


# --- the stand-in template (fixtures/stack.yaml) --------------------------------------


def test_given_the_stand_in_template_when_deployed_then_intrinsics_and_substitutions_resolve(aws):
    upload_artifacts(aws)

    outputs = deploy(aws)

    arn = outputs["StateMachineArn"]
    assert outputs["StateMachineConsole"] == (
        f"https://{REGION}.console.amazonaws.com/states/home?region={REGION}#/statemachines/view/{arn}"
    )
    assert outputs["InvokePolicyResource"] == outputs["PeerFunctionArn"]  # AWS::Partition etc.
    peer = function_configuration(aws, outputs["PeerFunctionArn"])
    assert peer["Environment"]["Variables"] == {  # VPC_TAG_KEY: Fn::If -> AWS::NoValue
        "ACTIVE_REGION": REGION, "PASSIVE_REGION": PEER_REGION, "AWS_MAX_ATTEMPTS": "1",
    }
    assert (peer["Runtime"], peer["Handler"], peer["Timeout"], peer["MemorySize"]) == (
        "provided.al2023", "bootstrap", 30, 256,
    )
    definition = json.loads(
        aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
    )
    assert definition["States"]["Peer"]["Resource"] == outputs["PeerFunctionArn"]
    assert definition["States"]["StartPolling"]["Parameters"]["delay"] == 0  # a Number parameter
    role = aws.client("iam").get_role(
        RoleName=next(
            r["RoleName"] for r in aws.client("iam").list_roles()["Roles"] if "StateMachineRole" in r["RoleName"]
        )
    )["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "states.amazonaws.com"}


LOOP = {
    "StartAt": "Start",
    "States": {
        "Start": {
            "Type": "Pass",
            "Parameters": {"count": 0, "limit.$": "States.StringToJson('2')", "delay.$": "$.delay"},
            "ResultPath": "$.polling",
            "Next": "Wait",
        },
        "Wait": {"Type": "Wait", "SecondsPath": "$.polling.delay", "Next": "Count"},
        "Count": {
            "Type": "Pass",
            "Parameters": {
                "count.$": "States.MathAdd($.polling.count, 1)",
                "limit.$": "$.polling.limit",
                "delay.$": "$.polling.delay",
            },
            "ResultPath": "$.polling",
            "OutputPath": "$",
            "Next": "Done?",
        },
        "Done?": {
            "Type": "Choice",
            "Choices": [
                {
                    "Or": [
                        {"Variable": "$.status", "StringEquals": "failed"},
                        {"Variable": "$.status", "StringEquals": "rejected"},
                    ],
                    "Next": "Rejected",
                },
                {"Variable": "$.polling.count", "NumericGreaterThanEqualsPath": "$.polling.limit",
                 "Next": "TimedOut"},
            ],
            "Default": "Wait",
        },
        "Rejected": {
            "Type": "Fail",
            "ErrorPath": "$.status",
            "CausePath": "States.Format('attachment {} is {}', $.id, $.status)",
        },
        "TimedOut": {"Type": "Fail", "Error": "PeeringTimedOut", "Cause": "not available in time"},
    },
}


def test_given_the_definitions_intrinsics_waits_and_choices_when_run_then_interpreted_as_on_aws(aws):
    arn = deploy(aws, state_machine_template(LOOP), stack="machine")["Arn"]

    started = time.monotonic()
    timed_out = run(aws, arn, {"status": "pending", "id": "tgw-attach-1", "delay": 1})
    elapsed = time.monotonic() - started
    rejected = run(aws, arn, {"status": "rejected", "id": "tgw-attach-2", "delay": 0})

    assert (timed_out["status"], timed_out["error"], timed_out["cause"]) == (
        "FAILED", "PeeringTimedOut", "not available in time",
    )
    assert states_entered(aws, timed_out["executionArn"]) == [
        "Start", *["Wait", "Count", "Done?"] * 2, "TimedOut",
    ]
    assert elapsed >= 2  # two 1 s waits through SecondsPath
    assert (rejected["status"], rejected["error"], rejected["cause"]) == (
        "FAILED", "rejected", "attachment tgw-attach-2 is rejected",
    )


# --- patch: stack_state_machines_reach_the_api -----------------------------------


def test_given_a_stack_state_machine_when_described_and_started_then_the_api_knows_and_runs_it(aws):
    arn = deploy(aws, state_machine_template(ECHO), stack="machine")["Arn"]
    sfn = aws.client("stepfunctions")

    described = sfn.describe_state_machine(stateMachineArn=arn)
    execution = run(aws, arn, {"hello": "world"})

    assert json.loads(described["definition"]) == ECHO
    assert [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]] == [arn]
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"hello": "world"}


def test_given_a_stack_state_machine_when_the_stack_is_deleted_then_the_state_machine_is_gone(aws):
    arn = deploy(aws, state_machine_template(ECHO), stack="machine")["Arn"]

    aws.client("cloudformation").delete_stack(StackName="machine")

    with pytest.raises(ClientError) as excinfo:
        aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    assert error_code(excinfo) == "StateMachineDoesNotExist"


# --- patch: state_machine_get_att -------------------------------------------------


def test_given_get_att_of_a_state_machine_when_deployed_then_arn_name_and_revision_id(aws):
    attributes = {
        name: {"Value": {"Fn::GetAtt": ["Machine", name]}}
        for name in ("Arn", "Name", "StateMachineRevisionId")
    }
    template = lambda comment: state_machine_template(  # noqa: E731
        {**ECHO, "Comment": comment}, **{f"GetAtt{k}": v for k, v in attributes.items()}
    )
    first = deploy(aws, template("one"), stack="machine")

    unchanged = deploy(aws, template("one"), stack="machine")
    changed = deploy(aws, template("two"), stack="machine")

    assert first["GetAttArn"] == first["Arn"]
    assert first["GetAttName"] == first["Arn"].split(":")[-1]
    assert first["GetAttStateMachineRevisionId"]
    assert unchanged["GetAttStateMachineRevisionId"] == first["GetAttStateMachineRevisionId"]
    assert changed["GetAttStateMachineRevisionId"] != first["GetAttStateMachineRevisionId"]


# --- patch: state_machine_definition_sources ----------------------------------------

SUBSTITUTED = """
Parameters:
  Key: {Type: String}
  Count: {Type: Number, Default: 3}
Resources:
  LogGroup:
    Type: AWS::Logs::LogGroup
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: %(role)s
      DefinitionS3Location:
        Bucket: %(bucket)s
        Key: !Ref Key
      DefinitionSubstitutions:
        Greeting: hello
        Count: !Ref Count
        Flag: true
      LoggingConfiguration:
        Level: ALL
        IncludeExecutionData: true
        Destinations:
          - CloudWatchLogsLogGroup:
              LogGroupArn: !GetAtt LogGroup.Arn
      TracingConfiguration:
        Enabled: true
Outputs:
  Arn: {Value: !Ref Machine}
""" % {"role": ROLE_ARN, "bucket": BUCKET}

S3_DEFINITION = """{"StartAt": "Answer", "States": {"Answer": {"Type": "Pass",
  "Result": {"greeting": "${Greeting}", "count": ${Count}, "flag": ${Flag}, "version": "%s"},
  "End": true}}}"""


def test_given_definition_in_s3_with_substitutions_when_deployed_then_substituted_definition_runs(aws):
    upload_artifacts(aws)
    aws.client("s3").put_object(Bucket=BUCKET, Key="v1.asl.json", Body=(S3_DEFINITION % "v1").encode())

    arn = deploy(aws, SUBSTITUTED, stack="machine", Key="v1.asl.json")["Arn"]
    described = aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    execution = run(aws, arn)

    assert json.loads(execution["output"]) == {"greeting": "hello", "count": 3, "flag": True, "version": "v1"}
    assert json.loads(described["definition"])["States"]["Answer"]["Result"]["count"] == 3
    log_group_arn = aws.client("logs").describe_log_groups()["logGroups"][0]["arn"]
    assert described["loggingConfiguration"] == {
        "level": "ALL",
        "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
    }
    assert described["tracingConfiguration"] == {"enabled": True}
    assert described["roleArn"] == ROLE_ARN


def test_given_a_new_definition_key_when_the_stack_is_updated_then_the_new_definition_runs(aws):
    upload_artifacts(aws)
    s3 = aws.client("s3")
    for version in ("v1", "v2"):
        s3.put_object(Bucket=BUCKET, Key=f"{version}.asl.json", Body=(S3_DEFINITION % version).encode())
    arn = deploy(aws, SUBSTITUTED, stack="machine", Key="v1.asl.json")["Arn"]

    deploy(aws, SUBSTITUTED, stack="machine", Key="v2.asl.json", Count=4)
    execution = run(aws, arn)

    assert json.loads(execution["output"]) == {"greeting": "hello", "count": 4, "flag": True, "version": "v2"}


def test_given_a_definition_object_when_deployed_then_it_runs(aws):
    template = json.dumps(
        {
            "Resources": {
                "Machine": {
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {
                        "RoleArn": ROLE_ARN,
                        "Definition": {
                            "StartAt": "Answer",
                            "States": {
                                "Answer": {"Type": "Pass", "Result": {"word": "${Word}"}, "End": True}
                            },
                        },
                        "DefinitionSubstitutions": {"Word": "object"},
                    },
                }
            },
            "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}},
        }
    )

    arn = deploy(aws, template, stack="machine")["Arn"]

    assert json.loads(run(aws, arn)["output"]) == {"word": "object"}


# --- patch: executions_get_unique_names -------------------------------------------


def test_given_no_execution_name_when_starting_twice_then_two_executions_with_uuid_names(aws):
    arn = deploy(aws, state_machine_template(ECHO), stack="machine")["Arn"]
    sfn = aws.client("stepfunctions")

    first = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]

    assert first != second
    for execution_arn in (first, second):
        assert UUID.match(execution_arn.split(":")[-1])
        assert finish(aws, execution_arn)["status"] == "SUCCEEDED"


# --- patch: lambda_task_errors_named_as_on_aws ------------------------------------


def test_given_a_task_on_a_missing_function_when_run_then_error_is_lambda_resource_not_found(aws):
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:does-not-exist"
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": missing,
                "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "ResultPath": "$.error",
                           "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    arn = deploy(aws, state_machine_template(definition), stack="machine")["Arn"]

    execution = run(aws, arn)

    assert execution["status"] == "SUCCEEDED", execution
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "Lambda.ResourceNotFoundException"
    assert "does-not-exist" in error["Cause"]


# --- patch: terminal_errors_escape_states_all -----------------------------------------


def caught_by_states_all(result_selector: dict) -> dict:
    """A machine whose only Task shapes its result with `result_selector` and catches
    `States.ALL`."""
    return {
        "StartAt": "Try",
        "States": {
            "Try": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
                "Parameters": {"ExecutionArn.$": "$$.Execution.Id"},
                "ResultSelector": result_selector,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }


def test_given_a_state_over_the_payload_quota_when_states_all_catches_then_the_execution_fails(aws):
    # 300,000 bytes of output: over the 262,144-byte quota.
    definition = caught_by_states_all({"pad": "x" * 300_000})
    arn = deploy(aws, state_machine_template(definition), stack="machine")["Arn"]

    execution = run(aws, arn)

    assert execution["status"] == "FAILED", execution.get("output", "")[:200]
    assert execution["error"] == "States.DataLimitExceeded"


# --- patch: change_sets_rebuild_outputs -----------------------------------------------

ECHO_PARAMETER = """
Description: echoes a parameter
Parameters:
  Greeting: {Type: String}
Resources:
  LogGroup:
    Type: AWS::Logs::LogGroup
Outputs:
  Echo: {Value: !Ref Greeting}
  LogGroup: {Value: !Ref LogGroup}
"""


def test_given_a_create_change_set_when_executed_then_the_stack_has_its_outputs(aws):
    deploy_change_set(aws, ECHO_PARAMETER, "echo", "CREATE", Greeting="hello")

    described = aws.client("cloudformation").describe_stacks(StackName="echo")["Stacks"][0]

    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert described["Description"] == "echoes a parameter"
    outputs = outputs_of(aws, "echo")
    assert outputs["Echo"] == "hello"
    assert outputs["LogGroup"].startswith("echo-LogGroup-")


def test_given_an_update_change_set_when_executed_then_outputs_show_the_new_values(aws):
    deploy_change_set(aws, ECHO_PARAMETER, "echo", "CREATE", Greeting="hello")

    deploy_change_set(aws, ECHO_PARAMETER, "echo", "UPDATE", Greeting="goodbye")

    assert outputs_of(aws, "echo")["Echo"] == "goodbye"
    parameters_now = aws.client("cloudformation").describe_stacks(StackName="echo")["Stacks"][0]["Parameters"]
    assert parameters_now == [{"ParameterKey": "Greeting", "ParameterValue": "goodbye"}]


# --- patch: unchanged_change_set_fails_without_changes ----------------------------------

NO_CHANGES = (
    "The submitted information didn't contain changes. Submit different information to create a change set."
)


def test_given_an_unchanged_template_when_creating_an_update_change_set_then_it_fails_without_changes(aws):
    upload_artifacts(aws)
    deploy_change_set(aws, STACK_TEMPLATE, "tgw-peering", "CREATE", ArtifactBucket=BUCKET, PollSeconds=1)
    cfn = aws.client("cloudformation")
    events_before = cfn.describe_stack_events(StackName="tgw-peering")["StackEvents"]

    # As awscli sends it: every parameter, unchanged ones as UsePreviousValue (a Number among them).
    cfn.create_change_set(
        StackName="tgw-peering", ChangeSetName="again", TemplateBody=STACK_TEMPLATE, ChangeSetType="UPDATE",
        Parameters=[{"ParameterKey": "ArtifactBucket", "ParameterValue": BUCKET},
                    {"ParameterKey": "PollSeconds", "UsePreviousValue": True}],
        Capabilities=["CAPABILITY_IAM"],
    )
    change_set = cfn.describe_change_set(StackName="tgw-peering", ChangeSetName="again")

    assert change_set["Status"] == "FAILED"
    assert change_set["ExecutionStatus"] == "UNAVAILABLE"
    assert change_set["StatusReason"] == NO_CHANGES
    assert cfn.describe_stack_events(StackName="tgw-peering")["StackEvents"] == events_before
    assert cfn.describe_stacks(StackName="tgw-peering")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_given_a_changed_parameter_when_creating_an_update_change_set_then_it_is_available(aws):
    deploy_change_set(aws, ECHO_PARAMETER, "echo", "CREATE", Greeting="hello")
    cfn = aws.client("cloudformation")

    cfn.create_change_set(StackName="echo", ChangeSetName="changed", TemplateBody=ECHO_PARAMETER,
                          ChangeSetType="UPDATE", Parameters=parameters({"Greeting": "bye"}))
    change_set = cfn.describe_change_set(StackName="echo", ChangeSetName="changed")

    assert (change_set["Status"], change_set["ExecutionStatus"]) == ("CREATE_COMPLETE", "AVAILABLE")


def aws_cli(aws: Aws, *args: str, endpoint_from_env: bool = False) -> subprocess.CompletedProcess:
    """The aws CLI against the local AWS: by --endpoint-url, or (as deploy.sh runs it) by
    AWS_ENDPOINT_URL, which also reaches the clients a command makes itself, such as the S3
    upload of `cloudformation deploy --s3-bucket`."""
    cli = Path(sys.executable).with_name("aws")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",
    }
    env.pop("AWS_PROFILE", None)
    endpoint = []
    if endpoint_from_env:
        env["AWS_ENDPOINT_URL"] = aws.url
    else:
        endpoint = ["--endpoint-url", aws.url]
    return subprocess.run([str(cli), *endpoint, *args], capture_output=True, text=True, env=env, timeout=120)


def test_given_an_unchanged_stack_when_aws_cloudformation_deploy_again_then_no_changes_and_exit_0(
    aws, tmp_path
):
    if not Path(sys.executable).with_name("aws").is_file():
        pytest.skip("needs the aws CLI next to this Python")
    upload_artifacts(aws)
    template = tmp_path / "stack.yaml"
    template.write_text(STACK_TEMPLATE)
    deploy_args = ["cloudformation", "deploy", "--template-file", str(template), "--stack-name",
                   "tgw-peering", "--capabilities", "CAPABILITY_IAM", "--no-fail-on-empty-changeset",
                   "--parameter-overrides", f"ArtifactBucket={BUCKET}"]

    created = aws_cli(aws, *deploy_args)
    cfn = aws.client("cloudformation")
    events = cfn.describe_stack_events(StackName="tgw-peering")["StackEvents"]
    again = aws_cli(aws, *deploy_args)
    events_after = cfn.describe_stack_events(StackName="tgw-peering")["StackEvents"]
    changed = aws_cli(aws, *deploy_args, "LogLevel=DEBUG")

    assert created.returncode == 0, created.stderr
    assert again.returncode == 0, again.stderr
    assert "No changes to deploy" in again.stdout
    assert events_after == events
    assert changed.returncode == 0, changed.stderr
    assert "Successfully created/updated stack" in changed.stdout
    stack = cfn.describe_stacks(StackName="tgw-peering")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {"ParameterKey": "LogLevel", "ParameterValue": "DEBUG"} in stack["Parameters"]


# --- patch: template_urls_on_the_local_endpoint_are_path_style --------------------------


def test_given_a_template_over_the_inline_limit_when_deploying_through_the_bucket_then_the_stack_is_made(
    aws, tmp_path
):
    if not Path(sys.executable).with_name("aws").is_file():
        pytest.skip("needs the aws CLI next to this Python")
    upload_artifacts(aws)
    template = tmp_path / "stack.yaml"
    # Over CloudFormation's 51,200-byte inline limit, as the tool's own template is: the CLI
    # uploads it to the bucket and passes a TemplateURL on the local endpoint.
    template.write_text(STACK_TEMPLATE + "\n" + "\n".join(f"# padding {i:05d} " + "x" * 60 for i in range(800)))
    assert template.stat().st_size > 51_200

    deployed = aws_cli(aws, "cloudformation", "deploy", "--template-file", str(template), "--stack-name", "big",
                       "--capabilities", "CAPABILITY_IAM", "--s3-bucket", BUCKET, "--s3-prefix", "templates",
                       "--parameter-overrides", f"ArtifactBucket={BUCKET}", endpoint_from_env=True)

    assert deployed.returncode == 0, deployed.stderr
    stack = aws.client("cloudformation").describe_stacks(StackName="big")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


# --- patch: functions_keep_logging_config ---------------------------------------------


def lambda_role(aws: Aws) -> str:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]}
    iam = aws.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="test", AssumeRolePolicyDocument=json.dumps(trust))
    return ROLE_ARN


def test_given_logging_config_when_creating_and_updating_a_function_then_lambda_returns_it(aws):
    upload_artifacts(aws)
    lam = aws.client("lambda")
    lam.create_function(
        FunctionName="fn", Runtime="provided.al2023", Role=lambda_role(aws), Handler="bootstrap",
        Code={"S3Bucket": BUCKET, "S3Key": "lambda/get-status.zip"},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"},
    )

    created = lam.get_function_configuration(FunctionName="fn")["LoggingConfig"]
    lam.update_function_configuration(FunctionName="fn", LoggingConfig={"LogFormat": "Text"})
    updated = lam.get_function_configuration(FunctionName="fn")["LoggingConfig"]

    assert created == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "INFO",
        "LogGroup": "/aws/lambda/fn",
    }
    assert updated == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}


def function_configuration(aws: Aws, output_arn: str) -> dict:
    return aws.client("lambda").get_function_configuration(FunctionName=output_arn)


def test_given_a_stack_function_with_logging_config_when_deployed_and_updated_then_it_is_kept(aws):
    upload_artifacts(aws)
    outputs = deploy(aws)

    created = function_configuration(aws, outputs["PeerFunctionArn"])["LoggingConfig"]
    deploy(aws, LogLevel="DEBUG")
    updated = function_configuration(aws, outputs["PeerFunctionArn"])["LoggingConfig"]

    expected = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN",
                "LogGroup": outputs["LogGroupName"]}
    assert created == expected
    assert updated == {**expected, "ApplicationLogLevel": "DEBUG"}


# --- patch: stack_functions_keep_architectures --------------------------------------------


def test_given_an_arm64_stack_function_when_deployed_then_it_is_arm64(aws):
    upload_artifacts(aws)
    outputs = deploy(aws)

    assert function_configuration(aws, outputs["PeerFunctionArn"])["Architectures"] == ["arm64"]


# --- patch: short_form_get_att_accepts_a_list ----------------------------------------------


def test_given_get_att_short_form_on_a_list_when_deployed_then_it_resolves(aws):
    template = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: "2012-10-17", Statement: []}
Outputs:
  ListForm: {Value: !GetAtt [Role, Arn]}
  DotForm: {Value: !GetAtt Role.Arn}
"""
    outputs = deploy(aws, template, stack="role")

    assert outputs["ListForm"] == outputs["DotForm"]
    assert outputs["ListForm"].startswith(f"arn:aws:iam::{ACCOUNT}:role/role-Role-")


# --- patch: stack_updates_follow_parameters_and_conditions -----------------------------------


def test_given_a_parameter_used_through_sub_when_it_changes_then_the_function_code_is_updated(aws):
    upload_artifacts(aws, prefix="v1")
    upload_artifacts(aws, prefix="v2")
    outputs = deploy(aws, ArtifactPrefix="v1")

    deploy(aws, ArtifactPrefix="v2")

    code = aws.client("lambda").get_function(FunctionName=outputs["PeerFunctionArn"])["Code"]
    assert code["Location"].endswith("/v2/peer.zip")


def rules(aws: Aws) -> dict[str, dict]:
    return {r["Name"]: r for r in aws.client("events").list_rules()["Rules"]}


def test_given_a_conditional_rule_when_its_condition_turns_true_then_false_then_created_then_deleted(aws):
    upload_artifacts(aws)
    deploy(aws)
    cfn = aws.client("cloudformation")

    with_schedule = deploy(aws, Schedule="rate(1 day)")
    scheduled = [r for r in rules(aws).values() if r.get("ScheduleExpression") == "rate(1 day)"]
    targets = aws.client("events").list_targets_by_rule(Rule=scheduled[0]["Name"])["Targets"]
    without_schedule = deploy(aws, Schedule="")

    assert len(scheduled) == 1 and with_schedule["ScheduleRuleArn"] == scheduled[0]["Arn"]
    assert [t["Arn"] for t in targets] == [with_schedule["StateMachineArn"]]
    assert cfn.describe_stacks(StackName="tgw-peering")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert [r for r in rules(aws).values() if r.get("ScheduleExpression")] == []
    assert "ScheduleRuleArn" not in without_schedule
    resources = cfn.describe_stack_resources(StackName="tgw-peering")["StackResources"]
    logical_ids = {r["LogicalResourceId"] for r in resources}
    assert "ScheduleRule" not in logical_ids


# --- patch: stack_resources_skip_false_conditions ---------------------------------------------


def test_given_a_false_condition_when_listing_stack_resources_then_the_resource_is_not_listed(aws):
    upload_artifacts(aws)
    deploy(aws)

    cfn = aws.client("cloudformation")
    resources = cfn.describe_stack_resources(StackName="tgw-peering")["StackResources"]

    assert all(r.get("LogicalResourceId") and r.get("PhysicalResourceId") for r in resources), resources
    assert {r["LogicalResourceId"] for r in resources} == {
        "LogGroup", "FunctionRole", "PeerFunction", "GetStatusFunction", "ModifyRoutesFunction",
        "StateMachineRole", "StateMachine", "EventsRole", "RequestRule", "StateTable",
    }


# --- patch: stack_roles_keep_their_policies, no_value_removes_list_items -------------------------

ROLE = """
Parameters:
  Service: {Type: String}
  Extra: {Type: String, Default: ""}
Conditions:
  HasExtra: !Not [!Equals [!Ref Extra, ""]]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: !Ref Service}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: base
          PolicyDocument:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: !Sub "${Service}:*", Resource: "*"}]
        - !If
          - HasExtra
          - PolicyName: !Ref Extra
            PolicyDocument:
              Version: "2012-10-17"
              Statement: [{Effect: Allow, Action: "logs:*", Resource: "*"}]
          - !Ref AWS::NoValue
Outputs:
  Name: {Value: !Ref Role}
"""


def test_given_an_if_returning_no_value_in_a_list_when_deployed_then_the_item_is_dropped(aws):
    name = deploy(aws, ROLE, stack="role", Service="lambda.amazonaws.com", Extra="")["Name"]

    assert aws.client("iam").list_role_policies(RoleName=name)["PolicyNames"] == ["base"]


def test_given_a_stack_role_when_reading_its_inline_policies_then_json_documents(aws):
    name = deploy(aws, ROLE, stack="role", Service="lambda.amazonaws.com", Extra="extra")["Name"]
    iam = aws.client("iam")

    names = iam.list_role_policies(RoleName=name)["PolicyNames"]
    base = iam.get_role_policy(RoleName=name, PolicyName="base")["PolicyDocument"]

    assert sorted(names) == ["base", "extra"]
    assert base == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda.amazonaws.com:*", "Resource": "*"}],
    }


def test_given_a_role_when_its_trust_and_policies_change_then_the_role_follows(aws):
    name = deploy(aws, ROLE, stack="role", Service="lambda.amazonaws.com", Extra="extra")["Name"]
    iam = aws.client("iam")

    deploy(aws, ROLE, stack="role", Service="states.amazonaws.com")

    role = iam.get_role(RoleName=name)["Role"]
    principal = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
    assert principal == {"Service": "states.amazonaws.com"}
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["base"]
    base = iam.get_role_policy(RoleName=name, PolicyName="base")["PolicyDocument"]
    assert base["Statement"][0]["Action"] == "states.amazonaws.com:*"


# --- patch: stack_log_groups_update_in_place / log_groups_keep_their_class -----------------------
# --- / log_group_arn_attribute_ends_with_star ------------------------------------------------

LOG_GROUP = """
Parameters:
  Retention: {Type: Number}
Resources:
  LogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      RetentionInDays: !Ref Retention
      LogGroupClass: INFREQUENT_ACCESS
Outputs:
  Name: {Value: !Ref LogGroup}
  Arn: {Value: !GetAtt LogGroup.Arn}
"""


def test_given_a_log_group_when_its_retention_changes_then_updated_in_place_and_still_referenced(aws):
    first = deploy(aws, LOG_GROUP, stack="logs", Retention=30)

    second = deploy(aws, LOG_GROUP, stack="logs", Retention=7)

    (group,) = aws.client("logs").describe_log_groups()["logGroups"]
    assert group["logGroupName"] == first["Name"]
    assert group["retentionInDays"] == 7
    assert second.get("Name") == first["Name"]


def test_given_a_log_group_class_when_deployed_or_created_then_described_with_it(aws):
    deploy(aws, LOG_GROUP, stack="logs", Retention=30)
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="api-standard")
    logs.create_log_group(logGroupName="api-infrequent", logGroupClass="INFREQUENT_ACCESS")

    classes = {g["logGroupName"]: g.get("logGroupClass") for g in logs.describe_log_groups()["logGroups"]}

    assert classes.pop("api-standard") == "STANDARD"
    assert classes.pop("api-infrequent") == "INFREQUENT_ACCESS"
    assert list(classes.values()) == ["INFREQUENT_ACCESS"]


def test_given_get_att_arn_of_a_log_group_when_deployed_then_it_ends_with_star(aws):
    outputs = deploy(aws, LOG_GROUP, stack="logs", Retention=30)

    (group,) = aws.client("logs").describe_log_groups()["logGroups"]
    assert outputs["Arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{outputs['Name']}:*"
    assert outputs["Arn"] == group["arn"]


# --- patch: events_start_state_machine_targets -----------------------------------------------

EVENTS = """
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: %(role)s
      DefinitionString: '{"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": true}}}'
  Requests:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [tgw-peering], detail-type: [Peering Requested]}
      Targets:
        - {Id: whole-event, Arn: !Ref Machine, RoleArn: %(role)s}
        - {Id: constant, Arn: !GetAtt Machine.Arn, RoleArn: %(role)s, Input: '{"constant": true}'}
        - {Id: detail-only, Arn: !Ref Machine, RoleArn: %(role)s, InputPath: $.detail}
Outputs:
  Arn: {Value: !Ref Machine}
""" % {"role": ROLE_ARN}


def test_given_a_rule_targeting_a_state_machine_when_a_matching_event_is_put_then_executions_start(aws):
    arn = deploy(aws, EVENTS, stack="events")["Arn"]
    events = aws.client("events")
    detail = {"activeRegion": REGION}

    put = events.put_events(Entries=[
        {"Source": "tgw-peering", "DetailType": "Peering Requested", "Detail": json.dumps(detail)},
        {"Source": "someone-else", "DetailType": "Peering Requested", "Detail": "{}"},
    ])
    sfn = aws.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    inputs = [json.loads(finish(aws, e["executionArn"])["input"]) for e in executions]

    assert put["FailedEntryCount"] == 0
    assert len(executions) == 3
    assert {"constant": True} in inputs
    assert detail in inputs
    (event,) = [i for i in inputs if i not in ({"constant": True}, detail)]
    assert set(event) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail",
    }
    assert event["source"] == "tgw-peering" and event["detail-type"] == "Peering Requested"
    assert event["detail"] == detail
    assert (event["account"], event["region"], event["resources"]) == (ACCOUNT, REGION, [])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", event["time"])



# --- patches: events_publish_to_sns_targets, input_transformer_output_stays_valid_json --------


def topic_read_back(aws: Aws) -> tuple[str, Any]:
    """A topic with an SQS queue subscribed, and a function that returns what reached the queue."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="notices")["TopicArn"]
    queue = sqs.create_queue(QueueName="notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def received() -> list[dict]:
        found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [json.loads(m["Body"]) for m in found.get("Messages", [])]

    return topic, received


def test_given_a_rule_targeting_an_sns_topic_when_a_matching_event_is_put_then_the_topic_gets_it(aws):
    topic, received = topic_read_back(aws)
    events = aws.client("events")
    events.put_rule(Name="notify", EventPattern=json.dumps({"source": ["tgw-peering"]}))
    events.put_targets(Rule="notify", Targets=[
        {"Id": "text", "Arn": topic, "InputTransformer": {
            "InputPathsMap": {"status": "$.detail.status"},
            "InputTemplate": '"the execution is <status>"'}},
        {"Id": "whole-event", "Arn": topic},
    ])

    put = events.put_events(Entries=[
        {"Source": "tgw-peering", "DetailType": "Status", "Detail": json.dumps({"status": "FAILED"})},
        {"Source": "someone-else", "DetailType": "Status", "Detail": json.dumps({"status": "FAILED"})},
    ])

    assert put["FailedEntryCount"] == 0
    messages = [m["Message"] for m in received()]
    assert len(messages) == 2
    assert "the execution is FAILED" in messages
    (whole,) = [json.loads(m) for m in messages if m != "the execution is FAILED"]
    assert (whole["source"], whole["detail"]) == ("tgw-peering", {"status": "FAILED"})


def test_given_a_string_value_with_quotes_and_a_line_break_when_transformed_then_it_arrives_intact(aws):
    topic, received = topic_read_back(aws)
    events = aws.client("events")
    events.put_rule(Name="notify", EventPattern=json.dumps({"source": ["tgw-peering"]}))
    events.put_targets(Rule="notify", Targets=[{"Id": "text", "Arn": topic, "InputTransformer": {
        "InputPathsMap": {"cause": "$.detail.cause"}, "InputTemplate": '"Cause: <cause>"'}}])
    cause = '{"errorType": "InvalidInput", "errorMessage": "a \\ b\nc"}'

    events.put_events(Entries=[{"Source": "tgw-peering", "DetailType": "Status",
                                "Detail": json.dumps({"cause": cause})}])

    assert [m["Message"] for m in received()] == [f"Cause: {cause}"]

# --- forwarding to the real binaries (--lambda-bin-dir) ------------------------------------


def functions_by_binary(aws: Aws) -> dict[str, str]:
    """Stack function name -> binary name, for reading /_harness/lambda."""
    return {
        f["FunctionName"]: f["FunctionName"].split("-")[1]
        for f in aws.client("lambda").list_functions()["Functions"]
    }


def ran(aws: Aws) -> list[tuple[str, str | None]]:
    """(binary name, errorType) of every invocation, in order."""
    return [(Path(i["binary"]).name, i["errorType"]) for i in aws.invocations()]


def create_gateways(aws: Aws) -> None:
    for region in (REGION, PEER_REGION):
        aws.client("ec2", region).create_transit_gateway(Description="tgw-peering test")


INVALID_STATUS_INPUT = {"attachmentId": "tgw-attach-0123456789abcdef0"}


def test_given_get_status_and_an_invalid_input_when_invoked_then_function_error_invalid_input(binaries):
    aws = binaries
    upload_artifacts(aws)
    deploy(aws)
    name = next(f for f in functions_by_binary(aws) if "GetStatusFunction" in f)

    response = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(INVALID_STATUS_INPUT))

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "InvalidInput"
    assert "activeRegion" in payload["errorMessage"]
    assert outcomes(aws.invocations()) == [
        {"function": name, "binary": str(aws.bin_dir / "get-status"), "ok": False,
         "errorType": "InvalidInput"}
    ]


def test_given_get_status_and_an_invalid_input_when_run_by_step_functions_then_the_task_fails_with_it(
    binaries,
):
    aws = binaries
    upload_artifacts(aws)
    deploy(aws)
    function_arn = next(
        f["FunctionArn"] for f in aws.client("lambda").list_functions()["Functions"]
        if "GetStatusFunction" in f["FunctionName"]
    )
    definition = {
        "StartAt": "GetStatus",
        "States": {"GetStatus": {"Type": "Task", "Resource": function_arn, "End": True}},
    }
    arn = deploy(aws, state_machine_template(definition), stack="machine")["Arn"]

    execution = run(aws, arn, INVALID_STATUS_INPUT)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "InvalidInput"
    cause = json.loads(execution["cause"])
    assert cause == {"errorType": "InvalidInput", "errorMessage": cause["errorMessage"]}
    failed = [e for e in history(aws, execution["executionArn"]) if e["type"] == "LambdaFunctionFailed"]
    assert failed[0]["lambdaFunctionFailedEventDetails"] == {
        "error": "InvalidInput", "cause": execution["cause"]
    }
    assert ran(aws) == [("get-status", "InvalidInput")]


def test_given_the_stack_when_a_peering_is_requested_then_peer_status_and_routes_run_once_each(binaries):
    aws = binaries
    upload_artifacts(aws)
    create_gateways(aws)
    arn = deploy(aws, PollSeconds=1)["StateMachineArn"]

    started = time.monotonic()
    execution = run(aws, arn, {})
    elapsed = time.monotonic() - started

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["status"] == "available" and output["attachmentId"].startswith("tgw-attach-")
    assert states_entered(aws, execution["executionArn"]) == [
        "Peer", "StartPolling", "Wait", "GetStatus", "CountPoll", "Available?", "ModifyRoutes",
    ]
    assert ran(aws) == [("peer", None), ("get-status", None), ("modify-routes", None)]
    assert elapsed >= 1  # the Wait state's SecondsPath


def test_given_a_slow_peering_when_run_then_it_polls_accepts_and_polls_until_available(binaries):
    aws = binaries
    upload_artifacts(aws)
    create_gateways(aws)
    arn = deploy(aws)["StateMachineArn"]
    # Short times, polled back to back (PollSeconds 0): a few get-status runs in each state, well
    # under the poll limit.
    aws.harness("POST", "peering", {"initiatingRequestSeconds": 0.2, "pendingSeconds": 0.2})

    execution = run(aws, arn, {})

    assert execution["status"] == "SUCCEEDED", execution
    entered = states_entered(aws, execution["executionArn"])
    assert entered.count("Accept") == 1
    assert entered[-1] == "ModifyRoutes"
    binaries_run = [name for name, _ in ran(aws)]
    # How many polls each state takes depends on how fast the functions run; the shape does not.
    accept = binaries_run.index("peer", 1)
    assert binaries_run[0] == "peer" and binaries_run[-1] == "modify-routes"
    assert binaries_run.count("peer") == 2  # create, then accept
    assert "get-status" in binaries_run[1:accept] and "get-status" in binaries_run[accept:-1]


def test_given_ec2_throttles_peer_once_when_run_then_retried_on_throttled_and_succeeds(binaries):
    aws = binaries
    upload_artifacts(aws)
    create_gateways(aws)
    arn = deploy(aws)["StateMachineArn"]  # functions get AWS_MAX_ATTEMPTS=1: no SDK retry
    aws.harness("POST", "faults", {"action": "DescribeTransitGateways", "times": 1})

    execution = run(aws, arn, {})

    assert execution["status"] == "SUCCEEDED", execution
    assert ran(aws)[:2] == [("peer", "Throttled"), ("peer", None)]
    assert states_entered(aws, execution["executionArn"])[:2] == ["Peer", "StartPolling"]


def test_given_a_failed_peering_when_run_then_fail_state_with_error_path_and_formatted_cause(binaries):
    aws = binaries
    upload_artifacts(aws)
    create_gateways(aws)
    arn = deploy(aws)["StateMachineArn"]
    aws.harness("POST", "peering", {"initiatingRequestSeconds": 0.2, "outcome": "failed"})

    execution = run(aws, arn, {})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "failed"
    assert re.fullmatch(
        r"peering attachment tgw-attach-[0-9a-f]+ is failed; delete it and run again", execution["cause"]
    )


def test_given_a_peering_that_never_gets_ready_when_run_then_static_fail_after_the_poll_limit(binaries):
    aws = binaries
    upload_artifacts(aws)
    create_gateways(aws)
    arn = deploy(aws)["StateMachineArn"]
    aws.harness("POST", "peering", {"initiatingRequestSeconds": 3600})

    execution = run(aws, arn, {})

    assert (execution["status"], execution["error"]) == ("FAILED", "PeeringTimedOut")
    assert execution["cause"] == "the peering attachment did not become available in time"
    assert [name for name, _ in ran(aws)].count("get-status") == 15  # States.StringToJson('15')


def test_given_an_invalid_request_when_run_then_caught_and_failed_with_the_function_error(binaries):
    aws = binaries
    upload_artifacts(aws)
    arn = deploy(aws)["StateMachineArn"]

    execution = run(aws, arn, {"activeRegion": 5})

    assert (execution["status"], execution["error"]) == ("FAILED", "InvalidInput")
    assert json.loads(execution["cause"])["errorType"] == "InvalidInput"
    assert states_entered(aws, execution["executionArn"]) == ["Peer", "Failed"]


def test_given_the_stack_when_a_peering_request_event_is_put_then_the_state_machine_peers(binaries):
    aws = binaries
    upload_artifacts(aws)
    create_gateways(aws)
    arn = deploy(aws)["StateMachineArn"]

    aws.client("events").put_events(Entries=[{
        "Source": "tgw-peering", "DetailType": "Peering Requested",
        "Detail": json.dumps({"activeRegion": REGION, "passiveRegion": PEER_REGION}),
    }])
    (listed,) = aws.client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
    execution = finish(aws, listed["executionArn"])

    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"])["status"] == "available"


def test_given_json_logging_config_when_functions_run_then_json_logs_at_the_configured_level(binaries):
    aws = binaries
    upload_artifacts(aws)
    create_gateways(aws)
    arn = deploy(aws, LogLevel="ERROR")["StateMachineArn"]
    get_status = next(f for f in functions_by_binary(aws) if "GetStatusFunction" in f)

    run(aws, arn, {})
    quiet = aws.log(get_status)
    deploy(aws, LogLevel="INFO")  # a configuration change: a new process with the new level
    run(aws, arn, {})
    chatty = aws.log(get_status)[len(quiet):]

    assert all(json.loads(line) for line in chatty.splitlines()), chatty
    assert not [line for line in quiet.splitlines() if '"level":"INFO"' in line], quiet
    assert [line for line in chatty.splitlines() if '"level":"INFO"' in line and "peering status" in line]


# --- forwarding: function processes (fake_runtime.py as the binary) ----------------------------


def fake_function(
    fake: Aws, name: str, binary: str = "get-status", region: str = REGION, **config: Any
) -> str:
    s3 = fake.client("s3", region)
    with contextlib.suppress(ClientError):
        s3.create_bucket(Bucket=BUCKET, **(
            {"CreateBucketConfiguration": {"LocationConstraint": region}} if region != "us-east-1" else {}
        ))
    s3.put_object(Bucket=BUCKET, Key=f"build/{binary}.zip", Body=zip_of(binary))
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]}
    iam = fake.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="test", AssumeRolePolicyDocument=json.dumps(trust))
        # IAM is enforced on the functions' calls; these stand-ins may call anything.
        allow_execution_role(fake, {"Effect": "Allow", "Action": "*", "Resource": "*"})
    return fake.client("lambda", region).create_function(
        FunctionName=name, Runtime="provided.al2023", Role=ROLE_ARN, Handler="bootstrap",
        Code={"S3Bucket": BUCKET, "S3Key": f"build/{binary}.zip"}, **config,
    )["FunctionArn"]


def invoke(fake: Aws, name: str, event: Any, region: str = REGION, **kwargs: Any) -> tuple[str | None, Any]:
    response = fake.client("lambda", region).invoke(FunctionName=name, Payload=json.dumps(event), **kwargs)
    return response.get("FunctionError"), json.loads(response["Payload"].read() or b"null")


def test_given_a_function_when_invoked_then_its_process_gets_lambdas_environment_only(fake):
    fake_function(
        fake, "configured", region=PEER_REGION, MemorySize=256,
        Environment={"Variables": {"VPC_TAG_KEY": "peer"}},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "LogGroup": "/tgw/peering"},
    )

    error, payload = invoke(fake, "configured", {"fake": "env"}, region=PEER_REGION)

    assert error is None
    env = payload["env"]
    runtime_api = env.pop("AWS_LAMBDA_RUNTIME_API")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\.rt/get-status", runtime_api)
    env.pop("LC_CTYPE", None)  # Python's own C-locale coercion (PEP 538) in the fake runtime
    # A session of the execution role (functions_run_as_their_execution_role, tested below).
    assert env.pop("AWS_ACCESS_KEY_ID").startswith("ASIA")
    secrets = {k: v for k, v in lambda_runner.FUNCTION_CREDENTIALS.items() if k != "AWS_ACCESS_KEY_ID"}
    assert env == {
        "VPC_TAG_KEY": "peer",
        "AWS_REGION": PEER_REGION,
        "AWS_DEFAULT_REGION": PEER_REGION,
        "AWS_LAMBDA_FUNCTION_NAME": "configured",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/tgw/peering",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
        "_HANDLER": "bootstrap",
        **secrets,
        "AWS_ENDPOINT_URL": fake.url,
        "PATH": env["PATH"],
    }
    assert SERVER_ONLY_VARIABLE not in env


def test_given_text_logging_when_invoked_then_no_log_format_and_the_default_log_group(fake):
    fake_function(fake, "plain")

    _, payload = invoke(fake, "plain", {"fake": "env"})

    assert "AWS_LAMBDA_LOG_FORMAT" not in payload["env"] and "AWS_LAMBDA_LOG_LEVEL" not in payload["env"]
    assert payload["env"]["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/plain"
    assert "event {\"fake\": \"env\"}" in fake.log("plain")


def test_given_an_unchanged_function_when_invoked_again_then_the_same_process_serves_it(fake):
    fake_function(fake, "fn")

    first = invoke(fake, "fn", {"n": 1})[1]
    second = invoke(fake, "fn", {"n": 2})[1]

    assert first["pid"] == second["pid"]
    assert (first["event"], second["event"]) == ({"n": 1}, {"n": 2})


def test_given_a_configuration_change_when_invoked_then_a_new_process_with_the_new_configuration(fake):
    fake_function(fake, "fn", Environment={"Variables": {"GENERATION": "1"}})
    first = invoke(fake, "fn", {})[1]

    fake.client("lambda").update_function_configuration(
        FunctionName="fn", Environment={"Variables": {"GENERATION": "2"}}
    )
    second = invoke(fake, "fn", {})[1]

    assert second["pid"] != first["pid"]
    assert (first["env"]["GENERATION"], second["env"]["GENERATION"]) == ("1", "2")


def test_given_two_functions_on_one_binary_when_invoked_in_turn_then_each_gets_its_own_events(fake):
    fake_function(fake, "one", Environment={"Variables": {"WHO": "one"}})
    fake_function(fake, "two", Environment={"Variables": {"WHO": "two"}})

    answers = [invoke(fake, name, {"to": name})[1] for name in ("one", "two", "one")]

    assert [(a["env"]["WHO"], a["event"]["to"]) for a in answers] == [
        ("one", "one"), ("two", "two"), ("one", "one"),
    ]


def test_given_a_function_error_when_invoked_then_unhandled_with_the_runtimes_error_body(fake):
    fake_function(fake, "fn")

    error, payload = invoke(fake, "fn", {"fake": "error", "errorType": "PeeringFailed"})

    assert error == "Unhandled"
    assert payload == {"errorType": "PeeringFailed", "errorMessage": "fake PeeringFailed"}
    assert outcomes(fake.invocations()) == [
        {"function": "fn", "binary": str(fake.bin_dir / "get-status"), "ok": False,
         "errorType": "PeeringFailed"}
    ]


# --- patch: functions_run_as_their_execution_role ----------------------------------------------


def as_function(aws: Aws, env: dict[str, str], service: str) -> Any:
    """A client signing with the credentials a function's process was given."""
    return boto3.client(
        service, region_name=env["AWS_REGION"], endpoint_url=aws.url,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"],
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def allow_execution_role(aws: Aws, *statements: dict) -> None:
    """Give the functions' execution role ("test") an inline policy of these statements."""
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    aws.client("iam").put_role_policy(RoleName="test", PolicyName="permissions", PolicyDocument=json.dumps(document))


def test_given_a_function_when_invoked_then_it_acts_as_a_session_of_its_execution_role(fake):
    # AWS (Lambda execution role; defined runtime environment variables): the process gets the
    # temporary credentials of its role's session `assumed-role/<role name>/<function name>`.
    fake_function(fake, "as-its-role")
    other_account = "111122223333"
    iam_b = fake.client("iam")
    iam_b.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", other_account)
    )
    iam_b.create_role(RoleName="trusts-the-function-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "sts:AssumeRole"}],
    }))
    # Across accounts, the execution role must also be allowed to assume it (IAM is enforced).
    allow_execution_role(fake, {"Effect": "Allow", "Action": "sts:AssumeRole",
                                "Resource": f"arn:aws:iam::{other_account}:role/trusts-the-function-role"})

    first = invoke(fake, "as-its-role", {"fake": "env"})[1]
    second = invoke(fake, "as-its-role", {"fake": "env"})[1]
    sts = as_function(fake, first["env"], "sts")

    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/test/as-its-role"
    # A trust policy naming only the execution role's ARN, as on AWS, lets the function in.
    assumed = sts.assume_role(
        RoleArn=f"arn:aws:iam::{other_account}:role/trusts-the-function-role", RoleSessionName="passive"
    )
    assert assumed["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{other_account}:assumed-role/")
    # One session per function and role: the same process keeps serving it.
    assert (second["pid"], second["env"]["AWS_ACCESS_KEY_ID"]) == (first["pid"], first["env"]["AWS_ACCESS_KEY_ID"])


# --- patch: function_calls_need_their_roles_permissions -------------------------------------------


def test_given_a_functions_role_allowed_one_action_when_its_process_calls_another_then_unauthorized(fake):
    # AWS: every call a function makes is authorized against its execution role's policies; EC2
    # refuses the others with UnauthorizedOperation (HTTP 403).
    fake_function(fake, "limited")
    allow_execution_role(fake, {"Effect": "Allow", "Action": "ec2:DescribeVpcs", "Resource": "*"})
    env = invoke(fake, "limited", {"fake": "env"})[1]["env"]
    ec2 = as_function(fake, env, "ec2")

    ec2.describe_vpcs()
    with pytest.raises(ClientError) as refused:
        ec2.describe_transit_gateways()

    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Code"] == "UnauthorizedOperation"
    assert error["Error"]["Message"] == (
        f"You are not authorized to perform this operation. User: arn:aws:sts::{ACCOUNT}:assumed-role/test/limited "
        "is not authorized to perform: ec2:DescribeTransitGateways on resource: * because no identity-based "
        "policy allows the ec2:DescribeTransitGateways action"
    )


# --- patch: runtime_deadline_is_an_epoch_date --------------------------------------------------


def test_given_a_timeout_when_invoked_then_the_deadline_is_the_date_it_times_out_in_unix_ms(fake):
    # AWS: Lambda-Runtime-Deadline-Ms is "the date that the function times out in Unix time
    # milliseconds", counted from when the function takes the invocation.
    fake_function(fake, "timed", Timeout=42)

    before = time.time()
    _, payload = invoke(fake, "timed", {"fake": "env"})
    after = time.time()

    deadline = int(payload["deadlineMs"]) / 1000
    assert before + 42 - 0.001 <= deadline <= after + 42


def test_given_a_function_slower_than_its_timeout_when_invoked_then_sandbox_timedout_then_recovers(fake):
    fake_function(fake, "slow", Timeout=1)

    started = time.monotonic()
    error, payload = invoke(fake, "slow", {"fake": "sleep", "seconds": 30})
    elapsed = time.monotonic() - started
    after = invoke(fake, "slow", {"n": 1})

    assert error == "Unhandled"
    assert payload == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    assert 1 <= elapsed < 10
    assert after[0] is None and after[1]["event"] == {"n": 1}


def test_given_a_process_that_exits_mid_invocation_when_invoked_then_runtime_exit_error(fake):
    fake_function(fake, "dies")

    error, payload = invoke(fake, "dies", {"fake": "exit", "code": 3})
    after = invoke(fake, "dies", {"n": 1})

    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert after[0] is None and after[1]["event"] == {"n": 1}


def test_given_a_process_that_exits_at_start_when_invoked_then_exit_error_and_its_event_is_dropped(fake):
    fake_function(fake, "broken", Environment={"Variables": {"FAKE_EXIT_AT_START": "2"}})

    error, payload = invoke(fake, "broken", {"n": "lost"})
    fake.client("lambda").update_function_configuration(FunctionName="broken", Environment={"Variables": {}})
    after = invoke(fake, "broken", {"n": "next"})

    assert (error, payload["errorType"]) == ("Unhandled", "Runtime.ExitError")
    assert payload["errorMessage"].endswith("exit status 2")
    assert after[0] is None and after[1]["event"] == {"n": "next"}


def test_given_no_binary_for_the_code_when_invoked_then_an_error_naming_the_path(fake):
    fake_function(fake, "unbuilt", binary="modify-routes")

    error, payload = invoke(fake, "unbuilt", {})

    assert error == "Unhandled"
    assert payload["errorType"] == "Runtime.InvalidEntrypoint"
    assert str(fake.bin_dir / "modify-routes") in payload["errorMessage"]


def test_given_log_type_tail_when_invoked_then_the_invocations_log_lines(fake):
    fake_function(fake, "fn")

    response = fake.client("lambda").invoke(FunctionName="fn", Payload=b'{"n": 7}', LogType="Tail")

    assert 'event {"n": 7}' in base64.b64decode(response["LogResult"]).decode()


def test_given_an_event_invocation_when_invoked_then_202_and_it_runs(fake):
    fake_function(fake, "fn")

    response = fake.client("lambda").invoke(FunctionName="fn", Payload=b'{"n": 1}', InvocationType="Event")
    deadline = time.monotonic() + 10
    while not fake.invocations() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert response["StatusCode"] == 202
    assert [(i["function"], i["ok"]) for i in fake.invocations()] == [("fn", True)]


def test_given_invocations_when_listed_then_each_has_its_measurements(fake):
    fake_function(fake, "fn")
    fake.harness("POST", "faults", {"action": "DescribeVpcs", "times": 1})

    invoke(fake, "fn", {"fake": "ec2", "actions": ["DescribeVpcs", "DescribeVpcs", "DescribeTransitGateways",
                                                    "dynamodb:ListTables"]})
    invoke(fake, "fn", {"fake": "sleep", "seconds": 0.3})
    first, second = fake.invocations()

    # The first invoke started the process, and is timed from its start; the second reused it.
    assert (first["coldStart"], second["coldStart"]) == (True, False)
    assert first["durationMs"] > 0
    assert second["durationMs"] >= 300  # a lower bound only: it slept that long
    # When each ran, as wall-clock UTC text: in order, not overlapping, and as long as measured.
    assert first["startedAt"] < first["endedAt"] <= second["startedAt"] < second["endedAt"]
    span = (datetime.datetime.fromisoformat(second["endedAt"].replace("Z", "+00:00"))
            - datetime.datetime.fromisoformat(second["startedAt"].replace("Z", "+00:00")))
    assert abs(span.total_seconds() * 1000 - second["durationMs"]) < 50
    # The fake runtime is a Python process: its peak resident set is a few MiB at least.
    assert first["peakRssKiB"] > 1024 and second["peakRssKiB"] >= first["peakRssKiB"]
    # The EC2 calls counted while each invocation ran, by Region, and which were throttled, and
    # moto's own time answering those that reached it (the throttled one did not).
    server_ms = first["ec2Calls"].pop("serverMs")
    busy_ms = first["ec2Calls"].pop("serverBusyMs")
    assert first["ec2Calls"] == {
        "byRegion": {REGION: {"DescribeVpcs": 2, "DescribeTransitGateways": 1}},
        "throttled": {"DescribeVpcs": 1},
    }
    assert set(server_ms) == {REGION} and set(server_ms[REGION]) == {"DescribeVpcs", "DescribeTransitGateways"}
    assert all(0 < ms <= first["durationMs"] for ms in server_ms[REGION].values())
    assert 0 < busy_ms <= first["durationMs"]
    assert second["ec2Calls"] == {"byRegion": {}, "throttled": {}, "serverMs": {}, "serverBusyMs": 0}
    # The state table's calls are counted apart, and only for the invocation that made them.
    assert first["dynamodbCalls"] == {"byRegion": {REGION: {"ListTables": 1}}}
    assert "dynamodbCalls" not in second


def test_given_a_function_that_computes_when_invoked_then_its_own_cpu_time_is_measured(fake):
    # Given a function process that uses 0.4 s of CPU in one invocation and sleeps in another
    fake_function(fake, "fn")
    invoke(fake, "fn", {})

    # When
    invoke(fake, "fn", {"fake": "spin", "cpuSeconds": 0.4})
    invoke(fake, "fn", {"fake": "sleep", "seconds": 0.4})
    cold, busy, idle = fake.invocations()

    # Then each warm invocation counts only the CPU its process used while it ran: at least what
    # it spun (less a clock tick), and less than its wall time while it slept; the cold one
    # counts the process's start-up too
    assert cold["cpuMs"] > 0
    assert busy["cpuMs"] >= 400 - 10
    assert idle["cpuMs"] < 400 <= idle["durationMs"]


def test_given_invocations_when_resetting_the_lambda_log_then_it_is_empty(fake):
    fake_function(fake, "fn")
    invoke(fake, "fn", {})

    before = fake.invocations()
    reset = fake.harness("POST", "lambda/reset")

    assert len(before) == 1
    assert reset == {"invocations": []} and fake.invocations() == []


def test_given_a_running_function_when_resetting_everything_then_its_process_is_stopped(fake):
    fake_function(fake, "fn")
    first = invoke(fake, "fn", {})[1]

    fake.harness("POST", "reset")
    fake_function(fake, "fn")  # the same function again: same configuration
    second = invoke(fake, "fn", {})[1]

    assert second["pid"] != first["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(first["pid"], 0)


def test_given_a_function_error_in_a_task_when_run_then_error_is_the_error_type_and_cause_the_payload(fake):
    arn = fake_function(fake, "fn")
    definition = {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": arn, "End": True}},
    }
    machine = deploy(fake, state_machine_template(definition), stack="machine")["Arn"]

    execution = run(fake, machine, {"fake": "error", "errorType": "PeeringNotReady"})

    assert (execution["status"], execution["error"]) == ("FAILED", "PeeringNotReady")
    assert json.loads(execution["cause"]) == {
        "errorType": "PeeringNotReady", "errorMessage": "fake PeeringNotReady"
    }


def test_given_a_throttled_task_with_retry_when_run_then_retried_with_backoff_and_jitter_and_succeeds(fake):
    arn = fake_function(fake, "fn")
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task", "Resource": arn, "ResultPath": "$.result",
                "Retry": [{
                    "ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException", "Throttled"],
                    "IntervalSeconds": 1, "BackoffRate": 2, "MaxAttempts": 3, "JitterStrategy": "FULL",
                }],
                "End": True,
            }
        },
    }
    machine = deploy(fake, state_machine_template(definition), stack="machine")["Arn"]

    execution = run(fake, machine, {"fake": "flaky", "failures": 2, "errorType": "Throttled"})

    assert execution["status"] == "SUCCEEDED", execution
    assert [i["errorType"] for i in fake.invocations()] == ["Throttled", "Throttled", None]


def test_given_a_timed_out_task_when_run_then_caught_as_sandbox_timedout(fake):
    arn = fake_function(fake, "slow", Timeout=1)
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": arn,
                     "Catch": [{"ErrorEquals": ["Sandbox.Timedout"], "ResultPath": "$.error",
                                "Next": "Caught"}],
                     "End": True},
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine = deploy(fake, state_machine_template(definition), stack="machine")["Arn"]

    execution = run(fake, machine, {"fake": "sleep", "seconds": 30})

    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(json.loads(execution["output"])["error"]["Cause"])["errorType"] == "Sandbox.Timedout"


# --- patch: stack_function_updates_reset_removed_properties ---------------------------------------

FUNCTION = """
Parameters:
  Configured: {Type: String}
Conditions:
  IsConfigured: !Equals [!Ref Configured, "yes"]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt Role.Arn
      Code: {S3Bucket: %(bucket)s, S3Key: lambda/peer.zip}
      Environment: !If [IsConfigured, {Variables: {ACTIVE_REGION: eu-west-1}}, !Ref AWS::NoValue]
      Timeout: !If [IsConfigured, 60, !Ref AWS::NoValue]
      MemorySize: !If [IsConfigured, 512, !Ref AWS::NoValue]
      Description: !If [IsConfigured, configured, !Ref AWS::NoValue]
Outputs:
  Arn: {Value: !GetAtt Function.Arn}
""" % {"bucket": BUCKET}


def test_given_function_properties_removed_from_the_template_when_updated_then_lambdas_defaults(aws):
    upload_artifacts(aws)
    arn = deploy(aws, FUNCTION, stack="function", Configured="yes")["Arn"]
    configured = function_configuration(aws, arn)

    deploy(aws, FUNCTION, stack="function", Configured="no")
    reset = function_configuration(aws, arn)

    assert configured["Environment"] == {"Variables": {"ACTIVE_REGION": "eu-west-1"}}
    assert (configured["Timeout"], configured["MemorySize"], configured["Description"]) == (60, 512, "configured")
    assert "Environment" not in reset or reset["Environment"].get("Variables") in ({}, None)
    assert (reset["Timeout"], reset["MemorySize"], reset["Description"]) == (3, 128, "")


# --- patch: stack_function_environment_values_are_strings -----------------------------------------

NUMBER_ENVIRONMENT = """
Parameters:
  Quota: {Type: Number, Default: 50}
  Ratio: {Type: Number, Default: "0.5"}
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt Role.Arn
      Code: {S3Bucket: %(bucket)s, S3Key: lambda/peer.zip}
      Environment:
        Variables:
          QUOTA: !Ref Quota
          RATIO: !Ref Ratio
          ATTEMPTS: 3
          ENABLED: true
          REGION_NAME: eu-west-1
Outputs:
  Arn: {Value: !GetAtt Function.Arn}
""" % {"bucket": BUCKET}


def test_given_number_and_boolean_environment_values_in_a_stack_function_then_lambda_returns_strings(aws):
    upload_artifacts(aws)
    lam = aws.client("lambda")
    arn = deploy(aws, NUMBER_ENVIRONMENT, stack="environment")["Arn"]
    created = function_configuration(aws, arn)["Environment"]["Variables"]

    deploy(aws, NUMBER_ENVIRONMENT, stack="environment", Quota=60, Ratio="1.25")
    updated = function_configuration(aws, arn)["Environment"]["Variables"]

    literal = {"ATTEMPTS": "3", "ENABLED": "true", "REGION_NAME": "eu-west-1"}
    assert created == {"QUOTA": "50", "RATIO": "0.5", **literal}
    assert updated == {"QUOTA": "60", "RATIO": "1.25", **literal}
    # As tests/stack does: read the variables back and hand them to UpdateFunctionConfiguration.
    lam.update_function_configuration(FunctionName=arn, Environment={"Variables": {**updated, "EXTRA": "x"}})
    assert function_configuration(aws, arn)["Environment"]["Variables"] == {**updated, "EXTRA": "x"}


# --- patch: context_object_times_are_iso_strings -----------------------------------------


def test_given_context_times_when_passed_on_then_they_are_aws_iso_strings_that_sort_as_times(aws):
    definition = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Pass", "Parameters": {"started.$": "$$.Execution.StartTime",
                                                     "entered.$": "$$.State.EnteredTime"},
                      "ResultPath": "$.first", "Next": "Second"},
            "Second": {"Type": "Pass", "Parameters": {"entered.$": "$$.State.EnteredTime",
                                                      "text.$": "States.JsonToString($.first)"},
                       "ResultPath": "$.second", "Next": "Later"},
            "Later": {"Type": "Choice", "Choices": [
                {"Variable": "$.first.entered", "StringLessThanEqualsPath": "$.second.entered", "Next": "InOrder"}],
                "Default": "OutOfOrder"},
            "InOrder": {"Type": "Succeed"},
            "OutOfOrder": {"Type": "Fail", "Error": "OutOfOrder"},
        },
    }
    arn = deploy(aws, state_machine_template(definition), stack="machine")["Arn"]

    execution = run(aws, arn)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    aws_time = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    for value in (output["first"]["started"], output["first"]["entered"], output["second"]["entered"]):
        assert aws_time.match(value), value
    assert output["first"]["started"] <= output["first"]["entered"]
    assert json.loads(output["second"]["text"]) == output["first"]


# --- patch: aws_sdk_tasks_take_pascal_case_parameters -------------------------------------


def test_given_an_aws_sdk_sfn_task_when_run_then_it_takes_and_returns_pascal_case(aws):
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
                         "Parameters": {"ExecutionArn.$": "$$.Execution.Id"}, "ResultPath": "$.self",
                         "Next": "Missing"},
            "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
                        "Parameters": {"ExecutionArn.$": "States.Format('{}-gone', $$.Execution.Id)"},
                        "Catch": [{"ErrorEquals": ["Sfn.ExecutionDoesNotExistException"],
                                   "ResultPath": "$.missing", "Next": "Done"}],
                        "End": True},
            "Done": {"Type": "Succeed"},
        },
    }
    arn = deploy(aws, state_machine_template(definition), stack="machine")["Arn"]

    execution = run(aws, arn)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["self"]["Status"] == "RUNNING"
    assert output["self"]["ExecutionArn"] == execution["executionArn"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", output["self"]["StartDate"])
    assert output["missing"]["Error"] == "Sfn.ExecutionDoesNotExistException"


# --- patch: child_executions_take_and_return_pascal_case -----------------------------------


def test_given_a_child_execution_task_when_run_then_it_takes_and_returns_pascal_case(aws):
    def start_child(kind: str) -> dict:
        return {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "Input": {"child": kind}}}

    definition = {
        "StartAt": "Which",
        "States": {
            "Which": {"Type": "Choice", "Default": "Succeeds",
                      "Choices": [{"Variable": "$.child", "StringEquals": "ok", "Next": "ChildOk"},
                                  {"Variable": "$.child", "StringEquals": "fail", "Next": "ChildFails"}]},
            "ChildOk": {"Type": "Pass", "Result": {"answer": 42}, "End": True},
            "ChildFails": {"Type": "Fail", "Error": "ChildError", "Cause": "on purpose"},
            "Succeeds": {**start_child("ok"), "ResultPath": "$.ok", "Next": "Fails"},
            "Fails": {**start_child("fail"), "End": True,
                      "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed", "Next": "Done"}]},
            "Done": {"Type": "Succeed"},
        },
    }
    arn = deploy(aws, state_machine_template(definition), stack="parent")["Arn"]

    execution = run(aws, arn)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["ok"]["Status"] == "SUCCEEDED"
    assert output["ok"]["Output"] == {"answer": 42}, "Output is JSON with .sync:2"
    assert output["ok"]["ExecutionArn"].startswith("arn:aws:states:")
    assert output["failed"]["Error"] == "States.TaskFailed"
    child = json.loads(output["failed"]["Cause"])
    assert (child["Status"], child["Error"], child["Cause"]) == ("FAILED", "ChildError", "on purpose")


# --- patch: dynamodb_conditional_writes_are_atomic ----------------------------------------


def test_given_concurrent_conditional_updates_when_racing_then_exactly_one_wins_each_value(aws):
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName="counter", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.put_item(TableName="counter", Item={"pk": {"S": "n"}, "n": {"N": "0"}})
    won = []

    def bump(worker: int) -> None:
        client = aws.client("dynamodb")
        for _ in range(40):
            seen = client.get_item(TableName="counter", Key={"pk": {"S": "n"}}, ConsistentRead=True)["Item"]["n"]["N"]
            try:
                client.update_item(
                    TableName="counter", Key={"pk": {"S": "n"}},
                    UpdateExpression="SET n = :next, lastBy = :me",
                    ConditionExpression="n = :seen",
                    ExpressionAttributeValues={":seen": {"N": seen}, ":next": {"N": str(int(seen) + 1)},
                                               ":me": {"S": str(worker)}})
                won.append(int(seen))
            except ddb.exceptions.ConditionalCheckFailedException:
                pass

    threads = [threading.Thread(target=bump, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = int(ddb.get_item(TableName="counter", Key={"pk": {"S": "n"}})["Item"]["n"]["N"])
    # Each value of n is won by exactly one update: no two updates saw the same n and both wrote.
    assert sorted(won) == list(range(final)), f"{len(won)} updates succeeded for {final} values"
