"""The consenting account from an OpenID Connect id_token, or from a userinfo endpoint.

Trust: the endpoint is tied to the issuer; signatures are not verified. An id_token here always
comes straight from the token endpoint over TLS, so, as OpenID Connect Core 1.0 §3.1.3.7 step 6
allows, the TLS server check stands in for its signature. That holds only where the token endpoint
IS the issuer's, so it is made to be:

- Google and Microsoft: the token endpoint is the platform's own (a ``ProviderEndpoints``
  override is the deployer's, a trusted role: docs/security.md), and Microsoft's issuer, which
  names the token's own tenant (``tid``), must be a tenant the connection's ``options.tenant``
  admits (:func:`tenant_admits`);
- oauth2: ``options.token_url`` must be on ``options.issuer``'s origin (scheme, host, port;
  :func:`require_issuer_origin`), or the id_token is refused; a server whose token endpoint lives
  on another host pins its account with ``options.userinfo_url`` instead.

Everything else §3.1.3.7 requires of such a token is checked before any claim is used:

- the header is a JWS header whose ``alg`` is not ``none`` (Core §2: ``none`` only for a client
  that registered for it; we never do), and the token is signed (a third, non-empty part);
- ``iss`` is exactly the platform's issuer (step 2);
- ``aud`` is, or contains, the app's client id (step 3), and a token naming several audiences
  must carry ``azp`` (step 4 of errata set 1; errata set 2 keeps step 3's "reject additional
  audiences not trusted by the Client", and we trust no other audience unless ``azp`` says the
  token was issued to us); an ``azp``, when present, must be the client id (step 5);
- ``exp`` is in the future and ``iat`` not in the future, both with CLOCK_SKEW of leeway, and
  ``iat`` at most MAX_AGE old (steps 9 and 10: "the acceptable range is Client specific");
- no nonce is sent in the authorization request (the code is bound to the flow by ``state`` and
  PKCE), so none is checked (step 11).
A refusal is a ``config`` ProviderError: the configuration error page, nothing written.

``oauth2`` has no fixed issuer, so its consent needs ``options.issuer`` (the server issues
id_tokens) or ``options.userinfo_url`` (OpenID Connect Core §5.3, or any endpoint answering
``{"sub": ...}`` for the access token); with neither, no account could be pinned and the link is
refused where it is made and where it is opened (:func:`require_identity_source`).
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from token_refresher.connect.links import unb64url
from token_refresher.errors import ConfigError, ErrorClass, ProviderError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import ProviderContext, json_object, malformed
from token_refresher.timeutil import to_epoch

CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"  # Microsoft personal accounts' tid
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(hours=1)
ISSUER_OPTION = "issuer"
USERINFO_OPTION = "userinfo_url"
IDENTITY_PROVIDERS = frozenset({"oauth2"})  # providers whose identity source is configured


@dataclass(frozen=True)
class Expected:
    """What the token must say: issued by one of ``issuers`` to ``client_id``, at ``now``.
    ``issuers`` may be a function of the claims (Microsoft's issuer names the token's tenant)."""

    client_id: str
    issuers: Collection[str] | Callable[[Mapping[str, Any]], Collection[str]]
    now: datetime

    def issuers_for(self, claims: Mapping[str, Any]) -> Collection[str]:
        return self.issuers(claims) if callable(self.issuers) else self.issuers


def _refused(provider: str, what: str) -> ProviderError:
    return ProviderError(
        ErrorClass.CONFIG,
        f"the id_token is refused: {what}",
        provider=provider,
        remediation=(
            "Check that the connection names the app credentials it consented with, the "
            "platform's endpoints (oauth2: the issuer option) and this system's clock."
        ),
    )


def _segment(text: str, provider: str) -> dict[str, Any]:
    try:
        value = json.loads(unb64url(text))
    except (binascii.Error, ValueError):
        raise malformed(provider, "the id_token is not readable") from None
    if not isinstance(value, dict):
        raise malformed(provider, "the id_token is not readable")
    return value


def id_token_claims(body: Mapping[str, Any], provider: str, expected: Expected) -> dict[str, Any]:
    """The claims of the answer's id_token once every check above passed."""
    jwt = body.get("id_token")
    if not isinstance(jwt, str) or jwt.count(".") != 2:
        raise malformed(provider, "no id_token in the answer (is the openid scope granted?)")
    header_part, claims_part, signature = jwt.split(".")
    header, claims = _segment(header_part, provider), _segment(claims_part, provider)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none" or not signature:
        raise _refused(provider, "it is unsigned (alg none)")
    if claims.get("iss") not in expected.issuers_for(claims):
        raise _refused(provider, "its iss is not the platform's issuer")
    _check_audience(claims, provider, expected.client_id)
    _check_times(claims, provider, expected.now)
    return claims


def _check_audience(claims: Mapping[str, Any], provider: str, client_id: str) -> None:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if not client_id or client_id not in audiences:
        raise _refused(provider, "it was not issued to this app (aud is not the app's client_id)")
    azp = claims.get("azp")
    if len(audiences) > 1 and azp is None:
        raise _refused(provider, "it names several audiences and no azp")
    if azp is not None and azp != client_id:
        raise _refused(provider, "its azp is not the app's client_id")


