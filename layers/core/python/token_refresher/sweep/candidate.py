"""A listed secret as the sweep sees it: its tags, rotation facts and whether a version is pending
(pure values; the decision reads nothing else)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from token_refresher.state import TAG_PROVIDER
from token_refresher.timeutil import from_epoch

if TYPE_CHECKING:
    from token_refresher.adapters.secrets import SecretSummary

__all__ = ["Candidate", "candidate_from_listing"]


@dataclass(frozen=True)
class Candidate:
    secret_id: str
    name: str
    provider: str
    tags: Mapping[str, str]
    rotation_enabled: bool
    last_rotated: datetime | None
    # An AWSPENDING version that is not AWSCURRENT: a rotation in progress, or one that crashed
    # (the starter finishes it once it is stuck), whether or not the token is due.
    pending: bool = False


def candidate_from_listing(entry: SecretSummary) -> Candidate:
    """A listed secret (tags included) as a sweep candidate."""
    return Candidate(
        secret_id=entry.arn,
        name=entry.name,
        provider=entry.tags.get(TAG_PROVIDER, "unknown"),
        tags=entry.tags,
        rotation_enabled=entry.rotation_enabled,
        last_rotated=from_epoch(entry.last_rotated_at) if entry.last_rotated_at else None,
        pending=entry.has_pending(),
    )
