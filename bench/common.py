"""What every benchmark shares: LocalStack, product-configured clients, call counting, the quota.

- Each benchmark works in its own AWS region of LocalStack, so seeded data never meets the tests'
  (us-east-1) and a run can reuse what an earlier run against the same LocalStack seeded.
- Secrets Manager calls are counted with botocore's ``before-call`` event, one per API call
  (retries not included); attempts and throttled attempts are counted by the quota emulation.
- ``RegionalQuota`` plays the per-region Secrets Manager write quota: a token bucket consulted in
  ``before-send`` for every attempt of the listed operations; an attempt without a token gets the
  400 ThrottlingException AWS returns, so the client's standard retry mode handles it as in AWS.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from tests.support.localstack import ensure_localstack

from token_refresher.adapters.aws import CLIENT_CONFIG

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
logging.getLogger("token-refresher").setLevel(logging.ERROR)  # one warning per LocalStack rotation

WRITE_OPERATIONS = ("PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage")


def localstack() -> str:
    url, _started = ensure_localstack()
    return url


def use_region(endpoint: str, region: str) -> None:
    """Point boto3 (and so the product's client factory) at LocalStack in ``region``."""
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )


def product_client(service: str, region: str, **overrides: Any) -> Any:
    """A client with the product's configuration (adapters.aws.CLIENT_CONFIG)."""
    config = CLIENT_CONFIG.merge(Config(**overrides)) if overrides else CLIENT_CONFIG
    return boto3.session.Session(region_name=region).client(service, config=config)


def setup_client(service: str, region: str) -> Any:
    """A client for seeding and housekeeping: generous pool and retries, not measured."""
    config = Config(
        retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=64, read_timeout=120
    )
    return boto3.session.Session(region_name=region).client(service, config=config)


class CallCounter:
    """Secrets Manager API calls by operation, from botocore's before-call events."""

    def __init__(self, *clients: Any) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        for client in clients:
            client.meta.events.register("before-call.secrets-manager.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls[model.name] += 1

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._data


class RegionalQuota:
    """A token bucket of ``rate`` requests/s (``burst`` deep) shared by ``operations``."""

    def __init__(
        self, rate: float, *, burst: float | None = None, operations: Iterable[str] = ()
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else rate / 5  # 200 ms worth: a strict quota
        self.operations = tuple(operations) or WRITE_OPERATIONS
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self.admitted: list[float] = []  # monotonic time of every admitted attempt
        self.throttled = 0

    def attach(self, client: Any) -> None:
        for op in self.operations:
            client.meta.events.register(f"before-send.secrets-manager.{op}", self._before_send)

    def _take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                self.admitted.append(now)
                return True
            self.throttled += 1
            return False

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        if self._take():
            return None  # botocore sends the request
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        headers = {
            "x-amzn-RequestId": "bench-throttle",
            "Content-Type": "application/x-amz-json-1.1",
        }
        return AWSResponse(request.url, 400, headers, _Body(body))

    def rate_achieved(self) -> float:
        """Admitted attempts per second between the first and the last one."""
        if len(self.admitted) < 2:
            return 0.0
        return (len(self.admitted) - 1) / (self.admitted[-1] - self.admitted[0])


def machine() -> dict[str, str]:
    import platform

    mem_kb = 0
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }
