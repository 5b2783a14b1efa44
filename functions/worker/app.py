"""Rotation queue worker (DispatchMode=queue): one RotateSecret per SQS record, partial failures
reported per record so that only the failed ones come back (then go to the dead-letter queue).

The SQS partial-batch response is built by the library rather than with Powertools'
BatchProcessor, whose import (every event data class, asyncio) cost this function more cold-start
time than the rest of its code (docs/benchmarks.md)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.runtime import handler_logger, work

logger = handler_logger()


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return work(event)
