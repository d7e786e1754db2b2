//! `modify-routes`: read both sides once, plan, apply, report; stop before the Lambda deadline
//! and let the state machine call again while routes remain. The decisions are in
//! [`crate::plan::pass`]; this module reads, writes and records.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::future::try_join_all;
use futures_util::stream::{self, StreamExt};
use ipnet::IpNet;
use tracing::{info, warn};

use crate::aws::records::{RecordScope, RecordStore};
use crate::aws::{Ec2, Shell, SideAt};
use crate::contract::request::{AttachmentIds, ResolvedRequest, SideAccount};
use crate::contract::state::{PeeringState, Report};
use crate::error::{Error, Result};
use crate::plan::association::{
    plan_association, AssociationOutcome, AssociationReport, AssociationStep, SideAssociation,
};
use crate::plan::attachment::Phase;
use crate::plan::mesh::{self, MeshPeerSide, SideCidrs};
use crate::plan::network_acl::{acls_by_vpc, VpcAcls};
use crate::plan::pass::{
    listed_summaries, plan_pass, report_pass, report_plan, PassInput, PassPlan, Peering, SideOutcome,
    SidePass, SidePlan, SideSnapshot, TgwTable, TgwTableWork, VpcTableWork,
};
use crate::plan::peering::PeeringAttachment;
use crate::plan::propagation::{
    plan_record, plan_return, record_after_enables, return_table, EnableOutcome, ReturnPropagation,
};
use crate::plan::prune::Refusal;
use crate::plan::record;
use crate::plan::report::{PassOutcome, RoutesReport};
use crate::plan::routing::{
    cidrs_of, classify, is_tagged, propagated_on_premises, Conflict, Route, RouteOutcome, RoutePlan, Vpc,
};
use crate::plan::security_groups::SecurityGroup;
use crate::plan::vpc_tables::{tables_by_vpc, VpcAttachment, VpcRouteTable};
use crate::plan::Side;
use crate::plan::{metrics, notice};

/// At most this many warnings are returned; the rest are counted in a last one. They are all
/// logged.
const MAX_WARNINGS: usize = 50;

/// When a pass must stop starting route writes.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    stop_at: Option<Instant>,
}

impl Budget {
    /// No deadline: every planned route is written in this pass.
    pub fn unlimited() -> Self {
        Self { stop_at: None }
    }

    /// Stops starting writes `margin` before `deadline`.
    pub fn until(deadline: Instant, margin: std::time::Duration) -> Self {
        Self {
            stop_at: Some(deadline.checked_sub(margin).unwrap_or_else(Instant::now)),
        }
    }

    pub(crate) fn allows_another_write(&self) -> bool {
        self.stop_at.is_none_or(|stop_at| Instant::now() < stop_at)
    }
}

/// Runs one pass: reads both sides, plans, writes what fits in `budget`, and reports the whole
/// execution so far.
pub async fn modify_routes(shell: &Shell, mut state: PeeringState, budget: Budget) -> Result<PeeringState> {
    let (request, ids) = ResolvedRequest::from_state(&state, !state.dry_run.unwrap_or(false))?;
    let (earlier, earlier_association) = continued(&state, request.dry_run)?;
    let (active, passive) = shell.both_sides(&request).await?;
    let attachment = live_attachment(&active, &request, ids.as_ref()).await?;
    let peering = match (&attachment, &ids) {
        (Some(_), Some(ids)) => Peering {
            active: &ids.active,
            passive: &ids.passive,
        },
        _ => Peering::not_yet(),
    };
    let peering_ids = attachment.as_ref().and(ids.as_ref());
    let (active_side, passive_side) = read_both(shell, (&active, &passive), &request, peering_ids).await?;
    let plan = plan_pass(&PassInput {
        active: &active_side,
        passive: &passive_side,
        options: &request.options,
        tag_key: &request.vpc_tag_key,
        peering,
        vpc_route_quota: shell.config().vpc_route_quota,
        tgw_route_quota: shell.config().tgw_route_quota,
    })?;
    log_plan(&plan, peering);
    recheck_mesh(shell, &state, &request, (&active_side, &passive_side)).await?;
    let mut plan = plan;
    guard_prune(&mut plan, request.dry_run, peering)?;
    // The plan is checked (overlaps, quotas) before the association is touched.
    let (association, association_warnings) = settle_peering_tables(
        shell,
        [(&active, &active_side), (&passive, &passive_side)],
        peering_ids,
        earlier_association.as_ref(),
        &request,
    )
    .await?;
    state.peering_association = Some(Report::Known(association));
    if request.dry_run {
        plan.warnings.extend(association_warnings);
        write_plan(
            &mut state,
            (&active_side, &passive_side),
            plan,
            peering,
            attachment.is_none(),
        );
        return Ok(state);
    }
    let sides = Sides {
        active: (&active, &active_side),
        passive: (&passive, &passive_side),
    };
    let summaries = listed_summaries(&plan.summaries);
    let (outcomes, record_warnings) =
        apply_and_record(shell, &sides, (plan.active, plan.passive), peering, budget).await?;
    let mut warnings = plan.warnings;
    warnings.extend(association_warnings);
    warnings.extend(record_warnings);
    let report = report_pass(
        earlier.as_ref(),
        SidePass {
            snapshot: &active_side,
            outcome: outcomes.0,
        },
        SidePass {
            snapshot: &passive_side,
            outcome: outcomes.1,
        },
        peering,
    );
    warnings.extend(report.warnings);
    log_pass(&report.routes, &report.reachability, peering);
    let mut routes = report.routes;
    routes.summaries = summaries;
    let last_pass = routes.complete && association_settled(&state);
    let pair = emit_metrics(
        shell,
        &request,
        (earlier.as_ref(), &routes),
        &report.reachability,
        last_pass,
    );
    state.notice = notice::for_routes(
        notice::About {
            gateway_pair: &pair,
            attachment_id: peering.active,
        },
        &routes,
        &report.reachability,
    )
    .map(Report::Known);
    state.routes = Some(Report::Known(routes));
    state.warnings = Some(capped(warnings));
    state.reachability = Some(Report::Known(report.reachability));
    Ok(state)
}

/// A mesh pair, before it writes anything: its own sides' CIDRs, as this pass read them, against
/// every other side's, read now. The mesh checked every two sides when it was planned; a VPC
/// tagged since would otherwise be checked only against this pair's two sides. Each other side
/// costs one `DescribeVpcs` (and, with `propagatedCidrs`, one read of its peering table), in
/// parallel; a lone pair has no `meshSides` and reads nothing.
async fn recheck_mesh(
    shell: &Shell,
    state: &PeeringState,
    request: &ResolvedRequest,
    (active, passive): (&SideSnapshot, &SideSnapshot),
) -> Result<()> {
    let Some(sides) = &state.mesh_sides else {
        return Ok(());
    };
    let others = try_join_all(
        mesh::other_sides(sides, (&request.active_region, &request.passive_region))
            .map(|side| read_mesh_side_cidrs(shell, side, request)),
    )
    .await?;
    let own = |snapshot: &SideSnapshot| SideCidrs {
        region: snapshot.region.clone(),
        cidrs: snapshot.sources(&request.options),
    };
    let result = mesh::check_pair_against_mesh([&own(active), &own(passive)], &others, &request.vpc_tag_key);
    info!(
        action = "MeshRecheck",
        others = others.len(),
        refused = result.is_err(),
        "checked the pair's CIDRs against every other side of the mesh"
    );
    result
}

