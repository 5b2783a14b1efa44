"""A cap on failed callbacks per link.

A valid link lets its holder start the platform's sign-in and send codes to the callback; each
callback that gets past the link's checks costs Secrets Manager calls and one POST that carries
the app's client secret to the platform. After ``MAX_FAILED_CALLBACKS`` callbacks of one link
that stored nothing (a refused or garbled code, a denial at the platform, another account...),
the link is locked: the next landing page or callback is refused from the connection's tags
alone (the one DescribeSecret that reads the nonce), before any value is read or any provider
is called. The count lives in the tag ``token-refresher:connect-failures`` as
``<count>@<nonce>``: a newer link (a new nonce) starts from zero, and an alert whose link is
locked mints a new one. Concurrent callbacks may each count from the same value, so a burst can
exceed the cap by the number of callbacks in flight at that moment.
"""

from __future__ import annotations

from collections.abc import Mapping

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.secrets import SecretStore
from token_refresher.connect.links import LinkError, LinkProblem
from token_refresher.observability import logger
from token_refresher.state import TAG_PREFIX

TAG_CONNECT_FAILURES = TAG_PREFIX + "connect-failures"
MAX_FAILED_CALLBACKS = 5


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
