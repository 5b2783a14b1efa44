"""Finishing a stuck rotation: run the rotation function's steps for a pending version again.

A rotation that failed leaves AWSPENDING on a version that is not AWSCURRENT, and RotateSecret
refuses every later rotation until that is resolved. Secrets Manager's own retry does exactly this:
it calls the four steps again with the same ClientRequestToken. createSecret then reuses a pending
value (a refreshed token is never dropped) or refreshes when the version is empty. When to resume
is the starter's decision (starter.pending_outcome); this adapter only invokes the function.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from token_refresher.adapters.errors import aws_errors
from token_refresher.errors import ErrorClass, TokenRefresherError
from token_refresher.protocol import Step

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