/// One other side's CIDRs as a pass would take them: its tagged VPCs and, with
/// `propagatedCidrs`, the on-premises ranges its peering table learns.
async fn read_mesh_side_cidrs(
    shell: &Shell,
    side: &MeshPeerSide,
    request: &ResolvedRequest,
) -> Result<SideCidrs> {
    let account = SideAccount {
        account_id: side.account_id.clone(),
        role_arn: side.role_arn.clone(),
    };
    let ec2 = shell
        .side_ec2(SideAt::new(Side::Passive, &side.region, &account))
        .await
        .map_err(|err| match err {
            // Named by the mesh side, not by this pair's passive side.
            Error::AssumeRoleDenied {
                role_arn, message, ..
            } => Error::AssumeRoleDenied {
                field: format!("meshSides[region {}].roleArn", side.region),
                role_arn,
                message,
            },
            other => other,
        })?;
    let (vpcs, propagated) = tokio::try_join!(ec2.vpcs(), async {
        if request.options.propagated_cidrs {
            ec2.routes(&side.peering_route_table_id)
                .await
                .map(|table| table.routes)
        } else {
            Ok(Vec::new())
        }
    })?;
    let tagged: Vec<Vpc> = vpcs
        .into_iter()
        .filter(|vpc| is_tagged(vpc, &request.vpc_tag_key))
        .collect();
    let mut cidrs = cidrs_of(&tagged);
    cidrs.extend(propagated_on_premises(&propagated));
    Ok(SideCidrs {
        region: side.region.clone(),
        cidrs,
    })
}

/// The guard against mass deletion, before anything is written: a refused prune fails the run,
/// or in a dry run becomes a warning next to the plan it refuses.
fn guard_prune(plan: &mut crate::plan::pass::PassPlan, dry_run: bool, peering: Peering) -> Result<()> {
    let Some(refusal) = plan.prune_refusal.take() else {
        return Ok(());
    };
    let refused = prune_refused(&refusal, peering.active);
    if !dry_run {
        return Err(refused);
    }
    plan.warnings.push(format!("a real run would fail: {refused}"));
    Ok(())
}

/// The guard's refusal as the error the execution fails with.
fn prune_refused(refusal: &Refusal, peering_attachment_id: &str) -> Error {
    let share = refusal.remove * 100 / refusal.owned.max(1);
    let reason = match refusal.whole_side {
        Some(side) => format!("every one of them on the {side} side"),
        None => format!("{share}%, over pruneThreshold {}%", refusal.threshold_percent),
    };
    Error::PruneRefused {
        peering_attachment_id: peering_attachment_id.to_owned(),
        remove: refusal.remove,
        owned: refusal.owned,
        reason,
    }
}

/// The reports of the earlier passes of this execution that this pass continues: the routes,
/// and the association (the propagations earlier passes enabled stay in it). A dry run writes
/// nothing, so it never has an unfinished report to continue.
fn continued(
    state: &PeeringState,
    dry_run: bool,
) -> Result<(Option<RoutesReport>, Option<AssociationReport>)> {
    if dry_run {
        return Ok((None, None));
    }
    let earlier = earlier_report(state)?;
    let association = match (&earlier, &state.peering_association) {
        (Some(_), Some(Report::Known(association))) => Some(association.clone()),
        _ => None,
    };
    Ok((earlier, association))
}

/// Both sides read at once; errors are reported active side first, so they are deterministic.
/// With no peering yet (`peering_ids` `None`) it reads no record, and `peer` reads the sides the
/// same way before it creates one.
pub(crate) async fn read_both(
    shell: &Shell,
    (active, passive): (&Ec2, &Ec2),
    request: &ResolvedRequest,
    peering_ids: Option<&AttachmentIds>,
) -> Result<(SideSnapshot, SideSnapshot)> {
    // The record is needed once there is a peering: before, nothing can have been recorded.
    let records = peering_ids.map(|_| shell.records()).transpose()?;
    let records = records.as_ref();
    let (active_side, passive_side) = tokio::join!(
        read_side(
            active,
            Side::Active,
            request,
            peering_ids.map(|ids| ids.active.as_str()),
            records,
        ),
        read_side(
            passive,
            Side::Passive,
            request,
            peering_ids.map(|ids| ids.passive.as_str()),
            records,
        ),
    );
    Ok((active_side?, passive_side?))
}

/// The peering's association on each side, then (with `returnPropagation`) the return path
/// into the table arriving traffic is looked up in.
async fn settle_peering_tables(
    shell: &Shell,
    sides: [(&Ec2, &SideSnapshot); 2],
    peering_ids: Option<&AttachmentIds>,
    earlier: Option<&AssociationReport>,
    request: &ResolvedRequest,
) -> Result<(AssociationReport, Vec<String>)> {
    let (association, mut warnings) = associate_peering(sides[0], sides[1], peering_ids, request).await?;
    let association = return_path(
        shell,
        sides,
        peering_ids,
        earlier,
        request,
        association,
        &mut warnings,
    )
    .await?;
    Ok((association, warnings))
}

/// Associates the peering attachment with each side's peering route table where it has none
/// (or, with `movePeeringAssociation`, moves it there), and reports both sides. A dry run only
/// says what it would do.
async fn associate_peering(
    (active, active_side): (&Ec2, &SideSnapshot),
    (passive, passive_side): (&Ec2, &SideSnapshot),
    ids: Option<&AttachmentIds>,
    request: &ResolvedRequest,
) -> Result<(AssociationReport, Vec<String>)> {
    let (active_result, passive_result) = tokio::join!(
        associate_side(active, active_side, ids.map(|ids| ids.active.as_str()), request),
        associate_side(
            passive,
            passive_side,
            ids.map(|ids| ids.passive.as_str()),
            request
        ),
    );
    let (active_result, passive_result) = (active_result?, passive_result?);
    let warnings = [(&active_result, active_side), (&passive_result, passive_side)]
        .into_iter()
        .filter(|(result, _)| result.outcome == AssociationOutcome::Elsewhere)
        .map(|(result, snapshot)| {
            format!(
                "the peering attachment is associated with {} on the {} side ({}), not with {}; \
                 left there, so traffic arriving over the peering is looked up in {}. Set \
                 movePeeringAssociation to move it (arriving traffic is dropped between the \
                 disassociation and the new association)",
                result
                    .associated_route_table_id
                    .as_deref()
                    .unwrap_or("another table"),
                snapshot.side,
                snapshot.region,
                result.route_table_id,
                result
                    .associated_route_table_id
                    .as_deref()
                    .unwrap_or("that table"),
            )
        })
        .collect();
    let settled = active_result.outcome.settled() && passive_result.outcome.settled();
    Ok((
        AssociationReport {
            active: active_result,
            passive: passive_result,
            settled,
        },
        warnings,
    ))
}

async fn associate_side(
    ec2: &Ec2,
    snapshot: &SideSnapshot,
    peering_id: Option<&str>,
    request: &ResolvedRequest,
) -> Result<SideAssociation> {
    let wanted = snapshot.peering_table.clone();
    let Some(peering_id) = peering_id else {
        return Ok(SideAssociation {
            route_table_id: wanted,
            associated_route_table_id: None,
            outcome: AssociationOutcome::NoPeeringYet,
            return_propagation: None,
        });
    };
    let current = snapshot.associations.get(peering_id);
    let associated_route_table_id = current.map(|a| a.route_table_id.clone());
    let dry_run = request.dry_run;
    let outcome = match plan_association(current, &wanted, request.move_peering_association) {
        AssociationStep::Done => AssociationOutcome::Present,
        AssociationStep::Wait => AssociationOutcome::InProgress,
        AssociationStep::Elsewhere { .. } => AssociationOutcome::Elsewhere,
        AssociationStep::Associate if dry_run => AssociationOutcome::WouldAssociate,
        AssociationStep::Disassociate { .. } if dry_run => AssociationOutcome::WouldMove,
        AssociationStep::Associate => {
            ec2.associate(&wanted, peering_id).await?;
            AssociationOutcome::Associated
        }
        AssociationStep::Disassociate { route_table_id } => {
            ec2.disassociate(&route_table_id, peering_id).await?;
            AssociationOutcome::Disassociated
        }
    };
    info!(action = "AssociatePeering", region = %snapshot.region, attachment_id = peering_id,
          route_table_id = %wanted, outcome = ?outcome, "peering association");
    Ok(SideAssociation {
        route_table_id: wanted,
        associated_route_table_id,
        outcome,
        return_propagation: None,
    })
}

