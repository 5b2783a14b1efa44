"""The import contracts (pyproject.toml, [tool.importlinter]) hold on the library as it is, and
each one fails on a deliberate violation: a contract that cannot fail checks nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tooling

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# (contract id, file under the copy, the line that breaks it, what it stands for)
VIOLATIONS = [
    ("layers", "lib/token_refresher/model.py", "import token_refresher.sweep.engine", "kernel"),
    (
        "layers",
        "lib/token_refresher/providers/base.py",
        "import token_refresher.adapters.secrets",
        "providers",
    ),
    (
        "layers",
        "lib/token_refresher/adapters/notifier.py",
        "import token_refresher.providers.base",
        "adapters",
    ),
    (
        "layers",
        "lib/token_refresher/rotation/engine.py",
        "import token_refresher.sweep.starter",
        "wings",
    ),
    (
        "layers",
        "lib/token_refresher/alerting/failures.py",
        "import token_refresher.rotation.engine",
        "upward",
    ),
    ("layers", "lib/token_refresher/stray.py", "import token_refresher.model", "unplaced"),
    (
        "aws-behind-adapters",
        "lib/token_refresher/rotation/engine.py",
        "import botocore.exceptions",
        "sdk",
    ),
    (
        "sweep-reads-tags",
        "lib/token_refresher/sweep/engine.py",
        "import token_refresher.providers",
        "sweep",
    ),
    ("handlers", "functions/sweep/app.py", "import token_refresher.sweep.request", "handler"),
]


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The library, the handlers and the contracts, copied where a test may break them."""
    shutil.copytree(
        ROOT / "layers" / "core" / "python" / "token_refresher",
        tmp_path / "lib" / "token_refresher",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(
        ROOT / "functions", tmp_path / "functions", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(copy: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": f"{copy / 'lib'}{os.pathsep}{copy / 'functions'}"}
    args = [str(LINT_IMPORTS), "--no-cache", str(copy / "pyproject.toml")]
    for contract in contracts:
        args += ["--contract", contract]
    return subprocess.run(  # nosec B603 # the venv's own lint-imports on a temporary copy
        args, cwd=copy, env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_the_contracts_hold_on_the_library_as_it_is(copy: Path):
    # Given the untouched copy, when every contract is checked
    result = lint_imports(copy)
    # Then all of them are kept, and there are four
    assert result.returncode == 0, result.stdout
    assert "Contracts: 4 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("contract", "path", "line"),
    [pytest.param(c, p, line, id=f"{c}-{what}") for c, p, line, what in VIOLATIONS],
)
def test_each_contract_fails_on_a_deliberate_violation(
    copy: Path, contract: str, path: str, line: str
):
    # Given one module of the copy with an import its contract forbids
    target = copy / path
    existing = target.read_text() if target.exists() else ""
    target.write_text(existing + f"\n{line}  # deliberate violation\n")
    # When that contract is checked
    result = lint_imports(copy, contract)
    # Then it is broken, and the report names the offending module
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout
    offender = path.removeprefix("lib/").removeprefix("functions/").removesuffix(".py")
    assert offender.replace("/", ".") in result.stdout
