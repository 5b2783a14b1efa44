"""Logging and metrics shared by the library; the handlers own the decorators that flush them."""

from __future__ import annotations

from functools import cache
from typing import Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "TokenRefresher"
SERVICE = "token-refresher"

# The library logs through a child of the handlers' logger: same service, same JSON lines.
logger = Logger(service=SERVICE, child=True)


@cache
def handler_logger() -> Logger:
    """The functions' Powertools Logger (its decorator injects the Lambda context). Built here,
    once per process, so that every handler logs with the same service and settings."""
    return Logger(service=SERVICE)


class MetricSink(Protocol):
    def count(
        self, name: str, *, provider: str, outcome: str | None = None, value: float = 1
    ) -> None:
        """Record a count with provider (and outcome) dimensions. Dimensions never carry secrets."""
        ...

    def gauge(self, name: str, value: float, *, provider: str, unit: str = "Count") -> None: ...


class EmfMetrics:
    """Embedded Metric Format lines, one per data point so every point has its own dimensions."""

    def __init__(self, namespace: str = NAMESPACE, service: str = SERVICE) -> None:
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
