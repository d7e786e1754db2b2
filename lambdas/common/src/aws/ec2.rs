//! The EC2 edge: every AWS call the functions make, each returning plain data and logging its
//! action, Region and resulting ids. Nothing here decides anything.

use std::collections::BTreeMap;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification, VpcCidrBlockStateCode};
use aws_sdk_ec2::Client;
use ipnet::IpNet;
use tracing::{info, instrument, warn};

use crate::aws::convert::{
    network_acl_from_sdk, peering_from_sdk, route_from_sdk, security_group_from_sdk, tags_of,
    transit_gateway_from_sdk, vpc_route_from_sdk, vpc_route_table_from_sdk,
};
use crate::error::{Error, Result};
use crate::plan::association::{Association, AssociationState};
use crate::plan::attachment::AttachmentState;
use crate::plan::network_acl::NetworkAcl;
use crate::plan::pass::TableRoutes;
use crate::plan::peering::{PeeringAttachment, TgwEnd};
use crate::plan::propagation::PropagationState;
use crate::plan::routing::{Route, Vpc};
use crate::plan::security_groups::SecurityGroup;
use crate::plan::vpc_tables::{Subnet, VpcAttachment, VpcRouteTable};

/// Page size for describe calls; EC2's maximum for these actions.
const PAGE_SIZE: i32 = 1000;

/// An EC2 client bound to the Region it talks to, so every log line and error can name it.
#[derive(Clone, Debug)]
pub struct Ec2 {
    client: Client,
    region: String,
    /// How many writers share this Region's route-write pace (a mesh's pairs); 1 alone.
    write_share: u32,
}

/// A transit gateway as the functions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitGateway {
    pub id: String,
    pub state: String,
    pub owner_id: Option<String>,
    pub association_default_route_table_id: Option<String>,
}

/// A transit gateway's live VPC attachments, and which of them are not `available` yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcAttachments {
    pub attached: Vec<VpcAttachment>,
    /// Live but still being made or modified: EC2 refuses to enable a propagation for them.
    pub not_ready: std::collections::BTreeSet<String>,
}

/// A transit gateway route table as the functions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    pub id: String,
    pub transit_gateway_id: String,
    pub state: String,
    pub tags: Vec<(String, String)>,
}

/// A VPC route names its destination in a field per family (`DestinationCidrBlock`,
/// `DestinationIpv6CidrBlock`); a TGW route carries both in `DestinationCidrBlock`.
fn ipv4(cidr: IpNet) -> Option<String> {
    matches!(cidr, IpNet::V4(_)).then(|| cidr.to_string())
}

