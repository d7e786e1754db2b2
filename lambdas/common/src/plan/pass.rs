//! One `modify-routes` pass, decided: from a snapshot of both sides as read, the CIDRs each side
//! leads to, the overlap check, every table's plan and the quota check ([`plan_pass`]); then,
//! from what the writes did, the state of each table after the pass, the reachability walk and
//! the report ([`report_pass`], [`report_plan`] for a dry run). Pure: `actions::routes` reads,
//! writes and calls these in between.
//!
//! Where a route decision is made: [`plan_pass`] chooses which CIDRs go into which table,
//! [`crate::plan::routing::plan_routes`] decides create, present or conflict for each.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use crate::contract::request::RouteOptions;
use crate::error::{Error, Result};
use crate::plan::reachability::{reachability, Reachability, SideView};
use crate::plan::report::{
    PassOutcome, PlanReport, RoutesReport, SideReport, TablePlan, VpcTablePlan, VpcTableReport,
};
use crate::plan::routing::{
    cidrs_of, extra, find_overlap, plan_routes, propagated_on_premises, Conflict, Route, RoutePlan,
    SourcedCidr, Vpc,
};
use crate::plan::vpc_tables::{first_over_quota, VpcAttachment, VpcRouteTable};
use crate::plan::Side;

/// What a dry run plans TGW routes against when no peering exists yet: no route can go via it,
/// so every wanted CIDR without a conflicting route is one a real run would create.
pub const NO_ATTACHMENT_YET: &str = "(the peering attachment, once it exists)";

/// The static and propagated routes of one transit gateway route table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableRoutes {
    pub routes: Vec<Route>,
    /// EC2 said more routes matched than it returned and gave no way to page to them.
    pub truncated: bool,
}

/// One side as read from EC2: its tagged VPCs, their attachments and route tables, and the
/// transit gateway route table's routes and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideSnapshot {
    pub side: Side,
    pub region: String,
    pub transit_gateway_id: String,
    pub route_table_id: String,
    pub tagged: Vec<Vpc>,
    /// The tagged VPCs' live attachments to this side's transit gateway, by VPC id.
    pub attachments: BTreeMap<String, VpcAttachment>,
    pub routes: TableRoutes,
    /// The TGW route table's tags: where the record of the routes this tool created is kept.
    pub table_tags: Vec<(String, String)>,
    /// Each attached tagged VPC's route tables in its attachment's zones, by VPC id.
    pub vpc_tables: BTreeMap<String, Vec<VpcRouteTable>>,
}

/// The peering attachment as each side knows it: where that side's TGW routes go.
#[derive(Debug, Clone, Copy)]
pub struct Peering<'a> {
    pub active: &'a str,
    pub passive: &'a str,
}

impl<'a> Peering<'a> {
    pub fn on(&self, side: Side) -> &'a str {
        match side {
            Side::Active => self.active,
            Side::Passive => self.passive,
        }
    }
}

/// What a pass plans over.
pub struct PassInput<'a> {
    pub active: &'a SideSnapshot,
    pub passive: &'a SideSnapshot,
    pub options: &'a RouteOptions,
    pub tag_key: &'a str,
    pub peering: Peering<'a>,
    /// Routes a VPC route table may hold.
    pub vpc_route_quota: usize,
}

/// One VPC route table's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcTableWork<T> {
    pub vpc_id: String,
    pub route_table_id: String,
    pub work: T,
}

/// What one side needs (a [`RoutePlan`] per table) or what a pass did there (a [`PassOutcome`]
/// per table): its transit gateway route table's, and each VPC route table's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideWork<T> {
    pub tgw: T,
    /// Empty unless VPC routes are on.
    pub vpc: Vec<VpcTableWork<T>>,
}

pub type SidePlan = SideWork<RoutePlan>;
pub type SideOutcome = SideWork<PassOutcome>;

/// Both sides' plans, and what the operator should know about the network as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassPlan {
    pub active: SidePlan,
    pub passive: SidePlan,
    pub warnings: Vec<String>,
}

impl SideSnapshot {
    /// Every CIDR that leads into this side: its tagged VPCs', its extra ranges, and (if asked)
    /// what its route table learns from VPN and Direct Connect gateway attachments.
    pub fn sources(&self, options: &RouteOptions) -> Vec<SourcedCidr> {
        let mut sources = cidrs_of(&self.tagged);
        let extra_cidrs = match self.side {
            Side::Active => &options.extra_cidrs.active,
            Side::Passive => &options.extra_cidrs.passive,
        };
        sources.extend(extra(extra_cidrs, self.side));
        if options.propagated_cidrs {
            sources.extend(propagated_on_premises(&self.routes.routes));
        }
        sources
    }

