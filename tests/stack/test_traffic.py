"""Traffic that really flows, through the deployed stack: the route options (VPC route tables,
extra and propagated CIDRs, the VPC route table quota) set as template parameters reach the
functions, and the reachability report of the real state machine's output agrees with the routes
read back from EC2.

Each test gets a fresh local AWS (the `local_aws` fixture resets it and seeds the demo network),
so the parameters a test deploys with never reach another test.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess

import execution  # noqa: E402  (stack_support puts scripts/lib on the path)
from stack_support import ACTIVE, PASSIVE, ROOT, STACK, LocalAws, harness, side_table

# The demo network (scripts/lib/seed_demo.py).
ACTIVE_TAGGED = {"10.1.0.0/16", "10.2.0.0/16"}
PASSIVE_TAGGED = {"10.20.0.0/16"}
UNTAGGED = {ACTIVE: "10.9.0.0/16", PASSIVE: "10.29.0.0/16"}
EXTRA = ["192.168.0.0/16", "192.169.0.0/16"]  # reached through the active TGW (on-premises)
ON_PREMISES = ["172.16.10.0/24", "172.16.20.0/24"]  # advertised by a VPN on the active TGW


def transit_gateway(local_aws: LocalAws, region: str) -> dict:
    (tgw,) = local_aws.client("ec2", region).describe_transit_gateways()["TransitGateways"]
    return tgw


def vpcs_by_cidr(local_aws: LocalAws, region: str) -> dict[str, str]:
    found = local_aws.client("ec2", region).describe_vpcs()["Vpcs"]
    return {v["CidrBlock"]: v["VpcId"] for v in found if not v.get("IsDefault")}


def main_table(local_aws: LocalAws, region: str, vpc_id: str) -> str:
    tables = local_aws.client("ec2", region).describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    (main,) = [t for t in tables if any(a.get("Main") for a in t.get("Associations", []))]
    return main["RouteTableId"]


def vpc_routes(local_aws: LocalAws, region: str, route_table_id: str) -> dict[str, str]:
    """The table's routes other than the local one: CIDR -> target id."""
    (table,) = local_aws.client("ec2", region).describe_route_tables(
        RouteTableIds=[route_table_id])["RouteTables"]
    routes = {}
    for route in table["Routes"]:
        target = route.get("TransitGatewayId") or route.get("GatewayId")
        if target != "local":
            routes[route["DestinationCidrBlock"]] = target
    return routes


def main_tables(local_aws: LocalAws) -> dict[tuple[str, str], str]:
    """(region, VPC CIDR) -> the VPC's main route table, for every demo VPC."""
    return {(region, cidr): main_table(local_aws, region, vpc)
            for region in (ACTIVE, PASSIVE) for cidr, vpc in vpcs_by_cidr(local_aws, region).items()}


def calls(local_aws: LocalAws) -> dict[str, int]:
    return harness(local_aws.endpoint, "GET", "calls")["total"]


