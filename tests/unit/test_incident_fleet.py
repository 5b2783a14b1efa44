"""One incident, one page: 5,000 connections failing for one cause, on a simulated clock.

The rotation engine (the four steps, the failure policy, the incident desk) runs in-process on the
in-memory store; a "sweep" rotates every connection once, the desk's flush runs at the start of
each sweep as the sweep function's does. Without the desk (``incidents=None``, the behaviour
before incidents) each cause pages once per connection.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.support.alarms import documented_oncall_filter, matches
from tests.support.fakes import TEST_INSTANCE
from tests.support.incidents import InMemoryIncidentStore
from tests.support.leaks import SCANNER
from tests.unit.conftest import Harness
from token_refresher.alerting.digests import MAX_LINKS
from token_refresher.alerting.incidents import IncidentDesk
from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.events import RotationRequest
from token_refresher.http import HttpClient
from token_refresher.model import TokenDocument
from token_refresher.providers.base import ProviderContext, RefreshResult
from token_refresher.rotation.engine import RotationEngine
from token_refresher.rotation.factory import build_rotation_engine
from token_refresher.state import TAG_INCIDENT

pytestmark = pytest.mark.unit

FLEET = int(os.environ.get("TR_INCIDENT_FLEET", "5000"))
# Without incidents every connection pages: linear in the fleet, so a tenth of it proves it.
SMALL_FLEET = FLEET // 10
SWEEP = timedelta(minutes=15)
FLEET_TOKEN = "fleet-access-token-after-the-incident"
BETWEEN_ROTATIONS = timedelta(milliseconds=100)  # 5,000 rotations spread over 500 s


def invalid_client() -> ProviderError:
    return ProviderError(
        ErrorClass.CONFIG, "invalid_client", provider="fake", provider_code="invalid_client"
    )


def platform_5xx() -> ProviderError:
    return ProviderError(ErrorClass.TRANSIENT, "HTTP 503", provider="fake", provider_code=503)


def rate_limited() -> ProviderError:
    return ProviderError(ErrorClass.TRANSIENT, "HTTP 429", provider="fake", provider_code=429)


def fail_with(failure: Callable[[], ProviderError]) -> Callable[[TokenDocument], RefreshResult]:
    """A new error each time, as a platform's answer is (one instance raised 5,000 times would
    carry an ever longer traceback)."""

    def refresh(_doc: TokenDocument) -> RefreshResult:
        raise failure()

    return refresh


def healthy(harness: Harness) -> Callable[[TokenDocument], RefreshResult]:
    """The platform answers again: one fixed token for all (the leak scanner checks every record
    against every token it knows, so 10,000 distinct ones would make it quadratic)."""
    SCANNER.add_secrets(FLEET_TOKEN)
    return lambda _doc: RefreshResult(
        access_token=FLEET_TOKEN, expires_at=harness.clock() + timedelta(hours=1)
    )


@dataclass
class Fleet:
    harness: Harness
    engine: RotationEngine
    desk: IncidentDesk | None
    names: list[str]
    versions: int = 0

    def sweep(self) -> None:
        if self.desk is not None:
            self.desk.flush()
        for name in self.names:
            self.versions += 1
            try:
                self.harness.store.start_rotation(name, f"v{self.versions}")
                for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                    event = {
                        "Step": step,
                        "SecretId": name,
                        "ClientRequestToken": f"v{self.versions}",
                    }
                    self.engine.run(RotationRequest.from_event(event))
            except ProviderError:
                pass
            self.harness.clock.advance(BETWEEN_ROTATIONS)
        self.harness.clock.advance(SWEEP - BETWEEN_ROTATIONS * len(self.names))

    def oncall(self) -> list[str]:
        policy = documented_oncall_filter()
        return [
            a.event.value for a in self.harness.notifier.alerts if matches(policy, a.attributes())
        ]


def fleet(*, grouped: bool, size: int = FLEET) -> Fleet:
    harness = Harness()
    store = InMemoryIncidentStore()
    desk = IncidentDesk(store, harness.notifier.publish, clock=harness.clock) if grouped else None
    ctx = ProviderContext(http=HttpClient(sleep=lambda _s: None), clock=harness.clock)
    engine = build_rotation_engine(
        harness.store,
        harness.notifier,
        ctx,
        instance=TEST_INSTANCE,
        providers=lambda _name: harness.provider,
        incidents=desk,
    )
    names = [harness.add_secret(f"conn/fake-{i:05d}") for i in range(size)]
    return Fleet(harness, engine, desk, names)


def run_incident(f: Fleet, failure: Callable[[], ProviderError], sweeps: int) -> None:
    """``sweeps`` failing sweeps (an hour is four), then the cause is gone: two good sweeps."""
    f.harness.provider.refresh_with = fail_with(failure)
    for _ in range(sweeps):
        f.sweep()
    f.harness.provider.refresh_with = healthy(f.harness)
    for _ in range(2):
        f.sweep()


CAUSES = {
    "rotated client secret": (invalid_client, 4),
    "platform 5xx for an hour": (platform_5xx, 4),
    "rate limit for an hour": (rate_limited, 4),
}


@pytest.mark.parametrize("cause", list(CAUSES))
def test_an_incident_hitting_5000_connections_pages_at_most_3_times_plus_one_recovery(
    cause: str,
) -> None:
    # Given 5,000 connections of one app, with incidents on
    f = fleet(grouped=True)
    failure, sweeps = CAUSES[cause]

    # When one cause makes all of them fail for an hour, then goes away
    run_incident(f, failure, sweeps)

    # Then on-call got at most 3 incident messages and exactly one recovery, naming every one
    pages = f.oncall()
    print(f"\n{cause}: on-call messages with incidents: {len(pages)} {pages}")
    opened = [a for a in f.harness.notifier.alerts if a.event.value == "incident.opened"]
    resolved = [a for a in f.harness.notifier.alerts if a.event.value == "incident.resolved"]
    assert len(pages) - len(resolved) <= 3
    assert len(resolved) == 1
    assert pages[-1] == "incident.resolved"
    assert len(opened) == 1
    final = resolved[0].incident
    assert final is not None
    assert (final.affected, final.recovered, final.still_failing) == (FLEET, FLEET, 0)
    assert "token-refresher status --incident inc-" in (resolved[0].remediation or "")
    # and no connection is left tagged with the closed incident
    assert {f.harness.store.tags_of(n)[TAG_INCIDENT] for n in f.names} == {"none"}


@pytest.mark.parametrize("cause", list(CAUSES))
def test_without_incidents_the_same_cause_pages_once_per_connection(cause: str) -> None:
    # Given the same fleet without the incident desk (the behaviour before incidents)
    f = fleet(grouped=False, size=SMALL_FLEET)
    failure, sweeps = CAUSES[cause]

    # When the same incident runs
    run_incident(f, failure, sweeps)

    # Then on-call hears of every connection
    pages = f.oncall()
    print(f"\n{cause}: on-call messages without incidents: {len(pages)}")
    assert len(pages) == SMALL_FLEET


def test_a_mass_revocation_reaches_oncall_as_five_alerts_and_one_digest() -> None:
    # Given a tenth of the fleet, one app, incidents on
    f = fleet(grouped=True, size=SMALL_FLEET)

    def revoked() -> ProviderError:
        return ProviderError(ErrorClass.REAUTH_REQUIRED, "invalid_grant", provider="fake")

    # When every grant is revoked and the sweeps run on
    f.harness.provider.refresh_with = fail_with(revoked)
    for _ in range(3):
        f.sweep()
    # Then on call got the first five on their own and one digest naming every other one
    pages = f.oncall()
    print(f"\nmass revocation of {SMALL_FLEET}: on-call messages with incidents: {len(pages)}")
    assert pages == ["token.reauth_required"] * 5 + ["token.reauth_digest"]
    digest = f.harness.notifier.alerts[-1]
    held = SMALL_FLEET - 5
    assert len(digest.links) == min(held, MAX_LINKS)  # an SNS message holds 256 KiB
    if held > MAX_LINKS:
        assert f"and {held - MAX_LINKS} more: token-refresher status --incident" in (
            digest.remediation or ""
        )
