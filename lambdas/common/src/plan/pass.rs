//! One `modify-routes` pass, decided: from a snapshot of both sides as read, the CIDRs each side
//! leads to, the overlap check, every table's plan and the quota check ([`plan_pass`]); then,
//! from what the writes did, the state of each table after the pass, the reachability walk and
//! the report ([`report_pass`], [`report_plan`] for a dry run). Pure: `actions::routes` reads,
//! writes and calls these in between.
//!
//! Where a route decision is made: [`plan_pass`] chooses which CIDRs go into which table,
//! [`crate::plan::routing::plan_routes`] decides create, present or conflict for each.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use crate::contract::request::RouteOptions;
use crate::error::{Error, Result};
use crate::plan::association::{Association, AssociationState};
use crate::plan::network_acl::{AclTraffic, VpcAcls};
use crate::plan::propagation::PropagationState;
use crate::plan::prune::{guard, owned, plan_table, PruneTally, Refusal};
use crate::plan::reachability::{reachability, Reachability, SideView};
use crate::plan::record;
use crate::plan::report::{
    Omitted, PassOutcome, PlanReport, RoutesReport, SideReport, TablePlan, TgwTablePlan, TgwTableReport,
    VpcTablePlan, VpcTableReport, MAX_LISTED,
};
use crate::plan::routing::{
    cidrs_of, extra, find_overlap, propagated_on_premises, Conflict, Origin, Route, RoutePlan, SourcedCidr,
    Vpc,
};
use crate::plan::security_groups::{advise, GroupSide, SecurityGroup};
use crate::plan::summary::{summarize, Summary};
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

/// One transit gateway route table as read: its routes, and its tags (where the record of the
/// routes this tool created is kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TgwTable {
    pub routes: TableRoutes,
    pub tags: Vec<(String, String)>,
}

/// One side as read from EC2: its tagged VPCs, their attachments and route tables, every
/// attachment's association, and the transit gateway route tables the pass plans or walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideSnapshot {
    pub side: Side,
    pub region: String,
    pub transit_gateway_id: String,
    /// `<side>RouteTableId` as the request gave it: then exactly these tables get the routes to
    /// the remote side, instead of every table the tagged VPCs' attachments are associated with.
    pub named_tables: Vec<String>,
    /// The table the peering attachment is, or is to be, associated with on this side.
    pub peering_table: String,
    /// The table `returnPropagation` may propagate into: the peering's, unless the peering is
    /// left associated with another table (see [`crate::plan::propagation::return_table`]).
    pub return_table: Option<String>,
    /// With `returnPropagation`, the attachments propagating into the return table; empty
    /// otherwise (not read).
    pub propagations: BTreeMap<String, PropagationState>,
    /// Live attachments that are not `available` yet (being made or modified).
    pub not_ready: BTreeSet<String>,
    pub tagged: Vec<Vpc>,
    /// The tagged VPCs' live attachments to this side's transit gateway, by VPC id.
    pub attachments: BTreeMap<String, VpcAttachment>,
    /// Every attachment's route table association on this gateway, by attachment id.
    pub associations: BTreeMap<String, Association>,
    /// The TGW route tables read, by id: the outbound tables, the peering's, and every table a
    /// tagged VPC's attachment is associated with.
    pub tgw_tables: BTreeMap<String, TgwTable>,
    /// Each attached tagged VPC's route tables in its attachment's zones, by VPC id.
    pub vpc_tables: BTreeMap<String, Vec<VpcRouteTable>>,
    /// Each attached tagged VPC's network ACLs, by VPC id.
    pub network_acls: BTreeMap<String, VpcAcls>,
    /// The request's `networkAclTraffic`, the same on both sides: what the walk holds the ACLs to.
    pub acl_traffic: AclTraffic,
    /// The security groups of the attached tagged VPCs, and the entries of the prefix lists
    /// their inbound rules reference, by id.
    pub security_groups: Vec<SecurityGroup>,
    pub prefix_lists: BTreeMap<String, Vec<IpNet>>,
    /// With `prune` and VPC routes: the VPC route tables that record routes of this peering but
    /// are not among `vpc_tables` (their VPC was untagged or detached); read for their removal.
    pub recorded_vpc_tables: Vec<VpcRouteTable>,
    /// This side's record of the routes this tool created via the peering, by route table (the
    /// state table's, with any tags an earlier version left merged in); empty before a peering.
    pub records: record::Records,
    /// With `prune`: the tables the record names that no longer exist (deleted with their VPC,
    /// or by hand), whose record a real run removes.
    pub gone_tables: BTreeSet<String>,
}

/// The peering attachment as each side knows it: where that side's TGW routes go.
#[derive(Debug, Clone, Copy)]
pub struct Peering<'a> {
    pub active: &'a str,
    pub passive: &'a str,
}

impl<'a> Peering<'a> {
    /// A dry run's peering before it exists.
    pub fn not_yet() -> Self {
        Self {
            active: NO_ATTACHMENT_YET,
            passive: NO_ATTACHMENT_YET,
        }
    }

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
    /// Routes a transit gateway may hold across its route tables.
    pub tgw_route_quota: usize,
}

