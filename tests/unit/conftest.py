from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fakes import (
    TEST_INSTANCE,
    FakeProvider,
    FixedClock,
    InMemorySecretStore,
    RecordingMetrics,
    RecordingNotifier,
)
from tests.support.leaks import SCANNER
from token_refresher.events import RotationRequest, Step, StepResult
from token_refresher.http import HttpClient
from token_refresher.providers.base import Provider, ProviderContext
from token_refresher.rotation.engine import RotationEngine
from token_refresher.rotation.factory import build_rotation_engine
from token_refresher.state import AlertPolicy
from token_refresher.sweep.engine import SweepEngine
from token_refresher.sweep.starter import RotationResumer, RotationStarter

APP_SECRET_ID = "token-refresher/apps/fake-app"
APP_CLIENT_SECRET = "app-client-secret-s3cr3t-value"
INITIAL_ACCESS = "initial-access-token-aaaaaaaa"
INITIAL_REFRESH = "initial-refresh-token-rrrrrrrr"


def token_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": 1,
        "provider": "fake",
        "access_token": INITIAL_ACCESS,
        "refresh_token": INITIAL_REFRESH,
        "expires_at": "2026-11-29T12:30:00Z",
        "app_secret_id": APP_SECRET_ID,
        "options": {},
        "owner_team": "growth",  # a user's own field: must survive rotations
    }
    doc.update(overrides)
    return doc


class Harness:
    def __init__(self) -> None:
        self.store = InMemorySecretStore()
        self.notifier = RecordingNotifier()
        self.metrics = RecordingMetrics()
        self.clock = FixedClock()
        self.provider = FakeProvider()
        self.policy = AlertPolicy()
        self.store.create(
            APP_SECRET_ID, {"client_id": "fake-client-id", "client_secret": APP_CLIENT_SECRET}
        )
        SCANNER.add_secrets(INITIAL_ACCESS, INITIAL_REFRESH, APP_CLIENT_SECRET)
        self._providers: dict[str, Provider] = {"fake": self.provider}
        self.engine = self._build()

    def _build(self) -> RotationEngine:
        def lookup(name: str) -> Provider:
            from token_refresher.providers import get_provider

            return self._providers.get(name) or get_provider(name)

        ctx = ProviderContext(http=HttpClient(sleep=lambda _s: None), clock=self.clock)
        return build_rotation_engine(
            self.store,
            self.notifier,
            ctx,
            instance=TEST_INSTANCE,
            policy=self.policy,
            providers=lookup,
            metrics=self.metrics,
        )

    def with_policy(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self.engine = self._build()

    def starter(
        self, *, rotation_lambda_arn: str | None = None, resumer: RotationResumer | None = None
    ) -> RotationStarter:
        return RotationStarter(
            self.store,
            instance=TEST_INSTANCE,
            rotation_lambda_arn=rotation_lambda_arn,
            clock=self.clock,
            resumer=resumer,
        )

    def sweep_engine(
        self, *, rotation_lambda_arn: str | None = None, **options: Any
    ) -> SweepEngine:
        """A SweepEngine over this harness (options: SweepEngine's keyword arguments)."""
        starter = self.starter(rotation_lambda_arn=rotation_lambda_arn)
        return SweepEngine(self.store, self.notifier, starter, **options)

    def add_secret(self, name: str = "conn/fake-1", **doc_overrides: Any) -> str:
        value = doc_overrides.pop("_raw", None) or json.dumps(token_doc(**doc_overrides))
        self.store.create(name, value, tags={"token-refresher:managed": "true"})
        return name

    def step(self, step: Step | str, name: str, version_id: str) -> StepResult:
        event = {"Step": str(step), "SecretId": name, "ClientRequestToken": version_id}
        return self.engine.run(RotationRequest.from_event(event))

    def rotate(
        self,
        name: str,
        version_id: str,
        steps: tuple[str, ...] | None = None,
        *,
        start: bool = True,
    ) -> None:
        if start:
            self.store.start_rotation(name, version_id)
        for step in steps or tuple(s.value for s in Step):
            self.step(step, name, version_id)


@pytest.fixture
def harness() -> Harness:
    return Harness()


@pytest.fixture
def alert_bodies(harness: Harness) -> Callable[[], list[str]]:
    return lambda: [json.dumps(a.to_dict()) + a.subject() for a in harness.notifier.alerts]
