//! What a function builds once per cold start: the SDK configuration, its defaults, and one EC2
//! client per Region.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::request::Defaults;

/// SDK attempts per call (the first try plus retries) when `AWS_MAX_ATTEMPTS` is not set. The
/// SDK's default of 3 gives up too soon for EC2's request-rate limits during bulk route writes.
const DEFAULT_MAX_ATTEMPTS: u32 = 6;

/// How long `peer` waits after creating a peering before it lists them again to settle a race.
/// EC2 stamps CreationTime to the second, so two creates in one second tie; waiting longer than
/// that, plus describe's eventual consistency, lets every racing run see every racing create
/// before it picks the survivor, so all runs pick the same one.
pub const RACE_SETTLE: Duration = Duration::from_secs(3);

pub struct Context {
    sdk_config: SdkConfig,
    defaults: Defaults,
    race_settle: Duration,
    clients: Mutex<HashMap<String, aws_sdk_ec2::Client>>,
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
        let context = Self::new(loader.load().await, Defaults::from_env());
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
            race_settle: RACE_SETTLE,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Waits `settle` instead of [`RACE_SETTLE`] after creating a peering: for tests.
    pub fn with_race_settle(mut self, settle: Duration) -> Self {
        self.race_settle = settle;
        self
    }

    pub fn race_settle(&self) -> Duration {
        self.race_settle
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

    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    /// The EC2 client for `region`, built on first use and shared afterwards.
    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_ec2::config::Builder::from(&self.sdk_config)
                    .region(Region::new(region.to_owned()))
                    .build();
                aws_sdk_ec2::Client::from_conf(config)
            })
            .clone()
    }
}
