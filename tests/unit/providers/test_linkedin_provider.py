"""LinkedIn: refresh_token grant, countdown refresh-token lifetime, introspection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import linkedin
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

AT = "AQV-linkedin-access-token-0001"
RT = "AQX-linkedin-refresh-token-0001"
DAY = 86_400


def _doc(**fields: object) -> TokenDocument:
    data = {"schema": 1, "provider": "linkedin", "access_token": AT, "refresh_token": RT}
    data.update(fields)
    return TokenDocument.from_dict(data)


def _from_now(when: datetime | None) -> float:
    assert when is not None
    return (when - datetime.now(UTC)).total_seconds()


def test_refresh_stores_new_access_token_and_counts_refresh_lifetime_down(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a refresh token with 200 of its 365 days left
    fake_provider.seed("linkedin", refresh_token=RT, refresh_expires_in=200 * DAY)
    # When it is refreshed
    result = linkedin.PROVIDER.refresh(_doc(), app, ctx)
    # Then a new 60-day access token; the refresh token is kept and still ends in 200 days
    assert result.access_token != AT
    assert fake_provider.is_valid(result.access_token)
    assert _from_now(result.expires_at) == pytest.approx(60 * DAY, abs=30)
    assert result.refresh_token == RT
    assert _from_now(result.refresh_token_expires_at) == pytest.approx(200 * DAY, abs=30)
    (req,) = fake_provider.requests("linkedin")
    assert req.method == "POST"
    assert req.path == "/linkedin/oauth/v2/accessToken"
    assert req.form == {
        "grant_type": "refresh_token",
        "refresh_token": RT,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }


def test_refresh_keeps_document_refresh_expiry_when_answer_lacks_it(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an answer without refresh_token_expires_in and a stored refresh expiry
    stored = "2027-03-01T00:00:00Z"
    fake_provider.script(
        "linkedin", "token", [Response(200, {"access_token": "AQV-new", "expires_in": 60 * DAY})]
    )
    # When the token is refreshed
    result = linkedin.PROVIDER.refresh(_doc(refresh_token_expires_at=stored), app, ctx)
    # Then the stored refresh expiry is kept, not reset to a new year
    assert result.refresh_token_expires_at == datetime(2027, 3, 1, tzinfo=UTC)
    assert result.refresh_token == RT
    assert result.access_token == "AQV-new"


def test_rotated_refresh_token_replaces_the_old_one(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given LinkedIn rotates refresh tokens for this app
    fake_provider.configure("linkedin", rotate=True)
    fake_provider.seed("linkedin", refresh_token=RT, refresh_expires_in=100 * DAY)
    # When refreshed
    result = linkedin.PROVIDER.refresh(_doc(), app, ctx)
    # Then the new refresh token is returned and keeps the old countdown
    assert result.refresh_token not in (None, RT)
    assert fake_provider.is_valid(result.refresh_token or "", "refresh")
    assert _from_now(result.refresh_token_expires_at) == pytest.approx(100 * DAY, abs=30)


def test_invalid_expired_or_revoked_refresh_token_requires_reauth(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a refresh token LinkedIn does not know (revoked)
    # When refreshed
    with pytest.raises(ProviderError) as info:
        linkedin.PROVIDER.refresh(_doc(refresh_token_expires_at="2027-01-01T00:00:00Z"), app, ctx)
    # Then the member must re-authorize; LinkedIn's invalid_request is mapped, not retried
    err = info.value
    assert err.error_class is ErrorClass.REAUTH_REQUIRED
    assert err.provider == "linkedin"
    assert err.provider_code == "invalid_request"
    assert err.remediation is not None
    assert "365 days" in err.remediation
    assert "2027-01-01T00:00:00Z" in err.remediation
    assert len(fake_provider.requests("linkedin")) == 1


def test_invalid_grant_also_requires_reauth(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an RFC-style invalid_grant answer
    body = {"error": "invalid_grant", "error_description": "grant revoked"}
    fake_provider.script("linkedin", "token", [Response(400, body)])
    # When refreshed / Then re-authorization is required
    with pytest.raises(ProviderError) as info:
        linkedin.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_code == "invalid_grant"


def test_other_invalid_request_is_a_config_error(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an invalid_request about a missing parameter
    body = {"error": "invalid_request", "error_description": 'A required parameter "client_id"'}
    fake_provider.script("linkedin", "token", [Response(400, body)])
    # When refreshed / Then it is our configuration, with LinkedIn-specific advice
    with pytest.raises(ProviderError) as info:
        linkedin.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.CONFIG
    assert "programmatic refresh" in (info.value.remediation or "")


def test_5xx_is_retried_then_succeeds(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given two server errors before the real answer
    fake_provider.seed("linkedin", refresh_token=RT, refresh_expires_in=30 * DAY)
    fake_provider.script("linkedin", "token", [Response(500, text="oops"), Response(502, {})])
    # When refreshed
    result = linkedin.PROVIDER.refresh(_doc(), app, ctx)
    # Then the third attempt wins
    assert fake_provider.is_valid(result.access_token)
    assert len(fake_provider.requests("linkedin")) == 3


def test_persistent_5xx_is_transient_after_three_attempts(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given LinkedIn keeps answering 503
    fake_provider.set_mode("linkedin", failure="http_503")
    # When refreshed / Then a transient error after exactly three requests
    with pytest.raises(ProviderError) as info:
        linkedin.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert info.value.provider_code == "temporarily_unavailable"
    assert len(fake_provider.requests("linkedin")) == 3


def test_429_honours_retry_after(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials, sleeps: list[float]
) -> None:
    # Given LinkedIn throttles with Retry-After: 7
    throttled = Response(429, {"message": "throttled"}, headers={"Retry-After": "7"})
    fake_provider.script("linkedin", "token", [throttled] * 3)
    # When refreshed
    with pytest.raises(ProviderError) as info:
        linkedin.PROVIDER.refresh(_doc(), app, ctx)
    # Then it waited as told between attempts and reports the delay
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert info.value.retry_after == 7
    assert sleeps == [7.0, 7.0]
    assert len(fake_provider.requests("linkedin")) == 3


def test_validate_reads_introspection(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a live access token
    fake_provider.seed("linkedin", access_token=AT, expires_in=10 * DAY, scopes=["r_ads", "rw_ads"])
    # When validated
    result = linkedin.PROVIDER.validate(_doc(), app, ctx)
    # Then introspection says active, with the expiry and scopes
    assert result.valid is True
    assert _from_now(result.expires_at) == pytest.approx(10 * DAY, abs=30)
    assert result.scopes == ("r_ads", "rw_ads")
    (req,) = fake_provider.requests("linkedin")
    assert req.path == "/linkedin/oauth/v2/introspectToken"
    assert req.form == {"client_id": app.client_id, "client_secret": app.client_secret, "token": AT}


def test_validate_reports_revoked_token_invalid(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a revoked access token
    fake_provider.seed("linkedin", access_token=AT)
    fake_provider.revoke(AT)
    # When validated / Then it is not valid and the status is named
    result = linkedin.PROVIDER.validate(_doc(), app, ctx)
    assert result.valid is False
    assert "revoked" in result.detail


def test_validate_treats_active_but_past_expiry_as_invalid(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an introspection answer that is active but already past its expiry
    past = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    body = {"active": True, "status": "active", "expires_at": past}
    fake_provider.script("linkedin", "introspect", [Response(200, body)])
    # When validated / Then it is not valid
    assert linkedin.PROVIDER.validate(_doc(), app, ctx).valid is False


def test_validate_reads_an_introspection_400_as_an_invalid_token(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a token LinkedIn does not know (its introspection page: 400 "Invalid client id or
    # token"; the client id is the one that just refreshed, so the token is the one at fault)
    fake_provider.seed("linkedin", access_token=AT)
    doc = _doc(access_token="AQV-never-issued")
    # When validated
    result = linkedin.PROVIDER.validate(doc, app, ctx)
    # Then the token is reported invalid (the check then asks for a re-authorization), not a
    # configuration error that leaves the connection failing without a link
    assert result.valid is False
    assert "400" in result.detail
    (req,) = fake_provider.requests("linkedin")
    assert req.path == "/linkedin/oauth/v2/introspectToken"


def test_validate_reads_an_introspection_401_as_a_wrong_client_secret(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given app credentials whose secret LinkedIn rejects (documented: 401 "Invalid client secret")
    fake_provider.seed("linkedin", access_token=AT)
    fake_provider.register_app("linkedin", app.client_id, app.client_secret)
    wrong = AppCredentials(client_id=app.client_id, client_secret="not-the-secret")
    # When validated / Then a configuration error that names the app credentials secret
    with pytest.raises(ProviderError, match="HTTP 401") as info:
        linkedin.PROVIDER.validate(_doc(), wrong, ctx)
    assert info.value.error_class is ErrorClass.CONFIG
    assert "client id and secret" in (info.value.remediation or "")


def test_a_grant_without_refresh_token_asks_for_a_new_consent_before_it_expires(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a consent that came without a refresh token (no programmatic refresh for the app)
    expires = "2027-02-03T08:00:00Z"
    doc = TokenDocument.from_dict(
        {"schema": 1, "provider": "linkedin", "access_token": "AQX-only", "expires_at": expires}
    )
    # When the refresh is due
    with pytest.raises(ProviderError) as info:
        linkedin.PROVIDER.refresh(doc, app, ctx)
    # Then only a new consent helps (the alert carries a reconnect link), before the token's end
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert "2027-02-03T08:00:00Z" in (info.value.remediation or "")
    assert fake_provider.requests() == []
