//! Network ACLs as the reachability walk needs them: which ACLs a VPC's traffic to and from its
//! transit gateway attachment crosses, and whether a kind of traffic passes one. Pure.
//!
//! EC2 evaluates a network ACL's rules in rule-number order and the first rule that matches a
//! packet decides it; a packet no rule matches meets the `*` rule (rule number 32767), which
//! denies. A rule matches on protocol (`-1` is every protocol), on its CIDR (the destination of
//! an outbound packet, the source of an inbound one) and, for TCP and UDP, on the destination port.
//! ACLs are stateless, so the return traffic (to the client's ephemeral ports) is evaluated too.
//!
//! Which ACLs (Transit Gateway guide, "Network ACLs for transit gateways"): a packet from an
//! instance to the transit gateway meets the outbound rules of the instance's subnet (its
//! destination) and the inbound rules of the attachment's subnet (its source); a packet from the
//! transit gateway to an instance meets the outbound rules of the attachment's subnet (its
//! destination) and the inbound rules of the instance's subnet (its source). The walk takes every
//! subnet in the attachment's zones as a possible instance subnet (as it does for routes) and
//! holds the traffic to "every packet passes": a report that says `reachable` is true.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::plan::vpc_tables::{Subnet, VpcAttachment};

/// The rule number EC2 gives the `*` rule that ends every ACL and denies.
pub const DEFAULT_RULE_NUMBER: i32 = 32767;

/// Ports, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    pub const ALL: PortRange = PortRange { from: 0, to: 65535 };

    fn contains(&self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }
}

/// The protocols the traffic to test may be: the ones whose rules match on ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    /// The protocol number, as a network ACL entry gives it.
    pub fn number(self) -> &'static str {
        match self {
            Protocol::Tcp => "6",
            Protocol::Udp => "17",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// What the walk holds every ACL to (`networkAclTraffic`): this protocol to these ports of the
/// peer's CIDRs, and the replies to these ephemeral ports. The default, any TCP with replies to
/// 1024-65535, is what an ACL must allow for any TCP client (EC2 guide, "Ephemeral ports").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AclTraffic {
    pub protocol: Protocol,
    pub ports: PortRange,
    pub ephemeral_ports: PortRange,
}

impl Default for AclTraffic {
    fn default() -> Self {
        Self {
            protocol: Protocol::Tcp,
            ports: PortRange::ALL,
            ephemeral_ports: PortRange {
                from: 1024,
                to: 65535,
            },
        }
    }
}

/// One rule of a network ACL, as DescribeNetworkAcls gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclEntry {
    pub rule_number: i32,
    pub egress: bool,
    pub allow: bool,
    /// The protocol number as text; `-1` is every protocol.
    pub protocol: String,
    /// `CidrBlock` or `Ipv6CidrBlock`: a rule matches packets of its own family only.
    pub cidr: IpNet,
    /// For TCP and UDP rules, the destination ports; `None` matches every port.
    pub ports: Option<PortRange>,
}

/// A network ACL: its rules and the subnets associated with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAcl {
    pub id: String,
    pub vpc_id: String,
    /// The VPC's default ACL, which serves every subnet not associated with another.
    pub is_default: bool,
    pub subnet_ids: Vec<String>,
    pub entries: Vec<AclEntry>,
}

/// The ACLs a VPC's traffic over its transit gateway attachment crosses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VpcAcls {
    /// The ACLs of the subnets in the attachment's zones: where instances send from and receive.
    pub zone: Vec<NetworkAcl>,
    /// The ACLs of the attachment's own subnets.
    pub attachment: Vec<NetworkAcl>,
}

/// Which way a rule faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AclDirection {
    Outbound,
    Inbound,
}

/// The request (client to server) or the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Leg {
    Request,
    Return,
}

/// Which ACLs of a VPC a check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AclSet {
    Zone,
    Attachment,
}

/// Whose addresses a rule is matched against: the VPC's own (the attachment subnet sees the
/// instance's address) or the peer VPC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Addresses {
    Own,
    Remote,
}

/// One place an ACL may stop a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Check {
    set: AclSet,
    direction: AclDirection,
    leg: Leg,
    addresses: Addresses,
}

const fn check(set: AclSet, direction: AclDirection, leg: Leg, addresses: Addresses) -> Check {
    Check {
        set,
        direction,
        leg,
        addresses,
    }
}

