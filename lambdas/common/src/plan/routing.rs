//! Route planning: pure functions from what one side of the peering has to what must change.

use std::collections::{BTreeSet, HashMap};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A VPC as discovery sees it: its id, tags and associated IPv4 and IPv6 CIDR blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub id: String,
    pub cidrs: Vec<IpNet>,
    pub tags: Vec<(String, String)>,
}

/// Where a route came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Added by hand or by this tool (a static TGW route, or a VPC route made by CreateRoute).
    Static,
    /// Learned from an attachment (TGW) or a virtual private gateway (VPC); `resource_type` is
    /// the attachment's kind (`vpc`, `vpn`, `direct-connect-gateway`, …) or `vgw`.
    Propagated { resource_type: String },
    /// A VPC's own CIDR; it cannot be removed and does not count against the quota.
    Local,
}

/// A route in a transit gateway or VPC route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub cidr: IpNet,
    /// Where the route sends traffic: an attachment id in a TGW table, a gateway or transit
    /// gateway id in a VPC table; `None` for a blackhole route.
    pub target: Option<String>,
    /// True when the route drops traffic (an explicit blackhole, or a dead target).
    pub blackhole: bool,
    pub origin: Origin,
}

impl Route {
    /// A live static route.
    pub fn to(cidr: IpNet, target: &str) -> Self {
        Self {
            cidr,
            target: Some(target.to_owned()),
            blackhole: false,
            origin: Origin::Static,
        }
    }

    pub(crate) fn sends_to(&self, target: &str) -> bool {
        !self.blackhole && self.target.as_deref() == Some(target)
    }

    pub(crate) fn target_label(&self) -> String {
        match (&self.target, self.blackhole) {
            (Some(id), false) => id.clone(),
            (Some(id), true) => format!("blackhole ({id})"),
            (None, _) => "blackhole".to_owned(),
        }
    }
}

/// An existing exact route that sends a wanted CIDR somewhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub cidr: IpNet,
    pub target: String,
}

/// What one route table needs, and what it already has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePlan {
    /// Routes to create via the peering attachment.
    pub create: Vec<IpNet>,
    /// Wanted CIDRs already routed via the peering attachment (exactly or by a supernet).
    pub present: Vec<IpNet>,
    /// Wanted CIDRs whose exact route points elsewhere; left untouched.
    pub conflicts: Vec<Conflict>,
    /// With prune: routes this tool created that are no longer wanted, to delete once every
    /// create of the side is done (see [`crate::plan::prune`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<IpNet>,
}

/// The outcome for one wanted CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteOutcome {
    /// No route reaches the peering for this CIDR: create one.
    Create,
    /// The CIDR already goes via the peering attachment.
    Present,
    /// The exact CIDR is routed elsewhere (another attachment or a blackhole): report, don't touch.
    Conflict { target: String },
}

/// Decides what one wanted CIDR needs, given the table's routes, where `target` is where it must
/// go (the peering attachment in a TGW table, the local transit gateway in a VPC table).
///
/// An exact route decides on its own, whatever its origin: a static route over a propagated one
/// would take its traffic, so a propagated exact route is a conflict too. Without one, the
/// longest covering route decides, as the table's own lookup does: via this same target the CIDR
/// is reachable; pointing elsewhere (even with a shorter route via the target behind it) it would
/// carry the traffic away, so the specific route is still needed (it wins by longest prefix).
pub fn classify(cidr: IpNet, routes: &[Route], target: &str) -> RouteOutcome {
    if let Some(exact) = routes.iter().find(|route| route.cidr == cidr) {
        return if exact.sends_to(target) {
            RouteOutcome::Present
        } else {
            RouteOutcome::Conflict {
                target: exact.target_label(),
            }
        };
    }
    let longest = routes.iter().filter(|route| route.cidr.contains(&cidr)).fold(
        None::<&Route>,
        |best, route| match best {
            Some(best) if best.cidr.prefix_len() >= route.cidr.prefix_len() => Some(best),
            _ => Some(route),
        },
    );
    if longest.is_some_and(|route| route.sends_to(target)) {
        RouteOutcome::Present
    } else {
        RouteOutcome::Create
    }
}

