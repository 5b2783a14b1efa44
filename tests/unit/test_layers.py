"""The library's shape: imports flow only downward between layers, and no room is too big.

The layers, lowest first. A module may import from its own layer and the layers below it, never
from a layer above (imports inside functions and TYPE_CHECKING blocks count too: a reader follows
them all the same). Every module must be in exactly one layer, so a new module is placed on
purpose."""

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

# (layer, the modules in it: a name, or a package ending in ".*" for every module under it)
LAYERS: list[tuple[str, set[str]]] = [
    (
        "values",  # plain values and helpers every layer shares; no AWS, no platform calls
        {
            PACKAGE,
            "errors",
            "timeutil",
            "redact",
            "observability",
            "alerts",
            "state",
            "protocol",
            "model",
            "http",
        },
    ),
    ("adapters", {"adapters", "adapters.*"}),  # every AWS call, behind the project's own types
    ("providers", {"providers", "providers.*"}),  # every platform call, behind base.Provider
    (
        "rules",  # decisions over values: who owns a secret, is it due, may it use these apps
        {"instances", "due", "binding", "notices", "config", "liveness"},
    ),
    (
        "engines",  # what the functions do, over adapters and providers
        {
            "rotation",
            "rotation_checks",
            "failures",
            "app_credentials",
            "connection_check",
            "liveness_check",
            "alarm_relay",
            "starter",
            "dispatch",
            "deadlines",
            "adoption",
            "sweep",
            "sweep_request",
            "selection",
            "sweep_report",
            "sweep_unowned",
            "decision",
        },
    ),
    ("connect", {"connect", "connect.*"}),  # the consent endpoint, over the rotation engine
    ("composition", {"runtime"}),  # builds everything from the settings
]


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY).with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(parts) or PACKAGE


def layer_of(module: str) -> int | None:
    for rank, (_name, members) in enumerate(LAYERS):
        for member in members:
            if module == member or (
                member.endswith(".*") and module.startswith(member.removesuffix("*"))
            ):
                return rank
    return None


def library_imports(path: Path) -> set[str]:
    """The library modules a file imports (``from token_refresher.x import y`` names x, or x.y
    when y is a module), at any depth."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name != PACKAGE and not name.startswith(PACKAGE + "."):
                continue
            relative = name.removeprefix(PACKAGE + ".") if name != PACKAGE else PACKAGE
            target = LIBRARY.joinpath(*relative.split("."))
            if relative == PACKAGE or target.with_suffix(".py").exists() or target.is_dir():
                out.add(relative)
    return out


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(LIBRARY.rglob("*.py"))}


def test_every_module_is_in_exactly_one_layer():
    # Given every library module, then each belongs to one layer (new modules are placed)
    unplaced = sorted(m for m in modules() if layer_of(m) is None)
    assert unplaced == []
    multiple = [m for m in modules() if sum(layer_of(m) == r for r in range(len(LAYERS))) != 1]
    assert multiple == []


def test_the_scan_sees_an_upward_import():
    # Given a file importing the composition root and a connect module, then both are seen
    probe = LIBRARY / "errors.py"
    assert library_imports(LIBRARY / "runtime.py") >= {"config", "adapters.aws"}
    assert layer_of("connect.minter") > layer_of("adapters.notifier")  # type: ignore[operator]
    assert library_imports(probe) == set()


def test_imports_flow_only_downward():
    # Given each module's layer and the layers of what it imports
    upward = {
        f"{name} ({LAYERS[layer_of(name)][0]})": sorted(  # type: ignore[index]
            f"{dep} ({LAYERS[layer_of(dep)][0]})"  # type: ignore[index]
            for dep in library_imports(path)
            if layer_of(dep) is not None and layer_of(dep) > layer_of(name)  # type: ignore[operator]
        )
        for name, path in modules().items()
    }
    # Then no import climbs to a higher layer
    assert {k: v for k, v in upward.items() if v} == {}


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
