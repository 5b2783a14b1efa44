"""One way to start a rotation, used by the sweep (direct mode) and the queue worker.

Right before RotateSecret the secret is described again (a listing or a queued message may be
minutes old): a secret deleted, no longer managed or no longer this instance's is skipped, a
rotation pending on it is left alone ("in progress") or, when stuck longer than ``stuck_after``,
finished first (its pending value is reused, never dropped), and one rotated within the minimum
interval is skipped unless forced, and a forced one is skipped when the secret's last forced
rotation (tag ``force-after``) is more recent than ``force_floor``: forced rotations of one secret
happen at most once per floor (ForcedRotationFloorMinutes, default 60), whoever asks. Then this
instance's rotation function is attached when
rotation is not set up yet or another instance's function is (a moved connection), and
RotateSecret starts it; Secrets Manager's "previous rotation isn't complete" is "in progress" too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from token_refresher.adapters.errors import NotFound, RotationInProgress
from token_refresher.adapters.secrets import AWSCURRENT, AWSPENDING, SecretDescription, SecretStore
from token_refresher.instances import name_refusal, refusal, rotation_to_attach
from token_refresher.observability import logger
from token_refresher.state import (
    MIN_ROTATION_INTERVAL,
    TAG_FORCE_AFTER,
    TAG_INSTANCE,
    TAG_MANAGED,
    epoch_tag,
    last_rotation,
)
from token_refresher.timeutil import Clock, format_iso, from_epoch, human_interval, utcnow

if TYPE_CHECKING:
    from collections.abc import Mapping


class RotationResumer(Protocol):
    def resume(self, secret_id: str, version_id: str) -> None:
        """Run the four steps for ``version_id``; raises TokenRefresherError when a step fails."""
        ...


class PendingOutcome(StrEnum):
    IN_PROGRESS = "in_progress"
    RESUMED = "resumed"


class StartOutcome(StrEnum):
    """What starting a rotation did. The value is the worker's outcome; ``reason`` the sweep's."""

    STARTED = "started"
    RESUMED = "resumed"  # a stuck rotation was finished instead
    IN_PROGRESS = "in_progress"
    RECENT = "recent"
    NOT_FOUND = "not_found"
    NOT_MANAGED = "not_managed"
    FORCE_FLOOR = "force_floor"

    @property
    def started(self) -> bool:
        return self in (StartOutcome.STARTED, StartOutcome.RESUMED)

    @property
    def reason(self) -> str:
        return _REASONS[self]


_REASONS = {
    StartOutcome.STARTED: "started",
    StartOutcome.RESUMED: "resumed",
    StartOutcome.IN_PROGRESS: "rotation already in progress",
    StartOutcome.RECENT: "rotated moments ago by another run",
    StartOutcome.NOT_FOUND: "secret deleted since it was listed",
    StartOutcome.NOT_MANAGED: f"no longer this instance's (tags {TAG_MANAGED}, {TAG_INSTANCE})",
    StartOutcome.FORCE_FLOOR: "forced rotations of one secret are limited to one per "
    "ForcedRotationFloorMinutes: not forced again yet",
}


def force_floor_refusal(tags: Mapping[str, str], now: datetime, floor: timedelta) -> str | None:
    """Why a forced rotation must wait (the last one was less than ``floor`` ago), or None."""
    last = epoch_tag(tags, TAG_FORCE_AFTER)
    if last is None or now - last >= floor:
        return None
    return (
        f"forced rotations of one secret are limited to one per {human_interval(floor)}; the "
        f"last was asked at {format_iso(last)}, the next may be forced from "
        f"{format_iso(last + floor)} (ForcedRotationFloorMinutes)"
    )


def pending_outcome(
    store: SecretStore,
    resumer: RotationResumer | None,
    desc: SecretDescription,
    *,
    now: datetime,
    stuck_after: timedelta,
) -> PendingOutcome | None:
    """A rotation pending on ``desc``: None when there is none (go ahead and rotate), else
    IN_PROGRESS, or RESUMED after finishing one stuck for ``stuck_after``."""
    pending = desc.version_with(AWSPENDING)
    if pending is None or pending == desc.version_with(AWSCURRENT):
        return None
    created = store.version_created_at(desc.arn, pending)
    age = now.timestamp() - created if created is not None else None
    if resumer is None or age is None or age < stuck_after.total_seconds():
        return PendingOutcome.IN_PROGRESS
    logger.warning(
        "finishing a rotation stuck at AWSPENDING",
        extra={"secret_id": desc.arn, "version_id": pending, "age_s": int(age)},
    )
    resumer.resume(desc.arn, pending)
    return PendingOutcome.RESUMED


class RotationStarter:
    """Re-check, then RotateSecret. AWS errors and a failed resume propagate to the caller."""

    def __init__(  # noqa: PLR0913 - the store; every setting keyword-only (instance and ARN required)
        self,
        store: SecretStore,
        *,
        instance: str,
        rotation_lambda_arn: str | None,
        rotation_after_days: int | None = 7,
        min_interval: timedelta = MIN_ROTATION_INTERVAL,
        clock: Clock = utcnow,
        resumer: RotationResumer | None = None,
        stuck_after: timedelta = timedelta(minutes=15),
        force_floor: timedelta = timedelta(hours=1),
        app_prefix: str = "",
    ) -> None:
        self.app_prefix = app_prefix  # no connection is named under it (instances.name_refusal)
        self.store = store
        self.force_floor = force_floor
        self.instance = instance
        self.rotation_lambda_arn = rotation_lambda_arn
        self.rotation_after_days = rotation_after_days
        self.min_interval = min_interval
        self.clock = clock
        self.resumer = resumer
        self.stuck_after = stuck_after

    @property
    def recent_text(self) -> str:
        """How the minimum interval reads in messages ("10 minutes")."""
        return human_interval(self.min_interval)

    def start(
        self, secret_id: str, *, force: bool = False, decided_at: datetime | None = None
    ) -> StartOutcome:
        """Start a rotation of ``secret_id``. ``decided_at``: when a queued job was decided (a
        rotation since then makes a redelivered message a no-op)."""
        try:
            desc = self.store.describe(secret_id)
            skip = self._skip(desc, force=force, decided_at=decided_at)
            if skip is not None:
                return skip
            if force:
                # Lets the rotation function refresh even within the minimum interval.
                now_epoch = str(int(self.clock().timestamp()))
                self.store.tag(desc.arn, {TAG_FORCE_AFTER: now_epoch})
            lambda_arn = rotation_to_attach(
                desc.rotation_enabled, desc.rotation_lambda_arn, self.rotation_lambda_arn
            )
            self.store.rotate(desc.arn, lambda_arn=lambda_arn, after_days=self.rotation_after_days)
        except NotFound:
            return StartOutcome.NOT_FOUND
        except RotationInProgress:
            return StartOutcome.IN_PROGRESS
        return StartOutcome.STARTED

    def _skip(
        self, desc: SecretDescription, *, force: bool, decided_at: datetime | None
    ) -> StartOutcome | None:
        if (
            refusal(desc.tags, self.instance) is not None
            or name_refusal(desc.name, self.app_prefix) is not None
        ):
            return StartOutcome.NOT_MANAGED  # not managed, or not this instance's
        now = self.clock()
        pending = pending_outcome(
            self.store, self.resumer, desc, now=now, stuck_after=self.stuck_after
        )
        if pending is PendingOutcome.RESUMED:
            return StartOutcome.RESUMED
        if pending is PendingOutcome.IN_PROGRESS:
            return StartOutcome.IN_PROGRESS
        if force:
            floored = force_floor_refusal(desc.tags, now, self.force_floor)
            return StartOutcome.FORCE_FLOOR if floored else None
        listed = from_epoch(int(desc.last_rotated_at)) if desc.last_rotated_at else None
        last = last_rotation(desc.tags, listed)
        if last is not None and (
            (decided_at is not None and last >= decided_at) or now - last < self.min_interval
        ):
            return StartOutcome.RECENT  # a redelivered message, or rotated by another path
        return None
