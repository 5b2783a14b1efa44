"""Meta System User tokens: never-expiring (validate only) vs 60-day (regenerate)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import meta_system_user
from token_refresher.providers.base import NoticeKind, ProviderContext

pytestmark = pytest.mark.unit

SU = "EAAFake-system-user-token-0001"
# appsecret_proof of SU keyed with the unit tests' client secret, as computed outside Python (a
# known answer, not the code's own formula):
#   printf '%s' 'EAAFake-system-user-token-0001' \
#     | openssl dgst -sha256 -hmac 'client-secret-SHOULD-NEVER-LEAK-9f8e7d'
SU_PROOF = "64e6128ce1da3379afb76a68098afbe6864b80c9614aa748031e33d47eb94644"
DAY = 86_400
SCOPES = ["ads_management", "business_management"]
OPTIONS = {
    "business_id": "1234567890",
    "system_user_id": "6100000000001",
    "scope": "ads_management,business_management",
}


def _doc(**fields: object) -> TokenDocument:
    data: dict[str, object] = {"schema": 1, "provider": "meta_system_user", "access_token": SU}
    data.update(fields)
    return TokenDocument.from_dict(data)


def _graph(code: int, message: str) -> Response:
    err = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Ax1"}
    return Response(400, {"error": err})


@pytest.fixture
def meta(fake_provider: FakeProviders, app: AppCredentials) -> FakeProviders:
    """The fake knows our app, so it checks client credentials and appsecret_proof."""
    fake_provider.register_app("meta", app.client_id, app.client_secret)
    return fake_provider


def test_never_expiring_token_is_validated_only(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a never-expiring system user token (debug_token expires_at = 0)
    meta.seed("meta", access_token=SU, expires_in=None, scopes=SCOPES, type="SYSTEM_USER")
    # When refreshed
    result = meta_system_user.PROVIDER.refresh(_doc(options=OPTIONS), app, ctx)
    # Then the same token is kept, no expiry, VALIDATED_ONLY, and only debug_token was called
    assert result.access_token == SU
    assert result.expires_at is None
    assert [n.kind for n in result.notices] == [NoticeKind.VALIDATED_ONLY]
    assert [r.route for r in meta.requests("meta")] == ["debug_token"]
    assert meta.requests("meta")[0].query["input_token"] == SU


def test_expiring_token_is_refreshed_by_the_documented_exchange(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a 60-day system user token with 10 days left
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES, type="SYSTEM_USER")
    # When refreshed
    result = meta_system_user.PROVIDER.refresh(_doc(options=OPTIONS), app, ctx)
    # Then a new token valid for 60 days replaces it
    assert result.access_token != SU
    assert meta.is_valid(result.access_token)
    assert result.expires_at is not None
    assert (result.expires_at - datetime.now(UTC)).total_seconds() == pytest.approx(
        60 * DAY, abs=60
    )
    assert result.notices == ()
    # And the refresh is the guide's fb_exchange_token with set_token_expires_in_60_days, checked
    # with debug_token; the business edge was not needed
    debug, refresh, check = meta.requests("meta")
    assert (debug.route, refresh.route, check.route) == ("debug_token", "exchange", "debug_token")
    assert refresh.method == "GET"
    assert refresh.query == {
        "grant_type": "fb_exchange_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "fb_exchange_token": SU,
        "set_token_expires_in_60_days": "true",
    }
    assert check.query["input_token"] == result.access_token


def test_refused_exchange_falls_back_to_the_business_edge_with_its_documented_fields(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given the exchange is refused for this token (a Graph parameter error)
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES, type="SYSTEM_USER")
    meta.script("meta", "exchange", [_graph(100, "Unsupported grant for this token")])
    # When refreshed
    result = meta_system_user.PROVIDER.refresh(_doc(options=OPTIONS), app, ctx)
    # Then /{business_id}/system_user_access_tokens generated the token, with exactly the fields
    # the Business SDK documents for that edge (no business_app) plus the proof and the token
    assert meta.is_valid(result.access_token)
    routes = [r.route for r in meta.requests("meta")]
    assert routes == ["debug_token", "exchange", "system_user_tokens", "debug_token"]
    generate = meta.requests("meta")[2]
    assert generate.method == "POST"
    assert generate.path == "/meta/v25.0/1234567890/system_user_access_tokens"
    assert generate.form == {
        "system_user_id": "6100000000001",
        "scope": "ads_management,business_management",
        "set_token_expires_in_60_days": "true",
        "appsecret_proof": SU_PROOF,
        "access_token": SU,
    }


def test_kind_forces_refresh_and_fallback_scope_is_the_current_scopes(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a token debug_token calls never-expiring, but the secret says it is the 60-day kind,
    # no scope option, and an exchange that is refused
    meta.seed("meta", access_token=SU, expires_in=None, scopes=SCOPES, type="SYSTEM_USER")
    meta.script("meta", "exchange", [_graph(100, "Unsupported")])
    options = {k: v for k, v in OPTIONS.items() if k != "scope"}
    # When refreshed
    result = meta_system_user.PROVIDER.refresh(
        _doc(kind="system_user_expiring", options=options), app, ctx
    )
    # Then it is regenerated with the current token's scopes
    assert result.access_token != SU
    generate = meta.requests("meta")[2]
    assert (generate.form or {})["scope"] == "ads_management,business_management"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({}, ErrorClass.CONFIG),  # no ids: no fallback, Meta's refusal is raised
        ({"system_user_id": "61", "scope": "ads_management"}, ErrorClass.CONFIG),
    ],
)
def test_without_both_ids_a_refused_exchange_is_raised(
    meta: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    options: dict[str, str],
    error: ErrorClass,
) -> None:
    # Given an expiring token, a refused exchange and no usable business edge
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
    meta.script("meta", "exchange", [_graph(100, "Unsupported")])
    # When refreshed / Then Meta's refusal is raised and nothing else was called
    with pytest.raises(ProviderError) as info:
        meta_system_user.PROVIDER.refresh(_doc(options=options), app, ctx)
    assert info.value.error_class is error
    assert [r.route for r in meta.requests("meta")] == ["debug_token", "exchange"]


def test_fallback_needs_numeric_ids(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a business id that is not a number and a refused exchange
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
    meta.script("meta", "exchange", [_graph(100, "Unsupported")])
    options = {"business_id": "12/../x", "system_user_id": "61"}
    # When refreshed / Then the option is named and nothing was generated
    with pytest.raises(SecretFormatError) as info:
        meta_system_user.PROVIDER.refresh(_doc(options=options), app, ctx)
    assert info.value.field == "options.business_id"
    assert [r.route for r in meta.requests("meta")] == ["debug_token", "exchange"]


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (613, "Calls to this api have exceeded the rate limit.", ErrorClass.TRANSIENT),
        (1, "Error validating client secret.", ErrorClass.CONFIG),
    ],
)
def test_throttling_or_wrong_app_secret_on_the_exchange_does_not_fall_back(
    meta: FakeProviders,
    *,
    ctx: ProviderContext,
    app: AppCredentials,
    code: int,
    message: str,
    expected: ErrorClass,
) -> None:
    # Given the exchange is throttled, or rejects the app secret
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
    meta.script("meta", "exchange", [_graph(code, message)])
    # When refreshed / Then that error is raised as is: the business edge would not help
    with pytest.raises(ProviderError) as info:
        meta_system_user.PROVIDER.refresh(_doc(options=OPTIONS), app, ctx)
    assert info.value.error_class is expected
    assert "system_user_tokens" not in [r.route for r in meta.requests("meta")]


def test_revoked_token_requires_reauth_with_subcode(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given the token was revoked (debug_token reports 190/460)
    meta.seed("meta", access_token=SU, expires_in=None)
    meta.revoke(SU, subcode=460)
    # When refreshed / Then re-authorization with Meta's code and subcode
    with pytest.raises(ProviderError) as info:
        meta_system_user.PROVIDER.refresh(_doc(options=OPTIONS), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider == "meta_system_user"
    assert (info.value.provider_code, info.value.provider_subcode) == ("190", "460")


@pytest.mark.parametrize(
    ("code", "subcode", "expected"),
    [
        (200, None, ErrorClass.PERMISSION),
        (10, None, ErrorClass.PERMISSION),
        (613, 1487742, ErrorClass.TRANSIENT),
        (190, 467, ErrorClass.REAUTH_REQUIRED),
        (100, None, ErrorClass.CONFIG),
    ],
)
def test_generation_errors_use_meta_mapping(
    meta: FakeProviders,
    *,
    ctx: ProviderContext,
    app: AppCredentials,
    code: int,
    subcode: int | None,
    expected: ErrorClass,
) -> None:
    # Given the exchange is refused and the generation edge answers a Graph error
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
    meta.script("meta", "exchange", [_graph(100, "Unsupported")])
    err: dict[str, object] = {"message": "nope", "type": "OAuthException", "code": code}
    if subcode:
        err["error_subcode"] = subcode
    meta.script("meta", "system_user_tokens", [Response(400, {"error": err})])
    # When refreshed / Then the class follows Meta's code
    with pytest.raises(ProviderError) as info:
        meta_system_user.PROVIDER.refresh(_doc(options=OPTIONS), app, ctx)
    assert info.value.error_class is expected
    assert info.value.provider_code == str(code)
    assert info.value.provider_subcode == (str(subcode) if subcode else None)


def test_graph_version_option_is_used(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given options.graph_version v24.0
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
    # When refreshed / Then every Graph call goes to /v24.0/
    meta_system_user.PROVIDER.refresh(_doc(options={**OPTIONS, "graph_version": "v24.0"}), app, ctx)
    assert all(r.path.startswith("/meta/v24.0/") for r in meta.requests("meta"))
    assert len(meta.requests("meta")) == 3


def test_debug_token_5xx_is_retried_and_transient(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given Graph keeps answering 500
    meta.set_mode("meta", failure="http_500")
    # When refreshed / Then three GET attempts, then transient
    with pytest.raises(ProviderError) as info:
        meta_system_user.PROVIDER.refresh(_doc(options=OPTIONS), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert len(meta.requests("meta")) == 3


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (Response(200, {"id": "no token here"}), "no access_token"),
        (Response(200, text="<html>Facebook</html>"), "HTML page"),
    ],
)
def test_malformed_generation_answer_is_transient(
    meta: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    response: Response,
    expected: str,
) -> None:
    # Given the refresh returns something unusable
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
    meta.script("meta", "exchange", [response])
    # When refreshed / Then transient malformed
    with pytest.raises(ProviderError) as info:
        meta_system_user.PROVIDER.refresh(_doc(options=OPTIONS), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert expected in str(info.value)


def test_validate_valid_and_revoked(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a live never-expiring token / When validated / Then valid without expiry
    meta.seed("meta", access_token=SU, expires_in=None, scopes=SCOPES)
    ok = meta_system_user.PROVIDER.validate(_doc(), app, ctx)
    assert (ok.valid, ok.expires_at, ok.scopes) == (True, None, tuple(SCOPES))
    # Given it is revoked / When validated / Then not valid
    meta.revoke(SU)
    assert meta_system_user.PROVIDER.validate(_doc(), app, ctx).valid is False


def test_wrong_app_secret_is_a_config_error_naming_the_app_secret_not_an_invalid_token(
    fake_provider: FakeProviders, ctx: ProviderContext
) -> None:
    # Given a valid token, but app credentials whose secret Meta rejects: debug_token answers a
    # top-level 190 ("Invalid OAuth access token signature") about the APP token
    fake_provider.register_app("meta", "1111", "the-real-app-secret-0001")
    fake_provider.seed("meta", access_token=SU, expires_in=None, scopes=SCOPES)
    wrong = AppCredentials(client_id="1111", client_secret="an-old-app-secret-0002")
    doc = _doc(app_secret_id="token-refresher/apps/meta-main")
    # When validated (testSecret) or refreshed
    for call in (meta_system_user.PROVIDER.validate, meta_system_user.PROVIDER.refresh):
        with pytest.raises(ProviderError) as info:
            call(doc, wrong, ctx)
        # Then it is a config error naming the app credentials secret: the token is not declared
        # invalid, so no false re-authorization alert follows
        assert info.value.error_class is ErrorClass.CONFIG
        assert "token-refresher/apps/meta-main" in info.value.message
        assert "token-refresher/apps/meta-main" in (info.value.remediation or "")
        assert info.value.provider_code == "190"
