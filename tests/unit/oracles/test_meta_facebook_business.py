"""Meta: the Facebook Business SDK (facebook-business) as the judge of our Graph calls.

The SDK has no helper for the token exchange or ``debug_token``; what it owns is the Graph call
itself: the host, the version path, the app secret proof it adds for an access token, and the
reading of Graph errors (``FacebookRequestError``). Those are compared here, at the SDK's own
Graph version. The paths and parameter names come from tests/fixtures/oracles/meta.json with Meta's
pages; the tests that judge by them say ``fixture`` in their names.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from tests.support.fake_providers import _graph_error
from tests.support.oracles import Recorder, Sent, assert_same_request, our_context, sourced
from token_refresher.errors import ProviderError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import meta

pytestmark = pytest.mark.unit

APP = AppCredentials("1234567890", "meta-app-secret-0001")
VERSION = FacebookAdsApi.API_VERSION  # the SDK's; ours is pinned to it per connection below
EXCHANGE = sourced("meta", "long_lived_exchange")
DEBUG_TOKEN = sourced("meta", "debug_token")
DEBUG = {
    "data": {
        "app_id": APP.client_id,
        "type": "USER",
        "is_valid": True,
        "user_id": "10000000000001",
        "expires_at": 4102444800,
        "data_access_expires_at": 4102444800,
        "scopes": ["ads_management"],
    }
}
EXCHANGED = {"access_token": "EAAnew", "token_type": "bearer", "expires_in": 5183944}


def _answer(sent: Sent) -> tuple[int, Any]:
    return 200, DEBUG if sent.url.endswith("/debug_token") else EXCHANGED


def _sdk(recorder: Recorder, access_token: str | None, secret: str | None) -> FacebookAdsApi:
    session = FacebookSession(APP.client_id, secret, access_token)
    recorder.session(session.requests)
    return FacebookAdsApi(session, api_version=VERSION)


def _doc() -> TokenDocument:
    return TokenDocument.from_dict(
        {
            "schema": 1,
            "provider": "meta",
            "access_token": "EAAold",
            "options": {"graph_version": VERSION},
        }
    )


def _filled(params: dict[str, str], **values: str) -> dict[str, str]:
    """The page's parameters, its ``{placeholders}`` filled in."""
    return {k: values.get(v.strip("{}").replace("-", "_"), v) for k, v in params.items()}


def _our_refresh() -> list[Sent]:
    recorder = Recorder(_answer)
    meta.PROVIDER.refresh(_doc(), APP, our_context(recorder))
    return recorder.sent


def test_the_long_lived_exchange_is_the_sdks_graph_call_with_the_fixture_parameters() -> None:
    # Given our refresh: fb_exchange_token, then debug_token on the new token
    exchange, _ = _our_refresh()
    # When the SDK makes the same Graph call without a user token (the exchange carries none)
    recorder = Recorder(_answer)
    params = _filled(
        EXCHANGE["params"],
        app_id=APP.client_id,
        app_secret=APP.client_secret,
        your_access_token="EAAold",
    )
    _sdk(recorder, None, None).call("GET", tuple(EXCHANGE["path"]), params=params)
    # Then host, version path and parameters are the same
    assert_same_request(exchange, recorder.only(), ours_only={}, theirs_only={})
    assert exchange.url == f"{FacebookSession.GRAPH}/{VERSION}/oauth/access_token"


def test_debug_token_carries_the_sdks_app_secret_proof_with_the_fixture_parameters() -> None:
    # Given our debug_token call, made with the app token
    _, ours = _our_refresh()
    # When the SDK calls debug_token with the app token as its access token and the app secret
    recorder = Recorder(_answer)
    _sdk(recorder, f"{APP.client_id}|{APP.client_secret}", APP.client_secret).call(
        "GET",
        tuple(DEBUG_TOKEN["path"]),
        params=_filled(DEBUG_TOKEN["params"], input_token="EAAnew"),
    )
    theirs = recorder.only()
    # Then the request is the same, appsecret_proof included (the SDK computes its own)
    assert_same_request(ours, theirs, ours_only={}, theirs_only={})
    assert ours.params["appsecret_proof"] == theirs.params["appsecret_proof"]


@pytest.mark.parametrize(
    ("code", "subcode", "message"),
    [
        (190, 463, "Error validating access token: Session has expired"),
        (190, 460, "Error validating access token: the user changed the password"),
        (4, None, "Application request limit reached"),
        (10, None, "Application does not have permission for this action"),
    ],
)
def test_graph_errors_read_as_the_sdk_reads_them(
    code: int, subcode: int | None, message: str
) -> None:
    # Given a Graph error answer as the fake sends it, read by the SDK's own error model
    answer = _graph_error(code, message, subcode)
    sdk = FacebookRequestError(message, {}, answer.status, {}, json.dumps(answer.json))
    # When our refresh meets it at the token exchange
    recorder = Recorder((answer.status, answer.json))
    with pytest.raises(ProviderError) as info:
        meta.PROVIDER.refresh(_doc(), APP, our_context(recorder))
    # Then our error names the code and subcode the SDK reads
    assert info.value.provider_code == str(sdk.api_error_code()) == str(code)
    subcode_read = sdk.api_error_subcode()
    assert info.value.provider_subcode == (None if subcode_read is None else str(subcode_read))
