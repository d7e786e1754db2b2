//! The JSON contract: parsing and validating what the functions receive, and the shapes they return.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::validate::{self, echo, IdKind};

pub const DEFAULT_VPC_TAG_KEY: &str = "addToTransitGateway";

/// Requests larger than this are refused before anything else is looked at. A real request is a
/// few hundred bytes; the cap keeps a runaway payload out of logs and memory.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Fields our own functions add to the request as it flows through the state machine. `peer`
/// receives them again when the state machine loops back to accept, so they are not "unknown".
const PASS_THROUGH_FIELDS: &[&str] = &[
    "attachmentId",
    "status",
    "passiveStatus",
    "created",
    "accepted",
    "removedDuplicates",
    "routes",
    "warnings",
    "reachability",
    "peeringPlan",
    "routePlan",
    "passiveAttachmentId",
    "teardown",
    "routesRemoved",
    "peeringDeleted",
    "peeringKept",
];

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
    "passiveAccountId",
    "passiveRoleArn",
    "action",
];

/// At most this many extra CIDRs per side. Each becomes a static route on the other side (and a
/// VPC route in every table there, where VPC routes are on, against a quota of 50 by default).
pub const MAX_EXTRA_CIDRS: usize = 100;

/// Defaults from the function's environment, used for every field the request leaves out.
///
/// The route options are kept as written and checked with the request, so that a bad stack
/// parameter fails the execution with an error naming it instead of being dropped at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub active_region: Option<String>,
    pub passive_region: Option<String>,
    pub vpc_tag_key: String,
    /// `VPC_ROUTES`: `true` or `false`.
    pub vpc_routes: Option<String>,
    /// `PROPAGATED_CIDRS`: `true` or `false`.
    pub propagated_cidrs: Option<String>,
    /// `ACTIVE_EXTRA_CIDRS`: comma-separated CIDRs.
    pub active_extra_cidrs: Option<String>,
    /// `PASSIVE_EXTRA_CIDRS`: comma-separated CIDRs.
    pub passive_extra_cidrs: Option<String>,
    /// `PASSIVE_ACCOUNT_ID`: the account of the passive transit gateway, when it is another one.
    pub passive_account_id: Option<String>,
    /// `PASSIVE_ROLE_ARN`: the role in that account for every passive-side call.
    pub passive_role_arn: Option<String>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            active_region: None,
            passive_region: None,
            vpc_tag_key: DEFAULT_VPC_TAG_KEY.to_owned(),
            vpc_routes: None,
            propagated_cidrs: None,
            active_extra_cidrs: None,
            passive_extra_cidrs: None,
            passive_account_id: None,
            passive_role_arn: None,
        }
    }
}

