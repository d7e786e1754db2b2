"""Runs moto's Lambda invokes on the real function binaries, through
`cargo lambda watch --only-lambda-apis` (server.py --lambda-bin-dir).

cargo-lambda only serves the Lambda APIs: the invoke API, and one runtime API
per function key. Like Lambda creating an execution environment, this module
starts each function's process itself, on its first invoke, with the
environment Lambda gives a `provided.al2023` function built from the
function's configuration in moto (nothing is inherited from the server's own
environment), and starts a new one when that configuration changes.

cargo-lambda accepts only the project's binary names as function keys, so the
key is the binary's name and at most one function process per binary runs at a
time: a function whose binary is serving another function (or an older
configuration of itself) replaces that process, the way Lambda replaces an
execution environment. Invokes of one binary are serialised, which keeps an
invocation from ever reaching another function's process.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from runtime_deadline import DeadlineProxy

# Lambda hands a function its role's temporary credentials. These stand-ins are distinctive, so
# tests can search the functions' logs for them (credentials must never be logged). With the patch
# local_aws_patches.functions_run_as_their_execution_role the access key id is that of a session of
# the function's execution role instead (moto never verifies the secret or the token).
FUNCTION_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIATGWPEERINGLOCAL0",
    "AWS_SECRET_ACCESS_KEY": "tgwPeeringLocalSecretAccessKeyNeverLog0000",
    "AWS_SESSION_TOKEN": "tgwPeeringLocalSessionTokenNeverLogAAAABBBBCCCCDDDDEEEEFFFF0000",
}

HOST = "127.0.0.1"
# Grace beyond the function's Timeout before an invoke times out: it covers the
# local process start-up, which Lambda does not count against the Timeout.
TIMEOUT_MARGIN_SECONDS = 1.0
# Set by the patch local_aws_patches.runtime_deadline_is_an_epoch_date: the functions reach
# cargo-lambda through runtime_deadline.DeadlineProxy, which gives them a real deadline.
FIX_RUNTIME_DEADLINE = False
# Set by the patch local_aws_patches.functions_run_as_their_execution_role: function -> the access
# key id of a session of its execution role, which the function then acts as.
EXECUTION_ROLE_SESSION: Callable[[Any], str] | None = None
# How long to wait for cargo-lambda to listen (it reads the project's metadata first).
WATCH_START_SECONDS = 60.0


@dataclass
class _Slot:
    """The process serving one binary, and whom it serves."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    process: subprocess.Popen | None = None
    fingerprint: tuple | None = None
    log: Any = None


class FunctionError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def payload(self) -> bytes:
        return json.dumps({"errorType": self.error_type, "errorMessage": self.message}).encode()


