//! The EC2 edge: every AWS call the functions make, each returning plain data and logging its
//! action, Region and resulting ids. Nothing here decides anything.

use std::collections::BTreeSet;

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{
    Filter, ResourceType, Tag, TagSpecification, TransitGatewayRouteState, VpcCidrBlockStateCode,
};
use aws_sdk_ec2::Client;
use ipnet::Ipv4Net;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::peering::{PeeringAttachment, TgwEnd};
use crate::planner::{StaticRoute, Vpc};
use crate::state::AttachmentState;

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
}

/// The static routes of one route table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticRoutes {
    pub routes: Vec<StaticRoute>,
    /// EC2 said more routes matched than it returned and gave no way to page to them.
    pub truncated: bool,
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
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

fn route_from_sdk(route: &aws_sdk_ec2::types::TransitGatewayRoute) -> Option<StaticRoute> {
    // Prefix-list and IPv6 routes never match a VPC's IPv4 CIDR; skip them.
    let cidr: Ipv4Net = route.destination_cidr_block()?.parse().ok()?;
    let attachment_id = route
        .transit_gateway_attachments()
        .first()
        .and_then(|a| a.transit_gateway_attachment_id())
        .map(str::to_owned);
    let blackhole =
        matches!(route.state(), Some(TransitGatewayRouteState::Blackhole)) || attachment_id.is_none();
    Some(StaticRoute {
        cidr,
        attachment_id,
        blackhole,
    })
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

    /// Ids of the VPCs with a live attachment to `transit_gateway_id`.
    pub async fn attached_vpc_ids(&self, transit_gateway_id: &str) -> Result<BTreeSet<String>> {
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
        let attached: BTreeSet<String> = items
            .iter()
            .filter(|a| a.transit_gateway_id() == Some(transit_gateway_id))
            .filter(|a| {
                a.state()
                    .is_some_and(|s| AttachmentState::parse(s.as_str()).is_live())
            })
            .filter_map(|a| a.vpc_id().map(str::to_owned))
            .collect();
        info!(action = ACTION, region = %self.region, transit_gateway_id, attached = attached.len(),
              "listed VPC attachments");
        Ok(attached)
    }

    /// The static IPv4 routes of a route table, read once (all pages).
    pub async fn static_routes(&self, route_table_id: &str) -> Result<StaticRoutes> {
        const ACTION: &str = "SearchTransitGatewayRoutes";
        let mut pages = self
            .client
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(route_table_id)
            .filters(filter("type", "static"))
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut result = StaticRoutes::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| Error::from_sdk(ACTION, &self.region, err))?;
            result
                .routes
                .extend(page.routes().iter().filter_map(route_from_sdk));
            result.truncated =
                page.additional_routes_available() == Some(true) && page.next_token().is_none();
        }
        info!(action = ACTION, region = %self.region, route_table_id, routes = result.routes.len(),
               truncated = result.truncated, "read static routes");
        Ok(result)
    }

    /// The static route for exactly `cidr`, if the table has one.
    pub async fn exact_route(&self, route_table_id: &str, cidr: Ipv4Net) -> Result<Option<StaticRoute>> {
        const ACTION: &str = "SearchTransitGatewayRoutes";
        let output = self
            .client
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(route_table_id)
            .filters(filter("type", "static"))
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
              target = found.as_ref().and_then(|r| r.attachment_id.as_deref()).unwrap_or("none"),
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
