//! Teardown's decisions, pure: which routes of a table go, and the report of what went.
//! [`crate::actions::teardown`] reads the tables, applies these plans and writes the report.

use std::collections::BTreeSet;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::plan::report::{Omitted, MAX_LISTED};
use crate::plan::routing::{Origin, Route};
use crate::plan::Side;

/// What teardown does to one route table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableTeardown {
    pub route_table_id: String,
    /// Routes removed (in a dry run: that would be removed).
    pub deleted: Vec<IpNet>,
    /// Recorded routes that now go somewhere else: someone changed them, so they are left alone.
    pub left_alone: Vec<IpNet>,
}

/// Decides which routes of one table go: recorded ones still aimed at `target`, and (when
/// `owned`) every static route aimed at it. Pure.
pub fn plan_table(
    routes: &[Route],
    recorded: &BTreeSet<IpNet>,
    target: &str,
    owned: bool,
) -> (Vec<IpNet>, Vec<IpNet>) {
    let ours = |route: &Route| {
        route.origin == Origin::Static && !route.blackhole && route.target.as_deref() == Some(target)
    };
    let mut deleted: BTreeSet<IpNet> = routes
        .iter()
        .filter(|route| ours(route) && (owned || recorded.contains(&route.cidr)))
        .map(|route| route.cidr)
        .collect();
    // A blackholed static route via the attachment is still ours to remove when we own it.
    if owned {
        deleted.extend(
            routes
                .iter()
                .filter(|route| route.origin == Origin::Static && route.target.as_deref() == Some(target))
                .map(|route| route.cidr),
        );
    }
    let left_alone = recorded
        .iter()
        .filter(|cidr| !deleted.contains(cidr) && routes.iter().any(|route| route.cidr == **cidr))
        .copied()
        .collect();
    (deleted.into_iter().collect(), left_alone)
}

/// Exact sizes of a table's teardown lists, which may be cut to [`MAX_LISTED`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeardownCounts {
    pub deleted: usize,
    pub left_alone: usize,
}

/// What teardown did to one route table, as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableTeardownReport {
    pub route_table_id: String,
    pub deleted: Vec<IpNet>,
    pub left_alone: Vec<IpNet>,
    pub counts: TeardownCounts,
}

impl TableTeardownReport {
    pub fn of(table: &TableTeardown) -> Self {
        Self {
            route_table_id: table.route_table_id.clone(),
            deleted: table.deleted.iter().take(MAX_LISTED).copied().collect(),
            left_alone: table.left_alone.iter().take(MAX_LISTED).copied().collect(),
            counts: TeardownCounts {
                deleted: table.deleted.len(),
                left_alone: table.left_alone.len(),
            },
        }
    }
}

/// A route table's teardown, with the side it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SideTableTeardownReport {
    pub side: Side,
    #[serde(flatten)]
    pub report: TableTeardownReport,
}

/// The `teardown` report: the TGW route tables that held a route to remove (none when there was
/// no peering to tear down), and the VPC route tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeardownReport {
    pub tgw_route_tables: Vec<SideTableTeardownReport>,
    pub vpc_route_tables: Vec<SideTableTeardownReport>,
    /// The propagations `returnPropagation` enabled and recorded, disabled (in a dry run: that
    /// would be); absent when there were none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub propagations: Vec<PropagationTeardownReport>,
    /// Tables and propagation entries left out of the lists above to keep the state within its
    /// quota.
    #[serde(default, skip_serializing_if = "Omitted::is_none")]
    pub omitted: Omitted,
    /// False when the invocation's time ran out with routes still to remove: the state machine
    /// calls `modify-routes` again with this report. Reports of earlier versions lack it: done.
    #[serde(default = "done")]
    pub complete: bool,
}

fn done() -> bool {
    true
}

impl Default for TeardownReport {
    fn default() -> Self {
        Self {
            tgw_route_tables: Vec::new(),
            vpc_route_tables: Vec::new(),
            propagations: Vec::new(),
            omitted: Omitted::default(),
            complete: true,
        }
    }
}

impl TeardownReport {
    /// This pass's report on top of the earlier passes' of the same teardown: each table's
    /// `deleted` is everything removed so far (a table an earlier pass finished stays listed).
    pub fn after(mut self, earlier: Option<&TeardownReport>) -> Self {
        let Some(earlier) = earlier else {
            return self;
        };
        self.tgw_route_tables = merged(&earlier.tgw_route_tables, self.tgw_route_tables);
        self.vpc_route_tables = merged(&earlier.vpc_route_tables, self.vpc_route_tables);
        self
    }
}

