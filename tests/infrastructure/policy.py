"""IAM policy evaluation over the generated template: the one evaluator the infrastructure tests use.

Why a hand-written evaluator: moto does not evaluate what these tests need. Its IAM check knows only StringEquals and
lets a request without a condition's key through (moto.iam.access_control), it never matches a resource policy's
Principal against the caller, bucket-policy conditions get no request context (moto/s3/models.py), and its
CloudFormation skips AWS::SQS::QueuePolicy (docs/local.md). So what a policy allows is decided here, with IAM's
documented rules for the operators the template uses, and every test that relies on it says it is a policy
evaluation, not an AWS call.

The rules, from the IAM User Guide ("Policy evaluation logic", "IAM JSON policy elements: Condition operators"):
- within one account, a request is allowed when an identity policy or a resource policy whose Principal matches allows
  it, and no statement of either denies it (an explicit Deny always wins);
- a statement applies when its Action (or NotAction), Resource (or NotResource), Principal (resource policies) and
  every condition match; the keys of one operator are ANDed, the values of one key ORed;
- a condition on a key the request does not carry is false, except for the negated operators (StringNotEquals,
  StringNotLike, ArnNotEquals, ArnNotLike), which are then true; `Null` tests the key's absence ("true": absent);
  `ForAllValues:` is true for a missing or empty key, `ForAnyValue:` false;
- `*` and `?` in actions, resources and the Like operators match any run of characters and any one character.

Anything else raises (an operator or a policy shape the template starts using must be added here on purpose).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from voice_analytics.template import resolve

# What a deployment resolves the template's pseudo parameters with.
ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}

ContextValue = str | bool | Sequence[str]


class Decision(StrEnum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True)
class Request:
    """One API request as IAM sees it: who (a role ARN, or a service principal such as events.amazonaws.com), which
    action on which resource ARN, and the request context's condition keys. aws:PrincipalArn is filled in for a
    role, aws:SecureTransport is true unless the context says otherwise."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def keys(self) -> dict[str, ContextValue]:
        values: dict[str, ContextValue] = {"aws:SecureTransport": True}
        if self.principal.startswith("arn:"):
            values["aws:PrincipalArn"] = self.principal
            values["aws:PrincipalAccount"] = self.principal.split(":")[4]
        values.update(self.context)
        return values


def iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcard match (actions case-insensitively, as IAM compares them; ARNs and strings exactly)."""
    regex = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.fullmatch(regex, value) is not None


def _action_match(pattern: str, action: str) -> bool:
    return iam_match(pattern.lower(), action.lower())


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text(value: ContextValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
_POSITIVE = {
    "StringEquals": lambda expected, actual: actual == expected,
    "StringLike": iam_match,
    "ArnEquals": lambda expected, actual: actual == expected,
    "ArnLike": iam_match,
    "Bool": lambda expected, actual: actual.lower() == expected.lower(),
}
_OF_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _key_holds(operator: str, expected: Any, actual: ContextValue | None) -> bool:
    """One key of one operator: IAM's rules for a present and for a missing key."""
    patterns = [str(item) for item in as_list(expected)]
    if operator == "Null":
        [wanted] = patterns
        return (actual is None) == (wanted.lower() == "true")
    if operator.startswith(("ForAllValues:", "ForAnyValue:")):
        quantifier, _, base = operator.partition(":")
        values = [] if actual is None else [_text(item) for item in as_list(actual)]
        if quantifier == "ForAllValues":
            return all(_key_holds(base, expected, value) for value in values)
        return any(_key_holds(base, expected, value) for value in values)
    if operator in _NEGATED:
        if actual is None:
            return True
        return not _key_holds(_OF_NEGATED[operator], expected, actual)
    if operator not in _POSITIVE:
        raise AssertionError(f"condition operator {operator!r} is not in the evaluator: add it with IAM's rule")
    if actual is None:
        return False
    if not isinstance(actual, str | bool):
        raise AssertionError(f"{operator} on a multivalued key needs ForAllValues/ForAnyValue")
    return any(_POSITIVE[operator](pattern, _text(actual)) for pattern in patterns)


