"""Runtime configuration: parsed once from the environment and validated, then passed down."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from token_refresher.errors import ConfigError
from token_refresher.http import check_url
from token_refresher.instances import instance_name
from token_refresher.model import PROVIDER_NAMES
from token_refresher.state import MAX_SWEEP_INTERVAL, AlertPolicy, RefreshAhead

# The SweepFunction's Timeout in template.yaml (Lambda's maximum; a unit test keeps the two
# equal). The CLI waits this long, and more, for a synchronous sweep (`rotate --dry-run`).
SWEEP_TIMEOUT_SECONDS = 900


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"must be an integer, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise ConfigError(f"must be between {low} and {high}, got {value}", field=name)
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"must be a number, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise ConfigError(f"must be between {low} and {high}, got {value}", field=name)
    return value


def _endpoints(raw: str) -> dict[str, str]:
    """PROVIDER_ENDPOINTS: provider -> base URL, for tests and private proxies.

    Either ``name=url;name=url`` (what CloudFormation parameters carry without quoting trouble)
    or a JSON object.
    """
    raw = raw.strip()
    if not raw:
        return {}
    data: object
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            raise ConfigError("must be a JSON object", field="PROVIDER_ENDPOINTS") from None
    else:
        pairs = [p.partition("=") for p in raw.split(";") if p.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ConfigError("must be name=url;name=url or JSON", field="PROVIDER_ENDPOINTS")
        data = {name.strip(): url.strip() for name, _, url in pairs}
    if not isinstance(data, dict):
        raise ConfigError("must be a JSON object", field="PROVIDER_ENDPOINTS")
    out: dict[str, str] = {}
    for name, url in data.items():
        if name not in PROVIDER_NAMES:
            raise ConfigError(f"unknown provider {name!r}", field="PROVIDER_ENDPOINTS")
        if not isinstance(url, str):
            raise ConfigError(f"{name} must be a URL string", field="PROVIDER_ENDPOINTS")
        try:
            out[name] = check_url(url)
        except ConfigError as err:
            raise ConfigError(f"{name}: {err.message}", field="PROVIDER_ENDPOINTS") from None
    return out


_AHEAD_KEYS: dict[str, tuple[str, Callable[[float], object]]] = {
    "min_remaining_minutes": ("min_remaining", lambda v: timedelta(minutes=v)),
    "fraction": ("fraction", float),
    "short_lived_max_hours": ("short_lived_max", lambda v: timedelta(hours=v)),
    "long_lived_ahead_days": ("long_lived_ahead", lambda v: timedelta(days=v)),
    "validate_every_hours": ("validate_every", lambda v: timedelta(hours=v)),
}


def _refresh_ahead(raw: str, sweep_interval: timedelta) -> dict[str, RefreshAhead]:
    """REFRESH_AHEAD: ``provider.key=value;...`` (``*`` for every provider), e.g.
    ``meta.long_lived_ahead_days=10;*.fraction=0.3``. Keys: see ``_AHEAD_KEYS``. Every window
    covers two sweeps of ``sweep_interval`` (``RefreshAhead.cover``)."""
    field_name = "REFRESH_AHEAD"
    changes: dict[str, dict[str, object]] = {}
    for item in filter(None, (p.strip() for p in raw.split(";"))):
        target, sep, value = item.partition("=")
        provider, dot, key = target.strip().partition(".")
        if not sep or not dot or key not in _AHEAD_KEYS:
            raise ConfigError(
                f"{item!r}: expected provider.key=value with key in {', '.join(_AHEAD_KEYS)}",
                field=field_name,
            )
        if provider != "*" and provider not in PROVIDER_NAMES:
            raise ConfigError(f"unknown provider {provider!r}", field=field_name)
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{item!r}: value must be a number", field=field_name) from None
        if number <= 0 or (key == "fraction" and number >= 1):
            raise ConfigError(f"{item!r}: value out of range", field=field_name)
        attr, convert = _AHEAD_KEYS[key]
        changes.setdefault(provider, {})[attr] = convert(number)
    base = replace(RefreshAhead(sweep_interval=sweep_interval), **changes.pop("*", {}))  # type: ignore[arg-type]
    out = {"*": base}
    for provider, fields in changes.items():
        out[provider] = replace(base, **fields)  # type: ignore[arg-type]
    return out


def _sweep_interval(env: Mapping[str, str]) -> timedelta:
    """SWEEP_INTERVAL_MINUTES, refused above ``state.MAX_SWEEP_INTERVAL``: a longer interval cannot
    refresh a one-hour token two sweeps before it expires."""
    top = int(MAX_SWEEP_INTERVAL.total_seconds() // 60)
    return timedelta(minutes=_int(env, "SWEEP_INTERVAL_MINUTES", 15, 1, top))


@dataclass(frozen=True)
class Settings:
    alert_topic_arn: str | None = None
    provider_endpoints: Mapping[str, str] = field(default_factory=dict)
    http_connect_timeout: float = 3.05
    http_read_timeout: float = 10.0
    http_max_attempts: int = 3
    policy: AlertPolicy = field(default_factory=AlertPolicy)
    rotation_function_arn: str | None = None
    sweep_concurrency: int = 8
    rotation_start_rate: float = 20.0  # ROTATION_START_RATE: rotations started per second (pacing)
    # WORKER_CONCURRENCY: the Worker function's reserved concurrency; each instance paces its starts
    # to rotation_start_rate / worker_concurrency (queue mode, sweep/dispatch.py)
    worker_concurrency: int = 1
    rotation_after_days: int = 7
    refresh_ahead: Mapping[str, RefreshAhead] = field(default_factory=lambda: {"*": RefreshAhead()})
    rotation_queue_url: str | None = None
    dispatch_senders: int = 8
    connect_key_secret_id: str | None = None  # the consent links' signing key (connect/)
    link_ttl: timedelta = timedelta(days=7)
    instance: str | None = None  # INSTANCE_NAME (stack parameter InstanceName)
    adopt_untagged: bool = (
        False  # ADOPT_UNTAGGED=true: scheduled sweeps adopt secrets of no instance
    )
    adopt_on_request: bool = False  # ADOPT_UNTAGGED=true or on-request: a request may adopt them
    forced_rotation_floor: timedelta = timedelta(hours=1)  # FORCED_ROTATION_FLOOR_MINUTES
    app_instance_binding: bool = True  # APP_SECRET_INSTANCE_BINDING=required (default) or off
    app_secret_prefix: str = ""  # APP_SECRET_PREFIX: no connection is named under it
    alarm_name_prefix: str | None = None  # ALARM_NAME_PREFIX: the stack's alarms, <stack>-<kind>
    incident_bucket: str | None = (
        None  # INCIDENT_BUCKET: the incident store (alerting/incidents.py)
    )
    incident_threshold: int = 3  # INCIDENT_THRESHOLD: connections of one cause that are an incident
    incident_group_wait: timedelta = timedelta(minutes=5)  # INCIDENT_GROUP_WAIT_SECONDS

    def require_instance(self) -> str:
        if self.instance is None:
            raise ConfigError(
                "is required (the stack sets it from InstanceName)", field="INSTANCE_NAME"
            )
        return self.instance

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        topic = env.get("ALERT_TOPIC_ARN", "").strip() or None
        if topic is not None and not topic.startswith("arn:"):
            raise ConfigError("must be an SNS topic ARN", field="ALERT_TOPIC_ARN")
        rotation_arn = env.get("ROTATION_FUNCTION_ARN", "").strip() or None
        if rotation_arn is not None and not rotation_arn.startswith("arn:"):
            raise ConfigError("must be a Lambda function ARN", field="ROTATION_FUNCTION_ARN")
        queue_url = env.get("ROTATION_QUEUE_URL", "").strip() or None
        if queue_url is not None and not queue_url.startswith(("https://", "http://")):
            raise ConfigError("must be an SQS queue URL", field="ROTATION_QUEUE_URL")
        raw_instance = env.get("INSTANCE_NAME", "").strip()
        adopt = env.get("ADOPT_UNTAGGED", "false").strip().lower() or "false"
        if adopt not in ("true", "false", "on-request"):
            raise ConfigError("must be true, false or on-request", field="ADOPT_UNTAGGED")
        binding = env.get("APP_SECRET_INSTANCE_BINDING", "").strip().lower() or "required"
        sweep_interval = _sweep_interval(env)
        if binding not in ("required", "off"):
            raise ConfigError("must be required or off", field="APP_SECRET_INSTANCE_BINDING")
        return cls(
            instance=instance_name(raw_instance) if raw_instance else None,
            app_instance_binding=binding == "required",
            app_secret_prefix=env.get("APP_SECRET_PREFIX", "").strip(),
            alarm_name_prefix=env.get("ALARM_NAME_PREFIX", "").strip() or None,
            incident_bucket=env.get("INCIDENT_BUCKET", "").strip() or None,
            incident_threshold=_int(env, "INCIDENT_THRESHOLD", 3, 2, 1000),
            incident_group_wait=timedelta(
                seconds=_int(env, "INCIDENT_GROUP_WAIT_SECONDS", 300, 0, 3600)
            ),
            adopt_untagged=adopt == "true",
            adopt_on_request=adopt in ("true", "on-request"),
            forced_rotation_floor=timedelta(
                minutes=_int(env, "FORCED_ROTATION_FLOOR_MINUTES", 60, 10, 10080)
            ),
            connect_key_secret_id=env.get("CONNECT_KEY_SECRET_ID", "").strip() or None,
            link_ttl=timedelta(days=_int(env, "CONNECT_LINK_TTL_DAYS", 7, 1, 90)),
            rotation_function_arn=rotation_arn,
            rotation_queue_url=queue_url,
            dispatch_senders=_int(env, "DISPATCH_SENDERS", 8, 1, 64),
            sweep_concurrency=_int(env, "SWEEP_CONCURRENCY", 8, 1, 64),
            rotation_start_rate=_float(env, "ROTATION_START_RATE", 20.0, 0.1, 50),
            worker_concurrency=_int(env, "WORKER_CONCURRENCY", 1, 1, 50),
            rotation_after_days=_int(env, "ROTATION_FALLBACK_DAYS", 7, 1, 1000),
            refresh_ahead=_refresh_ahead(env.get("REFRESH_AHEAD", ""), sweep_interval),
            alert_topic_arn=topic,
            provider_endpoints=_endpoints(env.get("PROVIDER_ENDPOINTS", "")),
            http_connect_timeout=_float(env, "HTTP_CONNECT_TIMEOUT", 3.05, 0.1, 30),
            http_read_timeout=_float(env, "HTTP_READ_TIMEOUT", 10.0, 0.1, 60),
            http_max_attempts=_int(env, "HTTP_MAX_ATTEMPTS", 3, 1, 10),
            policy=AlertPolicy(
                failure_threshold=_int(env, "FAILURE_ALERT_THRESHOLD", 3, 1, 100),
                sweep_interval=sweep_interval,
                reminder_interval=timedelta(hours=_int(env, "REMINDER_INTERVAL_HOURS", 24, 1, 720)),
            ),
        )
