"""IAM enforcement for the harness: a call signed with the access key of an assumed-role session
(a function's execution role, or a role it assumed in another account) is authorized against
that role's identity-based policies before it reaches moto, and refused, as the service refuses
it on AWS, when they do not allow it.

Switched on by the patch local_aws_patches.function_calls_need_their_roles_permissions
(`--skip-patch function_calls_need_their_roles_permissions` leaves it off). Calls signed with
keys that are no role session - the tests' own `testing` keys, moto's Step Functions
interpreter calling back - are not evaluated.

What a request needs comes from iam_requests.py, the decision from iam_policy.py; this module reads
moto's state (the session, its role's inline and attached policies, resource tags, key schemas)
and writes the refusal.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import iam_policy
import iam_requests
import wsgi_body

ENABLED = False  # set by the patch local_aws_patches.function_calls_need_their_roles_permissions

_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
# The IAM service prefix of each SigV4 signing name that differs from it.
_IAM_PREFIX = {"monitoring": "cloudwatch"}
# The XML namespace of the Query-protocol services' error responses.
_QUERY_NAMESPACES = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "cloudwatch": "http://monitoring.amazonaws.com/doc/2010-08-01/",
}


@dataclass(frozen=True)
class Denial:
    """A refused call: the IAM service prefix it was made to and AWS's access-denied message."""

    service: str
    message: str


@dataclass(frozen=True)
class Refusal:
    """An access-denied answer, as the service would send it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class _Session:
    arn: str  # arn:aws:sts::<account>:assumed-role/<role>/<session>
    account: str
    partition: str
    role_arn: str
    session_policy: str | None


# --- the check ----------------------------------------------------------------------------------


# What enforcement did since the server started: role-session calls evaluated, the authorizations
# they needed (a call can need several: each resource, a tag on create), and calls refused.
_tally_lock = threading.Lock()
_tally = {"callsEvaluated": 0, "authorizations": 0, "callsRefused": 0}


def tally() -> dict[str, int]:
    with _tally_lock:
        return dict(_tally)


def _count(**increments: int) -> None:
    with _tally_lock:
        for name, by in increments.items():
            _tally[name] += by


def denial(environ: dict[str, Any]) -> Denial | None:
    """The denial of this request, or None when it may go on to moto (enforcement off, no role
    session, or allowed). May read and put back the request body."""
    found = _denial(environ)
    if found is not _NOT_EVALUATED:
        _count(callsEvaluated=1, callsRefused=int(found is not None))
        return found
    return None


# `_denial`'s answer for a call enforcement does not look at.
_NOT_EVALUATED: Any = object()


def _denial(environ: dict[str, Any]) -> Denial | None:
    if not ENABLED:
        return _NOT_EVALUATED
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not scope:
        return _NOT_EVALUATED
    access_key_id, region, signing_name = scope.groups()
    session = _session(access_key_id)
    if session is None:
        return _NOT_EVALUATED
    service = _IAM_PREFIX.get(signing_name, signing_name)
    operation, params = _operation_and_params(environ, service)
    request = iam_requests.Request(
        service, operation, params, region, session.account, session.arn, session.partition
    )
    try:
        needed = iam_requests.authorizations(request, MotoStateView(session.account, region))
    except iam_requests.Unmapped as e:
        return _refuse(service, session, f"{service}:{operation}", "*", _no_allow(f"{service}:{operation}"),
                       f"not mapped: {e}")
    policies = _role_policies(session)
    _count(authorizations=len(needed))
    for authorization in needed:
        verdict = _decide(policies, session, authorization)
        if not verdict.allowed:
            return _refuse(service, session, authorization.action, verdict.resource or "*", verdict.reason,
                           verdict.detail)
    return None


def _decide(policies: list[Any], session: _Session, authorization: iam_requests.Authorization) -> iam_policy.Verdict:
    """The role's policies decide; a session policy, when the session has one, must allow too."""
    args = (authorization.action, authorization.resources, authorization.context, authorization.resource_contexts)
    verdict = iam_policy.evaluate(policies, *args)
    if verdict.allowed and session.session_policy:
        verdict = iam_policy.evaluate([session.session_policy], *args)
    return verdict


def _no_allow(action: str) -> str:
    return f"because no identity-based policy allows the {action} action"


