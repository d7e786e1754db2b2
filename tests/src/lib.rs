//! The Rust side of the emulator harness: starts `tests/emulator/server.py` (moto plus our
//! patches) on 127.0.0.1, points the real aws-sdk-ec2 at it, seeds networks, and reads the
//! harness's call counters.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::Credentials;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{json, Value};
use tgw_peering::config::Defaults;
use tgw_peering::Shell;

pub const ACTIVE: &str = "us-east-1";
pub const PASSIVE: &str = "eu-west-1";

/// The state table the tests' functions keep their record in.
pub const STATE_TABLE: &str = "tgw-peering-state";

/// One item of the route record, as the state table holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordItem {
    pub partition: String,
    pub sort_key: String,
    pub route_table_id: String,
    pub cidrs: Vec<String>,
}

/// EC2 actions that change something. Tests assert that bad input reaches none of them.
const MUTATING_PREFIXES: &[&str] = &[
    "Create",
    "Accept",
    "Reject",
    "Delete",
    "Modify",
    "Associate",
    "Disassociate",
    "Enable",
    "Disable",
    "Replace",
];

fn repo_root() -> PathBuf {
    // Read at run time: clones share one CARGO_TARGET_DIR, and a test binary built in another
    // clone would otherwise start that clone's emulator.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// One moto server with the project's patches, owned by one test and stopped when dropped.
pub struct Emulator {
    child: Child,
    pub endpoint: String,
}

impl Emulator {
    pub fn start() -> Self {
        let root = repo_root();
        let python = std::env::var_os("TGW_PEERING_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".venv/bin/python"));
        let mut child = Command::new(&python)
            .arg(root.join("tests/emulator/server.py"))
            .args(["--port", "0"])
            // The server exits when this pipe closes, so a crashed test leaves no server behind.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start the emulator with {}: {err}; run scripts/test.sh, which sets it up",
                    python.display()
                )
            });
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("emulator stdout is readable");
        let endpoint = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("emulator did not start; it printed {line:?}"))
            .to_owned();
        Self { child, endpoint }
    }

    /// SDK configuration aimed at the emulator, with quick retries so fault tests stay fast.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(ACTIVE))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("testing", "testing", None, None, "emulator"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(4)
                    .with_initial_backoff(Duration::from_millis(5))
                    .with_max_backoff(Duration::from_millis(50)),
            )
            .load()
            .await
    }

    /// The functions' context with the usual environment defaults.
    pub async fn context(&self) -> Shell {
        self.context_with(defaults()).await
    }

    /// The functions' context as the stack's template sets it up: the state table (created here
    /// when missing) holds the record of the routes they create.
    pub async fn context_with(&self, defaults: Defaults) -> Shell {
        self.create_state_table().await;
        Shell::new(self.sdk_config().await, defaults).with_state_table(STATE_TABLE)
    }

    /// A DynamoDB client aimed at the emulator, in the stack's Region.
    pub async fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk_config().await)
    }

    /// The state table as the template declares it (pk, sk; on demand).
    pub async fn create_state_table(&self) {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key")
        };
        let created = self
            .dynamodb()
            .await
            .create_table()
            .table_name(STATE_TABLE)
            .attribute_definitions(attribute("pk"))
            .attribute_definitions(attribute("sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        if let Err(err) = created {
            use aws_sdk_dynamodb::error::ProvideErrorMetadata;
            assert_eq!(
                err.code(),
                Some("ResourceInUseException"),
                "create the state table: {err:?}"
            );
        }
    }

    /// Every item of the route record in the state table: (partition key, sort key, route table
    /// id, CIDRs), in key order.
    pub async fn record_items(&self) -> Vec<RecordItem> {
        let scanned = self
            .dynamodb()
            .await
            .scan()
            .table_name(STATE_TABLE)
            .send()
            .await
            .expect("scan the state table");
        let text = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
                    name: &str| {
            item.get(name)
                .and_then(|value| value.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let mut items: Vec<RecordItem> = scanned
            .items()
            .iter()
            .filter(|item| text(item, "pk").starts_with("routes#"))
            .map(|item| RecordItem {
                partition: text(item, "pk"),
                sort_key: text(item, "sk"),
                route_table_id: text(item, "routeTableId"),
                cidrs: text(item, "cidrs")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
            })
            .collect();
        items.sort_by(|a, b| (&a.partition, &a.sort_key).cmp(&(&b.partition, &b.sort_key)));
        items
    }

    /// The CIDRs the state table records for `route_table_id` (any peering).
    pub async fn recorded(&self, route_table_id: &str) -> std::collections::BTreeSet<String> {
        self.record_items()
            .await
            .into_iter()
            .filter(|item| item.route_table_id == route_table_id)
            .flat_map(|item| item.cidrs)
            .collect()
    }

    /// A plain EC2 client for seeding and inspecting the emulator.
    pub async fn ec2(&self, region: &str) -> Net {
        let config = aws_sdk_ec2::config::Builder::from(&self.sdk_config().await)
            .region(Region::new(region.to_owned()))
            .build();
        Net {
            ec2: Client::from_conf(config),
            region: region.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/_harness/{path}", self.endpoint)
    }

    fn post(&self, path: &str, body: Value) {
        ureq::post(&self.url(path))
            .send_json(body)
            .unwrap_or_else(|err| panic!("harness {path}: {err}"));
    }

    /// Calls per EC2 action since the last reset, all Regions together.
    pub fn calls(&self) -> Calls {
        Calls::from_json(&self.call_counts()["total"])
    }

    /// Calls per EC2 action in one Region since the last reset.
    pub fn calls_in(&self, region: &str) -> Calls {
        Calls::from_json(&self.call_counts()["byRegion"][region])
    }

    fn call_counts(&self) -> Value {
        ureq::get(&self.url("calls"))
            .call()
            .and_then(|mut response| response.body_mut().read_json())
            .expect("harness call counts")
    }

    /// DynamoDB calls that write (anything but GetItem, Query, Scan and Describe/List) since the
    /// last reset, all Regions together.
    pub fn dynamodb_writes(&self) -> u64 {
        let counts = self.call_counts();
        let reads = [
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:Scan",
        ];
        counts["dynamodb"]
            .as_object()
            .into_iter()
            .flat_map(|regions| regions.values())
            .filter_map(Value::as_object)
            .flat_map(|actions| actions.iter())
            .filter(|(action, _)| {
                !reads.contains(&action.as_str())
                    && !action.starts_with("dynamodb:Describe")
                    && !action.starts_with("dynamodb:List")
            })
            .map(|(_, n)| n.as_u64().unwrap_or(0))
            .sum()
    }

    pub fn reset_calls(&self) {
        self.post("calls/reset", json!({}));
    }

    /// Every route write moto accepted since the last reset of the calls, in order: each
    /// `{"op": "create"|"delete"|"replace", "region", "routeTableId", "cidr", "target", "at"}`.
    pub fn route_writes(&self) -> Vec<Value> {
        let log: Value = ureq::get(&self.url("route-writes"))
            .call()
            .and_then(|mut response| response.body_mut().read_json())
            .expect("harness route writes");
        log["routeWrites"].as_array().cloned().unwrap_or_default()
    }

    /// How peering attachments created from now on move through their states.
    pub fn peering_progression(&self, settings: Value) {
        self.post("peering", settings);
    }

    /// How associations made from now on move through their states (`associatingDescribes`:
    /// how many describes an association stays `associating`).
    pub fn association_progression(&self, settings: Value) {
        self.post("associations", settings);
    }

    /// Makes the next matching requests fail with an EC2-shaped error.
    pub fn inject_fault(&self, fault: Value) {
        self.post("faults", fault);
    }

    /// Creates the role `name` in `account`, trusting `principal` (such as an account's root), as
    /// that account's administrator would (moto's `x-moto-account-id` header stands for signing
    /// in to it); returns its ARN. The role may do anything: the emulator enforces IAM on role
    /// sessions (patch `function_calls_need_their_roles_permissions`), and these tests are about
    /// other things.
    pub fn create_role(&self, account: &str, name: &str, principal: &str) -> String {
        let trust = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]});
        self.iam_as(
            account,
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
                ("AssumeRolePolicyDocument", &trust.to_string()),
            ],
        );
        let everything = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        self.iam_as(
            account,
            &[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", name),
                ("PolicyName", "everything"),
                ("PolicyDocument", &everything.to_string()),
            ],
        );
        format!("arn:aws:iam::{account}:role/{name}")
    }

    /// One IAM call (`params` start with its `Action`) as `account`'s administrator.
    fn iam_as(&self, account: &str, params: &[(&str, &str)]) {
        let body = form(params);
        ureq::post(&self.endpoint)
            .header("x-moto-account-id", account)
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/iam/aws4_request, \
                 SignedHeaders=host, Signature=0",
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(&body)
            .unwrap_or_else(|err| panic!("{params:?} in {account}: {err}"));
    }

    /// EC2 in `region` as `role_arn`, assumed with the functions' own credentials: another
    /// account, for seeding and inspecting it.
    pub async fn ec2_as(&self, region: &str, role_arn: &str) -> Net {
        let config = self.sdk_config().await;
        let provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name("seed")
            .configure(&config)
            .build()
            .await;
        let config = aws_sdk_ec2::config::Builder::from(&config)
            .region(Region::new(region.to_owned()))
            .credentials_provider(provider)
            .build();
        Net {
            ec2: Client::from_conf(config),
            region: region.to_owned(),
        }
    }

    /// What a VPN or Direct Connect gateway attachment advertises over BGP from now on.
    pub fn advertise(&self, attachment_id: &str, cidrs: &[&str]) {
        self.post(
            "advertised-routes",
            json!({"attachmentId": attachment_id, "cidrs": cidrs}),
        );
    }

    pub fn clear_faults(&self) {
        ureq::delete(&self.url("faults"))
            .call()
            .expect("harness clears faults");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn form(pairs: &[(&str, &str)]) -> String {
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Per-action call counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls(pub BTreeMap<String, u64>);

impl Calls {
    fn from_json(counts: &Value) -> Self {
        Calls(
            counts
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    pub fn of(&self, action: &str) -> u64 {
        self.0.get(action).copied().unwrap_or(0)
    }

    /// Calls that change something, by action.
    pub fn mutating(&self) -> BTreeMap<String, u64> {
        self.0
            .iter()
            .filter(|(action, _)| MUTATING_PREFIXES.iter().any(|prefix| action.starts_with(prefix)))
            .map(|(action, count)| (action.clone(), *count))
            .collect()
    }
}

pub fn defaults() -> Defaults {
    Defaults {
        active_region: Some(ACTIVE.to_owned()),
        passive_region: Some(PASSIVE.to_owned()),
        ..Defaults::default()
    }
}

/// Invokes `function` with each input and checks that it fails with `InvalidInput` naming its
/// field (as `` `field` ``).
pub async fn assert_each_names_its_field(context: &Shell, function: Function, cases: &[(Value, &str)]) {
    for (input, field) in cases {
        let err = invoke(context, function, input.clone()).await.unwrap_err();
        assert_eq!(err.error_type, "InvalidInput", "{input}");
        assert!(
            err.error_message.contains(&format!("`{field}`")),
            "{field}: {}",
            err.error_message
        );
    }
}

/// Which function to invoke, as the Lambda runtime would.
#[derive(Debug, Clone, Copy)]
pub enum Function {
    Peer,
    GetStatus,
    ModifyRoutes,
}

/// Invokes a function through its Lambda handler and returns what the runtime would send back:
/// the output, or the `errorType`/`errorMessage` pair.
pub async fn invoke(context: &Shell, function: Function, input: Value) -> Result<Value, Diagnostic> {
    invoke_with_deadline(context, function, input, lambda_runtime::Context::default()).await
}

/// Invokes a function as Lambda would with `time_left` before the invocation's deadline.
pub async fn invoke_with_time_left(
    context: &Shell,
    function: Function,
    input: Value,
    time_left: Duration,
) -> Result<Value, Diagnostic> {
    let mut lambda = lambda_runtime::Context::default();
    let deadline = std::time::SystemTime::now() + time_left;
    lambda.deadline = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    invoke_with_deadline(context, function, input, lambda).await
}

async fn invoke_with_deadline(
    context: &Shell,
    function: Function,
    input: Value,
    lambda: lambda_runtime::Context,
) -> Result<Value, Diagnostic> {
    let payload = serde_json::value::to_raw_value(&input).expect("a Value always serialises");
    let event = LambdaEvent::new(payload, lambda);
    let json = |output: Result<Value, serde_json::Error>| output.expect("the output always serialises");
    let result = match function {
        Function::Peer => tgw_peering::handler::peer(context, event)
            .await
            .map(|output| json(serde_json::to_value(output))),
        Function::GetStatus => tgw_peering::handler::get_status(context, event)
            .await
            .map(|state| json(serde_json::to_value(state))),
        Function::ModifyRoutes => tgw_peering::handler::modify_routes(context, event)
            .await
            .map(|state| json(serde_json::to_value(state))),
    };
    result.map_err(Diagnostic::from)
}

/// What the state machine's SettleRace state waits for after `peer` created a peering, scaled
/// down: moto stamps CreationTime to the second, like EC2, and shows a create at once, so a
/// little over a second lets every racing create show.
pub const RACE_SETTLE: Duration = Duration::from_millis(1200);

/// Runs the state machine's loop in-process: peer (and, after creating, SettleRace and peer
/// again), then get-status until available (accepting via peer on pendingAcceptance), then
/// modify-routes. Returns modify-routes' output.
pub async fn run_to_completion(context: &Shell, input: Value) -> Value {
    let mut state = until_available(context, input).await;
    // As the state machine does: call again while routes remain or an association is being made.
    for _ in 0..20 {
        state = invoke(context, Function::ModifyRoutes, state)
            .await
            .expect("modify-routes");
        let more_routes = state["routes"]["complete"] == Value::Bool(false);
        let associating = state["peeringAssociation"]["settled"] == Value::Bool(false);
        if state["dryRun"] == Value::Bool(true) || !(more_routes || associating) {
            return state;
        }
    }
    panic!("modify-routes never finished: {state}");
}

/// The state machine's teardown path in-process: peer, modify-routes (routes out), peer (the
/// attachment out), then get-status until deleted. Returns the last output.
pub async fn teardown(context: &Shell, mut input: Value) -> Value {
    input["action"] = json!("teardown");
    let found = invoke(context, Function::Peer, input)
        .await
        .expect("peer (teardown)");
    let mut routes_out = invoke(context, Function::ModifyRoutes, found)
        .await
        .expect("modify-routes (teardown)");
    // As the state machine does: call again while routes remain.
    for _ in 0..20 {
        if routes_out["teardown"]["complete"] != json!(false) {
            break;
        }
        routes_out = invoke(context, Function::ModifyRoutes, routes_out)
            .await
            .expect("modify-routes (teardown, again)");
    }
    let mut state = invoke(context, Function::Peer, routes_out)
        .await
        .expect("peer (delete)");
    for _ in 0..20 {
        if state["dryRun"] == json!(true)
            || state["status"] == "deleted"
            || state["peeringDeleted"] == json!(false)
        {
            return state;
        }
        state = invoke(context, Function::GetStatus, state)
            .await
            .expect("get-status (teardown)");
    }
    panic!("the peering was never deleted: {state}");
}

/// The one transit gateway route table of `side` in a report's `tgwRouteTables` (`routes`,
/// `routePlan` or `teardown`); `null` when the side has none, and a panic when it has several.
pub fn side_table(report: &Value, side: &str) -> Value {
    let tables: Vec<&Value> = report["tgwRouteTables"]
        .as_array()
        .map(|tables| tables.iter().filter(|t| t["side"] == side).collect())
        .unwrap_or_default();
    match tables.as_slice() {
        [] => Value::Null,
        [one] => (*one).clone(),
        several => panic!("{} {side} tables where one was expected: {report}", several.len()),
    }
}

/// The same loop up to the point where the peering is available; returns what modify-routes
/// would be given.
pub async fn until_available(context: &Shell, input: Value) -> Value {
    let mut state = invoke(context, Function::Peer, input).await.expect("peer");
    if state["created"] == Value::Bool(true) {
        tokio::time::sleep(RACE_SETTLE).await;
        state = invoke(context, Function::Peer, state)
            .await
            .expect("peer (settle)");
    }
    // As the state machine does: branch on the phase, poll while it waits. The emulator moves a
    // peering on by elapsed time, so the polls are spaced, within a bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        state = invoke(context, Function::GetStatus, state)
            .await
            .expect("get-status");
        match state["phase"].as_str().unwrap_or_default() {
            "ready" => return state,
            "acceptable" => {
                state = invoke(context, Function::Peer, state)
                    .await
                    .expect("peer (accept)")
            }
            "waiting" => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("peering ended in phase {other}: {state}"),
        }
    }
    panic!("peering never became available: {state}");
}

/// Two Regions with one transit gateway each, on one emulator of its own.
pub struct World {
    pub emulator: Emulator,
    pub active: Net,
    pub passive: Net,
    pub active_tgw: Tgw,
    pub passive_tgw: Tgw,
    pub context: Shell,
}

pub async fn world() -> World {
    let emulator = Emulator::start();
    let active = emulator.ec2(ACTIVE).await;
    let passive = emulator.ec2(PASSIVE).await;
    let active_tgw = active.transit_gateway().await;
    let passive_tgw = passive.transit_gateway().await;
    let context = emulator.context().await;
    World {
        emulator,
        active,
        passive,
        active_tgw,
        passive_tgw,
        context,
    }
}

/// A Region of the emulator, for building and inspecting networks.
pub struct Net {
    pub ec2: Client,
    pub region: String,
}

/// A transit gateway and its default route table.
pub struct Tgw {
    pub id: String,
    pub route_table_id: String,
}

fn tag_spec(resource: ResourceType, tags: &[(&str, &str)]) -> TagSpecification {
    tags.iter()
        .fold(
            TagSpecification::builder().resource_type(resource),
            |spec, (k, v)| spec.tags(Tag::builder().key(*k).value(*v).build()),
        )
        .build()
}

impl Net {
    pub async fn transit_gateway(&self) -> Tgw {
        let tgw = self
            .ec2
            .create_transit_gateway()
            .description("test")
            .send()
            .await
            .unwrap();
        let tgw = tgw.transit_gateway().unwrap();
        Tgw {
            id: tgw.transit_gateway_id().unwrap().to_owned(),
            route_table_id: tgw
                .options()
                .unwrap()
                .association_default_route_table_id()
                .unwrap()
                .to_owned(),
        }
    }

    /// A transit gateway with default association and propagation off, as segmented networks
    /// run them: every attachment is associated and propagated by hand. `route_table_id` is a
    /// first route table of its own.
    pub async fn segmented_transit_gateway(&self) -> Tgw {
        let options = aws_sdk_ec2::types::TransitGatewayRequestOptions::builder()
            .default_route_table_association(aws_sdk_ec2::types::DefaultRouteTableAssociationValue::Disable)
            .default_route_table_propagation(aws_sdk_ec2::types::DefaultRouteTablePropagationValue::Disable)
            .build();
        let tgw = self
            .ec2
            .create_transit_gateway()
            .description("segmented")
            .options(options)
            .send()
            .await
            .unwrap();
        let id = tgw
            .transit_gateway()
            .unwrap()
            .transit_gateway_id()
            .unwrap()
            .to_owned();
        let mut tgw = Tgw {
            id,
            route_table_id: String::new(),
        };
        tgw.route_table_id = self.route_table(&tgw).await;
        tgw
    }

    /// Associates `attachment` with the TGW route table `table`.
    pub async fn associate(&self, table: &str, attachment: &str) {
        self.ec2
            .associate_transit_gateway_route_table()
            .transit_gateway_route_table_id(table)
            .transit_gateway_attachment_id(attachment)
            .send()
            .await
            .unwrap();
    }

    /// Removes `attachment`'s association with `table`.
    pub async fn disassociate(&self, table: &str, attachment: &str) {
        self.ec2
            .disassociate_transit_gateway_route_table()
            .transit_gateway_route_table_id(table)
            .transit_gateway_attachment_id(attachment)
            .send()
            .await
            .unwrap();
    }

    /// Propagates `attachment`'s routes into `table`.
    pub async fn propagate(&self, table: &str, attachment: &str) {
        self.ec2
            .enable_transit_gateway_route_table_propagation()
            .transit_gateway_route_table_id(table)
            .transit_gateway_attachment_id(attachment)
            .send()
            .await
            .unwrap();
    }

    /// The tags on a resource (a route table, say), as (key, value) pairs.
    pub async fn tags(&self, resource_id: &str) -> Vec<(String, String)> {
        let out = self
            .ec2
            .describe_tags()
            .filters(Filter::builder().name("resource-id").values(resource_id).build())
            .send()
            .await
            .unwrap();
        out.tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect()
    }

    /// Stops `attachment`'s routes propagating into `table`.
    pub async fn disable_propagation(&self, table: &str, attachment: &str) {
        self.ec2
            .disable_transit_gateway_route_table_propagation()
            .transit_gateway_route_table_id(table)
            .transit_gateway_attachment_id(attachment)
            .send()
            .await
            .unwrap();
    }

    /// The attachments propagating into `table`, in id order.
    pub async fn propagations(&self, table: &str) -> Vec<String> {
        let out = self
            .ec2
            .get_transit_gateway_route_table_propagations()
            .transit_gateway_route_table_id(table)
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = out
            .transit_gateway_route_table_propagations()
            .iter()
            .filter_map(|p| p.transit_gateway_attachment_id().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    /// The table `attachment` is associated with, and the association's state.
    pub async fn association(&self, attachment: &str) -> Option<(String, String)> {
        let out = self
            .ec2
            .describe_transit_gateway_attachments()
            .transit_gateway_attachment_ids(attachment)
            .send()
            .await
            .unwrap();
        let association = out.transit_gateway_attachments().first()?.association()?;
        Some((
            association.transit_gateway_route_table_id()?.to_owned(),
            association.state()?.as_str().to_owned(),
        ))
    }

    /// Gives `vpc` an Amazon-provided IPv6 block; returns it in canonical form (moto may write
    /// a group with a leading zero, which EC2 never does; the functions write what they parse).
    pub async fn ipv6_block(&self, vpc: &str) -> String {
        let given = self.given_ipv6_block(vpc).await;
        given.parse::<ipnet::IpNet>().expect("an IPv6 block").to_string()
    }

    async fn given_ipv6_block(&self, vpc: &str) -> String {
        let out = self
            .ec2
            .associate_vpc_cidr_block()
            .vpc_id(vpc)
            .amazon_provided_ipv6_cidr_block(true)
            .send()
            .await
            .unwrap();
        let block = out.ipv6_cidr_block_association().unwrap();
        match block.ipv6_cidr_block() {
            Some(cidr) => cidr.to_owned(),
            None => {
                // The block is assigned asynchronously; read it back.
                let vpcs = self.ec2.describe_vpcs().vpc_ids(vpc).send().await.unwrap();
                vpcs.vpcs()[0].ipv6_cidr_block_association_set()[0]
                    .ipv6_cidr_block()
                    .unwrap()
                    .to_owned()
            }
        }
    }

    /// A tagged dual-stack VPC with an IPv4 `cidr` and an Amazon-provided IPv6 block, attached
    /// to `tgw` with `Ipv6Support` as given; returns (VPC, attachment, IPv6 block).
    pub async fn dual_stack_vpc(
        &self,
        tgw: &Tgw,
        cidr: &str,
        ipv6_support: bool,
    ) -> (String, String, String) {
        let vpc = self.vpc(cidr, &[("addToTransitGateway", "true")]).await;
        let block = self.ipv6_block(&vpc).await;
        let subnet = self
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .send()
            .await
            .unwrap();
        let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
        let support = if ipv6_support {
            aws_sdk_ec2::types::Ipv6SupportValue::Enable
        } else {
            aws_sdk_ec2::types::Ipv6SupportValue::Disable
        };
        let out = self
            .ec2
            .create_transit_gateway_vpc_attachment()
            .transit_gateway_id(&tgw.id)
            .vpc_id(&vpc)
            .subnet_ids(subnet)
            .options(
                aws_sdk_ec2::types::CreateTransitGatewayVpcAttachmentRequestOptions::builder()
                    .ipv6_support(support)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let attachment = out
            .transit_gateway_vpc_attachment()
            .unwrap()
            .transit_gateway_attachment_id()
            .unwrap()
            .to_owned();
        (vpc, attachment, block)
    }

    pub async fn route_table(&self, tgw: &Tgw) -> String {
        let table = self
            .ec2
            .create_transit_gateway_route_table()
            .transit_gateway_id(&tgw.id)
            .send()
            .await
            .unwrap();
        table
            .transit_gateway_route_table()
            .unwrap()
            .transit_gateway_route_table_id()
            .unwrap()
            .to_owned()
    }

    /// A VPC with the given primary CIDR and tags.
    pub async fn vpc(&self, cidr: &str, tags: &[(&str, &str)]) -> String {
        let mut request = self.ec2.create_vpc().cidr_block(cidr);
        if !tags.is_empty() {
            request = request.tag_specifications(tag_spec(ResourceType::Vpc, tags));
        }
        request
            .send()
            .await
            .unwrap()
            .vpc()
            .unwrap()
            .vpc_id()
            .unwrap()
            .to_owned()
    }

    /// A VPC tagged for routing and attached to `tgw`.
    pub async fn attached_vpc(&self, tgw: &Tgw, cidr: &str) -> String {
        let vpc = self.vpc(cidr, &[("addToTransitGateway", "true")]).await;
        self.attach(tgw, &vpc, cidr).await;
        vpc
    }

    /// A security group in `vpc` whose one inbound rule (TCP 443) admits `cidrs`, and, when
    /// `via_prefix_list`, a new managed prefix list holding them instead; returns the group id.
    pub async fn admitting_group(&self, vpc: &str, cidrs: &[&str], via_prefix_list: bool) -> String {
        use aws_sdk_ec2::types::{AddPrefixListEntry, IpPermission, IpRange, PrefixListId};
        let group = self
            .ec2
            .create_security_group()
            .group_name(format!("admits-{}", cidrs.join("-")))
            .description("admits the peer")
            .vpc_id(vpc)
            .send()
            .await
            .unwrap();
        let group = group.group_id().unwrap().to_owned();
        let mut rule = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443);
        if via_prefix_list {
            let mut list = self
                .ec2
                .create_managed_prefix_list()
                .prefix_list_name(format!("peer-{group}"))
                .address_family("IPv4")
                .max_entries(10);
            for cidr in cidrs {
                list = list.entries(AddPrefixListEntry::builder().cidr(*cidr).build());
            }
            let list = list.send().await.unwrap();
            let id = list.prefix_list().unwrap().prefix_list_id().unwrap();
            rule = rule.prefix_list_ids(PrefixListId::builder().prefix_list_id(id).build());
        } else {
            for cidr in cidrs {
                rule = rule.ip_ranges(IpRange::builder().cidr_ip(*cidr).build());
            }
        }
        self.ec2
            .authorize_security_group_ingress()
            .group_id(&group)
            .ip_permissions(rule.build())
            .send()
            .await
            .unwrap();
        group
    }

    pub async fn secondary_cidr(&self, vpc: &str, cidr: &str) -> String {
        let out = self
            .ec2
            .associate_vpc_cidr_block()
            .vpc_id(vpc)
            .cidr_block(cidr)
            .send()
            .await
            .unwrap();
        out.cidr_block_association()
            .unwrap()
            .association_id()
            .unwrap()
            .to_owned()
    }

    /// Attaches `vpc` to `tgw` through a subnet carved from `cidr`.
    pub async fn attach(&self, tgw: &Tgw, vpc: &str, cidr: &str) -> String {
        let subnet = self
            .ec2
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(cidr)
            .send()
            .await
            .unwrap();
        let subnet_id = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
        self.attach_subnets(tgw, vpc, &[&subnet_id]).await
    }

    /// A subnet of `vpc` in the Availability Zone `zone` (such as "us-east-1b").
    pub async fn subnet(&self, vpc: &str, cidr: &str, zone: &str) -> String {
        let out = self
            .ec2
            .create_subnet()
            .vpc_id(vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .unwrap();
        out.subnet().unwrap().subnet_id().unwrap().to_owned()
    }

    /// Attaches `vpc` to `tgw` through the given subnets.
    pub async fn attach_subnets(&self, tgw: &Tgw, vpc: &str, subnets: &[&str]) -> String {
        let out = self
            .ec2
            .create_transit_gateway_vpc_attachment()
            .transit_gateway_id(&tgw.id)
            .vpc_id(vpc)
            .set_subnet_ids(Some(subnets.iter().map(|s| (*s).to_owned()).collect()))
            .send()
            .await
            .unwrap();
        out.transit_gateway_vpc_attachment()
            .unwrap()
            .transit_gateway_attachment_id()
            .unwrap()
            .to_owned()
    }

    /// The main route table of `vpc`.
    pub async fn main_table(&self, vpc: &str) -> String {
        let out = self
            .ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(vpc).build())
            .filters(Filter::builder().name("association.main").values("true").build())
            .send()
            .await
            .unwrap();
        out.route_tables()[0].route_table_id().unwrap().to_owned()
    }

    /// A new route table of `vpc`, associated with `subnet`.
    pub async fn table_for(&self, vpc: &str, subnet: &str) -> String {
        let table = self.ec2.create_route_table().vpc_id(vpc).send().await.unwrap();
        let id = table.route_table().unwrap().route_table_id().unwrap().to_owned();
        self.ec2
            .associate_route_table()
            .route_table_id(&id)
            .subnet_id(subnet)
            .send()
            .await
            .unwrap();
        id
    }

    /// The routes of a VPC route table other than its local ones, as (cidr, target), sorted.
    pub async fn vpc_routes(&self, route_table_id: &str) -> Vec<(String, String)> {
        let out = self
            .ec2
            .describe_route_tables()
            .route_table_ids(route_table_id)
            .send()
            .await
            .unwrap();
        let mut routes: Vec<(String, String)> = out.route_tables()[0]
            .routes()
            .iter()
            .filter(|route| route.gateway_id() != Some("local"))
            .map(|route| {
                let target = route
                    .transit_gateway_id()
                    .or(route.gateway_id())
                    .unwrap_or("other");
                let destination = route
                    .destination_cidr_block()
                    .or(route.destination_ipv6_cidr_block())
                    .unwrap_or_default();
                (destination.to_owned(), target.to_owned())
            })
            .collect();
        routes.sort();
        routes
    }

    /// Adds a VPC route for `cidr` via the transit gateway `tgw`.
    pub async fn vpc_route_to_tgw(&self, route_table_id: &str, cidr: &str, tgw: &Tgw) {
        self.ec2
            .create_route()
            .route_table_id(route_table_id)
            .destination_cidr_block(cidr)
            .transit_gateway_id(&tgw.id)
            .send()
            .await
            .unwrap();
    }

    /// Adds a VPC route for `cidr` via a new internet gateway of `vpc`, as someone else's route
    /// would be; returns the gateway's id.
    pub async fn vpc_route_to_internet(&self, vpc: &str, route_table_id: &str, cidr: &str) -> String {
        let igw = self.ec2.create_internet_gateway().send().await.unwrap();
        let igw = igw
            .internet_gateway()
            .unwrap()
            .internet_gateway_id()
            .unwrap()
            .to_owned();
        self.ec2
            .attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(vpc)
            .send()
            .await
            .unwrap();
        self.ec2
            .create_route()
            .route_table_id(route_table_id)
            .destination_cidr_block(cidr)
            .gateway_id(&igw)
            .send()
            .await
            .unwrap();
        igw
    }

    /// A Site-to-Site VPN on `tgw`; returns its transit gateway attachment's id.
    pub async fn vpn_attachment(&self, tgw: &Tgw) -> String {
        let gateway = self
            .ec2
            .create_customer_gateway()
            .bgp_asn(65000)
            .public_ip("203.0.113.10")
            .r#type(aws_sdk_ec2::types::GatewayType::Ipsec1)
            .send()
            .await
            .unwrap();
        let gateway = gateway
            .customer_gateway()
            .unwrap()
            .customer_gateway_id()
            .unwrap()
            .to_owned();
        let vpn = self
            .ec2
            .create_vpn_connection()
            .customer_gateway_id(gateway)
            .r#type("ipsec.1")
            .transit_gateway_id(&tgw.id)
            .send()
            .await
            .unwrap();
        let vpn = vpn
            .vpn_connection()
            .unwrap()
            .vpn_connection_id()
            .unwrap()
            .to_owned();
        let out = self
            .ec2
            .describe_transit_gateway_attachments()
            .filters(Filter::builder().name("resource-id").values(&vpn).build())
            .send()
            .await
            .unwrap();
        out.transit_gateway_attachments()[0]
            .transit_gateway_attachment_id()
            .unwrap()
            .to_owned()
    }

    /// Requests a peering from `from` (in this Region) to `to` in `to_region`, as an operator
    /// would by hand, and returns its attachment id.
    pub async fn request_peering(&self, from: &Tgw, to: &Tgw, to_region: &str) -> String {
        self.request_tagged_peering(from, to, to_region, &[]).await
    }

    /// A peering request that carries this tool's creation tags, as if an earlier run made it.
    pub async fn request_managed_peering(&self, from: &Tgw, to: &Tgw, to_region: &str) -> String {
        let tags = tgw_peering::plan::peering::creation_tags(&from.id, &to.id);
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.request_tagged_peering(from, to, to_region, &tags).await
    }

    async fn request_tagged_peering(
        &self,
        from: &Tgw,
        to: &Tgw,
        to_region: &str,
        tags: &[(&str, &str)],
    ) -> String {
        let mut request = self
            .ec2
            .create_transit_gateway_peering_attachment()
            .transit_gateway_id(&from.id)
            .peer_transit_gateway_id(&to.id)
            .peer_region(to_region)
            .peer_account_id("123456789012");
        if !tags.is_empty() {
            request = request.tag_specifications(tag_spec(ResourceType::TransitGatewayAttachment, tags));
        }
        let out = request.send().await.unwrap();
        out.transit_gateway_peering_attachment()
            .unwrap()
            .transit_gateway_attachment_id()
            .unwrap()
            .to_owned()
    }

    pub async fn static_route(&self, route_table_id: &str, cidr: &str, attachment_id: Option<&str>) {
        let mut request = self
            .ec2
            .create_transit_gateway_route()
            .transit_gateway_route_table_id(route_table_id)
            .destination_cidr_block(cidr);
        request = match attachment_id {
            Some(id) => request.transit_gateway_attachment_id(id),
            None => request.blackhole(true),
        };
        request.send().await.unwrap();
    }

    /// The static routes of a table as (cidr, target) pairs, sorted; target is the attachment id
    /// or "blackhole".
    pub async fn routes(&self, route_table_id: &str) -> Vec<(String, String)> {
        let out = self
            .ec2
            .search_transit_gateway_routes()
            .transit_gateway_route_table_id(route_table_id)
            .filters(Filter::builder().name("type").values("static").build())
            .send()
            .await
            .unwrap();
        let mut routes: Vec<(String, String)> = out
            .routes()
            .iter()
            .map(|route| {
                let target = route
                    .transit_gateway_attachments()
                    .first()
                    .and_then(|a| a.transit_gateway_attachment_id())
                    .unwrap_or("blackhole");
                (
                    route.destination_cidr_block().unwrap_or_default().to_owned(),
                    target.to_owned(),
                )
            })
            .collect();
        routes.sort();
        routes
    }

    /// Peering attachments this Region lists, as (id, state).
    pub async fn peerings(&self) -> Vec<(String, String)> {
        let out = self
            .ec2
            .describe_transit_gateway_peering_attachments()
            .send()
            .await
            .unwrap();
        out.transit_gateway_peering_attachments()
            .iter()
            .map(|a| {
                (
                    a.transit_gateway_attachment_id().unwrap_or_default().to_owned(),
                    a.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Peering attachments in a live state: they exist or will, so a second one beside them would
    /// be a duplicate. Listed here, apart from the functions' own classification, as an oracle.
    pub async fn live_peerings(&self) -> Vec<String> {
        const LIVE: &[&str] = &[
            "initiating",
            "initiatingRequest",
            "pendingAcceptance",
            "pending",
            "available",
            "modifying",
            "rollingBack",
        ];
        self.peerings()
            .await
            .into_iter()
            .filter(|(_, s)| LIVE.contains(&s.as_str()))
            .map(|(id, _)| id)
            .collect()
    }
}

/// Appends one scenario's measured outcome to `$TGW_PEERING_RELIABILITY_LOG` (JSON lines), which
/// scripts/test.sh turns into the reliability table. Without the variable nothing is written.
pub fn record(scenario: &str, figures: Value) {
    let mut line = json!({"scenario": scenario, "suite": "emulator"});
    if let (Some(line), Some(figures)) = (line.as_object_mut(), figures.as_object()) {
        line.extend(figures.clone());
    }
    append_to_reliability_log(&line);
}

/// One JSON line appended to `$TGW_PEERING_RELIABILITY_LOG`, in one write so that concurrent
/// tests' lines never interleave; nothing without the variable.
fn append_to_reliability_log(line: &Value) {
    let Some(path) = std::env::var_os("TGW_PEERING_RELIABILITY_LOG") else {
        return;
    };
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|err| panic!("cannot open {}: {err}", PathBuf::from(&path).display()));
    std::io::Write::write_all(&mut log, format!("{line}\n").as_bytes()).expect("reliability log is writable");
}

/// Appends what one stricter-than-AWS check covered (`kind: awsCheck`) to
/// `$TGW_PEERING_RELIABILITY_LOG`; docs/reliability.md adds up the counts of each check.
pub fn record_check(check: &str, count: usize, detail: &str) {
    append_to_reliability_log(&json!({"kind": "awsCheck", "check": check, "count": count, "detail": detail}));
}

/// Owned pairs from string literals, for comparing route lists.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}