/// A table's routes indexed for [`classify`]'s two questions, so that planning thousands of
/// CIDRs against a table of thousands of routes costs a probe per prefix length, not a scan per
/// CIDR: the exact route of a prefix, and the longest route that covers it.
struct Classifier<'a> {
    by_prefix: HashMap<IpNet, &'a Route>,
    /// The prefix lengths of the table's routes, longest first.
    lengths: Vec<u8>,
    target: &'a str,
}

impl<'a> Classifier<'a> {
    fn new(routes: &'a [Route], target: &'a str) -> Self {
        let mut by_prefix = HashMap::new();
        for route in routes {
            // The first of several routes of one prefix decides, as in `classify`.
            by_prefix.entry(route.cidr.trunc()).or_insert(route);
        }
        let mut lengths: Vec<u8> = by_prefix.keys().map(IpNet::prefix_len).collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        Self {
            by_prefix,
            lengths,
            target,
        }
    }

    fn classify(&self, cidr: IpNet) -> RouteOutcome {
        if let Some(exact) = self.by_prefix.get(&cidr) {
            return if exact.sends_to(self.target) {
                RouteOutcome::Present
            } else {
                RouteOutcome::Conflict {
                    target: exact.target_label(),
                }
            };
        }
        let longest = self
            .lengths
            .iter()
            .filter(|length| **length < cidr.prefix_len())
            .filter_map(|length| IpNet::new(cidr.addr(), *length).ok())
            .find_map(|supernet| self.by_prefix.get(&supernet.trunc()));
        if longest.is_some_and(|route| route.sends_to(self.target)) {
            RouteOutcome::Present
        } else {
            RouteOutcome::Create
        }
    }
}

/// Plans one route table: every wanted CIDR (deduplicated, in address order) gets one outcome,
/// as [`classify`] would give it.
pub fn plan_routes(wanted: &[IpNet], routes: &[Route], target: &str) -> RoutePlan {
    let wanted: BTreeSet<IpNet> = wanted.iter().map(IpNet::trunc).collect();
    let classifier = Classifier::new(routes, target);
    let mut plan = RoutePlan::default();
    for cidr in wanted {
        match classifier.classify(cidr) {
            RouteOutcome::Create => plan.create.push(cidr),
            RouteOutcome::Present => plan.present.push(cidr),
            RouteOutcome::Conflict { target } => plan.conflicts.push(Conflict { cidr, target }),
        }
    }
    plan
}

/// True when the VPC carries `tag_key` (any case) with the value `true` (any case).
///
/// EC2 tag keys are case-sensitive, but people write `addToTransitGateway`,
/// `AddToTransitGateway` and `addtotransitgateway` interchangeably; missing a VPC silently is
/// worse than matching generously.
pub fn is_tagged(vpc: &Vpc, tag_key: &str) -> bool {
    vpc.tags
        .iter()
        .any(|(key, value)| key.eq_ignore_ascii_case(tag_key) && value.trim().eq_ignore_ascii_case("true"))
}

/// A CIDR and where it came from: a VPC id, `extraCidrs.<side>`, or a propagating attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedCidr {
    pub source: String,
    pub cidr: IpNet,
}

/// All CIDRs of the given VPCs, each with its VPC.
pub fn cidrs_of<'a>(vpcs: impl IntoIterator<Item = &'a Vpc>) -> Vec<SourcedCidr> {
    vpcs.into_iter()
        .flat_map(|vpc| {
            vpc.cidrs.iter().map(|cidr| SourcedCidr {
                source: vpc.id.clone(),
                cidr: cidr.trunc(),
            })
        })
        .collect()
}

/// Attachment kinds whose propagated routes lead off the AWS network (on-premises sites), and
/// so are worth carrying across the peering. VPC CIDRs come from the tags instead.
pub const ON_PREMISES_RESOURCE_TYPES: &[&str] = &["vpn", "direct-connect-gateway"];

