//! The production start-up path, as a Lambda runs it: `Shell::from_env()` reading the standard
//! AWS variables and ours, and lambda_runtime's subscriber writing JSON logs. It has a test binary
//! of its own because both the environment and the global subscriber belong to the process.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tgw_peering::Shell;
use tgw_peering_integration::{pairs, run_to_completion, Emulator, ACTIVE, PASSIVE, STATE_TABLE};

const ACCESS_KEY: &str = "AKIAEMULATORKEY00001";
const SECRET_KEY: &str = "emulator-secret-key-must-never-be-logged";
const SESSION_TOKEN: &str = "emulator-session-token-must-never-be-logged";

/// Every EC2 action the functions call.
const EC2_ACTIONS: &[&str] = &[
    "DescribeTransitGateways",
    "DescribeTransitGatewayRouteTables",
    "DescribeTransitGatewayPeeringAttachments",
    "CreateTransitGatewayPeeringAttachment",
    "AcceptTransitGatewayPeeringAttachment",
    "DescribeVpcs",
    "DescribeTransitGatewayVpcAttachments",
    "SearchTransitGatewayRoutes",
    "CreateTransitGatewayRoute",
];

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn given_the_lambda_environment_then_from_env_reaches_the_endpoint_and_logs_json_without_secrets() {
    let emulator = Emulator::start();
    for (name, value) in [
        ("AWS_ENDPOINT_URL", emulator.endpoint.as_str()),
        ("AWS_REGION", ACTIVE),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("ACTIVE_REGION", ACTIVE),
        ("PASSIVE_REGION", PASSIVE),
        ("VPC_TAG_KEY", "peer-me"),
        ("STATE_TABLE", STATE_TABLE),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "info"),
    ] {
        // Safe here: this binary's only test sets them before anything reads the environment.
        std::env::set_var(name, value);
    }
    let logs = Captured::default();
    let sink = logs.clone();
    lambda_runtime::tracing::init_default_subscriber_with_writer(move || sink.clone());
    emulator.create_state_table().await;
    let active = emulator.ec2(ACTIVE).await;
    let passive = emulator.ec2(PASSIVE).await;
    let active_tgw = active.transit_gateway().await;
    let passive_tgw = passive.transit_gateway().await;
    let vpc = active.vpc("10.1.0.0/16", &[("Peer-Me", "true")]).await;
    active.attach(&active_tgw, &vpc, "10.1.0.0/24").await;
    passive.vpc("10.20.0.0/16", &[("peer-me", "TRUE")]).await;

    let context = Shell::from_env().await;
    let output = run_to_completion(&context, json!({"Comment": "Insert your JSON here"})).await;

    let attachment = output["attachmentId"].as_str().unwrap();
    assert_eq!(
        output["vpcTagKey"], "peer-me",
        "VPC_TAG_KEY is the default tag key"
    );
    assert_eq!(
        passive.routes(&passive_tgw.route_table_id).await,
        pairs(&[("10.1.0.0/16", attachment)])
    );
    assert_eq!(
        active.routes(&active_tgw.route_table_id).await,
        pairs(&[("10.20.0.0/16", attachment)])
    );

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for secret in [ACCESS_KEY, SECRET_KEY, SESSION_TOKEN] {
        assert!(!text.contains(secret), "a credential reached the logs");
    }
    let events: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let ec2_calls: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["fields"]["action"]
                .as_str()
                .is_some_and(|a| EC2_ACTIONS.contains(&a))
        })
        .collect();
    // The EC2 edge names the Region once, on the span of each call (`#[instrument]`); the
    // JSON log carries that span with every event in it.
    let region_of = |event: &Value| {
        let own = &event["fields"]["region"];
        if own.is_string() {
            own.clone()
        } else {
            event["span"]["region"].clone()
        }
    };
    for event in &ec2_calls {
        assert!(
            region_of(event).is_string(),
            "an AWS call logged without its Region: {event}"
        );
    }
    let logged = |action: &str| {
        ec2_calls
            .iter()
            .find(|e| e["fields"]["action"] == action)
            .copied()
    };
    for action in [
        "DescribeTransitGateways",
        "DescribeVpcs",
        "SearchTransitGatewayRoutes",
        "DescribeTransitGatewayVpcAttachments",
    ] {
        assert!(logged(action).is_some(), "{action} was not logged");
    }
    let created = logged("CreateTransitGatewayPeeringAttachment").expect("the create is logged");
    assert_eq!(created["fields"]["attachment_id"], attachment);
    let accepted = logged("AcceptTransitGatewayPeeringAttachment").expect("the accept is logged");
    assert_eq!(region_of(accepted), PASSIVE);
    let route = logged("CreateTransitGatewayRoute").expect("route creation is logged");
    assert_eq!(route["fields"]["attachment_id"], attachment);
    let ignored = events
        .iter()
        .find(|e| e["fields"]["field"] == "\"Comment\"")
        .expect("the ignored field is logged");
    assert_eq!(ignored["level"], "WARN");
    let warning = events
        .iter()
        .find(|e| e["level"] == "WARN" && e["fields"]["warning"].is_string())
        .expect("the unattached passive VPC is warned about");
    assert!(
        warning["fields"]["warning"]
            .as_str()
            .unwrap()
            .contains("blackhole"),
        "{warning}"
    );
}
