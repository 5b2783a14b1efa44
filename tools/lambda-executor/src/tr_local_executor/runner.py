"""Run a Python Lambda handler in a local process, as the managed runtime would.

The official runtime interface client (``awslambdaric``) runs in a child process of
the interpreter given by ``TR_LAMBDA_PYTHON`` and talks to a tiny Runtime API served
here (:mod:`tr_local_executor.runtime_api`). This module needs only the standard
library: it is unit-tested without LocalStack.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tr_local_executor.runtime_api import PendingInvocation, RuntimeApiServer

LOG = logging.getLogger(__name__)

RUNTIME_PYTHON_ENV = "TR_LAMBDA_PYTHON"
"""Environment variable naming the interpreter that runs functions (has boto3 + awslambdaric)."""

SITE_DIR_ENV = "TR_LAMBDA_SITE_DIR"
"""Test tooling: a folder appended to every function's PYTHONPATH (its ``sitecustomize`` runs at
start; tools/localstack.sh points it at the AWS-call recorder of tests/support/recorder_site)."""
CALL_LOG_ENV = "TR_AWS_CALL_LOG"
"""Passed to every function process when set here: the file the recorder appends calls to."""

_POLL_SECONDS = 0.05
_PASSED_THROUGH = ("PATH", "LANG", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
_LOCAL_HOSTS = ("127.0.0.1", "localhost")


def resolve_python(explicit: str | None = None) -> str:
    """The interpreter for function processes: explicit, else $TR_LAMBDA_PYTHON, else ours."""
    candidate = explicit or os.environ.get(RUNTIME_PYTHON_ENV)
    if candidate:
        if not Path(candidate).exists():
            raise FileNotFoundError(f"{RUNTIME_PYTHON_ENV} interpreter not found: {candidate}")
        return os.path.abspath(candidate)  # not resolve(): a venv's python is a symlink
    LOG.warning(
        "%s is not set: running Lambda functions with %s (its packages, not the Lambda runtime's)",
        RUNTIME_PYTHON_ENV,
        sys.executable,
    )
    return sys.executable


def python_path_entries(code_dir: Path, layer_dirs: Sequence[Path]) -> list[str]:
    """sys.path entries as in Lambda: the code first, then each layer's python folders.

    Lambda merges layers into /opt in order, a later layer overwriting an earlier one,
    so later layers come first here.
    """
    entries = [str(code_dir)]
    for layer in reversed(layer_dirs):
        python_dir = layer / "python"
        entries += [str(p) for p in sorted(python_dir.glob("lib/python3*/site-packages"))]
        entries.append(str(python_dir))
    return entries


def build_environment(  # noqa: PLR0913 - the Lambda environment's parts, keyword-only
    lambda_env: Mapping[str, object],
    *,
    handler: str,
    code_dir: Path,
    layer_dirs: Sequence[Path] = (),
    runtime_api: str,
    runtime: str = "python3.13",
    inherited: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment of a function process.

    ``lambda_env`` is what LocalStack (or a test) computed for the function, including
    the function's own variables; values may be ints. Only a few variables of this
    process are inherited (PATH, LANG, proxies), as the Lambda sandbox has a clean one.
    """
    inherited = os.environ if inherited is None else inherited
    env = {name: inherited[name] for name in _PASSED_THROUGH if name in inherited}
    env.setdefault("LANG", "C.UTF-8")
    no_proxy = [h for h in inherited.get("NO_PROXY", inherited.get("no_proxy", "")).split(",") if h]
    env["NO_PROXY"] = env["no_proxy"] = ",".join(dict.fromkeys([*no_proxy, *_LOCAL_HOSTS]))

    name = str(lambda_env.get("AWS_LAMBDA_FUNCTION_NAME", "local-function"))
    region = str(lambda_env.get("AWS_REGION", "us-east-1"))
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]local",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "TZ": ":UTC",
            "_HANDLER": handler,
        }
    )
    env.update({key: str(value) for key, value in lambda_env.items() if value is not None})
    if env.get("AWS_EXECUTION_ENV", "AWS_Lambda_rapid") == "AWS_Lambda_rapid":
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime}"
    path = python_path_entries(code_dir, layer_dirs)
    if inherited.get(SITE_DIR_ENV) and inherited.get(CALL_LOG_ENV):
        path.append(inherited[SITE_DIR_ENV])  # last: it must not shadow the function's modules
        env[CALL_LOG_ENV] = inherited[CALL_LOG_ENV]
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(code_dir),
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "PYTHONPATH": os.pathsep.join(path),
            "PYTHONUNBUFFERED": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


