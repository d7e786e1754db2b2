"""The performance benchmark behind scripts/bench.sh. Everything runs on the local AWS
(tests/emulator/server.py --stepfunctions --lambda-bin-dir DIR): the real template deployed with
scripts/deploy.sh, the real state machine, and the real function binaries behind
`cargo lambda watch`. Each phase measures what the harness counts and times:

  small    one execution with the peering held pending for 3 polls (billed Lambda time, peak RSS),
           and one where provisioning takes T seconds (the peering pending T s after the accept;
           end-to-end time minus T); both count DescribeTransitGatewayPeeringAttachments calls
  cold     cold start and warm latency of each function, through the same runner
  scale    a segmented network (SEGMENTS route tables for the VPC attachments and one for the
           peering, per Region) grown to 100, 300 and 1,000 tagged VPCs per Region: EC2 calls per
           modify-routes run, its time, the emulator's share of it and the function's own CPU
  throttle creating 1,000 missing routes per Region under EC2's token bucket
  prune    removing 500 stale routes per Region under EC2's token bucket
  reconcile a run with nothing to do at 10,000 of the tool's routes per peering table (each table
           also holds as many propagated ones): read calls per Region, writes, billed time; and the
           same in an account where only the active side advertises (tables of exactly 10,000)
  mesh     a 4-Region mesh in one execution with provisioning held T seconds (execution time
           minus T, billed Lambda time of every pair's execution, EC2 calls per Region), then a
           re-run with nothing to do
  profiles the release binaries against those of [profile.untuned] (cargo's release defaults):
           binary size, the size of a Lambda zip of each, and the cold starts of `cold`, each
           profile on a local AWS of its own (only with --untuned-bin-dir)

Figures are reported, never asserted: a phase that fails is reported as not measured, with why,
and the others still run. The results go to a JSON file that bench_report.py turns into tables,
docs/performance.md and the plot.

    bench.py --bin-dir DIR --out results.json [--phases small,cold,scale,throttle,prune,reconcile,mesh[,profiles]]
             [--untuned-bin-dir DIR] [options]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import io
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "emulator"))
sys.path.insert(0, str(ROOT / "scripts" / "lib"))

import seed_demo  # noqa: E402  (scripts/lib is not a package)
from server_process import running_server  # noqa: E402

ACTIVE, PASSIVE = "us-east-1", "us-west-2"
BUCKET = "tgw-peering-bench"
STACK = "tgw-peering"
TAG_KEY = "addToTransitGateway"
FUNCTIONS = ("peer", "get-status", "modify-routes")
OUTPUT_KEYS = {
    "peer": "PeerFunctionName",
    "get-status": "GetStatusFunctionName",
    "modify-routes": "ModifyRoutesFunctionName",
}
FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
# EC2's published request token bucket for mutating actions (the harness's default too).
MUTATING_BUCKET, MUTATING_REFILL = 50, 5
NON_MUTATING = ("Describe", "Get", "List", "Search")


def code_dir_for(bin_dir: Path, work: Path) -> Path | None:
    """The zips to deploy: scripts/build.sh's (None) when they are there, else zips of the host
    binaries the local AWS runs, as scripts/local.sh deploys. The local AWS runs the host binaries
    either way (by the code key's name); only the S3 objects differ."""
    if all((ROOT / "dist" / "lambda" / f"{f}.zip").is_file() for f in FUNCTIONS):
        return None
    out = work / "host-zips"
    out.mkdir(parents=True, exist_ok=True)
    for function in FUNCTIONS:
        with zipfile.ZipFile(out / f"{function}.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            archive.write(bin_dir / function, "bootstrap")
    log(f"no dist/lambda/*.zip (scripts/build.sh): deploying zips of the host binaries in {bin_dir}")
    return out


def log(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def is_mutating(action: str) -> bool:
    return not action.startswith(NON_MUTATING)


def billed_ms(duration_ms: float) -> int:
    """Lambda bills each invocation's duration rounded up to the next millisecond."""
    return math.ceil(duration_ms)


def summary(values: list[float]) -> dict[str, Any]:
    """Median and spread of a sample (None when empty)."""
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None, "p90": None}
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[-1] if len(ordered) >= 2 else ordered[0]
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "p90": p90,
    }


# --- the local AWS ------------------------------------------------------------------------------


@dataclass
class LocalAws:
    """Clients, the harness's control API and the scripts, against one local AWS."""

    url: str
    # The zips deploy.sh uploads (its --code-dir); None: its default, scripts/build.sh's.
    code_dir: Path | None = None
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=ACTIVE,
            AWS_DEFAULT_REGION=ACTIVE,
        )
        return env

    def client(self, service: str, region: str = ACTIVE) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,
                region_name=region,
                endpoint_url=self.url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                # The bench's own calls are never throttled (rate limits are on only while an
                # execution runs) and must not be retried behind its back.
                config=Config(
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    read_timeout=330,
                    max_pool_connections=4,
                ),
            )
        return self._clients[key]

    def harness(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_harness/{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)

    def reset(self) -> None:
        """A clean account: no resources, counters, faults, rate limits or function processes."""
        self.harness("POST", "reset")
        self.client("s3").create_bucket(Bucket=BUCKET)

    def deploy(self, **parameters: Any) -> dict[str, str]:
        """scripts/deploy.sh, as a user runs it; returns the stack's outputs."""
        cmd = [
            str(ROOT / "scripts/deploy.sh"),
            "--bucket",
            BUCKET,
            "--stack-name",
            STACK,
            "--passive-region",
            PASSIVE,
            *(["--code-dir", str(self.code_dir)] if self.code_dir else []),
            *(f"{k}={v}" for k, v in parameters.items()),
        ]
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"deploy.sh failed:\n{done.stdout}\n{done.stderr}")
        stack = self.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    def invocations(self) -> list[dict]:
        return self.harness("GET", "lambda")["invocations"]

    def start(self, state_machine_arn: str, execution_input: Any = None) -> str:
        return self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, input=json.dumps(execution_input or {})
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float) -> tuple[dict, list[dict], bool]:
        """Waits for the execution to finish, at most `timeout` seconds; returns its description,
        its history, and whether it finished (one still running is stopped)."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in FINISHED:
                finished = True
                break
            if time.monotonic() > deadline:
                with contextlib.suppress(Exception):
                    sfn.stop_execution(
                        executionArn=execution_arn,
                        error="Bench.Deadline",
                        cause=f"still running after {timeout:.0f} s",
                    )
                described = sfn.describe_execution(executionArn=execution_arn)
                finished = False
                break
            time.sleep(0.1)
        events = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return described, events, finished

    def run(self, state_machine_arn: str, timeout: float, execution_input: Any = None) -> "Run":
        """One execution, with the function invocations and EC2 calls it caused."""
        self.harness("POST", "lambda/reset")
        self.harness("POST", "calls/reset")
        started = time.monotonic()
        arn = self.start(state_machine_arn, execution_input)
        described, events, finished = self.wait(arn, timeout)
        return Run(
            described,
            events,
            finished,
            time.monotonic() - started,
            self.invocations(),
            self.harness("GET", "calls"),
        )

    def peering_routes(self, region: str, route_table_id: str, attachment_id: str) -> set[str]:
        """The static routes of the table that go via the peering attachment."""
        ec2, found, token = self.client("ec2", region), set(), None
        while True:
            page = ec2.search_transit_gateway_routes(
                TransitGatewayRouteTableId=route_table_id,
                MaxResults=1000,
                Filters=[
                    {"Name": "type", "Values": ["static"]},
                    {"Name": "attachment.transit-gateway-attachment-id", "Values": [attachment_id]},
                ],
                **({"NextToken": token} if token else {}),
            )
            found |= {r["DestinationCidrBlock"] for r in page["Routes"]}
            token = page.get("NextToken")
            if not token:
                return found


PEERING_DESCRIBE = "DescribeTransitGatewayPeeringAttachments"


@dataclass
class Run:
    described: dict
    events: list[dict]
    finished: bool
    client_seconds: float  # from StartExecution to seeing it finished, polled every 0.1 s
    invocations: list[dict]
    calls: dict

    @property
    def status(self) -> str:
        return self.described["status"] if self.finished else "STOPPED (bench deadline)"

    @property
    def output(self) -> dict:
        return json.loads(self.described.get("output") or "{}")

    @property
    def seconds(self) -> float:
        """The execution's duration as Step Functions reports it."""
        stop = self.described.get("stopDate")
        if stop is None:
            return self.client_seconds
        return (stop - self.described["startDate"]).total_seconds()

    def of(self, function: str) -> list[dict]:
        return [i for i in self.invocations if Path(i["binary"]).name == function]

    def entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"] for e in self.events if e["type"].endswith("StateEntered")
        ]

    def error(self) -> str:
        if self.status == "SUCCEEDED":
            return ""
        return f"{self.described.get('error', '?')}: {str(self.described.get('cause', ''))[:300]}"

    def first_entered(self, prefix: str) -> Any:
        for event in self.events:
            if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"][
                "name"
            ].startswith(prefix):
                return event["timestamp"]
        return None

    def statuses_seen(self, state: str) -> list[str]:
        """The peering status each run of a task state returned (its output's peering.status)."""
        seen = []
        for event in self.events:
            details = event.get("stateExitedEventDetails") or {}
            if event["type"] == "TaskStateExited" and details.get("name") == state:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    seen.append(json.loads(details["output"])["peering"]["status"])
        return seen

    def end(self) -> Any:
        return self.described.get("stopDate") or (self.events[-1]["timestamp"] if self.events else None)

    @property
    def peering_describes(self) -> int:
        """DescribeTransitGatewayPeeringAttachments calls during the run, in every Region: the
        emulator's peering progresses by time, so polling more often only shows here."""
        return (self.calls.get("total") or {}).get(PEERING_DESCRIBE, 0)

    def peering_describes_by_function(self) -> dict[str, int]:
        """The same calls by the function that made them (each invocation's own EC2 calls)."""
        counts: dict[str, int] = {}
        for invocation in self.invocations:
            regions = ((invocation.get("ec2Calls") or {}).get("byRegion") or {}).values()
            made = sum(actions.get(PEERING_DESCRIBE, 0) for actions in regions)
            name = Path(invocation.get("binary") or invocation["function"]).name
            counts[name] = counts.get(name, 0) + made
        return counts


