"""The connect module's edges: the key secret, the Function URL event, links failing to be made,
platform answers that cannot be used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fake_providers import FakeProviders, Response
from tests.support.fakes import TEST_INSTANCE, InMemorySecretStore, RecordingNotifier
from tests.unit.connect.browser import BASE_URL, SIGNING, World
from token_refresher.adapters.errors import AwsError
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.connect.links import Link, LinkError, LinkProblem
from token_refresher.connect.minter import KeySource, LinkMinter, SigningKey
from token_refresher.connect.reconnect import LinkingNotifier
from token_refresher.connect.service import HttpRequest
from token_refresher.connect.store import load_connection
from token_refresher.errors import ConfigError
from token_refresher.timeutil import utcnow

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[3] / "events"


def test_the_key_secret_is_read_once_and_never_printed() -> None:
    store = InMemorySecretStore()
    store.create(
        "stack/connect-key",
        {"key": "k" * 64, "url": "https://x.lambda-url.us-east-1.on.aws", "instance": "i"},
    )
    source = KeySource(store, "stack/connect-key")
    first, second = source.current, source.current
    assert first is second
    assert first.base_url == "https://x.lambda-url.us-east-1.on.aws/"  # the trailing slash kept
    assert "k" * 64 not in repr(first)
    assert [c for c in store.calls if c[0] == "get_value"] == [("get_value", "stack/connect-key")]


@pytest.mark.parametrize(
    "text",
    [
        None,
        "not json",
        "[]",
        '{"key": "short", "url": "https://x/"}',
        '{"key": "' + "k" * 40 + '"}',
        '{"key": "' + "k" * 40 + '", "url": "https://x/"}',  # no instance: fail closed
        '{"key": "' + "k" * 40 + '", "url": "https://x/", "instance": ""}',
        '{"key": "' + "k" * 40 + '", "url": "https://x/", "instance": 7}',
    ],
)
def test_a_bad_key_secret_is_a_config_error_without_its_value(text: str | None) -> None:
    with pytest.raises(ConfigError) as err:
        SigningKey.from_json(text, "stack/connect-key")
    assert "stack/connect-key" in str(err.value)
    assert "short" not in str(err.value)


def test_function_url_event_is_read_with_cookies_and_scheme() -> None:
    event = {
        "rawPath": "/callback/google_ads",
        "queryStringParameters": {"code": "c", "state": "s"},
        "cookies": ["tr_connect=a~b", "other=1"],
        "headers": {"X-Forwarded-Proto": "http"},
        "requestContext": {"http": {"method": "get"}},
    }
    req = HttpRequest.from_function_url(event)
    assert (req.method, req.path, req.query["code"], req.secure) == (
        "GET",
        "/callback/google_ads",
        "c",
        False,
    )
    assert req.cookie == "tr_connect=a~b; other=1"
    bare = HttpRequest.from_function_url({"headers": {"cookie": "tr_connect=x~y"}})
    assert (bare.path, bare.cookie, bare.secure) == ("/", "tr_connect=x~y", True)


def test_the_shipped_function_url_event_is_read_as_a_callback() -> None:
    # Given the Function URL (payload 2.0) sample event shipped in events/
    event = json.loads((EVENTS / "connect-function-url-callback.json").read_text())
    # When the connect endpoint reads it
    req = HttpRequest.from_function_url(event)
    # Then it is a GET of a platform's callback with its code, state and flow cookie, over HTTPS
    assert (req.method, req.path, req.secure) == ("GET", "/callback/google_ads", True)
    assert req.query == {"code": "placeholder-code", "state": "placeholder-state"}
    assert req.cookie == "tr_connect_placeholder-flow=placeholder-cookie-value"


def test_an_alert_goes_out_without_a_link_when_none_can_be_made() -> None:
    store = InMemorySecretStore()
    store.fail_on["tag"] = [AwsError("denied", code="AccessDeniedException")]
    sent = RecordingNotifier()
    minter = LinkMinter(store, lambda: SigningKey(b"k" * 32, "https://x/", "i"))
    alert = Alert(AlertEvent.REAUTH_REQUIRED, "conn/a", "google_ads", "gone", utcnow())
    LinkingNotifier(sent, minter).publish(alert)
    assert sent.alerts == [alert]


def test_no_link_for_recovered_or_system_user_alerts(world: World) -> None:
    linking = LinkingNotifier(world.notifier, world.minter)
    linking.publish(Alert(AlertEvent.RECOVERED, "conn/a", "google_ads", "ok", utcnow()))
    linking.publish(Alert(AlertEvent.REAUTH_REQUIRED, "conn/a", "meta_system_user", "x", utcnow()))
    assert [a.reconnect_url for a in world.notifier.alerts] == [None, None]


def test_other_paths_and_methods_are_not_found(world: World) -> None:
    assert world.service.handle(HttpRequest("GET", "/admin")).status == 404
    assert world.service.handle(HttpRequest("POST", "/")).status == 404


def test_a_platform_error_other_than_deny_gets_its_page(world: World) -> None:
    name = world.connection("google_ads")
    landing = world.open(world.link(name, "google_ads"))
    back = world.decide(world.consent_href(landing)).replace("code=", "error=server_error&code=")
    visit = world.open(back, cookie=landing.cookie)
    assert visit.page.status == 502
    assert "server_error" in visit.text


def test_a_callback_without_a_code_is_refused(world: World) -> None:
    name = world.connection("google_ads")
    landing = world.open(world.link(name, "google_ads"))
    back = world.decide(world.consent_href(landing))
    stripped = "&".join(p for p in back.split("?", 1)[1].split("&") if not p.startswith("code="))
    visit = world.open(back.split("?")[0] + "?" + stripped, cookie=landing.cookie)
    assert visit.page.status == 400


@pytest.mark.parametrize(
    ("provider", "route", "answer"),
    [
        (
            "google_ads",
            "token",
            Response(200, {"access_token": "ya29.x", "expires_in": 3600}),
        ),  # no refresh token
        (
            "google_ads",
            "token",
            Response(
                200,
                {
                    "access_token": "ya29.x",
                    "expires_in": 3600,
                    "refresh_token": "r",
                    "id_token": "bad",
                },
            ),
        ),
        (
            "microsoft_ads",
            "token",
            Response(200, {"access_token": "a", "expires_in": 3600, "refresh_token": "r"}),
        ),
        (
            "tiktok",
            "*",
            Response(
                200, {"code": 0, "message": "OK", "request_id": "1", "data": {"access_token": "t"}}
            ),
        ),
        (
            "tiktok",
            "*",
            Response(
                200, {"code": 40114, "message": "auth_code expired", "request_id": "1", "data": {}}
            ),
        ),
        ("meta", "exchange", Response(200, {"token_type": "bearer"})),
    ],
)
def test_unusable_platform_answers_write_nothing(
    world: World, fake_providers: FakeProviders, provider: str, route: str, answer: Response
) -> None:
    name = world.connection(provider)
    url = world.link(name, provider)
    landing = world.open(url)
    back = world.decide(world.consent_href(landing))
    before = world.store.current_value(name)
    fake_providers.script(provider, route, [answer])
    visit = world.open(back, cookie=landing.cookie)
    assert visit.page.status in (400, 502)
    assert world.store.current_value(name) == before
    assert world.store.tags_of(name)["token-refresher:connect-nonce"] != "used"


def test_userinfo_refused_is_a_permission_page(world: World, fake_providers: FakeProviders) -> None:
    name = world.connection("linkedin")
    landing = world.open(world.link(name, "linkedin"))
    back = world.decide(world.consent_href(landing))
    fake_providers.script("linkedin", "v2/userinfo", [Response(403, {"message": "no"})])
    visit = world.open(back, cookie=landing.cookie)
    assert visit.page.status == 400
    assert "permission" in visit.text


def test_a_link_for_a_foreign_provider_tag_is_tampered(world: World) -> None:
    name = world.connection("google_ads")
    url = world.link(name, "linkedin")  # signed, but the secret is a Google connection
    assert world.open(url).page.status == 400


def test_awaiting_document_must_be_json(world: World) -> None:
    # Given an awaiting-consent connection whose document is not JSON
    world.store.create(
        "conn/bad",
        "not json",
        tags={
            "token-refresher:awaiting-consent": "true",
            "token-refresher:instance": TEST_INSTANCE,
        },
    )
    # When its link is opened
    visit = world.open(world.link("conn/bad", "google_ads"))
    # Then our "not set up correctly" page answers (not an exception, i.e. a bare 502)
    assert visit.page.status == 400
    assert "not set up correctly" in visit.text


def test_links_carry_the_key_secrets_instance_and_refuse_another_instances_secret(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment named "prod" (its key secret says so) and the instance tag
    from token_refresher import state

    monkeypatch.setattr(state, "TAG_INSTANCE", "token-refresher:instance", raising=False)
    signing = SigningKey.from_json(
        json.dumps({"key": "k" * 40, "url": "https://x/", "instance": "prod"}), "k"
    )
    world.service._keys = lambda: signing
    world.minter._keys = lambda: signing
    ours = world.connection("google_ads")
    world.store.tag(ours, {"token-refresher:instance": "prod"})
    theirs = "conn/theirs"
    world.store.create(
        theirs,
        world.store.current_value(ours),
        tags={
            "token-refresher:managed": "true",
            "token-refresher:provider": "google_ads",
            "token-refresher:instance": "staging",
        },
    )
    # When links are made for both
    # Then only this instance's connection opens
    assert world.open(world.link(ours, "google_ads")).page.status == 200
    assert world.open(world.link(theirs, "google_ads")).page.status == 404


def test_a_key_secret_without_an_instance_opens_no_connection(world: World) -> None:
    # Given the key secret replaced by hand without its "instance", and a
    # managed connection with a live link made before
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    world.store.create("stack/key", {"key": "k" * 48, "url": BASE_URL})
    keys = KeySource(world.store, "stack/key")
    world.service._keys = lambda: keys.current
    world.store.calls.clear()
    # When the link is opened
    visit = world.open(url)
    # Then the endpoint refuses as misconfigured (fail closed) without reading the connection
    assert visit.page.status >= 400
    assert "not set up correctly" in visit.text
    assert [c for c in world.store.calls if c[1] != "stack/key"] == []


def test_an_endpoint_without_an_instance_refuses_every_connection(world: World) -> None:
    # Given a signing key that somehow names no instance (the check in load_connection does not
    # rely on SigningKey refusing it)
    name = world.connection("google_ads")
    link = Link.verify(
        world.link(name, "google_ads").split("=", 1)[1],
        SIGNING.key,
        now=utcnow(),
        instance=TEST_INSTANCE,
    )
    # Then no connection is loaded for an empty instance
    with pytest.raises(LinkError) as err:
        load_connection(world.store, link, "")
    assert err.value.problem is LinkProblem.FOREIGN
