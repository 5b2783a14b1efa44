"""Meta System User tokens (Business Manager), checked and regenerated through the Graph API.

- Validation: ``debug_token`` (``is_valid``; ``expires_at`` 0 means the token never expires, which
  is observed, not documented: docs/providers/README.md).
- Never-expiring tokens cannot be refreshed; they still get revoked, so ``refresh()`` validates
  them and returns the same token with a VALIDATED_ONLY notice and no expiry.
- Expiring (60-day) tokens, recognised by ``debug_token`` ``expires_at > 0`` or by the document's
  ``kind: "system_user_expiring"``, are refreshed the way Meta's "Install Apps, Generate, Refresh,
  and Revoke Tokens" guide describes: ``GET /oauth/access_token`` with
  ``grant_type=fb_exchange_token``, the app's ``client_id``/``client_secret``, the current token as
  ``fb_exchange_token`` and ``set_token_expires_in_60_days=true``. The new expiry is read back
  with ``debug_token``; if it did not move, a NOT_EXTENDED notice carries the deadline.
- Fallback, when ``options.business_id`` and ``options.system_user_id`` are set and the exchange is
  refused (a Graph error that is neither transient nor about the app credentials): a new token is
  generated through ``POST /{business_id}/system_user_access_tokens`` with the fields the Business
  SDK documents for that edge (``system_user_id``, ``scope``, ``set_token_expires_in_60_days``;
  ``fetch_only`` and ``asset`` are left out) plus ``appsecret_proof`` and the current token as
  ``access_token``. ``business_app`` belongs to ``POST /{system_user_id}/access_tokens``, which
  Meta now limits to apps that called it in the last 90 days, and is not used.
- Graph errors map as in :mod:`token_refresher.providers.meta`; the Graph base URL and version come
  from the same settings (endpoint override key ``meta``, ``options.graph_version``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    Notice,
    NoticeKind,
    ProviderContext,
    RefreshResult,
    ValidationResult,
)
from token_refresher.providers.client import Endpoints, PlatformClient
from token_refresher.providers.meta import verified_exchange
from token_refresher.providers.meta_graph import (
    MIN_EXTENSION,
    AppCredentialsRejected,
    appsecret_proof,
    debug_token,
    exchange,
    graph_call,
    validation_from_debug,
)
from token_refresher.timeutil import format_iso

__all__ = ["EXPIRING_KIND", "NAME", "PROVIDER", "MetaSystemUser"]

NAME = "meta_system_user"
DEFAULT_BASE_URL = "https://graph.facebook.com"
EXPIRING_KIND = "system_user_expiring"
SIXTY_DAYS = {"set_token_expires_in_60_days": "true"}  # nosec B105 # a flag, not a secret

REVOKED_HINT = (
    "The system user token is no longer valid (revoked, the system user was removed, or the app "
    "lost its access): an admin must generate a new token for the system user in Business Settings "
    "> Users > System users, and store it in this secret."
)


def _meta_id(doc: TokenDocument, name: str) -> str:
    value = doc.str_option(name, required=True).strip()
    if not value.isdigit():
        raise SecretFormatError("must be a numeric Meta id", field=f"options.{name}")
    return value


def _scope(doc: TokenDocument, current: tuple[str, ...]) -> str:
    value: Any = doc.option("scope")
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        scopes = [s.strip() for s in value if s.strip()]
    elif isinstance(value, str):
        scopes = [s.strip() for s in value.split(",") if s.strip()]
    elif value is None:
        scopes = list(current)
    else:
        raise SecretFormatError("must be a comma-separated string or a list", field="options.scope")
    if not scopes:
        raise SecretFormatError(
            "is required to regenerate an expiring system user token", field="options.scope"
        )
    return ",".join(scopes)


def _invalid(detail: str) -> ProviderError:
    return ProviderError(
        ErrorClass.REAUTH_REQUIRED,
        f"debug_token reports the system user token invalid ({detail})",
        provider=NAME,
        provider_code=190,
        remediation=REVOKED_HINT,
    )


def _not_extended(before: datetime | None, after: datetime | None) -> tuple[Notice, ...]:
    if before is None or after is None or after - before >= MIN_EXTENSION:
        return ()
    return (
        Notice(
            NoticeKind.NOT_EXTENDED,
            "Meta did not extend the system user token: generate a new one in Business Settings "
            f"before {format_iso(after)}",
            deadline=after,
        ),
    )


class MetaSystemUser(PlatformClient):
    """Validated (never-expiring) or re-exchanged (60-day) system user tokens, with the business
    edge as a fallback."""

    name = NAME
    endpoints = Endpoints(DEFAULT_BASE_URL, grant="oauth/access_token", check="debug_token")

    def grant(self, doc: TokenDocument, app: AppCredentials, ctx: ProviderContext) -> RefreshResult:
        access_token = doc.access_token
        if not access_token:
            raise SecretFormatError("is required for Meta system users", field="access_token")
        current = validation_from_debug(debug_token(ctx, doc, app, access_token, provider=NAME))
        if not current.valid:
            raise _invalid("current token")
        if current.expires_at is None and doc.kind != EXPIRING_KIND:
            return RefreshResult(
                access_token=access_token,
                expires_at=None,
                data_access_expires_at=current.data_access_expires_at,
                notices=(
                    Notice(
                        NoticeKind.VALIDATED_ONLY,
                        "never-expiring Meta system user token: validated with debug_token, "
                        "nothing to refresh",
                    ),
                ),
            )
        try:
            body = exchange(ctx, doc, app, access_token, provider=NAME, extra=SIXTY_DAYS)
        except ProviderError as err:
            if not self._can_regenerate(doc, err):
                raise
            body = self._regenerate(doc, app, ctx, access_token, current.scopes)
        new_token, checked, expires_at = verified_exchange(
            ctx, doc, app, body, provider=NAME, invalid=_invalid("newly generated token")
        )
        return RefreshResult(
            access_token=new_token,
            expires_at=expires_at,
            data_access_expires_at=checked.data_access_expires_at,
            notices=_not_extended(current.expires_at, expires_at),
        )

    @staticmethod
    def _can_regenerate(doc: TokenDocument, err: ProviderError) -> bool:
        """Fall back to the business edge only for a refusal the edge may not share: not for
        throttling or outages (retried later) nor for wrong app credentials (both edges need
        them)."""
        if err.error_class is ErrorClass.TRANSIENT or isinstance(err, AppCredentialsRejected):
            return False
        return bool(doc.option("business_id")) and bool(doc.option("system_user_id"))

    @staticmethod
    def _regenerate(
        doc: TokenDocument,
        app: AppCredentials,
        ctx: ProviderContext,
        access_token: str,
        scopes: tuple[str, ...],
    ) -> dict[str, Any]:
        business_id = _meta_id(doc, "business_id")
        return graph_call(
            ctx,
            doc,
            "POST",
            f"{business_id}/system_user_access_tokens",
            {
                "system_user_id": _meta_id(doc, "system_user_id"),
                "scope": _scope(doc, scopes),
                **SIXTY_DAYS,
                "appsecret_proof": appsecret_proof(app.client_secret, access_token),
                "access_token": access_token,
            },
            provider=NAME,
        )

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        try:
            data = debug_token(ctx, doc, self.app(app), doc.access_token or "", provider=NAME)
        except ProviderError as err:
            if err.error_class is ErrorClass.REAUTH_REQUIRED:
                return ValidationResult(
                    valid=False, detail=f"debug_token: invalid (subcode {err.provider_subcode})"
                )
            raise
        return validation_from_debug(data)


PROVIDER = MetaSystemUser()
