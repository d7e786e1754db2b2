//! The reachability report: for each pair of tagged VPCs across the two Regions, whether a packet
//! gets there and back, or the first hop that is missing. Pure: it walks the routes as read (and
//! as this pass changed them), longest prefix first, as EC2 does.
//!
//! The path from a VPC `a` on one side to a VPC `b` on the other, for each CIDR of `b`:
//! 1. `a` and `b` are attached to their transit gateways;
//! 2. every route table of `a`'s subnets in its attachment's zones sends the CIDR to `a`'s TGW;
//! 3. `a`'s TGW route table sends it over the peering;
//! 4. `b`'s TGW route table sends it to `b`'s attachment;
//!
//! then the same back from `b` to each CIDR of `a`.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::plan::routing::{Origin, Route, Vpc};
use crate::plan::vpc_tables::{VpcAttachment, VpcRouteTable};

/// At most this many pairs are listed, unreachable ones first; the counts are always exact.
pub const MAX_PAIRS_LISTED: usize = 200;

/// One side as the report needs it.
pub struct SideView<'a> {
    pub region: &'a str,
    pub transit_gateway_id: &'a str,
    pub route_table_id: &'a str,
    pub tagged: &'a [Vpc],
    pub attachments: &'a BTreeMap<String, VpcAttachment>,
    /// Each attached tagged VPC's route tables (see [`crate::plan::vpc_tables::tables_for`]).
    pub vpc_tables: &'a BTreeMap<String, Vec<VpcRouteTable>>,
    /// The TGW route table's static and propagated routes.
    pub tgw_routes: &'a [Route],
    /// The peering attachment as this side knows it.
    pub peering_attachment_id: &'a str,
}

/// The first hop a packet misses, or that it gets there and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum Hop {
    /// Every hop there and back is in place.
    Reachable,
    /// A VPC of the pair has no live attachment to its Region's transit gateway.
    #[serde(rename_all = "camelCase")]
    NoTgwAttachment {
        region: String,
        vpc_id: String,
        transit_gateway_id: String,
    },
    /// A VPC route table has no route for the CIDR, so traffic never reaches the TGW.
    #[serde(rename_all = "camelCase")]
    NoVpcRoute {
        region: String,
        route_table_id: String,
        cidr: Ipv4Net,
    },
    /// A TGW route table has no route for the CIDR.
    #[serde(rename_all = "camelCase")]
    NoTgwRoute {
        region: String,
        route_table_id: String,
        cidr: Ipv4Net,
    },
    /// The route that matches the CIDR drops its traffic.
    #[serde(rename_all = "camelCase")]
    Blackhole {
        region: String,
        route_table_id: String,
        cidr: Ipv4Net,
    },
    /// The route that matches the CIDR sends it somewhere else.
    #[serde(rename_all = "camelCase")]
    Conflict {
        region: String,
        route_table_id: String,
        cidr: Ipv4Net,
        target: String,
        expected: String,
    },
}

/// One pair's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairResult {
    /// The active side's VPC.
    pub active_vpc_id: String,
    /// The passive side's VPC.
    pub passive_vpc_id: String,
    /// `there` (active to passive) or `back`; absent when reachable or not attached.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub direction: Option<String>,
    #[serde(flatten)]
    pub hop: Hop,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reachability {
    pub pairs: usize,
    pub reachable: usize,
    pub unreachable: usize,
    /// Unreachable pairs first, then reachable ones, each in VPC id order; cut to
    /// [`MAX_PAIRS_LISTED`].
    pub results: Vec<PairResult>,
}

/// The route EC2 would use for `cidr`: the longest prefix that covers it, a static route before a
/// propagated one of the same prefix.
pub fn best_match(routes: &[Route], cidr: Ipv4Net) -> Option<&Route> {
    routes
        .iter()
        .filter(|route| route.cidr.contains(&cidr))
        .max_by_key(|route| {
            let propagated = matches!(route.origin, Origin::Propagated { .. });
            (route.cidr.prefix_len(), !propagated)
        })
}

