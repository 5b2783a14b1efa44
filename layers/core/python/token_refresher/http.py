"""HTTP to provider token endpoints: one Session, timeouts, bounded retries on transient errors.

Retry policy (``max_attempts`` in total):
- connection errors (nothing was sent) are retried for every request;
- 5xx and 429 answers are retried, honouring ``Retry-After`` up to ``max_retry_after``;
- read timeouts are retried only for idempotent requests: a refresh POST may have been processed,
  and for providers that rotate refresh tokens a blind second call could burn the new one.
URLs must be https; plain http is accepted for loopback hosts only (the test fake providers).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from token_refresher.errors import ConfigError, ErrorClass, ProviderError

if TYPE_CHECKING:
    import requests

# requests (about 70 ms of imports) is loaded on first use: the sweep and the worker only need
# check_url from here, and their cold start should not pay for it.

USER_AGENT = "token-refresher/0.1 (+https://github.com/token-refresher)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """Refuse anything but https, except http to a loopback host (tests)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise ConfigError("has no host", field="endpoint")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and is_loopback_host(host):
        return url
    raise ConfigError(
        f"must use https (http is allowed for loopback test servers only), got {parts.scheme}://{host}",
        field="endpoint",
    )


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON (HTML error pages, truncated bodies)."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HttpClient:
    def __init__(  # noqa: PLR0913 - timeouts and retry limits, keyword-only with defaults
        self,
        session: requests.Session | None = None,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        max_retry_after: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        import requests  # noqa: PLC0415 - lazy, see above

        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.timeout = (connect_timeout, read_timeout)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.max_retry_after = max_retry_after
        self._sleep = sleep

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        # Full jitter: uniform in [0, base * 2^attempt]. Not security sensitive.
        return random.uniform(0, self.backoff_base * (2**attempt))  # noqa: S311  # nosec B311 # jitter, not security

    def request(  # noqa: PLR0913 - requests' own keyword arguments, passed through as they are
        self,
        method: str,
        url: str,
        *,
        provider: str,
        idempotent: bool | None = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> HttpResponse:
        """Send a request; returns any HTTP answer that is not retried away.

        Raises ProviderError(transient) when the provider stays unreachable or keeps answering
        5xx/429. The message names the host and the failure kind, never the query or body.
        """
        check_url(url)
        send = functools.partial(
            self.session.request,
            method,
            url,
            params=params,
            data=data,
            json=json_body,
            headers=dict(headers or {}),
            auth=auth,
            timeout=self.timeout,
            allow_redirects=False,
        )
        attempt_once = functools.partial(
            self._attempt,
            send,
            host=urlsplit(url).hostname or "",
            provider=provider,
            idempotent=method.upper() == "GET" if idempotent is None else idempotent,
        )
        last_error: ProviderError | None = None
        for attempt in range(self.max_attempts):
            answer = attempt_once()
            retry_after: float | None = None
            if isinstance(answer, ProviderError):
                last_error = answer
            elif answer.status not in RETRY_STATUSES or attempt + 1 == self.max_attempts:
                return answer  # the provider module classifies a final 5xx/429 itself
            else:
                retry_after = retry_after_seconds(_header(answer.headers, "Retry-After"))
            if attempt + 1 < self.max_attempts:
                self._sleep(self._backoff(attempt, retry_after))
        assert last_error is not None  # noqa: S101  # nosec B101 # the loop sets it or returns
        raise last_error

    @staticmethod
    def _attempt(
        send: Callable[[], requests.Response], *, host: str, provider: str, idempotent: bool
    ) -> HttpResponse | ProviderError:
        """One try: the answer, or a failure worth retrying (any other failure is raised)."""
        import requests  # noqa: PLC0415 - lazy, see above

        try:
            resp = send()
        except requests.ConnectionError as exc:
            # ConnectTimeout is a ConnectionError too: the request was not sent.
            sent = not isinstance(exc, requests.ConnectTimeout) and _maybe_sent(exc)
            failure = ProviderError(
                ErrorClass.TRANSIENT,
                f"connection to {host} failed ({type(exc).__name__})",
                provider=provider,
            )
            if sent and not idempotent:
                raise failure from None
            return failure
        except requests.Timeout as exc:
            failure = ProviderError(
                ErrorClass.TRANSIENT,
                f"{host} did not answer in time ({type(exc).__name__})",
                provider=provider,
            )
            if not idempotent:
                raise failure from None
            return failure
        except requests.RequestException as exc:
            raise ProviderError(
                ErrorClass.TRANSIENT,
                f"request to {host} failed ({type(exc).__name__})",
                provider=provider,
            ) from None
        return HttpResponse(resp.status_code, dict(resp.headers), resp.text)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively (HTTP header names are)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _maybe_sent(exc: requests.ConnectionError) -> bool:
    """A reset or a dropped connection after connect may have reached the server."""
    text = type(exc.__context__ or exc).__name__ + repr(exc.args)
    return any(s in text for s in ("Reset", "RemoteDisconnected", "ProtocolError", "Aborted"))
