"""Meta's Graph API client, shared by the ``meta`` and ``meta_system_user`` providers and the
connect flow's Meta code exchange.

- The Graph version is pinned per connection (``options.graph_version``, default v25.0); a notice
  is raised when the pinned version is within 90 days of an end of support that Meta has
  published. A version whose end is not announced (v26.0) or not in the table has an unknown end:
  no date is invented and no warning is sent.
- Every Graph call made with an access token (``debug_token``, the system-user edges) sends
  ``appsecret_proof`` = hex(HMAC-SHA256(app_secret, access_token)). The ``fb_exchange_token`` call
  carries no access token to prove: it authenticates with ``client_secret`` itself.
- Graph errors map to error classes by code and subcode; a wrong app id or app secret is a
  ``config`` error naming the app credentials secret (``AppCredentialsRejected``): the exchange
  answers code 1 "Error validating client secret" (or 101 for an unknown app id), and
  ``debug_token`` answers a top-level 190 when the APP token (``app_id|app_secret``) is bad; the
  inspected token's own invalidity comes back inside ``data``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.http import HttpResponse
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    Notice,
    NoticeKind,
    ProviderContext,
    ValidationResult,
    json_object,
    malformed,
)
from token_refresher.timeutil import format_iso, from_epoch

__all__ = [
    "CODE_REMEDIATION",
    "DEFAULT_BASE_URL",
    "DEFAULT_GRAPH_VERSION",
    "MIN_EXTENSION",
    "NAME",
    "SUBCODE_REMEDIATION",
    "AppCredentialsRejected",
    "app_credentials_error",
    "appsecret_proof",
    "debug_token",
    "epoch_field",
    "exchange",
    "graph_call",
    "graph_error",
    "graph_get",
    "graph_version",
    "validation_from_debug",
    "version_notice",
]

NAME = "meta"  # the endpoint key (ProviderEndpoints) and the default provider of every call
DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v25.0"
# End of support of each Graph API version as Meta published it; None = not announced yet.
GRAPH_VERSION_END: dict[str, datetime | None] = {
    "v24.0": datetime(2028, 2, 18, tzinfo=UTC),
    "v25.0": datetime(2028, 7, 29, tzinfo=UTC),
    "v26.0": None,  # released 2026-07-29; Meta has announced no end date
}
VERSION_WARNING_WINDOW = timedelta(days=90)
# An exchange that moves the expiry out by less than this did not really extend the token.
MIN_EXTENSION = timedelta(days=1)

REAUTH_CODES = frozenset({102, 190})
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, *range(80000, 80015)})
PERMISSION_CODES = frozenset({3, 10, 273, 274, 294, *range(200, 300)})

SUBCODE_REMEDIATION = {
    458: "The user removed the app: they must open the app's login flow and authorize it again.",
    459: "The user's account is checkpointed: they must log in at facebook.com, clear the "
    "checkpoint, then re-authorize the app.",
    460: "The user changed their password: they must re-authorize the app to issue a new token.",
    463: "The token expired: the user must log in again and a new long-lived token must be stored.",
    464: "The user's account is not confirmed: they must confirm it on facebook.com, then "
    "re-authorize.",
    467: "The token is invalid (logged out or revoked): the user must re-authorize the app.",
    492: "The session is invalid (for example the user lost their role on the Page or business): "
    "restore the role and re-authorize.",
}
CODE_REMEDIATION = {
    190: "The access token is no longer valid: the user must re-authorize the app.",
    102: "The session expired: the user must log in and re-authorize the app.",
    10: "The app lacks a permission: request ads_management / ads_read (Advanced Access) and "
    "re-authorize.",
    200: "A permission is missing: check the token's scopes and the user's role on the ad account.",
    273: "The user has no role on the ad account or the token lacks ads_management: add the role "
    "and re-authorize.",
    274: "The ad account is not enabled for the Ads API: add the ad account to the app "
    "(development mode) or give the system user a role on it.",
    294: "Managing ads requires ads_management (Advanced Access): request it and re-authorize.",
    613: "Meta's ad-account rate limit was hit; the refresher retries with backoff.",
}


def appsecret_proof(app_secret: str, access_token: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def graph_version(doc: TokenDocument) -> str:
    version = doc.str_option("graph_version", DEFAULT_GRAPH_VERSION)
    if not (version.startswith("v") and version[1:].replace(".", "", 1).isdigit()):
        raise SecretFormatError("must look like v25.0", field="options.graph_version")
    return version


APP_CREDENTIALS_CODES = frozenset({101})  # "Error validating application" (unknown app id)


def _app_credentials_fault(code: int, message: Any, *, app_token: bool) -> bool:
    """Is this Graph error about OUR app id/secret rather than the user's token?"""
    text = message.lower() if isinstance(message, str) else ""
    if code == 1 and "client secret" in text:  # "Error validating client secret."
        return True
    # The request's access_token IS the app token: a 190 there is about the app credentials.
    return code in APP_CREDENTIALS_CODES or (app_token and code == 190)


