"""Monkeypatches that close gaps between moto 5.2.5's EC2 emulation and the
documented EC2 API, for the Transit Gateway actions tgw-peering uses, and
STS AssumeRole, which it uses to act in the peer (accepter) account.

Each patch is a function named after the gap it fills. `apply_all()` applies
them in order; several wrap the same moto method, so the order matters
(progression wraps creation after the peer backend has been touched, and its
describe wrapper sees only peering attachments).
"""

from __future__ import annotations

import base64
import fnmatch
import ipaddress
import json
import re
import threading
import time
import warnings
from dataclasses import dataclass, replace
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.transit_gateway_attachments import (
    TransitGatewayAttachmentBackend as AttachmentBackend,
)
from moto.ec2.models.transit_gateway_route_tables import (
    TransitGatewayRouteTableBackend as RouteTableBackend,
)
from moto.ec2.responses.transit_gateway_attachments import (
    TransitGatewayAttachment as AttachmentResponse,
)
from moto.ec2.responses.transit_gateway_route_tables import (
    TransitGatewayRouteTable as RouteTableResponse,
)

import local_aws_patches
from request_models import requests_match_the_api_model


# --- 1 -----------------------------------------------------------------------


def routes_keep_their_attachment() -> None:
    """Gap: CreateTransitGatewayRoute stores `transitGatewayAttachments` as a
    single dict, which the serializer emits as an empty list, so
    CreateTransitGatewayRoute and SearchTransitGatewayRoutes return routes
    without their attachment.

    AWS (EC2 API reference, TransitGatewayRoute.TransitGatewayAttachments):
    a list of TransitGatewayRouteAttachment {ResourceId, ResourceType,
    TransitGatewayAttachmentId}. For a peering attachment ResourceType is
    `peering` and ResourceId is the transit gateway on the other side of the
    peering, as seen from the route table's transit gateway. Blackhole routes
    carry no attachment.
    """
    original = RouteTableBackend.create_transit_gateway_route

    def create_transit_gateway_route(
        self: Any,
        transit_gateway_route_table_id: str,
        destination_cidr_block: str,
        transit_gateway_attachment_id: str | None = None,
        blackhole: bool = False,
    ) -> dict[str, Any]:
        route = original(
            self,
            transit_gateway_route_table_id,
            destination_cidr_block,
            transit_gateway_attachment_id,
            blackhole,
        )
        attachment = route.pop("transitGatewayAttachments", None)
        if attachment:
            if attachment["resourceType"] == "peering":
                table = self.transit_gateways_route_tables[transit_gateway_route_table_id]
                peering = self.transit_gateway_attachments[transit_gateway_attachment_id]
                attachment["resourceId"] = _peer_of(peering, table.transit_gateway_id)
            route["transitGatewayAttachments"] = [attachment]
        return route

    RouteTableBackend.create_transit_gateway_route = create_transit_gateway_route


def _peer_of(peering: Any, local_tgw_id: str) -> str:
    requester = peering.requester_tgw_info["TransitGatewayId"]
    accepter = peering.accepter_tgw_info["TransitGatewayId"]
    return requester if local_tgw_id == accepter else accepter


# --- 2 -----------------------------------------------------------------------

# SearchTransitGatewayRoutes MaxResults: "Valid Range: Minimum value of 5.
# Maximum value of 1000." Without MaxResults the same 1000 cap applies.
_ROUTE_SEARCH_CAP = 1000


def _cidr_relation(relation: str):
    def matches(route: dict[str, Any], value: str) -> bool:
        cidr = route.get("destinationCidrBlock")
        if not cidr:
            return False
        try:
            route_net = ipaddress.ip_network(cidr, strict=False)
            filter_net = ipaddress.ip_network(value, strict=False)
            return getattr(route_net, relation)(filter_net)
        except (TypeError, ValueError):  # malformed CIDR or IPv4 vs IPv6
            return False

    return matches


def _attachment_field(field: str):
    def matches(route: dict[str, Any], value: str) -> bool:
        return any(a.get(field) == value for a in route.get("transitGatewayAttachments") or [])

    return matches


_ROUTE_FILTERS = {
    "type": lambda route, value: route.get("type") == value,
    "state": lambda route, value: route.get("state") == value,
    "route-search.exact-match": _cidr_relation("__eq__"),
    "route-search.subnet-of-match": _cidr_relation("subnet_of"),
    "route-search.supernet-of-match": _cidr_relation("supernet_of"),
    "attachment.transit-gateway-attachment-id": _attachment_field("transitGatewayAttachmentId"),
    "attachment.resource-id": _attachment_field("resourceId"),
    "attachment.resource-type": _attachment_field("resourceType"),
}


def _static_routes(backend: Any, table: Any) -> list[dict[str, Any]]:
    return list(table.routes.values())


# The routes SearchTransitGatewayRoutes filters and pages (search_routes_honours_max_results);
# propagation_yields_propagated_routes adds the propagated ones.
_routes_seen_by_search = _static_routes


def _token_for_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"routes:{offset}".encode()).decode()


def _offset_from_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, offset = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        if kind == "routes" and int(offset) >= 0:
            return int(offset)
    except ValueError:
        pass
    raise EC2ClientError("InvalidNextToken", f"The token '{token}' is invalid.")


def search_routes_honours_max_results() -> None:
    """Gap: SearchTransitGatewayRoutes with MaxResults fails with HTTP 500
    (moto slices a dict), AdditionalRoutesAvailable is always false, and the
    filters `route-search.subnet-of-match`, `route-search.supernet-of-match`
    and `attachment.*` are ignored.

    AWS (EC2 API reference, SearchTransitGatewayRoutes): MaxResults (5..1000)
    caps the number of Routes returned and AdditionalRoutesAvailable is true
    when more routes matched; NextToken ("The token for the next page of
    results", null when there are no more) pages through the rest. Filters (values of one filter are ORed, filters
    are ANDed):
    - route-search.supernet-of-match: "The routes with a CIDR that encompass
      the CIDR filter" (routes 10.0.1.0/29 and 10.0.1.0/31, filter
      10.0.1.0/30 -> 10.0.1.0/29).
    - route-search.subnet-of-match: "The routes with a subnet that match the
      specified CIDR filter".
    - attachment.transit-gateway-attachment-id, attachment.resource-id,
      attachment.resource-type.
    The reference does not say whether a route equal to the filter CIDR
    matches subnet-of/supernet-of; like Python's ipaddress subnet_of /
    supernet_of, this emulation includes the exact match.
    Not emulated: route-search.longest-prefix-match, prefix-list-id, and
    rejecting MaxResults outside 5..1000.
    """

    def search_backend(
        self: Any,
        transit_gateway_route_table_id: str,
        filters: Any,
        max_results: int | None = None,
    ) -> list[dict[str, Any]]:
        table = self.transit_gateways_route_tables.get(transit_gateway_route_table_id)
        if not table:
            return []
        routes = [
            route
            for route in _routes_seen_by_search(self, table)
            if all(
                any(_ROUTE_FILTERS[name](route, value) for value in values)
                for name, values in (filters or {}).items()
                if name in _ROUTE_FILTERS
            )
        ]
        return routes[: int(max_results)] if max_results else routes

    def search_response(self: Any) -> ActionResult:
        max_results = self._get_int_param("MaxResults") or _ROUTE_SEARCH_CAP
        start = _offset_from_token(self._get_param("NextToken"))
        routes = self.ec2_backend.search_transit_gateway_routes(
            transit_gateway_route_table_id=self._get_param("TransitGatewayRouteTableId"),
            filters=self._filters_from_querystring(),
        )
        end = start + max_results
        result = {"routeSet": routes[start:end], "additionalRoutesAvailable": len(routes) > end}
        if len(routes) > end:
            result["nextToken"] = _token_for_offset(end)
        return ActionResult(result)

    RouteTableBackend.search_transit_gateway_routes = search_backend
    RouteTableResponse.search_transit_gateway_routes = search_response


# --- 2b: propagated routes --------------------------------------------------

# What each VPN / Direct Connect gateway attachment "advertises over BGP"
# (attachment id -> CIDRs), set through POST /_harness/advertised-routes.
_advertised: dict[str, tuple[str, ...]] = {}
_advertised_lock = threading.Lock()
_propagation_applied = False
ADVERTISING_TYPES = ("vpn", "direct-connect-gateway")
# Route evaluation order among propagated routes for one CIDR (first wins).
_PROPAGATION_ORDER = {"vpc": 0, "direct-connect-gateway": 1, "vpn": 2}


class PatchSkipped(Exception):
    pass


def _find_attachment(attachment_id: str) -> Any:
    """The attachment with this id in any instantiated Region/account backend, else None."""
    from moto.ec2.models import ec2_backends

    for regions in list(dict.values(ec2_backends)):
        for backend in list(dict.values(regions)):
            if attachment_id in backend.transit_gateway_attachments:
                return backend.transit_gateway_attachments[attachment_id]
    return None


def set_advertised_routes(attachment_id: str, cidrs: list[str]) -> dict[str, list[str]]:
    """Replace what the attachment advertises ([] withdraws all); ValueError if invalid."""
    if not _propagation_applied:
        raise PatchSkipped("patch propagation_yields_propagated_routes is skipped")
    attachment = _find_attachment(attachment_id)
    if attachment is None:
        raise ValueError(f"no transit gateway attachment {attachment_id}")
    if attachment.resource_type not in ADVERTISING_TYPES:
        raise ValueError(
            f"{attachment_id} is a {attachment.resource_type} attachment; "
            f"only {' and '.join(ADVERTISING_TYPES)} attachments advertise routes"
        )
    try:
        networks = [str(ipaddress.ip_network(c)) for c in cidrs]
    except (TypeError, ValueError) as e:
        raise ValueError(f"bad CIDR: {e}") from None
    with _advertised_lock:
        if networks:
            _advertised[attachment_id] = tuple(dict.fromkeys(networks))
        else:
            _advertised.pop(attachment_id, None)
    return advertised_routes()


