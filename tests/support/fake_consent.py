"""The fake platforms' consent half: an authorization endpoint per platform with a consent page
(Allow / Deny) that redirects back like the real ones, and the code exchange.

Mounted by :class:`tests.support.fake_providers.FakeProviders` (``fake.consent``); paths under each
platform's prefix, as the connect module builds them from a ``PROVIDER_ENDPOINTS`` override:

    meta       /{version}/dialog/oauth            code -> GET /{version}/oauth/access_token?code=
    google     /o/oauth2/v2/auth                  POST /token grant_type=authorization_code
    microsoft  /{tenant}/oauth2/v2.0/authorize    POST /{tenant}/oauth2/v2.0/token
    linkedin   /oauth/v2/authorization            POST /oauth/v2/accessToken; GET /v2/userinfo
    tiktok     /portal/auth                       POST /open_api/v1.3/oauth2/access_token/
    amazon     /ap/oa                             POST /auth/o2/token; GET /user/profile
    oauth2     /authorize                         POST /token

Who is "signed in" at a platform is set with ``set_account(provider, account_id, label)``
(Microsoft: ``"tid/oid"``; TikTok: comma-separated advertiser ids). Codes are single use, live 10
minutes, are bound to client id, exact redirect URI and (when one was sent) the PKCE challenge.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from tests.support.fake_providers import FakeProviders, RecordedRequest, Response

CODE_TTL_S = 600
DEFAULT_ACCOUNTS = {
    "meta": ("10000000000001", "Fake Meta User"),
    "google": ("100000000000000000001", "owner@example.com"),
    "microsoft": (
        "72f988bf-0000-4000-8000-000000000001/00000000-0000-4000-8000-0000000000a1",
        "owner@contoso.example",
    ),
    "linkedin": ("linkedin-sub-1", "Fake LinkedIn Member"),
    "tiktok": ("7000000000000000001", "Fake Advertiser"),
    "amazon": ("amzn1.account.FAKE", "Fake Amazon Owner"),
    "oauth2": ("oauth2-sub-1", "oauth2 user"),
}
AUTHORIZE_SUFFIXES = {
    "meta": "/dialog/oauth",
    "google": "/o/oauth2/v2/auth",
    "microsoft": "/oauth2/v2.0/authorize",
    "linkedin": "/oauth/v2/authorization",
    "tiktok": "/portal/auth",
    "amazon": "/ap/oa",
    "oauth2": "/authorize",
}
# The real platforms' issuers (Microsoft's names the tenant: set per token below).
ISSUERS = {"google": "https://accounts.google.com"}
CONSENT_PAGE_STYLE = (
    "body{font-family:sans-serif;max-width:30rem;margin:3rem auto}a{margin-right:1rem}"
)


@dataclass
class _Pending:
    provider: str
    client_id: str
    redirect_uri: str
    state: str
    challenge: str | None
    account: tuple[str, str]
    scope: str
    expires: float = field(default_factory=lambda: time.time() + CODE_TTL_S)
    used: bool = False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fake_id_token(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """An id_token shaped like the real ones (the signature is not checked by the client);
    ``header`` is laid over the default one (``{"alg": "none"}``: an unsigned token)."""
    fields = {"alg": "RS256", "kid": "fake"} | (header or {})
    signature = "" if fields["alg"] == "none" else _b64(b"fake-signature")
    return f"{_b64(json.dumps(fields).encode())}.{_b64(json.dumps(claims).encode())}.{signature}"


class FakeConsent:
    def __init__(self, fake: FakeProviders) -> None:
        self._fake = fake
        self.accounts: dict[str, tuple[str, str]] = dict(DEFAULT_ACCOUNTS)
        self._transactions: dict[str, _Pending] = {}
        self._codes: dict[str, _Pending] = {}
        # Claims (and header fields) laid over each platform's id_token (tests of a wrong aud...).
        self.id_token_overrides: dict[str, dict[str, Any]] = {}
        self.id_token_headers: dict[str, dict[str, Any]] = {}

    @property
    def codes(self) -> list[str]:
        """Every authorization code issued (for the leak scan)."""
        return list(self._codes)

    def set_account(self, provider: str, account_id: str, label: str = "") -> None:
        from tests.support.fake_providers import _canon

        self.accounts[_canon(provider)] = (account_id, label or account_id)

    def override_id_token(
        self, provider: str, header: dict[str, Any] | None = None, **claims: Any
    ) -> None:
        """Lay ``claims`` (and ``header`` fields) over the platform's next id_tokens (a wrong
        ``aud`` or ``iss``, an expired token, ``alg: none``); a claim set to None is left out."""
        from tests.support.fake_providers import _canon

        self.id_token_overrides[_canon(provider)] = claims
        self.id_token_headers[_canon(provider)] = header or {}

    def issue(self, provider: str, *, scope: str, client_id: str = "") -> dict[str, Any]:
        """The token endpoint's answer to an allowed consent for ``scope`` (tests of the fake's
        per-scope rules, read by the platforms' own libraries)."""
        from tests.support.fake_providers import _canon

        name = _canon(provider)
        pending = _Pending(
            provider=name,
            client_id=client_id or f"{provider}-client",
            redirect_uri="",
            state="",
            challenge=None,
            account=self.accounts[name],
            scope=scope,
        )
        body: dict[str, Any] = self._tokens(name, pending).json
        return body

    # --- routing ----------------------------------------------------------------------------
    def handle(self, req: RecordedRequest) -> Response | None:  # noqa: PLR0911 - one route each
        rest = req.path.split("/", 2)[-1] if req.path.count("/") >= 2 else ""
        path = "/" + rest
        p = req.params
        if path.endswith("/_consent/decide"):
            return self._decide(req)
        if path.endswith(AUTHORIZE_SUFFIXES[req.provider]) and req.method == "GET":
            return self._authorize(req)
        if req.provider == "meta" and path.endswith("/oauth/access_token") and "code" in p:
            return self._meta_code(req)
        if req.provider == "tiktok" and path.rstrip("/").endswith("/oauth2/access_token"):
            return self._tiktok_code(req)
        if p.get("grant_type") == "authorization_code" and req.method == "POST":
            return self._oauth_code(req)
        if req.provider == "linkedin" and path == "/v2/userinfo":
            return self._userinfo(req, "linkedin", "sub")
        if req.provider == "amazon" and path == "/user/profile":
            return self._userinfo(req, "amazon", "user_id")
        if req.provider == "oauth2" and path == "/userinfo":  # OpenID Connect Core §5.3
            return self._userinfo(req, "oauth2", "sub")
        return None

    # --- the consent page -------------------------------------------------------------------
    def _authorize(self, req: RecordedRequest) -> Response:
        from tests.support.fake_providers import Response

        q = req.query
        client_id = q.get("app_id" if req.provider == "tiktok" else "client_id", "")
        redirect_uri = q.get("redirect_uri", "")
        if not client_id or not redirect_uri:
            return Response(400, text="missing client_id or redirect_uri")
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return Response(400, text="only S256 PKCE is accepted")
        tx = secrets.token_urlsafe(12)
        self._transactions[tx] = _Pending(
            provider=req.provider,
            client_id=client_id,
            redirect_uri=redirect_uri,
            state=q.get("state", ""),
            challenge=q.get("code_challenge") or None,
            account=self.accounts[req.provider],
            scope=q.get("scope", q.get("config_id", "")),
        )
        base = f"/{req.provider}/_consent/decide?"
        allow = html.escape(base + urlencode({"tx": tx, "allow": "1"}))
        deny = html.escape(base + urlencode({"tx": tx, "allow": "0"}))
        name = html.escape(self.accounts[req.provider][1])
        scope = html.escape(self._transactions[tx].scope)
        page = (
            f"<!doctype html><html><head><title>Fake {req.provider} consent</title>"
            f"<style>{CONSENT_PAGE_STYLE}</style></head><body>"
            f"<h1>Fake {html.escape(req.provider)} consent</h1>"
            f"<p>Signed in as <b id='account'>{name}</b>.</p>"
            f"<p>The app {html.escape(client_id)} asks for: {scope}</p>"
            f"<a id='allow' href='{allow}'>Allow</a><a id='deny' href='{deny}'>Deny</a>"
            "</body></html>"
        )
        # No Referer on the way back: LocalStack's CORS check refuses a Function URL request whose
        # Referer is another origin (AWS does not; the platforms' own referrer policies vary).
        headers = {"Content-Type": "text/html; charset=utf-8", "Referrer-Policy": "no-referrer"}
        return Response(200, text=page, headers=headers)

    def _decide(self, req: RecordedRequest) -> Response:
        from tests.support.fake_providers import Response

        pending = self._transactions.pop(req.query.get("tx", ""), None)
        if pending is None:
            return Response(400, text="unknown or finished consent transaction")
        if req.query.get("allow") != "1":
            params = {"error": "access_denied", "error_description": "The user denied access"}
            if pending.provider == "meta":
                params |= {"error_reason": "user_denied", "error_code": "200"}
        else:
            code = secrets.token_urlsafe(24)
            self._codes[code] = pending
            params = (
                {"auth_code": code, "code": code}
                if pending.provider == "tiktok"
                else {"code": code}
            )
        params["state"] = pending.state
        joiner = "&" if "?" in pending.redirect_uri else "?"
        return Response(
            302, text="", headers={"Location": pending.redirect_uri + joiner + urlencode(params)}
        )

    # --- code exchange ----------------------------------------------------------------------
    def redeem(
        self,
        code: str,
        provider: str,
        client_id: str | None,
        redirect_uri: str | None,
        verifier: str | None,
    ) -> _Pending | str:
        """The consent behind ``code``, or why it is refused (a short reason)."""
        pending = self._codes.get(code)
        if pending is None or pending.provider != provider:
            return "unknown code"
        if pending.used or pending.expires < time.time():
            return "code used or expired"
        pending.used = True
        if client_id is not None and client_id != pending.client_id:
            return "client_id differs"
        if redirect_uri is not None and redirect_uri != pending.redirect_uri:
            return "redirect_uri differs"
        if pending.challenge is not None:
            digest = _b64(hashlib.sha256((verifier or "").encode()).digest())
            if digest != pending.challenge:
                return "PKCE verifier does not match"
        return pending

    def _oauth_code(self, req: RecordedRequest) -> Response:
        from tests.support.fake_providers import _oauth

        p = req.params
        basic = req.basic_auth()
        client_id, secret = basic or (p.get("client_id"), p.get("client_secret"))
        if not self._fake._client_ok(req.provider, client_id, secret):
            return _oauth(401, "invalid_client", "Client authentication failed")
        got = self.redeem(
            str(p.get("code", "")),
            req.provider,
            client_id,
            p.get("redirect_uri"),
            p.get("code_verifier"),
        )
        if isinstance(got, str):
            return _oauth(400, "invalid_grant", got)
        return self._tokens(req.provider, got)

    def _tokens(self, provider: str, pending: _Pending) -> Response:
        from tests.support.fake_providers import DEFAULT_SETTINGS, Response

        fake = self._fake
        account_id, _label = pending.account
        expires_in = DEFAULT_SETTINGS[provider]["expires_in"]
        info: dict[str, Any] = {"user_id": account_id, "aud": pending.client_id}
        body: dict[str, Any] = {
            "access_token": fake._issue(provider, "access", expires_in, **info),
            "token_type": "Bearer",
            "expires_in": expires_in,
            "refresh_token": fake._issue(
                provider, "refresh", DEFAULT_SETTINGS[provider].get("refresh_expires_in"), **info
            ),
            "scope": pending.scope,
        }
        if provider == "linkedin":
            body["refresh_token_expires_in"] = DEFAULT_SETTINGS["linkedin"]["refresh_expires_in"]
            if not fake._settings["linkedin"].get("programmatic_refresh", True):
                # Refresh tokens only for apps approved for programmatic refresh (LinkedIn
                # "Refresh Tokens with OAuth 2.0"): the others get the access token alone.
                del body["refresh_token"], body["refresh_token_expires_in"]
        if provider == "microsoft" and "offline_access" not in pending.scope.split():
            del body["refresh_token"]  # v2.0 token endpoint: only with offline_access
        if provider == "oauth2" or (
            provider in ("google", "microsoft") and "openid" in pending.scope.split()
        ):
            body["id_token"] = fake_id_token(
                self._claims(provider, pending), self.id_token_headers.get(provider)
            )
        return Response(200, body)

    def _claims(self, provider: str, pending: _Pending) -> dict[str, Any]:
        """The id_token's claims, each only with the scope the platform documents for it."""
        account_id, label = pending.account
        scopes = set(pending.scope.split())
        claims: dict[str, Any] = {
            # oauth2's issuer is the fake server itself, where its token endpoint is
            "iss": ISSUERS.get(provider, self._fake.url(provider)),
            "aud": pending.client_id,
            "sub": account_id,
            "iat": int(self._fake.now()),  # Core §2: both required
            "exp": int(self._fake.now()) + 3600,
        }
        if "email" in scopes or provider == "oauth2":
            # Google's OpenID Connect reference (developers.google.com/identity/openid-connect/
            # openid-connect, "An ID token's payload"): email "provided only if your scope
            # included the email scope value".
            claims["email"] = label
        if provider == "microsoft":
            tid, _, oid = account_id.partition("/")
            claims |= {
                "tid": tid,
                "sub": "pairwise-" + oid,
                "iss": f"https://login.microsoftonline.com/{tid}/v2.0",
            }
            if "profile" in scopes:
                # Microsoft identity platform, "ID token claims reference" (learn.microsoft.com/
                # entra/identity-platform/id-token-claims-reference): "the profile scope is
                # required to receive" oid, name and preferred_username (tid has no such rule).
                claims |= {"oid": oid, "name": label, "preferred_username": label}
        claims |= self.id_token_overrides.get(provider, {})
        return {k: v for k, v in claims.items() if v is not None}

    def _meta_code(self, req: RecordedRequest) -> Response:
        from tests.support.fake_providers import Response, _graph_error

        p = req.params
        if not self._fake._client_ok("meta", p.get("client_id"), p.get("client_secret")):
            return _graph_error(1, "Error validating client secret.")
        got = self.redeem(
            str(p.get("code", "")), "meta", p.get("client_id"), p.get("redirect_uri"), None
        )
        if isinstance(got, str):
            if got == "redirect_uri differs":
                return _graph_error(
                    100,
                    "Error validating verification code. Please make sure "
                    "your redirect_uri is identical",
                    36008,
                )
            return _graph_error(100, "Invalid verification code format.")
        info: dict[str, Any] = {"user_id": got.account[0], "type": "USER"}
        data_access_for = self._fake._settings["meta"].get("data_access_for")
        if data_access_for:  # configure("meta", data_access_for=N): a fixed end N s from consent
            info["data_access_until"] = int(self._fake.now() + data_access_for)
        token = self._fake._issue("meta", "access", 3600, **info)
        self._fake._tokens[token].scopes = [s for s in got.scope.split(",") if s]
        return Response(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600})

    def _tiktok_code(self, req: RecordedRequest) -> Response:
        from tests.support.fake_providers import _tiktok

        p = req.params
        if not self._fake._client_ok("tiktok", p.get("app_id"), p.get("secret")):
            return _tiktok(40001, "app_id or secret is invalid")
        got = self.redeem(str(p.get("auth_code", "")), "tiktok", p.get("app_id"), None, None)
        if isinstance(got, str):
            return _tiktok(40114, f"auth_code is invalid: {got}")
        ids = got.account[0].split(",")
        token = self._fake._issue("tiktok", "access", None, advertiser_ids=ids)
        return _tiktok(
            0, "OK", {"access_token": token, "advertiser_ids": ids, "scope": [1, 2, 3, 4]}
        )

    def _userinfo(self, req: RecordedRequest, provider: str, key: str) -> Response:
        from tests.support.fake_providers import Response, _oauth

        token = req.headers.get("Authorization", "").removeprefix("Bearer ")
        if self._fake._check(token, "access", provider) != "ok":
            return _oauth(401, "invalid_token", "The access token is not valid")
        record = self._fake._tokens[token]
        account = str(record.info.get("user_id", ""))
        labels = dict(self.accounts.values())
        return Response(200, {key: account, "name": labels.get(account, account)})
