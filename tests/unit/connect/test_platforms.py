from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.unit.connect.browser import BASE_URL, World
from token_refresher.connect.platforms import PLATFORMS, AuthorizeRequest
from token_refresher.errors import ConfigError
from token_refresher.http import HttpClient
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

APP = AppCredentials("client-1", "secret-1")
REQ = AuthorizeRequest(BASE_URL + "callback/x", "state-1", "challenge-1")
DEFAULT_CTX = ProviderContext(http=HttpClient())

# provider -> (documented authorize URL without query, PKCE expected, extra params expected)
EXPECTED = {
    "meta": (
        "https://www.facebook.com/v25.0/dialog/oauth",
        False,
        {"scope": "ads_management,ads_read,business_management"},
    ),
    "google_ads": (
        "https://accounts.google.com/o/oauth2/v2/auth",
        True,
        {"access_type": "offline", "prompt": "consent"},
    ),
    "microsoft_ads": (
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        True,
        {"response_mode": "query"},
    ),
    "linkedin": (
        "https://www.linkedin.com/oauth/v2/authorization",
        False,
        {"response_type": "code"},
    ),
    "tiktok": ("https://business-api.tiktok.com/portal/auth", False, {"app_id": "client-1"}),
    "amazon_ads": (
        "https://www.amazon.com/ap/oa",
        True,
        {"scope": "advertising::campaign_management profile:user_id"},
    ),
    "oauth2": (
        "https://auth.example.com/authorize",
        True,
        {"audience": "api://x", "prompt": "login"},
    ),
}


def _doc(provider: str) -> TokenDocument:
    options = {}
    if provider == "oauth2":
        options = {
            "authorize_url": "https://auth.example.com/authorize",
            "audience": "api://x",
            "authorize_params": {"prompt": "login", "state": "evil"},
        }
    return TokenDocument(provider=provider, access_token="x", app_secret_id="a", options=options)


@pytest.mark.parametrize("provider", sorted(EXPECTED))
def test_authorize_url_is_the_documented_one(provider: str) -> None:
    url = PLATFORMS[provider].authorize_url(_doc(provider), APP, DEFAULT_CTX, REQ)
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    base, pkce, extra = EXPECTED[provider]
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == base
    assert query["state"] == "state-1"  # an extra param never replaces ours
    assert query["redirect_uri"] == REQ.redirect_uri  # exact, trailing path as registered
    assert ("code_challenge" in query) is pkce
    if pkce:
        assert query["code_challenge_method"] == "S256"
    assert extra.items() <= query.items()
    assert "secret-1" not in url


def test_amazon_authorize_host_follows_the_region() -> None:
    doc = TokenDocument(
        provider="amazon_ads", access_token="x", app_secret_id="a", options={"region": "EU"}
    )
    url = PLATFORMS["amazon_ads"].authorize_url(doc, APP, DEFAULT_CTX, REQ)
    assert url.startswith("https://eu.account.amazon.com/ap/oa?")


def test_meta_login_for_business_uses_config_id() -> None:
    doc = TokenDocument(
        provider="meta", access_token="x", app_secret_id="a", options={"config_id": "123"}
    )
    query = dict(
        parse_qsl(urlsplit(PLATFORMS["meta"].authorize_url(doc, APP, DEFAULT_CTX, REQ)).query)
    )
    assert query["config_id"] == "123"
    assert "scope" not in query


def test_oauth2_without_pkce_option_sends_no_challenge() -> None:
    doc = TokenDocument(
        provider="oauth2",
        access_token="x",
        app_secret_id="a",
        options={"authorize_url": "https://auth.example.com/a", "pkce": False},
    )
    assert "code_challenge" not in PLATFORMS["oauth2"].authorize_url(doc, APP, DEFAULT_CTX, REQ)


def test_oauth2_refuses_an_http_authorize_url() -> None:
    doc = TokenDocument(
        provider="oauth2",
        access_token="x",
        app_secret_id="a",
        options={"authorize_url": "http://auth.example.com/a"},
    )
    with pytest.raises(ConfigError, match="must use https"):
        PLATFORMS["oauth2"].authorize_url(doc, APP, DEFAULT_CTX, REQ)


def test_overrides_point_the_consent_at_the_fake_platform(world: World) -> None:
    url = PLATFORMS["google_ads"].authorize_url(_doc("google_ads"), APP, world.ctx, REQ)
    assert url.startswith(world.fake.url("google") + "/o/oauth2/v2/auth?")


def test_every_consent_provider_has_a_platform() -> None:
    from token_refresher.connect.links import CONSENT_PROVIDERS

    assert set(PLATFORMS) == CONSENT_PROVIDERS