impl Defaults {
    /// Reads `ACTIVE_REGION`, `PASSIVE_REGION`, `VPC_TAG_KEY`, `VPC_ROUTES`, `PROPAGATED_CIDRS`,
    /// `ACTIVE_EXTRA_CIDRS` and `PASSIVE_EXTRA_CIDRS`; empty counts as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
        Self {
            active_region: var("ACTIVE_REGION"),
            passive_region: var("PASSIVE_REGION"),
            vpc_tag_key: var("VPC_TAG_KEY").unwrap_or_else(|| DEFAULT_VPC_TAG_KEY.to_owned()),
            vpc_routes: var("VPC_ROUTES"),
            propagated_cidrs: var("PROPAGATED_CIDRS"),
            active_extra_cidrs: var("ACTIVE_EXTRA_CIDRS"),
            passive_extra_cidrs: var("PASSIVE_EXTRA_CIDRS"),
            passive_account_id: var("PASSIVE_ACCOUNT_ID"),
            passive_role_arn: var("PASSIVE_ROLE_ARN"),
        }
    }

    /// The route options the environment sets, each checked and named by its variable.
    fn route_options(&self) -> Result<RouteOptions> {
        let flag = |name: &str, value: &Option<String>| -> Result<bool> {
            Ok(match value {
                Some(value) => validate::flag(name, value)?.unwrap_or(false),
                None => false,
            })
        };
        let cidrs = |name: &str, value: &Option<String>| -> Result<Vec<Ipv4Net>> {
            let items: Vec<&str> = value
                .as_deref()
                .unwrap_or_default()
                .split(',')
                .filter(|item| !item.trim().is_empty())
                .collect();
            checked_cidrs(name, &items, |index| format!("{name} (item {})", index + 1))
        };
        Ok(RouteOptions {
            vpc_routes: flag("VPC_ROUTES", &self.vpc_routes)?,
            propagated_cidrs: flag("PROPAGATED_CIDRS", &self.propagated_cidrs)?,
            extra_cidrs: ExtraCidrs {
                active: cidrs("ACTIVE_EXTRA_CIDRS", &self.active_extra_cidrs)?,
                passive: cidrs("PASSIVE_EXTRA_CIDRS", &self.passive_extra_cidrs)?,
            },
        })
    }
}

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
    fn parse(field: &str, value: &str) -> Result<Self> {
        match value {
            "setup" => Ok(Action::Setup),
            "teardown" => Ok(Action::Teardown),
            _ => Err(Error::invalid(
                field,
                format!("is {}; use \"setup\" (the default) or \"teardown\"", echo(value)),
            )),
        }
    }
}

/// Ranges to route across the peering besides the tagged VPCs' CIDRs: on-premises networks or a
/// provider's range, reached through each side's transit gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtraCidrs {
    /// Reached through the active transit gateway; routed on the passive side.
    #[serde(default)]
    pub active: Vec<Ipv4Net>,
    /// Reached through the passive transit gateway; routed on the active side.
    #[serde(default)]
    pub passive: Vec<Ipv4Net>,
}

/// What `modify-routes` routes besides the transit gateway route tables' VPC CIDRs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteOptions {
    /// Also route each remote CIDR via the local transit gateway in the tagged VPCs' route tables.
    #[serde(default)]
    pub vpc_routes: bool,
    /// Also route the CIDRs each side's route table learns from VPN and Direct Connect gateway
    /// attachments.
    #[serde(default)]
    pub propagated_cidrs: bool,
    #[serde(default)]
    pub extra_cidrs: ExtraCidrs,
}

/// One side's CIDRs as a request gives them: `None` when it leaves the side to the default.
type SideCidrs = Option<Vec<Ipv4Net>>;

/// Checks a list of CIDRs: each well formed, at most [`MAX_EXTRA_CIDRS`], duplicates dropped,
/// in address order.
fn checked_cidrs(field: &str, items: &[&str], item_field: impl Fn(usize) -> String) -> Result<Vec<Ipv4Net>> {
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
    pub active_route_table_id: Option<String>,
    pub passive_route_table_id: Option<String>,
    pub vpc_tag_key: Option<String>,
    pub vpc_routes: Option<bool>,
    pub propagated_cidrs: Option<bool>,
    /// Each side as given; `None` where the request leaves it to the default.
    pub active_extra_cidrs: Option<Vec<Ipv4Net>>,
    pub passive_extra_cidrs: Option<Vec<Ipv4Net>>,
    pub dry_run: Option<bool>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRequest {
    pub request: PeeringRequest,
    pub source: RequestSource,
    /// Field names (with their path) that are not part of the contract.
    pub ignored_fields: Vec<String>,
}

/// The request once its Regions are settled and every id given is well formed; transit gateway
/// and route table ids may still be left for discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRequest {
    pub active_region: String,
    pub passive_region: String,
    pub active_transit_gateway_id: Option<String>,
    pub passive_transit_gateway_id: Option<String>,
    pub active_route_table_id: Option<String>,
    pub passive_route_table_id: Option<String>,
    pub vpc_tag_key: String,
    pub options: RouteOptions,
    pub dry_run: bool,
    pub passive: PassiveAccount,
    pub action: Action,
}