def advertised_routes() -> dict[str, list[str]]:
    if not _propagation_applied:
        raise PatchSkipped("patch propagation_yields_propagated_routes is skipped")
    with _advertised_lock:
        return {a: list(c) for a, c in _advertised.items()}


def reset_advertised_routes() -> None:
    with _advertised_lock:
        _advertised.clear()


def _no_ipv6_cidrs(attachment: Any, vpc: Any) -> list[str]:
    return []


# The IPv6 blocks a VPC attachment propagates (ipv6_support_propagates_ipv6_blocks).
_vpc_ipv6_cidrs = _no_ipv6_cidrs


def _propagated_cidrs(backend: Any, attachment: Any) -> list[str]:
    if attachment.resource_type == "vpc":
        vpc = backend.vpcs.get(attachment.resource_id)
        ipv4 = [
            c["cidr_block"]
            for c in (vpc.get_cidr_block_association_set() if vpc else [])
            if c["cidr_block_state"]["state"] == "associated"
        ]
        return ipv4 + (_vpc_ipv6_cidrs(attachment, vpc) if vpc else [])
    if attachment.resource_type in ADVERTISING_TYPES:
        with _advertised_lock:
            return list(_advertised.get(attachment.id, ()))
    return []  # peering attachments do not propagate


def _canonical(cidr: str) -> str:
    try:
        return str(ipaddress.ip_network(cidr, strict=False))
    except ValueError:
        return cidr


def propagation_yields_propagated_routes() -> None:
    """Gap: EnableTransitGatewayRouteTablePropagation is recorded (and
    GetTransitGatewayRouteTablePropagations lists it), but no route ever
    propagates: SearchTransitGatewayRoutes returns only static routes.

    AWS (EC2 API reference, TransitGatewayRoute.Type: static | propagated;
    Transit Gateway guide, "Route propagation" and "Route evaluation order"):
    an attachment propagating to a route table puts its routes in it as type
    `propagated`, state `active`, TransitGatewayAttachments [{ResourceId,
    ResourceType, TransitGatewayAttachmentId}]: a VPC attachment its VPC's
    IPv4 CIDR blocks (ResourceId the VPC), a VPN attachment the routes the
    customer gateway advertises over BGP (ResourceId the VPN connection), a
    Direct Connect gateway attachment likewise. Peering attachments do not
    propagate. A static route for the same CIDR takes precedence, so only it
    is listed; among propagated ones VPC beats Direct Connect gateway beats VPN.

    Emulation: computed at search time from the table's enabled propagations
    of available attachments, the VPCs' associated CIDR blocks and what
    POST /_harness/advertised-routes says each VPN / Direct Connect gateway
    attachment advertises; never stored in the table. They go through the
    filters and paging of search_routes_honours_max_results (needed: without
    it this patch has no effect).
    IPv6 blocks: ipv6_support_propagates_ipv6_blocks.
    Not emulated: ECMP (one attachment per CIDR: the first
    in evaluation order, then propagation order), AS-path preference, rejecting
    propagation of a peering attachment.
    """
    global _routes_seen_by_search, _propagation_applied

    def with_propagated(backend: Any, table: Any) -> list[dict[str, Any]]:
        static = _static_routes(backend, table)
        taken = {_canonical(r["destinationCidrBlock"]) for r in static}
        propagated = []
        found = (
            backend.transit_gateway_attachments.get(p.transitGatewayAttachmentId)
            for p in table.route_table_propagation
        )
        attachments = [a for a in found if a is not None and a.state == "available"]
        for a in sorted(attachments, key=lambda a: _PROPAGATION_ORDER.get(a.resource_type, 9)):
            for cidr in _propagated_cidrs(backend, a):
                if _canonical(cidr) in taken:
                    continue
                taken.add(_canonical(cidr))
                propagated.append(
                    {
                        "destinationCidrBlock": cidr,
                        "prefixListId": None,
                        "state": "active",
                        "type": "propagated",
                        "transitGatewayAttachments": [
                            {
                                "resourceId": a.resource_id,
                                "resourceType": a.resource_type,
                                "transitGatewayAttachmentId": a.id,
                            }
                        ],
                    }
                )
        return static + propagated

    _routes_seen_by_search = with_propagated
    _propagation_applied = True


def attachments_propagate_to_the_default_table() -> None:
    """Gap: a new VPC or VPN attachment is associated with the transit
    gateway's default route table but never propagates to it, whatever the
    TGW's DefaultRouteTablePropagation says.

    AWS (EC2 API reference, TransitGatewayRequestOptions /
    TransitGatewayOptions: DefaultRouteTablePropagation "Enable or disable
    automatic propagation of routes to the default propagation route table.
    Enabled by default.", PropagationDefaultRouteTableId; the Transit
    Gateway guide: peering attachments do not support propagation): on a
    TGW with DefaultRouteTablePropagation `enable`, each new VPC, VPN or
    Direct Connect gateway attachment propagates to the
    PropagationDefaultRouteTableId table, as if
    EnableTransitGatewayRouteTablePropagation had been called (listed by
    GetTransitGatewayRouteTablePropagations, removed by
    DisableTransitGatewayRouteTablePropagation); with `disable`, none does.

    Emulation: both options are read from the TGW when the attachment is
    created (so ModifyTransitGateway changes apply to later attachments);
    peering attachments are left alone. The routes themselves come from
    propagation_yields_propagated_routes.
    Not emulated: Direct Connect gateway attachments (moto has none).
    """
    original_vpc = AttachmentBackend.create_transit_gateway_vpc_attachment
    original_vpn = AttachmentBackend.create_transit_gateway_vpn_attachment

    def propagate_by_default(backend: Any, attachment: Any) -> Any:
        tgw = backend.transit_gateways.get(attachment.transit_gateway_id)
        options = tgw.options if tgw else {}
        table_id = options.get("PropagationDefaultRouteTableId")
        if (
            options.get("DefaultRouteTablePropagation") == "enable"
            and table_id in backend.transit_gateways_route_tables
        ):
            backend.enable_transit_gateway_route_table_propagation(attachment.id, table_id)
        return attachment

    def create_vpc(self: Any, *args: Any, **kwargs: Any) -> Any:
        return propagate_by_default(self, original_vpc(self, *args, **kwargs))

    def create_vpn(self: Any, *args: Any, **kwargs: Any) -> Any:
        return propagate_by_default(self, original_vpn(self, *args, **kwargs))

    AttachmentBackend.create_transit_gateway_vpc_attachment = create_vpc
    AttachmentBackend.create_transit_gateway_vpn_attachment = create_vpn


# --- 4 (applied before 3, which wraps the same create method) ----------------


def peer_region_sees_peering() -> None:
    """Gap: CreateTransitGatewayPeeringAttachment registers the attachment in
    the peer Region only if moto had already instantiated that Region's EC2
    backend, so the accepter's DescribeTransitGatewayPeeringAttachments may
    never list it and AcceptTransitGatewayPeeringAttachment fails.

    AWS (EC2 API reference, CreateTransitGatewayPeeringAttachment): the
    attachment request is sent to the peer transit gateway (PeerRegion,
    PeerAccountId), whose owner must accept it there.
    """
    from moto.ec2.models import ec2_backends

    original = AttachmentBackend.create_transit_gateway_peering_attachment

    def create(
        self: Any,
        transit_gateway_id: str,
        peer_transit_gateway_id: str,
        peer_region: str,
        peer_account_id: str,
        tags: dict[str, str],
    ) -> Any:
        # Looking the backend up instantiates it, which registers it for the
        # cross-Region fan-out done by the original method.
        ec2_backends[peer_account_id or self.account_id][peer_region or self.region_name]
        return original(
            self, transit_gateway_id, peer_transit_gateway_id, peer_region, peer_account_id, tags
        )

    AttachmentBackend.create_transit_gateway_peering_attachment = create


# --- 5: describe calls list only their own attachment type -------------------


def peering_describe_lists_only_peerings() -> None:
    """Gap: DescribeTransitGatewayPeeringAttachments returns every attachment
    of the Region, including VPC attachments (without RequesterTgwInfo /
    AccepterTgwInfo).

    AWS (EC2 API reference, DescribeTransitGatewayPeeringAttachments):
    "Describes your transit gateway peering attachments" - only
    TransitGatewayPeeringAttachment items.
    """
    original = AttachmentBackend.describe_transit_gateway_peering_attachments

    def describe(self: Any, transit_gateways_attachment_ids: Any = None, filters: Any = None):
        found = original(self, transit_gateways_attachment_ids, filters)
        return [a for a in found if a.resource_type == "peering"]

    AttachmentBackend.describe_transit_gateway_peering_attachments = describe


def vpc_describe_lists_only_vpcs() -> None:
    """Gap: DescribeTransitGatewayVpcAttachments returns every attachment of
    the Region, including peering attachments (without VpcId).

    AWS (EC2 API reference, DescribeTransitGatewayVpcAttachments): "Describes
    one or more VPC attachments" - only TransitGatewayVpcAttachment items.
    """
    original = AttachmentBackend.describe_transit_gateway_vpc_attachments

    def describe(self: Any, transit_gateways_attachment_ids: Any = None, filters: Any = None):
        found = original(self, transit_gateways_attachment_ids, filters)
        return [a for a in found if a.resource_type == "vpc"]

    AttachmentBackend.describe_transit_gateway_vpc_attachments = describe


