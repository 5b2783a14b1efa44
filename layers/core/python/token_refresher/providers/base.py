"""The provider interface and the pieces most OAuth 2.0 providers share.

A provider module is small: it knows its endpoints, the request shapes, and how to map the
provider's own error codes into :class:`~token_refresher.errors.ErrorClass`. It never talks to AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.http import HttpClient, HttpResponse, check_url, retry_after_seconds
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.timeutil import Clock, utcnow

__all__ = [
    "MAX_EXPIRES_IN",
    "MIN_EXPIRES_IN",
    "OAUTH_ERROR_CLASSES",
    "OAUTH_REMEDIATION",
    "Notice",
    "NoticeKind",
    "Provider",
    "ProviderContext",
    "RefreshResult",
    "ValidationResult",
    "countdown_at",
    "expires_at_from",
    "json_object",
    "malformed",
    "oauth_error",
    "oauth_token_response",
    "require_app",
    "require_refresh_token",
    "token_string",
]

# expires_in values outside this range are treated as a malformed answer rather than trusted.
MIN_EXPIRES_IN = 60
MAX_EXPIRES_IN = 400 * 24 * 3600


class NoticeKind(StrEnum):
    NOT_EXTENDED = "not_extended"  # the provider did not push the expiry further out
    VALIDATED_ONLY = "validated_only"  # a token that cannot be refreshed was checked instead
    API_VERSION_ENDING = "api_version_ending"  # the pinned API version is close to its end


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    message: str
    deadline: datetime | None = None


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh produced. ``refresh_token=None`` means "keep the one we have"."""

    access_token: str
    expires_at: datetime | None
    refresh_token: str | None = None
    refresh_token_expires_at: datetime | None = None
    data_access_expires_at: datetime | None = None
    notices: tuple[Notice, ...] = ()
    options_update: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationResult:
    """A validation's verdict.

    ``checked=False`` says the platform was not asked, because it offers no way to check this
    token: ``valid`` then rests on the document alone (present, not past its stored expiry) and
    gives no assurance that the grant is still alive. The daily liveness check records no
    ``checked-at`` for such an answer.
    """

    valid: bool
    expires_at: datetime | None = None
    data_access_expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    detail: str = ""
    checked: bool = True


@dataclass(frozen=True)
class ProviderContext:
    http: HttpClient
    endpoints: Mapping[str, str] = field(default_factory=dict)  # provider name -> base URL override
    clock: Clock = utcnow

    def base_url(self, provider: str, default: str) -> str:
        return check_url(self.endpoints.get(provider, default)).rstrip("/")

    def now(self) -> datetime:
        return self.clock()


