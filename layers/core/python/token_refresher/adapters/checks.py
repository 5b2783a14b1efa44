"""Asking the rotation function for a connection's daily liveness check, without waiting for it.

The sweep reads tags only and never calls a provider: it hands each connection whose last
validation is older than a day to the rotation function, which validates it with the platform and
records the outcome (liveness_check.py). ``InvocationType=Event``: Lambda queues the request (its
own asynchronous queue absorbs a burst, in direct and queue mode alike) and the sweep goes on.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from token_refresher.adapters.errors import aws_errors
from token_refresher.protocol import LIVENESS_ACTION

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class LambdaLivenessRequester:
    def __init__(self, lambda_client: LambdaClient, function_arn: str) -> None:
        self._client = lambda_client
        self._function_arn = function_arn

    def request(self, secret_id: str) -> None:
        event = {"action": LIVENESS_ACTION, "secret_id": secret_id}
        with aws_errors():
            self._client.invoke(
                FunctionName=self._function_arn,
                InvocationType="Event",
                Payload=json.dumps(event).encode(),
            )
