//! The EC2 actions each function really calls, on every path, are exactly the ones
//! `cloudformation/function-permissions.json` lists; the template's roles are checked against that
//! same file (tests/stack/test_template.py). So a new EC2 call fails here until the list, and then
//! the template, grant it.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tgw_peering_integration::{invoke, Emulator, Function, ACTIVE, PASSIVE};

fn declared(function: &str) -> BTreeSet<String> {
    let text = include_str!("../../cloudformation/function-permissions.json");
    let all: Value = serde_json::from_str(text).expect("function-permissions.json is JSON");
    all[function]["calls"]
        .as_array()
        .unwrap_or_else(|| panic!("function-permissions.json lists no calls for {function}"))
        .iter()
        .map(|action| action.as_str().unwrap().to_owned())
        .collect()
}

fn called(emulator: &Emulator) -> BTreeSet<String> {
    emulator
        .calls()
        .0
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(action, _)| action)
        .collect()
}

#[tokio::test]
async fn given_every_path_then_each_function_calls_exactly_the_ec2_actions_it_is_granted() {
    let (mut peer, mut get_status, mut modify_routes) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());

    // Creating, then accepting, with the default route tables.
    let emulator = Emulator::start();
    let (active, passive) = (emulator.ec2(ACTIVE).await, emulator.ec2(PASSIVE).await);
    let (active_tgw, passive_tgw) = (active.transit_gateway().await, passive.transit_gateway().await);
    let active_vpc = active.attached_vpc(&active_tgw, "10.1.0.0/16").await;
    passive.attached_vpc(&passive_tgw, "10.20.0.0/16").await;
    // A group that admits the peer through a prefix list, whose entries the advice reads.
    active.admitting_group(&active_vpc, &["10.20.0.0/16"], true).await;
    // A VPC the peering's table does not reach (its propagation there is off), so that
    // returnPropagation enables one, and teardown disables it.
    let unreached = active
        .vpc("10.2.0.0/16", &[("addToTransitGateway", "true")])
        .await;
    let unreached = active.attach(&active_tgw, &unreached, "10.2.0.0/16").await;
    active
        .ec2
        .disable_transit_gateway_route_table_propagation()
        .transit_gateway_route_table_id(&active_tgw.route_table_id)
        .transit_gateway_attachment_id(&unreached)
        .send()
        .await
        .unwrap();
    let context = emulator.context().await;
    emulator.reset_calls();
    let state = invoke(&context, Function::Peer, json!({})).await.unwrap();
    peer.extend(called(&emulator));

    emulator.reset_calls();
    let state = invoke(&context, Function::GetStatus, state).await.unwrap();
    get_status.extend(called(&emulator));

    // Routes created in the TGW and (with vpcRoutes) the VPC route tables.
    let route_table = state["activePeeringRouteTableId"].as_str().unwrap().to_owned();
    active.static_route(&route_table, "10.20.0.0/16", None).await;
    let mut state = state;
    state["vpcRoutes"] = json!(true);
    // The peering associated with no table on the active side (associated there), and with
    // another table on the passive side (moved: disassociated first).
    let attachment = state["attachmentId"].as_str().unwrap().to_owned();
    active
        .ec2
        .disassociate_transit_gateway_route_table()
        .transit_gateway_route_table_id(&route_table)
        .transit_gateway_attachment_id(&attachment)
        .send()
        .await
        .unwrap();
    let elsewhere = passive.route_table(&passive_tgw).await;
    let passive_table = state["passivePeeringRouteTableId"].as_str().unwrap().to_owned();
    passive
        .ec2
        .disassociate_transit_gateway_route_table()
        .transit_gateway_route_table_id(&passive_table)
        .transit_gateway_attachment_id(&attachment)
        .send()
        .await
        .unwrap();
    passive
        .ec2
        .associate_transit_gateway_route_table()
        .transit_gateway_route_table_id(&elsewhere)
        .transit_gateway_attachment_id(&attachment)
        .send()
        .await
        .unwrap();
    state["movePeeringAssociation"] = json!(true);
    state["returnPropagation"] = json!(true);
    emulator.reset_calls();
    let routed = invoke(&context, Function::ModifyRoutes, state).await.unwrap();
    modify_routes.extend(called(&emulator));

    // Teardown: the routes and their records out, then the attachment, then waiting for it.
    let mut request = routed;
    request["action"] = json!("teardown");
    for key in ["routes", "warnings", "reachability"] {
        request.as_object_mut().unwrap().remove(key);
    }
    emulator.reset_calls();
    let found = invoke(&context, Function::Peer, request).await.unwrap();
    peer.extend(called(&emulator));
    emulator.reset_calls();
    let routes_out = invoke(&context, Function::ModifyRoutes, found).await.unwrap();
    modify_routes.extend(called(&emulator));
    emulator.reset_calls();
    let deleted = invoke(&context, Function::Peer, routes_out).await.unwrap();
    peer.extend(called(&emulator));
    emulator.reset_calls();
    invoke(&context, Function::GetStatus, deleted).await.unwrap();
    get_status.extend(called(&emulator));

    // A mesh's check: every side read before any pair runs (with VPC routes, their tables too).
    emulator.reset_calls();
    let mesh = json!({"mesh": [{"region": ACTIVE}, {"region": PASSIVE}], "vpcRoutes": true});
    invoke(&context, Function::Peer, mesh).await.unwrap();
    peer.extend(called(&emulator));

    // Reusing, with explicit route tables, and deleting a duplicate a racing run left.
    let emulator = Emulator::start();
    let (active, passive) = (emulator.ec2(ACTIVE).await, emulator.ec2(PASSIVE).await);
    let (active_tgw, passive_tgw) = (active.transit_gateway().await, passive.transit_gateway().await);
    active
        .request_managed_peering(&active_tgw, &passive_tgw, PASSIVE)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    active
        .request_managed_peering(&active_tgw, &passive_tgw, PASSIVE)
        .await;
    let context = emulator.context().await;
    emulator.reset_calls();
    let request = json!({
        "activeTransitGatewayId": active_tgw.id, "passiveTransitGatewayId": passive_tgw.id,
        "activeRouteTableId": active_tgw.route_table_id, "passiveRouteTableId": passive_tgw.route_table_id,
    });
    let output = invoke(&context, Function::Peer, request).await.unwrap();
    assert_eq!(output["removedDuplicates"].as_array().map(Vec::len), Some(1));
    peer.extend(called(&emulator));

    assert_eq!(peer, declared("peer"), "peer");
    assert_eq!(get_status, declared("get-status"), "get-status");
    assert_eq!(modify_routes, declared("modify-routes"), "modify-routes");
}
