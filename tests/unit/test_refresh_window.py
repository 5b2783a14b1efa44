"""A short-lived token is never left expired at any allowed SweepRateMinutes.

The window (state.RefreshAhead.cover) makes the first sweep that finds a token due early enough
that, if that sweep is lost or defers the rotation, the next one still finds it alive with time
for the sweep to reach it and for one rotation. Rates that cannot do this for a one-hour token are
refused by the template (MaxValue) and by config.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.template import load_template
from token_refresher.config import Settings
from token_refresher.errors import ConfigError
from token_refresher.state import (
    MAX_SWEEP_INTERVAL,
    MIN_ROTATION_INTERVAL,
    ROTATION_LEAD,
    SHORTEST_LIFETIME,
    TAG_EXPIRES_AT,
    TAG_LAST_ROTATED,
    RefreshAhead,
)
from token_refresher.sweep.decision import decide
from token_refresher.timeutil import to_epoch

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, tzinfo=UTC)
SCHEDULE_DELAY = timedelta(minutes=1)  # how late EventBridge may fire a sweep, each time
# What must be left when the second due sweep fires: the sweep reaching the candidate within its
# budget, then one rotation (the rotation function's Timeout).
REACH_AND_ROTATE = ROTATION_LEAD - 2 * SCHEDULE_DELAY

_rate = load_template()["Parameters"]["SweepRateMinutes"]
ALLOWED_RATES = range(int(_rate["MinValue"]), int(_rate["MaxValue"]) + 1)


def _due_sweeps(
    policy: RefreshAhead, lifetime: timedelta, phase: float, delays: list[float]
) -> list[datetime]:
    """The sweeps (scheduled every policy.sweep_interval from a random phase, each up to a minute
    late) that would start a rotation of a token issued at T0, until two have or it expired."""
    interval = policy.sweep_interval
    tags = {TAG_EXPIRES_AT: str(to_epoch(T0 + lifetime)), TAG_LAST_ROTATED: str(to_epoch(T0))}
    found: list[datetime] = []
    k = 0
    while len(found) < 2:
        at = T0 + interval * (phase + k) + SCHEDULE_DELAY * delays[k % len(delays)]
        k += 1
        if at >= T0 + lifetime:
            break
        recent = at - T0 < MIN_ROTATION_INTERVAL  # Decider's minimum-interval guard
        if not recent and decide(tags, at, policy, last_rotated=None).due:
            found.append(at)
    return found


@settings(max_examples=2000, deadline=None)
@given(
    rate=st.sampled_from(ALLOWED_RATES),
    lifetime_s=st.integers(int(SHORTEST_LIFETIME.total_seconds()), 86_400),
    fraction=st.floats(0.01, 0.99),
    min_remaining_m=st.integers(1, 30),
    phase=st.floats(0, 1, exclude_max=True),
    delays=st.lists(st.floats(0, 1), min_size=1, max_size=8),
)
def test_a_missed_sweep_never_leaves_a_short_lived_token_expired(
    rate: int,
    lifetime_s: int,
    fraction: float,
    min_remaining_m: int,
    phase: float,
    delays: list[float],
) -> None:
    # Given any allowed sweep rate, any short-lived token and any REFRESH_AHEAD override
    policy = RefreshAhead(
        sweep_interval=timedelta(minutes=rate),
        fraction=fraction,
        min_remaining=timedelta(minutes=min_remaining_m),
    )
    lifetime = timedelta(seconds=lifetime_s)
    # When sweeps fire on the schedule, each up to a minute late
    due = _due_sweeps(policy, lifetime, phase, delays)
    # Then two sweeps find it due before it expires, and the second one (if the first was lost)
    # still leaves time to reach it and rotate it
    assert len(due) == 2
    assert T0 + lifetime - due[1] >= REACH_AND_ROTATE


def test_the_template_and_config_refuse_the_same_unsafe_rates() -> None:
    # Given the template's top rate and the config's
    top = max(ALLOWED_RATES)
    # Then they are state.MAX_SWEEP_INTERVAL, and one minute more is refused at start
    assert timedelta(minutes=top) == MAX_SWEEP_INTERVAL
    assert Settings.from_env({"SWEEP_INTERVAL_MINUTES": str(top)}).policy.sweep_interval == (
        MAX_SWEEP_INTERVAL
    )
    with pytest.raises(ConfigError, match="SWEEP_INTERVAL_MINUTES"):
        Settings.from_env({"SWEEP_INTERVAL_MINUTES": str(top + 1)})


def test_the_sweep_interval_reaches_every_window() -> None:
    # Given a sweep rate and a per-provider override
    cfg = Settings.from_env(
        {"SWEEP_INTERVAL_MINUTES": "20", "REFRESH_AHEAD": "google_ads.fraction=0.3"}
    )
    # Then every window covers two sweeps of that rate plus a rotation
    for policy in cfg.refresh_ahead.values():
        assert policy.cover == timedelta(minutes=40) + ROTATION_LEAD


def test_an_hourly_token_enters_its_window_two_sweeps_and_a_rotation_ahead() -> None:
    # Given a one-hour token issued at T0 and the default 15-minute sweep
    policy = RefreshAhead()
    tags = {
        TAG_EXPIRES_AT: str(to_epoch(T0 + SHORTEST_LIFETIME)),
        TAG_LAST_ROTATED: str(to_epoch(T0)),
    }
    # Then it is not due with 41 minutes left, and due with 40 (2 x 15 + 10), not at 15 as before
    assert not decide(tags, T0 + timedelta(minutes=19), policy, last_rotated=None).due
    assert decide(tags, T0 + timedelta(minutes=20), policy, last_rotated=None).due
