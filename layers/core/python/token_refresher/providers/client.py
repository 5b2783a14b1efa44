"""The one client every provider module is: declared endpoints, a client authentication method and
per-platform hooks around the RFC 6749 refresh (requests-oauthlib's compliance fixes are the model:
the common protocol once, each platform's departures from it as small named hooks).

A provider subclasses :class:`PlatformClient`, declares ``name`` and ``endpoints`` (and
``client_auth`` when the platform does not take ``client_secret_post``), and overrides only what its
platform does differently:

- :meth:`PlatformClient.grant` (the refresh itself; by default the ``refresh_token`` grant at
  ``endpoints.grant``), :meth:`PlatformClient.check` (validation);
- hooks of the default grant: :meth:`PlatformClient.grant_form` (extra form fields),
  :meth:`PlatformClient.classify` (the platform's own error codes),
  :meth:`PlatformClient.on_error` (remediation), :meth:`PlatformClient.after_grant` (the answer's
  quirks).

The words are RFC 6749's and RFC 7591's: ``client_secret_basic`` (§2.3.1, HTTP Basic),
``client_secret_post`` (§2.3.1, the form body) and ``none`` (a public client: its id only).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
from urllib.parse import quote_plus

from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.http import HttpResponse
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    ProviderContext,
    RefreshResult,
    ValidationResult,
    oauth_error,
    oauth_token_response,
    require_app,
    require_refresh_token,
)

__all__ = [
    "ClientAuth",
    "Endpoints",
    "PlatformClient",
    "authenticate",
    "basic_authorization",
    "unchecked",
]


class ClientAuth(StrEnum):
    """How the client authenticates at the token endpoint (RFC 7591 ``token_endpoint_auth_method``
    names)."""

    # RFC 6749 §2.3.1, HTTP Basic / client_id and client_secret in the form (method names)
    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 # nosec B105
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 # nosec B105
    NONE = "none"  # a public client: client_id in the form, no secret


@dataclass(frozen=True)
class Endpoints:
    """Where the platform is: the default base URL (``ProviderEndpoints`` may replace it) and the
    paths below it."""

    base: str
    grant: str = ""  # the token endpoint, where a grant is presented
    check: str = ""  # where a token is validated


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` header value of RFC 6749 §2.3.1 ``client_secret_basic``.

    Both parts are encoded with application/x-www-form-urlencoded (Appendix B: UTF-8, then
    percent-encoding, space as ``+``) before they are joined by ``:`` and base64-encoded.
    requests' ``auth=(id, secret)`` skips that step and cannot encode non-latin-1 text at all.
    """
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")


def authenticate(method: ClientAuth, app: AppCredentials, form: dict[str, str]) -> dict[str, str]:
    """Apply ``method``: the headers to send (``client_secret_basic``), or the credentials added
    to ``form`` (``client_secret_post``, ``none``)."""
    if method is ClientAuth.CLIENT_SECRET_BASIC:
        return {"Authorization": basic_authorization(app.client_id, app.client_secret)}
    form["client_id"] = app.client_id
    if method is ClientAuth.CLIENT_SECRET_POST:
        form["client_secret"] = app.client_secret
    return {}


def unchecked(doc: TokenDocument, now: datetime, why: str) -> ValidationResult:
    """The verdict where the platform cannot be asked: from the document alone, ``checked=False``.

    Args:
        doc: the token document.
        now: the current time.
        why: why the platform cannot be asked (goes into ``detail``).

    Returns:
        ``valid`` when an access token is present and not past its stored expiry; never a claim
        that the grant is alive.
    """
    detail = f"not checkable: {why}"
    if not doc.access_token or not doc.access_token.strip():
        return ValidationResult(
            valid=False, detail=f"{detail}; the access token is empty", checked=False
        )
    if doc.expires_at is not None and doc.expires_at <= now:
        return ValidationResult(
            valid=False,
            expires_at=doc.expires_at,
            detail=f"{detail}; the access token expired",
            checked=False,
        )
    return ValidationResult(valid=True, expires_at=doc.expires_at, detail=detail, checked=False)


