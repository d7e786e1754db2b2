//! The reachability report: for each pair of tagged VPCs across the two Regions, whether a packet
//! gets there and back, or the first hop that is missing. Pure: it walks the routes as read (and
//! as this pass changed them), longest prefix first, as EC2 does, in the tables the transit
//! gateways really use.
//!
//! A transit gateway looks up a packet in the route table associated with the attachment the
//! packet arrived from. So the path from a VPC `a` on one side to a VPC `b` on the other, for
//! each CIDR of `b` (IPv4, and IPv6 where both VPCs have it):
//! 1. `a` and `b` are attached to their transit gateways (for IPv6, with `Ipv6Support`);
//! 2. every route table of `a`'s subnets in its attachment's zones sends the CIDR to `a`'s TGW;
//! 3. the TGW route table associated with `a`'s attachment sends it over the peering;
//! 4. the remote TGW route table associated with the peering attachment sends it to `b`'s
//!    attachment;
//!
//! then the same back from `b` to each CIDR of `a`.

use std::collections::{BTreeMap, HashMap};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::plan::association::Association;
use crate::plan::routing::{Origin, Route, Vpc};
use crate::plan::vpc_tables::{VpcAttachment, VpcRouteTable};

/// At most this many pairs are listed, unreachable ones first; the counts are always exact.
pub const MAX_PAIRS_LISTED: usize = 200;

/// One side as the report needs it.
pub struct SideView<'a> {
    pub region: &'a str,
    pub transit_gateway_id: &'a str,
    pub tagged: &'a [Vpc],
    pub attachments: &'a BTreeMap<String, VpcAttachment>,
    /// Each attached tagged VPC's route tables (see [`crate::plan::vpc_tables::tables_for`]).
    pub vpc_tables: &'a BTreeMap<String, Vec<VpcRouteTable>>,
    /// The static and propagated routes of the TGW route tables, by table id: every table an
    /// attachment of the walk is associated with.
    pub tgw_tables: &'a BTreeMap<String, Vec<Route>>,
    /// Each attachment's association on this side's transit gateway, by attachment id.
    pub associations: &'a BTreeMap<String, Association>,
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
    /// The VPC's attachment is associated with no TGW route table, so the transit gateway drops
    /// what the VPC sends.
    #[serde(rename_all = "camelCase")]
    VpcAttachmentNotAssociated {
        region: String,
        vpc_id: String,
        attachment_id: String,
    },
    /// The VPC's attachment does not have `Ipv6Support`, so the transit gateway forwards no IPv6
    /// to or from it.
    #[serde(rename_all = "camelCase")]
    Ipv6NotEnabled {
        region: String,
        vpc_id: String,
        attachment_id: String,
    },
    /// A VPC route table has no route for the CIDR, so traffic never reaches the TGW.
    #[serde(rename_all = "camelCase")]
    NoVpcRoute {
        region: String,
        route_table_id: String,
        cidr: IpNet,
    },
    /// The TGW route table associated with the source VPC's attachment has no route for the CIDR.
    #[serde(rename_all = "camelCase")]
    NoTgwRoute {
        region: String,
        route_table_id: String,
        cidr: IpNet,
    },
    /// The peering attachment is associated with no TGW route table on the receiving side (or
    /// the association is still being made), so traffic arriving over it is dropped.
    #[serde(rename_all = "camelCase")]
    PeeringNotAssociated { region: String, attachment_id: String },
    /// The TGW route table associated with the peering attachment on the receiving side has no
    /// route for the CIDR: traffic arrives and goes nowhere.
    #[serde(rename_all = "camelCase")]
    NoRouteFromPeering {
        region: String,
        route_table_id: String,
        cidr: IpNet,
    },
    /// The route that matches the CIDR drops its traffic.
    #[serde(rename_all = "camelCase")]
    Blackhole {
        region: String,
        route_table_id: String,
        cidr: IpNet,
    },
    /// The route that matches the CIDR sends it somewhere else.
    #[serde(rename_all = "camelCase")]
    Conflict {
        region: String,
        route_table_id: String,
        cidr: IpNet,
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

/// Which of the two routes EC2 prefers for the same destination: the longer prefix, then a
/// static route over a propagated one.
fn preference(route: &Route) -> (u8, bool) {
    let propagated = matches!(route.origin, Origin::Propagated { .. });
    (route.cidr.prefix_len(), !propagated)
}

/// The route EC2 would use for `cidr`: the longest prefix that covers it, a static route before a
/// propagated one of the same prefix.
pub fn best_match(routes: &[Route], cidr: IpNet) -> Option<&Route> {
    routes
        .iter()
        .filter(|route| route.cidr.contains(&cidr))
        .max_by_key(|route| preference(route))
}

/// A TGW table's routes by prefix, so a lookup costs one probe per prefix length the table uses
/// rather than a scan: the walk looks up every remote CIDR for every VPC pair, in tables of
/// thousands of routes.
struct Lookup<'a> {
    by_prefix: HashMap<IpNet, &'a Route>,
    /// The prefix lengths present, longest first.
    lengths: Vec<u8>,
}

