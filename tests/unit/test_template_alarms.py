"""template.yaml read as data: every alarm notifies through the alarm relay (docs/alerts.md),
which is the only way an alarm reaches the topic encrypted with alias/aws/sns."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.template import load_template
from token_refresher.alerting.alarm_relay import ALARM_KINDS, kind_of

pytestmark = pytest.mark.unit

RELAY = {"Fn::GetAtt": ["AlarmRelayFunction", "Arn"]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: r["Properties"]
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_alarm_and_its_return_to_ok_invoke_the_relay_and_nothing_publishes_directly(
    template,
):
    alarms = _alarms(template)
    assert len(alarms) == 12
    for name, props in alarms.items():
        assert props["AlarmActions"] == [RELAY], name
        assert props["OKActions"] == [RELAY], name
        assert "InsufficientDataActions" not in props, name


def test_every_alarm_is_named_so_that_the_relay_knows_its_event(template):
    suffixes = set()
    for name, props in _alarms(template).items():
        sub = props["AlarmName"]["Fn::Sub"]
        assert sub.startswith("${AWS::StackName}-"), name
        suffix = sub.removeprefix("${AWS::StackName}-")
        assert kind_of(f"stack-{suffix}").event != "alarm.other", name
        suffixes.add(suffix)
    assert suffixes == set(ALARM_KINDS)


def test_each_alarm_and_nothing_else_may_invoke_the_relay(template):
    # Given the template's permissions on the relay
    permissions = {
        name: r
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["FunctionName"] == RELAY
    }
    # Then there is one per alarm, naming that alarm's exact ARN (no wildcard) under its condition
    by_alarm = {}
    for name, resource in permissions.items():
        props = resource["Properties"]
        assert props["Action"] == "lambda:InvokeFunction", name
        assert props["Principal"] == "lambda.alarms.cloudwatch.amazonaws.com", name
        assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}, name
        alarm, attr = props["SourceArn"]["Fn::GetAtt"]
        assert attr == "Arn", name
        by_alarm[alarm] = resource.get("Condition")
    resources = template["Resources"]
    assert by_alarm == {name: resources[name].get("Condition") for name in _alarms(template)}


def test_the_relay_may_publish_to_the_alert_topic_and_do_nothing_else(template):
    relay = template["Resources"]["AlarmRelayFunction"]["Properties"]
    statements = relay["Policies"][0]["Statement"]
    assert statements[0] == {
        "Sid": "Alerts",
        "Effect": "Allow",
        "Action": "sns:Publish",
        "Resource": {"Ref": "AlertTopic"},
    }
    kms = statements[1]["Fn::If"]
    assert kms[0] == "HasKmsKey"
    assert kms[1]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms[1]["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}
    }
    assert len(statements) == 2
