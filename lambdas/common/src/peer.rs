//! `peer`: validate, resolve both transit gateways, reuse or create the peering, and accept it
//! once the accepter side shows pendingAcceptance.

use serde_json::Value;
use tracing::{info, warn};

use crate::context::Context;
use crate::ec2::{Ec2, TransitGateway};
use crate::error::{Error, Result};
use crate::peering::{creation_tags, deduplicate, select_existing, PeeringAttachment, TgwEnd};
use crate::request::{
    parse_request, parse_routes_input, Action, PeerOutput, PeerPlan, RequestSource, ResolvedRequest,
};
use crate::state::{AttachmentState, Phase};

/// The `peer` function: in a teardown whose routes are already removed (the input carries
/// `modify-routes`' `teardown` report), it deletes the attachment; otherwise [`peer`].
pub async fn handle(context: &Context, input: &Value) -> Result<Value> {
    if input.get("teardown").is_some() && input.get("action").and_then(Value::as_str) == Some("teardown") {
        return delete_after_routes(context, input).await;
    }
    let output = peer(context, input).await?;
    Ok(serde_json::to_value(output).expect("outputs are plain data and always serialise"))
}

async fn delete_after_routes(context: &Context, input: &Value) -> Result<Value> {
    let (request, attachment_id) = parse_routes_input(input)?;
    let active = Ec2::new(context.ec2(&request.active_region), &request.active_region);
    let attachment = match &attachment_id {
        Some(id) => active.peering_attachment(id).await?,
        None => None,
    };
    let (status, deleted, kept) =
        crate::teardown::delete_peering(&active, attachment.as_ref(), request.dry_run).await?;
    info!(action = "Teardown", region = %active.region(), attachment_id = attachment_id.as_deref().unwrap_or("none"),
          status = %status, deleted, dry_run = request.dry_run, "peering attachment handled");
    let mut output = input.clone();
    if let Some(object) = output.as_object_mut() {
        object.insert("status".to_owned(), Value::from(status));
        object.insert("peeringDeleted".to_owned(), Value::from(deleted));
        object.insert("peeringKept".to_owned(), kept.map_or(Value::Null, Value::from));
    }
    Ok(output)
}

