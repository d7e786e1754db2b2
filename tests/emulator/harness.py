"""WSGI middleware in front of moto: EC2 call counters, fault injection and
the JSON control API under /_harness/ (never forwarded to moto)."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import patches

CONTROL_PREFIX = "/_harness/"
UNKNOWN_REGION = "unknown"

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

_PEERING_FIELDS = {
    "initiatingRequestPolls": "initiating_request_polls",
    "pendingPolls": "pending_polls",
    "outcome": "outcome",
    "pendingAcceptancePolls": "pending_acceptance_polls",
}


class BadRequest(Exception):
    pass


@dataclass
class FaultRule:
    action: str
    code: str
    httpStatus: int
    times: int
    region: str | None = None
    message: str | None = None
    dropConnection: bool = False

    def matches(self, action: str, region: str) -> bool:
        return (
            self.times > 0
            and self.action in ("*", action)
            and self.region in (None, region)
        )


def _fault_from_json(body: dict[str, Any]) -> FaultRule:
    allowed = {"action", "code", "httpStatus", "times", "region", "message", "dropConnection"}
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(f"unknown fields: {sorted(unknown)}")
    action = body.get("action")
    if not isinstance(action, str) or not action:
        raise BadRequest('"action" must be an EC2 action name or "*"')
    code = body.get("code", "RequestLimitExceeded")
    status = body.get("httpStatus", 503 if code == "RequestLimitExceeded" else 400)
    times = body.get("times", 1)
    region = body.get("region")
    drop = body.get("dropConnection", False)
    if not isinstance(code, str) or not code:
        raise BadRequest('"code" must be a non-empty string')
    if not _is_int(status) or not 100 <= status <= 599:
        raise BadRequest('"httpStatus" must be an HTTP status code')
    if not _is_int(times) or times < 1:
        raise BadRequest('"times" must be a positive integer')
    if region is not None and not isinstance(region, str):
        raise BadRequest('"region" must be a string')
    if not isinstance(drop, bool):
        raise BadRequest('"dropConnection" must be a boolean')
    return FaultRule(action, code, status, times, region, body.get("message"), drop)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error_body(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Errors><Error><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error></Errors>"
        f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()


class Harness:
    def __init__(
        self, app: Callable, reset_moto: Callable[[], None], lambdas: Any = None
    ) -> None:
        self.app = app
        self.reset_moto = reset_moto
        self.lambdas = lambdas  # a lambda_runner.LambdaRunner with --lambda-bin-dir
        self._lock = threading.Lock()
        self._total: Counter[str] = Counter()
        self._by_region: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults: list[FaultRule] = []

    # --- WSGI ---------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response)

        call = self._ec2_call(environ)
        if call is None:
            return self.app(environ, start_response)
        action, region = call
        with self._lock:
            self._total[action] += 1
            self._by_region[region][action] += 1
            fault = next((f for f in self._faults if f.matches(action, region)), None)
            if fault is not None:
                fault.times -= 1
                self._faults = [f for f in self._faults if f.times > 0]
        if fault is None:
            return self.app(environ, start_response)
        if fault.dropConnection:
            return self._drop(environ, start_response)
        body = _error_body(fault.code, fault.message or f"Injected fault for {action}.")
        start_response(
            f"{fault.httpStatus} Injected",
            [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    @staticmethod
    def _ec2_call(environ: dict[str, Any]) -> tuple[str, str] | None:
        """(Action, Region) of an EC2 Query API request, else None.

        Buffers the body and puts it back for moto."""
        region, service = UNKNOWN_REGION, None
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope:
            region, service = scope.groups()
            if service != "ec2":
                return None

        params = parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            body = _read_body(environ)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            params.update(parse_qs(body.decode("utf-8", "replace")))
        action = params.get("Action", [None])[0]
        if not action:
            return None
        return action, region

    @staticmethod
    def _drop(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        conn = environ.get("werkzeug.socket")
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # Werkzeug's write to the shut-down socket fails with a connection
        # error, which it treats as a dropped connection.
        start_response("500 Dropped", [("Content-Length", "0")])
        return [b""]

    # --- control API ----------------------------------------------------------

    def _control(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")[len(CONTROL_PREFIX) :].rstrip("/")
        routes = {
            ("GET", "calls"): self.get_calls,
            ("POST", "calls/reset"): self.reset_calls,
            ("POST", "reset"): self.reset_all,
            ("POST", "peering"): self.set_peering,
            ("GET", "faults"): self.get_faults,
            ("POST", "faults"): self.add_fault,
            ("DELETE", "faults"): self.clear_faults,
            ("GET", "lambda"): self.get_lambda,
            ("POST", "lambda/reset"): self.reset_lambda,
        }
        handler = routes.get((method, path))
        if handler is None:
            known = [p for (_, p) in routes]
            status, payload = (405, "method not allowed") if path in known else (404, "not found")
            return _json(start_response, status, {"error": payload})
        try:
            body = _read_body(environ)
            args = json.loads(body) if body.strip() else {}
            if not isinstance(args, dict):
                raise BadRequest("body must be a JSON object")
            return _json(start_response, 200, handler(args))
        except (BadRequest, ValueError, TypeError) as e:
            return _json(start_response, 400, {"error": str(e)})

    def get_calls(self, _: dict) -> dict:
        with self._lock:
            return {
                "total": dict(self._total),
                "byRegion": {r: dict(c) for r, c in self._by_region.items()},
            }

    def reset_calls(self, _: dict) -> dict:
        with self._lock:
            self._total.clear()
            self._by_region.clear()
        return self.get_calls({})

    def reset_all(self, _: dict) -> dict:
        self.reset_moto()
        patches.reset_peering_progression()
        self.clear_faults({})
        if self.lambdas is not None:
            self.lambdas.stop_functions()
            self.lambdas.reset_invocations()
        return self.reset_calls({})

    def get_lambda(self, _: dict) -> dict:
        return {"invocations": self.lambdas.invocations() if self.lambdas else []}

    def reset_lambda(self, _: dict) -> dict:
        if self.lambdas is not None:
            self.lambdas.reset_invocations()
        return self.get_lambda({})

    def set_peering(self, args: dict) -> dict:
        unknown = set(args) - set(_PEERING_FIELDS)
        if unknown:
            raise BadRequest(f"unknown fields: {sorted(unknown)}")
        for key, value in args.items():
            if key != "outcome" and (not _is_int(value) or value < 0):
                raise BadRequest(f'"{key}" must be a non-negative integer')
        settings = patches.set_peering_progression(
            **{_PEERING_FIELDS[k]: v for k, v in args.items()}
        )
        return {"peering": {k: getattr(settings, f) for k, f in _PEERING_FIELDS.items()}}

    def get_faults(self, _: dict) -> dict:
        with self._lock:
            return {"faults": [asdict(f) for f in self._faults]}

    def add_fault(self, args: dict) -> dict:
        rule = _fault_from_json(args)
        with self._lock:
            self._faults.append(rule)
        return self.get_faults({})

    def clear_faults(self, _: dict) -> dict:
        with self._lock:
            self._faults.clear()
        return self.get_faults({})


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return stream.read(length)
    if environ.get("wsgi.input_terminated"):  # chunked request body
        return stream.read()
    return b""


def _json(start_response: Callable, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
    start_response(
        f"{status} {reason.get(status, '')}".strip(),
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
