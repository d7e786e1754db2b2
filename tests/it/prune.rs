//! Prune: each way a route stops being wanted, one at a time, with and without `prune`; the
//! guard against mass deletion; foreign routes; the record written before the create. Each test
//! runs the functions as the state machine does, against the emulator.

use aws_sdk_ec2::types::Tag;
use serde_json::{json, Value};
use tgw_peering_integration::{
    invoke, record, run_to_completion, side_table, teardown, world, Function, RecordItem, World, ACTIVE,
    PASSIVE,
};

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Both sides' TGW routes and the given VPC tables' routes: everything a prune may touch.
async fn routes_of(w: &World, vpc_tables: &[(&str, &str)]) -> Value {
    let mut tables = serde_json::Map::new();
    for (region, table) in vpc_tables {
        let net = if *region == ACTIVE { &w.active } else { &w.passive };
        tables.insert((*table).to_owned(), json!(net.vpc_routes(table).await));
    }
    json!({
        "activeTgw": w.active.routes(&w.active_tgw.route_table_id).await,
        "passiveTgw": w.passive.routes(&w.passive_tgw.route_table_id).await,
        "vpcTables": tables,
    })
}

/// Two tagged VPCs a side, routed both ways with VPC routes on.
struct Routed {
    w: World,
    active: [String; 2],
    passive: [String; 2],
    tables: Vec<(&'static str, String)>,
    peering: String,
}

async fn routed() -> Routed {
    let w = world().await;
    let active = [
        w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await,
        w.active.attached_vpc(&w.active_tgw, "10.2.0.0/16").await,
    ];
    let passive = [
        w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await,
        w.passive.attached_vpc(&w.passive_tgw, "10.21.0.0/16").await,
    ];
    let mut tables = Vec::new();
    for vpc in &active {
        tables.push((ACTIVE, w.active.main_table(vpc).await));
    }
    for vpc in &passive {
        tables.push((PASSIVE, w.passive.main_table(vpc).await));
    }
    let setup = run_to_completion(&w.context, json!({"vpcRoutes": true})).await;
    assert_eq!(setup["routes"]["complete"], json!(true), "{setup}");
    let peering = setup["attachmentId"].as_str().unwrap().to_owned();
    Routed {
        w,
        active,
        passive,
        tables,
        peering,
    }
}

impl Routed {
    fn tables(&self) -> Vec<(&str, &str)> {
        self.tables.iter().map(|(r, t)| (*r, t.as_str())).collect()
    }

    async fn snapshot(&self) -> Value {
        routes_of(&self.w, &self.tables()).await
    }

    /// A run as the state machine makes it, with `request` on top of VPC routes.
    async fn run(&self, request: Value) -> Value {
        let mut input = json!({"vpcRoutes": true});
        for (key, value) in request.as_object().unwrap() {
            input[key] = value.clone();
        }
        run_to_completion(&self.w.context, input).await
    }

