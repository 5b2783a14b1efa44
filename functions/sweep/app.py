"""Sweep function: scheduled, or asked for a manual rotation (EventBridge or direct invoke)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.observability import handler_logger
from token_refresher.runtime import sweep_engine
from token_refresher.sweep_request import SweepRequest

logger = handler_logger()


@logger.inject_lambda_context(log_event=True)  # events carry secret ids and flags, never tokens
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = SweepRequest.from_event(event)
    report = sweep_engine().run(request, time_left_ms=context.get_remaining_time_in_millis)
    return report.to_dict()
