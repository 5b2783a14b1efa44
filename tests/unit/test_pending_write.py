"""createSecret's AWSPENDING write: retried with backoff and jitter while the invocation has time
left, the platform not called when too little is left, and a value that could not be stored is
counted and (when the refresh token rotated) alerted at once."""

from __future__ import annotations

import json

import pytest

from tests.support.fakes import client_error
from tests.unit.conftest import INITIAL_REFRESH, Harness
from token_refresher.alerts import AlertEvent
from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.events import RotationRequest, Step, StepOutcome
from token_refresher.rotation.engine import RotationEngine
from token_refresher.rotation.pending_write import PendingWriteLost, WriteRetry

pytestmark = pytest.mark.unit

VERSION = "v-pending-1"


class Invocation:
    """A Lambda invocation's clock: ``time_left_ms`` shrinks as the engine sleeps."""

    def __init__(self, left_ms: int) -> None:
        self.left_ms = left_ms
        self.sleeps: list[float] = []

    def time_left_ms(self) -> int:
        return self.left_ms

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.left_ms -= int(seconds * 1000)


def _engine(harness: Harness, inv: Invocation) -> RotationEngine:
    harness.engine.writer.retry = WriteRetry(
        sleep=inv.sleep,
        jitter=lambda _low, high: high,  # the cap itself: the worst case
    )
    return harness.engine


def _create(harness: Harness, inv: Invocation, name: str) -> StepOutcome:
    harness.store.start_rotation(name, VERSION)
    event = {"Step": Step.CREATE.value, "SecretId": name, "ClientRequestToken": VERSION}
    return _engine(harness, inv).run(RotationRequest.from_event(event), inv.time_left_ms).outcome


def _throttled(times: int) -> list[Exception]:
    return [client_error("ThrottlingException", "PutSecretValue") for _ in range(times)]


def test_a_throttled_write_is_retried_with_growing_jittered_delays_until_stored(
    harness: Harness,
) -> None:
    # Given a rotating-refresh-token platform and PutSecretValue throttled four times
    name = harness.add_secret()
    harness.store.fail_on["put_pending"] = _throttled(4)
    inv = Invocation(left_ms=50_000)
    # When createSecret runs with 50 s left
    outcome = _create(harness, inv, name)
    # Then the fifth write stored the refreshed token, after delays capped at 0.25 x 2^n s
    assert outcome is StepOutcome.DONE
    assert inv.sleeps == [0.25, 0.5, 1.0, 2.0]
    assert [op for op, _ in harness.store.calls].count("put_pending") == 5
    pending = json.loads(harness.store.get_value(name, version_id=VERSION) or "{}")
    assert pending["refresh_token"] != INITIAL_REFRESH  # the rotated one, kept
    assert harness.provider.refresh_calls == 1
    assert ("PendingWriteRetried", "fake", None, 1) in harness.metrics.points
    assert harness.notifier.alerts == []


def test_the_backoff_is_capped_and_jittered_below_the_cap(harness: Harness) -> None:
    # Given a jitter that records the range it was asked for
    name = harness.add_secret()
    harness.store.fail_on["put_pending"] = _throttled(7)
    inv = Invocation(left_ms=60_000)
    ranges: list[tuple[float, float]] = []

    def jitter(low: float, high: float) -> float:
        ranges.append((low, high))
        return high / 2

    harness.engine.writer.retry = WriteRetry(sleep=inv.sleep, jitter=jitter)
    harness.store.start_rotation(name, VERSION)
    event = {"Step": "createSecret", "SecretId": name, "ClientRequestToken": VERSION}
    # When the write is throttled seven times
    harness.engine.run(RotationRequest.from_event(event), inv.time_left_ms)
    # Then each delay is drawn from [0, min(4 s, 0.25 x 2^n)]: full jitter, capped
    assert ranges == [
        (0.0, 0.25),
        (0.0, 0.5),
        (0.0, 1.0),
        (0.0, 2.0),
        (0.0, 4.0),
        (0.0, 4.0),
        (0.0, 4.0),
    ]
    assert inv.sleeps == [high / 2 for _, high in ranges]


