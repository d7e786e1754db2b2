//! Teardown: remove what this tool created, in a safe order. `modify-routes` removes the routes
//! (this module's [`remove_routes`]), then `peer` deletes the attachment ([`delete_peering`]),
//! and the state machine waits until it is `deleted`.
//!
//! What is removed, and nothing else:
//! - routes this tool recorded when it created them (see [`crate::plan::record`]) that still go where
//!   it sent them: via the peering in a TGW table, via the local transit gateway in a VPC table;
//! - when this tool created the peering attachment (its `tgw-peering:managed-by` tag), every
//!   static route via that attachment in the two TGW route tables: the attachment is about to
//!   go, and a route via it would be left a blackhole;
//! - the attachment itself, only when this tool created it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::try_join_all;
use futures_util::stream::{self, StreamExt};
use ipnet::IpNet;
use tracing::{info, warn};

use crate::actions::routes::Budget;
use crate::aws::records::{RecordScope, RecordStore};
use crate::aws::{Ec2, Shell};
use crate::contract::request::{AttachmentIds, ResolvedRequest};
use crate::contract::state::{PeeringState, Report};
use crate::error::Result;
use crate::plan::peering::PeeringAttachment;
use crate::plan::record::{self, TableRecord};
use crate::plan::report::Omitted;
use crate::plan::teardown::{
    plan_table, PropagationTeardownReport, SideTableTeardownReport, TableTeardown, TableTeardownReport,
    TeardownReport,
};
use crate::plan::vpc_tables::VpcRouteTable;
use crate::plan::Side;

enum Kind {
    Tgw,
    Vpc,
}

/// One table to tear down: its plan and where its record is kept.
struct Job {
    kind: Kind,
    table: TableTeardown,
    record: TableRecord,
}

/// One TGW route table whose recorded propagations (`returnPropagation`) a teardown disables.
struct PropagationJob {
    route_table_id: String,
    attachments: BTreeSet<String>,
    record_keys: Vec<String>,
}

/// The tables of `tgw_tables` that hold a propagation record for `peering_id`.
fn propagation_jobs(tgw_tables: &[crate::aws::ec2::RouteTable], peering_id: &str) -> Vec<PropagationJob> {
    tgw_tables
        .iter()
        .filter_map(|table| {
            let record_keys = record::propagation_keys(&table.tags, peering_id);
            (!record_keys.is_empty()).then(|| PropagationJob {
                route_table_id: table.id.clone(),
                attachments: record::recorded_propagations(&table.tags, peering_id),
                record_keys,
            })
        })
        .collect()
}

/// One side's jobs: every TGW route table of the gateway that holds a route to remove (for a
/// peering this tool created, every static route via it, wherever it is), then the recorded VPC
/// route tables, then the records of tables that no longer exist. The record is the state
/// table's, with the tags an earlier version wrote merged in.
async fn side_jobs(
    ec2: &Ec2,
    store: &RecordStore,
    transit_gateway_id: &str,
    peering_id: &str,
    owned: bool,
) -> Result<(Vec<Job>, Vec<PropagationJob>)> {
    let legacy_key = record::first_key(peering_id);
    let scope = RecordScope {
        region: ec2.region(),
        peering_id,
    };
    let (tgw_tables, legacy_vpc_tables, mut records) = tokio::try_join!(
        ec2.route_tables_of(transit_gateway_id),
        ec2.vpc_route_tables_tagged(&legacy_key),
        store.read(scope),
    )?;
    let propagations = propagation_jobs(&tgw_tables, peering_id);
    for table in &tgw_tables {
        record::merge_legacy(&mut records, &table.id, &table.tags, peering_id);
    }
    // Without ownership, only recorded tables can hold a route to remove.
    let to_read: Vec<_> = tgw_tables
        .into_iter()
        .filter(|table| owned || records.contains_key(&table.id))
        .collect();
    let recorded_vpc_ids: Vec<String> = records
        .keys()
        .filter(|id| id.starts_with("rtb-"))
        .cloned()
        .collect();
    let (routes, vpc_tables) = tokio::try_join!(
        try_join_all(to_read.iter().map(|table| ec2.routes(&table.id))),
        async {
            if recorded_vpc_ids.is_empty() {
                Ok(Vec::new())
            } else {
                ec2.vpc_route_tables_by_id(&recorded_vpc_ids).await
            }
        },
    )?;
    let mut vpc_by_id: BTreeMap<String, VpcRouteTable> = BTreeMap::new();
    for table in legacy_vpc_tables.into_iter().chain(vpc_tables) {
        record::merge_legacy(&mut records, &table.id, &table.tags, peering_id);
        vpc_by_id.insert(table.id.clone(), table);
    }
    let mut jobs = Vec::new();
    for (table, routes) in to_read.into_iter().zip(routes) {
        let record = records.remove(&table.id).unwrap_or_default();
        let (deleted, left_alone) = plan_table(&routes.routes, &record.cidrs, peering_id, owned);
        if deleted.is_empty() && left_alone.is_empty() && record == TableRecord::default() {
            continue;
        }
        jobs.push(job(Kind::Tgw, table.id, (deleted, left_alone), record));
    }
    for (id, table) in vpc_by_id {
        let record = records.remove(&id).unwrap_or_default();
        let planned = plan_table(&table.routes, &record.cidrs, transit_gateway_id, false);
        jobs.push(job(Kind::Vpc, id, planned, record));
    }
    // What is left names tables that are gone: only their record remains to remove.
    for (id, record) in records {
        let kind = if id.starts_with("rtb-") {
            Kind::Vpc
        } else {
            Kind::Tgw
        };
        jobs.push(job(kind, id, (Vec::new(), Vec::new()), record));
    }
    Ok((jobs, propagations))
}

