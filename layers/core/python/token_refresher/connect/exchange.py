"""The callback's provider half: code exchange, the platform's follow-up, the consenting account.

- Meta: code -> short-lived user token (GET /oauth/access_token), then the provider module's own
  ``fb_exchange_token`` refresh -> the long-lived token; the account is ``debug_token``'s user id.
- TikTok Business: ``auth_code`` -> advertiser token and advertiser ids (the account).
- Google, Microsoft, Amazon, LinkedIn, oauth2: the RFC 6749 authorization_code grant (with the PKCE
  verifier where the platform takes it) -> access and refresh token; the account is the id_token's
  ``sub`` (Google, oauth2), ``tid``/``oid`` (Microsoft), ``/v2/userinfo`` ``sub`` (LinkedIn), or
  ``/user/profile`` ``user_id`` (Amazon).
  oauth2 takes its account from ``options.issuer``'s id_token and/or ``options.userinfo_url``.
An id_token is read only once idtoken.py's OpenID Connect Core §3.1.3.7 checks pass, its ``iss``
the platform's documented issuer (Google: ``https://accounts.google.com`` or
``accounts.google.com``; Microsoft: ``https://login.microsoftonline.com/{tid}/v2.0``; oauth2: the
connection's ``issuer`` option).
No value returned or raised here carries a token or a code in a message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from token_refresher.connect.idtoken import (
    Expected,
    bearer_json,
    id_token_claims,
    oauth2_subject,
    tenant_admits,
)
from token_refresher.connect.platforms import (
    amazon_region,
    microsoft_scope,
    oauth2_pkce,
    platform,
    require_consent_flow,
)
from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import amazon_ads, meta, meta_graph, microsoft_ads, oauth2, tiktok
from token_refresher.providers.base import (
    Notice,
    NoticeKind,
    ProviderContext,
    RefreshResult,
    json_object,
    malformed,
    oauth_error,
    oauth_token_response,
)
from token_refresher.providers.client import ClientAuth, authenticate
from token_refresher.providers.google_ads import TESTING_APP_LIFETIME
from token_refresher.timeutil import format_iso

GOOGLE_OAUTH_BASE = "https://oauth2.googleapis.com"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
MICROSOFT_ISSUER = "https://login.microsoftonline.com/{tid}/v2.0"
LINKEDIN_API = "https://api.linkedin.com"


@dataclass(frozen=True)
class Identity:
    """The account that consented: ``account_id`` is compared, ``label`` is shown."""

    account_id: str
    label: str = ""


@dataclass(frozen=True)
class CodeGrant:
    code: str
    redirect_uri: str
    code_verifier: str | None


@dataclass(frozen=True)
class Consent:
    tokens: RefreshResult  # what the code grant issued: access and refresh token, expiries
    identity: Identity | None
    kind: str | None = None
    options_update: Mapping[str, Any] = field(default_factory=dict)


def exchange_code(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, grant: CodeGrant
) -> Consent:
    handler = _HANDLERS[platform(doc.provider).name]
    return handler(doc, app, ctx, grant)


def _post_code(  # noqa: PLR0913 - the grant's parts; headers keyword-only
    ctx: ProviderContext,
    url: str,
    provider: str,
    form: dict[str, str],
    grant: CodeGrant,
    *,
    headers: Mapping[str, str] | None = None,
) -> tuple[RefreshResult, dict[str, Any]]:
    form = {
        "grant_type": "authorization_code",
        "code": grant.code,
        "redirect_uri": grant.redirect_uri,
    } | form
    if grant.code_verifier:
        form["code_verifier"] = grant.code_verifier
    resp = ctx.http.request(
        "POST", url, provider=provider, idempotent=False, data=form, headers=headers
    )
    if not 200 <= resp.status < 300:
        raise oauth_error(resp, provider)
    return oauth_token_response(resp, provider, ctx.now(), None), json_object(resp, provider)


def _claim(claims: Mapping[str, Any], name: str, provider: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise malformed(provider, f"the id_token has no {name}")
    return value


def _require_refresh(tokens: RefreshResult, provider: str, hint: str) -> None:
    if not tokens.refresh_token:
        raise ProviderError(
            ErrorClass.CONFIG, f"the platform returned no refresh token: {hint}", provider=provider
        )


def _client_secret_post(app: AppCredentials) -> dict[str, str]:
    """RFC 6749 §2.3.1 ``client_secret_post`` (``none`` for a public client without a secret):
    the form fields that authenticate the app at the platforms' token endpoints."""
    form: dict[str, str] = {}
    method = ClientAuth.CLIENT_SECRET_POST if app.client_secret else ClientAuth.NONE
    authenticate(method, app, form)
    return form


