"""Fault injection and EC2-like throttling of the emulator harness (harness.py),
checked through boto3 over HTTP with retries off, against what EC2 documents:

- a throttled request gets HTTP 503 `RequestLimitExceeded` / "Request limit
  exceeded." in EC2's XML error envelope (EC2 API reference, "Error codes";
  "Request throttling for the Amazon EC2 API");
- EC2 throttles per account per Region with token buckets: a bucket holds
  `bucket` tokens, each request takes one, a request finding the bucket empty
  is throttled, and the bucket refills at a set rate up to its capacity;
  mutating actions 50 tokens / 5 per second, non-mutating (Describe*, List*,
  Search*, Get*) 100 / 20.

Wall-clock time is only ever asserted as a lower bound (measured with a
monotonic clock); exact token arithmetic is checked on RateLimiter with a fake
clock.
"""

from __future__ import annotations

import math
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from harness import RateLimiter
from test_harness import (  # noqa: F401  (pytest finds the fixtures by name)
    ACCEPTER,
    NO_CALLS,
    REQUESTER,
    clean_state,
    client,
    ec2_a,
    ec2_b,
    endpoint,
    harness,
)

THROTTLED = "RequestLimitExceeded"
NO_SUCH_VPC = "vpc-0123456789abcdef0"


def outcome(call: Callable[[], object]) -> str:
    """Returns "ok", the EC2 error code, or "dropped"."""
    try:
        call()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]
    except (ConnectionClosedError, EndpointConnectionError):
        return "dropped"


# Cheap calls moto answers without any resources. DeleteTags on an unknown id
# succeeds in moto; it is mutating, DescribeTransitGateways is not.
def mutate(ec2) -> str:
    return outcome(lambda: ec2.delete_tags(Resources=[NO_SUCH_VPC], Tags=[{"Key": "k"}]))


def describe(ec2) -> str:
    return outcome(ec2.describe_transit_gateways)


def timed(call: Callable[[], str]) -> tuple[str, float]:
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


# --- the throttling response --------------------------------------------------


def test_given_throttling_rule_when_calling_then_ec2_shaped_503_request_limit_exceeded(
    endpoint, ec2_a
):
    harness(endpoint, "POST", "faults", {"action": "DescribeTransitGateways"})

    with pytest.raises(ClientError) as excinfo:
        ec2_a.describe_transit_gateways()

    response = excinfo.value.response
    assert response["Error"] == {"Code": THROTTLED, "Message": "Request limit exceeded."}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert response["ResponseMetadata"]["RequestId"]


def test_given_throttling_rule_when_reading_raw_response_then_ec2_xml_error_envelope(endpoint):
    harness(endpoint, "POST", "faults", {"action": "DescribeVpcs"})
    request = urllib.request.Request(
        endpoint,
        data=b"Action=DescribeVpcs&Version=2016-11-15",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        method="POST",
    )

    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)

    assert excinfo.value.code == 503
    assert excinfo.value.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(excinfo.value.read())
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Errors", "RequestID"]
    (error,) = root.find("Errors")
    assert error.tag == "Error"
    assert error.findtext("Code") == THROTTLED
    assert error.findtext("Message") == "Request limit exceeded."
    assert root.findtext("RequestID")


# --- probability --------------------------------------------------------------


def test_given_probability_when_calling_400_times_then_about_that_share_throttled_and_repeatable(
    endpoint, ec2_a
):
    rule = {"action": "DescribeTransitGateways", "probability": 0.3, "seed": 42}

    def run() -> list[str]:
        harness(endpoint, "POST", "reset")
        assert harness(endpoint, "POST", "faults", rule)["faults"][0]["times"] is None
        return [describe(ec2_a) for _ in range(400)]

    first = run()
    calls = harness(endpoint, "GET", "calls")
    second = run()

    throttled = first.count(THROTTLED)
    assert set(first) == {"ok", THROTTLED}
    assert 0.25 <= throttled / 400 <= 0.35  # expected 120, sd 9.2
    assert calls["throttled"] == calls["faulted"] == {"DescribeTransitGateways": throttled}
    assert calls["total"]["DescribeTransitGateways"] == 400
    assert second == first  # same seed, same calls: same outcomes
    assert len(harness(endpoint, "GET", "faults")["faults"]) == 1  # no times: never used up


