//! The summary an operator is sent when an execution succeeds but left something for a person:
//! routes it refused to write because the table already routes the CIDR elsewhere (conflicts),
//! VPC pairs that cannot reach each other, and, in a teardown, recorded routes it refused to
//! remove because they now go elsewhere (`leftAlone`). Pure functions over the reports; the state
//! machine publishes the notice to the stack's SNS topic when one is configured.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::reachability::Reachability;
use crate::plan::report::{RoutesReport, SideReport};
use crate::plan::teardown::TeardownReport;

/// At most this many conflicts, and this many unreachable pairs, are named in a message.
pub const MAX_NAMED: usize = 10;

/// The message's last line; the state machine appends the execution's console link to it.
pub const EXECUTION_LINE: &str = "Execution:";

/// SNS refuses a `Subject` of 100 characters or more ("must be less than 100 characters long",
/// docs/aws-facts.md `sns-subject-limit`).
pub const MAX_SUBJECT_CHARS: usize = 99;

/// What the state machine publishes (`notice` in `modify-routes`' output).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// The SNS subject: ASCII, one line, at most [`MAX_SUBJECT_CHARS`] characters.
    pub subject: String,
    /// A few readable lines, the last one [`EXECUTION_LINE`].
    pub message: String,
    pub conflicts: usize,
    pub unreachable_pairs: usize,
    pub left_alone: usize,
}

/// The peering the notice is about: `us-east-1:tgw-… <-> eu-west-1:tgw-…`, and its attachment.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    pub gateway_pair: &'a str,
    pub attachment_id: &'a str,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn subject(parts: &[String]) -> String {
    let text = format!("tgw-peering needs attention: {}", parts.join(", "));
    text.chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .take(MAX_SUBJECT_CHARS)
        .collect()
}

fn table_conflicts<'a>(label: &'a str, report: &'a SideReport) -> impl Iterator<Item = String> + 'a {
    report.conflicts.iter().map(move |conflict| {
        format!(
            "  {label} {}: {} goes to {}",
            report.route_table_id, conflict.cidr, conflict.target
        )
    })
}

/// One unreachable pair, read generically: the pair, the first missing hop and where it is.
fn pair_line(result: &Value) -> String {
    // A string as it is, a number (an ACL's rule number) as written; anything else is left out.
    let text = |key: &str| match result.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    };
    let mut line = format!(
        "  {} <-> {}: {}",
        text("activeVpcId"),
        text("passiveVpcId"),
        text("result")
    );
    let keys = [
        "direction",
        "region",
        "routeTableId",
        "vpcId",
        "networkAclId",
        "ruleNumber",
        "aclDirection",
        "leg",
        "cidr",
        "target",
    ];
    for key in keys {
        if !text(key).is_empty() {
            line.push_str(&format!(" {key}={}", text(key)));
        }
    }
    line
}

/// The pairs no security group admits, as advice in a notice sent for something else: on its own
/// it needs no person (a group applies per interface, and the tool cannot tell which).
fn group_advice(reachability: &Reachability) -> Vec<String> {
    let Some(advice) = reachability
        .security_groups
        .as_ref()
        .filter(|a| a.no_group_admits > 0)
    else {
        return Vec::new();
    };
    let mut lines = vec![format!(
        "VPC pairs where no security group of a VPC admits the other's CIDRs: {} of {} (advice):",
        advice.no_group_admits, reachability.pairs
    )];
    lines.extend(advice.pairs.iter().take(MAX_NAMED).map(|pair| {
        format!(
            "  {} <-> {}: none in {}",
            pair.active_vpc_id, pair.passive_vpc_id, pair.vpc_id
        )
    }));
    let more = advice
        .no_group_admits
        .saturating_sub(advice.pairs.len().min(MAX_NAMED));
    if more > 0 {
        lines.push(format!("  ... and {more} more (see the execution's output)"));
    }
    lines
}

