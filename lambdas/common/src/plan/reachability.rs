//! The reachability report: for each pair of tagged VPCs across the two Regions, whether a packet
//! gets there and back, or the first hop that is missing. Pure: it walks the routes as read (and
//! as this pass changed them), longest prefix first, as EC2 does, in the tables the transit
//! gateways really use.
//!
//! A transit gateway looks up a packet in the route table associated with the attachment the
//! packet arrived from. So the path from a VPC `a` on one side to a VPC `b` on the other, for
//! each CIDR of `b` (IPv4, and IPv6 where both VPCs have it):
//! 1. `a` and `b` are attached to their transit gateways (for IPv6, with `Ipv6Support`);
//! 2. every route table of `a`'s subnets in its attachment's zones sends the CIDR to `a`'s TGW;
//! 3. the TGW route table associated with `a`'s attachment sends it over the peering;
//! 4. the remote TGW route table associated with the peering attachment sends it to `b`'s
//!    attachment;
//!
//! then the same back from `b` to each CIDR of `a`. Then the network ACLs the two VPCs' traffic
//! crosses (see [`crate::plan::network_acl`]): a connection opened from `a` to `b`, request and
//! reply, then one opened from `b` to `a`.

use std::collections::{BTreeMap, HashMap};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::plan::association::Association;
use crate::plan::network_acl::{
    first_block, AclClass, AclDirection, AclJudge, AclParty, AclTraffic, Leg, VpcAcls,
};
use crate::plan::routing::{Origin, Route, Vpc};
use crate::plan::security_groups::SecurityGroupAdvice;
use crate::plan::vpc_tables::{VpcAttachment, VpcRouteTable};

/// At most this many pairs are listed, unreachable ones first; the counts are always exact.
pub const MAX_PAIRS_LISTED: usize = 200;

/// One side as the report needs it.
pub struct SideView<'a> {
    pub region: &'a str,
    pub transit_gateway_id: &'a str,
    pub tagged: &'a [Vpc],
    pub attachments: &'a BTreeMap<String, VpcAttachment>,
    /// Each attached tagged VPC's route tables (see [`crate::plan::vpc_tables::tables_for`]).
    pub vpc_tables: &'a BTreeMap<String, Vec<VpcRouteTable>>,
    /// The static and propagated routes of the TGW route tables, by table id: every table an
    /// attachment of the walk is associated with.
    pub tgw_tables: &'a BTreeMap<String, Vec<Route>>,
    /// Each attachment's association on this side's transit gateway, by attachment id.
    pub associations: &'a BTreeMap<String, Association>,
    /// The peering attachment as this side knows it.
    pub peering_attachment_id: &'a str,
    /// Each attached tagged VPC's network ACLs (see [`crate::plan::network_acl::acls_by_vpc`]);
    /// a VPC without an entry is walked without ACLs.
    pub network_acls: &'a BTreeMap<String, VpcAcls>,
}

/// The first hop a packet misses, or that it gets there and back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum Hop {
    /// Every hop there and back is in place.
    Reachable,
    /// A VPC of the pair has no live attachment to its Region's transit gateway.
    #[serde(rename_all = "camelCase")]
    NoTgwAttachment {
        region: String,
        vpc_id: String,
        transit_gateway_id: String,
    },
    /// The VPC's attachment is associated with no TGW route table, so the transit gateway drops
    /// what the VPC sends.
    #[serde(rename_all = "camelCase")]
    VpcAttachmentNotAssociated {
        region: String,
        vpc_id: String,
        attachment_id: String,
    },
    /// The VPC's attachment does not have `Ipv6Support`, so the transit gateway forwards no IPv6
    /// to or from it.
    #[serde(rename_all = "camelCase")]
    Ipv6NotEnabled {
        region: String,
        vpc_id: String,
        attachment_id: String,
    },
    /// A VPC route table has no route for the CIDR, so traffic never reaches the TGW.
    #[serde(rename_all = "camelCase")]
    NoVpcRoute {
        region: String,
        route_table_id: String,
        cidr: IpNet,
    },
    /// The TGW route table associated with the source VPC's attachment has no route for the CIDR.
    #[serde(rename_all = "camelCase")]
    NoTgwRoute {
        region: String,
        route_table_id: String,
        cidr: IpNet,
    },
    /// The peering attachment is associated with no TGW route table on the receiving side (or
    /// the association is still being made), so traffic arriving over it is dropped.
    #[serde(rename_all = "camelCase")]
    PeeringNotAssociated { region: String, attachment_id: String },
    /// The TGW route table associated with the peering attachment on the receiving side has no
    /// route for the CIDR: traffic arrives and goes nowhere.
    #[serde(rename_all = "camelCase")]
    NoRouteFromPeering {
        region: String,
        route_table_id: String,
        cidr: IpNet,
    },
    /// The route that matches the CIDR drops its traffic.
    #[serde(rename_all = "camelCase")]
    Blackhole {
        region: String,
        route_table_id: String,
        cidr: IpNet,
    },
    /// The route that matches the CIDR sends it somewhere else.
    #[serde(rename_all = "camelCase")]
    Conflict {
        region: String,
        route_table_id: String,
        cidr: IpNet,
        target: String,
        expected: String,
    },
    /// A rule of a network ACL stops the traffic: `ruleNumber` 32767 is the `*` rule, which
    /// denies what no rule allows. `aclDirection` is the rule's (outbound or inbound), `leg`
    /// whether the packet is the request or the reply, `cidr` the far addresses stopped.
    #[serde(rename_all = "camelCase")]
    BlockedByNetworkAcl {
        region: String,
        vpc_id: String,
        network_acl_id: String,
        rule_number: i32,
        acl_direction: AclDirection,
        leg: Leg,
        cidr: IpNet,
    },
}

/// One pair's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairResult {
    /// The active side's VPC.
    pub active_vpc_id: String,
    /// The passive side's VPC.
    pub passive_vpc_id: String,
    /// `there` (active to passive) or `back`; absent when reachable or not attached.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub direction: Option<String>,
    #[serde(flatten)]
    pub hop: Hop,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reachability {
    pub pairs: usize,
    pub reachable: usize,
    pub unreachable: usize,
    /// Unreachable pairs first, then reachable ones, each in VPC id order; cut to
    /// [`MAX_PAIRS_LISTED`].
    pub results: Vec<PairResult>,
    /// Whether the VPCs' security groups admit each other (advice: it decides no result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<SecurityGroupAdvice>,
}

/// Which of the two routes EC2 prefers for the same destination: the longer prefix, then a
/// static route over a propagated one.
fn preference(route: &Route) -> (u8, bool) {
    let propagated = matches!(route.origin, Origin::Propagated { .. });
    (route.cidr.prefix_len(), !propagated)
}

/// The route EC2 would use for `cidr`: the longest prefix that covers it, a static route before a
/// propagated one of the same prefix.
pub fn best_match(routes: &[Route], cidr: IpNet) -> Option<&Route> {
    routes
        .iter()
        .filter(|route| route.cidr.contains(&cidr))
        .max_by_key(|route| preference(route))
}

/// A TGW table's routes by prefix, so a lookup costs one probe per prefix length the table uses
/// rather than a scan: the walk looks up every remote CIDR for every VPC pair, in tables of
/// thousands of routes.
struct Lookup<'a> {
    by_prefix: HashMap<IpNet, &'a Route>,
    /// The prefix lengths present, longest first.
    lengths: Vec<u8>,
}

impl<'a> Lookup<'a> {
    fn new(routes: &'a [Route]) -> Self {
        let mut by_prefix: HashMap<IpNet, &'a Route> = HashMap::new();
        for route in routes {
            by_prefix
                .entry(route.cidr.trunc())
                .and_modify(|kept| {
                    if preference(route) > preference(kept) {
                        *kept = route;
                    }
                })
                .or_insert(route);
        }
        let mut lengths: Vec<u8> = by_prefix.keys().map(IpNet::prefix_len).collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        Self { by_prefix, lengths }
    }

    fn best_match(&self, cidr: IpNet) -> Option<&'a Route> {
        self.lengths
            .iter()
            .filter(|length| **length <= cidr.prefix_len())
            .filter_map(|length| {
                let supernet = IpNet::new(cidr.addr(), *length).ok()?.trunc();
                self.by_prefix.get(&supernet).copied()
            })
            .next()
    }
}

/// What a route lookup found, judged against where the packet must go.
fn judge(
    region: &str,
    table_id: &str,
    found: Option<&Route>,
    cidr: IpNet,
    expected: &str,
    missing: Missing,
) -> Option<Hop> {
    let region = region.to_owned();
    let route_table_id = table_id.to_owned();
    match found {
        None => Some(match missing {
            Missing::Vpc => Hop::NoVpcRoute {
                region,
                route_table_id,
                cidr,
            },
            Missing::Tgw => Hop::NoTgwRoute {
                region,
                route_table_id,
                cidr,
            },
            Missing::FromPeering => Hop::NoRouteFromPeering {
                region,
                route_table_id,
                cidr,
            },
        }),
        Some(route) if route.blackhole => Some(Hop::Blackhole {
            region,
            route_table_id,
            cidr,
        }),
        Some(route) if route.target.as_deref() == Some(expected) => None,
        Some(route) => Some(Hop::Conflict {
            region,
            route_table_id,
            cidr,
            target: route.target_label(),
            expected: expected.to_owned(),
        }),
    }
}

