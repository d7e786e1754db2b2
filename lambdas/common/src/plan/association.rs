//! The peering attachment's route table association on each side. A transit gateway looks up
//! traffic arriving from an attachment in the one route table associated with that attachment
//! ("How transit gateways work", Transit Gateway guide); a peering attachment associated with no
//! table drops everything that arrives over it. Pure: what to do, given what EC2 says.

use serde::{Deserialize, Serialize};

/// An attachment's association with a route table, as EC2 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Association {
    pub route_table_id: String,
    pub state: AssociationState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AssociationState {
    Associating,
    Associated,
    Disassociating,
    Disassociated,
}

impl AssociationState {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "associating" => Some(Self::Associating),
            "associated" => Some(Self::Associated),
            "disassociating" => Some(Self::Disassociating),
            "disassociated" => Some(Self::Disassociated),
            _ => None,
        }
    }
}

impl Association {
    /// The table that looks up the attachment's traffic now; `None` while it has none or the
    /// association is still being made or removed.
    pub fn live_table(association: Option<&Association>) -> Option<&str> {
        association
            .filter(|a| a.state == AssociationState::Associated)
            .map(|a| a.route_table_id.as_str())
    }
}

/// What one side's peering association needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssociationStep {
    /// Associated with the wanted table.
    Done,
    /// Not associated: associate it with the wanted table.
    Associate,
    /// EC2 is still associating or disassociating it: call again after a wait.
    Wait,
    /// Associated with another table, and moving it was not asked for: left alone.
    Elsewhere { route_table_id: String },
    /// Associated with another table, and the request allows a move: disassociate first (a
    /// later pass associates it with the wanted table).
    Disassociate { route_table_id: String },
}

/// Decides one side's step. A move is never made silently: it interrupts traffic arriving over
/// the peering between the disassociation and the new association.
pub fn plan_association(current: Option<&Association>, wanted: &str, move_allowed: bool) -> AssociationStep {
    match current {
        None => AssociationStep::Associate,
        Some(a) if a.state == AssociationState::Disassociated => AssociationStep::Associate,
        Some(a) if matches!(a.state, AssociationState::Disassociating) => AssociationStep::Wait,
        Some(a) if a.route_table_id == wanted => match a.state {
            AssociationState::Associated => AssociationStep::Done,
            _ => AssociationStep::Wait,
        },
        Some(a) if move_allowed && a.state == AssociationState::Associated => AssociationStep::Disassociate {
            route_table_id: a.route_table_id.clone(),
        },
        Some(a) if a.state == AssociationState::Associating => AssociationStep::Wait,
        Some(a) => AssociationStep::Elsewhere {
            route_table_id: a.route_table_id.clone(),
        },
    }
}

/// One side's peering association as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SideAssociation {
    /// The table the peering attachment should be associated with on this side.
    pub route_table_id: String,
    /// The table it is associated with now, as this pass left it (`null` for none).
    pub associated_route_table_id: Option<String>,
    pub outcome: AssociationOutcome,
    /// With `returnPropagation`: the table arriving traffic is looked up in, and the
    /// propagations into it this execution enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_propagation: Option<crate::plan::propagation::ReturnPropagation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AssociationOutcome {
    /// It was already associated with the wanted table.
    Present,
    /// This pass associated it (EC2 may still say `associating`).
    Associated,
    /// EC2 is still associating or disassociating it; the state machine waits and calls again.
    InProgress,
    /// Associated with another table and left there (`movePeeringAssociation` moves it).
    Elsewhere,
    /// This pass disassociated it from another table, to associate it with the wanted one next.
    Disassociated,
    /// A dry run: a real run would associate it.
    WouldAssociate,
    /// A dry run: a real run would move it from another table.
    WouldMove,
    /// A dry run with no peering yet: it is associated once it exists.
    NoPeeringYet,
}

/// Both sides' peering associations, and whether the state machine must wait and call again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociationReport {
    pub active: SideAssociation,
    pub passive: SideAssociation,
    /// False while an association on either side is being made or removed, or (with
    /// `returnPropagation`) while a propagation into the peering's table is being enabled.
    pub settled: bool,
}

impl AssociationOutcome {
    pub fn settled(self) -> bool {
        !matches!(self, Self::Associated | Self::InProgress | Self::Disassociated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(table: &str, state: AssociationState) -> Association {
        Association {
            route_table_id: table.into(),
            state,
        }
    }

    #[test]
    fn given_no_association_then_it_is_associated_with_the_wanted_table() {
        assert_eq!(
            plan_association(None, "tgw-rtb-1", false),
            AssociationStep::Associate
        );
        let gone = at("tgw-rtb-9", AssociationState::Disassociated);
        assert_eq!(
            plan_association(Some(&gone), "tgw-rtb-1", false),
            AssociationStep::Associate
        );
    }

    #[test]
    fn given_the_wanted_association_then_nothing_is_done_once_it_is_live() {
        let live = at("tgw-rtb-1", AssociationState::Associated);
        assert_eq!(
            plan_association(Some(&live), "tgw-rtb-1", true),
            AssociationStep::Done
        );
        let making = at("tgw-rtb-1", AssociationState::Associating);
        assert_eq!(
            plan_association(Some(&making), "tgw-rtb-1", false),
            AssociationStep::Wait
        );
    }

    #[test]
    fn given_another_table_then_it_is_left_alone_unless_a_move_is_asked_for() {
        let other = at("tgw-rtb-9", AssociationState::Associated);
        assert_eq!(
            plan_association(Some(&other), "tgw-rtb-1", false),
            AssociationStep::Elsewhere {
                route_table_id: "tgw-rtb-9".into()
            }
        );
        assert_eq!(
            plan_association(Some(&other), "tgw-rtb-1", true),
            AssociationStep::Disassociate {
                route_table_id: "tgw-rtb-9".into()
            }
        );
        let leaving = at("tgw-rtb-9", AssociationState::Disassociating);
        assert_eq!(
            plan_association(Some(&leaving), "tgw-rtb-1", true),
            AssociationStep::Wait
        );
    }

    #[test]
    fn only_a_live_association_counts_as_a_table_that_looks_up_traffic() {
        let making = at("tgw-rtb-1", AssociationState::Associating);
        assert_eq!(Association::live_table(Some(&making)), None);
        let live = at("tgw-rtb-1", AssociationState::Associated);
        assert_eq!(Association::live_table(Some(&live)), Some("tgw-rtb-1"));
    }
}
