//! `peer`: validate, resolve both transit gateways, reuse or create the peering, and accept it
//! once the accepter side shows pendingAcceptance.

use tracing::{info, warn};

use crate::actions::routes::read_both;
use crate::aws::{Ec2, Shell, SideAt, TransitGateway};
use crate::contract::request::{
    Action, ParsedRequest, PeerPlan, RequestSource, ResolvedRequest, ValidRequest,
};
use crate::contract::state::{PeeringState, Report, RouteTableIds};
use crate::error::{Error, Result};
use crate::plan::attachment::{AttachmentState, Phase, ABSENT};
use crate::plan::pass::{check_before_create, PassInput, Peering};
use crate::plan::peering::{
    creation_tags, deduplicate, select_existing, Deduplication, PeeringAttachment, TgwEnd,
};
use crate::plan::Side;

/// The two transit gateways of a resolved request, as read.
struct Gateways {
    active: TransitGateway,
    passive: TransitGateway,
}

/// The passive side as the accepter of a peering.
struct Accepter<'a> {
    ec2: &'a Ec2,
    /// In another account the accepter may know the peering by its own id, so it is also looked
    /// for by its ends. In one account both sides read the same attachment, and that extra read
    /// would only cost a call.
    in_another_account: bool,
}

/// What `peer` found or did, before it is written into the state.
struct PeerResult {
    /// `None` only in a dry run or teardown where no peering exists.
    attachment_id: Option<String>,
    /// The attachment's state in the active Region, or `absent`.
    status: String,
    created: bool,
    accepted: bool,
    removed_duplicates: Vec<String>,
    passive_attachment_id: Option<String>,
    plan: Option<PeerPlan>,
}

impl PeerResult {
    /// A call that changed nothing: the attachment as found (or `absent`).
    fn unchanged(attachment: Option<&PeeringAttachment>, plan: Option<PeerPlan>) -> Self {
        Self {
            attachment_id: attachment.map(|a| a.id.clone()),
            status: attachment.map_or_else(|| ABSENT.to_owned(), |a| a.state.to_string()),
            created: false,
            accepted: false,
            removed_duplicates: Vec::new(),
            passive_attachment_id: None,
            plan,
        }
    }

    /// `peer`'s output: the resolved request and what it found or did, nothing else.
    fn into_state(self, request: &ResolvedRequest) -> PeeringState {
        let mut state = PeeringState::default();
        request.write_to(&mut state);
        state.attachment_id = Some(self.attachment_id);
        state.set_status(self.status);
        state.created = Some(self.created);
        state.accepted = Some(self.accepted);
        state.removed_duplicates = Some(self.removed_duplicates);
        state.passive_attachment_id = self.passive_attachment_id;
        state.peering_plan = self.plan.map(Report::Known);
        state
    }
}

/// What the accepter side did.
struct Acceptance {
    /// The state to report.
    state: AttachmentState,
    /// True when this call accepted it.
    accepted: bool,
    /// The id the accepter knows the attachment by, once it can see it.
    accepter_id: Option<String>,
}

impl Acceptance {
    fn not_yet(attachment: &PeeringAttachment, accepter_id: Option<String>) -> Self {
        Self {
            state: attachment.state.clone(),
            accepted: false,
            accepter_id,
        }
    }
}

/// Resolves the request and makes sure the peering exists and is accepted (or, in a dry run or
/// teardown, reports what is there). A mesh pair's `meshSides` is handed on to `modify-routes`.
pub async fn peer(shell: &Shell, parsed: ParsedRequest) -> Result<PeeringState> {
    let mesh_sides = parsed.state.mesh_sides.clone();
    let mut state = peer_pair(shell, parsed).await?;
    state.mesh_sides = mesh_sides;
    Ok(state)
}

