"""DispatchMode=queue in the fleet simulation: the sweep's hand-over to SQS and the Worker
function, whose starts the real RotationWorker makes through the real RotationStarter.

Model: SendMessageBatch carries 10 ids at 20 ms a call, shared by the sweep's threads; the Worker
starts rotations at the same paced rate as a direct sweep (ROTATION_START_RATE), continuously,
not only while a sweep runs: that is what lets a large fleet spread its rotations over the
interval. A job the worker cannot start (throttled) is counted, not retried (SQS would redeliver
it; the next sweep decides again anyway); a duplicate the starter skips takes no paced slot.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.queue import EnqueueResult, RotationJob
from token_refresher.errors import TokenRefresherError
from token_refresher.sweep.dispatch import RotationWorker
from token_refresher.sweep.starter import StartOutcome

if TYPE_CHECKING:
    from bench.fleet.sim import Fleet

BATCH, BATCH_LATENCY_S = 10, 0.020


class SimQueue:
    def __init__(self, fleet: Fleet, rate: float) -> None:
        self.fleet = fleet
        self.worker = RotationWorker(fleet.sweep.starter)
        self.interval = timedelta(seconds=1 / rate)
        self.jobs: deque[tuple[datetime, RotationJob]] = deque()
        self.next_free = fleet.clock.now
        self.failed = 0
        self.backlog_max = 0

    def enqueue(self, jobs: list[RotationJob]) -> EnqueueResult:
        clock = self.fleet.clock
        for job in jobs:
            self.jobs.append((clock.now, job))
        batches = math.ceil(len(jobs) / BATCH)
        clock.spend(batches * BATCH_LATENCY_S)
        self.backlog_max = max(self.backlog_max, len(self.jobs))
        return EnqueueResult([j.secret_id for j in jobs], [])

    def work_until(self, until: datetime) -> None:
        """The Worker's starts from the backlog, one per ``interval``, until ``until``."""
        clock = self.fleet.clock
        started = 0
        while self.jobs and max(self.next_free, self.jobs[0][0]) < until:
            at, job = self.jobs.popleft()
            start = max(self.next_free, at)
            clock.now, clock.share = start, 1.0
            try:
                outcome = self.worker.handle(job)
            except (TokenRefresherError, AwsError):
                self.failed += 1
                outcome = None
            # Only a RotateSecret takes a paced slot; a duplicate the starter skips (in progress,
            # recent) costs its DescribeSecret, already on the clock.
            paced = outcome is None or outcome.started or outcome == StartOutcome.RESUMED
            self.next_free = max(start + self.interval, clock.now) if paced else clock.now
            started += 1
        self.fleet.counts["invocations"] += math.ceil(started / BATCH)
        self.fleet.gb_seconds += started * self.interval.total_seconds() * 128 / 1024
