//! What `modify-routes` reports, and how the reports of several passes add up.
//!
//! A large plan (thousands of routes at EC2's write rate) takes longer than one Lambda invocation
//! may run, so `modify-routes` stops before its deadline and the state machine calls it again.
//! Each pass re-reads and re-plans; the report it returns carries the earlier passes forward, so
//! the last pass describes the whole execution. Pure functions over plain data.

use std::collections::BTreeSet;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::plan::routing::{Conflict, RoutePlan};
use crate::plan::summary::Summary;
use crate::plan::Side;

/// At most this many CIDRs are listed in each list of a report; the counts are always exact.
/// Step Functions caps a state's payload at 256 KiB, and a report passes through every later
/// state: 10,000 routes listed in full would not fit.
pub const MAX_LISTED: usize = 200;

/// What one pass did to one route table, in full.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Routes this pass created.
    pub created: Vec<IpNet>,
    /// Wanted CIDRs the table already routes via the peering.
    pub present: Vec<IpNet>,
    /// Wanted CIDRs routed elsewhere; left alone.
    pub conflicts: Vec<Conflict>,
    /// Planned creates this pass did not start, because its deadline was near.
    pub remaining: Vec<IpNet>,
    /// With `prune`: the tool's routes this pass removed (after every create of its side).
    pub removed: Vec<IpNet>,
    /// Planned removals this pass did not start: a create of the side was left, or the deadline
    /// was near.
    pub remaining_removals: Vec<IpNet>,
}

/// Exact sizes of a side report's lists, which may be cut to [`MAX_LISTED`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: usize,
    pub present: usize,
    pub conflicts: usize,
    pub remaining: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub removed: usize,
    #[serde(default, rename = "remainingRemovals", skip_serializing_if = "is_zero")]
    pub remaining_removals: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
pub(crate) fn is_zero(count: &usize) -> bool {
    *count == 0
}

/// How many entries of a report's lists of tables were left out so that the execution's state
/// stays within Step Functions' payload quota (see [`crate::contract::fit`]). Absent when nothing
/// was: a report names every table unless the network is very large.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Omitted {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub tgw_route_tables: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vpc_route_tables: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub summaries: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub propagations: usize,
}

impl Omitted {
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }
}

/// What one side's route table got over the whole execution so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SideReport {
    pub route_table_id: String,
    /// Routes created by this execution, in address order.
    pub created: Vec<IpNet>,
    /// Wanted CIDRs that were already routed via the peering before this execution.
    pub present: Vec<IpNet>,
    pub conflicts: Vec<Conflict>,
    /// Routes still to create; the state machine calls `modify-routes` again while any remain.
    #[serde(default)]
    pub remaining: Vec<IpNet>,
    /// With `prune`: the tool's routes this execution removed, no longer wanted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<IpNet>,
    /// Removals still to make; the state machine calls `modify-routes` again while any remain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remaining_removals: Vec<IpNet>,
    #[serde(default)]
    pub counts: Counts,
}

/// What one VPC route table got: present only when VPC routes are on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcTableReport {
    pub side: Side,
    pub vpc_id: String,
    #[serde(flatten)]
    pub report: SideReport,
}

/// What one transit gateway route table got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TgwTableReport {
    pub side: Side,
    #[serde(flatten)]
    pub report: SideReport,
}

/// Every table on both sides, and whether the plan is done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutesReport {
    /// The transit gateway route tables that route to the remote side (the tables the tagged
    /// VPCs' attachments are associated with, or the one the request names), in side then
    /// table order.
    pub tgw_route_tables: Vec<TgwTableReport>,
    /// The tagged VPCs' route tables on both sides, in side then table order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_route_tables: Vec<VpcTableReport>,
    /// With `summarizeRoutes`, each route that stands for several CIDRs, and the CIDRs it covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summaries: Vec<Summary>,
    /// Tables and summaries left out of the lists above to keep the state within its quota.
    #[serde(default, skip_serializing_if = "Omitted::is_none")]
    pub omitted: Omitted,
    /// True when no planned route is left in any table.
    pub complete: bool,
    /// How many `modify-routes` invocations this execution took.
    pub passes: u32,
}

fn listed<T: Clone>(items: &[T]) -> Vec<T> {
    items.iter().take(MAX_LISTED).cloned().collect()
}

