"""Fixtures for provider unit tests: one fake provider server per session, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.fake_providers import FakeProviders
from tests.support.leaks import SCANNER, fake_provider_secrets

from token_refresher.http import HttpClient
from token_refresher.model import AppCredentials
from token_refresher.providers.base import ProviderContext

CLIENT_ID = "client-id-1234"
CLIENT_SECRET = "client-secret-SHOULD-NEVER-LEAK-9f8e7d"


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[FakeProviders]:
    with FakeProviders() as fake:
        SCANNER.add_source(fake_provider_secrets(fake))
        SCANNER.add_secrets(CLIENT_SECRET)
        yield fake


@pytest.fixture
def fake_provider(_fake_server: FakeProviders) -> Iterator[FakeProviders]:
    SCANNER.add_secrets(*fake_provider_secrets(_fake_server)())
    _fake_server.reset()
    yield _fake_server
    _fake_server.reset()


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff delays the HttpClient asked for (it never really sleeps in unit tests)."""
    return []


@pytest.fixture
def ctx(fake_provider: FakeProviders, sleeps: list[float]) -> ProviderContext:
    http = HttpClient(sleep=sleeps.append, connect_timeout=1.0, read_timeout=0.5, max_attempts=3)
    return ProviderContext(http=http, endpoints=fake_provider.endpoints())


@pytest.fixture
def app() -> AppCredentials:
    return AppCredentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
