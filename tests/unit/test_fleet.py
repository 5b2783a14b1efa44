"""The fleet simulation (bench/fleet/): a short run of the real engines on the models, the model's
call counts held to the unit tests' in-memory Secrets Manager, and docs/fleet.md equal to what the
generator writes from the committed results."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from bench.fleet.model import GROUP, QUOTAS
from bench.fleet.report import render
from bench.fleet.sim import Fleet, Run

from tests.support import stack
from tests.unit.conftest import Harness
from token_refresher.events import RotationRequest
from token_refresher.rotation.liveness import LivenessRequest

pytestmark = pytest.mark.unit

# One rotation (the four steps) and one liveness check, in the store's operations: what the model
# charges against the quotas. Each is one AWS API call in SecretsManagerStore (adapters/secrets.py).
ROTATION_CALLS = Counter(
    {"describe": 4, "get_value": 7, "put_pending": 1, "move_stage": 1, "tag": 1}
)


@pytest.fixture
def quiet() -> Iterator[None]:
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


def test_a_short_fleet_run_keeps_every_token_and_the_write_quota(quiet: None) -> None:
    # Given 300 connections in the documented mix, onboarded at once, and no incidents
    fleet = Fleet(Run(size=300, hours=2, incidents=False, measure_memory=False))
    # When two simulated hours of sweeps run the real engines
    result = fleet.simulate()
    # Then the hourly tokens were rotated, none expired and no refresh token was lost
    assert result["rotations_per_day"] > 0
    assert sum(result["expired_minutes"].values()) == 0
    assert result["refresh_tokens_lost"] == 0
    assert result["rotation_failures"] == 0
    # And no quota group was used beyond its quota in any second
    for group, usage in result["quota"].items():
        assert usage["peak"] <= QUOTAS[group]
    assert result["sweeps"] == 7  # 15-minute schedule, jitter under a minute


def test_an_onboarding_burst_beyond_the_start_rate_leaves_no_token_expired(quiet: None) -> None:
    # Given 2,000 connections onboarded at once (600 one-hour tokens, all due at the second sweep)
    # in queue mode, with a start rate that starts fewer than 600 in one sweep interval: 100,000
    # connections at 20/s in miniature (the burst that left Amazon Ads tokens expired there)
    run = Run(size=2000, hours=1.25, start_rate=0.32, queue=True, incidents=False)
    fleet = Fleet(replace(run, measure_memory=False))
    # When the first 75 simulated minutes run
    result = fleet.simulate()
    # Then the sweep before the burst started the excess early, and no token expired
    assert sum(result["expired_minutes"].values()) == 0
    assert result["refresh_tokens_lost"] == 0


def test_a_platform_outage_leaves_no_other_platforms_token_expired(quiet: None) -> None:
    # Given 2,000 connections in queue mode, with Google Ads answering 5xx for an hour and a start
    # rate (0.35/s) that its recovery wave and the hourly tokens together exceed: 100,000
    # connections at 20/s in miniature (where first-come order left 28,078 Amazon and Microsoft
    # token-minutes expired behind Google's retries)
    fleet = Fleet(Run(size=2000, hours=4, start_rate=0.35, queue=True, measure_memory=False))
    # When the outage and its aftermath run
    result = fleet.simulate()
    # Then only Google's tokens expired, and Google's all came back within the hour after it
    expired = result["expired_minutes"]
    assert expired.pop("google_ads") > 0
    assert expired == dict.fromkeys(expired, 0.0)
    assert result["outage_recovery_min"] is not None
    assert result["outage_recovery_min"] <= 60
    assert result["refresh_tokens_lost"] == 0
    # And the outage paged once, as one incident: no connection of it paged on its own
    pages = result["pages"]
    assert pages["incident.opened"] == 1
    assert set(pages) <= {"incident.opened", "incident.updated", "incident.resolved"} | {
        "token.reauth_required"
    }


def _counts(calls: list[tuple[str, str]], secret: str) -> Counter[str]:
    return Counter(op for op, target in calls if target == secret)


def test_the_models_calls_for_one_rotation_are_the_in_memory_stores(quiet: None) -> None:
    # Given the unit tests' store and the model, each with one connection
    harness = Harness()
    name = harness.add_secret()
    harness.store.start_rotation(name, "v1")
    fleet = Fleet(Run(size=6, hours=1, incidents=False, measure_memory=False))
    fleet.onboard()
    conn = next(n for n in fleet.store.names() if n.startswith("conn/google_ads"))
    fleet.store.start_rotation(conn, "v1")
    before = Counter(fleet.store.usage.calls)
    # When one rotation runs on each
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        event = {"Step": step, "ClientRequestToken": "v1"}
        harness.engine.run(RotationRequest.from_event(event | {"SecretId": name}))
        fleet.engine.run(RotationRequest.from_event(event | {"SecretId": conn}))
    # Then both made the same calls on the connection's secret, the ones the model charges
    on_secret = _counts(harness.store.calls, name)
    model = Counter(fleet.store.usage.calls) - before
    # the app secret, looked up once as the default deploy does: its binding tag, then its value
    app_lookup = Counter({"describe": 1, "get_value": 1})
    assert on_secret == ROTATION_CALLS
    assert model - app_lookup == ROTATION_CALLS
    assert set(model) <= set(GROUP)


def test_one_liveness_check_costs_two_describes_one_read_and_one_tag(quiet: None) -> None:
    # Given one Meta connection in the model
    fleet = Fleet(Run(size=6, hours=1, incidents=False, measure_memory=False))
    fleet.onboard()
    conn = next(n for n in fleet.store.names() if n.startswith("conn/meta"))
    fleet.liveness.run(LivenessRequest(conn))  # warms the app-credentials cache
    before = Counter(fleet.store.usage.calls)
    # When the rotation function checks it
    fleet.liveness.run(LivenessRequest(conn))
    # Then it described the secret (ownership, then the check), read it, and recorded the verdict
    # in one tag write
    assert Counter(fleet.store.usage.calls) - before == Counter(
        {"describe": 2, "get_value": 1, "tag": 1}
    )


def test_the_fleet_doc_is_what_the_generator_writes_from_the_recorded_results() -> None:
    # Given the committed results of the last `make fleet`
    results = json.loads((stack.REPO_ROOT / "docs" / "fleet.json").read_text(encoding="utf-8"))
    # Then docs/fleet.md is exactly what the generator writes from them
    doc = (stack.REPO_ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    assert doc == render(results)
    assert {r["size"] for r in results} == {1_000, 10_000, 100_000}
