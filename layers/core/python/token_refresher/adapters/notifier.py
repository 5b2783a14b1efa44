"""The notifier adapter: alerts go to an SNS topic as JSON with filterable message attributes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Protocol

from token_refresher.adapters.errors import aws_errors
from token_refresher.alerts import Alert

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class Notifier(Protocol):
    def publish(self, alert: Alert) -> None:
        """Send ``alert``; AWS failures raise adapters.errors.AwsError."""
        ...


class SnsMessage(Protocol):
    """What SnsNotifier publishes: an Alert, or a relayed alarm (alarm_relay.AlarmNotice)."""

    def subject(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...

    def attributes(self) -> dict[str, str]: ...


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, alert: SnsMessage) -> None:
        with aws_errors():
            self._client.publish(
                TopicArn=self._topic_arn,
                Subject=alert.subject()[:100],
                Message=json.dumps(alert.to_dict(), sort_keys=True),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in alert.attributes().items()
                },
            )
