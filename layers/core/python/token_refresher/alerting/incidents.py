"""Incidents: many connections failing for one cause reach on-call as one message.

Prometheus Alertmanager's grouping is the model:
- ``group_by``: a failure's cause (:func:`cause_of`): one app's credentials or configuration
  (same platform, app and error class and code: a rotated client secret makes every connection
  of the app fail with ``invalid_client``), or a platform-wide 5xx or rate limit (same platform).
  A re-authorization is no incident: each needs its own person and link; past a threshold per
  app they are batched into one digest (alerting/digests.py).
- ``group_wait``: a failure the alert policy (state.py) would alert about is held, not sent. As
  soon as ``threshold`` connections share the cause, the group is an incident and ONE
  ``incident.opened`` goes out (early: the first few failures decide, not the last). A group that
  stays smaller for ``group_wait`` is dispersed: its held alerts go out one by one, as before, so a
  single failing connection still gets exactly one alert (late by at most ``group_wait`` plus one
  sweep interval: the sweep flushes).
- ``group_interval``: at most one ``incident.updated``, by the first sweep ``group_interval``
  after the opening, when the count grew.
- inhibition: while an incident is open, its members' own alerts (reminders, recoveries) are held.
- resolution: ``incident.resolved`` when every member recovered, or ``resolve_after`` without a new
  failure of the cause, with the counts recovered and still failing.

The state lives in an :class:`IncidentStore` (adapters/incidents.py: an S3 bucket written with
conditional writes), so it holds across Lambda invocations and concurrent rotations: each
transition (announce, update, close) is claimed by exactly one caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from token_refresher.adapters.errors import AwsError
from token_refresher.alerting.digests import Digests
from token_refresher.alerts import Alert, AlertEvent, Cause, CauseKind, Incident, Transition
from token_refresher.errors import ErrorClass
from token_refresher.observability import logger
from token_refresher.state import NO_INCIDENT, TAG_INCIDENT
from token_refresher.timeutil import parse_iso

# HTTP 429 and Meta's throttling codes (application, user, ad account, business use case).
RATE_LIMIT_CODES = frozenset({"429", "4", "17", "32", "613", "80000", "80004"})


def cause_of(
    error_class: ErrorClass, provider: str | None, app: str | None, code: str | None
) -> Cause | None:
    """The cause a failure shares with others, or None when it is the connection's own."""
    if provider is None:
        return None
    if error_class is ErrorClass.REAUTH_REQUIRED:  # a person each; batched per app
        return Cause(CauseKind.CONSENT, provider, app, error_class.value) if app else None
    if error_class is ErrorClass.TRANSIENT:
        kind = CauseKind.RATE_LIMIT if code in RATE_LIMIT_CODES else CauseKind.PLATFORM_ERROR
        return Cause(kind, provider)
    if app is None:  # a malformed document, no app: nothing to share
        return None
    return Cause(CauseKind.APP, provider, app, error_class.value, code)


class IncidentStore(Protocol):
    def join(
        self, cause: Cause, secret_id: str, *, now: datetime, new_id: str, held: Mapping[str, Any]
    ) -> Incident:
        """Make ``secret_id`` a failing member of the open incident of ``cause`` (opening one
        as ``new_id`` when none is open); ``held``: the member's held alert (empty: none).
        Returns the incident after the change."""
        ...

    def claim(self, incident_id: str, transition: Transition, *, now: datetime) -> Incident | None:
        """Make ``transition`` once: the incident after it, or None if it was not possible
        (another caller made it first)."""
        ...

    def recover(self, incident_id: str, secret_id: str, *, now: datetime) -> Incident | None:
        """A failing member of an open incident recovered: the incident after it, else None."""
        ...

    def open_incidents(self) -> list[Incident]: ...

    def held_alerts(self, incident_id: str) -> list[Mapping[str, Any]]:
        """The alerts held for the incident's failing members."""
        ...


@dataclass(frozen=True)
class IncidentPolicy:
    threshold: int = 3
    group_wait: timedelta = timedelta(minutes=5)
    group_interval: timedelta = timedelta(hours=1)
    resolve_after: timedelta = timedelta(hours=2)
    digest_threshold: int = 5  # re-authorizations of one app sent one by one before a digest


