"""TikTok API for Business: the official Python SDK (tiktok-business-api-sdk-official, source
github.com/tiktok/tiktok-business-api-sdk: the package's home page names that repository of the
tiktok organisation, and its README names the package) judges the advertiser calls: the
``auth_code`` exchange and ``advertiser/get``; its answers are read as the SDK returns them. The
SDK has no call for the Accounts API (``tt_user``) token endpoints, so the ``tiktok_account``
refresh stays judged by the documentation only (docs/providers/README.md).
"""

from __future__ import annotations

from typing import Any

import business_api_client
import pytest

from tests.support.oracles import Recorder, RecorderPool, Sent, assert_same_request, our_context
from token_refresher.connect.exchange import CodeGrant, exchange_code
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import tiktok

pytestmark = pytest.mark.unit

APP = AppCredentials("7000000000000000000", "tiktok-app-secret-0001")
IDS = ["7000000000000000001", "7000000000000000002"]


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"code": 0, "message": "OK", "request_id": "2026120508000001", "data": data}


def _answer(sent: Sent) -> tuple[int, Any]:
    if sent.url.endswith("/oauth2/access_token/"):
        return 200, _envelope({"access_token": "tt-advertiser", "advertiser_ids": IDS})
    return 200, _envelope({"list": [{"advertiser_id": i, "advertiser_name": "x"} for i in IDS]})


def _sdk(recorder: Recorder) -> business_api_client.AuthenticationApi:
    client = business_api_client.ApiClient(business_api_client.Configuration())
    client.rest_client.pool_manager = RecorderPool(recorder)
    return business_api_client.AuthenticationApi(client)


def _doc() -> TokenDocument:
    return TokenDocument.from_dict(
        {"schema": 1, "provider": "tiktok", "kind": "advertiser", "access_token": "tt-advertiser"}
    )


def test_the_auth_code_exchange_is_the_sdks() -> None:
    # Given the SDK exchanging an auth_code, and the answer as it returns it
    recorder = Recorder(_answer)
    body = business_api_client.Oauth2AccessTokenBody(
        app_id=APP.client_id, auth_code="the-auth-code", secret=APP.client_secret
    )
    model = _sdk(recorder).oauth2_access_token(body=body)
    # When our callback exchanges the same code
    ours_rec = Recorder(_answer)
    consent = exchange_code(
        _doc(), APP, our_context(ours_rec), CodeGrant("the-auth-code", "https://x/cb", None)
    )
    # Then the request is the same (JSON body) and we read the advertisers the SDK reads
    assert_same_request(ours_rec.only(), recorder.only(), ours_only={}, theirs_only={})
    assert ours_rec.only().json == recorder.only().json
    assert consent.options_update["advertiser_ids"] == sorted(model["data"]["advertiser_ids"])


def test_advertiser_get_is_the_sdks() -> None:
    # Given the SDK listing the advertisers that authorized the app
    recorder = Recorder(_answer)
    _sdk(recorder).oauth2_advertiser_get(APP.client_id, APP.client_secret, "tt-advertiser")
    theirs = recorder.only()
    # When our provider validates an advertiser token (its "refresh")
    ours_rec = Recorder(_answer)
    tiktok.PROVIDER.refresh(_doc(), APP, our_context(ours_rec))
    ours = ours_rec.only()
    # Then method, URL, query and the Access-Token header (never the URL) are the SDK's
    assert_same_request(ours, theirs, ours_only={}, theirs_only={})
    assert ours.headers["access-token"] == theirs.headers["access-token"] == "tt-advertiser"
    assert "tt-advertiser" not in ours.url + str(ours.query)
