"""TikTok: envelope errors in HTTP 200, two token kinds (advertiser: validate-only; tiktok_account:
refreshed at tt_user/oauth2/refresh_token/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import tiktok
from token_refresher.providers.base import NoticeKind, ProviderContext

pytestmark = pytest.mark.unit

AT = "act.tiktok-access-token-0001"
RT = "rft.tiktok-refresh-token-0001"
DAY = 86_400


def _doc(**fields: object) -> TokenDocument:
    data: dict[str, object] = {"schema": 1, "provider": "tiktok", "access_token": AT}
    data.update(fields)
    return TokenDocument.from_dict(data)


def _envelope(code: int, data: Any = None, message: str = "msg") -> Response:
    return Response(200, {"code": code, "message": message, "request_id": "req-1", "data": data})


def _from_now(when: datetime | None) -> float:
    assert when is not None
    return (when - datetime.now(UTC)).total_seconds()


def test_validate_only_mode_returns_same_token_with_notice(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a long-term advertiser token and no refresh token
    fake_provider.seed("tiktok", access_token=AT, expires_in=None)
    # When "refreshed"
    result = tiktok.PROVIDER.refresh(_doc(), app, ctx)
    # Then the same token is kept, without expiry, and flagged as validated only
    assert result.access_token == AT
    assert result.expires_at is None
    assert result.refresh_token is None
    assert [n.kind for n in result.notices] == [NoticeKind.VALIDATED_ONLY]
    (req,) = fake_provider.requests("tiktok")
    assert req.method == "GET"
    assert req.path == "/tiktok/open_api/v1.3/oauth2/advertiser/get/"
    # And, as the official SDK does, the token travels in the Access-Token header, not the URL
    assert req.query == {"app_id": app.client_id, "secret": app.client_secret}
    assert req.headers["Access-Token"] == AT


def test_validate_only_revoked_token_is_http_200_error_requiring_reauth(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a token TikTok no longer knows: it answers HTTP 200 with code 40105
    # When refreshed in validate-only mode
    with pytest.raises(ProviderError) as info:
        tiktok.PROVIDER.refresh(_doc(), app, ctx)
    # Then re-authorization is required, with TikTok's code, and nothing was retried
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_code == "40105"
    assert "authorize" in (info.value.remediation or "")
    assert len(fake_provider.requests("tiktok")) == 1


def test_refresh_mode_issues_new_access_token(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a refresh token with 300 days left
    fake_provider.seed("tiktok", refresh_token=RT, refresh_expires_in=300 * DAY)
    # When refreshed
    result = tiktok.PROVIDER.refresh(_doc(refresh_token=RT), app, ctx)
    # Then a 24 h access token comes back and the refresh token and its countdown are kept
    assert result.access_token.startswith("act.")
    assert fake_provider.is_valid(result.access_token)
    assert _from_now(result.expires_at) == pytest.approx(DAY, abs=30)
    assert result.refresh_token == RT
    assert _from_now(result.refresh_token_expires_at) == pytest.approx(300 * DAY, abs=30)
    assert result.notices == ()
    (req,) = fake_provider.requests("tiktok")
    assert (req.method, req.path) == (
        "POST",
        "/tiktok/open_api/v1.3/tt_user/oauth2/refresh_token/",
    )
    assert req.json == {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": RT,
    }


def test_refresh_mode_stores_a_new_refresh_token_and_its_countdown(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an answer with the documented fields and a rotated refresh token
    data = {
        "access_token": "act.new",
        "expires_in": 7200,
        "refresh_token": "rft.new",
        "refresh_token_expires_in": 10 * DAY,
        "open_id": "open-id-1",
        "scope": "user.info.basic",
    }
    fake_provider.script("tiktok", "refresh", [_envelope(0, data)])
    # When refreshed
    result = tiktok.PROVIDER.refresh(_doc(refresh_token=RT), app, ctx)
    # Then both expiries are read and the new refresh token replaces the old one
    assert result.access_token == "act.new"
    assert _from_now(result.expires_at) == pytest.approx(7200, abs=30)
    assert result.refresh_token == "rft.new"
    assert _from_now(result.refresh_token_expires_at) == pytest.approx(10 * DAY, abs=30)


def test_refresh_mode_keeps_stored_refresh_expiry_when_absent(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an answer with only the access token part
    fake_provider.script(
        "tiktok", "refresh", [_envelope(0, {"access_token": "act.x", "expires_in": 86400})]
    )
    doc = _doc(refresh_token=RT, refresh_token_expires_at="2027-05-01T00:00:00Z")
    # When refreshed / Then the stored refresh token and its expiry survive
    result = tiktok.PROVIDER.refresh(doc, app, ctx)
    assert result.refresh_token == RT
    assert result.refresh_token_expires_at == datetime(2027, 5, 1, tzinfo=UTC)


def test_refresh_mode_rotation_in_fake_kills_old_refresh_token(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given TikTok rotates refresh tokens
    fake_provider.configure("tiktok", rotate=True)
    fake_provider.seed("tiktok", refresh_token=RT, refresh_expires_in=300 * DAY)
    # When refreshed
    result = tiktok.PROVIDER.refresh(_doc(refresh_token=RT), app, ctx)
    # Then the result carries the new refresh token (the old one is dead)
    assert result.refresh_token not in (None, RT)
    assert not fake_provider.is_valid(RT, "refresh")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (40102, ErrorClass.REAUTH_REQUIRED),
        (40103, ErrorClass.REAUTH_REQUIRED),
        (40104, ErrorClass.REAUTH_REQUIRED),
        (40105, ErrorClass.REAUTH_REQUIRED),
        (40107, ErrorClass.REAUTH_REQUIRED),
        (40114, ErrorClass.REAUTH_REQUIRED),
        (40001, ErrorClass.PERMISSION),
        (40130, ErrorClass.PERMISSION),
        (40100, ErrorClass.TRANSIENT),
        (40132, ErrorClass.TRANSIENT),
        (61000, ErrorClass.TRANSIENT),
        (50000, ErrorClass.TRANSIENT),
        (50002, ErrorClass.TRANSIENT),
        (51005, ErrorClass.TRANSIENT),
        (52000, ErrorClass.TRANSIENT),
        (52103, ErrorClass.TRANSIENT),
        (52204, ErrorClass.TRANSIENT),
        (53102, ErrorClass.TRANSIENT),
        (53103, ErrorClass.TRANSIENT),
        (52205, ErrorClass.CONFIG),
        (60001, ErrorClass.TRANSIENT),
        (40002, ErrorClass.CONFIG),
    ],
)
def test_envelope_codes_in_http_200_are_mapped(
    fake_provider: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    code: int,
    expected: ErrorClass,
) -> None:
    # Given TikTok answers HTTP 200 with a non-zero code (throttling codes included)
    fake_provider.script("tiktok", "refresh", [_envelope(code, None, "something went wrong")])
    # When refreshed
    with pytest.raises(ProviderError) as info:
        tiktok.PROVIDER.refresh(_doc(refresh_token=RT), app, ctx)
    # Then the class follows the code, the code is kept, and the HTTP layer did not retry
    assert info.value.error_class is expected
    assert info.value.provider_code == str(code)
    assert info.value.remediation
    assert len(fake_provider.requests("tiktok")) == 1


def test_expired_refresh_token_from_fake_is_40103(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a refresh token past its one-year life
    fake_provider.seed("tiktok", refresh_token=RT, refresh_expires_in=-10)
    # When refreshed / Then re-authorization with 40103
    with pytest.raises(ProviderError) as info:
        tiktok.PROVIDER.refresh(_doc(refresh_token=RT), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_code == "40103"


def test_http_5xx_is_retried_and_transient(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given TikTok's gateway answers 503 every time
    fake_provider.set_mode("tiktok", failure="http_503")
    # When validating (GET)
    with pytest.raises(ProviderError) as info:
        tiktok.PROVIDER.refresh(_doc(), app, ctx)
    # Then three attempts, then transient
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert len(fake_provider.requests("tiktok")) == 3


def test_http_5xx_then_success_on_refresh(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given one 500 before the real answer
    fake_provider.seed("tiktok", refresh_token=RT, refresh_expires_in=300 * DAY)
    fake_provider.script("tiktok", "refresh", [Response(500, text="upstream error")])
    # When refreshed / Then the retry succeeds after two requests
    result = tiktok.PROVIDER.refresh(_doc(refresh_token=RT), app, ctx)
    assert fake_provider.is_valid(result.access_token)
    assert len(fake_provider.requests("tiktok")) == 2


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (Response(200, text="<html><h1>502 Bad Gateway</h1></html>"), "HTML page"),
        (_envelope(0, None), "no data object"),
        (Response(200, {"message": "OK", "data": {}}), "no numeric code"),
        (_envelope(0, {"expires_in": 86400}), "no access_token"),
        (_envelope(0, {"access_token": "act.x", "expires_in": 10**10}), "plausible range"),
        (_envelope(0, {"access_token": "act.x"}), "expires_in is missing"),
    ],
)
def test_malformed_answers_are_transient(
    fake_provider: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    response: Response,
    expected: str,
) -> None:
    # Given a 200 answer we cannot use
    fake_provider.script("tiktok", "refresh", [response])
    # When refreshed / Then transient malformed error naming the problem
    with pytest.raises(ProviderError) as info:
        tiktok.PROVIDER.refresh(_doc(refresh_token=RT), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert expected in str(info.value)


def test_validate_valid_and_revoked(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a live token
    fake_provider.seed("tiktok", access_token=AT, expires_in=None)
    # When validated / Then valid
    assert tiktok.PROVIDER.validate(_doc(), app, ctx).valid is True
    # Given it is then revoked / When validated / Then not valid, naming the code
    fake_provider.revoke(AT)
    result = tiktok.PROVIDER.validate(_doc(), app, ctx)
    assert result.valid is False
    assert "40105" in result.detail


def test_validate_fails_when_no_advertiser_is_authorized_any_more(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a token TikTok still accepts, but for which advertiser/get lists no advertiser
    fake_provider.seed("tiktok", access_token=AT, expires_in=None, advertiser_ids=[])
    # When validated
    result = tiktok.PROVIDER.validate(_doc(), app, ctx)
    # Then it is not valid: the token reaches no advertiser, whatever TikTok's code says
    assert result.valid is False
    assert "no advertiser" in result.detail
    # And the validate-only refresh of rotation asks for a re-authorization too
    with pytest.raises(ProviderError, match="no advertiser") as info:
        tiktok.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED


def test_validate_reports_a_partial_de_authorization(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a connection consented for two advertisers, of which TikTok now lists one
    fake_provider.seed("tiktok", access_token=AT, expires_in=None, advertiser_ids=["701"])
    doc = _doc(options={"advertiser_ids": ["701", "702"]})
    # When validated
    result = tiktok.PROVIDER.validate(doc, app, ctx)
    # Then it is not valid, and the detail names the advertiser that was withdrawn
    assert result.valid is False
    assert "702" in result.detail
    assert "1 of 2" in result.detail
    with pytest.raises(ProviderError, match="702") as info:
        tiktok.PROVIDER.refresh(doc, app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED


def test_validate_accepts_every_consented_advertiser_and_more(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a connection consented for one advertiser that TikTok lists, beside a newer one
    fake_provider.seed("tiktok", access_token=AT, expires_in=None, advertiser_ids=["701", "703"])
    doc = _doc(options={"advertiser_ids": ["701"]})
    # When validated / Then valid, counting what TikTok lists
    result = tiktok.PROVIDER.validate(doc, app, ctx)
    assert result.valid is True
    assert "2 advertiser(s)" in result.detail


def test_validate_permission_error_is_raised(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given the app lacks a scope (40001)
    fake_provider.script("tiktok", "advertiser_get", [_envelope(40001, None, "no permission")])
    # When validated / Then the permission problem is raised, not hidden as "invalid"
    with pytest.raises(ProviderError) as info:
        tiktok.PROVIDER.validate(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.PERMISSION


@pytest.mark.parametrize(
    ("fields", "route"),
    [
        ({"kind": "advertiser", "refresh_token": RT}, "advertiser_get"),
        ({"kind": "tiktok_account", "refresh_token": RT}, "refresh"),
        ({"kind": "refresh_token", "refresh_token": RT}, "refresh"),  # legacy onboarding kind
        ({"refresh_token": RT}, "refresh"),  # no kind: read by the refresh token
        ({}, "advertiser_get"),
    ],
)
def test_kind_picks_the_documented_edge(
    fake_provider: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    fields: dict[str, object],
    route: str,
) -> None:
    # Given a document of one kind
    fake_provider.seed("tiktok", access_token=AT, refresh_token=RT, expires_in=None)
    # When refreshed
    tiktok.PROVIDER.refresh(_doc(**fields), app, ctx)
    # Then only that kind's edge was called
    assert [r.route for r in fake_provider.requests("tiktok")] == [route]


def test_unknown_kind_is_a_format_error_and_calls_nothing(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a kind TikTok does not have / When refreshed / Then the field is named, no request
    with pytest.raises(SecretFormatError) as info:
        tiktok.PROVIDER.refresh(_doc(kind="creator"), app, ctx)
    assert info.value.field == "kind"
    assert fake_provider.requests("tiktok") == []


def test_account_token_validation_is_structural(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a TikTok account token just issued, and one past its expiry
    fresh = _doc(kind="tiktok_account", refresh_token=RT, expires_at="2999-01-01T00:00:00Z")
    stale = _doc(kind="tiktok_account", refresh_token=RT, expires_at="2001-01-01T00:00:00Z")
    # When validated / Then no advertiser/get call (it is for advertiser tokens) and the expiry
    # decides
    assert tiktok.PROVIDER.validate(fresh, app, ctx).valid is True
    assert tiktok.PROVIDER.validate(fresh, app, ctx).checked is False
    assert tiktok.PROVIDER.validate(stale, app, ctx).valid is False
    assert fake_provider.requests("tiktok") == []
