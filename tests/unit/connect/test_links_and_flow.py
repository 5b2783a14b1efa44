from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.unit.connect.browser import BASE_URL, World, signed_link
from token_refresher.connect.flow import Flow, FlowError, pkce_challenge
from token_refresher.connect.links import (
    LINK_PARAM,
    Link,
    LinkError,
    LinkProblem,
    b64url,
    unb64url,
)
from token_refresher.timeutil import utcnow

pytestmark = pytest.mark.unit

KEY = b"x" * 32


def _link(**kw: object) -> Link:
    fields: dict[str, object] = {
        "secret_id": "conn/google",
        "provider": "google_ads",
        "nonce": "n0nce",
        "expires_at": utcnow() + timedelta(days=7),
    } | kw
    return Link(**fields)  # type: ignore[arg-type]


def test_a_signed_link_verifies_and_carries_its_binding() -> None:
    link = _link(allow_new_account=True, instance="prod")
    got = Link.verify(link.sign(KEY), KEY, now=utcnow(), instance="prod")
    assert (got.secret_id, got.provider, got.nonce, got.allow_new_account) == (
        "conn/google",
        "google_ads",
        "n0nce",
        True,
    )


@pytest.mark.parametrize("edit", ["secret", "provider", "signature"])
def test_an_edited_link_is_tampered(edit: str) -> None:
    signed = _link().sign(KEY)
    body, sig = signed.split(".")
    if edit == "signature":
        signed = body + "." + b64url(b"0" * 32)
    else:
        text = unb64url(body).decode()
        text = (
            text.replace("conn/google", "conn/other")
            if edit == "secret"
            else text.replace("google_ads", "meta")
        )
        signed = b64url(text.encode()) + "." + sig
    with pytest.raises(LinkError) as err:
        Link.verify(signed, KEY, now=utcnow())
    assert err.value.problem is LinkProblem.TAMPERED


def test_another_key_or_instance_does_not_verify() -> None:
    signed = _link(instance="prod").sign(KEY)
    with pytest.raises(LinkError) as other_key:
        Link.verify(signed, b"y" * 32, now=utcnow(), instance="prod")
    with pytest.raises(LinkError) as other_instance:
        Link.verify(signed, KEY, now=utcnow(), instance="staging")
    assert other_key.value.problem is LinkProblem.TAMPERED
    assert other_instance.value.problem is LinkProblem.FOREIGN


def test_a_link_expires() -> None:
    signed = _link(expires_at=utcnow() + timedelta(minutes=1)).sign(KEY)
    Link.verify(signed, KEY, now=utcnow())
    with pytest.raises(LinkError) as err:
        Link.verify(signed, KEY, now=utcnow() + timedelta(minutes=2))
    assert err.value.problem is LinkProblem.EXPIRED


@pytest.mark.parametrize("signed", ["", "abc", "a.b.c", "!!.??", "e30.AAAA", "x" * 5000])
def test_garbage_is_tampered(signed: str) -> None:
    with pytest.raises(LinkError) as err:
        Link.verify(signed, KEY, now=utcnow())
    assert err.value.problem is LinkProblem.TAMPERED


def test_pkce_challenge_is_unpadded_base64url_of_sha256() -> None:
    verifier = "a" * 43
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert pkce_challenge(verifier) == expected
    assert "=" not in expected
    assert len(expected) == 43


def test_verifier_is_43_unreserved_characters_and_differs_per_flow() -> None:
    a, b = Flow("signed-link", "flow-a", "google_ads"), Flow("signed-link", "flow-b", "google_ads")
    assert len(a.code_verifier(KEY)) == 43
    assert set(a.code_verifier(KEY)) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    assert a.code_verifier(KEY) != b.code_verifier(KEY)


def test_state_is_bound_to_cookie_platform_and_key() -> None:
    flow = Flow("signed-link", "flow-a", "google_ads")
    cookie = flow.cookie(secure=True).split(";")[0]
    assert Flow.from_callback(cookie, flow.state(KEY), "google_ads", KEY) == flow
    with pytest.raises(
        FlowError, match="state does not match this attempt"
    ):  # the platform's answer arrives on another platform's path
        Flow.from_callback(cookie, flow.state(KEY), "meta", KEY)
    with pytest.raises(
        FlowError, match="no consent cookie in this browser"
    ):  # another browser (no cookie)
        Flow.from_callback("", flow.state(KEY), "google_ads", KEY)
    with pytest.raises(FlowError, match="state does not match this attempt"):  # edited state
        Flow.from_callback(cookie, flow.state(KEY)[:-2] + "AA", "google_ads", KEY)
    assert len(flow.state(KEY)) < 64  # TikTok: keep state short


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda t: t + "=; SameSite=None; Path=/x", id="cookie-attributes"),
        pytest.param(lambda t: t[:-10] + "!" + t[-10:] + "=", id="character-outside-the-alphabet"),
        pytest.param(lambda t: t + "==", id="padding"),
        pytest.param(lambda t: t[:-1] + chr(ord(t[-1]) + 1), id="non-canonical-trailing-bits"),
    ],
)
def test_a_link_spelled_other_than_canonically_is_tampered(edit: Any) -> None:
    # Given a signed link whose signature is respelled (same bytes to a lenient decoder, or
    # extra characters a lenient decoder skips)
    signed = _link().sign(KEY)
    spelled = edit(signed)
    # When it is verified, then it is refused
    with pytest.raises(LinkError) as err:
        Link.verify(spelled, KEY, now=utcnow())
    assert err.value.problem is LinkProblem.TAMPERED


def test_a_respelled_link_never_reaches_set_cookie(world: World) -> None:
    # Given a connection's link with a cookie attribute smuggled into its signature
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    respelled = signed_link(url) + "=; SameSite=None; Domain=evil"
    # When it is opened
    visit = world.open(BASE_URL + "?" + urlencode({LINK_PARAM: respelled}))
    # Then the link is refused and no cookie is set
    assert visit.page.status == 400, visit.text
    assert "evil" not in visit.page.headers.get("Set-Cookie", "")


def test_the_cookie_secret_binds_state_and_verifier() -> None:
    # Given an attempt, and another with the same link and flow id but its own secret
    flow = Flow.start("tok", "google_ads")
    other = Flow("signed-link", flow.flow_id, "google_ads")
    cookie = flow.cookie(secure=True).split(";")[0]
    # Then the verifier and state differ, and the state matches only its own cookie
    assert other.code_verifier(KEY) != flow.code_verifier(KEY)
    assert other.state(KEY) != flow.state(KEY)
    assert Flow.from_callback(cookie, flow.state(KEY), "google_ads", KEY) == flow
    for forged, why in (
        (other.cookie(secure=True).split(";")[0], "state does not match"),  # another secret
        (f"tr_connect_{flow.flow_id}=tok", "not this attempt's"),  # the link alone
        (f"tr_connect_{flow.flow_id}=.tok", "not this attempt's"),  # no secret
        (f"tr_connect_{flow.flow_id}=!!.tok", "not this attempt's"),  # not a secret
    ):
        with pytest.raises(FlowError, match=why):
            Flow.from_callback(forged, flow.state(KEY), "google_ads", KEY)
