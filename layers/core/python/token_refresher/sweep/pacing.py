"""Start rotations no faster than the Secrets Manager write quota allows.

Each rotation writes twice through the region's shared 50 requests/s Put + UpdateSecretVersionStage
quota (createSecret's PutSecretValue, finishSecret's UpdateSecretVersionStage) and tags once
(TagResource, 50/s, shared with liveness checks and deadline warnings). Unpaced, the sweep's
threads can start ~50 rotations/s, offering ~100 writes/s. ``Pacer`` spaces the starts, across
the sweep's threads, to ``rate`` per second (ROTATION_START_RATE, default 20: 40 writes/s, leaving
a fifth of the quota to manual rotations, connects and retries).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_START_RATE = 20.0


class Pacer:
    def __init__(
        self,
        rate: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self._monotonic, self._sleep = monotonic, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Return when the next start is allowed (at most ``rate`` returns per second)."""
        with self._lock:
            now = self._monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
