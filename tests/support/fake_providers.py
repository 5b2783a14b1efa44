"""One fake HTTP server that plays every ad platform's token endpoints, for tests and `make demo`.

Each provider lives under its own path prefix; point a provider module at it with
``ProviderContext(endpoints=fake.endpoints())``::

    /meta       /{version}/oauth/access_token (fb_exchange_token)  /{version}/debug_token
                /{version}/{business_id}/system_user_access_tokens
    /google     /token  /tokeninfo
    /linkedin   /oauth/v2/accessToken  /oauth/v2/introspectToken
    /tiktok     /open_api/v1.3/tt_user/oauth2/refresh_token/  /open_api/v1.3/oauth2/advertiser/get/
    /amazon     /auth/o2/token  /auth/o2/tokeninfo
    /microsoft  /{tenant}/oauth2/v2.0/token
    /oauth2     /token  /introspect

Route names (for ``script``): meta ``exchange``, ``debug_token``, ``system_user_tokens``; tiktok
``refresh`` (TikTok account tokens), ``advertiser_get``; microsoft ``token``; the others ``token``
and ``tokeninfo`` / ``introspect``. ``"*"`` matches every route of a provider.

Default behaviour is stateful: seeded or issued tokens live in a registry; refreshes issue fresh
random tokens with each platform's look (``EAA...``, ``ya29.``, ``Atza|``/``Atzr|``...), unknown,
expired or revoked tokens get that platform's documented error body. Refresh-token rotation is on
for Microsoft and off elsewhere (``configure(provider, rotate=True)``); a rotated-away refresh token
is dead, which is stricter than some platforms and catches code that loses the new one.

Consent (authorization endpoints with an Allow / Deny page, code exchange, userinfo) lives in
tests/support/fake_consent.py, mounted as ``fake.consent``.

Control, from Python or over HTTP (JSON POST to ``/_control/<method>``, ``GET /_control/requests``):
``seed``, ``script``, ``set_mode`` (failure mode and latency), ``configure``, ``revoke``,
``register_app`` (then client credentials and appsecret_proof are checked), ``requests``, ``reset``.

Standalone: ``python -m tests.support.fake_providers --port 8900`` prints the port, serves until
SIGTERM.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import signal
import socket
import struct
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from tests.support.fake_consent import FakeConsent

PREFIXES = ("meta", "google", "linkedin", "tiktok", "amazon", "microsoft", "oauth2")
# provider module name -> fake prefix
ALIASES = {
    "meta_system_user": "meta",
    "google_ads": "google",
    "amazon_ads": "amazon",
    "microsoft_ads": "microsoft",
}
DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {
    "meta": {"expires_in": 5_184_000, "extend_on_exchange": True},
    "google": {"expires_in": 3599, "rotate": False},
    "linkedin": {"expires_in": 5_184_000, "rotate": False, "refresh_expires_in": 31_536_000},
    "tiktok": {"expires_in": 86_400, "rotate": False, "refresh_expires_in": 31_536_000},
    "amazon": {"expires_in": 3600, "rotate": False},
    "microsoft": {"expires_in": 3599, "rotate": True},
    "oauth2": {"expires_in": 3600, "rotate": False},
}
TOKEN_LOOK = {  # provider -> (access prefix, refresh prefix)
    "meta": ("EAAFake", ""),
    "google": ("ya29.", "1//0g"),
    "linkedin": ("AQV", "AQX"),
    "tiktok": ("act.", "rft."),
    "amazon": ("Atza|", "Atzr|"),
    "microsoft": ("EwB", "M.C5"),
    "oauth2": ("at-", "rt-"),
}
MAX_HOLD_S = 30.0  # how long a "timeout" failure holds the connection at most


def _canon(provider: str) -> str:
    name = ALIASES.get(provider, provider)
    if name not in PREFIXES:
        raise ValueError(f"unknown fake provider {provider!r}")
    return name


@dataclass
class Response:
    """A scripted answer. ``fail="reset"`` drops the connection, ``"timeout"`` never answers."""

    status: int = 200
    json: Any = None
    text: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    fail: str | None = None


@dataclass
class RecordedRequest:
    provider: str
    route: str
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str] | None
    json: Any
    headers: dict[str, str]

    @property
    def params(self) -> dict[str, Any]:
        """Query, form and JSON fields merged (the provider logic reads them from here)."""
        merged: dict[str, Any] = dict(self.query)
        merged.update(self.form or {})
        if isinstance(self.json, dict):
            merged.update(self.json)
        return merged

    def basic_auth_raw(self) -> tuple[str, str] | None:
        """The Basic pair as sent, before the RFC 6749 form-urldecoding (leak scan, debugging)."""
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode("utf-8", "replace").partition(":")
        return user, password

    def basic_auth(self) -> tuple[str, str] | None:
        """HTTP Basic client credentials decoded as RFC 6749 §2.3.1 says: base64, split at the
        first ``:``, then form-urldecode each part (``+`` is a space, ``%XX`` UTF-8 bytes)."""
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode("utf-8").partition(":")
        return unquote_plus(user), unquote_plus(password)


@dataclass
class _Token:
    provider: str
    kind: str  # "access" | "refresh"
    expires_at: float | None
    scopes: list[str] = field(default_factory=list)
    revoked: bool = False
    info: dict[str, Any] = field(default_factory=dict)  # e.g. meta "type", "app_id"


def _oauth(status: int, error: str, description: str, **extra: Any) -> Response:
    return Response(status, {"error": error, "error_description": description, **extra})


def _graph_error(
    code: int, message: str, subcode: int | None = None, status: int = 400
) -> Response:
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = "AFake" + secrets.token_hex(6)
    return Response(status, {"error": err})


def _tiktok(code: int, message: str, data: Any = None) -> Response:
    """TikTok's envelope; error answers carry an empty ``data`` object."""
    data = {} if data is None else data
    body = {"code": code, "message": message, "request_id": secrets.token_hex(12), "data": data}
    return Response(200, body)


