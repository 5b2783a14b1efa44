"""The Secrets Manager rotation protocol: createSecret, setSecret, testSecret, finishSecret.

Shape of AWS's rotation template: preconditions first, one method per step, the store, notifier and
provider context passed in, and every step idempotent on ClientRequestToken (the version id).

- createSecret calls the provider at most once and writes AWSPENDING immediately after it answers.
  If a pending value for this token already exists it is reused and the provider is not called: a
  rotated refresh token is never thrown away.
- testSecret validates the pending token with the provider's own check.
- finishSecret promotes the pending version to AWSCURRENT, then updates the state tags.
- Any failure: the state tags are updated, an SNS alert is sent when the alerting policy says
  so, one structured log line is written without token material, and the error is re-raised so
  that Secrets Manager records the failed rotation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import (
    AWSCURRENT,
    AWSPENDING,
    SecretDescription,
    SecretNotFound,
    SecretStore,
)
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.binding import BindingCheck, verify_app_binding
from token_refresher.errors import (
    ConfigError,
    ErrorClass,
    ProviderError,
    RotationStateError,
    TokenRefresherError,
    VersionNotPending,
)
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.observability import MetricSink, NullMetrics, logger
from token_refresher.providers import get_provider
from token_refresher.providers.base import NoticeKind, Provider, ProviderContext, RefreshResult
from token_refresher.redact import Redactor
from token_refresher.state import (
    BINDING_DECLARED,
    BINDING_UNDECLARED,
    NEVER,
    TAG_APP_BINDING,
    TAG_DEADLINE,
    TAG_EXPIRES_AT,
    TAG_FORCE_AFTER,
    TAG_KIND,
    TAG_LAST_ROTATED,
    TAG_PROVIDER,
    AlertPolicy,
    TokenState,
    on_failure,
    on_success,
)
from token_refresher.timeutil import format_iso, parse_iso, to_epoch

APP_CREDENTIALS_TTL_SECONDS = 300


class Step(StrEnum):
    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"


_STEP_ALIASES = {s.value.lower(): s for s in Step} | {
    "create_secret": Step.CREATE,
    "set_secret": Step.SET,
    "test_secret": Step.TEST,
    "finish_secret": Step.FINISH,
}


@dataclass(frozen=True)
class RotationRequest:
    step: Step
    secret_id: str
    token: str

    @classmethod
    def from_event(cls, event: object) -> RotationRequest:
        if not isinstance(event, Mapping):
            raise ConfigError("must be a JSON object", field="event")
        values: dict[str, str] = {}
        for key in ("Step", "SecretId", "ClientRequestToken"):
            value = event.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError("is required and must be a non-empty string", field=key)
            values[key] = value.strip()
        step = _STEP_ALIASES.get(values["Step"].lower())
        if step is None:
            raise ConfigError(
                "must be one of createSecret, setSecret, testSecret, finishSecret "
                "(create_secret... accepted too)",
                field="Step",
            )
        return cls(step=step, secret_id=values["SecretId"], token=values["ClientRequestToken"])


@dataclass(frozen=True)
class StepResult:
    step: Step
    secret_id: str
    outcome: str  # "done" | "skipped" | "reused" | "not_refreshed_recent" | "refused"
    reason: str | None = None  # why a step was refused


class RotationEngine:
    def __init__(
        self,
        store: SecretStore,
        notifier: Notifier,
        provider_ctx: ProviderContext,
        *,
        policy: AlertPolicy | None = None,
        providers: Callable[[str], Provider] = get_provider,
        metrics: MetricSink | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        min_refresh_interval: timedelta = timedelta(minutes=10),
    ) -> None:
        self.min_refresh_interval = min_refresh_interval
        self.store = store
        self.notifier = notifier
        self.ctx = provider_ctx
        self.policy = policy or AlertPolicy()
        self._providers = providers
        self._metrics = metrics or NullMetrics()
        self._monotonic = monotonic
        self._app_cache: dict[str, tuple[float, AppCredentials]] = {}

    # --- entry point ---------------------------------------------------------------------------

    def run(self, request: RotationRequest) -> StepResult:
        redactor = Redactor()
        doc: TokenDocument | None = None
        desc: SecretDescription | None = None
        try:
            desc = self._describe(request.secret_id)
            if self._already_current(desc, request):
                return StepResult(request.step, request.secret_id, "skipped")
            current_text = self.store.get_value(request.secret_id, stage=AWSCURRENT)
            doc = self._parse(current_text, redactor)
            if request.step is Step.CREATE:
                outcome = self.create_secret(desc, doc, request, redactor)
            elif request.step is Step.SET:
                outcome = "done"  # the provider issues tokens itself: nothing to set
            elif request.step is Step.TEST:
                outcome = self.test_secret(desc, doc, request, redactor)
            else:
                outcome = self.finish_secret(desc, doc, request, redactor)
        except VersionNotPending as refused:
            provider = desc.tags.get(TAG_PROVIDER, "unknown") if desc else "unknown"
            return self._refuse(request, refused, provider)
        except TokenRefresherError as err:
            self._fail(request, desc, doc, err, redactor)
            raise
        except (ClientError, BotoCoreError) as exc:
            aws_err = ProviderError(
                ErrorClass.TRANSIENT,
                f"Secrets Manager call failed: {_aws_error_code(exc)}",
                provider=doc.provider if doc else None,
            )
            self._fail(request, desc, doc, aws_err, redactor)
            raise
        logger.info(
            "rotation step done",
            extra={
                "secret_id": request.secret_id,
                "step": request.step.value,
                "provider": doc.provider,
                "outcome": outcome,
                "version_id": request.token,
            },
        )
        return StepResult(request.step, request.secret_id, outcome)

    def _refuse(
        self, request: RotationRequest, refused: VersionNotPending, provider: str
    ) -> StepResult:
        """A step for a version that is not pending: nothing runs, no tag, no alert, no error.

        Secrets Manager only calls a step for the version RotateSecret staged AWSPENDING, so this
        is a hand-run step with a wrong id (or a retry after a cancelled rotation). Raising would
        count as a function error (the rotation-errors alarm); marking the connection failing
        would page someone for a typo.
        """
        reason = (
            f"{refused.message}; the pending version id is the one staged AWSPENDING in: "
            f"aws secretsmanager describe-secret --secret-id {request.secret_id} "
            "--query VersionIdsToStages"
        )
        logger.warning(
            "rotation step refused: not the pending version",
            extra={
                "secret_id": request.secret_id,
                "step": request.step.value,
                "provider": provider,
                "version_id": request.token,
                "reason": refused.message,
            },
        )
        self._metrics.count("Rotations", provider=provider, outcome="refused")
        return StepResult(request.step, request.secret_id, "refused", reason)

    # --- preconditions -------------------------------------------------------------------------

    def _describe(self, secret_id: str) -> SecretDescription:
        try:
            return self.store.describe(secret_id)
        except SecretNotFound:
            raise ConfigError("secret not found", field="SecretId") from None

    @staticmethod
    def _already_current(desc: SecretDescription, request: RotationRequest) -> bool:
        if not desc.rotation_enabled:
            # Secrets Manager only calls us for a rotation it started; LocalStack reports
            # RotationEnabled=false after a RotateSecret without rules, so do not refuse.
            logger.warning(
                "secret is not marked enabled for rotation", extra={"secret_id": desc.name}
            )
        stages = desc.versions.get(request.token)
        if stages is None:
            raise VersionNotPending(f"secret {desc.name} has no version {request.token} to rotate")
        if AWSCURRENT in stages:
            logger.info(
                "version already AWSCURRENT: nothing to do",
                extra={"secret_id": request.secret_id, "step": request.step.value},
            )
            return True
        if AWSPENDING not in stages:
            raise VersionNotPending(
                f"version {request.token} of {desc.name} is not staged AWSPENDING"
            )
        return False

    def _parse(self, text: str | None, redactor: Redactor) -> TokenDocument:
        if text is None:
            raise ConfigError("the secret has no AWSCURRENT value", field="secret")
        doc = TokenDocument.from_json(text)
        redactor.add(*doc.secret_values())
        return doc

    def app_credentials(
        self, desc: SecretDescription, doc: TokenDocument, redactor: Redactor
    ) -> AppCredentials | None:
        """The connection's app credentials, checked against their declared use (binding.py).

        Read-only (a check may call it); the rotation steps use :meth:`_step_app`.
        """
        return self._bound_app(desc, doc, redactor)[0]

    def _bound_app(
        self, desc: SecretDescription, doc: TokenDocument, redactor: Redactor
    ) -> tuple[AppCredentials | None, BindingCheck | None]:
        provider = self._providers(doc.provider)
        if not doc.app_secret_id:
            if provider.requires_app_credentials:
                raise ConfigError("is required for this provider", field="app_secret_id")
            return None, None
        cached = self._app_cache.get(doc.app_secret_id)
        now = self._monotonic()
        if cached and now - cached[0] < APP_CREDENTIALS_TTL_SECONDS:
            app = cached[1]
        else:
            try:
                text = self.store.get_value(doc.app_secret_id, stage=AWSCURRENT)
            except ClientError as exc:
                if _aws_error_code(exc) in ("AccessDeniedException", "ResourceNotFoundException"):
                    text = None
                else:
                    raise
            if text is None:
                raise ConfigError(
                    f"app credentials secret {doc.app_secret_id!r} not found or not readable "
                    "(it must exist and its name must start with the configured prefix)",
                    field="app_secret_id",
                )
            app = AppCredentials.from_json(text, "app_secret_id")
            self._app_cache[doc.app_secret_id] = (now, app)
        redactor.add_signing_key(app.client_secret)  # masks each token's appsecret_proof too
        redactor.add(*app.secret_values())
        # Before any network call: a connection may not use another provider's app credentials
        # nor send them to a URL their owner did not allow (the confused-deputy path).
        check = verify_app_binding(desc.name, doc, doc.app_secret_id, app)
        if check.warning:
            logger.warning(
                "app credentials declare no provider",
                extra={
                    "secret_id": desc.name,
                    "provider": doc.provider,
                    "app_secret_id": doc.app_secret_id,
                    "warning": check.warning,
                },
            )
        return app, check

    def _step_app(
        self, desc: SecretDescription, doc: TokenDocument, redactor: Redactor
    ) -> AppCredentials | None:
        """:meth:`app_credentials`, and the connection's app-binding tag kept current (status)."""
        app, check = self._bound_app(desc, doc, redactor)
        # Written only when it changes to or from "undeclared": declared apps cost no extra write.
        tagged = desc.tags.get(TAG_APP_BINDING)
        if check is not None and (tagged == BINDING_UNDECLARED) == check.declared:
            value = BINDING_DECLARED if check.declared else BINDING_UNDECLARED
            self._safe_tag(desc.arn, {TAG_APP_BINDING: value})
        return app

    # --- the four steps ------------------------------------------------------------------------

    def create_secret(
        self,
        desc: SecretDescription,
        doc: TokenDocument,
        request: RotationRequest,
        redactor: Redactor,
    ) -> str:
        existing = self.store.get_value(
            request.secret_id, version_id=request.token, stage=AWSPENDING
        )
        if existing is not None:
            logger.info(
                "pending value already written for this token: reusing it, provider not called",
                extra={"secret_id": request.secret_id, "provider": doc.provider},
            )
            return "reused"
        adopted = self._adopt_stuck_pending(desc, doc, request)
        if adopted is not None:
            self.store.put_pending(request.secret_id, request.token, adopted)
            return "reused"
        if self._refreshed_moments_ago(desc, doc):
            # Another rotation refreshed this token minutes ago (a race between triggers, or a
            # second rotate-secret): finish this one with the current value, no provider call.
            logger.info(
                "refreshed less than the minimum interval ago: rotating without a provider call",
                extra={"secret_id": request.secret_id, "provider": doc.provider},
            )
            self.store.put_pending(request.secret_id, request.token, doc.to_json())
            return "not_refreshed_recent"
        provider = self._providers(doc.provider)
        app = self._step_app(desc, doc, redactor)
        result = provider.refresh(doc, app, self.ctx)
        redactor.add(result.access_token, result.refresh_token)
        new_doc = merge_refresh(doc, result, self.ctx.now())
        # Written before anything else can fail: the new (maybe rotated) refresh token is safe now.
        self.store.put_pending(request.secret_id, request.token, new_doc.to_json())
        self._metrics.count("ProviderRefreshes", provider=doc.provider)
        return "done"

    def _refreshed_moments_ago(self, desc: SecretDescription, doc: TokenDocument) -> bool:
        if doc.last_refreshed_at is None:
            return False
        if self.ctx.now() - doc.last_refreshed_at >= self.min_refresh_interval:
            return False
        forced = desc.tags.get(TAG_FORCE_AFTER, "")
        return not (forced.isdigit() and int(forced) >= to_epoch(doc.last_refreshed_at))

    def _adopt_stuck_pending(
        self, desc: SecretDescription, doc: TokenDocument, request: RotationRequest
    ) -> str | None:
        """A refreshed value left at AWSPENDING on another version by a failed rotation."""
        for version_id, stages in desc.versions.items():
            if version_id == request.token or AWSPENDING not in stages or AWSCURRENT in stages:
                continue
            text = self.store.get_value(request.secret_id, version_id=version_id)
            if text is None:
                continue
            try:
                stuck = TokenDocument.from_json(text)
            except ConfigError:
                continue
            newer = stuck.last_refreshed_at is not None and (
                doc.last_refreshed_at is None or stuck.last_refreshed_at > doc.last_refreshed_at
            )
            if newer:
                logger.warning(
                    "adopting a refreshed value left pending by an earlier failed rotation",
                    extra={"secret_id": request.secret_id, "stuck_version_id": version_id},
                )
                return text
        return None

    def test_secret(
        self,
        desc: SecretDescription,
        doc: TokenDocument,
        request: RotationRequest,
        redactor: Redactor,
    ) -> str:
        pending = self._pending_doc(request, redactor)
        provider = self._providers(pending.provider)
        app = self._step_app(desc, pending, redactor)
        check = provider.validate(pending, app, self.ctx)
        if not check.valid:
            raise ProviderError(
                ErrorClass.REAUTH_REQUIRED,
                f"the new token failed the provider's validation ({check.detail or 'invalid'})",
                provider=pending.provider,
            )
        return "done"

    def finish_secret(
        self,
        desc: SecretDescription,
        doc: TokenDocument,
        request: RotationRequest,
        redactor: Redactor,
    ) -> str:
        pending = self._pending_doc(request, redactor)
        current_version = desc.version_with(AWSCURRENT)
        self.store.move_stage(
            request.secret_id, AWSCURRENT, to_version=request.token, from_version=current_version
        )
        now = self.ctx.now()
        decision = on_success(TokenState.from_tags(desc.tags), now=now)
        tags = (
            decision.state.to_tags() | token_tags(pending) | {TAG_LAST_ROTATED: str(to_epoch(now))}
        )
        self._safe_tag(request.secret_id, tags)
        self._metrics.count("Rotations", provider=pending.provider, outcome="rotated")
        if decision.event is AlertEvent.RECOVERED:
            self._publish(
                Alert(
                    AlertEvent.RECOVERED,
                    secret_id=request.secret_id,
                    provider=pending.provider,
                    message="the token was refreshed successfully again",
                    occurred_at=now,
                    expires_at=pending.expires_at,
                )
            )
        # A notice is announced once, when it first appears; the sweep's 30/7/1-day warnings
        # follow up on the deadline it carries.
        known = {(n.get("kind"), n.get("deadline")) for n in doc.notices}
        for notice in pending.notices:
            remediation = _NOTICE_REMEDIATION.get(str(notice.get("kind")))
            if remediation is None or (notice.get("kind"), notice.get("deadline")) in known:
                continue
            self._publish(
                Alert(
                    AlertEvent.EXPIRING,
                    secret_id=request.secret_id,
                    provider=pending.provider,
                    message=redactor(str(notice.get("message", notice.get("kind")))),
                    remediation=remediation,
                    occurred_at=now,
                    expires_at=_notice_deadline(notice),
                )
            )
        return "done"

    def _pending_doc(self, request: RotationRequest, redactor: Redactor) -> TokenDocument:
        text = self.store.get_value(request.secret_id, version_id=request.token, stage=AWSPENDING)
        if text is None:
            raise RotationStateError(f"no AWSPENDING value for version {request.token}")
        doc = TokenDocument.from_json(text)
        redactor.add(*doc.secret_values())
        return doc

    # --- failures ------------------------------------------------------------------------------

    def _fail(
        self,
        request: RotationRequest,
        desc: SecretDescription | None,
        doc: TokenDocument | None,
        err: TokenRefresherError,
        redactor: Redactor,
    ) -> None:
        provider = doc.provider if doc else (desc.tags.get(TAG_PROVIDER) if desc else None)
        now = self.ctx.now()
        message = redactor(err.message)
        # The exception goes back to Secrets Manager (and into Lambda's error report): scrub it.
        err.message = message
        err.args = (message,)
        if err.remediation:
            err.remediation = redactor(err.remediation)
        logger.error(
            "rotation step failed",
            extra={
                "secret_id": request.secret_id,
                "step": request.step.value,
                "provider": provider,
                "error_class": err.error_class.value,
                "provider_code": err.provider_code,
                "provider_subcode": err.provider_subcode,
                "error": message,
            },
        )
        self._metrics.count(
            "Rotations", provider=provider or "unknown", outcome=err.error_class.value
        )
        if desc is None:
            return  # no such secret: nothing to tag, nobody to tell about a typo'd id
        expires_at = doc.expires_at if doc else None
        decision = on_failure(
            TokenState.from_tags(desc.tags),
            err.error_class,
            now=now,
            expires_at=expires_at,
            policy=self.policy,
        )
        self._safe_tag(request.secret_id, decision.state.to_tags())
        if decision.event is None:
            return
        self._publish(
            Alert(
                decision.event,
                secret_id=request.secret_id,
                provider=provider,
                message=message,
                occurred_at=now,
                error_class=err.error_class.value,
                provider_code=err.provider_code,
                provider_subcode=err.provider_subcode,
                remediation=err.remediation,
                expires_at=expires_at,
                consecutive_failures=decision.state.consecutive_failures,
                reminder=decision.reminder,
            )
        )

    def _safe_tag(self, secret_id: str, tags: Mapping[str, str]) -> None:
        try:
            self.store.tag(secret_id, tags)
        except (ClientError, BotoCoreError) as exc:
            logger.error(
                "could not update state tags",
                extra={"secret_id": secret_id, "aws_error": _aws_error_code(exc)},
            )

    def _publish(self, alert: Alert) -> None:
        try:
            self.notifier.publish(alert)
        except (ClientError, BotoCoreError) as exc:
            logger.error(
                "could not publish alert",
                extra={
                    "secret_id": alert.secret_id,
                    "event": alert.event.value,
                    "aws_error": _aws_error_code(exc),
                },
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


_NOTICE_REMEDIATION = {
    NoticeKind.NOT_EXTENDED.value: (
        "The provider would not extend this token: ask the user to sign in again and store the "
        "new token before the deadline."
    ),
    NoticeKind.API_VERSION_ENDING.value: (
        "Set options.graph_version in the token secret to a supported Graph API version before "
        "the deadline."
    ),
}


def merge_refresh(doc: TokenDocument, result: RefreshResult, now: datetime) -> TokenDocument:
    """The new document: provider answer merged in, everything else (unknown fields too) kept."""
    return doc.evolve(
        access_token=result.access_token,
        expires_at=result.expires_at,
        refresh_token=result.refresh_token or doc.refresh_token,
        refresh_token_expires_at=result.refresh_token_expires_at or doc.refresh_token_expires_at,
        data_access_expires_at=result.data_access_expires_at or doc.data_access_expires_at,
        last_refreshed_at=now,
        options={**doc.options, **result.options_update},
        notices=tuple(
            {
                "kind": n.kind.value,
                "message": n.message,
                "deadline": format_iso(n.deadline) if n.deadline else None,
            }
            for n in result.notices
        ),
    )


def human_deadline(doc: TokenDocument) -> datetime | None:
    """The earliest date only a human can push back."""
    candidates = [doc.data_access_expires_at, doc.refresh_token_expires_at]
    candidates += [
        _notice_deadline(n) for n in doc.notices if n.get("kind") == NoticeKind.NOT_EXTENDED.value
    ]
    present = [c for c in candidates if c is not None]
    return min(present) if present else None


def token_tags(doc: TokenDocument) -> dict[str, str]:
    deadline = human_deadline(doc)
    return {
        TAG_PROVIDER: doc.provider,
        TAG_KIND: doc.kind or "default",
        TAG_EXPIRES_AT: str(to_epoch(doc.expires_at)) if doc.expires_at else NEVER,
        TAG_DEADLINE: str(to_epoch(deadline)) if deadline else NEVER,
    }


def _notice_deadline(notice: Mapping[str, Any]) -> datetime | None:
    value = notice.get("deadline")
    try:
        return parse_iso(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _aws_error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
