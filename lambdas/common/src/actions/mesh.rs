//! `peer` for a mesh: check every side and every pair before any pair runs (`plan`), turn one
//! pair's execution into its row of the matrix (`row`), and add the rows up (`report`). The
//! state machine runs the pairs themselves: each is today's pair flow, in an execution of its own.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::try_join_all;
use ipnet::IpNet;
use serde_json::{json, Value};
use tracing::info;

use crate::actions::peer::{assemble, resolve_side, ResolvedSide};
use crate::actions::routes::read_side;
use crate::aws::{Ec2, Shell, SideAt};
use crate::contract::request::{parse_request, Action, ResolvedRequest, ValidRequest};
use crate::contract::state::PeeringState;
use crate::contract::validate::echo;
use crate::error::{Error, Result};
use crate::plan::mesh::{
    self, check_overlaps, check_peering_quota, check_route_quotas, decode_mesh, GatewayPeerings,
    MeshPeerSide, MeshRequest, MeshRow, MeshSettings, PairIndex, QuotaTable, SideCidrs,
};
use crate::plan::pass::SideSnapshot;
use crate::plan::summary::summarize;
use crate::plan::Side;

/// True when `input` asks for a mesh (or is one of a mesh's own steps).
pub fn is_mesh(input: &Value) -> bool {
    input.get("meshStep").is_some() || mesh::mesh_request_of(input).is_some()
}

/// The mesh step `input` names: `plan` (a mesh request), `row` or `report`.
pub async fn mesh_step(shell: &Shell, input: &Value) -> Result<Value> {
    match input.get("meshStep").and_then(Value::as_str).unwrap_or("plan") {
        "plan" => {
            let request = mesh::mesh_request_of(input).unwrap_or(input);
            plan(shell, request).await
        }
        "row" => Ok(row(input)),
        "report" => report(input),
        other => Err(Error::invalid(
            "meshStep",
            format!(
                "is {}; the state machine sends \"plan\", \"row\" or \"report\"",
                echo(other)
            ),
        )),
    }
}

/// One pair, resolved, with EC2 on each of its sides.
struct ResolvedPair {
    index: PairIndex,
    request: ResolvedRequest,
    active: Ec2,
    passive: Ec2,
}

/// Checks the whole mesh and lists its pairs; creates nothing.
async fn plan(shell: &Shell, input: &Value) -> Result<Value> {
    let request = decode_mesh(input, &MeshSettings::of(shell.config()))?;
    let pairs = resolve_pairs(shell, &request).await?;
    if request.action == Action::Setup {
        check_across_sides(shell, &request, &pairs).await?;
    }
    let share = mesh::write_share(&request);
    let listed: Vec<Value> = pairs
        .iter()
        .map(|pair| {
            let mut state = PeeringState::default();
            pair.request.write_to(&mut state);
            json!({"pair": mesh::pair_name(&request, pair.index), "request": state})
        })
        .collect();
    info!(
        action = "PlanMesh",
        sides = request.sides.len(),
        pairs = listed.len(),
        route_write_share = share,
        dry_run = request.dry_run,
        teardown = request.action == Action::Teardown,
        "mesh checked"
    );
    Ok(json!({
        "mesh": resolved_sides(&request, &pairs),
        "meshSides": peer_sides(&request, &pairs),
        "action": request.action.as_str(),
        "dryRun": request.dry_run,
        "leaving": request.leaving,
        "routeWriteShare": share,
        "pairs": listed,
    }))
}

/// One side of the mesh, reached and resolved once for all of its pairs.
struct MeshSideResolved {
    ec2: Ec2,
    resolved: ResolvedSide,
}

/// Every pair's request, validated and resolved as `peer` would. Validation is pure and per
/// pair; each side's gateway and tables are read once, from the first pair that has it (a side
/// resolves the same in each of its pairs), so the check costs N sides' reads, not N(N-1).
/// Errors name the mesh field.
async fn resolve_pairs(shell: &Shell, request: &MeshRequest) -> Result<Vec<ResolvedPair>> {
    let valid: Vec<(PairIndex, ValidRequest)> = mesh::pairs(request)
        .into_iter()
        .map(|index| {
            parse_request(&mesh::pair_request(request, index))
                .and_then(|parsed| parsed.request.validate(&shell.config().defaults))
                .map(|valid| (index, valid))
                .map_err(|err| rename_fields(err, index))
        })
        .collect::<Result<_>>()?;
    let first_pair_of = |side: usize| {
        valid.iter().find_map(|(index, request)| {
            if index.active == side {
                Some((*index, Side::Active, request))
            } else if index.passive == side {
                Some((*index, Side::Passive, request))
            } else {
                None
            }
        })
    };
    let sides: Vec<Option<MeshSideResolved>> =
        try_join_all((0..request.sides.len()).map(|side| async move {
            let Some((index, end, valid)) = first_pair_of(side) else {
                return Ok(None);
            };
            resolve_mesh_side(shell, end, valid)
                .await
                .map(Some)
                .map_err(|err| rename_fields(err, index))
        }))
        .await?;
    Ok(valid
        .into_iter()
        .map(|(index, valid)| {
            let (active, passive) = (
                sides[index.active]
                    .as_ref()
                    .expect("a side of a pair is resolved"),
                sides[index.passive]
                    .as_ref()
                    .expect("a side of a pair is resolved"),
            );
            ResolvedPair {
                index,
                request: assemble(valid, &active.resolved, &passive.resolved),
                active: active.ec2.clone(),
                passive: passive.ec2.clone(),
            }
        })
        .collect())
}

