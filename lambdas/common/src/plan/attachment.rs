//! Transit gateway attachment states and what each means for the peering workflow.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// The requester side is starting the request (documented, rarely seen).
    Initiating,
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

/// What an attachment's state means for the workflow: the one classification of every state,
/// which `get-status` reports as `phase` and the state machine branches on (it names no EC2 state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Still being set up or changed by AWS; poll again later.
    Waiting,
    /// The accepter side must accept it now.
    Acceptable,
    /// Available: routes can be added.
    Ready,
    /// It will never become available (rejected or failed).
    Failed,
    /// It is being deleted.
    Deleting,
    /// It no longer exists (deleted, or absent).
    Gone,
    /// A state this version does not know.
    Unknown,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Waiting,
        Phase::Acceptable,
        Phase::Ready,
        Phase::Failed,
        Phase::Deleting,
        Phase::Gone,
        Phase::Unknown,
    ];

    /// The phase of a `status` as the state carries it: an EC2 state, or `absent`.
    pub fn of_status(status: &str) -> Self {
        if status == ABSENT {
            Phase::Gone
        } else {
            AttachmentState::parse(status).phase()
        }
    }

    /// The name the state machine's Choice states compare.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Waiting => "waiting",
            Phase::Acceptable => "acceptable",
            Phase::Ready => "ready",
            Phase::Failed => "failed",
            Phase::Deleting => "deleting",
            Phase::Gone => "gone",
            Phase::Unknown => "unknown",
        }
    }
}

/// The `status` of a peering that does not exist (a dry run's, or a teardown's).
pub const ABSENT: &str = "absent";

impl AttachmentState {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "initiating" => Self::Initiating,
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
            Self::Initiating => "initiating",
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

    /// The one classification of every state. `modifying` and `rollingBack` wait: AWS does not
    /// say a peering takes new routes while a change is applied or undone (docs/aws-facts.md,
    /// `tgw-attachment-modifying-routes`), and a rollback ends back in a settled state, so the
    /// workflow polls until `available` (or a failure) instead of calling it failed or creating a
    /// second peering beside it.
    pub fn phase(&self) -> Phase {
        match self {
            Self::Initiating
            | Self::InitiatingRequest
            | Self::Pending
            | Self::Modifying
            | Self::RollingBack => Phase::Waiting,
            Self::PendingAcceptance => Phase::Acceptable,
            Self::Available => Phase::Ready,
            Self::Rejecting | Self::Rejected | Self::Failing | Self::Failed => Phase::Failed,
            Self::Deleting => Phase::Deleting,
            Self::Deleted => Phase::Gone,
            Self::Unknown(_) => Phase::Unknown,
        }
    }

    /// A live attachment is one that exists or will exist: reuse it rather than create another.
    pub fn is_live(&self) -> bool {
        matches!(self.phase(), Phase::Waiting | Phase::Acceptable | Phase::Ready)
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
    use aws_sdk_ec2::types::TransitGatewayAttachmentState;

    /// Every state the EC2 API model documents, as the SDK generated from it lists them.
    fn documented_states() -> &'static [&'static str] {
        TransitGatewayAttachmentState::values()
    }

    #[test]
    fn every_documented_ec2_state_is_known_and_classified() {
        for raw in documented_states() {
            let state = AttachmentState::parse(raw);
            assert!(
                !matches!(state, AttachmentState::Unknown(_)),
                "{raw} is documented but not known"
            );
            assert_ne!(state.phase(), Phase::Unknown, "{raw} is not classified");
            assert_eq!(state.as_str(), *raw);
        }
        assert_eq!(AttachmentState::parse("newState").as_str(), "newState");
        assert_eq!(AttachmentState::parse("newState").phase(), Phase::Unknown);
    }

    #[test]
    fn exactly_the_live_states_block_a_new_peering() {
        let mut live: Vec<&str> = documented_states()
            .iter()
            .copied()
            .filter(|raw| AttachmentState::parse(raw).is_live())
            .collect();
        live.sort_unstable();
        assert_eq!(
            live,
            [
                "available",
                "initiating",
                "initiatingRequest",
                "modifying",
                "pending",
                "pendingAcceptance",
                "rollingBack"
            ]
        );
    }

