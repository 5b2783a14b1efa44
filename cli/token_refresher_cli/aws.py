"""AWS access for the CLI: the default boto3 session (profiles, AWS_REGION, AWS_ENDPOINT_URL are
honoured by boto3 itself), client creation, stack outputs, and readable AWS failures."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from token_refresher.adapters.errors import error_code, error_message
from token_refresher.config import SWEEP_TIMEOUT_SECONDS
from token_refresher_cli.console import CliError

__all__ = ["CLIENT_CONFIG", "Aws", "error_code", "explain_aws_failure"]

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    # A synchronous sweep invocation (rotate --dry-run) may run for the SweepFunction's whole
    # Timeout: reading less would time out and retry, i.e. invoke the sweep again.
    read_timeout=SWEEP_TIMEOUT_SECONDS + 30,
    user_agent_extra="token-refresher-cli",
)


class Aws:
    """Lazily created clients over one session."""

    def __init__(self, profile: str | None = None, region: str | None = None) -> None:
        self._profile = profile
        # botocore reads AWS_DEFAULT_REGION; AWS_REGION (what Lambda and most tools set) too.
        self._region = region or os.environ.get("AWS_REGION") or None
        self._session: boto3.session.Session | None = None
        self._clients: dict[str, Any] = {}
        self._outputs: dict[str, dict[str, str]] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            if self._session is None:
                self._session = boto3.session.Session(
                    profile_name=self._profile, region_name=self._region
                )
            factory: Any = self._session.client
            self._clients[service] = factory(service, config=CLIENT_CONFIG)
        return self._clients[service]

    def stack_outputs(self, stack_name: str) -> dict[str, str]:
        if stack_name not in self._outputs:
            try:
                stacks = self.client("cloudformation").describe_stacks(StackName=stack_name)
            except ClientError as exc:
                if error_code(exc) == "ValidationError":
                    raise CliError(
                        f"stack {stack_name!r} not found in this account/region",
                        hint="pass --stack-name with the name you deployed "
                        "(sam deploy --stack-name ...), or give the ARN/name explicitly",
                    ) from None
                raise
            found = stacks["Stacks"][0].get("Outputs", [])
            self._outputs[stack_name] = {o["OutputKey"]: o["OutputValue"] for o in found}
        return self._outputs[stack_name]


def explain_aws_failure(exc: Exception, endpoint: str) -> CliError:  # noqa: PLR0911 - one early return per botocore failure kind, a table in code
    """Turn the botocore failures an operator can hit into a message and a next step."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return CliError(
            "no AWS credentials found",
            hint="configure them as for the AWS CLI: AWS_PROFILE / --profile, "
            "aws sso login, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    if isinstance(exc, NoRegionError):
        return CliError("no AWS region configured", hint="set AWS_REGION or pass --region")
    if isinstance(exc, ProfileNotFound):
        return CliError(str(exc), hint="check --profile / AWS_PROFILE against ~/.aws/config")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return CliError(
            f"cannot reach {endpoint}",
            hint="check your network, the region, and AWS_ENDPOINT_URL if you set one "
            "(for LocalStack: is it running?)",
        )
    if isinstance(exc, ReadTimeoutError):
        return CliError(f"{endpoint} did not answer in time", hint="try again")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        operation = getattr(exc, "operation_name", "call")
        message = error_message(exc)
        hint = None
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            hint = "your AWS identity lacks a permission for this operation"
        elif code in ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken"):
            hint = "the AWS credentials are invalid or expired: refresh them (aws sso login...)"
        return CliError(f"AWS {operation} failed: {code}: {message[:300]}", hint=hint)
    return CliError(f"AWS call failed ({type(exc).__name__})")