def test_vpc_routes_and_extra_cidrs_set_as_stack_parameters_make_every_vpc_pair_reachable(local_aws):
    local_aws.deploy("VpcRoutes=true", f"ActiveExtraCidrs={','.join(EXTRA)}")

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    output = run.output
    attachment = output["attachmentId"]
    active_tgw = transit_gateway(local_aws, ACTIVE)["TransitGatewayId"]
    passive_tgw = transit_gateway(local_aws, PASSIVE)["TransitGatewayId"]
    assert output["vpcRoutes"] is True
    assert output["extraCidrs"] == {"active": EXTRA, "passive": []}
    # The transit gateway tables: each side's VPCs, and the extra ranges on the passive side.
    assert local_aws.static_routes(ACTIVE) == {cidr: attachment for cidr in PASSIVE_TAGGED}
    assert local_aws.static_routes(PASSIVE) == {cidr: attachment for cidr in ACTIVE_TAGGED | set(EXTRA)}
    # The VPC tables: every remote CIDR via the local transit gateway; untagged VPCs untouched.
    tables = main_tables(local_aws)
    for cidr in ACTIVE_TAGGED:
        assert vpc_routes(local_aws, ACTIVE, tables[ACTIVE, cidr]) == {c: active_tgw for c in PASSIVE_TAGGED}
    for cidr in PASSIVE_TAGGED:
        assert vpc_routes(local_aws, PASSIVE, tables[PASSIVE, cidr]) == {
            c: passive_tgw for c in ACTIVE_TAGGED | set(EXTRA)}
    for region, cidr in UNTAGGED.items():
        assert vpc_routes(local_aws, region, tables[region, cidr]) == {}
    assert calls(local_aws)["CreateRoute"] == len(ACTIVE_TAGGED) * len(PASSIVE_TAGGED) + len(
        PASSIVE_TAGGED) * len(ACTIVE_TAGGED | set(EXTRA))
    # The report: one entry per routed table, and every pair reachable.
    reported = {(t["side"], t["routeTableId"]): t for t in output["routes"]["vpcRouteTables"]}
    expected_tables = {("active", tables[ACTIVE, c]) for c in ACTIVE_TAGGED} | {
        ("passive", tables[PASSIVE, c]) for c in PASSIVE_TAGGED}
    assert set(reported) == expected_tables
    passive_report = reported["passive", tables[PASSIVE, "10.20.0.0/16"]]
    assert passive_report["vpcId"] == vpcs_by_cidr(local_aws, PASSIVE)["10.20.0.0/16"]
    assert sorted(passive_report["created"]) == sorted(ACTIVE_TAGGED | set(EXTRA))
    assert passive_report["conflicts"] == [] and passive_report["remaining"] == []
    reachability = output["reachability"]
    assert reachability["pairs"] == len(ACTIVE_TAGGED) * len(PASSIVE_TAGGED)
    assert reachability["reachable"] == reachability["pairs"] and reachability["unreachable"] == 0
    active_vpcs, passive_vpcs = vpcs_by_cidr(local_aws, ACTIVE), vpcs_by_cidr(local_aws, PASSIVE)
    assert sorted((r["activeVpcId"], r["passiveVpcId"], r["result"]) for r in reachability["results"]) == sorted(
        (active_vpcs[a], passive_vpcs[p], "reachable") for a in ACTIVE_TAGGED for p in PASSIVE_TAGGED)

    # A re-run finds every route in place and changes nothing.
    harness(local_aws.endpoint, "POST", "calls/reset")
    again = local_aws.run({})
    assert again.status == "SUCCEEDED", again.described
    assert local_aws.mutating_calls() == {}
    assert again.output["reachability"]["reachable"] == reachability["pairs"]
    for table in again.output["routes"]["vpcRouteTables"]:
        assert table["created"] == [] and sorted(table["present"]) == sorted(
            reported[table["side"], table["routeTableId"]]["created"]), table


def test_a_vpc_route_table_quota_too_low_fails_with_route_quota_exceeded_before_the_peering_is_created(local_aws):
    # The passive VPC's main table needs a route to each of the two active VPCs: over a quota of 1.
    local_aws.deploy("VpcRoutes=true", "VpcRouteTableQuota=1")
    passive_main = main_table(local_aws, PASSIVE, vpcs_by_cidr(local_aws, PASSIVE)["10.20.0.0/16"])

    run = local_aws.run({})

    assert run.status == "FAILED", run.described
    assert run.described["error"] == "RouteQuotaExceeded"
    assert passive_main in run.described["cause"] and "quota of 1" in run.described["cause"], run.described
    # `peer` refuses it before the create, as modify-routes' first pass would.
    assert run.entered("ModifyRoutes") == [] and run.entered()[-1] == "TaskFailed"
    made = calls(local_aws)
    assert made.get("CreateTransitGatewayPeeringAttachment", 0) == 0, made
    assert made.get("CreateRoute", 0) == 0 and made.get("CreateTransitGatewayRoute", 0) == 0, made
    assert local_aws.static_routes(ACTIVE) == {} and local_aws.static_routes(PASSIVE) == {}
    for (region, _), table in main_tables(local_aws).items():
        assert vpc_routes(local_aws, region, table) == {}


