"""The rotation queue (DispatchMode=queue): the job a message carries, and the SQS dispatcher.

The sweep decides; each due secret becomes one SQS message (SendMessageBatch, 10 per call) that the
Worker function turns into a rotation (sweep/dispatch.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from token_refresher.adapters.errors import error_code
from token_refresher.errors import ConfigError
from token_refresher.timeutil import format_iso, parse_iso

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_BATCH_MAX = 10  # SendMessageBatch entries per call


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


class Dispatcher(Protocol):
    """What the sweep hands due secrets to in queue mode."""

    def enqueue(self, jobs: list[RotationJob]) -> EnqueueResult: ...


@dataclass
class EnqueueResult:
    enqueued: list[str]
    failed: list[tuple[str, str]]  # (secret id, error code)


class QueueDispatcher:
    """Sends jobs to the rotation queue: 10 per SendMessageBatch, ``senders`` batches in flight,
    entries SQS refused retried once, a batch that fails as a whole reported per secret."""

    def __init__(self, sqs_client: SQSClient, queue_url: str, *, senders: int = 8) -> None:
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
            return dict.fromkeys(range(len(batch)), error_code(exc))
        return {int(f["Id"]): str(f.get("Code", "Failed")) for f in resp.get("Failed", [])}