async fn peer_pair(shell: &Shell, parsed: ParsedRequest) -> Result<PeeringState> {
    log_source(&parsed);
    let request = parsed.request.validate(&shell.config().defaults)?;
    let (active, passive) = shell
        .sides(
            SideAt::new(Side::Active, &request.active_region, &request.active),
            SideAt::new(Side::Passive, &request.passive_region, &request.passive),
        )
        .await?;
    let (resolved, gateways) = resolve(&active, &passive, request).await?;
    let listed = active.peering_attachments().await?;
    let ends = ends(&resolved);
    if resolved.action == Action::Teardown {
        let kept = select_existing(&listed, ends.0, ends.1);
        info!(action = "Teardown", region = %active.region(),
              attachment_id = kept.map_or("none", |a| a.id.as_str()), "peering to tear down");
        return Ok(PeerResult::unchanged(kept, None).into_state(&resolved));
    }
    let accepter = Accepter {
        ec2: &passive,
        in_another_account: resolved.active.account_id != resolved.passive.account_id,
    };
    if resolved.dry_run {
        let result = plan_only(
            &active,
            &accepter,
            &resolved,
            deduplicate(&listed, ends.0, ends.1),
        )
        .await?;
        return Ok(result.into_state(&resolved));
    }
    let continuation = Continuation::of(&parsed.state);
    let Ensured {
        attachment,
        created,
        removed_duplicates,
    } = ensure_peering(
        shell,
        (&active, &passive),
        &resolved,
        &gateways,
        listed,
        &continuation,
    )
    .await?;
    let acceptance = accept_if_pending(&active, &accepter, &attachment).await?;
    Ok(PeerResult {
        status: acceptance.state.as_str().to_owned(),
        // The state machine calls `peer` again to accept: keep what an earlier call of the same
        // execution did, so the output says whether this execution created and accepted it.
        created: created || continuation.created(&attachment.id),
        accepted: acceptance.accepted || continuation.accepted(&attachment.id),
        removed_duplicates,
        passive_attachment_id: acceptance.accepter_id.filter(|id| *id != attachment.id),
        attachment_id: Some(attachment.id),
        plan: None,
    }
    .into_state(&resolved))
}

fn log_source(parsed: &ParsedRequest) {
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
}

fn ends(request: &ResolvedRequest) -> ((&str, &str), (&str, &str)) {
    (
        (
            request.active_transit_gateway_id.as_str(),
            request.active_region.as_str(),
        ),
        (
            request.passive_transit_gateway_id.as_str(),
            request.passive_region.as_str(),
        ),
    )
}

/// Both transit gateways and their route tables, found or checked. Both sides are read at once,
/// but an error is reported for the active side first, so the same bad request always gets the
/// same message.
async fn resolve(active: &Ec2, passive: &Ec2, request: ValidRequest) -> Result<(ResolvedRequest, Gateways)> {
    let (active_side, passive_side) = tokio::join!(
        resolve_side(active, Side::Active, &request),
        resolve_side(passive, Side::Passive, &request),
    );
    let (active_side, passive_side) = (active_side?, passive_side?);
    let resolved = assemble(request, &active_side, &passive_side);
    Ok((
        resolved,
        Gateways {
            active: active_side.gateway,
            passive: passive_side.gateway,
        },
    ))
}

/// One side of a request, resolved: its transit gateway, found or checked, and its tables.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedSide {
    gateway: TransitGateway,
    tables: SideTables,
}

/// One side of `request`, as `peer` resolves it. It depends only on that side's fields, so a
/// mesh resolves each side once, whichever of its pairs it takes them from.
pub(crate) async fn resolve_side(ec2: &Ec2, side: Side, request: &ValidRequest) -> Result<ResolvedSide> {
    let (field, id) = match side {
        Side::Active => (
            "activeTransitGatewayId",
            request.active_transit_gateway_id.as_deref(),
        ),
        Side::Passive => (
            "passiveTransitGatewayId",
            request.passive_transit_gateway_id.as_deref(),
        ),
    };
    let gateway = resolve_transit_gateway(ec2, field, id).await?;
    let tables = resolve_tables(ec2, side, request, &gateway).await?;
    Ok(ResolvedSide { gateway, tables })
}

