"""A segmented network through the deployed stack (what `scripts/local.sh --segmented` shows):
each transit gateway with default association and propagation off, a segment table the VPC
attachments use and a peering table, and a dual-stack VPC on each side. The real state machine
associates the peering with the peering tables, waits for the association, routes the segment
tables, and ends with every pair reachable over IPv4 and IPv6.
"""

from __future__ import annotations

import ipaddress

import seed_demo  # noqa: E402  (stack_support puts scripts/lib on the path)
import subprocess

from stack_support import ACTIVE, BUCKET, PASSIVE, ROOT, STACK, LocalAws, harness, side_table


def seed_segmented(local_aws: LocalAws, propagate: bool = True) -> dict[str, str]:
    """Replaces the demo network with the segmented one; returns each side's peering table."""
    harness(local_aws.endpoint, "POST", "reset")
    local_aws.client("s3").create_bucket(Bucket=BUCKET)
    tables = {}
    for side, region in (("active", ACTIVE), ("passive", PASSIVE)):
        tables[side] = seed_demo.seed_segmented_region(
            local_aws.client("ec2", region), region, seed_demo.DEMO[side], "addToTransitGateway",
            propagate=propagate)
    harness(local_aws.endpoint, "POST", "calls/reset")
    return tables


def segment_table(local_aws: LocalAws, region: str, peering_table: str) -> str:
    ec2 = local_aws.client("ec2", region)
    (table,) = [t["TransitGatewayRouteTableId"] for t in ec2.describe_transit_gateway_route_tables()[
        "TransitGatewayRouteTables"] if t["TransitGatewayRouteTableId"] != peering_table]
    return table


def ipv6_blocks(local_aws: LocalAws, region: str) -> list[str]:
    """The Region's VPC IPv6 blocks, in canonical form (moto may write a group with a leading
    zero; the functions write what they parse)."""
    vpcs = local_aws.client("ec2", region).describe_vpcs()["Vpcs"]
    return [str(ipaddress.ip_network(b["Ipv6CidrBlock"]))
            for v in vpcs for b in v.get("Ipv6CidrBlockAssociationSet", [])]


def association(local_aws: LocalAws, region: str, attachment: str) -> tuple[str, str]:
    (found,) = local_aws.client("ec2", region).describe_transit_gateway_attachments(
        TransitGatewayAttachmentIds=[attachment])["TransitGatewayAttachments"]
    return found["Association"]["TransitGatewayRouteTableId"], found["Association"]["State"]


def test_a_segmented_dual_stack_network_ends_with_every_pair_reachable_over_both_families(local_aws):
    peering_tables = seed_segmented(local_aws)
    local_aws.deploy("VpcRoutes=true", f"ActivePeeringRouteTableId={peering_tables['active']}",
                     f"PassivePeeringRouteTableId={peering_tables['passive']}")

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    output = run.output
    attachment = output["attachmentId"]
    # The peering is associated with the peering table on both sides, and the state machine
    # waited for the association with its Wait state.
    assert association(local_aws, ACTIVE, attachment) == (peering_tables["active"], "associated")
    assert association(local_aws, PASSIVE, attachment) == (peering_tables["passive"], "associated")
    assert run.entered("WaitAssociation"), run.entered()
    assert output["peeringAssociation"]["settled"] is True
    # The routes to the other side are in the segment tables, IPv6 blocks included.
    active_segment = segment_table(local_aws, ACTIVE, peering_tables["active"])
    routed = side_table(output["routes"], "active")
    assert routed["routeTableId"] == active_segment
    assert set(routed["created"]) == set(seed_demo.DEMO["passive"]["tagged"]) | set(ipv6_blocks(local_aws, PASSIVE))
    passive_routed = side_table(output["routes"], "passive")["created"]
    assert set(ipv6_blocks(local_aws, ACTIVE)) <= set(passive_routed)
    reachability = output["reachability"]
    assert (reachability["pairs"], reachability["reachable"]) == (2, 2), reachability
    assert output["warnings"] == [], output["warnings"]

    harness(local_aws.endpoint, "POST", "calls/reset")
    again = local_aws.run({})
    assert again.status == "SUCCEEDED", again.described
    assert local_aws.mutating_calls() == {}
    assert again.output["reachability"]["reachable"] == 2


def propagating(local_aws: LocalAws, region: str, table: str) -> set[str]:
    found = local_aws.client("ec2", region).get_transit_gateway_route_table_propagations(
        TransitGatewayRouteTableId=table)["TransitGatewayRouteTablePropagations"]
    return {p["TransitGatewayAttachmentId"] for p in found}


