"""Cold start: each function's handler loads only its own code at import (docs/benchmarks.md).

A handler module is imported in a fresh interpreter, as Lambda does at a cold start, and the
library modules it loaded are compared with what that function never runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SWEEP_ONLY = {
    "token_refresher.sweep.engine",
    "token_refresher.sweep.dispatch",
    "token_refresher.sweep.starter",
    "token_refresher.sweep.adoption",
    "token_refresher.sweep.deadlines",
    "token_refresher.adapters.queue",
    "token_refresher.adapters.rotation_function",
    "token_refresher.sweep.liveness",
}
ROTATION_ONLY = {
    "token_refresher.rotation.engine",
    "token_refresher.rotation.check",
    "token_refresher.rotation.liveness",
    "requests",
}
NOT_LOADED = {
    "rotation": SWEEP_ONLY
    | {
        "token_refresher.rotation.check",
        "token_refresher.rotation.liveness",
        "token_refresher.connect",
    },
    "sweep": ROTATION_ONLY | {"token_refresher.connect"},
    "worker": ROTATION_ONLY | {"token_refresher.sweep.engine", "token_refresher.connect"},
    "connect": SWEEP_ONLY,
}


def loaded_by(function: str) -> set[str]:
    code = "import sys, json, app; print(json.dumps(sorted(sys.modules)))"
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "functions" / function), str(ROOT / "layers" / "core" / "python")]
        ),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    out = subprocess.run(  # nosec B603 # our own interpreter and handler
        [sys.executable, "-c", code],
        cwd=ROOT / "functions" / function,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("function", sorted(NOT_LOADED))
def test_a_handler_import_loads_no_other_functions_engine(function: str):
    # Given the handler imported in a fresh interpreter, as at a cold start
    loaded = loaded_by(function)
    # Then it loaded the library, and none of the modules only other functions run
    assert "token_refresher.runtime" in loaded
    assert sorted(loaded & NOT_LOADED[function]) == []
