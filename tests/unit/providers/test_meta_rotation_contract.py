"""Meta through the rotation engine: a wrong app secret is one config alert naming the app secret,
never a false re-authorization; appsecret_proof values are masked like the secrets they derive from.
"""

from __future__ import annotations

import json

import pytest
from tests.support.fake_providers import FakeProviders, Response
from tests.support.fakes import TEST_INSTANCE, InMemorySecretStore, RecordingNotifier

from token_refresher.errors import ProviderError
from token_refresher.http import HttpClient
from token_refresher.providers.base import ProviderContext
from token_refresher.redact import Redactor, keyed_proof
from token_refresher.rotation.engine import RotationEngine, RotationRequest, Step
from token_refresher.rotation.factory import build_rotation_engine

pytestmark = pytest.mark.unit

APP_SECRET_ID = "token-refresher/apps/meta-main"
APP_ID = "4242"
REAL_SECRET = "the-real-app-secret-0001"
STALE_SECRET = "a-rotated-away-app-secret-0002"
SU = "EAAFake-system-user-token-0009"
# appsecret_proof values computed outside Python (known answers, not the code's own formula):
#   printf '%s' '4242|the-real-app-secret-0001' \\
#     | openssl dgst -sha256 -hmac 'the-real-app-secret-0001'
APP_TOKEN_PROOF = "a213c354a8424696ed131443f460c5055605daee2cfc28da90df5cf75e6df91c"
#   printf '%s' token-known-before-key | openssl dgst -sha256 -hmac app-secret-value-1
#   printf '%s' token-added-after-key | openssl dgst -sha256 -hmac app-secret-value-1
BEFORE_PROOF = "a2574f55a70ae8f1d9b23534e8fd270b8f31cc9de0c134cd7d8017f7c7ae8efd"
AFTER_PROOF = "09718be491baa4303ff29d6b90ac81a3b7f117fa4c409f81309c7194a69ea1b2"


def _engine(
    fake: FakeProviders, store: InMemorySecretStore
) -> tuple[RotationEngine, RecordingNotifier]:
    notifier = RecordingNotifier()
    ctx = ProviderContext(http=HttpClient(sleep=lambda _s: None), endpoints=fake.endpoints())
    return build_rotation_engine(store, notifier, ctx, instance=TEST_INSTANCE), notifier


def _connection(store: InMemorySecretStore, provider: str, app_secret: str) -> str:
    store.create(APP_SECRET_ID, {"app_id": APP_ID, "app_secret": app_secret})
    name = f"token-refresher/connections/{provider}-1"
    doc = {
        "schema": 1,
        "provider": provider,
        "kind": "system_user" if provider == "meta_system_user" else "user_long_lived",
        "access_token": SU,
        "expires_at": None if provider == "meta_system_user" else "2099-01-01T00:00:00Z",
        "app_secret_id": APP_SECRET_ID,
    }
    store.create(name, json.dumps(doc), tags={"token-refresher:managed": "true"})
    return name


def _run(engine: RotationEngine, name: str, step: Step, version_id: str) -> None:
    event = {"Step": step.value, "SecretId": name, "ClientRequestToken": version_id}
    engine.run(RotationRequest.from_event(event))


@pytest.mark.parametrize("provider", ["meta", "meta_system_user"])
def test_wrong_app_secret_is_one_config_alert_naming_the_app_secret(
    fake_provider: FakeProviders, provider: str
) -> None:
    # Given Meta knows the app with another secret than the one stored, and a valid token
    fake_provider.register_app("meta", APP_ID, REAL_SECRET)
    fake_provider.seed("meta", access_token=SU, expires_in=None, type="SYSTEM_USER")
    store = InMemorySecretStore()
    name = _connection(store, provider, STALE_SECRET)
    engine, notifier = _engine(fake_provider, store)
    # When two rotations fail on it
    for version_id in ("v1", "v2"):
        store.start_rotation(name, version_id)
        with pytest.raises(ProviderError, match="rejected the app id or app secret"):
            _run(engine, name, Step.CREATE, version_id)
    # Then exactly one alert: config_invalid, naming the app credentials secret
    [alert] = notifier.alerts
    assert alert.event.value == "token.config_invalid"
    assert alert.error_class == "config"
    assert APP_SECRET_ID in alert.message
    assert APP_SECRET_ID in (alert.remediation or "")
    # And the connection is failing, not waiting for a re-authorization that would not help
    assert store.tags_of(name)["token-refresher:status"] == "failing"
    assert store.current_doc(name).access_token == SU


def test_appsecret_proof_echoed_by_meta_is_masked_in_the_alert(
    fake_provider: FakeProviders,
) -> None:
    # Given Meta's error text (wrongly) echoes the appsecret_proof of the token it was sent
    fake_provider.register_app("meta", APP_ID, REAL_SECRET)
    proof = APP_TOKEN_PROOF
    err = {"message": f"bad proof {proof}", "type": "OAuthException", "code": 100}
    fake_provider.script("meta", "debug_token", [Response(400, {"error": err})])
    store = InMemorySecretStore()
    name = _connection(store, "meta_system_user", REAL_SECRET)
    engine, notifier = _engine(fake_provider, store)
    store.start_rotation(name, "v1")
    # When the rotation fails on it
    with pytest.raises(ProviderError) as info:
        _run(engine, name, Step.CREATE, "v1")
    # Then neither the alert nor the exception carries the proof
    [alert] = notifier.alerts
    assert proof not in json.dumps(alert.to_dict())
    assert proof not in str(info.value)
    assert "***" in alert.message


def test_redactor_masks_the_proof_of_every_token_whatever_the_order() -> None:
    # Given a redactor that learns a token before, and another after, the signing key
    redactor = Redactor(["token-known-before-key"])
    redactor.add_signing_key("app-secret-value-1")
    redactor.add("token-added-after-key")
    # When text carries both proofs / Then both are masked
    text = f"{BEFORE_PROOF} {AFTER_PROOF}"
    assert redactor(text) == "*** ***"


def test_keyed_proof_matches_an_independent_hmac() -> None:
    # Given the app token's proof computed by openssl (above), then keyed_proof agrees
    assert keyed_proof(REAL_SECRET, f"{APP_ID}|{REAL_SECRET}") == APP_TOKEN_PROOF
