"""The run's call sequence and the sweep's one fault (call_sequence.py), and the harness's
network reset, through boto3 over HTTP with retries off. Calls signed with the state machine
interpreter's key ("ak") stand for the run's own; the tests' "testing" key is never logged."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config

import call_sequence
from test_faults import outcome
from test_harness import clean_state, endpoint, harness  # noqa: F401  (pytest finds the fixtures by name)

REGION = "us-east-1"


def as_state_machine(endpoint: str, service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="ak",
                        aws_secret_access_key="sk", config=Config(retries={"total_max_attempts": 1}))


def as_test(endpoint: str, service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(retries={"total_max_attempts": 1}))


def test_given_calls_by_the_run_and_by_the_test_when_reading_the_sequence_then_only_the_runs_are_listed_in_order(endpoint):
    ec2, sns = as_state_machine(endpoint, "ec2"), as_state_machine(endpoint, "sns")
    as_test(endpoint, "ec2").describe_vpcs()
    ec2.describe_transit_gateways()
    ec2.create_transit_gateway()
    sns.list_topics()

    calls = harness(endpoint, "GET", "sequence")["calls"]

    assert [(c["seq"], c["service"], c["action"], c["caller"], c["write"], c["status"]) for c in calls] == [
        (1, "ec2", "DescribeTransitGateways", "stateMachine", False, 200),
        (2, "ec2", "CreateTransitGateway", "stateMachine", True, 200),
        (3, "sns", "ListTopics", "stateMachine", False, 200),
    ]


def test_given_a_retryable_fault_at_the_second_matching_call_when_calling_then_only_that_call_is_throttled(endpoint):
    ec2 = as_state_machine(endpoint, "ec2")
    harness(endpoint, "POST", "sequence/fault",
            {"kind": "retryable", "occurrence": 2, "service": "ec2", "action": "DescribeTransitGateways"})

    outcomes = [outcome(ec2.describe_transit_gateways) for _ in range(3)]

    assert outcomes == ["ok", "RequestLimitExceeded", "ok"]
    assert harness(endpoint, "GET", "sequence")["fired"]["seq"] == 2


@pytest.mark.parametrize("service, call, code", [
    ("ec2", lambda c: c.describe_vpcs(), "UnauthorizedOperation"),
    ("ec2", lambda c: c.create_vpc(CidrBlock="10.1.0.0/16"), "UnauthorizedOperation"),
    ("ec2", lambda c: c.delete_transit_gateway(TransitGatewayId="tgw-0123456789abcdef0"), "IncorrectState"),
    ("dynamodb", lambda c: c.list_tables(), "AccessDeniedException"),
    ("sns", lambda c: c.list_topics(), "AuthorizationError"),
    ("stepfunctions", lambda c: c.list_state_machines(), "AccessDeniedException"),
])
def test_given_a_non_retryable_fault_when_calling_then_the_services_own_failure_comes_back_in_its_protocol(
        endpoint, service, call, code):
    harness(endpoint, "POST", "sequence/fault", {"kind": "nonRetryable", "occurrence": 1})

    assert outcome(lambda: call(as_state_machine(endpoint, service))) == code


def test_given_an_answer_lost_fault_when_creating_then_the_caller_sees_no_answer_but_the_create_happened(endpoint):
    ec2 = as_state_machine(endpoint, "ec2")
    harness(endpoint, "POST", "sequence/fault", {"kind": "answerLost", "occurrence": 1, "action": "CreateTransitGateway"})

    assert outcome(ec2.create_transit_gateway) == "dropped"
    assert len(as_test(endpoint, "ec2").describe_transit_gateways()["TransitGateways"]) == 1


def test_given_a_crash_fault_at_a_state_machine_call_then_it_never_fires(endpoint):
    ec2 = as_state_machine(endpoint, "ec2")
    harness(endpoint, "POST", "sequence/fault", {"kind": "crash", "occurrence": 1})

    assert outcome(ec2.describe_transit_gateways) == "ok"
    assert harness(endpoint, "GET", "sequence")["fired"] is None


@pytest.mark.parametrize("body", [
    {"kind": "explode", "occurrence": 1},
    {"kind": "retryable", "occurrence": 0},
    {"kind": "retryable", "occurrence": True},
    {"kind": "retryable", "occurrence": 1, "when": "now"},
])
def test_given_a_bad_fault_when_arming_then_http_400(endpoint, body):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as excinfo:
        harness(endpoint, "POST", "sequence/fault", body)
    assert excinfo.value.code == 400


def test_given_the_same_seed_when_the_network_is_reset_and_rebuilt_then_it_gets_the_same_ids(endpoint):
    def build() -> tuple[str, str]:
        harness(endpoint, "POST", "network/reset", {"seed": 7})
        ec2 = as_test(endpoint, "ec2")
        tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
        vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
        return tgw, vpc

    build()  # the first call of a service ever made on this server draws ids for its own set-up
    first = build()

    assert build() == first
    assert len(as_test(endpoint, "ec2").describe_transit_gateways()["TransitGateways"]) == 1


def test_writes_are_every_ec2_action_but_reads_and_each_services_own_writes():
    assert call_sequence.is_write("ec2", "CreateTransitGatewayRoute")
    assert not call_sequence.is_write("ec2", "SearchTransitGatewayRoutes")
    assert call_sequence.is_write("dynamodb", "TransactWriteItems")
    assert not call_sequence.is_write("dynamodb", "Query")
    assert call_sequence.is_write("sns", "Publish")
    assert not call_sequence.is_write("sts", "AssumeRole")
