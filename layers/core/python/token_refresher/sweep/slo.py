"""Service-level gauges from the sweep's tag listing, per platform (EMF; docs/alerts.md).

- ``ConnectionsOk`` / ``ConnectionsFailing`` / ``ConnectionsReauthRequired``: connections by state;
- ``MaxHoursSinceValidation`` / ``P99HoursSinceValidation``: hours since the platform last said
  the token is good (the later of the last rotation and the last liveness check), over the live
  connections (a ``reauth-required`` one waits for its owner, not for us); the promise "a revoked
  grant alerts within 24 hours" holds while the maximum stays under 24;
- ``ConnectionsDeadlineWithin1Day`` / ``ConnectionsDeadline1To7Days`` /
  ``ConnectionsDeadline7To30Days``: connections by days to their human deadline (a deadline
  already passed counts as within a day).

The rotation success ratio is metric math over the rotation function's ``Rotations`` counts
(template.yaml's dashboard and burn-rate alarms).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from token_refresher.observability import MetricSink
from token_refresher.state import TAG_DEADLINE, TAG_STATUS, Status, epoch_tag, last_validated
from token_refresher.sweep.candidate import Candidate

__all__ = ["FLEET", "emit_slo_metrics", "p99"]

FLEET = "all"  # the provider dimension of the fleet-wide series

STATE_METRICS = {
    Status.OK: "ConnectionsOk",
    Status.FAILING: "ConnectionsFailing",
    Status.REAUTH_REQUIRED: "ConnectionsReauthRequired",
}
DEADLINE_BUCKETS = (
    ("ConnectionsDeadlineWithin1Day", timedelta(days=1)),
    ("ConnectionsDeadline1To7Days", timedelta(days=7)),
    ("ConnectionsDeadline7To30Days", timedelta(days=30)),
)


def p99(values: list[float]) -> float:
    """The nearest-rank 99th percentile (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def _status(cand: Candidate) -> Status:
    try:
        return Status(cand.tags.get(TAG_STATUS, Status.OK.value))
    except ValueError:
        return Status.OK


def emit_slo_metrics(metrics: MetricSink, candidates: Iterable[Candidate], now: datetime) -> None:
    by_provider: dict[str, list[Candidate]] = {}
    for cand in candidates:
        by_provider.setdefault(cand.provider, []).append(cand)
    oldest = 0.0
    for provider, cands in by_provider.items():
        oldest = max(oldest, _emit_platform(metrics, provider, cands, now))
    if by_provider:  # what the validation-overdue alarm watches: one series for the fleet
        metrics.gauge("MaxHoursSinceValidation", round(oldest, 2), provider=FLEET)


def _emit_platform(
    metrics: MetricSink, provider: str, cands: list[Candidate], now: datetime
) -> float:
    """One platform's gauges; returns its hours since the oldest validation."""
    states = [_status(c) for c in cands]
    for status, name in STATE_METRICS.items():
        metrics.gauge(name, states.count(status), provider=provider)
    live = [c for c, s in zip(cands, states, strict=True) if s is not Status.REAUTH_REQUIRED]
    hours = [
        (now - at).total_seconds() / 3600
        for at in (
            last_validated(c.tags, c.last_rotated) or now - timedelta(days=365) for c in live
        )
    ]
    if hours:
        metrics.gauge("MaxHoursSinceValidation", round(max(hours), 2), provider=provider)
        metrics.gauge("P99HoursSinceValidation", round(p99(hours), 2), provider=provider)
    left = [d - now for d in (epoch_tag(c.tags, TAG_DEADLINE) for c in cands) if d]
    low = timedelta(days=-36500)
    for name, high in DEADLINE_BUCKETS:
        metrics.gauge(name, sum(low < d <= high for d in left), provider=provider)
        low = high
    return max(hours, default=0.0)
