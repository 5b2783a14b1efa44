"""IAM defence in depth for app credentials, read from template.yaml itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.template import statements

pytestmark = pytest.mark.unit

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
APP_FOR = "aws:ResourceTag/token-refresher:app-for"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Sub, !If...) kept as {"Fn::X": value}."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def _template() -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 # nosec B506
    assert template["Conditions"]["AppSecretTagRequired"] == {
        "Fn::Equals": [{"Ref": "RequireAppSecretTag"}, "true"]
    }
    assert template["Parameters"]["RequireAppSecretTag"]["Default"] == "false"
    return template


def app_credential_statements(
    *, tag_required: bool, bound: bool = False
) -> dict[str, dict[str, Any]]:
    """Every function's statements on ``AppSecretPrefix``, as IAM sees them for one value of
    RequireAppSecretTag and of AppSecretInstanceBinding (the ``Fn::If``s resolved), by name."""
    template = _template()
    conditions = {"AppSecretTagRequired": tag_required, "AppSecretBound": bound, "ConnectOn": True}
    found = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for statement in statements(template, name, conditions):
            target = statement.get("Resource", {})
            action = statement.get("Action")
            if "${AppSecretPrefix}" in str(target) and action == "secretsmanager:GetSecretValue":
                found[name] = statement
    return found


def test_without_instance_binding_app_credentials_are_scoped_by_name_prefix_alone():
    # Given AppSecretInstanceBinding=off and RequireAppSecretTag=false (untagged app secrets)
    statements = app_credential_statements(tag_required=False)
    # Then the rotation (and connect) functions may read app secrets under the prefix, read only,
    # with no tag condition; no other function touches them
    assert "RotationFunction" in statements
    assert set(statements) <= {"RotationFunction", "ConnectFunction"}
    for statement in statements.values():
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "secretsmanager:GetSecretValue"
        assert statement["Resource"]["Fn::Sub"].endswith(":secret:${AppSecretPrefix}*")
        assert "Condition" not in statement


def test_require_app_secret_tag_adds_the_app_for_tag_condition():
    # Given RequireAppSecretTag=true, then every function reading app secrets needs the tag
    statements = app_credential_statements(tag_required=True)
    assert "RotationFunction" in statements
    for statement in statements.values():
        assert statement["Resource"]["Fn::Sub"].endswith(":secret:${AppSecretPrefix}*")
        assert statement["Condition"] == {"Null": {APP_FOR: "false"}}
