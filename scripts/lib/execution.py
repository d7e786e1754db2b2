"""Starts a tgw-peering execution and follows it: one line per state as it is entered, with the
elapsed time, then a summary of the routes, the VPC route tables written (with vpcRoutes on) and
the reachability of each VPC pair (exit 0), or the error type and cause (exit 1).

Used by scripts/start.sh. boto3 reads the usual AWS configuration and AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import boto3

FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def state_machine_arn(cfn, stack_name: str) -> str:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "StateMachineArn" not in outputs:
        sys.exit(f"start.sh: stack {stack_name} has no StateMachineArn output; deploy it with scripts/deploy.sh")
    return outputs["StateMachineArn"]


def describe_state(event: dict) -> str | None:
    """One line for a state entered, or a detail worth showing when a task ends or fails."""
    kind = event["type"]
    if kind.endswith("StateEntered"):
        return event["stateEnteredEventDetails"]["name"]
    if kind == "TaskStateExited":
        details = event["stateExitedEventDetails"]
        output = json.loads(details.get("output") or "{}")
        peering = output.get("peering", output)
        if isinstance(peering, dict) and "routes" in peering:
            routes = peering["routes"]
            sides = routes.get("tgwRouteTables", [])
            created = sum(count(side, "created") for side in sides)
            conflicts = sum(count(side, "conflicts") for side in sides)
            remaining = sum(count(side, "remaining") + count(side, "remainingRemovals") for side in sides)
            removed = sum(count(side, "removed") for side in sides)
            pruned = f", {removed} removed" if removed else ""
            more = f", {remaining} to go in the next pass" if remaining else ""
            return f"  {details['name']}: {created} routes created, {conflicts} conflicts{pruned}{more}"
        if isinstance(peering, dict) and "status" in peering:
            passive = peering.get("passiveStatus")
            extra = f", passive side {passive}" if passive else ""
            return f"  {details['name']}: {peering.get('attachmentId', '?')} is {peering['status']}{extra}"
    if kind in ("LambdaFunctionFailed", "TaskFailed"):
        details = event.get("lambdaFunctionFailedEventDetails") or event.get("taskFailedEventDetails") or {}
        return f"  failed: {details.get('error', '?')}"
    return None


def count(report: dict, name: str) -> int:
    """A side report's exact count; its lists stop at a cap on large plans."""
    return report.get("counts", {}).get(name, len(report.get(name, [])))


def listing(report: dict, name: str, cidrs: list[str]) -> str:
    if not cidrs:
        return "-"
    more = count(report, name) - len(cidrs)
    return ", ".join(cidrs) + (f" … and {more} more" if more > 0 else "")


def follow(sfn, execution_arn: str, poll_seconds: float) -> dict:
    seen = 0
    started = None
    while True:
        events = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        for event in events:
            if event["id"] <= seen:
                continue
            seen = event["id"]
            started = started or event["timestamp"]
            line = describe_state(event)
            if line:
                elapsed = (event["timestamp"] - started).total_seconds()
                print(f"{elapsed:7.1f}s  {line}", flush=True)
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] in FINISHED:
            return execution
        time.sleep(poll_seconds)


def print_mesh(report: dict, elapsed: float, status: str = "SUCCEEDED") -> None:
    """A mesh's matrix, one row a pair, then its one-line summary."""
    print(f"{status} in {elapsed:.1f}s: mesh of {len(report.get('mesh', []))} Regions, "
          f"{len(report.get('pairs', []))} pairs")
    rows = [["pair", "attachment", "status", "created", "present", "conflicts", "removed", "reachable", "error"]]
    for row in report.get("pairs", []):
        routes = row.get("routes", {})
        reach = row.get("reachability")
        rows.append([row.get("pair", "?"), row.get("attachmentId") or "-", row.get("status") or "-",
                     routes.get("created", 0), routes.get("present", 0), routes.get("conflicts", 0),
                     routes.get("removed", 0), f"{reach['reachable']}/{reach['vpcPairs']}" if reach else "-",
                     row.get("errorType") or ""])
    print_rows(rows)
    print(f"  {report.get('summary', {}).get('text', '')}")


