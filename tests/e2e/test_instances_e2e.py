"""Two deployments side by side on one LocalStack: each touches only its own instance's secrets.

Stack A is the session's stack (``tr-e2e``, InstanceName left empty: the stack name); stack B
(``tr-e2e-blue``) is deployed here with ``InstanceName=blue`` and its own fake-provider server.
A secret refreshed by the wrong stack would reach a fake that never issued its refresh token,
fail as reauth_required and alert: so every check below would see cross-talk.

The module's tests share one set of secrets and run in file order; the scheduled sweeps are
checked last, so that their one-minute schedule has run while the other checks went on.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.conftest import E2E_STACK, Deployed, rotate
from tests.support import stack
from tests.support.cli import run_cli
from tests.support.fake_providers import FakeProviders
from tests.support.leaks import SCANNER, fake_provider_secrets

pytestmark = pytest.mark.e2e

BLUE_STACK = "tr-e2e-blue"
BLUE = "blue"
EVENTS = stack.REPO_ROOT / "events"
INSTANCE_TAG = "token-refresher:instance"


@dataclass
class Side:
    """One deployment, its fake providers, its alert queue and the secrets made for it."""

    instance: str
    stack_name: str
    outputs: dict[str, str]
    fake: FakeProviders
    alerts_queue: str
    factory: stack.SecretFactory
    secrets: dict[str, str] = field(default_factory=dict)  # role -> ARN
    refresh: dict[str, str] = field(default_factory=dict)  # role -> refresh token

    @property
    def rotation_arn(self) -> str:
        return self.outputs["RotationFunctionArn"]

    def google(self, role: str, *, due: bool) -> str:
        """A Google connection whose refresh token only this side's fake provider knows."""
        refresh = f"1//0g-{self.instance}-{role}-{uuid.uuid4().hex[:8]}"
        self.fake.seed("google", refresh_token=refresh)
        app = self.factory.app("google", f"g-{self.instance}", f"g-{self.instance}-client-secret")
        tags: dict[str, str] = {}
        if not due:  # far from expiry and rotated just now: only an explicit request rotates it
            tags = {
                "token-refresher:expires-at": str(int(time.time()) + 40 * 86400),
                "token-refresher:last-rotated-at": str(int(time.time())),
            }
        self.secrets[role] = self.factory.token(google_doc(refresh, app), tags=tags)
        self.refresh[role] = refresh
        return self.secrets[role]

    def refresh_tokens_seen(self) -> set[str]:
        return {
            str(r.params.get("refresh_token"))
            for r in self.fake.requests("google")
            if r.route == "token"
        }


@dataclass
class World:
    a: Side
    b: Side
    legacy: str  # managed tag only, as made before instances existed
    legacy_refresh: str
    versions: dict[str, str]  # ARN -> AWSCURRENT version at the start
    deploy_seconds: float
    alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def google_doc(refresh: str, app: str) -> dict[str, object]:
    return {
        "schema": 1,
        "provider": "google_ads",
        "access_token": f"ya29.{refresh}-access",
        "refresh_token": refresh,
        "expires_at": stack.iso_in(timedelta(minutes=30)),
        "app_secret_id": app,
    }


def current_version(sm: Any, arn: str) -> str:
    stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    return next(v for v, labels in stages.items() if "AWSCURRENT" in labels)


def rotated(world: World, sm: Any, arn: str) -> bool:
    return current_version(sm, arn) != world.versions[arn]


@pytest.fixture(scope="module")
def world(deployed: Deployed, fake_providers_server: FakeProviders) -> Iterator[World]:
    """Stack B deployed next to A; secrets for both, one legacy secret; alert queues on both."""
    with FakeProviders() as blue_fake, pytest.MonkeyPatch.context() as env:
        SCANNER.add_source(fake_provider_secrets(blue_fake))
        for key, value in stack.aws_environment(deployed.endpoint).items():
            env.setenv(key, value)  # the CLI's boto3 session
        started = time.monotonic()
        blue_outputs = stack.deploy(
            deployed.endpoint,
            endpoints_json=stack.provider_endpoints(blue_fake.endpoints()),
            sweep_rate_minutes=1,
            stack_name=BLUE_STACK,
            extra=[f"InstanceName={BLUE}", "AdoptUntagged=on-request"],  # B adopts
        )
        deploy_seconds = time.monotonic() - started
        queues = [
            stack.subscribe_queue(
                deployed.sns,
                deployed.sqs,
                outputs["AlertTopicArn"],
                f"tr-e2e-i-{uuid.uuid4().hex[:8]}",
            )
            for outputs in (deployed.outputs, blue_outputs)
        ]
        a = Side(
            E2E_STACK, E2E_STACK, deployed.outputs, fake_providers_server, queues[0],
            stack.SecretFactory(deployed.sm, "tr-e2e-i-a", instance=E2E_STACK),
        )  # fmt: skip
        b = Side(
            BLUE, BLUE_STACK, blue_outputs, blue_fake, queues[1],
            stack.SecretFactory(deployed.sm, "tr-e2e-i-b", instance=BLUE),
        )  # fmt: skip
        for side in (a, b):
            side.google("scheduled", due=True)
            side.google("manual", due=False)
            side.google("rotate", due=False)
        b.google("refused", due=False)  # rotate-secret with A's rotation function
        b.google("unaddressed", due=False)  # named by an event without an instance
        b.google("misaddressed", due=False)  # named by an event addressed to A
        legacy_factory = stack.SecretFactory(deployed.sm, "tr-e2e-i-legacy", instance=None)
        legacy_refresh = f"1//0g-legacy-{uuid.uuid4().hex[:8]}"
        blue_fake.seed("google", refresh_token=legacy_refresh)  # B will adopt it
        legacy = legacy_factory.token(
            google_doc(legacy_refresh, b.factory.app("google", "g-legacy", "g-legacy-secret"))
        )
        arns = [*a.secrets.values(), *b.secrets.values(), legacy]
        versions = {arn: current_version(deployed.sm, arn) for arn in arns}
        yield World(a, b, legacy, legacy_refresh, versions, deploy_seconds)
        for factory in (a.factory, b.factory, legacy_factory):
            factory.cleanup()
        for url in queues:
            deployed.sqs.delete_queue(QueueUrl=url)
        stack.delete(deployed.endpoint, BLUE_STACK)


