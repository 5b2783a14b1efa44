"""LinkedIn Marketing API: OAuth 2.0 refresh_token grant at ``/oauth/v2/accessToken``.

- Access tokens live 60 days; the refresh token lives 365 days from the member's original consent,
  and refreshing does NOT reset that lifetime: ``refresh_token_expires_in`` counts down. The result
  therefore carries ``refresh_token_expires_at`` from the answer, or the document's value when the
  answer leaves it out, so that the engine can warn ahead of the hard end.
- Programmatic refresh tokens are only issued to approved Marketing partners. A grant without one
  (a consent by another app) cannot be refreshed: a refresh is then ``reauth_required`` naming the
  access token's end, which the consent flow also set as the human deadline.
- An invalid, expired or revoked refresh token comes back as 400 ``invalid_request`` (not
  ``invalid_grant``) with a description saying so: both mean the member must re-authorize.
- Validation: ``POST /oauth/v2/introspectToken`` (client_id, client_secret, token) answers
  ``active``, ``status`` (active/expired/revoked), ``expires_at`` (epoch seconds) and ``scope``.
  LinkedIn documents HTTP 400 for an invalid client id or token and 401 for a wrong client secret:
  a 400 reports the token not valid (a re-authorization), a 401 is a ``config`` error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.http import HttpResponse
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    ProviderContext,
    RefreshResult,
    ValidationResult,
    json_object,
    malformed,
    oauth_error,
    require_app,
)
from token_refresher.providers.client import Endpoints, PlatformClient
from token_refresher.timeutil import format_iso, from_epoch

__all__ = ["DEFAULT_BASE_URL", "GRANT_PATH", "INTROSPECT_PATH", "NAME", "PROVIDER", "LinkedIn"]

NAME = "linkedin"
DEFAULT_BASE_URL = "https://www.linkedin.com"
GRANT_PATH = "/oauth/v2/accessToken"  # the token endpoint: a grant is presented there
INTROSPECT_PATH = "/oauth/v2/introspectToken"
# The introspection page's status codes: 400 "Invalid client id or token", 401 "Invalid client
# secret". The client id is the one every refresh presents, so a 400 is read as the token's fault.
INVALID_TOKEN_STATUS = 400
WRONG_SECRET_STATUS = 401

REAUTH_HINT = (
    "LinkedIn rejected the refresh token (expired, revoked, or the member removed the app). "
    "Refresh tokens last 365 days from the original consent and refreshing does not extend them: "
    "the member must sign in with LinkedIn and authorize the app again, then store the new tokens "
    "in this secret."
)
CONFIG_HINT = (
    "Check the LinkedIn app's client id and secret in the app credentials secret, and that the app "
    "is approved for programmatic refresh tokens (Marketing Developer Platform partners only)."
)
_REVOKED_TEXT = re.compile(
    r"invalid,\s*expired,?\s*or\s*revoked|(?:refresh[_ ]token|grant)\b.*\b(?:expired|revoked)",
    re.IGNORECASE,
)


def _classify(code: str, body: Mapping[str, Any]) -> ErrorClass | None:
    if code == "invalid_grant":
        return ErrorClass.REAUTH_REQUIRED
    if code == "invalid_request":
        description = body.get("error_description")
        if isinstance(description, str) and _REVOKED_TEXT.search(description):
            return ErrorClass.REAUTH_REQUIRED
    return None


def _introspection_error(resp: HttpResponse) -> ProviderError:
    if resp.status == WRONG_SECRET_STATUS:
        return ProviderError(
            ErrorClass.CONFIG,
            "introspectToken answered HTTP 401: LinkedIn rejects the client secret",
            provider=NAME,
            provider_code=resp.status,
            remediation=CONFIG_HINT,
        )
    err = oauth_error(resp, NAME)
    if err.error_class is ErrorClass.CONFIG:
        err.remediation = CONFIG_HINT
    return err


class LinkedIn(PlatformClient):
    name = NAME
    endpoints = Endpoints(DEFAULT_BASE_URL, grant=GRANT_PATH, check=INTROSPECT_PATH)

    def grant(self, doc: TokenDocument, app: AppCredentials, ctx: ProviderContext) -> RefreshResult:
        if not doc.refresh_token:
            # A consent without one (the app lacks programmatic refresh): only a new consent
            # renews the grant, before the access token's end (also the human deadline).
            end = format_iso(doc.expires_at) if doc.expires_at else "the access token expires"
            raise ProviderError(
                ErrorClass.REAUTH_REQUIRED,
                "no refresh token: LinkedIn gives them only to apps approved for programmatic "
                "refresh",
                provider=NAME,
                remediation=f"The member must consent again before {end}; or have the app "
                "approved for programmatic refresh tokens (Marketing Developer Platform).",
            )
        return super().grant(doc, app, ctx)

    def classify(self, code: str, body: Mapping[str, Any]) -> ErrorClass | None:
        return _classify(code, body)

    def on_error(self, err: ProviderError, resp: HttpResponse, doc: TokenDocument) -> ProviderError:
        if err.error_class is ErrorClass.REAUTH_REQUIRED:
            err.remediation = REAUTH_HINT
            if doc.refresh_token_expires_at is not None:
                err.remediation += (
                    f" (the stored refresh token was due to end at "
                    f"{format_iso(doc.refresh_token_expires_at)})"
                )
        elif err.error_class is ErrorClass.CONFIG:
            err.remediation = CONFIG_HINT
        return err

    def after_grant(
        self, result: RefreshResult, doc: TokenDocument, ctx: ProviderContext
    ) -> RefreshResult:
        # refresh_token_expires_in counts down from the original consent: take the provider's
        # figure (parsed by oauth_token_response), never invent a new one.
        if result.refresh_token_expires_at is not None:
            return result
        return replace(result, refresh_token_expires_at=doc.refresh_token_expires_at)

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        app = require_app(app, NAME)
        resp = ctx.http.request(
            "POST",
            self.base_url(doc, ctx) + self.endpoints.check,
            provider=NAME,
            idempotent=True,
            data={
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "token": doc.access_token or "",
            },
        )
        if resp.status == INVALID_TOKEN_STATUS:
            return ValidationResult(
                valid=False, detail="introspectToken answered HTTP 400: the token is not valid"
            )
        if resp.status != 200:
            raise _introspection_error(resp)
        body = json_object(resp, NAME)
        active = body.get("active")
        if not isinstance(active, bool):
            raise malformed(NAME, "introspection answer has no boolean 'active'")
        status = body.get("status")
        expires = body.get("expires_at")
        expires_at = (
            from_epoch(expires)
            if isinstance(expires, int) and not isinstance(expires, bool) and expires > 0
            else None
        )
        valid = active and status in (None, "active")
        if valid and expires_at is not None and expires_at <= ctx.now():
            valid = False
        scopes = tuple(s for s in re.split(r"[,\s]+", str(body.get("scope") or "")) if s)
        return ValidationResult(
            valid=valid,
            expires_at=expires_at,
            scopes=scopes,
            detail=f"introspectToken status={status if isinstance(status, str) else 'unknown'}",
        )


PROVIDER = LinkedIn()
