//! The three functions, driven through their Lambda handlers, with the real aws-sdk-ec2 talking
//! HTTP to the moto EC2 emulator in two Regions. Each test owns its own emulator.

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::{json, Value};
use tgw_peering::config::RouteWrites;
use tgw_peering_integration::{
    invoke, invoke_with_time_left, pairs, record, run_to_completion, side_table, world, Function, World,
    ACTIVE, PASSIVE, RACE_SETTLE,
};

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn given_tagged_vpcs_in_two_regions_when_the_job_runs_then_one_peering_carries_exactly_the_expected_routes(
) {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.active.attached_vpc(&w.active_tgw, "10.2.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    // As on AWS: the request initiates for a while (past peer's first call, not past its settle
    // call RACE_SETTLE later), and provisioning takes a while after accept (short: get-status
    // polls back to back, at most 50 times).
    w.emulator
        .peering_progression(json!({"initiatingRequestSeconds": 0.5, "pendingSeconds": 0.1}));

    let output = run_to_completion(&w.context, json!({})).await;
    let calls = w.emulator.calls();

    let live = w.active.live_peerings().await;
    assert_eq!(live.len(), 1, "exactly one live peering: {live:?}");
    let attachment = live[0].clone();
    assert_eq!(w.passive.live_peerings().await, vec![attachment.clone()]);
    assert_eq!(output["attachmentId"], json!(attachment));
    assert_eq!(output["status"], "available");
    assert_eq!(
        (output["created"].clone(), output["accepted"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(output["activeTransitGatewayId"], json!(w.active_tgw.id));
    assert_eq!(
        output["passivePeeringRouteTableId"],
        json!(w.passive_tgw.route_table_id)
    );
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[("10.20.0.0/16", &attachment)])
    );
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[("10.1.0.0/16", &attachment), ("10.2.0.0/16", &attachment)])
    );
    assert_eq!(
        strings(&side_table(&output["routes"], "active")["created"]),
        ["10.20.0.0/16"]
    );
    assert_eq!(
        strings(&side_table(&output["routes"], "passive")["created"]),
        ["10.1.0.0/16", "10.2.0.0/16"]
    );
    assert_eq!(output["warnings"], json!([]));
    assert_eq!(calls.of("CreateTransitGatewayPeeringAttachment"), 1);
    assert_eq!(
        calls.of("AcceptTransitGatewayPeeringAttachment"),
        1,
        "accepted once, never while initiating"
    );
    assert_eq!(
        calls.of("SearchTransitGatewayRoutes"),
        4,
        "each route table is read once by peer's check before the create, once by the pass"
    );
}

#[tokio::test]
async fn given_a_finished_job_when_it_runs_again_then_nothing_is_created_or_accepted() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let first = run_to_completion(&w.context, json!({})).await;
    let tables_before = (
        w.active.routes(&w.active_tgw.route_table_id).await,
        w.passive.routes(&w.passive_tgw.route_table_id).await,
    );
    w.emulator.reset_calls();

    let second = run_to_completion(&w.context, json!({})).await;

    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "a re-run makes no mutating call"
    );
    assert_eq!(second["attachmentId"], first["attachmentId"]);
    assert_eq!(second["created"], json!(false));
    assert_eq!(second["accepted"], json!(false));
    assert_eq!(side_table(&second["routes"], "active")["created"], json!([]));
    assert_eq!(
        strings(&side_table(&second["routes"], "active")["present"]),
        ["10.20.0.0/16"]
    );
    assert_eq!(
        strings(&side_table(&second["routes"], "passive")["present"]),
        ["10.1.0.0/16"]
    );
    let tables_after = (
        w.active.routes(&w.active_tgw.route_table_id).await,
        w.passive.routes(&w.passive_tgw.route_table_id).await,
    );
    assert_eq!(tables_after, tables_before);
}

