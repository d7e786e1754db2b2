//! The EC2 edge: every AWS call the functions make, each returning plain data and logging its
//! action, Region and resulting ids. Nothing here decides anything.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    Filter, ResourceType, RouteOrigin, RouteState, Tag, TagSpecification, TransitGatewayRouteState,
    TransitGatewayRouteType, VpcCidrBlockStateCode,
};
use aws_sdk_ec2::Client;
use ipnet::Ipv4Net;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::peering::{PeeringAttachment, TgwEnd};
use crate::planner::{Origin, Route, Vpc};
use crate::state::AttachmentState;
use crate::vpc_tables::{Subnet, VpcAttachment, VpcRouteTable};

/// Page size for describe calls; EC2's maximum for these actions.
const PAGE_SIZE: i32 = 1000;

/// An EC2 client bound to the Region it talks to, so every log line and error can name it.
#[derive(Clone, Debug)]
pub struct Ec2 {
    client: Client,
    region: String,
}

/// A transit gateway as the functions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitGateway {
    pub id: String,
    pub state: String,
    pub owner_id: Option<String>,
    pub association_default_route_table_id: Option<String>,
}

/// A transit gateway route table as the functions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub transit_gateway_id: String,
    pub state: String,
    pub tags: Vec<(String, String)>,
}

/// The static and propagated routes of one transit gateway route table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableRoutes {
    pub routes: Vec<Route>,
    /// EC2 said more routes matched than it returned and gave no way to page to them.
    pub truncated: bool,
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// EC2 takes at most 200 values in one filter.
const FILTER_VALUES: usize = 200;

fn filter_any(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn is_not_found<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code().is_some_and(|code| code.ends_with(".NotFound"))
}

