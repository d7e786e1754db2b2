//! Operator control: dry runs, driven through the Lambda handlers against the moto emulator.

use serde_json::{json, Value};
use tgw_peering_integration::{
    assert_each_names_its_field, invoke, pairs, run_to_completion, side_table, teardown, until_available,
    world, Function, ACTIVE, PASSIVE,
};

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The state machine's dry-run path in-process: peer, then modify-routes once.
async fn dry_run(context: &tgw_peering::Shell, input: Value) -> (Value, Value) {
    let peered = invoke(context, Function::Peer, input)
        .await
        .expect("peer (dry run)");
    assert_eq!(peered["dryRun"], json!(true));
    let planned = invoke(context, Function::ModifyRoutes, peered.clone())
        .await
        .expect("modify-routes (dry run)");
    (peered, planned)
}

#[tokio::test]
async fn given_no_peering_when_dry_running_then_the_plan_is_to_create_and_accept_it_and_route_every_cidr_with_nothing_changed(
) {
    let w = world().await;
    let active_vpc = w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let main = w.active.main_table(&active_vpc).await;
    w.emulator.reset_calls();

    let (peered, planned) = dry_run(&w.context, json!({"dryRun": true, "vpcRoutes": true})).await;

    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "a dry run changes nothing"
    );
    assert_eq!(peered["attachmentId"], Value::Null);
    assert_eq!(peered["status"], "absent");
    assert_eq!(
        peered["peeringPlan"],
        json!({"createPeering": true, "acceptPeering": true, "deleteDuplicates": []})
    );
    assert_eq!(
        strings(&side_table(&planned["routePlan"], "active")["create"]),
        ["10.20.0.0/16"]
    );
    assert_eq!(
        strings(&side_table(&planned["routePlan"], "passive")["create"]),
        ["10.1.0.0/16"]
    );
    let vpc_tables = planned["routePlan"]["vpcRouteTables"].as_array().unwrap();
    let active_main = vpc_tables
        .iter()
        .find(|t| t["routeTableId"] == json!(main))
        .unwrap();
    assert_eq!(strings(&active_main["create"]), ["10.20.0.0/16"]);
    assert_eq!(
        planned.get("routes"),
        None,
        "a dry run reports a plan, not routes"
    );
    assert!(
        strings(&planned["warnings"])
            .iter()
            .any(|w| w.contains("no peering attachment exists yet")),
        "{}",
        planned["warnings"]
    );
    assert!(w.active.live_peerings().await.is_empty());
}

#[tokio::test]
async fn given_a_peering_waiting_for_acceptance_when_dry_running_then_peer_would_accept_it_and_does_not() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let attachment = w
        .active
        .request_peering(&w.active_tgw, &w.passive_tgw, tgw_peering_integration::PASSIVE)
        .await;
    // The harness's default progression shows it pendingAcceptance on the first describe.
    w.emulator.reset_calls();

    let (peered, planned) = dry_run(&w.context, json!({"dryRun": true})).await;

    assert_eq!(w.emulator.calls().mutating(), Default::default());
    assert_eq!(peered["attachmentId"], json!(attachment));
    assert_eq!(peered["peeringPlan"]["createPeering"], json!(false));
    assert_eq!(peered["peeringPlan"]["acceptPeering"], json!(true));
    assert_eq!(
        strings(&side_table(&planned["routePlan"], "passive")["create"]),
        ["10.1.0.0/16"]
    );
    assert_ne!(
        w.passive
            .peerings()
            .await
            .into_iter()
            .find(|(id, _)| *id == attachment)
            .map(|(_, state)| state),
        Some("available".to_owned())
    );
}

