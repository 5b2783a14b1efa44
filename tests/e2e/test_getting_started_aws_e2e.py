"""docs/getting-started-aws.md, walked in order against LocalStack: every bash block the doc does
not mark "not run" is executed as written, one `bash` per block, from the repository root.

What LocalStack needs is applied here, not written in the doc: `sam` is `samlocal` (and the
deploy also gets ProviderEndpoints, pointing at the fake platforms, and TracingDisabled=true);
RequestPrincipals is left out of the deploy (LocalStack cannot update or delete a stack with that
list parameter set: docs/aws-parity.md; the bus policy it makes is evaluated from the template in
tests/unit/test_authorization_matrix.py); the AWS variables aim at this session's LocalStack;
`pipx install .` stands for the checkout's own install of the same package (.venv; the installed
wheel is tests/e2e/test_cli_installed_e2e.py); the placeholders get test values (`<Name output>`:
the stack's outputs). The console step that matters, the account owner's consent, is done in
headless Chromium at the fake Google.

The stack is `token-refresher`, as in the doc; test_a_readme_demo_e2e.py, which deploys a stack of
that name too, deletes it when its module ends, before this one starts.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import authz, doc_commands, stack, walk
from tests.support import browser as chromium_support
from tests.support.browser import Browser, chromium
from tests.support.fake_providers import FakeProviders
from tests.support.leaks import SCANNER

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not chromium_support.available(), reason="run `make browser` first"),
]

STACK = "token-refresher"
CONNECTION = "token-refresher/connections/acme-google"
APP = "token-refresher/apps/token-refresher/google-main"  # the instance is the stack name
CLIENT_SECRET = "g-walk-client-secret-0001"  # a fake platform's value, scanned for leaks
FILLED = {
    "<AccountId>": "000000000000",
    "<your team's address>": "alerts@example.com",
    "<client id>": "g-walk-client",
    "<client secret>": CLIENT_SECRET,
}
# What the doc's `sam` and `pipx` mean on LocalStack (see the module docstring).
PRELUDE = r"""
set -euo pipefail
sam() {
  if [ "${1:-}" = deploy ]; then
    shift
    local args=()
    for arg in "$@"; do
      # LocalStack cannot update or delete a stack whose CommaDelimitedList parameter is set:
      # the template's condition on it fails there (docs/aws-parity.md), so it is left out
      case "$arg" in RequestPrincipals=*) continue ;; esac
      args+=("$arg")
      if [ "$arg" = --parameter-overrides ]; then
        args+=("ProviderEndpoints=$TR_WALK_ENDPOINTS" TracingDisabled=true)
      fi
    done
    "$TR_WALK_SAMLOCAL" deploy "${args[@]}"
  else
    "$TR_WALK_SAMLOCAL" "$@"
  fi
}
pipx() {
  if [ "$*" = "install ." ]; then
    echo "token-refresher: the checkout's install (.venv) stands for pipx here"
  else
    command pipx "$@"
  fi
}
"""


def python313_dir() -> str:
    """Where python3.13 is, as the Makefile finds it (pyenv first): `sam build` needs it."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(f"{root}/versions/3.13*/bin/python"))
    if found:
        return str(Path(found[-1]).parent)
    on_path = shutil.which("python3.13")
    assert on_path, "Python 3.13 is needed by `sam build`"
    return str(Path(on_path).parent)


def environment(endpoint: str, fake: FakeProviders) -> dict[str, str]:
    root = stack.REPO_ROOT
    return (
        doc_commands.environment(drop=("AWS_", "TOKEN_REFRESHER"))
        | stack.aws_environment(endpoint)
        | {
            "PATH": doc_commands.search_path(python313_dir()),
            # the CLI runs this checkout's code, whatever .venv's editable install points at
            "PYTHONPATH": os.pathsep.join(
                [str(root / "layers" / "core" / "python"), str(root / "cli")]
            ),
            "SAM_CLI_TELEMETRY": "0",
            "TR_WALK_SAMLOCAL": str(stack.SAMLOCAL),
            "TR_WALK_ENDPOINTS": stack.provider_endpoints(fake.endpoints()),
        }
    )


def fill(script: str, outputs: dict[str, str]) -> str:
    script = doc_commands.fill(doc_commands.fill(script, FILLED, "{}"), outputs, "<{} output>")
    left = walk.placeholders(script)
    assert not left, f"the walk cannot fill in {left} (outputs: {sorted(outputs)})"
    return script


