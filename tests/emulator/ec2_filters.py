"""The filter names each EC2 Describe/Search action tgw-peering calls documents.

EC2's model does not list filter names (a Filter is any Name with Values); each action's API
reference page does, under Filter.N, and EC2 refuses any other name with InvalidParameterValue
("The filter 'public-ip' is invalid": boto/boto3#1299, aws/aws-cli#7225). One row per action in
`cloudformation/function-permissions.json` that takes filters, with the page it comes from; the
same lists are in botocore's model documentation of each action's `Filters` member, which
`test_request_models.py` checks this table against.

`tag` in the docs stands for `tag:<key>` (its text: "specify tag:Owner for the filter name"); an
action whose page documents it (or whose `tag-key` text describes it, DescribeTransitGateways)
takes any name starting with `tag:`. Four Transit Gateway actions' pages (Attachments, RouteTables,
VpcAttachments, GetTransitGatewayRouteTablePropagations) list no `tag:` filter although their
resources carry tags; whether EC2 refuses `tag:<key>` there is unverified, so it is let through
(`tag_prefix` "unverified"): refusing it could fail a request AWS answers. The functions send none.
"""

from __future__ import annotations

from dataclasses import dataclass

_REFERENCE = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_{}.html"


@dataclass(frozen=True)
class FilterRow:
    names: frozenset[str]
    tag_prefix: bool | str  # takes tag:<key>: True (documented) or "unverified" (let through)
    source: str


def _row(action: str, names: str, tag_prefix: bool | str) -> tuple[str, FilterRow]:
    return action, FilterRow(frozenset(names.split()), tag_prefix, _REFERENCE.format(action))


FILTERS: dict[str, FilterRow] = dict([
    _row("DescribeNetworkAcls", """
        association.association-id association.network-acl-id association.subnet-id default
        entry.cidr entry.icmp.code entry.icmp.type entry.ipv6-cidr entry.port-range.from
        entry.port-range.to entry.protocol entry.rule-action entry.egress entry.rule-number
        network-acl-id owner-id tag-key vpc-id
    """, tag_prefix=True),
    _row("DescribeRouteTables", """
        association.gateway-id association.main association.route-table-association-id
        association.route-table-id association.subnet-id owner-id route-table-id
        route.destination-cidr-block route.destination-ipv6-cidr-block route.destination-prefix-list-id
        route.egress-only-internet-gateway-id route.gateway-id route.instance-id route.nat-gateway-id
        route.origin route.state route.transit-gateway-id route.vpc-peering-connection-id tag-key vpc-id
    """, tag_prefix=True),
    # The page also names the alternatives availabilityZone, availabilityZoneId, cidr, cidrBlock,
    # defaultForAz ("You can also use ... as the filter name").
    _row("DescribeSecurityGroups", """
        description egress.ip-permission.cidr egress.ip-permission.from-port egress.ip-permission.group-id
        egress.ip-permission.group-name egress.ip-permission.ipv6-cidr egress.ip-permission.prefix-list-id
        egress.ip-permission.protocol egress.ip-permission.to-port egress.ip-permission.user-id group-id
        group-name ip-permission.cidr ip-permission.from-port ip-permission.group-id ip-permission.group-name
        ip-permission.ipv6-cidr ip-permission.prefix-list-id ip-permission.protocol ip-permission.to-port
        ip-permission.user-id owner-id tag-key vpc-id
    """, tag_prefix=True),
    _row("DescribeSubnets", """
        availability-zone availabilityZone availability-zone-id availabilityZoneId
        available-ip-address-count cidr-block cidr cidrBlock customer-owned-ipv4-pool default-for-az
        defaultForAz enable-dns64 enable-lni-at-device-index ipv6-cidr-block-association.association-id
        ipv6-cidr-block-association.ipv6-cidr-block ipv6-cidr-block-association.state ipv6-native
        map-customer-owned-ip-on-launch map-public-ip-on-launch outpost-arn owner-id
        private-dns-name-options-on-launch.enable-resource-name-dns-a-record
        private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record
        private-dns-name-options-on-launch.hostname-type state subnet-arn subnet-id tag-key vpc-id
    """, tag_prefix=True),
    _row("DescribeTransitGatewayAttachments", """
        association.state association.transit-gateway-route-table-id resource-id resource-owner-id
        resource-type state transit-gateway-attachment-id transit-gateway-id transit-gateway-owner-id
    """, tag_prefix="unverified"),
    _row("DescribeTransitGatewayPeeringAttachments", """
        local-owner-id remote-owner-id state tag-key transit-gateway-attachment-id transit-gateway-id
    """, tag_prefix=True),
    _row("DescribeTransitGatewayRouteTables", """
        default-association-route-table default-propagation-route-table state transit-gateway-id
        transit-gateway-route-table-id
    """, tag_prefix="unverified"),
    _row("DescribeTransitGatewayVpcAttachments", """
        state transit-gateway-attachment-id transit-gateway-id vpc-id
    """, tag_prefix="unverified"),
    _row("DescribeTransitGateways", """
        options.amazon-side-asn options.association-default-route-table-id
        options.auto-accept-shared-attachments options.default-route-table-association
        options.default-route-table-propagation options.dns-support
        options.propagation-default-route-table-id options.vpn-ecmp-support owner-id state tag-key
        transit-gateway-id
    """, tag_prefix=True),
    _row("DescribeVpcs", """
        cidr cidr-block-association.association-id cidr-block-association.cidr-block
        cidr-block-association.state dhcp-options-id ipv6-cidr-block-association.association-id
        ipv6-cidr-block-association.ipv6-cidr-block ipv6-cidr-block-association.ipv6-pool
        ipv6-cidr-block-association.state is-default owner-id state tag-key vpc-id
    """, tag_prefix=True),
    _row("GetTransitGatewayRouteTablePropagations", """
        resource-id resource-type transit-gateway-attachment-id
    """, tag_prefix="unverified"),
    _row("SearchTransitGatewayRoutes", """
        attachment.resource-id attachment.resource-type attachment.transit-gateway-attachment-id
        prefix-list-id route-search.exact-match route-search.longest-prefix-match
        route-search.subnet-of-match route-search.supernet-of-match state type
    """, tag_prefix=False),
])


def is_known(action: str, name: str) -> bool:
    """Whether EC2 takes this filter name for this action (actions not in the table: any name)."""
    row = FILTERS.get(action)
    if row is None:
        return True
    return name in row.names or (bool(row.tag_prefix) and name.startswith("tag:") and len(name) > 4)