/// With `returnPropagation`: on each side, enables propagation of each tagged VPC's attachment
/// into the table arriving traffic is looked up in, where that table does not reach the VPC
/// (see [`plan_return`]). Each is recorded before it is enabled, so a crash between the two
/// leaves a record teardown can act on, never a propagation nobody knows the tool made; an
/// enable EC2 refuses is taken out of the record again, and an entry whose propagation is off
/// and no longer wanted (a crash, or a failed clean-up) is dropped by the next pass
/// ([`plan_record`]). While a
/// propagation is being enabled the association report is not settled: the state machine waits
/// and calls again, and the next pass walks the propagated routes as EC2 then lists them. A dry
/// run only says what it would enable.
async fn return_path(
    shell: &Shell,
    sides: [(&Ec2, &SideSnapshot); 2],
    ids: Option<&AttachmentIds>,
    earlier: Option<&AssociationReport>,
    request: &ResolvedRequest,
    mut report: AssociationReport,
    warnings: &mut Vec<String>,
) -> Result<AssociationReport> {
    let Some(ids) = ids.filter(|_| request.options.return_propagation) else {
        return Ok(report);
    };
    let [(active, active_side), (passive, passive_side)] = sides;
    let (active_result, passive_result) = tokio::join!(
        propagate_side(shell, active, active_side, &ids.active, request.dry_run),
        propagate_side(shell, passive, passive_side, &ids.passive, request.dry_run),
    );
    for (result, side_report, earlier_side) in [
        (active_result?, &mut report.active, earlier.map(|e| &e.active)),
        (passive_result?, &mut report.passive, earlier.map(|e| &e.passive)),
    ] {
        report.settled &= result.settled;
        warnings.extend(result.warnings);
        side_report.return_propagation = result.route_table_id.map(|table| {
            ReturnPropagation::after_pass(
                &table,
                earlier_side.and_then(|side| side.return_propagation.as_ref()),
                &result.enabled,
                result.present,
            )
        });
    }
    Ok(report)
}

/// What the return-path step did on one side.
struct SidePropagation {
    /// `None` when the peering is left associated with another table: nothing was done.
    route_table_id: Option<String>,
    /// Enabled by this pass (in a dry run: would be).
    enabled: Vec<String>,
    present: usize,
    settled: bool,
    warnings: Vec<String>,
}

async fn propagate_side(
    shell: &Shell,
    ec2: &Ec2,
    snapshot: &SideSnapshot,
    peering_id: &str,
    dry_run: bool,
) -> Result<SidePropagation> {
    let Some(table_id) = snapshot.return_table.as_deref() else {
        return Ok(SidePropagation {
            route_table_id: None,
            enabled: Vec::new(),
            present: 0,
            settled: true,
            warnings: vec![format!(
                "returnPropagation: the peering attachment is left associated with another table \
                 than {} on the {} side ({}), so no propagation was enabled; set \
                 movePeeringAssociation to move it there",
                snapshot.peering_table, snapshot.side, snapshot.region
            )],
        });
    };
    let plan = plan_return(
        snapshot.table_routes(table_id),
        &snapshot.propagations,
        &snapshot.tagged,
        (&snapshot.attachments, &snapshot.not_ready),
    );
    let mut done = SidePropagation {
        route_table_id: Some(table_id.to_owned()),
        enabled: Vec::new(),
        present: plan.present,
        settled: plan.enabling == 0,
        warnings: plan
            .not_ready
            .iter()
            .map(|attachment_id| {
                format!(
                    "returnPropagation: {attachment_id} in {} is not available yet, so its \
                     propagation into {table_id} waits for a later run",
                    snapshot.region
                )
            })
            .collect(),
    };
    let tags = snapshot
        .tgw_tables
        .get(table_id)
        .map_or(&[][..], |table| table.tags.as_slice());
    let recorded = record::recorded_propagations(tags, peering_id);
    let mut step = plan_record(&recorded, &snapshot.propagations, &plan.enable);
    let mut enable = plan.enable;
    if dry_run || (enable.is_empty() && step.intent == recorded) {
        done.enabled = enable;
        return Ok(done);
    }
    if !record::propagations_fit(tags, peering_id, &step.intent) {
        done.warnings.push(format!(
            "{table_id} ({}) has no room left in its tags to record {} propagations; none was \
             enabled, so traffic arriving over the peering still has no route to those VPCs",
            snapshot.region,
            enable.len()
        ));
        enable.clear();
        step = plan_record(&recorded, &snapshot.propagations, &enable);
    }
    if !step.dropped.is_empty() {
        info!(action = "ForgetPropagation", region = %snapshot.region, route_table_id = table_id,
              peering_attachment_id = peering_id, dropped = ?step.dropped,
              "recorded propagations that are off and no longer wanted: an enable that failed or never ran");
    }
    let table = PropagationTable {
        shell,
        ec2,
        table_id,
        peering_id,
    };
    // The record first, so that the tool never enables a propagation it has not recorded.
    let keys = table
        .write_record(
            &record::propagation_keys(tags, peering_id),
            &recorded,
            &step.intent,
        )
        .await?;
    table.enable_all(&enable, &step.intent, keys).await?;
    info!(action = "EnablePropagation", region = %snapshot.region, route_table_id = table_id,
          peering_attachment_id = peering_id, enabled = enable.len(), "return path propagations");
    done.settled &= enable.is_empty();
    done.enabled = enable;
    Ok(done)
}

/// One return table's propagation record and enables, for one peering.
struct PropagationTable<'a> {
    shell: &'a Shell,
    ec2: &'a Ec2,
    table_id: &'a str,
    peering_id: &'a str,
}

impl PropagationTable<'_> {
    /// Makes the record list `ids` (its tags now have `keys` and list `current`); the record's
    /// keys after.
    async fn write_record(
        &self,
        keys: &[String],
        current: &BTreeSet<String>,
        ids: &BTreeSet<String>,
    ) -> Result<Vec<String>> {
        if current == ids {
            return Ok(keys.to_vec());
        }
        let (put, delete) = record::propagation_record_writes(keys, self.peering_id, ids);
        let limiter = self.shell.route_write_limiter(self.ec2);
        if !put.is_empty() {
            limiter.until_ready().await;
            self.ec2.create_tags(self.table_id, &put).await?;
        }
        if !delete.is_empty() {
            limiter.until_ready().await;
            self.ec2.delete_tags(self.table_id, &delete).await?;
        }
        Ok(put.into_iter().map(|(key, _)| key).collect())
    }

    /// Enables each of `enable` in order, stopping at the first failure. Then, best effort, takes
    /// out of the record (`intent`, kept under `keys`) the enables EC2 refused or that never ran,
    /// so the record names no propagation the tool did not make; the enable's error is the one
    /// returned.
    async fn enable_all(
        &self,
        enable: &[String],
        intent: &BTreeSet<String>,
        keys: Vec<String>,
    ) -> Result<()> {
        let limiter = self.shell.route_write_limiter(self.ec2);
        let mut outcomes = BTreeMap::new();
        for attachment_id in enable {
            limiter.until_ready().await;
            let Err(err) = self.ec2.enable_propagation(self.table_id, attachment_id).await else {
                outcomes.insert(attachment_id.clone(), EnableOutcome::Enabled);
                continue;
            };
            let outcome = if err.made_no_change() {
                EnableOutcome::Refused
            } else {
                EnableOutcome::Unknown
            };
            outcomes.insert(attachment_id.clone(), outcome);
            let kept = record_after_enables(intent, enable, &outcomes);
            if let Err(unwritten) = self.write_record(&keys, intent, &kept).await {
                warn!(action = "ForgetPropagation", route_table_id = self.table_id,
                      region = self.ec2.region(), error = %unwritten,
                      "could not take the failed enables out of the record; the next pass drops them");
            }
            return Err(err);
        }
        Ok(())
    }
}

