"""An onboarding burst of short-lived tokens is spread over the sweeps before it
(sweep/lookahead.py): a sweep starts early only what the next sweeps could not start at the paced
rate."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.conftest import Harness
from token_refresher.sweep.engine import SweepRequest
from token_refresher.sweep.lookahead import CAPACITY_SHARE, sweep_capacity
from token_refresher.sweep.pacing import Pacer

pytestmark = pytest.mark.unit

SWEEP = timedelta(minutes=15)
RATE = 0.1  # starts per second: a 15-minute sweep interval starts 90, planned at 72


def epoch(harness: Harness, delta: timedelta) -> str:
    return str(int((harness.clock.now + delta).timestamp()))


def hourly(harness: Harness, name: str, *, age: timedelta) -> str:
    """A one-hour token rotated ``age`` ago."""
    harness.add_secret(name)
    harness.store.set_tags(
        name,
        {
            "token-refresher:provider": "fake",
            "token-refresher:expires-at": epoch(harness, timedelta(hours=1) - age),
            "token-refresher:last-rotated-at": epoch(harness, -age),
        },
    )
    return name


def sweeper(harness: Harness):  # type: ignore[no-untyped-def]
    pacer = Pacer(RATE, monotonic=lambda: 0.0, sleep=lambda _s: None)
    return harness.sweep_engine(pacer=pacer, sweep_interval=SWEEP)


def test_a_burst_that_the_next_sweep_could_not_start_is_started_early(harness: Harness) -> None:
    # Given 100 one-hour tokens onboarded 15 minutes ago (all due at the next sweep, 45 minutes
    # left now) and a start rate that starts 72 per sweep interval
    for n in range(100):
        hourly(harness, f"conn/{n:03d}", age=SWEEP)
    assert sweep_capacity(RATE, SWEEP) == int(RATE * 900 * CAPACITY_SHARE) == 72
    # When the scheduled sweep runs
    report = sweeper(harness).run(SweepRequest(scheduled=True))
    # Then it starts the 28 the next sweep could not, and leaves the rest to it
    assert len(report.started) == 28


def test_a_spread_fleet_starts_nothing_early(harness: Harness) -> None:
    # Given 60 one-hour tokens rotated at different times, none due yet (less than 20 minutes old)
    for n in range(60):
        hourly(harness, f"conn/{n:03d}", age=timedelta(minutes=11 + n % 8))
    # When the scheduled sweep runs
    report = sweeper(harness).run(SweepRequest(scheduled=True))
    # Then nothing is started: the next sweeps can start them all in their window
    assert report.started == []
    assert report.due == 0


def test_a_token_rotated_moments_ago_is_never_started_early(harness: Harness) -> None:
    # Given 100 one-hour tokens rotated five minutes ago (inside the minimum interval)
    for n in range(100):
        hourly(harness, f"conn/{n:03d}", age=timedelta(minutes=5))
    # When the scheduled sweep runs, then none is started
    assert sweeper(harness).run(SweepRequest(scheduled=True)).started == []
