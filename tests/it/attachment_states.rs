//! Every attachment state the EC2 API model documents has one classification (`phase`), and the
//! count goes into docs/reliability.md's "Stricter than AWS" section.

use aws_sdk_ec2::types::TransitGatewayAttachmentState;
use tgw_peering::plan::attachment::{AttachmentState, Phase};
use tgw_peering_integration::record_check;

#[test]
fn every_documented_attachment_state_has_a_phase_the_state_machine_branches_on() {
    // Given every state the SDK, generated from the EC2 API model, lists
    let documented = TransitGatewayAttachmentState::values();
    // When each is classified
    let unclassified: Vec<&str> = documented
        .iter()
        .copied()
        .filter(|raw| AttachmentState::parse(raw).phase() == Phase::Unknown)
        .collect();
    // Then none is left to the state machine's UnexpectedState
    assert!(unclassified.is_empty(), "unclassified: {unclassified:?}");
    assert!(documented.len() >= 13);
    record_check(
        "States: attachment states classified",
        documented.len(),
        "of the EC2 API model's transit gateway attachment states, each with one phase (none unknown)",
    );
}
