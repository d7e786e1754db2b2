"""A pure IAM identity-policy evaluator: whether a set of identity-based policy documents allows
an action on the resources a request touches, in a request context. No moto here: the harness
(iam_enforcement.py) gathers the role's policies and iam_requests.py builds the request.

Modelled, as the IAM User Guide's policy evaluation logic and JSON policy reference describe:
- Effect Allow / Deny: an explicit Deny that applies wins; without an Allow that applies the
  request is implicitly denied.
- Action / NotAction with `*` and `?` wildcards, case-insensitive.
- Resource / NotResource with wildcards; an ARN pattern is matched segment by segment (the six
  colon-delimited parts), as ArnLike is.
- Condition: every operator, every key of an operator and (for positive operators) any one of a
  key's values must hold; the operators StringEquals, StringNotEquals, StringEqualsIgnoreCase,
  StringNotEqualsIgnoreCase, StringLike, StringNotLike, ArnEquals, ArnLike, ArnNotEquals,
  ArnNotLike, Bool and Null, each with `IfExists` and the `ForAllValues:` / `ForAnyValue:` set
  qualifiers. A key absent from the context: a positive operator is false, a negated one
  (`...Not...`) true, `IfExists` true, `ForAllValues` true, `ForAnyValue` false.
- Several resources: each must be allowed and none denied (EC2 authorizes every resource an
  action names).

Anything else (another operator, policy variables `${...}`, an identity policy with Principal or
NotPrincipal, a malformed statement, a plain operator on a multivalued key) is not modelled and
refuses the request: this evaluator never allows by default.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any, Mapping, Sequence

ContextValue = str | Sequence[str]
Context = Mapping[str, ContextValue]

_STATEMENT_ELEMENTS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_POLICY_ELEMENTS = {"Version", "Id", "Statement"}
_VERSIONS = {"2012-10-17", "2008-10-17"}
_WITH_POLICY_VARIABLES = "2012-10-17"  # the version in which `${...}` is a policy variable

# Each operator's positive form; a negated operator holds when its positive form matches none of
# the policy's values.
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
_POSITIVE = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool"}
_QUALIFIERS = {"ForAllValues", "ForAnyValue"}


class Decision(str, Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    # AWS's own words for the outcome, the tail of its access-denied message ("because no
    # identity-based policy allows the ec2:CreateRoute action"); empty when allowed.
    reason: str
    # The first resource refused (None when allowed).
    resource: str | None = None
    # Why, for a person reading the harness log: the statement that denied, or what is not modelled.
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


class NotModelled(Exception):
    """A policy element or operator this evaluator does not evaluate: the request is refused."""


@dataclass(frozen=True)
class _Condition:
    qualifier: str | None  # ForAllValues, ForAnyValue or None
    operator: str  # the base operator, e.g. StringNotLike
    if_exists: bool
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class _Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[_Condition, ...]


# --- the decision -----------------------------------------------------------------------------


def evaluate(
    policies: Sequence[str | Mapping[str, Any]],
    action: str,
    resources: Sequence[str],
    context: Context,
    resource_contexts: Mapping[str, Context] | None = None,
) -> Verdict:
    """Whether `policies` (identity-based policy documents, JSON text or parsed) allow `action`
    ("ec2:CreateTransitGatewayRoute") on every one of `resources` (ARNs, or "*" for an action
    that names none). `context` holds the request's condition keys (a value is a string, or a
    list for a multivalued key); `resource_contexts` adds keys that belong to one resource (its
    aws:ResourceTag/...)."""
    if not resources:
        return _not_modelled(action, None, "the request names no resource")
    try:
        statements = [s for policy in policies for s in _statements(policy)]
        applying = [
            (resource, statement)
            for resource in resources
            for statement in statements
            if _applies(statement, action, resource, _merged(context, resource_contexts, resource))
        ]
    except NotModelled as e:
        return _not_modelled(action, resources[0], str(e))
    for resource, statement in applying:
        if statement.effect == "Deny":
            return Verdict(
                Decision.EXPLICIT_DENY,
                "with an explicit deny in an identity-based policy",
                resource,
                f"statement {statement.sid or '(no Sid)'} denies it",
            )
    allowed = {resource for resource, statement in applying if statement.effect == "Allow"}
    for resource in resources:
        if resource not in allowed:
            return Verdict(Decision.IMPLICIT_DENY, _no_allow(action), resource, "no Allow statement applies")
    return Verdict(Decision.ALLOW, "")


def _no_allow(action: str) -> str:
    return f"because no identity-based policy allows the {action} action"


def _not_modelled(action: str, resource: str | None, why: str) -> Verdict:
    return Verdict(Decision.IMPLICIT_DENY, _no_allow(action), resource, f"not modelled: {why}")


def _merged(context: Context, resource_contexts: Mapping[str, Context] | None, resource: str) -> Context:
    extra = (resource_contexts or {}).get(resource)
    return {**context, **extra} if extra else context


def _applies(statement: _Statement, action: str, resource: str, context: Context) -> bool:
    action_named = any(_action_matches(pattern, action) for pattern in statement.actions)
    if action_named == statement.not_action:
        return False
    resource_named = any(_arn_matches(pattern, resource) for pattern in statement.resources)
    if resource_named == statement.not_resource:
        return False
    return all(_condition_holds(condition, context) for condition in statement.conditions)


# --- parsing ----------------------------------------------------------------------------------


def _statements(policy: str | Mapping[str, Any]) -> list[_Statement]:
    document = _document(policy)
    unknown = set(document) - _POLICY_ELEMENTS
    if unknown:
        raise NotModelled(f"policy element(s) {sorted(unknown)}")
    version = document.get("Version", "2008-10-17")
    if version not in _VERSIONS:
        raise NotModelled(f"policy Version {version!r}")
    raw = document.get("Statement")
    raw_statements = raw if isinstance(raw, list) else [raw]
    return [_statement(s, version) for s in raw_statements]


def _document(policy: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as e:
            raise NotModelled(f"a policy that is not JSON ({e})") from e
    if not isinstance(policy, Mapping):
        raise NotModelled("a policy that is not a JSON object")
    return policy


def _statement(raw: Any, version: str) -> _Statement:
    if not isinstance(raw, Mapping):
        raise NotModelled("a statement that is not a JSON object")
    unknown = set(raw) - _STATEMENT_ELEMENTS
    if unknown:  # Principal / NotPrincipal have no place in an identity-based policy
        raise NotModelled(f"statement element(s) {sorted(unknown)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise NotModelled(f"Effect {effect!r}")
    actions, not_action = _exactly_one(raw, "Action", "NotAction")
    resources, not_resource = _exactly_one(raw, "Resource", "NotResource")
    for action in actions:
        if action != "*" and ":" not in action:
            raise NotModelled(f"action {action!r} without a service prefix")
    if version == _WITH_POLICY_VARIABLES and any("${" in r for r in resources):
        raise NotModelled(f"policy variables in {resources}")
    for resource in resources:
        _check_arn_pattern(resource)
    return _Statement(
        sid=str(raw.get("Sid", "")),
        effect=effect,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditions=_conditions(raw.get("Condition", {}), version),
    )


def _check_arn_pattern(pattern: str) -> None:
    """IAM refuses a policy whose Resource (or Arn condition value) is neither `*` nor an ARN of
    six colon-separated parts."""
    if pattern != "*" and (not pattern.startswith("arn:") or pattern.count(":") < 5):
        raise NotModelled(f"{pattern!r} is neither * nor an ARN")


def _exactly_one(raw: Mapping[str, Any], positive: str, negative: str) -> tuple[tuple[str, ...], bool]:
    if (positive in raw) == (negative in raw):
        raise NotModelled(f"a statement needs exactly one of {positive} and {negative}")
    name = positive if positive in raw else negative
    values = raw[name]
    values = [values] if isinstance(values, str) else values
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise NotModelled(f"{name} must be a string or a non-empty list of strings")
    return tuple(values), name == negative


def _conditions(raw: Any, version: str) -> tuple[_Condition, ...]:
    if not isinstance(raw, Mapping):
        raise NotModelled("a Condition that is not a JSON object")
    parsed = []
    for operator_text, keys in raw.items():
        qualifier, operator, if_exists = _operator(operator_text)
        if not isinstance(keys, Mapping) or not keys:
            raise NotModelled(f"{operator_text} needs an object of condition keys")
        for key, values in keys.items():
            texts = _condition_values(values)
            if version == _WITH_POLICY_VARIABLES and any("${" in t for t in texts):
                raise NotModelled(f"policy variables in {key}")
            if operator.startswith("Arn"):
                for text in texts:
                    _check_arn_pattern(text)
            if operator in ("Null", "Bool") and (qualifier or any(t not in ("true", "false") for t in texts)):
                raise NotModelled(f"{operator_text} {key}: {texts}")
            parsed.append(_Condition(qualifier, operator, if_exists, key, texts))
    return tuple(parsed)


def _operator(text: str) -> tuple[str | None, str, bool]:
    """("ForAllValues", "StringLike", False) from "ForAllValues:StringLike"."""
    qualifier, _, operator = text.rpartition(":")
    if qualifier and qualifier not in _QUALIFIERS:
        raise NotModelled(f"condition operator {text!r}")
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    base = operator[: -len("IfExists")] if if_exists else operator
    if base not in _POSITIVE and base not in _NEGATED and base != "Null":
        raise NotModelled(f"condition operator {text!r}")
    if base == "Null" and if_exists:
        raise NotModelled(f"condition operator {text!r}")
    return qualifier or None, base, if_exists


def _condition_values(values: Any) -> tuple[str, ...]:
    values = values if isinstance(values, list) else [values]
    if not values:
        raise NotModelled("a condition key with no values")
    texts = []
    for value in values:
        if isinstance(value, bool):
            texts.append("true" if value else "false")
        elif isinstance(value, (str, int, float)):
            texts.append(str(value))
        else:
            raise NotModelled(f"condition value {value!r}")
    return tuple(texts)


# --- matching ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` any one; nothing else is special."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob_matches(pattern: str, text: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).fullmatch(text) is not None


def _action_matches(pattern: str, action: str) -> bool:
    return _glob_matches(pattern, action, ignore_case=True)


def _arn_matches(pattern: str, arn: str) -> bool:
    """Resource and ArnLike matching: "*" matches anything; an ARN pattern is matched part by
    part (arn, partition, service, Region, account, resource), so a wildcard in one part never
    swallows a colon of another."""
    if pattern == "*":
        return True
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    if len(arn_parts) != 6:
        return False
    return all(_glob_matches(p, a) for p, a in zip(pattern_parts, arn_parts))


def _lookup(context: Context, key: str) -> ContextValue | None:
    """Condition key names are case-insensitive."""
    if key in context:
        return context[key]
    lowered = key.lower()
    return next((value for name, value in context.items() if name.lower() == lowered), None)


def _condition_holds(condition: _Condition, context: Context) -> bool:
    value = _lookup(context, condition.key)
    if condition.operator == "Null":
        absent = value is None or (not isinstance(value, str) and len(value) == 0)
        return (condition.values[0] == "true") == absent
    if value is None:
        if condition.if_exists or condition.qualifier == "ForAllValues":
            return True
        if condition.qualifier == "ForAnyValue":
            return False
        return condition.operator in _NEGATED  # a negated operator holds on an absent key
    if condition.qualifier is None:
        if not isinstance(value, str):
            raise NotModelled(f"{condition.operator} on the multivalued key {condition.key}")
        return _value_holds(condition, value)
    request_values = [value] if isinstance(value, str) else list(value)
    if condition.qualifier == "ForAllValues":
        return all(_value_holds(condition, v) for v in request_values)
    return any(_value_holds(condition, v) for v in request_values)


def _value_holds(condition: _Condition, value: str) -> bool:
    """One request value against the condition's values: any of them for a positive operator,
    none of them for a negated one."""
    positive = _NEGATED.get(condition.operator, condition.operator)
    matched = any(_matches(positive, value, wanted) for wanted in condition.values)
    return not matched if condition.operator in _NEGATED else matched


def _matches(operator: str, value: str, wanted: str) -> bool:
    if operator == "StringEquals":
        return value == wanted
    if operator == "StringEqualsIgnoreCase":
        return value.casefold() == wanted.casefold()
    if operator == "StringLike":
        return _glob_matches(wanted, value)
    if operator in ("ArnEquals", "ArnLike"):
        return _arn_matches(wanted, value)
    if operator == "Bool":
        return value.lower() == wanted
    raise NotModelled(f"condition operator {operator}")
