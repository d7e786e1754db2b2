//! The routing model on networks shaped like production ones: segmented transit gateways
//! (default association and propagation off, several route tables), a peering associated where
//! it should not be, associations that take time, and dual-stack VPCs. Each test runs the
//! functions as the state machine does, against the emulator.

use serde_json::{json, Value};
use tgw_peering_integration::{
    invoke, run_to_completion, side_table, teardown, world, Function, Net, Tgw, World,
};

const TAG: (&str, &str) = ("addToTransitGateway", "true");

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A segment of a segmented side: a tagged VPC whose attachment is associated with `vpc_table`
/// and propagates into `peering_table` (so traffic arriving over the peering can reach it).
async fn segment_vpc(
    net: &Net,
    tgw: &Tgw,
    cidr: &str,
    vpc_table: &str,
    peering_table: &str,
) -> (String, String) {
    let vpc = net.vpc(cidr, &[TAG]).await;
    let attachment = net.attach(tgw, &vpc, cidr).await;
    net.associate(vpc_table, &attachment).await;
    net.propagate(peering_table, &attachment).await;
    (vpc, attachment)
}

/// Both sides segmented: a `vpcs` table the VPC attachments use and a `peering` table for the
/// peering; returns the four tables as (active vpcs, active peering, passive vpcs, passive
/// peering).
struct Segmented {
    w: World,
    active_tgw: Tgw,
    passive_tgw: Tgw,
    active_vpcs: String,
    active_peering: String,
    passive_vpcs: String,
    passive_peering: String,
}

async fn segmented() -> Segmented {
    let w = world().await;
    let (active_tgw, passive_tgw) = (
        w.active.segmented_transit_gateway().await,
        w.passive.segmented_transit_gateway().await,
    );
    let active_vpcs = active_tgw.route_table_id.clone();
    let passive_vpcs = passive_tgw.route_table_id.clone();
    let active_peering = w.active.route_table(&active_tgw).await;
    let passive_peering = w.passive.route_table(&passive_tgw).await;
    Segmented {
        w,
        active_tgw,
        passive_tgw,
        active_vpcs,
        active_peering,
        passive_vpcs,
        passive_peering,
    }
}

impl Segmented {
    fn request(&self, extra: Value) -> Value {
        let mut request = json!({
            "activeTransitGatewayId": self.active_tgw.id, "passiveTransitGatewayId": self.passive_tgw.id,
            "activePeeringRouteTableId": self.active_peering,
            "passivePeeringRouteTableId": self.passive_peering,
            "vpcRoutes": true,
        });
        for (key, value) in extra.as_object().unwrap() {
            request[key] = value.clone();
        }
        request
    }
}

#[tokio::test]
async fn given_default_association_off_and_the_tables_named_then_the_peering_is_associated_and_every_pair_reachable(
) {
    // The false green: one custom table per side holding its VPC's route, named in the
    // request. Before, the peering stayed associated with no table and the report said reachable.
    let w = world().await;
    let active_tgw = w.active.segmented_transit_gateway().await;
    let passive_tgw = w.passive.segmented_transit_gateway().await;
    let (a, p) = (&active_tgw.route_table_id, &passive_tgw.route_table_id);
    let (active_vpc, _) = segment_vpc(&w.active, &active_tgw, "10.1.0.0/16", a, a).await;
    let (passive_vpc, _) = segment_vpc(&w.passive, &passive_tgw, "10.20.0.0/16", p, p).await;
    let request = json!({
        "activeTransitGatewayId": active_tgw.id, "passiveTransitGatewayId": passive_tgw.id,
        "activeRouteTableId": a, "passiveRouteTableId": p, "vpcRoutes": true,
    });

    w.emulator.reset_calls();
    let output = run_to_completion(&w.context, request.clone()).await;

    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(
        w.active.association(&attachment).await,
        Some((a.clone(), "associated".into()))
    );
    assert_eq!(
        w.passive.association(&attachment).await,
        Some((p.clone(), "associated".into()))
    );
    assert_eq!(
        w.emulator.calls().of("AssociateTransitGatewayRouteTable"),
        2,
        "associated once on each side"
    );
    assert_eq!(output["peeringAssociation"]["settled"], json!(true));
    assert_eq!(
        output["reachability"]["results"][0],
        json!({"activeVpcId": active_vpc, "passiveVpcId": passive_vpc, "result": "reachable"})
    );
    w.emulator.reset_calls();
    let again = run_to_completion(&w.context, request).await;
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "a re-run makes no mutating call"
    );
    assert_eq!(again["peeringAssociation"]["passive"]["outcome"], "present");
}

