//! What a function builds once per cold start: the SDK configuration, its defaults, and one EC2
//! client per Region.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tracing::warn;

use aws_sdk_ec2::config::{ProvideCredentials, SharedCredentialsProvider};

use crate::ec2::Ec2;
use crate::error::{Error, Result};
use crate::request::Defaults;

/// SDK attempts per call (the first try plus retries) when `AWS_MAX_ATTEMPTS` is not set. The
/// SDK's default of 3 gives up too soon for EC2's request-rate limits during bulk route writes.
const DEFAULT_MAX_ATTEMPTS: u32 = 6;

/// One SDK attempt may take this long before it is abandoned and retried. Without a limit a
/// stalled connection would hold the function until Lambda kills it, with nothing reported.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

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

    fn limiter(&self) -> DefaultDirectRateLimiter {
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

pub struct Context {
    sdk_config: SdkConfig,
    defaults: Defaults,
    route_writes: RouteWrites,
    vpc_route_quota: usize,
    clients: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
    limiters: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
    /// Credentials of each role assumed for a passive side in another account, once checked.
    roles: tokio::sync::Mutex<HashMap<String, SharedCredentialsProvider>>,
}

impl Context {
    /// Builds the context from the Lambda environment: credentials, endpoint and retry settings
    /// from the standard AWS variables, defaults from ours. Clients for the default Regions are
    /// built here so that no invocation pays for them.
    pub async fn from_env() -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        // An operator's own retry settings win; ours only replace the SDK's default.
        if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() && std::env::var_os("AWS_RETRY_MODE").is_none() {
            loader = loader.retry_config(RetryConfig::standard().with_max_attempts(DEFAULT_MAX_ATTEMPTS));
        }
        loader = loader.timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
        let quota = env_number("VPC_ROUTE_TABLE_QUOTA", |v: usize| {
            (1..=MAX_VPC_ROUTE_QUOTA).contains(&v)
        })
        .unwrap_or(DEFAULT_VPC_ROUTE_QUOTA);
        let context = Self::new(loader.load().await, Defaults::from_env())
            .with_route_writes(RouteWrites::from_env())
            .with_vpc_route_quota(quota);
        let regions = [
            context.defaults.active_region.clone(),
            context.defaults.passive_region.clone(),
        ];
        for region in regions.into_iter().flatten() {
            context.ec2(&region);
        }
        context
    }

    /// Builds a context from explicit parts, for tests and tools.
    pub fn new(sdk_config: SdkConfig, defaults: Defaults) -> Self {
        Self {
            sdk_config,
            defaults,
            route_writes: RouteWrites::default(),
            vpc_route_quota: DEFAULT_VPC_ROUTE_QUOTA,
            clients: Mutex::new(HashMap::new()),
            limiters: Mutex::new(HashMap::new()),
            roles: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Paces and bounds route writes by `writes` instead of the defaults.
    pub fn with_route_writes(mut self, writes: RouteWrites) -> Self {
        self.route_writes = writes;
        self
    }

    /// Checks VPC route tables against `quota` routes instead of the default 50.
    pub fn with_vpc_route_quota(mut self, quota: usize) -> Self {
        self.vpc_route_quota = quota;
        self
    }

    pub fn vpc_route_quota(&self) -> usize {
        self.vpc_route_quota
    }

    pub fn route_writes(&self) -> RouteWrites {
        self.route_writes
    }

    /// The pace of route writes in `region`, shared by every invocation of this process, so a
    /// warm function that is called again does not start with a fresh burst.
    pub fn route_write_limiter(&self, region: &str) -> Arc<DefaultDirectRateLimiter> {
        per_region(&self.limiters, region, || Arc::new(self.route_writes.limiter()))
    }

    /// Uses `client` for `region` instead of one built from the SDK configuration: for SDK-level
    /// test doubles.
    pub fn with_ec2_client(self, region: &str, client: aws_sdk_ec2::Client) -> Self {
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(region.to_owned(), client);
        self
    }

    /// Uses `client` for the passive side in `region` when reached as `role_arn`, as if that role
    /// had been assumed: for SDK-level test doubles of another account.
    pub fn with_ec2_client_as(self, region: &str, role_arn: &str, client: aws_sdk_ec2::Client) -> Self {
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(format!("{region} as {role_arn}"), client);
        self.roles.try_lock().expect("not shared yet").insert(
            role_arn.to_owned(),
            SharedCredentialsProvider::new(aws_sdk_ec2::config::Credentials::new(
                "double", "double", None, None, "double",
            )),
        );
        self
    }

    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    /// EC2 in `region` as the passive side: as the functions' own role, or as `role_arn` (a role
    /// in the passive account) when one is given. The role is assumed, and so checked, before the
    /// first call, so a role that cannot be assumed fails the step before anything changes.
    pub async fn passive_ec2(&self, region: &str, role_arn: Option<&str>) -> Result<Ec2> {
        let Some(role_arn) = role_arn else {
            return Ok(Ec2::new(self.ec2(region), region));
        };
        let credentials = self.assumed(role_arn).await?;
        let key = format!("{region} as {role_arn}");
        let client = per_region(&self.clients, &key, || {
            let config = aws_sdk_ec2::config::Builder::from(&self.sdk_config)
                .region(Region::new(region.to_owned()))
                .credentials_provider(credentials)
                .build();
            aws_sdk_ec2::Client::from_conf(config)
        });
        Ok(Ec2::new(client, region))
    }

    async fn assumed(&self, role_arn: &str) -> Result<SharedCredentialsProvider> {
        let mut roles = self.roles.lock().await;
        if let Some(provider) = roles.get(role_arn) {
            return Ok(provider.clone());
        }
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("tgw-peering")
            .configure(&self.sdk_config)
            .build()
            .await;
        if let Err(err) = provider.provide_credentials().await {
            let message = innermost_message(&err);
            tracing::error!(action = "AssumeRole", role_arn, error = %message, "cannot assume the passive role");
            return Err(Error::AssumeRoleDenied {
                role_arn: role_arn.to_owned(),
                message,
            });
        }
        tracing::info!(action = "AssumeRole", role_arn, "assumed the passive role");
        let provider = SharedCredentialsProvider::new(provider);
        roles.insert(role_arn.to_owned(), provider.clone());
        Ok(provider)
    }

    /// The EC2 client for `region`, built on first use and shared afterwards.
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        per_region(&self.clients, region, || {
            let config = aws_sdk_ec2::config::Builder::from(&self.sdk_config)
                .region(Region::new(region.to_owned()))
                .build();
            aws_sdk_ec2::Client::from_conf(config)
        })
    }
}

/// The deepest cause's own words (STS's "User: … is not authorized to perform: sts:AssumeRole …"),
/// cut to a readable length: the whole chain repeats it with the raw HTTP response.
fn innermost_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut deepest = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.trim().is_empty() {
            deepest = text;
        }
        source = cause.source();
    }
    let cut: String = deepest.chars().take(300).collect();
    if cut.len() < deepest.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The value kept for `region` in `map`, made by `make` on first use. A panic elsewhere while the
/// lock was held leaves the map intact, so a poisoned lock is used as it is.
fn per_region<T: Clone>(map: &Mutex<HashMap<String, T>>, region: &str, make: impl FnOnce() -> T) -> T {
    map.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(region.to_owned())
        .or_insert_with(make)
        .clone()
}