/// One transit gateway route table's plan or outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgwTableWork<T> {
    pub route_table_id: String,
    pub work: T,
}

/// One VPC route table's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcTableWork<T> {
    pub vpc_id: String,
    pub route_table_id: String,
    pub work: T,
}

/// What one side needs (a [`RoutePlan`] per table) or what a pass did there (a [`PassOutcome`]
/// per table): each outbound transit gateway route table's, and each VPC route table's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideWork<T> {
    pub tgw: Vec<TgwTableWork<T>>,
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
    /// With `summarizeRoutes`, each planned route that stands for several wanted CIDRs.
    pub summaries: Vec<Summary>,
    /// With `prune`: why the guard refuses the removals planned, if it does.
    pub prune_refusal: Option<Refusal>,
}

impl SideSnapshot {
    /// The TGW route tables that get routes to the remote side: the named one, or every table a
    /// tagged VPC's attachment is associated with (traffic from a VPC is looked up in its
    /// attachment's table), in id order. With no tagged VPC attached and associated yet, the
    /// peering's table: where default association puts an attachment made later.
    pub fn outbound_tables(&self) -> Vec<&str> {
        if !self.named_tables.is_empty() {
            let named: BTreeSet<&str> = self.named_tables.iter().map(String::as_str).collect();
            return named.into_iter().collect();
        }
        let used = self.tables_of_tagged_attachments();
        if used.is_empty() {
            return vec![self.peering_table.as_str()];
        }
        used
    }

    fn tables_of_tagged_attachments(&self) -> Vec<&str> {
        let tables: BTreeSet<&str> = self
            .attachments
            .values()
            .filter_map(|attachment| self.associations.get(&attachment.id))
            .filter(|association| {
                matches!(
                    association.state,
                    AssociationState::Associated | AssociationState::Associating
                )
            })
            .map(|association| association.route_table_id.as_str())
            .collect();
        tables.into_iter().collect()
    }

    pub fn table_routes(&self, route_table_id: &str) -> &[Route] {
        self.tgw_tables
            .get(route_table_id)
            .map_or(&[], |table| table.routes.routes.as_slice())
    }