/// Checks one table's route for `cidr` against where it must go.
fn check(
    region: &str,
    table_id: &str,
    routes: &[Route],
    cidr: Ipv4Net,
    expected: &str,
    vpc: bool,
) -> Option<Hop> {
    let region = region.to_owned();
    let route_table_id = table_id.to_owned();
    match best_match(routes, cidr) {
        None if vpc => Some(Hop::NoVpcRoute {
            region,
            route_table_id,
            cidr,
        }),
        None => Some(Hop::NoTgwRoute {
            region,
            route_table_id,
            cidr,
        }),
        Some(route) if route.blackhole => Some(Hop::Blackhole {
            region,
            route_table_id,
            cidr,
        }),
        Some(route) if route.target.as_deref() == Some(expected) => None,
        Some(route) => Some(Hop::Conflict {
            region,
            route_table_id,
            cidr,
            target: route.target_label(),
            expected: expected.to_owned(),
        }),
    }
}

/// The first missing hop from `vpc` on `from` to every CIDR of `remote` on `to`.
fn one_way(from: &SideView, vpc_id: &str, to: &SideView, remote: &Vpc) -> Option<Hop> {
    let remote_attachment = &to.attachments[&remote.id];
    let no_tables = Vec::new();
    let tables = from.vpc_tables.get(vpc_id).unwrap_or(&no_tables);
    for cidr in &remote.cidrs {
        for table in tables {
            if let Some(hop) = check(
                from.region,
                &table.id,
                &table.routes,
                *cidr,
                from.transit_gateway_id,
                true,
            ) {
                return Some(hop);
            }
        }
        if let Some(hop) = check(
            from.region,
            from.route_table_id,
            from.tgw_routes,
            *cidr,
            from.peering_attachment_id,
            false,
        ) {
            return Some(hop);
        }
        if let Some(hop) = check(
            to.region,
            to.route_table_id,
            to.tgw_routes,
            *cidr,
            &remote_attachment.id,
            false,
        ) {
            return Some(hop);
        }
    }
    None
}

fn pair(active: &SideView, a: &Vpc, passive: &SideView, p: &Vpc) -> PairResult {
    let result = |direction: Option<&str>, hop: Hop| PairResult {
        active_vpc_id: a.id.clone(),
        passive_vpc_id: p.id.clone(),
        direction: direction.map(str::to_owned),
        hop,
    };
    for (side, vpc) in [(active, a), (passive, p)] {
        if !side.attachments.contains_key(&vpc.id) {
            return result(
                None,
                Hop::NoTgwAttachment {
                    region: side.region.to_owned(),
                    vpc_id: vpc.id.clone(),
                    transit_gateway_id: side.transit_gateway_id.to_owned(),
                },
            );
        }
    }
    if let Some(hop) = one_way(active, &a.id, passive, p) {
        return result(Some("there"), hop);
    }
    if let Some(hop) = one_way(passive, &p.id, active, a) {
        return result(Some("back"), hop);
    }
    result(None, Hop::Reachable)
}

fn by_id(vpcs: &[Vpc]) -> Vec<&Vpc> {
    let mut sorted: Vec<&Vpc> = vpcs.iter().collect();
    sorted.sort_by(|x, y| x.id.cmp(&y.id));
    sorted
}

