//! The record of the routes this tool created, in the state table: how it migrates from the tags
//! an earlier version wrote, and that teardown then removes exactly what the tool made, at 1,000
//! routes a table (more than the tags could ever hold).

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::Duration;

use aws_sdk_ec2::types::{Filter, Tag};
use serde_json::json;
use tgw_peering::config::RouteWrites;
use tgw_peering::plan::record;
use tgw_peering_integration::{record as log_figures, run_to_completion, teardown, world, Net, World};

const ROUTES_PER_TABLE: usize = 1_000;

/// `n` /24s from 172.16.0.0 on: what the active side's VPN advertises.
fn ranges(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("172.{}.{}.0/24", 16 + (i >> 8), i & 255))
        .collect()
}

/// A context that writes routes as fast as the emulator answers, with room for 1,000 routes in
/// a VPC route table (EC2's quota can be raised that far).
async fn fast_writer(w: &World) -> tgw_peering::Shell {
    w.emulator
        .context()
        .await
        .with_route_writes(RouteWrites {
            per_second: 2_000.0,
            burst: NonZeroU32::new(200).unwrap(),
            in_flight: 1,
            deadline_margin: Duration::from_millis(400),
        })
        .with_vpc_route_quota(ROUTES_PER_TABLE + 10)
}

/// Every static route of a TGW route table, page by page.
async fn static_routes(net: &Net, table: &str) -> BTreeSet<(String, String)> {
    let mut pages = net
        .ec2
        .search_transit_gateway_routes()
        .transit_gateway_route_table_id(table)
        .filters(Filter::builder().name("type").values("static").build())
        .max_results(1000)
        .into_paginator()
        .send();
    let mut routes = BTreeSet::new();
    while let Some(page) = pages.next().await {
        for route in page.unwrap().routes() {
            let target = route
                .transit_gateway_attachments()
                .first()
                .and_then(|a| a.transit_gateway_attachment_id())
                .unwrap_or("blackhole");
            routes.insert((
                route.destination_cidr_block().unwrap().to_owned(),
                target.to_owned(),
            ));
        }
    }
    routes
}

/// Rewrites the state table's record of `table` as the tags an earlier version kept instead.
async fn as_earlier_version(w: &World, net: &Net, table: &str, peering_id: &str) -> usize {
    let dynamodb = w.emulator.dynamodb().await;
    let mut cidrs = BTreeSet::new();
    for item in w.emulator.record_items().await {
        if item.route_table_id != table {
            continue;
        }
        cidrs.extend(item.cidrs.iter().map(|c| c.parse::<ipnet::IpNet>().unwrap()));
        dynamodb
            .delete_item()
            .table_name(tgw_peering_integration::STATE_TABLE)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(item.partition))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(item.sort_key))
            .send()
            .await
            .unwrap();
    }
    let tags = record::record_tags(peering_id, &cidrs);
    assert!(
        tags.len() <= record::MAX_TAGS,
        "an earlier version could have written it"
    );
    tgw_peering::aws::Ec2::new(net.ec2.clone(), &net.region)
        .create_tags(table, &tags)
        .await
        .unwrap();
    cidrs.len()
}

fn record_tag_count(tags: &[(String, String)]) -> usize {
    tags.iter()
        .filter(|(k, _)| k.starts_with(record::RECORD_PREFIX))
        .count()
}

