"""Cold start: handler import time against ``import boto3``, and the size of what `sam build` ships.

What a cold start pays for our code is the import of ``app`` (the runtime then calls the handler).
Each handler of the build output (``functions/<name>/app.py``, default ``.aws-sam/build``, or
``BENCH_BUILD_DIR``) is imported in a fresh ``.venv-lambda-runtime`` interpreter (Python 3.13 +
the runtime's boto3, what the managed runtime provides), with its layers on ``sys.path`` in
Lambda's order, exactly as the built template points at them (a layer without a build method is
its source folder). ``PYTHONDONTWRITEBYTECODE=1``: under /opt and /var/task nothing can be
written, so a module without a shipped ``.pyc`` is compiled from source on every cold start.

- Paired runs: each of ``REPEAT`` rounds starts one process per measurement, in an order that
  rotates between rounds: ``import boto3`` (the floor every handler pays: the runtime's SDK, from
  its own bytecode), then each handler as built, then each handler from a copy of the same files
  without ``__pycache__`` (what the build shipped before it compiled bytecode). The time is
  ``time.perf_counter()`` around the import statement inside the child (interpreter start-up
  excluded), wall clock and CPU time of the process. Reported: the medians, and the ratio of the
  handler's median to boto3's (wall, and CPU: the CPU ratio is less sensitive to other work on a
  shared machine).
- Bytecode check: one ``python -v`` import per handler; every ``code object from '<...>.py'`` line
  under the build is a module compiled from source (0 when the shipped ``.pyc`` are used).
- What dominates: one ``-X importtime`` import per handler, the heaviest direct imports of ``app``
  and the heaviest modules by self time.
- Sizes: every file under each built function and layer folder (including ``__pycache__``),
  unzipped, in MiB (1 MiB = 1,048,576 bytes); boto3 must not be in the deps layer. Zipped: the
  same folder as one deflate zip (what ``sam deploy`` uploads). ``python -m bench.cold_start``
  prints both for the build without timing anything.
- Before/after: ``BENCH_COLDSTART_BEFORE=<build dir>`` (``sam build --build-dir`` of an older
  commit) is measured the same way right after, and shown beside it.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PY = ROOT / ".venv-lambda-runtime" / "bin" / "python"
REPEAT = int(os.environ.get("BENCH_COLDSTART_ROUNDS", "15"))
LAYERS = ("CoreLayer", "DependenciesLayer")  # later layers first, as Lambda extracts them
MIB = 1024 * 1024
_IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")
_TIMED = (
    "import time; t, c = time.perf_counter(), time.process_time(); import {0}; "
    "print(time.perf_counter() - t, time.process_time() - c)"
)


def build_dir() -> Path:
    return Path(os.environ.get("BENCH_BUILD_DIR", ROOT / ".aws-sam" / "build")).resolve()


def layer_dirs(build: Path) -> dict[str, Path]:
    """Each layer's folder as the built template names it (ContentUri, relative to the build)."""
    found: dict[str, Path] = {}
    resource = ""
    for line in (build / "template.yaml").read_text().splitlines():
        if re.match(r"^  [A-Za-z0-9]+:\s*$", line):
            resource = line.strip().rstrip(":")
        match = re.match(r"^\s+ContentUri:\s*(\S+)\s*$", line)
        if match and resource in LAYERS:
            found[resource] = (build / match.group(1)).resolve()
    missing = set(LAYERS) - set(found)
    if missing:
        raise RuntimeError(f"no ContentUri for {sorted(missing)} in {build / 'template.yaml'}")
    return found


def _env(function_dir: Path, layers: dict[str, Path]) -> dict[str, str]:
    paths = [str(function_dir)] + [str(layers[name] / "python") for name in LAYERS]
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(function_dir),
        "POWERTOOLS_SERVICE_NAME": "token-refresher",
    }


def _python(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUNTIME_PY), *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )


def _timed_import(module: str, function_dir: Path, layers: dict[str, Path]) -> tuple[float, float]:
    """Wall and CPU milliseconds of the import statement in a fresh interpreter."""
    out = _python(_env(function_dir, layers), function_dir, "-c", _TIMED.format(module))
    wall, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(wall) * 1000, float(cpu) * 1000


def _without_bytecode(
    functions: list[Path], layers: dict[str, Path], to: Path
) -> tuple[list[Path], dict[str, Path]]:
    """A copy of the same functions and layers with every ``__pycache__`` left out."""
    skip = shutil.ignore_patterns("__pycache__")
    copied_layers = {name: to / name for name in LAYERS}
    for name in LAYERS:
        shutil.copytree(layers[name], copied_layers[name], ignore=skip)
    copied_functions = [to / fn.name for fn in functions]
    for fn in functions:
        shutil.copytree(fn, to / fn.name, ignore=skip)
    return copied_functions, copied_layers


def _source_compiled(function_dir: Path, layers: dict[str, Path]) -> list[str]:
    """Modules of the function or its layers that ``python -v`` reports compiling from source."""
    out = _python(_env(function_dir, layers), function_dir, "-v", "-c", "import app")
    roots = (str(function_dir), *(str(p) for p in layers.values()))
    compiled = re.findall(r"^# code object from '?([^'\n]+\.py)'?$", out.stderr, re.MULTILINE)
    return [path for path in compiled if path.startswith(roots)]