/// Both sides, each as its EC2 edge and its snapshot.
struct Sides<'a> {
    active: (&'a Ec2, &'a SideSnapshot),
    passive: (&'a Ec2, &'a SideSnapshot),
}

/// Writes both sides' plans (a failure on one side must not cut the other side's writes short:
/// both run to the end), each side recording its creates before it makes them.
async fn apply_and_record(
    shell: &Shell,
    sides: &Sides<'_>,
    (active_plan, passive_plan): (SidePlan, SidePlan),
    peering: Peering<'_>,
    budget: Budget,
) -> Result<((SideOutcome, SideOutcome), Vec<String>)> {
    let records = &shell.records()?;
    let (active_pass, passive_pass) = tokio::join!(
        apply_recorded(shell, records, sides.active, active_plan, peering.active, budget),
        apply_recorded(
            shell,
            records,
            sides.passive,
            passive_plan,
            peering.passive,
            budget
        ),
    );
    let ((active_pass, mut warnings), (passive_pass, passive_warnings)) = (active_pass?, passive_pass?);
    warnings.extend(passive_warnings);
    Ok(((active_pass, passive_pass), warnings))
}

/// One side's writes between two updates of its tables' records (see [`crate::plan::record`]):
/// first the intent (every planned create added), so that a crash between a create and its
/// record still leaves the route known as the tool's; then the outcome (what was created added,
/// what was removed taken out, what was planned but not made dropped again). A CIDR recorded
/// without its route is harmless: only live routes to the target count as the tool's. A table
/// whose record an earlier version kept in its tags is migrated by the outcome's write.
async fn apply_recorded(
    shell: &Shell,
    records: &RecordStore,
    side: (&Ec2, &SideSnapshot),
    plan: SidePlan,
    peering_id: &str,
    budget: Budget,
) -> Result<(SideOutcome, Vec<String>)> {
    let scope = RecordScope {
        region: side.0.region(),
        peering_id,
    };
    let mut ledger = Ledger::new(side.1, &plan);
    let mut warnings = Vec::new();
    let intents: Vec<(String, Vec<IpNet>)> = tables_of(&plan)
        .filter(|(_, work)| !work.create.is_empty())
        .map(|(id, work)| (id.to_owned(), work.create.clone()))
        .collect();
    let mut writer = RecordWriter {
        shell,
        records,
        ec2: side.0,
        scope,
        warnings: &mut warnings,
    };
    for (table_id, creates) in intents {
        let mut intent = ledger.recorded(&table_id);
        intent.extend(creates);
        ledger.write(&mut writer, &table_id, intent).await?;
    }
    let present_when_read: BTreeMap<String, BTreeSet<IpNet>> = tables_of(&plan)
        .map(|(id, work)| (id.to_owned(), work.present.iter().copied().collect()))
        .collect();
    let outcome = apply(shell, side, plan, peering_id, budget).await?;
    // A planned create that found its route already there via the tool's target was made by
    // this pass all the same: a create whose answer was lost, which the SDK sent again (or
    // another run of this tool, which records it too). Its intent is recorded; so it stays.
    let worked: BTreeMap<&str, (Vec<IpNet>, &[IpNet])> = outcome
        .tgw
        .iter()
        .map(|t| (t.route_table_id.as_str(), &t.work))
        .chain(outcome.vpc.iter().map(|t| (t.route_table_id.as_str(), &t.work)))
        .map(|(id, work)| {
            let read = present_when_read.get(id);
            let appeared = work
                .present
                .iter()
                .filter(|cidr| read.is_none_or(|r| !r.contains(cidr)));
            let made: Vec<IpNet> = work.created.iter().chain(appeared).copied().collect();
            (id, (made, work.removed.as_slice()))
        })
        .collect();
    // Every table with work, and every other recorded table the pass read: a record naming a
    // route that is no longer there (a pass that stopped between its writes and this one) is
    // put right by the next pass, even with nothing left to write.
    let recorded_tables = side.1.records.keys().map(String::as_str);
    let tables: BTreeSet<&str> = worked.keys().copied().chain(recorded_tables).collect();
    for table_id in tables {
        if side.1.gone_tables.contains(table_id) {
            continue;
        }
        let (created, removed) = worked
            .get(table_id)
            .map_or((&[][..], &[][..]), |(made, removed)| (made.as_slice(), *removed));
        let done = side.1.record_after_pass(table_id, peering_id, created, removed);
        ledger.write(&mut writer, table_id, done).await?;
    }
    for table_id in &side.1.gone_tables {
        let record = &side.1.records[table_id];
        records.replace(scope, table_id, &[], &record.sort_keys).await?;
        info!(action = "ForgetRecord", route_table_id = %table_id, region = side.0.region(),
              "removed the record of a table that no longer exists");
    }
    Ok((outcome, warnings))
}

/// Every table of a side's plan with its work.
fn tables_of(plan: &SidePlan) -> impl Iterator<Item = (&str, &RoutePlan)> {
    plan.tgw
        .iter()
        .map(|t| (t.route_table_id.as_str(), &t.work))
        .chain(plan.vpc.iter().map(|t| (t.route_table_id.as_str(), &t.work)))
}

/// Where one side's record writes go: the state table, and (to delete an earlier version's
/// tags) the side's EC2 at its pace.
struct RecordWriter<'a> {
    shell: &'a Shell,
    records: &'a RecordStore,
    ec2: &'a Ec2,
    scope: RecordScope<'a>,
    warnings: &'a mut Vec<String>,
}

/// The records of one side's tables, as this pass rewrote them.
struct Ledger {
    now: record::Records,
}

impl Ledger {
    fn new(snapshot: &SideSnapshot, plan: &SidePlan) -> Self {
        let now = tables_of(plan)
            .map(|(table_id, _)| table_id)
            .chain(snapshot.records.keys().map(String::as_str))
            .map(|table_id| {
                let record = snapshot.records.get(table_id).cloned().unwrap_or_default();
                (table_id.to_owned(), record)
            })
            .collect();
        Self { now }
    }

    fn recorded(&self, table_id: &str) -> BTreeSet<IpNet> {
        self.now
            .get(table_id)
            .map(|record| record.cidrs.clone())
            .unwrap_or_default()
    }

    /// Makes the table's record list exactly `cidrs`, if it does not already: its items
    /// replaced in one transaction (an empty record leaves none), then any tags an earlier
    /// version recorded in deleted. A record too large for one transaction is not written, with
    /// a warning.
    async fn write(
        &mut self,
        to: &mut RecordWriter<'_>,
        table_id: &str,
        cidrs: BTreeSet<IpNet>,
    ) -> Result<()> {
        let Some(record) = self.now.get_mut(table_id) else {
            return Ok(());
        };
        if record.cidrs == cidrs && record.legacy_keys.is_empty() {
            return Ok(());
        }
        let items = record::record_items(table_id, &cidrs);
        if items.len() > record::MAX_ITEMS {
            to.warnings.push(format!(
                "{table_id}: {} routes of this peering are more than one record can hold; \
                 teardown and prune will leave the routes it cannot record",
                cidrs.len()
            ));
            return Ok(());
        }
        to.records
            .replace(to.scope, table_id, &items, &record.sort_keys)
            .await?;
        record.sort_keys = items.into_iter().map(|item| item.sort_key).collect();
        record.cidrs = cidrs;
        if !record.legacy_keys.is_empty() {
            to.shell.route_write_limiter(to.ec2).until_ready().await;
            to.ec2.delete_tags(table_id, &record.legacy_keys).await?;
            info!(
                action = "MigrateRecord",
                route_table_id = table_id,
                region = to.ec2.region(),
                "moved the record from the table's tags to the state table"
            );
            record.legacy_keys.clear();
        }
        Ok(())
    }
}

