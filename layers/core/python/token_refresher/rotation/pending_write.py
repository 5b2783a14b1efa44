"""createSecret's one write that must not be lost: the refreshed token to AWSPENDING.

Once a platform has answered a refresh, the new value exists only in this function's memory; for
platforms that rotate the refresh token on use (Microsoft, TikTok account tokens, strict OAuth 2.0
servers) the stored one may already be revoked. So the PutSecretValue is retried (on top of the
client's own retries) with exponential backoff and full jitter while the invocation has time left,
each attempt logged without the value. Before the platform is called at all, the engine checks that
enough time is left for the refresh and these retries (``enough_time``): if not, it fails
transiently without spending the refresh token, and the next sweep starts a new rotation.

If the time still runs out, the value is gone: ``PendingWriteLost`` is raised, a
``RefreshedValueLost`` metric is counted, and the engine alerts at once (not after the usual three
transient failures) when the refresh token had rotated, saying a reconnect may be needed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from token_refresher.adapters.errors import AwsError, StoreThrottled
from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import SecretStore
from token_refresher.alerting.failures import publish_alert
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.errors import ErrorClass, ProviderError, TokenRefresherError
from token_refresher.events import RotationRequest
from token_refresher.model import TokenDocument
from token_refresher.observability import MetricSink, logger
from token_refresher.timeutil import utcnow

__all__ = ["PendingWriteLost", "PendingWriter", "WriteRetry", "enough_time", "write_pending"]

# Codes worth retrying besides throttling: the service or the network had a moment.
_RETRYABLE = frozenset(
    {
        "InternalServiceError",
        "InternalFailure",
        "ServiceUnavailable",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    }
)


@dataclass(frozen=True)
class WriteRetry:
    """Backoff for the AWSPENDING write: delay n is uniform in [0, min(cap, base x 2^n)] seconds
    (full jitter); no sleep that would leave less than ``reserve_ms`` of the invocation (kept for
    reporting the failure). ``refresh_needs_ms``: time the platform call and the write need before
    a refresh is worth starting (the HTTP client's bounded retries, then some writes)."""

    base_s: float = 0.25
    cap_s: float = 4.0
    reserve_ms: int = 3_000
    refresh_needs_ms: int = 20_000
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[float, float], float] = field(default=random.uniform)


class PendingWriteLost(TokenRefresherError):
    """The refreshed value could not be stored before the invocation ran out of time."""


def retryable(exc: AwsError) -> bool:
    return isinstance(exc, StoreThrottled) or exc.code in _RETRYABLE


def enough_time(time_left_ms: Callable[[], int] | None, retry: WriteRetry, provider: str) -> None:
    """Refuse (transient, nothing spent) to start a refresh that could not be stored in time."""
    if time_left_ms is not None and time_left_ms() < retry.refresh_needs_ms:
        raise ProviderError(
            ErrorClass.TRANSIENT,
            "too little time left in this invocation to refresh and store the token safely; "
            "the platform was not called",
            provider=provider,
        )


def write_pending(  # noqa: PLR0913 - the write's identity, then how long it may take
    store: SecretStore,
    secret_id: str,
    version_id: str,
    value: str,
    *,
    provider: str,
    time_left_ms: Callable[[], int] | None,
    retry: WriteRetry,
) -> int:
    """PutSecretValue(AWSPENDING) until it succeeds or the time is up; the attempts it took."""
    attempt, slept_ms = 0, 0
    start_ms = time_left_ms() if time_left_ms is not None else 0
    while True:
        attempt += 1
        try:
            store.put_pending(secret_id, version_id, value)
        except AwsError as exc:
            if not retryable(exc):
                raise
            delay = retry.jitter(0.0, min(retry.cap_s, retry.base_s * 2 ** (attempt - 1)))
            # The context's figure, and never more than what is left after our own sleeps (a
            # context whose clock stands still cannot keep this loop going for ever).
            left = min(time_left_ms(), start_ms - slept_ms) if time_left_ms is not None else 0
            extra = {"secret_id": secret_id, "provider": provider, "attempt": attempt}
            if left - retry.reserve_ms < delay * 1000:
                logger.error(
                    "refreshed value NOT stored: AWSPENDING write failed until the time ran out",
                    extra=extra | {"code": exc.code, "time_left_ms": left},
                )
                raise PendingWriteLost(
                    ErrorClass.TRANSIENT,
                    f"the refreshed token could not be stored: Secrets Manager answered "
                    f"{exc.code} to {attempt} writes until the invocation ran out of time",
                    provider=provider,
                ) from exc
            logger.warning(
                "AWSPENDING write failed: retrying",
                extra=extra | {"code": exc.code, "delay_s": round(delay, 3)},
            )
            retry.sleep(delay)
            slept_ms += int(delay * 1000)
            continue
        if attempt > 1:
            logger.info("AWSPENDING write succeeded after retries", extra={"attempt": attempt})
        return attempt


def report_lost(  # noqa: PLR0913 - where to report, then what was lost
    notifier: Notifier,
    metrics: MetricSink,
    secret_id: str,
    *,
    provider: str,
    rotated: bool,  # did the platform rotate the refresh token
    now: datetime | None = None,
) -> None:
    """Count a refreshed value that could not be stored (EMF ``RefreshedValueLost``); alert at once
    when the platform had rotated the refresh token: the stored one may be revoked."""
    outcome = "refresh-token-rotated" if rotated else "refresh-token-kept"
    metrics.count("RefreshedValueLost", provider=provider, outcome=outcome)
    if not rotated:
        return  # the stored refresh token still works: the next rotation simply retries
    publish_alert(
        notifier,
        Alert(
            AlertEvent.REFRESH_FAILED,
            secret_id=secret_id,
            provider=provider,
            message=(
                "the platform issued a new refresh token that Secrets Manager did not accept in "
                "time (throttled); the stored one may have been revoked. The next sweep retries; "
                "if it reports re-authorization required, reconnect."
            ),
            occurred_at=now or utcnow(),
            error_class=ErrorClass.TRANSIENT.value,
        ),
    )


class PendingWriter:
    """createSecret's side of this module: refuse a refresh that could not be stored in time, then
    store the refreshed value (retrying), counting and reporting a value that was lost. It holds
    no store: it writes to the one the engine passes, so a test replacing the engine's store
    replaces every write of the rotation."""

    def __init__(
        self,
        notifier: Notifier,
        metrics: MetricSink,
        retry: WriteRetry,
        clock: Callable[[], datetime],
    ) -> None:
        self.notifier, self.metrics = notifier, metrics
        self.retry, self.clock = retry, clock

    def before_refresh(self, time_left_ms: Callable[[], int] | None, provider: str) -> None:
        enough_time(time_left_ms, self.retry, provider)

    def store_refreshed(
        self,
        store: SecretStore,
        request: RotationRequest,
        new_doc: TokenDocument,
        *,
        rotated: bool,  # the platform issued a new refresh token
        time_left_ms: Callable[[], int] | None,
    ) -> None:
        provider = new_doc.provider
        try:
            attempts = write_pending(
                store,
                request.secret_id,
                request.version_id,
                new_doc.to_json(),
                provider=provider,
                time_left_ms=time_left_ms,
                retry=self.retry,
            )
        except PendingWriteLost:
            report_lost(
                self.notifier,
                self.metrics,
                request.secret_id,
                provider=provider,
                rotated=rotated,
                now=self.clock(),
            )
            raise
        if attempts > 1:
            self.metrics.count("PendingWriteRetried", provider=provider)
