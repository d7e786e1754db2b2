"""The local AWS for the stack tests: moto (tests/emulator/server.py) with its Step Functions
interpreter on and Lambda invokes forwarded to `cargo lambda watch`, running the real function
binaries. Tests deploy the real template with scripts/deploy.sh and run the real state machine.

Needs the zips from scripts/build.sh in dist/lambda/ and the host binaries from
`cargo build --workspace --bins` in $TGW_PEERING_LAMBDA_BIN_DIR; scripts/test.sh makes both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "lib"))
sys.path.insert(0, str(ROOT / "tests" / "emulator"))

import seed_demo  # noqa: E402  (scripts/lib is not a package)
from server_process import running_server  # noqa: E402

ACTIVE, PASSIVE = "us-east-1", "us-west-2"
BUCKET = "tgw-peering-code"
STACK = "tgw-peering"
DEFINITION = ROOT / "statemachine" / "peering.asl.json"
TEMPLATE = ROOT / "cloudformation" / "transit-gateway-peering.yaml"
FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def _bin_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/tgw-peering/target"))
    return Path(os.environ.get("TGW_PEERING_LAMBDA_BIN_DIR", f"{target}/debug"))


@pytest.fixture(scope="session")
def function_logs(tmp_path_factory) -> Path:
    """Where the local AWS writes each function's stdout and stderr."""
    return tmp_path_factory.mktemp("function-logs")


@pytest.fixture(scope="session")
def endpoint(function_logs):
    bin_dir = _bin_dir()
    missing = [f for f in ("peer", "get-status", "modify-routes") if not (bin_dir / f).exists()]
    missing += [f"dist/lambda/{f}.zip" for f in ("peer", "get-status", "modify-routes")
                if not (ROOT / "dist/lambda" / f"{f}.zip").exists()]
    if missing:
        pytest.fail(f"missing {missing}: run scripts/build.sh and `cargo build --workspace --bins` "
                    "(scripts/test.sh does both)")
    with running_server("--stepfunctions", "--lambda-bin-dir", str(bin_dir),
                        "--lambda-log-dir", str(function_logs), cwd=ROOT) as url:
        yield url
        iam = harness(url, "GET", "iam")
        record_check("IAM: calls evaluated", iam["callsEvaluated"],
                     f"calls the functions made as a role, each authorized against that role's "
                     f"deployed policies ({iam['authorizations']:,} authorizations)")
        record_check("IAM: calls refused", iam["callsRefused"],
                     "of those refused with the service's own access-denied error (tests that expect it)")


def harness(endpoint: str, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{endpoint}/_harness/{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def record(scenario: str, **figures) -> None:
    """Appends one scenario's measured outcome to $TGW_PEERING_RELIABILITY_LOG (JSON lines), which
    scripts/test.sh turns into the reliability table. Without the variable nothing is written."""
    path = os.environ.get("TGW_PEERING_RELIABILITY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"scenario": scenario, "suite": "stack", **figures}) + "\n")


def record_check(check: str, count: int, detail: str, worst: bool = False) -> None:
    """Appends what one of the stricter-than-AWS checks covered in this run (`kind: awsCheck`) to
    $TGW_PEERING_RELIABILITY_LOG; docs/reliability.md lists them, adding up the counts of one check
    (`worst`: keeping the largest). Without the variable, nothing."""
    path = os.environ.get("TGW_PEERING_RELIABILITY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps({"kind": "awsCheck", "check": check, "count": count,
                                  "detail": detail, "worst": worst}) + "\n")


@dataclass
class LocalAws:
    """One clean local AWS account per test, with the demo network seeded and a code bucket."""

    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ENDPOINT_URL=self.endpoint, AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=ACTIVE, AWS_DEFAULT_REGION=ACTIVE)
        return env

    def client(self, service: str, region: str = ACTIVE):
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def deploy(self, *params: str, template: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """scripts/deploy.sh, exactly as a user runs it, with the stack's poll interval at 1 s."""
        cmd = [str(ROOT / "scripts/deploy.sh"), "--bucket", BUCKET, "--stack-name", STACK,
               "--passive-region", PASSIVE, "PollIntervalSeconds=1", *params]
        if template is not None:
            cmd += ["--template", str(template)]
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=300)
        if check:
            assert done.returncode == 0, f"deploy.sh failed:\n{done.stdout}\n{done.stderr}"
        return done

    def outputs(self) -> dict[str, str]:
        stack = self.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    def peering_progression(self, **settings) -> None:
        harness(self.endpoint, "POST", "peering", settings)

    def run(self, execution_input: object = None, raw_input: str | None = None) -> "Execution":
        """Starts an execution and waits until it finishes."""
        return self.wait(self.start(execution_input, raw_input))

    def start(self, execution_input: object = None, raw_input: str | None = None) -> str:
        """Starts an execution and returns its ARN without waiting."""
        payload = raw_input if raw_input is not None else json.dumps(execution_input or {})
        return self.client("stepfunctions").start_execution(
            stateMachineArn=self.outputs()["StateMachineArn"], input=payload)["executionArn"]

    def wait(self, arn: str) -> "Execution":
        """Waits until the execution finishes and reads its history."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + 180
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] in FINISHED:
                break
            assert time.monotonic() < deadline, f"execution still {described['status']} after 180 s"
            time.sleep(0.25)
        events = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            events.extend(page["events"])
        execution = Execution(described, events)
        assert_state_round_trips(execution.states_seen())
        return execution

    def mutating_calls(self) -> dict[str, int]:
        calls = harness(self.endpoint, "GET", "calls")["total"]
        return {a: n for a, n in calls.items() if not a.startswith(("Describe", "Search", "Get"))}

    def record_writes(self) -> int:
        """The route record's writes to the state table (one transaction replaces a table's
        record), all Regions together."""
        calls = harness(self.endpoint, "GET", "calls")["dynamodb"]
        return sum(actions.get("dynamodb:TransactWriteItems", 0) for actions in calls.values())

    def static_routes(self, region: str) -> dict[str, str]:
        """Every static route in the region's transit gateway route tables: CIDR -> attachment id."""
        ec2 = self.client("ec2", region)
        routes = {}
        for table in ec2.describe_transit_gateway_route_tables()["TransitGatewayRouteTables"]:
            found = ec2.search_transit_gateway_routes(
                TransitGatewayRouteTableId=table["TransitGatewayRouteTableId"],
                Filters=[{"Name": "type", "Values": ["static"]}])["Routes"]
            for route in found:
                attachments = route.get("TransitGatewayAttachments") or [{}]
                routes[route["DestinationCidrBlock"]] = attachments[0].get("TransitGatewayAttachmentId")
        return routes


