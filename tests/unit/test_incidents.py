"""The incident desk (alerting/incidents.py) through the rotation engine's failure policy: what
is grouped, what still goes out on its own, and what holds under concurrent rotations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.support.fakes import TEST_INSTANCE, client_error
from tests.support.incidents import InMemoryIncidentStore
from tests.unit.conftest import Harness
from token_refresher.adapters.errors import translate
from token_refresher.adapters.notifier import Notifier
from token_refresher.alerting.incidents import (
    Cause,
    CauseKind,
    IncidentDesk,
    IncidentPolicy,
    cause_of,
)
from token_refresher.alerts import Alert
from token_refresher.connect.minter import LinkMinter, SigningKey
from token_refresher.connect.reconnect import LinkingNotifier
from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.events import RotationRequest
from token_refresher.http import HttpClient
from token_refresher.providers.base import ProviderContext
from token_refresher.rotation.factory import build_rotation_engine
from token_refresher.state import TAG_INCIDENT

pytestmark = pytest.mark.unit

SIGNING = SigningKey(b"z" * 40, "https://c.lambda-url.us-east-1.on.aws/", TEST_INSTANCE)
APP = "token-refresher/apps/fake-app"


class Desked:
    """A harness whose rotation engine groups through an incident desk on an in-memory store."""

    def __init__(
        self,
        harness: Harness,
        notifier: Notifier | None = None,
        link: Callable[[Alert], Alert] | None = None,
    ) -> None:
        self.harness = harness
        self.store = InMemoryIncidentStore()
        sink = notifier or harness.notifier
        self.desk = IncidentDesk(self.store, sink.publish, clock=harness.clock, link=link)
        ctx = ProviderContext(http=HttpClient(sleep=lambda _s: None), clock=harness.clock)
        self.engine = build_rotation_engine(
            harness.store,
            sink,
            ctx,
            instance=TEST_INSTANCE,
            providers=lambda _name: harness.provider,
            incidents=self.desk,
        )
        self.version = 0

    def rotate(self, name: str) -> None:
        self.version += 1
        version = f"v{self.version}"
        self.harness.store.start_rotation(name, version)
        try:
            for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                event = {"Step": step, "SecretId": name, "ClientRequestToken": version}
                self.engine.run(RotationRequest.from_event(event))
        except ProviderError:
            pass


def invalid_client() -> ProviderError:
    return ProviderError(
        ErrorClass.CONFIG, "invalid_client", provider="fake", provider_code="invalid_client"
    )


@pytest.mark.parametrize(
    ("error_class", "code", "app", "kind"),
    [
        (ErrorClass.CONFIG, "invalid_client", APP, CauseKind.APP),
        (ErrorClass.PERMISSION, "200", APP, CauseKind.APP),
        (ErrorClass.TRANSIENT, "503", APP, CauseKind.PLATFORM_ERROR),
        (ErrorClass.TRANSIENT, "613", None, CauseKind.RATE_LIMIT),
        (ErrorClass.TRANSIENT, "429", None, CauseKind.RATE_LIMIT),
    ],
)
def test_a_shared_cause_is_recognised_from_the_failure(
    error_class: ErrorClass, code: str, app: str | None, kind: CauseKind
) -> None:
    cause = cause_of(error_class, "meta", app, code)
    assert cause is not None
    assert cause.kind is kind
    # platform-wide causes do not depend on the app or the exact 5xx
    if kind is not CauseKind.APP:
        assert cause == cause_of(error_class, "meta", "other-app", code)


def test_an_app_less_config_error_is_the_connections_own_and_a_revocation_is_batched() -> None:
    consent = cause_of(ErrorClass.REAUTH_REQUIRED, "meta", APP, "190")
    assert consent is not None
    assert consent.kind is CauseKind.CONSENT
    assert consent == cause_of(ErrorClass.REAUTH_REQUIRED, "meta", APP, "463")  # any code
    assert cause_of(ErrorClass.REAUTH_REQUIRED, "meta", None, "190") is None
    assert cause_of(ErrorClass.CONFIG, "meta", None, None) is None
    assert cause_of(ErrorClass.TRANSIENT, None, None, "503") is None


def test_one_revoked_connection_still_gets_exactly_one_alert_with_its_link(
    harness: Harness,
) -> None:
    # Given incidents on, and a Google connection whose grant is revoked
    linking = LinkingNotifier(
        harness.notifier, LinkMinter(harness.store, lambda: SIGNING, clock=harness.clock)
    )
    desked = Desked(harness, linking)
    name = harness.add_secret("conn/revoked", provider="google_ads")
    harness.provider.refresh_with = ProviderError(
        ErrorClass.REAUTH_REQUIRED, "invalid_grant", provider="google_ads"
    )
    # When it fails, and the sweeps flush for an hour
    desked.rotate(name)
    for _ in range(4):
        harness.clock.advance(timedelta(minutes=15))
        desked.desk.flush()
    # Then exactly one alert, sent at once, with its reconnect link
    [alert] = harness.notifier.alerts
    assert alert.event.value == "token.reauth_required"
    assert alert.reconnect_url
    assert alert.occurred_at == harness.clock.now - timedelta(hours=1)


def test_many_revocations_of_one_app_come_as_a_few_alerts_and_one_digest_of_links(
    harness: Harness,
) -> None:
    # Given incidents on and 40 Google connections of one app whose grants were revoked
    linking = LinkingNotifier(
        harness.notifier, LinkMinter(harness.store, lambda: SIGNING, clock=harness.clock)
    )
    desked = Desked(harness, linking, link=linking.with_link)
    names = [harness.add_secret(f"conn/r-{i:02d}", provider="google_ads") for i in range(40)]
    harness.provider.refresh_with = ProviderError(
        ErrorClass.REAUTH_REQUIRED, "invalid_grant", provider="google_ads"
    )
    # When they fail, and the sweep flushes after the group wait
    for name in names:
        desked.rotate(name)
    assert len(harness.notifier.alerts) == IncidentPolicy().digest_threshold
    harness.clock.advance(IncidentPolicy().group_wait)
    desked.desk.flush()
    desked.desk.flush()
    # Then the first five came one by one, each with its link, and the rest as ONE digest
    events = harness.notifier.events()
    assert events == ["token.reauth_required"] * 5 + ["token.reauth_digest"]
    singles, digest = harness.notifier.alerts[:5], harness.notifier.alerts[5]
    assert all(a.reconnect_url for a in singles)
    assert digest.severity == "critical"
    listed = [sid for sid, _url in digest.links]
    assert len(listed) == 35
    assert all(url for _sid, url in digest.links)
    assert {s.secret_id for s in singles} | set(listed) == set(names)
    for sid, url in digest.links:  # every link is also in the text an e-mail reader sees
        assert f"- {sid}: {url}" in (digest.remediation or "")
    # and a reconnected one recovers on its own
    harness.provider.refresh_with = None
    harness.clock.advance(timedelta(minutes=15))
    desked.rotate(names[-1])
    assert harness.notifier.events()[-1] == "token.recovered"


def test_one_misconfigured_connection_alerts_on_its_own_after_the_group_wait(
    harness: Harness,
) -> None:
    # Given incidents on and one connection failing with invalid_client
    desked = Desked(harness)
    name = harness.add_secret("conn/lonely")
    harness.provider.refresh_with = invalid_client()
    desked.rotate(name)
    # Then its alert is held while others may still join
    assert harness.notifier.alerts == []
    assert harness.store.tags_of(name)[TAG_INCIDENT].startswith("inc-")
    # When the group wait is over and the sweep flushes
    harness.clock.advance(IncidentPolicy().group_wait)
    desked.desk.flush()
    desked.desk.flush()
    # Then exactly its own alert went out, once
    assert harness.notifier.events() == ["token.config_invalid"]
    assert harness.notifier.alerts[0].secret_id == name
    # and its recovery is its own too
    harness.provider.refresh_with = None
    harness.clock.advance(timedelta(minutes=15))
    desked.rotate(name)
    assert harness.notifier.events() == ["token.config_invalid", "token.recovered"]


def test_concurrent_rotations_open_exactly_one_incident(harness: Harness) -> None:
    # Given 50 connections of one app whose client secret was rotated
    desked = Desked(harness)
    names = [harness.add_secret(f"conn/c-{i:02d}") for i in range(50)]
    harness.provider.refresh_with = invalid_client()
    # When their rotations run at the same time
    threads = [threading.Thread(target=desked.rotate, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then one incident alert, naming the cause, the count and how to list them
    [alert] = harness.notifier.alerts
    assert alert.event.value == "incident.opened"
    assert alert.incident is not None
    assert alert.incident.affected >= 3
    assert "invalid_client" in alert.message
    assert f"token-refresher status --incident {alert.incident.incident_id}" in (
        alert.remediation or ""
    )
    assert alert.attributes()["severity"] == "error"
    # and every connection is tagged with it
    assert {harness.store.tags_of(n)[TAG_INCIDENT] for n in names} == {alert.secret_id}


def test_an_update_after_the_group_interval_when_the_count_grew(harness: Harness) -> None:
    desked = Desked(harness)
    harness.provider.refresh_with = invalid_client()
    for i in range(3):
        desked.rotate(harness.add_secret(f"conn/a-{i}"))
    assert harness.notifier.events() == ["incident.opened"]
    # When more fail after the group interval
    harness.clock.advance(IncidentPolicy().group_interval)
    for i in range(5):
        desked.rotate(harness.add_secret(f"conn/b-{i}"))
    desked.desk.flush()
    # Then one update, with the new count, and no more
    assert harness.notifier.events() == ["incident.opened", "incident.updated"]
    assert harness.notifier.alerts[-1].incident is not None
    assert harness.notifier.alerts[-1].incident.affected == 8


def test_an_incident_quiet_for_a_while_closes_with_the_count_still_failing(
    harness: Harness,
) -> None:
    desked = Desked(harness)
    harness.provider.refresh_with = invalid_client()
    names = [harness.add_secret(f"conn/q-{i}") for i in range(4)]
    for name in names:
        desked.rotate(name)
    harness.provider.refresh_with = None
    harness.clock.advance(timedelta(minutes=15))
    desked.rotate(names[0])  # one fixed by hand
    harness.clock.advance(IncidentPolicy().resolve_after)
    desked.desk.flush()
    resolved = harness.notifier.alerts[-1]
    assert resolved.event.value == "incident.resolved"
    assert resolved.incident is not None
    assert (resolved.incident.recovered, resolved.incident.still_failing) == (1, 3)


def test_an_incident_store_failure_lets_the_alert_out_on_its_own(harness: Harness) -> None:
    class Broken(InMemoryIncidentStore):
        def join(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise translate(client_error("ProvisionedThroughputExceededException", "UpdateItem"))

    desked = Desked(harness)
    desked.desk.store = Broken()
    harness.provider.refresh_with = invalid_client()
    desked.rotate(harness.add_secret("conn/store-down"))
    assert harness.notifier.events() == ["token.config_invalid"]


def test_an_incident_alert_is_shaped_for_sns(harness: Harness) -> None:
    desked = Desked(harness)
    harness.provider.refresh_with = invalid_client()
    for i in range(3):
        desked.rotate(harness.add_secret(f"conn/s-{i}"))
    alert: Alert = harness.notifier.alerts[0]
    body = alert.to_dict()
    assert body["event"] == "incident.opened"
    assert body["incident"]["affected"] == 3
    assert body["incident"]["list_command"].startswith("token-refresher status --incident inc-")
    assert len(alert.subject()) <= 100
    assert "3 connections" in alert.subject()
    assert (
        Cause(CauseKind.APP, "fake", APP, "config", "invalid_client").describe() in body["message"]
    )