    /// A read table's routes and the target this tool's routes in it point at (the peering
    /// attachment in a transit gateway table, the transit gateway in a VPC table); `None` for a
    /// table this pass did not read.
    fn read_table<'a>(&'a self, route_table_id: &str, peering_id: &'a str) -> Option<(&'a [Route], &'a str)> {
        if let Some(table) = self.tgw_tables.get(route_table_id) {
            return Some((table.routes.routes.as_slice(), peering_id));
        }
        self.vpc_tables
            .values()
            .flatten()
            .chain(&self.recorded_vpc_tables)
            .find(|table| table.id == route_table_id)
            .map(|table| (table.routes.as_slice(), self.transit_gateway_id.as_str()))
    }

    /// What a table's record lists once a pass is done: the recorded CIDRs whose routes to the
    /// tool's target were there when the pass read the table, plus what it created, less what it
    /// removed. A CIDR recorded without its route is dropped (an intent whose create never
    /// happened, a route removed by a pass that stopped before its record write): a record that
    /// named it would make a route someone else later adds to that CIDR look like the tool's. A
    /// table the pass did not read keeps its record as read, with the creates and removals.
    pub fn record_after_pass(
        &self,
        route_table_id: &str,
        peering_id: &str,
        created: &[IpNet],
        removed: &[IpNet],
    ) -> BTreeSet<IpNet> {
        let recorded = self
            .records
            .get(route_table_id)
            .map(|record| record.cidrs.clone())
            .unwrap_or_default();
        let mut after = match self.read_table(route_table_id, peering_id) {
            Some((routes, target)) => owned(routes, &recorded, target),
            None => recorded,
        };
        after.extend(created.iter().copied());
        for cidr in removed {
            after.remove(cidr);
        }
        after
    }

    /// Every CIDR that leads into this side: its tagged VPCs', its extra ranges, and (if asked)
    /// what the peering's route table learns from VPN and Direct Connect gateway attachments
    /// (traffic arriving over the peering is looked up there).
    pub fn sources(&self, options: &RouteOptions) -> Vec<SourcedCidr> {
        let mut sources = cidrs_of(&self.tagged);
        let extra_cidrs = match self.side {
            Side::Active => &options.extra_cidrs.active,
            Side::Passive => &options.extra_cidrs.passive,
        };
        sources.extend(extra(extra_cidrs, self.side));
        if options.propagated_cidrs {
            sources.extend(propagated_on_premises(self.table_routes(&self.peering_table)));
        }
        sources
    }

    /// This side's plan for the remote side's CIDRs: via the peering in each outbound TGW table
    /// and, with VPC routes on, via the local transit gateway in each VPC table. With `prune`,
    /// also the removal of the routes the tables' records list that are no longer wanted,
    /// including every recorded route of a table no longer routed at all; and the tally the
    /// guard judges.
    pub fn plan(
        &self,
        wanted: &[IpNet],
        attachment_id: &str,
        options: &RouteOptions,
    ) -> (SidePlan, PruneTally) {
        let prune = options.prune.enabled;
        let mut tally = PruneTally::default();
        let no_record = BTreeSet::new();
        let recorded_in = |table_id: &str| {
            self.records
                .get(table_id)
                .map_or(&no_record, |record| &record.cidrs)
        };
        let mut plan_one = |wanted: &[IpNet], routes: &[Route], target: &str, table_id: &str| {
            let recorded = prune.then(|| recorded_in(table_id).clone());
            let work = plan_table(wanted, routes, target, recorded.as_ref());
            if let Some(recorded) = &recorded {
                tally.add(owned(routes, recorded, target).len(), work.remove.len());
            }
            work
        };
        let mut vpc = Vec::new();
        if options.vpc_routes {
            for (vpc_id, tables) in &self.vpc_tables {
                for table in tables {
                    vpc.push(VpcTableWork {
                        vpc_id: vpc_id.clone(),
                        route_table_id: table.id.clone(),
                        work: plan_one(wanted, &table.routes, &self.transit_gateway_id, &table.id),
                    });
                }
            }
            for table in &self.recorded_vpc_tables {
                let work = plan_one(&[], &table.routes, &self.transit_gateway_id, &table.id);
                if !work.remove.is_empty() {
                    vpc.push(VpcTableWork {
                        vpc_id: table.vpc_id.clone(),
                        route_table_id: table.id.clone(),
                        work,
                    });
                }
            }
        }
        let outbound = self.outbound_tables();
        let mut tgw: Vec<TgwTableWork<RoutePlan>> = Vec::new();
        for (route_table_id, table) in &self.tgw_tables {
            let routed = outbound.contains(&route_table_id.as_str());
            let records_routes = prune && !recorded_in(route_table_id).is_empty();
            if !routed && !records_routes {
                continue;
            }
            let wanted = if routed { wanted } else { &[] };
            let work = plan_one(wanted, &table.routes.routes, attachment_id, route_table_id);
            if routed || !work.remove.is_empty() {
                tgw.push(TgwTableWork {
                    route_table_id: route_table_id.clone(),
                    work,
                });
            }
        }
        // An outbound table that was not read (none is, in practice) still gets its creates.
        for route_table_id in outbound {
            if !self.tgw_tables.contains_key(route_table_id) {
                tgw.push(TgwTableWork {
                    route_table_id: route_table_id.to_owned(),
                    work: plan_one(wanted, &[], attachment_id, route_table_id),
                });
            }
        }
        tgw.sort_by(|a, b| a.route_table_id.cmp(&b.route_table_id));
        (SidePlan { tgw, vpc }, tally)
    }

    /// Every VPC route table read, by id (a table may serve several subnets; it is listed once).
    pub fn vpc_tables_by_id(&self) -> BTreeMap<&str, &VpcRouteTable> {
        self.vpc_tables
            .values()
            .flatten()
            .map(|table| (table.id.as_str(), table))
            .collect()
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
        warnings.extend(self.attachment_warnings());
        if self.tagged.is_empty() {
            warnings.push(format!(
                "no VPC in {region} is tagged {tag_key}=true, so no route leads to {region}"
            ));
        }
        for (table_id, table) in &self.tgw_tables {
            if table.routes.truncated {
                warnings.push(format!(
                    "{table_id} has more routes than one read returned; routes missing from the \
                     read were re-checked wherever a create found one already there"
                ));
            }
        }
        warnings
    }

    /// Attached VPCs the transit gateway cannot carry traffic for: no associated route table, or
    /// IPv6 blocks on an attachment without `Ipv6Support`.
    fn attachment_warnings(&self) -> Vec<String> {
        let region = &self.region;
        let mut warnings = Vec::new();
        let tagged: BTreeMap<&str, &Vpc> = self.tagged.iter().map(|vpc| (vpc.id.as_str(), vpc)).collect();
        for (vpc_id, attachment) in &self.attachments {
            if !self.associations.contains_key(&attachment.id) {
                warnings.push(format!(
                    "{} ({vpc_id}) in {region} is associated with no route table of {}, so the \
                     transit gateway drops what the VPC sends; associate it with a route table",
                    attachment.id, self.transit_gateway_id
                ));
            }
            let has_ipv6 = tagged
                .get(vpc_id.as_str())
                .is_some_and(|vpc| vpc.cidrs.iter().any(|cidr| matches!(cidr, IpNet::V6(_))));
            if has_ipv6 && !attachment.ipv6_support {
                warnings.push(format!(
                    "{vpc_id} in {region} has IPv6 blocks but its attachment {} has Ipv6Support \
                     off, so the transit gateway forwards no IPv6 for it; enable Ipv6Support on \
                     the attachment",
                    attachment.id
                ));
            }
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

    /// Refuses a plan that would take the transit gateway over its routes quota, counted over
    /// the tables read (the gateway's other tables, if any, only add to it).
    fn check_tgw_quota(&self, plan: &SidePlan, quota: usize) -> Result<()> {
        let existing: usize = self.tgw_tables.values().map(|t| t.routes.routes.len()).sum();
        let to_create: usize = plan.tgw.iter().map(|t| t.work.create.len()).sum();
        if to_create == 0 || existing + to_create <= quota {
            return Ok(());
        }
        Err(Error::TgwRouteQuotaExceeded {
            region: self.region.clone(),
            transit_gateway_id: self.transit_gateway_id.clone(),
            existing,
            to_create,
            quota,
        })
    }

    /// This side's routes as they stand after the pass: what was read, plus what the pass wrote
    /// or found.
    pub fn after(&self, outcome: &SideOutcome, attachment_id: &str) -> AfterPass {
        let mut tgw: BTreeMap<String, Vec<Route>> = self
            .tgw_tables
            .iter()
            .map(|(id, table)| (id.clone(), table.routes.routes.clone()))
            .collect();
        for table in &outcome.tgw {
            add_outcome(
                tgw.entry(table.route_table_id.clone()).or_default(),
                &table.work,
                attachment_id,
            );
        }
        let outcome_of: BTreeMap<&str, &PassOutcome> = outcome
            .vpc
            .iter()
            .map(|table| (table.route_table_id.as_str(), &table.work))
            .collect();
        let mut vpc_tables = self.vpc_tables.clone();
        for found in vpc_tables.values_mut().flatten() {
            if let Some(work) = outcome_of.get(found.id.as_str()) {
                add_outcome(&mut found.routes, work, &self.transit_gateway_id);
            }
        }
        AfterPass { tgw, vpc_tables }
    }

    /// The side as the security group advice sees it.
    fn group_side(&self) -> GroupSide<'_> {
        GroupSide {
            tagged: &self.tagged,
            groups: &self.security_groups,
            prefix_lists: &self.prefix_lists,
        }
    }

    /// The side as the walk sees it. Associations are as read: one this pass asked for is still
    /// being made, and carries no traffic yet.
    fn view<'a>(&'a self, after: &'a AfterPass, peering_attachment_id: &'a str) -> SideView<'a> {
        SideView {
            peering_attachment_id,
            region: &self.region,
            transit_gateway_id: &self.transit_gateway_id,
            tagged: &self.tagged,
            attachments: &self.attachments,
            vpc_tables: &after.vpc_tables,
            tgw_tables: &after.tgw,
            associations: &self.associations,
            network_acls: &self.network_acls,
        }
    }
}

