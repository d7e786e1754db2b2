//! `modify-routes`: read both sides once, plan, apply, report; stop before the Lambda deadline
//! and let the state machine call again while routes remain.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use ipnet::Ipv4Net;
use serde_json::Value;
use tracing::{info, warn};

use crate::context::{Context, RouteWrites};
use crate::ec2::{Ec2, StaticRoutes};
use crate::error::{Error, Result};
use crate::planner::{
    cidrs_of, classify, find_overlap, is_tagged, plan_routes, Conflict, RouteOutcome, RoutePlan, SourcedCidr,
    Vpc,
};
use crate::report::{PassOutcome, RoutesReport, SideReport};
use crate::request::parse_peering_ref;
use crate::state::Phase;
use crate::status::check_joins_requested_gateways;
use crate::validate::echo;

/// At most this many warnings are returned; the rest are counted in a last one. They are all
/// logged.
const MAX_WARNINGS: usize = 50;

/// When a pass must stop starting route writes.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    stop_at: Option<Instant>,
}

impl Budget {
    /// No deadline: every planned route is written in this pass.
    pub fn unlimited() -> Self {
        Self { stop_at: None }
    }

    /// Stops starting writes `margin` before `deadline`.
    pub fn until(deadline: Instant, margin: std::time::Duration) -> Self {
        Self {
            stop_at: Some(deadline.checked_sub(margin).unwrap_or_else(Instant::now)),
        }
    }

    fn allows_another_write(&self) -> bool {
        self.stop_at.is_none_or(|stop_at| Instant::now() < stop_at)
    }
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