/// Which hop a table without a matching route is.
#[derive(Clone, Copy)]
enum Missing {
    Vpc,
    Tgw,
    FromPeering,
}

/// One side, indexed once for the walk.
struct Walker<'a> {
    view: &'a SideView<'a>,
    tables: BTreeMap<&'a str, Lookup<'a>>,
    /// The table associated with the peering attachment on this side, if live.
    peering_table: Option<&'a str>,
}

impl<'a> Walker<'a> {
    fn new(view: &'a SideView<'a>) -> Self {
        Self {
            tables: view
                .tgw_tables
                .iter()
                .map(|(id, routes)| (id.as_str(), Lookup::new(routes)))
                .collect(),
            peering_table: Association::live_table(view.associations.get(view.peering_attachment_id)),
            view,
        }
    }

    fn tgw_hop(&self, table_id: &str, cidr: IpNet, expected: &str, missing: Missing) -> Option<Hop> {
        let found = self
            .tables
            .get(table_id)
            .and_then(|lookup| lookup.best_match(cidr));
        judge(self.view.region, table_id, found, cidr, expected, missing)
    }

    /// Why the transit gateway cannot carry `vpc`'s traffic at all, if it cannot.
    fn attachment_hop(&self, vpc: &Vpc) -> Option<Hop> {
        let attachment = &self.view.attachments[&vpc.id];
        match Association::live_table(self.view.associations.get(&attachment.id)) {
            Some(_) => None,
            None => Some(Hop::VpcAttachmentNotAssociated {
                region: self.view.region.to_owned(),
                vpc_id: vpc.id.clone(),
                attachment_id: attachment.id.clone(),
            }),
        }
    }

    fn ipv6_hop(&self, vpc: &Vpc) -> Option<Hop> {
        let attachment = &self.view.attachments[&vpc.id];
        (!attachment.ipv6_support).then(|| Hop::Ipv6NotEnabled {
            region: self.view.region.to_owned(),
            vpc_id: vpc.id.clone(),
            attachment_id: attachment.id.clone(),
        })
    }
}

fn has_ipv6(vpc: &Vpc) -> bool {
    vpc.cidrs.iter().any(|cidr| matches!(cidr, IpNet::V6(_)))
}

/// The first missing hop from `local` on `from` to every CIDR of `remote` on `to`.
fn one_way(from: &Walker, local: &Vpc, to: &Walker, remote: &Vpc) -> Option<Hop> {
    let association = from.view.associations.get(&from.view.attachments[&local.id].id);
    let Some(outbound) = Association::live_table(association) else {
        return from.attachment_hop(local);
    };
    let remote_attachment = &to.view.attachments[&remote.id];
    let no_tables = Vec::new();
    let vpc_tables = from.view.vpc_tables.get(&local.id).unwrap_or(&no_tables);
    // IPv6 goes only between VPCs that both have it.
    let both_ipv6 = has_ipv6(local) && has_ipv6(remote);
    for cidr in remote
        .cidrs
        .iter()
        .filter(|cidr| matches!(cidr, IpNet::V4(_)) || both_ipv6)
    {
        for table in vpc_tables {
            let found = best_match(&table.routes, *cidr);
            if let Some(hop) = judge(
                from.view.region,
                &table.id,
                found,
                *cidr,
                from.view.transit_gateway_id,
                Missing::Vpc,
            ) {
                return Some(hop);
            }
        }
        if let Some(hop) = from.tgw_hop(outbound, *cidr, from.view.peering_attachment_id, Missing::Tgw) {
            return Some(hop);
        }
        let Some(arrival) = to.peering_table else {
            return Some(Hop::PeeringNotAssociated {
                region: to.view.region.to_owned(),
                attachment_id: to.view.peering_attachment_id.to_owned(),
            });
        };
        if let Some(hop) = to.tgw_hop(arrival, *cidr, &remote_attachment.id, Missing::FromPeering) {
            return Some(hop);
        }
    }
    None
}

/// A VPC as the ACL checks see it: its ACLs (none if they were not read) and its CIDRs as
/// walked towards `other`.
fn acl_party<'v>((side, vpc): (&'v Walker, &Vpc), other: &Vpc, no_acls: &'v VpcAcls) -> AclParty<'v> {
    AclParty {
        acls: side.view.network_acls.get(&vpc.id).unwrap_or(no_acls),
        own: walked_cidrs(vpc, has_ipv6(other)).copied().collect(),
    }
}

/// The first place a network ACL stops a connection `client` opens to `server`, as a hop.
fn acl_hop(client: (&Walker, &Vpc), server: (&Walker, &Vpc), traffic: &AclTraffic) -> Option<Hop> {
    let no_acls = VpcAcls::default();
    let (client_party, server_party) = (
        acl_party(client, server.1, &no_acls),
        acl_party(server, client.1, &no_acls),
    );
    let client_remote: Vec<IpNet> = server_party.own.clone();
    let server_remote: Vec<IpNet> = client_party.own.clone();
    let (at_server, block) = first_block(
        (&client_party, &client_remote),
        (&server_party, &server_remote),
        traffic,
    )?;
    let (side, vpc) = if at_server { server } else { client };
    Some(Hop::BlockedByNetworkAcl {
        region: side.view.region.to_owned(),
        vpc_id: vpc.id.clone(),
        network_acl_id: block.network_acl_id,
        rule_number: block.rule_number,
        acl_direction: block.direction,
        leg: block.leg,
        cidr: block.cidr,
    })
}

fn pair(active: &Walker, a: &Vpc, passive: &Walker, p: &Vpc, traffic: &AclTraffic) -> PairResult {
    let result = |direction: Option<&str>, hop: Hop| PairResult {
        active_vpc_id: a.id.clone(),
        passive_vpc_id: p.id.clone(),
        direction: direction.map(str::to_owned),
        hop,
    };
    for (side, vpc) in [(active, a), (passive, p)] {
        if !side.view.attachments.contains_key(&vpc.id) {
            return result(
                None,
                Hop::NoTgwAttachment {
                    region: side.view.region.to_owned(),
                    vpc_id: vpc.id.clone(),
                    transit_gateway_id: side.view.transit_gateway_id.to_owned(),
                },
            );
        }
    }
    for (side, vpc) in [(active, a), (passive, p)] {
        if let Some(hop) = side.attachment_hop(vpc) {
            return result(None, hop);
        }
    }
    if has_ipv6(a) && has_ipv6(p) {
        for (side, vpc) in [(active, a), (passive, p)] {
            if let Some(hop) = side.ipv6_hop(vpc) {
                return result(None, hop);
            }
        }
    }
    if let Some(hop) = one_way(active, a, passive, p) {
        return result(Some("there"), hop);
    }
    if let Some(hop) = one_way(passive, p, active, a) {
        return result(Some("back"), hop);
    }
    if let Some(hop) = acl_hop((active, a), (passive, p), traffic) {
        return result(Some("there"), hop);
    }
    if let Some(hop) = acl_hop((passive, p), (active, a), traffic) {
        return result(Some("back"), hop);
    }
    result(None, Hop::Reachable)
}

fn by_id(vpcs: &[Vpc]) -> Vec<&Vpc> {
    let mut sorted: Vec<&Vpc> = vpcs.iter().collect();
    sorted.sort_by(|x, y| x.id.cmp(&y.id));
    sorted
}

/// Whether a lookup found the route a packet must take: there, live, to `expected`. Exactly when
/// [`judge`] names no hop, without building the hop.
fn passes(found: Option<&Route>, expected: &str) -> bool {
    found.is_some_and(|route| !route.blackhole && route.target.as_deref() == Some(expected))
}

/// The CIDRs of `remote` a packet from a VPC with (`local_ipv6`) or without IPv6 is walked to:
/// IPv6 goes only between VPCs that both have it.
fn walked_cidrs(remote: &Vpc, local_ipv6: bool) -> impl Iterator<Item = &IpNet> {
    let both_ipv6 = local_ipv6 && has_ipv6(remote);
    remote
        .cidrs
        .iter()
        .filter(move |cidr| matches!(cidr, IpNet::V4(_)) || both_ipv6)
}

/// A CIDR as a sort key: family, network address, prefix length. In this order the CIDRs inside
/// a route's prefix are one contiguous run.
fn address_key(cidr: &IpNet) -> (bool, u128, u8) {
    match cidr.trunc() {
        IpNet::V4(v4) => (false, u128::from(u32::from(v4.network())), v4.prefix_len()),
        IpNet::V6(v6) => (true, u128::from(v6.network()), v6.prefix_len()),
    }
}

