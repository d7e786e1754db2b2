//! `scripts/local.sh`: the whole job on the local EC2 emulator. Starts the emulator, builds a
//! demo network in two Regions, then runs the functions through their Lambda handlers in the
//! state machine's order, printing every step. A second pass shows that a re-run changes nothing.

use serde_json::{json, Value};
use tgw_peering_integration::{invoke, Emulator, Function, ACTIVE, PASSIVE};

fn show(step: &str, value: &Value) {
    println!(
        "--- {step}\n{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

async fn run(context: &tgw_peering::Context, input: Value) -> Result<Value, lambda_runtime::Diagnostic> {
    let mut state = invoke(context, Function::Peer, input).await?;
    show("peer", &state);
    for _ in 0..20 {
        state = invoke(context, Function::GetStatus, state).await?;
        show("get-status", &state);
        match state["status"].as_str().unwrap_or_default() {
            "available" => {
                let output = invoke(context, Function::ModifyRoutes, state).await?;
                show("modify-routes", &output);
                return Ok(output);
            }
            "pendingAcceptance" => {
                state = invoke(context, Function::Peer, state).await?;
                show("peer (accept)", &state);
            }
            "initiatingRequest" | "pending" | "modifying" => {}
            other => {
                return Err(lambda_runtime::Diagnostic {
                    error_type: "PeeringFailed".into(),
                    error_message: other.into(),
                })
            }
        }
    }
    Err(lambda_runtime::Diagnostic {
        error_type: "PeeringTimedOut".into(),
        error_message: "gave up polling".into(),
    })
}

#[tokio::main]
async fn main() {
    let emulator = Emulator::start();
    println!("EC2 emulator at {}", emulator.endpoint);
    let active = emulator.ec2(ACTIVE).await;
    let passive = emulator.ec2(PASSIVE).await;
    let active_tgw = active.transit_gateway().await;
    let passive_tgw = passive.transit_gateway().await;
    let app = active.attached_vpc(&active_tgw, "10.1.0.0/16").await;
    active.secondary_cidr(&app, "10.2.0.0/16").await;
    passive.attached_vpc(&passive_tgw, "10.20.0.0/16").await;
    active.vpc("10.9.0.0/16", &[]).await;
    println!(
        "demo network: {ACTIVE} {} with tagged VPC {app} (10.1.0.0/16 + 10.2.0.0/16), {PASSIVE} {}",
        active_tgw.id, passive_tgw.id
    );
    // Make the emulator behave like AWS: a request that initiates, then provisioning after accept.
    emulator.peering_progression(json!({"initiatingRequestPolls": 1, "pendingPolls": 1}));
    let context = emulator.context().await;

    let first = run(&context, json!({"Comment": "Insert your JSON here"})).await;
    emulator.reset_calls();
    let second = run(&context, json!({})).await;
    match (first, second) {
        (Ok(_), Ok(_)) => {
            let mutating = emulator.calls().mutating();
            println!(
                "\nre-run made {} mutating EC2 calls {:?}",
                mutating.values().sum::<u64>(),
                mutating
            );
        }
        (Err(err), _) | (_, Err(err)) => {
            eprintln!("failed: {}: {}", err.error_type, err.error_message);
            std::process::exit(1);
        }
    }
}