@dataclass(frozen=True)
class FunctionSpec:
    """What is needed to run one function version locally."""

    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...] = ()
    timeout_seconds: float = 3.0
    environment: Mapping[str, object] = field(default_factory=dict)
    python: str | None = None
    runtime: str = "python3.13"
    init_timeout_seconds: float = 30.0


@dataclass(frozen=True)
class InvokeResult:
    request_id: str
    payload: bytes
    is_error: bool
    logs: str
    duration_ms: float

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None

    @property
    def error_type(self) -> str | None:
        if not self.is_error:
            return None
        try:
            return str(self.json().get("errorType"))
        except (ValueError, AttributeError):
            return None


class InitError(Exception):
    """The function failed during its init phase (import error, crash, init timeout)."""

    def __init__(self, payload: bytes, logs: str) -> None:
        super().__init__(payload.decode(errors="replace"))
        self.payload = payload
        self.logs = logs


class LocalRuntime:
    """One execution environment: a warm ``awslambdaric`` process and its Runtime API.

    After a timeout or a crash the process is gone; the next invoke starts a new one
    (a cold start), like Lambda resets a sandbox.
    """

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.python = resolve_python(spec.python)
        self._workdir = Path(tempfile.mkdtemp(prefix="tr-lambda-"))
        self._log_path = self._workdir / "runtime.log"
        self._log_path.touch()
        self._lock = threading.Lock()
        self._api: RuntimeApiServer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._final_logs: str | None = None
        self._deferred_init_error: InitError | None = None

    # -- lifecycle --------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, defer_init_error: bool = False) -> None:
        """Start the runtime process and wait for the end of its init phase.

        With ``defer_init_error`` an init failure is not raised but returned by the next
        invoke, as Lambda reports a failed init in the response of the invoke.
        """
        with self._lock:
            try:
                self._start()
            except InitError as error:
                if not defer_init_error:
                    raise
                self._deferred_init_error = error

    def stop(self) -> None:
        with self._lock:
            self._kill()
            if self._final_logs is None:
                self._final_logs = self.logs()
                shutil.rmtree(self._workdir, ignore_errors=True)

    def logs(self) -> str:
        """Everything the runtime processes printed so far."""
        if self._final_logs is not None:
            return self._final_logs
        return self._log_path.read_bytes().decode(errors="replace")

    def _start(self) -> None:
        self._kill()
        api = RuntimeApiServer()
        api.start()
        self._api = api
        env = build_environment(
            self.spec.environment,
            handler=self.spec.handler,
            code_dir=self.spec.code_dir,
            layer_dirs=self.spec.layer_dirs,
            runtime_api=api.address,
            runtime=self.spec.runtime,
        )
        offset = self._log_size()
        with self._log_path.open("ab") as log_file:
            self._process = subprocess.Popen(  # nosec B603 # the runtime interpreter, fixed args
                [self.python, "-m", "awslambdaric", self.spec.handler],
                cwd=self.spec.code_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.spec.init_timeout_seconds
        while not api.polled.wait(_POLL_SECONDS):
            exited = self._process.poll() is not None
            if api.init_error.done() or exited or time.monotonic() > deadline:
                if api.init_error.done():
                    payload = api.init_error.result().body
                elif exited:
                    payload = error_payload(
                        "Runtime.ExitError",
                        f"Runtime exited during init with exit status {self._process.returncode}",
                    )
                else:
                    payload = error_payload(
                        "Sandbox.Timedout",
                        f"Init timed out after {self.spec.init_timeout_seconds:.2f} seconds",
                    )
                self._kill()
                raise InitError(payload, self._read_log(offset))

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
            self._process = None
        if self._api is not None:
            self._api.close()
            self._api = None

    # -- invocation -------------------------------------------------------

    def invoke(
        self,
        payload: bytes,
        *,
        request_id: str | None = None,
        invoked_function_arn: str | None = None,
        trace_id: str | None = None,
    ) -> InvokeResult:
        """Run one event through the handler; never raises for function failures."""
        with self._lock:
            return self._invoke(
                payload, request_id or str(uuid.uuid4()), invoked_function_arn, trace_id
            )

    def _invoke(
        self, payload: bytes, request_id: str, arn: str | None, trace_id: str | None
    ) -> InvokeResult:
        started = time.monotonic()
        offset = self._log_size()
        version = self.spec.environment.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        init_error, self._deferred_init_error = self._deferred_init_error, None
        if init_error is None and not self.running:
            try:
                self._start()
            except InitError as error:
                init_error = error
        self._append_log(f"START RequestId: {request_id} Version: {version}")
        if init_error is not None:
            body, is_error = init_error.payload, True
        else:
            invocation = PendingInvocation(
                request_id=request_id,
                payload=payload,
                invoked_function_arn=arn or self._default_arn(),
                deadline_ms=int((time.time() + self.spec.timeout_seconds) * 1000),
                trace_id=trace_id,
            )
            body, is_error = self._await_reply(invocation, started)
        duration_ms = (time.monotonic() - started) * 1000
        memory = self.spec.environment.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 128)
        self._append_log(f"END RequestId: {request_id}")
        self._append_log(
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
            f"\tMemory Size: {memory} MB"
        )
        logs = self._read_log(offset)
        if init_error is not None and init_error.logs not in logs:
            logs = init_error.logs + logs  # the init ran before this invoke (deferred error)
        return InvokeResult(request_id, body, is_error, logs, duration_ms)

    def _await_reply(self, invocation: PendingInvocation, started: float) -> tuple[bytes, bool]:
        """The runtime's reply, or Lambda's error when the process dies or the time is up."""
        api, process = self._api, self._process
        if api is None or process is None:
            raise RuntimeError("the runtime process is not running")
        request_id, timeout = invocation.request_id, self.spec.timeout_seconds
        future = api.submit(invocation)
        while True:
            try:
                reply = future.result(timeout=_POLL_SECONDS)
            except FutureTimeout:
                pass
            else:
                return reply.body, reply.is_error
            if process.poll() is not None:
                self._kill()
                message = f"Runtime exited with error: exit status {process.returncode}"
                return error_payload(
                    "Runtime.ExitError", f"RequestId: {request_id} Error: {message}"
                ), True
            if time.monotonic() > started + timeout:
                self._kill()
                message = f"Task timed out after {timeout:.2f} seconds"
                stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                self._append_log(f"{stamp} {request_id} {message}")
                return error_payload(
                    "Sandbox.Timedout", f"RequestId: {request_id} Error: {message}"
                ), True

    # -- helpers ----------------------------------------------------------

    def _default_arn(self) -> str:
        env = self.spec.environment
        region = env.get("AWS_REGION", "us-east-1")
        name = env.get("AWS_LAMBDA_FUNCTION_NAME", "local-function")
        return f"arn:aws:lambda:{region}:000000000000:function:{name}"

    def _log_size(self) -> int:
        return self._log_path.stat().st_size

    def _append_log(self, line: str) -> None:
        with self._log_path.open("ab") as log_file:
            log_file.write(f"{line}\n".encode())

    def _read_log(self, offset: int) -> str:
        with self._log_path.open("rb") as log_file:
            log_file.seek(offset)
            return log_file.read().decode(errors="replace")


def run_once(spec: FunctionSpec, event: object) -> InvokeResult:
    """Start a runtime, invoke it once with ``event`` (JSON-encoded), stop it."""
    runtime = LocalRuntime(spec)
    try:
        try:
            runtime.start()
        except InitError as error:
            return InvokeResult(str(uuid.uuid4()), error.payload, True, error.logs, 0.0)
        return runtime.invoke(json.dumps(event).encode())
    finally:
        runtime.stop()
