"""One fleet run: onboard N connections in one burst, then sweep every ``rate`` minutes (plus the
schedule's jitter) for ``hours``, running every rotation and liveness check the real engines start.

Assumptions (docs/fleet.md, "Model"): RotateSecret returns at once and the rotation function runs
right after it, as an asynchronous invocation would; a failed step is not retried by Lambda (the
next sweep finds the rotation pending and the starter finishes or restarts it), the conservative
reading while the docs leave it open. Each rotation and liveness check runs on its own timeline
(its own Lambda instance), up to ``concurrency`` at once; the sweep's per-secret calls share its
8 threads.
"""

from __future__ import annotations

import heapq
import json
import random
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.alarms import documented_oncall_filter, matches
from tests.support.fakes import TEST_INSTANCE
from tests.support.incidents import InMemoryIncidentStore

from bench.fleet.model import SPECS, Incident, Platform, QuotaStore, SimClock
from bench.fleet.queue import SimQueue
from token_refresher.adapters.errors import AwsError
from token_refresher.alerting import failures
from token_refresher.alerting.incidents import IncidentDesk
from token_refresher.alerting.notices import token_tags
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.errors import TokenRefresherError
from token_refresher.events import RotationRequest
from token_refresher.http import HttpClient
from token_refresher.model import TokenDocument
from token_refresher.providers.base import ProviderContext
from token_refresher.rotation.check import ConnectionChecker
from token_refresher.rotation.engine import RotationEngine
from token_refresher.rotation.factory import build_rotation_engine
from token_refresher.rotation.liveness import LivenessCheck, LivenessRequest
from token_refresher.rotation.pending_write import WriteRetry
from token_refresher.state import TAG_APP_INSTANCES, TAG_LAST_ROTATED, TAG_MANAGED, RefreshAhead
from token_refresher.sweep.engine import SweepEngine
from token_refresher.sweep.liveness import DEFAULT_CHECK_RATE, LivenessSweep
from token_refresher.sweep.pacing import DEFAULT_START_RATE, Pacer
from token_refresher.sweep.request import SweepRequest
from token_refresher.sweep.starter import RotationStarter
from token_refresher.timeutil import to_epoch

# The platform mix of an agency fleet (model assumption, docs/fleet.md).
MIX = {
    "meta": 0.35,
    "google_ads": 0.20,
    "linkedin": 0.15,
    "tiktok": 0.20,
    "microsoft_ads": 0.05,
    "amazon_ads": 0.05,
}
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ARN = "arn:aws:lambda:us-east-1:000000000000:function:rotation"
SWEEP_TIMEOUT_S, ROTATION_TIMEOUT_S, MEMORY_MB = 900, 60, 256
SWEEP_THREADS = 8


@dataclass
class RecordedAlerts:
    """What reached the alert topic: every message, who was told to re-authorize (one by one or
    in a digest), and what the documented on-call filter (docs/alerts.md) lets through."""

    sent: list[tuple[str, str, datetime]] = field(default_factory=list)
    reauth: list[tuple[str, datetime]] = field(default_factory=list)
    pages: Counter[str] = field(default_factory=Counter)
    oncall: dict[str, Any] = field(default_factory=documented_oncall_filter)

    def publish(self, alert: Alert) -> None:
        self.sent.append((alert.secret_id, alert.event.value, alert.occurred_at))
        if alert.event is AlertEvent.REAUTH_REQUIRED:
            self.reauth.append((alert.secret_id, alert.occurred_at))
        self.reauth += [(secret_id, alert.occurred_at) for secret_id, _url in alert.links]
        if matches(self.oncall, alert.attributes()):
            self.pages[alert.event.value] += 1


@dataclass
class Run:
    size: int
    hours: float
    rate_minutes: int = 15
    concurrency: int = 1000  # the rotation function's concurrency (unreserved: the account's)
    seed: int = 7
    measure_memory: bool = True
    incidents: bool = True
    start_rate: float = DEFAULT_START_RATE  # ROTATION_START_RATE
    queue: bool = False  # DispatchMode=queue
    grouped: bool = True  # Incidents=true (the default): the incident desk groups failures


