"""Connect function (Lambda Function URL): a consent link's page and each platform's callback."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.connect.request import HttpRequest
from token_refresher.runtime import connect_service

logger = Logger(service="token-refresher")


@logger.inject_lambda_context(log_event=False)  # the event carries the code and the link
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    return connect_service().handle(HttpRequest.from_function_url(event)).response()
