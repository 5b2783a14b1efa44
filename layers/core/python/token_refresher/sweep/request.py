"""A sweep request: the scheduled event, the manual custom event, or its ``detail`` invoked
directly, parsed into a SweepRequest (every refusal names its field)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from token_refresher.errors import ConfigError
from token_refresher.instances import instance_name
from token_refresher.model import PROVIDER_NAMES

MANUAL_DETAIL_TYPE = "Token Rotation Requested"
MANUAL_SOURCE = "token-refresher"
MAX_SECRET_IDS = 500


def _flag(detail: Mapping[str, Any], name: str) -> bool:
    value = detail.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError("must be true or false", field=f"detail.{name}")
    return value


@dataclass(frozen=True)
class SweepRequest:
    scheduled: bool
    secret_ids: tuple[str, ...] = ()
    provider: str | None = None
    all: bool = False
    force: bool = False
    dry_run: bool = False
    reason: str | None = None
    instance: str | None = None  # manual requests name the instance they are meant for
    adopt_untagged: bool = False

    @property
    def selects(self) -> bool:
        """False for a manual request that only asks for adoption."""
        return self.scheduled or bool(self.secret_ids) or self.provider is not None or self.all

    @classmethod
    def from_event(cls, event: object) -> SweepRequest:
        """A scheduled event, the manual custom event, or its ``detail`` invoked directly."""
        if not isinstance(event, Mapping):
            raise ConfigError("must be a JSON object", field="event")
        if event.get("detail-type") == "Scheduled Event" or event.get("source") == "aws.events":
            return cls(scheduled=True)
        if "detail-type" in event or "source" in event:
            if event.get("source") != MANUAL_SOURCE:
                raise ConfigError(f"must be {MANUAL_SOURCE!r}", field="source")
            if event.get("detail-type") != MANUAL_DETAIL_TYPE:
                raise ConfigError(f"must be {MANUAL_DETAIL_TYPE!r}", field="detail-type")
            detail = event.get("detail")
            if not isinstance(detail, Mapping):
                raise ConfigError("must be a JSON object", field="detail")
        else:
            detail = event
        return cls._from_detail(detail)

    @classmethod
    def _from_detail(cls, detail: Mapping[str, Any]) -> SweepRequest:
        known = {"secret_ids", "provider", "all", "force", "dry_run", "reason", "instance"}
        known.add("adopt_untagged")
        unknown = sorted(set(detail) - known)
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)}", field="detail")
        ids = detail.get("secret_ids")
        if ids is not None:
            if (
                not isinstance(ids, list)
                or not ids
                or not all(isinstance(i, str) and i.strip() for i in ids)
            ):
                raise ConfigError(
                    "must be a non-empty list of secret ids", field="detail.secret_ids"
                )
            if len(ids) > MAX_SECRET_IDS:
                raise ConfigError(f"at most {MAX_SECRET_IDS} ids", field="detail.secret_ids")
        provider = detail.get("provider")
        if provider is not None and provider not in PROVIDER_NAMES:
            raise ConfigError(
                f"unknown provider; known: {', '.join(PROVIDER_NAMES)}", field="detail.provider"
            )
        everything = _flag(detail, "all")
        adopt = _flag(detail, "adopt_untagged")
        selectors = sum([ids is not None, provider is not None, everything])
        if selectors != 1 and not (adopt and selectors == 0):
            raise ConfigError(
                "exactly one of secret_ids, provider or all is required", field="detail"
            )
        reason = detail.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 256):
            raise ConfigError("must be a string of at most 256 characters", field="detail.reason")
        force, dry_run = _flag(detail, "force"), _flag(detail, "dry_run")
        return cls(
            scheduled=False,
            secret_ids=tuple(dict.fromkeys(i.strip() for i in ids or [])),
            provider=provider,
            all=everything,
            force=force,
            dry_run=dry_run,
            reason=reason,
            instance=_instance(detail),
            adopt_untagged=adopt,
        )


def _instance(detail: Mapping[str, Any]) -> str:
    instance = detail.get("instance")
    if not isinstance(instance, str):
        raise ConfigError(
            "is required: the InstanceName of the deployment this request is for "
            "(stack output InstanceName)",
            field="detail.instance",
        )
    return instance_name(instance, field="detail.instance")
