"""CloudFormation template conditions, evaluated offline (the local stack and the cost model both need them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def condition_value(conditions: Mapping[str, Any], name: str, values: Mapping[str, str]) -> bool:
    """Condition `name`, evaluated from parameter values only, as CloudFormation does at deploy time: `Ref` to a
    parameter (or pseudo parameter) in `values`, `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`, `Condition`."""

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return values.get(arg, arg)
            if key == "Fn::Equals":
                return str(evaluate(arg[0])) == str(evaluate(arg[1]))
            if key == "Fn::Not":
                return not evaluate(arg[0])
            if key == "Fn::And":
                return all(evaluate(item) for item in arg)
            if key == "Fn::Or":
                return any(evaluate(item) for item in arg)
            if key == "Condition":
                return evaluate(conditions[arg])
        return node

    return bool(evaluate(conditions[name]))