#[tokio::test]
async fn given_a_segmented_network_then_routes_go_where_the_attachments_look_and_arriving_traffic_is_delivered(
) {
    let s = segmented().await;
    let w = &s.w;
    let (active_vpc, _) = segment_vpc(
        &w.active,
        &s.active_tgw,
        "10.1.0.0/16",
        &s.active_vpcs,
        &s.active_peering,
    )
    .await;
    let (passive_vpc, _) = segment_vpc(
        &w.passive,
        &s.passive_tgw,
        "10.20.0.0/16",
        &s.passive_vpcs,
        &s.passive_peering,
    )
    .await;

    let output = run_to_completion(&w.context, s.request(json!({}))).await;

    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    // The outbound routes are in the tables the VPC attachments use, not the peering's.
    assert_eq!(
        w.active.routes(&s.active_vpcs).await,
        [("10.20.0.0/16".to_owned(), attachment.clone())]
    );
    assert_eq!(w.active.routes(&s.active_peering).await, []);
    assert_eq!(
        w.passive.routes(&s.passive_vpcs).await,
        [("10.1.0.0/16".to_owned(), attachment.clone())]
    );
    assert_eq!(
        w.active.association(&attachment).await,
        Some((s.active_peering.clone(), "associated".into()))
    );
    assert_eq!(
        side_table(&output["routes"], "active")["routeTableId"],
        json!(s.active_vpcs)
    );
    assert_eq!(
        output["reachability"]["reachable"],
        json!(1),
        "{}",
        output["reachability"]
    );
    assert_eq!(
        output["reachability"]["results"][0]["activeVpcId"],
        json!(active_vpc)
    );
    assert_eq!(
        output["reachability"]["results"][0]["passiveVpcId"],
        json!(passive_vpc)
    );

    w.emulator.reset_calls();
    run_to_completion(&w.context, s.request(json!({}))).await;
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

#[tokio::test]
async fn given_two_segments_on_one_side_with_default_association_on_then_both_tables_get_the_remote_routes() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    // A second segment: its attachment moved from the default table to a table of its own.
    let dev = w.active.route_table(&w.active_tgw).await;
    let dev_vpc = w.active.vpc("10.2.0.0/16", &[TAG]).await;
    let dev_attachment = w.active.attach(&w.active_tgw, &dev_vpc, "10.2.0.0/16").await;
    w.active
        .disassociate(&w.active_tgw.route_table_id, &dev_attachment)
        .await;
    w.active.associate(&dev, &dev_attachment).await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;

    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;

    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    for table in [&w.active_tgw.route_table_id, &dev] {
        assert_eq!(
            w.active.routes(table).await,
            [("10.20.0.0/16".to_owned(), attachment.clone())],
            "{table}"
        );
    }
    let reported: Vec<&Value> = output["routes"]["tgwRouteTables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["side"] == "active")
        .collect();
    assert_eq!(reported.len(), 2, "{}", output["routes"]);
    assert_eq!(
        output["reachability"]["reachable"],
        json!(2),
        "{}",
        output["reachability"]
    );
}

#[tokio::test]
async fn given_a_peering_associated_with_another_table_then_it_is_left_and_reported_and_moved_only_when_asked(
) {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    // A VPC whose attachment propagates nowhere, so returnPropagation would have work to do.
    let unpropagated = w.passive.vpc("10.21.0.0/16", &[TAG]).await;
    let unpropagated = w
        .passive
        .attach(&w.passive_tgw, &unpropagated, "10.21.0.0/16")
        .await;
    w.passive
        .disable_propagation(&w.passive_tgw.route_table_id, &unpropagated)
        .await;
    let first = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    let attachment = first["attachmentId"].as_str().unwrap().to_owned();
    // Someone moves the passive side's peering to an empty table.
    let elsewhere = w.passive.route_table(&w.passive_tgw).await;
    w.passive
        .disassociate(&w.passive_tgw.route_table_id, &attachment)
        .await;
    w.passive.associate(&elsewhere, &attachment).await;
    w.emulator.reset_calls();

    w.emulator.reset_calls();
    let left = run_to_completion(&w.context, json!({"vpcRoutes": true, "returnPropagation": true})).await;

    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "never moved silently, nor propagated into a table the request did not name"
    );
    assert!(
        strings(&left["warnings"])
            .iter()
            .any(|w| w.contains("returnPropagation") && w.contains("no propagation was enabled")),
        "{}",
        left["warnings"]
    );
    assert_eq!(left["peeringAssociation"]["passive"]["outcome"], "elsewhere");
    assert_eq!(
        left["peeringAssociation"]["passive"]["associatedRouteTableId"],
        json!(elsewhere)
    );
    assert!(
        strings(&left["warnings"])
            .iter()
            .any(|w| w.contains("movePeeringAssociation")),
        "{}",
        left["warnings"]
    );
    assert_eq!(left["reachability"]["reachable"], json!(0), "never a false green");
    assert_eq!(left["reachability"]["results"][0]["result"], "noRouteFromPeering");

    let moved = run_to_completion(
        &w.context,
        json!({"vpcRoutes": true, "movePeeringAssociation": true, "returnPropagation": true}),
    )
    .await;

    assert_eq!(
        w.passive.association(&attachment).await,
        Some((w.passive_tgw.route_table_id.clone(), "associated".into()))
    );
    assert_eq!(moved["peeringAssociation"]["settled"], json!(true));
    // Once the peering is in its own table, the return path goes in there too.
    assert!(w
        .passive
        .propagations(&w.passive_tgw.route_table_id)
        .await
        .contains(&unpropagated));
    assert_eq!(
        moved["reachability"]["reachable"],
        json!(2),
        "{}",
        moved["reachability"]
    );
}