class AppCredentialsRejected(ProviderError):
    """Meta refused the app id or app secret: a ``config`` error about the app credentials."""


def app_credentials_error(
    code: int, subcode: Any, message: Any, app_secret_id: str | None, provider: str = NAME
) -> AppCredentialsRejected:
    where = f"app credentials secret {app_secret_id!r}" if app_secret_id else "the app credentials"
    text = f"Meta rejected the app id or app secret in {where} (Graph error {code}"
    text += f"/{subcode})" if subcode else ")"
    if isinstance(message, str):
        text += f": {message[:200]}"
    return AppCredentialsRejected(
        ErrorClass.CONFIG,
        text,
        provider=provider,
        provider_code=code,
        provider_subcode=subcode if isinstance(subcode, int | str) else None,
        remediation=f"Put the app's current App ID and App Secret (App Dashboard > App settings > "
        f"Basic) into {where}. Every connection that uses it fails until then; the tokens "
        "themselves need no re-authorization.",
    )


def graph_error(
    resp: HttpResponse,
    provider: str = NAME,
    *,
    app_secret_id: str | None = None,
    app_token: bool = False,
) -> ProviderError:
    """Map a Graph error answer (``{"error": {"code", "error_subcode"...}}``) to an error class.

    ``app_token``: the request authenticated with the app token (``debug_token``), so a 190 is
    about the app credentials, not the user's token.
    """
    body = resp.json()
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("code"), int):
        transient = resp.status >= 500 or resp.status == 429
        return ProviderError(
            ErrorClass.TRANSIENT if transient else ErrorClass.CONFIG,
            f"Graph API answered HTTP {resp.status} without a Graph error body",
            provider=provider,
            provider_code=resp.status,
        )
    code: int = err["code"]
    subcode = err.get("error_subcode")
    if _app_credentials_fault(code, err.get("message"), app_token=app_token):
        return app_credentials_error(code, subcode, err.get("message"), app_secret_id, provider)
    if code in REAUTH_CODES:
        error_class = ErrorClass.REAUTH_REQUIRED
    elif code in TRANSIENT_CODES:
        error_class = ErrorClass.TRANSIENT
    elif code in PERMISSION_CODES:
        error_class = ErrorClass.PERMISSION
    else:
        error_class = ErrorClass.CONFIG
    remediation = (
        SUBCODE_REMEDIATION.get(subcode) if isinstance(subcode, int) else None
    ) or CODE_REMEDIATION.get(code, CODE_REMEDIATION[200] if 200 <= code < 300 else None)
    message = err.get("message")
    text = f"Graph error {code}" + (f"/{subcode}" if subcode else "")
    if isinstance(message, str):
        text += f": {message[:200]}"
    return ProviderError(
        error_class,
        text,
        provider=provider,
        provider_code=code,
        provider_subcode=subcode if isinstance(subcode, int | str) else None,
        remediation=remediation,
    )


