"""CloudWatch alarm actions relayed to the alert topic in the alerts' own contract.

The stack's alarms invoke the AlarmRelayFunction (a Lambda alarm action) instead of publishing to
the topic themselves: CloudWatch cannot publish to a topic encrypted with the AWS-managed
alias/aws/sns key (its key policy cannot admit cloudwatch.amazonaws.com), and SNS's own alarm
JSON carries no message attributes, so no filter policy on ``event`` or ``severity`` matches it.
Relayed, an alarm has an ``event`` (``alarm.*``), a fixed ``severity``, a readable body and the
same message attributes as a token alert (docs/alerts.md).

The event is the Lambda alarm-action payload: ``source`` "aws.cloudwatch", ``alarmArn``,
``alarmData`` with ``alarmName``, ``state`` / ``previousState`` (``value``, ``reason``,
``timestamp``) and ``configuration.description`` (events/alarm-sweep-not-running.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from token_refresher.errors import ConfigError
from token_refresher.timeutil import Clock, format_iso, utcnow

ALARM_SOURCE = "aws.cloudwatch"
RESOLVED = "alarm.resolved"


@dataclass(frozen=True)
class AlarmKind:
    event: str
    severity: str
    what: str
    remediation: str


# Keyed by the end of the alarm's name: template.yaml names each alarm <stack name>-<key>.
ALARM_KINDS = {
    "sweep-not-running": AlarmKind(
        "alarm.sweep_not_running",
        "critical",
        "the sweep has not run: no token is being refreshed",
        "Check the sweep's schedule rule (enabled?) and the SweepFunction (deleted, throttled, "
        "failing?) in the stack; then `token-refresher status`.",
    ),
    "sweep-errors": AlarmKind(
        "alarm.sweep_errors",
        "error",
        "half or more of the sweeps failed in the last hour: nothing was checked on those runs",
        "Read the SweepFunction's log (/aws/lambda/<SweepFunctionName>) for the error.",
    ),
    "rotation-errors": AlarmKind(
        "alarm.rotation_errors",
        "error",
        "the rotation error ratio burns the error budget too fast (over 1.44 % for an hour)",
        "Read the RotationFunction's log; classified failures also sent their own or their "
        "incident's alert (`token-refresher status` lists the incidents open).",
    ),
    "validation-overdue": AlarmKind(
        "alarm.validation_overdue",
        "error",
        "a live connection was not validated by its platform for over 24 hours",
        "Check that the sweep's liveness requests run (sweep log `checks_requested`, the "
        "rotation function's throttles); `token-refresher status` shows the oldest.",
    ),
    "rotations-at-risk": AlarmKind(
        "alarm.rotations_at_risk",
        "error",
        "a sweep deferred due rotations that the next sweep would be too late for: more is due "
        "than the paced start rate starts in an interval",
        "See docs/alerts.md, 'Rotations at risk': the sweep log's `at_risk` names them; look "
        "for a burst (onboarding, an outage ending) or a fleet past the write quota.",
    ),
    "sweep-slow": AlarmKind(
        "alarm.sweep_slow",
        "warning",
        "a sweep ran for over 80 % of its timeout",
        "See docs/alerts.md, 'sweeps are slow': raise SweepConcurrency, or switch to "
        "DispatchMode=queue.",
    ),
    "throttles": AlarmKind(
        "alarm.throttles",
        "error",
        "the rotation or sweep function was throttled, or Lambda dropped asynchronous events",
        "Check the account's concurrency limit and RotationReservedConcurrency; dropped "
        "liveness requests are asked again by the next sweep.",
    ),
    "queue-age": AlarmKind(
        "alarm.queue_age",
        "error",
        "rotation jobs wait over 30 minutes in the queue: the workers are not keeping up",
        "Check the WorkerFunction (errors, throttles, reserved concurrency) and the queue.",
    ),
    "relay-failures": AlarmKind(
        "alarm.relay_failures",
        "error",
        "alarm notifications could not be published and wait in the relay's dead-letter queue",
        "Read the relay's log (SNS or KMS refusals), fix it, then read the dead-letter queue: "
        "each message is an alarm change that never reached anyone.",
    ),
    "sweep-dead-letters": AlarmKind(
        "alarm.sweep_dead_letters",
        "error",
        "sweep events could not be delivered",
        "Inspect the sweep's dead-letter queue, fix the cause, then run a sweep by hand.",
    ),
    "rotation-dead-letters": AlarmKind(
        "alarm.rotation_dead_letters",
        "error",
        "queued rotation jobs failed five times",
        "Inspect the rotation dead-letter queue; `token-refresher rotate` the secrets it names.",
    ),
    "connect-traffic": AlarmKind(
        "alarm.connect_traffic",
        "warning",
        "the public consent URL gets far more requests than sign-ins make: a probe or a flood",
        "Read the ConnectFunction's log (`connect link refused`, `connect link locked after "
        "failed callbacks`); a link locks after 5 failed callbacks; where the account's "
        "concurrency limit allows, set ConnectReservedConcurrency (docs/security.md).",
    ),
}
OTHER = AlarmKind(
    "alarm.other",
    "error",
    "an alarm pointed at the relay changed state",
    "See the alarm in the CloudWatch console.",
)


def kind_of(alarm_name: str, prefix: str | None = None) -> AlarmKind:
    """The kind of the stack's alarm ``<prefix><suffix>``; with the stack's prefix
    (ALARM_NAME_PREFIX, ``<stack name>-``) only an exact name is one of the stack's alarms, so
    another alarm pointed at the relay (``x-sweep-errors``) is ``alarm.other``."""
    for suffix, kind in ALARM_KINDS.items():
        if alarm_name == f"{prefix}{suffix}" if prefix else alarm_name.endswith(f"-{suffix}"):
            return kind
    return OTHER


@dataclass(frozen=True)
class AlarmNotice:
    """One alarm state change, shaped like an alert (docs/alerts.md)."""

    alarm_name: str
    alarm_arn: str
    state: str
    previous_state: str | None
    reason: str
    description: str | None
    changed_at: str | None
    occurred_at: datetime
    alarm_prefix: str | None = None  # the stack's alarms are named <alarm_prefix><suffix>

    @classmethod
    def from_event(
        cls, event: object, *, now: datetime, alarm_prefix: str | None = None
    ) -> AlarmNotice:
        if not isinstance(event, Mapping) or event.get("source") != ALARM_SOURCE:
            raise ConfigError(f"must be a CloudWatch alarm action ({ALARM_SOURCE})", field="source")
        data = event.get("alarmData")
        state = data.get("state") if isinstance(data, Mapping) else None
        if not isinstance(data, Mapping) or not isinstance(state, Mapping):
            raise ConfigError("must hold alarmName and state", field="alarmData")
        name = data.get("alarmName")
        if not isinstance(name, str) or not isinstance(state.get("value"), str):
            raise ConfigError("must be strings", field="alarmData.alarmName/state.value")
        previous = data.get("previousState")
        config = data.get("configuration")
        return cls(
            alarm_name=name,
            alarm_arn=str(event.get("alarmArn", "")),
            state=str(state["value"]),
            previous_state=_text(previous, "value"),
            reason=_text(state, "reason") or "",
            description=_text(config, "description"),
            changed_at=_text(state, "timestamp"),
            occurred_at=now,
            alarm_prefix=alarm_prefix,
        )

    @property
    def kind(self) -> AlarmKind:
        return kind_of(self.alarm_name, self.alarm_prefix)

    @property
    def resolved(self) -> bool:
        return self.state == "OK"

    @property
    def event(self) -> str:
        return RESOLVED if self.resolved else self.kind.event

    @property
    def severity(self) -> str:
        return "info" if self.resolved else self.kind.severity

    def subject(self) -> str:
        word = "resolved" if self.resolved else self.state
        text = f"[token-refresher] alarm {word}: {self.alarm_name}"
        return text.encode("ascii", "replace").decode("ascii").replace("\n", " ")[:100]

    def to_dict(self) -> dict[str, Any]:
        what = f"resolved: {self.kind.what}" if self.resolved else self.kind.what
        return {
            "event": self.event,
            "severity": self.severity,
            "secret_id": None,  # nosec B105 - an alarm is about the stack, not a secret
            "provider": None,
            "message": f"{what} ({self.alarm_name} is {self.state}). {self.reason}".strip(),
            "remediation": None if self.resolved else self.kind.remediation,
            "alarm_name": self.alarm_name,
            "alarm_arn": self.alarm_arn,
            "alarm_description": self.description,
            "state": self.state,
            "previous_state": self.previous_state,
            "state_changed_at": self.changed_at,
            "occurred_at": format_iso(self.occurred_at),
        }

    def attributes(self) -> dict[str, str]:
        """``event`` and ``severity``; no ``provider``: an alarm is about the stack, so a
        provider's filter policy does not match it."""
        return {"event": self.event, "severity": self.severity}


def _text(container: object, key: str) -> str | None:
    value = container.get(key) if isinstance(container, Mapping) else None
    return value if isinstance(value, str) else None


class NoticePublisher(Protocol):
    def publish(self, alert: AlarmNotice) -> None:
        """Send it; AWS failures raise (the alarm's asynchronous invoke is retried)."""
        ...


class AlarmRelay:
    def __init__(
        self, publisher: NoticePublisher, *, clock: Clock = utcnow, alarm_prefix: str | None = None
    ) -> None:
        self.publisher = publisher
        self.clock = clock
        self.alarm_prefix = alarm_prefix

    def relay(self, event: object) -> dict[str, str]:
        """Turn a CloudWatch alarm action into one alert on the topic.

        Args:
            event: the alarm's Lambda action event.

        Returns:
            The event name, severity and alarm name published.

        Raises:
            ConfigError: the event is no CloudWatch alarm action.
            AwsError: publishing failed (the alarm's asynchronous invoke is retried).
        """
        notice = AlarmNotice.from_event(event, now=self.clock(), alarm_prefix=self.alarm_prefix)
        self.publisher.publish(notice)
        return {"event": notice.event, "severity": notice.severity, "alarm": notice.alarm_name}
