"""Operators hear about problems: on the local AWS, the real stack's EMF metrics, notices and
failed-execution notifications (docs/guides/operating.md).

- modify-routes' EMF lines parse against the embedded metric format specification and carry the
  report's numbers;
- a run with a conflict publishes its notice to the topic (read back through an SQS queue
  subscribed to it), with NotificationEmail (the stack's own encrypted topic) or
  NotificationTopicArn (an existing one); without notifications nothing is published;
- a failed execution's "Step Functions Execution Status Change" event, as AWS documents it, put on
  the bus, goes through the stack's rule and input transformer and arrives as the documented text.
  (Step Functions on the local AWS sends no such events: the test builds the event from the
  failed execution's DescribeExecution.)
"""

from __future__ import annotations

import datetime
import json

import pytest
from stack_support import ACTIVE, PASSIVE, STACK, LocalAws, side_table

NAMESPACE = "TgwPeering"
# CloudWatch's units (PutMetricData's MetricDatum.Unit), which the EMF specification refers to.
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
    "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
    "Count/Second", "None",
}
TABLE_METRICS = ["RoutesCreated", "RoutesPresent", "RouteConflicts", "RoutesRemaining"]
PASS_METRICS = TABLE_METRICS + ["UnreachableVpcPairs", "ReachableVpcPairs"]


