"""Alert messages published to SNS: body JSON, a short subject, and filterable attributes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from token_refresher.timeutil import format_iso


class AlertEvent(StrEnum):
    REFRESH_FAILED = "token.refresh_failed"
    REAUTH_REQUIRED = "token.reauth_required"
    EXPIRING = "token.expiring"
    CONFIG_INVALID = "token.config_invalid"
    RECOVERED = "token.recovered"
    CONNECT_REFUSED = "token.connect_refused"  # a consent link was used by another account


SEVERITY = {
    AlertEvent.REFRESH_FAILED: "error",
    AlertEvent.REAUTH_REQUIRED: "critical",
    AlertEvent.EXPIRING: "warning",
    AlertEvent.CONFIG_INVALID: "error",
    AlertEvent.RECOVERED: "info",
    AlertEvent.CONNECT_REFUSED: "warning",
}

_SUBJECTS = {
    AlertEvent.REFRESH_FAILED: "token refresh failing",
    AlertEvent.REAUTH_REQUIRED: "re-authorization required",
    AlertEvent.EXPIRING: "token expiring",
    AlertEvent.CONFIG_INVALID: "token secret misconfigured",
    AlertEvent.RECOVERED: "token recovered",
    AlertEvent.CONNECT_REFUSED: "consent by another account refused",
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
        }

    def attributes(self) -> dict[str, str]:
        return {
            "event": self.event.value,
            "provider": self.provider or "unknown",
            "severity": self.severity,
        }
