//! What `modify-routes` tells CloudWatch: its report as CloudWatch Embedded Metric Format (EMF)
//! documents, one JSON object per log line. CloudWatch Logs extracts the metrics from the log, so
//! they cost no API call and no IAM permission. Pure functions over the report.
//!
//! Namespace [`NAMESPACE`]. Two kinds of document:
//!
//! - one per route table (each side's TGW route table, and each VPC route table with
//!   `vpcRoutes`), dimensions `GatewayPair`, `Side`, `RouteTable`: `RoutesCreated`,
//!   `RoutesPresent`, `RouteConflicts`, `RoutesRemaining`;
//! - one per pass, with the two dimension sets `FunctionName` and `GatewayPair`: the same four
//!   summed over every table, and on the last pass (`complete`) `UnreachableVpcPairs`,
//!   `ReachableVpcPairs`.
//!
//! `RoutesCreated` counts the routes *this pass* wrote, so its Sum over time is the routes the tool
//! created; the others are the state the pass left (graph and alarm on their Maximum). Every
//! metric has the unit `Count`.
//!
//! Every document carries `level`: Lambda's application log-level filter drops a JSON line below
//! the function's `ApplicationLogLevel` and takes a line with no `level` as INFO, so without it
//! the metrics (and the `UnreachableVpcPairs` alarm) would vanish at WARN and above. Each document
//! says the function's own configured level ([`LogLevel`]), so it passes at every setting.
//!
//! Specification: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use serde_json::{json, Map, Value};

use crate::plan::reachability::Reachability;
use crate::plan::report::{RoutesReport, SideReport};
use crate::plan::Side;

/// The CloudWatch namespace of every metric the tool writes.
pub const NAMESPACE: &str = "TgwPeering";

/// The metrics of one route table, in the order they are declared.
pub const TABLE_METRICS: [&str; 4] = [
    "RoutesCreated",
    "RoutesPresent",
    "RouteConflicts",
    "RoutesRemaining",
];

/// The metrics of the per-pass document: the table metrics summed, and the VPC pairs.
pub const PASS_METRICS: [&str; 6] = [
    "RoutesCreated",
    "RoutesPresent",
    "RouteConflicts",
    "RoutesRemaining",
    "UnreachableVpcPairs",
    "ReachableVpcPairs",
];

/// A Lambda application log level, lowest first (docs/aws-facts.md `lambda-json-log-without-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl LogLevel {
    pub const ALL: [LogLevel; 6] = [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
        LogLevel::Fatal,
    ];

    /// The level as Lambda reads it: any case; missing or unknown is INFO, as Lambda takes it.
    pub fn parse(raw: Option<&str>) -> Self {
        let raw = raw.map(str::trim).unwrap_or_default();
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(raw))
            .unwrap_or(LogLevel::Info)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }
}

/// One end of the peering, as the `GatewayPair` dimension names it.
#[derive(Debug, Clone, Copy)]
pub struct GatewayEnd<'a> {
    pub region: &'a str,
    pub transit_gateway_id: &'a str,
}

