"""Security review of the connect flow: storing, single use, failures, identity, the key's cache."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.fakes import client_error
from tests.unit.connect.browser import World
from token_refresher.connect import service
from token_refresher.connect.links import NONCE_USED
from token_refresher.connect.store import pending_version
from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.providers import get_provider
from token_refresher.providers.base import ValidationResult

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
    assert world.store.tags_of(name) == tags_before


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

    monkeypatch.setattr(service, "exchange_code", refuse)
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
