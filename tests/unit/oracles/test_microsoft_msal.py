"""Microsoft identity platform: MSAL for Python (Microsoft's official library) as the judge.

MSAL and our code make the same three requests, both through a recorder: the authorize URL, the
authorization-code redemption and the refresh. MSAL always adds its reserved scopes (``openid
profile offline_access``) to what the app asks for; where we leave one out, the test says why.

The endpoints follow MSAL's own authority handling: its default authority (``common`` at
login.microsoftonline.com) and the OpenID discovery it reads there. MSAL has no copy of that
document, so the answer it reads is tests/fixtures/oracles/microsoft.json, fetched from the page it
names; so is the Advertising scope. Tests judging by those say ``fixture`` in their names.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import msal
import pytest

from tests.support.fake_consent import fake_id_token
from tests.support.oracles import (
    Recorder,
    Sent,
    assert_same_request,
    authorize_request,
    our_authorize_request,
    our_context,
    scopes,
    source_of,
    sourced,
)
from token_refresher.connect.exchange import CodeGrant, exchange_code
from token_refresher.connect.platforms import AuthorizeRequest, platform
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import microsoft_ads

pytestmark = [
    pytest.mark.unit,
    # MSAL recommends form_post; the consent link uses query (the callback is a GET)
    pytest.mark.filterwarnings("ignore:response_mode:UserWarning"),
]

ADS = sourced("microsoft", "ads_scope")
REDIRECT = "https://abcdefghij.lambda-url.us-east-1.on.aws/callback/microsoft_ads"
APP = AppCredentials("ms-client-id", "ms-client-secret-0001")
TID, OID = "72f988bf-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000a1"
# OpenID discovery, as MSAL reads it from its default authority before its first request.
DISCOVERY = sourced("microsoft", "openid_configuration")


def _answer(sent: Sent, nonce: str | None = None) -> tuple[int, Any]:
    if sent.method == "GET":
        return 200, DISCOVERY
    claims: dict[str, Any] = {
        "iss": f"https://login.microsoftonline.com/{TID}/v2.0",
        "aud": APP.client_id,
        "sub": "pairwise-sub",
        "tid": TID,
        "oid": OID,
        "preferred_username": "owner@contoso.example",
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
    }
    if nonce:  # MSAL's own replay check: the id_token carries the hash of the flow's nonce
        claims["nonce"] = hashlib.sha256(nonce.encode()).hexdigest()
    body = {
        "token_type": "Bearer",
        "scope": f"{ADS}",
        "expires_in": 3599,
        "access_token": "EwB-oracle-access",
        "refresh_token": "M.C5-oracle-refresh",
    }
    return 200, body | {"id_token": fake_id_token(claims)}


# MSAL's public cloud and its default tenant (MSAL's own default authority is the same with a
# trailing slash, which its discovery URL keeps as a double slash).
AUTHORITY = msal.authority.AuthorityBuilder(msal.authority.AZURE_PUBLIC, "common")


def _msal(recorder: Recorder) -> msal.ConfidentialClientApplication:
    """MSAL at a host it knows without instance discovery."""
    return msal.ConfidentialClientApplication(
        APP.client_id,
        client_credential=APP.client_secret,
        authority=AUTHORITY,
        http_client=recorder.session(),
    )


def _doc(**options: Any) -> TokenDocument:
    return TokenDocument.from_dict(
        {
            "schema": 1,
            "provider": "microsoft_ads",
            "access_token": "EwB-old",
            "refresh_token": "M.C5-old",
            "options": options,
        }
    )


def _posts(recorder: Recorder) -> list[Sent]:
    return [s for s in recorder.sent if s.method == "POST"]


def test_msal_reads_the_fixture_discovery_where_the_fixture_was_fetched() -> None:
    # Given MSAL at its default authority
    recorder = Recorder(_answer)
    # When it starts a flow (it reads the discovery document first)
    _msal(recorder).initiate_auth_code_flow([ADS], redirect_uri=REDIRECT)
    # Then it asked for it at the page the fixture was fetched from, and nothing else
    assert [(s.method, s.url) for s in recorder.sent] == [
        ("GET", *source_of("microsoft", "openid_configuration"))
    ]


def test_the_authorize_url_asks_for_what_msal_asks_for_the_fixture_scope() -> None:
    # Given MSAL's auth code flow (PKCE) for the Microsoft Advertising scope
    flow = _msal(Recorder(_answer)).initiate_auth_code_flow(
        [ADS], redirect_uri=REDIRECT, state="the-state", response_mode="query"
    )
    theirs = authorize_request(flow["auth_uri"])
    # When our consent link builds its authorize URL for a default connection
    ours = our_authorize_request(
        platform("microsoft_ads").authorize_url(
            _doc(), APP, our_context(Recorder()), AuthorizeRequest(REDIRECT, "the-state", "c" * 43)
        )
    )
    # Then both ask for openid profile offline_access and the Ads scope, at the same endpoint
    assert scopes(ours.params["scope"]) == {"openid", "profile", "offline_access", ADS}
    assert_same_request(
        ours,
        theirs,
        ours_only={"code_challenge": "both use PKCE; the challenge is each side's own"},
        theirs_only={
            "code_challenge": "as above",
            "nonce": "MSAL's id_token replay check; ours comes over TLS from the token endpoint",
            "client_info": "MSAL's account cache key; we read tid/oid from the id_token",
        },
    )
    assert (ours.params["code_challenge_method"], theirs.params["code_challenge_method"]) == (
        "S256",
        "S256",
    )


def test_the_code_redemption_sends_what_msal_sends() -> None:
    # Given MSAL redeeming a code from its auth code flow
    flow_nonce: list[str] = []
    recorder = Recorder(lambda sent: _answer(sent, flow_nonce[0] if flow_nonce else None))
    app = _msal(recorder)
    flow = app.initiate_auth_code_flow(
        [ADS], redirect_uri=REDIRECT, state="s", response_mode="query"
    )
    flow_nonce.append(flow["nonce"])
    result = app.acquire_token_by_auth_code_flow(flow, {"code": "the-code", "state": "s"})
    [theirs] = _posts(recorder)
    # When our callback redeems the same code with the same verifier
    ours_rec = Recorder(_answer)
    consent = exchange_code(
        _doc(), APP, our_context(ours_rec), CodeGrant("the-code", REDIRECT, flow["code_verifier"])
    )
    ours = ours_rec.only()
    # Then the two requests are the same, and the answer names the same account for both
    assert_same_request(
        ours,
        theirs,
        ours_only={},
        theirs_only={"client_info": "MSAL's account cache key (not needed: the id_token has it)"},
    )
    assert "openid" in scopes(ours.params["scope"])
    assert ours.client_auth() == theirs.client_auth() == ("body", APP.client_id, APP.client_secret)
    claims = result["id_token_claims"]
    assert consent.identity is not None
    assert consent.identity.account_id == f"{claims['tid']}/{claims['oid']}"


def test_the_refresh_sends_what_msal_sends_for_the_fixture_scope_less_the_id_token_scopes() -> None:
    # Given MSAL refreshing for the Ads scope
    recorder = Recorder(_answer)
    _msal(recorder).acquire_token_by_refresh_token("M.C5-old", [ADS])
    [theirs] = _posts(recorder)
    # When our provider refreshes a default connection
    ours_rec = Recorder(_answer)
    microsoft_ads.PROVIDER.refresh(_doc(), APP, our_context(ours_rec))
    ours = ours_rec.only()
    # Then the request is MSAL's, less the identity scopes: a refresh needs no new id_token (the
    # account was recorded at consent), and asking for one would only enlarge the answer.
    mine, other = scopes(ours.params["scope"]), scopes(theirs.params["scope"])
    assert mine == other - {"openid", "profile"}
    assert ADS in mine
    assert_same_request(
        ours,
        theirs,
        ours_only={"scope": "compared above"},
        theirs_only={"scope": "compared above", "client_info": "MSAL's account cache key"},
    )
    assert ours.client_auth() == theirs.client_auth()


@pytest.mark.parametrize(
    ("scope", "profile"),
    [(f"openid profile offline_access {ADS}", True), (f"openid offline_access {ADS}", False)],
)
def test_the_fake_issues_oid_only_with_the_profile_scope(
    fake_providers: Any, scope: str, profile: bool
) -> None:
    # Given the fake Microsoft's answer to a consent for ``scope``, read by MSAL itself
    body = fake_providers.consent.issue("microsoft_ads", scope=scope, client_id=APP.client_id)
    recorder = Recorder(lambda sent: (200, DISCOVERY) if sent.method == "GET" else (200, body))
    claims = _msal(recorder).acquire_token_by_refresh_token("M.C5-old", [ADS])["id_token_claims"]
    # Then oid and preferred_username come only with profile (the ID token claims reference)
    assert ("oid" in claims) is profile
    assert ("preferred_username" in claims) is profile
    assert claims["tid"] == TID


def test_the_fake_issues_a_refresh_token_only_with_offline_access(fake_providers: Any) -> None:
    body = fake_providers.consent.issue("microsoft_ads", scope=f"openid profile {ADS}")
    assert "refresh_token" not in body
    assert "refresh_token" in fake_providers.consent.issue(
        "microsoft_ads", scope=f"openid profile offline_access {ADS}"
    )


def test_a_public_client_refreshes_as_msals_public_client_application() -> None:
    # Given MSAL's public client application (no secret) refreshing
    recorder = Recorder(_answer)
    msal.PublicClientApplication(
        APP.client_id, authority=AUTHORITY, http_client=recorder.session()
    ).acquire_token_by_refresh_token("M.C5-old", [ADS])
    [theirs] = _posts(recorder)
    # When our provider refreshes with app credentials marked public_client
    public = AppCredentials(APP.client_id, "", extra={"public_client": True})
    ours_rec = Recorder(_answer)
    microsoft_ads.PROVIDER.refresh(_doc(), public, our_context(ours_rec))
    ours = ours_rec.only()
    # Then neither sends a client secret, and the rest is as for a confidential client
    assert ours.client_auth() == theirs.client_auth() == ("body", APP.client_id, None)
    assert_same_request(
        ours,
        theirs,
        ours_only={"scope": "without openid profile, as above"},
        theirs_only={"scope": "as above", "client_info": "MSAL's account cache key"},
    )
