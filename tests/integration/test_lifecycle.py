"""A connection's whole life, per platform, on a clock the test controls.

Two human cycles (30/7/1-day warnings with working links, re-consent through the link), scheduled
refreshes and daily liveness checks, and a revocation in the middle of a cycle alerted within a
day. The timelines are docs/alerts.md's tables: `make lifecycle` rewrites them, this test checks
that the document matches what it observed."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.conftest import Aws
from tests.support import lifecycle, stack
from tests.support.fake_providers import FakeProviders
from tests.support.handlers import LambdaContext, load_handler
from token_refresher import runtime
from token_refresher.adapters import rotation_function
from token_refresher.adapters.notifier import SnsNotifier
from token_refresher.alerts import Alert

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("handler_env")]

DOC = stack.REPO_ROOT / "docs" / "alerts.md"
CONNECT_URL = "https://abcdefghij.lambda-url.us-east-1.on.aws/"
DAY = 86_400


def _meta(fake: FakeProviders, app: str) -> dict[str, Any]:
    token = "EAAFakeLife" + uuid.uuid4().hex
    until = int(fake.now()) + 90 * DAY  # data access: 90 days after the user's last activity
    fake.seed("meta", access_token=token, expires_in=60 * DAY, data_access_until=until)
    fake.configure("meta", data_access_for=90 * DAY)
    return {"provider": "meta", "kind": "user_long_lived", "access_token": token}


def _system_user(fake: FakeProviders, app: str) -> dict[str, Any]:
    token = "EAAFakeSys" + uuid.uuid4().hex
    fake.seed(
        "meta", access_token=token, expires_in=None, type="SYSTEM_USER", data_access_expires_in=0
    )
    return {
        "provider": "meta_system_user",
        "access_token": token,
        "options": {"business_id": "1000", "system_user_id": "2000", "scope": "ads_read"},
    }


def _refreshing(prefix: str, provider: str, days: float | None = None, **options: Any):
    def make(fake: FakeProviders, app: str) -> dict[str, Any]:
        refresh = f"{prefix}-life-{uuid.uuid4().hex}"
        fake.seed(prefix, refresh_token=refresh, refresh_expires_in=days and days * DAY)
        return {"provider": provider, "refresh_token": refresh, "options": dict(options)}

    return make


def _tiktok(fake: FakeProviders, app: str) -> dict[str, Any]:
    token = "act.life" + uuid.uuid4().hex
    fake.seed("tiktok", access_token=token, expires_in=None)
    return {"provider": "tiktok", "kind": "advertiser", "access_token": token}


def _oauth2(fake: FakeProviders, app: str) -> dict[str, Any]:
    doc = _refreshing("oauth2", "oauth2")(fake, app)
    base = fake.url("oauth2")
    doc["options"] = {
        "authorize_url": base + "/authorize",
        "token_url": base + "/token",
        "introspection_url": base + "/introspect",
        "scope": "read write",
        "issuer": base,  # the fake's id_token iss: pins the consenting account
    }
    return doc


def _revoke(*fields: str):
    def revoke(fake: FakeProviders, doc: dict[str, Any]) -> None:
        for name in fields:
            if doc.get(name):
                fake.revoke(doc[name])

    return revoke


GRANT = _revoke("refresh_token", "access_token")
PLANS = [
    lifecycle.Plan("meta", _meta, revoke=_revoke("access_token")),
    lifecycle.Plan(
        "meta_system_user", _system_user, cycles=0, revoke=_revoke("access_token"), consent=False
    ),
    lifecycle.Plan(
        "google_ads", _refreshing("google", "google_ads", 7, testing_app=True), revoke=GRANT
    ),
    lifecycle.Plan(
        "microsoft_ads", _refreshing("microsoft", "microsoft_ads"), cycles=0, revoke=GRANT
    ),
    lifecycle.Plan("linkedin", _refreshing("linkedin", "linkedin", 365), revoke=GRANT),
    lifecycle.Plan("tiktok", _tiktok, cycles=0, revoke=_revoke("access_token")),
    lifecycle.Plan(
        "amazon_ads", _refreshing("amazon", "amazon_ads", region="NA"), cycles=0, revoke=GRANT
    ),
    lifecycle.Plan("oauth2", _oauth2, cycles=0, revoke=GRANT),
]
APP_PROVIDER = {"meta_system_user": "meta"}


@pytest.fixture
def simulation(
    aws: Aws, fake_providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> Iterator[lifecycle.Simulation]:
    instance = f"tr-life-{uuid.uuid4().hex[:8]}"
    key = f"tr-int/connect-signing-key-{uuid.uuid4().hex[:8]}"
    value = {"key": uuid.uuid4().hex * 2, "url": CONNECT_URL, "instance": instance}
    key_arn = aws.sm.create_secret(Name=key, SecretString=json.dumps(value))["ARN"]
    monkeypatch.setenv("INSTANCE_NAME", instance)
    monkeypatch.setenv("CONNECT_KEY_SECRET_ID", key)
    clock = lifecycle.SimClock()
    monkeypatch.setattr(runtime, "clock", clock)
    monkeypatch.setattr(fake_providers, "now", lambda: clock().timestamp())
    published: list[dict[str, Any]] = []
    original = SnsNotifier.publish

    def publish(self: SnsNotifier, alert: Alert) -> None:
        published.append(alert.to_dict())
        original(self, alert)

    monkeypatch.setattr(SnsNotifier, "publish", publish)
    rotation = load_handler("rotation").lambda_handler

    class InProcessLiveness:  # the asynchronous invoke, run here
        def __init__(self, client: Any, arn: str) -> None:
            pass

        def request(self, secret_id: str) -> None:
            rotation({"action": "liveness", "secret_id": secret_id}, LambdaContext())

    monkeypatch.setattr(rotation_function, "LambdaLivenessRequester", InProcessLiveness)
    runtime.reset()
    secrets = stack.SecretFactory(aws.sm, "tr-life", instance=instance)
    yield lifecycle.Simulation(aws.sm, fake_providers, clock, published, secrets)
    secrets.cleanup()
    aws.sm.delete_secret(SecretId=key_arn, ForceDeleteWithoutRecovery=True)
    runtime.reset()


def test_two_human_cycles_and_a_revocation_per_platform(simulation, fake_providers):
    lives = []
    for plan in PLANS:
        provider = plan.platform
        app = simulation.secrets.app(
            provider,
            f"{provider}-life-client",
            f"{provider}-life-secret-0001",
            provider=APP_PROVIDER.get(provider, provider),
            **(
                {"allowed_url_prefixes": [fake_providers.url("oauth2") + "/"]}
                if provider == "oauth2"
                else {}
            ),
        )
        real = simulation.secrets.token
        simulation.secrets.token = lambda doc, real=real, app=app: real(
            {"schema": 1, "app_secret_id": app} | doc
        )
        lives.append(simulation.live(plan, app))
        simulation.secrets.token = real
    # Every revocation was alerted within a day (the daily liveness check's promise)
    for life in lives:
        assert life.revocation_to_alert is not None
        assert life.revocation_to_alert <= timedelta(hours=24), life.platform
    # And docs/alerts.md shows exactly these timelines
    section = lifecycle.render(lives)
    if os.environ.get("TR_LIFECYCLE_DOC"):
        DOC.write_text(lifecycle.splice(DOC.read_text(), section))
    assert section in DOC.read_text(), "docs/alerts.md is stale: run `make lifecycle`"
