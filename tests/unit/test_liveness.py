"""The daily liveness check: every connection is validated with its platform at
least once a day without rotating, and a revoked grant alerts within a day."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.fakes import TEST_INSTANCE, client_error
from tests.unit.conftest import Harness
from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.rotation_function import LambdaLivenessRequester
from token_refresher.errors import ConfigError, ErrorClass, ProviderError
from token_refresher.events import is_liveness_event
from token_refresher.providers.base import ValidationResult
from token_refresher.rotation.check import ConnectionChecker
from token_refresher.rotation.liveness import LivenessCheck, LivenessRequest
from token_refresher.state import TAG_CHECKED_AT, TAG_UNCHECKED_AT
from token_refresher.sweep.engine import SweepEngine, SweepRequest
from token_refresher.sweep.liveness import DEFAULT_CHECK_RATE, LivenessSweep, checks_needed
from token_refresher.sweep.pacing import Pacer

pytestmark = pytest.mark.unit

ROTATION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:rotation"
SWEEP = timedelta(minutes=15)


class InProcessRequester:
    """Stands in for the asynchronous invoke: runs the rotation function's liveness path."""

    def __init__(self, harness: Harness) -> None:
        engine = harness.engine
        checker = ConnectionChecker(
            harness.store,
            engine.ctx,
            engine._providers,
            engine.apps.for_token,
            instance=TEST_INSTANCE,
        )
        self.check = LivenessCheck(checker, engine.failures, instance=TEST_INSTANCE)
        self.requested: list[str] = []

    def request(self, secret_id: str) -> None:
        self.requested.append(secret_id)
        self.check.run(LivenessRequest(secret_id))


@pytest.fixture
def requester(harness: Harness) -> InProcessRequester:
    return InProcessRequester(harness)


@pytest.fixture
def sweeper(harness: Harness, requester: InProcessRequester) -> SweepEngine:
    return harness.sweep_engine(
        rotation_lambda_arn=ROTATION_ARN, liveness=LivenessSweep(requester, sweep_interval=SWEEP)
    )


def epoch(harness: Harness, delta: timedelta) -> str:
    return str(int((harness.clock.now + delta).timestamp()))


def long_lived(harness: Harness, name: str, **tags: str) -> str:
    """A 60-day token rotated two days ago: not due for 51 days."""
    harness.add_secret(name)
    harness.store.set_tags(
        name,
        {
            "token-refresher:provider": "fake",
            "token-refresher:expires-at": epoch(harness, timedelta(days=58)),
            "token-refresher:last-rotated-at": epoch(harness, -timedelta(days=2)),
        }
        | {f"token-refresher:{k}": v for k, v in tags.items()},
    )
    return name


def test_a_revoked_grant_that_is_not_due_alerts_within_one_day(harness, sweeper, requester):
    # Given a long-lived connection, checked by the sweep, whose grant is revoked a minute later
    name = long_lived(harness, "conn/meta-like")
    sweeper.run(SweepRequest(scheduled=True))
    assert harness.provider.validate_calls == 1
    harness.clock.advance(timedelta(minutes=1))
    revoked_at = harness.clock.now
    harness.provider.validate_with = ValidationResult(valid=False, detail="190/460 revoked")
    # When the scheduled sweep keeps running every 15 minutes for a day
    alerted_at = None
    while harness.clock.now - revoked_at <= timedelta(hours=24) and alerted_at is None:
        harness.clock.advance(SWEEP)
        sweeper.run(SweepRequest(scheduled=True))
        if harness.notifier.alerts:
            alerted_at = harness.clock.now
    # Then a token.reauth_required alert went out within 24 hours, without any rotation
    assert alerted_at is not None
    assert alerted_at - revoked_at <= timedelta(hours=24)
    [alert] = harness.notifier.alerts
    assert (alert.event.value, alert.error_class) == ("token.reauth_required", "reauth_required")
    assert "daily check" in alert.message
    assert harness.provider.refresh_calls == 0
    assert not any(op == "rotate" for op, _ in harness.store.calls)
    # And the connection's state says so (the sweep re-checks it daily from then on)
    tags = harness.store.tags_of(name)
    assert tags["token-refresher:status"] == "reauth-required"
    assert requester.requested.count(harness.store.arn_of(name)) == 2


def test_a_healthy_check_records_its_time_and_nothing_else(harness, sweeper):
    # Given a long-lived connection never checked
    name = long_lived(harness, "conn/ok")
    # When two sweeps run 15 minutes apart
    sweeper.run(SweepRequest(scheduled=True))
    harness.clock.advance(SWEEP)
    report = sweeper.run(SweepRequest(scheduled=True))
    # Then it was validated once, its check time recorded, and nobody alerted
    assert harness.provider.validate_calls == 1
    assert report.checks_requested == []
    assert harness.store.tags_of(name)[TAG_CHECKED_AT] == epoch(harness, -SWEEP)
    assert harness.notifier.alerts == []
    checks = [p for p in harness.metrics.points if p[0] == "LivenessChecks"]
    assert checks == [("LivenessChecks", "fake", "ok", 1)]