impl<'a> Lookup<'a> {
    fn new(routes: &'a [Route]) -> Self {
        let mut by_prefix: HashMap<IpNet, &'a Route> = HashMap::new();
        for route in routes {
            by_prefix
                .entry(route.cidr.trunc())
                .and_modify(|kept| {
                    if preference(route) > preference(kept) {
                        *kept = route;
                    }
                })
                .or_insert(route);
        }
        let mut lengths: Vec<u8> = by_prefix.keys().map(IpNet::prefix_len).collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        Self { by_prefix, lengths }
    }

    fn best_match(&self, cidr: IpNet) -> Option<&'a Route> {
        self.lengths
            .iter()
            .filter(|length| **length <= cidr.prefix_len())
            .filter_map(|length| {
                let supernet = IpNet::new(cidr.addr(), *length).ok()?.trunc();
                self.by_prefix.get(&supernet).copied()
            })
            .next()
    }
}

/// What a route lookup found, judged against where the packet must go.
fn judge(
    region: &str,
    table_id: &str,
    found: Option<&Route>,
    cidr: IpNet,
    expected: &str,
    missing: Missing,
) -> Option<Hop> {
    let region = region.to_owned();
    let route_table_id = table_id.to_owned();
    match found {
        None => Some(match missing {
            Missing::Vpc => Hop::NoVpcRoute {
                region,
                route_table_id,
                cidr,
            },
            Missing::Tgw => Hop::NoTgwRoute {
                region,
                route_table_id,
                cidr,
            },
            Missing::FromPeering => Hop::NoRouteFromPeering {
                region,
                route_table_id,
                cidr,
            },
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

/// Which hop a table without a matching route is.
#[derive(Clone, Copy)]
enum Missing {
    Vpc,
    Tgw,
    FromPeering,
}

/// One side, indexed once for the walk.
struct Walker<'a> {
    view: &'a SideView<'a>,
    tables: BTreeMap<&'a str, Lookup<'a>>,
    /// The table associated with the peering attachment on this side, if live.
    peering_table: Option<&'a str>,
}

impl<'a> Walker<'a> {
    fn new(view: &'a SideView<'a>) -> Self {
        Self {
            tables: view
                .tgw_tables
                .iter()
                .map(|(id, routes)| (id.as_str(), Lookup::new(routes)))
                .collect(),
            peering_table: Association::live_table(view.associations.get(view.peering_attachment_id)),
            view,
        }
    }

    fn tgw_hop(&self, table_id: &str, cidr: IpNet, expected: &str, missing: Missing) -> Option<Hop> {
        let found = self
            .tables
            .get(table_id)
            .and_then(|lookup| lookup.best_match(cidr));
        judge(self.view.region, table_id, found, cidr, expected, missing)
    }

    /// Why the transit gateway cannot carry `vpc`'s traffic at all, if it cannot.
    fn attachment_hop(&self, vpc: &Vpc) -> Option<Hop> {
        let attachment = &self.view.attachments[&vpc.id];
        match Association::live_table(self.view.associations.get(&attachment.id)) {
            Some(_) => None,
            None => Some(Hop::VpcAttachmentNotAssociated {
                region: self.view.region.to_owned(),
                vpc_id: vpc.id.clone(),
                attachment_id: attachment.id.clone(),
            }),
        }
    }

    fn ipv6_hop(&self, vpc: &Vpc) -> Option<Hop> {
        let attachment = &self.view.attachments[&vpc.id];
        (!attachment.ipv6_support).then(|| Hop::Ipv6NotEnabled {
            region: self.view.region.to_owned(),
            vpc_id: vpc.id.clone(),
            attachment_id: attachment.id.clone(),
        })
    }
}

fn has_ipv6(vpc: &Vpc) -> bool {
    vpc.cidrs.iter().any(|cidr| matches!(cidr, IpNet::V6(_)))
}

/// The first missing hop from `local` on `from` to every CIDR of `remote` on `to`.
fn one_way(from: &Walker, local: &Vpc, to: &Walker, remote: &Vpc) -> Option<Hop> {
    let association = from.view.associations.get(&from.view.attachments[&local.id].id);
    let Some(outbound) = Association::live_table(association) else {
        return from.attachment_hop(local);
    };
    let remote_attachment = &to.view.attachments[&remote.id];
    let no_tables = Vec::new();
    let vpc_tables = from.view.vpc_tables.get(&local.id).unwrap_or(&no_tables);
    // IPv6 goes only between VPCs that both have it.
    let both_ipv6 = has_ipv6(local) && has_ipv6(remote);
    for cidr in remote
        .cidrs
        .iter()
        .filter(|cidr| matches!(cidr, IpNet::V4(_)) || both_ipv6)
    {
        for table in vpc_tables {
            let found = best_match(&table.routes, *cidr);
            if let Some(hop) = judge(
                from.view.region,
                &table.id,
                found,
                *cidr,
                from.view.transit_gateway_id,
                Missing::Vpc,
            ) {
                return Some(hop);
            }
        }
        if let Some(hop) = from.tgw_hop(outbound, *cidr, from.view.peering_attachment_id, Missing::Tgw) {
            return Some(hop);
        }
        let Some(arrival) = to.peering_table else {
            return Some(Hop::PeeringNotAssociated {
                region: to.view.region.to_owned(),
                attachment_id: to.view.peering_attachment_id.to_owned(),
            });
        };
        if let Some(hop) = to.tgw_hop(arrival, *cidr, &remote_attachment.id, Missing::FromPeering) {
            return Some(hop);
        }
    }
    None
}

fn pair(active: &Walker, a: &Vpc, passive: &Walker, p: &Vpc) -> PairResult {
    let result = |direction: Option<&str>, hop: Hop| PairResult {
        active_vpc_id: a.id.clone(),
        passive_vpc_id: p.id.clone(),
        direction: direction.map(str::to_owned),
        hop,
    };
    for (side, vpc) in [(active, a), (passive, p)] {
        if !side.view.attachments.contains_key(&vpc.id) {
            return result(
                None,
                Hop::NoTgwAttachment {
                    region: side.view.region.to_owned(),
                    vpc_id: vpc.id.clone(),
                    transit_gateway_id: side.view.transit_gateway_id.to_owned(),
                },
            );
        }
    }
    for (side, vpc) in [(active, a), (passive, p)] {
        if let Some(hop) = side.attachment_hop(vpc) {
            return result(None, hop);
        }
    }
    if has_ipv6(a) && has_ipv6(p) {
        for (side, vpc) in [(active, a), (passive, p)] {
            if let Some(hop) = side.ipv6_hop(vpc) {
                return result(None, hop);
            }
        }
    }
    if let Some(hop) = one_way(active, a, passive, p) {
        return result(Some("there"), hop);
    }
    if let Some(hop) = one_way(passive, p, active, a) {
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
    let (active_walker, passive_walker) = (Walker::new(active), Walker::new(passive));
    let (active_vpcs, passive_vpcs) = (by_id(active.tagged), by_id(passive.tagged));
    let mut unreachable = Vec::new();
    let mut reachable = Vec::new();
    let (mut pairs, mut reachable_count) = (0, 0);
    for a in &active_vpcs {
        for p in &passive_vpcs {
            pairs += 1;
            let result = pair(&active_walker, a, &passive_walker, p);
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
    use crate::plan::association::AssociationState;
    use proptest::prelude::*;

    const PEERING: &str = "tgw-attach-peering";

    fn net(s: &str) -> IpNet {
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
        tgw_tables: BTreeMap<String, Vec<Route>>,
        associations: BTreeMap<String, Association>,
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
                ipv6_support: true,
            };
            // Both the VPC's attachment and the peering look up in the one TGW table.
            let associations = [attachment.id.clone(), PEERING.to_owned()]
                .into_iter()
                .map(|id| {
                    let association = Association {
                        route_table_id: tgw_table.to_owned(),
                        state: AssociationState::Associated,
                    };
                    (id, association)
                })
                .collect();
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
                associations,
                // The VPC's own CIDR, as propagation puts it in its TGW table.
                tgw_tables: [(
                    tgw_table.to_owned(),
                    vec![Route {
                        origin: Origin::Propagated {
                            resource_type: "vpc".into(),
                        },
                        ..Route::to(net(cidr), &format!("tgw-attach-{name}"))
                    }],
                )]
                .into(),
                vpc,
            }
        }

        /// Everything in place towards `remote`: a VPC route to the TGW, a TGW route over the peering.
        fn routes_to(mut self, remote: &str) -> Self {
            let tgw = self.tgw;
            self.vpc_table().routes.push(Route::to(net(remote), tgw));
            self.tgw_routes().push(Route::to(net(remote), PEERING));
            self
        }

        fn tgw_routes(&mut self) -> &mut Vec<Route> {
            self.tgw_tables.values_mut().next().unwrap()
        }

        fn vpc_table(&mut self) -> &mut VpcRouteTable {
            self.tables.values_mut().next().unwrap().first_mut().unwrap()
        }

        fn view(&self) -> SideView<'_> {
            SideView {
                region: self.region,
                transit_gateway_id: self.tgw,
                tagged: std::slice::from_ref(&self.vpc),
                attachments: &self.attachments,
                vpc_tables: &self.tables,
                tgw_tables: &self.tgw_tables,
                associations: &self.associations,
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
            .tgw_routes()
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
            .tgw_routes()
            .retain(|route| route.cidr != net("10.2.0.0/16"));
        let result = only_result(&active, &passive);
        assert_eq!(result.direction.as_deref(), Some("there"));
        assert!(
            matches!(&result.hop, Hop::NoRouteFromPeering { route_table_id, .. } if route_table_id == "tgw-rtb-p"),
            "{result:?}"
        );
    }

    #[test]
    fn given_a_blackhole_or_a_route_elsewhere_then_they_are_named_as_such() {
        let (mut active, passive) = full_path();
        active
            .tgw_routes()
            .retain(|route| route.cidr != net("10.2.0.0/16"));
        active.tgw_routes().push(Route {
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
            .map(|(a, p)| pair(&Walker::new(active), a, &Walker::new(passive), p))
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

    /// Which hops a generated network has; the walk must say `reachable` exactly when all are.
    #[derive(Debug, Clone, Copy)]
    struct Hops {
        vpc_route: [bool; 2],
        vpc_associated: [bool; 2],
        outbound_route: [bool; 2],
        peering_associated: [bool; 2],
        arrival_route: [bool; 2],
        ipv6_support: [bool; 2],
        /// The side's VPC attachment and the peering share one TGW table (default association),
        /// or each has its own (a segmented network).
        shared_table: [bool; 2],
        dual_stack: bool,
    }

    struct Segmented {
        region: &'static str,
        tgw: &'static str,
        vpc: Vpc,
        attachments: BTreeMap<String, VpcAttachment>,
        vpc_tables: BTreeMap<String, Vec<VpcRouteTable>>,
        tgw_tables: BTreeMap<String, Vec<Route>>,
        associations: BTreeMap<String, Association>,
    }

    impl Segmented {
        fn view(&self) -> SideView<'_> {
            SideView {
                region: self.region,
                transit_gateway_id: self.tgw,
                tagged: std::slice::from_ref(&self.vpc),
                attachments: &self.attachments,
                vpc_tables: &self.vpc_tables,
                tgw_tables: &self.tgw_tables,
                associations: &self.associations,
                peering_attachment_id: PEERING,
            }
        }
    }

    /// One side (0 active, 1 passive) of a network built from `hops`: its VPC's attachment is
    /// associated with `tgw-rtb-<n>-vpcs`, the peering with `tgw-rtb-<n>-peering` (or both with
    /// the one table when shared).
    fn segmented(hops: &Hops, n: usize) -> Segmented {
        let (region, tgw) = [("us-east-1", "tgw-a"), ("eu-west-1", "tgw-p")][n];
        let own: Vec<IpNet> = [
            ["10.1.0.0/16", "2600:1f18::/56"],
            ["10.2.0.0/16", "2a05:d018::/56"],
        ][n]
            .iter()
            .take(if hops.dual_stack { 2 } else { 1 })
            .map(|c| net(c))
            .collect();
        let remote: Vec<IpNet> = [
            ["10.2.0.0/16", "2a05:d018::/56"],
            ["10.1.0.0/16", "2600:1f18::/56"],
        ][n]
            .iter()
            .take(if hops.dual_stack { 2 } else { 1 })
            .map(|c| net(c))
            .collect();
        let vpc = Vpc {
            id: format!("vpc-{n}"),
            cidrs: own.clone(),
            tags: vec![],
        };
        let attachment = VpcAttachment {
            id: format!("tgw-attach-vpc-{n}"),
            vpc_id: vpc.id.clone(),
            subnet_ids: vec![],
            ipv6_support: hops.ipv6_support[n],
        };
        let vpc_table = format!("tgw-rtb-{n}-vpcs");
        let peering_table = if hops.shared_table[n] {
            vpc_table.clone()
        } else {
            format!("tgw-rtb-{n}-peering")
        };
        let mut tgw_tables: BTreeMap<String, Vec<Route>> =
            [(vpc_table.clone(), vec![]), (peering_table.clone(), vec![])].into();
        if hops.outbound_route[n] {
            let routes = tgw_tables.get_mut(&vpc_table).unwrap();
            routes.extend(remote.iter().map(|cidr| Route::to(*cidr, PEERING)));
        }
        if hops.arrival_route[n] {
            let routes = tgw_tables.get_mut(&peering_table).unwrap();
            routes.extend(own.iter().map(|cidr| Route {
                origin: Origin::Propagated {
                    resource_type: "vpc".into(),
                },
                ..Route::to(*cidr, &attachment.id)
            }));
        }
        let mut associations = BTreeMap::new();
        let associated = |table: &str| Association {
            route_table_id: table.to_owned(),
            state: AssociationState::Associated,
        };
        if hops.vpc_associated[n] {
            associations.insert(attachment.id.clone(), associated(&vpc_table));
        }
        if hops.peering_associated[n] {
            associations.insert(PEERING.to_owned(), associated(&peering_table));
        }
        let routes = if hops.vpc_route[n] {
            remote.iter().map(|cidr| Route::to(*cidr, tgw)).collect()
        } else {
            vec![]
        };
        Segmented {
            region,
            tgw,
            vpc_tables: [(
                vpc.id.clone(),
                vec![VpcRouteTable {
                    id: format!("rtb-{n}"),
                    vpc_id: vpc.id.clone(),
                    main: true,
                    subnet_ids: vec![],
                    routes,
                    tags: vec![],
                }],
            )]
            .into(),
            attachments: [(vpc.id.clone(), attachment)].into(),
            vpc,
            tgw_tables,
            associations,
        }
    }

    fn every_hop() -> Hops {
        Hops {
            vpc_route: [true; 2],
            vpc_associated: [true; 2],
            outbound_route: [true; 2],
            peering_associated: [true; 2],
            arrival_route: [true; 2],
            ipv6_support: [true; 2],
            shared_table: [false; 2],
            dual_stack: true,
        }
    }

    fn walk_segmented(hops: &Hops) -> PairResult {
        let (active, passive) = (segmented(hops, 0), segmented(hops, 1));
        let report = reachability(&active.view(), &passive.view());
        assert_eq!(report.pairs, 1);
        report.results.into_iter().next().unwrap()
    }

    #[test]
    fn given_a_segmented_network_with_every_hop_over_both_families_then_the_pair_is_reachable() {
        assert_eq!(walk_segmented(&every_hop()).hop, Hop::Reachable);
    }

    #[test]
    fn given_each_missing_hop_of_a_segmented_network_then_the_report_names_it() {
        let with = |change: fn(&mut Hops)| {
            let mut hops = every_hop();
            change(&mut hops);
            walk_segmented(&hops)
        };
        let peering_unassociated = with(|h| h.peering_associated[1] = false);
        assert_eq!(
            peering_unassociated.hop,
            Hop::PeeringNotAssociated {
                region: "eu-west-1".into(),
                attachment_id: PEERING.into()
            }
        );
        assert_eq!(peering_unassociated.direction.as_deref(), Some("there"));
        let vpc_unassociated = with(|h| h.vpc_associated[0] = false);
        assert_eq!(
            vpc_unassociated.hop,
            Hop::VpcAttachmentNotAssociated {
                region: "us-east-1".into(),
                vpc_id: "vpc-0".into(),
                attachment_id: "tgw-attach-vpc-0".into()
            }
        );
        let no_outbound = with(|h| h.outbound_route[0] = false);
        assert!(
            matches!(&no_outbound.hop, Hop::NoTgwRoute { route_table_id, .. } if route_table_id == "tgw-rtb-0-vpcs"),
            "the VPC's own table is named, not the peering's: {no_outbound:?}"
        );
        let no_arrival = with(|h| h.arrival_route[0] = false);
        assert_eq!(no_arrival.direction.as_deref(), Some("back"));
        assert!(
            matches!(&no_arrival.hop, Hop::NoRouteFromPeering { route_table_id, cidr, .. }
                if route_table_id == "tgw-rtb-0-peering" && *cidr == net("10.1.0.0/16")),
            "{no_arrival:?}"
        );
        let no_ipv6 = with(|h| h.ipv6_support[1] = false);
        assert!(
            matches!(&no_ipv6.hop, Hop::Ipv6NotEnabled { vpc_id, .. } if vpc_id == "vpc-1"),
            "{no_ipv6:?}"
        );
        let ipv4_only = with(|h| {
            h.ipv6_support = [false; 2];
            h.dual_stack = false;
        });
        assert_eq!(
            ipv4_only.hop,
            Hop::Reachable,
            "IPv6 support matters only for IPv6"
        );
    }

    #[test]
    fn an_ipv6_route_missing_while_the_ipv4_one_is_there_is_named_with_its_cidr() {
        let hops = every_hop();
        let (active, mut passive) = (segmented(&hops, 0), segmented(&hops, 1));
        passive
            .tgw_tables
            .get_mut("tgw-rtb-1-peering")
            .unwrap()
            .retain(|route| matches!(route.cidr, IpNet::V4(_)));
        let report = reachability(&active.view(), &passive.view());
        assert!(
            matches!(&report.results[0].hop, Hop::NoRouteFromPeering { cidr, .. } if *cidr == net("2a05:d018::/56")),
            "{:?}",
            report.results[0]
        );
    }

    fn any_hops() -> impl Strategy<Value = Hops> {
        let pair = || any::<[bool; 2]>();
        (
            (pair(), pair(), pair(), pair(), pair()),
            (pair(), pair(), any::<bool>()),
        )
            .prop_map(
                |(
                    (vpc_route, vpc_associated, outbound_route, peering_associated, arrival_route),
                    (ipv6_support, shared_table, dual_stack),
                )| Hops {
                    vpc_route,
                    vpc_associated,
                    outbound_route,
                    peering_associated,
                    arrival_route,
                    ipv6_support,
                    shared_table,
                    dual_stack,
                },
            )
    }

    proptest! {
        #[test]
        fn over_random_small_networks_the_report_says_reachable_exactly_when_every_hop_is_there(hops in any_hops()) {
            let every = |hop: [bool; 2]| hop[0] && hop[1];
            let all_there = every(hops.vpc_route)
                && every(hops.vpc_associated)
                && every(hops.outbound_route)
                && every(hops.peering_associated)
                && every(hops.arrival_route)
                && (!hops.dual_stack || every(hops.ipv6_support));
            let result = walk_segmented(&hops);
            prop_assert_eq!(result.hop == Hop::Reachable, all_there, "{:?} gave {:?}", hops, result);
        }

        #[test]
        fn removing_any_one_hop_makes_the_pair_unreachable(which in 0usize..6) {
            let (mut active, mut passive) = full_path();
            match which {
                0 => active.vpc_table().routes.clear(),
                1 => active.tgw_routes().retain(|r| r.cidr != net("10.2.0.0/16")),
                2 => passive.tgw_routes().retain(|r| r.cidr != net("10.2.0.0/16")),
                3 => passive.vpc_table().routes.clear(),
                4 => passive.tgw_routes().retain(|r| r.cidr != net("10.1.0.0/16")),
                _ => active.tgw_routes().retain(|r| r.cidr != net("10.1.0.0/16")),
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
                id: format!("att-{}", v.id), vpc_id: v.id.clone(), subnet_ids: vec![], ipv6_support: false,
            })).collect();
            for attachment in passive.attachments.values() {
                passive.associations.insert(attachment.id.clone(), Association {
                    route_table_id: passive.tgw_table.to_owned(), state: AssociationState::Associated,
                });
            }
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