def run_block(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return doc_commands.run(
        [bash, "-c", PRELUDE + script], env=env, timeout=900, cli=doc_commands.cli_args(script)
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def clean(localstack_endpoint: str) -> Iterator[None]:
    """The walk's stack and secrets are gone before and after (its own teardown deletes them
    with a recovery window; these are force-deleted so that a next run can create them again)."""
    sm = stack.client("secretsmanager", localstack_endpoint)

    def remove() -> None:
        with contextlib.suppress(Exception):
            stack.delete(localstack_endpoint, STACK)
        for name in (CONNECTION, APP):
            with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
                sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)

    remove()
    yield
    remove()


def test_the_getting_started_walk_runs_in_order(
    localstack_endpoint: str, fake_providers: FakeProviders, browser: Browser, clean: None
) -> None:
    SCANNER.add_secrets(CLIENT_SECRET)
    env = environment(localstack_endpoint, fake_providers)
    outputs: dict[str, str] = {}
    timings: list[tuple[int, float]] = []
    ran: list[str] = []
    for step in walk.steps():
        if not step.run:
            continue
        started = time.monotonic()
        # When the block runs as written (LocalStack's substitutions applied)
        result = run_block(fill(step.script, outputs), env)
        timings.append((step.line, round(time.monotonic() - started, 1)))
        # Then it succeeds
        assert result.returncode == 0, (
            f"docs/getting-started-aws.md:{step.line} failed ({result.returncode}):\n"
            f"{step.script}\n--- stdout\n{result.stdout[-3000:]}\n"
            f"--- stderr\n{result.stderr[-3000:]}"
        )
        ran.append(step.script.split("\n", 1)[0])
        after_step(step.script, result, outputs, localstack_endpoint, browser)
    # And every run block ran, the teardown last: the stack and the walk's secrets are gone
    assert len(ran) == len([s for s in walk.steps() if s.run])
    assert ran[-1].startswith("aws secretsmanager delete-secret"), ran
    assert _stack_gone(localstack_endpoint)
    # and so is the incident bucket the stack kept (the teardown's `aws s3 rb`)
    assert not _bucket_exists(localstack_endpoint, outputs["IncidentBucketName"])
    print(f"getting-started walk: {len(ran)} blocks, seconds per block (doc line): {timings}")


def after_step(
    script: str,
    result: subprocess.CompletedProcess[str],
    outputs: dict[str, str],
    endpoint: str,
    browser: Browser,
) -> None:
    """What each step must have shown, and the stand-in for the console step after `connect`."""
    if script.startswith("sam deploy"):
        assert "Successfully created/updated stack - token-refresher" in result.stdout
        outputs.update(stack.outputs(endpoint, STACK))
        if authz.recording():
            authz.snapshot(endpoint, STACK, outputs)  # its functions' calls evaluated as its roles
    elif script.startswith("aws cloudformation describe-stacks"):
        for key in ("ConnectUrl", "InstanceName", "AlertTopicArn"):
            assert key in result.stdout
    elif script.startswith("aws sns list-subscriptions-by-topic"):
        assert "alerts@example.com" in result.stdout
    elif script.startswith("token-refresher connect"):
        [link] = [ln for ln in result.stdout.splitlines() if ln.startswith(outputs["ConnectUrl"])]
        assert f"{outputs['ConnectUrl']}callback/google_ads" in result.stderr
        # The account owner opens the link and allows, at the fake Google
        browser.consent(link, shot="walk-consent")
        assert "Connected" in browser.text, browser.text
    elif script.startswith("token-refresher status"):
        assert re.search(r"\bok\b", _line_of(result.stdout, CONNECTION)), result.stdout
        assert re.search(
            rf"^ok +{re.escape(CONNECTION)} \(google_ads\): valid", result.stdout, re.M
        )
    elif script.startswith("aws secretsmanager get-secret-value"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n", result.stdout), result.stdout
    _no_secret_in(result)


def _line_of(text: str, name: str) -> str:
    found = [line for line in text.splitlines() if name in line]
    assert found, text
    return found[0]


def _no_secret_in(result: subprocess.CompletedProcess[str]) -> None:
    assert CLIENT_SECRET not in result.stdout + result.stderr


def _bucket_exists(endpoint: str, name: str) -> bool:
    s3 = stack.client("s3", endpoint)
    try:
        s3.head_bucket(Bucket=name)
    except s3.exceptions.ClientError:
        return False
    return True


def _stack_gone(endpoint: str) -> bool:
    cfn = stack.client("cloudformation", endpoint)
    try:
        status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError:
        return True
    return bool(status == "DELETE_COMPLETE")
