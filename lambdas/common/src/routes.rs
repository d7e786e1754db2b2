//! `modify-routes`: read both sides once, plan, apply, report; stop before the Lambda deadline
//! and let the state machine call again while routes remain.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use ipnet::Ipv4Net;
use serde_json::Value;
use tracing::{info, warn};

use crate::context::{Context, RouteWrites};
use crate::ec2::{Ec2, TableRoutes};
use crate::error::{Error, Result};
use crate::planner::{
    cidrs_of, classify, extra, find_overlap, is_tagged, plan_routes, propagated_on_premises, Conflict, Route,
    RouteOutcome, RoutePlan, SourcedCidr, Vpc,
};
use crate::reachability::{reachability, SideView};
use crate::record;
use crate::report::{
    PassOutcome, PlanReport, RoutesReport, SideReport, TablePlan, VpcTablePlan, VpcTableReport,
};
use crate::request::{parse_routes_input, passive_attachment_id, Action, PeeringRef, RouteOptions};
use crate::state::Phase;
use crate::status::check_joins_requested_gateways;
use crate::teardown;
use crate::validate::echo;
use crate::vpc_tables::{first_over_quota, tables_for, VpcAttachment, VpcRouteTable};

/// What a dry run plans TGW routes against when no peering exists yet: no route can go via it,
/// so every wanted CIDR without a conflicting route is one a real run would create.
const NO_ATTACHMENT_YET: &str = "(the peering attachment, once it exists)";

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

/// One side as read from EC2: its tagged VPCs, their attachments and route tables, and the
/// transit gateway route table's routes.
struct Side {
    ec2: Ec2,
    /// `active` or `passive`.
    name: &'static str,
    transit_gateway_id: String,
    route_table_id: String,
    tagged: Vec<Vpc>,
    /// The tagged VPCs' live attachments to this side's transit gateway, by VPC id.
    attachments: BTreeMap<String, VpcAttachment>,
    routes: TableRoutes,
    /// The TGW route table's tags: where the record of the routes this tool created is kept.
    table_tags: Vec<(String, String)>,
    /// Each attached tagged VPC's route tables in its attachment's zones, by VPC id.
    vpc_tables: BTreeMap<String, Vec<VpcRouteTable>>,
}

async fn read_side(
    ec2: Ec2,
    name: &'static str,
    transit_gateway_id: &str,
    route_table_id: &str,
    tag_key: &str,
) -> Result<Side> {
    let (vpcs, attachments, routes, table) = tokio::try_join!(
        ec2.vpcs(),
        ec2.vpc_attachments(transit_gateway_id),
        ec2.routes(route_table_id),
        ec2.route_table(route_table_id),
    )?;
    let table_tags = table.map(|table| table.tags).unwrap_or_default();
    let tagged: Vec<Vpc> = vpcs.into_iter().filter(|vpc| is_tagged(vpc, tag_key)).collect();
    let attachments: BTreeMap<String, VpcAttachment> = attachments
        .into_iter()
        .filter(|attachment| tagged.iter().any(|vpc| vpc.id == attachment.vpc_id))
        .map(|attachment| (attachment.vpc_id.clone(), attachment))
        .collect();
    let attached: Vec<String> = attachments.keys().cloned().collect();
    // Read whether or not VPC routes are on: the reachability report needs them.
    let (subnets, tables) = if attached.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        tokio::try_join!(ec2.subnets(&attached), ec2.vpc_route_tables(&attached))?
    };
    let vpc_tables = attachments
        .values()
        .map(|attachment| {
            let chosen = tables_for(attachment, &subnets, &tables)
                .into_iter()
                .cloned()
                .collect();
            (attachment.vpc_id.clone(), chosen)
        })
        .collect();
    Ok(Side {
        ec2,
        name,
        transit_gateway_id: transit_gateway_id.to_owned(),
        route_table_id: route_table_id.to_owned(),
        tagged,
        attachments,
        routes,
        table_tags,
        vpc_tables,
    })
}

