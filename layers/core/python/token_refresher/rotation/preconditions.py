"""The rotation engine's preconditions and pending values: plain functions over the store, no
engine state (rotation/engine.py runs them)."""

from __future__ import annotations

from datetime import datetime, timedelta

from token_refresher.adapters.secrets import (
    AWSCURRENT,
    AWSPENDING,
    SecretDescription,
    SecretNotFound,
    SecretStore,
)
from token_refresher.errors import ConfigError, RotationStateError, VersionNotPending
from token_refresher.events import RotationRequest
from token_refresher.model import TokenDocument
from token_refresher.observability import logger
from token_refresher.redact import Redactor
from token_refresher.state import TAG_FORCE_AFTER
from token_refresher.timeutil import to_epoch


def describe_for_rotation(store: SecretStore, secret_id: str) -> SecretDescription:
    try:
        return store.describe(secret_id)
    except SecretNotFound:
        raise ConfigError("secret not found", field="SecretId") from None


def already_current(desc: SecretDescription, request: RotationRequest) -> bool:
    """True when the version is already AWSCURRENT (nothing to do); raises VersionNotPending when
    the step names a version that is not this secret's pending one."""
    # RotationEnabled is not a precondition, unlike in AWS's template: the version's stages below
    # are. The connect flow runs these steps for a version it wrote itself, and LocalStack reports
    # RotationEnabled=false after a RotateSecret without rules.
    stages = desc.versions.get(request.version_id)
    if stages is None:
        raise VersionNotPending(f"secret {desc.name} has no version {request.version_id} to rotate")
    if AWSCURRENT in stages:
        logger.info(
            "version already AWSCURRENT: nothing to do",
            extra={"secret_id": request.secret_id, "step": request.step.value},
        )
        return True
    if AWSPENDING not in stages:
        raise VersionNotPending(
            f"version {request.version_id} of {desc.name} is not staged AWSPENDING"
        )
    return False


def pending_doc(store: SecretStore, request: RotationRequest, redactor: Redactor) -> TokenDocument:
    """The document createSecret wrote at AWSPENDING for this version."""
    text = store.get_value(request.secret_id, version_id=request.version_id, stage=AWSPENDING)
    if text is None:
        raise RotationStateError(f"no AWSPENDING value for version {request.version_id}")
    doc = TokenDocument.from_json(text)
    redactor.add(*doc.secret_values())
    return doc


def parse_current(text: str | None, redactor: Redactor) -> TokenDocument:
    if text is None:
        raise ConfigError("the secret has no AWSCURRENT value", field="secret")
    doc = TokenDocument.from_json(text)
    redactor.add(*doc.secret_values())
    return doc


def refreshed_within(
    desc: SecretDescription, doc: TokenDocument, now: datetime, interval: timedelta
) -> bool:
    """Refreshed less than ``interval`` ago, and no forced rotation asked since."""
    if doc.last_refreshed_at is None or now - doc.last_refreshed_at >= interval:
        return False
    forced = desc.tags.get(TAG_FORCE_AFTER, "")
    return not (forced.isdigit() and int(forced) >= to_epoch(doc.last_refreshed_at))


def stuck_pending_value(
    store: SecretStore, desc: SecretDescription, doc: TokenDocument, request: RotationRequest
) -> str | None:
    """A refreshed value left at AWSPENDING on another version by a failed rotation."""
    for version_id, stages in desc.versions.items():
        if version_id == request.version_id or AWSPENDING not in stages or AWSCURRENT in stages:
            continue
        text = store.get_value(request.secret_id, version_id=version_id)
        if text is None:
            continue
        try:
            stuck = TokenDocument.from_json(text)
        except ConfigError:
            continue
        newer = stuck.last_refreshed_at is not None and (
            doc.last_refreshed_at is None or stuck.last_refreshed_at > doc.last_refreshed_at
        )
        if newer:
            logger.warning(
                "adopting a refreshed value left pending by an earlier failed rotation",
                extra={"secret_id": request.secret_id, "stuck_version_id": version_id},
            )
            return text
    return None