pub async fn peer(context: &Context, input: &Value) -> Result<PeerOutput> {
    let parsed = parse_request(input)?;
    if let RequestSource::EventBridge { detail_type, source } = &parsed.source {
        info!(
            action = "Peer",
            detail_type, source, "request from an EventBridge event"
        );
    }
    for field in &parsed.ignored_fields {
        warn!(
            action = "Peer",
            field, "ignoring a field that is not part of the request"
        );
    }
    let request = parsed.request.validate(context.defaults())?;
    let active = Ec2::new(context.ec2(&request.active_region), &request.active_region);
    // In another account, the passive side is reached through its role; assuming it first means
    // a role that does not work fails the call before anything is created.
    let passive = context
        .passive_ec2(
            &request.passive_region,
            request.passive.passive_role_arn.as_deref(),
        )
        .await?;

    // Both sides are read at once, but an error is reported for the active side first, so the
    // same bad request always gets the same message.
    let (active_tgw, passive_tgw) = tokio::join!(
        resolve_transit_gateway(
            &active,
            "activeTransitGatewayId",
            request.active_transit_gateway_id.as_deref()
        ),
        resolve_transit_gateway(
            &passive,
            "passiveTransitGatewayId",
            request.passive_transit_gateway_id.as_deref()
        ),
    );
    let (active_tgw, passive_tgw) = (active_tgw?, passive_tgw?);
    let (active_route_table_id, passive_route_table_id) = tokio::join!(
        resolve_route_table(
            &active,
            "activeRouteTableId",
            request.active_route_table_id.as_deref(),
            &active_tgw
        ),
        resolve_route_table(
            &passive,
            "passiveRouteTableId",
            request.passive_route_table_id.as_deref(),
            &passive_tgw
        ),
    );
    let (active_route_table_id, passive_route_table_id) = (active_route_table_id?, passive_route_table_id?);
    let resolved = ResolvedRequest {
        active_region: request.active_region,
        passive_region: request.passive_region,
        active_transit_gateway_id: active_tgw.id.clone(),
        passive_transit_gateway_id: passive_tgw.id.clone(),
        active_route_table_id,
        passive_route_table_id,
        vpc_tag_key: request.vpc_tag_key,
        options: request.options,
        dry_run: request.dry_run,
        passive: request.passive,
        action: request.action,
    };

    let ends = (
        (
            resolved.active_transit_gateway_id.as_str(),
            resolved.active_region.as_str(),
        ),
        (
            resolved.passive_transit_gateway_id.as_str(),
            resolved.passive_region.as_str(),
        ),
    );
    let mut listed = active.peering_attachments().await?;
    if resolved.action == Action::Teardown {
        let kept = select_existing(&listed, ends.0, ends.1).cloned();
        info!(action = "Teardown", region = %active.region(),
              attachment_id = kept.as_ref().map(|a| a.id.as_str()).unwrap_or("none"), "peering to tear down");
        return Ok(PeerOutput::unchanged(resolved, kept, None));
    }
    if resolved.dry_run {
        let kept = deduplicate(&listed, ends.0, ends.1);
        let passive = Accepter::new(&passive, &resolved);
        return plan_only(&active, &passive, resolved.clone(), kept).await;
    }
    // The state machine's Settle and Accept passes hand peer its own output. If the peering it
    // reported has died since, that is the execution's answer: creating another here would
    // hide a rejection behind a fresh request.
    let continues = input.get("attachmentId").and_then(Value::as_str);
    let created = if select_existing(&listed, ends.0, ends.1).is_none() {
        if let Some(attachment_id) = continues {
            let state = listed
                .iter()
                .find(|attachment| attachment.id == attachment_id)
                .map_or_else(|| "absent".to_owned(), |attachment| attachment.state.to_string());
            return Err(Error::PeeringFailed {
                attachment_id: attachment_id.to_owned(),
                state,
            });
        }
        let accepter = TgwEnd {
            transit_gateway_id: passive_tgw.id.clone(),
            region: resolved.passive_region.clone(),
            owner_id: passive_tgw.owner_id.clone(),
        };
        let tags = creation_tags(&active_tgw.id, &passive_tgw.id);
        let ours = active.create_peering(&active_tgw.id, &accepter, &tags).await?;
        // CreateTransitGatewayPeeringAttachment has no idempotency token: a run that started at
        // the same moment may have created one too. Read again for any racer already visible.
        // The rest are settled by the next call: the state machine waits (SettleRace) until
        // every racing create shows, then calls peer again, and every run keeps the same one.
        listed = active.peering_attachments().await?;
        if !listed.iter().any(|attachment| attachment.id == ours.id) {
            listed.push(ours.clone());
        }
        Some(ours.id)
    } else {
        None
    };
    let (attachment, removed_duplicates) = match deduplicate(&listed, ends.0, ends.1) {
        Some(plan) => {
            for duplicate in &plan.delete {
                warn!(action = "Peer", region = %active.region(), attachment_id = %duplicate.id,
                      kept = %plan.keep.id, "a concurrent run created a duplicate peering; deleting it");
                active.delete_peering(&duplicate.id).await?;
            }
            for foreign in &plan.foreign {
                warn!(action = "Peer", region = %active.region(), attachment_id = %foreign.id,
                      kept = %plan.keep.id,
                      "another live peering joins the same gateways and was not created by this tool; leaving it alone");
            }
            (
                plan.keep.clone(),
                plan.delete.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
            )
        }
        // No live peering even after our create: the one we just made was already rejected or failed.
        None => {
            let ours = listed.iter().find(|a| Some(&a.id) == created.as_ref());
            let (attachment_id, state) = ours
                .map(|a| (a.id.clone(), a.state.to_string()))
                .unwrap_or_else(|| (created.clone().unwrap_or_default(), "absent".to_owned()));
            return Err(Error::PeeringFailed { attachment_id, state });
        }
    };
    let created = created.as_deref() == Some(attachment.id.as_str());
    if !created {
        info!(action = "Peer", region = %active.region(), attachment_id = %attachment.id,
              state = %attachment.state, "reusing existing peering attachment");
    }

    let accepter = Accepter::new(&passive, &resolved);
    let (status, accepted, accepter_id) = accept_if_pending(&active, &accepter, &attachment).await?;
    // The state machine calls `peer` again to accept. Keep what the earlier call of the same
    // execution did, so the final output says whether this execution created and accepted it.
    let carried = |flag: &str| {
        input.get("attachmentId").and_then(Value::as_str) == Some(attachment.id.as_str())
            && input.get(flag).and_then(Value::as_bool) == Some(true)
    };
    Ok(PeerOutput {
        request: resolved,
        status: status.as_str().to_owned(),
        created: created || carried("created"),
        accepted: accepted || carried("accepted"),
        removed_duplicates,
        passive_attachment_id: accepter_id.filter(|id| *id != attachment.id),
        attachment_id: Some(attachment.id),
        plan: None,
    })
}