def vpc_attachment_keeps_its_tags() -> None:
    """Gap: CreateTransitGatewayVpcAttachment reads its TagSpecifications
    under resource type `transit-gateway-route-table`, so tags given with the
    documented resource type are dropped.

    AWS (EC2 API reference, CreateTransitGatewayVpcAttachment.TagSpecifications,
    ResourceType `transit-gateway-attachment`): the tags are applied to the
    attachment and returned in TransitGatewayVpcAttachment.Tags.
    """
    original = AttachmentResponse.create_transit_gateway_vpc_attachment

    def create(self: Any) -> ActionResult:
        result = original(self)
        tags = self._parse_tag_specification().get("transit-gateway-attachment", {})
        result.result["TransitGatewayVpcAttachment"].add_tags(tags)
        return result

    AttachmentResponse.create_transit_gateway_vpc_attachment = create


# --- 3 -----------------------------------------------------------------------


@dataclass(frozen=True)
class PeeringProgression:
    """How peering attachments created from now on progress (see
    peering_state_progression): the seconds (monotonic clock, fractions allowed)
    each transient state lasts. Progress depends on time only, never on how often
    the attachment is read. Defaults are AWS's fast path: 0 s everywhere."""

    initiating_seconds: float = 0  # requester side only, before initiatingRequest
    initiating_request_seconds: float = 0
    outcome: str = "available"  # available | failed | rejected
    failing_seconds: float = 0  # outcome failed: after initiatingRequest, before failed
    pending_acceptance_seconds: float = 0  # outcome rejected: before rejecting
    rejecting_seconds: float = 0  # outcome rejected: before rejected
    pending_seconds: float = 0  # from the accept, before available
    deleting_seconds: float = 0  # from the delete, before deleted


OUTCOMES = ("available", "failed", "rejected")

_settings = PeeringProgression()
_lock = threading.RLock()
_progression_applied = False  # modify_peering needs the plans peering_state_progression keeps


def set_peering_progression(**changes: Any) -> PeeringProgression:
    """Replace the settings from the defaults with `changes` (field names)."""
    global _settings
    settings = replace(PeeringProgression(), **changes)
    if settings.outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    with _lock:
        _settings = settings
    return settings


def reset_peering_progression() -> None:
    set_peering_progression()


# One step of an attachment's plan: a state and how many seconds it lasts
# (None: until an API call or the harness starts a new plan).
Step = tuple[str, float | None]


def _creation_plan(s: PeeringProgression) -> list[Step]:
    requested = [("initiating", s.initiating_seconds), ("initiatingRequest", s.initiating_request_seconds)]
    if s.outcome == "failed":
        return requested + [("failing", s.failing_seconds), ("failed", None)]
    if s.outcome == "rejected":
        return requested + [
            ("pendingAcceptance", s.pending_acceptance_seconds),
            ("rejecting", s.rejecting_seconds),
            ("rejected", None),
        ]
    # AWS: it "remains in this state indefinitely until it's either accepted or rejected".
    return requested + [("pendingAcceptance", None)]


def _acceptance_plan(s: PeeringProgression) -> list[Step]:
    return [("pending", s.pending_seconds), ("available", None)]


def _rejection_plan(s: PeeringProgression) -> list[Step]:
    return [("rejecting", s.rejecting_seconds), ("rejected", None)]


def _deletion_plan(s: PeeringProgression) -> list[Step]:
    return [("deleting", s.deleting_seconds), ("deleted", None)]


def _modification_plan(modifying_seconds: float, rolling_back_seconds: float | None) -> list[Step]:
    rolled_back = [] if rolling_back_seconds is None else [("rollingBack", rolling_back_seconds)]
    return [("modifying", modifying_seconds), *rolled_back, ("available", None)]


class _Lifecycle:
    """A peering attachment's remaining plan and when its current step began."""

    def __init__(self, settings: PeeringProgression) -> None:
        self.settings = settings
        self.steps: list[Step] = []
        self.step_started = 0.0

    def follow(self, steps: list[Step]) -> None:
        """Start a new plan now (creation, accept, delete, a harness modification)."""
        self.steps = list(steps)
        self.step_started = time.monotonic()

    def current_state(self) -> str:
        """The state for the time elapsed since the plan began, whenever it is asked.

        A finished step's end (not the time it was noticed) starts the next one,
        so how often the attachment is read changes nothing."""
        now = time.monotonic()
        while len(self.steps) > 1:
            duration = self.steps[0][1]
            if duration is None or now - self.step_started < duration:
                break
            self.step_started += duration
            self.steps.pop(0)
        return self.steps[0][0]


_STATUS_MESSAGES = {
    "initiating": "Initiating",
    "initiatingRequest": "Initiating request",
    "pendingAcceptance": "Pending acceptance",
    "rollingBack": "Rolling back",
    "pending": "Pending",
    "available": "Available",
    "modifying": "Modifying",
    "deleting": "Deleting",
    "deleted": "Deleted",
    "failed": "Failed",
    "failing": "Failing",
    "rejected": "Rejected",
    "rejecting": "Rejecting",
}

# Before the request reaches the accepter (or when it never does) only the requester lists it.
_REQUESTER_ONLY_STATES = ("initiating", "initiatingRequest", "failing", "failed")


def _enter(attachment: Any, state: str) -> None:
    attachment.state = state
    attachment._peering_status.code = state
    attachment._peering_status.message = _STATUS_MESSAGES[state]


def _settle(attachment: Any) -> None:
    """Show the state the attachment's plan gives for now."""
    life = getattr(attachment, "_harness_lifecycle", None)
    if life is None:
        return
    state = life.current_state()
    if attachment.state != state:
        _enter(attachment, state)


def _start(attachment: Any, steps: list[Step]) -> None:
    attachment._harness_lifecycle.follow(steps)
    _settle(attachment)


def settled_state(attachment: Any) -> str:
    """The attachment's state now (other patches read it before acting on it)."""
    with _lock:
        _settle(attachment)
        return attachment.state


def _hidden_from(backend: Any, attachment: Any) -> bool:
    """The accepter side sees a peering request only once it reached it."""
    if attachment.state not in _REQUESTER_ONLY_STATES:
        return False
    req, acc = attachment.requester_tgw_info, attachment.accepter_tgw_info
    here = (backend.account_id, backend.region_name)
    return here == (acc["OwnerId"], acc["Region"]) and here != (req["OwnerId"], req["Region"])


def modify_peering(attachment_id: str, modifying_seconds: float, rolling_back_seconds: float | None) -> str:
    """Put an `available` peering attachment through `modifying` (then `rollingBack`
    if rolling_back_seconds is not None) and back to `available`; returns its state
    now. ValueError if there is no such peering or it is not available."""
    if not _progression_applied:
        raise PatchSkipped("patch peering_state_progression is skipped")
    with _lock:
        attachment = _find_attachment(attachment_id)
        if attachment is None or not hasattr(attachment, "_harness_lifecycle"):
            raise ValueError(f"no transit gateway peering attachment {attachment_id}")
        _settle(attachment)
        if attachment.state != "available":
            raise ValueError(f"{attachment_id} is {attachment.state}; only an available peering can be modified")
        _start(attachment, _modification_plan(modifying_seconds, rolling_back_seconds))
        return attachment.state


class IncorrectStateError(EC2ClientError):
    def __init__(self, attachment_id: str, state: str) -> None:
        super().__init__(
            "IncorrectState",
            f"tgw-peering attachment {attachment_id} is in state {state} and cannot be accepted.",
        )


def peering_state_progression() -> None:
    """Gap: moto creates a peering attachment directly in `pendingAcceptance`,
    AcceptTransitGatewayPeeringAttachment makes it `available` at once,
    DeleteTransitGatewayPeeringAttachment `deleted` at once, accepting an
    attachment in any other state (e.g. twice) succeeds, and none of the other
    documented states ever shows.

    AWS (EC2 API reference, TransitGatewayPeeringAttachment.State,
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_TransitGatewayPeeringAttachment.html:
    initiating | initiatingRequest | pendingAcceptance | rollingBack | pending |
    available | modifying | deleting | deleted | failed | rejected | rejecting |
    failing, "the initiating state has been deprecated"; Transit Gateway guide,
    https://docs.aws.amazon.com/vpc/latest/tgw/tgw-peering-accept-reject.html: the
    attachment is created in pendingAcceptance "and remains in this state
    indefinitely until it's either accepted or rejected", accepted or rejected
    from the accepter's Region). These states change as AWS works, over time,
    not as a client reads them (docs/aws-facts.md, `peering-attachment-states`).
    The order of the transient states is not documented step by step; this
    follows their names (unverified, `peering-attachment-transitions`). Accepting an attachment that is not
    pendingAcceptance fails with IncorrectState; so does rejecting one (unverified, `peering-attachment-transitions`).

    Emulation: each attachment follows a plan of states with durations in
    seconds (monotonic clock), from the settings current at its creation
    (set_peering_progression); a read reports the state for the time elapsed,
    however many reads there were:
    - created: initiating -> initiatingRequest (both listed by the requester
      only) -> pendingAcceptance until accepted; outcome `failed`: -> failing ->
      failed (requester only); outcome `rejected`: -> pendingAcceptance ->
      rejecting -> rejected;
    - accepted: pending -> available (pending_seconds from the accept);
    - rejected by RejectTransitGatewayPeeringAttachment (only from
      pendingAcceptance, else IncorrectState): rejecting -> rejected;
    - deleted: deleting -> deleted (deleting_seconds from the delete);
    - modify_peering (the harness's stand-in for a modification AWS makes):
      available -> modifying [-> rollingBack] -> available.
    Status.Code mirrors State. With the defaults it is AWS's fast path:
    pendingAcceptance at creation, available on accept, deleted on delete.
    """
    original_create = AttachmentBackend.create_transit_gateway_peering_attachment
    original_describe = AttachmentBackend.describe_transit_gateway_peering_attachments
    original_accept = AttachmentBackend.accept_transit_gateway_peering_attachment
    original_delete = AttachmentBackend.delete_transit_gateway_peering_attachment
    original_reject = AttachmentBackend.reject_transit_gateway_peering_attachment
    global _progression_applied
    _progression_applied = True

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        attachment = original_create(self, *args, **kwargs)
        with _lock:
            attachment._harness_lifecycle = _Lifecycle(_settings)
            _start(attachment, _creation_plan(_settings))
        return attachment

    def describe(self: Any, transit_gateways_attachment_ids: Any = None, filters: Any = None):
        with _lock:
            for attachment in list(self.transit_gateway_attachments.values()):
                _settle(attachment)
            matched = original_describe(self, transit_gateways_attachment_ids, filters)
            return [a for a in matched if not _hidden_from(self, a)]

    def accept(self: Any, transit_gateway_attachment_id: str) -> Any:
        with _lock:
            attachment = self.transit_gateway_attachments.get(transit_gateway_attachment_id)
            if attachment is not None and hasattr(attachment, "_harness_lifecycle"):
                _settle(attachment)
                if attachment.state != "pendingAcceptance":
                    raise IncorrectStateError(transit_gateway_attachment_id, attachment.state)
            accepted = original_accept(self, transit_gateway_attachment_id)
            if hasattr(accepted, "_harness_lifecycle"):
                _start(accepted, _acceptance_plan(accepted._harness_lifecycle.settings))
            return accepted

    def reject(self: Any, transit_gateway_attachment_id: str) -> Any:
        # Rejecting follows its own plan, so a later read does not resume the creation plan.
        with _lock:
            attachment = self.transit_gateway_attachments.get(transit_gateway_attachment_id)
            life = getattr(attachment, "_harness_lifecycle", None)
            if life is None:
                return original_reject(self, transit_gateway_attachment_id)
            _settle(attachment)
            if attachment.state != "pendingAcceptance":
                raise IncorrectStateError(transit_gateway_attachment_id, attachment.state)
            original_reject(self, transit_gateway_attachment_id)
            _start(attachment, _rejection_plan(life.settings))
            return attachment

    def delete(self: Any, transit_gateway_attachment_id: str) -> Any:
        with _lock:
            attachment = self.transit_gateway_attachments.get(transit_gateway_attachment_id)
            life = getattr(attachment, "_harness_lifecycle", None)
            if life is None:
                return original_delete(self, transit_gateway_attachment_id)
            _settle(attachment)
            if attachment.state not in ("deleting", "deleted"):  # a second delete changes nothing
                original_delete(self, transit_gateway_attachment_id)
                _start(attachment, _deletion_plan(life.settings))
            return attachment

    AttachmentBackend.create_transit_gateway_peering_attachment = create
    AttachmentBackend.describe_transit_gateway_peering_attachments = describe
    AttachmentBackend.accept_transit_gateway_peering_attachment = accept
    AttachmentBackend.delete_transit_gateway_peering_attachment = delete
    AttachmentBackend.reject_transit_gateway_peering_attachment = reject