fn ipv6(cidr: IpNet) -> Option<String> {
    matches!(cidr, IpNet::V6(_)).then(|| cidr.to_string())
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

/// What every call does with the SDK's answer: a failure is classified as this action's in
/// this Region (see [`Error::from_sdk`]); "not found" may mean `None`.
trait SdkResultExt<T> {
    /// The answer, or the failure classified.
    fn or_fail(self, action: &'static str, region: &str) -> Result<T>;

    /// The answer; `None` when EC2 says the resource does not exist (a `*.NotFound` code) or
    /// answers with one of `done_codes` (a resource already in the state asked for).
    fn or_absent_if(self, action: &'static str, region: &str, done_codes: &[&str]) -> Result<Option<T>>;

    fn or_absent(self, action: &'static str, region: &str) -> Result<Option<T>>
    where
        Self: Sized,
    {
        self.or_absent_if(action, region, &[])
    }

    /// For a change that may already be made: `true` when this call made it, `false` when EC2
    /// answers with one of `already_codes`. Unlike `or_absent`, "not found" stays an error.
    fn or_already(self, action: &'static str, region: &str, already_codes: &[&str]) -> Result<bool>;
}

impl<T, E, R> SdkResultExt<T> for std::result::Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    fn or_fail(self, action: &'static str, region: &str) -> Result<T> {
        self.map_err(|err| Error::from_sdk(action, region, err))
    }

    fn or_absent_if(self, action: &'static str, region: &str, done_codes: &[&str]) -> Result<Option<T>> {
        match self {
            Ok(output) => Ok(Some(output)),
            Err(err)
                if err
                    .code()
                    .is_some_and(|code| code.ends_with(".NotFound") || done_codes.contains(&code)) =>
            {
                Ok(None)
            }
            Err(err) => Err(Error::from_sdk(action, region, err)),
        }
    }

    fn or_already(self, action: &'static str, region: &str, already_codes: &[&str]) -> Result<bool> {
        match self {
            Ok(_) => Ok(true),
            Err(err) if err.code().is_some_and(|code| already_codes.contains(&code)) => Ok(false),
            Err(err) => Err(Error::from_sdk(action, region, err)),
        }
    }
}

/// One call on a (route table, attachment) relation (associate, disassociate, enable or disable
/// propagation): the four SDK operations take the same two ids.
macro_rules! relate {
    ($ec2:ident, $operation:ident, $route_table_id:expr, $attachment_id:expr) => {
        $ec2.client
            .$operation()
            .transit_gateway_route_table_id($route_table_id)
            .transit_gateway_attachment_id($attachment_id)
            .send()
            .await
    };
}

impl Ec2 {
    pub fn new(client: Client, region: impl Into<String>) -> Self {
        Self {
            client,
            region: region.into(),
            write_share: 1,
        }
    }

    /// This side, writing routes at `1/share` of the Region's pace.
    #[must_use]
    pub fn sharing_writes(mut self, share: u32) -> Self {
        self.write_share = share.max(1);
        self
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn write_share(&self) -> u32 {
        self.write_share
    }

    /// One transit gateway by id; `None` when EC2 does not know it.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn transit_gateway(&self, id: &str) -> Result<Option<TransitGateway>> {
        const ACTION: &str = "DescribeTransitGateways";
        let Some(output) = self
            .client
            .describe_transit_gateways()
            .transit_gateway_ids(id)
            .send()
            .await
            .or_absent(ACTION, &self.region)?
        else {
            return Ok(None);
        };
        let found = output
            .transit_gateways()
            .iter()
            .map(transit_gateway_from_sdk)
            .find(|tgw| tgw.id == id);
        info!(
            action = ACTION,
            transit_gateway_id = id,
            found = found.is_some(),
            "described transit gateway"
        );
        Ok(found)
    }

    /// Every transit gateway in the Region that is `available`.
    #[instrument(skip_all, fields(region = %self.region))]
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
            .or_fail(ACTION, &self.region)?;
        // The state filter is a server-side convenience; the decision is made on what came back.
        let available: Vec<TransitGateway> = items
            .iter()
            .map(transit_gateway_from_sdk)
            .filter(|tgw| tgw.state == "available")
            .collect();
        info!(
            action = ACTION,
            available = available.len(),
            "listed available transit gateways"
        );
        Ok(available)
    }

    /// One transit gateway route table by id; `None` when EC2 does not know it.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn route_table(&self, id: &str) -> Result<Option<RouteTable>> {
        const ACTION: &str = "DescribeTransitGatewayRouteTables";
        let Some(output) = self
            .client
            .describe_transit_gateway_route_tables()
            .transit_gateway_route_table_ids(id)
            .send()
            .await
            .or_absent(ACTION, &self.region)?
        else {
            return Ok(None);
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
        info!(
            action = ACTION,
            route_table_id = id,
            found = found.is_some(),
            "described route table"
        );
        Ok(found)
    }

    /// Every route table of `transit_gateway_id`, with its tags: one read (a gateway has at most
    /// a few dozen).
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn route_tables_of(&self, transit_gateway_id: &str) -> Result<Vec<RouteTable>> {
        const ACTION: &str = "DescribeTransitGatewayRouteTables";
        let items: Vec<_> = self
            .client
            .describe_transit_gateway_route_tables()
            .filters(filter("transit-gateway-id", transit_gateway_id))
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .or_fail(ACTION, &self.region)?;
        let tables: Vec<RouteTable> = items
            .iter()
            .filter(|table| table.transit_gateway_id() == Some(transit_gateway_id))
            .filter_map(|table| {
                Some(RouteTable {
                    id: table.transit_gateway_route_table_id()?.to_owned(),
                    transit_gateway_id: transit_gateway_id.to_owned(),
                    state: table.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    tags: tags_of(table.tags()),
                })
            })
            .collect();
        info!(
            action = ACTION,
            transit_gateway_id,
            tables = tables.len(),
            "listed route tables"
        );
        Ok(tables)
    }

    /// The route table association of every attachment of `transit_gateway_id` (VPC, peering and
    /// the rest), by attachment id; an attachment associated with no table is absent.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn associations(&self, transit_gateway_id: &str) -> Result<BTreeMap<String, Association>> {
        const ACTION: &str = "DescribeTransitGatewayAttachments";
        let items: Vec<_> = self
            .client
            .describe_transit_gateway_attachments()
            .filters(filter("transit-gateway-id", transit_gateway_id))
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .or_fail(ACTION, &self.region)?;
        let associations: BTreeMap<String, Association> = items
            .iter()
            .filter(|a| a.transit_gateway_id() == Some(transit_gateway_id))
            .filter_map(|a| {
                let association = a.association()?;
                let state = AssociationState::parse(association.state()?.as_str())?;
                Some((
                    a.transit_gateway_attachment_id()?.to_owned(),
                    Association {
                        route_table_id: association.transit_gateway_route_table_id()?.to_owned(),
                        state,
                    },
                ))
            })
            .collect();
        info!(
            action = ACTION,
            transit_gateway_id,
            attachments = items.len(),
            associated = associations.len(),
            "read attachment associations"
        );
        Ok(associations)
    }

    /// Associates an attachment with a route table; one already associated with it is done.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn associate(&self, route_table_id: &str, attachment_id: &str) -> Result<()> {
        const ACTION: &str = "AssociateTransitGatewayRouteTable";
        // EC2 says AlreadyAssociated whatever table the attachment is associated with; the caller
        // associates only what it read as unassociated, and the next pass re-reads (a concurrent
        // association elsewhere is then reported, not taken for done).
        let made = relate!(
            self,
            associate_transit_gateway_route_table,
            route_table_id,
            attachment_id
        )
        .or_already(ACTION, &self.region, &["Resource.AlreadyAssociated"])?;
        info!(
            action = ACTION,
            route_table_id,
            attachment_id,
            already = !made,
            "associated attachment"
        );
        Ok(())
    }

    /// Removes an attachment's association with a route table; one already gone is done.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn disassociate(&self, route_table_id: &str, attachment_id: &str) -> Result<()> {
        const ACTION: &str = "DisassociateTransitGatewayRouteTable";
        relate!(
            self,
            disassociate_transit_gateway_route_table,
            route_table_id,
            attachment_id
        )
        .or_absent(ACTION, &self.region)?;
        info!(
            action = ACTION,
            route_table_id, attachment_id, "disassociated attachment"
        );
        Ok(())
    }

    /// The attachments propagating into `route_table_id`, by attachment id, with each
    /// propagation's state.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn propagations(&self, route_table_id: &str) -> Result<BTreeMap<String, PropagationState>> {
        const ACTION: &str = "GetTransitGatewayRouteTablePropagations";
        let items: Vec<_> = self
            .client
            .get_transit_gateway_route_table_propagations()
            .transit_gateway_route_table_id(route_table_id)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .or_fail(ACTION, &self.region)?;
        let propagations: BTreeMap<String, PropagationState> = items
            .iter()
            .filter_map(|p| {
                let state = PropagationState::parse(p.state()?.as_str())?;
                Some((p.transit_gateway_attachment_id()?.to_owned(), state))
            })
            .collect();
        info!(
            action = ACTION,
            route_table_id,
            propagations = propagations.len(),
            "read route table propagations"
        );
        Ok(propagations)
    }

    /// Enables an attachment's propagation into a route table; one already enabled is done.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn enable_propagation(&self, route_table_id: &str, attachment_id: &str) -> Result<()> {
        const ACTION: &str = "EnableTransitGatewayRouteTablePropagation";
        // The code for "already propagating" is not in the API reference; it is the one AWS
        // answers as other tools handle it (the emulator's propagation_is_enabled_once_per_table
        // patch cites the evidence).
        let made = relate!(
            self,
            enable_transit_gateway_route_table_propagation,
            route_table_id,
            attachment_id
        )
        .or_already(
            ACTION,
            &self.region,
            &["TransitGatewayRouteTablePropagation.Duplicate"],
        )?;
        info!(
            action = ACTION,
            route_table_id,
            attachment_id,
            already = !made,
            "enabled propagation"
        );
        Ok(())
    }

    /// Disables an attachment's propagation into a route table; one already gone (or whose
    /// attachment is gone) is done.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn disable_propagation(&self, route_table_id: &str, attachment_id: &str) -> Result<()> {
        const ACTION: &str = "DisableTransitGatewayRouteTablePropagation";
        relate!(
            self,
            disable_transit_gateway_route_table_propagation,
            route_table_id,
            attachment_id
        )
        .or_absent(ACTION, &self.region)?;
        info!(
            action = ACTION,
            route_table_id, attachment_id, "disabled propagation"
        );
        Ok(())
    }

    /// Every peering attachment visible in the Region, in any state.
    #[instrument(skip_all, fields(region = %self.region))]
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
            .or_fail(ACTION, &self.region)?;
        info!(action = ACTION, count = items.len(), "listed peering attachments");
        Ok(items.iter().map(peering_from_sdk).collect())
    }

    /// One peering attachment by id; `None` when the Region does not show it.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn peering_attachment(&self, id: &str) -> Result<Option<PeeringAttachment>> {
        const ACTION: &str = "DescribeTransitGatewayPeeringAttachments";
        let Some(output) = self
            .client
            .describe_transit_gateway_peering_attachments()
            .transit_gateway_attachment_ids(id)
            .send()
            .await
            .or_absent(ACTION, &self.region)?
        else {
            return Ok(None);
        };
        let found = output
            .transit_gateway_peering_attachments()
            .iter()
            .map(peering_from_sdk)
            .find(|attachment| attachment.id == id);
        info!(
            action = ACTION,
            attachment_id = id,
            state = found.as_ref().map(|a| a.state.as_str()).unwrap_or("absent"),
            "described peering attachment"
        );
        Ok(found)
    }

    /// Requests a peering from `transit_gateway_id` (in this Region) to the accepter's gateway.
    #[instrument(skip_all, fields(region = %self.region))]
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
            .or_fail(ACTION, &self.region)?;
        let attachment = output
            .transit_gateway_peering_attachment()
            .map(peering_from_sdk)
            .ok_or_else(|| Error::Ec2Unreachable {
                action: ACTION,
                region: self.region.clone(),
                message: "the response has no attachment".to_owned(),
            })?;
        info!(action = ACTION, transit_gateway_id,
              peer_transit_gateway_id = %accepter.transit_gateway_id, peer_region = %accepter.region,
              attachment_id = %attachment.id, state = %attachment.state, "created peering attachment");
        Ok(attachment)
    }

    /// Accepts a peering attachment on this (the accepter's) side.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn accept_peering(&self, attachment_id: &str) -> Result<Option<AttachmentState>> {
        const ACTION: &str = "AcceptTransitGatewayPeeringAttachment";
        let output = self
            .client
            .accept_transit_gateway_peering_attachment()
            .transit_gateway_attachment_id(attachment_id)
            .send()
            .await
            .or_fail(ACTION, &self.region)?;
        let state = output
            .transit_gateway_peering_attachment()
            .map(|a| peering_from_sdk(a).state);
        info!(
            action = ACTION,
            attachment_id,
            state = state.as_ref().map(AttachmentState::as_str).unwrap_or("unknown"),
            "accepted peering attachment"
        );
        Ok(state)
    }

    /// Deletes a peering attachment. One already deleted or being deleted counts as done.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn delete_peering(&self, attachment_id: &str) -> Result<()> {
        const ACTION: &str = "DeleteTransitGatewayPeeringAttachment";
        let deleted = self
            .client
            .delete_transit_gateway_peering_attachment()
            .transit_gateway_attachment_id(attachment_id)
            .send()
            .await
            .or_absent(ACTION, &self.region);
        match deleted {
            Ok(Some(_)) => info!(
                action = ACTION,
                attachment_id, "deleted duplicate peering attachment"
            ),
            Ok(None) => info!(
                action = ACTION,
                attachment_id, "duplicate peering attachment already gone"
            ),
            // AWS does not say what IncorrectState means on this delete (docs/aws-facts.md
            // `tgw-delete-peering-incorrect-state`): read the attachment rather than guess.
            Err(err) if err.is_ec2_code("IncorrectState") => {
                let state = self.peering_attachment(attachment_id).await?.map(|a| a.state);
                if state.as_ref().is_some_and(AttachmentState::is_live) {
                    return Err(err);
                }
                info!(action = ACTION, attachment_id, state = ?state, "peering attachment already being deleted");
            }
            Err(err) => return Err(err),
        }
        Ok(())
    }

    /// Every VPC in the Region, with its associated IPv4 and IPv6 CIDR blocks.
    #[instrument(skip_all, fields(region = %self.region))]
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
            .or_fail(ACTION, &self.region)?;
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
                        let parsed = block.cidr_block()?.parse::<IpNet>();
                        if parsed.is_err() {
                            warn!(action = ACTION, vpc_id = %id,
                                  cidr = ?block.cidr_block(), "skipping unparsable CIDR block");
                        }
                        parsed.ok()
                    })
                    .collect::<Vec<IpNet>>();
                let ipv6 = vpc
                    .ipv6_cidr_block_association_set()
                    .iter()
                    .filter(|block| {
                        matches!(
                            block.ipv6_cidr_block_state().and_then(|s| s.state()),
                            Some(VpcCidrBlockStateCode::Associated)
                        )
                    })
                    .filter_map(|block| block.ipv6_cidr_block()?.parse::<IpNet>().ok());
                let cidrs = cidrs.into_iter().chain(ipv6).collect();
                Vpc {
                    id,
                    cidrs,
                    tags: tags_of(vpc.tags()),
                }
            })
            .collect();
        info!(action = ACTION, count = vpcs.len(), "listed VPCs");
        Ok(vpcs)
    }

    /// The live VPC attachments of `transit_gateway_id`, with their subnets.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn vpc_attachments(&self, transit_gateway_id: &str) -> Result<VpcAttachments> {
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
            .or_fail(ACTION, &self.region)?;
        let live: Vec<_> = items
            .iter()
            .filter(|a| a.transit_gateway_id() == Some(transit_gateway_id))
            .filter(|a| {
                a.state()
                    .is_some_and(|s| AttachmentState::parse(s.as_str()).is_live())
            })
            .collect();
        let not_ready = live
            .iter()
            .filter(|a| a.state().map(|s| s.as_str()) != Some("available"))
            .filter_map(|a| a.transit_gateway_attachment_id().map(str::to_owned))
            .collect();
        let attached: Vec<VpcAttachment> = live
            .iter()
            .filter_map(|a| {
                Some(VpcAttachment {
                    id: a.transit_gateway_attachment_id()?.to_owned(),
                    vpc_id: a.vpc_id()?.to_owned(),
                    subnet_ids: a.subnet_ids().to_vec(),
                    ipv6_support: a
                        .options()
                        .and_then(|o| o.ipv6_support())
                        .is_some_and(|v| v.as_str() == "enable"),
                })
            })
            .collect();
        info!(
            action = ACTION,
            transit_gateway_id,
            attached = attached.len(),
            "listed VPC attachments"
        );
        Ok(VpcAttachments { attached, not_ready })
    }

    /// The subnets of the given VPCs, with their Availability Zones.
    #[instrument(skip_all, fields(region = %self.region))]
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
                .or_fail(ACTION, &self.region)?;
            subnets.extend(items.iter().filter_map(|subnet| {
                Some(Subnet {
                    id: subnet.subnet_id()?.to_owned(),
                    vpc_id: subnet.vpc_id()?.to_owned(),
                    availability_zone: subnet.availability_zone()?.to_owned(),
                })
            }));
        }
        info!(
            action = ACTION,
            vpcs = vpc_ids.len(),
            subnets = subnets.len(),
            "listed subnets"
        );
        Ok(subnets)
    }

    /// The network ACLs of the given VPCs, with their rules and subnet associations: one paged
    /// read per 200 VPCs.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn network_acls(&self, vpc_ids: &[String]) -> Result<Vec<NetworkAcl>> {
        const ACTION: &str = "DescribeNetworkAcls";
        let mut acls = Vec::new();
        for chunk in vpc_ids.chunks(FILTER_VALUES) {
            let items: Vec<_> = self
                .client
                .describe_network_acls()
                .filters(filter_any("vpc-id", chunk))
                .max_results(PAGE_SIZE)
                .into_paginator()
                .items()
                .send()
                .collect::<std::result::Result<_, _>>()
                .await
                .or_fail(ACTION, &self.region)?;
            acls.extend(items.iter().map(network_acl_from_sdk));
        }
        info!(
            action = ACTION,
            vpcs = vpc_ids.len(),
            acls = acls.len(),
            "listed network ACLs"
        );
        Ok(acls)
    }

    /// The security groups of the given VPCs, with their inbound sources: one paged read per 200
    /// VPCs.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn security_groups(&self, vpc_ids: &[String]) -> Result<Vec<SecurityGroup>> {
        const ACTION: &str = "DescribeSecurityGroups";
        let mut groups = Vec::new();
        for chunk in vpc_ids.chunks(FILTER_VALUES) {
            let items: Vec<_> = self
                .client
                .describe_security_groups()
                .filters(filter_any("vpc-id", chunk))
                .max_results(PAGE_SIZE)
                .into_paginator()
                .items()
                .send()
                .collect::<std::result::Result<_, _>>()
                .await
                .or_fail(ACTION, &self.region)?;
            groups.extend(items.iter().map(security_group_from_sdk));
        }
        info!(
            action = ACTION,
            vpcs = vpc_ids.len(),
            groups = groups.len(),
            "listed security groups"
        );
        Ok(groups)
    }

    /// The CIDRs a managed prefix list holds.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn prefix_list_entries(&self, prefix_list_id: &str) -> Result<Vec<IpNet>> {
        const ACTION: &str = "GetManagedPrefixListEntries";
        // GetManagedPrefixListEntries takes at most 100 a page.
        const PREFIX_LIST_PAGE: i32 = 100;
        let items: Vec<_> = self
            .client
            .get_managed_prefix_list_entries()
            .prefix_list_id(prefix_list_id)
            .max_results(PREFIX_LIST_PAGE)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .or_fail(ACTION, &self.region)?;
        let entries: Vec<IpNet> = items
            .iter()
            .filter_map(|entry| entry.cidr()?.parse().ok())
            .collect();
        info!(
            action = ACTION,
            prefix_list_id,
            entries = entries.len(),
            "listed prefix list entries"
        );
        Ok(entries)
    }

    /// The route tables of the given VPCs, with their associations and IPv4 and IPv6 routes.
    #[instrument(skip_all, fields(region = %self.region))]
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
                .or_fail(ACTION, &self.region)?;
            tables.extend(items.iter().map(vpc_route_table_from_sdk));
        }
        info!(
            action = ACTION,
            vpcs = vpc_ids.len(),
            tables = tables.len(),
            "listed VPC route tables"
        );
        Ok(tables)
    }

    /// The route for exactly `cidr` in one VPC route table, if it has one.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn exact_vpc_route(&self, route_table_id: &str, cidr: IpNet) -> Result<Option<Route>> {
        const ACTION: &str = "DescribeRouteTables";
        let output = self
            .client
            .describe_route_tables()
            .route_table_ids(route_table_id)
            .send()
            .await
            .or_fail(ACTION, &self.region)?;
        let found = output
            .route_tables()
            .iter()
            .filter(|table| table.route_table_id() == Some(route_table_id))
            .flat_map(|table| table.routes().iter().filter_map(vpc_route_from_sdk))
            .find(|route| route.cidr == cidr);
        info!(action = ACTION, route_table_id, cidr = %cidr,
              target = found.as_ref().and_then(|r| r.target.as_deref()).unwrap_or("none"),
              "re-read one VPC route");
        Ok(found)
    }

    /// Adds a route for `cidr` via `transit_gateway_id` to a VPC route table.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn create_vpc_route(
        &self,
        route_table_id: &str,
        cidr: IpNet,
        transit_gateway_id: &str,
    ) -> Result<()> {
        const ACTION: &str = "CreateRoute";
        self.client
            .create_route()
            .route_table_id(route_table_id)
            .set_destination_cidr_block(ipv4(cidr))
            .set_destination_ipv6_cidr_block(ipv6(cidr))
            .transit_gateway_id(transit_gateway_id)
            .send()
            .await
            .or_fail(ACTION, &self.region)?;
        info!(action = ACTION, route_table_id, cidr = %cidr, transit_gateway_id,
              "created VPC route");
        Ok(())
    }

    /// Every VPC route table in the Region that carries the tag `key`.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn vpc_route_tables_tagged(&self, key: &str) -> Result<Vec<VpcRouteTable>> {
        let tables = self.vpc_route_tables_where(filter("tag-key", key)).await?;
        info!(
            action = "DescribeRouteTables",
            tag_key = key,
            tables = tables.len(),
            "listed VPC route tables with a record in their tags"
        );
        Ok(tables)
    }

    /// The VPC route tables of `ids` that still exist (a filter, so a deleted one is simply
    /// missing instead of failing the call), 100 ids a call.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn vpc_route_tables_by_id(&self, ids: &[String]) -> Result<Vec<VpcRouteTable>> {
        let mut tables = Vec::new();
        for chunk in ids.chunks(100) {
            let by_id = Filter::builder()
                .name("route-table-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            tables.extend(self.vpc_route_tables_where(by_id).await?);
        }
        info!(
            action = "DescribeRouteTables",
            asked = ids.len(),
            tables = tables.len(),
            "read the VPC route tables the record names"
        );
        Ok(tables)
    }

    async fn vpc_route_tables_where(&self, by: Filter) -> Result<Vec<VpcRouteTable>> {
        const ACTION: &str = "DescribeRouteTables";
        let items: Vec<_> = self
            .client
            .describe_route_tables()
            .filters(by)
            .max_results(100)
            .into_paginator()
            .items()
            .send()
            .collect::<std::result::Result<_, _>>()
            .await
            .or_fail(ACTION, &self.region)?;
        Ok(items.iter().map(vpc_route_table_from_sdk).collect())
    }

    /// Sets tags on one resource (a route table), replacing those with the same keys.
    #[instrument(skip_all, fields(region = %self.region))]
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
            .or_fail(ACTION, &self.region)?;
        info!(action = ACTION, resource_id, tags = tags.len(), "recorded routes");
        Ok(())
    }

    /// Removes the tags with these keys from one resource.
    #[instrument(skip_all, fields(region = %self.region))]
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
            .or_fail(ACTION, &self.region)?;
        info!(
            action = ACTION,
            resource_id,
            tags = keys.len(),
            "removed route records"
        );
        Ok(())
    }

    /// Deletes the static route for `cidr` from a TGW route table; one already gone counts as done.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn delete_route(&self, route_table_id: &str, cidr: IpNet) -> Result<()> {
        const ACTION: &str = "DeleteTransitGatewayRoute";
        self.client
            .delete_transit_gateway_route()
            .transit_gateway_route_table_id(route_table_id)
            .destination_cidr_block(cidr.to_string())
            .send()
            .await
            .or_absent(ACTION, &self.region)?;
        info!(action = ACTION, route_table_id, cidr = %cidr, "deleted static route");
        Ok(())
    }

    /// Deletes the route for `cidr` from a VPC route table; one already gone counts as done.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn delete_vpc_route(&self, route_table_id: &str, cidr: IpNet) -> Result<()> {
        const ACTION: &str = "DeleteRoute";
        self.client
            .delete_route()
            .route_table_id(route_table_id)
            .set_destination_cidr_block(ipv4(cidr))
            .set_destination_ipv6_cidr_block(ipv6(cidr))
            .send()
            .await
            .or_absent(ACTION, &self.region)?;
        info!(action = ACTION, route_table_id, cidr = %cidr, "deleted VPC route");
        Ok(())
    }

    /// The static and propagated routes (both families) of a route table, read once (all pages).
    #[instrument(skip_all, fields(region = %self.region))]
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
            let page = page.or_fail(ACTION, &self.region)?;
            result
                .routes
                .extend(page.routes().iter().filter_map(route_from_sdk));
            result.truncated =
                page.additional_routes_available() == Some(true) && page.next_token().is_none();
        }
        info!(
            action = ACTION,
            route_table_id,
            routes = result.routes.len(),
            truncated = result.truncated,
            "read routes"
        );
        Ok(result)
    }

    /// The route for exactly `cidr`, if the table has one.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn exact_route(&self, route_table_id: &str, cidr: IpNet) -> Result<Option<Route>> {
        const ACTION: &str = "SearchTransitGatewayRoutes";
        let output = self
            .client
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(route_table_id)
            .filters(filter("route-search.exact-match", &cidr.to_string()))
            .send()
            .await
            .or_fail(ACTION, &self.region)?;
        let found = output
            .routes()
            .iter()
            .filter_map(route_from_sdk)
            .find(|route| route.cidr == cidr);
        info!(action = ACTION, route_table_id, cidr = %cidr,
              target = found.as_ref().and_then(|r| r.target.as_deref()).unwrap_or("none"),
              "re-read one route");
        Ok(found)
    }

    /// Adds a static route for `cidr` via `attachment_id`.
    #[instrument(skip_all, fields(region = %self.region))]
    pub async fn create_route(&self, route_table_id: &str, cidr: IpNet, attachment_id: &str) -> Result<()> {
        const ACTION: &str = "CreateTransitGatewayRoute";
        self.client
            .create_transit_gateway_route()
            .transit_gateway_route_table_id(route_table_id)
            .destination_cidr_block(cidr.to_string())
            .transit_gateway_attachment_id(attachment_id)
            .send()
            .await
            .or_fail(ACTION, &self.region)?;
        info!(action = ACTION, route_table_id, cidr = %cidr, attachment_id,
              "created static route");
        Ok(())
    }
}
