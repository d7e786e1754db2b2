//! Keeps a function's output within the execution's state, whatever the size of the network.
//!
//! Step Functions refuses a state over 256 KiB with `States.DataLimitExceeded`, which no Catch
//! handles: the execution would fail holding the gateway pair's lock. Each list of a report is
//! already capped ([`crate::plan::report::MAX_LISTED`] CIDRs, [`MAX_PAIRS_LISTED`] pairs), but the
//! number of route tables is not: with `vpcRoutes`, a thousand VPCs have thousands of tables. So
//! when an output would not fit, it is listed more briefly, one [`Brevity`] after the other, until
//! it does. Every count stays exact; the tables and summaries left out are counted in each
//! report's `omitted`, the CIDRs left out in each table's `counts`. What decides anything (the
//! request, `complete`, the lock's settings) is never cut; only what reports is.
//!
//! A table left out of one pass's report starts afresh in the next pass's: its `created` names
//! only the routes the later passes made. The metrics count each pass's creates exactly either
//! way (they compare a table with its own earlier report, or with none).

use serde::Serialize;

use crate::contract::state::{PeeringState, Report};
use crate::plan::reachability::MAX_PAIRS_LISTED;
use crate::plan::report::{PlanReport, RoutesReport, SideReport, TablePlan, MAX_LISTED};
use crate::plan::summary::Summary;
use crate::plan::teardown::{TableTeardownReport, TeardownReport};

/// How briefly an output is listed: at most this many of each kind of entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Brevity {
    /// CIDRs (and attachment ids) in each list of a table or summary.
    cidrs: usize,
    /// Tables in each list of tables; summaries; propagation entries.
    tables: usize,
    /// Reachability rows.
    pairs: usize,
    /// Warnings, and characters in each.
    warnings: usize,
    warning_chars: usize,
}

/// Tried in order until the output fits. The last lists no table at all: the counts, `omitted`,
/// the reachability totals and the notice are what is left, a few kilobytes whatever the network.
const BREVITIES: [Brevity; 4] = [
    Brevity {
        cidrs: 20,
        tables: usize::MAX,
        pairs: MAX_PAIRS_LISTED,
        warnings: 50,
        warning_chars: 2_000,
    },
    Brevity {
        cidrs: 10,
        tables: 100,
        pairs: 50,
        warnings: 20,
        warning_chars: 500,
    },
    Brevity {
        cidrs: 0,
        tables: 20,
        pairs: 10,
        warnings: 10,
        warning_chars: 300,
    },
    Brevity {
        cidrs: 0,
        tables: 0,
        pairs: 0,
        warnings: 1,
        warning_chars: 300,
    },
];

/// `state` as it is if its JSON takes at most `limit` bytes, else listed as briefly as it must be
/// to fit (or, if even the briefest listing does not, that listing: the caller refuses it).
pub fn fit(mut state: PeeringState, limit: usize) -> PeeringState {
    if json_size(&state) <= limit {
        return state;
    }
    // Each brevity is briefer than the one before on every count, so each cuts what the one
    // before left. The warnings are the exception: each brevity lists the whole set anew, so its
    // "and N more" counts them all.
    let warnings = state.warnings.take();
    for brevity in BREVITIES {
        state = brevity.list(state);
        state.warnings = warnings.clone().map(|all| brevity.list_warnings(all));
        if json_size(&state) <= limit {
            break;
        }
    }
    state
}

/// The length of `value`'s JSON, counted as it is written: a report of thousands of tables is
/// never held as text.
pub fn json_size<T: Serialize>(value: &T) -> usize {
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, value).map_or(usize::MAX, |()| counter.0)
}

struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Brevity {
    fn list(self, mut state: PeeringState) -> PeeringState {
        if let Some(Report::Known(routes)) = &mut state.routes {
            self.list_routes(routes);
        }
        if let Some(Report::Known(plan)) = &mut state.route_plan {
            self.list_plan(plan);
        }
        if let Some(Report::Known(teardown)) = &mut state.teardown {
            self.list_teardown(teardown);
        }
        if let Some(Report::Known(reachability)) = &mut state.reachability {
            reachability.results.truncate(self.pairs);
            if let Some(advice) = &mut reachability.security_groups {
                advice.pairs.truncate(self.pairs);
            }
        }
        state
    }

    fn list_routes(self, routes: &mut RoutesReport) {
        routes.omitted.tgw_route_tables += self.keep(&mut routes.tgw_route_tables);
        routes.omitted.vpc_route_tables += self.keep(&mut routes.vpc_route_tables);
        routes.omitted.summaries += self.list_summaries(&mut routes.summaries);
        let tables = routes.tgw_route_tables.iter_mut().map(|table| &mut table.report);
        for report in tables.chain(routes.vpc_route_tables.iter_mut().map(|table| &mut table.report)) {
            self.list_side(report);
        }
    }

    fn list_plan(self, plan: &mut PlanReport) {
        plan.omitted.tgw_route_tables += self.keep(&mut plan.tgw_route_tables);
        plan.omitted.vpc_route_tables += self.keep(&mut plan.vpc_route_tables);
        plan.omitted.summaries += self.list_summaries(&mut plan.summaries);
        let tables = plan.tgw_route_tables.iter_mut().map(|table| &mut table.plan);
        for table in tables.chain(plan.vpc_route_tables.iter_mut().map(|table| &mut table.plan)) {
            self.list_table_plan(table);
        }
    }

    fn list_teardown(self, teardown: &mut TeardownReport) {
        teardown.omitted.tgw_route_tables += self.keep(&mut teardown.tgw_route_tables);
        teardown.omitted.vpc_route_tables += self.keep(&mut teardown.vpc_route_tables);
        teardown.omitted.propagations += self.keep(&mut teardown.propagations);
        let tables = teardown.tgw_route_tables.iter_mut();
        for table in tables.chain(teardown.vpc_route_tables.iter_mut()) {
            self.list_table_teardown(&mut table.report);
        }
        for propagation in &mut teardown.propagations {
            propagation.disabled.truncate(self.cidrs);
        }
    }

    /// Keeps the first [`Brevity::tables`] entries; returns how many it left out.
    fn keep<T>(self, entries: &mut Vec<T>) -> usize {
        let left_out = entries.len().saturating_sub(self.tables);
        entries.truncate(self.tables);
        left_out
    }

    fn list_summaries(self, summaries: &mut Vec<Summary>) -> usize {
        let left_out = self.keep(summaries);
        for summary in summaries {
            summary.covers_omitted += summary.covers.len().saturating_sub(self.cidrs);
            summary.covers.truncate(self.cidrs);
        }
        left_out
    }

    // Each list's exact size is in the table's `counts` already: a cut list is still honest.
    fn list_side(self, report: &mut SideReport) {
        report.created.truncate(self.cidrs);
        report.present.truncate(self.cidrs);
        report.conflicts.truncate(self.cidrs);
        report.remaining.truncate(self.cidrs);
        report.removed.truncate(self.cidrs);
        report.remaining_removals.truncate(self.cidrs);
    }

    fn list_table_plan(self, plan: &mut TablePlan) {
        plan.create.truncate(self.cidrs);
        plan.present.truncate(self.cidrs);
        plan.conflicts.truncate(self.cidrs);
        plan.remove.truncate(self.cidrs);
    }

    fn list_table_teardown(self, report: &mut TableTeardownReport) {
        report.deleted.truncate(self.cidrs);
        report.left_alone.truncate(self.cidrs);
    }

    fn list_warnings(self, warnings: Vec<String>) -> Vec<String> {
        let total = warnings.len();
        let shown = if total > self.warnings {
            self.warnings.saturating_sub(1)
        } else {
            total
        };
        let mut listed: Vec<String> = warnings
            .into_iter()
            .take(shown)
            .map(|warning| self.shorten(warning))
            .collect();
        if shown < total {
            listed.push(format!(
                "… and {} more warnings; the function's log has them all",
                total - shown
            ));
        }
        listed
    }

    fn shorten(self, warning: String) -> String {
        if warning.chars().count() <= self.warning_chars {
            return warning;
        }
        let kept: String = warning.chars().take(self.warning_chars).collect();
        format!("{kept}… (cut; the function's log has it whole)")
    }
}

