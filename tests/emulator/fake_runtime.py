"""A stand-in Lambda function for the tests of server.py --lambda-bin-dir: a
custom runtime that speaks the Lambda runtime API ($AWS_LAMBDA_RUNTIME_API)
like the real binaries, and does what each event asks:

    {"fake": "env"}                        answer {"env": <its environment>, "pid": ..., "event": ...}
    {"fake": "error", "errorType": "X"}    report a function error of type X
    {"fake": "flaky", "failures": N, "errorType": "X"}
                                           error X for the first N such events this process sees, then answer
    {"fake": "sleep", "seconds": S}        sleep, then answer
    {"fake": "spin", "cpuSeconds": S}      use S seconds of CPU (its own process time), then answer
    {"fake": "ec2", "actions": [A, ...]}   call each EC2 action on $AWS_ENDPOINT_URL in its
                                           Region (answers and errors ignored), then answer;
                                           "dynamodb:<Operation>" calls DynamoDB instead
    {"fake": "exit", "code": C}            exit with status C mid-invocation
    anything else                          answer {"env": ..., "pid": ..., "event": <the event>,
                                           "deadlineMs": <its Lambda-Runtime-Deadline-Ms header>}

With FAKE_EXIT_AT_START=<code> in its environment it exits before asking for
an invocation (a function whose initialisation fails). The tests copy it into
a temporary directory under a project binary's name (cargo-lambda only routes
those), with this Python as its interpreter.
"""

import json
import os
import sys
import time
import urllib.request


def main() -> None:
    if os.environ.get("FAKE_EXIT_AT_START"):
        sys.exit(int(os.environ["FAKE_EXIT_AT_START"]))
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]
    base = (api if api.startswith("http") else f"http://{api}") + "/2018-06-01/runtime/invocation"
    failures_seen = 0
    print(f"fake runtime {os.getpid()} started", flush=True)
    while True:
        with urllib.request.urlopen(f"{base}/next") as resp:
            request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
            deadline_ms = resp.headers.get("Lambda-Runtime-Deadline-Ms")
            event = json.loads(resp.read() or b"{}")
        print(f"event {json.dumps(event)}", flush=True)
        action = event.get("fake") if isinstance(event, dict) else None
        error = None
        if action == "error":
            error = event["errorType"]
        elif action == "flaky" and failures_seen < event["failures"]:
            failures_seen += 1
            error = event["errorType"]
        elif action == "sleep":
            time.sleep(event["seconds"])
        elif action == "spin":
            # Busy until the process itself has used the CPU time asked for, however long the
            # machine makes that take.
            until = time.process_time() + event["cpuSeconds"]
            while time.process_time() < until:
                pass
        elif action == "ec2":
            for ec2_action in event["actions"]:
                call_ec2(ec2_action)
        elif action == "exit":
            sys.exit(event["code"])
        if error:
            body = {"errorType": error, "errorMessage": f"fake {error}"}
            post(f"{base}/{request_id}/error", body)
        else:
            answer = {"env": dict(os.environ), "pid": os.getpid(), "event": event, "deadlineMs": deadline_ms}
            post(f"{base}/{request_id}/response", answer)


def call_ec2(action: str) -> None:
    """One EC2 Query API call (or, for "dynamodb:<Operation>", one DynamoDB JSON call with an
    empty body), with a credential scope naming this function's Region (the harness counts calls
    per Region from it; moto does not check the signature)."""
    service = "dynamodb" if action.startswith("dynamodb:") else "ec2"
    scope = f"Credential={os.environ['AWS_ACCESS_KEY_ID']}/20240101/{os.environ['AWS_REGION']}/{service}/aws4_request"
    auth = f"AWS4-HMAC-SHA256 {scope}, SignedHeaders=host, Signature=0"
    if service == "dynamodb":
        data, headers = b"{}", {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{action.removeprefix('dynamodb:')}",
            "Authorization": auth,
        }
    else:
        data, headers = f"Action={action}&Version=2016-11-15".encode(), {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "Authorization": auth,
        }
    request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/", data=data, method="POST", headers=headers)
    try:
        urllib.request.urlopen(request).close()
    except OSError:  # an HTTP error answer (e.g. an injected fault) is fine: it was counted
        pass


def post(url: str, body: object) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request).close()


if __name__ == "__main__":
    main()
