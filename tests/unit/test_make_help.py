"""`make help` lists every target that documents itself with `## ` (digits in names included)."""

from __future__ import annotations

import re
import subprocess

from tests.support import stack


def test_make_help_lists_every_documented_target():
    # Given the targets the Makefile documents (`name: ... ## what it does`), test-e2e among them
    makefile = (stack.REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    documented = re.findall(r"^([^\s:#=$]+):[^=\n]*?## ", makefile, re.MULTILINE)
    assert {"test-e2e", "test-cli-py311", "test-unit"} <= set(documented)
    # When `make help` runs
    listed = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=stack.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    # Then each of them has its own line
    names = [re.sub(r"\x1b\[[0-9;]*m", "", line).split()[0] for line in listed.splitlines()]
    assert sorted(names) == sorted(documented)
