"""What `sam build` ships: bytecode that the python3.13 runtime uses, no X-Ray SDK, no boto3."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import stack

pytestmark = pytest.mark.e2e

BUILD = stack.REPO_ROOT / ".aws-sam" / "build"
FUNCTIONS = ("RotationFunction", "SweepFunction", "WorkerFunction", "AlarmRelayFunction")


@pytest.fixture(scope="module")
def build() -> Path:
    stack.build()
    return BUILD


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_imports_from_shipped_bytecode_only(build: Path, function: str) -> None:
    # Given a built function and its layers, where nothing may be written (read-only on Lambda)
    code = build / function
    layers = [build / "CoreLayer" / "python", build / "DependenciesLayer" / "python"]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(str(p) for p in [code, *layers]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "token-refresher",
    }
    # When the handler module is imported by a python3.13 interpreter, verbosely
    assert sys.version_info[:2] == (3, 13)
    result = subprocess.run(
        [sys.executable, "-v", "-c", "import app"],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    # Then every module of the build came from its .pyc, none was compiled from source
    loaded = re.findall(r"^# code object from '?([^'\n]+)'?$", result.stderr, re.MULTILINE)
    ours = [path for path in loaded if path.startswith(str(build))]
    from_source = [path for path in ours if path.endswith(".py")]
    assert from_source == []
    assert any("/CoreLayer/python/token_refresher/__pycache__/" in p for p in ours)
    assert any(f"/{function}/__pycache__/app.cpython-313.pyc" in p for p in ours)


def test_dependency_layer_ships_neither_the_xray_sdk_nor_the_runtime_sdk(build: Path) -> None:
    # Given the built dependency layer
    site = build / "DependenciesLayer" / "python"
    # Then Powertools and requests are there, compiled, but not the X-Ray SDK nor boto3/botocore
    assert (site / "aws_lambda_powertools" / "__pycache__").is_dir()
    assert (site / "requests" / "__pycache__").is_dir()
    shipped = {p.name for p in site.iterdir()}
    assert not shipped & {"aws_xray_sdk", "wrapt", "boto3", "botocore"}
