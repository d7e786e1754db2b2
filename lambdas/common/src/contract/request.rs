//! The request: what `peer` is asked to do, read from the execution state with errors that name
//! the field and say how to fix it, then checked and completed from the stack's defaults.
//!
//! - [`parse_request`]: `peer`'s input (a request, or an EventBridge event carrying one).
//! - [`PeeringRequest::validate`]: fills in the defaults and checks every value given.
//! - [`ResolvedRequest::from_state`]: what `get-status` and `modify-routes` read back from
//!   `peer`'s output; [`ResolvedRequest::write_to`] is how `peer` writes it.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Defaults;
use crate::contract::state::{
    check_size, check_state_size, json_type, ExtraCidrsField, PeeringState, RouteTableIds,
};
use crate::contract::validate::{self, echo, IdKind};
use crate::error::{Error, Result};
use crate::plan::network_acl::{AclTraffic, PortRange, Protocol};
use crate::plan::prune::PruneOptions;
use crate::plan::Side;

pub const DEFAULT_VPC_TAG_KEY: &str = "addToTransitGateway";

/// At most this many extra CIDRs per side. Each becomes a static route on the other side (and a
/// VPC route in every table there, where VPC routes are on, against a quota of 50 by default).
pub const MAX_EXTRA_CIDRS: usize = 100;

/// What an execution does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Create or reuse the peering, accept it, and add the routes.
    #[default]
    Setup,
    /// Remove the routes this tool recorded, then the peering attachment if this tool created it.
    Teardown,
}

impl Action {
    /// The action named `value`, if it is one.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "setup" => Some(Action::Setup),
            "teardown" => Some(Action::Teardown),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Setup => "setup",
            Action::Teardown => "teardown",
        }
    }
}

/// Ranges to route across the peering besides the tagged VPCs' CIDRs: on-premises networks or a
/// provider's range, reached through each side's transit gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtraCidrs {
    /// Reached through the active transit gateway; routed on the passive side.
    pub active: Vec<IpNet>,
    /// Reached through the passive transit gateway; routed on the active side.
    pub passive: Vec<IpNet>,
}

impl ExtraCidrs {
    pub fn side(&self, side: Side) -> &[IpNet] {
        match side {
            Side::Active => &self.active,
            Side::Passive => &self.passive,
        }
    }
}

/// What `modify-routes` routes besides the transit gateway route tables' VPC CIDRs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteOptions {
    /// Also route each remote CIDR via the local transit gateway in the tagged VPCs' route tables.
    pub vpc_routes: bool,
    /// Also route the CIDRs each side's route table learns from VPN and Direct Connect gateway
    /// attachments.
    pub propagated_cidrs: bool,
    pub extra_cidrs: ExtraCidrs,
    /// Merge each side's CIDRs into the fewest prefixes covering exactly the same addresses.
    pub summarize_routes: bool,
    /// Enable propagation of each tagged VPC's attachment into the peering's route table on its
    /// side when traffic arriving over the peering has no route to that VPC (the return path).
    pub return_propagation: bool,
    /// Remove the routes this tool created that are no longer wanted, behind the guard.
    pub prune: PruneOptions,
    /// The pairs of a mesh that share each Region's route-write pace (`routeWriteShare`); this
    /// pair writes at that fraction of it. 0 and 1 both mean the whole pace.
    pub write_share: u32,
    /// What the reachability walk holds each network ACL to (`networkAclTraffic`).
    pub acl_traffic: AclTraffic,
}

/// Checks a list of CIDRs: each well formed, at most [`MAX_EXTRA_CIDRS`], duplicates dropped,
/// in address order.
pub(crate) fn checked_cidrs(
    field: &str,
    items: &[&str],
    item_field: impl Fn(usize) -> String,
) -> Result<Vec<IpNet>> {
    if items.len() > MAX_EXTRA_CIDRS {
        return Err(Error::invalid(
            field,
            format!(
                "has {} CIDRs; the limit is {MAX_EXTRA_CIDRS} a side, so summarise them into wider ranges",
                items.len()
            ),
        ));
    }
    let mut cidrs = items
        .iter()
        .enumerate()
        .map(|(index, item)| validate::cidr(&item_field(index), item))
        .collect::<Result<Vec<_>>>()?;
    cidrs.sort();
    cidrs.dedup();
    Ok(cidrs)
}

/// The peering request as written: every field may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeeringRequest {
    pub active_region: Option<String>,
    pub passive_region: Option<String>,
    pub active_transit_gateway_id: Option<String>,
    pub passive_transit_gateway_id: Option<String>,
    pub active_route_table_id: Option<RouteTableIds>,
    pub passive_route_table_id: Option<RouteTableIds>,
    pub active_peering_route_table_id: Option<String>,
    pub passive_peering_route_table_id: Option<String>,
    pub move_peering_association: Option<bool>,
    pub vpc_tag_key: Option<String>,
    pub vpc_routes: Option<bool>,
    pub propagated_cidrs: Option<bool>,
    pub summarize_routes: Option<bool>,
    pub return_propagation: Option<bool>,
    pub prune: Option<bool>,
    pub prune_threshold: Option<u8>,
    pub confirm_prune: Option<u64>,
    pub route_write_share: Option<u32>,
    pub network_acl_traffic: Option<AclTraffic>,
    /// Each side as given; `None` where the request leaves it to the default.
    pub active_extra_cidrs: Option<Vec<IpNet>>,
    pub passive_extra_cidrs: Option<Vec<IpNet>>,
    pub dry_run: Option<bool>,
    pub active_account_id: Option<String>,
    pub active_role_arn: Option<String>,
    pub passive_account_id: Option<String>,
    pub passive_role_arn: Option<String>,
    pub action: Option<Action>,
}

/// Where a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestSource {
    /// The execution input itself, or a direct invoke.
    Direct,
    /// The `detail` of an EventBridge event.
    EventBridge { detail_type: String, source: String },
}

/// A parsed request, with the fields that were ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRequest {
    pub request: PeeringRequest,
    pub source: RequestSource,
    /// Field names (with their path) that are not part of the contract.
    pub ignored_fields: Vec<String>,
    /// The input as decoded: on the state machine's Settle and Accept passes, `peer`'s own output.
    pub state: PeeringState,
}

/// The request once its Regions are settled and every id given is well formed; transit gateway
/// and route table ids may still be left for discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRequest {
    pub active_region: String,
    pub passive_region: String,
    pub active_transit_gateway_id: Option<String>,
    pub passive_transit_gateway_id: Option<String>,
    pub active_route_table_id: Option<RouteTableIds>,
    pub passive_route_table_id: Option<RouteTableIds>,
    pub active_peering_route_table_id: Option<String>,
    pub passive_peering_route_table_id: Option<String>,
    pub move_peering_association: bool,
    pub vpc_tag_key: String,
    pub options: RouteOptions,
    pub dry_run: bool,
    pub active: SideAccount,
    pub passive: SideAccount,
    pub action: Action,
}

/// The request with every field resolved: what `peer` writes into the state, and what
/// `get-status` and `modify-routes` read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRequest {
    pub active_region: String,
    pub passive_region: String,
    pub active_transit_gateway_id: String,
    pub passive_transit_gateway_id: String,
    /// The outbound tables the request names on each side: then exactly those tables get the
    /// routes to the remote side; `None` means every table the tagged VPCs' attachments use.
    pub active_route_table_id: Option<RouteTableIds>,
    pub passive_route_table_id: Option<RouteTableIds>,
    /// The table the peering attachment is associated with on each side, resolved by `peer`.
    pub active_peering_route_table_id: String,
    pub passive_peering_route_table_id: String,
    pub move_peering_association: bool,
    pub vpc_tag_key: String,
    /// Outputs of earlier versions lack these; they then mean "off" and "none".
    pub options: RouteOptions,
    /// Plan only: no function makes a mutating call.
    pub dry_run: bool,
    /// Each side's account, when it is not the functions' own.
    pub active: SideAccount,
    pub passive: SideAccount,
    pub action: Action,
}

/// Where one side's transit gateway lives, when that is another account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideAccount {
    /// The side's account; `None` when it is the functions' own.
    pub account_id: Option<String>,
    /// The role in that account that every call on this side is made as.
    pub role_arn: Option<String>,
}