def model_engines(  # noqa: PLR0913 - the models, then the rng and the desk keyword-only
    store: QuotaStore,
    alerts: RecordedAlerts,
    clock: SimClock,
    platforms: Mapping[str, Platform],
    *,
    rng: random.Random | None = None,
    incidents: IncidentDesk | None = None,
) -> tuple[RotationEngine, LivenessCheck]:
    """The rotation function's engines as the default deploy builds them (runtime.py: app
    secrets bound to the instance), on the model's store, platforms and clock; the write retry's
    backoff spends simulated time. tests/integration/test_fleet_model_parity.py holds their calls
    to what the functions make on LocalStack."""
    ctx = ProviderContext(http=HttpClient(sleep=lambda _s: None), clock=clock)
    jitter = (rng or random.Random(0)).uniform
    engine = build_rotation_engine(
        store, alerts, ctx, instance=TEST_INSTANCE, providers=platforms.__getitem__,
        write_retry=WriteRetry(sleep=clock.spend, jitter=jitter), apps_bound=True,
        incidents=incidents,
    )  # fmt: skip
    checker = ConnectionChecker(
        store, ctx, platforms.__getitem__, engine.apps.for_token, instance=TEST_INSTANCE
    )
    return engine, LivenessCheck(checker, engine.failures, instance=TEST_INSTANCE)


