"""The sequence of AWS calls a run makes, and one fault at one call of it: what the fault sweep
(scripts/fault_sweep.py, tests/stack/test_fault_sweep.py) is built on.

Only the run's own calls are in the sequence: those signed by a function's role session (the
functions' EC2, DynamoDB, STS calls) and those the Step Functions interpreter makes for the state
machine's Task states (signed with moto's fixed key "ak": Lambda invokes, DynamoDB lock items,
SNS, child executions). A test's own calls (signed with `testing`) are neither logged nor faulted.

A fault is armed for the n-th call from now that matches a service, action and Region (any of
them left out: any), of one kind:
- `retryable`: the service's throttling error, once (what the callers' retries are for);
- `nonRetryable`: the call's own documented failure (`IncorrectState` for a transit gateway write,
  else the service's access-denied error), once;
- `crash`: the call is carried out and answered, then the function that made it is killed before
  it can read the answer (a process that dies between a call and its next step);
- `answerLost`: the call is carried out, then the connection is closed with no answer (a timeout
  after the write: the caller cannot tell whether it happened).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import wsgi_body

KINDS = ("retryable", "nonRetryable", "crash", "answerLost")
STATE_MACHINE_KEY = "ak"  # moto's Step Functions interpreter signs its Task calls with this key

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")

# Writes, per service (EC2's: every action but Describe/Get/List/Search).
_WRITES = {
    "dynamodb": {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"},
    "states": {"StartExecution", "StopExecution", "SendTaskSuccess", "SendTaskFailure"},
    "sns": {"Publish"},
    "lambda": {"Invoke"},
}


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    code: str
    protocol: str  # "ec2" | "query" | "json" | "rest-json"


# The throttling error each service answers with (each in docs/aws-facts.md, "Fault sweep").
_THROTTLING = {
    "ec2": ErrorAnswer(503, "RequestLimitExceeded", "ec2"),
    "dynamodb": ErrorAnswer(400, "ThrottlingException", "json"),
    "states": ErrorAnswer(400, "ThrottlingException", "json"),
    "sns": ErrorAnswer(429, "Throttled", "query"),
    "sts": ErrorAnswer(400, "Throttling", "query"),
    "lambda": ErrorAnswer(429, "TooManyRequestsException", "rest-json"),
}
# The failure no retry cures: the service's access-denied error.
_DENIED = {
    "ec2": ErrorAnswer(403, "UnauthorizedOperation", "ec2"),
    "dynamodb": ErrorAnswer(400, "AccessDeniedException", "json"),
    "states": ErrorAnswer(400, "AccessDeniedException", "json"),
    "sns": ErrorAnswer(403, "AuthorizationError", "query"),
    "sts": ErrorAnswer(403, "AccessDenied", "query"),
    "lambda": ErrorAnswer(403, "AccessDeniedException", "rest-json"),
}
_INCORRECT_STATE = ErrorAnswer(400, "IncorrectState", "ec2")


@dataclass
class Call:
    """One call of the sequence."""

    seq: int
    service: str
    action: str
    region: str
    caller: str  # "function" | "stateMachine"
    write: bool
    fault: str | None = None
    status: int | None = None  # the HTTP status answered (None: the connection was closed)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "service": self.service, "action": self.action,
                "region": self.region, "caller": self.caller, "write": self.write,
                "fault": self.fault, "status": self.status}


def is_write(service: str, action: str) -> bool:
    if service == "ec2":
        return not action.startswith(("Describe", "Get", "List", "Search"))
    return action in _WRITES.get(service, set())


def error_for(kind: str, call: Call) -> ErrorAnswer:
    if kind == "retryable":
        return _THROTTLING[call.service]
    if call.service == "ec2" and call.write and "TransitGateway" in call.action:
        return _INCORRECT_STATE
    return _DENIED[call.service]


def error_response(answer: ErrorAnswer, action: str, start_response: Callable) -> list[bytes]:
    """`answer` in its service's wire protocol."""
    message = f"Injected fault for {action}."
    request_id = str(uuid.uuid4())
    headers: list[tuple[str, str]]
    if answer.protocol == "ec2":
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{answer.code}"
                f"</Code><Message>{escape(message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>").encode()
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    elif answer.protocol == "query":
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{answer.code}</Code>"
                f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
    elif answer.protocol == "json":
        body = json.dumps({"__type": answer.code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0")]
    else:
        body = json.dumps({"Type": "User", "message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", answer.code)]
    headers += [("Content-Length", str(len(body))), ("x-amzn-RequestId", request_id)]
    start_response(f"{answer.status} Error", headers)
    return [body]


@dataclass
class ArmedFault:
    """The fault and the call it is for: the `occurrence`-th call from the arming that matches
    `service`, `action` and `region` (each None: any). Named by what the call is rather than by
    its place, so that calls made at once on two sides, whose order varies, are still told apart."""

    kind: str
    occurrence: int
    service: str | None = None
    action: str | None = None
    region: str | None = None
    seen: int = 0

    def matches(self, call: Call) -> bool:
        return all(want in (None, got) for want, got in (
            (self.service, call.service), (self.action, call.action), (self.region, call.region)))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "occurrence": self.occurrence, "service": self.service,
                "action": self.action, "region": self.region, "seen": self.seen}


_ARM_FIELDS = {"kind", "occurrence", "service", "action", "region"}


class CallSequence:
    """The log of a run's calls and the one armed fault."""

    def __init__(self, is_role_session: Callable[[str], bool]) -> None:
        self._is_role_session = is_role_session
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._armed: ArmedFault | None = None
        self._fired: Call | None = None

    def identify(self, environ: dict[str, Any], action: str | None) -> Call | None:
        """The call this request is, logged, if it is one of the run's; else None. `action` is the
        Query API action when the caller already parsed it."""
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return None
        key, region, service = scope.groups()
        if key == STATE_MACHINE_KEY:
            caller = "stateMachine"
        elif self._is_role_session(key):
            caller = "function"
        else:
            return None
        name = action or _action_of(environ, service)
        if name is None:
            return None
        with self._lock:
            call = Call(len(self._calls) + 1, service, name, region, caller, is_write(service, name))
            self._calls.append(call)
            armed = self._armed
            if armed is not None and self._fired is None and armed.matches(call):
                armed.seen += 1
                if armed.seen == armed.occurrence and self._applies(armed.kind, call):
                    call.fault = armed.kind
                    self._fired = call
        return call

    @staticmethod
    def _applies(kind: str, call: Call) -> bool:
        # The state machine is AWS's own service: it does not crash between its steps.
        if kind == "crash":
            return call.caller == "function"
        return call.service in _THROTTLING

    def arm(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - _ARM_FIELDS
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        kind, occurrence = body.get("kind"), body.get("occurrence")
        if kind not in KINDS:
            raise ValueError(f'"kind" must be one of {list(KINDS)}')
        if not isinstance(occurrence, int) or isinstance(occurrence, bool) or occurrence < 1:
            raise ValueError('"occurrence" must be a positive integer: the n-th matching call from now')
        for name in ("service", "action", "region"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise ValueError(f'"{name}" must be a string')
        with self._lock:
            self._armed = ArmedFault(kind, occurrence, body.get("service"), body.get("action"),
                                     body.get("region"))
            self._fired = None
        return self.snapshot()

    def reset(self) -> dict[str, Any]:
        with self._lock:
            self._calls.clear()
            self._armed = None
            self._fired = None
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": [c.to_json() for c in self._calls],
                "armed": self._armed.to_json() if self._armed else None,
                "fired": self._fired.to_json() if self._fired else None,
            }


def _action_of(environ: dict[str, Any], service: str) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if "." in target:
        return target.rsplit(".", 1)[1]
    if service == "lambda" and _LAMBDA_INVOKE.match(environ.get("PATH_INFO", "")):
        return "Invoke"
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(wsgi_body.peek_body(environ).decode("utf-8", "replace"))
        return form.get("Action", [None])[0]
    return None