/// What the documents are about, and when.
#[derive(Debug, Clone, Copy)]
pub struct MetricContext<'a> {
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`): one per stack, so the stack's alarms and
    /// dashboard can name it before any gateway is known.
    pub function_name: &'a str,
    pub active: GatewayEnd<'a>,
    pub passive: GatewayEnd<'a>,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The function's application log level (`AWS_LAMBDA_LOG_LEVEL`, which Lambda sets from
    /// `ApplicationLogLevel`): each document says it, so Lambda's filter keeps it.
    pub level: LogLevel,
}

/// The `GatewayPair` dimension's value: `us-east-1:tgw-… <-> eu-west-1:tgw-…`.
pub fn gateway_pair(active: GatewayEnd<'_>, passive: GatewayEnd<'_>) -> String {
    format!(
        "{}:{} <-> {}:{}",
        active.region, active.transit_gateway_id, passive.region, passive.transit_gateway_id
    )
}

/// The four numbers of one table after this pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TableNumbers {
    created: usize,
    present: usize,
    conflicts: usize,
    remaining: usize,
}

impl TableNumbers {
    /// `created` is what this pass added to the execution's count.
    fn of(report: &SideReport, earlier: Option<&SideReport>) -> Self {
        let before = earlier.map_or(0, |e| e.counts.created.max(e.created.len()));
        Self {
            created: report.counts.created.saturating_sub(before),
            present: report.counts.present,
            conflicts: report.counts.conflicts,
            remaining: report.counts.remaining,
        }
    }

    fn add(self, other: Self) -> Self {
        Self {
            created: self.created + other.created,
            present: self.present + other.present,
            conflicts: self.conflicts + other.conflicts,
            remaining: self.remaining + other.remaining,
        }
    }

    fn values(self) -> [usize; 4] {
        [self.created, self.present, self.conflicts, self.remaining]
    }
}

fn directive(timestamp_ms: u64, dimensions: Value, metrics: &[&str]) -> Value {
    let metrics: Vec<Value> = metrics
        .iter()
        .map(|name| json!({"Name": name, "Unit": "Count"}))
        .collect();
    json!({
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": metrics}],
    })
}

fn table_document(
    context: &MetricContext<'_>,
    pair: &str,
    side: Side,
    kind: &str,
    report: &SideReport,
    numbers: TableNumbers,
) -> Value {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        directive(
            context.timestamp_ms,
            json!([["GatewayPair", "Side", "RouteTable"]]),
            &TABLE_METRICS,
        ),
    );
    root.insert("level".into(), json!(context.level.as_str()));
    root.insert("GatewayPair".into(), json!(pair));
    root.insert("Side".into(), json!(side.as_str()));
    root.insert("RouteTable".into(), json!(report.route_table_id));
    root.insert("TableKind".into(), json!(kind));
    for (name, value) in TABLE_METRICS.iter().zip(numbers.values()) {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root)
}

/// The EMF documents of one `modify-routes` pass: one per route table, then the pass's totals.
/// `earlier` is the report the pass continued (`None` on a first pass), so `RoutesCreated` is
/// this pass's writes only. `last_pass`: the state machine will not call again (every route
/// written and the peering's association settled).
pub fn emf_documents(
    context: &MetricContext<'_>,
    earlier: Option<&RoutesReport>,
    routes: &RoutesReport,
    reachability: &Reachability,
    last_pass: bool,
) -> Vec<Value> {
    let pair = gateway_pair(context.active, context.passive);
    let mut documents = Vec::new();
    let mut total = TableNumbers::default();
    for table in &routes.tgw_route_tables {
        let before = earlier.and_then(|e| e.tgw_table(&table.report.route_table_id));
        let numbers = TableNumbers::of(&table.report, before);
        total = total.add(numbers);
        documents.push(table_document(
            context,
            &pair,
            table.side,
            "transitGateway",
            &table.report,
            numbers,
        ));
    }
    for table in &routes.vpc_route_tables {
        let before = earlier.and_then(|e| e.vpc_table(&table.report.route_table_id));
        let numbers = TableNumbers::of(&table.report, before);
        total = total.add(numbers);
        documents.push(table_document(
            context,
            &pair,
            table.side,
            "vpc",
            &table.report,
            numbers,
        ));
    }

    // Until the last pass, pairs whose routes are still to be written (or whose peering is still
    // being associated) read as unreachable: only the last pass reports the VPC pairs, so an
    // alarm on them sees finished runs only.
    let pass_metrics = if last_pass {
        &PASS_METRICS[..]
    } else {
        &TABLE_METRICS[..]
    };
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        directive(
            context.timestamp_ms,
            json!([["FunctionName"], ["GatewayPair"]]),
            pass_metrics,
        ),
    );
    root.insert("level".into(), json!(context.level.as_str()));
    root.insert("FunctionName".into(), json!(context.function_name));
    root.insert("GatewayPair".into(), json!(pair));
    root.insert("Pass".into(), json!(routes.passes));
    root.insert("Complete".into(), json!(routes.complete));
    for (name, value) in TABLE_METRICS.iter().zip(total.values()) {
        root.insert((*name).into(), json!(value));
    }
    if routes.complete {
        root.insert("UnreachableVpcPairs".into(), json!(reachability.unreachable));
        root.insert("ReachableVpcPairs".into(), json!(reachability.reachable));
    }
    documents.push(Value::Object(root));
    documents
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::report::{Counts, Omitted, TgwTableReport, VpcTableReport};
    use crate::plan::routing::Conflict;

    fn two_tables(active: SideReport, passive: SideReport) -> Vec<TgwTableReport> {
        vec![
            TgwTableReport {
                side: Side::Active,
                report: active,
            },
            TgwTableReport {
                side: Side::Passive,
                report: passive,
            },
        ]
    }

    fn net(s: &str) -> ipnet::IpNet {
        s.parse().unwrap()
    }

    fn side(id: &str, created: &[&str], present: usize, conflicts: usize, remaining: usize) -> SideReport {
        SideReport {
            route_table_id: id.into(),
            created: created.iter().map(|c| net(c)).collect(),
            present: vec![],
            conflicts: (0..conflicts)
                .map(|i| Conflict {
                    cidr: net(&format!("10.{i}.0.0/16")),
                    target: "blackhole".into(),
                })
                .collect(),
            remaining: vec![],
            counts: Counts {
                created: created.len(),
                present,
                conflicts,
                remaining,
                ..Counts::default()
            },
            ..SideReport::default()
        }
    }

    fn context() -> MetricContext<'static> {
        MetricContext {
            function_name: "stack-ModifyRoutesFunction-1",
            active: GatewayEnd {
                region: "us-east-1",
                transit_gateway_id: "tgw-a",
            },
            passive: GatewayEnd {
                region: "eu-west-1",
                transit_gateway_id: "tgw-p",
            },
            timestamp_ms: 1_800_000_000_000,
            level: LogLevel::Info,
        }
    }

    /// Lambda's application log-level filter as its guide states it: a line is kept when its
    /// `level` is at or above the function's; a missing or invalid `level` counts as INFO.
    fn lambda_keeps(line: &Value, application_level: LogLevel) -> bool {
        LogLevel::parse(line.get("level").and_then(Value::as_str)) >= application_level
    }

    #[test]
    fn given_any_application_log_level_then_lambda_keeps_every_metric_document() {
        let routes = RoutesReport {
            tgw_route_tables: two_tables(
                side("tgw-rtb-a", &["10.20.0.0/16"], 2, 0, 0),
                side("tgw-rtb-p", &["10.1.0.0/16"], 0, 1, 0),
            ),
            vpc_route_tables: vec![],
            complete: true,
            passes: 1,
            summaries: vec![],
            omitted: Omitted::default(),
        };
        for level in LogLevel::ALL {
            let context = MetricContext { level, ..context() };
            let documents = emf_documents(&context, None, &routes, &reachability(1, 1), true);
            assert!(!documents.is_empty());
            for document in &documents {
                assert!(lambda_keeps(document, level), "{level:?} drops {document}");
            }
        }
    }

    #[test]
    fn a_log_level_is_read_as_lambda_reads_it() {
        assert_eq!(LogLevel::parse(Some("warn")), LogLevel::Warn);
        assert_eq!(LogLevel::parse(Some("FATAL")), LogLevel::Fatal);
        assert_eq!(LogLevel::parse(None), LogLevel::Info);
        assert_eq!(LogLevel::parse(Some("loud")), LogLevel::Info);
    }

    fn reachability(reachable: usize, unreachable: usize) -> Reachability {
        Reachability {
            pairs: reachable + unreachable,
            reachable,
            unreachable,
            results: vec![],
            security_groups: None,
        }
    }

    /// The rules of the EMF specification that a document must meet, checked as CloudWatch
    /// Logs would: a metric directive names a namespace, dimension sets of root members with
    /// string values, and metrics whose root values are numbers.
    fn assert_valid_emf(document: &Value) {
        let root = document.as_object().expect("an object");
        let aws = root["_aws"].as_object().expect("_aws is an object");
        assert!(aws["Timestamp"].is_u64(), "Timestamp is a number of milliseconds");
        for directive in aws["CloudWatchMetrics"].as_array().expect("an array") {
            let namespace = directive["Namespace"].as_str().unwrap();
            assert!(!namespace.is_empty() && namespace.len() <= 255);
            for set in directive["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(set.len() <= 30);
                for key in set {
                    let value = root[key.as_str().unwrap()]
                        .as_str()
                        .expect("a dimension is a string");
                    assert!(!value.is_empty() && value.len() <= 1024);
                }
            }
            let metrics = directive["Metrics"].as_array().unwrap();
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for metric in metrics {
                let name = metric["Name"].as_str().unwrap();
                assert_eq!(metric["Unit"], "Count");
                assert!(root[name].is_number(), "{name} has a number at the root");
            }
        }
    }

    #[test]
    fn each_tgw_table_gets_a_document_with_its_numbers_and_the_pass_gets_the_totals() {
        let routes = RoutesReport {
            tgw_route_tables: two_tables(
                side("tgw-rtb-a", &["10.20.0.0/16"], 2, 0, 0),
                side("tgw-rtb-p", &["10.1.0.0/16", "10.3.0.0/16"], 0, 1, 0),
            ),
            vpc_route_tables: vec![],
            complete: true,
            passes: 1,
            summaries: vec![],
            omitted: Omitted::default(),
        };
        let documents = emf_documents(&context(), None, &routes, &reachability(1, 3), routes.complete);
        assert_eq!(documents.len(), 3);
        documents.iter().for_each(assert_valid_emf);

        let active = &documents[0];
        assert_eq!(active["GatewayPair"], "us-east-1:tgw-a <-> eu-west-1:tgw-p");
        assert_eq!(active["Side"], "active");
        assert_eq!(active["RouteTable"], "tgw-rtb-a");
        assert_eq!(
            [
                &active["RoutesCreated"],
                &active["RoutesPresent"],
                &active["RouteConflicts"],
                &active["RoutesRemaining"]
            ],
            [1, 2, 0, 0]
        );
        assert_eq!(documents[1]["RouteConflicts"], 1);
        assert_eq!(documents[1]["RoutesCreated"], 2);

        let pass = &documents[2];
        assert_eq!(
            pass["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["FunctionName"], ["GatewayPair"]])
        );
        assert_eq!(pass["FunctionName"], "stack-ModifyRoutesFunction-1");
        assert_eq!(pass["RoutesCreated"], 3);
        assert_eq!(pass["RoutesPresent"], 2);
        assert_eq!(pass["RouteConflicts"], 1);
        assert_eq!(pass["UnreachableVpcPairs"], 3);
        assert_eq!(pass["ReachableVpcPairs"], 1);
        assert_eq!(pass["_aws"]["Timestamp"], 1_800_000_000_000_u64);
        assert_eq!(pass["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
    }

    #[test]
    fn a_later_pass_counts_only_its_own_creates_so_the_sum_is_the_routes_created() {
        let first = RoutesReport {
            tgw_route_tables: two_tables(
                side("tgw-rtb-a", &["10.20.0.0/16", "10.21.0.0/16"], 0, 0, 3),
                side("tgw-rtb-p", &[], 0, 0, 0),
            ),
            vpc_route_tables: vec![],
            complete: false,
            passes: 1,
            summaries: vec![],
            omitted: Omitted::default(),
        };
        let second = RoutesReport {
            tgw_route_tables: two_tables(
                side(
                    "tgw-rtb-a",
                    &[
                        "10.20.0.0/16",
                        "10.21.0.0/16",
                        "10.22.0.0/16",
                        "10.23.0.0/16",
                        "10.24.0.0/16",
                    ],
                    0,
                    0,
                    0,
                ),
                side("tgw-rtb-p", &[], 0, 0, 0),
            ),
            complete: true,
            passes: 2,
            ..first.clone()
        };
        let one = emf_documents(&context(), None, &first, &reachability(0, 2), first.complete);
        let two = emf_documents(
            &context(),
            Some(&first),
            &second,
            &reachability(2, 0),
            second.complete,
        );
        one.iter().chain(&two).for_each(assert_valid_emf);
        assert!(
            one[2].get("UnreachableVpcPairs").is_none(),
            "an unfinished pass does not report pairs whose routes are still to come"
        );
        assert_eq!(
            one[2]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            TABLE_METRICS.len()
        );
        assert_eq!(two[2]["UnreachableVpcPairs"], 0);
        assert_eq!(two[2]["ReachableVpcPairs"], 2);
        assert_eq!(one[0]["RoutesCreated"], 2);
        assert_eq!(one[0]["RoutesRemaining"], 3);
        assert_eq!(
            two[0]["RoutesCreated"], 3,
            "5 created in all, 2 of them by the first pass"
        );
        assert_eq!(two[0]["RoutesRemaining"], 0);
        assert_eq!(two[2]["Pass"], 2);
        assert_eq!(two[2]["Complete"], true);
    }

    #[test]
    fn vpc_route_tables_get_their_own_documents_with_their_side() {
        let routes = RoutesReport {
            tgw_route_tables: two_tables(side("tgw-rtb-a", &[], 0, 0, 0), side("tgw-rtb-p", &[], 0, 0, 0)),
            vpc_route_tables: vec![VpcTableReport {
                side: Side::Passive,
                vpc_id: "vpc-1".into(),
                report: side("rtb-1", &["10.20.0.0/16"], 0, 2, 0),
            }],
            complete: true,
            passes: 1,
            summaries: vec![],
            omitted: Omitted::default(),
        };
        let documents = emf_documents(&context(), None, &routes, &reachability(0, 0), routes.complete);
        assert_eq!(documents.len(), 4);
        documents.iter().for_each(assert_valid_emf);
        assert_eq!(documents[2]["Side"], "passive");
        assert_eq!(documents[2]["RouteTable"], "rtb-1");
        assert_eq!(documents[2]["TableKind"], "vpc");
        assert_eq!(documents[3]["RouteConflicts"], 2);
    }

    #[test]
    fn every_document_is_a_single_line() {
        let routes = RoutesReport::default();
        for document in emf_documents(&context(), None, &routes, &reachability(0, 0), routes.complete) {
            assert!(!document.to_string().contains('\n'));
        }
    }
}
