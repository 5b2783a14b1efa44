"""Every ``pytest.raises`` in tests/ names what it expects: a ``match=``, or ``as info`` with the
exception read afterwards (its fields asserted). One exception type often has several causes
(ConfigError, ProviderError, FlowError...), and a bare ``pytest.raises(ConfigError)`` passes for
the wrong one."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack import REPO_ROOT

pytestmark = pytest.mark.unit


def _is_raises(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "raises"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "pytest"
    )


def _read_after(scope: ast.AST, name: str, line: int) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) and n.lineno > line
        for n in ast.walk(scope)
    )


def _named(call: ast.Call, bound: dict[int, tuple[str, int]], scope: ast.AST) -> bool:
    if any(keyword.arg == "match" for keyword in call.keywords):
        return True
    if id(call) not in bound:
        return False
    name, end = bound[id(call)]
    return _read_after(scope, name, end)


def unnamed_raises(source: str) -> Iterator[int]:
    """Lines of ``pytest.raises`` calls that name nothing about the exception they expect."""
    tree = ast.parse(source)
    scopes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for scope in scopes or [tree]:
        bound: dict[int, tuple[str, int]] = {}
        for node in ast.walk(scope):
            if isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if _is_raises(item.context_expr) and isinstance(item.optional_vars, ast.Name):
                        bound[id(item.context_expr)] = (item.optional_vars.id, node.end_lineno or 0)
        for node in ast.walk(scope):
            if _is_raises(node) and not _named(node, bound, scope):  # type: ignore[arg-type]
                yield node.lineno


def _test_sources() -> Iterator[Path]:
    for path in sorted((REPO_ROOT / "tests").rglob("*.py")):
        if "node_modules" not in path.parts:
            yield path


def test_no_pytest_raises_in_tests_is_unnamed() -> None:
    found = [
        f"{path.relative_to(REPO_ROOT)}:{line}"
        for path in _test_sources()
        for line in sorted(set(unnamed_raises(path.read_text(encoding="utf-8"))))
    ]
    assert found == [], "name what each expects (match= or `as info` and an assertion on it)"


CHECKED = """
import pytest

def test_bare():
    with pytest.raises(ValueError):
        int("x")

def test_matched():
    with pytest.raises(ValueError, match="invalid literal"):
        int("x")

def test_read_afterwards():
    with pytest.raises(ValueError) as info:
        int("x")
    assert "literal" in str(info.value)

def test_bound_but_never_read():
    with pytest.raises(ValueError) as info:
        int("x")

def test_call_form():
    pytest.raises(ValueError, int, "x")
"""


def test_the_check_finds_bare_and_unread_ones_and_accepts_named_ones() -> None:
    # Given a file with each form, When it is checked, Then the bare, the unread and the call
    # form (no match) are reported, the matched and the read ones are not
    assert sorted(set(unnamed_raises(CHECKED))) == [5, 18, 22]
