//! A full mesh: one transit gateway in each of N Regions, every pair of them peered, in one
//! execution. Pure: the request's sides decoded and checked, the N(N-1)/2 pair requests (each
//! today's pair request, so each pair runs today's flow), the checks that span every side
//! (overlapping CIDRs, the quotas a gateway reaches only through several pairs), each pair's row
//! from its execution's outcome, and the matrix with its one-line summary.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::contract::request::Action;
use crate::contract::state::{PeeringState, RouteTableIds};
use crate::contract::validate::echo;
use crate::error::{Error, Result};
use crate::plan::peering::PeeringAttachment;
use crate::plan::routing::{find_overlap, SourcedCidr};

/// At most this many sides: 120 pairs, each an execution, each Region shared by 15 pairs.
pub const MAX_MESH_SIDES: usize = 16;

/// Peering attachments a transit gateway may have when `PEERING_ATTACHMENT_QUOTA` is not set:
/// the default of "Peering attachments per transit gateway".
pub const DEFAULT_PEERING_ATTACHMENT_QUOTA: usize = 50;

/// Request fields that name one side of one pair: with `mesh`, each side says these in its entry.
const PAIR_ONLY_FIELDS: &[&str] = &[
    "activeRegion",
    "passiveRegion",
    "activeTransitGatewayId",
    "passiveTransitGatewayId",
    "activeRouteTableId",
    "passiveRouteTableId",
    "activePeeringRouteTableId",
    "passivePeeringRouteTableId",
    "activeAccountId",
    "activeRoleArn",
    "passiveAccountId",
    "passiveRoleArn",
    "extraCidrs",
    "confirmPrune",
    "routeWriteShare",
];

/// One side of the mesh as the request gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshSide {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transit_gateway_id: Option<String>,
    /// The side's outbound tables: one id or a list (today's `<side>RouteTableId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table_ids: Option<RouteTableIds>,
    /// Another account's side: its account and the role every call there is made as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

impl MeshSide {
    fn in_another_account(&self) -> bool {
        self.account_id.is_some() || self.role_arn.is_some()
    }
}

/// What the stack says about meshes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeshSettings {
    /// The Regions of an empty `mesh` list (`MeshRegions`).
    pub regions: Vec<String>,
    /// The roles in other accounts the functions may assume (`PassiveRoleArn`, `MeshRoleArns`).
    pub assumable_roles: Vec<String>,
    /// The stack's passive side when it is in another account: a mesh side in its Region that
    /// names no account is that gateway, in that account, as a pair request would take it.
    pub stack_passive: Option<MeshSide>,
}

impl MeshSettings {
    pub fn of(config: &crate::config::Config) -> Self {
        let defaults = &config.defaults;
        let stack_passive = match (&defaults.passive_region, &defaults.passive_role_arn) {
            (Some(region), Some(role_arn)) => Some(MeshSide {
                region: region.clone(),
                account_id: defaults.passive_account_id.clone(),
                role_arn: Some(role_arn.clone()),
                ..MeshSide::default()
            }),
            _ => None,
        };
        Self {
            regions: config.mesh_regions.clone(),
            assumable_roles: defaults
                .passive_role_arn
                .iter()
                .chain(&config.mesh_role_arns)
                .cloned()
                .collect(),
            stack_passive,
        }
    }
}

/// A mesh request, decoded: the sides, the Region leaving (teardown only), and the fields every
/// pair shares (`vpcTagKey`, `vpcRoutes`, `dryRun`, `action`, ...), passed to each pair as given.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshRequest {
    pub sides: Vec<MeshSide>,
    pub leaving: Option<String>,
    pub action: Action,
    pub dry_run: bool,
    pub shared: Map<String, Value>,
}

/// Where a mesh request is: the input itself, or an EventBridge event's `detail`.
pub fn mesh_request_of(input: &Value) -> Option<&Value> {
    if input.get("mesh").is_some() {
        return Some(input);
    }
    input.get("detail").filter(|detail| detail.get("mesh").is_some())
}

/// Decodes a mesh request. The stack's `MeshRegions` stand in for an empty `mesh` list.
pub fn decode_mesh(request: &Value, settings: &MeshSettings) -> Result<MeshRequest> {
    let Value::Object(fields) = request else {
        return Err(Error::invalid("(request)", "must be a JSON object"));
    };
    let mut shared = fields.clone();
    let mesh = shared.remove("mesh").unwrap_or(Value::Null);
    let leaving = shared.remove("leaving");
    shared.remove("meshStep");
    if let Some(field) = PAIR_ONLY_FIELDS.iter().find(|field| shared.contains_key(**field)) {
        return Err(Error::invalid(
            *field,
            "belongs to one side of one pair; with `mesh`, give each side's region, \
             transitGatewayId, routeTableIds, accountId and roleArn in its entry of `mesh`",
        ));
    }
    let sides: Vec<MeshSide> = serde_path_to_error::deserialize(&mesh).map_err(|err| {
        let path = err.path().to_string();
        let field = match path.as_str() {
            "." => "mesh".to_owned(),
            indexed if indexed.starts_with('[') => format!("mesh{indexed}"),
            named => format!("mesh.{named}"),
        };
        Error::invalid(
            field,
            format!(
                "{}; each entry is {{\"region\": ..., \"transitGatewayId\"?, \"routeTableIds\"?, \
                 \"accountId\"?, \"roleArn\"?}}",
                err.inner()
            ),
        )
    })?;
    let sides = if sides.is_empty() {
        settings
            .regions
            .iter()
            .map(|region| MeshSide {
                region: region.clone(),
                ..MeshSide::default()
            })
            .collect()
    } else {
        sides
    };
    let sides = sides
        .into_iter()
        .map(|side| in_stack_passive_account(side, settings))
        .collect();
    let action = match shared.get("action") {
        None => Action::Setup,
        Some(Value::String(text)) => Action::parse(text).ok_or_else(|| {
            Error::invalid(
                "action",
                format!("is {}; use \"setup\" or \"teardown\"", echo(text)),
            )
        })?,
        Some(_) => return Err(Error::invalid("action", "must be \"setup\" or \"teardown\"")),
    };
    let dry_run = matches!(shared.get("dryRun"), Some(Value::Bool(true)));
    let leaving = match leaving {
        None | Some(Value::Null) => None,
        Some(Value::String(region)) => Some(region),
        Some(_) => {
            return Err(Error::invalid(
                "leaving",
                "must be a Region code such as \"eu-west-1\"",
            ))
        }
    };
    let request = MeshRequest {
        sides,
        leaving,
        action,
        dry_run,
        shared,
    };
    check_sides(&request)?;
    check_roles(&request, settings)?;
    Ok(request)
}