def _dominant(function_dir: Path, layers: dict[str, Path]) -> dict[str, Any]:
    out = _python(_env(function_dir, layers), function_dir, "-X", "importtime", "-c", "import app")
    direct: list[tuple[int, str]] = []
    by_self: list[tuple[int, str]] = []
    for line in out.stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if not m:
            continue
        self_us, cumulative, indent, name = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        by_self.append((self_us, name))
        if len(indent) == 3:  # what app imports directly
            direct.append((cumulative, name))
    return {
        "direct": [(n, us / 1000) for us, n in sorted(direct, reverse=True)[:4]],
        "self": [(n, us / 1000) for us, n in sorted(by_self, reverse=True)[:5]],
    }


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _zipped_size(path: Path) -> int:
    """Bytes of ``path`` as one deflate zip, the way sam packages a function or layer folder."""
    with tempfile.TemporaryFile() as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                zf.write(file, file.relative_to(path))
        return tmp.tell()


def artifact_sizes(build: Path) -> dict[str, Any]:
    """Unzipped and zipped bytes of each built function and layer."""
    layers = layer_dirs(build)
    functions = sorted(p for p in build.iterdir() if p.is_dir() and (p / "app.py").exists())
    folders = {fn.name: fn for fn in functions} | {n: layers[n] for n in LAYERS}
    sizes = {name: _size(folder) for name, folder in folders.items()}
    zipped = {name: _zipped_size(folder) for name, folder in folders.items()}
    return {"sizes": sizes, "total_bytes": sum(sizes.values()), "zipped": zipped}


def import_times(build: Path, functions: list[Path], layers: dict[str, Path]) -> dict[str, Any]:
    has_pyc = any(build.rglob("*.pyc")) or any(any(p.rglob("*.pyc")) for p in layers.values())
    samples: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="tr-coldstart-") as tmp:
        plain_fns, plain_layers = _without_bytecode(functions, layers, Path(tmp))
        jobs: list[tuple[str, str, Path, dict[str, Path]]] = [
            ("boto3", "boto3", functions[0], layers)
        ]
        for fn, plain in zip(functions, plain_fns, strict=True):
            jobs.append((fn.name, "app", fn, layers))
            if has_pyc:
                jobs.append((f"{fn.name}/source", "app", plain, plain_layers))
        for key, *_ in jobs:
            samples[key] = []
        _timed_import("app", functions[0], layers)  # page cache
        for round_ in range(REPEAT):
            shift = round_ % len(jobs)
            for key, module, fn_dir, lay in jobs[shift:] + jobs[:shift]:
                samples[key].append(_timed_import(module, fn_dir, lay))

    def median(key: str, i: int) -> float:
        return statistics.median(sample[i] for sample in samples[key])

    boto3_ms, boto3_cpu = median("boto3", 0), median("boto3", 1)
    out: dict[str, Any] = {"rounds": REPEAT, "boto3_ms": boto3_ms, "boto3_cpu_ms": boto3_cpu}
    out["handlers"] = {}
    for fn in functions:
        source = f"{fn.name}/source" if has_pyc else None
        out["handlers"][fn.name] = {
            "median_ms": median(fn.name, 0),
            "ratio": median(fn.name, 0) / boto3_ms,
            "cpu_ratio": median(fn.name, 1) / boto3_cpu,
            "source_median_ms": median(source, 0) if source else None,
            "source_ratio": median(source, 0) / boto3_ms if source else None,
            "compiled_from_source": len(_source_compiled(fn, layers)),
            "dominant": _dominant(fn, layers),
        }
    return out


def measure(build: Path) -> dict[str, Any]:
    layers = layer_dirs(build)
    functions = sorted(p for p in build.iterdir() if p.is_dir() and (p / "app.py").exists())
    out = import_times(build, functions, layers)
    out["build"] = str(build.relative_to(ROOT) if build.is_relative_to(ROOT) else build)
    out |= artifact_sizes(build)
    out["boto_in_layer"] = [
        d.name for d in (layers["DependenciesLayer"] / "python").glob("boto*") if d.is_dir()
    ]
    out["xray_in_layer"] = (layers["DependenciesLayer"] / "python" / "aws_xray_sdk").exists()
    return out


def run() -> dict[str, Any]:
    """The build (``BENCH_BUILD_DIR``, default ``.aws-sam/build``) and, when
    ``BENCH_COLDSTART_BEFORE`` names another build output (e.g. of an older commit), that one too,
    measured right after it by the same harness."""
    out = measure(build_dir())
    before = os.environ.get("BENCH_COLDSTART_BEFORE")
    if before:
        out["before"] = measure(Path(before).resolve())
        out["before"]["label"] = os.environ.get("BENCH_COLDSTART_BEFORE_LABEL", before)
    return out


if __name__ == "__main__":
    import json

    measured = artifact_sizes(build_dir())
    print(json.dumps({k: v / MIB for k, v in measured["sizes"].items()} | {"unit": "MiB"}))
    print(json.dumps({k: v / MIB for k, v in measured["zipped"].items()} | {"zipped": "MiB"}))
