"""Error classes every provider maps into.

Messages carried by these exceptions are meant for humans, logs and alerts: they must never contain
token material. Providers build them from error codes and descriptions only, and the rotation engine
passes every outgoing text through a :class:`~token_refresher.redact.Redactor` as a second line of
defence.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorClass(StrEnum):
    REAUTH_REQUIRED = "reauth_required"
    CONFIG = "config"
    PERMISSION = "permission"
    TRANSIENT = "transient"


class TokenRefresherError(Exception):
    """A classified failure. ``str(err)`` is safe to log."""

    def __init__(  # noqa: PLR0913 - the alert fields an error carries, keyword-only
        self,
        error_class: ErrorClass,
        message: str,
        *,
        provider: str | None = None,
        provider_code: str | int | None = None,
        provider_subcode: str | int | None = None,
        retry_after: float | None = None,
        remediation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.provider = provider
        self.provider_code = None if provider_code is None else str(provider_code)
        self.provider_subcode = None if provider_subcode is None else str(provider_subcode)
        self.retry_after = retry_after
        self.remediation = remediation

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.error_class.value!r}, {self.message!r}, "
            f"provider={self.provider!r}, code={self.provider_code!r}, "
            f"subcode={self.provider_subcode!r})"
        )


class ConfigError(TokenRefresherError):
    """Our side is wrong: malformed secret, unknown provider, missing app credentials..."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: object) -> None:
        self.field = field
        text = f"{field}: {message}" if field else message
        super().__init__(ErrorClass.CONFIG, text, **kwargs)  # type: ignore[arg-type]


class SecretFormatError(ConfigError):
    """The token secret's JSON document is invalid; ``field`` names the bad field."""


class ProviderError(TokenRefresherError):
    """The provider answered with an error, or could not be reached."""


class RotationStateError(TokenRefresherError):
    """Secrets Manager's version state does not allow this rotation step."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorClass.CONFIG, message)


class VersionNotPending(RotationStateError):
    """The step names a version that is not this secret's pending one (a hand-run step with the
    wrong ClientRequestToken, or a retry after the rotation was cancelled). Refused quietly: it
    says nothing about the connection's health, so no state tag changes and nobody is alerted."""