def test_a_request_turning_vpc_routes_off_overrides_the_stack_default_and_writes_no_vpc_route(local_aws):
    local_aws.deploy("VpcRoutes=true")
    tables = main_tables(local_aws)
    active_vpcs, passive_vpcs = vpcs_by_cidr(local_aws, ACTIVE), vpcs_by_cidr(local_aws, PASSIVE)

    run = local_aws.run({"vpcRoutes": False})

    assert run.status == "SUCCEEDED", run.described
    output = run.output
    assert output["vpcRoutes"] is False
    assert "vpcRouteTables" not in output["routes"]
    assert calls(local_aws).get("CreateRoute", 0) == 0
    for (region, _), table in tables.items():
        assert vpc_routes(local_aws, region, table) == {}
    attachment = output["attachmentId"]
    assert local_aws.static_routes(ACTIVE) == {cidr: attachment for cidr in PASSIVE_TAGGED}
    assert local_aws.static_routes(PASSIVE) == {cidr: attachment for cidr in ACTIVE_TAGGED}
    # Each pair's first missing hop is the active VPC's own route to the passive one.
    reachability = output["reachability"]
    assert (reachability["pairs"], reachability["reachable"], reachability["unreachable"]) == (2, 0, 2)
    assert sorted(reachability["results"], key=lambda r: r["activeVpcId"]) == sorted((
        {"activeVpcId": active_vpcs[a], "passiveVpcId": passive_vpcs["10.20.0.0/16"], "result": "noVpcRoute",
         "direction": "there", "region": ACTIVE, "routeTableId": tables[ACTIVE, a], "cidr": "10.20.0.0/16"}
        for a in ACTIVE_TAGGED), key=lambda r: r["activeVpcId"])

    # Without the override the stack's default applies again.
    harness(local_aws.endpoint, "POST", "calls/reset")
    again = local_aws.run({})
    assert again.status == "SUCCEEDED", again.described
    assert again.output["vpcRoutes"] is True
    assert calls(local_aws)["CreateRoute"] == 4
    assert again.output["reachability"]["reachable"] == 2


def test_propagated_cidrs_set_as_a_stack_parameter_routes_a_vpns_ranges_across_the_peering(local_aws):
    ec2 = local_aws.client("ec2", ACTIVE)
    active_tgw = transit_gateway(local_aws, ACTIVE)["TransitGatewayId"]
    gateway = ec2.create_customer_gateway(BgpAsn=65000, PublicIp="203.0.113.10", Type="ipsec.1")
    vpn = ec2.create_vpn_connection(CustomerGatewayId=gateway["CustomerGateway"]["CustomerGatewayId"],
                                    Type="ipsec.1", TransitGatewayId=active_tgw)["VpnConnection"]
    (vpn_attachment,) = ec2.describe_transit_gateway_attachments(
        Filters=[{"Name": "resource-id", "Values": [vpn["VpnConnectionId"]]}])["TransitGatewayAttachments"]
    harness(local_aws.endpoint, "POST", "advertised-routes",
            {"attachmentId": vpn_attachment["TransitGatewayAttachmentId"], "cidrs": ON_PREMISES})
    local_aws.deploy("PropagatedCidrs=true")

    run = local_aws.run({})

    assert run.status == "SUCCEEDED", run.described
    attachment = run.output["attachmentId"]
    assert run.output["propagatedCidrs"] is True
    assert local_aws.static_routes(PASSIVE) == {
        cidr: attachment for cidr in ACTIVE_TAGGED | set(ON_PREMISES)}
    assert local_aws.static_routes(ACTIVE) == {cidr: attachment for cidr in PASSIVE_TAGGED}
    assert sorted(side_table(run.output["routes"], "passive")["created"]) == sorted(ACTIVE_TAGGED | set(ON_PREMISES))


# --- start.sh ------------------------------------------------------------------------------


