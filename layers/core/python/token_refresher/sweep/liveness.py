"""The sweep's half of the daily liveness check: which connections to validate, from tags alone.

A token is validated with its platform whenever it is rotated (testSecret), but a 60-day token
(Meta, LinkedIn) is rotated only in its last 7 days: a grant revoked in between (password change,
app removed) would stay "ok" for weeks. So every scheduled sweep also asks the rotation function to
validate some connections without rotating them (adapters/rotation_function.py;
rotation/liveness.py records the answer).

Each connection has a check deadline: its last validation (``last-rotated-at`` or ``checked-at``,
or ``unchecked-at`` for a check that could not check) plus ``24 h - margin``, where the margin is
one sweep interval plus the time to reach and run the check (``ROTATION_LEAD``): checked at the
last sweep before its deadline, or at the next one if that sweep is lost, a connection is never
more than 24 h without a validation. Connections that need none: those awaiting a human
(``reauth-required``, re-checked daily by rotation) and those whose token expires within 24 h of
their last validation (hourly and daily tokens): their rotation, due before
expiry, validates them first.

The checks are spread over the day rather than made at the deadline: a sweep asks for the
smallest number that still meets every deadline at the same pace, ``max over k of (connections
due within k sweeps) / k`` (earliest deadline first), so a fleet onboarded in one burst is checked
evenly through its first day, not all at once 24 h later. The requests are paced
(``check_rate`` per second, default 10): each check ends with one
TagResource, whose 50/s regional quota finishSecret (20 rotations/s at most) shares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

from token_refresher.adapters.errors import AwsError
from token_refresher.state import (
    ROTATION_LEAD,
    TAG_EXPIRES_AT,
    TAG_STATUS,
    TAG_UNCHECKED_AT,
    Status,
    epoch_tag,
    last_validated,
)
from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.pacing import Pacer
from token_refresher.sweep.report import SweepReport

LIVENESS_WITHIN = timedelta(hours=24)
DEFAULT_CHECK_RATE = 10.0


class LivenessRequester(Protocol):
    def request(self, secret_id: str) -> None: ...


def last_asked(cand: Candidate) -> datetime | None:
    """``state.last_validated``, or a later check that could not check (``unchecked-at``): it paces
    the requests without counting as a validation."""
    validated = last_validated(cand.tags, cand.last_rotated)
    times = [t for t in (validated, epoch_tag(cand.tags, TAG_UNCHECKED_AT)) if t]
    return max(times) if times else None


def checks_needed(deadlines: list[datetime], now: datetime, interval: timedelta) -> int:
    """How many of ``deadlines`` (sorted) to check at this sweep so that, checking as many at each
    later sweep, every one is checked by its deadline: ``max over k of n_k / k``, where ``n_k``
    deadlines fall before sweep ``k`` (this one is sweep 1; a past deadline is this sweep's).
    Rounded down: what a later sweep must make up is the connections then at their deadline."""
    needed = 0
    for n, deadline in enumerate(deadlines, start=1):
        sweeps = 1 + max(0, int((deadline - now) / interval))
        needed = max(needed, n // sweeps)
    return needed


class LivenessSweep:
    def __init__(
        self,
        requester: LivenessRequester,
        *,
        sweep_interval: timedelta,
        check_rate: float = DEFAULT_CHECK_RATE,
        pacer: Pacer | None = None,
    ) -> None:
        self.requester = requester
        self.sweep_interval = sweep_interval
        self.every = LIVENESS_WITHIN - sweep_interval - ROTATION_LEAD
        self.pacer = pacer or Pacer(check_rate)

    def deadline(self, cand: Candidate, now: datetime) -> datetime | None:
        """When ``cand`` must be checked at the latest; None when it needs no check."""
        if cand.tags.get(TAG_STATUS) == Status.REAUTH_REQUIRED:
            return None
        last = last_asked(cand)
        if last is None:
            return now
        expires_at = epoch_tag(cand.tags, TAG_EXPIRES_AT)
        if expires_at is not None and expires_at <= last + LIVENESS_WITHIN:
            return None  # its rotation, due before it expires, validates it within the day
        return last + self.every

    def select(
        self, candidates: Iterable[Candidate], skip: set[str], now: datetime
    ) -> list[Candidate]:
        """This sweep's checks: earliest deadline first, as many as keep every deadline."""
        timed = [
            (deadline, cand)
            for cand in candidates
            if cand.secret_id not in skip and (deadline := self.deadline(cand, now)) is not None
        ]
        timed.sort(key=lambda pair: pair[0])
        count = checks_needed([d for d, _ in timed], now, self.sweep_interval)
        return [cand for _, cand in timed[:count]]

    def request(self, secret_id: str) -> str | None:
        """Ask for one check, paced; the AWS error code when the request was refused."""
        self.pacer.wait()
        try:
            self.requester.request(secret_id)
        except AwsError as exc:
            return exc.code
        return None

    def run(
        self,
        candidates: Iterable[Candidate],
        report: SweepReport,
        now: datetime,
        exhausted: Callable[[], bool],
        concurrency: int,
    ) -> None:
        """The sweep's hook: ask for this sweep's checks; the report lists them (and refusals).
        Checks the time budget leaves out stay the earliest at the next sweep."""
        checks = self.select(candidates, set(report.due_ids), now)

        def ask(cand: Candidate) -> tuple[str, str | None] | None:
            return None if exhausted() else (cand.secret_id, self.request(cand.secret_id))

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            asked = [a for a in pool.map(ask, checks) if a is not None]
        report.checks_requested += [secret_id for secret_id, error in asked if error is None]
        report.errors += [
            {"secret_id": secret_id, "error": error, "error_class": "liveness"}
            for secret_id, error in asked
            if error is not None
        ]
