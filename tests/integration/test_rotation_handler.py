"""The rotation handler in-process against LocalStack and the fake providers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import Aws, rotation_event, start_rotation
from tests.support import stack
from tests.support.handlers import LambdaContext, load_handler
from token_refresher.errors import ProviderError

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("handler_env")]

META_APP_SECRET = "meta-app-secret-integration-0001"


def run_steps(aws: Aws, secret_arn: str, noop: str) -> str:
    handler = load_handler("rotation").lambda_handler
    version_id = start_rotation(aws, secret_arn, noop)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        handler(rotation_event(step, secret_arn, version_id), LambdaContext())
    return version_id


def test_meta_rotation_promotes_new_token_and_updates_tags(
    aws, fake_providers, secret_factory, app_secret, noop_rotation_function
):
    # Given a Meta long-lived token the fake Graph API knows, and its app credentials
    fake_providers.register_app("meta", "1234567890", META_APP_SECRET)
    fake_providers.seed("meta", access_token="EAAFake-initial-int-0001", expires_in=3 * 86400)
    app_id = app_secret("meta", "1234567890", META_APP_SECRET)
    arn = secret_factory(
        {
            "schema": 1,
            "provider": "meta",
            "kind": "user_long_lived",
            "access_token": "EAAFake-initial-int-0001",
            "expires_at": stack.iso_in(timedelta(days=3)),
            "app_secret_id": app_id,
            "options": {"graph_version": "v25.0"},
            "team": "growth",
        }
    )
    # When the four steps run through the handler
    version_id = run_steps(aws, arn, noop_rotation_function)
    # Then AWSCURRENT is the new version with a new token, ~60 days out, user field kept
    doc = stack.current_document(aws.sm, arn)
    assert doc["access_token"] != "EAAFake-initial-int-0001"
    assert doc["team"] == "growth"
    expires = datetime.fromisoformat(doc["expires_at"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) > timedelta(days=59)
    stages = aws.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert "AWSCURRENT" in stages[version_id]
    # And the tags carry the new expiry and an ok status
    tags = stack.tags_of(aws.sm, arn)
    assert tags["token-refresher:status"] == "ok"
    assert tags["token-refresher:expires-at"] == str(int(expires.timestamp()))
    # And the fake Graph API saw exactly one exchange
    routes = [r.route for r in fake_providers.requests("meta")]
    assert routes.count("exchange") == 1


def test_microsoft_rotation_stores_the_new_refresh_token(
    aws, fake_providers, secret_factory, app_secret, noop_rotation_function
):
    # Given a Microsoft Advertising connection
    fake_providers.seed("microsoft", access_token="EwB-int-a", refresh_token="M.C5-int-refresh-1")
    app_id = app_secret("microsoft", "ms-client-id", "ms-client-secret-int")
    arn = secret_factory(
        {
            "schema": 1,
            "provider": "microsoft_ads",
            "access_token": "EwB-int-a",
            "refresh_token": "M.C5-int-refresh-1",
            "expires_at": stack.iso_in(timedelta(minutes=5)),
            "app_secret_id": app_id,
        }
    )
    # When it is rotated
    run_steps(aws, arn, noop_rotation_function)
    # Then the refresh token Microsoft returned is the one stored, and it is valid at the fake
    doc = stack.current_document(aws.sm, arn)
    assert doc["refresh_token"] != "M.C5-int-refresh-1"
    assert fake_providers.is_valid(doc["refresh_token"], "refresh")
    [token_call] = [r for r in fake_providers.requests("microsoft") if r.route == "token"]
    assert token_call.params["scope"] == "https://ads.microsoft.com/msads.manage offline_access"


def test_invalid_grant_fails_keeps_current_and_alerts_without_token_material(
    aws, fake_providers, secret_factory, app_secret, alert_inbox, noop_rotation_function
):
    # Given a Google Ads connection whose refresh token was revoked
    app_id = app_secret("google", "g-client-id", "g-client-secret-int-0001")
    document = {
        "schema": 1,
        "provider": "google_ads",
        "access_token": "ya29.int-old-access",
        "refresh_token": "1//0g-int-revoked-refresh",
        "expires_at": stack.iso_in(timedelta(minutes=5)),
        "app_secret_id": app_id,
    }
    arn = secret_factory(document)
    handler = load_handler("rotation").lambda_handler
    version_id = start_rotation(aws, arn, noop_rotation_function)
    # When createSecret runs, then the handler raises so Secrets Manager records the failure
    with pytest.raises(ProviderError, match="invalid_grant"):
        handler(rotation_event("createSecret", arn, version_id), LambdaContext())
    # And AWSCURRENT is unchanged
    assert stack.current_document(aws.sm, arn)["refresh_token"] == document["refresh_token"]
    # And one alert arrived in the subscribed queue with its attributes and no token material
    [envelope] = alert_inbox.settled()  # published before the handler returned
    assert envelope["alert"]["event"] == "token.reauth_required"
    assert envelope["alert"]["provider_code"] == "invalid_grant"
    assert envelope["MessageAttributes"]["event"]["Value"] == "token.reauth_required"
    assert envelope["MessageAttributes"]["provider"]["Value"] == "google_ads"
    assert envelope["MessageAttributes"]["severity"]["Value"] == "critical"
    raw = json.dumps(envelope)
    for secret in (document["refresh_token"], document["access_token"], "g-client-secret-int-0001"):
        assert secret not in raw
    assert stack.tags_of(aws.sm, arn)["token-refresher:status"] == "reauth-required"


@pytest.mark.parametrize(
    "events_file",
    [
        "rotation-create-secret.json",
        "rotation-set-secret.json",
        "rotation-test-secret.json",
        "rotation-finish-secret.json",
    ],
)
def test_shipped_step_events_are_refused_without_state_change_or_alert(
    aws,
    fake_providers,
    secret_factory,
    app_secret,
    alert_inbox,
    noop_rotation_function,
    events_file,
):
    # Given a healthy Google Ads connection with a rotation pending, and its tags
    fake_providers.seed("google", access_token="ya29.int-step-a", refresh_token="1//0g-int-step-r")
    app_id = app_secret("google", "g-client-id", "g-client-secret-int-step")
    arn = secret_factory(
        {
            "schema": 1,
            "provider": "google_ads",
            "access_token": "ya29.int-step-a",
            "refresh_token": "1//0g-int-step-r",
            "expires_at": stack.iso_in(timedelta(minutes=30)),
            "app_secret_id": app_id,
        }
    )
    pending = start_rotation(aws, arn, noop_rotation_function)
    tags_before = stack.tags_of(aws.sm, arn)
    # When the shipped events file is invoked as it is (its placeholder version id), aimed at
    # this secret
    event = json.loads((stack.REPO_ROOT / "events" / events_file).read_text())
    event["SecretId"] = arn
    assert event["ClientRequestToken"] != pending
    result = load_handler("rotation").lambda_handler(event, LambdaContext())
    # Then the step is refused, saying how to find the pending version id
    assert result["outcome"] == "refused"
    assert f"has no version {event['ClientRequestToken']} to rotate" in result["reason"]
    assert "--query VersionIdsToStages" in result["reason"]
    # And the state tags, the versions and the provider are untouched, and nobody is alerted
    assert stack.tags_of(aws.sm, arn) == tags_before
    assert aws.sm.describe_secret(SecretId=arn)["VersionIdsToStages"][pending] == ["AWSPENDING"]
    assert fake_providers.requests("google") == []
    assert alert_inbox.settled() == []


def test_step_by_hand_with_the_pending_version_id_from_describe_secret(
    aws, fake_providers, secret_factory, app_secret, noop_rotation_function
):
    # Given a rotation left pending (what the README's recipe debugs)
    fake_providers.seed("google", access_token="ya29.int-hand-a", refresh_token="1//0g-int-hand-r")
    app_id = app_secret("google", "g-client-id", "g-client-secret-int-hand")
    arn = secret_factory(
        {
            "schema": 1,
            "provider": "google_ads",
            "access_token": "ya29.int-hand-a",
            "refresh_token": "1//0g-int-hand-r",
            "expires_at": stack.iso_in(timedelta(minutes=30)),
            "app_secret_id": app_id,
        }
    )
    start_rotation(aws, arn, noop_rotation_function)
    # When the pending id is read as the README says (describe-secret's VersionIdsToStages)
    stages = aws.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    [pending] = [version for version, labels in stages.items() if labels == ["AWSPENDING"]]
    # And put into the events file's ClientRequestToken, step by step
    handler = load_handler("rotation").lambda_handler
    outcomes = []
    for name in ("create", "set", "test", "finish"):
        event = json.loads(
            (stack.REPO_ROOT / "events" / f"rotation-{name}-secret.json").read_text()
        )
        event.update(SecretId=arn, ClientRequestToken=pending)
        outcomes.append(handler(event, LambdaContext())["outcome"])
    # Then the rotation completes through the four steps
    assert outcomes == ["done", "done", "done", "done"]
    assert "AWSCURRENT" in aws.sm.describe_secret(SecretId=arn)["VersionIdsToStages"][pending]
    assert stack.current_document(aws.sm, arn)["access_token"] != "ya29.int-hand-a"