/// The request with every field resolved. This is what `peer` returns (with the attachment
/// fields) and what `get-status` and `modify-routes` take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedRequest {
    pub active_region: String,
    pub passive_region: String,
    pub active_transit_gateway_id: String,
    pub passive_transit_gateway_id: String,
    pub active_route_table_id: String,
    pub passive_route_table_id: String,
    pub vpc_tag_key: String,
    /// Outputs of earlier versions lack these; they then mean "off" and "none".
    #[serde(flatten)]
    pub options: RouteOptions,
    /// Plan only: no function makes a mutating call.
    #[serde(default)]
    pub dry_run: bool,
    #[serde(flatten)]
    pub passive: PassiveAccount,
    #[serde(default)]
    pub action: Action,
}

/// Where the passive transit gateway lives, when that is another account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassiveAccount {
    /// The passive transit gateway's account; `None` when it is the functions' own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_account_id: Option<String>,
    /// The role in that account that every passive-side call is made as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_role_arn: Option<String>,
}

impl PassiveAccount {
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
                     the passive account"
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
                passive_account_id: Some(role_account.to_owned()),
                passive_role_arn: role_arn,
            }),
            _ => Ok(Self {
                passive_account_id: account_id,
                passive_role_arn: role_arn,
            }),
        }
    }
}

/// `peer`'s output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerOutput {
    #[serde(flatten)]
    pub request: ResolvedRequest,
    /// `None` only in a dry run where no peering exists yet.
    pub attachment_id: Option<String>,
    /// The attachment's `State` as the active Region reports it, spelt as EC2 spells it.
    pub status: String,
    /// True when this call created the attachment.
    pub created: bool,
    /// True when this call accepted the attachment.
    pub accepted: bool,
    /// Duplicate peerings between the same gateways that this call deleted: ones this tool created
    /// in a concurrent run, younger than the one kept.
    pub removed_duplicates: Vec<String>,
    /// The id the passive side knows the attachment by, when it is not `attachmentId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_attachment_id: Option<String>,
    /// In a dry run: what `peer` would have done.
    #[serde(rename = "peeringPlan", skip_serializing_if = "Option::is_none", default)]
    pub plan: Option<PeerPlan>,
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

/// A resolved request that names its peering attachment: the input of `get-status` and
/// `modify-routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringRef {
    pub request: ResolvedRequest,
    pub attachment_id: String,
}

/// Typed reads of one JSON object's fields, with errors that name the field by its full path.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn optional_string(&self, name: &str) -> Result<Option<&'a str>> {
        match self.object.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.as_str())),
            Some(Value::Null) => Err(Error::invalid(
                self.path(name),
                "is null; give a string, or leave the field out to use its default",
            )),
            Some(other) => Err(Error::invalid(
                self.path(name),
                format!("must be a string, not {}", json_type(other)),
            )),
        }
    }

    fn optional_bool(&self, name: &str) -> Result<Option<bool>> {
        match self.object.get(name) {
            None => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(Value::Null) => Err(Error::invalid(
                self.path(name),
                "is null; give true or false, or leave the field out to use its default",
            )),
            Some(other) => Err(Error::invalid(
                self.path(name),
                format!("must be true or false, not {}", json_type(other)),
            )),
        }
    }

    /// `extraCidrs`: an object with optional `active` and `passive` lists of CIDR strings.
    fn optional_extra_cidrs(&self, name: &str) -> Result<(SideCidrs, SideCidrs)> {
        let field = self.path(name);
        let object = match self.object.get(name) {
            None => return Ok((None, None)),
            Some(Value::Object(object)) => object,
            Some(other) => {
                return Err(Error::invalid(
                    field,
                    format!(
                    "must be an object such as {{\"active\": [\"192.168.0.0/16\"], \"passive\": []}}, not {}",
                    json_type(other)
                ),
                ))
            }
        };
        if let Some(unknown) = object
            .keys()
            .find(|key| !["active", "passive"].contains(&key.as_str()))
        {
            return Err(Error::invalid(
                format!("{field}.{}", echo(unknown)),
                "is not a side; use `active` (ranges behind the active transit gateway) or `passive`",
            ));
        }
        let side = |side: &str| -> Result<SideCidrs> {
            let path = format!("{field}.{side}");
            let Some(value) = object.get(side) else {
                return Ok(None);
            };
            let Value::Array(items) = value else {
                return Err(Error::invalid(
                    path,
                    format!("must be a list of CIDR strings, not {}", json_type(value)),
                ));
            };
            let texts = items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    item.as_str().ok_or_else(|| {
                        Error::invalid(
                            format!("{path}[{index}]"),
                            format!("must be a CIDR string, not {}", json_type(item)),
                        )
                    })
                })
                .collect::<Result<Vec<&str>>>()?;
            checked_cidrs(&path, &texts, |index| format!("{path}[{index}]")).map(Some)
        };
        Ok((side("active")?, side("passive")?))
    }

    fn required_string(&self, name: &str) -> Result<&'a str> {
        self.optional_string(name)?.ok_or_else(|| {
            Error::invalid(
                self.path(name),
                "is missing; pass `peer`'s output to this function unchanged",
            )
        })
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_size(input: &Value) -> Result<()> {
    let size = serde_json::to_vec(input)
        .map(|bytes| bytes.len())
        .unwrap_or(usize::MAX);
    if size > MAX_REQUEST_BYTES {
        return Err(Error::invalid(
            "(request)",
            format!(
                "is {size} bytes; the limit is {MAX_REQUEST_BYTES} bytes, so send only the request fields"
            ),
        ));
    }
    Ok(())
}

