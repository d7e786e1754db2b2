//! What each function does, as a short sequence of named steps over the [`PeeringState`]: read
//! (through [`crate::aws`]), decide (through [`crate::plan`]), write, report. The teardown
//! dispatch is here, in one place.

pub mod mesh;
pub mod peer;
pub mod routes;
pub mod status;
pub mod teardown;

use serde_json::Value;

use crate::aws::Shell;
use crate::contract::request::{parse_request, Action};
use crate::contract::state::PeeringState;
use crate::error::Result;
use routes::Budget;

/// What `peer` returns: a pair's state, or one of a mesh's steps.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum PeerOutput {
    Pair(Box<PeeringState>),
    Mesh(Value),
}

/// The `peer` function. A mesh request (`mesh`) is checked whole and split into its pairs (and
/// the state machine's later mesh steps come here too). In a teardown whose routes are already
/// removed (the state carries `modify-routes`' teardown report), it deletes the attachment;
/// otherwise it creates, reuses or accepts the peering.
pub async fn peer_or_mesh(shell: &Shell, input: &Value) -> Result<PeerOutput> {
    if mesh::is_mesh(input) {
        return mesh::mesh_step(shell, input).await.map(PeerOutput::Mesh);
    }
    peer(shell, input)
        .await
        .map(|state| PeerOutput::Pair(Box::new(state)))
}

/// `peer` for one pair.
pub async fn peer(shell: &Shell, input: &Value) -> Result<PeeringState> {
    let parsed = parse_request(input)?;
    if parsed.state.action == Some(Action::Teardown) && parsed.state.teardown.is_some() {
        return teardown::delete_peering(shell, parsed.state).await;
    }
    peer::peer(shell, parsed).await
}

/// The `get-status` function.
pub async fn get_status(shell: &Shell, input: &Value) -> Result<PeeringState> {
    status::get_status(shell, PeeringState::decode_input(input)?).await
}

/// The `modify-routes` function: the routes of a setup, or their removal in a teardown.
pub async fn modify_routes(shell: &Shell, input: &Value, budget: Budget) -> Result<PeeringState> {
    let state = PeeringState::decode_input(input)?;
    if state.action == Some(Action::Teardown) {
        return teardown::remove_routes(shell, state, budget).await;
    }
    routes::modify_routes(shell, state, budget).await
}
