"""WSGI middleware in front of moto: EC2 call counters, fault injection (errors,
dropped connections, latency, on every or a fraction of the matching calls),
an EC2-like request token bucket, and the JSON control API under /_harness/
(never forwarded to moto)."""

from __future__ import annotations

import json
import math
import random
import re
import socket
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import call_sequence
import iam_enforcement
import patches
import wsgi_body

CONTROL_PREFIX = "/_harness/"
UNKNOWN_REGION = "unknown"

# What EC2 answers when a request is throttled (HTTP 503).
THROTTLING_CODE = "RequestLimitExceeded"
THROTTLING_MESSAGE = "Request limit exceeded."
THROTTLING_STATUS = 503

# EC2's non-mutating actions (its throttling docs: Describe*, List*, Search*, Get*);
# every other action is mutating.
NON_MUTATING_PREFIXES = ("Describe", "Get", "List", "Search")
DEFAULT_SEED = 0

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")

_PEERING_FIELDS = {
    "initiatingSeconds": "initiating_seconds",
    "initiatingRequestSeconds": "initiating_request_seconds",
    "outcome": "outcome",
    "failingSeconds": "failing_seconds",
    "pendingAcceptanceSeconds": "pending_acceptance_seconds",
    "rejectingSeconds": "rejecting_seconds",
    "pendingSeconds": "pending_seconds",
    "deletingSeconds": "deleting_seconds",
}
# The peering used to progress by describe counts; a body still naming one of
# these learns which duration replaced it.
_RETIRED_PEERING_FIELDS = {
    "initiatingRequestPolls": "initiatingRequestSeconds",
    "pendingPolls": "pendingSeconds",
    "pendingAcceptancePolls": "pendingAcceptanceSeconds",
    "provisioningSeconds": "pendingSeconds (counted from the accept)",
}


_ASSOCIATION_FIELDS = {
    "associatingDescribes": "associating_describes",
    "disassociatingDescribes": "disassociating_describes",
}


class BadRequest(Exception):
    pass


def is_mutating(action: str) -> bool:
    return not action.startswith(NON_MUTATING_PREFIXES)


# --- fault rules ----------------------------------------------------------------


@dataclass
class FaultRule:
    action: str | None
    code: str | None  # None: a latency-only rule (the call then proceeds)
    httpStatus: int | None
    times: int | None  # None: unlimited
    region: str | None = None
    message: str | None = None
    dropConnection: bool = False
    actions: list[str] | None = None
    mutating: bool | None = None
    probability: float | None = None
    seed: int | None = None
    delayMs: int = 0
    _rng: random.Random | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.probability is not None:
            self._rng = random.Random(self.seed)

    @property
    def latency_only(self) -> bool:
        return self.code is None and not self.dropConnection

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.times <= 0

    def matches(self, action: str, region: str) -> bool:
        return (
            not self.exhausted
            and (self.action is None or self.action in ("*", action))
            and (self.actions is None or action in self.actions)
            and (self.mutating is None or self.mutating == is_mutating(action))
            and self.region in (None, region)
        )

    def fires(self, action: str, region: str) -> bool:
        """Whether the rule applies to this call; if so it uses one of its times.
        A rule with a probability draws from its own seeded generator once per
        matching call it is asked about. Call with the harness lock held."""
        if not self.matches(action, region):
            return False
        if self._rng is not None and self._rng.random() >= self.probability:
            return False
        if self.times is not None:
            self.times -= 1
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "actions": self.actions,
            "mutating": self.mutating,
            "code": self.code,
            "httpStatus": self.httpStatus,
            "times": self.times,
            "region": self.region,
            "message": self.message,
            "dropConnection": self.dropConnection,
            "probability": self.probability,
            "seed": self.seed,
            "delayMs": self.delayMs,
        }


_FAULT_FIELDS = {
    "action", "actions", "mutating", "code", "httpStatus", "times", "region", "message",
    "dropConnection", "probability", "seed", "delayMs",
}


