//! `get-status`: read-only. Reports the peering attachment's state, by its id, in both Regions.

use serde_json::{json, Value};
use tracing::info;

use crate::context::Context;
use crate::ec2::Ec2;
use crate::error::{Error, Result};
use crate::peering::PeeringAttachment;
use crate::request::{parse_peering_ref, passive_attachment_id, Action, PeeringRef};

pub async fn get_status(context: &Context, input: &Value) -> Result<Value> {
    let peering = parse_peering_ref(input)?;
    let request = &peering.request;
    let active = Ec2::new(context.ec2(&request.active_region), &request.active_region);
    let passive = context
        .passive_ec2(
            &request.passive_region,
            request.passive.passive_role_arn.as_deref(),
        )
        .await?;
    let passive_id = passive_attachment_id(input, &peering.attachment_id)?;

    let (active_view, passive_view) = tokio::join!(
        active.peering_attachment(&peering.attachment_id),
        passive.peering_attachment(&passive_id),
    );
    let (active_view, passive_view) = (active_view?, passive_view?);
    let active_view = match active_view {
        Some(view) => view,
        // A teardown waits for the attachment to go; once EC2 forgets it, it is gone.
        None if request.action == Action::Teardown => {
            let mut output = input.clone();
            if let Some(object) = output.as_object_mut() {
                object.insert("status".to_owned(), json!("deleted"));
                object.insert("passiveStatus".to_owned(), Value::Null);
            }
            return Ok(output);
        }
        None => {
            return Err(Error::PeeringAttachmentNotFound {
                attachment_id: peering.attachment_id.clone(),
                region: request.active_region.clone(),
            })
        }
    };
    check_joins_requested_gateways(&peering, &active_view)?;

    let status = active_view.state.as_str();
    // The accepter sees a new request only from pendingAcceptance on; until then it has no state.
    let passive_status = passive_view.map(|view| view.state.as_str().to_owned());
    info!(action = "GetStatus", region = %request.active_region, attachment_id = %peering.attachment_id,
          status, passive_status = passive_status.as_deref().unwrap_or("absent"), "peering status");

    let mut output = input.clone();
    if let Some(object) = output.as_object_mut() {
        object.insert("status".to_owned(), json!(status));
        object.insert("passiveStatus".to_owned(), json!(passive_status));
    }
    Ok(output)
}

/// Refuses an attachment id that belongs to another peering: acting on it would report, or route
/// over, the wrong link.
pub(crate) fn check_joins_requested_gateways(
    peering: &PeeringRef,
    attachment: &PeeringAttachment,
) -> Result<()> {
    let request = &peering.request;
    let active = (
        request.active_transit_gateway_id.as_str(),
        request.active_region.as_str(),
    );
    let passive = (
        request.passive_transit_gateway_id.as_str(),
        request.passive_region.as_str(),
    );
    if attachment.connects(active, passive) {
        return Ok(());
    }
    Err(Error::invalid(
        "attachmentId",
        format!(
            "is {}, which joins {} ({}) and {} ({}), not the requested transit gateways; pass `peer`'s output unchanged",
            attachment.id,
            attachment.requester.transit_gateway_id,
            attachment.requester.region,
            attachment.accepter.transit_gateway_id,
            attachment.accepter.region
        ),
    ))
}
