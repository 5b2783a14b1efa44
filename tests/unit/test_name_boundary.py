"""The name boundary in code: a secret named under the app-credentials prefix is never a
connection, whatever its tags say (a "connection" planted there by someone who may create app
secrets, tagged for this instance). The sweep's starter and the rotation engine refuse it before
anything is read or written; the template's IAM says the same (NeverWriteUnderTheAppPrefix)."""

from __future__ import annotations

import json

import pytest

from tests.support.fakes import TEST_INSTANCE
from tests.unit.conftest import Harness, token_doc
from token_refresher.config import Settings
from token_refresher.events import RotationRequest
from token_refresher.instances import NotThisInstance, name_refusal
from token_refresher.rotation.factory import build_rotation_engine
from token_refresher.sweep.starter import RotationStarter, StartOutcome

pytestmark = pytest.mark.unit

APPS = "token-refresher/apps/"
PLANTED = f"{APPS}planted"
TAGS = {
    "token-refresher:managed": "true",
    "token-refresher:instance": TEST_INSTANCE,
    "token-refresher:provider": "fake",
}


def plant(harness: Harness) -> str:
    harness.store.create(PLANTED, json.dumps(token_doc()), tags=TAGS)
    harness.store.calls.clear()
    return PLANTED


def test_a_connection_under_the_app_prefix_is_never_started(harness):
    # Given a secret under the app prefix tagged as this instance's connection
    name = plant(harness)
    starter = RotationStarter(
        harness.store,
        instance=TEST_INSTANCE,
        rotation_lambda_arn="arn:aws:lambda:us-east-1:000000000000:function:rot",
        clock=harness.clock,
        app_prefix=APPS,
    )
    # When the sweep (or the queue worker) starts its rotation, forced
    outcome = starter.start(name, force=True)
    # Then it is refused as not ours, after one DescribeSecret and nothing written
    assert outcome is StartOutcome.NOT_MANAGED
    assert harness.store.calls == [("describe", name)]


def test_the_rotation_engine_refuses_it_before_reading_a_value(harness):
    # Given the same secret, and a rotation of it that reached the rotation function
    name = plant(harness)
    harness.store.start_rotation(name, "tok-1")
    harness.store.calls.clear()
    engine = build_rotation_engine(
        harness.store,
        harness.notifier,
        harness.engine.ctx,
        instance=TEST_INSTANCE,
        app_prefix=APPS,
    )
    # When createSecret runs
    event = {"Step": "createSecret", "SecretId": name, "ClientRequestToken": "tok-1"}
    with pytest.raises(NotThisInstance) as info:
        engine.run(RotationRequest.from_event(event))
    # Then a config error says why, nothing was read or written, no provider was called
    assert "app-credentials prefix" in info.value.message
    assert harness.store.calls == [("describe", name)]
    assert harness.provider.refresh_calls == 0


def test_the_prefix_comes_from_the_stack_and_only_names_under_it_are_refused():
    # Given the functions' settings, then APP_SECRET_PREFIX is read once from the environment
    assert Settings.from_env({"APP_SECRET_PREFIX": APPS}).app_secret_prefix == APPS
    # And only names under it are refused (no prefix configured: nothing is)
    assert name_refusal(PLANTED, APPS) is not None
    assert name_refusal("token-refresher/connections/meta", APPS) is None
    assert name_refusal(PLANTED, "") is None