impl SideReport {
    /// This pass's outcome on top of the earlier passes' report (`None` on the first pass).
    ///
    /// Routes the earlier passes created read as present now; they stay "created", because this
    /// execution made them.
    pub fn after_pass(route_table_id: &str, earlier: Option<&SideReport>, pass: PassOutcome) -> Self {
        let earlier_created: BTreeSet<IpNet> = earlier
            .map(|report| report.created.iter().copied().collect())
            .unwrap_or_default();
        let earlier_count = earlier.map_or(0, |report| report.counts.created.max(report.created.len()));
        // Earlier creates beyond the listing cap cannot be recognised by name. Each of them reads
        // as present now, so they are taken off the count (the list may still name them).
        let unlisted = earlier_count - earlier_created.len();

        let mut created: Vec<IpNet> = earlier_created
            .iter()
            .copied()
            .chain(pass.created.iter().copied())
            .collect();
        created.sort();
        created.dedup();

        let present: Vec<IpNet> = pass
            .present
            .iter()
            .copied()
            .filter(|cidr| !earlier_created.contains(cidr))
            .collect();
        let present_count = present.len().saturating_sub(unlisted);
        let earlier_removed = earlier.map_or(0, |report| report.counts.removed.max(report.removed.len()));
        let mut removed: Vec<IpNet> = earlier
            .map(|report| report.removed.clone())
            .unwrap_or_default()
            .into_iter()
            .chain(pass.removed.iter().copied())
            .collect();
        removed.sort();
        removed.dedup();

        Self {
            route_table_id: route_table_id.to_owned(),
            counts: Counts {
                created: earlier_count + pass.created.len(),
                present: present_count,
                conflicts: pass.conflicts.len(),
                remaining: pass.remaining.len(),
                removed: earlier_removed + pass.removed.len(),
                remaining_removals: pass.remaining_removals.len(),
            },
            created: listed(&created),
            present: listed(&present),
            conflicts: listed(&pass.conflicts),
            remaining: listed(&pass.remaining),
            removed: listed(&removed),
            remaining_removals: listed(&pass.remaining_removals),
        }
    }
}

impl RoutesReport {
    pub fn after_pass(
        earlier: Option<&RoutesReport>,
        tgw_route_tables: Vec<TgwTableReport>,
        vpc_route_tables: Vec<VpcTableReport>,
    ) -> Self {
        let complete = tgw_route_tables
            .iter()
            .map(|table| &table.report)
            .chain(vpc_route_tables.iter().map(|table| &table.report))
            .all(|report| report.counts.remaining == 0 && report.counts.remaining_removals == 0);
        Self {
            tgw_route_tables,
            vpc_route_tables,
            summaries: Vec::new(),
            omitted: Omitted::default(),
            complete,
            passes: earlier.map_or(0, |report| report.passes) + 1,
        }
    }

    /// The earlier passes' report of one transit gateway route table.
    pub fn tgw_table(&self, route_table_id: &str) -> Option<&SideReport> {
        self.tgw_route_tables
            .iter()
            .map(|table| &table.report)
            .find(|report| report.route_table_id == route_table_id)
    }

    /// The transit gateway route tables of one side.
    pub fn tgw_tables_of(&self, side: Side) -> impl Iterator<Item = &SideReport> {
        self.tgw_route_tables
            .iter()
            .filter(move |table| table.side == side)
            .map(|table| &table.report)
    }

    /// The earlier passes' report of one VPC route table.
    pub fn vpc_table(&self, route_table_id: &str) -> Option<&SideReport> {
        self.vpc_route_tables
            .iter()
            .map(|table| &table.report)
            .find(|report| report.route_table_id == route_table_id)
    }
}

/// Exact sizes of a plan's lists, which may be cut to [`MAX_LISTED`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCounts {
    pub create: usize,
    pub present: usize,
    pub conflicts: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub remove: usize,
}

/// A dry run's plan for one route table: each wanted CIDR with its outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TablePlan {
    pub route_table_id: String,
    /// Routes a real run would create.
    pub create: Vec<IpNet>,
    /// Wanted CIDRs already routed where they should go.
    pub present: Vec<IpNet>,
    /// Wanted CIDRs routed elsewhere, which a real run would leave alone.
    pub conflicts: Vec<Conflict>,
    /// With `prune`: the tool's routes a real run would remove, no longer wanted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<IpNet>,
    pub counts: PlanCounts,
}