def mesh_report_in_history(sfn, execution_arn: str) -> dict | None:
    """The MeshReport step's output: a failed mesh's matrix is there, not in the output."""
    report = None
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        for event in page["events"]:
            details = event.get("stateExitedEventDetails") or {}
            if details.get("name") == "MeshReport":
                report = json.loads(details.get("output") or "{}")
    return report


def print_summary(execution: dict) -> None:
    elapsed = (execution["stopDate"] - execution["startDate"]).total_seconds()
    output = json.loads(execution.get("output") or "{}")
    if "summary" in output and isinstance(output.get("pairs"), list):
        print_mesh(output, elapsed)
        return
    if output.get("action") == "teardown":
        print_teardown(output, elapsed)
        return
    if output.get("dryRun"):
        print_plan(output, elapsed)
        return
    flags = [flag for flag in ("created", "accepted") if output.get(flag)]
    print(f"SUCCEEDED in {elapsed:.1f}s: peering attachment {output.get('attachmentId')} "
          f"({', '.join(flags) or 'reused'}) is {output.get('status')}")
    routes = output.get("routes", {})
    if routes.get("passes", 1) > 1:
        print(f"  routes written in {routes['passes']} passes of modify-routes")
    for report in routes.get("tgwRouteTables", []):
        side = report.get("side", "?")
        conflicts = [f"{c['cidr']} (to {c['target']})" for c in report.get("conflicts", [])]
        print(f"  {side:7} {output.get(side + 'Region')} {report.get('routeTableId')}")
        for label, cidrs in (("created", report.get("created", [])), ("present", report.get("present", [])),
                             ("conflicts", conflicts)):
            print(f"    {label:9} {listing(report, label, cidrs)}")
        if count(report, "removed"):
            print(f"    {'removed':9} {listing(report, 'removed', report.get('removed', []))}")
    print_association(output.get("peeringAssociation"))
    print_vpc_route_tables(routes.get("vpcRouteTables"))
    print_reachability(output.get("reachability"))
    print_vpc_routes_off(output)
    print_notice(output)
    for warning in output.get("warnings", []):
        print(f"  warning: {warning}")


def print_notice(output: dict) -> None:
    """The subject of the notice the run published (or would, with notifications on)."""
    notice = output.get("notice")
    if notice:
        print(f"  notice: {notice.get('subject')}")


def print_association(report: dict | None) -> None:
    """Where the peering attachment is associated on each side: the table that looks up traffic
    arriving over it."""
    if not report:
        return
    for side in ("active", "passive"):
        association = report.get(side) or {}
        current = association.get("associatedRouteTableId") or "no table"
        print(f"  peering association, {side}: {association.get('outcome')} "
              f"(wanted {association.get('routeTableId')}, associated with {current})")
        print_return_path(association.get("returnPropagation"))


def print_return_path(report: dict | None) -> None:
    """With returnPropagation: the propagations into the peering's table this execution made."""
    if not report:
        return
    counts = report.get("counts", {})
    enabled = report.get("enabled", [])
    shown = ", ".join(enabled) + (" …" if counts.get("enabled", 0) > len(enabled) else "")
    n, present = counts.get("enabled", 0), counts.get("present", 0)
    print(f"    return path into {report.get('routeTableId')}: {n} propagation{'' if n == 1 else 's'} "
          f"enabled{': ' + shown if enabled else ''}; {present} VPC{'' if present == 1 else 's'} already reached")


def print_vpc_routes_off(output: dict) -> None:
    """With vpcRoutes off the tool leaves the VPC route tables alone, so the pairs it reports
    unreachable only lack their VPC routes; say that, and how to have them written."""
    if output.get("vpcRoutes") is not False:
        return
    print("  note: vpcRoutes is off, so the VPC route tables were not changed: a VPC reaches the "
          "peer's CIDRs only through routes you added")
    print('    to have them written: {"vpcRoutes": true} as the input, or the stack parameter '
          "VpcRoutes=true (scripts/local.sh writes them unless given --without-vpc-routes)")


