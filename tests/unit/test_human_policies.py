"""docs/policies/*.json are the documented human roles' policies, and docs/security.md points to
them instead of copying them: every statement a file has is named in its row of the doc, every
statement the doc names is in the file, every CLI command runs as one documented role, and the
files use only the placeholders the doc explains."""

from __future__ import annotations

import json
import re

import pytest

from tests.support import authz
from token_refresher_cli.app import build_parser

pytestmark = pytest.mark.unit

DOC = authz.REPO_ROOT / "docs" / "security.md"
PLACEHOLDERS = {
    "<AccountId>",
    "<Region>",
    "<InstanceName>",
    "<StackName>",
    "<ConnectionPrefix>",
    "<AppSecretPrefix>",
}


def doc_row(role: str) -> str:
    """The role's row of the policy table (its file's link in the second column)."""
    link = f"[{role}.json](policies/{role}.json)"
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    [row] = [r for r in rows if r.split("|")[2].strip() == link]
    return row


@pytest.mark.parametrize("role", authz.HUMAN_ROLES)
def test_the_doc_names_exactly_the_statements_of_each_policy_file(role):
    # Given a role's policy file and its row in docs/security.md
    policy = json.loads((authz.POLICY_DIR / f"{role}.json").read_text())
    statements = {s["Sid"] for s in policy["Statement"]}
    row = doc_row(role)
    # When the statements named in the row's last column are read
    named = set(re.findall(r"`([A-Z][A-Za-z]+)`", row.rsplit("|", 2)[-2]))
    # Then they are the file's statements, no more, no fewer
    assert named == statements


def test_the_doc_copies_no_policy_inline():
    text = DOC.read_text()
    assert '"Statement"' not in text
    assert "```json" not in text


@pytest.mark.parametrize("role", authz.HUMAN_ROLES)
def test_the_files_use_only_the_documented_placeholders(role):
    text = (authz.POLICY_DIR / f"{role}.json").read_text()
    assert set(re.findall(r"<[A-Za-z]+>", text)) <= PLACEHOLDERS
    for placeholder in set(re.findall(r"<[A-Za-z]+>", text)):
        assert f"`{placeholder}`" in DOC.read_text()
    rendered = authz.human_policy(role, instance="i", stack="s")
    assert "<" not in json.dumps(rendered)


def test_every_cli_command_runs_as_a_documented_role_named_in_its_row():
    # Given the CLI's commands
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    # Then each maps to a documented role whose row names the command
    assert set(commands) == set(authz.COMMAND_ROLES)
    for command, role in authz.COMMAND_ROLES.items():
        assert role in authz.HUMAN_ROLES
        assert f"`{command}`" in doc_row(role).split("|")[3]
