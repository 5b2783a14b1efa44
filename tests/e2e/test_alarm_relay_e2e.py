"""An alarm notification, in its real shape and delivered as CloudWatch delivers it (an
asynchronous invoke of the alarm's action), reaches a queue subscribed with the on-call filter
policy of docs/alerts.md."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.e2e.conftest import E2E_STACK, Deployed
from tests.support import stack
from tests.support.alarms import ALARM_EVENT

pytestmark = pytest.mark.e2e


PAGES = {"severity": "critical"}  # a settle marker that passes the on-call filter


def is_alarm(envelope: dict[str, Any]) -> bool:
    """A relayed alarm, not a token alert (the stack's sweep may alert meanwhile)."""
    return str(envelope["alert"]["event"]).startswith("alarm.")


def alarms_in(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in received if is_alarm(e)]


def deployed_alarm(deployed: Deployed, suffix: str) -> dict[str, Any]:
    cloudwatch = stack.client("cloudwatch", deployed.endpoint)
    alarms = cloudwatch.describe_alarms(AlarmNames=[f"{E2E_STACK}-{suffix}"])["MetricAlarms"]
    assert len(alarms) == 1, alarms
    return dict(alarms[0])


def deliver(deployed: Deployed, alarm: dict[str, Any], state: str) -> None:
    """What CloudWatch does on a state change: invoke each action asynchronously with the
    Lambda alarm-action payload (events/alarm-sweep-not-running.json, named for this alarm)."""
    event = copy.deepcopy(ALARM_EVENT)
    event["alarmArn"] = alarm["AlarmArn"]
    event["alarmData"]["alarmName"] = alarm["AlarmName"]
    event["alarmData"]["state"]["value"] = state
    actions = alarm["AlarmActions"] if state == "ALARM" else alarm["OKActions"]
    for action in actions:
        resp = deployed.lambda_.invoke(
            FunctionName=action, InvocationType="Event", Payload=json.dumps(event).encode()
        )
        assert resp["StatusCode"] == 202


def test_a_sweep_not_running_alarm_reaches_the_oncall_queue(
    deployed: Deployed, oncall: stack.AlertInbox
) -> None:
    # Given the deployed "sweep not running" alarm, whose action is the relay, not the topic
    alarm = deployed_alarm(deployed, "sweep-not-running")
    relay = deployed.lambda_.get_function(FunctionName=deployed.outputs["AlarmRelayFunctionName"])[
        "Configuration"
    ]["FunctionArn"]
    assert alarm["AlarmActions"] == [relay]
    # When it goes into ALARM and its notification is delivered
    deliver(deployed, alarm, "ALARM")
    # Then the on-call queue receives it once: event, severity, attributes, a readable body
    oncall.matching(is_alarm, timeout=60, what="the relayed alarm in the on-call queue")
    [message] = alarms_in(oncall.settled(attributes=PAGES))
    assert message["alert"]["event"] == "alarm.sweep_not_running"
    assert message["alert"]["severity"] == "critical"
    assert message["alert"]["alarm_name"] == f"{E2E_STACK}-sweep-not-running"
    assert "the sweep has not run" in message["alert"]["message"]
    attributes = {k: v["Value"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {"event": "alarm.sweep_not_running", "severity": "critical"}
    assert message["Subject"] == f"[token-refresher] alarm ALARM: {E2E_STACK}-sweep-not-running"


def test_an_alarm_back_to_ok_reaches_the_topic_but_does_not_page(
    deployed: Deployed, oncall: stack.AlertInbox, alert_inbox: stack.AlertInbox
) -> None:
    # Given the rotation-errors alarm
    alarm = deployed_alarm(deployed, "rotation-errors")
    # When it returns to OK and its notification is delivered
    deliver(deployed, alarm, "OK")
    # Then an unfiltered subscriber gets alarm.resolved (info) once, and on call gets no alarm
    alert_inbox.matching(is_alarm, timeout=60, what="the relayed OK in the unfiltered queue")
    received = alarms_in(alert_inbox.settled())
    assert [m["alert"]["event"] for m in received] == ["alarm.resolved"]
    assert received[0]["alert"]["severity"] == "info"
    assert alarms_in(oncall.settled(attributes=PAGES)) == []


def test_an_alarm_that_changes_state_in_cloudwatch_pages_oncall_through_the_relay(
    deployed: Deployed, oncall: stack.AlertInbox
) -> None:
    # Given the deployed sweep-dead-letters alarm (a plain metric alarm: LocalStack's
    # SetAlarmState fails on the metric-math alarms, KeyError 'Namespace', docs/aws-parity.md)
    cloudwatch = stack.client("cloudwatch", deployed.endpoint)
    name = deployed_alarm(deployed, "sweep-dead-letters")["AlarmName"]
    # When CloudWatch moves it into ALARM (LocalStack then runs the alarm's actions)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="e2e: forced")
    try:
        # Then on call receives alarm.sweep_dead_letters once, built from CloudWatch's payload
        oncall.matching(is_alarm, timeout=60, what="the alarm CloudWatch raised, relayed")
        received = alarms_in(oncall.settled(attributes=PAGES))
        assert [m["alert"]["event"] for m in received] == ["alarm.sweep_dead_letters"]
        assert received[0]["alert"]["alarm_name"] == name
        assert "e2e: forced" in received[0]["alert"]["message"]
    finally:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="e2e: reset")


def test_the_deployed_relay_admits_exactly_the_stacks_alarms(deployed: Deployed) -> None:
    # Given the deployed stack's alarms and the relay's resource policy as Lambda holds it
    cloudwatch = stack.client("cloudwatch", deployed.endpoint)
    pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{E2E_STACK}-")
    alarm_arns = {a["AlarmArn"] for page in pages for a in page["MetricAlarms"]}
    name = deployed.outputs["AlarmRelayFunctionName"]
    policy = json.loads(deployed.lambda_.get_policy(FunctionName=name)["Policy"])
    # When the statements for CloudWatch's alarm actions are read
    statements = [
        s
        for s in policy["Statement"]
        if s["Principal"] == {"Service": "lambda.alarms.cloudwatch.amazonaws.com"}
    ]
    sources = [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in statements]
    # Then each names one of the stack's alarms by its exact ARN, and every alarm has one
    assert sorted(sources) == sorted(alarm_arns)
    assert not any("*" in source for source in sources)
