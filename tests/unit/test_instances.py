"""Several instances in one account: each engine acts on its own instance's secrets only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.fakes import TEST_INSTANCE
from tests.unit.conftest import Harness, token_doc
from token_refresher.adapters.queue import RotationJob
from token_refresher.config import Settings
from token_refresher.errors import ConfigError
from token_refresher.instances import NotThisInstance, list_own, refusal
from token_refresher.sweep.adoption import scan_due
from token_refresher.sweep.dispatch import RotationWorker
from token_refresher.sweep.engine import SweepEngine, SweepRequest
from token_refresher.sweep.starter import StartOutcome

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[2] / "events"
MANAGED = "token-refresher:managed"
INSTANCE = "token-refresher:instance"
ROTATION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:rotation"


def secret(harness: Harness, name: str, instance: str | None, **tags: str) -> str:
    """A managed secret of ``instance`` (None: made before instances, no instance tag)."""
    harness.store.create(
        name,
        json.dumps(token_doc()),
        tags={MANAGED: "true", INSTANCE: instance, "token-refresher:provider": "fake"} | tags,
    )
    return name


def sweeper(harness: Harness, **kwargs: object) -> SweepEngine:
    return harness.sweep_engine(rotation_lambda_arn=ROTATION_ARN, **kwargs)


def rotated(harness: Harness) -> list[str]:
    return [sid for op, sid in harness.store.calls if op == "rotate"]


# --- who owns a secret --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ({MANAGED: "true", INSTANCE: TEST_INSTANCE}, None),
        ({MANAGED: "true", INSTANCE: "staging"}, "belongs to instance 'staging'"),
        ({MANAGED: "true", INSTANCE: TEST_INSTANCE + "2"}, "belongs to instance"),
        ({MANAGED: "true"}, "belongs to no instance"),
        ({MANAGED: "true", INSTANCE: ""}, "belongs to no instance"),
        ({INSTANCE: TEST_INSTANCE}, "not managed"),
        ({MANAGED: "false", INSTANCE: TEST_INSTANCE}, "not managed"),
    ],
)
def test_a_secret_is_an_instances_own_only_with_both_tags(tags, why):
    result = refusal(tags, TEST_INSTANCE)
    assert result is None if why is None else why in (result or "")


def test_listing_keeps_exact_instance_matches_only(harness):
    # Given secrets of this instance, of one whose name starts the same, and of none
    secret(harness, "c/mine", TEST_INSTANCE)
    secret(harness, "c/longer", TEST_INSTANCE + "-staging")
    secret(harness, "c/none", None)
    # When this instance's secrets are listed, then only its own come back
    assert [e.name for e in list_own(harness.store, TEST_INSTANCE)] == ["c/mine"]


@pytest.mark.parametrize(
    ("raw", "ok"),
    [("prod", True), ("tr-e2e.b_1", True), ("", False), ("bad name", False), ("-x", False)],
)
def test_instance_name_is_parsed_once_and_validated(raw, ok):
    env = {"INSTANCE_NAME": raw}
    if ok:
        assert Settings.from_env(env).require_instance() == raw
    elif raw == "":
        with pytest.raises(ConfigError, match="INSTANCE_NAME: is required"):
            Settings.from_env(env).require_instance()
    else:
        with pytest.raises(ConfigError, match="INSTANCE_NAME"):
            Settings.from_env(env)


# --- the rotation function ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "reason"),
    [("staging", "belongs to instance 'staging'"), (None, "belongs to no instance")],
)
def test_rotation_refuses_another_instances_secret_with_one_alert_and_no_writes(
    harness, owner, reason
):
    # Given a secret of another instance (or of none) whose rotation reached this function
    name = secret(harness, "c/theirs", owner)
    harness.store.start_rotation(name, "tok-1")
    tags_before = dict(harness.store.tags_of(name))
    harness.store.calls.clear()
    # When createSecret runs
    with pytest.raises(NotThisInstance) as info:
        harness.step("createSecret", name, "tok-1")
    # Then a config error, one config alert naming why, nothing read, nothing written
    assert info.value.error_class.value == "config"
    assert reason in info.value.message
    assert harness.notifier.events() == ["token.config_invalid"]
    assert reason in harness.notifier.alerts[0].message
    assert harness.store.calls == [("describe", name)]
    assert harness.store.tags_of(name) == tags_before
    assert harness.provider.refresh_calls == 0


# --- the sweep ----------------------------------------------------------------------------------


def test_scheduled_sweep_rotates_only_its_own_instances_secrets(harness):
    # Given due secrets of this instance and of another one
    mine = secret(harness, "c/mine", TEST_INSTANCE)
    secret(harness, "c/theirs", "staging")
    # When a scheduled sweep runs
    report = sweeper(harness).run(SweepRequest(scheduled=True))
    # Then only its own is rotated, and the other instance's is not even scanned
    assert rotated(harness) == [harness.store.arn_of(mine)]
    assert report.scanned == 1
    assert harness.notifier.alerts == []


def test_a_request_for_another_instance_is_refused_before_anything_is_read(harness):
    secret(harness, "c/mine", TEST_INSTANCE)
    request = SweepRequest.from_event({"all": True, "instance": "staging"})
    with pytest.raises(ConfigError, match="for instance 'staging'"):
        sweeper(harness).run(request)
    assert harness.store.calls == []


def test_a_request_without_an_instance_is_refused_with_a_clear_error():
    with pytest.raises(ConfigError) as info:
        SweepRequest.from_event({"all": True})
    assert info.value.field == "detail.instance"
    assert "InstanceName" in info.value.message


def test_named_secrets_of_another_instance_are_refused_with_an_alert(harness):
    # Given a secret of another instance named in this instance's request
    theirs = secret(harness, "c/theirs", "staging")
    request = SweepRequest.from_event(
        {"secret_ids": [theirs], "force": True, "instance": TEST_INSTANCE}
    )
    # When it runs, then it is refused with one config alert and not rotated or tagged
    report = sweeper(harness).run(request)
    assert report.errors[0]["error"].startswith("belongs to instance 'staging'")
    assert harness.notifier.events() == ["token.config_invalid"]
    assert rotated(harness) == []
    assert harness.store.writes() == []
    assert not any(op == "tag" for op, _ in harness.store.calls)


# --- secrets made before instances --------------------------------------------------------------


def test_unowned_secrets_are_alerted_once_a_day_and_left_alone(harness):
    # Given a managed secret of no instance, and a sweep that is not told to adopt
    name = secret(harness, "c/legacy", None)
    engine = sweeper(harness)
    # When the first sweep of the hour runs
    report = engine.run(SweepRequest(scheduled=True))
    # Then it is reported and alerted, not adopted and not rotated
    assert report.unowned == [harness.store.arn_of(name)]
    assert report.adopted == []
    assert harness.notifier.events() == ["token.config_invalid"]
    assert "belongs to no instance" in harness.notifier.alerts[0].message
    assert INSTANCE not in harness.store.tags_of(name)
    assert rotated(harness) == []
    # And the next hour stays quiet, a day later it is reminded
    harness.clock.advance(timedelta(hours=1))
    engine.run(SweepRequest(scheduled=True))
    assert len(harness.notifier.alerts) == 1
    harness.clock.advance(timedelta(hours=23))
    engine.run(SweepRequest(scheduled=True))
    assert harness.notifier.events() == ["token.config_invalid"] * 2
    assert harness.notifier.alerts[1].reminder is True


def test_unowned_secrets_are_looked_for_in_the_first_sweep_of_each_hour_only(harness):
    secret(harness, "c/legacy", None)
    harness.clock.advance(timedelta(minutes=20))
    report = sweeper(harness, sweep_interval=timedelta(minutes=15)).run(
        SweepRequest(scheduled=True)
    )
    assert report.unowned == []
    assert not any(key == MANAGED for op, key in harness.store.calls if op == "list")
    now = harness.clock.now
    assert scan_due(now.replace(minute=14), timedelta(minutes=15)) is True
    assert scan_due(now.replace(minute=15), timedelta(minutes=15)) is False
    assert scan_due(now.replace(minute=45), timedelta(hours=2)) is True


def test_adopt_untagged_adopts_unowned_secrets_and_the_same_sweep_leaves_others_alone(harness):
    # Given a sweep told to adopt (AdoptUntagged=true), an unowned secret and another's secret
    legacy = secret(harness, "c/legacy", None)
    theirs = secret(harness, "c/theirs", "staging")
    harness.clock.advance(timedelta(minutes=30))  # not the hourly look: adoption runs anyway
    # When a scheduled sweep runs
    report = sweeper(harness, adopt_untagged=True).run(SweepRequest(scheduled=True))
    # Then the unowned secret is this instance's now and rotated; the other's is untouched
    assert report.adopted == [harness.store.arn_of(legacy)]
    assert harness.store.tags_of(legacy)[INSTANCE] == TEST_INSTANCE
    assert harness.store.tags_of(theirs)[INSTANCE] == "staging"
    assert rotated(harness) == [harness.store.arn_of(legacy)]
    assert harness.notifier.alerts == []


def test_the_adopt_event_adopts_now_and_its_dry_run_changes_nothing(harness):
    # Given a deployment that allows adoption by request (AdoptUntagged=on-request)
    legacy = secret(harness, "c/legacy", None)
    event = json.loads((EVENTS / "manual-adopt-untagged.json").read_text())
    dry = SweepRequest.from_event(event | {"detail": event["detail"] | {"dry_run": True}})
    report = sweeper(harness, adopt_on_request=True).run(dry)
    assert report.adopted == [harness.store.arn_of(legacy)]
    assert INSTANCE not in harness.store.tags_of(legacy)
    report = sweeper(harness, adopt_on_request=True).run(SweepRequest.from_event(event))
    assert report.adopted == [harness.store.arn_of(legacy)]
    assert report.started == []  # adoption only: nothing selected for rotation
    assert harness.store.tags_of(legacy)[INSTANCE] == TEST_INSTANCE


# --- the queue worker ---------------------------------------------------------------------------


def test_the_worker_does_not_start_another_instances_rotation(harness):
    theirs = secret(harness, "c/theirs", "staging")
    worker = RotationWorker(harness.starter(rotation_lambda_arn=ROTATION_ARN))
    job = RotationJob(theirs, "due", harness.clock.now)
    assert worker.handle(job) == StartOutcome.NOT_MANAGED
    assert rotated(harness) == []


# --- a connection moved between instances -------------------------------------------------------


def test_a_moved_connection_gets_this_instances_rotation_function_attached(harness):
    # Given a secret moved here (tag changed) still attached to the old instance's function
    old_arn = "arn:aws:lambda:us-east-1:000000000000:function:staging-rotation"
    name = secret(harness, "c/moved", TEST_INSTANCE)
    harness.store.attach_rotation(name, old_arn)
    own = secret(harness, "c/own", TEST_INSTANCE)
    harness.store.attach_rotation(own, ROTATION_ARN)
    # When a scheduled sweep rotates both
    sweeper(harness).run(SweepRequest(scheduled=True))
    # Then the moved one is re-attached to this instance's function, the other left as it is
    assert harness.store.rotate_calls(name) == [ROTATION_ARN]
    assert harness.store.rotate_calls(own) == [None]
    assert harness.store.attached_rotation(name) == ROTATION_ARN


@pytest.mark.parametrize(("raw", "adopt"), [("", False), ("false", False), ("TRUE", True)])
def test_adopt_untagged_is_parsed_once(raw, adopt):
    assert Settings.from_env({"ADOPT_UNTAGGED": raw}).adopt_untagged is adopt


def test_adopt_untagged_refuses_anything_but_its_three_settings():
    with pytest.raises(ConfigError, match="ADOPT_UNTAGGED"):
        Settings.from_env({"ADOPT_UNTAGGED": "auto"})


def test_a_request_to_adopt_is_refused_where_the_stack_does_not_allow_it(harness):
    # Given a deployment with AdoptUntagged=false (the default) and a secret of no instance
    legacy = secret(harness, "c/legacy", None)
    event = json.loads((EVENTS / "manual-adopt-untagged.json").read_text())
    # When anyone who may send the manual event asks it to adopt
    report = sweeper(harness).run(SweepRequest.from_event(event))
    # Then nothing is adopted or tagged, and the report says why and what to change
    assert report.adopted == []
    assert report.unowned == [harness.store.arn_of(legacy)]
    assert INSTANCE not in harness.store.tags_of(legacy)
    assert [op for op, _ in harness.store.calls if op == "tag"] == []
    [error] = report.errors
    assert "AdoptUntagged=on-request" in error["error"]


def test_a_refused_adoption_with_nothing_to_adopt_is_no_error(harness):
    event = json.loads((EVENTS / "manual-adopt-untagged.json").read_text())
    report = sweeper(harness).run(SweepRequest.from_event(event))
    assert (report.adopted, report.errors) == ([], [])


@pytest.mark.parametrize(
    ("raw", "scheduled", "on_request"),
    [("false", False, False), ("on-request", False, True), ("true", True, True)],
)
def test_adopt_untagged_has_three_settings(raw, scheduled, on_request):
    cfg = Settings.from_env({"ADOPT_UNTAGGED": raw})
    assert (cfg.adopt_untagged, cfg.adopt_on_request) == (scheduled, on_request)
