"""rotate-secret against the deployed stack: the real template, the real functions and layers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import rotate
from tests.support import stack

pytestmark = pytest.mark.e2e


def test_meta_rotate_secret_exchanges_once_and_updates_tags(
    deployed, fake_providers, make_secret, make_app
):
    # Given a managed Meta secret whose token the fake Graph API knows
    fake_providers.register_app("meta", "555000111", "meta-app-secret-e2e-0001")
    fake_providers.seed("meta", access_token="EAAFake-e2e-initial-0001", expires_in=5 * 86400)
    arn = make_secret(
        {
            "schema": 1,
            "provider": "meta",
            "kind": "user_long_lived",
            "access_token": "EAAFake-e2e-initial-0001",
            "expires_at": stack.iso_in(timedelta(days=5)),
            "app_secret_id": make_app("meta", "555000111", "meta-app-secret-e2e-0001"),
            "options": {"graph_version": "v25.0"},
        }
    )
    # When Secrets Manager rotates it with the deployed rotation function
    rotate(deployed, arn)
    # Then AWSCURRENT holds a new token about 60 days out
    doc = stack.current_document(deployed.sm, arn)
    assert doc["access_token"] != "EAAFake-e2e-initial-0001"
    assert fake_providers.is_valid(doc["access_token"])
    expires = datetime.fromisoformat(doc["expires_at"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) > timedelta(days=59)
    # And the tags were updated from the new document
    tags = stack.tags_of(deployed.sm, arn)
    assert tags["token-refresher:expires-at"] == str(int(expires.timestamp()))
    assert tags["token-refresher:status"] == "ok"
    # And the fake provider received exactly one exchange call
    assert [r.route for r in fake_providers.requests("meta")].count("exchange") == 1


def test_microsoft_rotate_secret_stores_the_new_refresh_token(
    deployed, fake_providers, make_secret, make_app
):
    fake_providers.seed("microsoft", access_token="EwB-e2e-a", refresh_token="M.C5-e2e-refresh-1")
    arn = make_secret(
        {
            "schema": 1,
            "provider": "microsoft_ads",
            "access_token": "EwB-e2e-a",
            "refresh_token": "M.C5-e2e-refresh-1",
            "expires_at": stack.iso_in(timedelta(minutes=20)),
            "app_secret_id": make_app("microsoft", "ms-e2e-client", "ms-e2e-client-secret"),
        }
    )
    rotate(deployed, arn)
    doc = stack.current_document(deployed.sm, arn)
    assert doc["refresh_token"] != "M.C5-e2e-refresh-1"
    assert fake_providers.is_valid(doc["refresh_token"], "refresh")
    assert len([r for r in fake_providers.requests("microsoft") if r.route == "token"]) == 1


def test_invalid_grant_fails_rotation_and_alerts_sqs_without_token_material(
    deployed, fake_providers, make_secret, make_app, alert_inbox
):
    # Given a Google Ads connection whose refresh token the provider no longer accepts
    document = {
        "schema": 1,
        "provider": "google_ads",
        "access_token": "ya29.e2e-old-access-0001",
        "refresh_token": "1//0g-e2e-revoked-0001",
        "expires_at": stack.iso_in(timedelta(minutes=20)),
        "app_secret_id": make_app("google", "g-e2e-client", "g-e2e-client-secret-0001"),
    }
    arn = make_secret(document)
    # When Secrets Manager tries to rotate it
    rotate(deployed, arn)
    # Then AWSCURRENT is unchanged
    assert stack.current_document(deployed.sm, arn) == document
    # And exactly one alert reaches the subscribed queue, with attributes and no token material
    alert_inbox.wait_for(bool, timeout=30, what="the alert")
    [envelope] = alert_inbox.settled()  # exactly one: nothing else arrived before the marker
    alert = envelope["alert"]
    assert (alert["event"], alert["error_class"], alert["provider_code"]) == (
        "token.reauth_required",
        "reauth_required",
        "invalid_grant",
    )
    assert alert["secret_id"] in (arn, arn.split(":")[-1].rsplit("-", 1)[0])
    assert alert["remediation"]
    attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
    assert attributes == {
        "event": "token.reauth_required",
        "provider": "google_ads",
        "severity": "critical",
    }
    raw = json.dumps(envelope)
    for secret in (
        "ya29.e2e-old-access-0001",
        "1//0g-e2e-revoked-0001",
        "g-e2e-client-secret-0001",
    ):
        assert secret not in raw
