"""Monkeypatches that close gaps between moto 5.2.5 and documented AWS
behaviour for what deploying and running tgw-peering's stack takes:
CloudFormation (stacks, change sets, the resource types the template uses),
Step Functions (with its interpreter on: server.py --stepfunctions), Lambda
and EventBridge.

Each patch is a function named after the gap it fills; patches.PATCHES lists
them after the EC2 ones, and `--skip-patch NAME` leaves one out.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from typing import Any

# --- Step Functions in CloudFormation ------------------------------------------


class _ApiBackends:
    """Stands in for moto's `stepfunctions_backends`: `[account][region]` is
    the backend the Step Functions API reads (responses.get_backend);
    anything else goes to the real BackendDict."""

    def __init__(self, backends: Any) -> None:
        self._backends = backends

    def __getitem__(self, account_id: str) -> Any:
        from moto.stepfunctions.responses import get_backend

        class _Regions:
            def __getitem__(self, region_name: str) -> Any:
                return get_backend(account_id, region_name)

        return _Regions()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backends, name)

    def __iter__(self) -> Any:
        return iter(self._backends)

    def __len__(self) -> int:
        return len(self._backends)

    def __contains__(self, key: object) -> bool:
        return key in self._backends


def _replace(cls: Any, new_name: str, old_id: str, cloudformation_json: Any, account_id: str,
             region_name: str) -> Any:
    """A renamed resource is a replacement, as in CloudFormation: create the new one, then delete
    the old."""
    new_resource = cls.create_from_cloudformation_json(new_name, cloudformation_json, account_id, region_name)
    cls.delete_from_cloudformation_json(old_id, cloudformation_json, account_id, region_name)
    return new_resource


def stack_state_machines_reach_the_api() -> None:
    """Gap: with the Step Functions interpreter on, the API reads and runs the
    state machines of `stepfunctions_parser_backends`, but a stack creates,
    updates and deletes its AWS::StepFunctions::StateMachine in
    `stepfunctions_backends`: DescribeStateMachine / StartExecution on the
    stack's state machine fail with StateMachineDoesNotExist.

    AWS (AWS::StepFunctions::StateMachine): the resource is an ordinary state
    machine, which the Step Functions API describes and runs.
    """
    import moto.stepfunctions.models as models
    import moto.stepfunctions.responses  # noqa: F401  (get_backend keeps the real BackendDict)

    # The CloudFormation methods look the module-level name up at call time.
    models.stepfunctions_backends = _ApiBackends(models.stepfunctions_backends)


def _cfn_to_api(value: Any) -> Any:
    """CloudFormation's PascalCase keys -> the Step Functions API's camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _cfn_to_api(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cfn_to_api(v) for v in value]
    return value


def _substitution_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _state_machine_definition(properties: dict[str, Any], account_id: str, region_name: str) -> str:
    from moto.cloudformation.exceptions import ValidationError
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    if "DefinitionS3Location" in properties:
        location = properties["DefinitionS3Location"]
        backend = s3_backends[account_id][get_partition(region_name)]
        try:
            key = backend.get_object(location["Bucket"], location["Key"], location.get("Version"))
        except Exception:  # moto raises MissingBucket
            key = None
        if key is None:
            raise ValidationError(
                message=f"DefinitionS3Location: s3://{location['Bucket']}/{location['Key']} "
                "does not exist",
            )
        text = key.value.decode("utf-8")
    elif "Definition" in properties:
        text = json.dumps(properties["Definition"])
    else:
        text = properties.get("DefinitionString", "")
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = text.replace("${" + name + "}", _substitution_text(value))
    return text


def _state_machine_revision(state_machine: Any) -> str:
    material = json.dumps(
        [
            state_machine.definition,
            state_machine.roleArn,
            state_machine.loggingConfiguration,
            state_machine.tracingConfiguration,
        ],
        sort_keys=True,
        default=str,
    )
    return str(uuid.UUID(hashlib.md5(material.encode()).hexdigest()))


def state_machine_get_att() -> None:
    """Gap: `Fn::GetAtt StateMachine.Arn` fails ("Template error: resource
    StateMachine does not support attribute type Arn in Fn::GetAtt"), and so
    does `.StateMachineRevisionId`; only `Ref` gives the ARN.

    AWS (AWS::StepFunctions::StateMachine, Return values): Fn::GetAtt returns
    Arn (the state machine's ARN), Name, and StateMachineRevisionId (an
    identifier of the current revision of the definition and configuration;
    here a hash of them, so it changes exactly when they do).
    """
    from moto.stepfunctions.models import StateMachine

    original_has = StateMachine.has_cfn_attr.__func__
    original_get = StateMachine.get_cfn_attribute

    @classmethod  # type: ignore[misc]
    def has_cfn_attr(cls: Any, attr: str) -> bool:
        return attr in ("Arn", "Name", "StateMachineRevisionId") or original_has(cls, attr)

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self.arn
        if attribute_name == "Name":
            return self.name
        if attribute_name == "StateMachineRevisionId":
            return _state_machine_revision(self)
        return original_get(self, attribute_name)

    StateMachine.has_cfn_attr = has_cfn_attr
    StateMachine.get_cfn_attribute = get_cfn_attribute


