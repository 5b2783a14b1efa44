"""The alarm relay's handler in-process against LocalStack's SNS: the Lambda alarm-action payload
reaches a queue subscribed with the on-call filter policy of docs/alerts.md."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Aws
from tests.support import stack
from tests.support.alarms import ALARM_EVENT, documented_oncall_filter
from tests.support.handlers import LambdaContext, load_handler
from token_refresher.errors import ConfigError

pytestmark = pytest.mark.integration


@pytest.fixture
def oncall_queue(aws: Aws, alert_topic: str) -> Iterator[str]:
    url = aws.sqs.create_queue(QueueName=f"tr-int-oncall-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    aws.sns.subscribe(
        TopicArn=alert_topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps(documented_oncall_filter())},
    )
    yield url
    aws.sqs.delete_queue(QueueUrl=url)


def test_the_handler_relays_the_alarm_to_the_oncall_subscription(
    handler_env: None, aws: Aws, oncall_queue: str
) -> None:
    # When the relay is invoked with the alarm action's payload
    result = load_handler("alarm_relay").lambda_handler(ALARM_EVENT, LambdaContext())
    # Then it reports what it sent, and the on-call queue has it with its attributes
    assert result["event"] == "alarm.sweep_not_running"
    received = stack.wait_for(
        lambda: stack.receive_alerts(aws.sqs, oncall_queue), timeout=30, what="the relayed alarm"
    )
    assert [m["alert"]["event"] for m in received] == ["alarm.sweep_not_running"]
    assert received[0]["MessageAttributes"]["severity"]["Value"] == "critical"


def test_without_a_topic_the_relay_refuses_to_start(
    handler_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALERT_TOPIC_ARN")
    from token_refresher import runtime

    runtime.reset()
    with pytest.raises(ConfigError, match="ALERT_TOPIC_ARN"):
        load_handler("alarm_relay").lambda_handler(ALARM_EVENT, LambdaContext())


def test_the_oncall_filter_passes_incidents_and_pages_but_not_info_alerts(
    aws: Aws, alert_topic: str, oncall_queue: str
) -> None:
    # Given the on-call subscription of docs/alerts.md (an $or of severity and incident.*)
    from datetime import UTC, datetime

    from token_refresher.adapters.notifier import SnsNotifier
    from token_refresher.alerts import Alert, AlertEvent, IncidentFacts

    notifier = SnsNotifier(aws.sns, alert_topic)
    now = datetime.now(UTC)
    facts = IncidentFacts("inc-1", "google_ads app a: config invalid_client", 50, 50)
    # When an incident's resolution (info), a connection's recovery (info) and a
    # re-authorization (critical) are published
    for event, incident in (
        (AlertEvent.INCIDENT_RESOLVED, facts),
        (AlertEvent.RECOVERED, None),
        (AlertEvent.REAUTH_REQUIRED, None),
    ):
        notifier.publish(Alert(event, "conn/x", "google_ads", "m", now, incident=incident))
    # Then on call receives the resolution and the re-authorization, not the recovery
    got: list[dict[str, object]] = []

    def two() -> bool:
        got.extend(stack.receive_alerts(aws.sqs, oncall_queue))
        return len(got) >= 2

    stack.wait_for(two, timeout=30, what="two alerts through the on-call filter")
    got.extend(stack.receive_alerts(aws.sqs, oncall_queue, wait_seconds=2))
    events = sorted(str(m["alert"]["event"]) for m in got)  # type: ignore[index]
    assert events == ["incident.resolved", "token.reauth_required"]
