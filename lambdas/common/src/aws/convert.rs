//! Conversions from the SDK's types to the plain data the core decides on. Everything the SDK
//! leaves optional is defaulted here, once.

use aws_sdk_ec2::types::{RouteOrigin, RouteState, Tag, TransitGatewayRouteState, TransitGatewayRouteType};
use ipnet::IpNet;

use crate::aws::ec2::TransitGateway;
use crate::plan::attachment::AttachmentState;
use crate::plan::network_acl::{AclEntry, NetworkAcl, PortRange};
use crate::plan::peering::{PeeringAttachment, TgwEnd};
use crate::plan::routing::{Origin, Route};
use crate::plan::security_groups::SecurityGroup;
use crate::plan::vpc_tables::VpcRouteTable;

pub(crate) fn tags_of(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|tag| {
            (
                tag.key().unwrap_or_default().to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub(crate) fn peering_from_sdk(
    attachment: &aws_sdk_ec2::types::TransitGatewayPeeringAttachment,
) -> PeeringAttachment {
    let end = |info: Option<&aws_sdk_ec2::types::PeeringTgwInfo>| TgwEnd {
        transit_gateway_id: info
            .and_then(|i| i.transit_gateway_id())
            .unwrap_or_default()
            .to_owned(),
        region: info.and_then(|i| i.region()).unwrap_or_default().to_owned(),
        owner_id: info.and_then(|i| i.owner_id()).map(str::to_owned),
    };
    PeeringAttachment {
        id: attachment
            .transit_gateway_attachment_id()
            .unwrap_or_default()
            .to_owned(),
        state: AttachmentState::parse(attachment.state().map(|s| s.as_str()).unwrap_or("unknown")),
        requester: end(attachment.requester_tgw_info()),
        accepter: end(attachment.accepter_tgw_info()),
        created_at: attachment.creation_time().map(|t| (t.secs(), t.subsec_nanos())),
        tags: tags_of(attachment.tags()),
    }
}

pub(crate) fn route_from_sdk(route: &aws_sdk_ec2::types::TransitGatewayRoute) -> Option<Route> {
    // Prefix-list routes have no CIDR to match; skip them.
    let cidr: IpNet = route.destination_cidr_block()?.parse().ok()?;
    let attachment = route.transit_gateway_attachments().first();
    let target = attachment
        .and_then(|a| a.transit_gateway_attachment_id())
        .map(str::to_owned);
    let blackhole = matches!(route.state(), Some(TransitGatewayRouteState::Blackhole)) || target.is_none();
    let origin = match route.r#type() {
        Some(TransitGatewayRouteType::Propagated) => Origin::Propagated {
            resource_type: attachment
                .and_then(|a| a.resource_type())
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
        },
        _ => Origin::Static,
    };
    Some(Route {
        cidr,
        target,
        blackhole,
        origin,
    })
}

pub(crate) fn vpc_route_from_sdk(route: &aws_sdk_ec2::types::Route) -> Option<Route> {
    let cidr: IpNet = route
        .destination_cidr_block()
        .or(route.destination_ipv6_cidr_block())?
        .parse()
        .ok()?;
    let target = [
        route.transit_gateway_id(),
        route.gateway_id(),
        route.nat_gateway_id(),
        route.vpc_peering_connection_id(),
        route.network_interface_id(),
        route.instance_id(),
        route.egress_only_internet_gateway_id(),
        route.local_gateway_id(),
        route.carrier_gateway_id(),
        route.core_network_arn(),
    ]
    .into_iter()
    .flatten()
    .next()
    .map(str::to_owned);
    let origin = match route.origin() {
        Some(RouteOrigin::CreateRouteTable) => Origin::Local,
        Some(RouteOrigin::EnableVgwRoutePropagation) => Origin::Propagated {
            resource_type: "vgw".to_owned(),
        },
        _ if target.as_deref() == Some("local") => Origin::Local,
        _ => Origin::Static,
    };
    Some(Route {
        cidr,
        blackhole: matches!(route.state(), Some(RouteState::Blackhole)) || target.is_none(),
        target,
        origin,
    })
}

pub(crate) fn vpc_route_table_from_sdk(table: &aws_sdk_ec2::types::RouteTable) -> VpcRouteTable {
    VpcRouteTable {
        id: table.route_table_id().unwrap_or_default().to_owned(),
        vpc_id: table.vpc_id().unwrap_or_default().to_owned(),
        main: table.associations().iter().any(|a| a.main() == Some(true)),
        subnet_ids: table
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .map(str::to_owned)
            .collect(),
        routes: table.routes().iter().filter_map(vpc_route_from_sdk).collect(),
        tags: tags_of(table.tags()),
    }
}

pub(crate) fn transit_gateway_from_sdk(tgw: &aws_sdk_ec2::types::TransitGateway) -> TransitGateway {
    TransitGateway {
        id: tgw.transit_gateway_id().unwrap_or_default().to_owned(),
        state: tgw.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        owner_id: tgw.owner_id().map(str::to_owned),
        association_default_route_table_id: tgw
            .options()
            .and_then(|o| o.association_default_route_table_id())
            .map(str::to_owned),
    }
}

/// A network ACL as the walk needs it. An entry whose CIDR does not parse is dropped (EC2 gives
/// each entry one of `CidrBlock` and `Ipv6CidrBlock`); protocol names are turned into numbers,
/// the form EC2 answers with.
pub(crate) fn network_acl_from_sdk(acl: &aws_sdk_ec2::types::NetworkAcl) -> NetworkAcl {
    NetworkAcl {
        id: acl.network_acl_id().unwrap_or_default().to_owned(),
        vpc_id: acl.vpc_id().unwrap_or_default().to_owned(),
        is_default: acl.is_default() == Some(true),
        subnet_ids: acl
            .associations()
            .iter()
            .filter_map(|association| association.subnet_id().map(str::to_owned))
            .collect(),
        entries: acl.entries().iter().filter_map(acl_entry_from_sdk).collect(),
    }
}

fn acl_entry_from_sdk(entry: &aws_sdk_ec2::types::NetworkAclEntry) -> Option<AclEntry> {
    let cidr = entry
        .cidr_block()
        .or(entry.ipv6_cidr_block())?
        .parse::<IpNet>()
        .ok()?;
    let protocol = match entry.protocol().unwrap_or("-1") {
        "tcp" => "6",
        "udp" => "17",
        "icmp" => "1",
        "all" => "-1",
        number => number,
    };
    let port = |value: Option<i32>| value.and_then(|port| u16::try_from(port).ok());
    let ports = entry.port_range().and_then(|range| {
        Some(PortRange {
            from: port(range.from())?,
            to: port(range.to())?,
        })
    });
    Some(AclEntry {
        rule_number: entry.rule_number()?,
        egress: entry.egress() == Some(true),
        allow: entry.rule_action() == Some(&aws_sdk_ec2::types::RuleAction::Allow),
        protocol: protocol.to_owned(),
        cidr,
        // A port range given on a rule of another protocol means nothing to EC2.
        ports: ports.filter(|_| matches!(protocol, "6" | "17")),
    })
}

/// A security group's inbound sources: CIDRs (IPv4 and IPv6) and referenced prefix lists.
pub(crate) fn security_group_from_sdk(group: &aws_sdk_ec2::types::SecurityGroup) -> SecurityGroup {
    let permissions = group.ip_permissions();
    SecurityGroup {
        id: group.group_id().unwrap_or_default().to_owned(),
        vpc_id: group.vpc_id().unwrap_or_default().to_owned(),
        ingress_cidrs: permissions
            .iter()
            .flat_map(|rule| {
                let v4 = rule.ip_ranges().iter().filter_map(|range| range.cidr_ip());
                let v6 = rule.ipv6_ranges().iter().filter_map(|range| range.cidr_ipv6());
                v4.chain(v6)
                    .filter_map(|cidr| cidr.parse().ok())
                    .collect::<Vec<IpNet>>()
            })
            .collect(),
        ingress_prefix_lists: permissions
            .iter()
            .flat_map(|rule| {
                rule.prefix_list_ids()
                    .iter()
                    .filter_map(|list| list.prefix_list_id())
            })
            .map(str::to_owned)
            .collect(),
    }
}
