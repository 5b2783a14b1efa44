"""The reader of docs/reading-tokens.md (docs/examples/read_token.py) against LocalStack's Secrets
Manager: it reads AWSCURRENT, follows a rotation made under it, and every call it made is one
its policy (docs/policies/reader.json) allows, by the IAM policy simulator."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from tests.integration.conftest import INSTANCE, Aws
from tests.support import authz, aws_calls, examples, stack

pytestmark = pytest.mark.integration

PREFIX = "token-refresher/connections/"
READER = {"kind": "reader"}  # evaluated here against reader.json, not by the session
example = examples.load("read_token")


def document(token: str) -> str:
    return json.dumps(
        {
            "schema": 1,
            "provider": "google_ads",
            "access_token": token,
            "refresh_token": "1//0g-reader-refresh-0001",
            "expires_at": stack.iso_in(timedelta(minutes=50)),
        }
    )


@pytest.fixture
def connection(aws: Aws) -> Any:
    name = f"reader-{uuid.uuid4().hex[:8]}"
    tags = [
        {"Key": "token-refresher:managed", "Value": "true"},
        {"Key": "token-refresher:instance", "Value": INSTANCE},
    ]
    aws.sm.create_secret(Name=PREFIX + name, SecretString=document("ya29.reader-1"), Tags=tags)
    yield name
    aws.sm.delete_secret(SecretId=PREFIX + name, ForceDeleteWithoutRecovery=True)


def test_the_reader_follows_a_rotation_with_only_what_its_policy_allows(aws: Aws, connection):
    # Given the example reader over a Secrets Manager client, and a platform that accepts only
    # the newest token
    tokens = example.TokenReader(
        SecretsProvider(boto3_client=stack.client("secretsmanager", aws.endpoint))
    )
    name = PREFIX + connection
    current = {"token": "ya29.reader-1"}
    seen: list[str] = []

    def report(token: str) -> str:
        seen.append(token)
        if token != current["token"]:
            raise example.Unauthorized("401")
        return "rows"

    with authz.calls_made(take=True) as made:
        # When the pipeline reads and calls, the refresher rotates the connection (PutSecretValue
        # moves AWSCURRENT), and the pipeline calls again with its cached token
        with aws_calls.acting_as(READER):
            assert tokens.call(name, report) == "rows"
        aws.sm.put_secret_value(SecretId=name, SecretString=document("ya29.reader-2"))
        current["token"] = "ya29.reader-2"
        with aws_calls.acting_as(READER):
            assert tokens.call(name, report) == "rows"
    # Then the second call was refused once with the cached token and retried with the new one
    assert seen == ["ya29.reader-1", "ya29.reader-1", "ya29.reader-2"]
    # And the reader made two GetSecretValue calls, both allowed by reader.json for this
    # connection (and only by it: the policy for another connection denies them)
    assert [r["action"] for r in made] == ["secretsmanager:GetSecretValue"] * 2
    decisions = {
        allowed_for: [
            r["decision"]
            for r in authz.simulate(
                [
                    {
                        "principal": "arn:aws:iam::000000000000:role/pipeline",
                        "action": record["action"],
                        "resource": record["resource"],
                        "context": authz.context_of(record),
                        "identityPolicies": [
                            {
                                "name": "reader",
                                "policy": authz.reader_policy(
                                    allowed_for, instance=INSTANCE, prefix=PREFIX
                                ),
                            }
                        ],
                    }
                    for record in made
                ]
            )
        ]
        for allowed_for in (connection, "another-connection")
    }
    assert decisions == {
        connection: ["Allowed", "Allowed"],
        "another-connection": ["ImplicitlyDenied", "ImplicitlyDenied"],
    }
