"""LinkedIn: linkedin-api-client (LinkedIn's official Python client, AuthClient) as the judge of the
authorize URL, the code exchange, the refresh and the introspection; its response models read the
answers our code reads.

The URLs are the client's own (``linkedin_api.common.constants``). The client has no opinion on
the scope: it comes from tests/fixtures/oracles/linkedin.json with LinkedIn's pages, and the tests
that judge by it say ``fixture`` in their names. The client's response models read the answers
LinkedIn's pages document (the contract fixtures), not ones made up here."""

from __future__ import annotations

from typing import Any

import pytest
from linkedin_api.clients.auth.client import AuthClient

from tests.support.oracles import (
    Recorder,
    Sent,
    assert_same_request,
    authorize_request,
    documented_answer,
    our_authorize_request,
    our_context,
    sourced,
)
from token_refresher.connect.exchange import CodeGrant, exchange_code
from token_refresher.connect.platforms import AuthorizeRequest, platform
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import linkedin

pytestmark = pytest.mark.unit

APP = AppCredentials("li-client-id", "li-client-secret-0001")
REDIRECT = "https://abcdefghij.lambda-url.us-east-1.on.aws/callback/linkedin"
SCOPE = sourced("linkedin", "scope")
# The answers LinkedIn documents (programmatic refresh tokens, token introspection), as the
# contract fixtures keep them with their pages.
TOKEN = documented_answer("linkedin", "refresh", "token")
INTROSPECTION = documented_answer("linkedin", "introspect", "introspect")
NO_REFRESH = {k: v for k, v in TOKEN.items() if not k.startswith("refresh_token")}


def _answer(token: dict[str, Any]) -> Any:
    def answer(sent: Sent) -> tuple[int, Any]:
        if sent.url.endswith("/v2/userinfo"):
            return 200, {"sub": "linkedin-sub-1", "name": "Fake Member"}
        if sent.url.endswith("/introspectToken"):
            return 200, INTROSPECTION
        return 200, token

    return answer


def _client(recorder: Recorder) -> AuthClient:
    client = AuthClient(APP.client_id, APP.client_secret, redirect_url=REDIRECT)
    recorder.session(client.session)
    return client


def _doc(**fields: Any) -> TokenDocument:
    return TokenDocument.from_dict(
        {"schema": 1, "provider": "linkedin", "access_token": "AQV-old"} | fields
    )


def test_the_authorize_url_is_the_clients_for_the_fixture_scope() -> None:
    theirs = authorize_request(_client(Recorder()).generate_member_auth_url(SCOPE, state="st"))
    ours = our_authorize_request(
        platform("linkedin").authorize_url(
            _doc(), APP, our_context(Recorder()), AuthorizeRequest(REDIRECT, "st", "unused")
        )
    )
    assert_same_request(ours, theirs, ours_only={}, theirs_only={})


@pytest.mark.parametrize("answer", [TOKEN, NO_REFRESH], ids=["refresh", "no-refresh"])
def test_the_code_exchange_is_the_clients(answer: dict[str, Any]) -> None:
    # Given the official client exchanging a code, and its model of the answer
    recorder = Recorder(_answer(answer))
    model = _client(recorder).exchange_auth_code_for_access_token("the-code")
    theirs = recorder.only()
    # When our callback exchanges the same code (then reads /v2/userinfo, an OpenID call)
    ours_rec = Recorder(_answer(answer))
    consent = exchange_code(
        _doc(), APP, our_context(ours_rec), CodeGrant("the-code", REDIRECT, None)
    )
    ours = ours_rec.sent[0]
    # Then the token request is the same, and we read what the client's model reads
    assert_same_request(ours, theirs, ours_only={}, theirs_only={})
    assert ours.client_auth() == theirs.client_auth() == ("body", APP.client_id, APP.client_secret)
    assert consent.tokens.access_token == model.access_token
    assert consent.tokens.refresh_token == model.refresh_token
    # And an answer without refresh token (no programmatic refresh) carries the human deadline
    if model.refresh_token is None:
        [notice] = consent.tokens.notices
        assert notice.deadline == consent.tokens.expires_at


def test_the_refresh_is_the_clients() -> None:
    recorder = Recorder(_answer(TOKEN))
    model = _client(recorder).exchange_refresh_token_for_access_token("AQX-old")
    ours_rec = Recorder(_answer(TOKEN))
    result = linkedin.PROVIDER.refresh(_doc(refresh_token="AQX-old"), APP, our_context(ours_rec))
    assert_same_request(ours_rec.only(), recorder.only(), ours_only={}, theirs_only={})
    assert (result.access_token, result.refresh_token) == (model.access_token, model.refresh_token)


def test_the_introspection_is_the_clients() -> None:
    recorder = Recorder(_answer(TOKEN))
    model = _client(recorder).introspect_access_token("AQV-old")
    ours_rec = Recorder(_answer(TOKEN))
    check = linkedin.PROVIDER.validate(_doc(), APP, our_context(ours_rec))
    assert_same_request(ours_rec.only(), recorder.only(), ours_only={}, theirs_only={})
    assert check.valid is model.active is True
    assert check.expires_at is not None
    assert int(check.expires_at.timestamp()) == model.expires_at
