"""Runs last in the e2e layer: what the deployed functions wrote to CloudWatch Logs during the
whole session must not contain any token, refresh token or app secret the session used."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E_STACK
from tests.support import stack
from tests.support.leaks import SCANNER

pytestmark = pytest.mark.e2e


def test_deployed_function_logs_carry_no_token_material(deployed, fake_providers):
    # Given every log event the deployed functions wrote in this session
    logs = stack.client("logs", deployed.endpoint)
    texts = []
    for group in logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{E2E_STACK}-")[
        "logGroups"
    ]:
        paginator = logs.get_paginator("filter_log_events")
        for page in paginator.paginate(logGroupName=group["logGroupName"]):
            texts += [(group["logGroupName"], e["message"]) for e in page.get("events", [])]
    # Then there were logs to look at, and none of them carries a secret the session used
    assert len(texts) > 50
    assert any('"level":"ERROR"' in t for _, t in texts)  # failures were logged too
    assert SCANNER.findings(extra=texts) == []
