from __future__ import annotations

import pytest

from tests.support.fake_providers import FakeProviders
from tests.unit.connect.browser import World


@pytest.fixture
def world(fake_providers: FakeProviders) -> World:
    return World(fake_providers)
