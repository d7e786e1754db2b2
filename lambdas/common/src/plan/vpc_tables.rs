//! VPC route tables: which of a tagged VPC's tables need routes to the remote side, and whether a
//! plan fits their route quota. Pure functions over what the EC2 edge read.
//!
//! The tables chosen are those of the subnets in the Availability Zones the VPC's transit
//! gateway attachment uses: each such subnet's explicitly associated table, or the VPC's main
//! table for a subnet without one. A subnet in another zone cannot reach the transit gateway at
//! all ("resources in Availability Zones where there is no transit gateway attachment cannot
//! reach the transit gateway", Transit Gateway guide, VPC attachments), so a route in its table
//! would promise a path that does not exist; the reachability report names the gap instead.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::routing::{Origin, Route};

/// A VPC's live attachment to the local transit gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcAttachment {
    pub id: String,
    pub vpc_id: String,
    /// The subnets the attachment uses, one per Availability Zone.
    pub subnet_ids: Vec<String>,
    /// The attachment's `Ipv6Support` option: without it the transit gateway does not forward
    /// IPv6 to or from the VPC.
    pub ipv6_support: bool,
}

/// A subnet and its Availability Zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
}

/// A VPC route table with its associations and routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcRouteTable {
    pub id: String,
    pub vpc_id: String,
    /// True for the VPC's main table, which serves every subnet without an explicit association.
    pub main: bool,
    /// Subnets explicitly associated with this table.
    pub subnet_ids: Vec<String>,
    pub routes: Vec<Route>,
    pub tags: Vec<(String, String)>,
}

/// The route tables of `attachment`'s VPC that serve a subnet in one of the attachment's
/// Availability Zones, in id order.
pub fn tables_for<'a>(
    attachment: &VpcAttachment,
    subnets: &[Subnet],
    tables: &'a [VpcRouteTable],
) -> Vec<&'a VpcRouteTable> {
    let vpc_id = attachment.vpc_id.as_str();
    let subnets: Vec<&Subnet> = subnets.iter().filter(|subnet| subnet.vpc_id == vpc_id).collect();
    let tables: Vec<&VpcRouteTable> = tables.iter().filter(|table| table.vpc_id == vpc_id).collect();
    choose(attachment, &subnets, &tables)
}

/// [`tables_for`] over the VPC's own subnets and tables.
fn choose<'a>(
    attachment: &VpcAttachment,
    subnets: &[&Subnet],
    tables: &[&'a VpcRouteTable],
) -> Vec<&'a VpcRouteTable> {
    let zones: BTreeSet<&str> = subnets
        .iter()
        .filter(|subnet| attachment.subnet_ids.contains(&subnet.id))
        .map(|subnet| subnet.availability_zone.as_str())
        .collect();
    let explicit: BTreeMap<&str, &VpcRouteTable> = tables
        .iter()
        .flat_map(|table| {
            table
                .subnet_ids
                .iter()
                .map(move |subnet| (subnet.as_str(), *table))
        })
        .collect();
    let main = tables.iter().find(|table| table.main).copied();
    let mut chosen: BTreeMap<&str, &VpcRouteTable> = BTreeMap::new();
    for subnet in subnets
        .iter()
        .filter(|subnet| zones.contains(subnet.availability_zone.as_str()))
    {
        if let Some(table) = explicit.get(subnet.id.as_str()).copied().or(main) {
            chosen.insert(table.id.as_str(), table);
        }
    }
    chosen.into_values().collect()
}

/// [`tables_for`] for every attachment at once, by VPC id. Subnets and tables are grouped by VPC
/// first, so the cost grows with what was read rather than with attachments times subnets, as
/// calling [`tables_for`] for each attachment over the whole Region's lists does.
pub fn tables_by_vpc<'a>(
    attachments: impl IntoIterator<Item = &'a VpcAttachment>,
    subnets: &[Subnet],
    tables: &'a [VpcRouteTable],
) -> BTreeMap<String, Vec<&'a VpcRouteTable>> {
    let mut subnets_of: BTreeMap<&str, Vec<&Subnet>> = BTreeMap::new();
    for subnet in subnets {
        subnets_of.entry(subnet.vpc_id.as_str()).or_default().push(subnet);
    }
    let mut tables_of: BTreeMap<&str, Vec<&'a VpcRouteTable>> = BTreeMap::new();
    for table in tables {
        tables_of.entry(table.vpc_id.as_str()).or_default().push(table);
    }
    attachments
        .into_iter()
        .map(|attachment| {
            let vpc = attachment.vpc_id.as_str();
            let chosen = choose(
                attachment,
                subnets_of.get(vpc).map_or(&[], Vec::as_slice),
                tables_of.get(vpc).map_or(&[], Vec::as_slice),
            );
            (attachment.vpc_id.clone(), chosen)
        })
        .collect()
}