/// The peering attachment the state names, checked: it joins the requested gateways and it is
/// available. `None` only in a dry run with no peering yet (it plans for the peering as it will
/// be once live).
async fn live_attachment(
    active: &Ec2,
    request: &ResolvedRequest,
    ids: Option<&AttachmentIds>,
) -> Result<Option<PeeringAttachment>> {
    let found = match ids {
        Some(ids) => active.peering_attachment(&ids.active).await?,
        None => None,
    };
    let attachment = match (found, ids) {
        (Some(attachment), Some(_)) => {
            attachment.check_joins(request)?;
            attachment
        }
        (None, Some(ids)) if !request.dry_run => {
            return Err(Error::PeeringAttachmentNotFound {
                attachment_id: ids.active.clone(),
                region: request.active_region.clone(),
            })
        }
        _ => return Ok(None),
    };
    match attachment.state.phase() {
        Phase::Ready => Ok(Some(attachment)),
        Phase::Failed | Phase::Deleting | Phase::Gone | Phase::Unknown => Err(Error::PeeringFailed {
            attachment_id: attachment.id,
            state: attachment.state.to_string(),
        }),
        // A dry run plans for the peering as it will be once live.
        _ if request.dry_run => Ok(Some(attachment)),
        Phase::Waiting | Phase::Acceptable => Err(Error::PeeringNotReady {
            attachment_id: attachment.id,
            state: attachment.state.to_string(),
        }),
    }
}

/// Reads one side: its VPCs (keeping the tagged ones), their attachments to its transit gateway
/// and their route tables, every attachment's association, and the routes and tags of each TGW
/// route table the pass plans or walks.
pub(crate) async fn read_side(
    ec2: &Ec2,
    side: Side,
    request: &ResolvedRequest,
    peering_id: Option<&str>,
    records: Option<&RecordStore>,
) -> Result<SideSnapshot> {
    let (transit_gateway_id, named_table, peering_table) = side_settings(side, request);
    let (vpcs, attachments, associations, route_tables, mut records) = tokio::try_join!(
        ec2.vpcs(),
        ec2.vpc_attachments(transit_gateway_id),
        ec2.associations(transit_gateway_id),
        ec2.route_tables_of(transit_gateway_id),
        read_records(records, ec2.region(), peering_id),
    )?;
    merge_legacy_tags(
        &mut records,
        route_tables.iter().map(|t| (&t.id, &t.tags)),
        peering_id,
    );
    let tagged: Vec<Vpc> = vpcs
        .into_iter()
        .filter(|vpc| is_tagged(vpc, &request.vpc_tag_key))
        .collect();
    let tagged_ids: BTreeSet<&str> = tagged.iter().map(|vpc| vpc.id.as_str()).collect();
    let not_ready = attachments.not_ready;
    let attachments: BTreeMap<String, VpcAttachment> = attachments
        .attached
        .into_iter()
        .filter(|attachment| tagged_ids.contains(attachment.vpc_id.as_str()))
        .map(|attachment| (attachment.vpc_id.clone(), attachment))
        .collect();
    let named_tables: Vec<String> = named_table
        .as_ref()
        .map(|tables| tables.ids().to_vec())
        .unwrap_or_default();
    let recorded_tables = recorded_tgw_tables(&route_tables, request, &records);
    let tables_to_read: BTreeSet<String> = named_tables
        .iter()
        .chain(std::iter::once(peering_table))
        .cloned()
        .chain(
            attachments
                .values()
                .map(|attachment| attachment.id.as_str())
                .chain(peering_id)
                .filter_map(|id| associations.get(id))
                .map(|association| association.route_table_id.clone()),
        )
        .chain(recorded_tables)
        .collect();
    let return_table = return_table(
        peering_id.and_then(|id| associations.get(id)),
        peering_table,
        request.move_peering_association,
    )
    .map(str::to_owned);
    let read_propagations = async {
        match (peering_id, &return_table) {
            (Some(_), Some(table)) if request.options.return_propagation => ec2.propagations(table).await,
            _ => Ok(BTreeMap::new()),
        }
    };
    let (tgw_tables, vpc_reads, propagations, recorded_vpc_tables) = tokio::try_join!(
        read_tgw_tables(ec2, &tables_to_read, &route_tables),
        read_vpc_tables(ec2, &attachments),
        read_propagations,
        read_recorded_vpc_tables(ec2, request, peering_id, &records),
    )?;
    let read = table_ids(&vpc_reads.tables);
    let recorded_vpc_tables = not_among(recorded_vpc_tables, &read);
    let gone_tables = gone_tables(request, &records, &route_tables, &recorded_vpc_tables, &read);
    let vpc_tables_read = vpc_reads.tables.values().flatten().chain(&recorded_vpc_tables);
    merge_legacy_tags(
        &mut records,
        vpc_tables_read.map(|t| (&t.id, &t.tags)),
        peering_id,
    );
    Ok(SideSnapshot {
        side,
        region: ec2.region().to_owned(),
        transit_gateway_id: transit_gateway_id.clone(),
        named_tables,
        peering_table: peering_table.clone(),
        return_table,
        propagations,
        not_ready,
        tagged,
        attachments,
        associations,
        tgw_tables,
        vpc_tables: vpc_reads.tables,
        network_acls: vpc_reads.network_acls,
        acl_traffic: request.options.acl_traffic,
        security_groups: vpc_reads.security_groups,
        prefix_lists: vpc_reads.prefix_lists,
        recorded_vpc_tables,
        records,
        gone_tables,
    })
}

/// With prune, the tables the record names that no longer exist: TGW tables not among the
/// gateway's, and (with VPC routes, when they were looked up) VPC tables not found.
fn gone_tables(
    request: &ResolvedRequest,
    records: &record::Records,
    route_tables: &[crate::aws::ec2::RouteTable],
    recorded_vpc_tables: &[VpcRouteTable],
    vpc_tables_read: &BTreeSet<&str>,
) -> BTreeSet<String> {
    let options = &request.options;
    if !options.prune.enabled {
        return BTreeSet::new();
    }
    let exists = |id: &str| {
        if id.starts_with("rtb-") {
            // Not looked up without VPC routes: then nothing is known to be gone.
            !options.vpc_routes
                || vpc_tables_read.contains(id)
                || recorded_vpc_tables.iter().any(|table| table.id == id)
        } else {
            route_tables.iter().any(|table| table.id == id)
        }
    };
    records.keys().filter(|id| !exists(id)).cloned().collect()
}

/// One side's transit gateway, the tables the request names for it, and the peering's table.
fn side_settings(
    side: Side,
    request: &ResolvedRequest,
) -> (&String, &Option<crate::contract::state::RouteTableIds>, &String) {
    match side {
        Side::Active => (
            &request.active_transit_gateway_id,
            &request.active_route_table_id,
            &request.active_peering_route_table_id,
        ),
        Side::Passive => (
            &request.passive_transit_gateway_id,
            &request.passive_route_table_id,
            &request.passive_peering_route_table_id,
        ),
    }
}

/// Merges into `records` what the tables' tags from an earlier version record of the peering.
fn merge_legacy_tags<'a>(
    records: &mut record::Records,
    tables: impl Iterator<Item = (&'a String, &'a Vec<(String, String)>)>,
    peering_id: Option<&str>,
) {
    let Some(peering_id) = peering_id else { return };
    for (table_id, tags) in tables {
        record::merge_legacy(records, table_id, tags, peering_id);
    }
}

