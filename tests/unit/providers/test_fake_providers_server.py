"""The shared fake provider server: HTTP control API, failure modes, standalone process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from tests.support.fake_providers import FakeProviders

from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import linkedin, tiktok
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def test_http_control_api_seeds_scripts_records_and_resets(fake_provider: FakeProviders) -> None:
    control = fake_provider.base_url + "/_control"
    # Given a refresh token seeded and a 503 scripted over HTTP
    seeded = requests.post(
        control + "/seed",
        json={"provider": "amazon_ads", "refresh_token": "Atzr|seeded"},
        timeout=5,
    )
    assert seeded.json()["refresh_token"] == "Atzr|seeded"
    script = {"provider": "amazon", "route": "token", "responses": [{"status": 503, "json": {}}]}
    assert requests.post(control + "/script", json=script, timeout=5).status_code == 200
    form = {"grant_type": "refresh_token", "refresh_token": "Atzr|seeded", "client_id": "c"}
    # When the token endpoint is called twice
    first = requests.post(fake_provider.url("amazon") + "/auth/o2/token", data=form, timeout=5)
    second = requests.post(fake_provider.url("amazon") + "/auth/o2/token", data=form, timeout=5)
    # Then the scripted answer came first, then the stateful one, and both were recorded
    assert first.status_code == 503
    assert second.status_code == 200
    assert second.json()["access_token"].startswith("Atza|")
    recorded = requests.get(control + "/requests?provider=amazon", timeout=5).json()
    assert [r["route"] for r in recorded] == ["token", "token"]
    assert recorded[0]["form"]["refresh_token"] == "Atzr|seeded"
    # And reset forgets tokens and requests
    requests.post(control + "/reset", json={}, timeout=5)
    assert fake_provider.requests() == []
    assert not fake_provider.is_valid("Atzr|seeded", "refresh")


def test_control_api_rejects_bad_input(fake_provider: FakeProviders) -> None:
    # Given an unknown provider / When seeded over HTTP / Then 400 naming the problem
    resp = requests.post(
        fake_provider.base_url + "/_control/seed", json={"provider": "myspace"}, timeout=5
    )
    assert resp.status_code == 400
    assert "myspace" in resp.json()["detail"]


def test_timeout_mode_is_not_retried_for_post_but_is_for_get(
    fake_provider: FakeProviders, ctx: ProviderContext
) -> None:
    app = AppCredentials("c", "s")
    # Given LinkedIn never answers
    fake_provider.set_mode("linkedin", failure="timeout")
    doc = TokenDocument.from_dict({"schema": 1, "provider": "linkedin", "refresh_token": "AQX-1"})
    # When a refresh POST times out / Then transient after ONE request (it may have been processed)
    with pytest.raises(ProviderError) as info:
        linkedin.PROVIDER.refresh(doc, app, ctx)
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert len(fake_provider.requests("linkedin")) == 1
    # Given TikTok never answers / When a validation GET times out / Then it is tried 3 times
    fake_provider.set_mode("tiktok", failure="timeout")
    doc = TokenDocument.from_dict({"schema": 1, "provider": "tiktok", "access_token": "act.1"})
    with pytest.raises(ProviderError, match="did not answer in time"):
        tiktok.PROVIDER.refresh(doc, app, ctx)
    assert len(fake_provider.requests("tiktok")) == 3


def test_standalone_process_prints_port_and_stops_on_sigterm() -> None:
    # Given the server started as its own process on a free port
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'layers/core/python'}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_providers", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        # When a provider route is called
        resp = requests.get(
            f"http://127.0.0.1:{port}/google/tokeninfo", params={"access_token": "x"}, timeout=5
        )
        # Then it answers like Google does for an unknown token
        assert resp.status_code == 400
        assert resp.json()["error"] == "invalid_token"
    finally:
        # And SIGTERM stops it cleanly
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
