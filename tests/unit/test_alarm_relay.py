"""The alarm relay: a CloudWatch Lambda alarm action, in its real payload shape, becomes an alert
with an event, a severity, a readable body and the message attributes the on-call filter matches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.alarms import ALARM_EVENT, documented_oncall_filter, matches
from tests.unit.test_adapters import TOPIC, stubbed
from token_refresher.adapters.errors import StoreThrottled
from token_refresher.adapters.notifier import SnsNotifier
from token_refresher.alerting.alarm_relay import ALARM_KINDS, AlarmNotice, AlarmRelay
from token_refresher.errors import ConfigError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 2, 9, 15, 43, tzinfo=UTC)


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[AlarmNotice] = []

    def publish(self, alert: AlarmNotice) -> None:
        self.sent.append(alert)


def relayed(event: dict[str, Any]) -> AlarmNotice:
    publisher = RecordingPublisher()
    AlarmRelay(publisher, clock=lambda: NOW).relay(event)
    assert len(publisher.sent) == 1
    return publisher.sent[0]


def with_state(value: str, name: str = "tr-sweep-not-running") -> dict[str, Any]:
    event = json.loads(json.dumps(ALARM_EVENT))
    event["alarmData"]["alarmName"] = name
    event["alarmData"]["state"]["value"] = value
    return event


def test_the_sweep_not_running_alarm_becomes_a_critical_alert_the_oncall_filter_matches():
    # Given the Lambda alarm action's payload of the "sweep not running" alarm (events/)
    # When it is relayed
    notice = relayed(ALARM_EVENT)
    # Then it is a critical alarm.sweep_not_running alert with a readable body
    body = notice.to_dict()
    assert body["event"] == "alarm.sweep_not_running"
    assert body["severity"] == "critical"
    assert body["message"].startswith("the sweep has not run: no token is being refreshed")
    assert "token-refresher-sweep-not-running is ALARM" in body["message"]
    assert "Threshold Crossed" in body["message"]
    assert "schedule rule" in body["remediation"]
    assert body["state"] == "ALARM"
    assert body["previous_state"] == "OK"
    assert body["occurred_at"] == "2026-03-02T09:15:43Z"
    assert notice.subject() == "[token-refresher] alarm ALARM: token-refresher-sweep-not-running"
    # and its message attributes match the on-call filter policy of docs/alerts.md
    assert notice.attributes() == {"event": "alarm.sweep_not_running", "severity": "critical"}
    assert matches(documented_oncall_filter(), notice.attributes())


@pytest.mark.parametrize(
    ("suffix", "event", "severity"),
    [
        ("sweep-errors", "alarm.sweep_errors", "error"),
        ("rotation-errors", "alarm.rotation_errors", "error"),
        ("sweep-dead-letters", "alarm.sweep_dead_letters", "error"),
        ("rotation-dead-letters", "alarm.rotation_dead_letters", "error"),
        ("validation-overdue", "alarm.validation_overdue", "error"),
        ("throttles", "alarm.throttles", "error"),
        ("queue-age", "alarm.queue_age", "error"),
        ("relay-failures", "alarm.relay_failures", "error"),
        ("something-else", "alarm.other", "error"),
    ],
)
def test_every_alarm_pages_oncall_with_its_own_event(suffix, event, severity):
    notice = relayed(with_state("ALARM", f"tr-e2e-{suffix}"))
    assert (notice.event, notice.severity) == (event, severity)
    assert matches(documented_oncall_filter(), notice.attributes())


def test_back_to_ok_is_an_info_alarm_resolved_that_does_not_page():
    notice = relayed(with_state("OK", "tr-rotation-errors"))
    body = notice.to_dict()
    assert (body["event"], body["severity"]) == ("alarm.resolved", "info")
    assert body["message"].startswith("resolved: the rotation error ratio burns")
    assert body["remediation"] is None
    assert notice.subject() == "[token-refresher] alarm resolved: tr-rotation-errors"
    assert not matches(documented_oncall_filter(), notice.attributes())


def test_only_the_stacks_own_alarm_names_are_its_alarms_another_is_alarm_other():
    # Given a relay of stack "tr" (ALARM_NAME_PREFIX "tr-"), and an alarm of someone else whose
    # name merely ends like one of the stack's
    publisher = RecordingPublisher()
    relay = AlarmRelay(publisher, clock=lambda: NOW, alarm_prefix="tr-")
    # When both alarms reach the relay
    relay.relay(with_state("ALARM", "tr-sweep-errors"))
    relay.relay(with_state("ALARM", "x-sweep-errors"))
    # Then the stack's is alarm.sweep_errors and the other alarm.other, still paging on-call
    own, other = publisher.sent
    assert (own.event, other.event) == ("alarm.sweep_errors", "alarm.other")
    assert "an alarm pointed at the relay" in other.to_dict()["message"]
    assert matches(documented_oncall_filter(), other.attributes())


def test_the_relay_is_given_the_prefix_every_alarm_of_the_template_is_named_with():
    from tests.support.template import load_template

    # Given the template's relay and its alarms
    resources = load_template()["Resources"]
    relay = resources["AlarmRelayFunction"]["Properties"]
    prefix = relay["Environment"]["Variables"]["ALARM_NAME_PREFIX"]["Fn::Sub"]
    names = [
        r["Properties"]["AlarmName"]["Fn::Sub"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    # Then every alarm is named <prefix><kind>, one of the kinds the relay knows
    assert names
    assert {n.removeprefix(prefix) for n in names} <= set(ALARM_KINDS)
    assert all(n.startswith(prefix) for n in names)


def test_the_alarm_names_of_the_relay_and_of_the_docs_agree():
    assert set(ALARM_KINDS) == {
        "sweep-not-running",
        "sweep-errors",
        "rotation-errors",
        "sweep-dead-letters",
        "rotation-dead-letters",
        "connect-traffic",
        "validation-overdue",
        "sweep-slow",
        "rotations-at-risk",
        "throttles",
        "queue-age",
        "relay-failures",
    }


def test_a_slow_sweep_is_a_warning_that_does_not_page():
    notice = relayed(with_state("ALARM", "tr-sweep-slow"))
    assert (notice.event, notice.severity) == ("alarm.sweep_slow", "warning")
    assert not matches(documented_oncall_filter(), notice.attributes())


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ([], "must be a CloudWatch alarm action"),
        ({"source": "aws.events", "alarmData": {}}, "must be a CloudWatch alarm action"),
        ({"source": "aws.cloudwatch"}, "must hold alarmName and state"),
        (
            {"source": "aws.cloudwatch", "alarmData": {"alarmName": "x", "state": "ALARM"}},
            "must hold alarmName and state",
        ),
        (
            {"source": "aws.cloudwatch", "alarmData": {"alarmName": 3, "state": {"value": "OK"}}},
            "must be strings",
        ),
    ],
)
def test_anything_but_an_alarm_action_is_refused_and_nothing_is_sent(event, why):
    publisher = RecordingPublisher()
    with pytest.raises(ConfigError, match=why):
        AlarmRelay(publisher).relay(event)
    assert publisher.sent == []


def test_the_sns_notifier_publishes_the_notice_with_its_attributes_and_raises_on_failure():
    # Given SNS, which answers once and then throttles
    aws, stub = stubbed("sns")
    notice = AlarmNotice.from_event(ALARM_EVENT, now=NOW)
    stub.add_response(
        "publish",
        {"MessageId": "m1"},
        {
            "TopicArn": TOPIC,
            "Subject": notice.subject(),
            "Message": json.dumps(notice.to_dict(), sort_keys=True),
            "MessageAttributes": {
                "event": {"DataType": "String", "StringValue": "alarm.sweep_not_running"},
                "severity": {"DataType": "String", "StringValue": "critical"},
            },
        },
    )
    stub.add_client_error("publish", "Throttling")
    relay = AlarmRelay(SnsNotifier(aws, TOPIC), clock=lambda: NOW)
    with stub:
        assert relay.relay(ALARM_EVENT)["event"] == "alarm.sweep_not_running"
        # Then a failure propagates, so that Lambda retries the alarm's asynchronous invoke
        with pytest.raises(StoreThrottled, match=r"\(Throttling\) when calling the Publish"):
            relay.relay(ALARM_EVENT)
