"""The rotation function's half of the daily liveness check: validate, then record the verdict.

The sweep asks with ``{"action": "liveness", "secret_id": "..."}``
(adapters/rotation_function.py). The validation is `token-refresher check`'s (rotation/check.py:
the rotation engine's store, app credentials lookup and provider validation: Meta
``debug_token``, LinkedIn ``introspectToken``, TikTok ``advertiser/get``, Google and Amazon
``tokeninfo``...), and unlike that read-only check the verdict is recorded through the
rotation's own failure policy (alerting/failures.py, state.py):

- valid: the ``checked-at`` tag; a connection that was ``failing`` is ``ok`` again
  (``token.recovered``);
- not checkable (the platform offers no check, e.g. an oauth2 connection without
  ``introspection_url``): only ``unchecked-at``, which paces the sweep but claims nothing; no
  recovery is declared;
- invalid or revoked: ``reauth-required`` and one ``token.reauth_required`` alert, with its
  reconnect link (connect/reconnect.py), exactly as a failed rotation would send;
- a configuration or permission problem: ``failing`` and its alert, as for a rotation;
- transient (the platform unreachable): counted like a rotation's blip, no ``checked-at``, so the
  next sweep asks again.

Only this instance's managed secrets are checked; anything else is refused without a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.secrets import SecretDescription, SecretNotFound
from token_refresher.alerting.failures import FailureReporter, publish_alert, save_tags
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.errors import ConfigError, ErrorClass, ProviderError
from token_refresher.events import LIVENESS_ACTION
from token_refresher.instances import refusal
from token_refresher.observability import logger
from token_refresher.rotation.check import CheckReport, CheckRequest, ConnectionChecker
from token_refresher.state import (
    TAG_CHECKED_AT,
    TAG_MANAGED,
    TAG_UNCHECKED_AT,
    Status,
    TokenState,
    last_validated,
    on_success,
)
from token_refresher.timeutil import to_epoch

_FIELDS = frozenset({"action", "secret_id"})


@dataclass(frozen=True)
class LivenessRequest:
    secret_id: str

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> LivenessRequest:
        unknown = sorted(set(event) - _FIELDS)
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)}", field="event")
        secret_id = event.get("secret_id")
        if not isinstance(secret_id, str) or not secret_id.strip():
            raise ConfigError("is required and must be a non-empty string", field="secret_id")
        return cls(secret_id.strip())


class LivenessCheck:
    def __init__(
        self, checker: ConnectionChecker, failures: FailureReporter, *, instance: str
    ) -> None:
        self.checker = checker
        self.failures = failures
        self.store = failures.store
        self.instance = instance

    def run(self, request: LivenessRequest) -> dict[str, Any]:
        """The daily liveness check of one connection: validate, then record the verdict.

        Args:
            request: the secret the sweep asked about.

        Returns:
            The check report as a dict, with ``recorded`` (False when the secret is not this
            instance's managed one, so nothing was checked or written).

        Raises:
            AwsError: recording the verdict (tags, alert) failed; the asynchronous invoke is
                retried.
        """
        desc = self._own(request.secret_id)
        if desc is None:
            return {"action": LIVENESS_ACTION, "secret_id": request.secret_id, "recorded": False}
        report = self.checker.run(CheckRequest(desc.arn))
        if report.ok:
            self._valid(desc, report)
        else:
            self._invalid(desc, report)
        return report.to_dict() | {"action": LIVENESS_ACTION, "recorded": True}

    def _own(self, secret_id: str) -> SecretDescription | None:
        try:
            desc = self.store.describe(secret_id)
        except (SecretNotFound, AwsError) as exc:
            why: str | None = type(exc).__name__
        else:
            why = refusal(desc.tags, self.instance)
            if desc.tags.get(TAG_MANAGED) != "true":
                why = why or "not managed"
        if why is None:
            return desc
        logger.warning("liveness check refused", extra={"secret_id": secret_id, "reason": why})
        return None

    def _valid(self, desc: SecretDescription, report: CheckReport) -> None:
        now = self.failures.clock()
        self.failures.metrics.count(
            "LivenessChecks",
            provider=report.provider or "unknown",
            outcome="ok" if report.checked else "unchecked",
        )
        if not report.checked:
            tag = {TAG_UNCHECKED_AT: str(to_epoch(now))}
            save_tags(self.store, desc.arn, tag, what="the liveness attempt time")
            return
        held, incident_tags = self.failures.recovered(desc.arn, desc.tags)
        tags = {TAG_CHECKED_AT: str(to_epoch(now))} | incident_tags
        state = TokenState.from_tags(desc.tags)
        if state.status is Status.OK:
            save_tags(self.store, desc.arn, tags, what="the liveness check time")
            return
        decision = on_success(state, now=now, last_good=last_validated(desc.tags, None))
        save_tags(self.store, desc.arn, tags | decision.state.to_tags())
        if held or decision.event is None:  # an incident's resolution speaks for it, or untold
            return
        publish_alert(
            self.failures.notifier,
            Alert(
                AlertEvent.RECOVERED,
                secret_id=desc.arn,
                provider=report.provider,
                message="the daily check found the token valid again",
                occurred_at=now,
            ),
        )

    def _invalid(self, desc: SecretDescription, report: CheckReport) -> None:
        error_class = ErrorClass(report.error_class or ErrorClass.TRANSIENT.value)
        err = ProviderError(
            error_class,
            f"daily check: {report.message}",
            provider=report.provider,
            provider_code=report.provider_code,
            provider_subcode=report.provider_subcode,
            remediation=report.remediation,
        )
        self.failures.check_failed(desc, report.provider, err)
        if error_class is not ErrorClass.TRANSIENT:
            now = self.failures.clock()
            save_tags(self.store, desc.arn, {TAG_CHECKED_AT: str(to_epoch(now))})
