"""The sweep's own alerts through the linking notifier: a human deadline's token.expiring carries a
reconnect link (the rotation's re-authorization alert: tests/integration/test_connect_handler.py
and the browser e2e)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.conftest import Harness
from token_refresher.adapters.linking import LinkingNotifier
from token_refresher.connect.links import Link
from token_refresher.connect.minter import LinkMinter, SigningKey
from token_refresher.sweep import SweepEngine, SweepRequest

pytestmark = pytest.mark.unit

SIGNING = SigningKey(b"z" * 40, "https://c.lambda-url.us-east-1.on.aws/")


def _linking(harness: Harness) -> LinkingNotifier:
    return LinkingNotifier(
        harness.notifier, LinkMinter(harness.store, lambda: SIGNING, clock=harness.clock)
    )


def test_the_sweeps_deadline_warning_carries_a_link(harness: Harness) -> None:
    # Given a Google connection whose human deadline is 6 days away
    name = harness.add_secret("conn/google-deadline")
    deadline = int((harness.clock.now + timedelta(days=6)).timestamp())
    far = int((harness.clock.now + timedelta(days=40)).timestamp())
    harness.store.set_tags(
        name,
        {
            "token-refresher:provider": "google_ads",
            "token-refresher:human-deadline": str(deadline),
            "token-refresher:expires-at": str(far),
        },
    )
    sweep = SweepEngine(harness.store, _linking(harness), harness.starter(rotation_lambda_arn=None))
    # When the scheduled sweep runs
    sweep.run(SweepRequest(scheduled=True))
    # Then its token.expiring alert carries a link to this connection, in the text too
    [alert] = harness.notifier.alerts
    assert alert.event.value == "token.expiring"
    assert alert.reconnect_url
    assert alert.reconnect_url in (alert.remediation or "")
    link = Link.verify(alert.reconnect_url.split("=", 1)[1], SIGNING.key, now=harness.clock())
    assert link.secret_id.split(":")[-1].startswith(name)  # the sweep names secrets by ARN
    assert link.provider == "google_ads"