/// A dry run: everything is read as in a real run, nothing is changed, and the output says what
/// a real run would do.
async fn plan_only(
    active: &Ec2,
    passive: &Accepter<'_>,
    resolved: ResolvedRequest,
    kept: Option<crate::peering::Deduplication<'_>>,
) -> Result<PeerOutput> {
    let (attachment, delete_duplicates) = match &kept {
        Some(plan) => (
            Some(plan.keep.clone()),
            plan.delete.iter().map(|d| d.id.clone()).collect(),
        ),
        None => (None, Vec::new()),
    };
    let accept_peering = match &attachment {
        Some(attachment) if !matches!(attachment.state.phase(), Phase::Ready | Phase::Dead) => {
            accepter_view(active, passive, attachment)
                .await?
                .is_some_and(|view| view.state == AttachmentState::PendingAcceptance)
        }
        _ => false,
    };
    let plan = PeerPlan {
        create_peering: attachment.is_none(),
        // The state machine accepts a peering it creates.
        accept_peering: accept_peering || attachment.is_none(),
        delete_duplicates,
    };
    info!(action = "Peer", dry_run = true, region = %resolved.active_region,
          attachment_id = attachment.as_ref().map(|a| a.id.as_str()).unwrap_or("none"),
          create = plan.create_peering, accept = plan.accept_peering,
          delete = plan.delete_duplicates.len(), "planned the peering; changed nothing");
    Ok(PeerOutput::unchanged(resolved, attachment, Some(plan)))
}

impl PeerOutput {
    /// The output of a call that changed nothing: the attachment as found (or `absent`).
    fn unchanged(
        request: ResolvedRequest,
        attachment: Option<PeeringAttachment>,
        plan: Option<PeerPlan>,
    ) -> Self {
        Self {
            request,
            status: attachment
                .as_ref()
                .map_or_else(|| "absent".to_owned(), |a| a.state.to_string()),
            created: false,
            accepted: false,
            removed_duplicates: Vec::new(),
            passive_attachment_id: None,
            attachment_id: attachment.map(|a| a.id),
            plan,
        }
    }
}

/// The passive side as the accepter of a peering.
struct Accepter<'a> {
    ec2: &'a Ec2,
    /// In another account the accepter may know the peering by its own id, so it is also looked
    /// for by its ends. In one account both sides read the same attachment, and that extra read
    /// would only cost a call.
    in_another_account: bool,
}

impl<'a> Accepter<'a> {
    fn new(ec2: &'a Ec2, request: &ResolvedRequest) -> Self {
        Self {
            ec2,
            in_another_account: request.passive.passive_role_arn.is_some(),
        }
    }
}

/// The attachment as its accepter sees it; `None` while it is not visible there.
///
/// In another account it is found by what identifies it there: first its id, then (should that
/// side know it by another id) the peering of its transit gateway with the requester's that
/// waits for acceptance.
async fn accepter_view(
    active: &Ec2,
    passive: &Accepter<'_>,
    attachment: &PeeringAttachment,
) -> Result<Option<PeeringAttachment>> {
    if attachment.accepter.region == active.region() {
        return Ok(Some(attachment.clone()));
    }
    // On AWS the accepter sees the request only once it leaves initiatingRequest.
    if let Some(view) = passive.ec2.peering_attachment(&attachment.id).await? {
        return Ok(Some(view));
    }
    if !passive.in_another_account {
        return Ok(None);
    }
    let listed = passive.ec2.peering_attachments().await?;
    Ok(listed.into_iter().find(|view| {
        view.state == AttachmentState::PendingAcceptance
            && view.accepter.transit_gateway_id == attachment.accepter.transit_gateway_id
            && view.requester.transit_gateway_id == attachment.requester.transit_gateway_id
            && view.requester.region == attachment.requester.region
    }))
}