def create_route_refuses_duplicates() -> None:
    """Gap: CreateTransitGatewayRoute for a CIDR that already has a static route
    silently replaces it (moto assigns into a dict), so a tool that re-creates a
    route it should have left alone would overwrite someone else's route without
    any error.

    AWS (EC2 API reference, CreateTransitGatewayRoute; EC2 client error codes,
    RouteAlreadyExists): a static route is created, never replaced; replacing
    one takes ReplaceTransitGatewayRoute. A second create for the same
    destination fails with RouteAlreadyExists (HTTP 400) and leaves the route
    as it was.
    """
    original = RouteTableBackend.create_transit_gateway_route

    def create_transit_gateway_route(
        self: Any,
        transit_gateway_route_table_id: str,
        destination_cidr_block: str,
        transit_gateway_attachment_id: str | None = None,
        blackhole: bool = False,
    ) -> dict[str, Any]:
        table = self.transit_gateways_route_tables.get(transit_gateway_route_table_id)
        existing = table.routes.get(destination_cidr_block) if table else None
        if existing and existing.get("type") == "static" and existing.get("state") != "deleted":
            raise EC2ClientError(
                "RouteAlreadyExists",
                f"Route {destination_cidr_block} already exists in Transit Gateway Route Table "
                f"{transit_gateway_route_table_id}.",
            )
        return original(
            self,
            transit_gateway_route_table_id,
            destination_cidr_block,
            transit_gateway_attachment_id,
            blackhole,
        )

    RouteTableBackend.create_transit_gateway_route = create_transit_gateway_route


# --- 6: cross-account -----------------------------------------------------------


def _trust_principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    names = principal.get("AWS", []) if isinstance(principal, dict) else []
    return [names] if isinstance(names, str) else list(names)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _trust_applies(
    statement: dict[str, Any], principal_names: set[str], external_id: str | None
) -> bool:
    """Whether a trust policy statement names the caller and sts:AssumeRole and its
    sts:ExternalId condition (the only one evaluated) holds."""
    if not any(name == "*" or name in principal_names for name in _trust_principals(statement)):
        return False
    if not any(
        fnmatch.fnmatchcase("sts:assumerole", str(a).lower())
        for a in _as_list(statement.get("Action", []))
    ):
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        for key, values in conditions.items():
            if operator == "StringEquals" and key.lower() == "sts:externalid":
                if external_id not in _as_list(values):
                    return False
    return True


class AccessDeniedError(ServiceException):
    code = "AccessDenied"


def assume_role_needs_a_trusting_role() -> None:
    """Gap: AssumeRole hands out credentials for any role ARN: the role need not
    exist (moto only reads the account id out of the ARN) and its trust policy
    is never read, so a tool assuming a role the other account never created,
    or one that does not trust the caller, works here and fails on AWS.

    AWS (STS API reference, AssumeRole; IAM guide, role trust policies): the
    role must exist and its trust policy must allow the caller - a statement
    with Effect Allow, Action sts:AssumeRole (or a wildcard) and a Principal
    naming the caller's account (`"123456789012"` or
    `arn:aws:iam::123456789012:root`), its role / user ARN or `*`; an
    explicit Deny wins. Otherwise AccessDenied (HTTP 403) "User: <caller ARN>
    is not authorized to perform: sts:AssumeRole on resource: <role ARN>".

    Emulation: the caller is who GetCallerIdentity says (an assumed-role
    session - also matched by its role's ARN - an IAM user, or moto's default
    `arn:aws:sts::<account>:user/moto` for unknown keys such as `testing`).
    Conditions other than StringEquals sts:ExternalId are not evaluated (taken
    as met); the caller's own IAM policies are not checked (moto does not
    enforce IAM). AssumeRoleWithWebIdentity / WithSAML are left alone.
    """
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends
    from moto.sts.responses import TokenResponse

    original = TokenResponse.assume_role

    def assume_role(self: Any) -> ActionResult:
        role_arn = self._get_param("RoleArn") or ""
        _, caller_arn, caller_account = sts_backends[self.current_account][
            self.partition
        ].get_caller_identity(self.get_access_key(), self.region)
        names = {caller_arn, caller_account, f"arn:{self.partition}:iam::{caller_account}:root"}
        session = sts_backends[caller_account][self.partition].get_assumed_role_from_access_key(
            self.get_access_key()
        )
        if session is not None:
            names.add(session.role_arn)
        target = re.match(r"arn:[^:]+:iam::(\d{12}):role/", role_arn)
        role = None
        if target:
            try:
                role = iam_backends[target.group(1)][self.partition].get_role_by_arn(role_arn)
            except Exception:  # moto's IAM NotFoundException
                role = None
        statements: list[Any] = []
        if role is not None:
            try:
                policy = json.loads(role.assume_role_policy_document or "{}")
            except (TypeError, ValueError):
                policy = {}
            statements = [s for s in _as_list(policy.get("Statement", [])) if isinstance(s, dict)]
        external_id = self._get_param("ExternalId")
        applying = [s for s in statements if _trust_applies(s, names, external_id)]
        if not any(s.get("Effect") == "Allow" for s in applying) or any(
            s.get("Effect") == "Deny" for s in applying
        ):
            error = AccessDeniedError(
                f"User: {caller_arn} is not authorized to perform: sts:AssumeRole "
                f"on resource: {role_arn}"
            )
            with warnings.catch_warnings():  # "does not match an error shape": STS models none
                warnings.simplefilter("ignore", UserWarning)
                _, headers, body = self.serialized(ActionResult(error))
            headers["status"] = 403  # moto would answer 400 for a code the model lacks
            return body, headers
        return original(self)

    TokenResponse.assume_role = assume_role


class _AccepterSide:
    """The accepter account's side of a cross-account peering attachment: the
    same attachment (every attribute is read from and written to it, so state
    is shared) but tagged in the accepter account's own EC2 backend."""

    def __init__(self, shared: Any, backend: Any) -> None:
        object.__setattr__(self, "_shared", shared)
        object.__setattr__(self, "ec2_backend", backend)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_shared"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_shared"), name, value)

    # Tag reads and writes use self.ec2_backend: the accepter's.
    get_tags = TaggedEC2Resource.get_tags
    tag_list = TaggedEC2Resource.tag_list
    tag_set = TaggedEC2Resource.tag_set
    add_tag = TaggedEC2Resource.add_tag
    add_tags = TaggedEC2Resource.add_tags
    get_filter_value = TaggedEC2Resource.get_filter_value
    match_tags = TaggedEC2Resource.match_tags


def accepter_side_has_its_own_tags() -> None:
    """Gap: moto registers the requester's attachment object itself in the
    accepter account's backend, and its tags live in the requester's backend:
    account B lists the tags account A created the attachment with (and its
    `tag:` filters match them), while tags B puts on it with CreateTags are
    stored in B's backend but never shown.

    AWS (the accepter's side is its own resource with the same attachment
    id: Terraform's aws_ec2_transit_gateway_peering_attachment_accepter and
    AWS's Landing Zone Accelerator `applyTags` - "Flag applyTags set to false
    will not apply tags provided in requester of peering attachment to the
    accepter attachment"): tags are per account; each side sees and filters on
    only the tags its own account put on the attachment.

    Emulation: only for a peering whose PeerAccountId is another account; a
    same-account peering (also cross-Region) keeps moto's one shared tag set.
    State, owner ids and TGW info are one and the same for both sides.
    """
    from moto.ec2.models import ec2_backends

    original = AttachmentBackend.create_transit_gateway_peering_attachment

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        attachment = original(self, *args, **kwargs)
        accepter = attachment.accepter_tgw_info
        if accepter["OwnerId"] and accepter["OwnerId"] != self.account_id:
            peer = ec2_backends[accepter["OwnerId"]][accepter["Region"]]
            if peer.transit_gateway_attachments.get(attachment.id) is attachment:
                peer.transit_gateway_attachments[attachment.id] = _AccepterSide(attachment, peer)
        return attachment

    AttachmentBackend.create_transit_gateway_peering_attachment = create