#[tokio::test]
async fn given_a_live_peering_with_some_routes_when_dry_running_then_the_plan_is_exactly_what_a_real_run_then_does(
) {
    let w = world().await;
    let active_vpc = w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.active.attached_vpc(&w.active_tgw, "10.2.0.0/16").await;
    let passive_vpc = w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    w.passive.secondary_cidr(&passive_vpc, "10.21.0.0/16").await;
    let state = until_available(&w.context, json!({})).await;
    let attachment = state["attachmentId"].as_str().unwrap().to_owned();
    // One route already via the peering, one conflict left by someone else.
    w.passive
        .static_route(&w.passive_tgw.route_table_id, "10.1.0.0/16", Some(&attachment))
        .await;
    w.active
        .static_route(&w.active_tgw.route_table_id, "10.21.0.0/16", None)
        .await;
    let main = w.active.main_table(&active_vpc).await;
    w.emulator.reset_calls();

    let (_, planned) = dry_run(&w.context, json!({"dryRun": true, "vpcRoutes": true})).await;

    assert_eq!(w.emulator.calls().mutating(), Default::default());
    let plan = &planned["routePlan"];
    assert_eq!(strings(&side_table(plan, "active")["create"]), ["10.20.0.0/16"]);
    assert_eq!(
        side_table(plan, "active")["conflicts"],
        json!([{"cidr": "10.21.0.0/16", "target": "blackhole"}])
    );
    assert_eq!(strings(&side_table(plan, "passive")["create"]), ["10.2.0.0/16"]);
    assert_eq!(strings(&side_table(plan, "passive")["present"]), ["10.1.0.0/16"]);
    assert_eq!(
        side_table(plan, "passive")["counts"],
        json!({"create": 1, "present": 1, "conflicts": 0})
    );

    let real = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;

    for side in ["active", "passive"] {
        assert_eq!(
            strings(&real["routes"][side]["created"]),
            strings(&plan[side]["create"]),
            "{side}"
        );
        assert_eq!(
            real["routes"][side]["conflicts"], plan[side]["conflicts"],
            "{side}"
        );
    }
    let planned_tables = plan["vpcRouteTables"].as_array().unwrap();
    let real_tables = real["routes"]["vpcRouteTables"].as_array().unwrap();
    assert_eq!(planned_tables.len(), real_tables.len());
    for (planned_table, real_table) in planned_tables.iter().zip(real_tables) {
        assert_eq!(planned_table["routeTableId"], real_table["routeTableId"]);
        assert_eq!(strings(&planned_table["create"]), strings(&real_table["created"]));
    }
    assert_eq!(
        w.active.vpc_routes(&main).await,
        pairs(&[
            ("10.20.0.0/16", &w.active_tgw.id),
            ("10.21.0.0/16", &w.active_tgw.id)
        ])
    );
    assert_eq!(
        w.emulator.calls().of("CreateTransitGatewayRoute"),
        2,
        "exactly the planned creates, one a side"
    );
}

#[tokio::test]
async fn given_a_plan_over_the_vpc_route_quota_when_dry_running_then_the_refusal_is_the_preview() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let passive_vpc = w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    w.passive.secondary_cidr(&passive_vpc, "10.21.0.0/16").await;
    let context = w.emulator.context().await.with_vpc_route_quota(1);
    let peered = invoke(
        &context,
        Function::Peer,
        json!({"dryRun": true, "vpcRoutes": true}),
    )
    .await
    .unwrap();
    w.emulator.reset_calls();

    let err = invoke(&context, Function::ModifyRoutes, peered)
        .await
        .unwrap_err();

    assert_eq!(err.error_type, "RouteQuotaExceeded");
    assert!(err.error_message.contains(ACTIVE), "{}", err.error_message);
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

// --- cross-account -------------------------------------------------------------------------

const PASSIVE_ACCOUNT: &str = "111122223333";
const OWN_ACCOUNT_ROOT: &str = "arn:aws:iam::123456789012:root";

/// Account B's network in the passive Region, reached through a role there that trusts us.
async fn passive_account(w: &tgw_peering_integration::World) -> (String, tgw_peering_integration::Net) {
    let role = w
        .emulator
        .create_role(PASSIVE_ACCOUNT, "tgw-peering-passive", OWN_ACCOUNT_ROOT);
    let net = w.emulator.ec2_as(PASSIVE, &role).await;
    (role, net)
}

/// The same request again keeps the peering and makes no mutating call.
async fn assert_a_rerun_changes_nothing(
    w: &tgw_peering_integration::World,
    request: Value,
    attachment: &str,
) {
    w.emulator.reset_calls();
    let again = run_to_completion(&w.context, request).await;
    assert_eq!(again["attachmentId"], json!(attachment));
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "a re-run changes nothing"
    );
}

