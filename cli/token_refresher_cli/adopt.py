"""`token-refresher adopt`: hand managed secrets of no instance to one instance.

Secrets made before instances existed carry ``token-refresher:managed=true`` only; no deployment
rotates them, and each sweep alerts about them. In an account and region with ONE deployment,
adopt them into it: the request ``{"instance": ..., "adopt_untagged": true}`` goes to the stack's
request bus (the one door for manual requests, docs/security.md), the sweep tags each one
``token-refresher:instance``, and this command waits until each listed secret carries the tag.
``--dry-run`` lists them here, read-only (preview.py), and changes nothing. Only a stack deployed
with ``AdoptUntagged=on-request`` (or ``true``, which also adopts on every scheduled sweep) adopts;
one with the default ``false`` refuses and says so.
"""

from __future__ import annotations

import argparse
import json
import time

from token_refresher.state import TAG_INSTANCE
from token_refresher.sweep.adoption import ADOPTION_OFF
from token_refresher.sweep.request import MANUAL_DETAIL_TYPE, MANUAL_SOURCE
from token_refresher_cli import preview
from token_refresher_cli.console import EXIT_ERROR, EXIT_OK, CliError
from token_refresher_cli.context import Context
from token_refresher_cli.instance import resolve_instance
from token_refresher_cli.rotate import force_floor, request_bus

WAIT_SECONDS = 120.0  # the bus invokes the sweep asynchronously
POLL_SECONDS = 2.0


def run(args: argparse.Namespace, ctx: Context) -> int:
    instance = resolve_instance(args, ctx)
    detail = {"instance": instance, "adopt_untagged": True}
    body = preview.dry_run(ctx, args, detail, force_floor(ctx, args))
    listed = list(body.get("adopted", []))
    errors = list(body.get("errors", []))
    if args.dry_run or errors or not listed:
        return _print(ctx, instance, listed, errors, verb="would adopt" if args.dry_run else "")
    _send(ctx, args, detail)
    adopted = _wait_for_tags(ctx, listed, instance)
    missing = [
        {"secret_id": arn, "error": "not adopted yet: see the sweep's log"}
        for arn in listed
        if arn not in adopted
    ]
    return _print(ctx, instance, adopted, missing, verb="adopted")


def _send(ctx: Context, args: argparse.Namespace, detail: dict[str, object]) -> None:
    entry = {
        "Source": MANUAL_SOURCE,
        "DetailType": MANUAL_DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "EventBusName": request_bus(ctx, args),
    }
    response = ctx.aws.client("events").put_events(Entries=[entry])
    for result in response.get("Entries", []):
        if result.get("ErrorCode"):
            raise CliError(f"EventBridge refused the request: {result['ErrorCode']}")


def _wait_for_tags(ctx: Context, arns: list[str], instance: str) -> list[str]:
    """The listed secrets that carry this instance's tag, polled until all do or time is up.
    ListSecrets, not DescribeSecret: the operator may describe only its instance's secrets, and
    these are not until the sweep has tagged them."""
    store = ctx.store()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        tagged = {s.arn for s in store.list_by_tag(TAG_INSTANCE, instance)}
        done = [a for a in arns if a in tagged]
        if len(done) == len(arns) or time.monotonic() > deadline:
            return done
        time.sleep(POLL_SECONDS)


def _print(
    ctx: Context, instance: str, arns: list[str], errors: list[dict[str, str]], *, verb: str
) -> int:
    verb = verb or "adopted"
    for arn in arns:
        ctx.console.print(f"{verb}  {arn}")
    for item in errors:
        message = ADOPTION_OFF if item["error"] == ADOPTION_OFF else item["error"]
        ctx.console.print(f"error        {item['secret_id']}: {message}")
    ctx.console.print(f"{len(arns)} secret(s) {verb} into instance {instance}")
    return EXIT_ERROR if errors else EXIT_OK
