"""Is this candidate to be rotated now, and why: the due rule (due.py) for a scheduled sweep, the
request's own terms for a manual one (force, the minimum interval, the forced-rotation floor)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from token_refresher.due import Candidate, RefreshAhead, Verdict, decide, last_rotation
from token_refresher.starter import RotationStarter, force_floor_refusal
from token_refresher.sweep_request import SweepRequest


class Decider:
    def __init__(
        self, starter: RotationStarter, policies: Mapping[str, RefreshAhead] | None = None
    ) -> None:
        self.starter = starter  # its minimum interval and forced-rotation floor
        remaining = dict(policies or {})
        self.policy = remaining.pop("*", RefreshAhead())
        self.provider_policies = remaining

    def verdict(self, cand: Candidate, request: SweepRequest, now: datetime) -> Verdict:
        last = last_rotation(cand.tags, cand.last_rotated)
        recent = last is not None and now - last < self.starter.min_interval
        within = f"rotated less than {self.starter.recent_text} ago"
        if request.scheduled and cand.pending:  # the starter finishes it if stuck
            return Verdict(True, "rotation pending: finished if stuck")
        if request.scheduled:
            policy = self.provider_policies.get(cand.provider, self.policy)
            verdict = decide(cand.tags, now, policy, last_rotated=cand.last_rotated)
            if verdict.due and recent:
                return Verdict(False, within)
            return verdict
        if recent and not request.force:
            return Verdict(False, f"{within} (use force to override)")
        floored = request.force and force_floor_refusal(cand.tags, now, self.starter.force_floor)
        if floored:
            return Verdict(False, floored)
        why = "forced manual rotation" if request.force else "manual rotation"
        return Verdict(True, f"{why}: {request.reason}" if request.reason else why)
