//! Traffic that really flows: VPC route tables, extra and propagated on-premises CIDRs, and the
//! reachability report, driven through the Lambda handlers against the moto emulator.

use serde_json::{json, Value};
use tgw_peering::config::Defaults;
use tgw_peering_integration::{
    assert_each_names_its_field, defaults, invoke, pairs, run_to_completion, side_table, until_available,
    world, Function, Net, Tgw, ACTIVE, PASSIVE,
};

const TAG: (&str, &str) = ("addToTransitGateway", "true");

/// A tagged VPC attached through one subnet in zone `a`; returns (VPC id, its main table).
async fn vpc(net: &Net, tgw: &Tgw, cidr: &str, subnet: &str) -> (String, String) {
    let vpc = net.vpc(cidr, &[TAG]).await;
    let zone = format!("{}a", net.region);
    let subnet = net.subnet(&vpc, subnet, &zone).await;
    net.attach_subnets(tgw, &vpc, &[&subnet]).await;
    let main = net.main_table(&vpc).await;
    (vpc, main)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn vpc_table_report<'a>(output: &'a Value, route_table_id: &str) -> &'a Value {
    output["routes"]["vpcRouteTables"]
        .as_array()
        .and_then(|tables| tables.iter().find(|t| t["routeTableId"] == json!(route_table_id)))
        .unwrap_or_else(|| panic!("no report for {route_table_id}: {}", output["routes"]))
}

fn first_pair(output: &Value) -> &Value {
    &output["reachability"]["results"][0]
}

#[tokio::test]
async fn given_vpc_routes_on_then_the_tables_in_the_attachment_zones_get_each_remote_cidr_present_ones_skipped_and_conflicts_left_alone(
) {
    let w = world().await;
    // Active: the attachment subnet and a database subnet use the main table, an app subnet in
    // the same zone has its own table, and a subnet in a zone the attachment does not use has
    // another.
    let (active_vpc, active_main) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    w.active.subnet(&active_vpc, "10.1.1.0/24", "us-east-1a").await;
    let app = w.active.subnet(&active_vpc, "10.1.2.0/24", "us-east-1a").await;
    let app_table = w.active.table_for(&active_vpc, &app).await;
    let far = w.active.subnet(&active_vpc, "10.1.3.0/24", "us-east-1c").await;
    let far_table = w.active.table_for(&active_vpc, &far).await;
    let igw = w
        .active
        .vpc_route_to_internet(&active_vpc, &app_table, "10.21.0.0/16")
        .await;
    // Passive: two CIDRs; its main table already routes the active CIDR via its gateway.
    let (passive_vpc, passive_main) = vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    w.passive.secondary_cidr(&passive_vpc, "10.21.0.0/16").await;
    w.passive
        .vpc_route_to_tgw(&passive_main, "10.1.0.0/16", &w.passive_tgw)
        .await;
    w.emulator.reset_calls();

    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;

    let (tgw_a, tgw_p) = (w.active_tgw.id.as_str(), w.passive_tgw.id.as_str());
    assert_eq!(
        w.active.vpc_routes(&active_main).await,
        pairs(&[("10.20.0.0/16", tgw_a), ("10.21.0.0/16", tgw_a)])
    );
    assert_eq!(
        w.active.vpc_routes(&app_table).await,
        pairs(&[("10.20.0.0/16", tgw_a), ("10.21.0.0/16", &igw)]),
        "someone else's route is left alone"
    );
    assert_eq!(
        w.active.vpc_routes(&far_table).await,
        pairs(&[]),
        "no attachment in that zone"
    );
    assert_eq!(
        w.passive.vpc_routes(&passive_main).await,
        pairs(&[("10.1.0.0/16", tgw_p)])
    );
    assert_eq!(w.emulator.calls().of("CreateRoute"), 3);

    let main_report = vpc_table_report(&output, &active_main);
    assert_eq!(
        (main_report["side"].clone(), main_report["vpcId"].clone()),
        (json!("active"), json!(active_vpc))
    );
    assert_eq!(strings(&main_report["created"]), ["10.20.0.0/16", "10.21.0.0/16"]);
    let app_report = vpc_table_report(&output, &app_table);
    assert_eq!(strings(&app_report["created"]), ["10.20.0.0/16"]);
    assert_eq!(
        app_report["conflicts"],
        json!([{"cidr": "10.21.0.0/16", "target": igw}])
    );
    assert_eq!(
        strings(&vpc_table_report(&output, &passive_main)["present"]),
        ["10.1.0.0/16"]
    );
    assert!(
        strings(&output["warnings"])
            .iter()
            .any(|w| w.contains(&app_table) && w.contains("10.21.0.0/16")),
        "{}",
        output["warnings"]
    );
    assert_eq!(output["routes"]["complete"], json!(true));
    // The conflict is the first hop missing from the active VPC to the passive one.
    assert_eq!(
        first_pair(&output),
        &json!({"activeVpcId": active_vpc, "passiveVpcId": passive_vpc, "direction": "there",
                "result": "conflict", "region": ACTIVE, "routeTableId": app_table, "cidr": "10.21.0.0/16",
                "target": igw, "expected": tgw_a})
    );

    // A second run finds everything in place.
    w.emulator.reset_calls();
    let again = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "a re-run changes nothing"
    );
    assert_eq!(
        strings(&vpc_table_report(&again, &active_main)["present"]),
        ["10.20.0.0/16", "10.21.0.0/16"]
    );
}

