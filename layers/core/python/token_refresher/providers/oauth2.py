"""Generic RFC 6749 provider for platforms without a dedicated module.

Options in the token secret:
- ``token_url`` (required): the token endpoint (https; loopback http for tests only);
- ``grant_type``: ``refresh_token`` (default) or ``client_credentials``;
- ``client_auth``: ``basic`` (HTTP Basic, RFC 6749 §2.3.1, the default) or ``body``. For Basic the
  client id and secret are form-urlencoded (UTF-8) before ``base64(id ":" secret)``, as §2.3.1
  requires: a secret with ``+ / = % : &``, spaces or non-ASCII characters reaches a server that
  decodes as the RFC says unchanged. Introspection authenticates the same way;
- ``scope``, ``audience`` (optional, sent when present);
- ``introspection_url`` (optional, RFC 7662): used by testSecret and the daily liveness check.
  Without it nothing can be asked: validation answers ``checked=False`` (valid when a token is
  present and not past its stored expiry), so testSecret accepts a token the token endpoint just
  issued, and the liveness check records no ``checked-at`` (the refresh itself stays the only
  proof that the grant is alive).
"""

from __future__ import annotations

import base64
from urllib.parse import quote_plus

from token_refresher.errors import ConfigError, ErrorClass, ProviderError, SecretFormatError
from token_refresher.http import check_url
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    ProviderContext,
    RefreshResult,
    ValidationResult,
    json_object,
    oauth_error,
    oauth_token_response,
    require_app,
    require_refresh_token,
    unchecked,
)
from token_refresher.timeutil import from_epoch

NAME = "oauth2"
GRANTS = ("refresh_token", "client_credentials")
CLIENT_AUTH = ("basic", "body")


def _choice(doc: TokenDocument, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = doc.str_option(name, default)
    if value not in allowed:
        raise SecretFormatError(f"must be one of {', '.join(allowed)}", field=f"options.{name}")
    return value


def _url(doc: TokenDocument, ctx: ProviderContext, name: str, *, required: bool) -> str | None:
    url = doc.str_option(name, required=required)
    if not url:
        return None
    try:
        return check_url(url)
    except ConfigError as err:
        raise SecretFormatError(err.message.split(": ", 1)[-1], field=f"options.{name}") from None


def basic_authorization(client_id: str, client_secret: str) -> str:
    """The ``Authorization`` header value of RFC 6749 §2.3.1 ``client_secret_basic``.

    Both parts are encoded with application/x-www-form-urlencoded (Appendix B: UTF-8, then
    percent-encoding, space as ``+``) before they are joined by ``:`` and base64-encoded.
    requests' ``auth=(id, secret)`` skips that step and cannot encode non-latin-1 text at all.
    """
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")


def _client_auth(doc: TokenDocument, app: AppCredentials, form: dict[str, str]) -> dict[str, str]:
    """Authenticate the client as ``options.client_auth`` says: the headers to send (Basic), or
    the credentials added to ``form`` (body). Token and introspection requests share it."""
    if _choice(doc, "client_auth", CLIENT_AUTH, "basic") == "basic":
        return {"Authorization": basic_authorization(app.client_id, app.client_secret)}
    form["client_id"] = app.client_id
    form["client_secret"] = app.client_secret
    return {}


class GenericOAuth2:
    name = NAME
    requires_app_credentials = True

    def refresh(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> RefreshResult:
        app = require_app(app, NAME)
        token_url = _url(doc, ctx, "token_url", required=True) or ""
        grant = _choice(doc, "grant_type", GRANTS, "refresh_token")
        form = {"grant_type": grant}
        if grant == "refresh_token":
            form["refresh_token"] = require_refresh_token(doc, "the refresh_token grant")
        for extra in ("scope", "audience"):
            value = doc.str_option(extra)
            if value:
                form[extra] = value
        headers = _client_auth(doc, app, form)
        resp = ctx.http.request("POST", token_url, provider=NAME, data=form, headers=headers)
        if not 200 <= resp.status < 300:
            raise oauth_error(resp, NAME)
        return oauth_token_response(resp, NAME, ctx.now(), doc.refresh_token)

    def validate(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        url = _url(doc, ctx, "introspection_url", required=False)
        if url is None:
            return unchecked(doc, ctx.now(), "no introspection_url")
        app = require_app(app, NAME)
        form = {
            "token": doc.access_token or "",
            "token_type_hint": "access_token",  # nosec B105 # RFC 7662 hint, not a secret
        }
        headers = _client_auth(doc, app, form)
        resp = ctx.http.request(
            "POST", url, provider=NAME, idempotent=True, data=form, headers=headers
        )
        if resp.status != 200:
            raise oauth_error(resp, NAME)
        body = json_object(resp, NAME)
        active = body.get("active")
        if not isinstance(active, bool):
            raise ProviderError(
                ErrorClass.TRANSIENT, "introspection answer has no boolean 'active'", provider=NAME
            )
        exp = body.get("exp")
        return ValidationResult(
            valid=active,
            expires_at=from_epoch(exp) if isinstance(exp, int) and exp > 0 else None,
            scopes=tuple(str(body.get("scope", "")).split()),
        )


PROVIDER = GenericOAuth2()
