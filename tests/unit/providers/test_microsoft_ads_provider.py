"""Microsoft Advertising: mandatory scope, rotating refresh tokens, AADSTS error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ConfigError, ErrorClass, ProviderError, SecretFormatError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import microsoft_ads
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

AT = "EwB-microsoft-access-token-0001"
RT = "M.C5-microsoft-refresh-token-0001"
DEFAULT_SCOPE = "https://ads.microsoft.com/msads.manage offline_access"


def _doc(**fields: object) -> TokenDocument:
    data: dict[str, object] = {"schema": 1, "provider": "microsoft_ads", "refresh_token": RT}
    data.update(fields)
    return TokenDocument.from_dict(data)


def _aad(error: str, code: int, status: int = 400) -> Response:
    return Response(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: something happened. Trace ID: abc",
            "error_codes": [code],
            "trace_id": "t",
            "correlation_id": "c",
        },
    )


def test_refresh_stores_the_new_refresh_token(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a valid refresh token
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    # When refreshed
    result = microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    # Then a new access token AND a new refresh token come back (the old one is now dead)
    assert fake_provider.is_valid(result.access_token)
    assert result.expires_at is not None
    assert (result.expires_at - datetime.now(UTC)).total_seconds() == pytest.approx(3599, abs=30)
    assert result.refresh_token is not None
    assert result.refresh_token != RT
    assert fake_provider.is_valid(result.refresh_token, "refresh")
    assert not fake_provider.is_valid(RT, "refresh")
    # And the default scope and tenant were sent
    (req,) = fake_provider.requests("microsoft_ads")
    assert req.path == "/microsoft/common/oauth2/v2.0/token"
    assert req.form == {
        "client_id": app.client_id,
        "grant_type": "refresh_token",
        "refresh_token": RT,
        "scope": DEFAULT_SCOPE,
        "client_secret": app.client_secret,
    }


def test_second_refresh_uses_rotated_token(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a first refresh whose new refresh token is stored
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    first = microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    # When the next refresh uses the stored one
    second = microsoft_ads.PROVIDER.refresh(_doc(refresh_token=first.refresh_token), app, ctx)
    # Then it works and rotates again
    assert second.refresh_token not in (None, RT, first.refresh_token)


@pytest.mark.parametrize("scope_option", [None, "", "  "])
def test_scope_is_always_sent(
    fake_provider: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    scope_option: str | None,
) -> None:
    # Given no scope or an empty scope option
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    options = {} if scope_option is None else {"scope": scope_option}
    # When refreshed / Then the default Ads scope is sent anyway
    microsoft_ads.PROVIDER.refresh(_doc(options=options), app, ctx)
    (req,) = fake_provider.requests("microsoft_ads")
    assert (req.form or {})["scope"] == DEFAULT_SCOPE


def test_custom_scope_and_tenant(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a tenant and scope in the options
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    options = {"tenant": "contoso.onmicrosoft.com", "scope": "custom/.default offline_access"}
    # When refreshed / Then both are used
    microsoft_ads.PROVIDER.refresh(_doc(options=options), app, ctx)
    (req,) = fake_provider.requests("microsoft_ads")
    assert req.path == "/microsoft/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert (req.form or {})["scope"] == "custom/.default offline_access"


def test_bad_tenant_is_refused_before_any_call(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a tenant that would change the URL path
    # When refreshed / Then a secret-format error and no request
    with pytest.raises(SecretFormatError) as info:
        microsoft_ads.PROVIDER.refresh(_doc(options={"tenant": "../evil"}), app, ctx)
    assert info.value.field == "options.tenant"
    assert fake_provider.requests() == []


def test_public_client_omits_the_secret(fake_provider: FakeProviders, ctx: ProviderContext) -> None:
    # Given app credentials flagged as a public client
    app = AppCredentials("public-app", "unused-secret", extra={"public_client": True})
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    # When refreshed / Then no client_secret is sent
    microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    (req,) = fake_provider.requests("microsoft_ads")
    assert "client_secret" not in (req.form or {})


def test_answer_without_refresh_token_is_malformed(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an answer that breaks the documented rotation
    body = {"access_token": "EwB-x", "expires_in": 3599, "token_type": "Bearer"}
    fake_provider.script("microsoft", "token", [Response(200, body)])
    # When refreshed / Then transient malformed (the stored refresh token stays in place)
    with pytest.raises(ProviderError) as info:
        microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert "refresh_token" in str(info.value)


def test_a_scope_without_offline_access_still_asks_for_it_as_msal_does(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a custom scope that leaves out offline_access (the consent flow always adds it, so the
    # grant has it; the strict fake, as Microsoft documents, sends a refresh token only for it)
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    scope = "https://ads.microsoft.com/msads.manage"
    # When refreshed
    result = microsoft_ads.PROVIDER.refresh(_doc(options={"scope": scope}), app, ctx)
    # Then offline_access was added to the scope sent (MSAL adds it to every request), once
    (req,) = fake_provider.requests("microsoft_ads")
    assert (req.form or {})["scope"] == f"{scope} offline_access"
    # And the answer's new refresh token is kept instead of being thrown away as a config error
    assert result.refresh_token is not None
    assert fake_provider.is_valid(result.refresh_token, "refresh")


def test_offline_access_is_not_sent_twice(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a scope that already names offline_access first
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    scope = "offline_access https://ads.microsoft.com/msads.manage"
    # When refreshed
    microsoft_ads.PROVIDER.refresh(_doc(options={"scope": scope}), app, ctx)
    # Then the scope goes out as written
    (req,) = fake_provider.requests("microsoft_ads")
    assert (req.form or {})["scope"] == scope


@pytest.mark.parametrize(
    ("error", "code", "expected", "hint"),
    [
        ("invalid_grant", 70008, ErrorClass.REAUTH_REQUIRED, "expired or was revoked"),
        ("invalid_grant", 700082, ErrorClass.REAUTH_REQUIRED, "90 days"),
        ("invalid_grant", 700084, ErrorClass.REAUTH_REQUIRED, "single-page"),
        ("invalid_grant", 50173, ErrorClass.REAUTH_REQUIRED, "password"),
        ("invalid_grant", 65001, ErrorClass.REAUTH_REQUIRED, "consent"),
        ("invalid_grant", 70043, ErrorClass.REAUTH_REQUIRED, "Conditional Access"),
        ("temporarily_unavailable", 90024, ErrorClass.TRANSIENT, "temporarily"),
        ("invalid_request", 90006, ErrorClass.TRANSIENT, "temporarily"),
        ("invalid_request", 90090, ErrorClass.TRANSIENT, "temporarily"),
        ("invalid_client", 7000222, ErrorClass.CONFIG, "expired"),
        ("invalid_request", 90014, ErrorClass.CONFIG, "app registration"),
        ("invalid_scope", 70011, ErrorClass.CONFIG, "options.scope"),
    ],
)
def test_aadsts_codes_are_mapped(
    fake_provider: FakeProviders,
    *,
    ctx: ProviderContext,
    app: AppCredentials,
    error: str,
    code: int,
    expected: ErrorClass,
    hint: str,
) -> None:
    # Given an AADSTS error answer
    fake_provider.script("microsoft", "token", [_aad(error, code)])
    # When refreshed
    with pytest.raises(ProviderError) as info:
        microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    # Then error_codes decide the class; code = error, subcode = AADSTS number
    assert info.value.error_class is expected
    assert info.value.provider_code == error
    assert info.value.provider_subcode == str(code)
    assert hint in (info.value.remediation or "")


def test_unknown_and_inactive_refresh_tokens_from_fake(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an unknown refresh token / When refreshed / Then re-auth with AADSTS70008
    with pytest.raises(ProviderError) as info:
        microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert (info.value.error_class, info.value.provider_subcode) == (
        ErrorClass.REAUTH_REQUIRED,
        "70008",
    )
    # Given a refresh token expired by inactivity / When refreshed / Then AADSTS700082
    fake_provider.seed("microsoft_ads", refresh_token=RT, refresh_expires_in=-1)
    with pytest.raises(ProviderError) as info:
        microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.provider_subcode == "700082"
    assert "90 days" in (info.value.remediation or "")


def test_5xx_retried_then_success(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given two 503s first
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    fake_provider.script("microsoft", "token", [Response(503, {})] * 2)
    # When refreshed / Then the third request succeeds
    result = microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert result.refresh_token not in (None, RT)
    assert len(fake_provider.requests("microsoft")) == 3


def test_429_transient_with_retry_after(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials, sleeps: list[float]
) -> None:
    # Given throttling with Retry-After: 3
    throttled = Response(429, {"error": "temporarily_unavailable"}, headers={"Retry-After": "3"})
    fake_provider.script("microsoft", "token", [throttled] * 3)
    # When refreshed / Then transient after 3 attempts with the advised waits
    with pytest.raises(ProviderError) as info:
        microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert info.value.retry_after == 3
    assert sleeps == [3.0, 3.0]


def test_connection_reset_after_sending_is_not_retried(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given the connection drops after the refresh POST was sent (it may have been processed)
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    fake_provider.script("microsoft", "token", [Response(fail="reset")])
    # When refreshed / Then transient at once: a blind retry could burn the rotated token
    with pytest.raises(ProviderError) as info:
        microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert len(fake_provider.requests("microsoft")) == 1


def test_validate_is_structural_and_makes_no_call(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    now = datetime.now(UTC)
    future = (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = (now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Given a token with a future expiry / When validated / Then valid, saying how it was checked
    ok = microsoft_ads.PROVIDER.validate(_doc(access_token=AT, expires_at=future), app, ctx)
    assert ok.valid is True
    assert "no introspection" in ok.detail
    assert ok.checked is False
    # Given an expired token / Then not valid
    assert (
        microsoft_ads.PROVIDER.validate(_doc(access_token=AT, expires_at=past), app, ctx).valid
        is False
    )
    # Given no access token at all / Then not valid
    assert microsoft_ads.PROVIDER.validate(_doc(), app, ctx).valid is False
    # And Microsoft was never called
    assert fake_provider.requests() == []


def test_refresh_slides_the_ninety_day_inactivity_deadline(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a valid refresh token / When refreshed
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    result = microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    # Then the grant's inactivity deadline is 90 days from now (a human deadline if refreshes stop)
    assert result.refresh_token_expires_at is not None
    left = result.refresh_token_expires_at - datetime.now(UTC)
    assert abs(left - timedelta(days=90)) < timedelta(seconds=30)


def test_public_client_needs_no_client_secret_field(
    fake_provider: FakeProviders, ctx: ProviderContext
) -> None:
    # Given an app credentials secret for a public client, with no client_secret at all
    app = AppCredentials.from_json('{"client_id": "public-app", "public_client": true}')
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    # When refreshed / Then it works and no client_secret is sent
    result = microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    assert fake_provider.is_valid(result.access_token)
    (req,) = fake_provider.requests("microsoft_ads")
    assert "client_secret" not in (req.form or {})
    # And a confidential client still has to name its secret
    with pytest.raises(ConfigError, match="client_secret: is required"):
        AppCredentials.from_json('{"client_id": "web-app"}')


def test_client_auth_none_names_a_public_client_in_rfc_words(
    fake_provider: FakeProviders, ctx: ProviderContext
) -> None:
    # Given app credentials that name RFC 7591's method "none" instead of public_client
    app = AppCredentials.from_json('{"client_id": "public-app", "client_auth": "none"}')
    fake_provider.seed("microsoft_ads", refresh_token=RT)
    # When refreshed / Then the client id alone authenticates it: no client_secret is sent
    microsoft_ads.PROVIDER.refresh(_doc(), app, ctx)
    (req,) = fake_provider.requests("microsoft_ads")
    assert (req.form or {})["client_id"] == "public-app"
    assert "client_secret" not in (req.form or {})