/// One side's route tables as a pass left them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterPass {
    pub tgw: BTreeMap<String, Vec<Route>>,
    pub vpc_tables: BTreeMap<String, Vec<VpcRouteTable>>,
}

fn add_outcome(routes: &mut Vec<Route>, outcome: &PassOutcome, target: &str) {
    if !outcome.removed.is_empty() {
        let removed: BTreeSet<IpNet> = outcome.removed.iter().copied().collect();
        routes.retain(|route| {
            !(route.origin == Origin::Static && route.sends_to(target) && removed.contains(&route.cidr))
        });
    }
    let known: BTreeSet<IpNet> = routes.iter().map(|route| route.cidr).collect();
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
    // The overlap check above is on the CIDRs themselves; a summary covers exactly the same
    // addresses, so it cannot introduce one.
    let mut summaries = Vec::new();
    let mut wanted = |side: Side, cidrs: &[SourcedCidr]| -> Vec<IpNet> {
        let bare: Vec<IpNet> = cidrs.iter().map(|c| c.cidr).collect();
        if !input.options.summarize_routes {
            return bare;
        }
        summarize(&bare)
            .into_iter()
            .map(|(route, covers)| {
                if covers.len() > 1 {
                    summaries.push(Summary {
                        side,
                        route,
                        covers,
                        covers_omitted: 0,
                    });
                }
                route
            })
            .collect()
    };
    let (to_passive, to_active) = (
        wanted(Side::Active, &passive_cidrs),
        wanted(Side::Passive, &active_cidrs),
    );
    let (active, active_tally) = input
        .active
        .plan(&to_passive, input.peering.active, input.options);
    let (passive, passive_tally) = input
        .passive
        .plan(&to_active, input.peering.passive, input.options);
    let prune_refusal = guard(active_tally, passive_tally, &input.options.prune).err();
    for (snapshot, plan) in [(input.active, &active), (input.passive, &passive)] {
        snapshot.check_quota(plan, input.vpc_route_quota)?;
        snapshot.check_tgw_quota(plan, input.tgw_route_quota)?;
    }
    let mut warnings = input.active.warnings(input.tag_key);
    warnings.extend(input.passive.warnings(input.tag_key));
    Ok(PassPlan {
        active,
        passive,
        warnings,
        summaries,
        prune_refusal,
    })
}

/// Every refusal [`plan_pass`] would make on the first pass over a peering that is not created
/// yet: overlapping CIDRs, a VPC route table or a transit gateway over its route quota. `peer`
/// calls it before it creates the peering, so a request `modify-routes` would refuse leaves
/// nothing behind. It is `plan_pass` itself, planned as a dry run plans before the peering
/// exists: one rule, not a copy. The prune guard is not among the refusals: it judges removals
/// of recorded routes, and nothing is recorded for a peering that does not exist.
pub fn check_before_create(input: &PassInput) -> Result<()> {
    plan_pass(&PassInput {
        peering: Peering::not_yet(),
        ..*input
    })
    .map(drop)
}