def test_each_stack_publishes_its_instance(world):
    # Given/When the two stacks are deployed, one with InstanceName empty, one with "blue"
    print(f"second stack deployed in {world.deploy_seconds:.1f} s")
    # Then the first is named after its stack and the second as asked
    assert world.a.outputs["InstanceName"] == E2E_STACK
    assert world.b.outputs["InstanceName"] == BLUE
    assert world.a.rotation_arn != world.b.rotation_arn


def test_manual_events_reach_only_the_addressed_stack(world, deployed):
    # Given A's connection, named in the events/ file's entry addressed to A
    [entry] = json.loads((EVENTS / "put-events-rotate-one.json").read_text())
    detail = json.loads(entry["Detail"])
    to_a = detail | {"instance": E2E_STACK, "secret_ids": [world.a.secrets["manual"]]}
    # And events that must not rotate anything: no instance, and B's secret addressed to A
    no_instance = {k: v for k, v in detail.items() if k != "instance"}
    no_instance["secret_ids"] = [world.b.secrets["unaddressed"]]
    misaddressed = to_a | {"secret_ids": [world.b.secrets["misaddressed"]]}
    bus = world.a.outputs["RequestBusName"]  # A's own request bus
    entries = [
        entry | {"Detail": json.dumps(d), "EventBusName": bus}
        for d in (to_a, no_instance, misaddressed)
    ]
    # When they are sent, and B's connection is asked for with the CLI (instance from B's stack)
    resp = deployed.events.put_events(Entries=entries)
    run = run_cli(["rotate", world.b.secrets["manual"], "--force", "--stack-name", BLUE_STACK])
    # Then each addressed connection is rotated by its own stack's functions
    assert resp["FailedEntryCount"] == 0
    assert run.code == 0, run.err
    assert f"of instance {BLUE}" in run.out
    for side in (world.a, world.b):
        arn = side.secrets["manual"]
        stack.wait_for(lambda arn=arn: rotated(world, deployed.sm, arn), timeout=90, what=arn)
        described = deployed.sm.describe_secret(SecretId=arn)
        assert described["RotationLambdaARN"] == side.rotation_arn
        assert side.refresh["manual"] in side.refresh_tokens_seen()


def test_rotate_secret_with_each_stacks_function_uses_its_own_provider_endpoints(world, deployed):
    # Given one connection per stack
    for side in (world.a, world.b):
        arn = side.secrets["rotate"]
        # When it is rotated with its own stack's rotation function
        rotate(_deployed_as(deployed, side), arn)
        # Then it is rotated, refreshed at its own fake provider
        assert rotated(world, deployed.sm, arn)
        assert side.refresh["rotate"] in side.refresh_tokens_seen()
        assert stack.tags_of(deployed.sm, arn)["token-refresher:status"] == "ok"


def test_a_rotation_function_refuses_another_instances_secret(world, deployed):
    # Given B's connection, and B's state tags before
    arn = world.b.secrets["refused"]
    tags_before = stack.tags_of(deployed.sm, arn)
    # When someone rotates it with A's rotation function
    rotate(_deployed_as(deployed, world.a), arn)
    # Then A refused it: value and tags unchanged, no provider called
    assert not rotated(world, deployed.sm, arn)
    assert stack.tags_of(deployed.sm, arn) == tags_before
    refresh = world.b.refresh["refused"]
    assert refresh not in world.a.refresh_tokens_seen() | world.b.refresh_tokens_seen()
    # And A's topic got one config alert saying whose it is (checked with the others at the end)


