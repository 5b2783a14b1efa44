"""The suite-wide leak scan itself: it must see secrets in every form and every channel."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest

from tests.support.leaks import SCANNER, LeakScanner

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