#[tokio::test]
async fn given_associations_that_take_time_then_modify_routes_is_called_again_until_they_are_live() {
    let s = segmented().await;
    let w = &s.w;
    segment_vpc(
        &w.active,
        &s.active_tgw,
        "10.1.0.0/16",
        &s.active_vpcs,
        &s.active_peering,
    )
    .await;
    segment_vpc(
        &w.passive,
        &s.passive_tgw,
        "10.20.0.0/16",
        &s.passive_vpcs,
        &s.passive_peering,
    )
    .await;
    w.emulator
        .association_progression(json!({"associatingDescribes": 2}));

    let output = run_to_completion(&w.context, s.request(json!({}))).await;

    let passes = output["routes"]["passes"].as_u64().unwrap();
    assert!(passes >= 2, "waited for the association: {passes} passes");
    assert_eq!(output["peeringAssociation"]["settled"], json!(true));
    assert_eq!(output["peeringAssociation"]["active"]["outcome"], "present");
    // The report still says this execution created the routes, across the passes.
    assert_eq!(
        strings(&side_table(&output["routes"], "active")["created"]),
        ["10.20.0.0/16"]
    );
    assert_eq!(
        output["reachability"]["reachable"],
        json!(1),
        "{}",
        output["reachability"]
    );
}