/// The checks in a VPC that opens a connection, in packet order: the request leaving (instance
/// subnet out, attachment subnet in), then the reply arriving (attachment subnet out, instance
/// subnet in).
const AS_CLIENT: [Check; 4] = [
    check(
        AclSet::Zone,
        AclDirection::Outbound,
        Leg::Request,
        Addresses::Remote,
    ),
    check(
        AclSet::Attachment,
        AclDirection::Inbound,
        Leg::Request,
        Addresses::Own,
    ),
    check(
        AclSet::Attachment,
        AclDirection::Outbound,
        Leg::Return,
        Addresses::Own,
    ),
    check(
        AclSet::Zone,
        AclDirection::Inbound,
        Leg::Return,
        Addresses::Remote,
    ),
];

/// The checks in a VPC that accepts a connection, in packet order: the request arriving, then
/// the reply leaving.
const AS_SERVER: [Check; 4] = [
    check(
        AclSet::Attachment,
        AclDirection::Outbound,
        Leg::Request,
        Addresses::Own,
    ),
    check(
        AclSet::Zone,
        AclDirection::Inbound,
        Leg::Request,
        Addresses::Remote,
    ),
    check(
        AclSet::Zone,
        AclDirection::Outbound,
        Leg::Return,
        Addresses::Remote,
    ),
    check(
        AclSet::Attachment,
        AclDirection::Inbound,
        Leg::Return,
        Addresses::Own,
    ),
];

fn address_range(cidr: IpNet) -> (bool, u128, u128) {
    match cidr.trunc() {
        IpNet::V4(v4) => (
            false,
            u32::from(v4.network()).into(),
            u32::from(v4.broadcast()).into(),
        ),
        IpNet::V6(v6) => (true, v6.network().into(), v6.broadcast().into()),
    }
}

/// The rules of one direction that can match `protocol`, in the order EC2 evaluates them.
fn ordered(entries: &[AclEntry], egress: bool, protocol: Protocol) -> Vec<&AclEntry> {
    let mut rules: Vec<&AclEntry> = entries
        .iter()
        .filter(|entry| entry.egress == egress)
        .filter(|entry| entry.protocol == "-1" || entry.protocol == protocol.number())
        .collect();
    rules.sort_by_key(|entry| entry.rule_number);
    rules
}

