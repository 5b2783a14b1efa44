"""E2E layer: the built SAM template deployed to LocalStack, then driven through AWS APIs only."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import stack
from tests.support.fake_providers import FakeProviders

E2E_STACK = "tr-e2e"
SWEEP_RATE_MINUTES = 1  # the scheduled rule must fire within the test's patience


@dataclass
class Deployed:
    endpoint: str
    outputs: dict[str, str]
    sm: Any
    sns: Any
    sqs: Any
    events: Any
    lambda_: Any

    @property
    def rotation_arn(self) -> str:
        return self.outputs["RotationFunctionArn"]

    def invoke(self, function: str, payload: dict[str, Any]) -> dict[str, Any]:
        resp = self.lambda_.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        body = json.loads(resp["Payload"].read() or b"null")
        if resp.get("FunctionError"):
            raise AssertionError(f"{function} failed: {body}")
        return dict(body)


@pytest.fixture(scope="session")
def deployed(localstack_endpoint: str, fake_providers_server: FakeProviders) -> Iterator[Deployed]:
    """Build once, deploy once per session; the stack is deleted at the end, so that its
    one-minute schedule cannot touch anything after the tests."""
    stack.build()
    outputs = stack.deploy(
        localstack_endpoint,
        endpoints_json=stack.provider_endpoints(fake_providers_server.endpoints()),
        sweep_rate_minutes=SWEEP_RATE_MINUTES,
        stack_name=E2E_STACK,
    )
    return Deployed(
        localstack_endpoint,
        outputs,
        *(
            stack.client(s, localstack_endpoint)
            for s in ("secretsmanager", "sns", "sqs", "events", "lambda")
        ),
    )


@pytest.fixture
def alerts_queue(deployed: Deployed) -> Iterator[str]:
    """An SQS queue subscribed to the deployed alert topic."""
    url = stack.subscribe_queue(
        deployed.sns,
        deployed.sqs,
        deployed.outputs["AlertTopicArn"],
        f"tr-e2e-{uuid.uuid4().hex[:10]}",
    )
    yield url
    deployed.sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def make_secret(deployed: Deployed) -> Iterator[Callable[..., str]]:
    """Managed token secrets with unique names, not due for the scheduled sweep unless asked
    (expires-at far out, rotated just now); force-deleted afterwards."""
    created: list[str] = []

    def make(
        document: dict[str, Any],
        *,
        due: bool = False,
        name: str | None = None,
        rotated_ago: float = 0,
    ) -> str:
        tags = {}
        if not due:
            tags = {
                "token-refresher:expires-at": str(int(time.time()) + 40 * 86400),
                "token-refresher:last-rotated-at": str(int(time.time() - rotated_ago)),
            }
        secret_name = name or f"tr-e2e/{document['provider']}/{uuid.uuid4().hex[:10]}"
        arn = stack.create_token_secret(deployed.sm, secret_name, document, tags=tags)
        created.append(arn)
        return arn

    yield make
    for arn in created:
        deployed.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


@pytest.fixture
def make_app(deployed: Deployed) -> Iterator[Callable[[str, str, str], str]]:
    created: list[str] = []

    def make(provider: str, client_id: str, client_secret: str) -> str:
        name = f"token-refresher/apps/e2e-{provider}-{uuid.uuid4().hex[:8]}"
        created.append(stack.create_app_secret(deployed.sm, name, client_id, client_secret))
        return name

    yield make
    for arn in created:
        deployed.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def rotate(deployed: Deployed, secret_arn: str) -> None:
    """`aws secretsmanager rotate-secret` with the deployed rotation function.

    LocalStack runs the four steps inside this call; a failed rotation surfaces on a later call
    as "previous rotation ... in progress", which is what AWS does too.
    """
    try:
        deployed.sm.rotate_secret(SecretId=secret_arn, RotationLambdaARN=deployed.rotation_arn)
    except deployed.sm.exceptions.InvalidRequestException as exc:
        if "previous rotation" not in str(exc).lower():
            raise