/// This side's record of the peering, from the state table; none before there is a peering.
async fn read_records(
    records: Option<&RecordStore>,
    region: &str,
    peering_id: Option<&str>,
) -> Result<record::Records> {
    match (records, peering_id) {
        (Some(records), Some(peering_id)) => records.read(RecordScope { region, peering_id }).await,
        _ => Ok(record::Records::new()),
    }
}

/// With prune, the gateway's tables that the record lists: they are read too, because a table
/// no longer routed at all still holds routes to remove.
fn recorded_tgw_tables<'a>(
    route_tables: &'a [crate::aws::ec2::RouteTable],
    request: &ResolvedRequest,
    records: &'a record::Records,
) -> impl Iterator<Item = String> + 'a {
    let prune = request.options.prune.enabled;
    route_tables
        .iter()
        .filter(move |table| prune && records.get(&table.id).is_some_and(|r| !r.cidrs.is_empty()))
        .map(|table| table.id.clone())
}

/// With prune and VPC routes, every VPC route table of the Region that the record lists, or
/// whose tags hold an earlier version's record of this peering (one call by the tag's key):
/// those of VPCs no longer tagged or attached too.
async fn read_recorded_vpc_tables(
    ec2: &Ec2,
    request: &ResolvedRequest,
    peering_id: Option<&str>,
    records: &record::Records,
) -> Result<Vec<VpcRouteTable>> {
    let Some(id) = peering_id.filter(|_| request.options.prune.enabled && request.options.vpc_routes) else {
        return Ok(Vec::new());
    };
    let recorded: Vec<String> = records
        .keys()
        .filter(|table_id| table_id.starts_with("rtb-"))
        .cloned()
        .collect();
    let legacy_key = record::first_key(id);
    let (tagged, listed) = tokio::try_join!(ec2.vpc_route_tables_tagged(&legacy_key), async {
        if recorded.is_empty() {
            Ok(Vec::new())
        } else {
            ec2.vpc_route_tables_by_id(&recorded).await
        }
    },)?;
    let mut tables: BTreeMap<String, VpcRouteTable> = BTreeMap::new();
    for table in tagged.into_iter().chain(listed) {
        tables.insert(table.id.clone(), table);
    }
    Ok(tables.into_values().collect())
}

/// The routes of each table in `ids`, with the tags `route_tables` (the gateway's tables as
/// listed) gives it.
async fn read_tgw_tables(
    ec2: &Ec2,
    ids: &BTreeSet<String>,
    route_tables: &[crate::aws::ec2::RouteTable],
) -> Result<BTreeMap<String, TgwTable>> {
    let routes = try_join_all(ids.iter().map(|id| ec2.routes(id))).await?;
    let tags_of: BTreeMap<&str, &[(String, String)]> = route_tables
        .iter()
        .map(|table| (table.id.as_str(), table.tags.as_slice()))
        .collect();
    Ok(ids
        .iter()
        .zip(routes)
        .map(|(id, routes)| {
            let tags = tags_of
                .get(id.as_str())
                .map(|tags| tags.to_vec())
                .unwrap_or_default();
            (id.clone(), TgwTable { routes, tags })
        })
        .collect())
}

fn table_ids(tables: &BTreeMap<String, Vec<VpcRouteTable>>) -> BTreeSet<&str> {
    tables.values().flatten().map(|table| table.id.as_str()).collect()
}

/// The recorded tables that are not among those `read` already.
fn not_among(recorded: Vec<VpcRouteTable>, read: &BTreeSet<&str>) -> Vec<VpcRouteTable> {
    recorded
        .into_iter()
        .filter(|table| !read.contains(table.id.as_str()))
        .collect()
}

/// What the reachability report reads of the attached tagged VPCs.
#[derive(Default)]
struct VpcReads {
    /// Each VPC's route tables in its attachment's zones.
    tables: BTreeMap<String, Vec<VpcRouteTable>>,
    network_acls: BTreeMap<String, VpcAcls>,
    security_groups: Vec<SecurityGroup>,
    /// The entries of each prefix list the groups' inbound rules reference.
    prefix_lists: BTreeMap<String, Vec<IpNet>>,
}

/// Each attached tagged VPC's route tables and network ACLs in its attachment's zones, and its
/// security groups; read whether or not VPC routes are on, because the reachability report needs
/// them.
async fn read_vpc_tables(ec2: &Ec2, attachments: &BTreeMap<String, VpcAttachment>) -> Result<VpcReads> {
    let attached: Vec<String> = attachments.keys().cloned().collect();
    if attached.is_empty() {
        return Ok(VpcReads::default());
    }
    let (subnets, tables, acls, security_groups) = tokio::try_join!(
        ec2.subnets(&attached),
        ec2.vpc_route_tables(&attached),
        ec2.network_acls(&attached),
        ec2.security_groups(&attached)
    )?;
    let referenced: BTreeSet<&String> = security_groups
        .iter()
        .flat_map(|group| &group.ingress_prefix_lists)
        .collect();
    let entries = try_join_all(referenced.iter().map(|id| ec2.prefix_list_entries(id))).await?;
    let prefix_lists = referenced.into_iter().cloned().zip(entries).collect();
    let tables = tables_by_vpc(attachments.values(), &subnets, &tables)
        .into_iter()
        .map(|(vpc_id, chosen)| (vpc_id, chosen.into_iter().cloned().collect()))
        .collect();
    Ok(VpcReads {
        tables,
        network_acls: acls_by_vpc(attachments.values(), &subnets, &acls),
        security_groups,
        prefix_lists,
    })
}

fn log_plan(plan: &PassPlan, peering: Peering) {
    let creates = |plan: &SidePlan| {
        let tgw: usize = plan.tgw.iter().map(|t| t.work.create.len()).sum();
        let vpc: usize = plan.vpc.iter().map(|t| t.work.create.len()).sum();
        (tgw, vpc)
    };
    let (active_create, active_vpc_create) = creates(&plan.active);
    let (passive_create, passive_vpc_create) = creates(&plan.passive);
    info!(
        action = "PlanRoutes",
        attachment_id = peering.active,
        active_tgw_tables = plan.active.tgw.len(),
        active_create,
        passive_tgw_tables = plan.passive.tgw.len(),
        passive_create,
        active_vpc_tables = plan.active.vpc.len(),
        active_vpc_create,
        passive_vpc_tables = plan.passive.vpc.len(),
        passive_vpc_create,
        "planned routes"
    );
}

fn log_pass(routes: &RoutesReport, reachable: &crate::plan::reachability::Reachability, peering: Peering) {
    let remaining = |side: Side| {
        routes
            .tgw_tables_of(side)
            .map(|t| t.counts.remaining)
            .sum::<usize>()
    };
    info!(
        action = "ModifyRoutes",
        attachment_id = peering.active,
        pass = routes.passes,
        complete = routes.complete,
        active_remaining = remaining(Side::Active),
        passive_remaining = remaining(Side::Passive),
        pairs = reachable.pairs,
        reachable = reachable.reachable,
        "route pass finished"
    );
}

