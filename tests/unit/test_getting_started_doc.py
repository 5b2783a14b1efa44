"""docs/getting-started-aws.md as the e2e walk reads it (tests/support/walk.py): every block is
run or says why not, the walk has the steps a new deployment needs in their order, and the
placeholders of the run blocks are ones the e2e test fills in."""

from __future__ import annotations

import re

import pytest

from tests.support import walk

pytestmark = pytest.mark.unit

# What tests/e2e/test_getting_started_aws_e2e.py fills in (besides `<Name output>`).
FILLED = {"<AccountId>", "<your team's address>", "<client id>", "<client secret>"}


def test_every_block_is_run_or_says_why_not():
    steps = walk.steps()
    assert len(steps) >= 12
    for step in steps:
        assert step.run or len(step.reason) > 10, step
    # only the clone and the interactive deploy are not run
    assert [s.script.split()[0:2] for s in steps if not s.run] == [
        ["git", "clone"],
        ["sam", "deploy"],
    ]


def test_the_walk_has_every_step_in_order():
    text = "\n".join(s.script for s in walk.steps())
    order = [
        "sam --version",
        "sam build",
        "sam deploy --guided",
        "sam deploy --stack-name",
        "aws sns list-subscriptions-by-topic",
        "aws cloudformation describe-stacks",
        "aws secretsmanager create-secret --name token-refresher/apps/",
        "pipx install .",
        "token-refresher connect",
        "token-refresher status",
        "aws secretsmanager get-secret-value",
        "sam delete",
        "aws logs delete-log-group",
    ]
    positions = [text.find(command) for command in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)


def test_the_production_values_of_the_deploy_are_named():
    [deploy] = [s for s in walk.steps() if s.script.startswith("sam deploy --stack-name")]
    for parameter in ("RequestPrincipals", "ConnectReservedConcurrency=2", "SweepRateMinutes=15"):
        assert parameter in deploy.script
    assert "AlertEmail=" in deploy.script
    assert "KmsKeyArn" in walk.DOC.read_text()


def test_run_blocks_use_only_placeholders_the_walk_fills_in():
    for step in walk.steps():
        if step.run:
            left = {p for p in walk.placeholders(step.script) if not p.endswith(" output>")}
            assert left <= FILLED, (step.line, left)


def test_console_steps_are_marked_and_the_consent_is_one_of_them():
    markers = walk.console_markers()
    assert any("consent" in m for m in markers), markers
    assert all(re.match(r"console \(not run\): ", m) for m in markers), markers
