//! What each function does, as a short sequence of named steps over the [`PeeringState`]: read
//! (through [`crate::aws`]), decide (through [`crate::plan`]), write, report. The teardown
//! dispatch is here, in one place.

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

/// The `peer` function. In a teardown whose routes are already removed (the state carries
/// `modify-routes`' teardown report), it deletes the attachment; otherwise it creates, reuses
/// or accepts the peering.
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