/// The request with both sides resolved.
pub(crate) fn assemble(
    request: ValidRequest,
    active: &ResolvedSide,
    passive: &ResolvedSide,
) -> ResolvedRequest {
    ResolvedRequest {
        active_region: request.active_region,
        passive_region: request.passive_region,
        active_transit_gateway_id: active.gateway.id.clone(),
        passive_transit_gateway_id: passive.gateway.id.clone(),
        active_route_table_id: active.tables.named.clone(),
        passive_route_table_id: passive.tables.named.clone(),
        active_peering_route_table_id: active.tables.peering.clone(),
        passive_peering_route_table_id: passive.tables.peering.clone(),
        move_peering_association: request.move_peering_association,
        vpc_tag_key: request.vpc_tag_key,
        options: request.options,
        dry_run: request.dry_run,
        active: request.active,
        passive: request.passive,
        action: request.action,
    }
}

/// What an earlier call of this execution reported: the state machine's Settle and Accept passes
/// hand `peer` its own output.
struct Continuation<'a> {
    state: &'a PeeringState,
}

impl<'a> Continuation<'a> {
    fn of(state: &'a PeeringState) -> Self {
        Self { state }
    }

    fn attachment_id(&self) -> Option<&str> {
        self.state.attachment()
    }

    /// True when the earlier call reported creating this same attachment.
    fn created(&self, attachment_id: &str) -> bool {
        self.attachment_id() == Some(attachment_id) && self.state.created == Some(true)
    }

    /// True when the earlier call reported accepting this same attachment.
    fn accepted(&self, attachment_id: &str) -> bool {
        self.attachment_id() == Some(attachment_id) && self.state.accepted == Some(true)
    }
}

/// The live peering this call settled on.
struct Ensured {
    attachment: PeeringAttachment,
    /// True when this call created it.
    created: bool,
    /// The duplicates this call deleted.
    removed_duplicates: Vec<String>,
}