    /// This side's plan for the remote side's CIDRs: via the peering in the TGW table and, with
    /// VPC routes on, via the local transit gateway in each VPC table.
    pub fn plan(&self, wanted: &[Ipv4Net], attachment_id: &str, vpc_routes: bool) -> SidePlan {
        let vpc = if vpc_routes {
            self.vpc_tables
                .iter()
                .flat_map(|(vpc_id, tables)| {
                    tables.iter().map(move |table| VpcTableWork {
                        vpc_id: vpc_id.clone(),
                        route_table_id: table.id.clone(),
                        work: plan_routes(wanted, &table.routes, &self.transit_gateway_id),
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

    pub fn vpc_table(&self, route_table_id: &str) -> Option<&VpcRouteTable> {
        self.vpc_tables
            .values()
            .flatten()
            .find(|table| table.id == route_table_id)
    }

    fn warnings(&self, tag_key: &str) -> Vec<String> {
        let region = &self.region;
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

    /// Refuses a plan that would take a VPC route table over its quota.
    fn check_quota(&self, plan: &SidePlan, quota: usize) -> Result<()> {
        let planned = plan.vpc.iter().filter_map(|table| {
            self.vpc_tables
                .get(&table.vpc_id)
                .and_then(|tables| tables.iter().find(|t| t.id == table.route_table_id))
                .map(|t| (t, table.work.create.len()))
        });
        match first_over_quota(planned, quota) {
            None => Ok(()),
            Some(over) => Err(Error::RouteQuotaExceeded {
                region: self.region.clone(),
                route_table_id: over.route_table_id,
                vpc_id: over.vpc_id,
                existing: over.existing,
                to_create: over.to_create,
                quota: over.quota,
            }),
        }
    }

    /// This side's routes as they stand after the pass: what was read, plus what the pass wrote
    /// or found.
    pub fn after(&self, outcome: &SideOutcome, attachment_id: &str) -> AfterPass {
        let mut tgw = self.routes.routes.clone();
        add_outcome(&mut tgw, &outcome.tgw, attachment_id);
        let mut vpc_tables = self.vpc_tables.clone();
        for table in &outcome.vpc {
            for found in vpc_tables
                .values_mut()
                .flatten()
                .filter(|t| t.id == table.route_table_id)
            {
                add_outcome(&mut found.routes, &table.work, &self.transit_gateway_id);
            }
        }
        AfterPass { tgw, vpc_tables }
    }

    fn view<'a>(&'a self, after: &'a AfterPass, peering_attachment_id: &'a str) -> SideView<'a> {
        SideView {
            peering_attachment_id,
            region: &self.region,
            transit_gateway_id: &self.transit_gateway_id,
            route_table_id: &self.route_table_id,
            tagged: &self.tagged,
            attachments: &self.attachments,
            vpc_tables: &after.vpc_tables,
            tgw_routes: &after.tgw,
        }
    }
}

/// One side's route tables as a pass left them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterPass {
    pub tgw: Vec<Route>,
    pub vpc_tables: BTreeMap<String, Vec<VpcRouteTable>>,
}

fn add_outcome(routes: &mut Vec<Route>, outcome: &PassOutcome, target: &str) {
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

/// Plans one pass for both sides: each routes the other's CIDRs over the peering. A plan that
/// cannot be carried out (overlapping CIDRs, a VPC table over its quota) is refused whole, before
/// anything is written on either side.
pub fn plan_pass(input: &PassInput) -> Result<PassPlan> {
    let active_cidrs = input.active.sources(input.options);
    let passive_cidrs = input.passive.sources(input.options);
    if let Some((a, p)) = find_overlap(&active_cidrs, &passive_cidrs) {
        return Err(Error::CidrOverlap {
            active_cidr: a.cidr.to_string(),
            active_source: a.source.clone(),
            passive_cidr: p.cidr.to_string(),
            passive_source: p.source.clone(),
            tag_key: input.tag_key.to_owned(),
        });
    }
    let bare = |cidrs: &[SourcedCidr]| cidrs.iter().map(|c| c.cidr).collect::<Vec<_>>();
    let vpc_routes = input.options.vpc_routes;
    let active = input
        .active
        .plan(&bare(&passive_cidrs), input.peering.active, vpc_routes);
    let passive = input
        .passive
        .plan(&bare(&active_cidrs), input.peering.passive, vpc_routes);
    input.active.check_quota(&active, input.vpc_route_quota)?;
    input.passive.check_quota(&passive, input.vpc_route_quota)?;
    let mut warnings = input.active.warnings(input.tag_key);
    warnings.extend(input.passive.warnings(input.tag_key));
    Ok(PassPlan {
        active,
        passive,
        warnings,
    })
}

/// A warning for each route a table already sends elsewhere.
fn conflict_warnings(snapshot: &SideSnapshot, outcome: &SideOutcome) -> Vec<String> {
    let side = snapshot.side;
    let tgw = outcome.tgw.conflicts.iter().map(|conflict| {
        format!(
            "{} in the {side} route table {} already goes to {}; left unchanged",
            conflict.cidr, snapshot.route_table_id, conflict.target
        )
    });
    let vpc = outcome.vpc.iter().flat_map(|table| {
        table.work.conflicts.iter().map(move |conflict: &Conflict| {
            format!(
                "{} in the VPC route table {} ({}, {side}) already goes to {}; left unchanged",
                conflict.cidr, table.route_table_id, table.vpc_id, conflict.target
            )
        })
    });
    tgw.chain(vpc).collect()
}

/// Both sides of a pass: what was read, and what the pass did there.
pub struct SidePass<'a> {
    pub snapshot: &'a SideSnapshot,
    pub outcome: SideOutcome,
}

/// What a pass reports: the routes over the whole execution so far, the warnings to add, and
/// the reachability of every VPC pair as the pass left the network.
pub struct PassReport {
    pub routes: RoutesReport,
    pub warnings: Vec<String>,
    pub reachability: Reachability,
}

/// The report of a pass, on top of the earlier passes' (`None` on the first).
pub fn report_pass(
    earlier: Option<&RoutesReport>,
    active: SidePass,
    passive: SidePass,
    peering: Peering,
) -> PassReport {
    let mut warnings = conflict_warnings(active.snapshot, &active.outcome);
    warnings.extend(conflict_warnings(passive.snapshot, &passive.outcome));
    let reachability = walk(
        active.snapshot,
        &active.outcome,
        passive.snapshot,
        &passive.outcome,
        peering,
    );
    let (active_report, mut vpc_tables) = side_report(earlier, active);
    let (passive_report, passive_tables) = side_report(earlier, passive);
    vpc_tables.extend(passive_tables);
    PassReport {
        routes: RoutesReport::after_pass(earlier, active_report, passive_report, vpc_tables),
        warnings,
        reachability,
    }
}

fn walk(
    active: &SideSnapshot,
    active_outcome: &SideOutcome,
    passive: &SideSnapshot,
    passive_outcome: &SideOutcome,
    peering: Peering,
) -> Reachability {
    let active_after = active.after(active_outcome, peering.active);
    let passive_after = passive.after(passive_outcome, peering.passive);
    reachability(
        &active.view(&active_after, peering.active),
        &passive.view(&passive_after, peering.passive),
    )
}

fn side_report(earlier: Option<&RoutesReport>, pass: SidePass) -> (SideReport, Vec<VpcTableReport>) {
    let snapshot = pass.snapshot;
    let earlier_tgw = earlier.map(|report| match snapshot.side {
        Side::Active => &report.active,
        Side::Passive => &report.passive,
    });
    let tgw = SideReport::after_pass(&snapshot.route_table_id, earlier_tgw, pass.outcome.tgw);
    let tables = pass
        .outcome
        .vpc
        .into_iter()
        .map(|table| VpcTableReport {
            side: snapshot.side,
            vpc_id: table.vpc_id,
            report: SideReport::after_pass(
                &table.route_table_id,
                earlier.and_then(|report| report.vpc_table(&table.route_table_id)),
                table.work,
            ),
        })
        .collect();
    (tgw, tables)
}

/// A dry run's answer: the plan of every table, the warnings a real run would give about the
/// conflicts, and the reachability of the network as it is.
pub fn report_plan(
    active: &SideSnapshot,
    passive: &SideSnapshot,
    plan: &PassPlan,
    peering: Peering,
) -> PassReportPlan {
    let mut warnings = Vec::new();
    let mut vpc_route_tables = Vec::new();
    for (snapshot, side_plan) in [(active, &plan.active), (passive, &plan.passive)] {
        warnings.extend(side_plan.tgw.conflicts.iter().map(|conflict| {
            format!(
                "{} in the {} route table {} already goes to {}; a real run would leave it unchanged",
                conflict.cidr, snapshot.side, snapshot.route_table_id, conflict.target
            )
        }));
        vpc_route_tables.extend(side_plan.vpc.iter().map(|table| VpcTablePlan {
            side: snapshot.side,
            vpc_id: table.vpc_id.clone(),
            plan: TablePlan::of(&table.route_table_id, &table.work),
        }));
    }
    let nothing = SideOutcome::default();
    PassReportPlan {
        plan: PlanReport {
            active: TablePlan::of(&active.route_table_id, &plan.active.tgw),
            passive: TablePlan::of(&passive.route_table_id, &plan.passive.tgw),
            vpc_route_tables,
        },
        warnings,
        reachability: walk(active, &nothing, passive, &nothing, peering),
    }
}

/// What a dry run reports.
pub struct PassReportPlan {
    pub plan: PlanReport,
    pub warnings: Vec<String>,
    pub reachability: Reachability,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::request::ExtraCidrs;
    use crate::plan::routing::Origin;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    const PEERING: &str = "tgw-attach-peering";

    /// One side with one tagged VPC attached, whose one route table holds `vpc_table_routes`
    /// routes besides its local one.
    fn side(side: Side, vpc_cidr: &str, vpc_table_routes: usize) -> SideSnapshot {
        let vpc_id = format!("vpc-{side}");
        let local = Route {
            origin: Origin::Local,
            ..Route::to(net(vpc_cidr), "local")
        };
        let mut routes = vec![local];
        routes.extend((0..vpc_table_routes).map(|i| Route::to(net(&format!("172.16.{i}.0/24")), "igw-1")));
        SideSnapshot {
            side,
            region: format!("{side}-region-1"),
            transit_gateway_id: format!("tgw-{side}"),
            route_table_id: format!("tgw-rtb-{side}"),
            tagged: vec![Vpc {
                id: vpc_id.clone(),
                cidrs: vec![net(vpc_cidr)],
                tags: vec![("addToTransitGateway".into(), "true".into())],
            }],
            attachments: [(
                vpc_id.clone(),
                VpcAttachment {
                    id: format!("tgw-attach-{side}-vpc"),
                    vpc_id: vpc_id.clone(),
                    subnet_ids: vec!["subnet-1".into()],
                },
            )]
            .into(),
            routes: TableRoutes::default(),
            table_tags: Vec::new(),
            vpc_tables: [(
                vpc_id.clone(),
                vec![VpcRouteTable {
                    id: format!("rtb-{side}"),
                    vpc_id,
                    main: true,
                    subnet_ids: Vec::new(),
                    routes,
                    tags: Vec::new(),
                }],
            )]
            .into(),
        }
    }

    fn two_sides() -> (SideSnapshot, SideSnapshot) {
        (
            side(Side::Active, "10.1.0.0/16", 0),
            side(Side::Passive, "10.2.0.0/16", 0),
        )
    }

    fn vpc_routes_on() -> RouteOptions {
        RouteOptions {
            vpc_routes: true,
            ..RouteOptions::default()
        }
    }

    fn input<'a>(
        active: &'a SideSnapshot,
        passive: &'a SideSnapshot,
        options: &'a RouteOptions,
    ) -> PassInput<'a> {
        PassInput {
            active,
            passive,
            options,
            tag_key: "addToTransitGateway",
            peering: Peering {
                active: PEERING,
                passive: PEERING,
            },
            vpc_route_quota: 50,
        }
    }

    #[test]
    fn given_two_fresh_sides_then_each_routes_the_other_sides_cidrs_over_the_peering() {
        let (active, passive) = two_sides();
        let options = RouteOptions::default();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        assert_eq!(plan.active.tgw.create, [net("10.2.0.0/16")]);
        assert_eq!(plan.passive.tgw.create, [net("10.1.0.0/16")]);
        assert!(plan.active.vpc.is_empty(), "VPC routes are off");
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn given_vpc_routes_on_then_each_vpc_table_gets_the_remote_cidrs_via_its_own_tgw() {
        let (active, passive) = two_sides();
        let options = vpc_routes_on();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        assert_eq!(plan.active.vpc.len(), 1);
        assert_eq!(plan.active.vpc[0].route_table_id, "rtb-active");
        assert_eq!(plan.active.vpc[0].work.create, [net("10.2.0.0/16")]);
        assert_eq!(plan.passive.vpc[0].work.create, [net("10.1.0.0/16")]);
    }

    #[test]
    fn given_an_extra_range_that_overlaps_the_other_side_then_the_pass_is_refused_naming_both_sources() {
        let (active, passive) = two_sides();
        let options = RouteOptions {
            extra_cidrs: ExtraCidrs {
                active: vec![],
                passive: vec![net("10.0.0.0/8")],
            },
            ..RouteOptions::default()
        };
        match plan_pass(&input(&active, &passive, &options)) {
            Err(Error::CidrOverlap {
                active_source,
                passive_source,
                ..
            }) => {
                assert_eq!(active_source, "vpc-active");
                assert_eq!(passive_source, "extraCidrs.passive");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_a_vpc_table_at_its_quota_then_the_pass_is_refused_whole_naming_the_table() {
        let active = side(Side::Active, "10.1.0.0/16", 0);
        let passive = side(Side::Passive, "10.2.0.0/16", 50);
        let options = vpc_routes_on();
        match plan_pass(&input(&active, &passive, &options)) {
            Err(Error::RouteQuotaExceeded {
                route_table_id,
                region,
                existing,
                to_create,
                ..
            }) => {
                assert_eq!(route_table_id, "rtb-passive");
                assert_eq!(region, "passive-region-1");
                assert_eq!((existing, to_create), (50, 1));
            }
            other => panic!("{other:?}"),
        }
        let off = RouteOptions::default();
        assert!(
            plan_pass(&input(&active, &passive, &off)).is_ok(),
            "VPC tables untouched when off"
        );
    }

    #[test]
    fn given_an_unattached_tagged_vpc_and_an_untagged_side_then_the_plan_warns_of_each() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        active.attachments.clear();
        let mut passive = side(Side::Passive, "10.2.0.0/16", 0);
        passive.tagged.clear();
        let options = RouteOptions::default();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        assert_eq!(plan.warnings.len(), 2, "{:?}", plan.warnings);
        assert!(plan.warnings[0].contains("has no attachment to tgw-active"));
        assert!(plan.warnings[1].contains("no VPC in passive-region-1 is tagged"));
    }

    #[test]
    fn given_a_pass_that_created_every_route_then_the_report_says_every_pair_is_reachable() {
        let (active, passive) = two_sides();
        let options = vpc_routes_on();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        let done = |plan: &SidePlan| SideOutcome {
            tgw: PassOutcome {
                created: plan.tgw.create.clone(),
                ..PassOutcome::default()
            },
            vpc: plan
                .vpc
                .iter()
                .map(|table| VpcTableWork {
                    vpc_id: table.vpc_id.clone(),
                    route_table_id: table.route_table_id.clone(),
                    work: PassOutcome {
                        created: table.work.create.clone(),
                        ..PassOutcome::default()
                    },
                })
                .collect(),
        };
        // The far side's TGW must route to its own VPC's attachment, as propagation does.
        let with_propagation = |mut snapshot: SideSnapshot, cidr: &str| {
            snapshot.routes.routes.push(Route {
                origin: Origin::Propagated {
                    resource_type: "vpc".into(),
                },
                ..Route::to(net(cidr), &format!("tgw-attach-{}-vpc", snapshot.side))
            });
            snapshot
        };
        let active = with_propagation(active, "10.1.0.0/16");
        let passive = with_propagation(passive, "10.2.0.0/16");
        let report = report_pass(
            None,
            SidePass {
                snapshot: &active,
                outcome: done(&plan.active),
            },
            SidePass {
                snapshot: &passive,
                outcome: done(&plan.passive),
            },
            Peering {
                active: PEERING,
                passive: PEERING,
            },
        );
        assert_eq!((report.reachability.pairs, report.reachability.reachable), (1, 1));
        assert_eq!(report.routes.active.counts.created, 1);
        assert_eq!(report.routes.vpc_route_tables.len(), 2);
        assert!(report.routes.complete);

        let dry = report_plan(
            &active,
            &passive,
            &plan,
            Peering {
                active: PEERING,
                passive: PEERING,
            },
        );
        assert_eq!(dry.plan.active.counts.create, 1);
        assert_eq!(
            dry.reachability.reachable, 0,
            "a dry run describes the network as it is"
        );
    }
}
