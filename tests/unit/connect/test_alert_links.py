"""The sweep's own alerts through the linking notifier: a human deadline's token.expiring carries a
reconnect link (the rotation's re-authorization alert: tests/integration/test_connect_handler.py
and the browser e2e)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.fakes import TEST_INSTANCE, client_error
from tests.support.template import allows_on_own_managed_secret, load_template, statements
from tests.unit.conftest import Harness
from token_refresher.alerts import Alert
from token_refresher.connect.links import TAG_CONNECT_NONCE, Link, pending_version
from token_refresher.connect.minter import LinkMinter, SigningKey
from token_refresher.connect.reconnect import LinkingNotifier
from token_refresher.sweep.engine import SweepEngine, SweepRequest

pytestmark = pytest.mark.unit

SIGNING = SigningKey(b"z" * 40, "https://c.lambda-url.us-east-1.on.aws/", TEST_INSTANCE)


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
    link = Link.verify(
        alert.reconnect_url.split("=", 1)[1],
        SIGNING.key,
        now=harness.clock(),
        instance=TEST_INSTANCE,
    )
    assert link.secret_id.split(":")[-1].startswith(name)  # the sweep names secrets by ARN
    assert link.provider == "google_ads"


def _deadline_connection(harness: Harness, name: str, nonce: str) -> str:
    """A Google connection 6 days from its human deadline, holding an unused link nonce."""
    harness.add_secret(name)
    deadline = int((harness.clock.now + timedelta(days=6)).timestamp())
    far = int((harness.clock.now + timedelta(days=40)).timestamp())
    harness.store.set_tags(
        name,
        {
            "token-refresher:provider": "google_ads",
            "token-refresher:human-deadline": str(deadline),
            "token-refresher:expires-at": str(far),
            TAG_CONNECT_NONCE: nonce,
        },
    )
    return name


def _sweep_unable_to_read_values(harness: Harness) -> Alert:
    """Run a scheduled sweep over a store that refuses every GetSecretValue, as AWS does for the
    sweep's role; its one alert, after checking that no token value was asked for."""
    denied = client_error("AccessDeniedException", "GetSecretValue")
    harness.store.fail_on["get_value"] = [denied] * 10
    sweep = SweepEngine(harness.store, _linking(harness), harness.starter(rotation_lambda_arn=None))
    sweep.run(SweepRequest(scheduled=True))
    assert not [call for call in harness.store.calls if call[0] == "get_value"]
    [alert] = harness.notifier.alerts
    return alert


def _verified(harness: Harness, url: str | None) -> Link:
    assert url
    return Link.verify(
        url.split("=", 1)[1], SIGNING.key, now=harness.clock(), instance=TEST_INSTANCE
    )


def test_the_sweeps_deadline_warning_keeps_its_link_without_reading_a_token_value(
    harness: Harness,
) -> None:
    # Given a connection whose unused link nonce the sweep's alert must reuse
    _deadline_connection(harness, "conn/google-unread", "n-unused")
    # When the sweep, which may not read token values, sends the deadline warning
    alert = _sweep_unable_to_read_values(harness)
    # Then the warning carries the link of the unused nonce
    assert _verified(harness, alert.reconnect_url).nonce == "n-unused"


def _tiktok_deadline(harness: Harness, name: str, kind: str) -> str:
    """A TikTok connection of ``kind`` (its kind tag) 6 days from its human deadline."""
    harness.add_secret(name)
    deadline = int((harness.clock.now + timedelta(days=6)).timestamp())
    harness.store.set_tags(
        name,
        {
            "token-refresher:provider": "tiktok",
            "token-refresher:kind": kind,
            "token-refresher:human-deadline": str(deadline),
        },
    )
    return name


def test_the_sweeps_tiktok_warning_carries_a_link_without_reading_a_token_value(
    harness: Harness,
) -> None:
    # Given a TikTok advertiser connection near its deadline
    _tiktok_deadline(harness, "conn/tiktok-adv", "advertiser")
    # When the sweep, which may not read token values, sends the deadline warning
    alert = _sweep_unable_to_read_values(harness)
    # Then the warning carries a link for TikTok, decided from the kind tag alone
    assert _verified(harness, alert.reconnect_url).provider == "tiktok"


def test_the_sweeps_tiktok_account_warning_has_no_link_and_reads_no_value(
    harness: Harness,
) -> None:
    # Given a TikTok account-token connection (no consent flow) near its refresh token's end
    _tiktok_deadline(harness, "conn/tiktok-acct", "tiktok_account")
    # When the sweep, which may not read token values, sends the deadline warning
    alert = _sweep_unable_to_read_values(harness)
    # Then the warning goes out without a link (no flow can renew it), decided from the tag
    assert alert.event.value == "token.expiring"
    assert alert.reconnect_url is None


def test_a_nonce_whose_grant_version_exists_is_not_reused(harness: Harness) -> None:
    # Given a connection whose link wrote its grant version (unlabelled: a rotation took
    # AWSPENDING) but could not finish: that link is spent
    name = _deadline_connection(harness, "conn/google-spent", "n-spent")
    harness.store.put_pending(name, pending_version("n-spent"), '{"grant": "written"}')
    harness.store.unstage_version(name, pending_version("n-spent"), "AWSPENDING")
    # When an alert's link is made
    url = LinkMinter(harness.store, lambda: SIGNING, clock=harness.clock).mint(
        harness.store.arn_of(name), "google_ads", reuse_nonce=True
    )
    # Then it carries a new nonce, tagged on the connection
    link = Link.verify(
        url.split("=", 1)[1], SIGNING.key, now=harness.clock(), instance=TEST_INSTANCE
    )
    assert link.nonce != "n-spent"
    assert harness.store.tags_of(name)[TAG_CONNECT_NONCE] == link.nonce


# The IAM action behind each SecretStore call (adapters/secrets.py).
IAM_ACTION = {
    "describe": "secretsmanager:DescribeSecret",
    "get_value": "secretsmanager:GetSecretValue",
    "tag": "secretsmanager:TagResource",
    "list_versions": "secretsmanager:ListSecretVersionIds",
}


@pytest.mark.parametrize("function", ["SweepFunction", "RotationFunction", "ConnectFunction"])
def test_every_function_that_alerts_may_make_an_alert_links_calls(
    harness: Harness, function: str
) -> None:
    # Given the calls an alert's link makes on a connection holding an unused nonce
    name = _deadline_connection(harness, "conn/google-iam", "n-iam")
    LinkMinter(harness.store, lambda: SIGNING, clock=harness.clock).mint(
        harness.store.arn_of(name), "google_ads", reuse_nonce=True
    )
    needed = {IAM_ACTION[op] for op, _ in harness.store.calls}
    # Then the function's deployed role allows each of them on its own managed secrets
    granted = statements(load_template(), function, {"ConnectOn": True})
    missing = {a for a in needed if not any(allows_on_own_managed_secret(s, a) for s in granted)}
    assert not missing, f"{function} may not {sorted(missing)} on its own connections"
