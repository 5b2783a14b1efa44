"""The connect flow applies the credential binding before it sends anyone anywhere:
no consent link to a foreign authorize URL, no request to any host."""

from __future__ import annotations

import pytest

from tests.support.fake_providers import FakeProviders
from tests.unit.connect.browser import World

pytestmark = pytest.mark.unit


def test_a_foreign_authorize_url_gets_no_consent_link(
    world: World, foreign_server: FakeProviders
) -> None:
    # Given an oauth2 connection whose authorize_url points at another host than its app allows
    options = world.options("oauth2") | {
        "authorize_url": foreign_server.url("oauth2") + "/authorize"
    }
    name = world.connection("oauth2", options=options)
    # When the owner opens its link
    visit = world.open(world.link(name, "oauth2"))
    # Then a config error page shows, with no consent button, and nobody was contacted
    assert visit.page.status == 400
    assert 'class="btn"' not in visit.page.html
    assert foreign_server.url("oauth2") not in visit.page.html
    assert foreign_server.requests() == []
    assert world.fake.requests() == []
    assert world.store.current_doc(name).access_token == "old-access-token-0000"


def test_another_platforms_app_credentials_get_no_consent_link(world: World) -> None:
    # Given a Google Ads connection naming the Meta app's credentials (declared as Meta's)
    meta_app = world.app_secret("meta")
    name = world.connection("google_ads", app_secret_id=meta_app)
    # When the owner opens its link, then it is refused before any platform is involved
    visit = world.open(world.link(name, "google_ads"))
    assert visit.page.status == 400
    assert 'class="btn"' not in visit.page.html
    assert world.fake.requests() == []
