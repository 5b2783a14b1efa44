"""The project's one error root, and the error classes every failure maps into.

Every error the library raises on purpose derives from :class:`TokenRefresherError`: the
providers' (``ProviderError``), the configuration's (``ConfigError``), the AWS adapters'
(``adapters.errors.AwsError``) and the consent flow's (``connect.links.LinkError``,
``connect.flow.FlowError``). Each carries an :class:`ErrorClass`, and ``retryable`` follows from it:
only a transient failure can succeed when tried again later. The failure policy (``state.py``)
reads ``retryable`` and nothing else to decide whether one failure is a blip.

Messages carried by these exceptions are meant for humans, logs and alerts: they must never contain
token material. Providers build them from error codes and descriptions only, and the rotation engine
passes every outgoing text through a :class:`~token_refresher.redact.Redactor` as a second line of
defence.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ConfigError",
    "ErrorClass",
    "ProviderError",
    "RotationStateError",
    "SecretFormatError",
    "TokenRefresherError",
    "VersionNotPending",
]


class ErrorClass(StrEnum):
    REAUTH_REQUIRED = "reauth_required"  # a human must authorize again
    CONFIG = "config"  # our side is wrong: fix the secret, the app credentials, the settings
    PERMISSION = "permission"  # scopes, roles or a link that does not allow this
    TRANSIENT = "transient"  # network, 5xx, throttling: the same call can succeed later

    @property
    def retryable(self) -> bool:
        """Whether trying the same call again later can succeed (only a transient failure)."""
        return self is ErrorClass.TRANSIENT


class TokenRefresherError(Exception):
    """The root of the project's errors: a classified failure. ``str(err)`` is safe to log."""

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

    @property
    def retryable(self) -> bool:
        """Whether the same call can succeed later (from the error class: transient only)."""
        return self.error_class.retryable

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
