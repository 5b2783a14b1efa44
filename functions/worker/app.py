"""Rotation queue worker (DispatchMode=queue): one RotateSecret per SQS record, partial failures
reported per record so that only the failed ones come back (then go to the dead-letter queue).

The SQS partial-batch response is built here rather than with Powertools' BatchProcessor, whose
import (every event data class, asyncio) cost this function more cold-start time than the rest of
its code (docs/benchmarks.md)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.adapters.queue import RotationJob
from token_refresher.observability import handler_logger
from token_refresher.runtime import rotation_worker

logger = handler_logger()


def record_handler(body: str) -> str:
    job = RotationJob.from_body(body)
    outcome = rotation_worker().handle(job)
    logger.info("rotation job", extra={"secret_id": job.secret_id, "outcome": outcome.value})
    return outcome.value


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    for record in event["Records"]:
        try:
            record_handler(record["body"])
        except Exception:  # reported, not swallowed: the record returns to the queue, then the DLQ
            logger.exception("rotation job failed", extra={"message_id": record["messageId"]})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