def _google(doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, g: CodeGrant) -> Consent:
    url = ctx.base_url("google_ads", GOOGLE_OAUTH_BASE) + "/token"
    tokens, body = _post_code(ctx, url, "google_ads", _client_secret_post(app), g)
    _require_refresh(tokens, "google_ads", "consent again (the link asks with prompt=consent)")
    expected = Expected(app.client_id, GOOGLE_ISSUERS, ctx.now())
    claims = id_token_claims(body, "google_ads", expected)
    label = claims.get("email") if isinstance(claims.get("email"), str) else ""
    if tokens.refresh_token_expires_at is None and doc.bool_option("testing_app"):
        # A Testing-status app's new grant dies 7 days after this consent: the next deadline.
        tokens = replace(tokens, refresh_token_expires_at=ctx.now() + TESTING_APP_LIFETIME)
    return Consent(tokens, Identity(_claim(claims, "sub", "google_ads"), str(label)))


def _microsoft(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, g: CodeGrant
) -> Consent:
    tenant = doc.str_option("tenant", microsoft_ads.DEFAULT_TENANT).strip() or "common"
    base = ctx.base_url("microsoft_ads", microsoft_ads.DEFAULT_BASE_URL)
    form = _client_secret_post(app) | {
        "scope": microsoft_scope(doc)
    }  # the authorize request's, as MSAL
    tokens, body = _post_code(ctx, f"{base}/{tenant}/oauth2/v2.0/token", "microsoft_ads", form, g)
    _require_refresh(tokens, "microsoft_ads", "the scope must include offline_access")
    expected = Expected(app.client_id, _microsoft_issuers, ctx.now())
    claims = id_token_claims(body, "microsoft_ads", expected)
    tid, oid = _claim(claims, "tid", "microsoft_ads"), _claim(claims, "oid", "microsoft_ads")
    if not tenant_admits(tenant, tid):
        raise ProviderError(
            ErrorClass.CONFIG,
            f"the id_token is refused: its tenant is not options.tenant ({tenant})",
            provider="microsoft_ads",
            remediation="Sign in with an account of the configured tenant, or correct "
            "options.tenant in the token secret.",
        )
    label = claims.get("preferred_username")
    return Consent(tokens, Identity(f"{tid}/{oid}", label if isinstance(label, str) else ""))


def _microsoft_issuers(claims: Mapping[str, Any]) -> list[str]:
    tid = claims.get("tid")  # the v2.0 issuer names the token's own tenant
    return [MICROSOFT_ISSUER.format(tid=tid)] if isinstance(tid, str) and tid else []


_IDENTITY_REFUSAL = "the account could not be read (HTTP {status}): is the identity scope granted?"


def _bearer_json(
    ctx: ProviderContext, url: str, provider: str, access_token: str
) -> dict[str, Any]:
    return bearer_json(ctx, url, provider, access_token, refusal=_IDENTITY_REFUSAL)


def _linkedin(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, g: CodeGrant
) -> Consent:
    base = ctx.base_url("linkedin", "https://www.linkedin.com")
    tokens, _ = _post_code(
        ctx, base + "/oauth/v2/accessToken", "linkedin", _client_secret_post(app), g
    )
    api = ctx.endpoints.get("linkedin", LINKEDIN_API).rstrip("/")
    info = _bearer_json(ctx, api + "/v2/userinfo", "linkedin", tokens.access_token)
    sub = info.get("sub")
    if not isinstance(sub, str) or not sub:
        raise malformed("linkedin", "userinfo has no sub")
    name = info.get("name") if isinstance(info.get("name"), str) else ""
    if not tokens.refresh_token:  # an app not approved for programmatic refresh tokens
        when = format_iso(tokens.expires_at) if tokens.expires_at else "the access token expires"
        notice = Notice(
            NoticeKind.NOT_EXTENDED,
            "LinkedIn issued no refresh token (the app is not approved for programmatic refresh):"
            f" the member must consent again before {when}",
            deadline=tokens.expires_at,
        )
        tokens = replace(tokens, notices=(*tokens.notices, notice))
    return Consent(tokens, Identity(sub, str(name)))


