"""Capacity arithmetic for the benchmarks: concurrency and sweep plans sized from the Secrets
Manager quotas (Little's law). Models, not measurements: bench/ reports which is which."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from token_refresher.adapters.queue import SQS_BATCH_MAX
from token_refresher.config import SWEEP_TIMEOUT_SECONDS
from token_refresher.sweep.engine import SWEEP_RESERVE_MS

LIST_PAGE_SIZE = 100  # ListSecrets MaxResults
ROTATE_QUOTA_PER_S = 50.0  # RotateSecret, per region
WRITE_QUOTA_PER_S = 50.0  # PutSecretValue + UpdateSecret + UpdateSecretVersionStage, per region
WRITES_PER_ROTATION = 2  # createSecret's PutSecretValue + finishSecret's UpdateSecretVersionStage


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


SWEEP_RESERVE_SECONDS = SWEEP_RESERVE_MS // 1000  # the sweep stops starting rotations then


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
