"""Provider notices on a token document: stored on refresh, announced once, turned into tags.

A notice (the provider would not extend the token, an API version is ending) is announced once,
when it first appears; the sweep's 30/7/1-day warnings (sweep/deadlines.py) follow up on the
deadline it carries, read from the ``human-deadline`` tag written here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from token_refresher.alerts import Alert, AlertEvent
from token_refresher.model import TokenDocument
from token_refresher.providers.base import NoticeKind, RefreshResult
from token_refresher.state import NEVER, TAG_DEADLINE, TAG_EXPIRES_AT, TAG_KIND, TAG_PROVIDER
from token_refresher.timeutil import format_iso, parse_iso, to_epoch

NOTICE_REMEDIATION = {
    NoticeKind.NOT_EXTENDED.value: (
        "The provider would not extend this token: ask the user to sign in again and store the "
        "new token before the deadline."
    ),
    NoticeKind.API_VERSION_ENDING.value: (
        "Set options.graph_version in the token secret to a supported Graph API version before "
        "the deadline."
    ),
}


def merge_refresh(doc: TokenDocument, result: RefreshResult, now: datetime) -> TokenDocument:
    """The new document: provider answer merged in, everything else (unknown fields too) kept."""
    return doc.evolve(
        access_token=result.access_token,
        expires_at=result.expires_at,
        refresh_token=result.refresh_token or doc.refresh_token,
        refresh_token_expires_at=result.refresh_token_expires_at or doc.refresh_token_expires_at,
        data_access_expires_at=result.data_access_expires_at or doc.data_access_expires_at,
        last_refreshed_at=now,
        options={**doc.options, **result.options_update},
        notices=tuple(
            {
                "kind": n.kind.value,
                "message": n.message,
                "deadline": format_iso(n.deadline) if n.deadline else None,
            }
            for n in result.notices
        ),
    )


def notice_deadline(notice: Mapping[str, Any]) -> datetime | None:
    value = notice.get("deadline")
    try:
        return parse_iso(value) if isinstance(value, str) else None
    except ValueError:
        return None


def human_deadline(doc: TokenDocument) -> datetime | None:
    """The earliest date only a human can push back."""
    candidates = [doc.data_access_expires_at, doc.refresh_token_expires_at]
    candidates += [
        notice_deadline(n) for n in doc.notices if n.get("kind") == NoticeKind.NOT_EXTENDED.value
    ]
    present = [c for c in candidates if c is not None]
    return min(present) if present else None


def token_tags(doc: TokenDocument) -> dict[str, str]:
    deadline = human_deadline(doc)
    return {
        TAG_PROVIDER: doc.provider,
        TAG_KIND: doc.kind or "default",
        TAG_EXPIRES_AT: str(to_epoch(doc.expires_at)) if doc.expires_at else NEVER,
        TAG_DEADLINE: str(to_epoch(deadline)) if deadline else NEVER,
    }


def new_notice_alerts(
    before: TokenDocument,
    after: TokenDocument,
    *,
    secret_id: str,
    now: datetime,
    redact: Callable[[str], str],
) -> Iterator[Alert]:
    """One ``token.expiring`` alert per notice of ``after`` that ``before`` did not carry."""
    known = {(n.get("kind"), n.get("deadline")) for n in before.notices}
    for notice in after.notices:
        remediation = NOTICE_REMEDIATION.get(str(notice.get("kind")))
        if remediation is None or (notice.get("kind"), notice.get("deadline")) in known:
            continue
        yield Alert(
            AlertEvent.EXPIRING,
            secret_id=secret_id,
            provider=after.provider,
            message=redact(str(notice.get("message", notice.get("kind")))),
            remediation=remediation,
            occurred_at=now,
            expires_at=notice_deadline(notice),
            consent_resolves=notice.get("kind") == NoticeKind.NOT_EXTENDED.value,
        )
