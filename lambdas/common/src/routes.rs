//! `modify-routes`: read both sides once, plan, apply, report.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::context::Context;
use crate::ec2::{Ec2, StaticRoutes};
use crate::error::{Error, Result};
use crate::planner::{
    cidrs_of, classify, find_overlap, is_tagged, plan_routes, Conflict, RouteOutcome, RoutePlan, SourcedCidr,
    Vpc,
};
use crate::request::parse_peering_ref;
use crate::state::Phase;
use crate::status::check_joins_requested_gateways;

/// What one side's route table got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SideReport {
    pub route_table_id: String,
    pub created: Vec<Ipv4Net>,
    pub present: Vec<Ipv4Net>,
    pub conflicts: Vec<Conflict>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoutesReport {
    pub active: SideReport,
    pub passive: SideReport,
}

/// One side as read from EC2: its tagged VPCs, which of them are attached, and its static routes.
struct Side {
    ec2: Ec2,
    transit_gateway_id: String,
    route_table_id: String,
    tagged: Vec<Vpc>,
    attached: BTreeSet<String>,
    routes: StaticRoutes,
}

async fn read_side(ec2: Ec2, transit_gateway_id: &str, route_table_id: &str, tag_key: &str) -> Result<Side> {
    let (vpcs, attached, routes) = tokio::try_join!(
        ec2.vpcs(),
        ec2.attached_vpc_ids(transit_gateway_id),
        ec2.static_routes(route_table_id),
    )?;
    let tagged = vpcs.into_iter().filter(|vpc| is_tagged(vpc, tag_key)).collect();
    Ok(Side {
        ec2,
        transit_gateway_id: transit_gateway_id.to_owned(),
        route_table_id: route_table_id.to_owned(),
        tagged,
        attached,
        routes,
    })
}

impl Side {
    fn warnings(&self, tag_key: &str) -> Vec<String> {
        let region = self.ec2.region();
        let mut warnings: Vec<String> = self
            .tagged
            .iter()
            .filter(|vpc| !self.attached.contains(&vpc.id))
            .map(|vpc| {
                format!(
                    "{} in {region} is tagged {tag_key}=true but has no attachment to {}; traffic to it \
                     would blackhole until it is attached",
                    vpc.id, self.transit_gateway_id
                )
            })
            .collect();
        if self.tagged.is_empty() {
            warnings.push(format!(
                "no VPC in {region} is tagged {tag_key}=true, so no route leads to {region}"
            ));
        }
        if self.routes.truncated {
            warnings.push(format!(
                "{} has more static routes than one read returned; routes missing from the read were \
                 re-checked wherever a create found one already there",
                self.route_table_id
            ));
        }
        warnings
    }

    async fn apply(&self, plan: RoutePlan, attachment_id: &str) -> Result<SideReport> {
        let mut report = SideReport {
            route_table_id: self.route_table_id.clone(),
            created: Vec::new(),
            present: plan.present,
            conflicts: plan.conflicts,
        };
        for cidr in plan.create {
            match create_planned_route(&self.ec2, &self.route_table_id, cidr, attachment_id).await? {
                Applied::Created => report.created.push(cidr),
                Applied::FoundPresent => report.present.push(cidr),
                Applied::FoundConflict { target } => report.conflicts.push(Conflict { cidr, target }),
            }
        }
        report.present.sort();
        report.conflicts.sort_by_key(|conflict| conflict.cidr);
        Ok(report)
    }
}

/// What creating one planned route did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The route was created via the peering attachment.
    Created,
    /// The create was refused because the route already goes via the peering attachment.
    FoundPresent,
    /// The create was refused because the route already goes elsewhere; it was left alone.
    FoundConflict { target: String },
}

/// Creates one planned route. If EC2 refuses because the route appeared since the table was read
/// (a concurrent run, an operator, or a table too large to read whole), the route is re-read and
/// classified by the same rules as the plan, so a second writer is neither an error nor
/// overwritten.
pub async fn create_planned_route(
    ec2: &Ec2,
    route_table_id: &str,
    cidr: Ipv4Net,
    attachment_id: &str,
) -> Result<Applied> {
    let err = match ec2.create_route(route_table_id, cidr, attachment_id).await {
        Ok(()) => return Ok(Applied::Created),
        Err(err @ Error::Ec2 { .. }) => err,
        Err(err) => return Err(err),
    };
    let Some(existing) = ec2.exact_route(route_table_id, cidr).await? else {
        return Err(err);
    };
    match classify(cidr, &[existing], attachment_id) {
        RouteOutcome::Present => Ok(Applied::FoundPresent),
        RouteOutcome::Conflict { target } => Ok(Applied::FoundConflict { target }),
        RouteOutcome::Create => Err(err),
    }
}

