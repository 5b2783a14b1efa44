"""A sweep with more due than it can start before the next one (sweep/triage.py): the savable go
first, earliest expiry first; the expired after them; a failing platform is held back but for its
probes; and no more than the interval's capacity is handed over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.fakes import RecordingMetrics
from tests.unit.conftest import Harness
from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.engine import SweepRequest
from token_refresher.sweep.pacing import Pacer
from token_refresher.sweep.triage import (
    BREAKER_MIN,
    PROBES,
    PlatformBreaker,
    triage,
    urgency,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
QUIET = timedelta(minutes=30)
URGENT = timedelta(minutes=25)  # a 15-minute sweep interval and the 10-minute rotation lead


def cand(
    name: str,
    *,
    provider: str = "google_ads",
    expires_in: timedelta | None = timedelta(minutes=30),
    failing: str | None = None,
    rotated_ago: timedelta = timedelta(hours=1),
) -> Candidate:
    tags = {"token-refresher:last-rotated-at": str(int((NOW - rotated_ago).timestamp()))}
    if expires_in is not None:
        tags["token-refresher:expires-at"] = str(int((NOW + expires_in).timestamp()))
    if failing is not None:
        tags |= {"token-refresher:status": "failing", "token-refresher:last-error-class": failing}
    return Candidate(name, name, provider, tags, rotation_enabled=True, last_rotated=None)


def names(items: list[tuple[Candidate, str]]) -> list[str]:
    return [c.name for c, _ in items]


def test_tokens_the_next_sweep_could_not_save_go_first_then_expired_then_those_that_can_wait() -> (
    None
):
    # Given due tokens: two expired, one with 10 minutes left (the next sweep could not save it),
    # one with 30 (it can wait a sweep), and one never rotated (no expiry tag)
    due = [
        (cand("expired-long-ago", expires_in=-timedelta(hours=2)), "r"),
        (cand("ten-minutes", expires_in=timedelta(minutes=10)), "r"),
        (cand("expired-just-now", expires_in=-timedelta(minutes=1)), "r"),
        (cand("thirty-minutes", expires_in=timedelta(minutes=30)), "r"),
        (cand("new", expires_in=None), "r"),
    ]
    # When the sweep triages them with room for all
    plan = triage(due, PlatformBreaker(frozenset()), NOW, capacity=None, urgent_within=URGENT)
    # Then the ones that cannot wait go first, then the expired, then the one that can wait
    assert names(plan.now) == [
        "new", "ten-minutes", "expired-long-ago", "expired-just-now", "thirty-minutes"
    ]  # fmt: skip
    assert plan.later == plan.held == []


def test_a_never_expiring_token_sorts_after_every_expiring_one() -> None:
    # Given a validate-only token ("never") and one with an hour left
    never = Candidate("never", "never", "meta", {"token-refresher:expires-at": "never"}, True, None)
    # Then the expiring one is more urgent
    hour = cand("hour", expires_in=timedelta(hours=1))
    assert urgency(hour, NOW, urgent_within=URGENT) < urgency(never, NOW, urgent_within=URGENT)


def test_what_exceeds_the_capacity_is_deferred_the_least_urgent_first() -> None:
    # Given 10 due tokens expiring 1..10 minutes from now and capacity for 6
    due = [(cand(f"t{n:02d}", expires_in=timedelta(minutes=n)), "r") for n in range(10, 0, -1)]
    # When triaged
    plan = triage(due, PlatformBreaker(frozenset()), NOW, capacity=6, urgent_within=URGENT)
    # Then the 6 soonest are handed over and the 4 latest wait for the next sweep
    assert names(plan.now) == [f"t{n:02d}" for n in range(1, 7)]
    assert names(plan.later) == [f"t{n:02d}" for n in range(7, 11)]


def test_a_platform_whose_connections_all_fail_is_held_but_for_its_probes() -> None:
    # Given BREAKER_MIN Google connections failing transiently, none rotated in the last 30 min,
    # and 5 Amazon tokens about to expire
    google = [cand(f"g{n:03d}", failing="transient") for n in range(BREAKER_MIN)]
    soon = timedelta(minutes=20)
    amazon = [cand(f"a{n}", provider="amazon_ads", expires_in=soon) for n in range(5)]
    breaker = PlatformBreaker.from_candidates(google + amazon, NOW, quiet=QUIET)
    assert breaker.held == {"google_ads"}
    # When a sweep with capacity for PROBES + 5 triages them all
    plan = triage(
        [(c, "r") for c in google + amazon], breaker, NOW, capacity=PROBES + 5, urgent_within=URGENT
    )
    # Then Google's probes and every Amazon token go now, and the rest of Google waits
    assert names(plan.now) == names([(c, "r") for c in google[:PROBES] + amazon])
    assert len(plan.held) == BREAKER_MIN - PROBES
    assert plan.later == []


def test_a_held_platform_takes_the_capacity_the_others_leave() -> None:
    # Given a held Google and no other due token
    google = [cand(f"g{n:03d}", failing="config") for n in range(BREAKER_MIN)]
    breaker = PlatformBreaker.from_candidates(google, NOW, quiet=QUIET)
    # When the sweep has room for all of them
    plan = triage([(c, "r") for c in google], breaker, NOW, capacity=100, urgent_within=URGENT)
    # Then all are retried: an idle start budget is not kept idle
    assert len(plan.now) == BREAKER_MIN
    assert plan.held == []


@pytest.mark.parametrize(
    ("failing", "count", "rotated_ago", "held"),
    [
        ("transient", BREAKER_MIN, timedelta(hours=1), True),
        ("transient", BREAKER_MIN - 1, timedelta(hours=1), False),  # too few to be the platform
        ("reauth_required", BREAKER_MIN, timedelta(hours=1), False),  # each grant its own
        ("transient", BREAKER_MIN, timedelta(minutes=10), False),  # a probe succeeded lately
    ],
)
def test_the_breaker_opens_only_on_many_platform_side_failures_and_no_recent_success(
    failing: str, count: int, rotated_ago: timedelta, held: bool
) -> None:
    # Given ``count`` failing connections and one healthy one rotated ``rotated_ago``
    cands = [cand(f"g{n:03d}", failing=failing) for n in range(count)]
    cands.append(cand("healthy", rotated_ago=rotated_ago))
    # When the breaker is read from the listing
    breaker = PlatformBreaker.from_candidates(cands, NOW, quiet=QUIET)
    # Then the provider is held exactly when the platform looks down
    assert ("google_ads" in breaker.held) is held


def hourly(harness: Harness, name: str, minutes_left: int) -> None:
    harness.add_secret(name)
    now = harness.clock.now
    expires = now + timedelta(minutes=minutes_left)
    harness.store.set_tags(
        name,
        {
            "token-refresher:provider": "fake",
            "token-refresher:expires-at": str(int(expires.timestamp())),
            "token-refresher:last-rotated-at": str(int((now - timedelta(minutes=50)).timestamp())),
        },
    )


def test_a_scheduled_sweep_over_capacity_starts_the_most_urgent_and_reports_the_rest(
    harness: Harness,
) -> None:
    # Given 100 one-hour tokens, all due (1 to 40 minutes left), and a start rate that starts 72
    # per 15-minute interval
    for n in range(100):
        hourly(harness, f"conn/{n:03d}", minutes_left=1 + n % 40)
    names_ = [f"conn/{n:03d}" for n in range(100)]
    by_id = {harness.store.arn_of(n): n for n in names_} | {n: n for n in names_}
    pacer = Pacer(0.1, monotonic=lambda: 0.0, sleep=lambda _s: None)
    engine = harness.sweep_engine(pacer=pacer, sweep_interval=timedelta(minutes=15))
    # When the scheduled sweep runs
    report = engine.run(SweepRequest(scheduled=True))
    # Then it starts 72, the soonest to expire, and reports 28 deferred to the next sweep
    assert len(report.started) == 72
    assert len(report.deferred) == 28
    tag = "token-refresher:expires-at"
    first = [int(harness.store.tags_of(by_id[s])[tag]) for s in report.started]
    later = [int(harness.store.tags_of(by_id[s])[tag]) for s in report.deferred]
    assert max(first) <= min(later)


def test_a_sweep_that_cannot_hand_over_what_the_next_sweep_could_not_save_counts_it_at_risk(
    harness: Harness,
) -> None:
    # Given 100 due one-hour tokens, 70 of them with 25 minutes or less left (the next sweep
    # would be too late for those), and a start rate that starts only 36 per interval
    for n in range(100):
        hourly(harness, f"conn/{n:03d}", minutes_left=1 + n % 40)
    metrics = RecordingMetrics()
    pacer = Pacer(0.05, monotonic=lambda: 0.0, sleep=lambda _s: None)
    engine = harness.sweep_engine(
        pacer=pacer, sweep_interval=timedelta(minutes=15), metrics=metrics
    )
    # When the scheduled sweep runs
    report = engine.run(SweepRequest(scheduled=True))
    # Then it starts 36 and reports the 34 urgent ones it could not hand over as at risk, in the
    # fleet-wide metric the rotations-at-risk alarm watches
    assert len(report.started) == 36
    assert len(report.at_risk) == 34
    assert ("RotationsAtRisk", "all", None, 34) in metrics.points