fn merged(
    earlier: &[SideTableTeardownReport],
    now: Vec<SideTableTeardownReport>,
) -> Vec<SideTableTeardownReport> {
    let key = |t: &SideTableTeardownReport| (t.side, t.report.route_table_id.clone());
    let mut by_table: std::collections::BTreeMap<(Side, String), SideTableTeardownReport> =
        earlier.iter().map(|t| (key(t), t.clone())).collect();
    for table in now {
        match by_table.get_mut(&key(&table)) {
            Some(kept) => {
                let mut deleted: BTreeSet<IpNet> = kept.report.deleted.iter().copied().collect();
                deleted.extend(table.report.deleted.iter().copied());
                kept.report.deleted = deleted.into_iter().take(MAX_LISTED).collect();
                kept.report.counts.deleted += table.report.counts.deleted;
                kept.report.left_alone = table.report.left_alone;
                kept.report.counts.left_alone = table.report.counts.left_alone;
            }
            None => {
                by_table.insert(key(&table), table);
            }
        }
    }
    by_table.into_values().collect()
}

/// The recorded propagations into one TGW route table that a teardown disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropagationTeardownReport {
    pub side: Side,
    pub route_table_id: String,
    /// At most [`MAX_LISTED`] attachment ids; `count` is exact.
    pub disabled: Vec<String>,
    pub count: usize,
}

impl PropagationTeardownReport {
    pub fn of(side: Side, route_table_id: &str, disabled: &BTreeSet<String>) -> Self {
        Self {
            side,
            route_table_id: route_table_id.to_owned(),
            disabled: disabled.iter().take(MAX_LISTED).cloned().collect(),
            count: disabled.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    const PEERING: &str = "tgw-attach-peering";

    #[test]
    fn only_recorded_routes_still_aimed_at_the_target_go_unless_the_peering_is_ours() {
        let routes = vec![
            Route::to(net("10.1.0.0/16"), PEERING),
            Route::to(net("10.2.0.0/16"), "tgw-attach-vpn"),
            Route::to(net("10.3.0.0/16"), PEERING),
            Route {
                origin: Origin::Propagated {
                    resource_type: "vpc".into(),
                },
                ..Route::to(net("10.4.0.0/16"), PEERING)
            },
        ];
        let recorded: BTreeSet<IpNet> = [net("10.1.0.0/16"), net("10.2.0.0/16")].into();

        let (deleted, left_alone) = plan_table(&routes, &recorded, PEERING, false);
        assert_eq!(
            deleted,
            [net("10.1.0.0/16")],
            "10.3 is someone else's, via a peering not ours"
        );
        assert_eq!(
            left_alone,
            [net("10.2.0.0/16")],
            "recorded, but now aimed elsewhere"
        );

        let (deleted, _) = plan_table(&routes, &recorded, PEERING, true);
        assert_eq!(
            deleted,
            [net("10.1.0.0/16"), net("10.3.0.0/16")],
            "every static route via our peering"
        );
    }

    #[test]
    fn a_later_pass_adds_its_deletions_to_the_earlier_ones_table_by_table() {
        let table = |id: &str, deleted: &[&str]| SideTableTeardownReport {
            side: Side::Active,
            report: TableTeardownReport::of(&TableTeardown {
                route_table_id: id.into(),
                deleted: deleted.iter().map(|c| net(c)).collect(),
                left_alone: vec![],
            }),
        };
        let first = TeardownReport {
            tgw_route_tables: vec![
                table("tgw-rtb-1", &["10.1.0.0/16"]),
                table("tgw-rtb-2", &["10.9.0.0/16"]),
            ],
            complete: false,
            ..TeardownReport::default()
        };
        let second = TeardownReport {
            tgw_route_tables: vec![table("tgw-rtb-1", &["10.2.0.0/16"])],
            ..TeardownReport::default()
        }
        .after(Some(&first));
        assert!(second.complete);
        assert_eq!(
            second.tgw_route_tables.len(),
            2,
            "the table the first pass finished stays"
        );
        assert_eq!(
            second.tgw_route_tables[0].report.deleted,
            [net("10.1.0.0/16"), net("10.2.0.0/16")]
        );
        assert_eq!(second.tgw_route_tables[0].report.counts.deleted, 2);
    }

    #[test]
    fn a_report_of_an_earlier_version_without_complete_reads_as_done() {
        let report: TeardownReport =
            serde_json::from_value(serde_json::json!({"tgwRouteTables": [], "vpcRouteTables": []})).unwrap();
        assert!(report.complete);
    }

    #[test]
    fn a_recorded_route_that_is_gone_is_neither_deleted_nor_left_alone() {
        let recorded: BTreeSet<IpNet> = [net("10.1.0.0/16")].into();
        assert_eq!(plan_table(&[], &recorded, PEERING, true), (vec![], vec![]));
    }
}
