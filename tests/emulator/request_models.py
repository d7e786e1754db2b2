"""Requests checked against the service's API model, as AWS checks them before acting.

moto accepts requests AWS refuses: an unknown parameter, a missing required one, a value outside
its enum or range (MaxResults 4), an unknown filter name. So that a request the functions send and
AWS would refuse fails here too, `ModelValidator` (a WSGI middleware between the harness and moto)
reads each EC2, DynamoDB, Step Functions and STS request back into the members of botocore's model of
the operation (botocore==1.44.5, the JSON models every AWS SDK is generated from) and refuses it
with the error that service's protocol sends. The patch `requests_match_the_api_model` switches it
on; with `--skip-patch requests_match_the_api_model` every request goes to moto unchecked.

Checked: member names (EC2: the flattened form keys `Filter.1.Name`, `TagSpecification.1.Tag.1.Key`
mapped back to members by the ec2 protocol's `queryName` / `locationName` rules), required members,
enum values, numeric `min`/`max`, string lengths and patterns, list lengths, and (EC2) the filter
names each Describe/Search action documents (`ec2_filters.py`). Not checked: timestamp formats,
blob encodings, and rules the model does not state (parameter combinations).
"""

from __future__ import annotations

import io
import json
import re
import sys
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

import ec2_filters

_enabled = False


def requests_match_the_api_model() -> None:
    """Patch: refuse every EC2, DynamoDB, Step Functions and STS request that breaks the API model."""
    global _enabled
    _enabled = True


# SigV4 credential scope service -> botocore service model name.
SERVICES = {"ec2": "ec2", "dynamodb": "dynamodb", "states": "stepfunctions", "sts": "sts"}

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# Query keys every request may carry besides the operation's members (SigV4 in the query string).
_PROTOCOL_KEYS = re.compile(r"^(Action|Version|X-Amz-[A-Za-z-]+)$")


@dataclass(frozen=True)
class Violation:
    kind: str  # "missing" | "invalid" | "unknown"
    path: tuple[str, ...]  # member names (EC2: serialized keys) from the top
    value: Any
    constraint: str  # what the value fails, in the words Coral's validation messages use


@dataclass(frozen=True)
class Refusal:
    status: int
    content_type: str
    body: bytes


@lru_cache(maxsize=None)
def _service_model(name: str):
    return botocore.session.get_session().get_service_model(name)


def operation_model(service: str, operation: str) -> OperationModel | None:
    model = _service_model(SERVICES[service])
    return model.operation_model(operation) if operation in model.operation_names else None


# --- the shape checks shared by both protocols ----------------------------------------------------


def shape_violations(shape: Shape, value: Any, path: tuple[str, ...], name_of: Callable) -> list[Violation]:
    """What `value` breaks in `shape`: required members, enums, ranges, lengths, patterns.
    `name_of(member_name, member_shape)` gives a member's name in paths (the protocol's)."""
    if isinstance(shape, StructureShape):
        return _structure_violations(shape, value, path, name_of)
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return []
        found = _length_violations(shape, value, path, len(value))
        for i, item in enumerate(value, 1):
            found += shape_violations(shape.member, item, path + (str(i),), name_of)
        return found
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return []
        found = _length_violations(shape, value, path, len(value))
        for key, item in value.items():
            found += shape_violations(shape.value, item, path + (str(key),), name_of)
        return found
    return _scalar_violations(shape, value, path)


def _structure_violations(shape: StructureShape, value: Any, path, name_of) -> list[Violation]:
    if not isinstance(value, dict):
        return []
    found = [
        Violation("missing", path + (name_of(name, shape.members[name]),), None, "Member must not be null")
        for name in shape.required_members
        if value.get(name) is None
    ]
    for name, item in value.items():
        if name in shape.members and item is not None:
            member = shape.members[name]
            found += shape_violations(member, item, path + (name_of(name, member),), name_of)
    return found


def _length_violations(shape: Shape, value: Any, path, length: int) -> list[Violation]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        return [Violation("invalid", path, value, f"Member must have length greater than or equal to {low}")]
    if high is not None and length > high:
        return [Violation("invalid", path, value, f"Member must have length less than or equal to {high}")]
    return []


