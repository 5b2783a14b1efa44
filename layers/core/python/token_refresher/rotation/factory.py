"""A RotationEngine with its collaborators: the app-credentials lookup, the AWSPENDING writer and
the failure reporter, built from the store, notifier, provider context and settings.

The composition root (runtime.py), the benchmarks and the tests all build engines here, so the
engine itself only receives what it uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import SecretStore
from token_refresher.alerting.failures import FailureReporter
from token_refresher.alerting.incidents import IncidentDesk
from token_refresher.credentials.lookup import AppCredentialsLookup
from token_refresher.observability import MetricSink, NullMetrics
from token_refresher.providers import get_provider
from token_refresher.providers.base import Provider, ProviderContext
from token_refresher.rotation.engine import RotationEngine
from token_refresher.rotation.pending_write import PendingWriter, WriteRetry
from token_refresher.state import MIN_ROTATION_INTERVAL, AlertPolicy

__all__ = ["build_rotation_engine"]


def build_rotation_engine(  # noqa: PLR0913 - store, notifier, provider context; settings by name
    store: SecretStore,
    notifier: Notifier,
    provider_ctx: ProviderContext,
    *,
    instance: str,
    policy: AlertPolicy | None = None,
    providers: Callable[[str], Provider] = get_provider,
    metrics: MetricSink | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    min_refresh_interval: timedelta = MIN_ROTATION_INTERVAL,
    apps_bound: bool = False,
    app_prefix: str = "",
    incidents: IncidentDesk | None = None,
    write_retry: WriteRetry | None = None,
) -> RotationEngine:
    """The engine of ``instance``. ``apps_bound``: app secrets must name this instance in their
    tag; ``app_prefix``: no connection is named under it (instances.name_refusal)."""
    sink = metrics or NullMetrics()
    return RotationEngine(
        store,
        notifier,
        provider_ctx,
        instance=instance,
        apps=AppCredentialsLookup(
            store, providers, monotonic=monotonic, bound_to=instance if apps_bound else None
        ),
        writer=PendingWriter(notifier, sink, write_retry or WriteRetry(), provider_ctx.now),
        failures=FailureReporter(
            store,
            notifier,
            policy=policy or AlertPolicy(),
            metrics=sink,
            clock=provider_ctx.now,
            incidents=incidents,
        ),
        providers=providers,
        metrics=sink,
        min_refresh_interval=min_refresh_interval,
        app_prefix=app_prefix,
    )
