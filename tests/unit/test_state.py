"""The alerting policy: transitions and escalations only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from token_refresher.alerts import AlertEvent
from token_refresher.errors import ErrorClass
from token_refresher.state import AlertPolicy, Status, TokenState, on_failure, on_success

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FAR = NOW + timedelta(days=30)
POLICY = AlertPolicy(failure_threshold=3, sweep_interval=timedelta(minutes=15))


def fail(state: TokenState, cls: ErrorClass, *, now=NOW, expires_at=FAR):
    return on_failure(state, cls, now=now, expires_at=expires_at, policy=POLICY)


@pytest.mark.parametrize(
    ("error_class", "event"),
    [
        (ErrorClass.REAUTH_REQUIRED, AlertEvent.REAUTH_REQUIRED),
        (ErrorClass.CONFIG, AlertEvent.CONFIG_INVALID),
        (ErrorClass.PERMISSION, AlertEvent.REFRESH_FAILED),
    ],
)
def test_non_transient_errors_alert_at_once(error_class, event):
    decision = fail(TokenState(), error_class)
    assert decision.event is event
    assert decision.state.status is not Status.OK


def test_transient_errors_escalate_on_the_threshold_only():
    state = TokenState()
    events = []
    for _ in range(5):
        decision = fail(state, ErrorClass.TRANSIENT)
        events.append(decision.event)
        state = decision.state
    assert events == [None, None, AlertEvent.REFRESH_FAILED, None, None]
    assert state.consecutive_failures == 5


def test_transient_error_close_to_expiry_escalates_at_once():
    decision = fail(TokenState(), ErrorClass.TRANSIENT, expires_at=NOW + timedelta(minutes=29))
    assert decision.event is AlertEvent.REFRESH_FAILED


def test_failing_is_reminded_daily_not_more():
    failing = TokenState(Status.FAILING, 3, "transient", last_alert_at=NOW)
    assert fail(failing, ErrorClass.TRANSIENT, now=NOW + timedelta(hours=23)).event is None
    later = fail(failing, ErrorClass.TRANSIENT, now=NOW + timedelta(hours=24))
    assert (later.event, later.reminder) == (AlertEvent.REFRESH_FAILED, True)


def test_a_failing_connection_alerts_at_once_when_it_needs_reauthorization():
    # Given a connection already failing and alerted about an hour ago (alerts.md's edge case)
    failing = TokenState(Status.FAILING, 3, "transient", last_alert_at=NOW)
    # When the provider then says the grant is gone
    decision = fail(failing, ErrorClass.REAUTH_REQUIRED, now=NOW + timedelta(hours=1))
    # Then token.reauth_required goes out at once, not as a reminder a day later
    assert (decision.event, decision.reminder) == (AlertEvent.REAUTH_REQUIRED, False)
    assert decision.state.status is Status.REAUTH_REQUIRED


def test_transient_error_does_not_clear_reauth_required():
    reauth = TokenState(Status.REAUTH_REQUIRED, 1, "reauth_required", last_alert_at=NOW)
    decision = fail(reauth, ErrorClass.TRANSIENT, now=NOW + timedelta(hours=1))
    assert decision.state.status is Status.REAUTH_REQUIRED
    assert decision.event is None


@pytest.mark.parametrize("status", [Status.FAILING, Status.REAUTH_REQUIRED])
def test_success_after_trouble_is_recovered(status):
    decision = on_success(TokenState(status, 4, "transient", NOW), now=NOW)
    assert decision.event is AlertEvent.RECOVERED
    assert decision.state == TokenState(Status.OK, 0, None, NOW)


@pytest.mark.parametrize(
    ("last_alert", "told"),
    [
        (None, False),  # never alerted
        (NOW - timedelta(hours=2), False),  # an older trouble's alert: this one was never told
        (NOW - timedelta(minutes=30), True),  # alerted after the last success
    ],
)
def test_a_failure_recovers_aloud_only_when_it_was_told(last_alert, told):
    # Given a connection failing since its last success an hour ago, last alerted ``last_alert``
    state = TokenState(Status.FAILING, 1, "transient", last_alert)
    # When it succeeds
    decision = on_success(state, now=NOW, last_good=NOW - timedelta(hours=1))
    # Then it is ok again, and says so only when its failure had been alerted
    assert decision.state.status is Status.OK
    assert (decision.event is AlertEvent.RECOVERED) is told


def test_success_when_ok_is_silent():
    assert on_success(TokenState(), now=NOW).event is None


def test_tags_round_trip_and_tolerate_garbage():
    state = TokenState(Status.FAILING, 2, "transient", NOW)
    assert TokenState.from_tags(state.to_tags()) == state
    junk = {"token-refresher:status": "??", "token-refresher:consecutive-failures": "x"}
    assert TokenState.from_tags(junk) == TokenState()
