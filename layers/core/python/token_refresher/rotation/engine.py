"""The Secrets Manager rotation protocol: createSecret, setSecret, testSecret, finishSecret.

Shape of AWS's rotation template: preconditions first, one method per step, every step idempotent
on ClientRequestToken (the version id). The store, notifier and provider context are passed in,
with the collaborators rotation/factory.py builds from them (the app-credentials lookup, the
AWSPENDING writer and the failure reporter).

- createSecret calls the provider at most once and writes AWSPENDING immediately after it answers,
  retrying that write with backoff while the invocation has time left (rotation/pending_write.py);
  it does not call the provider when too little time is left to store the answer. If a pending
  value for this version already exists it is reused and the provider is not called: a rotated
  refresh token is never thrown away.
- setSecret has nothing to do: the provider issues tokens itself.
- testSecret validates the pending token with the provider's own check.
- finishSecret promotes the pending version to AWSCURRENT, then updates the state tags.
- A step for a version that is not this secret's pending one (a hand-run step with the wrong
  ClientRequestToken) is refused: StepOutcome.REFUSED with the reason, nothing changed, no alert.
- Any other failure: the state tags are updated, an SNS alert is sent when the alerting policy says
  so, one structured log line is written without token material, and the error is re-raised so
  that Secrets Manager records the failed rotation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import (
    AWSCURRENT,
    AWSPENDING,
    SecretDescription,
    SecretStore,
)
from token_refresher.alerting.failures import FailureReporter, publish_alert, save_tags
from token_refresher.alerting.notices import merge_refresh, new_notice_alerts, token_tags
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.credentials.lookup import AppCredentialsLookup
from token_refresher.errors import (
    ErrorClass,
    ProviderError,
    TokenRefresherError,
    VersionNotPending,
)
from token_refresher.events import RotationRequest, Step, StepOutcome, StepResult
from token_refresher.instances import ensure_own
from token_refresher.model import TokenDocument
from token_refresher.observability import MetricSink, NullMetrics, logger
from token_refresher.providers import get_provider
from token_refresher.providers.base import Provider, ProviderContext
from token_refresher.redact import Redactor
from token_refresher.rotation.pending_write import PendingWriter
from token_refresher.rotation.preconditions import (
    already_current,
    describe_for_rotation,
    parse_current,
    pending_doc,
    refreshed_within,
    stuck_pending_value,
)
from token_refresher.state import (
    MIN_ROTATION_INTERVAL,
    TAG_LAST_ROTATED,
    TokenState,
    last_rotation,
    on_success,
)
from token_refresher.timeutil import to_epoch

__all__ = ["RotationEngine", "RotationRequest", "Step", "StepOutcome", "StepResult"]


def _store_failed(exc: AwsError, doc: TokenDocument | None) -> ProviderError:
    """A Secrets Manager failure during a step, as the failure policy records it (transient)."""
    return ProviderError(
        ErrorClass.TRANSIENT,
        f"Secrets Manager call failed: {exc.code}",
        provider=doc.provider if doc else None,
    )


class RotationEngine:
    """Runs one rotation step for one secret (``run``); the four steps are its public methods."""

    def __init__(  # noqa: PLR0913 - what a step uses; built by rotation/factory.py
        self,
        store: SecretStore,
        notifier: Notifier,
        provider_ctx: ProviderContext,
        *,
        instance: str,
        apps: AppCredentialsLookup,
        writer: PendingWriter,
        failures: FailureReporter,
        providers: Callable[[str], Provider] = get_provider,
        metrics: MetricSink | None = None,
        min_refresh_interval: timedelta = MIN_ROTATION_INTERVAL,
        app_prefix: str = "",
    ) -> None:
        self.store, self.notifier, self.ctx = store, notifier, provider_ctx
        self.instance, self.app_prefix = instance, app_prefix  # no connection is named under it
        self.apps, self.writer, self.failures = apps, writer, failures
        self._providers = providers
        self._metrics = metrics or NullMetrics()
        self.min_refresh_interval = min_refresh_interval

    def run(
        self, request: RotationRequest, time_left_ms: Callable[[], int] | None = None
    ) -> StepResult:
        """One step of one rotation (this instance's secret, its pending version, AWSCURRENT).
        Args:
            request: the rotation event (step, secret, ClientRequestToken).
            time_left_ms: the invocation's remaining time (Lambda's context): it bounds
                createSecret's write retries.
        Returns:
            SKIPPED (already current), REFUSED (not the pending version), else the step's outcome.
        Raises:
            TokenRefresherError, AwsError: the step failed; reported (tags, alerts, log) first.
        """
        redactor = Redactor()
        doc: TokenDocument | None = None
        desc: SecretDescription | None = None
        try:
            desc = describe_for_rotation(self.store, request.secret_id)
            ensure_own(desc.tags, self.instance, name=desc.name, app_prefix=self.app_prefix)
            if already_current(desc, request):
                return StepResult(request.step, request.secret_id, StepOutcome.SKIPPED)
            doc = parse_current(self.store.get_value(request.secret_id, stage=AWSCURRENT), redactor)
            outcome = self._step(desc, doc, request, redactor, time_left_ms)
        except VersionNotPending as refused:
            reason = self.failures.step_refused(request, refused, desc)
            return StepResult(request.step, request.secret_id, StepOutcome.REFUSED, reason)
        except AwsError as exc:  # before the root it derives from: reported as transient
            self.failures.rotation_failed(request, desc, doc, _store_failed(exc, doc), redactor)
            raise
        except TokenRefresherError as err:
            self.failures.rotation_failed(request, desc, doc, err, redactor)
            raise
        logger.info(
            "rotation step done",
            extra={
                "secret_id": request.secret_id,
                "step": request.step.value,
                "provider": doc.provider,
                "outcome": outcome.value,
                "version_id": request.version_id,
            },
        )
        return StepResult(request.step, request.secret_id, outcome)

    def _step(
        self,
        desc: SecretDescription,
        doc: TokenDocument,
        request: RotationRequest,
        rd: Redactor,
        time_left_ms: Callable[[], int] | None,
    ) -> StepOutcome:
        if request.step is Step.CREATE:
            return self.create_secret(desc, doc, request, rd, time_left_ms=time_left_ms)
        if request.step is Step.SET:
            return self.set_secret()
        if request.step is Step.TEST:
            return self.test_secret(desc, doc, request, rd)
        return self.finish_secret(desc, doc, request, rd)

    # --- the four steps ------------------------------------------------------------------------

    def create_secret(
        self,
        desc: SecretDescription,
        doc: TokenDocument,
        request: RotationRequest,
        redactor: Redactor,
        *,
        time_left_ms: Callable[[], int] | None = None,
    ) -> StepOutcome:
        """Write the refreshed token to AWSPENDING: reuse a value already pending for this version
        or left pending by a failed rotation, skip the provider when the token was refreshed within
        the minimum interval, else refresh once (time allowing) and write at once (retried)."""
        existing = self.store.get_value(
            request.secret_id, version_id=request.version_id, stage=AWSPENDING
        )
        if existing is not None:
            logger.info(
                "pending value already written for this version: reusing it, provider not called",
                extra={"secret_id": request.secret_id, "provider": doc.provider},
            )
            return StepOutcome.REUSED
        adopted = stuck_pending_value(self.store, desc, doc, request)
        if adopted is not None:
            self.store.put_pending(request.secret_id, request.version_id, adopted)
            return StepOutcome.REUSED
        if refreshed_within(desc, doc, self.ctx.now(), self.min_refresh_interval):
            # Another rotation refreshed this token minutes ago (a race between triggers, or a
            # second rotate-secret): finish this one with the current value, no provider call.
            logger.info(
                "refreshed less than the minimum interval ago: rotating without a provider call",
                extra={"secret_id": request.secret_id, "provider": doc.provider},
            )
            self.store.put_pending(request.secret_id, request.version_id, doc.to_json())
            return StepOutcome.NOT_REFRESHED_RECENT
        provider = self._providers(doc.provider)
        app = self.apps.for_step(desc, doc, redactor)
        self.writer.before_refresh(time_left_ms, doc.provider)
        result = provider.refresh(doc, app, self.ctx)
        redactor.add(result.access_token, result.refresh_token)
        new_doc = merge_refresh(doc, result, self.ctx.now())
        self._metrics.count("ProviderRefreshes", provider=doc.provider)
        # Written before anything else can fail: the new (maybe rotated) refresh token is safe now.
        rotated = result.refresh_token not in (None, doc.refresh_token)
        self.writer.store_refreshed(
            self.store, request, new_doc, rotated=rotated, time_left_ms=time_left_ms
        )
        return StepOutcome.DONE

    def set_secret(self) -> StepOutcome:
        """Nothing to do: the provider issues the tokens, there is no downstream system to set."""
        return StepOutcome.DONE

    def test_secret(
        self,
        desc: SecretDescription,
        doc: TokenDocument,
        request: RotationRequest,
        redactor: Redactor,
    ) -> StepOutcome:
        """Validate the pending token with the provider's read-only check; an invalid token is a
        REAUTH_REQUIRED error (a human must consent again)."""
        pending = pending_doc(self.store, request, redactor)
        provider = self._providers(pending.provider)
        app = self.apps.for_step(desc, pending, redactor)
        check = provider.validate(pending, app, self.ctx)
        if not check.valid:
            raise ProviderError(
                ErrorClass.REAUTH_REQUIRED,
                f"the new token failed the provider's validation ({check.detail or 'invalid'})",
                provider=pending.provider,
            )
        return StepOutcome.DONE

    def finish_secret(
        self,
        desc: SecretDescription,
        doc: TokenDocument,
        request: RotationRequest,
        redactor: Redactor,
    ) -> StepOutcome:
        """Move AWSCURRENT to the pending version, write the state tags (status ok, expiry,
        last rotation), and announce a recovery and any new provider notice."""
        pending = pending_doc(self.store, request, redactor)
        target, current = request.version_id, desc.version_with(AWSCURRENT)
        self.store.move_stage(
            request.secret_id, AWSCURRENT, to_version=target, from_version=current
        )
        now = self.ctx.now()
        last_good = last_rotation(desc.tags, None)
        decision = on_success(TokenState.from_tags(desc.tags), now=now, last_good=last_good)
        held, tags = self.failures.recovered(request.secret_id, desc.tags)
        tags |= decision.state.to_tags() | token_tags(pending)
        tags[TAG_LAST_ROTATED] = str(to_epoch(now))
        save_tags(self.store, request.secret_id, tags, metrics=self._metrics)
        self._metrics.count("Rotations", provider=pending.provider, outcome="rotated")
        recovered = decision.event is AlertEvent.RECOVERED and not held  # else the incident's
        for alert in _finish_alerts(
            request.secret_id, doc, pending, recovered=recovered, now=now, redactor=redactor
        ):
            publish_alert(self.notifier, alert)
        return StepOutcome.DONE


def _finish_alerts(  # noqa: PLR0913 - the rotation, then the alerts' terms
    secret_id: str,
    doc: TokenDocument,
    pending: TokenDocument,
    *,
    recovered: bool,  # the rotation ended a failure
    now: datetime,
    redactor: Redactor,
) -> list[Alert]:
    """What finishSecret announces: a recovery, and any provider notice that first appeared (the
    sweep's 30/7/1-day warnings follow up on the deadline it carries)."""
    alerts = [
        Alert(
            AlertEvent.RECOVERED,
            secret_id=secret_id,
            provider=pending.provider,
            message="the token was refreshed successfully again",
            occurred_at=now,
            expires_at=pending.expires_at,
        )
    ] * recovered
    return [
        *alerts,
        *new_notice_alerts(doc, pending, secret_id=secret_id, now=now, redact=redactor),
    ]
