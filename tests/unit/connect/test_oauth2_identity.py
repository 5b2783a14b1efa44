"""An oauth2 consent always names its account: from options.issuer's id_token or from
options.userinfo_url; a connection with neither is refused before anyone consents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fake_providers import FakeProviders
from tests.unit.connect.browser import World
from token_refresher.connect import exchange

pytestmark = pytest.mark.unit


def _options(world: World, **changes: Any) -> dict[str, Any]:
    options = world.options("oauth2") | changes
    return {k: v for k, v in options.items() if v is not None}


def test_an_oauth2_link_without_issuer_or_userinfo_is_refused_at_the_landing_page(
    world: World, fake_providers: FakeProviders
) -> None:
    # Given an oauth2 connection naming neither an issuer nor a userinfo URL
    name = world.connection("oauth2", options=_options(world, issuer=None))
    # When its link is opened
    visit = world.open(world.link(name, "oauth2"))
    # Then the configuration error page shows, no consent button, no call to the server
    assert visit.page.status == 400, visit.text
    assert "not set up correctly" in visit.text
    assert 'class="btn"' not in visit.page.html
    assert fake_providers.requests("oauth2") == []


def test_an_oauth2_server_that_sends_no_id_token_is_refused_when_an_issuer_is_set(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an oauth2 connection with an issuer, and a server answering without an id_token
    name = world.connection("oauth2")
    before = world.store.current_value(name)
    real = exchange._post_code

    def no_id_token(*args: Any, **kwargs: Any) -> Any:
        token, body = real(*args, **kwargs)
        return token, {k: v for k, v in body.items() if k != "id_token"}

    monkeypatch.setattr(exchange, "_post_code", no_id_token)
    # When the owner consents
    done = world.connect(world.link(name, "oauth2"))
    # Then nothing is stored: the account could not be named
    assert done.page.status != 200, done.text
    assert world.store.current_value(name) == before


def test_an_oauth2_userinfo_url_names_and_pins_the_account(
    world: World, fake_providers: FakeProviders
) -> None:
    # Given an oauth2 connection with a userinfo URL and no issuer
    userinfo = world.fake.url("oauth2") + "/userinfo"
    name = world.connection("oauth2", options=_options(world, issuer=None, userinfo_url=userinfo))
    fake_providers.consent.set_account("oauth2", "user-a", "User A")
    # When the owner consents
    done = world.connect(world.link(name, "oauth2"))
    # Then the grant is stored, pinned to the userinfo sub
    assert done.page.status == 200, done.text
    assert world.store.current_doc(name).extras["consent"]["account_id"] == "user-a"
    # And a later consent by another account through a new link is refused
    fake_providers.consent.set_account("oauth2", "user-b", "User B")
    again = world.connect(world.link(name, "oauth2"))
    assert again.page.status == 409, again.text
    assert world.notifier.events()[-1] == "token.connect_refused"


def test_an_id_token_whose_sub_differs_from_userinfo_is_refused(
    world: World, fake_providers: FakeProviders
) -> None:
    # Given an oauth2 connection with both an issuer and a userinfo URL, and an id_token whose
    # sub is not the userinfo sub (OpenID Connect Core §5.3.2)
    userinfo = world.fake.url("oauth2") + "/userinfo"
    name = world.connection("oauth2", options=_options(world, userinfo_url=userinfo))
    before = world.store.current_value(name)
    fake_providers.consent.override_id_token("oauth2", sub="someone-else")
    # When the owner consents
    done = world.connect(world.link(name, "oauth2"))
    # Then nothing is stored
    assert done.page.status == 400, done.text
    assert world.store.current_value(name) == before
