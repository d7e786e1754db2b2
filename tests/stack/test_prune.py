"""Prune through the deployed stack, as an operator runs it (`scripts/start.sh`): the stack
parameters `Prune` and `PruneThreshold` reach every run; a VPC untagged loses its routes on the
other side; untagging every VPC of a side is refused whole by the guard (every route of the other side would go) with no mutating call,
and a run with `confirmPrune` set to the count it named goes through.
"""

from __future__ import annotations

import json
import subprocess

from stack_support import ACTIVE, PASSIVE, ROOT, STACK, LocalAws, harness, record


def untag(local_aws: LocalAws, region: str, cidr: str) -> None:
    ec2 = local_aws.client("ec2", region)
    (vpc,) = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == cidr]
    ec2.delete_tags(Resources=[vpc], Tags=[{"Key": "addToTransitGateway"}])


def start_sh(local_aws: LocalAws, tmp_path, request: dict | None = None) -> subprocess.CompletedProcess:
    args = [str(ROOT / "scripts/start.sh")]
    if request is not None:
        path = tmp_path / "input.json"
        path.write_text(json.dumps(request))
        args.append(str(path))
    return subprocess.run([*args, "--stack-name", STACK], env=local_aws.env, capture_output=True, text=True,
                          timeout=180)


def test_prune_removes_an_untagged_vpcs_route_and_the_guard_refuses_a_whole_side_until_confirmed(
        local_aws, tmp_path):
    local_aws.deploy("Prune=true", "PruneThreshold=50")
    first = local_aws.run({})
    assert first.status == "SUCCEEDED", first.described
    assert set(local_aws.static_routes(PASSIVE)) == {"10.1.0.0/16", "10.2.0.0/16"}

    untag(local_aws, ACTIVE, "10.2.0.0/16")
    done = start_sh(local_aws, tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert set(local_aws.static_routes(PASSIVE)) == {"10.1.0.0/16"}
    assert set(local_aws.static_routes(ACTIVE)) == {"10.20.0.0/16"}
    assert any(line.split()[:2] == ["removed", "10.2.0.0/16"] for line in done.stdout.splitlines()), done.stdout

    # Every tagged VPC of the active side untagged (as a misspelt tag would look): refused whole.
    untag(local_aws, ACTIVE, "10.1.0.0/16")
    harness(local_aws.endpoint, "POST", "calls/reset")
    refused = local_aws.run({})

    assert refused.status == "FAILED", refused.described
    assert refused.described["error"] == "PruneRefused", refused.described
    cause = json.loads(refused.described["cause"])["errorMessage"]
    assert "would remove 1 of the 2 routes" in cause and "passive side" in cause, cause
    assert '"confirmPrune": 1' in cause, cause
    assert local_aws.mutating_calls() == {}
    assert set(local_aws.static_routes(PASSIVE)) == {"10.1.0.0/16"}

    confirmed = local_aws.run({"confirmPrune": 1})

    assert confirmed.status == "SUCCEEDED", confirmed.described
    assert local_aws.static_routes(PASSIVE) == {}
    assert set(local_aws.static_routes(ACTIVE)) == {"10.20.0.0/16"}, "still wanted: the passive VPC is tagged"
    record("prune through the deployed stack: a whole side untagged, then confirmed",
           runs=2, mutatingCalls=0, foreignLost=0,
           outcome="PruneRefused with no write (every route of the passive side); confirmPrune: 1 then removed it")


def test_without_prune_an_untagged_vpcs_route_stays(local_aws):
    local_aws.deploy()
    assert local_aws.run({}).status == "SUCCEEDED"
    untag(local_aws, ACTIVE, "10.2.0.0/16")
    harness(local_aws.endpoint, "POST", "calls/reset")

    again = local_aws.run({})

    assert again.status == "SUCCEEDED", again.described
    assert set(local_aws.static_routes(PASSIVE)) == {"10.1.0.0/16", "10.2.0.0/16"}
    assert local_aws.mutating_calls() == {}
