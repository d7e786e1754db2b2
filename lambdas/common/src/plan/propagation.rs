//! The return path (`returnPropagation`). Traffic arriving over the peering is looked up in the
//! route table associated with the peering attachment on the receiving side ("How transit
//! gateways work", Transit Gateway guide), so that table must send each tagged VPC's CIDRs to
//! the VPC's attachment. Where it does not, the tool may enable propagation of that attachment
//! into the table: the table then learns the VPC's CIDRs as propagated routes. Each propagation
//! enabled is recorded (see [`crate::plan::record`]), so teardown disables exactly those.
//! Pure: what to enable, given the table and its propagations as read.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::plan::association::{Association, AssociationState};
use crate::plan::reachability::best_match;
use crate::plan::report::MAX_LISTED;
use crate::plan::routing::{Route, Vpc};
use crate::plan::vpc_tables::VpcAttachment;

/// A propagation's state, as `GetTransitGatewayRouteTablePropagations` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropagationState {
    Enabling,
    Enabled,
    Disabling,
    Disabled,
}

impl PropagationState {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "enabling" => Some(Self::Enabling),
            "enabled" => Some(Self::Enabled),
            "disabling" => Some(Self::Disabling),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }

    /// Enabled, or on its way there: enabling it again would be refused as a duplicate.
    fn is_on(self) -> bool {
        matches!(self, Self::Enabling | Self::Enabled)
    }
}

/// The table `returnPropagation` works on: the peering's route table on this side, which the
/// peering is (or, after this pass's association step, will be) associated with. `None` when the
/// peering is left associated with another table (no move asked for): arriving traffic is looked
/// up there, but that table is not one the request named or resolved, so it is not changed.
pub fn return_table<'a>(
    current: Option<&Association>,
    wanted: &'a str,
    move_allowed: bool,
) -> Option<&'a str> {
    match current {
        Some(association)
            if matches!(
                association.state,
                AssociationState::Associated | AssociationState::Associating
            ) && association.route_table_id != wanted
                && !move_allowed =>
        {
            None
        }
        _ => Some(wanted),
    }
}

/// One side's return path, decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnPlan {
    /// Attachments whose propagation into the arrival table would give it the routes it lacks,
    /// in id order.
    pub enable: Vec<String>,
    /// Attachments whose VPC the arrival table already reaches, or whose propagation into it is
    /// already on.
    pub present: usize,
    /// Attachments whose propagation EC2 is still enabling: the table may not show their routes
    /// yet.
    pub enabling: usize,
    /// Attachments that need a propagation but are not `available` yet (EC2 refuses to enable
    /// one for them); a later run enables it.
    pub not_ready: Vec<String>,
}

/// For each tagged VPC with a live attachment: nothing to do when its propagation into the
/// arrival table is already on, or when every CIDR of the VPC the transit gateway forwards (IPv6
/// only with `Ipv6Support`) is routed to its attachment there by the route EC2 would choose;
/// otherwise enable its propagation. A propagated route does not displace a static route of
/// the same prefix, so a static route elsewhere stays a conflict the reachability report names.
pub fn plan_return(
    arrival_routes: &[Route],
    propagations: &BTreeMap<String, PropagationState>,
    tagged: &[Vpc],
    (attachments, not_ready): (&BTreeMap<String, VpcAttachment>, &BTreeSet<String>),
) -> ReturnPlan {
    let mut plan = ReturnPlan::default();
    for vpc in tagged {
        let Some(attachment) = attachments.get(&vpc.id) else {
            continue;
        };
        match propagations.get(&attachment.id) {
            Some(PropagationState::Enabling) => {
                plan.enabling += 1;
                plan.present += 1;
                continue;
            }
            Some(state) if state.is_on() => {
                plan.present += 1;
                continue;
            }
            _ => {}
        }
        let forwarded = vpc
            .cidrs
            .iter()
            .filter(|cidr| matches!(cidr, IpNet::V4(_)) || attachment.ipv6_support);
        let reached = forwarded.clone().all(|cidr| {
            best_match(arrival_routes, *cidr).is_some_and(|route| route.sends_to(&attachment.id))
        });
        if reached {
            plan.present += 1;
        } else if not_ready.contains(&attachment.id) {
            plan.not_ready.push(attachment.id.clone());
        } else {
            plan.enable.push(attachment.id.clone());
        }
    }
    plan.enable.sort();
    plan.enable.dedup();
    plan
}

