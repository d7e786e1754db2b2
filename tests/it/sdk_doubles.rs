//! What the emulator cannot show — pagination, races and rare errors — tested with hand-written
//! SDK doubles (aws-smithy-mocks) behind the real aws-sdk-ec2 client.

use std::time::Duration;

use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::error::ErrorMetadata;
use aws_sdk_ec2::operation::accept_transit_gateway_peering_attachment::AcceptTransitGatewayPeeringAttachmentError;
use aws_sdk_ec2::operation::create_transit_gateway_route::CreateTransitGatewayRouteError;
use aws_sdk_ec2::operation::delete_transit_gateway_peering_attachment::DeleteTransitGatewayPeeringAttachmentError;
use aws_sdk_ec2::operation::describe_transit_gateway_peering_attachments::DescribeTransitGatewayPeeringAttachmentsOutput;
use aws_sdk_ec2::operation::describe_transit_gateways::DescribeTransitGatewaysOutput;
use aws_sdk_ec2::operation::describe_vpcs::{DescribeVpcsError, DescribeVpcsOutput};
use aws_sdk_ec2::operation::search_transit_gateway_routes::SearchTransitGatewayRoutesOutput;
use aws_sdk_ec2::types::{
    PeeringTgwInfo, TransitGateway, TransitGatewayAttachmentState, TransitGatewayOptions,
    TransitGatewayPeeringAttachment, TransitGatewayRoute, TransitGatewayRouteAttachment,
    TransitGatewayRouteState, TransitGatewayState, Vpc, VpcCidrBlockAssociation, VpcCidrBlockState,
    VpcCidrBlockStateCode,
};
use aws_sdk_ec2::Client;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use serde_json::json;
use tgw_peering::actions::routes::{create_planned_route, Applied};
use tgw_peering::aws::Ec2;
use tgw_peering::config::Defaults;
use tgw_peering::Shell;

fn client(region: &str, rules: &[&Rule]) -> Client {
    let interceptor = rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, rule| i.with_rule(rule),
    );
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("test", "test", None, None, "doubles"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build();
    Client::from_conf(config)
}

fn vpc(id: &str, cidrs: &[(&str, VpcCidrBlockStateCode)]) -> Vpc {
    cidrs
        .iter()
        .fold(Vpc::builder().vpc_id(id), |vpc, (cidr, state)| {
            vpc.cidr_block_association_set(
                VpcCidrBlockAssociation::builder()
                    .cidr_block(*cidr)
                    .cidr_block_state(VpcCidrBlockState::builder().state(state.clone()).build())
                    .build(),
            )
        })
        .build()
}

#[tokio::test]
async fn given_two_pages_of_vpcs_then_discovery_reads_both_and_skips_disassociated_blocks() {
    let first = mock!(Client::describe_vpcs)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            DescribeVpcsOutput::builder()
                .vpcs(vpc(
                    "vpc-1",
                    &[("10.1.0.0/16", VpcCidrBlockStateCode::Associated)],
                ))
                .next_token("page-2")
                .build()
        });
    let second = mock!(Client::describe_vpcs)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeVpcsOutput::builder()
                .vpcs(vpc(
                    "vpc-2",
                    &[
                        ("10.2.0.0/16", VpcCidrBlockStateCode::Associated),
                        ("10.3.0.0/16", VpcCidrBlockStateCode::Disassociated),
                    ],
                ))
                .build()
        });
    let ec2 = Ec2::new(client("us-east-1", &[&first, &second]), "us-east-1");

    let vpcs = ec2.vpcs().await.unwrap();

    let found: Vec<(String, Vec<String>)> = vpcs
        .iter()
        .map(|v| (v.id.clone(), v.cidrs.iter().map(|c| c.to_string()).collect()))
        .collect();
    assert_eq!(
        found,
        [
            ("vpc-1".to_owned(), vec!["10.1.0.0/16".to_owned()]),
            ("vpc-2".to_owned(), vec!["10.2.0.0/16".to_owned()])
        ]
    );
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

