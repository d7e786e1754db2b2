"""Seeds the local emulator with a demo network for scripts/local.sh: a transit gateway in each of
two Regions, VPCs tagged for routing (attached to their transit gateway) and one untagged VPC per
Region that must not be routed. Prints what it made. boto3 reads AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import argparse

import boto3

DEMO = {
    "active": {"tagged": ["10.1.0.0/16", "10.2.0.0/16"], "untagged": "10.9.0.0/16"},
    "passive": {"tagged": ["10.20.0.0/16"], "untagged": "10.29.0.0/16"},
}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--active-region", required=True)
    parser.add_argument("--passive-region", required=True)
    parser.add_argument("--tag-key", default="addToTransitGateway")
    args = parser.parse_args()
    for region, layout in ((args.active_region, DEMO["active"]), (args.passive_region, DEMO["passive"])):
        seed_region(boto3.client("ec2", region_name=region), region, layout, args.tag_key)


if __name__ == "__main__":
    main()
