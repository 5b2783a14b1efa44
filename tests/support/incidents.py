"""An in-memory IncidentStore with the S3 adapter's semantics (one lock: its conditional writes)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from token_refresher.alerting.incidents import Cause, Incident, Transition


class InMemoryIncidentStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: dict[str, str] = {}  # cause key -> incident id
        self.incidents: dict[str, Incident] = {}
        self.members: dict[str, dict[str, tuple[str, Mapping[str, Any]]]] = {}  # id -> secret ->
        self.calls = 0

    def join(
        self, cause: Cause, secret_id: str, *, now: datetime, new_id: str, held: Mapping[str, Any]
    ) -> Incident:
        with self._lock:
            self.calls += 1
            inc = self.incidents.get(self.current.get(cause.key, ""))
            if inc is None or inc.closed:
                inc = Incident(new_id, cause, opened_at=now, last_failure_at=now)
                self.current[cause.key] = new_id
                self.members[new_id] = {}
            members = self.members[inc.incident_id]
            old = members.get(secret_id)
            members[secret_id] = ("failing", dict(held) if held else (old[1] if old else {}))
            inc = replace(
                inc,
                last_failure_at=now,
                affected=inc.affected + (old is None),
                recovered=inc.recovered - (old is not None and old[0] == "recovered"),
                held=inc.held + bool(held and not (old and old[1])),
            )
            self.incidents[inc.incident_id] = inc
            return inc

    def claim(self, incident_id: str, transition: Transition, *, now: datetime) -> Incident | None:
        with self._lock:
            self.calls += 1
            inc = self.incidents[incident_id]
            if inc.closed:
                return None
            if transition is Transition.ANNOUNCE:
                if inc.announced_at is not None:
                    return None
                inc = replace(inc, announced_at=now, announced_affected=inc.affected)
            elif transition is Transition.UPDATE:
                if inc.announced_at is None or inc.updated:
                    return None
                inc = replace(inc, updated=True)
            else:
                inc = replace(inc, closed=True)
            self.incidents[incident_id] = inc
            return inc

    def recover(self, incident_id: str, secret_id: str, *, now: datetime) -> Incident | None:
        with self._lock:
            self.calls += 1
            inc = self.incidents.get(incident_id)
            member = self.members.get(incident_id, {}).get(secret_id)
            if inc is None or inc.closed or member is None or member[0] != "failing":
                return None
            self.members[incident_id][secret_id] = ("recovered", {})
            inc = replace(inc, recovered=inc.recovered + 1, held=inc.held - bool(member[1]))
            self.incidents[incident_id] = inc
            return inc

    def open_incidents(self) -> list[Incident]:
        with self._lock:
            self.calls += 1
            return [i for i in self.incidents.values() if not i.closed]

    def held_alerts(self, incident_id: str) -> list[Mapping[str, Any]]:
        with self._lock:
            self.calls += 1
            return [
                alert
                for state, alert in self.members.get(incident_id, {}).values()
                if state == "failing" and alert
            ]