    #[test]
    fn each_documented_state_has_the_phase_the_workflow_expects() {
        let phase = |raw: &str| AttachmentState::parse(raw).phase();
        for raw in [
            "initiating",
            "initiatingRequest",
            "pending",
            "modifying",
            "rollingBack",
        ] {
            assert_eq!(phase(raw), Phase::Waiting, "{raw}");
        }
        assert_eq!(phase("pendingAcceptance"), Phase::Acceptable);
        assert_eq!(phase("available"), Phase::Ready);
        for raw in ["rejecting", "rejected", "failing", "failed"] {
            assert_eq!(phase(raw), Phase::Failed, "{raw}");
        }
        assert_eq!(phase("deleting"), Phase::Deleting);
        assert_eq!(phase("deleted"), Phase::Gone);
        assert_eq!(Phase::of_status(ABSENT), Phase::Gone);
    }

    #[test]
    fn a_phase_is_written_as_the_state_machine_compares_it() {
        for phase in Phase::ALL {
            assert_eq!(
                serde_json::to_value(phase).unwrap(),
                serde_json::json!(phase.as_str())
            );
        }
    }

    const DEFINITION: &str = include_str!("../../../../statemachine/peering.asl.json");

    /// Every Choice rule of the definition (nested And/Or/Not and Map states included), with
    /// the state it belongs to and the rule's `Next` (`None` inside a compound rule).
    fn choice_rules(states: &serde_json::Value, found: &mut Vec<(String, serde_json::Value)>) {
        fn flatten(name: &str, rule: &serde_json::Value, found: &mut Vec<(String, serde_json::Value)>) {
            found.push((name.to_owned(), rule.clone()));
            for key in ["And", "Or"] {
                for inner in rule[key].as_array().into_iter().flatten() {
                    flatten(name, inner, found);
                }
            }
            if rule.get("Not").is_some() {
                flatten(name, &rule["Not"], found);
            }
        }
        for (name, state) in states.as_object().unwrap() {
            for rule in state["Choices"].as_array().into_iter().flatten() {
                flatten(name, rule, found);
            }
            for key in ["ItemProcessor", "Iterator"] {
                if let Some(inner) = state.get(key) {
                    choice_rules(&inner["States"], found);
                }
            }
        }
    }

    #[test]
    fn the_state_machine_branches_on_phase_only_and_names_no_ec2_state() {
        let definition: serde_json::Value = serde_json::from_str(DEFINITION).unwrap();
        let mut rules = Vec::new();
        choice_rules(&definition["States"], &mut rules);
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
        let mut compared = 0;
        for (state, rule) in &rules {
            let variable = rule["Variable"].as_str().unwrap_or_default();
            assert!(
                !["$.peering.status", "$.peering.passiveStatus"].contains(&variable),
                "{state} branches on {variable}, an EC2 state name; branch on $.peering.phase"
            );
            if variable == "$.peering.phase" {
                let value = rule["StringEquals"]
                    .as_str()
                    .expect("phase is compared with StringEquals");
                assert!(
                    names.contains(&value),
                    "{state} compares phase with {value}, not a phase"
                );
                compared += 1;
            }
        }
        assert!(compared > 0, "the definition branches on phase somewhere");
    }

    #[test]
    fn route_on_status_sends_each_phase_where_the_workflow_expects() {
        let definition: serde_json::Value = serde_json::from_str(DEFINITION).unwrap();
        let state = &definition["States"]["RouteOnStatus"];
        let next_of = |phase: Phase| -> String {
            for rule in state["Choices"].as_array().unwrap() {
                let alternatives = rule["Or"]
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![rule.clone()]);
                if alternatives
                    .iter()
                    .any(|alt| alt["Variable"] == "$.peering.phase" && alt["StringEquals"] == phase.as_str())
                {
                    return rule["Next"].as_str().unwrap().to_owned();
                }
            }
            state["Default"].as_str().unwrap().to_owned()
        };
        let expected = [
            (Phase::Ready, "LockNeeded"),
            (Phase::Acceptable, "Accept"),
            (Phase::Waiting, "Wait"),
            (Phase::Failed, "PeeringFailed"),
            (Phase::Deleting, "PeeringFailed"),
            (Phase::Gone, "PeeringFailed"),
            (Phase::Unknown, "UnexpectedState"),
        ];
        assert_eq!(expected.len(), Phase::ALL.len());
        for (phase, next) in expected {
            assert_eq!(next_of(phase), next, "{phase:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_state_string_is_reported_exactly_as_ec2_spelt_it(raw in "\\PC{0,20}") {
            let state = AttachmentState::parse(&raw);
            proptest::prop_assert_eq!(state.as_str(), raw.as_str());
        }
    }
}
