"""Calls of the in-process handlers evaluated by the test that makes them (everything else the
handlers call is evaluated at session end, tests/conftest.py): a case that was refused on AWS
before its fix landed was a strict xfail here, not a red session.

The first hole it found: the sweep's deadline warning read the link's pending grant
(GetSecretValue on the token secret), which the sweep's role may not do, so on AWS the warning
went out without its link; the minter now lists version ids instead (metadata only)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Aws
from tests.support import authz, stack
from tests.support.handlers import LambdaContext, load_handler

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("handler_env")]

CONNECT_URL = "https://abcdefghij.lambda-url.us-east-1.on.aws/"


@pytest.fixture
def signing_key(aws: Aws, handler_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"tr-int/connect-signing-key-{uuid.uuid4().hex[:8]}"
    value = json.dumps({"key": uuid.uuid4().hex * 2, "url": CONNECT_URL, "instance": "tr-int"})
    arn = aws.sm.create_secret(Name=name, SecretString=value)["ARN"]
    monkeypatch.setenv("CONNECT_KEY_SECRET_ID", name)
    yield name
    aws.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def test_the_sweeps_deadline_warning_link_is_allowed_by_its_role(
    aws: Aws, signing_key: str, secret_factory, alert_queue
):
    # Given a Google connection 6 days from its human deadline that holds an unused link nonce
    now = int(time.time())
    arn = secret_factory(
        {
            "schema": 1,
            "provider": "google_ads",
            "refresh_token": "1//0g-authz",
            "app_secret_id": "x",
        },
        **{
            "token-refresher:human-deadline": str(now + 6 * 86400),
            "token-refresher:expires-at": str(now + 40 * 86400),
            "token-refresher:connect-nonce": uuid.uuid4().hex,
        },
    )
    # When the scheduled sweep runs (its calls evaluated here, not at session end)
    event = json.loads((stack.REPO_ROOT / "events" / "sweep-scheduled.json").read_text())
    with authz.calls_made() as calls:
        load_handler("sweep").lambda_handler(event, LambdaContext())
    # Then its warning carries a link on LocalStack...
    alerts = stack.wait_for(
        lambda: stack.receive_alerts(aws.sqs, alert_queue), timeout=20, what="the warning"
    )
    [warning] = [a["alert"] for a in alerts if a["alert"].get("secret_id") == arn]
    assert warning["event"] == "token.expiring"
    assert warning.get("reconnect_url")
    # ...and every call it made is allowed by the SweepFunction's policy
    report = authz.evaluate(calls)
    assert report.calls > 0
    assert report.denied == []
