"""App credentials are cached for a few minutes per container, except for a connection whose last
failure was the app's: someone who fixes a rotated client secret sees the next attempt use it."""

from __future__ import annotations

import pytest

from tests.unit.conftest import APP_SECRET_ID, Harness
from token_refresher.credentials.lookup import AppCredentialsLookup
from token_refresher.redact import Redactor

pytestmark = pytest.mark.unit

FIXED = "app-client-secret-fixed-value"


def looked_up(harness: Harness, lookup: AppCredentialsLookup, name: str) -> str:
    desc = harness.store.describe(name)
    app = lookup.for_token(desc, harness.store.current_doc(name), Redactor())
    assert app is not None
    return app.client_secret


@pytest.mark.parametrize(
    ("last_error", "reads_the_fix"),
    [("config", True), ("transient", False), ("none", False), (None, False)],
)
def test_a_connection_whose_app_failed_reads_the_app_credentials_afresh(
    harness: Harness, last_error: str | None, reads_the_fix: bool
) -> None:
    # Given app credentials already cached by one lookup
    lookup = AppCredentialsLookup(harness.store, lambda _name: harness.provider)
    healthy = harness.add_secret("conn/healthy")
    first = looked_up(harness, lookup, healthy)
    # and then fixed in Secrets Manager (a rotated client secret put back right)
    harness.store.create(APP_SECRET_ID, {"client_id": "fake-client-id", "client_secret": FIXED})
    # When a connection whose last failure had this error class is looked up within the cache TTL
    tags = {"token-refresher:managed": "true"}
    if last_error is not None:
        tags["token-refresher:last-error-class"] = last_error
    name = harness.add_secret("conn/after-failure")
    harness.store.set_tags(name, tags)
    secret = looked_up(harness, lookup, name)
    # Then only one whose app failed (config) reads the fix; the others keep the cached value
    assert secret == (FIXED if reads_the_fix else first)
    assert first != FIXED