fn as_object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| Error::invalid(field, format!("must be a JSON object, not {}", json_type(value))))
}

/// True when the object looks like an EventBridge event rather than a request.
fn is_eventbridge_envelope(object: &Map<String, Value>) -> bool {
    object.contains_key("detail-type") && object.contains_key("source")
}

/// Parses `peer`'s input: a request, or an EventBridge event carrying one in `detail`.
///
/// An event whose `detail` holds none of the request's fields (a scheduled event, a tag-change
/// event) means "use the defaults".
pub fn parse_request(input: &Value) -> Result<ParsedRequest> {
    check_size(input)?;
    let object = as_object(input, "(request)")?;
    if !is_eventbridge_envelope(object) {
        let (request, ignored_fields) = read_request(object, "")?;
        return Ok(ParsedRequest {
            request,
            source: RequestSource::Direct,
            ignored_fields,
        });
    }

    for field in ["detail-type", "source"] {
        Fields { object, prefix: "" }
            .required_string(field)
            .map_err(|_| {
                Error::invalid(
                    field,
                    "must be a string in an EventBridge event; check the rule's input",
                )
            })?;
    }
    let event: EventBridgeEvent<Value> = serde_json::from_value(input.clone()).map_err(|err| {
        Error::invalid(
            "(EventBridge event)",
            format!("is malformed: {err}; send the event unchanged"),
        )
    })?;
    let source = RequestSource::EventBridge {
        detail_type: event.detail_type,
        source: event.source,
    };
    let (request, ignored_fields) = match &event.detail {
        Value::Null => (PeeringRequest::default(), Vec::new()),
        Value::Object(detail) if REQUEST_FIELDS.iter().any(|f| detail.contains_key(*f)) => {
            read_request(detail, "detail.")?
        }
        Value::Object(_) => (PeeringRequest::default(), Vec::new()),
        other => {
            return Err(Error::invalid(
                "detail",
                format!(
                    "must be a JSON object, not {}; EventBridge always sends an object",
                    json_type(other)
                ),
            ))
        }
    };
    Ok(ParsedRequest {
        request,
        source,
        ignored_fields,
    })
}

