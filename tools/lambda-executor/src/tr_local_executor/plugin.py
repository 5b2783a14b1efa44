"""The plux plugin that makes the executor selectable with LAMBDA_RUNTIME_EXECUTOR."""

from __future__ import annotations

from typing import Any

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin

EXECUTOR_NAME = "tr-local"


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):
    name = EXECUTOR_NAME

    def load(self, *args: Any, **kwargs: Any) -> type:
        from tr_local_executor.executor import LocalProcessRuntimeExecutor

        return LocalProcessRuntimeExecutor