#[tokio::test]
async fn given_an_available_peering_when_peer_is_called_again_then_it_is_a_no_op() {
    let w = world().await;
    let first = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    assert_eq!(
        first["status"], "available",
        "the emulator's fast path accepts at once"
    );
    w.emulator.reset_calls();

    let again = invoke(&w.context, Function::Peer, first.clone()).await.unwrap();

    assert_eq!(again["attachmentId"], first["attachmentId"]);
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

#[tokio::test]
async fn given_a_vpc_attachment_on_the_same_gateway_then_get_status_reports_the_peering_itself() {
    let w = world().await;
    // The VPC attachment is available; the peering is still waiting for acceptance.
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let attachment_id = w
        .active
        .request_peering(&w.active_tgw, &w.passive_tgw, PASSIVE)
        .await;
    let input = json!({
        "activeRegion": ACTIVE, "passiveRegion": PASSIVE,
        "activeTransitGatewayId": w.active_tgw.id, "passiveTransitGatewayId": w.passive_tgw.id,
        "activeRouteTableId": w.active_tgw.route_table_id, "passiveRouteTableId": w.passive_tgw.route_table_id,
        "activePeeringRouteTableId": w.active_tgw.route_table_id,
        "passivePeeringRouteTableId": w.passive_tgw.route_table_id,
        "vpcTagKey": "addToTransitGateway", "attachmentId": attachment_id,
    });

    let status = invoke(&w.context, Function::GetStatus, input).await.unwrap();

    assert_eq!(status["status"], "pendingAcceptance");
    assert_eq!(status["passiveStatus"], "pendingAcceptance");
    assert_eq!(
        w.emulator
            .calls()
            .mutating()
            .get("AcceptTransitGatewayPeeringAttachment"),
        None,
        "read-only"
    );
}

#[tokio::test]
async fn given_vpcs_tagged_in_any_case_with_secondary_cidrs_then_exactly_the_tagged_associated_cidrs_are_routed(
) {
    let w = world().await;
    let a = w
        .active
        .vpc("10.1.0.0/16", &[("AddToTransitGateway", "TRUE")])
        .await;
    w.active.secondary_cidr(&a, "10.5.0.0/16").await;
    w.active.attach(&w.active_tgw, &a, "10.1.0.0/24").await;
    let b = w
        .active
        .vpc("10.9.0.0/16", &[("addtotransitgateway", "true")])
        .await;
    let gone = w.active.secondary_cidr(&b, "10.8.0.0/16").await;
    w.active
        .ec2
        .disassociate_vpc_cidr_block()
        .association_id(gone)
        .send()
        .await
        .unwrap();
    w.active.attach(&w.active_tgw, &b, "10.9.0.0/24").await;
    w.active.vpc("10.6.0.0/16", &[]).await;
    w.active
        .vpc("10.7.0.0/16", &[("addToTransitGateway", "false")])
        .await;
    w.active
        .vpc("10.4.0.0/16", &[("Name", "addToTransitGateway")])
        .await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;

    let output = run_to_completion(&w.context, json!({})).await;

    let attachment = output["attachmentId"].as_str().unwrap();
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[
            ("10.1.0.0/16", attachment),
            ("10.5.0.0/16", attachment),
            ("10.9.0.0/16", attachment)
        ])
    );
}