#[tokio::test]
async fn given_dual_stack_vpcs_then_ipv6_blocks_are_routed_both_ways_and_reachable() {
    let w = world().await;
    let (active_vpc, _, active_block) = w.active.dual_stack_vpc(&w.active_tgw, "10.1.0.0/16", true).await;
    let (_, _, passive_block) = w
        .passive
        .dual_stack_vpc(&w.passive_tgw, "10.20.0.0/16", true)
        .await;

    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;

    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    let mut wanted = vec![
        ("10.20.0.0/16".to_owned(), attachment.clone()),
        (passive_block.clone(), attachment.clone()),
    ];
    wanted.sort();
    assert_eq!(w.active.routes(&w.active_tgw.route_table_id).await, wanted);
    assert!(
        w.passive
            .routes(&w.passive_tgw.route_table_id)
            .await
            .contains(&(active_block.clone(), attachment.clone())),
        "the active VPC's IPv6 block is routed on the passive side"
    );
    let main = w.active.main_table(&active_vpc).await;
    assert!(
        w.active
            .vpc_routes(&main)
            .await
            .contains(&(passive_block.clone(), w.active_tgw.id.clone())),
        "an IPv6 VPC route (DestinationIpv6CidrBlock) via the transit gateway"
    );
    assert_eq!(
        output["reachability"]["reachable"],
        json!(1),
        "{}",
        output["reachability"]
    );
    assert_eq!(output["warnings"], json!([]));

    w.emulator.reset_calls();
    run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

#[tokio::test]
async fn given_an_attachment_without_ipv6_support_then_it_is_warned_of_and_the_pair_is_not_reachable() {
    let w = world().await;
    w.active.dual_stack_vpc(&w.active_tgw, "10.1.0.0/16", true).await;
    let (passive_vpc, passive_attachment, _) = w
        .passive
        .dual_stack_vpc(&w.passive_tgw, "10.20.0.0/16", false)
        .await;

    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;

    assert!(
        strings(&output["warnings"])
            .iter()
            .any(|w| w.contains(&passive_vpc) && w.contains("Ipv6Support")),
        "{}",
        output["warnings"]
    );
    assert_eq!(
        output["reachability"]["results"][0]["result"], "ipv6NotEnabled",
        "{}",
        output["reachability"]
    );
    assert_eq!(
        output["reachability"]["results"][0]["attachmentId"],
        json!(passive_attachment)
    );
}

#[tokio::test]
async fn given_an_ipv6_range_that_overlaps_the_other_side_then_nothing_is_written_and_the_error_names_both() {
    let w = world().await;
    let (_, _, active_block) = w.active.dual_stack_vpc(&w.active_tgw, "10.1.0.0/16", true).await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    tgw_peering_integration::until_available(&w.context, json!({})).await;
    // A re-run over the peering with the range added: peer reuses the peering, modify-routes
    // checks.
    let state = tgw_peering_integration::until_available(
        &w.context,
        json!({"extraCidrs": {"passive": [active_block.clone()]}}),
    )
    .await;
    w.emulator.reset_calls();

    let err = invoke(&w.context, Function::ModifyRoutes, state)
        .await
        .unwrap_err();

    assert_eq!(err.error_type, "CidrOverlap");
    assert!(err.error_message.contains(&active_block), "{}", err.error_message);
    assert!(
        err.error_message.contains("extraCidrs.passive"),
        "{}",
        err.error_message
    );
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

#[tokio::test]
async fn given_no_table_for_the_peering_on_a_side_then_peer_refuses_before_anything_is_created() {
    let w = world().await;
    let passive_tgw = w.passive.segmented_transit_gateway().await;
    w.emulator.reset_calls();

    let err = invoke(
        &w.context,
        Function::Peer,
        json!({"activeTransitGatewayId": w.active_tgw.id, "passiveTransitGatewayId": passive_tgw.id}),
    )
    .await
    .unwrap_err();

    assert_eq!(err.error_type, "InvalidInput");
    assert!(
        err.error_message.contains("`passivePeeringRouteTableId`"),
        "{}",
        err.error_message
    );
    assert!(
        err.error_message.contains("no association default route table"),
        "{}",
        err.error_message
    );
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "nothing created"
    );
}

#[tokio::test]
async fn given_summarize_routes_then_adjacent_vpcs_get_one_route_that_reaches_both() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.4.0.0/16").await;
    w.active.attached_vpc(&w.active_tgw, "10.5.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;

    let output = run_to_completion(&w.context, json!({"summarizeRoutes": true, "vpcRoutes": true})).await;

    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        [("10.4.0.0/15".to_owned(), attachment)]
    );
    assert_eq!(
        output["routes"]["summaries"],
        json!([{"side": "passive", "route": "10.4.0.0/15", "covers": ["10.4.0.0/16", "10.5.0.0/16"]}])
    );
    assert_eq!(
        output["reachability"]["reachable"],
        json!(2),
        "{}",
        output["reachability"]
    );

    w.emulator.reset_calls();
    run_to_completion(&w.context, json!({"summarizeRoutes": true, "vpcRoutes": true})).await;
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

/// A tagged VPC whose attachment is associated with `vpc_table` and propagates nowhere: traffic
/// arriving over the peering has no route to it until something adds one.
async fn unpropagated_vpc(net: &Net, tgw: &Tgw, cidr: &str, vpc_table: &str) -> String {
    let vpc = net.vpc(cidr, &[TAG]).await;
    let attachment = net.attach(tgw, &vpc, cidr).await;
    net.associate(vpc_table, &attachment).await;
    attachment
}

#[tokio::test]
async fn given_peering_tables_that_miss_vpcs_then_return_propagation_enables_exactly_those_and_teardown_disables_only_them(
) {
    let s = segmented().await;
    let w = &s.w;
    let active = unpropagated_vpc(&w.active, &s.active_tgw, "10.1.0.0/16", &s.active_vpcs).await;
    // On the passive side one VPC already propagates into the peering's table (someone else's
    // doing, which the tool must leave alone) and one does not.
    let (_, propagating) = segment_vpc(
        &w.passive,
        &s.passive_tgw,
        "10.20.0.0/16",
        &s.passive_vpcs,
        &s.passive_peering,
    )
    .await;
    let missing = unpropagated_vpc(&w.passive, &s.passive_tgw, "10.21.0.0/16", &s.passive_vpcs).await;

    // Without the option the gap is named, and nothing is propagated.
    let without = run_to_completion(&w.context, s.request(json!({}))).await;
    assert_eq!(
        without["reachability"]["reachable"],
        json!(0),
        "{}",
        without["reachability"]
    );
    let results = without["reachability"]["results"].as_array().unwrap();
    assert!(
        results.iter().all(|r| r["result"] == "noRouteFromPeering"),
        "{results:?}"
    );
    assert!(without["peeringAssociation"]["active"]["returnPropagation"].is_null());
    assert_eq!(
        w.active.propagations(&s.active_peering).await,
        Vec::<String>::new()
    );

    // A dry run says what it would enable, and changes nothing.
    w.emulator.reset_calls();
    let dry = run_to_completion(
        &w.context,
        s.request(json!({"returnPropagation": true, "dryRun": true})),
    )
    .await;
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "a dry run changes nothing"
    );
    assert_eq!(
        strings(&dry["peeringAssociation"]["passive"]["returnPropagation"]["enabled"]),
        std::slice::from_ref(&missing)
    );

    // With it: each side's missing VPC is propagated into that side's peering table.
    w.emulator.reset_calls();
    let with = run_to_completion(&w.context, s.request(json!({"returnPropagation": true}))).await;
    assert_eq!(
        w.emulator.calls().of("EnableTransitGatewayRouteTablePropagation"),
        2
    );
    assert_eq!(
        w.active.propagations(&s.active_peering).await,
        std::slice::from_ref(&active)
    );
    let mut passive_now = vec![propagating.clone(), missing.clone()];
    passive_now.sort();
    assert_eq!(w.passive.propagations(&s.passive_peering).await, passive_now);
    assert_eq!(
        with["reachability"]["reachable"],
        json!(2),
        "{}",
        with["reachability"]
    );
    assert_eq!(with["peeringAssociation"]["settled"], json!(true));
    assert_eq!(
        with["peeringAssociation"]["passive"]["returnPropagation"],
        json!({"routeTableId": s.passive_peering, "enabled": [missing],
               "counts": {"enabled": 1, "present": 1}})
    );
    assert!(
        with["routes"]["passes"].as_u64().unwrap() >= 2,
        "the walk waited for the propagated routes: {}",
        with["routes"]
    );

    // A re-run makes no mutating call.
    w.emulator.reset_calls();
    let again = run_to_completion(&w.context, s.request(json!({"returnPropagation": true}))).await;
    assert_eq!(w.emulator.calls().mutating(), Default::default());
    assert_eq!(
        again["peeringAssociation"]["active"]["returnPropagation"]["counts"],
        json!({"enabled": 0, "present": 1})
    );

    // Teardown disables the two it enabled and leaves the propagation it did not make.
    let down = teardown(&w.context, again).await;
    assert_eq!(down["status"], "deleted", "{down}");
    assert_eq!(
        w.active.propagations(&s.active_peering).await,
        Vec::<String>::new()
    );
    assert_eq!(w.passive.propagations(&s.passive_peering).await, [propagating]);
}