def test_given_different_seeds_when_calling_then_different_sequences(endpoint, ec2_a):
    def run(seed: int) -> list[str]:
        harness(endpoint, "POST", "reset")
        harness(endpoint, "POST", "faults", {"action": "*", "probability": 0.5, "seed": seed})
        return [describe(ec2_a) for _ in range(40)]

    assert run(1) != run(2)


def test_given_probability_and_times_when_calling_then_at_most_times_faults(endpoint, ec2_a):
    harness(endpoint, "POST", "faults", {"action": "*", "probability": 0.5, "times": 3})

    outcomes = [describe(ec2_a) for _ in range(40)]

    assert outcomes.count(THROTTLED) == 3
    assert harness(endpoint, "GET", "faults") == {"faults": []}


@pytest.mark.parametrize(
    ("code", "status"), [("InternalError", 500), ("Unavailable", 503)]
)
def test_given_server_error_with_probability_when_calling_then_a_share_fails_with_that_status(
    endpoint, ec2_a, code, status
):
    harness(
        endpoint,
        "POST",
        "faults",
        {"action": "DescribeTransitGateways", "code": code, "httpStatus": status, "probability": 0.5},
    )
    statuses = []

    for _ in range(40):
        try:
            ec2_a.describe_transit_gateways()
            statuses.append("ok")
        except ClientError as e:
            statuses.append((e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]))

    failed = statuses.count((code, status))
    assert 0 < failed < 40 and failed + statuses.count("ok") == 40
    calls = harness(endpoint, "GET", "calls")
    assert calls["faulted"] == {"DescribeTransitGateways": failed}
    assert calls["throttled"] == {}


def test_given_drop_connection_with_probability_when_calling_then_a_share_is_dropped(
    endpoint, ec2_a
):
    harness(endpoint, "POST", "faults", {"action": "*", "dropConnection": True, "probability": 0.5, "seed": 3})

    outcomes = [describe(ec2_a) for _ in range(30)]

    dropped = outcomes.count("dropped")
    assert 0 < dropped < 30 and dropped + outcomes.count("ok") == 30
    assert harness(endpoint, "GET", "calls")["faulted"] == {"DescribeTransitGateways": dropped}


# --- targeting: action, actions, mutating, region -------------------------------


def test_given_actions_list_when_calling_then_only_those_actions_fail(endpoint, ec2_a):
    harness(
        endpoint,
        "POST",
        "faults",
        {"actions": ["DeleteTags", "DescribeTransitGateways"], "probability": 1.0},
    )

    assert mutate(ec2_a) == THROTTLED
    assert describe(ec2_a) == THROTTLED
    assert outcome(ec2_a.describe_vpcs) == "ok"
    assert outcome(lambda: ec2_a.create_vpc(CidrBlock="10.0.0.0/16")) == "ok"


@pytest.mark.parametrize("mutating", [True, False])
def test_given_mutating_class_when_calling_then_only_that_class_fails(endpoint, ec2_a, mutating):
    harness(endpoint, "POST", "faults", {"mutating": mutating, "probability": 1.0})

    results = {
        "DeleteTags": mutate(ec2_a),
        "CreateVpc": outcome(lambda: ec2_a.create_vpc(CidrBlock="10.0.0.0/16")),
        "DescribeTransitGateways": describe(ec2_a),
        "SearchTransitGatewayRoutes": outcome(
            lambda: ec2_a.search_transit_gateway_routes(
                TransitGatewayRouteTableId="tgw-rtb-0123456789abcdef0",
                Filters=[{"Name": "type", "Values": ["static"]}],
            )
        ),
    }

    action_is_mutating = {"DeleteTags": True, "CreateVpc": True, "DescribeTransitGateways": False,
                          "SearchTransitGatewayRoutes": False}
    assert results == {
        action: THROTTLED if is_mutating == mutating else "ok" for action, is_mutating in action_is_mutating.items()
    }


def test_given_region_and_mutating_when_calling_then_only_that_region_and_class_fail(
    endpoint, ec2_a, ec2_b
):
    harness(endpoint, "POST", "faults", {"mutating": True, "region": ACCEPTER, "probability": 1.0})

    assert mutate(ec2_b) == THROTTLED
    assert describe(ec2_b) == "ok"
    assert mutate(ec2_a) == "ok"
    assert harness(endpoint, "GET", "calls")["throttled"] == {"DeleteTags": 1}


