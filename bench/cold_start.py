"""Cold start: handler import time and the size of what `sam build` ships.

Each ``functions/<name>/app.py`` of the build output is imported in a fresh
``.venv-lambda-runtime`` interpreter (Python 3.13 + the runtime's boto3, what the managed runtime
provides) with the built layers on ``sys.path`` in Lambda's order, under ``python -X importtime``;
the ``app`` module's cumulative time is kept, best of ``REPEAT``. The environment is Lambda-like
with tracing on (``Tracing: Active`` in the template), and measured again with
``POWERTOOLS_TRACE_DISABLED=true`` to show what the X-Ray SDK costs.

Sizes: every file under ``.aws-sam/build/<Function or Layer>`` (the core layer has no build
method: its source folder, without ``__pycache__``), unzipped; boto3 is not in the deps layer (the
runtime provides it).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
RUNTIME_PY = ROOT / ".venv-lambda-runtime" / "bin" / "python"
REPEAT = 5
LAYERS = ("CoreLayer", "DependenciesLayer")  # later layers first, as Lambda extracts them
_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def _layer_dir(layer: str) -> Path:
    """Built layers are under .aws-sam/build; a layer without a build method ships its source."""
    built = BUILD / layer
    return built if built.exists() else ROOT / "layers" / layer.removesuffix("Layer").lower()


def _import_us(function_dir: Path, extra_env: dict[str, str]) -> tuple[int, list[tuple[int, str]]]:
    paths = [str(function_dir)] + [str(_layer_dir(layer) / "python") for layer in LAYERS]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(paths),
        "AWS_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(function_dir),
        "POWERTOOLS_SERVICE_NAME": "token-refresher",
        "PYTHONDONTWRITEBYTECODE": "",
    } | extra_env
    result = subprocess.run(
        [str(RUNTIME_PY), "-X", "importtime", "-c", "import app"],
        cwd=function_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    app_us = 0
    top: list[tuple[int, str]] = []
    for line in result.stderr.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        cumulative, indent, name = int(m.group(2)), len(m.group(3)), m.group(4)
        if name == "app" and indent == 1:
            app_us = cumulative
        elif indent == 3:  # what app imports directly
            top.append((cumulative, name))
    return app_us, sorted(top, reverse=True)[:4]


def import_times(function_dir: Path, extra_env: dict[str, str]) -> dict[str, Any]:
    _import_us(function_dir, extra_env)  # warm the page cache and write .pyc files
    runs = [_import_us(function_dir, extra_env) for _ in range(REPEAT)]
    best = min(runs, key=lambda r: r[0])
    return {"best_ms": best[0] / 1000, "top": [(n, us / 1000) for us, n in best[1]]}


def _size(path: Path) -> int:
    return sum(
        p.stat().st_size for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )


def run() -> dict[str, Any]:
    functions = sorted(p for p in BUILD.iterdir() if p.is_dir() and (p / "app.py").exists())
    out: dict[str, Any] = {"imports": {}, "sizes": {}}
    for fn in functions:
        out["imports"][fn.name] = {
            "tracing": import_times(fn, {"POWERTOOLS_TRACE_DISABLED": "false"}),
            "no_tracing": import_times(fn, {"POWERTOOLS_TRACE_DISABLED": "true"}),
        }
    for part in [*(p.name for p in functions), *LAYERS]:
        out["sizes"][part] = _size(_layer_dir(part) if part in LAYERS else BUILD / part)
    out["total_bytes"] = sum(out["sizes"].values())
    boto = [d.name for d in (_layer_dir("DependenciesLayer") / "python").glob("boto*")]
    out["boto_in_layer"] = boto
    return out
