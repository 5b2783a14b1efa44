"""The sweep handler in-process: real ListSecrets pagination and tag filters, real RotateSecret."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.integration.conftest import INSTANCE
from tests.support import stack
from tests.support.handlers import LambdaContext, load_handler

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("handler_env")]


def doc(provider: str = "google_ads") -> dict[str, object]:
    return {
        "schema": 1,
        "provider": provider,
        "refresh_token": "1//0g-sweep-int",
        "app_secret_id": "x",
    }


def test_sweep_pages_through_managed_secrets_and_rotates_only_due_ones(aws, secret_factory):
    # Given 105 managed secrets far from expiry (more than one ListSecrets page), one due secret,
    # and one unmanaged secret
    far = str(int(time.time()) + 30 * 86400)
    group = uuid.uuid4().hex[:6]
    for n in range(105):
        secret_factory(
            doc(), name=f"tr-int-sweep-{group}/far-{n:03d}", **{"token-refresher:expires-at": far}
        )
    due = secret_factory(
        doc(),
        name=f"tr-int-sweep-{group}/due",
        **{"token-refresher:expires-at": str(int(time.time()) + 60)},
    )
    aws.sm.create_secret(Name=f"tr-int-sweep-{group}/unmanaged", SecretString="{}")
    handler = load_handler("sweep").lambda_handler
    # When the scheduled sweep runs
    event = json.loads((stack.REPO_ROOT / "events" / "sweep-scheduled.json").read_text())
    report = handler(event, LambdaContext())
    # Then every managed secret was scanned (other tests' leftovers may add more), and the due one
    # is the only one of this group whose rotation was started
    assert report["scanned"] >= 106
    mine = [s for s in report["started"] if f"tr-int-sweep-{group}/" in s]
    assert mine == [due]
    assert aws.sm.describe_secret(SecretId=due).get("LastRotatedDate") is not None
    aws.sm.delete_secret(
        SecretId=f"tr-int-sweep-{group}/unmanaged", ForceDeleteWithoutRecovery=True
    )


def test_manual_request_for_an_unmanaged_secret_is_refused_with_an_alert(aws, alert_queue):
    # Given a secret that token-refresher does not manage
    name = f"tr-int-unmanaged-{uuid.uuid4().hex[:6]}"
    arn = aws.sm.create_secret(Name=name, SecretString="{}")["ARN"]
    handler = load_handler("sweep").lambda_handler
    # When a forced manual rotation names it
    report = handler(
        {"secret_ids": [name], "force": True, "reason": "test", "instance": INSTANCE},
        LambdaContext(),
    )
    # Then it is reported, alerted, and never rotated
    assert report["started"] == []
    assert report["errors"][0]["secret_id"] == name
    [envelope] = stack.wait_for(
        lambda: stack.receive_alerts(aws.sqs, alert_queue), timeout=20, what="the refusal alert"
    )
    assert envelope["alert"]["event"] == "token.config_invalid"
    assert "LastRotatedDate" not in aws.sm.describe_secret(SecretId=arn)
    aws.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
