"""A small deployed check of queue mode: the built template on LocalStack with DispatchMode=queue.

Deploys stack ``tr-bench-queue``, creates ``COUNT`` due Google Ads connections (fake provider on
127.0.0.1), invokes the sweep once, and waits until the SQS event source has run the Worker
function and every secret has a new AWSCURRENT (LocalStack runs each rotation's four steps inside
the worker's RotateSecret, one local process per step: the time is the test bed's, reported only
to show the path works end to end). The stack is deleted afterwards.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support import stack
from tests.support.fake_providers import FakeProviders

from bench.common import use_region

STACK = "tr-bench-queue"
COUNT = 5


def run(endpoint: str) -> dict[str, Any]:
    use_region(endpoint, stack.REGION)
    with FakeProviders() as fake:
        t0 = time.monotonic()
        outputs = stack.deploy(
            endpoint,
            endpoints_json=stack.provider_endpoints(fake.endpoints()),
            stack_name=STACK,
            extra=["DispatchMode=queue", "WorkerConcurrency=2"],
        )
        deploy_seconds = time.monotonic() - t0
        sm = stack.client("secretsmanager", endpoint)
        lam = stack.client("lambda", endpoint)
        arns: list[str] = []
        try:
            app = stack.create_app_secret(
                sm,
                f"token-refresher/apps/bench-{uuid.uuid4().hex[:6]}",
                "bench",
                "s3c",
                instances=STACK,  # the default deploy binds app secrets to their instances
                provider="google_ads",
            )
            expires = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
            for i in range(COUNT):
                refresh = f"1//0g-deployed-{uuid.uuid4().hex[:8]}"
                fake.seed("google", refresh_token=refresh, refresh_expires_in=None)
                doc = {
                    "schema": 1,
                    "provider": "google_ads",
                    "refresh_token": refresh,
                    "expires_at": expires,
                    "app_secret_id": sm.describe_secret(SecretId=app)["Name"],
                }
                arns.append(
                    stack.create_token_secret(
                        sm, f"tr-bench-q/{i}-{refresh[-8:]}", doc, instance=STACK
                    )
                )
            before = {a: stack.current_document(sm, a)["refresh_token"] for a in arns}
            t0 = time.monotonic()
            resp = lam.invoke(
                FunctionName=outputs["SweepFunctionName"],
                Payload=json.dumps({"source": "aws.events", "detail-type": "Scheduled Event"}),
            )
            report = json.loads(resp["Payload"].read())

            def rotated() -> bool:
                docs = [stack.current_document(sm, a) for a in arns]
                return all(d.get("last_refreshed_at") for d in docs)

            stack.wait_for(rotated, timeout=180, interval=1, what="queued rotations")
            seconds = time.monotonic() - t0
            return {
                "deploy_seconds": round(deploy_seconds, 1),
                "sweep_enqueued": len(report.get("enqueued", [])),
                "secrets": COUNT,
                "rotated": sum(
                    stack.current_document(sm, a)["refresh_token"] == before[a]
                    and bool(stack.current_document(sm, a).get("last_refreshed_at"))
                    for a in arns
                ),
                "seconds_to_all_rotated": round(seconds, 1),
                "has_queue_output": "RotationQueueUrl" in outputs,
            }
        finally:
            for arn in arns:
                sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
            stack.delete(endpoint, STACK)
