"""Scrub secret values out of text before it reaches a log line, an alert or an exception."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
_MIN_LENGTH = 6  # shorter strings would mask ordinary words


def _variants(secret: str) -> set[str]:
    raw = secret.encode("utf-8")
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode("ascii").rstrip("="),
        base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
    }


def keyed_proof(key: str, secret: str) -> str:
    """hex(HMAC-SHA256(key, secret)): Meta's ``appsecret_proof`` of a token under the app secret."""
    return hmac.new(key.encode(), secret.encode(), hashlib.sha256).hexdigest()


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._needles: set[str] = set()
        self._secrets: set[str] = set()
        self._keys: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if secret and len(secret) >= _MIN_LENGTH:
                self._secrets.add(secret)
                self._needles.update(v for v in _variants(secret) if len(v) >= _MIN_LENGTH)
                self._needles.update(keyed_proof(key, secret) for key in self._keys)

    def add_signing_key(self, *keys: str | None) -> None:
        """A key that signs secrets (an app secret): every proof it makes is masked too.

        The proof of each secret known now or added later (``keyed_proof(key, secret)``, Meta's
        ``appsecret_proof``) becomes a needle, so a proof echoed in an error text never leaks.
        """
        for key in keys:
            if key and key not in self._keys:
                self._keys.add(key)
                self._needles.update(keyed_proof(key, s) for s in self._secrets)

    def __call__(self, text: str) -> str:
        # Longest first so that a secret containing another one is masked whole.
        for needle in sorted(self._needles, key=len, reverse=True):
            if needle in text:
                text = text.replace(needle, MASK)
        return text
