"""template.yaml read as data: every permission on token secrets is scoped to this instance."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.template import load_template

INSTANCE_TAG = "aws:ResourceTag/token-refresher:instance"
REQUEST_INSTANCE_TAG = "aws:RequestTag/token-refresher:instance"
# What a statement may do on token secrets without the instance condition: metadata, no values.
UNSCOPED_OK = {"secretsmanager:DescribeSecret", "secretsmanager:ListSecrets"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


THIS_INSTANCE = {
    "Fn::If": ["InstanceIsStackName", {"Ref": "AWS::StackName"}, {"Ref": "InstanceName"}]
}


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, resource in template["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            for raw in policy.get("Statement", []):
                # optional statements (!If [cond, statement, NoValue]): the one that may apply
                statement = raw["Fn::If"][1] if "Fn::If" in raw else raw
                out.append((f"{name}/{statement.get('Sid')}", statement))
    return out


def _on_token_secrets(statement: dict[str, Any]) -> bool:
    resource = statement.get("Resource")
    text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else str(resource)
    return ":secret:*" in text or text == "*"


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def test_the_instance_parameter_defaults_to_the_stack_name_and_reaches_the_functions(template):
    assert template["Parameters"]["InstanceName"]["Default"] == ""
    assert template["Conditions"]["InstanceIsStackName"] == {
        "Fn::Equals": [{"Ref": "InstanceName"}, ""]
    }
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["INSTANCE_NAME"] == THIS_INSTANCE
    assert template["Outputs"]["InstanceName"]["Value"] == THIS_INSTANCE


def test_every_grant_on_token_secrets_carries_this_instances_tag_condition(template):
    # Given every IAM statement of every function that touches token secrets
    checked = []
    for sid, statement in _statements(template):
        actions = _actions(statement)
        secret_actions = {a for a in actions if a.startswith("secretsmanager:")}
        if not _on_token_secrets(statement) or secret_actions <= UNSCOPED_OK:
            continue
        condition = statement.get("Condition", {})
        if sid.endswith("/AdoptOrMarkUnownedSecrets"):
            continue  # its own test below
        # Then reading, writing, rotating and tagging need the secret to be this instance's
        assert condition.get("StringEquals", {}).get(INSTANCE_TAG) == THIS_INSTANCE, sid
        # on a managed connection, or on a new one awaiting consent (created by `connect`)
        marks = {"managed", "awaiting-consent"}
        assert any(
            condition["StringEquals"].get(f"aws:ResourceTag/token-refresher:{m}") == "true"
            for m in marks
        ), sid
        checked.append(sid)
    assert len(checked) >= 5  # rotation (2), sweep (2), worker (1)


def test_tag_writes_never_hand_a_secret_to_another_instance(template):
    tagging = [
        (sid, s)
        for sid, s in _statements(template)
        if "secretsmanager:TagResource" in _actions(s) and s["Effect"] == "Allow"
    ]
    assert len(tagging) >= 3
    for sid, statement in tagging:
        condition = statement["Condition"]
        # the instance tag, when a request sets it, can only be this instance
        assert condition["StringEqualsIfExists"][REQUEST_INSTANCE_TAG] == THIS_INSTANCE, sid
        # and no statement lets it remove tags
        assert "secretsmanager:UntagResource" not in _actions(statement)


def test_adoption_is_limited_to_secrets_of_no_instance_and_two_tag_keys(template):
    [statement] = [
        s for sid, s in _statements(template) if sid.endswith("/AdoptOrMarkUnownedSecrets")
    ]
    condition = statement["Condition"]
    assert _actions(statement) == {"secretsmanager:TagResource"}
    assert condition["Null"] == {INSTANCE_TAG: "true"}  # only secrets that have no instance yet
    assert condition["StringEquals"] == {"aws:ResourceTag/token-refresher:managed": "true"}
    # adopting (the instance key) only where AdoptUntagged allows it
    assert condition["ForAllValues:StringEquals"]["aws:TagKeys"] == {
        "Fn::If": [
            "AdoptionAllowed",
            ["token-refresher:instance", "token-refresher:unowned-alerted-at"],
            ["token-refresher:unowned-alerted-at"],
        ]
    }
    assert template["Conditions"]["AdoptionAllowed"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AdoptUntagged"}, "false"]}]
    }


def test_the_manual_rule_matches_only_events_addressed_to_this_instance(template):
    events = template["Resources"]["SweepFunction"]["Properties"]["Events"]
    pattern = events["ManualRotation"]["Properties"]["Pattern"]
    assert pattern["detail"] == {"instance": [THIS_INSTANCE]}


def test_adoption_is_off_unless_the_parameter_says_so(template):
    assert template["Parameters"]["AdoptUntagged"]["Default"] == "false"
    env = template["Resources"]["SweepFunction"]["Properties"]["Environment"]["Variables"]
    assert env["ADOPT_UNTAGGED"] == {"Ref": "AdoptUntagged"}
