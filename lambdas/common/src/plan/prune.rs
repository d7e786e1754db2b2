//! Prune: removing the routes this tool created that are no longer wanted (`prune`), make before
//! break, behind a guard against mass deletion. Pure: routes, records and wanted CIDRs in, plans
//! and verdicts out.
//!
//! - A route is the tool's when the table's record lists it (see [`crate::plan::record`]) and
//!   it is still a live static route to the target. A route the tool did not record is never
//!   removed, whatever it points at; nor is a recorded CIDR someone re-pointed elsewhere.
//! - Make before break: a table's creates are planned against the table *without* its stale
//!   routes, and every create of a side is made before any of its deletes. So a wanted CIDR that
//!   only a stale supernet covers gets its own route first, and no wanted CIDR is uncovered at
//!   any moment of the apply (a property test below walks every intermediate state).
//! - The guard: a prune that would remove more than a share of the tool's routes for the
//!   peering, or every one of them on a side, is refused whole unless confirmed with its exact
//!   count. A misspelt tag key or a read that came back empty then takes nothing down.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::plan::routing::{plan_routes, Origin, Route, RoutePlan};
use crate::plan::Side;

/// The default of `pruneThreshold`: the largest share (in percent) of the tool's routes for a
/// peering that one run may remove without confirmation.
pub const DEFAULT_PRUNE_THRESHOLD: u8 = 25;

/// How a run prunes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneOptions {
    /// Remove the tool's routes that are no longer wanted.
    pub enabled: bool,
    /// The largest share (percent, 0–100) of the tool's routes one run removes unconfirmed.
    pub threshold_percent: u8,
    /// `confirmPrune`: the exact number of removals the operator confirmed.
    pub confirm: Option<u64>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            enabled: false,
            threshold_percent: DEFAULT_PRUNE_THRESHOLD,
            confirm: None,
        }
    }
}

/// True for a route this tool may have made and may remove: a live static route to `target`.
fn removable(route: &Route, target: &str) -> bool {
    route.origin == Origin::Static && route.sends_to(target)
}

/// The table's routes the record says the tool created, still live and static to `target`.
pub fn owned(routes: &[Route], recorded: &BTreeSet<IpNet>, target: &str) -> BTreeSet<IpNet> {
    routes
        .iter()
        .filter(|route| removable(route, target) && recorded.contains(&route.cidr.trunc()))
        .map(|route| route.cidr.trunc())
        .collect()
}

/// Plans one table. Without a record to prune by (`recorded` is `None`) this is
/// [`plan_routes`]. With one, the tool's routes whose CIDR is not wanted are to be removed, and
/// the creates are planned as if they were already gone.
pub fn plan_table(
    wanted: &[IpNet],
    routes: &[Route],
    target: &str,
    recorded: Option<&BTreeSet<IpNet>>,
) -> RoutePlan {
    let Some(recorded) = recorded else {
        return plan_routes(wanted, routes, target);
    };
    let wanted_set: BTreeSet<IpNet> = wanted.iter().map(IpNet::trunc).collect();
    let stale: BTreeSet<IpNet> = owned(routes, recorded, target)
        .into_iter()
        .filter(|cidr| !wanted_set.contains(cidr))
        .collect();
    if stale.is_empty() {
        return plan_routes(wanted, routes, target);
    }
    let staying: Vec<Route> = routes
        .iter()
        .filter(|route| !(removable(route, target) && stale.contains(&route.cidr.trunc())))
        .cloned()
        .collect();
    let mut plan = plan_routes(wanted, &staying, target);
    plan.remove = stale.into_iter().collect();
    plan
}

/// One side's share of a prune: the tool's routes there, and how many would go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneTally {
    pub owned: usize,
    pub remove: usize,
}

impl PruneTally {
    pub fn add(&mut self, owned: usize, remove: usize) {
        self.owned += owned;
        self.remove += remove;
    }
}

/// Why a prune was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Removals planned over both sides.
    pub remove: usize,
    /// The tool's routes for the peering over both sides.
    pub owned: usize,
    pub threshold_percent: u8,
    /// A side whose every route would go, if one would.
    pub whole_side: Option<Side>,
}

