"""DispatchMode=queue deployed: the sweep enqueues due secrets, the Worker starts their rotation.

Its own stack and instance (schedule effectively off), deployed for this module only. Its secrets
carry its instance tag, so the shared e2e stack's one-minute sweep, which manages only its own
instance, never rotates them between their creation and this sweep.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import stack
from tests.support.fake_providers import FakeProviders

pytestmark = pytest.mark.e2e

QUEUE_STACK = "tr-e2e-queue"


@pytest.fixture(scope="module")
def queue_stack(
    localstack_endpoint: str, fake_providers_server: FakeProviders
) -> Iterator[dict[str, str]]:
    stack.build()
    outputs = stack.deploy(
        localstack_endpoint,
        endpoints_json=stack.provider_endpoints(fake_providers_server.endpoints()),
        sweep_rate_minutes=20,  # the longest allowed: only the test's invocation sweeps
        stack_name=QUEUE_STACK,
        extra=["DispatchMode=queue", "WorkerConcurrency=2"],
    )
    yield outputs
    stack.delete(localstack_endpoint, QUEUE_STACK)


def test_scheduled_sweep_fans_out_through_the_queue(
    localstack_endpoint: str, queue_stack: dict[str, str], fake_providers: FakeProviders
):
    sm = stack.client("secretsmanager", localstack_endpoint)
    sqs = stack.client("sqs", localstack_endpoint)
    lambda_ = stack.client("lambda", localstack_endpoint)
    created: list[str] = []
    try:
        # Given two due Google Ads connections (no expiry tag yet) and their app credentials
        app = f"token-refresher/apps/e2e-queue-{uuid.uuid4().hex[:8]}"
        created.append(
            stack.create_app_secret(
                sm, app, "g-queue-client", "g-queue-secret", instances=queue_stack["InstanceName"]
            )
        )
        expires = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        arns = []
        for _ in range(2):
            refresh = f"1//0g-queue-{uuid.uuid4().hex[:10]}"
            fake_providers.seed("google", refresh_token=refresh, refresh_expires_in=None)
            doc = {
                "schema": 1,
                "provider": "google_ads",
                "refresh_token": refresh,
                "expires_at": expires,
                "app_secret_id": app,
            }
            arn = stack.create_token_secret(
                sm, f"tr-e2e-queue/{refresh[-10:]}", doc, instance=QUEUE_STACK
            )
            arns.append(arn)
            created.append(arn)
        # When the scheduled sweep runs
        resp = lambda_.invoke(
            FunctionName=queue_stack["SweepFunctionName"],
            Payload=json.dumps({"source": "aws.events", "detail-type": "Scheduled Event"}),
        )
        report: dict[str, Any] = json.loads(resp["Payload"].read())
        # Then it enqueued them instead of rotating them itself
        assert "enqueued" in report, report
        assert set(arns) <= set(report["enqueued"])
        assert report["started"] == []
        # And the Worker, fed by the queue, started each rotation: both have a refreshed token
        stack.wait_for(
            lambda: all(stack.current_document(sm, a).get("last_refreshed_at") for a in arns),
            timeout=120,
            what="the queued rotations",
        )
        # And nothing went to the dead-letter queue
        attrs = sqs.get_queue_attributes(
            QueueUrl=queue_stack["RotationDeadLetterQueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages"],
        )["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "0"
    finally:
        for arn in created:
            sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
