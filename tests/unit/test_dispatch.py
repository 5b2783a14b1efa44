"""Queue mode: the sweep enqueues due secrets, the worker starts each rotation once."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bench.capacity import (
    SWEEP_RESERVE_SECONDS,
    SWEEP_TIMEOUT_SECONDS,
    plan_sweep,
    rotation_concurrency,
)

from tests.support.fakes import TEST_INSTANCE, FakeSqs, client_error
from tests.support.handlers import LambdaContext, load_handler
from tests.unit.conftest import Harness
from token_refresher import runtime
from token_refresher.adapters.queue import QueueDispatcher, RotationJob
from token_refresher.errors import ConfigError
from token_refresher.sweep.dispatch import RotationWorker
from token_refresher.sweep.pacing import Pacer
from token_refresher.sweep.request import SweepRequest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

ROTATION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:rotation"
QUEUE_URL = "http://127.0.0.1/000000000000/rotations"


@pytest.fixture
def worker_app() -> Iterator[object]:
    """functions/worker/app.py. Its Powertools Logger configures the "token-refresher" logger
    (own stdout handler, no propagation to the root, where the suite's leak scanner listens):
    the logger is put back as it was afterwards, Powertools' markers included."""
    service = logging.getLogger("token-refresher")
    saved = (service.propagate, list(service.handlers), service.level, dict(vars(service)))
    yield load_handler("worker")
    service.propagate, service.handlers[:] = saved[0], saved[1]
    service.setLevel(saved[2])
    for attr in set(vars(service)) - set(saved[3]):  # powertools_handler, init markers
        delattr(service, attr)


def job(harness: Harness, secret_id: str, *, ago: timedelta = timedelta(0)) -> RotationJob:
    return RotationJob(secret_id, "expires soon", harness.clock.now - ago)


def managed(harness: Harness, name: str, **tags: str) -> str:
    harness.add_secret(name)
    harness.store.set_tags(name, {f"token-refresher:{k}": v for k, v in tags.items()})
    return name


def worker(harness: Harness) -> RotationWorker:
    return RotationWorker(harness.starter(rotation_lambda_arn=ROTATION_ARN))


class TestQueueDispatcher:
    def test_due_jobs_go_out_ten_per_batch_and_round_trip(self, harness: Harness):
        # Given 25 jobs and an empty queue
        sqs = FakeSqs()
        jobs = [job(harness, f"conn/{i:02d}") for i in range(25)]
        # When they are enqueued
        result = QueueDispatcher(sqs, QUEUE_URL, senders=2).enqueue(jobs)
        # Then three SendMessageBatch calls carried them, and each body parses back to its job
        assert sorted(sqs.calls) == [5, 10, 10]
        assert sorted(result.enqueued) == [j.secret_id for j in jobs]
        assert result.failed == []
        parsed = [RotationJob.from_body(m) for m in sqs.messages]
        assert sorted(parsed, key=lambda j: j.secret_id) == jobs

    def test_refused_entries_are_retried_once_then_reported(self, harness: Harness):
        # Given SQS refuses entry 3 of the first call and, on the retry, refuses it again
        sqs = FakeSqs()
        sqs.refuse = {0: {"3", "4"}, 1: {"0"}}
        jobs = [job(harness, f"conn/{i}") for i in range(6)]
        # When the six jobs are enqueued
        result = QueueDispatcher(sqs, QUEUE_URL).enqueue(jobs)
        # Then conn/4 made it on the retry and conn/3 is reported failed, with SQS's code
        assert sqs.calls == [6, 2]
        assert result.failed == [("conn/3", "InternalError")]
        assert sorted(result.enqueued) == ["conn/0", "conn/1", "conn/2", "conn/4", "conn/5"]

    def test_a_failing_batch_does_not_stop_the_others(self, harness: Harness):
        # Given the first call raises a throttling error (and its retry too)
        sqs = FakeSqs()
        sqs.raise_on = {0: client_error("ThrottlingException", "SendMessageBatch")}
        sqs.raise_on[1] = sqs.raise_on[0]
        jobs = [job(harness, f"conn/{i:02d}") for i in range(12)]
        # When enqueued one sender at a time
        result = QueueDispatcher(sqs, QUEUE_URL, senders=1).enqueue(jobs)
        # Then the first ten are reported failed with the error code, the last two went out
        assert [code for _, code in result.failed] == ["ThrottlingException"] * 10
        assert result.enqueued == ["conn/10", "conn/11"]

    @pytest.mark.parametrize(
        ("body", "why"),
        [
            ("not json", "message body: must be a JSON object"),
            ("[]", "message body: must be a JSON object"),
            (json.dumps({"reason": "x"}), "secret_id: is required"),
            (json.dumps({"secret_id": "a"}), "decided_at: is not an ISO-8601 timestamp"),
        ],
    )
    def test_malformed_messages_are_config_errors(self, body: str, why: str):
        with pytest.raises(ConfigError, match=why):
            RotationJob.from_body(body)


class TestSweepInQueueMode:
    def test_scheduled_sweep_enqueues_due_secrets_and_rotates_nothing(self, harness: Harness):
        # Given one due and one fresh secret, and a sweep with a queue dispatcher
        now = harness.clock.now
        due = managed(harness, "conn/due", **{"expires-at": str(int(now.timestamp()) + 60)})
        managed(
            harness,
            "conn/fine",
            **{
                "expires-at": str(int((now + timedelta(days=40)).timestamp())),
                "last-rotated-at": str(int((now - timedelta(days=5)).timestamp())),
            },
        )
        sqs = FakeSqs()
        sweeper = harness.sweep_engine(
            rotation_lambda_arn=ROTATION_ARN, dispatcher=QueueDispatcher(sqs, QUEUE_URL)
        )
        # When the scheduled sweep runs
        report = sweeper.run(SweepRequest(scheduled=True))
        # Then only the due secret was enqueued, and no RotateSecret was called
        arn = harness.store.arn_of(due)
        assert report.enqueued == [arn]
        assert report.started == []
        assert [RotationJob.from_body(m).secret_id for m in sqs.messages] == [arn]
        assert not any(op == "rotate" for op, _ in harness.store.calls)

    def test_manual_requests_stay_direct(self, harness: Harness):
        # Given a queue-mode sweep and a managed secret
        name = managed(harness, "conn/manual")
        sqs = FakeSqs()
        sweeper = harness.sweep_engine(
            rotation_lambda_arn=ROTATION_ARN, dispatcher=QueueDispatcher(sqs, QUEUE_URL)
        )
        # When a manual rotation of that secret is requested
        report = sweeper.run(
            SweepRequest.from_event({"secret_ids": [name], "instance": TEST_INSTANCE})
        )
        # Then it is started at once, nothing queued
        assert report.started == [harness.store.arn_of(name)]
        assert sqs.calls == []


class TestRotationWorker:
    def test_each_instance_paces_its_starts_to_its_share_of_the_start_rate(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch
    ):
        # Given a Worker of 5 instances (WorkerConcurrency) and the default start rate, 20/s
        monkeypatch.setenv("WORKER_CONCURRENCY", "5")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("INSTANCE_NAME", TEST_INSTANCE)
        runtime.reset()
        pacer = runtime.rotation_worker().pacer
        runtime.reset()
        # Then each instance starts at most 4 per second: 20/s for the five together
        assert pacer is not None
        assert pacer.rate == pytest.approx(4.0)
        # And a worker with that pacer waits its slot before each start
        now = [0.0]
        paced = Pacer(4.0, monotonic=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
        starts = []
        names = [managed(harness, f"conn/p{n}") for n in range(9)]
        paced_worker = RotationWorker(
            harness.starter(rotation_lambda_arn=ROTATION_ARN), pacer=paced
        )
        for name in names:
            paced_worker.handle(job(harness, name))
            starts.append(now[0])
        assert starts[-1] == pytest.approx(2.0)  # 9 starts at 4/s: the last 2 s after the first

    def test_starts_the_rotation_and_attaches_the_function_when_missing(self, harness: Harness):
        # Given a managed secret without rotation configured
        name = managed(harness, "conn/w1")
        harness.store.set_rotation_enabled(name, False)
        # When its job is handled
        outcome = worker(harness).handle(job(harness, name))
        # Then RotateSecret ran and rotation is now configured
        assert outcome == "started"
        assert harness.store.is_rotation_enabled(name)
        assert any(op == "rotate" for op, _ in harness.store.calls)

    def test_a_redelivered_message_does_not_rotate_twice(self, harness: Harness):
        # Given a job decided 2 minutes ago whose secret was rotated since
        name = managed(harness, "conn/w2")
        rotated = harness.clock.now - timedelta(minutes=1)
        harness.store.set_tags(
            name, {"token-refresher:last-rotated-at": str(int(rotated.timestamp()))}
        )
        # When the (redelivered) job is handled
        outcome = worker(harness).handle(job(harness, name, ago=timedelta(minutes=2)))
        # Then it is skipped without calling RotateSecret
        assert outcome == "recent"
        assert not any(op == "rotate" for op, _ in harness.store.calls)

    def test_rotation_in_progress_and_unknown_or_unmanaged_ids_are_not_retried(
        self, harness: Harness
    ):
        # Given a secret mid-rotation and one that lost its managed tag
        busy = managed(harness, "conn/busy")
        harness.store.start_rotation(busy, "other-token")
        harness.store.create("conn/unmanaged", "{}")
        w = worker(harness)
        # When their jobs (and one for a deleted secret) are handled
        outcomes = [w.handle(job(harness, n)) for n in (busy, "conn/unmanaged", "conn/gone")]
        # Then each is a final outcome, not an exception (SQS must not retry them)
        assert outcomes == ["in_progress", "not_managed", "not_found"]

    def test_a_stuck_rotation_is_finished_like_the_sweep_does(self, harness: Harness):
        # Given a rotation left at AWSPENDING 20 minutes ago, and a resumer
        name = managed(harness, "conn/stuck")
        harness.store.start_rotation(name, "stuck-token")
        harness.store.created_at["stuck-token"] = harness.clock.now.timestamp() - 1200
        resumed: list[tuple[str, str]] = []

        class Resumer:
            def resume(self, secret_id: str, version_id: str) -> None:
                resumed.append((secret_id, version_id))

        w = RotationWorker(harness.starter(rotation_lambda_arn=ROTATION_ARN, resumer=Resumer()))
        # When its job is handled
        outcome = w.handle(job(harness, name))
        # Then the stuck version is finished instead of a new rotation being started
        assert outcome == "resumed"
        assert resumed == [(harness.store.arn_of(name), "stuck-token")]
        assert not any(op == "rotate" for op, _ in harness.store.calls)

    def test_handler_reports_only_the_failed_records(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch, worker_app: Any
    ):
        # Given the worker handler over the in-memory store, and RotateSecret throttled once
        app = worker_app
        monkeypatch.setattr(runtime, "rotation_worker", lambda: worker(harness))
        names = [managed(harness, f"conn/h{i}") for i in range(3)]
        harness.store.fail_on["rotate"] = [client_error("ThrottlingException", "RotateSecret")]
        event: dict[str, Any] = {
            "Records": [
                {
                    "messageId": f"m{i}",
                    "body": job(harness, n).to_body(),
                    "eventSource": "aws:sqs",
                    "attributes": {},
                    "messageAttributes": {},
                }
                for i, n in enumerate(names)
            ]
        }
        # When the batch is handled
        response = app.lambda_handler(event, LambdaContext())
        # Then only the throttled record comes back for a retry
        assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}

    def test_handler_reports_an_unreadable_record_and_handles_the_rest(
        self,
        caplog: pytest.LogCaptureFixture,
        harness: Harness,
        monkeypatch: pytest.MonkeyPatch,
        worker_app: Any,
    ):
        # Given a batch whose first message is not a job and whose second is a due secret
        app = worker_app
        monkeypatch.setattr(runtime, "rotation_worker", lambda: worker(harness))
        name = managed(harness, "conn/readable")
        event = {
            "Records": [
                {"messageId": "m-bad", "body": "not a job"},
                {"messageId": "m-good", "body": job(harness, name).to_body()},
            ]
        }
        # When the batch is handled
        response = app.lambda_handler(event, LambdaContext())
        # Then only the unreadable record is reported, the other one's rotation was started,
        # and the failure is logged with its message id
        assert response == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
        assert [op for op, _ in harness.store.calls if op == "rotate"] == ["rotate"]
        failed = [r for r in caplog.records if r.getMessage() == "rotation job failed"]
        assert [getattr(r, "message_id", None) for r in failed] == ["m-bad"]
        assert failed[0].exc_info is not None
        assert failed[0].exc_info[0] is ConfigError


class TestCapacity:
    def test_rotation_concurrency_from_the_write_quota(self):
        # 50 writes/s, 2 writes per rotation: 25 rotations/s; 0.6 s each -> 15 in flight
        assert rotation_concurrency(0.6) == 15
        assert rotation_concurrency(0.6, headroom=0.8) == 12

    def test_the_deployed_sweep_timeout_is_the_one_the_plan_and_the_scaling_table_assume(self):
        # Given the SweepFunction's Timeout in template.yaml and the table in docs/benchmarks.md
        template = (ROOT / "template.yaml").read_text()
        sweep = re.split(r"\n  \w", template.split("\n  SweepFunction:\n", 1)[1], maxsplit=1)[0]
        timeout = re.search(r"^      Timeout: (\d+)", sweep, re.M)
        doc = (ROOT / "docs" / "benchmarks.md").read_text()
        # Then they agree with the plan's limit, and listing 100,000 secrets at the slowest page
        # time measured (0.288 s) fits with room to start rotations
        assert timeout is not None
        assert int(timeout.group(1)) == SWEEP_TIMEOUT_SECONDS
        assert (
            f"the SweepFunction's {SWEEP_TIMEOUT_SECONDS // 60}-minute Timeout, "
            f"{SWEEP_RESERVE_SECONDS} s reserve" in doc
        )
        listing = plan_sweep(100_000, 0, page_seconds=0.288).list_seconds
        assert listing < (SWEEP_TIMEOUT_SECONDS - SWEEP_RESERVE_SECONDS) / 2

    def test_100k_secrets_all_due_do_not_fit_one_direct_sweep_but_do_queued(self):
        # Given 100,000 secrets, every one due (e.g. the first sweep after onboarding)
        direct = plan_sweep(100_000, 100_000, page_seconds=0.2)
        queued = plan_sweep(100_000, 100_000, page_seconds=0.2, mode="queue")
        # Then 1,000 pages; starting 100,000 RotateSecret at 50/s takes 2,000 s > 900 s
        assert direct.list_pages == 1000
        assert not direct.fits
        assert direct.start_seconds == 2000
        # While enqueuing them is 10,000 batches and fits; the rotations drain at 25/s
        assert queued.fits
        assert queued.drain_seconds == 4000
