"""The deployed sweep: its schedule, the manual EventBridge event, dry runs, and the alert story."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.conftest import rotate
from tests.support import stack

pytestmark = pytest.mark.e2e

EVENTS = stack.REPO_ROOT / "events"


def google_doc(make_app, refresh: str, *, minutes: int = 30) -> dict[str, object]:
    return {
        "schema": 1,
        "provider": "google_ads",
        "access_token": f"ya29.{refresh}-access",
        "refresh_token": refresh,
        "expires_at": stack.iso_in(timedelta(minutes=minutes)),
        "app_secret_id": make_app("google", "g-sweep-client", "g-sweep-client-secret"),
    }


def current_version(deployed, arn: str) -> str:
    stages = deployed.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    return next(v for v, labels in stages.items() if "AWSCURRENT" in labels)


def test_scheduled_rule_fires_the_sweep_and_a_due_secret_is_rotated(
    deployed, fake_providers, make_secret, make_app
):
    # Given a due Google secret (no expiry tag yet) the fake provider accepts
    fake_providers.seed("google", refresh_token="1//0g-sched-refresh")
    arn = make_secret(google_doc(make_app, "1//0g-sched-refresh"), due=True)
    before = current_version(deployed, arn)
    # When the one-minute schedule fires (nothing else is invoked by this test)
    stack.wait_for(
        lambda: current_version(deployed, arn) != before,
        timeout=150,
        interval=2,
        what="the scheduled sweep to rotate the due secret",
    )
    # Then the new version holds a fresh access token from the provider, and the tags say when
    doc = stack.current_document(deployed.sm, arn)
    assert doc["access_token"] != "ya29.1//0g-sched-refresh-access"
    assert fake_providers.is_valid(doc["access_token"])
    assert "token-refresher:expires-at" in stack.tags_of(deployed.sm, arn)


def test_put_events_with_the_manual_event_rotates_the_named_secret(
    deployed, fake_providers, make_secret, make_app
):
    # Given a managed secret rotated moments ago (so only a forced request rotates it)
    fake_providers.seed("google", refresh_token="1//0g-manual-refresh")
    arn = make_secret(google_doc(make_app, "1//0g-manual-refresh"))
    before = current_version(deployed, arn)
    # When the entries file from events/ is sent with this secret's id
    [entry] = json.loads((EVENTS / "put-events-rotate-one.json").read_text())
    instance = deployed.outputs["InstanceName"]
    detail = json.loads(entry["Detail"]) | {"secret_ids": [arn], "instance": instance}
    bus = deployed.outputs["RequestBusName"]  # the stack's own bus (the file names the demo's)
    resp = deployed.events.put_events(
        Entries=[entry | {"Detail": json.dumps(detail), "EventBusName": bus}]
    )
    assert resp["FailedEntryCount"] == 0
    # Then the secret is rotated through the rule -> sweep -> RotateSecret -> rotation function
    stack.wait_for(
        lambda: current_version(deployed, arn) != before, timeout=60, what="the manual rotation"
    )
    assert len([r for r in fake_providers.requests("google") if r.route == "token"]) == 1


def test_dry_run_reports_and_changes_nothing(deployed, fake_providers, make_secret, make_app):
    # Given a managed secret last rotated an hour ago, and one rotated just now
    arn = make_secret(google_doc(make_app, "1//0g-dry-refresh"), rotated_ago=3600)
    recent = make_secret(google_doc(make_app, "1//0g-dry-recent"))
    before_versions = deployed.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    before_tags = stack.tags_of(deployed.sm, arn)
    # When the dry-run event from events/ is invoked directly
    payload = json.loads((EVENTS / "manual-dry-run-all.json").read_text())
    payload["detail"]["instance"] = deployed.outputs["InstanceName"]  # the file's: the default
    report = deployed.invoke(deployed.outputs["SweepFunctionName"], payload)
    # Then the secret is listed with a reason, and nothing changed anywhere
    assert report["dry_run"] is True
    assert report["started"] == []
    listed = {w["secret_id"]: w["reason"] for w in report["would_rotate"]}
    assert listed.get(arn, "").startswith("manual rotation")
    skipped = {s["secret_id"]: s["reason"] for s in report["skipped"]}
    assert "10 minutes" in skipped[recent]
    assert deployed.sm.describe_secret(SecretId=arn)["VersionIdsToStages"] == before_versions
    assert stack.tags_of(deployed.sm, arn) == before_tags
    assert fake_providers.requests() == []


def test_failure_then_recovery_alerts_exactly_once_each_in_order(
    deployed, fake_providers, make_secret, make_app, alert_inbox
):
    # Given a Google connection far from expiry whose provider starts failing with 503
    fake_providers.seed("google", refresh_token="1//0g-story-refresh")
    arn = make_secret(google_doc(make_app, "1//0g-story-refresh", minutes=48 * 60))
    fake_providers.set_mode("google", failure="http_503")
    # When three rotations fail (the alert threshold is 3), then the provider recovers
    for _ in range(3):
        rotate(deployed, arn)
    fake_providers.set_mode("google", failure=None)
    rotate(deployed, arn)
    # Then the subscriber got refresh_failed then recovered, once each (and nothing after them),
    # and the state is ok
    names = (arn, _name(deployed, arn))

    def ours(got: list[dict]) -> list[dict]:
        return [a for a in got if a["alert"]["secret_id"] in names]

    alert_inbox.wait_for(lambda got: len(ours(got)) >= 2, timeout=30, what="two alerts")
    alerts = ours(alert_inbox.settled())
    assert [a["alert"]["event"] for a in alerts] == ["token.refresh_failed", "token.recovered"]
    assert alerts[0]["alert"]["consecutive_failures"] == 3
    assert stack.tags_of(deployed.sm, arn)["token-refresher:status"] == "ok"


def test_sweep_over_a_set_with_one_malformed_secret_rotates_the_others(
    deployed, fake_providers, make_secret, make_app, alert_inbox
):
    # Given three healthy secrets and one whose document is malformed
    good = []
    for n in range(3):
        fake_providers.seed("google", refresh_token=f"1//0g-set-{n}")
        good.append(make_secret(google_doc(make_app, f"1//0g-set-{n}")))
    bad = make_secret({"schema": 1, "provider": "google_ads", "expires_at": "soon"})
    before = {arn: current_version(deployed, arn) for arn in good}
    # When one manual request names all four
    report = deployed.invoke(
        deployed.outputs["SweepFunctionName"],
        {
            "secret_ids": [*good, bad],
            "force": True,
            "reason": "e2e set",
            "instance": deployed.outputs["InstanceName"],
        },
    )
    # Then all four rotations were started, the three good ones completed
    assert sorted(report["started"]) == sorted([*good, bad])
    for arn in good:
        stack.wait_for(
            lambda arn=arn: current_version(deployed, arn) != before[arn],
            timeout=60,
            what="the good secrets to rotate",
        )
    # And exactly one alert, a config alert naming the bad field, came for the malformed one
    alert_inbox.wait_for(bool, timeout=30, what="the config alert")
    alerts = alert_inbox.settled()
    assert [(a["alert"]["event"], a["alert"]["secret_id"]) for a in alerts] == [
        ("token.config_invalid", _name(deployed, bad))
    ]
    assert "access_token" in alerts[0]["alert"]["message"]


def _name(deployed, arn: str) -> str:
    return str(deployed.sm.describe_secret(SecretId=arn)["Name"])


def test_a_revoked_grant_that_is_not_due_is_caught_by_the_daily_liveness_check(
    deployed, fake_providers, make_secret, make_app, alert_inbox
):
    # Given a Meta connection 50 days from expiry, last validated two days ago
    token = "EAAFakeLiveness" + "x" * 24
    fake_providers.seed("meta", access_token=token, expires_in=50 * 86400)
    doc = {
        "schema": 1,
        "provider": "meta",
        "kind": "user_long_lived",
        "access_token": token,
        "expires_at": stack.iso_in(timedelta(days=50)),
        "app_secret_id": make_app(
            "meta", "meta-live-app", "meta-live-secret-0001", provider="meta"
        ),
    }
    arn = make_secret(doc, rotated_ago=2 * 86400)
    before = current_version(deployed, arn)
    # When the one-minute schedule fires, the sweep asks the rotation function to check it
    checked = stack.wait_for(
        lambda: stack.tags_of(deployed.sm, arn).get("token-refresher:checked-at"),
        timeout=150,
        interval=2,
        what="the daily liveness check (the checked-at tag)",
    )
    assert {r.route for r in fake_providers.requests("meta")} == {"debug_token"}
    # And when the user revokes the grant and a day passes (the check time moved back a day)
    fake_providers.revoke(token, subcode=460)
    day_before = str(int(checked) - 86400)
    deployed.sm.tag_resource(
        SecretId=arn, Tags=[{"Key": "token-refresher:checked-at", "Value": day_before}]
    )

    # Then the next sweeps' check sends token.reauth_required with its reconnect link
    def reauth(envelope: dict[str, Any]) -> bool:
        alert = envelope["alert"]
        return bool(alert["secret_id"] == arn and alert["event"] == "token.reauth_required")

    [envelope] = alert_inbox.matching(reauth, timeout=150, what="the re-authorization alert")
    alert = envelope["alert"]
    assert str(alert["reconnect_url"]).startswith(deployed.outputs["ConnectUrl"])
    assert "daily check" in str(alert["message"])
    tags = stack.tags_of(deployed.sm, arn)
    assert tags["token-refresher:status"] == "reauth-required"
    # And the token was never rotated: checked, not refreshed
    assert current_version(deployed, arn) == before
    assert all(r.route == "debug_token" for r in fake_providers.requests("meta"))