const fn each_briefer(brevities: &[Brevity]) -> bool {
    if brevities[0].cidrs >= MAX_LISTED {
        return false;
    }
    let mut i = 1;
    while i < brevities.len() {
        let (before, now) = (brevities[i - 1], brevities[i]);
        if now.cidrs > before.cidrs || now.tables > before.tables || now.pairs > before.pairs {
            return false;
        }
        i += 1;
    }
    true
}

// `fit` cuts each brevity's output further, which is right only if every count shrinks.
const _: () = assert!(each_briefer(&BREVITIES));

#[cfg(test)]
mod tests {
    use ipnet::IpNet;
    use proptest::prelude::*;

    use super::*;
    use crate::contract::state::ExtraCidrsField;
    use crate::handler::MAX_OUTPUT_BYTES;
    use crate::plan::mesh::{MeshPeerSide, MAX_MESH_SIDES};
    use crate::plan::reachability::{Hop, PairResult, Reachability};
    use crate::plan::report::{
        Counts, Omitted, PlanCounts, TgwTablePlan, TgwTableReport, VpcTablePlan, VpcTableReport,
    };
    use crate::plan::routing::Conflict;
    use crate::plan::security_groups::{GroupVerdict, PairAdvice, SecurityGroupAdvice, MAX_ADVICE_LISTED};
    use crate::plan::teardown::{PropagationTeardownReport, SideTableTeardownReport, TeardownCounts};
    use crate::plan::Side;

