"""Two instances, A and B, in one account: each kind of A resource, the documented human roles'
policies rendered for an instance, and simulator requests over them (the tag-authority tests and
the role controls). The matrix's actions come from IAM's service reference as the pinned simulator
ships it (tests/support/iam_reference.py), so no action can be left out."""

from __future__ import annotations

from typing import Any

from tests.support import authz, iam_reference
from tests.support.cfn_render import ACCOUNT, REGION, Renderer, template

A, B = "tr-a", "tr-b"
PREFIX = "token-refresher/connections/"
APPS = "token-refresher/apps/"
SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
T = "token-refresher:"
MANAGED, INSTANCE, PROVIDER = T + "managed", T + "instance", T + "provider"
AWAITING, APP_INSTANCES, APP_FOR = T + "awaiting-consent", T + "app-instances", T + "app-for"
# Tags only the stack's functions write once a secret exists (docs/security.md).
STATE_TAGS = [
    "force-after",
    "last-rotated-at",
    "checked-at",
    "connect-failures",
    "status",
    "human-deadline",
    "expires-at",
    "consecutive-failures",
    "instance",
    "managed",
]


def secret(name: str, tags: dict[str, str]) -> dict[str, Any]:
    return {"resource": f"{SECRET}{name}-AbCdEf", "tags": tags}


def bus(instance: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{instance}-requests"


# Each kind of A resource, as A's stack and its people leave it.
KINDS: dict[str, dict[str, Any]] = {
    "tagged-connection": secret(
        f"{PREFIX}{A}-meta", {MANAGED: "true", INSTANCE: A, PROVIDER: "meta"}
    ),
    "legacy-secret": secret(f"{PREFIX}legacy-meta", {MANAGED: "true", PROVIDER: "meta"}),
    "untagged-secret": secret("other-team/db-password", {}),
    "signing-key": secret(f"{A}/connect-signing-key", {}),
    "bound-app-secret": secret(f"{APPS}{A}/meta", {APP_FOR: "meta", APP_INSTANCES: A}),
    "unbound-app-secret": secret(f"{APPS}meta-main", {APP_FOR: "meta"}),
    "app-prefix-secret": secret(f"{APPS}{A}-planted", {MANAGED: "true", INSTANCE: A}),
}
# The request tags a tagging call may carry: every claim a role of B could try.
TAG_VARIANTS: list[dict[str, str]] = [
    {MANAGED: "true", INSTANCE: B, PROVIDER: "meta"},
    {AWAITING: "true", INSTANCE: B, PROVIDER: "meta"},
    {APP_INSTANCES: B, APP_FOR: "meta"},
    {T + "force-after": "0"},
    {T + "connect-nonce": "n"},
]
UNTAG_VARIANTS: list[list[str]] = [[INSTANCE], [MANAGED], [APP_INSTANCES], [T + "force-after"]]


def policies(instance: str, prefix: str = PREFIX) -> dict[str, list[dict[str, Any]]]:
    return {
        role: [
            {
                "name": role,
                "policy": authz.human_policy(
                    role, instance=instance, stack=instance, connection_prefix=prefix
                ),
            }
        ]
        for role in authz.HUMAN_ROLES
    } | {
        # docs/policies/reader.json for every connection of the instance (a wildcard name: a
        # superset of any one pipeline's reader, so what it may not do, none may)
        "reader": [
            {
                "name": "reader",
                "policy": authz.reader_policy("*", instance=instance, prefix=prefix),
            }
        ]
    }


def call(
    named: list[dict[str, Any]],
    action: str,
    resource: str,
    *,
    resource_tags: dict[str, str] | None = None,
    request_tags: dict[str, str] | None = None,
    tag_keys: list[str] | None = None,
    resource_policy: dict[str, Any] | None = None,
    principal: str = f"arn:aws:iam::{ACCOUNT}:role/someone",
) -> dict[str, Any]:
    record: dict[str, Any] = {"resource_tags": resource_tags or {}}
    if request_tags is not None:
        record["request_tags"] = request_tags
        record["tag_keys"] = sorted(request_tags)
    if tag_keys is not None:
        record["tag_keys"] = tag_keys
    context = authz.context_of(record) | {"aws:PrincipalArn": principal}
    out = {
        "principal": principal,
        "action": action,
        "resource": resource,
        "context": context,
        "identityPolicies": named,
    }
    if resource_policy is not None:
        out["resourcePolicy"] = resource_policy
    return out


def bus_policy(stack: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
    raw = template()["Resources"]["RequestBus"]["Properties"].get("Policy")
    resolved = Renderer(stack, params or {}).resolve(raw) if raw is not None else None
    return resolved if isinstance(resolved, dict) else None


def matrix_calls(prefix: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(role, kind, action and variant, request) for every documented role of B against every
    kind of A resource and every action of the service reference."""
    out = []
    for role, named in policies(B, prefix).items():
        for kind, target in KINDS.items():
            for action in iam_reference.actions_on("secretsmanager", "Secret"):
                if action.endswith(":CreateSecret"):
                    continue  # a name that does not exist yet: the controls and the planting case
                if action.endswith(":TagResource"):
                    for tags in TAG_VARIANTS:
                        request = call(
                            named,
                            action,
                            target["resource"],
                            resource_tags=target["tags"],
                            request_tags=tags,
                        )
                        out.append((role, kind, f"{action} {sorted(tags)}", request))
                elif action.endswith(":UntagResource"):
                    for keys in UNTAG_VARIANTS:
                        request = call(
                            named,
                            action,
                            target["resource"],
                            resource_tags=target["tags"],
                            tag_keys=keys,
                        )
                        out.append((role, kind, f"{action} {keys}", request))
                else:
                    request = call(named, action, target["resource"], resource_tags=target["tags"])
                    out.append((role, kind, action, request))
        out += _event_calls(role, named)
    return out


def _event_calls(
    role: str, named: list[dict[str, Any]]
) -> list[tuple[str, str, str, dict[str, Any]]]:
    out = []
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{A}-requests/{A}-ManualRotation"
    policy = bus_policy(A)
    for action in iam_reference.actions_on("events", "event-bus"):
        request = call(named, action, bus(A), resource_policy=policy)
        out.append((role, "request-bus", action, request))
    for action in iam_reference.actions_on("events", "rule-on-custom-event-bus"):
        out.append((role, "request-rule", action, call(named, action, rule)))
    return out


DENIED = {"ImplicitlyDenied", "ExplicitlyDenied"}


def decide(*requests: dict[str, Any]) -> list[str]:
    return [r["decision"] for r in authz.simulate(list(requests))]


def role(instance: str, name: str) -> list[dict[str, Any]]:
    return policies(instance)[name]


def renderer_policies(stack: str) -> dict[str, list[dict[str, Any]]]:
    rendered = Renderer(stack, {"DispatchMode": "queue"}).function_policies()
    return {
        name: [{"name": f"{name}Policy{i}", "policy": p} for i, p in enumerate(docs)]
        for name, docs in rendered.items()
    }
