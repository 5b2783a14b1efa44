"""Which of a sweep's due rotations go first, which wait, and which a failing platform holds back.

A sweep can find more due than the paced start rate (ROTATION_START_RATE) can start before the
next sweep: a fleet's hourly tokens after a platform's outage, a daily token type's burst, an
onboarding. A first-come order then leaves tokens with minutes left behind tokens with hours left,
or behind tokens that are already expired and that no order can save. So the sweep:

- **holds a failing platform back** (``PlatformBreaker``): when at least BREAKER_MIN of a
  provider's connections have last failed on the platform's side or on the app's (transient or
  config) and none of the provider's connections was rotated within the last ``quiet`` (two
  sweep intervals), PROBES of its due rotations go first and the rest go last, into whatever
  capacity the other providers leave. An outage then never takes the start budget from the
  platforms that work, its retries still use what is idle, and the first sweep to see a probe
  succeed releases it;
- **orders by urgency** (``urgency``): probes first; then the tokens the next sweep could not
  save any more (one interval and a rotation's lead left, or less), earliest expiry first; then
  the ones already expired, which lose a minute for every minute they wait; then the tokens that
  can wait a sweep (their window is two intervals and a lead: waiting one is what it is for).
  Expired tokens never go before ones that can still be saved in time (earliest-deadline-first's
  domino under overload), and a savable one that can wait never keeps an expired one waiting;
- **caps what one sweep hands over** at ``capacity`` (sweep/lookahead.py's ``sweep_capacity``):
  what is handed over is started before the next sweep, whatever order the queue delivers it in,
  and the rest is decided again by that sweep, its order by then more urgent. A deferred token
  the next sweep could not save is ``at_risk`` (the RotationsAtRisk metric and the
  rotations-at-risk alarm): the fleet needs more than the write quota starts in an interval.

Pure: tags and the clock only; no AWS, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from token_refresher.errors import ErrorClass
from token_refresher.state import (
    ROTATION_LEAD,
    TAG_EXPIRES_AT,
    TAG_LAST_ERROR,
    TAG_STATUS,
    Status,
    epoch_tag,
    last_rotation,
)
from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.lookahead import sweep_capacity
from token_refresher.sweep.pacing import Pacer
from token_refresher.sweep.report import SweepReport

__all__ = [
    "BREAKER_MIN",
    "PROBES",
    "PlatformBreaker",
    "Triage",
    "plan_handover",
    "triage",
    "urgency",
]

# A provider's failing connections (platform or app side) that open its breaker: below it, every
# failing connection is retried as before (a small fleet never trips it).
BREAKER_MIN = 20
# The held provider's connections one sweep still starts: the first success closes the breaker.
PROBES = 5
_PLATFORM_SIDE = {ErrorClass.TRANSIENT.value, ErrorClass.CONFIG.value}

Due = tuple[Candidate, str]


def _failing_on_platform(cand: Candidate) -> bool:
    return (
        cand.tags.get(TAG_STATUS) == Status.FAILING
        and cand.tags.get(TAG_LAST_ERROR) in _PLATFORM_SIDE
    )


@dataclass(frozen=True)
class PlatformBreaker:
    """The providers whose rotations are held this sweep, from the listing's tags alone."""

    held: frozenset[str]

    @classmethod
    def from_candidates(
        cls, candidates: Sequence[Candidate], now: datetime, *, quiet: timedelta
    ) -> PlatformBreaker:
        """Held: BREAKER_MIN or more connections failing on the platform or app side, and no
        connection of that provider rotated within ``quiet``."""
        failing: Counter[str] = Counter()
        recent: set[str] = set()
        for cand in candidates:
            if _failing_on_platform(cand):
                failing[cand.provider] += 1
            last = last_rotation(cand.tags, cand.last_rotated)
            if last is not None and now - last < quiet:
                recent.add(cand.provider)
        return cls(frozenset(p for p, n in failing.items() if n >= BREAKER_MIN and p not in recent))


def urgency(cand: Candidate, now: datetime, *, urgent_within: timedelta) -> tuple[int, datetime]:
    """Sort key, earliest expiry first within each rank: (0) tokens that would expire before the
    sweep after next could start them (``urgent_within`` left, or no expiry tag: never rotated),
    (1) expired ones, (2) tokens that can wait a sweep, and validate-only ones after them."""
    expires = epoch_tag(cand.tags, TAG_EXPIRES_AT)
    if expires is None and TAG_EXPIRES_AT not in cand.tags:
        return 0, now
    if expires is None:  # "never": validation only, no deadline of its own
        return 2, datetime.max.replace(tzinfo=now.tzinfo)
    if expires <= now:
        return 1, expires
    return (0 if expires - now <= urgent_within else 2), expires


@dataclass
class Triage:
    """The due rotations to hand over now, in order, and the ones left for a later sweep."""

    now: list[Due] = field(default_factory=list)
    later: list[Due] = field(default_factory=list)  # over this sweep's capacity
    held: list[Due] = field(default_factory=list)  # a held provider's, beyond its probes
    at_risk: list[Due] = field(default_factory=list)  # of ``later``: the next sweep is too late


def triage(
    due: Sequence[Due],
    breaker: PlatformBreaker,
    now: datetime,
    *,
    capacity: int | None,
    urgent_within: timedelta,
) -> Triage:
    """Probes of each held provider first, then the others by ``urgency``, then the rest of the
    held providers' (they take only what capacity the others leave); at most ``capacity`` (None:
    no cap) handed over now."""
    probes: list[Due] = []
    rest: list[Due] = []
    held: list[Due] = []
    urgent: set[int] = set()  # id() of the due items the next sweep could not save
    probed: Counter[str] = Counter()
    ranked = sorted(((urgency(d[0], now, urgent_within=urgent_within), d) for d in due), key=_key)
    for (rank, _expires), item in ranked:
        if rank == 0:
            urgent.add(id(item))
        provider = item[0].provider
        if provider not in breaker.held:
            rest.append(item)
        elif probed[provider] < PROBES:
            probed[provider] += 1
            probes.append(item)
        else:
            held.append(item)
    front = probes + rest
    cut = len(front) + len(held) if capacity is None else max(capacity, len(probes))
    later = front[cut:]
    return Triage(
        now=(front + held)[:cut],
        later=later,
        held=held[max(0, cut - len(front)) :],
        at_risk=[item for item in later if id(item) in urgent],
    )


def _key(ranked: tuple[tuple[int, datetime], Due]) -> tuple[int, datetime]:
    return ranked[0]


def plan_handover(  # noqa: PLR0913 - the sweep's listing, verdicts, report and its two limits
    candidates: Sequence[Candidate],
    due: Sequence[Due],
    report: SweepReport,
    now: datetime,
    *,
    interval: timedelta,
    pacer: Pacer | None,
) -> list[Due]:
    """A scheduled sweep's due rotations to hand over now, most urgent first: a failing
    platform's held back but for its probes, and no more than ``pacer`` starts before the next
    sweep (no cap without one); the rest are reported deferred or held (decided again by the next
    sweep)."""
    if not due:  # the breaker's pass over the whole listing only when something is due
        return []
    breaker = PlatformBreaker.from_candidates(candidates, now, quiet=2 * interval)
    capacity = None if pacer is None else sweep_capacity(pacer.rate, interval)
    plan = triage(due, breaker, now, capacity=capacity, urgent_within=interval + ROTATION_LEAD)
    report.deferred += [c.secret_id for c, _ in plan.later]
    report.held += [c.secret_id for c, _ in plan.held]
    report.at_risk += [c.secret_id for c, _ in plan.at_risk]
    return plan.now