class PlatformClient:
    """The provider interface (``refresh``, ``validate``) over one platform's declared surface."""

    name: ClassVar[str]
    label: ClassVar[str] = ""  # the platform's name in messages ("" = ``name``)
    endpoints: ClassVar[Endpoints]
    requires_app_credentials: ClassVar[bool] = True
    client_auth: ClassVar[ClientAuth] = ClientAuth.CLIENT_SECRET_POST
    hints: ClassVar[Mapping[ErrorClass, str]] = {}  # remediation for platform-reported errors
    # An answer without a refresh token keeps the stored one (RFC 6749 §6); False for platforms
    # that rotate it on every refresh, whose after_grant sees ``refresh_token=None``.
    keeps_refresh_token: ClassVar[bool] = True

    def refresh(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> RefreshResult:
        """:meth:`Provider.refresh <token_refresher.providers.base.Provider.refresh>` (its Args,
        Returns and Raises): the app credentials are required, then the platform's :meth:`grant`."""
        return self.grant(doc, self.app(app), ctx)

    def validate(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        """:meth:`Provider.validate <token_refresher.providers.base.Provider.validate>` (its
        Args, Returns and Raises): the platform's :meth:`check`."""
        return self.check(doc, app, ctx)

    def app(self, app: AppCredentials | None) -> AppCredentials:
        """The app credentials, or the ``config`` error that says they are missing."""
        return require_app(app, self.name)

    # --- what a platform overrides --------------------------------------------------------------

    def base_url(self, doc: TokenDocument, ctx: ProviderContext) -> str:
        """The platform's base URL for this connection (an override, else the declared one)."""
        return ctx.base_url(self.name, self.endpoints.base)

    def token_url(self, doc: TokenDocument, ctx: ProviderContext) -> str:
        return self.base_url(doc, ctx) + self.endpoints.grant

    def auth_method(self, doc: TokenDocument, app: AppCredentials) -> ClientAuth:
        return self.client_auth

    def grant(self, doc: TokenDocument, app: AppCredentials, ctx: ProviderContext) -> RefreshResult:
        """The RFC 6749 §6 ``refresh_token`` grant, through the hooks below."""
        form = self.grant_form(doc, app)
        headers = authenticate(self.auth_method(doc, app), app, form)
        url = self.token_url(doc, ctx)
        resp = ctx.http.request("POST", url, provider=self.name, data=form, headers=headers)
        if not 200 <= resp.status < 300:
            raise self.on_error(oauth_error(resp, self.name, classify=self.classify), resp, doc)
        kept = doc.refresh_token if self.keeps_refresh_token else None
        result = oauth_token_response(resp, self.name, ctx.now(), kept)
        return self.after_grant(result, doc, ctx)

    def grant_form(self, doc: TokenDocument, app: AppCredentials) -> dict[str, str]:
        """The grant's form before client authentication; platforms add a scope, an audience."""
        refresh_token = require_refresh_token(doc, self.label or self.name)
        return {"grant_type": "refresh_token", "refresh_token": refresh_token}

    def classify(self, code: str, body: Mapping[str, Any]) -> ErrorClass | None:
        """The platform's reading of an RFC 6749 §5.2 error; None: the RFC's table decides."""
        return None

    def on_error(self, err: ProviderError, resp: HttpResponse, doc: TokenDocument) -> ProviderError:
        """The platform's remediation for an error it reported (``hints``)."""
        hint = self.hints.get(err.error_class)
        if hint is not None and err.provider_code is not None:
            err.remediation = hint
        return err

    def after_grant(
        self, result: RefreshResult, doc: TokenDocument, ctx: ProviderContext
    ) -> RefreshResult:
        """The platform's reading of a successful answer."""
        return result

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        raise NotImplementedError(f"{self.name} declares no validation")

    def tokeninfo(self, doc: TokenDocument, ctx: ProviderContext) -> HttpResponse:
        """``GET endpoints.check?access_token=...``, the tokeninfo shape (Google, Login with
        Amazon) whose answer the platform's ``check`` reads."""
        return ctx.http.request(
            "GET",
            self.base_url(doc, ctx) + self.endpoints.check,
            provider=self.name,
            params={"access_token": doc.access_token or ""},
        )