def _number(claims: Mapping[str, Any], name: str, provider: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refused(provider, f"it has no numeric {name}")
    return float(value)


def _check_times(claims: Mapping[str, Any], provider: str, now: datetime) -> None:
    exp, iat = _number(claims, "exp", provider), _number(claims, "iat", provider)
    at, skew = to_epoch(now), CLOCK_SKEW.total_seconds()
    if exp + skew <= at:
        raise _refused(provider, "it has expired (exp)")
    if iat - skew > at or iat + MAX_AGE.total_seconds() + skew < at:
        raise _refused(provider, "its issue time (iat) is not recent")


# --- the endpoint tied to the issuer ----------------------------------------------------------


def tenant_admits(tenant: str, tid: str) -> bool:
    """Whether a Microsoft ``options.tenant`` admits an id_token of tenant ``tid``.

    A tenant id must be ``tid`` itself; ``consumers`` admits personal accounts only and
    ``organizations`` work or school accounts only; ``common`` admits any. A tenant named by its
    domain is served by its own token endpoint (``/{domain}/oauth2/v2.0/token``), which issues
    tokens of that tenant only, so the endpoint is the tie there.
    """
    wanted = tenant.strip().lower()
    if _GUID.match(wanted):
        return tid.lower() == wanted
    if wanted == "consumers":
        return tid.lower() == CONSUMER_TENANT
    if wanted == "organizations":
        return tid.lower() != CONSUMER_TENANT
    return True


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port = parts.port or {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


_FOREIGN_ISSUER = (
    "options.token_url is not on options.issuer's host, so the token endpoint cannot vouch for "
    "the issuer (use options.userinfo_url for such a server)"
)


def require_issuer_origin(issuer: str, token_url: str, provider: str) -> None:
    """Refuse an id_token when the token endpoint is not on the issuer's origin: TLS to that
    endpoint would vouch for a server other than the one the id_token names."""
    if _origin(issuer) != _origin(token_url):
        raise _refused(provider, _FOREIGN_ISSUER)


# --- oauth2: where the account comes from --------------------------------------------------------


def require_identity_source(provider: str, options: Mapping[str, Any]) -> None:
    """An ``oauth2`` consent must be able to name its account: ``issuer`` (on the token URL's
    origin) or ``userinfo_url``."""
    if provider not in IDENTITY_PROVIDERS:
        return
    issuer, token_url = options.get(ISSUER_OPTION), options.get("token_url")
    # Refused before a link is made or opened, rather than after the owner's code is spent.
    foreign = isinstance(issuer, str) and issuer.strip() and isinstance(token_url, str)
    if foreign and _origin(str(issuer)) != _origin(str(token_url)):
        raise ConfigError(_FOREIGN_ISSUER, field="options.issuer")
    if any(isinstance(options.get(o), str) and options[o].strip() for o in _SOURCES):
        return
    raise ConfigError(
        "an oauth2 consent needs options.issuer (a server that issues id_tokens) or "
        "options.userinfo_url, so that the consenting account can be pinned",
        field="options",
        remediation=(
            "set options.issuer to the server's issuer (its id_token iss), or options."
            "userinfo_url to its OpenID Connect userinfo endpoint (docs/providers/oauth2.md)"
        ),
    )


_SOURCES = (ISSUER_OPTION, USERINFO_OPTION)


def bearer_json(
    ctx: ProviderContext, url: str, provider: str, access_token: str, *, refusal: str
) -> dict[str, Any]:
    """The JSON object a GET with ``access_token`` as bearer answers; any other status than 200 is
    a ``permission`` error whose message is ``refusal`` with ``{status}`` filled in."""
    resp = ctx.http.request(
        "GET", url, provider=provider, headers={"Authorization": f"Bearer {access_token}"}
    )
    if resp.status != 200:
        raise ProviderError(
            ErrorClass.PERMISSION,
            refusal.format(status=resp.status),
            provider=provider,
            provider_code=resp.status,
        )
    return json_object(resp, provider)


def userinfo_subject(ctx: ProviderContext, url: str, provider: str, access_token: str) -> str:
    """``sub`` of the userinfo endpoint's answer for ``access_token`` (Core §5.3)."""
    refusal = "the account could not be read (userinfo HTTP {status})"
    sub = bearer_json(ctx, url, provider, access_token, refusal=refusal).get("sub")
    if not isinstance(sub, str) or not sub:
        raise malformed(provider, "userinfo has no sub")
    return sub


def oauth2_subject(
    doc: TokenDocument,
    app: AppCredentials,
    ctx: ProviderContext,
    answer: tuple[str, Mapping[str, Any]],
) -> str:
    """The oauth2 account: the id_token's ``sub`` (``issuer`` set), the userinfo ``sub``
    (``userinfo_url`` set), and both must agree when both are set (Core §5.3.2)."""
    access_token, body = answer
    issuer = doc.str_option(ISSUER_OPTION, "").strip()
    if issuer:  # the id_token's refusal (a ProviderError), before the link-time checks below
        require_issuer_origin(issuer, doc.str_option("token_url", ""), "oauth2")
    require_identity_source("oauth2", doc.options)
    userinfo = doc.str_option(USERINFO_OPTION, "").strip()
    sub = ""
    if issuer:
        claims = id_token_claims(body, "oauth2", Expected(app.client_id, [issuer], ctx.now()))
        sub = _subject(claims, "oauth2")
    if userinfo:
        info_sub = userinfo_subject(ctx, userinfo, "oauth2", access_token)
        if sub and info_sub != sub:
            raise _refused("oauth2", "its sub differs from the userinfo endpoint's")
        sub = info_sub
    return sub


def _subject(claims: Mapping[str, Any], provider: str) -> str:
    value = claims.get("sub")
    if not isinstance(value, str) or not value:
        raise malformed(provider, "the id_token has no sub")
    return value
