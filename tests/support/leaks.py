"""Suite-wide leak scan: no token, refresh token, client secret or appsecret_proof may appear in a
log record, an alert, an exception leaving the engines, or a metric line.

Secrets come from the fixtures (registered with ``add_secrets``) and from everything the fake
provider server saw or issued. Texts come from a logging handler, the notifiers, the engines'
escaping exceptions, and each test's captured stdout/stderr (EMF metric lines included). The scan
looks for each secret as is, URL-encoded, and base64-encoded.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterable
from functools import cache
from urllib.parse import quote, quote_plus

MIN_SECRET_LENGTH = 8
# Request fields that carry credentials to a provider (what the fake server recorded).
CREDENTIAL_FIELDS = (
    "access_token",
    "refresh_token",
    "client_secret",
    "secret",
    "fb_exchange_token",
    "input_token",
    "token",
    "appsecret_proof",
)


@cache
def variants(secret: str) -> tuple[str, ...]:
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    return tuple(f for f in forms if len(f) >= MIN_SECRET_LENGTH)


class LeakScanner:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._sources: list[Callable[[], Iterable[str]]] = []
        self._texts: list[tuple[str, str]] = []

    def add_secrets(self, *values: object) -> None:
        with self._lock:
            self._secrets.update(
                v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH
            )

    def add_source(self, source: Callable[[], Iterable[str]]) -> None:
        self._sources.append(source)

    def record(self, where: str, text: object) -> None:
        with self._lock:
            self._texts.append(
                (where, text if isinstance(text, str) else json.dumps(text, default=str))
            )

    def reset(self) -> None:
        with self._lock:
            self._texts.clear()

    def secrets(self) -> set[str]:
        found = set(self._secrets)
        for source in self._sources:
            found.update(s for s in source() if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH)
        return found

    def findings(self, extra: Iterable[tuple[str, str]] = ()) -> list[str]:
        secrets = self.secrets()
        with self._lock:
            texts = [*self._texts, *extra]
        out = []
        for where, text in texts:
            for secret in secrets:
                if any(form in text for form in variants(secret)):
                    out.append(f"{where}: contains secret {secret[:4]}... ({len(secret)} chars)")
        return sorted(set(out))


SCANNER = LeakScanner()


class RecordingHandler(logging.Handler):
    """Every log record at INFO and above, with its extra fields."""

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in record.__dict__.items() if k not in ("args", "exc_info")}
        SCANNER.record(f"log {record.name}", json.dumps(fields, default=str))
        if record.exc_info and record.exc_info[1] is not None:
            SCANNER.record(f"log exception {record.name}", repr(record.exc_info[1]))


def fake_provider_secrets(fake: object) -> Callable[[], Iterable[str]]:
    """Every token the fake server issued or holds, and every credential it was sent."""

    def collect() -> Iterable[str]:
        tokens = list(getattr(fake, "_tokens", {}))
        for apps in getattr(fake, "_apps", {}).values():
            tokens.extend(apps.values())
        for request in fake.requests():  # type: ignore[attr-defined]
            params = request.params
            tokens.extend(str(params[f]) for f in CREDENTIAL_FIELDS if params.get(f))
            auth = request.basic_auth()
            if auth:
                tokens.append(auth[1])
        return tokens

    return collect