/// The points where `[lo, hi]` is cut by the ranges given: `lo`, and every range's start and
/// one past its end that fall inside. Between two cuts every range either holds every value or
/// none.
fn cuts(lo: u128, hi: u128, ranges: impl Iterator<Item = (u128, u128)>) -> Vec<u128> {
    let mut cuts = vec![lo];
    for (start, end) in ranges {
        if start > lo && start <= hi {
            cuts.push(start);
        }
        if end >= lo && end < hi {
            cuts.push(end + 1);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Whether every packet of `protocol` to `ports` with its far address in `cidr` passes the ACL
/// in one direction: `None` if so, else the lowest-numbered rule that stops some of them
/// ([`DEFAULT_RULE_NUMBER`] when no rule matches them).
///
/// The addresses and ports are cut where a rule's range starts or ends; every packet of one
/// piece matches the same rules, so one packet per piece stands for it.
pub fn first_denying_rule(
    entries: &[AclEntry],
    egress: bool,
    protocol: Protocol,
    ports: PortRange,
    cidr: IpNet,
) -> Option<i32> {
    let (v6, lo, hi) = address_range(cidr);
    let rules: Vec<(&AclEntry, (u128, u128), PortRange)> = ordered(entries, egress, protocol)
        .into_iter()
        .filter_map(|entry| {
            let (family, start, end) = address_range(entry.cidr);
            (family == v6).then(|| (entry, (start, end), entry.ports.unwrap_or(PortRange::ALL)))
        })
        .collect();
    let address_cuts = cuts(lo, hi, rules.iter().map(|(_, range, _)| *range));
    let port_cuts = cuts(
        ports.from.into(),
        ports.to.into(),
        rules
            .iter()
            .map(|(_, _, range)| (u128::from(range.from), u128::from(range.to))),
    );
    let mut denying: Option<i32> = None;
    for address in &address_cuts {
        for port in &port_cuts {
            let port = u16::try_from(*port).expect("cut inside a port range");
            let first = rules
                .iter()
                .find(|(_, (start, end), range)| start <= address && address <= end && range.contains(port));
            let stopped = match first {
                Some((entry, _, _)) if entry.allow => None,
                Some((entry, _, _)) => Some(entry.rule_number),
                None => Some(DEFAULT_RULE_NUMBER),
            };
            denying = match (denying, stopped) {
                (Some(kept), Some(found)) => Some(kept.min(found)),
                (kept, found) => kept.or(found),
            };
        }
    }
    denying
}

/// Where an ACL stops a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBlock {
    pub network_acl_id: String,
    pub rule_number: i32,
    pub direction: AclDirection,
    pub leg: Leg,
    /// The far addresses of the packets stopped.
    pub cidr: IpNet,
}

/// The ACLs of each attached VPC, by VPC id: the ACLs of its subnets in the attachment's zones
/// and of the attachment's own subnets. A subnet with no association in what was read is served
/// by its VPC's default ACL, as EC2 does.
pub fn acls_by_vpc<'a>(
    attachments: impl IntoIterator<Item = &'a VpcAttachment>,
    subnets: &[Subnet],
    acls: &[NetworkAcl],
) -> BTreeMap<String, VpcAcls> {
    let acl_of_subnet: HashMap<&str, &NetworkAcl> = acls
        .iter()
        .flat_map(|acl| acl.subnet_ids.iter().map(move |subnet| (subnet.as_str(), acl)))
        .collect();
    let default_of_vpc: HashMap<&str, &NetworkAcl> = acls
        .iter()
        .filter(|acl| acl.is_default)
        .map(|acl| (acl.vpc_id.as_str(), acl))
        .collect();
    let mut subnets_of: HashMap<&str, Vec<&Subnet>> = HashMap::new();
    for subnet in subnets {
        subnets_of.entry(subnet.vpc_id.as_str()).or_default().push(subnet);
    }
    let acl_for = |subnet: &str, vpc: &str| {
        acl_of_subnet
            .get(subnet)
            .or_else(|| default_of_vpc.get(vpc))
            .copied()
    };
    attachments
        .into_iter()
        .map(|attachment| {
            let vpc = attachment.vpc_id.as_str();
            let own = subnets_of.get(vpc).map_or(&[][..], Vec::as_slice);
            let zones: BTreeSet<&str> = own
                .iter()
                .filter(|subnet| attachment.subnet_ids.contains(&subnet.id))
                .map(|subnet| subnet.availability_zone.as_str())
                .collect();
            let zone = own
                .iter()
                .filter(|subnet| zones.contains(subnet.availability_zone.as_str()))
                .filter_map(|subnet| acl_for(&subnet.id, vpc));
            let at_attachment = attachment
                .subnet_ids
                .iter()
                .filter_map(|subnet| acl_for(subnet, vpc));
            let acls = VpcAcls {
                zone: distinct(zone),
                attachment: distinct(at_attachment),
            };
            (attachment.vpc_id.clone(), acls)
        })
        .collect()
}

fn distinct<'a>(acls: impl Iterator<Item = &'a NetworkAcl>) -> Vec<NetworkAcl> {
    let by_id: BTreeMap<&str, &NetworkAcl> = acls.map(|acl| (acl.id.as_str(), acl)).collect();
    by_id.into_values().cloned().collect()
}

/// A VPC as the ACL checks see it: its ACLs and the CIDRs the walk takes.
pub struct AclParty<'a> {
    pub acls: &'a VpcAcls,
    pub own: Vec<IpNet>,
}

/// The first place, in packet order, where an ACL stops a connection that `client` opens to
/// `server`; `remote` of each is the other's CIDRs as walked. Each block names its VPC's side:
/// `Ok(false)` for the client, `Ok(true)` for the server.
pub fn first_block(
    client: (&AclParty, &[IpNet]),
    server: (&AclParty, &[IpNet]),
    traffic: &AclTraffic,
) -> Option<(bool, AclBlock)> {
    let at = |party: &AclParty, remote: &[IpNet], checks: &[Check]| -> Option<AclBlock> {
        checks
            .iter()
            .find_map(|check| block_at(party, remote, *check, traffic))
    };
    let (client_party, client_remote) = client;
    let (server_party, server_remote) = server;
    at(client_party, client_remote, &AS_CLIENT[..2])
        .map(|block| (false, block))
        .or_else(|| at(server_party, server_remote, &AS_SERVER).map(|block| (true, block)))
        .or_else(|| at(client_party, client_remote, &AS_CLIENT[2..]).map(|block| (false, block)))
}

fn ports_of(leg: Leg, traffic: &AclTraffic) -> PortRange {
    match leg {
        Leg::Request => traffic.ports,
        Leg::Return => traffic.ephemeral_ports,
    }
}

