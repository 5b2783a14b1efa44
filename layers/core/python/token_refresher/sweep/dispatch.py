"""Fan-out past one invocation: the sweep enqueues due secret ids, queue workers start rotations.

``DispatchMode=queue`` in the template. A scheduled sweep then only lists and decides; each due
secret becomes one SQS message (adapters/queue.py), and the Worker function, whose reserved
concurrency is sized to the RotateSecret quota, starts each record's rotation through the same
RotationStarter the sweep uses. SQS delivers at least once: the starter describes the secret first
and skips one rotated within the minimum interval, so a redelivered message never makes a second
version.

The capacity arithmetic that sizes concurrency from the Secrets Manager quotas is the benchmarks'
(bench/capacity.py): nothing in a function uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from token_refresher.adapters.queue import RotationJob
from token_refresher.observability import logger
from token_refresher.sweep.pacing import Pacer
from token_refresher.sweep.starter import RotationStarter, StartOutcome

__all__ = ["RotationWorker"]


class RotationWorker:
    """Starts the rotation of one queued secret through the RotationStarter; an exception has the
    record retried (then dead-lettered). With a ``pacer`` each start waits for its slot: every
    Worker instance paces to ROTATION_START_RATE / WorkerConcurrency, so the instances together
    start no more than the sweep would (two writes per rotation in the 50/s write quota)."""

    def __init__(self, starter: RotationStarter, *, pacer: Pacer | None = None) -> None:
        self.starter = starter
        self.pacer = pacer

    @classmethod
    def paced(cls, starter: RotationStarter, rate: float) -> RotationWorker:
        """A worker starting at most ``rate`` rotations per second."""
        return cls(starter, pacer=Pacer(rate))

    def handle(self, job: RotationJob) -> StartOutcome:
        """STARTED or RESUMED (a stuck rotation finished, as the sweep does), or why not:
        NOT_FOUND, NOT_MANAGED, IN_PROGRESS, RECENT (a redelivered message, or rotated by another
        path since the sweep decided)."""
        if self.pacer is not None:
            self.pacer.wait()
        return self.starter.start(job.secret_id, decided_at=job.decided_at)

    def handle_records(self, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """An SQS batch: one rotation job per record.

        Args:
            records: the SQS event's records (``messageId``, ``body`` a RotationJob).

        Returns:
            The partial-batch response: the ids of the records that failed, so that only they
            come back (then go to the dead-letter queue).

        Raises:
            Nothing: a record's failure is logged and listed in ``batchItemFailures``.
        """
        failures: list[dict[str, str]] = []
        for record in records:
            try:
                job = RotationJob.from_body(record["body"])
                outcome = self.handle(job)
            except Exception:  # reported, not swallowed: the record returns to the queue
                logger.exception("rotation job failed", extra={"message_id": record["messageId"]})
                failures.append({"itemIdentifier": record["messageId"]})
                continue
            logger.info("rotation job", extra={"secret_id": job.secret_id, "outcome": outcome})
        return {"batchItemFailures": failures}
