"""boto3 client factory: explicit retry mode and timeouts; endpoints come from AWS_ENDPOINT_URL."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=64,  # SweepConcurrency goes up to 64 threads sharing one client
    user_agent_extra="token-refresher",
)


def client(service: str, session: boto3.session.Session | None = None) -> Any:
    """A boto3 client; boto3 itself honours AWS_ENDPOINT_URL(_<SERVICE>) and AWS_REGION."""
    factory: Any = (session or boto3.session.Session()).client
    return factory(service, config=CLIENT_CONFIG)
