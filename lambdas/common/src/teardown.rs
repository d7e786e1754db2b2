//! Teardown: remove what this tool created, in a safe order. `modify-routes` removes the routes
//! (this module's [`remove_routes`]), then `peer` deletes the attachment ([`delete_peering`]),
//! and the state machine waits until it is `deleted`.
//!
//! What is removed, and nothing else:
//! - routes this tool recorded when it created them (see [`crate::record`]) that still go where
//!   it sent them: via the peering in a TGW table, via the local transit gateway in a VPC table;
//! - when this tool created the peering attachment (its `tgw-peering:managed-by` tag), every
//!   static route via that attachment in the two TGW route tables: the attachment is about to
//!   go, and a route via it would be left a blackhole;
//! - the attachment itself, only when this tool created it.

use std::collections::BTreeSet;

use futures_util::stream::{self, StreamExt};
use ipnet::Ipv4Net;
use serde::Serialize;
use serde_json::{json, Value};
use tracing::{info, warn};

use crate::context::Context;
use crate::ec2::Ec2;
use crate::error::Result;
use crate::peering::PeeringAttachment;
use crate::planner::{Origin, Route};
use crate::record;
use crate::report::MAX_LISTED;
use crate::request::{passive_attachment_id, ResolvedRequest};

/// What teardown does to one route table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableTeardown {
    pub route_table_id: String,
    /// Routes removed (in a dry run: that would be removed).
    pub deleted: Vec<Ipv4Net>,
    /// Recorded routes that now go somewhere else: someone changed them, so they are left alone.
    pub left_alone: Vec<Ipv4Net>,
}

/// Decides which routes of one table go: recorded ones still aimed at `target`, and (when
/// `owned`) every static route aimed at it. Pure.
pub fn plan_table(
    routes: &[Route],
    recorded: &BTreeSet<Ipv4Net>,
    target: &str,
    owned: bool,
) -> (Vec<Ipv4Net>, Vec<Ipv4Net>) {
    let ours = |route: &Route| {
        route.origin == Origin::Static && !route.blackhole && route.target.as_deref() == Some(target)
    };
    let mut deleted: BTreeSet<Ipv4Net> = routes
        .iter()
        .filter(|route| ours(route) && (owned || recorded.contains(&route.cidr)))
        .map(|route| route.cidr)
        .collect();
    // A blackholed static route via the attachment is still ours to remove when we own it.
    if owned {
        deleted.extend(
            routes
                .iter()
                .filter(|route| route.origin == Origin::Static && route.target.as_deref() == Some(target))
                .map(|route| route.cidr),
        );
    }
    let left_alone = recorded
        .iter()
        .filter(|cidr| !deleted.contains(cidr) && routes.iter().any(|route| route.cidr == **cidr))
        .copied()
        .collect();
    (deleted.into_iter().collect(), left_alone)
}

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