fn read_request(object: &Map<String, Value>, prefix: &'static str) -> Result<(PeeringRequest, Vec<String>)> {
    let fields = Fields { object, prefix };
    let get = |name: &str| fields.optional_string(name).map(|value| value.map(str::to_owned));
    let (active_extra_cidrs, passive_extra_cidrs) = fields.optional_extra_cidrs("extraCidrs")?;
    let request = PeeringRequest {
        active_region: get("activeRegion")?,
        passive_region: get("passiveRegion")?,
        active_transit_gateway_id: get("activeTransitGatewayId")?,
        passive_transit_gateway_id: get("passiveTransitGatewayId")?,
        active_route_table_id: get("activeRouteTableId")?,
        passive_route_table_id: get("passiveRouteTableId")?,
        vpc_tag_key: get("vpcTagKey")?,
        vpc_routes: fields.optional_bool("vpcRoutes")?,
        propagated_cidrs: fields.optional_bool("propagatedCidrs")?,
        active_extra_cidrs,
        passive_extra_cidrs,
        dry_run: fields.optional_bool("dryRun")?,
        passive_account_id: get("passiveAccountId")?,
        passive_role_arn: get("passiveRoleArn")?,
        action: fields
            .optional_string("action")?
            .map(|value| Action::parse(&fields.path("action"), value))
            .transpose()?,
    };
    let ignored_fields = object
        .keys()
        .filter(|key| !REQUEST_FIELDS.contains(&key.as_str()) && !PASS_THROUGH_FIELDS.contains(&key.as_str()))
        .map(|key| format!("{prefix}{}", echo(key)))
        .collect();
    Ok((request, ignored_fields))
}

impl PeeringRequest {
    /// Fills Regions and the tag key from the defaults and checks every value given.
    pub fn validate(self, defaults: &Defaults) -> Result<ValidRequest> {
        let active_region = self
            .active_region
            .or_else(|| defaults.active_region.clone())
            .ok_or_else(|| {
                Error::invalid(
                    "activeRegion",
                    "is not set and ACTIVE_REGION has no default; set one of them",
                )
            })?;
        let passive_region = self
            .passive_region
            .or_else(|| defaults.passive_region.clone())
            .ok_or_else(|| {
                Error::invalid(
                    "passiveRegion",
                    "is not set and PASSIVE_REGION has no default; set one of them",
                )
            })?;
        validate::region("activeRegion", &active_region)?;
        validate::region("passiveRegion", &passive_region)?;
        validate::region_pair(&active_region, &passive_region)?;

        let ids = [
            (
                "activeTransitGatewayId",
                IdKind::TransitGateway,
                &self.active_transit_gateway_id,
            ),
            (
                "passiveTransitGatewayId",
                IdKind::TransitGateway,
                &self.passive_transit_gateway_id,
            ),
            (
                "activeRouteTableId",
                IdKind::RouteTable,
                &self.active_route_table_id,
            ),
            (
                "passiveRouteTableId",
                IdKind::RouteTable,
                &self.passive_route_table_id,
            ),
        ];
        for (field, kind, value) in ids {
            if let Some(value) = value {
                validate::resource_id(field, kind, value)?;
            }
        }
        let vpc_tag_key = self.vpc_tag_key.unwrap_or_else(|| defaults.vpc_tag_key.clone());
        validate::tag_key("vpcTagKey", &vpc_tag_key)?;
        // Environment values are checked only where the request does not override them.
        let needs_default = self.vpc_routes.is_none()
            || self.propagated_cidrs.is_none()
            || self.active_extra_cidrs.is_none()
            || self.passive_extra_cidrs.is_none();
        let fallback = if needs_default {
            defaults.route_options()?
        } else {
            RouteOptions::default()
        };
        // The two fields go together: a request that gives either replaces both defaults.
        let passive = if self.passive_account_id.is_some() || self.passive_role_arn.is_some() {
            PassiveAccount::checked(
                self.passive_account_id,
                self.passive_role_arn,
                ("passiveAccountId", "passiveRoleArn"),
            )?
        } else {
            PassiveAccount::checked(
                defaults.passive_account_id.clone(),
                defaults.passive_role_arn.clone(),
                ("PASSIVE_ACCOUNT_ID", "PASSIVE_ROLE_ARN"),
            )?
        };
        let options = RouteOptions {
            vpc_routes: self.vpc_routes.unwrap_or(fallback.vpc_routes),
            propagated_cidrs: self.propagated_cidrs.unwrap_or(fallback.propagated_cidrs),
            extra_cidrs: ExtraCidrs {
                active: self.active_extra_cidrs.unwrap_or(fallback.extra_cidrs.active),
                passive: self.passive_extra_cidrs.unwrap_or(fallback.extra_cidrs.passive),
            },
        };

        Ok(ValidRequest {
            active_region,
            passive_region,
            active_transit_gateway_id: self.active_transit_gateway_id,
            passive_transit_gateway_id: self.passive_transit_gateway_id,
            active_route_table_id: self.active_route_table_id,
            passive_route_table_id: self.passive_route_table_id,
            vpc_tag_key,
            options,
            dry_run: self.dry_run.unwrap_or(false),
            passive,
            action: self.action.unwrap_or_default(),
        })
    }
}