/// A route table this pass may write to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Table {
    /// The side's transit gateway route table; routes go via the peering attachment.
    Tgw,
    /// A VPC route table (by id); routes go via the side's transit gateway.
    Vpc(String),
}

/// What one side needs: its transit gateway route table's plan, and each VPC route table's.
struct SidePlan {
    tgw: RoutePlan,
    /// (VPC id, route table id, plan), empty unless VPC routes are on.
    vpc: Vec<(String, String, RoutePlan)>,
}

/// What one pass did on one side.
struct SideOutcome {
    tgw: PassOutcome,
    vpc: Vec<(String, String, PassOutcome)>,
}

impl Side {
    /// Every CIDR that leads into this side: its tagged VPCs', its extra ranges, and (if asked)
    /// what its route table learns from VPN and Direct Connect gateway attachments.
    fn sources(&self, options: &RouteOptions) -> Vec<SourcedCidr> {
        let mut sources = cidrs_of(&self.tagged);
        let extra_cidrs = match self.name {
            "active" => &options.extra_cidrs.active,
            _ => &options.extra_cidrs.passive,
        };
        sources.extend(extra(extra_cidrs, self.name));
        if options.propagated_cidrs {
            sources.extend(propagated_on_premises(&self.routes.routes));
        }
        sources
    }

