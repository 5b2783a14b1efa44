"""Rotation queue worker (DispatchMode=queue): one RotateSecret per SQS record, partial failures
reported per record so that only the failed ones come back (then go to the dead-letter queue)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.dispatch import RotationJob
from token_refresher.runtime import rotation_worker

logger = Logger(service="token-refresher")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    job = RotationJob.from_body(record.body)
    outcome = rotation_worker().handle(job)
    logger.info("rotation job", extra={"secret_id": job.secret_id, "outcome": outcome})
    return outcome


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
