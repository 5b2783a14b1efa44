"""URL policy, the HTTP client's retry rules, configuration parsing, and the redactor."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import quote

import pytest

from token_refresher.config import Settings
from token_refresher.errors import ConfigError, ErrorClass, ProviderError
from token_refresher.http import HttpClient, check_url
from token_refresher.redact import Redactor

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "url",
    [
        "https://graph.facebook.com",
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://[::1]/",
    ],
)
def test_https_and_loopback_http_are_allowed(url):
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://graph.facebook.com", "must use https"),
        ("http://10.0.0.5/", "must use https"),
        ("ftp://127.0.0.1/", "must use https"),
        ("https:///nohost", "has no host"),
    ],
)
def test_other_urls_are_refused(url, why):
    with pytest.raises(ConfigError, match=why):
        check_url(url)


class _Scripted(BaseHTTPRequestHandler):
    statuses: ClassVar[list[tuple[int, dict[str, str]]]] = []
    hits: ClassVar[list[str]] = []

    def _answer(self) -> None:
        type(self).hits.append(self.command)
        status, headers = type(self).statuses.pop(0) if type(self).statuses else (200, {})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        body = b'{"ok": true}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def server():
    _Scripted.statuses, _Scripted.hits = [], []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_5xx_is_retried_then_succeeds(server):
    # Given a server answering 503 twice, then 200
    _Scripted.statuses = [(503, {}), (503, {}), (200, {})]
    sleeps: list[float] = []
    client = HttpClient(max_attempts=3, sleep=sleeps.append)
    # When a POST is sent
    resp = client.request("POST", server + "/token", provider="p", data={"a": "b"})
    # Then it took three attempts and two backoffs
    assert resp.status == 200
    assert _Scripted.hits == ["POST"] * 3
    assert len(sleeps) == 2


def test_429_honours_retry_after_and_returns_the_last_answer(server):
    _Scripted.statuses = [(429, {"Retry-After": "2"}), (429, {"Retry-After": "30"})]
    sleeps: list[float] = []
    client = HttpClient(max_attempts=2, max_retry_after=10, sleep=sleeps.append)
    resp = client.request("GET", server + "/x", provider="p")
    assert resp.status == 429
    assert sleeps == [2.0]


def test_4xx_is_not_retried(server):
    _Scripted.statuses = [(400, {})]
    resp = HttpClient(sleep=lambda _s: None).request("POST", server + "/t", provider="p")
    assert resp.status == 400
    assert _Scripted.hits == ["POST"]


def test_unreachable_host_is_transient_after_bounded_attempts():
    # Given a port nobody listens on
    client = HttpClient(max_attempts=2, connect_timeout=0.5, sleep=lambda _s: None)
    with pytest.raises(ProviderError) as info:
        client.request("GET", "http://127.0.0.1:9/x", provider="p", params={"access_token": "tok"})
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert "tok" not in str(info.value)


def test_settings_parse_and_validate():
    env = {
        "ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:alerts",
        "PROVIDER_ENDPOINTS": '{"meta": "http://127.0.0.1:8900/meta"}',
        "FAILURE_ALERT_THRESHOLD": "5",
    }
    cfg = Settings.from_env(env)
    assert cfg.provider_endpoints == {"meta": "http://127.0.0.1:8900/meta"}
    pairs = Settings.from_env(
        {"PROVIDER_ENDPOINTS": "meta=http://127.0.0.1:1/m;google_ads=https://proxy.example/g"}
    )
    assert pairs.provider_endpoints == {
        "meta": "http://127.0.0.1:1/m",
        "google_ads": "https://proxy.example/g",
    }
    assert cfg.policy.failure_threshold == 5


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"PROVIDER_ENDPOINTS": '{"meta": "http://evil.example/"}'}, "PROVIDER_ENDPOINTS"),
        ({"PROVIDER_ENDPOINTS": '{"nope": "https://x"}'}, "PROVIDER_ENDPOINTS"),
        ({"PROVIDER_ENDPOINTS": "[]"}, "PROVIDER_ENDPOINTS"),
        ({"PROVIDER_ENDPOINTS": "meta http://127.0.0.1/"}, "PROVIDER_ENDPOINTS"),
        ({"FAILURE_ALERT_THRESHOLD": "0"}, "FAILURE_ALERT_THRESHOLD"),
        ({"HTTP_READ_TIMEOUT": "abc"}, "HTTP_READ_TIMEOUT"),
        ({"ALERT_TOPIC_ARN": "my-topic"}, "ALERT_TOPIC_ARN"),
    ],
)
def test_bad_settings_name_the_variable(env, field):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert info.value.field == field


def test_redactor_masks_plain_urlencoded_and_base64_forms():
    secret = "s3cr3t/value+with=chars"
    redact = Redactor([secret])
    text = " ".join(
        [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode(), "keep me"]
    )
    out = redact(text)
    assert secret not in out
    assert quote(secret, safe="") not in out
    assert out.endswith("keep me")


def test_refresh_ahead_overrides_per_provider_and_for_all():
    # Given a default for everyone and a Meta-specific window
    cfg = Settings.from_env({"REFRESH_AHEAD": "*.fraction=0.3; meta.long_lived_ahead_days=10"})
    # Then Meta gets both, others get the shared change only
    assert cfg.refresh_ahead["meta"].long_lived_ahead.days == 10
    assert cfg.refresh_ahead["meta"].fraction == 0.3
    assert cfg.refresh_ahead["*"].fraction == 0.3
    assert cfg.refresh_ahead["*"].long_lived_ahead.days == 7


@pytest.mark.parametrize(
    "raw",
    [
        "meta.fraction=2",
        "myspace.fraction=0.2",
        "meta.speed=3",
        "meta.fraction=abc",
        "fraction=0.2",
    ],
)
def test_bad_refresh_ahead_is_refused(raw):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"REFRESH_AHEAD": raw})
    assert info.value.field == "REFRESH_AHEAD"
