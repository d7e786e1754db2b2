//! Route planning: pure functions from what one side of the peering has to what must change.

use std::collections::BTreeSet;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// A VPC as discovery sees it: its id, tags and associated IPv4 CIDR blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vpc {
    pub id: String,
    pub cidrs: Vec<Ipv4Net>,
    pub tags: Vec<(String, String)>,
}

/// A static route in a transit gateway route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub cidr: Ipv4Net,
    /// The attachment the route sends traffic to; `None` for a blackhole route.
    pub attachment_id: Option<String>,
    /// True when the route drops traffic (an explicit blackhole, or a dead attachment).
    pub blackhole: bool,
}

impl StaticRoute {
    fn sends_to(&self, attachment_id: &str) -> bool {
        !self.blackhole && self.attachment_id.as_deref() == Some(attachment_id)
    }

    fn target(&self) -> String {
        match (&self.attachment_id, self.blackhole) {
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
    pub cidr: Ipv4Net,
    pub target: String,
}

/// What one route table needs, and what it already has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePlan {
    /// Routes to create via the peering attachment.
    pub create: Vec<Ipv4Net>,
    /// Wanted CIDRs already routed via the peering attachment (exactly or by a supernet).
    pub present: Vec<Ipv4Net>,
    /// Wanted CIDRs whose exact route points elsewhere; left untouched.
    pub conflicts: Vec<Conflict>,
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

/// Decides what one wanted CIDR needs, given the table's static routes.
///
/// An exact route decides on its own. Without one, only a covering route via this same
/// attachment makes the CIDR reachable; a supernet pointing elsewhere would carry the traffic
/// away from the peering, so the specific route is still needed (it wins by longest prefix).
pub fn classify(cidr: Ipv4Net, routes: &[StaticRoute], attachment_id: &str) -> RouteOutcome {
    if let Some(exact) = routes.iter().find(|route| route.cidr == cidr) {
        return if exact.sends_to(attachment_id) {
            RouteOutcome::Present
        } else {
            RouteOutcome::Conflict {
                target: exact.target(),
            }
        };
    }
    let covered = routes
        .iter()
        .any(|route| route.sends_to(attachment_id) && route.cidr.contains(&cidr));
    if covered {
        RouteOutcome::Present
    } else {
        RouteOutcome::Create
    }
}

/// Plans one route table: every wanted CIDR (deduplicated, in address order) gets one outcome.
pub fn plan_routes(wanted: &[Ipv4Net], routes: &[StaticRoute], attachment_id: &str) -> RoutePlan {
    let wanted: BTreeSet<Ipv4Net> = wanted.iter().map(Ipv4Net::trunc).collect();
    let mut plan = RoutePlan::default();
    for cidr in wanted {
        match classify(cidr, routes, attachment_id) {
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

/// A CIDR and the VPC it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcedCidr {
    pub vpc_id: String,
    pub cidr: Ipv4Net,
}

/// All CIDRs of the given VPCs, each with its VPC.
pub fn cidrs_of<'a>(vpcs: impl IntoIterator<Item = &'a Vpc>) -> Vec<SourcedCidr> {
    vpcs.into_iter()
        .flat_map(|vpc| {
            vpc.cidrs.iter().map(|cidr| SourcedCidr {
                vpc_id: vpc.id.clone(),
                cidr: cidr.trunc(),
            })
        })
        .collect()
}

/// The first (in address order) pair of overlapping CIDRs across the two sides, if any.
pub fn find_overlap<'a>(
    active: &'a [SourcedCidr],
    passive: &'a [SourcedCidr],
) -> Option<(&'a SourcedCidr, &'a SourcedCidr)> {
    let mut active: Vec<&SourcedCidr> = active.iter().collect();
    let mut passive: Vec<&SourcedCidr> = passive.iter().collect();
    active.sort_by(|a, b| (a.cidr, &a.vpc_id).cmp(&(b.cidr, &b.vpc_id)));
    passive.sort_by(|a, b| (a.cidr, &a.vpc_id).cmp(&(b.cidr, &b.vpc_id)));
    active.iter().find_map(|a| {
        passive
            .iter()
            .find(|p| a.cidr.contains(&p.cidr) || p.cidr.contains(&a.cidr))
            .map(|p| (*a, *p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PEERING: &str = "tgw-attach-0000000000000peer";

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn via(cidr: &str, attachment: &str) -> StaticRoute {
        StaticRoute {
            cidr: net(cidr),
            attachment_id: Some(attachment.to_owned()),
            blackhole: false,
        }
    }

    fn blackhole(cidr: &str) -> StaticRoute {
        StaticRoute {
            cidr: net(cidr),
            attachment_id: None,
            blackhole: true,
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
        let route = StaticRoute {
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
            vpc_id: vpc.into(),
            cidr: net(cidr),
        };
        let active = [side("vpc-a", "10.0.0.0/16"), side("vpc-b", "10.1.0.0/16")];
        assert_eq!(find_overlap(&active, &[side("vpc-p", "10.2.0.0/16")]), None);
        let narrower = [side("vpc-p", "10.1.128.0/17")];
        let (a, p) = find_overlap(&active, &narrower).unwrap();
        assert_eq!((a.vpc_id.as_str(), p.vpc_id.as_str()), ("vpc-b", "vpc-p"));
        let wider = [side("vpc-p", "10.0.0.0/8")];
        let (a, _) = find_overlap(&active, &wider).unwrap();
        assert_eq!(a.vpc_id, "vpc-a");
    }

    fn any_net() -> impl Strategy<Value = Ipv4Net> {
        (any::<u32>(), 8u8..=28).prop_map(|(addr, len)| Ipv4Net::new(addr.into(), len).unwrap().trunc())
    }

    fn any_route() -> impl Strategy<Value = StaticRoute> {
        (
            any_net(),
            prop_oneof![
                Just(None),
                Just(Some(PEERING)),
                Just(Some("tgw-attach-other0000"))
            ],
            any::<bool>(),
        )
            .prop_map(|(cidr, attachment, blackhole)| StaticRoute {
                cidr,
                attachment_id: attachment.map(str::to_owned),
                blackhole: blackhole || attachment.is_none(),
            })
    }

    proptest! {
        #[test]
        fn every_wanted_cidr_gets_exactly_one_outcome(
            wanted in proptest::collection::vec(any_net(), 0..20),
            routes in proptest::collection::vec(any_route(), 0..20),
        ) {
            let plan = plan_routes(&wanted, &routes, PEERING);
            let distinct: BTreeSet<Ipv4Net> = wanted.iter().copied().collect();
            let mut seen: Vec<Ipv4Net> = plan.create.iter().chain(&plan.present).copied()
                .chain(plan.conflicts.iter().map(|c| c.cidr)).collect();
            seen.sort();
            prop_assert_eq!(seen, distinct.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn applying_the_plan_makes_the_next_plan_empty(
            wanted in proptest::collection::vec(any_net(), 0..20),
            routes in proptest::collection::vec(any_route(), 0..20),
        ) {
            let plan = plan_routes(&wanted, &routes, PEERING);
            let mut after = routes.clone();
            after.extend(plan.create.iter().map(|cidr| StaticRoute {
                cidr: *cidr, attachment_id: Some(PEERING.to_owned()), blackhole: false,
            }));
            let again = plan_routes(&wanted, &after, PEERING);
            prop_assert!(again.create.is_empty());
            prop_assert_eq!(again.conflicts, plan.conflicts);
        }

        #[test]
        fn a_created_cidr_never_has_an_exact_route_and_no_covering_route_via_the_peering(
            wanted in proptest::collection::vec(any_net(), 0..20),
            routes in proptest::collection::vec(any_route(), 0..20),
        ) {
            let plan = plan_routes(&wanted, &routes, PEERING);
            for cidr in &plan.create {
                prop_assert!(routes.iter().all(|r| r.cidr != *cidr));
                prop_assert!(!routes.iter().any(|r| r.sends_to(PEERING) && r.cidr.contains(cidr)));
            }
        }

        #[test]
        fn overlap_matches_a_brute_force_address_check(
            a in proptest::collection::vec(any_net(), 0..8),
            p in proptest::collection::vec(any_net(), 0..8),
        ) {
            let side = |nets: &[Ipv4Net]| nets.iter().map(|n| SourcedCidr { vpc_id: "v".into(), cidr: *n }).collect::<Vec<_>>();
            let shares_an_address = a.iter().any(|x| p.iter().any(|y| {
                let (xs, xe) = (u32::from(x.network()), u32::from(x.broadcast()));
                let (ys, ye) = (u32::from(y.network()), u32::from(y.broadcast()));
                xs <= ye && ys <= xe
            }));
            prop_assert_eq!(find_overlap(&side(&a), &side(&p)).is_some(), shares_an_address);
        }
    }
}
