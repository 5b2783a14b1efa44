"""The authorization evaluation cannot pass empty: a missing simulator fails even with nothing to
evaluate, an e2e run with zero recorded function calls fails, a call no role can be found for
fails, and the resource policies a deployed stack holds (its request bus's) are part of every
evaluation of a call on that resource."""

from __future__ import annotations

from typing import Any

import pytest

from tests import conftest as session
from tests.support import authz
from tests.support.cfn_render import ACCOUNT, REGION

pytestmark = pytest.mark.unit

STACK = "tr-gate"
BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{STACK}-requests"


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An empty session state: no records, no call log, no deployments."""
    state: dict[str, Any] = {"log_offset": 0, "ran": set(), "report": None, "error": None}
    monkeypatch.setattr(session, "_AUTHZ", state)
    monkeypatch.setattr(authz, "RECORDS", [])
    monkeypatch.setattr(authz, "DEPLOYMENTS", {})
    monkeypatch.setattr(authz, "read_call_log", lambda _offset: [])
    return state


def test_a_missing_simulator_fails_even_with_nothing_to_evaluate(monkeypatch, tmp_path):
    # Given no simulator installed
    monkeypatch.setattr(authz, "SIMULATOR_DIR", tmp_path)
    # When nothing is to be evaluated, then it still fails, naming the fix
    with pytest.raises(RuntimeError, match="make authz-sim"):
        authz.simulate([])


def test_an_e2e_run_with_no_function_call_fails_whatever_started_localstack(fresh, monkeypatch):
    # Given e2e tests ran, LocalStack started with the recorder, and no call was recorded
    fresh["ran"].add("e2e")
    monkeypatch.setattr(authz, "recorder_in_localstack", lambda: True)
    # When the session's evaluation runs
    session._evaluate_authorization()
    # Then it fails
    assert "no call of a deployed function was recorded" in (fresh["error"] or "")


def test_a_call_attributed_to_no_role_fails_the_run(fresh, monkeypatch):
    # Given integration tests ran, one call of a known role and one of a function nobody deployed
    fresh["ran"].add("integration")
    known = {
        "principal": {"kind": "human", "role": "operator", "stack": STACK},
        "action": "secretsmanager:ListSecrets",
        "resource": "*",
    }
    stranger = {
        "principal": {"kind": "function", "function": "someone-elses-function"},
        "action": "secretsmanager:GetSecretValue",
        "resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:x-AbCdEf",
    }
    monkeypatch.setattr(authz, "RECORDS", [known, stranger])
    # When the session's evaluation runs
    session._evaluate_authorization()
    # Then the unattributed call fails it (it was printed only, before)
    assert "1 recorded call(s) could not be attributed" in (fresh["error"] or "")


def test_the_request_buss_policy_is_part_of_the_evaluation(fresh):
    # Given a deployed stack whose bus denies every principal but one, and its operator's call
    only = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheNamedPrincipalsMayRequest",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": BUS,
                "Condition": {"StringNotLike": {"aws:PrincipalArn": only}},
            }
        ],
    }
    deployment = authz.Deployment(STACK, STACK, bus_policies={BUS: policy})
    authz.DEPLOYMENTS[STACK] = deployment
    record = {
        "principal": {"kind": "human", "role": "operator", "stack": STACK},
        "action": "events:PutEvents",
        "resource": BUS,
    }
    # When it is evaluated (the operator's file allows PutEvents on that bus)
    report = authz.evaluate([record])
    # Then the bus's policy refuses it
    assert len(report.denied) == 1
    assert "OnlyTheNamedPrincipalsMayRequest" in report.denied[0]


def test_the_test_toolings_own_functions_are_counted_apart_not_evaluated():
    # Given a call by a function the executor's tooling tests created, and none by a product role
    record = {
        "principal": {"kind": "function", "function": authz.TOOLING_FUNCTIONS + "executor-1"},
        "action": "secretsmanager:ListSecrets",
        "resource": "*",
    }
    # When the calls are evaluated
    report = authz.evaluate([record])
    # Then it is neither evaluated nor unattributed
    assert (report.tooling, report.unattributed, report.calls) == (1, 0, 0)


def test_a_stack_deployed_twice_under_one_name_keeps_the_first_deployments_functions():
    # Given two deployments of one stack name this session (the README demo, then the walk)
    role = "arn:aws:iam::000000000000:role/r"
    first, second = authz.Deployment("twice", "twice"), authz.Deployment("twice", "twice")
    first.functions["twice-Sweep-1"] = ("SweepFunction", role, [])
    second.functions["twice-Sweep-2"] = ("SweepFunction", role, [])
    try:
        # When both are registered, one after the other
        authz.register(first)
        authz.register(second)
        # Then the calls of both deployments' functions are attributed
        for name in ("twice-Sweep-1", "twice-Sweep-2"):
            assert authz.identity_of({"kind": "function", "function": name}) is not None
    finally:
        authz.DEPLOYMENTS.pop("twice", None)