# --- 7: route table associations (issue 15) -------------------------------------


@dataclass(frozen=True)
class AssociationProgression:
    """How associations made from now on progress (see association_state_progression).
    Defaults are instant, as the emulator always was."""

    associating_describes: int = 0
    disassociating_describes: int = 0


_association_settings = AssociationProgression()
_association_lock = threading.RLock()
_association_progression_applied = False


def set_association_progression(**changes: Any) -> AssociationProgression:
    """Replace the settings from the defaults with `changes` (field names)."""
    global _association_settings
    if not _association_progression_applied:
        raise PatchSkipped("patch association_state_progression is skipped")
    settings = replace(AssociationProgression(), **changes)
    with _association_lock:
        _association_settings = settings
    return settings


def reset_association_progression() -> None:
    global _association_settings
    with _association_lock:
        _association_settings = AssociationProgression()


def _is_requester_side(backend: Any, attachment: Any) -> bool:
    info = attachment.requester_tgw_info
    return (backend.account_id, backend.region_name) == (info["OwnerId"], info["Region"])


def _is_accepter_side(backend: Any, attachment: Any) -> bool:
    info = attachment.accepter_tgw_info
    return (backend.account_id, backend.region_name) == (
        info["OwnerId"] or backend.account_id,
        info["Region"] or backend.region_name,
    )


def _local_tgws(backend: Any, attachment: Any) -> list[str]:
    """The transit gateways of this backend (account and Region) the attachment is
    attached to: its own for a VPC / VPN attachment; for a peering the requester's,
    the accepter's or (same Region and account) both."""
    if attachment.resource_type != "peering":
        return [attachment.transit_gateway_id]
    tgws = []
    if _is_requester_side(backend, attachment):
        tgws.append(attachment.requester_tgw_info["TransitGatewayId"])
    if _is_accepter_side(backend, attachment):
        tgws.append(attachment.accepter_tgw_info["TransitGatewayId"])
    return tgws


def _association_entry(backend: Any, attachment_id: str, tgw_id: str) -> tuple[Any, Any] | None:
    """(table, association) of the attachment on this gateway's side, else None."""
    for table in list(backend.transit_gateways_route_tables.values()):
        if table.transit_gateway_id != tgw_id or table.state == "deleted":
            continue
        association = table.route_table_associations.get(attachment_id)
        if association is not None:
            return table, association
    return None


def _read_association(table: Any, association: Any) -> str | None:
    """The association's state for this read: a transitional state uses up one of
    its describes (association_state_progression); a disassociation whose describes
    are used up removes it (None)."""
    with _association_lock:
        left = getattr(association, "_harness_describes_left", 0)
        if left > 0:
            association._harness_describes_left = left - 1
            return association.state
        if association.state == "disassociating":
            table.route_table_associations.pop(association.transitGatewayAttachmentId, None)
            return None
        if association.state == "associating":
            association.state = "associated"
        return association.state


def _association_result(table: Any, attachment: Any, state: str) -> dict[str, Any]:
    resource_id = attachment.resource_id
    if attachment.resource_type == "peering":
        resource_id = _peer_of(attachment, table.transit_gateway_id)
    return {
        "transitGatewayRouteTableId": table.id,
        "transitGatewayAttachmentId": attachment.id,
        "resourceId": resource_id,
        "resourceType": attachment.resource_type,
        "state": state,
    }


def _associate(backend: Any, table: Any, attachment: Any) -> dict[str, Any]:
    """Record the association of the attachment's side on table's gateway with table."""
    from moto.ec2.models.transit_gateway_route_tables import RouteTableAssociation

    result = _association_result(table, attachment, "associated")
    association = RouteTableAssociation(
        resource_id=result["resourceId"],
        resource_type=attachment.resource_type,
        state="associated",
        transit_gateway_attachment_id=attachment.id,
    )
    with _association_lock:
        describes = _association_settings.associating_describes
        if _association_progression_applied and describes > 0:
            association.state = result["state"] = "associating"
            association._harness_describes_left = describes
        table.route_table_associations[attachment.id] = association
    return result


def _disassociate(table: Any, attachment: Any, association: Any) -> dict[str, Any]:
    with _association_lock:
        describes = _association_settings.disassociating_describes
        if _association_progression_applied and describes > 0:
            association.state = "disassociating"
            association._harness_describes_left = describes
        else:
            table.route_table_associations.pop(attachment.id, None)
            association.state = "disassociated"
        return _association_result(table, attachment, association.state)


def _error(code: str, message: str) -> EC2ClientError:
    return EC2ClientError(code, message)


def associations_are_per_side_and_exclusive() -> None:
    """Gap: AssociateTransitGatewayRouteTable accepts an attachment that is already
    associated (a second table, or the same one again) and a route table of another
    transit gateway, without any error; DisassociateTransitGatewayRouteTable of an
    attachment that is not associated with that table fails with HTTP 500; and for
    a peering, associating on one side writes moto's single association record of
    the attachment, shared by both Regions.

    AWS (EC2 API reference, AssociateTransitGatewayRouteTable: "Associates the
    specified attachment with the specified transit gateway route table. You can
    associate only one route table with an attachment."; CloudFormation
    AWS::EC2::TransitGatewayRouteTableAssociation: to change the table, the
    current one must be disassociated first, and the attachment must be
    `available`; for a peering, Terraform users associate the accepter's side with
    an aws_ec2_transit_gateway_route_table_association in the accepter's provider
    (Region / account) and the requester's side in theirs, and Landing Zone
    Accelerator associates it with a route table on each side): each side of an
    attachment - for a peering, the requester's gateway and the accepter's
    gateway - has at most one association, with a table of its own gateway.
    Error codes (the API reference lists none for these actions; the codes AWS
    answers, as quoted in users' issue reports and code):
    - already associated (with any table): `Resource.AlreadyAssociated`,
      "Transit Gateway Attachment <id> is already associated to a route table."
      (terraform-provider-aws #16452, cisagov/cool-assessment-terraform #57);
    - the table belongs to another gateway: AWS documents no code; this emulation
      answers `InvalidParameterValue` (EC2's common code for a value that cannot
      be used), HTTP 400;
    - disassociating an attachment not associated with that table (or an
      unknown table): `InvalidRouteTableID.NotFound` - the one code Terraform's
      aws_ec2_transit_gateway_route_table_association delete treats as "already
      disassociated" (an undocumented code, followed from that evidence);
    - an attachment that is not `available` (e.g. a peering in
      pendingAcceptance): CloudFormation says only that the request returns an
      error; this emulation answers EC2's common `IncorrectState` ("The resource
      is in an incorrect state for the request").
    GetTransitGatewayRouteTableAssociations lists the table's associations as
    this side recorded them.
    """

    def find(self: Any, table_id: str, attachment_id: str) -> tuple[Any, Any]:
        table = self.transit_gateways_route_tables.get(table_id)
        if table is None or table.state == "deleted":
            raise _error(
                "InvalidRouteTableID.NotFound",
                f"Transit Gateway Route Table {table_id} was deleted or does not exist.",
            )
        attachment = self.transit_gateway_attachments.get(attachment_id)
        if attachment is None or settled_state(attachment) == "deleted":
            raise _error(
                "InvalidTransitGatewayAttachmentID.NotFound",
                f"Transit Gateway Attachment {attachment_id} was deleted or does not exist.",
            )
        return table, attachment

    def associate(self: Any, transit_gateway_attachment_id: str, transit_gateway_route_table_id: str):
        table, attachment = find(self, transit_gateway_route_table_id, transit_gateway_attachment_id)
        if table.transit_gateway_id not in _local_tgws(self, attachment):
            raise _error(
                "InvalidParameterValue",
                f"Transit Gateway Route Table {table.id} belongs to transit gateway "
                f"{table.transit_gateway_id}, not to the transit gateway of attachment "
                f"{attachment.id}.",
            )
        if attachment.state != "available":
            raise _error(
                "IncorrectState",
                f"Transit Gateway Attachment {attachment.id} is in state {attachment.state}.",
            )
        with _association_lock:
            if _association_entry(self, attachment.id, table.transit_gateway_id) is not None:
                raise _error(
                    "Resource.AlreadyAssociated",
                    f"Transit Gateway Attachment {attachment.id} is already associated to a "
                    "route table.",
                )
            return _associate(self, table, attachment)

    def disassociate(self: Any, tgw_attach_id: str, tgw_rt_id: str):
        table, attachment = find(self, tgw_rt_id, tgw_attach_id)
        with _association_lock:
            association = table.route_table_associations.get(attachment.id)
            if association is None or association.state == "disassociating":
                raise _error(
                    "InvalidRouteTableID.NotFound",
                    f"Transit Gateway Attachment {attachment.id} is not associated with "
                    f"Transit Gateway Route Table {table.id}.",
                )
            return _disassociate(table, attachment, association)

    original_get = RouteTableBackend.get_transit_gateway_route_table_associations

    def get_associations(self: Any, transit_gateway_route_table_id: Any, filters: Any = None):
        found = original_get(self, transit_gateway_route_table_id, filters)
        table = self.transit_gateways_route_tables.get(transit_gateway_route_table_id)
        listed = []
        for association in found:
            state = _read_association(table, association) if table else association.state
            if state is not None:
                listed.append(association)
        return listed

    RouteTableBackend.associate_transit_gateway_route_table = associate
    RouteTableBackend.disassociate_transit_gateway_route_table = disassociate
    RouteTableBackend.get_transit_gateway_route_table_associations = get_associations


