"""The official client libraries judge our requests in tests; they never ship in a layer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
ORACLES = {
    "msal": "msal",
    "google-auth": "google",
    "google-auth-oauthlib": "google_auth_oauthlib",
    "facebook-business": "facebook_business",
    "linkedin-api-client": "linkedin_api",
    "tiktok-business-api-sdk-official": "business_api_client",
}


def _pins(path: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), re.MULTILINE)
    return {name.lower(): version for name, version in found}


def test_the_oracles_are_pinned_development_dependencies_only() -> None:
    dev = _pins(ROOT / "requirements-dev.txt")
    runtime = _pins(ROOT / "layers/deps/requirements.txt")
    assert set(ORACLES) <= set(dev)
    assert not set(ORACLES) & set(runtime)


def test_no_shipped_code_imports_an_oracle() -> None:
    shipped = [*ROOT.glob("layers/core/python/**/*.py"), *ROOT.glob("functions/**/*.py")]
    shipped += list(ROOT.glob("cli/**/*.py"))
    names = "|".join(map(re.escape, ORACLES.values()))
    pattern = re.compile(rf"^\s*(?:from|import)\s+({names})\b", re.M)
    assert shipped
    assert [str(p) for p in shipped if pattern.search(p.read_text())] == []


def test_every_sourced_fixture_names_the_page_it_comes_from() -> None:
    # Given the values the libraries have no opinion on (tests/fixtures/oracles/)
    files = sorted((ROOT / "tests/fixtures/oracles").glob("*.json"))
    assert files
    for path in files:
        entries = {k: v for k, v in json.loads(path.read_text()).items() if k != "about"}
        # Then each has a value, what the page says, and the page(s), by https
        for name, entry in entries.items():
            assert set(entry) == {"value", "source", "says"}, (path.name, name)
            pages = entry["source"] if isinstance(entry["source"], list) else [entry["source"]]
            assert pages, (path.name, name)
            assert all(page.startswith("https://") for page in pages), (path.name, name)
