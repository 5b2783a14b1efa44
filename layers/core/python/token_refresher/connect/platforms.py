"""Each platform's consent request: where the browser goes and with which parameters.

Defaults follow the platforms' documentation (docs/connect.md has the table and sources). A
``PROVIDER_ENDPOINTS`` override (tests, private proxies) replaces the host: the authorize path is
then appended to the override base, as the token paths are in the provider modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from token_refresher.errors import ConfigError, SecretFormatError
from token_refresher.http import check_url
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import amazon_ads, meta_graph, microsoft_ads, tiktok
from token_refresher.providers.base import ProviderContext

GOOGLE_SCOPE = "https://www.googleapis.com/auth/adwords openid email"
# Always asked with options.scope, as MSAL adds them to every request: openid (the id_token),
# profile (its oid and preferred_username: the ID token claims reference makes them need it) and
# offline_access (the refresh token).
MICROSOFT_CONSENT_SCOPES = ("openid", "profile", "offline_access")
LINKEDIN_SCOPE = "r_ads rw_ads r_ads_reporting openid profile"
AMAZON_SCOPE = "advertising::campaign_management profile:user_id"
META_SCOPE = "ads_management,ads_read,business_management"
AMAZON_AUTHORIZE = {
    "NA": "https://www.amazon.com",
    "EU": "https://eu.account.amazon.com",
    "FE": "https://apac.account.amazon.com",
}
NO_CONSENT_FLOW = {
    "meta_system_user": "System User tokens are made in Business Manager, not by a consent "
    "screen: see docs/providers/meta_system_user.md."
}
TIKTOK_ACCOUNT_NO_FLOW = (
    "TikTok account tokens (kind tiktok_account) come from the account holder's authorization "
    "of the Accounts API app, not from this link: it runs the Marketing API advertiser "
    "authorization, which would replace the refresh grant. See docs/providers/tiktok.md."
)


class NoConsentFlow(ConfigError):
    """The connection is renewed some other way than a consent link (the reason says how)."""


def consent_refusal(doc: TokenDocument) -> str | None:
    """Why ``doc`` has no consent flow, or None when it has one."""
    if doc.provider in NO_CONSENT_FLOW:
        return NO_CONSENT_FLOW[doc.provider]
    if doc.provider == "tiktok" and tiktok.token_kind(doc) == tiktok.KIND_ACCOUNT:
        return TIKTOK_ACCOUNT_NO_FLOW
    return None


def require_consent_flow(doc: TokenDocument) -> None:
    reason = consent_refusal(doc)
    if reason is not None:
        raise NoConsentFlow(reason, field="provider" if doc.provider in NO_CONSENT_FLOW else "kind")


@dataclass(frozen=True)
class AuthorizeRequest:
    redirect_uri: str
    state: str
    code_challenge: str


@dataclass(frozen=True)
class Platform:
    name: str
    pkce: Callable[[TokenDocument], bool]
    scopes: Callable[[TokenDocument], str]
    _url: Callable[[TokenDocument, AppCredentials, ProviderContext, AuthorizeRequest], str]

    def authorize_url(
        self,
        doc: TokenDocument,
        app: AppCredentials,
        ctx: ProviderContext,
        req: AuthorizeRequest,
    ) -> str:
        return self._url(doc, app, ctx, req)


def _base(ctx: ProviderContext, provider: str, default: str) -> str:
    return check_url(ctx.endpoints.get(provider, default)).rstrip("/")


def _opt(doc: TokenDocument, name: str, default: str) -> str:
    return doc.str_option(name, default).strip() or default


def _pkce(req: AuthorizeRequest) -> dict[str, str]:
    return {"code_challenge": req.code_challenge, "code_challenge_method": "S256"}


def _compose(base: str, params: Mapping[str, str]) -> str:
    return base + ("&" if "?" in base else "?") + urlencode(params)


def _meta(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, r: AuthorizeRequest
) -> str:
    # Meta's dialog lives on www.facebook.com; an override replaces it like the Graph host.
    base = _base(ctx, "meta", "https://www.facebook.com")
    params = {"client_id": app.client_id, "redirect_uri": r.redirect_uri, "state": r.state}
    config_id = doc.str_option("config_id", "").strip()  # Facebook Login for Business
    params |= {"config_id": config_id} if config_id else {"scope": _meta_scope(doc)}
    return _compose(
        f"{base}/{meta_graph.graph_version(doc)}/dialog/oauth", params | {"response_type": "code"}
    )


def _meta_scope(doc: TokenDocument) -> str:
    return _opt(doc, "scope", META_SCOPE)


def _google(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, r: AuthorizeRequest
) -> str:
    base = _base(ctx, "google_ads", "https://accounts.google.com")
    params = {
        "client_id": app.client_id,
        "redirect_uri": r.redirect_uri,
        "response_type": "code",
        "scope": _opt(doc, "consent_scope", GOOGLE_SCOPE),
        "access_type": "offline",
        "prompt": "consent",  # without it a repeated consent returns no refresh token
        "include_granted_scopes": "true",
        "state": r.state,
    }
    return _compose(base + "/o/oauth2/v2/auth", params | _pkce(r))


def microsoft_scope(doc: TokenDocument) -> str:
    """The consent's scope, at the authorize and the token endpoint alike."""
    words = _opt(doc, "scope", microsoft_ads.DEFAULT_SCOPE).split()
    extra = [w for w in words if w not in MICROSOFT_CONSENT_SCOPES]
    return " ".join([*MICROSOFT_CONSENT_SCOPES, *extra])