def test_given_action_and_actions_together_or_no_target_when_posting_then_http_400(endpoint):
    for bad in (
        {"action": "DescribeVpcs", "actions": ["DeleteTags"]},
        {"actions": []},
        {"actions": "DeleteTags"},
        {"mutating": "yes"},
        {"code": "InternalError"},
        {"action": "*", "probability": 0},
        {"action": "*", "probability": 1.5},
        {"action": "*", "probability": True},
        {"action": "*", "seed": 4},
        {"action": "*", "probability": 0.5, "seed": "x"},
        {"action": "*", "delayMs": -1},
        {"action": "*", "delayMs": 10, "httpStatus": 500},
        {"action": "*", "times": 0},
    ):
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            harness(endpoint, "POST", "faults", bad)
        assert excinfo.value.code == 400, bad
    assert harness(endpoint, "GET", "faults") == {"faults": []}


# --- latency ------------------------------------------------------------------


def test_given_delay_without_code_when_calling_then_call_succeeds_after_the_delay(endpoint, ec2_a):
    posted = harness(endpoint, "POST", "faults", {"action": "DescribeTransitGateways", "delayMs": 300})

    result, elapsed = timed(lambda: describe(ec2_a))

    assert posted["faults"][0]["code"] is None and posted["faults"][0]["times"] == 1
    assert result == "ok"
    assert elapsed >= 0.3
    assert harness(endpoint, "GET", "faults") == {"faults": []}
    assert harness(endpoint, "GET", "calls")["faulted"] == {}


def test_given_delay_with_code_when_calling_then_error_comes_after_the_delay(endpoint, ec2_a):
    harness(
        endpoint,
        "POST",
        "faults",
        {"action": "DeleteTags", "delayMs": 250, "code": "InternalError", "httpStatus": 500},
    )

    result, elapsed = timed(lambda: mutate(ec2_a))

    assert result == "InternalError"
    assert elapsed >= 0.25


def test_given_delay_for_mutating_calls_in_one_region_when_calling_then_only_those_use_it(
    endpoint, ec2_a, ec2_b
):
    harness(endpoint, "POST", "faults", {"mutating": True, "region": ACCEPTER, "delayMs": 200})

    describe(ec2_b)
    mutate(ec2_a)
    assert harness(endpoint, "GET", "faults")["faults"][0]["times"] == 1  # not used yet
    result, elapsed = timed(lambda: mutate(ec2_b))

    assert result == "ok" and elapsed >= 0.2
    assert harness(endpoint, "GET", "faults") == {"faults": []}


def test_given_delay_with_probability_when_calling_then_each_delayed_call_adds_its_delay(
    endpoint, ec2_a
):
    harness(endpoint, "POST", "faults", {"action": "*", "delayMs": 25, "probability": 0.5, "times": 1000})

    outcomes, elapsed = timed(lambda: [describe(ec2_a) for _ in range(40)])

    delayed = 1000 - harness(endpoint, "GET", "faults")["faults"][0]["times"]
    assert outcomes == ["ok"] * 40
    assert 0 < delayed < 40
    assert elapsed >= delayed * 0.025


def test_given_latency_rule_before_throttling_rule_when_calling_then_delayed_and_throttled(
    endpoint, ec2_a
):
    harness(endpoint, "POST", "faults", {"action": "*", "delayMs": 200})
    harness(endpoint, "POST", "faults", {"action": "DescribeTransitGateways"})

    result, elapsed = timed(lambda: describe(ec2_a))

    assert result == THROTTLED and elapsed >= 0.2
    assert harness(endpoint, "GET", "faults") == {"faults": []}


def test_given_legacy_fault_body_when_reading_faults_then_old_fields_unchanged(endpoint):
    legacy = {
        "action": "CreateTransitGatewayRoute",
        "code": "RequestLimitExceeded",
        "httpStatus": 503,
        "times": 2,
        "region": "eu-west-1",
        "message": None,
        "dropConnection": False,
    }

    (rule,) = harness(endpoint, "POST", "faults", legacy)["faults"]

    assert {k: rule[k] for k in legacy} == legacy
    assert (rule["probability"], rule["delayMs"], rule["actions"], rule["mutating"]) == (None, 0, None, None)


