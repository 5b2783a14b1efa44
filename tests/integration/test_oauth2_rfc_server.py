"""The generic oauth2 provider against a third-party RFC-strict server: oidc-provider (npm).

The server (tests/oauth_server/, installed by `make oauth-server`) decodes HTTP Basic client
credentials as RFC 6749 §2.3.1 says, rotates refresh tokens and refuses a rotated-away one. The
first refresh token comes from a real authorization-code flow (PKCE) driven through the server's
development login and consent forms.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urljoin, urlsplit

import pytest
import requests

from tests.integration.conftest import Aws, rotation_event, start_rotation
from tests.support import stack
from tests.support.handlers import LambdaContext, load_handler
from token_refresher.connect import exchange
from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.http import HttpClient
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import oauth2
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.integration

SERVER_DIR = Path(__file__).resolve().parents[1] / "oauth_server"
# RFC 6749 allows any printable ASCII in a secret (VSCHAR): these are the characters a client
# that skips the form-urlencoding gets wrong.
CLIENT_ID = "rfc client:1"
CLIENT_SECRET = "s3cr+t/wi=th%41 & spaces:end"
STARTUP_TIMEOUT_S = 20


@dataclass(frozen=True)
class RfcServer:
    issuer: str
    redirect_uri: str

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"

    @property
    def introspection_url(self) -> str:
        return self.issuer + "/token/introspection"


def _installed() -> None:
    if not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        npm = shutil.which("npm")
        assert npm, "npm is needed for the RFC-strict OAuth server (make oauth-server)"
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SERVER_DIR, check=True)


@pytest.fixture(scope="module")
def rfc_server() -> Iterator[RfcServer]:
    _installed()
    node = shutil.which("node")
    assert node, "node is needed for the RFC-strict OAuth server"
    env = {**os.environ, "OAUTH_CLIENT_ID": CLIENT_ID, "OAUTH_CLIENT_SECRET": CLIENT_SECRET}
    proc = subprocess.Popen(
        [node, "server.mjs"],
        cwd=SERVER_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints its issuer once it listens
        assert line, "the OAuth server exited before it was ready"
        ready = json.loads(line)
        yield RfcServer(ready["issuer"], ready["redirect_uri"])
    finally:
        proc.terminate()
        proc.wait(timeout=STARTUP_TIMEOUT_S)


def authorize(server: RfcServer) -> str:
    """Run the authorization-code flow with PKCE through the dev login/consent forms; returns the
    first refresh token."""
    code, verifier = authorization_code(server)
    answer = requests.post(
        server.token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": server.redirect_uri,
            "code_verifier": verifier,
        },
        headers={"Authorization": _rfc_basic(CLIENT_ID, CLIENT_SECRET)},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["refresh_token"])


def authorization_code(server: RfcServer) -> tuple[str, str]:
    """A person's consent through the dev login/consent forms: the code and its PKCE verifier."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    browser = requests.Session()
    resp = browser.get(
        server.issuer + "/auth",
        params={
            "client_id": CLIENT_ID,
            "response_type": "code",
            "redirect_uri": server.redirect_uri,
            "scope": "openid offline_access reports.read",
            "prompt": "consent",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "integration",
        },
        allow_redirects=False,
        timeout=5,
    )
    return _follow_to_code(browser, server, resp), verifier


def _rfc_basic(client_id: str, secret: str) -> str:
    """The test's own RFC 6749 §2.3.1 header, independent of the code under test."""
    pair = f"{quote_plus(client_id, safe='')}:{quote_plus(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _follow_to_code(browser: requests.Session, server: RfcServer, resp: requests.Response) -> str:
    for _ in range(10):
        location = resp.headers.get("location", "")
        assert location, f"unexpected answer {resp.status_code}"
        if location.startswith(server.redirect_uri):
            return parse_qs(urlsplit(location).query)["code"][0]
        page = browser.get(urljoin(server.issuer, location), allow_redirects=False, timeout=5)
        if page.is_redirect:
            resp = page
            continue
        # A login or consent form: submit it as a person clicking through would.
        action = re.search(r'action="([^"]+)"', page.text)
        prompt = re.search(r'name="prompt" value="([^"]+)"', page.text)
        assert action, "no form on the interaction page"
        assert prompt, "no prompt in the interaction form"
        form = {"prompt": prompt.group(1)}
        if form["prompt"] == "login":
            form |= {"login": "integration-user", "password": "any"}
        resp = browser.post(
            urljoin(server.issuer, action.group(1)), data=form, allow_redirects=False, timeout=5
        )
    raise AssertionError("the authorization flow did not reach the redirect URI")


def _doc(server: RfcServer, refresh_token: str, app_secret_id: str | None = None) -> dict[str, Any]:
    return {
        "schema": 1,
        "provider": "oauth2",
        "kind": "refresh_token",
        "refresh_token": refresh_token,
        "app_secret_id": app_secret_id,
        "options": {
            "token_url": server.token_url,
            "introspection_url": server.introspection_url,
        },
    }


def _ctx() -> ProviderContext:
    return ProviderContext(http=HttpClient(sleep=lambda _s: None, max_attempts=1))