impl SideAccount {
    /// Checks the two fields together: a role is needed for another account, and must be in it.
    fn checked(account_id: Option<String>, role_arn: Option<String>, names: (&str, &str)) -> Result<Self> {
        let (account_field, role_field) = names;
        if let Some(account) = &account_id {
            validate::account_id(account_field, account)?;
        }
        let role_account = role_arn
            .as_deref()
            .map(|arn| validate::role_arn(role_field, arn))
            .transpose()?;
        match (&account_id, role_account) {
            (Some(account), Some(role_account)) if account != role_account => Err(Error::invalid(
                role_field,
                format!(
                    "is a role in {role_account}, but {account_field} is {account}; give a role in \
                     that account"
                ),
            )),
            (Some(_), None) => Err(Error::invalid(
                role_field,
                format!(
                    "is not set, but {account_field} names another account; give the ARN of the role \
                     that cloudformation/passive-account-role.yaml creates there"
                ),
            )),
            (None, Some(role_account)) => Ok(Self {
                account_id: Some(role_account.to_owned()),
                role_arn,
            }),
            _ => Ok(Self { account_id, role_arn }),
        }
    }
}

/// What a dry run of `peer` would have changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerPlan {
    /// No live peering joins the two gateways, so one would be requested.
    pub create_peering: bool,
    /// The peering would be accepted: the peer Region shows it pendingAcceptance, or it would be
    /// created (the state machine accepts what it creates).
    pub accept_peering: bool,
    /// Younger duplicates this tool created, which would be deleted.
    pub delete_duplicates: Vec<String>,
}

/// The peering attachment a resolved state names, as each side knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentIds {
    /// `attachmentId`: the active side's id.
    pub active: String,
    /// `passiveAttachmentId` when `peer` reported one (the sides knew it by different ids), else
    /// the active side's.
    pub passive: String,
}

/// A resolved request that names its peering attachment: what `get-status` works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringRef {
    pub request: ResolvedRequest,
    pub attachment: AttachmentIds,
}

/// True when the object looks like an EventBridge event rather than a request.
fn is_eventbridge_envelope(input: &Value) -> bool {
    input.get("detail-type").is_some() && input.get("source").is_some()
}

/// Parses `peer`'s input: a request, or an EventBridge event carrying one in `detail`.
///
/// An event whose `detail` holds none of the request's fields (a scheduled event, a tag-change
/// event) means "use the defaults".
pub fn parse_request(input: &Value) -> Result<ParsedRequest> {
    let size = serde_json::to_vec(input).map_or(usize::MAX, |bytes| bytes.len());
    // `peer` is also given the state back (Settle, Accept, a teardown's DeletePeering), with the
    // reports the functions added: only the request in it is held to the request's cap.
    check_state_size(size, "(request)")?;
    if !is_eventbridge_envelope(input) {
        let state = PeeringState::decode(input, "(request)", "")?;
        check_size(state.request_bytes(), "(request)")?;
        return Ok(ParsedRequest {
            request: PeeringRequest::from_state(&state, "")?,
            source: RequestSource::Direct,
            ignored_fields: state.unknown_fields(""),
            state,
        });
    }
    let source = event_source(input)?;
    let detail = input.get("detail").unwrap_or(&Value::Null);
    if !matches!(detail, Value::Object(_) | Value::Null) {
        return Err(Error::invalid(
            "detail",
            format!(
                "must be a JSON object, not {}; EventBridge always sends an object",
                json_type(detail)
            ),
        ));
    }
    check_size(
        serde_json::to_vec(detail).map_or(usize::MAX, |bytes| bytes.len()),
        "detail",
    )?;
    let detail_state = if detail.is_null() {
        PeeringState::default()
    } else {
        PeeringState::decode(detail, "detail", "detail.")?
    };
    let (request, ignored_fields) = if detail_state.names_request_fields() {
        (
            PeeringRequest::from_state(&detail_state, "detail.")?,
            detail_state.unknown_fields("detail."),
        )
    } else {
        (PeeringRequest::default(), Vec::new())
    };
    Ok(ParsedRequest {
        request,
        source,
        ignored_fields,
        state: PeeringState::default(),
    })
}

fn event_source(input: &Value) -> Result<RequestSource> {
    for field in ["detail-type", "source"] {
        if !input.get(field).is_some_and(Value::is_string) {
            return Err(Error::invalid(
                field,
                "must be a string in an EventBridge event; check the rule's input",
            ));
        }
    }
    let event: EventBridgeEvent<Value> = serde_json::from_value(input.clone()).map_err(|err| {
        Error::invalid(
            "(EventBridge event)",
            format!("is malformed: {err}; send the event unchanged"),
        )
    })?;
    Ok(RequestSource::EventBridge {
        detail_type: event.detail_type,
        source: event.source,
    })
}

impl PeeringState {
    /// True when any request field is set: an event's `detail` that carries a request.
    fn names_request_fields(&self) -> bool {
        let texts = [
            &self.active_region,
            &self.passive_region,
            &self.active_transit_gateway_id,
            &self.passive_transit_gateway_id,
            &self.active_peering_route_table_id,
            &self.passive_peering_route_table_id,
            &self.vpc_tag_key,
            &self.active_account_id,
            &self.active_role_arn,
            &self.passive_account_id,
            &self.passive_role_arn,
        ];
        let flags = [
            self.vpc_routes,
            self.propagated_cidrs,
            self.summarize_routes,
            self.return_propagation,
            self.prune,
            self.dry_run,
            self.move_peering_association,
        ];
        texts.iter().any(|field| field.is_some())
            || self.active_route_table_id.is_some()
            || self.passive_route_table_id.is_some()
            || flags.iter().any(Option::is_some)
            || self.extra_cidrs.is_some()
            || self.action.is_some()
            || self.prune_threshold.is_some()
            || self.confirm_prune.is_some()
            || self.route_write_share.is_some()
            || self.network_acl_traffic.is_some()
    }
}

/// `networkAclTraffic` checked: an object with `protocol` (`tcp` or `udp`), `ports` and
/// `ephemeralPorts` (`"443"` or `"1024-65535"`), each defaulting to [`AclTraffic::default`]'s.
fn acl_traffic(given: &Value, prefix: &str) -> Result<AclTraffic> {
    let path = format!("{prefix}networkAclTraffic");
    let Value::Object(fields) = given else {
        return Err(Error::invalid(
            &path,
            format!(
                "must be an object such as {{\"protocol\": \"tcp\", \"ports\": \"443\"}}, not {}",
                json_type(given)
            ),
        ));
    };
    let mut traffic = AclTraffic::default();
    for (key, value) in fields {
        let field = match key.as_str() {
            "protocol" | "ports" | "ephemeralPorts" => format!("{path}.{key}"),
            _ => format!("{path}.{}", echo(key)),
        };
        let text = value
            .as_str()
            .ok_or_else(|| Error::invalid(&field, format!("must be a string, not {}", json_type(value))))?;
        match key.as_str() {
            "protocol" => {
                traffic.protocol = match text {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    _ => return Err(Error::invalid(&field, "must be `tcp` or `udp`")),
                }
            }
            "ports" => traffic.ports = port_range(&field, text)?,
            "ephemeralPorts" => traffic.ephemeral_ports = port_range(&field, text)?,
            _ => {
                return Err(Error::invalid(
                    &field,
                    "is not part of networkAclTraffic; use `protocol`, `ports` or `ephemeralPorts`",
                ))
            }
        }
    }
    Ok(traffic)
}

/// A port (`"443"`) or an inclusive range of ports (`"1024-65535"`).
fn port_range(field: &str, text: &str) -> Result<PortRange> {
    let port = |part: &str| part.trim().parse::<u16>().ok();
    let (from, to) = match text.split_once('-') {
        Some((from, to)) => (port(from), port(to)),
        None => (port(text), port(text)),
    };
    match (from, to) {
        (Some(from), Some(to)) if from <= to => Ok(PortRange { from, to }),
        _ => Err(Error::invalid(
            field,
            format!(
                "is `{}`; give a port or a range of ports from 0 to 65535, such as `443` or `1024-65535`",
                echo(text)
            ),
        )),
    }
}

fn acl_traffic_json(traffic: &AclTraffic) -> Value {
    let range = |ports: PortRange| format!("{}-{}", ports.from, ports.to);
    serde_json::json!({
        "protocol": traffic.protocol.name(),
        "ports": range(traffic.ports),
        "ephemeralPorts": range(traffic.ephemeral_ports),
    })
}

