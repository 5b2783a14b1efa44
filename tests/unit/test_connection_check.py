"""The in-stack connection check: the rotation engine's pieces, validation only, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fakes import TEST_INSTANCE, client_error
from tests.unit.conftest import APP_CLIENT_SECRET, INITIAL_ACCESS, INITIAL_REFRESH, Harness
from token_refresher.errors import ConfigError, ErrorClass, ProviderError
from token_refresher.events import is_check_event
from token_refresher.providers.base import ValidationResult
from token_refresher.rotation.check import CheckRequest, ConnectionChecker

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[2] / "events"
STATE_WRITES = ("put_pending", "move_stage")


def checker(harness: Harness) -> ConnectionChecker:
    engine = harness.engine
    return ConnectionChecker(
        harness.store,
        engine.ctx,
        engine._providers,
        engine.apps.for_token,
        instance=TEST_INSTANCE,
    )


def check(harness: Harness, secret_id: str):
    return checker(harness).run(CheckRequest(secret_id))


def state_tags(harness: Harness, name: str) -> dict[str, str]:
    """Every tag of the secret: a check writes none (the app-credentials lookup is read-only)."""
    return harness.store.tags_of(name)


def test_a_valid_connection_is_reported_with_its_expiry_and_nothing_changes(harness):
    # Given a managed connection
    name = harness.add_secret()
    tags_before = state_tags(harness, name)
    harness.provider.validate_with = ValidationResult(
        valid=True, expires_at=harness.clock.now, scopes=("ads_read",), detail="debug_token"
    )
    # When it is checked
    report = check(harness, name)
    # Then the provider's validation was run once, never a refresh
    assert (harness.provider.validate_calls, harness.provider.refresh_calls) == (1, 0)
    assert report.to_dict() == {
        "action": "check",
        "secret_id": name,
        "ok": True,
        "provider": "fake",
        "message": "valid (debug_token)",
        "error_class": None,
        "provider_code": None,
        "provider_subcode": None,
        "remediation": None,
        "expires_at": "2026-11-29T12:00:00Z",
        "data_access_expires_at": None,
        "scopes": ["ads_read"],
        "warnings": [report.warnings[0]],
        "checked": True,
    }
    assert "declare no provider" in report.warnings[0]
    # And no version, state tag or alert was written
    assert harness.store.writes() == []
    assert state_tags(harness, name) == tags_before
    assert harness.notifier.alerts == []


def test_a_token_the_provider_rejects_is_reported_for_reauthorization(harness):
    name = harness.add_secret()
    harness.provider.validate_with = ValidationResult(valid=False, detail="token revoked")
    report = check(harness, name)
    assert report.ok is False
    assert report.error_class == "reauth_required"
    assert report.message == "fake reports the token invalid (token revoked)"
    assert "re-authorize" in (report.remediation or "")
    assert harness.notifier.alerts == []
    assert "token-refresher:status" not in harness.store.tags_of(name)


def test_a_provider_error_keeps_its_class_and_codes_and_is_masked(harness):
    # Given a provider whose error text (wrongly) echoes the token and the app secret
    name = harness.add_secret()
    harness.provider.validate_with = ProviderError(
        ErrorClass.TRANSIENT,
        f"HTTP 503 for {INITIAL_ACCESS} / {APP_CLIENT_SECRET}",
        provider="fake",
        provider_code=503,
    )
    report = check(harness, name)
    assert (report.ok, report.error_class, report.provider_code) == (False, "transient", "503")
    text = json.dumps(report.to_dict())
    for secret in (INITIAL_ACCESS, INITIAL_REFRESH, APP_CLIENT_SECRET):
        assert secret not in text
    assert "***" in report.message


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda h: h.store.create("other/team", "{}"), "not managed by this deployment"),
        (lambda h: None, "secret not found"),
    ],
)
def test_unmanaged_or_missing_secrets_are_refused_before_any_read(harness, setup, expected):
    setup(harness)
    secret_id = "other/team"
    report = check(harness, secret_id)
    assert report.ok is False
    assert report.error_class == "config"
    assert expected in report.message
    assert [op for op, _ in harness.store.calls] == ["describe"]
    assert harness.provider.validate_calls == 0


def test_describe_denied_by_iam_reads_as_not_managed(harness):
    # On AWS the function's DescribeSecret is conditioned on the managed tag
    harness.store.fail_on["describe"] = [client_error("AccessDeniedException", "DescribeSecret")]
    report = check(harness, "arn:aws:secretsmanager:us-east-1:1:secret:x")
    assert report.error_class == "config"
    assert "not managed by this deployment" in report.message


def test_a_malformed_document_names_the_field(harness):
    name = harness.add_secret(expires_at="next tuesday")
    report = check(harness, name)
    assert report.ok is False
    assert report.error_class == "config"
    assert report.message.startswith("expires_at:")
    assert harness.provider.validate_calls == 0


def test_app_credentials_of_another_provider_are_refused_before_the_provider(harness):
    # Given app credentials declared for meta, named by a connection of provider "fake"
    harness.store.create(
        "token-refresher/apps/meta-app",
        {"client_id": "m", "client_secret": "meta-app-secret-0001", "provider": "meta"},
    )
    name = harness.add_secret(app_secret_id="token-refresher/apps/meta-app")
    report = check(harness, name)
    assert (report.ok, report.error_class) == (False, "config")
    assert "token-refresher/apps/meta-app" in report.message
    assert harness.provider.validate_calls == 0


def test_missing_app_credentials_are_named(harness):
    name = harness.add_secret(app_secret_id="token-refresher/apps/gone")
    report = check(harness, name)
    assert report.error_class == "config"
    assert "token-refresher/apps/gone" in report.message
    assert harness.provider.validate_calls == 0


def test_check_events_are_told_apart_from_rotation_steps_and_validated():
    shipped = json.loads((EVENTS / "check-connection.json").read_text())
    assert is_check_event(shipped)
    assert CheckRequest.from_event(shipped).secret_id == "token-refresher/connections/meta-demo"
    step = json.loads((EVENTS / "rotation-test-secret.json").read_text())
    assert not is_check_event(step)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"action": "rotate", "secret_id": "s"}, "action"),
        ({"action": "check"}, "secret_id"),
        ({"action": "check", "secret_id": " "}, "secret_id"),
        ({"action": "check", "secret_id": "s", "force": True}, "event"),
        (["action"], "event"),
    ],
)
def test_bad_check_events_name_the_field(event, field):
    with pytest.raises(ConfigError) as info:
        CheckRequest.from_event(event)
    assert info.value.field == field


def test_a_check_of_another_instances_secret_reads_nothing_and_says_whose_it_is(harness):
    # Given a secret of another instance
    harness.store.create(
        "c/staging",
        "{}",
        tags={"token-refresher:managed": "true", "token-refresher:instance": "staging"},
    )
    harness.store.calls.clear()
    # When this instance checks it
    report = checker(harness).run(CheckRequest("c/staging"))
    # Then it is refused as config, naming the owner, and its value was never read
    assert report.ok is False
    assert report.error_class == "config"
    assert "belongs to instance 'staging'" in (report.message or "")
    assert harness.store.calls == [("describe", "c/staging")]
