"""Connect function (Lambda Function URL): a consent link's page and each platform's callback."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from token_refresher.runtime import handler_logger, serve

logger = handler_logger()


@logger.inject_lambda_context(log_event=False)  # the event carries the code and the link
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    return serve(event)