/// Checks every pair of tagged VPCs across the two sides.
///
/// Only the pairs listed are kept: at 1,000 VPCs a side there are a million pairs, and holding
/// every result before cutting the list to [`MAX_PAIRS_LISTED`] took hundreds of MiB. Pairs are
/// walked in VPC id order, so the first unreachable ones and the first reachable ones seen are
/// exactly those the sorted list would show.
pub fn reachability(active: &SideView, passive: &SideView) -> Reachability {
    let (active_vpcs, passive_vpcs) = (by_id(active.tagged), by_id(passive.tagged));
    let mut unreachable = Vec::new();
    let mut reachable = Vec::new();
    let (mut pairs, mut reachable_count) = (0, 0);
    for a in &active_vpcs {
        for p in &passive_vpcs {
            pairs += 1;
            let result = pair(active, a, passive, p);
            let (listed, is_reachable) = if result.hop == Hop::Reachable {
                (&mut reachable, true)
            } else {
                (&mut unreachable, false)
            };
            reachable_count += usize::from(is_reachable);
            if listed.len() < MAX_PAIRS_LISTED {
                listed.push(result);
            }
        }
    }
    let mut results = unreachable;
    results.extend(reachable);
    results.truncate(MAX_PAIRS_LISTED);
    Reachability {
        pairs,
        reachable: reachable_count,
        unreachable: pairs - reachable_count,
        results,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PEERING: &str = "tgw-attach-peering";

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    /// One side with one tagged, attached VPC whose one route table has `vpc_routes`.
    struct Fixture {
        region: &'static str,
        tgw: &'static str,
        tgw_table: &'static str,
        vpc: Vpc,
        attachments: BTreeMap<String, VpcAttachment>,
        tables: BTreeMap<String, Vec<VpcRouteTable>>,
        tgw_routes: Vec<Route>,
    }

    impl Fixture {
        fn new(name: &'static str, cidr: &str) -> Self {
            let (region, tgw, tgw_table) = match name {
                "active" => ("us-east-1", "tgw-a", "tgw-rtb-a"),
                _ => ("eu-west-1", "tgw-p", "tgw-rtb-p"),
            };
            let vpc = Vpc {
                id: format!("vpc-{name}"),
                cidrs: vec![net(cidr)],
                tags: vec![],
            };
            let attachment = VpcAttachment {
                id: format!("tgw-attach-{name}"),
                vpc_id: vpc.id.clone(),
                subnet_ids: vec![],
            };
            let table = VpcRouteTable {
                id: format!("rtb-{name}"),
                vpc_id: vpc.id.clone(),
                main: true,
                subnet_ids: vec![],
                routes: vec![],
                tags: vec![],
            };
            Self {
                region,
                tgw,
                tgw_table,
                attachments: [(vpc.id.clone(), attachment)].into(),
                tables: [(vpc.id.clone(), vec![table])].into(),
                // The VPC's own CIDR, as propagation puts it in its TGW table.
                tgw_routes: vec![Route {
                    origin: Origin::Propagated {
                        resource_type: "vpc".into(),
                    },
                    ..Route::to(net(cidr), &format!("tgw-attach-{name}"))
                }],
                vpc,
            }
        }

        /// Everything in place towards `remote`: a VPC route to the TGW, a TGW route over the peering.
        fn routes_to(mut self, remote: &str) -> Self {
            let tgw = self.tgw;
            self.vpc_table().routes.push(Route::to(net(remote), tgw));
            self.tgw_routes.push(Route::to(net(remote), PEERING));
            self
        }

        fn vpc_table(&mut self) -> &mut VpcRouteTable {
            self.tables.values_mut().next().unwrap().first_mut().unwrap()
        }

        fn view(&self) -> SideView<'_> {
            SideView {
                region: self.region,
                transit_gateway_id: self.tgw,
                route_table_id: self.tgw_table,
                tagged: std::slice::from_ref(&self.vpc),
                attachments: &self.attachments,
                vpc_tables: &self.tables,
                tgw_routes: &self.tgw_routes,
                peering_attachment_id: PEERING,
            }
        }
    }

    fn full_path() -> (Fixture, Fixture) {
        (
            Fixture::new("active", "10.1.0.0/16").routes_to("10.2.0.0/16"),
            Fixture::new("passive", "10.2.0.0/16").routes_to("10.1.0.0/16"),
        )
    }

    fn only_result(active: &Fixture, passive: &Fixture) -> PairResult {
        let report = reachability(&active.view(), &passive.view());
        assert_eq!(report.pairs, 1);
        report.results.into_iter().next().unwrap()
    }

    #[test]
    fn given_every_hop_there_and_back_then_the_pair_is_reachable() {
        let (active, passive) = full_path();
        let report = reachability(&active.view(), &passive.view());
        assert_eq!((report.pairs, report.reachable, report.unreachable), (1, 1, 0));
        assert_eq!(report.results[0].hop, Hop::Reachable);
    }

    #[test]
    fn given_a_vpc_without_an_attachment_then_that_is_the_first_missing_hop() {
        let (active, mut passive) = full_path();
        passive.attachments.clear();
        let result = only_result(&active, &passive);
        assert_eq!(
            result.hop,
            Hop::NoTgwAttachment {
                region: "eu-west-1".into(),
                vpc_id: "vpc-passive".into(),
                transit_gateway_id: "tgw-p".into()
            }
        );
    }

    #[test]
    fn given_no_vpc_route_there_then_the_active_vpc_table_is_named() {
        let (mut active, passive) = full_path();
        active.vpc_table().routes.clear();
        let result = only_result(&active, &passive);
        assert_eq!(result.direction.as_deref(), Some("there"));
        assert_eq!(
            result.hop,
            Hop::NoVpcRoute {
                region: "us-east-1".into(),
                route_table_id: "rtb-active".into(),
                cidr: net("10.2.0.0/16")
            }
        );
    }

    #[test]
    fn given_no_tgw_route_back_then_the_passive_tgw_table_is_named() {
        let (active, mut passive) = full_path();
        passive
            .tgw_routes
            .retain(|route| route.cidr != net("10.1.0.0/16"));
        let result = only_result(&active, &passive);
        assert_eq!(result.direction.as_deref(), Some("back"));
        assert_eq!(
            result.hop,
            Hop::NoTgwRoute {
                region: "eu-west-1".into(),
                route_table_id: "tgw-rtb-p".into(),
                cidr: net("10.1.0.0/16")
            }
        );
    }

    #[test]
    fn given_the_remote_vpc_cidr_is_not_in_its_tgw_table_then_delivery_is_the_missing_hop() {
        let (active, mut passive) = full_path();
        passive
            .tgw_routes
            .retain(|route| route.cidr != net("10.2.0.0/16"));
        let result = only_result(&active, &passive);
        assert_eq!(result.direction.as_deref(), Some("there"));
        assert!(
            matches!(&result.hop, Hop::NoTgwRoute { route_table_id, .. } if route_table_id == "tgw-rtb-p"),
            "{result:?}"
        );
    }

    #[test]
    fn given_a_blackhole_or_a_route_elsewhere_then_they_are_named_as_such() {
        let (mut active, passive) = full_path();
        active.tgw_routes.retain(|route| route.cidr != net("10.2.0.0/16"));
        active.tgw_routes.push(Route {
            target: None,
            blackhole: true,
            ..Route::to(net("10.2.0.0/16"), "x")
        });
        assert!(matches!(
            only_result(&active, &passive).hop,
            Hop::Blackhole { .. }
        ));

        let (mut active, passive) = full_path();
        active.vpc_table().routes.clear();
        active
            .vpc_table()
            .routes
            .push(Route::to(net("10.0.0.0/8"), "nat-0123"));
        let hop = only_result(&active, &passive).hop;
        assert_eq!(
            hop,
            Hop::Conflict {
                region: "us-east-1".into(),
                route_table_id: "rtb-active".into(),
                cidr: net("10.2.0.0/16"),
                target: "nat-0123".into(),
                expected: "tgw-a".into()
            }
        );
    }

    #[test]
    fn the_longest_prefix_wins_and_a_static_route_beats_a_propagated_one_of_the_same_prefix() {
        let propagated = Route {
            origin: Origin::Propagated {
                resource_type: "vpn".into(),
            },
            ..Route::to(net("10.2.0.0/16"), "tgw-attach-vpn")
        };
        let routes = vec![
            Route::to(net("10.0.0.0/8"), "wide"),
            propagated.clone(),
            Route::to(net("10.2.0.0/16"), "static"),
        ];
        assert_eq!(
            best_match(&routes, net("10.2.3.0/24")).unwrap().target.as_deref(),
            Some("static")
        );
        assert_eq!(
            best_match(&routes, net("10.3.0.0/16")).unwrap().target.as_deref(),
            Some("wide")
        );
        assert_eq!(best_match(&[propagated], net("10.3.0.0/16")), None);
    }

    /// The report as the whole list of pairs, sorted and cut: what `reachability` must equal.
    fn reference(active: &SideView, passive: &SideView) -> Reachability {
        let mut results: Vec<PairResult> = active
            .tagged
            .iter()
            .flat_map(|a| passive.tagged.iter().map(move |p| (a, p)))
            .map(|(a, p)| pair(active, a, passive, p))
            .collect();
        let reachable = results.iter().filter(|r| r.hop == Hop::Reachable).count();
        let pairs = results.len();
        results.sort_by(|x, y| {
            let key = |r: &PairResult| {
                (
                    r.hop == Hop::Reachable,
                    r.active_vpc_id.clone(),
                    r.passive_vpc_id.clone(),
                )
            };
            key(x).cmp(&key(y))
        });
        results.truncate(MAX_PAIRS_LISTED);
        Reachability {
            pairs,
            reachable,
            unreachable: pairs - reachable,
            results,
        }
    }

    /// The fixture's VPC (attached, routed) among `others` unattached ones, in descending id order.
    fn crowd(fixture: &Fixture, others: usize, side: &str) -> Vec<Vpc> {
        let mut vpcs: Vec<Vpc> = (0..others)
            .map(|i| Vpc {
                id: format!("vpc-{side}-{i:03}"),
                cidrs: vec![net(&format!(
                    "10.{}.{}.0/24",
                    if side == "a" { 50 } else { 150 },
                    i
                ))],
                tags: vec![],
            })
            .collect();
        vpcs.push(fixture.vpc.clone());
        vpcs.reverse();
        vpcs
    }

    proptest! {
        #[test]
        fn removing_any_one_hop_makes_the_pair_unreachable(which in 0usize..6) {
            let (mut active, mut passive) = full_path();
            match which {
                0 => active.vpc_table().routes.clear(),
                1 => active.tgw_routes.retain(|r| r.cidr != net("10.2.0.0/16")),
                2 => passive.tgw_routes.retain(|r| r.cidr != net("10.2.0.0/16")),
                3 => passive.vpc_table().routes.clear(),
                4 => passive.tgw_routes.retain(|r| r.cidr != net("10.1.0.0/16")),
                _ => active.tgw_routes.retain(|r| r.cidr != net("10.1.0.0/16")),
            }
            let result = only_result(&active, &passive);
            prop_assert_ne!(result.hop, Hop::Reachable);
            prop_assert_eq!(result.direction.as_deref(), Some(if which < 3 { "there" } else { "back" }));
        }

        #[test]
        fn keeping_only_the_listed_pairs_reports_exactly_what_sorting_every_pair_would(
            active_others in 0usize..25, passive_others in 0usize..25,
        ) {
            let (active, passive) = full_path();
            let (active_vpcs, passive_vpcs) = (crowd(&active, active_others, "a"), crowd(&passive, passive_others, "p"));
            let active_view = SideView { tagged: &active_vpcs, ..active.view() };
            let passive_view = SideView { tagged: &passive_vpcs, ..passive.view() };
            let report = reachability(&active_view, &passive_view);
            prop_assert_eq!(report.reachable, 1);
            prop_assert_eq!(report, reference(&active_view, &passive_view));
        }

        #[test]
        fn counts_add_up_and_unreachable_pairs_are_listed_first(missing in proptest::collection::vec(any::<bool>(), 1..6)) {
            // One active VPC and several passive ones, some of them unattached.
            let active = Fixture::new("active", "10.1.0.0/16");
            let mut passive = Fixture::new("passive", "10.2.0.0/16");
            let vpcs: Vec<Vpc> = missing.iter().enumerate().map(|(i, _)| Vpc {
                id: format!("vpc-p{i}"), cidrs: vec![net(&format!("10.{}.0.0/16", 100 + i))], tags: vec![],
            }).collect();
            passive.attachments = vpcs.iter().zip(&missing).filter(|(_, m)| !**m).map(|(v, _)| (v.id.clone(), VpcAttachment {
                id: format!("att-{}", v.id), vpc_id: v.id.clone(), subnet_ids: vec![],
            })).collect();
            let view = SideView { tagged: &vpcs, ..passive.view() };
            let report = reachability(&active.view(), &view);
            prop_assert_eq!(report.pairs, missing.len());
            prop_assert_eq!(report.reachable + report.unreachable, report.pairs);
            let first_reachable = report.results.iter().position(|r| r.hop == Hop::Reachable).unwrap_or(report.results.len());
            prop_assert!(report.results[first_reachable..].iter().all(|r| r.hop == Hop::Reachable));
            let unattached = report.results.iter().filter(|r| matches!(r.hop, Hop::NoTgwAttachment { .. })).count();
            prop_assert_eq!(unattached, missing.iter().filter(|m| **m).count());
        }
    }
}
