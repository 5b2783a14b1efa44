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
from tests.support.alarms import documented_oncall_filter
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
    yield Deployed(
        localstack_endpoint,
        outputs,
        *(
            stack.client(s, localstack_endpoint)
            for s in ("secretsmanager", "sns", "sqs", "events", "lambda")
        ),
    )
    # A LocalStack that was already running outlives the session: without this, the next
    # session's integration tests would meet this stack's one-minute sweep.
    stack.delete(localstack_endpoint, E2E_STACK)


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
def alert_inbox(deployed: Deployed, alerts_queue: str) -> stack.AlertInbox:
    """What ``alerts_queue`` received, kept across polls; ``settled()`` for "nothing else"."""
    return stack.AlertInbox(
        deployed.sns, deployed.sqs, deployed.outputs["AlertTopicArn"], alerts_queue
    )


def oncall_inbox(deployed: Deployed) -> Iterator[stack.AlertInbox]:
    """What a queue subscribed to ``deployed``'s topic with the documented on-call filter policy
    received (the queue is deleted afterwards)."""
    topic = deployed.outputs["AlertTopicArn"]
    name = f"tr-oncall-{uuid.uuid4().hex[:10]}"
    url = stack.subscribe_queue(
        deployed.sns, deployed.sqs, topic, name, filter_policy=documented_oncall_filter()
    )
    yield stack.AlertInbox(deployed.sns, deployed.sqs, topic, url)
    deployed.sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def oncall(deployed: Deployed) -> Iterator[stack.AlertInbox]:
    yield from oncall_inbox(deployed)


@pytest.fixture
def secrets(deployed: Deployed) -> Iterator[stack.SecretFactory]:
    factory = stack.SecretFactory(deployed.sm, "tr-e2e", instance=E2E_STACK)
    yield factory
    factory.cleanup()


@pytest.fixture
def make_secret(secrets: stack.SecretFactory) -> Callable[..., str]:
    """Managed token secrets with unique names, not due for the scheduled sweep unless asked
    (expires-at far out, rotated just now); force-deleted afterwards."""

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
        return secrets.token(document, name=name, tags=tags)

    return make


@pytest.fixture
def make_app(secrets: stack.SecretFactory) -> Callable[..., str]:
    return secrets.app


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
