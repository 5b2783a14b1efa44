"""Integration layer: the handlers run in this process against LocalStack and the fake providers."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import stack
from tests.support.fake_providers import FakeProviders
from token_refresher import runtime

NOOP_FUNCTION = "tr-integration-noop-rotation"
INSTANCE = "tr-int"  # the INSTANCE_NAME the in-process handlers run as


@dataclass
class Aws:
    endpoint: str
    sm: Any
    sns: Any
    sqs: Any
    lambda_: Any


@pytest.fixture(scope="session")
def aws(localstack_endpoint: str) -> Aws:
    return Aws(
        localstack_endpoint,
        stack.client("secretsmanager", localstack_endpoint),
        stack.client("sns", localstack_endpoint),
        stack.client("sqs", localstack_endpoint),
        stack.client("lambda", localstack_endpoint),
    )


@pytest.fixture(scope="session")
def alert_topic(aws: Aws) -> str:
    return str(aws.sns.create_topic(Name=f"tr-int-alerts-{uuid.uuid4().hex[:8]}")["TopicArn"])


@pytest.fixture
def alert_queue(aws: Aws, alert_topic: str) -> Iterator[str]:
    url = stack.subscribe_queue(aws.sns, aws.sqs, alert_topic, f"tr-int-{uuid.uuid4().hex[:10]}")
    yield url
    aws.sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def alert_inbox(aws: Aws, alert_topic: str, alert_queue: str) -> stack.AlertInbox:
    """What ``alert_queue`` received, kept across polls; ``settled()`` for "nothing else"."""
    return stack.AlertInbox(aws.sns, aws.sqs, alert_topic, alert_queue)


@pytest.fixture(scope="session")
def noop_rotation_function(aws: Aws) -> str:
    """A rotation function that does nothing: RotateSecret through it leaves an empty AWSPENDING
    version behind, exactly what Secrets Manager hands a rotation function before createSecret."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("noop.py", "def handler(event, context):\n    return None\n")
    try:
        arn = aws.lambda_.create_function(
            FunctionName=NOOP_FUNCTION,
            Runtime="python3.13",
            Role="arn:aws:iam::000000000000:role/noop",
            Handler="noop.handler",
            Code={"ZipFile": buf.getvalue()},
            Timeout=10,
        )["FunctionArn"]
    except aws.lambda_.exceptions.ResourceConflictException:
        arn = aws.lambda_.get_function(FunctionName=NOOP_FUNCTION)["Configuration"]["FunctionArn"]
    aws.lambda_.get_waiter("function_active_v2").wait(FunctionName=NOOP_FUNCTION)
    return str(arn)


@pytest.fixture
def handler_env(
    monkeypatch: pytest.MonkeyPatch,
    aws: Aws,
    alert_topic: str,
    fake_providers: FakeProviders,
    noop_rotation_function: str,
) -> Iterator[None]:
    """The environment the template gives the functions, pointed at LocalStack and the fakes."""
    for key, value in stack.aws_environment(aws.endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ALERT_TOPIC_ARN", alert_topic)
    monkeypatch.setenv("INSTANCE_NAME", INSTANCE)
    monkeypatch.setenv("PROVIDER_ENDPOINTS", stack.provider_endpoints(fake_providers.endpoints()))
    monkeypatch.setenv("ROTATION_FUNCTION_ARN", noop_rotation_function)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "TokenRefresher")
    monkeypatch.setenv("HTTP_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("HTTP_READ_TIMEOUT", "3")
    _clear_runtime_caches()
    yield
    _clear_runtime_caches()


def _clear_runtime_caches() -> None:
    runtime.reset()


@pytest.fixture
def secrets(aws: Aws) -> Iterator[stack.SecretFactory]:
    factory = stack.SecretFactory(aws.sm, "tr-int", instance=INSTANCE)
    yield factory
    factory.cleanup()


@pytest.fixture
def secret_factory(secrets: stack.SecretFactory) -> Callable[..., str]:
    """Creates token secrets with unique names; deleted (no recovery window) afterwards."""
    return lambda document, *, name=None, **tags: secrets.token(document, name=name, tags=tags)


@pytest.fixture
def app_secret(secrets: stack.SecretFactory) -> Callable[[str, str, str], str]:
    return secrets.app


def start_rotation(aws: Aws, secret_id: str, noop_arn: str) -> str:
    """RotateSecret through the no-op function: returns the pending version id."""
    return str(aws.sm.rotate_secret(SecretId=secret_id, RotationLambdaARN=noop_arn)["VersionId"])


def rotation_event(step: str, secret_id: str, version_id: str) -> dict[str, str]:
    return {"Step": step, "SecretId": secret_id, "ClientRequestToken": version_id}


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