def test_with_return_propagation_the_peering_tables_learn_the_vpcs_and_every_pair_is_reachable(local_aws):
    # What `scripts/local.sh --return-propagation` shows: the VPC attachments do not propagate
    # into the peering tables, so traffic arriving over the peering has no route to them.
    peering_tables = seed_segmented(local_aws, propagate=False)
    local_aws.deploy("VpcRoutes=true", "ReturnPropagation=true",
                     f"ActivePeeringRouteTableId={peering_tables['active']}",
                     f"PassivePeeringRouteTableId={peering_tables['passive']}")

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    output = run.output
    assert output["returnPropagation"] is True
    for side, region, vpcs in (("active", ACTIVE, 2), ("passive", PASSIVE, 1)):
        enabled = output["peeringAssociation"][side]["returnPropagation"]["enabled"]
        assert len(enabled) == vpcs, output["peeringAssociation"]
        assert propagating(local_aws, region, peering_tables[side]) == set(enabled)
    assert run.entered("WaitAssociation"), run.entered()
    reachability = output["reachability"]
    assert (reachability["pairs"], reachability["reachable"]) == (2, 2), reachability

    # A re-run through start.sh, as an operator would: nothing to do, and it says so.
    harness(local_aws.endpoint, "POST", "calls/reset")
    printed = start_sh(local_aws)
    assert local_aws.mutating_calls() == {}
    assert sum("return path into" in line and "0 propagations enabled" in line for line in printed) == 2, printed

    printed = start_sh(local_aws, "--teardown")
    for side, region in (("active", ACTIVE), ("passive", PASSIVE)):
        assert propagating(local_aws, region, peering_tables[side]) == set()
    assert any("disabled 2 propagations" in line for line in printed), printed


def start_sh(local_aws: LocalAws, *args: str) -> list[str]:
    """scripts/start.sh against the deployed stack; its printed lines."""
    done = subprocess.run([str(ROOT / "scripts/start.sh"), *args, "--stack-name", STACK], env=local_aws.env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


PROPAGATION_RECORD = "tgw-peering:propagations:"


def table_tags(local_aws: LocalAws, region: str, table: str) -> dict[str, str]:
    (found,) = local_aws.client("ec2", region).describe_transit_gateway_route_tables(
        TransitGatewayRouteTableIds=[table])["TransitGatewayRouteTables"]
    return {tag["Key"]: tag["Value"] for tag in found.get("Tags", [])}


def recorded_propagations(local_aws: LocalAws, region: str, table: str) -> set[str]:
    """The attachments the table's propagation record names (every peering's)."""
    return {word for key, value in table_tags(local_aws, region, table).items()
            if key.startswith(PROPAGATION_RECORD) for word in value.split()}


def test_a_refused_enable_leaves_no_false_record_and_a_leftover_entry_is_dropped_by_the_next_run(local_aws):
    # Given the return-propagation network, and EC2 refusing the first enable on the active side.
    peering_tables = seed_segmented(local_aws, propagate=False)
    local_aws.deploy("VpcRoutes=true", "ReturnPropagation=true",
                     f"ActivePeeringRouteTableId={peering_tables['active']}",
                     f"PassivePeeringRouteTableId={peering_tables['passive']}")
    harness(local_aws.endpoint, "POST", "faults", {"action": "EnableTransitGatewayRouteTablePropagation",
                                                   "region": ACTIVE, "code": "IncorrectState", "times": 1})

    # When a run meets the refusal.
    failed = local_aws.run({})

    # Then it fails naming it, and each table's record names only propagations that are on:
    # none of the active side's (the first was refused, the second never tried).
    assert failed.status == "FAILED", failed.described
    assert "EnableTransitGatewayRouteTablePropagation" in failed.described["cause"], failed.described
    for side, region in (("active", ACTIVE), ("passive", PASSIVE)):
        recorded = recorded_propagations(local_aws, region, peering_tables[side])
        assert recorded <= propagating(local_aws, region, peering_tables[side]), (side, recorded)
    assert recorded_propagations(local_aws, ACTIVE, peering_tables["active"]) == set()

    # Given an entry left as a crash between the record and its enable would leave it: an
    # attachment whose propagation is off and that the tool does not want enabled.
    harness(local_aws.endpoint, "DELETE", "faults")
    tags = table_tags(local_aws, PASSIVE, peering_tables["passive"])
    (key,) = [k for k in tags if k.startswith(PROPAGATION_RECORD)]
    leftover = "tgw-attach-0123456789abcdef0"
    local_aws.client("ec2", PASSIVE).create_tags(
        Resources=[peering_tables["passive"]], Tags=[{"Key": key, "Value": f"{tags[key]} {leftover}"}])

    # When the next run goes.
    again = local_aws.run({})

    # Then it converges: every wanted propagation enabled and recorded, and nothing else recorded.
    assert again.status == "SUCCEEDED", again.described
    for side, region, vpcs in (("active", ACTIVE, 2), ("passive", PASSIVE, 1)):
        on = propagating(local_aws, region, peering_tables[side])
        assert len(on) == vpcs
        assert recorded_propagations(local_aws, region, peering_tables[side]) == on, side
