"""The dependencies layer installs a hash-pinned lock:
layers/deps/requirements.lock covers every requirement of layers/deps/requirements.txt and each of
their dependencies, every entry is pinned with ``==`` and a sha256, and the layer's Makefile
installs it with ``--require-hashes``."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

DEPS = Path(__file__).resolve().parents[2] / "layers" / "deps"
# The layer is built for Lambda's python3.13 on Linux x86_64, whatever runs the test.
LAMBDA_ENV = default_environment() | {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def _entries(text: str) -> list[str]:
    """Requirement entries, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (line.split(" #", 1)[0].strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def requirements() -> list[Requirement]:
    return [Requirement(e) for e in _entries((DEPS / "requirements.txt").read_text())]


def lock(path: Path = DEPS / "requirements.lock") -> dict[str, tuple[str, list[str]]]:
    """name -> (pinned version, sha256 hashes) of a hash-pinned lock file."""
    out = {}
    for entry in _entries(path.read_text()):
        spec, *options = entry.split()
        name, _, version = spec.partition("==")
        hashes = [o.removeprefix("--hash=sha256:") for o in options if o.startswith("--hash=")]
        out[canonicalize_name(name)] = (version, hashes)
    return out


def closure(roots: list[Requirement]) -> dict[str, Requirement]:
    """Every distribution the roots need on Lambda, from the installed packages' metadata (the
    dev venv installs layers/deps/requirements.txt), extras followed as requested."""
    seen: dict[str, Requirement] = {}
    todo = [(r, frozenset(r.extras)) for r in roots]
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen[name] = req
        for raw in metadata.requires(req.name) or []:
            dep = Requirement(raw)
            wanted = dep.marker is None or any(
                dep.marker.evaluate(LAMBDA_ENV | {"extra": e}) for e in (extras or {""})
            )
            if wanted:
                todo.append((dep, frozenset(dep.extras)))
    return seen


def test_every_entry_is_pinned_with_a_sha256() -> None:
    for name, (version, hashes) in lock().items():
        assert version, f"{name} is not pinned with =="
        assert hashes, f"{name} has no --hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_the_lock_covers_the_requirements_and_everything_they_need() -> None:
    # Given the layer's requirements and what they depend on (transitively)
    needed = closure(requirements())
    pinned = lock()
    # Then the lock pins each of them, at a version each requirement on it accepts
    missing = sorted(set(needed) - set(pinned))
    assert not missing, f"requirements.lock misses {missing}"
    for name, req in needed.items():
        assert req.specifier.contains(pinned[name][0], prereleases=True), (name, str(req))
    # and nothing it does not need
    assert set(pinned) == set(needed)


def test_the_top_level_pins_are_the_locks() -> None:
    pinned = lock()
    for req in requirements():
        [spec] = list(req.specifier)
        assert spec.operator == "==", str(req)
        assert pinned[canonicalize_name(req.name)][0] == spec.version


def test_the_layer_is_built_from_the_lock_with_hashes_required() -> None:
    makefile = (DEPS / "Makefile").read_text()
    install = next(line for line in makefile.splitlines() if " install " in line)
    assert "--require-hashes" in install
    assert "-r requirements.lock" in install
    assert "-r requirements.txt" not in install