def _fault_from_json(body: dict[str, Any]) -> FaultRule:
    unknown = set(body) - _FAULT_FIELDS
    if unknown:
        raise BadRequest(f"unknown fields: {sorted(unknown)}")
    action, actions, mutating = body.get("action"), body.get("actions"), body.get("mutating")
    if action is not None and actions is not None:
        raise BadRequest('give "action" or "actions", not both')
    if action is None and actions is None and mutating is None:
        raise BadRequest('"action" must be an EC2 action name or "*" (or give "actions" or "mutating")')
    if action is not None and (not isinstance(action, str) or not action):
        raise BadRequest('"action" must be an EC2 action name or "*"')
    if actions is not None and (
        not isinstance(actions, list)
        or not actions
        or not all(isinstance(a, str) and a for a in actions)
    ):
        raise BadRequest('"actions" must be a non-empty list of EC2 action names')
    if mutating is not None and not isinstance(mutating, bool):
        raise BadRequest('"mutating" must be a boolean')

    drop = body.get("dropConnection", False)
    if not isinstance(drop, bool):
        raise BadRequest('"dropConnection" must be a boolean')
    delay = body.get("delayMs", 0)
    if not _is_int(delay) or delay < 0:
        raise BadRequest('"delayMs" must be a non-negative integer')

    # A rule with delayMs and neither a code nor dropConnection only delays the call.
    if "delayMs" in body and "code" not in body and not drop:
        if "httpStatus" in body or "message" in body:
            raise BadRequest('"httpStatus" and "message" need a "code"')
        code = status = None
    else:
        code = body.get("code", THROTTLING_CODE)
        if not isinstance(code, str) or not code:
            raise BadRequest('"code" must be a non-empty string')
        status = body.get("httpStatus", THROTTLING_STATUS if code == THROTTLING_CODE else 400)
        if not _is_int(status) or not 100 <= status <= 599:
            raise BadRequest('"httpStatus" must be an HTTP status code')
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise BadRequest('"message" must be a string')

    probability = body.get("probability")
    if probability is not None and (
        not _is_number(probability) or not 0 < probability <= 1
    ):
        raise BadRequest('"probability" must be a number in (0, 1]')
    seed = body.get("seed")
    if seed is not None and probability is None:
        raise BadRequest('"seed" needs a "probability"')
    if seed is not None and not _is_int(seed):
        raise BadRequest('"seed" must be an integer')
    if probability is not None and seed is None:
        seed = DEFAULT_SEED

    if "times" in body:
        times = body["times"]
        if not _is_int(times) or times < 1:
            raise BadRequest('"times" must be a positive integer')
    else:
        times = None if probability is not None else 1
    region = body.get("region")
    if region is not None and not isinstance(region, str):
        raise BadRequest('"region" must be a string')
    return FaultRule(
        action=action,
        code=code,
        httpStatus=status,
        times=times,
        region=region,
        message=message,
        dropConnection=drop,
        actions=list(actions) if actions is not None else None,
        mutating=mutating,
        probability=probability,
        seed=seed,
        delayMs=delay,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _check_seconds(key: str, value: Any) -> None:
    if not _is_number(value) or value < 0:
        raise BadRequest(f'"{key}" must be a non-negative number of seconds')


# --- EC2-like request token buckets -----------------------------------------------

RATE_LIMIT_CLASSES = ("mutating", "nonMutating")
# EC2's published request token bucket sizes and refill rates (tokens per second).
DEFAULT_RATE_LIMITS = {
    "mutating": {"bucket": 50, "refillPerSecond": 5},
    "nonMutating": {"bucket": 100, "refillPerSecond": 20},
}
_EPSILON = 1e-9  # float refill sums such as 0.1 * 10 must still make a whole token


class RateLimiter:
    """Token buckets per Region and class of action (optionally per action too),
    refilled continuously from a monotonic clock sped up by timeScale.
    Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._enabled = False
        self._settings = self._parse({})
        # (region, class, action or None) -> [tokens, clock at last refill]
        self._buckets: dict[tuple[str, str, str | None], list[float]] = {}
        self._counts: defaultdict[str, defaultdict[str, Counter[str]]] = defaultdict(
            lambda: defaultdict(Counter)
        )  # region -> class -> {"allowed", "throttled"}

    @staticmethod
    def _parse(body: dict[str, Any]) -> dict[str, Any]:
        allowed = {"enabled", "timeScale", "perAction", *RATE_LIMIT_CLASSES}
        unknown = set(body) - allowed
        if unknown:
            raise BadRequest(f"unknown fields: {sorted(unknown)}")
        settings: dict[str, Any] = {}
        for cls in RATE_LIMIT_CLASSES:
            given = body.get(cls, {})
            if not isinstance(given, dict) or set(given) - {"bucket", "refillPerSecond"}:
                raise BadRequest(f'"{cls}" must be {{"bucket": n, "refillPerSecond": r}}')
            bucket = given.get("bucket", DEFAULT_RATE_LIMITS[cls]["bucket"])
            refill = given.get("refillPerSecond", DEFAULT_RATE_LIMITS[cls]["refillPerSecond"])
            if not _is_int(bucket) or bucket < 1:
                raise BadRequest(f'"{cls}.bucket" must be a positive integer')
            if not _is_number(refill) or refill < 0:
                raise BadRequest(f'"{cls}.refillPerSecond" must be a non-negative number')
            settings[cls] = {"bucket": bucket, "refillPerSecond": refill}
        scale = body.get("timeScale", 1.0)
        if not _is_number(scale) or scale <= 0:
            raise BadRequest('"timeScale" must be a positive number')
        per_action = body.get("perAction", False)
        if not isinstance(per_action, bool):
            raise BadRequest('"perAction" must be a boolean')
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool):
            raise BadRequest('"enabled" must be a boolean')
        settings.update(timeScale=scale, perAction=per_action, enabled=enabled)
        return settings

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        """Replace the settings (omitted fields take the defaults); every bucket starts full."""
        settings = self._parse(body)
        with self._lock:
            self._enabled = settings.pop("enabled")
            self._settings = settings
            self._buckets.clear()
        return self.snapshot()

    def disable(self) -> dict[str, Any]:
        with self._lock:
            self._enabled = False
            self._buckets.clear()
        return self.snapshot()

    def reset_counters(self) -> None:
        with self._lock:
            self._counts.clear()

    def reset(self) -> None:
        with self._lock:
            self._enabled = False
            self._settings = self._parse({})
            self._buckets.clear()
            self._counts.clear()

    def take(self, action: str, region: str) -> bool:
        """Take a token for this call; False when its bucket is empty (nothing is
        taken then). Always True while disabled."""
        cls = "mutating" if is_mutating(action) else "nonMutating"
        with self._lock:
            if not self._enabled:
                return True
            limits = self._settings[cls]
            now = self._clock()
            key = (region, cls, action if self._settings["perAction"] else None)
            bucket = self._buckets.setdefault(key, [float(limits["bucket"]), now])
            elapsed = (now - bucket[1]) * self._settings["timeScale"]
            bucket[0] = min(float(limits["bucket"]), bucket[0] + elapsed * limits["refillPerSecond"])
            bucket[1] = now
            allowed = bucket[0] + _EPSILON >= 1
            if allowed:
                bucket[0] = max(0.0, bucket[0] - 1)
            self._counts[region][cls]["allowed" if allowed else "throttled"] += 1
            return allowed

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            totals = {cls: Counter() for cls in RATE_LIMIT_CLASSES}
            by_region = {}
            for region, classes in self._counts.items():
                by_region[region] = {}
                for cls in RATE_LIMIT_CLASSES:
                    counts = classes.get(cls, Counter())
                    totals[cls].update(counts)
                    by_region[region][cls] = {
                        "allowed": counts["allowed"], "throttled": counts["throttled"]
                    }
            return {
                "enabled": self._enabled,
                **{cls: dict(self._settings[cls]) for cls in RATE_LIMIT_CLASSES},
                "timeScale": self._settings["timeScale"],
                "perAction": self._settings["perAction"],
                "calls": {
                    cls: {"allowed": c["allowed"], "throttled": c["throttled"]}
                    for cls, c in totals.items()
                },
                "byRegion": by_region,
            }


def _error_body(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Errors><Error><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error></Errors>"
        f"<RequestID>{uuid.uuid4()}</RequestID></Response>"
    ).encode()


def _refused(start_response: Callable, denial: iam_enforcement.Denial) -> list[bytes]:
    """A call IAM refused, answered as its service answers it on AWS."""
    if denial.service == "ec2":
        return _ec2_error(
            start_response, iam_enforcement.EC2_STATUS, iam_enforcement.EC2_CODE,
            iam_enforcement.ec2_message(denial),
        )
    refusal = iam_enforcement.refusal_response(denial)
    start_response(f"{refusal.status} {HTTPStatus(refusal.status).phrase}", refusal.headers)
    return [refusal.body]


def _ec2_error(start_response: Callable, status: int, code: str, message: str) -> list[bytes]:
    body = _error_body(code, message)
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    start_response(
        f"{status} {reason}",
        [("Content-Type", "text/xml;charset=UTF-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


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
        self._throttled: Counter[str] = Counter()
        self._faulted: Counter[str] = Counter()
        # DynamoDB calls (region -> "dynamodb:<Operation>" -> n), kept apart from EC2's actions.
        self._dynamodb_calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        # Seconds moto spent answering each action (region -> action -> s): what the emulator's
        # own handling costs, apart from the client's and from injected delays.
        self._server_seconds: defaultdict[str, Counter[str]] = defaultdict(Counter)
        # The time at least one call was in moto: calls answered at once overlap (and wait for
        # each other on the GIL), so their times summed would count the same seconds twice.
        self._in_moto = 0
        self._busy_since = 0.0
        self._busy_seconds = 0.0
        self._faults: list[FaultRule] = []
        self.rate_limiter = RateLimiter()
        # Every route write moto accepted, in the order it answered them: what a test needs to
        # check the order of creates and deletes (make before break), not only their counts.
        self._route_writes: list[dict[str, Any]] = []
        # The run's calls in order, and the one fault the sweep arms at one of them.
        self.sequence = call_sequence.CallSequence(iam_enforcement.is_role_session)

    # --- WSGI ---------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response)
        step = self.sequence.identify(environ, None)
        if step is None:
            return self._answer(environ, start_response)
        return self._answer_step(step, environ, start_response)

    def _answer_step(
        self, step: call_sequence.Call, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        """One call of the run's sequence: answered as any other, unless the sweep's fault is at it.
        Its status is logged."""
        if step.fault in ("retryable", "nonRetryable"):
            answer = call_sequence.error_for(step.fault, step)
            step.status = answer.status
            return call_sequence.error_response(answer, step.action, start_response)

        statuses: list[str] = []

        def logging_start_response(status: str, headers: list, *rest: Any) -> Any:
            statuses.append(status)
            return start_response(status, headers, *rest)

        if step.fault == "answerLost":
            # Carried out, then the connection closes with no answer.
            answer = self._answer(environ, lambda status, headers, *rest: statuses.append(status))
            b"".join(answer)
            return self._drop(environ, start_response)
        answer = self._answer(environ, logging_start_response)
        body = b"".join(answer)
        step.status = int(statuses[0].split()[0]) if statuses else None
        if step.fault == "crash" and self.lambdas is not None:
            self.lambdas.kill_caller(environ)
        return [body]

    def _answer(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        call = self._ec2_call(environ)
        if call is None:
            dynamodb = self._dynamodb_call(environ)
            if dynamodb is not None:
                return self._dynamodb(dynamodb, environ, start_response)
            denial = iam_enforcement.denial(environ)
            if denial is not None:
                return _refused(start_response, denial)
            return self.app(environ, start_response)
        action, region, params = call
        with self._lock:
            self._total[action] += 1
            self._by_region[region][action] += 1
        # IAM decides before throttling and faults: a refused call is counted, never throttled.
        denial = iam_enforcement.denial(environ)
        if denial is not None:
            return _refused(start_response, denial)
        with self._lock:
            fault, delay_ms = self._pick_fault(action, region)
            if fault is not None:
                self._count_fault(action, fault.code if not fault.dropConnection else None)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        if fault is None:
            if self.rate_limiter.take(action, region):
                return self._timed(action, region, environ, start_response, params)
            with self._lock:
                self._count_fault(action, THROTTLING_CODE)
            return _ec2_error(start_response, THROTTLING_STATUS, THROTTLING_CODE, THROTTLING_MESSAGE)
        if fault.dropConnection:
            return self._drop(environ, start_response)
        default_message = (
            THROTTLING_MESSAGE if fault.code == THROTTLING_CODE else f"Injected fault for {action}."
        )
        return _ec2_error(start_response, fault.httpStatus, fault.code, fault.message or default_message)

    def _timed(
        self, action: str, region: str, environ: dict[str, Any], start_response: Callable,
        params: dict[str, list[str]],
    ) -> Iterable[bytes]:
        """moto's answer, timed until its whole body is built: moto builds the response before
        returning it, and the body is read here so that a lazy one is counted too. A route write
        moto accepted is logged."""
        statuses: list[str] = []

        def recording_start_response(status: str, headers: list, *rest: Any) -> Any:
            statuses.append(status)
            return start_response(status, headers, *rest)

        with self._lock:
            started = time.perf_counter()
            if self._in_moto == 0:
                self._busy_since = started
            self._in_moto += 1
        try:
            answer = self.app(environ, recording_start_response)
            try:
                body = b"".join(answer)
            finally:
                if hasattr(answer, "close"):
                    answer.close()
        finally:
            with self._lock:
                ended = time.perf_counter()
                self._server_seconds[region][action] += ended - started
                self._in_moto -= 1
                if self._in_moto == 0:
                    self._busy_seconds += ended - self._busy_since
                if action in ROUTE_WRITES and statuses and statuses[0].startswith("200"):
                    self._route_writes.append(_route_write(action, region, params))
        return [body]

    def _pick_fault(self, action: str, region: str) -> tuple[FaultRule | None, int]:
        """The first rule with an error or drop that fires for this call, and the
        total delay of the rules that fire up to it (latency-only rules add their
        delay and let the search go on). Call with the lock held."""
        delay_ms, fault = 0, None
        for rule in self._faults:
            if rule.fires(action, region):
                delay_ms += rule.delayMs
                if not rule.latency_only:
                    fault = rule
                    break
        self._faults = [f for f in self._faults if not f.exhausted]
        return fault, delay_ms

    def _count_fault(self, action: str, code: str | None) -> None:
        self._faulted[action] += 1
        if code == THROTTLING_CODE:
            self._throttled[action] += 1

    @staticmethod
    def _ec2_call(environ: dict[str, Any]) -> tuple[str, str, dict[str, list[str]]] | None:
        """(Action, Region, parameters) of an EC2 Query API request, else None.

        Buffers the body and puts it back for moto."""
        region, service = UNKNOWN_REGION, None
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if scope:
            region, service = scope.groups()
            if service != "ec2":
                return None

        params = parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            body = wsgi_body.peek_body(environ)
            params.update(parse_qs(body.decode("utf-8", "replace")))
        action = params.get("Action", [None])[0]
        if not action:
            return None
        return action, region, params

    @staticmethod
    def _dynamodb_call(environ: dict[str, Any]) -> tuple[str, str] | None:
        """("dynamodb:<Operation>", Region) of a DynamoDB request, else None."""
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not scope or scope.group(2) != "dynamodb" or "." not in target:
            return None
        return f"dynamodb:{target.rsplit('.', 1)[1]}", scope.group(1)

    def _dynamodb(
        self, call: tuple[str, str], environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        """Counts a DynamoDB call apart from EC2's (under "dynamodb" in GET calls), and fails it
        when a fault rule names its action exactly ("dynamodb:TransactWriteItems"): a rule for
        every action ("*") or for mutating calls is EC2's alone."""
        action, region = call
        with self._lock:
            self._dynamodb_calls[region][action] += 1
        denial = iam_enforcement.denial(environ)
        if denial is not None:
            return _refused(start_response, denial)
        with self._lock:
            fault = next(
                (rule for rule in self._faults if rule.action == action and rule.fires(action, region)),
                None,
            )
            if fault is not None:
                self._count_fault(action, fault.code)
            self._faults = [f for f in self._faults if not f.exhausted]
        if fault is None:
            return self.app(environ, start_response)
        if fault.dropConnection:
            return self._drop(environ, start_response)
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{fault.code}",
                           "message": fault.message or f"Injected fault for {action}."}).encode()
        start_response(f"{fault.httpStatus} Error", [("Content-Type", "application/x-amz-json-1.0"),
                                                     ("Content-Length", str(len(body)))])
        return [body]

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
            ("GET", "iam"): self.get_iam,
            ("POST", "reset"): self.reset_all,
            ("POST", "peering"): self.set_peering,
            ("POST", "peering/modify"): self.modify_peering,
            ("POST", "associations"): self.set_associations,
            ("GET", "advertised-routes"): self.get_advertised_routes,
            ("POST", "advertised-routes"): self.set_advertised_routes,
            ("GET", "faults"): self.get_faults,
            ("POST", "faults"): self.add_fault,
            ("DELETE", "faults"): self.clear_faults,
            ("GET", "rate-limits"): self.get_rate_limits,
            ("POST", "rate-limits"): self.set_rate_limits,
            ("DELETE", "rate-limits"): self.disable_rate_limits,
            ("GET", "route-writes"): self.get_route_writes,
            ("GET", "lambda"): self.get_lambda,
            ("POST", "lambda/reset"): self.reset_lambda,
            ("GET", "sequence"): self.get_sequence,
            ("POST", "sequence/fault"): self.arm_sequence_fault,
            ("POST", "sequence/reset"): self.reset_sequence,
            ("POST", "network/reset"): self.reset_network,
        }
        handler = routes.get((method, path))
        if handler is None:
            known = [p for (_, p) in routes]
            status, payload = (405, "method not allowed") if path in known else (404, "not found")
            return _json(start_response, status, {"error": payload})
        try:
            body = wsgi_body.read_body(environ)
            args = json.loads(body) if body.strip() else {}
            if not isinstance(args, dict):
                raise BadRequest("body must be a JSON object")
            return _json(start_response, 200, handler(args))
        except patches.PatchSkipped as e:  # the setting would have no effect
            return _json(start_response, 409, {"error": str(e)})
        except (BadRequest, ValueError, TypeError) as e:
            return _json(start_response, 400, {"error": str(e)})

    def get_iam(self, _: dict) -> dict:
        """What IAM enforcement did since the server started (never reset)."""
        return iam_enforcement.tally()

    def get_calls(self, _: dict) -> dict:
        with self._lock:
            return {
                "total": dict(self._total),
                "byRegion": {r: dict(c) for r, c in self._by_region.items()},
                "throttled": dict(self._throttled),
                "faulted": dict(self._faulted),
                "dynamodb": {r: dict(c) for r, c in self._dynamodb_calls.items()},
                "serverMs": _server_ms(self._server_seconds),
                "serverBusyMs": round(self._busy_seconds * 1000, 3),
            }

    def reset_calls(self, _: dict) -> dict:
        with self._lock:
            self._total.clear()
            self._by_region.clear()
            self._throttled.clear()
            self._faulted.clear()
            self._dynamodb_calls.clear()
            self._server_seconds.clear()
            self._busy_seconds = 0.0
            self._route_writes.clear()
        self.rate_limiter.reset_counters()
        return self.get_calls({})

    def reset_all(self, _: dict) -> dict:
        self.reset_moto()
        patches.reset_peering_progression()
        patches.reset_association_progression()
        patches.reset_advertised_routes()
        self.clear_faults({})
        self.rate_limiter.reset()
        self.sequence.reset()
        if self.lambdas is not None:
            self.lambdas.stop_functions()
            self.lambdas.reset_invocations()
        return self.reset_calls({})

    def get_sequence(self, _: dict) -> dict:
        """The run's calls since the last sequence reset, the armed fault and the call it hit."""
        return self.sequence.snapshot()

    def arm_sequence_fault(self, args: dict) -> dict:
        return self.sequence.arm(args)

    def reset_sequence(self, _: dict) -> dict:
        return self.sequence.reset()

    def reset_network(self, args: dict) -> dict:
        """Every account's EC2 state, the EC2 settings, faults, rate limits, counters and the
        sequence, leaving the stacks, functions, roles and tables deployed: the fault sweep
        starts each injection from the same network without redeploying. With `{"seed": n}`
        moto's ids are drawn from a generator seeded with n, so the same network gets the same
        ids each time."""
        from moto.ec2.models import ec2_backends
        from moto.moto_api._internal import mock_random

        seed = args.get("seed")
        if seed is not None and not _is_int(seed):
            raise BadRequest('"seed" must be an integer')
        # Dropped, not only reset, so that every Region's backend is made again on its first call
        # after the seed (a backend draws ids when it is made): the same calls then draw the same ids.
        if seed is not None:
            mock_random.seed(seed)
        for account in list(ec2_backends.values()):
            account.reset()
        ec2_backends.clear()
        patches.reset_peering_progression()
        patches.reset_association_progression()
        patches.reset_advertised_routes()
        self.clear_faults({})
        self.rate_limiter.reset()
        self.sequence.reset()
        return self.reset_calls({})

    def get_route_writes(self, _: dict) -> dict:
        with self._lock:
            return {"routeWrites": list(self._route_writes)}

    def get_lambda(self, _: dict) -> dict:
        return {"invocations": self.lambdas.invocations() if self.lambdas else []}

    def reset_lambda(self, _: dict) -> dict:
        if self.lambdas is not None:
            self.lambdas.reset_invocations()
        return self.get_lambda({})

    def set_peering(self, args: dict) -> dict:
        retired = sorted(set(args) & set(_RETIRED_PEERING_FIELDS))
        if retired:
            replacements = ", ".join(f'"{k}" -> "{_RETIRED_PEERING_FIELDS[k]}"' for k in retired)
            raise BadRequest(f"peerings progress by time, not by describe count: {replacements}")
        unknown = set(args) - set(_PEERING_FIELDS)
        if unknown:
            raise BadRequest(f"unknown fields: {sorted(unknown)}")
        for key, value in args.items():
            if key != "outcome":
                _check_seconds(key, value)
        settings = patches.set_peering_progression(
            **{_PEERING_FIELDS[k]: v for k, v in args.items()}
        )
        return {"peering": {k: getattr(settings, f) for k, f in _PEERING_FIELDS.items()}}

    def modify_peering(self, args: dict) -> dict:
        unknown = set(args) - {"attachmentId", "modifyingSeconds", "rollBack", "rollingBackSeconds"}
        if unknown:
            raise BadRequest(f"unknown fields: {sorted(unknown)}")
        attachment_id = args.get("attachmentId")
        if not isinstance(attachment_id, str) or not attachment_id:
            raise BadRequest('"attachmentId" must be a transit gateway peering attachment id')
        modifying = args.get("modifyingSeconds")
        _check_seconds("modifyingSeconds", modifying)
        roll_back = args.get("rollBack", False)
        if not isinstance(roll_back, bool):
            raise BadRequest('"rollBack" must be true or false')
        rolling_back = args.get("rollingBackSeconds", 0)
        _check_seconds("rollingBackSeconds", rolling_back)
        if "rollingBackSeconds" in args and not roll_back:
            raise BadRequest('"rollingBackSeconds" needs "rollBack": true')
        state = patches.modify_peering(attachment_id, modifying, rolling_back if roll_back else None)
        return {"attachmentId": attachment_id, "state": state}

    def set_associations(self, args: dict) -> dict:
        unknown = set(args) - set(_ASSOCIATION_FIELDS)
        if unknown:
            raise BadRequest(f"unknown fields: {sorted(unknown)}")
        for key, value in args.items():
            if not _is_int(value) or value < 0:
                raise BadRequest(f'"{key}" must be a non-negative integer')
        settings = patches.set_association_progression(
            **{_ASSOCIATION_FIELDS[k]: v for k, v in args.items()}
        )
        return {"associations": {k: getattr(settings, f) for k, f in _ASSOCIATION_FIELDS.items()}}

    def get_advertised_routes(self, _: dict) -> dict:
        return {"advertisedRoutes": patches.advertised_routes()}

    def set_advertised_routes(self, args: dict) -> dict:
        unknown = set(args) - {"attachmentId", "cidrs"}
        if unknown:
            raise BadRequest(f"unknown fields: {sorted(unknown)}")
        attachment_id, cidrs = args.get("attachmentId"), args.get("cidrs")
        if not isinstance(attachment_id, str) or not attachment_id:
            raise BadRequest('"attachmentId" must be a transit gateway attachment id')
        if not isinstance(cidrs, list) or not all(isinstance(c, str) for c in cidrs):
            raise BadRequest('"cidrs" must be a list of CIDR blocks')
        return {"advertisedRoutes": patches.set_advertised_routes(attachment_id, cidrs)}

    def get_faults(self, _: dict) -> dict:
        with self._lock:
            return {"faults": [f.to_json() for f in self._faults]}

    def add_fault(self, args: dict) -> dict:
        rule = _fault_from_json(args)
        with self._lock:
            self._faults.append(rule)
        return self.get_faults({})

    def clear_faults(self, _: dict) -> dict:
        with self._lock:
            self._faults.clear()
        return self.get_faults({})

    def get_rate_limits(self, _: dict) -> dict:
        return self.rate_limiter.snapshot()

    def set_rate_limits(self, args: dict) -> dict:
        return self.rate_limiter.configure(args)

    def disable_rate_limits(self, _: dict) -> dict:
        return self.rate_limiter.disable()