def test_status_shows_only_the_chosen_instance_unless_all_instances(world):
    # When status is asked for B (instance from B's stack), then for every instance
    blue = run_cli(["status", "--json", "--stack-name", BLUE_STACK])
    everything = run_cli(["status", "--json", "--all-instances"])
    # Then B's listing holds B's connections only; --all-instances holds both and the legacy one
    assert blue.code in (0, 2), blue.err
    blue_rows = {r["arn"]: r["instance"] for r in json.loads(blue.out)}
    assert set(world.b.secrets.values()) <= set(blue_rows)
    assert set(blue_rows.values()) == {BLUE}
    all_rows = {r["arn"]: r["instance"] for r in json.loads(everything.out)}
    assert {all_rows[arn] for arn in world.a.secrets.values()} == {E2E_STACK}
    assert {all_rows[arn] for arn in world.b.secrets.values()} == {BLUE}
    assert all_rows[world.legacy] is None


def test_a_legacy_secret_is_left_alone_until_adopted_then_rotated_by_its_new_instance(
    world, deployed
):
    # Given a secret made before instances (managed tag only): neither sweep has touched it
    assert not rotated(world, deployed.sm, world.legacy)
    assert deployed.sm.describe_secret(SecretId=world.legacy).get("RotationLambdaARN") is None
    # And A (AdoptUntagged=false, the default) refuses to adopt it and says what to change
    refused = run_cli(["adopt", "--stack-name", E2E_STACK])
    assert refused.code == 1
    assert "AdoptUntagged=on-request" in refused.out
    assert INSTANCE_TAG not in stack.tags_of(deployed.sm, world.legacy)
    # When B's operator (AdoptUntagged=on-request) previews the adoption, then adopts
    preview = run_cli(["adopt", "--dry-run", "--stack-name", BLUE_STACK])
    assert INSTANCE_TAG not in stack.tags_of(deployed.sm, world.legacy)
    adopted = run_cli(["adopt", "--stack-name", BLUE_STACK])
    # Then it is listed by both, and tagged with B's instance after the second only
    assert preview.code == 0, preview.err
    assert f"would adopt  {world.legacy}" in preview.out
    assert adopted.code == 0, adopted.err
    assert f"adopted  {world.legacy}" in adopted.out
    assert stack.tags_of(deployed.sm, world.legacy)[INSTANCE_TAG] == BLUE
    # (B's scheduled sweep rotates it: checked with the scheduled sweeps below)


def test_scheduled_sweeps_rotate_only_their_own_and_nobody_alerts_about_the_other(world, deployed):
    # Given due connections on both sides, and the legacy one adopted by B
    expected = {
        world.a.secrets["scheduled"]: world.a,
        world.b.secrets["scheduled"]: world.b,
        world.legacy: world.b,
    }
    # When both one-minute schedules have fired
    started = time.monotonic()
    for arn in expected:
        stack.wait_for(
            lambda arn=arn: rotated(world, deployed.sm, arn),
            timeout=150,
            interval=2,
            what=f"the scheduled rotation of {arn}",
        )
    print(f"scheduled rotations seen after {time.monotonic() - started:.0f} s more")
    # Then each was attached to and refreshed by its own stack
    for arn, side in expected.items():
        assert deployed.sm.describe_secret(SecretId=arn)["RotationLambdaARN"] == side.rotation_arn
    assert world.legacy_refresh in world.b.refresh_tokens_seen()
    # And no fake provider ever saw the other side's refresh tokens
    a_tokens = set(world.a.refresh.values())
    b_tokens = set(world.b.refresh.values()) | {world.legacy_refresh}
    assert not world.a.refresh_tokens_seen() & b_tokens
    assert not world.b.refresh_tokens_seen() & a_tokens
    # And the unaddressed and misaddressed events rotated nothing
    for role in ("unaddressed", "misaddressed", "refused"):
        assert not rotated(world, deployed.sm, world.b.secrets[role]), role
    # And the alerts: B's topic said nothing about these secrets; A's topic only refused B's
    # two secrets that were put to A (rotate-secret with A's function, event addressed to A)
    ours = {*world.a.secrets.values(), *world.b.secrets.values(), world.legacy}
    names = {_name(deployed, arn): arn for arn in ours}
    got = {
        side.instance: [
            (a["alert"]["event"], names.get(a["alert"]["secret_id"], a["alert"]["secret_id"]))
            for a in stack.AlertInbox(
                deployed.sns, deployed.sqs, side.outputs["AlertTopicArn"], side.alerts_queue
            ).settled()
            if names.get(a["alert"]["secret_id"], a["alert"]["secret_id"]) in ours
            and "belongs to no instance" not in a["alert"]["message"]  # hourly, before adoption
        ]
        for side in (world.a, world.b)
    }
    assert got[BLUE] == []
    assert sorted(got[E2E_STACK]) == sorted(
        [
            ("token.config_invalid", world.b.secrets["refused"]),
            ("token.config_invalid", world.b.secrets["misaddressed"]),
        ]
    )


def _deployed_as(deployed: Deployed, side: Side) -> Deployed:
    """The session's clients, with ``side``'s stack outputs (rotate() reads the function ARN)."""
    return Deployed(
        deployed.endpoint,
        side.outputs,
        deployed.sm,
        deployed.sns,
        deployed.sqs,
        deployed.events,
        deployed.lambda_,
    )


def _name(deployed: Deployed, arn: str) -> str:
    return str(deployed.sm.describe_secret(SecretId=arn)["Name"])