/// Each side of `extraCidrs` as a request gives it, checked: `None` where it leaves a side to
/// the default.
#[derive(Debug, Default)]
struct GivenExtraCidrs {
    active: Option<Vec<IpNet>>,
    passive: Option<Vec<IpNet>>,
}

fn extra_cidrs(field: &ExtraCidrsField, prefix: &str) -> Result<GivenExtraCidrs> {
    let path = format!("{prefix}extraCidrs");
    if let Some(unknown) = field.unknown.first() {
        return Err(Error::invalid(
            format!("{path}.{}", echo(unknown)),
            "is not a side; use `active` (ranges behind the active transit gateway) or `passive`",
        ));
    }
    let side = |name: &str, items: &Option<Vec<String>>| -> Result<Option<Vec<IpNet>>> {
        let Some(items) = items else { return Ok(None) };
        let side_path = format!("{path}.{name}");
        let texts: Vec<&str> = items.iter().map(String::as_str).collect();
        checked_cidrs(&side_path, &texts, |index| format!("{side_path}[{index}]")).map(Some)
    };
    Ok(GivenExtraCidrs {
        active: side("active", &field.active)?,
        passive: side("passive", &field.passive)?,
    })
}

impl PeeringRequest {
    /// The request fields of a decoded state; `prefix` names where they came from (`detail.`).
    pub fn from_state(state: &PeeringState, prefix: &str) -> Result<Self> {
        let given = match &state.extra_cidrs {
            Some(field) => extra_cidrs(field, prefix)?,
            None => GivenExtraCidrs::default(),
        };
        Ok(Self {
            active_region: state.active_region.clone(),
            passive_region: state.passive_region.clone(),
            active_transit_gateway_id: state.active_transit_gateway_id.clone(),
            passive_transit_gateway_id: state.passive_transit_gateway_id.clone(),
            active_route_table_id: state.active_route_table_id.clone(),
            passive_route_table_id: state.passive_route_table_id.clone(),
            active_peering_route_table_id: state.active_peering_route_table_id.clone(),
            passive_peering_route_table_id: state.passive_peering_route_table_id.clone(),
            move_peering_association: state.move_peering_association,
            vpc_tag_key: state.vpc_tag_key.clone(),
            vpc_routes: state.vpc_routes,
            propagated_cidrs: state.propagated_cidrs,
            summarize_routes: state.summarize_routes,
            return_propagation: state.return_propagation,
            prune: state.prune,
            prune_threshold: state.prune_threshold,
            confirm_prune: state.confirm_prune,
            route_write_share: state.route_write_share,
            network_acl_traffic: state
                .network_acl_traffic
                .as_ref()
                .map(|given| acl_traffic(given, prefix))
                .transpose()?,
            active_extra_cidrs: given.active,
            passive_extra_cidrs: given.passive,
            dry_run: state.dry_run,
            active_account_id: state.active_account_id.clone(),
            active_role_arn: state.active_role_arn.clone(),
            passive_account_id: state.passive_account_id.clone(),
            passive_role_arn: state.passive_role_arn.clone(),
            action: state.action,
        })
    }

    /// Fills Regions and the tag key from the defaults and checks every value given.
    pub fn validate(self, defaults: &Defaults) -> Result<ValidRequest> {
        let region = |given: Option<String>, default: &Option<String>, field: &str, variable: &str| {
            given.or_else(|| default.clone()).ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("is not set and {variable} has no default; set one of them"),
                )
            })
        };
        let active_region = region(
            self.active_region.clone(),
            &defaults.active_region,
            "activeRegion",
            "ACTIVE_REGION",
        )?;
        let passive_region = region(
            self.passive_region.clone(),
            &defaults.passive_region,
            "passiveRegion",
            "PASSIVE_REGION",
        )?;
        check_regions_and_ids(
            (&active_region, &passive_region),
            [
                self.active_transit_gateway_id.as_deref(),
                self.passive_transit_gateway_id.as_deref(),
                self.active_peering_route_table_id.as_deref(),
                self.passive_peering_route_table_id.as_deref(),
            ],
            [
                self.active_route_table_id.as_ref(),
                self.passive_route_table_id.as_ref(),
            ],
        )?;
        let regions = (active_region.as_str(), passive_region.as_str());
        let (active_peering_route_table_id, passive_peering_route_table_id) =
            self.peering_route_tables(defaults, regions)?;
        let move_peering_association = match self.move_peering_association {
            Some(given) => given,
            None => defaults.move_peering_association()?,
        };
        let vpc_tag_key = self
            .vpc_tag_key
            .clone()
            .unwrap_or_else(|| defaults.vpc_tag_key.clone());
        validate::tag_key("vpcTagKey", &vpc_tag_key)?;
        let options = self.route_options(defaults, regions)?;
        let (active, passive) = self.accounts(defaults, regions)?;
        Ok(ValidRequest {
            active_region,
            passive_region,
            active_transit_gateway_id: self.active_transit_gateway_id,
            passive_transit_gateway_id: self.passive_transit_gateway_id,
            active_route_table_id: self.active_route_table_id,
            passive_route_table_id: self.passive_route_table_id,
            active_peering_route_table_id,
            passive_peering_route_table_id,
            move_peering_association,
            vpc_tag_key,
            options,
            dry_run: self.dry_run.unwrap_or(false),
            active,
            passive,
            action: self.action.unwrap_or_default(),
        })
    }

    /// The route options: the request's, each left out one from the environment. Environment
    /// values are checked only where the request does not override them.
    fn route_options(
        &self,
        defaults: &Defaults,
        (active_region, passive_region): (&str, &str),
    ) -> Result<RouteOptions> {
        let needs_default = self.vpc_routes.is_none()
            || self.propagated_cidrs.is_none()
            || self.summarize_routes.is_none()
            || self.return_propagation.is_none()
            || self.prune.is_none()
            || self.prune_threshold.is_none()
            || self.active_extra_cidrs.is_none()
            || self.passive_extra_cidrs.is_none();
        let fallback = if needs_default {
            defaults.route_options()?
        } else {
            RouteOptions::default()
        };
        Ok(RouteOptions {
            vpc_routes: self.vpc_routes.unwrap_or(fallback.vpc_routes),
            propagated_cidrs: self.propagated_cidrs.unwrap_or(fallback.propagated_cidrs),
            summarize_routes: self.summarize_routes.unwrap_or(fallback.summarize_routes),
            return_propagation: self.return_propagation.unwrap_or(fallback.return_propagation),
            prune: PruneOptions {
                enabled: self.prune.unwrap_or(fallback.prune.enabled),
                threshold_percent: self.prune_threshold.unwrap_or(fallback.prune.threshold_percent),
                confirm: self.confirm_prune,
            },
            write_share: self.route_write_share.unwrap_or(0),
            acl_traffic: self.network_acl_traffic.unwrap_or_default(),
            extra_cidrs: ExtraCidrs {
                active: self.active_extra_cidrs.clone().unwrap_or_else(|| {
                    stack_side(defaults, active_region, Side::Active)
                        .map(|side| fallback.extra_cidrs.side(side).to_vec())
                        .unwrap_or_default()
                }),
                passive: self.passive_extra_cidrs.clone().unwrap_or_else(|| {
                    stack_side(defaults, passive_region, Side::Passive)
                        .map(|side| fallback.extra_cidrs.side(side).to_vec())
                        .unwrap_or_default()
                }),
            },
        })
    }

    /// Each side's peering route table: the request's, else the environment's for the stack's
    /// side in that Region, checked and named by its variable. (A named route table, or the
    /// gateway's default, is `peer`'s fallback.)
    fn peering_route_tables(
        &self,
        defaults: &Defaults,
        (active_region, passive_region): (&str, &str),
    ) -> Result<(Option<String>, Option<String>)> {
        let pick = |given: &Option<String>, region: &str, end: Side| -> Result<Option<String>> {
            if given.is_some() {
                return Ok(given.clone());
            }
            let Some(side) = stack_side(defaults, region, end) else {
                return Ok(None);
            };
            let (default, variable) = match side {
                Side::Active => (
                    &defaults.active_peering_route_table_id,
                    "ACTIVE_PEERING_ROUTE_TABLE_ID",
                ),
                Side::Passive => (
                    &defaults.passive_peering_route_table_id,
                    "PASSIVE_PEERING_ROUTE_TABLE_ID",
                ),
            };
            if let Some(value) = default {
                validate::resource_id(variable, IdKind::RouteTable, value)?;
            }
            Ok(default.clone())
        };
        Ok((
            pick(&self.active_peering_route_table_id, active_region, Side::Active)?,
            pick(
                &self.passive_peering_route_table_id,
                passive_region,
                Side::Passive,
            )?,
        ))
    }

    /// Each side's account. A side's two fields go together: a request that gives either
    /// replaces both defaults. Otherwise the stack's passive account (`PASSIVE_ACCOUNT_ID`,
    /// `PASSIVE_ROLE_ARN`) is the account of the stack's passive Region, whichever end of the
    /// request that Region is; every other side is in the functions' own account.
    fn accounts(
        &self,
        defaults: &Defaults,
        (active_region, passive_region): (&str, &str),
    ) -> Result<(SideAccount, SideAccount)> {
        let account = |given: (&Option<String>, &Option<String>), region: &str, end: Side| {
            let names = match end {
                Side::Active => ("activeAccountId", "activeRoleArn"),
                Side::Passive => ("passiveAccountId", "passiveRoleArn"),
            };
            if given.0.is_some() || given.1.is_some() {
                return SideAccount::checked(given.0.clone(), given.1.clone(), names);
            }
            match stack_side(defaults, region, end) {
                Some(Side::Passive) => SideAccount::checked(
                    defaults.passive_account_id.clone(),
                    defaults.passive_role_arn.clone(),
                    ("PASSIVE_ACCOUNT_ID", "PASSIVE_ROLE_ARN"),
                ),
                _ => Ok(SideAccount::default()),
            }
        };
        let active = account(
            (&self.active_account_id, &self.active_role_arn),
            active_region,
            Side::Active,
        )?;
        let passive = account(
            (&self.passive_account_id, &self.passive_role_arn),
            passive_region,
            Side::Passive,
        )?;
        Ok((active, passive))
    }
}

