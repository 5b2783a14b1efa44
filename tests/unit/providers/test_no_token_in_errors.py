"""No token, refresh token or secret from the fixtures appears in any raised error."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import TokenRefresherError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import get_provider
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

ACCESS = "ACCESS-token-material-5f4e3d2c1b0a"
REFRESH = "REFRESH-token-material-0a1b2c3d4e5f"

Setup = Callable[[FakeProviders], None]


def _nothing(_fake: FakeProviders) -> None:
    return None


def _mode(provider: str, failure: str) -> Setup:
    return lambda fake: fake.set_mode(provider, failure=failure)


def _script(provider: str, route: str, response: Response) -> Setup:
    return lambda fake: fake.script(provider, route, [response])


def _meta_seed_expiring(fake: FakeProviders) -> None:
    """An expiring system user token whose exchange Meta refuses (the fallback needs ids)."""
    fake.seed("meta", access_token=ACCESS, expires_in=86_400)
    error = {"message": "Unsupported", "type": "OAuthException", "code": 100}
    fake.script("meta", "exchange", [Response(400, {"error": error})])


# (provider, document extras, fake setup) — every case must raise
CASES: list[tuple[str, dict[str, object], Setup]] = [
    ("linkedin", {}, _nothing),
    ("linkedin", {}, _mode("linkedin", "http_503")),
    ("linkedin", {}, _mode("linkedin", "reset")),
    ("tiktok", {}, _nothing),
    ("tiktok", {"refresh_token": REFRESH}, _nothing),
    ("tiktok", {"refresh_token": REFRESH}, _mode("tiktok", "html")),
    ("amazon_ads", {}, _nothing),
    ("amazon_ads", {"options": {"region": "MOON"}}, _nothing),
    ("microsoft_ads", {}, _nothing),
    ("microsoft_ads", {}, _mode("microsoft", "http_429")),
    ("meta", {}, _nothing),
    ("meta", {}, _mode("meta", "http_500")),
    ("meta_system_user", {}, _nothing),
    ("meta_system_user", {}, _meta_seed_expiring),
    ("google_ads", {}, _nothing),
    ("oauth2", {"options": {"token_url": "http://127.0.0.1:9/x"}}, _nothing),
    (
        "oauth2",
        {},
        _script("oauth2", "token", Response(400, {"error": "invalid_client"})),
    ),
]


@pytest.mark.parametrize(("provider", "extra", "setup"), CASES)
def test_errors_carry_no_token_or_secret(
    fake_provider: FakeProviders,
    *,
    ctx: ProviderContext,
    app: AppCredentials,
    provider: str,
    extra: dict[str, object],
    setup: Setup,
) -> None:
    # Given a token document full of token material and a failing provider
    data: dict[str, object] = {
        "schema": 1,
        "provider": provider,
        "access_token": ACCESS,
        "refresh_token": REFRESH
        if provider not in ("tiktok", "meta", "meta_system_user")
        else None,
        "options": {"token_url": fake_provider.url("oauth2") + "/token"},
    }
    data.update(extra)
    setup(fake_provider)
    # When the provider is asked to refresh
    with pytest.raises(TokenRefresherError) as info:
        get_provider(provider).refresh(TokenDocument.from_dict(data), app, ctx)
    # Then neither its text, repr nor remediation contains any secret value
    err = info.value
    texts = [str(err), repr(err), err.message, err.remediation or "", str(err.provider_code)]
    for secret in (ACCESS, REFRESH, app.client_secret, f"{app.client_id}|{app.client_secret}"):
        for text in texts:
            assert secret not in text
