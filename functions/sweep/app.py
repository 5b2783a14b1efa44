"""Sweep function: scheduled, or asked for a manual rotation (EventBridge or direct invoke)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.runtime import sweep_engine
from token_refresher.sweep import SweepRequest

logger = Logger(service="token-refresher")


@logger.inject_lambda_context(log_event=True)  # events carry secret ids and flags, never tokens
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = SweepRequest.from_event(event)
    return sweep_engine(context.get_remaining_time_in_millis).run(request).to_dict()
