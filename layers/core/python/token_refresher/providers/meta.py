"""Meta (Graph / Marketing API) long-lived user tokens (the Graph API client is ``meta_graph.py``).

- Refresh = re-exchange: ``GET /{version}/oauth/access_token?grant_type=fb_exchange_token`` with the
  current long-lived token, then ``debug_token`` on the new one. Whether Meta extends a long-lived
  token this way is not documented (docs/providers/README.md), so the new expiry is checked: when
  it did not move out, the result carries a NOT_EXTENDED notice with the deadline
  ("re-authorization needed before <date>") instead of claiming success.
- ``data_access_expires_at`` (about 90 days after the user's last activity) is reported from
  ``debug_token``; only the user can extend it.
- The rotation engine registers the app secret as a signing key with its redactor, so every
  ``appsecret_proof`` is masked.
- A wrong app id or app secret is a ``config`` error naming the app credentials secret, never
  "re-authorize" or "transient" (``meta_graph.AppCredentialsRejected``).
- The pinned Graph version's end of support is announced 90 days ahead
  (``meta_graph.version_notice``).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    expires_at_from,
    token_string,
)
from token_refresher.providers.client import Endpoints, PlatformClient
from token_refresher.providers.meta_graph import (
    CODE_REMEDIATION,
    DEFAULT_BASE_URL,
    MIN_EXTENSION,
    SUBCODE_REMEDIATION,
    debug_token,
    exchange,
    validation_from_debug,
    version_notice,
)
from token_refresher.timeutil import format_iso

__all__ = ["NAME", "PROVIDER", "MetaUserToken", "verified_exchange"]

NAME = "meta"


def verified_exchange(  # noqa: PLR0913 - the exchange's answer and its context, keyword options
    ctx: ProviderContext,
    doc: TokenDocument,
    app: AppCredentials,
    body: Mapping[str, Any],
    *,
    provider: str,
    invalid: ProviderError,
) -> tuple[str, ValidationResult, datetime | None]:
    """The token an exchange answered with, verified with ``debug_token`` (``invalid`` is raised
    when it reports the token invalid): the token, the verdict, and the expiry, which is
    ``debug_token``'s, or the answer's ``expires_in`` where ``debug_token`` says "never"."""
    new_token = token_string(body, "access_token", provider)
    checked = validation_from_debug(debug_token(ctx, doc, app, new_token, provider=provider))
    if not checked.valid:
        raise invalid
    expires_at = checked.expires_at
    if expires_at is None and body.get("expires_in") is not None:
        expires_at = expires_at_from(body["expires_in"], ctx.now(), provider=provider)
    return new_token, checked, expires_at


class MetaUserToken(PlatformClient):
    """Refresh = the ``fb_exchange_token`` re-exchange, checked with ``debug_token``."""

    name = NAME
    endpoints = Endpoints(DEFAULT_BASE_URL, grant="oauth/access_token", check="debug_token")

    def grant(self, doc: TokenDocument, app: AppCredentials, ctx: ProviderContext) -> RefreshResult:
        if not doc.access_token:
            raise SecretFormatError("is required for Meta", field="access_token")
        now = ctx.now()
        if doc.expires_at is not None and doc.expires_at <= now:
            raise ProviderError(
                ErrorClass.REAUTH_REQUIRED,
                f"the token expired at {format_iso(doc.expires_at)} and cannot be exchanged",
                provider=NAME,
                provider_code=190,
                provider_subcode=463,
                remediation=SUBCODE_REMEDIATION[463],
            )
        body = exchange(ctx, doc, app, doc.access_token)
        invalid = ProviderError(
            ErrorClass.REAUTH_REQUIRED,
            "the exchanged token is reported invalid by debug_token",
            provider=NAME,
            provider_code=190,
            remediation=CODE_REMEDIATION[190],
        )
        new_token, checked, expires_at = verified_exchange(
            ctx, doc, app, body, provider=NAME, invalid=invalid
        )
        notices: list[Notice] = []
        if (
            expires_at is not None
            and doc.expires_at is not None
            and expires_at - doc.expires_at < MIN_EXTENSION
        ):
            notices.append(
                Notice(
                    NoticeKind.NOT_EXTENDED,
                    "Meta did not extend the token's expiry: re-authorization needed before "
                    f"{format_iso(expires_at)}",
                    deadline=expires_at,
                )
            )
        version = version_notice(doc, now)
        if version is not None:
            notices.append(version)
        return RefreshResult(
            access_token=new_token,
            expires_at=expires_at,
            data_access_expires_at=checked.data_access_expires_at or doc.data_access_expires_at,
            notices=tuple(notices),
        )

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        return validation_from_debug(debug_token(ctx, doc, self.app(app), doc.access_token or ""))


PROVIDER = MetaUserToken()
