"""Running a document's commands as written: what the README demo
(tests/e2e/test_a_readme_demo_e2e.py) and the getting-started walk
(tests/e2e/test_getting_started_aws_e2e.py) share.

- the environment: this process's, less the variables that would aim the command elsewhere (the
  caller then adds LocalStack's);
- the programs: the repository's venvs (``make venv``) provide ``aws``, ``sam``/``samlocal`` and
  ``token-refresher``;
- placeholders filled from the stack's outputs;
- a ``token-refresher`` command records its AWS calls as the documented role that runs it
  (tests/support/authz.py), evaluated at the end of the session.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support import authz
from tests.support.stack import REPO_ROOT

TOOL_DIRS = (REPO_ROOT / ".venv" / "bin", REPO_ROOT / ".venv-sam" / "bin")
CLI = "token-refresher"


def environment(drop: tuple[str, ...] = ("AWS_",)) -> dict[str, str]:
    """This process's variables, less those whose names start with one of ``drop``."""
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def search_path(*more: str) -> str:
    """PATH with the venvs' programs first, then ``more``, then this process's PATH."""
    return os.pathsep.join([*map(str, TOOL_DIRS), *more, os.environ.get("PATH", "")])


def program(name: str) -> Path:
    """A documented program, as `make venv` installs it."""
    found = next((d / name for d in TOOL_DIRS if (d / name).exists()), None)
    assert found is not None, f"{name} is not installed by `make venv`"
    return found


def fill(text: str, values: Mapping[str, str], form: str = "<{}>") -> str:
    """``text`` with each ``form.format(key)`` replaced by its value."""
    for key, value in values.items():
        text = text.replace(form.format(key), value)
    return text


def cli_args(script: str) -> list[str] | None:
    """The arguments of the first ``token-refresher`` command of ``script``; None: there is none."""
    for line in script.splitlines():
        if line.startswith(CLI + " "):
            return line.split()[1:]
    return None


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path = REPO_ROOT,
    timeout: float,
    cli: Sequence[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; ``cli``: the ``token-refresher`` arguments it runs, whose calls are then
    recorded as the documented role's."""
    environ = dict(env)
    if cli is not None:
        environ |= authz.subprocess_env(cli, environ)
    return subprocess.run(  # nosec B603 # a document's own commands
        list(argv),
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
