"""Dry runs on the operator's machine: `rotate --dry-run` and `adopt --dry-run` run the sweep's own
selection and decision code (the installed library) over the stack's secrets, read-only.

The operator may not invoke the sweep function: a direct invocation could carry ``force`` or
``adopt_untagged`` past the request bus's policy (docs/security.md), so manual requests have one
door, the bus, and a dry run needs neither write nor force power: ListSecrets and DescribeSecret
on the instance's own connections, which the operator's policy grants. Every write the store
offers is refused here, and an alert would be a bug (a dry run sends none).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from token_refresher.adapters.secrets import SecretDescription, SecretStore, SecretSummary
from token_refresher.alerts import Alert
from token_refresher.sweep.engine import SweepEngine
from token_refresher.sweep.request import SweepRequest
from token_refresher.sweep.starter import RotationStarter
from token_refresher_cli.context import Context

ADOPT_OUTPUT = "AdoptUntagged"


class ReadOnlyStore:
    """The reads of a SecretStore; every write raises (a dry run changes nothing)."""

    def __init__(self, store: SecretStore) -> None:
        self._store = store

    def describe(self, secret_id: str) -> SecretDescription:
        return self._store.describe(secret_id)

    def list_by_tag(self, key: str, value: str) -> Iterator[SecretSummary]:
        return self._store.list_by_tag(key, value)

    def version_created_at(self, secret_id: str, version_id: str) -> float | None:
        return self._store.version_created_at(secret_id, version_id)

    def version_exists(self, secret_id: str, version_id: str) -> bool:
        return self._store.version_exists(secret_id, version_id)

    def get_value(self, *_: Any, **__: Any) -> Any:
        raise PermissionError("a dry run reads no secret value")

    def put_pending(self, *_: Any, **__: Any) -> None:
        raise PermissionError("a dry run writes nothing")

    def move_stage(self, *_: Any, **__: Any) -> None:
        raise PermissionError("a dry run writes nothing")

    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None:
        raise PermissionError("a dry run writes nothing")

    def rotate(self, secret_id: str, *, lambda_arn: str | None, after_days: int | None) -> None:
        raise PermissionError("a dry run starts no rotation")


class NoAlerts:
    def publish(self, alert: Alert) -> None:
        raise PermissionError(f"a dry run sends no alert ({alert.event.value})")


def adoption_allowed(ctx: Context, args: argparse.Namespace) -> bool:
    """The stack's AdoptUntagged output is "on-request" or "true" (an older stack without the
    output: assumed allowed; its sweep still refuses when it does not adopt)."""
    raw = ctx.aws.stack_outputs(args.stack_name).get(ADOPT_OUTPUT) if args.stack_name else None
    return raw is None or raw in ("true", "on-request")


def dry_run(
    ctx: Context, args: argparse.Namespace, detail: dict[str, Any], floor: timedelta
) -> dict[str, Any]:
    """The sweep's report for ``detail`` (with ``dry_run``), computed here, read-only."""
    store = ReadOnlyStore(ctx.store())
    starter = RotationStarter(
        store,  # type: ignore[arg-type]  # the reads of the protocol; writes refused
        instance=str(detail["instance"]),
        rotation_lambda_arn=None,
        clock=ctx.clock,
        force_floor=floor,
    )
    engine = SweepEngine(
        store,  # type: ignore[arg-type]
        NoAlerts(),
        starter,
        concurrency=4,
        adopt_on_request=adoption_allowed(ctx, args),
    )
    request = SweepRequest.from_event(detail | {"dry_run": True})
    return engine.run(request).to_dict()
