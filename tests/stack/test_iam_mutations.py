"""Mutation test of the functions' IAM grants: each Allow statement of the peer, get-status and
modify-routes roles is removed in turn (replaced by one that allows nothing), the stack deployed
with that template, and the scenarios run until one fails with an access-denied error. A statement
whose removal no scenario notices is either not needed or not exercised by these scenarios: the
test fails and names it.

Off by default (each mutation deploys and runs the stack): TGW_PEERING_IAM_MUTATIONS=1 runs every
mutation, TGW_PEERING_IAM_MUTATIONS=sample a few (TGW_PEERING_IAM_MUTATIONS_SAMPLE, default 3,
chosen with TGW_PEERING_IAM_MUTATIONS_SEED, default 0). Needs the enforcement patch
function_calls_need_their_roles_permissions (on unless skipped).

Not mutated: the roles' `logs` statements (Lambda itself writes the logs with the role; the local
AWS does not), the policies a same-account stack does not deploy (passive-account, mesh-roles,
mesh-regions), the state machine's and EventBridge's roles (moto's interpreter is not a role
session), and the passive account's role's `requests-peerings` policy (a mesh of other accounts'
sides). The passive account's role's other statements are mutated against cross-account scenarios
(default tables; segmented tables with the return path).
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from stack_support import ACTIVE, BUCKET, PASSIVE, TEMPLATE, LocalAws, harness
import seed_demo  # noqa: E402  (stack_support puts scripts/lib on the path)
from test_cross_account import B, B_LAYOUT, ROLE_ARN, ROLE_STACK, ROLE_TEMPLATE, TAG_KEY, as_b, role_parameters, seed_b
from test_mesh import THIRD, mesh_request, seed_mesh
from test_segmented import seed_segmented
from test_stack import POLL_SECONDS, SETTLE_RACE_SECONDS

MODE = os.environ.get("TGW_PEERING_IAM_MUTATIONS", "")
FUNCTION_ROLES = ("PeerRole", "GetStatusRole", "ModifyRoutesRole")
NOT_DEPLOYED_HERE = {"logs", "passive-account", "mesh-roles", "mesh-regions"}
# The services the functions call with their role's credentials.
CALLED_SERVICES = ("ec2:", "dynamodb:", "sts:")
ALLOWS_NOTHING = 'Effect: Allow, Action: "tgw-peering-mutation:NoSuchAction", Resource: "*"'

pytestmark = pytest.mark.skipif(not MODE, reason="set TGW_PEERING_IAM_MUTATIONS=1 (or =sample) to run")


@dataclass(frozen=True)
class Mutation:
    role: str
    policy: str
    sid: str
    start: int  # the statement's first and last line (0-based, inclusive) in the template
    end: int

    @property
    def name(self) -> str:
        return f"{self.role}/{self.policy}/{self.sid}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _resource_blocks(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Each top-level resource's lines (its name at two spaces' indent)."""
    starts = [(i, m.group(1)) for i, line in enumerate(lines) if (m := re.match(r"^  (\w+):\s*$", line))]
    ends = [i for i, _ in starts[1:]] + [len(lines)]
    return {name: (start, end) for (start, name), end in zip(starts, ends)}


def _statement_end(lines: list[str], start: int, limit: int) -> int:
    dash = lines[start].index("-")
    end = start
    for i in range(start + 1, limit):
        if lines[i].strip() and _indent(lines[i]) <= dash:  # the next statement (or its comment)
            break
        if lines[i].strip():
            end = i
    return end


def _policy_name(lines: list[str], start: int, role_start: int) -> str:
    for i in range(start, role_start, -1):
        match = re.search(r"PolicyName: ([\w-]+)", lines[i])
        if match:
            return match.group(1)
    return "?"