/// A side in the stack's passive Region that names no account is the stack's passive gateway's.
fn in_stack_passive_account(side: MeshSide, settings: &MeshSettings) -> MeshSide {
    match &settings.stack_passive {
        Some(stack) if stack.region == side.region && !side.in_another_account() => MeshSide {
            account_id: stack.account_id.clone(),
            role_arn: stack.role_arn.clone(),
            ..side
        },
        _ => side,
    }
}

/// Every side in another account is reached as a role the stack lets its functions assume, so
/// that a role it does not name is refused here, before any pair runs, not by IAM halfway.
fn check_roles(request: &MeshRequest, settings: &MeshSettings) -> Result<()> {
    for (index, side) in request.sides.iter().enumerate() {
        let Some(role_arn) = &side.role_arn else { continue };
        if !settings.assumable_roles.contains(role_arn) {
            return Err(Error::invalid(
                format!("mesh[{index}].roleArn"),
                format!(
                    "is {}, which this stack's functions may not assume; add it to the stack's \
                     MeshRoleArns parameter (they may assume only PassiveRoleArn and MeshRoleArns{})",
                    echo(role_arn),
                    if settings.assumable_roles.is_empty() {
                        ", both empty now".to_owned()
                    } else {
                        format!(": {}", settings.assumable_roles.join(", "))
                    }
                ),
            ));
        }
    }
    Ok(())
}

