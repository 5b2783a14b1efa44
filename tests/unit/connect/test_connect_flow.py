"""The whole flow in-process: landing page, the fake platform's consent page, the callback."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.fake_providers import FakeProviders
from tests.unit.connect.browser import World, signed_link
from token_refresher.adapters.errors import AwsError
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.connect.links import NONCE_USED
from token_refresher.connect.pages import CSP, STYLE, STYLE_HASH
from token_refresher.connect.reconnect import LinkingNotifier
from token_refresher.errors import ConfigError
from token_refresher.timeutil import format_iso, utcnow

pytestmark = pytest.mark.unit

PLATFORMS = ["meta", "google_ads", "microsoft_ads", "linkedin", "tiktok", "amazon_ads", "oauth2"]


@pytest.mark.parametrize("provider", PLATFORMS)
def test_reconnect_stores_the_new_grant_and_recovers(world: World, provider: str) -> None:
    # Given a connection that needs re-authorization and a link for it
    name = world.connection(provider)
    url = world.link(name, provider)
    # When the owner opens it, allows at the platform and comes back
    done = world.connect(url)
    # Then the success page shows, the secret holds the new grant, state is reset
    assert done.page.status == 200, done.text
    assert "Connected" in done.text
    doc = world.store.current_doc(name)
    assert doc.access_token
    assert doc.access_token != "old-access-token-0000"
    assert world.fake.is_valid(doc.access_token)
    if provider in ("google_ads", "microsoft_ads", "linkedin", "amazon_ads", "oauth2"):
        assert doc.refresh_token
        assert world.fake.is_valid(doc.refresh_token, "refresh")
    assert doc.extras["owner_team"] == "growth"  # unknown fields survive
    assert doc.options == world.options(provider) | doc.options  # options kept
    tags = world.store.tags_of(name)
    assert tags["token-refresher:status"] == "ok"
    assert tags["token-refresher:connect-nonce"] == NONCE_USED
    assert world.notifier.events() == ["token.recovered"]
    assert doc.extras["consent"]["account_id"]  # the consenting account is recorded


def test_the_landing_page_names_the_connection_and_is_locked_down(world: World) -> None:
    name = world.connection("google_ads", account="100000000000000000001")
    visit = world.open(world.link(name, "google_ads"))
    headers = visit.page.response()["headers"]
    assert isinstance(headers, dict)
    for fact in ("conn/google_ads", "Google Ads", "auth/adwords", "previous owner"):
        assert fact in visit.text
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Security-Policy"] == CSP
    assert "script" not in visit.page.html.lower()
    assert f"'sha256-{STYLE_HASH}'" in CSP
    assert f"<style>{STYLE}</style>" in visit.page.html
    assert "HttpOnly" in headers["Set-Cookie"]
    assert "SameSite=Lax" in headers["Set-Cookie"]
    assert "google_ads-secret-0001" not in visit.page.html  # the client secret never shows


def _unchanged(world: World, name: str, before: str) -> None:
    assert world.store.current_value(name) == before
    assert world.store.writes() == []


def test_a_used_link_is_refused(world: World) -> None:
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    assert world.connect(url).page.status == 200
    before = world.store.current_value(name)
    world.store.calls.clear()
    again = world.open(url)
    assert again.page.status == 410
    assert "already used" in again.text
    _unchanged(world, name, before)


def test_a_newer_link_replaces_the_older(world: World) -> None:
    name = world.connection("google_ads")
    old = world.link(name, "google_ads")
    world.link(name, "google_ads")
    assert world.open(old).page.status == 410


def test_an_expired_link_is_refused(world: World) -> None:
    from datetime import timedelta

    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    before = world.store.current_value(name)
    world.clock.offset = timedelta(days=8)
    visit = world.open(url)
    assert visit.page.status == 410
    assert "expired" in visit.text
    _unchanged(world, name, before)


def test_a_tampered_state_writes_nothing(world: World) -> None:
    name = world.connection("google_ads")
    landing = world.open(world.link(name, "google_ads"))
    back = world.decide(world.consent_href(landing))
    before = world.store.current_value(name)
    world.store.calls.clear()
    forged = back.replace("state=", "state=x")
    visit = world.open(forged, cookie=landing.cookie)
    assert visit.page.status == 400
    assert "not valid" in visit.text
    _unchanged(world, name, before)


def test_a_callback_in_another_browser_writes_nothing(world: World) -> None:
    name = world.connection("google_ads")
    landing = world.open(world.link(name, "google_ads"))
    back = world.decide(world.consent_href(landing))
    before = world.store.current_value(name)
    world.store.calls.clear()
    assert world.open(back, cookie="").page.status == 400
    _unchanged(world, name, before)


@pytest.mark.parametrize("provider", ["google_ads", "linkedin"])  # with and without PKCE
@pytest.mark.parametrize("value", ["{link}", "AAAAAAAAAAAAAAAAAAAAAA.{link}", "{secret}.{link}"])
def test_the_link_and_the_callback_url_do_not_finish_a_consent_in_another_browser(
    world: World, provider: str, value: str
) -> None:
    # Given a link opened in the owner's browser and consented, and someone else who holds the
    # same link and sees the callback URL (its state names the attempt's cookie)
    name = world.connection(provider)
    url = world.link(name, provider)
    landing = world.open(url)
    back = world.decide(world.consent_href(landing))
    flow_id = dict(parse_qsl(urlsplit(back).query))["state"].split(".")[0]
    other = world.open(url)  # the other browser's own attempt: its own cookie secret
    other_secret = other.cookie.split("=", 1)[1].split(".")[0]
    forged = value.format(link=signed_link(url), secret=other_secret)
    before = world.store.current_value(name)
    # When the other browser sends the callback with a cookie built from what it holds
    visit = world.open(back, cookie=f"tr_connect_{flow_id}={forged}")
    # Then nothing is written, the link still works for its owner
    assert visit.page.status == 400, visit.text
    assert world.store.current_value(name) == before
    assert world.open(back, cookie=landing.cookie).page.status == 200


def test_deny_writes_nothing_and_the_link_still_works(world: World) -> None:
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    before = world.store.current_value(name)
    denied = world.connect(url, allow=False)
    assert denied.page.status == 403
    assert "not granted" in denied.text
    assert world.store.current_value(name) == before
    assert world.connect(url).page.status == 200  # nothing was consumed


@pytest.mark.parametrize(
    ("provider", "previous", "other"),
    [
        ("google_ads", "100000000000000000001", "999"),
        ("meta", "10000000000001", "20000000000002"),
        (
            "microsoft_ads",
            "72f988bf-0000-4000-8000-000000000001/00000000-0000-4000-8000-0000000000a1",
            "t2/o2",
        ),
        ("linkedin", "linkedin-sub-1", "linkedin-sub-2"),
        ("amazon_ads", "amzn1.account.FAKE", "amzn1.account.OTHER"),
        ("tiktok", "7000000000000000001", "7000000000000000009"),
    ],
)
def test_another_account_is_refused_and_alerted(
    world: World, fake_providers: FakeProviders, provider: str, previous: str, other: str
) -> None:
    name = world.connection(provider, account=previous)
    fake_providers.consent.set_account(provider, other, "Someone Else")
    before = world.store.current_value(name)
    visit = world.connect(world.link(name, provider))
    assert visit.page.status == 409
    assert "different account" in visit.text
    assert world.store.current_value(name) == before
    assert world.notifier.events() == ["token.connect_refused"]


class _FailingNotifier:
    def publish(self, alert: Alert) -> None:
        raise AwsError("topic unreachable", code="KMSAccessDeniedException")


def test_a_refusal_whose_alert_cannot_be_published_still_shows_the_refusal(
    world: World, fake_providers: FakeProviders
) -> None:
    # Given a pinned connection, another account at the platform, and an SNS topic that fails
    name = world.connection("google_ads", account="100000000000000000001")
    fake_providers.consent.set_account("google_ads", "999", "Someone Else")
    world.service.notifier = _FailingNotifier()
    before = world.store.current_value(name)
    # When the link is completed
    visit = world.connect(world.link(name, "google_ads"))
    # Then the person still reads "different account" (not a generic error) and nothing is stored
    assert visit.page.status == 409, visit.text
    assert "different account" in visit.text
    assert world.store.current_value(name) == before


def test_allow_new_account_accepts_another_account(
    world: World, fake_providers: FakeProviders
) -> None:
    name = world.connection("google_ads", account="100000000000000000001")
    fake_providers.consent.set_account("google_ads", "555", "new@example.com")
    done = world.connect(world.link(name, "google_ads", allow_new_account=True))
    assert done.page.status == 200
    assert world.store.current_doc(name).extras["consent"]["account_id"] == "555"


def test_the_same_account_is_accepted(world: World) -> None:
    name = world.connection("google_ads", account="100000000000000000001")
    assert world.connect(world.link(name, "google_ads")).page.status == 200


def test_a_provider_error_at_exchange_writes_nothing(
    world: World, fake_providers: FakeProviders
) -> None:
    from tests.support.fake_providers import Response

    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    before = world.store.current_value(name)
    fake_providers.script(
        "google_ads",
        "token",
        [Response(400, {"error": "invalid_grant", "error_description": "Bad Request"})],
    )
    visit = world.connect(url)
    assert visit.page.status == 400
    assert "refused the sign-in" in visit.text
    assert world.store.current_value(name) == before
    assert world.notifier.events() == []


def test_a_new_connection_is_created_on_consent(world: World) -> None:
    name = world.new_connection("google_ads")
    done = world.connect(world.link(name, "google_ads"))
    assert done.page.status == 200, done.text
    tags = world.store.tags_of(name)
    assert tags["token-refresher:managed"] == "true"
    assert tags["token-refresher:awaiting-consent"] == "false"
    assert tags["token-refresher:status"] == "ok"
    assert world.store.current_doc(name).refresh_token


def test_a_new_tiktok_connection_gets_a_link_and_is_created_on_consent(world: World) -> None:
    # Given a TikTok connection awaiting its first consent (no token in it yet)
    name = world.new_connection("tiktok")
    # When a link is made for it and the advertiser consents
    done = world.connect(world.link(name, "tiktok"))
    # Then the advertiser token is stored as a managed connection
    assert done.page.status == 200, done.text
    assert world.store.tags_of(name)["token-refresher:status"] == "ok"
    doc = world.store.current_doc(name)
    assert (doc.kind, doc.refresh_token) == ("advertiser", None)
    assert doc.access_token


def test_an_unmanaged_secret_cannot_be_linked_to(world: World) -> None:
    world.store.create(
        "someone/else", json.dumps({"schema": 1, "provider": "google_ads", "access_token": "x"})
    )
    url = world.link("someone/else", "google_ads")
    assert world.open(url).page.status == 404


def test_meta_system_user_has_no_consent_flow(world: World) -> None:
    with pytest.raises(ConfigError, match="has no consent flow"):
        world.link("conn/x", "meta_system_user")


def test_pkce_verifier_reaches_the_token_endpoint(
    world: World, fake_providers: FakeProviders
) -> None:
    name = world.connection("google_ads")
    world.connect(world.link(name, "google_ads"))
    exchange = [
        r
        for r in fake_providers.requests("google_ads")
        if r.params.get("grant_type") == "authorization_code"
    ]
    assert len(exchange) == 1
    assert len(exchange[0].params["code_verifier"]) == 43
    assert (
        exchange[0].params["redirect_uri"]
        == "https://abcdefghij.lambda-url.us-east-1.on.aws/callback/google_ads"
    )


def test_alerts_that_need_a_human_carry_a_reconnect_link(world: World) -> None:
    name = world.connection("google_ads")
    linking = LinkingNotifier(world.notifier, world.minter)
    reauth = Alert(
        AlertEvent.REAUTH_REQUIRED, name, "google_ads", "revoked", utcnow(), remediation="Sign in."
    )
    version = Alert(AlertEvent.EXPIRING, name, "google_ads", "v", utcnow(), consent_resolves=False)
    linking.publish(reauth)
    linking.publish(version)
    sent = world.notifier.alerts
    assert sent[0].reconnect_url
    assert sent[0].reconnect_url in (sent[0].remediation or "")
    assert json.loads(json.dumps(sent[0].to_dict()))["reconnect_url"] == sent[0].reconnect_url
    assert sent[1].reconnect_url is None
    assert world.connect(sent[0].reconnect_url).page.status == 200
    assert signed_link(sent[0].reconnect_url) not in json.dumps(
        world.store.current_doc(name).to_dict()
    )


@pytest.mark.parametrize("existing", [True, False])
def test_a_linkedin_consent_without_refresh_token_says_when_to_consent_again(
    world: World, fake_providers: FakeProviders, existing: bool
) -> None:
    # Given a LinkedIn app not approved for programmatic refresh (no refresh token in the answer),
    # for an existing connection and a new one
    fake_providers.configure("linkedin", programmatic_refresh=False)
    name = world.connection("linkedin") if existing else world.new_connection("linkedin")
    # When the member consents
    done = world.connect(world.link(name, "linkedin"))
    # Then the page says a new consent is needed before the access token expires, and when
    assert done.page.status == 200, done.text
    doc = world.store.current_doc(name)
    assert doc.refresh_token is None
    assert doc.expires_at is not None
    deadline = format_iso(doc.expires_at)
    assert "no refresh token" in done.text
    assert deadline in done.text
    # And the human deadline is the access token's expiry (the 30/7/1-day warnings follow it)
    assert world.store.tags_of(name)["token-refresher:human-deadline"] == str(
        int(doc.expires_at.timestamp())
    )
    # And one alert says the same, with a link for the next consent
    [expiring] = [a for a in world.notifier.alerts if a.event.value == "token.expiring"]
    assert expiring.expires_at == doc.expires_at
    assert "no refresh token" in expiring.message


def test_a_google_testing_app_consent_starts_a_new_7_day_deadline(world: World) -> None:
    # Given a Google connection of an app in Testing status, its old grant's deadline passed
    name = world.connection(
        "google_ads",
        options={"testing_app": True},
        refresh_token_expires_at="2020-01-01T00:00:00Z",
    )
    # When the owner consents again through a link
    done = world.connect(world.link(name, "google_ads"))
    # Then the new grant's 7-day end is the human deadline (warned at 7 and 1 days)
    assert done.page.status == 200, done.text
    doc = world.store.current_doc(name)
    now = world.clock()
    assert doc.refresh_token_expires_at is not None
    assert abs((doc.refresh_token_expires_at - now).total_seconds() - 7 * 86400) < 60
    deadline = int(world.store.tags_of(name)["token-refresher:human-deadline"])
    assert deadline == int(doc.refresh_token_expires_at.timestamp())
