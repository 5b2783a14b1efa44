"""The sweep's SLO gauges (sweep/slo.py), from tags alone, per platform."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.fakes import FixedClock, RecordingMetrics
from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.report import SweepReport, emit_metrics
from token_refresher.sweep.slo import p99
from token_refresher.timeutil import to_epoch

pytestmark = pytest.mark.unit


def cand(clock: FixedClock, name: str, provider: str = "meta", **tags: str) -> Candidate:
    full = {f"token-refresher:{k.replace('_', '-')}": v for k, v in tags.items()}
    return Candidate(name, name, provider, full, True, None)


def ago(clock: FixedClock, hours: float) -> str:
    return str(to_epoch(clock.now - timedelta(hours=hours)))


def ahead(clock: FixedClock, days: float) -> str:
    return str(to_epoch(clock.now + timedelta(days=days)))


def gauges(metrics: RecordingMetrics) -> dict[tuple[str, str], float]:
    return {(name, provider): value for name, provider, _unit, value in metrics.points}


def test_the_sweep_reports_state_validation_age_and_deadlines_per_platform() -> None:
    # Given meta connections: two ok (validated 2 h and 30 h ago), one failing, one dead long ago
    clock = FixedClock()
    cands = [
        cand(clock, "a", last_rotated_at=ago(clock, 2), human_deadline=ahead(clock, 0.5)),
        cand(clock, "b", checked_at=ago(clock, 30), human_deadline=ahead(clock, 3)),
        cand(
            clock,
            "c",
            status="failing",
            last_rotated_at=ago(clock, 5),
            human_deadline=ahead(clock, 20),
        ),
        cand(
            clock,
            "d",
            status="reauth-required",
            last_rotated_at=ago(clock, 900),
            expires_at=ago(clock, 800),
            human_deadline=ahead(clock, 40),
        ),
        cand(clock, "g", provider="google_ads", expires_at=str(to_epoch(clock.now) + 7200)),
    ]
    metrics = RecordingMetrics()
    # When the sweep emits its metrics
    emit_metrics(metrics, cands, SweepReport(scheduled=True, dry_run=False), clock.now)
    got = gauges(metrics)
    # Then connections by state
    assert got[("ConnectionsOk", "meta")] == 2
    assert got[("ConnectionsFailing", "meta")] == 1
    assert got[("ConnectionsReauthRequired", "meta")] == 1
    # hours since validation over the live ones (the dead one waits for its owner)
    assert got[("MaxHoursSinceValidation", "meta")] == 30
    assert got[("P99HoursSinceValidation", "meta")] == 30
    # by days to the human deadline
    assert got[("ConnectionsDeadlineWithin1Day", "meta")] == 1
    assert got[("ConnectionsDeadline1To7Days", "meta")] == 1
    assert got[("ConnectionsDeadline7To30Days", "meta")] == 1
    # and MinHoursToExpiry leaves the dead connection out
    assert got[("MinHoursToExpiry", "google_ads")] == 2
    assert ("MinHoursToExpiry", "meta") not in got


def test_a_never_validated_connection_counts_as_a_year_old() -> None:
    clock = FixedClock()
    metrics = RecordingMetrics()
    emit_metrics(metrics, [cand(clock, "new")], SweepReport(scheduled=True, dry_run=False),
                 clock.now)  # fmt: skip
    assert gauges(metrics)[("MaxHoursSinceValidation", "meta")] == 365 * 24


def test_p99_is_the_nearest_rank() -> None:
    assert p99([]) == 0
    assert p99([float(i) for i in range(1, 101)]) == 99
    assert p99([1.0, 50.0]) == 50