impl TablePlan {
    pub fn of(route_table_id: &str, plan: &RoutePlan) -> Self {
        Self {
            route_table_id: route_table_id.to_owned(),
            create: listed(&plan.create),
            present: listed(&plan.present),
            conflicts: listed(&plan.conflicts),
            remove: listed(&plan.remove),
            counts: PlanCounts {
                create: plan.create.len(),
                present: plan.present.len(),
                conflicts: plan.conflicts.len(),
                remove: plan.remove.len(),
            },
        }
    }
}

/// A dry run's plan for one VPC route table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcTablePlan {
    pub side: Side,
    pub vpc_id: String,
    #[serde(flatten)]
    pub plan: TablePlan,
}

/// A dry run's plan for one transit gateway route table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TgwTablePlan {
    pub side: Side,
    #[serde(flatten)]
    pub plan: TablePlan,
}

/// What a real `modify-routes` would do, table by table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    pub tgw_route_tables: Vec<TgwTablePlan>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpc_route_tables: Vec<VpcTablePlan>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summaries: Vec<Summary>,
    /// Tables and summaries left out of the lists above to keep the state within its quota.
    #[serde(default, skip_serializing_if = "Omitted::is_none")]
    pub omitted: Omitted,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn pass(created: &[&str], present: &[&str], remaining: &[&str]) -> PassOutcome {
        PassOutcome {
            created: created.iter().map(|s| net(s)).collect(),
            present: present.iter().map(|s| net(s)).collect(),
            conflicts: vec![],
            remaining: remaining.iter().map(|s| net(s)).collect(),
            ..PassOutcome::default()
        }
    }

    #[test]
    fn given_a_first_pass_then_the_report_is_that_pass() {
        let report = SideReport::after_pass(
            "tgw-rtb-1",
            None,
            pass(&["10.1.0.0/16"], &["10.2.0.0/16"], &["10.3.0.0/16"]),
        );
        assert_eq!(report.created, [net("10.1.0.0/16")]);
        assert_eq!(report.present, [net("10.2.0.0/16")]);
        assert_eq!(report.remaining, [net("10.3.0.0/16")]);
        assert_eq!(
            report.counts,
            Counts {
                created: 1,
                present: 1,
                conflicts: 0,
                remaining: 1,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn given_a_second_pass_then_routes_the_first_created_stay_created_not_present() {
        let first = SideReport::after_pass(
            "tgw-rtb-1",
            None,
            pass(&["10.1.0.0/16"], &["10.9.0.0/16"], &["10.3.0.0/16"]),
        );
        let second = SideReport::after_pass(
            "tgw-rtb-1",
            Some(&first),
            pass(&["10.3.0.0/16"], &["10.1.0.0/16", "10.9.0.0/16"], &[]),
        );
        assert_eq!(second.created, [net("10.1.0.0/16"), net("10.3.0.0/16")]);
        assert_eq!(second.present, [net("10.9.0.0/16")]);
        assert!(second.remaining.is_empty());
        assert_eq!(
            (
                second.counts.created,
                second.counts.present,
                second.counts.remaining
            ),
            (2, 1, 0)
        );
    }

    #[test]
    fn given_routes_left_only_in_a_vpc_table_then_the_report_is_not_complete_until_they_are_written() {
        let done = SideReport::after_pass("tgw-rtb-1", None, pass(&["10.1.0.0/16"], &[], &[]));
        let vpc = |earlier: Option<&SideReport>, created: &[&str], remaining: &[&str]| VpcTableReport {
            side: Side::Active,
            vpc_id: "vpc-1".into(),
            report: SideReport::after_pass("rtb-1", earlier, pass(created, &[], remaining)),
        };
        let tgw = |side: Side| TgwTableReport {
            side,
            report: done.clone(),
        };
        let first = RoutesReport::after_pass(
            None,
            vec![tgw(Side::Active), tgw(Side::Passive)],
            vec![vpc(None, &[], &["10.2.0.0/16"])],
        );
        assert!(!first.complete);
        let earlier_table = first.vpc_table("rtb-1").cloned();
        let second = RoutesReport::after_pass(
            Some(&first),
            vec![tgw(Side::Active), tgw(Side::Passive)],
            vec![vpc(earlier_table.as_ref(), &["10.2.0.0/16"], &[])],
        );
        assert!(second.complete);
        assert_eq!(second.vpc_table("rtb-1").unwrap().created, [net("10.2.0.0/16")]);
        assert_eq!(second.passes, 2);
    }

    #[test]
    fn given_more_cidrs_than_the_listing_cap_then_lists_are_cut_and_counts_stay_exact() {
        let many: Vec<IpNet> = (0..(MAX_LISTED as u32 * 3))
            .map(|i| IpNet::new(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)).into(), 24).unwrap())
            .collect();
        let (first_half, second_half) = many.split_at(many.len() / 2);
        let first = SideReport::after_pass(
            "tgw-rtb-1",
            None,
            PassOutcome {
                created: first_half.to_vec(),
                remaining: second_half.to_vec(),
                ..PassOutcome::default()
            },
        );
        assert_eq!(first.created.len(), MAX_LISTED);
        assert_eq!(
            (first.counts.created, first.counts.remaining),
            (first_half.len(), second_half.len())
        );

        let second = SideReport::after_pass(
            "tgw-rtb-1",
            Some(&first),
            PassOutcome {
                created: second_half.to_vec(),
                present: first_half.to_vec(),
                ..PassOutcome::default()
            },
        );
        assert_eq!(second.counts.created, many.len());
        assert_eq!(
            second.counts.present, 0,
            "every earlier create is recognised by its count"
        );
        assert_eq!(second.created.len(), MAX_LISTED);
        assert!(second.remaining.is_empty());
    }

    #[test]
    fn the_report_is_complete_only_when_neither_side_has_routes_remaining() {
        let done = SideReport::default();
        let left = SideReport {
            counts: Counts {
                remaining: 1,
                ..Counts::default()
            },
            ..SideReport::default()
        };
        let tables = |active: &SideReport, passive: &SideReport| {
            vec![
                TgwTableReport {
                    side: Side::Active,
                    report: active.clone(),
                },
                TgwTableReport {
                    side: Side::Passive,
                    report: passive.clone(),
                },
            ]
        };
        let first = RoutesReport::after_pass(None, tables(&done, &left), vec![]);
        assert!(!first.complete);
        assert_eq!(first.passes, 1);
        let second = RoutesReport::after_pass(Some(&first), tables(&done, &done), vec![]);
        assert!(second.complete);
        assert_eq!(second.passes, 2);
    }

    proptest! {
        /// Splitting a plan's creates over any number of passes reports the same as one pass.
        #[test]
        fn any_split_into_passes_reports_the_same_as_one_pass(
            wanted in proptest::collection::btree_set(any::<u32>().prop_map(|a| IpNet::new(std::net::Ipv4Addr::from(a).into(), 24).unwrap().trunc()), 0..60),
            already in proptest::collection::vec(any::<bool>(), 60),
            cuts in proptest::collection::vec(1usize..10, 0..8),
        ) {
            let wanted: Vec<IpNet> = wanted.into_iter().collect();
            let (present, to_create): (Vec<_>, Vec<_>) =
                wanted.iter().enumerate().partition(|(i, _)| already[*i]);
            let present: Vec<IpNet> = present.into_iter().map(|(_, c)| *c).collect();
            let to_create: Vec<IpNet> = to_create.into_iter().map(|(_, c)| *c).collect();

            let single = SideReport::after_pass("rtb", None, PassOutcome {
                created: to_create.clone(), present: present.clone(), ..PassOutcome::default()
            });

            let mut report: Option<SideReport> = None;
            let mut done: usize = 0;
            for cut in cuts.iter().copied().chain(std::iter::once(usize::MAX)) {
                let upto = done.saturating_add(cut).min(to_create.len());
                let mut now_present: Vec<IpNet> = present.iter().chain(&to_create[..done]).copied().collect();
                now_present.sort();
                let outcome = PassOutcome {
                    created: to_create[done..upto].to_vec(),
                    present: now_present,
                    conflicts: vec![],
                    remaining: to_create[upto..].to_vec(),
                    ..PassOutcome::default()
                };
                report = Some(SideReport::after_pass("rtb", report.as_ref(), outcome));
                done = upto;
                if done == to_create.len() { break; }
            }
            prop_assert_eq!(report.unwrap(), single);
        }
    }
}