/// Which of the stack's own two sides a request's side in `region` is, for the defaults that
/// describe one side (its extra CIDRs, peering route table, account and role). The stack's
/// defaults describe its own pair: a mesh pair, or a request naming other Regions, takes a
/// side's defaults only in that side's Region, whichever end of the request it is. Where the
/// stack names no Region for `end`, the side keeps `end`'s own defaults.
fn stack_side(defaults: &Defaults, region: &str, end: Side) -> Option<Side> {
    let own = match end {
        Side::Active => &defaults.active_region,
        Side::Passive => &defaults.passive_region,
    };
    if defaults.active_region.as_deref() == Some(region) {
        Some(Side::Active)
    } else if defaults.passive_region.as_deref() == Some(region) {
        Some(Side::Passive)
    } else if own.is_none() {
        Some(end)
    } else {
        None
    }
}

/// Checks both Regions (real, different, one partition) and each id given: the transit gateways,
/// then the route tables, active side first.
fn check_regions_and_ids(
    (active, passive): (&str, &str),
    ids: [Option<&str>; 4],
    named: [Option<&RouteTableIds>; 2],
) -> Result<()> {
    validate::region("activeRegion", active)?;
    validate::region("passiveRegion", passive)?;
    validate::region_pair(active, passive)?;
    let fields = [
        ("activeTransitGatewayId", IdKind::TransitGateway),
        ("passiveTransitGatewayId", IdKind::TransitGateway),
        ("activePeeringRouteTableId", IdKind::RouteTable),
        ("passivePeeringRouteTableId", IdKind::RouteTable),
    ];
    for ((field, kind), value) in fields.into_iter().zip(ids) {
        if let Some(value) = value {
            validate::resource_id(field, kind, value)?;
        }
    }
    for (field, tables) in ["activeRouteTableId", "passiveRouteTableId"]
        .into_iter()
        .zip(named)
    {
        for (index, id) in tables
            .map(RouteTableIds::ids)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let field = tables.map_or_else(|| field.to_owned(), |t| t.field_of(field, index));
            validate::resource_id(&field, IdKind::RouteTable, id)?;
        }
    }
    Ok(())
}

/// A field `peer` always writes, read back.
fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str> {
    value.as_deref().ok_or_else(|| {
        Error::invalid(
            field,
            "is missing; pass `peer`'s output to this function unchanged",
        )
    })
}

impl ResolvedRequest {
    /// Reads `peer`'s output back: every request field must be there and well formed. The
    /// attachment must be named when `needs_attachment`; a dry run or a teardown may run with
    /// none (no peering exists).
    pub fn from_state(state: &PeeringState, needs_attachment: bool) -> Result<(Self, Option<AttachmentIds>)> {
        let text = |value: &Option<String>, field: &str| required(value, field).map(str::to_owned);
        let given = match &state.extra_cidrs {
            Some(field) => extra_cidrs(field, "")?,
            None => GivenExtraCidrs::default(),
        };
        let request = ResolvedRequest {
            active_region: text(&state.active_region, "activeRegion")?,
            passive_region: text(&state.passive_region, "passiveRegion")?,
            active_transit_gateway_id: text(&state.active_transit_gateway_id, "activeTransitGatewayId")?,
            passive_transit_gateway_id: text(&state.passive_transit_gateway_id, "passiveTransitGatewayId")?,
            active_route_table_id: state.active_route_table_id.clone(),
            passive_route_table_id: state.passive_route_table_id.clone(),
            active_peering_route_table_id: text(
                &state.active_peering_route_table_id,
                "activePeeringRouteTableId",
            )?,
            passive_peering_route_table_id: text(
                &state.passive_peering_route_table_id,
                "passivePeeringRouteTableId",
            )?,
            move_peering_association: state.move_peering_association.unwrap_or(false),
            vpc_tag_key: text(&state.vpc_tag_key, "vpcTagKey")?,
            options: RouteOptions {
                vpc_routes: state.vpc_routes.unwrap_or(false),
                propagated_cidrs: state.propagated_cidrs.unwrap_or(false),
                summarize_routes: state.summarize_routes.unwrap_or(false),
                return_propagation: state.return_propagation.unwrap_or(false),
                prune: PruneOptions {
                    enabled: state.prune.unwrap_or(false),
                    threshold_percent: state
                        .prune_threshold
                        .unwrap_or(crate::plan::prune::DEFAULT_PRUNE_THRESHOLD),
                    confirm: state.confirm_prune,
                },
                write_share: state.route_write_share.unwrap_or(0),
                acl_traffic: state
                    .network_acl_traffic
                    .as_ref()
                    .map(|given| acl_traffic(given, ""))
                    .transpose()?
                    .unwrap_or_default(),
                extra_cidrs: ExtraCidrs {
                    active: given.active.unwrap_or_default(),
                    passive: given.passive.unwrap_or_default(),
                },
            },
            dry_run: state.dry_run.unwrap_or(false),
            active: SideAccount::checked(
                state.active_account_id.clone(),
                state.active_role_arn.clone(),
                ("activeAccountId", "activeRoleArn"),
            )?,
            passive: SideAccount::checked(
                state.passive_account_id.clone(),
                state.passive_role_arn.clone(),
                ("passiveAccountId", "passiveRoleArn"),
            )?,
            action: state.action.unwrap_or_default(),
        };
        let attachment = match state.attachment() {
            Some(id) => Some(attachment_ids(id, state.passive_attachment_id.as_deref())?),
            None if needs_attachment => {
                return Err(Error::invalid(
                    "attachmentId",
                    "is missing; pass `peer`'s output to this function unchanged",
                ))
            }
            None => None,
        };
        request.check()?;
        Ok((request, attachment))
    }

    fn check(&self) -> Result<()> {
        check_regions_and_ids(
            (&self.active_region, &self.passive_region),
            [
                Some(self.active_transit_gateway_id.as_str()),
                Some(self.passive_transit_gateway_id.as_str()),
                Some(self.active_peering_route_table_id.as_str()),
                Some(self.passive_peering_route_table_id.as_str()),
            ],
            [
                self.active_route_table_id.as_ref(),
                self.passive_route_table_id.as_ref(),
            ],
        )?;
        validate::tag_key("vpcTagKey", &self.vpc_tag_key)
    }

