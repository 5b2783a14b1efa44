"""Alarm relay: the stack's CloudWatch alarms invoke it (a Lambda alarm action); it publishes each
state change to the alert topic with the alerts' event, severity and message attributes."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.runtime import handler_logger, relay

logger = handler_logger()


@logger.inject_lambda_context(log_event=True)  # an alarm's name, state and reason: no secrets
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return relay(event)
