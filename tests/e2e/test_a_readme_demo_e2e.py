"""The README's LocalStack commands, run as written against the demo stack that `make demo` deploys.

The module runs `tools/demo.py` (what `make demo` runs once the stack is built and LocalStack is
up) on this session's LocalStack, with the fake provider server on a free port. Then every command
in the README's "Manual rotation and the events/ files" table and its CLI table is parsed out of
README.md and run as a subprocess, with the environment of the README's own `export` line (the
port swapped for this session's). The demo stack and its connections are deleted afterwards.

The file name sorts first among the e2e files, so that the demo runs on a quiet LocalStack. Other
stacks no longer interfere (each answers only events addressed to its instance, and its sweep
lists only its instance's secrets: tests/e2e/test_instances_e2e.py), but the demo's timings and
the README's `status` output are easier to read alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import authz, doc_commands, stack

pytestmark = pytest.mark.e2e

README = stack.REPO_ROOT / "README.md"
DEMO_STACK = "token-refresher"
META = "token-refresher/connections/meta-demo"
MICROSOFT = "token-refresher/connections/microsoft-demo"
GOOGLE = "token-refresher/connections/google-revoked-demo"
DEMO_SECRETS = (
    META,
    MICROSOFT,
    GOOGLE,
    "token-refresher/apps/demo-meta",
    "token-refresher/apps/demo-microsoft",
    "token-refresher/apps/demo-google",
)
DEMO_QUEUE = "token-refresher-demo-alerts"


# --- the README, parsed ---------------------------------------------------------------------------


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def table_commands(text: str, programs: tuple[str, ...]) -> list[str]:
    """The backticked commands, starting with one of ``programs``, in a markdown table's rows."""
    commands = []
    for line in text.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        for code in re.findall(r"`([^`]+)`", line):
            if code.split(" ", 1)[0] in programs:
                commands.append(code)
    return commands


def readme_environment(endpoint: str) -> dict[str, str]:
    """The variables of the section's `export` line, pointed at this session's LocalStack."""
    [line] = [
        ln
        for ln in section("Manual rotation and the events/ files").splitlines()
        if ln.startswith("export ")
    ]
    env = dict(pair.split("=", 1) for pair in shlex.split(line)[1:])
    documented = urlsplit(env["AWS_ENDPOINT_URL"])
    assert documented.hostname == "127.0.0.1", "the README's endpoint is not LocalStack's"
    env["AWS_ENDPOINT_URL"] = endpoint
    return env


MANUAL = table_commands(section("Manual rotation and the events/ files"), ("aws", "sam"))
CLI = [
    re.sub(r"\s*\[[^\]]*\]", "", c)  # `status [--json]`: the synopsis' optional parts left out
    for c in table_commands(section("CLI"), ("token-refresher",))
    # onboard reads a real token from stdin; connect creates a secret (tests/e2e/test_connect_*)
    if not c.startswith(("token-refresher onboard", "token-refresher connect"))
]


def test_the_readme_tables_were_found():
    # Guards the parsing itself: an empty list would make the tests below vacuous
    assert len(MANUAL) >= 8, MANUAL
    assert any(c.startswith("sam remote invoke") for c in MANUAL)
    assert any(c.startswith("token-refresher check") for c in CLI), CLI


# --- the demo stack -------------------------------------------------------------------------------


