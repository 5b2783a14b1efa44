"""App credentials go only where their owner allows: the pure check, then the rotation
engine refusing every mismatch before any HTTP request (the fake servers record none)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fake_providers import FakeProviders
from tests.support.fakes import TEST_INSTANCE, FixedClock, InMemorySecretStore, RecordingNotifier
from tests.support.leaks import SCANNER
from token_refresher.credentials.binding import BindingError, UrlPrefix, verify_app_binding
from token_refresher.errors import ConfigError, ErrorClass
from token_refresher.http import HttpClient
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import ProviderContext
from token_refresher.redact import Redactor
from token_refresher.rotation.engine import RotationRequest, Step
from token_refresher.rotation.factory import build_rotation_engine

pytestmark = pytest.mark.unit

CONN = "conn/acme-oauth2"
APP = "token-refresher/apps/meta-main"
META_SECRET = "meta-app-secret-binding-0001"
OAUTH_SECRET = "oauth2-app-secret-binding-0001"
GOOGLE_SECRET = "google-app-secret-binding-0001"


def app(**declared: Any) -> AppCredentials:
    return AppCredentials.from_json(
        json.dumps({"client_id": "cid-1", "client_secret": OAUTH_SECRET, **declared})
    )


def oauth2_doc(**options: Any) -> TokenDocument:
    return TokenDocument(
        provider="oauth2",
        access_token="at-binding-0001-aaaaaaaa",
        refresh_token="rt-binding-0001-rrrrrrrr",
        app_secret_id=APP,
        options={"token_url": "https://auth.example.com/oauth/token", **options},
    )


# --- URL prefixes: parsed scheme + host + port + path, never a string prefix --------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/oauth/token",
        "https://AUTH.example.com/oauth/token",
        "https://auth.example.com:443/oauth/token",
        "https://auth.example.com./oauth/token",
        "https://auth.example.com/oauth/v2/token?audience=x",
        "https://auth.example.com/oauth",
    ],
)
def test_urls_under_the_prefix_are_allowed(url):
    prefix = UrlPrefix.parse("https://auth.example.com/oauth", prefix=True)
    assert prefix.allows(UrlPrefix.parse(url, prefix=False))


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com.evil.com/oauth/token",  # naive startswith would pass
        "https://evil.com/auth.example.com/oauth/token",
        "https://auth.example.com:8443/oauth/token",  # another port
        "https://auth.example.com/oauth2/token",  # not at a segment boundary
        "https://auth.example.com/other/oauth/token",
        "https://sub.auth.example.com/oauth/token",
    ],
)
def test_urls_outside_the_prefix_are_refused(url):
    prefix = UrlPrefix.parse("https://auth.example.com/oauth", prefix=True)
    assert not prefix.allows(UrlPrefix.parse(url, prefix=False))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://auth.example.com@evil.com/oauth/token", "user name"),
        ("https://auth.example.com/oauth/../admin", "dot segments"),
        ("https://auth.example.com/oauth/%2e%2e/admin", "dot segments"),
        ("https://auth.example.com/oauth%2Ftoken", "encoded"),
        ("https://auth.example.com\\@evil.com/oauth", "backslashes"),
        ("http://auth.example.com/oauth/token", "https"),
        ("ftp://auth.example.com/oauth/token", "https"),
        ("https:///oauth/token", "no host"),
        ("https://auth.example.com:99999/oauth", "invalid port"),
        ("https://auth.example.com/oauth#frag", "fragment"),
        ("https://bücher.example/oauth", "punycode"),
    ],
)
def test_ambiguous_urls_are_refused_outright(url, reason):
    with pytest.raises(ValueError, match=reason):
        UrlPrefix.parse(url, prefix=False)


def test_loopback_http_is_allowed_for_test_servers_and_ports_must_match():
    prefix = UrlPrefix.parse("http://127.0.0.1:8900/oauth2/", prefix=True)
    assert prefix.allows(UrlPrefix.parse("http://127.0.0.1:8900/oauth2/token", prefix=False))
    assert not prefix.allows(UrlPrefix.parse("http://127.0.0.1:8901/oauth2/token", prefix=False))


# --- verify_app_binding -----------------------------------------------------------------------


def test_oauth2_urls_under_the_declared_prefixes_pass():
    declared = app(provider="oauth2", allowed_url_prefixes=["https://auth.example.com/oauth/"])
    doc = oauth2_doc(introspection_url="https://auth.example.com/oauth/introspect")
    check = verify_app_binding(CONN, doc, APP, declared)
    assert (check.declared, check.warning) == (True, None)


def test_another_providers_app_credentials_are_refused_naming_both_secrets():
    # Given Meta's app credentials, declared as such, named by a Google Ads connection
    meta_app = app(provider="meta")
    doc = TokenDocument(
        provider="google_ads", access_token="ya29.x-binding", app_secret_id=APP, options={}
    )
    # When the binding is checked, then it is a config error naming both secrets
    with pytest.raises(BindingError) as info:
        verify_app_binding(CONN, doc, APP, meta_app)
    err = info.value
    assert err.error_class is ErrorClass.CONFIG
    assert CONN in err.message
    assert APP in err.message
    assert "belong to meta, not google_ads" in err.message
    assert err.remediation
    assert "google_ads app credentials" in err.remediation


def test_a_meta_app_serves_system_user_connections_too():
    doc = TokenDocument(provider="meta_system_user", access_token="EAA-x", app_secret_id=APP)
    assert verify_app_binding(CONN, doc, APP, app(provider="meta")).declared
    both = app(provider=["google_ads", "linkedin"])
    with pytest.raises(BindingError, match="belong to google_ads, linkedin, not meta_system_user"):
        verify_app_binding(CONN, doc, APP, both)


@pytest.mark.parametrize(
    "option",
    ["token_url", "introspection_url", "authorize_url", "revocation_url"],
)
def test_every_url_option_of_an_oauth2_connection_must_be_allowed(option):
    declared = app(provider="oauth2", allowed_url_prefixes=["https://auth.example.com/oauth/"])
    doc = oauth2_doc(**{option: "https://auth.example.com.evil.com/oauth/x?secret=hidden"})
    with pytest.raises(BindingError) as info:
        verify_app_binding(CONN, doc, APP, declared)
    assert f"options.{option}" in info.value.message
    assert "https://auth.example.com.evil.com/oauth/x" in info.value.message
    assert "hidden" not in info.value.message  # never a query string in a message


def test_urls_given_by_the_caller_are_checked_too():
    declared = app(provider="oauth2", allowed_url_prefixes=["https://auth.example.com/oauth/"])
    with pytest.raises(BindingError, match="authorize_url"):
        verify_app_binding(
            CONN, oauth2_doc(), APP, declared, urls={"authorize_url": "https://evil.example/a"}
        )


def test_oauth2_needs_the_declaration_and_says_how_to_add_it():
    doc = oauth2_doc(token_url="https://evil.example/token")
    with pytest.raises(BindingError) as info:
        verify_app_binding(CONN, doc, APP, app())
    err = info.value
    assert "declare no provider" in err.message
    assert CONN in err.message
    assert APP in err.message
    assert err.remediation
    assert '"provider": "oauth2"' in err.remediation
    assert '"allowed_url_prefixes"' in err.remediation
    assert "evil.example" not in err.remediation  # never suggests the connection's own URL


def test_oauth2_declared_without_prefixes_may_be_sent_nowhere():
    with pytest.raises(BindingError, match="sent nowhere"):
        verify_app_binding(CONN, oauth2_doc(), APP, app(provider="oauth2"))


def test_undeclared_app_credentials_keep_working_for_platform_providers_with_a_warning():
    doc = TokenDocument(provider="linkedin", access_token="AQV-x", app_secret_id=APP)
    check = verify_app_binding(CONN, doc, APP, app())
    assert not check.declared
    assert check.warning
    assert '"provider": "linkedin"' in check.warning
    assert APP in check.warning


@pytest.mark.parametrize(
    ("declared", "match"),
    [
        ({"provider": "facebook"}, "unknown provider"),
        ({"provider": 7}, "provider name"),
        ({"provider": []}, "provider name"),
        ({"provider": "oauth2", "allowed_url_prefixes": "https://a.example/"}, "list of URL"),
        ({"provider": "oauth2", "allowed_url_prefixes": ["http://a.example/"]}, "entry 0"),
        ({"provider": "oauth2", "allowed_url_prefixes": ["https://a.example/?q=1"]}, "query"),
    ],
)
def test_malformed_declarations_are_config_errors(declared, match):
    with pytest.raises(ConfigError, match=match):
        verify_app_binding(CONN, oauth2_doc(), APP, app(**declared))


# --- the rotation engine: refused before any network call ---------------------------------------


class Deputy:
    """The rotation engine with real provider modules pointed at the fake server."""

    def __init__(self, fake: FakeProviders) -> None:
        self.fake = fake
        self.store = InMemorySecretStore()
        self.notifier = RecordingNotifier()
        ctx = ProviderContext(
            http=HttpClient(sleep=lambda _s: None), endpoints=fake.endpoints(), clock=FixedClock()
        )
        self.engine = build_rotation_engine(self.store, self.notifier, ctx, instance=TEST_INSTANCE)

    def app_secret(self, name: str, client_id: str, secret: str, **declared: Any) -> str:
        self.store.create(name, {"client_id": client_id, "client_secret": secret, **declared})
        return name

    def connection(
        self, doc: dict[str, Any], name: str = CONN, tags: dict[str, str] | None = None
    ) -> str:
        SCANNER.add_secrets(doc.get("access_token"), doc.get("refresh_token"))
        all_tags = {"token-refresher:managed": "true", **(tags or {})}
        self.store.create(name, {"schema": 1, **doc}, tags=all_tags)
        return name

    def rotate(self, name: str) -> None:
        self.store.start_rotation(name, "v-binding-1")
        for step in Step:
            event = {"Step": step.value, "SecretId": name, "ClientRequestToken": "v-binding-1"}
            self.engine.run(RotationRequest.from_event(event))


@pytest.fixture
def deputy(fake_providers: FakeProviders) -> Iterator[Deputy]:
    fake_providers.register_app("meta", "555000111", META_SECRET)
    fake_providers.register_app("google", "g-client", GOOGLE_SECRET)
    fake_providers.register_app("oauth2", "o-client", OAUTH_SECRET)
    return Deputy(fake_providers)


def refused(deputy: Deputy, foreign: FakeProviders, connection: str) -> BindingError:
    with pytest.raises(BindingError) as info:
        deputy.rotate(connection)
    # nothing sent anywhere: neither the provider nor the foreign host saw a request
    assert deputy.fake.requests() == []
    assert foreign.requests() == []
    # one token.config_invalid alert naming both secrets, status tags say config
    assert deputy.notifier.events() == ["token.config_invalid"]
    alert = deputy.notifier.alerts[0]
    assert CONN in alert.message
    assert deputy.store.tags_of(CONN)["token-refresher:last-error-class"] == "config"
    return info.value


def test_oauth2_connection_naming_meta_credentials_and_a_foreign_token_url(deputy, foreign_server):
    # Given the company's Meta app credentials (declared) and an attacker's oauth2 connection
    meta = deputy.app_secret(APP, "555000111", META_SECRET, provider="meta")
    deputy.connection(
        {
            "provider": "oauth2",
            "refresh_token": "rt-attacker-0001-rrrrrrrr",
            "app_secret_id": meta,
            "options": {"token_url": f"{foreign_server.url('oauth2')}/token"},
        }
    )
    # When the rotation runs, then it is refused before any request, naming both secrets
    err = refused(deputy, foreign_server, CONN)
    assert APP in err.message
    assert "belong to meta, not oauth2" in err.message


def test_oauth2_connection_naming_undeclared_credentials_is_refused(deputy, foreign_server):
    legacy = deputy.app_secret(APP, "g-client", GOOGLE_SECRET)
    deputy.connection(
        {
            "provider": "oauth2",
            "refresh_token": "rt-attacker-0002-rrrrrrrr",
            "app_secret_id": legacy,
            "options": {"token_url": f"{foreign_server.url('oauth2')}/token"},
        }
    )
    err = refused(deputy, foreign_server, CONN)
    assert "declare no provider" in err.message


@pytest.mark.parametrize("option", ["token_url", "introspection_url"])
def test_oauth2_url_outside_the_allowed_prefixes_is_refused(deputy, foreign_server, option):
    # Given oauth2 app credentials allowed on the real (fake) server only
    own = deputy.app_secret(
        APP,
        "o-client",
        OAUTH_SECRET,
        provider="oauth2",
        allowed_url_prefixes=[deputy.fake.url("oauth2") + "/"],
    )
    options = {
        "token_url": f"{deputy.fake.url('oauth2')}/token",
        "introspection_url": f"{deputy.fake.url('oauth2')}/introspect",
    }
    options[option] = f"{foreign_server.url('oauth2')}/{option}"
    deputy.fake.seed("oauth2", refresh_token="rt-binding-0003-rrrrrrrr")
    deputy.connection(
        {
            "provider": "oauth2",
            "refresh_token": "rt-binding-0003-rrrrrrrr",
            "app_secret_id": own,
            "options": options,
        }
    )
    # When rotated, then even a foreign introspection URL stops createSecret before the refresh
    err = refused(deputy, foreign_server, CONN)
    assert f"options.{option}" in err.message


def test_google_connection_naming_meta_credentials_is_refused(deputy, foreign_server):
    meta = deputy.app_secret(APP, "555000111", META_SECRET, provider="meta")
    deputy.connection(
        {
            "provider": "google_ads",
            "refresh_token": "1//0g-binding-0004-rrrr",
            "app_secret_id": meta,
        }
    )
    err = refused(deputy, foreign_server, CONN)
    assert "not google_ads" in err.message


@pytest.mark.parametrize(("tagged", "expected"), [(None, None), ("undeclared", "declared")])
def test_declared_oauth2_credentials_rotate_at_their_allowed_url(deputy, tagged, expected):
    # Given declared oauth2 app credentials (the connection maybe tagged from legacy days)
    own = deputy.app_secret(
        APP,
        "o-client",
        OAUTH_SECRET,
        provider="oauth2",
        allowed_url_prefixes=[deputy.fake.url("oauth2") + "/"],
    )
    deputy.fake.seed("oauth2", refresh_token="rt-binding-0005-rrrrrrrr")
    deputy.connection(
        {
            "provider": "oauth2",
            "refresh_token": "rt-binding-0005-rrrrrrrr",
            "app_secret_id": own,
            "options": {"token_url": f"{deputy.fake.url('oauth2')}/token"},
        },
        tags={"token-refresher:app-binding": tagged} if tagged else {},
    )
    # When rotated, then the token endpoint was called once and nobody alerted
    deputy.rotate(CONN)
    assert [r.route for r in deputy.fake.requests("oauth2")] == ["token"]
    assert deputy.notifier.alerts == []
    # And the binding tag is written only to leave "undeclared" (no extra write otherwise)
    assert deputy.store.tags_of(CONN).get("token-refresher:app-binding") == expected
    binding_tags = [c for c in deputy.store.calls if c[0] == "tag"]
    assert len(binding_tags) == (2 if tagged else 1)  # + finishSecret's state tags


def test_undeclared_platform_credentials_rotate_with_a_warning_and_a_tag(deputy, caplog):
    legacy = deputy.app_secret(APP, "g-client", GOOGLE_SECRET)
    deputy.fake.seed("google", access_token="ya29.binding-6", refresh_token="1//0g-binding-0006")
    deputy.connection(
        {
            "provider": "google_ads",
            "access_token": "ya29.binding-6",
            "refresh_token": "1//0g-binding-0006",
            "app_secret_id": legacy,
        }
    )
    with caplog.at_level(logging.WARNING):
        deputy.rotate(CONN)
    assert deputy.store.current_doc(CONN).access_token != "ya29.binding-6"
    assert deputy.store.tags_of(CONN)["token-refresher:app-binding"] == "undeclared"
    warnings = [
        r for r in caplog.records if r.getMessage() == "app credentials declare no provider"
    ]
    assert warnings
    assert '"provider": "google_ads"' in warnings[0].__dict__["warning"]


def test_the_read_only_lookup_checks_the_binding_but_writes_nothing(deputy):
    # Given a Meta app named by a Google Ads connection, and a legacy app for another one
    meta = deputy.app_secret(APP, "555000111", META_SECRET, provider="meta")
    legacy = deputy.app_secret("token-refresher/apps/legacy", "g-client", GOOGLE_SECRET)
    doc = TokenDocument(provider="google_ads", access_token="ya29.ro-1", app_secret_id=meta)
    deputy.connection(
        {"provider": "google_ads", "access_token": "ya29.ro-1", "app_secret_id": meta}
    )
    desc = deputy.store.describe(CONN)
    # When a check-style caller resolves the app credentials
    with pytest.raises(BindingError, match="belong to meta, not google_ads"):
        deputy.engine.apps.for_token(desc, doc, Redactor())
    app_ok = deputy.engine.apps.for_token(desc, doc.evolve(app_secret_id=legacy), Redactor())
    # Then the mismatch is refused, the legacy app is returned, and no tag was written
    assert app_ok is not None
    assert app_ok.client_id == "g-client"
    assert [c for c in deputy.store.calls if c[0] == "tag"] == []
    assert deputy.fake.requests() == []


@pytest.mark.parametrize(
    "url",
    [
        "https://auth.example.com/oauth/..;/admin/token",  # Tomcat-style: ..; is ..
        "https://auth.example.com/oauth/%252e%252e/admin/token",  # decoded twice by a proxy
        "https://auth.example.com/oauth/%2E%2E/admin/token",
        "https://auth.example.com/oauth/%2e./admin/token",
        "https://auth.example.com/oauth//evil/token",
        "https://auth.example.com/oauth/token;jsessionid=x",
        "https://auth.example.com/oauth/%25/token",
    ],
)
def test_same_host_paths_a_server_may_read_otherwise_are_refused(url):
    # Given oauth2 app credentials allowing https://auth.example.com/oauth/, and a token_url on
    # that host whose path starts with the prefix but may resolve elsewhere
    declared = app(provider="oauth2", allowed_url_prefixes=["https://auth.example.com/oauth/"])
    doc = oauth2_doc(token_url=url)
    # When the binding is checked, then it is refused before any call
    with pytest.raises(BindingError, match=r"options\.token_url must not contain"):
        verify_app_binding(CONN, doc, APP, declared)


def test_a_trailing_slash_is_still_allowed():
    prefix = UrlPrefix.parse("https://auth.example.com/oauth/", prefix=True)
    assert prefix.allows(UrlPrefix.parse("https://auth.example.com/oauth/token/", prefix=False))
