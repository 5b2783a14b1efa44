"""`token-refresher onboard PROVIDER`: turn a token a human obtained into a managed connection.

Steps, cheapest checks first so that nobody pastes a token for nothing and no provider call is
made when the result could not be stored:

1. provider known, options well formed, the connection name free, the rotation function found
   (``--rotation-lambda-arn`` or the stack's RotationFunctionArn output);
2. the app-credentials secret readable (and under the stack's AppSecretPrefix), and allowed to
   serve this connection (credentials/binding.py: declared for this provider; for oauth2, every
   URL option under its allowed_url_prefixes);
3. the token read from stdin (hidden prompt on a terminal);
4. one provider call proving it works, with the library's own provider code: Meta exchanges the
   short-lived token for a long-lived one (``fb_exchange_token``), refresh-token providers refresh
   once and the answer is stored (Microsoft rotates the refresh token), validate-only tokens are
   validated; then the provider's validation (what testSecret runs) on the result;
5. CreateSecret with the schema-1 document and the tags the sweep reads. No RotateSecret: the
   app-credential owner may not rotate (a RotateSecret would pass the forced-rotation floor,
   docs/security.md); the sweep attaches the rotation function with the first rotation it starts.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from token_refresher.alerting.notices import human_deadline, merge_refresh, token_tags
from token_refresher.errors import TokenRefresherError
from token_refresher.instances import ownership_tags
from token_refresher.model import TokenDocument
from token_refresher.providers.base import Provider
from token_refresher.state import TAG_LAST_ROTATED, TokenState
from token_refresher.timeutil import to_epoch
from token_refresher_cli.aws import error_code
from token_refresher_cli.console import EXIT_OK, CliError
from token_refresher_cli.context import Context
from token_refresher_cli.instance import resolve_instance
from token_refresher_cli.shared import (
    explain_provider_error,
    fmt_date,
    fmt_until,
    load_app_credentials,
    parse_options,
    read_secret_input,
    resolve_provider,
    verify_app_instance,
    verify_binding,
)

VALIDATE_ONLY = "validate"
REFRESH = "refresh"


@dataclass(frozen=True)
class Plan:
    """What the operator pastes and what onboarding does with it."""

    reads: str | None  # "access_token" | "refresh_token" | None (client_credentials)
    mode: str  # REFRESH (exchange / refresh once) | VALIDATE_ONLY
    kind: str
    what: str  # the input, in words, for prompts and errors


def plan_for(provider: str, options: dict[str, Any], token_type: str | None) -> Plan:
    if token_type is not None and provider != "tiktok":
        raise CliError("--token-type applies to tiktok only")
    if provider == "meta":
        return Plan("access_token", REFRESH, "user_long_lived", "short-lived user access token")
    if provider == "meta_system_user":
        return Plan("access_token", VALIDATE_ONLY, "system_user", "system user access token")
    if provider == "tiktok":
        if token_type == "refresh":  # noqa: S105  # nosec B105 # a mode name, not a secret
            return Plan("refresh_token", REFRESH, "tiktok_account", "TikTok account refresh token")
        return Plan("access_token", VALIDATE_ONLY, "advertiser", "TikTok advertiser access token")
    if provider == "oauth2" and options.get("grant_type") == "client_credentials":
        return Plan(None, REFRESH, "client_credentials", "client credentials")
    return Plan("refresh_token", REFRESH, "refresh_token", f"{provider} refresh token")


def _name_is_free(ctx: Context, name: str) -> None:
    try:
        ctx.aws.client("secretsmanager").describe_secret(SecretId=name)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return
        raise
    raise CliError(
        f"secret {name!r} already exists",
        hint="choose another --name; to store a re-authorized token in an existing connection "
        "use `aws secretsmanager put-secret-value` (see docs/providers/)",
    )


def _rotation_target(ctx: Context, args: argparse.Namespace) -> tuple[str, str | None]:
    """The rotation function ARN, and the AppSecretPrefix when a stack was looked up."""
    if args.rotation_lambda_arn:
        if not args.rotation_lambda_arn.startswith("arn:"):
            raise CliError("--rotation-lambda-arn must be a Lambda function ARN")
        return args.rotation_lambda_arn, None
    outputs = ctx.aws.stack_outputs(args.stack_name)
    arn = outputs.get("RotationFunctionArn")
    if not arn:
        raise CliError(
            f"stack {args.stack_name!r} has no RotationFunctionArn output",
            hint="is it a token-refresher stack? pass --rotation-lambda-arn instead",
        )
    return arn, outputs.get("AppSecretPrefix")


def _prove(
    provider: Provider, plan: Plan, doc: TokenDocument, ctx: Context, app: Any
) -> TokenDocument:
    pctx = ctx.provider_context()
    try:
        if plan.mode == REFRESH:
            result = provider.refresh(doc, app, pctx)
            ctx.console.redactor.add(result.access_token, result.refresh_token)
            doc = merge_refresh(doc, result, ctx.clock())
        check = provider.validate(doc, app, pctx)
    except TokenRefresherError as err:
        raise explain_provider_error(err, doc.provider, plan.what) from None
    if not check.valid:
        raise CliError(
            f"{doc.provider} reports the {plan.what} invalid ({check.detail or 'not valid'})",
            hint="get a new token and run this command again",
        )
    if plan.mode == VALIDATE_ONLY:
        doc = doc.evolve(
            expires_at=check.expires_at,
            data_access_expires_at=check.data_access_expires_at or doc.data_access_expires_at,
        )
    if doc.provider == "meta_system_user" and check.expires_at is not None:
        # 60-day token: refreshed by fb_exchange_token; business_id/system_user_id, when given,
        # allow the fallback through /{business_id}/system_user_access_tokens.
        doc = doc.evolve(kind="system_user_expiring")
    return doc


def run(args: argparse.Namespace, ctx: Context) -> int:
    provider = resolve_provider(args.provider)
    options = parse_options(args.option)
    plan = plan_for(args.provider, options, args.token_type)
    _name_is_free(ctx, args.name)
    _, prefix = _rotation_target(ctx, args)
    if args.rotation_lambda_arn and args.instance is None:
        raise CliError("with --rotation-lambda-arn, name the instance too: --instance NAME")
    instance = resolve_instance(args, ctx)
    app = load_app_credentials(ctx, args.app_secret_id, prefix=prefix)
    draft = TokenDocument(
        provider=args.provider,
        kind=plan.kind,
        access_token=None,
        app_secret_id=args.app_secret_id,
        options=options,
    )
    warning = verify_binding(args.name, draft, args.app_secret_id, app)
    if warning:
        ctx.console.warn(warning)
    if not args.rotation_lambda_arn:  # the stack says whether it binds app credentials
        verify_app_instance(
            ctx, ctx.aws.stack_outputs(args.stack_name), args.app_secret_id, instance
        )

    pasted = read_secret_input(ctx, plan.what) if plan.reads else None
    doc = draft.evolve(
        access_token=pasted if plan.reads == "access_token" else None,
        refresh_token=pasted if plan.reads == "refresh_token" else None,
    )
    doc = _prove(provider, plan, doc, ctx, app)
    doc = TokenDocument.from_json(doc.to_json())  # exactly what the rotation function will parse
    now = ctx.clock()
    _create(ctx, args, doc, now, instance)
    _report(ctx, args.name, doc, now)
    ctx.console.print(f"  instance: {instance}")
    return EXIT_OK


def _create(
    ctx: Context, args: argparse.Namespace, doc: TokenDocument, now: datetime, instance: str
) -> str:
    tags = ownership_tags(instance) | token_tags(doc) | TokenState().to_tags()
    tags[TAG_LAST_ROTATED] = str(to_epoch(now))  # the sweep measures the lifetime from here
    request: dict[str, Any] = {
        "Name": args.name,
        "SecretString": doc.to_json(),
        "Description": args.description or f"token-refresher connection ({doc.provider})",
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    if args.kms_key_id:
        request["KmsKeyId"] = args.kms_key_id
    try:
        response = ctx.aws.client("secretsmanager").create_secret(**request)
    except ClientError as exc:
        lost = (
            " Microsoft has already rotated the refresh token: sign in again for a new one."
            if doc.provider == "microsoft_ads"
            else ""
        )
        raise CliError(
            f"the token was checked but could not be stored ({error_code(exc)}).{lost}",
            hint="fix the cause (permissions, KMS key, name) and onboard again",
        ) from None
    return str(response["ARN"])


def _report(ctx: Context, name: str, doc: TokenDocument, now: datetime) -> None:
    deadline = human_deadline(doc)
    ctx.console.print(f"onboarded {name} ({doc.provider}, {doc.kind})")
    ctx.console.print(
        f"  token expires: {fmt_date(doc.expires_at)} ({fmt_until(doc.expires_at, now)})"
    )
    if doc.refresh_token_expires_at:
        ctx.console.print(f"  refresh token ends: {fmt_date(doc.refresh_token_expires_at)}")
    if doc.data_access_expires_at:
        ctx.console.print(f"  data access until: {fmt_date(doc.data_access_expires_at)}")
    if deadline is not None:
        ctx.console.print(
            f"  a human must act before {fmt_date(deadline)} (token.expiring alerts warn ahead)"
        )
    ctx.console.print("  rotation: the sweep refreshes ahead and attaches the rotation function")
