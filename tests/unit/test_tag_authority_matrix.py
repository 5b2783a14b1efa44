"""The negative matrix of two instances in one account: every documented human role of B
(docs/policies/*.json rendered for B, the pipelines' reader included), every kind of A resource,
every Secrets Manager action on a secret and every EventBridge action on a bus or a rule (IAM's
service reference as the pinned simulator ships it), evaluated in one simulator run. Not one may be
allowed."""

from __future__ import annotations

import pytest

from tests.support import authz, iam_reference
from tests.support.two_instances import (
    DENIED,
    KINDS,
    PREFIX,
    matrix_calls,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def matrix() -> list[tuple[str, str, str, str]]:
    """(role, kind, action, decision) for the whole matrix, in one simulator run."""
    calls = matrix_calls(PREFIX)
    results = authz.simulate([request for *_, request in calls])
    return [(r, k, a, res["decision"]) for (r, k, a, _), res in zip(calls, results, strict=True)]


def test_the_matrix_covers_every_role_kind_and_action_of_the_service_reference(matrix):
    # Given the generated matrix
    roles = {r for r, *_ in matrix}
    kinds = {k for _, k, *_ in matrix}
    actions = {a.split(" ")[0] for *_, a, _ in matrix}
    # Then it holds every documented role, every kind of A resource, and every Secrets Manager
    # action on a secret (CancelRotateSecret, RestoreSecret, the resource policies, UpdateSecret,
    # replication included) and every EventBridge action on a bus or rule
    assert roles == {*authz.HUMAN_ROLES, "reader"}
    assert kinds == {*KINDS, "request-bus", "request-rule"}
    expected = {"secretsmanager:CancelRotateSecret", "secretsmanager:RestoreSecret"}
    expected |= {"secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy"}
    expected |= {"secretsmanager:UpdateSecret", "secretsmanager:ReplicateSecretToRegions"}
    expected |= {"events:PutEvents", "events:PutRule", "events:PutTargets"}
    assert expected <= actions
    assert len(actions) == len(iam_reference.actions_on("secretsmanager", "Secret")) - 1 + len(
        set(iam_reference.actions_on("events", "event-bus"))
        | set(iam_reference.actions_on("events", "rule-on-custom-event-bus"))
    )


def test_no_documented_role_of_b_may_act_on_any_kind_of_a_resource(matrix):
    # Given every documented role of B, every kind of A resource, every action
    # When each is evaluated with the pinned simulator
    allowed = [f"{r} {a} on {k}" for r, k, a, d in matrix if d not in DENIED]
    errors = [f"{r} {a} on {k}" for r, k, a, d in matrix if d == "Error"]
    # Then none is allowed, and the simulator understood every request
    assert errors == []
    assert allowed == [], f"{len(allowed)} of {len(matrix)} allowed:\n" + "\n".join(allowed)