/// Writes the pass's CloudWatch Embedded Metric Format documents to stdout, one line each, apart
/// from tracing's lines (each line is written whole under stdout's lock), and returns the
/// `GatewayPair` they name.
fn emit_metrics(
    shell: &Shell,
    request: &ResolvedRequest,
    (earlier, routes): (Option<&RoutesReport>, &RoutesReport),
    reachability: &crate::plan::reachability::Reachability,
    last_pass: bool,
) -> String {
    use std::io::Write;
    let context = metrics::MetricContext {
        function_name: &shell.config().function_name,
        active: metrics::GatewayEnd {
            region: &request.active_region,
            transit_gateway_id: &request.active_transit_gateway_id,
        },
        passive: metrics::GatewayEnd {
            region: &request.passive_region,
            transit_gateway_id: &request.passive_transit_gateway_id,
        },
        timestamp_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX)),
        level: shell.config().log_level,
    };
    let mut out = std::io::stdout().lock();
    for document in metrics::emf_documents(&context, earlier, routes, reachability, last_pass) {
        if let Err(err) = writeln!(out, "{document}") {
            warn!(action = "EmitMetrics", error = %err, "could not write the metrics to stdout");
            break;
        }
    }
    metrics::gateway_pair(context.active, context.passive)
}

/// A dry run's answer: the plan of every table in place of `routes`, and the reachability of the
/// network as it is.
fn write_plan(
    state: &mut PeeringState,
    (active, passive): (&SideSnapshot, &SideSnapshot),
    plan: PassPlan,
    peering: Peering,
    no_peering_yet: bool,
) {
    let report = report_plan(active, passive, &plan, peering);
    let mut warnings = plan.warnings;
    if no_peering_yet {
        warnings.push(
            "no peering attachment exists yet: the plan is what a real run would route once peer \
             has created it and it is available"
                .to_owned(),
        );
    }
    warnings.extend(report.warnings);
    info!(
        action = "ModifyRoutes",
        dry_run = true,
        tgw_tables = report.plan.tgw_route_tables.len(),
        tgw_create = report
            .plan
            .tgw_route_tables
            .iter()
            .map(|t| t.plan.counts.create)
            .sum::<usize>(),
        vpc_tables = report.plan.vpc_route_tables.len(),
        "planned routes; changed nothing"
    );
    state.routes = None;
    state.notice = None;
    state.route_plan = Some(Report::Known(report.plan));
    state.warnings = Some(capped(warnings));
    state.reachability = Some(Report::Known(report.reachability));
}

/// A route table this pass may write to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Table {
    /// A transit gateway route table (by id); routes go via the peering attachment.
    Tgw(String),
    /// A VPC route table (by id); routes go via the side's transit gateway.
    Vpc(String),
}

/// One planned write: a create, or (with prune) the removal of a route the tool made.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Write {
    table: Table,
    cidr: IpNet,
}

/// What a write did.
enum Done {
    Create(Applied),
    Removed,
}

/// What became of one planned write: `None` when it was not started (the budget ran out, an
/// earlier write failed, or, for a removal, a create of the side was left undone).
struct Written {
    write: Write,
    result: Option<Result<Done>>,
}

/// The writes of `plan` that `of` lists for each table: the transit gateway tables' first.
fn writes_of(plan: &SidePlan, of: impl Fn(&RoutePlan) -> &[IpNet]) -> Vec<Write> {
    let tgw = plan.tgw.iter().flat_map(|table| {
        of(&table.work).iter().map(|cidr| Write {
            table: Table::Tgw(table.route_table_id.clone()),
            cidr: *cidr,
        })
    });
    let vpc = plan.vpc.iter().flat_map(|table| {
        of(&table.work).iter().map(|cidr| Write {
            table: Table::Vpc(table.route_table_id.clone()),
            cidr: *cidr,
        })
    });
    tgw.chain(vpc).collect()
}

/// Writes the planned creates at the Region's pace, a few at a time, until the plan is done or
/// the budget runs out: the transit gateway tables' first, then the VPC tables'. Then, only once
/// every create of the side is made (make before break), the planned removals, the same way.
/// The first write always goes out, so every pass makes progress and the state machine's loop
/// ends. After an error no new write starts; those in flight finish.
async fn apply(
    shell: &Shell,
    (ec2, snapshot): (&Ec2, &SideSnapshot),
    plan: SidePlan,
    attachment_id: &str,
    budget: Budget,
) -> Result<SideOutcome> {
    let target = |table: &Table| match table {
        Table::Tgw(_) => attachment_id.to_owned(),
        Table::Vpc(_) => snapshot.transit_gateway_id.clone(),
    };
    let creates = writes_of(&plan, |work| &work.create);
    let removals = writes_of(&plan, |work| &work.remove);
    let mut written = write_paced(shell, ec2, creates, Op::Create(&target), budget, true).await;
    let every_create_made = written.iter().all(|create| matches!(create.result, Some(Ok(_))));
    if every_create_made {
        let first = written.is_empty();
        written.extend(write_paced(shell, ec2, removals, Op::Remove, budget, first).await);
    } else {
        written.extend(removals.into_iter().map(|write| Written { write, result: None }));
    }
    outcomes(plan, written)
}

/// What a paced batch of writes does to each route.
#[derive(Clone, Copy)]
enum Op<'a> {
    /// Create the route, to where the table's kind says.
    Create(&'a (dyn Fn(&Table) -> String + Sync)),
    /// Delete the route (one already gone counts as done).
    Remove,
}

async fn write_paced(
    shell: &Shell,
    ec2: &Ec2,
    writes: Vec<Write>,
    op: Op<'_>,
    budget: Budget,
    first_goes_out: bool,
) -> Vec<Written> {
    let in_flight = shell.config().route_writes.in_flight;
    let limiter = shell.route_write_limiter(ec2);
    let first_write_done = AtomicBool::new(!first_goes_out);
    let halted = AtomicBool::new(false);
    let may_start = || {
        !halted.load(Ordering::SeqCst)
            && (!first_write_done.load(Ordering::SeqCst) || budget.allows_another_write())
    };
    stream::iter(writes)
        .map(|write| {
            let (limiter, may_start, first_write_done, halted) =
                (&limiter, &may_start, &first_write_done, &halted);
            async move {
                if !may_start() {
                    return Written { write, result: None };
                }
                limiter.until_ready().await;
                // The wait for the pace may have used up the budget.
                if (first_write_done.swap(true, Ordering::SeqCst) && !budget.allows_another_write())
                    || halted.load(Ordering::SeqCst)
                {
                    return Written { write, result: None };
                }
                let result = write_one(ec2, &write, op).await;
                if result.is_err() {
                    halted.store(true, Ordering::SeqCst);
                }
                Written {
                    write,
                    result: Some(result),
                }
            }
        })
        .buffer_unordered(in_flight.max(1))
        .collect()
        .await
}

async fn write_one(ec2: &Ec2, write: &Write, op: Op<'_>) -> Result<Done> {
    match (op, &write.table) {
        (Op::Create(target), Table::Tgw(id)) => {
            create_planned_route(ec2, id, write.cidr, &target(&write.table))
                .await
                .map(Done::Create)
        }
        (Op::Create(target), Table::Vpc(id)) => {
            create_planned_vpc_route(ec2, id, write.cidr, &target(&write.table))
                .await
                .map(Done::Create)
        }
        (Op::Remove, Table::Tgw(id)) => ec2.delete_route(id, write.cidr).await.map(|()| Done::Removed),
        (Op::Remove, Table::Vpc(id)) => ec2.delete_vpc_route(id, write.cidr).await.map(|()| Done::Removed),
    }
}

