"""Fixtures shared by every test layer. Anything that needs LocalStack goes through
``localstack_endpoint``, which starts it when no healthy one answers and stops it afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import reliability
from tests.support.fake_providers import FakeProviders
from tests.support.localstack import ensure_localstack, stop_localstack


@pytest.fixture(scope="session")
def localstack_endpoint() -> Iterator[str]:
    """A healthy LocalStack; stopped at the end of the session only if this session started it."""
    url, started = ensure_localstack()
    yield url
    if started:
        stop_localstack()


@pytest.fixture(scope="session")
def fake_providers_server() -> Iterator[FakeProviders]:
    """One fake provider server on 127.0.0.1 for the whole session (real sockets)."""
    with FakeProviders() as server:
        yield server


@pytest.fixture
def fake_providers(fake_providers_server: FakeProviders) -> FakeProviders:
    """The session's fake providers, reset to a clean state for this test."""
    fake_providers_server.reset()
    return fake_providers_server


_LAYERS = ("unit", "tooling", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test carries the marker of its layer (its top folder under tests/)."""
    for item in items:
        parts = item.path.parts
        layer = next((p for p in _LAYERS if p in parts[parts.index("tests") + 1 :][:1]), None)
        if layer and not item.get_closest_marker(layer):
            item.add_marker(getattr(pytest.mark, layer))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reliability.write_if_requested()
