"""A minimal "browser" for the connect flow in unit tests: the ConnectService in-process, the fake
platforms over HTTP on 127.0.0.1, the cookie carried between them like a browser would."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.support.fake_providers import FakeProviders
from tests.support.fakes import TEST_INSTANCE, InMemorySecretStore, RecordingNotifier
from token_refresher.connect.links import LINK_PARAM, TAG_AWAITING, TAG_CONNECT_NONCE
from token_refresher.connect.minter import LinkMinter, SigningKey
from token_refresher.connect.pages import Page
from token_refresher.connect.service import ConnectService, HttpRequest
from token_refresher.http import HttpClient
from token_refresher.providers.base import ProviderContext
from token_refresher.rotation.factory import build_rotation_engine
from token_refresher.timeutil import utcnow

BASE_URL = "https://abcdefghij.lambda-url.us-east-1.on.aws/"
SIGNING = SigningKey(b"k" * 48, BASE_URL, TEST_INSTANCE)
APP_SECRETS = {
    "meta": {"app_id": "meta-app-1", "app_secret": "meta-app-secret-0001"},
    "tiktok": {"app_id": "tiktok-app-1", "secret": "tiktok-app-secret-0001"},
}
OPTIONS: dict[str, dict[str, Any]] = {"oauth2": {}}


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> Any:
        return utcnow() + self.offset


@dataclass
class Visit:
    page: Page
    cookie: str = ""
    trail: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return unescape(re.sub(r"<[^>]+>", " ", self.page.html))


class World:
    def __init__(self, fake: FakeProviders) -> None:
        self.fake = fake
        self.store = InMemorySecretStore()
        self.notifier = RecordingNotifier()
        self.clock = Clock()
        http = HttpClient(sleep=lambda _s: None, connect_timeout=1.0, read_timeout=2.0)
        self.ctx = ProviderContext(http=http, endpoints=fake.endpoints(), clock=self.clock)
        self.engine = build_rotation_engine(
            self.store, self.notifier, self.ctx, instance=TEST_INSTANCE
        )
        self.service = ConnectService(
            self.store,
            self.notifier,
            self.ctx,
            lambda: SIGNING,
            self.engine,
            clock=self.clock,
        )
        self.minter = LinkMinter(self.store, lambda: SIGNING, clock=self.clock)

    def app_secret(self, provider: str) -> str:
        name = f"token-refresher/apps/{provider}"
        creds = dict(
            APP_SECRETS.get(
                provider,
                {"client_id": f"{provider}-client", "client_secret": f"{provider}-secret-0001"},
            )
        )
        creds["provider"] = provider
        if provider == "oauth2":
            creds["allowed_url_prefixes"] = [self.fake.url("oauth2") + "/"]
        self.store.create(name, creds)
        return name

    def options(self, provider: str) -> dict[str, Any]:
        if provider == "oauth2":
            return {
                "authorize_url": self.fake.url("oauth2") + "/authorize",
                "token_url": self.fake.url("oauth2") + "/token",
                "introspection_url": self.fake.url("oauth2") + "/introspect",
                "issuer": self.fake.url("oauth2"),  # the fake's id_token iss
                "scope": "read write",
            }
        return dict(OPTIONS.get(provider, {}))

    def connection(
        self,
        provider: str,
        *,
        account: str | None = None,
        status: str = "reauth-required",
        **extra: Any,
    ) -> str:
        name = f"conn/{provider}"
        doc: dict[str, Any] = {
            "schema": 1,
            "provider": provider,
            "access_token": "old-access-token-0000",
            "refresh_token": "old-refresh-token-0000",
            "app_secret_id": self.app_secret(provider),
            "options": self.options(provider),
            "owner_team": "growth",
        } | extra
        if provider == "tiktok" and "refresh_token" not in extra:
            del doc["refresh_token"]  # an advertiser token (a refresh token means an account one)
        if account is not None:
            doc["consent"] = {"account_id": account, "account_label": "previous owner"}
        tags = {
            "token-refresher:managed": "true",
            "token-refresher:provider": provider,
            "token-refresher:status": status,
        }
        self.store.create(name, json.dumps(doc), tags=tags)
        return name

    def new_connection(self, provider: str) -> str:
        name = f"conn/new-{provider}"
        doc = {
            "schema": 1,
            "provider": provider,
            "access_token": None,
            "app_secret_id": self.app_secret(provider),
            "options": self.options(provider),
        }
        self.store.create(
            name,
            json.dumps(doc),
            tags={
                TAG_AWAITING: "true",
                "token-refresher:provider": provider,
                "token-refresher:instance": TEST_INSTANCE,
            },
        )
        return name

    def link(self, name: str, provider: str, **kw: Any) -> str:
        return self.minter.mint(name, provider, **kw)

    def nonce(self, name: str) -> str:
        return self.store.tags_of(name).get(TAG_CONNECT_NONCE, "")

    # --- the browser ---------------------------------------------------------------------------
    def open(self, url: str, cookie: str = "") -> Visit:
        parts = urlsplit(url)
        page = self.service.handle(
            HttpRequest("GET", parts.path or "/", dict(parse_qsl(parts.query)), cookie=cookie)
        )
        set_cookie = page.headers.get("Set-Cookie", "")
        if set_cookie:
            cookie = set_cookie.split(";", 1)[0]
        return Visit(page, cookie, [url])

    def consent_href(self, visit: Visit) -> str:
        match = re.search(r'class="btn" href="([^"]+)"', visit.page.html)
        assert match, visit.page.html
        return unescape(match.group(1))

    def decide(self, href: str, *, allow: bool = True) -> str:
        """At the fake platform: the consent page, then Allow or Deny; returns the redirect."""
        page = requests.get(href, timeout=5)
        assert page.status_code == 200, page.text
        choice = re.search(r"id='%s' href='([^']+)'" % ("allow" if allow else "deny"), page.text)
        assert choice
        answer = requests.get(
            self.fake.base_url + unescape(choice.group(1)), allow_redirects=False, timeout=5
        )
        assert answer.status_code == 302
        return answer.headers["Location"]

    def connect(self, url: str, *, allow: bool = True) -> Visit:
        landing = self.open(url)
        assert landing.page.status == 200, landing.text
        back = self.decide(self.consent_href(landing), allow=allow)
        assert back.startswith(BASE_URL)
        done = self.open(back, cookie=landing.cookie)
        done.trail = [url, back]
        return done


def signed_link(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))[LINK_PARAM]