/// The notice for a setup's last report, or `None` when nothing needs a person.
pub fn for_routes(about: About<'_>, routes: &RoutesReport, reachability: &Reachability) -> Option<Notice> {
    let tables = || {
        routes
            .tgw_route_tables
            .iter()
            .map(|t| (t.side.as_str(), &t.report))
            .chain(
                routes
                    .vpc_route_tables
                    .iter()
                    .map(|t| (t.side.as_str(), &t.report)),
            )
    };
    let conflicts: usize = tables().map(|(_, report)| report.counts.conflicts).sum();
    let unreachable = reachability.unreachable;
    if conflicts == 0 && unreachable == 0 {
        return None;
    }
    let mut parts = Vec::new();
    let mut lines = vec![
        "tgw-peering finished, and left something for you to look at.".to_owned(),
        format!(
            "Gateway pair: {} (attachment {})",
            about.gateway_pair, about.attachment_id
        ),
    ];
    if conflicts > 0 {
        parts.push(plural(conflicts, "route conflict", "route conflicts"));
        lines.push(format!(
            "Route conflicts: {conflicts}. The table already routes these CIDRs elsewhere; they were left alone:"
        ));
        let named: Vec<String> = tables()
            .flat_map(|(label, report)| table_conflicts(label, report))
            .take(MAX_NAMED)
            .collect();
        let more = conflicts.saturating_sub(named.len());
        lines.extend(named);
        if more > 0 {
            lines.push(format!("  ... and {more} more (see the execution's output)"));
        }
    }
    if unreachable > 0 {
        parts.push(plural(
            unreachable,
            "unreachable VPC pair",
            "unreachable VPC pairs",
        ));
        lines.push(format!(
            "Unreachable VPC pairs: {unreachable} of {}. The first missing hop of each:",
            reachability.pairs
        ));
        let named: Vec<String> = reachability
            .results
            .iter()
            .filter_map(|pair| serde_json::to_value(pair).ok())
            .filter(|pair| pair.get("result").and_then(Value::as_str) != Some("reachable"))
            .take(MAX_NAMED)
            .map(|pair| pair_line(&pair))
            .collect();
        let more = unreachable.saturating_sub(named.len());
        lines.extend(named);
        if more > 0 {
            lines.push(format!("  ... and {more} more (see the execution's output)"));
        }
    }
    lines.extend(group_advice(reachability));
    lines.push(EXECUTION_LINE.to_owned());
    Some(Notice {
        subject: subject(&parts),
        message: lines.join("\n"),
        conflicts,
        unreachable_pairs: unreachable,
        left_alone: 0,
    })
}