def _microsoft(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, r: AuthorizeRequest
) -> str:
    base = _base(ctx, "microsoft_ads", microsoft_ads.DEFAULT_BASE_URL)
    tenant = _opt(doc, "tenant", microsoft_ads.DEFAULT_TENANT)
    params = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": r.redirect_uri,
        "response_mode": "query",
        "scope": microsoft_scope(doc),
        "state": r.state,
    }
    return _compose(f"{base}/{tenant}/oauth2/v2.0/authorize", params | _pkce(r))


def _linkedin(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, r: AuthorizeRequest
) -> str:
    base = _base(ctx, "linkedin", "https://www.linkedin.com")
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": r.redirect_uri,
        "state": r.state,
        "scope": _opt(doc, "consent_scope", LINKEDIN_SCOPE),
    }
    return _compose(base + "/oauth/v2/authorization", params)


def _tiktok(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, r: AuthorizeRequest
) -> str:
    base = _base(ctx, "tiktok", "https://business-api.tiktok.com")
    params = {"app_id": app.client_id, "state": r.state, "redirect_uri": r.redirect_uri}
    return _compose(base + "/portal/auth", params)


def amazon_region(doc: TokenDocument) -> str:
    amazon_ads.region_base_url(doc)  # validates options.region
    return doc.str_option("region", amazon_ads.DEFAULT_REGION).strip().upper()


def _amazon(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, r: AuthorizeRequest
) -> str:
    base = _base(ctx, "amazon_ads", AMAZON_AUTHORIZE[amazon_region(doc)])
    params = {
        "client_id": app.client_id,
        "scope": _opt(doc, "consent_scope", AMAZON_SCOPE),
        "response_type": "code",
        "redirect_uri": r.redirect_uri,
        "state": r.state,
    }
    return _compose(base + "/ap/oa", params | _pkce(r))


def oauth2_pkce(doc: TokenDocument) -> bool:
    return doc.bool_option("pkce", True)


def _oauth2(
    doc: TokenDocument, app: AppCredentials, ctx: ProviderContext, r: AuthorizeRequest
) -> str:
    url = doc.str_option("authorize_url", required=True)
    try:
        base = check_url(url)
    except ConfigError as err:
        raise SecretFormatError(err.message, field="options.authorize_url") from None
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": r.redirect_uri,
        "state": r.state,
    }
    for name in ("scope", "audience"):
        if value := doc.str_option(name, "").strip():
            params[name] = value
    extra = doc.option("authorize_params", {})
    if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
        raise SecretFormatError("must be an object of strings", field="options.authorize_params")
    reserved = {"state", "redirect_uri", "client_id", "code_challenge", "code_challenge_method"}
    params |= {k: v for k, v in extra.items() if k not in reserved}
    return _compose(base, params | (_pkce(r) if oauth2_pkce(doc) else {}))


def _always(_doc: TokenDocument) -> bool:
    return True


def _never(_doc: TokenDocument) -> bool:
    return False


PLATFORMS: Mapping[str, Platform] = {
    "meta": Platform("meta", _never, _meta_scope, _meta),
    "google_ads": Platform(
        "google_ads", _always, lambda d: _opt(d, "consent_scope", GOOGLE_SCOPE), _google
    ),
    "microsoft_ads": Platform("microsoft_ads", _always, microsoft_scope, _microsoft),
    "linkedin": Platform(
        "linkedin", _never, lambda d: _opt(d, "consent_scope", LINKEDIN_SCOPE), _linkedin
    ),
    "tiktok": Platform("tiktok", _never, lambda _d: "as configured on the TikTok app", _tiktok),
    "amazon_ads": Platform(
        "amazon_ads", _always, lambda d: _opt(d, "consent_scope", AMAZON_SCOPE), _amazon
    ),
    "oauth2": Platform(
        "oauth2", oauth2_pkce, lambda d: d.str_option("scope", "").strip() or "(none)", _oauth2
    ),
}

LABELS = {
    "meta": "Meta (Facebook) Marketing API",
    "google_ads": "Google Ads",
    "microsoft_ads": "Microsoft Advertising",
    "linkedin": "LinkedIn Marketing",
    "tiktok": "TikTok Business",
    "amazon_ads": "Amazon Ads",
    "oauth2": "OAuth 2.0",
}


def platform(provider: str) -> Platform:
    found = PLATFORMS.get(provider)
    if found is None:
        reason = NO_CONSENT_FLOW.get(provider, f"provider {provider!r} has no consent flow")
        raise ConfigError(reason, field="provider")
    return found
