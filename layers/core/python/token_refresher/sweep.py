"""The sweep: find managed secrets whose token is due, from their tags alone, and start rotations.

It never reads a secret value and never talks to a provider: refreshing happens in one place, the
rotation function, which Secrets Manager invokes for every RotateSecret the sweep starts. A
rotation already in progress is Secrets Manager's lock: the sweep skips that secret.

The sweep selects, decides (due.py), hands each due secret to the RotationStarter (or, in queue
mode, to the rotation queue), sends deadline warnings (deadlines.py) and reports.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.queue import Dispatcher, RotationJob
from token_refresher.adapters.secrets import SecretNotFound, SecretStore
from token_refresher.adoption import ADOPTION_OFF, UnownedSecrets, scan_due
from token_refresher.deadlines import DeadlineWarner
from token_refresher.due import (
    Candidate,
    RefreshAhead,
    SweepReport,
    Verdict,
    candidate_from_listing,
    decide,
    last_rotation,
)
from token_refresher.errors import ConfigError, TokenRefresherError
from token_refresher.failures import FailureReporter, publish_alert
from token_refresher.instances import instance_name, list_own, refusal
from token_refresher.liveness import LivenessSweep
from token_refresher.observability import MetricSink, NullMetrics, logger
from token_refresher.providers import PROVIDER_NAMES
from token_refresher.starter import RotationStarter, StartOutcome, force_floor_refusal
from token_refresher.state import (
    TAG_EXPIRES_AT,
    TAG_PROVIDER,
    TAG_STATUS,
    Status,
    epoch_tag,
)
from token_refresher.timeutil import Clock, from_epoch

__all__ = ["RefreshAhead", "SweepEngine", "SweepReport", "SweepRequest", "decide"]

MANUAL_DETAIL_TYPE = "Token Rotation Requested"
MANUAL_SOURCE = "token-refresher"
MAX_SECRET_IDS = 500
EVERY_UNOWNED = "*"  # the report's secret_id when looking for secrets of no instance failed


# --- the request --------------------------------------------------------------------------------


def _flag(detail: Mapping[str, Any], name: str) -> bool:
    value = detail.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError("must be true or false", field=f"detail.{name}")
    return value


@dataclass(frozen=True)
class SweepRequest:
    scheduled: bool
    secret_ids: tuple[str, ...] = ()
    provider: str | None = None
    all: bool = False
    force: bool = False
    dry_run: bool = False
    reason: str | None = None
    instance: str | None = None  # manual requests name the instance they are meant for
    adopt_untagged: bool = False

    @property
    def selects(self) -> bool:
        """False for a manual request that only asks for adoption."""
        return self.scheduled or bool(self.secret_ids) or self.provider is not None or self.all

    @classmethod
    def from_event(cls, event: object) -> SweepRequest:
        """A scheduled event, the manual custom event, or its ``detail`` invoked directly."""
        if not isinstance(event, Mapping):
            raise ConfigError("must be a JSON object", field="event")
        if event.get("detail-type") == "Scheduled Event" or event.get("source") == "aws.events":
            return cls(scheduled=True)
        if "detail-type" in event or "source" in event:
            if event.get("source") != MANUAL_SOURCE:
                raise ConfigError(f"must be {MANUAL_SOURCE!r}", field="source")
            if event.get("detail-type") != MANUAL_DETAIL_TYPE:
                raise ConfigError(f"must be {MANUAL_DETAIL_TYPE!r}", field="detail-type")
            detail = event.get("detail")
            if not isinstance(detail, Mapping):
                raise ConfigError("must be a JSON object", field="detail")
        else:
            detail = event
        return cls._from_detail(detail)

    @classmethod
    def _from_detail(cls, detail: Mapping[str, Any]) -> SweepRequest:
        known = {"secret_ids", "provider", "all", "force", "dry_run", "reason", "instance"}
        known.add("adopt_untagged")
        unknown = sorted(set(detail) - known)
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)}", field="detail")
        ids = detail.get("secret_ids")
        if ids is not None:
            if (
                not isinstance(ids, list)
                or not ids
                or not all(isinstance(i, str) and i.strip() for i in ids)
            ):
                raise ConfigError(
                    "must be a non-empty list of secret ids", field="detail.secret_ids"
                )
            if len(ids) > MAX_SECRET_IDS:
                raise ConfigError(f"at most {MAX_SECRET_IDS} ids", field="detail.secret_ids")
        provider = detail.get("provider")
        if provider is not None and provider not in PROVIDER_NAMES:
            raise ConfigError(
                f"unknown provider; known: {', '.join(PROVIDER_NAMES)}", field="detail.provider"
            )
        everything = _flag(detail, "all")
        adopt = _flag(detail, "adopt_untagged")
        selectors = sum([ids is not None, provider is not None, everything])
        if selectors != 1 and not (adopt and selectors == 0):
            raise ConfigError(
                "exactly one of secret_ids, provider or all is required", field="detail"
            )
        reason = detail.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 256):
            raise ConfigError("must be a string of at most 256 characters", field="detail.reason")
        force, dry_run = _flag(detail, "force"), _flag(detail, "dry_run")
        return cls(
            scheduled=False,
            secret_ids=tuple(dict.fromkeys(i.strip() for i in ids or [])),
            provider=provider,
            all=everything,
            force=force,
            dry_run=dry_run,
            reason=reason,
            instance=_instance(detail),
            adopt_untagged=adopt,
        )


def _instance(detail: Mapping[str, Any]) -> str:
    instance = detail.get("instance")
    if not isinstance(instance, str):
        raise ConfigError(
            "is required: the InstanceName of the deployment this request is for "
            "(stack output InstanceName)",
            field="detail.instance",
        )
    return instance_name(instance, field="detail.instance")


# --- the sweep ----------------------------------------------------------------------------------


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

    def __init__(  # noqa: PLR0913 - collaborators and limits injected one by one by runtime.py
        self,
        store: SecretStore,
        notifier: Notifier,
        starter: RotationStarter,
        *,
        policies: Mapping[str, RefreshAhead] | None = None,
        concurrency: int = 8,
        metrics: MetricSink | None = None,
        reserve_ms: int = 10_000,
        dispatcher: Dispatcher | None = None,
        adopt_untagged: bool = False,
        adopt_on_request: bool = False,
        sweep_interval: timedelta = timedelta(minutes=15),
        liveness: LivenessSweep | None = None,
    ) -> None:
        self.liveness = liveness
        self.store = store
        self.starter = starter
        self.instance = starter.instance  # one instance: the starter's
        self.adopt_untagged = adopt_untagged
        self.adopt_on_request = adopt_on_request or adopt_untagged
        self.sweep_interval = sweep_interval
        self.notifier = notifier
        self.clock: Clock = starter.clock
        policies = dict(policies or {})
        self.policy = policies.pop("*", RefreshAhead())
        self.provider_policies = policies
        self.concurrency = max(1, concurrency)
        self.metrics = metrics or NullMetrics()
        self.reserve_ms = reserve_ms
        self.dispatcher = dispatcher
        self.warner = DeadlineWarner(store, notifier)
        self.failures = FailureReporter(store, notifier, metrics=self.metrics, clock=self.clock)

    def run(
        self, request: SweepRequest, *, time_left_ms: Callable[[], int] | None = None
    ) -> SweepReport:
        """``time_left_ms``: the invocation's remaining time (Lambda's context), to stop starting
        rotations ``reserve_ms`` before the end (the rest are reported as deferred)."""
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
        self._unowned(request, report, now)
        candidates = self._select(request, report)
        report.scanned = len(candidates)
        due = self._decide(candidates, request, report, now)
        if request.dry_run:
            report.would_rotate = [{"secret_id": c.secret_id, "reason": r} for c, r in due]
        elif self.dispatcher is not None and request.scheduled:
            self._enqueue(self.dispatcher, due, report, now)
        else:
            self._start_rotations(due, report, force=request.force, budget=budget)
        if request.scheduled and not request.dry_run and self.liveness is not None:
            self.liveness.run(candidates, report, now, budget.exhausted, self.concurrency)
        emit_metrics(self.metrics, candidates, report, now)
        if request.dry_run:
            _log_dry_run(report)
        _log_report(request, report, time.monotonic() - started)
        return report

    # --- selection -----------------------------------------------------------------------------

    def _unowned(self, request: SweepRequest, report: SweepReport, now: datetime) -> None:
        """Managed secrets of no instance: adopted when told to (a request only where the stack
        allows it: AdoptUntagged on-request or true), alerted otherwise."""
        refused = request.adopt_untagged and not self.adopt_on_request
        adopt = not refused and (
            request.adopt_untagged or (request.scheduled and self.adopt_untagged)
        )
        if not (adopt or refused) and not (
            request.scheduled and scan_due(now, self.sweep_interval)
        ):
            return
        unowned = UnownedSecrets(
            self.store, lambda alert: publish_alert(self.notifier, alert), self.instance
        )
        try:  # a refused request only lists them
            outcome = unowned.handle(adopt=adopt, dry_run=request.dry_run or refused, now=now)
        except AwsError as exc:
            report.errors.append(
                {"secret_id": EVERY_UNOWNED, "error": exc.code, "error_class": "adopt"}
            )
            return
        report.adopted, report.unowned = outcome.adopted, outcome.unowned
        if refused and outcome.unowned:
            report.errors.append(
                {"secret_id": EVERY_UNOWNED, "error": ADOPTION_OFF, "error_class": "adopt"}
            )

    def _select(self, request: SweepRequest, report: SweepReport) -> list[Candidate]:
        if not request.selects:
            return []
        if request.secret_ids:
            named = (self._named(i, report, request.dry_run) for i in request.secret_ids)
            return [c for c in named if c]
        out = []
        for entry in list_own(self.store, self.instance):
            cand = candidate_from_listing(entry)
            if request.provider is None or cand.provider == request.provider:
                out.append(cand)
        return out

    def _named(self, secret_id: str, report: SweepReport, dry_run: bool) -> Candidate | None:
        try:
            desc = self.store.describe(secret_id)
        except SecretNotFound:
            report.errors.append(
                self.failures.refused(secret_id, "secret not found", alert=not dry_run)
            )
            return None
        why = refusal(desc.tags, self.instance)
        if why is not None:  # a dry run sends nothing: reported only
            report.errors.append(self.failures.refused(secret_id, why, alert=not dry_run))
            return None
        return Candidate(
            secret_id=desc.arn,
            name=desc.name,
            provider=desc.tags.get(TAG_PROVIDER, "unknown"),
            tags=desc.tags,
            rotation_enabled=desc.rotation_enabled,
            last_rotated=from_epoch(desc.last_rotated_at) if desc.last_rotated_at else None,
        )

    # --- decision ------------------------------------------------------------------------------

    def _decide(
        self, candidates: list[Candidate], request: SweepRequest, report: SweepReport, now: datetime
    ) -> list[tuple[Candidate, str]]:
        due: list[tuple[Candidate, str]] = []
        for cand in candidates:
            verdict = self._verdict(cand, request, now)
            if verdict.due:
                due.append((cand, verdict.reason))
            elif not request.scheduled:
                report.skipped.append({"secret_id": cand.secret_id, "reason": verdict.reason})
            if request.scheduled and not request.dry_run:
                report.warnings_sent += self.warner.warn(cand, now)
        report.due = len(due)
        report.due_ids = [c.secret_id for c, _ in due]
        return due

    def _verdict(self, cand: Candidate, request: SweepRequest, now: datetime) -> Verdict:
        last = last_rotation(cand.tags, cand.last_rotated)
        recent = last is not None and now - last < self.starter.min_interval
        within = f"rotated less than {self.starter.recent_text} ago"
        if request.scheduled and cand.pending:  # the starter finishes it if stuck
            return Verdict(True, "rotation pending: finished if stuck")
        if request.scheduled:
            policy = self.provider_policies.get(cand.provider, self.policy)
            verdict = decide(cand.tags, now, policy, last_rotated=cand.last_rotated)
            if verdict.due and recent:
                return Verdict(False, within)
            return verdict
        if recent and not request.force:
            return Verdict(False, f"{within} (use force to override)")
        floored = request.force and force_floor_refusal(cand.tags, now, self.starter.force_floor)
        if floored:
            return Verdict(False, floored)
        why = "forced manual rotation" if request.force else "manual rotation"
        return Verdict(True, f"{why}: {request.reason}" if request.reason else why)

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
        # Concurrent sweeps over the same list should not walk it in lockstep.
        random.shuffle(order)  # nosec B311 # ordering only

        def start(cand: Candidate) -> tuple[Candidate, StartOutcome | None, str | None]:
            if budget.exhausted():
                return cand, None, None
            try:
                return cand, self.starter.start(cand.secret_id, force=force), None
            except TokenRefresherError as err:
                return cand, None, err.message
            except AwsError as exc:
                return cand, None, exc.code

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


# --- report -------------------------------------------------------------------------------------


def _log_report(request: SweepRequest, report: SweepReport, seconds: float) -> None:
    logger.info(
        "sweep finished",
        extra={
            "scheduled": request.scheduled,
            "dry_run": request.dry_run,
            "reason": request.reason,
            "scanned": report.scanned,
            "due": report.due,
            "started": len(report.started),
            "skipped": len(report.skipped),
            "errors": len(report.errors),
            "deferred": len(report.deferred),
            "enqueued": len(report.enqueued),
            "adopted": len(report.adopted),
            "unowned": len(report.unowned),
            "checks_requested": len(report.checks_requested),
            "seconds": round(seconds, 3),
        },
    )


def _log_dry_run(report: SweepReport) -> None:
    """One line per secret: a dry run sent through EventBridge has no caller to return to."""
    lines = [("would_rotate", w["secret_id"], w["reason"]) for w in report.would_rotate]
    lines += [("would_skip", s["secret_id"], s["reason"]) for s in report.skipped]
    lines += [("refused", e["secret_id"], e["error"]) for e in report.errors]
    for verdict, secret_id, reason in lines:
        logger.info(
            "dry run verdict",
            extra={"secret_id": secret_id, "verdict": verdict, "reason": reason, "dry_run": True},
        )


def emit_metrics(
    metrics: MetricSink, candidates: Iterable[Candidate], report: SweepReport, now: datetime
) -> None:
    """Per provider: scanned, due, started, skipped, start failures, re-auth, closest expiry."""
    by_provider: dict[str, list[Candidate]] = {}
    for cand in candidates:
        by_provider.setdefault(cand.provider, []).append(cand)
    groups = {
        "SecretsDue": set(report.due_ids),
        "RotationsStarted": set(report.started) | set(report.enqueued),
        "RotationsSkipped": {s["secret_id"] for s in report.skipped},
        "RotationStartFailures": {e["secret_id"] for e in report.errors},
    }
    for provider, cands in by_provider.items():
        ids = [c.secret_id for c in cands]
        metrics.count("SecretsScanned", provider=provider, value=len(cands))
        for name, members in groups.items():
            metrics.count(name, provider=provider, value=sum(i in members for i in ids))
        metrics.count(
            "ReauthRequired",
            provider=provider,
            value=sum(c.tags.get(TAG_STATUS) == Status.REAUTH_REQUIRED for c in cands),
        )
        expiries = [e for e in (epoch_tag(c.tags, TAG_EXPIRES_AT) for c in cands) if e]
        if expiries:
            hours = (min(expiries) - now).total_seconds() / 3600
            metrics.gauge("MinHoursToExpiry", round(hours, 2), provider=provider)
