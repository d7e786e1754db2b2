//! `get-status`: read-only. Reports the peering attachment's state, by its id, in both Regions.

use tracing::info;

use crate::aws::Shell;
use crate::contract::request::{Action, PeeringRef};
use crate::contract::state::PeeringState;
use crate::error::{Error, Result};
use crate::plan::attachment::AttachmentState;

pub async fn get_status(shell: &Shell, mut state: PeeringState) -> Result<PeeringState> {
    let PeeringRef { request, attachment } = PeeringRef::from_state(&state)?;
    let (active, passive) = shell.both_sides(&request).await?;
    let (active_view, passive_view) = tokio::join!(
        active.peering_attachment(&attachment.active),
        passive.peering_attachment(&attachment.passive),
    );
    let (active_view, passive_view) = (active_view?, passive_view?);
    let active_view = match active_view {
        Some(view) => view,
        // A teardown waits for the attachment to go; once EC2 forgets it, it is gone.
        None if request.action == Action::Teardown => {
            state.set_status(AttachmentState::Deleted.to_string());
            state.passive_status = Some(None);
            return Ok(state);
        }
        None => {
            return Err(Error::PeeringAttachmentNotFound {
                attachment_id: attachment.active,
                region: request.active_region,
            })
        }
    };
    active_view.check_joins(&request)?;
    // The accepter sees a new request only from pendingAcceptance on; until then it has no state.
    let passive_status = passive_view.map(|view| view.state.as_str().to_owned());
    info!(action = "GetStatus", region = %request.active_region, attachment_id = %attachment.active,
          status = %active_view.state, passive_status = passive_status.as_deref().unwrap_or("absent"), "peering status");
    state.set_status(active_view.state.as_str().to_owned());
    state.passive_status = Some(passive_status);
    Ok(state)
}
