"""Secrets Manager rotation function: Secrets Manager calls it once per rotation step."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.rotation import RotationRequest
from token_refresher.runtime import rotation_engine

logger = Logger(service="token-refresher")


@logger.inject_lambda_context(log_event=False)  # the event carries no token, but keep logs lean
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    result = rotation_engine().run(RotationRequest.from_event(event))
    body = {"step": result.step.value, "secret_id": result.secret_id, "outcome": result.outcome}
    return body | ({"reason": result.reason} if result.reason else {})
