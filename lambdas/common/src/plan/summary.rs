//! Route summarisation (`summarizeRoutes`): each side's CIDRs merged into the fewest prefixes that
//! cover exactly the same addresses, per family. Only adjacent or nested blocks merge, never into
//! a wider range than they fill, so a summary route attracts no address that was not wanted. VPCs
//! allocated from one IPAM pool are usually contiguous, so hundreds of routes become a few, which
//! keeps VPC route tables (50 routes by default) and a transit gateway (10,000) within quota.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::plan::Side;

/// A route that stands for several wanted CIDRs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The side whose tables get the route (it leads to the other side's CIDRs).
    pub side: Side,
    pub route: IpNet,
    /// The wanted CIDRs it covers, in address order.
    pub covers: Vec<IpNet>,
    /// How many CIDRs it covers beyond those listed in `covers`.
    #[serde(default, skip_serializing_if = "crate::plan::report::is_zero")]
    pub covers_omitted: usize,
}

/// The fewest prefixes covering exactly `cidrs`, each with the CIDRs it covers, in address order.
pub fn summarize(cidrs: &[IpNet]) -> Vec<(IpNet, Vec<IpNet>)> {
    let mut wanted: Vec<IpNet> = cidrs.iter().map(IpNet::trunc).collect();
    wanted.sort();
    wanted.dedup();
    IpNet::aggregate(&wanted)
        .into_iter()
        .map(|route| {
            let covers = wanted
                .iter()
                .copied()
                .filter(|cidr| route.contains(cidr))
                .collect();
            (route, covers)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn adjacent_blocks_merge_and_a_gap_keeps_them_apart() {
        let summary = summarize(&[net("10.1.0.0/24"), net("10.1.1.0/24"), net("10.1.3.0/24")]);
        assert_eq!(
            summary,
            [
                (net("10.1.0.0/23"), vec![net("10.1.0.0/24"), net("10.1.1.0/24")]),
                (net("10.1.3.0/24"), vec![net("10.1.3.0/24")]),
            ]
        );
    }

    #[test]
    fn blocks_that_would_only_fill_a_wider_range_partly_are_not_merged() {
        // 10.1.1.0/24 and 10.1.2.0/24 are adjacent but not one prefix.
        let summary = summarize(&[net("10.1.1.0/24"), net("10.1.2.0/24")]);
        assert_eq!(summary.len(), 2);
    }

    #[test]
    fn the_families_are_summarised_apart() {
        let summary = summarize(&[
            net("2600:1f18::/57"),
            net("2600:1f18:0:80::/57"),
            net("10.0.0.0/9"),
            net("10.128.0.0/9"),
        ]);
        let routes: Vec<IpNet> = summary.iter().map(|(route, _)| *route).collect();
        assert_eq!(routes, [net("10.0.0.0/8"), net("2600:1f18::/56")]);
    }

    fn any_v4() -> impl Strategy<Value = IpNet> {
        (0u32..64, 22u8..=26).prop_map(|(block, len)| {
            IpNet::new(std::net::Ipv4Addr::from(0x0a00_0000 + (block << 8)).into(), len)
                .unwrap()
                .trunc()
        })
    }

    proptest! {
        #[test]
        fn a_summary_covers_exactly_the_addresses_wanted(cidrs in proptest::collection::vec(any_v4(), 0..12)) {
            let summary = summarize(&cidrs);
            // Every /28 of 10.0.0.0/16 is covered by the summary exactly when a wanted CIDR covers it.
            for i in 0..4096u32 {
                let probe = IpNet::new(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 4)).into(), 28).unwrap();
                let wanted = cidrs.iter().any(|c| c.contains(&probe));
                let routed = summary.iter().any(|(route, _)| route.contains(&probe));
                prop_assert_eq!(wanted, routed, "{}", probe);
            }
            let covered: usize = summary.iter().map(|(_, covers)| covers.len()).sum();
            let mut distinct = cidrs.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert_eq!(covered, distinct.len(), "each CIDR is covered by exactly one summary route");
        }
    }
}