def new_incident_id(now: datetime) -> str:
    return f"inc-{now:%Y%m%d-%H%M}-{uuid.uuid4().hex[:6]}"


class IncidentDesk:
    """Decides, for each failure and recovery, whether its own alert goes out or an incident's."""

    def __init__(  # noqa: PLR0913 - the store and the publisher; the rest keyword-only
        self,
        store: IncidentStore,
        publish: Callable[[Alert], None],
        *,
        clock: Callable[[], datetime],
        policy: IncidentPolicy | None = None,
        new_id: Callable[[datetime], str] = new_incident_id,
        link: Callable[[Alert], Alert] | None = None,
    ) -> None:
        self.digests = Digests(
            (policy or IncidentPolicy()).digest_threshold, publish, link, alert_from_dict
        )
        self.store = store
        self.publish = publish
        self.clock = clock
        self.policy = policy or IncidentPolicy()
        self.new_id = new_id

    def failed(self, cause: Cause, secret_id: str, alert: Alert | None) -> str:
        """A failure of ``cause`` (``alert``: what the alert policy would send, None when it
        stays quiet). The alert is held; returns the incident id (the connection's tag)."""
        now = self.clock()
        if cause.kind is CauseKind.CONSENT:  # a person each: batched, never an incident
            inc = self.store.join(cause, secret_id, now=now, new_id=self.new_id(now), held={})
            if alert is not None and self.digests.failed(inc, alert):
                held = alert_to_dict(alert)
                self.store.join(cause, secret_id, now=now, new_id=self.new_id(now), held=held)
            return inc.incident_id
        held = alert_to_dict(alert) if alert else {}
        inc = self.store.join(cause, secret_id, now=now, new_id=self.new_id(now), held=held)
        if inc.announced_at is None:  # announced: held; the sweep's flush sends any update
            self._settle(inc, now)
        return inc.incident_id

    def recovered(self, incident_id: str, secret_id: str) -> bool:
        """A member of ``incident_id`` recovered; True when its own recovery alert is held (its
        failure was never told on its own)."""
        now = self.clock()
        inc = self.store.recover(incident_id, secret_id, now=now)
        if inc is None or inc.cause.kind is CauseKind.CONSENT:
            return False
        if inc.announced_at is not None and inc.recovered >= inc.affected:
            self._close(inc, now)
        return True

    def flush(self) -> None:
        """The sweep's turn: settle groups whose wait ended, send due updates, close incidents
        quiet for ``resolve_after``."""
        now = self.clock()
        for inc in self.store.open_incidents():
            quiet = now - inc.last_failure_at >= self.policy.resolve_after
            if inc.cause.kind is CauseKind.CONSENT:
                wait_over = now - inc.opened_at >= self.policy.group_wait
                self.digests.flush(inc, now, wait_over=wait_over, quiet=quiet, store=self.store)
            elif inc.announced_at is not None:
                self._maybe_update(inc, now)
                if quiet or inc.recovered >= inc.affected:
                    self._close(inc, now)
            elif inc.held == 0 and quiet:
                self.store.claim(inc.incident_id, Transition.CLOSE, now=now)  # never told
            else:
                self._settle(inc, now)

    # --- transitions -----------------------------------------------------------------------------

    def _settle(self, inc: Incident, now: datetime) -> None:
        if inc.held == 0:
            return  # failures the policy keeps quiet (transient blips): nothing to say yet
        if inc.affected >= self.policy.threshold:
            won = self.store.claim(inc.incident_id, Transition.ANNOUNCE, now=now)
            if won is not None:
                self._send(AlertEvent.INCIDENT_OPENED, won, now)
        elif now - inc.opened_at >= self.policy.group_wait and self.store.claim(
            inc.incident_id, Transition.CLOSE, now=now
        ):
            for held in self.store.held_alerts(inc.incident_id):  # dispersed: one by one
                self.publish(alert_from_dict(held))

    def _maybe_update(self, inc: Incident, now: datetime) -> None:
        if inc.announced_at is None or inc.updated or inc.affected <= inc.announced_affected:
            return
        if now - inc.announced_at < self.policy.group_interval:
            return
        won = self.store.claim(inc.incident_id, Transition.UPDATE, now=now)
        if won is not None:
            self._send(AlertEvent.INCIDENT_UPDATED, won, now)

    def _close(self, inc: Incident, now: datetime) -> None:
        won = self.store.claim(inc.incident_id, Transition.CLOSE, now=now)
        if won is not None:
            self._send(AlertEvent.INCIDENT_RESOLVED, won, now)

    def _send(self, event: AlertEvent, inc: Incident, now: datetime) -> None:
        facts = inc.facts()
        words = {
            AlertEvent.INCIDENT_OPENED: f"{facts.affected} connections failed: {facts.cause}",
            AlertEvent.INCIDENT_UPDATED: f"{facts.affected} connections affected so far "
            f"({facts.recovered} recovered): {facts.cause}",
            AlertEvent.INCIDENT_RESOLVED: f"resolved: {facts.recovered} of {facts.affected} "
            f"connections recovered, {facts.still_failing} still failing: {facts.cause}",
        }[event]
        list_it = f"List them: {facts.list_command}."
        remediation = (
            list_it
            if event is AlertEvent.INCIDENT_RESOLVED
            else f"{inc.cause.remediation()} {list_it}"
        )
        logger.warning(
            "incident alert", extra={"incident_id": inc.incident_id, "event": event.value}
        )
        self.publish(
            Alert(
                event,
                secret_id=inc.incident_id,
                provider=inc.cause.provider,
                message=words,
                occurred_at=now,
                error_class=inc.cause.error_class,
                provider_code=inc.cause.code,
                remediation=remediation,
                incident=facts,
            )
        )