/// A warning for each route a table already sends elsewhere.
fn conflict_warnings(snapshot: &SideSnapshot, outcome: &SideOutcome) -> Vec<String> {
    let side = snapshot.side;
    let tgw = outcome.tgw.iter().flat_map(|table| {
        table.work.conflicts.iter().map(move |conflict: &Conflict| {
            format!(
                "{} in the {side} route table {} already goes to {}; left unchanged",
                conflict.cidr, table.route_table_id, conflict.target
            )
        })
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
    let (mut tgw_tables, mut vpc_tables) = side_report(earlier, active);
    let (passive_tgw, passive_vpc) = side_report(earlier, passive);
    tgw_tables.extend(passive_tgw);
    vpc_tables.extend(passive_vpc);
    PassReport {
        routes: RoutesReport::after_pass(earlier, tgw_tables, vpc_tables),
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
    let mut walked = reachability(
        &active.view(&active_after, peering.active),
        &passive.view(&passive_after, peering.passive),
        &active.acl_traffic,
    );
    walked.security_groups = Some(advise(&active.group_side(), &passive.group_side()));
    walked
}

fn side_report(earlier: Option<&RoutesReport>, pass: SidePass) -> (Vec<TgwTableReport>, Vec<VpcTableReport>) {
    let side = pass.snapshot.side;
    let tgw = pass
        .outcome
        .tgw
        .into_iter()
        .map(|table| TgwTableReport {
            side,
            report: SideReport::after_pass(
                &table.route_table_id,
                earlier.and_then(|report| report.tgw_table(&table.route_table_id)),
                table.work,
            ),
        })
        .collect();
    let vpc = pass
        .outcome
        .vpc
        .into_iter()
        .map(|table| VpcTableReport {
            side,
            vpc_id: table.vpc_id,
            report: SideReport::after_pass(
                &table.route_table_id,
                earlier.and_then(|report| report.vpc_table(&table.route_table_id)),
                table.work,
            ),
        })
        .collect();
    (tgw, vpc)
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
    let mut tgw_route_tables = Vec::new();
    let mut vpc_route_tables = Vec::new();
    for (snapshot, side_plan) in [(active, &plan.active), (passive, &plan.passive)] {
        for table in &side_plan.tgw {
            warnings.extend(table.work.conflicts.iter().map(|conflict| {
                format!(
                    "{} in the {} route table {} already goes to {}; a real run would leave it unchanged",
                    conflict.cidr, snapshot.side, table.route_table_id, conflict.target
                )
            }));
            tgw_route_tables.push(TgwTablePlan {
                side: snapshot.side,
                plan: TablePlan::of(&table.route_table_id, &table.work),
            });
        }
        vpc_route_tables.extend(side_plan.vpc.iter().map(|table| VpcTablePlan {
            side: snapshot.side,
            vpc_id: table.vpc_id.clone(),
            plan: TablePlan::of(&table.route_table_id, &table.work),
        }));
    }
    let nothing = SideOutcome::default();
    PassReportPlan {
        plan: PlanReport {
            tgw_route_tables,
            vpc_route_tables,
            summaries: listed_summaries(&plan.summaries),
            omitted: Omitted::default(),
        },
        warnings,
        reachability: walk(active, &nothing, passive, &nothing, peering),
    }
}

/// The summaries a report lists: at most [`MAX_LISTED`], each naming at most that many CIDRs.
pub fn listed_summaries(summaries: &[Summary]) -> Vec<Summary> {
    summaries
        .iter()
        .take(MAX_LISTED)
        .map(|summary| Summary {
            covers: summary.covers.iter().take(MAX_LISTED).copied().collect(),
            covers_omitted: summary.covers_omitted + summary.covers.len().saturating_sub(MAX_LISTED),
            ..summary.clone()
        })
        .collect()
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

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    const PEERING: &str = "tgw-attach-peering";

    /// One side with one tagged VPC attached, whose one route table holds `vpc_table_routes`
    /// routes besides its local one. The VPC's attachment and the peering are both associated
    /// with the side's one TGW route table, as with default association on.
    fn side(side: Side, vpc_cidr: &str, vpc_table_routes: usize) -> SideSnapshot {
        let vpc_id = format!("vpc-{side}");
        let local = Route {
            origin: Origin::Local,
            ..Route::to(net(vpc_cidr), "local")
        };
        let mut routes = vec![local];
        routes.extend((0..vpc_table_routes).map(|i| Route::to(net(&format!("172.16.{i}.0/24")), "igw-1")));
        let table = format!("tgw-rtb-{side}");
        let attachment = format!("tgw-attach-{side}-vpc");
        let associated = |id: &str| {
            let association = Association {
                route_table_id: table.clone(),
                state: AssociationState::Associated,
            };
            (id.to_owned(), association)
        };
        SideSnapshot {
            side,
            region: format!("{side}-region-1"),
            transit_gateway_id: format!("tgw-{side}"),
            named_tables: Vec::new(),
            peering_table: table.clone(),
            return_table: Some(table.clone()),
            propagations: BTreeMap::new(),
            not_ready: BTreeSet::new(),
            tagged: vec![Vpc {
                id: vpc_id.clone(),
                cidrs: vec![net(vpc_cidr)],
                tags: vec![("addToTransitGateway".into(), "true".into())],
            }],
            attachments: [(
                vpc_id.clone(),
                VpcAttachment {
                    id: attachment.clone(),
                    vpc_id: vpc_id.clone(),
                    subnet_ids: vec!["subnet-1".into()],
                    ipv6_support: false,
                },
            )]
            .into(),
            associations: [associated(&attachment), associated(PEERING)].into(),
            tgw_tables: [(table.clone(), TgwTable::default())].into(),
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
            network_acls: BTreeMap::new(),
            acl_traffic: AclTraffic::default(),
            security_groups: Vec::new(),
            prefix_lists: BTreeMap::new(),
            recorded_vpc_tables: Vec::new(),
            records: record::Records::new(),
            gone_tables: BTreeSet::new(),
        }
    }

    fn recording(snapshot: &mut SideSnapshot, table: &str, cidrs: &[&str]) {
        snapshot.records.insert(
            table.to_owned(),
            record::TableRecord {
                cidrs: cidrs.iter().map(|cidr| net(cidr)).collect(),
                ..record::TableRecord::default()
            },
        );
    }

    fn cidrs(list: &[&str]) -> BTreeSet<IpNet> {
        list.iter().map(|cidr| net(cidr)).collect()
    }

    #[test]
    fn given_a_record_naming_a_route_that_is_gone_then_the_record_after_the_pass_drops_it() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        let table = active.peering_table.clone();
        tgw_routes(&mut active, &table).push(Route::to(net("10.2.0.0/16"), PEERING));
        recording(&mut active, &table, &["10.2.0.0/16", "10.3.0.0/16"]);

        let after = active.record_after_pass(&table, PEERING, &[], &[]);

        assert_eq!(after, cidrs(&["10.2.0.0/16"]));
    }

    #[test]
    fn given_creates_and_removals_then_the_record_after_the_pass_adds_and_takes_them_out() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        let table = active.peering_table.clone();
        tgw_routes(&mut active, &table).push(Route::to(net("10.2.0.0/16"), PEERING));
        recording(&mut active, &table, &["10.2.0.0/16"]);

        let after = active.record_after_pass(&table, PEERING, &[net("10.4.0.0/16")], &[net("10.2.0.0/16")]);

        assert_eq!(after, cidrs(&["10.4.0.0/16"]));
    }

    #[test]
    fn given_a_recorded_cidr_whose_route_points_elsewhere_then_it_is_not_the_tools_and_is_dropped() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        let table = active.peering_table.clone();
        tgw_routes(&mut active, &table).push(Route::to(net("10.2.0.0/16"), "tgw-attach-someone-else"));
        recording(&mut active, &table, &["10.2.0.0/16"]);

        assert_eq!(
            active.record_after_pass(&table, PEERING, &[], &[]),
            BTreeSet::new()
        );
    }

    #[test]
    fn given_a_vpc_table_then_its_routes_to_the_transit_gateway_are_the_tools() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        let gateway = active.transit_gateway_id.clone();
        let vpc_table = active.vpc_tables.values_mut().flatten().next().unwrap();
        vpc_table.routes.push(Route::to(net("10.2.0.0/16"), &gateway));
        let table_id = vpc_table.id.clone();
        recording(&mut active, &table_id, &["10.2.0.0/16", "10.3.0.0/16"]);

        assert_eq!(
            active.record_after_pass(&table_id, PEERING, &[], &[]),
            cidrs(&["10.2.0.0/16"])
        );
    }

    #[test]
    fn given_a_recorded_table_the_pass_did_not_read_then_its_record_is_kept() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        recording(&mut active, "tgw-rtb-unread", &["10.5.0.0/16"]);

        assert_eq!(
            active.record_after_pass("tgw-rtb-unread", PEERING, &[], &[]),
            cidrs(&["10.5.0.0/16"])
        );
    }

    /// The side's TGW table's routes.
    fn tgw_routes<'a>(snapshot: &'a mut SideSnapshot, table: &str) -> &'a mut Vec<Route> {
        &mut snapshot
            .tgw_tables
            .entry(table.to_owned())
            .or_default()
            .routes
            .routes
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
            tgw_route_quota: 10_000,
        }
    }

    #[test]
    fn given_two_fresh_sides_then_each_routes_the_other_sides_cidrs_over_the_peering() {
        let (active, passive) = two_sides();
        let options = RouteOptions::default();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        assert_eq!(plan.active.tgw.len(), 1);
        assert_eq!(plan.active.tgw[0].route_table_id, "tgw-rtb-active");
        assert_eq!(plan.active.tgw[0].work.create, [net("10.2.0.0/16")]);
        assert_eq!(plan.passive.tgw[0].work.create, [net("10.1.0.0/16")]);
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
    fn given_an_extra_range_that_overlaps_the_other_side_then_the_check_before_create_refuses_as_the_pass_would(
    ) {
        let (active, passive) = two_sides();
        let options = RouteOptions {
            extra_cidrs: ExtraCidrs {
                active: vec![],
                passive: vec![net("10.0.0.0/8")],
            },
            ..RouteOptions::default()
        };

        let before_create = check_before_create(&input(&active, &passive, &options));

        let pass = plan_pass(&input(&active, &passive, &options));
        match (before_create, pass) {
            (Err(before @ Error::CidrOverlap { .. }), Err(pass)) => {
                assert_eq!(before.to_string(), pass.to_string(), "one rule, one message");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_a_vpc_table_at_its_quota_then_the_check_before_create_refuses_naming_the_table() {
        let active = side(Side::Active, "10.1.0.0/16", 0);
        let passive = side(Side::Passive, "10.2.0.0/16", 50);
        let options = vpc_routes_on();

        let checked = check_before_create(&input(&active, &passive, &options));

        match checked {
            Err(Error::RouteQuotaExceeded { route_table_id, .. }) => {
                assert_eq!(route_table_id, "rtb-passive")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_sides_a_pass_can_route_then_the_check_before_create_lets_the_create_go_ahead() {
        let (active, passive) = two_sides();
        let options = vpc_routes_on();

        let checked = check_before_create(&input(&active, &passive, &options));

        assert!(checked.is_ok(), "{checked:?}");
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
            tgw: plan
                .tgw
                .iter()
                .map(|table| TgwTableWork {
                    route_table_id: table.route_table_id.clone(),
                    work: PassOutcome {
                        created: table.work.create.clone(),
                        ..PassOutcome::default()
                    },
                })
                .collect(),
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
            let (table, side) = (snapshot.peering_table.clone(), snapshot.side);
            tgw_routes(&mut snapshot, &table).push(Route {
                origin: Origin::Propagated {
                    resource_type: "vpc".into(),
                },
                ..Route::to(net(cidr), &format!("tgw-attach-{side}-vpc"))
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
        assert_eq!(report.routes.tgw_route_tables.len(), 2);
        assert_eq!(report.routes.tgw_route_tables[0].report.counts.created, 1);
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
        assert_eq!(dry.plan.tgw_route_tables[0].plan.counts.create, 1);
        assert_eq!(
            dry.reachability.reachable, 0,
            "a dry run describes the network as it is"
        );
    }
    /// The TGW tables a side's plan routes, in order.
    fn tgw_table_ids(plan: &SidePlan) -> Vec<&str> {
        plan.tgw.iter().map(|t| t.route_table_id.as_str()).collect()
    }

    /// Adds a second tagged VPC to `snapshot`, attached and associated with `table`.
    fn with_vpc_in(mut snapshot: SideSnapshot, vpc_cidr: &str, table: &str) -> SideSnapshot {
        let vpc_id = format!("vpc-{}-2", snapshot.side);
        let attachment = format!("tgw-attach-{}-2", snapshot.side);
        snapshot.tagged.push(Vpc {
            id: vpc_id.clone(),
            cidrs: vec![net(vpc_cidr)],
            tags: vec![],
        });
        snapshot.attachments.insert(
            vpc_id.clone(),
            VpcAttachment {
                id: attachment.clone(),
                vpc_id,
                subnet_ids: vec![],
                ipv6_support: false,
            },
        );
        snapshot.associations.insert(
            attachment,
            Association {
                route_table_id: table.to_owned(),
                state: AssociationState::Associated,
            },
        );
        snapshot.tgw_tables.entry(table.to_owned()).or_default();
        snapshot
    }

    #[test]
    fn given_two_segments_on_one_side_then_both_tables_get_the_remote_routes() {
        let active = with_vpc_in(side(Side::Active, "10.1.0.0/16", 0), "10.3.0.0/16", "tgw-rtb-dev");
        let passive = side(Side::Passive, "10.2.0.0/16", 0);
        let options = RouteOptions::default();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        let tables = tgw_table_ids(&plan.active);
        assert_eq!(tables, ["tgw-rtb-active", "tgw-rtb-dev"]);
        assert!(plan
            .active
            .tgw
            .iter()
            .all(|t| t.work.create == [net("10.2.0.0/16")]));
        assert_eq!(
            plan.passive.tgw[0].work.create,
            [net("10.1.0.0/16"), net("10.3.0.0/16")],
            "the far side routes both segments' CIDRs"
        );
    }

    #[test]
    fn given_a_named_route_table_then_only_that_table_gets_routes() {
        let mut active = with_vpc_in(side(Side::Active, "10.1.0.0/16", 0), "10.3.0.0/16", "tgw-rtb-dev");
        active.named_tables = vec!["tgw-rtb-dev".into()];
        let passive = side(Side::Passive, "10.2.0.0/16", 0);
        let options = RouteOptions::default();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        let tables = tgw_table_ids(&plan.active);
        assert_eq!(tables, ["tgw-rtb-dev"]);
    }

    #[test]
    fn given_a_list_of_named_tables_then_exactly_those_get_routes_even_one_no_attachment_uses() {
        let mut active = with_vpc_in(side(Side::Active, "10.1.0.0/16", 0), "10.3.0.0/16", "tgw-rtb-dev");
        active.named_tables = vec![
            "tgw-rtb-shared".into(),
            "tgw-rtb-dev".into(),
            "tgw-rtb-shared".into(),
        ];
        let passive = side(Side::Passive, "10.2.0.0/16", 0);
        let options = RouteOptions::default();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        let tables = tgw_table_ids(&plan.active);
        assert_eq!(
            tables,
            ["tgw-rtb-dev", "tgw-rtb-shared"],
            "each once, in id order"
        );
    }

    #[test]
    fn given_an_attachment_associated_with_no_table_then_it_is_warned_of_and_the_peering_table_is_routed() {
        let mut active = with_vpc_in(side(Side::Active, "10.1.0.0/16", 0), "10.3.0.0/16", "tgw-rtb-dev");
        active.associations.remove("tgw-attach-active-vpc");
        let passive = side(Side::Passive, "10.2.0.0/16", 0);
        let options = RouteOptions::default();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        let tables = tgw_table_ids(&plan.active);
        assert_eq!(tables, ["tgw-rtb-dev"], "only the table an attachment uses");
        active.associations.remove("tgw-attach-active-2");
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        let tables = tgw_table_ids(&plan.active);
        assert_eq!(tables, ["tgw-rtb-active"], "none associated: the peering's table");
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("associated with no route table")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn given_a_plan_over_the_transit_gateway_route_quota_then_the_pass_is_refused_before_any_write() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        let full: Vec<Route> = (0..10_000u32)
            .map(|i| {
                Route::to(
                    IpNet::new(std::net::Ipv4Addr::from(0xac10_0000 + (i << 8)).into(), 24).unwrap(),
                    "x",
                )
            })
            .collect();
        *tgw_routes(&mut active, "tgw-rtb-active") = full;
        let passive = side(Side::Passive, "10.2.0.0/16", 0);
        let options = RouteOptions::default();
        match plan_pass(&input(&active, &passive, &options)) {
            Err(Error::TgwRouteQuotaExceeded {
                existing,
                to_create,
                quota,
                ..
            }) => assert_eq!((existing, to_create, quota), (10_000, 1, 10_000)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_dual_stack_vpcs_then_ipv6_blocks_are_planned_and_an_unsupported_attachment_is_warned_of() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        active.tagged[0].cidrs.push(net("2600:1f18::/56"));
        let passive = side(Side::Passive, "10.2.0.0/16", 0);
        let options = RouteOptions::default();
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        assert_eq!(
            plan.passive.tgw[0].work.create,
            [net("10.1.0.0/16"), net("2600:1f18::/56")]
        );
        assert!(
            plan.warnings.iter().any(|w| w.contains("Ipv6Support off")),
            "{:?}",
            plan.warnings
        );
    }

    #[test]
    fn given_an_ipv6_overlap_across_the_sides_then_the_pass_is_refused() {
        let mut active = side(Side::Active, "10.1.0.0/16", 0);
        active.tagged[0].cidrs.push(net("2600:1f18::/56"));
        let mut passive = side(Side::Passive, "10.2.0.0/16", 0);
        passive.tagged[0].cidrs.push(net("2600:1f18:0:80::/57"));
        let options = RouteOptions::default();
        assert!(matches!(
            plan_pass(&input(&active, &passive, &options)),
            Err(Error::CidrOverlap { .. })
        ));
    }

    #[test]
    fn given_summarize_routes_then_adjacent_cidrs_become_one_route_in_every_table_and_are_listed() {
        let mut active = side(Side::Active, "10.1.0.0/24", 0);
        active.tagged[0].cidrs.push(net("10.1.1.0/24"));
        active.tagged[0].cidrs.push(net("10.1.3.0/24"));
        let passive = side(Side::Passive, "10.2.0.0/16", 0);
        let options = RouteOptions {
            summarize_routes: true,
            ..vpc_routes_on()
        };
        let plan = plan_pass(&input(&active, &passive, &options)).unwrap();
        assert_eq!(
            plan.passive.tgw[0].work.create,
            [net("10.1.0.0/23"), net("10.1.3.0/24")]
        );
        assert_eq!(
            plan.passive.vpc[0].work.create,
            [net("10.1.0.0/23"), net("10.1.3.0/24")]
        );
        assert_eq!(
            plan.summaries,
            [Summary {
                side: Side::Passive,
                route: net("10.1.0.0/23"),
                covers: vec![net("10.1.0.0/24"), net("10.1.1.0/24")],
                covers_omitted: 0,
            }]
        );
        let off = vpc_routes_on();
        let plain = plan_pass(&input(&active, &passive, &off)).unwrap();
        assert_eq!(plain.passive.tgw[0].work.create.len(), 3);
        assert!(plain.summaries.is_empty());
    }
}