# --- token bucket over HTTP ----------------------------------------------------


def test_given_rate_limits_without_refill_when_bursting_then_exactly_bucket_calls_then_throttled(
    endpoint, ec2_a
):
    settings = harness(
        endpoint, "POST", "rate-limits", {"mutating": {"bucket": 50, "refillPerSecond": 0}}
    )

    outcomes = [mutate(ec2_a) for _ in range(53)]

    assert settings["enabled"] is True
    assert settings["nonMutating"] == {"bucket": 100, "refillPerSecond": 20}
    assert outcomes == ["ok"] * 50 + [THROTTLED] * 3
    limits = harness(endpoint, "GET", "rate-limits")
    assert limits["calls"] == {
        "mutating": {"allowed": 50, "throttled": 3},
        "nonMutating": {"allowed": 0, "throttled": 0},
    }
    calls = harness(endpoint, "GET", "calls")
    assert calls["throttled"] == calls["faulted"] == {"DeleteTags": 3}
    assert calls["total"] == {"DeleteTags": 53}


def test_given_empty_bucket_when_waiting_then_it_refills_at_the_scaled_rate(endpoint, ec2_a):
    # 1 token/s sped up 20x: 20 tokens per real second, far more than 1/s unscaled.
    harness(
        endpoint,
        "POST",
        "rate-limits",
        {"mutating": {"bucket": 10, "refillPerSecond": 1}, "timeScale": 20},
    )
    drained = 0
    while mutate(ec2_a) == "ok":  # each call takes a token; refill is slower
        drained += 1
        assert drained < 500, "bucket never emptied"

    start = time.monotonic()
    time.sleep(0.2)
    waited = time.monotonic() - start
    refilled = 0
    while mutate(ec2_a) == "ok":
        refilled += 1
        assert refilled < 500, "bucket never emptied"

    assert drained >= 10
    assert refilled >= math.floor(waited * 20)  # at least 4: the scaled refill
    assert harness(endpoint, "GET", "rate-limits")["calls"]["mutating"] == {
        "allowed": drained + refilled,
        "throttled": 2,
    }


def test_given_rate_limits_when_calling_in_two_regions_and_classes_then_buckets_are_separate(
    endpoint, ec2_a, ec2_b
):
    harness(
        endpoint,
        "POST",
        "rate-limits",
        {
            "mutating": {"bucket": 2, "refillPerSecond": 0},
            "nonMutating": {"bucket": 3, "refillPerSecond": 0},
        },
    )

    a_mutating = [mutate(ec2_a) for _ in range(3)]
    a_describe = [describe(ec2_a) for _ in range(4)]
    b_mutating = [mutate(ec2_b) for _ in range(3)]
    b_search = [
        outcome(
            lambda: ec2_b.search_transit_gateway_routes(
                TransitGatewayRouteTableId="tgw-rtb-0123456789abcdef0",
                Filters=[{"Name": "type", "Values": ["static"]}],
            )
        )
        for _ in range(4)
    ]

    assert a_mutating == b_mutating == ["ok", "ok", THROTTLED]
    assert a_describe == ["ok", "ok", "ok", THROTTLED]
    assert b_search[3] == THROTTLED and THROTTLED not in b_search[:3]
    limits = harness(endpoint, "GET", "rate-limits")
    assert limits["byRegion"] == {
        region: {
            "mutating": {"allowed": 2, "throttled": 1},
            "nonMutating": {"allowed": 3, "throttled": 1},
        }
        for region in (REQUESTER, ACCEPTER)
    }
    assert limits["calls"] == {
        "mutating": {"allowed": 4, "throttled": 2},
        "nonMutating": {"allowed": 6, "throttled": 2},
    }


def test_given_per_action_buckets_when_one_action_is_throttled_then_another_still_passes(
    endpoint, ec2_a
):
    harness(
        endpoint,
        "POST",
        "rate-limits",
        {"mutating": {"bucket": 1, "refillPerSecond": 0}, "perAction": True},
    )

    assert [mutate(ec2_a) for _ in range(2)] == ["ok", THROTTLED]
    assert outcome(lambda: ec2_a.create_vpc(CidrBlock="10.0.0.0/16")) == "ok"