def grouped(
    desk: IncidentDesk | None, cause: Cause | None, secret_id: str, alert: Alert | None
) -> str | None:
    """The incident a failure joins; None when there is no grouping, no shared cause, or the
    store failed (the alert then goes out on its own: never lost for the store)."""
    if desk is None or cause is None:
        return None
    try:
        return desk.failed(cause, secret_id, alert)
    except AwsError as exc:
        logger.error(
            "incident store failed: alerting on its own",
            extra={"secret_id": secret_id, "aws_error": exc.code},
        )
        return None


def flush_incidents(desk: IncidentDesk | None) -> None:
    """The scheduled sweep's turn (IncidentDesk.flush); a store failure is logged, not raised."""
    if desk is None:
        return
    try:
        desk.flush()
    except AwsError as exc:
        logger.error("incident store failed: incidents not flushed", extra={"aws_error": exc.code})


def recovered(
    desk: IncidentDesk | None, secret_id: str, tags: Mapping[str, str]
) -> tuple[bool, dict[str, str]]:
    """A connection fine again: is its own recovery alert held, and its incident tag cleared."""
    incident = tags.get(TAG_INCIDENT, NO_INCIDENT)
    if desk is None or incident == NO_INCIDENT:
        return False, {}
    try:
        held = desk.recovered(incident, secret_id)
    except AwsError as exc:
        logger.error(
            "incident store failed: recovery alerted on its own",
            extra={"secret_id": secret_id, "aws_error": exc.code},
        )
        held = False
    return held, {TAG_INCIDENT: NO_INCIDENT}


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    return alert.to_dict()


def alert_from_dict(data: Mapping[str, Any]) -> Alert:
    """A held alert back from the store (the fields ``Alert.to_dict`` wrote)."""
    expires = data.get("expires_at")
    return Alert(
        AlertEvent(str(data["event"])),
        secret_id=str(data["secret_id"]),
        provider=data.get("provider"),
        message=str(data.get("message") or ""),
        occurred_at=parse_iso(str(data["occurred_at"])),
        error_class=data.get("error_class"),
        provider_code=data.get("provider_code"),
        provider_subcode=data.get("provider_subcode"),
        remediation=data.get("remediation"),
        expires_at=parse_iso(str(expires)) if expires else None,
        consecutive_failures=int(data.get("consecutive_failures") or 0),
        reminder=bool(data.get("reminder")),
    )
