"""What `pip install .` / `pipx install .` / the `make dist` wheel give an operator.

Under `make test-cli-py311` these run on Python 3.11 with the wheel installed and the sources off
the path, so they check the installed copy: every module of the CLI and of the library it imports
is there, identical to the source, and the console script points at the CLI.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from pathlib import Path

from tests.support import stack
from token_refresher_cli import __version__
from token_refresher_cli.app import main

SOURCE_ROOTS = (stack.REPO_ROOT / "layers/core/python", stack.REPO_ROOT / "cli")
PACKAGES = ("token_refresher", "token_refresher_cli")


def _source_modules() -> dict[str, Path]:
    modules = {}
    for root in SOURCE_ROOTS:
        for package in PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                parts = path.relative_to(root).with_suffix("").parts
                name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
                modules[name] = path
    return modules


def test_every_module_of_the_cli_and_the_library_is_installed_as_in_the_source():
    # Given every module under cli/ and the library's layer directory
    sources = _source_modules()
    assert {"token_refresher.adapters.secrets", "token_refresher_cli.app"} <= set(sources)
    # When each is looked up where this Python imports it from
    for name, source in sources.items():
        spec = importlib.util.find_spec(name)
        # Then it is found, with the same content as the source
        assert spec is not None, f"{name} is not installed (pyproject's package list?)"
        assert spec.origin is not None
        assert Path(spec.origin).read_bytes() == source.read_bytes(), f"{name} differs"


def test_the_distribution_declares_python_3_11_and_the_console_script():
    # When the installed distribution's metadata is read
    dist = metadata.distribution("token-refresher")
    # Then it admits Python 3.11 and later, and names the running Python's minor version
    assert dist.metadata["Requires-Python"] == ">=3.11"
    assert dist.version == __version__
    minor = f"Programming Language :: Python :: {sys.version_info.major}.{sys.version_info.minor}"
    assert minor in dist.metadata.get_all("Classifier", [])
    # And `token-refresher` runs the CLI's main
    (script,) = metadata.entry_points(group="console_scripts", name="token-refresher")
    assert script.value == "token_refresher_cli.app:main"
    assert script.load() is main