class LambdaRunner:
    def __init__(
        self, bin_dir: Path, cargo_lambda: Path, project_root: Path, log_dir: Path
    ) -> None:
        self.bin_dir = bin_dir
        self.cargo_lambda = cargo_lambda
        self.project_root = project_root
        self.log_dir = log_dir
        self.endpoint_url = ""  # the moto server's URL, set once it listens
        self.watch_port = 0
        self._watch: subprocess.Popen | None = None
        # The functions reach cargo-lambda's runtime API through this, which gives them the
        # deadline Lambda would (see runtime_deadline.py).
        self._deadlines: DeadlineProxy | None = None
        self._slots: dict[str, _Slot] = {}
        self._slots_lock = threading.Lock()
        self._invocations: list[dict[str, Any]] = []
        self._invocations_lock = threading.Lock()
        # The harness's EC2 call counters (GET /_harness/calls), set by server.py, so that each
        # invocation can report the calls counted while it ran.
        self.ec2_calls: Callable[[], dict[str, Any]] | None = None

    # --- cargo-lambda --------------------------------------------------------

    def start(self) -> None:
        if not os.access(self.cargo_lambda, os.X_OK):
            raise RuntimeError(f"{self.cargo_lambda} is not executable; pass --cargo-lambda PATH")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.watch_port = _free_port()
        log = open(self.log_dir / "cargo-lambda.log", "ab")
        cmd = [
            str(self.cargo_lambda), "lambda", "watch", "--only-lambda-apis",
            "-A", HOST, "-P", str(self.watch_port),
        ]
        self._watch = subprocess.Popen(
            cmd,
            cwd=self.project_root,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + WATCH_START_SECONDS
        while True:
            if self._watch.poll() is not None:
                raise RuntimeError(
                    f"cargo-lambda exited with {self._watch.returncode}; "
                    f"see {self.log_dir / 'cargo-lambda.log'}"
                )
            try:
                socket.create_connection((HOST, self.watch_port), timeout=0.5).close()
                if FIX_RUNTIME_DEADLINE:
                    self._deadlines = DeadlineProxy(self.watch_port)
                    self._deadlines.start()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"cargo-lambda did not listen within {WATCH_START_SECONDS}s")
                time.sleep(0.1)

    def stop(self) -> None:
        self.stop_functions()
        if self._deadlines is not None:
            self._deadlines.stop()
            self._deadlines = None
        if self._watch is not None:
            _stop_process(self._watch)
            self._watch = None

    def stop_functions(self) -> None:
        with self._slots_lock:
            slots = list(self._slots.values())
        for slot in slots:
            with slot.lock:
                self._stop_slot(slot)

    # --- invocation log --------------------------------------------------------

    def invocations(self) -> list[dict[str, Any]]:
        with self._invocations_lock:
            return list(self._invocations)

    def kill_caller(self, environ: dict[str, Any]) -> None:
        """Kills, at once, the function process that made this request (the fault sweep's crash):
        the one whose credentials signed it, else (a call signed with credentials it assumed, as
        across accounts) every function process with an invoke in flight."""
        scope = re.search(r"Credential=([^/,\s]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        key = scope.group(1) if scope else None
        with self._slots_lock:
            slots = list(self._slots.values())
        busy = [s for s in slots if s.lock.locked() and s.process is not None and s.process.poll() is None]
        own = [s for s in busy if s.fingerprint and dict(s.fingerprint[1]).get("AWS_ACCESS_KEY_ID") == key]
        for slot in own or busy:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(slot.process.pid, signal.SIGKILL)

    def reset_invocations(self) -> None:
        with self._invocations_lock:
            self._invocations.clear()

    def _record(
        self, fn: Any, binary: Path, error_type: str | None, measured: dict[str, Any] | None = None
    ) -> None:
        with self._invocations_lock:
            self._invocations.append(
                {
                    "function": fn.function_name,
                    "binary": str(binary),
                    "ok": error_type is None,
                    "errorType": error_type,
                    **(measured or {"coldStart": False, "startedAt": None, "endedAt": None,
                                    "durationMs": None, "peakRssKiB": None, "cpuMs": None,
                                    "ec2Calls": None}),
                }
            )

    # --- invoke ----------------------------------------------------------------

    def binary_for(self, fn: Any) -> Path:
        """The code's S3 key without `.zip` (`.../get-status.zip` -> get-status),
        else the function name, in the binary directory."""
        key = (fn.code or {}).get("S3Key") if "S3Bucket" in (fn.code or {}) else None
        name = Path(key).name if key else fn.function_name
        if name.endswith(".zip"):
            name = name[: -len(".zip")]
        return self.bin_dir / name

    def invoke(self, fn: Any, body: bytes, request_headers: Any, response_headers: Any) -> bytes:
        """LambdaFunction.invoke: the payload; a function error sets
        x-amz-function-error: Unhandled, as Lambda does."""
        invocation_type = request_headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            threading.Thread(
                target=self._invoke, args=(fn, body), name="lambda-event", daemon=True
            ).start()
            return b""
        payload, error_type, logs = self._invoke(fn, body)
        if error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        if request_headers.get("x-amz-log-type", "None") == "Tail":
            response_headers["x-amz-log-result"] = base64.b64encode(logs[-4096:]).decode()
        return payload

    def _invoke(self, fn: Any, body: bytes) -> tuple[bytes, str | None, bytes]:
        binary = self.binary_for(fn)
        if not binary.is_file() or not os.access(binary, os.X_OK):
            error = FunctionError(
                "Runtime.InvalidEntrypoint",
                f"Couldn't find valid bootstrap: {binary} is missing or not executable "
                "(build the functions, or pass another --lambda-bin-dir)",
            )
            self._record(fn, binary, error.error_type)
            return error.payload(), error.error_type, b""

        key = binary.name
        with self._slots_lock:
            slot = self._slots.setdefault(key, _Slot())
        with slot.lock:
            env = self.environment(fn, key)
            fingerprint = (binary, tuple(sorted(env.items())), _code_identity(fn))
            calls_before = self.ec2_calls() if self.ec2_calls else None
            cold = slot.fingerprint != fingerprint or slot.process is None or slot.process.poll() is not None
            if cold:
                self._stop_slot(slot)
                if self._deadlines is not None:
                    self._deadlines.drop(key)
            # A cold invoke is timed from its process's start, as Lambda counts init and invoke.
            started = time.monotonic()
            started_at = _utc_text()
            if cold:
                self._start_slot(slot, fn, binary, env, fingerprint)
            # A new process has used no CPU yet; a warm one is measured from here.
            cpu_before = 0.0 if cold else _cpu_ms(slot.process)
            log_path = self.log_path(fn)
            log_start = log_path.stat().st_size if log_path.exists() else 0
            try:
                if self._deadlines is not None:
                    self._deadlines.set_timeout(key, float(fn.timeout))
                payload = self._call(slot, key, body, float(fn.timeout))
                error_type = None
            except FunctionError as e:
                payload, error_type = e.payload(), e.error_type
            ended_at = _utc_text()
            calls_after = self.ec2_calls() if self.ec2_calls else None
            measured = {
                "coldStart": cold,
                "startedAt": started_at,
                "endedAt": ended_at,
                "durationMs": round((time.monotonic() - started) * 1000, 3),
                "peakRssKiB": _peak_rss_kib(slot.process),
                "cpuMs": _cpu_since(cpu_before, _cpu_ms(slot.process)),
                "ec2Calls": _calls_since(calls_before, calls_after) if calls_after is not None else None,
            }
            dynamodb = _dynamodb_calls_since(calls_before, calls_after) if calls_after is not None else None
            if dynamodb:
                measured["dynamodbCalls"] = {"byRegion": dynamodb}
            logs = _read_from(log_path, log_start)
        self._record(fn, binary, error_type, measured)
        return payload, error_type, logs

    def _runtime_api_port(self) -> int:
        return self._deadlines.port if self._deadlines is not None else self.watch_port

    def log_path(self, fn: Any) -> Path:
        return self.log_dir / f"{fn.function_name}.log"

    def environment(self, fn: Any, key: str) -> dict[str, str]:
        """What Lambda sets for a provided.al2023 function, from its configuration."""
        logging_config = getattr(fn, "logging_config", None) or {}
        credentials = dict(FUNCTION_CREDENTIALS)
        if EXECUTION_ROLE_SESSION is not None:
            credentials["AWS_ACCESS_KEY_ID"] = EXECUTION_ROLE_SESSION(fn)
        env = {k: str(v) for k, v in (fn.environment_vars or {}).items()}
        env.update(
            {
                "AWS_REGION": fn.region,
                "AWS_DEFAULT_REGION": fn.region,
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": logging_config.get("LogGroup")
                or f"/aws/lambda/{fn.function_name}",
                "_HANDLER": fn.handler or "",
                "AWS_LAMBDA_RUNTIME_API": f"http://{HOST}:{self._runtime_api_port()}/.rt/{key}",
                **credentials,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            }
        )
        if logging_config.get("LogFormat") == "JSON":
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            if logging_config.get("ApplicationLogLevel"):
                env["AWS_LAMBDA_LOG_LEVEL"] = logging_config["ApplicationLogLevel"]
        return env

    def _start_slot(
        self, slot: _Slot, fn: Any, binary: Path, env: dict[str, str], fingerprint: tuple
    ) -> None:
        log = open(self.log_path(fn), "ab")
        slot.process = subprocess.Popen(
            [str(binary)],
            cwd=binary.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        slot.log = log
        slot.fingerprint = fingerprint

    @staticmethod
    def _stop_slot(slot: _Slot) -> None:
        if slot.process is not None:
            _stop_process(slot.process)
        if slot.log is not None:
            slot.log.close()
        slot.process = slot.log = slot.fingerprint = None

    def _call(self, slot: _Slot, key: str, body: bytes, timeout: float) -> bytes:
        """POST the event to cargo-lambda and wait for the function's answer, its
        process's death, or its timeout."""
        path = f"/2015-03-31/functions/{key}/invocations"
        deadline = time.monotonic() + timeout + TIMEOUT_MARGIN_SECONDS
        connection = http.client.HTTPConnection(HOST, self.watch_port, timeout=timeout + 30)
        result: dict[str, Any] = {}
        done = threading.Event()

        def post() -> None:
            try:
                connection.request(
                    "POST", path, body=body or b"{}", headers={"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                result["status"], result["body"] = response.status, response.read()
            except OSError as e:
                result["error"] = e
            finally:
                connection.close()
                done.set()

        def abandon() -> None:
            self._stop_slot(slot)
            if self._deadlines is not None:
                self._deadlines.drop(key)
            with contextlib.suppress(OSError, AttributeError):
                connection.sock.shutdown(socket.SHUT_RDWR)  # wakes post() up
            done.wait(1)
            self._drain(key)

        threading.Thread(target=post, name=f"invoke-{key}", daemon=True).start()
        process = slot.process
        while not done.wait(0.02):
            if process.poll() is not None and not done.wait(0.2):
                code = process.returncode
                abandon()
                raise FunctionError(
                    "Runtime.ExitError",
                    f"RequestId: {uuid.uuid4()} Error: Runtime exited with error: "
                    + (f"signal: {-code}" if code < 0 else f"exit status {code}"),
                )
            if time.monotonic() > deadline:
                abandon()
                raise FunctionError("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds")

        if "error" in result:
            raise FunctionError("Runtime.Unknown", f"cargo-lambda unreachable: {result['error']}")
        status, payload = result["status"], result["body"]
        if status == 200:
            return payload
        try:
            error = json.loads(payload)
        except ValueError:
            error = None
        if status == 500 and isinstance(error, dict) and "errorType" in error:
            raise _Passthrough(payload, str(error["errorType"]))
        raise FunctionError(
            "Runtime.Unknown",
            f"cargo-lambda answered HTTP {status}: {payload.decode('utf-8', 'replace')[:500]}",
        )

    def _drain(self, key: str) -> None:
        """Answer, as the runtime, an invocation the dead process never took, so
        that it cannot reach the next process of this binary."""
        base = f"http://{HOST}:{self.watch_port}/.rt/{key}/2018-06-01/runtime/invocation"
        try:
            with urllib.request.urlopen(f"{base}/next", timeout=0.3) as resp:
                request_id = resp.headers.get("Lambda-Runtime-Aws-Request-Id")
                resp.read()
        except OSError:
            return  # nothing queued: the process had taken it
        error = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": "abandoned"}).encode()
        request = urllib.request.Request(
            f"{base}/{request_id}/error", data=error, method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError:
            pass


class _Passthrough(FunctionError):
    """A function error as the runtime reported it: its body is passed on unchanged."""

    def __init__(self, body: bytes, error_type: str) -> None:
        super().__init__(error_type, "")
        self.body = body

    def payload(self) -> bytes:
        return self.body


def _code_identity(fn: Any) -> tuple:
    code = fn.code or {}
    return (code.get("S3Bucket"), code.get("S3Key"), getattr(fn, "code_sha_256", None))


def _peak_rss_kib(process: subprocess.Popen | None) -> int | None:
    """The process's peak resident set so far (VmHWM in /proc/PID/status), in KiB; None once it
    has exited, or without /proc."""
    if process is None or process.poll() is not None:
        return None
    try:
        with open(f"/proc/{process.pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_ms(process: subprocess.Popen | None) -> float | None:
    """The CPU time the process has used so far, user plus system (utime + stime in
    /proc/PID/stat), in milliseconds, to the kernel's clock tick; None once it has exited, or
    without /proc."""
    if process is None or process.poll() is not None:
        return None
    try:
        with open(f"/proc/{process.pid}/stat", encoding="ascii", errors="replace") as f:
            # The command name is in parentheses and may hold spaces: count fields after it.
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / _CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return None


def _cpu_since(before: float | None, after: float | None) -> float | None:
    if before is None or after is None:
        return None
    return round(after - before, 3)


def _calls_since(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The EC2 calls counted between two GET /_harness/calls snapshots: byRegion and throttled,
    and serverMs, moto's own time answering them (by Region, in milliseconds), and serverBusyMs,
    the time at least one of them was in moto."""

    def diff(now: dict[str, Any], then: dict[str, Any]) -> dict[str, Any]:
        return {a: n - then.get(a, 0) for a, n in now.items() if n - then.get(a, 0) > 0}

    def ms_diff(now: dict[str, float], then: dict[str, float]) -> dict[str, float]:
        return {a: round(ms - then.get(a, 0), 3) for a, ms in now.items() if ms - then.get(a, 0) > 0}

    server_before = before.get("serverMs", {}).get("byRegion", {})
    server_by_region = {
        region: ms_diff(actions, server_before.get(region, {}))
        for region, actions in after.get("serverMs", {}).get("byRegion", {}).items()
    }

    by_region = {
        region: diff(actions, before["byRegion"].get(region, {}))
        for region, actions in after["byRegion"].items()
    }
    return {
        "byRegion": {region: actions for region, actions in by_region.items() if actions},
        "throttled": diff(after["throttled"], before["throttled"]),
        "serverMs": {region: actions for region, actions in server_by_region.items() if actions},
        "serverBusyMs": round(after.get("serverBusyMs", 0) - before.get("serverBusyMs", 0), 3),
    }


def _dynamodb_calls_since(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The DynamoDB calls (the state table's: the route record) counted between two snapshots, by
    Region (where the table is, whichever side the call was for) and operation."""
    then = before.get("dynamodb", {})
    counted = {}
    for region, actions in after.get("dynamodb", {}).items():
        made = {
            action.removeprefix("dynamodb:"): n - then.get(region, {}).get(action, 0)
            for action, n in actions.items()
            if n - then.get(region, {}).get(action, 0) > 0
        }
        if made:
            counted[region] = made
    return counted


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return b""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _stop_process(process: subprocess.Popen) -> None:
    """SIGTERM the process's group (it was started in a session of its own),
    SIGKILL after 5 s."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except OSError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
            process.wait()


def install(runner: LambdaRunner) -> None:
    """Send every LambdaFunction.invoke (the Invoke API, and through it Step
    Functions' Lambda tasks) to `runner`."""
    from moto.awslambda.models import LambdaFunction

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        if isinstance(body, str):
            body = body.encode()
        return runner.invoke(self, body or b"", request_headers, response_headers)

    LambdaFunction.invoke = invoke


def _utc_text() -> str:
    """Now, as ISO 8601 UTC text with microseconds and `Z`: two of them compare as strings in
    time order, and against Step Functions' millisecond times."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
