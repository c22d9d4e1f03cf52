"""template.yaml as data: the one module that reads the template, evaluates its conditions and intrinsic functions,
and translates it from SAM to CloudFormation. The local stack (local/aws/stack.py), the query views
(local/demo/queries.py), the cost model (voice_analytics/cost.py) and the template tests all use it.

PyYAML only at import: the AWS-facing commands (`cost`, `query`) run without the local stack's packages; `translate`
imports the SAM translator (a dev dependency) when it is called.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from functions.compact.tables import GlueTable

# The repository's template (the commands run from a checkout of the repository).
TEMPLATE_PATH = Path(__file__).resolve().parents[1] / "template.yaml"


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


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template at `path` as plain data, short tags in their long form; ValueError if it is not a template."""
    with path.open(encoding="utf-8") as stream:
        loaded = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return loaded


def glue_tables(template: Mapping[str, Any]) -> dict[str, GlueTable]:
    """The template's `AWS::Glue::Table` resources (tables and views) by Glue name, in template order, read the way
    the compact function reads them from Glue (functions/compact/tables.py)."""
    from functions.compact.tables import glue_table

    found: dict[str, GlueTable] = {}
    for resource in (template.get("Resources") or {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Glue::Table":
            table = glue_table((resource.get("Properties") or {})["TableInput"])
            found[table.name] = table
    return found


# ---------------------------------------------------------------------------------------------------- conditions


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every parameter's value: its default, unless `overrides` gives one."""
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    values.update(overrides or {})
    return values


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


def evaluate_conditions(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, bool]:
    """Every condition of the template for these parameter values."""
    conditions = template.get("Conditions", {})
    return {name: condition_value(conditions, name, values) for name in conditions}


_NO_VALUE = object()


def fold_conditions(node: Any, conditions: Mapping[str, bool]) -> Any:
    """`node` with every Fn::If replaced by its chosen branch and AWS::NoValue removed (from lists and from
    properties), as CloudFormation does."""

    def fold(item: Any) -> Any:
        if isinstance(item, list):
            return [kept for kept in map(fold, item) if kept is not _NO_VALUE]
        if not isinstance(item, dict):
            return item
        if item.keys() == {"Ref"} and item["Ref"] == "AWS::NoValue":
            return _NO_VALUE
        if item.keys() == {"Fn::If"}:
            name, when_true, when_false = item["Fn::If"]
            if name not in conditions:
                raise ValueError(f"Fn::If names condition {name!r}, which the template does not define")
            return fold(when_true if conditions[name] else when_false)
        folded = {key: fold(value) for key, value in item.items()}
        return {key: value for key, value in folded.items() if value is not _NO_VALUE}

    folded = fold(node)
    return None if folded is _NO_VALUE else folded


def deployed_resources(template: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The resources CloudFormation creates for these parameters (defaults otherwise): those whose condition holds,
    with their conditions folded."""
    conditions = evaluate_conditions(template, parameter_values(template, overrides))
    return {
        name: fold_conditions(body, conditions)
        for name, body in template.get("Resources", {}).items()
        if "Condition" not in body or conditions[body["Condition"]]
    }


# ---------------------------------------------------------------------------------------------------- intrinsics


def resolve(
    value: Any,
    *,
    ref: Callable[[str], Any],
    get_att: Callable[[str, str], Any],
    condition: Callable[[str], bool],
) -> Any:
    """Evaluate Ref / GetAtt / Sub / Join / Select / If in `value`, with `ref(name)`, `get_att(logical, attribute)`
    and `condition(name)` answering for a stack (deployed or about to be)."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return get_att(name, attribute)
            if key == "Fn::Sub":
                return sub(arg)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(item) for item in walk(items))
            if key == "Fn::Select":
                index, items = arg
                return walk(items)[int(walk(index))]
            if key == "Fn::If":
                name, when_true, when_false = arg
                return walk(when_true if condition(name) else when_false)
        return {key: walk(item) for key, item in node.items()}

    def sub(arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], walk(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return str(get_att(logical, attribute))
            return str(ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    return walk(value)


# ---------------------------------------------------------------------------------------------------- SAM


class _OfflineManagedPolicyLoader:
    """The SAM translator may ask IAM for managed-policy ARNs by name; offline, an empty answer makes it use its
    bundled map of AWS managed policies (samtranslator.internal.managed_policies), which is what we want."""

    def load(self) -> dict[str, str]:
        return {}


def with_code_uri(template: Mapping[str, Any], code_uri: str) -> dict[str, Any]:
    """What `sam package` does to the template: every function's code (`CodeUri: .`, a folder) becomes `code_uri`
    (an s3:// URI), which the SAM translator and CloudFormation want."""
    packaged: dict[str, Any] = json.loads(json.dumps(template))
    function_globals = packaged.get("Globals", {}).get("Function", {})
    if "CodeUri" in function_globals:
        function_globals["CodeUri"] = code_uri
    for resource in packaged.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = code_uri
    return packaged


def translate(template: Mapping[str, Any], parameters: Mapping[str, str], region: str = "us-east-1") -> dict[str, Any]:
    """SAM -> CloudFormation with the SAM translator (what `sam deploy` runs), offline. `CodeUri` must already be
    an s3:// URI (what `sam package` makes)."""
    from samtranslator.translator.transform import transform

    # The translator reads the region from the environment for ARNs and partitions.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    translated: dict[str, Any] = transform(
        json.loads(json.dumps(template)),
        dict(parameters),
        _OfflineManagedPolicyLoader(),  # duck-typed: the translator only calls load()
    )
    return translated
