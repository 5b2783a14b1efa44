"""The sweep: find managed secrets whose token is due, from their tags alone, and start rotations.

It never reads a secret value and never talks to a provider: refreshing happens in one place, the
rotation function, which Secrets Manager invokes for every RotateSecret the sweep starts. A
rotation already in progress is Secrets Manager's lock: the sweep skips that secret.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.resume import RotationResumer, pending_outcome
from token_refresher.adapters.secrets import (
    RotationInProgress,
    SecretNotFound,
    SecretStore,
)
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.dispatch import EnqueueResult, RotationJob
from token_refresher.errors import ConfigError, TokenRefresherError
from token_refresher.observability import MetricSink, NullMetrics, logger
from token_refresher.providers import PROVIDER_NAMES
from token_refresher.state import (
    NEVER,
    TAG_DEADLINE,
    TAG_EXPIRES_AT,
    TAG_FORCE_AFTER,
    TAG_LAST_ALERT,
    TAG_LAST_ROTATED,
    TAG_MANAGED,
    TAG_PREFIX,
    TAG_PROVIDER,
    TAG_STATUS,
    Status,
    epoch_tag,
)
from token_refresher.timeutil import Clock, format_iso, from_epoch, utcnow

TAG_DEADLINE_WARNED = TAG_PREFIX + "deadline-warned"
DEADLINE_WARNINGS_DAYS = (30, 7, 1)
MANUAL_DETAIL_TYPE = "Token Rotation Requested"
MANUAL_SOURCE = "token-refresher"
MAX_SECRET_IDS = 500


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
        known = {"secret_ids", "provider", "all", "force", "dry_run", "reason"}
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
        selectors = sum([ids is not None, provider is not None, everything])
        if selectors != 1:
            raise ConfigError(
                "exactly one of secret_ids, provider or all is required", field="detail"
            )
        reason = detail.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 256):
            raise ConfigError("must be a string of at most 256 characters", field="detail.reason")
        return cls(
            scheduled=False,
            secret_ids=tuple(dict.fromkeys(i.strip() for i in ids or [])),
            provider=provider,
            all=everything,
            force=_flag(detail, "force"),
            dry_run=_flag(detail, "dry_run"),
            reason=reason,
        )


# --- the refresh-ahead policy -------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshAhead:
    """When a token is due, from its tags.

    - short-lived tokens (lifetime <= ``short_lived_max``): remaining <= max(min_remaining,
      fraction x lifetime);
    - longer-lived tokens (about 60 days): remaining <= ``long_lived_ahead``;
    - tokens that never expire (validation only), or whose expiry could not be extended: checked at
      least every ``validate_every``;
    - nothing is rotated twice within ``min_interval`` unless forced.
    """

    min_remaining: timedelta = timedelta(minutes=10)
    fraction: float = 0.25
    short_lived_max: timedelta = timedelta(days=1)
    long_lived_ahead: timedelta = timedelta(days=7)
    validate_every: timedelta = timedelta(hours=24)
    min_interval: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class Verdict:
    due: bool
    reason: str


def decide(
    tags: Mapping[str, str], now: datetime, policy: RefreshAhead, *, last_rotated: datetime | None
) -> Verdict:
    """Is this secret due? Decided from its tags (and ListSecrets' LastRotatedDate) alone."""
    last = epoch_tag(tags, TAG_LAST_ROTATED) or last_rotated
    status = tags.get(TAG_STATUS, Status.OK.value)
    if status == Status.REAUTH_REQUIRED.value:
        last_alert = epoch_tag(tags, TAG_LAST_ALERT)
        if last_alert is not None and now - last_alert < policy.validate_every:
            return Verdict(False, "re-authorization required; re-checked daily")
        return Verdict(True, "re-authorization required: daily re-check")
    expires_raw = tags.get(TAG_EXPIRES_AT)
    if expires_raw is None:
        return Verdict(True, "never rotated by token-refresher (no expires-at tag)")
    expires_at = epoch_tag(tags, TAG_EXPIRES_AT)
    deadline = epoch_tag(tags, TAG_DEADLINE)
    validate_only = expires_raw == NEVER or (
        expires_at is not None and deadline is not None and deadline <= expires_at
    )
    if expires_at is None and not validate_only:
        return Verdict(True, "unreadable expires-at tag")
    if validate_only:
        if last is None or now - last >= policy.validate_every:
            return Verdict(True, "validation due (token cannot be refreshed further)")
        return Verdict(False, "validated within the last day")
    assert expires_at is not None  # noqa: S101  # nosec B101 # narrowed above
    remaining = expires_at - now
    if remaining <= timedelta(0):
        return Verdict(True, f"expired at {format_iso(expires_at)}")
    lifetime = expires_at - last if last is not None and last < expires_at else None
    if lifetime is not None and lifetime <= policy.short_lived_max:
        ahead = max(policy.min_remaining, lifetime * policy.fraction)
    elif lifetime is None and remaining <= policy.short_lived_max:
        ahead = policy.short_lived_max  # unknown lifetime, less than a day left: refresh now
    else:
        ahead = policy.long_lived_ahead
    hours = remaining.total_seconds() / 3600
    if remaining <= ahead:
        return Verdict(True, f"expires in {hours:.1f} h (refresh-ahead window {ahead})")
    return Verdict(False, f"expires in {hours:.1f} h")


# --- the sweep ----------------------------------------------------------------------------------


@dataclass
class SweepReport:
    scheduled: bool
    dry_run: bool
    scanned: int = 0
    due: int = 0
    started: list[str] = field(default_factory=list)
    would_rotate: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    warnings_sent: int = 0
    due_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheduled": self.scheduled,
            "dry_run": self.dry_run,
            "scanned": self.scanned,
            "due": self.due,
            "started": self.started,
            "would_rotate": self.would_rotate,
            "skipped": self.skipped,
            "errors": self.errors,
            "deferred": self.deferred,
            "enqueued": self.enqueued,
            "warnings_sent": self.warnings_sent,
        }