#[tokio::test]
async fn given_existing_routes_then_conflicts_are_left_alone_covered_cidrs_skipped_and_shadowed_ones_created()
{
    let w = world().await;
    let vpc_attachment = {
        let vpc = w
            .active
            .vpc("10.1.0.0/16", &[("addToTransitGateway", "true")])
            .await;
        w.active.attach(&w.active_tgw, &vpc, "10.1.0.0/24").await
    };
    let other = w
        .active
        .vpc("172.16.0.0/16", &[("addToTransitGateway", "true")])
        .await;
    w.active.attach(&w.active_tgw, &other, "172.16.0.0/24").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.21.0.0/16").await;
    // Someone else's routes: an exact blackhole for one passive CIDR, and a supernet that sends
    // the other one somewhere else.
    w.active
        .static_route(&w.active_tgw.route_table_id, "10.20.0.0/16", None)
        .await;
    w.active
        .static_route(&w.active_tgw.route_table_id, "10.0.0.0/8", Some(&vpc_attachment))
        .await;
    let mut state = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    let attachment = state["attachmentId"].as_str().unwrap().to_owned();
    // A supernet via the peering already covers 10.1.0.0/16 on the passive side.
    w.passive
        .static_route(&w.passive_tgw.route_table_id, "10.0.0.0/12", Some(&attachment))
        .await;
    state = invoke(&w.context, Function::GetStatus, state).await.unwrap();
    assert_eq!(state["status"], "available");

    let output = invoke(&w.context, Function::ModifyRoutes, state).await.unwrap();

    assert_eq!(
        side_table(&output["routes"], "active")["conflicts"],
        json!([{"cidr": "10.20.0.0/16", "target": "blackhole"}])
    );
    assert_eq!(
        strings(&side_table(&output["routes"], "active")["created"]),
        ["10.21.0.0/16"]
    );
    assert_eq!(
        strings(&side_table(&output["routes"], "passive")["present"]),
        ["10.1.0.0/16"]
    );
    assert_eq!(
        strings(&side_table(&output["routes"], "passive")["created"]),
        ["172.16.0.0/16"]
    );
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[
            ("10.0.0.0/8", &vpc_attachment),
            ("10.20.0.0/16", "blackhole"),
            ("10.21.0.0/16", &attachment)
        ])
    );
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[("10.0.0.0/12", &attachment), ("172.16.0.0/16", &attachment)])
    );
    let warnings = strings(&output["warnings"]);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("10.20.0.0/16") && w.contains("left unchanged")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn given_two_available_gateways_and_no_id_then_peer_is_ambiguous_and_creates_nothing() {
    let w = world().await;
    let second = w.active.transit_gateway().await;
    w.emulator.reset_calls();

    let err = invoke(&w.context, Function::Peer, json!({})).await.unwrap_err();

    assert_eq!(err.error_type, "AmbiguousTransitGateway");
    assert!(
        err.error_message.contains("activeTransitGatewayId"),
        "{}",
        err.error_message
    );
    assert!(err.error_message.contains(&second.id) && err.error_message.contains(&w.active_tgw.id));
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

#[tokio::test]
async fn given_bad_input_then_each_gets_its_error_type_naming_the_field_and_nothing_changes() {
    let w = world().await;
    let other_tgw = w.active.transit_gateway().await;
    let explicit = |extra: Value| {
        let mut request = json!({"activeTransitGatewayId": w.active_tgw.id});
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        request
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "InvalidInput", "(request)"),
        (json!("peer please"), "InvalidInput", "(request)"),
        (json!({"activeRegion": 42}), "InvalidInput", "activeRegion"),
        (
            json!({"activeRegion": "us-esat-1"}),
            "InvalidInput",
            "activeRegion",
        ),
        (json!({"activeRegion": "moon-1"}), "InvalidInput", "activeRegion"),
        (json!({"passiveRegion": ACTIVE}), "InvalidInput", "passiveRegion"),
        (
            json!({"activeRegion": "cn-north-1"}),
            "InvalidInput",
            "passiveRegion",
        ),
        (json!({"passiveRegion": null}), "InvalidInput", "passiveRegion"),
        (
            json!({"activeTransitGatewayId": "tgw-xyz"}),
            "InvalidInput",
            "activeTransitGatewayId",
        ),
        (
            json!({"activeTransitGatewayId": "tgw-1234567890abcdef0\" OR 1=1"}),
            "InvalidInput",
            "activeTransitGatewayId",
        ),
        (
            explicit(json!({"passiveTransitGatewayId": "tgw-0123456789abcdef0"})),
            "TransitGatewayNotFound",
            "passiveTransitGatewayId",
        ),
        (
            json!({"activeTransitGatewayId": w.passive_tgw.id}),
            "TransitGatewayNotFound",
            "activeTransitGatewayId",
        ),
        (json!({"vpcTagKey": ""}), "InvalidInput", "vpcTagKey"),
        (json!({"vpcTagKey": 7}), "InvalidInput", "vpcTagKey"),
        (
            explicit(json!({"activeRouteTableId": other_tgw.route_table_id})),
            "RouteTableMismatch",
            "activeRouteTableId",
        ),
        (
            explicit(json!({"activeRouteTableId": "tgw-rtb-0123456789abcdef0"})),
            "RouteTableMismatch",
            "activeRouteTableId",
        ),
        (
            explicit(json!({"passiveRouteTableId": w.active_tgw.route_table_id})),
            "RouteTableMismatch",
            "passiveRouteTableId",
        ),
        (
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": "garbage"}),
            "InvalidInput",
            "detail",
        ),
        (
            json!({"detail-type": "Peer", "source": "my.app", "detail": {"activeRegion": ["us-east-1"]}}),
            "InvalidInput",
            "detail.activeRegion",
        ),
        (
            json!({"detail-type": ["Scheduled Event"], "source": "aws.events", "detail": {}}),
            "InvalidInput",
            "detail-type",
        ),
        (
            json!({"Comment": "x".repeat(1 << 20)}),
            "InvalidInput",
            "(request)",
        ),
        (
            json!({"passiveRegion": "eu-wset-1"}),
            "InvalidInput",
            "passiveRegion",
        ),
        (
            json!({"activeRegion": "us-east-1; rm -rf /"}),
            "InvalidInput",
            "activeRegion",
        ),
        (
            json!({"activeTransitGatewayId": "tgw-０１２３４５６７８９"}),
            "InvalidInput",
            "activeTransitGatewayId",
        ),
        (
            json!({"passiveTransitGatewayId": format!("tgw-{}", "a".repeat(300))}),
            "InvalidInput",
            "passiveTransitGatewayId",
        ),
        (
            json!({"activeTransitGatewayId": null}),
            "InvalidInput",
            "activeTransitGatewayId",
        ),
        (
            json!({"activeRouteTableId": 12345}),
            "InvalidInput",
            "activeRouteTableId",
        ),
        (
            json!({"passiveRouteTableId": "tgw-rtb-<script>"}),
            "InvalidInput",
            "passiveRouteTableId",
        ),
        (json!({"vpcTagKey": "k".repeat(129)}), "InvalidInput", "vpcTagKey"),
        (
            json!({"detail-type": "Tag Change on Resource", "source": "aws.tag", "detail": [1]}),
            "InvalidInput",
            "detail",
        ),
    ];
    assert!(cases.len() >= 25);
    let runs = cases.len() + 2;
    w.emulator.reset_calls();

    for (input, error_type, field) in cases {
        let shown = format!("{input:.100}");
        let err = invoke(&w.context, Function::Peer, input).await.expect_err(&shown);
        assert_eq!(err.error_type, error_type, "{shown}: {}", err.error_message);
        assert!(
            err.error_message.contains(&format!("`{field}`")),
            "{shown}: {}",
            err.error_message
        );
    }
    for (function, input, field) in [
        (
            Function::GetStatus,
            json!({"attachmentId": "tgw-attach-12345678"}),
            "activeRegion",
        ),
        (Function::ModifyRoutes, json!([1, 2]), "(input)"),
    ] {
        let err = invoke(&w.context, function, input).await.unwrap_err();
        assert_eq!(err.error_type, "InvalidInput");
        assert!(err.error_message.contains(field), "{}", err.error_message);
    }
    let mutating: u64 = w.emulator.calls().mutating().values().sum();
    record(
        "malformed input: types, nulls, Regions, injection, unicode, oversize, 1 MB, envelopes, foreign route tables",
        json!({"runs": runs, "mutatingCalls": mutating, "outcome": "each a typed error naming the field"}),
    );
    assert_eq!(mutating, 0, "bad input changes nothing");
}

