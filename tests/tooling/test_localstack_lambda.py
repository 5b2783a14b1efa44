"""Integration test: LocalStack runs functions with a layer through the local process executor."""

from __future__ import annotations

import base64
import io
import json
import textwrap
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from tests.support import authz

pytestmark = pytest.mark.tooling

HANDLER_SOURCE = textwrap.dedent(
    """
    import time

    import boto3
    import greeting  # from the layer


    def handler(event, context):
        print(f"handling {event.get('name')} in {context.function_name}")
        if event.get("fail"):
            raise PermissionError("token revoked")
        if event.get("sleep"):
            time.sleep(event["sleep"])
        account = boto3.client("sts").get_caller_identity()["Account"]
        secrets = boto3.client("secretsmanager").list_secrets()["SecretList"]
        return {
            "greeting": greeting.greet(event["name"]),
            "account": account,
            "secrets_listed": isinstance(secrets, list),
        }
    """
)


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lambda_client(localstack_endpoint: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=localstack_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="module")
def function_name(lambda_client: Any) -> Iterator[str]:
    name = f"{authz.TOOLING_FUNCTIONS}executor-{uuid.uuid4().hex[:8]}"
    layer = lambda_client.publish_layer_version(
        LayerName=f"{name}-layer",
        Content={
            "ZipFile": zip_bytes(
                {"python/greeting.py": "def greet(name):\n    return f'hello {name}'\n"}
            )
        },
        CompatibleRuntimes=["python3.13"],
    )
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role="arn:aws:iam::000000000000:role/tooling-executor",
        Handler="app.handler",
        Code={"ZipFile": zip_bytes({"app.py": HANDLER_SOURCE})},
        Layers=[layer["LayerVersionArn"]],
        Timeout=2,
    )
    lambda_client.get_waiter("function_active_v2").wait(FunctionName=name)
    yield name
    lambda_client.delete_function(FunctionName=name)
    lambda_client.delete_layer_version(LayerName=f"{name}-layer", VersionNumber=layer["Version"])


def invoke(
    lambda_client: Any, function_name: str, event: dict[str, Any]
) -> tuple[dict[str, Any], Any, str]:
    response = lambda_client.invoke(
        FunctionName=function_name, Payload=json.dumps(event), LogType="Tail"
    )
    logs = base64.b64decode(response.get("LogResult", "")).decode()
    return response, json.loads(response["Payload"].read()), logs


def test_invoke_returns_the_result_and_reaches_localstack(
    lambda_client: Any, function_name: str
) -> None:
    # Given an active function using a layer and boto3
    # When it is invoked with its logs
    response, payload, logs = invoke(lambda_client, function_name, {"name": "meta"})
    # Then the handler ran with the layer, its boto3 reached LocalStack,
    # and its output is in LogResult
    assert "FunctionError" not in response
    assert payload == {"greeting": "hello meta", "account": "000000000000", "secrets_listed": True}
    assert f"handling meta in {function_name}" in logs
    assert "START RequestId:" in logs


def test_raising_handler_is_a_function_error(lambda_client: Any, function_name: str) -> None:
    # Given the same function
    # When its handler raises
    response, payload, logs = invoke(lambda_client, function_name, {"name": "tiktok", "fail": True})
    # Then the invoke reports an unhandled function error with its type and message
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "PermissionError"
    assert payload["errorMessage"] == "token revoked"
    assert "handling tiktok" in logs


def test_timeout_is_a_function_error(lambda_client: Any, function_name: str) -> None:
    # Given the function's 2 s timeout
    # When an invocation sleeps longer
    response, payload, _ = invoke(lambda_client, function_name, {"name": "slow", "sleep": 30})
    # Then it fails as a Lambda timeout
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in payload["errorMessage"]