/// The guard against mass deletion: `Err` when the removals exceed the threshold share of the
/// tool's routes, or are every route of a side, and `confirm` is not exactly their number.
pub fn guard(active: PruneTally, passive: PruneTally, options: &PruneOptions) -> Result<(), Refusal> {
    let remove = active.remove + passive.remove;
    let owned = active.owned + passive.owned;
    if remove == 0 || options.confirm == Some(remove as u64) {
        return Ok(());
    }
    let whole_side = [(Side::Active, active), (Side::Passive, passive)]
        .into_iter()
        .find(|(_, tally)| tally.owned > 0 && tally.remove >= tally.owned)
        .map(|(side, _)| side);
    let over_share = remove * 100 > usize::from(options.threshold_percent) * owned;
    if over_share || whole_side.is_some() {
        return Err(Refusal {
            remove,
            owned,
            threshold_percent: options.threshold_percent,
            whole_side,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::routing::{classify, RouteOutcome};
    use proptest::prelude::*;

    const PEERING: &str = "tgw-attach-0000000000000peer";
    const OTHER: &str = "tgw-attach-000000000000other";

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn nets(items: &[&str]) -> BTreeSet<IpNet> {
        items.iter().map(|s| net(s)).collect()
    }

    fn via(cidr: &str, target: &str) -> Route {
        Route::to(net(cidr), target)
    }

    #[test]
    fn given_no_record_then_the_plan_is_plan_routes_and_removes_nothing() {
        let routes = [via("10.9.0.0/16", PEERING)];
        let plan = plan_table(&[net("10.1.0.0/16")], &routes, PEERING, None);
        assert_eq!(plan, plan_routes(&[net("10.1.0.0/16")], &routes, PEERING));
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn given_a_recorded_route_no_longer_wanted_then_it_is_removed_and_a_wanted_one_stays() {
        let routes = [via("10.1.0.0/16", PEERING), via("10.2.0.0/16", PEERING)];
        let recorded = nets(&["10.1.0.0/16", "10.2.0.0/16"]);
        let plan = plan_table(&[net("10.1.0.0/16")], &routes, PEERING, Some(&recorded));
        assert_eq!(plan.remove, [net("10.2.0.0/16")]);
        assert_eq!(plan.present, [net("10.1.0.0/16")]);
        assert!(plan.create.is_empty());
    }

    #[test]
    fn given_foreign_routes_then_none_is_removed_whatever_it_points_at() {
        let routes = [
            via("10.2.0.0/16", PEERING), // not recorded: someone else's
            via("10.3.0.0/16", OTHER),   // recorded, but re-pointed since
            Route {
                blackhole: true,
                ..via("10.4.0.0/16", PEERING)
            },
            Route {
                origin: Origin::Propagated {
                    resource_type: "peering".into(),
                },
                ..via("10.5.0.0/16", PEERING)
            },
        ];
        let recorded = nets(&["10.3.0.0/16", "10.4.0.0/16", "10.5.0.0/16"]);
        let plan = plan_table(&[], &routes, PEERING, Some(&recorded));
        assert!(plan.remove.is_empty(), "{plan:?}");
    }

    #[test]
    fn given_a_stale_supernet_covering_a_wanted_cidr_then_the_cidr_gets_its_own_route_first() {
        let routes = [via("10.0.0.0/8", PEERING)];
        let recorded = nets(&["10.0.0.0/8"]);
        let plan = plan_table(&[net("10.1.0.0/16")], &routes, PEERING, Some(&recorded));
        assert_eq!(plan.create, [net("10.1.0.0/16")]);
        assert_eq!(plan.remove, [net("10.0.0.0/8")]);
    }

    #[test]
    fn given_a_wanted_supernet_replacing_recorded_subnets_then_it_is_created_and_they_go() {
        let routes = [via("10.1.0.0/17", PEERING), via("10.1.128.0/17", PEERING)];
        let recorded = nets(&["10.1.0.0/17", "10.1.128.0/17"]);
        let plan = plan_table(&[net("10.1.0.0/16")], &routes, PEERING, Some(&recorded));
        assert_eq!(plan.create, [net("10.1.0.0/16")]);
        assert_eq!(plan.remove, [net("10.1.0.0/17"), net("10.1.128.0/17")]);
    }

    fn tally(owned: usize, remove: usize) -> PruneTally {
        PruneTally { owned, remove }
    }

    fn options(threshold_percent: u8, confirm: Option<u64>) -> PruneOptions {
        PruneOptions {
            enabled: true,
            threshold_percent,
            confirm,
        }
    }

    #[test]
    fn the_guard_allows_up_to_the_threshold_share_and_refuses_beyond_it() {
        assert_eq!(guard(tally(8, 1), tally(8, 3), &options(25, None)), Ok(()));
        assert_eq!(
            guard(tally(8, 2), tally(8, 3), &options(25, None)),
            Err(Refusal {
                remove: 5,
                owned: 16,
                threshold_percent: 25,
                whole_side: None
            })
        );
        assert_eq!(guard(tally(8, 2), tally(8, 3), &options(50, None)), Ok(()));
        assert_eq!(guard(tally(0, 0), tally(0, 0), &options(0, None)), Ok(()));
    }

    #[test]
    fn the_guard_refuses_every_route_of_a_side_even_under_the_threshold() {
        let refused = guard(tally(2, 2), tally(98, 0), &options(25, None)).unwrap_err();
        assert_eq!(refused.whole_side, Some(Side::Active));
        assert_eq!(
            guard(tally(2, 2), tally(98, 0), &options(100, None))
                .unwrap_err()
                .remove,
            2
        );
    }

    #[test]
    fn the_guard_lets_through_exactly_the_confirmed_count_and_no_other() {
        assert_eq!(guard(tally(4, 4), tally(4, 4), &options(25, Some(8))), Ok(()));
        assert!(guard(tally(4, 4), tally(4, 4), &options(25, Some(7))).is_err());
        assert!(guard(tally(4, 4), tally(4, 4), &options(25, Some(9))).is_err());
    }

    /// A small space of nested prefixes, so that supernets, subnets and equal prefixes meet.
    fn nested_net() -> impl Strategy<Value = IpNet> {
        (0u32..4, prop::sample::select(vec![8u8, 12, 16, 20, 24])).prop_map(|(n, len)| {
            IpNet::new(std::net::Ipv4Addr::from(0x0a00_0000 | (n << 18)).into(), len)
                .unwrap()
                .trunc()
        })
    }

    fn a_route() -> impl Strategy<Value = Route> {
        (
            nested_net(),
            prop::sample::select(vec![PEERING, OTHER]),
            any::<bool>(),
        )
            .prop_map(|(cidr, target, propagated)| Route {
                origin: if propagated {
                    Origin::Propagated {
                        resource_type: "vpn".into(),
                    }
                } else {
                    Origin::Static
                },
                ..Route::to(cidr, target)
            })
    }

    /// The table after `steps` of the apply order: every create, then every remove.
    fn after_steps(routes: &[Route], plan: &RoutePlan, steps: usize) -> Vec<Route> {
        let mut table = routes.to_vec();
        let ops = plan
            .create
            .iter()
            .map(|cidr| (true, *cidr))
            .chain(plan.remove.iter().map(|cidr| (false, *cidr)));
        for (create, cidr) in ops.take(steps) {
            if create {
                table.push(Route::to(cidr, PEERING));
            } else {
                table.retain(|route| !(removable(route, PEERING) && route.cidr == cidr));
            }
        }
        table
    }

    proptest! {
        #[test]
        fn no_wanted_cidr_routed_via_the_peering_is_ever_uncovered_during_the_apply(
            routes in prop::collection::vec(a_route(), 0..12),
            wanted in prop::collection::vec(nested_net(), 0..8),
            recorded in prop::collection::btree_set(nested_net(), 0..10),
        ) {
            let plan = plan_table(&wanted, &routes, PEERING, Some(&recorded));
            let routed_before: Vec<IpNet> = wanted.iter().copied()
                .filter(|w| classify(*w, &routes, PEERING) == RouteOutcome::Present)
                .collect();
            let steps = plan.create.len() + plan.remove.len();
            for step in 0..=steps {
                let table = after_steps(&routes, &plan, step);
                for cidr in &routed_before {
                    prop_assert_eq!(classify(*cidr, &table, PEERING), RouteOutcome::Present,
                        "{} uncovered after {} of {} steps of {:?}", cidr, step, steps, plan);
                }
            }
            let done = after_steps(&routes, &plan, steps);
            for cidr in &wanted {
                prop_assert!(!matches!(classify(*cidr, &done, PEERING), RouteOutcome::Create));
            }
            // Only the tool's unwanted routes went; a second plan has nothing left to do.
            let wanted_set: BTreeSet<IpNet> = wanted.iter().copied().collect();
            for cidr in &plan.remove {
                prop_assert!(recorded.contains(cidr) && !wanted_set.contains(cidr));
            }
            let again = plan_table(&wanted, &done, PEERING, Some(&recorded));
            prop_assert!(again.create.is_empty() && again.remove.is_empty(), "{:?}", again);
        }
    }
}
