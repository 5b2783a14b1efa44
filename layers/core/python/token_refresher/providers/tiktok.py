"""TikTok Business API tokens.

Every answer is an envelope ``{"code", "message", "request_id", "data"}`` and errors usually come
back as HTTP 200 with a non-zero ``code``: the code, not the HTTP status, decides.

Two token kinds, named by the document's ``kind`` (inferred only for documents written before
kinds existed: a refresh token means ``tiktok_account``, none means ``advertiser``):

- ``advertiser`` (Marketing API): long-term until revoked, no refresh token, cannot be
  refreshed. ``refresh()`` validates it with ``GET /open_api/v1.3/oauth2/advertiser/get/``
  (``app_id`` and ``secret`` in the query, the token in the ``Access-Token`` header, as the
  official SDK sends it) and returns the same token with a VALIDATED_ONLY notice and no expiry.
  A token that advertiser/get accepts but that lists no advertiser, or fewer than
  ``options.advertiser_ids`` (the set the consent recorded), is a partial or total
  de-authorization: ``validate`` reports it not valid and the refresh asks for a re-authorization.
- ``tiktok_account`` (Accounts API, creator / TikTok account tokens; legacy spelling
  ``refresh_token``): 24-hour access token, one-year refresh token, refreshed at
  ``POST /open_api/v1.3/tt_user/oauth2/refresh_token/`` with JSON ``client_id, client_secret,
  grant_type=refresh_token, refresh_token``. The answer's ``data`` carries ``access_token``,
  ``expires_in``, ``refresh_token``, ``refresh_token_expires_in``, ``open_id`` and ``scope``; a
  missing refresh token keeps the stored one. advertiser/get does not apply to these tokens: a
  token just issued by the refresh is accepted, and validation is structural (present, not
  expired).

Codes (the SDK's NumericErrorCodes): 40102/40103/40104/40105/40107/40114 re-authorize;
40001/40130 permission; 40100/40132/61000 throttling and 50000/50002/51000-51999/52000-52204/
53102/53103/60001 server trouble (transient); any other non-zero code is a configuration problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.http import RETRY_STATUSES, HttpResponse
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    Notice,
    NoticeKind,
    ProviderContext,
    RefreshResult,
    ValidationResult,
    countdown_at,
    expires_at_from,
    json_object,
    malformed,
    require_refresh_token,
    token_string,
)
from token_refresher.providers.client import Endpoints, PlatformClient, unchecked

__all__ = [
    "ADVERTISER_GET_PATH",
    "API_PREFIX",
    "DEFAULT_BASE_URL",
    "KINDS",
    "KIND_ACCOUNT",
    "KIND_ADVERTISER",
    "LEGACY_KINDS",
    "NAME",
    "PROVIDER",
    "TikTok",
    "consented_advertisers",
    "envelope_data",
    "token_kind",
]

NAME = "tiktok"
DEFAULT_BASE_URL = "https://business-api.tiktok.com"
API_PREFIX = "/open_api/v1.3"
ADVERTISER_GET_PATH = API_PREFIX + "/oauth2/advertiser/get/"
ACCOUNT_REFRESH_PATH = API_PREFIX + "/tt_user/oauth2/refresh_token/"
KIND_ADVERTISER = "advertiser"
KIND_ACCOUNT = "tiktok_account"
LEGACY_KINDS = {"refresh_token": KIND_ACCOUNT}  # written by onboarding before kinds existed
KINDS = (KIND_ADVERTISER, KIND_ACCOUNT)

REAUTH_CODES = frozenset({40102, 40103, 40104, 40105, 40107, 40114})
PERMISSION_CODES = frozenset({40001, 40130})
THROTTLE_CODES = frozenset({40100, 40132, 61000})
SERVER_CODES = frozenset(
    {50000, 50002, 53102, 53103, 60001, *range(51000, 52000), *range(52000, 52205)}
)

REMEDIATION = {
    40102: "The access token expired: the advertiser must authorize the app again in TikTok "
    "Business Center (or the refresh token must be used before the access token lapses).",
    40103: "The refresh token expired (one year): the user must authorize the app again.",
    40104: "The token is empty: store a valid access_token in this secret.",
    40105: "TikTok rejects the access token (revoked or wrong app): the advertiser must authorize "
    "the app again and the new token must be stored.",
    40107: "TikTok rejects the refresh token (revoked, already used or wrong app): the user must "
    "authorize the app again.",
    40114: "The advertiser logged out or cancelled the authorization: they must authorize the app "
    "again.",
    40001: "The app lacks a permission for this call: enable the scope in the TikTok developer "
    "portal and have the advertiser re-authorize.",
    40130: "The token lacks the required scope: add it to the app and have the advertiser "
    "re-authorize.",
}
DEAUTHORIZED_HINT = (
    "The advertiser (or a Business Center admin) withdrew the app's access to some or all "
    "advertisers: they must authorize the app again for every advertiser it should manage."
)
CLASS_REMEDIATION = {
    ErrorClass.TRANSIENT: "TikTok is throttling or temporarily failing; the refresher retries.",
    ErrorClass.CONFIG: "Check the app_id and secret in the app credentials secret and the token "
    "secret's kind (advertiser or tiktok_account).",
}


def classify_code(code: int) -> ErrorClass:
    if code in REAUTH_CODES:
        return ErrorClass.REAUTH_REQUIRED
    if code in PERMISSION_CODES:
        return ErrorClass.PERMISSION
    if code in THROTTLE_CODES or code in SERVER_CODES:
        return ErrorClass.TRANSIENT
    return ErrorClass.CONFIG


def tiktok_error(code: int, message: Any, request_id: Any = None) -> ProviderError:
    error_class = classify_code(code)
    text = f"TikTok error {code}"
    if isinstance(message, str) and message:
        text += f": {message[:200]}"
    if isinstance(request_id, str) and request_id:
        text += f" (request_id {request_id[:64]})"
    return ProviderError(
        error_class,
        text,
        provider=NAME,
        provider_code=code,
        remediation=REMEDIATION.get(code) or CLASS_REMEDIATION.get(error_class),
    )


def _code(body: Mapping[str, Any]) -> int | None:
    code = body.get("code")
    if isinstance(code, str) and code.strip().isdigit():
        return int(code)
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return None


def envelope_data(resp: HttpResponse) -> dict[str, Any]:
    """The ``data`` object of a successful envelope, or the mapped error."""
    body = resp.json()
    code = _code(body) if isinstance(body, dict) else None
    if isinstance(body, dict) and code:
        raise tiktok_error(code, body.get("message"), body.get("request_id"))
    if resp.status in RETRY_STATUSES:
        raise ProviderError(
            ErrorClass.TRANSIENT,
            f"TikTok answered HTTP {resp.status}",
            provider=NAME,
            provider_code=resp.status,
            remediation=CLASS_REMEDIATION[ErrorClass.TRANSIENT],
        )
    if not 200 <= resp.status < 300:
        raise ProviderError(
            ErrorClass.TRANSIENT if resp.status >= 500 else ErrorClass.CONFIG,
            f"TikTok answered HTTP {resp.status} without an error envelope",
            provider=NAME,
            provider_code=resp.status,
            remediation=CLASS_REMEDIATION[ErrorClass.CONFIG],
        )
    body = json_object(resp, NAME)
    if code is None:
        raise malformed(NAME, "the envelope has no numeric code")
    data = body.get("data")
    if not isinstance(data, dict):
        raise malformed(NAME, "the envelope has no data object")
    return data


def token_kind(doc: TokenDocument) -> str:
    """The document's token kind; old documents without one are read by their refresh token."""
    if doc.kind is None:
        return KIND_ACCOUNT if doc.refresh_token else KIND_ADVERTISER
    kind = LEGACY_KINDS.get(doc.kind, doc.kind)
    if kind not in KINDS:
        raise SecretFormatError(f"must be one of {', '.join(KINDS)} for TikTok", field="kind")
    return kind