/// Routes that count against a VPC route table's quota ("routes per route table", which counts
/// only non-propagated routes). The table's local routes are not counted.
pub fn counted_routes(table: &VpcRouteTable) -> usize {
    table
        .routes
        .iter()
        .filter(|route| route.origin == Origin::Static)
        .count()
}

/// A table whose plan would take it over its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverQuota {
    pub route_table_id: String,
    pub vpc_id: String,
    pub existing: usize,
    pub to_create: usize,
    pub quota: usize,
}

/// The first table (in the order given) that would hold more than `quota` counted routes after
/// `to_create` more are added.
pub fn first_over_quota<'a>(
    planned: impl IntoIterator<Item = (&'a VpcRouteTable, usize)>,
    quota: usize,
) -> Option<OverQuota> {
    planned.into_iter().find_map(|(table, to_create)| {
        let existing = counted_routes(table);
        (to_create > 0 && existing + to_create > quota).then(|| OverQuota {
            route_table_id: table.id.clone(),
            vpc_id: table.vpc_id.clone(),
            existing,
            to_create,
            quota,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn subnet(id: &str, vpc: &str, zone: &str) -> Subnet {
        Subnet {
            id: id.into(),
            vpc_id: vpc.into(),
            availability_zone: zone.into(),
        }
    }

    fn table(id: &str, vpc: &str, main: bool, subnets: &[&str]) -> VpcRouteTable {
        VpcRouteTable {
            id: id.into(),
            vpc_id: vpc.into(),
            main,
            subnet_ids: subnets.iter().map(|s| (*s).to_owned()).collect(),
            routes: vec![],
            tags: vec![],
        }
    }

    fn attachment(vpc: &str, subnets: &[&str]) -> VpcAttachment {
        VpcAttachment {
            id: "tgw-attach-1".into(),
            vpc_id: vpc.into(),
            subnet_ids: subnets.iter().map(|s| (*s).to_owned()).collect(),
            ipv6_support: false,
        }
    }

    fn ids(tables: Vec<&VpcRouteTable>) -> Vec<&str> {
        tables.into_iter().map(|t| t.id.as_str()).collect()
    }

    #[test]
    fn given_subnets_in_the_attachment_zones_then_their_explicit_tables_and_the_main_one_are_chosen() {
        let subnets = [
            subnet("subnet-att-a", "vpc-1", "az-a"),
            subnet("subnet-app-a", "vpc-1", "az-a"),
            subnet("subnet-db-a", "vpc-1", "az-a"),
            subnet("subnet-app-c", "vpc-1", "az-c"),
            subnet("subnet-other", "vpc-2", "az-a"),
        ];
        let tables = [
            table("rtb-main", "vpc-1", true, &[]),
            table("rtb-app", "vpc-1", false, &["subnet-app-a"]),
            table("rtb-zone-c", "vpc-1", false, &["subnet-app-c"]),
            table("rtb-unused", "vpc-1", false, &[]),
            table("rtb-vpc2", "vpc-2", true, &["subnet-other"]),
        ];
        let chosen = tables_for(&attachment("vpc-1", &["subnet-att-a"]), &subnets, &tables);
        // subnet-att-a and subnet-db-a use the main table; az-c has no attachment subnet.
        assert_eq!(ids(chosen), ["rtb-app", "rtb-main"]);
    }

    #[test]
    fn given_every_subnet_explicitly_associated_then_the_main_table_is_not_touched() {
        let subnets = [subnet("subnet-a", "vpc-1", "az-a")];
        let tables = [
            table("rtb-main", "vpc-1", true, &[]),
            table("rtb-a", "vpc-1", false, &["subnet-a"]),
        ];
        let chosen = tables_for(&attachment("vpc-1", &["subnet-a"]), &subnets, &tables);
        assert_eq!(ids(chosen), ["rtb-a"]);
    }

    #[test]
    fn the_quota_counts_static_routes_only_and_refuses_only_a_plan_that_overflows() {
        let mut full = table("rtb-1", "vpc-1", true, &[]);
        full.routes = (0..48)
            .map(|i| Route::to(format!("10.{i}.0.0/16").parse().unwrap(), "tgw-1"))
            .collect();
        full.routes.push(Route {
            origin: Origin::Local,
            ..Route::to("172.16.0.0/16".parse().unwrap(), "local")
        });
        full.routes.push(Route {
            origin: Origin::Propagated {
                resource_type: "vgw".into(),
            },
            ..Route::to("192.168.0.0/16".parse().unwrap(), "vgw-1")
        });
        assert_eq!(counted_routes(&full), 48);
        assert_eq!(first_over_quota([(&full, 2)], 50), None);
        let over = first_over_quota([(&full, 3)], 50).unwrap();
        assert_eq!((over.existing, over.to_create, over.quota), (48, 3, 50));
        assert_eq!(
            first_over_quota([(&full, 0)], 10),
            None,
            "nothing to add is never refused"
        );
    }

    proptest! {
        #[test]
        fn choosing_for_every_attachment_at_once_gives_what_choosing_for_each_does(
            vpc_of_subnet in proptest::collection::vec((0u8..4, 0u8..3), 0..16),
            table_of in proptest::collection::vec((0u8..4, any::<bool>(), proptest::collection::vec(0usize..16, 0..3)), 0..10),
            attached in proptest::collection::vec((0u8..5, proptest::collection::vec(0usize..16, 0..3)), 0..6),
        ) {
            // Given subnets and tables of several VPCs, in no order, and attachments to some
            let subnets: Vec<Subnet> = vpc_of_subnet.iter().enumerate()
                .map(|(i, (vpc, zone))| subnet(&format!("subnet-{i}"), &format!("vpc-{vpc}"), &format!("az-{zone}")))
                .collect();
            let tables: Vec<VpcRouteTable> = table_of.iter().enumerate().map(|(t, (vpc, main, members))| {
                let members: Vec<String> = members.iter().map(|i| format!("subnet-{i}")).collect();
                let members: Vec<&str> = members.iter().map(String::as_str).collect();
                table(&format!("rtb-{t}"), &format!("vpc-{vpc}"), *main, &members)
            }).collect();
            // (a VPC has one attachment to the gateway, as the caller keys them)
            let attachments: BTreeMap<String, VpcAttachment> = attached.iter().map(|(vpc, members)| {
                let members: Vec<String> = members.iter().map(|i| format!("subnet-{i}")).collect();
                let members: Vec<&str> = members.iter().map(String::as_str).collect();
                (format!("vpc-{vpc}"), attachment(&format!("vpc-{vpc}"), &members))
            }).collect();
            // When chosen for all at once, and for each
            let all = tables_by_vpc(attachments.values(), &subnets, &tables);
            // Then each VPC gets the same tables
            for attachment in attachments.values() {
                prop_assert_eq!(ids(all[&attachment.vpc_id].clone()), ids(tables_for(attachment, &subnets, &tables)));
            }
        }
    }

    proptest! {
        #[test]
        fn every_chosen_table_serves_a_subnet_in_an_attachment_zone_and_every_such_subnet_is_served(
            zones in proptest::collection::vec(0u8..3, 1..8),
            explicit in proptest::collection::vec(proptest::option::of(0u8..3), 1..8),
            attached in proptest::collection::vec(any::<bool>(), 1..8),
        ) {
            let n = zones.len().min(explicit.len()).min(attached.len());
            let subnets: Vec<Subnet> = (0..n)
                .map(|i| subnet(&format!("subnet-{i}"), "vpc-1", &format!("az-{}", zones[i])))
                .collect();
            let mut tables = vec![table("rtb-main", "vpc-1", true, &[])];
            for t in 0..3u8 {
                let members: Vec<String> = (0..n).filter(|i| explicit[*i] == Some(t)).map(|i| format!("subnet-{i}")).collect();
                let members: Vec<&str> = members.iter().map(String::as_str).collect();
                tables.push(table(&format!("rtb-{t}"), "vpc-1", false, &members));
            }
            let attached_subnets: Vec<String> = (0..n).filter(|i| attached[*i]).map(|i| format!("subnet-{i}")).collect();
            let attached_refs: Vec<&str> = attached_subnets.iter().map(String::as_str).collect();
            let att = attachment("vpc-1", &attached_refs);
            let chosen: BTreeSet<String> = tables_for(&att, &subnets, &tables).into_iter().map(|t| t.id.clone()).collect();

            let attachment_zones: BTreeSet<u8> = (0..n).filter(|i| attached[*i]).map(|i| zones[i]).collect();
            let expected: BTreeSet<String> = (0..n)
                .filter(|i| attachment_zones.contains(&zones[*i]))
                .map(|i| explicit[i].map_or("rtb-main".to_owned(), |t| format!("rtb-{t}")))
                .collect();
            prop_assert_eq!(chosen, expected);
        }
    }
}