@dataclass
class Execution:
    described: dict
    events: list[dict]

    @property
    def status(self) -> str:
        return self.described["status"]

    @property
    def output(self) -> dict:
        return json.loads(self.described.get("output") or "{}")

    def entered(self, state: str | None = None) -> list[str]:
        """The states entered, in order (or only those named `state`)."""
        names = [e["stateEnteredEventDetails"]["name"] for e in self.events
                 if e["type"].endswith("StateEntered")]
        return [n for n in names if state is None or n == state]

    def states_seen(self) -> list[dict]:
        """Every state the functions handed on: each step's `peering`, and the execution's output."""
        seen = []
        for event in self.events:
            if event["type"].endswith("StateExited"):
                exited = json.loads(event["stateExitedEventDetails"].get("output") or "{}")
                if isinstance(exited, dict) and isinstance(exited.get("peering"), dict):
                    seen.append(exited["peering"])
        if self.described.get("output"):
            seen.append(json.loads(self.described["output"]))
        return seen

    def task_outputs(self, state: str) -> list[dict]:
        return [json.loads(e["stateExitedEventDetails"]["output"]) for e in self.events
                if e["type"].endswith("StateExited") and e["stateExitedEventDetails"]["name"] == state]


@pytest.fixture
def local_aws(endpoint) -> LocalAws:
    harness(endpoint, "POST", "reset")
    aws = LocalAws(endpoint)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    for region, layout in ((ACTIVE, seed_demo.DEMO["active"]), (PASSIVE, seed_demo.DEMO["passive"])):
        seed_demo.seed_region(aws.client("ec2", region), region, layout, "addToTransitGateway")
    harness(endpoint, "POST", "calls/reset")
    return aws


def side_table(report: dict, side: str) -> dict:
    """The one transit gateway route table of `side` in a report's `tgwRouteTables` (`routes`,
    `routePlan` or `teardown`); empty when the side has none."""
    tables = [t for t in report.get("tgwRouteTables", []) if t.get("side") == side]
    assert len(tables) <= 1, f"{len(tables)} {side} tables where one was expected: {report}"
    return tables[0] if tables else {}


def assert_state_round_trips(states: list[dict]) -> None:
    """Every state the stack tests see is the typed state the functions hand each other: it
    decodes as `PeeringState` and serialises back unchanged (tests/examples/state_round_trip.rs)."""
    if not states:
        return
    binary = Path(os.environ.get("TGW_PEERING_LAMBDA_BIN_DIR", "")) / "examples" / "state_round_trip"
    assert binary.is_file(), f"{binary} is missing: run cargo test --workspace (it builds the examples)"
    lines = "".join(json.dumps(state) + "\n" for state in states)
    done = subprocess.run([str(binary)], input=lines, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
