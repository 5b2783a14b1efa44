"""boto3 client factory: explicit retry mode and timeouts; endpoints come from AWS_ENDPOINT_URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): typing only, not shipped in the layer
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=64,  # SweepConcurrency goes up to 64 threads sharing one client
    user_agent_extra="token-refresher",
)


@overload
def client(
    service: Literal["secretsmanager"], session: boto3.session.Session | None = None
) -> SecretsManagerClient: ...
@overload
def client(service: Literal["sns"], session: boto3.session.Session | None = None) -> SNSClient: ...
@overload
def client(service: Literal["sqs"], session: boto3.session.Session | None = None) -> SQSClient: ...
@overload
def client(
    service: Literal["lambda"], session: boto3.session.Session | None = None
) -> LambdaClient: ...
@overload
def client(service: Literal["s3"], session: boto3.session.Session | None = None) -> Any: ...
@overload
def client(
    service: Literal["events"], session: boto3.session.Session | None = None
) -> EventBridgeClient: ...


def client(service: str, session: boto3.session.Session | None = None) -> Any:
    """A boto3 client; boto3 itself honours AWS_ENDPOINT_URL(_<SERVICE>) and AWS_REGION."""
    factory: Any = (session or boto3.session.Session()).client
    return factory(service, config=CLIENT_CONFIG)
