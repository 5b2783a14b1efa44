"""IAM defence in depth for app credentials (issue 14), read from template.yaml itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

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


def rotation_statement(sid: str, *, tag_required: bool) -> dict[str, Any]:
    """The rotation role's statement ``sid`` as IAM sees it for one RequireAppSecretTag value."""
    template = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 # nosec B506
    condition = template["Conditions"]["AppSecretTagRequired"]
    assert condition == {"Fn::Equals": [{"Ref": "RequireAppSecretTag"}, "true"]}
    assert template["Parameters"]["RequireAppSecretTag"]["Default"] == "false"
    policies = template["Resources"]["RotationFunction"]["Properties"]["Policies"]
    statements = [s for p in policies for s in p["Statement"] if isinstance(s, dict)]
    statement = dict(next(s for s in statements if s.get("Sid") == sid))
    cond = statement.get("Condition")
    if isinstance(cond, dict) and "Fn::If" in cond:
        name, when_true, when_false = cond["Fn::If"]
        assert name == "AppSecretTagRequired"
        chosen = when_true if tag_required else when_false
        if chosen == {"Ref": "AWS::NoValue"}:
            statement.pop("Condition")
        else:
            statement["Condition"] = chosen
    return statement


def test_by_default_app_credentials_are_scoped_by_name_prefix_alone():
    # Given the default parameters (existing deployments, untagged app secrets)
    statement = rotation_statement("AppCredentials", tag_required=False)
    # Then the function may read app secrets under the prefix, read only, with no tag condition
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert statement["Resource"]["Fn::Sub"].endswith(":secret:${AppSecretPrefix}*")
    assert "Condition" not in statement


def test_require_app_secret_tag_adds_the_app_for_tag_condition():
    # Given RequireAppSecretTag=true
    statement = rotation_statement("AppCredentials", tag_required=True)
    # Then an app secret under the prefix is readable only when it carries token-refresher:app-for
    assert statement["Resource"]["Fn::Sub"].endswith(":secret:${AppSecretPrefix}*")
    assert statement["Condition"] == {"Null": {APP_FOR: "false"}}