#[tokio::test]
async fn given_overlapping_cidrs_across_regions_then_peer_refuses_before_it_creates_the_peering() {
    let w = world().await;
    let active_vpc = w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let passive_vpc = w.passive.attached_vpc(&w.passive_tgw, "10.1.128.0/17").await;
    w.emulator.reset_calls();

    let err = invoke(&w.context, Function::Peer, json!({})).await.unwrap_err();

    assert_eq!(err.error_type, "CidrOverlap");
    for part in ["10.1.0.0/16", "10.1.128.0/17", &active_vpc, &passive_vpc] {
        assert!(err.error_message.contains(part), "{}", err.error_message);
    }
    assert_eq!(w.emulator.calls().mutating(), Default::default());
    assert_eq!(w.active.peerings().await, []);
    assert_eq!(w.passive.peerings().await, []);
}

#[tokio::test]
async fn given_an_existing_peering_then_a_rerun_of_peer_reads_no_side_for_the_check_before_create() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    w.emulator.reset_calls();
    let first = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    let checked = w.emulator.calls();
    w.emulator.reset_calls();

    let again = invoke(&w.context, Function::Peer, json!({})).await.unwrap();

    assert_eq!(first["created"], json!(true), "{first}");
    assert_eq!(again["created"], json!(false), "{again}");
    assert_eq!(
        (
            checked.of("DescribeVpcs"),
            checked.of("SearchTransitGatewayRoutes")
        ),
        (2, 2),
        "the create reads each side once, as modify-routes does: {:?}",
        checked.0
    );
    let rerun = w.emulator.calls();
    assert_eq!(
        (rerun.of("DescribeVpcs"), rerun.of("SearchTransitGatewayRoutes")),
        (0, 0),
        "{:?}",
        rerun.0
    );
}

#[tokio::test]
async fn given_a_vpc_tagged_after_the_peering_that_overlaps_the_other_side_then_modify_routes_refuses_and_creates_nothing(
) {
    let w = world().await;
    let active_vpc = w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.active.attached_vpc(&w.active_tgw, "10.2.0.0/16").await;
    let mut state = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    state = invoke(&w.context, Function::GetStatus, state).await.unwrap();
    // Tagged once the peering exists, so only modify-routes' check can see it.
    let passive_vpc = w.passive.attached_vpc(&w.passive_tgw, "10.1.128.0/17").await;
    w.emulator.reset_calls();

    let err = invoke(&w.context, Function::ModifyRoutes, state)
        .await
        .unwrap_err();

    assert_eq!(err.error_type, "CidrOverlap");
    for part in ["10.1.0.0/16", "10.1.128.0/17", &active_vpc, &passive_vpc] {
        assert!(err.error_message.contains(part), "{}", err.error_message);
    }
    assert_eq!(w.emulator.calls().mutating(), Default::default());
    assert_eq!(w.active.routes(&w.active_tgw.route_table_id).await, []);
}

#[tokio::test]
async fn given_a_rejected_peering_then_peer_creates_a_new_one() {
    let w = world().await;
    let rejected = w
        .active
        .request_peering(&w.active_tgw, &w.passive_tgw, PASSIVE)
        .await;
    w.passive
        .ec2
        .reject_transit_gateway_peering_attachment()
        .transit_gateway_attachment_id(&rejected)
        .send()
        .await
        .unwrap();

    let output = invoke(&w.context, Function::Peer, json!({})).await.unwrap();

    assert_eq!(output["created"], json!(true));
    assert_ne!(output["attachmentId"], json!(rejected));
    assert_eq!(
        w.active.live_peerings().await,
        [output["attachmentId"].as_str().unwrap().to_owned()]
    );
}

#[tokio::test]
async fn given_duplicate_peerings_left_by_a_race_then_peer_keeps_the_oldest_and_deletes_only_its_own() {
    let w = world().await;
    let (a, p) = (&w.active_tgw, &w.passive_tgw);
    let oldest = w.active.request_managed_peering(a, p, PASSIVE).await;
    // moto stamps CreationTime in whole seconds; the oldest must be strictly older.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let ours_younger = w.active.request_managed_peering(a, p, PASSIVE).await;
    let foreign_younger = w.active.request_peering(a, p, PASSIVE).await;
    w.emulator.reset_calls();

    let output = invoke(&w.context, Function::Peer, json!({})).await.unwrap();

    assert_eq!(output["attachmentId"], json!(oldest));
    assert_eq!(output["created"], json!(false));
    assert_eq!(output["removedDuplicates"], json!([ours_younger]));
    let mut live = w.active.live_peerings().await;
    live.sort();
    let mut expected = vec![oldest, foreign_younger];
    expected.sort();
    assert_eq!(live, expected, "the foreign duplicate survives; ours is deleted");
    record(
        "duplicate peerings left by an earlier race, one of them foreign",
        json!({"runs": 1, "peeringCreates": 0, "foreignLost": 0, "deletedOwnDuplicates": 1,
               "outcome": "the oldest is kept; only the tool's own younger duplicate is deleted"}),
    );
    assert_eq!(
        w.emulator.calls().mutating(),
        [
            ("AcceptTransitGatewayPeeringAttachment".to_owned(), 1),
            ("DeleteTransitGatewayPeeringAttachment".to_owned(), 1)
        ]
        .into_iter()
        .collect()
    );
}