def test_given_throttled_by_bucket_when_deleting_rate_limits_then_calls_pass_and_counters_stay(
    endpoint, ec2_a
):
    harness(endpoint, "POST", "rate-limits", {"mutating": {"bucket": 1, "refillPerSecond": 0}})
    assert [mutate(ec2_a) for _ in range(2)] == ["ok", THROTTLED]

    disabled = harness(endpoint, "DELETE", "rate-limits")

    assert disabled["enabled"] is False
    assert disabled["calls"]["mutating"] == {"allowed": 1, "throttled": 1}
    assert [mutate(ec2_a) for _ in range(3)] == ["ok"] * 3
    assert harness(endpoint, "GET", "rate-limits")["calls"]["mutating"] == {"allowed": 1, "throttled": 1}


def test_given_enabled_false_when_posting_rate_limits_then_nothing_is_throttled(endpoint, ec2_a):
    harness(endpoint, "POST", "rate-limits", {"enabled": False, "mutating": {"bucket": 1, "refillPerSecond": 0}})

    assert [mutate(ec2_a) for _ in range(3)] == ["ok"] * 3
    assert harness(endpoint, "GET", "rate-limits")["calls"]["mutating"] == {"allowed": 0, "throttled": 0}


def test_given_rate_limits_and_counters_when_resetting_then_off_with_defaults_and_zeroed(
    endpoint, ec2_a
):
    harness(
        endpoint,
        "POST",
        "rate-limits",
        {"mutating": {"bucket": 1, "refillPerSecond": 0}, "timeScale": 10},
    )
    [mutate(ec2_a) for _ in range(2)]
    harness(endpoint, "POST", "faults", {"action": "DescribeTransitGateways", "code": "InternalError", "httpStatus": 500})
    describe(ec2_a)

    harness(endpoint, "POST", "reset")

    assert harness(endpoint, "GET", "rate-limits") == {
        "enabled": False,
        "mutating": {"bucket": 50, "refillPerSecond": 5},
        "nonMutating": {"bucket": 100, "refillPerSecond": 20},
        "timeScale": 1.0,
        "perAction": False,
        "calls": {
            "mutating": {"allowed": 0, "throttled": 0},
            "nonMutating": {"allowed": 0, "throttled": 0},
        },
        "byRegion": {},
    }
    assert harness(endpoint, "GET", "calls") == NO_CALLS
    assert mutate(ec2_a) == "ok"


def test_given_fault_rule_and_bucket_when_rule_fires_then_bucket_is_untouched(endpoint, ec2_a):
    harness(endpoint, "POST", "rate-limits", {"mutating": {"bucket": 1, "refillPerSecond": 0}})
    harness(endpoint, "POST", "faults", {"action": "DeleteTags", "code": "InternalError", "httpStatus": 500})

    assert [mutate(ec2_a) for _ in range(3)] == ["InternalError", "ok", THROTTLED]
    calls = harness(endpoint, "GET", "calls")
    assert calls["faulted"] == {"DeleteTags": 2}
    assert calls["throttled"] == {"DeleteTags": 1}


def test_given_counters_when_resetting_calls_then_fault_and_rate_limit_counters_are_zeroed(
    endpoint, ec2_a
):
    harness(endpoint, "POST", "rate-limits", {"mutating": {"bucket": 1, "refillPerSecond": 0}})
    harness(endpoint, "POST", "faults", {"action": "DescribeTransitGateways", "dropConnection": True})
    [mutate(ec2_a) for _ in range(2)]
    assert describe(ec2_a) == "dropped"
    assert harness(endpoint, "GET", "calls")["faulted"] == {"DeleteTags": 1, "DescribeTransitGateways": 1}

    harness(endpoint, "POST", "calls/reset")

    assert harness(endpoint, "GET", "calls") == NO_CALLS
    limits = harness(endpoint, "GET", "rate-limits")
    assert limits["enabled"] is True and limits["byRegion"] == {}
    assert mutate(ec2_a) == THROTTLED  # the bucket itself is not refilled