    /// The longest text a CIDR can take: an IPv6 prefix with every group written out.
    fn longest_cidrs(n: usize) -> Vec<IpNet> {
        (0..n)
            .map(|i| {
                format!("ffff:ffff:ffff:ffff:ffff:ffff:{:04x}:ff00/120", i % 0xffff)
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    fn conflicts(cidrs: &[IpNet]) -> Vec<Conflict> {
        cidrs
            .iter()
            .map(|cidr| Conflict {
                cidr: *cidr,
                target: "tgw-attach-0123456789abcdef0".into(),
            })
            .collect()
    }

    fn full_side(id: usize, cidrs: &[IpNet]) -> SideReport {
        let n = cidrs.len();
        SideReport {
            route_table_id: format!("rtb-{id:017x}"),
            created: cidrs.to_vec(),
            present: cidrs.to_vec(),
            conflicts: conflicts(cidrs),
            remaining: cidrs.to_vec(),
            removed: cidrs.to_vec(),
            remaining_removals: cidrs.to_vec(),
            // A listing shows at most MAX_LISTED of each; the counts are larger still.
            counts: Counts {
                created: n * 10,
                present: n * 10,
                conflicts: n * 10,
                remaining: n * 10,
                removed: n * 10,
                remaining_removals: n * 10,
            },
        }
    }

    fn full_plan(id: usize, cidrs: &[IpNet]) -> TablePlan {
        let n = cidrs.len();
        TablePlan {
            route_table_id: format!("rtb-{id:017x}"),
            create: cidrs.to_vec(),
            present: cidrs.to_vec(),
            conflicts: conflicts(cidrs),
            remove: cidrs.to_vec(),
            counts: PlanCounts {
                create: n,
                present: n,
                conflicts: n,
                remove: n,
            },
        }
    }

    fn full_teardown(id: usize, cidrs: &[IpNet]) -> TableTeardownReport {
        TableTeardownReport {
            route_table_id: format!("rtb-{id:017x}"),
            deleted: cidrs.to_vec(),
            left_alone: cidrs.to_vec(),
            counts: TeardownCounts {
                deleted: cidrs.len(),
                left_alone: cidrs.len(),
            },
        }
    }

    fn side_of(i: usize) -> Side {
        if i.is_multiple_of(2) {
            Side::Active
        } else {
            Side::Passive
        }
    }

    fn summaries(tgw_tables: usize, listed: &[IpNet]) -> Vec<Summary> {
        (0..tgw_tables.min(MAX_LISTED))
            .map(|i| Summary {
                side: side_of(i),
                route: listed.first().copied().unwrap_or_else(|| "::/0".parse().unwrap()),
                covers: listed.to_vec(),
                covers_omitted: 0,
            })
            .collect()
    }

    fn routes_report(tgw_tables: usize, vpc_tables: usize, listed: &[IpNet]) -> RoutesReport {
        RoutesReport {
            tgw_route_tables: (0..tgw_tables)
                .map(|i| TgwTableReport {
                    side: side_of(i),
                    report: full_side(i, listed),
                })
                .collect(),
            vpc_route_tables: (0..vpc_tables)
                .map(|i| VpcTableReport {
                    side: side_of(i),
                    vpc_id: format!("vpc-{i:017x}"),
                    report: full_side(i, listed),
                })
                .collect(),
            summaries: summaries(tgw_tables, listed),
            omitted: Omitted::default(),
            complete: false,
            passes: 7,
        }
    }

    fn plan_report(tgw_tables: usize, vpc_tables: usize, listed: &[IpNet]) -> PlanReport {
        PlanReport {
            tgw_route_tables: (0..tgw_tables)
                .map(|i| TgwTablePlan {
                    side: side_of(i),
                    plan: full_plan(i, listed),
                })
                .collect(),
            vpc_route_tables: (0..vpc_tables)
                .map(|i| VpcTablePlan {
                    side: side_of(i),
                    vpc_id: format!("vpc-{i:017x}"),
                    plan: full_plan(i, listed),
                })
                .collect(),
            summaries: summaries(tgw_tables, listed),
            omitted: Omitted::default(),
        }
    }

    fn teardown_report(tgw_tables: usize, vpc_tables: usize, listed: &[IpNet]) -> TeardownReport {
        let table = |i: usize| SideTableTeardownReport {
            side: side_of(i),
            report: full_teardown(i, listed),
        };
        TeardownReport {
            tgw_route_tables: (0..tgw_tables).map(table).collect(),
            vpc_route_tables: (0..vpc_tables).map(table).collect(),
            propagations: (0..tgw_tables)
                .map(|i| PropagationTeardownReport {
                    side: side_of(i),
                    route_table_id: format!("tgw-rtb-{i:017x}"),
                    disabled: (0..listed.len())
                        .map(|j| format!("tgw-attach-{j:017x}"))
                        .collect(),
                    count: listed.len(),
                })
                .collect(),
            omitted: Omitted::default(),
            complete: false,
        }
    }

    fn reachability(vpc_tables: usize) -> Reachability {
        let results: Vec<PairResult> = (0..MAX_PAIRS_LISTED)
            .map(|i| PairResult {
                active_vpc_id: format!("vpc-{i:017x}"),
                passive_vpc_id: format!("vpc-{i:017x}"),
                direction: Some("there".into()),
                hop: Hop::Conflict {
                    region: "ap-southeast-2".into(),
                    route_table_id: format!("tgw-rtb-{i:017x}"),
                    cidr: longest_cidrs(1)[0],
                    target: "tgw-attach-0123456789abcdef0".into(),
                    expected: "tgw-attach-0123456789abcdef1".into(),
                },
            })
            .collect();
        let advice = (0..MAX_ADVICE_LISTED)
            .map(|i| PairAdvice {
                active_vpc_id: format!("vpc-{i:017x}"),
                passive_vpc_id: format!("vpc-{i:017x}"),
                security_groups: GroupVerdict::NoGroupAdmits,
                vpc_id: format!("vpc-{i:017x}"),
            })
            .collect();
        Reachability {
            pairs: vpc_tables * vpc_tables,
            reachable: 0,
            unreachable: vpc_tables * vpc_tables,
            results,
            security_groups: Some(SecurityGroupAdvice {
                admitted: 0,
                no_group_admits: vpc_tables * vpc_tables,
                pairs: advice,
            }),
        }
    }

    fn mesh_sides() -> Vec<MeshPeerSide> {
        (0..MAX_MESH_SIDES)
            .map(|i| MeshPeerSide {
                region: format!("region-{i}"),
                transit_gateway_id: format!("tgw-{i:017x}"),
                peering_route_table_id: format!("tgw-rtb-{i:017x}"),
                account_id: Some("123456789012".into()),
                role_arn: Some(format!("arn:aws:iam::123456789012:role/tgw-peering-side-{i}")),
            })
            .collect()
    }

    /// A network of `vpc_tables` VPC route tables and `tgw_tables` TGW route tables, every list of
    /// every report as long as it can be listed, with `cidrs` CIDRs each; and everything that is
    /// never cut (the request, the mesh) at its largest.
    fn network(tgw_tables: usize, vpc_tables: usize, cidrs: usize, warnings: usize) -> PeeringState {
        let listed = longest_cidrs(cidrs);
        // The request's own size is capped (64 KiB); its extra ranges are most of it.
        let extra: Vec<String> = longest_cidrs(600).iter().map(ToString::to_string).collect();
        PeeringState {
            active_region: Some("ap-southeast-2".into()),
            passive_region: Some("eu-central-1".into()),
            extra_cidrs: Some(ExtraCidrsField {
                active: Some(extra.clone()),
                passive: Some(extra),
                unknown: Vec::new(),
            }),
            mesh_sides: Some(mesh_sides()),
            routes: Some(Report::Known(routes_report(tgw_tables, vpc_tables, &listed))),
            route_plan: Some(Report::Known(plan_report(tgw_tables, vpc_tables, &listed))),
            teardown: Some(Report::Known(teardown_report(tgw_tables, vpc_tables, &listed))),
            reachability: Some(Report::Known(reachability(vpc_tables))),
            warnings: Some(
                (0..warnings)
                    .map(|i| format!("warning {i}: {}", "x".repeat(10_000)))
                    .collect(),
            ),
            ..PeeringState::default()
        }
    }

    fn routes(state: &PeeringState) -> &RoutesReport {
        state.routes.as_ref().and_then(Report::known).unwrap()
    }

    fn teardown(state: &PeeringState) -> &TeardownReport {
        state.teardown.as_ref().and_then(Report::known).unwrap()
    }

    fn plan(state: &PeeringState) -> &PlanReport {
        state.route_plan.as_ref().and_then(Report::known).unwrap()
    }

    /// Every count of `before` is in `after`: each listed table has its counts, and every table
    /// is either listed or counted in `omitted`.
    fn assert_counts_kept(before: &PeeringState, after: &PeeringState) {
        let (was, now) = (routes(before), routes(after));
        assert_eq!(
            now.tgw_route_tables.len() + now.omitted.tgw_route_tables,
            was.tgw_route_tables.len()
        );
        assert_eq!(
            now.vpc_route_tables.len() + now.omitted.vpc_route_tables,
            was.vpc_route_tables.len()
        );
        assert_eq!(now.summaries.len() + now.omitted.summaries, was.summaries.len());
        for (listed, whole) in now.vpc_route_tables.iter().zip(&was.vpc_route_tables) {
            assert_eq!(listed.report.counts, whole.report.counts);
            assert_eq!(listed.report.route_table_id, whole.report.route_table_id);
        }
        for (listed, whole) in now.summaries.iter().zip(&was.summaries) {
            assert_eq!(listed.covers.len() + listed.covers_omitted, whole.covers.len());
        }
        assert_eq!((now.complete, now.passes), (was.complete, was.passes));
        let (was, now) = (plan(before), plan(after));
        assert_eq!(
            now.vpc_route_tables.len() + now.omitted.vpc_route_tables,
            was.vpc_route_tables.len()
        );
        for (listed, whole) in now.tgw_route_tables.iter().zip(&was.tgw_route_tables) {
            assert_eq!(listed.plan.counts, whole.plan.counts);
        }
        let (was, now) = (teardown(before), teardown(after));
        assert_eq!(
            now.vpc_route_tables.len() + now.omitted.vpc_route_tables,
            was.vpc_route_tables.len()
        );
        assert_eq!(
            now.propagations.len() + now.omitted.propagations,
            was.propagations.len()
        );
        for (listed, whole) in now.propagations.iter().zip(&was.propagations) {
            assert_eq!(listed.count, whole.count);
        }
        assert_eq!(now.complete, was.complete);
        let reachability = |state: &PeeringState| {
            let known = state.reachability.as_ref().and_then(Report::known).unwrap();
            let advice = known.security_groups.as_ref().unwrap();
            (
                known.pairs,
                known.reachable,
                known.unreachable,
                advice.admitted,
                advice.no_group_admits,
            )
        };
        assert_eq!(reachability(after), reachability(before));
        // What decides anything is never cut.
        assert_eq!(after.extra_cidrs, before.extra_cidrs);
        assert_eq!(after.mesh_sides, before.mesh_sides);
    }

    #[test]
    fn given_an_output_that_fits_then_it_is_returned_unchanged() {
        let small = network(2, 4, 3, 2);
        assert!(json_size(&small) <= MAX_OUTPUT_BYTES);
        assert_eq!(fit(small.clone(), MAX_OUTPUT_BYTES), small);
    }

    #[test]
    fn given_the_worst_case_network_then_the_output_fits_with_every_count_kept() {
        // 500 VPCs with two route tables each, 40 TGW route tables (twice the default quota),
        // every list of every report (routes, plan and teardown at once, which no real state
        // carries) full, fifty long warnings.
        let worst = network(40, 1_000, MAX_LISTED, 50);
        assert!(
            json_size(&worst) > 100 * MAX_OUTPUT_BYTES,
            "the worst case is far over the quota"
        );

        let fitted = fit(worst.clone(), MAX_OUTPUT_BYTES);

        assert!(
            json_size(&fitted) <= MAX_OUTPUT_BYTES,
            "{} bytes",
            json_size(&fitted)
        );
        assert_counts_kept(&worst, &fitted);
        let warnings = fitted.warnings.as_ref().unwrap();
        let more = warnings.last().unwrap();
        let shown = warnings.len() - 1;
        assert!(
            more.starts_with(&format!("… and {} more warnings", 50 - shown)),
            "{more}"
        );
    }

    #[test]
    fn given_a_network_a_little_over_the_quota_then_every_table_stays_listed() {
        // Ten VPC route tables with full lists: only the CIDR listings need to be shorter.
        let mut large = network(4, 10, MAX_LISTED, 0);
        large.route_plan = network(0, 0, 0, 0).route_plan;
        large.teardown = network(0, 0, 0, 0).teardown;
        assert!(json_size(&large) > MAX_OUTPUT_BYTES);

        let fitted = fit(large.clone(), MAX_OUTPUT_BYTES);

        assert!(json_size(&fitted) <= MAX_OUTPUT_BYTES);
        assert_eq!(routes(&fitted).omitted, Omitted::default());
        assert_eq!(routes(&fitted).vpc_route_tables.len(), 10);
        assert_eq!(
            routes(&fitted).vpc_route_tables[0].report.created.len(),
            BREVITIES[0].cidrs
        );
        assert_counts_kept(&large, &fitted);
    }

    #[test]
    fn given_a_fitted_output_when_fitted_again_then_nothing_changes() {
        let fitted = fit(network(10, 500, 50, 60), MAX_OUTPUT_BYTES);
        assert_eq!(fit(fitted.clone(), MAX_OUTPUT_BYTES), fitted);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn any_network_fits_any_quota_the_uncut_fields_leave_room_for(
            tgw_tables in 0usize..30,
            vpc_tables in 0usize..200,
            cidrs in 0usize..40,
            warnings in 0usize..80,
            limit in 80_000usize..300_000,
        ) {
            let state = network(tgw_tables, vpc_tables, cidrs, warnings);
            let fitted = fit(state.clone(), limit);
            prop_assert!(json_size(&fitted) <= limit, "{} bytes > {limit}", json_size(&fitted));
            assert_counts_kept(&state, &fitted);
            if json_size(&state) <= limit {
                prop_assert_eq!(fitted, state);
            }
        }
    }
}