    /// Writes every request field into `state`, resolved: what `peer` hands the later states.
    pub fn write_to(&self, state: &mut PeeringState) {
        state.active_region = Some(self.active_region.clone());
        state.passive_region = Some(self.passive_region.clone());
        state.active_transit_gateway_id = Some(self.active_transit_gateway_id.clone());
        state.passive_transit_gateway_id = Some(self.passive_transit_gateway_id.clone());
        state
            .active_route_table_id
            .clone_from(&self.active_route_table_id);
        state
            .passive_route_table_id
            .clone_from(&self.passive_route_table_id);
        state.active_peering_route_table_id = Some(self.active_peering_route_table_id.clone());
        state.passive_peering_route_table_id = Some(self.passive_peering_route_table_id.clone());
        state.move_peering_association = Some(self.move_peering_association);
        state.vpc_tag_key = Some(self.vpc_tag_key.clone());
        state.vpc_routes = Some(self.options.vpc_routes);
        state.propagated_cidrs = Some(self.options.propagated_cidrs);
        state.summarize_routes = Some(self.options.summarize_routes);
        state.return_propagation = Some(self.options.return_propagation);
        state.prune = Some(self.options.prune.enabled);
        state.prune_threshold = Some(self.options.prune.threshold_percent);
        state.confirm_prune = self.options.prune.confirm;
        state.route_write_share = (self.options.write_share > 1).then_some(self.options.write_share);
        let traffic = self.options.acl_traffic;
        state.network_acl_traffic = (traffic != AclTraffic::default()).then(|| acl_traffic_json(&traffic));
        let texts = |cidrs: &[IpNet]| Some(cidrs.iter().map(ToString::to_string).collect());
        state.extra_cidrs = Some(ExtraCidrsField {
            active: texts(&self.options.extra_cidrs.active),
            passive: texts(&self.options.extra_cidrs.passive),
            unknown: Vec::new(),
        });
        state.dry_run = Some(self.dry_run);
        state.active_account_id.clone_from(&self.active.account_id);
        state.active_role_arn.clone_from(&self.active.role_arn);
        state.passive_account_id.clone_from(&self.passive.account_id);
        state.passive_role_arn.clone_from(&self.passive.role_arn);
        state.action = Some(self.action);
    }
}

fn attachment_ids(active: &str, passive: Option<&str>) -> Result<AttachmentIds> {
    validate::resource_id("attachmentId", IdKind::Attachment, active)?;
    if let Some(passive) = passive {
        validate::resource_id("passiveAttachmentId", IdKind::Attachment, passive)?;
    }
    Ok(AttachmentIds {
        active: active.to_owned(),
        passive: passive.unwrap_or(active).to_owned(),
    })
}

impl PeeringRef {
    /// The input of `get-status`: `peer`'s output, naming its attachment.
    pub fn from_state(state: &PeeringState) -> Result<Self> {
        let (request, attachment) = ResolvedRequest::from_state(state, true)?;
        let attachment = attachment.expect("required above");
        Ok(Self { request, attachment })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::state::MAX_REQUEST_BYTES;
    use proptest::prelude::*;
    use serde_json::json;

    /// The request fields, as the property tests pick keys.
    const REQUEST_FIELDS: &[&str] = &[
        "activeRegion",
        "passiveRegion",
        "activeTransitGatewayId",
        "passiveTransitGatewayId",
        "activeRouteTableId",
        "passiveRouteTableId",
        "vpcTagKey",
        "vpcRoutes",
        "extraCidrs",
        "propagatedCidrs",
        "dryRun",
        "activeAccountId",
        "activeRoleArn",
        "passiveAccountId",
        "passiveRoleArn",
        "action",
    ];

    fn parse_peering_ref(input: &Value) -> Result<PeeringRef> {
        PeeringRef::from_state(&PeeringState::decode_input(input)?)
    }

    fn defaults() -> Defaults {
        Defaults {
            active_region: Some("us-east-1".into()),
            passive_region: Some("eu-west-1".into()),
            ..Defaults::default()
        }
    }

    fn field_of(err: Error) -> String {
        match err {
            Error::InvalidInput { field, .. } => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn given_an_empty_object_with_env_defaults_then_the_defaults_apply() {
        let parsed = parse_request(&json!({})).unwrap();
        let valid = parsed.request.validate(&defaults()).unwrap();
        assert_eq!(valid.active_region, "us-east-1");
        assert_eq!(valid.passive_region, "eu-west-1");
        assert_eq!(valid.vpc_tag_key, "addToTransitGateway");
        assert_eq!(valid.active_transit_gateway_id, None);
    }

    #[test]
    fn given_the_console_default_input_then_comment_is_ignored_with_a_note() {
        let parsed = parse_request(&json!({"Comment": "Insert your JSON here"})).unwrap();
        assert_eq!(parsed.request, PeeringRequest::default());
        assert_eq!(parsed.ignored_fields, ["\"Comment\""]);
    }

    #[test]
    fn given_our_own_output_fields_then_they_are_not_reported_as_unknown() {
        let parsed = parse_request(
            &json!({"attachmentId": "tgw-attach-12345678", "status": "pendingAcceptance", "created": true}),
        )
        .unwrap();
        assert!(parsed.ignored_fields.is_empty());
    }

    #[test]
    fn given_a_scheduled_event_then_the_defaults_apply() {
        let event = json!({
            "version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
            "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": "2026-11-22T10:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcile"], "detail": {}
        });
        let parsed = parse_request(&event).unwrap();
        assert_eq!(parsed.request, PeeringRequest::default());
        assert!(matches!(parsed.source, RequestSource::EventBridge { .. }));
    }

    #[test]
    fn given_a_tag_change_event_then_the_defaults_apply() {
        let event = json!({
            "version": "0", "id": "ffd8a6fe-32f8-ef66-c85c-111111111111",
            "detail-type": "Tag Change on Resource", "source": "aws.tag", "account": "123456789012",
            "time": "2026-11-22T10:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"],
            "detail": {"changed-tag-keys": ["addToTransitGateway"], "service": "ec2",
                       "resource-type": "vpc", "version": 3, "tags": {"addToTransitGateway": "true"}}
        });
        let parsed = parse_request(&event).unwrap();
        assert_eq!(parsed.request, PeeringRequest::default());
        assert!(parsed.ignored_fields.is_empty());
    }

    #[test]
    fn given_an_event_with_a_request_in_detail_then_it_is_used() {
        let event = json!({"detail-type": "Peer", "source": "my.app",
                           "detail": {"passiveRegion": "ap-south-1", "extra": 1}});
        let parsed = parse_request(&event).unwrap();
        assert_eq!(parsed.request.passive_region.as_deref(), Some("ap-south-1"));
        assert_eq!(parsed.ignored_fields, ["detail.\"extra\""]);
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let cases = [
            (json!([]), "(request)"),
            (json!("us-east-1"), "(request)"),
            (json!({"activeRegion": 42}), "activeRegion"),
            (json!({"passiveRegion": null}), "passiveRegion"),
            (
                json!({"activeTransitGatewayId": ["tgw-12345678"]}),
                "activeTransitGatewayId",
            ),
            (json!({"vpcTagKey": {"k": "v"}}), "vpcTagKey"),
            (
                json!({"detail-type": "x", "source": "y", "detail": "garbage"}),
                "detail",
            ),
            (
                json!({"detail-type": 7, "source": "y", "detail": {}}),
                "detail-type",
            ),
            (
                json!({"detail-type": "x", "source": "y", "detail": {"activeRegion": false}}),
                "detail.activeRegion",
            ),
            (json!({"pad": "x".repeat(MAX_REQUEST_BYTES)}), "(request)"),
        ];
        for (input, field) in cases {
            let err = parse_request(&input).unwrap_err();
            let message = err.to_string();
            assert_eq!(field_of(err), field, "{input:.80}");
            assert!(message.contains(field), "{message}");
        }
    }

    #[test]
    fn bad_values_fail_validation_naming_their_field() {
        let cases = [
            (json!({"activeRegion": "us-east-7"}), "activeRegion"),
            (json!({"passiveRegion": "us-east-1"}), "passiveRegion"),
            (
                json!({"activeTransitGatewayId": "tgw-xyz"}),
                "activeTransitGatewayId",
            ),
            (
                json!({"passiveRouteTableId": "rtb-12345678"}),
                "passiveRouteTableId",
            ),
            (json!({"vpcTagKey": ""}), "vpcTagKey"),
        ];
        for (input, field) in cases {
            let err = parse_request(&input)
                .unwrap()
                .request
                .validate(&defaults())
                .unwrap_err();
            assert_eq!(field_of(err), field, "{input}");
        }
    }

    #[test]
    fn without_env_defaults_a_missing_region_says_how_to_fix_it() {
        let no_defaults = Defaults {
            vpc_tag_key: "k".into(),
            ..Defaults::default()
        };
        let err = PeeringRequest::default()
            .validate(&no_defaults)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("activeRegion") && err.contains("ACTIVE_REGION"),
            "{err}"
        );
    }