def test_given_parallel_callers_when_bucket_and_rule_are_shared_then_counts_are_exact(endpoint):
    harness(endpoint, "POST", "rate-limits", {"mutating": {"bucket": 30, "refillPerSecond": 0}})
    harness(endpoint, "POST", "faults", {"action": "DescribeTransitGateways", "times": 15})
    clients = [client(endpoint, REQUESTER, max_pool_connections=2) for _ in range(8)]

    def work(ec2) -> list[str]:
        return [mutate(ec2) for _ in range(10)] + [describe(ec2) for _ in range(10)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = [o for result in pool.map(work, clients) for o in result]

    assert outcomes.count("ok") == 30 + 65
    assert outcomes.count(THROTTLED) == 50 + 15
    calls = harness(endpoint, "GET", "calls")
    assert calls["throttled"] == {"DeleteTags": 50, "DescribeTransitGateways": 15}
    assert harness(endpoint, "GET", "rate-limits")["calls"] == {
        "mutating": {"allowed": 30, "throttled": 50},
        "nonMutating": {"allowed": 65, "throttled": 0},  # calls the rule spared
    }


def test_given_bad_rate_limits_when_posting_then_http_400(endpoint):
    for bad in (
        {"mutating": {"bucket": 0}},
        {"mutating": {"bucket": 1.5}},
        {"mutating": {"refillPerSecond": -1}},
        {"mutating": {"size": 5}},
        {"nonMutating": 5},
        {"timeScale": 0},
        {"timeScale": "fast"},
        {"enabled": "yes"},
        {"perAction": 1},
        {"burst": 5},
    ):
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            harness(endpoint, "POST", "rate-limits", bad)
        assert excinfo.value.code == 400, bad
    assert harness(endpoint, "GET", "rate-limits")["enabled"] is False


# --- token bucket arithmetic (fake clock, no server) ---------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_given_default_limits_when_bursting_then_50_mutating_and_100_non_mutating_tokens():
    limiter = RateLimiter(FakeClock())
    limiter.configure({})

    non_mutating = [limiter.take("DescribeVpcs", REQUESTER) for _ in range(100)]
    # Describe*, List*, Search* and Get* share the non-mutating bucket, now empty.
    others = [
        limiter.take(action, REQUESTER)
        for action in ("DescribeTransitGateways", "ListImagesInRecycleBin",
                       "SearchTransitGatewayRoutes", "GetTransitGatewayRouteTablePropagations")
    ]
    mutating = [limiter.take("CreateTransitGatewayRoute", REQUESTER) for _ in range(51)]

    assert non_mutating == [True] * 100
    assert others == [False] * 4
    assert mutating == [True] * 50 + [False]


def test_given_empty_buckets_when_time_passes_then_refill_at_rate_times_scale_up_to_capacity():
    clock = FakeClock()
    limiter = RateLimiter(clock)
    limiter.configure({"timeScale": 10})
    for _ in range(50):
        limiter.take("DeleteTags", REQUESTER)
    for _ in range(100):
        limiter.take("DescribeVpcs", REQUESTER)

    clock.now += 0.1  # 1 emulated second: 5 mutating and 20 non-mutating tokens
    mutating = [limiter.take("DeleteTags", REQUESTER) for _ in range(6)]
    non_mutating = [limiter.take("DescribeVpcs", REQUESTER) for _ in range(21)]
    clock.now += 100  # far longer than a refill to capacity
    refilled = sum(limiter.take("DeleteTags", REQUESTER) for _ in range(60))

    assert mutating == [True] * 5 + [False]
    assert non_mutating == [True] * 20 + [False]
    assert refilled == 50


def test_given_a_throttled_call_when_time_passes_then_it_took_no_token():
    clock = FakeClock()
    limiter = RateLimiter(clock)
    limiter.configure({"mutating": {"bucket": 1, "refillPerSecond": 2}})
    limiter.take("DeleteTags", REQUESTER)
    throttled = [limiter.take("DeleteTags", REQUESTER) for _ in range(5)]

    clock.now += 0.5  # one token at 2 per second

    assert throttled == [False] * 5
    assert limiter.take("DeleteTags", REQUESTER) is True
    assert limiter.snapshot()["calls"]["mutating"] == {"allowed": 2, "throttled": 5}
