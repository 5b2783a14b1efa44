"""Pieces several commands share: secret input, app credentials, provider errors, formatting."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from token_refresher.adapters.errors import AccessDenied
from token_refresher.adapters.secrets import AWSCURRENT, SecretNotFound
from token_refresher.credentials.binding import BindingError, verify_app_binding
from token_refresher.credentials.lookup import require_app_instance
from token_refresher.errors import ConfigError, ErrorClass, TokenRefresherError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import PROVIDER_NAMES, get_provider
from token_refresher.providers.base import Provider
from token_refresher.state import TAG_APP_INSTANCES
from token_refresher.timeutil import format_iso
from token_refresher_cli.console import CliError
from token_refresher_cli.context import Context

MAX_INPUT_CHARS = 16_384
GRAPH_EXPLORER = "https://developers.facebook.com/tools/explorer/"


def resolve_provider(name: str) -> Provider:
    try:
        return get_provider(name)
    except ConfigError:
        raise CliError(
            f"unknown provider {name!r}",
            hint=f"known providers: {', '.join(PROVIDER_NAMES)}",
        ) from None


def read_secret_input(ctx: Context, what: str) -> str:
    """One token from stdin (hidden prompt on a terminal); never from the command line."""
    if ctx.stdin.isatty():
        text = getpass.getpass(f"{what} (input hidden): ", stream=ctx.console.err)
    else:
        text = ctx.stdin.read(MAX_INPUT_CHARS + 1)
    if len(text) > MAX_INPUT_CHARS:
        raise CliError(f"the {what} on stdin is longer than {MAX_INPUT_CHARS} characters")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise CliError(
            f"no {what} on stdin",
            hint="pipe it in (e.g. `pbpaste | token-refresher ...` or `... < token.txt`), or run "
            "in a terminal to be prompted; tokens are never accepted as arguments",
        )
    if len(lines) > 1:
        raise CliError(f"expected one {what} on stdin, got {len(lines)} non-empty lines")
    pasted = lines[0]
    ctx.console.redactor.add(pasted)  # registered before anything can echo it
    if any(ch.isspace() for ch in pasted):
        raise CliError(f"the {what} contains whitespace: paste the token alone")
    return pasted


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``--option key=value``: ``true``/``false`` become booleans, anything else stays a string."""
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(f"--option {pair!r} must look like key=value")
        if key in options:
            raise CliError(f"--option {key} given twice")
        options[key] = {"true": True, "false": False}.get(value.strip().lower(), value.strip())
    return options


def load_app_credentials(
    ctx: Context, app_secret_id: str, *, prefix: str | None = None
) -> AppCredentials:
    """Read and parse the app-credentials secret; clear errors when it is missing or malformed."""
    store = ctx.store()
    name = app_secret_id
    how_to = (
        "it must exist and be readable with your AWS credentials; create it with "
        f'aws secretsmanager create-secret --name {app_secret_id} --secret-string \'{{"client_id": '
        '"...", "client_secret": "..."}\''
    )
    try:
        name = store.describe(app_secret_id).name
        text = store.get_value(app_secret_id, stage=AWSCURRENT)
    except SecretNotFound:
        text = None
    except AccessDenied as exc:
        raise CliError(
            f"app secret {app_secret_id!r} is not readable ({exc.code})", hint=how_to
        ) from None
    if text is None:
        raise CliError(f"app secret {app_secret_id!r} not found", hint=how_to)
    if prefix and not name.startswith(prefix):
        raise CliError(
            f"app secret {name!r} is outside the stack's AppSecretPrefix {prefix!r}: the "
            "rotation function could not read it",
            hint=f"store the app credentials under {prefix} (or deploy with another "
            "AppSecretPrefix)",
        )
    app = AppCredentials.from_json(text, "app_secret_id")
    ctx.console.redactor.add_signing_key(app.client_secret)  # appsecret_proof of each token
    ctx.console.redactor.add(*app.secret_values())
    return app


def verify_app_instance(
    ctx: Context, outputs: Mapping[str, str], app_secret_id: str, instance: str
) -> None:
    """The stack's own instance check on app credentials, where the stack requires it (output
    AppSecretInstanceBinding=required): their app-instances tag must list ``instance``; else a
    CliError before anything is created (the stack would refuse them on every rotation)."""
    if outputs.get("AppSecretInstanceBinding") != "required":
        return
    try:
        require_app_instance(ctx.store(), app_secret_id, instance)
    except ConfigError as err:
        raise CliError(
            f"refused: {err.message}",
            hint="the app-credential owner lists the instance in that tag: aws secretsmanager "
            f"tag-resource --secret-id {app_secret_id} --tags "
            f'Key={TAG_APP_INSTANCES},Value="{instance}" (keep the names already there)',
        ) from None


def verify_binding(
    connection_id: str, doc: TokenDocument, app_secret_id: str, app: AppCredentials
) -> str | None:
    """The rotation function's own credential-binding check, before any provider call.

    Returns the warning for app credentials that declare no provider (allowed for the platform
    providers); a refused binding becomes a CliError naming both secrets and the fix.
    """
    try:
        return verify_app_binding(connection_id, doc, app_secret_id, app).warning
    except BindingError as err:
        raise CliError(f"refused: {err.message}", hint=err.remediation) from None


def explain_provider_error(err: TokenRefresherError, provider: str, what: str) -> CliError:
    """A provider failure in operator terms, with the provider's own remediation."""
    code = err.provider_code
    if provider in ("meta", "meta_system_user") and code == "190" and err.provider_subcode == "463":
        return CliError(
            f"the Meta {what} has expired (Graph error 190/463)",
            hint="short-lived tokens last about an hour: get a fresh one from the Graph API "
            f"Explorer ({GRAPH_EXPLORER}) or your app's login flow and run this command again "
            "straight away",
        )
    where = f" (provider code {code}" + (f"/{err.provider_subcode}" if err.provider_subcode else "")
    where = where + ")" if code else ""
    if err.error_class is ErrorClass.REAUTH_REQUIRED:
        return CliError(
            f"{provider} rejected the {what}{where}: {err.message}",
            hint=err.remediation or "get a new token by signing in again, then retry",
        )
    if err.error_class is ErrorClass.PERMISSION:
        return CliError(
            f"{provider}: a permission is missing{where}: {err.message}", hint=err.remediation
        )
    if err.error_class is ErrorClass.TRANSIENT:
        return CliError(
            f"{provider} is unavailable or throttling{where}: {err.message}",
            hint="nothing was stored; try again in a few minutes",
        )
    return CliError(f"{err.message}{where}", hint=err.remediation)


def fmt_delta(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    ago = seconds < 0
    seconds = abs(seconds)
    if seconds >= 2 * 86400:
        text = f"{seconds // 86400}d"
    elif seconds >= 2 * 3600:
        text = f"{seconds // 3600}h"
    elif seconds >= 60:
        text = f"{seconds // 60}m"
    else:
        text = f"{seconds}s"
    return f"{text} ago" if ago else text


def fmt_until(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    if when <= now:
        return f"expired {fmt_delta(when - now)}"
    return fmt_delta(when - now)


def fmt_date(when: datetime | None) -> str:
    return "-" if when is None else format_iso(when)
