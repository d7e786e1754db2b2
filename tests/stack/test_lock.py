"""One writer per gateway pair: the lock item in the stack's DynamoDB table, taken and released by
the state machine itself (the DynamoDB and AWS SDK integrations), on the local AWS with the real
template, definition and function binaries.

The local Lambda runs one invoke of a binary at a time, so two modify-routes calls never overlap
here whatever the lock does; what the lock adds, and what these tests check, is that one
execution's whole write phase (every ModifyRoutes / RemoveRoutes pass and the waits between them)
never interleaves with another's: the intervals come from each execution's own history.
"""

from __future__ import annotations

import json
import time
from datetime import datetime

from stack_support import ACTIVE, FINISHED, PASSIVE, LocalAws, harness, record, side_table
from test_stack import ROUTED_TO_ACTIVE, ROUTED_TO_PASSIVE, TAG_CHANGE_EVENT

WRITERS = {"ModifyRoutes", "RemoveRoutes", "DeletePeering"}
LOCK_STATES = {"LockKey", "ReadLock", "AcquireLock", "ReleaseLock", "ReleaseLockAfterFailure",
               "TakeOverLock", "WaitForLock", "CheckHolder", "Coalesced"}


# --- helpers ---------------------------------------------------------------------------------


def lock_key(local_aws: LocalAws) -> str:
    """The pair's key, as the state machine builds it: both ends, in string order."""
    ends = []
    for region in (ACTIVE, PASSIVE):
        (tgw,) = local_aws.client("ec2", region).describe_transit_gateways()["TransitGateways"]
        ends.append(f"{region}:{tgw['TransitGatewayId']}")
    return "pair|" + "|".join(sorted(ends))


def lock_item(local_aws: LocalAws) -> dict:
    table = local_aws.outputs()["StateTableName"]
    found = local_aws.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": lock_key(local_aws)}, "sk": {"S": "lock"}}, ConsistentRead=True)
    return {k: next(iter(v.values())) for k, v in found.get("Item", {}).items()}


def put_lock(local_aws: LocalAws, **attributes: str) -> None:
    table = local_aws.outputs()["StateTableName"]
    item = {"pk": {"S": lock_key(local_aws)}, "sk": {"S": "lock"}}
    item.update({k: {"S": v} for k, v in attributes.items()})
    local_aws.client("dynamodb").put_item(TableName=table, Item=item)


def write_window(execution) -> tuple[datetime, datetime] | None:
    """From entering the first state that writes route tables to leaving the last one; None for
    an execution that wrote nothing."""
    times = [e["timestamp"] for e in execution.events
             if (e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] in WRITERS)
             or (e["type"].endswith("StateExited") and e["stateExitedEventDetails"]["name"] in WRITERS)]
    return (min(times), max(times)) if times else None


def lock_window(execution) -> tuple[datetime, datetime] | None:
    """From the lock being taken (entering Write after AcquireLock or TakeOverLock) to entering
    the state that releases it."""
    start = [e["timestamp"] for e in execution.events if e["type"].endswith("StateEntered")
             and e["stateEnteredEventDetails"]["name"] == "Write"]
    end = [e["timestamp"] for e in execution.events if e["type"].endswith("StateEntered")
           and e["stateEnteredEventDetails"]["name"] in ("ReleaseLock", "ReleaseLockAfterFailure")]
    return (start[0], end[-1]) if start and end else None


def most_at_once(windows: list[tuple[datetime, datetime]]) -> int:
    """The largest number of windows open at one moment."""
    edges = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def wait_for(predicate, seconds: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.05)


def slow_route_writes(local_aws: LocalAws, delay_ms: int, times: int) -> None:
    """Latency only: every CreateTransitGatewayRoute waits, then succeeds."""
    harness(local_aws.endpoint, "POST", "faults",
            {"action": "CreateTransitGatewayRoute", "delayMs": delay_ms, "times": times})