    #[test]
    fn given_a_list_of_route_tables_then_each_is_checked_and_an_error_names_its_index() {
        let one = "tgw-rtb-0123456789abcdef0";
        let two = "tgw-rtb-0123456789abcdef2";
        let valid = parse_request(&json!({"activeRouteTableId": [one, two]}))
            .unwrap()
            .request
            .validate(&defaults())
            .unwrap();
        assert_eq!(
            valid.active_route_table_id.as_ref().map(RouteTableIds::ids),
            Some(&[one.to_owned(), two.to_owned()][..])
        );
        let cases = [
            (
                json!({"activeRouteTableId": []}),
                "activeRouteTableId",
                "empty list",
            ),
            (
                json!({"activeRouteTableId": [one, 5]}),
                "activeRouteTableId[1]",
                "not a number",
            ),
            (
                json!({"passiveRouteTableId": {"id": one}}),
                "passiveRouteTableId",
                "not an object",
            ),
            (
                json!({"activeRouteTableId": null}),
                "activeRouteTableId",
                "is null",
            ),
        ];
        for (input, field, words) in cases {
            let err = parse_request(&input).unwrap_err();
            assert!(err.to_string().contains(words), "{input}: {err}");
            assert_eq!(field_of(err), field, "{input}");
        }
        let bad_id = parse_request(&json!({"activeRouteTableId": [one, "rtb-0123456789abcdef0"]}))
            .unwrap()
            .request
            .validate(&defaults())
            .unwrap_err();
        assert_eq!(field_of(bad_id), "activeRouteTableId[1]");
    }

    #[test]
    fn the_peering_ref_needs_every_resolved_field() {
        let good = json!({
            "activeRegion": "us-east-1", "passiveRegion": "eu-west-1",
            "activeTransitGatewayId": "tgw-0123456789abcdef0", "passiveTransitGatewayId": "tgw-0123456789abcdef1",
            "activeRouteTableId": "tgw-rtb-0123456789abcdef0", "passiveRouteTableId": "tgw-rtb-0123456789abcdef1",
            "activePeeringRouteTableId": "tgw-rtb-0123456789abcdef0",
            "passivePeeringRouteTableId": "tgw-rtb-0123456789abcdef1",
            "vpcTagKey": "addToTransitGateway", "attachmentId": "tgw-attach-0123456789abcdef0",
            "status": "available", "created": true, "accepted": true
        });
        assert!(parse_peering_ref(&good).is_ok());
        for field in ["attachmentId", "activePeeringRouteTableId", "vpcTagKey"] {
            let mut bad = good.clone();
            bad.as_object_mut().unwrap().remove(field);
            assert_eq!(field_of(parse_peering_ref(&bad).unwrap_err()), field);
        }
        let mut bad = good.clone();
        bad["attachmentId"] = json!("tgw-attach-<script>");
        assert_eq!(field_of(parse_peering_ref(&bad).unwrap_err()), "attachmentId");
    }

    #[test]
    fn given_route_options_in_the_request_then_they_are_checked_sorted_and_deduplicated() {
        let parsed = parse_request(&json!({
            "vpcRoutes": true,
            "extraCidrs": {"active": ["10.2.0.0/16", "10.1.0.0/16", " 10.2.0.0/16"]}
        }))
        .unwrap();
        let valid = parsed.request.validate(&defaults()).unwrap();
        assert!(valid.options.vpc_routes && !valid.options.propagated_cidrs);
        let active: Vec<String> = valid
            .options
            .extra_cidrs
            .active
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(active, ["10.1.0.0/16", "10.2.0.0/16"]);
        assert!(valid.options.extra_cidrs.passive.is_empty());
    }

    #[test]
    fn given_env_defaults_then_a_request_side_replaces_only_that_side_and_bad_values_name_the_variable() {
        let env = Defaults {
            vpc_routes: Some("TRUE".into()),
            active_extra_cidrs: Some("192.168.0.0/16, 192.169.0.0/16".into()),
            passive_extra_cidrs: Some("172.30.0.0/16".into()),
            ..defaults()
        };
        let valid = parse_request(&json!({"extraCidrs": {"passive": []}}))
            .unwrap()
            .request
            .validate(&env)
            .unwrap();
        assert!(valid.options.vpc_routes);
        assert_eq!(valid.options.extra_cidrs.active.len(), 2);
        assert!(valid.options.extra_cidrs.passive.is_empty());

        let bad = Defaults {
            active_extra_cidrs: Some("192.168.0.0/16,10.0.0.1/8".into()),
            ..defaults()
        };
        let err = PeeringRequest::default().validate(&bad).unwrap_err();
        assert_eq!(field_of(err), "ACTIVE_EXTRA_CIDRS (item 2)");
        // A request that sets every option never reads the environment's.
        let overriding = json!({"vpcRoutes": false, "propagatedCidrs": false, "summarizeRoutes": false,
                                "returnPropagation": false, "prune": false, "pruneThreshold": 25,
                                "extraCidrs": {"active": [], "passive": []}});
        assert!(parse_request(&overriding).unwrap().request.validate(&bad).is_ok());
    }

    #[test]
    fn given_the_stacks_side_defaults_then_each_applies_to_the_side_in_its_region_whichever_end_it_is() {
        let role_b = "arn:aws:iam::222222222222:role/tgw-peering-passive";
        let env = Defaults {
            passive_account_id: Some("222222222222".into()),
            passive_role_arn: Some(role_b.into()),
            active_peering_route_table_id: Some("tgw-rtb-0aaaaaaaaaaaaaaaa".into()),
            passive_peering_route_table_id: Some("tgw-rtb-0bbbbbbbbbbbbbbbb".into()),
            active_extra_cidrs: Some("192.168.0.0/16".into()),
            passive_extra_cidrs: Some("172.30.0.0/16".into()),
            ..defaults()
        };
        let valid = |request: Value| parse_request(&request).unwrap().request.validate(&env).unwrap();
        let cidrs = |list: &[IpNet]| list.iter().map(ToString::to_string).collect::<Vec<_>>();

        let stacks_pair = valid(json!({}));
        assert_eq!(stacks_pair.active, SideAccount::default());
        assert_eq!(stacks_pair.passive.role_arn.as_deref(), Some(role_b));
        assert_eq!(
            stacks_pair.active_peering_route_table_id.as_deref(),
            Some("tgw-rtb-0aaaaaaaaaaaaaaaa")
        );
        assert_eq!(cidrs(&stacks_pair.options.extra_cidrs.active), ["192.168.0.0/16"]);

        let swapped = valid(json!({"activeRegion": "eu-west-1", "passiveRegion": "us-east-1"}));
        assert_eq!(swapped.active.account_id.as_deref(), Some("222222222222"));
        assert_eq!(swapped.active.role_arn.as_deref(), Some(role_b));
        assert_eq!(swapped.passive, SideAccount::default());
        assert_eq!(
            swapped.active_peering_route_table_id.as_deref(),
            Some("tgw-rtb-0bbbbbbbbbbbbbbbb")
        );
        assert_eq!(
            swapped.passive_peering_route_table_id.as_deref(),
            Some("tgw-rtb-0aaaaaaaaaaaaaaaa")
        );
        assert_eq!(cidrs(&swapped.options.extra_cidrs.active), ["172.30.0.0/16"]);
        assert_eq!(cidrs(&swapped.options.extra_cidrs.passive), ["192.168.0.0/16"]);

        let elsewhere = valid(json!({"activeRegion": "us-west-2", "passiveRegion": "ap-southeast-2"}));
        assert_eq!(
            (elsewhere.active.clone(), elsewhere.passive.clone()),
            Default::default()
        );
        assert_eq!(elsewhere.active_peering_route_table_id, None);
        assert_eq!(elsewhere.passive_peering_route_table_id, None);
        assert!(
            elsewhere.options.extra_cidrs.active.is_empty()
                && elsewhere.options.extra_cidrs.passive.is_empty()
        );
    }