fn route(cidr: &str, attachment: Option<&str>) -> TransitGatewayRoute {
    let mut builder = TransitGatewayRoute::builder().destination_cidr_block(cidr);
    builder = match attachment {
        Some(id) => builder
            .state(TransitGatewayRouteState::Active)
            .transit_gateway_attachments(
                TransitGatewayRouteAttachment::builder()
                    .transit_gateway_attachment_id(id)
                    .build(),
            ),
        None => builder.state(TransitGatewayRouteState::Blackhole),
    };
    builder.build()
}

#[tokio::test]
async fn given_two_pages_of_routes_then_the_table_is_read_whole_in_one_pass() {
    let first = mock!(Client::search_transit_gateway_routes)
        .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(1000))
        .then_output(|| {
            SearchTransitGatewayRoutesOutput::builder()
                .routes(route("10.1.0.0/16", Some("tgw-attach-11111111")))
                .additional_routes_available(true)
                .next_token("more")
                .build()
        });
    let second = mock!(Client::search_transit_gateway_routes)
        .match_requests(|r| r.next_token() == Some("more"))
        .then_output(|| {
            SearchTransitGatewayRoutesOutput::builder()
                .routes(route("10.2.0.0/16", None))
                .routes(
                    TransitGatewayRoute::builder()
                        .prefix_list_id("pl-12345678")
                        .build(),
                )
                .additional_routes_available(false)
                .build()
        });
    let ec2 = Ec2::new(client("us-east-1", &[&first, &second]), "us-east-1");

    let table = ec2.routes("tgw-rtb-11111111").await.unwrap();

    assert!(!table.truncated);
    let routes: Vec<(String, Option<String>, bool)> = table
        .routes
        .iter()
        .map(|r| (r.cidr.to_string(), r.target.clone(), r.blackhole))
        .collect();
    assert_eq!(
        routes,
        [
            (
                "10.1.0.0/16".to_owned(),
                Some("tgw-attach-11111111".to_owned()),
                false
            ),
            ("10.2.0.0/16".to_owned(), None, true)
        ]
    );
}

#[tokio::test]
async fn given_more_routes_than_one_search_returns_and_no_token_then_the_table_is_marked_truncated() {
    let only = mock!(Client::search_transit_gateway_routes).then_output(|| {
        SearchTransitGatewayRoutesOutput::builder()
            .routes(route("10.1.0.0/16", Some("tgw-attach-11111111")))
            .additional_routes_available(true)
            .build()
    });
    let ec2 = Ec2::new(client("us-east-1", &[&only]), "us-east-1");

    assert!(ec2.routes("tgw-rtb-11111111").await.unwrap().truncated);
}

