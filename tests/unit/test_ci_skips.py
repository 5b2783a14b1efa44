"""A skip in CI is a failure (tests/support/ci_skips.py, wired in tests/conftest.py): run on a
tiny test file in a subprocess, with the project's conftest loaded as a plugin."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import ci_skips
from tests.support.stack import REPO_ROOT

pytestmark = pytest.mark.unit

TINY = """
    import pytest

    def test_runs():
        pass

    @pytest.mark.skip(reason="no browser here")
    def test_skipped_by_marker():
        pass

    def test_skipped_at_run_time():
        pytest.skip("a tool is missing")

    @pytest.mark.skip(reason="argued on the allow-list")
    def test_allowed():
        pass

    @pytest.mark.xfail(strict=True, reason="a known defect")
    def test_known_defect():
        assert False
"""
SKIPPED_MODULE = """
    import pytest

    pytest.skip("the whole module", allow_module_level=True)
"""


def _run(
    tmp_path: Path, *, ci: str | None, allowlist: str = ""
) -> subprocess.CompletedProcess[str]:
    tests = tmp_path / "tests"  # the project's conftest finds each test's layer under tests/
    tests.mkdir(exist_ok=True)
    (tests / "test_tiny.py").write_text(textwrap.dedent(TINY))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "allow.txt").write_text(allowlist)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env |= {
        "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'layers/core/python'}",
        ci_skips.ALLOWLIST_ENV: str(tmp_path / "allow.txt"),
    }
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-rA"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


ALLOWED = "tests/test_tiny.py::test_allowed | the allow-list's own test\n"


def test_outside_ci_a_skip_stays_a_skip(tmp_path: Path) -> None:
    # When the tiny file runs without CI
    result = _run(tmp_path, ci=None)
    # Then its three skips are skips and the run passes
    assert result.returncode == 0, result.stdout
    assert "1 passed, 3 skipped, 1 xfailed" in result.stdout


def test_in_ci_an_unlisted_skip_fails_the_run_and_says_what_to_do(tmp_path: Path) -> None:
    # When the tiny file runs with CI set and one of its skips on the allow-list
    result = _run(tmp_path, ci="true", allowlist=ALLOWED)
    # Then the two unlisted skips fail (one at setup, one in the test), the listed one is a skip
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error" in result.stdout
    assert "skipped in CI (a tool is missing)" in result.stdout
    assert "skipped in CI (no browser here)" in result.stdout
    assert "'tests/test_tiny.py::test_skipped_at_run_time | <why>'" in result.stdout
    # And the strict xfail is left alone: it is a known defect, not a test that did not run
    assert "XFAIL tests/test_tiny.py::test_known_defect" in result.stdout


def test_in_ci_a_module_skipped_whole_fails_the_session(tmp_path: Path) -> None:
    # Given a module that skips itself at import
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_module.py").write_text(textwrap.dedent(SKIPPED_MODULE))
    # When the run has CI set and only the allowed skip listed
    result = _run(tmp_path, ci="1", allowlist=ALLOWED + "tests/test_tiny.py::test_s* | both\n")
    # Then the session fails and the summary names the module
    assert result.returncode == 1, result.stdout
    assert "tests/test_module.py was skipped whole in CI" in result.stdout


@pytest.mark.parametrize(("value", "ci"), [("true", True), ("1", True), ("0", False), ("", False)])
def test_ci_is_on_when_set_to_anything_but_empty_0_or_false(value: str, ci: bool) -> None:
    assert ci_skips.in_ci({"CI": value}) is ci


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "allow.txt"
    path.write_text("# comment\n\ntests/x.py::test_y\n")
    with pytest.raises(
        pytest.UsageError, match=r"allow.txt:3: an entry is '<node id> \| <reason>'"
    ):
        ci_skips.read_allowlist(path)


def test_the_projects_allowlist_is_short_and_every_entry_argued() -> None:
    entries = ci_skips.read_allowlist(ci_skips.ALLOWLIST)
    assert len(entries) <= 5
    assert all(len(entry.reason) > 20 for entry in entries)
