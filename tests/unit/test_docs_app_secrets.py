"""Every app secret the docs tell a reader to create is one the default deploy and the documented
app-credential owner accept: the commands are parsed out of README.md and docs/ and each
``create-secret`` of app credentials is evaluated against docs/policies/app-credential-owner.json
with the IAM policy simulator, as its role would send it."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import authz
from tests.support.cfn_render import template
from tests.support.two_instances import SECRET, call

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
INSTANCE = "tr-docs"  # what a reader puts for the stack's InstanceName output
APP_TAGS = ("token-refresher:app-for", "token-refresher:app-instances")
PLACEHOLDER = re.compile(r"<[^<>\n]+>")
CONTINUES = "\\"


@dataclass(frozen=True)
class Create:
    where: str  # file:line
    name: str
    tags: dict[str, str]


def _fill(text: str) -> str:
    text = text.replace("<InstanceName output>", INSTANCE).replace("<InstanceName>", INSTANCE)
    return PLACEHOLDER.sub("x", text)


def _commands(path: Path) -> list[tuple[int, str]]:
    """Shell commands in the file: continued lines (a trailing backslash, an open quote) joined."""
    out: list[tuple[int, str]] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        start, text = index, lines[index].strip()
        while index + 1 < len(lines) and (text.endswith(CONTINUES) or _open_quote(text)):
            index += 1
            text = text.removesuffix(CONTINUES) + " " + lines[index].strip()
        out.append((start + 1, text))
        index += 1
    return out


def _open_quote(text: str) -> bool:
    if "create-secret" not in text:
        return False
    try:
        shlex.split(_fill(text))
    except ValueError:
        return True
    return False


def _tags(words: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    if "--tags" not in words:
        return tags
    for word in words[words.index("--tags") + 1 :]:
        if word.startswith("--"):
            break
        key, _, value = word.partition(",Value=")
        tags[key.removeprefix("Key=")] = value
    return tags


def app_secret_creates() -> list[Create]:
    prefix = template()["Parameters"]["AppSecretPrefix"]["Default"]
    found = []
    for path in DOCS:
        for line, text in _commands(path):
            if not text.startswith("aws secretsmanager create-secret"):
                continue
            words = shlex.split(_fill(text))
            name = words[words.index("--name") + 1]
            tags = _tags(words)
            if name.startswith(prefix) or any(key in tags for key in APP_TAGS):
                found.append(Create(f"{path.relative_to(ROOT)}:{line}", name, tags))
    return found


CREATES = app_secret_creates()


def test_the_docs_create_app_secrets_on_every_platform_page_and_the_walk() -> None:
    # Given the app-secret creations the docs give, then each platform page has one, and the
    # README and the getting-started walk too (so the checks below cover what a reader runs)
    files = {c.where.split(":")[0] for c in CREATES}
    pages = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "docs" / "providers").glob("*.md")
        if p.name != "README.md"
    }
    assert pages | {"README.md", "docs/getting-started-aws.md"} <= files


@pytest.mark.parametrize("create", CREATES, ids=[c.where for c in CREATES])
def test_every_app_secret_the_docs_create_is_accepted_by_the_deploy_and_the_role(
    create: Create,
) -> None:
    # Given an app-secret creation from the docs, as a reader fills it in for their instance
    prefix = template()["Parameters"]["AppSecretPrefix"]["Default"]
    # Then its name is under the default AppSecretPrefix, where the functions read app secrets,
    # and it lists the instance in token-refresher:app-instances (AppSecretInstanceBinding)
    assert create.name.startswith(prefix), create
    assert INSTANCE in create.tags.get("token-refresher:app-instances", "").split(), create
    # And the documented app-credential owner of that instance may create it with its tags
    owner = [
        {
            "name": "app-credential-owner",
            "policy": authz.human_policy("app-credential-owner", instance=INSTANCE, stack=INSTANCE),
        }
    ]
    resource = f"{SECRET}{create.name}-AbCdEf"
    requests = [
        call(owner, action, resource, request_tags=create.tags)
        for action in ("secretsmanager:CreateSecret", "secretsmanager:TagResource")
    ]
    results = authz.simulate(requests)
    assert [r["decision"] for r in results] == ["Allowed", "Allowed"], [
        authz.explain(r) for r in results
    ]


def test_every_app_secret_the_docs_name_lives_in_an_instances_folder() -> None:
    # Given every app-secret id a command or a document in the docs names
    prefix = template()["Parameters"]["AppSecretPrefix"]["Default"]
    named = re.compile(r'(?:--app-secret-id |"app_secret_id": ")(\S+?)["`\s]')
    ids = [
        (f"{p.relative_to(ROOT)}", m.group(1))
        for p in DOCS
        for m in named.finditer(_fill(p.read_text()))
    ]
    # Then each is in an instance's folder under the prefix, where its owner could create it
    assert ids
    outside = [(where, i) for where, i in ids if not re.fullmatch(rf"{prefix}[^/]+/[^/]+", i)]
    assert outside == []
