//! The return path (`returnPropagation`). Traffic arriving over the peering is looked up in the
//! route table associated with the peering attachment on the receiving side ("How transit
//! gateways work", Transit Gateway guide), so that table must send each tagged VPC's CIDRs to
//! the VPC's attachment. Where it does not, the tool may enable propagation of that attachment
//! into the table: the table then learns the VPC's CIDRs as propagated routes. Each propagation
//! enabled is recorded (see [`crate::plan::record`]), so teardown disables exactly those.
//! Pure: what to enable, given the table and its propagations as read; and what the record of
//! the enabled propagations must say before and after the enables ([`plan_record`],
//! [`record_after_enables`]).

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

/// The record of one table's enabled propagations, reconciled with the propagations as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordPlan {
    /// The record to hold before the first enable: every recorded attachment whose propagation
    /// is on (the tool enabled it: never forgotten), plus every attachment this pass enables
    /// (recorded first, so a crash right after an enable still leaves it known).
    pub intent: BTreeSet<String>,
    /// Recorded attachments whose propagation is not on and that this pass does not enable: left
    /// by an enable that failed, or by a crash between the record and the enable. Dropped, so
    /// teardown never disables a propagation someone else enables later.
    pub dropped: Vec<String>,
}

/// Which recorded attachments are true (their propagation is on, or this pass enables it now)
/// and which are false, and the record this pass writes before enabling `enable`.
pub fn plan_record(
    recorded: &BTreeSet<String>,
    propagations: &BTreeMap<String, PropagationState>,
    enable: &[String],
) -> RecordPlan {
    let on = |id: &String| propagations.get(id).is_some_and(|state| state.is_on());
    let (kept, dropped): (BTreeSet<String>, BTreeSet<String>) = recorded
        .iter()
        .cloned()
        .partition(|id| on(id) || enable.contains(id));
    let mut intent = kept;
    intent.extend(enable.iter().cloned());
    RecordPlan {
        intent,
        dropped: dropped.into_iter().collect(),
    }
}

/// How one `EnableTransitGatewayRouteTablePropagation` call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableOutcome {
    /// Enabled (or found already on).
    Enabled,
    /// EC2 refused it: nothing was changed.
    Refused,
    /// No answer, or a server error: it may have been made.
    Unknown,
}