fn tags_of(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|tag| {
            (
                tag.key().unwrap_or_default().to_owned(),
                tag.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn peering_from_sdk(attachment: &aws_sdk_ec2::types::TransitGatewayPeeringAttachment) -> PeeringAttachment {
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

fn route_from_sdk(route: &aws_sdk_ec2::types::TransitGatewayRoute) -> Option<Route> {
    // Prefix-list and IPv6 routes never match an IPv4 CIDR we route; skip them.
    let cidr: Ipv4Net = route.destination_cidr_block()?.parse().ok()?;
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

fn vpc_route_from_sdk(route: &aws_sdk_ec2::types::Route) -> Option<Route> {
    let cidr: Ipv4Net = route.destination_cidr_block()?.parse().ok()?;
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

fn vpc_route_table_from_sdk(table: &aws_sdk_ec2::types::RouteTable) -> VpcRouteTable {
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

impl Ec2 {
    pub fn new(client: Client, region: impl Into<String>) -> Self {
        Self {
            client,
            region: region.into(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// One transit gateway by id; `None` when EC2 does not know it.
    pub async fn transit_gateway(&self, id: &str) -> Result<Option<TransitGateway>> {
        const ACTION: &str = "DescribeTransitGateways";
        let output = match self
            .client
            .describe_transit_gateways()
            .transit_gateway_ids(id)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(Error::from_sdk(ACTION, &self.region, err)),
        };
        let found = output
            .transit_gateways()
            .iter()
            .map(Self::transit_gateway_from_sdk)
            .find(|tgw| tgw.id == id);
        info!(action = ACTION, region = %self.region, transit_gateway_id = id, found = found.is_some(),
              "described transit gateway");
        Ok(found)
    }

    /// Every transit gateway in the Region that is `available`.
    pub async fn available_transit_gateways(&self) -> Result<Vec<TransitGateway>> {
        const ACTION: &str = "DescribeTransitGateways";
        let items: Vec<_> = self
            .client
            .describe_transit_gateways()
            .filters(filter("state", "available"))
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        // The state filter is a server-side convenience; the decision is made on what came back.
        let available: Vec<TransitGateway> = items
            .iter()
            .map(Self::transit_gateway_from_sdk)
            .filter(|tgw| tgw.state == "available")
            .collect();
        info!(action = ACTION, region = %self.region, available = available.len(),
              "listed available transit gateways");
        Ok(available)
    }

    fn transit_gateway_from_sdk(tgw: &aws_sdk_ec2::types::TransitGateway) -> TransitGateway {
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

    /// One transit gateway route table by id; `None` when EC2 does not know it.
    pub async fn route_table(&self, id: &str) -> Result<Option<RouteTable>> {
        const ACTION: &str = "DescribeTransitGatewayRouteTables";
        let output = match self
            .client
            .describe_transit_gateway_route_tables()
            .transit_gateway_route_table_ids(id)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(Error::from_sdk(ACTION, &self.region, err)),
        };
        let found = output
            .transit_gateway_route_tables()
            .iter()
            .filter(|table| table.transit_gateway_route_table_id() == Some(id))
            .map(|table| RouteTable {
                id: id.to_owned(),
                transit_gateway_id: table.transit_gateway_id().unwrap_or_default().to_owned(),
                state: table.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                tags: tags_of(table.tags()),
            })
            .next();
        info!(action = ACTION, region = %self.region, route_table_id = id, found = found.is_some(),
              "described route table");
        Ok(found)
    }

    /// Every peering attachment visible in the Region, in any state.
    pub async fn peering_attachments(&self) -> Result<Vec<PeeringAttachment>> {
        const ACTION: &str = "DescribeTransitGatewayPeeringAttachments";
        let items: Vec<_> = self
            .client
            .describe_transit_gateway_peering_attachments()
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        info!(action = ACTION, region = %self.region, count = items.len(),
              "listed peering attachments");
        Ok(items.iter().map(peering_from_sdk).collect())
    }

    /// One peering attachment by id; `None` when the Region does not show it.
    pub async fn peering_attachment(&self, id: &str) -> Result<Option<PeeringAttachment>> {
        const ACTION: &str = "DescribeTransitGatewayPeeringAttachments";
        let output = match self
            .client
            .describe_transit_gateway_peering_attachments()
            .transit_gateway_attachment_ids(id)
            .send()
            .await
        {
            Ok(output) => output,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(Error::from_sdk(ACTION, &self.region, err)),
        };
        let found = output
            .transit_gateway_peering_attachments()
            .iter()
            .map(peering_from_sdk)
            .find(|attachment| attachment.id == id);
        info!(action = ACTION, region = %self.region, attachment_id = id,
               state = found.as_ref().map(|a| a.state.as_str()).unwrap_or("absent"),
               "described peering attachment");
        Ok(found)
    }

    /// Requests a peering from `transit_gateway_id` (in this Region) to the accepter's gateway.
    pub async fn create_peering(
        &self,
        transit_gateway_id: &str,
        accepter: &TgwEnd,
        tags: &[(String, String)],
    ) -> Result<PeeringAttachment> {
        const ACTION: &str = "CreateTransitGatewayPeeringAttachment";
        let tag_specification = tags
            .iter()
            .fold(
                TagSpecification::builder().resource_type(ResourceType::TransitGatewayAttachment),
                |spec, (k, v)| spec.tags(Tag::builder().key(k).value(v).build()),
            )
            .build();
        let output = self
            .client
            .create_transit_gateway_peering_attachment()
            .transit_gateway_id(transit_gateway_id)
            .peer_transit_gateway_id(&accepter.transit_gateway_id)
            .peer_region(&accepter.region)
            .set_peer_account_id(accepter.owner_id.clone())
            .tag_specifications(tag_specification)
            .send()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        let attachment = output
            .transit_gateway_peering_attachment()
            .map(peering_from_sdk)
            .ok_or_else(|| Error::Ec2Unreachable {
                action: ACTION,
                region: self.region.clone(),
                message: "the response has no attachment".to_owned(),
            })?;
        info!(action = ACTION, region = %self.region, transit_gateway_id,
              peer_transit_gateway_id = %accepter.transit_gateway_id, peer_region = %accepter.region,
              attachment_id = %attachment.id, state = %attachment.state, "created peering attachment");
        Ok(attachment)
    }

    /// Accepts a peering attachment on this (the accepter's) side.
    pub async fn accept_peering(&self, attachment_id: &str) -> Result<Option<AttachmentState>> {
        const ACTION: &str = "AcceptTransitGatewayPeeringAttachment";
        let output = self
            .client
            .accept_transit_gateway_peering_attachment()
            .transit_gateway_attachment_id(attachment_id)
            .send()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        let state = output
            .transit_gateway_peering_attachment()
            .map(|a| peering_from_sdk(a).state);
        info!(action = ACTION, region = %self.region, attachment_id,
              state = state.as_ref().map(AttachmentState::as_str).unwrap_or("unknown"),
              "accepted peering attachment");
        Ok(state)
    }

    /// Deletes a peering attachment. One already deleted or being deleted counts as done.
    pub async fn delete_peering(&self, attachment_id: &str) -> Result<()> {
        const ACTION: &str = "DeleteTransitGatewayPeeringAttachment";
        match self
            .client
            .delete_transit_gateway_peering_attachment()
            .transit_gateway_attachment_id(attachment_id)
            .send()
            .await
        {
            Ok(_) => {
                info!(action = ACTION, region = %self.region, attachment_id, "deleted duplicate peering attachment");
                Ok(())
            }
            Err(err) if is_not_found(&err) || err.code() == Some("IncorrectState") => {
                info!(action = ACTION, region = %self.region, attachment_id, code = err.code().unwrap_or_default(),
                      "duplicate peering attachment already gone");
                Ok(())
            }
            Err(err) => Err(Error::from_sdk(ACTION, &self.region, err)),
        }
    }

    /// Every VPC in the Region, with its associated IPv4 CIDR blocks.
    pub async fn vpcs(&self) -> Result<Vec<Vpc>> {
        const ACTION: &str = "DescribeVpcs";
        let items: Vec<_> = self
            .client
            .describe_vpcs()
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        let vpcs: Vec<Vpc> = items
            .iter()
            .map(|vpc| {
                let id = vpc.vpc_id().unwrap_or_default().to_owned();
                let cidrs = vpc
                    .cidr_block_association_set()
                    .iter()
                    .filter(|block| {
                        matches!(
                            block.cidr_block_state().and_then(|s| s.state()),
                            Some(VpcCidrBlockStateCode::Associated)
                        )
                    })
                    .filter_map(|block| {
                        let parsed = block.cidr_block()?.parse::<Ipv4Net>();
                        if parsed.is_err() {
                            warn!(action = ACTION, region = %self.region, vpc_id = %id,
                                  cidr = ?block.cidr_block(), "skipping unparsable CIDR block");
                        }
                        parsed.ok()
                    })
                    .collect();
                Vpc {
                    id,
                    cidrs,
                    tags: tags_of(vpc.tags()),
                }
            })
            .collect();
        info!(action = ACTION, region = %self.region, count = vpcs.len(), "listed VPCs");
        Ok(vpcs)
    }

    /// The live VPC attachments of `transit_gateway_id`, with their subnets.
    pub async fn vpc_attachments(&self, transit_gateway_id: &str) -> Result<Vec<VpcAttachment>> {
        const ACTION: &str = "DescribeTransitGatewayVpcAttachments";
        let items: Vec<_> = self
            .client
            .describe_transit_gateway_vpc_attachments()
            .filters(filter("transit-gateway-id", transit_gateway_id))
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        let attached: Vec<VpcAttachment> = items
            .iter()
            .filter(|a| a.transit_gateway_id() == Some(transit_gateway_id))
            .filter(|a| {
                a.state()
                    .is_some_and(|s| AttachmentState::parse(s.as_str()).is_live())
            })
            .filter_map(|a| {
                Some(VpcAttachment {
                    id: a.transit_gateway_attachment_id()?.to_owned(),
                    vpc_id: a.vpc_id()?.to_owned(),
                    subnet_ids: a.subnet_ids().to_vec(),
                })
            })
            .collect();
        info!(action = ACTION, region = %self.region, transit_gateway_id, attached = attached.len(),
              "listed VPC attachments");
        Ok(attached)
    }

    /// The subnets of the given VPCs, with their Availability Zones.
    pub async fn subnets(&self, vpc_ids: &[String]) -> Result<Vec<Subnet>> {
        const ACTION: &str = "DescribeSubnets";
        let mut subnets = Vec::new();
        for chunk in vpc_ids.chunks(FILTER_VALUES) {
            let items: Vec<_> = self
                .client
                .describe_subnets()
                .filters(filter_any("vpc-id", chunk))
                .max_results(PAGE_SIZE)
                .into_paginator()
                .items()
                .send()
                .collect::<std::result::Result<_, _>>()
                .await
                .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
            subnets.extend(items.iter().filter_map(|subnet| {
                Some(Subnet {
                    id: subnet.subnet_id()?.to_owned(),
                    vpc_id: subnet.vpc_id()?.to_owned(),
                    availability_zone: subnet.availability_zone()?.to_owned(),
                })
            }));
        }
        info!(action = ACTION, region = %self.region, vpcs = vpc_ids.len(), subnets = subnets.len(),
              "listed subnets");
        Ok(subnets)
    }

    /// The route tables of the given VPCs, with their associations and IPv4 routes.
    pub async fn vpc_route_tables(&self, vpc_ids: &[String]) -> Result<Vec<VpcRouteTable>> {
        const ACTION: &str = "DescribeRouteTables";
        // DescribeRouteTables takes at most 100 a page.
        const ROUTE_TABLE_PAGE: i32 = 100;
        let mut tables = Vec::new();
        for chunk in vpc_ids.chunks(FILTER_VALUES) {
            let items: Vec<_> = self
                .client
                .describe_route_tables()
                .filters(filter_any("vpc-id", chunk))
                .max_results(ROUTE_TABLE_PAGE)
                .into_paginator()
                .items()
                .send()
                .collect::<std::result::Result<_, _>>()
                .await
                .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
            tables.extend(items.iter().map(vpc_route_table_from_sdk));
        }
        info!(action = ACTION, region = %self.region, vpcs = vpc_ids.len(), tables = tables.len(),
              "listed VPC route tables");
        Ok(tables)
    }

    /// The route for exactly `cidr` in one VPC route table, if it has one.
    pub async fn exact_vpc_route(&self, route_table_id: &str, cidr: Ipv4Net) -> Result<Option<Route>> {
        const ACTION: &str = "DescribeRouteTables";
        let output = self
            .client
            .describe_route_tables()
            .route_table_ids(route_table_id)
            .send()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        let found = output
            .route_tables()
            .iter()
            .filter(|table| table.route_table_id() == Some(route_table_id))
            .flat_map(|table| table.routes().iter().filter_map(vpc_route_from_sdk))
            .find(|route| route.cidr == cidr);
        info!(action = ACTION, region = %self.region, route_table_id, cidr = %cidr,
              target = found.as_ref().and_then(|r| r.target.as_deref()).unwrap_or("none"),
              "re-read one VPC route");
        Ok(found)
    }

    /// Adds a route for `cidr` via `transit_gateway_id` to a VPC route table.
    pub async fn create_vpc_route(
        &self,
        route_table_id: &str,
        cidr: Ipv4Net,
        transit_gateway_id: &str,
    ) -> Result<()> {
        const ACTION: &str = "CreateRoute";
        self.client
            .create_route()
            .route_table_id(route_table_id)
            .destination_cidr_block(cidr.to_string())
            .transit_gateway_id(transit_gateway_id)
            .send()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        info!(action = ACTION, region = %self.region, route_table_id, cidr = %cidr, transit_gateway_id,
              "created VPC route");
        Ok(())
    }

    /// Every VPC route table in the Region that carries the tag `key`.
    pub async fn vpc_route_tables_tagged(&self, key: &str) -> Result<Vec<VpcRouteTable>> {
        const ACTION: &str = "DescribeRouteTables";
        let items: Vec<_> = self
            .client
            .describe_route_tables()
            .filters(filter("tag-key", key))
            .max_results(100)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        let tables: Vec<VpcRouteTable> = items.iter().map(vpc_route_table_from_sdk).collect();
        info!(action = ACTION, region = %self.region, tag_key = key, tables = tables.len(),
              "listed VPC route tables with a record");
        Ok(tables)
    }

    /// Sets tags on one resource (a route table), replacing those with the same keys.
    pub async fn create_tags(&self, resource_id: &str, tags: &[(String, String)]) -> Result<()> {
        const ACTION: &str = "CreateTags";
        if tags.is_empty() {
            return Ok(());
        }
        self.client
            .create_tags()
            .resources(resource_id)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        info!(action = ACTION, region = %self.region, resource_id, tags = tags.len(), "recorded routes");
        Ok(())
    }

    /// Removes the tags with these keys from one resource.
    pub async fn delete_tags(&self, resource_id: &str, keys: &[String]) -> Result<()> {
        const ACTION: &str = "DeleteTags";
        if keys.is_empty() {
            return Ok(());
        }
        self.client
            .delete_tags()
            .resources(resource_id)
            .set_tags(Some(keys.iter().map(|k| Tag::builder().key(k).build()).collect()))
            .send()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        info!(action = ACTION, region = %self.region, resource_id, tags = keys.len(), "removed route records");
        Ok(())
    }

    /// Deletes the static route for `cidr` from a TGW route table; one already gone counts as done.
    pub async fn delete_route(&self, route_table_id: &str, cidr: Ipv4Net) -> Result<()> {
        const ACTION: &str = "DeleteTransitGatewayRoute";
        match self
            .client
            .delete_transit_gateway_route()
            .transit_gateway_route_table_id(route_table_id)
            .destination_cidr_block(cidr.to_string())
            .send()
            .await
        {
            Ok(_) => {}
            Err(err) if is_not_found(&err) => {}
            Err(err) => return Err(Error::from_sdk(ACTION, &self.region, err)),
        }
        info!(action = ACTION, region = %self.region, route_table_id, cidr = %cidr, "deleted static route");
        Ok(())
    }

    /// Deletes the route for `cidr` from a VPC route table; one already gone counts as done.
    pub async fn delete_vpc_route(&self, route_table_id: &str, cidr: Ipv4Net) -> Result<()> {
        const ACTION: &str = "DeleteRoute";
        match self
            .client
            .delete_route()
            .route_table_id(route_table_id)
            .destination_cidr_block(cidr.to_string())
            .send()
            .await
        {
            Ok(_) => {}
            Err(err) if is_not_found(&err) => {}
            Err(err) => return Err(Error::from_sdk(ACTION, &self.region, err)),
        }
        info!(action = ACTION, region = %self.region, route_table_id, cidr = %cidr, "deleted VPC route");
        Ok(())
    }

    /// The static and propagated IPv4 routes of a route table, read once (all pages).
    pub async fn routes(&self, route_table_id: &str) -> Result<TableRoutes> {
        const ACTION: &str = "SearchTransitGatewayRoutes";
        let mut pages = self
            .client
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(route_table_id)
            .filters(
                Filter::builder()
                    .name("type")
                    .values("static")
                    .values("propagated")
                    .build(),
            )
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut result = TableRoutes::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
            result
                .routes
                .extend(page.routes().iter().filter_map(route_from_sdk));
            result.truncated =
                page.additional_routes_available() == Some(true) && page.next_token().is_none();
        }
        info!(action = ACTION, region = %self.region, route_table_id, routes = result.routes.len(),
               truncated = result.truncated, "read routes");
        Ok(result)
    }

    /// The route for exactly `cidr`, if the table has one.
    pub async fn exact_route(&self, route_table_id: &str, cidr: Ipv4Net) -> Result<Option<Route>> {
        const ACTION: &str = "SearchTransitGatewayRoutes";
        let output = self
            .client
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(route_table_id)
            .filters(filter("route-search.exact-match", &cidr.to_string()))
            .send()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        let found = output
            .routes()
            .iter()
            .filter_map(route_from_sdk)
            .find(|route| route.cidr == cidr);
        info!(action = ACTION, region = %self.region, route_table_id, cidr = %cidr,
              target = found.as_ref().and_then(|r| r.target.as_deref()).unwrap_or("none"),
              "re-read one route");
        Ok(found)
    }

    /// Adds a static route for `cidr` via `attachment_id`.
    pub async fn create_route(&self, route_table_id: &str, cidr: Ipv4Net, attachment_id: &str) -> Result<()> {
        const ACTION: &str = "CreateTransitGatewayRoute";
        self.client
            .create_transit_gateway_route()
            .transit_gateway_route_table_id(route_table_id)
            .destination_cidr_block(cidr.to_string())
            .transit_gateway_attachment_id(attachment_id)
            .send()
            .await
            .map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
        info!(action = ACTION, region = %self.region, route_table_id, cidr = %cidr, attachment_id,
              "created static route");
        Ok(())
    }
}
