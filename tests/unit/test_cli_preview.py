"""Dry runs computed on the operator's machine, and adoption through the request bus: the
operator never invokes the sweep function (manual requests have one door, docs/security.md)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.support.fakes import TEST_INSTANCE, FixedClock, InMemorySecretStore
from token_refresher.timeutil import to_epoch
from token_refresher_cli.app import main
from token_refresher_cli.aws import Aws
from token_refresher_cli.console import Console
from token_refresher_cli.context import Context

pytestmark = pytest.mark.unit

T = "token-refresher:"
WRITES = {"tag", "put_pending", "move_stage", "rotate", "get_value"}


class StackAws(Aws):
    """Stack outputs, and an EventBridge client that plays the sweep's adoption when asked (the
    bus's rule); any other client (lambda) fails the test."""

    def __init__(self, outputs: dict[str, str], store: InMemorySecretStore | None = None) -> None:
        super().__init__()
        self._stack = outputs
        self._store = store
        self.sent: list[dict[str, Any]] = []

    def client(self, service: str) -> Any:
        assert service == "events", f"the CLI called {service}"
        return self

    def stack_outputs(self, stack_name: str) -> dict[str, str]:
        return self._stack

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.sent += Entries
        for entry in Entries:
            detail = json.loads(entry["Detail"])
            if detail.get("adopt_untagged") and self._store is not None:
                for summary in list(self._store.list_by_tag(T + "managed", "true")):
                    if T + "instance" not in summary.tags:
                        self._store.tag(summary.arn, {T + "instance": detail["instance"]})
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"} for _ in Entries]}


def ctx_for(store: InMemorySecretStore, clock: FixedClock, aws: Aws) -> Context:
    return Context(
        console=Console(io.StringIO(), io.StringIO()),
        stdin=io.StringIO(""),
        env={},
        aws=aws,
        clock=clock,
        store_override=store,
    )


def tags(clock: FixedClock, rotated_ago: timedelta, **extra: str) -> dict[str, str]:
    base = {
        T + "managed": "true",
        T + "instance": TEST_INSTANCE,
        T + "provider": "google_ads",
        T + "status": "ok",
        T + "expires-at": str(to_epoch(clock.now + timedelta(days=40))),
        T + "last-rotated-at": str(to_epoch(clock.now - rotated_ago)),
    }
    return base | extra


def written(store: InMemorySecretStore) -> list[Any]:
    return [c for c in store.calls if c[0] in WRITES]


def test_a_dry_run_is_computed_here_read_only_without_invoking_the_sweep():
    # Given a connection rotated 3 hours ago and one rotated a minute ago
    clock, store = FixedClock(), InMemorySecretStore()
    store.create("c/old", "{}", tags=tags(clock, timedelta(hours=3)))
    store.create("c/new", "{}", tags=tags(clock, timedelta(minutes=1)))
    aws = StackAws({"InstanceName": TEST_INSTANCE, "ForcedRotationFloorMinutes": "60"})
    ctx = ctx_for(store, clock, aws)
    store.calls.clear()
    # When the operator asks for a dry run of both
    code = main(["rotate", "c/old", "c/new", "--dry-run"], ctx)
    # Then the sweep's verdicts are printed, from tags alone
    text = ctx.console.out.getvalue()  # type: ignore[attr-defined]
    assert code == 0, ctx.console.err.getvalue()  # type: ignore[attr-defined]
    old, new = store.describe("c/old").arn, store.describe("c/new").arn
    assert f"would rotate  {old}: manual rotation" in text
    assert f"would skip    {new}: rotated less than 10 minutes ago" in text
    # And nothing was written, no value read, no function invoked, no event sent
    assert written(store) == []
    assert aws.sent == []


def test_adoption_goes_through_the_request_bus_and_waits_for_the_tag():
    # Given a stack that adopts on request, and a legacy secret (managed, no instance)
    clock, store = FixedClock(), InMemorySecretStore()
    store.create("c/legacy", "{}", tags={T + "managed": "true", T + "instance": None})
    outputs = {
        "InstanceName": TEST_INSTANCE,
        "AdoptUntagged": "on-request",
        "RequestBusName": "tr-requests",
    }
    aws = StackAws(outputs, store)
    # When the operator previews, then adopts
    preview_ctx = ctx_for(store, clock, aws)
    assert main(["adopt", "--dry-run"], preview_ctx) == 0
    sent_by_preview = list(aws.sent)
    ctx = ctx_for(store, clock, aws)
    code = main(["adopt"], ctx)
    # Then the preview lists it and sends nothing; the adoption is one event on the stack's bus
    arn = store.describe("c/legacy").arn
    assert f"would adopt  {arn}" in preview_ctx.console.out.getvalue()  # type: ignore[attr-defined]
    assert sent_by_preview == []
    assert [json.loads(e["Detail"]) for e in aws.sent] == [
        {"instance": TEST_INSTANCE, "adopt_untagged": True}
    ]
    assert aws.sent[0]["EventBusName"] == "tr-requests"
    # And the command reports it adopted once the tag is there
    assert code == 0
    assert f"adopted  {arn}" in ctx.console.out.getvalue()  # type: ignore[attr-defined]
    assert store.describe("c/legacy").tags[T + "instance"] == TEST_INSTANCE


def test_a_stack_that_does_not_adopt_refuses_before_sending_anything():
    # Given a stack deployed with AdoptUntagged=false, and a legacy secret
    clock, store = FixedClock(), InMemorySecretStore()
    store.create("c/legacy", "{}", tags={T + "managed": "true", T + "instance": None})
    aws = StackAws({"InstanceName": TEST_INSTANCE, "AdoptUntagged": "false"}, store)
    ctx = ctx_for(store, clock, aws)
    # When the operator adopts
    code = main(["adopt"], ctx)
    # Then it is refused with what to change, and nothing is sent or tagged
    assert code == 1
    assert "AdoptUntagged=on-request" in ctx.console.out.getvalue()  # type: ignore[attr-defined]
    assert aws.sent == []
    assert T + "instance" not in store.describe("c/legacy").tags