/// The sides: two at least, at most [`MAX_MESH_SIDES`], one per Region; `leaving` one of them,
/// and only in a teardown.
fn check_sides(request: &MeshRequest) -> Result<()> {
    let sides = &request.sides;
    if sides.len() < 2 {
        return Err(Error::invalid(
            "mesh",
            format!(
                "has {} side(s); a mesh needs two or more: list them, or set the stack's \
                 MeshRegions (MESH_REGIONS) and send \"mesh\": []",
                sides.len()
            ),
        ));
    }
    if sides.len() > MAX_MESH_SIDES {
        return Err(Error::invalid(
            "mesh",
            format!(
                "has {} sides; at most {MAX_MESH_SIDES} (each Region's write pace is shared by \
                 every pair touching it); split the mesh",
                sides.len()
            ),
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, side) in sides.iter().enumerate() {
        crate::contract::validate::region(&format!("mesh[{index}].region"), &side.region)?;
        if let Some(first) = seen.insert(side.region.as_str(), index) {
            return Err(Error::invalid(
                format!("mesh[{index}].region"),
                format!(
                    "is {} again (mesh[{first}] has it); a mesh has one transit gateway per Region",
                    echo(&side.region)
                ),
            ));
        }
    }
    if let Some(leaving) = &request.leaving {
        if request.action != Action::Teardown {
            return Err(Error::invalid(
                "leaving",
                "is for a teardown; add \"action\": \"teardown\" to remove that Region's pairs",
            ));
        }
        if !seen.contains_key(leaving.as_str()) {
            return Err(Error::invalid(
                "leaving",
                format!(
                    "is {}, which is not a side of the mesh ({}); name one of its Regions",
                    echo(leaving),
                    sides
                        .iter()
                        .map(|s| s.region.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// One pair of the mesh: two sides by index, the active one (where the peering is created
/// from) first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairIndex {
    pub active: usize,
    pub passive: usize,
}

/// Every pair to run, in side order: all N(N-1)/2, or with `leaving` only that Region's. A side
/// in the stack's account is the active side of its pairs with sides in other accounts, so the
/// stack's account owns those peerings; between two sides of other accounts the first listed
/// creates the peering, as its role.
pub fn pairs(request: &MeshRequest) -> Vec<PairIndex> {
    let sides = &request.sides;
    let mut pairs = Vec::new();
    for i in 0..sides.len() {
        for j in i + 1..sides.len() {
            let touches_leaving = request
                .leaving
                .as_ref()
                .is_none_or(|leaving| *leaving == sides[i].region || *leaving == sides[j].region);
            if !touches_leaving {
                continue;
            }
            let (active, passive) = if sides[i].in_another_account() && !sides[j].in_another_account() {
                (j, i)
            } else {
                (i, j)
            };
            pairs.push(PairIndex { active, passive });
        }
    }
    pairs
}

/// How many pairs share each Region's write pace. Every side is in N-1 pairs; dividing the pace
/// by that keeps the Region within it whichever pairs write at once.
pub fn write_share(request: &MeshRequest) -> u32 {
    u32::try_from(request.sides.len().saturating_sub(1).max(1)).unwrap_or(u32::MAX)
}

/// The name a pair goes by in reports: its Regions, active first.
pub fn pair_name(request: &MeshRequest, pair: PairIndex) -> String {
    format!(
        "{} <-> {}",
        request.sides[pair.active].region, request.sides[pair.passive].region
    )
}

/// The pair's request, as today's two-Region request: the shared fields, then each side's.
pub fn pair_request(request: &MeshRequest, pair: PairIndex) -> Value {
    let mut fields = request.shared.clone();
    let (active, passive) = (&request.sides[pair.active], &request.sides[pair.passive]);
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(key.to_owned(), value);
        }
    };
    let text = |value: &Option<String>| value.clone().map(Value::String);
    let tables = |value: &Option<RouteTableIds>| {
        value
            .as_ref()
            .map(|t| serde_json::to_value(t).expect("ids serialise"))
    };
    put("activeRegion", Some(Value::String(active.region.clone())));
    put("passiveRegion", Some(Value::String(passive.region.clone())));
    put("activeTransitGatewayId", text(&active.transit_gateway_id));
    put("passiveTransitGatewayId", text(&passive.transit_gateway_id));
    put("activeRouteTableId", tables(&active.route_table_ids));
    put("passiveRouteTableId", tables(&passive.route_table_ids));
    put("activeAccountId", text(&active.account_id));
    put("activeRoleArn", text(&active.role_arn));
    put("passiveAccountId", text(&passive.account_id));
    put("passiveRoleArn", text(&passive.role_arn));
    if write_share(request) > 1 {
        put("routeWriteShare", Some(Value::from(write_share(request))));
    }
    Value::Object(fields)
}

/// Which request field of the pair a side's mesh field became, to name it in errors.
pub fn side_field(pair_field: &str, pair: PairIndex) -> String {
    let (index, rest) = if let Some(rest) = pair_field.strip_prefix("active") {
        (pair.active, rest)
    } else if let Some(rest) = pair_field.strip_prefix("passive") {
        (pair.passive, rest)
    } else {
        return pair_field.to_owned();
    };
    let field = match rest {
        "Region" => "region".to_owned(),
        "TransitGatewayId" => "transitGatewayId".to_owned(),
        "AccountId" => "accountId".to_owned(),
        "RoleArn" => "roleArn".to_owned(),
        other if other.starts_with("RouteTableId") => {
            format!("routeTableIds{}", other.trim_start_matches("RouteTableId"))
        }
        other => {
            let mut chars = other.chars();
            chars
                .next()
                .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
    };
    format!("mesh[{index}].{field}")
}

/// One side's CIDRs, as read, to check against every other side's.
#[derive(Debug, Clone)]
pub struct SideCidrs {
    pub region: String,
    pub cidrs: Vec<SourcedCidr>,
}

/// Refuses a mesh in which any two sides' CIDRs overlap, adjacent in the list or not: a packet
/// to the shared range would have two places to go.
pub fn check_overlaps(sides: &[SideCidrs], tag_key: &str) -> Result<()> {
    for (i, a) in sides.iter().enumerate() {
        for b in &sides[i + 1..] {
            if let Some((x, y)) = find_overlap(&a.cidrs, &b.cidrs) {
                return Err(Error::MeshCidrOverlap {
                    side: format!("{} {} ({})", a.region, x.cidr, x.source),
                    other: format!("{} {} ({})", b.region, y.cidr, y.source),
                    tag_key: tag_key.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// A side of the mesh as each pair's execution is given it (`meshSides`), so that the pair can
/// re-read that side's CIDRs just before it writes: where it is, the table its propagated
/// ranges are read from, and the role it is read as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshPeerSide {
    pub region: String,
    pub transit_gateway_id: String,
    /// The side's peering route table, whose VPN and Direct Connect routes `propagatedCidrs` adds.
    pub peering_route_table_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

/// The mesh sides a pair re-reads before it writes: every side but the pair's own two (its own
/// are read, and checked against each other, by the pass itself). A mesh has one side per Region.
pub fn other_sides<'a>(
    sides: &'a [MeshPeerSide],
    pair_regions: (&str, &str),
) -> impl Iterator<Item = &'a MeshPeerSide> {
    let (active, passive) = (pair_regions.0.to_owned(), pair_regions.1.to_owned());
    sides
        .iter()
        .filter(move |side| side.region != active && side.region != passive)
}

/// Refuses a mesh pair whose own sides' CIDRs (as read just before it writes) overlap any other
/// side's (as read at the same moment): a VPC tagged after the mesh was planned would otherwise
/// be checked only against the pair's two sides. It names the pair's side first.
pub fn check_pair_against_mesh(pair: [&SideCidrs; 2], others: &[SideCidrs], tag_key: &str) -> Result<()> {
    for own in pair {
        for other in others {
            if let Some((x, y)) = find_overlap(&own.cidrs, &other.cidrs) {
                return Err(Error::MeshCidrOverlap {
                    side: format!("{} {} ({})", own.region, x.cidr, x.source),
                    other: format!("{} {} ({})", other.region, y.cidr, y.source),
                    tag_key: tag_key.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// One transit gateway's peering attachments, to check its quota.
#[derive(Debug, Clone)]
pub struct GatewayPeerings<'a> {
    pub region: &'a str,
    pub transit_gateway_id: &'a str,
    /// Every peering attachment listed in its Region.
    pub listed: &'a [PeeringAttachment],
    /// The (gateway, Region) ends of the pairs of this mesh that touch it.
    pub peers: Vec<(&'a str, &'a str)>,
}

/// Refuses a mesh that would take a gateway over its peering attachments quota: those it has
/// (live, any peer), plus one for each of its mesh peers it is not yet peered with.
pub fn check_peering_quota(gateway: &GatewayPeerings<'_>, quota: usize) -> Result<()> {
    let live: Vec<&PeeringAttachment> = gateway
        .listed
        .iter()
        .filter(|a| a.state.is_live())
        .filter(|a| {
            a.requester.transit_gateway_id == gateway.transit_gateway_id
                || a.accepter.transit_gateway_id == gateway.transit_gateway_id
        })
        .collect();
    let peered: BTreeSet<&str> = live
        .iter()
        .map(|a| {
            if a.requester.transit_gateway_id == gateway.transit_gateway_id {
                a.accepter.transit_gateway_id.as_str()
            } else {
                a.requester.transit_gateway_id.as_str()
            }
        })
        .collect();
    let to_create = gateway
        .peers
        .iter()
        .filter(|(peer, _)| !peered.contains(peer))
        .count();
    if to_create == 0 || live.len() + to_create <= quota {
        return Ok(());
    }
    Err(Error::AttachmentQuotaExceeded {
        region: gateway.region.to_owned(),
        transit_gateway_id: gateway.transit_gateway_id.to_owned(),
        existing: live.len(),
        to_create,
        quota,
    })
}

/// A table and the routes it has, for the route quotas across all of a side's peers.
#[derive(Debug, Clone)]
pub struct QuotaTable<'a> {
    pub route_table_id: &'a str,
    /// The VPC, for a VPC route table.
    pub vpc_id: Option<&'a str>,
    pub routes: BTreeSet<IpNet>,
}

/// Refuses a side whose tables could not take every other side's CIDRs: the transit gateway's
/// total (counted over its tables read) and each VPC route table's own quota. One pair alone
/// checks only its own peer's CIDRs; the mesh checks what all of its pairs add together.
pub fn check_route_quotas(
    (region, transit_gateway_id): (&str, &str),
    (tgw_tables, outbound): (&[QuotaTable<'_>], &BTreeSet<&str>),
    vpc_tables: &[QuotaTable<'_>],
    wanted: &BTreeSet<IpNet>,
    (tgw_quota, vpc_quota): (usize, usize),
) -> Result<()> {
    let missing = |table: &QuotaTable<'_>| wanted.iter().filter(|c| !table.routes.contains(c)).count();
    let existing: usize = tgw_tables.iter().map(|t| t.routes.len()).sum();
    let to_create: usize = tgw_tables
        .iter()
        .filter(|t| outbound.contains(t.route_table_id))
        .map(missing)
        .sum();
    if to_create > 0 && existing + to_create > tgw_quota {
        return Err(Error::TgwRouteQuotaExceeded {
            region: region.to_owned(),
            transit_gateway_id: transit_gateway_id.to_owned(),
            existing,
            to_create,
            quota: tgw_quota,
        });
    }
    for table in vpc_tables {
        let to_create = missing(table);
        if to_create > 0 && table.routes.len() + to_create > vpc_quota {
            return Err(Error::RouteQuotaExceeded {
                region: region.to_owned(),
                route_table_id: table.route_table_id.to_owned(),
                vpc_id: table.vpc_id.unwrap_or_default().to_owned(),
                existing: table.routes.len(),
                to_create,
                quota: vpc_quota,
            });
        }
    }
    Ok(())
}

/// How a pair's execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PairOutcome {
    Succeeded,
    Failed,
}

/// Route counts summed over a pair's tables (both sides, TGW and VPC tables).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTotals {
    pub created: usize,
    pub present: usize,
    pub conflicts: usize,
    pub removed: usize,
}

/// Reachability counts of a pair: VPC pairs, and how many a packet can cross.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairReachability {
    pub vpc_pairs: usize,
    pub reachable: usize,
}

/// One row of the matrix: a pair and how its execution ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshRow {
    pub pair: String,
    pub active_region: String,
    pub passive_region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<PairOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    /// The attachment's state at the end (`absent` when there is none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Routes created, already present, conflicting and removed (a dry run: to create, present,
    /// conflicting, to remove; a teardown: removed).
    pub routes: RouteTotals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachability: Option<PairReachability>,
    /// A dry run: whether a real run would create the peering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_peering: Option<bool>,
    /// A teardown: whether the peering was (would be) deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering_deleted: Option<bool>,
    /// The pair's execution whose history holds its whole output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// The longest cause a row keeps: enough for any of the tool's messages.
const MAX_CAUSE_CHARS: usize = 1000;

/// A pair's row from its execution: the output it ended with, or the failure the mesh caught.
///
/// A failed child execution reaches the Map as `States.TaskFailed` whose cause is the child's
/// `DescribeExecution` output as JSON, holding the child's own error and cause; anything else
/// (the start itself refused) is reported as caught.
pub fn pair_row(name: &str, pair: &Value, run: Option<&Value>, failure: Option<&Value>) -> MeshRow {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let mut row = MeshRow {
        pair: name.to_owned(),
        active_region: text(pair.get("activeRegion")).unwrap_or_default(),
        passive_region: text(pair.get("passiveRegion")).unwrap_or_default(),
        ..MeshRow::default()
    };
    if let Some(failure) = failure {
        row.outcome = Some(PairOutcome::Failed);
        let error = text(failure.get("Error")).unwrap_or_else(|| "States.TaskFailed".to_owned());
        let cause = text(failure.get("Cause")).unwrap_or_default();
        match serde_json::from_str::<Value>(&cause) {
            Ok(execution) if execution.is_object() => {
                let field =
                    |upper: &str, lower: &str| text(execution.get(upper).or_else(|| execution.get(lower)));
                row.error_type = field("Error", "error").or(Some(error));
                row.cause = field("Cause", "cause");
                row.execution_arn = field("ExecutionArn", "executionArn");
            }
            _ => {
                row.error_type = Some(error);
                row.cause = Some(cause);
            }
        }
        if let Some(cause) = &mut row.cause {
            if cause.chars().count() > MAX_CAUSE_CHARS {
                *cause = cause.chars().take(MAX_CAUSE_CHARS).collect::<String>() + "...";
            }
        }
        return row;
    }
    row.outcome = Some(PairOutcome::Succeeded);
    let Some(run) = run else { return row };
    row.execution_arn = text(run.get("executionArn"));
    let Some(output) = run.get("output") else {
        return row;
    };
    let Ok(state) = PeeringState::decode(output, "(pair output)", "") else {
        return row;
    };
    fill_from_state(&mut row, &state);
    row
}

fn fill_from_state(row: &mut MeshRow, state: &PeeringState) {
    row.attachment_id = state.attachment().map(str::to_owned);
    row.status.clone_from(&state.status);
    if let Some(routes) = state.routes.as_ref().and_then(|r| r.known()) {
        let tables = routes
            .tgw_route_tables
            .iter()
            .map(|t| &t.report)
            .chain(routes.vpc_route_tables.iter().map(|t| &t.report));
        for table in tables {
            row.routes.created += table.counts.created;
            row.routes.present += table.counts.present;
            row.routes.conflicts += table.counts.conflicts;
            row.routes.removed += table.counts.removed;
        }
    }
    if let Some(plan) = state.route_plan.as_ref().and_then(|r| r.known()) {
        let tables = plan
            .tgw_route_tables
            .iter()
            .map(|t| &t.plan)
            .chain(plan.vpc_route_tables.iter().map(|t| &t.plan));
        for table in tables {
            row.routes.created += table.counts.create;
            row.routes.present += table.counts.present;
            row.routes.conflicts += table.counts.conflicts;
            row.routes.removed += table.counts.remove;
        }
    }
    if let Some(plan) = state.peering_plan.as_ref().and_then(|r| r.known()) {
        row.create_peering = Some(plan.create_peering);
    }
    if let Some(teardown) = state.teardown.as_ref().and_then(|r| r.known()) {
        row.routes.removed += teardown
            .tgw_route_tables
            .iter()
            .chain(&teardown.vpc_route_tables)
            .map(|t| t.report.counts.deleted)
            .sum::<usize>();
        row.peering_deleted = state.peering_deleted;
    }
    if let Some(reach) = state.reachability.as_ref().and_then(|r| r.known()) {
        row.reachability = Some(PairReachability {
            vpc_pairs: reach.pairs,
            reachable: reach.reachable,
        });
    }
}

/// The whole mesh in numbers, and in the one line `start.sh` ends with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshSummary {
    pub pairs: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Pairs whose peering is available at the end.
    pub available: usize,
    pub routes: RouteTotals,
    pub vpc_pairs: usize,
    pub reachable: usize,
    pub text: String,
}

/// A pair that failed, as the execution's cause names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedPair {
    pub pair: String,
    pub error_type: String,
}

/// The mesh's report: the matrix, its summary, and (when any pair failed) which and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshReport {
    pub rows: Vec<MeshRow>,
    pub summary: MeshSummary,
    pub failed_pairs: Vec<FailedPair>,
    /// The execution's cause when a pair failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// Adds the rows up. Only an `available` peering whose VPC pairs all cross counts as done: a
/// pair that failed, or left a VPC pair unreachable, is named.
pub fn mesh_report(rows: Vec<MeshRow>, action: Action, dry_run: bool) -> MeshReport {
    let mut summary = MeshSummary {
        pairs: rows.len(),
        ..MeshSummary::default()
    };
    let mut failed_pairs = Vec::new();
    for row in &rows {
        match row.outcome {
            Some(PairOutcome::Succeeded) => summary.succeeded += 1,
            _ => {
                summary.failed += 1;
                failed_pairs.push(FailedPair {
                    pair: row.pair.clone(),
                    error_type: row.error_type.clone().unwrap_or_else(|| "Unknown".to_owned()),
                });
            }
        }
        if row.status.as_deref() == Some("available") {
            summary.available += 1;
        }
        summary.routes.created += row.routes.created;
        summary.routes.present += row.routes.present;
        summary.routes.conflicts += row.routes.conflicts;
        summary.routes.removed += row.routes.removed;
        if let Some(reach) = row.reachability {
            summary.vpc_pairs += reach.vpc_pairs;
            summary.reachable += reach.reachable;
        }
    }
    summary.text = summary_text(&summary, &rows, action, dry_run);
    let cause = (!failed_pairs.is_empty()).then(|| {
        let named: Vec<String> = failed_pairs
            .iter()
            .map(|f| format!("{} ({})", f.pair, f.error_type))
            .collect();
        format!(
            "{} of {} pairs failed: {}; every other pair completed. Each failed pair's execution \
             says why; fix that and run the same request again: it finishes only what is missing",
            failed_pairs.len(),
            summary.pairs,
            named.join(", ")
        )
    });
    MeshReport {
        rows,
        summary,
        failed_pairs,
        cause,
    }
}

fn summary_text(summary: &MeshSummary, rows: &[MeshRow], action: Action, dry_run: bool) -> String {
    let failed = if summary.failed > 0 {
        format!(", {} failed", summary.failed)
    } else {
        String::new()
    };
    match (action, dry_run) {
        (Action::Teardown, _) => {
            let deleted = rows.iter().filter(|r| r.peering_deleted == Some(true)).count();
            let verb = if dry_run { "would be " } else { "" };
            format!(
                "{} of {} pairs torn down{failed}, {} routes {verb}removed, {deleted} peerings {verb}deleted",
                summary.succeeded, summary.pairs, summary.routes.removed
            )
        }
        (Action::Setup, true) => {
            let to_create = rows.iter().filter(|r| r.create_peering == Some(true)).count();
            format!(
                "dry run: {} pairs{failed}, {to_create} peerings to create, {} routes to create, {} present",
                summary.pairs, summary.routes.created, summary.routes.present
            )
        }
        (Action::Setup, false) => format!(
            "{} of {} pairs available{failed}, {} routes created, {} of {} VPC pairs reachable",
            summary.available, summary.pairs, summary.routes.created, summary.reachable, summary.vpc_pairs
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROLE_B: &str = "arn:aws:iam::222222222222:role/peer";
    const ROLE_C: &str = "arn:aws:iam::333333333333:role/peer";

    /// A stack whose functions may assume B's and C's roles.
    fn settings() -> MeshSettings {
        MeshSettings {
            assumable_roles: vec![ROLE_B.into(), ROLE_C.into()],
            ..MeshSettings::default()
        }
    }

    fn decode(request: Value) -> Result<MeshRequest> {
        decode_mesh(&request, &settings())
    }

    fn regions(regions: &[&str]) -> Value {
        Value::Array(regions.iter().map(|r| json!({"region": r})).collect())
    }

    #[test]
    fn given_n_sides_then_every_pair_once_and_each_region_shares_its_pace_among_n_minus_one() {
        for n in 2..=6 {
            let names = [
                "us-east-1",
                "us-west-2",
                "eu-west-1",
                "ap-southeast-2",
                "eu-central-1",
                "sa-east-1",
            ];
            let request = decode(json!({"mesh": regions(&names[..n])})).unwrap();
            let pairs = pairs(&request);
            assert_eq!(pairs.len(), n * (n - 1) / 2);
            let unique: BTreeSet<(usize, usize)> = pairs
                .iter()
                .map(|p| (p.active.min(p.passive), p.active.max(p.passive)))
                .collect();
            assert_eq!(unique.len(), pairs.len(), "no pair twice");
            for side in 0..n {
                let touching = pairs
                    .iter()
                    .filter(|p| p.active == side || p.passive == side)
                    .count();
                assert_eq!(touching, n - 1);
                assert_eq!(write_share(&request) as usize, touching.max(1));
            }
        }
    }

    #[test]
    fn given_a_mesh_of_two_then_its_one_pair_is_todays_request_with_the_whole_pace() {
        let request = decode(json!({
            "mesh": [{"region": "us-east-1", "transitGatewayId": "tgw-0123456789abcdef0"},
                     {"region": "eu-west-1", "routeTableIds": ["tgw-rtb-0123456789abcdef0"]}],
            "vpcRoutes": true, "dryRun": true
        }))
        .unwrap();
        let pairs = pairs(&request);
        assert_eq!(
            pairs,
            [PairIndex {
                active: 0,
                passive: 1
            }]
        );
        assert_eq!(
            pair_request(&request, pairs[0]),
            json!({"activeRegion": "us-east-1", "passiveRegion": "eu-west-1",
                   "activeTransitGatewayId": "tgw-0123456789abcdef0",
                   "passiveRouteTableId": ["tgw-rtb-0123456789abcdef0"],
                   "vpcRoutes": true, "dryRun": true})
        );
        assert_eq!(pair_name(&request, pairs[0]), "us-east-1 <-> eu-west-1");
    }

    #[test]
    fn given_a_side_in_another_account_then_it_is_the_passive_side_of_each_of_its_pairs() {
        let request = decode(json!({"mesh": [
            {"region": "eu-west-1", "accountId": "222222222222", "roleArn": "arn:aws:iam::222222222222:role/peer"},
            {"region": "us-east-1"}, {"region": "us-west-2"}]}))
        .unwrap();
        for pair in pairs(&request) {
            assert_ne!(pair.active, 0);
            let body = pair_request(&request, pair);
            if pair.passive == 0 {
                assert_eq!(body["passiveRoleArn"], "arn:aws:iam::222222222222:role/peer");
                assert_eq!(body["passiveAccountId"], "222222222222");
            }
            assert_eq!(body["routeWriteShare"], 2);
        }
    }

    #[test]
    fn given_sides_in_two_other_accounts_then_their_pair_is_made_as_both_roles_and_each_pairs_with_the_stacks_side_as_passive(
    ) {
        let request = decode(json!({"mesh": [
            {"region": "us-west-2", "roleArn": ROLE_B},
            {"region": "us-east-1"},
            {"region": "eu-west-1", "accountId": "333333333333", "roleArn": ROLE_C}]}))
        .unwrap();
        let bodies: Vec<Value> = pairs(&request)
            .into_iter()
            .map(|pair| pair_request(&request, pair))
            .collect();
        let pick = |body: &Value, key: &str| body.get(key).cloned().unwrap_or(Value::Null);
        let seen: Vec<[Value; 4]> = bodies
            .iter()
            .map(|body| {
                [
                    pick(body, "activeRegion"),
                    pick(body, "activeRoleArn"),
                    pick(body, "passiveRegion"),
                    pick(body, "passiveRoleArn"),
                ]
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                [json!("us-east-1"), Value::Null, json!("us-west-2"), json!(ROLE_B)],
                [
                    json!("us-west-2"),
                    json!(ROLE_B),
                    json!("eu-west-1"),
                    json!(ROLE_C)
                ],
                [json!("us-east-1"), Value::Null, json!("eu-west-1"), json!(ROLE_C)],
            ]
        );
        assert_eq!(bodies[1]["passiveAccountId"], "333333333333");
    }

    #[test]
    fn given_a_side_in_the_stacks_passive_region_naming_no_account_then_it_is_in_the_stacks_passive_account()
    {
        let stack = MeshSettings {
            assumable_roles: vec![ROLE_B.into()],
            stack_passive: Some(MeshSide {
                region: "eu-west-1".into(),
                account_id: Some("222222222222".into()),
                role_arn: Some(ROLE_B.into()),
                ..MeshSide::default()
            }),
            ..MeshSettings::default()
        };
        let request = decode_mesh(
            &json!({"mesh": regions(&["us-east-1", "eu-west-1", "us-west-2"])}),
            &stack,
        )
        .unwrap();
        assert_eq!(request.sides[1].role_arn.as_deref(), Some(ROLE_B));
        assert_eq!(request.sides[0].role_arn, None);
        assert_eq!(request.sides[2].role_arn, None);
    }

    #[test]
    fn given_a_role_the_stack_does_not_name_then_the_mesh_is_refused_naming_the_side() {
        let err = decode_mesh(
            &json!({"mesh": [{"region": "us-east-1"}, {"region": "us-west-2", "roleArn": ROLE_B}]}),
            &MeshSettings::default(),
        )
        .unwrap_err();
        match err {
            Error::InvalidInput { field, reason } => {
                assert_eq!(field, "mesh[1].roleArn");
                assert!(reason.contains("MeshRoleArns"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn given_bad_sides_then_each_error_names_the_field() {
        let cases = [
            (json!({"mesh": regions(&["us-east-1"])}), "mesh"),
            (
                json!({"mesh": regions(&["us-east-1", "us-east-1"])}),
                "mesh[1].region",
            ),
            (
                json!({"mesh": regions(&["us-east-1", "us-est-2"])}),
                "mesh[1].region",
            ),
            (
                json!({"mesh": [{"region": "us-east-1"}, {"regoin": "us-west-2"}]}),
                "mesh[1]",
            ),
            (json!({"mesh": "us-east-1"}), "mesh"),
            (
                json!({"mesh": regions(&["us-east-1", "us-west-2"]), "activeRegion": "us-east-1"}),
                "activeRegion",
            ),
            (
                json!({"mesh": regions(&["us-east-1", "us-west-2"]), "extraCidrs": {}}),
                "extraCidrs",
            ),
            (
                json!({"mesh": regions(&["us-east-1", "us-west-2"]), "leaving": "us-east-1"}),
                "leaving",
            ),
            (
                json!({"mesh": regions(&["us-east-1", "us-west-2"]), "leaving": "eu-west-1", "action": "teardown"}),
                "leaving",
            ),
            (
                json!({"mesh": [{"region": "us-east-1", "roleArn": ROLE_B},
                                {"region": "us-west-2", "roleArn": "arn:aws:iam::444444444444:role/peer"}]}),
                "mesh[1].roleArn",
            ),
        ];
        for (request, field) in cases {
            match decode(request.clone()) {
                Err(Error::InvalidInput { field: named, .. }) => {
                    assert!(
                        named.starts_with(field),
                        "{request}: named {named}, wanted {field}"
                    );
                }
                other => panic!("{request}: {other:?}"),
            }
        }
        let many: Vec<String> = (0..=MAX_MESH_SIDES).map(|i| format!("x{i}")).collect();
        assert!(decode(
            json!({"mesh": many.iter().map(|_| json!({"region": "us-east-1"})).collect::<Vec<_>>()})
        )
        .is_err());
    }

    #[test]
    fn given_a_pair_field_in_an_error_then_it_is_named_as_the_sides_mesh_field() {
        let pair = PairIndex {
            active: 2,
            passive: 0,
        };
        let cases = [
            ("activeTransitGatewayId", "mesh[2].transitGatewayId"),
            ("passiveRegion", "mesh[0].region"),
            ("activeRouteTableId[1]", "mesh[2].routeTableIds[1]"),
            ("passiveRoleArn", "mesh[0].roleArn"),
            ("vpcTagKey", "vpcTagKey"),
        ];
        for (pair_field, named) in cases {
            assert_eq!(side_field(pair_field, pair), named);
        }
    }

    #[test]
    fn given_an_empty_list_then_the_stacks_regions_are_the_sides() {
        let stack = MeshSettings {
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            ..MeshSettings::default()
        };
        let request = decode_mesh(&json!({"mesh": []}), &stack).unwrap();
        assert_eq!(request.sides.len(), 2);
        assert!(decode(json!({"mesh": []})).is_err(), "no default: refused");
    }

    #[test]
    fn given_a_region_leaving_then_only_its_pairs_run() {
        let request = decode(
            json!({"mesh": regions(&["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]),
                                    "action": "teardown", "leaving": "eu-west-1"}),
        )
        .unwrap();
        let names: Vec<String> = pairs(&request)
            .into_iter()
            .map(|p| pair_name(&request, p))
            .collect();
        assert_eq!(
            names,
            [
                "us-east-1 <-> eu-west-1",
                "us-west-2 <-> eu-west-1",
                "eu-west-1 <-> ap-southeast-2"
            ]
        );
    }

    fn sourced(cidrs: &[&str], source: &str) -> Vec<SourcedCidr> {
        cidrs
            .iter()
            .map(|c| SourcedCidr {
                cidr: c.parse().unwrap(),
                source: source.to_owned(),
            })
            .collect()
    }

    fn side(region: &str, cidrs: &[&str], source: &str) -> SideCidrs {
        SideCidrs {
            region: region.into(),
            cidrs: sourced(cidrs, source),
        }
    }

    #[test]
    fn given_a_pair_side_that_now_overlaps_a_third_side_then_the_pair_is_refused_naming_both() {
        // Given the pair us-east-1 <-> us-west-2, whose us-east-1 side has a VPC tagged since the
        // mesh was planned that overlaps eu-west-1's
        let active = side("us-east-1", &["10.100.0.0/16", "10.120.0.0/24"], "vpc-new");
        let passive = side("us-west-2", &["10.110.0.0/16"], "vpc-b");
        let others = [side("eu-west-1", &["10.120.0.0/16"], "vpc-c")];

        // When the pair re-checks before writing
        let err = check_pair_against_mesh([&active, &passive], &others, "addToMesh").unwrap_err();

        // Then it is refused as CidrOverlap, naming the pair's side and the third side
        assert_eq!(err.error_type(), "CidrOverlap");
        let text = err.to_string();
        for part in [
            "us-east-1 10.120.0.0/24 (vpc-new)",
            "eu-west-1 10.120.0.0/16 (vpc-c)",
            "addToMesh",
        ] {
            assert!(text.contains(part), "{text}");
        }
    }

    #[test]
    fn given_no_overlap_with_any_other_side_then_the_pair_may_write() {
        let active = side("us-east-1", &["10.100.0.0/16"], "vpc-a");
        let passive = side("us-west-2", &["10.110.0.0/16"], "vpc-b");
        let others = [
            side("eu-west-1", &["10.120.0.0/16"], "vpc-c"),
            side("ap-southeast-2", &["10.130.0.0/16"], "vpc-d"),
        ];

        assert!(check_pair_against_mesh([&active, &passive], &others, "addToMesh").is_ok());
    }

    #[test]
    fn given_an_overlap_between_two_other_sides_then_it_is_not_this_pairs_to_refuse() {
        // The pair routes only its own sides' CIDRs; the pairs that touch the overlapping sides
        // refuse it.
        let active = side("us-east-1", &["10.100.0.0/16"], "vpc-a");
        let passive = side("us-west-2", &["10.110.0.0/16"], "vpc-b");
        let others = [
            side("eu-west-1", &["10.120.0.0/16"], "vpc-c"),
            side("ap-southeast-2", &["10.120.0.0/24"], "vpc-d"),
        ];

        assert!(check_pair_against_mesh([&active, &passive], &others, "addToMesh").is_ok());
    }

    #[test]
    fn the_sides_a_pair_rechecks_are_every_side_but_its_own_two() {
        let sides: Vec<MeshPeerSide> = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
            .iter()
            .map(|region| MeshPeerSide {
                region: (*region).into(),
                ..MeshPeerSide::default()
            })
            .collect();

        let others: Vec<&str> = other_sides(&sides, ("us-west-2", "us-east-1"))
            .map(|side| side.region.as_str())
            .collect();

        assert_eq!(others, ["eu-west-1", "ap-southeast-2"]);
    }

    #[test]
    fn given_an_overlap_between_sides_that_are_not_adjacent_then_it_is_refused_naming_both() {
        let sides = [
            SideCidrs {
                region: "us-east-1".into(),
                cidrs: sourced(&["10.0.0.0/16"], "vpc-a"),
            },
            SideCidrs {
                region: "us-west-2".into(),
                cidrs: sourced(&["10.1.0.0/16"], "vpc-b"),
            },
            SideCidrs {
                region: "eu-west-1".into(),
                cidrs: sourced(&["10.2.0.0/16"], "vpc-c"),
            },
            SideCidrs {
                region: "ap-southeast-2".into(),
                cidrs: sourced(&["10.0.128.0/24"], "vpc-d"),
            },
        ];
        let err = check_overlaps(&sides, "addToTransitGateway").unwrap_err();
        assert_eq!(err.error_type(), "CidrOverlap");
        let text = err.to_string();
        for part in [
            "us-east-1",
            "10.0.0.0/16",
            "vpc-a",
            "ap-southeast-2",
            "10.0.128.0/24",
            "vpc-d",
        ] {
            assert!(text.contains(part), "{text}");
        }
        assert!(check_overlaps(&sides[..3], "k").is_ok());
    }

    #[test]
    fn given_route_tables_then_the_quota_counts_every_peers_missing_routes() {
        let net = |s: &str| -> IpNet { s.parse().unwrap() };
        let wanted: BTreeSet<IpNet> = [net("10.1.0.0/16"), net("10.2.0.0/16"), net("10.3.0.0/16")].into();
        let tgw = [QuotaTable {
            route_table_id: "tgw-rtb-1",
            vpc_id: None,
            routes: [net("10.1.0.0/16"), net("10.0.0.0/16")].into(),
        }];
        let outbound: BTreeSet<&str> = ["tgw-rtb-1"].into();
        let vpc = [QuotaTable {
            route_table_id: "rtb-1",
            vpc_id: Some("vpc-1"),
            routes: [net("10.0.0.0/16")].into(),
        }];
        // 2 in the table + 2 missing = 4
        assert!(check_route_quotas(("r", "tgw"), (&tgw, &outbound), &vpc, &wanted, (4, 4)).is_ok());
        let err = check_route_quotas(("r", "tgw"), (&tgw, &outbound), &[], &wanted, (3, 50)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::TgwRouteQuotaExceeded {
                    existing: 2,
                    to_create: 2,
                    quota: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        // 1 in the VPC table + 3 missing = 4 > 3
        let err = check_route_quotas(("r", "tgw"), (&tgw, &outbound), &vpc, &wanted, (100, 3)).unwrap_err();
        assert!(
            matches!(err, Error::RouteQuotaExceeded { to_create: 3, .. }),
            "{err:?}"
        );
        // Nothing missing: within quota whatever it holds.
        let full = [QuotaTable {
            route_table_id: "tgw-rtb-1",
            vpc_id: None,
            routes: wanted.clone(),
        }];
        assert!(check_route_quotas(("r", "tgw"), (&full, &outbound), &[], &wanted, (1, 1)).is_ok());
    }

    #[test]
    fn given_a_failed_child_execution_then_its_row_names_its_own_error_and_cause() {
        let cause = json!({"ExecutionArn": "arn:aws:states:us-east-1:1:execution:m:x",
                           "Status": "FAILED", "Error": "PeeringFailed",
                           "Cause": "peering tgw-attach-1 is rejected"})
        .to_string();
        let row = pair_row(
            "us-east-1 <-> eu-west-1",
            &json!({"activeRegion": "us-east-1", "passiveRegion": "eu-west-1"}),
            None,
            Some(&json!({"Error": "States.TaskFailed", "Cause": cause})),
        );
        assert_eq!(row.outcome, Some(PairOutcome::Failed));
        assert_eq!(row.error_type.as_deref(), Some("PeeringFailed"));
        assert_eq!(row.cause.as_deref(), Some("peering tgw-attach-1 is rejected"));
        assert_eq!(
            row.execution_arn.as_deref(),
            Some("arn:aws:states:us-east-1:1:execution:m:x")
        );
        let refused = pair_row(
            "p",
            &json!({}),
            None,
            Some(&json!({"Error": "StepFunctions.AccessDeniedException", "Cause": "denied"})),
        );
        assert_eq!(
            refused.error_type.as_deref(),
            Some("StepFunctions.AccessDeniedException")
        );
        assert_eq!(refused.cause.as_deref(), Some("denied"));
    }

    #[test]
    fn given_rows_then_the_summary_adds_them_and_the_cause_names_each_failed_pair() {
        let ok = |pair: &str, created: usize, reach: (usize, usize)| MeshRow {
            pair: pair.into(),
            outcome: Some(PairOutcome::Succeeded),
            status: Some("available".into()),
            routes: RouteTotals {
                created,
                ..RouteTotals::default()
            },
            reachability: Some(PairReachability {
                vpc_pairs: reach.0,
                reachable: reach.1,
            }),
            ..MeshRow::default()
        };
        let report = mesh_report(
            vec![
                ok("a <-> b", 10, (4, 4)),
                ok("a <-> c", 12, (4, 4)),
                ok("b <-> c", 16, (16, 16)),
            ],
            Action::Setup,
            false,
        );
        assert_eq!(
            report.summary.text,
            "3 of 3 pairs available, 38 routes created, 24 of 24 VPC pairs reachable"
        );
        assert!(report.cause.is_none() && report.failed_pairs.is_empty());
        let failed = MeshRow {
            pair: "b <-> c".into(),
            outcome: Some(PairOutcome::Failed),
            error_type: Some("PeeringFailed".into()),
            ..MeshRow::default()
        };
        let report = mesh_report(vec![ok("a <-> b", 10, (4, 4)), failed], Action::Setup, false);
        assert_eq!(
            report.summary.text,
            "1 of 2 pairs available, 1 failed, 10 routes created, 4 of 4 VPC pairs reachable"
        );
        assert_eq!(
            report.failed_pairs,
            [FailedPair {
                pair: "b <-> c".into(),
                error_type: "PeeringFailed".into()
            }]
        );
        assert!(report
            .cause
            .unwrap()
            .starts_with("1 of 2 pairs failed: b <-> c (PeeringFailed)"));
    }
}
