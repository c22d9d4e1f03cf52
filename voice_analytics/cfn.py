"""CloudFormation templates read and their conditions evaluated offline (the local stack, the query views and the
cost model all need them). PyYAML only: the AWS-facing commands (`cost`) run without the local stack's packages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML's stubs are not installed
    """YAML loader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub...) into their long form."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template at `path` as plain data, short tags in their long form; ValueError if it is not a template."""
    with path.open(encoding="utf-8") as stream:
        loaded = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return loaded


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
