"""The ``token-refresher`` command: argument parsing, dispatch, one place to report errors."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from token_refresher.adapters.errors import AwsError
from token_refresher.connect.links import CONSENT_PROVIDERS
from token_refresher.errors import TokenRefresherError
from token_refresher.model import PROVIDER_NAMES
from token_refresher_cli import __version__, adopt, check, links, onboard, rotate, status
from token_refresher_cli.aws import Aws, explain_aws_failure
from token_refresher_cli.console import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    Console,
)
from token_refresher_cli.context import Context
from token_refresher_cli.instance import add_instance_option

Command = Callable[[argparse.Namespace, Context], int]

DESCRIPTION = """\
Operate token-refresher: onboard ad-platform connections, see their state, request rotations.
AWS access uses the usual AWS configuration (profiles, AWS_REGION, AWS_ENDPOINT_URL...).
Tokens are read from stdin only, never from arguments, and never printed."""

# One example per command, shown by `token-refresher --help` and by `token-refresher COMMAND --help`
# (a unit test parses each one and fails when a command has none): command line, what it does.
EXAMPLES: dict[str, tuple[str, str]] = {
    "onboard": (
        "token-refresher onboard meta --name token-refresher/connections/acme-meta "
        "--app-secret-id token-refresher/apps/meta-main",
        "store a Meta connection; paste the short-lived token at the hidden prompt",
    ),
    "status": (
        "token-refresher status --provider meta --json",
        "every Meta connection as JSON rows; exit 2 if one needs a human",
    ),
    "rotate": (
        "token-refresher rotate token-refresher/connections/acme-meta "
        '--force --reason "new scopes"',
        "rotate one connection now, even if it was rotated minutes ago",
    ),
    "link": (
        "token-refresher link token-refresher/connections/acme-google",
        "print a one-time consent link that re-authorizes this connection (docs/connect.md)",
    ),
    "connect": (
        "token-refresher connect google_ads --name token-refresher/connections/acme-google "
        "--app-secret-id token-refresher/apps/google-main --option login_customer_id=1234567890",
        "create a connection awaiting consent and print its link for the account owner",
    ),
    "check": (
        "token-refresher check token-refresher/connections/acme-meta",
        "validate it inside the deployed stack (document, app credentials, token); write nothing",
    ),
    "adopt": (
        "token-refresher adopt --dry-run --stack-name token-refresher",
        "list the managed secrets of no instance this stack would adopt; change nothing",
    ),
}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _stack_option(parser: Any) -> None:  # a parser or a mutually exclusive group
    parser.add_argument(
        "--stack-name",
        default=os.environ.get("TOKEN_REFRESHER_STACK", "token-refresher"),
        help="the deployed token-refresher stack, read for its outputs "
        "(default: $TOKEN_REFRESHER_STACK or token-refresher)",
    )


CONSENT_NAMES = sorted(CONSENT_PROVIDERS)


def _link_options(parser: argparse.ArgumentParser, *, new_account: bool = True) -> None:
    if new_account:
        parser.add_argument(
            "--allow-new-account",
            action="store_true",
            help="accept consent from another account than the connection's last one",
        )
    parser.add_argument(
        "--valid-days",
        type=int,
        default=None,
        choices=range(1, 91),
        metavar="DAYS",
        help="days the link stays valid (1-90; default: the stack's ConnectLinkTtlDays, else 7)",
    )
    _stack_option(parser)
    add_instance_option(parser)


def _exit_codes_text() -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)


def _example_text(name: str) -> str:
    line, what = EXAMPLES.get(name, ("", ""))
    return f"  {line}\n      {what}" if line else ""


def _add_examples(parser: argparse.ArgumentParser, commands: Any) -> None:
    """Epilogs: every command's example and the exit codes, on the main and each command's help."""
    examples = "\n".join(filter(None, (_example_text(name) for name in commands.choices)))
    parser.epilog = f"examples:\n{examples}\n\n{_exit_codes_text()}"
    for name, sub in commands.choices.items():
        sub.epilog = f"example:\n{_example_text(name)}\n\n{_exit_codes_text()}"


def _add_adopt(commands: Any) -> None:
    p = commands.add_parser(
        "adopt",
        help="adopt managed secrets of no instance (made before instances) into an instance",
        description=adopt.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dry-run", action="store_true", help="list them; change nothing")
    p.add_argument("--event-bus", help="request bus name (default: the stack's RequestBusName)")
    _stack_option(p)
    add_instance_option(p)
    p.set_defaults(run=adopt.run)


def _add_check(commands: Any) -> None:
    p = commands.add_parser(
        "check",
        help="validate connections inside the deployed stack (or --local) without rotating",
        description=check.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("secret", nargs="*", metavar="SECRET", help="secret names or ARNs")
    p.add_argument("--all", action="store_true", help="every managed secret of the instance")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--rotation-function",
        help="the deployed rotation function to run the check in (skips stack lookup)",
    )
    where.add_argument(
        "--local",
        action="store_true",
        help="LOCAL MODE: validate from this machine with your credentials instead of inside "
        "the deployed stack (does not test the stack's endpoints, network or role)",
    )
    _stack_option(p)
    add_instance_option(p)
    p.set_defaults(run=check.run)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="token-refresher",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"token-refresher {__version__} (Python {platform.python_version()})",
    )
    parser.add_argument("--profile", help="AWS profile (default: the usual AWS configuration)")
    parser.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "onboard",
        help="store a new connection: read a token from stdin, prove it, create the secret",
        description=onboard.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("provider", metavar="PROVIDER", help=f"one of: {', '.join(PROVIDER_NAMES)}")
    p.add_argument("--name", required=True, help="name of the token secret to create")
    p.add_argument(
        "--app-secret-id",
        required=True,
        help="the existing secret holding the provider app's client id/secret",
    )
    target = p.add_mutually_exclusive_group()
    target.add_argument("--rotation-lambda-arn", help="rotation function ARN (skips stack lookup)")
    _stack_option(target)
    add_instance_option(p)
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="provider option stored in the document's options (repeatable), "
        "e.g. graph_version=v25.0, region=EU, tenant=..., token_url=...",
    )
    p.add_argument(
        "--token-type",
        choices=("access", "refresh"),
        help="tiktok only: an advertiser access token (default, kind advertiser, validate-only) or "
        "a TikTok account refresh token (kind tiktok_account)",
    )
    p.add_argument("--description", help="secret description")
    p.add_argument("--kms-key-id", help="KMS key for the secret (default: aws/secretsmanager)")
    p.set_defaults(run=onboard.run)

    p = commands.add_parser(
        "status",
        help="table of managed connections from their tags; exit 2 if one needs a human",
        description=status.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true", help="machine-readable rows on stdout")
    p.add_argument("--provider", help="only this provider's connections")
    p.add_argument(
        "--incident",
        metavar="ID",
        help="only the connections of this incident (its alert names it)",
    )
    add_instance_option(p, all_instances=True)
    _stack_option(p)
    p.set_defaults(run=status.run)

    p = commands.add_parser(
        "rotate",
        help="request a rotation now through the manual EventBridge event",
        description=rotate.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("secret", nargs="*", metavar="SECRET", help="secret names or ARNs")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--provider", help="every managed secret of this provider")
    which.add_argument("--all", action="store_true", help="every managed secret")
    p.add_argument(
        "--force",
        action="store_true",
        help="ignore the 10-minute guard (once per ForcedRotationFloorMinutes per secret)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print what the sweep would rotate and why, computed here read-only; change nothing",
    )
    p.add_argument("--reason", help="logged by the sweep (at most 256 characters)")
    p.add_argument("--json", action="store_true", help="--dry-run: print the sweep report as JSON")
    p.add_argument(
        "--event-bus",
        help="EventBridge bus (default: the stack's RequestBusName output, its own request bus)",
    )
    p.add_argument(
        "--no-verify", action="store_true", help="do not check the named secrets exist first"
    )
    _stack_option(p)
    add_instance_option(p)
    p.set_defaults(run=rotate.run)

    _add_adopt(commands)

    _add_check(commands)

    _add_link_commands(commands)
    _add_examples(parser, commands)
    return parser


def _add_link_commands(commands: Any) -> None:
    """`link` and `connect` (consent links, docs/connect.md)."""
    p = commands.add_parser(
        "link",
        help="print a one-time consent link that re-authorizes a connection",
        description=links.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("secret", metavar="SECRET", help="the connection's secret name or ARN")
    p.add_argument(
        "--provider",
        choices=CONSENT_NAMES,
        help="the connection's provider, where it has no token-refresher:provider tag yet",
    )
    _link_options(p)
    p.set_defaults(run=links.run_link)

    p = commands.add_parser(
        "connect",
        help="create a connection awaiting consent and print its consent link",
        description=links.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("provider", metavar="PROVIDER", help="one of: " + ", ".join(CONSENT_NAMES))
    p.add_argument("--name", required=True, help="name of the token secret to create")
    p.add_argument(
        "--app-secret-id", required=True, help="the secret holding the app's client id/secret"
    )
    p.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="provider option (repeatable), e.g. region=EU, tenant=..., authorize_url=...",
    )
    _link_options(p, new_account=False)
    p.set_defaults(run=links.run_connect, allow_new_account=True)


def main(argv: Sequence[str] | None = None, context: Context | None = None) -> int:
    args = build_parser().parse_args(argv)
    ctx = context or Context(
        console=Console(sys.stdout, sys.stderr),
        stdin=sys.stdin,
        env=os.environ,
        aws=Aws(profile=args.profile, region=args.region),
    )
    command: Command = args.run
    try:
        return command(args, ctx)
    except CliError as err:
        ctx.console.error(err.message, err.hint)
        return err.exit_code
    except (ClientError, BotoCoreError, AwsError) as exc:  # before the root AwsError derives from
        botocore_error: Exception = exc
        if isinstance(exc, AwsError) and isinstance(exc.__cause__, Exception):
            botocore_error = exc.__cause__  # what the library's store translated
        kwargs = getattr(botocore_error, "kwargs", {})
        endpoint = kwargs.get("endpoint_url") or "the AWS endpoint"
        failure = explain_aws_failure(botocore_error, str(endpoint))
        ctx.console.error(failure.message, failure.hint)
        return failure.exit_code
    except TokenRefresherError as err:  # a library ConfigError (malformed secret, endpoints...)
        ctx.console.error(err.message, err.remediation)
        return EXIT_ERROR
    except KeyboardInterrupt:
        ctx.console.note("interrupted")
        return EXIT_INTERRUPTED
