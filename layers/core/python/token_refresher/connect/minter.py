"""Making links: a fresh nonce on the connection secret, then the signed link.

Used by the CLI (``token-refresher link`` / ``connect``) and by the alerting path (alerts that need
a human carry ``reconnect_url``). Each new link replaces the previous one's nonce: only the newest
link of a connection works.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from token_refresher.adapters.secrets import AWSCURRENT, SecretStore
from token_refresher.connect.links import (
    CONSENT_PROVIDERS,
    DEFAULT_TTL,
    TAG_CONNECT_NONCE,
    Link,
    new_nonce,
)
from token_refresher.errors import ConfigError
from token_refresher.timeutil import Clock, utcnow

MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class SigningKey:
    key: bytes
    base_url: str  # the connect endpoint, ending with "/"
    # The deployment's instance name (issue 13), when the stack writes one into the key secret:
    # links carry it and the endpoint only acts on secrets tagged with it.
    instance: str = ""

    def __repr__(self) -> str:  # never print the key
        return f"SigningKey(base_url={self.base_url!r}, key=<redacted>)"

    @classmethod
    def from_json(cls, text: str | None, secret_id: str) -> SigningKey:
        """``{"key": "<random>", "url": "<connect url>", "instance": "<name>"}``, the secret the
        stack generates (``instance`` optional)."""
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
        base = url if url.endswith("/") else url + "/"
        return cls(key.encode(), base, instance if isinstance(instance, str) else "")


class KeySource:
    """Reads the signing key secret once per container (the key never changes under a stack)."""

    def __init__(self, store: SecretStore, secret_id: str) -> None:
        self._store = store
        self._secret_id = secret_id

    @cached_property
    def current(self) -> SigningKey:
        text = self._store.get_value(self._secret_id, stage=AWSCURRENT)
        return SigningKey.from_json(text, self._secret_id)


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

    def mint(self, secret_id: str, provider: str, *, allow_new_account: bool = False) -> str:
        """A new link for ``secret_id`` (tags a fresh nonce on it); ConfigError for providers
        without a consent flow."""
        if provider not in CONSENT_PROVIDERS:
            raise ConfigError(f"provider {provider!r} has no consent flow", field="provider")
        signing = self._keys()
        link = Link(
            secret_id=secret_id,
            provider=provider,
            nonce=new_nonce(),
            expires_at=self.expiry(),
            instance=signing.instance,
            allow_new_account=allow_new_account,
        )
        self._store.tag(secret_id, {TAG_CONNECT_NONCE: link.nonce})
        return link.url(signing.base_url, signing.key)

    def expiry(self) -> datetime:
        return self._clock() + self._ttl