fn job(
    kind: Kind,
    route_table_id: String,
    (deleted, left_alone): (Vec<IpNet>, Vec<IpNet>),
    record: TableRecord,
) -> Job {
    Job {
        kind,
        table: TableTeardown {
            route_table_id,
            deleted,
            left_alone,
        },
        record,
    }
}

/// Disables the recorded propagations, then removes their records (last, so a teardown cut
/// short finds them again).
async fn disable_propagations(ec2: &Ec2, jobs: &[PropagationJob], shell: &Shell) -> Result<()> {
    let limiter = shell.route_write_limiter(ec2);
    for job in jobs {
        for attachment_id in &job.attachments {
            limiter.until_ready().await;
            ec2.disable_propagation(&job.route_table_id, attachment_id)
                .await?;
        }
        limiter.until_ready().await;
        ec2.delete_tags(&job.route_table_id, &job.record_keys).await?;
    }
    Ok(())
}

/// The deletes a pass did not start (the budget ran out), by route table.
type NotStarted = BTreeMap<String, BTreeSet<IpNet>>;

/// Deletes the planned routes at the Region's pace until the plan is done or the budget runs
/// out (the first delete always goes out, so every pass makes progress), then removes the record
/// of each table whose deletes are all done: a teardown cut short finds the rest again.
async fn apply(
    ec2: &Ec2,
    jobs: &[Job],
    (shell, store, scope): (&Shell, &RecordStore, RecordScope<'_>),
    budget: Budget,
) -> Result<NotStarted> {
    let limiter = shell.route_write_limiter(ec2);
    let in_flight = shell.config().route_writes.in_flight.max(1);
    let first_done = AtomicBool::new(false);
    let deletes: Vec<(&Job, IpNet)> = jobs
        .iter()
        .flat_map(|job| job.table.deleted.iter().map(move |cidr| (job, *cidr)))
        .collect();
    let results: Vec<(&Job, IpNet, Option<Result<()>>)> = stream::iter(deletes)
        .map(|(job, cidr)| {
            let (limiter, first_done) = (&limiter, &first_done);
            async move {
                let out_of_time = |first_done: &AtomicBool| {
                    first_done.swap(true, Ordering::SeqCst) && !budget.allows_another_write()
                };
                if first_done.load(Ordering::SeqCst) && !budget.allows_another_write() {
                    return (job, cidr, None);
                }
                limiter.until_ready().await;
                if out_of_time(first_done) {
                    return (job, cidr, None);
                }
                let deleted = match job.kind {
                    Kind::Tgw => ec2.delete_route(&job.table.route_table_id, cidr).await,
                    Kind::Vpc => ec2.delete_vpc_route(&job.table.route_table_id, cidr).await,
                };
                (job, cidr, Some(deleted))
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let mut not_started = NotStarted::new();
    for (job, cidr, result) in results {
        match result {
            Some(deleted) => deleted?,
            None => {
                not_started
                    .entry(job.table.route_table_id.clone())
                    .or_default()
                    .insert(cidr);
            }
        }
    }
    for job in jobs
        .iter()
        .filter(|job| !not_started.contains_key(&job.table.route_table_id))
    {
        store
            .replace(scope, &job.table.route_table_id, &[], &job.record.sort_keys)
            .await?;
        if !job.record.legacy_keys.is_empty() {
            limiter.until_ready().await;
            ec2.delete_tags(&job.table.route_table_id, &job.record.legacy_keys)
                .await?;
        }
    }
    Ok(not_started)
}

/// One side's deletes, then (once they are all done) its recorded propagations.
async fn apply_side(
    ec2: &Ec2,
    (jobs, propagations): (&[Job], &[PropagationJob]),
    (shell, store, peering_id): (&Shell, &RecordStore, &str),
    budget: Budget,
) -> Result<NotStarted> {
    let scope = RecordScope {
        region: ec2.region(),
        peering_id,
    };
    let not_started = apply(ec2, jobs, (shell, store, scope), budget).await?;
    if not_started.is_empty() {
        disable_propagations(ec2, propagations, shell).await?;
    }
    Ok(not_started)
}

/// `modify-routes` in a teardown: removes the recorded routes (and, for a peering this tool
/// created, every static route via it) on both sides, then their records. A teardown too large
/// for one invocation stops starting deletes before the deadline and reports `complete: false`;
/// the state machine calls again with this report, and the next pass removes the rest.
pub async fn remove_routes(shell: &Shell, mut state: PeeringState, budget: Budget) -> Result<PeeringState> {
    let (request, ids) = ResolvedRequest::from_state(&state, false)?;
    let earlier = match &state.teardown {
        Some(Report::Known(report)) if !report.complete && !request.dry_run => Some(report.clone()),
        _ => None,
    };
    let (active, passive) = shell.both_sides(&request).await?;
    let attachment = match &ids {
        Some(ids) => active.peering_attachment(&ids.active).await?,
        None => None,
    };
    let report = match (attachment, ids) {
        (Some(attachment), Some(ids)) => {
            attachment.check_joins(&request)?;
            remove_peering_routes(shell, &request, (&active, &passive), &attachment, &ids, budget).await?
        }
        _ => {
            info!(action = "Teardown", "no peering attachment: no route to remove");
            TeardownReport::default()
        }
    };
    // A dry run only previews: nobody is told.
    let pair = crate::plan::metrics::gateway_pair(
        crate::plan::metrics::GatewayEnd {
            region: &request.active_region,
            transit_gateway_id: &request.active_transit_gateway_id,
        },
        crate::plan::metrics::GatewayEnd {
            region: &request.passive_region,
            transit_gateway_id: &request.passive_transit_gateway_id,
        },
    );
    let attachment_id = state
        .attachment_id
        .clone()
        .flatten()
        .unwrap_or_else(|| "none".to_owned());
    let about = crate::plan::notice::About {
        gateway_pair: &pair,
        attachment_id: &attachment_id,
    };
    state.notice = (!request.dry_run)
        .then(|| crate::plan::notice::for_teardown(about, &report))
        .flatten()
        .map(Report::Known);
    let report = report.after(earlier.as_ref());
    state.routes_removed = Some(!request.dry_run && report.complete);
    state.teardown = Some(Report::Known(report));
    Ok(state)
}

async fn remove_peering_routes(
    shell: &Shell,
    request: &ResolvedRequest,
    (active, passive): (&Ec2, &Ec2),
    attachment: &PeeringAttachment,
    ids: &AttachmentIds,
    budget: Budget,
) -> Result<TeardownReport> {
    let owned = attachment.is_managed();
    let store = shell.records()?;
    let ((active_jobs, active_propagations), (passive_jobs, passive_propagations)) = tokio::try_join!(
        side_jobs(
            active,
            &store,
            &request.active_transit_gateway_id,
            &ids.active,
            owned
        ),
        side_jobs(
            passive,
            &store,
            &request.passive_transit_gateway_id,
            &ids.passive,
            owned
        ),
    )?;
    let mut not_started = NotStarted::new();
    if !request.dry_run {
        let (a, p) = tokio::join!(
            apply_side(
                active,
                (&active_jobs, &active_propagations),
                (shell, &store, &ids.active),
                budget
            ),
            apply_side(
                passive,
                (&passive_jobs, &passive_propagations),
                (shell, &store, &ids.passive),
                budget
            ),
        );
        not_started.extend(a?);
        not_started.extend(p?);
    }
    let complete = not_started.is_empty();
    let propagations = [
        (Side::Active, &active_propagations),
        (Side::Passive, &passive_propagations),
    ]
    .into_iter()
    .flat_map(|(side, jobs)| {
        jobs.iter()
            .map(move |job| PropagationTeardownReport::of(side, &job.route_table_id, &job.attachments))
    })
    .collect();
    let jobs = || active_jobs.iter().chain(&passive_jobs);
    let deleted: usize = jobs().map(|job| job.table.deleted.len()).sum();
    let left_alone: usize = jobs().map(|job| job.table.left_alone.len()).sum();
    if left_alone > 0 {
        warn!(action = "Teardown", attachment_id = %attachment.id, left_alone,
              "recorded routes that now go elsewhere were left alone");
    }
    info!(action = "Teardown", attachment_id = %attachment.id, dry_run = request.dry_run, owned, deleted,
          left_alone, "removed the routes this tool created");
    let done = |job: &Job| TableTeardown {
        deleted: job
            .table
            .deleted
            .iter()
            .filter(|cidr| {
                not_started
                    .get(&job.table.route_table_id)
                    .is_none_or(|left| !left.contains(cidr))
            })
            .copied()
            .collect(),
        ..job.table.clone()
    };
    let tables = |wanted: fn(&Kind) -> bool| -> Vec<SideTableTeardownReport> {
        let on = |side: Side, jobs: &'_ [Job]| {
            jobs.iter()
                .filter(|job| wanted(&job.kind))
                .map(|job| SideTableTeardownReport {
                    side,
                    report: TableTeardownReport::of(&done(job)),
                })
                .collect::<Vec<_>>()
        };
        let mut all = on(Side::Active, &active_jobs);
        all.extend(on(Side::Passive, &passive_jobs));
        all
    };
    Ok(TeardownReport {
        tgw_route_tables: tables(|kind| matches!(kind, Kind::Tgw)),
        vpc_route_tables: tables(|kind| matches!(kind, Kind::Vpc)),
        propagations: if complete { propagations } else { Vec::new() },
        omitted: Omitted::default(),
        complete,
    })
}

/// `peer` in a teardown, after the routes are gone: deletes the attachment if this tool created
/// it, and reports its state now and whether it was (or, in a dry run, would be) deleted.
pub async fn delete_peering(shell: &Shell, mut state: PeeringState) -> Result<PeeringState> {
    let (request, ids) = ResolvedRequest::from_state(&state, false)?;
    let active = shell.active_side(&request).await?;
    let attachment = match &ids {
        Some(ids) => active.peering_attachment(&ids.active).await?,
        None => None,
    };
    let deletion = delete_if_ours(&active, attachment.as_ref(), request.dry_run).await?;
    info!(action = "Teardown", region = %active.region(),
          attachment_id = ids.as_ref().map_or("none", |ids| ids.active.as_str()),
          status = %deletion.status, deleted = deletion.deleted, dry_run = request.dry_run,
          "peering attachment handled");
    state.set_status(deletion.status);
    state.peering_deleted = Some(deletion.deleted);
    state.peering_kept = Some(deletion.kept);
    Ok(state)
}

/// What became of the peering attachment in a teardown.
struct Deletion {
    /// Its state now (`deleted` when EC2 no longer shows it).
    status: String,
    /// True when this call deleted it (in a dry run: would delete it).
    deleted: bool,
    /// Why it was left in place, when it was.
    kept: Option<String>,
}

async fn delete_if_ours(
    active: &Ec2,
    attachment: Option<&PeeringAttachment>,
    dry_run: bool,
) -> Result<Deletion> {
    let unchanged = |status: String, kept: Option<String>| Deletion {
        status,
        deleted: false,
        kept,
    };
    let Some(attachment) = attachment else {
        return Ok(unchanged("deleted".to_owned(), None));
    };
    if !attachment.state.is_live() {
        return Ok(unchanged(attachment.state.to_string(), None));
    }
    if !attachment.is_managed() {
        let reason = format!(
            "{} was not created by this tool (it has no tgw-peering:managed-by tag), so it is left in place",
            attachment.id
        );
        warn!(action = "Teardown", attachment_id = %attachment.id, "{reason}");
        return Ok(unchanged(attachment.state.to_string(), Some(reason)));
    }
    if dry_run {
        return Ok(Deletion {
            status: attachment.state.to_string(),
            deleted: true,
            kept: None,
        });
    }
    active.delete_peering(&attachment.id).await?;
    let status = active
        .peering_attachment(&attachment.id)
        .await?
        .map_or_else(|| "deleted".to_owned(), |a| a.state.to_string());
    Ok(Deletion {
        status,
        deleted: true,
        kept: None,
    })
}