#[tokio::test]
async fn given_a_list_of_route_tables_then_exactly_those_get_the_routes_and_a_foreign_one_is_refused_by_index(
) {
    let w = world().await;
    let prod = &w.active_tgw.route_table_id;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    // A dev segment, whose attachment has a table of its own, and a shared-services table no
    // tagged VPC uses.
    let dev = w.active.route_table(&w.active_tgw).await;
    let dev_vpc = w.active.vpc("10.2.0.0/16", &[TAG]).await;
    let dev_attachment = w.active.attach(&w.active_tgw, &dev_vpc, "10.2.0.0/16").await;
    w.active.disassociate(prod, &dev_attachment).await;
    w.active.associate(&dev, &dev_attachment).await;
    let shared = w.active.route_table(&w.active_tgw).await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;

    // A table of the other Region's gateway in the list: refused, naming its index, before
    // anything is created.
    w.emulator.reset_calls();
    let err = invoke(
        &w.context,
        Function::Peer,
        json!({"activeRouteTableId": [prod, w.passive_tgw.route_table_id]}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type, "RouteTableMismatch", "{}", err.error_message);
    assert!(
        err.error_message.contains("activeRouteTableId[1]"),
        "{}",
        err.error_message
    );
    assert_eq!(w.emulator.calls().mutating(), Default::default());

    let output = run_to_completion(
        &w.context,
        json!({"activeRouteTableId": [prod, shared], "vpcRoutes": true}),
    )
    .await;

    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    for table in [prod, &shared] {
        assert_eq!(
            w.active.routes(table).await,
            [("10.20.0.0/16".to_owned(), attachment.clone())],
            "{table}"
        );
    }
    assert_eq!(w.active.routes(&dev).await, [], "the dev segment is not named");
    // With a list, the peering goes into the gateway's default table, not a guess among them.
    assert_eq!(output["activePeeringRouteTableId"], json!(prod));
    assert_eq!(output["activeRouteTableId"], json!([prod, shared]));
    assert_eq!(
        output["reachability"]["reachable"],
        json!(1),
        "{}",
        output["reachability"]
    );
    let unreachable = &output["reachability"]["results"][0];
    assert_eq!(unreachable["activeVpcId"], json!(dev_vpc));
    assert_eq!(unreachable["result"], "noTgwRoute", "{unreachable}");
}
