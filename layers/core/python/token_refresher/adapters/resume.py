"""Finishing a stuck rotation: run the rotation function's steps for a pending version again.

A rotation that failed leaves AWSPENDING on a version that is not AWSCURRENT, and RotateSecret
refuses every later rotation until that is resolved. Secrets Manager's own retry does exactly this:
it calls the four steps again with the same ClientRequestToken. createSecret then reuses a pending
value (a refreshed token is never dropped) or refreshes when the version is empty.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Protocol

from token_refresher.adapters.secrets import (
    AWSCURRENT,
    AWSPENDING,
    SecretDescription,
    SecretStore,
)
from token_refresher.errors import ErrorClass, TokenRefresherError
from token_refresher.observability import logger

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


def pending_outcome(
    store: SecretStore,
    resumer: RotationResumer | None,
    desc: SecretDescription,
    *,
    now: datetime,
    stuck_after: timedelta,
) -> str | None:
    """A rotation pending on ``desc``: None when there is none (go ahead and rotate), else
    "rotation already in progress", or "resumed" after finishing one stuck for ``stuck_after``
    (its pending value is reused, never dropped). Shared by the sweep and the queue worker."""
    pending = desc.version_with(AWSPENDING)
    if pending is None or pending == desc.version_with(AWSCURRENT):
        return None
    created = store.version_created_at(desc.arn, pending)
    age = now.timestamp() - created if created is not None else None
    if resumer is None or age is None or age < stuck_after.total_seconds():
        return "rotation already in progress"
    logger.warning(
        "finishing a rotation stuck at AWSPENDING",
        extra={"secret_id": desc.arn, "version_id": pending, "age_s": int(age)},
    )
    resumer.resume(desc.arn, pending)
    return "resumed"
