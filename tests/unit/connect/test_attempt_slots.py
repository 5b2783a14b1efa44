"""The failed-callback cap holds under concurrency, and landing views are bounded too: each
callback (before the platform is called) and each landing view claims a numbered slot of its link
with Secrets Manager's conditional write (a version id is created at most once), so the tag's
read-modify-write count can lag without letting more attempts through."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.fakes import InMemorySecretStore, client_error
from tests.unit.connect.browser import World
from tests.unit.connect.test_failed_callbacks import _forged_callback, _token_posts
from token_refresher.connect.attempts import (
    CALLBACK,
    MAX_FAILED_CALLBACKS,
    MAX_LANDING_VIEWS,
    claim_slot,
)
from token_refresher.connect.links import LinkError, LinkProblem

pytestmark = pytest.mark.unit


def test_parallel_claims_take_each_slot_exactly_once():
    # Given one link of one connection, and 4 times as many callbacks in flight as the cap
    store = InMemorySecretStore()
    store.create("c/google", "{}")
    arn = store.describe("c/google").arn

    def claim(_: int) -> int | None:
        try:
            return claim_slot(store, arn, "nonce-1", CALLBACK)
        except LinkError as err:
            assert err.problem is LinkProblem.LOCKED
            return None

    # When they all claim a slot at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(claim, range(4 * MAX_FAILED_CALLBACKS)))
    # Then exactly the cap's slots were handed out, each once; every other one is locked
    numbers = [n for n in got if n is not None]
    assert sorted(numbers) == list(range(1, MAX_FAILED_CALLBACKS + 1))
    assert got.count(None) == 3 * MAX_FAILED_CALLBACKS


def test_callbacks_whose_count_never_lands_still_stop_at_the_cap(world: World) -> None:
    # Given a link whose failure count cannot be written (what parallel callbacks that each read
    # the same count amount to: the tag lags behind the attempts)
    name = world.connection("google_ads")
    url, cookie = _forged_callback(world, name)
    world.store.fail_on["tag"] = [
        client_error("ThrottlingException", "TagResource") for _ in range(10)
    ]
    # When made-up codes are sent one more time than the cap
    statuses = [world.open(url, cookie=cookie).page.status for _ in range(MAX_FAILED_CALLBACKS + 1)]
    # Then the platform saw exactly the cap's exchanges, and the last one was refused as locked
    assert _token_posts(world) == MAX_FAILED_CALLBACKS
    assert statuses[-1] == 429


def test_landing_views_are_bounded(world: World) -> None:
    # Given a valid link
    name = world.connection("google_ads")
    link = world.link(name, "google_ads")
    # When it is opened as often as the cap allows, then once more
    views = [world.open(link).page.status for _ in range(MAX_LANDING_VIEWS + 1)]
    # Then every view up to the cap showed the page, and the next is refused as locked
    assert views[:MAX_LANDING_VIEWS] == [200] * MAX_LANDING_VIEWS
    assert views[-1] == 429