@pytest.mark.usefixtures("handler_env")
def test_rotation_through_the_handler_stores_the_rotated_refresh_token(
    rfc_server: RfcServer, aws: Aws, secret_factory, app_secret, noop_rotation_function
) -> None:
    # Given a connection whose refresh token came from a real consent at the RFC-strict server,
    # and app credentials bound to that server
    first = authorize(rfc_server)
    app_id = app_secret(
        "rfc",
        CLIENT_ID,
        CLIENT_SECRET,
        provider="oauth2",
        allowed_url_prefixes=[rfc_server.issuer + "/"],
    )
    arn = secret_factory(_doc(rfc_server, first, app_id))
    # When the four rotation steps run through the handler (testSecret introspects the new token)
    handler = load_handler("rotation").lambda_handler
    version_id = start_rotation(aws, arn, noop_rotation_function)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        handler(rotation_event(step, arn, version_id), LambdaContext())
    # Then the server rotated the refresh token and the new one is what Secrets Manager holds
    doc = stack.current_document(aws.sm, arn)
    assert doc["refresh_token"] not in (None, first)
    assert doc["access_token"]
    assert stack.tags_of(aws.sm, arn)["token-refresher:status"] == "ok"
    # And the stored refresh token works once more, while the rotated-away one is refused
    client = AppCredentials(CLIENT_ID, CLIENT_SECRET)
    newer = oauth2.PROVIDER.refresh(
        TokenDocument.from_dict(_doc(rfc_server, doc["refresh_token"])), client, _ctx()
    )
    assert newer.refresh_token not in (None, doc["refresh_token"])
    with pytest.raises(ProviderError) as info:
        oauth2.PROVIDER.refresh(TokenDocument.from_dict(_doc(rfc_server, first)), client, _ctx())
    assert info.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert info.value.provider_code == "invalid_grant"


def test_basic_client_auth_is_decoded_as_the_rfc_says(rfc_server: RfcServer) -> None:
    # Given a live refresh token at the RFC-strict server
    first = authorize(rfc_server)
    doc = TokenDocument.from_dict(_doc(rfc_server, first))
    # When a client skips the form-urlencoding (requests' auth=) / Then the server refuses it
    naive = requests.post(
        rfc_server.token_url,
        data={"grant_type": "refresh_token", "refresh_token": first},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert naive.status_code in (400, 401)
    # When the secret is wrong / Then it is a config error, nothing about the user's grant
    with pytest.raises(ProviderError) as info:
        oauth2.PROVIDER.refresh(doc, AppCredentials(CLIENT_ID, "not+the/secret="), _ctx())
    assert info.value.error_class is ErrorClass.CONFIG
    assert info.value.provider_code == "invalid_client"
    # When our provider refreshes with the real credentials / Then it authenticates, gets a
    # rotated refresh token, and introspection (same client auth) reports the new token active
    client = AppCredentials(CLIENT_ID, CLIENT_SECRET)
    result = oauth2.PROVIDER.refresh(doc, client, _ctx())
    assert result.refresh_token not in (None, first)
    checked = TokenDocument.from_dict(
        {**_doc(rfc_server, result.refresh_token or ""), "access_token": result.access_token}
    )
    assert oauth2.PROVIDER.validate(checked, client, _ctx()).valid is True


def test_a_secret_outside_rfc_6749s_characters_gets_a_clean_config_error(
    rfc_server: RfcServer,
) -> None:
    # Given a non-ASCII secret, which RFC 6749 (VSCHAR) does not allow and this server refuses
    doc = TokenDocument.from_dict(_doc(rfc_server, "any-refresh-token"))
    # When refreshed / Then the encoding raises nothing of its own: the server's refusal is a
    # classified config error
    with pytest.raises(ProviderError) as info:
        oauth2.PROVIDER.refresh(doc, AppCredentials(CLIENT_ID, "sécret-秘密"), _ctx())
    assert info.value.error_class is ErrorClass.CONFIG


def _consent_doc(server: RfcServer, **options: str) -> TokenDocument:
    doc = _doc(server, "placeholder-refresh-token")
    return TokenDocument.from_dict(doc | {"options": doc["options"] | options})


@pytest.mark.parametrize("source", ["issuer", "userinfo_url", "both"])
def test_a_consent_at_a_real_openid_provider_names_its_account(
    rfc_server: RfcServer, source: str
) -> None:
    # Given a code from a person's consent at oidc-provider (its id_tokens are signed RS256 and
    # carry its own iss, aud, exp and iat), and an oauth2 connection naming its issuer, its
    # userinfo endpoint (/me), or both
    code, verifier = authorization_code(rfc_server)
    options = {"issuer": rfc_server.issuer, "userinfo_url": rfc_server.issuer + "/me"}
    if source != "both":
        options = {source: options[source]}
    doc = _consent_doc(rfc_server, **options)
    # When the connect flow's exchange runs against it
    grant = exchange.CodeGrant(code, rfc_server.redirect_uri, verifier)
    consent = exchange.exchange_code(doc, AppCredentials(CLIENT_ID, CLIENT_SECRET), _ctx(), grant)
    # Then its id_token passes the OpenID Connect Core 3.1.3.7 checks and names the account that
    # signed in (the same one its userinfo endpoint names)
    assert consent.identity is not None
    assert consent.identity.account_id == "integration-user"
    assert consent.tokens.refresh_token


def test_a_real_openid_providers_id_token_for_another_issuer_is_refused(
    rfc_server: RfcServer,
) -> None:
    # Given a code from oidc-provider, and a connection naming another issuer on the same host
    # (an issuer on another host than the token URL is refused before any check of iss)
    code, verifier = authorization_code(rfc_server)
    doc = _consent_doc(rfc_server, issuer=rfc_server.issuer + "/another-realm")
    grant = exchange.CodeGrant(code, rfc_server.redirect_uri, verifier)
    # When the exchange runs, then the id_token is refused as a configuration error
    with pytest.raises(ProviderError) as info:
        exchange.exchange_code(doc, AppCredentials(CLIENT_ID, CLIENT_SECRET), _ctx(), grant)
    assert info.value.error_class is ErrorClass.CONFIG
    assert "iss" in info.value.message
