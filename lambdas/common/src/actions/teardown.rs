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

use futures_util::stream::{self, StreamExt};
use ipnet::Ipv4Net;
use tracing::{info, warn};

use crate::aws::{Ec2, Shell};
use crate::contract::request::{AttachmentIds, ResolvedRequest};
use crate::contract::state::{PeeringState, Report};
use crate::error::Result;
use crate::plan::peering::PeeringAttachment;
use crate::plan::record;
use crate::plan::teardown::{
    plan_table, TableTeardown, TableTeardownReport, TeardownReport, VpcTableTeardownReport,
};
use crate::plan::Side;

enum Kind {
    Tgw,
    Vpc,
}

/// One table to tear down: its plan and its record's tag keys.
struct Job {
    kind: Kind,
    table: TableTeardown,
    record_keys: Vec<String>,
}

async fn side_jobs(
    ec2: &Ec2,
    route_table_id: &str,
    transit_gateway_id: &str,
    peering_id: &str,
    owned: bool,
) -> Result<Vec<Job>> {
    let record_key = record::first_key(peering_id);
    let (routes, table, vpc_tables) = tokio::try_join!(
        ec2.routes(route_table_id),
        ec2.route_table(route_table_id),
        ec2.vpc_route_tables_tagged(&record_key),
    )?;
    let tags = table.map(|t| t.tags).unwrap_or_default();
    let (deleted, left_alone) = plan_table(
        &routes.routes,
        &record::recorded(&tags, peering_id),
        peering_id,
        owned,
    );
    let mut jobs = vec![Job {
        kind: Kind::Tgw,
        table: TableTeardown {
            route_table_id: route_table_id.to_owned(),
            deleted,
            left_alone,
        },
        record_keys: record::record_keys(&tags, peering_id),
    }];
    for table in vpc_tables {
        let recorded = record::recorded(&table.tags, peering_id);
        let (deleted, left_alone) = plan_table(&table.routes, &recorded, transit_gateway_id, false);
        jobs.push(Job {
            kind: Kind::Vpc,
            table: TableTeardown {
                route_table_id: table.id.clone(),
                deleted,
                left_alone,
            },
            record_keys: record::record_keys(&table.tags, peering_id),
        });
    }
    Ok(jobs)
}

async fn apply(ec2: &Ec2, jobs: &[Job], shell: &Shell) -> Result<()> {
    let limiter = shell.route_write_limiter(ec2.region());
    let in_flight = shell.config().route_writes.in_flight.max(1);
    let deletes: Vec<(&Job, Ipv4Net)> = jobs
        .iter()
        .flat_map(|job| job.table.deleted.iter().map(move |cidr| (job, *cidr)))
        .collect();
    let results: Vec<Result<()>> = stream::iter(deletes)
        .map(|(job, cidr)| {
            let limiter = &limiter;
            async move {
                limiter.until_ready().await;
                match job.kind {
                    Kind::Tgw => ec2.delete_route(&job.table.route_table_id, cidr).await,
                    Kind::Vpc => ec2.delete_vpc_route(&job.table.route_table_id, cidr).await,
                }
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    // The record goes last: a teardown cut short finds it again and finishes.
    for job in jobs {
        limiter.until_ready().await;
        ec2.delete_tags(&job.table.route_table_id, &job.record_keys)
            .await?;
    }
    Ok(())
}

/// `modify-routes` in a teardown: removes the recorded routes (and, for a peering this tool
/// created, every static route via it) on both sides, then their records.
pub async fn remove_routes(shell: &Shell, mut state: PeeringState) -> Result<PeeringState> {
    let (request, ids) = ResolvedRequest::from_state(&state, false)?;
    let (active, passive) = shell.both_sides(&request).await?;
    let attachment = match &ids {
        Some(ids) => active.peering_attachment(&ids.active).await?,
        None => None,
    };
    let report = match (attachment, ids) {
        (Some(attachment), Some(ids)) => {
            attachment.check_joins(&request)?;
            remove_peering_routes(shell, &request, (&active, &passive), &attachment, &ids).await?
        }
        _ => {
            info!(action = "Teardown", "no peering attachment: no route to remove");
            TeardownReport::default()
        }
    };
    state.teardown = Some(Report::Known(report));
    state.routes_removed = Some(!request.dry_run);
    Ok(state)
}

async fn remove_peering_routes(
    shell: &Shell,
    request: &ResolvedRequest,
    (active, passive): (&Ec2, &Ec2),
    attachment: &PeeringAttachment,
    ids: &AttachmentIds,
) -> Result<TeardownReport> {
    let owned = attachment.is_managed();
    let (active_jobs, passive_jobs) = tokio::try_join!(
        side_jobs(
            active,
            &request.active_route_table_id,
            &request.active_transit_gateway_id,
            &ids.active,
            owned
        ),
        side_jobs(
            passive,
            &request.passive_route_table_id,
            &request.passive_transit_gateway_id,
            &ids.passive,
            owned
        ),
    )?;
    if !request.dry_run {
        let (a, p) = tokio::join!(
            apply(active, &active_jobs, shell),
            apply(passive, &passive_jobs, shell)
        );
        a?;
        p?;
    }
    let jobs = || active_jobs.iter().chain(&passive_jobs);
    let deleted: usize = jobs().map(|job| job.table.deleted.len()).sum();
    let left_alone: usize = jobs().map(|job| job.table.left_alone.len()).sum();
    if left_alone > 0 {
        warn!(action = "Teardown", attachment_id = %attachment.id, left_alone,
              "recorded routes that now go elsewhere were left alone");
    }
    info!(action = "Teardown", attachment_id = %attachment.id, dry_run = request.dry_run, owned, deleted,
          left_alone, "removed the routes this tool created");
    let vpc_tables = |side: Side, jobs: &[Job]| -> Vec<VpcTableTeardownReport> {
        jobs.iter()
            .filter(|job| matches!(job.kind, Kind::Vpc))
            .map(|job| VpcTableTeardownReport {
                side,
                report: TableTeardownReport::of(&job.table),
            })
            .collect()
    };
    let mut vpc_route_tables = vpc_tables(Side::Active, &active_jobs);
    vpc_route_tables.extend(vpc_tables(Side::Passive, &passive_jobs));
    Ok(TeardownReport {
        active: Some(TableTeardownReport::of(&active_jobs[0].table)),
        passive: Some(TableTeardownReport::of(&passive_jobs[0].table)),
        vpc_route_tables,
    })
}

/// `peer` in a teardown, after the routes are gone: deletes the attachment if this tool created
/// it, and reports its state now and whether it was (or, in a dry run, would be) deleted.
pub async fn delete_peering(shell: &Shell, mut state: PeeringState) -> Result<PeeringState> {
    let (request, ids) = ResolvedRequest::from_state(&state, false)?;
    let active = shell.active_side(&request);
    let attachment = match &ids {
        Some(ids) => active.peering_attachment(&ids.active).await?,
        None => None,
    };
    let deletion = delete_if_ours(&active, attachment.as_ref(), request.dry_run).await?;
    info!(action = "Teardown", region = %active.region(),
          attachment_id = ids.as_ref().map_or("none", |ids| ids.active.as_str()),
          status = %deletion.status, deleted = deletion.deleted, dry_run = request.dry_run,
          "peering attachment handled");
    state.status = Some(deletion.status);
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
