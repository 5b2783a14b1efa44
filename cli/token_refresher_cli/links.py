"""`token-refresher link SECRET` and `token-refresher connect PROVIDER`: consent links.

A link opens the stack's connect page (docs/connect.md): the account owner signs in at the
platform and the new grant is stored in the connection's secret. Links are signed with the
stack's key (output ConnectKeySecretId), expire (``--valid-days``; default the stack's output
ConnectLinkTtlDays, as the alerts' links) and work once; a new link replaces the connection's
previous one.

- ``link``: for an existing managed connection (a revoked grant, a Meta token near its 90 days).
  It reads the connection's tags, never its value (the operator's policy grants no read of it):
  the provider is its ``token-refresher:provider`` tag, or ``--provider`` for a connection not
  yet rotated that lacks it.
- ``connect``: creates the connection's secret now, without tokens and tagged
  ``token-refresher:awaiting-consent=true`` (the sweep ignores it), then prints its link; the
  first consent stores the grant and makes it a managed connection. The app credentials are
  checked (readable, declared for this provider, oauth2 URLs allowed) before anything is created.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from token_refresher.adapters.secrets import SecretNotFound
from token_refresher.connect.idtoken import IDENTITY_PROVIDERS, require_identity_source
from token_refresher.connect.links import CONSENT_PROVIDERS, TAG_AWAITING
from token_refresher.connect.minter import KeySource, LinkMinter
from token_refresher.errors import ConfigError
from token_refresher.instances import refusal
from token_refresher.model import TokenDocument
from token_refresher.providers.tiktok import KIND_ADVERTISER
from token_refresher.state import TAG_INSTANCE, TAG_MANAGED, TAG_PROVIDER
from token_refresher_cli.aws import error_code
from token_refresher_cli.console import EXIT_OK, CliError
from token_refresher_cli.context import Context
from token_refresher_cli.instance import resolve_instance
from token_refresher_cli.shared import (
    load_app_credentials,
    parse_options,
    verify_app_instance,
    verify_binding,
)

TTL_OUTPUT = "ConnectLinkTtlDays"
DEFAULT_LINK_DAYS = 7
MAX_LINK_DAYS = 90
IDENTITY_NOTE = (
    "oauth2: the link page refuses the link unless the connection's options name "
    "options.issuer or options.userinfo_url (docs/providers/oauth2.md)"
)
NO_FLOW_HINT = (
    "meta_system_user tokens are generated in Business Manager: see "
    "docs/providers/meta_system_user.md, then `token-refresher onboard meta_system_user`"
)


def _minter(ctx: Context, args: argparse.Namespace) -> tuple[LinkMinter, str]:
    outputs = ctx.aws.stack_outputs(args.stack_name)
    key_id = outputs.get("ConnectKeySecretId")
    if not key_id:
        raise CliError(
            f"stack {args.stack_name!r} has no connect endpoint",
            hint="deploy it with ConnectEndpoint=true (the default), see docs/connect.md",
        )
    keys = KeySource(ctx.store(), key_id)
    ttl = timedelta(days=args.valid_days or _stack_link_days(outputs))
    return LinkMinter(ctx.store(), lambda: keys.current, ttl=ttl, clock=ctx.clock), key_id


def _stack_link_days(outputs: dict[str, str]) -> int:
    """The stack's ConnectLinkTtlDays (its output), as the alerts' links use; 7 for a stack
    deployed before the output existed."""
    raw = outputs.get(TTL_OUTPUT, "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= MAX_LINK_DAYS else DEFAULT_LINK_DAYS


def _print_link(ctx: Context, minter: LinkMinter, name: str, provider: str, new: bool) -> None:
    url = minter.mint(name, provider, allow_new_account=new)
    base = url.split("?", 1)[0]
    ctx.console.print(url)
    ctx.console.note(
        f"valid until {minter.expiry():%Y-%m-%d %H:%M} UTC, once; send it to the account owner"
    )
    ctx.console.note(f"redirect URI to register on the {provider} app: {base}callback/{provider}")


def run_link(args: argparse.Namespace, ctx: Context) -> int:
    """Decided from the connection's tags (DescribeSecret): the operator's policy grants no read
    of a connection's value, and a link needs none. What only the document can tell (an oauth2
    connection's identity source; a TikTok document written before token kinds, which the minter
    reads only where that is allowed) the link page checks before any consent
    (connect/landing.py), as `connect` did when it made the connection."""
    store = ctx.store()
    try:
        desc = store.describe(args.secret)
    except SecretNotFound:
        raise CliError(f"secret {args.secret!r} not found") from None
    if desc.tags.get(TAG_MANAGED) != "true" and desc.tags.get(TAG_AWAITING) != "true":
        raise CliError(
            f"{desc.name!r} is not a token-refresher connection (no {TAG_MANAGED}=true tag)"
        )
    owner = desc.tags.get(TAG_INSTANCE)
    instance = resolve_instance(args, ctx)
    if owner != instance and not (owner is None and desc.tags.get(TAG_AWAITING) == "true"):
        raise CliError(
            refusal(desc.tags, instance) or f"{desc.name!r} belongs to instance {owner!r}",
            hint="name the connection's own instance (--instance / --stack-name); "
            "`token-refresher status --all-instances` shows it",
        )
    provider = _provider(desc.name, desc.tags.get(TAG_PROVIDER), args.provider)
    minter, _ = _minter(ctx, args)
    _print_link(ctx, minter, desc.name, provider, args.allow_new_account)
    if provider in IDENTITY_PROVIDERS:
        ctx.console.note(IDENTITY_NOTE)
    return EXIT_OK


def _provider(name: str, tagged: str | None, given: str | None) -> str:
    """The connection's provider: its tag (every rotation and `connect` write it), else
    ``--provider`` (the link page refuses a link whose provider is not the document's)."""
    if tagged and given and tagged != given:
        raise CliError(f"{name!r} is a {tagged} connection, not {given}")
    provider = tagged or given
    if not provider:
        raise CliError(
            f"{name!r} has no {TAG_PROVIDER} tag yet (its first rotation writes it)",
            hint="name its provider: --provider PROVIDER",
        )
    if provider not in CONSENT_PROVIDERS:
        raise CliError(f"{provider} has no consent flow", hint=NO_FLOW_HINT)
    return provider


def _require_identity_source(provider: str, options: dict[str, Any]) -> None:
    try:
        require_identity_source(provider, options)
    except ConfigError as err:
        raise CliError(err.message, hint=err.remediation) from None


def run_connect(args: argparse.Namespace, ctx: Context) -> int:
    if args.provider not in CONSENT_PROVIDERS:
        raise CliError(f"{args.provider} has no consent flow", hint=NO_FLOW_HINT)
    options = parse_options(args.option)
    _require_identity_source(args.provider, options)
    minter, _ = _minter(ctx, args)  # before anything is created: the stack has an endpoint
    doc = TokenDocument(
        provider=args.provider,
        access_token=None,
        app_secret_id=args.app_secret_id,
        options=options,
        # TikTok's consent makes an advertiser token: say so, so that no reader has to guess
        kind=KIND_ADVERTISER if args.provider == "tiktok" else None,
    )
    app = load_app_credentials(ctx, args.app_secret_id)
    warning = verify_binding(args.name, doc, args.app_secret_id, app)
    if warning:
        ctx.console.warn(warning)
    instance = resolve_instance(args, ctx)
    outputs = ctx.aws.stack_outputs(args.stack_name)
    verify_app_instance(ctx, outputs, args.app_secret_id, instance)
    _create_awaiting(ctx, args.name, doc, instance)
    ctx.console.note(f"created {args.name} (awaiting consent; the sweep ignores it until then)")
    _print_link(ctx, minter, args.name, args.provider, True)
    return EXIT_OK


def _create_awaiting(ctx: Context, name: str, doc: TokenDocument, instance: str) -> None:
    body = {k: v for k, v in doc.to_dict().items() if v not in (None, [], {}) or k == "options"}
    tags = {TAG_AWAITING: "true", TAG_INSTANCE: instance, TAG_PROVIDER: doc.provider}
    try:
        ctx.aws.client("secretsmanager").create_secret(
            Name=name,
            SecretString=json.dumps(body, sort_keys=True),
            Description=f"token-refresher connection ({doc.provider}), awaiting consent",
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
    except ClientError as exc:
        code = error_code(exc)
        hint = "choose another --name" if code == "ResourceExistsException" else None
        raise CliError(f"could not create {name!r} ({code})", hint=hint) from None
