"""`token-refresher status` opens with the fleet summary; `--incident` lists one incident's
connections (the incident tag the failure policy writes: alerting/incidents.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.support.fakes import TEST_INSTANCE, FixedClock, InMemorySecretStore
from tests.unit.test_cli import clock, make_ctx, managed, out, store

__all__ = ["clock", "store"]  # the CLI tests' fixtures
from token_refresher.timeutil import to_epoch
from token_refresher_cli.app import main

pytestmark = pytest.mark.unit

INCIDENT = "inc-20261129-1200-abc123"


def fleet(store: InMemorySecretStore, clock: FixedClock) -> None:
    soon = str(to_epoch(clock.now + timedelta(days=2)))
    later = str(to_epoch(clock.now + timedelta(days=20)))
    failing = {"status": "failing", "last_error_class": "config", "incident": INCIDENT}
    for i in range(3):
        store.create(f"c/g-{i}", "{}", tags=managed(clock, **failing))
    store.create("c/ok", "{}", tags=managed(clock, incident="none"))
    store.create("c/li", "{}", tags=managed(clock, provider="linkedin", human_deadline=later))
    store.create("c/meta", "{}", tags=managed(clock, provider="meta", human_deadline=soon))


def test_status_opens_with_the_fleet_summary(store: InMemorySecretStore, clock: FixedClock) -> None:
    # Given a fleet with one incident of three connections and two human deadlines
    fleet(store, clock)
    ctx = make_ctx(store, clock)
    # When status runs
    main(["status", "--instance", TEST_INSTANCE], ctx)
    # Then it opens with counts by state and platform, the incident, the nearest deadlines
    lines = out(ctx).splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("CONNECTION"))
    summary = lines[:header]
    assert summary[0] == "fleet: 3 failing, 3 ok"
    assert "  google_ads: 3 failing, 1 ok" in summary
    assert "  meta: 1 ok" in summary
    assert "incidents open: 1" in summary
    assert f"  {INCIDENT}: 3 connections (token-refresher status --incident {INCIDENT})" in summary
    deadlines = summary[summary.index("nearest human deadlines:") + 1 :]
    assert [d.split()[-1] for d in deadlines] == ["c/meta", "c/li"]
    # and then the connections, as before
    assert len(lines) - header - 1 >= 6


def test_status_incident_lists_the_incidents_connections(
    store: InMemorySecretStore, clock: FixedClock
) -> None:
    fleet(store, clock)
    ctx = make_ctx(store, clock)
    main(["status", "--json", "--incident", INCIDENT, "--instance", TEST_INSTANCE], ctx)
    rows = json.loads(out(ctx))
    assert sorted(r["connection"] for r in rows) == ["c/g-0", "c/g-1", "c/g-2"]
    assert {r["incident"] for r in rows} == {INCIDENT}