async fn resolve_mesh_side(shell: &Shell, end: Side, valid: &ValidRequest) -> Result<MeshSideResolved> {
    let at = match end {
        Side::Active => SideAt::new(Side::Active, &valid.active_region, &valid.active),
        Side::Passive => SideAt::new(Side::Passive, &valid.passive_region, &valid.passive),
    };
    let ec2 = shell.side_ec2(at).await?;
    let resolved = resolve_side(&ec2, end, valid).await?;
    Ok(MeshSideResolved { ec2, resolved })
}

fn rename_fields(err: Error, index: PairIndex) -> Error {
    match err {
        Error::InvalidInput { field, reason } => Error::InvalidInput {
            field: mesh::side_field(&field, index),
            reason,
        },
        Error::TransitGatewayNotFound { field, reason } => Error::TransitGatewayNotFound {
            field: mesh::side_field(&field, index),
            reason,
        },
        Error::AssumeRoleDenied {
            field,
            role_arn,
            message,
        } => Error::AssumeRoleDenied {
            field: mesh::side_field(&field, index),
            role_arn,
            message,
        },
        other => other,
    }
}

/// Every side's gateway, as resolved (the first pair that has the side says).
fn resolved_sides(request: &MeshRequest, pairs: &[ResolvedPair]) -> Vec<Value> {
    request
        .sides
        .iter()
        .enumerate()
        .map(|(index, side)| {
            let mut side = serde_json::to_value(side).expect("a side serialises");
            let gateway = pairs.iter().find_map(|pair| {
                (pair.index.active == index)
                    .then(|| pair.request.active_transit_gateway_id.clone())
                    .or_else(|| {
                        (pair.index.passive == index).then(|| pair.request.passive_transit_gateway_id.clone())
                    })
            });
            if let Some(gateway) = gateway {
                side["transitGatewayId"] = Value::String(gateway);
            }
            side
        })
        .collect()
}

/// Every side as a pair needs it to re-read that side before writing (`meshSides`, given to
/// each pair's execution once by the Map, not copied into every pair's request: N sides, not
/// N(N-1)/2 times N, in the mesh's state).
fn peer_sides(request: &MeshRequest, pairs: &[ResolvedPair]) -> Vec<MeshPeerSide> {
    (0..request.sides.len())
        .filter_map(|index| {
            pairs.iter().find_map(|pair| {
                let r = &pair.request;
                if pair.index.active == index {
                    Some(MeshPeerSide {
                        region: r.active_region.clone(),
                        transit_gateway_id: r.active_transit_gateway_id.clone(),
                        peering_route_table_id: r.active_peering_route_table_id.clone(),
                        account_id: r.active.account_id.clone(),
                        role_arn: r.active.role_arn.clone(),
                    })
                } else if pair.index.passive == index {
                    Some(MeshPeerSide {
                        region: r.passive_region.clone(),
                        transit_gateway_id: r.passive_transit_gateway_id.clone(),
                        peering_route_table_id: r.passive_peering_route_table_id.clone(),
                        account_id: r.passive.account_id.clone(),
                        role_arn: r.passive.role_arn.clone(),
                    })
                } else {
                    None
                }
            })
        })
        .collect()
}

/// Reads every side once, then refuses the mesh if any two sides overlap or any gateway or VPC
/// table would go over its quota with all of its pairs' routes.
async fn check_across_sides(shell: &Shell, request: &MeshRequest, pairs: &[ResolvedPair]) -> Result<()> {
    let reads = (0..request.sides.len()).filter_map(|index| {
        pairs.iter().find_map(|pair| {
            if pair.index.active == index {
                Some((index, &pair.active, Side::Active, &pair.request))
            } else if pair.index.passive == index {
                Some((index, &pair.passive, Side::Passive, &pair.request))
            } else {
                None
            }
        })
    });
    let snapshots: Vec<(
        usize,
        SideSnapshot,
        Vec<crate::plan::peering::PeeringAttachment>,
        &ResolvedRequest,
    )> = try_join_all(reads.map(|(index, ec2, side, resolved)| async move {
        let (snapshot, listed) = tokio::try_join!(
            read_side(ec2, side, resolved, None, None),
            ec2.peering_attachments()
        )?;
        Ok::<_, Error>((index, snapshot, listed, resolved))
    }))
    .await?;
    let cidrs: Vec<SideCidrs> = snapshots
        .iter()
        .map(|(_, snapshot, _, resolved)| SideCidrs {
            region: snapshot.region.clone(),
            cidrs: snapshot.sources(&resolved.options),
        })
        .collect();
    let tag_key = pairs.first().map_or("", |pair| pair.request.vpc_tag_key.as_str());
    check_overlaps(&cidrs, tag_key)?;
    let config = shell.config();
    for (position, (index, snapshot, listed, resolved)) in snapshots.iter().enumerate() {
        let wanted = wanted_from_peers(&cidrs, position, resolved.options.summarize_routes);
        check_side_quotas(
            snapshot,
            &wanted,
            resolved.options.vpc_routes,
            (config.tgw_route_quota, config.vpc_route_quota),
        )?;
        let peers = pairs
            .iter()
            .filter_map(|pair| {
                let r = &pair.request;
                if pair.index.active == *index {
                    Some((r.passive_transit_gateway_id.as_str(), r.passive_region.as_str()))
                } else if pair.index.passive == *index {
                    Some((r.active_transit_gateway_id.as_str(), r.active_region.as_str()))
                } else {
                    None
                }
            })
            .collect();
        check_peering_quota(
            &GatewayPeerings {
                region: &snapshot.region,
                transit_gateway_id: &snapshot.transit_gateway_id,
                listed,
                peers,
            },
            config.peering_attachment_quota,
        )?;
    }
    Ok(())
}