def _refuse(service: str, session: _Session, action: str, resource: str, reason: str, detail: str) -> Denial:
    message = f"User: {session.arn} is not authorized to perform: {action} on resource: {resource} {reason}"
    # One write per line: the server answers calls on several threads at once.
    sys.stderr.write(f"iam: refused {action} on {resource} for {session.arn}: {detail}\n")
    return Denial(service, message)


# --- moto's state ----------------------------------------------------------------------------------


def is_role_session(access_key_id: str) -> bool:
    """Whether this access key belongs to an assumed-role session (a function's, here)."""
    return _session(access_key_id) is not None


def _session(access_key_id: str) -> _Session | None:
    """The assumed-role session that owns this access key, from moto's STS backend."""
    from moto.iam.models import get_account_id_from
    from moto.sts.models import sts_backends

    account = get_account_id_from(access_key_id)
    for partition in ("aws", "aws-cn", "aws-us-gov"):
        try:
            assumed = sts_backends[account][partition].get_assumed_role_from_access_key(access_key_id)
        except KeyError:
            continue
        if assumed is not None:
            return _Session(assumed.arn, assumed.account_id, partition, assumed.role_arn, assumed.policy)
    return None


def _role_policies(session: _Session) -> list[Any]:
    """The role's inline policies and the default version of each managed policy attached to it
    (none if the role no longer exists: every call is then refused, as on AWS)."""
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[session.account][session.partition].get_role_by_arn(session.role_arn)
    except Exception:  # moto's NotFoundException
        return []
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        version = next(v for v in policy.versions if v.version_id == policy.default_version_id)
        documents.append(version.document)
    return documents


class MotoStateView:
    """iam_requests.StateView over moto's backends of one account and Region."""

    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region

    def ec2_tags(self, resource_id: str) -> Mapping[str, str]:
        from moto.ec2.models import ec2_backends

        return dict(ec2_backends[self.account][self.region].tags.get(resource_id, {}))

    def dynamodb_hash_key(self, table_name: str) -> str:
        from moto.dynamodb.models import dynamodb_backends

        try:
            return dynamodb_backends[self.account][self.region].get_table(table_name).hash_key_attr
        except Exception as e:  # ResourceNotFoundException: no key schema to read LeadingKeys with
            raise iam_requests.Unmapped(f"the key schema of table {table_name!r} ({e})") from None


# --- reading the request -------------------------------------------------------------------------


def _operation_and_params(environ: dict[str, Any], service: str) -> tuple[str, Mapping[str, Any]]:
    """The operation and its parameters: from X-Amz-Target and the JSON body (JSON protocols), else
    from the form body and query string (Query protocols)."""
    body = wsgi_body.peek_body(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return target.rsplit(".", 1)[-1], params if isinstance(params, dict) else {}
    form = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    params = {name: values[0] for name, values in form.items()}
    return params.get("Action", f"(a {environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')} request)"), params


# --- the refusal, per service and protocol ----------------------------------------------------------


# EC2 answers UnauthorizedOperation (HTTP 403) in its own XML error shape: the harness writes it.
EC2_CODE, EC2_STATUS = "UnauthorizedOperation", 403


def ec2_message(denial: Denial) -> str:
    return f"You are not authorized to perform this operation. {denial.message}"


def refusal_response(denial: Denial) -> Refusal:
    """The access-denied answer of a service other than EC2."""
    service, message = denial.service, denial.message
    if service == "dynamodb":
        return _json(400, "com.amazon.coral.service#AccessDeniedException", message, "Message")
    if service == "states":
        return _json(400, "AccessDeniedException", message, "message")
    if service == "sns":
        return _xml(403, _query_error(service, "AuthorizationError", message))
    if service in _QUERY_NAMESPACES:  # sts, cloudwatch
        return _xml(403, _query_error(service, "AccessDenied", message))
    return _json(403, "AccessDeniedException", message, "message")


def _query_error(service: str, code: str, message: str) -> bytes:
    return (
        f'<ErrorResponse xmlns="{_QUERY_NAMESPACES[service]}"><Error><Type>Sender</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()


def _xml(status: int, body: bytes) -> Refusal:
    return Refusal(status, [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(body)))], body)


def _json(status: int, error_type: str, message: str, message_field: str) -> Refusal:
    body = json.dumps({"__type": error_type, message_field: message}).encode()
    return Refusal(
        status,
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body))),
         ("x-amzn-RequestId", str(uuid.uuid4()))],
        body,
    )