#[tokio::test]
async fn given_two_runs_racing_to_create_then_exactly_one_peering_survives_and_both_report_it() {
    let w = world().await;
    // Hold the first create back, so that both runs list the peerings before either creates one.
    w.emulator.inject_fault(json!({
        "action": "CreateTransitGatewayPeeringAttachment", "delayMs": 500, "times": 1
    }));
    w.emulator.reset_calls();

    let (first, second) = tokio::join!(
        invoke(&w.context, Function::Peer, json!({})),
        invoke(&w.context, Function::Peer, json!({})),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        w.emulator.calls().mutating()["CreateTransitGatewayPeeringAttachment"],
        2,
        "both runs created one"
    );
    let first_pass = [first.clone(), second.clone()];

    // As the state machine does after a create: SettleRace, then peer again with its own output.
    tokio::time::sleep(RACE_SETTLE).await;
    let (first, second) = tokio::join!(
        invoke(&w.context, Function::Peer, first),
        invoke(&w.context, Function::Peer, second),
    );
    let (first, second) = (first.unwrap(), second.unwrap());

    assert_eq!(first["attachmentId"], second["attachmentId"]);
    assert_eq!(
        w.active.live_peerings().await,
        [first["attachmentId"].as_str().unwrap().to_owned()]
    );
    let removed: Vec<&Value> = first_pass
        .iter()
        .chain([&first, &second])
        .flat_map(|o| o["removedDuplicates"].as_array().unwrap())
        .collect();
    assert_eq!(
        removed.len(),
        1,
        "exactly one call deleted exactly one duplicate: {first_pass:?} {first} {second}"
    );
    record(
        "two peer calls race, both see no attachment",
        json!({"runs": 2, "peeringCreates": 2, "peeringsLive": w.active.live_peerings().await.len(),
               "duplicated": 0, "deletedOwnDuplicates": removed.len(),
               "outcome": "one survivor (oldest, then smallest id); both report it"}),
    );
}

#[tokio::test]
async fn given_modify_routes_dies_after_creating_some_routes_when_it_runs_again_then_it_converges() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.active.attached_vpc(&w.active_tgw, "10.2.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let state = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    let state = invoke(&w.context, Function::GetStatus, state).await.unwrap();
    // The passive Region's creates never get an answer: the run dies with the active side done.
    w.emulator.inject_fault(json!({
        "action": "CreateTransitGatewayRoute", "region": PASSIVE, "dropConnection": true, "times": 1000
    }));

    let crashed = invoke(&w.context, Function::ModifyRoutes, state.clone())
        .await
        .unwrap_err();
    assert_eq!(crashed.error_type, "Ec2Unreachable", "{}", crashed.error_message);
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await.len(),
        1,
        "the active side got its route"
    );
    assert!(w.passive.routes(&w.passive_tgw.route_table_id).await.is_empty());

    w.emulator.clear_faults();
    let rerun = invoke(&w.context, Function::ModifyRoutes, state).await.unwrap();

    assert_eq!(
        strings(&side_table(&rerun["routes"], "active")["present"]),
        ["10.20.0.0/16"]
    );
    assert_eq!(
        strings(&side_table(&rerun["routes"], "active")["created"]),
        Vec::<String>::new()
    );
    assert_eq!(
        strings(&side_table(&rerun["routes"], "passive")["created"]),
        ["10.1.0.0/16", "10.2.0.0/16"]
    );
    assert_eq!(w.passive.routes(&w.passive_tgw.route_table_id).await.len(), 2);
    record(
        "modify-routes dies after part of its routes (connection dropped)",
        json!({"runs": 2, "routeCreates": w.active.routes(&w.active_tgw.route_table_id).await.len()
                   + w.passive.routes(&w.passive_tgw.route_table_id).await.len(),
               "duplicated": 0, "outcome": "the re-run creates only the missing routes, no error"}),
    );
}

#[tokio::test]
async fn given_the_accepter_rejects_while_peer_accepts_then_peer_fails_naming_the_state() {
    let w = world().await;
    // Peer reads the request as pendingAcceptance; it is rejected 0.25 s after its creation, while
    // peer's accept is held 0.5 s on its way, so the accept meets IncorrectState and the re-read
    // shows rejected.
    w.emulator
        .peering_progression(json!({"outcome": "rejected", "pendingAcceptanceSeconds": 0.25}));
    w.emulator.inject_fault(json!({
        "action": "AcceptTransitGatewayPeeringAttachment", "delayMs": 500, "times": 1
    }));

    let err = invoke(&w.context, Function::Peer, json!({})).await.unwrap_err();

    assert_eq!(err.error_type, "PeeringFailed");
    assert!(err.error_message.contains("rejected"), "{}", err.error_message);
    assert_eq!(w.emulator.calls().of("AcceptTransitGatewayPeeringAttachment"), 1);
}