    /// Without prune nothing goes; a dry run with prune lists the removals and changes nothing;
    /// prune then makes exactly the snapshot `expected` describe the network, and a second run
    /// makes no mutating call. Returns the pruning run's output.
    async fn prune_converges(&self, request: Value, check: impl Fn(&Value)) -> Value {
        let before = self.snapshot().await;
        self.w.emulator.reset_calls();
        let kept = self.run(request.clone()).await;
        assert_eq!(
            self.snapshot().await,
            before,
            "without prune nothing goes: {kept}"
        );
        assert!(
            self.w
                .emulator
                .calls()
                .mutating()
                .keys()
                .all(|action| !action.starts_with("Delete")),
            "{:?}",
            self.w.emulator.calls().mutating()
        );

        let mut pruning = request.clone();
        pruning["prune"] = json!(true);
        pruning["pruneThreshold"] = json!(100);
        let mut dry = pruning.clone();
        dry["dryRun"] = json!(true);
        self.w.emulator.reset_calls();
        let plan = self.run(dry).await;
        assert_eq!(
            self.w.emulator.calls().mutating(),
            Default::default(),
            "a dry run changes nothing"
        );
        assert_eq!(self.snapshot().await, before);

        let pruned = self.run(pruning.clone()).await;
        check(&self.snapshot().await);
        assert_eq!(
            removals(&plan["routePlan"], "remove"),
            removals(&pruned["routes"], "removed"),
            "the dry run listed exactly what the run removed"
        );
        self.w.emulator.reset_calls();
        self.run(pruning).await;
        assert_eq!(
            self.w.emulator.calls().mutating(),
            Default::default(),
            "a second prune has nothing to do"
        );
        pruned
    }
}

/// Every table's listed removals in a report or plan, as "table cidr" lines, sorted.
fn removals(report: &Value, list: &str) -> Vec<String> {
    let mut found = Vec::new();
    for kind in ["tgwRouteTables", "vpcRouteTables"] {
        for table in report[kind].as_array().into_iter().flatten() {
            for cidr in strings(&table[list]) {
                found.push(format!("{} {cidr}", table["routeTableId"].as_str().unwrap()));
            }
        }
    }
    found.sort();
    found
}

fn has_route(routes: &Value, cidr: &str) -> bool {
    routes.as_array().unwrap().iter().any(|route| route[0] == cidr)
}

async fn untag(net: &tgw_peering_integration::Net, vpc: &str) {
    net.ec2
        .delete_tags()
        .resources(vpc)
        .tags(Tag::builder().key("addToTransitGateway").build())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn given_a_vpc_untagged_then_prune_removes_exactly_its_routes_on_both_sides() {
    let r = routed().await;
    untag(&r.w.active, &r.active[1]).await;
    let untagged_table = r.tables[1].1.clone();

    let pruned = r
        .prune_converges(json!({}), |after| {
            assert!(!has_route(&after["passiveTgw"], "10.2.0.0/16"), "{after}");
            assert!(has_route(&after["passiveTgw"], "10.1.0.0/16"), "{after}");
            let tables = &after["vpcTables"];
            assert!(!has_route(&tables[&untagged_table], "10.20.0.0/16"), "{after}");
            assert!(!has_route(&tables[&untagged_table], "10.21.0.0/16"), "{after}");
            for (_, table) in &r.tables[2..] {
                assert!(!has_route(&tables[table], "10.2.0.0/16"), "{after}");
                assert!(has_route(&tables[table], "10.1.0.0/16"), "{after}");
            }
            assert_eq!(after["activeTgw"].as_array().unwrap().len(), 2, "{after}");
        })
        .await;
    assert_eq!(
        strings(&side_table(&pruned["routes"], "passive")["removed"]),
        ["10.2.0.0/16"]
    );
    assert_eq!(pruned["routes"]["complete"], json!(true));
    // The record no longer lists what went: a teardown after it removes the rest and nothing else.
    let items = r.w.emulator.record_items().await;
    let passive_table = &r.w.passive_tgw.route_table_id;
    let record: Vec<&RecordItem> = items
        .iter()
        .filter(|i| &i.route_table_id == passive_table)
        .collect();
    assert_eq!(record.len(), 1, "{items:?}");
    assert_eq!(record[0].cidrs, ["10.1.0.0/16"]);
    assert!(
        record[0]
            .partition
            .starts_with(&format!("routes#{PASSIVE}#tgw-attach-")),
        "one partition per side and peering: {items:?}"
    );
    assert!(
        items
            .iter()
            .all(|i| i.partition.ends_with(&r.peering)
                || i.partition.starts_with(&format!("routes#{PASSIVE}#")))
    );
}

#[tokio::test]
async fn given_a_vpc_deleted_then_prune_removes_its_routes_on_the_other_side() {
    let r = routed().await;
    let attachments =
        r.w.passive
            .ec2
            .describe_transit_gateway_vpc_attachments()
            .send()
            .await
            .unwrap();
    let attachment = attachments
        .transit_gateway_vpc_attachments()
        .iter()
        .find(|a| a.vpc_id() == Some(r.passive[1].as_str()))
        .and_then(|a| a.transit_gateway_attachment_id())
        .unwrap()
        .to_owned();
    let passive = &r.w.passive.ec2;
    passive
        .delete_transit_gateway_vpc_attachment()
        .transit_gateway_attachment_id(&attachment)
        .send()
        .await
        .unwrap();
    let subnets = passive
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&r.passive[1])
                .build(),
        )
        .send()
        .await
        .unwrap();
    for subnet in subnets.subnets() {
        passive
            .delete_subnet()
            .subnet_id(subnet.subnet_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    passive.delete_vpc().vpc_id(&r.passive[1]).send().await.unwrap();
    let mut r = r;
    let (_, gone_table) = r.tables.pop().unwrap(); // its table went with it
    assert!(
        !r.w.emulator.recorded(&gone_table).await.is_empty(),
        "its routes were recorded"
    );

    r.prune_converges(json!({}), |after| {
        assert!(!has_route(&after["activeTgw"], "10.21.0.0/16"), "{after}");
        assert!(has_route(&after["activeTgw"], "10.20.0.0/16"), "{after}");
        for (_, table) in &r.tables[..2] {
            assert!(!has_route(&after["vpcTables"][table], "10.21.0.0/16"), "{after}");
        }
    })
    .await;
    assert_eq!(
        r.w.emulator.recorded(&gone_table).await,
        Default::default(),
        "the record of a table that no longer exists goes with prune"
    );
}

#[tokio::test]
async fn given_a_block_disassociated_then_prune_removes_only_that_cidr() {
    let w = world().await;
    let vpc = w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let association = w.active.secondary_cidr(&vpc, "10.3.0.0/16").await;
    w.active.attached_vpc(&w.active_tgw, "10.2.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let setup = run_to_completion(&w.context, json!({})).await;
    assert!(
        has_route(
            &json!(w.passive.routes(&w.passive_tgw.route_table_id).await),
            "10.3.0.0/16"
        ),
        "{setup}"
    );
    w.active
        .ec2
        .disassociate_vpc_cidr_block()
        .association_id(association)
        .send()
        .await
        .unwrap();

    let kept = run_to_completion(&w.context, json!({})).await;
    assert!(
        has_route(
            &json!(w.passive.routes(&w.passive_tgw.route_table_id).await),
            "10.3.0.0/16"
        ),
        "{kept}"
    );
    let pruned = run_to_completion(&w.context, json!({"prune": true, "pruneThreshold": 50})).await;

    let after = json!(w.passive.routes(&w.passive_tgw.route_table_id).await);
    assert!(!has_route(&after, "10.3.0.0/16"), "{after}");
    assert!(
        has_route(&after, "10.1.0.0/16") && has_route(&after, "10.2.0.0/16"),
        "{after}"
    );
    assert_eq!(
        strings(&side_table(&pruned["routes"], "passive")["removed"]),
        ["10.3.0.0/16"]
    );
}

#[tokio::test]
async fn given_an_extra_range_dropped_then_prune_removes_it_and_a_foreign_route_to_it_elsewhere_stays() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.active.attached_vpc(&w.active_tgw, "10.2.0.0/16").await;
    w.active.attached_vpc(&w.active_tgw, "10.4.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let extra = json!({"extraCidrs": {"active": ["192.168.0.0/16"]}});
    let setup = run_to_completion(&w.context, extra).await;
    let peering = setup["attachmentId"].as_str().unwrap().to_owned();
    // Someone else's routes: the same CIDR in another table, and another CIDR to the peering.
    let other_table = w.passive.route_table(&w.passive_tgw).await;
    w.passive.static_route(&other_table, "192.168.0.0/16", None).await;
    let passive_peering = setup["passiveAttachmentId"]
        .as_str()
        .unwrap_or(&peering)
        .to_owned();
    w.passive
        .static_route(
            &w.passive_tgw.route_table_id,
            "172.31.0.0/16",
            Some(&passive_peering),
        )
        .await;

    let pruned = run_to_completion(&w.context, json!({"extraCidrs": {"active": []}, "prune": true})).await;

    let after = json!(w.passive.routes(&w.passive_tgw.route_table_id).await);
    assert!(!has_route(&after, "192.168.0.0/16"), "{after}");
    assert!(
        has_route(&after, "172.31.0.0/16"),
        "a route the tool did not record stays: {after}"
    );
    assert_eq!(
        w.passive.routes(&other_table).await.len(),
        1,
        "the foreign route elsewhere stays"
    );
    assert_eq!(
        strings(&side_table(&pruned["routes"], "passive")["removed"]),
        ["192.168.0.0/16"]
    );
}

#[tokio::test]
async fn given_a_propagated_range_withdrawn_then_prune_removes_its_route_on_the_other_side() {
    let w = world().await;
    for cidr in ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16"] {
        w.active.attached_vpc(&w.active_tgw, cidr).await;
    }
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let vpn = w.active.vpn_attachment(&w.active_tgw).await;
    w.emulator.advertise(&vpn, &["192.168.10.0/24"]);
    run_to_completion(&w.context, json!({"propagatedCidrs": true})).await;
    assert!(has_route(
        &json!(w.passive.routes(&w.passive_tgw.route_table_id).await),
        "192.168.10.0/24"
    ));
    w.emulator.advertise(&vpn, &[]);

    let pruned = run_to_completion(&w.context, json!({"propagatedCidrs": true, "prune": true})).await;

    let after = json!(w.passive.routes(&w.passive_tgw.route_table_id).await);
    assert!(!has_route(&after, "192.168.10.0/24"), "{after}");
    assert_eq!(after.as_array().unwrap().len(), 4, "{after}");
    assert_eq!(
        strings(&side_table(&pruned["routes"], "passive")["removed"]),
        ["192.168.10.0/24"]
    );
}

#[tokio::test]
async fn given_a_misspelt_tag_key_then_the_guard_refuses_with_no_mutating_call_and_the_confirmation_goes_through(
) {
    let r = routed().await;
    let before = r.snapshot().await;
    r.w.emulator.reset_calls();
    let input = json!({"vpcRoutes": true, "prune": true, "vpcTagKey": "addToTransitGatewy"});
    let state = tgw_peering_integration::until_available(&r.w.context, input).await;
    r.w.emulator.reset_calls();

    let err = invoke(&r.w.context, Function::ModifyRoutes, state.clone())
        .await
        .unwrap_err();

    assert_eq!(err.error_type, "PruneRefused");
    assert!(
        err.error_message.contains("would remove 12 of the 12 routes"),
        "{}",
        err.error_message
    );
    assert!(
        err.error_message.contains("\"confirmPrune\": 12"),
        "{}",
        err.error_message
    );
    assert_eq!(
        r.w.emulator.calls().mutating(),
        Default::default(),
        "refused before any write"
    );
    assert_eq!(r.snapshot().await, before);
    record(
        "prune of every route (a misspelt tag key), then confirmed",
        json!({"runs": 2, "mutatingCalls": 0, "foreignLost": 0,
               "outcome": "refused whole (PruneRefused, 12 of 12 routes named), no write; confirmPrune: 12 then removes them"}),
    );

    let mut wrong_count = state.clone();
    wrong_count["confirmPrune"] = json!(11);
    let err = invoke(&r.w.context, Function::ModifyRoutes, wrong_count)
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "PruneRefused", "only the exact count confirms");

    let mut confirmed = state;
    confirmed["confirmPrune"] = json!(12);
    let done = invoke(&r.w.context, Function::ModifyRoutes, confirmed)
        .await
        .unwrap();
    assert_eq!(done["routes"]["complete"], json!(true), "{done}");
    let after = r.snapshot().await;
    assert_eq!(after["activeTgw"], json!([]), "{after}");
    assert_eq!(after["passiveTgw"], json!([]), "{after}");
}

#[tokio::test]
async fn given_the_pass_dies_at_its_record_write_then_no_route_is_left_unknown_and_teardown_removes_every_one(
) {
    let w = world().await;
    let vpc = w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let table = w.active.main_table(&vpc).await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let state = tgw_peering_integration::until_available(&w.context, json!({"vpcRoutes": true})).await;
    // The active side's first record write fails, as if the function had been cut off there.
    // Were the record written after the creates, the routes would exist with no record: a re-run
    // would see them present and not its own, and teardown would leave the VPC route behind
    // (it removes every route to a peering it created, but a VPC route goes to the gateway).
    w.emulator
        .inject_fault(json!({"action": "dynamodb:TransactWriteItems",
                                   "code": "ValidationException", "times": 1}));
    let crashed = invoke(&w.context, Function::ModifyRoutes, state.clone()).await;
    let crashed = crashed.expect_err("the pass failed at its record write");
    assert_eq!(crashed.error_type, "StateTableError", "{}", crashed.error_message);
    let rerun = invoke(&w.context, Function::ModifyRoutes, state).await.unwrap();
    assert_eq!(rerun["routes"]["complete"], json!(true), "{rerun}");
    let routed = w.active.vpc_routes(&table).await;
    assert!(
        routed.iter().any(|(cidr, _)| cidr == "10.20.0.0/16"),
        "{routed:?}"
    );

    let torn = teardown(&w.context, json!({"vpcRoutes": true})).await;

    let vpc_deleted: Vec<String> = torn["teardown"]["vpcRouteTables"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| strings(&t["deleted"]))
        .collect();
    assert_eq!(vpc_deleted.len(), 2, "{torn}");
    let left = w.active.vpc_routes(&table).await;
    assert!(!left.iter().any(|(cidr, _)| cidr == "10.20.0.0/16"), "{left:?}");
    assert_eq!(
        w.active.routes(&w.active_tgw.route_table_id).await,
        Vec::<(String, String)>::new()
    );
    record(
        "a pass cut off at its record write, then run again and torn down",
        json!({"runs": 3, "foreignLost": 0,
               "outcome": "the record is written before the create: no route without a record; teardown removed every route"}),
    );
}

/// Replays the harness's route writes in `table` on `before` (its static routes as CIDRs) and
/// asserts that after every single write each of `probes` is still inside a route.
fn assert_covered_throughout(before: &[(String, String)], writes: &[Value], table: &str, probes: &[&str]) {
    let mut routes: Vec<ipnet::IpNet> = before.iter().map(|(cidr, _)| cidr.parse().unwrap()).collect();
    let covered = |routes: &[ipnet::IpNet]| {
        probes.iter().all(|probe| {
            let probe: ipnet::IpNet = probe.parse().unwrap();
            routes.iter().any(|route| route.contains(&probe))
        })
    };
    assert!(covered(&routes), "covered before: {routes:?}");
    for (step, write) in writes.iter().filter(|w| w["routeTableId"] == table).enumerate() {
        let cidr: ipnet::IpNet = write["cidr"].as_str().unwrap().parse().unwrap();
        match write["op"].as_str() {
            Some("create") => routes.push(cidr),
            Some("delete") => routes.retain(|route| *route != cidr),
            other => panic!("unexpected write {other:?}"),
        }
        assert!(
            covered(&routes),
            "after write {step} ({write}) a wanted range is uncovered: {routes:?}"
        );
    }
}

#[tokio::test]
async fn given_ranges_replaced_by_their_supernet_and_back_then_no_wanted_range_is_uncovered_at_any_write() {
    let w = world().await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let halves = json!({"extraCidrs": {"active": ["192.168.0.0/17", "192.168.128.0/17"]}});
    run_to_completion(&w.context, halves.clone()).await;
    let table = w.passive_tgw.route_table_id.clone();
    let probes = ["192.168.0.0/17", "192.168.128.0/17"];
    let pruning = |mut request: Value| {
        request["prune"] = json!(true);
        request["pruneThreshold"] = json!(100);
        request
    };

    // Two halves become their supernet: the /16 is created before either half goes.
    let before = w.passive.routes(&table).await;
    w.emulator.reset_calls();
    run_to_completion(
        &w.context,
        pruning(json!({"extraCidrs": {"active": ["192.168.0.0/16"]}})),
    )
    .await;
    let writes = w.emulator.route_writes();
    let ops: Vec<(String, String)> = writes
        .iter()
        .filter(|w| w["routeTableId"] == table.as_str())
        .map(|w| {
            (
                w["op"].as_str().unwrap().to_owned(),
                w["cidr"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The two deletes go out together (writes in flight), so their order between them varies.
    let (first, mut rest) = (ops[0].clone(), ops[1..].to_vec());
    rest.sort();
    assert_eq!(first, ("create".to_owned(), "192.168.0.0/16".to_owned()));
    assert_eq!(
        rest,
        [
            ("delete".to_owned(), "192.168.0.0/17".to_owned()),
            ("delete".to_owned(), "192.168.128.0/17".to_owned()),
        ]
    );
    assert_covered_throughout(&before, &writes, &table, &probes);

    // And back: both halves are created before the supernet goes.
    let before = w.passive.routes(&table).await;
    w.emulator.reset_calls();
    run_to_completion(&w.context, pruning(halves)).await;
    let writes = w.emulator.route_writes();
    let ops: Vec<&str> = writes
        .iter()
        .filter(|w| w["routeTableId"] == table.as_str())
        .map(|w| w["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["create", "create", "delete"]);
    assert_covered_throughout(&before, &writes, &table, &probes);
    let after: Vec<String> = w
        .passive
        .routes(&table)
        .await
        .into_iter()
        .map(|(cidr, _)| cidr)
        .collect();
    assert_eq!(after, ["10.1.0.0/16", "192.168.0.0/17", "192.168.128.0/17"]);
    record(
        "ranges replaced by their supernet and back, with prune",
        json!({"runs": 2, "foreignLost": 0,
               "outcome": "every create before any delete (harness write log); no wanted range uncovered after any write"}),
    );
}