pub async fn modify_routes(context: &Context, input: &Value) -> Result<Value> {
    let peering = parse_peering_ref(input)?;
    let request = &peering.request;
    let attachment_id = peering.attachment_id.as_str();
    let active = Ec2::new(context.ec2(&request.active_region), &request.active_region);
    let passive = Ec2::new(context.ec2(&request.passive_region), &request.passive_region);

    let attachment =
        active
            .peering_attachment(attachment_id)
            .await?
            .ok_or_else(|| Error::PeeringAttachmentNotFound {
                attachment_id: attachment_id.to_owned(),
                region: request.active_region.clone(),
            })?;
    check_joins_requested_gateways(&peering, &attachment)?;
    match attachment.state.phase() {
        Phase::Ready => {}
        Phase::Dead => {
            return Err(Error::PeeringFailed {
                attachment_id: attachment.id,
                state: attachment.state.to_string(),
            })
        }
        Phase::InProgress | Phase::NeedsAcceptance => {
            return Err(Error::PeeringNotReady {
                attachment_id: attachment.id,
                state: attachment.state.to_string(),
            })
        }
    }

    let tag_key = request.vpc_tag_key.as_str();
    // Both sides run at once; errors are reported active side first, so they are deterministic.
    let (active_side, passive_side) = tokio::join!(
        read_side(
            active,
            &request.active_transit_gateway_id,
            &request.active_route_table_id,
            tag_key
        ),
        read_side(
            passive,
            &request.passive_transit_gateway_id,
            &request.passive_route_table_id,
            tag_key
        ),
    );
    let (active_side, passive_side) = (active_side?, passive_side?);

    let active_cidrs = cidrs_of(&active_side.tagged);
    let passive_cidrs = cidrs_of(&passive_side.tagged);
    if let Some((a, p)) = find_overlap(&active_cidrs, &passive_cidrs) {
        return Err(Error::CidrOverlap {
            active_cidr: a.cidr.to_string(),
            active_vpc: a.vpc_id.clone(),
            passive_cidr: p.cidr.to_string(),
            passive_vpc: p.vpc_id.clone(),
            tag_key: tag_key.to_owned(),
        });
    }

    let bare = |cidrs: &[SourcedCidr]| cidrs.iter().map(|c| c.cidr).collect::<Vec<_>>();
    // Each side routes the other side's CIDRs over the peering.
    let active_plan = plan_routes(&bare(&passive_cidrs), &active_side.routes.routes, attachment_id);
    let passive_plan = plan_routes(&bare(&active_cidrs), &passive_side.routes.routes, attachment_id);
    info!(
        action = "PlanRoutes",
        attachment_id,
        active_create = active_plan.create.len(),
        active_present = active_plan.present.len(),
        active_conflicts = active_plan.conflicts.len(),
        passive_create = passive_plan.create.len(),
        passive_present = passive_plan.present.len(),
        passive_conflicts = passive_plan.conflicts.len(),
        "planned static routes"
    );

    let mut warnings = active_side.warnings(tag_key);
    warnings.extend(passive_side.warnings(tag_key));
    // A failure on one side must not cut the other side's writes short: both run to the end.
    let (active_report, passive_report) = tokio::join!(
        active_side.apply(active_plan, attachment_id),
        passive_side.apply(passive_plan, attachment_id),
    );
    let (active_report, passive_report) = (active_report?, passive_report?);
    for (side, report) in [("active", &active_report), ("passive", &passive_report)] {
        for conflict in &report.conflicts {
            warnings.push(format!(
                "{} in the {side} route table {} already goes to {}; left unchanged",
                conflict.cidr, report.route_table_id, conflict.target
            ));
        }
    }
    for warning in &warnings {
        warn!(action = "ModifyRoutes", attachment_id, warning = %warning);
    }

    let mut output = input.clone();
    if let Some(object) = output.as_object_mut() {
        let routes = RoutesReport {
            active: active_report,
            passive: passive_report,
        };
        object.insert(
            "routes".to_owned(),
            serde_json::to_value(routes).unwrap_or(Value::Null),
        );
        object.insert(
            "warnings".to_owned(),
            serde_json::to_value(&warnings).unwrap_or(Value::Null),
        );
    }
    Ok(output)
}
