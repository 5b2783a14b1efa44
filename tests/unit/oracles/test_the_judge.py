"""``assert_same_request`` itself: each place a value can travel is compared on its own, so a value
that moves (a client secret from the body to the URL, a JSON body sent as a form) is caught."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.oracles import Recorder, Sent, assert_same_request

pytestmark = pytest.mark.unit

TOKEN_URL = "https://login.example.test/oauth2/token"
GRANT = {"grant_type": "refresh_token", "refresh_token": "r-1", "client_id": "c-1"}
TIKTOK = "https://business-api.tiktok.com/open_api/v1.3/oauth2/access_token/"
CODE = {"app_id": "7000", "secret": "tt-secret", "auth_code": "the-code"}


def _sent(method: str, url: str, **kwargs: Any) -> Sent:
    recorder = Recorder()
    recorder.session().request(method, url, **kwargs)
    return recorder.only()


def test_the_same_request_in_another_order_is_the_same() -> None:
    # Given two form posts with the same parameters, scope words in another order
    ours = _sent("POST", TOKEN_URL, data=GRANT | {"scope": "a b", "client_secret": "s"})
    theirs = _sent("POST", TOKEN_URL, data={"scope": "b a", "client_secret": "s"} | GRANT)
    # Then the judge finds nothing to say
    assert_same_request(ours, theirs, ours_only={}, theirs_only={})


def test_a_client_secret_in_the_query_instead_of_the_body_fails() -> None:
    # Given the library's refresh with the secret in the form body
    theirs = _sent("POST", TOKEN_URL, data=GRANT | {"client_secret": "s"})
    # When ours sends the same secret in the URL's query (where logs and proxies keep it)
    ours = _sent("POST", TOKEN_URL, data=GRANT, params={"client_secret": "s"})
    # Then the judge fails on the query, and the client authentication says where it went
    with pytest.raises(AssertionError, match="query"):
        assert_same_request(ours, theirs, ours_only={}, theirs_only={})
    assert ours.client_auth() == ("query", "c-1", "s")
    assert theirs.client_auth() == ("body", "c-1", "s")


def test_tiktok_json_sent_as_a_form_fails() -> None:
    # Given the SDK's auth_code exchange, a JSON body
    theirs = _sent("POST", TIKTOK, json=CODE)
    # When ours sends the same fields form-encoded
    ours = _sent("POST", TIKTOK, data=CODE)
    # Then the judge fails on the body's encoding, although every field has the same value
    assert ours.params == theirs.params
    with pytest.raises(AssertionError, match="body encoding"):
        assert_same_request(ours, theirs, ours_only={}, theirs_only={})


def test_a_json_body_with_another_content_type_fails() -> None:
    # Given the same JSON text, once declared as JSON and once as text/plain
    theirs = _sent("POST", TIKTOK, json=CODE)
    ours = _sent("POST", TIKTOK, data=json.dumps(CODE), headers={"Content-Type": "text/plain"})
    # Then the judge fails: a platform that parses by Content-Type would not read ours as JSON
    with pytest.raises(AssertionError, match="body encoding"):
        assert_same_request(ours, theirs, ours_only={}, theirs_only={})


def test_a_different_authorization_header_fails_unless_it_is_a_documented_gap() -> None:
    # Given the same form, authenticated once with HTTP Basic and once in the body
    theirs = _sent("POST", TOKEN_URL, data=GRANT, auth=("c-1", "s"))
    ours = _sent("POST", TOKEN_URL, data=GRANT)
    # Then the headers differ for the judge, unless the test names why they do
    with pytest.raises(AssertionError, match="Authorization header"):
        assert_same_request(ours, theirs, ours_only={}, theirs_only={})
    assert_same_request(ours, theirs, ours_only={}, theirs_only={}, authorization="basic vs post")
    # And a gap named for headers that are the same is itself a failure
    with pytest.raises(AssertionError, match="documented gap that no longer exists"):
        assert_same_request(ours, ours, ours_only={}, theirs_only={}, authorization="stale")


def test_a_different_host_fails() -> None:
    theirs = _sent("POST", TOKEN_URL, data=GRANT)
    ours = _sent("POST", TOKEN_URL.replace("login.example.test", "login.example.org"), data=GRANT)
    with pytest.raises(AssertionError, match="method or URL"):
        assert_same_request(ours, theirs, ours_only={}, theirs_only={})
