"""The controls: every documented command of every human role, on its own instance, is allowed
by its policy file (so the matrix's and the attacks' denials are not broken requests)."""

from __future__ import annotations

import pytest

from tests.support import authz
from tests.support.cfn_render import ACCOUNT, REGION
from tests.support.two_instances import (
    APP_FOR,
    APP_INSTANCES,
    APPS,
    AWAITING,
    INSTANCE,
    KINDS,
    MANAGED,
    PREFIX,
    PROVIDER,
    SECRET,
    A,
    T,
    bus,
    bus_policy,
    call,
    role,
    secret,
)

pytestmark = pytest.mark.unit

# --- the controls: every documented command of every role, on its own instance ---

NEW_CONNECTION = f"{SECRET}{PREFIX}{A}-new-AbCdEf"
ONBOARD_TAGS = {
    MANAGED: "true",
    INSTANCE: A,
    PROVIDER: "meta",
    T + "kind": "user_long_lived",
    T + "expires-at": "1",
    T + "human-deadline": "never",
    T + "status": "ok",
    T + "consecutive-failures": "0",
    T + "last-error-class": "none",
    T + "last-alert-at": "never",
    T + "last-rotated-at": "1",
}
OWN = KINDS["tagged-connection"]
AWAITING_A = secret(f"{PREFIX}{A}-awaiting", {AWAITING: "true", INSTANCE: A, PROVIDER: "meta"})
BOUND = KINDS["bound-app-secret"]
STACK = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{A}/1"
ROTATION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{A}-RotationFunction-AbCdEf"
CREATE = ("secretsmanager:CreateSecret", "secretsmanager:TagResource")
# role -> (command, action, resource, resource tags, request tags)
CONTROLS: list[tuple[str, str, str, str, dict[str, str], dict[str, str] | None]] = [
    *[
        (
            "connection-creator",
            "create a connection",
            a,
            NEW_CONNECTION,
            {},
            {MANAGED: "true", INSTANCE: A, PROVIDER: "meta"},
        )
        for a in CREATE
    ],
    (
        "connection-creator",
        "re-authorize",
        "secretsmanager:PutSecretValue",
        OWN["resource"],
        OWN["tags"],
        None,
    ),
    (
        "connection-creator",
        "status",
        "secretsmanager:DescribeSecret",
        OWN["resource"],
        OWN["tags"],
        None,
    ),
    ("connection-creator", "status", "secretsmanager:ListSecrets", "*", {}, None),
    ("connection-creator", "status", "cloudformation:DescribeStacks", STACK, {}, None),
    ("operator", "status / dry runs", "secretsmanager:ListSecrets", "*", {}, None),
    (
        "operator",
        "status / dry runs",
        "secretsmanager:DescribeSecret",
        OWN["resource"],
        OWN["tags"],
        None,
    ),
    ("operator", "status", "cloudformation:DescribeStacks", STACK, {}, None),
    ("operator", "rotate / adopt", "events:PutEvents", bus(A), {}, None),
    ("operator", "check", "lambda:InvokeFunction", ROTATION, {}, None),
    (
        "operator",
        "link",
        "secretsmanager:GetSecretValue",
        KINDS["signing-key"]["resource"],
        {},
        None,
    ),
    (
        "operator",
        "link",
        "secretsmanager:TagResource",
        OWN["resource"],
        OWN["tags"],
        {T + "connect-nonce": "n"},
    ),
    (
        "operator",
        "link (awaiting)",
        "secretsmanager:TagResource",
        AWAITING_A["resource"],
        AWAITING_A["tags"],
        {T + "connect-nonce": "n"},
    ),
    (
        "operator",
        "connect",
        "secretsmanager:GetSecretValue",
        BOUND["resource"],
        BOUND["tags"],
        None,
    ),
    *[
        (
            "operator",
            "connect",
            a,
            NEW_CONNECTION,
            {},
            {AWAITING: "true", INSTANCE: A, PROVIDER: "meta"},
        )
        for a in CREATE
    ],
    ("app-credential-owner", "onboard", "secretsmanager:DescribeSecret", NEW_CONNECTION, {}, None),
    (
        "app-credential-owner",
        "onboard",
        "secretsmanager:GetSecretValue",
        BOUND["resource"],
        BOUND["tags"],
        None,
    ),
    ("app-credential-owner", "onboard", "cloudformation:DescribeStacks", STACK, {}, None),
    *[("app-credential-owner", "onboard", a, NEW_CONNECTION, {}, ONBOARD_TAGS) for a in CREATE],
    *[
        (
            "app-credential-owner",
            "create app credentials",
            a,
            f"{SECRET}{APPS}{A}/new-AbCdEf",
            {},
            {APP_INSTANCES: A, APP_FOR: "meta"},
        )
        for a in CREATE
    ],
    (
        "app-credential-owner",
        "update app credentials",
        "secretsmanager:PutSecretValue",
        BOUND["resource"],
        BOUND["tags"],
        None,
    ),
    (
        "app-credential-owner",
        "declare app credentials",
        "secretsmanager:TagResource",
        BOUND["resource"],
        BOUND["tags"],
        {APP_FOR: "meta"},
    ),
]


@pytest.mark.parametrize(
    ("name", "command", "action", "resource", "resource_tags", "request_tags"),
    CONTROLS,
    ids=[f"{c[0]}-{c[1]}-{c[2].split(':')[1]}" for c in CONTROLS],
)
def test_every_documented_command_of_every_role_works_on_its_own_instance(
    name, command, action, resource, resource_tags, request_tags
):
    # Given a documented role of A and what one of its commands calls on A's own resources
    mine = f"arn:aws:iam::{ACCOUNT}:role/{A}-{name}"
    request = call(
        role(A, name),
        action,
        resource,
        resource_tags=resource_tags,
        request_tags=request_tags,
        resource_policy=bus_policy(A) if action == "events:PutEvents" else None,
        principal=mine,
    )
    request["context"]["aws:PrincipalAccount"] = ACCOUNT
    # When it is evaluated, then it is allowed (the matrix's denials are not broken requests)
    [result] = authz.simulate([request])
    assert result["decision"] == "Allowed", (command, authz.explain(result))