def assert_emf(document: dict) -> None:
    """The embedded metric format specification's rules for one log event's JSON."""
    assert isinstance(document, dict), "the root node is a JSON object"
    aws = document["_aws"]
    assert isinstance(aws["Timestamp"], int) and aws["Timestamp"] > 0, "Timestamp: epoch milliseconds"
    directives = aws["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for directive in directives:
        assert set(directive) <= {"Namespace", "Dimensions", "Metrics"}
        assert isinstance(directive["Namespace"], str) and 1 <= len(directive["Namespace"]) <= 255
        for dimension_set in directive["Dimensions"]:
            assert isinstance(dimension_set, list) and len(dimension_set) <= 30
            for key in dimension_set:
                value = document[key]
                assert isinstance(value, str) and 1 <= len(value) <= 1024, f"dimension {key} is a string"
        metrics = directive["Metrics"]
        assert 1 <= len(metrics) <= 100
        for metric in metrics:
            assert set(metric) <= {"Name", "Unit", "StorageResolution"}
            assert isinstance(metric["Name"], str) and 1 <= len(metric["Name"]) <= 255
            assert metric.get("Unit", "None") in UNITS
            value = document[metric["Name"]]
            assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{metric['Name']} is a number"


def emf_lines(text: str) -> list[dict]:
    """Every log line that is an EMF document: a whole line, a JSON object with `_aws` at its top."""
    found = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            if "_aws" in document:
                found.append(document)
    return found


def test_modify_routes_writes_emf_lines_that_parse_and_carry_the_reports_numbers(local_aws, function_logs):
    local_aws.deploy()
    function = local_aws.outputs()["ModifyRoutesFunctionName"]
    log = function_logs / f"{function}.log"
    start = log.stat().st_size if log.exists() else 0

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    documents = emf_lines(log.read_text()[start:])
    for document in documents:
        assert_emf(document)
    output = run.output
    pair = (f"{ACTIVE}:{output['activeTransitGatewayId']} <-> "
            f"{PASSIVE}:{output['passiveTransitGatewayId']}")
    tables = {d["RouteTable"]: d for d in documents if "RouteTable" in d}
    for report in output["routes"]["tgwRouteTables"]:
        side = report["side"]
        document = tables[report["routeTableId"]]
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
        assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["GatewayPair", "Side", "RouteTable"]]
        assert [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == TABLE_METRICS
        assert (document["GatewayPair"], document["Side"]) == (pair, side)
        counts = report["counts"]
        assert [document[m] for m in TABLE_METRICS] == [
            counts["created"], counts["present"], counts["conflicts"], counts["remaining"]]
    (summary,) = [d for d in documents if "FunctionName" in d]
    assert summary["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName"], ["GatewayPair"]]
    assert [m["Name"] for m in summary["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == PASS_METRICS
    assert (summary["FunctionName"], summary["GatewayPair"]) == (function, pair)
    routes = output["routes"]
    assert summary["RoutesCreated"] == sum(t["counts"]["created"] for t in routes["tgwRouteTables"])
    assert summary["UnreachableVpcPairs"] == output["reachability"]["unreachable"]
    assert summary["ReachableVpcPairs"] == output["reachability"]["reachable"]
    assert summary["RoutesCreated"] > 0


# --- notices -------------------------------------------------------------------------------


def subscribe_queue(local_aws: LocalAws, topic_arn: str):
    """An SQS queue subscribed to the topic, and a function returning what it received."""
    sqs = local_aws.client("sqs")
    queue = sqs.create_queue(QueueName="operator-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    local_aws.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def received() -> list[dict]:
        messages = []
        while True:
            found = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            if not found.get("Messages"):
                return messages
            messages.extend(json.loads(m["Body"]) for m in found["Messages"])

    return received


def blackhole_a_routed_cidr(local_aws: LocalAws) -> tuple[str, str]:
    """A blackhole for a CIDR the tool routes in the active table: a conflict it leaves alone."""
    ec2 = local_aws.client("ec2", ACTIVE)
    (tgw,) = ec2.describe_transit_gateways()["TransitGateways"]
    table = tgw["Options"]["AssociationDefaultRouteTableId"]
    ec2.create_transit_gateway_route(DestinationCidrBlock="10.20.0.0/16", TransitGatewayRouteTableId=table,
                                     Blackhole=True)
    return table, "10.20.0.0/16"


def notification_parameters(local_aws: LocalAws, how: str) -> list[str]:
    if how == "email":
        return ["NotificationEmail=ops@example.com"]
    arn = local_aws.client("sns").create_topic(Name="their-ops-topic")["TopicArn"]
    return [f"NotificationTopicArn={arn}"]


@pytest.mark.parametrize("how", ["email", "existing topic"])
def test_a_run_with_a_conflict_publishes_its_notice_to_the_topic(local_aws, how):
    local_aws.deploy(*notification_parameters(local_aws, how))
    outputs = local_aws.outputs()
    if how == "email":
        topic = local_aws.client("sns").get_topic_attributes(TopicArn=outputs["NotificationTopic"])
        assert topic["Attributes"].get("KmsMasterKeyId"), "the stack's topic is encrypted"
    received = subscribe_queue(local_aws, outputs["NotificationTopic"])
    table, cidr = blackhole_a_routed_cidr(local_aws)

    run = local_aws.run({"vpcRoutes": True})

    assert run.status == "SUCCEEDED", run.described
    assert run.entered()[-4:] == ["Notify", "HasNotice", "PublishNotice", "Done"]
    output = run.output
    assert "noticeError" not in output
    assert side_table(output["routes"], "active")["conflicts"] == [{"cidr": cidr, "target": "blackhole"}]
    (message,) = received()
    # The blackhole also cuts the way from each active VPC to the passive one.
    unreachable = output["reachability"]["unreachable"]
    assert unreachable == 2
    assert message["Subject"] == "tgw-peering needs attention: 1 route conflict, 2 unreachable VPC pairs"
    text = message["Message"]
    pair = f"{ACTIVE}:{output['activeTransitGatewayId']} <-> {PASSIVE}:{output['passiveTransitGatewayId']}"
    assert f"Gateway pair: {pair} (attachment {output['attachmentId']})" in text
    assert f"  active {table}: {cidr} goes to blackhole" in text
    assert "Unreachable VPC pairs: 2 of 2." in text
    assert text.count(": blackhole direction=there") == 2, text
    execution_arn = run.described["executionArn"]
    assert text.endswith(f"Execution: https://{ACTIVE}.console.aws.amazon.com/states/home?region={ACTIVE}"
                         f"#/v2/executions/details/{execution_arn}")
    assert output["notice"]["conflicts"] == 1


def test_a_run_that_leaves_nothing_to_look_at_publishes_nothing(local_aws):
    local_aws.deploy("NotificationEmail=ops@example.com")
    received = subscribe_queue(local_aws, local_aws.outputs()["NotificationTopic"])

    run = local_aws.run({"vpcRoutes": True})

    assert run.status == "SUCCEEDED", run.described
    assert run.output["reachability"]["unreachable"] == 0
    assert "notice" not in run.output
    assert run.entered()[-3:] == ["Notify", "HasNotice", "Done"]
    assert received() == []


def test_without_notifications_a_notice_is_reported_but_not_published(local_aws):
    local_aws.deploy()
    assert "NotificationTopic" not in local_aws.outputs()
    blackhole_a_routed_cidr(local_aws)

    run = local_aws.run({"vpcRoutes": True})

    assert run.status == "SUCCEEDED", run.described
    assert run.output["notice"]["conflicts"] == 1
    assert "PublishNotice" not in run.entered()
    rules = local_aws.client("events").list_rules()["Rules"]
    # The rule has a generated name: it is known by what it matches.
    assert not [r for r in rules if "aws.states" in r.get("EventPattern", "")]


# --- failed executions ---------------------------------------------------------------------


def status_change_event(described: dict) -> dict:
    """The event Step Functions sends for a finished standard execution (EventBridge User Guide,
    "Step Functions events"; Step Functions Developer Guide, "Automating Step Functions event
    delivery with EventBridge"): detail-type "Step Functions Execution Status Change", source
    aws.states, the execution's ARN as the resource, and its description in `detail`."""
    millis = lambda when: int(when.timestamp() * 1000) if when else None  # noqa: E731
    return {
        "Source": "aws.states",
        "DetailType": "Step Functions Execution Status Change",
        "Resources": [described["executionArn"]],
        "Time": described.get("stopDate") or datetime.datetime.now(datetime.timezone.utc),
        "Detail": json.dumps({
            "executionArn": described["executionArn"],
            "stateMachineArn": described["stateMachineArn"],
            "name": described["name"],
            "status": described["status"],
            "startDate": millis(described.get("startDate")),
            "stopDate": millis(described.get("stopDate")),
            "input": described.get("input"),
            "output": None,
            "inputDetails": {"included": True},
            "outputDetails": None,
            "error": described.get("error"),
            "cause": described.get("cause"),
        }),
    }


def test_a_failed_executions_event_through_the_rules_input_transformer_gives_the_documented_message(local_aws):
    local_aws.deploy("NotificationEmail=ops@example.com")
    outputs = local_aws.outputs()
    received = subscribe_queue(local_aws, outputs["NotificationTopic"])
    request = {"passiveRegion": "us-wset-2"}
    failed = local_aws.run(request)
    assert failed.status == "FAILED" and failed.described["error"] == "InvalidInput"
    event = status_change_event(failed.described)
    other_machine = {**json.loads(event["Detail"]),
                     "stateMachineArn": outputs["StateMachineArn"] + "-someone-elses"}
    succeeded = {**json.loads(event["Detail"]), "status": "SUCCEEDED"}

    put = local_aws.client("events").put_events(Entries=[
        event,
        {**event, "Detail": json.dumps(other_machine)},
        {**event, "Detail": json.dumps(succeeded)},
    ])

    assert put["FailedEntryCount"] == 0
    (message,) = [m["Message"] for m in received()]
    described = failed.described
    when = event["Time"].astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert message == (
        f"tgw-peering ({STACK}): execution {described['name']} FAILED at {when}. "
        f"Gateway pair: {ACTIVE} <-> {PASSIVE} (the transit gateways the request names or the only "
        "available one in each Region). "
        f"Error: InvalidInput. "
        f"Cause: {described['cause']}. "
        f"Execution: https://{ACTIVE}.console.aws.amazon.com/states/home?region={ACTIVE}"
        f"#/v2/executions/details/{described['executionArn']} "
        f"Request: {json.dumps(request)}"
    )