/// One side's return path as the report shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnPropagation {
    /// The table traffic arriving over the peering is looked up in on this side.
    pub route_table_id: String,
    /// Attachments whose propagation into it this execution enabled (in a dry run: would
    /// enable); at most [`MAX_LISTED`].
    pub enabled: Vec<String>,
    pub counts: ReturnCounts,
}

/// Exact sizes, where the lists are cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnCounts {
    /// Propagations this execution enabled (in a dry run: would enable).
    pub enabled: usize,
    /// Tagged VPCs the table already reached when this pass read it, or whose propagation was
    /// already on.
    pub present: usize,
}

impl ReturnPropagation {
    /// This pass's report, on top of an earlier pass's of the same execution: what earlier passes
    /// enabled stays listed.
    pub fn after_pass(
        route_table_id: &str,
        earlier: Option<&ReturnPropagation>,
        enabled_now: &[String],
        present: usize,
    ) -> Self {
        let earlier = earlier.filter(|e| e.route_table_id == route_table_id);
        let mut enabled: Vec<String> = earlier.map(|e| e.enabled.clone()).unwrap_or_default();
        enabled.extend(enabled_now.iter().cloned());
        enabled.sort();
        enabled.dedup();
        let earlier_count = earlier.map_or(0, |e| e.counts.enabled);
        // What an earlier pass enabled is now read as present; it is counted as enabled only.
        let count = earlier_count + enabled_now.len();
        enabled.truncate(MAX_LISTED);
        Self {
            route_table_id: route_table_id.to_owned(),
            enabled,
            counts: ReturnCounts {
                enabled: count,
                present: present.saturating_sub(earlier_count),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::routing::Origin;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    fn vpc(id: &str, cidrs: &[&str]) -> Vpc {
        Vpc {
            id: id.into(),
            cidrs: cidrs.iter().map(|c| net(c)).collect(),
            tags: vec![],
        }
    }

    fn attached(vpcs: &[(&str, &str, bool)]) -> BTreeMap<String, VpcAttachment> {
        vpcs.iter()
            .map(|(vpc_id, attachment_id, ipv6)| {
                (
                    (*vpc_id).to_owned(),
                    VpcAttachment {
                        id: (*attachment_id).into(),
                        vpc_id: (*vpc_id).into(),
                        subnet_ids: vec![],
                        ipv6_support: *ipv6,
                    },
                )
            })
            .collect()
    }

    fn propagated(cidr: &str, attachment: &str) -> Route {
        Route {
            origin: Origin::Propagated {
                resource_type: "vpc".into(),
            },
            ..Route::to(net(cidr), attachment)
        }
    }

    #[test]
    fn given_an_arrival_table_without_the_vpcs_routes_then_their_attachments_are_enabled() {
        let tagged = [vpc("vpc-a", &["10.1.0.0/16"]), vpc("vpc-b", &["10.2.0.0/16"])];
        let attachments = attached(&[("vpc-a", "tgw-attach-a", false), ("vpc-b", "tgw-attach-b", false)]);
        let routes = [Route::to(net("10.1.0.0/16"), "tgw-attach-a")];
        let plan = plan_return(
            &routes,
            &BTreeMap::new(),
            &tagged,
            (&attachments, &BTreeSet::new()),
        );
        assert_eq!(plan.enable, ["tgw-attach-b"]);
        assert_eq!(plan.present, 1);
    }

    #[test]
    fn given_a_propagation_already_on_then_nothing_is_enabled_whatever_the_routes_say() {
        let tagged = [vpc("vpc-a", &["10.1.0.0/16"]), vpc("vpc-b", &["10.2.0.0/16"])];
        let attachments = attached(&[("vpc-a", "tgw-attach-a", false), ("vpc-b", "tgw-attach-b", false)]);
        let propagations = BTreeMap::from([
            ("tgw-attach-a".to_owned(), PropagationState::Enabled),
            ("tgw-attach-b".to_owned(), PropagationState::Enabling),
        ]);
        let plan = plan_return(&[], &propagations, &tagged, (&attachments, &BTreeSet::new()));
        assert_eq!(plan.enable, Vec::<String>::new());
        assert_eq!((plan.present, plan.enabling), (2, 1));
    }

    #[test]
    fn given_a_disabled_propagation_or_a_route_elsewhere_then_it_is_enabled() {
        let tagged = [vpc("vpc-a", &["10.1.0.0/16"]), vpc("vpc-b", &["10.2.0.0/16"])];
        let attachments = attached(&[("vpc-a", "tgw-attach-a", false), ("vpc-b", "tgw-attach-b", false)]);
        let propagations = BTreeMap::from([("tgw-attach-a".to_owned(), PropagationState::Disabled)]);
        let routes = [Route::to(net("10.0.0.0/8"), "tgw-attach-vpn")];
        let plan = plan_return(&routes, &propagations, &tagged, (&attachments, &BTreeSet::new()));
        assert_eq!(plan.enable, ["tgw-attach-a", "tgw-attach-b"]);
    }

    #[test]
    fn given_a_dual_stack_vpc_then_its_ipv6_block_counts_only_where_the_attachment_forwards_ipv6() {
        let tagged = [vpc("vpc-a", &["10.1.0.0/16", "2600:1f18::/56"])];
        let routes = [propagated("10.1.0.0/16", "tgw-attach-a")];
        let without_ipv6 = attached(&[("vpc-a", "tgw-attach-a", false)]);
        assert!(plan_return(
            &routes,
            &BTreeMap::new(),
            &tagged,
            (&without_ipv6, &BTreeSet::new())
        )
        .enable
        .is_empty());
        let with_ipv6 = attached(&[("vpc-a", "tgw-attach-a", true)]);
        assert_eq!(
            plan_return(&routes, &BTreeMap::new(), &tagged, (&with_ipv6, &BTreeSet::new())).enable,
            ["tgw-attach-a"]
        );
    }

    #[test]
    fn given_an_attachment_that_is_not_available_yet_then_it_waits_instead_of_being_enabled() {
        let tagged = [vpc("vpc-a", &["10.1.0.0/16"]), vpc("vpc-b", &["10.2.0.0/16"])];
        let attachments = attached(&[("vpc-a", "tgw-attach-a", false), ("vpc-b", "tgw-attach-b", false)]);
        let pending = BTreeSet::from(["tgw-attach-b".to_owned()]);
        let plan = plan_return(&[], &BTreeMap::new(), &tagged, (&attachments, &pending));
        assert_eq!(plan.enable, ["tgw-attach-a"]);
        assert_eq!(plan.not_ready, ["tgw-attach-b"]);
    }

    #[test]
    fn given_a_tagged_vpc_without_an_attachment_then_there_is_nothing_to_propagate() {
        let tagged = [vpc("vpc-a", &["10.1.0.0/16"])];
        let plan = plan_return(
            &[],
            &BTreeMap::new(),
            &tagged,
            (&BTreeMap::new(), &BTreeSet::new()),
        );
        assert_eq!(plan, ReturnPlan::default());
    }

    #[test]
    fn the_return_table_is_the_peerings_own_and_none_while_the_peering_is_left_elsewhere() {
        let at = |table: &str, state| Association {
            route_table_id: table.into(),
            state,
        };
        assert_eq!(return_table(None, "tgw-rtb-p", false), Some("tgw-rtb-p"));
        let there = at("tgw-rtb-p", AssociationState::Associating);
        assert_eq!(return_table(Some(&there), "tgw-rtb-p", false), Some("tgw-rtb-p"));
        let elsewhere = at("tgw-rtb-x", AssociationState::Associated);
        assert_eq!(return_table(Some(&elsewhere), "tgw-rtb-p", false), None);
        assert_eq!(
            return_table(Some(&elsewhere), "tgw-rtb-p", true),
            Some("tgw-rtb-p")
        );
        let leaving = at("tgw-rtb-x", AssociationState::Disassociating);
        assert_eq!(
            return_table(Some(&leaving), "tgw-rtb-p", false),
            Some("tgw-rtb-p")
        );
    }

    #[test]
    fn a_later_pass_keeps_what_earlier_passes_enabled_and_counts_it_once() {
        let first = ReturnPropagation::after_pass("tgw-rtb-p", None, &["tgw-attach-b".into()], 1);
        assert_eq!(
            first.counts,
            ReturnCounts {
                enabled: 1,
                present: 1
            }
        );
        // The next pass reads b's propagation as on: present, but this execution enabled it.
        let second = ReturnPropagation::after_pass("tgw-rtb-p", Some(&first), &[], 2);
        assert_eq!(second.enabled, ["tgw-attach-b"]);
        assert_eq!(
            second.counts,
            ReturnCounts {
                enabled: 1,
                present: 1
            }
        );
    }
}
