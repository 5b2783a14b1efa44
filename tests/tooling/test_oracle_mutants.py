"""`make oracle-mutants`, as CI runs it: every deliberate mistake in our requests is caught by at
least one oracle test (tests/support/oracle_mutants.py says how the mutants are applied)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.oracle_mutants import MUTANTS, REPO_ROOT


def test_every_oracle_mutant_is_killed() -> None:
    # Given the oracle tests and the listed mutants
    env = os.environ | {"PYTHONPATH": "layers/core/python:."}
    env.pop("TR_ORACLE_MUTANT", None)
    # When the check runs as `make oracle-mutants` runs it
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.oracle_mutants"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # Then each mutant is reported killed, none survived, and the run says so
    lines = result.stdout.splitlines()
    killed = {line.split()[1] for line in lines if line.startswith("killed ")}
    assert killed == set(MUTANTS), result.stdout + result.stderr
    assert not [line for line in lines if line.startswith("SURVIVED")]
    assert lines[-1] == f"{len(MUTANTS)} of {len(MUTANTS)} mutants killed"
    assert result.returncode == 0
