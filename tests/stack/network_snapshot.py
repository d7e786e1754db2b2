"""What the fault sweep compares: the network as EC2 lists it (transit gateway routes, associations,
propagations and record tags; VPC routes; peering attachments) and the state table (the route
record and whether a lock is held), read with the test's own credentials, with the ids of the
peering attachments, which each run draws anew, replaced by their place in creation order (live ones apart from those deleted, rejected or failed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

GONE = ("deleted", "rejected", "failed")


@dataclass(frozen=True)
class Side:
    """One account's Region, read through `client(service, region)`."""

    region: str
    client: Callable[[str, str], Any]
    account: str = "A"


@dataclass
class Snapshot:
    tgw_routes: set[tuple] = field(default_factory=set)  # (side, table, cidr, target, state)
    associations: set[tuple] = field(default_factory=set)  # (side, table, attachment)
    propagations: set[tuple] = field(default_factory=set)  # (side, table, attachment)
    table_tags: set[tuple] = field(default_factory=set)  # (side, table, key, value)
    vpc_routes: set[tuple] = field(default_factory=set)  # (side, table, destination, target)
    peerings: list[tuple] = field(default_factory=list)  # (label, side, requester tgw, accepter tgw, state)
    record: set[tuple] = field(default_factory=set)  # (pk, sk, routeTableId, cidrs)
    lock_holders: list[str] = field(default_factory=list)  # lock items still held

    def network(self) -> dict[str, Any]:
        """Everything that is on EC2, comparable across runs."""
        return {"tgwRoutes": sorted(self.tgw_routes), "associations": sorted(self.associations),
                "propagations": sorted(self.propagations), "tableTags": sorted(self.table_tags),
                "vpcRoutes": sorted(self.vpc_routes),
                "peerings": sorted(p for p in self.peerings if p[4] not in GONE)}

    def entries(self) -> set[tuple]:
        """Every route, association and propagation, as one set (for "left unchanged" checks)."""
        return ({("tgwRoute", *r) for r in self.tgw_routes} | {("association", *a) for a in self.associations}
                | {("propagation", *p) for p in self.propagations} | {("vpcRoute", *v) for v in self.vpc_routes})


def take(sides: list[Side], state_table: tuple[Callable[[], Any], str] | None) -> Snapshot:
    """Reads every side, then relabels the peering attachments."""
    snapshot = Snapshot()
    peering_ids: dict[str, str] = {}
    for side in sides:
        _read_side(side, snapshot, peering_ids)
    if state_table is not None:
        _read_state_table(*state_table, snapshot)
    return _relabelled(snapshot, peering_ids)


def _name(side: Side) -> str:
    return f"{side.account}:{side.region}"


def _read_side(side: Side, snapshot: Snapshot, peering_ids: dict[str, str]) -> None:
    ec2 = side.client("ec2", side.region)
    name = _name(side)
    for peering in ec2.describe_transit_gateway_peering_attachments()["TransitGatewayPeeringAttachments"]:
        peering_ids.setdefault(peering["TransitGatewayAttachmentId"], str(peering.get("CreationTime", "")))
        snapshot.peerings.append((peering["TransitGatewayAttachmentId"], name,
                                  peering["RequesterTgwInfo"]["TransitGatewayId"],
                                  peering["AccepterTgwInfo"]["TransitGatewayId"], peering["State"]))
    for table in ec2.describe_transit_gateway_route_tables()["TransitGatewayRouteTables"]:
        table_id = table["TransitGatewayRouteTableId"]
        for tag in table.get("Tags", []):
            snapshot.table_tags.add((name, table_id, tag["Key"], tag["Value"]))
        routes = ec2.search_transit_gateway_routes(
            TransitGatewayRouteTableId=table_id, Filters=[{"Name": "type", "Values": ["static"]}])["Routes"]
        for route in routes:
            targets = ",".join(sorted(a["TransitGatewayAttachmentId"]
                                      for a in route.get("TransitGatewayAttachments", [])))
            snapshot.tgw_routes.add((name, table_id, route.get("DestinationCidrBlock")
                                     or route.get("PrefixListId", ""), targets, route["State"]))
        for association in ec2.get_transit_gateway_route_table_associations(
                TransitGatewayRouteTableId=table_id)["Associations"]:
            if association["State"] in ("associated", "associating"):
                snapshot.associations.add((name, table_id, association["TransitGatewayAttachmentId"]))
        for propagation in ec2.get_transit_gateway_route_table_propagations(
                TransitGatewayRouteTableId=table_id)["TransitGatewayRouteTablePropagations"]:
            if propagation["State"] in ("enabled", "enabling"):
                snapshot.propagations.add((name, table_id, propagation["TransitGatewayAttachmentId"]))
    for table in ec2.describe_route_tables()["RouteTables"]:
        for route in table.get("Routes", []):
            if route.get("GatewayId") == "local":
                continue
            destination = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock") \
                or route.get("DestinationPrefixListId", "")
            target = next((route[k] for k in ("TransitGatewayId", "GatewayId", "NatGatewayId",
                                              "VpcPeeringConnectionId", "NetworkInterfaceId") if route.get(k)), "")
            snapshot.vpc_routes.add((name, table["RouteTableId"], destination, target))


def _read_state_table(dynamodb: Callable[[], Any], table_name: str, snapshot: Snapshot) -> None:
    client = dynamodb()
    for page in client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        for item in page["Items"]:
            values = {k: next(iter(v.values())) for k, v in item.items()}
            if values.get("sk") == "lock":
                if "holder" in values:
                    snapshot.lock_holders.append(values["pk"])
            else:
                snapshot.record.add((values["pk"], values["sk"], values.get("routeTableId", ""),
                                     values.get("cidrs", "")))


def _relabelled(snapshot: Snapshot, peering_ids: dict[str, str]) -> Snapshot:
    """The snapshot with each peering attachment id replaced by `peering-<n>`, n its place in
    creation order (ids are drawn anew by each run; their order and count are what matter)."""
    live = {p[0] for p in snapshot.peerings if p[4] not in GONE}
    labels = {}
    for prefix, ids in (("peering", live), ("gone-peering", set(peering_ids) - live)):
        order = sorted(ids, key=lambda pid: (peering_ids[pid], pid))
        labels.update({pid: f"{prefix}-{n + 1}" for n, pid in enumerate(order)})
    text = json.dumps({k: sorted(v) if isinstance(v, set) else v for k, v in vars(snapshot).items()})
    for pid, label in labels.items():
        text = text.replace(pid, label)
    raw = json.loads(text)
    return Snapshot(
        tgw_routes={tuple(x) for x in raw["tgw_routes"]},
        associations={tuple(x) for x in raw["associations"]},
        propagations={tuple(x) for x in raw["propagations"]},
        table_tags={tuple(x) for x in raw["table_tags"]},
        vpc_routes={tuple(x) for x in raw["vpc_routes"]},
        peerings=sorted({tuple(x) for x in raw["peerings"]}),
        record={tuple(x) for x in raw["record"]},
        lock_holders=raw["lock_holders"],
    )
