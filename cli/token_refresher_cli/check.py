"""`token-refresher check SECRET...`: is this connection healthy? Nothing is rotated.

By default the check runs inside the deployed stack: the rotation function (stack output
RotationFunctionName, or ``--rotation-function``) is invoked with
``{"action": "check", "secret_id": ...}`` (events/check-connection.json) and validates the
connection through the same code, ProviderEndpoints, network path and IAM role as a rotation:
the secret is managed by the stack, the document parses (errors name the field), the provider is
known, the app credentials resolve and are bound to this use, and the provider's own validation
(what testSecret runs: Meta debug_token, Google tokeninfo, LinkedIn introspection...) accepts the
token. No version, tag or alert is written.

``--local`` runs the same validation from this machine instead, with your AWS credentials and
the provider endpoints this machine reaches (PROVIDER_ENDPOINTS overrides them, for tests only),
the app-credentials binding included (credentials/binding.py, before any provider call):
useful before a stack exists, but it does not test what production runs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from token_refresher.adapters.secrets import AWSCURRENT, SecretNotFound
from token_refresher.errors import ConfigError, TokenRefresherError
from token_refresher.instances import list_own
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import ValidationResult
from token_refresher.state import TAG_INSTANCE, TAG_MANAGED
from token_refresher.timeutil import parse_iso
from token_refresher_cli.console import EXIT_ERROR, EXIT_OK, CliError
from token_refresher_cli.context import Context
from token_refresher_cli.instance import resolve_instance
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


def _ownership_warnings(tags: Mapping[str, str]) -> list[str]:
    if tags.get(TAG_MANAGED) != "true":
        return [f"not tagged {TAG_MANAGED}=true: the refresher leaves it alone"]
    if not tags.get(TAG_INSTANCE):
        return [f"no {TAG_INSTANCE} tag: no deployment rotates it (token-refresher adopt)"]
    return []


def check_local(ctx: Context, secret_id: str) -> Checked:
    store = ctx.store()
    try:
        desc = store.describe(secret_id)
    except SecretNotFound:
        raise CliError(f"secret {secret_id!r} not found") from None
    warnings = _ownership_warnings(desc.tags)
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
    return Checked(
        desc.name, doc.provider, _local_summary(result, doc, ctx.clock()), tuple(warnings)
    )


def _local_summary(result: ValidationResult, doc: TokenDocument, now: datetime) -> str:
    expires = result.expires_at or doc.expires_at
    parts = [f"valid ({result.detail})" if result.detail else "valid"]
    parts.append(f"expires {fmt_date(expires)} ({fmt_until(expires, now)})")
    if result.data_access_expires_at:
        parts.append(f"data access until {fmt_date(result.data_access_expires_at)}")
    if result.scopes:
        parts.append(f"scopes {','.join(result.scopes)}")
    return "; ".join(parts)


def _summary(
    ctx: Context, message: str, expires_at: str | None, data_access: str | None, scopes: list[str]
) -> str:
    parts = [message]
    if expires_at:
        expires = parse_iso(expires_at)
        parts.append(f"expires {fmt_date(expires)} ({fmt_until(expires, ctx.clock())})")
    else:
        parts.append("never expires")
    if data_access:
        parts.append(f"data access until {data_access}")
    if scopes:
        parts.append(f"scopes {','.join(scopes)}")
    return "; ".join(parts)


def _rotation_function(ctx: Context, args: argparse.Namespace) -> str:
    function = args.rotation_function or ctx.aws.stack_outputs(args.stack_name).get(
        "RotationFunctionName"
    )
    if not function:
        raise CliError(
            f"stack {args.stack_name!r} has no RotationFunctionName output",
            hint="pass --rotation-function NAME, or --local to check from this machine",
        )
    return str(function)


def check_in_stack(ctx: Context, function: str, secret_id: str) -> Checked:
    """One invocation of the deployed rotation function with a check event."""
    response = ctx.aws.client("lambda").invoke(
        FunctionName=function,
        Payload=json.dumps({"action": "check", "secret_id": secret_id}).encode(),
    )
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError") or not isinstance(body, dict) or "ok" not in body:
        message = body.get("errorMessage") if isinstance(body, dict) else None
        raise CliError(
            f"the rotation function {function} failed: {message or 'no check report'}",
            hint="is the stack up to date? (the check needs a rotation function that knows "
            '{"action": "check"}; redeploy, or use --local)',
        )
    if not body["ok"]:
        raise CliError(str(body.get("message") or "check failed"), hint=body.get("remediation"))
    summary = _summary(
        ctx,
        str(body.get("message") or "valid"),
        body.get("expires_at"),
        body.get("data_access_expires_at"),
        list(body.get("scopes") or []),
    )
    return Checked(
        str(body.get("secret_id") or secret_id),
        str(body.get("provider")),
        summary,
        tuple(str(w) for w in body.get("warnings") or ()),
    )


def _target_ids(args: argparse.Namespace, ctx: Context) -> list[str]:
    if args.all:
        if args.secret:
            raise CliError("give secret ids or --all, not both")
        own = list_own(ctx.store(), resolve_instance(args, ctx))
        return [e.name for e in own]
    ids = list(dict.fromkeys(args.secret))
    if not ids:
        raise CliError("name at least one secret, or use --all")
    return ids


def _checker(args: argparse.Namespace, ctx: Context) -> Callable[[str], Checked]:
    if args.local:
        ctx.console.note(
            "--local: validating from this machine with your credentials, not through the "
            "deployed stack's endpoints, network or role"
        )
        return lambda secret_id: check_local(ctx, secret_id)
    function = _rotation_function(ctx, args)
    ctx.console.note(f"checking inside the stack (function {function})")
    return lambda secret_id: check_in_stack(ctx, function, secret_id)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ids = _target_ids(args, ctx)
    check = _checker(args, ctx)
    progress = ctx.console.progress("checked", len(ids))
    failed = 0
    for secret_id in ids:
        try:
            checked = check(secret_id)
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