def conditions_hold(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, ContextValue]) -> bool:
    return all(
        _key_holds(operator, expected, context.get(key))
        for operator, keys in condition.items()
        for key, expected in keys.items()
    )


def _principal_matches(principal: Any, caller: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        raise AssertionError(f"unexpected Principal form: {principal!r}")
    for kind, values in principal.items():
        for value in as_list(values):
            if kind == "AWS" and (value == "*" or value == caller or value == f"arn:aws:iam::{ACCOUNT}:root"):
                return True
            if kind == "Service" and value == caller:
                return True
    return False


def statement_applies(statement: Mapping[str, Any], request: Request, *, resource_policy: bool) -> bool:
    unknown = set(statement) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal"}
    assert unknown <= {"Condition"}, f"statement element(s) {unknown} are not in the evaluator"
    if "Action" in statement:
        if not any(_action_match(pattern, request.action) for pattern in as_list(statement["Action"])):
            return False
    elif any(_action_match(pattern, request.action) for pattern in as_list(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(iam_match(pattern, request.resource) for pattern in as_list(statement["Resource"])):
            return False
    elif any(iam_match(pattern, request.resource) for pattern in as_list(statement["NotResource"])):
        return False
    if resource_policy:
        assert "Principal" in statement, f"a resource policy statement without Principal: {statement}"
        if not _principal_matches(statement["Principal"], request.principal):
            return False
    return conditions_hold(statement.get("Condition", {}), request.keys())


def evaluate(
    request: Request,
    *,
    identity: Sequence[Mapping[str, Any]] = (),
    resource: Sequence[Mapping[str, Any]] = (),
) -> Decision:
    """The decision for `request` under the caller's identity-policy statements and the resource's policy
    statements (same account)."""
    allowed = False
    for statements, is_resource in ((identity, False), (resource, True)):
        for statement in statements:
            if not statement_applies(statement, request, resource_policy=is_resource):
                continue
            if statement["Effect"] == "Deny":
                return Decision.EXPLICIT_DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


# ---------------------------------------------------------------------------------------------------- the template


def arn_of(logical_id: str, resource_type: str, attribute: str = "Arn") -> str:
    """A stable stand-in for what CloudFormation would return for a resource (names from the logical id)."""
    name = logical_id.lower()
    if resource_type == "AWS::IAM::Role":
        return f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
    if resource_type == "AWS::S3::Bucket":
        return f"arn:aws:s3:::{name}" if attribute == "Arn" else name
    if resource_type == "AWS::SQS::Queue":
        if attribute == "Arn":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}" if attribute == "Ref" else name
    if resource_type == "AWS::SNS::Topic":
        return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    if resource_type == "AWS::Events::Rule":
        return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    if resource_type == "AWS::Events::EventBus":
        return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}" if attribute == "Arn" else name
    if resource_type == "AWS::Lambda::Function" or resource_type == "AWS::Serverless::Function":
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    if resource_type == "AWS::DynamoDB::Table":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    if resource_type == "AWS::Logs::LogGroup":
        return f"/aws/lambda/{name}" if attribute == "Ref" else f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    return f"<{logical_id}.{attribute}>"


def resolved(template: Mapping[str, Any], node: Any, parameters: Mapping[str, str] | None = None) -> Any:
    """`node` (part of the template, conditions already folded) with every intrinsic resolved as a deployment with
    these parameter values (defaults otherwise) would: what CloudFormation hands to IAM."""
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()} | dict(
        parameters or {}
    )
    resources = template["Resources"]

    def ref(name: str) -> Any:
        if name in PSEUDO:
            return PSEUDO[name]
        if name in values:
            return values[name]
        return arn_of(name, resources[name]["Type"], "Ref")

    def get_att(name: str, attribute: str) -> Any:
        return arn_of(name, resources[name]["Type"], attribute)

    return resolve(node, ref=ref, get_att=get_att, condition=lambda name: False)


def role_arn(logical_id: str) -> str:
    return arn_of(logical_id, "AWS::IAM::Role")


def resource_arn(template: Mapping[str, Any], logical_id: str, attribute: str = "Arn") -> str:
    return arn_of(logical_id, template["Resources"][logical_id]["Type"], attribute)