def add_untagged_vpcs(local_aws: LocalAws, region: str, count: int, second_octet: int) -> list[tuple[str, str]]:
    """VPCs attached to the region's transit gateway, not tagged yet: (vpc id, CIDR)."""
    ec2 = local_aws.client("ec2", region)
    (tgw,) = ec2.describe_transit_gateways()["TransitGateways"]
    made = []
    for index in range(count):
        cidr = f"10.{second_octet + index}.0.0/16"
        vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        ec2.create_transit_gateway_vpc_attachment(TransitGatewayId=tgw["TransitGatewayId"], VpcId=vpc,
                                                  SubnetIds=[subnet])
        made.append((vpc, cidr))
    return made


# --- two at once -------------------------------------------------------------------------------


def test_two_executions_started_together_never_write_at_once_and_both_succeed(local_aws):
    local_aws.deploy()
    first_arn, second_arn = local_aws.start({}), local_aws.start({})

    first, second = local_aws.wait(first_arn), local_aws.wait(second_arn)

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), (first.described, second.described)
    wrote = [run for run in (first, second) if write_window(run)]
    assert wrote, "neither execution wrote"
    assert most_at_once([write_window(run) for run in wrote]) == 1
    for run in (first, second):
        if not write_window(run):
            # The other run read the network after this one started: its output says so.
            lock = run.output["lock"]
            assert lock["outcome"] == "coalesced" and lock["ranModifyRoutes"] is False
            assert lock["coalescedInto"] in (first_arn, second_arn) and lock["coalescedInto"] != run.described["executionArn"]
            assert lock["reconciledFrom"] > lock["startedAt"]
            assert "routes" not in run.output
    assert "holder" not in lock_item(local_aws)
    assert local_aws.static_routes(PASSIVE).keys() == ROUTED_TO_PASSIVE
    assert local_aws.static_routes(ACTIVE).keys() == ROUTED_TO_ACTIVE


def test_an_execution_that_starts_while_another_writes_waits_then_runs_after_it(local_aws):
    local_aws.deploy()
    local_aws.run({})  # the peering; the routes are present from now on
    for cidr_vpc in add_untagged_vpcs(local_aws, ACTIVE, 2, 101):
        local_aws.client("ec2").create_tags(Resources=[cidr_vpc[0]], Tags=[{"Key": "addToTransitGateway", "Value": "true"}])
    slow_route_writes(local_aws, 1500, 2)
    holder_arn = local_aws.start({})
    wait_for(lambda: lock_item(local_aws).get("holder") == holder_arn, what="the first execution taking the lock")

    waiter_arn = local_aws.start({})  # started after the holder began reading: it cannot coalesce
    holder, waiter = local_aws.wait(holder_arn), local_aws.wait(waiter_arn)

    assert (holder.status, waiter.status) == ("SUCCEEDED", "SUCCEEDED"), (holder.described, waiter.described)
    assert waiter.entered("WaitForLock"), waiter.entered()
    assert write_window(holder)[1] < write_window(waiter)[0]
    assert lock_window(holder)[1] <= lock_window(waiter)[0]
    assert set(side_table(holder.output["routes"], "passive")["created"]) == {"10.101.0.0/16", "10.102.0.0/16"}
    assert set(side_table(waiter.output["routes"], "passive")["present"]) == (
        ROUTED_TO_PASSIVE | {"10.101.0.0/16", "10.102.0.0/16"})
    item = lock_item(local_aws)
    assert "holder" not in item and item["reconciledBy"] == waiter_arn


# --- a teardown waiting for the deletion ------------------------------------------------------------

DELETING_SECONDS = 20


