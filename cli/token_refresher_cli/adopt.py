"""`token-refresher adopt`: hand managed secrets of no instance to one instance.

Secrets made before instances existed carry ``token-refresher:managed=true`` only; no deployment
rotates them, and each sweep alerts about them. In an account and region with ONE deployment,
adopt them into it: the sweep function is invoked synchronously with
``{"instance": ..., "adopt_untagged": true}`` and tags each one ``token-refresher:instance``.
``--dry-run`` lists them and changes nothing. Only a stack deployed with
``AdoptUntagged=on-request`` (or ``true``, which also adopts on every scheduled sweep) adopts; one
with the default ``false`` refuses and says so.
"""

from __future__ import annotations

import argparse

from token_refresher_cli.console import EXIT_ERROR, EXIT_OK
from token_refresher_cli.context import Context
from token_refresher_cli.instance import resolve_instance
from token_refresher_cli.rotate import invoke_sweep


def run(args: argparse.Namespace, ctx: Context) -> int:
    instance = resolve_instance(args, ctx)
    detail = {"instance": instance, "adopt_untagged": True, "dry_run": args.dry_run}
    body = invoke_sweep(ctx, args, detail)
    adopted = body.get("adopted", [])
    verb = "would adopt" if args.dry_run else "adopted"
    for arn in adopted:
        ctx.console.print(f"{verb}  {arn}")
    for item in body.get("errors", []):
        ctx.console.print(f"error        {item['secret_id']}: {item['error']}")
    ctx.console.print(f"{len(adopted)} secret(s) {verb} into instance {instance}")
    return EXIT_ERROR if body.get("errors") else EXIT_OK