class _SideView:
    """An attachment as DescribeTransitGatewayAttachments shows it on one side:
    TransitGatewayId / owner are that side's gateway, ResourceId / owner the
    other side's (for a peering), Association that side's association."""

    def __init__(self, attachment: Any, tgw_id: str, association: dict[str, str] | None) -> None:
        self._attachment = attachment
        self.transit_gateway_id = tgw_id
        self.association = association
        if attachment.resource_type == "peering":
            requester, accepter = attachment.requester_tgw_info, attachment.accepter_tgw_info
            here, there = (
                (requester, accepter) if tgw_id == requester["TransitGatewayId"] else (accepter, requester)
            )
            self.resource_id = there["TransitGatewayId"]
            self.transit_gateway_owner_id = here["OwnerId"]
            self.resource_owner_id = there["OwnerId"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._attachment, name)


_ATTACHMENT_FILTERS = {
    "transit-gateway-attachment-id": lambda v: v.id,
    "transit-gateway-id": lambda v: v.transit_gateway_id,
    "transit-gateway-owner-id": lambda v: v.transit_gateway_owner_id,
    "resource-id": lambda v: v.resource_id,
    "resource-owner-id": lambda v: v.resource_owner_id,
    "resource-type": lambda v: v.resource_type,
    "state": lambda v: v.state,
    "association.state": lambda v: (v.association or {}).get("State"),
    "association.transit-gateway-route-table-id": lambda v: (v.association or {}).get(
        "TransitGatewayRouteTableId"
    ),
}


def attachments_show_their_own_sides_association() -> None:
    """Gap: DescribeTransitGatewayAttachments shows every available attachment as
    `associated` with its transit gateway's default route table, whatever was
    associated or disassociated since (and also on a gateway with
    DefaultRouteTableAssociation disable); a peering shows the requester's default
    table in both Regions and, in the accepter Region, the requester's gateway as
    TransitGatewayId, so a `transit-gateway-id` filter with the accepter's gateway
    misses it; the `transit-gateway-attachment-id`, `state`, `association.*` and
    owner filters are ignored.

    AWS (EC2 API reference, DescribeTransitGatewayAttachments and
    TransitGatewayAttachment: TransitGatewayId, TransitGatewayOwnerId, ResourceId,
    ResourceOwnerId, ResourceType, State, Association {TransitGatewayRouteTableId,
    State: associating | associated | disassociating | disassociated}; filters
    association.state, association.transit-gateway-route-table-id, resource-id,
    resource-owner-id, resource-type, state, transit-gateway-attachment-id,
    transit-gateway-id, transit-gateway-owner-id, tag:): Association is the
    attachment's association on this gateway, absent when it has none. Each side
    of a peering is attached to its own gateway: the accepter lists the same
    attachment id with its own gateway as TransitGatewayId and its own
    association (the aws-samples CDK TGW peering sample and Landing Zone
    Accelerator read and set the association on each side separately), and, as
    routes_keep_their_attachment models it, the other side's gateway as ResourceId.

    Emulation: computed per call from the route tables of the calling account and
    Region (associations_are_per_side_and_exclusive records them there); tag
    filters as before. Peerings the accepter cannot see yet (peering_state_progression)
    are left out, as in DescribeTransitGatewayPeeringAttachments.
    """
    from moto.ec2.utils import describe_tag_filter

    def describe(self: Any, transit_gateways_attachment_ids: Any = None, filters: Any = None):
        views = []
        for attachment in list(self.transit_gateway_attachments.values()):
            if transit_gateways_attachment_ids and attachment.id not in transit_gateways_attachment_ids:
                continue
            if hasattr(attachment, "_harness_lifecycle"):
                with _lock:
                    _settle(attachment)
                    if _hidden_from(self, attachment):
                        continue
            for tgw_id in _local_tgws(self, attachment):
                association = None
                entry = _association_entry(self, attachment.id, tgw_id)
                if entry is not None:
                    state = _read_association(*entry)
                    if state is not None:
                        association = {"TransitGatewayRouteTableId": entry[0].id, "State": state}
                views.append(_SideView(attachment, tgw_id, association))
        for name, values in (filters or {}).items():
            if name in _ATTACHMENT_FILTERS:
                views = [v for v in views if _ATTACHMENT_FILTERS[name](v) in values]
        if filters:
            views = describe_tag_filter(filters, views)
        return views

    AttachmentBackend.describe_transit_gateway_attachments = describe


def default_association_follows_the_gateway_option() -> None:
    """Gap: a new VPC attachment is always associated with the transit gateway's
    first route table, also on a gateway created with DefaultRouteTableAssociation
    `disable` or whose AssociationDefaultRouteTableId was changed; a VPN
    attachment is never associated.

    AWS (EC2 API reference, TransitGatewayRequestOptions / TransitGatewayOptions:
    DefaultRouteTableAssociation "Enable or disable automatic association with the
    default association route table. Enabled by default.",
    AssociationDefaultRouteTableId "The ID of the default association route
    table."; Transit Gateway guide, "Transit gateways": "When you attach a VPC or
    create a VPN connection on a transit gateway, the attachment is associated with
    the default route table of the transit gateway"): with `enable`, each new VPC
    or VPN attachment is associated with the AssociationDefaultRouteTableId table;
    with `disable`, with none (segmented networks associate each one themselves).

    Emulation: the options are read when the attachment is created; the
    association follows association_state_progression like an explicit one.
    """
    original_vpc = AttachmentBackend.create_transit_gateway_vpc_attachment
    original_vpn = AttachmentBackend.create_transit_gateway_vpn_attachment

    def associate_by_default(backend: Any, attachment: Any) -> Any:
        for table in list(backend.transit_gateways_route_tables.values()):
            table.route_table_associations.pop(attachment.id, None)  # moto's unconditional one
        _associate_with_default_table(backend, attachment, attachment.transit_gateway_id)
        return attachment

    def create_vpc(self: Any, *args: Any, **kwargs: Any) -> Any:
        return associate_by_default(self, original_vpc(self, *args, **kwargs))

    def create_vpn(self: Any, *args: Any, **kwargs: Any) -> Any:
        return associate_by_default(self, original_vpn(self, *args, **kwargs))

    AttachmentBackend.create_transit_gateway_vpc_attachment = create_vpc
    AttachmentBackend.create_transit_gateway_vpn_attachment = create_vpn


def _associate_with_default_table(backend: Any, attachment: Any, tgw_id: str) -> None:
    tgw = backend.transit_gateways.get(tgw_id)
    options = tgw.options if tgw else {}
    table = backend.transit_gateways_route_tables.get(options.get("AssociationDefaultRouteTableId"))
    if options.get("DefaultRouteTableAssociation") == "enable" and table is not None:
        with _association_lock:
            if _association_entry(backend, attachment.id, tgw_id) is None:
                _associate(backend, table, attachment)


def accepted_peering_joins_the_default_association_table() -> None:
    """Gap: an accepted peering attachment is associated with no route table on
    either side (moto's DescribeTransitGatewayAttachments shows the requester's
    default table on both sides, but GetTransitGatewayRouteTableAssociations lists
    it nowhere), whatever the gateways' DefaultRouteTableAssociation says.

    AWS (EC2 API reference, TransitGatewayOptions.DefaultRouteTableAssociation:
    "Indicates whether attachment requests are automatically associated with the
    default association route table"; the Transit Gateway guide applies default
    association to attachments, peering included, and says peering attachments do
    not propagate; the aws-samples CDK transit gateway peering sample reads the
    peering attachment's association with the default association table on both
    sides after acceptance): once accepted, each side whose gateway has
    DefaultRouteTableAssociation `enable` associates the peering attachment with
    its AssociationDefaultRouteTableId table; a side with `disable` leaves it
    unassociated. Propagation is never enabled for a peering.

    Emulation: both gateways' options are read at acceptance; each side's
    association is recorded in that side's account and Region and follows
    association_state_progression.
    """
    from moto.ec2.models import ec2_backends

    original_accept = AttachmentBackend.accept_transit_gateway_peering_attachment

    def accept(self: Any, transit_gateway_attachment_id: str) -> Any:
        accepted = original_accept(self, transit_gateway_attachment_id)
        for info in (accepted.requester_tgw_info, accepted.accepter_tgw_info):
            backend = ec2_backends[info["OwnerId"] or self.account_id][info["Region"] or self.region_name]
            attachment = backend.transit_gateway_attachments.get(accepted.id)
            if attachment is not None:
                _associate_with_default_table(backend, attachment, info["TransitGatewayId"])
        return accepted

    AttachmentBackend.accept_transit_gateway_peering_attachment = accept


def association_state_progression() -> None:
    """Gap: associations and disassociations take effect at once: the association
    reads `associated` right after AssociateTransitGatewayRouteTable and is gone
    right after DisassociateTransitGatewayRouteTable, so a tool's wait for
    `associating` to end is never exercised.

    AWS (EC2 API reference, TransitGatewayAssociation.State and
    TransitGatewayAttachmentAssociation.State: associating | associated |
    disassociating | disassociated): an association is `associating` before it is
    `associated`, and `disassociating` before it is gone; the Associate /
    Disassociate responses show the transitional state. AWS does not document
    how long either takes.

    Emulation: with the settings current when an association or disassociation is
    made (set_association_progression, POST /_harness/associations), it reads
    `associating` for the next associatingDescribes reads of it
    (DescribeTransitGatewayAttachments or GetTransitGatewayRouteTableAssociations
    calls on its side that list it), then `associated`; a disassociation reads
    `disassociating` for disassociatingDescribes reads and is then gone. While
    disassociating, the attachment is still associated for
    AssociateTransitGatewayRouteTable (Resource.AlreadyAssociated). Both
    default 0: AWS's outcome at once.
    """
    global _association_progression_applied
    _association_progression_applied = True