/// What every other side routes to this one: the routes each of its pairs would create here.
fn wanted_from_peers(cidrs: &[SideCidrs], position: usize, summarized: bool) -> BTreeSet<IpNet> {
    cidrs
        .iter()
        .enumerate()
        .filter(|(other, _)| *other != position)
        .flat_map(|(_, side)| {
            let bare: Vec<IpNet> = side.cidrs.iter().map(|c| c.cidr).collect();
            if summarized {
                summarize(&bare).into_iter().map(|(route, _)| route).collect()
            } else {
                bare
            }
        })
        .collect()
}

fn check_side_quotas(
    snapshot: &SideSnapshot,
    wanted: &BTreeSet<IpNet>,
    vpc_routes: bool,
    quotas: (usize, usize),
) -> Result<()> {
    let tgw: Vec<QuotaTable> = snapshot
        .tgw_tables
        .iter()
        .map(|(id, table)| QuotaTable {
            route_table_id: id,
            vpc_id: None,
            routes: table.routes.routes.iter().map(|route| route.cidr).collect(),
        })
        .collect();
    let vpc: Vec<QuotaTable> = if vpc_routes {
        snapshot
            .vpc_tables
            .values()
            .flatten()
            .map(|table| QuotaTable {
                route_table_id: &table.id,
                vpc_id: Some(&table.vpc_id),
                routes: table.routes.iter().map(|route| route.cidr).collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let outbound: BTreeSet<&str> = snapshot.outbound_tables().into_iter().collect();
    check_route_quotas(
        (&snapshot.region, &snapshot.transit_gateway_id),
        (&tgw, &outbound),
        &vpc,
        wanted,
        quotas,
    )
}

/// One pair's row: `{pair: {pair, request}, run?: {output, executionArn}, failure?: {Error, Cause}}`.
fn row(input: &Value) -> Value {
    let pair = input.get("pair").unwrap_or(&Value::Null);
    let name = pair
        .get("pair")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed pair)");
    let request = pair.get("request").unwrap_or(&Value::Null);
    let row = mesh::pair_row(name, request, input.get("run"), input.get("failure"));
    info!(action = "MeshRow", pair = name, outcome = ?row.outcome, error_type = row.error_type.as_deref().unwrap_or(""),
          "pair finished");
    serde_json::to_value(row).expect("a row serialises")
}

/// The matrix, its summary, and the cause naming every failed pair.
fn report(input: &Value) -> Result<Value> {
    let rows: Vec<MeshRow> = serde_json::from_value(input.get("outcomes").cloned().unwrap_or(Value::Null))
        .map_err(|err| Error::invalid("outcomes", format!("{err}; pass the Map's rows unchanged")))?;
    let action = input
        .get("action")
        .and_then(Value::as_str)
        .and_then(Action::parse)
        .unwrap_or_default();
    let dry_run = input.get("dryRun").and_then(Value::as_bool).unwrap_or(false);
    let report = mesh::mesh_report(rows, action, dry_run);
    info!(action = "MeshReport", pairs = report.summary.pairs, failed = report.summary.failed,
          summary = %report.summary.text, "mesh finished");
    let mut output = BTreeMap::new();
    for key in ["mesh", "action", "dryRun", "leaving"] {
        if let Some(value) = input.get(key) {
            output.insert(key.to_owned(), value.clone());
        }
    }
    output.insert(
        "pairs".to_owned(),
        serde_json::to_value(&report.rows).expect("rows serialise"),
    );
    output.insert(
        "summary".to_owned(),
        serde_json::to_value(&report.summary).expect("serialises"),
    );
    output.insert(
        "failedPairs".to_owned(),
        serde_json::to_value(&report.failed_pairs).expect("serialises"),
    );
    if let Some(cause) = report.cause {
        output.insert("cause".to_owned(), Value::String(cause));
    }
    Ok(serde_json::to_value(output).expect("serialises"))
}
