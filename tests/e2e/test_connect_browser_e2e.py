"""The consent flow in a real headless Chromium against the deployed stack (docs/connect.md).

A revoked Google connection alerts through SNS -> SQS; the alert's ``reconnect_url`` is opened in
Chromium, "Continue" leads to the fake platform's consent page, "Allow" back to the stack's
ConnectFunction (its Function URL on LocalStack), which stores the new grant. Then every way a
consent can go wrong, each with its page and nothing written. Screenshots of every page go to
.artifacts/screenshots; the timings to .artifacts/connect-timings.json.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
import requests

from tests.e2e.conftest import E2E_STACK, Deployed, rotate
from tests.support import browser as chromium_support
from tests.support import stack
from tests.support.browser import Browser, chromium
from tests.support.cli import run_cli
from tests.support.fake_providers import FakeProviders
from token_refresher.adapters.secrets import SecretsManagerStore
from token_refresher.connect.minter import KeySource, LinkMinter
from token_refresher.timeutil import utcnow

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not chromium_support.available(), reason="run `make browser` first"),
]

ACCOUNT = "100000000000000000001"  # the fake Google account that consents by default
TIMINGS = chromium_support.REPO_ROOT / ".artifacts" / "connect-timings.json"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def minter(deployed: Deployed) -> Callable[..., str]:
    """Links made the way `token-refresher link` makes them (the operator's AWS access)."""
    store = SecretsManagerStore(deployed.sm)
    keys = KeySource(store, deployed.outputs["ConnectKeySecretId"])

    def mint(secret: str, *, days: float = 7, provider: str = "google_ads", **kw: Any) -> str:
        clock = (lambda: utcnow() - timedelta(days=8)) if days < 0 else utcnow
        return LinkMinter(store, lambda: keys.current, clock=clock).mint(secret, provider, **kw)

    return mint


@pytest.fixture
def google_connection(make_secret, make_app) -> Callable[[], str]:
    def make() -> str:
        return make_secret(
            {
                "schema": 1,
                "provider": "google_ads",
                "access_token": "ya29.e2e-connect-old-0001",
                "refresh_token": "1//0g-e2e-connect-revoked-0001",
                "expires_at": stack.iso_in(timedelta(minutes=20)),
                "app_secret_id": make_app(
                    "google-connect",
                    "g-connect-client",
                    "g-connect-secret-0001",
                    provider="google_ads",
                ),
                "options": {"login_customer_id": "1234567890"},
                "owner_team": "growth",
                "consent": {"account_id": ACCOUNT, "account_label": "owner@example.com"},
            }
        )

    return make


def _record(name: str, seconds: float) -> None:
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    data[name] = round(seconds, 2)
    TIMINGS.write_text(json.dumps(data, indent=2, sort_keys=True))


def _versions(deployed: Deployed, arn: str) -> dict[str, list[str]]:
    """The token's versions and their AWS labels. A link's attempt slots (versions under their
    own label, connect/attempts.py) are the link's bookkeeping and hold no token: left out."""
    staged = deployed.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    token_labels = {v: [s for s in stages if s.startswith("AWS")] for v, stages in staged.items()}
    return {v: stages for v, stages in token_labels.items() if stages}


def _alerts(inbox: stack.AlertInbox, event: str) -> list[dict[str, Any]]:
    """The alerts of ``event`` received so far, once there is one (the inbox keeps the rest)."""
    found = inbox.matching(lambda e: e["alert"]["event"] == event, timeout=60, what=event)
    return [e["alert"] for e in found]


def test_reconnect_from_an_alert_in_chromium(
    deployed, fake_providers: FakeProviders, google_connection, alert_inbox, browser: Browser
) -> None:
    # Given a Google connection whose grant was revoked, and the alert it caused
    arn = google_connection()
    rotate(deployed, arn)
    [alert] = _alerts(alert_inbox, "token.reauth_required")
    url = alert["reconnect_url"]
    assert url.startswith(deployed.outputs["ConnectUrl"] + "?l=")
    assert url in alert["remediation"]  # the text an e-mail subscriber reads
    # When the owner opens it in a browser, continues and allows at the platform
    browser.open(url)
    browser.screenshot("reconnect-1-landing")
    landing = browser.text
    for fact in (
        "Connect Google Ads",
        "owner@example.com",
        "auth/adwords",
        arn.split(":")[-1][:20],
    ):
        assert fact in landing
    started = time.monotonic()
    browser.click("a.btn")
    browser.screenshot("reconnect-2-consent")
    assert "Fake google consent" in browser.text
    browser.click("#allow")
    elapsed = time.monotonic() - started
    browser.screenshot("reconnect-3-success")
    _record("continue_to_success_s", elapsed)
    # Then the success page shows, and the secret holds a working new grant
    assert "Connected" in browser.text
    doc = stack.current_document(deployed.sm, arn)
    assert fake_providers.is_valid(doc["refresh_token"], "refresh")
    assert fake_providers.is_valid(doc["access_token"])
    assert (doc["owner_team"], doc["options"]) == ("growth", {"login_customer_id": "1234567890"})
    assert doc["consent"]["account_id"] == ACCOUNT
    tags = stack.tags_of(deployed.sm, arn)
    assert tags["token-refresher:status"] == "ok"
    assert tags["token-refresher:connect-nonce"] == "used"
    # And token.recovered arrives through SNS -> SQS
    [recovered] = _alerts(alert_inbox, "token.recovered")
    assert recovered["secret_id"] in (arn, arn.split(":")[-1].rsplit("-", 1)[0])
    # And the used link is refused from now on, writing nothing
    versions = _versions(deployed, arn)
    browser.open(url)
    browser.screenshot("negative-reused-link")
    assert "This link was already used" in browser.text
    assert _versions(deployed, arn) == versions


MICROSOFT_ACCOUNT = "72f988bf-0000-4000-8000-000000000001/00000000-0000-4000-8000-0000000000a1"


def test_a_microsoft_consent_in_chromium(
    deployed, fake_providers: FakeProviders, make_secret, make_app, minter, browser
) -> None:
    # Given a Microsoft Advertising connection that needs a new consent, and a link for it
    arn = make_secret(
        {
            "schema": 1,
            "provider": "microsoft_ads",
            "access_token": "EwB-e2e-connect-old-0001",
            "refresh_token": "M.C5-e2e-connect-revoked-0001",
            "expires_at": stack.iso_in(timedelta(minutes=20)),
            "app_secret_id": make_app(
                "microsoft-connect",
                "ms-connect-client",
                "ms-connect-secret-0001",
                provider="microsoft_ads",
            ),
            "consent": {"account_id": MICROSOFT_ACCOUNT, "account_label": "owner@contoso.example"},
        }
    )
    # When the owner consents at the (strict) fake Microsoft identity platform
    seconds = browser.consent(minter(arn, provider="microsoft_ads"), shot="microsoft")
    _record("microsoft_link_to_success_s", seconds)
    # Then the connection holds a working grant from the same tenant and user object
    assert "Connected" in browser.text, browser.text
    assert "owner@contoso.example" in browser.text
    doc = stack.current_document(deployed.sm, arn)
    assert fake_providers.is_valid(doc["refresh_token"], "refresh")
    assert doc["consent"]["account_id"] == MICROSOFT_ACCOUNT


def _unchanged(deployed: Deployed, arn: str) -> Callable[[], None]:
    before = (_versions(deployed, arn), stack.current_document(deployed.sm, arn))

    def check() -> None:
        assert (_versions(deployed, arn), stack.current_document(deployed.sm, arn)) == before

    return check


def test_an_expired_link_gets_its_page(deployed, google_connection, minter, browser) -> None:
    arn = google_connection()
    url = minter(arn, days=-1)
    unchanged = _unchanged(deployed, arn)
    browser.open(url)
    browser.screenshot("negative-expired-link")
    assert "This link has expired" in browser.text
    unchanged()


def test_a_tampered_state_gets_its_page(
    deployed, fake_providers, google_connection, minter, browser
) -> None:
    arn = google_connection()
    unchanged = _unchanged(deployed, arn)
    browser.open(minter(arn))
    browser.click("a.btn")
    allow = browser.driver.find_element("css selector", "#allow").get_attribute("href")
    back = requests.get(allow, allow_redirects=False, timeout=10).headers["Location"]
    browser.open(re.sub(r"state=([^&]+)", lambda m: "state=A" + m.group(1)[1:], back))
    browser.screenshot("negative-tampered-state")
    assert "not valid" in browser.text
    unchanged()


def test_another_account_is_refused_with_an_alert(
    deployed, fake_providers, google_connection, minter, browser, alert_inbox
) -> None:
    arn = google_connection()
    unchanged = _unchanged(deployed, arn)
    fake_providers.consent.set_account(
        "google_ads", "200000000000000000002", "intruder@example.com"
    )
    browser.consent(minter(arn), shot="negative-other-account")
    assert "A different account signed in" in browser.text
    unchanged()
    [refused] = _alerts(alert_inbox, "token.connect_refused")
    assert refused["provider"] == "google_ads"


def test_deny_gets_its_page_and_the_link_still_works(
    deployed, fake_providers, google_connection, minter, browser
) -> None:
    arn = google_connection()
    url = minter(arn)
    unchanged = _unchanged(deployed, arn)
    browser.consent(url, allow=False, shot="negative-deny")
    assert "Access was not granted" in browser.text
    unchanged()
    seconds = browser.consent(url)
    _record("link_to_success_after_deny_s", seconds)
    assert "Connected" in browser.text


def test_the_landing_page_headers(deployed, google_connection, minter) -> None:
    url = minter(google_connection())
    host = url.split("/")[2]
    resp = requests.get(
        url.replace(host, "127.0.0.1:" + host.rsplit(":", 1)[1]),
        headers={"Host": host},
        timeout=60,
    )
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "HttpOnly" in resp.headers["Set-Cookie"]
    assert "<script" not in unescape(resp.text)


@pytest.fixture
def cli_aws(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in stack.aws_environment(deployed.endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TOKEN_REFRESHER_STACK", E2E_STACK)


def test_cli_link_for_an_existing_connection(deployed, google_connection, cli_aws, browser) -> None:
    # Given a connection and `token-refresher link` run against the deployed stack
    arn = google_connection()
    name = arn.split(":")[-1].rsplit("-", 1)[0]
    run = run_cli(["link", name])
    assert run.code == 0, run.text
    url = run.out.strip()
    assert f"{deployed.outputs['ConnectUrl']}callback/google_ads" in run.err
    # When the owner completes the consent, Then the connection holds a new working grant
    seconds = browser.consent(url, shot="cli-link")
    _record("cli_link_to_success_s", seconds)
    assert "Connected" in browser.text
    assert stack.tags_of(deployed.sm, arn)["token-refresher:connect-nonce"] == "used"


def test_cli_connect_creates_a_connection_on_consent(
    deployed, fake_providers, make_app, secrets, cli_aws, browser
) -> None:
    # Given `token-refresher connect` for a new Google Ads connection
    app = make_app("google-new", "g-new-client", "g-new-secret-0001", provider="google_ads")
    name = f"tr-e2e/connect/{uuid.uuid4().hex[:10]}"
    run = run_cli(
        [
            "connect",
            "google_ads",
            "--name",
            name,
            "--app-secret-id",
            app,
            "--option",
            "login_customer_id=1234567890",
        ]
    )
    assert run.code == 0, run.text
    arn = deployed.sm.describe_secret(SecretId=name)["ARN"]
    secrets._created.append(arn)  # force-deleted after the test
    assert "token-refresher:managed" not in stack.tags_of(deployed.sm, arn)
    # When the owner consents in the browser
    browser.consent(run.out.strip(), shot="cli-connect")
    # Then the connection exists, managed, with a working grant and its options
    assert "Connected" in browser.text
    tags = stack.tags_of(deployed.sm, arn)
    assert (tags["token-refresher:managed"], tags["token-refresher:status"]) == ("true", "ok")
    doc = stack.current_document(deployed.sm, arn)
    assert fake_providers.is_valid(doc["refresh_token"], "refresh")
    assert doc["options"] == {"login_customer_id": "1234567890"}
