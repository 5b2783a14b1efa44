"""Authority no one can re-tag: each attack of docs/security.md rows 29 to 34, by a documented
role of B (or of A on its own instance), as a case of its own, evaluated with the pinned IAM policy
simulator (tests/support/two_instances.py)."""

from __future__ import annotations

import pytest

from tests.support import authz
from tests.support.cfn_render import ACCOUNT, REGION, template
from tests.support.two_instances import (
    APP_INSTANCES,
    APPS,
    AWAITING,
    DENIED,
    INSTANCE,
    KINDS,
    MANAGED,
    PROVIDER,
    SECRET,
    STATE_TAGS,
    A,
    B,
    T,
    bus,
    bus_policy,
    call,
    decide,
    policies,
    renderer_policies,
    role,
)

pytestmark = pytest.mark.unit

# --- the attacks, each a case of its own (docs/security.md) ---


def test_planting_b_cannot_plant_a_connection_of_a_under_the_app_prefix():
    # Given B's app-credential owner, and a new secret under the app prefix
    owner = role(B, "app-credential-owner")
    planted = f"{SECRET}{APPS}{B}/planted-AbCdEf"
    claim = {MANAGED: "true", INSTANCE: A, APP_INSTANCES: B}
    # When it creates it tagged as A's connection (CreateSecret with tags is also a TagResource)
    decisions = decide(
        call(owner, "secretsmanager:CreateSecret", planted, request_tags=claim),
        call(owner, "secretsmanager:TagResource", planted, request_tags=claim),
    )
    # Then both are refused
    assert set(decisions) <= DENIED, decisions


def test_planting_a_functions_never_write_under_the_app_prefix():
    # Given A's function roles and a secret under the app prefix tagged as A's connection
    planted = KINDS["app-prefix-secret"]
    writes = ["PutSecretValue", "TagResource", "RotateSecret", "UpdateSecretVersionStage"]
    requests = [
        call(
            named,
            f"secretsmanager:{w}",
            planted["resource"],
            resource_tags=planted["tags"],
            request_tags={T + "status": "ok"} if w == "TagResource" else None,
        )
        for named in renderer_policies(A).values()
        for w in writes
    ]
    # When each function writes, tags or rotates it, then each is refused
    assert set(decide(*requests)) <= DENIED


def test_empty_prefix_the_signing_key_and_untagged_secrets_cannot_be_tagged_into_b():
    # Given B's roles, A's signing key and an untagged secret of the account
    claims = [{MANAGED: "true", INSTANCE: B, PROVIDER: "meta"}, {AWAITING: "true", INSTANCE: B}]
    requests = [
        call(named, "secretsmanager:TagResource", KINDS[kind]["resource"], request_tags=tags)
        for named in policies(B).values()
        for kind in ("signing-key", "untagged-secret")
        for tags in claims
    ]
    # When each tags them as B's connection, then each is refused
    assert set(decide(*requests)) <= DENIED


def test_empty_prefix_an_empty_connection_prefix_is_refused():
    # Given the policy files, when rendered with an empty ConnectionPrefix, then they refuse
    for name in authz.HUMAN_ROLES:
        with pytest.raises(ValueError, match="ConnectionPrefix"):
            authz.human_policy(name, instance=B, stack=B, connection_prefix="")
    # And the template refuses an empty or app-overlapping ConnectionPrefix at deploy
    parameter = template()["Parameters"]["ConnectionPrefix"]
    assert parameter["MinLength"] >= 1
    rule = template()["Rules"]["ConnectionsAndAppCredentialsAreDisjoint"]
    assert rule["Assertions"]


def test_adoption_no_role_adopts_a_legacy_secret():
    # Given B's operator and app-credential owner, and a legacy secret (managed, no instance)
    legacy = KINDS["legacy-secret"]
    requests = [
        call(
            role(B, "operator"),
            "secretsmanager:TagResource",
            legacy["resource"],
            resource_tags=legacy["tags"],
            request_tags={AWAITING: "true", INSTANCE: B},
        ),
        call(
            role(B, "app-credential-owner"),
            "secretsmanager:TagResource",
            legacy["resource"],
            resource_tags=legacy["tags"],
            request_tags={MANAGED: "true", INSTANCE: B},
        ),
    ]
    # When each tags it into B, then each is refused
    assert set(decide(*requests)) <= DENIED


