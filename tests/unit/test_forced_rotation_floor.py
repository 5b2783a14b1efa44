"""A per-secret floor on forced rotations: whoever may send the manual event
cannot force-rotate a connection more than once per ForcedRotationFloorMinutes (default 60)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.fakes import TEST_INSTANCE
from tests.unit.conftest import Harness
from token_refresher.config import Settings
from token_refresher.errors import ConfigError
from token_refresher.events import RotationRequest
from token_refresher.sweep.engine import SweepEngine, SweepRequest
from token_refresher.sweep.starter import StartOutcome

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def sweeper(harness: Harness) -> SweepEngine:
    def run_steps(name: str, version_id: str) -> None:
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            event = {"Step": step, "SecretId": name, "ClientRequestToken": version_id}
            harness.engine.run(RotationRequest.from_event(event))

    harness.store.on_rotate = run_steps
    return harness.sweep_engine()


def _forced(name: str) -> SweepRequest:
    return SweepRequest.from_event({"secret_ids": [name], "force": True, "instance": TEST_INSTANCE})


def _connection(harness: Harness, name: str = "conn/forced") -> str:
    harness.add_secret(name)
    harness.store.set_tags(name, {"token-refresher:provider": "fake"})
    return name


def test_a_second_forced_rotation_within_the_floor_is_skipped_with_when_it_may_run(
    harness: Harness, sweeper: SweepEngine
) -> None:
    # Given a connection force-rotated once
    name = _connection(harness)
    assert len(sweeper.run(_forced(name)).started) == 1
    # When someone forces it again 30 minutes later (past the 10-minute guard)
    harness.clock.advance(timedelta(minutes=30))
    report = sweeper.run(_forced(name))
    # Then nothing starts, and the reason names the floor and when the next may be forced
    assert report.started == []
    [skipped] = report.skipped
    assert "one per 1 hour" in skipped["reason"]
    assert "may be forced from" in skipped["reason"]
    assert len(harness.store.rotate_calls(name)) == 1


def test_forced_requests_in_a_loop_rotate_once_per_floor(
    harness: Harness, sweeper: SweepEngine
) -> None:
    # Given someone sending a forced request every 5 minutes for 3 hours
    name = _connection(harness)
    for _ in range(36):
        sweeper.run(_forced(name))
        harness.clock.advance(timedelta(minutes=5))
    # Then the provider was asked 3 times, once per hour (unlimited before)
    assert len(harness.store.rotate_calls(name)) == 3


def test_the_dry_run_reports_the_floor_too(harness: Harness, sweeper: SweepEngine) -> None:
    name = _connection(harness)
    sweeper.run(_forced(name))
    harness.clock.advance(timedelta(minutes=20))
    dry = SweepRequest.from_event(
        {"secret_ids": [name], "force": True, "dry_run": True, "instance": TEST_INSTANCE}
    )
    report = sweeper.run(dry)
    assert report.would_rotate == []
    assert "ForcedRotationFloorMinutes" in report.skipped[0]["reason"]


def test_the_starter_applies_the_floor_to_a_forced_start_that_skipped_the_sweep(
    harness: Harness,
) -> None:
    # Given a forced rotation asked 10 minutes ago (tag force-after)
    name = _connection(harness)
    asked = int((harness.clock.now - timedelta(minutes=10)).timestamp())
    harness.store.set_tags(name, {"token-refresher:force-after": str(asked)})
    starter = harness.starter()
    # Then another forced start is refused by the starter itself (the queue worker's path too)
    assert starter.start(name, force=True) is StartOutcome.FORCE_FLOOR
    # and once the floor has passed it starts
    harness.clock.advance(timedelta(minutes=50))
    assert starter.start(name, force=True) is StartOutcome.STARTED


def test_the_floor_is_a_setting_of_at_least_the_guard() -> None:
    assert Settings.from_env({}).forced_rotation_floor == timedelta(hours=1)
    env = {"FORCED_ROTATION_FLOOR_MINUTES": "240"}
    assert Settings.from_env(env).forced_rotation_floor == timedelta(hours=4)
    with pytest.raises(ConfigError, match="FORCED_ROTATION_FLOOR_MINUTES"):
        Settings.from_env({"FORCED_ROTATION_FLOOR_MINUTES": "5"})


def test_the_forced_events_file_still_rotates_once(harness: Harness, sweeper: SweepEngine) -> None:
    name = "token-refresher/connections/meta-demo"
    _connection(harness, name)
    event = json.loads((EVENTS / "manual-rotate-one-forced.json").read_text())
    assert len(sweeper.run(SweepRequest.from_event(event)).started) == 1
    assert sweeper.run(SweepRequest.from_event(event)).started == []