/// Whether `route` covers at least one CIDR of `universe` (sorted by [`address_key`]): a route
/// that covers none can never be the one a walked CIDR matches.
fn covers_any(universe: &[(bool, u128, u8)], route: &IpNet) -> bool {
    let key = address_key(route);
    let last = match route.trunc() {
        IpNet::V4(v4) => u128::from(u32::from(v4.broadcast())),
        IpNet::V6(v6) => u128::from(v6.broadcast()),
    };
    let first = universe.partition_point(|cidr| *cidr < key);
    // Past the route's own prefix every CIDR whose network lies inside the route is inside it.
    universe
        .get(first)
        .is_some_and(|cidr| cidr.0 == key.0 && cidr.1 <= last)
}

/// What decides one VPC route table's verdict on every walked CIDR: the routes that cover one,
/// each as (prefix, preference, goes to the transit gateway), one per prefix and preference (the
/// one [`best_match`] would pick among equals: the last), in address order. Tables with equal
/// keys send every walked CIDR the same way, whatever their ids and other routes.
type TableKey = Vec<(IpNet, (u8, bool), bool)>;

fn table_key(table: &VpcRouteTable, universe: &[(bool, u128, u8)], tgw: &str) -> TableKey {
    let mut kept: HashMap<(IpNet, (u8, bool)), bool> = HashMap::new();
    for route in table
        .routes
        .iter()
        .filter(|route| covers_any(universe, &route.cidr))
    {
        kept.insert((route.cidr.trunc(), preference(route)), passes(Some(route), tgw));
    }
    let mut key: TableKey = kept
        .into_iter()
        .map(|((cidr, preference), ok)| (cidr, preference, ok))
        .collect();
    key.sort_unstable_by_key(|(cidr, preference, _)| (address_key(cidr), *preference));
    key
}

/// A [`TableKey`] indexed like [`Lookup`]: whether the route a CIDR matches goes to the TGW.
struct KeyLookup {
    by_prefix: HashMap<IpNet, ((u8, bool), bool)>,
    lengths: Vec<u8>,
}

impl KeyLookup {
    fn new(key: &TableKey) -> Self {
        let mut by_prefix: HashMap<IpNet, ((u8, bool), bool)> = HashMap::new();
        for (cidr, preference, ok) in key {
            by_prefix
                .entry(*cidr)
                .and_modify(|kept| {
                    if *preference > kept.0 {
                        *kept = (*preference, *ok);
                    }
                })
                .or_insert((*preference, *ok));
        }
        let mut lengths: Vec<u8> = by_prefix.keys().map(IpNet::prefix_len).collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        Self { by_prefix, lengths }
    }

    fn passes(&self, cidr: IpNet) -> bool {
        self.lengths
            .iter()
            .filter(|length| **length <= cidr.prefix_len())
            .find_map(|length| {
                let supernet = IpNet::new(cidr.addr(), *length).ok()?.trunc();
                self.by_prefix.get(&supernet)
            })
            .is_some_and(|(_, ok)| *ok)
    }
}

/// What decides where a local VPC's packets get on the way out: the VPCs with one class send
/// every remote CIDR the same way.
#[derive(PartialEq, Eq, Hash)]
struct ClassKey<'a> {
    ipv6: bool,
    ipv6_support: bool,
    outbound: &'a str,
    tables: Vec<TableKey>,
    /// `None` when the VPC's ACLs were not read: then none is walked.
    acls: Option<AclClass>,
}

/// One direction of the walk (from one side's VPCs to the other's), decided per class of local
/// VPC rather than per pair.
struct Direction {
    /// Each local VPC's class (in id order); `None` when its transit gateway carries none of its
    /// traffic (no attachment, or one associated with no table).
    class_of: Vec<Option<usize>>,
    /// Per class: (IPv6, `Ipv6Support`) of its VPCs.
    flags: Vec<(bool, bool)>,
    /// Per class, one bit per remote VPC (in id order): every walked CIDR of it gets there.
    reaches: Vec<Vec<u64>>,
}

