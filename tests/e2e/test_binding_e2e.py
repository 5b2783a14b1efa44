"""The confused-deputy path through the deployed stack: a connection naming another
app's credentials and a token URL of its own is refused before anything is sent anywhere."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from tests.e2e.conftest import E2E_STACK, rotate
from tests.support import stack
from tests.support.cli import run_cli

pytestmark = pytest.mark.e2e

META_APP_SECRET = "meta-app-secret-deputy-e2e-0001"  # nosec B105 # a test value


@pytest.mark.parametrize("declared", [{"provider": "meta"}, {}], ids=["declared", "legacy"])
def test_oauth2_connection_with_meta_credentials_and_a_foreign_token_url_is_refused(
    deployed, fake_providers, foreign_server, make_secret, make_app, alert_inbox, declared
):
    # Given the company's Meta app credentials (declared as Meta's, or from before declarations)
    fake_providers.register_app("meta", "555000999", META_APP_SECRET)
    meta_app = make_app("meta", "555000999", META_APP_SECRET, **declared)
    # And an oauth2 connection naming them, with a token URL on another host (the attacker's)
    document = {
        "schema": 1,
        "provider": "oauth2",
        "refresh_token": "rt-deputy-e2e-0001-rrrrrrrr",
        "expires_at": stack.iso_in(timedelta(minutes=20)),
        "app_secret_id": meta_app,
        "options": {"token_url": f"{foreign_server.url('oauth2')}/token"},
    }
    arn = make_secret(document)
    # When Secrets Manager rotates it with the deployed rotation function
    rotate(deployed, arn)
    # Then one token.config_invalid alert names both secrets
    alert_inbox.wait_for(bool, timeout=30, what="the alert")
    [envelope] = alert_inbox.settled()  # exactly one: nothing else arrived before the marker
    alert = envelope["alert"]
    assert (alert["event"], alert["error_class"], alert["provider"]) == (
        "token.config_invalid",
        "config",
        "oauth2",
    )
    connection = arn.split(":")[-1].rsplit("-", 1)[0]
    assert f"connection '{connection}' (oauth2)" in alert["message"]
    assert f"app credentials '{meta_app}'" in alert["message"]
    assert alert["remediation"]
    # And neither the foreign endpoint nor any provider saw a request
    assert foreign_server.requests() == []
    assert fake_providers.requests() == []
    # And the connection is unchanged, marked failing with a config error
    assert stack.current_document(deployed.sm, arn) == document
    assert stack.tags_of(deployed.sm, arn)["token-refresher:last-error-class"] == "config"
    assert META_APP_SECRET not in json.dumps(envelope)


def test_declared_oauth2_credentials_rotate_at_their_allowed_url(
    deployed, fake_providers, make_secret, make_app
):
    # Given oauth2 app credentials declared for the (fake) authorization server's /oauth2/ path
    fake_providers.register_app("oauth2", "o-e2e-client", "oauth2-app-secret-e2e-0001")
    fake_providers.seed("oauth2", refresh_token="rt-bound-e2e-0002-rrrrrrrr")
    app_id = make_app(
        "oauth2",
        "o-e2e-client",
        "oauth2-app-secret-e2e-0001",
        provider="oauth2",
        allowed_url_prefixes=[fake_providers.url("oauth2") + "/"],
    )
    arn = make_secret(
        {
            "schema": 1,
            "provider": "oauth2",
            "refresh_token": "rt-bound-e2e-0002-rrrrrrrr",
            "expires_at": stack.iso_in(timedelta(minutes=20)),
            "app_secret_id": app_id,
            "options": {
                "token_url": f"{fake_providers.url('oauth2')}/token",
                "introspection_url": f"{fake_providers.url('oauth2')}/introspect",
            },
        }
    )
    # When it is rotated
    rotate(deployed, arn)
    # Then the token was refreshed and introspected at the allowed server
    doc = stack.current_document(deployed.sm, arn)
    assert fake_providers.is_valid(doc["access_token"])
    assert [r.route for r in fake_providers.requests("oauth2")] == ["token", "introspect"]
    tags = stack.tags_of(deployed.sm, arn)
    assert tags["token-refresher:status"] == "ok"
    assert "token-refresher:app-binding" not in tags  # only undeclared credentials are tagged


def test_onboard_refuses_the_same_connection_before_any_call(
    deployed, fake_providers, foreign_server, make_app, monkeypatch
):
    # Given the CLI aimed at the deployed stack, and Meta's declared app credentials
    for key, value in stack.aws_environment(deployed.endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TOKEN_REFRESHER_STACK", E2E_STACK)
    fake_providers.register_app("meta", "555000998", META_APP_SECRET)
    meta_app = make_app("meta", "555000998", META_APP_SECRET, provider="meta")
    name = f"tr-e2e/cli/oauth2-{uuid.uuid4().hex[:10]}"
    # When an oauth2 connection naming them, with a foreign token URL, is onboarded
    run = run_cli(
        [
            "onboard",
            "oauth2",
            "--name",
            name,
            "--app-secret-id",
            meta_app,
            "--option",
            f"token_url={foreign_server.url('oauth2')}/token",
        ],
        stdin="rt-never-read-0001-rrrrrrrr",
    )
    # Then it is refused naming both secrets, nothing was created and nobody was called
    assert run.code == 1
    assert f"refused: connection '{name}' (oauth2) and app credentials '{meta_app}'" in run.err
    assert "belong to meta, not oauth2" in run.err
    with pytest.raises(
        deployed.sm.exceptions.ResourceNotFoundException, match="ResourceNotFoundException"
    ):
        deployed.sm.describe_secret(SecretId=name)
    assert foreign_server.requests() == []
    assert fake_providers.requests() == []
