"""Generic RFC 6749 provider for platforms without a dedicated module.

Options in the token secret:
- ``token_url`` (required): the token endpoint (https; loopback http for tests only);
- ``grant_type``: ``refresh_token`` (default) or ``client_credentials``;
- ``client_auth``: ``client_secret_basic`` (HTTP Basic, RFC 6749 §2.3.1, the default) or
  ``client_secret_post`` (client id and secret in the form body). The older values ``basic`` and
  ``body`` are still read as those two (deprecated: docs/providers/oauth2.md). For Basic the
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

from token_refresher.errors import ConfigError, ErrorClass, ProviderError, SecretFormatError
from token_refresher.http import check_url
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    ProviderContext,
    ValidationResult,
    json_object,
    oauth_error,
    require_refresh_token,
)
from token_refresher.providers.client import (
    ClientAuth,
    Endpoints,
    PlatformClient,
    authenticate,
    basic_authorization,
    unchecked,
)
from token_refresher.timeutil import from_epoch

__all__ = [
    "CLIENT_AUTH",
    "DEPRECATED_CLIENT_AUTH",
    "NAME",
    "PROVIDER",
    "GenericOAuth2",
    "basic_authorization",
    "client_authentication",
]

NAME = "oauth2"
GRANTS = ("refresh_token", "client_credentials")
CLIENT_AUTH = (ClientAuth.CLIENT_SECRET_BASIC.value, ClientAuth.CLIENT_SECRET_POST.value)
# The option's values before it spoke RFC 6749's words; still read, documented as deprecated.
DEPRECATED_CLIENT_AUTH = {
    "basic": ClientAuth.CLIENT_SECRET_BASIC,
    "body": ClientAuth.CLIENT_SECRET_POST,
}


def _choice(doc: TokenDocument, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = doc.str_option(name, default)
    if value not in allowed:
        raise SecretFormatError(f"must be one of {', '.join(allowed)}", field=f"options.{name}")
    return value


def _url(doc: TokenDocument, name: str, *, required: bool) -> str | None:
    url = doc.str_option(name, required=required)
    if not url:
        return None
    try:
        return check_url(url)
    except ConfigError as err:
        raise SecretFormatError(err.message.split(": ", 1)[-1], field=f"options.{name}") from None


def auth_method(doc: TokenDocument) -> ClientAuth:
    """``options.client_auth`` in RFC 6749's words (``basic``/``body`` read as before)."""
    value = doc.str_option("client_auth", ClientAuth.CLIENT_SECRET_BASIC.value)
    if value in DEPRECATED_CLIENT_AUTH:
        return DEPRECATED_CLIENT_AUTH[value]
    return ClientAuth(_choice(doc, "client_auth", CLIENT_AUTH, value))


def client_authentication(
    doc: TokenDocument, app: AppCredentials, form: dict[str, str]
) -> dict[str, str]:
    """Authenticate the client as ``options.client_auth`` says: the headers to send
    (``client_secret_basic``), or the credentials added to ``form`` (``client_secret_post``).
    Token, introspection and code exchange requests share it."""
    return authenticate(auth_method(doc), app, form)


class GenericOAuth2(PlatformClient):
    name = NAME
    endpoints = Endpoints("", grant="")  # the connection names its own (options.token_url)

    def token_url(self, doc: TokenDocument, ctx: ProviderContext) -> str:
        return _url(doc, "token_url", required=True) or ""

    def auth_method(self, doc: TokenDocument, app: AppCredentials) -> ClientAuth:
        return auth_method(doc)

    def grant_form(self, doc: TokenDocument, app: AppCredentials) -> dict[str, str]:
        grant = _choice(doc, "grant_type", GRANTS, "refresh_token")
        form = {"grant_type": grant}
        if grant == "refresh_token":
            form["refresh_token"] = require_refresh_token(doc, "the refresh_token grant")
        for extra in ("scope", "audience"):
            value = doc.str_option(extra)
            if value:
                form[extra] = value
        return form

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        url = _url(doc, "introspection_url", required=False)
        if url is None:
            return unchecked(doc, ctx.now(), "no introspection_url")
        app = self.app(app)
        form = {
            "token": doc.access_token or "",
            "token_type_hint": "access_token",  # nosec B105 # RFC 7662 hint, not a secret
        }
        headers = client_authentication(doc, app, form)
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