fn set_of(acls: &VpcAcls, set: AclSet) -> &[NetworkAcl] {
    match set {
        AclSet::Zone => &acls.zone,
        AclSet::Attachment => &acls.attachment,
    }
}

fn block_at(party: &AclParty, remote: &[IpNet], check: Check, traffic: &AclTraffic) -> Option<AclBlock> {
    let cidrs = match check.addresses {
        Addresses::Own => party.own.as_slice(),
        Addresses::Remote => remote,
    };
    let egress = check.direction == AclDirection::Outbound;
    set_of(party.acls, check.set).iter().find_map(|acl| {
        cidrs.iter().find_map(|cidr| {
            first_denying_rule(
                &acl.entries,
                egress,
                traffic.protocol,
                ports_of(check.leg, traffic),
                *cidr,
            )
            .map(|rule_number| AclBlock {
                network_acl_id: acl.id.clone(),
                rule_number,
                direction: check.direction,
                leg: check.leg,
                cidr: *cidr,
            })
        })
    })
}

/// A class of VPCs whose ACLs decide alike: the same rule sets (whatever the ACLs' ids), and the
/// same verdict on their own addresses (IPv4 alone, and with IPv6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclClass {
    zone: Vec<usize>,
    attachment: Vec<usize>,
    own_passes: [bool; 2],
}

/// The ACL checks of the class walk, with each rule set evaluated once per (check, far CIDR): at
/// 1,000 VPCs a side most VPCs share a few rule sets (the default ACL's above all).
pub struct AclJudge<'t> {
    traffic: &'t AclTraffic,
    rule_sets: RefCell<HashMap<Vec<AclEntry>, usize>>,
    entries: RefCell<Vec<Vec<AclEntry>>>,
    memo: RefCell<HashMap<(usize, Check, IpNet), bool>>,
}

impl<'t> AclJudge<'t> {
    pub fn new(traffic: &'t AclTraffic) -> Self {
        Self {
            traffic,
            rule_sets: RefCell::default(),
            entries: RefCell::default(),
            memo: RefCell::default(),
        }
    }