# The actions that add, change or remove a route, in a TGW route table or a VPC route table.
ROUTE_WRITES = {
    "CreateTransitGatewayRoute": "create", "DeleteTransitGatewayRoute": "delete",
    "ReplaceTransitGatewayRoute": "replace", "CreateRoute": "create", "DeleteRoute": "delete",
    "ReplaceRoute": "replace",
}


def _route_write(action: str, region: str, params: dict[str, list[str]]) -> dict[str, Any]:
    first = lambda *names: next((params[n][0] for n in names if params.get(n)), None)  # noqa: E731
    return {
        "at": time.time(),
        "action": action,
        "op": ROUTE_WRITES[action],
        "region": region,
        "routeTableId": first("TransitGatewayRouteTableId", "RouteTableId"),
        "cidr": first("DestinationCidrBlock", "DestinationIpv6CidrBlock"),
        "target": first("TransitGatewayAttachmentId", "TransitGatewayId", "GatewayId"),
    }


def _server_ms(seconds: dict[str, Counter[str]]) -> dict[str, Any]:
    """{"total": {action: ms}, "byRegion": {region: {action: ms}}}, in milliseconds."""
    total: Counter[str] = Counter()
    for actions in seconds.values():
        total.update(actions)
    ms = lambda counts: {a: round(s * 1000, 3) for a, s in counts.items()}  # noqa: E731
    return {"total": ms(total), "byRegion": {r: ms(a) for r, a in seconds.items()}}


def _json(start_response: Callable, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    reason = {
        200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict"
    }
    start_response(
        f"{status} {reason.get(status, '')}".strip(),
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