    fn plan(&self, wanted: &[Ipv4Net], attachment_id: &str, vpc_routes: bool) -> SidePlan {
        let vpc = if vpc_routes {
            self.vpc_tables
                .iter()
                .flat_map(|(vpc_id, tables)| {
                    tables.iter().map(move |table| {
                        (
                            vpc_id.clone(),
                            table.id.clone(),
                            plan_routes(wanted, &table.routes, &self.transit_gateway_id),
                        )
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        SidePlan {
            tgw: plan_routes(wanted, &self.routes.routes, attachment_id),
            vpc,
        }
    }

    fn warnings(&self, tag_key: &str) -> Vec<String> {
        let region = self.ec2.region();
        let mut warnings: Vec<String> = self
            .tagged
            .iter()
            .filter(|vpc| !self.attachments.contains_key(&vpc.id))
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
                "{} has more routes than one read returned; routes missing from the read were \
                 re-checked wherever a create found one already there",
                self.route_table_id
            ));
        }
        warnings
    }

    /// Writes the planned creates at the Region's pace, a few at a time, until the plan is done
    /// or the budget runs out: the transit gateway table's first, then the VPC tables'. The
    /// first write always goes out, so every pass makes progress and the state machine's loop
    /// ends. After an error no new write starts; those in flight finish.
    async fn apply(
        &self,
        plan: SidePlan,
        attachment_id: &str,
        context: &Context,
        budget: Budget,
    ) -> Result<SideOutcome> {
        let RouteWrites { in_flight, .. } = context.route_writes();
        let limiter = context.route_write_limiter(self.ec2.region());
        let first_write_done = AtomicBool::new(false);
        let halted = AtomicBool::new(false);
        let may_start = || {
            !halted.load(Ordering::SeqCst)
                && (!first_write_done.load(Ordering::SeqCst) || budget.allows_another_write())
        };
        let writes: Vec<(Table, Ipv4Net)> = plan
            .tgw
            .create
            .iter()
            .map(|cidr| (Table::Tgw, *cidr))
            .chain(
                plan.vpc
                    .iter()
                    .flat_map(|(_, table, p)| p.create.iter().map(|cidr| (Table::Vpc(table.clone()), *cidr))),
            )
            .collect();
        let results: Vec<(Table, Ipv4Net, Option<Result<Applied>>)> = stream::iter(writes)
            .map(|(table, cidr)| {
                let limiter = &limiter;
                let may_start = &may_start;
                let first_write_done = &first_write_done;
                let halted = &halted;
                async move {
                    if !may_start() {
                        return (table, cidr, None);
                    }
                    limiter.until_ready().await;
                    // The wait for the pace may have used up the budget.
                    if first_write_done.swap(true, Ordering::SeqCst) && !budget.allows_another_write() {
                        return (table, cidr, None);
                    }
                    if halted.load(Ordering::SeqCst) {
                        return (table, cidr, None);
                    }
                    let result = match &table {
                        Table::Tgw => {
                            create_planned_route(&self.ec2, &self.route_table_id, cidr, attachment_id).await
                        }
                        Table::Vpc(id) => {
                            create_planned_vpc_route(&self.ec2, id, cidr, &self.transit_gateway_id).await
                        }
                    };
                    if result.is_err() {
                        halted.store(true, Ordering::SeqCst);
                    }
                    (table, cidr, Some(result))
                }
            })
            .buffer_unordered(in_flight.max(1))
            .collect()
            .await;

        let start = |plan: RoutePlan| PassOutcome {
            present: plan.present,
            conflicts: plan.conflicts,
            ..PassOutcome::default()
        };
        let mut outcomes: BTreeMap<Table, PassOutcome> = BTreeMap::new();
        let mut vpc_of: Vec<(String, String)> = Vec::new();
        outcomes.insert(Table::Tgw, start(plan.tgw));
        for (vpc_id, table, p) in plan.vpc {
            vpc_of.push((vpc_id, table.clone()));
            outcomes.insert(Table::Vpc(table), start(p));
        }
        let mut first_error: Option<((Table, Ipv4Net), Error)> = None;
        for (table, cidr, result) in results {
            let outcome = outcomes.entry(table.clone()).or_default();
            match result {
                Some(Ok(Applied::Created)) => outcome.created.push(cidr),
                Some(Ok(Applied::FoundPresent)) => outcome.present.push(cidr),
                Some(Ok(Applied::FoundConflict { target })) => {
                    outcome.conflicts.push(Conflict { cidr, target })
                }
                Some(Err(err)) => {
                    // The first write's error is reported, whatever order the writes finished in.
                    let key = (table, cidr);
                    if first_error.as_ref().is_none_or(|(first, _)| key < *first) {
                        first_error = Some((key, err));
                    }
                }
                None => outcome.remaining.push(cidr),
            }
        }
        if let Some((_, err)) = first_error {
            return Err(err);
        }
        for outcome in outcomes.values_mut() {
            outcome.created.sort();
            outcome.present.sort();
            outcome.conflicts.sort_by_key(|conflict| conflict.cidr);
            outcome.remaining.sort();
        }
        let tgw = outcomes.remove(&Table::Tgw).unwrap_or_default();
        let vpc = vpc_of
            .into_iter()
            .map(|(vpc_id, table)| {
                let outcome = outcomes.remove(&Table::Vpc(table.clone())).unwrap_or_default();
                (vpc_id, table, outcome)
            })
            .collect();
        Ok(SideOutcome { tgw, vpc })
    }

    /// Adds this pass's creates to each table's record (see [`crate::record`]), so that teardown
    /// removes exactly them. Returns a warning for each table whose record is full.
    async fn record(
        &self,
        outcome: &SideOutcome,
        peering_id: &str,
        context: &Context,
    ) -> Result<Vec<String>> {
        let limiter = context.route_write_limiter(self.ec2.region());
        let mut warnings = Vec::new();
        let tables = std::iter::once((
            self.route_table_id.as_str(),
            self.table_tags.as_slice(),
            &outcome.tgw,
        ))
        .chain(outcome.vpc.iter().filter_map(|(_, table_id, pass)| {
            let table = self.vpc_tables.values().flatten().find(|t| t.id == *table_id)?;
            Some((table.id.as_str(), table.tags.as_slice(), pass))
        }));
        for (table_id, tags, pass) in tables {
            if pass.created.is_empty() {
                continue;
            }
            let mut cidrs = record::recorded(tags, peering_id);
            cidrs.extend(pass.created.iter().copied());
            if !record::fits(tags, peering_id, &cidrs) {
                warnings.push(format!(
                    "{table_id} has no room left in its tags to record {} routes this run created; \
                     teardown will leave those",
                    pass.created.len()
                ));
                continue;
            }
            limiter.until_ready().await;
            self.ec2
                .create_tags(table_id, &record::record_tags(peering_id, &cidrs))
                .await?;
        }
        Ok(warnings)
    }

    fn view<'a>(
        &'a self,
        routes: &'a [Route],
        tables: &'a BTreeMap<String, Vec<VpcRouteTable>>,
        peering_attachment_id: &'a str,
    ) -> SideView<'a> {
        SideView {
            peering_attachment_id,
            region: self.ec2.region(),
            transit_gateway_id: &self.transit_gateway_id,
            route_table_id: &self.route_table_id,
            tagged: &self.tagged,
            attachments: &self.attachments,
            vpc_tables: tables,
            tgw_routes: routes,
        }
    }

