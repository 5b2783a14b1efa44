"""The rotation function's invokes that do not come from Secrets Manager.

- Finishing a stuck rotation (``LambdaRotationResumer``): run the rotation function's steps for a
  pending version again. A rotation that failed leaves AWSPENDING on a version that is not
  AWSCURRENT, and RotateSecret refuses every later rotation until that is resolved. Secrets
  Manager's own retry does exactly this: it calls the four steps again with the same
  ClientRequestToken. createSecret then reuses a pending value (a refreshed token is never dropped)
  or refreshes when the version is empty. When to resume is the starter's decision
  (``sweep.starter``); this adapter only invokes the function.
- Asking for a connection's daily liveness check without waiting for it
  (``LambdaLivenessRequester``). The sweep reads tags only and never calls a provider: it hands
  each connection whose last validation is older than a day to the rotation function, which
  validates it with the platform and records the outcome (``rotation.liveness``).
  ``InvocationType=Event``: Lambda queues the request (its own asynchronous queue absorbs a burst,
  in direct and queue mode alike) and the sweep goes on.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from token_refresher.adapters.errors import aws_errors
from token_refresher.errors import ErrorClass, TokenRefresherError
from token_refresher.events import LIVENESS_ACTION, Step

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class LambdaRotationResumer:
    def __init__(self, lambda_client: LambdaClient, function_arn: str) -> None:
        self._client = lambda_client
        self._function_arn = function_arn

    def resume(self, secret_id: str, version_id: str) -> None:
        for step in Step:
            event = {"Step": step.value, "SecretId": secret_id, "ClientRequestToken": version_id}
            with aws_errors():
                resp = self._client.invoke(
                    FunctionName=self._function_arn, Payload=json.dumps(event).encode()
                )
            if resp.get("FunctionError"):
                body = json.loads(resp["Payload"].read() or b"{}")
                # The rotation function already alerted and logged (redacted); report the type.
                raise TokenRefresherError(
                    ErrorClass.TRANSIENT,
                    f"{step.value} failed while finishing a stuck rotation "
                    f"({body.get('errorType', 'error')})",
                )


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