@dataclass(frozen=True)
class _Candidate:
    secret_id: str
    name: str
    provider: str
    tags: Mapping[str, str]
    rotation_enabled: bool
    last_rotated: datetime | None


class Dispatcher(Protocol):
    def enqueue(self, jobs: list[RotationJob]) -> EnqueueResult: ...


class SweepEngine:
    """Lists and decides; starts due rotations itself (direct) or, with a ``dispatcher``, hands
    a scheduled sweep's due secrets to the rotation queue (queue mode; manual requests stay direct
    so that their caller sees each outcome)."""

    def __init__(
        self,
        store: SecretStore,
        notifier: Notifier,
        *,
        rotation_lambda_arn: str | None,
        policy: RefreshAhead | None = None,
        provider_policies: Mapping[str, RefreshAhead] | None = None,
        concurrency: int = 8,
        rotation_after_days: int | None = 7,
        clock: Clock = utcnow,
        metrics: MetricSink | None = None,
        time_left_ms: Callable[[], int] | None = None,
        reserve_ms: int = 10_000,
        resumer: RotationResumer | None = None,
        stuck_after: timedelta = timedelta(minutes=15),
        dispatcher: Dispatcher | None = None,
    ) -> None:
        self.resumer = resumer
        self.stuck_after = stuck_after
        self.store = store
        self.notifier = notifier
        self.rotation_lambda_arn = rotation_lambda_arn
        self.policy = policy or RefreshAhead()
        self.provider_policies = dict(provider_policies or {})
        self.concurrency = max(1, concurrency)
        self.rotation_after_days = rotation_after_days
        self.clock = clock
        self.metrics = metrics or NullMetrics()
        self.time_left_ms = time_left_ms
        self.reserve_ms = reserve_ms
        self.dispatcher = dispatcher

    def run(self, request: SweepRequest) -> SweepReport:
        started = time.monotonic()
        now = self.clock()
        report = SweepReport(scheduled=request.scheduled, dry_run=request.dry_run)
        candidates = self._select(request, report)
        report.scanned = len(candidates)
        due: list[tuple[_Candidate, str]] = []
        for cand in candidates:
            verdict = self._verdict(cand, request, now)
            if verdict.due:
                due.append((cand, verdict.reason))
            elif not request.scheduled:
                report.skipped.append({"secret_id": cand.secret_id, "reason": verdict.reason})
            if request.scheduled and not request.dry_run:
                report.warnings_sent += self._deadline_warning(cand, now)
        report.due = len(due)
        report.due_ids = [c.secret_id for c, _ in due]
        if request.dry_run:
            report.would_rotate = [{"secret_id": c.secret_id, "reason": r} for c, r in due]
        elif self.dispatcher is not None and request.scheduled:
            self._enqueue(self.dispatcher, due, report, now)
        else:
            self._start_rotations(due, report, force=request.force)
        self._emit_metrics(candidates, report, now)
        if request.dry_run:
            _log_dry_run(report)
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
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        return report

    # --- selection -----------------------------------------------------------------------------

    def _select(self, request: SweepRequest, report: SweepReport) -> list[_Candidate]:
        if request.secret_ids:
            return [c for c in (self._named(i, report) for i in request.secret_ids) if c]
        out = []
        for entry in self.store.list_by_tag(TAG_MANAGED, "true"):
            cand = _candidate(entry)
            if request.provider is None or cand.provider == request.provider:
                out.append(cand)
        return out

    def _named(self, secret_id: str, report: SweepReport) -> _Candidate | None:
        try:
            desc = self.store.describe(secret_id)
        except SecretNotFound:
            self._refuse(secret_id, "secret not found", report)
            return None
        if desc.tags.get(TAG_MANAGED) != "true":
            self._refuse(
                secret_id,
                f"not managed by token-refresher (tag {TAG_MANAGED}=true missing)",
                report,
            )
            return None
        return _Candidate(
            secret_id=desc.arn,
            name=desc.name,
            provider=desc.tags.get(TAG_PROVIDER, "unknown"),
            tags=desc.tags,
            rotation_enabled=desc.rotation_enabled,
            last_rotated=from_epoch(desc.last_rotated_at) if desc.last_rotated_at else None,
        )

    def _refuse(self, secret_id: str, why: str, report: SweepReport) -> None:
        report.errors.append({"secret_id": secret_id, "error": why, "error_class": "config"})
        self._publish(
            Alert(
                AlertEvent.CONFIG_INVALID,
                secret_id=secret_id,
                provider=None,
                message=f"manual rotation refused: {why}",
                remediation=f"Only secrets tagged {TAG_MANAGED}=true are rotated. Check the id, "
                "or onboard the secret first.",
                occurred_at=self.clock(),
                error_class="config",
            )
        )

    def _verdict(self, cand: _Candidate, request: SweepRequest, now: datetime) -> Verdict:
        last = epoch_tag(cand.tags, TAG_LAST_ROTATED) or cand.last_rotated
        recent = last is not None and now - last < self.policy.min_interval
        if request.scheduled:
            policy = self.provider_policies.get(cand.provider, self.policy)
            verdict = decide(cand.tags, now, policy, last_rotated=cand.last_rotated)
            if verdict.due and recent:
                return Verdict(False, "rotated less than 10 minutes ago")
            return verdict
        if recent and not request.force:
            return Verdict(False, "rotated less than 10 minutes ago (use force to override)")
        why = "forced manual rotation" if request.force else "manual rotation"
        return Verdict(True, f"{why}: {request.reason}" if request.reason else why)

    # --- rotations -----------------------------------------------------------------------------

    def _start_rotations(
        self, due: list[tuple[_Candidate, str]], report: SweepReport, *, force: bool
    ) -> None:
        order = [c for c, _ in due]
        # Concurrent sweeps over the same list should not walk it in lockstep.
        random.shuffle(order)  # nosec B311 # ordering only

        def start(cand: _Candidate) -> tuple[_Candidate, str, str | None]:
            if self.time_left_ms is not None and self.time_left_ms() < self.reserve_ms:
                return cand, "deferred", None
            try:
                skip = self._recheck(cand, force=force)
                if skip is not None:
                    return cand, skip, None
                lambda_arn = None if cand.rotation_enabled else self.rotation_lambda_arn
                if force:
                    # Lets the rotation function refresh even within the minimum interval.
                    now_epoch = str(int(self.clock().timestamp()))
                    self.store.tag(cand.secret_id, {TAG_FORCE_AFTER: now_epoch})
                self.store.rotate(
                    cand.secret_id, lambda_arn=lambda_arn, after_days=self.rotation_after_days
                )
            except RotationInProgress:
                return cand, "rotation already in progress", None
            except SecretNotFound:
                return cand, "secret deleted since it was listed", None
            except TokenRefresherError as err:
                return cand, "error", err.message
            except (ClientError, BotoCoreError) as exc:
                return cand, "error", _aws_error(exc)
            return cand, "started", None

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            results = list(pool.map(start, order))
        for cand, outcome, error in results:
            if outcome in ("started", "resumed"):
                report.started.append(cand.secret_id)
            elif outcome == "deferred":
                report.deferred.append(cand.secret_id)
            elif outcome != "error":
                report.skipped.append({"secret_id": cand.secret_id, "reason": outcome})
            else:
                # The rotation function alerts on its own failures; a refused RotateSecret is only
                # ours to report (the function never ran).
                report.errors.append(
                    {"secret_id": cand.secret_id, "error": error or "", "error_class": "rotation"}
                )

    def _recheck(self, cand: _Candidate, *, force: bool) -> str | None:
        """One DescribeSecret right before RotateSecret: the listing may be minutes old.

        Returns a skip reason, or None to go ahead. A rotation left stuck at AWSPENDING for longer
        than ``stuck_after`` is finished here (its pending value is reused, never dropped).
        """
        fresh = self.store.describe(cand.secret_id)
        pending = pending_outcome(
            self.store, self.resumer, fresh, now=self.clock(), stuck_after=self.stuck_after
        )
        if pending is not None:
            return pending
        if not force:
            now = self.clock()
            last = epoch_tag(fresh.tags, TAG_LAST_ROTATED)
            if last is not None and now - last < self.policy.min_interval:
                return "rotated moments ago by another run"
        return None

    def _enqueue(
        self,
        dispatcher: Dispatcher,
        due: list[tuple[_Candidate, str]],
        report: SweepReport,
        now: datetime,
    ) -> None:
        jobs = [RotationJob(c.secret_id, reason, now) for c, reason in due]
        try:
            result = dispatcher.enqueue(jobs)
        except (ClientError, BotoCoreError) as exc:
            error = _aws_error(exc)
            report.errors += [
                {"secret_id": j.secret_id, "error": error, "error_class": "dispatch"} for j in jobs
            ]
            return
        report.enqueued = result.enqueued
        report.errors += [
            {"secret_id": secret_id, "error": code, "error_class": "dispatch"}
            for secret_id, code in result.failed
        ]

    # --- human deadlines -----------------------------------------------------------------------

    def _deadline_warning(self, cand: _Candidate, now: datetime) -> int:
        deadline = epoch_tag(cand.tags, TAG_DEADLINE)
        if deadline is None:
            return 0
        days_left = (deadline - now).total_seconds() / 86400
        threshold = next((d for d in sorted(DEADLINE_WARNINGS_DAYS) if days_left <= d), None)
        if threshold is None:
            return 0
        try:
            warned = int(cand.tags.get(TAG_DEADLINE_WARNED, "0") or 0)
        except ValueError:
            warned = 0
        if warned and warned <= threshold:
            return 0
        self._publish(
            Alert(
                AlertEvent.EXPIRING,
                secret_id=cand.secret_id,
                provider=cand.provider,
                message=f"a deadline only a human can push back is {format_iso(deadline)} "
                f"(within {threshold} day{'s' if threshold > 1 else ''})",
                remediation=_DEADLINE_REMEDIATION.get(cand.provider, _DEADLINE_REMEDIATION["*"]),
                occurred_at=now,
                expires_at=deadline,
            )
        )
        try:
            self.store.tag(cand.secret_id, {TAG_DEADLINE_WARNED: str(threshold)})
        except (ClientError, BotoCoreError) as exc:
            logger.error(
                "could not record the deadline warning",
                extra={"secret_id": cand.secret_id, "aws_error": _aws_error(exc)},
            )
        return 1

    def _publish(self, alert: Alert) -> None:
        try:
            self.notifier.publish(alert)
        except (ClientError, BotoCoreError) as exc:
            logger.error(
                "could not publish alert",
                extra={"secret_id": alert.secret_id, "aws_error": _aws_error(exc)},
            )

    def _emit_metrics(
        self, candidates: Iterable[_Candidate], report: SweepReport, now: datetime
    ) -> None:
        by_provider: dict[str, list[_Candidate]] = {}
        for cand in candidates:
            by_provider.setdefault(cand.provider, []).append(cand)
        started = set(report.started) | set(report.enqueued)
        due = set(report.due_ids)
        skipped = {s["secret_id"] for s in report.skipped}
        failed = {e["secret_id"] for e in report.errors}
        for provider, cands in by_provider.items():
            ids = [c.secret_id for c in cands]
            self.metrics.count("SecretsScanned", provider=provider, value=len(cands))
            self.metrics.count("SecretsDue", provider=provider, value=sum(i in due for i in ids))
            self.metrics.count(
                "RotationsStarted", provider=provider, value=sum(i in started for i in ids)
            )
            self.metrics.count(
                "RotationsSkipped", provider=provider, value=sum(i in skipped for i in ids)
            )
            self.metrics.count(
                "RotationStartFailures", provider=provider, value=sum(i in failed for i in ids)
            )
            self.metrics.count(
                "ReauthRequired",
                provider=provider,
                value=sum(1 for c in cands if c.tags.get(TAG_STATUS) == "reauth-required"),
            )
            expiries = [e for e in (epoch_tag(c.tags, TAG_EXPIRES_AT) for c in cands) if e]
            if expiries:
                hours = (min(expiries) - now).total_seconds() / 3600
                self.metrics.gauge("MinHoursToExpiry", round(hours, 2), provider=provider)


_DEADLINE_REMEDIATION = {
    "meta": "Ask the user to open the app and log in again (data access lapses about 90 days after "
    "their last activity; an unextended token needs a fresh login), then store the new token.",
    "linkedin": "LinkedIn refresh tokens last 365 days and are not extended by refreshing: the "
    "member must authorize the app again before the deadline.",
    "microsoft_ads": "The refresh token lapses after 90 days without use: make sure rotations "
    "succeed, or have the user sign in again.",
    "google_ads": "An OAuth app in Testing status loses refresh tokens after 7 days: publish it "
    "to Production, or have the user authorize again.",
    "*": "Have the account owner authorize the app again and store the new token.",
}


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


def _candidate(entry: Mapping[str, Any]) -> _Candidate:
    tags = {t["Key"]: t["Value"] for t in entry.get("Tags", [])}
    last = entry.get("LastRotatedDate")
    return _Candidate(
        secret_id=entry["ARN"],
        name=entry.get("Name", entry["ARN"]),
        provider=tags.get(TAG_PROVIDER, "unknown"),
        tags=tags,
        rotation_enabled=bool(entry.get("RotationEnabled", False)),
        last_rotated=last if isinstance(last, datetime) else None,
    )


def _aws_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
