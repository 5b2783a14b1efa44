"""Rotation throughput under the Secrets Manager write quota.

``ROTATIONS`` Google Ads secrets (fake provider answering after ``LATENCY_S`` per call: the
refresh in createSecret and the validation in testSecret) are put in rotation with RotateSecret
through a no-op function (LocalStack runs the four steps inside RotateSecret, one local process
per step: that measures the test bed, so the no-op only leaves the empty AWSPENDING version AWS
hands the rotation function). Then the product's ``RotationEngine`` runs the four steps of each
rotation in-process against LocalStack's Secrets Manager, as four Lambda invocations would:

- sequential baseline: ``SEQUENTIAL`` rotations one at a time; their mean duration sizes the pool;
- parallel: the rest with ``capacity.rotation_concurrency(mean duration)`` workers, i.e. the
  reserved concurrency the template's RotationReservedConcurrency should get.

The write quota (PutSecretValue + UpdateSecret + UpdateSecretVersionStage, ``BUDGET`` per second)
and the TagResource quota (50/s) are enforced by ``bench.common.RegionalQuota``: throttled attempts
get ThrottlingException and the product client's standard retry mode retries them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tests.support.fake_providers import FakeProviders
from tests.support.stack import provider_endpoints

from bench.capacity import WRITES_PER_ROTATION, rotation_concurrency
from bench.common import CallCounter, RegionalQuota, product_client, setup_client, use_region
from token_refresher.adapters.secrets import SecretsManagerStore
from token_refresher.config import Settings
from token_refresher.events import RotationRequest, Step
from token_refresher.http import HttpClient
from token_refresher.observability import NullMetrics
from token_refresher.providers.base import ProviderContext
from token_refresher.rotation.factory import build_rotation_engine

BENCH_INSTANCE = "bench"  # the instance the benchmark engines are (and tag their secrets with)

REGION = "eu-west-1"
LATENCY_S = 0.2
BUDGET = 50.0
TAG_QUOTA = 50.0
SEQUENTIAL = 10
NOOP = "tr-bench-noop-rotation"
APP_ID = "token-refresher/apps/bench-google"


class LogOnly:
    def publish(self, alert: object) -> None:
        return None


def _noop_function(lambda_: Any) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("noop.py", "def handler(event, context):\n    return None\n")
    with contextlib.suppress(lambda_.exceptions.ResourceConflictException):
        lambda_.create_function(
            FunctionName=NOOP,
            Runtime="python3.13",
            Role="arn:aws:iam::000000000000:role/noop",
            Handler="noop.handler",
            Code={"ZipFile": buf.getvalue()},
            Timeout=10,
        )
    lambda_.get_waiter("function_active_v2").wait(FunctionName=NOOP)
    return str(lambda_.get_function(FunctionName=NOOP)["Configuration"]["FunctionArn"])


def _prepare(fake: FakeProviders, count: int) -> list[tuple[str, str]]:
    """``count`` secrets, each with an empty AWSPENDING version: (arn, ClientRequestToken)."""
    sm = setup_client("secretsmanager", REGION)
    noop = _noop_function(setup_client("lambda", REGION))
    with contextlib.suppress(sm.exceptions.ResourceExistsException):
        sm.create_secret(
            Name=APP_ID,
            SecretString=json.dumps(
                {"client_id": "bench", "client_secret": "s3c", "provider": "google_ads"}
            ),
        )
    fake.register_app("google", "bench", "s3c")
    run = uuid.uuid4().hex[:8]
    expires = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def one(i: int) -> tuple[str, str]:
        refresh = f"1//0g-bench-{run}-{i:04d}"
        fake.seed("google", refresh_token=refresh, refresh_expires_in=None)
        doc = {
            "schema": 1,
            "provider": "google_ads",
            "access_token": f"ya29.bench-{run}-{i:04d}",
            "refresh_token": refresh,
            "expires_at": expires,
            "app_secret_id": APP_ID,
        }
        arn = sm.create_secret(
            Name=f"tr-bench/rotation/{run}/{i:04d}",
            SecretString=json.dumps(doc),
            Tags=[
                {"Key": "token-refresher:managed", "Value": "true"},
                {"Key": "token-refresher:instance", "Value": BENCH_INSTANCE},
            ],
        )["ARN"]
        version_id = sm.rotate_secret(SecretId=arn, RotationLambdaARN=noop)["VersionId"]
        return str(arn), str(version_id)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


def _cleanup(arns: list[str]) -> None:
    sm = setup_client("secretsmanager", REGION)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(lambda a: sm.delete_secret(SecretId=a, ForceDeleteWithoutRecovery=True), arns)
        )


def run(endpoint: str, rotations: int = 200) -> dict[str, Any]:
    use_region(endpoint, REGION)
    with FakeProviders() as fake:
        fake.set_mode("google", latency_s=LATENCY_S)
        started = time.monotonic()
        jobs = _prepare(fake, rotations)
        prepare_seconds = time.monotonic() - started

        client = product_client("secretsmanager", REGION)
        counter = CallCounter(client)
        writes = RegionalQuota(BUDGET)
        tags = RegionalQuota(TAG_QUOTA, operations=("TagResource",))
        writes.attach(client)
        tags.attach(client)
        session = requests.Session()
        session.mount("http://", HTTPAdapter(pool_maxsize=64))
        cfg = Settings.from_env({"PROVIDER_ENDPOINTS": provider_endpoints(fake.endpoints())})
        ctx = ProviderContext(http=HttpClient(session), endpoints=cfg.provider_endpoints)
        engine = build_rotation_engine(
            SecretsManagerStore(client),
            LogOnly(),
            ctx,
            instance=BENCH_INSTANCE,
            policy=cfg.policy,
            metrics=NullMetrics(),
        )

        def rotate(job: tuple[str, str]) -> tuple[float, str | None]:
            t0 = time.monotonic()
            try:
                for step in Step:
                    engine.run(RotationRequest(step, job[0], job[1]))
            except Exception as exc:  # every failure is counted and reported
                return time.monotonic() - t0, type(exc).__name__
            return time.monotonic() - t0, None

        # Sequential baseline
        t0 = time.monotonic()
        seq = [rotate(j) for j in jobs[:SEQUENTIAL]]
        seq_seconds = time.monotonic() - t0
        seq_latency = sum(d for d, _ in seq) / len(seq)
        seq_calls = counter.total()

        # Parallel. Concurrency = rotations/s the write quota allows x seconds per rotation
        # (Little's law, capacity.rotation_concurrency). A rotation takes longer under load than
        # alone, so size once from the sequential time (calibration run), then again from the
        # time measured under that load: what an operator does with the function's Duration.
        def parallel(batch: list[tuple[str, str]], workers: int) -> dict[str, Any]:
            writes.admitted.clear()
            counter.reset()
            t0 = time.monotonic()
            with ThreadPoolExecutor(max_workers=workers) as pool:
                done = list(pool.map(rotate, batch))
            return {
                "done": done,
                "workers": workers,
                "seconds": time.monotonic() - t0,
                "writes_per_s": writes.rate_achieved(),
                "calls": dict(counter.calls),
                "mean": sum(d for d, _ in done) / len(done),
            }

        fixed = int(os.environ.get("BENCH_WORKERS", "0"))
        rest = jobs[SEQUENTIAL:]
        split = len(rest) // 4
        calib = parallel(rest[:split], fixed or rotation_concurrency(seq_latency))
        main = parallel(rest[split:], fixed or rotation_concurrency(calib["mean"]))
        par = main["done"]
        par_seconds = main["seconds"]
        workers = main["workers"]
        _cleanup([a for a, _ in jobs])

    failures = [e for _, e in seq + calib["done"] + par if e]
    par_rate = len(par) / par_seconds
    seq_rate = len(seq) / seq_seconds
    return {
        "rotations": rotations,
        "latency_s": LATENCY_S,
        "budget": BUDGET,
        "prepare_seconds": round(prepare_seconds, 1),
        "sequential": {
            "rotations": len(seq),
            "rotations_per_s": seq_rate,
            "mean_rotation_s": seq_latency,
            "calls_per_rotation": seq_calls / len(seq),
        },
        "parallel": {
            "rotations": len(par),
            "workers": workers,
            "seconds": par_seconds,
            "rotations_per_s": par_rate,
            "writes_per_s": main["writes_per_s"],
            "writes_per_s_by_rotations": par_rate * WRITES_PER_ROTATION,
            "calls_by_operation": main["calls"],
            "mean_rotation_s": main["mean"],
        },
        "calibration": {
            "rotations": len(calib["done"]),
            "workers": calib["workers"],
            "rotations_per_s": len(calib["done"]) / calib["seconds"],
            "writes_per_s": calib["writes_per_s"],
            "mean_rotation_s": calib["mean"],
        },
        "throttled_attempts": {"writes": writes.throttled, "TagResource": tags.throttled},
        "failures": len(failures),
        "failure_types": sorted(set(failures)),
        "speedup": par_rate / seq_rate,
        "budget_share": main["writes_per_s"] / BUDGET,
    }
