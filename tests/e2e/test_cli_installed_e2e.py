"""The installed `token-refresher` command, on Python 3.11 and 3.13, against the deployed stack.

3.11 runs the `make dist` wheel installed in .venv-py311 (`make cli-py311`); 3.13 runs the command
`make venv` installs in .venv. This module asks make for both (a no-op when they are up to date).
Each is a separate process with AWS aimed at LocalStack through the usual environment variables.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.e2e.conftest import E2E_STACK, Deployed
from tests.support import authz, stack
from tests.support.cli import CliRun, assert_no_secrets

pytestmark = pytest.mark.e2e

SCRIPTS = {
    "3.11": stack.REPO_ROOT / ".venv-py311" / "bin" / "token-refresher",
    "3.13": stack.REPO_ROOT / ".venv" / "bin" / "token-refresher",
}
REFRESH = "1//0g-installed-cli-refresh-0001"
APP_SECRET = "g-installed-cli-secret-0001"


@pytest.fixture(scope="module")
def installed() -> None:
    """Both commands, current: the 3.11 venv's wheel and .venv's editable install (re)made."""
    targets = [str(SCRIPTS["3.13"].relative_to(stack.REPO_ROOT)), "cli-py311"]
    made = subprocess.run(
        ["make", "--no-print-directory", *targets],
        cwd=stack.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert made.returncode == 0, f"make {' '.join(targets)} failed:\n{made.stdout}\n{made.stderr}"


@pytest.fixture
def command(deployed: Deployed, installed: None) -> Callable[..., Callable[..., CliRun]]:
    env = os.environ | stack.aws_environment(deployed.endpoint)
    env["TOKEN_REFRESHER_STACK"] = E2E_STACK
    env.pop("PYTHONPATH", None)  # the installed package only, not the clone

    def for_python(version: str) -> Callable[..., CliRun]:
        def run(*argv: str) -> CliRun:
            done = subprocess.run(
                [str(SCRIPTS[version]), *argv],
                env=env | authz.subprocess_env(argv, env),  # its calls evaluated at session end
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            return CliRun(done.returncode, done.stdout, done.stderr)

        return run

    return for_python


def _row(run: CliRun, name: str) -> dict[str, object]:
    return next(r for r in json.loads(run.out) if r["connection"] == name)


def _current_version(deployed: Deployed, arn: str) -> str:
    stages = deployed.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    return next(v for v, labels in stages.items() if "AWSCURRENT" in labels)


@pytest.mark.parametrize("python", ["3.11", "3.13"])
def test_installed_command_shows_status_and_rotates_a_connection(
    python, command, deployed, fake_providers, make_secret, make_app
):
    cli = command(python)
    # Given a managed Google Ads connection, rotated just now, that the fake provider can refresh
    fake_providers.seed("google", refresh_token=REFRESH)
    arn = make_secret(
        {
            "schema": 1,
            "provider": "google_ads",
            "access_token": "ya29.installed-cli-access-0001",
            "refresh_token": REFRESH,
            "expires_at": stack.iso_in(timedelta(minutes=30)),
            "app_secret_id": make_app("google", "g-installed-cli", APP_SECRET),
        }
    )
    name = deployed.sm.describe_secret(SecretId=arn)["Name"]
    before = _current_version(deployed, arn)

    # When the installed command is asked its version
    version = cli("--version")
    # Then it is the Python this case is about
    assert version.code == 0, version.err
    assert version.out.startswith("token-refresher ")
    assert f"(Python {python}." in version.out

    # When status is asked for, as JSON
    first = cli("status", "--json", "--provider", "google_ads")
    # Then the connection is listed, and the exit code matches whether any row needs a human
    row = _row(first, name)
    assert row["needs_attention"] is False
    rows = json.loads(first.out)
    assert first.code == (2 if any(r["needs_attention"] for r in rows) else 0), first.err

    # When a forced rotation is requested (PutEvents -> rule -> sweep -> RotateSecret -> rotation)
    rotated = cli("rotate", name, "--force", "--reason", f"installed cli on {python}")
    assert rotated.code == 0, rotated.err
    # Then the secret gets a new version with a token the provider issued
    stack.wait_for(
        lambda: _current_version(deployed, arn) != before,
        timeout=60,
        what=f"the rotation requested by the Python {python} command",
    )
    doc = stack.current_document(deployed.sm, arn)
    assert doc["access_token"] != "ya29.installed-cli-access-0001"
    assert fake_providers.is_valid(doc["access_token"])

    # And status shows the connection ok with the new expiry (once finishSecret wrote the tags)
    runs: list[CliRun] = []

    def status_row() -> dict[str, object] | None:
        runs.append(cli("status", "--json", "--provider", "google_ads"))
        row = _row(runs[-1], name)
        return row if row["expires_at"] == doc["expires_at"] else None

    row_after = stack.wait_for(status_row, timeout=30, interval=1, what="the new expiry in status")
    assert row_after["state"] == "ok"
    assert_no_secrets([version, first, rotated, *runs], [REFRESH, doc["access_token"], APP_SECRET])
