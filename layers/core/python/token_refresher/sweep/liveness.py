"""The sweep's half of the daily liveness check: which connections to validate, from tags alone.

A token is validated with its platform whenever it is rotated (testSecret), but a 60-day token
(Meta, LinkedIn) is rotated only in its last 7 days: a grant revoked in between (password change,
app removed) would stay "ok" for weeks. So every scheduled sweep also picks the connections whose
last validation (``last-rotated-at`` or ``checked-at``) is older than ``24 h - one sweep
interval``, and asks the rotation function to validate each without rotating
(adapters/rotation_function.py; rotation/liveness.py records the answer). Connections that
rotate at least daily
(Google, Microsoft, Amazon and TikTok account tokens, short-lived oauth2 tokens, and the
validate-only tokens the sweep already rotates daily) never need one; nor do those awaiting a
human (``reauth-required``, re-checked daily by rotation).

A revoked grant therefore alerts at most ``24 h`` after it was revoked. At most
``max(min_per_sweep, 2 x connections / sweeps per day)`` checks are requested per sweep, oldest
first, so a first deployment spreads its checks over the day.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

from token_refresher.adapters.errors import AwsError
from token_refresher.state import (
    TAG_CHECKED_AT,
    TAG_STATUS,
    TAG_UNCHECKED_AT,
    Status,
    epoch_tag,
    last_rotation,
)
from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.report import SweepReport

LIVENESS_WITHIN = timedelta(hours=24)


class LivenessRequester(Protocol):
    def request(self, secret_id: str) -> None: ...


def last_validated(cand: Candidate) -> datetime | None:
    """The last time the platform accepted or judged the token: a rotation or a liveness check."""
    times = [
        t
        for t in (last_rotation(cand.tags, cand.last_rotated), epoch_tag(cand.tags, TAG_CHECKED_AT))
        if t
    ]
    return max(times) if times else None


def last_asked(cand: Candidate) -> datetime | None:
    """:func:`last_validated`, or a later check that could not check (``unchecked-at``): it paces
    the requests without counting as a validation."""
    times = [t for t in (last_validated(cand), epoch_tag(cand.tags, TAG_UNCHECKED_AT)) if t]
    return max(times) if times else None


class LivenessSweep:
    def __init__(
        self,
        requester: LivenessRequester,
        *,
        sweep_interval: timedelta,
        min_per_sweep: int = 50,
    ) -> None:
        self.requester = requester
        self.sweep_interval = sweep_interval
        self.every = max(timedelta(hours=1), LIVENESS_WITHIN - sweep_interval)
        self.min_per_sweep = min_per_sweep

    def due(self, cand: Candidate, now: datetime) -> bool:
        if cand.tags.get(TAG_STATUS) == Status.REAUTH_REQUIRED:
            return False
        last = last_asked(cand)
        return last is None or now - last >= self.every

    def select(
        self, candidates: Iterable[Candidate], skip: set[str], now: datetime, scanned: int
    ) -> list[Candidate]:
        """The connections to check at this sweep: oldest validation first, capped."""
        due = [c for c in candidates if c.secret_id not in skip and self.due(c, now)]
        oldest = datetime.min.replace(tzinfo=now.tzinfo)
        due.sort(key=lambda c: last_asked(c) or oldest)
        sweeps_a_day = max(1, LIVENESS_WITHIN // self.sweep_interval)
        cap = max(self.min_per_sweep, math.ceil(2 * scanned / sweeps_a_day))
        return due[:cap]

    def request(self, secret_id: str) -> str | None:
        """Ask for one check; the AWS error code when the request was refused."""
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
        """The sweep's hook: ask for this sweep's checks; the report lists them (and refusals)."""
        checks = self.select(candidates, set(report.due_ids), now, report.scanned)

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
