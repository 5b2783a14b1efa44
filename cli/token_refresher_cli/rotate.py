"""`token-refresher rotate`: ask the deployed sweep to rotate secrets now.

- Default: the manual EventBridge event (source ``token-refresher``, detail-type ``Token Rotation
  Requested``; the shape of events/put-events-rotate-one.json) sent with PutEvents to the stack's
  own request bus (output ``RequestBusName``, or ``--event-bus``), whose policy names who may
  send (stack parameter RequestPrincipals). The rule invokes the sweep asynchronously, which calls
  RotateSecret, which runs the rotation function. Up to 500 ids per event, 10 events per call.
- ``--dry-run``: the sweep's own selection and decision code runs here over the stack's tags,
  read-only (preview.py), and its report is printed: what would rotate and why, what would be
  skipped. The operator may not invoke the sweep function (manual requests have one door, the
  bus). Sent as an event instead, the same verdicts go only to the function's log (one "dry run
  verdict" line per secret).
- Every request names its instance (``detail.instance``: ``--instance``, else the stack's
  InstanceName output); only that deployment's rule matches it.
- Named secrets are checked first (DescribeSecret: exists, managed, the instance's own), so a typo
  is reported here rather than as a ``token.config_invalid`` alert; ``--no-verify`` skips that.
- ``--force`` rotates one secret at most once per ForcedRotationFloorMinutes (the stack's output,
  default 60): a named secret forced more recently is left out of the request, with the time it
  may be forced again; with ``--provider``/``--all`` the sweep skips such secrets (its log says so).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.secrets import SecretNotFound
from token_refresher.errors import ConfigError
from token_refresher.instances import refusal
from token_refresher.sweep.request import (
    MANUAL_DETAIL_TYPE,
    MANUAL_SOURCE,
    MAX_SECRET_IDS,
    SweepRequest,
)
from token_refresher.sweep.starter import force_floor_refusal
from token_refresher.timeutil import human_interval
from token_refresher_cli import preview
from token_refresher_cli.console import EXIT_ERROR, EXIT_OK, CliError
from token_refresher_cli.context import Context
from token_refresher_cli.instance import resolve_instance
from token_refresher_cli.shared import resolve_provider

ENTRIES_PER_CALL = 10  # PutEvents limit
FLOOR_OUTPUT = "ForcedRotationFloorMinutes"
BUS_OUTPUT = "RequestBusName"
DEFAULT_FLOOR_MINUTES = 60


def details(args: argparse.Namespace, instance: str) -> list[dict[str, Any]]:
    """The event details to send, validated with the sweep's own parser."""
    base: dict[str, Any] = {"instance": instance}
    if args.force:
        base["force"] = True
    if args.dry_run:
        base["dry_run"] = True
    if args.reason:
        base["reason"] = args.reason
    if args.provider:
        resolve_provider(args.provider)
        chunks: list[dict[str, Any]] = [{"provider": args.provider}]
    elif args.all:
        chunks = [{"all": True}]
    else:
        ids = list(dict.fromkeys(args.secret))
        if not ids:
            raise CliError("name at least one secret, or use --provider P / --all")
        chunks = [
            {"secret_ids": ids[i : i + MAX_SECRET_IDS]} for i in range(0, len(ids), MAX_SECRET_IDS)
        ]
    out = []
    for chunk in chunks:
        detail = chunk | base
        try:
            SweepRequest.from_event(detail)
        except ConfigError as err:
            raise CliError(f"invalid request: {err.message}") from None
        out.append(detail)
    return out


def entry(detail: dict[str, Any], bus: str) -> dict[str, Any]:
    return {
        "Source": MANUAL_SOURCE,
        "DetailType": MANUAL_DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "EventBusName": bus,
    }