def graph_call(  # noqa: PLR0913 - a Graph call: context, token, method, path, params, options
    ctx: ProviderContext,
    doc: TokenDocument,
    method: str,
    path: str,
    params: Mapping[str, Any],
    *,
    provider: str = NAME,
    app_token: bool = False,
    idempotent: bool | None = None,
) -> dict[str, Any]:
    """Call ``{base}/{version}/{path}``; return the JSON object or raise the mapped Graph error.
    ``idempotent=False``: a read timeout is not retried (a single-use code exchange)."""
    # meta_system_user may have an override of its own; otherwise both share Meta's.
    key = provider if provider in ctx.endpoints else NAME
    url = f"{ctx.base_url(key, DEFAULT_BASE_URL)}/{graph_version(doc)}/{path.lstrip('/')}"
    if method == "GET":
        resp = ctx.http.request("GET", url, provider=provider, params=params, idempotent=idempotent)
    else:
        resp = ctx.http.request(method, url, provider=provider, data=params, idempotent=idempotent)
    if resp.status != 200:
        raise graph_error(resp, provider, app_secret_id=doc.app_secret_id, app_token=app_token)
    body = json_object(resp, provider)
    if isinstance(body.get("error"), dict):  # Graph can put an error in a 200 batch-style answer
        raise graph_error(
            HttpResponse(400, resp.headers, resp.text),
            provider,
            app_secret_id=doc.app_secret_id,
            app_token=app_token,
        )
    return body


def graph_get(  # noqa: PLR0913 - graph_call's parameters less the method
    ctx: ProviderContext,
    doc: TokenDocument,
    path: str,
    params: Mapping[str, Any],
    *,
    provider: str = NAME,
    app_token: bool = False,
    idempotent: bool | None = None,
) -> dict[str, Any]:
    return graph_call(
        ctx, doc, "GET", path, params, provider=provider, app_token=app_token, idempotent=idempotent
    )


def debug_token(
    ctx: ProviderContext,
    doc: TokenDocument,
    app: AppCredentials,
    input_token: str,
    *,
    provider: str = NAME,
) -> dict[str, Any]:
    """``debug_token`` for ``input_token`` with the app token; returns its ``data`` object."""
    app_token = f"{app.client_id}|{app.client_secret}"
    body = graph_get(
        ctx,
        doc,
        "debug_token",
        {
            "input_token": input_token,
            "access_token": app_token,
            "appsecret_proof": appsecret_proof(app.client_secret, app_token),
        },
        provider=provider,
        app_token=True,
    )
    data = body.get("data")
    if not isinstance(data, dict):
        raise malformed(provider, "debug_token answer has no data object")
    if "error" in data and not data.get("is_valid"):
        err = data["error"]
        code = err.get("code") if isinstance(err, dict) else None
        subcode = err.get("subcode") if isinstance(err, dict) else None
        raise ProviderError(
            ErrorClass.REAUTH_REQUIRED,
            f"debug_token reports the token invalid (code {code}, subcode {subcode})",
            provider=provider,
            provider_code=code,
            provider_subcode=subcode,
            remediation=SUBCODE_REMEDIATION.get(subcode, CODE_REMEDIATION[190])
            if isinstance(subcode, int)
            else CODE_REMEDIATION[190],
        )
    return data


def exchange(  # noqa: PLR0913 - the exchange grant's parts, options keyword-only
    ctx: ProviderContext,
    doc: TokenDocument,
    app: AppCredentials,
    access_token: str,
    *,
    provider: str = NAME,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``GET /oauth/access_token?grant_type=fb_exchange_token``: the app secret authenticates the
    call itself (``client_secret``), so there is no access token to send a proof for."""
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "fb_exchange_token": access_token,
        **(extra or {}),
    }
    return graph_get(ctx, doc, "oauth/access_token", params, provider=provider)


def epoch_field(data: Mapping[str, Any], key: str) -> datetime | None:
    """debug_token epoch fields: 0 (or absent) means "never"."""
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return from_epoch(value)
    return None


def validation_from_debug(data: Mapping[str, Any]) -> ValidationResult:
    scopes = data.get("scopes")
    return ValidationResult(
        valid=data.get("is_valid") is True,
        expires_at=epoch_field(data, "expires_at"),
        data_access_expires_at=epoch_field(data, "data_access_expires_at"),
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        detail="debug_token",
    )


def version_notice(doc: TokenDocument, now: datetime) -> Notice | None:
    """A warning 90 days before a PUBLISHED end of support; nothing when the end is unknown."""
    version = graph_version(doc)
    end = GRAPH_VERSION_END.get(version)
    if end is not None and end - now <= VERSION_WARNING_WINDOW:
        return Notice(
            NoticeKind.API_VERSION_ENDING,
            f"Graph API {version} reaches end of support on {format_iso(end)}: "
            "set options.graph_version to a newer version",
            deadline=end,
        )
    return None
