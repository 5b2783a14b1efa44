"""The functions' handlers loaded in-process, and the Lambda context Powertools reads.

Shared by unit tests (handler wiring over in-memory fakes) and integration tests (LocalStack)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tests.support import authz, aws_calls, stack

__all__ = ["LambdaContext", "load_handler"]


@dataclass
class LambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name: str = "in-process"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:in-process"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_handler(function: str) -> ModuleType:
    """functions/<function>/app.py as its own module (every function's file is named app.py)."""
    path = stack.REPO_ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"tr_handler_{function}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = module.lambda_handler

    def acting_for_the_function(event: Any, context: Any) -> Any:
        """Its AWS calls are recorded as this function's (tests/support/authz.py)."""
        with aws_calls.acting_as(authz.handler_principal(function)):
            return handler(event, context)

    module.lambda_handler = acting_for_the_function
    return module
