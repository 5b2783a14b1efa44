"""Amazon Ads (Login with Amazon): regions, refresh_token grant, tokeninfo."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.http import HttpClient
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import amazon_ads
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

AT = "Atza|amazon-access-token-0001"
RT = "Atzr|amazon-refresh-token-0001"


def _doc(**fields: object) -> TokenDocument:
    data: dict[str, object] = {"schema": 1, "provider": "amazon_ads", "refresh_token": RT}
    data.update(fields)
    return TokenDocument.from_dict(data)


def _from_now(when: datetime | None) -> float:
    assert when is not None
    return (when - datetime.now(UTC)).total_seconds()


class _RecordingSession(requests.Session):
    """Answers every request with a canned LWA token body and records the URLs (no network)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        self.urls.append(str(url))
        resp = requests.Response()
        resp.status_code = 200
        resp._content = json.dumps({"access_token": "Atza|x", "expires_in": 3600}).encode()
        return resp


@pytest.mark.parametrize(
    ("region", "host"),
    [
        (None, "https://api.amazon.com/auth/o2/token"),
        ("NA", "https://api.amazon.com/auth/o2/token"),
        ("EU", "https://api.amazon.co.uk/auth/o2/token"),
        ("eu", "https://api.amazon.co.uk/auth/o2/token"),
        ("FE", "https://api.amazon.co.jp/auth/o2/token"),
    ],
)
def test_region_picks_the_lwa_host(region: str | None, host: str, app: AppCredentials) -> None:
    # Given no endpoint override and a region option
    session = _RecordingSession()
    ctx = ProviderContext(http=HttpClient(session=session))
    options = {} if region is None else {"region": region}
    # When refreshed
    amazon_ads.PROVIDER.refresh(_doc(options=options), app, ctx)
    # Then the region's documented token URL is called
    assert session.urls == [host]


def test_invalid_region_names_the_option(ctx: ProviderContext, app: AppCredentials) -> None:
    # Given an unknown region
    # When refreshed / Then a secret-format error naming options.region and the choices
    with pytest.raises(SecretFormatError) as info:
        amazon_ads.PROVIDER.refresh(_doc(options={"region": "APAC"}), app, ctx)
    assert info.value.field == "options.region"
    assert "NA, EU, FE" in str(info.value)


def test_endpoint_override_applies_to_every_region(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an FE token and the fake as endpoint override
    fake_provider.seed("amazon_ads", refresh_token=RT)
    # When refreshed
    amazon_ads.PROVIDER.refresh(_doc(options={"region": "FE"}), app, ctx)
    # Then the override received the call
    (req,) = fake_provider.requests("amazon_ads")
    assert req.path == "/amazon/auth/o2/token"


def test_refresh_success_keeps_refresh_token(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a valid refresh token
    fake_provider.seed("amazon_ads", refresh_token=RT)
    # When refreshed
    result = amazon_ads.PROVIDER.refresh(_doc(), app, ctx)
    # Then an Atza| token for an hour, and the same Atzr| refresh token
    assert result.access_token.startswith("Atza|")
    assert fake_provider.is_valid(result.access_token)
    assert _from_now(result.expires_at) == pytest.approx(3600, abs=30)
    assert result.refresh_token == RT
    (req,) = fake_provider.requests("amazon_ads")
    assert req.form == {
        "grant_type": "refresh_token",
        "refresh_token": RT,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }


def test_new_refresh_token_is_stored(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given LWA rotates the refresh token this time
    fake_provider.configure("amazon", rotate=True)
    fake_provider.seed("amazon_ads", refresh_token=RT)
    # When refreshed / Then the new Atzr| token is in the result
    result = amazon_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert result.refresh_token is not None
    assert result.refresh_token.startswith("Atzr|")
    assert result.refresh_token != RT


def test_invalid_grant_requires_reauth(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a revoked refresh token
    fake_provider.seed("amazon_ads", refresh_token=RT)
    fake_provider.revoke(RT)
    # When refreshed / Then re-authorization, with the region hint, not retried
    with pytest.raises(ProviderError) as info:
        amazon_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_code == "invalid_grant"
    assert "options.region" in (info.value.remediation or "")
    assert len(fake_provider.requests("amazon_ads")) == 1


def test_invalid_client_is_config(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given LWA knows the client with another secret
    fake_provider.register_app("amazon", app.client_id, "the-real-secret")
    fake_provider.seed("amazon_ads", refresh_token=RT)
    # When refreshed / Then a config error (401 invalid_client) with LWA advice
    with pytest.raises(ProviderError) as info:
        amazon_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.CONFIG
    assert info.value.provider_code == "invalid_client"
    assert "security profile" in (info.value.remediation or "")


def test_5xx_retried_then_success(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given two 503s before LWA recovers
    fake_provider.seed("amazon_ads", refresh_token=RT)
    fake_provider.script("amazon", "token", [Response(503, {}), Response(503, {})])
    # When refreshed / Then success on the third request
    result = amazon_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert fake_provider.is_valid(result.access_token)
    assert len(fake_provider.requests("amazon")) == 3


def test_429_is_transient_with_retry_after(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials, sleeps: list[float]
) -> None:
    # Given LWA throttles
    fake_provider.set_mode("amazon", failure="http_429")
    # When refreshed / Then transient after three attempts, waiting Retry-After (1 s)
    with pytest.raises(ProviderError) as info:
        amazon_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert info.value.retry_after == 1
    assert sleeps == [1.0, 1.0]
    assert len(fake_provider.requests("amazon")) == 3


def test_validate_with_tokeninfo(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a token freshly issued to our client
    fake_provider.seed("amazon_ads", refresh_token=RT)
    fresh = amazon_ads.PROVIDER.refresh(_doc(), app, ctx)
    # When validated
    result = amazon_ads.PROVIDER.validate(_doc(access_token=fresh.access_token), app, ctx)
    # Then tokeninfo confirms it and its remaining life
    assert result.valid is True
    assert _from_now(result.expires_at) == pytest.approx(3600, abs=30)
    req = fake_provider.requests("amazon")[-1]
    assert (req.method, req.path) == ("GET", "/amazon/auth/o2/tokeninfo")
    assert req.query == {"access_token": fresh.access_token}


def test_validate_invalid_token_and_foreign_audience(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an unknown token / When validated / Then not valid
    assert amazon_ads.PROVIDER.validate(_doc(access_token=AT), app, ctx).valid is False
    # Given a token issued to another client / When validated / Then not valid
    body = {"aud": "another-client", "exp": 3000, "user_id": "amzn1.account.X"}
    fake_provider.script("amazon", "tokeninfo", [Response(200, body)])
    result = amazon_ads.PROVIDER.validate(_doc(access_token=AT), app, ctx)
    assert result.valid is False
    assert "another client" in result.detail