def start_sh(local_aws: LocalAws, *args: str) -> list[str]:
    done = subprocess.run([str(ROOT / "scripts/start.sh"), *args, "--stack-name", STACK], env=local_aws.env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


def section(lines: list[str], heading: str) -> list[str]:
    """The heading line and the indented rows under it."""
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        rows.append(line)
    return [lines[start], *rows]


def assert_aligned(rows: list[str]) -> None:
    """Each column starts at the same offset in every row (rows may stop early)."""
    starts = [[m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", row)] for row in rows]
    width = min(map(len, starts))
    assert all(s[:width] == starts[0][:width] for s in starts), "\n".join(rows)


def test_start_sh_prints_the_vpc_route_tables_and_the_reachability_of_each_vpc_pair(local_aws, tmp_path):
    active_vpcs, passive_vpcs = vpcs_by_cidr(local_aws, ACTIVE), vpcs_by_cidr(local_aws, PASSIVE)
    tables = main_tables(local_aws)
    passive_vpc, passive_main = passive_vpcs["10.20.0.0/16"], tables[PASSIVE, "10.20.0.0/16"]
    # Someone else's route in the passive VPC: traffic back to the first active VPC goes elsewhere.
    ec2 = local_aws.client("ec2", PASSIVE)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=passive_vpc)
    ec2.create_route(RouteTableId=passive_main, DestinationCidrBlock="10.1.0.0/16", GatewayId=igw)
    passive_tgw = transit_gateway(local_aws, PASSIVE)["TransitGatewayId"]
    local_aws.deploy()

    # VPC routes off (the stack's default): the TGW routes, and each pair's missing VPC route.
    lines = start_sh(local_aws)

    assert "SUCCEEDED" in "\n".join(lines) and "10.20.0.0/16" in "\n".join(lines)
    assert not any(line.startswith("  vpc route tables:") for line in lines), lines
    # The pairs are unreachable only for want of VPC routes, and the summary says so.
    note = section(lines, "  note: vpcRoutes is off, so the VPC route tables were not changed")
    assert "--without-vpc-routes" in note[1] and '{"vpcRoutes": true}' in note[1], note
    report = section(lines, "  reachability:")
    assert report[0] == "  reachability: 0 of 2 VPC pairs reachable", lines
    assert sorted(row.split() for row in report[1:]) == sorted(
        [active_vpcs[a], passive_vpc, "noVpcRoute", "there", ACTIVE, tables[ACTIVE, a], "10.20.0.0/16"]
        for a in ACTIVE_TAGGED), report
    assert_aligned(report[1:])

    # VPC routes on: one line per table written, and the conflict left in the passive VPC.
    request = tmp_path / "input.json"
    request.write_text(json.dumps({"vpcRoutes": True}))
    lines = start_sh(local_aws, str(request))

    written = section(lines, "  vpc route tables:")
    assert written[0] == "  vpc route tables: 3", lines
    assert not any("vpcRoutes is off" in line for line in lines), lines
    assert sorted(row.split(maxsplit=3) for row in written[1:]) == sorted(
        [["active", active_vpcs[a], tables[ACTIVE, a], "1 created, 0 present, 0 conflicts"] for a in ACTIVE_TAGGED]
        + [["passive", passive_vpc, passive_main, "1 created, 0 present, 1 conflicts"]]), written
    assert_aligned(written[1:])
    report = section(lines, "  reachability:")
    assert report[0] == "  reachability: 1 of 2 VPC pairs reachable", lines
    assert [row.split() for row in report[1:]] == [
        [active_vpcs["10.1.0.0/16"], passive_vpc, "conflict", "back", PASSIVE, passive_main, "10.1.0.0/16",
         "→", igw, "(expected", f"{passive_tgw})"],
        [active_vpcs["10.2.0.0/16"], passive_vpc, "reachable"],
    ], report
    assert_aligned(report[1:])


def test_start_sh_summary_says_how_many_pairs_the_report_left_out(capsys):
    # modify-routes lists at most 200 pairs; 250 need more VPCs than a stack test seeds quickly.
    results = [{"activeVpcId": f"vpc-a{i}", "passiveVpcId": "vpc-p", "result": "noTgwAttachment",
                "region": PASSIVE, "vpcId": "vpc-p", "transitGatewayId": "tgw-p"} for i in range(200)]
    now = datetime.datetime.now(datetime.timezone.utc)
    output = {"routes": {}, "reachability": {"pairs": 250, "reachable": 0, "unreachable": 250, "results": results}}

    execution.print_summary({"output": json.dumps(output), "startDate": now, "stopDate": now})

    report = section(capsys.readouterr().out.splitlines(), "  reachability:")
    assert report[0] == "  reachability: 0 of 250 VPC pairs reachable"
    assert report[1].split() == ["vpc-a0", "vpc-p", "noTgwAttachment", "-", PASSIVE, "vpc-p", "not", "attached",
                                 "to", "tgw-p"]
    assert len(report) == 1 + 200 + 1 and report[-1] == "    … and 50 more pairs"