class Provider(Protocol):
    name: str
    requires_app_credentials: bool

    def refresh(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> RefreshResult:
        """Refresh, re-exchange or (for tokens that cannot be refreshed) re-validate the token.

        Args:
            doc: the connection's token document, as stored in AWSCURRENT.
            app: the app credentials the document names (``app_secret_id``), or None.
            ctx: the HTTP client, the endpoint overrides (``ProviderEndpoints``) and the clock.

        Returns:
            The new token, its expiry and what the platform said about it (notices, deadlines);
            ``refresh_token=None`` keeps the stored refresh token.

        Raises:
            ProviderError: the platform refused or failed; its ``error_class`` says who must act
                (``reauth_required``, ``config``, ``permission``, ``transient``) and
                ``provider_code`` keeps the platform's code (RFC 6749 §5.2 where it uses them).
            SecretFormatError: the document lacks what the platform needs (a refresh token, an
                option).
        """
        ...

    def validate(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        """Check that ``doc.access_token`` still works (testSecret, the daily liveness check).

        Args:
            doc: the token document to check.
            app: the app credentials, where the platform's check needs them.
            ctx: the HTTP client, the endpoint overrides and the clock.

        Returns:
            The verdict: ``valid`` with what the platform reports (expiry, scopes), or not valid
            with the reason in ``detail``; ``checked=False`` when the platform offers no check.

        Raises:
            ProviderError: the check itself could not run (throttled, unreachable, the app
                refused); an invalid token is a result, not an error.
            SecretFormatError: the document lacks what the check needs.
        """
        ...


def require_refresh_token(doc: TokenDocument, platform: str) -> str:
    """The one guard for a missing refresh token: a secret document error naming the field."""
    if not doc.refresh_token:
        raise SecretFormatError(f"is required for {platform}", field="refresh_token")
    return doc.refresh_token


def require_app(app: AppCredentials | None, provider: str) -> AppCredentials:
    if app is None:
        raise ProviderError(
            ErrorClass.CONFIG,
            "app credentials are required: set app_secret_id in the token secret",
            provider=provider,
        )
    return app


def expires_at_from(
    expires_in: Any, now: datetime, *, provider: str, field_name: str = "expires_in"
) -> datetime:
    """Turn a provider's ``expires_in`` into an absolute time, refusing absurd values."""
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        raise malformed(provider, f"{field_name} is missing or not a number")
    if not MIN_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN:
        raise malformed(
            provider,
            f"{field_name}={int(expires_in)} is outside the plausible range "
            f"[{MIN_EXPIRES_IN}, {MAX_EXPIRES_IN}] seconds",
        )
    return now + timedelta(seconds=float(expires_in))


def countdown_at(value: Any, now: datetime, *, provider: str, field_name: str) -> datetime:
    """A "seconds left" figure that may legitimately be small (a token close to its end).

    Unlike :func:`expires_at_from` there is no lower bound but 0: ``refresh_token_expires_in``
    counts down to the end of a grant, and Google's ``tokeninfo`` ``expires_in`` drops below a
    minute for a token about to lapse.
    """
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise malformed(provider, f"{field_name} is not a number")
    if not 0 <= value <= MAX_EXPIRES_IN:
        raise malformed(provider, f"{field_name}={int(value)} is outside the plausible range")
    return now + timedelta(seconds=float(value))


def malformed(provider: str, what: str) -> ProviderError:
    """A 2xx answer we cannot use. Transient: providers do send truncated or odd bodies."""
    return ProviderError(
        ErrorClass.TRANSIENT, f"malformed response from provider: {what}", provider=provider
    )


def json_object(resp: HttpResponse, provider: str) -> dict[str, Any]:
    body = resp.json()
    if not isinstance(body, dict):
        kind = "HTML page" if "<html" in resp.text[:500].lower() else "non-JSON body"
        raise malformed(provider, f"HTTP {resp.status} with a {kind}")
    return body


def token_string(body: Mapping[str, Any], key: str, provider: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise malformed(provider, f"no {key} in the answer")
    return value


# --- RFC 6749 ----------------------------------------------------------------------------------

OAUTH_ERROR_CLASSES: Mapping[str, ErrorClass] = {
    "invalid_grant": ErrorClass.REAUTH_REQUIRED,
    "invalid_client": ErrorClass.CONFIG,
    "unauthorized_client": ErrorClass.CONFIG,
    "unsupported_grant_type": ErrorClass.CONFIG,
    "invalid_request": ErrorClass.CONFIG,
    "invalid_scope": ErrorClass.PERMISSION,
    "access_denied": ErrorClass.PERMISSION,
    "temporarily_unavailable": ErrorClass.TRANSIENT,
    "server_error": ErrorClass.TRANSIENT,
    "slow_down": ErrorClass.TRANSIENT,
}

OAUTH_REMEDIATION: Mapping[ErrorClass, str] = {
    ErrorClass.REAUTH_REQUIRED: (
        "The refresh token was revoked or has expired: the account owner must sign in and "
        "authorize the app again, then store the new token in this secret."
    ),
    ErrorClass.CONFIG: (
        "Check the app credentials secret (client id and secret) and the token secret's options."
    ),
    ErrorClass.PERMISSION: (
        "The app or user lacks a required scope or role: grant it and re-authorize."
    ),
    ErrorClass.TRANSIENT: (
        "The provider is unavailable or throttling; the refresher retries on its own."
    ),
}


def oauth_error(
    resp: HttpResponse,
    provider: str,
    *,
    classify: Callable[[str, Mapping[str, Any]], ErrorClass | None] | None = None,
) -> ProviderError:
    """Map a non-2xx RFC 6749 §5.2 answer (or anything else) into a ProviderError."""
    body = resp.json()
    if resp.status == 429 or resp.status >= 500:
        error_class = ErrorClass.TRANSIENT
        code = body.get("error") if isinstance(body, dict) else None
        return ProviderError(
            error_class,
            f"provider answered HTTP {resp.status}" + (f" ({code})" if code else ""),
            provider=provider,
            provider_code=code or resp.status,
            retry_after=_retry_after(resp),
            remediation=OAUTH_REMEDIATION[error_class],
        )
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ProviderError(
            ErrorClass.TRANSIENT if resp.status >= 500 else ErrorClass.CONFIG,
            f"provider answered HTTP {resp.status} without an OAuth error body",
            provider=provider,
            provider_code=resp.status,
        )
    code = body["error"]
    error_class = (classify(code, body) if classify else None) or OAUTH_ERROR_CLASSES.get(
        code, ErrorClass.CONFIG
    )
    description = body.get("error_description")
    text = f"{code}: {description}" if isinstance(description, str) else code
    return ProviderError(
        error_class,
        _clip(text),
        provider=provider,
        provider_code=code,
        remediation=OAUTH_REMEDIATION[error_class],
    )


def _retry_after(resp: HttpResponse) -> float | None:
    return retry_after_seconds(resp.headers.get("Retry-After") or resp.headers.get("retry-after"))


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def oauth_token_response(
    resp: HttpResponse, provider: str, now: datetime, previous_refresh_token: str | None
) -> RefreshResult:
    """Parse a successful RFC 6749 token answer; keep the old refresh token if none came back."""
    body = json_object(resp, provider)
    access_token = token_string(body, "access_token", provider)
    expires_at = expires_at_from(body.get("expires_in"), now, provider=provider)
    new_refresh = body.get("refresh_token")
    if new_refresh is not None and (not isinstance(new_refresh, str) or not new_refresh.strip()):
        raise malformed(provider, "refresh_token is not a string")
    # Google (time-based access), LinkedIn and TikTok send the refresh token's remaining life.
    remaining = body.get("refresh_token_expires_in")
    return RefreshResult(
        access_token=access_token,
        expires_at=expires_at,
        refresh_token=new_refresh or previous_refresh_token,
        refresh_token_expires_at=None
        if remaining is None
        else countdown_at(remaining, now, provider=provider, field_name="refresh_token_expires_in"),
    )
