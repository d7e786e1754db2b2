"""Seeds the local emulator with a demo network for scripts/local.sh: a transit gateway in each of
two Regions, VPCs tagged for routing (attached to their transit gateway) and one untagged VPC per
Region that must not be routed. Prints what it made. boto3 reads AWS_ENDPOINT_URL.

With --segmented, each transit gateway has default association and propagation off and two route
tables, as a segmented network runs: `segment`, which the VPC attachments are associated with, and
`peering`, for the peering attachment, into which the VPC attachments propagate. The first tagged
VPC of each side is dual stack (an Amazon-provided IPv6 block, its attachment with Ipv6Support).
With --no-peering-propagation the VPC attachments do not propagate into the peering table, so
traffic arriving over the peering has no route to them (what returnPropagation repairs).
--out FILE writes the two peering tables' ids as JSON, for the stack parameters.
"""

from __future__ import annotations

import argparse
import json

import boto3

DEMO = {
    "active": {"tagged": ["10.1.0.0/16", "10.2.0.0/16"], "untagged": "10.9.0.0/16"},
    "passive": {"tagged": ["10.20.0.0/16"], "untagged": "10.29.0.0/16"},
}



def mesh_layout(index: int) -> dict:
    """Side `index` of a mesh demo: two tagged VPCs and one untagged, in a /12 of its own
    (10.100.0.0/16 and 10.101.0.0/16 for the first side, 10.110.0.0/16 ... for the second)."""
    base = 100 + 10 * index
    return {"tagged": [f"10.{base}.0.0/16", f"10.{base + 1}.0.0/16"], "untagged": f"10.{base + 9}.0.0/16"}


def seed_region(ec2, region: str, layout: dict, tag_key: str, transit_gateway_id: str | None = None) -> None:
    """Seeds `layout` into `region`, on a new transit gateway unless `transit_gateway_id` names one."""
    tgw_id = transit_gateway_id
    if tgw_id is None:
        tgw = ec2.create_transit_gateway(Description="tgw-peering demo")["TransitGateway"]
        tgw_id = tgw["TransitGatewayId"]
        print(f"  {region}: transit gateway {tgw_id}, route table {tgw['Options']['AssociationDefaultRouteTableId']}")
    for cidr in layout["tagged"]:
        vpc = ec2.create_vpc(
            CidrBlock=cidr,
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": tag_key, "Value": "true"}]}],
        )["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        ec2.create_transit_gateway_vpc_attachment(TransitGatewayId=tgw_id, VpcId=vpc, SubnetIds=[subnet])
        print(f"  {region}: VPC {vpc} {cidr}, tagged {tag_key}=true, attached")
    vpc = ec2.create_vpc(CidrBlock=layout["untagged"])["Vpc"]["VpcId"]
    print(f"  {region}: VPC {vpc} {layout['untagged']}, untagged (must not be routed)")


def seed_segmented_region(ec2, region: str, layout: dict, tag_key: str, propagate: bool = True) -> str:
    """Seeds `layout` into `region` as a segmented network; returns the peering route table's id.
    With `propagate` false the VPC attachments do not propagate into the peering table."""
    tgw = ec2.create_transit_gateway(
        Description="tgw-peering segmented demo",
        Options={"DefaultRouteTableAssociation": "disable", "DefaultRouteTablePropagation": "disable"},
    )["TransitGateway"]
    tgw_id = tgw["TransitGatewayId"]
    segment, peering = (
        ec2.create_transit_gateway_route_table(TransitGatewayId=tgw_id)["TransitGatewayRouteTable"][
            "TransitGatewayRouteTableId"
        ]
        for _ in range(2)
    )
    print(f"  {region}: transit gateway {tgw_id} (default association and propagation off), "
          f"segment table {segment}, peering table {peering}")
    for index, cidr in enumerate(layout["tagged"]):
        vpc = ec2.create_vpc(
            CidrBlock=cidr,
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": tag_key, "Value": "true"}]}],
        )["Vpc"]["VpcId"]
        dual_stack = index == 0
        if dual_stack:
            ec2.associate_vpc_cidr_block(VpcId=vpc, AmazonProvidedIpv6CidrBlock=True)
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        attachment = ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=tgw_id, VpcId=vpc, SubnetIds=[subnet],
            Options={"Ipv6Support": "enable" if dual_stack else "disable"},
        )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]
        ec2.associate_transit_gateway_route_table(
            TransitGatewayRouteTableId=segment, TransitGatewayAttachmentId=attachment)
        if propagate:
            ec2.enable_transit_gateway_route_table_propagation(
                TransitGatewayRouteTableId=peering, TransitGatewayAttachmentId=attachment)
        blocks = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0].get("Ipv6CidrBlockAssociationSet", [])
        ipv6 = f" and {blocks[0]['Ipv6CidrBlock']}" if blocks else ""
        print(f"  {region}: VPC {vpc} {cidr}{ipv6}, tagged {tag_key}=true, attached "
              f"(associated with the segment table, "
              f"{'propagating into the peering table' if propagate else 'not propagating into the peering table'})")
    vpc = ec2.create_vpc(CidrBlock=layout["untagged"])["Vpc"]["VpcId"]
    print(f"  {region}: VPC {vpc} {layout['untagged']}, untagged (must not be routed)")
    return peering


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--active-region")
    parser.add_argument("--passive-region")
    parser.add_argument("--mesh", help="comma-separated Regions: seed each as a side of a mesh (mesh_layout)")
    parser.add_argument("--tag-key", default="addToTransitGateway")
    parser.add_argument("--segmented", action="store_true")
    parser.add_argument("--no-peering-propagation", action="store_true",
                        help="with --segmented: the VPC attachments do not propagate into the peering table")
    parser.add_argument("--out", help="with --segmented: write the peering route tables' ids here (JSON)")
    args = parser.parse_args()
    if args.mesh:
        for index, region in enumerate(args.mesh.split(",")):
            seed_region(boto3.client("ec2", region_name=region), region, mesh_layout(index), args.tag_key)
        return
    if not (args.active_region and args.passive_region):
        parser.error("--active-region and --passive-region are required (or --mesh)")
    regions = ((args.active_region, DEMO["active"]), (args.passive_region, DEMO["passive"]))
    if not args.segmented:
        for region, layout in regions:
            seed_region(boto3.client("ec2", region_name=region), region, layout, args.tag_key)
        return
    tables = [seed_segmented_region(boto3.client("ec2", region_name=region), region, layout, args.tag_key,
                                    propagate=not args.no_peering_propagation)
              for region, layout in regions]
    if args.out:
        with open(args.out, "w") as out:
            json.dump({"active": tables[0], "passive": tables[1]}, out)


if __name__ == "__main__":
    main()