def propagation_is_enabled_once_per_table() -> None:
    """Gap: EnableTransitGatewayRouteTablePropagation for an attachment already
    propagating to the table succeeds and lists the propagation twice;
    DisableTransitGatewayRouteTablePropagation of a propagation that is not
    enabled fails with HTTP 500, and so does disabling the second of two tables
    an attachment propagates to (moto keeps one propagation record per
    attachment).

    AWS (EC2 API reference, EnableTransitGatewayRouteTablePropagation /
    DisableTransitGatewayRouteTablePropagation / TransitGatewayPropagation;
    Transit Gateway guide, "Transit gateway route tables": "An attachment can be
    propagated to multiple route tables"): a propagation is one per (table,
    attachment). The error codes are not in the API reference; the ones AWS
    answers, as handled by AWS's own Landing Zone Accelerator and other tools
    and quoted in their tests: enabling it again fails with
    `TransitGatewayRouteTablePropagation.Duplicate` ("Propagation <attachment>
    already exists in Transit Gateway Route Table <table>."), disabling one that
    is not enabled with `TransitGatewayRouteTablePropagation.NotFound`; HTTP 400
    and nothing changes. Disabling removes exactly that table's propagation (and
    so exactly its propagated routes, see propagation_yields_propagated_routes).
    """
    from moto.ec2.models.transit_gateway_route_tables import RouteTablePropagation

    def lookup(backend: Any, table_id: str, attachment_id: str) -> tuple[Any, Any]:
        table = backend.transit_gateways_route_tables.get(table_id)
        if table is None:
            raise _error(
                "InvalidRouteTableID.NotFound",
                f"Transit Gateway Route Table {table_id} was deleted or does not exist.",
            )
        attachment = backend.transit_gateway_attachments.get(attachment_id)
        if attachment is None:
            raise _error(
                "InvalidTransitGatewayAttachmentID.NotFound",
                f"Transit Gateway Attachment {attachment_id} was deleted or does not exist.",
            )
        return table, attachment

    def result(table: Any, attachment: Any, state: str) -> dict[str, Any]:
        return {
            "transitGatewayAttachmentId": attachment.id,
            "resourceId": attachment.resource_id,
            "resourceType": attachment.resource_type,
            "transitGatewayRouteTableId": table.id,
            "state": state,
        }

    def enable(self: Any, transit_gateway_attachment_id: str, transit_gateway_route_table_id: str):
        table, attachment = lookup(self, transit_gateway_route_table_id, transit_gateway_attachment_id)
        if any(p.transitGatewayAttachmentId == attachment.id for p in table.route_table_propagation):
            raise _error(
                "TransitGatewayRouteTablePropagation.Duplicate",
                f"Propagation {attachment.id} already exists in Transit Gateway Route Table "
                f"{table.id}.",
            )
        table.route_table_propagation.append(
            RouteTablePropagation(
                resource_id=attachment.resource_id,
                resource_type=attachment.resource_type,
                state="enabled",
                transit_gateway_attachment_id=attachment.id,
            )
        )
        attachment.propagation = {"state": "enabled", "transitGatewayRouteTableId": table.id}
        return result(table, attachment, "enabled")

    def disable(self: Any, transit_gateway_attachment_id: str, transit_gateway_route_table_id: str):
        table, attachment = lookup(self, transit_gateway_route_table_id, transit_gateway_attachment_id)
        kept = [p for p in table.route_table_propagation if p.transitGatewayAttachmentId != attachment.id]
        if len(kept) == len(table.route_table_propagation):
            raise _error(
                "TransitGatewayRouteTablePropagation.NotFound",
                f"Propagation {attachment.id} does not exist in Transit Gateway Route Table "
                f"{table.id}.",
            )
        table.route_table_propagation = kept
        return result(table, attachment, "disabled")

    RouteTableBackend.enable_transit_gateway_route_table_propagation = enable
    RouteTableBackend.disable_transit_gateway_route_table_propagation = disable


def deleted_attachments_leave_their_tables() -> None:
    """Gap: deleting a VPC or peering attachment leaves its route table
    associations in place (GetTransitGatewayRouteTableAssociations still lists
    them, on both sides of a peering) and, for a VPC attachment propagating to
    several tables, its propagations in all but one of them.

    AWS (EC2 API reference, DeleteTransitGatewayVpcAttachment /
    DeleteTransitGatewayPeeringAttachment; Transit Gateway guide: an attachment's
    association and propagations belong to the attachment, and a deleted
    attachment routes nothing): once an attachment is deleted, no table lists an
    association or propagation of it, on either side of a peering.

    Emulation: removed at once, in every Region and account that lists the
    attachment (moto shows it `deleted`).
    """
    from moto.ec2.models import ec2_backends

    original_vpc = AttachmentBackend.delete_transit_gateway_vpc_attachment
    original_peering = AttachmentBackend.delete_transit_gateway_peering_attachment

    def leave(backend: Any, attachment_id: str) -> None:
        for table in list(backend.transit_gateways_route_tables.values()):
            table.route_table_associations.pop(attachment_id, None)
            table.route_table_propagation = [
                p for p in table.route_table_propagation if p.transitGatewayAttachmentId != attachment_id
            ]

    def delete_vpc(self: Any, transit_gateway_attachment_id: str) -> Any:
        deleted = original_vpc(self, transit_gateway_attachment_id)
        leave(self, transit_gateway_attachment_id)
        return deleted

    def delete_peering(self: Any, transit_gateway_attachment_id: str) -> Any:
        deleted = original_peering(self, transit_gateway_attachment_id)
        for info in (deleted.requester_tgw_info, deleted.accepter_tgw_info):
            leave(ec2_backends[info["OwnerId"] or self.account_id][info["Region"] or self.region_name],
                  transit_gateway_attachment_id)
        return deleted

    AttachmentBackend.delete_transit_gateway_vpc_attachment = delete_vpc
    AttachmentBackend.delete_transit_gateway_peering_attachment = delete_peering


class _NoTable:
    """Stands in for the default route table moto's attachments expect."""

    id = None


def segmented_gateway_has_no_default_table() -> None:
    """Gap: a transit gateway created with both DefaultRouteTableAssociation and
    DefaultRouteTablePropagation `disable` still gets a default route table:
    DescribeTransitGatewayRouteTables lists it and the options name it as
    AssociationDefaultRouteTableId and PropagationDefaultRouteTableId, so a tool
    falling back to "the gateway's association default table" finds one here
    and none on AWS.

    AWS (EC2 API reference, TransitGatewayOptions: AssociationDefaultRouteTableId
    / PropagationDefaultRouteTableId "The ID of the default association /
    propagation route table"; terraform-provider-aws #6664, the maintainer:
    leave one of default association / propagation enabled "so the TGW default
    route table exists"; Landing Zone Accelerator #634: enabling default
    propagation later needs a PropagationDefaultRouteTableId): with both options
    `disable` the gateway has no default route table and neither id is set.

    Emulation: the table moto creates is dropped at creation; later
    ModifyTransitGateway calls may name a table of the gateway as before.
    """
    from moto.ec2.models.transit_gateway import TransitGatewayBackend

    original = TransitGatewayBackend.create_transit_gateway
    original_set = RouteTableBackend.set_route_table_association

    def create_transit_gateway(self: Any, *args: Any, **kwargs: Any) -> Any:
        tgw = original(self, *args, **kwargs)
        options = tgw.options
        if (
            options.get("DefaultRouteTableAssociation") == "disable"
            and options.get("DefaultRouteTablePropagation") == "disable"
        ):
            self.transit_gateways_route_tables.pop(tgw.default_route_table.id, None)
            options.pop("AssociationDefaultRouteTableId", None)
            options.pop("PropagationDefaultRouteTableId", None)
            tgw.default_route_table = _NoTable()
        return tgw

    def set_route_table_association(
        self: Any, transit_gateway_attachment_id: str, transit_gateway_route_table_id: str
    ) -> None:
        # moto associates each new VPC attachment with the default table, here none
        if transit_gateway_route_table_id in self.transit_gateways_route_tables:
            original_set(self, transit_gateway_attachment_id, transit_gateway_route_table_id)

    TransitGatewayBackend.create_transit_gateway = create_transit_gateway
    RouteTableBackend.set_route_table_association = set_route_table_association


# --- 8: dual stack (issue 15) ---------------------------------------------------


def ipv6_support_propagates_ipv6_blocks() -> None:
    """Gap: a VPC attachment propagates only its VPC's IPv4 CIDR blocks:
    SearchTransitGatewayRoutes never lists a propagated route for the VPC's IPv6
    blocks, also when the attachment has Ipv6Support `enable`.

    AWS (EC2 API reference, CreateTransitGatewayVpcAttachmentRequestOptions /
    ModifyTransitGatewayVpcAttachmentRequestOptions, Ipv6Support: "When enabled,
    the transit gateway network interface receives an IPv6 address. When you
    enable route propagation, IPv6 VPC CIDRs propagate to the transit gateway
    route tables. When disabled, the network interface does not receive an IPv6
    address, and IPv6 routes do not propagate."): a propagating VPC attachment
    with Ipv6Support `enable` adds each associated IPv6 block of its VPC
    (Amazon-provided or from a pool) as a `propagated` route; with `disable` (the
    default) none.

    Emulation: read at search time, like the IPv4 blocks of
    propagation_yields_propagated_routes (needed), so ModifyTransitGatewayVpcAttachment
    Options.Ipv6Support and a disassociated IPv6 block take effect at once.
    """
    global _vpc_ipv6_cidrs

    def ipv6_cidrs(attachment: Any, vpc: Any) -> list[str]:
        if (getattr(attachment, "options", None) or {}).get("Ipv6Support") != "enable":
            return []
        return [
            c["cidr_block"]
            for c in vpc.get_cidr_block_association_set(ipv6=True)
            if c["cidr_block_state"]["state"] == "associated"
        ]

    _vpc_ipv6_cidrs = ipv6_cidrs