#[tokio::test]
async fn given_vpc_routes_off_then_no_vpc_route_is_written_and_the_report_names_the_missing_one() {
    let w = world().await;
    let (active_vpc, active_main) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let (passive_vpc, _) = vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    w.emulator.reset_calls();

    let output = run_to_completion(&w.context, json!({})).await;

    assert_eq!(w.emulator.calls().of("CreateRoute"), 0);
    assert_eq!(output["routes"].get("vpcRouteTables"), None);
    assert_eq!(output["vpcRoutes"], json!(false));
    assert_eq!(
        output["reachability"],
        json!({"pairs": 1, "reachable": 0, "unreachable": 1, "results": [
            {"activeVpcId": active_vpc, "passiveVpcId": passive_vpc, "direction": "there",
             "result": "noVpcRoute", "region": ACTIVE, "routeTableId": active_main, "cidr": "10.20.0.0/16"}],
            "securityGroups": no_group_admits(&active_vpc, &passive_vpc, &active_vpc)})
    );
}

#[tokio::test]
async fn given_every_hop_in_place_then_the_pair_is_reachable_both_ways() {
    let w = world().await;
    let (active_vpc, _) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let (passive_vpc, _) = vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;

    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;

    // Only the VPCs' default groups: none admits the peer's range, which the advice says.
    assert_eq!(
        output["reachability"],
        json!({"pairs": 1, "reachable": 1, "unreachable": 0, "results": [
            {"activeVpcId": active_vpc, "passiveVpcId": passive_vpc, "result": "reachable"}],
            "securityGroups": no_group_admits(&active_vpc, &passive_vpc, &active_vpc)})
    );
}

/// The security group advice for one pair where `shut` has no group admitting the other VPC.
fn no_group_admits(active_vpc: &str, passive_vpc: &str, shut: &str) -> Value {
    json!({"admitted": 0, "noGroupAdmits": 1, "pairs": [
        {"activeVpcId": active_vpc, "passiveVpcId": passive_vpc, "securityGroups": "noGroupAdmits", "vpcId": shut}]})
}

#[tokio::test]
async fn given_groups_that_admit_the_peer_directly_or_by_prefix_list_then_the_advice_is_admitted() {
    let w = world().await;
    let (active_vpc, _) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let (passive_vpc, _) = vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    w.active
        .admitting_group(&active_vpc, &["10.20.0.0/16"], false)
        .await;

    // Given only the active side admits the passive VPC, then the passive VPC is named.
    let half = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(
        half["reachability"]["securityGroups"],
        no_group_admits(&active_vpc, &passive_vpc, &passive_vpc)
    );

    // Given the passive side admits it through a prefix list too, then the pair is admitted.
    w.passive
        .admitting_group(&passive_vpc, &["10.0.0.0/8"], true)
        .await;
    let both = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(
        both["reachability"]["securityGroups"],
        json!({"admitted": 1, "noGroupAdmits": 0, "pairs": []})
    );
}