def test_a_connection_that_cannot_be_checked_gets_no_checked_at(harness, sweeper, requester):
    # Given a long-lived connection whose platform offers no check (oauth2 without introspection)
    name = long_lived(harness, "conn/uncheckable")
    harness.provider.validate_with = ValidationResult(
        valid=True, checked=False, detail="not checkable: no introspection_url"
    )
    # When the sweep asks for its daily check
    sweeper.run(SweepRequest(scheduled=True))
    # Then no checked-at claims an assurance nobody gave; the time of the attempt is kept apart
    tags = harness.store.tags_of(name)
    assert TAG_CHECKED_AT not in tags
    assert tags[TAG_UNCHECKED_AT] == epoch(harness, timedelta(0))
    checks = [p for p in harness.metrics.points if p[0] == "LivenessChecks"]
    assert checks == [("LivenessChecks", "fake", "unchecked", 1)]
    # And the next sweeps of the day do not ask again
    harness.clock.advance(SWEEP)
    sweeper.run(SweepRequest(scheduled=True))
    assert requester.requested == [harness.store.arn_of(name)]
    assert harness.notifier.alerts == []


def test_an_uncheckable_connection_that_was_failing_is_not_declared_recovered(harness, requester):
    # Given a failing connection whose platform offers no check
    name = long_lived(harness, "conn/failing", status="failing")
    harness.provider.validate_with = ValidationResult(valid=True, checked=False)
    # When the liveness check runs
    requester.request(harness.store.arn_of(name))
    # Then it stays failing, with no token.recovered alert
    assert harness.store.tags_of(name)["token-refresher:status"] == "failing"
    assert harness.notifier.alerts == []


def test_connections_validated_within_a_day_or_awaiting_a_human_are_not_checked(
    harness, sweeper, requester
):
    # Given one rotated an hour ago (hourly platforms), one checked 20 hours ago, and one that
    # already needs re-authorization (the rotation re-checks those daily)
    long_lived(harness, "conn/rotated", **{"last-rotated-at": epoch(harness, -timedelta(hours=1))})
    long_lived(harness, "conn/checked", **{"checked-at": epoch(harness, -timedelta(hours=20))})
    long_lived(
        harness,
        "conn/reauth",
        **{"status": "reauth-required", "last-alert-at": epoch(harness, -timedelta(hours=2))},
    )
    # When the scheduled sweep runs, and a dry run and a manual request too
    sweeper.run(SweepRequest(scheduled=True))
    sweeper.run(SweepRequest(scheduled=True, dry_run=True))
    # Then nothing is checked
    assert requester.requested == []


def test_a_transient_failure_is_counted_and_retried_at_the_next_sweep(harness, sweeper, requester):
    # Given a long-lived connection whose platform is briefly unreachable
    name = long_lived(harness, "conn/blip")
    harness.provider.validate_with = ProviderError(
        ErrorClass.TRANSIENT, "HTTP 503", provider="fake"
    )
    # When the sweep checks it
    sweeper.run(SweepRequest(scheduled=True))
    # Then the failure is counted quietly (the rotation's policy) and no check time is recorded
    tags = harness.store.tags_of(name)
    assert (tags["token-refresher:consecutive-failures"], tags["token-refresher:status"]) == (
        "1",
        "ok",
    )
    assert TAG_CHECKED_AT not in tags
    assert harness.notifier.alerts == []
    # And the next sweep checks again; a success then records the time
    harness.provider.validate_with = None
    harness.clock.advance(SWEEP)
    sweeper.run(SweepRequest(scheduled=True))
    assert len(requester.requested) == 2
    assert harness.store.tags_of(name)[TAG_CHECKED_AT] == epoch(harness, timedelta(0))