def entered_so_far(local_aws: LocalAws, arn: str) -> list[str]:
    """The states a running execution has entered so far."""
    events = local_aws.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def test_a_teardown_waits_for_the_deletion_without_the_lock_and_another_execution_is_not_held_up(local_aws):
    # Given a peering whose deletion takes DELETING_SECONDS, and a teardown that has removed the
    # routes, requested the delete and is waiting for the deletion
    local_aws.deploy()
    local_aws.peering_progression(deletingSeconds=DELETING_SECONDS)
    before = {region: local_aws.static_routes(region) for region in (ACTIVE, PASSIVE)}
    setup = local_aws.run({})
    assert setup.status == "SUCCEEDED", setup.described
    first_arn = local_aws.start({"action": "teardown"})
    wait_for(lambda: "WaitDeleted" in entered_so_far(local_aws, first_arn), seconds=60,
             what="the teardown waiting for the deletion")

    # Then the pair's lock is free while it waits
    assert "holder" not in lock_item(local_aws), lock_item(local_aws)

    # When a second teardown for the same pair runs meanwhile
    second = local_aws.run({"action": "teardown"})

    # Then it neither waits for the lock nor is coalesced: it finds the peering deleting (not
    # live), has nothing left to remove, and ends while the first still waits
    assert second.status == "SUCCEEDED", second.described
    assert not second.entered("WaitForLock") and not second.entered("Coalesced"), second.entered()
    assert second.output["phase"] == "gone" and second.output["peeringDeleted"] is False
    assert local_aws.client("stepfunctions").describe_execution(executionArn=first_arn)["status"] == "RUNNING"
    first = local_aws.wait(first_arn)
    assert first.status == "SUCCEEDED", first.described
    assert first.output["peeringDeleted"] is True and first.output["status"] == "deleted"
    # The lock was released once, before the wait, and nothing released it again after.
    states = first.entered()
    assert states.count("ReleaseLock") == 1 and not first.entered("ReleaseLockAfterFailure")
    assert states.index("ReleaseLock") < states.index("WaitDeleted")
    assert lock_window(first)[1] < write_window(second)[0]
    assert "holder" not in lock_item(local_aws)
    assert {region: local_aws.static_routes(region) for region in (ACTIVE, PASSIVE)} == before


# --- a holder that ended, and one that runs too long ----------------------------------------------


def test_a_lock_left_by_an_aborted_execution_is_taken_over(local_aws):
    local_aws.deploy()
    local_aws.run({})
    slow_route_writes(local_aws, 3000, 1)
    for vpc, _ in add_untagged_vpcs(local_aws, ACTIVE, 1, 111):
        local_aws.client("ec2").create_tags(Resources=[vpc], Tags=[{"Key": "addToTransitGateway", "Value": "true"}])
    aborted_arn = local_aws.start({})
    wait_for(lambda: lock_item(local_aws).get("holder") == aborted_arn, what="the execution taking the lock")
    local_aws.client("stepfunctions").stop_execution(executionArn=aborted_arn, error="Operator", cause="stopped")
    aborted = local_aws.wait(aborted_arn)
    assert aborted.status == "ABORTED"
    assert lock_item(local_aws)["holder"] == aborted_arn  # an aborted execution runs no Catch

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    assert "TakeOverLock" in run.entered() and not run.entered("WaitForLock")
    item = lock_item(local_aws)
    assert "holder" not in item
    assert item["tookOverFrom"] == aborted_arn and item["reconciledBy"] == run.described["executionArn"]
    assert "10.111.0.0/16" in local_aws.static_routes(PASSIVE)


