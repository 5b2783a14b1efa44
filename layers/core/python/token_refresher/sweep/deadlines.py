"""Warnings before a deadline only a human can push back: 30, 7 and 1 day ahead, each once.

The deadline is the ``human-deadline`` tag (notices.token_tags); the last warning sent is kept in
the ``deadline-warned`` tag as ``<days>@<deadline epoch>`` so that every scheduled sweep can ask
again without repeating itself. The record counts for the deadline it names only: after a renewal
(a re-consent, Meta's data-access renewal, a new Google Testing grant) the new deadline gets its own
30-, 7- and 1-day warnings. A deadline restated within ``SAME_DEADLINE`` (countdown answers such as
``refresh_token_expires_in`` land a few seconds apart) is the same deadline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import SecretStore
from token_refresher.alerting.failures import publish_alert, save_tags
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.state import TAG_DEADLINE, TAG_PREFIX, epoch_tag
from token_refresher.sweep.candidate import Candidate
from token_refresher.timeutil import format_iso, from_epoch, to_epoch

TAG_DEADLINE_WARNED = TAG_PREFIX + "deadline-warned"
DEADLINE_WARNINGS_DAYS = (30, 7, 1)
SAME_DEADLINE = timedelta(hours=1)

DEADLINE_REMEDIATION = {
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


def warning_due(cand: Candidate, now: datetime) -> tuple[datetime, int] | None:
    """(deadline, threshold in days) when a warning is due for this candidate, else None."""
    deadline = epoch_tag(cand.tags, TAG_DEADLINE)
    if deadline is None:
        return None
    days_left = (deadline - now).total_seconds() / 86400
    threshold = next((d for d in sorted(DEADLINE_WARNINGS_DAYS) if days_left <= d), None)
    if threshold is None:
        return None
    warned = warned_for(cand.tags.get(TAG_DEADLINE_WARNED, ""), deadline, days_left)
    if warned and warned <= threshold:
        return None
    return deadline, threshold


def warned_record(threshold: int, deadline: datetime) -> str:
    """The ``deadline-warned`` value: the warning sent and the deadline it was sent for."""
    return f"{threshold}@{to_epoch(deadline)}"


def warned_for(record: str, deadline: datetime, days_left: float) -> int:
    """The warning (in days) already sent for ``deadline``; 0 when none was.

    A record written before it named its deadline (a bare ``7``) counts only while it could be
    this deadline's, that is while no more than that many days are left."""
    days_text, _, epoch_text = record.partition("@")
    try:
        days = int(days_text or 0)
        if not epoch_text:
            return days if days_left <= days else 0
        same = abs(from_epoch(int(epoch_text)) - deadline) <= SAME_DEADLINE
    except (ValueError, OverflowError, OSError):
        return 0
    return days if same else 0


class DeadlineWarner:
    def __init__(self, store: SecretStore, notifier: Notifier) -> None:
        self.store = store
        self.notifier = notifier

    def warn(self, cand: Candidate, now: datetime) -> int:
        """Send the warning due for ``cand``, if any; returns how many were sent (0 or 1)."""
        due = warning_due(cand, now)
        if due is None:
            return 0
        deadline, threshold = due
        publish_alert(
            self.notifier,
            Alert(
                AlertEvent.EXPIRING,
                secret_id=cand.secret_id,
                provider=cand.provider,
                message=f"a deadline only a human can push back is {format_iso(deadline)} "
                f"(within {threshold} day{'s' if threshold > 1 else ''})",
                remediation=DEADLINE_REMEDIATION.get(cand.provider, DEADLINE_REMEDIATION["*"]),
                occurred_at=now,
                expires_at=deadline,
            ),
        )
        save_tags(
            self.store,
            cand.secret_id,
            {TAG_DEADLINE_WARNED: warned_record(threshold, deadline)},
            what="the deadline warning record",
        )
        return 1