fn bit(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

/// Decides one direction. Each hop is looked up once per (class, remote CIDR) and once per
/// (remote VPC, CIDR) on arrival, so the cost grows with the VPCs times the classes, not with
/// the pairs: a network routed alike has a class per outbound table and family.
///
/// A class's bit for a remote VPC also needs the class's network ACLs to let every connection
/// with that VPC through, opened from either end: the other VPC's ACLs are checked in the
/// other direction's rows.
fn direction(from: &Walker, locals: &[&Vpc], to: &Walker, remotes: &[&Vpc], judge: &AclJudge) -> Direction {
    let mut universe: Vec<(bool, u128, u8)> = remotes
        .iter()
        .flat_map(|vpc| vpc.cidrs.iter().map(address_key))
        .collect();
    universe.sort_unstable();
    universe.dedup();

    let mut classes: HashMap<ClassKey, usize> = HashMap::new();
    let mut representative: Vec<(bool, &str, Vec<KeyLookup>, Option<AclClass>)> = Vec::new();
    let mut flags = Vec::new();
    let no_tables = Vec::new();
    let class_of = locals
        .iter()
        .map(|vpc| {
            let attachment = from.view.attachments.get(&vpc.id)?;
            let outbound = Association::live_table(from.view.associations.get(&attachment.id))?;
            let tables = from.view.vpc_tables.get(&vpc.id).unwrap_or(&no_tables);
            let key = ClassKey {
                ipv6: has_ipv6(vpc),
                ipv6_support: attachment.ipv6_support,
                outbound,
                tables: tables
                    .iter()
                    .map(|table| table_key(table, &universe, from.view.transit_gateway_id))
                    .collect(),
                acls: from
                    .view
                    .network_acls
                    .get(&vpc.id)
                    .map(|acls| judge.class(acls, &vpc.cidrs)),
            };
            let next = classes.len();
            Some(*classes.entry(key).or_insert_with_key(|key| {
                representative.push((
                    key.ipv6,
                    key.outbound,
                    key.tables.iter().map(KeyLookup::new).collect(),
                    key.acls.clone(),
                ));
                flags.push((key.ipv6, key.ipv6_support));
                next
            }))
        })
        .collect();

    // Arrival depends on the remote VPC alone: per VPC, for IPv4 only and for every family.
    let arrival = |vpc: &Vpc, local_ipv6: bool| -> bool {
        let Some(attachment) = to.view.attachments.get(&vpc.id) else {
            return false;
        };
        walked_cidrs(vpc, local_ipv6).all(|cidr| {
            to.peering_table.is_some_and(|table| {
                passes(
                    to.tables.get(table).and_then(|lookup| lookup.best_match(*cidr)),
                    &attachment.id,
                )
            })
        })
    };
    let arrives: Vec<[bool; 2]> = remotes
        .iter()
        .map(|vpc| [arrival(vpc, false), arrival(vpc, true)])
        .collect();

    let words = remotes.len().div_ceil(64);
    let reaches = representative
        .iter()
        .map(|(ipv6, outbound, tables, acls)| {
            let lookup = from.tables.get(outbound);
            let mut bits = vec![0u64; words];
            for (j, vpc) in remotes.iter().enumerate() {
                let there = arrives[j][usize::from(*ipv6)]
                    && walked_cidrs(vpc, *ipv6).all(|cidr| {
                        tables.iter().all(|table| table.passes(*cidr))
                            && passes(
                                lookup.and_then(|lookup| lookup.best_match(*cidr)),
                                from.view.peering_attachment_id,
                            )
                    })
                    && acls.as_ref().is_none_or(|class| {
                        judge.lets_through(class, walked_cidrs(vpc, *ipv6), *ipv6 && has_ipv6(vpc))
                    });
                if there {
                    bits[j / 64] |= 1 << (j % 64);
                }
            }
            bits
        })
        .collect();
    Direction {
        class_of,
        flags,
        reaches,
    }
}

/// Checks every pair of tagged VPCs across the two sides.
///
/// The counts come from classes of VPCs that route alike ([`direction`]), never from the pairs
/// themselves: at 1,000 VPCs a side there are a million pairs, and walking each took seconds.
/// Only the pairs listed are walked hop by hop, to name their first missing hop: rows are
/// visited in VPC id order, and a row is looked into only when it holds a pair still to list,
/// so at most [`MAX_PAIRS_LISTED`] rows of each kind are.
pub fn reachability(active: &SideView, passive: &SideView, traffic: &AclTraffic) -> Reachability {
    let (active_walker, passive_walker) = (Walker::new(active), Walker::new(passive));
    let (active_vpcs, passive_vpcs) = (by_id(active.tagged), by_id(passive.tagged));
    let judge = AclJudge::new(traffic);
    let there = direction(
        &active_walker,
        &active_vpcs,
        &passive_walker,
        &passive_vpcs,
        &judge,
    );
    let back = direction(
        &passive_walker,
        &passive_vpcs,
        &active_walker,
        &active_vpcs,
        &judge,
    );
    let compatible = |ca: usize, cp: usize| {
        let ((a_ipv6, a_support), (p_ipv6, p_support)) = (there.flags[ca], back.flags[cp]);
        !(a_ipv6 && p_ipv6) || (a_support && p_support)
    };
    let reachable_pair = |i: usize, j: usize| match (there.class_of[i], back.class_of[j]) {
        (Some(ca), Some(cp)) => compatible(ca, cp) && bit(&there.reaches[ca], j) && bit(&back.reaches[cp], i),
        _ => false,
    };
    // How many passive VPCs of each back class each there class reaches.
    let counts: Vec<Vec<usize>> = there
        .reaches
        .iter()
        .map(|bits| {
            let mut counts = vec![0; back.reaches.len()];
            for (j, class) in back.class_of.iter().enumerate() {
                if let Some(cp) = class {
                    counts[*cp] += usize::from(bit(bits, j));
                }
            }
            counts
        })
        .collect();

    let mut unreachable = Vec::new();
    let mut reachable = Vec::new();
    let mut reachable_count = 0;
    for (i, a) in active_vpcs.iter().enumerate() {
        let row = there.class_of[i].map_or(0, |ca| {
            (0..back.reaches.len())
                .filter(|cp| compatible(ca, *cp) && bit(&back.reaches[*cp], i))
                .map(|cp| counts[ca][cp])
                .sum()
        });
        reachable_count += row;
        let want_unreachable = unreachable.len() < MAX_PAIRS_LISTED && row < passive_vpcs.len();
        let want_reachable = reachable.len() < MAX_PAIRS_LISTED && row > 0;
        if !(want_unreachable || want_reachable) {
            continue;
        }
        for (j, p) in passive_vpcs.iter().enumerate() {
            let listed = if reachable_pair(i, j) {
                &mut reachable
            } else {
                &mut unreachable
            };
            if listed.len() < MAX_PAIRS_LISTED {
                listed.push(pair(&active_walker, a, &passive_walker, p, traffic));
            }
            if unreachable.len() >= MAX_PAIRS_LISTED && reachable.len() >= MAX_PAIRS_LISTED {
                break;
            }
        }
    }
    let pairs = active_vpcs.len() * passive_vpcs.len();
    let mut results = unreachable;
    results.extend(reachable);
    results.truncate(MAX_PAIRS_LISTED);
    Reachability {
        pairs,
        reachable: reachable_count,
        unreachable: pairs - reachable_count,
        results,
        security_groups: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::association::AssociationState;
    use crate::plan::network_acl::{AclEntry, NetworkAcl, PortRange, DEFAULT_RULE_NUMBER};
    use proptest::prelude::*;

    const PEERING: &str = "tgw-attach-peering";

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    /// One side with one tagged, attached VPC whose one route table has `vpc_routes`.
    struct Fixture {
        region: &'static str,
        tgw: &'static str,
        tgw_table: &'static str,
        vpc: Vpc,
        attachments: BTreeMap<String, VpcAttachment>,
        tables: BTreeMap<String, Vec<VpcRouteTable>>,
        tgw_tables: BTreeMap<String, Vec<Route>>,
        associations: BTreeMap<String, Association>,
        acls: BTreeMap<String, VpcAcls>,
    }

    impl Fixture {
        fn new(name: &'static str, cidr: &str) -> Self {
            let (region, tgw, tgw_table) = match name {
                "active" => ("us-east-1", "tgw-a", "tgw-rtb-a"),
                _ => ("eu-west-1", "tgw-p", "tgw-rtb-p"),
            };
            let vpc = Vpc {
                id: format!("vpc-{name}"),
                cidrs: vec![net(cidr)],
                tags: vec![],
            };
            let attachment = VpcAttachment {
                id: format!("tgw-attach-{name}"),
                vpc_id: vpc.id.clone(),
                subnet_ids: vec![],
                ipv6_support: true,
            };
            // Both the VPC's attachment and the peering look up in the one TGW table.
            let associations = [attachment.id.clone(), PEERING.to_owned()]
                .into_iter()
                .map(|id| {
                    let association = Association {
                        route_table_id: tgw_table.to_owned(),
                        state: AssociationState::Associated,
                    };
                    (id, association)
                })
                .collect();
            let table = VpcRouteTable {
                id: format!("rtb-{name}"),
                vpc_id: vpc.id.clone(),
                main: true,
                subnet_ids: vec![],
                routes: vec![],
                tags: vec![],
            };
            Self {
                region,
                tgw,
                tgw_table,
                attachments: [(vpc.id.clone(), attachment)].into(),
                tables: [(vpc.id.clone(), vec![table])].into(),
                associations,
                acls: BTreeMap::new(),
                // The VPC's own CIDR, as propagation puts it in its TGW table.
                tgw_tables: [(
                    tgw_table.to_owned(),
                    vec![Route {
                        origin: Origin::Propagated {
                            resource_type: "vpc".into(),
                        },
                        ..Route::to(net(cidr), &format!("tgw-attach-{name}"))
                    }],
                )]
                .into(),
                vpc,
            }
        }

        /// Everything in place towards `remote`: a VPC route to the TGW, a TGW route over the peering.
        fn routes_to(mut self, remote: &str) -> Self {
            let tgw = self.tgw;
            self.vpc_table().routes.push(Route::to(net(remote), tgw));
            self.tgw_routes().push(Route::to(net(remote), PEERING));
            self
        }

        fn tgw_routes(&mut self) -> &mut Vec<Route> {
            self.tgw_tables.values_mut().next().unwrap()
        }

        fn vpc_table(&mut self) -> &mut VpcRouteTable {
            self.tables.values_mut().next().unwrap().first_mut().unwrap()
        }

        fn view(&self) -> SideView<'_> {
            SideView {
                region: self.region,
                transit_gateway_id: self.tgw,
                tagged: std::slice::from_ref(&self.vpc),
                attachments: &self.attachments,
                vpc_tables: &self.tables,
                tgw_tables: &self.tgw_tables,
                associations: &self.associations,
                peering_attachment_id: PEERING,
                network_acls: &self.acls,
            }
        }
    }

    impl Fixture {
        /// The VPC's one subnet (its attachment's too) served by an open ACL with `extra` rules.
        fn with_acl(mut self, extra: Vec<AclEntry>) -> Self {
            let acl = acl_with(&self.vpc.id.replace("vpc-", "acl-"), extra);
            let acls = VpcAcls {
                zone: vec![acl.clone()],
                attachment: vec![acl],
            };
            self.acls.insert(self.vpc.id.clone(), acls);
            self
        }
    }

    fn blocked(
        region: &str,
        vpc: &str,
        rule_number: i32,
        acl_direction: AclDirection,
        leg: Leg,
        cidr: &str,
    ) -> Hop {
        Hop::BlockedByNetworkAcl {
            region: region.into(),
            vpc_id: vpc.into(),
            network_acl_id: vpc.replace("vpc-", "acl-"),
            rule_number,
            acl_direction,
            leg,
            cidr: net(cidr),
        }
    }

    const EPHEMERAL: Option<(u16, u16)> = Some((1024, 65535));

    #[test]
    fn given_open_acls_on_both_sides_then_the_pair_is_reachable() {
        let (active, passive) = full_path();
        let (active, passive) = (active.with_acl(vec![]), passive.with_acl(vec![]));
        assert_eq!(only_result(&active, &passive).hop, Hop::Reachable);
    }

    #[test]
    fn given_a_deny_out_at_the_source_then_the_source_acl_rule_is_named() {
        let (active, passive) = full_path();
        let active = active.with_acl(vec![acl_rule(90, true, false, "10.2.0.0/16", None)]);
        let result = only_result(&active, &passive.with_acl(vec![]));
        assert_eq!(result.direction.as_deref(), Some("there"));
        let expected = blocked(
            "us-east-1",
            "vpc-active",
            90,
            AclDirection::Outbound,
            Leg::Request,
            "10.2.0.0/16",
        );
        assert_eq!(result.hop, expected);
    }

    #[test]
    fn given_a_deny_in_at_the_destination_then_the_destination_acl_rule_is_named() {
        let (active, passive) = full_path();
        let passive = passive.with_acl(vec![acl_rule(80, false, false, "10.1.0.0/16", Some((0, 1023)))]);
        let result = only_result(&active.with_acl(vec![]), &passive);
        assert_eq!(result.direction.as_deref(), Some("there"));
        let expected = blocked(
            "eu-west-1",
            "vpc-passive",
            80,
            AclDirection::Inbound,
            Leg::Request,
            "10.1.0.0/16",
        );
        assert_eq!(result.hop, expected);
    }

    #[test]
    fn given_a_deny_of_the_reply_out_of_the_destination_then_the_return_leg_is_named() {
        let (active, passive) = full_path();
        let passive = passive.with_acl(vec![acl_rule(70, true, false, "10.1.0.0/16", EPHEMERAL)]);
        let result = only_result(&active.with_acl(vec![]), &passive);
        assert_eq!(result.direction.as_deref(), Some("there"));
        let expected = blocked(
            "eu-west-1",
            "vpc-passive",
            70,
            AclDirection::Outbound,
            Leg::Return,
            "10.1.0.0/16",
        );
        assert_eq!(result.hop, expected);
    }

    #[test]
    fn given_a_deny_of_the_reply_into_the_source_then_the_return_leg_is_named() {
        let (active, passive) = full_path();
        let active = active.with_acl(vec![acl_rule(60, false, false, "10.2.0.0/16", EPHEMERAL)]);
        let result = only_result(&active, &passive.with_acl(vec![]));
        assert_eq!(result.direction.as_deref(), Some("there"));
        let expected = blocked(
            "us-east-1",
            "vpc-active",
            60,
            AclDirection::Inbound,
            Leg::Return,
            "10.2.0.0/16",
        );
        assert_eq!(result.hop, expected);
    }

    #[test]
    fn given_a_deny_that_stops_only_connections_the_passive_side_opens_then_back_is_named() {
        let (active, passive) = full_path();
        // Requests into the active VPC on ports below 1024 are denied: its own requests pass
        // (their replies come back to ephemeral ports), the passive side's do not.
        let active = active.with_acl(vec![acl_rule(40, false, false, "10.2.0.0/16", Some((0, 1023)))]);
        let result = only_result(&active, &passive.with_acl(vec![]));
        assert_eq!(result.direction.as_deref(), Some("back"));
        let expected = blocked(
            "us-east-1",
            "vpc-active",
            40,
            AclDirection::Inbound,
            Leg::Request,
            "10.2.0.0/16",
        );
        assert_eq!(result.hop, expected);
    }

    #[test]
    fn given_traffic_the_acls_allow_then_a_deny_elsewhere_does_not_count() {
        let (active, passive) = full_path();
        let active = active.with_acl(vec![acl_rule(90, true, false, "10.2.0.0/16", Some((22, 22)))]);
        let (active_view, passive) = (active, passive.with_acl(vec![]));
        let https = AclTraffic {
            ports: PortRange { from: 443, to: 443 },
            ..AclTraffic::default()
        };
        let report = reachability(&active_view.view(), &passive.view(), &https);
        assert_eq!(report.results[0].hop, Hop::Reachable);
        let report = reachability(&active_view.view(), &passive.view(), &AclTraffic::default());
        assert_eq!(report.unreachable, 1);
    }

    fn full_path() -> (Fixture, Fixture) {
        (
            Fixture::new("active", "10.1.0.0/16").routes_to("10.2.0.0/16"),
            Fixture::new("passive", "10.2.0.0/16").routes_to("10.1.0.0/16"),
        )
    }

    fn only_result(active: &Fixture, passive: &Fixture) -> PairResult {
        let report = reachability(&active.view(), &passive.view(), &AclTraffic::default());
        assert_eq!(report.pairs, 1);
        report.results.into_iter().next().unwrap()
    }

    #[test]
    fn given_every_hop_there_and_back_then_the_pair_is_reachable() {
        let (active, passive) = full_path();
        let report = reachability(&active.view(), &passive.view(), &AclTraffic::default());
        assert_eq!((report.pairs, report.reachable, report.unreachable), (1, 1, 0));
        assert_eq!(report.results[0].hop, Hop::Reachable);
    }

    #[test]
    fn given_a_vpc_without_an_attachment_then_that_is_the_first_missing_hop() {
        let (active, mut passive) = full_path();
        passive.attachments.clear();
        let result = only_result(&active, &passive);
        assert_eq!(
            result.hop,
            Hop::NoTgwAttachment {
                region: "eu-west-1".into(),
                vpc_id: "vpc-passive".into(),
                transit_gateway_id: "tgw-p".into()
            }
        );
    }

    #[test]
    fn given_no_vpc_route_there_then_the_active_vpc_table_is_named() {
        let (mut active, passive) = full_path();
        active.vpc_table().routes.clear();
        let result = only_result(&active, &passive);
        assert_eq!(result.direction.as_deref(), Some("there"));
        assert_eq!(
            result.hop,
            Hop::NoVpcRoute {
                region: "us-east-1".into(),
                route_table_id: "rtb-active".into(),
                cidr: net("10.2.0.0/16")
            }
        );
    }

    #[test]
    fn given_no_tgw_route_back_then_the_passive_tgw_table_is_named() {
        let (active, mut passive) = full_path();
        passive
            .tgw_routes()
            .retain(|route| route.cidr != net("10.1.0.0/16"));
        let result = only_result(&active, &passive);
        assert_eq!(result.direction.as_deref(), Some("back"));
        assert_eq!(
            result.hop,
            Hop::NoTgwRoute {
                region: "eu-west-1".into(),
                route_table_id: "tgw-rtb-p".into(),
                cidr: net("10.1.0.0/16")
            }
        );
    }

    #[test]
    fn given_the_remote_vpc_cidr_is_not_in_its_tgw_table_then_delivery_is_the_missing_hop() {
        let (active, mut passive) = full_path();
        passive
            .tgw_routes()
            .retain(|route| route.cidr != net("10.2.0.0/16"));
        let result = only_result(&active, &passive);
        assert_eq!(result.direction.as_deref(), Some("there"));
        assert!(
            matches!(&result.hop, Hop::NoRouteFromPeering { route_table_id, .. } if route_table_id == "tgw-rtb-p"),
            "{result:?}"
        );
    }

    #[test]
    fn given_a_blackhole_or_a_route_elsewhere_then_they_are_named_as_such() {
        let (mut active, passive) = full_path();
        active
            .tgw_routes()
            .retain(|route| route.cidr != net("10.2.0.0/16"));
        active.tgw_routes().push(Route {
            target: None,
            blackhole: true,
            ..Route::to(net("10.2.0.0/16"), "x")
        });
        assert!(matches!(
            only_result(&active, &passive).hop,
            Hop::Blackhole { .. }
        ));

        let (mut active, passive) = full_path();
        active.vpc_table().routes.clear();
        active
            .vpc_table()
            .routes
            .push(Route::to(net("10.0.0.0/8"), "nat-0123"));
        let hop = only_result(&active, &passive).hop;
        assert_eq!(
            hop,
            Hop::Conflict {
                region: "us-east-1".into(),
                route_table_id: "rtb-active".into(),
                cidr: net("10.2.0.0/16"),
                target: "nat-0123".into(),
                expected: "tgw-a".into()
            }
        );
    }

    #[test]
    fn the_longest_prefix_wins_and_a_static_route_beats_a_propagated_one_of_the_same_prefix() {
        let propagated = Route {
            origin: Origin::Propagated {
                resource_type: "vpn".into(),
            },
            ..Route::to(net("10.2.0.0/16"), "tgw-attach-vpn")
        };
        let routes = vec![
            Route::to(net("10.0.0.0/8"), "wide"),
            propagated.clone(),
            Route::to(net("10.2.0.0/16"), "static"),
        ];
        assert_eq!(
            best_match(&routes, net("10.2.3.0/24")).unwrap().target.as_deref(),
            Some("static")
        );
        assert_eq!(
            best_match(&routes, net("10.3.0.0/16")).unwrap().target.as_deref(),
            Some("wide")
        );
        assert_eq!(best_match(&[propagated], net("10.3.0.0/16")), None);
    }

    /// The report as the whole list of pairs, sorted and cut: what `reachability` must equal.
    fn reference(active: &SideView, passive: &SideView) -> Reachability {
        let mut results: Vec<PairResult> = active
            .tagged
            .iter()
            .flat_map(|a| passive.tagged.iter().map(move |p| (a, p)))
            .map(|(a, p)| {
                pair(
                    &Walker::new(active),
                    a,
                    &Walker::new(passive),
                    p,
                    &AclTraffic::default(),
                )
            })
            .collect();
        let reachable = results.iter().filter(|r| r.hop == Hop::Reachable).count();
        let pairs = results.len();
        results.sort_by(|x, y| {
            let key = |r: &PairResult| {
                (
                    r.hop == Hop::Reachable,
                    r.active_vpc_id.clone(),
                    r.passive_vpc_id.clone(),
                )
            };
            key(x).cmp(&key(y))
        });
        results.truncate(MAX_PAIRS_LISTED);
        Reachability {
            pairs,
            reachable,
            unreachable: pairs - reachable,
            results,
            security_groups: None,
        }
    }

    /// The fixture's VPC (attached, routed) among `others` unattached ones, in descending id order.
    fn crowd(fixture: &Fixture, others: usize, side: &str) -> Vec<Vpc> {
        let mut vpcs: Vec<Vpc> = (0..others)
            .map(|i| Vpc {
                id: format!("vpc-{side}-{i:03}"),
                cidrs: vec![net(&format!(
                    "10.{}.{}.0/24",
                    if side == "a" { 50 } else { 150 },
                    i
                ))],
                tags: vec![],
            })
            .collect();
        vpcs.push(fixture.vpc.clone());
        vpcs.reverse();
        vpcs
    }

    /// Which hops a generated network has; the walk must say `reachable` exactly when all are.
    #[derive(Debug, Clone, Copy)]
    struct Hops {
        vpc_route: [bool; 2],
        vpc_associated: [bool; 2],
        outbound_route: [bool; 2],
        peering_associated: [bool; 2],
        arrival_route: [bool; 2],
        ipv6_support: [bool; 2],
        /// The side's VPC attachment and the peering share one TGW table (default association),
        /// or each has its own (a segmented network).
        shared_table: [bool; 2],
        dual_stack: bool,
    }

    struct Segmented {
        region: &'static str,
        tgw: &'static str,
        vpc: Vpc,
        /// Every tagged VPC of a generated side ([`shaped`]).
        vpcs: Vec<Vpc>,
        attachments: BTreeMap<String, VpcAttachment>,
        vpc_tables: BTreeMap<String, Vec<VpcRouteTable>>,
        tgw_tables: BTreeMap<String, Vec<Route>>,
        associations: BTreeMap<String, Association>,
        network_acls: BTreeMap<String, VpcAcls>,
    }

    impl Segmented {
        fn view(&self) -> SideView<'_> {
            SideView {
                region: self.region,
                transit_gateway_id: self.tgw,
                tagged: std::slice::from_ref(&self.vpc),
                attachments: &self.attachments,
                vpc_tables: &self.vpc_tables,
                tgw_tables: &self.tgw_tables,
                associations: &self.associations,
                peering_attachment_id: PEERING,
                network_acls: &self.network_acls,
            }
        }
    }

    /// One side (0 active, 1 passive) of a network built from `hops`: its VPC's attachment is
    /// associated with `tgw-rtb-<n>-vpcs`, the peering with `tgw-rtb-<n>-peering` (or both with
    /// the one table when shared).
    fn segmented(hops: &Hops, n: usize) -> Segmented {
        let (region, tgw) = [("us-east-1", "tgw-a"), ("eu-west-1", "tgw-p")][n];
        let own: Vec<IpNet> = [
            ["10.1.0.0/16", "2600:1f18::/56"],
            ["10.2.0.0/16", "2a05:d018::/56"],
        ][n]
            .iter()
            .take(if hops.dual_stack { 2 } else { 1 })
            .map(|c| net(c))
            .collect();
        let remote: Vec<IpNet> = [
            ["10.2.0.0/16", "2a05:d018::/56"],
            ["10.1.0.0/16", "2600:1f18::/56"],
        ][n]
            .iter()
            .take(if hops.dual_stack { 2 } else { 1 })
            .map(|c| net(c))
            .collect();
        let vpc = Vpc {
            id: format!("vpc-{n}"),
            cidrs: own.clone(),
            tags: vec![],
        };
        let attachment = VpcAttachment {
            id: format!("tgw-attach-vpc-{n}"),
            vpc_id: vpc.id.clone(),
            subnet_ids: vec![],
            ipv6_support: hops.ipv6_support[n],
        };
        let vpc_table = format!("tgw-rtb-{n}-vpcs");
        let peering_table = if hops.shared_table[n] {
            vpc_table.clone()
        } else {
            format!("tgw-rtb-{n}-peering")
        };
        let mut tgw_tables: BTreeMap<String, Vec<Route>> =
            [(vpc_table.clone(), vec![]), (peering_table.clone(), vec![])].into();
        if hops.outbound_route[n] {
            let routes = tgw_tables.get_mut(&vpc_table).unwrap();
            routes.extend(remote.iter().map(|cidr| Route::to(*cidr, PEERING)));
        }
        if hops.arrival_route[n] {
            let routes = tgw_tables.get_mut(&peering_table).unwrap();
            routes.extend(own.iter().map(|cidr| Route {
                origin: Origin::Propagated {
                    resource_type: "vpc".into(),
                },
                ..Route::to(*cidr, &attachment.id)
            }));
        }
        let mut associations = BTreeMap::new();
        let associated = |table: &str| Association {
            route_table_id: table.to_owned(),
            state: AssociationState::Associated,
        };
        if hops.vpc_associated[n] {
            associations.insert(attachment.id.clone(), associated(&vpc_table));
        }
        if hops.peering_associated[n] {
            associations.insert(PEERING.to_owned(), associated(&peering_table));
        }
        let routes = if hops.vpc_route[n] {
            remote.iter().map(|cidr| Route::to(*cidr, tgw)).collect()
        } else {
            vec![]
        };
        Segmented {
            region,
            tgw,
            network_acls: BTreeMap::new(),
            vpc_tables: [(
                vpc.id.clone(),
                vec![VpcRouteTable {
                    id: format!("rtb-{n}"),
                    vpc_id: vpc.id.clone(),
                    main: true,
                    subnet_ids: vec![],
                    routes,
                    tags: vec![],
                }],
            )]
            .into(),
            attachments: [(vpc.id.clone(), attachment)].into(),
            vpcs: vec![vpc.clone()],
            vpc,
            tgw_tables,
            associations,
        }
    }

    fn every_hop() -> Hops {
        Hops {
            vpc_route: [true; 2],
            vpc_associated: [true; 2],
            outbound_route: [true; 2],
            peering_associated: [true; 2],
            arrival_route: [true; 2],
            ipv6_support: [true; 2],
            shared_table: [false; 2],
            dual_stack: true,
        }
    }

    fn walk_segmented(hops: &Hops) -> PairResult {
        let (active, passive) = (segmented(hops, 0), segmented(hops, 1));
        let report = reachability(&active.view(), &passive.view(), &AclTraffic::default());
        assert_eq!(report.pairs, 1);
        report.results.into_iter().next().unwrap()
    }

    #[test]
    fn given_a_segmented_network_with_every_hop_over_both_families_then_the_pair_is_reachable() {
        assert_eq!(walk_segmented(&every_hop()).hop, Hop::Reachable);
    }

    #[test]
    fn given_each_missing_hop_of_a_segmented_network_then_the_report_names_it() {
        let with = |change: fn(&mut Hops)| {
            let mut hops = every_hop();
            change(&mut hops);
            walk_segmented(&hops)
        };
        let peering_unassociated = with(|h| h.peering_associated[1] = false);
        assert_eq!(
            peering_unassociated.hop,
            Hop::PeeringNotAssociated {
                region: "eu-west-1".into(),
                attachment_id: PEERING.into()
            }
        );
        assert_eq!(peering_unassociated.direction.as_deref(), Some("there"));
        let vpc_unassociated = with(|h| h.vpc_associated[0] = false);
        assert_eq!(
            vpc_unassociated.hop,
            Hop::VpcAttachmentNotAssociated {
                region: "us-east-1".into(),
                vpc_id: "vpc-0".into(),
                attachment_id: "tgw-attach-vpc-0".into()
            }
        );
        let no_outbound = with(|h| h.outbound_route[0] = false);
        assert!(
            matches!(&no_outbound.hop, Hop::NoTgwRoute { route_table_id, .. } if route_table_id == "tgw-rtb-0-vpcs"),
            "the VPC's own table is named, not the peering's: {no_outbound:?}"
        );
        let no_arrival = with(|h| h.arrival_route[0] = false);
        assert_eq!(no_arrival.direction.as_deref(), Some("back"));
        assert!(
            matches!(&no_arrival.hop, Hop::NoRouteFromPeering { route_table_id, cidr, .. }
                if route_table_id == "tgw-rtb-0-peering" && *cidr == net("10.1.0.0/16")),
            "{no_arrival:?}"
        );
        let no_ipv6 = with(|h| h.ipv6_support[1] = false);
        assert!(
            matches!(&no_ipv6.hop, Hop::Ipv6NotEnabled { vpc_id, .. } if vpc_id == "vpc-1"),
            "{no_ipv6:?}"
        );
        let ipv4_only = with(|h| {
            h.ipv6_support = [false; 2];
            h.dual_stack = false;
        });
        assert_eq!(
            ipv4_only.hop,
            Hop::Reachable,
            "IPv6 support matters only for IPv6"
        );
    }

    #[test]
    fn an_ipv6_route_missing_while_the_ipv4_one_is_there_is_named_with_its_cidr() {
        let hops = every_hop();
        let (active, mut passive) = (segmented(&hops, 0), segmented(&hops, 1));
        passive
            .tgw_tables
            .get_mut("tgw-rtb-1-peering")
            .unwrap()
            .retain(|route| matches!(route.cidr, IpNet::V4(_)));
        let report = reachability(&active.view(), &passive.view(), &AclTraffic::default());
        assert!(
            matches!(&report.results[0].hop, Hop::NoRouteFromPeering { cidr, .. } if *cidr == net("2a05:d018::/56")),
            "{:?}",
            report.results[0]
        );
    }

    fn any_hops() -> impl Strategy<Value = Hops> {
        let pair = || any::<[bool; 2]>();
        (
            (pair(), pair(), pair(), pair(), pair()),
            (pair(), pair(), any::<bool>()),
        )
            .prop_map(
                |(
                    (vpc_route, vpc_associated, outbound_route, peering_associated, arrival_route),
                    (ipv6_support, shared_table, dual_stack),
                )| Hops {
                    vpc_route,
                    vpc_associated,
                    outbound_route,
                    peering_associated,
                    arrival_route,
                    ipv6_support,
                    shared_table,
                    dual_stack,
                },
            )
    }

    /// One VPC of a generated network: what its attachment, tables and routes are like.
    #[derive(Debug, Clone)]
    struct VpcShape {
        attached: bool,
        /// 0: associated with no table, 1 or 2: with that VPC table, 3: still associating.
        association: u8,
        dual_stack: bool,
        ipv6_support: bool,
        /// Per remote CIDR slot, the VPC route table's route: 0 none, 1 to the TGW, 2 elsewhere,
        /// 3 blackhole.
        vpc_routes: Vec<u8>,
        /// A covering route in the VPC table (10.0.0.0/8 and ::/0): 0 none, 1 TGW, 2 elsewhere.
        vpc_supernet: u8,
        /// The route to this VPC in the table the peering arrives at: 0 none, 1 to its
        /// attachment, 2 elsewhere.
        arrival: u8,
        /// A second VPC route table in its attachment's zones.
        second_table: bool,
        /// Its network ACLs: see [`shaped_acls`].
        acl: u8,
    }

    /// One side of a generated segmented network: two tables for VPC attachments, one for the
    /// peering (or shared with the first).
    #[derive(Debug, Clone)]
    struct SideShape {
        vpcs: Vec<VpcShape>,
        /// Per VPC table, per remote CIDR slot: 0 none, 1 over the peering, 2 elsewhere, 3 blackhole.
        outbound: [Vec<u8>; 2],
        /// A covering route over the peering in VPC table 1 (and ::/0 too).
        outbound_supernet: bool,
        peering_associated: bool,
        shared_peering_table: bool,
    }

    const SLOTS: usize = 8;

    fn vpc_shape() -> impl Strategy<Value = VpcShape> {
        (
            (any::<bool>(), 0u8..4, any::<bool>(), any::<bool>(), 0u8..7),
            (
                proptest::collection::vec(prop_oneof![3 => Just(1u8), 1 => 0u8..4], SLOTS),
                0u8..3,
                prop_oneof![3 => Just(1u8), 1 => 0u8..3],
                any::<bool>(),
            ),
        )
            .prop_map(
                |(
                    (attached, association, dual_stack, ipv6_support, acl),
                    (vpc_routes, vpc_supernet, arrival, second_table),
                )| VpcShape {
                    attached: attached || association > 0,
                    association,
                    dual_stack,
                    ipv6_support,
                    vpc_routes,
                    vpc_supernet,
                    arrival,
                    second_table,
                    acl,
                },
            )
    }

    fn side_shape() -> impl Strategy<Value = SideShape> {
        let routes = || proptest::collection::vec(prop_oneof![3 => Just(1u8), 1 => 0u8..4], SLOTS);
        (
            proptest::collection::vec(vpc_shape(), 0..5),
            routes(),
            routes(),
            any::<bool>(),
            prop_oneof![4 => Just(true), 1 => Just(false)],
            any::<bool>(),
        )
            .prop_map(
                |(vpcs, first, second, outbound_supernet, peering_associated, shared_peering_table)| {
                    SideShape {
                        vpcs,
                        outbound: [first, second],
                        outbound_supernet,
                        peering_associated,
                        shared_peering_table,
                    }
                },
            )
    }

    /// The CIDRs of VPC `i` on side `n`: an IPv4 block, and an IPv6 one when dual-stack.
    fn shape_cidrs(n: usize, i: usize, dual_stack: bool) -> Vec<IpNet> {
        let mut cidrs = vec![net(&format!("10.{}.{i}.0/24", n + 1))];
        if dual_stack {
            cidrs.push(net(&format!("2600:{}:0:{i}::/64", n + 1)));
        }
        cidrs
    }

    /// A route of a generated table to `cidr`: 0 none, 1 to `good`, 2 elsewhere, 3 blackhole.
    fn shaped_route(kind: u8, cidr: IpNet, good: &str) -> Option<Route> {
        match kind {
            1 => Some(Route::to(cidr, good)),
            2 => Some(Route::to(cidr, "elsewhere")),
            3 => Some(Route {
                target: None,
                blackhole: true,
                ..Route::to(cidr, "x")
            }),
            _ => None,
        }
    }

    /// A generated VPC's route tables: its own CIDRs local, the remote ones as its shape says,
    /// and a second table, when it has one, without the route to the first remote CIDR.
    fn shaped_vpc_tables(
        shape: &VpcShape,
        vpc: &Vpc,
        id: &str,
        remote_cidrs: &[(usize, IpNet)],
        tgw: &str,
    ) -> Vec<VpcRouteTable> {
        let mut routes: Vec<Route> = vpc.cidrs.iter().map(|cidr| Route::to(*cidr, "local")).collect();
        for (slot, cidr) in remote_cidrs {
            routes.extend(shaped_route(shape.vpc_routes[*slot], *cidr, tgw));
        }
        for supernet in ["10.0.0.0/8", "::/0"] {
            routes.extend(shaped_route(shape.vpc_supernet, net(supernet), tgw));
        }
        let table = |id: String, routes: Vec<Route>| VpcRouteTable {
            id,
            vpc_id: vpc.id.clone(),
            main: true,
            subnet_ids: vec![],
            routes,
            tags: vec![],
        };
        let mut tables = vec![table(id.to_owned(), routes.clone())];
        if shape.second_table {
            routes.retain(|route| Some(route.cidr) != remote_cidrs.first().map(|(_, cidr)| *cidr));
            tables.push(table(format!("{id}-b"), routes));
        }
        tables
    }

    /// Each CIDR of side `n`, by slot: VPC j's IPv4 block is slot 2j, its IPv6 one 2j + 1.
    fn slots(side: &SideShape, n: usize) -> Vec<(usize, IpNet)> {
        side.vpcs
            .iter()
            .enumerate()
            .flat_map(|(j, vpc)| {
                shape_cidrs(n, j, vpc.dual_stack)
                    .into_iter()
                    .enumerate()
                    .map(move |(k, cidr)| (2 * j + k, cidr))
            })
            .collect()
    }

    /// The two VPC attachment tables of a generated side, with their routes over the peering.
    fn shaped_outbound(
        shape: &SideShape,
        remote_cidrs: &[(usize, IpNet)],
        vpc_tables_ids: &[String; 2],
    ) -> BTreeMap<String, Vec<Route>> {
        let mut tgw_tables: BTreeMap<String, Vec<Route>> = BTreeMap::new();
        for (t, id) in vpc_tables_ids.iter().enumerate() {
            let routes = tgw_tables.entry(id.clone()).or_default();
            for (slot, cidr) in remote_cidrs {
                routes.extend(shaped_route(shape.outbound[t][*slot], *cidr, PEERING));
            }
            if t == 1 && shape.outbound_supernet {
                routes.push(Route::to(net("10.0.0.0/8"), PEERING));
                routes.push(Route::to(net("::/0"), PEERING));
            }
        }
        tgw_tables
    }

    /// Side `n` of a generated network whose remote side is `remote`.
    fn shaped(shape: &SideShape, n: usize, remote: &SideShape) -> Segmented {
        let (region, tgw) = [("us-east-1", "tgw-a"), ("eu-west-1", "tgw-p")][n];
        let remote_cidrs = slots(remote, 1 - n);
        let vpc_tables_ids = [format!("tgw-rtb-{n}-a"), format!("tgw-rtb-{n}-b")];
        let peering_table = if shape.shared_peering_table {
            vpc_tables_ids[0].clone()
        } else {
            format!("tgw-rtb-{n}-peering")
        };
        let mut tgw_tables = shaped_outbound(shape, &remote_cidrs, &vpc_tables_ids);
        tgw_tables.entry(peering_table.clone()).or_default();
        let mut vpcs = Vec::new();
        let mut attachments = BTreeMap::new();
        let mut associations = BTreeMap::new();
        let mut vpc_tables = BTreeMap::new();
        let mut network_acls = BTreeMap::new();
        for (i, vpc_shape) in shape.vpcs.iter().enumerate() {
            let vpc = Vpc {
                id: format!("vpc-{n}-{i}"),
                cidrs: shape_cidrs(n, i, vpc_shape.dual_stack),
                tags: vec![],
            };
            let attachment_id = format!("tgw-attach-{n}-{i}");
            let arrival = tgw_tables.get_mut(&peering_table).unwrap();
            arrival.extend(vpc.cidrs.iter().filter_map(|cidr| match vpc_shape.arrival {
                1 => Some(Route {
                    origin: Origin::Propagated {
                        resource_type: "vpc".into(),
                    },
                    ..Route::to(*cidr, &attachment_id)
                }),
                2 => Some(Route::to(*cidr, "tgw-attach-other")),
                _ => None,
            }));
            if vpc_shape.attached {
                attachments.insert(
                    vpc.id.clone(),
                    VpcAttachment {
                        id: attachment_id.clone(),
                        vpc_id: vpc.id.clone(),
                        subnet_ids: vec![],
                        ipv6_support: vpc_shape.ipv6_support,
                    },
                );
                let (table, state) = match vpc_shape.association {
                    2 => (&vpc_tables_ids[1], AssociationState::Associated),
                    3 => (&vpc_tables_ids[0], AssociationState::Associating),
                    _ => (&vpc_tables_ids[0], AssociationState::Associated),
                };
                if vpc_shape.association > 0 {
                    let route_table_id = table.clone();
                    associations.insert(
                        attachment_id,
                        Association {
                            route_table_id,
                            state,
                        },
                    );
                }
            }
            vpc_tables.insert(
                vpc.id.clone(),
                shaped_vpc_tables(vpc_shape, &vpc, &format!("rtb-{n}-{i}"), &remote_cidrs, tgw),
            );
            network_acls.insert(
                vpc.id.clone(),
                shaped_acls(vpc_shape.acl, &format!("acl-{n}-{i}"), 1 - n),
            );
            vpcs.push(vpc);
        }
        if shape.peering_associated {
            associations.insert(
                PEERING.to_owned(),
                Association {
                    route_table_id: peering_table,
                    state: AssociationState::Associated,
                },
            );
        }
        Segmented {
            region,
            tgw,
            vpc: vpcs.first().cloned().unwrap_or(Vpc {
                id: "unused".into(),
                cidrs: vec![],
                tags: vec![],
            }),
            attachments,
            vpc_tables,
            tgw_tables,
            associations,
            network_acls,
            vpcs,
        }
    }

    fn acl_rule(number: i32, egress: bool, allow: bool, cidr: &str, ports: Option<(u16, u16)>) -> AclEntry {
        AclEntry {
            rule_number: number,
            egress,
            allow,
            protocol: if ports.is_some() { "6" } else { "-1" }.into(),
            cidr: net(cidr),
            ports: ports.map(|(from, to)| PortRange { from, to }),
        }
    }

    /// The rules of a VPC's default ACL: everything allowed, IPv4 and IPv6, both ways.
    fn open_rules() -> Vec<AclEntry> {
        let mut rules = Vec::new();
        for egress in [true, false] {
            rules.push(acl_rule(100, egress, true, "0.0.0.0/0", None));
            rules.push(acl_rule(101, egress, true, "::/0", None));
            rules.push(acl_rule(DEFAULT_RULE_NUMBER, egress, false, "0.0.0.0/0", None));
            rules.push(acl_rule(DEFAULT_RULE_NUMBER, egress, false, "::/0", None));
        }
        rules
    }

    fn acl_with(id: &str, extra: Vec<AclEntry>) -> NetworkAcl {
        let mut entries = open_rules();
        entries.extend(extra);
        NetworkAcl {
            id: id.into(),
            vpc_id: "vpc".into(),
            is_default: false,
            subnet_ids: vec![],
            entries,
        }
    }

    /// A generated VPC's ACLs, `remote` being the other side's number: 0 to 2 open; 3 a deny
    /// out to the remote VPC 0 alone; 4 a deny in on ephemeral ports from everything; 5 an
    /// attachment subnet that lets in HTTPS only; 6 a deny out to all of IPv6.
    fn shaped_acls(variant: u8, id: &str, remote: usize) -> VpcAcls {
        let zone = match variant {
            3 => acl_with(
                id,
                vec![acl_rule(
                    50,
                    true,
                    false,
                    &format!("10.{}.0.0/24", remote + 1),
                    None,
                )],
            ),
            4 => acl_with(
                id,
                vec![acl_rule(50, false, false, "10.0.0.0/8", Some((1024, 65535)))],
            ),
            6 => acl_with(id, vec![acl_rule(50, true, false, "::/0", None)]),
            _ => acl_with(id, vec![]),
        };
        let attachment = if variant == 5 {
            NetworkAcl {
                entries: vec![
                    acl_rule(100, false, true, "0.0.0.0/0", Some((443, 443))),
                    acl_rule(100, true, true, "0.0.0.0/0", None),
                ],
                ..acl_with(&format!("{id}-tgw"), vec![])
            }
        } else {
            zone.clone()
        };
        VpcAcls {
            zone: vec![zone],
            attachment: vec![attachment],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn over_random_segmented_dual_stack_networks_the_report_is_what_the_per_pair_walk_gives(
            active in side_shape(), passive in side_shape(),
        ) {
            // Given a segmented network of a few VPCs a side, each hop present or not
            let (a, p) = (shaped(&active, 0, &passive), shaped(&passive, 1, &active));
            let (active_view, passive_view) = (
                SideView { tagged: &a.vpcs, ..a.view() },
                SideView { tagged: &p.vpcs, ..p.view() },
            );
            // When the report is made from classes of VPCs
            let report = reachability(&active_view, &passive_view, &AclTraffic::default());
            // Then it is what walking every pair hop by hop gives: counts, pairs listed, order
            prop_assert_eq!(report, reference(&active_view, &passive_view));
        }
    }

    proptest! {
        #[test]
        fn over_random_small_networks_the_report_says_reachable_exactly_when_every_hop_is_there(hops in any_hops()) {
            let every = |hop: [bool; 2]| hop[0] && hop[1];
            let all_there = every(hops.vpc_route)
                && every(hops.vpc_associated)
                && every(hops.outbound_route)
                && every(hops.peering_associated)
                && every(hops.arrival_route)
                && (!hops.dual_stack || every(hops.ipv6_support));
            let result = walk_segmented(&hops);
            prop_assert_eq!(result.hop == Hop::Reachable, all_there, "{:?} gave {:?}", hops, result);
        }

        #[test]
        fn removing_any_one_hop_makes_the_pair_unreachable(which in 0usize..6) {
            let (mut active, mut passive) = full_path();
            match which {
                0 => active.vpc_table().routes.clear(),
                1 => active.tgw_routes().retain(|r| r.cidr != net("10.2.0.0/16")),
                2 => passive.tgw_routes().retain(|r| r.cidr != net("10.2.0.0/16")),
                3 => passive.vpc_table().routes.clear(),
                4 => passive.tgw_routes().retain(|r| r.cidr != net("10.1.0.0/16")),
                _ => active.tgw_routes().retain(|r| r.cidr != net("10.1.0.0/16")),
            }
            let result = only_result(&active, &passive);
            prop_assert_ne!(result.hop, Hop::Reachable);
            prop_assert_eq!(result.direction.as_deref(), Some(if which < 3 { "there" } else { "back" }));
        }

        #[test]
        fn keeping_only_the_listed_pairs_reports_exactly_what_sorting_every_pair_would(
            active_others in 0usize..25, passive_others in 0usize..25,
        ) {
            let (active, passive) = full_path();
            let (active_vpcs, passive_vpcs) = (crowd(&active, active_others, "a"), crowd(&passive, passive_others, "p"));
            let active_view = SideView { tagged: &active_vpcs, ..active.view() };
            let passive_view = SideView { tagged: &passive_vpcs, ..passive.view() };
            let report = reachability(&active_view, &passive_view, &AclTraffic::default());
            prop_assert_eq!(report.reachable, 1);
            prop_assert_eq!(report, reference(&active_view, &passive_view));
        }

        #[test]
        fn counts_add_up_and_unreachable_pairs_are_listed_first(missing in proptest::collection::vec(any::<bool>(), 1..6)) {
            // One active VPC and several passive ones, some of them unattached.
            let active = Fixture::new("active", "10.1.0.0/16");
            let mut passive = Fixture::new("passive", "10.2.0.0/16");
            let vpcs: Vec<Vpc> = missing.iter().enumerate().map(|(i, _)| Vpc {
                id: format!("vpc-p{i}"), cidrs: vec![net(&format!("10.{}.0.0/16", 100 + i))], tags: vec![],
            }).collect();
            passive.attachments = vpcs.iter().zip(&missing).filter(|(_, m)| !**m).map(|(v, _)| (v.id.clone(), VpcAttachment {
                id: format!("att-{}", v.id), vpc_id: v.id.clone(), subnet_ids: vec![], ipv6_support: false,
            })).collect();
            for attachment in passive.attachments.values() {
                passive.associations.insert(attachment.id.clone(), Association {
                    route_table_id: passive.tgw_table.to_owned(), state: AssociationState::Associated,
                });
            }
            let view = SideView { tagged: &vpcs, ..passive.view() };
            let report = reachability(&active.view(), &view, &AclTraffic::default());
            prop_assert_eq!(report.pairs, missing.len());
            prop_assert_eq!(report.reachable + report.unreachable, report.pairs);
            let first_reachable = report.results.iter().position(|r| r.hop == Hop::Reachable).unwrap_or(report.results.len());
            prop_assert!(report.results[first_reachable..].iter().all(|r| r.hop == Hop::Reachable));
            let unattached = report.results.iter().filter(|r| matches!(r.hop, Hop::NoTgwAttachment { .. })).count();
            prop_assert_eq!(unattached, missing.iter().filter(|m| **m).count());
        }
    }
}