def mutations(
    template: Path = TEMPLATE, roles: tuple[str, ...] = FUNCTION_ROLES,
    not_deployed: set[str] = NOT_DEPLOYED_HERE,
) -> list[Mutation]:
    """Every Allow statement of `roles` that the scenarios deploy and that grants something the
    functions call."""
    lines = template.read_text().splitlines()
    blocks = _resource_blocks(lines)
    found = []
    for role in roles:
        role_start, role_end = blocks[role]
        policies_at = next(i for i in range(role_start, role_end) if lines[i].strip() == "Policies:")
        for i in range(policies_at, role_end):
            match = re.match(r"^\s+- (Sid: (\S+)|Effect: Allow)\s*$", lines[i])
            if not match:
                continue
            end = _statement_end(lines, i, role_end)
            text = "\n".join(lines[i:end + 1])
            policy = _policy_name(lines, i, role_start)
            if policy in not_deployed or "Effect: Allow" not in text:
                continue
            if not any(service in text for service in CALLED_SERVICES):
                continue
            found.append(Mutation(role, policy, match.group(2) or f"line{i + 1}", i, end))
    return found


def mutated(mutation: Mutation, directory: Path, template: Path = TEMPLATE) -> Path:
    """The template with the statement replaced by one that allows nothing."""
    lines = template.read_text().splitlines()
    dash = lines[mutation.start].index("-")
    replacement = " " * dash + f"- {{Sid: MutationRemoved, {ALLOWS_NOTHING}}}"
    out = directory / f"{mutation.role}-{mutation.sid}.yaml"
    out.write_text("\n".join(lines[: mutation.start] + [replacement] + lines[mutation.end + 1:]) + "\n")
    return out


def passive_mutations() -> list[Mutation]:
    """The passive account's role, as a cross-account stack deploys it (without RequestsPeerings)."""
    return mutations(ROLE_TEMPLATE, ("PassiveRole",), {"requests-peerings"})


def chosen(every: list[Mutation]) -> list[Mutation]:
    if MODE != "sample":
        return every
    rng = random.Random(int(os.environ.get("TGW_PEERING_IAM_MUTATIONS_SEED", "0")))
    return rng.sample(every, min(len(every), int(os.environ.get("TGW_PEERING_IAM_MUTATIONS_SAMPLE", "3"))))


def denied(run) -> bool:
    """The execution failed because a call was refused (the functions report AccessDenied)."""
    described = run.described
    text = f"{described.get('error', '')} {described.get('cause', '')}"
    return described["status"] == "FAILED" and ("AccessDenied" in text or "not authorized to perform" in text)


def setup_and_teardown(local_aws: LocalAws, template: Path) -> list:
    """Peer with VPC routes, the peering pending for a poll (so get-status runs), then tear down."""
    local_aws.deploy("VpcRoutes=true", template=template)
    local_aws.peering_progression(pendingSeconds=SETTLE_RACE_SECONDS + 0.5 * POLL_SECONDS)
    runs = [local_aws.run({})]
    if not denied(runs[-1]):
        runs.append(local_aws.run({"action": "teardown"}))
    return runs


def return_propagation(local_aws: LocalAws, template: Path) -> list:
    tables = seed_segmented(local_aws, propagate=False)
    local_aws.deploy("VpcRoutes=true", "ReturnPropagation=true", f"ActivePeeringRouteTableId={tables['active']}",
                     f"PassivePeeringRouteTableId={tables['passive']}", template=template)
    runs = [local_aws.run({})]
    if not denied(runs[-1]):
        runs.append(local_aws.run({"action": "teardown"}))
    return runs


def mesh(local_aws: LocalAws, template: Path) -> list:
    """A three-Region mesh, on fresh networks (a mesh failure names its pairs' errors)."""
    harness(local_aws.endpoint, "POST", "reset")
    local_aws.client("s3").create_bucket(Bucket=BUCKET)
    regions = [ACTIVE, PASSIVE, THIRD]
    local_aws.deploy(f"MeshRegions={','.join(regions)}", template=template)
    seed_mesh(local_aws, regions)
    return [local_aws.run(mesh_request(local_aws, regions))]


SCENARIOS = (setup_and_teardown, return_propagation, mesh)


def test_the_mutations_are_found_in_the_template():
    # Given the template, when listing the mutations, then each function role has some, and the
    # grant this tool depends on most (routes via the peering) is among them.
    names = {m.name for m in mutations()}
    assert {m.role for m in mutations()} == set(FUNCTION_ROLES)
    assert "ModifyRoutesRole/ec2/RouteOnlyViaPeeringsInBothRegions" in names
    assert not any("/logs/" in n for n in names)