/// Parses and validates the input of `get-status` and `modify-routes`: `peer`'s output.
pub fn parse_peering_ref(input: &Value) -> Result<PeeringRef> {
    let (request, attachment_id) = parse_resolved(input, true)?;
    Ok(PeeringRef {
        request,
        attachment_id: attachment_id.unwrap_or_default(),
    })
}

/// Parses `modify-routes`' input: `peer`'s output, whose `attachmentId` may be null in a dry run
/// (no peering exists yet, so the plan is what would be routed once one is live) and in a
/// teardown (there is no peering left to tear down).
pub fn parse_routes_input(input: &Value) -> Result<(ResolvedRequest, Option<String>)> {
    let dry_run = input.get("dryRun") == Some(&Value::Bool(true));
    let teardown = input.get("action").and_then(Value::as_str) == Some("teardown");
    let no_attachment = matches!(input.get("attachmentId"), None | Some(Value::Null));
    parse_resolved(input, !((dry_run || teardown) && no_attachment))
}

/// The passive side's id of the attachment: `passiveAttachmentId` when `peer` reported one (the
/// two sides knew it by different ids), else `attachment_id`.
pub fn passive_attachment_id(input: &Value, attachment_id: &str) -> Result<String> {
    let object = as_object(input, "(input)")?;
    let fields = Fields { object, prefix: "" };
    match fields.optional_string("passiveAttachmentId")? {
        Some(id) => {
            validate::resource_id("passiveAttachmentId", IdKind::Attachment, id)?;
            Ok(id.to_owned())
        }
        None => Ok(attachment_id.to_owned()),
    }
}

