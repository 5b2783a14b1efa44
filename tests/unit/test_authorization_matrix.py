"""The negative matrix: two instances, A and B, in one account. Every function role of
A (template.yaml rendered for A) and every documented human role of A (docs/policies/*.json for
A) is denied every action on B's token secrets, B's app credentials, B's signing key and B's
manual-request channel, and denied re-tagging B's connections into A. Evaluated with the same
IAM policy simulator as the recorded calls (tests/support/authz.py). A control row per principal
shows the same principal allowed on A's own resources, so a denial is not a broken request.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import authz
from tests.support.cfn_render import ACCOUNT, REGION, Renderer, template

pytestmark = pytest.mark.unit

A, B = "tr-a", "tr-b"
PREFIX = "token-refresher/connections/"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
MANAGED = "token-refresher:managed"
INSTANCE = "token-refresher:instance"


def connection(instance: str, *, awaiting: bool = False) -> dict[str, Any]:
    state = {"token-refresher:awaiting-consent": "true"} if awaiting else {MANAGED: "true"}
    name = f"{PREFIX}{instance}-{'new' if awaiting else 'meta'}-AbCdEf"
    tags = {**state, INSTANCE: instance, "token-refresher:provider": "meta"}
    return {"resource": SECRET + name, "tags": tags}


def app_credentials(instance: str) -> dict[str, Any]:
    # Named under the shared default prefix and tagged for its instance, so that either way of
    # binding app credentials to an instance (a prefix per instance, a tag) is recognised.
    tags = {
        "token-refresher:app-for": "meta",
        INSTANCE: instance,
        "token-refresher:app-instances": instance,  # bound to its instance
    }
    return {"resource": f"{SECRET}token-refresher/apps/{instance}/meta-AbCdEf", "tags": tags}


def signing_key(instance: str) -> dict[str, Any]:
    return {"resource": f"{SECRET}{instance}/connect-signing-key-AbCdEf", "tags": {}}


def manual_channel(instance: str) -> dict[str, Any]:
    """The bus the instance's sweep takes manual requests from (its ManualRotation rule)."""
    sweep = template()["Resources"]["SweepFunction"]["Properties"]["Events"]["ManualRotation"]
    raw = sweep["Properties"].get("EventBusName", "default")
    bus = Renderer(instance).resolve(raw)
    arn = (
        bus if str(bus).startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    )
    return {"resource": arn, "tags": {}}


STATE_TAG = {"token-refresher:expires-at": "1"}
ALERT_TOPIC_A = Renderer(A).ref("AlertTopic")
# target -> (resource, [(action, request tags)])
TARGETS: dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, str] | None]]]] = {
    "b-connection": (
        connection(B),
        [
            ("secretsmanager:GetSecretValue", None),
            ("secretsmanager:PutSecretValue", None),
            ("secretsmanager:UpdateSecretVersionStage", None),
            ("secretsmanager:RotateSecret", None),
            ("secretsmanager:TagResource", STATE_TAG),
            ("secretsmanager:UntagResource", {}),
            ("secretsmanager:DeleteSecret", None),
        ],
    ),
    "b-awaiting-connection": (
        connection(B, awaiting=True),
        [
            ("secretsmanager:GetSecretValue", None),
            ("secretsmanager:PutSecretValue", None),
            ("secretsmanager:TagResource", STATE_TAG),
            ("secretsmanager:DeleteSecret", None),
        ],
    ),
    "b-connection-retagged-into-a": (
        connection(B),
        [("secretsmanager:TagResource", {MANAGED: "true", INSTANCE: A})],
    ),
    "b-awaiting-connection-retagged-into-a": (
        connection(B, awaiting=True),
        [("secretsmanager:TagResource", {"token-refresher:awaiting-consent": "true", INSTANCE: A})],
    ),
    "b-app-credentials": (
        app_credentials(B),
        [
            ("secretsmanager:GetSecretValue", None),
            ("secretsmanager:PutSecretValue", None),
            ("secretsmanager:TagResource", {"token-refresher:app-for": "meta"}),
            ("secretsmanager:DeleteSecret", None),
        ],
    ),
    "b-signing-key": (
        signing_key(B),
        [("secretsmanager:GetSecretValue", None), ("secretsmanager:PutSecretValue", None)],
    ),
    "b-manual-request-channel": (manual_channel(B), [("events:PutEvents", None)]),
}

