"""A cap on failed callbacks per link: a valid link no longer allows unlimited
code-exchange attempts, and a locked link is refused from the tags before anything else."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.fakes import client_error
from tests.support.template import load_template
from tests.unit.connect.browser import BASE_URL, World
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.connect.attempts import MAX_FAILED_CALLBACKS, TAG_CONNECT_FAILURES
from token_refresher.connect.reconnect import LinkingNotifier
from token_refresher.timeutil import utcnow

pytestmark = pytest.mark.unit


def _forged_callback(world: World, name: str) -> tuple[str, str]:
    """A callback URL with the right state and cookie but a code the platform never issued."""
    landing = world.open(world.link(name, "google_ads"))
    assert landing.page.status == 200
    state = dict(parse_qsl(urlsplit(world.consent_href(landing)).query))["state"]
    return f"{BASE_URL}callback/google_ads?code=guessed-code&state={state}", landing.cookie


def _token_posts(world: World) -> int:
    return len([r for r in world.fake.requests("google") if r.method == "POST"])


def test_a_link_is_locked_after_the_cap_of_failed_callbacks(world: World) -> None:
    # Given a valid link whose holder sends made-up codes to the callback
    name = world.connection("google_ads")
    url, cookie = _forged_callback(world, name)
    # When they try MAX_FAILED_CALLBACKS times, each is exchanged at the platform and refused
    for _ in range(MAX_FAILED_CALLBACKS):
        assert world.open(url, cookie=cookie).page.status >= 400
    posts = _token_posts(world)
    assert posts == MAX_FAILED_CALLBACKS
    # Then the next attempt is refused as locked from one DescribeSecret: no value read, no
    # request to the platform (so no client secret sent), nothing written
    world.store.calls.clear()
    locked = world.open(url, cookie=cookie)
    assert locked.page.status == 429
    assert "locked" in locked.text
    assert [op for op, _ in world.store.calls] == ["describe"]
    assert _token_posts(world) == posts


def test_an_alert_after_a_locked_link_carries_a_new_link_that_works(world: World) -> None:
    # Given a link locked by failed callbacks
    name = world.connection("google_ads")
    url, cookie = _forged_callback(world, name)
    for _ in range(MAX_FAILED_CALLBACKS):
        world.open(url, cookie=cookie)
    nonce = world.nonce(name)
    assert world.store.tags_of(name)[TAG_CONNECT_FAILURES] == f"{MAX_FAILED_CALLBACKS}@{nonce}"
    # When an alert needs a link for the connection
    LinkingNotifier(world.notifier, world.minter).publish(
        Alert(AlertEvent.REAUTH_REQUIRED, name, "google_ads", "gone", utcnow())
    )
    fresh = world.notifier.alerts[-1].reconnect_url
    # Then it carries a new nonce (the locked one is not reused), and that link completes
    assert fresh
    assert world.nonce(name) != nonce
    assert world.connect(fresh).page.status == 200


def test_a_locked_link_opens_no_landing_page(world: World) -> None:
    name = world.connection("google_ads")
    link = world.link(name, "google_ads")
    world.store.set_tags(
        name, {TAG_CONNECT_FAILURES: f"{MAX_FAILED_CALLBACKS}@{world.nonce(name)}"}
    )
    world.store.calls.clear()
    visit = world.open(link)
    assert visit.page.status == 429
    assert [op for op, _ in world.store.calls] == ["describe"]


def test_failures_below_the_cap_leave_the_link_working(world: World) -> None:
    # Given a link with one failed callback fewer than the cap
    name = world.connection("google_ads")
    link = world.link(name, "google_ads")
    world.store.set_tags(
        name, {TAG_CONNECT_FAILURES: f"{MAX_FAILED_CALLBACKS - 1}@{world.nonce(name)}"}
    )
    # Then a consent through it still completes
    assert world.connect(link).page.status == 200


def test_another_links_count_does_not_lock_a_new_link(world: World) -> None:
    name = world.connection("google_ads")
    world.store.set_tags(name, {TAG_CONNECT_FAILURES: f"{MAX_FAILED_CALLBACKS}@older-nonce"})
    assert world.connect(world.link(name, "google_ads")).page.status == 200


def test_a_failed_count_that_cannot_be_written_does_not_change_the_page(world: World) -> None:
    name = world.connection("google_ads")
    url, cookie = _forged_callback(world, name)
    world.store.fail_on["tag"] = [client_error("ThrottlingException", "TagResource")]
    visit = world.open(url, cookie=cookie)
    assert visit.page.status == 400
    assert TAG_CONNECT_FAILURES not in world.store.tags_of(name)


def test_the_public_url_is_bounded_on_every_account() -> None:
    # Given the template read as data
    template = load_template()
    param = template["Parameters"]["ConnectReservedConcurrency"]
    alarm = template["Resources"]["ConnectTrafficAlarm"]
    props = alarm["Properties"]
    # Then no reservation by default (it would fail the deploy on an account limited to 10
    # concurrent executions), and on every account an alarm on the URL's traffic notifies the
    # alert topic, with the stack's endpoint only
    assert param["Default"] == 0
    assert "limit is 10" in param["Description"]
    assert alarm["Condition"] == "ConnectOn"
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", "Invocations")
    assert props["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ConnectFunction"}}]
    assert props["AlarmActions"] == [{"Fn::GetAtt": ["AlarmRelayFunction", "Arn"]}]
    # a sign-in is 2 or 3 requests: the threshold is far above people and far below a flood
    assert 100 <= props["Threshold"] / (props["Period"] / 300) <= 1000