#[tokio::test]
async fn given_a_failed_peering_then_get_status_reports_it_and_modify_routes_refuses() {
    let w = world().await;
    w.emulator
        .peering_progression(json!({"outcome": "failed", "initiatingRequestSeconds": 0.5}));
    let state = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    assert_eq!(state["status"], "initiatingRequest");
    assert_eq!(state["accepted"], json!(false));
    tokio::time::sleep(Duration::from_millis(600)).await; // past initiatingRequest: failed

    let status = invoke(&w.context, Function::GetStatus, state).await.unwrap();
    assert_eq!(status["status"], "failed");
    let err = invoke(&w.context, Function::ModifyRoutes, status)
        .await
        .unwrap_err();

    assert_eq!(err.error_type, "PeeringFailed");
    assert!(err.error_message.contains("failed"), "{}", err.error_message);
}

#[tokio::test]
async fn given_explicit_ids_and_a_custom_route_table_then_routes_go_to_that_table_only() {
    let w = world().await;
    let custom = w.active.route_table(&w.active_tgw).await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let request = json!({
        "activeRegion": ACTIVE, "passiveRegion": PASSIVE,
        "activeTransitGatewayId": w.active_tgw.id, "passiveTransitGatewayId": w.passive_tgw.id,
        "activeRouteTableId": custom, "vpcTagKey": "addToTransitGateway",
        "Comment": "Insert your JSON here"
    });

    let output = run_to_completion(&w.context, request).await;

    let attachment = output["attachmentId"].as_str().unwrap();
    assert_eq!(
        w.active.routes(&custom).await,
        pairs(&[("10.20.0.0/16", attachment)])
    );
    assert_eq!(w.active.routes(&w.active_tgw.route_table_id).await, []);
    assert_eq!(output["activeRouteTableId"], json!(custom));
}

#[tokio::test]
async fn given_eventbridge_events_then_peer_uses_the_defaults() {
    let w = world().await;
    let scheduled = json!({
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-22T00:00:00Z",
        "region": ACTIVE, "resources": [], "detail": {}
    });
    let tag_change = json!({
        "version": "0", "id": "ffd8a6fe-32f8-ef66-c85c-111111111111", "detail-type": "Tag Change on Resource",
        "source": "aws.tag", "account": "123456789012", "time": "2026-11-22T00:00:00Z", "region": ACTIVE,
        "resources": ["arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"],
        "detail": {"changed-tag-keys": ["addToTransitGateway"], "service": "ec2", "resource-type": "vpc",
                   "version": 2, "tags": {"addToTransitGateway": "true"}}
    });

    let first = invoke(&w.context, Function::Peer, scheduled).await.unwrap();
    let second = invoke(&w.context, Function::Peer, tag_change).await.unwrap();

    assert_eq!(first["activeTransitGatewayId"], json!(w.active_tgw.id));
    assert_eq!(second["attachmentId"], first["attachmentId"]);
    assert_eq!(w.active.live_peerings().await.len(), 1);
}

#[tokio::test]
async fn given_throttling_within_the_retry_budget_then_the_run_converges() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    w.emulator.inject_fault(json!({"action": "CreateTransitGatewayRoute", "code": "RequestLimitExceeded", "httpStatus": 503, "times": 2}));
    w.emulator.inject_fault(
        json!({"action": "DescribeVpcs", "code": "RequestLimitExceeded", "httpStatus": 503, "times": 1}),
    );

    let output = run_to_completion(&w.context, json!({})).await;

    let attachment = output["attachmentId"].as_str().unwrap();
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[("10.20.0.0/16", attachment)])
    );
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[("10.1.0.0/16", attachment)])
    );
    assert_eq!(
        w.emulator.calls().of("CreateTransitGatewayRoute"),
        2 + 2,
        "two routes plus two retried throttles"
    );
}

#[tokio::test]
async fn given_throttling_beyond_the_retry_budget_then_the_error_is_throttled_and_a_rerun_converges() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let mut state = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    state = invoke(&w.context, Function::GetStatus, state).await.unwrap();
    w.emulator.inject_fault(json!({"action": "CreateTransitGatewayRoute", "code": "RequestLimitExceeded", "httpStatus": 503, "times": 100, "region": PASSIVE}));

    let err = invoke(&w.context, Function::ModifyRoutes, state.clone())
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "Throttled");
    w.emulator.clear_faults();
    let output = invoke(&w.context, Function::ModifyRoutes, state).await.unwrap();

    let attachment = output["attachmentId"].as_str().unwrap();
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[("10.1.0.0/16", attachment)])
    );
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[("10.20.0.0/16", attachment)])
    );
}

