"""One consent attempt: ``state``, the browser cookie and the PKCE pair, without a datastore.

The landing page starts an attempt with a random flow id and a random per-attempt secret that
only the browser's cookie holds. Everything else is derived from the secret, the signed link, the
flow id and the signing key, so the callback recomputes it instead of looking it up:

- the cookie ``tr_connect_<flow id>`` (HttpOnly, SameSite=Lax) holds ``<secret>.<signed link>``:
  the callback finds it by the flow id in ``state`` and knows which link it serves; one cookie per
  attempt, so a second link opened in the same browser does not break the first one's sign-in;
- ``state`` = ``<flow id>.<MAC(platform, signed link, flow id, secret)>``: short (TikTok), bound to
  the link, the attempt and the platform (mix-up defence, with one callback path per platform);
- the PKCE verifier (RFC 7636, 43 unreserved characters) = base64url(MAC(signed link, flow id,
  secret)), and the challenge its S256.
The secret is what makes the cookie more than the link: whoever holds the link and sees the
callback URL (its code and state) still cannot build the cookie that matches the state, nor the
verifier the code is bound to. Single use comes from the link's nonce (links.py): a used link
cannot start or finish an attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie

from token_refresher.connect.links import b64url, mac, unb64url
from token_refresher.errors import ErrorClass, TokenRefresherError

COOKIE_PREFIX = "tr_connect_"
COOKIE_MAX_AGE_S = 3600
FLOW_ID_BYTES = 12
SECRET_BYTES = 16
STATE_MAC_BYTES = 18


class FlowError(TokenRefresherError):
    """The callback's state or cookie does not belong to this attempt (a ``permission`` error,
    never retryable: the browser must start again from the link)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorClass.PERMISSION, message)


def new_flow_id() -> str:
    return secrets.token_urlsafe(FLOW_ID_BYTES)


def new_secret() -> str:
    return b64url(secrets.token_bytes(SECRET_BYTES))


@dataclass(frozen=True)
class Flow:
    signed_link: str
    flow_id: str
    platform: str
    secret: str = field(default_factory=new_secret, repr=False)

    @classmethod
    def start(cls, signed_link: str, platform: str) -> Flow:
        """A new attempt: a fresh flow id and secret."""
        return cls(signed_link, new_flow_id(), platform, new_secret())

    def state(self, key: bytes) -> str:
        parts = (self.platform, self.signed_link, self.flow_id, self.secret)
        tag = mac(key, "state", *parts)[:STATE_MAC_BYTES]
        return self.flow_id + "." + b64url(tag)

    def code_verifier(self, key: bytes) -> str:
        return b64url(mac(key, "pkce", self.signed_link, self.flow_id, self.secret))  # 43 chars

    def code_challenge(self, key: bytes) -> str:
        return pkce_challenge(self.code_verifier(key))

    def cookie(self, *, secure: bool) -> str:
        """A ``Set-Cookie`` header value."""
        attrs = f"Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax"
        value = f"{self.secret}.{self.signed_link}"
        return f"{COOKIE_PREFIX}{self.flow_id}={value}; {attrs}" + ("; Secure" if secure else "")

    @classmethod
    def from_callback(cls, cookie_header: str, state: str, platform: str, key: bytes) -> Flow:
        """The attempt a callback belongs to; raises FlowError when state or cookie disagree."""
        flow_id = state.partition(".")[0]
        value = _cookie(cookie_header, COOKIE_PREFIX + flow_id) if flow_id else None
        if value is None:
            raise FlowError("no consent cookie in this browser")
        secret, _, signed_link = value.partition(".")
        if not _is_secret(secret) or not signed_link:
            raise FlowError("the consent cookie is not this attempt's")
        flow = cls(signed_link, flow_id, platform, secret)
        if not hmac.compare_digest(state.encode(), flow.state(key).encode()):
            raise FlowError("state does not match this attempt")
        return flow


def _is_secret(text: str) -> bool:
    try:
        return len(unb64url(text)) == SECRET_BYTES
    except ValueError:
        return False


def pkce_challenge(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def clear_cookie(*, secure: bool, flow_id: str = "") -> str:
    """The ``Set-Cookie`` value deleting the attempt's cookie ("" when no attempt is known)."""
    if not flow_id:
        return ""
    return f"{COOKIE_PREFIX}{flow_id}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" + (
        "; Secure" if secure else ""
    )


def _cookie(header: str, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header or "")
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None and morsel.value else None
