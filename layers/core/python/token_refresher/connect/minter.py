"""Making links: a fresh nonce on the connection secret, then the signed link.

Used by the CLI (``token-refresher link`` / ``connect``) and by the alerting path (alerts that need
a human carry ``reconnect_url``). Each link made by the CLI replaces the previous one's nonce: only
the newest such link works. An alert's link reuses the connection's unused nonce, so a daily
reminder does not kill yesterday's link or a sign-in in progress.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from token_refresher.adapters.errors import AccessDenied
from token_refresher.adapters.secrets import AWSCURRENT, SecretStore
from token_refresher.connect.attempts import is_locked
from token_refresher.connect.links import (
    CONSENT_PROVIDERS,
    DEFAULT_TTL,
    NONCE_USED,
    TAG_AWAITING,
    TAG_CONNECT_NONCE,
    Link,
    new_nonce,
    pending_version,
)
from token_refresher.connect.platforms import (
    TIKTOK_ACCOUNT_NO_FLOW,
    NoConsentFlow,
    require_consent_flow,
)
from token_refresher.errors import ConfigError
from token_refresher.model import TokenDocument
from token_refresher.providers import tiktok
from token_refresher.state import TAG_KIND
from token_refresher.timeutil import Clock, utcnow

# Providers whose token kind decides whether a consent link applies (platforms.consent_refusal).
KIND_DEPENDENT = frozenset({"tiktok"})

MIN_KEY_BYTES = 32
KEY_CACHE_TTL_S = 300.0  # a replaced key takes effect within 5 minutes


@dataclass(frozen=True)
class SigningKey:
    key: bytes
    base_url: str  # the connect endpoint, ending with "/"
    # The deployment's instance name (docs/architecture.md, "Instances"), written by the stack
    # into the key secret: links carry it and the endpoint only acts on secrets tagged with it.
    # Required: a key without one would switch the endpoint's instance check off, so it is
    # refused (fail closed).
    instance: str

    def __post_init__(self) -> None:
        if not self.instance:
            raise ConfigError(
                "the consent links' signing key names no instance: refused", field="instance"
            )

    def __repr__(self) -> str:  # never print the key
        return f"SigningKey(base_url={self.base_url!r}, key=<redacted>)"

    @classmethod
    def from_json(cls, text: str | None, secret_id: str) -> SigningKey:
        """``{"key": "<random>", "url": "<connect url>", "instance": "<name>"}``, the secret the
        stack generates; each of the three is required."""
        try:
            data = json.loads(text or "")
        except ValueError:
            data = None
        key = data.get("key") if isinstance(data, dict) else None
        url = data.get("url") if isinstance(data, dict) else None
        if not isinstance(key, str) or len(key) < MIN_KEY_BYTES or not isinstance(url, str):
            raise ConfigError(
                f"signing key secret {secret_id!r} must hold a JSON object with a key of at "
                f"least {MIN_KEY_BYTES} characters and the connect url",
                field="CONNECT_KEY_SECRET_ID",
            )
        instance = data.get("instance") if isinstance(data, dict) else None
        if not isinstance(instance, str) or not instance:
            raise ConfigError(
                f"signing key secret {secret_id!r} must name its deployment's instance "
                '("instance"): without it the endpoint could act on any instance\'s connection',
                field="CONNECT_KEY_SECRET_ID",
            )
        base = url if url.endswith("/") else url + "/"
        return cls(key.encode(), base, instance)


class KeySource:
    """Reads the signing key secret, again after ``KEY_CACHE_TTL_S``: replacing the secret's
    value revokes every outstanding link within that time."""

    def __init__(
        self,
        store: SecretStore,
        secret_id: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._secret_id = secret_id
        self._monotonic = monotonic
        self._cached: tuple[float, SigningKey] | None = None

    @property
    def current(self) -> SigningKey:
        now = self._monotonic()
        if self._cached is None or now - self._cached[0] >= KEY_CACHE_TTL_S:
            text = self._store.get_value(self._secret_id, stage=AWSCURRENT)
            self._cached = (now, SigningKey.from_json(text, self._secret_id))
        return self._cached[1]


class LinkMinter:
    def __init__(
        self,
        store: SecretStore,
        keys: Callable[[], SigningKey],
        *,
        ttl: timedelta = DEFAULT_TTL,
        clock: Clock = utcnow,
    ) -> None:
        self._store = store
        self._keys = keys
        self._ttl = ttl
        self._clock = clock

    def mint(
        self,
        secret_id: str,
        provider: str,
        *,
        allow_new_account: bool = False,
        reuse_nonce: bool = False,
    ) -> str:
        """A new link for ``secret_id`` (tags a fresh nonce on it); ConfigError for providers
        without a consent flow. ``reuse_nonce`` (alerts): keep the connection's unused nonce, so
        the links of earlier alerts and a sign-in in progress keep working."""
        if provider not in CONSENT_PROVIDERS:
            raise ConfigError(f"provider {provider!r} has no consent flow", field="provider")
        if provider in KIND_DEPENDENT:
            self._require_flow(secret_id)
        signing = self._keys()
        nonce = self._unused_nonce(secret_id) if reuse_nonce else None
        link = Link(
            secret_id=secret_id,
            provider=provider,
            nonce=nonce or new_nonce(),
            expires_at=self.expiry(),
            instance=signing.instance,
            allow_new_account=allow_new_account,
        )
        if nonce is None:
            self._store.tag(secret_id, {TAG_CONNECT_NONCE: link.nonce})
        return link.url(signing.base_url, signing.key)

    def _require_flow(self, secret_id: str) -> None:
        """A TikTok account token (not an advertiser one) has no consent flow: no link for it.

        Decided from tags (the sweep, which sends deadline warnings, may not read token values):
        a connection awaiting its first consent gets the flow that makes it; the ``kind`` tag
        names the token otherwise. Only a document written before kinds existed is read, and
        where that is denied the link is made: the landing page and the callback check the
        document themselves before any consent.
        """
        tags = self._store.describe(secret_id).tags
        if tags.get(TAG_AWAITING) == "true":
            return
        kind = tags.get(TAG_KIND)
        if kind in tiktok.KINDS or kind in tiktok.LEGACY_KINDS:
            if tiktok.LEGACY_KINDS.get(kind, kind) == tiktok.KIND_ACCOUNT:
                raise NoConsentFlow(TIKTOK_ACCOUNT_NO_FLOW, field="kind")
            return
        try:
            text = self._store.get_value(secret_id, stage=AWSCURRENT)
        except AccessDenied:
            return
        if text is not None:
            require_consent_flow(TokenDocument.from_json(text))

    def _unused_nonce(self, secret_id: str) -> str | None:
        """The connection's current nonce unless it was used (or its grant already written)."""
        tags = self._store.describe(secret_id).tags
        nonce = tags.get(TAG_CONNECT_NONCE)
        if not nonce or nonce == NONCE_USED or is_locked(tags, nonce):
            return None
        # A consent wrote its grant but could not finish: that link is spent. Asked from the
        # version list (metadata), never the value: the sweep, which sends deadline warnings,
        # may not read token values (its role grants no GetSecretValue on connections).
        if self._store.version_exists(secret_id, pending_version(nonce)):
            return None
        return nonce

    def expiry(self) -> datetime:
        return self._clock() + self._ttl