# What each principal of A must be allowed on A's own resources (the control row).
CONTROLS: dict[str, tuple[str, dict[str, Any], dict[str, str] | None]] = {
    "RotationFunction": ("secretsmanager:PutSecretValue", connection(A), None),
    "SweepFunction": ("secretsmanager:RotateSecret", connection(A), None),
    "ConnectFunction": ("secretsmanager:GetSecretValue", signing_key(A), None),
    "WorkerFunction": ("secretsmanager:RotateSecret", connection(A), None),
    "AlarmRelayFunction": ("sns:Publish", {"resource": ALERT_TOPIC_A, "tags": {}}, None),
    "connection-creator": ("secretsmanager:PutSecretValue", connection(A), None),
    "operator": (
        "secretsmanager:TagResource",
        connection(A),
        {"token-refresher:connect-nonce": "n"},
    ),
    "app-credential-owner": ("secretsmanager:GetSecretValue", app_credentials(A), None),
}


def principals() -> dict[str, list[dict[str, Any]]]:
    """A's principals -> their named policies."""
    rendered = Renderer(A, {"DispatchMode": "queue"}).function_policies()
    out = {
        name: [{"name": f"{name}Policy{i}", "policy": p} for i, p in enumerate(docs)]
        for name, docs in rendered.items()
    }
    for role in authz.HUMAN_ROLES:
        policy = authz.human_policy(role, instance=A, stack=A, connection_prefix=PREFIX)
        out[role] = [{"name": role, "policy": policy}]
    return out


def request(
    policies: list[dict[str, Any]], action: str, target: dict[str, Any], tags: dict[str, str] | None
) -> dict[str, Any]:
    record = {"resource_tags": target["tags"]}
    if tags is not None:
        record |= {"request_tags": tags, "tag_keys": sorted(tags) or [INSTANCE]}
    return {
        "principal": f"arn:aws:iam::{ACCOUNT}:role/{A}-principal",
        "action": action,
        "resource": target["resource"],
        "context": authz.context_of(record),
        "identityPolicies": policies,
    }


