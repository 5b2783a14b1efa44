"""The secret store adapter: every Secrets Manager call the library makes goes through here."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from token_refresher.adapters.errors import AwsError, NotFound, RotationInProgress, aws_errors

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import FilterTypeDef

AWSCURRENT = "AWSCURRENT"
AWSPENDING = "AWSPENDING"
AWSPREVIOUS = "AWSPREVIOUS"


@dataclass(frozen=True)
class SecretDescription:
    arn: str
    name: str
    rotation_enabled: bool
    versions: Mapping[str, tuple[str, ...]]  # version id -> staging labels
    tags: Mapping[str, str] = field(default_factory=dict)
    last_rotated_at: float | None = None  # epoch seconds
    rotation_lambda_arn: str | None = None

    def version_with(self, stage: str) -> str | None:
        for version_id, stages in self.versions.items():
            if stage in stages:
                return version_id
        return None


@dataclass(frozen=True)
class SecretSummary:
    """One secret as ListSecrets lists it: what the sweep, adoption and the CLI read (its tags,
    never its value)."""

    arn: str
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    rotation_enabled: bool = False
    last_rotated_at: float | None = None  # epoch seconds
    versions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # id -> stages

    def has_pending(self) -> bool:
        """A version labelled AWSPENDING but not AWSCURRENT: a rotation in progress or crashed."""
        return any(AWSPENDING in s and AWSCURRENT not in s for s in self.versions.values())


SecretNotFound = NotFound  # the store's name for it


class SecretStore(Protocol):
    def describe(self, secret_id: str) -> SecretDescription: ...

    def get_value(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> str | None:
        """The SecretString of that version/stage, or None when the version holds no value."""
        ...

    def put_pending(self, secret_id: str, version_id: str, value: str) -> None: ...

    def claim_version(self, secret_id: str, version_id: str, value: str, stage: str) -> bool:
        """Create version ``version_id`` with ``value`` under ``stage`` if no version has that id
        (PutSecretValue's ClientRequestToken: Secrets Manager creates it at most once, so of
        concurrent claimers with distinct values exactly one wins). True: this call created it."""
        ...

    def move_stage(
        self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None
    ) -> None: ...

    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None: ...

    def list_by_tag(self, key: str, value: str) -> Iterator[SecretSummary]:
        """Every secret carrying tag key=value (ListSecrets, tags included)."""
        ...

    def rotate(self, secret_id: str, *, lambda_arn: str | None, after_days: int | None) -> None:
        """Start a rotation (RotateSecret); attaches ``lambda_arn`` when rotation is not set up."""
        ...

    def version_created_at(self, secret_id: str, version_id: str) -> float | None:
        """Epoch seconds when that version was created (ListSecretVersionIds), None if unknown."""
        ...

    def version_exists(self, secret_id: str, version_id: str) -> bool:
        """Whether the secret has that version, labelled or not (ListSecretVersionIds with
        deprecated versions: metadata only, no value is read)."""
        ...


__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "RotationInProgress",
    "SecretDescription",
    "SecretNotFound",
    "SecretStore",
    "SecretSummary",
    "SecretsManagerStore",
]


class SecretsManagerStore:
    """SecretStore over a boto3 ``secretsmanager`` client (built by adapters.aws.client).

    Every AWS error leaves as the project's own (adapters.errors): ``SecretNotFound``,
    ``RotationInProgress``, ``StoreThrottled``, ``AccessDenied`` or ``AwsError``."""

    def __init__(self, client: SecretsManagerClient) -> None:
        self._client = client

    def describe(self, secret_id: str) -> SecretDescription:
        try:
            with aws_errors():
                resp = self._client.describe_secret(SecretId=secret_id)
        except NotFound:
            raise SecretNotFound(secret_id) from None
        last = resp.get("LastRotatedDate")
        return SecretDescription(
            arn=resp["ARN"],
            name=resp["Name"],
            rotation_enabled=bool(resp.get("RotationEnabled")),
            versions={k: tuple(v) for k, v in resp.get("VersionIdsToStages", {}).items()},
            tags={t["Key"]: t["Value"] for t in resp.get("Tags", [])},
            last_rotated_at=last.timestamp() if last is not None else None,
            rotation_lambda_arn=resp.get("RotationLambdaARN"),
        )

    def get_value(
        self, secret_id: str, *, version_id: str | None = None, stage: str | None = None
    ) -> str | None:
        kwargs: dict[str, str] = {"SecretId": secret_id}
        if version_id:
            kwargs["VersionId"] = version_id
        if stage:
            kwargs["VersionStage"] = stage
        try:
            with aws_errors():
                resp = self._client.get_secret_value(**kwargs)  # type: ignore[arg-type]
        except NotFound:
            return None
        value = resp.get("SecretString")
        return value if isinstance(value, str) else None

    def put_pending(self, secret_id: str, version_id: str, value: str) -> None:
        with aws_errors():
            self._client.put_secret_value(
                SecretId=secret_id,
                ClientRequestToken=version_id,
                SecretString=value,
                VersionStages=[AWSPENDING],
            )

    def claim_version(self, secret_id: str, version_id: str, value: str, stage: str) -> bool:
        try:
            with aws_errors():
                self._client.put_secret_value(
                    SecretId=secret_id,
                    ClientRequestToken=version_id,
                    SecretString=value,
                    VersionStages=[stage],
                )
        except AwsError as exc:
            if exc.code == "ResourceExistsException":
                return False  # another claimer created it first
            raise
        return True

    def move_stage(
        self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None
    ) -> None:
        kwargs: dict[str, str] = {"SecretId": secret_id, "VersionStage": stage}
        if to_version:
            kwargs["MoveToVersionId"] = to_version
        if from_version:
            kwargs["RemoveFromVersionId"] = from_version
        with aws_errors():
            self._client.update_secret_version_stage(**kwargs)  # type: ignore[arg-type]

    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None:
        with aws_errors():
            self._client.tag_resource(
                SecretId=secret_id, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            )

    def rotate(self, secret_id: str, *, lambda_arn: str | None, after_days: int | None) -> None:
        kwargs: dict[str, Any] = {"SecretId": secret_id, "RotateImmediately": True}
        if lambda_arn:
            kwargs["RotationLambdaARN"] = lambda_arn
            if after_days:
                # A fallback schedule; the sweep decides the real timing.
                kwargs["RotationRules"] = {"AutomaticallyAfterDays": after_days}
        try:
            with aws_errors():
                self._client.rotate_secret(**kwargs)
        except RotationInProgress:
            raise RotationInProgress(secret_id) from None

    def version_created_at(self, secret_id: str, version_id: str) -> float | None:
        version = self._find_version(secret_id, version_id, include_deprecated=False)
        created = version.get("CreatedDate") if version is not None else None
        return created.timestamp() if created is not None else None

    def version_exists(self, secret_id: str, version_id: str) -> bool:
        return self._find_version(secret_id, version_id, include_deprecated=True) is not None

    def _find_version(
        self, secret_id: str, version_id: str, *, include_deprecated: bool
    ) -> Mapping[str, Any] | None:
        kwargs: dict[str, Any] = {"SecretId": secret_id, "IncludeDeprecated": include_deprecated}
        while True:
            with aws_errors():
                page = self._client.list_secret_version_ids(**kwargs)
            for version in page.get("Versions", []):
                if version.get("VersionId") == version_id:
                    return version
            if not page.get("NextToken"):
                return None
            kwargs["NextToken"] = page["NextToken"]

    def list_by_tag(self, key: str, value: str) -> Iterator[SecretSummary]:
        """Every secret carrying tag key=value, following pagination (100 per page)."""
        paginator = self._client.get_paginator("list_secrets")
        filters: list[FilterTypeDef] = [
            {"Key": "tag-key", "Values": [key]},
            {"Key": "tag-value", "Values": [value]},
        ]
        with aws_errors():
            pages = paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 100})
            for page in pages:
                for entry in page.get("SecretList", []):
                    tags = {t["Key"]: t["Value"] for t in entry.get("Tags", [])}
                    if tags.get(key) == value:  # the two filters match independently
                        last = entry.get("LastRotatedDate")
                        yield SecretSummary(
                            arn=entry["ARN"],
                            name=entry.get("Name") or entry["ARN"],
                            tags=tags,
                            rotation_enabled=bool(entry.get("RotationEnabled")),
                            last_rotated_at=last.timestamp() if last is not None else None,
                            versions={
                                k: tuple(v)
                                for k, v in (entry.get("SecretVersionsToStages") or {}).items()
                            },
                        )
