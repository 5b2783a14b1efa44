"""Composition root: build the engine once per Lambda container from the validated settings.

Every engine built here reads the time through :func:`now`: the wall clock, unless a test runs the
handlers on a simulated one (``runtime.clock``, the lifecycle test).

The handlers import this module only (an import-linter contract): each calls one entry point
below (:func:`rotate`, :func:`sweep`, :func:`work`, :func:`serve`, :func:`relay`) with the raw
event, and logs through :func:`handler_logger`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from token_refresher.adapters.aws import client
from token_refresher.adapters.notifier import Notifier, SnsNotifier
from token_refresher.adapters.secrets import SecretsManagerStore
from token_refresher.alerts import Alert
from token_refresher.config import Settings
from token_refresher.errors import ConfigError
from token_refresher.events import RotationRequest, is_check_event, is_liveness_event
from token_refresher.observability import EmfMetrics, handler_logger, logger
from token_refresher.timeutil import Clock, utcnow

# Each function's own engine is imported where it is built (PLC0415 below): a function loads only
# its own code at a cold start (the sweep and worker never load providers or requests, the
# rotation function never loads the sweep, the queue or the starter).
if TYPE_CHECKING:
    from token_refresher.adapters.queue import QueueDispatcher
    from token_refresher.adapters.rotation_function import LambdaRotationResumer
    from token_refresher.alerting.alarm_relay import AlarmRelay
    from token_refresher.alerting.incidents import IncidentDesk
    from token_refresher.connect.minter import KeySource, LinkMinter
    from token_refresher.connect.service import ConnectService
    from token_refresher.providers.base import ProviderContext
    from token_refresher.rotation.check import ConnectionChecker
    from token_refresher.rotation.engine import RotationEngine
    from token_refresher.rotation.liveness import LivenessCheck
    from token_refresher.sweep.dispatch import RotationWorker
    from token_refresher.sweep.engine import SweepEngine
    from token_refresher.sweep.liveness import LivenessSweep
    from token_refresher.sweep.starter import RotationStarter


clock: Clock = utcnow


def now() -> datetime:
    return clock()


class LogOnlyNotifier:
    """Used when no ALERT_TOPIC_ARN is configured: alerts become error log lines."""

    def publish(self, alert: Alert) -> None:
        fields = alert.to_dict()
        urls = [u for u in (alert.reconnect_url, *(u for _s, u in alert.links)) if u]
        if urls:  # live, single-use links (a digest lists many): never in a log
            fields["reconnect_url"] = (
                "<withheld: a live consent link>" if alert.reconnect_url else None
            )
            fields["links"] = [
                {"secret_id": s, "reconnect_url": "<withheld>"} for s, _u in alert.links
            ]
            text = str(fields.get("remediation") or "")
            for url in urls:
                text = text.replace(url, "<link>")
            fields["remediation"] = text
        logger.error("alert (no topic configured)", extra={"alert": fields})


@cache
def settings() -> Settings:
    return Settings.from_env(os.environ)


def provider_context(cfg: Settings) -> ProviderContext:
    import requests  # noqa: PLC0415 - lazy, see the imports

    from token_refresher.http import HttpClient  # noqa: PLC0415
    from token_refresher.providers.base import ProviderContext  # noqa: PLC0415

    http = HttpClient(
        requests.Session(),
        connect_timeout=cfg.http_connect_timeout,
        read_timeout=cfg.http_read_timeout,
        max_attempts=cfg.http_max_attempts,
    )
    return ProviderContext(http=http, endpoints=cfg.provider_endpoints, clock=now)


def notifier(cfg: Settings) -> Notifier:
    base: Notifier = (
        SnsNotifier(client("sns"), cfg.alert_topic_arn)
        if cfg.alert_topic_arn
        else LogOnlyNotifier()
    )
    minter = link_minter(cfg)
    if minter is None:
        return base
    from token_refresher.connect.reconnect import LinkingNotifier  # noqa: PLC0415 - connect stacks

    return LinkingNotifier(base, minter)


def incident_desk(cfg: Settings, sink: Notifier) -> IncidentDesk | None:
    """Failures that share a cause become one incident alert (None: no bucket, one alert each)."""
    if cfg.incident_bucket is None:
        return None
    from token_refresher.adapters.incidents import S3IncidentStore  # noqa: PLC0415
    from token_refresher.alerting.incidents import IncidentDesk, IncidentPolicy  # noqa: PLC0415

    store = S3IncidentStore(client("s3"), cfg.incident_bucket)
    policy = IncidentPolicy(threshold=cfg.incident_threshold, group_wait=cfg.incident_group_wait)
    link = getattr(sink, "with_link", None)  # digests list each connection's consent link
    return IncidentDesk(store, sink.publish, clock=now, policy=policy, link=link)


def link_minter(cfg: Settings) -> LinkMinter | None:
    """Consent links for alerts and the connect endpoint (None when the stack has no key)."""
    if cfg.connect_key_secret_id is None:
        return None
    from token_refresher.connect.minter import LinkMinter  # noqa: PLC0415

    keys = _keys(cfg.connect_key_secret_id)
    return LinkMinter(_store(), lambda: keys.current, ttl=cfg.link_ttl, clock=now)


@cache
def _keys(secret_id: str) -> KeySource:
    from token_refresher.connect.minter import KeySource  # noqa: PLC0415

    return KeySource(_store(), secret_id)


@cache
def connect_service() -> ConnectService:
    from token_refresher.connect.service import ConnectService  # noqa: PLC0415

    cfg = settings()
    if cfg.connect_key_secret_id is None:
        raise ConfigError("is required for the connect function", field="CONNECT_KEY_SECRET_ID")
    keys = _keys(cfg.connect_key_secret_id)
    return ConnectService(
        _store(),
        notifier(cfg),
        provider_context(cfg),
        lambda: keys.current,
        rotation_engine(),
        clock=now,
    )


@cache
def rotation_engine() -> RotationEngine:
    from token_refresher.rotation.factory import build_rotation_engine  # noqa: PLC0415

    cfg = settings()
    sink = notifier(cfg)
    return build_rotation_engine(
        _store(),
        sink,
        provider_context(cfg),
        instance=cfg.require_instance(),
        policy=cfg.policy,
        metrics=EmfMetrics(),
        apps_bound=cfg.app_instance_binding,
        app_prefix=cfg.app_secret_prefix,
        incidents=incident_desk(cfg, sink),
    )


@cache
def sweep_engine() -> SweepEngine:
    from token_refresher.sweep.engine import SweepEngine  # noqa: PLC0415
    from token_refresher.sweep.pacing import Pacer  # noqa: PLC0415

    cfg = settings()
    sink = notifier(cfg)
    return SweepEngine(
        _store(),
        sink,
        _starter(),
        incidents=incident_desk(cfg, sink),
        policies=cfg.refresh_ahead,
        concurrency=cfg.sweep_concurrency,
        metrics=EmfMetrics(),
        dispatcher=_dispatcher(),
        adopt_untagged=cfg.adopt_untagged,
        adopt_on_request=cfg.adopt_on_request,
        sweep_interval=cfg.policy.sweep_interval,
        liveness=_liveness(cfg),
        pacer=Pacer(cfg.rotation_start_rate),
    )


@cache
def alarm_relay() -> AlarmRelay:
    """The alarm relay publishes straight to the topic (no consent links; failures raise, so that
    the alarm's asynchronous invoke is retried)."""
    from token_refresher.alerting.alarm_relay import AlarmRelay  # noqa: PLC0415

    topic = settings().alert_topic_arn
    if not topic:
        raise ConfigError("is required for the alarm relay", field="ALERT_TOPIC_ARN")
    return AlarmRelay(SnsNotifier(client("sns"), topic), alarm_prefix=settings().alarm_name_prefix)


@cache
def rotation_worker() -> RotationWorker:
    from token_refresher.sweep.dispatch import RotationWorker  # noqa: PLC0415

    cfg = settings()  # each Worker instance paces to its share of the start rate
    return RotationWorker.paced(_starter(), cfg.rotation_start_rate / cfg.worker_concurrency)


@cache
def _starter() -> RotationStarter:
    """The one way to start a rotation, shared by the sweep and the queue worker."""
    from token_refresher.sweep.starter import RotationStarter  # noqa: PLC0415

    cfg = settings()
    return RotationStarter(
        _store(),
        instance=cfg.require_instance(),
        rotation_lambda_arn=cfg.rotation_function_arn,
        rotation_after_days=cfg.rotation_after_days,
        resumer=_resumer(cfg),
        force_floor=cfg.forced_rotation_floor,
        clock=now,
        app_prefix=cfg.app_secret_prefix,
    )


def _liveness(cfg: Settings) -> LivenessSweep | None:
    """The daily liveness check: the sweep asks the rotation function (sweep/liveness.py)."""
    if not cfg.rotation_function_arn:
        return None
    from token_refresher.adapters.rotation_function import LambdaLivenessRequester  # noqa: PLC0415
    from token_refresher.sweep.liveness import LivenessSweep  # noqa: PLC0415

    requester = LambdaLivenessRequester(client("lambda"), cfg.rotation_function_arn)
    return LivenessSweep(requester, sweep_interval=cfg.policy.sweep_interval)


def _resumer(cfg: Settings) -> LambdaRotationResumer | None:
    if not cfg.rotation_function_arn:
        return None
    from token_refresher.adapters.rotation_function import LambdaRotationResumer  # noqa: PLC0415

    return LambdaRotationResumer(client("lambda"), cfg.rotation_function_arn)


@cache
def _dispatcher() -> QueueDispatcher | None:
    cfg = settings()
    if cfg.rotation_queue_url is None:
        return None
    from token_refresher.adapters.queue import QueueDispatcher  # noqa: PLC0415

    return QueueDispatcher(client("sqs"), cfg.rotation_queue_url, senders=cfg.dispatch_senders)


@cache
def _store() -> SecretsManagerStore:
    return SecretsManagerStore(client("secretsmanager"))


def connection_checker() -> ConnectionChecker:
    """`token-refresher check` inside the stack: the rotation engine's store, provider context
    (ProviderEndpoints) and app-credentials lookup, so a check tests what a rotation runs."""
    from token_refresher.providers import get_provider  # noqa: PLC0415
    from token_refresher.rotation.check import ConnectionChecker  # noqa: PLC0415

    engine = rotation_engine()
    return ConnectionChecker(
        engine.store, engine.ctx, get_provider, engine.apps.for_token, instance=engine.instance
    )


def liveness_check() -> LivenessCheck:
    """The sweep's daily liveness check, answered by the rotation function: the check above, its
    verdict recorded through the rotation engine's failure policy."""
    from token_refresher.rotation.liveness import LivenessCheck  # noqa: PLC0415

    engine = rotation_engine()
    return LivenessCheck(connection_checker(), engine.failures, instance=engine.instance)


def reset() -> None:
    """Forget every object built here (tests change the environment between cases)."""
    for built in (settings, rotation_engine, sweep_engine, rotation_worker, _starter, _dispatcher):
        built.cache_clear()
    alarm_relay.cache_clear()
    _store.cache_clear()
    connect_service.cache_clear()
    _keys.cache_clear()


# --- the handlers' entry points: the raw event in, the function's answer out -------------------

__all__ = ["handler_logger", "relay", "reset", "rotate", "serve", "sweep", "work"]


def rotate(
    event: Mapping[str, Any], time_left_ms: Callable[[], int] | None = None
) -> dict[str, Any]:
    """The rotation function: a Secrets Manager rotation step, or a check (``{"action":
    "check"}``) or the sweep's daily liveness check (``{"action": "liveness"}``), each loading its
    module when asked (most invocations are rotation steps). ``time_left_ms``: the Lambda
    context's remaining time, which bounds createSecret's write retries."""
    if is_liveness_event(event):
        from token_refresher.rotation.liveness import LivenessRequest  # noqa: PLC0415

        return liveness_check().run(LivenessRequest.from_event(event))
    if is_check_event(event):
        from token_refresher.rotation.check import CheckRequest  # noqa: PLC0415

        return connection_checker().run(CheckRequest.from_event(event)).to_dict()
    result = rotation_engine().run(RotationRequest.from_event(event), time_left_ms)
    body = {"step": result.step.value, "secret_id": result.secret_id}
    body["outcome"] = result.outcome.value
    return body | ({"reason": result.reason} if result.reason else {})


def sweep(event: Mapping[str, Any], time_left_ms: Callable[[], int]) -> dict[str, Any]:
    """The sweep function: a scheduled or manual event; the report."""
    from token_refresher.sweep.request import SweepRequest  # noqa: PLC0415

    return sweep_engine().run(SweepRequest.from_event(event), time_left_ms=time_left_ms).to_dict()


def work(event: Mapping[str, Any]) -> dict[str, Any]:
    """The queue worker: an SQS batch; the partial-batch response."""
    return rotation_worker().handle_records(event["Records"])


def serve(event: Mapping[str, Any]) -> dict[str, object]:
    """The connect function: a Function URL request; the page or redirect."""
    from token_refresher.connect.request import HttpRequest  # noqa: PLC0415

    return connect_service().handle(HttpRequest.from_function_url(event)).response()


def relay(event: Mapping[str, Any]) -> dict[str, str]:
    """The alarm relay: a CloudWatch alarm's state change; what was published."""
    return alarm_relay().relay(event)