#[tokio::test]
async fn given_one_hop_missing_at_a_time_then_the_report_names_each_kind() {
    // No attachment: a tagged VPC that is not attached.
    let w = world().await;
    vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let lonely = w.passive.vpc("10.20.0.0/16", &[TAG]).await;
    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(first_pair(&output)["result"], "noTgwAttachment");
    assert_eq!(first_pair(&output)["vpcId"], json!(lonely));
    assert_eq!(first_pair(&output)["transitGatewayId"], json!(w.passive_tgw.id));

    // No route from the peering: the passive VPC's attachment does not propagate into the table
    // the peering is associated with, so traffic arriving over the peering cannot reach it.
    let w = world().await;
    let (active_vpc, _) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let passive_vpc = w.passive.vpc("10.20.0.0/16", &[TAG]).await;
    let subnet = w.passive.subnet(&passive_vpc, "10.20.0.0/24", "eu-west-1a").await;
    let attachment = w
        .passive
        .attach_subnets(&w.passive_tgw, &passive_vpc, &[&subnet])
        .await;
    w.passive
        .ec2
        .disable_transit_gateway_route_table_propagation()
        .transit_gateway_route_table_id(&w.passive_tgw.route_table_id)
        .transit_gateway_attachment_id(&attachment)
        .send()
        .await
        .unwrap();
    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(
        first_pair(&output),
        &json!({"activeVpcId": active_vpc, "passiveVpcId": passive_vpc,
                "direction": "there", "result": "noRouteFromPeering", "region": PASSIVE,
                "routeTableId": w.passive_tgw.route_table_id, "cidr": "10.20.0.0/16"})
    );

    // A blackhole: someone's static blackhole for the passive VPC's CIDR in its own table.
    let w = world().await;
    vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    w.passive
        .static_route(&w.passive_tgw.route_table_id, "10.20.0.0/16", None)
        .await;
    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(first_pair(&output)["result"], "blackhole");
    assert_eq!(
        first_pair(&output)["routeTableId"],
        json!(w.passive_tgw.route_table_id)
    );
    assert_eq!(first_pair(&output)["cidr"], "10.20.0.0/16");

    // No VPC route back: the passive side's table is left to someone else's route.
    let w = world().await;
    vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let (passive_vpc, passive_main) = vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    let igw = w
        .passive
        .vpc_route_to_internet(&passive_vpc, &passive_main, "10.1.0.0/16")
        .await;
    let output = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(first_pair(&output)["direction"], "back");
    assert_eq!(first_pair(&output)["result"], "conflict");
    assert_eq!(first_pair(&output)["target"], json!(igw));
}

#[tokio::test]
async fn given_a_plan_that_would_overflow_a_vpc_route_table_then_nothing_is_changed_and_the_error_names_the_table(
) {
    let w = world().await;
    let (active_vpc, active_main) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let (passive_vpc, _) = vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    // One route of someone else's already counts against the quota.
    w.active
        .vpc_route_to_internet(&active_vpc, &active_main, "0.0.0.0/0")
        .await;
    let context = w.emulator.context().await.with_vpc_route_quota(3);
    let state = until_available(&context, json!({"vpcRoutes": true})).await;
    // The passive VPC grows once the peering exists: peer's check before the create saw a plan
    // within the quota, so only modify-routes can refuse this one.
    w.passive.secondary_cidr(&passive_vpc, "10.21.0.0/16").await;
    w.passive.secondary_cidr(&passive_vpc, "10.22.0.0/16").await;
    w.emulator.reset_calls();

    let err = invoke(&context, Function::ModifyRoutes, state).await.unwrap_err();

    assert_eq!(err.error_type, "RouteQuotaExceeded");
    for part in [
        active_main.as_str(),
        active_vpc.as_str(),
        ACTIVE,
        "has 1 routes and needs 3 more",
        "quota of 3",
    ] {
        assert!(err.error_message.contains(part), "{part}: {}", err.error_message);
    }
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "nothing was changed"
    );
    assert_eq!(w.passive.routes(&w.passive_tgw.route_table_id).await, pairs(&[]));
}

#[tokio::test]
async fn given_extra_cidrs_then_they_are_routed_across_the_peering_and_into_the_remote_vpc_tables() {
    let w = world().await;
    let (_, active_main) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;

    let output = run_to_completion(
        &w.context,
        json!({"vpcRoutes": true, "extraCidrs": {"active": ["192.168.0.0/16"], "passive": ["172.30.0.0/16"]}}),
    )
    .await;

    let attachment = output["attachmentId"].as_str().unwrap();
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[("10.1.0.0/16", attachment), ("192.168.0.0/16", attachment)])
    );
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[("10.20.0.0/16", attachment), ("172.30.0.0/16", attachment)])
    );
    assert_eq!(
        w.active.vpc_routes(&active_main).await,
        pairs(&[
            ("10.20.0.0/16", &w.active_tgw.id),
            ("172.30.0.0/16", &w.active_tgw.id)
        ])
    );
    assert_eq!(
        output["extraCidrs"],
        json!({"active": ["192.168.0.0/16"], "passive": ["172.30.0.0/16"]})
    );
}