/// The live peering to use: the one that exists, or one created now (once the routes it is for
/// are known to be ones `modify-routes` would make).
async fn ensure_peering(
    shell: &Shell,
    (active, passive): (&Ec2, &Ec2),
    request: &ResolvedRequest,
    gateways: &Gateways,
    mut listed: Vec<PeeringAttachment>,
    continuation: &Continuation<'_>,
) -> Result<Ensured> {
    let ends = ends(request);
    let created = if select_existing(&listed, ends.0, ends.1).is_none() {
        // If the peering an earlier call reported has died since, that is the execution's
        // answer: creating another here would hide a rejection behind a fresh request.
        if let Some(attachment_id) = continuation.attachment_id() {
            let state = listed
                .iter()
                .find(|attachment| attachment.id == attachment_id)
                .map_or_else(|| "absent".to_owned(), |attachment| attachment.state.to_string());
            return Err(Error::PeeringFailed {
                attachment_id: attachment_id.to_owned(),
                state,
            });
        }
        refuse_what_routes_would_refuse(shell, (active, passive), request).await?;
        let ours = create_peering(active, request, gateways).await?;
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
    let Some(plan) = deduplicate(&listed, ends.0, ends.1) else {
        // No live peering even after our create: the one we just made was already rejected or
        // failed.
        let ours = listed.iter().find(|a| Some(&a.id) == created.as_ref());
        return Err(Error::PeeringFailed {
            attachment_id: created.clone().unwrap_or_default(),
            state: ours.map_or_else(|| "absent".to_owned(), |a| a.state.to_string()),
        });
    };
    let removed = remove_duplicates(active, &plan).await?;
    let attachment = plan.keep.clone();
    let created = created.as_deref() == Some(attachment.id.as_str());
    if !created {
        info!(action = "Peer", region = %active.region(), attachment_id = %attachment.id,
              state = %attachment.state, "reusing existing peering attachment");
    }
    Ok(Ensured {
        attachment,
        created,
        removed_duplicates: removed,
    })
}

/// Refuses the request before the peering is created if `modify-routes` would refuse its first
/// pass (overlapping CIDRs, a route quota): otherwise the refusal would come only after the
/// peering exists, and leave it behind. Both sides are read as `modify-routes` reads them
/// before a peering exists, and judged by its own plan. Only on the create path: over an existing
/// peering `modify-routes` checks every pass itself, so a re-run costs no extra call.
async fn refuse_what_routes_would_refuse(
    shell: &Shell,
    sides: (&Ec2, &Ec2),
    request: &ResolvedRequest,
) -> Result<()> {
    let (active, passive) = read_both(shell, sides, request, None).await?;
    let config = shell.config();
    check_before_create(&PassInput {
        active: &active,
        passive: &passive,
        options: &request.options,
        tag_key: &request.vpc_tag_key,
        peering: Peering::not_yet(),
        vpc_route_quota: config.vpc_route_quota,
        tgw_route_quota: config.tgw_route_quota,
    })?;
    info!(action = "Peer", region = %sides.0.region(),
          "the routes a first pass would plan are within every check; creating the peering");
    Ok(())
}

async fn create_peering(
    active: &Ec2,
    request: &ResolvedRequest,
    gateways: &Gateways,
) -> Result<PeeringAttachment> {
    let accepter = TgwEnd {
        transit_gateway_id: gateways.passive.id.clone(),
        region: request.passive_region.clone(),
        owner_id: gateways.passive.owner_id.clone(),
    };
    let tags = creation_tags(&gateways.active.id, &gateways.passive.id);
    active.create_peering(&gateways.active.id, &accepter, &tags).await
}

/// Deletes the younger duplicates this tool created; leaves (and reports) anyone else's.
async fn remove_duplicates(active: &Ec2, plan: &Deduplication<'_>) -> Result<Vec<String>> {
    for duplicate in &plan.delete {
        warn!(action = "Peer", region = %active.region(), attachment_id = %duplicate.id,
              kept = %plan.keep.id, "a concurrent run created a duplicate peering; deleting it");
        active.delete_peering(&duplicate.id).await?;
    }
    for foreign in &plan.foreign {
        warn!(action = "Peer", region = %active.region(), attachment_id = %foreign.id, kept = %plan.keep.id,
              "another live peering joins the same gateways and was not created by this tool; leaving it alone");
    }
    Ok(plan.delete.iter().map(|d| d.id.clone()).collect())
}

/// A dry run: everything is read as in a real run, nothing is changed, and the output says what
/// a real run would do.
async fn plan_only(
    active: &Ec2,
    passive: &Accepter<'_>,
    resolved: &ResolvedRequest,
    kept: Option<Deduplication<'_>>,
) -> Result<PeerResult> {
    let attachment = kept.as_ref().map(|plan| plan.keep);
    let accept_peering = match attachment {
        Some(attachment) if matches!(attachment.state.phase(), Phase::Waiting | Phase::Acceptable) => {
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
        delete_duplicates: kept
            .map(|plan| plan.delete.iter().map(|d| d.id.clone()).collect())
            .unwrap_or_default(),
    };
    info!(action = "Peer", dry_run = true, region = %resolved.active_region,
          attachment_id = attachment.map_or("none", |a| a.id.as_str()),
          create = plan.create_peering, accept = plan.accept_peering,
          delete = plan.delete_duplicates.len(), "planned the peering; changed nothing");
    Ok(PeerResult::unchanged(attachment, Some(plan)))
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

/// One side's route tables, checked: the outbound tables the request names (if any) and the
/// table the peering attachment is to be associated with.
#[derive(Debug, Clone)]
struct SideTables {
    named: Option<RouteTableIds>,
    peering: String,
}

/// The peering route table is `<side>PeeringRouteTableId`, else the one route table named (not
/// a list: which of several would be a guess), else the gateway's association default route
/// table; with none of them, the request is refused before anything is created.
async fn resolve_tables(
    ec2: &Ec2,
    side: Side,
    request: &ValidRequest,
    tgw: &TransitGateway,
) -> Result<SideTables> {
    let (named_field, named, peering_field, peering) = match side {
        Side::Active => (
            "activeRouteTableId",
            request.active_route_table_id.as_ref(),
            "activePeeringRouteTableId",
            request.active_peering_route_table_id.as_deref(),
        ),
        Side::Passive => (
            "passiveRouteTableId",
            request.passive_route_table_id.as_ref(),
            "passivePeeringRouteTableId",
            request.passive_peering_route_table_id.as_deref(),
        ),
    };
    let named = match named {
        Some(tables) => Some(resolve_named(ec2, named_field, tables, tgw).await?),
        None => None,
    };
    let peering = match (peering, &named) {
        (Some(id), _) => resolve_route_table(ec2, peering_field, Some(id), tgw).await?,
        (None, Some(RouteTableIds::One(named))) => named.clone(),
        (None, _) => tgw.association_default_route_table_id.clone().ok_or_else(|| {
            Error::invalid(
                peering_field,
                format!(
                    "is not set, nor is {named_field} as one table, and {} has no association \
                     default route table, so the peering attachment would be associated with no \
                     route table and traffic arriving over it would be dropped; set \
                     {peering_field} to one of its route tables",
                    tgw.id
                ),
            )
        })?,
    };
    Ok(SideTables { named, peering })
}

/// Every named outbound table, checked to belong to the gateway; duplicates dropped, in the
/// order given.
async fn resolve_named(
    ec2: &Ec2,
    field: &str,
    tables: &RouteTableIds,
    tgw: &TransitGateway,
) -> Result<RouteTableIds> {
    let mut resolved: Vec<String> = Vec::new();
    for (index, id) in tables.ids().iter().enumerate() {
        let id = resolve_route_table(ec2, &tables.field_of(field, index), Some(id), tgw).await?;
        if !resolved.contains(&id) {
            resolved.push(id);
        }
    }
    Ok(match tables {
        RouteTableIds::One(_) => RouteTableIds::One(resolved.remove(0)),
        RouteTableIds::Many(_) => RouteTableIds::Many(resolved),
    })
}

async fn resolve_route_table(
    ec2: &Ec2,
    field: &str,
    id: Option<&str>,
    tgw: &TransitGateway,
) -> Result<String> {
    let region = ec2.region();
    let mismatch = |reason: String| Error::RouteTableMismatch {
        field: field.to_owned(),
        reason,
    };
    let Some(id) = id else {
        return tgw.association_default_route_table_id.clone().ok_or_else(|| {
            mismatch(format!(
                "is not set and {} has no association default route table; set the field to one of its route tables",
                tgw.id
            ))
        });
    };
    let table = ec2.route_table(id).await?.ok_or_else(|| {
        mismatch(format!(
            "is {id}, which does not exist in {region}; check the id and the Region"
        ))
    })?;
    if table.transit_gateway_id != tgw.id {
        return Err(mismatch(format!(
            "is {id}, which belongs to {}, not to {}; use a route table of {}",
            table.transit_gateway_id, tgw.id, tgw.id
        )));
    }
    Ok(table.id)
}

/// Accepts the attachment if, and only if, its accepter side shows pendingAcceptance.
async fn accept_if_pending(
    active: &Ec2,
    passive: &Accepter<'_>,
    attachment: &PeeringAttachment,
) -> Result<Acceptance> {
    if !matches!(attachment.state.phase(), Phase::Waiting | Phase::Acceptable) {
        return Ok(Acceptance::not_yet(attachment, None));
    }
    let accepter = if attachment.accepter.region == active.region() {
        active
    } else {
        passive.ec2
    };
    let Some(view) = accepter_view(active, passive, attachment).await? else {
        return Ok(Acceptance::not_yet(attachment, None));
    };
    let accepter_id = Some(view.id.clone());
    if view.state != AttachmentState::PendingAcceptance {
        return Ok(Acceptance::not_yet(attachment, accepter_id));
    }
    match accepter.accept_peering(&view.id).await {
        Ok(state) => Ok(Acceptance {
            state: state.unwrap_or(AttachmentState::Pending),
            accepted: true,
            accepter_id,
        }),
        // Someone else (a concurrent run, an operator) accepted it between our read and our call.
        Err(err @ Error::Ec2 { .. }) if matches!(&err, Error::Ec2 { code, .. } if code == "IncorrectState") =>
        {
            let now = accepter.peering_attachment(&view.id).await?.map(|a| a.state);
            match now {
                Some(state) if state.phase() == Phase::Ready || state == AttachmentState::Pending => {
                    info!(action = "AcceptTransitGatewayPeeringAttachment", region = %accepter.region(),
                          attachment_id = %view.id, state = %state, "already accepted");
                    Ok(Acceptance {
                        state,
                        accepted: false,
                        accepter_id,
                    })
                }
                Some(state) if !state.is_live() => Err(Error::PeeringFailed {
                    attachment_id: attachment.id.clone(),
                    state: state.to_string(),
                }),
                _ => Err(err),
            }
        }
        Err(err) => Err(err),
    }
}
