"""Fixtures for the tests of the project's test tooling (tools/lambda-executor)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.localstack import REPO_ROOT

# The executor's pure runner is tested from the working tree, without installing it.
sys.path.insert(0, str(REPO_ROOT / "tools" / "lambda-executor" / "src"))


@pytest.fixture(scope="session")
def runtime_python() -> str:
    """An interpreter with awslambdaric: $TR_LAMBDA_PYTHON, .venv-lambda-runtime, or ours."""
    candidates = [
        os.environ.get("TR_LAMBDA_PYTHON", ""),
        str(REPO_ROOT / ".venv-lambda-runtime" / "bin" / "python"),
        sys.executable,
    ]
    for candidate in filter(None, candidates):
        if Path(candidate).exists():
            probe = subprocess.run(
                [candidate, "-c", "import awslambdaric"], capture_output=True, check=False
            )
            if probe.returncode == 0:
                return candidate
    pytest.fail(
        "no interpreter with awslambdaric:"
        " run tools/localstack.sh install (or pip install awslambdaric)"
    )