/// Each table's outcome: its plan's present and conflicts, and what became of its writes. The
/// first write's error (in plan order, whatever order the writes finished in) is the pass's.
fn outcomes(plan: SidePlan, written: Vec<Written>) -> Result<SideOutcome> {
    let start = |plan: RoutePlan| PassOutcome {
        present: plan.present,
        conflicts: plan.conflicts,
        ..PassOutcome::default()
    };
    let removals: BTreeSet<(Table, IpNet)> = plan
        .tgw
        .iter()
        .flat_map(|t| {
            t.work
                .remove
                .iter()
                .map(|cidr| (Table::Tgw(t.route_table_id.clone()), *cidr))
        })
        .chain(plan.vpc.iter().flat_map(|t| {
            t.work
                .remove
                .iter()
                .map(|cidr| (Table::Vpc(t.route_table_id.clone()), *cidr))
        }))
        .collect();
    let mut by_table: BTreeMap<Table, PassOutcome> = BTreeMap::new();
    let mut tgw_tables = Vec::new();
    for table in plan.tgw {
        by_table.insert(Table::Tgw(table.route_table_id.clone()), start(table.work));
        tgw_tables.push(table.route_table_id);
    }
    let mut vpc_of = Vec::new();
    for table in plan.vpc {
        by_table.insert(Table::Vpc(table.route_table_id.clone()), start(table.work));
        vpc_of.push((table.vpc_id, table.route_table_id));
    }
    let mut first_error: Option<(Write, Error)> = None;
    for Written { write, result } in written {
        let outcome = by_table.entry(write.table.clone()).or_default();
        let removal = removals.contains(&(write.table.clone(), write.cidr));
        match result {
            Some(Ok(Done::Create(Applied::Created))) => outcome.created.push(write.cidr),
            Some(Ok(Done::Create(Applied::FoundPresent))) => outcome.present.push(write.cidr),
            Some(Ok(Done::Create(Applied::FoundConflict { target }))) => outcome.conflicts.push(Conflict {
                cidr: write.cidr,
                target,
            }),
            Some(Ok(Done::Removed)) => outcome.removed.push(write.cidr),
            Some(Err(err)) => {
                if first_error.as_ref().is_none_or(|(first, _)| write < *first) {
                    first_error = Some((write, err));
                }
            }
            None if removal => outcome.remaining_removals.push(write.cidr),
            None => outcome.remaining.push(write.cidr),
        }
    }
    if let Some((_, err)) = first_error {
        return Err(err);
    }
    for outcome in by_table.values_mut() {
        outcome.created.sort();
        outcome.present.sort();
        outcome.conflicts.sort_by_key(|conflict| conflict.cidr);
        outcome.remaining.sort();
        outcome.removed.sort();
        outcome.remaining_removals.sort();
    }
    let tgw = tgw_tables
        .into_iter()
        .map(|route_table_id| TgwTableWork {
            work: by_table
                .remove(&Table::Tgw(route_table_id.clone()))
                .unwrap_or_default(),
            route_table_id,
        })
        .collect();
    let vpc = vpc_of
        .into_iter()
        .map(|(vpc_id, route_table_id)| VpcTableWork {
            work: by_table
                .remove(&Table::Vpc(route_table_id.clone()))
                .unwrap_or_default(),
            vpc_id,
            route_table_id,
        })
        .collect();
    Ok(SideOutcome { tgw, vpc })
}

/// What creating one planned route did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The route was created via the peering attachment.
    Created,
    /// The create was refused because the route already goes via the peering attachment.
    FoundPresent,
    /// The create was refused because the route already goes elsewhere; it was left alone.
    FoundConflict { target: String },
}

/// Creates one planned route. If EC2 refuses because the route appeared since the table was read
/// (a concurrent run, an operator, or a table too large to read whole), the route is re-read and
/// classified by the same rules as the plan, so a second writer is neither an error nor
/// overwritten.
pub async fn create_planned_route(
    ec2: &Ec2,
    route_table_id: &str,
    cidr: IpNet,
    attachment_id: &str,
) -> Result<Applied> {
    let created = ec2.create_route(route_table_id, cidr, attachment_id).await;
    settle(created, cidr, attachment_id, || {
        ec2.exact_route(route_table_id, cidr)
    })
    .await
}

/// Creates one planned VPC route via the local transit gateway, with the same handling of a
/// route that appeared since the table was read as [`create_planned_route`].
pub async fn create_planned_vpc_route(
    ec2: &Ec2,
    route_table_id: &str,
    cidr: IpNet,
    transit_gateway_id: &str,
) -> Result<Applied> {
    let created = ec2
        .create_vpc_route(route_table_id, cidr, transit_gateway_id)
        .await;
    settle(created, cidr, transit_gateway_id, || {
        ec2.exact_vpc_route(route_table_id, cidr)
    })
    .await
}

/// What a create's result means: done, or (if EC2 refused it) whatever the route re-read by
/// `reread` now is, classified against `target`.
async fn settle<R>(
    created: Result<()>,
    cidr: IpNet,
    target: &str,
    reread: impl FnOnce() -> R,
) -> Result<Applied>
where
    R: std::future::Future<Output = Result<Option<Route>>>,
{
    let err = match created {
        Ok(()) => return Ok(Applied::Created),
        Err(err @ Error::Ec2 { .. }) => err,
        Err(err) => return Err(err),
    };
    let Some(existing) = reread().await? else {
        return Err(err);
    };
    match classify(cidr, &[existing], target) {
        RouteOutcome::Present => Ok(Applied::FoundPresent),
        RouteOutcome::Conflict { target } => Ok(Applied::FoundConflict { target }),
        RouteOutcome::Create => Err(err),
    }
}

/// The report of the earlier passes of this execution, if the state carries an unfinished one
/// for the same route tables.
fn earlier_report(state: &PeeringState) -> Result<Option<RoutesReport>> {
    let earlier = match &state.routes {
        None => return Ok(None),
        // A finished report is from an earlier run (or pass of this one that waited only for
        // the peering's association); a new run starts afresh.
        Some(Report::Known(report)) if report.complete && association_settled(state) => return Ok(None),
        Some(Report::Known(report)) => report.clone(),
        Some(unreadable @ Report::Unreadable(raw)) => {
            if raw.get("complete") != Some(&serde_json::Value::Bool(false)) {
                return Ok(None);
            }
            let why = unreadable.why_unreadable().unwrap_or_default();
            return Err(Error::invalid(
                "routes",
                format!(
                    "is an unfinished report that cannot be read ({why}); pass modify-routes' own \
                     output back unchanged, or leave `routes` out to start afresh"
                ),
            ));
        }
    };
    Ok(Some(earlier))
}

/// False while the state says this execution is waiting for a peering association: its next
/// pass continues the same report.
fn association_settled(state: &PeeringState) -> bool {
    !matches!(
        &state.peering_association,
        Some(Report::Known(association)) if !association.settled
    )
}

/// Logs every warning and keeps at most [`MAX_WARNINGS`] for the output.
fn capped(mut warnings: Vec<String>) -> Vec<String> {
    for warning in &warnings {
        warn!(action = "ModifyRoutes", warning = %warning);
    }
    if warnings.len() > MAX_WARNINGS {
        let more = warnings.len() - (MAX_WARNINGS - 1);
        warnings.truncate(MAX_WARNINGS - 1);
        warnings.push(format!(
            "… and {more} more warnings; the function's log has them all"
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_unlimited_budget_always_allows_a_write_and_a_spent_one_never_does() {
        assert!(Budget::unlimited().allows_another_write());
        let far = Instant::now() + Duration::from_secs(3600);
        assert!(Budget::until(far, Duration::from_secs(60)).allows_another_write());
        let near = Instant::now() + Duration::from_millis(50);
        assert!(
            !Budget::until(near, Duration::from_secs(1)).allows_another_write(),
            "inside the margin"
        );
    }

    #[test]
    fn more_warnings_than_the_cap_keep_the_first_and_count_the_rest() {
        let warnings: Vec<String> = (0..60).map(|i| format!("w{i}")).collect();
        let kept = capped(warnings);
        assert_eq!(kept.len(), MAX_WARNINGS);
        assert_eq!(kept[MAX_WARNINGS - 2], format!("w{}", MAX_WARNINGS - 2));
        assert!(
            kept[MAX_WARNINGS - 1].contains("11 more warnings"),
            "{}",
            kept[MAX_WARNINGS - 1]
        );
    }
}