def calls_by_side(invocations: list[dict]) -> dict[str, dict[str, dict[str, int]]]:
    """Region -> {"reads": {action: n}, "writes": {action: n}, "throttled": n}, summed over the
    invocations (each counts the EC2 calls made while it ran)."""
    sides: dict[str, dict[str, Any]] = {}
    for invocation in invocations:
        calls = invocation.get("ec2Calls") or {"byRegion": {}, "throttled": {}}
        for region, actions in calls["byRegion"].items():
            side = sides.setdefault(region, {"reads": {}, "writes": {}})
            for action, n in actions.items():
                kind = "writes" if is_mutating(action) else "reads"
                side[kind][action] = side[kind].get(action, 0) + n
    return sides


# --- seeding --------------------------------------------------------------------------------------


def active_cidr(i: int) -> str:
    return f"10.{i >> 8}.{i & 255}.0/24"  # 10.0.0.0/24 .. 10.3.231.0/24 for 1,000 VPCs


def passive_cidr(i: int) -> str:
    return f"10.{128 + (i >> 8)}.{i & 255}.0/24"  # never overlaps the active side


def create_gateway(ec2: Any) -> dict:
    return ec2.create_transit_gateway(Description="tgw-peering bench")["TransitGateway"]


# The scale phase's segmented network: VPC attachments spread over this many TGW route tables
# per side (each of which the tool routes), plus one table for the peering.
SEGMENTS = 3


def create_segmented_gateway(ec2: Any) -> dict[str, Any]:
    """A transit gateway with default association and propagation off, SEGMENTS route tables for
    the VPC attachments and one for the peering: {"tgw", "segments": [ids], "peering": id}."""
    tgw = ec2.create_transit_gateway(
        Description="tgw-peering bench, segmented",
        Options={"DefaultRouteTableAssociation": "disable", "DefaultRouteTablePropagation": "disable"},
    )["TransitGateway"]["TransitGatewayId"]
    tables = [
        ec2.create_transit_gateway_route_table(TransitGatewayId=tgw)["TransitGatewayRouteTable"][
            "TransitGatewayRouteTableId"
        ]
        for _ in range(SEGMENTS + 1)
    ]
    return {"tgw": tgw, "segments": tables[:SEGMENTS], "peering": tables[SEGMENTS]}


def seed_segmented_vpcs(ec2: Any, gateway: dict[str, Any], cidrs: list[tuple[int, str]]) -> None:
    """Tagged VPCs (index, CIDR), each with a subnet and an attachment associated with segment
    table index % SEGMENTS and propagating into the peering table, as seed_demo's segmented
    network does."""
    for index, cidr in cidrs:
        vpc = ec2.create_vpc(
            CidrBlock=cidr,
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": TAG_KEY, "Value": "true"}]}],
        )["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        attachment = ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=gateway["tgw"], VpcId=vpc, SubnetIds=[subnet]
        )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
        ec2.associate_transit_gateway_route_table(
            TransitGatewayRouteTableId=gateway["segments"][index % SEGMENTS],
            TransitGatewayAttachmentId=attachment,
        )
        ec2.enable_transit_gateway_route_table_propagation(
            TransitGatewayRouteTableId=gateway["peering"], TransitGatewayAttachmentId=attachment
        )


