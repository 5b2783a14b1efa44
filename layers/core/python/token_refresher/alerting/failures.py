"""Failure reporting: one log line, a metric, the state tags, and an alert when the policy says so.

Used by the rotation steps and by the sweep's refusals. Tagging and publishing never raise: an AWS
error there is logged, and the original failure still reaches its caller.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from token_refresher.adapters.errors import AwsError, StoreThrottled
from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import SecretDescription, SecretStore
from token_refresher.alerting.incidents import IncidentDesk, cause_of, grouped, recovered
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.errors import ErrorClass, TokenRefresherError, VersionNotPending
from token_refresher.events import RotationRequest, StepOutcome
from token_refresher.instances import NotThisInstance
from token_refresher.model import TokenDocument
from token_refresher.observability import MetricSink, logger
from token_refresher.redact import Redactor
from token_refresher.state import (
    NO_INCIDENT,
    TAG_INCIDENT,
    TAG_INSTANCE,
    TAG_MANAGED,
    TAG_PROVIDER,
    AlertPolicy,
    TokenState,
    on_failure,
)


def publish_alert(notifier: Notifier, alert: Alert) -> None:
    try:
        notifier.publish(alert)
    except AwsError as exc:
        logger.error(
            "could not publish alert",
            extra={"secret_id": alert.secret_id, "event": alert.event.value, "aws_error": exc.code},
        )
        return
    logger.info(
        "alert published",
        extra={
            "secret_id": alert.secret_id,
            "event": alert.event.value,
            "provider": alert.provider,
        },
    )


# Beyond the client's own retries, a throttled tag write is tried again after these delays
# (seconds, each drawn uniformly below its figure): a lost expires-at costs a second rotation, a
# lost checked-at a second platform call. The fleet simulation swaps ``TAG_RETRY_SLEEP`` for its
# clock.
TAG_RETRY_DELAYS = (0.5, 1.0, 2.0)
TAG_RETRY_SLEEP: Callable[[float], None] = time.sleep


def save_tags(
    store: SecretStore,
    secret_id: str,
    tags: Mapping[str, str],
    *,
    what: str = "state tags",
    metrics: MetricSink | None = None,
) -> None:
    """TagResource, retried while throttled; a write that still fails is logged and counted
    (EMF ``TagWriteFailed``), never raised."""
    failure: AwsError | None = None
    for delay in (*TAG_RETRY_DELAYS, None):
        try:
            store.tag(secret_id, tags)
        except AwsError as exc:
            failure = exc
            if delay is None or not isinstance(exc, StoreThrottled):
                break
            jitter = random.uniform(0, delay)  # noqa: S311 # nosec B311 # backoff, not a secret
            TAG_RETRY_SLEEP(jitter)
        else:
            return
    code = failure.code if failure is not None else "unknown"
    logger.error(f"could not update {what}", extra={"secret_id": secret_id, "aws_error": code})
    if metrics is not None:
        metrics.count("TagWriteFailed", provider=tags.get(TAG_PROVIDER, "unknown"), outcome=what)


class FailureReporter:
    def __init__(  # noqa: PLR0913 - the store and notifier; the rest keyword-only
        self,
        store: SecretStore,
        notifier: Notifier,
        *,
        metrics: MetricSink,
        clock: Callable[[], datetime],
        policy: AlertPolicy | None = None,
        incidents: IncidentDesk | None = None,
    ) -> None:
        self.incidents = incidents  # None: every alert goes out on its own (no grouping)
        self.store = store
        self.notifier = notifier
        self.policy = policy or AlertPolicy()
        self.metrics = metrics
        self.clock = clock

    def rotation_failed(
        self,
        request: RotationRequest,
        desc: SecretDescription | None,
        doc: TokenDocument | None,
        err: TokenRefresherError,
        redactor: Redactor,
    ) -> None:
        """Scrub ``err`` in place (it goes back to Secrets Manager), log, count, tag, alert."""
        provider = doc.provider if doc else (desc.tags.get(TAG_PROVIDER) if desc else None)
        _scrub(err, redactor)
        logger.error(
            "rotation step failed",
            extra={
                "secret_id": request.secret_id,
                "step": request.step.value,
                "provider": provider,
                "error_class": err.error_class.value,
                "provider_code": err.provider_code,
                "provider_subcode": err.provider_subcode,
                "error": err.message,
            },
        )
        self.metrics.count(
            "Rotations", provider=provider or "unknown", outcome=err.error_class.value
        )
        if desc is None:
            return  # no such secret: nothing to tag, nobody to tell about a typo'd id
        if isinstance(err, NotThisInstance):  # one alert; its tags are not ours to write
            self._refused_rotation(request.secret_id, provider, err)
            return
        self._record(request.secret_id, desc=desc, provider=provider, doc=doc, err=err)

    def check_failed(
        self, desc: SecretDescription, provider: str | None, err: TokenRefresherError
    ) -> None:
        """A daily liveness check's failure (rotation/liveness.py): logged, counted, and recorded
        like a rotation's (tags, alert when the policy says so)."""
        logger.error(
            "liveness check failed",
            extra={
                "secret_id": desc.arn,
                "provider": provider,
                "error_class": err.error_class.value,
                "provider_code": err.provider_code,
                "error": err.message,
            },
        )
        self.metrics.count(
            "LivenessChecks", provider=provider or "unknown", outcome=err.error_class.value
        )
        self._record(desc.arn, desc=desc, provider=provider, doc=None, err=err)

    def _record(
        self,
        secret_id: str,
        *,
        desc: SecretDescription,
        provider: str | None,
        doc: TokenDocument | None,
        err: TokenRefresherError,
    ) -> None:
        now = self.clock()
        expires_at = doc.expires_at if doc else None
        decision = on_failure(
            TokenState.from_tags(desc.tags),
            err.error_class,
            now=now,
            expires_at=expires_at,
            policy=self.policy,
        )
        alert = None
        if decision.event is not None:
            alert = Alert(
                decision.event,
                secret_id=secret_id,
                provider=provider,
                message=err.message,
                occurred_at=now,
                error_class=err.error_class.value,
                provider_code=err.provider_code,
                provider_subcode=err.provider_subcode,
                remediation=err.remediation,
                expires_at=expires_at,
                consecutive_failures=decision.state.consecutive_failures,
                reminder=decision.reminder,
            )
        tags = decision.state.to_tags()
        cause = cause_of(
            err.error_class, provider, doc.app_secret_id if doc else None, err.provider_code
        )
        incident = grouped(self.incidents, cause, secret_id, alert)
        if incident is not None:  # grouped: the incident desk holds the alert, speaks for all
            alert = None
        if self.incidents is not None:
            tags[TAG_INCIDENT] = incident or NO_INCIDENT
        save_tags(self.store, secret_id, tags, metrics=self.metrics)
        if alert is not None:
            publish_alert(self.notifier, alert)

    def recovered(self, secret_id: str, tags: Mapping[str, str]) -> tuple[bool, dict[str, str]]:
        """A connection is fine again: is its own ``token.recovered`` held (an incident's
        resolution speaks for it), and the tags to write (incidents.recovered)."""
        return recovered(self.incidents, secret_id, tags)

    def _refused_rotation(
        self, secret_id: str, provider: str | None, err: TokenRefresherError
    ) -> None:
        alert = Alert(
            AlertEvent.CONFIG_INVALID,
            secret_id=secret_id,
            provider=provider,
            message=f"rotation refused: {err.message}",
            occurred_at=self.clock(),
            error_class=err.error_class.value,
            remediation=err.remediation,
        )
        publish_alert(self.notifier, alert)

    def step_refused(
        self, request: RotationRequest, refused: VersionNotPending, desc: SecretDescription | None
    ) -> str:
        """A step for a version that is not pending: nothing runs, no tag, no alert, no error;
        one warning and a metric. Returns the reason the caller reports.

        Secrets Manager only calls a step for the version RotateSecret staged AWSPENDING, so this
        is a hand-run step with a wrong id (or a retry after a cancelled rotation). Raising would
        count as a function error (the rotation-errors alarm); marking the connection failing
        would page someone for a typo.
        """
        provider = desc.tags.get(TAG_PROVIDER, "unknown") if desc else "unknown"
        logger.warning(
            "rotation step refused: not the pending version",
            extra={
                "secret_id": request.secret_id,
                "step": request.step.value,
                "provider": provider,
                "version_id": request.version_id,
                "reason": refused.message,
            },
        )
        self.metrics.count("Rotations", provider=provider, outcome=StepOutcome.REFUSED.value)
        return (
            f"{refused.message}; the pending version id is the one staged AWSPENDING in: "
            f"aws secretsmanager describe-secret --secret-id {request.secret_id} "
            "--query VersionIdsToStages"
        )

    def refused(self, secret_id: str, why: str, *, alert: bool = True) -> dict[str, str]:
        """A manual rotation the sweep refuses (unknown or unmanaged secret): alert (not for a
        dry run: ``alert=False``), and the report's error entry."""
        entry = {"secret_id": secret_id, "error": why, "error_class": ErrorClass.CONFIG.value}
        if not alert:
            return entry
        publish_alert(
            self.notifier,
            Alert(
                AlertEvent.CONFIG_INVALID,
                secret_id=secret_id,
                provider=None,
                message=f"manual rotation refused: {why}",
                remediation=f"Each deployment rotates only secrets tagged {TAG_MANAGED}=true "
                f"and {TAG_INSTANCE}=<its InstanceName>. Check the id and the instance, or "
                "onboard the secret first.",
                occurred_at=self.clock(),
                error_class=ErrorClass.CONFIG.value,
            ),
        )
        return entry


def _scrub(err: TokenRefresherError, redactor: Redactor) -> None:
    message = redactor(err.message)
    err.message = message
    err.args = (message,)
    if err.remediation:
        err.remediation = redactor(err.remediation)
