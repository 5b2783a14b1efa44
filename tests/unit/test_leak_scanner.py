"""The suite-wide leak scan itself: it must see secrets in every form and every channel."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest
import requests

from tests.support.fake_providers import FakeProviders
from tests.support.leaks import SCANNER, LeakScanner, watch_fake_server

pytestmark = pytest.mark.unit

SECRET = "leak-scan-probe/secret+value=="


@pytest.mark.parametrize(
    "text",
    [
        f"plain {SECRET} text",
        f"url {quote(SECRET, safe='')} encoded",
        f"b64 {base64.b64encode(SECRET.encode()).decode()} encoded",
        f"urlsafe {base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip('=')}",
    ],
)
def test_every_encoding_of_a_secret_is_found(text):
    scanner = LeakScanner()
    scanner.add_secrets(SECRET)
    scanner.record("probe", text)
    assert scanner.findings() == [f"probe: contains secret {SECRET[:4]}... ({len(SECRET)} chars)"]


def test_clean_text_and_short_values_are_not_flagged():
    scanner = LeakScanner()
    scanner.add_secrets(SECRET, "short")
    scanner.record("probe", "nothing to see; short is a word")
    assert scanner.findings() == []


def test_the_suite_fixture_captures_log_records():
    # Given a registered secret, when a log line carries it in an extra field
    SCANNER.add_secrets(SECRET)
    logging.getLogger("token-refresher.probe").warning("oops", extra={"value": SECRET})
    # Then the suite-wide scanner sees it (and would fail this test; reset to keep it green)
    assert any("log token-refresher.probe" in f for f in SCANNER.findings())
    SCANNER.reset()


def test_an_app_secret_sent_to_an_unexpected_host_or_path_is_flagged():
    # Given two watched fake servers, the first holding a registered Meta app
    scanner = LeakScanner()
    with FakeProviders() as home, FakeProviders() as foreign:
        home.register_app("meta", "555000111", SECRET)
        watch_fake_server(home, scanner)
        unwatch_foreign = watch_fake_server(foreign, scanner)
        # When the secret goes to its home, to another provider path, and to another host
        meta_path = "/v25.0/oauth/access_token"
        requests.post(home.url("meta") + meta_path, data={"client_secret": SECRET}, timeout=5)
        requests.post(f"{home.url('oauth2')}/token", auth=("555000111", SECRET), timeout=5)
        requests.post(foreign.url("meta") + meta_path, data={"x": SECRET}, timeout=5)
        # Then only the two misdirected requests are findings
        findings = scanner.findings()
        unwatch_foreign()
        after_unwatch = scanner.findings()
    belongs = f"carries the app secret {SECRET[:4]}... that belongs to {home.url('meta')}"
    to_other_path = f"request to {home.url('oauth2')}/token: {belongs}"
    to_other_host = f"request to {foreign.url('meta')}{meta_path}: {belongs}"
    assert findings == sorted([to_other_path, to_other_host])
    # And a server no longer watched is no longer checked
    assert after_unwatch == [to_other_path]
