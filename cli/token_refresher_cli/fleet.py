"""The fleet summary `token-refresher status` opens with: counts by state and platform, the
incidents open (from the connections' incident tags), and the nearest human deadlines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from token_refresher.timeutil import format_iso

NEAREST = 5  # human deadlines shown


class FleetRow(Protocol):
    @property
    def connection(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def incident(self) -> str | None: ...
    @property
    def human_deadline(self) -> datetime | None: ...


def fleet_summary(rows: Sequence[FleetRow], now: datetime) -> list[str]:
    states = sorted({r.state for r in rows})
    by_platform = Counter((r.provider, r.state) for r in rows)
    lines = ["fleet: " + (", ".join(f"{n} {s}" for s, n in Counter(r.state for r in rows).items())
                          or "no connections")]  # fmt: skip
    for provider in sorted({r.provider for r in rows}):
        counts = ", ".join(
            f"{by_platform[provider, s]} {s}" for s in states if by_platform[provider, s]
        )
        lines.append(f"  {provider}: {counts}")  # fmt: skip
    incidents = Counter(r.incident for r in rows if r.incident)
    if incidents:
        lines.append(f"incidents open: {len(incidents)}")
        lines += [
            f"  {incident}: {n} connection{'s' if n != 1 else ''} "
            f"(token-refresher status --incident {incident})"
            for incident, n in incidents.most_common()
        ]
    else:
        lines.append("incidents open: none")
    deadlines = sorted((r.human_deadline, r.connection) for r in rows if r.human_deadline)
    if deadlines:
        lines.append("nearest human deadlines:")
        for deadline, connection in deadlines[:NEAREST]:
            days = (deadline - now).total_seconds() / 86400
            lines.append(f"  {format_iso(deadline)} ({days:.1f} d) {connection}")
    return lines
