"""Sweep function: the schedule and the manual request rule invoke it; it decides from tags which
connections are due and starts their rotations (or enqueues them in queue mode)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.runtime import handler_logger, sweep

logger = handler_logger()


@logger.inject_lambda_context(log_event=True)  # events carry secret ids and flags, never tokens
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return sweep(event, context.get_remaining_time_in_millis)