    /// This side's routes as they stand after the pass: what was read, plus what the pass wrote
    /// or found.
    fn after(
        &self,
        outcome: &SideOutcome,
        attachment_id: &str,
    ) -> (Vec<Route>, BTreeMap<String, Vec<VpcRouteTable>>) {
        fn add(routes: &mut Vec<Route>, outcome: &PassOutcome, target: &str) {
            let known: Vec<Ipv4Net> = routes.iter().map(|route| route.cidr).collect();
            for cidr in outcome.created.iter().chain(&outcome.present) {
                if !known.contains(cidr) {
                    routes.push(Route::to(*cidr, target));
                }
            }
            for conflict in &outcome.conflicts {
                if !known.contains(&conflict.cidr) {
                    routes.push(Route {
                        blackhole: conflict.target.starts_with("blackhole"),
                        ..Route::to(conflict.cidr, &conflict.target)
                    });
                }
            }
        }
        let mut tgw = self.routes.routes.clone();
        add(&mut tgw, &outcome.tgw, attachment_id);
        let mut vpc_tables = self.vpc_tables.clone();
        for (_, table_id, pass) in &outcome.vpc {
            for table in vpc_tables
                .values_mut()
                .flatten()
                .filter(|table| table.id == *table_id)
            {
                add(&mut table.routes, pass, &self.transit_gateway_id);
            }
        }
        (tgw, vpc_tables)
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
    let created = ec2.create_route(route_table_id, cidr, attachment_id).await;
    settle(created, cidr, attachment_id, || {
        ec2.exact_route(route_table_id, cidr)
    })
    .await
}

/// Creates one planned VPC route via the local transit gateway, with the same handling of a
/// route that appeared since the table was read as [`create_planned_route`].
pub async fn create_planned_vpc_route(
    ec2: &Ec2,
    route_table_id: &str,
    cidr: Ipv4Net,
    transit_gateway_id: &str,
) -> Result<Applied> {
    let created = ec2
        .create_vpc_route(route_table_id, cidr, transit_gateway_id)
        .await;
    settle(created, cidr, transit_gateway_id, || {
        ec2.exact_vpc_route(route_table_id, cidr)
    })
    .await
}

/// What a create's result means: done, or (if EC2 refused it) whatever the route re-read by
/// `reread` now is, classified against `target`.
async fn settle<R>(
    created: Result<()>,
    cidr: Ipv4Net,
    target: &str,
    reread: impl FnOnce() -> R,
) -> Result<Applied>
where
    R: std::future::Future<Output = Result<Option<Route>>>,
{
    let err = match created {
        Ok(()) => return Ok(Applied::Created),
        Err(err @ Error::Ec2 { .. }) => err,
        Err(err) => return Err(err),
    };
    let Some(existing) = reread().await? else {
        return Err(err);
    };
    match classify(cidr, &[existing], target) {
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
    let (request, attachment_id) = parse_routes_input(input)?;
    let dry_run = request.dry_run;
    // A dry run writes nothing, so it never has an unfinished report to continue.
    let earlier = if dry_run { None } else { earlier_report(input)? };
    if let Some(earlier) = &earlier {
        check_same_table(
            "routes.active.routeTableId",
            &earlier.active,
            &request.active_route_table_id,
        )?;
        check_same_table(
            "routes.passive.routeTableId",
            &earlier.passive,
            &request.passive_route_table_id,
        )?;
    }
    let request = &request;
    let active = Ec2::new(context.ec2(&request.active_region), &request.active_region);
    let passive = context
        .passive_ec2(
            &request.passive_region,
            request.passive.passive_role_arn.as_deref(),
        )
        .await?;

    let attachment = match &attachment_id {
        Some(id) => active.peering_attachment(id).await?,
        None => None,
    };
    if request.action == Action::Teardown {
        if let Some(found) = &attachment {
            check_joins_requested_gateways(
                &PeeringRef {
                    request: request.clone(),
                    attachment_id: found.id.clone(),
                },
                found,
            )?;
        }
        return teardown::remove_routes(context, input, request, &active, &passive, attachment.as_ref())
            .await;
    }
    let attachment = match (attachment, attachment_id) {
        (Some(attachment), Some(id)) => {
            let peering = PeeringRef {
                request: request.clone(),
                attachment_id: id,
            };
            check_joins_requested_gateways(&peering, &attachment)?;
            Some(attachment)
        }
        (None, Some(id)) if !dry_run => {
            return Err(Error::PeeringAttachmentNotFound {
                attachment_id: id,
                region: request.active_region.clone(),
            })
        }
        _ => None,
    };
    match attachment.as_ref().map(|a| a.state.phase()) {
        Some(Phase::Ready) => {}
        Some(Phase::Dead) => {
            let attachment = attachment.expect("matched Some");
            return Err(Error::PeeringFailed {
                attachment_id: attachment.id,
                state: attachment.state.to_string(),
            });
        }
        // A dry run plans for the peering as it will be once live.
        _ if dry_run => {}
        Some(Phase::InProgress | Phase::NeedsAcceptance) => {
            let attachment = attachment.expect("matched Some");
            return Err(Error::PeeringNotReady {
                attachment_id: attachment.id,
                state: attachment.state.to_string(),
            });
        }
        None => {
            return Err(Error::invalid(
                "attachmentId",
                "is missing; pass peer's output to this function unchanged",
            ))
        }
    }
    let attachment_id = attachment.as_ref().map_or(NO_ATTACHMENT_YET, |a| a.id.as_str());
    // The passive side may know the attachment by another id (another account's view of it).
    let passive_id = match &attachment {
        Some(attachment) => passive_attachment_id(input, &attachment.id)?,
        None => NO_ATTACHMENT_YET.to_owned(),
    };
    let passive_id = passive_id.as_str();

    let tag_key = request.vpc_tag_key.as_str();
    let options = &request.options;
    // Both sides run at once; errors are reported active side first, so they are deterministic.
    let (active_side, passive_side) = tokio::join!(
        read_side(
            active,
            "active",
            &request.active_transit_gateway_id,
            &request.active_route_table_id,
            tag_key
        ),
        read_side(
            passive,
            "passive",
            &request.passive_transit_gateway_id,
            &request.passive_route_table_id,
            tag_key
        ),
    );
    let (active_side, passive_side) = (active_side?, passive_side?);

    let active_cidrs = active_side.sources(options);
    let passive_cidrs = passive_side.sources(options);
    if let Some((a, p)) = find_overlap(&active_cidrs, &passive_cidrs) {
        return Err(Error::CidrOverlap {
            active_cidr: a.cidr.to_string(),
            active_source: a.source.clone(),
            passive_cidr: p.cidr.to_string(),
            passive_source: p.source.clone(),
            tag_key: tag_key.to_owned(),
        });
    }

    let bare = |cidrs: &[SourcedCidr]| cidrs.iter().map(|c| c.cidr).collect::<Vec<_>>();
    // Each side routes the other side's CIDRs over the peering.
    let active_plan = active_side.plan(&bare(&passive_cidrs), attachment_id, options.vpc_routes);
    let passive_plan = passive_side.plan(&bare(&active_cidrs), passive_id, options.vpc_routes);
    let vpc_creates = |plan: &SidePlan| plan.vpc.iter().map(|(_, _, p)| p.create.len()).sum::<usize>();
    info!(
        action = "PlanRoutes",
        attachment_id,
        active_create = active_plan.tgw.create.len(),
        active_present = active_plan.tgw.present.len(),
        active_conflicts = active_plan.tgw.conflicts.len(),
        passive_create = passive_plan.tgw.create.len(),
        passive_present = passive_plan.tgw.present.len(),
        passive_conflicts = passive_plan.tgw.conflicts.len(),
        active_vpc_tables = active_plan.vpc.len(),
        active_vpc_create = vpc_creates(&active_plan),
        passive_vpc_tables = passive_plan.vpc.len(),
        passive_vpc_create = vpc_creates(&passive_plan),
        "planned routes"
    );
    // A plan that cannot fit is refused whole, before anything is written on either side.
    for (side, plan) in [(&active_side, &active_plan), (&passive_side, &passive_plan)] {
        let planned = plan.vpc.iter().filter_map(|(vpc_id, table_id, p)| {
            side.vpc_tables
                .get(vpc_id)
                .and_then(|tables| tables.iter().find(|table| table.id == *table_id))
                .map(|table| (table, p.create.len()))
        });
        if let Some(over) = first_over_quota(planned, context.vpc_route_quota()) {
            return Err(Error::RouteQuotaExceeded {
                region: side.ec2.region().to_owned(),
                route_table_id: over.route_table_id,
                vpc_id: over.vpc_id,
                existing: over.existing,
                to_create: over.to_create,
                quota: over.quota,
            });
        }
    }

    let mut warnings = active_side.warnings(tag_key);
    warnings.extend(passive_side.warnings(tag_key));
    if dry_run {
        if attachment.is_none() {
            warnings.push(
                "no peering attachment exists yet: the plan is what a real run would route once \
                 peer has created it and it is available"
                    .to_owned(),
            );
        }
        return Ok(planned_output(
            input,
            (&active_side, active_plan, attachment_id),
            (&passive_side, passive_plan, passive_id),
            warnings,
        ));
    }
    // A failure on one side must not cut the other side's writes short: both run to the end.
    let (active_pass, passive_pass) = tokio::join!(
        active_side.apply(active_plan, attachment_id, context, budget),
        passive_side.apply(passive_plan, passive_id, context, budget),
    );
    let (active_pass, passive_pass) = (active_pass?, passive_pass?);
    let (active_recorded, passive_recorded) = tokio::join!(
        active_side.record(&active_pass, attachment_id, context),
        passive_side.record(&passive_pass, passive_id, context),
    );
    warnings.extend(active_recorded?);
    warnings.extend(passive_recorded?);
    for (side, pass) in [(&active_side, &active_pass), (&passive_side, &passive_pass)] {
        let name = side.name;
        for conflict in &pass.tgw.conflicts {
            warnings.push(format!(
                "{} in the {name} route table {} already goes to {}; left unchanged",
                conflict.cidr, side.route_table_id, conflict.target
            ));
        }
        for (vpc_id, table, outcome) in &pass.vpc {
            for conflict in &outcome.conflicts {
                warnings.push(format!(
                    "{} in the VPC route table {table} ({vpc_id}, {name}) already goes to {}; left unchanged",
                    conflict.cidr, conflict.target
                ));
            }
        }
    }
    let warnings = capped(warnings);

    let (active_routes, active_tables) = active_side.after(&active_pass, attachment_id);
    let (passive_routes, passive_tables) = passive_side.after(&passive_pass, passive_id);
    let reachable = reachability(
        &active_side.view(&active_routes, &active_tables, attachment_id),
        &passive_side.view(&passive_routes, &passive_tables, passive_id),
    );

    let vpc_reports = |side: &Side, pass: SideOutcome| -> (SideReport, Vec<VpcTableReport>) {
        let earlier_tgw = earlier.as_ref().map(|e| {
            if side.name == "active" {
                &e.active
            } else {
                &e.passive
            }
        });
        let tgw = SideReport::after_pass(&side.route_table_id, earlier_tgw, pass.tgw);
        let tables = pass
            .vpc
            .into_iter()
            .map(|(vpc_id, table, outcome)| VpcTableReport {
                side: side.name.to_owned(),
                vpc_id,
                report: SideReport::after_pass(
                    &table,
                    earlier.as_ref().and_then(|e| e.vpc_table(&table)),
                    outcome,
                ),
            })
            .collect();
        (tgw, tables)
    };
    let (active_report, mut vpc_tables) = vpc_reports(&active_side, active_pass);
    let (passive_report, passive_vpc_tables) = vpc_reports(&passive_side, passive_pass);
    vpc_tables.extend(passive_vpc_tables);
    let routes = RoutesReport::after_pass(earlier.as_ref(), active_report, passive_report, vpc_tables);
    info!(
        action = "ModifyRoutes",
        attachment_id,
        pass = routes.passes,
        complete = routes.complete,
        active_remaining = routes.active.counts.remaining,
        passive_remaining = routes.passive.counts.remaining,
        pairs = reachable.pairs,
        reachable = reachable.reachable,
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
        object.insert(
            "reachability".to_owned(),
            serde_json::to_value(&reachable).unwrap_or(Value::Null),
        );
    }
    Ok(output)
}

/// A dry run's answer: the plan of every table, and the reachability of the network as it is.
fn planned_output(
    input: &Value,
    active: (&Side, SidePlan, &str),
    passive: (&Side, SidePlan, &str),
    mut warnings: Vec<String>,
) -> Value {
    let mut vpc_route_tables = Vec::new();
    let mut table_plans = Vec::new();
    for (side, plan, _) in [&active, &passive] {
        for conflict in &plan.tgw.conflicts {
            warnings.push(format!(
                "{} in the {} route table {} already goes to {}; a real run would leave it unchanged",
                conflict.cidr, side.name, side.route_table_id, conflict.target
            ));
        }
        table_plans.push(TablePlan::of(&side.route_table_id, &plan.tgw));
        vpc_route_tables.extend(plan.vpc.iter().map(|(vpc_id, table, p)| VpcTablePlan {
            side: side.name.to_owned(),
            vpc_id: vpc_id.clone(),
            plan: TablePlan::of(table, p),
        }));
    }
    let passive_plan = table_plans.pop().unwrap_or_default();
    let active_plan = table_plans.pop().unwrap_or_default();
    let report = PlanReport {
        active: active_plan,
        passive: passive_plan,
        vpc_route_tables,
    };
    let nothing = SideOutcome {
        tgw: PassOutcome::default(),
        vpc: Vec::new(),
    };
    let (active_routes, active_tables) = active.0.after(&nothing, active.2);
    let (passive_routes, passive_tables) = passive.0.after(&nothing, passive.2);
    let reachable = reachability(
        &active.0.view(&active_routes, &active_tables, active.2),
        &passive.0.view(&passive_routes, &passive_tables, passive.2),
    );
    info!(
        action = "ModifyRoutes",
        dry_run = true,
        active_create = report.active.counts.create,
        passive_create = report.passive.counts.create,
        vpc_tables = report.vpc_route_tables.len(),
        "planned routes; changed nothing"
    );
    let mut output = input.clone();
    if let Some(object) = output.as_object_mut() {
        object.remove("routes");
        object.insert(
            "routePlan".to_owned(),
            serde_json::to_value(report).unwrap_or(Value::Null),
        );
        object.insert(
            "warnings".to_owned(),
            serde_json::to_value(capped(warnings)).unwrap_or(Value::Null),
        );
        object.insert(
            "reachability".to_owned(),
            serde_json::to_value(&reachable).unwrap_or(Value::Null),
        );
    }
    output
}

/// Logs every warning and keeps at most [`MAX_WARNINGS`] for the output.
fn capped(mut warnings: Vec<String>) -> Vec<String> {
    for warning in &warnings {
        warn!(action = "ModifyRoutes", warning = %warning);
    }
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!(
            "… and {more} more warnings; the function's log has them all"
        ));
    }
    warnings
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