def test_with_the_template_unchanged_every_scenario_succeeds(local_aws):
    # The control: a mutation counts as caught only by an access-denied failure the template
    # itself does not cause.
    for scenario in SCENARIOS:
        runs = scenario(local_aws, TEMPLATE)
        assert [run.status for run in runs] == ["SUCCEEDED"] * len(runs), (scenario.__name__, runs[-1].described)


@pytest.mark.parametrize("mutation", chosen(mutations()), ids=lambda m: m.name)
def test_without_the_statement_some_scenario_fails_with_access_denied(local_aws, tmp_path, mutation):
    template = mutated(mutation, tmp_path)
    for scenario in SCENARIOS:
        runs = scenario(local_aws, template)
        if any(denied(run) for run in runs):
            return
    pytest.fail(f"{mutation.name}: no scenario failed with access denied without it "
                f"({[s.__name__ for s in SCENARIOS]}): not needed, or not exercised here")


# --- the passive account's role -------------------------------------------------------------------


def _through_the_role(local_aws: LocalAws, role_template: Path, b_tgw: str, *parameters: str) -> list:
    """Deploy the main stack with `parameters` and the role stack in B from `role_template`; peer
    (the peering pending for a poll), then tear down."""
    local_aws.deploy(f"PassiveAccountId={B}", f"PassiveRoleArn={ROLE_ARN}", "VpcRoutes=true", *parameters)
    cfn = as_b(local_aws, "cloudformation")
    cfn.create_stack(StackName=ROLE_STACK, TemplateBody=role_template.read_text(), Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                 for k, v in role_parameters(local_aws.outputs()).items()])
    local_aws.peering_progression(pendingSeconds=SETTLE_RACE_SECONDS + 0.5 * POLL_SECONDS)
    request = {"passiveTransitGatewayId": b_tgw}
    runs = [local_aws.run(request)]
    if not denied(runs[-1]):
        runs.append(local_aws.run({**request, "action": "teardown"}))
    return runs


def cross_account(local_aws: LocalAws, role_template: Path) -> list:
    """The passive gateway in account B with default tables, reached through the role."""
    return _through_the_role(local_aws, role_template, seed_b(local_aws)["TransitGatewayId"])


def cross_account_segmented(local_aws: LocalAws, role_template: Path) -> list:
    """Segmented gateways (a peering table on each side, no default tables) with the return path:
    the peering is associated and propagated into in account B too."""
    harness(local_aws.endpoint, "POST", "reset")
    local_aws.client("s3").create_bucket(Bucket=BUCKET)
    active_table = seed_demo.seed_segmented_region(
        local_aws.client("ec2", ACTIVE), ACTIVE, seed_demo.DEMO["active"], TAG_KEY, propagate=False)
    b_ec2 = as_b(local_aws, "ec2")
    passive_table = seed_demo.seed_segmented_region(b_ec2, PASSIVE, B_LAYOUT, TAG_KEY, propagate=False)
    (b_tgw,) = b_ec2.describe_transit_gateways()["TransitGateways"]
    return _through_the_role(local_aws, role_template, b_tgw["TransitGatewayId"], "ReturnPropagation=true",
                             f"ActivePeeringRouteTableId={active_table}", f"PassivePeeringRouteTableId={passive_table}")


PASSIVE_SCENARIOS = (cross_account, cross_account_segmented)


def test_with_the_passive_role_unchanged_the_cross_account_scenarios_succeed(local_aws):
    for scenario in PASSIVE_SCENARIOS:
        runs = scenario(local_aws, ROLE_TEMPLATE)
        assert [run.status for run in runs] == ["SUCCEEDED"] * len(runs), (scenario.__name__, runs[-1].described)


@pytest.mark.parametrize("mutation", chosen(passive_mutations()), ids=lambda m: m.name)
def test_without_a_passive_role_statement_the_cross_account_scenario_fails_with_access_denied(
    local_aws, tmp_path, mutation
):
    template = mutated(mutation, tmp_path, ROLE_TEMPLATE)
    for scenario in PASSIVE_SCENARIOS:
        if any(denied(run) for run in scenario(local_aws, template)):
            return
    pytest.fail(f"{mutation.name}: no cross-account scenario failed with access denied without it: "
                "not needed, or not exercised here")