/// The record once the enables of a pass that failed have ended: `intent` without the
/// attachments of `enable` that EC2 refused or that were never tried (their propagation is not
/// on, so the entry would be false). An enable whose outcome is unknown keeps its entry: it may
/// have been made, and a record must never forget one; the next pass's [`plan_record`] drops it
/// if its propagation turns out to be off and no longer wanted.
pub fn record_after_enables(
    intent: &BTreeSet<String>,
    enable: &[String],
    outcomes: &BTreeMap<String, EnableOutcome>,
) -> BTreeSet<String> {
    let not_made =
        |id: &String| enable.contains(id) && matches!(outcomes.get(id), None | Some(EnableOutcome::Refused));
    intent.iter().filter(|id| !not_made(id)).cloned().collect()
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
    use proptest::prelude::*;

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

    fn ids(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|id| (*id).to_owned()).collect()
    }

    fn owned(items: &[&str]) -> Vec<String> {
        items.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn given_a_recorded_propagation_that_is_off_and_not_wanted_then_it_is_dropped_from_the_record() {
        // a: enabled by an earlier pass; b: its enable failed; c: recorded, then a crash before
        // its enable, and still wanted; d: wanted, not recorded yet.
        let recorded = ids(&["tgw-attach-a", "tgw-attach-b", "tgw-attach-c"]);
        let propagations = BTreeMap::from([("tgw-attach-a".to_owned(), PropagationState::Enabled)]);
        let plan = plan_record(
            &recorded,
            &propagations,
            &owned(&["tgw-attach-c", "tgw-attach-d"]),
        );
        assert_eq!(
            plan.intent,
            ids(&["tgw-attach-a", "tgw-attach-c", "tgw-attach-d"])
        );
        assert_eq!(plan.dropped, ["tgw-attach-b"]);
    }

    #[test]
    fn given_an_enable_refused_halfway_then_the_record_keeps_what_was_made_or_may_have_been() {
        let intent = ids(&["tgw-attach-a", "tgw-attach-b", "tgw-attach-c", "tgw-attach-d"]);
        let enable = owned(&["tgw-attach-b", "tgw-attach-c", "tgw-attach-d"]);
        let outcomes = BTreeMap::from([
            ("tgw-attach-b".to_owned(), EnableOutcome::Enabled),
            ("tgw-attach-c".to_owned(), EnableOutcome::Refused),
        ]);
        assert_eq!(
            record_after_enables(&intent, &enable, &outcomes),
            ids(&["tgw-attach-a", "tgw-attach-b"]),
            "c was refused and d never tried: neither is on"
        );
        let unknown = BTreeMap::from([("tgw-attach-b".to_owned(), EnableOutcome::Unknown)]);
        assert_eq!(
            record_after_enables(&intent, &enable, &unknown),
            ids(&["tgw-attach-a", "tgw-attach-b"]),
            "b may have been made: kept for the next pass to check"
        );
    }

    const IDS: [&str; 5] = [
        "tgw-attach-a",
        "tgw-attach-b",
        "tgw-attach-c",
        "tgw-attach-d",
        "tgw-attach-e",
    ];

    fn state_of(code: u8) -> Option<PropagationState> {
        match code {
            1 => Some(PropagationState::Enabling),
            2 => Some(PropagationState::Enabled),
            3 => Some(PropagationState::Disabling),
            4 => Some(PropagationState::Disabled),
            _ => None,
        }
    }

    fn outcome_of(code: u8) -> EnableOutcome {
        match code {
            0 => EnableOutcome::Enabled,
            1 => EnableOutcome::Refused,
            _ => EnableOutcome::Unknown,
        }
    }

    /// One id's situation: recorded or not, its propagation as read, wanted or not, how its
    /// enable would end, and (for an unknown outcome) whether EC2 made it.
    fn situation() -> impl Strategy<Value = (bool, u8, bool, u8, bool)> {
        (any::<bool>(), 0u8..5, any::<bool>(), 0u8..3, any::<bool>())
    }

    proptest! {
        #[test]
        fn the_record_never_forgets_a_made_propagation_and_names_none_that_is_off(
            world in proptest::collection::vec(situation(), IDS.len()),
        ) {
            // Given any record, any propagations as read, and what plan_return wants enabled
            // (only attachments whose propagation is not on).
            let recorded: BTreeSet<String> =
                IDS.iter().zip(&world).filter(|(_, w)| w.0).map(|(id, _)| (*id).to_owned()).collect();
            let propagations: BTreeMap<String, PropagationState> = IDS
                .iter()
                .zip(&world)
                .filter_map(|(id, w)| Some(((*id).to_owned(), state_of(w.1)?)))
                .collect();
            let is_on = |id: &String| propagations.get(id).is_some_and(|s| s.is_on());
            let enable: Vec<String> = IDS
                .iter()
                .zip(&world)
                .filter(|(id, w)| w.2 && !is_on(&(**id).to_owned()))
                .map(|(id, _)| (*id).to_owned())
                .collect();

            // When the pass plans its record.
            let plan = plan_record(&recorded, &propagations, &enable);

            // Then every recorded propagation that is on stays recorded, every enable is
            // recorded before it is made, and every entry is on or about to be.
            for id in &recorded {
                prop_assert!(plan.intent.contains(id) != plan.dropped.contains(id));
            }
            prop_assert!(recorded.iter().filter(|id| is_on(id)).all(|id| plan.intent.contains(id)));
            prop_assert!(enable.iter().all(|id| plan.intent.contains(id)));
            prop_assert!(plan.intent.iter().all(|id| is_on(id) || enable.contains(id)));
            prop_assert!(plan.intent.iter().all(|id| recorded.contains(id) || enable.contains(id)));

            // When the enables run in order and halt at the first that does not succeed.
            let mut outcomes = BTreeMap::new();
            let mut made: BTreeSet<String> = propagations
                .keys()
                .filter(|id| is_on(id))
                .cloned()
                .collect();
            for id in &enable {
                let w = world[IDS.iter().position(|i| i == id).unwrap()];
                let outcome = outcome_of(w.3);
                outcomes.insert(id.clone(), outcome);
                if outcome == EnableOutcome::Enabled || (outcome == EnableOutcome::Unknown && w.4) {
                    made.insert(id.clone());
                }
                if outcome != EnableOutcome::Enabled {
                    break;
                }
            }
            let failed = outcomes.values().any(|o| *o != EnableOutcome::Enabled);
            let after = if failed {
                record_after_enables(&plan.intent, &enable, &outcomes)
            } else {
                plan.intent.clone()
            };

            // Then every propagation the tool made is recorded, and an entry that is off is one
            // whose outcome nobody knows.
            prop_assert!(made.iter().filter(|id| enable.contains(id) || recorded.contains(*id))
                .all(|id| after.contains(id)));
            prop_assert!(after.iter().all(|id| made.contains(id)
                || outcomes.get(id) == Some(&EnableOutcome::Unknown)));

            // And the next pass, wanting nothing more, leaves a record of exactly what is on.
            let now: BTreeMap<String, PropagationState> =
                made.iter().map(|id| (id.clone(), PropagationState::Enabled)).collect();
            let next = plan_record(&after, &now, &[]);
            prop_assert!(next.intent.iter().all(|id| made.contains(id)));
            prop_assert!(after.iter().filter(|id| made.contains(*id)).all(|id| next.intent.contains(id)));
        }
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