class FakeProviders:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.RLock()
        self._release = threading.Event()  # wakes connections held by a "timeout" failure
        self._server = ThreadingHTTPServer((host, port), _make_handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        # The fake platforms' clock (epoch seconds): token lifetimes and the times they report.
        # The lifecycle test sets it to its simulated clock.
        self.now: Callable[[], float] = time.time
        self.reset()

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, provider: str) -> str:
        return f"{self.base_url}/{_canon(provider)}"

    def endpoints(self) -> dict[str, str]:
        """Endpoint overrides for every provider module name (and the bare prefixes)."""
        names = [*PREFIXES, *ALIASES]
        return {name: self.url(name) for name in names}

    def start(self) -> FakeProviders:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeProviders:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- control API --------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._release.set()
            self._release = threading.Event()
            self._tokens: dict[str, _Token] = {}
            self._scripts: dict[tuple[str, str], deque[Response]] = defaultdict(deque)
            self._modes: dict[str, dict[str, Any]] = {}
            self._settings = {p: dict(s) for p, s in DEFAULT_SETTINGS.items()}
            self._apps: dict[str, dict[str, str]] = defaultdict(dict)
            self._requests: list[RecordedRequest] = []
            self.consent = FakeConsent(self)  # authorization endpoints and code exchange

    def seed(
        self,
        provider: str,
        *,
        access_token: str | None = None,
        refresh_token: str | None = None,
        expires_in: float | None = 3600,
        refresh_expires_in: float | None = None,
        scopes: list[str] | None = None,
        **info: Any,
    ) -> dict[str, str | None]:
        """Register valid tokens. ``expires_in=None`` never expires; negative = already expired.

        Meta extras: ``type`` (USER/SYSTEM_USER), ``app_id``, ``data_access_expires_in``.
        """
        name = _canon(provider)
        now = self.now()
        with self._lock:
            if access_token:
                self._tokens[access_token] = _Token(
                    name,
                    "access",
                    None if expires_in is None else now + expires_in,
                    list(scopes or []),
                    info=dict(info),
                )
            if refresh_token:
                self._tokens[refresh_token] = _Token(
                    name,
                    "refresh",
                    None if refresh_expires_in is None else now + refresh_expires_in,
                    list(scopes or []),
                    info=dict(info),
                )
        return {"access_token": access_token, "refresh_token": refresh_token}

    def script(self, provider: str, route: str, responses: list[Response]) -> None:
        """Queue answers for the next calls to ``route`` (``"*"``: any route) of ``provider``."""
        with self._lock:
            self._scripts[(_canon(provider), route)].extend(responses)

    def set_mode(self, provider: str, failure: str | None = None, latency_s: float = 0.0) -> None:
        """failure: None, "http_<status>" (e.g. http_503, http_429), "html", "reset", "timeout"."""
        with self._lock:
            self._modes[_canon(provider)] = {"failure": failure, "latency_s": latency_s}

    def configure(self, provider: str, **settings: Any) -> None:
        with self._lock:
            self._settings[_canon(provider)].update(settings)

    def register_app(self, provider: str, client_id: str, client_secret: str) -> None:
        with self._lock:
            self._apps[_canon(provider)][client_id] = client_secret

    def registered_apps(self) -> dict[str, dict[str, str]]:
        """provider prefix -> {client id: client secret} given to ``register_app``."""
        with self._lock:
            return {provider: dict(apps) for provider, apps in self._apps.items()}

    def revoke(self, token: str, **info: Any) -> None:
        """Mark a token revoked (meta: pass ``subcode=460`` etc. for the debug_token answer)."""
        with self._lock:
            record = self._tokens.get(token)
            if record is not None:
                record.revoked = True
                record.info.update(info)

    def requests(self, provider: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            if provider is None:
                return list(self._requests)
            name = _canon(provider)
            return [r for r in self._requests if r.provider == name]

    def is_valid(self, token: str, kind: str = "access") -> bool:
        return self._check(token, kind, None) == "ok"

    # --- request handling ---------------------------------------------------------------------
    def handle(self, req: RecordedRequest) -> Response:
        with self._lock:
            self._requests.append(req)
            queue = self._scripts.get((req.provider, req.route)) or self._scripts.get(
                (req.provider, "*")
            )
            if queue:
                return queue.popleft()
            mode = dict(self._modes.get(req.provider) or {})
        if mode.get("latency_s"):
            time.sleep(mode["latency_s"])
        failure = mode.get("failure")
        if failure:
            return _failure_response(failure)
        with self._lock:
            consented = self.consent.handle(req)
        if consented is not None:
            return consented
        handler: Callable[[RecordedRequest], Response] | None = getattr(
            self, f"_{req.provider}_{req.route}", None
        )
        if handler is None:
            return Response(404, {"error": "not_found", "error_description": req.path})
        with self._lock:
            return handler(req)

    def hold(self, seconds: float) -> None:
        self._release.wait(min(seconds, MAX_HOLD_S))

    def _check(self, token: str | None, kind: str, provider: str | None) -> str:
        record = self._tokens.get(token or "")
        if not token:
            return "empty"
        if record is None or record.kind != kind or (provider and record.provider != provider):
            return "unknown"
        if record.revoked:
            return "revoked"
        if record.expires_at is not None and record.expires_at <= self.now():
            return "expired"
        return "ok"

    def _issue(self, provider: str, kind: str, expires_in: float | None, **info: Any) -> str:
        prefix = TOKEN_LOOK[provider][0 if kind == "access" else 1]
        value = prefix + secrets.token_urlsafe(24)
        expires_at = None if expires_in is None else self.now() + expires_in
        self._tokens[value] = _Token(provider, kind, expires_at, info=info)
        return value

    def _client_ok(self, provider: str, client_id: str | None, secret: str | None) -> bool:
        apps = self._apps.get(provider)
        if not apps:
            return bool(client_id)
        return client_id in apps and (secret is None or apps[client_id] == secret)

    def _refresh_grant(
        self, provider: str, req: RecordedRequest, extra: Callable[[_Token], dict[str, Any]]
    ) -> Response | tuple[str, _Token]:
        """Shared RFC 6749 refresh; returns the error answer or (refresh token, its record)."""
        p = req.params
        basic = req.basic_auth()
        client_id, secret = basic or (p.get("client_id"), p.get("client_secret"))
        if not self._client_ok(provider, client_id, secret):
            return _oauth(401, "invalid_client", "Client authentication failed")
        if p.get("grant_type") != "refresh_token":
            return _oauth(400, "unsupported_grant_type", "grant_type must be refresh_token")
        token = str(p.get("refresh_token") or "")
        if self._check(token, "refresh", provider) != "ok":
            return Response(400, extra(_Token(provider, "refresh", None)))
        return token, self._tokens[token]

    def _token_answer(self, provider: str, old_refresh: str, **extra: Any) -> dict[str, Any]:
        settings = self._settings[provider]
        body: dict[str, Any] = {
            "access_token": self._issue(provider, "access", settings["expires_in"]),
            "token_type": "Bearer",
            "expires_in": settings["expires_in"],
        }
        if settings.get("rotate"):
            old = self._tokens[old_refresh]
            # keep_old_refresh: the previous refresh token stays usable after rotation.
            old.revoked = not settings.get("keep_old_refresh", False)
            new = self._issue(provider, "refresh", None)
            self._tokens[new].expires_at = old.expires_at if provider != "microsoft" else None
            body["refresh_token"] = new
        body.update(extra)
        return body

    # google ---------------------------------------------------------------------------------
    def _google_token(self, req: RecordedRequest) -> Response:
        got = self._refresh_grant(
            "google",
            req,
            lambda _t: {
                "error": "invalid_grant",
                "error_description": "Token has been expired or revoked.",
            },
        )
        if isinstance(got, Response):
            return got
        body = self._token_answer("google", got[0], scope="https://www.googleapis.com/auth/adwords")
        # Time-based access (configure(..., refresh_token_expires_in=N)): the grant's end.
        if self._settings["google"].get("refresh_token_expires_in"):
            body["refresh_token_expires_in"] = self._settings["google"]["refresh_token_expires_in"]
        return Response(200, body)

    def _google_tokeninfo(self, req: RecordedRequest) -> Response:
        token = str(req.params.get("access_token") or "")
        if self._check(token, "access", "google") != "ok":
            return _oauth(400, "invalid_token", "Invalid Value")
        record = self._tokens[token]
        left = int((record.expires_at or self.now() + 3599) - self.now())
        return Response(
            200,
            {
                "azp": "fake-client",
                "aud": "fake-client",
                "scope": "https://www.googleapis.com/auth/adwords",
                "exp": str(int(self.now()) + left),
                "expires_in": str(left),
                "access_type": "offline",
            },
        )

    # linkedin -------------------------------------------------------------------------------
    def _linkedin_token(self, req: RecordedRequest) -> Response:
        got = self._refresh_grant(
            "linkedin",
            req,
            lambda _t: {
                "error": "invalid_request",
                "error_description": "The provided authorization grant or refresh token is "
                "invalid, expired or revoked.",
            },
        )
        if isinstance(got, Response):
            return got
        token, record = got
        body = self._token_answer("linkedin", token)
        body.setdefault("refresh_token", token)
        if record.expires_at is not None:  # counts down from the original consent
            body["refresh_token_expires_in"] = int(record.expires_at - self.now())
        return Response(200, body)

    def _linkedin_introspect(self, req: RecordedRequest) -> Response:
        # LinkedIn's token introspection page: 400 "Invalid client id or token", 401 "Invalid
        # client secret"; a known token that is expired or revoked is a 200 with its status.
        p = req.params
        if not self._client_ok("linkedin", p.get("client_id"), None):
            return _oauth(400, "invalid_request", "Invalid client id")
        if not self._client_ok("linkedin", p.get("client_id"), p.get("client_secret")):
            return _oauth(401, "invalid_client", "Client authentication failed")
        token = str(p.get("token") or "")
        state = self._check(token, "access", "linkedin")
        if state in ("empty", "unknown"):
            return _oauth(400, "invalid_request", "Invalid token")
        if state != "ok":
            status = "expired" if state == "expired" else "revoked"
            return Response(200, {"active": False, "status": status})
        record = self._tokens[token]
        return Response(
            200,
            {
                "active": True,
                "client_id": p.get("client_id"),
                "status": "active",
                "scope": ",".join(record.scopes or ["r_ads", "rw_ads"]),
                "auth_type": "3L",
                "expires_at": int(record.expires_at or self.now() + 5_184_000),
                "authorized_at": int(self.now()) - 60,
                "created_at": int(self.now()) - 60,
            },
        )

    # tiktok ---------------------------------------------------------------------------------
    def _tiktok_refresh(self, req: RecordedRequest) -> Response:
        """TikTok account (creator) tokens: JSON client_id, client_secret, grant_type and
        refresh_token."""
        p = req.params
        if not self._client_ok("tiktok", p.get("client_id"), p.get("client_secret")):
            return _tiktok(40001, "client_id or client_secret is invalid")
        if p.get("grant_type") != "refresh_token":
            return _tiktok(40108, "grant_type must be refresh_token")
        token = str(p.get("refresh_token") or "")
        state = self._check(token, "refresh", "tiktok")
        if state == "empty":
            return _tiktok(40104, "refresh_token is empty")
        if state == "expired":
            return _tiktok(40103, "refresh_token has expired")
        if state != "ok":
            return _tiktok(40107, "refresh_token is invalid")
        settings = self._settings["tiktok"]
        record = self._tokens[token]
        data = {
            "access_token": self._issue("tiktok", "access", settings["expires_in"]),
            "expires_in": settings["expires_in"],
            "refresh_token": token,
            "refresh_token_expires_in": int((record.expires_at or self.now()) - self.now())
            if record.expires_at
            else settings["refresh_expires_in"],
            "open_id": record.info.get("open_id", "fake-open-id-0001"),
            "scope": ",".join(record.scopes or ["user.info.basic", "video.list"]),
            "token_type": "Bearer",
        }
        if settings.get("rotate"):
            record.revoked = True
            data["refresh_token"] = self._issue("tiktok", "refresh", settings["refresh_expires_in"])
        return _tiktok(0, "OK", data)

    def _tiktok_advertiser_get(self, req: RecordedRequest) -> Response:
        p = req.params
        if not self._client_ok("tiktok", p.get("app_id"), p.get("secret")):
            return _tiktok(40001, "app_id or secret is invalid")
        # The official SDK sends the token in the Access-Token header, never in the query.
        state = self._check(req.headers.get("Access-Token"), "access", "tiktok")
        codes = {
            "empty": (40104, "access_token is empty"),
            "expired": (40102, "access_token has expired"),
            "unknown": (40105, "access_token is invalid"),
            "revoked": (40105, "access_token is invalid"),
        }
        if state in codes:
            return _tiktok(*codes[state])
        # seed(..., advertiser_ids=[...]) sets the advertisers the token still reaches
        record = self._tokens[str(req.headers.get("Access-Token"))]
        ids = record.info.get("advertiser_ids", ["7000000000000000001"])
        listed = [{"advertiser_id": str(i), "advertiser_name": f"Fake Adv {i}"} for i in ids]
        return _tiktok(0, "OK", {"list": listed})

    # amazon ---------------------------------------------------------------------------------
    def _amazon_token(self, req: RecordedRequest) -> Response:
        got = self._refresh_grant(
            "amazon",
            req,
            lambda _t: {
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter : refresh_token",
            },
        )
        if isinstance(got, Response):
            return got
        body = self._token_answer("amazon", got[0], token_type="bearer")
        body.setdefault("refresh_token", got[0])
        self._tokens[body["access_token"]].info["aud"] = req.params.get("client_id")
        return Response(200, body)

    def _amazon_tokeninfo(self, req: RecordedRequest) -> Response:
        token = str(req.params.get("access_token") or "")
        if self._check(token, "access", "amazon") != "ok":
            return _oauth(
                400, "invalid_token", "The request has an invalid parameter : access_token"
            )
        record = self._tokens[token]
        return Response(
            200,
            {
                "iss": "https://www.amazon.com",
                "user_id": "amzn1.account.FAKE",
                "aud": record.info.get("aud", "amzn1.application-oa2-client.fake"),
                "app_id": "amzn1.application.fake",
                "iat": int(self.now()) - 1,
                "exp": int((record.expires_at or self.now() + 3600) - self.now()),
            },
        )

    # microsoft ------------------------------------------------------------------------------
    def _microsoft_token(self, req: RecordedRequest) -> Response:
        p = req.params

        def aad(error: str, code: int, text: str, status: int = 400) -> Response:
            return Response(
                status,
                {
                    "error": error,
                    "error_description": f"AADSTS{code}: {text}",
                    "error_codes": [code],
                    "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
                    "trace_id": secrets.token_hex(8),
                    "correlation_id": secrets.token_hex(8),
                },
            )

        if not p.get("scope"):
            return aad("invalid_request", 90014, "The required field 'scope' is missing.")
        resources = [s for s in str(p["scope"]).split() if s.startswith("https://")]
        if any(not s.startswith("https://ads.microsoft.com/") for s in resources):
            return aad("invalid_scope", 70011, "The provided value for 'scope' is not valid.")
        if not self._client_ok("microsoft", p.get("client_id"), p.get("client_secret")):
            return aad("invalid_client", 7000215, "Invalid client secret provided.", 401)
        state = self._check(p.get("refresh_token"), "refresh", "microsoft")
        if state == "expired":
            return aad("invalid_grant", 700082, "The refresh token has expired due to inactivity.")
        if state != "ok":
            return aad(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity.",
            )
        body = (
            self._token_answer(
                "microsoft", p["refresh_token"], scope=p["scope"], ext_expires_in=3599
            )
            if "offline_access" in str(p["scope"]).split()
            else self._microsoft_access_only(str(p["scope"]))
        )
        return Response(200, body)

    def _microsoft_access_only(self, scope: str) -> dict[str, Any]:
        """The v2.0 token endpoint returns a refresh token only for offline_access (Microsoft
        identity platform, "OAuth 2.0 authorization code flow", refresh_token): the access token
        alone, and the old refresh token is not rotated away."""
        expires_in = self._settings["microsoft"]["expires_in"]
        access = self._issue("microsoft", "access", expires_in)
        return {"access_token": access, "token_type": "Bearer", "expires_in": expires_in} | {
            "scope": scope
        }

    # oauth2 ---------------------------------------------------------------------------------
    def _oauth2_token(self, req: RecordedRequest) -> Response:
        p = req.params
        if p.get("grant_type") == "client_credentials":
            basic = req.basic_auth()
            client_id, secret = basic or (p.get("client_id"), p.get("client_secret"))
            if not self._client_ok("oauth2", client_id, secret):
                return _oauth(401, "invalid_client", "Client authentication failed")
            expires_in = self._settings["oauth2"]["expires_in"]
            return Response(
                200,
                {
                    "access_token": self._issue("oauth2", "access", expires_in),
                    "token_type": "Bearer",
                    "expires_in": expires_in,
                },
            )
        got = self._refresh_grant(
            "oauth2",
            req,
            lambda _t: {"error": "invalid_grant", "error_description": "refresh token is invalid"},
        )
        if isinstance(got, Response):
            return got
        return Response(200, self._token_answer("oauth2", got[0]))

    def _oauth2_introspect(self, req: RecordedRequest) -> Response:
        basic = req.basic_auth()
        client_id, secret = basic or (req.params.get("client_id"), req.params.get("client_secret"))
        if not self._client_ok("oauth2", client_id, secret):  # RFC 7662 §2.1: caller authenticates
            return _oauth(401, "invalid_client", "Client authentication failed")
        token = str(req.params.get("token") or "")
        if self._check(token, "access", "oauth2") != "ok":
            return Response(200, {"active": False})
        record = self._tokens[token]
        body: dict[str, Any] = {
            "active": True,
            "scope": " ".join(record.scopes),
            "client_id": "fake",
        }
        if record.expires_at is not None:
            body["exp"] = int(record.expires_at)
        return Response(200, body)

    # meta -----------------------------------------------------------------------------------
    def _meta_proof_error(
        self, p: dict[str, Any], token: str, app_id: str | None
    ) -> Response | None:
        secret = self._apps.get("meta", {}).get(app_id or "")
        if secret is None:
            return None
        proof = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if p.get("appsecret_proof") != proof:
            return _graph_error(100, "Invalid appsecret_proof provided in the API argument")
        return None

    def _meta_subcode(self, token: str, state: str) -> int:
        """190's subcode: 463 expired, the one given to ``revoke`` (default 460), 467 unknown."""
        if state == "expired":
            return 463
        record = self._tokens.get(token)
        return int(record.info.get("subcode", 460)) if record else 467

    def _meta_exchange(self, req: RecordedRequest) -> Response:
        p = req.params
        if p.get("grant_type") != "fb_exchange_token":
            return _graph_error(100, "Unsupported grant_type")
        apps = self._apps.get("meta") or {}
        if apps and p.get("client_id") not in apps:
            return _graph_error(101, "Error validating application. Invalid application ID.")
        if not self._client_ok("meta", p.get("client_id"), p.get("client_secret")):
            return _graph_error(1, "Error validating client secret.")
        old = str(p.get("fb_exchange_token") or "")
        state = self._check(old, "access", "meta")
        if state != "ok":
            return _graph_error(
                190, "Error validating access token", self._meta_subcode(old, state)
            )
        record = self._tokens[old]
        settings = self._settings["meta"]
        new = self._issue("meta", "access", settings["expires_in"], **record.info)
        self._tokens[new].scopes = list(record.scopes)
        if not settings["extend_on_exchange"]:
            self._tokens[new].expires_at = record.expires_at
        left = self._tokens[new].expires_at
        return Response(
            200,
            {
                "access_token": new,
                "token_type": "bearer",
                "expires_in": int((left or self.now()) - self.now()) if left else 0,
            },
        )

    def _meta_debug_token(self, req: RecordedRequest) -> Response:
        p = req.params
        app_token = str(p.get("access_token", ""))
        app_id, _, secret = app_token.partition("|")
        if not self._client_ok("meta", app_id, secret):
            # The APP token is bad: a top-level 190, unlike a bad input token (inside data).
            return _graph_error(190, "Invalid OAuth access token signature.")
        if (err := self._meta_proof_error(p, app_token, app_id)) is not None:
            return err
        token = str(p.get("input_token") or "")
        state = self._check(token, "access", "meta")
        if state != "ok":
            sub = self._meta_subcode(token, state)
            msg = "Error validating access token"
            return Response(
                200,
                {
                    "data": {
                        "error": {"code": 190, "message": msg, "subcode": sub},
                        "is_valid": False,
                        "scopes": [],
                    }
                },
            )
        record = self._tokens[token]
        now = int(self.now())
        data_access = record.info.get("data_access_expires_in", 7_776_000)
        if "data_access_until" in record.info:  # a fixed end (no activity after the consent)
            data_access = int(record.info["data_access_until"]) - now
        return Response(
            200,
            {
                "data": {
                    "app_id": app_id,
                    "type": record.info.get("type", "USER"),
                    "application": "Fake App",
                    "data_access_expires_at": now + data_access if data_access else 0,
                    "expires_at": int(record.expires_at) if record.expires_at else 0,
                    "is_valid": True,
                    "issued_at": now - 60,
                    "scopes": list(record.scopes),
                    "user_id": record.info.get("user_id", "10000000000001"),
                }
            },
        )

    def _meta_system_user_tokens(self, req: RecordedRequest) -> Response:
        p = req.params
        token = str(p.get("access_token", ""))
        if self._check(token, "access", "meta") != "ok":
            return _graph_error(190, "Error validating access token", 467)
        if "business_app" in p:  # belongs to /{system_user_id}/access_tokens, not this edge
            return _graph_error(100, "(#100) Param business_app is not valid for this edge")
        app_id = self._tokens[token].info.get("app_id") or next(iter(self._apps["meta"]), None)
        if (err := self._meta_proof_error(p, token, app_id)) is not None:
            return err
        if not p.get("system_user_id") or not p.get("scope"):
            return _graph_error(100, "(#100) The parameter system_user_id and scope are required")
        sixty = str(p.get("set_token_expires_in_60_days", "")).lower() == "true"
        new = self._issue(
            "meta",
            "access",
            5_184_000 if sixty else None,
            type="SYSTEM_USER",
            data_access_expires_in=0,
        )
        self._tokens[new].scopes = [s for s in str(p["scope"]).split(",") if s]
        return Response(200, {"access_token": new})


def _failure_response(failure: str) -> Response:
    if failure.startswith("http_"):
        status = int(failure[5:])
        headers = {"Retry-After": "1"} if status in (429, 503) else {}
        return Response(
            status,
            {"error": "temporarily_unavailable", "error_description": "fake failure"},
            headers=headers,
        )
    if failure == "html":
        return Response(
            200,
            text="<html><body><h1>Service Unavailable</h1></body></html>",
            headers={"Content-Type": "text/html"},
        )
    return Response(fail=failure)


# (provider or "*", path suffix) -> route name; the first match wins.
ROUTES = (
    ("meta", "/oauth/access_token", "exchange"),
    ("meta", "/debug_token", "debug_token"),
    ("meta", "/system_user_access_tokens", "system_user_tokens"),
    ("tiktok", "tt_user/oauth2/refresh_token", "refresh"),
    ("tiktok", "oauth2/advertiser/get", "advertiser_get"),
    ("microsoft", "oauth2/v2.0/token", "token"),
    ("*", "oauth/v2/accessToken", "token"),
    ("*", "oauth/v2/introspectToken", "introspect"),
    ("*", "auth/o2/token", "token"),
    ("*", "auth/o2/tokeninfo", "tokeninfo"),
    ("*", "token", "token"),
    ("*", "tokeninfo", "tokeninfo"),
    ("*", "introspect", "introspect"),
)


def _route(provider: str, path: str) -> str:
    rest = path.strip("/")
    for owner, suffix, route in ROUTES:
        if owner in (provider, "*") and (rest == suffix or rest.endswith("/" + suffix.lstrip("/"))):
            return route
    return rest or "root"


def _make_handler(fake: FakeProviders) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - the fake servers' routing table, one branch per fake endpoint
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
            return  # keep test output clean

        def do_GET(self) -> None:
            self._dispatch()

        def do_POST(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            ctype = self.headers.get("Content-Type", "")
            form = (
                dict(parse_qsl(raw, keep_blank_values=True)) if "form-urlencoded" in ctype else None
            )
            try:
                body = json.loads(raw) if "json" in ctype and raw else None
            except ValueError:
                body = None
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            segments = parts.path.lstrip("/").split("/", 1)
            if segments[0] == "_control":
                self._send(_control(fake, self.command, segments[1:], query, body))
                return
            if segments[0] not in PREFIXES:
                self._send(Response(404, {"error": "no such fake provider"}))
                return
            rest = "/" + (segments[1] if len(segments) > 1 else "")
            req = RecordedRequest(
                segments[0],
                _route(segments[0], rest),
                self.command,
                parts.path,
                query,
                form,
                body,
                dict(self.headers.items()),
            )
            self._send(fake.handle(req))

        def _send(self, resp: Response) -> None:
            if resp.delay_s:
                fake.hold(resp.delay_s)
            if resp.fail == "timeout":
                fake.hold(MAX_HOLD_S)
                self.close_connection = True
                return
            if resp.fail == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                self.close_connection = True
                return
            if resp.text is not None:
                payload = resp.text.encode()
                ctype = "text/plain; charset=utf-8"
            else:
                payload = json.dumps(resp.json).encode()
                ctype = "application/json; charset=utf-8"
            self.send_response(resp.status)
            headers = {"Content-Type": ctype, **resp.headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _control(  # noqa: C901 - one branch per control command of the fake server
    fake: FakeProviders, method: str, rest: list[str], query: dict[str, str], body: Any
) -> Response:
    action = rest[0] if rest else ""
    args = body if isinstance(body, dict) else {}
    try:
        if action == "requests":
            return Response(
                200,
                [asdict(r) for r in fake.requests(query.get("provider") or args.get("provider"))],
            )
        if method != "POST":
            return Response(405, {"error": "use POST"})
        if action == "reset":
            fake.reset()
        elif action == "seed":
            return Response(200, fake.seed(**args))
        elif action == "script":
            responses = [Response(**r) for r in args.get("responses", [])]
            fake.script(args["provider"], args["route"], responses)
        elif action == "set_mode":
            fake.set_mode(**args)
        elif action == "configure":
            fake.configure(args.pop("provider"), **args)
        elif action == "register_app":
            fake.register_app(**args)
        elif action == "revoke":
            fake.revoke(**args)
        elif action == "set_account":
            fake.consent.set_account(**args)
        else:
            return Response(404, {"error": f"unknown control action {action!r}"})
    except (TypeError, ValueError, KeyError) as exc:
        return Response(400, {"error": type(exc).__name__, "detail": str(exc)})
    return Response(200, {"ok": True})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeProviders(args.host, args.port)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    fake.start()
    print(fake.port, flush=True)
    stopped.wait()
    fake.stop()


if __name__ == "__main__":
    main()