def seed_vpcs(ec2: Any, tgw_id: str, cidrs: list[str]) -> None:
    """Tagged VPCs, each with a subnet and an attachment to the transit gateway."""
    for cidr in cidrs:
        vpc = ec2.create_vpc(
            CidrBlock=cidr,
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": TAG_KEY, "Value": "true"}]}],
        )["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        ec2.create_transit_gateway_vpc_attachment(TransitGatewayId=tgw_id, VpcId=vpc, SubnetIds=[subnet])


def in_both_regions(work: Callable[[str], Any]) -> dict[str, Any]:
    """Runs work(region) for both Regions at once (moto's server is threaded)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {region: pool.submit(work, region) for region in (ACTIVE, PASSIVE)}
        return {region: future.result() for region, future in futures.items()}


# --- phases -----------------------------------------------------------------------------------


@dataclass
class Options:
    pending_polls: int
    provisioning_seconds: float
    poll_seconds: int
    cold_starts: int
    warm_invocations: int
    vpc_counts: list[int]
    routes: int
    time_scale: float
    reconcile_routes: int = 10_000


def function_summary(invocations: list[dict]) -> dict[str, dict[str, Any]]:
    """Per function: invocations, cold starts, billed ms, peak RSS."""
    result = {}
    for function in FUNCTIONS:
        mine = [i for i in invocations if Path(i["binary"]).name == function]
        durations = [i["durationMs"] for i in mine if i.get("durationMs") is not None]
        rss = [i["peakRssKiB"] for i in mine if i.get("peakRssKiB") is not None]
        cpu = [i["cpuMs"] for i in mine if i.get("cpuMs") is not None]
        result[function] = {
            "cpuMs": round(sum(cpu), 1) if cpu else None,
            "invocations": len(mine),
            "cold": sum(1 for i in mine if i.get("coldStart")),
            "durationsMs": durations,
            "billedMs": sum(billed_ms(d) for d in durations),
            "peakRssKiB": max(rss) if rss else None,
        }
    return result


def settle_race_seconds() -> float:
    """The state machine's SettleRace wait, between `peer`'s create and its Settle call."""
    found = re.search(
        r'"SettleRace":\s*\{[^}]*?"Seconds":\s*(\d+)', (ROOT / "statemachine/peering.asl.json").read_text()
    )
    return float(found.group(1)) if found else 0.0


def phase_small(aws: LocalAws, opts: Options) -> dict[str, Any]:
    """The demo network: one execution held pending for N polls, then one where provisioning
    takes T seconds."""
    results: dict[str, Any] = {}

    # The harness holds the peering pending for a time from the accept, as AWS does, not for a
    # number of reads. `peer` accepts right after its create; poll k comes at least the SettleRace
    # wait plus k poll intervals (1 s) later, so that plus N + 0.5 s is at most N pending polls; it
    # is corrected from what get-status saw, should the functions' own time have pushed a poll past.
    pending_seconds = settle_race_seconds() + opts.pending_polls + 0.5
    for attempt in range(3):
        log(
            f"small: the demo network, peering pending for {pending_seconds:g} s after the accept "
            f"(wanted: {opts.pending_polls} get-status polls), PollIntervalSeconds=1"
        )
        aws.reset()
        seed_demo_network(aws)
        outputs = aws.deploy(PollIntervalSeconds=1)
        aws.harness("POST", "peering", {"pendingSeconds": pending_seconds})
        run = aws.run(outputs["StateMachineArn"], timeout=180)
        seen = run.statuses_seen("GetStatus")
        pending_seen = seen.count("pending")
        if run.status != "SUCCEEDED" or pending_seen == opts.pending_polls or attempt == 2:
            break
        pending_seconds = max(0.0, pending_seconds + opts.pending_polls - pending_seen)
    results["billed"] = {
        "status": run.status,
        "error": run.error(),
        "pendingPolls": opts.pending_polls,
        "pendingSeconds": pending_seconds,
        "peeringDescribes": run.peering_describes,
        "peeringDescribesByFunction": run.peering_describes_by_function(),
        "getStatusSaw": seen,
        "states": run.entered(),
        "seconds": run.seconds,
        "getStatusPolls": len(run.of("get-status")),
        "invocations": [
            {
                k: i.get(k)
                for k in ("function", "binary", "ok", "errorType", "coldStart", "durationMs", "peakRssKiB")
            }
            for i in run.invocations
        ],
        "functions": function_summary(run.invocations),
        "totalBilledMs": sum(
            billed_ms(i["durationMs"]) for i in run.invocations if i.get("durationMs") is not None
        ),
    }

    log(f"small: provisioning takes {opts.provisioning_seconds:g} s, PollIntervalSeconds={opts.poll_seconds}")
    aws.reset()
    seed_demo_network(aws)
    outputs = aws.deploy(PollIntervalSeconds=opts.poll_seconds)
    aws.harness("POST", "peering", {"pendingSeconds": opts.provisioning_seconds})
    run = aws.run(
        outputs["StateMachineArn"], timeout=opts.provisioning_seconds + 30 * opts.poll_seconds + 120
    )
    results["endToEnd"] = {
        "status": run.status,
        "error": run.error(),
        "provisioningSeconds": opts.provisioning_seconds,
        "pollSeconds": opts.poll_seconds,
        "seconds": run.seconds,
        "getStatusSaw": run.statuses_seen("GetStatus"),
        "overSeconds": run.seconds - opts.provisioning_seconds,
        "getStatusPolls": len(run.of("get-status")),
        "peeringDescribes": run.peering_describes,
        "peeringDescribesByFunction": run.peering_describes_by_function(),
        "states": run.entered(),
        "functions": function_summary(run.invocations),
    }
    results["outputs"] = outputs
    results["peering"] = next(
        (
            json.loads(e["stateExitedEventDetails"]["output"])["peering"]
            for e in run.events
            if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Peer"
        ),
        None,
    )
    return results


def seed_demo_network(aws: LocalAws) -> None:
    for region, layout in ((ACTIVE, seed_demo.DEMO["active"]), (PASSIVE, seed_demo.DEMO["passive"])):
        with contextlib.redirect_stdout(sys.stderr):
            seed_demo.seed_region(aws.client("ec2", region), region, layout, TAG_KEY)


def invoke_one(aws: LocalAws, name: str, payload: Any) -> dict:
    """One invoke of the function, and the invocation the harness recorded for it."""
    aws.harness("POST", "lambda/reset")
    response = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload).encode())
    response["Payload"].read()
    (invocation,) = aws.invocations()
    return invocation


def cold_starts(aws: LocalAws, opts: Options, outputs: dict[str, str], peering: dict | None) -> dict[str, Any]:
    """Cold starts: each sample changes the function's configuration, so the runner starts a new
    process for the next invoke, as Lambda starts a new execution environment, and times it from
    the process's start to the answer. Two inputs: `null`, which every function refuses before any
    AWS call (start-up and the runtime alone), and a real request on the demo network (start-up
    plus its EC2 calls to the emulator). Function -> input -> samples and their summary."""
    lam = aws.client("lambda")
    peer_request: dict = {}
    real_input = {"peer": peer_request, "get-status": peering, "modify-routes": peering}
    results: dict[str, Any] = {}
    sample = 0
    for function in FUNCTIONS:
        name = outputs[OUTPUT_KEYS[function]]
        variables = (
            lam.get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
        )
        measured: dict[str, list[dict]] = {"null": [], "real": []}
        for kind in ("null", "real"):
            payload = None if kind == "null" else real_input[function]
            if kind == "real" and payload is None:
                continue
            log(
                f"cold: {function}, {opts.cold_starts} cold starts with {'null' if kind == 'null' else 'a real request'}"
            )
            for _ in range(opts.cold_starts):
                sample += 1
                lam.update_function_configuration(
                    FunctionName=name, Environment={"Variables": {**variables, "BENCH_SAMPLE": str(sample)}}
                )
                measured[kind].append(invoke_one(aws, name, payload))
        results[function] = {
            kind: {
                "samples": [i["durationMs"] for i in found if i["coldStart"]],
                "notCold": sum(1 for i in found if not i["coldStart"]),
                "errorTypes": sorted({i["errorType"] or "answered" for i in found}),
                "summary": summary([i["durationMs"] for i in found if i["coldStart"]]),
                "peakRssKiB": max((i["peakRssKiB"] for i in found if i.get("peakRssKiB")), default=None),
            }
            for kind, found in measured.items()
            if found
        }
    return results


def phase_cold(aws: LocalAws, opts: Options, outputs: dict[str, str], peering: dict | None) -> dict[str, Any]:
    """The cold starts of cold_starts(), then warm invocations of get-status on one process."""
    results: dict[str, Any] = {"coldStart": cold_starts(aws, opts, outputs, peering), "warm": {}}

    def invoke(name: str, payload: Any) -> dict:
        return invoke_one(aws, name, payload)

    name = outputs[OUTPUT_KEYS["get-status"]]
    for kind, payload in (("real", peering), ("null", None)):
        if kind == "real" and payload is None:
            continue
        log(
            f"warm: get-status, {opts.warm_invocations} invocations with {'a real request' if kind == 'real' else 'null'}"
        )
        invoke(name, payload)  # make sure a process is up
        found = [invoke(name, payload) for _ in range(opts.warm_invocations)]
        warm = [i["durationMs"] for i in found if not i["coldStart"]]
        results["warm"][kind] = {
            "summary": summary(warm),
            "errorTypes": sorted({i["errorType"] or "answered" for i in found}),
        }
    return results


def phase_floor(opts: Options) -> dict[str, Any]:
    """Warm invocations of a do-nothing runtime (bench_runtime.py) through a second local AWS's
    runner and cargo-lambda: what that path adds to every warm invocation, with and without quick
    ACKs on the runtime's connection."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tgw-peering-bench-floor-") as tmp:
        bin_dir = Path(tmp) / "bin"
        bin_dir.mkdir()
        stand_in = bin_dir / "get-status"  # cargo-lambda routes only the project's binary names
        stand_in.write_text(f"#!{sys.executable}\n" + (ROOT / "scripts/lib/bench_runtime.py").read_text())
        stand_in.chmod(0o755)
        log("floor: a do-nothing runtime behind the same runner and cargo-lambda")
        with running_server(
            "--lambda-bin-dir", str(bin_dir), "--lambda-log-dir", str(Path(tmp) / "logs"), cwd=ROOT
        ) as url:
            aws = LocalAws(url)
            aws.client("s3").create_bucket(Bucket=BUCKET)
            aws.client("s3").put_object(Bucket=BUCKET, Key="floor/get-status.zip", Body=b"stand-in")
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
            }
            role = aws.client("iam").create_role(
                RoleName="bench-floor", AssumeRolePolicyDocument=json.dumps(trust)
            )["Role"]["Arn"]
            lam = aws.client("lambda")
            lam.create_function(
                FunctionName="floor",
                Runtime="provided.al2023",
                Role=role,
                Handler="bootstrap",
                Code={"S3Bucket": BUCKET, "S3Key": "floor/get-status.zip"},
                Environment={"Variables": {"BENCH_QUICKACK": "0"}},
            )
            for quickack in ("0", "1"):
                lam.update_function_configuration(
                    FunctionName="floor", Environment={"Variables": {"BENCH_QUICKACK": quickack}}
                )
                aws.harness("POST", "lambda/reset")
                for _ in range(opts.warm_invocations + 1):
                    lam.invoke(FunctionName="floor", Payload=b"null")["Payload"].read()
                warm = [i["durationMs"] for i in aws.invocations() if not i["coldStart"] and i["ok"]]
                results["quickack" if quickack == "1" else "keepAlive"] = summary(warm)
    return results


