"""The CLI wheel's dependencies are pinned like the dependencies layer's: pyproject.toml pins each
with ``==``, cli/requirements.lock covers them and everything they need on Python 3.11 and later
(any platform), each entry pinned with a sha256, and the Python 3.11 venv the CLI's tests run in
is installed from it with ``--require-hashes``."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.unit.test_deps_lock import lock

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "cli" / "requirements.lock"
# The oldest Python the CLI supports; the lock's wheels are pure Python (any platform).
CLI_ENV = default_environment() | {"python_version": "3.11", "python_full_version": "3.11.0"}


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


def closure(roots: list[Requirement]) -> dict[str, Requirement]:
    """Every distribution the roots need on Python 3.11, from the installed metadata."""
    seen: dict[str, Requirement] = {}
    todo = list(roots)
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen[name] = req
        for raw in metadata.requires(req.name) or []:
            dep = Requirement(raw)
            if dep.marker is None or dep.marker.evaluate(CLI_ENV | {"extra": ""}):
                todo.append(dep)
    return seen


def test_the_wheels_dependencies_are_pinned_to_the_locks_versions():
    # Given pyproject's dependencies, then each is pinned with == at the lock's version
    pinned = lock(LOCK)
    for req in pyproject_requirements():
        [spec] = list(req.specifier)
        assert spec.operator == "==", str(req)
        assert pinned[canonicalize_name(req.name)][0] == spec.version, str(req)


def test_the_lock_covers_everything_the_cli_needs_each_with_a_sha256():
    # Given what the wheel's dependencies need on Python 3.11 (transitively)
    needed = closure(pyproject_requirements())
    pinned = lock(LOCK)
    # Then the lock pins exactly those, at versions each requirement accepts, each with a hash
    assert set(pinned) == set(needed)
    for name, req in needed.items():
        assert req.specifier.contains(pinned[name][0], prereleases=True), (name, str(req))
    for name, (version, hashes) in pinned.items():
        assert version, name
        assert hashes, name
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_the_cli_venv_is_installed_from_the_lock_with_hashes_required():
    makefile = (ROOT / "Makefile").read_text()
    assert "install --require-hashes -r cli/requirements.lock" in makefile
    assert "install --no-deps $(WHEEL)" in makefile