#[tokio::test]
async fn given_the_passive_gateway_in_another_account_when_the_job_runs_with_its_role_then_both_sides_get_their_routes_and_a_rerun_creates_nothing(
) {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let (role, b) = passive_account(&w).await;
    let b_tgw = b.transit_gateway().await;
    b.attached_vpc(&b_tgw, "10.20.0.0/16").await;
    // Account B's VPC is invisible to us; our own passive-Region gateway is not in the request.
    let request = json!({"passiveRoleArn": role, "passiveTransitGatewayId": b_tgw.id});
    w.emulator.reset_calls();

    let output = run_to_completion(&w.context, request.clone()).await;

    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(output["status"], "available");
    assert_eq!(output["passiveAccountId"], PASSIVE_ACCOUNT);
    assert_eq!(
        (output["created"].clone(), output["accepted"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[("10.20.0.0/16", &attachment)])
    );
    assert_eq!(
        b.routes(&b_tgw.route_table_id).await,
        pairs(&[("10.1.0.0/16", &attachment)]),
        "routes in the passive account's table"
    );
    // Every passive-Region call was made as B's role, and only calls its template grants.
    let declared: std::collections::BTreeSet<String> =
        serde_json::from_str::<Value>(include_str!("../../cloudformation/function-permissions.json"))
            .unwrap()["passive-side"]["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
    let passive_calls: std::collections::BTreeSet<String> =
        w.emulator.calls_in(PASSIVE).0.into_keys().collect();
    assert!(
        passive_calls.is_subset(&declared),
        "{passive_calls:?} not within {declared:?}"
    );
    assert!(passive_calls.contains("AcceptTransitGatewayPeeringAttachment"));

    assert_a_rerun_changes_nothing(&w, request, &attachment).await;
}

/// The calls a role in another account may be granted: the passive side's, and with
/// `RequestsPeerings` the requester's (cloudformation/passive-account-role.yaml).
fn side_role_grants() -> std::collections::BTreeSet<String> {
    let all: Value =
        serde_json::from_str(include_str!("../../cloudformation/function-permissions.json")).unwrap();
    ["passive-side", "requests-peerings"]
        .iter()
        .flat_map(|entry| {
            let lists = &all[*entry];
            lists["calls"]
                .as_array()
                .unwrap()
                .iter()
                .chain(lists["iamOnly"].as_array().unwrap())
                .map(|a| a.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn given_both_gateways_in_other_accounts_when_the_pair_runs_as_their_roles_then_the_first_requests_the_second_accepts_and_both_are_routed(
) {
    const B_ACCOUNT: &str = "444455556666";
    let w = world().await;
    // Our own gateways in both Regions, with a tagged VPC each: never touched.
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let (c_role, c) = passive_account(&w).await;
    let b_role = w
        .emulator
        .create_role(B_ACCOUNT, "tgw-peering-side", OWN_ACCOUNT_ROOT);
    let b = w.emulator.ec2_as(ACTIVE, &b_role).await;
    let (b_tgw, c_tgw) = (b.transit_gateway().await, c.transit_gateway().await);
    b.attached_vpc(&b_tgw, "10.50.0.0/16").await;
    c.attached_vpc(&c_tgw, "10.60.0.0/16").await;
    let request = json!({
        "activeRoleArn": b_role, "activeTransitGatewayId": b_tgw.id,
        "passiveRoleArn": c_role, "passiveTransitGatewayId": c_tgw.id,
    });
    w.emulator.reset_calls();

    let output = run_to_completion(&w.context, request.clone()).await;

    assert_eq!(output["status"], "available", "{output}");
    assert_eq!(
        (
            output["activeAccountId"].clone(),
            output["passiveAccountId"].clone()
        ),
        (json!(B_ACCOUNT), json!(PASSIVE_ACCOUNT))
    );
    let attachment = output["attachmentId"].as_str().unwrap().to_owned();
    assert_eq!(
        b.routes(&b_tgw.route_table_id).await,
        pairs(&[("10.60.0.0/16", &attachment)]),
        "B's table, read as B"
    );
    assert_eq!(
        c.routes(&c_tgw.route_table_id).await,
        pairs(&[("10.50.0.0/16", &attachment)]),
        "C's table, read as C"
    );
    assert_eq!(w.active.routes(&w.active_tgw.route_table_id).await, pairs(&[]));
    assert_eq!(w.passive.routes(&w.passive_tgw.route_table_id).await, pairs(&[]));
    assert!(
        w.active.live_peerings().await.is_empty(),
        "none in our own account"
    );
    let granted = side_role_grants();
    for region in [ACTIVE, PASSIVE] {
        let made: std::collections::BTreeSet<String> = w.emulator.calls_in(region).0.into_keys().collect();
        assert!(
            made.is_subset(&granted),
            "{region}: {made:?} not within {granted:?}"
        );
    }

    assert_a_rerun_changes_nothing(&w, request, &attachment).await;
}

#[tokio::test]
async fn given_a_role_that_does_not_trust_us_then_peer_fails_with_access_denied_naming_it_and_creates_nothing(
) {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let (_, b) = passive_account(&w).await;
    let b_tgw = b.transit_gateway().await;
    let stranger = w
        .emulator
        .create_role(PASSIVE_ACCOUNT, "someone-elses", "arn:aws:iam::444455556666:root");
    let missing = format!("arn:aws:iam::{PASSIVE_ACCOUNT}:role/no-such-role");
    w.emulator.reset_calls();

    for role in [stranger, missing] {
        let err = invoke(
            &w.context,
            Function::Peer,
            json!({"passiveRoleArn": role, "passiveTransitGatewayId": b_tgw.id}),
        )
        .await
        .unwrap_err();

        assert_eq!(err.error_type, "AccessDenied", "{}", err.error_message);
        assert!(err.error_message.contains(&role), "{}", err.error_message);
        assert!(
            err.error_message.contains("trust policy"),
            "{}",
            err.error_message
        );
        assert!(
            err.error_message
                .contains("not authorized to perform: sts:AssumeRole"),
            "STS's own words: {}",
            err.error_message
        );
        assert!(err.error_message.len() < 800, "readable: {}", err.error_message);
    }
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "nothing created on the active side"
    );
    assert!(w.active.live_peerings().await.is_empty());
}

#[tokio::test]
async fn given_an_account_without_a_role_or_a_role_in_another_account_then_peer_names_the_field() {
    let w = world().await;
    w.emulator.reset_calls();
    let cases = [
        (json!({"passiveAccountId": PASSIVE_ACCOUNT}), "passiveRoleArn"),
        (
            json!({"passiveAccountId": PASSIVE_ACCOUNT, "passiveRoleArn": "arn:aws:iam::444455556666:role/x"}),
            "passiveRoleArn",
        ),
        (json!({"passiveAccountId": "1111"}), "passiveAccountId"),
        (json!({"passiveRoleArn": "tgw-peering-passive"}), "passiveRoleArn"),
    ];
    assert_each_names_its_field(&w.context, Function::Peer, &cases).await;
    assert_eq!(w.emulator.calls().mutating(), Default::default());
}

// --- teardown ------------------------------------------------------------------------------

/// Everything teardown may touch, as a comparable snapshot: both sides' static TGW routes, the
/// routes and tags of the VPC route tables given, and the live peerings.
async fn snapshot(w: &tgw_peering_integration::World, vpc_tables: &[(&str, &str)]) -> Value {
    let mut tables = serde_json::Map::new();
    for (region, table) in vpc_tables {
        let net = if *region == ACTIVE { &w.active } else { &w.passive };
        let tags = net
            .ec2
            .describe_route_tables()
            .route_table_ids(*table)
            .send()
            .await
            .unwrap()
            .route_tables()[0]
            .tags()
            .iter()
            .map(|t| {
                format!(
                    "{}={}",
                    t.key().unwrap_or_default(),
                    t.value().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>();
        tables.insert(
            table.to_string(),
            json!({"routes": net.vpc_routes(table).await, "tags": tags}),
        );
    }
    json!({
        "activeTgw": w.active.routes(&w.active_tgw.route_table_id).await,
        "passiveTgw": w.passive.routes(&w.passive_tgw.route_table_id).await,
        "vpcTables": tables,
        "livePeerings": w.active.live_peerings().await,
    })
}

#[tokio::test]
async fn given_a_finished_setup_when_tearing_down_then_ec2_is_as_before_with_foreign_routes_intact_and_a_second_teardown_is_a_no_op(
) {
    let w = world().await;
    let active_vpc = w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let passive_vpc = w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let (active_main, passive_main) = (
        w.active.main_table(&active_vpc).await,
        w.passive.main_table(&passive_vpc).await,
    );
    // Someone else's routes, which teardown must leave alone.
    w.active
        .static_route(&w.active_tgw.route_table_id, "172.16.0.0/16", None)
        .await;
    w.active
        .vpc_route_to_internet(&active_vpc, &active_main, "0.0.0.0/0")
        .await;
    let tables = [(ACTIVE, active_main.as_str()), (PASSIVE, passive_main.as_str())];
    let before = snapshot(&w, &tables).await;
    let setup = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(
        strings(&side_table(&setup["routes"], "active")["created"]),
        ["10.20.0.0/16"]
    );
    assert_ne!(
        snapshot(&w, &tables).await,
        before,
        "setup changed something to undo"
    );

    let torn = teardown(&w.context, json!({})).await;

    assert_eq!(torn["status"], "deleted");
    assert_eq!(torn["peeringDeleted"], json!(true));
    assert_eq!(
        strings(&side_table(&torn["teardown"], "active")["deleted"]),
        ["10.20.0.0/16"]
    );
    assert_eq!(
        strings(&side_table(&torn["teardown"], "passive")["deleted"]),
        ["10.1.0.0/16"]
    );
    assert_eq!(torn["teardown"]["vpcRouteTables"].as_array().unwrap().len(), 2);
    assert_eq!(
        snapshot(&w, &tables).await,
        before,
        "EC2 is as it was before setup"
    );

    w.emulator.reset_calls();
    let again = teardown(&w.context, json!({})).await;
    assert_eq!(again["attachmentId"], Value::Null);
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "a second teardown changes nothing"
    );
}

#[tokio::test]
async fn given_a_dry_run_teardown_then_it_reports_what_would_go_and_changes_nothing() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let setup = run_to_completion(&w.context, json!({})).await;
    w.emulator.reset_calls();

    let planned = teardown(&w.context, json!({"dryRun": true})).await;

    assert_eq!(w.emulator.calls().mutating(), Default::default());
    assert_eq!(
        strings(&side_table(&planned["teardown"], "active")["deleted"]),
        ["10.20.0.0/16"]
    );
    assert_eq!(planned["peeringDeleted"], json!(true), "it would be deleted");
    assert_eq!(planned["routesRemoved"], json!(false));
    assert_eq!(
        w.active.live_peerings().await,
        vec![setup["attachmentId"].as_str().unwrap().to_owned()]
    );
}

#[tokio::test]
async fn given_a_peering_someone_else_created_when_tearing_down_then_only_our_recorded_routes_go_and_the_peering_stays(
) {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let theirs = w
        .active
        .request_peering(&w.active_tgw, &w.passive_tgw, PASSIVE)
        .await;
    let setup = run_to_completion(&w.context, json!({})).await;
    assert_eq!(setup["attachmentId"], json!(theirs), "setup reused it");
    // The operator's own route via their peering.
    w.active
        .static_route(&w.active_tgw.route_table_id, "10.99.0.0/16", Some(&theirs))
        .await;

    let torn = teardown(&w.context, json!({})).await;

    assert_eq!(torn["peeringDeleted"], json!(false));
    assert!(torn["peeringKept"]
        .as_str()
        .unwrap()
        .contains("not created by this tool"));
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        pairs(&[("10.99.0.0/16", &theirs)]),
        "our route went, theirs stayed"
    );
    assert_eq!(w.passive.routes(&w.passive_tgw.route_table_id).await, pairs(&[]));
    assert_eq!(w.active.live_peerings().await, vec![theirs]);
}

// --- mesh ----------------------------------------------------------------------------------

#[tokio::test]
async fn given_a_four_region_mesh_when_peer_checks_it_then_each_sides_gateway_is_read_once_not_once_a_pair() {
    let emulator = tgw_peering_integration::Emulator::start();
    let regions = [ACTIVE, PASSIVE, "us-west-2", "ap-southeast-2"];
    for (index, region) in regions.iter().enumerate() {
        let net = emulator.ec2(region).await;
        let tgw = net.transit_gateway().await;
        net.attached_vpc(&tgw, &format!("10.{}.0.0/16", 100 + index))
            .await;
    }
    let context = emulator.context().await;
    emulator.reset_calls();

    let sides: Vec<Value> = regions.iter().map(|r| json!({"region": r})).collect();
    let plan = invoke(&context, Function::Peer, json!({"mesh": sides}))
        .await
        .unwrap();

    assert_eq!(plan["pairs"].as_array().map(Vec::len), Some(6), "{plan}");
    for pair in plan["pairs"].as_array().unwrap() {
        let request = &pair["request"];
        assert!(
            request["activeTransitGatewayId"].is_string() && request["passiveTransitGatewayId"].is_string()
        );
        assert!(request["activePeeringRouteTableId"].is_string());
    }
    let calls = emulator.calls();
    assert_eq!(
        calls.of("DescribeTransitGateways"),
        4,
        "one a side: 6 pairs would read 12"
    );
    assert_eq!(calls.mutating(), Default::default());
}
