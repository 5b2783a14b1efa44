"""The AWS adapters over real boto3 clients with botocore's Stubber: AWS errors leave them as the
project's own (adapters.errors), and the calls carry what the protocol needs."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from tests.support.fakes import client_error
from token_refresher.adapters.aws import CLIENT_CONFIG, client
from token_refresher.adapters.errors import (
    AccessDenied,
    AwsError,
    NotFound,
    RotationInProgress,
    StoreThrottled,
    error_code,
    translate,
)
from token_refresher.adapters.notifier import SnsNotifier
from token_refresher.adapters.rotation_function import LambdaRotationResumer
from token_refresher.adapters.secrets import SecretNotFound, SecretsManagerStore, SecretSummary
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.errors import TokenRefresherError

pytestmark = pytest.mark.unit

ARN = "arn:aws:secretsmanager:us-east-1:000000000000:secret:conn/a-AbCdEf"
TOPIC = "arn:aws:sns:us-east-1:000000000000:alerts"
FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:rotation"
V1, V2, V3, V9 = (f"{n}" * 8 + "-1111-4111-8111-111111111111" for n in "1239")


def stubbed(service: str) -> tuple[Any, Stubber]:
    session = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    aws = client(service, session)  # type: ignore[call-overload]
    return aws, Stubber(aws)


@pytest.fixture
def sm() -> Iterator[tuple[SecretsManagerStore, Stubber]]:
    aws, stub = stubbed("secretsmanager")
    with stub:
        yield SecretsManagerStore(aws), stub
        stub.assert_no_pending_responses()


def error(stub: Stubber, method: str, code: str, message: str = "", status: int = 400) -> None:
    stub.add_client_error(
        method, service_error_code=code, service_message=message or code, http_status_code=status
    )


class TestTranslate:
    @pytest.mark.parametrize(
        ("code", "message", "kind"),
        [
            ("ThrottlingException", "Rate exceeded", StoreThrottled),
            ("TooManyRequestsException", "slow down", StoreThrottled),
            ("ResourceNotFoundException", "no such secret", NotFound),
            ("AccessDeniedException", "not allowed", AccessDenied),
            ("InvalidRequestException", "A previous rotation isn't complete.", RotationInProgress),
            ("InvalidRequestException", "something else", AwsError),
            ("InternalServiceError", "oops", AwsError),
        ],
    )
    def test_client_errors_become_the_projects_own(self, code, message, kind):
        # Given a ClientError with that code, when it is translated
        exc = ClientError({"Error": {"Code": code, "Message": message}}, "AnyCall")
        translated = translate(exc)
        # Then it is exactly that type, carries the code, and says what AWS said
        assert type(translated) is kind
        assert translated.code == code == error_code(exc)
        assert code in str(translated)

    def test_a_call_that_got_no_answer_is_named_by_its_botocore_type(self):
        exc = EndpointConnectionError(endpoint_url="https://secretsmanager.example")
        translated = translate(exc)
        assert type(translated) is AwsError
        assert translated.code == "EndpointConnectionError" == error_code(exc)

    def test_the_clients_have_explicit_retries_and_timeouts(self):
        aws, _ = stubbed("sqs")
        assert aws.meta.config.retries == CLIENT_CONFIG.retries
        assert (aws.meta.config.connect_timeout, aws.meta.config.read_timeout) == (3, 10)


class TestSecretsManagerStore:
    def test_describe_reads_versions_tags_and_last_rotation(self, sm):
        store, stub = sm
        rotated = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
        stub.add_response(
            "describe_secret",
            {
                "ARN": ARN,
                "Name": "conn/a",
                "RotationEnabled": True,
                "VersionIdsToStages": {V1: ["AWSCURRENT"], V2: ["AWSPENDING"]},
                "Tags": [{"Key": "token-refresher:managed", "Value": "true"}],
                "LastRotatedDate": rotated,
            },
            {"SecretId": "conn/a"},
        )
        desc = store.describe("conn/a")
        assert (desc.arn, desc.name, desc.rotation_enabled) == (ARN, "conn/a", True)
        assert desc.version_with("AWSPENDING") == V2
        assert desc.tags == {"token-refresher:managed": "true"}
        assert desc.last_rotated_at == rotated.timestamp()

    def test_unknown_secret_is_secret_not_found(self, sm):
        store, stub = sm
        error(stub, "describe_secret", "ResourceNotFoundException")
        with pytest.raises(SecretNotFound, match="conn/gone"):
            store.describe("conn/gone")

    def test_missing_version_reads_as_none_and_throttling_as_store_throttled(self, sm):
        store, stub = sm
        error(stub, "get_secret_value", "ResourceNotFoundException")
        error(stub, "get_secret_value", "ThrottlingException")
        assert store.get_value("conn/a", version_id=V9, stage="AWSPENDING") is None
        with pytest.raises(
            StoreThrottled, match=r"\(ThrottlingException\) when calling the GetSecretValue"
        ):
            store.get_value("conn/a")

    def test_put_move_and_tag_send_what_the_protocol_needs(self, sm):
        store, stub = sm
        stub.add_response(
            "put_secret_value",
            {},
            {
                "SecretId": "conn/a",
                "ClientRequestToken": V2,
                "SecretString": "{}",
                "VersionStages": ["AWSPENDING"],
            },
        )
        stub.add_response(
            "update_secret_version_stage",
            {},
            {
                "SecretId": "conn/a",
                "VersionStage": "AWSCURRENT",
                "MoveToVersionId": V2,
                "RemoveFromVersionId": V1,
            },
        )
        stub.add_response(
            "tag_resource", {}, {"SecretId": "conn/a", "Tags": [{"Key": "k", "Value": "v"}]}
        )
        store.put_pending("conn/a", V2, "{}")
        store.move_stage("conn/a", "AWSCURRENT", to_version=V2, from_version=V1)
        store.tag("conn/a", {"k": "v"})

    def test_rotate_attaches_the_function_and_reports_a_rotation_in_progress(self, sm):
        store, stub = sm
        stub.add_response(
            "rotate_secret",
            {},
            {
                "SecretId": "conn/a",
                "RotateImmediately": True,
                "RotationLambdaARN": FUNCTION,
                "RotationRules": {"AutomaticallyAfterDays": 7},
            },
        )
        error(
            stub, "rotate_secret", "InvalidRequestException", "A previous rotation isn't complete."
        )
        store.rotate("conn/a", lambda_arn=FUNCTION, after_days=7)
        with pytest.raises(RotationInProgress, match="conn/a"):
            store.rotate("conn/a", lambda_arn=None, after_days=None)

    def test_version_created_at_follows_pages(self, sm):
        store, stub = sm
        created = datetime(2026, 11, 29, 11, 40, tzinfo=UTC)
        stub.add_response(
            "list_secret_version_ids",
            {"Versions": [{"VersionId": V1}], "NextToken": "p2"},
            {"SecretId": "conn/a", "IncludeDeprecated": False},
        )
        stub.add_response(
            "list_secret_version_ids",
            {"Versions": [{"VersionId": V2, "CreatedDate": created}]},
            {"SecretId": "conn/a", "IncludeDeprecated": False, "NextToken": "p2"},
        )
        stub.add_response("list_secret_version_ids", {"Versions": []})
        assert store.version_created_at("conn/a", V2) == created.timestamp()
        assert store.version_created_at("conn/a", V3) is None

    def test_version_exists_counts_unlabelled_versions_and_reads_no_value(self, sm):
        # Given a secret whose version V2 lost its labels (deprecated), listed on a second page
        store, stub = sm
        stub.add_response(
            "list_secret_version_ids",
            {"Versions": [{"VersionId": V1}], "NextToken": "p2"},
            {"SecretId": "conn/a", "IncludeDeprecated": True},
        )
        stub.add_response(
            "list_secret_version_ids",
            {"Versions": [{"VersionId": V2}]},
            {"SecretId": "conn/a", "IncludeDeprecated": True, "NextToken": "p2"},
        )
        stub.add_response("list_secret_version_ids", {"Versions": [{"VersionId": V1}]})
        # Then it exists and V3 does not (only ListSecretVersionIds was called: the stubber
        # refuses any other operation)
        assert store.version_exists("conn/a", V2)
        assert not store.version_exists("conn/a", V3)

    def test_list_by_tag_rechecks_the_pair_and_translates_errors(self, sm):
        store, stub = sm
        rotated = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
        tagged = {
            "ARN": ARN,
            "Name": "conn/a",
            "Tags": [{"Key": "m", "Value": "true"}],
            "RotationEnabled": True,
            "LastRotatedDate": rotated,
            "SecretVersionsToStages": {V1: ["AWSCURRENT"], V2: ["AWSPENDING"]},
        }
        other = {"ARN": ARN + "2", "Name": "conn/b", "Tags": [{"Key": "m", "Value": "no"}]}
        stub.add_response("list_secrets", {"SecretList": [tagged, other]})
        error(stub, "list_secrets", "AccessDeniedException")
        # When listed / Then a typed summary per secret of the pair, no AWS field names
        assert list(store.list_by_tag("m", "true")) == [
            SecretSummary(
                arn=ARN,
                name="conn/a",
                tags={"m": "true"},
                rotation_enabled=True,
                last_rotated_at=rotated.timestamp(),
                versions={V1: ("AWSCURRENT",), V2: ("AWSPENDING",)},
            )
        ]
        with pytest.raises(AccessDenied, match="AccessDeniedException"):
            list(store.list_by_tag("m", "true"))


def test_sns_notifier_publishes_json_with_attributes_and_translates_errors():
    aws, stub = stubbed("sns")
    alert = Alert(
        AlertEvent.EXPIRING,
        secret_id="conn/a",
        provider="meta",
        message="deadline soon",
        occurred_at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
    )
    stub.add_response(
        "publish",
        {"MessageId": "m1"},
        {
            "TopicArn": TOPIC,
            "Subject": alert.subject(),
            "Message": json.dumps(alert.to_dict(), sort_keys=True),
            "MessageAttributes": {
                k: {"DataType": "String", "StringValue": v} for k, v in alert.attributes().items()
            },
        },
    )
    error(stub, "publish", "Throttling")
    with stub:
        SnsNotifier(aws, TOPIC).publish(alert)
        with pytest.raises(StoreThrottled, match=r"\(Throttling\) when calling the Publish"):
            SnsNotifier(aws, TOPIC).publish(alert)


def test_resumer_runs_the_four_steps_and_reports_a_failed_one_by_type():
    aws, stub = stubbed("lambda")
    for step in ("createSecret", "setSecret"):
        event = {"Step": step, "SecretId": ARN, "ClientRequestToken": "v2"}
        stub.add_response(
            "invoke",
            {"StatusCode": 200},
            {"FunctionName": FUNCTION, "Payload": json.dumps(event).encode()},
        )
    failure = json.dumps({"errorType": "ProviderError", "errorMessage": "x"}).encode()
    stub.add_response(
        "invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(failure)}
    )
    with stub, pytest.raises(TokenRefresherError, match=r"testSecret failed .*\(ProviderError\)"):
        LambdaRotationResumer(aws, FUNCTION).resume(ARN, "v2")


def test_fake_store_raises_translated_errors_like_the_real_one():
    from tests.support.fakes import InMemorySecretStore

    store = InMemorySecretStore()
    store.create("conn/a", "{}")
    store.fail_on["tag"] = [client_error("ThrottlingException", "TagResource")]
    with pytest.raises(
        StoreThrottled, match=r"\(ThrottlingException\) when calling the TagResource"
    ):
        store.tag("conn/a", {"k": "v"})
