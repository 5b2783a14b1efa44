"""State-tag writes (alerting/failures.save_tags): retried while throttled, counted when lost."""

from __future__ import annotations

import pytest

from tests.support.fakes import InMemorySecretStore, RecordingMetrics, client_error
from token_refresher.alerting import failures
from token_refresher.alerting.failures import TAG_RETRY_DELAYS, save_tags

pytestmark = pytest.mark.unit


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(failures, "TAG_RETRY_SLEEP", slept.append)
    return slept


def _store(*errors: str) -> InMemorySecretStore:
    store = InMemorySecretStore()
    store.create("conn/a", "{}", tags={"token-refresher:provider": "meta"})
    store.fail_on["tag"] = [client_error(code, "TagResource") for code in errors]
    return store


def test_a_throttled_tag_write_is_retried_until_it_lands(sleeps: list[float]) -> None:
    # Given TagResource throttled twice
    store, metrics = _store("ThrottlingException", "ThrottlingException"), RecordingMetrics()
    # When the state tags are saved
    save_tags(store, "conn/a", {"token-refresher:status": "ok"}, metrics=metrics)
    # Then the third attempt wrote them, after two jittered waits, and nothing was counted lost
    assert store.tags_of("conn/a")["token-refresher:status"] == "ok"
    assert len(sleeps) == 2
    assert all(0 <= s <= d for s, d in zip(sleeps, TAG_RETRY_DELAYS, strict=False))
    assert metrics.points == []


def test_a_tag_write_throttled_for_good_is_counted_not_raised(sleeps: list[float]) -> None:
    # Given TagResource throttled on every attempt
    store, metrics = _store(*["ThrottlingException"] * 10), RecordingMetrics()
    # When the state tags are saved
    save_tags(
        store, "conn/a", {"token-refresher:provider": "meta"}, what="state tags", metrics=metrics
    )
    # Then it gave up after the retries and counted the loss
    assert len(sleeps) == len(TAG_RETRY_DELAYS)
    assert metrics.points == [("TagWriteFailed", "meta", "state tags", 1)]


def test_a_refused_tag_write_is_not_retried(sleeps: list[float]) -> None:
    # Given TagResource denied
    store, metrics = _store("AccessDeniedException"), RecordingMetrics()
    # When the state tags are saved
    save_tags(store, "conn/a", {"token-refresher:status": "ok"}, metrics=metrics)
    # Then there was one attempt, and the loss is counted
    assert sleeps == []
    assert [p[0] for p in metrics.points] == ["TagWriteFailed"]