def lambda_zip_size(binary: Path) -> int:
    """The size of a zip holding the binary as an executable `bootstrap`, as a Lambda zip does
    (deflate, compresslevel 9)."""
    info = zipfile.ZipInfo("bootstrap", date_time=time.localtime(binary.stat().st_mtime)[:6])
    info.external_attr = 0o100755 << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(info, binary.read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return len(buffer.getvalue())


def demo_stack(aws: LocalAws) -> tuple[dict[str, str], dict | None, str]:
    """A clean account with the demo network, the stack deployed (PollIntervalSeconds=1) and one
    execution run, which creates the peering and the routes: the state the cold phase's real
    requests find. Returns the stack's outputs, the peering and the execution's status."""
    aws.reset()
    seed_demo_network(aws)
    outputs = aws.deploy(PollIntervalSeconds=1)
    run = aws.run(outputs["StateMachineArn"], timeout=180)
    peering = next(
        (
            json.loads(e["stateExitedEventDetails"]["output"])["peering"]
            for e in run.events
            if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Peer"
        ),
        None,
    )
    return outputs, peering, run.status + (f": {run.error()}" if run.error() else "")


def phase_profiles(opts: Options, bin_dirs: dict[str, Path], log_dir: Path) -> dict[str, Any]:
    """Each profile's binaries: their size, the size of a Lambda zip of each, and the cold starts
    of cold_starts() on a local AWS of their own running them (one profile after the other, the
    same demo network and stack). A profile that fails is recorded with why; the other still runs."""
    results: dict[str, Any] = {}
    for profile, bin_dir in bin_dirs.items():
        entry: dict[str, Any] = {"binDir": str(bin_dir), "binaries": {}}
        results[profile] = entry
        for function in FUNCTIONS:
            binary = bin_dir / function
            entry["binaries"][function] = {"bytes": binary.stat().st_size, "zipBytes": lambda_zip_size(binary)}
        log(
            f"profiles: {profile}: "
            + ", ".join(f"{f} {v['bytes']:,} B ({v['zipBytes']:,} B zipped)" for f, v in entry["binaries"].items())
        )
    for profile, bin_dir in bin_dirs.items():
        entry = results[profile]
        started = time.monotonic()
        try:
            log(f"profiles: {profile}: a local AWS running {bin_dir}")
            with running_server(
                "--stepfunctions",
                "--lambda-bin-dir",
                str(bin_dir.resolve()),
                "--lambda-log-dir",
                str(log_dir / f"profile-{profile}"),
                cwd=ROOT,
            ) as url:
                aws = LocalAws(url, code_dir_for(bin_dir, log_dir / f"profile-{profile}"))
                log(f"profiles: {profile}: the demo network, the stack and one execution")
                outputs, peering, status = demo_stack(aws)
                entry["demoExecution"] = status
                entry["coldStart"] = cold_starts(aws, opts, outputs, peering)
        except Exception as e:  # noqa: BLE001  (report it, measure the other profile)
            traceback.print_exc(file=sys.stderr)
            entry["error"] = f"{type(e).__name__}: {e}"[:2000]
        finally:
            entry["seconds"] = time.monotonic() - started
    return results


def server_busy_ms(invocations: list[dict]) -> float:
    """The time at least one EC2 call was in the emulator during the invocations: calls made at
    once (both sides are read together) count once."""
    return sum((invocation.get("ec2Calls") or {}).get("serverBusyMs") or 0 for invocation in invocations)


def server_ms_by_action(invocations: list[dict], region: str) -> dict[str, float]:
    """The emulator's time answering each action in one Region during the invocations."""
    totals: dict[str, float] = {}
    for invocation in invocations:
        for action, ms in (((invocation.get("ec2Calls") or {}).get("serverMs") or {}).get(region) or {}).items():
            totals[action] = totals.get(action, 0.0) + ms
    return {action: round(ms, 1) for action, ms in sorted(totals.items(), key=lambda item: -item[1])}


def server_ms(invocations: list[dict], region: str | None = None) -> float:
    """The emulator's own time (moto answering EC2) during the invocations, in one Region or all."""
    total = 0.0
    for invocation in invocations:
        by_region = (invocation.get("ec2Calls") or {}).get("serverMs") or {}
        for name, actions in by_region.items():
            if region is None or name == region:
                total += sum(actions.values())
    return total


def phase_scale(aws: LocalAws, opts: Options) -> dict[str, Any]:
    """A segmented network in each Region (SEGMENTS route tables for the VPC attachments, one for
    the peering) is grown in steps (100, then 300, then 1,000 tagged VPCs per Region); at each step
    one execution creates the missing routes, in every segment table, and a second finds them all
    present. Each run's modify-routes invocations report the EC2 calls made while they ran, the
    emulator's time answering them and the function's own CPU time."""
    aws.reset()
    gateways = in_both_regions(lambda region: create_segmented_gateway(aws.client("ec2", region)))
    tables = {region: gateway["segments"] for region, gateway in gateways.items()}
    cidr_of = {ACTIVE: active_cidr, PASSIVE: passive_cidr}
    other = {ACTIVE: PASSIVE, PASSIVE: ACTIVE}
    seeded = 0
    outputs: dict[str, str] | None = None
    attachment_id = None
    rows = []

    def routed(region: str) -> set[tuple[str, str]]:
        return {
            (table, cidr)
            for table in tables[region]
            for cidr in aws.peering_routes(region, table, attachment_id)
        }

    for count in opts.vpc_counts:
        log(f"scale: seeding {count - seeded} more tagged VPCs per Region (to {count})")
        started = time.monotonic()
        in_both_regions(
            lambda region: seed_segmented_vpcs(
                aws.client("ec2", region),
                gateways[region],
                [(i, cidr_of[region](i)) for i in range(seeded, count)],
            )
        )
        log(f"scale: seeded in {time.monotonic() - started:.0f} s")
        seeded = count
        if outputs is None:
            outputs = aws.deploy(
                PollIntervalSeconds=1,
                ActivePeeringRouteTableId=gateways[ACTIVE]["peering"],
                PassivePeeringRouteTableId=gateways[PASSIVE]["peering"],
            )
        # A first run that ends before every route is in (one that fails part-way) is followed by
        # more, so that the re-run has nothing to do; each is reported.
        runs = ["first", "first (continued)", "first (continued again)", "re-run"]
        while runs:
            which = runs.pop(0)
            before = (
                {region: routed(region) for region in tables}
                if attachment_id
                else {region: set() for region in tables}
            )
            log(f"scale: {count} tagged VPCs per Region, the {which}")
            run = aws.run(outputs["StateMachineArn"], timeout=900)
            attachment_id = attachment_id or run.output.get("attachmentId")
            if attachment_id is None:
                raise RuntimeError(f"the execution gave no attachment: {run.status} {run.error()}")
            after = {region: routed(region) for region in tables}
            sides = calls_by_side(run.of("modify-routes"))
            mr = run.of("modify-routes")
            cpu = [i.get("cpuMs") for i in mr]
            reach = run.output.get("reachability") or {}
            for region in (ACTIVE, PASSIVE):
                wanted = {
                    (table, cidr_of[other[region]](i)) for table in tables[region] for i in range(count)
                }
                side = sides.get(region, {"reads": {}, "writes": {}})
                rows.append(
                    {
                        "vpcs": count,
                        "run": which,
                        "region": region,
                        "side": "active" if region == ACTIVE else "passive",
                        "tgwTables": len(tables[region]),
                        "missing": len(wanted - before[region]),
                        "created": len(after[region] - before[region]),
                        "reads": side["reads"],
                        "writes": side["writes"],
                        "readCalls": sum(side["reads"].values()),
                        "writeCalls": sum(side["writes"].values()),
                        "status": run.status,
                        "error": run.error(),
                        "invocations": len(mr),
                        "modifyRoutesMs": sum(i["durationMs"] or 0 for i in mr),
                        # The emulator's time answering this side's calls (summed per call), and
                        # the time it was busy with either side's (the function's wall time holds
                        # both sides, read at once).
                        "serverMs": server_ms(mr, region),
                        "runServerMs": server_busy_ms(mr),
                        "serverMsByAction": server_ms_by_action(mr, region),
                        "cpuMs": sum(cpu) if cpu and None not in cpu else None,
                        "peakRssKiB": max((i["peakRssKiB"] or 0 for i in mr), default=None),
                        # Other work on the machine slows the wall times (not the CPU times).
                        "loadAverage": round(os.getloadavg()[0], 2),
                        "pairs": reach.get("pairs"),
                        "reachable": reach.get("reachable"),
                    }
                )
            log(
                f"scale: {count} VPCs, the {which}: modify-routes {rows[-1]['modifyRoutesMs']:.0f} ms, "
                f"emulator {rows[-1]['runServerMs']:.0f} ms, function CPU {rows[-1]['cpuMs']} ms, "
                f"reads {rows[-2]['readCalls']}/{rows[-1]['readCalls']}, {run.status} {run.error()[:200]}"
            )
            complete = all(
                not ({(t, cidr_of[other[r]](i)) for t in tables[r] for i in range(count)} - after[r])
                for r in tables
            )
            if which.startswith("first") and complete:
                runs = [w for w in runs if not w.startswith("first")]
    return {
        "rows": rows,
        "outputs": outputs,
        "attachmentId": attachment_id,
        "tables": tables,
        "segments": SEGMENTS,
        "vpcs": seeded,
    }


def run_under_bucket(
    aws: LocalAws, state_machine_arn: str, timeout: float, scale_factor: float, execution_input: Any = None
) -> tuple["Run", dict, float | None]:
    """One execution with EC2's mutating token bucket on (50, refilling 5/s, times timeScale) and
    the non-mutating one at its defaults; returns the run, the bucket's counts, and the seconds from
    entering ModifyRoutes to the end (None if the history does not show them)."""
    aws.harness("POST", "lambda/reset")
    aws.harness("POST", "calls/reset")
    aws.harness(
        "POST",
        "rate-limits",
        {"mutating": {"bucket": MUTATING_BUCKET, "refillPerSecond": MUTATING_REFILL}, "timeScale": scale_factor},
    )
    try:
        started = time.monotonic()
        arn = aws.start(state_machine_arn, execution_input)
        described, events, finished = aws.wait(arn, timeout)
        run = Run(described, events, finished, time.monotonic() - started, aws.invocations(),
                  aws.harness("GET", "calls"))
        limits = aws.harness("GET", "rate-limits")
    finally:
        aws.harness("DELETE", "rate-limits")
    window_start, window_end = run.first_entered("ModifyRoutes"), run.end()
    window = (window_end - window_start).total_seconds() if window_start and window_end else None
    return run, limits, window


def phase_throttle(aws: LocalAws, opts: Options, scale: dict[str, Any]) -> dict[str, Any]:
    """The routes the scale phase created are deleted (up to `routes` per Region), then one
    execution creates them again with EC2's mutating token bucket on (50, refilling 5/s, times
    timeScale) and the non-mutating one at its defaults."""
    outputs, attachment_id = scale["outputs"], scale["attachmentId"]
    # The first segment table of each side: its routes are deleted and created again.
    tables = {region: segments[0] for region, segments in scale["tables"].items()}
    routes = min(opts.routes, scale["vpcs"])
    other_cidr = {ACTIVE: passive_cidr, PASSIVE: active_cidr}

    def delete(region: str) -> int:
        ec2 = aws.client("ec2", region)
        cidrs = [other_cidr[region](i) for i in range(routes)]
        for cidr in cidrs:
            ec2.delete_transit_gateway_route(
                TransitGatewayRouteTableId=tables[region], DestinationCidrBlock=cidr
            )
        return len(cidrs)

    log(f"throttle: deleting {routes} routes per Region")
    in_both_regions(delete)
    before = {region: aws.peering_routes(region, tables[region], attachment_id) for region in tables}

    scale_factor = opts.time_scale
    ideal = max(0, routes - MUTATING_BUCKET) / (MUTATING_REFILL * scale_factor)
    timeout = max(120.0, 2.5 * ideal + 60)
    log(
        f"throttle: creating {routes} routes per Region under the token bucket "
        f"(timeScale {scale_factor:g}: at best about {ideal:.0f} s; the bench waits at most {timeout:.0f} s)"
    )
    run, limits, window = run_under_bucket(aws, outputs["StateMachineArn"], timeout, scale_factor)
    after = {region: aws.peering_routes(region, tables[region], attachment_id) for region in tables}
    mr = run.of("modify-routes")
    sides = {}
    for region in (ACTIVE, PASSIVE):
        created = len(after[region] - before[region])
        counted = limits["byRegion"].get(region, {}).get("mutating", {"allowed": 0, "throttled": 0})
        attempts = counted["allowed"] + counted["throttled"]
        rate = created / window if window else None
        sides[region] = {
            "routes": routes,
            "created": created,
            "mutatingAllowed": counted["allowed"],
            "mutatingThrottled": counted["throttled"],
            "throttledShare": counted["throttled"] / attempts if attempts else None,
            "routesPerSecond": rate,
            "shareOfSustainable": rate / (MUTATING_REFILL * scale_factor) if rate is not None else None,
        }
    total_calls = sum(run.calls["total"].values())
    total_throttled = sum(run.calls["throttled"].values())
    return {
        "status": run.status,
        "error": run.error(),
        "timeScale": scale_factor,
        "bucket": MUTATING_BUCKET,
        "refillPerSecond": MUTATING_REFILL,
        "sustainablePerSecond": MUTATING_REFILL * scale_factor,
        "windowSeconds": window,
        "executionSeconds": run.seconds,
        "idealSeconds": ideal,
        "modifyRoutesInvocations": len(mr),
        "modifyRoutesErrors": [i["errorType"] for i in mr if i["errorType"]],
        "modifyRoutesMs": sum(i["durationMs"] or 0 for i in mr),
        "peakRssKiB": max((i["peakRssKiB"] or 0 for i in mr), default=None),
        "sides": sides,
        "allCalls": total_calls,
        "allThrottled": total_throttled,
        "allThrottledShare": total_throttled / total_calls if total_calls else None,
        "states": run.entered(),
    }


# Stale routes per Region the prune phase removes (1,000 in all): the record in a table's tags
# holds about 750 CIDRs of this length per peering, so each side's table records 500.
PRUNE_ROUTES_PER_REGION = 500


def vpn_attachment(ec2: Any, tgw_id: str) -> str:
    """A VPN connection to the transit gateway; returns its TGW attachment id."""
    gateway = ec2.create_customer_gateway(BgpAsn=65000, PublicIp="203.0.113.10", Type="ipsec.1")[
        "CustomerGateway"
    ]["CustomerGatewayId"]
    vpn = ec2.create_vpn_connection(CustomerGatewayId=gateway, Type="ipsec.1", TransitGatewayId=tgw_id)[
        "VpnConnection"
    ]["VpnConnectionId"]
    (found,) = ec2.describe_transit_gateway_attachments(Filters=[{"Name": "resource-id", "Values": [vpn]}])[
        "TransitGatewayAttachments"
    ]
    return found["TransitGatewayAttachmentId"]


def phase_prune(aws: LocalAws, opts: Options) -> dict[str, Any]:
    """Each Region has a VPN attachment advertising PRUNE_ROUTES_PER_REGION ranges; a first run
    with propagatedCidrs routes them across (and records them). The ranges are withdrawn, and one
    execution with prune (confirmed: every route of each side goes) removes the stale routes with
    EC2's mutating token bucket on, as the throttle phase has it for creates."""
    aws.reset()
    n = PRUNE_ROUTES_PER_REGION
    ranges = {
        ACTIVE: [f"172.{16 + (i >> 8)}.{i & 255}.0/24" for i in range(n)],
        PASSIVE: [f"172.{24 + (i >> 8)}.{i & 255}.0/24" for i in range(n)],
    }
    gateways = in_both_regions(lambda region: create_gateway(aws.client("ec2", region)))
    vpns = {
        region: vpn_attachment(aws.client("ec2", region), gateway["TransitGatewayId"])
        for region, gateway in gateways.items()
    }
    for region, vpn in vpns.items():
        aws.harness("POST", "advertised-routes", {"attachmentId": vpn, "cidrs": ranges[region]})
    outputs = aws.deploy(PollIntervalSeconds=1, PropagatedCidrs="true")
    log(f"prune: routing {n} propagated ranges per Region across the peering (paced at 5/s)")
    first = aws.run(outputs["StateMachineArn"], timeout=900)
    if first.status != "SUCCEEDED":
        raise RuntimeError(f"the run that routes the ranges ended {first.status}: {first.error()}")
    attachment_id = first.output["attachmentId"]
    tables = {region: gateway["Options"]["AssociationDefaultRouteTableId"] for region, gateway in gateways.items()}
    other = {ACTIVE: PASSIVE, PASSIVE: ACTIVE}
    before = {region: aws.peering_routes(region, tables[region], attachment_id) for region in tables}
    for region, vpn in vpns.items():
        aws.harness("POST", "advertised-routes", {"attachmentId": vpn, "cidrs": []})

    scale_factor = opts.time_scale
    ideal = max(0, n - MUTATING_BUCKET) / (MUTATING_REFILL * scale_factor)
    timeout = max(120.0, 2.5 * ideal + 60)
    log(f"prune: removing {n} stale routes per Region under the token bucket (at best about {ideal:.0f} s)")
    run, limits, window = run_under_bucket(
        aws, outputs["StateMachineArn"], timeout, scale_factor, {"prune": True, "confirmPrune": 2 * n}
    )
    after = {region: aws.peering_routes(region, tables[region], attachment_id) for region in tables}
    mr = run.of("modify-routes")
    sides = {}
    for region in (ACTIVE, PASSIVE):
        stale = set(ranges[other[region]])
        removed = len((before[region] & stale) - after[region])
        counted = limits["byRegion"].get(region, {}).get("mutating", {"allowed": 0, "throttled": 0})
        attempts = counted["allowed"] + counted["throttled"]
        rate = removed / window if window else None
        sides[region] = {
            "stale": len(before[region] & stale),
            "removed": removed,
            "left": len(after[region] & stale),
            "mutatingAllowed": counted["allowed"],
            "mutatingThrottled": counted["throttled"],
            "throttledShare": counted["throttled"] / attempts if attempts else None,
            "routesPerSecond": rate,
            "shareOfSustainable": rate / (MUTATING_REFILL * scale_factor) if rate is not None else None,
        }
    return {
        "status": run.status,
        "error": run.error(),
        "timeScale": scale_factor,
        "sustainablePerSecond": MUTATING_REFILL * scale_factor,
        "windowSeconds": window,
        "executionSeconds": run.seconds,
        "idealSeconds": ideal,
        "modifyRoutesInvocations": len(mr),
        "modifyRoutesErrors": [i["errorType"] for i in mr if i["errorType"]],
        "sides": sides,
    }


# Issue 16's targets for a reconcile with nothing to do at that size.
RECONCILE_READS_TARGET = 20
RECONCILE_BILLED_TARGET_MS = 2000
# The seeding run's function settings: route writes as fast as moto takes them, and a route
# quota above the ~20,000 routes each gateway then holds (the default, 10,000, refuses the plan).
SEEDING_ENVIRONMENT = {
    "ROUTE_WRITES_PER_SECOND": "2000",
    "ROUTE_WRITE_BURST": "2000",
    "ROUTE_WRITES_IN_FLIGHT": "16",
    "TGW_ROUTE_QUOTA": "100000",
}
# DynamoDB actions that only read (every other DynamoDB action writes), for calls the harness
# records of that service.
DYNAMODB_READS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")


def service_calls(invocation: dict) -> dict[str, dict]:
    """Each service's calls the harness recorded for an invocation (`ec2Calls`, and any other
    `<service>Calls` entry with a `byRegion` map): service -> that entry."""
    return {
        key[: -len("Calls")]: calls
        for key, calls in invocation.items()
        if key.endswith("Calls") and isinstance(calls, dict) and isinstance(calls.get("byRegion"), dict)
    }


def is_service_read(service: str, action: str) -> bool:
    if service == "dynamodb":
        return action in DYNAMODB_READS or action.startswith(("Describe", "List"))
    return not is_mutating(action)


def reads_writes_by_side(invocations: list[dict]) -> dict[str, dict[str, dict[str, int]]]:
    """calls_by_side over every service the harness records: Region -> {"reads": {action: n},
    "writes": {action: n}}, an action of a service other than EC2 named `service:Action`."""
    sides: dict[str, dict[str, dict[str, int]]] = {}
    for invocation in invocations:
        for service, calls in service_calls(invocation).items():
            for region, counted in calls["byRegion"].items():
                side = sides.setdefault(region, {"reads": {}, "writes": {}})
                for action, n in counted.items():
                    name = action if service == "ec2" else f"{service}:{action}"
                    kind = "reads" if is_service_read(service, action) else "writes"
                    side[kind][name] = side[kind].get(name, 0) + n
    return sides


def set_function_environment(aws: LocalAws, name: str, variables: dict[str, str]) -> None:
    """Replaces the function's environment (the local AWS's runner then starts a new process)."""
    aws.client("lambda").update_function_configuration(FunctionName=name, Environment={"Variables": variables})


def route_counts(output: dict) -> dict[str, dict[str, int]]:
    """Side -> the counts of modify-routes' report (created, present, conflicts, remaining),
    summed over that side's TGW route tables."""
    counts: dict[str, dict[str, int]] = {}
    for table in (output.get("routes") or {}).get("tgwRouteTables", []):
        side = counts.setdefault(table.get("side", "?"), {})
        for key, n in (table.get("counts") or {}).items():
            side[key] = side.get(key, 0) + n
    return counts


def seed_reconcile_routes(
    aws: LocalAws, outputs: dict[str, str], tables: dict[str, str], wanted: dict[str, int]
) -> dict[str, Any]:
    """Runs executions (at most 4) with SEEDING_ENVIRONMENT on modify-routes until each side's
    table holds its wanted routes via the peering; then puts the stack's own environment back.
    Returns the attachment, the routes each side holds, and each run's status and time."""
    name = outputs["ModifyRoutesFunctionName"]
    stack_env = (
        aws.client("lambda").get_function_configuration(FunctionName=name).get("Environment", {}).get("Variables", {})
    )
    set_function_environment(aws, name, {**stack_env, **SEEDING_ENVIRONMENT})
    runs: list[dict[str, Any]] = []
    attachment_id, held = None, {region: 0 for region in tables}
    try:
        while len(runs) < 4 and any(held[region] < n for region, n in wanted.items()):
            log(f"reconcile: seeding run {len(runs) + 1}: routes per Region {wanted} at up to "
                f"{SEEDING_ENVIRONMENT['ROUTE_WRITES_PER_SECOND']} writes/s")
            run = aws.run(outputs["StateMachineArn"], timeout=1800)
            attachment_id = attachment_id or run.output.get("attachmentId")
            if attachment_id is None:
                raise RuntimeError(f"the seeding run gave no attachment: {run.status} {run.error()}")
            held = {r: len(aws.peering_routes(r, tables[r], attachment_id)) for r in tables}
            runs.append({
                "status": run.status,
                "error": run.error(),
                "seconds": run.seconds,
                "modifyRoutesInvocations": len(run.of("modify-routes")),
                "routesHeld": held,
            })
            log(f"reconcile: seeding run {len(runs)}: {run.status} in {run.seconds:.0f} s, "
                f"{len(run.of('modify-routes'))} modify-routes invocation(s), routes held {held} {run.error()[:200]}")
    finally:
        set_function_environment(aws, name, stack_env)
    return {"attachmentId": attachment_id, "routesHeld": held, "runs": runs}


def reconcile_side(run: Run, region: str, sides: dict[str, Any], table_routes: int) -> dict[str, Any]:
    """One Region's figures of the no-op run's modify-routes invocations."""
    mr = run.of("modify-routes")
    side = sides.get(region, {"reads": {}, "writes": {}})
    reads = sum(side["reads"].values())
    return {
        "tableRoutes": table_routes,
        "reads": side["reads"],
        "readCalls": reads,
        "writes": side["writes"],
        "writeCalls": sum(side["writes"].values()),
        "serverMs": server_ms(mr, region),
        "serverMsByAction": server_ms_by_action(mr, region),
        "readsMet": reads <= RECONCILE_READS_TARGET,
    }


def table_size(aws: LocalAws, region: str, table_id: str) -> int:
    """Every route the table holds, static and propagated (SearchTransitGatewayRoutes by state)."""
    ec2, total, token = aws.client("ec2", region), 0, None
    while True:
        page = ec2.search_transit_gateway_routes(
            TransitGatewayRouteTableId=table_id,
            MaxResults=1000,
            Filters=[{"Name": "state", "Values": ["active", "blackhole"]}],
            **({"NextToken": token} if token else {}),
        )
        total += len(page["Routes"])
        token = page.get("NextToken")
        if not token:
            return total


def phase_reconcile(aws: LocalAws, opts: Options) -> dict[str, Any]:
    """Issue 16's reconcile with nothing to do at N routes per table (--reconcile-routes, 10,000).
    Each Region's VPN attachment advertises N ranges, so each side's peering table holds N
    propagated routes and wants the other side's N as static routes via the peering: 2N routes, N
    of them the tool's (the issue's figure). A second account has only the active side advertise:
    each table then holds exactly N routes, all of them the tool's on the passive side."""
    both = reconcile_scenario(aws, opts.reconcile_routes, (ACTIVE, PASSIVE))
    try:
        one_sided: dict[str, Any] = reconcile_scenario(aws, opts.reconcile_routes, (ACTIVE,))
    except Exception as e:  # noqa: BLE001  (report it; the issue's figure above stands)
        traceback.print_exc(file=sys.stderr)
        one_sided = {"failed": f"{type(e).__name__}: {e}"[:2000]}
    return both | {"oneSided": one_sided}


def reconcile_scenario(aws: LocalAws, n: int, advertising: tuple[str, ...]) -> dict[str, Any]:
    """A clean account where each Region in `advertising` has a VPN attachment advertising n
    ranges, the stack deployed with propagatedCidrs (each side's peering table, the gateway's
    default, then wants the other side's ranges as static routes via the peering). Seeding runs
    create them with writes unpaced; then the stack's own settings are back and one execution with
    nothing to do is measured: its modify-routes read calls per Region, any mutating call, billed
    and own time."""
    aws.reset()
    ranges = {ACTIVE: [active_cidr(i) for i in range(n)], PASSIVE: [passive_cidr(i) for i in range(n)]}
    gateways = in_both_regions(lambda region: create_gateway(aws.client("ec2", region)))
    for region in advertising:
        vpn = vpn_attachment(aws.client("ec2", region), gateways[region]["TransitGatewayId"])
        aws.harness("POST", "advertised-routes", {"attachmentId": vpn, "cidrs": ranges[region]})
    tables = {region: gateway["Options"]["AssociationDefaultRouteTableId"] for region, gateway in gateways.items()}
    outputs = aws.deploy(PollIntervalSeconds=1, PropagatedCidrs="true")
    other = {ACTIVE: PASSIVE, PASSIVE: ACTIVE}
    wanted = {region: n if other[region] in advertising else 0 for region in tables}
    log(f"reconcile: {'both sides advertise' if len(advertising) == 2 else 'only the active side advertises'}")
    started = time.monotonic()
    seeded = seed_reconcile_routes(aws, outputs, tables, wanted)
    seed_seconds = time.monotonic() - started
    sizes = {region: table_size(aws, region, tables[region]) for region in tables}
    log(f"reconcile: seeded in {seed_seconds:.0f} s; routes per table {sizes}, the tool's {seeded['routesHeld']}")

    log("reconcile: one execution with nothing to do (the stack's own settings)")
    run = aws.run(outputs["StateMachineArn"], timeout=900)
    result = noop_figures(run, sizes, seeded["routesHeld"]) | {
        "routesPerRegion": n,
        "advertising": ["active" if region == ACTIVE else "passive" for region in advertising],
        "seedSeconds": seed_seconds,
        "seeding": seeded["runs"],
    }
    log(
        f"reconcile: {run.status} in {run.seconds:.1f} s; modify-routes {result['modifyRoutesMs']:.0f} ms "
        f"(billed {result['billedMs']} ms, emulator {result['runServerMs']:.0f} ms), reads "
        + ", ".join(f"{r} {s['readCalls']}" for r, s in result["sides"].items())
        + f", writes {sum(s['writeCalls'] for s in result['sides'].values())} {run.error()[:200]}"
    )
    return result


def noop_figures(run: Run, sizes: dict[str, int], tool_routes: dict[str, int]) -> dict[str, Any]:
    """The measured no-op execution: modify-routes' calls per Region, its times, and the
    execution's writes; `sizes` and `tool_routes` are each table's routes and the tool's."""
    mr = run.of("modify-routes")
    by_side = reads_writes_by_side(mr)
    wall = sum(i["durationMs"] or 0 for i in mr)
    busy = server_busy_ms(mr)
    cpu = [i.get("cpuMs") for i in mr]
    billed = sum(billed_ms(i["durationMs"]) for i in mr if i.get("durationMs") is not None)
    all_writes = {a: c for a, c in run.calls["total"].items() if is_mutating(a)}
    return {
        "status": run.status,
        "error": run.error(),
        "executionSeconds": run.seconds,
        "states": run.entered(),
        "modifyRoutesInvocations": len(mr),
        "modifyRoutesErrors": [i["errorType"] for i in mr if i["errorType"]],
        "coldStart": any(i.get("coldStart") for i in mr),
        "modifyRoutesMs": wall,
        "billedMs": billed,
        "runServerMs": busy,
        "ownMs": wall - busy,
        "ownBilledMs": billed_ms(max(0.0, wall - busy)),
        "cpuMs": sum(cpu) if cpu and None not in cpu else None,
        "peakRssKiB": max((i["peakRssKiB"] or 0 for i in mr), default=None),
        "loadAverage": round(os.getloadavg()[0], 2),
        # Every mutating EC2 call of the execution, whichever function made it.
        "executionWrites": all_writes,
        "counts": route_counts(run.output),
        "billedMet": billed <= RECONCILE_BILLED_TARGET_MS,
        "readsTarget": RECONCILE_READS_TARGET,
        "billedTargetMs": RECONCILE_BILLED_TARGET_MS,
        "sides": {
            region: reconcile_side(run, region, by_side, sizes[region]) | {"toolRoutes": tool_routes[region]}
            for region in (ACTIVE, PASSIVE)
        },
    }


# --- main -------------------------------------------------------------------------------------------


# Issue 17's mesh: four Regions, six pairs.
MESH_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")


def state_seconds(run: Run, name: str) -> float | None:
    """From entering the state `name` to leaving it (its last run)."""
    entered = exited = None
    for event in run.events:
        if (event.get("stateEnteredEventDetails") or {}).get("name") == name:
            entered = event["timestamp"]
        if (event.get("stateExitedEventDetails") or {}).get("name") == name:
            exited = event["timestamp"]
    return (exited - entered).total_seconds() if entered and exited else None


def mesh_figures(aws: LocalAws, run: Run, provisioning_seconds: float) -> dict[str, Any]:
    """One mesh execution: its time (less the provisioning held) and where it went (the check,
    each pair's own execution, the rest), the billed and CPU time of every function invocation
    (the pairs' executions' included), and EC2 calls per Region. The pairs run at once, so an
    invocation's own call counts include the other pairs' calls: the Region's counts come from
    the harness's totals over the run instead."""
    sfn = aws.client("stepfunctions")
    pair_seconds = []
    for row in run.output.get("pairs") or []:
        with contextlib.suppress(Exception):
            child = sfn.describe_execution(executionArn=row["executionArn"])
            pair_seconds.append((child["stopDate"] - child["startDate"]).total_seconds())
    by_region = {
        region: {
            "reads": sum(n for a, n in actions.items() if not is_mutating(a)),
            "writes": sum(n for a, n in actions.items() if is_mutating(a)),
            "writesByAction": {a: n for a, n in sorted(actions.items()) if is_mutating(a) and n},
        }
        for region, actions in sorted((run.calls.get("byRegion") or {}).items())
    }
    cpu = [i["cpuMs"] for i in run.invocations if i.get("cpuMs") is not None]
    output = run.output
    return {
        "planSeconds": state_seconds(run, "PlanMesh"),
        "pairsSeconds": state_seconds(run, "MeshPairs"),
        "pairSeconds": sorted(pair_seconds),
        "cpuMs": round(sum(cpu), 1) if cpu else None,
        "status": run.status,
        "error": run.error(),
        "seconds": run.seconds,
        "overSeconds": run.seconds - provisioning_seconds,
        "peeringDescribes": run.peering_describes,
        "summary": (output.get("summary") or {}).get("text"),
        "pairs": len(output.get("pairs") or []),
        "functions": function_summary(run.invocations),
        "totalBilledMs": sum(
            billed_ms(i["durationMs"]) for i in run.invocations if i.get("durationMs") is not None
        ),
        "calls": by_region,
    }


def phase_mesh(aws: LocalAws, opts: Options) -> dict[str, Any]:
    """Issue 17: a 4-Region mesh in one execution, with provisioning held T seconds, then a re-run
    with nothing to do. The stack's settings are the small phase's end-to-end run's, so the billed
    time compares with that two-Region figure."""
    log(f"mesh: {len(MESH_REGIONS)} Regions, provisioning takes {opts.provisioning_seconds:g} s, "
        f"PollIntervalSeconds={opts.poll_seconds}")
    aws.reset()
    for index, region in enumerate(MESH_REGIONS):
        with contextlib.redirect_stdout(sys.stderr):
            seed_demo.seed_region(aws.client("ec2", region), region, seed_demo.mesh_layout(index), TAG_KEY)
    outputs = aws.deploy(PollIntervalSeconds=opts.poll_seconds, MeshRegions=",".join(MESH_REGIONS))
    aws.harness("POST", "peering", {"pendingSeconds": opts.provisioning_seconds})
    timeout = opts.provisioning_seconds + 30 * opts.poll_seconds + 300
    first = aws.run(outputs["StateMachineArn"], timeout=timeout, execution_input={"mesh": []})
    rerun = aws.run(outputs["StateMachineArn"], timeout=timeout, execution_input={"mesh": []})
    return {
        "regions": list(MESH_REGIONS),
        "provisioningSeconds": opts.provisioning_seconds,
        "pollSeconds": opts.poll_seconds,
        "run": mesh_figures(aws, first, opts.provisioning_seconds),
        "rerun": mesh_figures(aws, rerun, 0.0),
    }


def guarded(name: str, results: dict[str, Any], work: Callable[[], Any]) -> Any:
    """Runs one phase; a failure is recorded as the reason its figures are missing."""
    started = time.monotonic()
    try:
        value = work()
        results[name] = value
        return value
    except Exception as e:  # noqa: BLE001  (any failure: report it, measure the rest)
        traceback.print_exc(file=sys.stderr)
        results.setdefault("failures", {})[name] = f"{type(e).__name__}: {e}"[:2000]
        return None
    finally:
        results.setdefault("phaseSeconds", {})[name] = time.monotonic() - started


def _terminate(signum: int, _frame: Any) -> None:
    # Turn SIGTERM into an exception, so that the `with` blocks stop the local AWS.
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bin-dir", type=Path, required=True, help="the function binaries to run")
    parser.add_argument(
        "--untuned-bin-dir",
        type=Path,
        help="the binaries of [profile.untuned], for the profiles phase (compared with --bin-dir)",
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write the results (JSON)")
    parser.add_argument("--phases", default="small,cold,scale,throttle,prune,reconcile,mesh")
    parser.add_argument("--pending-polls", type=int, default=3)
    parser.add_argument(
        "--provisioning-seconds", type=float, default=20, help="T: the peering is pending T s after the accept"
    )
    parser.add_argument("--poll-seconds", type=int, default=5)
    parser.add_argument("--cold-starts", type=int, default=15)
    parser.add_argument("--warm-invocations", type=int, default=30)
    parser.add_argument("--vpcs", default="100,300,1000", help="tagged VPCs per Region, ascending")
    parser.add_argument("--routes", type=int, default=1000, help="routes per Region to create throttled")
    parser.add_argument("--time-scale", type=float, default=1.0, help="the token bucket's timeScale")
    parser.add_argument(
        "--reconcile-routes", type=int, default=10_000, help="ranges each Region advertises (reconcile phase)"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)

    opts = Options(
        args.pending_polls,
        args.provisioning_seconds,
        args.poll_seconds,
        args.cold_starts,
        args.warm_invocations,
        sorted(int(v) for v in args.vpcs.split(",")),
        args.routes,
        args.time_scale,
        args.reconcile_routes,
    )
    phases = set(args.phases.split(","))
    results: dict[str, Any] = {
        "options": vars(args) | {"bin_dir": str(args.bin_dir), "out": str(args.out)},
        "startedAt": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    unknown = phases - {"small", "cold", "scale", "throttle", "prune", "reconcile", "mesh", "profiles"}
    if unknown:
        print(f"bench.py: unknown phases {sorted(unknown)}", file=sys.stderr)
        return 2
    if "profiles" in phases and args.untuned_bin_dir is None:
        print("bench.py: the profiles phase needs --untuned-bin-dir", file=sys.stderr)
        return 2
    for bin_dir in filter(None, (args.bin_dir, args.untuned_bin_dir if "profiles" in phases else None)):
        missing = [f for f in FUNCTIONS if not (bin_dir / f).is_file()]
        if missing:
            print(f"bench.py: {missing} missing in {bin_dir}", file=sys.stderr)
            return 1
    log_dir = Path(tempfile.mkdtemp(prefix="tgw-peering-bench-"))
    results["functionLogs"] = str(log_dir)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    started = time.monotonic()
    try:
        if phases & {"small", "cold", "scale", "throttle", "prune", "reconcile", "mesh"}:
            log("starting the local AWS (moto + Step Functions + cargo lambda watch)")
            with running_server(
                "--stepfunctions",
                "--lambda-bin-dir",
                str(args.bin_dir.resolve()),
                "--lambda-log-dir",
                str(log_dir),
                cwd=ROOT,
            ) as url:
                aws = LocalAws(url, code_dir_for(args.bin_dir, log_dir))
                small = None
                if phases & {"small", "cold"}:
                    small = guarded("small", results, lambda: phase_small(aws, opts))
                if "cold" in phases and small:
                    guarded("cold", results, lambda: phase_cold(aws, opts, small["outputs"], small["peering"]))
                    guarded("floor", results, lambda: phase_floor(opts))
                if phases & {"scale", "throttle"}:
                    scale = guarded("scale", results, lambda: phase_scale(aws, opts))
                    if "throttle" in phases and scale:
                        guarded("throttle", results, lambda: phase_throttle(aws, opts, scale))
                if "prune" in phases:
                    guarded("prune", results, lambda: phase_prune(aws, opts))
                if "reconcile" in phases:
                    guarded("reconcile", results, lambda: phase_reconcile(aws, opts))
                if "mesh" in phases:
                    guarded("mesh", results, lambda: phase_mesh(aws, opts))
        if "profiles" in phases:
            bin_dirs = {"release": args.bin_dir, "untuned": args.untuned_bin_dir}
            guarded("profiles", results, lambda: phase_profiles(opts, bin_dirs, log_dir))
    except KeyboardInterrupt as e:
        results.setdefault("failures", {})["interrupted"] = str(e) or "interrupted"
        raise
    finally:
        results["benchSeconds"] = time.monotonic() - started
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for phase in ("small",):
            if isinstance(results.get(phase), dict):
                results[phase].pop("outputs", None)
        if isinstance(results.get("scale"), dict):
            results["scale"].pop("outputs", None)
        args.out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
