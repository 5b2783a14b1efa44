"""Deploy the SAM application to LocalStack and talk to it through AWS APIs only.

Shared by the e2e tests and `make demo` (tools/demo.py). Nothing here reaches past 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config

from tests.support import authz
from tests.support.leaks import SCANNER
from token_refresher.model import PROVIDER_NAMES
from token_refresher.timeutil import format_iso

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
STACK_NAME = os.environ.get("TR_STACK_NAME", "token-refresher")
SAMLOCAL = REPO_ROOT / ".venv-sam" / "bin" / "samlocal"
BUILT_TEMPLATE = REPO_ROOT / ".aws-sam" / "build" / "template.yaml"
T = TypeVar("T")  # a PEP 695 parameter would not parse on Python 3.11 (the CLI tests run there)
MANAGED = {"Key": "token-refresher:managed", "Value": "true"}
INSTANCE_TAG = "token-refresher:instance"
APP_INSTANCES_TAG = "token-refresher:app-instances"  # on app secrets: the instances they serve


def iso_in(delta: timedelta) -> str:
    """An ISO-8601 UTC timestamp ``delta`` from now, as token documents store it."""
    return format_iso(datetime.now(UTC) + delta)


def aws_environment(endpoint: str) -> dict[str, str]:
    """The variables that point boto3 (and the CLIs) at LocalStack with test credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }


def client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=120),
    )