/// The CIDRs a TGW route table learns from VPN and Direct Connect gateway attachments.
pub fn propagated_on_premises(routes: &[Route]) -> Vec<SourcedCidr> {
    routes
        .iter()
        .filter(|route| !route.blackhole)
        .filter_map(|route| match &route.origin {
            Origin::Propagated { resource_type }
                if ON_PREMISES_RESOURCE_TYPES.contains(&resource_type.as_str()) =>
            {
                Some(SourcedCidr {
                    source: format!(
                        "propagated from {} ({resource_type})",
                        route.target.as_deref().unwrap_or("an attachment")
                    ),
                    cidr: route.cidr,
                })
            }
            _ => None,
        })
        .collect()
}

/// Extra CIDRs of one side, each named by its field.
pub fn extra(cidrs: &[IpNet], side: crate::plan::Side) -> Vec<SourcedCidr> {
    cidrs
        .iter()
        .map(|cidr| SourcedCidr {
            source: format!("extraCidrs.{side}"),
            cidr: *cidr,
        })
        .collect()
}

/// The first (in address order) pair of overlapping CIDRs across the two sides, if any: the
/// first active CIDR that overlaps any passive one, and the first passive CIDR it overlaps.
/// Sides of 10,000 CIDRs each are common with propagated ranges, so this is a sweep over both
/// sides in address order, not a comparison of every pair.
pub fn find_overlap<'a>(
    active: &'a [SourcedCidr],
    passive: &'a [SourcedCidr],
) -> Option<(&'a SourcedCidr, &'a SourcedCidr)> {
    let order = |a: &&SourcedCidr, b: &&SourcedCidr| (a.cidr, &a.source).cmp(&(b.cidr, &b.source));
    let overlapping = actives_overlapping(active, passive);
    let first = active
        .iter()
        .zip(overlapping)
        .filter_map(|(cidr, overlaps)| overlaps.then_some(cidr))
        .min_by(order)?;
    let other = passive
        .iter()
        .filter(|p| first.cidr.contains(&p.cidr) || p.cidr.contains(&first.cidr))
        .min_by(order)?;
    Some((first, other))
}

