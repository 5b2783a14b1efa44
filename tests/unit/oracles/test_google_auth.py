"""Google: google-auth-oauthlib (the authorize URL and the code redemption) and google-auth (the
refresh, the id_token's claims) as the judges of what our consent link and provider send.

The token endpoint is google-auth's own (the default of its authorized-user credentials). What the
libraries have no opinion on (the authorize endpoint, the scope, ``prompt``) comes from
tests/fixtures/oracles/google.json, each value with the Google page that states it; the tests that
judge by those say ``fixture`` in their names."""

from __future__ import annotations

import time
from typing import Any

import google.auth.transport.requests
import google.oauth2.credentials
import pytest
from google.auth import jwt
from google_auth_oauthlib.flow import Flow

from tests.support.fake_consent import fake_id_token
from tests.support.oracles import (
    Recorder,
    assert_same_request,
    authorize_request,
    our_authorize_request,
    our_context,
    sourced,
)
from token_refresher.connect.exchange import CodeGrant, exchange_code
from token_refresher.connect.platforms import AuthorizeRequest, platform
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import google_ads

pytestmark = pytest.mark.unit

APP = AppCredentials("g-client.apps.googleusercontent.com", "g-client-secret-0001")
REDIRECT = "https://abcdefghij.lambda-url.us-east-1.on.aws/callback/google_ads"
# google-auth's user credentials, as `gcloud auth application-default login` stores them: no
# token_uri, so the library uses its own token endpoint.
USER_INFO = {
    "refresh_token": "1//o",
    "client_id": APP.client_id,
    "client_secret": APP.client_secret,
}
TOKEN_URI = google.oauth2.credentials.Credentials.from_authorized_user_info(USER_INFO).token_uri
SCOPE = " ".join(sourced("google", "scope"))
# A "web" client configuration as the Google Cloud console downloads it.
CLIENT_CONFIG = {
    "web": {
        "client_id": APP.client_id,
        "client_secret": APP.client_secret,
        "auth_uri": sourced("google", "authorization_endpoint"),
        "token_uri": TOKEN_URI,
    }
}
NOW = int(time.time())
CLAIMS = {
    "iss": "https://accounts.google.com",
    "aud": APP.client_id,
    "sub": "1000001",
    "iat": NOW,
    "exp": NOW + 3600,
}
ANSWER = {
    "access_token": "ya29.oracle",
    "expires_in": 3599,
    "refresh_token": "1//oracle",
    "token_type": "Bearer",
    "scope": SCOPE,
    "id_token": fake_id_token(CLAIMS | {"email": "owner@example.com"}),
}


def _doc() -> TokenDocument:
    return TokenDocument.from_dict(
        {"schema": 1, "provider": "google_ads", "access_token": "ya29.old", "refresh_token": "1//o"}
    )


def _flow() -> Flow:
    return Flow.from_client_config(CLIENT_CONFIG, scopes=SCOPE.split(), redirect_uri=REDIRECT)


def test_the_authorize_url_is_the_librarys_at_the_fixture_endpoint_and_scope() -> None:
    # Given google-auth-oauthlib's authorization URL for the documented endpoint and scope, with
    # the two documented choices our link makes too: prompt=consent (a repeated consent returns a
    # refresh token only then) and incremental scopes
    flow = _flow()
    url, _ = flow.authorization_url(**sourced("google", "authorize_options"), state="st")
    theirs = authorize_request(url)
    # When our consent link builds its URL
    ours = our_authorize_request(
        platform("google_ads").authorize_url(
            _doc(), APP, our_context(Recorder()), AuthorizeRequest(REDIRECT, "st", "c" * 43)
        )
    )
    # Then everything but the PKCE challenge (each side's own verifier) is the same, including
    # access_type=offline, which the library always adds: without it there is no refresh token
    assert_same_request(
        ours,
        theirs,
        ours_only={"code_challenge": "our verifier"},
        theirs_only={"code_challenge": "the library's verifier"},
    )


def test_the_code_redemption_is_the_librarys() -> None:
    # Given the library redeeming a code with its PKCE verifier
    flow = _flow()
    flow.authorization_url()
    recorder = Recorder((200, ANSWER))
    recorder.session(flow.oauth2session)
    flow.fetch_token(code="4/the-code")
    theirs = recorder.only()
    # When our callback redeems the same code with the same verifier
    ours_rec = Recorder((200, ANSWER))
    consent = exchange_code(
        _doc(), APP, our_context(ours_rec), CodeGrant("4/the-code", REDIRECT, flow.code_verifier)
    )
    ours = ours_rec.only()
    # Then the request is the same; the client authenticates with the same pair, which the library
    # sends as HTTP Basic and we in the body: Google's discovery document lists both
    # (client_secret_post, client_secret_basic).
    assert_same_request(
        ours,
        theirs,
        ours_only={"client_id": "client_secret_post", "client_secret": "client_secret_post"},
        theirs_only={},
        authorization="the library authenticates with client_secret_basic, we with _post",
    )
    assert ours.client_auth() == ("body", APP.client_id, APP.client_secret)
    assert theirs.client_auth() == ("basic", APP.client_id, APP.client_secret)
    # And the account we record is the one google-auth reads from the same id_token
    claims = jwt.decode(ANSWER["id_token"], verify=False)
    assert consent.identity is not None
    assert (consent.identity.account_id, consent.identity.label) == (
        claims["sub"],
        claims["email"],
    )


def test_the_refresh_is_google_auths() -> None:
    # Given google-auth's user credentials refreshing
    recorder = Recorder((200, ANSWER))
    credentials = google.oauth2.credentials.Credentials.from_authorized_user_info(USER_INFO)
    credentials.refresh(google.auth.transport.requests.Request(recorder.session()))
    theirs = recorder.only()
    # When our provider refreshes the same grant
    ours_rec = Recorder((200, ANSWER))
    google_ads.PROVIDER.refresh(_doc(), APP, our_context(ours_rec))
    # Then the two requests are identical, client authentication included
    ours = ours_rec.only()
    assert_same_request(ours, theirs, ours_only={}, theirs_only={})
    assert ours.client_auth() == theirs.client_auth() == ("body", APP.client_id, APP.client_secret)


@pytest.mark.parametrize(("scope", "email"), [(SCOPE, True), ("openid", False)])
def test_the_fake_issues_email_only_with_the_email_scope(
    fake_providers: Any, scope: str, email: bool
) -> None:
    # Given a consent at the fake Google for ``scope``, read by google-auth's own JWT parser
    body = fake_providers.consent.issue("google_ads", scope=scope)
    claims = jwt.decode(body["id_token"], verify=False)
    # Then the email claim is there only when the email scope was asked for
    assert ("email" in claims) is email
    assert claims["aud"] == "google_ads-client"