def _verify(ctx: Context, ids: list[str], instance: str) -> dict[str, Mapping[str, str]]:
    """Each named secret's tags; CliError naming those that cannot be rotated."""
    store = ctx.store()
    progress = ctx.console.progress("checked", len(ids))
    problems, tags = [], {}
    for secret_id in ids:
        try:
            tags[secret_id] = store.describe(secret_id).tags
            why = refusal(tags[secret_id], instance)
            if why is not None:
                problems.append(f"{secret_id}: {why}")
        except SecretNotFound:
            problems.append(f"{secret_id}: not found")
        except AwsError as exc:
            problems.append(f"{secret_id}: not readable ({exc.code})")
        progress.advance()
    progress.finish()
    if problems:
        shown = problems[:20] + (
            [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
        )
        for line in shown:
            ctx.console.note(f"  {line}")
        raise CliError(
            f"{len(problems)} of {len(ids)} secret(s) cannot be rotated; nothing was sent",
            hint="check the ids (names or ARNs) and --instance; an instance rotates only its own "
            "managed secrets. `token-refresher status --all-instances` lists them",
        )
    return tags


def request_bus(ctx: Context, args: argparse.Namespace) -> str:
    """``--event-bus``, else the stack's own request bus (output RequestBusName)."""
    if args.event_bus:
        return str(args.event_bus)
    bus = ctx.aws.stack_outputs(args.stack_name).get(BUS_OUTPUT)
    if not bus:
        raise CliError(
            f"stack {args.stack_name!r} has no {BUS_OUTPUT} output (deployed before manual "
            "requests had their own bus)",
            hint="deploy the current template; an older stack listens on the default bus: "
            "--event-bus default",
        )
    return bus


def force_floor(ctx: Context, args: argparse.Namespace) -> timedelta:
    """The stack's ForcedRotationFloorMinutes (its output; the default without a stack)."""
    stack = getattr(args, "stack_name", None)
    raw = ctx.aws.stack_outputs(stack).get(FLOOR_OUTPUT) if stack else None
    return timedelta(minutes=int(raw) if raw and raw.isdigit() else DEFAULT_FLOOR_MINUTES)


def _drop_floored(
    ctx: Context, args: argparse.Namespace, batch: list[dict[str, Any]], tags: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The forced request without the secrets forced within the floor (each one stated); empty
    when every one was (a skip, like the sweep's: they were just force-rotated)."""
    floor, now = force_floor(ctx, args), ctx.clock()
    floored = {i: why for i, t in tags.items() if (why := force_floor_refusal(t, now, floor))}
    for secret_id, why in floored.items():
        ctx.console.note(f"  {secret_id}: not forced: {why}")
    kept = []
    for detail in batch:
        ids = [i for i in detail["secret_ids"] if i not in floored]
        if ids:
            kept.append(detail | {"secret_ids": ids})
    if not kept:
        ctx.console.print(
            f"nothing was sent: every named secret was force-rotated less than "
            f"{human_interval(floor)} ago (ForcedRotationFloorMinutes); wait for the time above, "
            "or request it without --force"
        )
    return kept


def _dry_run(ctx: Context, args: argparse.Namespace, detail: dict[str, Any]) -> int:
    body = preview.dry_run(ctx, args, detail, force_floor(ctx, args))
    if args.json:
        ctx.console.print(json.dumps(body, indent=2))
        return EXIT_OK
    for item in body.get("would_rotate", []):
        ctx.console.print(f"would rotate  {item['secret_id']}: {item['reason']}")
    for item in body.get("skipped", []):
        ctx.console.print(f"would skip    {item['secret_id']}: {item['reason']}")
    for item in body.get("errors", []):
        ctx.console.print(f"error         {item['secret_id']}: {item['error']}")
    ctx.console.print(
        f"dry run: {len(body.get('would_rotate', []))} would rotate, "
        f"{len(body.get('skipped', []))} skipped, {len(body.get('errors', []))} error(s) "
        f"of {body.get('scanned', 0)} scanned; nothing was changed"
    )
    return EXIT_ERROR if body.get("errors") else EXIT_OK


def run(args: argparse.Namespace, ctx: Context) -> int:
    instance = resolve_instance(args, ctx)
    batch = details(args, instance)
    ids = [i for d in batch for i in d.get("secret_ids", [])]
    if ids and not args.no_verify:
        tags = _verify(ctx, ids, instance)
        if args.force and not args.dry_run:
            batch = _drop_floored(ctx, args, batch, tags)
            if not batch:
                return EXIT_OK
            ids = [i for d in batch for i in d["secret_ids"]]
    if args.dry_run:
        if len(batch) != 1:
            raise CliError(f"--dry-run takes at most {MAX_SECRET_IDS} secrets at a time")
        return _dry_run(ctx, args, batch[0])
    bus = request_bus(ctx, args)
    events = ctx.aws.client("events")
    entries = [entry(d, bus) for d in batch]
    failed: list[str] = []
    for i in range(0, len(entries), ENTRIES_PER_CALL):
        response = events.put_events(Entries=entries[i : i + ENTRIES_PER_CALL])
        for result in response.get("Entries", []):
            if result.get("ErrorCode"):
                failed.append(f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}")
    if failed:
        raise CliError(f"EventBridge refused {len(failed)} event(s): {failed[0]}")
    what = (
        f"{len(ids)} secret(s)"
        if ids
        else (f"provider {args.provider}" if args.provider else "all")
    )
    flags = (
        f" (forced: at most once per {human_interval(force_floor(ctx, args))} per secret)"
        if args.force
        else ""
    )
    ctx.console.print(
        f"rotation requested for {what}{flags} of instance {instance}: {len(entries)} event(s) "
        f"sent to bus {bus}; `token-refresher status` shows the result in a minute"
    )
    return EXIT_OK
