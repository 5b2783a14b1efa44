"""One incident, one page, through a deployed stack: 50 connections of one app failing with
``invalid_client`` reach a queue subscribed with the documented on-call filter as one
``incident.opened``, then, once the app credentials are fixed, one ``incident.resolved``.

The stack is this module's own, deployed with ``Incidents=true`` (the template's default): the
session's shared stack keeps one alert per connection, which its one-connection stories wait for
(tests/support/stack.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.conftest import SWEEP_RATE_MINUTES, Deployed, oncall_inbox, rotate
from tests.support import stack
from tests.support.fake_providers import FakeProviders

pytestmark = pytest.mark.e2e

INCIDENT_STACK = "tr-e2e-inc"
FLEET = 50
CLIENT_ID = "g-incident-client"
RIGHT = "g-incident-client-secret"
PAGES = {"severity": "critical"}  # a settle marker that passes the on-call filter


@pytest.fixture(scope="module")
def incident_stack(deployed: Deployed, fake_providers_server: FakeProviders) -> Iterator[Deployed]:
    """A stack of its own, with incidents on (``deployed`` built the template first)."""
    outputs = stack.deploy(
        deployed.endpoint,
        endpoints_json=stack.provider_endpoints(fake_providers_server.endpoints()),
        sweep_rate_minutes=SWEEP_RATE_MINUTES,
        stack_name=INCIDENT_STACK,
        incidents=True,
    )
    assert outputs.get("IncidentBucketName"), outputs
    yield Deployed(
        deployed.endpoint, outputs, deployed.sm, deployed.sns, deployed.sqs, deployed.events,
        deployed.lambda_,
    )  # fmt: skip
    stack.delete(deployed.endpoint, INCIDENT_STACK)


@pytest.fixture
def factory(incident_stack: Deployed) -> Iterator[stack.SecretFactory]:
    made = stack.SecretFactory(incident_stack.sm, INCIDENT_STACK, instance=INCIDENT_STACK)
    yield made
    made.cleanup()


@pytest.fixture
def oncall_of_incidents(incident_stack: Deployed) -> Iterator[stack.AlertInbox]:
    yield from oncall_inbox(incident_stack)


def is_incident(envelope: dict[str, Any]) -> bool:
    return str(envelope["alert"]["event"]).startswith("incident.")


def test_fifty_connections_of_one_app_failing_page_once_then_recover_once(
    incident_stack: Deployed,
    fake_providers: Any,
    factory: stack.SecretFactory,
    oncall_of_incidents: stack.AlertInbox,
) -> None:
    deployed, oncall = incident_stack, oncall_of_incidents
    quiet = {  # not due for the stack's minutely sweep: only the test's rotations run
        "token-refresher:expires-at": str(int(time.time()) + 40 * 86400),
        "token-refresher:last-rotated-at": str(int(time.time())),
    }

    def make_secret(doc: dict[str, Any]) -> str:
        return factory.token(doc, tags=quiet)

    # Given 50 Google connections of one app whose client secret was rotated at Google
    fake_providers.register_app("google", CLIENT_ID, RIGHT)
    app = factory.app("google-incident", CLIENT_ID, "the-old-client-secret", provider="google_ads")
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
