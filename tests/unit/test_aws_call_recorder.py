"""The AWS-call recorder (tests/support/aws_calls.py) names each call as IAM does: the action,
the resource ARN, the request's tags, and the second permission some calls need."""

from __future__ import annotations

import subprocess
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from tests.support import authz, aws_calls

pytestmark = pytest.mark.unit

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a tag lookup finds no secret


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=NOWHERE,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )


def test_operations_are_named_as_iam_names_them_with_their_resource_arns():
    # Given calls to Lambda, EventBridge, SQS, CloudFormation and SNS
    calls = [
        aws_calls.describe(client("lambda"), "Invoke", {"FunctionName": "tr-SweepFunction-x:1"}),
        aws_calls.describe(
            client("events"),
            "PutEvents",
            {"Entries": [{"Detail": "{}"}, {"EventBusName": "tr-bus", "Detail": "{}"}]},
        ),
        aws_calls.describe(
            client("sqs"), "SendMessageBatch", {"QueueUrl": "http://x/000000000000/q1"}
        ),
        aws_calls.describe(client("cloudformation"), "DescribeStacks", {"StackName": "tr"}),
        aws_calls.describe(client("sns"), "Publish", {"TopicArn": "arn:aws:sns:us-east-1:0:t"}),
    ]
    # Then each carries the IAM action and the ARN IAM authorizes against
    named = [(r["action"], r["resource"]) for call in calls for r in call]
    assert named == [
        (
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:000000000000:function:tr-SweepFunction-x",
        ),
        ("events:PutEvents", "arn:aws:events:us-east-1:000000000000:event-bus/default"),
        ("events:PutEvents", "arn:aws:events:us-east-1:000000000000:event-bus/tr-bus"),
        ("sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:q1"),
        (
            "cloudformation:DescribeStacks",
            "arn:aws:cloudformation:us-east-1:000000000000:stack/tr/00000000-0000-0000-0000-000000000000",
        ),
        ("sns:Publish", "arn:aws:sns:us-east-1:0:t"),
    ]


def test_creating_with_tags_and_attaching_a_rotation_function_need_a_second_permission():
    # Given a CreateSecret with tags and a RotateSecret that attaches a function, by name
    sm = client("secretsmanager")
    created = aws_calls.describe(
        sm,
        "CreateSecret",
        {"Name": "conn/a", "Tags": [{"Key": "token-refresher:instance", "Value": "a"}]},
    )
    rotated = aws_calls.describe(
        sm,
        "RotateSecret",
        {"SecretId": "conn/a", "RotationLambdaARN": "arn:aws:lambda:us-east-1:0:function:rot"},
    )
    # Then the tags are the request's, and each call also asks for the second permission
    assert [r["action"] for r in created] == [
        "secretsmanager:CreateSecret",
        "secretsmanager:TagResource",
    ]
    assert created[1]["request_tags"] == {"token-refresher:instance": "a"}
    assert created[1]["tag_keys"] == ["token-refresher:instance"]
    assert created[0]["resource"].startswith(
        "arn:aws:secretsmanager:us-east-1:000000000000:secret:conn/a-"
    )
    assert created[0]["resource_tags"] == {}  # it does not exist yet
    assert [(r["action"], r["resource"]) for r in rotated] == [
        ("secretsmanager:RotateSecret", rotated[0]["resource"]),
        ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:0:function:rot"),
    ]


def test_calls_are_recorded_only_while_acting_for_a_principal(monkeypatch):
    # Given the recorder installed with a list as its sink
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(aws_calls, "_sink", None)
    aws_calls.install(seen.append)
    sqs = client("sqs")

    # When a call is made outside and inside acting_as (the endpoint refuses both)
    def send() -> None:
        with pytest.raises(EndpointConnectionError, match="Could not connect to the endpoint URL"):
            sqs.send_message(QueueUrl="http://x/000000000000/q", MessageBody="b")

    send()
    with aws_calls.acting_as({"kind": "human", "role": "operator", "stack": "tr"}):
        send()
    # Then only the second was recorded, as that principal's
    assert [(r["principal"]["role"], r["action"]) for r in seen] == [
        ("operator", "sqs:SendMessage")
    ]


def test_a_localstack_started_with_the_call_log_is_recognised(tmp_path, monkeypatch):
    # Given a state folder whose pid file names a process started with the call log, then one
    # started without it
    log = tmp_path / "aws-calls.jsonl"
    monkeypatch.setattr(authz, "CALL_LOG", log)
    seen = []
    for env in ({aws_calls.LOG_ENV: str(log)}, {}):
        # (the child says when it runs its own program: until its exec, /proc shows our environment)
        command = ["sh", "-c", "echo started; exec sleep 30"]
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"started\n"
            (tmp_path / "localstack.pid").write_text(str(proc.pid))
            # When the evaluation asks whether functions record their calls
            seen.append(authz.recorder_in_localstack())
            proc.kill()
    # Then only the first is
    assert seen == [True, False]
