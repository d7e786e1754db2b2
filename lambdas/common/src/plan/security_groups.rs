//! Security groups as advice, not a verdict: a group applies per network interface, so whether a
//! packet reaches a given instance depends on which groups it has, which the tool does not know.
//! What it can say, per VPC pair, is whether any group in each VPC admits the other VPC's CIDRs
//! (an inbound rule whose source CIDR holds them, or whose prefix list does). Pure.

use std::collections::{BTreeMap, HashMap};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::plan::routing::Vpc;

/// A security group's inbound sources, as DescribeSecurityGroups gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub id: String,
    pub vpc_id: String,
    /// Every inbound rule's `CidrIp` and `CidrIpv6`, whatever its protocol and ports.
    pub ingress_cidrs: Vec<IpNet>,
    /// Every prefix list an inbound rule references.
    pub ingress_prefix_lists: Vec<String>,
}

/// Whether a VPC pair's groups admit each other's CIDRs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupVerdict {
    /// In each VPC some group admits every CIDR of the other.
    Admitted,
    /// In `vpcId` no group admits the other VPC's CIDRs (all of them).
    NoGroupAdmits,
}

/// One pair no group admits, named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairAdvice {
    pub active_vpc_id: String,
    pub passive_vpc_id: String,
    pub security_groups: GroupVerdict,
    /// The first VPC of the pair (active, then passive) where no group admits the other's CIDRs.
    pub vpc_id: String,
}

/// The advice over every pair: exact counts, the pairs no group admits listed in VPC id order,
/// at most [`MAX_ADVICE_LISTED`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupAdvice {
    pub admitted: usize,
    pub no_group_admits: usize,
    pub pairs: Vec<PairAdvice>,
}

/// At most this many pairs no group admits are listed (the counts are exact): advice, kept
/// small beside the reachability results in the state's 256 KiB.
pub const MAX_ADVICE_LISTED: usize = 50;

/// One side as the advice needs it.
pub struct GroupSide<'a> {
    pub tagged: &'a [Vpc],
    pub groups: &'a [SecurityGroup],
    /// The entries of each prefix list a group references, by id.
    pub prefix_lists: &'a BTreeMap<String, Vec<IpNet>>,
}

/// Every source a VPC's groups admit, by VPC id: the rules' CIDRs and the entries of the prefix
/// lists they reference.
fn admitted_by_vpc(side: &GroupSide) -> HashMap<String, Vec<IpNet>> {
    let mut admitted: HashMap<String, Vec<IpNet>> = HashMap::new();
    for group in side.groups {
        let listed = group
            .ingress_prefix_lists
            .iter()
            .filter_map(|id| side.prefix_lists.get(id))
            .flatten();
        admitted
            .entry(group.vpc_id.clone())
            .or_default()
            .extend(group.ingress_cidrs.iter().chain(listed).copied());
    }
    admitted
}

fn has_ipv6(vpc: &Vpc) -> bool {
    vpc.cidrs.iter().any(|cidr| matches!(cidr, IpNet::V6(_)))
}

/// Whether some admitted source holds every CIDR of `from` that reaches `to` (IPv4, and IPv6
/// when both have it, as the walk takes them).
fn admits(admitted: Option<&Vec<IpNet>>, from: &Vpc, to: &Vpc) -> bool {
    let both_ipv6 = has_ipv6(from) && has_ipv6(to);
    let sources = admitted.map_or(&[][..], Vec::as_slice);
    from.cidrs
        .iter()
        .filter(|cidr| matches!(cidr, IpNet::V4(_)) || both_ipv6)
        .all(|cidr| sources.iter().any(|source| source.contains(cidr)))
}

