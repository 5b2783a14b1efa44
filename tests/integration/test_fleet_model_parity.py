"""The fleet simulation's Secrets Manager model (bench/fleet/model.py) counts, per quota group, the
calls the real adapter makes on LocalStack for the same operation: one rotation (four steps) and
one liveness check of one connection. The engines are the same code on both sides; what could
drift is the model's map from the store's methods to AWS operations, or the way the simulation
builds the engines (an app-credentials check the functions make and the model skipped, say)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from bench.fleet.model import GROUP, Platform, QuotaStore, SimClock
from bench.fleet.sim import RecordedAlerts, model_engines

from tests.integration.conftest import INSTANCE, Aws, rotation_event, start_rotation
from tests.support import authz, stack
from tests.support.fakes import TEST_INSTANCE
from tests.support.handlers import LambdaContext, load_handler
from token_refresher.events import RotationRequest
from token_refresher.rotation.liveness import LivenessRequest
from token_refresher.state import TAG_APP_INSTANCES, TAG_INSTANCE
from token_refresher.timeutil import utcnow

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("handler_env")]

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# AWS operations -> the quota group they count against (AWS "Secrets Manager quotas" page).
AWS_GROUP = {
    "GetSecretValue": "Get+Describe",
    "DescribeSecret": "Get+Describe",
    "ListSecretVersionIds": "Get+Describe",
    "ListSecrets": "List",
    "PutSecretValue": "Put+UpdateStage",
    "UpdateSecretVersionStage": "Put+UpdateStage",
    "RotateSecret": "RotateSecret",
    "TagResource": "TagResource",
    "UntagResource": "TagResource",
}
REFRESH = "M.C5-parity-refresh-1"


def by_group(records: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Secrets Manager calls per quota group (SNS, Lambda and the rest are not the model's)."""
    return Counter(
        AWS_GROUP[r["operation"]] for r in records if r["action"].startswith("secretsmanager:")
    )


def modelled(calls: Counter[str]) -> Counter[str]:
    groups: Counter[str] = Counter()
    for op, n in calls.items():
        groups[GROUP[op]] += n
    return +groups


def on_localstack(aws: Aws, arn: str, noop: str) -> tuple[Counter[str], Counter[str]]:
    handler = load_handler("rotation").lambda_handler
    version_id = start_rotation(aws, arn, noop)  # the test's own call, not the function's
    with authz.calls_made() as rotation:
        for step in STEPS:
            handler(rotation_event(step, arn, version_id), LambdaContext())
    with authz.calls_made() as liveness:
        handler({"action": "liveness", "secret_id": arn}, LambdaContext())
    return by_group(rotation), by_group(liveness)


def in_the_model(
    document: Mapping[str, Any], tags: Mapping[str, str], app: tuple[str, str, Mapping[str, str]]
) -> tuple[Counter[str], Counter[str]]:
    """The same connection (document, tags, app secret) rotated and checked in the model."""
    clock = SimClock(utcnow())
    store = QuotaStore(clock)
    store.enforce = False
    platform = Platform("microsoft_ads", clock, random.Random(1))  # noqa: S311 - model latencies
    name = "conn/parity"
    app_id, app_value, app_tags = app  # the same tags, naming the model's instance
    store.create(app_id, app_value, tags=dict(app_tags) | {TAG_APP_INSTANCES: TEST_INSTANCE})
    live = platform.onboard(name)  # the model platform knows its connections by this option
    store.create(
        name,
        dict(document) | {"refresh_token": live, "options": {"conn": name}},
        tags=dict(tags) | {TAG_INSTANCE: TEST_INSTANCE},
    )
    engine, liveness = model_engines(store, RecordedAlerts(), clock, {"microsoft_ads": platform})
    store.usage.calls.clear()
    store.start_rotation(name, "v-parity")
    for step in STEPS:
        engine.run(RotationRequest.from_event(rotation_event(step, name, "v-parity")))
    rotation = modelled(store.usage.calls)
    store.usage.calls.clear()
    liveness.run(LivenessRequest(name))
    return rotation, modelled(store.usage.calls)


def test_the_model_counts_the_calls_localstack_sees_for_a_rotation_and_a_liveness_check(
    aws: Aws, fake_providers, secret_factory, app_secret, noop_rotation_function
) -> None:
    # Given one Microsoft Advertising connection (its refresh token rotates) due for a refresh
    fake_providers.seed("microsoft", access_token="EwB-parity-a", refresh_token=REFRESH)
    app_id = app_secret("microsoft", "ms-client-id", "ms-client-secret-parity")
    document = {
        "schema": 1,
        "provider": "microsoft_ads",
        "access_token": "EwB-parity-a",
        "refresh_token": REFRESH,
        "expires_at": stack.iso_in(timedelta(minutes=5)),
        "app_secret_id": app_id,
    }
    arn = secret_factory(document)
    tags = stack.tags_of(aws.sm, arn)
    app = (
        app_id,
        aws.sm.get_secret_value(SecretId=app_id)["SecretString"],
        stack.tags_of(aws.sm, app_id),
    )
    assert tags["token-refresher:instance"] == INSTANCE
    # When the rotation function rotates it and checks it, on LocalStack and in the model
    real_rotation, real_liveness = on_localstack(aws, arn, noop_rotation_function)
    model_rotation, model_liveness = in_the_model(document, tags, app)
    # Then the model counts what the recorder saw, quota group by quota group
    assert real_rotation["Put+UpdateStage"] >= 2  # createSecret's write, finishSecret's move
    assert model_rotation == real_rotation
    assert model_liveness == real_liveness
