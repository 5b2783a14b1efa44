"""Logging and metrics shared by the library; the handlers own the decorators that flush them."""

from __future__ import annotations

from typing import Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "TokenRefresher"

logger = Logger(service="token-refresher", child=True)


class MetricSink(Protocol):
    def count(
        self, name: str, *, provider: str, outcome: str | None = None, value: float = 1
    ) -> None:
        """Record a count with provider (and outcome) dimensions. Dimensions never carry secrets."""
        ...

    def gauge(self, name: str, value: float, *, provider: str, unit: str = "Count") -> None: ...


class EmfMetrics:
    """Embedded Metric Format lines, one per data point so every point has its own dimensions."""

    def __init__(self, namespace: str = NAMESPACE, service: str = "token-refresher") -> None:
        self._namespace = namespace
        self._service = service

    def count(
        self, name: str, *, provider: str, outcome: str | None = None, value: float = 1
    ) -> None:
        with single_metric(
            name=name, unit=MetricUnit.Count, value=value, namespace=self._namespace
        ) as metric:
            metric.add_dimension(name="service", value=self._service)
            metric.add_dimension(name="provider", value=provider)
            if outcome is not None:
                metric.add_dimension(name="outcome", value=outcome)

    def gauge(self, name: str, value: float, *, provider: str, unit: str = "Count") -> None:
        with single_metric(
            name=name, unit=MetricUnit(unit), value=value, namespace=self._namespace
        ) as metric:
            metric.add_dimension(name="service", value=self._service)
            metric.add_dimension(name="provider", value=provider)


class NullMetrics:
    def count(
        self, name: str, *, provider: str, outcome: str | None = None, value: float = 1
    ) -> None:
        return None

    def gauge(self, name: str, value: float, *, provider: str, unit: str = "Count") -> None:
        return None
