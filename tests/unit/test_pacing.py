"""The sweep starts rotations no faster than ROTATION_START_RATE (sweep/pacing.py)."""

from __future__ import annotations

import pytest

from tests.unit.conftest import Harness
from token_refresher.config import Settings
from token_refresher.errors import ConfigError
from token_refresher.sweep.pacing import DEFAULT_START_RATE, Pacer
from token_refresher.sweep.request import SweepRequest

pytestmark = pytest.mark.unit

ROTATION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:rotation"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def test_the_pacer_spaces_starts_to_its_rate() -> None:
    # Given a pacer at 20 starts per second
    clock = Clock()
    pacer = Pacer(20, monotonic=clock.monotonic, sleep=clock.sleep)
    # When 41 starts are asked for at once
    for _ in range(41):
        pacer.wait()
    # Then they took two seconds: the first at once, each next one 50 ms later
    assert clock.t - 1000.0 == pytest.approx(2.0)
    assert len(clock.sleeps) == 40


def test_a_pacer_that_was_idle_does_not_burst_beyond_one_start() -> None:
    # Given a pacer that last started long ago
    clock = Clock()
    pacer = Pacer(10, monotonic=clock.monotonic, sleep=clock.sleep)
    pacer.wait()
    clock.t += 60
    # When two starts are asked for
    pacer.wait()
    pacer.wait()
    # Then only the second waited, a tenth of a second
    assert clock.sleeps == [pytest.approx(0.1)]


def test_a_sweep_starts_its_due_rotations_at_the_paced_rate(harness: Harness) -> None:
    # Given 30 due secrets and a sweep paced at 10 rotations per second
    for n in range(30):
        harness.add_secret(f"conn/fake-{n}")
    clock = Clock()
    pacer = Pacer(10, monotonic=clock.monotonic, sleep=clock.sleep)
    sweeper = harness.sweep_engine(rotation_lambda_arn=ROTATION_ARN, pacer=pacer)
    # When a scheduled sweep runs
    report = sweeper.run(SweepRequest(scheduled=True))
    # Then it started all 30, over 2.9 s of paced time
    assert len(report.started) == 30
    assert clock.t - 1000.0 == pytest.approx(2.9)


def test_the_start_rate_is_configured_and_bounded_by_the_rotate_quota() -> None:
    # Given the default and an explicit rate
    assert Settings.from_env({}).rotation_start_rate == DEFAULT_START_RATE
    assert Settings.from_env({"ROTATION_START_RATE": "12.5"}).rotation_start_rate == 12.5
    # Then a rate above RotateSecret's 50/s is refused
    with pytest.raises(ConfigError, match="ROTATION_START_RATE"):
        Settings.from_env({"ROTATION_START_RATE": "51"})
    # And the default's two writes per rotation leave a fifth of the 50/s write quota
    assert DEFAULT_START_RATE * 2 <= 0.8 * 50