@pytest.mark.parametrize("key", STATE_TAGS)
def test_floor_no_role_writes_a_state_tag_on_its_own_connection(key):
    # Given every documented role of A and A's own connection
    own = KINDS["tagged-connection"]
    value = A if key == "instance" else "0"
    requests = [
        call(named, action, own["resource"], resource_tags=own["tags"], **kwargs)
        for named in policies(A).values()
        for action, kwargs in (
            ("secretsmanager:TagResource", {"request_tags": {T + key: value}}),
            ("secretsmanager:UntagResource", {"tag_keys": [T + key]}),
        )
    ]
    # When each writes or removes the state tag, then each is refused
    assert set(decide(*requests)) <= DENIED


def test_floor_no_role_rotates_a_connection_past_the_floor():
    # Given every documented role of A and A's own connection
    own = KINDS["tagged-connection"]
    requests = [
        call(named, "secretsmanager:RotateSecret", own["resource"], resource_tags=own["tags"])
        for named in policies(A).values()
    ]
    # When each calls RotateSecret (which no floor checks), then each is refused
    assert set(decide(*requests)) <= DENIED


def test_upgrade_window_b_cannot_claim_an_unbound_app_secret():
    # Given B's app-credential owner and A's app secret that has no app-instances tag yet
    unbound = KINDS["unbound-app-secret"]
    owner = role(B, "app-credential-owner")
    # When it tags it for B, then reads it
    decisions = decide(
        call(
            owner,
            "secretsmanager:TagResource",
            unbound["resource"],
            resource_tags=unbound["tags"],
            request_tags={APP_INSTANCES: B},
        ),
        call(
            owner,
            "secretsmanager:GetSecretValue",
            unbound["resource"],
            resource_tags=unbound["tags"] | {APP_INSTANCES: B},
        ),
    )
    # Then the tag is refused (the read would follow from it)
    assert decisions[0] in DENIED


def test_side_doors_the_sweep_takes_manual_requests_only_through_the_bus():
    # Given A's operator and A's sweep function
    sweep = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{A}-SweepFunction-AbCdEf"
    # When it invokes the sweep directly (force and adoption would not pass the bus's policy)
    [decision] = decide(call(role(A, "operator"), "lambda:InvokeFunction", sweep))
    # Then it is refused
    assert decision in DENIED


def test_side_doors_the_bus_always_has_a_policy_that_refuses_other_accounts():
    # Given A deployed without RequestPrincipals (the default)
    policy = bus_policy(A)
    # Then its bus still has a policy
    assert policy is not None
    anywhere = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}],
    }
    named = [{"name": "anywhere", "policy": anywhere}]
    stranger = "arn:aws:iam::111122223333:role/anyone"
    mine = f"arn:aws:iam::{ACCOUNT}:role/{A}-operator"
    # When a principal of this account and one of another send to it
    decisions = decide(
        call(named, "events:PutEvents", bus(A), resource_policy=policy, principal=mine)
        | {"context": {"aws:PrincipalArn": mine, "aws:PrincipalAccount": ACCOUNT}},
        call(named, "events:PutEvents", bus(A), resource_policy=policy, principal=stranger)
        | {"context": {"aws:PrincipalArn": stranger, "aws:PrincipalAccount": "111122223333"}},
    )
    # Then only this account's may
    assert decisions == ["Allowed", "ExplicitlyDenied"]


def test_side_doors_dry_runs_need_no_write_or_force_power():
    # Given A's operator: the dry runs of rotate and adopt read tags only
    own = KINDS["tagged-connection"]
    operator = role(A, "operator")
    # When it lists and describes (what a dry run reads), then it may
    assert decide(
        call(operator, "secretsmanager:ListSecrets", "*"),
        call(operator, "secretsmanager:DescribeSecret", own["resource"], resource_tags=own["tags"]),
    ) == ["Allowed", "Allowed"]
