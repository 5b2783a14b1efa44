"""Queue mode, in-process: a scheduled sweep enqueues every due secret, queue workers drain it.

``DUE`` managed secrets without an expiry tag (so all due) are seeded once in their own region and
reused (name prefix ``tr-bench/fanout/``). Then:

- enqueue: ``SweepEngine`` with the product's ``QueueDispatcher`` on LocalStack SQS: ListSecrets
  pages + SendMessageBatch calls, and the time they take;
- workers: ``WORKERS`` threads (the template's WorkerConcurrency default) each play the SQS event
  source: ReceiveMessage (10), the Worker handler (``functions/worker/app.py``, Powertools batch
  processing) in-process, DeleteMessageBatch of the records it did not report as failed. The
  worker's DescribeSecret is real; its RotateSecret is counted, not sent (on LocalStack it would
  run the whole rotation synchronously through Lambda).
"""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.capacity import ROTATE_QUOTA_PER_S
from bench.common import CallCounter, product_client, setup_client, use_region
from token_refresher import runtime
from token_refresher.adapters.queue import QueueDispatcher
from token_refresher.adapters.secrets import SecretsManagerStore, SecretSummary
from token_refresher.sweep.dispatch import RotationWorker
from token_refresher.sweep.engine import SweepEngine, SweepRequest
from token_refresher.sweep.starter import RotationStarter

BENCH_INSTANCE = "bench"  # the instance the benchmark engines are (and tag their secrets with)

REGION = "eu-west-2"
PREFIX = "tr-bench/fanout/"
WORKERS = 5
QUEUE = "tr-bench-rotations"


class LogOnly:
    def publish(self, alert: object) -> None:
        return None


class CountOnlyRotate:
    def __init__(self, store: SecretsManagerStore) -> None:
        self._store = store
        self.rotations = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_by_tag(self, key: str, value: str) -> Iterator[SecretSummary]:
        return self._store.list_by_tag(key, value)

    def rotate(self, secret_id: str, *, lambda_arn: str | None, after_days: int | None) -> None:
        with self._lock:
            self.rotations += 1


@dataclass
class _Context:
    function_name: str = "bench-worker"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-2:000000000000:function:bench-worker"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _worker_module() -> Any:
    from bench.cold_start import ROOT

    spec = importlib.util.spec_from_file_location(
        "tr_bench_worker", ROOT / "functions/worker/app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seed(due: int) -> None:
    sm = setup_client("secretsmanager", REGION)
    existing: set[str] = set()
    for page in sm.get_paginator("list_secrets").paginate(
        Filters=[{"Key": "name", "Values": [PREFIX]}], PaginationConfig={"PageSize": 100}
    ):
        existing.update(s["Name"] for s in page["SecretList"])
    missing = [i for i in range(due) if f"{PREFIX}{i:05d}" not in existing]

    def create(i: int) -> None:
        sm.create_secret(
            Name=f"{PREFIX}{i:05d}",
            SecretString='{"schema": 1, "provider": "google_ads", "refresh_token": "1//0g-x"}',
            Tags=[
                {"Key": "token-refresher:managed", "Value": "true"},
                {"Key": "token-refresher:instance", "Value": BENCH_INSTANCE},
                {"Key": "token-refresher:provider", "Value": "google_ads"},
            ],
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(create, missing))


def run(endpoint: str, due: int = 1000) -> dict[str, Any]:
    use_region(endpoint, REGION)
    _seed(due)
    sqs_setup = setup_client("sqs", REGION)
    url = sqs_setup.create_queue(QueueName=QUEUE, Attributes={"VisibilityTimeout": "360"})[
        "QueueUrl"
    ]
    sqs_setup.purge_queue(QueueUrl=url)

    sm = product_client("secretsmanager", REGION)
    sqs = product_client("sqs", REGION)
    sm_calls = CallCounter(sm)
    sqs_calls: dict[str, int] = {}
    sqs.meta.events.register(
        "before-call.sqs.*",
        lambda model, **_: sqs_calls.__setitem__(model.name, sqs_calls.get(model.name, 0) + 1),
    )
    store = CountOnlyRotate(SecretsManagerStore(sm))
    starter = RotationStarter(store, instance=BENCH_INSTANCE, rotation_lambda_arn=None)  # type: ignore[arg-type]
    sweeper = SweepEngine(
        store,  # type: ignore[arg-type]
        LogOnly(),
        starter,
        dispatcher=QueueDispatcher(sqs, url),
    )
    t0 = time.monotonic()
    report = sweeper.run(SweepRequest(scheduled=True))
    enqueue_seconds = time.monotonic() - t0
    enqueue_calls = dict(sm_calls.calls) | dict(sqs_calls)

    app = _worker_module()
    worker = RotationWorker(starter)
    runtime.rotation_worker = lambda: worker  # the handler's one call, runtime.work, asks for it
    sm_calls.reset()
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def drain() -> int:
        consumer = setup_client("sqs", REGION)
        handled = 0
        empty = 0
        while empty < 2:
            msgs = consumer.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if not msgs:
                empty += 1
                continue
            empty = 0
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "eventSource": "aws:sqs",
                        "attributes": {},
                        "messageAttributes": {},
                    }
                    for m in msgs
                ]
            }
            failed = {
                f["itemIdentifier"]
                for f in app.lambda_handler(event, _Context())["batchItemFailures"]
            }
            done = [m for m in msgs if m["MessageId"] not in failed]
            if done:
                consumer.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done)
                    ],
                )
            handled += len(done)
            with lock:
                outcomes["failed"] = outcomes.get("failed", 0) + len(failed)
        return handled

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        handled = sum(pool.map(lambda _: drain(), range(WORKERS)))
    drain_seconds = time.monotonic() - t0 - 2  # the last empty long-polls of each worker
    return {
        "due": due,
        "scanned": report.scanned,
        "enqueued": len(report.enqueued),
        "enqueue_errors": len(report.errors),
        "enqueue_seconds": enqueue_seconds,
        "enqueue_calls": enqueue_calls,
        "workers": WORKERS,
        "handled": handled,
        "failed_records": outcomes.get("failed", 0),
        "rotate_calls": store.rotations,
        "worker_sm_calls": dict(sm_calls.calls),
        "drain_seconds": drain_seconds,
        "records_per_s": handled / drain_seconds,
        "rotate_quota_per_s": ROTATE_QUOTA_PER_S,
    }
