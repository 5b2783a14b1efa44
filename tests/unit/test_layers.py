"""The library's shape: no room is too big, and one word per idea.

Which module may import which is not checked here: the layers are import-linter contracts
(pyproject.toml, `make lint`), and tests/tooling/test_import_contracts.py shows each one failing
on a deliberate violation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

LIBRARY = Path(__file__).resolve().parents[2] / "layers" / "core" / "python" / "token_refresher"
PACKAGE = "token_refresher"
MAX_MODULE_LINES = 350
MAX_CLASS_LINES = 200
CLI = LIBRARY.parents[3] / "cli" / "token_refresher_cli"
# "token" is the OAuth credential only; the other ideas that word once named have their own.
VAGUE_NAMES = {
    "token": "access_token, refresh_token, id_token (the OAuth credential), or pasted",
    "link_token": "signed_link (what Link.sign makes and Link.verify reads)",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(parts) or PACKAGE


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(LIBRARY.rglob("*.py"))}


def test_no_module_over_350_lines_and_no_class_over_200():
    # Given every library module and every class in it
    long_modules = {}
    long_classes = {}
    for name, path in modules().items():
        text = path.read_text()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            long_modules[name] = lines
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    long_classes[f"{name}.{node.name}"] = size
    # Then none is too big for one idea
    assert long_modules == {}
    assert long_classes == {}


def vague_names(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Name):
            value = node.id
        elif isinstance(node, ast.Attribute):
            value = node.attr
        elif isinstance(node, ast.arg | ast.keyword):
            value = node.arg or ""
        else:
            continue
        if value in VAGUE_NAMES:
            found.append(f"{path.name}:{node.lineno} {value} -> {VAGUE_NAMES[value]}")
    return found


def test_the_name_scan_sees_a_vague_name(tmp_path: Path):
    # Given a module with the old field name of a rotation request
    probe = tmp_path / "probe.py"
    probe.write_text("def f(request):\n    return request.token\n")
    # Then the scan names it
    assert vague_names(probe) == ["probe.py:2 token -> " + VAGUE_NAMES["token"]]


def test_one_word_per_idea():
    # Given every module of the library and the CLI
    paths = [*sorted(LIBRARY.rglob("*.py")), *sorted(CLI.rglob("*.py"))]
    # Then no name is a bare "token": a version id, a signed link, the tokens a consent issued
    # and the OAuth credential each have their own word (docs/architecture.md, "Words")
    assert [hit for path in paths for hit in vague_names(path)] == []


def bound_names(path: Path) -> set[str]:
    """The names a module binds at its top level (definitions, assignments, imports)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def declared_all(path: Path) -> list[str] | None:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return None


def test_every_package_declares_its_surface():
    # Given every package of the library (the root, the wings, providers/, adapters/)
    packages = sorted(LIBRARY.rglob("__init__.py"))
    assert len(packages) >= 8
    # Then each declares __all__, and every name in it exists: a public module of a wing
    # package, or a name the package itself defines
    undeclared = [p.parent.name for p in packages if declared_all(p) is None]
    assert undeclared == []
    missing = {
        p.parent.name: [
            name
            for name in declared_all(p) or []
            if not (p.parent / f"{name}.py").exists() and name not in bound_names(p)
        ]
        for p in packages
    }
    assert {k: v for k, v in missing.items() if v} == {}
