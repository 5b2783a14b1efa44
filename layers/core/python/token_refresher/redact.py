"""Scrub secret values out of text before it reaches a log line, an alert or an exception."""

from __future__ import annotations

import base64
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


class Redactor:
    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._needles: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        for secret in secrets:
            if secret and len(secret) >= _MIN_LENGTH:
                self._needles.update(v for v in _variants(secret) if len(v) >= _MIN_LENGTH)

    def __call__(self, text: str) -> str:
        # Longest first so that a secret containing another one is masked whole.
        for needle in sorted(self._needles, key=len, reverse=True):
            if needle in text:
                text = text.replace(needle, MASK)
        return text