#[tokio::test]
async fn given_extra_cidrs_in_the_stack_defaults_then_they_apply_unless_the_request_overrides_that_side() {
    let w = world().await;
    vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    let context = w
        .emulator
        .context_with(Defaults {
            active_extra_cidrs: Some("192.168.0.0/16, 192.169.0.0/16".into()),
            passive_extra_cidrs: Some("172.30.0.0/16".into()),
            ..defaults()
        })
        .await;

    let output = run_to_completion(&context, json!({"extraCidrs": {"passive": []}})).await;

    let attachment = output["attachmentId"].as_str().unwrap();
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[
            ("10.1.0.0/16", attachment),
            ("192.168.0.0/16", attachment),
            ("192.169.0.0/16", attachment)
        ])
    );
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[("10.20.0.0/16", attachment)]),
        "the request's empty list replaces the default"
    );
}

#[tokio::test]
async fn given_a_vpn_advertising_on_premises_ranges_when_propagated_cidrs_is_on_then_the_other_side_routes_them(
) {
    let w = world().await;
    vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let (_, passive_main) = vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    let vpn = w.active.vpn_attachment(&w.active_tgw).await;
    w.emulator
        .advertise(&vpn, &["192.168.10.0/24", "192.168.20.0/24"]);

    // Off by default: only the VPC is routed.
    let output = run_to_completion(&w.context, json!({})).await;
    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[("10.1.0.0/16", &attachment)])
    );

    let output = run_to_completion(&w.context, json!({"propagatedCidrs": true, "vpcRoutes": true})).await;

    assert_eq!(
        w.passive.routes(&w.passive_tgw.route_table_id).await,
        pairs(&[
            ("10.1.0.0/16", &attachment),
            ("192.168.10.0/24", &attachment),
            ("192.168.20.0/24", &attachment)
        ])
    );
    assert_eq!(
        strings(&side_table(&output["routes"], "passive")["created"]),
        ["192.168.10.0/24", "192.168.20.0/24"]
    );
    assert_eq!(
        w.passive.vpc_routes(&passive_main).await,
        pairs(&[
            ("10.1.0.0/16", &w.passive_tgw.id),
            ("192.168.10.0/24", &w.passive_tgw.id),
            ("192.168.20.0/24", &w.passive_tgw.id)
        ])
    );
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[("10.20.0.0/16", &attachment)]),
        "the active side's own propagated routes stay where they are"
    );
}

