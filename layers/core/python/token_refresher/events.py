"""The rotation protocol's value types: the step, the request Secrets Manager sends, the result.

The request is parsed here rather than with Powertools' ``SecretsManagerEvent``: importing any
Powertools event data class imports all of them, about 12 ms at a cold start against a 5 ms budget
(docs/benchmarks.md), and the three fields need validating with field names anyway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from token_refresher.errors import ConfigError

LIVENESS_ACTION = "liveness"  # {"action": "liveness", "secret_id": ...}: the sweep's daily check
CHECK_ACTION = "check"  # {"action": "check", "secret_id": ...}: `token-refresher check`


def is_check_event(event: object) -> bool:
    """A check request, as opposed to a Secrets Manager rotation step (Step, SecretId, ...)."""
    return isinstance(event, Mapping) and "action" in event


def is_liveness_event(event: object) -> bool:
    """The sweep's daily liveness check (sweep/liveness.py), a check whose verdict is recorded."""
    return isinstance(event, Mapping) and event.get("action") == LIVENESS_ACTION


class Step(StrEnum):
    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"


class StepOutcome(StrEnum):
    DONE = "done"
    SKIPPED = "skipped"  # the version is already AWSCURRENT: nothing to do
    REUSED = "reused"  # createSecret found a pending value to keep: provider not called
    NOT_REFRESHED_RECENT = "not_refreshed_recent"  # refreshed within the minimum interval
    REFUSED = "refused"  # not the pending version: nothing ran (StepResult.reason says why)


_STEP_ALIASES = {s.value.lower(): s for s in Step} | {
    "create_secret": Step.CREATE,
    "set_secret": Step.SET,
    "test_secret": Step.TEST,
    "finish_secret": Step.FINISH,
}


@dataclass(frozen=True)
class RotationRequest:
    step: Step
    secret_id: str
    version_id: str  # the event's ClientRequestToken: the AWSPENDING version this rotation fills

    @classmethod
    def from_event(cls, event: object) -> RotationRequest:
        if not isinstance(event, Mapping):
            raise ConfigError("must be a JSON object", field="event")
        values: dict[str, str] = {}
        for key in ("Step", "SecretId", "ClientRequestToken"):
            value = event.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError("is required and must be a non-empty string", field=key)
            values[key] = value.strip()
        step = _STEP_ALIASES.get(values["Step"].lower())
        if step is None:
            raise ConfigError(
                "must be one of createSecret, setSecret, testSecret, finishSecret "
                "(create_secret... accepted too)",
                field="Step",
            )
        return cls(step=step, secret_id=values["SecretId"], version_id=values["ClientRequestToken"])


@dataclass(frozen=True)
class StepResult:
    step: Step
    secret_id: str
    outcome: StepOutcome
    reason: str | None = None  # why a step was refused
