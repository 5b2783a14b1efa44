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
