"""`token-refresher check SECRET...`: is this connection healthy? Nothing is rotated or written.

For each secret: it exists, the document parses (errors name the field), the provider is known,
the app credentials secret is readable, well formed and may serve this connection (binding.py: the
same check the rotation function makes, before any provider call), and the provider's own
validation (what testSecret runs: Meta debug_token, Google tokeninfo, LinkedIn introspection...)
accepts the token.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from token_refresher.adapters.secrets import AWSCURRENT, SecretNotFound
from token_refresher.errors import ConfigError, TokenRefresherError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.state import TAG_MANAGED
from token_refresher_cli.console import EXIT_ERROR, EXIT_OK, CliError
from token_refresher_cli.context import Context
from token_refresher_cli.shared import (
    explain_provider_error,
    fmt_date,
    fmt_until,
    load_app_credentials,
    resolve_provider,
    verify_binding,
)


@dataclass(frozen=True)
class Checked:
    secret_id: str
    provider: str
    summary: str
    warnings: tuple[str, ...] = ()


def _mask_before_parsing(ctx: Context, text: str) -> None:
    """Register token-looking values even when the document turns out malformed."""
    try:
        data = json.loads(text)
    except ValueError:
        return
    if isinstance(data, dict):
        ctx.console.redactor.add(
            *(
                data.get(k)
                for k in ("access_token", "refresh_token")
                if isinstance(data.get(k), str)
            )
        )


def check_one(ctx: Context, secret_id: str) -> Checked:
    store = ctx.store()
    try:
        desc = store.describe(secret_id)
    except SecretNotFound:
        raise CliError(f"secret {secret_id!r} not found") from None
    warnings = []
    if desc.tags.get(TAG_MANAGED) != "true":
        warnings.append(f"not tagged {TAG_MANAGED}=true: the refresher leaves it alone")
    text = store.get_value(secret_id, stage=AWSCURRENT)
    if text is None:
        raise CliError(f"secret {desc.name!r} has no AWSCURRENT value")
    _mask_before_parsing(ctx, text)
    try:
        doc = TokenDocument.from_json(text)
    except ConfigError as err:
        raise CliError(
            f"{desc.name}: invalid token document: {err.message}",
            hint="fix that field in the secret value (README: 'The token secret')",
        ) from None
    ctx.console.redactor.add(*doc.secret_values())
    try:
        provider = resolve_provider(doc.provider)
    except CliError as err:
        raise CliError(f"{desc.name}: provider: {err.message}", hint=err.hint) from None
    app: AppCredentials | None = None
    if doc.app_secret_id:
        app = load_app_credentials(ctx, doc.app_secret_id)
        warning = verify_binding(desc.name, doc, doc.app_secret_id, app)
        warnings.extend([warning] if warning else [])
    elif provider.requires_app_credentials:
        raise CliError(
            f"{desc.name}: app_secret_id: is required for provider {doc.provider}",
            hint="add the id of the app-credentials secret to the document",
        )
    try:
        result = provider.validate(doc, app, ctx.provider_context())
    except TokenRefresherError as err:
        raise explain_provider_error(err, doc.provider, "stored token") from None
    if not result.valid:
        raise CliError(
            f"{desc.name}: {doc.provider} reports the token invalid "
            f"({result.detail or 'not valid'})",
            hint="a human must re-authorize and store the new token "
            f"(docs/providers/{doc.provider}.md)",
        )
    now = ctx.clock()
    expires = result.expires_at or doc.expires_at
    parts = [f"valid ({result.detail})" if result.detail else "valid"]
    parts.append(f"expires {fmt_date(expires)} ({fmt_until(expires, now)})")
    if result.data_access_expires_at:
        parts.append(f"data access until {fmt_date(result.data_access_expires_at)}")
    if result.scopes:
        parts.append(f"scopes {','.join(result.scopes)}")
    return Checked(desc.name, doc.provider, "; ".join(parts), tuple(warnings))


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.all:
        if args.secret:
            raise CliError("give secret ids or --all, not both")
        ids = [str(e.get("Name") or e["ARN"]) for e in ctx.store().list_by_tag(TAG_MANAGED, "true")]
    else:
        ids = list(dict.fromkeys(args.secret))
        if not ids:
            raise CliError("name at least one secret, or use --all")
    progress = ctx.console.progress("checked", len(ids))
    failed = 0
    for secret_id in ids:
        try:
            checked = check_one(ctx, secret_id)
        except CliError as err:
            failed += 1
            ctx.console.print(f"FAIL  {secret_id}: {err.message}")
            if err.hint:
                ctx.console.print(f"      -> {err.hint}")
        else:
            ctx.console.print(f"ok    {checked.secret_id} ({checked.provider}): {checked.summary}")
            for warning in checked.warnings:
                ctx.console.print(f"      warning: {warning}")
        progress.advance()
    progress.finish()
    if len(ids) > 1 or failed:
        ctx.console.print(f"checked {len(ids)}: {len(ids) - failed} ok, {failed} failed")
    return EXIT_ERROR if failed else EXIT_OK
