"""Start early what the next sweeps could not start in time: an onboarding burst.

A fleet onboarded at once has its short-lived tokens enter their refresh window at the same sweep:
30,000 one-hour tokens (Google, Microsoft, Amazon Ads at 100,000 connections) are all due at the
second sweep, and at the paced start rate (ROTATION_START_RATE, 20/s: the region's 50/s
PutSecretValue + UpdateSecretVersionStage quota, two writes per rotation) they take 25 minutes to
start, longer than that sweep's window leaves the last of them. So a scheduled sweep also looks at
the tokens whose window opens within the next few sweeps and, when they would be more than those
sweeps can start (``capacity`` each), starts the excess now, earliest window first:
``max over j of (tokens opening before sweep j) - j x capacity``. A fleet whose load is spread
(the steady state) starts nothing early; the burst is spread over the sweeps before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.decision import Decider

HORIZON_SWEEPS = 4
# The share of the paced start rate a sweep's due rotations may plan on (the rest: manual
# rotations, connects, resumed and retried ones, and the tail of each start's own latency).
CAPACITY_SHARE = 0.8


def sweep_capacity(start_rate: float, interval: timedelta) -> int:
    """Rotations one sweep interval can start at the paced rate, planned at CAPACITY_SHARE."""
    return int(start_rate * interval.total_seconds() * CAPACITY_SHARE)


def early_starts(
    decider: Decider,
    not_due: Iterable[Candidate],
    now: datetime,
    *,
    interval: timedelta,
    capacity: int,
) -> list[Candidate]:
    """The not-yet-due short-lived candidates to start now so that no later sweep within
    HORIZON_SWEEPS has more to start than ``capacity``; earliest window first."""
    horizon = now + interval * HORIZON_SWEEPS
    opening = sorted(
        ((opens, cand) for cand in not_due if (opens := decider.opens(cand, now)) is not None),
        key=lambda pair: pair[0],
    )
    opening = [(opens, cand) for opens, cand in opening if opens <= horizon]
    excess = 0
    for n, (opens, _cand) in enumerate(opening, start=1):
        sweeps = max(1, -(-(opens - now) // interval))  # sweep j finds it due: ceil
        excess = max(excess, n - sweeps * capacity)
    return [cand for _opens, cand in opening[:excess]]
