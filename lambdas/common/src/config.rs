//! Everything a function reads from its environment, in one place: the request defaults (the
//! stack's parameters), how route writes are paced, and the VPC route quota. Read once per cold
//! start; a bad value is either named in the error of the execution that uses it (request
//! defaults) or logged and replaced by the default (tuning knobs).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use tracing::warn;

use crate::contract::request::{checked_cidrs, ExtraCidrs, RouteOptions, DEFAULT_VPC_TAG_KEY};
use crate::contract::validate;
use crate::error::{Error, Result};
use crate::plan::metrics::LogLevel;
use crate::plan::prune::{PruneOptions, DEFAULT_PRUNE_THRESHOLD};

/// What a function reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub defaults: Defaults,
    pub route_writes: RouteWrites,
    /// Routes a VPC route table may hold (`VPC_ROUTE_TABLE_QUOTA`).
    pub vpc_route_quota: usize,
    /// Routes a transit gateway may hold across its route tables (`TGW_ROUTE_QUOTA`).
    pub tgw_route_quota: usize,
    /// The stack's DynamoDB table (`STATE_TABLE`), where modify-routes keeps its record of the
    /// routes it creates.
    pub state_table: Option<String>,
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`, which Lambda sets), the `FunctionName`
    /// dimension of the metrics; `tgw-peering` when unset.
    pub function_name: String,
    /// The Regions of a mesh request's empty `mesh` list (`MESH_REGIONS`, comma-separated; the
    /// stack's `MeshRegions`).
    pub mesh_regions: Vec<String>,
    /// Roles in other accounts that a mesh's sides may be reached as (`MESH_ROLE_ARNS`,
    /// comma-separated; the stack's `MeshRoleArns`), besides `PASSIVE_ROLE_ARN`.
    pub mesh_role_arns: Vec<String>,
    /// Peering attachments a transit gateway may have (`PEERING_ATTACHMENT_QUOTA`).
    pub peering_attachment_quota: usize,
    /// The function's application log level (`AWS_LAMBDA_LOG_LEVEL`, set by Lambda from the
    /// stack's `LogLevel`), which the metrics documents carry so that Lambda keeps them.
    pub log_level: LogLevel,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            defaults: Defaults::default(),
            route_writes: RouteWrites::default(),
            vpc_route_quota: DEFAULT_VPC_ROUTE_QUOTA,
            tgw_route_quota: DEFAULT_TGW_ROUTE_QUOTA,
            state_table: None,
            function_name: DEFAULT_FUNCTION_NAME.to_owned(),
            mesh_regions: Vec::new(),
            mesh_role_arns: Vec::new(),
            peering_attachment_quota: crate::plan::mesh::DEFAULT_PEERING_ATTACHMENT_QUOTA,
            log_level: LogLevel::Info,
        }
    }
}

impl Config {
    /// Reads every setting from the environment.
    pub fn from_env() -> Self {
        Self {
            defaults: Defaults::from_env(),
            route_writes: RouteWrites::from_env(),
            vpc_route_quota: env_number("VPC_ROUTE_TABLE_QUOTA", |v: usize| {
                (1..=MAX_VPC_ROUTE_QUOTA).contains(&v)
            })
            .unwrap_or(DEFAULT_VPC_ROUTE_QUOTA),
            tgw_route_quota: env_number("TGW_ROUTE_QUOTA", |v: usize| v >= 1)
                .unwrap_or(DEFAULT_TGW_ROUTE_QUOTA),
            state_table: std::env::var("STATE_TABLE")
                .ok()
                .filter(|name| !name.trim().is_empty()),
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .ok()
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| DEFAULT_FUNCTION_NAME.to_owned()),
            mesh_regions: env_list("MESH_REGIONS"),
            mesh_role_arns: env_list("MESH_ROLE_ARNS"),
            peering_attachment_quota: env_number("PEERING_ATTACHMENT_QUOTA", |v: usize| v >= 1)
                .unwrap_or(crate::plan::mesh::DEFAULT_PEERING_ATTACHMENT_QUOTA),
            log_level: LogLevel::parse(std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref()),
        }
    }
}

/// A comma-separated variable's items, trimmed; unset or empty is none.
fn env_list(name: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `FunctionName` metric dimension outside Lambda.
const DEFAULT_FUNCTION_NAME: &str = "tgw-peering";

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
    /// `SUMMARIZE_ROUTES`: `true` or `false`.
    pub summarize_routes: Option<String>,
    /// `RETURN_PROPAGATION`: `true` or `false`.
    pub return_propagation: Option<String>,
    /// `PRUNE`: `true` or `false`.
    pub prune: Option<String>,
    /// `PRUNE_THRESHOLD`: a whole number of percent, 0 to 100.
    pub prune_threshold: Option<String>,
    /// `ACTIVE_EXTRA_CIDRS`: comma-separated CIDRs.
    pub active_extra_cidrs: Option<String>,
    /// `PASSIVE_EXTRA_CIDRS`: comma-separated CIDRs.
    pub passive_extra_cidrs: Option<String>,
    /// `PASSIVE_ACCOUNT_ID`: the account of the passive transit gateway, when it is another one.
    pub passive_account_id: Option<String>,
    /// `PASSIVE_ROLE_ARN`: the role in that account for every passive-side call.
    pub passive_role_arn: Option<String>,
    /// `ACTIVE_PEERING_ROUTE_TABLE_ID`, `PASSIVE_PEERING_ROUTE_TABLE_ID`: the table the peering
    /// attachment is associated with on each side.
    pub active_peering_route_table_id: Option<String>,
    pub passive_peering_route_table_id: Option<String>,
    /// `MOVE_PEERING_ASSOCIATION`: `true` or `false`.
    pub move_peering_association: Option<String>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            active_region: None,
            passive_region: None,
            vpc_tag_key: DEFAULT_VPC_TAG_KEY.to_owned(),
            vpc_routes: None,
            propagated_cidrs: None,
            summarize_routes: None,
            return_propagation: None,
            prune: None,
            prune_threshold: None,
            active_extra_cidrs: None,
            passive_extra_cidrs: None,
            passive_account_id: None,
            passive_role_arn: None,
            active_peering_route_table_id: None,
            passive_peering_route_table_id: None,
            move_peering_association: None,
        }
    }
}

impl Defaults {
    /// Reads `ACTIVE_REGION`, `PASSIVE_REGION`, `VPC_TAG_KEY`, `VPC_ROUTES`, `PROPAGATED_CIDRS`,
    /// `ACTIVE_EXTRA_CIDRS`, `PASSIVE_EXTRA_CIDRS`, the passive account's two, the peering route
    /// tables' two and `MOVE_PEERING_ASSOCIATION`; empty counts as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
        Self {
            active_region: var("ACTIVE_REGION"),
            passive_region: var("PASSIVE_REGION"),
            vpc_tag_key: var("VPC_TAG_KEY").unwrap_or_else(|| DEFAULT_VPC_TAG_KEY.to_owned()),
            vpc_routes: var("VPC_ROUTES"),
            propagated_cidrs: var("PROPAGATED_CIDRS"),
            summarize_routes: var("SUMMARIZE_ROUTES"),
            return_propagation: var("RETURN_PROPAGATION"),
            prune: var("PRUNE"),
            prune_threshold: var("PRUNE_THRESHOLD"),
            active_extra_cidrs: var("ACTIVE_EXTRA_CIDRS"),
            passive_extra_cidrs: var("PASSIVE_EXTRA_CIDRS"),
            passive_account_id: var("PASSIVE_ACCOUNT_ID"),
            passive_role_arn: var("PASSIVE_ROLE_ARN"),
            active_peering_route_table_id: var("ACTIVE_PEERING_ROUTE_TABLE_ID"),
            passive_peering_route_table_id: var("PASSIVE_PEERING_ROUTE_TABLE_ID"),
            move_peering_association: var("MOVE_PEERING_ASSOCIATION"),
        }
    }

    /// `MOVE_PEERING_ASSOCIATION`, checked and named.
    pub(crate) fn move_peering_association(&self) -> Result<bool> {
        Ok(match &self.move_peering_association {
            Some(value) => validate::flag("MOVE_PEERING_ASSOCIATION", value)?.unwrap_or(false),
            None => false,
        })
    }

    /// `PRUNE_THRESHOLD`, checked and named.
    fn prune_threshold(&self) -> Result<u8> {
        let Some(value) = &self.prune_threshold else {
            return Ok(DEFAULT_PRUNE_THRESHOLD);
        };
        value
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|percent| *percent <= 100)
            .ok_or_else(|| {
                Error::invalid(
                    "PRUNE_THRESHOLD",
                    format!(
                        "is {value:?}; set the stack parameter PruneThreshold to a whole number of \
                     percent from 0 to 100, such as {DEFAULT_PRUNE_THRESHOLD}"
                    ),
                )
            })
    }

    /// The route options the environment sets, each checked and named by its variable.
    pub(crate) fn route_options(&self) -> Result<RouteOptions> {
        let flag = |name: &str, value: &Option<String>| -> Result<bool> {
            Ok(match value {
                Some(value) => validate::flag(name, value)?.unwrap_or(false),
                None => false,
            })
        };
        let cidrs = |name: &str, value: &Option<String>| -> Result<Vec<IpNet>> {
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
            summarize_routes: flag("SUMMARIZE_ROUTES", &self.summarize_routes)?,
            return_propagation: flag("RETURN_PROPAGATION", &self.return_propagation)?,
            prune: PruneOptions {
                enabled: flag("PRUNE", &self.prune)?,
                threshold_percent: self.prune_threshold()?,
                confirm: None,
            },
            extra_cidrs: ExtraCidrs {
                active: cidrs("ACTIVE_EXTRA_CIDRS", &self.active_extra_cidrs)?,
                passive: cidrs("PASSIVE_EXTRA_CIDRS", &self.passive_extra_cidrs)?,
            },
            write_share: 1,
            // The request's alone: no stack parameter sets it.
            acl_traffic: Default::default(),
        })
    }
}

/// How `modify-routes` writes routes: its pace in each Region, how many writes it keeps in
/// flight, and how long before the Lambda deadline it stops starting new ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteWrites {
    /// Sustained route creates per second per Region. EC2 refills its bucket for mutating
    /// actions at 5 per second per account and Region; writing faster only buys throttling.
    pub per_second: f64,
    /// Creates that may go out at once before the pace applies. EC2's mutating bucket holds 50;
    /// taking less of it leaves room for everything else in the account.
    pub burst: NonZeroU32,
    /// Creates in flight at once, so that EC2's latency does not slow the pace.
    pub in_flight: usize,
    /// No create starts once the deadline is this close: enough for one create with all its
    /// retries, and for the answer to go back.
    pub deadline_margin: Duration,
}

impl Default for RouteWrites {
    fn default() -> Self {
        Self {
            per_second: 5.0,
            burst: NonZeroU32::new(20).expect("non-zero"),
            in_flight: 4,
            deadline_margin: Duration::from_secs(45),
        }
    }
}

impl RouteWrites {
    /// Reads `ROUTE_WRITES_PER_SECOND`, `ROUTE_WRITE_BURST`, `ROUTE_WRITES_IN_FLIGHT` and
    /// `DEADLINE_MARGIN_SECONDS`; an unset, empty or unusable value keeps the default (and an
    /// unusable one is logged).
    pub fn from_env() -> Self {
        let defaults = Self::default();
        Self {
            per_second: env_number("ROUTE_WRITES_PER_SECOND", |v: f64| v.is_finite() && v > 0.0)
                .unwrap_or(defaults.per_second),
            burst: env_number("ROUTE_WRITE_BURST", |v: u32| v > 0)
                .and_then(NonZeroU32::new)
                .unwrap_or(defaults.burst),
            in_flight: env_number("ROUTE_WRITES_IN_FLIGHT", |v: usize| (1..=64).contains(&v))
                .unwrap_or(defaults.in_flight),
            deadline_margin: env_number("DEADLINE_MARGIN_SECONDS", |v: f64| v.is_finite() && v >= 0.0)
                .map(Duration::from_secs_f64)
                .unwrap_or(defaults.deadline_margin),
        }
    }

    /// This pace divided among `share` writers: each gets `1/share` of the rate and of the
    /// burst (at least one write), so together they stay within the whole.
    pub fn shared(&self, share: u32) -> Self {
        let share = share.max(1);
        Self {
            per_second: self.per_second / f64::from(share),
            burst: NonZeroU32::new(self.burst.get() / share).unwrap_or(NonZeroU32::MIN),
            ..*self
        }
    }

    pub(crate) fn limiter(&self) -> DefaultDirectRateLimiter {
        let period = Duration::from_secs_f64(1.0 / self.per_second);
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(self.burst);
        RateLimiter::direct(quota)
    }
}

/// Routes a VPC route table may hold when `VPC_ROUTE_TABLE_QUOTA` is not set: the default of
/// the "Routes per route table" quota.
pub const DEFAULT_VPC_ROUTE_QUOTA: usize = 50;

/// Routes a transit gateway may hold when `TGW_ROUTE_QUOTA` is not set: the default of the
/// "Total combined routes across all route tables" quota (adjustable).
pub const DEFAULT_TGW_ROUTE_QUOTA: usize = 10_000;

/// The most that quota can be raised to.
const MAX_VPC_ROUTE_QUOTA: usize = 1000;

fn env_number<T: std::str::FromStr + Copy>(name: &str, usable: impl Fn(T) -> bool) -> Option<T> {
    let raw = std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())?;
    match raw.trim().parse::<T>() {
        Ok(value) if usable(value) => Some(value),
        _ => {
            warn!(action = "Configure", variable = name, value = %raw, "ignoring an unusable setting; using the default");
            None
        }
    }
}
