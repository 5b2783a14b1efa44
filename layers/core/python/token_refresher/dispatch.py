"""Fan-out past one invocation: the sweep enqueues due secret ids, queue workers start rotations.

``DispatchMode=queue`` in the template. A scheduled sweep then only lists and decides; each due
secret becomes one SQS message (adapters/queue.py), and the Worker function, whose reserved
concurrency is sized to the RotateSecret quota, starts each record's rotation through the same
RotationStarter the sweep uses. SQS delivers at least once: the starter describes the secret first
and skips one rotated within the minimum interval, so a redelivered message never makes a second
version.

Also here: the capacity arithmetic used to size concurrency from the Secrets Manager quotas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from token_refresher.adapters.queue import SQS_BATCH_MAX, RotationJob
from token_refresher.starter import RotationStarter, StartOutcome

LIST_PAGE_SIZE = 100  # ListSecrets MaxResults
ROTATE_QUOTA_PER_S = 50.0  # RotateSecret, per region
WRITE_QUOTA_PER_S = 50.0  # PutSecretValue + UpdateSecret + UpdateSecretVersionStage, per region
WRITES_PER_ROTATION = 2  # createSecret's PutSecretValue + finishSecret's UpdateSecretVersionStage


# --- the worker side ----------------------------------------------------------------------------


class RotationWorker:
    """Starts the rotation of one queued secret through the RotationStarter; an exception has the
    record retried (then dead-lettered)."""

    def __init__(self, starter: RotationStarter) -> None:
        self.starter = starter

    def handle(self, job: RotationJob) -> StartOutcome:
        """STARTED or RESUMED (a stuck rotation finished, as the sweep does), or why not:
        NOT_FOUND, NOT_MANAGED, IN_PROGRESS, RECENT (a redelivered message, or rotated by another
        path since the sweep decided)."""
        return self.starter.start(job.secret_id, decided_at=job.decided_at)


# --- capacity arithmetic ------------------------------------------------------------------------


def concurrency_for(rate_per_s: float, call_seconds: float) -> int:
    """Calls in flight that sustain ``rate_per_s`` when one call takes ``call_seconds`` (Little)."""
    if rate_per_s <= 0 or call_seconds <= 0:
        raise ValueError("rate and duration must be positive")
    return max(1, math.ceil(rate_per_s * call_seconds))


def rotation_concurrency(
    rotation_seconds: float,
    *,
    write_quota_per_s: float = WRITE_QUOTA_PER_S,
    writes_per_rotation: int = WRITES_PER_ROTATION,
    headroom: float = 1.0,
) -> int:
    """Rotations in flight that keep the writes of all of them at ``headroom`` x the quota."""
    return concurrency_for(write_quota_per_s * headroom / writes_per_rotation, rotation_seconds)


# The SweepFunction's Timeout in template.yaml (Lambda's maximum): listing 100,000 secrets takes
# ~290 s at the slowest page time measured (docs/benchmarks.md), which 300 s would not leave room
# for; tests/unit/test_dispatch.py keeps the two equal.
SWEEP_TIMEOUT_SECONDS = 900
SWEEP_RESERVE_SECONDS = 10  # SweepEngine stops starting rotations this long before the end


@dataclass(frozen=True)
class SweepPlan:
    secrets: int
    due: int
    list_pages: int
    list_seconds: float
    start_seconds: float  # RotateSecret (direct) or SendMessageBatch (queue) for every due secret
    drain_seconds: float  # how long the rotations themselves take under the write quota
    fits: bool  # listing + starting inside the invocation limit (minus the reserve)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def plan_sweep(  # noqa: PLR0913 - the quotas as keyword parameters, each defaulting to AWS's figure
    secrets: int,
    due: int,
    *,
    page_seconds: float,
    mode: str = "direct",
    rotate_quota_per_s: float = ROTATE_QUOTA_PER_S,
    enqueue_batch_seconds: float = 0.02,
    senders: int = 8,
    write_quota_per_s: float = WRITE_QUOTA_PER_S,
    writes_per_rotation: int = WRITES_PER_ROTATION,
    limit_seconds: float = SWEEP_TIMEOUT_SECONDS,
    reserve_seconds: float = SWEEP_RESERVE_SECONDS,
) -> SweepPlan:
    """Can one sweep invocation list ``secrets`` and start ``due`` rotations within the limit?

    Pages are sequential (each needs the previous NextToken). Direct mode starts rotations no faster
    than the RotateSecret quota; queue mode only sends ``due / 10`` batches with ``senders`` in
    flight. Either way the rotations then complete at most at write quota / writes per rotation.
    """
    if mode not in ("direct", "queue"):
        raise ValueError("mode must be direct or queue")
    pages = max(1, math.ceil(secrets / LIST_PAGE_SIZE))
    list_seconds = pages * page_seconds
    if mode == "direct":
        start_seconds = due / rotate_quota_per_s
    else:
        start_seconds = math.ceil(due / SQS_BATCH_MAX) * enqueue_batch_seconds / max(1, senders)
    drain_seconds = due * writes_per_rotation / write_quota_per_s
    fits = list_seconds + start_seconds <= limit_seconds - reserve_seconds
    return SweepPlan(
        secrets=secrets,
        due=due,
        list_pages=pages,
        list_seconds=round(list_seconds, 1),
        start_seconds=round(start_seconds, 1),
        drain_seconds=round(drain_seconds, 1),
        fits=fits,
    )
