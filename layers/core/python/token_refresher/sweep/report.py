"""What a sweep says when it is done: one log line, a dry run's verdicts, the EMF metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from token_refresher.observability import MetricSink, logger
from token_refresher.state import TAG_EXPIRES_AT, TAG_STATUS, Status, epoch_tag
from token_refresher.sweep.candidate import Candidate
from token_refresher.sweep.request import SweepRequest
from token_refresher.sweep.slo import FLEET, emit_slo_metrics

__all__ = ["SweepReport", "emit_metrics", "log_dry_run", "log_report"]


def log_report(request: SweepRequest, report: SweepReport, seconds: float) -> None:
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
            "held": len(report.held),
            "at_risk": len(report.at_risk),
            "enqueued": len(report.enqueued),
            "adopted": len(report.adopted),
            "unowned": len(report.unowned),
            "checks_requested": len(report.checks_requested),
            "seconds": round(seconds, 3),
        },
    )


def log_dry_run(report: SweepReport) -> None:
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
    metrics: MetricSink, candidates: list[Candidate], report: SweepReport, now: datetime
) -> None:
    """Per provider: scanned, due, started, skipped, start failures, re-auth, closest expiry (of
    the live connections: a dead one's expiry says nothing), and the SLO gauges (sweep/slo.py)."""
    by_provider: dict[str, list[Candidate]] = {}
    for cand in candidates:
        by_provider.setdefault(cand.provider, []).append(cand)
    groups = {
        "SecretsDue": set(report.due_ids),
        "RotationsStarted": set(report.started) | set(report.enqueued),
        "RotationsSkipped": {s["secret_id"] for s in report.skipped},
        "RotationStartFailures": {e["secret_id"] for e in report.errors},
        "RotationsDeferred": set(report.deferred),
        "RotationsHeld": set(report.held),
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
        alive = (c for c in cands if c.tags.get(TAG_STATUS) != Status.REAUTH_REQUIRED)
        expiries = [e for e in (epoch_tag(c.tags, TAG_EXPIRES_AT) for c in alive) if e]
        if expiries:
            hours = (min(expiries) - now).total_seconds() / 3600
            metrics.gauge("MinHoursToExpiry", round(hours, 2), provider=provider)
    if report.scheduled and not report.dry_run:  # what the rotations-at-risk alarm watches
        metrics.count("RotationsAtRisk", provider=FLEET, value=len(report.at_risk))
    emit_slo_metrics(metrics, candidates, now)


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
    held: list[str] = field(default_factory=list)  # a failing platform's, beyond its probes
    at_risk: list[str] = field(default_factory=list)  # deferred, and the next sweep is too late
    enqueued: list[str] = field(default_factory=list)
    warnings_sent: int = 0
    due_ids: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)  # secrets of no instance adopted (instances)
    unowned: list[str] = field(default_factory=list)  # secrets of no instance left (alerted)
    checks_requested: list[str] = field(
        default_factory=list
    )  # daily liveness checks (sweep/liveness.py)

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
            "held": self.held,
            "at_risk": self.at_risk,
            "enqueued": self.enqueued,
            "warnings_sent": self.warnings_sent,
            "adopted": self.adopted,
            "unowned": self.unowned,
            "checks_requested": self.checks_requested,
        }
