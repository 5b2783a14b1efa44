"""`token-refresher status`: an instance's connections from ListSecrets tags (no values read).

The instance is ``--instance``, else the stack's InstanceName output; ``--all-instances`` lists
every managed secret of the account and region with its instance (``-`` for none).

A connection needs a human when its status is ``reauth-required`` or ``failing``, when its token
has expired, or when a deadline only a human can move (Meta data access, LinkedIn refresh token
end...) is within 7 days. Then the command exits with EXIT_ATTENTION (2).

Warnings do not change the exit code: a connection whose app credentials declare no provider
(tagged by the rotation function, see credentials/binding.py) is listed with how to declare it.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from token_refresher.adapters.secrets import SecretSummary
from token_refresher.instances import list_own
from token_refresher.state import (
    BINDING_UNDECLARED,
    NEVER,
    NO_INCIDENT,
    TAG_APP_BINDING,
    TAG_DEADLINE,
    TAG_EXPIRES_AT,
    TAG_INCIDENT,
    TAG_INSTANCE,
    TAG_LAST_ERROR,
    TAG_LAST_ROTATED,
    TAG_MANAGED,
    TAG_PROVIDER,
    TAG_STATUS,
    Status,
    epoch_tag,
)
from token_refresher.timeutil import format_iso, from_epoch
from token_refresher_cli.console import EXIT_ATTENTION, EXIT_OK
from token_refresher_cli.context import Context
from token_refresher_cli.fleet import fleet_summary
from token_refresher_cli.instance import resolve_instance
from token_refresher_cli.shared import fmt_delta, fmt_until, resolve_provider

DEADLINE_ATTENTION = timedelta(days=7)
COLUMNS = (
    "CONNECTION",
    "PROVIDER",
    "STATE",
    "EXPIRES IN",
    "HUMAN DEADLINE",
    "LAST ROTATION",
    "LAST ERROR",
)


@dataclass(frozen=True)
class Row:
    connection: str
    arn: str
    instance: str | None
    provider: str
    state: str
    expires_at: datetime | None
    expiry_known: bool  # False: no (readable) expires-at tag yet
    human_deadline: datetime | None
    last_rotated: datetime | None
    last_error_class: str | None
    attention: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    incident: str | None = None  # the incident it is grouped in (docs/alerts.md#incidents)

    @classmethod
    def from_entry(cls, entry: SecretSummary, now: datetime) -> Row:
        tags = entry.tags
        expires_raw = tags.get(TAG_EXPIRES_AT)
        expires_at = epoch_tag(tags, TAG_EXPIRES_AT)
        listed = entry.last_rotated_at
        last = epoch_tag(tags, TAG_LAST_ROTATED) or (
            from_epoch(listed) if listed is not None else None
        )
        deadline = epoch_tag(tags, TAG_DEADLINE)
        state = tags.get(TAG_STATUS, Status.OK.value)
        error = tags.get(TAG_LAST_ERROR)
        error = None if error in (None, "", "none") else error
        reasons = []
        if state == Status.REAUTH_REQUIRED.value:
            reasons.append("re-authorization required")
        elif state == Status.FAILING.value:
            reasons.append(f"refresh failing ({error or 'unknown error'})")
        if expires_at is not None and expires_at <= now:
            reasons.append("token expired")
        if deadline is not None and deadline - now <= DEADLINE_ATTENTION:
            reasons.append(f"human deadline {format_iso(deadline)}")
        provider = tags.get(TAG_PROVIDER, "unknown")
        warnings = []
        if tags.get(TAG_APP_BINDING) == BINDING_UNDECLARED:
            warnings.append(
                "its app credentials declare no provider: add "
                f'"provider": "{provider}" to the app-credentials secret (docs/security.md)'
            )
        return cls(
            connection=entry.name,
            arn=entry.arn,
            instance=tags.get(TAG_INSTANCE) or None,
            provider=provider,
            state=state,
            expires_at=expires_at,
            expiry_known=expires_at is not None or expires_raw == NEVER,
            human_deadline=deadline,
            last_rotated=last,
            last_error_class=error,
            attention=tuple(reasons),
            warnings=tuple(warnings),
            incident=None
            if tags.get(TAG_INCIDENT, NO_INCIDENT) == NO_INCIDENT
            else tags[TAG_INCIDENT],
        )

    def cells(self, now: datetime) -> tuple[str, ...]:
        expires = fmt_until(self.expires_at, now) if self.expiry_known else "?"
        deadline = "-"
        if self.human_deadline is not None:
            deadline = f"{self.human_deadline:%Y-%m-%d} ({fmt_until(self.human_deadline, now)})"
        last = fmt_delta(self.last_rotated - now) if self.last_rotated else "never"
        state = self.state + (" !" if self.attention else "")
        return (
            self.connection,
            self.provider,
            state,
            expires,
            deadline,
            last,
            self.last_error_class or "-",
        )

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else format_iso(value)

        return {
            "connection": self.connection,
            "arn": self.arn,
            "instance": self.instance,
            "provider": self.provider,
            "state": self.state,
            "expires_at": iso(self.expires_at),
            "never_expires": self.expiry_known and self.expires_at is None,
            "human_deadline": iso(self.human_deadline),
            "last_rotated_at": iso(self.last_rotated),
            "last_error_class": self.last_error_class,
            "needs_attention": bool(self.attention),
            "attention": list(self.attention),
            "warnings": list(self.warnings),
            "incident": self.incident,
        }


def collect(
    entries: Iterable[SecretSummary],
    now: datetime,
    provider: str | None = None,
    incident: str | None = None,
) -> list[Row]:
    rows = [Row.from_entry(e, now) for e in entries]
    if provider is not None:
        rows = [r for r in rows if r.provider == provider]
    if incident is not None:
        rows = [r for r in rows if r.incident == incident]
    # Attention first, then soonest expiry: what a human should look at comes on top.
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(rows, key=lambda r: (not r.attention, r.expires_at or far, r.connection))


def table(rows: list[Row], now: datetime, *, instances: bool = False) -> str:
    cells = [COLUMNS, *(r.cells(now) for r in rows)]
    if instances:
        cells = [
            ("INSTANCE", *cells[0]),
            *((r.instance or "-", *c) for r, c in zip(rows, cells[1:], strict=True)),
        ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def summary(rows: list[Row]) -> str:
    states = Counter(r.state for r in rows)
    parts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    attention = sum(1 for r in rows if r.attention)
    text = f"{len(rows)} connection{'s' if len(rows) != 1 else ''}"
    text += f" ({parts})" if parts else ""
    return text + f"; {attention} need{'s' if attention == 1 else ''} a human"


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.provider is not None:
        resolve_provider(args.provider)
    now = ctx.clock()
    if args.all_instances:
        listing = ctx.store().list_by_tag(TAG_MANAGED, "true")
    else:
        listing = list_own(ctx.store(), resolve_instance(args, ctx))
    progress = ctx.console.progress("listed")
    entries = []
    for entry in listing:
        entries.append(entry)
        progress.advance()
    progress.finish()
    rows = collect(entries, now, args.provider, getattr(args, "incident", None))
    if args.json:
        ctx.console.print(json.dumps([r.to_json() for r in rows], indent=2))
        ctx.console.note(summary(rows))
    else:
        for line in fleet_summary(rows, now):
            ctx.console.print(line)
        if rows:
            ctx.console.print(table(rows, now, instances=args.all_instances))
        ctx.console.print(summary(rows))
        for row in rows:
            if row.attention:
                ctx.console.print(f"  ! {row.connection}: {'; '.join(row.attention)}")
            for warning in row.warnings:
                ctx.console.print(f"  warning: {row.connection}: {warning}")
    return EXIT_ATTENTION if any(r.attention for r in rows) else EXIT_OK
