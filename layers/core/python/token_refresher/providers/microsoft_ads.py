"""Microsoft Advertising: Microsoft identity platform (v2.0) refresh_token grant.

- ``POST /{tenant}/oauth2/v2.0/token`` (``options.tenant``, default ``common``) with form
  ``client_id, grant_type=refresh_token, refresh_token, scope, client_secret``. ``scope`` is
  mandatory on refresh and always sent (``options.scope``, default
  ``https://ads.microsoft.com/msads.manage offline_access``), with ``offline_access`` added when
  ``options.scope`` leaves it out, as MSAL adds it to every request: the consent flow always
  asked for it, so the grant has it, and without it Microsoft sends no new refresh token. When the
  app credentials secret says ``"client_auth": "none"`` (RFC 7591; the older
  ``"public_client": true`` is still read) the client secret is left out (public client
  registrations), and that secret needs no ``client_secret`` field at all.
- Every refresh returns a NEW refresh token (90-day sliding lifetime) and the result carries it.
  An answer without one is treated as malformed (transient): Microsoft documents rotation on every
  refresh, so a missing token means a broken answer; the stored token is left untouched and the
  next attempt uses it again.
- Errors are read from ``error_codes`` (AADSTS numbers) first, then ``error``; the description is
  only echoed. ``provider_code`` is ``error`` and ``provider_subcode`` the first AADSTS code.
- Validation: Microsoft has no introspection endpoint for these tokens (they are meant for the Ads
  API only), so validation is structural and says so (``checked=False``): a non-empty token whose
  stored expiry is in the future.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.http import HttpResponse
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    ProviderContext,
    RefreshResult,
    ValidationResult,
    malformed,
)
from token_refresher.providers.client import ClientAuth, Endpoints, PlatformClient, unchecked

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_SCOPE",
    "DEFAULT_TENANT",
    "NAME",
    "PROVIDER",
    "MicrosoftAds",
    "microsoft_error",
    "refresh_scope",
]

INACTIVITY_LIMIT = timedelta(days=90)
NAME = "microsoft_ads"
DEFAULT_BASE_URL = "https://login.microsoftonline.com"
DEFAULT_TENANT = "common"
OFFLINE_ACCESS = "offline_access"  # the scope that makes the v2.0 endpoint return a refresh token
DEFAULT_SCOPE = "https://ads.microsoft.com/msads.manage offline_access"
_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")

REAUTH_CODES = frozenset({70008, 700082, 700084, 50173, 65001, 70043})
TRANSIENT_CODES = frozenset({90024, 90006, 90090})
REAUTH_ERRORS = frozenset({"invalid_grant", "interaction_required", "consent_required"})
# AADSTS70011 (error invalid_scope): the scope WE send is wrong (options.scope), so it is a
# configuration error with a configuration hint, not a permission the user lacks.
CONFIG_CODES = frozenset({70011})

_SIGN_IN = "The user must sign in to Microsoft Advertising through the app again"
CODE_REMEDIATION: Mapping[int, str] = {
    70008: f"The refresh token expired or was revoked. {_SIGN_IN} and the new refresh token must "
    "be stored.",
    700082: "The refresh token expired after 90 days without use. "
    f"{_SIGN_IN}; afterwards the refresher keeps it alive as long as it runs.",
    700084: "The refresh token was issued to a single-page app and its 24-hour lifetime ended: "
    f"register the app as a web (confidential) client. {_SIGN_IN}.",
    50173: "The grant was revoked (password change or sessions revoked by the user or an admin). "
    f"{_SIGN_IN}.",
    65001: "The user or the tenant administrator has not consented to the app for the Microsoft "
    "Advertising scope: grant consent (admin consent for the tenant if required), then sign in "
    "again.",
    70043: "The refresh token expired under a Conditional Access sign-in frequency policy. "
    f"{_SIGN_IN}, or ask the tenant admin to relax the policy for this app.",
    7000222: "The app's client secret has expired: create a new secret in the Azure app "
    "registration and update the app credentials secret.",
    7000215: "The client secret is wrong: put the secret's value (not its id) in the app "
    "credentials secret.",
    700016: "The client id is not registered in this tenant: check client_id and options.tenant.",
    70011: "The scope sent on refresh is invalid (AADSTS70011): fix options.scope in the token "
    f"secret (default '{DEFAULT_SCOPE}'); it must name the Microsoft Advertising scope.",
}
CLASS_REMEDIATION: Mapping[ErrorClass, str] = {
    ErrorClass.REAUTH_REQUIRED: f"The refresh token can no longer be used. {_SIGN_IN}.",
    ErrorClass.CONFIG: "Check the Azure app registration's client id and secret in the app "
    "credentials secret, and options.tenant/options.scope in the token secret.",
    ErrorClass.PERMISSION: "The app lacks the Microsoft Advertising permission (msads.manage): add "
    "it to the app registration, grant consent, and sign in again.",
    ErrorClass.TRANSIENT: "The Microsoft identity platform is temporarily unavailable; the "
    "refresher retries on its own.",
}


def _error_codes(body: Mapping[str, Any]) -> list[int]:
    codes = body.get("error_codes")
    if not isinstance(codes, list):
        return []
    return [c for c in codes if isinstance(c, int) and not isinstance(c, bool)]


def _classify(code: str, body: Mapping[str, Any]) -> ErrorClass | None:
    for number in _error_codes(body):
        if number in REAUTH_CODES:
            return ErrorClass.REAUTH_REQUIRED
        if number in TRANSIENT_CODES:
            return ErrorClass.TRANSIENT
        if number in CONFIG_CODES:
            return ErrorClass.CONFIG
    if code in REAUTH_ERRORS:
        return ErrorClass.REAUTH_REQUIRED
    return None


def microsoft_error(resp_error: ProviderError, body: Any) -> ProviderError:
    """Add the AADSTS subcode and a code-specific remediation to an ``oauth_error``."""
    codes = _error_codes(body) if isinstance(body, dict) else []
    if codes:
        resp_error.provider_subcode = str(codes[0])
    specific = next((CODE_REMEDIATION[c] for c in codes if c in CODE_REMEDIATION), None)
    resp_error.remediation = specific or CLASS_REMEDIATION[resp_error.error_class]
    return resp_error


def _tenant(doc: TokenDocument) -> str:
    tenant = doc.str_option("tenant", DEFAULT_TENANT)
    if not _TENANT_RE.match(tenant):
        raise SecretFormatError(
            "must be a tenant id, domain, 'common', 'organizations' or 'consumers'",
            field="options.tenant",
        )
    return tenant


def refresh_scope(doc: TokenDocument) -> str:
    """``options.scope`` with ``offline_access`` added when it is missing (as MSAL always does)."""
    scope = doc.str_option("scope", DEFAULT_SCOPE).strip() or DEFAULT_SCOPE
    return scope if OFFLINE_ACCESS in scope.split() else f"{scope} {OFFLINE_ACCESS}"


class MicrosoftAds(PlatformClient):
    name = NAME
    label = "Microsoft Advertising"
    endpoints = Endpoints(DEFAULT_BASE_URL, grant="/oauth2/v2.0/token")
    keeps_refresh_token = False  # rotated on every refresh

    def token_url(self, doc: TokenDocument, ctx: ProviderContext) -> str:
        return f"{self.base_url(doc, ctx)}/{_tenant(doc)}{self.endpoints.grant}"

    def auth_method(self, doc: TokenDocument, app: AppCredentials) -> ClientAuth:
        # A public client registration has no secret: its client id alone (RFC 7591 "none").
        return ClientAuth.NONE if app.is_public else ClientAuth.CLIENT_SECRET_POST

    def grant_form(self, doc: TokenDocument, app: AppCredentials) -> dict[str, str]:
        return super().grant_form(doc, app) | {"scope": refresh_scope(doc)}

    def classify(self, code: str, body: Mapping[str, Any]) -> ErrorClass | None:
        return _classify(code, body)

    def on_error(self, err: ProviderError, resp: HttpResponse, doc: TokenDocument) -> ProviderError:
        return microsoft_error(err, resp.json())

    def after_grant(
        self, result: RefreshResult, doc: TokenDocument, ctx: ProviderContext
    ) -> RefreshResult:
        if not result.refresh_token:
            # Rotation is documented for every refresh: no new token means a broken answer.
            raise malformed(NAME, "no refresh_token in the answer (Microsoft rotates it each time)")
        return RefreshResult(
            access_token=result.access_token,
            expires_at=result.expires_at,
            refresh_token=result.refresh_token,
            # 90 days of inactivity end the grant (AADSTS700082): the window slides with each use.
            refresh_token_expires_at=ctx.now() + INACTIVITY_LIMIT,
        )

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        return unchecked(doc, ctx.now(), "Microsoft offers no introspection for Ads tokens")


PROVIDER = MicrosoftAds()