@dataclass
class Demo:
    endpoint: str
    outputs: dict[str, str]
    env: dict[str, str]
    workdir: Path
    sm: Any
    sqs: Any
    summary: str

    def run(self, command: str, **substitutions: str) -> subprocess.CompletedProcess[str]:
        """One documented command, placeholders filled from the stack outputs."""
        argv = shlex.split(doc_commands.fill(command, self.outputs | substitutions))
        return doc_commands.run(
            [str(doc_commands.program(argv[0])), *argv[1:]],
            env=self.env,
            cwd=self.workdir,
            timeout=180,
            cli=argv[1:] if argv[0] == doc_commands.CLI else None,
        )

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert published to the demo's topic until now (a marker closes the read)."""
        url = self.sqs.get_queue_url(QueueName=DEMO_QUEUE)["QueueUrl"]
        sns = stack.client("sns", self.endpoint)
        return stack.AlertInbox(sns, self.sqs, self.outputs["AlertTopicArn"], url).settled()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo(localstack_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    stack.build()
    env = os.environ | {
        "LOCALSTACK_PORT": str(urlsplit(localstack_endpoint).port),
        "TR_FAKE_PORT": str(_free_port()),
    }
    demo_py = [sys.executable, str(stack.REPO_ROOT / "tools" / "demo.py")]
    try:
        made = subprocess.run(  # nosec B603 # our own script
            demo_py,
            cwd=stack.REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        # The README's commands write out.json and read events/ relative to where they run
        workdir = tmp_path_factory.mktemp("readme")
        (workdir / "events").symlink_to(stack.REPO_ROOT / "events")
        base = doc_commands.environment(drop=("AWS_",))
        outputs = stack.outputs(localstack_endpoint, DEMO_STACK)
        if authz.recording():  # tools/demo.py deployed it: its policies, for the evaluation
            authz.snapshot(localstack_endpoint, DEMO_STACK, outputs)
        yield Demo(
            localstack_endpoint,
            outputs,
            base | readme_environment(localstack_endpoint),
            workdir,
            stack.client("secretsmanager", localstack_endpoint),
            stack.client("sqs", localstack_endpoint),
            made.stdout,
        )
    finally:
        subprocess.run(  # nosec B603 # our own script
            [*demo_py, "stop-fake"], cwd=stack.REPO_ROOT, env=env, timeout=30, check=False
        )
        stack.delete(localstack_endpoint, DEMO_STACK)
        sm = stack.client("secretsmanager", localstack_endpoint)
        for name in DEMO_SECRETS:
            with contextlib.suppress(sm.exceptions.ResourceNotFoundException):
                sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def state_tags(demo: Demo) -> dict[str, str]:
    """The tags a failure would change (a rotation still finishing may move expiry tags)."""
    keys = ("status", "consecutive-failures", "last-error-class", "last-alert-at")
    tags = stack.tags_of(demo.sm, META)
    return {k: tags.get(f"token-refresher:{k}", "") for k in keys}


def out_json(demo: Demo) -> dict[str, Any]:
    path = demo.workdir / "out.json"
    body = json.loads(path.read_text())
    path.unlink()
    return dict(body)


# --- check, after make demo -----------------------------------------------------------------------


def google_reconnected(demo: Any) -> bool:
    """`make demo` reconnects the revoked Google connection when Chromium is installed."""
    return stack.tags_of(demo.sm, GOOGLE).get("token-refresher:connect-nonce") == "used"


def test_check_after_make_demo_reports_both_demo_connections(demo):
    # Given the demo stack and its connections, and no provider endpoint set on this machine
    assert "PROVIDER_ENDPOINTS" not in demo.env
    # When `token-refresher check` runs as the README shows, for every demo connection
    run = demo.run(f"token-refresher check {META} {MICROSOFT} {GOOGLE}")
    # Then the check ran inside the stack, through its ProviderEndpoints (the fake providers)
    assert "checking inside the stack" in run.stderr
    assert re.search(rf"^ok    {META} \(meta\): valid \(debug_token\); expires ", run.stdout, re.M)
    assert re.search(rf"^ok    {MICROSOFT} \(microsoft_ads\): valid", run.stdout, re.M)
    # And the Google connection whose grant was revoked is reported as needing a human, not as
    # unreachable; unless the demo reconnected it through its alert's consent link (Chromium)
    if google_reconnected(demo):
        assert re.search(rf"^ok    {GOOGLE} \(google_ads\): valid", run.stdout, re.M)
        assert run.returncode == 0
    else:
        assert f"FAIL  {GOOGLE}: google_ads reports the token invalid" in run.stdout
        assert run.returncode == 1
    assert "unavailable" not in run.stdout
    # And no token reached the output
    for name in (META, MICROSOFT, GOOGLE):
        document = stack.current_document(demo.sm, name)
        for key in ("access_token", "refresh_token"):
            if document.get(key):
                assert document[key] not in run.stdout + run.stderr


def test_step_by_hand_with_the_shipped_placeholder_is_refused_quietly(demo):
    # Given the demo's Meta connection, its tags, and an empty alert queue
    demo.alerts()
    tags_before = state_tags(demo)
    # When the documented `sam remote invoke` runs with step.json = the shipped events file
    shutil.copy(
        stack.REPO_ROOT / "events" / "rotation-create-secret.json", demo.workdir / "step.json"
    )
    [command] = [c for c in MANUAL if c.startswith("sam remote invoke")]
    run = demo.run(command)
    # Then the step is refused with the way to find the pending id, and nothing changed
    assert run.returncode == 0, run.stdout + run.stderr
    assert '"outcome": "refused"' in run.stdout
    assert "--query VersionIdsToStages" in run.stdout
    assert state_tags(demo) == tags_before
    assert [a["alert"]["event"] for a in demo.alerts()] == []


# --- the README's commands ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [c for c in MANUAL if not c.startswith("sam ")])
def test_readme_aws_command_runs(demo, command):
    # When a documented `aws` command runs as written
    run = demo.run(command)
    # Then it succeeds, and a function it invokes did not fail
    assert run.returncode == 0, run.stdout + run.stderr
    if " lambda invoke " in f" {command} ":
        assert "FunctionError" not in run.stdout, run.stdout
        body = out_json(demo)
        assert "errorMessage" not in body, body
        if "check-connection.json" in command:
            assert (body["ok"], body["provider"]) == (True, "meta"), body
        elif "manual-adopt-untagged.json" in command:  # adoption only: nothing to scan
            assert (body["adopted"], body["errors"]) == ([], []), body  # the demo's are owned
        elif "alarm-sweep-not-running.json" in command:  # the alarm relay's published alert
            assert (body["event"], body["severity"]) == ("alarm.sweep_not_running", "critical")
        else:
            assert "scanned" in body, body  # a sweep report
        if "manual-rotate-one-forced.json" in command or "manual-dry-run-all.json" in command:
            listed = [i["secret_id"] for i in body["would_rotate"] + body["skipped"]]
            listed += body["started"]
            assert any("meta-demo" in i for i in listed), body
        if "sweep-scheduled.json" in command:
            assert body["scanned"] >= 3, body  # the demo's connections at least
    if "put-events" in command:
        assert json.loads(run.stdout)["FailedEntryCount"] == 0


def test_dry_run_through_eventbridge_logs_one_verdict_per_secret(demo):
    # Given the documented dry-run event (provider meta) and the command that reads its report
    [send] = [c for c in MANUAL if "put-events-dry-run.json" in c]
    [read] = [c for c in MANUAL if "filter-log-events" in c]

    def verdicts() -> list[dict[str, Any]]:
        run = demo.run(read)
        assert run.returncode == 0, run.stderr
        messages = [e["message"] for e in json.loads(run.stdout)["events"]]
        lines = [json.loads(m) for m in messages if m.startswith("{")]
        return [
            line
            for line in lines
            if line.get("message") == "dry run verdict" and "meta-demo" in line["secret_id"]
        ]

    before = len(verdicts())
    # When the event is sent
    assert demo.run(send).returncode == 0
    # Then the sweep's log gains a verdict line for the Meta connection, with its reason
    found = stack.wait_for(
        lambda: verdicts()[before:],
        timeout=60,
        interval=2,
        what="the dry-run verdict line",
    )
    assert found[0]["verdict"] in ("would_rotate", "would_skip")
    assert found[0]["reason"]


@pytest.mark.parametrize("command", CLI)
def test_readme_cli_command_runs(demo, command):
    run = demo.run(command)
    # status exits 2 while the demo's revoked Google connection needs a human (0 once the demo
    # reconnected it through the consent link)
    needs_human = 0 if google_reconnected(demo) else 2
    expected = {"status": needs_human}.get(shlex.split(command)[1], 0)
    assert run.returncode == expected, run.stdout + run.stderr
