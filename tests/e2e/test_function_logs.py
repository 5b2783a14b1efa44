"""What the deployed functions wrote to CloudWatch Logs must not contain any token, refresh token or
app secret the session used.

The test makes its own log lines (one rotation that succeeds, one that fails), so it proves the
scan saw real logs whatever ran before it; the scan then covers every log event of the stack's
functions so far, this session's other tests included."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.conftest import E2E_STACK, Deployed, rotate
from tests.support import stack
from tests.support.leaks import SCANNER

pytestmark = pytest.mark.e2e


def _log_texts(deployed: Deployed) -> list[tuple[str, str]]:
    logs = stack.client("logs", deployed.endpoint)
    texts = []
    prefix = f"/aws/lambda/{E2E_STACK}-"
    for group in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]:
        paginator = logs.get_paginator("filter_log_events")
        for page in paginator.paginate(logGroupName=group["logGroupName"]):
            texts += [(group["logGroupName"], e["message"]) for e in page.get("events", [])]
    return texts


def _name(arn: str) -> str:
    return arn.rsplit(":", maxsplit=1)[-1].rsplit("-", 1)[0]


def test_deployed_function_logs_carry_no_token_material(
    deployed, fake_providers, make_secret, make_app
):
    # Given a rotation that succeeds and one that fails, run by this test itself
    run = uuid.uuid4().hex[:8]
    good_refresh, bad_refresh = f"1//0g-logs-good-{run}", f"1//0g-logs-revoked-{run}"
    fake_providers.seed("google", refresh_token=good_refresh)
    app = make_app("google", f"g-logs-{run}", f"g-logs-client-secret-{run}")

    def doc(refresh: str) -> dict[str, Any]:
        return {
            "schema": 1,
            "provider": "google_ads",
            "access_token": f"ya29.logs-{refresh}",
            "refresh_token": refresh,
            "expires_at": stack.iso_in(timedelta(minutes=20)),
            "app_secret_id": app,
        }

    good, bad = make_secret(doc(good_refresh)), make_secret(doc(bad_refresh))
    rotate(deployed, good)
    rotate(deployed, bad)

    # When the functions' log events are read, once both rotations' lines are in (a line names
    # the secret by ARN or by name: the name is in both)
    def both_logged() -> list[tuple[str, str]]:
        texts = _log_texts(deployed)
        done = any(_name(good) in t and '"outcome":"done"' in t for _, t in texts)
        failed = any(_name(bad) in t and '"level":"ERROR"' in t for _, t in texts)
        return texts if done and failed else []

    texts = stack.wait_for(both_logged, timeout=90, interval=2, what="both rotations' log lines")
    # Then none of the stack's log lines so far carries a secret the session used (this test's
    # refresh tokens, access tokens and client secret included)
    assert fake_providers.is_valid(stack.current_document(deployed.sm, good)["access_token"])
    assert SCANNER.findings(extra=texts) == []
