//! What a function builds once per cold start: its configuration, the SDK configuration, one
//! EC2 client per Region (and per assumed role), and the pace of route writes per Region.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use governor::DefaultDirectRateLimiter;

use aws_sdk_ec2::config::{ProvideCredentials, SharedCredentialsProvider};

use crate::aws::records::RecordStore;
use crate::aws::Ec2;
use crate::config::{Config, Defaults, RouteWrites};
use crate::contract::request::{ResolvedRequest, SideAccount};
use crate::error::{Error, Result};
use crate::plan::Side;

/// SDK attempts per call (the first try plus retries) when `AWS_MAX_ATTEMPTS` is not set. The
/// SDK's default of 3 gives up too soon for EC2's request-rate limits during bulk route writes.
const DEFAULT_MAX_ATTEMPTS: u32 = 6;

/// One SDK attempt may take this long before it is abandoned and retried. Without a limit a
/// stalled connection would hold the function until Lambda kills it, with nothing reported.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where one side's calls go: its Region, and the role they are made as when the side is in
/// another account.
#[derive(Debug, Clone, Copy)]
pub struct SideAt<'a> {
    pub side: Side,
    pub region: &'a str,
    pub role_arn: Option<&'a str>,
}

impl<'a> SideAt<'a> {
    pub fn new(side: Side, region: &'a str, account: &'a SideAccount) -> Self {
        Self {
            side,
            region,
            role_arn: account.role_arn.as_deref(),
        }
    }
}

/// The imperative shell a function runs in: built once per cold start, shared by its
/// invocations.
pub struct Shell {
    sdk_config: SdkConfig,
    config: Config,
    clients: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
    dynamodb: std::sync::OnceLock<aws_sdk_dynamodb::Client>,
    limiters: Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>,
    /// Credentials of each role assumed for a side in another account, once checked.
    roles: tokio::sync::Mutex<HashMap<String, SharedCredentialsProvider>>,
}

impl Shell {
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
        let context = Self::new(loader.load().await, Defaults::from_env()).with_config(Config::from_env());
        let regions = [
            context.config.defaults.active_region.clone(),
            context.config.defaults.passive_region.clone(),
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
            config: Config {
                defaults,
                ..Config::default()
            },
            clients: Mutex::new(HashMap::new()),
            dynamodb: std::sync::OnceLock::new(),
            limiters: Mutex::new(HashMap::new()),
            roles: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Uses `config` instead of the defaults.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Paces and bounds route writes by `writes` instead of the defaults.
    pub fn with_route_writes(mut self, writes: RouteWrites) -> Self {
        self.config.route_writes = writes;
        self
    }

    /// Keeps the record in the DynamoDB table `name` (what `STATE_TABLE` sets in Lambda).
    pub fn with_state_table(mut self, name: impl Into<String>) -> Self {
        self.config.state_table = Some(name.into());
        self
    }

    /// The state table that holds the record of the routes this tool created, reached in the
    /// function's own Region and account (where the stack is).
    pub fn records(&self) -> Result<RecordStore> {
        let table = self.config.state_table.as_ref().ok_or(Error::StateTableNotSet)?;
        let client = self
            .dynamodb
            .get_or_init(|| aws_sdk_dynamodb::Client::new(&self.sdk_config))
            .clone();
        Ok(RecordStore::new(client, table.clone()))
    }

    /// Checks VPC route tables against `quota` routes instead of the default 50.
    pub fn with_vpc_route_quota(mut self, quota: usize) -> Self {
        self.config.vpc_route_quota = quota;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The pace of route writes in `region`, shared by every invocation of this process, so a
    /// warm function that is called again does not start with a fresh burst.
    ///
    /// A pair of a mesh writes at `1/share` of the pace (and of its burst): the pairs that touch
    /// one Region, each at its share, together stay within the one pace.
    pub fn route_write_limiter(&self, ec2: &Ec2) -> Arc<DefaultDirectRateLimiter> {
        let (region, share) = (ec2.region(), ec2.write_share());
        let key = if share == 1 {
            region.to_owned()
        } else {
            format!("{region} 1/{share}")
        };
        per_region(&self.limiters, &key, || {
            Arc::new(self.config.route_writes.shared(share).limiter())
        })
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

    /// Uses `client` for a side in `region` when reached as `role_arn`, as if that role had been
    /// assumed: for SDK-level test doubles of another account.
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

    /// The active side of a resolved request, as its role when it has one.
    pub async fn active_side(&self, request: &ResolvedRequest) -> Result<Ec2> {
        self.side_ec2(SideAt::new(Side::Active, &request.active_region, &request.active))
            .await
    }

    /// Both sides of a resolved request, each as its role when it has one. Each writes routes
    /// at the request's share of its Region's pace.
    pub async fn both_sides(&self, request: &ResolvedRequest) -> Result<(Ec2, Ec2)> {
        let (active, passive) = self
            .sides(
                SideAt::new(Side::Active, &request.active_region, &request.active),
                SideAt::new(Side::Passive, &request.passive_region, &request.passive),
            )
            .await?;
        let share = request.options.write_share;
        Ok((active.sharing_writes(share), passive.sharing_writes(share)))
    }

    /// EC2 on both sides. A side in another account is reached through its role; assuming it
    /// first means a role that does not work fails the call before anything changes.
    pub async fn sides(&self, active: SideAt<'_>, passive: SideAt<'_>) -> Result<(Ec2, Ec2)> {
        tokio::try_join!(self.side_ec2(active), self.side_ec2(passive))
    }

    /// EC2 in the side's Region: as the functions' own role, or as the side's role (a role in
    /// its account) when it has one. The role is assumed, and so checked, before the first
    /// call, so a role that cannot be assumed fails the step before anything changes.
    pub async fn side_ec2(&self, side: SideAt<'_>) -> Result<Ec2> {
        let SideAt {
            side,
            region,
            role_arn,
        } = side;
        let Some(role_arn) = role_arn else {
            return Ok(Ec2::new(self.ec2(region), region));
        };
        let credentials = self.assumed(role_arn, side).await?;
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

    async fn assumed(&self, role_arn: &str, side: Side) -> Result<SharedCredentialsProvider> {
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
            tracing::error!(action = "AssumeRole", role_arn, error = %message, "cannot assume the side's role");
            return Err(Error::AssumeRoleDenied {
                field: format!("{side}RoleArn"),
                role_arn: role_arn.to_owned(),
                message,
            });
        }
        tracing::info!(action = "AssumeRole", role_arn, "assumed the side's role");
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