    fn intern(&self, acls: &[NetworkAcl]) -> Vec<usize> {
        let mut ids: Vec<usize> = acls
            .iter()
            .map(|acl| {
                let mut entries = acl.entries.clone();
                entries.sort();
                let mut sets = self.rule_sets.borrow_mut();
                let next = sets.len();
                *sets.entry(entries.clone()).or_insert_with(|| {
                    self.entries.borrow_mut().push(entries);
                    next
                })
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn passes(&self, set: usize, check: Check, cidr: IpNet) -> bool {
        if let Some(known) = self.memo.borrow().get(&(set, check, cidr)) {
            return *known;
        }
        let passes = first_denying_rule(
            &self.entries.borrow()[set],
            check.direction == AclDirection::Outbound,
            self.traffic.protocol,
            ports_of(check.leg, self.traffic),
            cidr,
        )
        .is_none();
        self.memo.borrow_mut().insert((set, check, cidr), passes);
        passes
    }

    /// The class of a VPC with these ACLs and these own CIDRs (IPv4 and IPv6).
    pub fn class(&self, acls: &VpcAcls, own: &[IpNet]) -> AclClass {
        let class = AclClass {
            zone: self.intern(&acls.zone),
            attachment: self.intern(&acls.attachment),
            own_passes: [true, true],
        };
        let own_pass = |v6: bool| {
            own.iter()
                .filter(|cidr| matches!(cidr, IpNet::V6(_)) == v6)
                .all(|cidr| self.every_check(&class, Addresses::Own, *cidr))
        };
        let (v4, v6) = (own_pass(false), own_pass(true));
        AclClass {
            own_passes: [v4, v4 && v6],
            ..class
        }
    }

    fn every_check(&self, class: &AclClass, addresses: Addresses, cidr: IpNet) -> bool {
        AS_CLIENT
            .iter()
            .chain(&AS_SERVER)
            .filter(|check| check.addresses == addresses)
            .all(|check| {
                let sets = match check.set {
                    AclSet::Zone => &class.zone,
                    AclSet::Attachment => &class.attachment,
                };
                sets.iter().all(|set| self.passes(*set, *check, cidr))
            })
    }

    /// Whether a VPC of `class` lets every connection to and from a peer VPC through its ACLs,
    /// both as the one that opens it and as the one that accepts it: `remote` are the peer's
    /// CIDRs as walked, `with_ipv6` whether the walk takes IPv6 between the two.
    pub fn lets_through<'c>(
        &self,
        class: &AclClass,
        mut remote: impl Iterator<Item = &'c IpNet>,
        with_ipv6: bool,
    ) -> bool {
        class.own_passes[usize::from(with_ipv6)]
            && remote.all(|cidr| self.every_check(class, Addresses::Remote, *cidr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn rule(
        number: i32,
        egress: bool,
        allow: bool,
        protocol: &str,
        cidr: &str,
        ports: Option<(u16, u16)>,
    ) -> AclEntry {
        AclEntry {
            rule_number: number,
            egress,
            allow,
            protocol: protocol.into(),
            cidr: net(cidr),
            ports: ports.map(|(from, to)| PortRange { from, to }),
        }
    }

    /// The default ACL's rules as EC2 creates them, one direction.
    fn default_rules(egress: bool) -> Vec<AclEntry> {
        vec![
            rule(100, egress, true, "-1", "0.0.0.0/0", None),
            rule(DEFAULT_RULE_NUMBER, egress, false, "-1", "0.0.0.0/0", None),
        ]
    }

    const TCP_ALL: PortRange = PortRange::ALL;

    #[test]
    fn given_the_default_acl_then_every_tcp_packet_passes() {
        let rules = default_rules(true);
        assert_eq!(
            first_denying_rule(&rules, true, Protocol::Tcp, TCP_ALL, net("10.2.0.0/16")),
            None
        );
    }

    #[test]
    fn given_a_lower_numbered_deny_then_it_wins_over_a_later_allow() {
        let mut rules = default_rules(false);
        rules.push(rule(50, false, false, "6", "10.2.0.0/16", Some((22, 22))));
        assert_eq!(
            first_denying_rule(&rules, false, Protocol::Tcp, TCP_ALL, net("10.2.0.0/16")),
            Some(50)
        );
        // The same deny, numbered after the allow, is never reached.
        rules.last_mut().unwrap().rule_number = 150;
        assert_eq!(
            first_denying_rule(&rules, false, Protocol::Tcp, TCP_ALL, net("10.2.0.0/16")),
            None
        );
    }

    #[test]
    fn given_an_allow_for_part_of_the_ports_then_the_rest_meets_the_star_rule() {
        let rules = vec![rule(100, true, true, "6", "0.0.0.0/0", Some((443, 443)))];
        let https = PortRange { from: 443, to: 443 };
        assert_eq!(
            first_denying_rule(&rules, true, Protocol::Tcp, https, net("10.2.0.0/16")),
            None
        );
        assert_eq!(
            first_denying_rule(&rules, true, Protocol::Tcp, TCP_ALL, net("10.2.0.0/16")),
            Some(DEFAULT_RULE_NUMBER)
        );
    }

    #[test]
    fn given_a_rule_of_another_protocol_family_or_direction_then_it_does_not_match() {
        let rules = vec![
            rule(10, true, false, "17", "0.0.0.0/0", None),
            rule(20, true, false, "-1", "::/0", None),
            rule(30, false, false, "-1", "0.0.0.0/0", None),
            rule(100, true, true, "-1", "0.0.0.0/0", None),
        ];
        assert_eq!(
            first_denying_rule(&rules, true, Protocol::Tcp, TCP_ALL, net("10.2.0.0/16")),
            None
        );
    }

    #[test]
    fn given_a_deny_for_part_of_the_peer_range_then_the_range_does_not_pass() {
        let mut rules = default_rules(true);
        rules.push(rule(90, true, false, "-1", "10.2.128.0/17", None));
        assert_eq!(
            first_denying_rule(&rules, true, Protocol::Tcp, TCP_ALL, net("10.2.0.0/16")),
            Some(90)
        );
        assert_eq!(
            first_denying_rule(&rules, true, Protocol::Tcp, TCP_ALL, net("10.2.0.0/17")),
            None
        );
    }

    /// EC2's documented rule, packet by packet: rules of the direction, in number order; the
    /// first whose protocol (`-1` = all), CIDR and port range hold the packet decides; none = the
    /// `*` deny. The lowest rule number that denies any packet of the range, or `None`.
    fn one_packet_at_a_time(
        rules: &[AclEntry],
        egress: bool,
        protocol: Protocol,
        ports: PortRange,
        cidr: IpNet,
    ) -> Option<i32> {
        let mut sorted: Vec<&AclEntry> = rules.iter().collect();
        sorted.sort_by_key(|r| r.rule_number);
        let IpNet::V4(cidr) = cidr else { unreachable!() };
        let mut lowest = None;
        for address in cidr.hosts().chain([cidr.network(), cidr.broadcast()]) {
            for port in ports.from..=ports.to {
                let decided = sorted.iter().find(|r| {
                    r.egress == egress
                        && (r.protocol == "-1" || r.protocol == protocol.number())
                        && r.cidr.contains(&IpNet::from(std::net::IpAddr::from(address)))
                        && r.ports.is_none_or(|p| p.from <= port && port <= p.to)
                });
                let denied = match decided {
                    Some(r) if r.allow => None,
                    Some(r) => Some(r.rule_number),
                    None => Some(DEFAULT_RULE_NUMBER),
                };
                if let Some(number) = denied {
                    lowest = Some(lowest.map_or(number, |kept: i32| kept.min(number)));
                }
            }
        }
        lowest
    }

    fn small_cidr(min_prefix: u8) -> impl Strategy<Value = IpNet> {
        (0u8..=255, min_prefix..=32u8).prop_map(|(host, prefix)| {
            IpNet::new(std::net::Ipv4Addr::new(10, 0, 0, host).into(), prefix)
                .unwrap()
                .trunc()
        })
    }

    fn small_ports() -> impl Strategy<Value = PortRange> {
        (0u16..24, 0u16..12).prop_map(|(from, span)| PortRange {
            from,
            to: from + span,
        })
    }

    fn random_rule() -> impl Strategy<Value = AclEntry> {
        (
            1i32..60,
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(vec!["-1", "6", "17"]),
            small_cidr(24),
            prop::option::of(small_ports()),
        )
            .prop_map(|(rule_number, egress, allow, protocol, cidr, ports)| AclEntry {
                rule_number,
                egress,
                allow,
                protocol: protocol.into(),
                cidr,
                ports,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn the_evaluation_agrees_with_evaluating_every_packet_in_rule_order(
            mut rules in prop::collection::vec(random_rule(), 0..12),
            egress in any::<bool>(),
            udp in any::<bool>(),
            ports in small_ports(),
            cidr in small_cidr(26),
        ) {
            // EC2 keeps one rule per number and direction.
            rules.sort_by_key(|r| (r.egress, r.rule_number));
            rules.dedup_by_key(|r| (r.egress, r.rule_number));
            // ... and lists them in no particular order.
            rules.sort_by_key(|r| (r.cidr, r.allow));
            let protocol = if udp { Protocol::Udp } else { Protocol::Tcp };
            prop_assert_eq!(
                first_denying_rule(&rules, egress, protocol, ports, cidr),
                one_packet_at_a_time(&rules, egress, protocol, ports, cidr)
            );
        }
    }

    fn subnet(id: &str, zone: &str) -> Subnet {
        Subnet {
            id: id.into(),
            vpc_id: "vpc-1".into(),
            availability_zone: zone.into(),
        }
    }

    fn acl(id: &str, is_default: bool, subnets: &[&str]) -> NetworkAcl {
        NetworkAcl {
            id: id.into(),
            vpc_id: "vpc-1".into(),
            is_default,
            subnet_ids: subnets.iter().map(|s| (*s).to_owned()).collect(),
            entries: default_rules(true),
        }
    }

    #[test]
    fn given_subnets_in_and_out_of_the_attachment_zones_then_only_the_zones_acls_are_taken() {
        let attachment = VpcAttachment {
            id: "tgw-attach-1".into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-tgw".into()],
            ipv6_support: false,
        };
        let subnets = [
            subnet("subnet-tgw", "az-a"),
            subnet("subnet-app", "az-a"),
            subnet("subnet-far", "az-b"),
            subnet("subnet-plain", "az-a"),
        ];
        let acls = [
            acl("acl-default", true, &[]),
            acl("acl-tgw", false, &["subnet-tgw"]),
            acl("acl-app", false, &["subnet-app"]),
            acl("acl-far", false, &["subnet-far"]),
        ];
        let by_vpc = acls_by_vpc([&attachment], &subnets, &acls);
        let ids = |acls: &[NetworkAcl]| acls.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
        // `subnet-plain` has no association read, so the VPC's default ACL serves it.
        assert_eq!(ids(&by_vpc["vpc-1"].zone), ["acl-app", "acl-default", "acl-tgw"]);
        assert_eq!(ids(&by_vpc["vpc-1"].attachment), ["acl-tgw"]);
    }
}
