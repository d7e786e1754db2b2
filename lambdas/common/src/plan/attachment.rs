//! Transit gateway attachment states and what each means for the peering workflow.

use std::fmt;

/// The `State` of a transit gateway attachment, as EC2 reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttachmentState {
    /// The requester side is setting the peering up; the accepter cannot see it yet.
    InitiatingRequest,
    /// Waiting for the accepter side to accept.
    PendingAcceptance,
    /// Accepted; EC2 is provisioning the peering.
    Pending,
    /// Ready to carry traffic.
    Available,
    /// A change to the attachment is being applied; it still carries traffic.
    Modifying,
    /// The accepter is rejecting the request.
    Rejecting,
    /// The accepter rejected the request.
    Rejected,
    /// Provisioning is failing.
    Failing,
    /// Provisioning failed.
    Failed,
    /// The attachment is being deleted.
    Deleting,
    /// The attachment was deleted.
    Deleted,
    /// A failed change is being rolled back.
    RollingBack,
    /// A state this version does not know; kept verbatim.
    Unknown(String),
}

/// What the workflow should do next for an attachment in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Still being set up by AWS; poll again later.
    InProgress,
    /// The accepter side must accept it now.
    NeedsAcceptance,
    /// Available (or being modified while available): routes can be added.
    Ready,
    /// It will never become available.
    Dead,
}

impl AttachmentState {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "initiatingRequest" => Self::InitiatingRequest,
            "pendingAcceptance" => Self::PendingAcceptance,
            "pending" => Self::Pending,
            "available" => Self::Available,
            "modifying" => Self::Modifying,
            "rejecting" => Self::Rejecting,
            "rejected" => Self::Rejected,
            "failing" => Self::Failing,
            "failed" => Self::Failed,
            "deleting" => Self::Deleting,
            "deleted" => Self::Deleted,
            "rollingBack" => Self::RollingBack,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The state exactly as EC2 spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InitiatingRequest => "initiatingRequest",
            Self::PendingAcceptance => "pendingAcceptance",
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Modifying => "modifying",
            Self::Rejecting => "rejecting",
            Self::Rejected => "rejected",
            Self::Failing => "failing",
            Self::Failed => "failed",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::RollingBack => "rollingBack",
            Self::Unknown(raw) => raw,
        }
    }

    pub fn phase(&self) -> Phase {
        match self {
            Self::InitiatingRequest | Self::Pending => Phase::InProgress,
            Self::PendingAcceptance => Phase::NeedsAcceptance,
            Self::Available | Self::Modifying => Phase::Ready,
            Self::Rejecting
            | Self::Rejected
            | Self::Failing
            | Self::Failed
            | Self::Deleting
            | Self::Deleted
            | Self::RollingBack
            | Self::Unknown(_) => Phase::Dead,
        }
    }

    /// A live attachment is one that exists or will exist: reuse it rather than create another.
    pub fn is_live(&self) -> bool {
        self.phase() != Phase::Dead
    }
}

impl fmt::Display for AttachmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [&str; 12] = [
        "initiatingRequest",
        "pendingAcceptance",
        "pending",
        "available",
        "modifying",
        "rejecting",
        "rejected",
        "failing",
        "failed",
        "deleting",
        "deleted",
        "rollingBack",
    ];

    #[test]
    fn every_ec2_state_round_trips_verbatim() {
        for raw in ALL {
            let state = AttachmentState::parse(raw);
            assert!(!matches!(state, AttachmentState::Unknown(_)), "{raw}");
            assert_eq!(state.as_str(), raw);
        }
        assert_eq!(AttachmentState::parse("newState").as_str(), "newState");
    }

    #[test]
    fn exactly_the_live_states_block_a_new_peering() {
        let live: Vec<&str> = ALL
            .into_iter()
            .filter(|raw| AttachmentState::parse(raw).is_live())
            .collect();
        assert_eq!(
            live,
            [
                "initiatingRequest",
                "pendingAcceptance",
                "pending",
                "available",
                "modifying"
            ]
        );
    }

    #[test]
    fn rejected_failed_and_deleted_are_dead_so_they_never_block_a_new_peering() {
        for raw in ["rejected", "failed", "deleted", "rollingBack", "somethingNew"] {
            assert_eq!(AttachmentState::parse(raw).phase(), Phase::Dead, "{raw}");
        }
        assert_eq!(
            AttachmentState::parse("pendingAcceptance").phase(),
            Phase::NeedsAcceptance
        );
        assert_eq!(AttachmentState::parse("modifying").phase(), Phase::Ready);
    }

    proptest::proptest! {
        #[test]
        fn any_state_string_is_reported_exactly_as_ec2_spelt_it(raw in "\\PC{0,20}") {
            let state = AttachmentState::parse(&raw);
            proptest::prop_assert_eq!(state.as_str(), raw.as_str());
        }
    }
}
