"""docs/security.md names the test behind each threat-model row: every one it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
# `tests/x.py::a::b[param]`, or `::name` continuing the last file named before it
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?((?:::\w+)+)(?:\[[^\]]*\])?`")


def named_tests() -> list[tuple[str, tuple[str, ...]]]:
    found, current = [], None
    for match in REFERENCE.finditer(DOC.read_text()):
        current = match.group(1) or current
        assert current, f"{match.group(0)} names no file before it"
        found.append((current, tuple(match.group(2).strip(":").split("::"))))
    return found


def test_the_threat_model_names_tests_for_its_rows():
    rows = [line for line in DOC.read_text().splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) >= 10
    for row in rows:
        assert "tests/" in row or "pending" in row or "documentation only" in row, row


@pytest.mark.parametrize(("path", "names"), named_tests())
def test_every_test_named_by_the_threat_model_exists(path, names):
    source = (ROOT / path).read_text()
    for name in names:
        assert re.search(rf"^\s*(?:async )?(?:def|class) {name}\b", source, re.M), (path, name)
