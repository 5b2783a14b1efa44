"""Meta System User tokens: never-expiring (validate only) vs 60-day (regenerate)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import meta_system_user
from token_refresher.providers.base import NoticeKind, ProviderContext

pytestmark = pytest.mark.unit

SU = "EAAFake-system-user-token-0001"
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


def _proof(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


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


def test_expiring_token_is_regenerated_through_the_business_edge(
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
    # And the documented edge got the documented fields, then debug_token checked the new token
    debug, generate, check = meta.requests("meta")
    assert (debug.route, generate.route, check.route) == (
        "debug_token",
        "system_user_tokens",
        "debug_token",
    )
    assert generate.method == "POST"
    assert generate.path == "/meta/v25.0/1234567890/system_user_access_tokens"
    assert generate.form == {
        "business_app": app.client_id,
        "system_user_id": "6100000000001",
        "scope": "ads_management,business_management",
        "set_token_expires_in_60_days": "true",
        "appsecret_proof": _proof(app.client_secret, SU),
        "access_token": SU,
    }
    assert check.query["input_token"] == result.access_token


def test_kind_forces_regeneration_and_scope_falls_back_to_current_scopes(
    meta: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a token debug_token calls never-expiring, but the secret says it is the 60-day kind,
    # and no scope option
    meta.seed("meta", access_token=SU, expires_in=None, scopes=SCOPES, type="SYSTEM_USER")
    options = {k: v for k, v in OPTIONS.items() if k != "scope"}
    # When refreshed
    result = meta_system_user.PROVIDER.refresh(
        _doc(kind="system_user_expiring", options=options), app, ctx
    )
    # Then it is regenerated with the current token's scopes
    assert result.access_token != SU
    generate = meta.requests("meta")[1]
    assert (generate.form or {})["scope"] == "ads_management,business_management"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"system_user_id": "61", "scope": "ads_management"}, "options.business_id"),
        ({"business_id": "12", "scope": "ads_management"}, "options.system_user_id"),
        ({"business_id": "12/../x", "system_user_id": "61"}, "options.business_id"),
    ],
)
def test_expiring_token_needs_numeric_business_and_system_user_ids(
    meta: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    options: dict[str, str],
    field: str,
) -> None:
    # Given an expiring token without a usable id
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
    # When refreshed / Then the option is named and nothing was generated
    with pytest.raises(SecretFormatError) as info:
        meta_system_user.PROVIDER.refresh(_doc(options=options), app, ctx)
    assert info.value.field == field
    assert [r.route for r in meta.requests("meta")] == ["debug_token"]


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
    # Given the generation edge answers a Graph error
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
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
    # Given the generation edge returns something unusable
    meta.seed("meta", access_token=SU, expires_in=10 * DAY, scopes=SCOPES)
    meta.script("meta", "system_user_tokens", [response])
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
