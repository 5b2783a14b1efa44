"""template.yaml read as data, for tests on the IAM statements the stack deploys.

Short-form intrinsics become their long form ({"Fn::If": [...]}, {"Ref": ...}); ``statements``
resolves a function's optional statements (``!If [Condition, statement, NoValue]``) for the
conditions a test names, so a test reads what IAM would see for one set of parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
MANAGED_TAG = "aws:ResourceTag/token-refresher:managed"
INSTANCE_TAG = "aws:ResourceTag/token-refresher:instance"
THIS_INSTANCE = {
    "Fn::If": ["InstanceIsStackName", {"Ref": "AWS::StackName"}, {"Ref": "InstanceName"}]
}


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags kept as {"Fn::X": value}."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template() -> dict[str, Any]:
    return dict(yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader))  # noqa: S506 # nosec B506 - safe loader subclass


def resolve(value: Any, conditions: Mapping[str, bool]) -> Any:
    """``value`` with every ``Fn::If`` on a named condition resolved (NoValue entries dropped)."""
    if isinstance(value, list):
        items = [resolve(v, conditions) for v in value]
        return [v for v in items if v != {"Ref": "AWS::NoValue"}]
    if not isinstance(value, dict):
        return value
    if "Fn::If" in value and value["Fn::If"][0] in conditions:
        name, when_true, when_false = value["Fn::If"]
        return resolve(when_true if conditions[name] else when_false, conditions)
    out = {k: resolve(v, conditions) for k, v in value.items()}
    return {k: v for k, v in out.items() if v != {"Ref": "AWS::NoValue"}}


def statements(
    template: Mapping[str, Any], function: str, conditions: Mapping[str, bool] | None = None
) -> list[dict[str, Any]]:
    """The function's role statements for those conditions (an unnamed condition: false, but
    the instance's name is left as ``THIS_INSTANCE``)."""
    known = {name: False for name in template["Conditions"]} | dict(conditions or {})
    known.pop("InstanceIsStackName", None)
    policies = template["Resources"][function]["Properties"].get("Policies", [])
    return [s for p in resolve(policies, known) for s in p.get("Statement", [])]


def actions(statement: Mapping[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def allows_on_own_managed_secret(statement: Mapping[str, Any], action: str) -> bool:
    """Whether ``statement`` allows ``action`` on a token secret tagged managed=true and this
    instance (no other condition than those two resource tags)."""
    if statement.get("Effect") != "Allow" or action not in actions(statement):
        return False
    resource = statement.get("Resource")
    text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else str(resource)
    if not (text.endswith(":secret:*") or text == "*"):
        return False
    condition = statement.get("Condition")
    if condition is None:
        return True
    allowed = {"StringEquals": {MANAGED_TAG: "true", INSTANCE_TAG: THIS_INSTANCE}}
    return all(
        op in allowed and all(allowed[op].get(k) == v for k, v in clause.items())
        for op, clause in condition.items()
    )
