"""Secrets Manager rotation function: Secrets Manager calls it once per rotation step.

`token-refresher check` invokes it too, with {"action": "check", "secret_id": ...}: the connection
is validated through this function's code, endpoints and role, without rotating. The sweep invokes
it asynchronously with {"action": "liveness", "secret_id": ...} for the daily liveness check: the
same validation, its verdict recorded like a rotation's (state tags, alerts)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.runtime import handler_logger, rotate

logger = handler_logger()


@logger.inject_lambda_context(log_event=False)  # no token in it, but keep logs lean
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return rotate(event, context.get_remaining_time_in_millis)
