"""Sweep cost: the product's tag-only sweep against the naive read-every-value sweep.

N managed secrets (1 % due by their ``token-refresher:expires-at`` tag, the same date in the
document) are seeded once per LocalStack region with a thread pool and reused by later runs: the
name prefix ``tr-bench/sweep/`` is the marker, and only missing indexes are created.

- product: ``SweepEngine.run`` of a scheduled sweep, in-process, with the product's client. Its
  store is wrapped so that ``rotate`` only counts (RotateSecret on LocalStack would run the whole
  rotation synchronously through Lambda, which is the test bed, not the decision path). Each
  counted rotate is reported as one RotateSecret call.
- naive: ListSecrets (same filter, 100 per page) + GetSecretValue of every secret (8 threads,
  the sweep's default concurrency), due when the document's ``expires_at`` is within 7 days;
  also one (counted) RotateSecret per due secret.
- batch: the strongest read-every-value sweep: the same listing, then BatchGetSecretValue of the
  listed ids 20 at a time (its maximum), 8 threads; same decision and counted RotateSecret. (The
  filter form of BatchGetSecretValue, 20 per page and no ListSecrets, would make N/20 calls
  instead of N/100 + N/20, but one page after the other.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import CallCounter, product_client, setup_client, use_region
from token_refresher.adapters.secrets import SecretsManagerStore, SecretSummary
from token_refresher.sweep.engine import SweepEngine, SweepRequest
from token_refresher.sweep.starter import RotationStarter

BENCH_INSTANCE = "bench"  # the instance the benchmark engines are (and tag their secrets with)

PREFIX = "tr-bench/sweep/"
DUE_EVERY = 100  # 1 % due
NAIVE_THREADS = 8
BATCH_SIZE = 20  # BatchGetSecretValue's maximum


class LogOnly:
    def publish(self, alert: object) -> None:
        return None


class CountOnlyRotate:
    """The product store, except that RotateSecret is counted instead of sent."""

    def __init__(self, store: SecretsManagerStore) -> None:
        self._store = store
        self.rotations = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_by_tag(self, key: str, value: str) -> Iterator[SecretSummary]:
        return self._store.list_by_tag(key, value)

    def rotate(self, secret_id: str, *, lambda_arn: str | None, after_days: int | None) -> None:
        self.rotations += 1


def _document(i: int, expires_at: datetime) -> str:
    return json.dumps(
        {
            "schema": 1,
            "provider": "google_ads",
            "access_token": f"ya29.bench-access-{i:06d}-" + "x" * 120,
            "refresh_token": f"1//0g-bench-refresh-{i:06d}-" + "y" * 60,
            "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "app_secret_id": "token-refresher/apps/bench-google",
            "options": {},
        }
    )


def seed(region: str, n: int) -> dict[str, float]:
    """Make sure ``PREFIX00000..n-1`` exist; returns how many were created and how long it took."""
    sm = setup_client("secretsmanager", region)
    started = time.monotonic()
    existing: set[str] = set()
    for page in sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [PREFIX]}], PaginationConfig={"PageSize": 100}
    ):
        existing.update(s["Name"] for s in page["SecretList"])
    now = datetime.now(UTC)

    def create(i: int) -> None:
        due = i % DUE_EVERY == 0
        expires = now + (timedelta(hours=1) if due else timedelta(days=40))
        rotated = now - (timedelta(hours=23) if due else timedelta(days=20))
        tags = {
            "token-refresher:managed": "true",
            "token-refresher:instance": BENCH_INSTANCE,
            "token-refresher:provider": "google_ads",
            "token-refresher:expires-at": str(int(expires.timestamp())),
            "token-refresher:last-rotated-at": str(int(rotated.timestamp())),
            "token-refresher:status": "ok",
        }
        sm.create_secret(
            Name=f"{PREFIX}{i:05d}",
            SecretString=_document(i, expires),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )

    missing = [i for i in range(n) if f"{PREFIX}{i:05d}" not in existing]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, missing))
    return {"created": len(missing), "seconds": round(time.monotonic() - started, 1)}


def product_sweep(region: str) -> dict[str, Any]:
    client = product_client("secretsmanager", region)
    counter = CallCounter(client)
    store = CountOnlyRotate(SecretsManagerStore(client))
    rotation_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench-rotation"
    starter = RotationStarter(store, instance=BENCH_INSTANCE, rotation_lambda_arn=rotation_arn)  # type: ignore[arg-type]
    engine = SweepEngine(store, LogOnly(), starter)  # type: ignore[arg-type]
    started = time.monotonic()
    report = engine.run(SweepRequest(scheduled=True))
    seconds = time.monotonic() - started
    calls = dict(counter.calls) | {"RotateSecret": store.rotations}
    return {
        "scanned": report.scanned,
        "due": report.due,
        "calls": calls,
        "total_calls": sum(calls.values()),
        "seconds": seconds,
    }


def _list_managed(client: Any) -> list[str]:
    ids: list[str] = []
    filters = [
        {"Key": "tag-key", "Values": ["token-refresher:managed"]},
        {"Key": "tag-value", "Values": ["true"]},
    ]
    for page in client.get_paginator("list_secrets").paginate(
        Filters=filters, PaginationConfig={"PageSize": 100}
    ):
        ids += [s["ARN"] for s in page["SecretList"]]
    return ids


def _is_due(secret_string: str, horizon: datetime) -> bool:
    doc = json.loads(secret_string)
    return datetime.fromisoformat(doc["expires_at"].replace("Z", "+00:00")) <= horizon


def naive_sweep(region: str) -> dict[str, Any]:
    client = product_client("secretsmanager", region)
    counter = CallCounter(client)
    started = time.monotonic()
    ids = _list_managed(client)
    horizon = datetime.now(UTC) + timedelta(days=7)

    def is_due(arn: str) -> bool:
        return _is_due(client.get_secret_value(SecretId=arn)["SecretString"], horizon)

    with ThreadPoolExecutor(max_workers=NAIVE_THREADS) as pool:
        due = sum(pool.map(is_due, ids))
    return _result(counter, started, scanned=len(ids), due=due)


def batch_sweep(region: str) -> dict[str, Any]:
    client = product_client("secretsmanager", region)
    counter = CallCounter(client)
    started = time.monotonic()
    ids = _list_managed(client)
    horizon = datetime.now(UTC) + timedelta(days=7)

    def due_in(chunk: list[str]) -> int:
        answer = client.batch_get_secret_value(SecretIdList=chunk)
        if answer.get("Errors") or len(answer["SecretValues"]) != len(chunk):
            raise RuntimeError(f"BatchGetSecretValue left out secrets: {answer.get('Errors')}")
        return sum(_is_due(v["SecretString"], horizon) for v in answer["SecretValues"])

    chunks = [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    with ThreadPoolExecutor(max_workers=NAIVE_THREADS) as pool:
        due = sum(pool.map(due_in, chunks))
    return _result(counter, started, scanned=len(ids), due=due)


def _result(counter: CallCounter, started: float, *, scanned: int, due: int) -> dict[str, Any]:
    seconds = time.monotonic() - started
    calls = dict(counter.calls) | {"RotateSecret": due}
    return {
        "scanned": scanned,
        "due": due,
        "calls": calls,
        "total_calls": sum(calls.values()),
        "seconds": seconds,
    }


def run(endpoint: str, n: int) -> dict[str, Any]:
    region = {1000: "us-west-1", 10000: "us-west-2"}.get(n, f"ap-south-{1 + n % 2}")
    use_region(endpoint, region)
    seeding = seed(region, n)
    product = product_sweep(region)
    naive = naive_sweep(region)
    batch = batch_sweep(region)
    for other in (naive, batch):
        if (product["scanned"], product["due"]) != (other["scanned"], other["due"]):
            raise RuntimeError(f"the sweeps disagree: {product} vs {other}")
    return {
        "n": n,
        "region": region,
        "seeding": seeding,
        "product": product,
        "naive": naive,
        "batch": batch,
        "call_ratio": naive["total_calls"] / product["total_calls"],
        "time_ratio": naive["seconds"] / product["seconds"],
        "batch_call_ratio": batch["total_calls"] / product["total_calls"],
        "batch_time_ratio": batch["seconds"] / product["seconds"],
        "page_seconds": product["seconds"] / max(1, product["calls"].get("ListSecrets", 1)),
    }