def _amazon(doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, g: CodeGrant) -> Consent:
    base = ctx.base_url("amazon_ads", amazon_ads.REGION_BASE_URLS[amazon_region(doc)])
    tokens, _ = _post_code(
        ctx, base + amazon_ads.GRANT_PATH, "amazon_ads", _client_secret_post(app), g
    )
    _require_refresh(tokens, "amazon_ads", "the app credentials need a client secret")
    info = _bearer_json(ctx, base + "/user/profile", "amazon_ads", tokens.access_token)
    user_id = info.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise malformed("amazon_ads", "the profile has no user_id (scope profile:user_id)")
    name = info.get("name") if isinstance(info.get("name"), str) else ""
    return Consent(tokens, Identity(user_id, str(name)))


def _oauth2(doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, g: CodeGrant) -> Consent:
    url = doc.str_option("token_url", required=True)
    form: dict[str, str] = {}
    headers = oauth2.client_authentication(doc, app, form)  # the provider's own client auth
    if not oauth2_pkce(doc):
        g = CodeGrant(g.code, g.redirect_uri, None)
    tokens, body = _post_code(ctx, url, "oauth2", form, g, headers=headers)
    if doc.refresh_token:  # never trade a refreshable grant for one that is not
        _require_refresh(tokens, "oauth2", "the connection had one; ask for offline access")
    return Consent(tokens, Identity(oauth2_subject(doc, app, ctx, (tokens.access_token, body))))


def _meta(doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, g: CodeGrant) -> Consent:
    short = meta_graph.graph_get(
        ctx,
        doc,
        "oauth/access_token",
        {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": g.redirect_uri,  # must equal the dialog's (error 36008 otherwise)
            "code": g.code,
        },
        idempotent=False,  # a code works once: never replay the exchange after a read timeout
    )
    if not isinstance(short.get("access_token"), str):
        raise malformed("meta", "no access_token in the code exchange answer")
    short_doc = doc.evolve(access_token=short["access_token"], expires_at=None)
    long_lived = meta.PROVIDER.refresh(short_doc, app, ctx)  # fb_exchange_token
    data = meta_graph.debug_token(ctx, doc, app, long_lived.access_token)
    user_id = data.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise malformed("meta", "debug_token has no user_id")
    return Consent(long_lived, Identity(user_id), kind="user_long_lived")


def _tiktok(doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, g: CodeGrant) -> Consent:
    require_consent_flow(doc)  # never trade an account token's refresh grant for an advertiser one
    url = (
        ctx.base_url("tiktok", tiktok.DEFAULT_BASE_URL)
        + tiktok.API_PREFIX
        + "/oauth2/access_token/"
    )
    body = {"app_id": app.client_id, "secret": app.client_secret, "auth_code": g.code}
    resp = ctx.http.request("POST", url, provider="tiktok", idempotent=False, json_body=body)
    data = tiktok.envelope_data(resp)
    access = data.get("access_token")
    ids = data.get("advertiser_ids")
    if not isinstance(access, str) or not access:
        raise malformed("tiktok", "no access_token in the answer")
    if not isinstance(ids, list) or not ids:
        raise malformed("tiktok", "no advertiser_ids in the answer")
    accounts = ",".join(sorted(str(i) for i in ids))
    tokens = RefreshResult(access_token=access, expires_at=None)
    return Consent(
        tokens,
        Identity(accounts, f"advertisers {accounts}"),
        kind=tiktok.KIND_ADVERTISER,
        options_update={"advertiser_ids": sorted(str(i) for i in ids)},
    )


_HANDLERS: Mapping[
    str, Callable[[TokenDocument, AppCredentials, ProviderContext, CodeGrant], Consent]
] = {
    "meta": _meta,
    "google_ads": _google,
    "microsoft_ads": _microsoft,
    "linkedin": _linkedin,
    "amazon_ads": _amazon,
    "tiktok": _tiktok,
    "oauth2": _oauth2,
}


def same_account(previous: str, new: Identity, provider: str) -> bool:
    """TikTok: the new grant must still cover every advertiser of the previous one."""
    if provider == "tiktok":
        return set(previous.split(",")) <= set(new.account_id.split(","))
    return previous == new.account_id
