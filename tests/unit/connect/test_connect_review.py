"""Security review of the connect flow: storing, single use, failures, identity, the key's cache."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.fakes import InMemorySecretStore, client_error
from tests.unit.connect.browser import World
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.connect import callback, exchange
from token_refresher.connect.attempts import TAG_CONNECT_FAILURES
from token_refresher.connect.links import NONCE_USED, pending_version
from token_refresher.connect.minter import KeySource, SigningKey
from token_refresher.connect.reconnect import LinkingNotifier
from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.providers import get_provider
from token_refresher.providers.base import ValidationResult
from token_refresher.timeutil import utcnow

pytestmark = pytest.mark.unit


def test_a_rotation_taking_awspending_first_is_not_reported_connected(world: World) -> None:
    # Given a connection, its link, and a rotation whose createSecret writes its own AWSPENDING
    # right after the consent's write (it had called the provider before)
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    nonce = world.nonce(name)
    before = world.store.current_value(name)
    real_put = world.store.put_pending

    def racing_put(secret_id: str, version_id: str, value: str) -> None:
        real_put(secret_id, version_id, value)
        if version_id != "rotation-version":
            real_put(secret_id, "rotation-version", before or "")

    world.store.put_pending = racing_put  # type: ignore[method-assign]
    # When the owner consents
    done = world.connect(url)
    # Then the page says nothing was stored, the token is unchanged, the nonce is not burned
    assert done.page.status == 409, done.text
    assert "Connected" not in done.text
    assert "not stored" in done.text
    assert world.store.current_value(name) == before
    assert world.nonce(name) == nonce
    assert world.notifier.events() == []


def test_two_browsers_finishing_the_same_link_store_one_grant(world: World) -> None:
    # Given one link opened in two browsers, both consented at the platform
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    first, second = world.open(url), world.open(url)
    back_first = world.decide(world.consent_href(first))
    back_second = world.decide(world.consent_href(second))
    real_put = world.store.put_pending
    pages: list[Any] = []

    def put_after_the_other(secret_id: str, version_id: str, value: str) -> None:
        if not pages:  # the second callback arrives while the first is about to write
            world.store.put_pending = real_put  # type: ignore[method-assign]
            pages.append(world.open(back_second, cookie=second.cookie))
        real_put(secret_id, version_id, value)

    world.store.put_pending = put_after_the_other  # type: ignore[method-assign]
    # When both callbacks run, the second one overtaking the first before it writes
    done_first = world.open(back_first, cookie=first.cookie)
    done_second = pages[0]
    # Then exactly one succeeds and the other is told the link was already used
    statuses = sorted([done_first.page.status, done_second.page.status])
    assert statuses == [200, 410], (done_first.text, done_second.text)
    assert "already used" in (done_first.text + done_second.text)
    assert world.nonce(name) == NONCE_USED
    assert world.notifier.events() == ["token.recovered"]


def test_an_aws_failure_reading_the_connection_shows_our_page(world: World) -> None:
    # Given a link, and Secrets Manager failing when the connection is read
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    world.store.fail_on["describe"] = [client_error("InternalServiceError", "DescribeSecret")]
    # When the link is opened
    visit = world.open(url)
    # Then our transient page answers, with our headers, not a bare error
    assert visit.page.status == 502
    assert "not answering" in visit.text
    headers = visit.page.response()["headers"]
    assert isinstance(headers, dict)
    assert headers["Cache-Control"] == "no-store"


def test_a_failure_after_the_pending_write_neither_alerts_nor_marks_failing(
    world: World,
) -> None:
    # Given a link, and Secrets Manager failing when AWSCURRENT is moved
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    tags_before = world.store.tags_of(name)
    world.store.fail_on["move_stage"] = [
        client_error("InternalServiceError", "UpdateSecretVersionStage")
    ]
    # When the owner consents
    done = world.connect(url)
    # Then the page says nothing was stored; no alert (whose new link would kill this one),
    # no failing state written
    assert done.page.status == 409, done.text
    assert world.notifier.events() == []
    tags_after = world.store.tags_of(name)
    tags_after.pop(TAG_CONNECT_FAILURES)  # the link's failed-callback count (attempts.py)
    assert tags_after == tags_before


def test_the_grant_is_validated_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a platform whose check answers "invalid" when asked a second time
    provider = get_provider("google_ads")
    real = type(provider).validate
    calls: list[int] = []

    def flaky(self: Any, *args: Any, **kwargs: Any) -> ValidationResult:
        calls.append(1)
        if len(calls) > 1:
            return ValidationResult(valid=False, detail="flaky")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(provider), "validate", flaky)
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    # When the owner consents
    done = world.connect(url)
    # Then the grant validated by the service is stored without a second check, no reauth alert
    assert done.page.status == 200, done.text
    assert len(calls) == 1
    assert world.notifier.events() == ["token.recovered"]
    assert world.nonce(name) == NONCE_USED


def test_a_failed_exchange_logs_its_message_and_remediation_without_the_code(
    world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a platform refusing the exchange as misconfigured, echoing the code in its message
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    landing = world.open(url)
    back = world.decide(world.consent_href(landing))
    code = dict(parse_qsl(urlsplit(back).query))["code"]

    def refuse(*_args: Any) -> None:
        raise ProviderError(
            ErrorClass.CONFIG,
            f"redirect_uri not registered for code {code}",
            provider="google_ads",
            remediation="register the connect URL's callback in the app",
        )

    monkeypatch.setattr(callback, "exchange_code", refuse)
    # When the callback runs
    with caplog.at_level(logging.ERROR):
        done = world.open(back, cookie=landing.cookie)
    # Then the page points to the log, and the log holds message and remediation, code masked
    assert "connect function's log" in done.text
    failed = [r for r in caplog.records if r.getMessage() == "connect failed"]
    assert failed
    detail = getattr(failed[0], "detail", "")
    assert "redirect_uri not registered" in detail
    assert code not in detail
    assert getattr(failed[0], "remediation", "") == "register the connect URL's callback in the app"


def test_the_pending_version_is_named_after_the_nonce() -> None:
    assert pending_version("abc") == pending_version("abc") != pending_version("abd")


def test_a_pinned_connection_refuses_a_consent_that_names_no_account(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an oauth2 connection pinned to an account, and a server answering without id_token
    name = world.connection("oauth2", account="acct-1")
    before = world.store.current_value(name)
    real = callback.exchange_code
    monkeypatch.setattr(
        callback, "exchange_code", lambda *a: dataclasses.replace(real(*a), identity=None)
    )
    # When the owner consents
    done = world.connect(world.link(name, "oauth2"))
    # Then nothing is stored and the operator is alerted
    assert done.page.status == 409, done.text
    assert world.store.current_value(name) == before
    assert world.notifier.events() == ["token.connect_refused"]


def test_the_landing_page_says_whether_any_account_is_accepted(world: World) -> None:
    # Given one connection with no recorded account and one pinned
    unpinned = world.connection("google_ads")
    pinned = world.connection("linkedin", account="li-1")
    # When each link is opened
    open_text = world.open(world.link(unpinned, "google_ads")).text
    pinned_text = world.open(world.link(pinned, "linkedin")).text
    # Then the unpinned page says any account is accepted, the pinned one names its account
    assert "any account will be accepted" in open_text
    assert "account named above" not in open_text
    assert "account named above" in pinned_text


def test_oauth2_reconsent_without_a_refresh_token_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an oauth2 connection holding a refresh token, and a server answering without one
    name = world.connection("oauth2")
    before = world.store.current_value(name)
    real = exchange._post_code

    def no_refresh(*args: Any, **kwargs: Any) -> Any:
        tokens, body = real(*args, **kwargs)
        return dataclasses.replace(tokens, refresh_token=None), body

    monkeypatch.setattr(exchange, "_post_code", no_refresh)
    # When the owner consents
    done = world.connect(world.link(name, "oauth2"))
    # Then the grant is refused and the refreshable one kept
    assert done.page.status == 400, done.text
    assert world.store.current_value(name) == before


def test_a_replaced_signing_key_takes_effect_within_five_minutes() -> None:
    # Given a key source that read the key
    store = InMemorySecretStore()
    store.create(
        "stack/connect-signing-key", {"key": "a" * 40, "url": "https://x/", "instance": "i"}
    )
    now = [1000.0]
    keys = KeySource(store, "stack/connect-signing-key", monotonic=lambda: now[0])
    first = keys.current
    # When the secret's value is replaced
    store.put_pending(
        "stack/connect-signing-key",
        "v2",
        json.dumps({"key": "b" * 40, "url": "u", "instance": "i"}),
    )
    store.move_stage(
        "stack/connect-signing-key",
        "AWSCURRENT",
        to_version="v2",
        from_version=store.describe("stack/connect-signing-key").version_with("AWSCURRENT"),
    )
    now[0] += 299
    cached = keys.current
    now[0] += 2
    # Then the old key serves until 5 minutes have passed, the new one after
    assert cached.key == first.key == b"a" * 40
    assert keys.current.key == b"b" * 40


def test_two_links_open_in_one_browser_do_not_break_each_other(world: World) -> None:
    # Given two connections' links opened one after the other in the same browser
    first = world.connection("google_ads")
    second = world.connection("linkedin")
    landing_first = world.open(world.link(first, "google_ads"))
    landing_second = world.open(world.link(second, "linkedin"))
    jar = f"{landing_first.cookie}; {landing_second.cookie}"
    # When the first sign-in comes back with both cookies in the browser
    back = world.decide(world.consent_href(landing_first))
    done = world.open(back, cookie=jar)
    # Then it completes
    assert done.page.status == 200, done.text
    assert world.nonce(first) == NONCE_USED


def test_a_reminder_alert_keeps_the_earlier_link_working(world: World) -> None:
    # Given a connection needing re-authorization and the link of yesterday's alert
    name = world.connection("google_ads")
    notifier = LinkingNotifier(world.notifier, world.minter)
    alert = Alert(
        AlertEvent.REAUTH_REQUIRED,
        secret_id=name,
        provider="google_ads",
        message="revoked",
        occurred_at=utcnow(),
    )
    yesterday = notifier.with_link(alert).reconnect_url
    # When today's reminder is sent
    today = notifier.with_link(alert).reconnect_url
    # Then both links carry a consent; the first one used works
    assert yesterday
    assert today
    done = world.connect(yesterday)
    assert done.page.status == 200, done.text
    assert world.open(today).page.status == 410  # same nonce: used now
    # and after that consent a new alert carries a fresh, working link
    assert world.connect(notifier.with_link(alert).reconnect_url or "").page.status == 200


def test_the_connect_function_has_a_reservation_parameter_and_room_for_retries() -> None:
    # Given the template read as data
    from tests.support.template import load_template

    template = load_template()
    # When the ConnectFunction and its parameter are looked at
    param = template["Parameters"]["ConnectReservedConcurrency"]
    props = template["Resources"]["ConnectFunction"]["Properties"]
    # Then a reservation can be set, none is the default (an account limited to 10 cannot reserve
    # any and its deploy would fail), and the timeout covers retried calls
    assert (param["Default"], param["MinValue"]) == (0, 0)
    assert props["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasConnectReservation",
            {"Ref": "ConnectReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert template["Conditions"]["HasConnectReservation"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ConnectReservedConcurrency"}, 0]}]
    }
    assert props["Timeout"] >= 90


def test_a_connection_without_the_instance_tag_is_foreign_to_a_named_instance(
    world: World,
) -> None:
    # Given a deployment named "prod" and a managed connection carrying no instance tag
    signing = SigningKey.from_json(
        json.dumps({"key": "k" * 40, "url": "https://x/", "instance": "prod"}), "k"
    )
    world.service._keys = lambda: signing  # type: ignore[method-assign]
    world.minter._keys = lambda: signing
    name = world.connection("google_ads")
    # When its link is opened
    visit = world.open(world.link(name, "google_ads"))
    # Then it is refused as another deployment's
    assert visit.page.status == 404


def test_the_meta_code_exchange_is_not_retried_after_a_read_timeout(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the HTTP client recording how each call is marked
    real = world.ctx.http.request
    marks: dict[str, Any] = {}

    def recording(method: str, url: str, **kwargs: Any) -> Any:
        if url.endswith("/oauth/access_token") and "code" in (kwargs.get("params") or {}):
            marks["code exchange"] = kwargs.get("idempotent")
        return real(method, url, **kwargs)

    monkeypatch.setattr(world.ctx.http, "request", recording)
    name = world.connection("meta")
    # When a Meta connection is reconnected
    assert world.connect(world.link(name, "meta")).page.status == 200
    # Then the code exchange was sent as not idempotent (a single-use code is never replayed)
    assert marks == {"code exchange": False}


def test_tiktok_advertiser_ids_are_stored_in_the_options(world: World) -> None:
    # Given a TikTok connection
    name = world.connection("tiktok")
    # When it is reconnected
    assert world.connect(world.link(name, "tiktok")).page.status == 200
    # Then the advertiser ids of the grant are stored in its options
    doc = world.store.current_doc(name)
    ids = doc.options.get("advertiser_ids")
    assert isinstance(ids, list)
    assert ids
    assert ",".join(ids) == doc.extras["consent"]["account_id"]


def test_a_link_is_not_parsed_before_its_signature_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a forged link (the body is JSON, the signature is not ours)
    from token_refresher.connect import links

    body = links.b64url(b'{"s":"x","p":"meta","n":"n","e":9999999999}')
    parsed: list[object] = []
    real_loads = links.json.loads
    monkeypatch.setattr(links.json, "loads", lambda text: parsed.append(text) or real_loads(text))
    # When it is verified
    with pytest.raises(links.LinkError) as err:
        links.Link.verify(body + "." + links.b64url(b"x" * 32), b"k" * 48, now=utcnow())
    # Then it is refused on the signature, its body never decoded as JSON
    assert err.value.detail == "bad signature"
    assert parsed == []


def test_the_log_only_notifier_does_not_log_the_live_link(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given an alert carrying a reconnect link, and no topic configured
    from token_refresher.runtime import LogOnlyNotifier

    url = "https://abc.lambda-url.us-east-1.on.aws/?l=live-signed-link-0001.sig"
    alert = Alert(
        AlertEvent.REAUTH_REQUIRED,
        secret_id="conn/x",
        provider="google_ads",
        message="revoked",
        remediation=f"To reconnect, open this link (it works once): {url}",
        occurred_at=utcnow(),
        reconnect_url=url,
    )
    # When it is published
    with caplog.at_level(logging.ERROR):
        LogOnlyNotifier().publish(alert)
    # Then the log line says an alert was raised, without the link
    logged = [r for r in caplog.records if r.getMessage() == "alert (no topic configured)"]
    assert logged
    assert "live-signed-link-0001" not in repr(logged[0].__dict__)


def test_the_log_only_notifier_does_not_log_a_digests_links(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a re-authorization digest listing two live links, and no topic configured
    from token_refresher.runtime import LogOnlyNotifier

    urls = [f"https://abc.lambda-url.us-east-1.on.aws/?l=digest-link-{i}.sig" for i in (1, 2)]
    alert = Alert(
        AlertEvent.REAUTH_DIGEST,
        secret_id="inc-1",
        provider="google_ads",
        message="2 more connections need their owner",
        remediation="\n".join(f"- conn/{i}: {u}" for i, u in enumerate(urls)),
        occurred_at=utcnow(),
        links=tuple((f"conn/{i}", u) for i, u in enumerate(urls)),
    )
    # When it is published, then neither link is in the log line, the connections are
    with caplog.at_level(logging.ERROR):
        LogOnlyNotifier().publish(alert)
    logged = repr([r.__dict__ for r in caplog.records])
    assert "digest-link-" not in logged
    assert "conn/1" in logged


def test_error_pages_show_no_operator_commands() -> None:
    # Given every page a person following a link can meet
    from token_refresher.connect import problems
    from token_refresher.connect.links import LinkProblem

    shown = [problems.link_page(p, "").html for p in LinkProblem]
    shown += [problems.error_page(c, "").html for c in ErrorClass]
    shown += [
        problems.different_account_page("someone", "").html,
        problems.not_stored_page("").html,
        problems.denied_page("access_denied", "").html,
    ]
    # Then none of them shows CLI syntax
    for html in shown:
        assert "token-refresher " not in html
        assert "--allow" not in html
        assert "&lt;secret-id&gt;" not in html


def test_a_link_whose_grant_was_written_is_not_written_again(world: World) -> None:
    # Given a consent whose grant was written but could not be made current
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    world.store.fail_on["move_stage"] = [
        client_error("InternalServiceError", "UpdateSecretVersionStage")
    ]
    assert world.connect(url).page.status == 409
    puts = [c for c in world.store.calls if c[0] == "put_pending"]
    # When the same link is opened again
    again = world.open(url)
    # Then it is "already used" at once, and nothing is written a second time
    assert again.page.status == 410, again.text
    assert [c for c in world.store.calls if c[0] == "put_pending"] == puts
