"""Google Ads: refresh_token grant against the fake, refresh token kept when none returned."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import google_ads
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

RT = "1//0g-google-refresh-token-0001"


def _doc(**fields: object) -> TokenDocument:
    data: dict[str, object] = {"schema": 1, "provider": "google_ads", "refresh_token": RT}
    data.update(fields)
    return TokenDocument.from_dict(data)


def test_refresh_keeps_refresh_token_when_none_returned(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a valid refresh token (Google does not rotate it)
    fake_provider.seed("google_ads", refresh_token=RT)
    # When refreshed
    result = google_ads.PROVIDER.refresh(_doc(), app, ctx)
    # Then a new hour-long ya29 token, and the stored refresh token is kept
    assert result.access_token.startswith("ya29.")
    assert fake_provider.is_valid(result.access_token)
    assert result.expires_at is not None
    assert (result.expires_at - datetime.now(UTC)).total_seconds() == pytest.approx(3599, abs=30)
    assert result.refresh_token == RT
    (req,) = fake_provider.requests("google_ads")
    assert (req.path, (req.form or {})["grant_type"]) == ("/google/token", "refresh_token")


def test_returned_refresh_token_is_stored(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given Google returns a new refresh token this time
    fake_provider.configure("google", rotate=True)
    fake_provider.seed("google_ads", refresh_token=RT)
    # When refreshed / Then the new one is in the result
    result = google_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert result.refresh_token not in (None, RT)


def test_invalid_grant_requires_reauth_with_google_hint(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a revoked refresh token / When refreshed / Then reauth with Google's causes listed
    with pytest.raises(ProviderError) as info:
        google_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_code == "invalid_grant"
    assert "Testing" in (info.value.remediation or "")


def test_5xx_is_retried(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given Google fails twice with 500
    fake_provider.seed("google_ads", refresh_token=RT)
    fake_provider.script("google", "token", [Response(500, {})] * 2)
    # When refreshed / Then success on the third request
    google_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert len(fake_provider.requests("google")) == 3


def test_429_is_transient(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials, sleeps: list[float]
) -> None:
    # Given Google throttles / When refreshed / Then transient, waits from Retry-After
    fake_provider.set_mode("google", failure="http_429")
    with pytest.raises(ProviderError) as info:
        google_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert sleeps == [1.0, 1.0]


def test_validate_with_tokeninfo(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a live token and an unknown one
    fake_provider.seed("google_ads", access_token="ya29.live", expires_in=1800)
    # When validated / Then tokeninfo decides
    ok = google_ads.PROVIDER.validate(_doc(access_token="ya29.live"), app, ctx)
    assert ok.valid is True
    assert ok.scopes == ("https://www.googleapis.com/auth/adwords",)
    assert google_ads.PROVIDER.validate(_doc(access_token="ya29.dead"), app, ctx).valid is False


def test_testing_app_sets_a_seven_day_refresh_deadline(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a connection whose OAuth app is in Testing status (no known deadline yet)
    fake_provider.seed("google_ads", refresh_token=RT)
    # When refreshed
    result = google_ads.PROVIDER.refresh(_doc(options={"testing_app": True}), app, ctx)
    # Then the refresh token's end (7 days) is reported, for the 30/7/1-day warnings
    assert result.refresh_token_expires_at is not None
    days = (result.refresh_token_expires_at - datetime.now(UTC)).total_seconds() / 86400
    assert days == pytest.approx(7, abs=0.01)


def test_published_app_reports_no_refresh_deadline(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    fake_provider.seed("google_ads", refresh_token=RT)
    result = google_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert result.refresh_token_expires_at is None


@pytest.mark.parametrize("seconds_left", ["0", "17", "59"])
def test_tokeninfo_under_a_minute_is_a_valid_token_about_to_expire(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials, seconds_left: str
) -> None:
    # Given tokeninfo reports a token with less than a minute left (expires_in is a string)
    body = {"aud": "c", "scope": "https://www.googleapis.com/auth/adwords"}
    fake_provider.script(
        "google", "tokeninfo", [Response(200, {**body, "expires_in": seconds_left})]
    )
    # When validated
    result = google_ads.PROVIDER.validate(_doc(access_token="ya29.x"), app, ctx)
    # Then it is valid, with an expiry that close
    assert result.valid is True
    assert result.expires_at is not None
    left = (result.expires_at - datetime.now(UTC)).total_seconds()
    assert left == pytest.approx(int(seconds_left), abs=5)


def test_time_based_access_stores_the_refresh_token_deadline(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given the user granted time-based access: the token answer has refresh_token_expires_in
    fake_provider.seed("google", refresh_token=RT)
    fake_provider.configure("google", refresh_token_expires_in=3 * 86_400)
    # When refreshed
    result = google_ads.PROVIDER.refresh(_doc(), app, ctx)
    # Then its end is the refresh token's deadline (a human deadline: 30/7/1-day warnings)
    assert result.refresh_token_expires_at is not None
    left = (result.refresh_token_expires_at - datetime.now(UTC)).total_seconds()
    assert left == pytest.approx(3 * 86_400, abs=30)
    # and Google's figure wins over the 7-day Testing assumption
    testing = google_ads.PROVIDER.refresh(_doc(options={"testing_app": True}), app, ctx)
    assert testing.refresh_token_expires_at is not None
    left = (testing.refresh_token_expires_at - datetime.now(UTC)).total_seconds()
    assert left == pytest.approx(3 * 86_400, abs=30)
