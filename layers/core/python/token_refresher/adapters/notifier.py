"""The notifier adapter: alerts go to an SNS topic as JSON with filterable message attributes."""

from __future__ import annotations

import json
from typing import Any, Protocol

from token_refresher.alerts import Alert


class Notifier(Protocol):
    def publish(self, alert: Alert) -> None: ...


class SnsNotifier:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, alert: Alert) -> None:
        self._client.publish(
            TopicArn=self._topic_arn,
            Subject=alert.subject()[:100],
            Message=json.dumps(alert.to_dict(), sort_keys=True),
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in alert.attributes().items()
            },
        )