/// The notice for a teardown's report, or `None` when it removed everything it recorded.
pub fn for_teardown(about: About<'_>, teardown: &TeardownReport) -> Option<Notice> {
    let tables = || {
        teardown
            .tgw_route_tables
            .iter()
            .map(|t| (t.side.as_str(), &t.report))
            .chain(
                teardown
                    .vpc_route_tables
                    .iter()
                    .map(|t| (t.side.as_str(), &t.report)),
            )
    };
    let left_alone: usize = tables().map(|(_, table)| table.counts.left_alone).sum();
    if left_alone == 0 {
        return None;
    }
    let mut lines = vec![
        "tgw-peering teardown finished, and left routes in place for you to look at.".to_owned(),
        format!(
            "Gateway pair: {} (attachment {})",
            about.gateway_pair, about.attachment_id
        ),
        format!("Routes left alone: {left_alone}. This tool created them, but they now go elsewhere:"),
    ];
    let named: Vec<String> = tables()
        .flat_map(|(label, table)| {
            table
                .left_alone
                .iter()
                .map(move |cidr| format!("  {label} {}: {cidr}", table.route_table_id))
        })
        .take(MAX_NAMED)
        .collect();
    let more = left_alone.saturating_sub(named.len());
    lines.extend(named);
    if more > 0 {
        lines.push(format!("  ... and {more} more (see the execution's output)"));
    }
    lines.push(EXECUTION_LINE.to_owned());
    Some(Notice {
        subject: subject(&[plural(left_alone, "route left alone", "routes left alone")]),
        message: lines.join("\n"),
        conflicts: 0,
        unreachable_pairs: 0,
        left_alone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::report::{Counts, Omitted, TgwTableReport};
    use crate::plan::routing::Conflict;
    use crate::plan::teardown::{SideTableTeardownReport, TableTeardownReport, TeardownCounts};
    use crate::plan::Side;

    const ABOUT: About<'static> = About {
        gateway_pair: "us-east-1:tgw-a <-> eu-west-1:tgw-p",
        attachment_id: "tgw-attach-1",
    };

    fn table(id: &str, conflicts: usize) -> SideReport {
        SideReport {
            route_table_id: id.into(),
            conflicts: (0..conflicts)
                .map(|i| Conflict {
                    cidr: format!("10.{i}.0.0/16").parse().unwrap(),
                    target: "blackhole".into(),
                })
                .collect(),
            counts: Counts {
                conflicts,
                ..Counts::default()
            },
            ..SideReport::default()
        }
    }

    fn routes(active: usize, passive: usize) -> RoutesReport {
        RoutesReport {
            tgw_route_tables: vec![
                TgwTableReport {
                    side: Side::Active,
                    report: table("tgw-rtb-a", active),
                },
                TgwTableReport {
                    side: Side::Passive,
                    report: table("tgw-rtb-p", passive),
                },
            ],
            complete: true,
            passes: 1,
            ..RoutesReport::default()
        }
    }

    #[test]
    fn a_clean_report_sends_nothing() {
        assert_eq!(for_routes(ABOUT, &routes(0, 0), &Reachability::default()), None);
    }

    #[test]
    fn a_conflict_is_named_with_its_table_and_target_and_the_pair() {
        let notice = for_routes(ABOUT, &routes(0, 1), &Reachability::default()).unwrap();
        assert_eq!(notice.subject, "tgw-peering needs attention: 1 route conflict");
        assert_eq!(notice.conflicts, 1);
        assert!(notice
            .message
            .contains("Gateway pair: us-east-1:tgw-a <-> eu-west-1:tgw-p (attachment tgw-attach-1)"));
        assert!(
            notice
                .message
                .contains("  passive tgw-rtb-p: 10.0.0.0/16 goes to blackhole"),
            "{}",
            notice.message
        );
    }

    #[test]
    fn many_conflicts_name_the_first_few_and_count_the_rest() {
        let notice = for_routes(ABOUT, &routes(8, 7), &Reachability::default()).unwrap();
        assert_eq!(notice.conflicts, 15);
        assert_eq!(notice.message.matches(" goes to ").count(), MAX_NAMED);
        assert!(notice.message.contains("... and 5 more"));
    }

    #[test]
    fn unreachable_pairs_are_counted_and_the_subject_stays_short_ascii() {
        let reachability: Reachability = serde_json::from_value(serde_json::json!({
            "pairs": 2, "reachable": 1, "unreachable": 1,
            "results": [
                {"activeVpcId": "vpc-a", "passiveVpcId": "vpc-c", "direction": "there", "result": "noVpcRoute",
                 "region": "us-east-1", "routeTableId": "rtb-1", "cidr": "10.20.0.0/16"},
                {"activeVpcId": "vpc-b", "passiveVpcId": "vpc-c", "result": "reachable"}
            ]
        }))
        .unwrap();
        let notice = for_routes(ABOUT, &routes(2, 0), &reachability).unwrap();
        assert_eq!(notice.unreachable_pairs, 1);
        assert_eq!(
            notice.subject,
            "tgw-peering needs attention: 2 route conflicts, 1 unreachable VPC pair"
        );
        assert!(notice.message.contains(
            "  vpc-a <-> vpc-c: noVpcRoute direction=there region=us-east-1 routeTableId=rtb-1 cidr=10.20.0.0/16"
        ));
        assert!(!notice.message.contains("vpc-b"));
        assert!(notice.subject.len() < 100 && notice.subject.is_ascii() && !notice.subject.contains('\n'));
    }

    #[test]
    fn a_pair_blocked_by_a_network_acl_names_the_acl_its_rule_and_the_direction() {
        let reachability: Reachability = serde_json::from_value(serde_json::json!({
            "pairs": 1, "reachable": 0, "unreachable": 1,
            "results": [
                {"activeVpcId": "vpc-a", "passiveVpcId": "vpc-c", "direction": "there",
                 "result": "blockedByNetworkAcl", "region": "eu-west-1", "vpcId": "vpc-c",
                 "networkAclId": "acl-1", "ruleNumber": 50, "aclDirection": "inbound", "leg": "request",
                 "cidr": "10.1.0.0/16"}
            ]
        }))
        .unwrap();
        let notice = for_routes(ABOUT, &routes(0, 0), &reachability).unwrap();
        assert!(
            notice.message.contains(
                "  vpc-a <-> vpc-c: blockedByNetworkAcl direction=there region=eu-west-1 vpcId=vpc-c \
                 networkAclId=acl-1 ruleNumber=50 aclDirection=inbound leg=request cidr=10.1.0.0/16"
            ),
            "{}",
            notice.message
        );
    }

    #[test]
    fn given_a_notice_then_it_names_the_pairs_no_security_group_admits_and_alone_they_send_none() {
        let mut reachability: Reachability = serde_json::from_value(serde_json::json!({
            "pairs": 1, "reachable": 1, "unreachable": 0,
            "results": [{"activeVpcId": "vpc-a", "passiveVpcId": "vpc-c", "result": "reachable"}],
            "securityGroups": {"admitted": 0, "noGroupAdmits": 1, "pairs": [
                {"activeVpcId": "vpc-a", "passiveVpcId": "vpc-c", "securityGroups": "noGroupAdmits", "vpcId": "vpc-c"}]}
        }))
        .unwrap();
        assert_eq!(for_routes(ABOUT, &routes(0, 0), &reachability), None);
        let notice = for_routes(ABOUT, &routes(1, 0), &reachability).unwrap();
        assert!(
            notice.message.contains("  vpc-a <-> vpc-c: none in vpc-c"),
            "{}",
            notice.message
        );
        reachability.security_groups = None;
        let notice = for_routes(ABOUT, &routes(1, 0), &reachability).unwrap();
        assert!(!notice.message.contains("security group"), "{}", notice.message);
    }

    #[test]
    fn given_a_subject_longer_than_sns_takes_then_it_is_cut_below_100_characters() {
        let parts = vec!["x".repeat(200)];
        let cut = subject(&parts);
        assert_eq!(cut.chars().count(), 99);
        assert!(cut.starts_with("tgw-peering needs attention: xxx"));
    }

    #[test]
    fn a_teardown_that_left_routes_alone_says_which() {
        let report = TeardownReport {
            tgw_route_tables: vec![SideTableTeardownReport {
                side: Side::Active,
                report: TableTeardownReport {
                    route_table_id: "tgw-rtb-a".into(),
                    deleted: vec![],
                    left_alone: vec!["10.9.0.0/16".parse().unwrap()],
                    counts: TeardownCounts {
                        deleted: 0,
                        left_alone: 1,
                    },
                },
            }],
            vpc_route_tables: vec![],
            propagations: vec![],
            omitted: Omitted::default(),
            complete: true,
        };
        let notice = for_teardown(ABOUT, &report).unwrap();
        assert_eq!(notice.left_alone, 1);
        assert_eq!(notice.subject, "tgw-peering needs attention: 1 route left alone");
        assert!(notice.message.contains("  active tgw-rtb-a: 10.9.0.0/16"));
        assert_eq!(for_teardown(ABOUT, &TeardownReport::default()), None);
    }
}
