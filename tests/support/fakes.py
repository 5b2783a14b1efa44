"""In-memory fakes of the library's collaborators (no network, no mocks of boto3)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from tests.support.leaks import SCANNER
from token_refresher.adapters.errors import translate
from token_refresher.adapters.secrets import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    RotationInProgress,
    SecretDescription,
    SecretNotFound,
    SecretSummary,
)
from token_refresher.alerts import Alert
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import ProviderContext, RefreshResult, ValidationResult
from token_refresher.state import TAG_INSTANCE, TAG_MANAGED

_CLAIMS = threading.Lock()  # InMemorySecretStore.claim_version: one claimer at a time


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


@dataclass
class _Secret:
    name: str
    arn: str
    values: dict[str, str | None] = field(default_factory=dict)  # version id -> SecretString
    stages: dict[str, set[str]] = field(default_factory=dict)  # version id -> labels
    tags: dict[str, str] = field(default_factory=dict)
    rotation_enabled: bool = True
    rotation_lambda_arn: str | None = None
    rotate_calls: list[str | None] = field(default_factory=list)  # lambda_arn of each RotateSecret


TEST_INSTANCE = "token-refresher"  # the engines' instance under test (= events/ files')


class InMemorySecretStore:
    """Secrets Manager semantics that the rotation protocol relies on, kept in dicts.

    ``fail_on[operation] = [exception, ...]`` makes the next calls of that operation raise them; a
    botocore ClientError is raised as SecretsManagerStore would, translated (adapters.errors).
    ``calls`` records (operation, secret_id) for every call. Tests arrange and inspect state
    through the public helpers below, never through ``_secrets``.
    """

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self._secrets: dict[str, _Secret] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_on: dict[str, list[Exception]] = {}
        self.on_rotate: Callable[[str, str], None] | None = None  # (name, token) -> run the steps
        self._version_ids = itertools.count(1)
        self.created_at: dict[str, float] = {}  # version id -> epoch (defaults to unknown)

    # --- test set-up helpers -------------------------------------------------------------------

    def create(
        self,
        name: str,
        value: str | dict[str, Any],
        *,
        tags: Mapping[str, str | None] | None = None,
        rotation_enabled: bool = True,
    ) -> str:
        text = value if isinstance(value, str) else json.dumps(value)
        version = f"v-initial-{next(self._ids)}"
        tags = dict(tags or {})
        if tags.get(TAG_MANAGED) == "true":  # managed secrets are the test instance's unless told
            tags.setdefault(TAG_INSTANCE, TEST_INSTANCE)
        tags = {k: v for k, v in tags.items() if v is not None}
        self._secrets[name] = _Secret(
            name=name,
            arn=f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}-AbCdEf",
            values={version: text},
            stages={version: {AWSCURRENT}},
            tags=dict(tags or {}),
            rotation_enabled=rotation_enabled,
        )
        return version

    def start_rotation(self, name: str, version_id: str) -> None:
        """What RotateSecret does before calling the function: an empty AWSPENDING version."""
        secret = self._secrets[name]
        self._drop_label(secret, AWSPENDING)
        secret.values[version_id] = None
        secret.stages[version_id] = {AWSPENDING}

    def current_value(self, name: str) -> str:
        secret = self._secrets[name]
        version = next(v for v, s in secret.stages.items() if AWSCURRENT in s)
        value = secret.values[version]
        assert value is not None
        return value

    def current_doc(self, name: str) -> TokenDocument:
        return TokenDocument.from_json(self.current_value(name))

    def version_stages(self, name: str) -> dict[str, set[str]]:
        return {k: set(v) for k, v in self._secrets[name].stages.items()}

    def tags_of(self, name: str) -> dict[str, str]:
        return dict(self._secrets[name].tags)

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] in ("put_pending", "move_stage")]

    def arn_of(self, name: str) -> str:
        return self._secrets[name].arn

    def set_tags(self, name: str, tags: Mapping[str, str]) -> None:
        """Tags as a user or another run left them (not recorded as a call)."""
        self._secrets[name].tags.update(tags)

    def is_rotation_enabled(self, name: str) -> bool:
        return self._secrets[name].rotation_enabled

    def set_rotation_enabled(self, name: str, enabled: bool) -> None:
        self._secrets[name].rotation_enabled = enabled

    def attached_rotation(self, name: str) -> str | None:
        """The rotation function ARN attached to the secret (RotationLambdaARN)."""
        return self._secrets[name].rotation_lambda_arn

    def attach_rotation(self, name: str, lambda_arn: str) -> None:
        """Rotation on with ``lambda_arn`` attached, as another run (or instance) left it."""
        self._secrets[name].rotation_enabled = True
        self._secrets[name].rotation_lambda_arn = lambda_arn

    def rotate_calls(self, name: str) -> list[str | None]:
        """The ``lambda_arn`` of each RotateSecret call on the secret (None: kept as attached)."""
        return list(self._secrets[name].rotate_calls)

    def stage_version(self, name: str, version_id: str, *labels: str) -> None:
        """Add staging labels to a version (created empty when new), leaving other versions be:
        e.g. an AWSPENDING a failed rotation left behind."""
        secret = self._secrets[name]
        secret.values.setdefault(version_id, None)
        secret.stages.setdefault(version_id, set()).update(labels)

    def unstage_version(self, name: str, version_id: str, *labels: str) -> None:
        self._secrets[name].stages[version_id].difference_update(labels)

    # --- SecretStore protocol ------------------------------------------------------------------

    def _call(self, op: str, secret_id: str) -> _Secret:
        self.calls.append((op, secret_id))
        queue = self.fail_on.get(op)
        if queue:
            failure = queue.pop(0)
            if isinstance(failure, ClientError):
                raise translate(failure) from failure
            raise failure
        secret = self._secrets.get(secret_id)
        if secret is None:
            secret = next((s for s in self._secrets.values() if s.arn == secret_id), None)
        if secret is None:
            raise SecretNotFound(secret_id)
        return secret

    def describe(self, secret_id: str) -> SecretDescription:
        secret = self._call("describe", secret_id)
        return SecretDescription(
            arn=secret.arn,
            name=secret.name,
            rotation_enabled=secret.rotation_enabled,
            versions={k: tuple(sorted(v)) for k, v in secret.stages.items()},
            tags=dict(secret.tags),
            rotation_lambda_arn=secret.rotation_lambda_arn,
        )

    def get_value(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> str | None:
        try:
            secret = self._call("get_value", secret_id)
        except SecretNotFound:
            return None
        if version_id is not None:
            if version_id not in secret.values:
                return None
            if stage is not None and stage not in secret.stages.get(version_id, set()):
                return None
            return secret.values[version_id]
        wanted = stage or AWSCURRENT
        for version, labels in secret.stages.items():
            if wanted in labels:
                return secret.values[version]
        return None

    def put_pending(self, secret_id: str, version_id: str, value: str) -> None:
        secret = self._call("put_pending", secret_id)
        existing = secret.values.get(version_id)
        if existing is not None and existing != value:
            failure = client_error("ResourceExistsException", "PutSecretValue")
            raise translate(failure) from failure
        self._drop_label(secret, AWSPENDING, keep=version_id)
        secret.values[version_id] = value
        secret.stages.setdefault(version_id, set()).add(AWSPENDING)

    def claim_version(self, secret_id: str, version_id: str, value: str, stage: str) -> bool:
        with _CLAIMS:  # Secrets Manager creates a version id at most once, whoever races
            secret = self._call("claim_version", secret_id)
            existing = secret.values.get(version_id)
            if existing is not None:
                return existing == value  # the same request again is idempotent
            self._drop_label(secret, stage, keep=version_id)
            secret.values[version_id] = value
            secret.stages.setdefault(version_id, set()).add(stage)
            return True

    def move_stage(
        self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None
    ) -> None:
        secret = self._call("move_stage", secret_id)
        if from_version is not None:
            secret.stages[from_version].discard(stage)
            if stage == AWSCURRENT:
                self._drop_label(secret, AWSPREVIOUS)
                secret.stages[from_version].add(AWSPREVIOUS)
        if to_version is not None:
            secret.stages.setdefault(to_version, set()).add(stage)

    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None:
        secret = self._call("tag", secret_id)
        secret.tags.update(tags)

    def list_by_tag(self, key: str, value: str) -> Iterator[SecretSummary]:
        self.calls.append(("list", key))
        for secret in self._secrets.values():
            if secret.tags.get(key) == value:
                yield SecretSummary(
                    arn=secret.arn,
                    name=secret.name,
                    tags=dict(secret.tags),  # a snapshot, as a listing is
                    rotation_enabled=secret.rotation_enabled,
                    versions={v: tuple(sorted(s)) for v, s in secret.stages.items()},
                )

    def version_created_at(self, secret_id: str, version_id: str) -> float | None:
        self._call("list_versions", secret_id)
        return self.created_at.get(version_id)

    def version_exists(self, secret_id: str, version_id: str) -> bool:
        return version_id in self._call("list_versions", secret_id).values

    def rotate(self, secret_id: str, *, lambda_arn: str | None, after_days: int | None) -> None:
        secret = self._call("rotate", secret_id)
        pending = [v for v, s in secret.stages.items() if AWSPENDING in s and AWSCURRENT not in s]
        if pending:
            raise RotationInProgress(secret_id)
        secret.rotate_calls.append(lambda_arn)
        if lambda_arn:
            secret.rotation_enabled = True
            secret.rotation_lambda_arn = lambda_arn
        version_id = f"rot-{next(self._version_ids):05d}"
        self.start_rotation(secret.name, version_id)
        if self.on_rotate is not None:
            self.on_rotate(secret.name, version_id)

    @staticmethod
    def _drop_label(secret: _Secret, label: str, keep: str | None = None) -> None:
        for version, labels in secret.stages.items():
            if version != keep:
                labels.discard(label)


class RecordingNotifier:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def publish(self, alert: Alert) -> None:
        SCANNER.record("alert", {"subject": alert.subject(), "body": alert.to_dict()})
        self.alerts.append(alert)

    def events(self) -> list[str]:
        return [a.event.value for a in self.alerts]


class RecordingMetrics:
    def __init__(self) -> None:
        self.points: list[tuple[str, str, str | None, float]] = []

    def count(
        self, name: str, *, provider: str, outcome: str | None = None, value: float = 1
    ) -> None:
        SCANNER.record("metric", [name, provider, outcome])
        self.points.append((name, provider, outcome, value))

    def gauge(self, name: str, value: float, *, provider: str, unit: str = "Count") -> None:
        self.points.append((name, provider, unit, value))


class FakeProvider:
    """A scripted provider: counts calls; ``refresh_with``/``validate_with`` set the behaviour."""

    def __init__(self, name: str = "fake", *, requires_app_credentials: bool = True) -> None:
        self.name = name
        self.requires_app_credentials = requires_app_credentials
        self.refresh_calls = 0
        self.validate_calls = 0
        self._counter = itertools.count(1)
        self.refresh_with: Callable[[TokenDocument], RefreshResult] | Exception | None = None
        self.validate_with: ValidationResult | Exception | None = None
        self.rotate_refresh_token = True

    def refresh(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> RefreshResult:
        self.refresh_calls += 1
        if isinstance(self.refresh_with, Exception):
            raise self.refresh_with
        if self.refresh_with is not None:
            return self.refresh_with(doc)
        n = next(self._counter)
        result = RefreshResult(
            access_token=f"fake-access-token-{n:04d}-xyz",
            expires_at=ctx.now() + timedelta(hours=1),
            refresh_token=f"fake-refresh-token-{n:04d}-xyz" if self.rotate_refresh_token else None,
        )
        SCANNER.add_secrets(result.access_token, result.refresh_token)
        return result

    def validate(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        self.validate_calls += 1
        if isinstance(self.validate_with, Exception):
            raise self.validate_with
        return self.validate_with or ValidationResult(valid=True, expires_at=doc.expires_at)


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class FakeSqs:
    """The SendMessageBatch slice of an SQS client, in memory.

    ``refuse[n]`` = entry Ids refused (with ``SendMessageBatch`` result entries) on the n-th call;
    ``raise_on[n]`` = exception raised by the n-th call (0-based). ``messages`` holds the bodies
    accepted, in order; ``calls`` the entry count of each call.
    """

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.calls: list[int] = []
        self.refuse: dict[int, set[str]] = {}
        self.raise_on: dict[int, Exception] = {}

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        n = len(self.calls)
        self.calls.append(len(Entries))
        if n in self.raise_on:
            raise self.raise_on[n]
        refused = self.refuse.get(n, set())
        failed = [
            {"Id": e["Id"], "Code": "InternalError", "SenderFault": False}
            for e in Entries
            if e["Id"] in refused
        ]
        ok = [e for e in Entries if e["Id"] not in refused]
        self.messages += [e["MessageBody"] for e in ok]
        return {"Successful": [{"Id": e["Id"]} for e in ok], "Failed": failed}


class NetworkReached(Exception):
    """A provider went to send a request where none may be sent (NoNetwork)."""


class NoNetwork:
    """An HttpClient stand-in: any request raises NetworkReached, nothing reaches a platform."""

    def request(self, method: str, url: str, **_kwargs: Any) -> Any:
        raise NetworkReached(f"{method} {url}")
