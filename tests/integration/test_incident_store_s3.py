"""The incident store (adapters/incidents.py) against LocalStack's S3, which enforces the
conditional writes (``If-None-Match``, ``If-Match``) each transition relies on: concurrent
failures agree on one incident, and each transition happens once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import stack
from token_refresher.adapters.incidents import S3IncidentStore
from token_refresher.alerts import Cause, CauseKind, Transition

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
CAUSE = Cause(CauseKind.APP, "google_ads", "tr-int/apps/g", "config", "invalid_client")
MEMBERS = 8


@pytest.fixture
def bucket(localstack_endpoint: str) -> Iterator[tuple[Any, str]]:
    s3 = stack.client("s3", localstack_endpoint)
    name = f"tr-incidents-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield s3, name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def fail_concurrently(store: S3IncidentStore) -> set[str]:
    def fail(i: int) -> str:
        held = {"event": "token.config_invalid", "secret_id": f"secret-{i}"}
        return store.join(CAUSE, f"secret-{i}", now=NOW, new_id=f"inc-{i}", held=held).incident_id

    with ThreadPoolExecutor(max_workers=MEMBERS) as pool:
        return set(pool.map(fail, range(MEMBERS)))


def test_concurrent_failures_of_one_cause_share_one_incident_and_count_once(
    bucket: tuple[Any, str],
) -> None:
    # Given the store in a bucket of its own
    store = S3IncidentStore(*bucket)
    # When 8 connections fail for one cause at once, and one of them fails again
    ids = fail_concurrently(store)
    [incident_id] = ids
    again = store.join(CAUSE, "secret-0", now=NOW, new_id="inc-new", held={})
    # Then they agreed on one incident, and each connection is counted once, with its alert held
    assert again.incident_id == incident_id
    assert (again.affected, again.held, again.recovered) == (MEMBERS, MEMBERS, 0)
    assert [i.incident_id for i in store.open_incidents()] == [incident_id]


def test_each_transition_happens_once_and_a_member_recovers_once(bucket: tuple[Any, str]) -> None:
    # Given an incident of 8 failing connections
    store = S3IncidentStore(*bucket)
    [incident_id] = fail_concurrently(store)
    # When two callers race to announce it
    with ThreadPoolExecutor(max_workers=2) as pool:
        announced = list(
            pool.map(lambda _: store.claim(incident_id, Transition.ANNOUNCE, now=NOW), range(2))
        )
    # Then exactly one of them may send incident.opened, with the count at that moment
    [won] = [a for a in announced if a is not None]
    assert (won.announced_affected, won.announced_at) == (MEMBERS, NOW)
    # When a member recovers, twice, and a stranger "recovers"
    recovered = store.recover(incident_id, "secret-1", now=NOW)
    # Then the member counts once, its held alert is released, and the stranger is not a member
    assert recovered is not None
    assert (recovered.recovered, recovered.held) == (1, MEMBERS - 1)
    assert store.recover(incident_id, "secret-1", now=NOW) is None
    assert store.recover(incident_id, "nobody", now=NOW) is None
    assert len(store.held_alerts(incident_id)) == MEMBERS - 1
    # When the one update and the close are claimed twice each
    updates = [store.claim(incident_id, Transition.UPDATE, now=LATER) for _ in range(2)]
    closes = [store.claim(incident_id, Transition.CLOSE, now=LATER) for _ in range(2)]
    # Then each happens once, the incident leaves the open index, and it is no longer announced
    assert [u is not None for u in updates] == [True, False]
    assert [c is not None for c in closes] == [True, False]
    assert store.open_incidents() == []
    assert store.claim(incident_id, Transition.ANNOUNCE, now=LATER) is None


def test_a_failure_after_the_close_opens_a_new_incident(bucket: tuple[Any, str]) -> None:
    # Given a closed incident of the cause
    store = S3IncidentStore(*bucket)
    [old] = fail_concurrently(store)
    assert store.claim(old, Transition.CLOSE, now=NOW) is not None
    # When the cause fails again
    fresh = store.join(CAUSE, "secret-0", now=LATER, new_id="inc-next", held={})
    # Then a new incident opens, counted from one, and the closed one stays closed
    assert (fresh.incident_id, fresh.affected, fresh.announced_at) == ("inc-next", 1, None)
    assert [i.incident_id for i in store.open_incidents()] == ["inc-next"]


def test_once_announced_a_new_member_is_not_counted_until_the_flush(
    bucket: tuple[Any, str],
) -> None:
    # Given an announced incident of 8
    store = S3IncidentStore(*bucket)
    [incident_id] = fail_concurrently(store)
    store.claim(incident_id, Transition.ANNOUNCE, now=NOW)
    # When a ninth connection joins
    joined = store.join(CAUSE, "secret-9", now=LATER, new_id="inc-x", held={"event": "e"})
    # Then the join answers with the announced count (cheap), and the flush's read counts 9
    assert (joined.incident_id, joined.affected) == (incident_id, MEMBERS)
    [flushed] = store.open_incidents()
    assert (flushed.affected, flushed.held, flushed.last_failure_at) == (MEMBERS + 1, 9, LATER)