async fn apply(ec2: &Ec2, jobs: &[Job], context: &Context) -> Result<()> {
    let limiter = context.route_write_limiter(ec2.region());
    let in_flight = context.route_writes().in_flight.max(1);
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

fn listed(table: &TableTeardown) -> Value {
    json!({
        "routeTableId": table.route_table_id,
        "deleted": table.deleted.iter().take(MAX_LISTED).collect::<Vec<_>>(),
        "leftAlone": table.left_alone.iter().take(MAX_LISTED).collect::<Vec<_>>(),
        "counts": {"deleted": table.deleted.len(), "leftAlone": table.left_alone.len()},
    })
}

/// `modify-routes` in a teardown: removes the recorded routes (and, for a peering this tool
/// created, every static route via it) on both sides, then their records.
pub async fn remove_routes(
    context: &Context,
    input: &Value,
    request: &ResolvedRequest,
    active: &Ec2,
    passive: &Ec2,
    attachment: Option<&PeeringAttachment>,
) -> Result<Value> {
    let mut output = input.clone();
    let Some(attachment) = attachment else {
        info!(action = "Teardown", "no peering attachment: no route to remove");
        if let Some(object) = output.as_object_mut() {
            object.insert(
                "teardown".to_owned(),
                json!({"active": null, "passive": null, "vpcRouteTables": []}),
            );
            object.insert("routesRemoved".to_owned(), json!(!request.dry_run));
        }
        return Ok(output);
    };
    let owned = attachment.is_managed();
    let passive_id = passive_attachment_id(input, &attachment.id)?;
    let (active_jobs, passive_jobs) = tokio::try_join!(
        side_jobs(
            active,
            &request.active_route_table_id,
            &request.active_transit_gateway_id,
            &attachment.id,
            owned
        ),
        side_jobs(
            passive,
            &request.passive_route_table_id,
            &request.passive_transit_gateway_id,
            &passive_id,
            owned
        ),
    )?;
    if !request.dry_run {
        let (a, p) = tokio::join!(
            apply(active, &active_jobs, context),
            apply(passive, &passive_jobs, context)
        );
        a?;
        p?;
    }
    let mut vpc_tables = Vec::new();
    for (side, jobs) in [("active", &active_jobs), ("passive", &passive_jobs)] {
        for job in jobs.iter().filter(|job| matches!(job.kind, Kind::Vpc)) {
            let mut entry = listed(&job.table);
            entry["side"] = json!(side);
            vpc_tables.push(entry);
        }
    }
    let deleted: usize = active_jobs
        .iter()
        .chain(&passive_jobs)
        .map(|job| job.table.deleted.len())
        .sum();
    let left_alone: usize = active_jobs
        .iter()
        .chain(&passive_jobs)
        .map(|job| job.table.left_alone.len())
        .sum();
    if left_alone > 0 {
        warn!(action = "Teardown", attachment_id = %attachment.id, left_alone,
              "recorded routes that now go elsewhere were left alone");
    }
    info!(action = "Teardown", attachment_id = %attachment.id, dry_run = request.dry_run, owned, deleted,
          left_alone, "removed the routes this tool created");
    if let Some(object) = output.as_object_mut() {
        object.insert(
            "teardown".to_owned(),
            json!({
                "active": listed(&active_jobs[0].table),
                "passive": listed(&passive_jobs[0].table),
                "vpcRouteTables": vpc_tables,
            }),
        );
        object.insert("routesRemoved".to_owned(), json!(!request.dry_run));
    }
    Ok(output)
}

/// `peer` in a teardown, after the routes are gone: deletes the attachment if this tool created
/// it. Returns its state now, and whether it was (or, in a dry run, would be) deleted.
pub async fn delete_peering(
    active: &Ec2,
    attachment: Option<&PeeringAttachment>,
    dry_run: bool,
) -> Result<(String, bool, Option<String>)> {
    let Some(attachment) = attachment else {
        return Ok(("deleted".to_owned(), false, None));
    };
    if !attachment.state.is_live() {
        return Ok((attachment.state.to_string(), false, None));
    }
    if !attachment.is_managed() {
        let reason = format!(
            "{} was not created by this tool (it has no tgw-peering:managed-by tag), so it is left in place",
            attachment.id
        );
        warn!(action = "Teardown", attachment_id = %attachment.id, "{reason}");
        return Ok((attachment.state.to_string(), false, Some(reason)));
    }
    if dry_run {
        return Ok((attachment.state.to_string(), true, None));
    }
    active.delete_peering(&attachment.id).await?;
    let state = active
        .peering_attachment(&attachment.id)
        .await?
        .map_or_else(|| "deleted".to_owned(), |a| a.state.to_string());
    Ok((state, true, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    const PEERING: &str = "tgw-attach-peering";

    #[test]
    fn only_recorded_routes_still_aimed_at_the_target_go_unless_the_peering_is_ours() {
        let routes = vec![
            Route::to(net("10.1.0.0/16"), PEERING),
            Route::to(net("10.2.0.0/16"), "tgw-attach-vpn"),
            Route::to(net("10.3.0.0/16"), PEERING),
            Route {
                origin: Origin::Propagated {
                    resource_type: "vpc".into(),
                },
                ..Route::to(net("10.4.0.0/16"), PEERING)
            },
        ];
        let recorded: BTreeSet<Ipv4Net> = [net("10.1.0.0/16"), net("10.2.0.0/16")].into();

        let (deleted, left_alone) = plan_table(&routes, &recorded, PEERING, false);
        assert_eq!(
            deleted,
            [net("10.1.0.0/16")],
            "10.3 is someone else's, via a peering not ours"
        );
        assert_eq!(
            left_alone,
            [net("10.2.0.0/16")],
            "recorded, but now aimed elsewhere"
        );

        let (deleted, _) = plan_table(&routes, &recorded, PEERING, true);
        assert_eq!(
            deleted,
            [net("10.1.0.0/16"), net("10.3.0.0/16")],
            "every static route via our peering"
        );
    }

    #[test]
    fn a_recorded_route_that_is_gone_is_neither_deleted_nor_left_alone() {
        let recorded: BTreeSet<Ipv4Net> = [net("10.1.0.0/16")].into();
        assert_eq!(plan_table(&[], &recorded, PEERING, true), (vec![], vec![]));
    }
}