def wait_for(
    probe: Callable[[], T | None], *, timeout: float, interval: float = 0.5, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def provider_endpoints(fake_base_urls: Mapping[str, str]) -> str:
    """The ProviderEndpoints template parameter (name=url;...), provider module names only."""
    return ";".join(f"{k}={v}" for k, v in sorted(fake_base_urls.items()) if k in PROVIDER_NAMES)


def build() -> None:
    subprocess.run(["make", "--no-print-directory", "build"], cwd=REPO_ROOT, check=True)


def deploy(
    endpoint: str,
    *,
    endpoints_json: str,
    sweep_rate_minutes: int = 15,
    stack_name: str = STACK_NAME,
    extra: Iterable[str] = (),
    incidents: bool = False,
) -> dict[str, str]:
    """`samlocal deploy` the built template; returns the stack outputs."""
    params = [
        f"ProviderEndpoints={endpoints_json}",
        "TracingDisabled=true",
        f"SweepRateMinutes={sweep_rate_minutes}",
        "FailureAlertThreshold=3",
        # The stacks of one-connection stories keep one alert per connection (their tests wait
        # seconds for it); the incident e2e deploys a stack of its own with Incidents=true and a
        # 20 s group wait (tests/e2e/test_incidents_e2e.py).
        f"Incidents={str(incidents).lower()}",
        "IncidentGroupWaitSeconds=20",
        *extra,
    ]
    env = os.environ | aws_environment(endpoint) | {"SAM_CLI_TELEMETRY": "0"}
    clear_interrupted(endpoint, (SAM_MANAGED_STACK, stack_name))
    result = subprocess.run(
        [
            str(SAMLOCAL),
            "deploy",
            "--template-file",
            str(BUILT_TEMPLATE),
            "--stack-name",
            stack_name,
            "--resolve-s3",
            "--capabilities",
            "CAPABILITY_IAM",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--region",
            REGION,
            "--parameter-overrides",
            *params,
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"samlocal deploy failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    deployed = outputs(endpoint, stack_name)
    if authz.recording():
        authz.snapshot(endpoint, stack_name, deployed)  # its policies, evaluated at session end
    return deployed


SAM_MANAGED_STACK = "aws-sam-cli-managed-default"  # --resolve-s3's bucket stack


def clear_interrupted(endpoint: str, stack_names: Iterable[str]) -> None:
    """Delete the stacks an interrupted deploy left in REVIEW_IN_PROGRESS (a change set created,
    never executed, no resource yet): `sam deploy` refuses to go on from there."""
    cfn = client("cloudformation", endpoint)
    for name in stack_names:
        try:
            status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except cfn.exceptions.ClientError:
            continue  # no such stack
        if status == "REVIEW_IN_PROGRESS":
            delete(endpoint, name)


def delete(endpoint: str, stack_name: str) -> None:
    cfn = client("cloudformation", endpoint)
    cfn.delete_stack(StackName=stack_name)
    cfn.get_waiter("stack_delete_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 2, "MaxAttempts": 90}
    )


def outputs(endpoint: str, stack_name: str = STACK_NAME) -> dict[str, str]:
    stack = client("cloudformation", endpoint).describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def create_app_secret(
    sm: Any,
    name: str,
    client_id: str,
    client_secret: str,
    *,
    instances: str | None = None,
    **declared: Any,
) -> str:
    """``declared``: the binding fields (``provider``, ``allowed_url_prefixes``), see
    credentials/binding.py;
    ``instances``: the instances that may use it (tag token-refresher:app-instances)."""
    SCANNER.add_secrets(client_secret)
    body = json.dumps({"client_id": client_id, "client_secret": client_secret, **declared})
    tags = [{"Key": APP_INSTANCES_TAG, "Value": instances}] if instances else []
    try:
        return str(sm.create_secret(Name=name, SecretString=body, Tags=tags)["ARN"])
    except sm.exceptions.ResourceExistsException:
        if tags:
            sm.tag_resource(SecretId=name, Tags=tags)
        return str(sm.put_secret_value(SecretId=name, SecretString=body)["ARN"])


def create_token_secret(
    sm: Any,
    name: str,
    document: Mapping[str, Any],
    *,
    instance: str | None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """A managed token secret of ``instance`` (None: managed tag only, as before instances)."""
    all_tags = [MANAGED, {"Key": "token-refresher:provider", "Value": document["provider"]}]
    if instance is not None:
        all_tags.append({"Key": INSTANCE_TAG, "Value": instance})
    all_tags += [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    SCANNER.add_secrets(document.get("access_token"), document.get("refresh_token"))
    return str(sm.create_secret(Name=name, SecretString=json.dumps(document), Tags=all_tags)["ARN"])


def current_document(sm: Any, secret_id: str) -> dict[str, Any]:
    return dict(json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"]))


def tags_of(sm: Any, secret_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=secret_id).get("Tags", [])}


def subscribe_queue(
    sns: Any, sqs: Any, topic_arn: str, name: str, *, filter_policy: Mapping[str, Any] | None = None
) -> str:
    """An SQS queue subscribed to the alert topic (envelope kept: it carries the attributes),
    through ``filter_policy`` when given (e.g. the documented on-call filter)."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes)
    return str(url)


def receive_alerts(sqs: Any, queue_url: str, *, wait_seconds: int = 1) -> list[dict[str, Any]]:
    """Every alert waiting in the queue: SNS envelope with ``alert`` (the parsed body) added."""
    out: list[dict[str, Any]] = []
    while True:
        resp = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
        )
        messages = resp.get("Messages", [])
        if not messages:
            return out
        for message in messages:
            SCANNER.record("sqs alert", message["Body"])
            envelope = json.loads(message["Body"])
            envelope["alert"] = json.loads(envelope["Message"])
            out.append(envelope)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


MARKER_SUBJECT = "tr-test-marker"


class AlertInbox:
    """Every alert one queue received, kept across polls: a poll that sees too few throws nothing
    away, and the next poll adds to it.

    ``settled()`` answers "and nothing else arrived" with a positive marker instead of a fixed
    wait: it publishes a marker to the same topic and reads until the marker comes back. LocalStack
    delivers one topic's messages in publish order (its SNS executor partitions work by topic), and
    every alert under test was published by an invocation that returned before the marker was
    sent, so once the marker is in, every alert is.
    """

    def __init__(self, sns: Any, sqs: Any, topic_arn: str, queue_url: str) -> None:
        self.sns, self.sqs, self.topic_arn, self.queue_url = sns, sqs, topic_arn, queue_url
        self.received: list[dict[str, Any]] = []
        self._markers_seen: set[str] = set()

    def poll(self) -> list[dict[str, Any]]:
        """Everything received so far (the queue is read once more, up to 1 s)."""
        for envelope in receive_alerts(self.sqs, self.queue_url, wait_seconds=1):
            if envelope.get("Subject") == MARKER_SUBJECT:
                self._markers_seen.add(str(envelope["alert"].get("marker")))
            else:
                self.received.append(envelope)
        return list(self.received)

    def wait_for(
        self, done: Callable[[list[dict[str, Any]]], bool], *, timeout: float, what: str
    ) -> list[dict[str, Any]]:
        """Poll until ``done(received)``; fail naming ``what`` after ``timeout``."""
        return wait_for(
            lambda: (got := self.poll()) and done(got) and got, timeout=timeout, what=what
        )

    def matching(
        self, keep: Callable[[dict[str, Any]], bool], *, timeout: float, what: str
    ) -> list[dict[str, Any]]:
        """The received envelopes ``keep`` accepts, once there is one; the rest stay received."""
        got = self.wait_for(lambda received: any(map(keep, received)), timeout=timeout, what=what)
        return [envelope for envelope in got if keep(envelope)]

    def settled(
        self, *, timeout: float = 30, attributes: Mapping[str, str] = {}
    ) -> list[dict[str, Any]]:
        """Every alert published before this call, and nothing else arrived in between.
        ``attributes``: the marker's message attributes, for a queue whose subscription filters
        (the marker must pass the filter to arrive)."""
        marker = uuid.uuid4().hex
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=MARKER_SUBJECT,
            Message=json.dumps({"marker": marker}),
            MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            },
        )
        wait_for(
            lambda: self.poll() is not None and marker in self._markers_seen,
            timeout=timeout,
            what="the marker published after the alerts",
        )
        return list(self.received)


class SecretFactory:
    """Token and app-credential secrets with unique names, force-deleted by ``cleanup()``."""

    def __init__(self, sm: Any, prefix: str, *, instance: str | None) -> None:
        self.sm = sm
        self.prefix = prefix
        self.instance = instance
        self._created: list[str] = []

    def token(
        self, document: Mapping[str, Any], *, name: str | None = None, tags: Mapping[str, str] = {}
    ) -> str:
        secret_name = name or f"{self.prefix}/{document['provider']}/{uuid.uuid4().hex[:10]}"
        arn = create_token_secret(self.sm, secret_name, document, instance=self.instance, tags=tags)
        self._created.append(arn)
        return arn

    def app(self, label: str, client_id: str, client_secret: str, **declared: Any) -> str:
        """``label`` goes into the name; ``declared``: provider, allowed_url_prefixes."""
        name = f"token-refresher/apps/{self.prefix}-{label}-{uuid.uuid4().hex[:8]}"
        arn = create_app_secret(
            self.sm, name, client_id, client_secret, instances=self.instance, **declared
        )
        self._created.append(arn)
        return name

    def cleanup(self) -> None:
        for arn in self._created:
            self.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