#[tokio::test]
async fn given_an_unattached_tagged_vpc_then_modify_routes_warns_that_its_traffic_would_blackhole() {
    let w = world().await;
    let lonely = w
        .active
        .vpc("10.3.0.0/16", &[("addToTransitGateway", "true")])
        .await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;

    let output = run_to_completion(&w.context, json!({})).await;

    let warnings = strings(&output["warnings"]);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&lonely) && w.contains("blackhole")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn given_more_static_routes_than_one_page_then_the_table_is_read_across_pages_before_planning() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let table = &w.passive_tgw.route_table_id;
    for i in 0..1000 {
        let cidr = format!("172.{}.{}.0/24", 16 + i / 256, i % 256);
        w.passive.static_route(table, &cidr, None).await;
    }
    // Added last, so it comes back on the second page: someone else's route for the active CIDR.
    w.passive.static_route(table, "10.1.0.0/16", None).await;
    let mut state = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    state = invoke(&w.context, Function::GetStatus, state).await.unwrap();
    w.emulator.reset_calls();

    let output = invoke(&w.context, Function::ModifyRoutes, state).await.unwrap();

    assert_eq!(
        side_table(&output["routes"], "passive")["conflicts"],
        json!([{"cidr": "10.1.0.0/16", "target": "blackhole"}])
    );
    let calls = w.emulator.calls();
    assert_eq!(
        calls.of("SearchTransitGatewayRoutes"),
        3,
        "two pages for the passive table, one for the active"
    );
    assert_eq!(
        calls.of("CreateTransitGatewayRoute"),
        1,
        "only the active side's route: the conflict was known from the read, not found by a refused create"
    );
}

/// A context whose route writes go one at a time at 20 a second per Region, stopping 0.4 s
/// before each invocation's deadline.
async fn slow_writer(w: &World) -> tgw_peering::Shell {
    w.emulator.context().await.with_route_writes(RouteWrites {
        per_second: 20.0,
        burst: NonZeroU32::new(1).unwrap(),
        in_flight: 2,
        deadline_margin: Duration::from_millis(400),
    })
}

#[tokio::test]
async fn given_more_routes_than_one_invocation_can_write_when_called_until_complete_then_each_route_is_created_once_across_passes(
) {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let wanted: Vec<String> = (0..24).map(|i| format!("10.{}.0.0/16", 100 + i)).collect();
    for cidr in &wanted {
        w.passive.attached_vpc(&w.passive_tgw, cidr).await;
    }
    let context = slow_writer(&w).await;
    let mut state = invoke(&context, Function::Peer, json!({})).await.unwrap();
    state = invoke(&context, Function::GetStatus, state).await.unwrap();
    w.emulator.reset_calls();

    // Each invocation has 1 s, so 0.6 s of writing; 24 writes at 20 a second take at least 1.15 s.
    let mut remaining_after_each_pass = Vec::new();
    loop {
        state = invoke_with_time_left(&context, Function::ModifyRoutes, state, Duration::from_secs(1))
            .await
            .unwrap();
        remaining_after_each_pass.push(
            side_table(&state["routes"], "active")["counts"]["remaining"]
                .as_u64()
                .unwrap(),
        );
        if state["routes"]["complete"] == json!(true) {
            break;
        }
        assert!(
            remaining_after_each_pass.len() < 25,
            "every pass writes at least one route"
        );
    }

    let passes = remaining_after_each_pass.len();
    assert!(
        passes >= 2,
        "the plan did not fit one invocation: {remaining_after_each_pass:?}"
    );
    assert!(
        remaining_after_each_pass.windows(2).all(|w| w[1] < w[0]),
        "every pass made progress: {remaining_after_each_pass:?}"
    );
    assert_eq!(state["routes"]["passes"], json!(passes));
    let mut created = strings(&side_table(&state["routes"], "active")["created"]);
    created.sort();
    let mut expected = wanted.clone();
    expected.sort();
    assert_eq!(created, expected, "the last report covers every pass");
    assert_eq!(
        side_table(&state["routes"], "active")["counts"]["created"],
        json!(24)
    );
    assert_eq!(
        strings(&side_table(&state["routes"], "active")["present"]),
        Vec::<String>::new()
    );
    assert_eq!(
        strings(&side_table(&state["routes"], "passive")["created"]),
        ["10.1.0.0/16"]
    );
    assert_eq!(
        w.emulator.calls().of("CreateTransitGatewayRoute"),
        25,
        "each route was created once, and no create was refused as already there"
    );
    assert_eq!(w.active.routes(&w.active_tgw.route_table_id).await.len(), 24);
    assert_eq!(w.passive.routes(&w.passive_tgw.route_table_id).await.len(), 1);
    record(
        "a plan larger than one invocation (deadline scaled down)",
        json!({"runs": passes, "routeCreates": 25, "duplicated": 0,
               "outcome": format!("completed in {passes} passes; each route created once")}),
    );
}

