"""Generic OAuth 2.0: client auth styles, client_credentials grant, introspection."""

from __future__ import annotations

import base64

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import oauth2
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

RT = "rt-generic-refresh-token-0001"


def _doc(fake: FakeProviders, **options: object) -> TokenDocument:
    opts: dict[str, object] = {"token_url": fake.url("oauth2") + "/token"}
    opts.update(options)
    return TokenDocument.from_dict(
        {
            "schema": 1,
            "provider": "oauth2",
            "refresh_token": RT,
            "access_token": "at-old",
            "options": opts,
        }
    )


def test_basic_client_auth_is_the_default(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a refresh token and default options
    fake_provider.seed("oauth2", refresh_token=RT)
    # When refreshed
    result = oauth2.PROVIDER.refresh(_doc(fake_provider), app, ctx)
    # Then client credentials went in the Authorization header, not the body
    assert fake_provider.is_valid(result.access_token)
    assert result.refresh_token == RT
    (req,) = fake_provider.requests("oauth2")
    expected = base64.b64encode(f"{app.client_id}:{app.client_secret}".encode()).decode()
    assert req.headers["Authorization"] == f"Basic {expected}"
    assert req.form == {"grant_type": "refresh_token", "refresh_token": RT}


@pytest.mark.parametrize("method", ["client_secret_post", "body"])  # "body": deprecated spelling
def test_client_secret_post_client_auth(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials, method: str
) -> None:
    # Given client_auth=client_secret_post (RFC 6749 §2.3.1), or its deprecated spelling "body"
    fake_provider.seed("oauth2", refresh_token=RT)
    # When refreshed / Then credentials are form fields and there is no Authorization header
    oauth2.PROVIDER.refresh(_doc(fake_provider, client_auth=method), app, ctx)
    (req,) = fake_provider.requests("oauth2")
    assert "Authorization" not in req.headers
    assert (req.form or {})["client_id"] == app.client_id
    assert (req.form or {})["client_secret"] == app.client_secret


@pytest.mark.parametrize("method", ["client_secret_basic", "basic"])  # "basic": deprecated
def test_client_secret_basic_client_auth_by_name(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials, method: str
) -> None:
    # Given client_auth named client_secret_basic, or its deprecated spelling "basic"
    fake_provider.seed("oauth2", refresh_token=RT)
    # When refreshed / Then the credentials travel in the Basic header only
    oauth2.PROVIDER.refresh(_doc(fake_provider, client_auth=method), app, ctx)
    (req,) = fake_provider.requests("oauth2")
    assert req.headers["Authorization"] == oauth2.basic_authorization(
        app.client_id, app.client_secret
    )
    assert req.form == {"grant_type": "refresh_token", "refresh_token": RT}


def test_an_unknown_client_auth_names_the_rfc_words_and_calls_nobody(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a client_auth value that is no RFC 6749 method
    doc = _doc(fake_provider, client_auth="private_key_jwt")
    # When refreshed / Then a format error naming the accepted words, and no request
    with pytest.raises(SecretFormatError, match="client_secret_basic, client_secret_post"):
        oauth2.PROVIDER.refresh(doc, app, ctx)
    assert fake_provider.requests("oauth2") == []


def test_client_credentials_grant(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given grant_type=client_credentials with a scope
    doc = _doc(fake_provider, grant_type="client_credentials", scope="ads.read")
    # When refreshed / Then no refresh token is sent and a token is issued
    result = oauth2.PROVIDER.refresh(doc, app, ctx)
    assert fake_provider.is_valid(result.access_token)
    (req,) = fake_provider.requests("oauth2")
    assert req.form == {"grant_type": "client_credentials", "scope": "ads.read"}


def test_invalid_grant_requires_reauth(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an unknown refresh token / When refreshed / Then reauth
    with pytest.raises(ProviderError) as info:
        oauth2.PROVIDER.refresh(_doc(fake_provider), app, ctx)
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_code == "invalid_grant"


def test_5xx_retried_and_transient(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a broken server / When refreshed / Then 3 attempts then transient
    fake_provider.set_mode("oauth2", failure="http_502")
    with pytest.raises(ProviderError) as info:
        oauth2.PROVIDER.refresh(_doc(fake_provider), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert len(fake_provider.requests("oauth2")) == 3


def test_429_with_retry_after(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials, sleeps: list[float]
) -> None:
    # Given throttling / When refreshed / Then transient with the advised wait
    throttled = Response(429, {"error": "slow_down"}, headers={"Retry-After": "2"})
    fake_provider.script("oauth2", "token", [throttled] * 3)
    with pytest.raises(ProviderError) as info:
        oauth2.PROVIDER.refresh(_doc(fake_provider), app, ctx)
    assert (info.value.error_class, info.value.retry_after) == (ErrorClass.TRANSIENT, 2)
    assert sleeps == [2.0, 2.0]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (Response(200, text="<html>login</html>"), "HTML page"),
        (Response(200, {"token_type": "Bearer", "expires_in": 3600}), "no access_token"),
        (Response(200, {"access_token": "at-x", "expires_in": 10**12}), "plausible range"),
    ],
)
def test_malformed_answers_are_transient(
    fake_provider: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    response: Response,
    expected: str,
) -> None:
    # Given an unusable answer / When refreshed / Then transient malformed
    fake_provider.script("oauth2", "token", [response])
    with pytest.raises(ProviderError) as info:
        oauth2.PROVIDER.refresh(_doc(fake_provider), app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert expected in str(info.value)


def test_plain_http_token_url_is_refused(ctx: ProviderContext, app: AppCredentials) -> None:
    # Given a non-loopback http token URL / When refreshed / Then a secret-format error
    doc = TokenDocument.from_dict(
        {
            "schema": 1,
            "provider": "oauth2",
            "refresh_token": RT,
            "options": {"token_url": "http://example.com/t"},
        }
    )
    with pytest.raises(SecretFormatError) as info:
        oauth2.PROVIDER.refresh(doc, app, ctx)
    assert info.value.field == "options.token_url"


def test_introspection(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an introspection URL and a live token
    fake_provider.seed("oauth2", access_token="at-old", expires_in=600, scopes=["a", "b"])
    doc = _doc(fake_provider, introspection_url=fake_provider.url("oauth2") + "/introspect")
    # When validated / Then active with scopes; after revocation, not active
    ok = oauth2.PROVIDER.validate(doc, app, ctx)
    assert (ok.valid, ok.scopes) == (True, ("a", "b"))
    assert ok.expires_at is not None
    fake_provider.revoke("at-old")
    assert oauth2.PROVIDER.validate(doc, app, ctx).valid is False


def test_without_introspection_the_token_is_not_checked_and_says_so(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a connection without an introspection_url
    doc = _doc(fake_provider)
    # When validated
    result = oauth2.PROVIDER.validate(doc, app, ctx)
    # Then no call is made, and the answer says it checked nothing (no assurance claimed)
    assert fake_provider.requests("oauth2") == []
    assert result.checked is False
    assert result.valid is True
    assert "not checkable" in result.detail


def test_without_introspection_an_expired_token_is_still_invalid(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given a connection without an introspection_url whose stored expiry has passed
    doc = TokenDocument.from_dict(
        _doc(fake_provider).to_dict() | {"expires_at": "2020-01-01T00:00:00Z"}
    )
    # When validated / Then not valid, from what the document itself says
    result = oauth2.PROVIDER.validate(doc, app, ctx)
    assert (result.valid, result.checked) == (False, False)
    assert "expired" in result.detail


def test_introspection_is_a_check(
    fake_provider: FakeProviders, ctx: ProviderContext, app: AppCredentials
) -> None:
    # Given an introspection URL and a live token / When validated / Then it counts as checked
    fake_provider.seed("oauth2", access_token="at-old", expires_in=600)
    doc = _doc(fake_provider, introspection_url=fake_provider.url("oauth2") + "/introspect")
    assert oauth2.PROVIDER.validate(doc, app, ctx).checked is True


# A secret as base64-minded generators make them, plus the characters RFC 6749 §2.3.1 cares about.
AWKWARD_SECRETS = [
    "aB3+x/Yz9=",
    "p%41ss:w&rd=+/",
    "with spaces  and\ttab",
    "ünïcødé-秘密-🔑",
]


@pytest.mark.parametrize("secret", AWKWARD_SECRETS)
def test_basic_auth_form_encodes_id_and_secret_before_base64(
    fake_provider: FakeProviders, ctx: ProviderContext, secret: str
) -> None:
    # Given a server that decodes Basic credentials as RFC 6749 §2.3.1 says (form-urldecode after
    # base64), and a client whose id and secret need encoding
    client = AppCredentials(client_id="client:id +1", client_secret=secret)
    fake_provider.register_app("oauth2", client.client_id, client.client_secret)
    fake_provider.seed("oauth2", refresh_token=RT)
    # When refreshed with the default Basic client authentication
    result = oauth2.PROVIDER.refresh(_doc(fake_provider), client, ctx)
    # Then the server recognised the client, and the header is base64(urlenc(id):urlenc(secret))
    assert fake_provider.is_valid(result.access_token)
    (req,) = fake_provider.requests("oauth2")
    assert req.basic_auth() == (client.client_id, secret)
    raw = base64.b64decode(req.headers["Authorization"].removeprefix("Basic ")).decode("ascii")
    assert raw.count(":") == 1  # the id's own ':' travels as %3A


@pytest.mark.parametrize("secret", AWKWARD_SECRETS)
def test_introspection_authenticates_the_same_way(
    fake_provider: FakeProviders, ctx: ProviderContext, secret: str
) -> None:
    # Given the same strict server, a live token and an introspection URL
    client = AppCredentials(client_id="client-id-5", client_secret=secret)
    fake_provider.register_app("oauth2", client.client_id, client.client_secret)
    fake_provider.seed("oauth2", access_token="at-old", expires_in=600)
    doc = _doc(fake_provider, introspection_url=fake_provider.url("oauth2") + "/introspect")
    # When validated / Then the server accepted the client and reported the token active
    assert oauth2.PROVIDER.validate(doc, client, ctx).valid is True
    (req,) = fake_provider.requests("oauth2")
    assert req.basic_auth() == (client.client_id, secret)


def test_basic_authorization_matches_the_rfc_example_encoding() -> None:
    # Given RFC 6749 Appendix B encoding (space as '+', reserved characters as %XX, UTF-8)
    # When the header is built / Then it is exactly base64("a%2Bb+c:%C3%BC%25%3A%26")
    header = oauth2.basic_authorization("a+b c", "ü%:&")
    assert header == "Basic " + base64.b64encode(b"a%2Bb+c:%C3%BC%25%3A%26").decode()