@pytest.fixture(scope="module")
def decisions() -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every case and control, evaluated in one simulator run."""
    keys, requests = [], []
    for name, policies in principals().items():
        for target_name, (target, actions) in TARGETS.items():
            for action, tags in actions:
                keys.append((name, target_name, action))
                requests.append(request(policies, action, target, tags))
        action, target, tags = CONTROLS[name]
        keys.append((name, "control", action))
        requests.append(request(policies, action, target, tags))
    return dict(zip(keys, authz.simulate(requests), strict=True))


def cases() -> list[Any]:
    out = []
    for name in [*Renderer(A, {"DispatchMode": "queue"}).function_policies(), *authz.HUMAN_ROLES]:
        for target_name in TARGETS:
            out.append(pytest.param(name, target_name, id=f"{name}-{target_name}"))
    return out


@pytest.mark.parametrize(("principal", "target"), cases())
def test_a_principal_of_instance_a_is_denied_on_instance_b(decisions, principal, target):
    # Given a principal of instance A, and one of B's resources
    _, actions = TARGETS[target]
    # When each relevant action on it is evaluated with A's deployed/documented policies
    allowed = {
        action: decisions[(principal, target, action)]["allowedBy"]
        for action, _ in actions
        if decisions[(principal, target, action)]["decision"] != "ImplicitlyDenied"
        and decisions[(principal, target, action)]["decision"] != "ExplicitlyDenied"
    }
    # Then none is allowed
    assert allowed == {}, f"{principal} of {A} may act on {target}: {allowed}"


def test_a_creator_creates_its_own_connections_and_tags_nothing_else(decisions):
    # Given the connection creator of A (docs/policies/connection-creator.json)
    [policy] = principals()["connection-creator"]
    new = {"resource": f"{SECRET}{PREFIX}a-new-AbCdEf", "tags": {}}
    own = {MANAGED: "true", INSTANCE: A, "token-refresher:provider": "meta"}
    # When it creates a connection of A (CreateSecret with tags is also a TagResource), creates
    # one for B, and re-tags its own connection for B
    results = authz.simulate(
        [
            request([policy], "secretsmanager:CreateSecret", new, own),
            request([policy], "secretsmanager:TagResource", new, own),
            request([policy], "secretsmanager:CreateSecret", new, own | {INSTANCE: B}),
            request([policy], "secretsmanager:TagResource", connection(A), {INSTANCE: B}),
        ]
    )
    # Then only the first two are allowed
    assert [r["decision"] for r in results] == [
        "Allowed",
        "Allowed",
        "ExplicitlyDenied",
        "ExplicitlyDenied",
    ]


@pytest.mark.parametrize("principal", list(CONTROLS))
def test_the_same_principal_is_allowed_on_its_own_instance(decisions, principal):
    # Given a principal of A; when its typical action on A's own resource is evaluated
    action, _, _ = CONTROLS[principal]
    result = decisions[(principal, "control", action)]
    # Then it is allowed (the matrix's denials are not broken requests)
    assert result["decision"] == "Allowed", (principal, action, authz.explain(result))


def test_a_creator_never_reads_writes_or_tags_app_credentials():
    # Given the connection creator of A and A's own app credentials
    [policy] = principals()["connection-creator"]
    own_app = app_credentials(A)
    # When it reads, writes or tags them
    results = authz.simulate(
        [
            request([policy], "secretsmanager:GetSecretValue", own_app, None),
            request([policy], "secretsmanager:PutSecretValue", own_app, None),
            request(
                [policy], "secretsmanager:TagResource", own_app, {"token-refresher:app-for": "x"}
            ),
        ]
    )
    # Then each is refused, explicitly
    assert {r["decision"] for r in results} == {"ExplicitlyDenied"}


def test_the_request_bus_refuses_everyone_but_the_principals_it_names():
    # Given B deployed with RequestPrincipals naming B's operator role, and A's operator holding
    # events:PutEvents on every bus (a broader grant than its file gives)
    b_operator = f"arn:aws:iam::{ACCOUNT}:role/{B}-operator"
    renderer = Renderer(B, {"RequestPrincipals": b_operator})
    bus_policy = renderer.resolve(template()["Resources"]["RequestBus"]["Properties"]["Policy"])
    bus = manual_channel(B)["resource"]
    anywhere = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}],
    }

    def put(principal: str) -> dict[str, Any]:
        return {
            "principal": principal,
            "action": "events:PutEvents",
            "resource": bus,
            "context": {"aws:PrincipalArn": principal, "aws:PrincipalAccount": ACCOUNT},
            "identityPolicies": [{"name": "anywhere", "policy": anywhere}],
            "resourcePolicy": bus_policy,
        }

    # When each sends a manual request to B's bus
    results = authz.simulate([put(b_operator), put(f"arn:aws:iam::{ACCOUNT}:role/{A}-operator")])
    # Then only B's operator may
    assert [r["decision"] for r in results] == ["Allowed", "ExplicitlyDenied"], results


def alarm_invokes(renderer: Renderer, alarms: list[str]) -> list[str]:
    """CloudWatch invoking the stack's alarm relay for each alarm name, under the relay's
    resource policy as Lambda builds it from the template: the decisions."""
    relay = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{renderer.stack}-AlarmRelayFunction"
    policy = renderer.resource_policy("AlarmRelayFunction", relay)
    requests = [
        {
            "principal": "lambda.alarms.cloudwatch.amazonaws.com",
            "action": "lambda:InvokeFunction",
            "resource": relay,
            "context": {
                "aws:SourceAccount": ACCOUNT,
                "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm}",
            },
            "resourcePolicy": policy,
        }
        for alarm in alarms
    ]
    return [r["decision"] for r in authz.simulate(requests)]


def test_only_this_stacks_alarms_may_invoke_its_alarm_relay():
    # Given A's alarm relay
    # When CloudWatch invokes it for A's alarm, for B's, for one of a stack named "<A>-x" (which
    # a wildcard on A's name would admit) and for an alarm someone named after A by hand
    alarms = [f"{A}-sweep-not-running", f"{B}-sweep-not-running"]
    alarms += [f"{A}-x-sweep-not-running", f"{A}-made-by-hand"]
    decisions = alarm_invokes(Renderer(A), alarms)
    # Then only A's alarm may (the alarm path needs no KMS key policy: the relay publishes)
    assert decisions == ["Allowed", *["ImplicitlyDenied"] * 3]


def test_every_alarm_of_the_stack_may_invoke_its_alarm_relay():
    # Given A's relay with every optional alarm on (queue mode; the consent endpoint is on)
    renderer = Renderer(A, {"DispatchMode": "queue"})
    names = [
        renderer.ref(name)
        for name, r in template()["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and ("Condition" not in r or renderer.condition(r["Condition"]))
    ]
    # When CloudWatch invokes it for each of them, then all twelve may
    assert len(names) == 12
    assert alarm_invokes(renderer, names) == ["Allowed"] * 12
