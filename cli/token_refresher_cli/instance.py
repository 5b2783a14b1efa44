"""Which deployment (instance) a command is about: ``--instance``, else the stack's output.

Every connection belongs to one instance (tag ``token-refresher:instance``); a stack deployed with
``InstanceName`` (default: the stack name) publishes it as the output ``InstanceName``.
"""

from __future__ import annotations

import argparse
from typing import Any

from token_refresher.errors import ConfigError
from token_refresher.instances import instance_name
from token_refresher_cli.console import CliError
from token_refresher_cli.context import Context

OUTPUT = "InstanceName"


def add_instance_option(parser: Any, *, all_instances: bool = False) -> None:
    parser.add_argument(
        "--instance",
        help="the instance (InstanceName) to act on (default: the stack's InstanceName output, "
        "see --stack-name)",
    )
    if all_instances:
        parser.add_argument(
            "--all-instances",
            action="store_true",
            help="every instance's connections, and managed secrets of no instance",
        )


def resolve_instance(args: argparse.Namespace, ctx: Context) -> str:
    """``--instance`` when given, else the InstanceName output of ``--stack-name``."""
    raw = getattr(args, "instance", None)
    if raw is None:
        stack = getattr(args, "stack_name", None)
        if stack is None:
            raise CliError("which instance? pass --instance NAME (or --stack-name)")
        raw = ctx.aws.stack_outputs(stack).get(OUTPUT)
        if raw is None:
            raise CliError(
                f"stack {stack!r} has no {OUTPUT} output (deployed before instances existed)",
                hint="deploy the current template (see README: Upgrading), or pass --instance",
            )
    try:
        return instance_name(raw, field="--instance")
    except ConfigError as err:
        raise CliError(err.message) from None
