"""A cap on failed callbacks per link.

A valid link lets its holder start the platform's sign-in and send codes to the callback; each
callback that gets past the link's checks costs Secrets Manager calls and one POST that carries
the app's client secret to the platform. After ``MAX_FAILED_CALLBACKS`` callbacks of one link
that stored nothing (a refused or garbled code, a denial at the platform, another account...),
the link is locked: the next landing page or callback is refused from the connection's tags
alone (the one DescribeSecret that reads the nonce), before any value is read or any provider
is called. The count lives in the tag ``token-refresher:connect-failures`` as
``<count>@<nonce>``: a newer link (a new nonce) starts from zero, and an alert whose link is
locked mints a new one.

The tag is a read-modify-write, so parallel callbacks could each count from the same value. The
cap itself therefore holds in Secrets Manager's one conditional write: before a callback calls the
platform, and before a landing page is shown, it claims a numbered slot of its link, a secret
version whose id (PutSecretValue's ClientRequestToken) is derived from the link's nonce and the
slot's number; Secrets Manager creates a version id at most once, so of parallel claimers exactly
one gets each slot, and when ``MAX_FAILED_CALLBACKS`` callback slots (``MAX_LANDING_VIEWS`` landing
slots) are taken the link is locked, however many requests are in flight. The slots' versions
hold a marker, never a token, under their own staging label (``ATTEMPT_STAGE``).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.secrets import SecretStore
from token_refresher.connect.links import LinkError, LinkProblem
from token_refresher.observability import logger
from token_refresher.state import TAG_PREFIX

TAG_CONNECT_FAILURES = TAG_PREFIX + "connect-failures"
MAX_FAILED_CALLBACKS = 5
MAX_LANDING_VIEWS = 10
ATTEMPT_STAGE = "TR_CONNECT_ATTEMPT"
CALLBACK, LANDING = "callback", "landing"
_SLOTS = uuid.UUID("6f1c2d8e-4b7a-5e39-9a0d-2f6b8c1e7d45")  # namespace of the slots' version ids


def failed_callbacks(tags: Mapping[str, str], nonce: str) -> int:
    """Failed callbacks counted for the link with ``nonce`` (0 for another link's count)."""
    count, _, counted_nonce = tags.get(TAG_CONNECT_FAILURES, "").partition("@")
    if counted_nonce != nonce or not count.isdigit():
        return 0
    return int(count)


def is_locked(tags: Mapping[str, str], nonce: str) -> bool:
    return failed_callbacks(tags, nonce) >= MAX_FAILED_CALLBACKS


def refuse_when_locked(tags: Mapping[str, str], nonce: str) -> None:
    if is_locked(tags, nonce):
        raise LinkError(LinkProblem.LOCKED, f"{MAX_FAILED_CALLBACKS} failed callbacks")


def record_failed_callback(
    store: SecretStore, secret_id: str, tags: Mapping[str, str], nonce: str
) -> None:
    """Count one more failed callback of this link (best effort: a failing tag write is logged,
    the page the person sees does not change)."""
    count = failed_callbacks(tags, nonce) + 1
    try:
        store.tag(secret_id, {TAG_CONNECT_FAILURES: f"{count}@{nonce}"})
    except AwsError as exc:
        logger.warning(
            "failed callback not counted", extra={"secret_id": secret_id, "aws_code": exc.code}
        )
        return
    if count >= MAX_FAILED_CALLBACKS:
        logger.warning(
            "connect link locked after failed callbacks",
            extra={"secret_id": secret_id, "failed_callbacks": count},
        )


def slot_version(nonce: str, kind: str, number: int) -> str:
    """The version id of a link's numbered slot (a valid ClientRequestToken, 36 characters)."""
    return str(uuid.uuid5(_SLOTS, f"{kind}:{number}:{nonce}"))


def claim_slot(store: SecretStore, secret_id: str, nonce: str, kind: str, *, first: int = 1) -> int:
    """Claim the next free slot of this link for one callback or landing view: its number. Slots
    below ``first`` are known taken (the failure tag's count). LinkError LOCKED when none is
    left: nothing further is read, and no platform is called."""
    cap = MAX_FAILED_CALLBACKS if kind == CALLBACK else MAX_LANDING_VIEWS
    marker = json.dumps({"connect_attempt": kind, "claim": secrets.token_hex(8)})
    for number in range(max(1, first), cap + 1):
        if store.claim_version(secret_id, slot_version(nonce, kind, number), marker, ATTEMPT_STAGE):
            return number
    logger.warning(
        "connect link locked: every attempt slot is taken",
        extra={"secret_id": secret_id, "kind": kind, "cap": cap},
    )
    raise LinkError(LinkProblem.LOCKED, f"{cap} {kind} attempts")