def vpc_ipv6_route_refuses_duplicates() -> None:
    """Gap: CreateRoute with a DestinationIpv6CidrBlock the route table already
    has a route for succeeds and replaces that route (moto checks duplicates for
    IPv4 destinations only), so a tool re-creating an IPv6 route it should have
    left alone would silently overwrite someone else's.

    AWS (EC2 API reference, CreateRoute: "You must specify either a destination
    CIDR block or a prefix list ID"; ReplaceRoute replaces an existing route; EC2
    client error codes, RouteAlreadyExists "A route for the specified CIDR block
    already exists in this route table"): a second CreateRoute for the same IPv6
    destination fails with RouteAlreadyExists (HTTP 400) and leaves the route as
    it was, as for IPv4.
    """
    from moto.ec2.exceptions import RouteAlreadyExistsError
    from moto.ec2.models.route_tables import RouteBackend

    original = RouteBackend.create_route

    def create_route(self: Any, route_table_id: str, destination_cidr_block: Any, *args: Any, **kwargs: Any):
        ipv6 = kwargs.get("destination_ipv6_cidr_block") or (args[0] if args else None)
        if ipv6 and not kwargs.get("local"):
            table = self.get_route_table(route_table_id)
            wanted = _canonical(ipv6)
            for route in table._routes.values():
                if route.destination_ipv6_cidr_block and _canonical(route.destination_ipv6_cidr_block) == wanted:
                    raise RouteAlreadyExistsError(ipv6)
        return original(self, route_table_id, destination_cidr_block, *args, **kwargs)

    RouteBackend.create_route = create_route


def vpc_takes_ipv6_blocks_from_a_pool() -> None:
    """Gap: AssociateVpcCidrBlock with Ipv6CidrBlock and Ipv6Pool (a BYOIP pool)
    is taken for an IPv4 association without a block: the response carries
    CidrBlockAssociation with no CidrBlock, and the VPC is left broken (the next
    CreateSubnet in it fails with HTTP 500).

    AWS (EC2 API reference, AssociateVpcCidrBlock: Ipv6CidrBlock "An IPv6 CIDR
    block from the IPv6 address pool. You must also specify Ipv6Pool in the
    request.", Ipv6Pool "The ID of an IPv6 address pool from which to allocate
    the IPv6 CIDR block."): the block is associated with the VPC; the response
    shows Ipv6CidrBlockAssociation {AssociationId, Ipv6CidrBlock,
    Ipv6CidrBlockState associating, Ipv6Pool}; DescribeVpcs lists it in
    Ipv6CidrBlockAssociationSet (state associated, Ipv6Pool the pool), and each
    of the VPC's route tables gets its `local` route.

    Emulation: the pool is not checked (moto has no BYOIP pools): any pool id is
    accepted with any valid IPv6 block; no quota is enforced. IPAM pools
    (Ipv6IpamPoolId) are not emulated.
    """
    from moto.ec2.responses.vpcs import VPCs
    from moto.ec2.utils import random_vpc_cidr_association_id

    original = VPCs.associate_vpc_cidr_block

    def associate_vpc_cidr_block(self: Any) -> Any:
        block, pool = self._get_param("Ipv6CidrBlock"), self._get_param("Ipv6Pool")
        if not block or self._get_param("AmazonProvidedIpv6CidrBlock"):
            return original(self)
        try:
            network = ipaddress.IPv6Network(block)
        except ValueError:
            raise _error(
                "InvalidParameterValue", f"Value ({block}) for parameter Ipv6CidrBlock is invalid."
            ) from None
        if not pool:
            raise _error("MissingParameter", "The request must contain the parameter Ipv6Pool.")
        vpc_id = self._get_param("VpcId")
        vpc = self.ec2_backend.get_vpc(vpc_id)
        association = {
            "association_id": random_vpc_cidr_association_id(),
            "cidr_block": str(network),
            "cidr_block_state": {"state": "associated", "StatusMessage": None},
            "ipv6_pool": pool,
            "ipv6_cidr_block_network_border_group": self.region,
        }
        vpc._cidr_block_association_set[association["association_id"]] = association
        for table in list(self.ec2_backend.route_tables.values()):
            if table.vpc_id == vpc_id:
                self.ec2_backend.create_route(
                    table.id, None, destination_ipv6_cidr_block=str(network), local=True
                )
        return ActionResult(
            {
                "VpcId": vpc_id,
                "Ipv6CidrBlockAssociation": {
                    "AssociationId": association["association_id"],
                    "Ipv6CidrBlock": str(network),
                    "Ipv6CidrBlockState": {"State": "associating"},
                    "NetworkBorderGroup": self.region,
                    "Ipv6Pool": pool,
                },
            }
        )

    VPCs.associate_vpc_cidr_block = associate_vpc_cidr_block


def _rules_untouched(acl: Any, egress: bool) -> bool:
    """The ACL's rules of one direction are still the two a VPC's default ACL starts with."""
    rules = sorted(
        (e.rule_number, e.rule_action, e.cidr_block, e.protocol)
        for e in acl.network_acl_entries
        if e.egress == egress
    )
    return rules == [(100, "allow", "0.0.0.0/0", "-1"), (32767, "deny", "0.0.0.0/0", "-1")]


def _allow_ipv6_in_default_acl(backend: Any, vpc_id: str) -> None:
    for acl in list(backend.network_acls.values()):
        if acl.vpc_id != vpc_id or not acl.default:
            continue
        for egress in (False, True):
            # The `*` rule always; the allow only where that direction's rules are as created.
            rules = [(32768, "deny")] + ([(101, "allow")] if _rules_untouched(acl, egress) else [])
            for number, action in rules:
                backend.create_network_acl_entry(
                    network_acl_id=acl.id, rule_number=number, protocol="-1", rule_action=action,
                    egress=egress, cidr_block=None, icmp_code=None, icmp_type=None,
                    port_range_from=None, port_range_to=None, ipv6_cidr_block="::/0",
                )


def default_acl_allows_ipv6() -> None:
    """Gap: a VPC created with an Amazon-provided IPv6 block, or given one
    later, keeps a default network ACL that allows IPv4 alone (rules 100 and
    `*` for 0.0.0.0/0), so every IPv6 packet would meet its `*` deny.

    AWS (VPC User Guide, "Default network ACL for a VPC"): "The rules for IPv6
    are added only if you create the VPC with an associated IPv6 CIDR block or
    associate an IPv6 CIDR block with the VPC. However, if you've modified the
    inbound rules of a default network ACL, we do not add the rule that allows
    all inbound IPv6 traffic" (and the same for outbound): rule 101 allows
    ::/0, and a `*` rule denies it.
    https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html

    Emulation: the `*` rule for ::/0 is listed as rule 32768 (unverified: the
    console shows `*`); a block from a BYOIP pool
    (vpc_takes_ipv6_blocks_from_a_pool) gets no rules.
    """
    from moto.ec2.models.vpcs import VPCBackend

    original_create, original_associate = VPCBackend.create_vpc, VPCBackend.associate_vpc_cidr_block

    def create_vpc(self: Any, *args: Any, **kwargs: Any) -> Any:
        vpc = original_create(self, *args, **kwargs)
        if kwargs.get("amazon_provided_ipv6_cidr_block"):
            _allow_ipv6_in_default_acl(self, vpc.id)
        return vpc

    def associate_vpc_cidr_block(self: Any, vpc_id: str, cidr_block: str, amazon_provided_ipv6_cidr_block: bool) -> Any:
        association = original_associate(self, vpc_id, cidr_block, amazon_provided_ipv6_cidr_block)
        if amazon_provided_ipv6_cidr_block:
            _allow_ipv6_in_default_acl(self, vpc_id)
        return association

    VPCBackend.create_vpc = create_vpc
    VPCBackend.associate_vpc_cidr_block = associate_vpc_cidr_block


PATCHES = (
    routes_keep_their_attachment,
    create_route_refuses_duplicates,
    search_routes_honours_max_results,
    propagation_yields_propagated_routes,
    attachments_propagate_to_the_default_table,
    peer_region_sees_peering,
    accepter_side_has_its_own_tags,
    peering_describe_lists_only_peerings,
    vpc_describe_lists_only_vpcs,
    vpc_attachment_keeps_its_tags,
    peering_state_progression,
    association_state_progression,
    associations_are_per_side_and_exclusive,
    attachments_show_their_own_sides_association,
    default_association_follows_the_gateway_option,
    accepted_peering_joins_the_default_association_table,
    propagation_is_enabled_once_per_table,
    deleted_attachments_leave_their_tables,
    segmented_gateway_has_no_default_table,
    ipv6_support_propagates_ipv6_blocks,
    vpc_ipv6_route_refuses_duplicates,
    vpc_takes_ipv6_blocks_from_a_pool,
    default_acl_allows_ipv6,
    assume_role_needs_a_trusting_role,
    # Every EC2, DynamoDB, Step Functions and STS request checked against its API model
    requests_match_the_api_model,
    # CloudFormation, Step Functions, Lambda, EventBridge: local_aws_patches.py
    *local_aws_patches.PATCHES,
)


def apply_all(skip: frozenset[str] = frozenset()) -> list[str]:
    """Apply every patch whose name is not in `skip`; return the applied names.

    `skip` exists to check that the tests catch each gap."""
    unknown = skip - {p.__name__ for p in PATCHES}
    if unknown:
        raise ValueError(f"unknown patch names: {sorted(unknown)}")
    applied = []
    for patch in PATCHES:
        if patch.__name__ not in skip:
            patch()
            applied.append(patch.__name__)
    return applied