def print_teardown(output: dict, elapsed: float) -> None:
    """What a teardown removed (or, in a dry run, would remove)."""
    dry = output.get("dryRun")
    verb = "would remove" if dry else "removed"
    head = "DRY RUN teardown" if dry else "TORN DOWN"
    attachment = output.get("attachmentId") or "(none)"
    if output.get("peeringDeleted"):
        fate = "would be deleted" if dry else f"is {output.get('status')}"
    elif output.get("attachmentId"):
        fate = f"left in place: {output.get('peeringKept')}"
    else:
        fate = "not there: nothing to delete"
    print(f"{head} in {elapsed:.1f}s: peering attachment {attachment} {fate}")
    report = output.get("teardown") or {}
    for table in report.get("tgwRouteTables", []):
        side = table.get("side", "?")
        print(f"  {side:7} {output.get(side + 'Region')} {table.get('routeTableId')}")
        print(f"    {verb:12} {listing(table, 'deleted', table.get('deleted', []))}")
        print(f"    {'left alone':12} {listing(table, 'leftAlone', table.get('leftAlone', []))}")
    for table in report.get("vpcRouteTables", []):
        print(f"  vpc {table.get('side'):7} {table.get('routeTableId')}: {verb} "
              f"{listing(table, 'deleted', table.get('deleted', []))}")
    for table in report.get("propagations", []):
        disabling = "would disable" if dry else "disabled"
        n = table.get("count", 0)
        print(f"  {table.get('side', '?'):7} {table.get('routeTableId')}: {disabling} {n} "
              f"propagation{'' if n == 1 else 's'}: {', '.join(table.get('disabled', []))}")
    print_notice(output)


def print_plan(output: dict, elapsed: float) -> None:
    """A dry run's answer: what a real run would do; nothing was changed."""
    peer = output.get("peeringPlan", {})
    peering = output.get("attachmentId") or "(none yet)"
    actions = [name for key, name in (("createPeering", "create"), ("acceptPeering", "accept")) if peer.get(key)]
    print(f"DRY RUN in {elapsed:.1f}s, nothing changed: peering attachment {peering} is {output.get('status')}; "
          f"a real run would {' and '.join(actions) or 'reuse'} it")
    for duplicate in peer.get("deleteDuplicates", []):
        print(f"  would delete duplicate {duplicate}")
    plan = output.get("routePlan", {})
    for report in plan.get("tgwRouteTables", []):
        side = report.get("side", "?")
        conflicts = [f"{c['cidr']} (to {c['target']})" for c in report.get("conflicts", [])]
        print(f"  {side:7} {output.get(side + 'Region')} {report.get('routeTableId')}")
        for label, cidrs in (("create", report.get("create", [])), ("present", report.get("present", [])),
                             ("conflicts", conflicts)):
            print(f"    {label:9} {listing(report, label, cidrs)}")
        if count(report, "remove"):
            print(f"    {'remove':9} {listing(report, 'remove', report.get('remove', []))}")
    for table in plan.get("vpcRouteTables", []):
        counts = ", ".join(f"{count(table, name)} {name}" for name in ("create", "present", "conflicts", "remove")
                           if name != "remove" or count(table, name))
        print(f"  vpc {table.get('side'):7} {table.get('vpcId')} {table.get('routeTableId')}: {counts}")
    print_association(output.get("peeringAssociation"))
    print_reachability(output.get("reachability"))
    for warning in output.get("warnings", []):
        print(f"  warning: {warning}")


