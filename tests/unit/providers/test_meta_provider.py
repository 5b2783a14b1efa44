"""Meta long-lived user tokens (the lead's meta.py): exchange, debug_token, Graph error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import meta
from token_refresher.providers import meta_graph as graph_api
from token_refresher.providers.base import NoticeKind, ProviderContext

pytestmark = pytest.mark.unit

UT = "EAAFake-user-long-lived-token-0001"
# appsecret_proof of the app token (client id|client secret), keyed with the client secret, as
# computed outside Python (a known answer, not the code's own formula):
#   printf '%s' 'client-id-1234|client-secret-SHOULD-NEVER-LEAK-9f8e7d' \
#     | openssl dgst -sha256 -hmac 'client-secret-SHOULD-NEVER-LEAK-9f8e7d'
APP_TOKEN_PROOF = "a98d9d446fa986b37b582c754015ccf6770cd0de9f39b06d08a4d6c6859ba88a"
DAY = 86_400


def _doc(expires_in_days: float = 5, **fields: object) -> TokenDocument:
    expires = datetime.now(UTC) + timedelta(days=expires_in_days)
    data: dict[str, object] = {
        "schema": 1,
        "provider": "meta",
        "kind": "user_long_lived",
        "access_token": UT,
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    data.update(fields)
    return TokenDocument.from_dict(data)


@pytest.fixture
def graph(fake_provider: FakeProviders, app: AppCredentials) -> FakeProviders:
    """The fake knows our app, so it checks client credentials and appsecret_proof."""
    fake_provider.register_app("meta", app.client_id, app.client_secret)
    fake_provider.seed("meta", access_token=UT, expires_in=5 * DAY, scopes=["ads_read"])
    return fake_provider


def _graph_error(code: int, subcode: int | None = None, status: int = 400) -> Response:
    err: dict[str, object] = {"message": "Graph says no", "type": "OAuthException", "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    return Response(status, {"error": err})


def test_exchange_extends_token_and_debug_token_carries_appsecret_proof(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a long-lived token with 5 days left
    # When re-exchanged
    result = meta.PROVIDER.refresh(_doc(), app, ctx)
    # Then a different token valid ~60 days, with data access expiry from debug_token
    assert result.access_token != UT
    assert graph.is_valid(result.access_token)
    assert result.expires_at is not None
    assert (result.expires_at - datetime.now(UTC)).total_seconds() == pytest.approx(
        60 * DAY, abs=60
    )
    assert result.data_access_expires_at is not None
    assert all(n.kind is not NoticeKind.NOT_EXTENDED for n in result.notices)
    exchange, debug = graph.requests("meta")
    assert exchange.path == "/meta/v25.0/oauth/access_token"
    assert exchange.query == {
        "grant_type": "fb_exchange_token",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "fb_exchange_token": UT,
    }
    assert debug.path == "/meta/v25.0/debug_token"
    assert debug.query["input_token"] == result.access_token
    assert debug.query["appsecret_proof"] == APP_TOKEN_PROOF


def test_expiry_not_extended_gives_notice_with_deadline(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given Meta hands back a token that expires when the old one did
    graph.configure("meta", extend_on_exchange=False)
    doc = _doc()
    # When re-exchanged
    result = meta.PROVIDER.refresh(doc, app, ctx)
    # Then a NOT_EXTENDED notice names the re-authorization deadline
    (notice,) = [n for n in result.notices if n.kind is NoticeKind.NOT_EXTENDED]
    assert notice.deadline is not None
    assert doc.expires_at is not None
    assert abs((notice.deadline - doc.expires_at).total_seconds()) < 5
    assert "re-authorization needed before" in notice.message


def test_graph_version_option_is_used_in_paths(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given options.graph_version = v24.0
    # When re-exchanged / Then both calls use /v24.0/
    meta.PROVIDER.refresh(_doc(options={"graph_version": "v24.0"}), app, ctx)
    assert [r.path for r in graph.requests("meta")] == [
        "/meta/v24.0/oauth/access_token",
        "/meta/v24.0/debug_token",
    ]


@pytest.mark.parametrize(
    ("code", "subcode", "expected"),
    [
        (190, 460, ErrorClass.REAUTH_REQUIRED),
        (190, 463, ErrorClass.REAUTH_REQUIRED),
        (102, None, ErrorClass.REAUTH_REQUIRED),
        (613, 1487742, ErrorClass.TRANSIENT),
        (4, None, ErrorClass.TRANSIENT),
        (80004, None, ErrorClass.TRANSIENT),
        (10, None, ErrorClass.PERMISSION),
        (200, None, ErrorClass.PERMISSION),
        (273, None, ErrorClass.PERMISSION),
        (274, None, ErrorClass.PERMISSION),
        (100, None, ErrorClass.CONFIG),
    ],
)
def test_graph_error_codes_are_mapped(
    graph: FakeProviders,
    *,
    ctx: ProviderContext,
    app: AppCredentials,
    code: int,
    subcode: int | None,
    expected: ErrorClass,
) -> None:
    # Given the exchange answers a Graph error body (HTTP 400)
    graph.script("meta", "exchange", [_graph_error(code, subcode)])
    # When re-exchanged
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.refresh(_doc(), app, ctx)
    # Then class, code and subcode follow Meta's codes; a 400 is not retried
    assert info.value.error_class is expected
    assert info.value.provider_code == str(code)
    assert info.value.provider_subcode == (None if subcode is None else str(subcode))
    assert len(graph.requests("meta")) == 1


def test_password_change_remediation_is_specific(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given the user changed their password (190/460 from the fake's real behaviour)
    graph.revoke(UT, subcode=460)
    # When re-exchanged / Then the remediation says so
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.provider_subcode == "460"
    assert "password" in (info.value.remediation or "")


def test_274_remediation_names_the_ads_api_enablement(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given #274 (ad account not enabled for the Ads API)
    graph.script("meta", "exchange", [_graph_error(274)])
    # When re-exchanged / Then the advice is about enabling the ad account, not generic scopes
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.refresh(_doc(), app, ctx)
    assert "not enabled for the Ads API" in (info.value.remediation or "")


def test_expired_token_is_reauth_without_calling_meta(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given the stored token already expired
    # When re-exchanged / Then re-authorization (190/463) and no Graph call
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.refresh(_doc(expires_in_days=-1), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_subcode == "463"
    assert graph.requests() == []


def test_5xx_on_exchange_is_retried(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given two 500s before Graph answers
    graph.script("meta", "exchange", [Response(500, text="error"), Response(500, text="error")])
    # When re-exchanged / Then it succeeds after three exchange requests (+1 debug_token)
    result = meta.PROVIDER.refresh(_doc(), app, ctx)
    assert graph.is_valid(result.access_token)
    assert [r.route for r in graph.requests("meta")] == ["exchange"] * 3 + ["debug_token"]


def test_throttling_code_in_400_body_is_transient(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given Graph throttles with code 17 in a 400 body
    graph.script("meta", "exchange", [_graph_error(17)])
    # When re-exchanged / Then transient
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (Response(200, text="<html>Sorry, something went wrong.</html>"), "HTML page"),
        (Response(200, {"token_type": "bearer", "expires_in": 5184000}), "no access_token"),
    ],
)
def test_malformed_exchange_answers_are_transient(
    graph: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    response: Response,
    expected: str,
) -> None:
    # Given an unusable exchange answer / When re-exchanged / Then transient malformed
    graph.script("meta", "exchange", [response])
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.refresh(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert expected in str(info.value)


def test_validate_uses_debug_token(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a live token / When validated / Then valid with its expiry and scopes
    result = meta.PROVIDER.validate(_doc(), app, ctx)
    assert result.valid is True
    assert result.scopes == ("ads_read",)
    assert result.expires_at is not None


def test_wrong_app_secret_on_the_exchange_is_config_naming_the_app_secret(
    graph: FakeProviders, ctx: ProviderContext
) -> None:
    # Given app credentials whose secret Meta rejects: the exchange answers code 1
    # "Error validating client secret." (a code Meta otherwise uses for transient trouble)
    wrong = AppCredentials(client_id="client-id-1234", client_secret="an-old-app-secret-0002")
    doc = _doc(app_secret_id="token-refresher/apps/meta-main")
    # When re-exchanged
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.refresh(doc, wrong, ctx)
    # Then a config error (not transient, not re-auth) names the app credentials secret
    assert info.value.error_class is ErrorClass.CONFIG
    assert info.value.provider_code == "1"
    assert "token-refresher/apps/meta-main" in info.value.message
    assert "App Secret" in (info.value.remediation or "")
    assert [r.route for r in graph.requests("meta")] == ["exchange"]


def test_bad_app_token_on_debug_token_is_config_not_reauth(
    graph: FakeProviders, ctx: ProviderContext
) -> None:
    # Given debug_token refuses the APP token with a top-level 190 ("Invalid OAuth access token
    # signature."), while the user's token itself is fine
    wrong = AppCredentials(client_id="client-id-1234", client_secret="an-old-app-secret-0002")
    doc = _doc(app_secret_id="token-refresher/apps/meta-main")
    # When the token is validated (testSecret)
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.validate(doc, wrong, ctx)
    # Then it is the app credentials' fault: config, naming the secret
    assert info.value.error_class is ErrorClass.CONFIG
    assert info.value.provider_code == "190"
    assert "token-refresher/apps/meta-main" in info.value.message


def test_invalid_user_token_in_debug_token_data_stays_reauth(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given the user's token was revoked: debug_token answers 200 with the error inside data
    graph.revoke(UT, subcode=460)
    # When validated / Then a human must act (re-authorize), it is not a config error
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.validate(_doc(), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_subcode == "460"


def test_exchange_sends_no_appsecret_proof_and_debug_token_does(
    graph: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a live token / When re-exchanged
    meta.PROVIDER.refresh(_doc(), app, ctx)
    exchange, debug = graph.requests("meta")
    # Then the exchange authenticates with client_secret (it has no access token to prove) and
    # debug_token carries the proof of the app token it uses
    assert "appsecret_proof" not in exchange.query
    assert debug.query["appsecret_proof"] == APP_TOKEN_PROOF


@pytest.mark.parametrize(
    ("version", "now", "warned"),
    [
        ("v25.0", datetime(2028, 6, 1, tzinfo=UTC), True),  # published end 2028-07-29
        ("v25.0", datetime(2028, 1, 1, tzinfo=UTC), False),
        ("v26.0", datetime(2028, 6, 1, tzinfo=UTC), False),  # end not announced: unknown
        ("v27.0", datetime(2030, 1, 1, tzinfo=UTC), False),  # not in the table: unknown
    ],
)
def test_version_warning_only_for_published_end_dates(
    version: str, now: datetime, warned: bool
) -> None:
    # Given a pinned Graph version / When the notice is computed at `now`
    notice = graph_api.version_notice(_doc(options={"graph_version": version}), now)
    # Then only a date Meta published can trigger the 90-day warning; no date is invented
    assert (notice is not None) is warned
    assert graph_api.GRAPH_VERSION_END["v26.0"] is None
