"""The consent link: ``<connect url>?l=<payload>.<signature>``.

The payload names one secret, its provider, the deployment (instance), a nonce and an expiry; it
carries no token and no secret. The signature is HMAC-SHA256 with the deployment's signing key (a
Secrets Manager secret the stack generates), so a link made by another deployment, or edited by
hand, does not verify. Single use: the nonce must equal the connection secret's
``token-refresher:connect-nonce`` tag, which a successful consent replaces with ``used`` and which
each link the CLI makes replaces with its own nonce (only the newest such link works); alerts'
links reuse an unused nonce (minter.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from token_refresher.errors import ErrorClass, TokenRefresherError
from token_refresher.state import TAG_PREFIX
from token_refresher.timeutil import from_epoch, to_epoch

TAG_CONNECT_NONCE = TAG_PREFIX + "connect-nonce"
# A connection created by `token-refresher connect`, holding no grant until its first consent.
TAG_AWAITING = TAG_PREFIX + "awaiting-consent"
NONCE_USED = "used"
# Providers with a consent flow (platforms.PLATFORMS; kept here so that alerting imports no
# provider module). meta_system_user has none.
CONSENT_PROVIDERS = frozenset(
    {"meta", "google_ads", "microsoft_ads", "linkedin", "tiktok", "amazon_ads", "oauth2"}
)
LINK_PARAM = "l"
DEFAULT_TTL = timedelta(days=7)
NONCE_BYTES = 16
MAX_SIGNED_LINK_CHARS = 2048


class LinkProblem(StrEnum):
    TAMPERED = "tampered"  # unreadable or the signature does not match
    EXPIRED = "expired"
    USED = "used"  # the nonce is no longer the connection's (used, or replaced by a newer link)
    FOREIGN = "foreign"  # another deployment's link, or a secret this deployment does not manage
    LOCKED = "locked"  # too many failed callbacks through this link (attempts.py)


class LinkError(TokenRefresherError):
    """The link does not allow this (tampered, expired, used, another deployment's, locked): a
    ``permission`` error, never retryable; the owner needs a new link."""

    def __init__(self, problem: LinkProblem, detail: str = "") -> None:
        super().__init__(ErrorClass.PERMISSION, problem.value + (f": {detail}" if detail else ""))
        self.problem = problem
        self.detail = detail


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def unb64url(text: str) -> bytes:
    """Strict base64url without padding: characters outside the alphabet (which the standard
    decoder drops silently) and non-canonical forms (stray trailing bits) raise ValueError, so
    only the one canonical spelling of a value is accepted (it goes into Set-Cookie)."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def mac(key: bytes, *parts: str) -> bytes:
    """HMAC-SHA256 over length-prefixed parts (no ambiguity between ``a|bc`` and ``ab|c``)."""
    message = b"".join(len(p.encode()).to_bytes(4, "big") + p.encode() for p in parts)
    return hmac.new(key, message, hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(NONCE_BYTES)


# A consent through a link writes its grant as the pending version named after the link's nonce:
# a second browser finishing the same link writes the same version id with another value, which
# Secrets Manager refuses (ResourceExistsException), so single use holds when callbacks race.
PENDING_NAMESPACE = uuid.UUID("6f1d3c52-8a0e-5b7e-9c1a-2f4e6b8d0a13")


def pending_version(nonce: str) -> str:
    """The version id a consent through the link with ``nonce`` writes."""
    return str(uuid.uuid5(PENDING_NAMESPACE, nonce))


@dataclass(frozen=True)
class Link:
    secret_id: str
    provider: str
    nonce: str
    expires_at: datetime
    instance: str = ""
    allow_new_account: bool = False

    def _payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "s": self.secret_id,
            "p": self.provider,
            "n": self.nonce,
            "e": to_epoch(self.expires_at),
            "i": self.instance,
        }
        if self.allow_new_account:
            out["a"] = 1
        return out

    def sign(self, key: bytes) -> str:
        body = b64url(json.dumps(self._payload(), separators=(",", ":")).encode())
        return body + "." + b64url(mac(key, "link", body))

    def url(self, base_url: str, key: bytes) -> str:
        return base_url + "?" + urlencode({LINK_PARAM: self.sign(key)})

    @classmethod
    def verify(cls, signed: str, key: bytes, *, now: datetime, instance: str = "") -> Link:
        """The link ``signed`` (what :meth:`sign` made) names; raises LinkError (tampered,
        expired, foreign)."""
        if (
            not isinstance(signed, str)
            or len(signed) > MAX_SIGNED_LINK_CHARS
            or signed.count(".") != 1
        ):
            raise LinkError(LinkProblem.TAMPERED, "malformed")
        body, _, sig = signed.partition(".")
        try:
            given = unb64url(sig)
        except (binascii.Error, ValueError):
            raise LinkError(LinkProblem.TAMPERED, "malformed") from None
        if not hmac.compare_digest(given, mac(key, "link", body)):  # before any parsing
            raise LinkError(LinkProblem.TAMPERED, "bad signature")
        try:
            payload = json.loads(unb64url(body))
        except (binascii.Error, ValueError):
            raise LinkError(LinkProblem.TAMPERED, "malformed") from None
        link = cls._from_payload(payload)
        if link.instance != instance:
            raise LinkError(LinkProblem.FOREIGN, "another deployment's link")
        if now >= link.expires_at:
            raise LinkError(LinkProblem.EXPIRED)
        return link

    @classmethod
    def _from_payload(cls, payload: object) -> Link:
        if not isinstance(payload, dict):
            raise LinkError(LinkProblem.TAMPERED, "malformed")
        fields = (payload.get("s"), payload.get("p"), payload.get("n"), payload.get("i", ""))
        expiry = payload.get("e")
        if not all(isinstance(f, str) for f in fields) or not isinstance(expiry, int):
            raise LinkError(LinkProblem.TAMPERED, "malformed")
        secret_id, provider, nonce, instance = (str(f) for f in fields)
        try:
            expires_at = from_epoch(expiry)
        except (OverflowError, OSError, ValueError):
            raise LinkError(LinkProblem.TAMPERED, "malformed") from None
        return cls(
            secret_id=secret_id,
            provider=provider,
            nonce=nonce,
            expires_at=expires_at,
            instance=instance,
            allow_new_account=payload.get("a") == 1,
        )
