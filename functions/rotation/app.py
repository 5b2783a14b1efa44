"""Secrets Manager rotation function: Secrets Manager calls it once per rotation step.

`token-refresher check` invokes it too, with {"action": "check", "secret_id": ...}: the connection
is validated through this function's code, endpoints and role, without rotating. The sweep invokes
it asynchronously with {"action": "liveness", "secret_id": ...} for the daily liveness check: the
same validation, its verdict recorded like a rotation's (state tags, alerts)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.observability import handler_logger
from token_refresher.protocol import RotationRequest, is_check_event, is_liveness_event
from token_refresher.runtime import connection_checker, liveness_check, rotation_engine

logger = handler_logger()


@logger.inject_lambda_context(log_event=False)  # the event carries no token, but keep logs lean
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The check and the liveness check load their modules when asked (cold start: most
    # invocations are rotation steps).
    if is_liveness_event(event):
        from token_refresher.liveness_check import LivenessRequest  # noqa: PLC0415

        return liveness_check().run(LivenessRequest.from_event(event))
    if is_check_event(event):
        from token_refresher.connection_check import CheckRequest  # noqa: PLC0415

        return connection_checker().run(CheckRequest.from_event(event)).to_dict()
    result = rotation_engine().run(RotationRequest.from_event(event))
    body = {
        "step": result.step.value,
        "secret_id": result.secret_id,
        "outcome": result.outcome.value,
    }
    return body | ({"reason": result.reason} if result.reason else {})
