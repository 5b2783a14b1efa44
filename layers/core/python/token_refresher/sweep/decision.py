"""Is this candidate to be rotated now, and why.

- ``decide``: the due rule, from tags alone (pure: no AWS, no I/O), with per-provider windows from
  ``state.RefreshAhead``;
- ``Decider``: a scheduled sweep applies ``decide``; a manual request its own terms (force, the
  minimum interval, the forced-rotation floor).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from token_refresher.state import (
    NEVER,
    TAG_DEADLINE,
    TAG_EXPIRES_AT,
    TAG_LAST_ALERT,
    TAG_STATUS,
    RefreshAhead,
    Status,
    epoch_tag,
    last_rotation,
)
from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.request import SweepRequest
from token_refresher.sweep.starter import RotationStarter, force_floor_refusal
from token_refresher.timeutil import format_iso

__all__ = ["Decider", "Verdict", "decide", "window_opens"]


class Decider:
    def __init__(
        self, starter: RotationStarter, policies: Mapping[str, RefreshAhead] | None = None
    ) -> None:
        self.starter = starter  # its minimum interval and forced-rotation floor
        remaining = dict(policies or {})
        self.policy = remaining.pop("*", RefreshAhead())
        self.provider_policies = remaining

    def opens(self, cand: Candidate, now: datetime) -> datetime | None:
        """When a short-lived ``cand`` becomes due (None for any other, or one rotated within the
        minimum interval, which must not be started early)."""
        last = last_rotation(cand.tags, cand.last_rotated)
        if cand.pending or (last is not None and now - last < self.starter.min_interval):
            return None
        policy = self.provider_policies.get(cand.provider, self.policy)
        return window_opens(cand.tags, policy, last_rotated=cand.last_rotated)

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


@dataclass(frozen=True)
class Verdict:
    due: bool
    reason: str


def decide(
    tags: Mapping[str, str], now: datetime, policy: RefreshAhead, *, last_rotated: datetime | None
) -> Verdict:
    """Is this secret due? Decided from its tags (and ListSecrets' LastRotatedDate) alone."""
    if tags.get(TAG_STATUS) == Status.REAUTH_REQUIRED:
        return _reauth_verdict(tags, now, policy)
    expires_raw = tags.get(TAG_EXPIRES_AT)
    if expires_raw is None:
        return Verdict(True, "never rotated by token-refresher (no expires-at tag)")
    expires_at = epoch_tag(tags, TAG_EXPIRES_AT)
    deadline = epoch_tag(tags, TAG_DEADLINE)
    last = last_rotation(tags, last_rotated)
    validate_only = expires_raw == NEVER or (
        expires_at is not None and deadline is not None and deadline <= expires_at
    )
    if validate_only:
        if last is None or now - last >= policy.validate_every:
            return Verdict(True, "validation due (token cannot be refreshed further)")
        return Verdict(False, "validated within the last day")
    if expires_at is None:
        return Verdict(True, "unreadable expires-at tag")
    return _expiry_verdict(expires_at, last, now, policy)


def _reauth_verdict(tags: Mapping[str, str], now: datetime, policy: RefreshAhead) -> Verdict:
    last_alert = epoch_tag(tags, TAG_LAST_ALERT)
    if last_alert is not None and now - last_alert < policy.validate_every:
        return Verdict(False, "re-authorization required; re-checked daily")
    return Verdict(True, "re-authorization required: daily re-check")


def _expiry_verdict(
    expires_at: datetime, last: datetime | None, now: datetime, policy: RefreshAhead
) -> Verdict:
    remaining = expires_at - now
    if remaining <= timedelta(0):
        return Verdict(True, f"expired at {format_iso(expires_at)}")
    lifetime = expires_at - last if last is not None and last < expires_at else None
    if lifetime is not None and lifetime <= policy.short_lived_max:
        ahead = short_lived_window(lifetime, policy)
    elif lifetime is None and remaining <= policy.short_lived_max:
        ahead = policy.short_lived_max  # unknown lifetime, less than a day left: refresh now
    else:
        ahead = policy.long_lived_ahead
    hours = remaining.total_seconds() / 3600
    if remaining <= ahead:
        return Verdict(True, f"expires in {hours:.1f} h (refresh-ahead window {ahead})")
    return Verdict(False, f"expires in {hours:.1f} h")


def short_lived_window(lifetime: timedelta, policy: RefreshAhead) -> timedelta:
    """How long before expiry a short-lived token becomes due (RefreshAhead's first rule)."""
    return max(policy.min_remaining, lifetime * policy.fraction, policy.cover)


def window_opens(
    tags: Mapping[str, str], policy: RefreshAhead, *, last_rotated: datetime | None
) -> datetime | None:
    """When a short-lived token (known lifetime, ``ok`` or ``failing``) becomes due; None for any
    other (long-lived, validate-only, awaiting a human, no expiry tag)."""
    expires_at = epoch_tag(tags, TAG_EXPIRES_AT)
    last = last_rotation(tags, last_rotated)
    if tags.get(TAG_STATUS) == Status.REAUTH_REQUIRED or expires_at is None or last is None:
        return None
    deadline = epoch_tag(tags, TAG_DEADLINE)
    lifetime = expires_at - last
    if (deadline is not None and deadline <= expires_at) or not (
        timedelta(0) < lifetime <= policy.short_lived_max
    ):
        return None
    return expires_at - short_lived_window(lifetime, policy)