def print_vpc_route_tables(tables: list[dict] | None) -> None:
    """One line per VPC route table written (only reported when vpcRoutes is on)."""
    if tables is None:
        return
    print(f"  vpc route tables: {len(tables)}")
    rows = []
    for table in tables:
        counts = ", ".join(f"{count(table, name)} {name}" for name in ("created", "present", "conflicts", "removed")
                           if name != "removed" or count(table, name))
        remaining = count(table, "remaining") + count(table, "remainingRemovals")
        rows.append([table.get("side", "?"), table.get("vpcId", "?"), table.get("routeTableId", "?"),
                     counts + (f", {remaining} remaining" if remaining else "")])
    print_rows(rows)


def print_reachability(report: dict | None) -> None:
    """The reachability report: a count, then one aligned row per VPC pair listed (unreachable ones
    first, as modify-routes lists them), naming the first hop missing."""
    if report is None:
        return
    results = report.get("results", [])
    pairs = report.get("pairs", len(results))
    print(f"  reachability: {report.get('reachable', 0)} of {pairs} VPC pairs reachable")
    rows = []
    for result in results:
        kind = result.get("result", "?")
        row = [result.get("activeVpcId", "?"), result.get("passiveVpcId", "?"), kind]
        if kind == "noTgwAttachment":
            row += ["-", result.get("region", ""), result.get("vpcId", ""),
                    f"not attached to {result.get('transitGatewayId', '?')}"]
        elif kind != "reachable":
            cidr = result.get("cidr", "")
            if kind == "conflict":
                cidr += f" → {result.get('target', '?')} (expected {result.get('expected', '?')})"
            row += [result.get("direction", "-"), result.get("region", ""), result.get("routeTableId", ""), cidr]
        rows.append(row)
    print_rows(rows)
    if pairs > len(results):
        print(f"    … and {pairs - len(results)} more pairs")


def print_rows(rows: list[list[str]]) -> None:
    """Rows of cells in columns as wide as their widest cell, indented under their heading."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows if len(row) > i) for i in range(max(map(len, rows), default=0))]
    for row in rows:
        print("    " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(prog="start.sh", description=__doc__)
    parser.add_argument("input", nargs="?", help="execution input, a JSON file (default: {})")
    parser.add_argument("--stack-name", default="tgw-peering")
    parser.add_argument("--state-machine-arn", help="instead of reading it from the stack's outputs")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often to read the history")
    parser.add_argument("--dry-run", action="store_true",
                        help='add "dryRun": true to the input: report the plan, change nothing')
    parser.add_argument("--teardown", action="store_true",
                        help='add "action": "teardown" to the input (what scripts/teardown.sh does)')
    args = parser.parse_args()

    payload = "{}"
    if args.input:
        with open(args.input, encoding="utf-8") as f:
            payload = f.read()
        try:
            json.loads(payload)
        except json.JSONDecodeError as e:
            sys.exit(f"start.sh: {args.input} is not JSON: {e}")
    if args.dry_run or args.teardown:
        request = json.loads(payload)
        if not isinstance(request, dict):
            sys.exit("start.sh: --dry-run and --teardown need the input to be a JSON object")
        if args.dry_run:
            request["dryRun"] = True
        if args.teardown:
            request["action"] = "teardown"
        payload = json.dumps(request)

    sfn = boto3.client("stepfunctions")
    arn = args.state_machine_arn or state_machine_arn(boto3.client("cloudformation"), args.stack_name)
    execution_arn = sfn.start_execution(stateMachineArn=arn, input=payload)["executionArn"]
    print(f"started {execution_arn}", flush=True)
    execution = follow(sfn, execution_arn, args.poll_seconds)
    if execution["status"] == "SUCCEEDED":
        print_summary(execution)
        return 0
    if execution.get("error") == "MeshPairsFailed":
        report = mesh_report_in_history(sfn, execution_arn)
        if report:
            elapsed = (execution["stopDate"] - execution["startDate"]).total_seconds()
            print_mesh(report, elapsed, execution["status"])
    cause = execution.get("cause", "")
    try:  # a function error's cause is its error JSON; show the message
        cause = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        pass
    print(f"{execution['status']}: {execution.get('error', '?')}: {cause}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
