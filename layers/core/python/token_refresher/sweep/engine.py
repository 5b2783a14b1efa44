"""The sweep: find managed secrets whose token is due, from their tags alone, and start rotations.

It never reads a secret value and never talks to a provider: refreshing happens in one place, the
rotation function, which Secrets Manager invokes for every RotateSecret the sweep starts. A
rotation already in progress is Secrets Manager's lock: the sweep skips that secret.

The sweep parses its request (sweep/request.py), looks for secrets of no instance
(sweep/adoption.py), selects (sweep/selection.py), decides (sweep/decision.py), hands each due
secret to the RotationStarter (or, in queue mode, to the rotation queue), sends deadline warnings
(sweep/deadlines.py) and reports (sweep/report.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.queue import Dispatcher, RotationJob
from token_refresher.adapters.secrets import SecretStore
from token_refresher.alerting.failures import FailureReporter, publish_alert
from token_refresher.alerting.incidents import IncidentDesk, flush_incidents
from token_refresher.alerts import Alert
from token_refresher.errors import ConfigError, TokenRefresherError
from token_refresher.observability import MetricSink, NullMetrics
from token_refresher.state import RefreshAhead
from token_refresher.sweep.adoption import UnownedSecrets, sweep_unowned
from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.deadlines import DeadlineWarner
from token_refresher.sweep.decision import Decider, decide
from token_refresher.sweep.liveness import LivenessSweep
from token_refresher.sweep.lookahead import early_starts, sweep_capacity
from token_refresher.sweep.pacing import Pacer
from token_refresher.sweep.report import SweepReport, emit_metrics, log_dry_run, log_report
from token_refresher.sweep.request import SweepRequest
from token_refresher.sweep.selection import Selector
from token_refresher.sweep.starter import RotationStarter, StartOutcome
from token_refresher.sweep.triage import plan_handover
from token_refresher.timeutil import Clock

__all__ = ["SWEEP_RESERVE_MS", "SweepEngine"]

# The sweep stops starting rotations this long before its invocation ends (the rest are deferred).
SWEEP_RESERVE_MS = 10_000

__all__ = ["RefreshAhead", "SweepEngine", "SweepReport", "SweepRequest", "decide"]


@dataclass(frozen=True)
class TimeBudget:
    """Stop starting rotations when less than ``reserve_ms`` of the invocation is left."""

    time_left_ms: Callable[[], int] | None
    reserve_ms: int

    def exhausted(self) -> bool:
        return self.time_left_ms is not None and self.time_left_ms() < self.reserve_ms


class SweepEngine:
    """Lists and decides; starts due rotations through the ``starter`` (direct) or, with a
    ``dispatcher``, hands a scheduled sweep's due secrets to the rotation queue (queue mode; manual
    requests stay direct so that their caller sees each outcome)."""

    def __init__(  # noqa: PLR0913 - AWS adapters and the starter passed in; the limits keyword-only
        self,
        store: SecretStore,
        notifier: Notifier,
        starter: RotationStarter,
        *,
        policies: Mapping[str, RefreshAhead] | None = None,
        concurrency: int = 8,
        metrics: MetricSink | None = None,
        reserve_ms: int = SWEEP_RESERVE_MS,
        dispatcher: Dispatcher | None = None,
        adopt_untagged: bool = False,
        adopt_on_request: bool = False,
        sweep_interval: timedelta = timedelta(minutes=15),
        liveness: LivenessSweep | None = None,
        incidents: IncidentDesk | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.pacer = pacer
        self.liveness = liveness
        self.incidents = incidents
        self.store = store
        self.starter = starter
        self.instance = starter.instance  # one instance: the starter's
        self.adopt_untagged = adopt_untagged
        self.adopt_on_request = adopt_on_request or adopt_untagged
        self.sweep_interval = sweep_interval
        self.notifier = notifier
        self.clock: Clock = starter.clock
        self.decider = Decider(starter, policies)
        self.concurrency = max(1, concurrency)
        self.metrics = metrics or NullMetrics()
        self.reserve_ms = reserve_ms
        self.dispatcher = dispatcher
        self.warner = DeadlineWarner(store, notifier)
        self.failures = FailureReporter(
            store, notifier, metrics=self.metrics, clock=self.clock, incidents=incidents
        )
        self.selector = Selector(store, self.instance, self.failures)

    def run(
        self, request: SweepRequest, *, time_left_ms: Callable[[], int] | None = None
    ) -> SweepReport:
        """One sweep: select this instance's connections from tags, decide which are due, start
        (or enqueue) their rotations, ask for the day's liveness checks, and report.

        Args:
            request: scheduled or manual, dry run, force, and the instance a manual one is for.
            time_left_ms: the invocation's remaining time (Lambda's context), to stop starting
                rotations ``reserve_ms`` before the end (the rest are reported as deferred).

        Returns:
            The report: scanned, due, started, deferred, refused and the checks requested.

        Raises:
            ConfigError: a manual request names another instance.
            AwsError: listing the secrets failed (a single secret's failure is reported instead).
        """
        started = time.monotonic()
        now = self.clock()
        if not request.scheduled and request.instance != self.instance:
            raise ConfigError(
                f"this request is for instance {request.instance!r}; this deployment is "
                f"{self.instance!r}",
                field="detail.instance",
            )
        report = SweepReport(scheduled=request.scheduled, dry_run=request.dry_run)
        budget = TimeBudget(time_left_ms, self.reserve_ms)
        sweep_unowned(
            UnownedSecrets(self.store, self._publish, self.instance),
            request,
            report,
            now,
            adopt_untagged=self.adopt_untagged,
            adopt_on_request=self.adopt_on_request,
            sweep_interval=self.sweep_interval,
        )
        candidates = self.selector.select(request, report)
        report.scanned = len(candidates)
        due = self._decide(candidates, request, report, now)
        if request.scheduled and not request.dry_run:
            due = plan_handover(
                candidates, due, report, now, interval=self.sweep_interval, pacer=self.pacer
            )
        elif not request.dry_run:  # manual: concurrent requests do not walk the list in lockstep
            random.shuffle(due)  # nosec B311 # ordering only
        if request.dry_run:
            report.would_rotate = [{"secret_id": c.secret_id, "reason": r} for c, r in due]
        elif self.dispatcher is not None and request.scheduled:
            self._enqueue(self.dispatcher, due, report, now)
        else:
            self._start_rotations(due, report, force=request.force, budget=budget)
        if request.scheduled and not request.dry_run and self.liveness is not None:
            self.liveness.run(candidates, report, now, budget.exhausted, self.concurrency)
        if request.scheduled and not request.dry_run:
            flush_incidents(self.incidents)
        emit_metrics(self.metrics, candidates, report, now)
        if request.dry_run:
            log_dry_run(report)
        log_report(request, report, time.monotonic() - started)
        return report

    def _publish(self, alert: Alert) -> None:
        publish_alert(self.notifier, alert)

    # --- decision ------------------------------------------------------------------------------

    def _decide(
        self, candidates: list[Candidate], request: SweepRequest, report: SweepReport, now: datetime
    ) -> list[tuple[Candidate, str]]:
        due: list[tuple[Candidate, str]] = []
        not_due: list[Candidate] = []
        for cand in candidates:
            verdict = self.decider.verdict(cand, request, now)
            if verdict.due:
                due.append((cand, verdict.reason))
            elif not request.scheduled:
                report.skipped.append({"secret_id": cand.secret_id, "reason": verdict.reason})
            else:
                not_due.append(cand)
            if request.scheduled and not request.dry_run:
                report.warnings_sent += self.warner.warn(cand, now)
        if self.pacer is not None and not_due:
            capacity = sweep_capacity(self.pacer.rate, self.sweep_interval)
            early = early_starts(
                self.decider, not_due, now, interval=self.sweep_interval, capacity=capacity
            )
            due += [(c, "started ahead of its window: an onboarding burst") for c in early]
        report.due = len(due)
        report.due_ids = [c.secret_id for c, _ in due]
        return due

    # --- hand-over -----------------------------------------------------------------------------

    def _start_rotations(
        self,
        due: list[tuple[Candidate, str]],
        report: SweepReport,
        *,
        force: bool,
        budget: TimeBudget,
    ) -> None:
        order = [c for c, _ in due]

        def start(cand: Candidate) -> tuple[Candidate, StartOutcome | None, str | None]:
            if budget.exhausted():
                return cand, None, None
            if self.pacer is not None:
                self.pacer.wait()
            try:
                return cand, self.starter.start(cand.secret_id, force=force), None
            except AwsError as exc:  # before the root it derives from: the report names the code
                return cand, None, exc.code
            except TokenRefresherError as err:
                return cand, None, err.message

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            results = list(pool.map(start, order))
        for cand, outcome, error in results:
            if outcome is None and error is None:
                report.deferred.append(cand.secret_id)
            elif outcome is None:
                # The rotation function alerts on its own failures; a refused RotateSecret is only
                # ours to report (the function never ran).
                report.errors.append(
                    {"secret_id": cand.secret_id, "error": error or "", "error_class": "rotation"}
                )
            elif outcome.started:
                report.started.append(cand.secret_id)
            else:
                report.skipped.append({"secret_id": cand.secret_id, "reason": outcome.reason})

    def _enqueue(
        self,
        dispatcher: Dispatcher,
        due: list[tuple[Candidate, str]],
        report: SweepReport,
        now: datetime,
    ) -> None:
        jobs = [RotationJob(c.secret_id, reason, now) for c, reason in due]
        try:
            result = dispatcher.enqueue(jobs)
        except AwsError as exc:
            report.errors += [
                {"secret_id": j.secret_id, "error": exc.code, "error_class": "dispatch"}
                for j in jobs
            ]
            return
        report.enqueued = result.enqueued
        report.errors += [
            {"secret_id": secret_id, "error": code, "error_class": "dispatch"}
            for secret_id, code in result.failed
        ]