def state_machine_definition_sources() -> None:
    """Gap: a stack's state machine reads only `DefinitionString`; with
    `DefinitionS3Location` or `Definition` it gets an empty definition (which
    the interpreter rejects), `DefinitionSubstitutions` are ignored, and
    `LoggingConfiguration` / `TracingConfiguration` are dropped (also on
    update, where a new definition from S3 was never read).

    AWS (AWS::StepFunctions::StateMachine): the definition comes from
    DefinitionString, Definition (a JSON object) or DefinitionS3Location
    {Bucket, Key, Version} (the object is read at deployment); every
    `${Name}` in it is replaced by DefinitionSubstitutions[Name] (values are
    strings, numbers or booleans, inserted as text). RoleArn,
    LoggingConfiguration {Level, IncludeExecutionData, Destinations} and
    TracingConfiguration {Enabled} are the state machine's configuration, as
    DescribeStateMachine returns it; a stack update changes them in place, and
    a new StateMachineName replaces the state machine.
    """
    import moto.stepfunctions.models as models
    from moto.stepfunctions.utils import cfn_to_api_tags

    StateMachine = models.StateMachine

    def configuration(properties: dict[str, Any], account_id: str, region_name: str) -> dict:
        return {
            "definition": _state_machine_definition(properties, account_id, region_name),
            "role_arn": properties.get("RoleArn", ""),
            "logging": _cfn_to_api(properties["LoggingConfiguration"])
            if properties.get("LoggingConfiguration")
            else None,
            "tracing": _cfn_to_api(properties["TracingConfiguration"])
            if properties.get("TracingConfiguration")
            else None,
        }

    @classmethod  # type: ignore[misc]
    def create_from_cloudformation_json(
        cls: Any,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        config = configuration(properties, account_id, region_name)
        backend = models.stepfunctions_backends[account_id][region_name]
        return backend.create_state_machine(
            properties.get("StateMachineName", resource_name),
            config["definition"],
            config["role_arn"],
            tags=cfn_to_api_tags(properties.get("Tags", [])),
            loggingConfiguration=config["logging"],
            tracingConfiguration=config["tracing"],
            sm_type=properties.get("StateMachineType"),
        )

    @classmethod  # type: ignore[misc]
    def update_from_cloudformation_json(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        name = properties.get("StateMachineName", original_resource.name)
        if name != original_resource.name:
            return _replace(cls, name, original_resource.arn, cloudformation_json, account_id, region_name)
        config = configuration(properties, account_id, region_name)
        backend = models.stepfunctions_backends[account_id][region_name]
        state_machine = backend.update_state_machine(
            original_resource.arn,
            definition=config["definition"],
            role_arn=config["role_arn"] or None,
            logging_configuration=config["logging"] or {"level": "OFF"},
            tracing_configuration=config["tracing"] or {"enabled": False},
        )
        backend.tagger.tag_resource(state_machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
        return state_machine

    StateMachine.create_from_cloudformation_json = create_from_cloudformation_json
    StateMachine.update_from_cloudformation_json = update_from_cloudformation_json


def executions_get_unique_names() -> None:
    """Gap: with the interpreter on, StartExecution without a name names the
    execution `None` (ARN `...:execution:<machine>:None`), so a second
    unnamed StartExecution fails with ExecutionAlreadyExists.

    AWS (StartExecution.name): "If you don't provide a name for the
    execution, Step Functions automatically generates a universally unique
    identifier (UUID) as the execution name."
    """
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: Any = None,
        execution_input: Any = None,
        trace_header: Any = None,
    ) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header)

    StepFunctionsParserBackend.start_execution = start_execution


def lambda_task_errors_named_as_on_aws() -> None:
    """Gap: in a Task state whose Resource is a Lambda function ARN, a failed
    Invoke call (e.g. the function does not exist, or Lambda throttles) fails
    the task with error `Exception`, so Retry/Catch on the `Lambda.*` names
    never match.

    AWS (Step Functions, "Handle Lambda service exceptions"): "Lambda errors
    are reported as Lambda.<exception name>" (Lambda.ServiceException,
    Lambda.TooManyRequestsException, Lambda.ResourceNotFoundException, ...),
    with the service's message as the cause. (Function errors keep their
    errorType, as moto already does.)
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, LambdaFunctionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = StateTaskLambda._from_error

    def failure(env: Any, error: str, cause: str) -> Any:
        # As moto builds the LambdaFunctionFailed event, with our name.
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(
                lambdaFunctionFailedEventDetails=LambdaFunctionFailedEventDetails(
                    error=error, cause=cause
                )
            ),
        )

    def _from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, ClientError):
            error = ex.response.get("Error", {})
            meta = ex.response.get("ResponseMetadata", {})
            code = error.get("Code") or "ServiceException"
            cause = (
                f"{error.get('Message', '')} (Service: Lambda, Status Code: "
                f"{meta.get('HTTPStatusCode')}, Request ID: {meta.get('RequestId')})"
            )
            return failure(env, f"Lambda.{code}", cause)
        return original(self, env, ex)

    StateTaskLambda._from_error = _from_error


def terminal_errors_escape_states_all() -> None:
    """Gap: a Catch or Retry on `States.ALL` matches every error, so an execution
    whose state grew past the payload quota (`States.DataLimitExceeded`) is
    caught, and its catch path (which releases the lock) runs.

    AWS (Step Functions, "Error names"): "The States.ALL error type can't catch
    the States.DataLimitExceeded terminal error and Runtime error types". On AWS
    the execution fails there, holding whatever it held; here it must too.
    (moto already lets `States.Runtime` through.)
    """
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import (
        ErrorEqualsDecl,
    )

    terminal = {"States.DataLimitExceeded"}
    original = ErrorEqualsDecl._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        error = env.stack[-1]
        if ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names and error.error_name in terminal:
            env.stack.pop()
            env.stack.append(False)
            return
        original(self, env)

    ErrorEqualsDecl._eval_body = _eval_body


def _aws_timestamp(value: Any) -> str:
    """A time as Step Functions writes it in the context object: ISO 8601 in UTC with
    milliseconds and `Z` (`2019-03-26T20:14:13.192Z`), so that two of them compare as strings
    in the order of the times."""
    import datetime

    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def context_object_times_are_iso_strings() -> None:
    """Gap: in the interpreter's context object, `$$.Execution.StartTime` is a
    Python datetime, not a string, so any state that passes it on (a Pass
    state's Parameters, a DynamoDB task's `"S.$": "$$.Execution.StartTime"`,
    `States.JsonToString`) fails the execution with States.Runtime "Object of
    type datetime is not JSON serializable"; `$$.State.EnteredTime` is
    Python's isoformat with microseconds and `+00:00`, so it does not compare
    as a string with AWS's format.

    AWS (Step Functions, "Accessing the Context object"): both are ISO 8601
    strings, `"StartTime": "2019-03-26T20:14:13.192Z"`, `"EnteredTime":
    "2019-03-26T20:14:13.192Z"`: UTC, milliseconds, `Z`.
    """
    import moto.stepfunctions.parser.asl.component.state.state as state_module
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_environment = ExecutionWorker._get_evaluation_environment

    def _get_evaluation_environment(self: Any) -> Any:
        env = original_environment(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution["StartTime"] = _aws_timestamp(execution["StartTime"])
        return env

    ExecutionWorker._get_evaluation_environment = _get_evaluation_environment

    original_state_data = state_module.StateData

    def state_data(**fields: Any) -> Any:
        if "EnteredTime" in fields:
            fields["EnteredTime"] = _aws_timestamp(fields["EnteredTime"])
        return original_state_data(**fields)

    state_module.StateData = state_data


def aws_sdk_tasks_take_pascal_case_parameters() -> None:
    """Gap: an AWS SDK integration task (`arn:aws:states:::aws-sdk:<service>:<action>`)
    hands its Parameters to the SDK as written, so a service whose API is camelCase
    (`sfn:describeExecution` takes `executionArn`) fails the task with States.Runtime
    (KeyError `ExecutionArn`), and the result keeps the API's camelCase keys.

    AWS (Step Functions, "Learning to use AWS service SDK integrations", API naming
    conventions): "Parameters in Step Functions are expressed in PascalCase, even if the
    native service API is in camelCase" (`StateMachineArn`); the result's keys are
    PascalCase too (`Status`, `StartDate`), and its timestamps are JSON text (the SDK's
    datetimes broke the execution's JSON state: States.Runtime, "Object of type datetime is
    not JSON serializable").
    """
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    session = botocore.session.get_session()

    def _operation(self: Any) -> Any:
        service = session.get_service_model(self._get_boto_service_name())
        action = self.resource.api_action
        return service.operation_model(action[:1].upper() + action[1:])

    def _normalise_parameters(self: Any, parameters: dict, *_: Any, **__: Any) -> None:
        self._to_boto_request(parameters, _operation(self).input_shape)

    def _timestamps_as_text(value: Any) -> Any:
        import datetime

        if isinstance(value, datetime.datetime):
            return _aws_timestamp(value)
        if isinstance(value, dict):
            return {k: _timestamps_as_text(v) for k, v in value.items()}
        if isinstance(value, list):
            return [_timestamps_as_text(v) for v in value]
        return value

    def _normalise_response(self: Any, response: Any, *_: Any, **__: Any) -> None:
        self._from_boto_response(response, _operation(self).output_shape)
        if isinstance(response, dict):
            response.update(_timestamps_as_text(response))

    StateTaskServiceAwsSdk._normalise_parameters = _normalise_parameters
    StateTaskServiceAwsSdk._normalise_response = _normalise_response


def child_executions_take_and_return_pascal_case() -> None:
    """Gap: the Step Functions service integration (`arn:aws:states:::states:startExecution`,
    `.sync` and `.sync:2`) handed its PascalCase Parameters to the SDK as written, so starting a
    child execution failed the task with States.Runtime (KeyError `StateMachineArn`); its result,
    and the `.sync:2` result (the child's DescribeExecution), kept the API's camelCase keys.

    AWS (Step Functions developer guide, "Start a new AWS Step Functions state machine from a
    running execution", and the service integration's response syntax): the task takes
    `StateMachineArn`, `Input`, `Name`; `.sync:2` returns the child's DescribeExecution output in
    PascalCase (`ExecutionArn`, `Status`, `Output` as JSON), and a failed child fails the task
    with `States.TaskFailed` whose cause is that same output as JSON text. Timestamps are text,
    as in aws_sdk_tasks_take_pascal_case_parameters.
    """
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    service = botocore.session.get_session().get_service_model("stepfunctions")

    def _operation(action: str) -> Any:
        pascal = "".join(part[:1].upper() + part[1:] for part in action.split("_"))
        return service.operation_model(pascal)

    def _normalise_parameters(self: Any, parameters: dict, *_: Any, **__: Any) -> None:
        if self._get_boto_service_action() == "start_execution" and not isinstance(parameters.get("Input"), str):
            parameters["Input"] = to_json_str(parameters.get("Input") or {}, separators=(",", ":"))
        self._to_boto_request(parameters, _operation(self.resource.api_action).input_shape)

    def _timestamps_as_text(value: Any) -> Any:
        import datetime

        if isinstance(value, datetime.datetime):
            return _aws_timestamp(value)
        if isinstance(value, dict):
            return {k: _timestamps_as_text(v) for k, v in value.items()}
        return value

    def _normalise_response(self: Any, response: Any, boto_service_name: Any = None,
                            service_action_name: str | None = None) -> None:
        action = service_action_name or self.resource.api_action
        self._from_boto_response(response, _operation(action).output_shape)
        if isinstance(response, dict):
            response.update(_timestamps_as_text(response))

    StateTaskServiceSfn._normalise_parameters = _normalise_parameters
    StateTaskServiceSfn._normalise_response = _normalise_response


# --- DynamoDB ----------------------------------------------------------------------


def dynamodb_conditional_writes_are_atomic() -> None:
    """Gap: the server answers requests on many threads, and moto's PutItem, UpdateItem,
    DeleteItem and TransactWriteItems read the item, evaluate the ConditionExpression and
    then write, with nothing to stop another request writing the same item in between: two
    concurrent `attribute_not_exists(holder)` updates can both succeed, so a lock or an
    optimistic counter built on conditional writes breaks under load.

    AWS (DynamoDB Developer Guide, "Conditional writes"): a conditional write succeeds only
    if the item's attributes meet the condition at the time of the write; "conditional
    writes are idempotent ... [and] if multiple users attempt to modify the same item, only
    one succeeds" (optimistic locking). Here every write of one backend holds one lock for
    its whole read-check-write.
    """
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name, None)
        if original is None:
            continue

        def locked(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(*args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(locked))


# --- CloudFormation stacks and change sets ---------------------------------------


def template_urls_on_the_local_endpoint_are_path_style() -> None:
    """Gap: a TemplateURL is read as virtual-hosted (`https://<bucket>.<host>/<key>`) unless
    its host contains "localhost" or is `s3*.amazonaws.com`. The aws CLI's `cloudformation
    deploy --s3-bucket` (needed for a template over CloudFormation's 51,200-byte inline limit)
    builds the URL from its S3 endpoint, here `http://127.0.0.1:<port>/<bucket>/<key>`, so the
    bucket was taken to be `127` (NoSuchBucket).

    AWS (CloudFormation API reference, CreateStack/CreateChangeSet `TemplateURL`: "the URL of a
    file containing the template body ... located in an Amazon S3 bucket"; Amazon S3 User Guide,
    "Path-style requests": `https://s3.region-code.amazonaws.com/bucket-name/key-name`): an S3
    endpoint given by address, with no bucket in its host name, is path-style. Here a URL whose
    host is an IP address is read as path-style too.
    """
    import ipaddress
    from urllib.parse import urlparse

    import moto.cloudformation.responses as responses
    import moto.cloudformation.utils as utils

    original = utils.get_stack_from_s3_url

    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        parts = urlparse(template_url)
        try:
            ipaddress.ip_address(parts.hostname or "")
        except ValueError:
            return original(template_url, account_id, partition)
        localhost = parts._replace(netloc=f"localhost:{parts.port}" if parts.port else "localhost")
        return original(localhost.geturl(), account_id, partition)

    utils.get_stack_from_s3_url = get_stack_from_s3_url
    responses.get_stack_from_s3_url = get_stack_from_s3_url




def change_sets_rebuild_outputs() -> None:
    """Gap: ExecuteChangeSet updates the resources but not the stack's
    Outputs (nor its description, parameters and exports): a stack created
    by a CREATE change set (as `aws cloudformation deploy` does) has no
    Outputs at all, and after an UPDATE change set the Outputs still show the
    old template's values.

    AWS (ExecuteChangeSet): "updates a stack using the input information that
    was provided when the specified change set was created"; DescribeStacks
    then shows the Outputs, Parameters and Description of the new template.
    """
    from moto.cloudformation.models import CloudFormationBackend

    original = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name), None
        )
        original(self, change_set_name, stack_name)
        if change_set is None:
            return
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.parameters = dict(change_set.parameters)
        for export in stack.exports:
            self.exports.pop(export.name, None)
        stack.output_map = stack._create_output_map()
        self._validate_export_uniqueness(stack)
        for export in stack.exports:
            self.exports[export.name] = export

    CloudFormationBackend.execute_change_set = execute_change_set


def _parameter_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def unchanged_change_set_fails_without_changes() -> None:
    """Gap: CreateChangeSet (type UPDATE) with the stack's own template and
    parameters fails with "ValidationError: No updates are to be performed",
    so `aws cloudformation deploy --no-fail-on-empty-changeset` of an
    unchanged stack exits 255 instead of 0. (moto's backend already knows
    the AWS outcome, but the request handler raises first; and its check
    compares the parameters given at creation rather than the current ones,
    resolving UsePreviousValue to typed values, e.g. numbers.)

    AWS (CreateChangeSet; `aws cloudformation deploy`): CreateChangeSet
    succeeds; the change set ends with Status FAILED, ExecutionStatus
    UNAVAILABLE, StatusReason "The submitted information didn't contain
    changes. Submit different information to create a change set."; the stack
    is untouched. awscli then prints "No changes to deploy" and, with
    --no-fail-on-empty-changeset, exits 0. Unchanged here means the same
    template body (as parsed) and the same value for every parameter
    (given, UsePreviousValue, or default); tags and notification ARNs are not
    compared.
    """
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.responses import CloudFormationResponse

    original_response = CloudFormationResponse.create_change_set
    original_backend = CloudFormationBackend.create_change_set

    def create_change_set_response(self: Any) -> Any:
        # The backend decides, as on AWS; the handler's own check raised instead.
        self._validate_different_update = lambda *args, **kwargs: None
        return original_response(self)

    def effective(template: str, given: dict[str, str]) -> dict[str, str]:
        declared = (Stack.parse_template(template) or {}).get("Parameters") or {}
        return {
            name: given[name] if name in given else _parameter_text(spec.get("Default"))
            for name, spec in declared.items()
        }

    def create_change_set_backend(
        self: Any,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: dict[str, Any],
        description: str,
        change_set_type: str,
        **kwargs: Any,
    ) -> tuple[str, str]:
        # UsePreviousValue arrives resolved (a Number as int, a list as list): back to text.
        parameters = {k: _parameter_text(v) for k, v in parameters.items()}
        stack = next((s for s in self.stacks.values() if s.name == stack_name), None)
        unchanged = False
        if change_set_type == "UPDATE" and stack is not None:
            new = effective(template, parameters)
            old = {k: _parameter_text(v) for k, v in stack.stack_parameters.items()}
            unchanged = stack.has_template(template) and new == {k: old.get(k) for k in new}
        change_set_id, stack_id = original_backend(
            self, stack_name, change_set_name, template, parameters, description,
            change_set_type, **kwargs,
        )
        if change_set_type == "UPDATE":
            change_set = self.change_sets[change_set_id]
            if unchanged:
                change_set.status = "FAILED"
                change_set.execution_status = "UNAVAILABLE"
                change_set.status_reason = (
                    "The submitted information didn't contain changes. "
                    "Submit different information to create a change set."
                )
            else:
                change_set.status = "CREATE_COMPLETE"
                change_set.execution_status = "AVAILABLE"
                change_set.status_reason = None
        return change_set_id, stack_id

    CloudFormationResponse.create_change_set = create_change_set_response
    CloudFormationBackend.create_change_set = create_change_set_backend


# --- Lambda ---------------------------------------------------------------------


def _logging_config(config: dict[str, Any] | None, function_name: str) -> dict[str, Any]:
    config = config or {}
    log_format = config.get("LogFormat") or "Text"
    result = {"LogFormat": log_format}
    if log_format == "JSON":
        result["ApplicationLogLevel"] = config.get("ApplicationLogLevel") or "INFO"
        result["SystemLogLevel"] = config.get("SystemLogLevel") or "INFO"
    result["LogGroup"] = config.get("LogGroup") or f"/aws/lambda/{function_name}"
    return result


def functions_keep_logging_config() -> None:
    """Gap: Lambda drops LoggingConfig: CreateFunction and
    UpdateFunctionConfiguration ignore it, GetFunctionConfiguration never
    returns it, and a stack's AWS::Lambda::Function (create and update) keeps
    only a fixed list of properties without it. The function's process then
    cannot get the log format, level and group a template sets.

    AWS (Lambda API, LoggingConfig; AWS::Lambda::Function LoggingConfig):
    {LogFormat: Text|JSON, ApplicationLogLevel, SystemLogLevel, LogGroup},
    returned by GetFunctionConfiguration; LogGroup defaults to
    /aws/lambda/<function name>, LogFormat to Text, and with JSON both levels
    default to INFO (the levels apply to JSON only). Removing it from the
    template restores the defaults.
    """
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration
    original_create_cfn = LambdaFunction.create_from_cloudformation_json.__func__
    original_update_cfn = LambdaFunction.update_from_cloudformation_json.__func__

    def __init__(self: Any, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, spec, *args, **kwargs)
        self.logging_config = _logging_config(spec.get("LoggingConfig"), self.function_name)

    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original_get(self, on_create)
        config["LoggingConfig"] = getattr(self, "logging_config", None) or _logging_config(
            None, self.function_name
        )
        return config

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            self.logging_config = _logging_config(config_updates["LoggingConfig"], self.function_name)
        return original_update(self, config_updates)

    @classmethod  # type: ignore[misc]
    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Any:
        fn = original_create_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json["Properties"]
        fn.logging_config = _logging_config(properties.get("LoggingConfig"), fn.function_name)
        return fn

    @classmethod  # type: ignore[misc]
    def update_from_cloudformation_json(
        cls: Any, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        properties.setdefault("LoggingConfig", {})
        return original_update_cfn(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )

    LambdaFunction.__init__ = __init__
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.update_configuration = update_configuration
    LambdaFunction.create_from_cloudformation_json = create_from_cloudformation_json
    LambdaFunction.update_from_cloudformation_json = update_from_cloudformation_json


def stack_functions_keep_architectures() -> None:
    """Gap: a stack's AWS::Lambda::Function ignores Architectures, so an
    arm64 function is created (and stays) x86_64.

    AWS (AWS::Lambda::Function Architectures): "The instruction set
    architecture that the function supports ... arm64 or x86_64", default
    x86_64; GetFunctionConfiguration returns it; an update changes it.
    """
    from moto.awslambda.models import LambdaFunction

    original_create_cfn = LambdaFunction.create_from_cloudformation_json.__func__
    original_update_cfn = LambdaFunction.update_from_cloudformation_json.__func__

    @classmethod  # type: ignore[misc]
    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Any:
        fn = original_create_cfn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        fn.architectures = cloudformation_json["Properties"].get("Architectures") or ["x86_64"]
        return fn

    @classmethod  # type: ignore[misc]
    def update_from_cloudformation_json(
        cls: Any, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        fn = original_update_cfn(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )
        fn.architectures = cloudformation_json["Properties"].get("Architectures") or ["x86_64"]
        return fn

    LambdaFunction.create_from_cloudformation_json = create_from_cloudformation_json
    LambdaFunction.update_from_cloudformation_json = update_from_cloudformation_json



def stack_function_updates_reset_removed_properties() -> None:
    """Gap: a stack update of an AWS::Lambda::Function only applies the
    properties the new template sets: removing Environment, Timeout,
    MemorySize or Description from it leaves the old values in place.

    AWS (AWS::Lambda::Function; Updating stacks): the function's
    configuration becomes what the template says; a property left out takes
    its default (no environment variables, Timeout 3, MemorySize 128,
    Description empty).
    """
    from moto.awslambda.models import LambdaFunction

    original_update_cfn = LambdaFunction.update_from_cloudformation_json.__func__
    defaults = {"Environment": {"Variables": {}}, "Timeout": 3, "MemorySize": 128, "Description": ""}

    @classmethod  # type: ignore[misc]
    def update_from_cloudformation_json(
        cls: Any, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        for name, default in defaults.items():
            properties.setdefault(name, copy.deepcopy(default))
        return original_update_cfn(
            cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
        )

    LambdaFunction.update_from_cloudformation_json = update_from_cloudformation_json


def _environment_value_text(value: Any) -> Any:
    # bool before int: True is an int. moto resolves a Number parameter with int() first, then
    # float(), so "50" is 50 here and comes back "50"; "1.5" is 1.5 and comes back "1.5".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _with_string_environment(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    properties = cloudformation_json.get("Properties") or {}
    environment = properties.get("Environment")
    if not isinstance(environment, dict) or not isinstance(environment.get("Variables"), dict):
        return cloudformation_json
    variables = {name: _environment_value_text(value) for name, value in environment["Variables"].items()}
    return {
        **cloudformation_json,
        "Properties": {**properties, "Environment": {**environment, "Variables": variables}},
    }


def stack_function_environment_values_are_strings() -> None:
    """Gap: a stack's AWS::Lambda::Function keeps its Environment Variables
    as the template resolves them: `!Ref` to a Number parameter (moto makes
    it an int or float), or a YAML number or boolean, is stored as a number
    or boolean, and GetFunctionConfiguration returns it as a JSON number
    (`"VPC_ROUTE_TABLE_QUOTA": 50`). Handing those variables back to
    UpdateFunctionConfiguration then fails boto3's validation (a string is
    expected).

    AWS (Lambda API, Environment / EnvironmentResponse: Variables is a map of
    String to String; CloudFormation passes a Number parameter's Ref, and a
    template number or boolean given for a string property, as its text):
    every value is a string: 50 -> "50", 1.5 -> "1.5", true -> "true".
    """
    from moto.awslambda.models import LambdaFunction

    original_create_cfn = LambdaFunction.create_from_cloudformation_json.__func__
    original_update_cfn = LambdaFunction.update_from_cloudformation_json.__func__

    @classmethod  # type: ignore[misc]
    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Any:
        return original_create_cfn(
            cls, resource_name, _with_string_environment(cloudformation_json), account_id, region_name,
            **kwargs,
        )

    @classmethod  # type: ignore[misc]
    def update_from_cloudformation_json(
        cls: Any, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        return original_update_cfn(
            cls, original_resource, new_resource_name, _with_string_environment(cloudformation_json),
            account_id, region_name,
        )

    LambdaFunction.create_from_cloudformation_json = create_from_cloudformation_json
    LambdaFunction.update_from_cloudformation_json = update_from_cloudformation_json


def short_form_get_att_accepts_a_list() -> None:
    """Gap: in a YAML template, `!GetAtt [Resource, Attribute]` (the short form
    applied to a list) becomes a list of YAML nodes instead of names, so
    CreateStack / ExecuteChangeSet fail with HTTP 500.

    AWS (Fn::GetAtt; template YAML): `!GetAtt` tags its node as Fn::GetAtt, so
    `!GetAtt [Fn, Arn]` is `Fn::GetAtt: [Fn, Arn]`, the same as `!GetAtt Fn.Arn`.
    """
    import moto.cloudformation.models as models
    import moto.cloudformation.responses as responses
    import moto.cloudformation.utils as utils
    import yaml

    original = utils.yaml_tag_constructor

    def yaml_tag_constructor(loader: Any, tag: Any, node: Any) -> Any:
        if tag == "!GetAtt" and isinstance(node, yaml.SequenceNode):
            return {"Fn::GetAtt": loader.construct_sequence(node, deep=True)}
        return original(loader, tag, node)

    for module in (utils, models, responses):
        module.yaml_tag_constructor = yaml_tag_constructor



def _is_no_value(fragment: Any) -> bool:
    return isinstance(fragment, dict) and (
        fragment.get("Ref") == "AWS::NoValue" or "Fn::If" in fragment
    )


def no_value_removes_list_items() -> None:
    """Gap: an `Fn::If` that returns `AWS::NoValue` inside a list (e.g. an
    optional entry of a role's Policies) leaves a null item in the list, so
    the resource fails (an AWS::IAM::Role: "'NoneType' object is not
    subscriptable", HTTP 500).

    AWS (Pseudo parameters, AWS::NoValue; Fn::If): "Removes the
    corresponding resource property when specified as a return value in the
    Fn::If intrinsic function"; inside a list, the item is removed.
    """
    import moto.cloudformation.parsing as parsing

    original = parsing.clean_json

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        if isinstance(resource_json, list):
            cleaned = []
            for item in resource_json:
                value = clean_json(item, resources_map)
                if value is None and _is_no_value(item):
                    continue
                cleaned.append(value)
            return cleaned
        return original(resource_json, resources_map)

    parsing.clean_json = clean_json


# --- stack updates ------------------------------------------------------------------


def _references(value: Any) -> set[str]:
    """Names (parameters, resources, pseudo parameters) and `Condition:<name>`s
    that a template fragment depends on."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                names = inner.split(".") if isinstance(inner, str) else inner
                if names and isinstance(names[0], str):
                    found.add(names[0])
            elif key == "Fn::Sub":
                text, mapping = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
                for variable in re.findall(r"\$\{([^!}][^}]*)\}", text if isinstance(text, str) else ""):
                    name = variable.split(".")[0].strip()
                    if name not in mapping:
                        found.add(name)
                found |= _references(mapping)
            elif key == "Fn::If" and isinstance(inner, list) and inner:
                found.add(f"Condition:{inner[0]}")
                found |= _references(inner[1:])
            elif key == "Condition" and isinstance(inner, str):
                found.add(f"Condition:{inner}")
            else:
                found |= _references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= _references(inner)
    return found


def _as_deployed(resource_json: dict[str, Any]) -> dict[str, Any]:
    # moto adds "Properties": {} to the stored template of a resource without any.
    return {**resource_json, "Properties": resource_json.get("Properties") or {}}


def stack_updates_follow_parameters_and_conditions() -> None:
    """Gap: a stack update (UpdateStack or an UPDATE change set) re-applies a
    resource only if its own template text changed or it `Ref`s a changed
    parameter. A parameter used through `Fn::Sub` (e.g. an S3Key
    `!Sub ${ArtifactPrefix}/peer.zip`), or through a condition (`Fn::If`, a
    resource's `Condition`), leaves the resource as it was; a resource whose
    Condition turns false is updated instead of deleted (an AWS::Events::Rule
    then fails: "Parameter(s) EventPattern or ScheduleExpression must be
    specified"), and a deleted one still shows in DescribeStackResources.

    AWS (Updating stacks; Conditions): CloudFormation updates every resource
    whose properties, as resolved with the new parameter values, change;
    resources whose condition becomes false are deleted, and those whose
    condition becomes true are created. Here a resource is updated when its
    template text changed or it depends (Ref, Fn::GetAtt, Fn::Sub variable,
    Fn::If or Condition) on a parameter whose value, or a condition whose
    outcome, changed.
    """
    from moto.cloudformation.models import ChangeSet
    from moto.cloudformation.parsing import ResourceMap

    original_update = ResourceMap.update

    def new_state(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None) -> Any:
        probe = ResourceMap(
            self.stack_id,
            self._parsed_resources["AWS::StackName"],
            parameters or self.input_parameters,
            self.tags,
            region_name=self._region_name,
            account_id=self._account_id,
            template=template,
            cross_stack_resources=self.cross_stack_resources,
        )
        probe.load_mapping()
        probe.transform_mapping()
        probe.load_parameters()
        probe.load_conditions()
        return probe

    def build_resource_diff(
        self: Any, other_template: dict[str, Any], parameters: dict[str, Any] | None = None
    ) -> dict[str, list[str]]:
        old = self._resource_json_map
        new = other_template["Resources"]
        probe = new_state(self, other_template, parameters)
        old_conditions = getattr(self, "lazy_condition_map", {}) or {}
        conditions = (other_template.get("Conditions") or {}).keys() | set(old_conditions)
        changed = {
            name
            for name in set(probe.resolved_parameters) | set(self.resolved_parameters)
            if probe.resolved_parameters.get(name) != self.resolved_parameters.get(name)
        } | {
            f"Condition:{name}"
            for name in conditions
            if (old_conditions[name] if name in old_conditions else None)
            != (probe.lazy_condition_map[name] if name in probe.lazy_condition_map else None)
        }

        def wanted(name: str) -> bool:
            condition = new[name].get("Condition")
            return not condition or bool(probe.lazy_condition_map[condition])

        present = {name for name in old if self._parsed_resources.get(name) is not None}
        active = {name for name in new if wanted(name)}
        return {
            "Add": [name for name in new if name in active and name not in present],
            "Modify": [
                name
                for name in new
                if name in active
                and name in present
                and (_as_deployed(new[name]) != _as_deployed(old[name]) or _references(new[name]) & changed)
            ],
            "Remove": [name for name in old if name in present and name not in active],
        }

    def update(self: Any, template: dict[str, Any], parameters: dict[str, Any] | None = None) -> None:
        original_update(self, template, parameters)
        for name, resource_json in self._resource_json_map.items():
            condition = resource_json.get("Condition")
            if condition and not self.lazy_condition_map[condition]:
                self._parsed_resources.pop(name, None)  # deleted, or never created

    def build_change_set_actions(self: Any, template: dict[str, Any], parameters: Any = None) -> Any:
        names = build_resource_diff(self, template, parameters)
        actions: dict[str, dict[str, dict[str, str]]] = {}
        for action in ("Add", "Modify", "Remove"):
            resources = self._resource_json_map if action == "Remove" else template["Resources"]
            actions[action] = {
                name: {"LogicalResourceId": name, "ResourceType": resources[name]["Type"]}
                for name in names[action]
            }
        return actions

    def diff(self: Any) -> list[Any]:
        from moto.cloudformation.models import Change

        actions = self.stack.resource_map.build_change_set_actions(self.template_dict, self.parameters)
        return [
            Change(action=action, logical_resource_id=name, resource_type=resource["ResourceType"])
            for action, resources in actions.items()
            for name, resource in resources.items()
        ]

    ResourceMap.build_resource_diff = build_resource_diff
    ResourceMap.update = update
    ResourceMap.build_change_set_actions = build_change_set_actions
    ChangeSet.diff = diff


def stack_resources_skip_false_conditions() -> None:
    """Gap: DescribeStackResources / ListStackResources list a resource whose
    Condition is false (never created) as a row of nulls
    (LogicalResourceId, PhysicalResourceId and ResourceType all missing).

    AWS (Conditions): "resources ... are created only when the condition is
    true"; a resource that was not created is not one of the stack's
    resources.
    """
    from moto.cloudformation.models import Stack

    @property  # type: ignore[misc]
    def stack_resources(self: Any) -> list[Any]:
        return [resource for resource in self.resource_map.values() if resource is not None]

    Stack.stack_resources = stack_resources


# --- IAM, Logs, EventBridge resources -------------------------------------------------


def _policy_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def stack_roles_keep_their_policies() -> None:
    """Gap: an AWS::IAM::Role's inline Policies are stored as Python objects,
    so GetRolePolicy returns their Python repr (`{'Version': ...}`), not the
    JSON document; and a stack update of the role ignores
    AssumeRolePolicyDocument and Policies (inline policies added, changed or
    removed in the template stay as first created), and takes
    MaxSessionDuration from a "RoleDescription" property.

    AWS (AWS::IAM::Role; GetRolePolicy): the role's inline policies are
    exactly those in Policies, and GetRolePolicy returns each as its JSON
    policy document; AssumeRolePolicyDocument, Description,
    MaxSessionDuration and Policies update without interruption; a new
    RoleName replaces the role.
    """
    from moto.iam.models import Role, iam_backends
    from moto.utilities.utils import get_partition

    original_create = Role.create_from_cloudformation_json.__func__

    def set_policies(role: Any, properties: dict[str, Any]) -> None:
        policies = {p["PolicyName"]: p["PolicyDocument"] for p in properties.get("Policies") or []}
        for policy_name in list(role.policies):
            if policy_name not in policies:
                role.delete_policy(policy_name)
        for policy_name, policy_document in policies.items():
            role.put_policy(policy_name, _policy_text(policy_document))

    @classmethod  # type: ignore[misc]
    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Any:
        role = original_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        set_policies(role, cloudformation_json["Properties"])
        return role

    @classmethod  # type: ignore[misc]
    def update_from_cloudformation_json(
        cls: Any, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        name = properties.get("RoleName", original_resource.name)
        if name != original_resource.name:
            return _replace(cls, name, original_resource.name, cloudformation_json, account_id, region_name)
        backend = iam_backends[account_id][get_partition(region_name)]
        role = backend.update_role(
            name, properties.get("Description", ""), properties.get("MaxSessionDuration", 3600)
        )
        backend.update_assume_role_policy(name, _policy_text(properties["AssumeRolePolicyDocument"]))
        set_policies(role, properties)
        return role

    Role.create_from_cloudformation_json = create_from_cloudformation_json
    Role.update_from_cloudformation_json = update_from_cloudformation_json


def stack_log_groups_update_in_place() -> None:
    """Gap: AWS::Logs::LogGroup has no stack update: changing, say,
    RetentionInDays leaves the log group as it was and loses it from the
    stack (its `Ref` then resolves to nothing, e.g. in a function's
    LoggingConfig.LogGroup).

    AWS (AWS::Logs::LogGroup): RetentionInDays (absent = never expire),
    DataProtectionPolicy, KmsKeyId and Tags update without interruption;
    a new LogGroupName (or LogGroupClass) replaces the log group.
    """
    from moto.logs.models import LogGroup

    @classmethod  # type: ignore[misc]
    def update_from_cloudformation_json(
        cls: Any, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        name = properties.get("LogGroupName", original_resource.name)
        old_class = getattr(original_resource, "log_group_class", None)  # log_groups_keep_their_class
        new_class = properties.get("LogGroupClass", "STANDARD")
        if name != original_resource.name or (old_class is not None and new_class != old_class):
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                properties.get("LogGroupName", new_resource_name), cloudformation_json, account_id,
                region_name,
            )
        original_resource.set_retention_policy(properties.get("RetentionInDays"))
        original_resource.kms_key_id = properties.get("KmsKeyId")
        return original_resource

    LogGroup.update_from_cloudformation_json = update_from_cloudformation_json


def log_groups_keep_their_class() -> None:
    """Gap: the log group class is dropped (AWS::Logs::LogGroup LogGroupClass,
    CreateLogGroup logGroupClass), and DescribeLogGroups never returns
    logGroupClass.

    AWS (CloudWatch Logs API, LogGroup.logGroupClass: STANDARD |
    INFREQUENT_ACCESS | DELIVERY; AWS::Logs::LogGroup LogGroupClass):
    default STANDARD, returned by DescribeLogGroups.
    """
    from moto.logs.models import LogGroup
    from moto.logs.responses import LogsResponse

    original_init = LogGroup.__init__
    original_describe = LogGroup.to_describe_dict
    original_create = LogsResponse.create_log_group

    def __init__(self: Any, account_id: str, region: str, name: str, **kwargs: Any) -> None:
        original_init(self, account_id, region, name, **kwargs)
        self.log_group_class = kwargs.get("LogGroupClass") or kwargs.get("logGroupClass") or "STANDARD"

    def to_describe_dict(self: Any) -> dict[str, Any]:
        result = original_describe(self)
        result["logGroupClass"] = getattr(self, "log_group_class", "STANDARD")
        return result

    def create_log_group(self: Any) -> str:
        result = original_create(self)
        log_group_class = self._get_param("logGroupClass")
        if log_group_class:
            group = self.logs_backend.groups[self._get_param("logGroupName")]
            group.log_group_class = log_group_class
        return result

    LogGroup.__init__ = __init__
    LogGroup.to_describe_dict = to_describe_dict
    LogsResponse.create_log_group = create_log_group


def log_group_arn_attribute_ends_with_star() -> None:
    """Gap: `Fn::GetAtt LogGroup.Arn` gives `arn:...:log-group:<name>`.

    AWS (AWS::Logs::LogGroup, Return values): Arn is "The ARN of the log
    group, such as arn:aws:logs:us-west-1:123456789012:log-group:/mystack-testgroup-12ABC1AB12A1:*"
    - with the `:*` suffix, the form Step Functions' LoggingConfiguration
    destinations require. (DescribeLogGroups returns both `arn`, with `:*`,
    and `logGroupArn`, without; moto already does.)
    """
    from moto.logs.models import LogGroup

    original = LogGroup.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return f"{self.arn}:*"
        return original(self, attribute_name)

    LogGroup.get_cfn_attribute = get_cfn_attribute


def _jsonpath(document: Any, path: str) -> Any:
    """The value at a simple JSONPath ($, $.a.b, $['a'])."""
    from jsonpath_ng.ext import parse

    matches = parse(path).find(document)
    return matches[0].value if matches else None


def events_start_state_machine_targets() -> None:
    """Gap: an EventBridge rule whose target is a Step Functions state machine
    makes PutEvents fail with HTTP 500 (NotImplementedError) for every
    matching event; no execution starts.

    AWS (EventBridge targets; Step Functions "Starting a state machine
    execution in response to Amazon EventBridge events"): each matching event
    starts an execution of the target state machine (StartExecution with the
    target's RoleArn). Its input is the target's Input (constant JSON), or
    the InputPath part of the event, or the InputTransformer output, or -
    with none of these - the whole event: {version, id, detail-type, source,
    account, time (ISO 8601, UTC), region, resources, detail}. Disabled
    rules start nothing. A delivery failure does not fail PutEvents.
    """
    import datetime
    import sys

    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def execution_input(target: dict[str, Any], event: dict[str, Any]) -> str:
        if "Input" in target:
            return target["Input"]
        if "InputPath" in target:
            return json.dumps(_jsonpath(event, target["InputPath"]))
        if "InputTransformer" in target:
            transformer = target["InputTransformer"]
            result = EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=event,
            )
            return result if isinstance(result, str) else json.dumps(result)
        return json.dumps(event)

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        machines = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        if not machines:
            return original(self, original_event, transform_input)
        others = copy.copy(self)
        others.targets = [t for t in self.targets if t not in machines]
        if others.targets:
            original(others, original_event, transform_input)
        if self.state == "DISABLED" or not self.event_pattern.matches_event(original_event):
            return
        event = {k: v for k, v in original_event.items() if k != "ingestion-time"}
        if isinstance(event.get("time"), (int, float)):
            event["time"] = datetime.datetime.fromtimestamp(
                event["time"], tz=datetime.timezone.utc
            ).strftime("%Y-%m-%dT%H:%M:%SZ")
        for target in machines:
            arn = parse_arn(target["Arn"])
            try:
                get_backend(arn.account, arn.region).start_execution(
                    target["Arn"], str(uuid.uuid4()), execution_input(target, event)
                )
            except Exception as e:  # EventBridge only counts a FailedInvocation
                print(f"EventBridge: could not start {target['Arn']}: {e!r}", file=sys.stderr)

    Rule.send_to_targets = send_to_targets



def input_transformer_output_stays_valid_json() -> None:
    """Gap: an InputTransformer's variables are pasted into the InputTemplate verbatim, so a string
    value holding a double quote, a backslash or a line break (a Step Functions execution's
    `cause`, which is a function error's JSON) makes the output invalid JSON: moto then fails the
    delivery with a JSONDecodeError (PutEvents answers HTTP 500).

    AWS (EventBridge User Guide, "Amazon EventBridge input transformation"): EventBridge replaces
    the variables at runtime so that the output is valid JSON; a string value placed inside the
    template's quotes arrives escaped, and only `aws.events.event` / `aws.events.event.json` are
    inserted unescaped. Emulation: a string value is JSON-escaped before it is substituted.
    """
    from moto.events import utils as events_utils

    original = events_utils.EventTemplateParser.parse

    def parse(input_template: str, input_paths_map: dict[str, Any], event: Any) -> Any:
        from jsonpath_ng.ext import parse as jsonpath

        if not input_template or not input_paths_map:
            return original(input_template, input_paths_map, event)
        escaped = {}
        for name, path in input_paths_map.items():
            matches = jsonpath(path).find(event)
            if matches and isinstance(matches[0].value, str):
                escaped[name] = json.dumps(matches[0].value)[1:-1]
        for name, value in escaped.items():
            input_template = input_template.replace(f"<{name}>", value)
        rest = {k: v for k, v in input_paths_map.items() if k not in escaped}
        return original(input_template, rest or {"__none__": "$.__none__"}, event)

    events_utils.EventTemplateParser.parse = staticmethod(parse)


def events_publish_to_sns_targets() -> None:
    """Gap: a rule whose target is an SNS topic makes PutEvents fail with HTTP 500
    (NotImplementedError) for every matching event; nothing is published.

    AWS (EventBridge User Guide, "Event bus targets" and "Amazon EventBridge input
    transformation"): each matching event is published to the topic (allowed by the topic's
    resource policy, not a role). The message is the target's Input, or the InputPath part of the
    event, or the InputTransformer's output - the text itself when the InputTemplate is a quoted
    string, else its JSON - or, with none of these, the whole event as JSON. A delivery failure
    does not fail PutEvents.
    """
    import datetime
    import sys

    from moto.events.models import Rule
    from moto.events.utils import EventTemplateParser
    from moto.sns.models import sns_backends
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def message_of(target: dict[str, Any], event: dict[str, Any]) -> str:
        if "Input" in target:
            return target["Input"]
        if "InputPath" in target:
            return json.dumps(_jsonpath(event, target["InputPath"]))
        if "InputTransformer" in target:
            transformer = target["InputTransformer"]
            result = EventTemplateParser.parse(
                input_template=transformer.get("InputTemplate"),
                input_paths_map=transformer.get("InputPathsMap", {}),
                event=event,
            )
            return result if isinstance(result, str) else json.dumps(result)
        return json.dumps({k: v for k, v in event.items() if k != "ingestion-time"})

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        topics = [t for t in self.targets if parse_arn(t["Arn"]).service == "sns"]
        if not topics:
            return original(self, original_event, transform_input)
        others = copy.copy(self)
        others.targets = [t for t in self.targets if t not in topics]
        if others.targets:
            original(others, original_event, transform_input)
        if self.state == "DISABLED" or not self.event_pattern.matches_event(original_event):
            return
        event = dict(original_event)
        if isinstance(event.get("time"), (int, float)):  # events carry their time as ISO 8601
            event["time"] = datetime.datetime.fromtimestamp(
                event["time"], tz=datetime.timezone.utc
            ).strftime("%Y-%m-%dT%H:%M:%SZ")
        for target in topics:
            arn = parse_arn(target["Arn"])
            try:
                message = message_of(target, event)
                sns_backends[arn.account][arn.region].publish(message=message, arn=target["Arn"])
            except Exception as e:  # EventBridge only counts a FailedInvocation
                print(f"EventBridge: could not publish to {target['Arn']}: {e!r}", file=sys.stderr)

    Rule.send_to_targets = send_to_targets

def runtime_deadline_is_an_epoch_date() -> None:
    """Lambda's runtime API gives each invocation its deadline as the date the function times out,
    in Unix milliseconds (`Lambda-Runtime-Deadline-Ms`); cargo-lambda's emulator sends 600000.
    The runner then puts a proxy that sets the real date between the functions and cargo-lambda
    (runtime_deadline.py), so modify-routes' stop-before-the-deadline logic runs locally."""
    import lambda_runner

    lambda_runner.FIX_RUNTIME_DEADLINE = True


def functions_run_as_their_execution_role() -> None:
    """Gap: every function process gets the same stand-in credentials, which
    moto did not issue, so the functions act as moto's default
    `arn:aws:sts::<account>:user/moto`, not as their execution role: a trust
    policy naming a function's role ARN (right on AWS) refuses their
    AssumeRole (assume_role_needs_a_trusting_role).

    AWS (Lambda developer guide, "Lambda execution role" and "Defined
    runtime environment variables"): Lambda assumes the function's execution
    role and gives its process the session's temporary credentials
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN); the
    function acts as `arn:aws:sts::<account>:assumed-role/<role name>/<function name>`.

    Emulation: the runner asks for a session of the function's Role, minted
    in moto's STS backend directly (the Lambda service is trusted by the
    role's `lambda.amazonaws.com` trust, so no trust policy is read), named
    after the function, and reused for that function and role until moto's
    state is reset. Its secret key and session token stay the runner's
    distinctive stand-ins (moto never verifies either; tests search the logs
    for them).
    """
    import threading

    import lambda_runner
    from moto.sts.models import sts_backends
    from moto.sts.utils import DEFAULT_STS_SESSION_DURATION
    from moto.utilities.utils import get_partition

    sessions: dict[tuple[str, ...], tuple[str, str]] = {}  # -> (role's account, access key id)
    lock = threading.Lock()

    def execution_role_session(fn: Any) -> str:
        partition = get_partition(fn.region)
        key = (fn.account_id, fn.region, fn.function_name, fn.role)
        with lock:
            if key in sessions:
                account, access_key_id = sessions[key]
                if sts_backends[account][partition].get_assumed_role_from_access_key(access_key_id):
                    return access_key_id
            session = sts_backends[fn.account_id][partition].assume_role(
                region_name=fn.region,
                role_session_name=fn.function_name,
                role_arn=fn.role,
                policy=None,
                duration=DEFAULT_STS_SESSION_DURATION,
                external_id=None,
            )
            session.secret_access_key = session.access_key.secret_access_key = (
                lambda_runner.FUNCTION_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
            )
            session.session_token = lambda_runner.FUNCTION_CREDENTIALS["AWS_SESSION_TOKEN"]
            sessions[key] = (session.account_id, session.access_key_id)
            return session.access_key_id

    lambda_runner.EXECUTION_ROLE_SESSION = execution_role_session


def function_calls_need_their_roles_permissions() -> None:
    """Gap: moto evaluates no IAM policy: a role session may call anything, so a template whose
    roles grant too little (a missing action, a resource ARN of the wrong form, a condition that
    never holds) passes every test here and fails on AWS.

    AWS (IAM User Guide, policy evaluation logic; Service Authorization Reference): every call
    made with a role session's credentials is authorized against the role's identity-based
    policies (and the session policy, if any): an explicit Deny refuses it, else an Allow is
    needed for the action on each resource it names in the request context; otherwise the
    service refuses it (EC2 UnauthorizedOperation, DynamoDB and Step Functions
    AccessDeniedException, STS AccessDenied, SNS AuthorizationError).

    Emulation: the harness (iam_enforcement.py) evaluates every call signed with an access key
    of an assumed-role session in moto's STS backend - the functions' execution roles
    (functions_run_as_their_execution_role) and the roles they assume - against the role's
    inline and attached policies in moto's IAM backend, with the resources and condition keys
    iam_requests.py builds from the Service Authorization Reference and the evaluator in
    iam_policy.py; a call it cannot map, or a policy element it does not model, is refused.
    Other keys (`testing`, the Step Functions interpreter's) are not evaluated; resource-based
    policies, permissions boundaries and SCPs are not modelled.
    """
    import iam_enforcement

    iam_enforcement.ENABLED = True


PATCHES = (
    runtime_deadline_is_an_epoch_date,
    functions_run_as_their_execution_role,
    function_calls_need_their_roles_permissions,
    stack_state_machines_reach_the_api,
    state_machine_get_att,
    state_machine_definition_sources,
    executions_get_unique_names,
    lambda_task_errors_named_as_on_aws,
    terminal_errors_escape_states_all,
    context_object_times_are_iso_strings,
    aws_sdk_tasks_take_pascal_case_parameters,
    child_executions_take_and_return_pascal_case,
    dynamodb_conditional_writes_are_atomic,
    template_urls_on_the_local_endpoint_are_path_style,
    change_sets_rebuild_outputs,
    unchanged_change_set_fails_without_changes,
    functions_keep_logging_config,
    stack_functions_keep_architectures,
    stack_function_updates_reset_removed_properties,
    stack_function_environment_values_are_strings,
    short_form_get_att_accepts_a_list,
    no_value_removes_list_items,
    stack_updates_follow_parameters_and_conditions,
    stack_resources_skip_false_conditions,
    stack_roles_keep_their_policies,
    stack_log_groups_update_in_place,
    log_groups_keep_their_class,
    log_group_arn_attribute_ends_with_star,
    events_start_state_machine_targets,
    input_transformer_output_stays_valid_json,
    events_publish_to_sns_targets,
)
