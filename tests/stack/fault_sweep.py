"""The fault sweep: every call of a run can fail. For a scenario, one clean run records the
sequence of AWS calls the run makes (the functions' and the state machine's own, see
tests/emulator/call_sequence.py); then, for each chosen call and fault kind, the same network is
built again, the fault is armed for that call, the execution runs (its Retry and Catch do what
they do), one more execution follows as the schedule would start it, and the invariants are
checked:

- a run that ends SUCCEEDED leaves the network as the clean run leaves it (routes, associations,
  propagations, the propagation record's tags, VPC routes, live peering attachments);
- nothing the tool did not create is changed (the foreign routes seeded beside the network);
- at most one live peering attachment per gateway pair;
- every route the tool made is in its record, and the record names nothing that is not there;
- the lock is free; no execution is left running.

Each injection ends `converged` (the second execution SUCCEEDED and every invariant holds),
`failedLoudly` (an execution that did not succeed, named its error, and left nothing wrong), or
`wrong` (an invariant broken: a SUCCEEDED run with the network wrong, a foreign change, a leaked
record, a held lock...). `notReached` counts faults whose call the faulted run never made.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import network_snapshot
from network_snapshot import GONE, Side, Snapshot
from stack_support import LocalAws, harness

KINDS = ("retryable", "nonRetryable", "crash", "answerLost")
FOREIGN_CIDR = "192.168.240.0/24"  # a static route someone else made, in every gateway's tables
NETWORK_SEED = 7


@dataclass(frozen=True)
class Scenario:
    """One run under test. `seed` builds the network; `before` does, unfaulted, what comes
    before the run (an earlier execution, an untagged VPC); `request` is the run's input; `sides`
    are the account-Regions it touches."""

    name: str
    seed: Callable[[LocalAws], None]
    request: Callable[[LocalAws], dict]
    sides: Callable[[LocalAws], list[Side]]
    before: Callable[[LocalAws, dict], None] = lambda aws, request: None
    # Faults injected on every run, sampled or not, that must converge: (kind, service, action,
    # Region) at the first matching call. The ones the sweep once found wrong.
    always: tuple[tuple[str, str, str, str], ...] = ()


@dataclass
class Injection:
    scenario: str
    kind: str
    call: dict[str, Any]  # the clean run's call the fault was aimed at
    occurrence: int
    fired: dict[str, Any] | None = None
    first: str = ""  # the faulted execution's status (and error)
    second: str = ""  # the follow-up execution's ("" when none was needed)
    verdict: str = ""
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        call = self.call
        where = f"#{call['seq']} {call['caller']} {call['service']}:{call['action']} {call['region']}"
        text = f"{self.scenario:<14} {self.kind:<12} {where:<70} {self.verdict:<12} {self.first} -> {self.second}"
        return text + (f"  PROBLEMS: {'; '.join(self.problems)}" if self.problems else "")


@dataclass
class Clean:
    calls: list[dict[str, Any]]
    before: Snapshot
    after: Snapshot


class Sweep:
    def __init__(self, aws: LocalAws, scenario: Scenario, state_table: str) -> None:
        self.aws = aws
        self.scenario = scenario
        self.state_table = state_table

    # --- set-up ----------------------------------------------------------------------------

    def prepare(self) -> dict:
        """The same network, from scratch; returns the run's request."""
        # The table first: every call moto answers draws from the generator the seed resets.
        self._clear_state_table()
        harness(self.aws.endpoint, "POST", "network/reset", {"seed": NETWORK_SEED})
        self.scenario.seed(self.aws)
        for side in self.scenario.sides(self.aws):
            _add_foreign_route(side)
        request = self.scenario.request(self.aws)
        self.scenario.before(self.aws, request)
        harness(self.aws.endpoint, "POST", "sequence/reset")
        harness(self.aws.endpoint, "POST", "calls/reset")
        return request

    def _clear_state_table(self) -> None:
        dynamodb = self.aws.client("dynamodb")
        for page in dynamodb.get_paginator("scan").paginate(TableName=self.state_table):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=self.state_table, Key={"pk": item["pk"], "sk": item["sk"]})

    def snapshot(self) -> Snapshot:
        return network_snapshot.take(self.scenario.sides(self.aws),
                                     (lambda: self.aws.client("dynamodb"), self.state_table))

    # --- runs ------------------------------------------------------------------------------

    def clean(self) -> Clean:
        """The clean run. The network is built
        twice first: a service's first use on the server draws ids for its own set-up, so only
        from the second build on does the same seed give the same ids."""
        self.prepare()
        request = self.prepare()
        before = self.snapshot()
        first = self.aws.run(request)
        assert first.status == "SUCCEEDED", f"{self.scenario.name}: the clean run failed: {first.described}"
        calls = harness(self.aws.endpoint, "GET", "sequence")["calls"]
        after = self.snapshot()
        return Clean(calls, before, after)

    def inject(self, clean: Clean, call: dict[str, Any], kind: str) -> Injection:
        started = time.monotonic()
        injection = Injection(self.scenario.name, kind, call, occurrence(clean.calls, call))
        request = self.prepare()
        before = self.snapshot()
        if before.network() != clean.before.network():
            injection.verdict = "wrong"
            injection.problems = ["the network was not rebuilt the same: " + _difference(clean.before, before)]
            return injection
        harness(self.aws.endpoint, "POST", "sequence/fault", {
            "kind": kind, "occurrence": injection.occurrence, "service": call["service"],
            "action": call["action"], "region": call["region"]})
        first = self.aws.run(request)
        injection.fired = harness(self.aws.endpoint, "GET", "sequence")["fired"]
        injection.first = _status(first)
        harness(self.aws.endpoint, "DELETE", "faults")
        # After a failed run the record may still name what its intent listed; the invariants are
        # for a run that SUCCEEDED, and for the follow-up.
        # A run whose lock release failed says so (`lockReleaseError`) and still SUCCEEDS: the
        # lock it leaves is taken over by the next run once it sees its holder has ended. So a
        # lock left held is judged after the follow-up run, which must free it.
        after_first = self.snapshot()
        lock_left = bool(after_first.lock_holders)
        after_first.lock_holders = []
        problems = (self._invariants(clean, before, after_first, True, "faulted")
                    if first.status == "SUCCEEDED" else [])
        if first.status != "SUCCEEDED" or problems or lock_left:
            # One more execution, as the schedule would start it; a run that SUCCEEDED with every
            # invariant holding needs none (the clean run showed a re-run changes nothing).
            second = self.aws.run(request)
            injection.second = _status(second)
            after = self.snapshot()
            problems += self._invariants(clean, before, after, second.status == "SUCCEEDED", "follow-up")
            succeeded = second.status == "SUCCEEDED"
        else:
            succeeded = True
        injection.problems = problems
        injection.verdict = ("wrong" if problems
                             else "notReached" if injection.fired is None
                             else "converged" if succeeded else "failedLoudly")
        injection.seconds = round(time.monotonic() - started, 1)
        return injection

    def _invariants(self, clean: Clean, before: Snapshot, after: Snapshot, succeeded: bool, run: str) -> list[str]:
        problems = []
        if succeeded and after.network() != clean.after.network():
            problems.append(f"the {run} run SUCCEEDED with the network wrong: " + _difference(clean.after, after))
        foreign = (before.entries() & clean.after.entries()) - after.entries()
        if foreign:
            problems.append(f"the {run} run changed what the tool did not create: {sorted(foreign)[:3]}")
        problems += _one_live_peering_per_pair(after)
        problems += [f"after the {run} run {p}" for p in record_problems(before, after)]
        if succeeded and after.record != clean.after.record:
            problems.append(f"after the {run} run the record differs from the clean run's: {sorted(after.record ^ clean.after.record)[:3]}")
        if after.lock_holders:
            problems.append(f"after the {run} run a lock is still held: {after.lock_holders}")
        running = self._running_executions()
        if running:
            problems.append(f"{running} executions still running")
        return problems

    def _running_executions(self) -> int:
        sfn = self.aws.client("stepfunctions")
        arn = self.aws.outputs()["StateMachineArn"]
        return len(sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"])


def occurrence(calls: list[dict[str, Any]], call: dict[str, Any]) -> int:
    """Which matching call `call` is: the n-th with its service, action and Region."""
    return sum(1 for c in calls[: call["seq"]]
               if (c["service"], c["action"], c["region"]) == (call["service"], call["action"], call["region"]))


def applicable(call: dict[str, Any]) -> list[str]:
    """The kinds a call can meet: the state machine is AWS's own service and does not crash."""
    return [k for k in KINDS if k != "crash" or call["caller"] == "function"]


def choose(calls: list[dict[str, Any]], everything: bool, rng: random.Random, writes: int = 1,
           extra: int = 0, always: tuple[tuple[str, str, str, str], ...] = ()) -> list[tuple[dict, str]]:
    """Every call with every kind it can meet; or the sample CI runs (within its time): the
    faults `always` names, the first and the last call and `writes` write calls drawn by `rng`,
    each with one kind (the kinds dealt in turn from a shuffled deck, so that every kind is met),
    and `extra` other calls drawn by `rng`, each with a kind drawn by `rng`."""
    if everything:
        return [(c, k) for c in calls for k in applicable(c)]
    chosen = [(always_call(calls, target), kind) for kind, *target in always]
    ends = [calls[0], calls[-1]] if len(calls) > 1 else calls[:1]
    taken = [c for c, _ in chosen]
    all_writes = [c for c in calls if c["write"] and c not in ends and c not in taken]
    drawn = rng.sample(all_writes, min(writes, len(all_writes)))
    deck: list[str] = []
    for call in sorted(ends + drawn, key=lambda c: c["seq"]):
        kinds = applicable(call)
        if not any(k in kinds for k in deck):
            deck = rng.sample(KINDS, len(KINDS))
        kind = next(k for k in deck if k in kinds)
        deck.remove(kind)
        chosen.append((call, kind))
    rest = [c for c in calls if c not in ends + drawn + taken]
    for call in rng.sample(rest, min(extra, len(rest))):
        chosen.append((call, rng.choice(applicable(call))))
    return chosen


def always_call(calls: list[dict[str, Any]], target: list[str]) -> dict[str, Any]:
    """The first call of the clean run to `target` (service, action, Region)."""
    found = [c for c in calls if [c["service"], c["action"], c["region"]] == list(target)]
    assert found, f"the clean run made no {target} call"
    return found[0]


def record_problems(before: Snapshot, after: Snapshot) -> list[str]:
    """Every route the tool made is in its record, and the record names nothing that is not there.
    The tool's routes: static routes to a live peering attachment, and VPC routes to a transit
    gateway that were not there before the run."""
    routes = {(table, cidr) for (_, table, cidr, target, _) in after.tgw_routes if target.startswith("peering-")}
    routes |= {(table, cidr) for (_, table, cidr, target) in after.vpc_routes - before.vpc_routes
               if target.startswith("tgw-")}
    present_tgw = {(table, cidr) for (_, table, cidr, _, _) in after.tgw_routes}
    present_vpc = {(table, cidr) for (_, table, cidr, _) in after.vpc_routes}
    recorded = {(table, cidr) for (_, _, table, cidrs) in after.record for cidr in cidrs.split()}
    problems = []
    missing = sorted(recorded - present_tgw - present_vpc)
    if missing:
        problems.append(f"the record names routes that are not there: {missing[:3]}")
    unrecorded = sorted(routes - recorded)
    if unrecorded:
        problems.append(f"routes the tool made are not in its record: {unrecorded[:3]}")
    return problems


def _one_live_peering_per_pair(after: Snapshot) -> list[str]:
    live: dict[frozenset, set[str]] = {}
    for label, _, requester, accepter, state in after.peerings:
        if state not in GONE:
            live.setdefault(frozenset((requester, accepter)), set()).add(label)
    return [f"{len(labels)} live peering attachments between {sorted(pair)}" for pair, labels in live.items()
            if len(labels) > 1]


def _status(execution: Any) -> str:
    if execution.status == "SUCCEEDED":
        return "SUCCEEDED"
    return f"{execution.status}({execution.described.get('error', '')})"


def _difference(want: Snapshot, got: Snapshot) -> str:
    a, b = {**want.network(), "record": sorted(want.record)}, {**got.network(), "record": sorted(got.record)}
    parts = []
    for key in a:
        missing, extra = set(map(tuple, a[key])) - set(map(tuple, b[key])), set(map(tuple, b[key])) - set(map(tuple, a[key]))
        if missing or extra:
            parts.append(f"{key}: missing {sorted(missing)[:2]} extra {sorted(extra)[:2]}")
    return "; ".join(parts)


def _add_foreign_route(side: Side) -> None:
    """A static route someone else made, to one of the gateway's VPC attachments, in each of the
    side's transit gateway route tables: the tool must never touch it."""
    ec2 = side.client("ec2", side.region)
    attachments = [a for a in ec2.describe_transit_gateway_vpc_attachments()["TransitGatewayVpcAttachments"]
                   if a["State"] == "available"]
    for table in ec2.describe_transit_gateway_route_tables()["TransitGatewayRouteTables"]:
        mine = [a for a in attachments if a["TransitGatewayId"] == table["TransitGatewayId"]]
        if mine:
            ec2.create_transit_gateway_route(
                DestinationCidrBlock=FOREIGN_CIDR, TransitGatewayRouteTableId=table["TransitGatewayRouteTableId"],
                TransitGatewayAttachmentId=mine[0]["TransitGatewayAttachmentId"])


def summarise(injections: list[Injection]) -> list[dict[str, Any]]:
    """Per scenario and kind: faults injected, converged, failed loudly, wrong, not reached."""
    rows = []
    key = lambda i: (i.scenario, i.kind)  # noqa: E731
    for (scenario, kind), group in itertools.groupby(sorted(injections, key=key), key=key):
        verdicts = Counter(i.verdict for i in group)
        rows.append({"scenario": scenario, "fault": kind, "injected": sum(verdicts.values()),
                     "converged": verdicts["converged"], "failedLoudly": verdicts["failedLoudly"],
                     "wrong": verdicts["wrong"], "notReached": verdicts["notReached"]})
    return rows
