from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest

from token_refresher.connect.flow import Flow, FlowError, pkce_challenge
from token_refresher.connect.links import Link, LinkError, LinkProblem, b64url, unb64url
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
    token = _link().sign(KEY)
    body, sig = token.split(".")
    if edit == "signature":
        token = body + "." + b64url(b"0" * 32)
    else:
        text = unb64url(body).decode()
        text = (
            text.replace("conn/google", "conn/other")
            if edit == "secret"
            else text.replace("google_ads", "meta")
        )
        token = b64url(text.encode()) + "." + sig
    with pytest.raises(LinkError) as err:
        Link.verify(token, KEY, now=utcnow())
    assert err.value.problem is LinkProblem.TAMPERED


def test_another_key_or_instance_does_not_verify() -> None:
    token = _link(instance="prod").sign(KEY)
    with pytest.raises(LinkError) as other_key:
        Link.verify(token, b"y" * 32, now=utcnow(), instance="prod")
    with pytest.raises(LinkError) as other_instance:
        Link.verify(token, KEY, now=utcnow(), instance="staging")
    assert other_key.value.problem is LinkProblem.TAMPERED
    assert other_instance.value.problem is LinkProblem.FOREIGN


def test_a_link_expires() -> None:
    token = _link(expires_at=utcnow() + timedelta(minutes=1)).sign(KEY)
    Link.verify(token, KEY, now=utcnow())
    with pytest.raises(LinkError) as err:
        Link.verify(token, KEY, now=utcnow() + timedelta(minutes=2))
    assert err.value.problem is LinkProblem.EXPIRED


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!.??", "e30.AAAA", "x" * 5000])
def test_garbage_is_tampered(token: str) -> None:
    with pytest.raises(LinkError) as err:
        Link.verify(token, KEY, now=utcnow())
    assert err.value.problem is LinkProblem.TAMPERED


def test_pkce_challenge_is_unpadded_base64url_of_sha256() -> None:
    verifier = "a" * 43
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert pkce_challenge(verifier) == expected
    assert "=" not in expected
    assert len(expected) == 43


def test_verifier_is_43_unreserved_characters_and_differs_per_flow() -> None:
    a, b = Flow("tok", "flow-a", "google_ads"), Flow("tok", "flow-b", "google_ads")
    assert len(a.code_verifier(KEY)) == 43
    assert set(a.code_verifier(KEY)) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    assert a.code_verifier(KEY) != b.code_verifier(KEY)


def test_state_is_bound_to_cookie_platform_and_key() -> None:
    flow = Flow("tok", "flow-a", "google_ads")
    cookie = flow.cookie(secure=True).split(";")[0]
    assert Flow.from_callback(cookie, flow.state(KEY), "google_ads", KEY) == flow
    with pytest.raises(FlowError):  # the platform's answer arrives on another platform's path
        Flow.from_callback(cookie, flow.state(KEY), "meta", KEY)
    with pytest.raises(FlowError):  # another browser (no cookie)
        Flow.from_callback("", flow.state(KEY), "google_ads", KEY)
    with pytest.raises(FlowError):  # edited state
        Flow.from_callback(cookie, flow.state(KEY)[:-2] + "AA", "google_ads", KEY)
    assert len(flow.state(KEY)) < 64  # TikTok: keep state short