    #[test]
    fn given_an_active_role_then_the_active_side_is_in_its_account_and_an_account_alone_names_the_missing_role(
    ) {
        let role_c = "arn:aws:iam::333333333333:role/tgw-peering-passive";
        let valid = parse_request(&json!({"activeRoleArn": role_c}))
            .unwrap()
            .request
            .validate(&defaults())
            .unwrap();
        assert_eq!(valid.active.account_id.as_deref(), Some("333333333333"));
        let mut state = PeeringState::default();
        let resolved = ResolvedRequest {
            active: valid.active.clone(),
            ..resolved_request()
        };
        resolved.write_to(&mut state);
        assert_eq!(state.active_role_arn.as_deref(), Some(role_c));
        let (read_back, _) = ResolvedRequest::from_state(&state, false).unwrap();
        assert_eq!(read_back.active, valid.active);

        let err = parse_request(&json!({"activeAccountId": "333333333333"}))
            .unwrap()
            .request
            .validate(&defaults())
            .unwrap_err();
        assert_eq!(field_of(err), "activeRoleArn");
        let err = parse_request(&json!({"activeAccountId": "444444444444", "activeRoleArn": role_c}))
            .unwrap()
            .request
            .validate(&defaults())
            .unwrap_err();
        assert_eq!(field_of(err), "activeRoleArn");
    }