def test_a_write_throttled_until_the_time_runs_out_is_counted_and_alerted_at_once(
    harness: Harness,
) -> None:
    # Given PutSecretValue throttled for good and a platform that rotated the refresh token
    name = harness.add_secret()
    harness.store.fail_on["put_pending"] = _throttled(1000)
    inv = Invocation(left_ms=25_000)
    # When createSecret runs
    with pytest.raises(PendingWriteLost) as caught:
        _create(harness, inv, name)
    # Then it retried until only the reserve was left, and said so loudly
    assert caught.value.error_class is ErrorClass.TRANSIENT
    assert inv.left_ms > 0
    assert inv.left_ms < 3_000 + 4_000
    assert harness.provider.refresh_calls == 1
    assert ("RefreshedValueLost", "fake", "refresh-token-rotated", 1) in harness.metrics.points
    events = [a.event for a in harness.notifier.alerts]
    assert events[0] is AlertEvent.REFRESH_FAILED  # at once, not after three failures
    assert "reconnect" in harness.notifier.alerts[0].message
    # And the stored token is untouched: the next rotation starts from it
    assert harness.store.current_doc(name).refresh_token == INITIAL_REFRESH


def test_a_lost_value_of_a_non_rotating_platform_is_counted_but_not_alerted_at_once(
    harness: Harness,
) -> None:
    # Given a platform that keeps its refresh token (Google-like)
    harness.provider.rotate_refresh_token = False
    name = harness.add_secret()
    harness.store.fail_on["put_pending"] = _throttled(1000)
    # When the write never succeeds in time
    with pytest.raises(PendingWriteLost, match="could not be stored"):
        _create(harness, Invocation(left_ms=25_000), name)
    # Then it is counted, and only the ordinary failure policy alerts (the token expires soon)
    assert ("RefreshedValueLost", "fake", "refresh-token-kept", 1) in harness.metrics.points
    assert not any("new refresh token" in a.message for a in harness.notifier.alerts)


def test_too_little_time_left_does_not_spend_the_refresh_token(harness: Harness) -> None:
    # Given an invocation with 10 s left (less than a refresh and its write need)
    name = harness.add_secret()
    # When createSecret runs
    with pytest.raises(ProviderError, match="platform was not called") as caught:
        _create(harness, Invocation(left_ms=10_000), name)
    # Then the platform was not called and nothing was written
    assert caught.value.error_class is ErrorClass.TRANSIENT
    assert harness.provider.refresh_calls == 0
    assert "put_pending" not in [op for op, _ in harness.store.calls]


def test_a_non_retryable_write_error_is_not_retried(harness: Harness) -> None:
    # Given PutSecretValue refused for a reason retrying cannot fix
    name = harness.add_secret()
    harness.store.fail_on["put_pending"] = [client_error("AccessDeniedException", "PutSecretValue")]
    inv = Invocation(left_ms=50_000)
    # When createSecret runs
    with pytest.raises(Exception, match="AccessDenied"):
        _create(harness, inv, name)
    # Then it was tried once, without a sleep
    assert inv.sleeps == []
    assert [op for op, _ in harness.store.calls].count("put_pending") == 1


def test_a_context_whose_clock_stands_still_cannot_keep_the_retries_going(
    harness: Harness,
) -> None:
    # Given an invocation that always says 20 s are left, and PutSecretValue throttled for good
    name = harness.add_secret()
    harness.store.fail_on["put_pending"] = _throttled(1000)
    inv = Invocation(left_ms=20_000)
    harness.engine.writer.retry = WriteRetry(sleep=inv.sleeps.append, jitter=lambda _l, h: h)
    harness.store.start_rotation(name, VERSION)
    event = {"Step": "createSecret", "SecretId": name, "ClientRequestToken": VERSION}
    # When createSecret runs
    with pytest.raises(PendingWriteLost, match="could not be stored"):
        harness.engine.run(RotationRequest.from_event(event), lambda: 20_000)
    # Then its own sleeps used up the 20 s it was given, less the reserve, and it stopped
    assert 20 - 3 - 4 <= sum(inv.sleeps) <= 20 - 3