#[tokio::test]
async fn given_an_earlier_versions_tag_record_then_a_run_migrates_it_and_teardown_at_1000_routes_a_table_removes_exactly_the_tools_routes(
) {
    let w = world().await;
    let context = fast_writer(&w).await;
    w.active.attached_vpc(&w.active_tgw, "10.1.0.0/16").await;
    let passive_vpc = w.passive.attached_vpc(&w.passive_tgw, "10.20.0.0/16").await;
    let vpc_table = w.passive.main_table(&passive_vpc).await;
    let tgw_table = w.passive_tgw.route_table_id.clone();
    let vpn = w.active.vpn_attachment(&w.active_tgw).await;
    let input = json!({"propagatedCidrs": true, "vpcRoutes": true});
    // Given: an earlier version routed and recorded 300 ranges (and the active VPC) in its tags...
    let first: Vec<String> = ranges(300);
    w.emulator
        .advertise(&vpn, &first.iter().map(String::as_str).collect::<Vec<_>>());
    let setup = run_to_completion(&context, input.clone()).await;
    assert_eq!(setup["routes"]["complete"], json!(true), "{setup}");
    let peering = setup["passiveAttachmentId"]
        .as_str()
        .or(setup["attachmentId"].as_str())
        .unwrap()
        .to_owned();
    for table in [&tgw_table, &vpc_table] {
        assert_eq!(as_earlier_version(&w, &w.passive, table, &peering).await, 301);
    }
    // ... and someone else's routes share the tables (neither is in any record).
    w.passive
        .vpc_route_to_tgw(&vpc_table, "192.168.0.0/24", &w.passive_tgw)
        .await;
    // The peering is someone else's too, so teardown goes by the record alone.
    w.active
        .ec2
        .delete_tags()
        .resources(setup["attachmentId"].as_str().unwrap())
        .tags(Tag::builder().key("tgw-peering:managed-by").build())
        .send()
        .await
        .unwrap();
    w.passive
        .ec2
        .create_transit_gateway_route()
        .transit_gateway_route_table_id(&tgw_table)
        .destination_cidr_block("192.168.9.0/24")
        .transit_gateway_attachment_id(&peering)
        .send()
        .await
        .unwrap();

    // When: the ranges grow to 1,000 and this version runs.
    let all = ranges(ROUTES_PER_TABLE);
    w.emulator
        .advertise(&vpn, &all.iter().map(String::as_str).collect::<Vec<_>>());
    w.emulator.reset_calls();
    let grown = run_to_completion(&context, input.clone()).await;

    // Then: each table's record is in the state table, whole, and the tags are gone.
    assert_eq!(grown["routes"]["complete"], json!(true), "{grown}");
    assert!(
        w.emulator.dynamodb_writes() >= 2,
        "a transaction for each table it grew"
    );
    let wanted: BTreeSet<String> = all.iter().cloned().chain(["10.1.0.0/16".to_owned()]).collect();
    for table in [&tgw_table, &vpc_table] {
        assert_eq!(w.emulator.recorded(table).await, wanted, "{table}");
        assert_eq!(record_tag_count(&w.passive.tags(table).await), 0, "{table}");
    }
    w.emulator.reset_calls();
    let again = run_to_completion(&context, input.clone()).await;
    assert_eq!(again["routes"]["complete"], json!(true), "{again}");
    assert_eq!(
        w.emulator.calls().mutating(),
        Default::default(),
        "a re-run writes nothing"
    );
    assert_eq!(w.emulator.dynamodb_writes(), 0, "nor its record");

    // When: the peering is torn down.
    let torn = teardown(&context, input).await;

    // Then: every route the tool made went, the foreign ones stayed, and no record is left.
    assert_eq!(torn["routesRemoved"], json!(true), "{torn}");
    assert_eq!(
        static_routes(&w.passive, &tgw_table).await,
        [("192.168.9.0/24".to_owned(), peering.clone())].into(),
    );
    let vpc_left: Vec<String> = w
        .passive
        .vpc_routes(&vpc_table)
        .await
        .into_iter()
        .map(|(cidr, _)| cidr)
        .filter(|cidr| !cidr.starts_with("10.20."))
        .collect();
    assert_eq!(vpc_left, ["192.168.0.0/24"]);
    assert_eq!(w.emulator.record_items().await, [], "no record is left");
    log_figures(
        "an earlier version's tag record migrated, then torn down at 1,000 routes a table",
        json!({"routesPerTable": ROUTES_PER_TABLE, "migratedFromTags": 301, "leftBehind": 0, "foreignLost": 0}),
    );
}