class Fleet:
    def __init__(self, run: Run) -> None:
        self.run = run
        self.rng = random.Random(run.seed)
        self.clock = SimClock(T0)
        self.store = QuotaStore(self.clock)
        self.alerts = RecordedAlerts()
        self.platforms = {name: Platform(name, self.clock, self.rng) for name in SPECS}
        self.queue: list[tuple[datetime, int, str, Callable[[Callable[[], int]], object]]] = []
        self._seq = 0
        self.counts = {"rotations": 0, "rotation_failures": 0, "liveness": 0, "invocations": 0}
        self.gb_seconds = 0.0
        self.sweeps: list[dict[str, float]] = []
        self.incident_store = InMemoryIncidentStore()
        desk = (
            IncidentDesk(self.incident_store, self.alerts.publish, clock=self.clock)
            if run.grouped
            else None
        )
        self.engine, self.liveness = model_engines(
            self.store, self.alerts, self.clock, self.platforms, rng=self.rng, incidents=desk
        )
        self.store.on_rotate = self._rotation_started
        failures.TAG_RETRY_SLEEP = self.clock.spend  # tag-write backoff on the simulated clock
        interval = timedelta(minutes=run.rate_minutes)
        starter = RotationStarter(
            self.store, instance=TEST_INSTANCE, rotation_lambda_arn=ARN, clock=self.clock,
            resumer=self,
        )  # fmt: skip
        self.sweep = SweepEngine(
            self.store, self.alerts, starter, concurrency=1, sweep_interval=interval,
            policies={"*": RefreshAhead(sweep_interval=interval)},
            liveness=LivenessSweep(
                self, sweep_interval=interval,
                pacer=Pacer(DEFAULT_CHECK_RATE, monotonic=self._seconds, sleep=self._wait),
            ),
            pacer=Pacer(run.start_rate, monotonic=self._seconds, sleep=self._wait), incidents=desk,
        )  # fmt: skip
        self.sim_queue = SimQueue(self, run.start_rate) if run.queue else None
        self.sweep.dispatcher = self.sim_queue

    def _seconds(self) -> float:
        return self.clock.now.timestamp()

    def _wait(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))

    # --- onboarding ------------------------------------------------------------------------------

    def onboard(self) -> None:
        """N connections in one burst at T0, in the documented mix, each with its fresh token."""
        self.store.enforce = False  # onboarding is not what is measured
        names = [p for p, share in MIX.items() for _ in range(round(share * self.run.size))]
        for provider in {*names}:
            app = {"client_id": "c", "client_secret": "s", "provider": provider}
            self.store.create(f"apps/{provider}", app, tags={TAG_APP_INSTANCES: TEST_INSTANCE})
        for n, provider in enumerate(names):
            name = f"conn/{provider}/{n:06d}"
            platform = self.platforms[provider]
            doc = TokenDocument(
                schema=1, provider=provider, access_token=f"{provider}-a-0",
                refresh_token=platform.onboard(name), expires_at=T0 + platform.spec.lifetime,
                app_secret_id=f"apps/{provider}", options={"conn": name},
            )  # fmt: skip
            tags = token_tags(doc) | {TAG_MANAGED: "true", TAG_LAST_ROTATED: str(to_epoch(T0))}
            self.store.create(name, doc.to_json(), tags=tags)
        self.store.enforce = True

    # --- the rotation function's invocations ----------------------------------------------------

    def _rotation_started(self, name: str, version_id: str) -> None:
        arn = self.store.arn_of(self.store.name_of(name))  # the rotation event names an ARN

        def steps(time_left: Callable[[], int]) -> object:
            self.counts["rotations"] += 1
            for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                event = {"Step": step, "SecretId": arn, "ClientRequestToken": version_id}
                self.engine.run(RotationRequest.from_event(event), time_left)
                self.counts["invocations"] += 1
            return None

        self._enqueue(steps)

    def resume(self, secret_id: str, version_id: str) -> None:  # RotationResumer: stuck ones
        self._rotation_started(secret_id, version_id)

    def request(self, secret_id: str) -> None:  # LivenessRequester: the sweep asks for a check
        def check(_time_left: Callable[[], int]) -> object:
            self.counts["liveness"] += 1
            self.counts["invocations"] += 1
            return self.liveness.run(LivenessRequest(secret_id))

        self._enqueue(check)

    def _enqueue(self, work: Callable[[Callable[[], int]], object]) -> None:
        self._seq += 1
        self.queue.append((self.clock.now, self._seq, "", work))

    def drain(self) -> None:
        """Run what the sweep started, each on its own timeline, at most ``concurrency`` at once."""
        free: list[datetime] = []
        saved = self.clock.now
        for at, _seq, _kind, work in sorted(self.queue):
            start = at
            if len(free) >= self.run.concurrency:
                start = max(at, heapq.heappop(free))
            self.clock.now, self.clock.share = start, 1.0
            end_by = start + timedelta(seconds=ROTATION_TIMEOUT_S)

            def time_left(end_by: datetime = end_by) -> int:
                return int((end_by - self.clock.now).total_seconds() * 1000)

            try:
                work(time_left)
            except (TokenRefresherError, AwsError):
                self.counts["rotation_failures"] += 1
            self.gb_seconds += (self.clock.now - start).total_seconds() * MEMORY_MB / 1024
            heapq.heappush(free, self.clock.now)
        self.queue.clear()
        self.clock.now = max(saved, self.clock.now)

    # --- sweeps ----------------------------------------------------------------------------------

    def sweep_once(self, at: datetime, *, memory: bool) -> None:
        self.clock.now, self.clock.share = at, SWEEP_THREADS
        end_by = at + timedelta(seconds=SWEEP_TIMEOUT_S)

        def time_left() -> int:
            return int((end_by - self.clock.now).total_seconds() * 1000)

        wall = time.perf_counter()
        if memory:
            tracemalloc.start()
        report = self.sweep.run(SweepRequest(scheduled=True), time_left_ms=time_left)
        peak = tracemalloc.get_traced_memory()[1] if memory else 0
        if memory:
            tracemalloc.stop()
        duration = (self.clock.now - at).total_seconds()
        self.gb_seconds += duration * MEMORY_MB / 1024
        self.counts["invocations"] += 1
        self.sweeps.append(
            {
                "at_h": (at - T0).total_seconds() / 3600,
                "duration_s": duration,
                "peak_mib": peak / 2**20,
                "scanned": report.scanned,
                "wall_s": time.perf_counter() - wall,
                "deferred": len(report.deferred),
                "held": len(report.held),
                "at_risk": len(report.at_risk),
                "started": len(report.started),
            }
        )
        if self.sim_queue is not None:
            self.sim_queue.work_until(at + timedelta(minutes=self.run.rate_minutes))
        self.drain()

    def schedule_incidents(self) -> None:
        hour = timedelta(hours=1)
        self.platforms["google_ads"].incidents.append(Incident("5xx", T0 + 2 * hour, T0 + 3 * hour))
        self.platforms["tiktok"].incidents.append(
            Incident("client-secret", T0 + 18 * hour, T0 + 19 * hour)
        )
        meta = self.platforms["meta"]
        revoked = [c for c in meta.live if self.rng.random() < 0.01]
        for conn in revoked:
            meta.revoked_at[conn] = T0 + hour

    def simulate(self) -> dict[str, Any]:
        self.onboard()
        if self.run.incidents:
            self.schedule_incidents()
        end = T0 + timedelta(hours=self.run.hours)
        k, interval = 1, timedelta(minutes=self.run.rate_minutes)
        while (at := T0 + k * interval + timedelta(seconds=self.rng.uniform(0, 60))) < end:
            self.sweep_once(at, memory=self.run.measure_memory and k == 2)
            k += 1
        return self.results(end)

    def results(self, end: datetime) -> dict[str, Any]:
        from bench.fleet.measure import measure

        return measure(self, end)


def main(sizes: dict[int, float], out: str, *, queue_from: int = 100_000) -> None:
    """Each size for its hours; sizes from ``queue_from`` up in DispatchMode=queue."""
    results = []
    for size, hours in sizes.items():
        wall = time.perf_counter()
        result = Fleet(Run(size=size, hours=hours, queue=size >= queue_from)).simulate()
        result["wall_s"] = round(time.perf_counter() - wall, 1)
        print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}), flush=True)
        results.append(result)
        with open(out, "w", encoding="utf-8") as fh:  # after each size: a long run keeps its part
            json.dump(results, fh, indent=1, sort_keys=True)