def _scalar_violations(shape: Shape, value: Any, path) -> list[Violation]:
    if shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            return [Violation("invalid", path, value, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")]
        pattern = shape.metadata.get("pattern")
        if pattern and not _matches(pattern, value):
            return [Violation("invalid", path, value, f"Member must satisfy regular expression pattern: {pattern}")]
        return _length_violations(shape, value, path, len(value))
    if shape.type_name in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            return [Violation("invalid", path, value, f"Member must have value greater than or equal to {low}")]
        if high is not None and value > high:
            return [Violation("invalid", path, value, f"Member must have value less than or equal to {high}")]
    return []


# Java writes code points past U+FFFF as \u10000 (five hex digits); Python reads four after \u.
_JAVA_ASTRAL_RANGE = re.compile(r"\\u10000-\\u10FFFF", re.IGNORECASE)


@lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(_JAVA_ASTRAL_RANGE.sub(r"\\U00010000-\\U0010FFFF", pattern), re.DOTALL)
    except re.error:  # a Java-only construct: the pattern is not checked
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


# --- EC2 Query protocol ---------------------------------------------------------------------------


def ec2_member_key(name: str, shape: Shape) -> str:
    """A member's key in an EC2 Query request: its queryName, else its locationName capitalized,
    else its name capitalized (botocore's EC2Serializer; Smithy's awsEc2 protocol alike)."""
    serialization = shape.serialization
    if "queryName" in serialization:
        return serialization["queryName"]
    key = serialization.get("name", name)
    return key[0].upper() + key[1:]


def query_member_key(name: str, shape: Shape) -> str:
    """A member's key in a Query (awsQuery) request: its locationName, else its name."""
    return shape.serialization.get("name", name)


def _query_list_items(key: str, shape: ListShape) -> str:
    """Where a Query list's items go: `key.N` if flattened, else `key.member.N`."""
    if shape.serialization.get("flattened"):
        return key
    return f"{key}.{shape.member.serialization.get('name', 'member')}"


class _FormReader:
    """Reads the flattened form keys of a Query request back into a structure of the operation's
    input shape, remembering each key it used: a key no member accounts for is an unknown
    parameter. `ec2=True`: the ec2 protocol's names and list keys, else awsQuery's."""

    def __init__(self, params: dict[str, str], ec2: bool) -> None:
        self.params = params
        self.ec2 = ec2
        self.used: set[str] = set()
        self.bad_values: list[Violation] = []

    def structure(self, shape: StructureShape, prefix: str) -> dict[str, Any]:
        out = {}
        for name, member in shape.members.items():
            key = (ec2_member_key if self.ec2 else query_member_key)(name, member)
            value = self.read(member, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                out[name] = value
        return out

    def read(self, shape: Shape, key: str) -> Any:
        if isinstance(shape, StructureShape):
            return self.structure(shape, key) if self._has_under(key) else None
        if isinstance(shape, ListShape):
            if self.params.get(key) == "":  # an empty list, as the Query protocol writes one
                self.used.add(key)
                return []
            items = key if self.ec2 else _query_list_items(key, shape)
            indices = self._indices(items)
            return [self.read(shape.member, f"{items}.{i}") for i in indices] if indices else None
        if isinstance(shape, MapShape):
            return self._map(shape, key)
        if key not in self.params:
            return None
        self.used.add(key)
        return self._scalar(shape, key, self.params[key])

    def _map(self, shape: MapShape, key: str) -> dict[str, Any] | None:
        entries = key if shape.serialization.get("flattened") else f"{key}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        indices = self._indices(entries)
        if not indices:
            return None
        pairs = ((self.read(shape.key, f"{entries}.{i}.{key_name}"),
                  self.read(shape.value, f"{entries}.{i}.{value_name}")) for i in indices)
        return {k: v for k, v in pairs if k is not None}

    def _has_under(self, prefix: str) -> bool:
        return any(k.startswith(prefix + ".") for k in self.params)

    def _indices(self, prefix: str) -> list[int]:
        found = set()
        for k in self.params:
            rest = k[len(prefix) + 1 :] if k.startswith(prefix + ".") else ""
            head = rest.split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
        return sorted(found)

    def _scalar(self, shape: Shape, key: str, text: str) -> Any:
        try:
            if shape.type_name in ("integer", "long"):
                return int(text)
            if shape.type_name in ("float", "double"):
                return float(text)
        except ValueError:
            self.bad_values.append(Violation("invalid", (key,), text, "Member must be a number"))
            return None
        if shape.type_name == "boolean":
            if text.lower() not in ("true", "false"):
                self.bad_values.append(Violation("invalid", (key,), text, "Member must be true or false"))
                return None
            return text.lower() == "true"
        return text


def _read_form(shape: Any, params: dict[str, str], ec2: bool, unknown_reason: str) -> tuple[Any, list[Violation]]:
    """A form request read against its input shape: the value, and every key it has no member for
    (unknown), then each value it could not read."""
    reader = _FormReader(params, ec2=ec2)
    value = reader.structure(shape, "")
    unknown = [
        Violation("unknown", (k,), params[k], unknown_reason)
        for k in sorted(params)
        if k not in reader.used and not _PROTOCOL_KEYS.match(k)
    ]
    return value, unknown + reader.bad_values


def ec2_violations(action: str, params: dict[str, str]) -> list[Violation]:
    """What an EC2 Query request (its form keys, one value each) breaks in the action's model."""
    operation = operation_model("ec2", action)
    if operation is None or operation.input_shape is None:
        return []
    value, unread = _read_form(operation.input_shape, params, True, "not a member")
    # EC2 paths are the serialized keys (Filter.1.Name): what its messages name.
    found = shape_violations(operation.input_shape, value, (), ec2_member_key)
    return unread + found + _filter_violations(action, value)


def _filter_violations(action: str, value: dict[str, Any]) -> list[Violation]:
    return [
        Violation("filter", ("Filter", str(i), "Name"), f.get("Name"), "not a documented filter name")
        for i, f in enumerate(value.get("Filters") or [], 1)
        if f.get("Name") is not None and not ec2_filters.is_known(action, f["Name"])
    ]


def ec2_refusal(violation: Violation) -> tuple[str, str]:
    """EC2's (code, message) for a violation: UnknownParameter, MissingParameter or
    InvalidParameterValue (the API reference's common client error codes)."""
    if violation.kind == "unknown":
        segment = [p for p in violation.path[-1].split(".") if not p.isdigit()][-1]
        return "UnknownParameter", f"The parameter {segment} is not recognized"
    key = ".".join(violation.path)
    if violation.kind == "missing":
        return "MissingParameter", f"The request must contain the parameter {key}"
    if violation.kind == "filter":
        return "InvalidParameterValue", f"The filter '{violation.value}' is invalid"
    return "InvalidParameterValue", f"Value ({violation.value}) for parameter {key} is invalid. {violation.constraint}"


# --- Query protocol (STS) ----------------------------------------------------------------------------


def query_violations(service: str, action: str, params: dict[str, str]) -> list[Violation]:
    """What an awsQuery request (its form keys) breaks in the action's model; paths as Coral's
    messages name members."""
    operation = operation_model(service, action)
    if operation is None or operation.input_shape is None:
        return []
    value, unread = _read_form(operation.input_shape, params, False, "Member must be a member of the input")
    return unread + shape_violations(operation.input_shape, value, (), _json_name)


def _query_error(service: str, message: str) -> Refusal:
    """STS's error document: ValidationError, type Sender."""
    namespace = _service_model(SERVICES[service]).metadata.get("xmlNamespace", "")
    body = (
        f'<ErrorResponse xmlns="{escape(namespace)}"><Error><Type>Sender</Type>'
        f"<Code>ValidationError</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return Refusal(400, "text/xml", body)


# --- JSON protocol (DynamoDB, Step Functions) ------------------------------------------------------


def _json_name(name: str, _shape: Shape) -> str:
    return name[0].lower() + name[1:]  # Coral names members in lower camel case in its messages


def json_violations(service: str, operation: str, body: Any) -> list[Violation]:
    model = operation_model(service, operation)
    if model is None or model.input_shape is None:
        return []
    if not isinstance(body, dict):
        return [Violation("invalid", (), body, "Request body must be a JSON object")]
    return _unknown_json_members(model.input_shape, body, ()) + shape_violations(
        model.input_shape, body, (), _json_name
    )


def _unknown_json_members(shape: Shape, value: Any, path: tuple[str, ...]) -> list[Violation]:
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        found = []
        for name, item in value.items():
            if name not in shape.members:
                found.append(Violation("unknown", path + (name,), item, "Member must be a member of the input"))
            else:
                found += _unknown_json_members(shape.members[name], item, path + (_json_name(name, None),))
        return found
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [v for i, item in enumerate(value, 1) for v in _unknown_json_members(shape.member, item, path + (str(i),))]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return [v for k, item in value.items() for v in _unknown_json_members(shape.value, item, path + (k,))]
    return []


def json_message(violations: list[Violation]) -> str:
    """Coral's ValidationException text: "1 validation error detected: Value '0' at 'limit' failed
    to satisfy constraint: Member must have value greater than or equal to 1"."""
    parts = []
    for v in violations:
        shown = "null" if v.value is None else f"'{v.value}'"
        parts.append(f"Value {shown} at '{'.'.join(v.path)}' failed to satisfy constraint: {v.constraint}")
    noun = "error" if len(parts) == 1 else "errors"
    return f"{len(parts)} validation {noun} detected: " + "; ".join(parts)


def _json_error(service: str, message: str) -> Refusal:
    prefix = "com.amazonaws.dynamodb.v20120810#" if service == "dynamodb" else ""
    body = json.dumps({"__type": f"{prefix}ValidationException", "message": message}).encode()
    return Refusal(400, "application/x-amz-json-1.0", body)


# --- the middleware ----------------------------------------------------------------------------------


def refusal_for(environ: dict[str, Any]) -> Refusal | None:
    """The error AWS would answer this request with for breaking its model, else None.
    Reads the body and puts it back for moto."""
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = scope.group(1) if scope else None
    if service not in SERVICES:
        return None
    body = _buffered_body(environ)
    if service == "ec2":
        return _ec2_refusal(environ, body)
    if _service_model(SERVICES[service]).protocol == "query":
        return _query_refusal(service, environ, body)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if "." not in target:
        return None
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return None  # moto answers malformed JSON itself
    violations = json_violations(service, target.rsplit(".", 1)[1], payload)
    return _json_error(service, json_message(violations)) if violations else None


def _form_params(environ: dict[str, Any], body: bytes) -> dict[str, str]:
    fields = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        fields.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    return {k: v[0] for k, v in fields.items()}


def _query_refusal(service: str, environ: dict[str, Any], body: bytes) -> Refusal | None:
    params = _form_params(environ, body)
    action = params.get("Action")
    violations = query_violations(service, action, params) if action else []
    return _query_error(service, json_message(violations)) if violations else None


def _ec2_refusal(environ: dict[str, Any], body: bytes) -> Refusal | None:
    params = _form_params(environ, body)
    action = params.get("Action")
    violations = ec2_violations(action, params) if action else []
    if not violations:
        return None
    from harness import _error_body  # the harness's EC2 error XML; imported here: it imports patches

    code, message = ec2_refusal(violations[0])
    return Refusal(400, "text/xml;charset=UTF-8", _error_body(code, message))


def _buffered_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


class ModelValidator:
    """WSGI middleware in front of moto: refuses, while the patch is on, a request that breaks
    its API model, with the error its service sends (HTTP 400)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        refusal = refusal_for(environ) if _enabled else None
        if refusal is None:
            return self.app(environ, start_response)
        # On stderr, so that a function's request refused in a stack test shows what it broke.
        print(f"request_models: refused: {refusal.body.decode('utf-8', 'replace')}", file=sys.stderr)
        start_response(
            f"{refusal.status} Bad Request",
            [("Content-Type", refusal.content_type), ("Content-Length", str(len(refusal.body)))],
        )
        return [refusal.body]
