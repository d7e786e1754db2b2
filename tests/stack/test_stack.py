"""The deployable stack, end to end on the local AWS: the real template deployed by deploy.sh, the
real state machine definition, and the real function binaries behind `cargo lambda watch`."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from stack_support import ACTIVE, DEFINITION, PASSIVE, ROOT, STACK, TEMPLATE, LocalAws, harness, record, side_table
import seed_demo  # noqa: E402  (stack_support puts scripts/lib on the path)
import lambda_runner  # noqa: E402  (stack_support puts tests/emulator on the path)

# The demo network (scripts/lib/seed_demo.py): each side routes the other side's tagged VPCs.
ROUTED_TO_PASSIVE = {"10.1.0.0/16", "10.2.0.0/16"}  # active VPCs, routed in the passive table
ROUTED_TO_ACTIVE = {"10.20.0.0/16"}  # passive VPCs, routed in the active table
# The peering's states last a set time from its creation or accept (the emulator's Peering
# progression), however often it is read. After a create `peer` accepts at once if it can, the
# state machine's SettleRace waits, `peer` settles, then poll k comes at least k poll intervals
# later (stack_support deploys PollIntervalSeconds=1), whatever the functions' own time.
POLL_SECONDS = 1


def settle_race_seconds() -> float:
    """The definition's SettleRace wait, between `peer`'s create and its Settle call."""
    found = re.search(r'"SettleRace":\s*\{[^}]*?"Seconds":\s*(\d+)', DEFINITION.read_text())
    assert found, "the definition has no SettleRace wait with Seconds"
    return float(found.group(1))


SETTLE_RACE_SECONDS = settle_race_seconds()


def assert_routed_via(local_aws: LocalAws, attachment_id: str) -> None:
    assert local_aws.static_routes(ACTIVE) == {cidr: attachment_id for cidr in ROUTED_TO_ACTIVE}
    assert local_aws.static_routes(PASSIVE) == {cidr: attachment_id for cidr in ROUTED_TO_PASSIVE}


def live_peerings(local_aws: LocalAws) -> list[dict]:
    found = local_aws.client("ec2").describe_transit_gateway_peering_attachments()
    return [a for a in found["TransitGatewayPeeringAttachments"]
            if a["State"] not in ("deleted", "rejected", "failed")]


# --- the definition ------------------------------------------------------------------------


def test_definition_passes_asl_validator_which_catches_a_missing_state(tmp_path):
    validator = ROOT / "tools/node_modules/.bin/asl-validator"
    good = subprocess.run([validator, "--json-path", DEFINITION], capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr

    broken = tmp_path / "broken.asl.json"
    broken.write_text(DEFINITION.read_text().replace('"Next": "GetStatus"', '"Next": "GetStatuss"'))
    bad = subprocess.run([validator, "--json-path", broken], capture_output=True, text=True)
    assert bad.returncode != 0


def test_the_deployed_definition_is_the_file_with_only_the_substitutions_filled_in(local_aws):
    local_aws.deploy("MaxPolls=7")

    resources = local_aws.client("cloudformation").describe_stack_resources(StackName=STACK)
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResources"]}
    lam = local_aws.client("lambda")
    arn = {name: lam.get_function(FunctionName=physical[name])["Configuration"]["FunctionArn"]
           for name in ("PeerFunction", "GetStatusFunction", "ModifyRoutesFunction")}
    substitutions = {
        "PeerFunctionArn": arn["PeerFunction"],
        "GetStatusFunctionArn": arn["GetStatusFunction"],
        "ModifyRoutesFunctionArn": arn["ModifyRoutesFunction"],
        "PollIntervalSeconds": "1",
        "MaxPolls": "7",
        "NotificationTopicArn": "",
        "StackRegion": ACTIVE,
        "StateTableName": local_aws.outputs()["StateTableName"],
        "LockMaxWaits": "240",
    }
    text = DEFINITION.read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(substitutions), "the template must fill in every placeholder, no more"
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)

    described = local_aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=local_aws.outputs()["StateMachineArn"])
    assert json.loads(described["definition"]) == json.loads(text)


# --- executions ----------------------------------------------------------------------------


def test_empty_input_peers_accepts_and_routes_both_sides(local_aws):
    local_aws.deploy()

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    output = run.output
    assert (output["activeRegion"], output["passiveRegion"]) == (ACTIVE, PASSIVE)
    assert output["created"] and output["accepted"] and output["status"] == "available"
    assert set(side_table(output["routes"], "active")["created"]) == ROUTED_TO_ACTIVE
    assert set(side_table(output["routes"], "passive")["created"]) == ROUTED_TO_PASSIVE
    assert [p["TransitGatewayAttachmentId"] for p in live_peerings(local_aws)] == [output["attachmentId"]]
    assert_routed_via(local_aws, output["attachmentId"])


def test_a_second_execution_reuses_the_peering_and_creates_nothing(local_aws):
    local_aws.deploy()
    first = local_aws.run({})
    harness(local_aws.endpoint, "POST", "calls/reset")

    second = local_aws.run({})

    assert second.status == "SUCCEEDED", second.described
    assert second.output["attachmentId"] == first.output["attachmentId"]
    assert not second.output["created"] and not second.output["accepted"]
    assert set(side_table(second.output["routes"], "passive")["present"]) == ROUTED_TO_PASSIVE
    assert local_aws.mutating_calls() == {}
    # A live peering goes straight to the routes, without waiting a poll interval.
    assert second.entered() == ["MeshOrPair", "Configure", "Peer", "JustCreated", "AlreadyAvailable", "LockNeeded", "LockKey",
                                "LockOrder", "LockKeyActiveFirst", "LockSettings", "LockSettingsShared",
                                "ReadLock", "LockDecision", "AcquireLock", "Write", "ModifyRoutes",
                                "MoreRoutes", "ReleaseLock", "DeletionPending", "Notify", "HasNotice", "Done"]


@pytest.mark.parametrize("pending_polls", [1, 3])
def test_a_pending_peering_is_polled_until_available(local_aws, pending_polls):
    local_aws.deploy()
    # Pending until 0.9 s after poll `pending_polls` is due: no later poll can see it pending, and
    # that one does unless the functions' own time so far adds up to 0.9 s.
    local_aws.peering_progression(pendingSeconds=SETTLE_RACE_SECONDS + pending_polls * POLL_SECONDS + 0.9)

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    statuses = [o["peering"]["status"] for o in run.task_outputs("GetStatus")]
    assert statuses == ["pending"] * pending_polls + ["available"]
    assert len(run.entered("Wait")) == pending_polls + 1
    assert_routed_via(local_aws, run.output["attachmentId"])


@pytest.mark.parametrize("roll_back", [False, True])
def test_a_re_run_over_a_peering_being_modified_waits_until_it_is_available_again(local_aws, roll_back):
    # Given a routed peering that AWS is modifying (or rolling a modification back)
    local_aws.deploy()
    first = local_aws.run({})
    assert first.status == "SUCCEEDED", first.described
    change = {"attachmentId": first.output["attachmentId"], "modifyingSeconds": 1.5 * POLL_SECONDS}
    if roll_back:
        change.update(rollBack=True, rollingBackSeconds=POLL_SECONDS)
    harness(local_aws.endpoint, "POST", "peering/modify", change)

    # When the next run starts
    second = local_aws.run({})

    # Then it reuses the peering, waits (phase `waiting`) instead of failing, and routes once ready
    assert second.status == "SUCCEEDED", second.described
    peer = second.task_outputs("Peer")[0]["peering"]
    assert (peer["status"], peer["phase"]) == ("modifying", "waiting")
    phases = [o["peering"]["phase"] for o in second.task_outputs("GetStatus")]
    assert set(phases[:-1]) <= {"waiting"} and phases[-1] == "ready", phases
    assert not second.output["created"]
    assert [p["TransitGatewayAttachmentId"] for p in live_peerings(local_aws)] == [first.output["attachmentId"]]
    assert_routed_via(local_aws, first.output["attachmentId"])


def test_a_request_still_initiating_is_accepted_when_a_poll_sees_pending_acceptance(local_aws):
    local_aws.deploy()
    # The first `peer` call and its Settle pass see the request still initiating; the first poll,
    # a poll interval later, sees it pendingAcceptance.
    local_aws.peering_progression(initiatingRequestSeconds=SETTLE_RACE_SECONDS + 0.5 * POLL_SECONDS)

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    assert run.entered("Peer") == ["Peer"] and run.entered("Accept") == ["Accept"]
    assert run.output["created"] and run.output["accepted"]
    assert_routed_via(local_aws, run.output["attachmentId"])


def test_a_peering_rejected_while_waiting_fails_naming_the_state_within_one_poll(local_aws):
    local_aws.deploy()
    # `peer` reads the request while it is still initiating (so it has nothing to accept); the peer
    # Region rejects it as soon as it arrives there, during a later poll.
    local_aws.peering_progression(outcome="rejected", initiatingRequestSeconds=SETTLE_RACE_SECONDS + 0.5 * POLL_SECONDS)
    harness(local_aws.endpoint, "POST", "calls/reset")

    run = local_aws.run({})

    assert run.status == "FAILED"
    assert run.described["error"] == "PeeringFailed"
    assert "is rejected" in run.described["cause"]
    # The first poll that sees the rejection ends the execution.
    statuses = [o["peering"]["status"] for o in run.task_outputs("GetStatus")]
    assert statuses[-1] == "rejected" and set(statuses[:-1]) <= {"initiatingRequest"}, statuses
    assert run.entered()[-3:] == ["CountPoll", "RouteOnStatus", "PeeringFailed"]
    assert run.entered("Accept") == []
    assert local_aws.mutating_calls() == {"CreateTransitGatewayPeeringAttachment": 1}
    assert local_aws.static_routes(ACTIVE) == {} and local_aws.static_routes(PASSIVE) == {}


def test_a_peering_rejected_while_peer_accepts_fails_naming_the_state(local_aws):
    local_aws.deploy()
    local_aws.peering_progression(outcome="rejected")  # at once: pendingAcceptanceSeconds 0

    run = local_aws.run({})

    assert run.status == "FAILED"
    assert run.described["error"] == "PeeringFailed"
    assert "is rejected" in run.described["cause"]
    assert local_aws.static_routes(ACTIVE) == {} and local_aws.static_routes(PASSIVE) == {}


def test_a_peering_that_stays_pending_fails_with_peering_timed_out_after_max_polls(local_aws):
    local_aws.deploy("MaxPolls=3")
    local_aws.peering_progression(pendingSeconds=3600)

    run = local_aws.run({})

    assert run.status == "FAILED"
    assert run.described["error"] == "PeeringTimedOut"
    assert "after 3 polls" in run.described["cause"]
    assert len(run.entered("GetStatus")) == 3
    assert local_aws.static_routes(ACTIVE) == {}


def test_a_function_error_is_caught_and_fails_with_its_error_type_and_creates_nothing(local_aws):
    local_aws.deploy()

    run = local_aws.run({"passiveRegion": "us-wset-2"})

    assert run.status == "FAILED"
    assert run.described["error"] == "InvalidInput"
    assert "passiveRegion" in run.described["cause"] and "us-west-2" in run.described["cause"]
    assert run.entered()[-1] == "TaskFailed"
    assert local_aws.mutating_calls() == {}


def peerings_not_deleted(local_aws: LocalAws, region: str) -> list[dict]:
    found = local_aws.client("ec2", region).describe_transit_gateway_peering_attachments()
    return [a for a in found["TransitGatewayPeeringAttachments"] if a["State"] != "deleted"]


def test_a_first_run_whose_extra_range_overlaps_the_remote_side_is_refused_before_any_peering_is_created(local_aws):
    local_aws.deploy()
    harness(local_aws.endpoint, "POST", "calls/reset")

    # 10.1.0.0/16 is a tagged active VPC: routing it to the passive side as well is ambiguous.
    run = local_aws.run({"extraCidrs": {"passive": ["10.1.0.0/16"]}})

    assert run.status == "FAILED", run.described
    assert run.described["error"] == "CidrOverlap"
    assert "extraCidrs.passive" in run.described["cause"] and "10.1.0.0/16" in run.described["cause"]
    left = peerings_not_deleted(local_aws, ACTIVE) + peerings_not_deleted(local_aws, PASSIVE)
    mutating = local_aws.mutating_calls()
    record("a first run whose extraCidrs overlaps the remote side", runs=1, peeringsLive=len(left),
           mutatingCalls=sum(mutating.values()), outcome="CidrOverlap before the peering is created")
    assert left == [], left
    assert mutating == {}, mutating
    assert run.entered()[-1] == "TaskFailed" and run.entered("ModifyRoutes") == []


def test_throttling_that_outlasts_the_sdk_retries_is_retried_by_the_state_machine(local_aws):
    local_aws.deploy()
    # The functions make 6 attempts per call; 6 throttles make the first `peer` fail with Throttled.
    harness(local_aws.endpoint, "POST", "faults", {"action": "DescribeTransitGatewayPeeringAttachments",
                                                   "code": "RequestLimitExceeded", "httpStatus": 503,
                                                   "times": 6})

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    failures = [e for e in run.events if e["type"] in ("LambdaFunctionFailed", "TaskFailed")]
    assert [f.get("lambdaFunctionFailedEventDetails", f.get("taskFailedEventDetails", {})).get("error")
            for f in failures] == ["Throttled"]
    assert len(live_peerings(local_aws)) == 1


def test_with_30_percent_of_ec2_calls_throttled_a_full_run_converges_with_nothing_duplicated(local_aws):
    local_aws.deploy()
    pending = SETTLE_RACE_SECONDS + POLL_SECONDS  # past the Settle call: get-status polls under throttling too
    local_aws.peering_progression(pendingSeconds=pending)
    harness(local_aws.endpoint, "POST", "faults", {"action": "*", "probability": 0.3, "seed": 7,
                                                   "code": "RequestLimitExceeded", "httpStatus": 503})

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    calls = harness(local_aws.endpoint, "GET", "calls")
    succeeded = {a: n - calls["faulted"].get(a, 0) for a, n in calls["total"].items()}
    assert sum(calls["throttled"].values()) > 0, "the fault rule throttled nothing"
    assert succeeded["CreateTransitGatewayPeeringAttachment"] == 1
    assert succeeded["CreateTransitGatewayRoute"] == len(ROUTED_TO_ACTIVE | ROUTED_TO_PASSIVE)
    harness(local_aws.endpoint, "DELETE", "faults")
    live = [p["TransitGatewayAttachmentId"] for p in live_peerings(local_aws)]
    record(f"30% of EC2 calls throttled (RequestLimitExceeded), peering pending {pending:g} s", runs=1,
           peeringCreates=succeeded["CreateTransitGatewayPeeringAttachment"], peeringsLive=len(live),
           routeCreates=succeeded["CreateTransitGatewayRoute"], duplicated=max(0, len(live) - 1),
           outcome=f"converged; {sum(calls['throttled'].values())} calls throttled")
    assert live == [run.output["attachmentId"]]
    assert_routed_via(local_aws, run.output["attachmentId"])


def test_a_plan_too_large_for_one_invocation_is_finished_by_calling_modify_routes_again(local_aws):
    extra = [f"10.{100 + i}.0.0/16" for i in range(20)]
    seed_demo.seed_region(local_aws.client("ec2", PASSIVE), PASSIVE, {"tagged": extra, "untagged": "10.99.0.0/16"},
                          "addToTransitGateway", transit_gateway_id=passive_transit_gateway(local_aws))
    local_aws.deploy()
    # The deadline scaled down: 3 s an invocation, no write started in its last 1.5 s, and 8 writes
    # a second one at a time, so the 21 routes for the active side need at least two invocations.
    lam = local_aws.client("lambda")
    name = stack_resource(local_aws, "ModifyRoutesFunction")
    variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=name, Timeout=3, Environment={"Variables": {
        **variables, "DEADLINE_MARGIN_SECONDS": "1.5", "ROUTE_WRITES_PER_SECOND": "8", "ROUTE_WRITE_BURST": "1"}})

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    passes = run.entered("ModifyRoutes")
    assert len(passes) >= 2, run.entered()
    assert [o["peering"]["routes"]["complete"] for o in run.task_outputs("ModifyRoutes")] == (
        [False] * (len(passes) - 1) + [True])
    routes = run.output["routes"]
    assert routes["passes"] == len(passes)
    assert set(side_table(routes, "active")["created"]) == ROUTED_TO_ACTIVE | set(extra)
    assert side_table(routes, "active")["counts"] == {"created": 21, "present": 0, "conflicts": 0, "remaining": 0}
    creates = harness(local_aws.endpoint, "GET", "calls")["total"]["CreateTransitGatewayRoute"]
    assert creates == 21 + len(ROUTED_TO_PASSIVE), "each route created once; none refused as already there"
    attachment = run.output["attachmentId"]
    assert local_aws.static_routes(ACTIVE) == {cidr: attachment for cidr in ROUTED_TO_ACTIVE | set(extra)}
    record("a plan larger than one invocation, through the state machine (deadline scaled down)",
           runs=len(passes), routeCreates=creates, duplicated=0,
           outcome=f"ModifyRoutes ran {len(passes)} times; each route created once")


def passive_transit_gateway(local_aws: LocalAws) -> str:
    gateways = local_aws.client("ec2", PASSIVE).describe_transit_gateways()["TransitGateways"]
    return gateways[0]["TransitGatewayId"]


def stack_resource(local_aws: LocalAws, logical_id: str) -> str:
    resources = local_aws.client("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]
    return next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == logical_id)


# --- every entry point ---------------------------------------------------------------------

SCHEDULED_EVENT = {
    "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
    "source": "aws.events", "account": "123456789012", "time": "2026-11-22T12:00:00Z", "region": ACTIVE,
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/tgw-peering-schedule"], "detail": {},
}
TAG_CHANGE_EVENT = {
    "version": "0", "id": "ffd8a6fe-32f8-ef66-c85c-111111111111", "detail-type": "Tag Change on Resource",
    "source": "aws.tag", "account": "123456789012", "time": "2026-11-22T12:00:00Z", "region": ACTIVE,
    "resources": ["arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"],
    "detail": {"changed-tag-keys": ["addToTransitGateway"], "service": "ec2", "resource-type": "vpc",
               "version": 3, "tags": {"addToTransitGateway": "true"}},
}


def test_an_input_nested_deeper_than_the_json_reader_allows_fails_as_invalid_input(local_aws):
    local_aws.deploy()
    # Deeper than serde_json's 128 levels; the runtime would refuse it with an errorType of its
    # own, which no Retry or Catch names. The function reads its payload itself instead.
    nested = "[" * 200 + "]" * 200

    run = local_aws.run(raw_input='{"Comment": ' + nested + '}')

    assert run.status == "FAILED"
    assert run.described["error"] == "InvalidInput", run.described
    assert "(request)" in run.described["cause"] and "recursion limit" in run.described["cause"]
    assert run.entered()[-1] == "TaskFailed"
    assert local_aws.mutating_calls() == {}


def test_the_consoles_default_input_works(local_aws):
    local_aws.deploy()

    run = local_aws.run(raw_input='{\n    "Comment": "Insert your JSON here"\n}')

    assert run.status == "SUCCEEDED", run.described
    assert_routed_via(local_aws, run.output["attachmentId"])


def test_each_eventbridge_rule_starts_the_state_machine_with_the_event_as_input(local_aws):
    local_aws.deploy("ScheduleExpression=rate(1 hour)")
    events = local_aws.client("events")
    state_machine = local_aws.outputs()["StateMachineArn"]
    rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
    schedule = [r for r in rules.values() if r.get("ScheduleExpression") == "rate(1 hour)"]
    tag_change = [r for r in rules.values() if "aws.tag" in r.get("EventPattern", "")]
    assert len(schedule) == 1 and len(tag_change) == 1
    pattern = json.loads(tag_change[0]["EventPattern"])
    assert pattern["detail"]["changed-tag-keys"] == [{"equals-ignore-case": "addToTransitGateway"}]

    # EventBridge rules never fire in the emulator: read each rule's target back and start the
    # execution the way EventBridge would, with the event itself as the input.
    for rule, event in ((schedule[0], SCHEDULED_EVENT), (tag_change[0], TAG_CHANGE_EVENT)):
        (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        assert target["Arn"] == state_machine and target.get("RoleArn")
        assert "Input" not in target and "InputPath" not in target and "InputTransformer" not in target
        run = local_aws.run(event)
        assert run.status == "SUCCEEDED", (rule["Name"], run.described)
    assert_routed_via(local_aws, run.output["attachmentId"])


def test_without_a_schedule_expression_there_is_no_schedule_rule(local_aws):
    local_aws.deploy()

    rules = local_aws.client("events").list_rules()["Rules"]

    assert [r for r in rules if r.get("ScheduleExpression")] == []
    assert len(rules) == 2  # TagChangeRule and NetworkChangeRule (tests/stack/test_triggers.py)


# --- deploying -----------------------------------------------------------------------------


def test_redeploying_an_unchanged_stack_is_a_no_op_and_a_change_updates_it(local_aws):
    local_aws.deploy()
    cfn = local_aws.client("cloudformation")
    events_before = cfn.describe_stack_events(StackName=STACK)["StackEvents"]

    again = local_aws.deploy()

    assert "No changes to deploy" in again.stdout + again.stderr
    assert cfn.describe_stack_events(StackName=STACK)["StackEvents"] == events_before

    local_aws.deploy("MaxPolls=9", "LogLevel=DEBUG")

    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    definition = local_aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=local_aws.outputs()["StateMachineArn"])["definition"]
    assert "States.StringToJson('9')" in definition
    run = local_aws.run({})
    assert run.status == "SUCCEEDED", run.described


def test_a_changed_template_updates_the_stack(local_aws, tmp_path):
    local_aws.deploy()
    changed = tmp_path / "changed.yaml"
    original = TEMPLATE.read_text()
    assert original.count("MemorySize: 128") == 3
    changed.write_text(original.replace("MemorySize: 128", "MemorySize: 256"))

    local_aws.deploy(template=changed)

    lam = local_aws.client("lambda")
    sizes = {lam.get_function_configuration(FunctionName=local_aws.outputs()[name])["MemorySize"]
             for name in ("PeerFunctionName", "GetStatusFunctionName", "ModifyRoutesFunctionName")}
    assert sizes == {256}
    assert local_aws.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] \
        == "UPDATE_COMPLETE"
    assert local_aws.run({}).status == "SUCCEEDED"


def test_start_sh_follows_the_execution_and_summarises_the_routes(local_aws):
    local_aws.deploy()

    done = subprocess.run([str(ROOT / "scripts/start.sh"), "--stack-name", STACK], env=local_aws.env,
                          capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(re.match(r"\s+[0-9.]+s\s+Peer$", line) for line in lines), done.stdout
    assert any(re.match(r"\s+[0-9.]+s\s+ModifyRoutes$", line) for line in lines), done.stdout
    assert "SUCCEEDED" in done.stdout and "10.20.0.0/16" in done.stdout


def test_start_sh_exits_non_zero_with_the_error_type_and_cause(local_aws, tmp_path):
    local_aws.deploy()
    bad_input = tmp_path / "input.json"
    bad_input.write_text('{"activeRegion": "mars-north-1"}')

    done = subprocess.run([str(ROOT / "scripts/start.sh"), str(bad_input), "--stack-name", STACK],
                          env=local_aws.env, capture_output=True, text=True, timeout=180)

    assert done.returncode == 1
    assert "FAILED: InvalidInput" in done.stderr and "activeRegion" in done.stderr


# --- logs ----------------------------------------------------------------------------------


def test_function_logs_are_json_with_action_and_region_and_never_hold_credentials(local_aws, function_logs):
    local_aws.deploy()
    # Pending past the Settle call, so that get-status runs too.
    local_aws.peering_progression(pendingSeconds=SETTLE_RACE_SECONDS + 0.5 * POLL_SECONDS)
    assert local_aws.run({}).status == "SUCCEEDED"

    outputs = local_aws.outputs()
    names = [outputs[f"{f}FunctionName"] for f in ("Peer", "GetStatus", "ModifyRoutes")]
    logs = {name: (function_logs / f"{name}.log").read_text() for name in names}
    secrets = [v for k, v in lambda_runner.FUNCTION_CREDENTIALS.items() if k != "AWS_ACCESS_KEY_ID"]
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"{name} logs a credential"
        records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert records, f"{name} has no JSON log records"
        # The Region is on the event, or on the span of the EC2 call it was logged in.
        calls = [r for r in records if r.get("fields", r).get("action")
                 and (r.get("fields", r).get("region") or r.get("span", {}).get("region"))]
        assert calls, f"{name}: no record names its action and region"
