"""`token-refresher link` under the operator's documented policy (docs/policies/operator.json):
every AWS call the command makes, for a connection of each consent provider, evaluated with the
IAM policy simulator. The operator may make every link, and still may not read a connection's
value: a link is made from the connection's tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.support import authz
from tests.support.cfn_render import ACCOUNT, REGION
from tests.support.fakes import FixedClock, InMemorySecretStore
from tests.support.two_instances import (
    AWAITING,
    INSTANCE,
    MANAGED,
    PREFIX,
    PROVIDER,
    SECRET,
    A,
    T,
    call,
    policies,
)
from tests.unit.test_cli import err, make_ctx, out
from token_refresher.adapters.secrets import SecretDescription
from token_refresher.connect.links import CONSENT_PROVIDERS, LINK_PARAM
from token_refresher_cli.app import main
from token_refresher_cli.aws import Aws

pytestmark = pytest.mark.unit

KEY_ID = f"{A}/connect-signing-key"
STACK_ARN = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{A}/1"
OPERATIONS = {  # the store's operations -> the Secrets Manager actions they call
    "describe": "secretsmanager:DescribeSecret",
    "get_value": "secretsmanager:GetSecretValue",
    "tag": "secretsmanager:TagResource",
    "list_versions": "secretsmanager:ListSecretVersionIds",
}


class RecordingStore(InMemorySecretStore):
    """Each call with the secret's tags as it was made, and a tagging call's request tags."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str] | None]] = []

    def describe(self, secret_id: str) -> SecretDescription:
        self._record("describe", secret_id)
        return super().describe(secret_id)

    def get_value(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> str | None:
        self._record("get_value", secret_id)
        return super().get_value(secret_id, version_id=version_id, stage=stage)

    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None:
        self._record("tag", secret_id, dict(tags))
        super().tag(secret_id, tags)

    def version_exists(self, secret_id: str, version_id: str) -> bool:
        self._record("list_versions", secret_id)
        return super().version_exists(secret_id, version_id)

    def _record(self, op: str, secret_id: str, request: dict[str, str] | None = None) -> None:
        name = secret_id.split(":secret:", 1)[-1].removesuffix("-AbCdEf")
        self.requests.append((op, name, self.tags_of(name), request))


class StackAws(Aws):
    def __init__(self) -> None:
        super().__init__()
        self.described: list[str] = []

    def stack_outputs(self, stack_name: str) -> dict[str, str]:
        self.described.append(stack_name)
        return {"ConnectKeySecretId": KEY_ID, "InstanceName": A}


def _connections(store: RecordingStore) -> dict[str, str]:
    """One connection of A per consent provider (TikTok's kind tagged, as rotations write it),
    and one awaiting its first consent; name -> provider."""
    out = {}
    for provider in sorted(CONSENT_PROVIDERS):
        name = f"{PREFIX}{A}-{provider}"
        tags = {MANAGED: "true", INSTANCE: A, PROVIDER: provider}
        if provider == "tiktok":
            tags[T + "kind"] = "advertiser"
        store.create(name, {"schema": 1, "provider": provider, "refresh_token": "r"}, tags=tags)
        out[name] = provider
    awaiting = f"{PREFIX}{A}-awaiting"
    store.create(
        awaiting, {"provider": "oauth2"}, tags={AWAITING: "true", INSTANCE: A, PROVIDER: "oauth2"}
    )
    out[awaiting] = "oauth2"
    return out


def _link(store: RecordingStore, aws: StackAws, name: str) -> tuple[int, str]:
    ctx = make_ctx(store, FixedClock())
    ctx.aws = aws
    code = main(["link", name, "--stack-name", A], ctx)
    return code, out(ctx) + err(ctx)


def _requests(store: RecordingStore, aws: StackAws) -> list[tuple[str, dict[str, Any]]]:
    operator = policies(A)["operator"]
    out = [
        (f"DescribeStacks {stack}", call(operator, "cloudformation:DescribeStacks", STACK_ARN))
        for stack in sorted(set(aws.described))
    ]
    for op, name, tags, request_tags in store.requests:
        action = OPERATIONS[op]
        request = call(
            operator,
            action,
            f"{SECRET}{name}-AbCdEf",
            resource_tags=tags,
            request_tags=request_tags,
        )
        out.append((f"{action} {name}", request))
    return out


def test_the_operator_may_make_a_link_for_every_provider_and_reads_no_connection_value() -> None:
    # Given a connection of instance A for every provider with a consent flow, and A's key
    store = RecordingStore()
    store.create(KEY_ID, {"key": "k" * 64, "url": "https://c.example/", "instance": A})
    connections = _connections(store)
    aws = StackAws()
    # When the operator runs `token-refresher link` for each
    for name in connections:
        code, text = _link(store, aws, name)
        assert code == 0, text
        assert LINK_PARAM + "=" in text
    # Then no connection's value was read, only the signing key's
    reads = {name for op, name, _, _ in store.requests if op == "get_value"}
    assert reads == {KEY_ID}
    # And every call the command made is allowed by docs/policies/operator.json
    labelled = _requests(store, aws)
    results = authz.simulate([request for _, request in labelled])
    denied = [
        f"{label}: {authz.explain(result)}"
        for (label, _), result in zip(labelled, results, strict=True)
        if result["decision"] != "Allowed"
    ]
    assert denied == []
    assert {label.split()[0] for label, _ in labelled} >= {
        "secretsmanager:DescribeSecret",
        "secretsmanager:TagResource",
        "secretsmanager:GetSecretValue",
    }


def test_the_operator_still_may_not_read_any_connections_value() -> None:
    # Given the operator's policy and a connection of A of each provider
    operator = policies(A)["operator"]
    store = RecordingStore()
    connections = _connections(store)
    # When reading each connection's value is evaluated
    requests = [
        call(
            operator,
            "secretsmanager:GetSecretValue",
            f"{SECRET}{name}-AbCdEf",
            resource_tags=store.tags_of(name),
        )
        for name in connections
    ]
    # Then every read is denied: token values are the functions' and the readers'
    decisions = [result["decision"] for result in authz.simulate(requests)]
    assert decisions == ["ImplicitlyDenied"] * len(connections)
