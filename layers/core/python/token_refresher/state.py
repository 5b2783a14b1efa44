"""Per-secret state kept in tags, and the alerting policy that decides when a human hears of it.

States: ``ok`` -> ``failing`` -> ``ok``, and ``reauth-required`` (only a human can leave it, by
storing a new token). SNS is used on transitions and escalations only:
- ok -> failing after ``failure_threshold`` consecutive transient failures, or at once when the
  token would expire before two more sweeps, or at once for config/permission errors;
- anything -> reauth-required at once;
- failing/reauth-required -> ok as ``token.recovered``;
- an unresolved failure or re-authorization is reminded at most every ``reminder_interval``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from token_refresher.alerts import AlertEvent
from token_refresher.errors import ErrorClass
from token_refresher.timeutil import from_epoch, to_epoch

TAG_PREFIX = "token-refresher:"
TAG_MANAGED = TAG_PREFIX + "managed"
TAG_INSTANCE = TAG_PREFIX + "instance"  # the deployment (InstanceName) a secret belongs to
TAG_UNOWNED_ALERTED = TAG_PREFIX + "unowned-alerted-at"  # managed, no instance: alerted then
TAG_PROVIDER = TAG_PREFIX + "provider"
TAG_KIND = TAG_PREFIX + "kind"
TAG_EXPIRES_AT = TAG_PREFIX + "expires-at"
TAG_STATUS = TAG_PREFIX + "status"
TAG_FAILURES = TAG_PREFIX + "consecutive-failures"
TAG_LAST_ERROR = TAG_PREFIX + "last-error-class"
TAG_LAST_ALERT = TAG_PREFIX + "last-alert-at"
TAG_LAST_ROTATED = TAG_PREFIX + "last-rotated-at"
TAG_DEADLINE = TAG_PREFIX + "human-deadline"
TAG_APP_INSTANCES = TAG_PREFIX + "app-instances"  # on app credentials: instances that may use them
TAG_FORCE_AFTER = TAG_PREFIX + "force-after"  # a forced manual rotation asked at this epoch
TAG_CHECKED_AT = TAG_PREFIX + "checked-at"  # the last daily liveness check that reached a verdict
# The last daily liveness check that could not check (the platform offers no way, e.g. an oauth2
# connection without introspection_url): it paces the sweep's requests, never counts as assurance.
TAG_UNCHECKED_AT = TAG_PREFIX + "unchecked-at"
TAG_INCIDENT = TAG_PREFIX + "incident"  # the incident a failing connection is grouped in, or none
NO_INCIDENT = "none"
# "undeclared": the connection's app credentials declare no provider (credentials/binding.py; a
# legacy app secret, allowed for platform providers with a warning `status` shows). Set back to
# "declared" once they do; a connection that never used undeclared credentials carries no such tag.
TAG_APP_BINDING = TAG_PREFIX + "app-binding"
BINDING_DECLARED = "declared"
BINDING_UNDECLARED = "undeclared"
NEVER = "never"


class Status(StrEnum):
    OK = "ok"
    FAILING = "failing"
    REAUTH_REQUIRED = "reauth-required"


def epoch_tag(tags: Mapping[str, str], key: str) -> datetime | None:
    """An epoch-seconds tag as a datetime; None when absent, "never" or unreadable."""
    value = tags.get(key, "")
    try:
        return from_epoch(int(value)) if value and value != NEVER else None
    except (ValueError, OverflowError, OSError):
        return None


@dataclass(frozen=True)
class TokenState:
    status: Status = Status.OK
    consecutive_failures: int = 0
    last_error_class: str | None = None
    last_alert_at: datetime | None = None

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> TokenState:
        try:
            status = Status(tags.get(TAG_STATUS, Status.OK.value))
        except ValueError:
            status = Status.OK
        try:
            failures = max(0, int(tags.get(TAG_FAILURES, "0")))
        except ValueError:
            failures = 0
        return cls(
            status=status,
            consecutive_failures=failures,
            last_error_class=tags.get(TAG_LAST_ERROR) or None,
            last_alert_at=epoch_tag(tags, TAG_LAST_ALERT),
        )

    def to_tags(self) -> dict[str, str]:
        return {
            TAG_STATUS: self.status.value,
            TAG_FAILURES: str(self.consecutive_failures),
            TAG_LAST_ERROR: self.last_error_class or "none",
            TAG_LAST_ALERT: str(to_epoch(self.last_alert_at)) if self.last_alert_at else NEVER,
        }


@dataclass(frozen=True)
class AlertPolicy:
    failure_threshold: int = 3
    sweep_interval: timedelta = timedelta(minutes=15)
    reminder_interval: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Decision:
    state: TokenState
    event: AlertEvent | None = None
    reminder: bool = False


def on_failure(
    state: TokenState,
    error_class: ErrorClass,
    *,
    now: datetime,
    expires_at: datetime | None,
    policy: AlertPolicy,
) -> Decision:
    failures = state.consecutive_failures + 1
    base = replace(state, consecutive_failures=failures, last_error_class=error_class.value)

    if error_class is ErrorClass.REAUTH_REQUIRED:
        new_status, event = Status.REAUTH_REQUIRED, AlertEvent.REAUTH_REQUIRED
        alert_now = state.status is not Status.REAUTH_REQUIRED
    else:
        new_status = Status.FAILING
        event = (
            AlertEvent.CONFIG_INVALID
            if error_class is ErrorClass.CONFIG
            else AlertEvent.REFRESH_FAILED
        )
        if state.status is Status.OK:
            soon = expires_at is not None and expires_at - now <= 2 * policy.sweep_interval
            escalate = not error_class.retryable or failures >= policy.failure_threshold or soon
            if not escalate:  # a transient blip: count it, stay ok, stay quiet
                return Decision(base)
            alert_now = True
        else:
            alert_now = False
            if state.status is Status.REAUTH_REQUIRED:
                new_status = Status.REAUTH_REQUIRED  # a later transient error does not clear it
                event = AlertEvent.REAUTH_REQUIRED

    if alert_now:
        return Decision(replace(base, status=new_status, last_alert_at=now), event)
    due = state.last_alert_at is None or now - state.last_alert_at >= policy.reminder_interval
    if due:
        return Decision(replace(base, status=new_status, last_alert_at=now), event, reminder=True)
    return Decision(replace(base, status=new_status))


def on_success(state: TokenState, *, now: datetime, last_good: datetime | None = None) -> Decision:
    """Fine again. ``token.recovered`` ends trouble that was told: a re-authorization (alerted at
    once, always), or a failure alerted after ``last_good`` (the last success before it, when
    known). A failure that never reached an alert (a transient error below the threshold)
    recovers silently, as an Alertmanager alert that never fired sends no resolution."""
    alerted = state.last_alert_at
    told = alerted is not None and (last_good is None or alerted > last_good)
    recovered = state.status is Status.REAUTH_REQUIRED or (state.status is Status.FAILING and told)
    new = TokenState(status=Status.OK, last_alert_at=now if recovered else state.last_alert_at)
    return Decision(new, AlertEvent.RECOVERED if recovered else None)


# Nothing is rotated twice within this interval unless forced.
MIN_ROTATION_INTERVAL = timedelta(minutes=10)
# From a sweep's scheduled time until a due token's new value is stored, at most: the schedule's
# delay (about a minute), the sweep reaching the candidate (its budget: half its 900 s Timeout), one
# rotation (the rotation function's 60 s Timeout) -- rounded up.
ROTATION_LEAD = timedelta(minutes=10)
# The shortest token lifetime a provider issues (Google, Microsoft, Amazon Ads: one hour).
SHORTEST_LIFETIME = timedelta(hours=1)
# The longest sweep interval that still refreshes a one-hour token two sweeps plus a rotation
# before it expires without rotating it twice within MIN_ROTATION_INTERVAL:
# 2 x interval + ROTATION_LEAD <= SHORTEST_LIFETIME - MIN_ROTATION_INTERVAL. SweepRateMinutes'
# MaxValue in template.yaml (a unit test keeps the two equal).
MAX_SWEEP_INTERVAL = (SHORTEST_LIFETIME - MIN_ROTATION_INTERVAL - ROTATION_LEAD) / 2


def last_rotation(tags: Mapping[str, str], listed: datetime | None) -> datetime | None:
    """When the secret was last rotated: our tag, else Secrets Manager's LastRotatedDate."""
    return epoch_tag(tags, TAG_LAST_ROTATED) or listed


def last_validated(tags: Mapping[str, str], listed: datetime | None) -> datetime | None:
    """The last time the platform accepted or judged the token: a rotation or a liveness check."""
    times = [t for t in (last_rotation(tags, listed), epoch_tag(tags, TAG_CHECKED_AT)) if t]
    return max(times) if times else None


@dataclass(frozen=True)
class RefreshAhead:
    """When a token is due, from its tags.

    - short-lived tokens (lifetime <= ``short_lived_max``): remaining <= max(min_remaining,
      fraction x lifetime, ``cover``), where ``cover`` = two sweep intervals plus ``rotation_lead``:
      the first sweep that finds a token due still has a whole interval plus a rotation left, so
      one missed or deferred sweep cannot leave it expired;
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
    sweep_interval: timedelta = timedelta(minutes=15)  # SWEEP_INTERVAL_MINUTES
    rotation_lead: timedelta = ROTATION_LEAD

    @property
    def cover(self) -> timedelta:
        """How long before expiry a short-lived token must enter its window (see the class)."""
        return 2 * self.sweep_interval + self.rotation_lead