fn parse_resolved(input: &Value, needs_attachment: bool) -> Result<(ResolvedRequest, Option<String>)> {
    check_size(input)?;
    let object = as_object(input, "(input)")?;
    let fields = Fields { object, prefix: "" };
    let text = |name: &str| fields.required_string(name).map(str::to_owned);
    let request = ResolvedRequest {
        active_region: text("activeRegion")?,
        passive_region: text("passiveRegion")?,
        active_transit_gateway_id: text("activeTransitGatewayId")?,
        passive_transit_gateway_id: text("passiveTransitGatewayId")?,
        active_route_table_id: text("activeRouteTableId")?,
        passive_route_table_id: text("passiveRouteTableId")?,
        vpc_tag_key: text("vpcTagKey")?,
        options: {
            let (active, passive) = fields.optional_extra_cidrs("extraCidrs")?;
            RouteOptions {
                vpc_routes: fields.optional_bool("vpcRoutes")?.unwrap_or(false),
                propagated_cidrs: fields.optional_bool("propagatedCidrs")?.unwrap_or(false),
                extra_cidrs: ExtraCidrs {
                    active: active.unwrap_or_default(),
                    passive: passive.unwrap_or_default(),
                },
            }
        },
        dry_run: fields.optional_bool("dryRun")?.unwrap_or(false),
        passive: PassiveAccount::checked(
            fields.optional_string("passiveAccountId")?.map(str::to_owned),
            fields.optional_string("passiveRoleArn")?.map(str::to_owned),
            ("passiveAccountId", "passiveRoleArn"),
        )?,
        action: fields
            .optional_string("action")?
            .map(|value| Action::parse("action", value))
            .transpose()?
            .unwrap_or_default(),
    };
    let attachment_id = if needs_attachment {
        Some(text("attachmentId")?)
    } else {
        None
    };

    validate::region("activeRegion", &request.active_region)?;
    validate::region("passiveRegion", &request.passive_region)?;
    validate::region_pair(&request.active_region, &request.passive_region)?;
    validate::resource_id(
        "activeTransitGatewayId",
        IdKind::TransitGateway,
        &request.active_transit_gateway_id,
    )?;
    validate::resource_id(
        "passiveTransitGatewayId",
        IdKind::TransitGateway,
        &request.passive_transit_gateway_id,
    )?;
    validate::resource_id(
        "activeRouteTableId",
        IdKind::RouteTable,
        &request.active_route_table_id,
    )?;
    validate::resource_id(
        "passiveRouteTableId",
        IdKind::RouteTable,
        &request.passive_route_table_id,
    )?;
    if let Some(attachment_id) = &attachment_id {
        validate::resource_id("attachmentId", IdKind::Attachment, attachment_id)?;
    }
    validate::tag_key("vpcTagKey", &request.vpc_tag_key)?;
    Ok((request, attachment_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

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
    fn the_peering_ref_needs_every_resolved_field() {
        let good = json!({
            "activeRegion": "us-east-1", "passiveRegion": "eu-west-1",
            "activeTransitGatewayId": "tgw-0123456789abcdef0", "passiveTransitGatewayId": "tgw-0123456789abcdef1",
            "activeRouteTableId": "tgw-rtb-0123456789abcdef0", "passiveRouteTableId": "tgw-rtb-0123456789abcdef1",
            "vpcTagKey": "addToTransitGateway", "attachmentId": "tgw-attach-0123456789abcdef0",
            "status": "available", "created": true, "accepted": true
        });
        assert!(parse_peering_ref(&good).is_ok());
        for field in ["attachmentId", "activeRouteTableId", "vpcTagKey"] {
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
        let overriding = json!({"vpcRoutes": false, "propagatedCidrs": false,
                                "extraCidrs": {"active": [], "passive": []}});
        assert!(parse_request(&overriding).unwrap().request.validate(&bad).is_ok());
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
    fn the_route_options_travel_from_peer_to_modify_routes_and_an_older_output_means_off() {
        let request = ResolvedRequest {
            active_region: "us-east-1".into(),
            passive_region: "eu-west-1".into(),
            active_transit_gateway_id: "tgw-0123456789abcdef0".into(),
            passive_transit_gateway_id: "tgw-0123456789abcdef1".into(),
            active_route_table_id: "tgw-rtb-0123456789abcdef0".into(),
            passive_route_table_id: "tgw-rtb-0123456789abcdef1".into(),
            vpc_tag_key: DEFAULT_VPC_TAG_KEY.into(),
            options: RouteOptions {
                vpc_routes: true,
                propagated_cidrs: true,
                extra_cidrs: ExtraCidrs {
                    active: vec!["192.168.0.0/16".parse().unwrap()],
                    passive: vec![],
                },
            },
            dry_run: false,
            passive: PassiveAccount::default(),
            action: Action::Setup,
        };
        let mut output = serde_json::to_value(&request).unwrap();
        output["attachmentId"] = json!("tgw-attach-0123456789abcdef0");
        assert_eq!(parse_peering_ref(&output).unwrap().request, request);
        for field in ["vpcRoutes", "propagatedCidrs", "extraCidrs"] {
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
                    prop_assert!(crate::validate::partition_of(&valid.active_region).is_some());
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
                prop_assert!(peering.attachment_id.starts_with("tgw-attach-"));
            }
        }
    }
}
