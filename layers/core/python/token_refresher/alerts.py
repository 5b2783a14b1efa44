"""Alert messages published to SNS: body JSON, a short subject, and filterable attributes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from token_refresher.errors import ErrorClass
from token_refresher.timeutil import format_iso


class AlertEvent(StrEnum):
    REFRESH_FAILED = "token.refresh_failed"
    REAUTH_REQUIRED = "token.reauth_required"
    EXPIRING = "token.expiring"
    CONFIG_INVALID = "token.config_invalid"
    RECOVERED = "token.recovered"
    CONNECT_REFUSED = "token.connect_refused"  # a consent link was used by another account
    # Many connections failing for one cause (alerting/incidents.py): one message, not one each.
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_RESOLVED = "incident.resolved"
    # More re-authorizations of one app than the digest threshold: one message, every link.
    REAUTH_DIGEST = "token.reauth_digest"


SEVERITY = {
    AlertEvent.REFRESH_FAILED: "error",
    AlertEvent.REAUTH_REQUIRED: "critical",
    AlertEvent.EXPIRING: "warning",
    AlertEvent.CONFIG_INVALID: "error",
    AlertEvent.RECOVERED: "info",
    AlertEvent.CONNECT_REFUSED: "warning",
    AlertEvent.INCIDENT_OPENED: "error",
    AlertEvent.INCIDENT_UPDATED: "error",
    AlertEvent.INCIDENT_RESOLVED: "info",
    AlertEvent.REAUTH_DIGEST: "critical",
}

_SUBJECTS = {
    AlertEvent.REFRESH_FAILED: "token refresh failing",
    AlertEvent.REAUTH_REQUIRED: "re-authorization required",
    AlertEvent.EXPIRING: "token expiring",
    AlertEvent.CONFIG_INVALID: "token secret misconfigured",
    AlertEvent.RECOVERED: "token recovered",
    AlertEvent.CONNECT_REFUSED: "consent by another account refused",
    AlertEvent.INCIDENT_OPENED: "incident",
    AlertEvent.INCIDENT_UPDATED: "incident still open",
    AlertEvent.INCIDENT_RESOLVED: "incident resolved",
    AlertEvent.REAUTH_DIGEST: "re-authorizations required",
}


@dataclass(frozen=True)
class IncidentFacts:
    """What an ``incident.*`` alert says about its incident (alerting/incidents.py)."""

    incident_id: str
    cause: str  # in words: "google_ads app token-refresher/apps/g-main: config invalid_client"
    affected: int
    recovered: int = 0

    @property
    def still_failing(self) -> int:
        return max(0, self.affected - self.recovered)

    @property
    def list_command(self) -> str:
        return f"token-refresher status --incident {self.incident_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.incident_id,
            "cause": self.cause,
            "affected": self.affected,
            "recovered": self.recovered,
            "still_failing": self.still_failing,
            "list_command": self.list_command,
        }


@dataclass(frozen=True)
class Alert:
    event: AlertEvent
    secret_id: str
    provider: str | None
    message: str
    occurred_at: datetime
    error_class: str | None = None
    provider_code: str | None = None
    provider_subcode: str | None = None
    remediation: str | None = None
    expires_at: datetime | None = None
    consecutive_failures: int = 0
    reminder: bool = False
    # A link for the human (connect/): set on alerts that only a new consent resolves.
    reconnect_url: str | None = None
    # token.expiring only: False when a person must change configuration rather than consent.
    consent_resolves: bool = True
    # incident.* only: the incident this alert opens, updates or closes.
    incident: IncidentFacts | None = None
    # token.reauth_digest only: (secret id, its consent link or None) for every connection.
    links: tuple[tuple[str, str | None], ...] = ()

    @property
    def needs_consent(self) -> bool:
        """Does a new consent resolve this alert (so it should carry a reconnect link)?"""
        if self.event is AlertEvent.REAUTH_REQUIRED:
            return True
        return self.event is AlertEvent.EXPIRING and self.consent_resolves

    @property
    def severity(self) -> str:
        return SEVERITY[self.event]

    def subject(self) -> str:
        # SNS subjects: ASCII, no newlines, at most 100 characters.
        name = (
            self.secret_id.rsplit(":", 1)[-1]
            if self.secret_id.startswith("arn:")
            else self.secret_id
        )
        prefix = "[token-refresher] " + ("reminder: " if self.reminder else "")
        if self.incident is not None:
            name = f"{self.incident.still_failing} connections, {self.incident.incident_id}"
        text = f"{prefix}{self.provider or 'unknown'} {_SUBJECTS[self.event]}: {name}"
        return text.encode("ascii", "replace").decode("ascii").replace("\n", " ")[:100]

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event.value,
            "severity": self.severity,
            "secret_id": self.secret_id,
            "provider": self.provider,
            "error_class": self.error_class,
            "provider_code": self.provider_code,
            "provider_subcode": self.provider_subcode,
            "message": self.message,
            "remediation": self.remediation,
            "expires_at": format_iso(self.expires_at) if self.expires_at else None,
            "consecutive_failures": self.consecutive_failures,
            "reminder": self.reminder,
            "occurred_at": format_iso(self.occurred_at),
            "reconnect_url": self.reconnect_url,
            "incident": self.incident.to_dict() if self.incident else None,
            "links": [{"secret_id": sid, "reconnect_url": url} for sid, url in self.links],
        }

    def attributes(self) -> dict[str, str]:
        return {
            "event": self.event.value,
            "provider": self.provider or "unknown",
            "severity": self.severity,
        }


# --- incidents (alerting/incidents.py groups failures; adapters/incidents.py stores them) ------


class CauseKind(StrEnum):
    APP = "app"  # one app's credentials or configuration
    PLATFORM_ERROR = "platform-error"  # a platform answering 5xx, or not at all
    RATE_LIMIT = "rate-limit"  # a platform throttling
    CONSENT = "consent"  # re-authorizations of one app: a person each, batched (alerting/digests)


@dataclass(frozen=True)
class Cause:
    kind: CauseKind
    provider: str
    app: str | None = None
    error_class: str = ErrorClass.TRANSIENT.value
    code: str | None = None

    @property
    def key(self) -> str:
        return "|".join((self.kind.value, self.provider, self.app or "", self.error_class,
                         self.code or ""))  # fmt: skip

    def describe(self) -> str:
        if self.kind is CauseKind.RATE_LIMIT:
            return f"{self.provider} is rate-limiting the refresher"
        if self.kind is CauseKind.PLATFORM_ERROR:
            return f"{self.provider} is failing or unreachable (5xx, timeouts)"
        code = f" {self.code}" if self.code else ""
        return f"{self.provider} app {self.app}: {self.error_class}{code}"

    def remediation(self) -> str:
        if self.kind is CauseKind.APP:
            return (
                f"Check the app credentials secret {self.app} (a rotated or revoked client "
                "secret?) and the app's settings at the platform; fix them once, then "
                "`token-refresher rotate --force` the connections listed."
            )
        return (
            f"Nothing to do per connection: the refresher retries on every sweep. Check "
            f"{self.provider}'s status page; if it lasts, lower the load (SweepConcurrency)."
        )


@dataclass(frozen=True)
class Incident:
    incident_id: str
    cause: Cause
    opened_at: datetime
    last_failure_at: datetime
    affected: int = 0  # connections that failed for this cause while it was open
    recovered: int = 0  # of those, recovered since
    held: int = 0  # members whose alert is held
    announced_at: datetime | None = None
    updated: bool = False  # the one incident.updated was sent
    announced_affected: int = 0
    closed: bool = False

    def facts(self) -> IncidentFacts:
        return IncidentFacts(self.incident_id, self.cause.describe(), self.affected, self.recovered)


class Transition(StrEnum):
    ANNOUNCE = "announce"  # not announced -> announced (incident.opened)
    UPDATE = "update"  # announced, not updated -> updated (incident.updated)
    CLOSE = "close"  # open -> closed (incident.resolved, or dispersed)