/// The advice for every pair of tagged VPCs across the two sides.
pub fn advise(active: &GroupSide, passive: &GroupSide) -> SecurityGroupAdvice {
    let (active_admits, passive_admits) = (admitted_by_vpc(active), admitted_by_vpc(passive));
    let by_id = |vpcs: &[Vpc]| {
        let mut sorted: Vec<Vpc> = vpcs.to_vec();
        sorted.sort_by(|x, y| x.id.cmp(&y.id));
        sorted
    };
    let (actives, passives) = (by_id(active.tagged), by_id(passive.tagged));
    let mut advice = SecurityGroupAdvice::default();
    for a in &actives {
        for p in &passives {
            let shut = if !admits(active_admits.get(&a.id), p, a) {
                Some(&a.id)
            } else if !admits(passive_admits.get(&p.id), a, p) {
                Some(&p.id)
            } else {
                None
            };
            let Some(vpc_id) = shut else {
                advice.admitted += 1;
                continue;
            };
            advice.no_group_admits += 1;
            if advice.pairs.len() < MAX_ADVICE_LISTED {
                advice.pairs.push(PairAdvice {
                    active_vpc_id: a.id.clone(),
                    passive_vpc_id: p.id.clone(),
                    security_groups: GroupVerdict::NoGroupAdmits,
                    vpc_id: vpc_id.clone(),
                });
            }
        }
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn vpc(id: &str, cidrs: &[&str]) -> Vpc {
        Vpc {
            id: id.into(),
            cidrs: cidrs.iter().map(|c| net(c)).collect(),
            tags: vec![],
        }
    }

    fn group(vpc: &str, cidrs: &[&str], lists: &[&str]) -> SecurityGroup {
        SecurityGroup {
            id: format!("sg-{vpc}"),
            vpc_id: vpc.into(),
            ingress_cidrs: cidrs.iter().map(|c| net(c)).collect(),
            ingress_prefix_lists: lists.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    fn advice(active_groups: &[SecurityGroup], passive_groups: &[SecurityGroup]) -> SecurityGroupAdvice {
        let (a, p) = ([vpc("vpc-a", &["10.1.0.0/16"])], [vpc("vpc-p", &["10.2.0.0/16"])]);
        let lists: BTreeMap<String, Vec<IpNet>> = [("pl-peer".to_owned(), vec![net("10.1.0.0/16")])].into();
        advise(
            &GroupSide {
                tagged: &a,
                groups: active_groups,
                prefix_lists: &lists,
            },
            &GroupSide {
                tagged: &p,
                groups: passive_groups,
                prefix_lists: &lists,
            },
        )
    }

    #[test]
    fn given_groups_on_both_sides_that_admit_the_peer_then_the_pair_is_admitted() {
        let given = advice(
            &[group("vpc-a", &["10.0.0.0/8"], &[])],
            &[group("vpc-p", &["10.1.0.0/16"], &[])],
        );
        assert_eq!((given.admitted, given.no_group_admits), (1, 0));
        assert!(given.pairs.is_empty());
    }

    #[test]
    fn given_more_pairs_no_group_admits_than_are_listed_then_the_count_stays_exact() {
        let actives: Vec<Vpc> = (0..60)
            .map(|i| vpc(&format!("vpc-a{i:02}"), &["10.1.0.0/16"]))
            .collect();
        let passives = [vpc("vpc-p", &["10.2.0.0/16"])];
        let lists = BTreeMap::new();
        let side = |tagged| GroupSide {
            tagged,
            groups: &[],
            prefix_lists: &lists,
        };
        let given = advise(&side(&actives), &side(&passives));
        assert_eq!((given.admitted, given.no_group_admits), (0, 60));
        assert_eq!(given.pairs.len(), MAX_ADVICE_LISTED);
        assert_eq!(given.pairs[0].active_vpc_id, "vpc-a00");
    }

    #[test]
    fn given_a_rule_that_references_a_prefix_list_holding_the_peer_then_it_admits() {
        let given = advice(
            &[group("vpc-a", &["10.2.0.0/16"], &[])],
            &[group("vpc-p", &[], &["pl-peer"])],
        );
        assert_eq!(given.admitted, 1);
    }

    #[test]
    fn given_no_group_that_admits_the_whole_peer_range_then_the_vpc_without_one_is_named() {
        // The passive VPC admits only part of the active VPC's range.
        let given = advice(
            &[group("vpc-a", &["10.2.0.0/16"], &[])],
            &[group("vpc-p", &["10.1.0.0/24"], &[])],
        );
        assert_eq!((given.admitted, given.no_group_admits), (0, 1));
        assert_eq!(
            given.pairs,
            [PairAdvice {
                active_vpc_id: "vpc-a".into(),
                passive_vpc_id: "vpc-p".into(),
                security_groups: GroupVerdict::NoGroupAdmits,
                vpc_id: "vpc-p".into(),
            }]
        );
    }
}
