"""TikTok account tokens (kind tiktok_account) have no consent flow here: the consent link runs the
Marketing API advertiser authorization, which would turn the connection into an advertiser token
and lose its refresh grant. The link is refused everywhere, with a page that says why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.fake_providers import FakeProviders
from tests.unit.connect.browser import SIGNING, World
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.connect.exchange import CodeGrant, exchange_code
from token_refresher.connect.links import TAG_CONNECT_NONCE, Link, new_nonce
from token_refresher.connect.reconnect import LinkingNotifier
from token_refresher.errors import ConfigError
from token_refresher.model import AppCredentials
from token_refresher.timeutil import utcnow

pytestmark = pytest.mark.unit


def _account(world: World, **extra: object) -> str:
    return world.connection("tiktok", kind="tiktok_account", **extra)


def test_no_link_is_made_for_a_tiktok_account_connection(world: World) -> None:
    name = _account(world)
    with pytest.raises(ConfigError, match="tiktok_account"):
        world.link(name, "tiktok")
    assert TAG_CONNECT_NONCE not in world.store.tags_of(name)


def test_a_legacy_account_document_counts_as_one(world: World) -> None:
    # Given a document from before kinds: a refresh token means a TikTok account token
    name = world.connection("tiktok", refresh_token="legacy-refresh-token-0001")  # no kind
    with pytest.raises(ConfigError, match="TikTok account tokens"):
        world.link(name, "tiktok")


def test_its_alerts_carry_no_reconnect_link(world: World) -> None:
    name = _account(world)
    linking = LinkingNotifier(world.notifier, world.minter)
    linking.publish(Alert(AlertEvent.REAUTH_REQUIRED, name, "tiktok", "revoked", utcnow()))
    [sent] = world.notifier.alerts
    assert sent.reconnect_url is None
    assert "open this link" not in (sent.remediation or "")


def test_an_older_link_gets_a_page_that_says_why_and_changes_nothing(
    world: World, fake_providers: FakeProviders
) -> None:
    # Given a link made before the connection held an account token
    name = _account(world)
    nonce = new_nonce()
    world.store.tag(name, {TAG_CONNECT_NONCE: nonce})
    link = Link(name, "tiktok", nonce, utcnow() + timedelta(days=1), SIGNING.instance)
    before = world.store.current_value(name)
    # When it is opened
    visit = world.open(link.url(SIGNING.base_url, SIGNING.key))
    # Then the page names the reason and where to read more, and nothing is written or called
    assert visit.page.status == 400
    assert "tiktok_account" in visit.text
    assert "docs/providers/tiktok.md" in visit.text
    assert world.store.current_value(name) == before
    assert fake_providers.requests("tiktok") == []


def test_the_exchange_refuses_an_account_token(world: World) -> None:
    doc = world.store.current_doc(_account(world))
    app = AppCredentials("tiktok-app-1", "tiktok-app-secret-0001")
    with pytest.raises(ConfigError, match="tiktok_account"):
        exchange_code(doc, app, world.ctx, CodeGrant("code", "https://x/cb", None))