class FakeTime:
    """A monotonic clock whose sleep advances it: the pacer's requests land on simulated seconds."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_fleet_onboarded_at_once_is_checked_evenly_and_never_a_day_late(harness, requester):
    # Given 150 long-lived connections all rotated at the same moment (one onboarding burst)
    names = [f"conn/{n:03d}" for n in range(150)]
    for name in names:
        long_lived(harness, name, **{"last-rotated-at": epoch(harness, timedelta(0))})
    start = harness.clock.now
    validated = {harness.store.arn_of(n): start for n in names}
    fake = FakeTime()
    pacer = Pacer(DEFAULT_CHECK_RATE, monotonic=fake.monotonic, sleep=fake.sleep)
    sweeper = harness.sweep_engine(
        rotation_lambda_arn=ROTATION_ARN,
        liveness=LivenessSweep(requester, sweep_interval=SWEEP, pacer=pacer),
    )
    # When the sweep runs every 15 minutes (each up to a minute late, every 10th one lost) for
    # two days
    per_sweep, longest = [], timedelta(0)
    for k in range(1, 2 * 96 + 1):
        harness.clock.now = start + SWEEP * k + timedelta(seconds=(k * 37) % 60)
        if k % 10 == 0:
            continue
        report = sweeper.run(SweepRequest(scheduled=True))
        per_sweep.append(len(report.checks_requested))
        for secret_id in report.checks_requested:
            longest = max(longest, harness.clock.now - validated[secret_id])
            validated[secret_id] = harness.clock.now
    # Then no connection went a day without a validation, lost sweeps included
    longest = max([longest] + [harness.clock.now - t for t in validated.values()])
    assert longest <= timedelta(hours=24)
    # And the checks were spread over the day: a few per sweep, never the whole fleet at once
    assert max(per_sweep) <= 5
    assert sum(per_sweep) >= 150


def test_each_sweep_asks_for_just_enough_checks_to_keep_every_deadline():
    # Given a sweep every 15 minutes
    now = datetime(2026, 12, 1, tzinfo=UTC)
    # Then past and next-sweep deadlines are all checked now
    assert checks_needed([now - SWEEP, now, now + SWEEP / 2], now, SWEEP) == 3
    # And 100 deadlines ten sweeps away are spread: 10 now (100 / 10 sweeps)
    assert checks_needed([now + 9.5 * SWEEP] * 100, now, SWEEP) == 10
    # And a lone deadline a day away waits for its last sweep
    assert checks_needed([now + timedelta(hours=23)], now, SWEEP) == 0


def test_liveness_requests_are_paced_to_leave_the_tag_quota_room(harness, requester):
    # Given 40 long-lived connections last validated two days ago (all overdue at once) and a
    # pacer of 10 requests/s
    for n in range(40):
        long_lived(harness, f"conn/{n:02d}")
    fake = FakeTime()
    asked: list[float] = []

    class Timed:
        def request(self, secret_id: str) -> None:
            asked.append(fake.now)

    pacer = Pacer(DEFAULT_CHECK_RATE, monotonic=fake.monotonic, sleep=fake.sleep)
    sweeper = harness.sweep_engine(
        liveness=LivenessSweep(Timed(), sweep_interval=SWEEP, pacer=pacer)
    )
    # When the sweep asks for them
    report = sweeper.run(SweepRequest(scheduled=True))
    # Then all 40 are asked, a tenth of a second apart: 10/s at most (each check ends in one
    # TagResource, 50/s for the region)
    assert len(report.checks_requested) == 40
    gaps = [b - a for a, b in itertools.pairwise(sorted(asked))]
    assert min(gaps) >= 1 / DEFAULT_CHECK_RATE - 1e-9


def test_a_refused_invoke_is_a_report_error_not_a_crash(harness):
    # Given a requester whose invoke is throttled
    class Throttled:
        def request(self, secret_id: str) -> None:
            raise AwsError("Invoke", code="TooManyRequestsException")

    long_lived(harness, "conn/x")
    sweeper = harness.sweep_engine(liveness=LivenessSweep(Throttled(), sweep_interval=SWEEP))
    # When the sweep runs, then the error is reported and the sweep finishes
    report = sweeper.run(SweepRequest(scheduled=True))
    assert [e["error_class"] for e in report.errors] == ["liveness"]
    assert report.checks_requested == []


def test_the_lambda_requester_invokes_the_rotation_function_asynchronously():
    calls: list[dict[str, Any]] = []

    class Client:
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return {"StatusCode": 202}

    LambdaLivenessRequester(Client(), ROTATION_ARN).request("conn/a")  # type: ignore[arg-type]
    assert calls == [
        {
            "FunctionName": ROTATION_ARN,
            "InvocationType": "Event",
            "Payload": b'{"action": "liveness", "secret_id": "conn/a"}',
        }
    ]


def test_the_lambda_requester_translates_aws_errors():
    class Client:
        def invoke(self, **kwargs: Any) -> dict[str, Any]:
            raise client_error("TooManyRequestsException", "Invoke")

    with pytest.raises(AwsError, match="TooManyRequestsException"):
        LambdaLivenessRequester(Client(), ROTATION_ARN).request("conn/a")  # type: ignore[arg-type]


def test_liveness_events_are_parsed_strictly():
    assert is_liveness_event({"action": "liveness", "secret_id": "a"})
    assert not is_liveness_event({"action": "check", "secret_id": "a"})
    assert LivenessRequest.from_event({"action": "liveness", "secret_id": " a "}).secret_id == "a"
    with pytest.raises(ConfigError, match="unknown field") as refused:
        LivenessRequest.from_event({"action": "liveness", "secret_id": "a", "x": 1})
    assert refused.value.field == "event"


def test_another_instances_secret_is_neither_checked_nor_tagged(harness, requester):
    # Given a secret of another instance
    name = long_lived(harness, "conn/theirs")
    harness.store.set_tags(name, {"token-refresher:instance": "someone-else"})
    # When a liveness request names it
    result = requester.check.run(LivenessRequest(name))
    # Then nothing is validated, written or sent
    assert result["recorded"] is False
    assert harness.provider.validate_calls == 0
    assert TAG_CHECKED_AT not in harness.store.tags_of(name)
    assert harness.notifier.alerts == []
