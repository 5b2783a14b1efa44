"""Unit tests of the executor's pure runner: handlers in local awslambdaric processes.

No LocalStack is needed.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from tr_local_executor.runner import (
    FunctionSpec,
    LocalRuntime,
    build_environment,
    python_path_entries,
    run_once,
)

pytestmark = pytest.mark.tooling


def write_module(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def make_spec(
    tmp_path: Path,
    python: str,
    source: str,
    *,
    layer_dirs: tuple[Path, ...] = (),
    environment: Mapping[str, object] | None = None,
    timeout: float = 5.0,
) -> FunctionSpec:
    code_dir = tmp_path / "code"
    write_module(code_dir, "app", source)
    return FunctionSpec(
        handler="app.handler",
        code_dir=code_dir,
        layer_dirs=layer_dirs,
        timeout_seconds=timeout,
        environment=environment
        or {"AWS_LAMBDA_FUNCTION_NAME": "unit-fn", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": 256},
        python=python,
    )


@pytest.fixture
def warm_runtime(tmp_path: Path, runtime_python: str) -> Iterator[LocalRuntime]:
    source = """
        calls = 0

        def handler(event, context):
            global calls
            calls += 1
            if event.get("sleep"):
                import time
                time.sleep(event["sleep"])
            return {"calls": calls}
    """
    runtime = LocalRuntime(make_spec(tmp_path, runtime_python, source, timeout=1.0))
    runtime.start()
    yield runtime
    runtime.stop()


def test_success_returns_the_handler_result(tmp_path: Path, runtime_python: str) -> None:
    # Given a handler that echoes part of its event
    spec = make_spec(
        tmp_path, runtime_python, "def handler(event, context):\n    return {'echo': event['x']}\n"
    )
    # When it is invoked
    result = run_once(spec, {"x": [1, "two"]})
    # Then the payload is its JSON result and it is no error
    assert not result.is_error
    assert result.json() == {"echo": [1, "two"]}


def test_exception_becomes_a_function_error(tmp_path: Path, runtime_python: str) -> None:
    # Given a handler that raises
    source = """
        class TokenExpired(Exception):
            pass

        def handler(event, context):
            raise TokenExpired("refresh token revoked")
    """
    # When it is invoked
    result = run_once(make_spec(tmp_path, runtime_python, source), {})
    # Then the error carries the type, the message and a stack trace
    body = result.json()
    assert result.is_error
    assert body["errorType"] == "TokenExpired"
    assert body["errorMessage"] == "refresh token revoked"
    assert any("app.py" in line for line in body["stackTrace"])


def test_timeout_is_enforced_and_the_next_invoke_starts_cold(warm_runtime: LocalRuntime) -> None:
    # Given a warm runtime of a function with a 1 s timeout
    assert warm_runtime.invoke(b"{}").json() == {"calls": 1}
    # When an invocation runs longer than that
    result = warm_runtime.invoke(json.dumps({"sleep": 30}).encode())
    # Then it ends with Lambda's timeout error, its process is killed
    assert result.is_error
    assert result.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.json()["errorMessage"]
    assert "Task timed out after 1.00 seconds" in result.logs
    assert not warm_runtime.running
    # And the next invoke runs in a fresh process (module state is new)
    assert warm_runtime.invoke(b"{}").json() == {"calls": 1}


def test_the_process_stays_warm_between_invokes(warm_runtime: LocalRuntime) -> None:
    # Given a started runtime
    # When it is invoked twice
    first, second = warm_runtime.invoke(b"{}"), warm_runtime.invoke(b"{}")
    # Then the module was initialised once, as in a warm Lambda sandbox
    assert (first.json(), second.json()) == ({"calls": 1}, {"calls": 2})


def test_output_is_captured_as_the_invocation_logs(tmp_path: Path, runtime_python: str) -> None:
    # Given a handler that prints, logs and writes to stderr
    source = """
        import logging
        import sys

        logging.getLogger().setLevel(logging.INFO)

        def handler(event, context):
            print("printed line")
            logging.info("logged line")
            sys.stderr.write("stderr line\\n")
            return None
    """
    runtime = LocalRuntime(make_spec(tmp_path, runtime_python, source))
    runtime.start()
    try:
        # When it is invoked twice
        first = runtime.invoke(b"{}", request_id="req-1")
        second = runtime.invoke(b"{}", request_id="req-2")
    finally:
        runtime.stop()
    # Then each invocation's logs hold its own output between START and REPORT lines
    for result, request_id in ((first, "req-1"), (second, "req-2")):
        assert result.logs.startswith(f"START RequestId: {request_id} Version: $LATEST")
        for expected in (
            "printed line",
            "logged line",
            "stderr line",
            f"END RequestId: {request_id}",
            "REPORT",
        ):
            assert expected in result.logs
    assert "req-1" not in second.logs


def test_layer_python_folders_are_importable(tmp_path: Path, runtime_python: str) -> None:
    # Given two layers: one with python/, one with python/lib/python3.13/site-packages/
    first = tmp_path / "layer1"
    second = tmp_path / "layer2"
    write_module(first / "python", "shared", "WHO = 'layer1'\n")
    write_module(first / "python", "only_first", "VALUE = 1\n")
    write_module(
        second / "python" / "lib" / "python3.13" / "site-packages", "shared", "WHO = 'layer2'\n"
    )
    source = """
        import only_first
        import shared

        def handler(event, context):
            return {"shared": shared.WHO, "first": only_first.VALUE}
    """
    # When a function using both is invoked
    result = run_once(make_spec(tmp_path, runtime_python, source, layer_dirs=(first, second)), {})
    # Then both import, the later layer winning on a clash as when Lambda extracts layers in order
    assert result.json() == {"shared": "layer2", "first": 1}


def test_environment_and_context_are_passed(tmp_path: Path, runtime_python: str) -> None:
    # Given a function with its own variables and LocalStack's Lambda variables
    environment = {
        "AWS_LAMBDA_FUNCTION_NAME": "refresher",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": 512,
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "TOKEN_TABLE": "tokens",
    }
    source = """
        import os

        def handler(event, context):
            names = (
                "TOKEN_TABLE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION",
                "LAMBDA_TASK_ROOT", "_HANDLER",
            )
            return {
                "env": {name: os.environ.get(name) for name in names},
                "function_name": context.function_name,
                "request_id": context.aws_request_id,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "remaining": context.get_remaining_time_in_millis(),
                "log_group": context.log_group_name,
            }
    """
    spec = make_spec(tmp_path, runtime_python, source, environment=environment, timeout=7.0)
    runtime = LocalRuntime(spec)
    runtime.start()
    try:
        # When it is invoked
        arn = "arn:aws:lambda:eu-west-1:000000000000:function:refresher"
        body = runtime.invoke(b"{}", request_id="abc-123", invoked_function_arn=arn).json()
    finally:
        runtime.stop()
    # Then it sees its variables, the Lambda ones, and a complete context
    assert body["env"] == {
        "TOKEN_TABLE": "tokens",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": "app.handler",
    }
    assert (body["function_name"], body["request_id"], body["arn"]) == ("refresher", "abc-123", arn)
    assert body["memory"] == "512"
    assert 0 < body["remaining"] <= 7000
    assert body["log_group"] == "/aws/lambda/refresher"


def test_import_error_is_reported_like_lambda(tmp_path: Path, runtime_python: str) -> None:
    # Given a function whose module imports a package that is not there
    source = "import not_installed_anywhere\n\ndef handler(event, context):\n    return 1\n"
    # When it is invoked
    result = run_once(make_spec(tmp_path, runtime_python, source), {})
    # Then the invoke fails with Lambda's init error type
    assert result.is_error
    assert result.error_type == "Runtime.ImportModuleError"
    assert "not_installed_anywhere" in result.json()["errorMessage"]


def test_powertools_decorators_work(tmp_path: Path, runtime_python: str) -> None:
    # Given Powertools (copied from this interpreter's packages) in a layer
    layer_python = tmp_path / "powertools-layer" / "python"
    layer_python.mkdir(parents=True)
    for name in ("aws_lambda_powertools", "typing_extensions"):
        module = pytest.importorskip(name)
        origin = Path(str(module.__file__))
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, layer_python / name)
        else:
            shutil.copy(origin, layer_python)
    source = """
        from aws_lambda_powertools import Logger, Metrics
        from aws_lambda_powertools.metrics import MetricUnit

        logger = Logger(service="token-refresher")
        metrics = Metrics(namespace="TokenRefresher", service="token-refresher")

        @logger.inject_lambda_context
        @metrics.log_metrics
        def handler(event, context):
            logger.info("refreshing", extra={"platform": "meta"})
            metrics.add_metric(name="Refreshed", unit=MetricUnit.Count, value=1)
            return {"ok": True}
    """
    environment = {"AWS_LAMBDA_FUNCTION_NAME": "powertools-fn"}
    spec = make_spec(
        tmp_path,
        runtime_python,
        source,
        layer_dirs=(tmp_path / "powertools-layer",),
        environment=environment,
    )
    # When the decorated handler is invoked
    result = run_once(spec, {})
    # Then it succeeds, its JSON log line carries the Lambda context, and the metric is emitted
    assert result.json() == {"ok": True}, result.logs
    log_lines = [json.loads(line) for line in result.logs.splitlines() if line.startswith("{")]
    refreshing = next(line for line in log_lines if line.get("message") == "refreshing")
    assert refreshing["function_name"] == "powertools-fn"
    assert refreshing["platform"] == "meta"
    assert any("_aws" in line and "Refreshed" in line for line in log_lines)


def test_python_path_puts_code_first_and_later_layers_before_earlier(tmp_path: Path) -> None:
    # Given a code folder and two layers, the second with a site-packages folder
    code, first, second = tmp_path / "code", tmp_path / "l1", tmp_path / "l2"
    (second / "python" / "lib" / "python3.13" / "site-packages").mkdir(parents=True)
    # When the path entries are built
    entries = python_path_entries(code, [first, second])
    # Then the order follows Lambda's /var/task, then /opt (later layers overwrite earlier ones)
    assert entries == [
        str(code),
        str(second / "python" / "lib" / "python3.13" / "site-packages"),
        str(second / "python"),
        str(first / "python"),
    ]


def test_environment_is_clean_and_function_values_win(tmp_path: Path) -> None:
    # Given LocalStack's values (with ints and its container paths) and an inherited environment
    lambda_env = {
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": 256,
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_EXECUTION_ENV": "AWS_Lambda_rapid",
        "MY_SETTING": "x",
    }
    inherited = {"PATH": "/usr/bin", "SECRET_OF_THE_HOST": "no", "NO_PROXY": "internal"}
    # When the process environment is built
    env = build_environment(
        lambda_env,
        handler="app.handler",
        code_dir=tmp_path,
        runtime_api="127.0.0.1:1",
        inherited=inherited,
    )
    # Then it has the function's values as strings, real paths, and nothing else from the host
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["MY_SETTING"] == "x"
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path)
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:1"
    assert env["PATH"] == "/usr/bin"
    assert env["NO_PROXY"] == "internal,127.0.0.1,localhost"
    assert "SECRET_OF_THE_HOST" not in env


def test_the_call_recorder_reaches_functions_only_when_localstack_was_started_with_it(
    tmp_path: Path,
) -> None:
    # Given a LocalStack started with the recorder's site folder and call log, and one without
    with_recorder = {
        "PATH": "/usr/bin",
        "TR_LAMBDA_SITE_DIR": "/repo/tests/support/recorder_site",
        "TR_AWS_CALL_LOG": "/repo/.localstack/aws-calls.jsonl",
    }
    # When the function environments are built
    env = build_environment(
        {}, handler="app.handler", code_dir=tmp_path, runtime_api="x", inherited=with_recorder
    )
    plain = build_environment(
        {}, handler="app.handler", code_dir=tmp_path, runtime_api="x", inherited={"PATH": "/b"}
    )
    # Then the site folder comes last on the path (it shadows nothing) and the log is passed on
    assert env["PYTHONPATH"].split(":")[-1] == "/repo/tests/support/recorder_site"
    assert env["PYTHONPATH"].split(":")[0] == str(tmp_path)
    assert env["TR_AWS_CALL_LOG"] == "/repo/.localstack/aws-calls.jsonl"
    assert "recorder_site" not in plain["PYTHONPATH"]
    assert "TR_AWS_CALL_LOG" not in plain
