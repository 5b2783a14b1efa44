"""Fan-out past one invocation: the sweep enqueues due secret ids, queue workers start rotations.

``DispatchMode=queue`` in the template. A scheduled sweep then only lists and decides; each due
secret becomes one SQS message (SendMessageBatch, 10 per call), and the Worker function, whose
reserved concurrency is sized to the RotateSecret quota, calls RotateSecret for each record. SQS
delivers at least once: the worker describes the secret first and skips one rotated within the
minimum interval, so a redelivered message never makes a second version.

Also here: the capacity arithmetic used to size concurrency from the Secrets Manager quotas.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from token_refresher.adapters.resume import RotationResumer, pending_outcome
from token_refresher.adapters.secrets import RotationInProgress, SecretNotFound, SecretStore
from token_refresher.errors import ConfigError
from token_refresher.state import TAG_LAST_ROTATED, TAG_MANAGED
from token_refresher.timeutil import Clock, format_iso, from_epoch, parse_iso, utcnow

SQS_BATCH_MAX = 10  # SendMessageBatch entries per call
LIST_PAGE_SIZE = 100  # ListSecrets MaxResults
ROTATE_QUOTA_PER_S = 50.0  # RotateSecret, per region
WRITE_QUOTA_PER_S = 50.0  # PutSecretValue + UpdateSecret + UpdateSecretVersionStage, per region
WRITES_PER_ROTATION = 2  # createSecret's PutSecretValue + finishSecret's UpdateSecretVersionStage


# --- the message --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RotationJob:
    """One due secret, as the sweep decided it. The body never carries secret material."""

    secret_id: str
    reason: str
    decided_at: datetime

    def to_body(self) -> str:
        return json.dumps(
            {
                "secret_id": self.secret_id,
                "reason": self.reason,
                "decided_at": format_iso(self.decided_at),
            },
            sort_keys=True,
        )

    @classmethod
    def from_body(cls, body: str) -> RotationJob:
        try:
            data = json.loads(body)
        except ValueError:
            raise ConfigError("must be a JSON object", field="message body") from None
        if not isinstance(data, dict):
            raise ConfigError("must be a JSON object", field="message body")
        secret_id = data.get("secret_id")
        if not isinstance(secret_id, str) or not secret_id.strip():
            raise ConfigError("is required", field="secret_id")
        reason = data.get("reason", "")
        try:
            decided_at = parse_iso(str(data.get("decided_at", "")))
        except ValueError:
            raise ConfigError("is not an ISO-8601 timestamp", field="decided_at") from None
        return cls(secret_id.strip(), str(reason)[:256], decided_at)


# --- the sweep side -----------------------------------------------------------------------------


@dataclass
class EnqueueResult:
    enqueued: list[str]
    failed: list[tuple[str, str]]  # (secret id, error code)


class QueueDispatcher:
    """Sends jobs to the rotation queue: 10 per SendMessageBatch, ``senders`` batches in flight,
    entries SQS refused retried once, a batch that fails as a whole reported per secret."""

    def __init__(self, sqs_client: Any, queue_url: str, *, senders: int = 8) -> None:
        self._sqs = sqs_client
        self._queue_url = queue_url
        self._senders = max(1, senders)

    def enqueue(self, jobs: Sequence[RotationJob]) -> EnqueueResult:
        batches = [jobs[i : i + SQS_BATCH_MAX] for i in range(0, len(jobs), SQS_BATCH_MAX)]
        result = EnqueueResult(enqueued=[], failed=[])
        with ThreadPoolExecutor(max_workers=min(self._senders, max(1, len(batches)))) as pool:
            for enqueued, failed in pool.map(self._send_batch, batches):
                result.enqueued += enqueued
                result.failed += failed
        return result

    def _send_batch(self, batch: Sequence[RotationJob]) -> tuple[list[str], list[tuple[str, str]]]:
        refused = self._send(batch)
        if refused:  # one retry of the entries SQS refused (throttling, internal errors)
            order = sorted(refused)
            again = self._send([batch[i] for i in order])
            refused = {order[j]: code for j, code in again.items()}
        enqueued = [job.secret_id for i, job in enumerate(batch) if i not in refused]
        return enqueued, [(batch[i].secret_id, code) for i, code in sorted(refused.items())]

    def _send(self, batch: Sequence[RotationJob]) -> dict[int, str]:
        """Index in ``batch`` -> error code, for the entries SQS did not accept."""
        try:
            resp = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": job.to_body()} for i, job in enumerate(batch)
                ],
            )
        except (ClientError, BotoCoreError) as exc:
            code = _error_code(exc)
            return dict.fromkeys(range(len(batch)), code)
        return {int(f["Id"]): str(f.get("Code", "Failed")) for f in resp.get("Failed", [])}


def _error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


# --- the worker side ----------------------------------------------------------------------------


class RotationWorker:
    """Starts the rotation of one queued secret; raises to have the record retried (then DLQ)."""

    def __init__(
        self,
        store: SecretStore,
        *,
        rotation_lambda_arn: str | None,
        rotation_after_days: int | None = 7,
        min_interval: timedelta = timedelta(minutes=10),
        clock: Clock = utcnow,
        resumer: RotationResumer | None = None,
        stuck_after: timedelta = timedelta(minutes=15),
    ) -> None:
        self.store = store
        self.rotation_lambda_arn = rotation_lambda_arn
        self.rotation_after_days = rotation_after_days
        self.min_interval = min_interval
        self.clock = clock
        self.resumer = resumer
        self.stuck_after = stuck_after

    def handle(self, job: RotationJob) -> str:
        """``started`` or ``resumed`` (a stuck rotation finished, as the sweep does), or why not:
        ``not_found``, ``not_managed``, ``in_progress``, ``recent``."""
        try:
            desc = self.store.describe(job.secret_id)
        except SecretNotFound:
            return "not_found"  # deleted since the sweep: nothing to retry
        if desc.tags.get(TAG_MANAGED) != "true":
            return "not_managed"
        pending = pending_outcome(
            self.store, self.resumer, desc, now=self.clock(), stuck_after=self.stuck_after
        )
        if pending is not None:
            return "resumed" if pending == "resumed" else "in_progress"
        last = _epoch(desc.tags.get(TAG_LAST_ROTATED))
        if last is None and desc.last_rotated_at is not None:
            last = from_epoch(int(desc.last_rotated_at))
        if last is not None and (last >= job.decided_at or self.clock() - last < self.min_interval):
            return "recent"  # a redelivered message, or rotated by another path meanwhile
        lambda_arn = None if desc.rotation_enabled else self.rotation_lambda_arn
        try:
            self.store.rotate(desc.arn, lambda_arn=lambda_arn, after_days=self.rotation_after_days)
        except RotationInProgress:
            return "in_progress"
        return "started"


def _epoch(raw: str | None) -> datetime | None:
    try:
        return from_epoch(int(raw)) if raw else None
    except (ValueError, OverflowError, OSError):
        return None


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


def plan_sweep(
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
    limit_seconds: float = 900.0,
    reserve_seconds: float = 10.0,
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
