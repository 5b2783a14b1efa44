"""The figures of one fleet run (docs/fleet.md's rows), from the models' counters."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bench.fleet.model import QUOTAS, SPECS
from token_refresher.state import Status

if TYPE_CHECKING:
    from bench.fleet.sim import Fleet

# Prices, us-east-1, 2026 list prices (model inputs): Secrets Manager per secret-month and per
# 10,000 API calls; Lambda per GB-second (x86) and per million requests.
SECRET_MONTH, PER_10K_CALLS, GB_SECOND, PER_M_REQUESTS = 0.40, 0.05, 0.0000166667, 0.20
MONTH_H = 730


def _expired_minutes(fleet: Fleet, end: datetime) -> dict[str, float]:
    seconds = {name: p.expired_s for name, p in fleet.platforms.items()}
    for name in fleet.store.names():
        if not name.startswith("conn/"):
            continue
        doc = fleet.store.current(name)
        revoked = str(doc.options.get("conn")) in fleet.platforms[doc.provider].revoked_at
        if doc.expires_at is not None and doc.expires_at < end and not revoked:
            seconds[doc.provider] += (end - doc.expires_at).total_seconds()
    return {p: round(s / 60, 1) for p, s in seconds.items()}


def _lost_refresh_tokens(fleet: Fleet) -> int:
    lost = 0
    for name in fleet.store.names():
        if not name.startswith("conn/"):
            continue
        doc = fleet.store.current(name)
        platform = fleet.platforms[doc.provider]
        if name not in platform.revoked_at and doc.refresh_token != platform.live[name]:
            lost += 1
    return lost


def _revocation_to_alert(fleet: Fleet) -> dict[str, float | int | None]:
    revoked = fleet.platforms["meta"].revoked_at
    first: dict[str, datetime] = {}
    for secret_id, at in fleet.alerts.reauth:  # alone or in a digest
        secret = fleet.store.name_of(secret_id)  # alerts name a secret by ARN or by name
        if secret in revoked and at >= revoked[secret]:
            first.setdefault(secret, at)
    delays = [(first[s] - revoked[s]).total_seconds() / 3600 for s in first]
    return {
        "revoked": len(revoked),
        "alerted": len(delays),
        "p50_h": round(statistics.median(delays), 2) if delays else None,
        "max_h": round(max(delays), 2) if delays else None,
    }


def _recovery_minutes(fleet: Fleet) -> float | None:
    """Minutes from the end of Google's 5xx hour to the last refresh of a token it left expired
    (None without the incident)."""
    google = fleet.platforms["google_ads"]
    ends = [inc.end for inc in google.incidents if inc.kind == "5xx"]
    late = [t for t in google.late if ends and t >= ends[0]]
    return round((max(late) - ends[0]).total_seconds() / 60, 1) if late else None


def measure(fleet: Fleet, end: datetime) -> dict[str, Any]:
    run, usage = fleet.run, fleet.store.usage
    seconds = run.hours * 3600
    days = run.hours / 24
    quota = {
        g: {"quota": q, "peak": usage.peak(g), "peak_offered": usage.peak_offered(g),
            "mean": round(usage.mean(g, seconds), 2), "throttled": usage.throttled[g]}
        for g, q in QUOTAS.items()
    }  # fmt: skip
    sweeps = fleet.sweeps
    calls_total = sum(usage.calls.values())
    monthly = MONTH_H / run.hours
    cost = (
        run.size * SECRET_MONTH
        + calls_total * monthly / 10_000 * PER_10K_CALLS
        + fleet.gb_seconds * monthly * GB_SECOND
        + fleet.counts["invocations"] * monthly / 1e6 * PER_M_REQUESTS
    )
    statuses = [
        fleet.store.tags_of(n).get("token-refresher:status", "ok") for n in fleet.store.names()
    ]
    return {
        "size": run.size,
        "mode": "queue" if run.queue else "direct",
        "queue_backlog_max": fleet.sim_queue.backlog_max if fleet.sim_queue else 0,
        "hours": run.hours,
        "rate_minutes": run.rate_minutes,
        "expired_minutes": _expired_minutes(fleet, end),
        "refresh_tokens_lost": _lost_refresh_tokens(fleet),
        "rotations_per_day": round(fleet.counts["rotations"] / days),
        "rotation_failures": fleet.counts["rotation_failures"],
        "liveness_per_day": round(fleet.counts["liveness"] / days),
        "quota": quota,
        "sweep_peak_mib": round(max((s["peak_mib"] for s in sweeps), default=0), 1),
        "sweep_max_s": round(max((s["duration_s"] for s in sweeps), default=0), 1),
        "sweep_mean_s": round(statistics.mean(s["duration_s"] for s in sweeps), 1) if sweeps else 0,
        "sweeps": len(sweeps),
        "deferred_total": sum(int(s["deferred"]) for s in sweeps),
        "held_total": sum(int(s.get("held", 0)) for s in sweeps),
        "at_risk_total": sum(int(s.get("at_risk", 0)) for s in sweeps),
        "outage_recovery_min": _recovery_minutes(fleet),
        "revocation_to_alert": _revocation_to_alert(fleet),
        "platform_calls_per_day": {
            p: max(fleet.platforms[p].calls.values(), default=0) for p in SPECS
        },
        "reauth_required": statuses.count(Status.REAUTH_REQUIRED.value),
        "alerts": len(fleet.alerts.sent),
        "alerts_by_event": dict(Counter(event for _s, event, _at in fleet.alerts.sent)),
        "pages": dict(fleet.alerts.pages),
        "incident_store_calls": fleet.incident_store.calls,
        "cost_per_connection_month": round(cost / run.size, 4),
        "puts_per_secret_day_max": max(usage.puts_per_secret_day.values(), default=0),
    }
