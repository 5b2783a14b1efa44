"""Reading a token-refresher connection from a pipeline: docs/reading-tokens.md explains each rule.

- Read the connection's AWSCURRENT version through a cache (aws-lambda-powertools' Parameters
  ``SecretsProvider`` with ``max_age``), so that a pipeline making thousands of API calls makes a
  few GetSecretValue calls.
- Never refresh: the refresh token in the document is the refresher's. Presenting it yourself
  takes the grant away from the refresher on platforms that rotate refresh tokens (the new one
  would be in your process, not in the secret).
- A token rotated under you (the platform answers "unauthorized" to the cached one): read
  AWSCURRENT again, bypassing the cache, and retry once. A second refusal is not yours to fix.

Needs ``aws-lambda-powertools`` and ``boto3``, and the IAM policy docs/policies/reader.json.

    reader = TokenReader()
    rows = reader.call("token-refresher/connections/acme-google", fetch_report)

where ``fetch_report(access_token)`` makes the platform call and raises ``Unauthorized`` when the
platform refuses the token (HTTP 401, Meta error 190, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parameters import SecretsProvider

CACHE_SECONDS = 300  # well inside the refresher's refresh-ahead window (15 minutes of an hour)
EXPIRY_MARGIN = timedelta(minutes=1)  # a cached token this close to expires_at is read again

T = TypeVar("T")


class Unauthorized(Exception):
    """Raised by the caller's request when the platform refuses the access token."""


class TokenUnavailable(Exception):
    """The connection holds no usable access token: a person must act (the refresher has sent an
    alert; `token-refresher status` says which)."""


class TokenReader:
    def __init__(
        self,
        provider: SecretsProvider | None = None,
        *,
        max_age: int = CACHE_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._provider = provider or SecretsProvider()
        self._max_age = max_age
        self._clock = clock

    def access_token(self, secret_id: str, *, fresh: bool = False) -> str:
        """The connection's current access token; ``fresh`` bypasses the cache."""
        document = self._document(secret_id, fresh=fresh)
        if not fresh and self._expiring(document):
            document = self._document(secret_id, fresh=True)  # the cache is older than a rotation
        token = document.get("access_token")
        if not isinstance(token, str) or not token or self._expiring(document):
            raise TokenUnavailable(
                f"{secret_id} holds no valid access token (expires_at "
                f"{document.get('expires_at')}): see its alert or `token-refresher status`"
            )
        return token

    def call(self, secret_id: str, request: Callable[[str], T]) -> T:
        """``request(access_token)``; if the platform refuses the cached token, once more with the
        current one. A second ``Unauthorized`` propagates: retrying would not help."""
        try:
            return request(self.access_token(secret_id))
        except Unauthorized:
            return request(self.access_token(secret_id, fresh=True))

    def _document(self, secret_id: str, *, fresh: bool) -> dict[str, Any]:
        value = self._provider.get(
            secret_id, max_age=self._max_age, transform="json", force_fetch=fresh
        )
        if not isinstance(value, dict):
            raise TokenUnavailable(f"{secret_id} is not a token-refresher connection document")
        return value

    def _expiring(self, document: dict[str, Any]) -> bool:
        """Whether ``expires_at`` (ISO 8601 UTC; null: the token does not expire) is near."""
        raw = document.get("expires_at")
        if not raw:
            return False
        expires = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        return expires - self._clock() <= EXPIRY_MARGIN
