"""tools/localstack.sh keeps one LocalStack per LOCALSTACK_PORT: a second port in the same clone
never stops or restarts the first (its pid file, log and data are per port)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.localstack import SCRIPT

pytestmark = pytest.mark.tooling


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The script in a clone of its own (its state folder is relative to the script)."""
    (tmp_path / "tools").mkdir()
    shutil.copy(SCRIPT, tmp_path / "tools" / "localstack.sh")
    return tmp_path


@pytest.fixture
def first(clone: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process standing in for the LocalStack started on port 4601, in its state folder."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    state = clone / ".localstack" / "4601"
    state.mkdir(parents=True)
    (state / "localstack.pid").write_text(f"{proc.pid}\n")
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def script(clone: Path, port: int, command: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"LOCALSTACK_PORT": str(port)}
    return subprocess.run(
        [str(clone / "tools" / "localstack.sh"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_another_port_does_not_stop_the_first_localstack(clone, first) -> None:
    # When the clone's LocalStack on another port is stopped
    other = script(clone, 4602, "stop")
    # Then that one was not running, and the first is untouched
    assert other.returncode == 0
    assert "not running" in other.stdout
    assert first.poll() is None
    # While stopping port 4601 stops the first
    own = script(clone, 4601, "stop")
    assert own.returncode == 0, own.stderr
    assert f"stopped (pid {first.pid})" in own.stdout
    assert first.wait(timeout=10) is not None