    /// Writes the planned creates at the Region's pace, a few at a time, until the plan is done
    /// or the budget runs out. The first write always goes out, so every pass makes progress and
    /// the state machine's loop ends. After an error no new write starts; those in flight finish.
    async fn apply(
        &self,
        plan: RoutePlan,
        attachment_id: &str,
        context: &Context,
        budget: Budget,
    ) -> Result<PassOutcome> {
        let RouteWrites { in_flight, .. } = context.route_writes();
        let limiter = context.route_write_limiter(self.ec2.region());
        let first_write_done = AtomicBool::new(false);
        let halted = AtomicBool::new(false);
        let may_start = || {
            !halted.load(Ordering::SeqCst)
                && (!first_write_done.load(Ordering::SeqCst) || budget.allows_another_write())
        };
        let results: Vec<(Ipv4Net, Option<Result<Applied>>)> = stream::iter(plan.create)
            .map(|cidr| {
                let limiter = &limiter;
                let may_start = &may_start;
                let first_write_done = &first_write_done;
                let halted = &halted;
                async move {
                    if !may_start() {
                        return (cidr, None);
                    }
                    limiter.until_ready().await;
                    // The wait for the pace may have used up the budget.
                    if first_write_done.swap(true, Ordering::SeqCst) && !budget.allows_another_write() {
                        return (cidr, None);
                    }
                    if halted.load(Ordering::SeqCst) {
                        return (cidr, None);
                    }
                    let result =
                        create_planned_route(&self.ec2, &self.route_table_id, cidr, attachment_id).await;
                    if result.is_err() {
                        halted.store(true, Ordering::SeqCst);
                    }
                    (cidr, Some(result))
                }
            })
            .buffer_unordered(in_flight.max(1))
            .collect()
            .await;

        let mut outcome = PassOutcome {
            present: plan.present,
            conflicts: plan.conflicts,
            ..PassOutcome::default()
        };
        let mut first_error: Option<(Ipv4Net, Error)> = None;
        for (cidr, result) in results {
            match result {
                Some(Ok(Applied::Created)) => outcome.created.push(cidr),
                Some(Ok(Applied::FoundPresent)) => outcome.present.push(cidr),
                Some(Ok(Applied::FoundConflict { target })) => {
                    outcome.conflicts.push(Conflict { cidr, target })
                }
                Some(Err(err)) => {
                    // The lowest CIDR's error is reported, whatever order the writes finished in.
                    if first_error.as_ref().is_none_or(|(first, _)| cidr < *first) {
                        first_error = Some((cidr, err));
                    }
                }
                None => outcome.remaining.push(cidr),
            }
        }
        if let Some((_, err)) = first_error {
            return Err(err);
        }
        outcome.created.sort();
        outcome.present.sort();
        outcome.conflicts.sort_by_key(|conflict| conflict.cidr);
        outcome.remaining.sort();
        Ok(outcome)
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

/// The report of the earlier passes of this execution, if the input carries an unfinished one.
fn earlier_report(input: &Value) -> Result<Option<RoutesReport>> {
    let Some(routes) = input.get("routes") else {
        return Ok(None);
    };
    if routes.get("complete") != Some(&Value::Bool(false)) {
        // A finished report is from an earlier run; this one starts afresh.
        return Ok(None);
    }
    serde_json::from_value(routes.clone()).map(Some).map_err(|err| {
        Error::invalid(
            "routes",
            format!(
                "is an unfinished report that cannot be read ({err}); pass modify-routes' own \
                 output back unchanged, or leave `routes` out to start afresh"
            ),
        )
    })
}

fn check_same_table(field: &str, earlier: &SideReport, route_table_id: &str) -> Result<()> {
    if earlier.route_table_id == route_table_id {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        format!(
            "is {}, but the request routes through {route_table_id}; leave `routes` out to \
             start afresh",
            echo(&earlier.route_table_id)
        ),
    ))
}

/// Runs one pass: reads both sides, plans, writes what fits in `budget`, and reports the whole
/// execution so far.
pub async fn modify_routes(context: &Context, input: &Value, budget: Budget) -> Result<Value> {
    let peering = parse_peering_ref(input)?;
    let earlier = earlier_report(input)?;
    if let Some(earlier) = &earlier {
        check_same_table(
            "routes.active.routeTableId",
            &earlier.active,
            &peering.request.active_route_table_id,
        )?;
        check_same_table(
            "routes.passive.routeTableId",
            &earlier.passive,
            &peering.request.passive_route_table_id,
        )?;
    }
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
    let (active_pass, passive_pass) = tokio::join!(
        active_side.apply(active_plan, attachment_id, context, budget),
        passive_side.apply(passive_plan, attachment_id, context, budget),
    );
    let (active_pass, passive_pass) = (active_pass?, passive_pass?);
    for (side, pass, table) in [
        ("active", &active_pass, &active_side.route_table_id),
        ("passive", &passive_pass, &passive_side.route_table_id),
    ] {
        for conflict in &pass.conflicts {
            warnings.push(format!(
                "{} in the {side} route table {table} already goes to {}; left unchanged",
                conflict.cidr, conflict.target
            ));
        }
    }
    for warning in &warnings {
        warn!(action = "ModifyRoutes", attachment_id, warning = %warning);
    }
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!(
            "… and {more} more warnings; the function's log has them all"
        ));
    }

    let routes = RoutesReport::after_pass(
        earlier.as_ref(),
        SideReport::after_pass(
            &active_side.route_table_id,
            earlier.as_ref().map(|e| &e.active),
            active_pass,
        ),
        SideReport::after_pass(
            &passive_side.route_table_id,
            earlier.as_ref().map(|e| &e.passive),
            passive_pass,
        ),
    );
    info!(
        action = "ModifyRoutes",
        attachment_id,
        pass = routes.passes,
        complete = routes.complete,
        active_remaining = routes.active.counts.remaining,
        passive_remaining = routes.passive.counts.remaining,
        "route pass finished"
    );

    let mut output = input.clone();
    if let Some(object) = output.as_object_mut() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_unlimited_budget_always_allows_a_write_and_a_spent_one_never_does() {
        assert!(Budget::unlimited().allows_another_write());
        let far = Instant::now() + Duration::from_secs(3600);
        assert!(Budget::until(far, Duration::from_secs(60)).allows_another_write());
        let near = Instant::now() + Duration::from_millis(50);
        assert!(
            !Budget::until(near, Duration::from_secs(1)).allows_another_write(),
            "inside the margin"
        );
    }
}