#[tokio::test]
async fn given_more_routes_than_one_teardown_invocation_can_remove_when_called_until_complete_then_each_goes_once_and_the_record_last(
) {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    for i in 0..24 {
        w.passive
            .attached_vpc(&w.passive_tgw, &format!("10.{}.0.0/16", 100 + i))
            .await;
    }
    let routed = run_to_completion(&w.context, json!({})).await;
    let table = w.active_tgw.route_table_id.clone();
    assert_eq!(w.active.routes(&table).await.len(), 24);
    let context = slow_writer(&w).await;
    let mut state = routed;
    state["action"] = json!("teardown");
    state = invoke(&context, Function::Peer, state).await.unwrap();
    w.emulator.reset_calls();

    // Each invocation has 1 s, so 0.6 s of deleting at 20 a second: fewer than 24 deletes.
    let mut passes = 0;
    loop {
        state = invoke_with_time_left(&context, Function::ModifyRoutes, state, Duration::from_secs(1))
            .await
            .unwrap();
        passes += 1;
        if state["teardown"]["complete"] == json!(true) {
            break;
        }
        assert_eq!(state["routesRemoved"], json!(false), "not before the last pass");
        assert!(
            !w.emulator.recorded(&table).await.is_empty(),
            "the record stays while its routes remain"
        );
        assert!(passes < 25, "every pass removes at least one route");
    }

    assert!(passes >= 2, "the teardown did not fit one invocation");
    assert_eq!(state["routesRemoved"], json!(true));
    assert_eq!(w.active.routes(&table).await, []);
    assert!(w.emulator.recorded(&table).await.is_empty());
    assert_eq!(
        w.emulator.record_items().await,
        [],
        "no record of the peering is left"
    );
    assert_eq!(
        w.emulator.calls().of("DeleteTransitGatewayRoute"),
        25,
        "each route deleted once, on both sides"
    );
    let active = side_table(&state["teardown"], "active");
    assert_eq!(
        active["counts"]["deleted"],
        json!(24),
        "the report covers every pass: {active}"
    );
    record(
        "a teardown larger than one invocation (deadline scaled down)",
        json!({"runs": passes, "routeDeletes": 25, "duplicated": 0,
               "outcome": format!("completed in {passes} passes; each route deleted once")}),
    );
}

#[tokio::test]
async fn given_a_state_whose_reports_outgrow_the_request_cap_then_each_function_still_reads_it() {
    // A long run's state carries its reports from pass to pass (at 1,000 VPCs a side, about
    // 97 KB): more than a request may be, within Step Functions' 256 KiB.
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let reports: Vec<String> = (0..3000)
        .map(|i| format!("an earlier pass's warning {i:05}"))
        .collect();
    let mut state = run_to_completion(&w.context, json!({})).await;
    state["warnings"] = json!(reports);
    assert!(state.to_string().len() > 64 * 1024);

    let again = invoke(&w.context, Function::ModifyRoutes, state.clone()).await;
    assert!(again.is_ok(), "{:?}", again.err());
    let status = invoke(&w.context, Function::GetStatus, state.clone()).await;
    assert!(status.is_ok(), "{:?}", status.err());
    state["action"] = json!("teardown");
    let found = invoke(&w.context, Function::Peer, state).await;
    assert!(found.is_ok(), "{:?}", found.err());

    // A request as large is still refused.
    let err = invoke(&w.context, Function::Peer, json!({"Comment": reports}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "InvalidInput", "{}", err.error_message);
}

#[tokio::test]
async fn given_an_unfinished_report_that_cannot_be_continued_then_modify_routes_names_the_field_and_writes_nothing(
) {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let mut state = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    state = invoke(&w.context, Function::GetStatus, state).await.unwrap();
    let other_table = w.active.route_table(&w.active_tgw).await;
    w.emulator.reset_calls();

    let with_routes = |routes: Value| {
        let mut input = state.clone();
        input["routes"] = routes;
        input
    };
    let unfinished = |active_table: &str| {
        json!({"complete": false, "passes": 1,
               "active": {"routeTableId": active_table, "created": [], "present": [], "conflicts": []},
               "passive": {"routeTableId": w.passive_tgw.route_table_id, "created": [], "present": [], "conflicts": []}})
    };
    for (routes, field) in [
        (json!({"complete": false, "active": "garbage"}), "`routes`"),
        // An earlier version's shape cannot be continued either.
        (unfinished(&other_table), "missing field `tgwRouteTables`"),
    ] {
        let err = invoke(&w.context, Function::ModifyRoutes, with_routes(routes))
            .await
            .unwrap_err();
        assert_eq!(err.error_type, "InvalidInput");
        assert!(err.error_message.contains(field), "{}", err.error_message);
    }
    assert_eq!(w.emulator.calls().mutating(), Default::default());

    // A finished report is an earlier run's: it is ignored, and the run starts afresh.
    let finished = json!({"complete": true, "passes": 3, "active": "anything"});
    let output = invoke(&w.context, Function::ModifyRoutes, with_routes(finished))
        .await
        .unwrap();
    assert_eq!(output["routes"]["passes"], json!(1));
    assert_eq!(
        strings(&side_table(&output["routes"], "active")["created"]),
        ["10.20.0.0/16"]
    );
}

#[tokio::test]
async fn given_peers_own_output_when_its_peering_was_deleted_meanwhile_then_peer_fails_and_creates_nothing() {
    let w = world().await;
    let first = invoke(&w.context, Function::Peer, json!({})).await.unwrap();
    let attachment = first["attachmentId"].as_str().unwrap().to_owned();
    w.active
        .ec2
        .delete_transit_gateway_peering_attachment()
        .transit_gateway_attachment_id(&attachment)
        .send()
        .await
        .unwrap();
    w.emulator.reset_calls();

    // The state machine's Settle pass: peer again, given its own output.
    let err = invoke(&w.context, Function::Peer, first).await.unwrap_err();

    assert_eq!(err.error_type, "PeeringFailed");
    assert!(err.error_message.contains(&attachment), "{}", err.error_message);
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "no second peering"
    );
}