#[tokio::test]
async fn given_an_extra_cidr_that_overlaps_the_other_sides_vpc_on_a_rerun_then_modify_routes_refuses_naming_both_and_changes_nothing(
) {
    let w = world().await;
    let (active_vpc, _) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    vpc(&w.passive, &w.passive_tgw, "10.20.0.0/16", "10.20.0.0/24").await;
    until_available(&w.context, json!({})).await;
    // A re-run over the peering with the range added: peer reuses the peering, modify-routes
    // checks.
    let state = until_available(&w.context, json!({"extraCidrs": {"passive": ["10.0.0.0/8"]}})).await;
    w.emulator.reset_calls();

    let err = invoke(&w.context, Function::ModifyRoutes, state)
        .await
        .unwrap_err();

    assert_eq!(err.error_type, "CidrOverlap");
    for part in [
        "10.1.0.0/16",
        active_vpc.as_str(),
        "10.0.0.0/8",
        "extraCidrs.passive",
    ] {
        assert!(err.error_message.contains(part), "{part}: {}", err.error_message);
    }
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

#[tokio::test]
async fn given_bad_route_options_then_peer_names_the_field_and_creates_nothing() {
    let w = world().await;
    let cases = [
        (json!({"vpcRoutes": "yes"}), "vpcRoutes"),
        (json!({"propagatedCidrs": 1}), "propagatedCidrs"),
        (json!({"extraCidrs": ["192.168.0.0/16"]}), "extraCidrs"),
        (json!({"extraCidrs": {"activ": []}}), "extraCidrs.\"activ\""),
        (
            json!({"extraCidrs": {"active": ["192.168.1.1/16"]}}),
            "extraCidrs.active[0]",
        ),
        (
            json!({"extraCidrs": {"passive": ["10.0.0.0/8", 7]}}),
            "extraCidrs.passive[1]",
        ),
    ];
    w.emulator.reset_calls();
    assert_each_names_its_field(&w.context, Function::Peer, &cases).await;
    let bad_default = w
        .emulator
        .context_with(Defaults {
            vpc_routes: Some("enabled".into()),
            ..defaults()
        })
        .await;
    let err = invoke(&bad_default, Function::Peer, json!({})).await.unwrap_err();
    assert!(err.error_message.contains("VPC_ROUTES"), "{}", err.error_message);
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

/// A network ACL of its own for `subnet`, allowing everything both ways (rule 100), as a
/// regulated network starts one; returns its id.
async fn custom_acl(net: &Net, vpc: &str, subnet: &str) -> String {
    use aws_sdk_ec2::types::{Filter, RuleAction};
    let acl = net.ec2.create_network_acl().vpc_id(vpc).send().await.unwrap();
    let acl = acl.network_acl().unwrap().network_acl_id().unwrap().to_owned();
    for egress in [false, true] {
        net.ec2
            .create_network_acl_entry()
            .network_acl_id(&acl)
            .rule_number(100)
            .protocol("-1")
            .rule_action(RuleAction::Allow)
            .egress(egress)
            .cidr_block("0.0.0.0/0")
            .send()
            .await
            .unwrap();
    }
    let current = net
        .ec2
        .describe_network_acls()
        .filters(
            Filter::builder()
                .name("association.subnet-id")
                .values(subnet)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let association = current.network_acls()[0]
        .associations()
        .iter()
        .find(|a| a.subnet_id() == Some(subnet))
        .and_then(|a| a.network_acl_association_id())
        .unwrap()
        .to_owned();
    net.ec2
        .replace_network_acl_association()
        .association_id(association)
        .network_acl_id(&acl)
        .send()
        .await
        .unwrap();
    acl
}

#[tokio::test]
async fn given_a_destination_acl_that_denies_the_peer_then_the_pair_is_blocked_by_it_until_the_rule_goes() {
    use aws_sdk_ec2::types::RuleAction;
    let w = world().await;
    let (active_vpc, _) = vpc(&w.active, &w.active_tgw, "10.1.0.0/16", "10.1.0.0/24").await;
    let passive_vpc = w.passive.vpc("10.20.0.0/16", &[TAG]).await;
    let subnet = w
        .passive
        .subnet(&passive_vpc, "10.20.0.0/24", &format!("{PASSIVE}a"))
        .await;
    w.passive
        .attach_subnets(&w.passive_tgw, &passive_vpc, &[&subnet])
        .await;
    // The destination subnet's ACL denies every packet from the active VPC, before its allow.
    let acl = custom_acl(&w.passive, &passive_vpc, &subnet).await;
    w.passive
        .ec2
        .create_network_acl_entry()
        .network_acl_id(&acl)
        .rule_number(50)
        .protocol("-1")
        .rule_action(RuleAction::Deny)
        .egress(false)
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap();

    let blocked = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;

    assert_eq!(
        blocked["reachability"],
        json!({"pairs": 1, "reachable": 0, "unreachable": 1, "results": [
            {"activeVpcId": active_vpc, "passiveVpcId": passive_vpc, "direction": "there",
             "result": "blockedByNetworkAcl", "region": PASSIVE, "vpcId": passive_vpc,
             "networkAclId": acl, "ruleNumber": 50, "aclDirection": "inbound", "leg": "request",
             "cidr": "10.1.0.0/16"}],
            "securityGroups": no_group_admits(&active_vpc, &passive_vpc, &active_vpc)})
    );

    // When the deny is removed, the same network is reachable.
    w.passive
        .ec2
        .delete_network_acl_entry()
        .network_acl_id(&acl)
        .rule_number(50)
        .egress(false)
        .send()
        .await
        .unwrap();
    let fixed = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;

    assert_eq!(
        fixed["reachability"],
        json!({"pairs": 1, "reachable": 1, "unreachable": 0, "results": [
            {"activeVpcId": active_vpc, "passiveVpcId": passive_vpc, "result": "reachable"}],
            "securityGroups": no_group_admits(&active_vpc, &passive_vpc, &active_vpc)})
    );
}
