"""Composition root: build the engine once per Lambda container from the validated settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from token_refresher.adapters.aws import client
from token_refresher.adapters.notifier import Notifier, SnsNotifier
from token_refresher.adapters.resume import LambdaRotationResumer
from token_refresher.adapters.secrets import SecretsManagerStore
from token_refresher.alerts import Alert
from token_refresher.config import Settings
from token_refresher.dispatch import QueueDispatcher, RotationWorker
from token_refresher.observability import EmfMetrics, logger
from token_refresher.sweep import SweepEngine

if TYPE_CHECKING:  # imported where used: the sweep and worker never load providers or requests
    from token_refresher.connection_check import ConnectionChecker
    from token_refresher.providers.base import ProviderContext
    from token_refresher.rotation import RotationEngine


class LogOnlyNotifier:
    """Used when no ALERT_TOPIC_ARN is configured: alerts become error log lines."""

    def publish(self, alert: Alert) -> None:
        logger.error("alert (no topic configured)", extra={"alert": alert.to_dict()})


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
    return ProviderContext(http=http, endpoints=cfg.provider_endpoints)


def notifier(cfg: Settings) -> Notifier:
    if cfg.alert_topic_arn:
        return SnsNotifier(client("sns"), cfg.alert_topic_arn)
    return LogOnlyNotifier()


@cache
def rotation_engine() -> RotationEngine:
    from token_refresher.rotation import RotationEngine  # noqa: PLC0415

    cfg = settings()
    return RotationEngine(
        _store(),
        notifier(cfg),
        provider_context(cfg),
        policy=cfg.policy,
        metrics=EmfMetrics(),
    )


def sweep_engine(time_left_ms: Callable[[], int] | None = None) -> SweepEngine:
    cfg = settings()
    return SweepEngine(
        _store(),
        notifier(cfg),
        rotation_lambda_arn=cfg.rotation_function_arn,
        concurrency=cfg.sweep_concurrency,
        rotation_after_days=cfg.rotation_after_days,
        policy=cfg.refresh_ahead["*"],
        provider_policies=cfg.refresh_ahead,
        metrics=EmfMetrics(),
        time_left_ms=time_left_ms,
        resumer=_resumer(cfg),
        dispatcher=_dispatcher(),
    )


@cache
def rotation_worker() -> RotationWorker:
    cfg = settings()
    return RotationWorker(
        _store(),
        rotation_lambda_arn=cfg.rotation_function_arn,
        rotation_after_days=cfg.rotation_after_days,
        resumer=_resumer(cfg),
    )


def _resumer(cfg: Settings) -> LambdaRotationResumer | None:
    if not cfg.rotation_function_arn:
        return None
    return LambdaRotationResumer(client("lambda"), cfg.rotation_function_arn)


@cache
def _dispatcher() -> QueueDispatcher | None:
    cfg = settings()
    if cfg.rotation_queue_url is None:
        return None
    return QueueDispatcher(client("sqs"), cfg.rotation_queue_url, senders=cfg.dispatch_senders)


@cache
def _store() -> SecretsManagerStore:
    return SecretsManagerStore(client("secretsmanager"))


def connection_checker() -> ConnectionChecker:
    """`token-refresher check` inside the stack: the rotation engine's store, provider context
    (ProviderEndpoints) and app-credentials lookup, so a check tests what a rotation runs."""
    from token_refresher.connection_check import ConnectionChecker  # noqa: PLC0415
    from token_refresher.providers import get_provider  # noqa: PLC0415

    engine = rotation_engine()
    return ConnectionChecker(engine.store, engine.ctx, get_provider, engine.app_credentials)
