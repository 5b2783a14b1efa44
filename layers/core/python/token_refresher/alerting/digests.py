"""Re-authorizations batched: a person per connection, but not a message per connection.

A ``token.reauth_required`` needs its own consent link, so each keeps one. The first
``digest_threshold`` re-authorizations of one app (platform and app credentials) within an
interval go out at once, one by one, as before; the ones after them are held, and the sweep's
flush, ``group_wait`` after the first, sends them as ONE ``token.reauth_digest`` listing every
connection with its link (the links are made when the digest is sent: connect/reconnect.py).

The grouping is the incident store's (a ``CauseKind.CONSENT`` cause), so it holds across Lambda
invocations and concurrent rotations; a digest is never an incident: no ``incident.*`` message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from token_refresher.alerts import Alert, AlertEvent, Incident, Transition

if TYPE_CHECKING:
    from token_refresher.alerting.incidents import IncidentStore

# SNS takes 256 KiB: a link and an ARN are under 400 bytes, so 400 fit with room to spare.
MAX_LINKS = 400


def digest_alert(
    inc: Incident,
    held: list[Mapping[str, Any]],
    *,
    now: datetime,
    link: Callable[[Alert], Alert],
    from_dict: Callable[[Mapping[str, Any]], Alert],
) -> Alert:
    """One alert for the held re-authorizations, each connection with a fresh link."""
    alerts = [link(from_dict(h)) for h in held[:MAX_LINKS]]
    links = tuple((a.secret_id, a.reconnect_url) for a in alerts)
    lines = [f"- {sid}: {url or 'no link (token-refresher link <secret>)'}" for sid, url in links]
    more = len(held) - len(alerts)
    if more > 0:
        lines.append(f"- and {more} more: token-refresher status --incident {inc.incident_id}")
    cause = inc.cause
    return Alert(
        AlertEvent.REAUTH_DIGEST,
        secret_id=inc.incident_id,
        provider=cause.provider,
        message=f"{len(held)} more connections of {cause.provider} app {cause.app} need their "
        f"owner to sign in again (the grant was revoked or expired)",
        occurred_at=now,
        error_class=cause.error_class,
        remediation="Send each account owner their connection's link (each works once):\n"
        + "\n".join(lines),
        links=links,
    )


class Digests:
    """The CONSENT branch of the incident desk (alerting/incidents.py)."""

    def __init__(
        self,
        threshold: int,
        publish: Callable[[Alert], None],
        link: Callable[[Alert], Alert] | None,
        from_dict: Callable[[Mapping[str, Any]], Alert],
    ) -> None:
        self.threshold = threshold
        self.publish = publish
        self.link = link or (lambda alert: alert)
        self.from_dict = from_dict

    def failed(self, inc: Incident, alert: Alert | None) -> bool:
        """After the member joined without a held alert: True when its alert must be held (the
        group is past the threshold); else it was published here, at once, if there is one."""
        if alert is None:
            return False
        if inc.affected > self.threshold:
            return True
        self.publish(alert)
        return False

    def flush(
        self,
        inc: Incident,
        now: datetime,
        *,
        wait_over: bool,
        quiet: bool,
        store: IncidentStore,
    ) -> None:
        if inc.held and wait_over:
            if store.claim(inc.incident_id, Transition.CLOSE, now=now) is None:
                return
            held = store.held_alerts(inc.incident_id)
            if len(held) == 1:  # one alone is no digest
                self.publish(self.link(self.from_dict(held[0])))
            elif held:
                self.publish(
                    digest_alert(inc, held, now=now, link=self.link, from_dict=self.from_dict)
                )
        elif not inc.held and quiet:
            store.claim(inc.incident_id, Transition.CLOSE, now=now)