def consented_advertisers(doc: TokenDocument) -> frozenset[str]:
    """``options.advertiser_ids``: the advertisers the owner consented for (set by the consent)."""
    ids = doc.option("advertiser_ids")
    if ids is None:
        return frozenset()
    if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise SecretFormatError("must be a list of advertiser ids", field="options.advertiser_ids")
    return frozenset(str(i) for i in ids)


@dataclass(frozen=True)
class Coverage:
    """What advertiser/get lists, against what the owner consented for."""

    listed: set[str]
    consented: frozenset[str]

    @property
    def problem(self) -> str:
        """Why the token no longer serves the connection; empty when it does."""
        if not self.listed:
            return "it lists no advertiser: the authorization was withdrawn"
        missing = sorted(self.consented - self.listed)
        if missing:
            reached = len(self.consented) - len(missing)
            return (
                f"it reaches {reached} of {len(self.consented)} consented advertisers "
                f"(no longer listed: {', '.join(missing)})"
            )
        return ""


class TikTok(PlatformClient):
    """Advertiser tokens validated with advertiser/get; account tokens refreshed in an
    envelope."""

    name = NAME
    endpoints = Endpoints(DEFAULT_BASE_URL, grant=ACCOUNT_REFRESH_PATH, check=ADVERTISER_GET_PATH)

    def _check(self, doc: TokenDocument, app: AppCredentials, ctx: ProviderContext) -> Coverage:
        """advertiser/get with the access token: which of the consented advertisers it reaches."""
        resp = ctx.http.request(
            "GET",
            self.base_url(doc, ctx) + self.endpoints.check,
            provider=NAME,
            params={"app_id": app.client_id, "secret": app.client_secret},
            headers={"Access-Token": doc.access_token or ""},
        )
        advertisers = envelope_data(resp).get("list")
        listed = {
            str(item.get("advertiser_id"))
            for item in (advertisers if isinstance(advertisers, list) else [])
            if isinstance(item, dict) and item.get("advertiser_id") is not None
        }
        return Coverage(listed, consented_advertisers(doc))

    def grant(self, doc: TokenDocument, app: AppCredentials, ctx: ProviderContext) -> RefreshResult:
        if token_kind(doc) == KIND_ADVERTISER:
            return self._validate_only(doc, app, ctx)
        require_refresh_token(doc, "TikTok account tokens")
        resp = ctx.http.request(
            "POST",
            self.token_url(doc, ctx),
            provider=NAME,
            json_body={
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "grant_type": "refresh_token",
                "refresh_token": doc.refresh_token,
            },
        )
        data = envelope_data(resp)
        now = ctx.now()
        access_token = token_string(data, "access_token", NAME)
        expires_at = expires_at_from(data.get("expires_in"), now, provider=NAME)
        new_refresh = data.get("refresh_token")
        if new_refresh is not None and (
            not isinstance(new_refresh, str) or not new_refresh.strip()
        ):
            raise malformed(NAME, "refresh_token is not a string")
        remaining = data.get("refresh_token_expires_in")
        refresh_expires_at = (
            countdown_at(remaining, now, provider=NAME, field_name="refresh_token_expires_in")
            if remaining is not None
            else doc.refresh_token_expires_at
        )
        return RefreshResult(
            access_token=access_token,
            expires_at=expires_at,
            refresh_token=new_refresh or doc.refresh_token,
            refresh_token_expires_at=refresh_expires_at,
        )

    def _validate_only(
        self, doc: TokenDocument, app: AppCredentials, ctx: ProviderContext
    ) -> RefreshResult:
        if not doc.access_token:
            raise SecretFormatError(
                "is required for TikTok advertiser tokens", field="access_token"
            )
        coverage = self._check(doc, app, ctx)
        if coverage.problem:
            raise ProviderError(
                ErrorClass.REAUTH_REQUIRED,
                f"advertiser/get accepted the token, but {coverage.problem}",
                provider=NAME,
                remediation=DEAUTHORIZED_HINT,
            )
        count = len(coverage.listed)
        return RefreshResult(
            access_token=doc.access_token,
            expires_at=None,
            notices=(
                Notice(
                    NoticeKind.VALIDATED_ONLY,
                    "TikTok advertiser tokens are long-term and cannot be refreshed: the token was "
                    f"validated with advertiser/get instead ({count} advertiser(s) authorized)",
                ),
            ),
        )

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        app = self.app(app)
        if token_kind(doc) == KIND_ACCOUNT:
            return _structural(doc, ctx)
        try:
            coverage = self._check(doc, app, ctx)
        except ProviderError as err:
            if err.error_class is ErrorClass.REAUTH_REQUIRED:
                return ValidationResult(
                    valid=False, detail=f"advertiser/get rejected the token ({err.provider_code})"
                )
            raise
        if coverage.problem:
            return ValidationResult(
                valid=False, detail=f"advertiser/get accepted the token, but {coverage.problem}"
            )
        return ValidationResult(
            valid=True,
            expires_at=doc.expires_at,
            detail=f"advertiser/get accepted the token ({len(coverage.listed)} advertiser(s))",
        )


def _structural(doc: TokenDocument, ctx: ProviderContext) -> ValidationResult:
    return unchecked(doc, ctx.now(), "TikTok account tokens have no check (issued by the refresh)")


PROVIDER = TikTok()
