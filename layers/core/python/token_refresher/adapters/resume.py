"""Finishing a stuck rotation: run the rotation function's steps for a pending version again.

A rotation that failed leaves AWSPENDING on a version that is not AWSCURRENT, and RotateSecret
refuses every later rotation until that is resolved. Secrets Manager's own retry does exactly this:
it calls the four steps again with the same ClientRequestToken. createSecret then reuses a pending
value (a refreshed token is never dropped) or refreshes when the version is empty.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from token_refresher.errors import ErrorClass, TokenRefresherError

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationResumer(Protocol):
    def resume(self, secret_id: str, version_id: str) -> None:
        """Run the four steps for ``version_id``; raises TokenRefresherError when a step fails."""
        ...


class LambdaRotationResumer:
    def __init__(self, lambda_client: Any, function_arn: str) -> None:
        self._client = lambda_client
        self._function_arn = function_arn

    def resume(self, secret_id: str, version_id: str) -> None:
        for step in STEPS:
            event = {"Step": step, "SecretId": secret_id, "ClientRequestToken": version_id}
            resp = self._client.invoke(
                FunctionName=self._function_arn, Payload=json.dumps(event).encode()
            )
            if resp.get("FunctionError"):
                body = json.loads(resp["Payload"].read() or b"{}")
                # The rotation function already alerted and logged (redacted); report the type.
                raise TokenRefresherError(
                    ErrorClass.TRANSIENT,
                    f"{step} failed while finishing a stuck rotation "
                    f"({body.get('errorType', 'error')})",
                )
