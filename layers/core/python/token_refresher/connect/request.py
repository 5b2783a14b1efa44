"""The connect endpoint's view of an HTTP request (a Lambda Function URL event, payload 2.0).

Parsed here rather than with Powertools' ``LambdaFunctionUrlEvent``: importing any Powertools event
data class imports all of them (the package's ``__init__``), about 12 ms at a cold start against a
5 ms budget (docs/benchmarks.md); events/connect-function-url-callback.json is the shape read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    cookie: str = ""
    secure: bool = True

    @classmethod
    def from_function_url(cls, event: Mapping[str, object]) -> HttpRequest:
        """A Lambda Function URL (payload 2.0) event."""
        http = event.get("requestContext", {})
        http = http.get("http", {}) if isinstance(http, dict) else {}
        headers = event.get("headers") or {}
        headers = (
            {str(k).lower(): str(v) for k, v in headers.items()}
            if isinstance(headers, dict)
            else {}
        )
        cookies = event.get("cookies")
        cookie = "; ".join(cookies) if isinstance(cookies, list) else headers.get("cookie", "")
        query = event.get("queryStringParameters") or {}
        return cls(
            method=str(http.get("method", "GET")).upper() if isinstance(http, dict) else "GET",
            path=str(event.get("rawPath") or "/"),
            query={str(k): str(v) for k, v in query.items()} if isinstance(query, dict) else {},
            cookie=cookie,
            secure=headers.get("x-forwarded-proto", "https") == "https",
        )
