"""LocalStack glue: a ``RuntimeExecutor`` that runs Python functions in local processes.

Everything that does not need LocalStack lives in :mod:`tr_local_executor.runner`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from localstack.aws.api.lambda_ import PackageType
from localstack.services.lambda_.invocation.executor_endpoint import NAMESPACE
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from localstack import config
from tr_local_executor.runner import FunctionSpec, LocalRuntime, resolve_python

LOG = logging.getLogger(__name__)

_ANY_HOST = ("", "0.0.0.0", "::")  # noqa: S104  # nosec B104 # names to compare, not a bind


class LocalProcessRuntimeExecutor(RuntimeExecutor):
    """One LocalStack execution environment = one warm ``awslambdaric`` process."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id, function_version)
        self._runtime: LocalRuntime | None = None

    def start(self, env_vars: dict[str, str]) -> None:
        cfg = self.function_version.config
        runtime = str(cfg.runtime or "")
        if (
            cfg.package_type != PackageType.Zip
            or cfg.code is None
            or not runtime.startswith("python")
        ):
            raise LambdaRuntimeException(
                "the local process executor runs only zip-packaged python functions,"
                f" not {runtime or 'images'}"
            )
        layer_dirs = tuple(
            Path(layer.code.get_unzipped_code_location())
            for layer in cfg.layers
            if layer.code is not None
        )
        spec = FunctionSpec(
            handler=str(cfg.handler),
            code_dir=Path(cfg.code.get_unzipped_code_location()),
            layer_dirs=layer_dirs,
            timeout_seconds=float(cfg.timeout),
            environment=env_vars,
            runtime=runtime,
            init_timeout_seconds=max(1.0, config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT - 2.0),
        )
        self._runtime = LocalRuntime(spec)
        # An init failure is answered by the first invoke, as in Lambda.
        self._runtime.start(defer_init_error=True)

    def stop(self) -> None:
        if self._runtime is not None:
            self._runtime.stop()

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        host = config.GATEWAY_LISTEN[0].host
        return "127.0.0.1" if host in _ANY_HOST else host

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{self.get_endpoint_from_executor()}:{port}{NAMESPACE}/{self.id}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        if self._runtime is None:
            raise LambdaRuntimeException(f"executor {self.id} was not started")
        result = self._runtime.invoke(
            payload["payload"].encode(),
            request_id=payload["invoke-id"],
            invoked_function_arn=payload["invoked-function-arn"],
            trace_id=payload.get("trace-id"),
        )
        return InvocationResult(
            request_id=result.request_id,
            payload=result.payload,
            is_error=result.is_error,
            logs=result.logs,
        )

    def get_logs(self) -> str:
        return self._runtime.logs() if self._runtime is not None else ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        cfg = function_version.config
        if cfg.code is not None:
            cfg.code.prepare_for_execution()
        for layer in cfg.layers:
            if layer.code is not None:
                layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        return None  # LocalStack removes the unzipped code itself

    @classmethod
    def validate_environment(cls) -> bool:
        try:
            python = resolve_python()
        except FileNotFoundError as error:
            LOG.warning("Lambda functions cannot run: %s", error)
            return False
        LOG.info("Lambda functions run locally with %s", python)
        return True