/// For each active CIDR, whether a passive one overlaps it. Two prefixes overlap only when one
/// contains the other; in address order (shorter first at the same address) a prefix comes after
/// every prefix that contains it, so a stack per side of the prefixes containing the current one
/// finds every overlap in one pass.
fn actives_overlapping(active: &[SourcedCidr], passive: &[SourcedCidr]) -> Vec<bool> {
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Of {
        Passive,
        Active,
    }
    let mut items: Vec<(IpNet, Of, usize)> = active
        .iter()
        .enumerate()
        .map(|(index, c)| (c.cidr.trunc(), Of::Active, index))
        .chain(
            passive
                .iter()
                .enumerate()
                .map(|(index, c)| (c.cidr.trunc(), Of::Passive, index)),
        )
        .collect();
    items.sort_unstable();
    let mut overlapping = vec![false; active.len()];
    // The prefixes of each side that contain the current one, outermost first, with their index.
    let mut actives: Vec<(IpNet, usize)> = Vec::new();
    let mut passives: Vec<(IpNet, usize)> = Vec::new();
    for (net, of, index) in items {
        for containing in [&mut actives, &mut passives] {
            while containing.last().is_some_and(|(top, _)| !top.contains(&net)) {
                containing.pop();
            }
        }
        match of {
            Of::Active => {
                overlapping[index] |= !passives.is_empty();
                actives.push((net, index));
            }
            Of::Passive => {
                for (_, containing) in &actives {
                    overlapping[*containing] = true;
                }
                passives.push((net, index));
            }
        }
    }
    overlapping
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PEERING: &str = "tgw-attach-0000000000000peer";

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn via(cidr: &str, attachment: &str) -> Route {
        Route::to(net(cidr), attachment)
    }

    fn blackhole(cidr: &str) -> Route {
        Route {
            cidr: net(cidr),
            target: None,
            blackhole: true,
            origin: Origin::Static,
        }
    }

    #[test]
    fn given_an_empty_table_when_planning_then_every_cidr_is_created_once_in_order() {
        let wanted = [net("10.2.0.0/16"), net("10.1.0.0/16"), net("10.2.0.0/16")];
        let plan = plan_routes(&wanted, &[], PEERING);
        assert_eq!(plan.create, [net("10.1.0.0/16"), net("10.2.0.0/16")]);
        assert!(plan.present.is_empty() && plan.conflicts.is_empty());
    }

    #[test]
    fn given_an_exact_route_via_the_peering_then_it_is_present() {
        let plan = plan_routes(&[net("10.1.0.0/16")], &[via("10.1.0.0/16", PEERING)], PEERING);
        assert_eq!(plan.present, [net("10.1.0.0/16")]);
        assert!(plan.create.is_empty());
    }

    #[test]
    fn given_an_exact_route_elsewhere_or_a_blackhole_then_it_is_a_conflict_and_not_created() {
        let routes = [
            via("10.1.0.0/16", "tgw-attach-0000000000000vpn0"),
            blackhole("10.2.0.0/16"),
        ];
        let plan = plan_routes(&[net("10.1.0.0/16"), net("10.2.0.0/16")], &routes, PEERING);
        assert!(plan.create.is_empty());
        assert_eq!(
            plan.conflicts,
            [
                Conflict {
                    cidr: net("10.1.0.0/16"),
                    target: "tgw-attach-0000000000000vpn0".into()
                },
                Conflict {
                    cidr: net("10.2.0.0/16"),
                    target: "blackhole".into()
                },
            ]
        );
    }

    #[test]
    fn given_a_blackholed_route_via_the_peering_then_it_is_a_conflict() {
        let route = Route {
            blackhole: true,
            ..via("10.1.0.0/16", PEERING)
        };
        let plan = plan_routes(&[net("10.1.0.0/16")], &[route], PEERING);
        assert_eq!(plan.conflicts.len(), 1);
    }

    #[test]
    fn given_a_supernet_via_the_peering_then_the_cidr_is_covered() {
        let plan = plan_routes(&[net("10.1.4.0/24")], &[via("10.0.0.0/8", PEERING)], PEERING);
        assert_eq!(plan.present, [net("10.1.4.0/24")]);
    }

    #[test]
    fn given_a_supernet_pointing_elsewhere_then_the_specific_route_is_still_created() {
        let routes = [
            via("10.0.0.0/8", "tgw-attach-0000000000000vpn0"),
            blackhole("0.0.0.0/0"),
        ];
        let plan = plan_routes(&[net("10.1.4.0/24")], &routes, PEERING);
        assert_eq!(plan.create, [net("10.1.4.0/24")]);
    }

    #[test]
    fn given_a_longer_covering_route_elsewhere_in_front_of_a_supernet_via_the_peering_then_the_cidr_is_created(
    ) {
        let routes = [
            via("10.0.0.0/8", PEERING),
            via("10.1.0.0/16", "tgw-attach-0000000000000vpn0"),
        ];
        let plan = plan_routes(&[net("10.1.4.0/24"), net("10.2.0.0/16")], &routes, PEERING);
        assert_eq!(plan.create, [net("10.1.4.0/24")]);
        assert_eq!(plan.present, [net("10.2.0.0/16")]);
    }

    #[test]
    fn given_a_subnet_via_the_peering_then_the_wider_cidr_is_still_created() {
        let plan = plan_routes(&[net("10.1.0.0/16")], &[via("10.1.4.0/24", PEERING)], PEERING);
        assert_eq!(plan.create, [net("10.1.0.0/16")]);
    }

    #[test]
    fn tag_key_and_value_match_in_any_case_but_only_true_counts() {
        let vpc = |k: &str, v: &str| Vpc {
            id: "vpc-1".into(),
            cidrs: vec![],
            tags: vec![(k.into(), v.into())],
        };
        assert!(is_tagged(
            &vpc("addtotransitgateway", "TRUE"),
            "addToTransitGateway"
        ));
        assert!(is_tagged(
            &vpc("AddToTransitGateway", "True"),
            "addToTransitGateway"
        ));
        assert!(!is_tagged(
            &vpc("addToTransitGateway", "false"),
            "addToTransitGateway"
        ));
        assert!(!is_tagged(
            &vpc("addToTransitGateway", "yes"),
            "addToTransitGateway"
        ));
        assert!(!is_tagged(&vpc("otherKey", "true"), "addToTransitGateway"));
    }

    #[test]
    fn overlap_is_found_in_either_direction_and_disjoint_sides_pass() {
        let side = |vpc: &str, cidr: &str| SourcedCidr {
            source: vpc.into(),
            cidr: net(cidr),
        };
        let active = [side("vpc-a", "10.0.0.0/16"), side("vpc-b", "10.1.0.0/16")];
        assert_eq!(find_overlap(&active, &[side("vpc-p", "10.2.0.0/16")]), None);
        let narrower = [side("vpc-p", "10.1.128.0/17")];
        let (a, p) = find_overlap(&active, &narrower).unwrap();
        assert_eq!((a.source.as_str(), p.source.as_str()), ("vpc-b", "vpc-p"));
        let wider = [side("vpc-p", "10.0.0.0/8")];
        let (a, _) = find_overlap(&active, &wider).unwrap();
        assert_eq!(a.source, "vpc-a");
    }

    /// Prefixes packed into a small space, so that many overlap (nested, equal, or apart), in
    /// both families.
    fn dense_net() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (0u32..64, 10u8..=20).prop_map(|(x, len)| IpNet::new(
                std::net::Ipv4Addr::from(0x0a00_0000 | (x << 14)).into(),
                len
            )
            .unwrap()
            .trunc()),
            (0u128..64, 40u8..=52).prop_map(|(x, len)| IpNet::new(
                std::net::Ipv6Addr::from((0x2600_u128 << 112) | (x << 76)).into(),
                len
            )
            .unwrap()
            .trunc()),
        ]
    }

    /// IPv4 and IPv6 prefixes, so the overlap check is shown to keep the families apart.
    fn any_net() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (any::<u32>(), 8u8..=28).prop_map(|(addr, len)| IpNet::new(
                std::net::Ipv4Addr::from(addr).into(),
                len
            )
            .unwrap()
            .trunc()),
            (any::<u128>(), 8u8..=64).prop_map(|(addr, len)| IpNet::new(
                std::net::Ipv6Addr::from(addr).into(),
                len
            )
            .unwrap()
            .trunc()),
        ]
    }

    /// A prefix's family and first and last address, as numbers.
    fn span(net: &IpNet) -> (bool, u128, u128) {
        let number = |addr: std::net::IpAddr| match addr {
            std::net::IpAddr::V4(v4) => u128::from(u32::from(v4)),
            std::net::IpAddr::V6(v6) => u128::from(v6),
        };
        (
            matches!(net, IpNet::V4(_)),
            number(net.network()),
            number(net.broadcast()),
        )
    }

    /// CIDRs from a few addresses at many lengths, so that they nest and cover each other often.
    fn nested_net() -> impl Strategy<Value = IpNet> {
        (0u32..4, 0u32..4, 0u8..=26).prop_map(|(a, b, len)| {
            IpNet::new(
                std::net::Ipv4Addr::new(10, a as u8, (b * 64) as u8, 0).into(),
                len,
            )
            .unwrap()
            .trunc()
        })
    }

    fn nested_route() -> impl Strategy<Value = Route> {
        (
            nested_net(),
            prop_oneof![Just(PEERING), Just("tgw-attach-other0000")],
            any::<bool>(),
        )
            .prop_map(|(cidr, target, blackhole)| Route {
                blackhole,
                ..Route::to(cidr, target)
            })
    }

    fn any_route() -> impl Strategy<Value = Route> {
        (
            any_net(),
            prop_oneof![
                Just(None),
                Just(Some(PEERING)),
                Just(Some("tgw-attach-other0000"))
            ],
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(cidr, attachment, blackhole, propagated)| Route {
                cidr,
                target: attachment.map(str::to_owned),
                blackhole: blackhole || attachment.is_none(),
                origin: if propagated {
                    Origin::Propagated {
                        resource_type: "vpn".into(),
                    }
                } else {
                    Origin::Static
                },
            })
    }

    proptest! {
        #[test]
        fn every_wanted_cidr_gets_exactly_one_outcome(
            wanted in proptest::collection::vec(any_net(), 0..20),
            routes in proptest::collection::vec(any_route(), 0..20),
        ) {
            let plan = plan_routes(&wanted, &routes, PEERING);
            let distinct: BTreeSet<IpNet> = wanted.iter().copied().collect();
            let mut seen: Vec<IpNet> = plan.create.iter().chain(&plan.present).copied()
                .chain(plan.conflicts.iter().map(|c| c.cidr)).collect();
            seen.sort();
            prop_assert_eq!(seen, distinct.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn the_indexed_plan_classifies_every_cidr_as_classify_does(
            wanted in proptest::collection::vec(nested_net(), 0..20),
            routes in proptest::collection::vec(nested_route(), 0..20),
        ) {
            let plan = plan_routes(&wanted, &routes, PEERING);
            for cidr in &plan.create {
                prop_assert_eq!(classify(*cidr, &routes, PEERING), RouteOutcome::Create);
            }
            for cidr in &plan.present {
                prop_assert_eq!(classify(*cidr, &routes, PEERING), RouteOutcome::Present);
            }
            for conflict in &plan.conflicts {
                prop_assert_eq!(
                    classify(conflict.cidr, &routes, PEERING),
                    RouteOutcome::Conflict { target: conflict.target.clone() }
                );
            }
        }

        #[test]
        fn applying_the_plan_makes_the_next_plan_empty(
            wanted in proptest::collection::vec(any_net(), 0..20),
            routes in proptest::collection::vec(any_route(), 0..20),
        ) {
            let plan = plan_routes(&wanted, &routes, PEERING);
            let mut after = routes.clone();
            after.extend(plan.create.iter().map(|cidr| Route::to(*cidr, PEERING)));
            let again = plan_routes(&wanted, &after, PEERING);
            prop_assert!(again.create.is_empty());
            prop_assert_eq!(again.conflicts, plan.conflicts);
        }

        #[test]
        fn a_created_cidr_never_has_an_exact_route_nor_a_longest_covering_route_via_the_peering(
            wanted in proptest::collection::vec(nested_net(), 0..20),
            routes in proptest::collection::vec(nested_route(), 0..20),
        ) {
            let plan = plan_routes(&wanted, &routes, PEERING);
            for cidr in &plan.create {
                prop_assert!(routes.iter().all(|r| r.cidr != *cidr));
                let longest = routes.iter().filter(|r| r.cidr.contains(cidr)).map(|r| r.cidr.prefix_len()).max();
                let deciding = routes.iter().find(|r| r.cidr.contains(cidr) && Some(r.cidr.prefix_len()) == longest);
                prop_assert!(!deciding.is_some_and(|r| r.sends_to(PEERING)));
            }
        }

        #[test]
        fn overlap_matches_a_brute_force_address_check(
            a in proptest::collection::vec(any_net(), 0..8),
            p in proptest::collection::vec(any_net(), 0..8),
        ) {
            let side = |nets: &[IpNet]| nets.iter().map(|n| SourcedCidr { source: "v".into(), cidr: *n }).collect::<Vec<_>>();
            let shares_an_address = a.iter().any(|x| p.iter().any(|y| {
                let ((xf, xs, xe), (yf, ys, ye)) = (span(x), span(y));
                xf == yf && xs <= ye && ys <= xe
            }));
            prop_assert_eq!(find_overlap(&side(&a), &side(&p)).is_some(), shares_an_address);
        }

        #[test]
        fn the_sweep_finds_the_same_pair_as_comparing_every_pair(
            a in proptest::collection::vec(dense_net(), 0..40),
            p in proptest::collection::vec(dense_net(), 0..40),
        ) {
            let sourced = |nets: &[IpNet], prefix: &str| -> Vec<SourcedCidr> {
                nets.iter().enumerate().map(|(i, n)| SourcedCidr { source: format!("{prefix}{i}"), cidr: *n }).collect()
            };
            let (a, p) = (sourced(&a, "a"), sourced(&p, "p"));
            let overlaps = |x: &SourcedCidr, y: &SourcedCidr| x.cidr.contains(&y.cidr) || y.cidr.contains(&x.cidr);
            let order = |x: &&SourcedCidr, y: &&SourcedCidr| (x.cidr, &x.source).cmp(&(y.cidr, &y.source));
            let first = a.iter().filter(|x| p.iter().any(|y| overlaps(x, y))).min_by(order);
            let pairwise = first.map(|x| (x, p.iter().filter(|y| overlaps(x, y)).min_by(order).unwrap()));
            prop_assert_eq!(find_overlap(&a, &p), pairwise);
        }
    }
}