    #[test]
    fn prune_settings_come_from_the_request_or_the_environment_and_bad_ones_name_the_field() {
        let env = Defaults {
            prune: Some("true".into()),
            prune_threshold: Some("40".into()),
            ..defaults()
        };
        let from_env = PeeringRequest::default().validate(&env).unwrap().options.prune;
        assert_eq!(
            from_env,
            PruneOptions {
                enabled: true,
                threshold_percent: 40,
                confirm: None
            }
        );
        let given = parse_request(&json!({"prune": true, "pruneThreshold": 10, "confirmPrune": 12}))
            .unwrap()
            .request
            .validate(&defaults())
            .unwrap()
            .options
            .prune;
        assert_eq!((given.threshold_percent, given.confirm), (10, Some(12)));
        assert_eq!(
            PeeringRequest::default()
                .validate(&defaults())
                .unwrap()
                .options
                .prune,
            PruneOptions::default()
        );

        for (bad, field, words) in [
            (json!({"pruneThreshold": 150}), "pruneThreshold", "from 0 to 100"),
            (json!({"pruneThreshold": "25"}), "pruneThreshold", "not a string"),
            (json!({"pruneThreshold": null}), "pruneThreshold", "is null"),
            (
                json!({"confirmPrune": -1}),
                "confirmPrune",
                "a refused prune named",
            ),
            (json!({"prune": "yes"}), "prune", "true or false"),
        ] {
            let err = parse_request(&bad).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(words), "{message}");
            assert_eq!(field_of(err), field, "{bad}");
        }
        let bad_env = Defaults {
            prune_threshold: Some("a quarter".into()),
            ..defaults()
        };
        let err = PeeringRequest::default().validate(&bad_env).unwrap_err();
        assert!(err.to_string().contains("PruneThreshold"), "{err}");
        assert_eq!(field_of(err), "PRUNE_THRESHOLD");
    }

    #[test]
    fn more_extra_cidrs_than_the_limit_are_refused_with_a_fix() {
        let many: Vec<String> = (0..=MAX_EXTRA_CIDRS)
            .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
            .collect();
        let err = parse_request(&json!({"extraCidrs": {"active": many}})).unwrap_err();
        assert!(err.to_string().contains("summarise"), "{err}");
        assert_eq!(field_of(err), "extraCidrs.active");
    }

    #[test]
    fn network_acl_traffic_is_checked_field_by_field_and_defaults_to_any_tcp() {
        // Given a request that leaves it out, then the walk holds the ACLs to any TCP.
        let parsed = parse_request(&json!({})).unwrap();
        let valid = parsed.request.validate(&defaults()).unwrap();
        assert_eq!(valid.options.acl_traffic, AclTraffic::default());
        // Given one that names HTTPS, then that is what is held.
        let https = parse_request(&json!({"networkAclTraffic": {"ports": "443"}})).unwrap();
        let traffic = https.request.network_acl_traffic.unwrap();
        assert_eq!(traffic.ports, PortRange { from: 443, to: 443 });
        assert_eq!(traffic.protocol, Protocol::Tcp);
        // Given a malformed field, then the error names it.
        for (given, field) in [
            (json!({"protocol": "icmp"}), "networkAclTraffic.protocol"),
            (json!({"ports": "443-80"}), "networkAclTraffic.ports"),
            (
                json!({"ephemeralPorts": "70000"}),
                "networkAclTraffic.ephemeralPorts",
            ),
            (json!({"ports": 443}), "networkAclTraffic.ports"),
            (json!({"port": "443"}), "networkAclTraffic.\"port\""),
            (json!("tcp"), "networkAclTraffic"),
        ] {
            let err = parse_request(&json!({ "networkAclTraffic": given })).unwrap_err();
            assert_eq!(field_of(err), field, "{given}");
        }
    }

    fn resolved_request() -> ResolvedRequest {
        ResolvedRequest {
            active_region: "us-east-1".into(),
            passive_region: "eu-west-1".into(),
            active_transit_gateway_id: "tgw-0123456789abcdef0".into(),
            passive_transit_gateway_id: "tgw-0123456789abcdef1".into(),
            active_route_table_id: Some(RouteTableIds::Many(vec![
                "tgw-rtb-0123456789abcdef0".into(),
                "tgw-rtb-0123456789abcdef2".into(),
            ])),
            passive_route_table_id: Some(RouteTableIds::One("tgw-rtb-0123456789abcdef1".into())),
            active_peering_route_table_id: "tgw-rtb-0123456789abcdef0".into(),
            passive_peering_route_table_id: "tgw-rtb-0123456789abcdef1".into(),
            move_peering_association: false,
            vpc_tag_key: DEFAULT_VPC_TAG_KEY.into(),
            options: RouteOptions {
                vpc_routes: true,
                propagated_cidrs: true,
                extra_cidrs: ExtraCidrs {
                    active: vec!["192.168.0.0/16".parse().unwrap()],
                    passive: vec![],
                },
                summarize_routes: true,
                return_propagation: true,
                prune: PruneOptions::default(),
                write_share: 3,
                acl_traffic: AclTraffic {
                    protocol: Protocol::Udp,
                    ports: PortRange { from: 53, to: 53 },
                    ..AclTraffic::default()
                },
            },
            dry_run: false,
            active: SideAccount::default(),
            passive: SideAccount::default(),
            action: Action::Setup,
        }
    }

    #[test]
    fn the_route_options_travel_from_peer_to_modify_routes_and_an_older_output_means_off() {
        let request = resolved_request();
        let mut state = PeeringState::default();
        request.write_to(&mut state);
        state.attachment_id = Some(Some("tgw-attach-0123456789abcdef0".into()));
        let mut output = serde_json::to_value(&state).unwrap();
        assert_eq!(parse_peering_ref(&output).unwrap().request, request);
        for field in [
            "vpcRoutes",
            "propagatedCidrs",
            "extraCidrs",
            "summarizeRoutes",
            "returnPropagation",
            "routeWriteShare",
            "networkAclTraffic",
        ] {
            output.as_object_mut().unwrap().remove(field);
        }
        assert_eq!(
            parse_peering_ref(&output).unwrap().request.options,
            RouteOptions::default()
        );
    }

    fn any_key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(REQUEST_FIELDS).prop_map(str::to_owned),
            proptest::sample::select(&["detail-type", "source", "detail", "attachmentId"][..])
                .prop_map(str::to_owned),
            "\\PC{0,12}",
        ]
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            proptest::sample::select(
                &[
                    "us-east-1",
                    "eu-west-1",
                    "tgw-0123456789abcdef0",
                    "tgw-rtb-12345678",
                    ""
                ][..]
            )
            .prop_map(Value::from),
            "\\PC{0,24}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(any_key(), inner, 0..6)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_is_either_a_valid_request_or_invalid_input_naming_a_field(input in any_json()) {
            match parse_request(&input).and_then(|parsed| parsed.request.validate(&defaults())) {
                Ok(valid) => {
                    prop_assert!(crate::contract::validate::partition_of(&valid.active_region).is_some());
                    prop_assert_ne!(valid.active_region, valid.passive_region);
                }
                Err(Error::InvalidInput { field, reason }) => {
                    prop_assert!(!field.is_empty() && !reason.is_empty());
                }
                Err(other) => prop_assert!(false, "unexpected error {:?}", other),
            }
        }

        #[test]
        fn any_json_given_to_get_status_is_accepted_only_when_complete_and_well_formed(input in any_json()) {
            if let Ok(peering) = parse_peering_ref(&input) {
                prop_assert!(peering.attachment.active.starts_with("tgw-attach-"));
            }
        }
    }

    /// An "AWS API Call via CloudTrail" event as EventBridge delivers it (the CloudTrail record
    /// contents of the CloudTrail User Guide, inside EventBridge's envelope): what the stack's
    /// NetworkChangeRule, and the passive Region's forwarder, hand the state machine.
    fn cloudtrail_event(
        event_name: &str,
        region: &str,
        request_parameters: Value,
        response_elements: Value,
    ) -> Value {
        json!({
            "version": "0", "id": "0b7d7a4e-6d0b-4c51-a8a4-3f4c5d6e7f80",
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
            "account": "123456789012", "time": "2026-11-22T12:00:03Z", "region": region,
            "resources": [],
            "detail": {
                "eventVersion": "1.09",
                "userIdentity": {
                    "type": "AssumedRole", "principalId": "AROAEXAMPLEID:alice",
                    "arn": "arn:aws:sts::123456789012:assumed-role/NetworkAdmin/alice",
                    "accountId": "123456789012", "accessKeyId": "ASIAEXAMPLEKEYID",
                    "sessionContext": {
                        "sessionIssuer": {
                            "type": "Role", "principalId": "AROAEXAMPLEID",
                            "arn": "arn:aws:iam::123456789012:role/NetworkAdmin",
                            "accountId": "123456789012", "userName": "NetworkAdmin"
                        },
                        "attributes": {"creationDate": "2026-11-22T11:58:02Z", "mfaAuthenticated": "false"}
                    }
                },
                "eventTime": "2026-11-22T12:00:00Z",
                "eventSource": "ec2.amazonaws.com",
                "eventName": event_name,
                "awsRegion": region,
                "sourceIPAddress": "192.0.2.10",
                "userAgent": "aws-cli/2.22.0 md/awscrt#0.23.4 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.6",
                "requestParameters": request_parameters,
                "responseElements": response_elements,
                "requestID": "4c0a6e8f-8b1c-4a3e-9d52-0f1e2d3c4b5a",
                "eventID": "2f6f5a8e-1b2c-4d3e-8f9a-0b1c2d3e4f5a",
                "readOnly": false,
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": "123456789012",
                "eventCategory": "Management",
                "tlsDetails": {
                    "tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                    "clientProvidedHostHeader": format!("ec2.{region}.amazonaws.com")
                }
            }
        })
    }

    /// The five calls the network-change rules match, each with its request and response.
    fn network_changes() -> Vec<(&'static str, Value, Value)> {
        let response_id = "6f1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
        vec![
            (
                "AssociateVpcCidrBlock",
                json!({"vpcId": "vpc-0123456789abcdef0", "cidrBlock": "10.3.0.0/16"}),
                json!({"requestId": response_id, "vpcId": "vpc-0123456789abcdef0",
                       "cidrBlockAssociation": {"associationId": "vpc-cidr-assoc-0123456789abcdef0",
                                                "cidrBlock": "10.3.0.0/16",
                                                "cidrBlockState": {"state": "associating"}}}),
            ),
            (
                "DisassociateVpcCidrBlock",
                json!({"associationId": "vpc-cidr-assoc-0123456789abcdef0"}),
                json!({"requestId": response_id, "vpcId": "vpc-0123456789abcdef0",
                       "cidrBlockAssociation": {"associationId": "vpc-cidr-assoc-0123456789abcdef0",
                                                "cidrBlock": "10.3.0.0/16",
                                                "cidrBlockState": {"state": "disassociating"}}}),
            ),
            (
                "CreateTransitGatewayVpcAttachment",
                json!({"CreateTransitGatewayVpcAttachmentRequest": {
                    "TransitGatewayId": "tgw-0123456789abcdef0", "VpcId": "vpc-0123456789abcdef0",
                    "SubnetIds": {"tag": 1, "content": "subnet-0123456789abcdef0"},
                    "Options": {"Ipv6Support": "disable", "DnsSupport": "enable"}}}),
                json!({"CreateTransitGatewayVpcAttachmentResponse": {
                    "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/", "requestId": response_id,
                    "transitGatewayVpcAttachment": {
                        "transitGatewayAttachmentId": "tgw-attach-0123456789abcdef0",
                        "transitGatewayId": "tgw-0123456789abcdef0",
                        "vpcId": "vpc-0123456789abcdef0", "vpcOwnerId": "123456789012",
                        "state": "pending", "creationTime": "2026-11-22T12:00:00.000Z",
                        "subnetIds": {"item": "subnet-0123456789abcdef0"}}}}),
            ),
            (
                "DeleteTransitGatewayVpcAttachment",
                json!({"DeleteTransitGatewayVpcAttachmentRequest": {
                    "TransitGatewayAttachmentId": "tgw-attach-0123456789abcdef0"}}),
                json!({"DeleteTransitGatewayVpcAttachmentResponse": {
                    "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/", "requestId": response_id,
                    "transitGatewayVpcAttachment": {
                        "transitGatewayAttachmentId": "tgw-attach-0123456789abcdef0",
                        "state": "deleting"}}}),
            ),
            (
                "DeleteVpc",
                json!({"vpcId": "vpc-0123456789abcdef0"}),
                json!({"requestId": response_id, "_return": true}),
            ),
        ]
    }

    #[test]
    fn given_a_cloudtrail_api_call_event_then_the_defaults_apply_and_no_field_is_reported() {
        for (name, request, response) in network_changes() {
            let parsed = parse_request(&cloudtrail_event(name, "us-east-1", request, response))
                .unwrap_or_else(|err| panic!("{name}: {err:?}"));
            assert_eq!(parsed.request, PeeringRequest::default(), "{name}");
            // `peer` logs a warning for each ignored field: none for an event's own detail.
            assert!(
                parsed.ignored_fields.is_empty(),
                "{name}: {:?}",
                parsed.ignored_fields
            );
            assert_eq!(
                parsed.source,
                RequestSource::EventBridge {
                    detail_type: "AWS API Call via CloudTrail".into(),
                    source: "aws.ec2".into()
                }
            );
            let valid = parsed.request.validate(&defaults()).unwrap();
            assert_eq!(
                (valid.active_region.as_str(), valid.passive_region.as_str()),
                ("us-east-1", "eu-west-1")
            );
        }
    }

    #[test]
    fn given_a_cloudtrail_event_forwarded_from_the_passive_region_then_the_defaults_still_apply() {
        for (name, request, response) in network_changes() {
            // The event's `region` and `detail.awsRegion` name the passive Region, not the request's.
            let parsed = parse_request(&cloudtrail_event(name, "eu-west-1", request, response))
                .unwrap_or_else(|err| panic!("{name}: {err:?}"));
            assert_eq!(parsed.request, PeeringRequest::default(), "{name}");
            assert!(parsed.ignored_fields.is_empty(), "{name}");
            let valid = parsed.request.validate(&defaults()).unwrap();
            assert_eq!(valid.active_region, "us-east-1");
            assert_eq!(valid.passive_region, "eu-west-1");
        }
    }

    #[test]
    fn given_a_cloudtrail_event_of_a_failed_call_then_the_defaults_apply_too() {
        // The rules leave failed calls out; one that arrives anyway (a rule edited by hand) is
        // still a harmless re-run.
        let mut event = cloudtrail_event(
            "DeleteVpc",
            "us-east-1",
            json!({"vpcId": "vpc-0123456789abcdef0"}),
            Value::Null,
        );
        let detail = event["detail"].as_object_mut().unwrap();
        detail.insert("errorCode".into(), json!("DependencyViolation"));
        detail.insert(
            "errorMessage".into(),
            json!("The vpc 'vpc-0123456789abcdef0' has dependencies and cannot be deleted."),
        );
        let parsed = parse_request(&event).unwrap();
        assert_eq!(parsed.request, PeeringRequest::default());
        assert!(parsed.ignored_fields.is_empty());
    }
}