async fn resolve_transit_gateway(ec2: &Ec2, field: &str, id: Option<&str>) -> Result<TransitGateway> {
    let region = ec2.region().to_owned();
    let Some(id) = id else {
        let mut available = ec2.available_transit_gateways().await?;
        return match available.len() {
            1 => Ok(available.remove(0)),
            0 => Err(Error::TransitGatewayNotFound {
                field: field.to_owned(),
                reason: format!(
                    "is not set and {region} has no available transit gateway; create one, or set the field"
                ),
            }),
            _ => Err(Error::AmbiguousTransitGateway {
                field: field.to_owned(),
                region,
                ids: available.into_iter().map(|tgw| tgw.id).collect(),
            }),
        };
    };
    let tgw = ec2
        .transit_gateway(id)
        .await?
        .ok_or_else(|| Error::TransitGatewayNotFound {
            field: field.to_owned(),
            reason: format!("is {id}, which does not exist in {region}; check the id and the Region"),
        })?;
    if tgw.state != "available" {
        return Err(Error::TransitGatewayNotAvailable {
            field: field.to_owned(),
            id: tgw.id,
            region,
            state: tgw.state,
        });
    }
    Ok(tgw)
}

async fn resolve_route_table(
    ec2: &Ec2,
    field: &str,
    id: Option<&str>,
    tgw: &TransitGateway,
) -> Result<String> {
    let region = ec2.region();
    let Some(id) = id else {
        return tgw.association_default_route_table_id.clone().ok_or_else(|| Error::RouteTableMismatch {
            field: field.to_owned(),
            reason: format!(
                "is not set and {} has no association default route table; set the field to one of its route tables",
                tgw.id
            ),
        });
    };
    let table = ec2
        .route_table(id)
        .await?
        .ok_or_else(|| Error::RouteTableMismatch {
            field: field.to_owned(),
            reason: format!("is {id}, which does not exist in {region}; check the id and the Region"),
        })?;
    if table.transit_gateway_id != tgw.id {
        return Err(Error::RouteTableMismatch {
            field: field.to_owned(),
            reason: format!(
                "is {id}, which belongs to {}, not to {}; use a route table of {}",
                table.transit_gateway_id, tgw.id, tgw.id
            ),
        });
    }
    Ok(table.id)
}

/// Accepts the attachment if, and only if, its accepter side shows pendingAcceptance. Returns the
/// state to report, whether this call accepted it, and the id the accepter knows it by.
async fn accept_if_pending(
    active: &Ec2,
    passive: &Accepter<'_>,
    attachment: &PeeringAttachment,
) -> Result<(AttachmentState, bool, Option<String>)> {
    if matches!(attachment.state.phase(), Phase::Ready | Phase::Dead) {
        return Ok((attachment.state.clone(), false, None));
    }
    let accepter = if attachment.accepter.region == active.region() {
        active
    } else {
        passive.ec2
    };
    let accepter_region = accepter.region().to_owned();
    let Some(accepter_view) = accepter_view(active, passive, attachment).await? else {
        return Ok((attachment.state.clone(), false, None));
    };
    let accepter_id = Some(accepter_view.id.clone());
    if accepter_view.state != AttachmentState::PendingAcceptance {
        return Ok((attachment.state.clone(), false, accepter_id));
    }
    match accepter.accept_peering(&accepter_view.id).await {
        Ok(state) => Ok((state.unwrap_or(AttachmentState::Pending), true, accepter_id)),
        // Someone else (a concurrent run, an operator) accepted it between our read and our call.
        Err(err @ Error::Ec2 { .. }) if matches!(&err, Error::Ec2 { code, .. } if code == "IncorrectState") =>
        {
            let now = accepter
                .peering_attachment(&accepter_view.id)
                .await?
                .map(|a| a.state);
            match now {
                Some(state) if state.phase() == Phase::Ready || state == AttachmentState::Pending => {
                    info!(action = "AcceptTransitGatewayPeeringAttachment", region = %accepter_region,
                          attachment_id = %accepter_view.id, state = %state, "already accepted");
                    Ok((state, false, accepter_id))
                }
                Some(state) if state.phase() == Phase::Dead => Err(Error::PeeringFailed {
                    attachment_id: attachment.id.clone(),
                    state: state.to_string(),
                }),
                _ => Err(err),
            }
        }
        Err(err) => Err(err),
    }
}
