"""The operator CLI against the deployed stack: onboard -> status -> rotate -> status, bad input.

The CLI runs in this process (``main(argv)``) with AWS pointed at LocalStack through the usual
environment variables, and once as the installed console script.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import E2E_STACK, Deployed
from tests.support import stack
from tests.support.cli import CliRun, assert_no_secrets, run_cli
from tests.support.fake_providers import FakeProviders

pytestmark = pytest.mark.e2e

CONSOLE_SCRIPT = stack.REPO_ROOT / ".venv" / "bin" / "token-refresher"


@pytest.fixture
def cli_env(
    deployed: Deployed, fake_providers: FakeProviders, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """boto3's default session aimed at LocalStack; provider calls aimed at the fake providers."""
    for key, value in stack.aws_environment(deployed.endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TOKEN_REFRESHER_STACK", E2E_STACK)
    return {"PROVIDER_ENDPOINTS": stack.provider_endpoints(fake_providers.endpoints())}


@pytest.fixture
def connection_name(deployed: Deployed) -> Iterator[Callable[[str], str]]:
    """Unique secret names for onboarding; whatever got created is force-deleted afterwards."""
    names: list[str] = []

    def make(provider: str) -> str:
        names.append(f"tr-e2e/cli/{provider}-{uuid.uuid4().hex[:10]}")
        return names[-1]

    yield make
    for name in names:
        with contextlib.suppress(deployed.sm.exceptions.ResourceNotFoundException):
            deployed.sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def _row(run: CliRun, name: str) -> dict[str, object]:
    rows = json.loads(run.out)
    return next(r for r in rows if r["connection"] == name)


def _exists(deployed: Deployed, name: str) -> bool:
    try:
        deployed.sm.describe_secret(SecretId=name)
    except deployed.sm.exceptions.ResourceNotFoundException:
        return False
    return True


def test_onboard_status_rotate_status_for_a_meta_connection(
    deployed, fake_providers, make_app, cli_env, connection_name
):
    # Given a Meta app in the stack's app prefix and a short-lived token from the login flow
    app_id = make_app("meta", "777000111", "meta-app-secret-cli-0001")
    fake_providers.register_app("meta", "777000111", "meta-app-secret-cli-0001")
    short = "EAAFake-cli-short-lived-0001"
    fake_providers.seed("meta", access_token=short, expires_in=3600, scopes=["ads_read"])
    name = connection_name("meta")

    # When it is onboarded with the token on stdin
    onboarded = run_cli(
        ["onboard", "meta", "--name", name, "--app-secret-id", app_id, "--option", "x=1"],
        stdin=short + "\n",
        env=cli_env,
    )

    # Then the secret holds a long-lived token (exchanged once), tagged for the sweep, rotation on
    assert onboarded.code == 0, onboarded.err
    doc = stack.current_document(deployed.sm, name)
    long_lived = doc["access_token"]
    assert doc["schema"] == 1
    assert doc["kind"] == "user_long_lived"
    assert long_lived != short
    assert fake_providers.is_valid(long_lived)
    expires = datetime.fromisoformat(doc["expires_at"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) > timedelta(days=59)
    assert doc["options"] == {"x": "1"}
    tags = stack.tags_of(deployed.sm, name)
    assert tags["token-refresher:managed"] == "true"
    assert tags["token-refresher:instance"] == E2E_STACK  # the stack's InstanceName output
    assert tags["token-refresher:provider"] == "meta"
    assert tags["token-refresher:expires-at"] == str(int(expires.timestamp()))
    described = deployed.sm.describe_secret(SecretId=name)
    # (onboard makes no RotateSecret: the app-credential owner may not rotate; the sweep
    # attaches the rotation function with the first rotation it starts)
    assert not described.get("RotationEnabled")
    routes = [r.route for r in fake_providers.requests("meta")]
    assert routes.count("exchange") == 1

    # When status is asked for, as JSON
    first = run_cli(["status", "--json", "--provider", "meta"], env=cli_env)
    # Then the connection is listed ok, and the exit code matches whether any row needs a human
    row = _row(first, name)
    assert row["state"] == "ok"
    assert row["needs_attention"] is False
    assert row["expires_at"] == doc["expires_at"]
    rows = json.loads(first.out)
    assert first.code == (2 if any(r["needs_attention"] for r in rows) else 0)

    # When a dry run is asked without --force (onboarding counts as a rotation just now)
    dry = run_cli(["rotate", name, "--dry-run"], env=cli_env)
    # Then the sweep's report says it would be skipped by the 10-minute guard, and nothing moved
    assert dry.code == 0, dry.err
    assert f"would skip    {described['ARN']}: rotated less than 10 minutes ago" in dry.out
    assert stack.current_document(deployed.sm, name)["access_token"] == long_lived

    # When a forced rotation is requested (PutEvents -> rule -> sweep -> RotateSecret -> rotation)
    rotated = run_cli(["rotate", name, "--force", "--reason", "cli e2e"], env=cli_env)
    assert rotated.code == 0, rotated.err
    # Then the token is re-exchanged and the state tags are rewritten
    new_doc = stack.wait_for(
        lambda: (
            (d := stack.current_document(deployed.sm, name))["access_token"] != long_lived and d
        ),
        timeout=60,
        what="the CLI-requested rotation",
    )
    assert fake_providers.is_valid(new_doc["access_token"])
    after = run_cli(["status", "--json", "--provider", "meta"], env=cli_env)
    row_after = _row(after, name)
    assert row_after["state"] == "ok"
    assert row_after["last_rotated_at"] >= row["last_rotated_at"]
    assert row_after["expires_at"] == new_doc["expires_at"]

    # And no token or app secret was ever printed
    assert_no_secrets(
        [onboarded, first, dry, rotated, after],
        [short, long_lived, new_doc["access_token"], "meta-app-secret-cli-0001"],
    )


def test_onboard_microsoft_stores_the_rotated_refresh_token_and_check_passes(
    deployed, fake_providers, make_app, cli_env, connection_name
):
    # Given a Microsoft refresh token (Microsoft rotates it on every refresh)
    app_id = make_app("microsoft", "ms-cli-client", "ms-cli-client-secret-0001")
    fake_providers.seed("microsoft", refresh_token="M.C5-cli-refresh-0001")
    name = connection_name("microsoft_ads")
    # When it is onboarded with the rotation function given by ARN
    run = run_cli(
        [
            "onboard",
            "microsoft_ads",
            "--name",
            name,
            "--app-secret-id",
            app_id,
            "--rotation-lambda-arn",
            deployed.rotation_arn,
            "--instance",  # no stack lookup with an ARN: the instance is named too
            E2E_STACK,
        ],
        stdin="M.C5-cli-refresh-0001",
        env=cli_env,
    )
    # Then what came back is stored: the new refresh token works, the pasted one is dead
    assert run.code == 0, run.err
    doc = stack.current_document(deployed.sm, name)
    assert doc["refresh_token"] != "M.C5-cli-refresh-0001"
    assert fake_providers.is_valid(doc["refresh_token"], "refresh")
    assert not fake_providers.is_valid("M.C5-cli-refresh-0001", "refresh")
    assert stack.tags_of(deployed.sm, name)["token-refresher:kind"] == "refresh_token"
    # And the installed console script's `check` validates it without rotating
    before = deployed.sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    script = subprocess.run(
        [str(CONSOLE_SCRIPT), "check", name],
        env=os.environ | cli_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert script.returncode == 0, script.stderr
    assert script.stdout.startswith(f"ok    {name} (microsoft_ads): valid")
    assert deployed.sm.describe_secret(SecretId=name)["VersionIdsToStages"] == before
    assert_no_secrets(
        [run, CliRun(script.returncode, script.stdout, script.stderr)],
        [
            "M.C5-cli-refresh-0001",
            doc["refresh_token"],
            doc["access_token"],
            "ms-cli-client-secret",
        ],
    )


def test_onboard_refuses_an_unknown_provider_and_lists_the_known_ones(
    deployed, fake_providers, make_app, cli_env, connection_name
):
    # Given a provider name with a typo
    name = connection_name("metta")
    # When onboarding is attempted
    run = run_cli(
        ["onboard", "metta", "--name", name, "--app-secret-id", make_app("meta", "1", "s" * 12)],
        stdin="EAAFake-never-used-0001",
        env=cli_env,
    )
    # Then it fails naming the known providers, and nothing was called or created
    assert run.code == 1
    assert "unknown provider 'metta'" in run.err
    assert "meta, meta_system_user, microsoft_ads" in run.err
    assert not _exists(deployed, name)
    assert fake_providers.requests() == []


def test_onboard_refuses_a_missing_app_secret_before_reading_the_token(
    deployed, fake_providers, cli_env, connection_name
):
    # Given an app secret id that does not exist
    name = connection_name("google_ads")
    missing = f"token-refresher/apps/missing-{uuid.uuid4().hex[:6]}"
    # When onboarding is attempted
    run = run_cli(
        ["onboard", "google_ads", "--name", name, "--app-secret-id", missing],
        stdin="1//0g-never-used-0001",
        env=cli_env,
    )
    # Then the error names the app secret and says it must exist and be readable
    assert run.code == 1
    assert f"app secret '{missing}' not found" in run.err
    assert "must exist and be readable" in run.err
    assert not _exists(deployed, name)
    assert fake_providers.requests() == []


def test_onboard_with_an_expired_short_lived_meta_token_says_to_get_a_fresh_one(
    deployed, fake_providers, make_app, cli_env, connection_name
):
    # Given a short-lived Meta token that expired already
    app_id = make_app("meta", "777000222", "meta-app-secret-cli-0002")
    fake_providers.seed("meta", access_token="EAAFake-cli-expired-0002", expires_in=-60)
    name = connection_name("meta")
    # When it is onboarded
    run = run_cli(
        ["onboard", "meta", "--name", name, "--app-secret-id", app_id],
        stdin="EAAFake-cli-expired-0002\n",
        env=cli_env,
    )
    # Then the error says it expired and where to get a fresh one; nothing is stored
    assert run.code == 1
    assert "has expired (Graph error 190/463)" in run.err
    assert "Graph API Explorer" in run.err
    assert not _exists(deployed, name)
    assert_no_secrets([run], ["EAAFake-cli-expired-0002", "meta-app-secret-cli-0002"])


def test_check_names_the_bad_field_of_a_malformed_secret(
    deployed, fake_providers, make_secret, make_app, cli_env
):
    # Given a managed secret whose expires_at is not a timestamp
    arn = make_secret(
        {
            "schema": 1,
            "provider": "google_ads",
            "refresh_token": "1//0g-cli-malformed-0003",
            "expires_at": "next tuesday",
            "app_secret_id": make_app("google", "g-cli", "g-cli-secret-0003"),
        }
    )
    # When it is checked
    run = run_cli(["check", arn], env=cli_env)
    # Then the field is named, the value is not echoed, and no provider was called
    assert run.code == 1
    assert "expires_at: is not an ISO-8601 timestamp" in run.out
    assert "next tuesday" not in run.text
    assert fake_providers.requests() == []
    assert_no_secrets([run], ["1//0g-cli-malformed-0003"])
