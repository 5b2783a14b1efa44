"""Suite-wide leak scan: no token, refresh token, client secret or appsecret_proof may appear in a
log record, an alert, an exception leaving the engines, or a metric line.

Secrets come from the fixtures (registered with ``add_secrets``) and from everything the fake
provider server saw or issued. Texts come from a logging handler, the notifiers, the engines'
escaping exceptions, and each test's captured stdout/stderr (EMF metric lines included). The scan
looks for each secret as is, URL-encoded, and base64-encoded.

It also watches where app credentials go: every client secret a fake server registered
has a home (that server's URL for its provider), and any request, to any watched fake server,
that carries it somewhere else is a finding: an app secret sent to an unexpected host or path.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any
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
        # credential -> URL prefixes it may be sent to; and where requests were actually sent
        self._homes: list[Callable[[], Iterable[tuple[str, str]]]] = []
        self._deliveries: list[Callable[[], Iterable[tuple[str, str]]]] = []

    def add_secrets(self, *values: object) -> None:
        with self._lock:
            self._secrets.update(
                v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH
            )

    def add_source(self, source: Callable[[], Iterable[str]]) -> None:
        self._sources.append(source)

    def watch(
        self,
        homes: Callable[[], Iterable[tuple[str, str]]],
        deliveries: Callable[[], Iterable[tuple[str, str]]],
    ) -> Callable[[], None]:
        """Check that credentials (``homes``: (secret, home URL) pairs) only go home.

        ``deliveries``: (URL a request went to, everything it carried as text). Returns a function
        that stops watching (a per-test server must not be checked after its test).
        """
        with self._lock:
            self._homes.append(homes)
            self._deliveries.append(deliveries)

        def unwatch() -> None:
            with self._lock:
                self._homes.remove(homes)
                self._deliveries.remove(deliveries)

        return unwatch

    def misdirected(self) -> list[str]:
        """Requests that carried a known credential to a URL outside that credential's homes."""
        with self._lock:
            home_sources, delivery_sources = list(self._homes), list(self._deliveries)
        homes: dict[str, set[str]] = {}
        for source in home_sources:
            for secret, home in source():
                if len(secret) >= MIN_SECRET_LENGTH:
                    homes.setdefault(secret, set()).add(home.rstrip("/"))
        out = []
        for source in delivery_sources:
            for url, carried in source():
                for secret, allowed in homes.items():
                    at_home = any(url == h or url.startswith(h + "/") for h in allowed)
                    if not at_home and any(form in carried for form in variants(secret)):
                        out.append(
                            f"request to {url}: carries the app secret {secret[:4]}... "
                            f"that belongs to {', '.join(sorted(allowed))}"
                        )
        return out

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
        return sorted(set(out + self.misdirected()))


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
        tokens.extend(getattr(getattr(fake, "consent", None), "codes", ()))  # authorization codes
        for apps in fake.registered_apps().values():  # type: ignore[attr-defined]
            tokens.extend(apps.values())
        for request in fake.requests():  # type: ignore[attr-defined]
            params = request.params
            tokens.extend(str(params[f]) for f in CREDENTIAL_FIELDS if params.get(f))
            for auth in (request.basic_auth(), request.basic_auth_raw()):
                if auth:
                    tokens.append(auth[1])
        return tokens

    return collect


def watch_fake_server(fake: Any, scanner: LeakScanner = SCANNER) -> Callable[[], None]:
    """Watch a FakeProviders server: its registered apps' secrets belong to its provider paths."""

    def homes() -> Iterable[tuple[str, str]]:
        for provider, apps in fake.registered_apps().items():
            for secret in apps.values():
                yield secret, fake.url(provider)

    def deliveries() -> Iterable[tuple[str, str]]:
        for request in fake.requests():
            auth = [request.basic_auth(), request.basic_auth_raw()]  # RFC-decoded and as sent
            carried = json.dumps([request.params, request.headers, auth], default=str)
            yield f"{fake.base_url}{request.path}", f"{request.path} {carried}"

    return scanner.watch(homes, deliveries)
