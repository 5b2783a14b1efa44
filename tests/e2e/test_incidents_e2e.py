"""One incident, one page, through the deployed stack: 50 connections of one app failing with
``invalid_client`` reach a queue subscribed with the documented on-call filter as one
``incident.opened``, then, once the app credentials are fixed, one ``incident.resolved``."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Deployed, rotate
from tests.support import stack

pytestmark = pytest.mark.e2e

FLEET = 50
CLIENT_ID = "g-incident-client"
RIGHT = "g-incident-client-secret"
PAGES = {"severity": "critical"}  # a settle marker that passes the on-call filter


def is_incident(envelope: dict[str, Any]) -> bool:
    return str(envelope["alert"]["event"]).startswith("incident.")


def test_fifty_connections_of_one_app_failing_page_once_then_recover_once(
    deployed: Deployed, fake_providers: Any, make_secret: Any, make_app: Any, oncall: Any
) -> None:
    # Given 50 Google connections of one app whose client secret was rotated at Google
    fake_providers.register_app("google", CLIENT_ID, RIGHT)
    app = make_app("google-incident", CLIENT_ID, "the-old-client-secret", provider="google_ads")
    arns = []
    for i in range(FLEET):
        refresh = f"1//0g-incident-{i:02d}-{uuid.uuid4().hex[:6]}"
        fake_providers.seed("google", refresh_token=refresh)
        document = {
            "schema": 1,
            "provider": "google_ads",
            "access_token": f"ya29.{refresh}-access",
            "refresh_token": refresh,
            "expires_at": stack.iso_in(timedelta(hours=48)),
            "app_secret_id": app,
        }
        arns.append(make_secret(document))
    # When every one of them is rotated and fails with invalid_client
    for arn in arns:
        rotate(deployed, arn)
    # Then on call receives one incident alert naming the cause, the count and the command
    oncall.matching(is_incident, timeout=120, what="the incident alert")
    [opened] = [e for e in oncall.settled(attributes=PAGES) if is_incident(e)]
    body = opened["alert"]
    assert body["event"] == "incident.opened"
    assert "invalid_client" in body["message"]
    assert body["incident"]["affected"] >= 3
    incident_id = body["incident"]["id"]
    assert body["incident"]["list_command"] == f"token-refresher status --incident {incident_id}"
    tagged = {stack.tags_of(deployed.sm, arn).get("token-refresher:incident") for arn in arns}
    assert tagged == {incident_id}

    # When the app credentials are fixed and the connections rotated again
    deployed.sm.put_secret_value(
        SecretId=app,
        SecretString=json.dumps(
            {"client_id": CLIENT_ID, "client_secret": RIGHT, "provider": "google_ads"}
        ),
    )
    for arn in arns:
        rotate(deployed, arn)
    # Then on call receives exactly one recovery, with every connection recovered
    oncall.matching(
        lambda e: e["alert"]["event"] == "incident.resolved", timeout=120, what="the recovery"
    )
    incidents = [e["alert"] for e in oncall.settled(attributes=PAGES) if is_incident(e)]
    assert [a["event"] for a in incidents] == ["incident.opened", "incident.resolved"]
    assert incidents[1]["incident"]["recovered"] == incidents[1]["incident"]["affected"]
    assert incidents[1]["incident"]["still_failing"] == 0
    # and no connection's own token.* alert reached on call
    assert not [e for e in oncall.settled(attributes=PAGES) if not is_incident(e)]