def test_a_lock_held_by_a_live_execution_past_the_bound_fails_with_lock_timed_out_and_is_left_alone(local_aws):
    local_aws.deploy("LockMaxWaits=2")
    local_aws.run({})
    # A live holder: any running execution will do for the lock (IAM is not enforced here; on AWS
    # the holder is always one of this state machine's executions). This one sleeps.
    sfn = local_aws.client("stepfunctions")
    role = local_aws.client("iam").create_role(RoleName="sleeper", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sleeper = sfn.create_state_machine(name="sleeper", roleArn=role, definition=json.dumps(
        {"StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 60, "End": True}}}))
    holder_arn = sfn.start_execution(stateMachineArn=sleeper["stateMachineArn"])["executionArn"]
    put_lock(local_aws, holder=holder_arn, acquiredAt="2026-12-03T10:00:00.000Z")
    harness(local_aws.endpoint, "POST", "calls/reset")

    run = local_aws.run({})

    assert run.status == "FAILED"
    assert run.described["error"] == "LockTimedOut", run.described
    cause = run.described["cause"]
    assert holder_arn in cause and lock_key(local_aws) in cause and "2 times" in cause and "LockMaxWaits" in cause
    assert len(run.entered("WaitForLock")) == 2
    assert not WRITERS & set(run.entered())
    assert not {"ReleaseLock", "ReleaseLockAfterFailure", "TakeOverLock"} & set(run.entered())
    assert lock_item(local_aws)["holder"] == holder_arn
    assert local_aws.mutating_calls() == {}
    sfn.stop_execution(executionArn=holder_arn)


# --- failures release the lock ----------------------------------------------------------------------


def test_a_failure_inside_modify_routes_releases_the_lock_and_fails_with_the_original_error(local_aws):
    local_aws.deploy()
    local_aws.run({})
    for vpc, _ in add_untagged_vpcs(local_aws, ACTIVE, 1, 121):
        local_aws.client("ec2").create_tags(Resources=[vpc], Tags=[{"Key": "addToTransitGateway", "Value": "true"}])
    harness(local_aws.endpoint, "POST", "faults", {"action": "CreateTransitGatewayRoute", "code": "UnauthorizedOperation",
                                                   "message": "not allowed", "times": 100})

    failed = local_aws.run({})

    assert failed.status == "FAILED"
    assert failed.described["error"] == "AccessDenied", failed.described
    assert "CreateTransitGatewayRoute" in failed.described["cause"]
    assert failed.entered()[-3:] == ["UnlockAfterFailure", "ReleaseLockAfterFailure", "TaskFailed"]
    item = lock_item(local_aws)
    assert "holder" not in item and item["reconciledBy"] != failed.described["executionArn"]

    harness(local_aws.endpoint, "DELETE", "faults")
    again = local_aws.run({})
    assert again.status == "SUCCEEDED", again.described
    assert not again.entered("WaitForLock") and not again.entered("TakeOverLock")
    assert "10.121.0.0/16" in local_aws.static_routes(PASSIVE)


def test_a_dry_run_takes_no_lock(local_aws):
    local_aws.deploy()
    put_lock(local_aws, holder="arn:aws:states:us-east-1:123456789012:execution:x:held-elsewhere")

    run = local_aws.run({"dryRun": True})

    assert run.status == "SUCCEEDED", run.described
    assert not LOCK_STATES & set(run.entered())


# --- the storm -----------------------------------------------------------------------------------

STORM = 50
STORM_VPCS = 10
STORM_PACE_SECONDS = 0.2


def test_a_storm_of_tag_change_events_converges_in_a_few_runs_with_one_writer_at_a_time(local_aws):
    local_aws.deploy()
    local_aws.run({})
    vpcs = add_untagged_vpcs(local_aws, ACTIVE, STORM_VPCS, 130)
    harness(local_aws.endpoint, "POST", "calls/reset")
    harness(local_aws.endpoint, "POST", "lambda/reset")
    ec2, sfn = local_aws.client("ec2"), local_aws.client("stepfunctions")
    machine = local_aws.outputs()["StateMachineArn"]
    arns: list[str | None] = [None] * STORM

    def event(index: int) -> None:
        # Every STORM // STORM_VPCS events a VPC is tagged, and the rule starts an execution with
        # the tag-change event; the events between repeat tags already made.
        vpc = vpcs[min(index * STORM_VPCS // STORM, STORM_VPCS - 1)][0]
        if index % (STORM // STORM_VPCS) == 0:
            ec2.create_tags(Resources=[vpc], Tags=[{"Key": "addToTransitGateway", "Value": "true"}])
        detail = {**TAG_CHANGE_EVENT, "id": f"storm-{index}",
                  "resources": [f"arn:aws:ec2:{ACTIVE}:123456789012:vpc/{vpc}"]}
        arns[index] = sfn.start_execution(stateMachineArn=machine, input=json.dumps(detail))["executionArn"]

    # The events arrive over a few tens of seconds (a tagging script's pace, well within the
    # issue's "50 within a minute"), so that runs overlap events: some executions start while a
    # run writes, and several runs write, one after another.
    began = time.monotonic()
    for index in range(STORM):
        event(index)
        time.sleep(STORM_PACE_SECONDS)
    started_within = time.monotonic() - began
    assert all(arns)
    deadline = time.monotonic() + 300
    while any(sfn.describe_execution(executionArn=a)["status"] not in FINISHED for a in arns):
        assert time.monotonic() < deadline, "the storm did not finish within 300 s"
        time.sleep(0.5)
    wall = time.monotonic() - began
    runs = [local_aws.wait(a) for a in arns]

    assert [r.status for r in runs] == ["SUCCEEDED"] * STORM, [r.described for r in runs if r.status != "SUCCEEDED"]
    writers = [r for r in runs if write_window(r)]
    coalesced = [r for r in runs if not write_window(r)]
    # At most one writer per gateway pair at any moment, by the executions' own histories.
    assert most_at_once([write_window(r) for r in writers]) == 1
    assert most_at_once([lock_window(r) for r in writers]) == 1
    # The same, by the harness's clock: every modify-routes invocation ran inside the write window
    # of one writer, and no two at once.
    function = local_aws.outputs()["ModifyRoutesFunctionName"]
    invocations = [(utc(i["startedAt"]), utc(i["endedAt"]))
                   for i in harness(local_aws.endpoint, "GET", "lambda")["invocations"] if i["function"] == function]
    assert len(invocations) == sum(len(r.entered("ModifyRoutes")) for r in writers)
    assert most_at_once(invocations) == 1
    for start, end in invocations:
        assert sum(1 for r in writers if write_window(r)[0] <= start and end <= write_window(r)[1]) == 1
    # Every execution that skipped says which run covered it, and that run read after it started.
    writer_arns = {r.described["executionArn"]: r for r in writers}
    for run in coalesced:
        lock = run.output["lock"]
        assert lock["outcome"] == "coalesced" and lock["ranModifyRoutes"] is False and "routes" not in run.output
        assert lock["coalescedInto"] in writer_arns
        assert lock["startedAt"] < lock["reconciledFrom"]
    # Converged: every tagged VPC routed, exactly as one run after the last event would leave it.
    attachment = runs[0].output["attachmentId"]
    wanted = ROUTED_TO_PASSIVE | {cidr for _, cidr in vpcs}
    assert local_aws.static_routes(PASSIVE) == {cidr: attachment for cidr in wanted}
    assert local_aws.static_routes(ACTIVE) == {cidr: attachment for cidr in ROUTED_TO_ACTIVE}
    # No duplicate create: one CreateTransitGatewayRoute per new route. The other mutating EC2 calls
    # are the test's own tagging; the runs' route records go to the state table, one transaction
    # per table a writer changed.
    calls = local_aws.mutating_calls()
    assert calls.pop("CreateTransitGatewayRoute") == STORM_VPCS
    assert calls.pop("CreateTags") == STORM_VPCS
    record_writes = local_aws.record_writes()
    assert calls == {} and 1 <= record_writes <= len(writers)
    waited = sum(1 for r in runs if r.entered("WaitForLock"))
    record(f"a storm of {STORM} tag-change events, one every {STORM_PACE_SECONDS} s, {STORM_VPCS} VPCs tagged meanwhile",
           runs=STORM, peeringCreates=0, routeCreates=STORM_VPCS, duplicated=0, mutatingCalls=STORM_VPCS + record_writes,
           outcome=(f"all SUCCEEDED in {wall:.0f} s (started within {started_within:.1f} s); "
                    f"runs that wrote: {len(writers)}, one at a time ({waited} executions waited for the lock); "
                    f"coalesced into them: {len(coalesced)}; converged"))
    print(f"storm: {STORM} executions, {len(writers)} wrote, {len(coalesced)} coalesced, {waited} waited, "
          f"started within {started_within:.1f} s, wall {wall:.1f} s")
