"""The due decision, from tags alone: pure values and functions, no AWS, no I/O.

Also the sweep's candidate and report types, and the one minimum-interval setting: nothing is
rotated twice within ``MIN_ROTATION_INTERVAL`` unless forced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from token_refresher.state import (
    NEVER,
    TAG_DEADLINE,
    TAG_EXPIRES_AT,
    TAG_LAST_ALERT,
    TAG_LAST_ROTATED,
    TAG_PROVIDER,
    TAG_STATUS,
    Status,
    epoch_tag,
)
from token_refresher.timeutil import format_iso, from_epoch

if TYPE_CHECKING:
    from token_refresher.adapters.secrets import SecretSummary

MIN_ROTATION_INTERVAL = timedelta(minutes=10)


def human_interval(interval: timedelta) -> str:
    """``timedelta(minutes=10)`` -> "10 minutes" (the text messages show)."""
    minutes = round(interval.total_seconds() / 60)
    if minutes and minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def last_rotation(tags: Mapping[str, str], listed: datetime | None) -> datetime | None:
    """When the secret was last rotated: our tag, else Secrets Manager's LastRotatedDate."""
    return epoch_tag(tags, TAG_LAST_ROTATED) or listed


@dataclass(frozen=True)
class RefreshAhead:
    """When a token is due, from its tags.

    - short-lived tokens (lifetime <= ``short_lived_max``): remaining <= max(min_remaining,
      fraction x lifetime);
    - longer-lived tokens (about 60 days): remaining <= ``long_lived_ahead``;
    - tokens that never expire (validation only), or whose expiry could not be extended: checked at
      least every ``validate_every``;
    - nothing is rotated twice within ``min_interval`` unless forced.
    """

    min_remaining: timedelta = timedelta(minutes=10)
    fraction: float = 0.25
    short_lived_max: timedelta = timedelta(days=1)
    long_lived_ahead: timedelta = timedelta(days=7)
    validate_every: timedelta = timedelta(hours=24)


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
        ahead = max(policy.min_remaining, lifetime * policy.fraction)
    elif lifetime is None and remaining <= policy.short_lived_max:
        ahead = policy.short_lived_max  # unknown lifetime, less than a day left: refresh now
    else:
        ahead = policy.long_lived_ahead
    hours = remaining.total_seconds() / 3600
    if remaining <= ahead:
        return Verdict(True, f"expires in {hours:.1f} h (refresh-ahead window {ahead})")
    return Verdict(False, f"expires in {hours:.1f} h")


@dataclass
class SweepReport:
    scheduled: bool
    dry_run: bool
    scanned: int = 0
    due: int = 0
    started: list[str] = field(default_factory=list)
    would_rotate: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    warnings_sent: int = 0
    due_ids: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # secrets of no instance adopted (instances)
    unowned: list[str] = field(default_factory=list)  # secrets of no instance left (alerted)
    checks_requested: list[str] = field(default_factory=list)  # daily liveness checks (liveness.py)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheduled": self.scheduled,
            "dry_run": self.dry_run,
            "scanned": self.scanned,
            "due": self.due,
            "started": self.started,
            "would_rotate": self.would_rotate,
            "skipped": self.skipped,
            "errors": self.errors,
            "deferred": self.deferred,
            "enqueued": self.enqueued,
            "warnings_sent": self.warnings_sent,
            "adopted": self.adopted,
            "unowned": self.unowned,
            "checks_requested": self.checks_requested,
        }


@dataclass(frozen=True)
class Candidate:
    secret_id: str
    name: str
    provider: str
    tags: Mapping[str, str]
    rotation_enabled: bool
    last_rotated: datetime | None
    # An AWSPENDING version that is not AWSCURRENT: a rotation in progress, or one that crashed
    # (the starter finishes it once it is stuck), whether or not the token is due.
    pending: bool = False


def candidate_from_listing(entry: SecretSummary) -> Candidate:
    """A listed secret (tags included) as a sweep candidate."""
    return Candidate(
        secret_id=entry.arn,
        name=entry.name,
        provider=entry.tags.get(TAG_PROVIDER, "unknown"),
        tags=entry.tags,
        rotation_enabled=entry.rotation_enabled,
        last_rotated=from_epoch(entry.last_rotated_at) if entry.last_rotated_at else None,
        pending=entry.has_pending(),
    )