#[tokio::test]
async fn given_persistent_throttling_then_the_sdk_retries_and_the_error_is_throttled() {
    let throttled = mock!(Client::describe_vpcs)
        .sequence()
        .error(|| {
            DescribeVpcsError::generic(
                ErrorMetadata::builder()
                    .code("RequestLimitExceeded")
                    .message("Request limit exceeded.")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let ec2 = Ec2::new(client("eu-west-1", &[&throttled]), "eu-west-1");

    let err = ec2.vpcs().await.unwrap_err();

    assert_eq!(err.error_type(), "Throttled");
    assert!(
        err.to_string().contains("DescribeVpcs") && err.to_string().contains("eu-west-1"),
        "{err}"
    );
    assert_eq!(
        throttled.num_calls(),
        3,
        "the SDK's standard retries are on (the original used max_attempts=1)"
    );
}

#[tokio::test]
async fn given_a_missing_permission_then_the_error_names_the_action_to_grant() {
    let denied = mock!(Client::describe_vpcs).then_error(|| {
        DescribeVpcsError::generic(
            ErrorMetadata::builder()
                .code("UnauthorizedOperation")
                .message("You are not authorized to perform this operation.")
                .build(),
        )
    });
    let ec2 = Ec2::new(client("us-east-1", &[&denied]), "us-east-1");

    let err = ec2.vpcs().await.unwrap_err();

    assert_eq!(err.error_type(), "AccessDenied");
    assert!(err.to_string().contains("ec2:DescribeVpcs"), "{err}");
}

fn tgw(id: &str, route_table: &str) -> TransitGateway {
    TransitGateway::builder()
        .transit_gateway_id(id)
        .state(TransitGatewayState::Available)
        .owner_id("123456789012")
        .options(
            TransitGatewayOptions::builder()
                .association_default_route_table_id(route_table)
                .build(),
        )
        .build()
}

fn peering(state: TransitGatewayAttachmentState) -> TransitGatewayPeeringAttachment {
    peering_of("tgw-attach-0123456789abcdef0", "tgw-aaaaaaaaaaaaaaaaa", state)
}

fn peering_of(
    id: &str,
    requester_tgw: &str,
    state: TransitGatewayAttachmentState,
) -> TransitGatewayPeeringAttachment {
    let info = |tgw: &str, region: &str| {
        PeeringTgwInfo::builder()
            .transit_gateway_id(tgw)
            .region(region)
            .owner_id("123456789012")
            .build()
    };
    TransitGatewayPeeringAttachment::builder()
        .transit_gateway_attachment_id(id)
        .requester_tgw_info(info(requester_tgw, "us-east-1"))
        .accepter_tgw_info(info("tgw-bbbbbbbbbbbbbbbbb", "eu-west-1"))
        .state(state)
        .build()
}

/// Both gateways, and the active side listing one peering between them pendingAcceptance.
fn pending_peering_sides() -> (Rule, Rule, Rule) {
    let described = |id: &'static str, table: &'static str| {
        mock!(Client::describe_transit_gateways).then_output(move || {
            DescribeTransitGatewaysOutput::builder()
                .transit_gateways(tgw(id, table))
                .build()
        })
    };
    let active_peerings = mock!(Client::describe_transit_gateway_peering_attachments).then_output(|| {
        DescribeTransitGatewayPeeringAttachmentsOutput::builder()
            .transit_gateway_peering_attachments(peering(TransitGatewayAttachmentState::PendingAcceptance))
            .build()
    });
    (
        described("tgw-aaaaaaaaaaaaaaaaa", "tgw-rtb-aaaaaaaa"),
        active_peerings,
        described("tgw-bbbbbbbbbbbbbbbbb", "tgw-rtb-bbbbbbbb"),
    )
}

#[tokio::test]
async fn given_another_caller_accepts_first_then_incorrect_state_counts_as_success() {
    let (active_tgws, active_peerings, passive_tgws) = pending_peering_sides();
    // The accepter reads pendingAcceptance, loses the race to accept, then reads pending.
    let passive_views = mock!(Client::describe_transit_gateway_peering_attachments)
        .sequence()
        .output(|| {
            DescribeTransitGatewayPeeringAttachmentsOutput::builder()
                .transit_gateway_peering_attachments(peering(
                    TransitGatewayAttachmentState::PendingAcceptance,
                ))
                .build()
        })
        .output(|| {
            DescribeTransitGatewayPeeringAttachmentsOutput::builder()
                .transit_gateway_peering_attachments(peering(TransitGatewayAttachmentState::Pending))
                .build()
        })
        .build();
    let accept = mock!(Client::accept_transit_gateway_peering_attachment).then_error(|| {
        AcceptTransitGatewayPeeringAttachmentError::generic(
            ErrorMetadata::builder()
                .code("IncorrectState")
                .message("is in pending state")
                .build(),
        )
    });
    let context = peer_context(
        &[&active_tgws, &active_peerings],
        &[&passive_tgws, &passive_views, &accept],
    );

    let output = tgw_peering::actions::peer(&context, &json!({})).await.unwrap();

    assert_eq!(output.status.as_deref(), Some("pending"));
    assert_eq!((output.created, output.accepted), (Some(false), Some(false)));
    assert_eq!(accept.num_calls(), 1);
    assert_eq!(passive_views.num_calls(), 2);
}

/// A delete EC2 refuses with `IncorrectState`, and the attachment as a describe then shows it.
async fn delete_refused_while(state: TransitGatewayAttachmentState) -> tgw_peering::error::Result<()> {
    let refused = mock!(Client::delete_transit_gateway_peering_attachment).then_error(|| {
        DeleteTransitGatewayPeeringAttachmentError::generic(
            ErrorMetadata::builder()
                .code("IncorrectState")
                .message("tgw-attach-0123456789abcdef0 is in invalid state")
                .build(),
        )
    });
    let described = mock!(Client::describe_transit_gateway_peering_attachments).then_output(move || {
        DescribeTransitGatewayPeeringAttachmentsOutput::builder()
            .transit_gateway_peering_attachments(peering(state.clone()))
            .build()
    });
    let ec2 = Ec2::new(client("us-east-1", &[&refused, &described]), "us-east-1");
    let result = ec2.delete_peering("tgw-attach-0123456789abcdef0").await;
    assert_eq!((refused.num_calls(), described.num_calls()), (1, 1));
    result
}

#[tokio::test]
async fn given_incorrect_state_on_a_delete_of_a_live_peering_then_it_is_an_error_not_a_deletion() {
    let err = delete_refused_while(TransitGatewayAttachmentState::Available)
        .await
        .unwrap_err();
    assert!(err.is_ec2_code("IncorrectState"), "{err}");
}

#[tokio::test]
async fn given_incorrect_state_on_a_delete_of_a_peering_being_deleted_then_it_counts_as_gone() {
    delete_refused_while(TransitGatewayAttachmentState::Deleting)
        .await
        .unwrap();
}

#[tokio::test]
async fn given_the_accepter_knows_the_peering_by_another_id_then_peer_finds_it_by_its_ends_and_accepts_that_id(
) {
    let (active_tgws, active_peerings, passive_tgws) = pending_peering_sides();
    // By the requester's id the accepter finds nothing; its listing shows the same peering under
    // its own id, next to an unrelated one.
    let by_id = mock!(Client::describe_transit_gateway_peering_attachments)
        .match_requests(|r| !r.transit_gateway_attachment_ids().is_empty())
        .then_output(|| DescribeTransitGatewayPeeringAttachmentsOutput::builder().build());
    let listing = mock!(Client::describe_transit_gateway_peering_attachments)
        .match_requests(|r| r.transit_gateway_attachment_ids().is_empty())
        .then_output(|| {
            let unrelated = peering_of(
                "tgw-attach-0000000000000000f",
                "tgw-ccccccccccccccccc",
                TransitGatewayAttachmentState::PendingAcceptance,
            );
            let ours = peering_of(
                "tgw-attach-0fedcba9876543210",
                "tgw-aaaaaaaaaaaaaaaaa",
                TransitGatewayAttachmentState::PendingAcceptance,
            );
            DescribeTransitGatewayPeeringAttachmentsOutput::builder()
                .transit_gateway_peering_attachments(unrelated)
                .transit_gateway_peering_attachments(ours)
                .build()
        });
    let accept = mock!(Client::accept_transit_gateway_peering_attachment)
        .match_requests(|r| r.transit_gateway_attachment_id() == Some("tgw-attach-0fedcba9876543210"))
        .then_output(|| {
            aws_sdk_ec2::operation::accept_transit_gateway_peering_attachment::AcceptTransitGatewayPeeringAttachmentOutput::builder()
                .transit_gateway_peering_attachment(peering(TransitGatewayAttachmentState::Pending))
                .build()
        });
    // The passive side is another account, reached through its role.
    let role = "arn:aws:iam::111122223333:role/tgw-peering-passive";
    let context = peer_context(&[&active_tgws, &active_peerings], &[]).with_ec2_client_as(
        "eu-west-1",
        role,
        client("eu-west-1", &[&passive_tgws, &by_id, &listing, &accept]),
    );

    let output = tgw_peering::actions::peer(&context, &json!({"passiveRoleArn": role}))
        .await
        .unwrap();

    assert_eq!(accept.num_calls(), 1, "accepted by the accepter's own id");
    assert_eq!(output.accepted, Some(true));
    assert_eq!(output.attachment(), Some("tgw-attach-0123456789abcdef0"));
    assert_eq!(
        output.passive_attachment_id.as_deref(),
        Some("tgw-attach-0fedcba9876543210")
    );
}

/// A context whose two Regions answer with these doubles, with the stack's Regions as defaults.
fn peer_context(active: &[&Rule], passive: &[&Rule]) -> Shell {
    let defaults = Defaults {
        active_region: Some("us-east-1".into()),
        passive_region: Some("eu-west-1".into()),
        ..Defaults::default()
    };
    let sdk_config = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .build();
    Shell::new(sdk_config, defaults)
        .with_ec2_client("us-east-1", client("us-east-1", active))
        .with_ec2_client("eu-west-1", client("eu-west-1", passive))
}

fn create_refused() -> Rule {
    mock!(Client::create_transit_gateway_route).then_error(|| {
        CreateTransitGatewayRouteError::generic(
            ErrorMetadata::builder()
                .code("RouteAlreadyExists")
                .message("Route 10.20.0.0/16 already exists in Transit Gateway Route Table tgw-rtb-11111111.")
                .build(),
        )
    })
}

fn exact_route_reads(found: Option<TransitGatewayRoute>) -> Rule {
    mock!(Client::search_transit_gateway_routes)
        .match_requests(|r| {
            r.filters()
                .iter()
                .any(|f| f.name() == Some("route-search.exact-match"))
        })
        .then_output(move || {
            SearchTransitGatewayRoutesOutput::builder()
                .set_routes(found.clone().map(|r| vec![r]))
                .build()
        })
}

const PEERING_ID: &str = "tgw-attach-0123456789abcdef0";

/// Creates 10.20.0.0/16 via the peering where EC2 refuses the create and a re-read then finds
/// `found`. Returns the outcome and how often the create and the re-read were called.
async fn apply_after_refused_create(
    found: Option<TransitGatewayRoute>,
) -> (tgw_peering::Result<Applied>, usize, usize) {
    let (create, reread) = (create_refused(), exact_route_reads(found));
    let ec2 = Ec2::new(client("us-east-1", &[&create, &reread]), "us-east-1");
    let outcome = create_planned_route(
        &ec2,
        "tgw-rtb-11111111",
        "10.20.0.0/16".parse().unwrap(),
        PEERING_ID,
    )
    .await;
    (outcome, create.num_calls(), reread.num_calls())
}

#[tokio::test]
async fn given_a_concurrent_writer_added_the_same_route_then_the_refused_create_counts_as_present() {
    let (outcome, creates, rereads) =
        apply_after_refused_create(Some(route("10.20.0.0/16", Some(PEERING_ID)))).await;

    assert_eq!(outcome.unwrap(), Applied::FoundPresent);
    assert_eq!((creates, rereads), (1, 1));
}

#[tokio::test]
async fn given_someone_else_routed_the_cidr_meanwhile_then_the_refused_create_is_a_conflict_left_alone() {
    let (outcome, creates, _) = apply_after_refused_create(Some(route("10.20.0.0/16", None))).await;

    assert_eq!(
        outcome.unwrap(),
        Applied::FoundConflict {
            target: "blackhole".to_owned()
        }
    );
    assert_eq!(creates, 1, "never retried over someone else's route");
}

#[tokio::test]
async fn given_a_refused_create_with_no_route_there_then_the_ec2_error_is_reported() {
    let (outcome, _, rereads) = apply_after_refused_create(None).await;

    let err = outcome.unwrap_err();
    assert_eq!(err.error_type(), "Ec2Error");
    assert!(err.to_string().contains("RouteAlreadyExists"), "{err}");
    assert_eq!(rereads, 1);
}

mod vpc_route_tables {
    use super::*;
    use aws_sdk_ec2::operation::create_route::CreateRouteError;
    use aws_sdk_ec2::operation::describe_route_tables::DescribeRouteTablesOutput;
    use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
    use aws_sdk_ec2::types::{Route, RouteOrigin, RouteState, RouteTable, RouteTableAssociation, Subnet};
    use tgw_peering::actions::routes::create_planned_vpc_route;
    use tgw_peering::plan::routing::Origin;

    const TGW: &str = "tgw-0123456789abcdef0";

    fn table(id: &str, routes: Vec<Route>) -> RouteTable {
        RouteTable::builder()
            .route_table_id(id)
            .vpc_id("vpc-11111111")
            .associations(RouteTableAssociation::builder().main(true).build())
            .set_routes(Some(routes))
            .build()
    }

    fn via_tgw(cidr: &str) -> Route {
        Route::builder()
            .destination_cidr_block(cidr)
            .transit_gateway_id(TGW)
            .state(RouteState::Active)
            .origin(RouteOrigin::CreateRoute)
            .build()
    }

    #[tokio::test]
    async fn given_two_pages_of_route_tables_then_both_are_read_with_their_routes_and_origins() {
        let first = mock!(Client::describe_route_tables)
            .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(100))
            .then_output(|| {
                DescribeRouteTablesOutput::builder()
                    .route_tables(table(
                        "rtb-11111111",
                        vec![Route::builder()
                            .destination_cidr_block("10.1.0.0/16")
                            .gateway_id("local")
                            .origin(RouteOrigin::CreateRouteTable)
                            .state(RouteState::Active)
                            .build()],
                    ))
                    .next_token("more")
                    .build()
            });
        let second = mock!(Client::describe_route_tables)
            .match_requests(|r| r.next_token() == Some("more"))
            .then_output(|| {
                DescribeRouteTablesOutput::builder()
                    .route_tables(table(
                        "rtb-22222222",
                        vec![
                            via_tgw("10.20.0.0/16"),
                            Route::builder()
                                .destination_cidr_block("192.168.0.0/16")
                                .gateway_id("vgw-11111111")
                                .origin(RouteOrigin::EnableVgwRoutePropagation)
                                .state(RouteState::Blackhole)
                                .build(),
                        ],
                    ))
                    .build()
            });
        let ec2 = Ec2::new(client("us-east-1", &[&first, &second]), "us-east-1");

        let tables = ec2.vpc_route_tables(&["vpc-11111111".to_owned()]).await.unwrap();

        assert_eq!(
            tables.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["rtb-11111111", "rtb-22222222"]
        );
        assert!(tables.iter().all(|t| t.main));
        assert_eq!(tables[0].routes[0].origin, Origin::Local);
        let second_routes: Vec<(String, Option<String>, bool, Origin)> = tables[1]
            .routes
            .iter()
            .map(|r| {
                (
                    r.cidr.to_string(),
                    r.target.clone(),
                    r.blackhole,
                    r.origin.clone(),
                )
            })
            .collect();
        assert_eq!(
            second_routes,
            [
                (
                    "10.20.0.0/16".to_owned(),
                    Some(TGW.to_owned()),
                    false,
                    Origin::Static
                ),
                (
                    "192.168.0.0/16".to_owned(),
                    Some("vgw-11111111".to_owned()),
                    true,
                    Origin::Propagated {
                        resource_type: "vgw".to_owned()
                    }
                ),
            ]
        );
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn given_more_vpcs_than_one_filter_takes_then_subnets_are_read_in_chunks_of_200() {
        let reads = mock!(Client::describe_subnets)
            .match_requests(|r| r.filters().first().is_some_and(|f| f.values().len() <= 200))
            .then_output(|| {
                DescribeSubnetsOutput::builder()
                    .subnets(
                        Subnet::builder()
                            .subnet_id("subnet-11111111")
                            .vpc_id("vpc-11111111")
                            .availability_zone("us-east-1a")
                            .build(),
                    )
                    .build()
            });
        let ec2 = Ec2::new(client("us-east-1", &[&reads]), "us-east-1");
        let vpcs: Vec<String> = (0..450).map(|i| format!("vpc-{i:08x}")).collect();

        let subnets = ec2.subnets(&vpcs).await.unwrap();

        assert_eq!(reads.num_calls(), 3);
        assert_eq!(subnets.len(), 3);
    }

    #[tokio::test]
    async fn given_network_acls_then_their_rules_and_subnets_are_read_by_vpc_in_chunks_of_200() {
        use aws_sdk_ec2::operation::describe_network_acls::DescribeNetworkAclsOutput;
        use aws_sdk_ec2::types::{NetworkAcl, NetworkAclAssociation, NetworkAclEntry, PortRange, RuleAction};
        use tgw_peering::plan::network_acl::PortRange as Ports;
        let reads = mock!(Client::describe_network_acls)
            .match_requests(|r| {
                r.filters()
                    .first()
                    .is_some_and(|f| f.name() == Some("vpc-id") && f.values().len() <= 200)
            })
            .then_output(|| {
                let entry = |number: i32, egress: bool, action: RuleAction| {
                    NetworkAclEntry::builder()
                        .rule_number(number)
                        .egress(egress)
                        .rule_action(action)
                };
                DescribeNetworkAclsOutput::builder()
                    .network_acls(
                        NetworkAcl::builder()
                            .network_acl_id("acl-11111111")
                            .vpc_id("vpc-11111111")
                            .is_default(false)
                            .associations(
                                NetworkAclAssociation::builder()
                                    .subnet_id("subnet-11111111")
                                    .build(),
                            )
                            .entries(
                                entry(100, false, RuleAction::Allow)
                                    .protocol("6")
                                    .cidr_block("10.2.0.0/16")
                                    .port_range(PortRange::builder().from(443).to(443).build())
                                    .build(),
                            )
                            .entries(
                                entry(32767, true, RuleAction::Deny)
                                    .protocol("-1")
                                    .ipv6_cidr_block("::/0")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
        let ec2 = Ec2::new(client("us-east-1", &[&reads]), "us-east-1");
        let vpcs: Vec<String> = (0..201).map(|i| format!("vpc-{i:08x}")).collect();

        let acls = ec2.network_acls(&vpcs).await.unwrap();

        assert_eq!(reads.num_calls(), 2);
        let acl = &acls[0];
        assert_eq!((acl.id.as_str(), acl.is_default), ("acl-11111111", false));
        assert_eq!(acl.subnet_ids, ["subnet-11111111"]);
        let https = &acl.entries[0];
        assert_eq!((https.rule_number, https.egress, https.allow), (100, false, true));
        assert_eq!(https.ports, Some(Ports { from: 443, to: 443 }));
        let star = &acl.entries[1];
        assert_eq!((star.rule_number, star.egress, star.allow), (32767, true, false));
        assert_eq!(star.cidr.to_string(), "::/0");
    }

    fn create_refused() -> Rule {
        mock!(Client::create_route).then_error(|| {
            CreateRouteError::generic(
                ErrorMetadata::builder()
                    .code("RouteAlreadyExists")
                    .message("The route identified by 10.20.0.0/16 already exists.")
                    .build(),
            )
        })
    }

    fn reread(found: Option<Route>) -> Rule {
        mock!(Client::describe_route_tables)
            .match_requests(|r| r.route_table_ids() == ["rtb-11111111"])
            .then_output(move || {
                DescribeRouteTablesOutput::builder()
                    .route_tables(table("rtb-11111111", found.clone().into_iter().collect()))
                    .build()
            })
    }

    async fn apply_after_refused_create(
        found: Option<Route>,
    ) -> (tgw_peering::Result<Applied>, usize, usize) {
        let (create, reread) = (create_refused(), reread(found));
        let ec2 = Ec2::new(client("us-east-1", &[&create, &reread]), "us-east-1");
        let outcome =
            create_planned_vpc_route(&ec2, "rtb-11111111", "10.20.0.0/16".parse().unwrap(), TGW).await;
        (outcome, create.num_calls(), reread.num_calls())
    }

    #[tokio::test]
    async fn given_a_concurrent_writer_added_the_same_vpc_route_then_the_refused_create_counts_as_present() {
        let (outcome, creates, rereads) = apply_after_refused_create(Some(via_tgw("10.20.0.0/16"))).await;
        assert_eq!(outcome.unwrap(), Applied::FoundPresent);
        assert_eq!((creates, rereads), (1, 1));
    }

    #[tokio::test]
    async fn given_someone_else_routed_the_cidr_in_the_vpc_table_meanwhile_then_it_is_a_conflict_left_alone()
    {
        let nat = Route::builder()
            .destination_cidr_block("10.20.0.0/16")
            .nat_gateway_id("nat-11111111")
            .state(RouteState::Active)
            .origin(RouteOrigin::CreateRoute)
            .build();
        let (outcome, creates, _) = apply_after_refused_create(Some(nat)).await;
        assert_eq!(
            outcome.unwrap(),
            Applied::FoundConflict {
                target: "nat-11111111".to_owned()
            }
        );
        assert_eq!(creates, 1, "never retried over someone else's route");
    }

    #[tokio::test]
    async fn given_a_refused_vpc_route_create_with_no_route_there_then_the_ec2_error_is_reported() {
        let (outcome, _, rereads) = apply_after_refused_create(None).await;
        let err = outcome.unwrap_err();
        assert_eq!(err.error_type(), "Ec2Error");
        assert!(err.to_string().contains("RouteAlreadyExists"), "{err}");
        assert_eq!(rereads, 1);
    }
}
