"""Records every AWS API call made on behalf of a principal, for the authorization evaluation
(tests/support/authz.py, docs/aws-parity.md).

Test tooling only: it patches ``botocore.client.BaseClient._make_api_call`` in the process that
imports it. Two places do:

- the pytest process (tests/conftest.py), where in-process handlers act for the function they
  stand for and the CLI acts for a documented human role (``acting_as``);
- every function process the LocalStack executor starts, through ``recorder_site/sitecustomize.py``
  on PYTHONPATH, only when LocalStack was started by tools/localstack.sh with ``TR_AWS_CALL_LOG``
  (the principal is the deployed function, ``AWS_LAMBDA_FUNCTION_NAME``).

Each record names the principal, the action as IAM names it (``service:Action``), the resource
ARN, the resource's tags at that moment (looked up before the call, by a client that is not
recorded) and the request's tags. Standard library and botocore only: it runs inside functions.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

LOG_ENV = "TR_AWS_CALL_LOG"
PRINCIPAL_ENV = "TR_AWS_PRINCIPAL"
ACCOUNT = "000000000000"  # LocalStack's account: every ARN of the test bed is in it

# Operations whose IAM action has another name than the API operation.
_IAM_ACTION = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sns", "PublishBatch"): "Publish",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "HeadObject"): "GetObject",
}
_NO_RESOURCE = {("secretsmanager", "ListSecrets"), ("secretsmanager", "GetRandomPassword")}

Record = dict[str, Any]

_principal: dict[str, Any] | None = None  # a global, not a contextvar: engines use thread pools
_sink: Callable[[Record], None] | None = None
_guard = threading.local()
_lookups: dict[tuple[str, str, str], Any] = {}
_lookup_lock = threading.Lock()


def set_principal(principal: Mapping[str, Any] | None) -> None:
    global _principal  # noqa: PLW0603 - one principal per process at a time, by design
    _principal = dict(principal) if principal is not None else None


@contextlib.contextmanager
def acting_as(principal: Mapping[str, Any]) -> Iterator[None]:
    """Calls made inside are recorded as ``principal``'s (restores the previous one after)."""
    previous = _principal
    set_principal(principal)
    try:
        yield
    finally:
        set_principal(previous)


def install(sink: Callable[[Record], None]) -> None:
    """Patch botocore once; every later call made while a principal is set goes to ``sink``."""
    global _sink  # noqa: PLW0603 - the patch is process-wide
    from botocore.client import BaseClient

    _sink = sink
    if getattr(BaseClient._make_api_call, "_tr_recorded", False):
        return
    real = BaseClient._make_api_call

    def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if _principal is not None and _sink is not None and not getattr(_guard, "busy", False):
            principal = _principal
            for record in describe(self, operation_name, api_params):
                _sink({"principal": principal, **record})
        return real(self, operation_name, api_params)

    _make_api_call._tr_recorded = True  # type: ignore[attr-defined]
    BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]


def installed() -> bool:
    return _sink is not None


def file_sink(path: str) -> Callable[[Record], None]:
    """One JSON line per record, appended with a single write (several processes share it)."""

    def write(record: Record) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    return write


def install_from_environment() -> None:
    """In a function process: record as the deployed function, into $TR_AWS_CALL_LOG; in a CLI
    process a test starts: as the principal $TR_AWS_PRINCIPAL names (JSON)."""
    path = os.environ.get(LOG_ENV)
    named = os.environ.get(PRINCIPAL_ENV)
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    if not path or not (named or function):
        return
    set_principal(json.loads(named) if named else {"kind": "function", "function": function})
    install(file_sink(path))


# --- one API call -> the authorization requests AWS makes for it ---


def describe(client: Any, operation: str, params: Mapping[str, Any]) -> list[Record]:
    """The IAM requests behind one call (CreateSecret with tags and RotateSecret attaching a
    function also need a second permission, as AWS documents)."""
    service = client.meta.service_model.signing_name or client.meta.service_model.service_name
    region = client.meta.region_name or "us-east-1"
    action = f"{service}:{_IAM_ACTION.get((service, operation), operation)}"
    base: Record = {"operation": operation, "action": action, "region": region}
    if service == "secretsmanager":
        return _secretsmanager(client, operation, params, base)
    if service == "s3":  # S3 ARNs name no region or account; ListObjectsV2 acts on the bucket
        key = params.get("Key")
        arn = f"arn:aws:s3:::{params.get('Bucket', '*')}" + (f"/{key}" if key else "")
        return [{**base, "resource": arn}]
    if service == "events" and operation == "PutEvents":
        buses = {str(e.get("EventBusName") or "default") for e in params.get("Entries", [])}
        return [{**base, "resource": _bus_arn(b, region)} for b in sorted(buses) or ["default"]]
    return [{**base, "resource": _resource(service, operation, params, region)}]


def _secretsmanager(
    client: Any, operation: str, params: Mapping[str, Any], base: Record
) -> list[Record]:
    region = base["region"]
    if ("secretsmanager", operation) in _NO_RESOURCE:
        return [{**base, "resource": "*"}]
    secret_id = str(params.get("SecretId") or params.get("Name") or "")
    arn, tags = _secret_arn_and_tags(client, secret_id, region)
    request_tags = _request_tags(operation, params)
    record = {**base, "resource": arn, "resource_tags": tags, **request_tags}
    out = [record]
    if operation == "CreateSecret" and params.get("Tags"):
        out.append({**record, "action": "secretsmanager:TagResource"})
    if operation == "RotateSecret" and params.get("RotationLambdaARN"):
        function = _function_arn(str(params["RotationLambdaARN"]), region)
        out.append({**base, "action": "lambda:InvokeFunction", "resource": function})
    return out


def _request_tags(operation: str, params: Mapping[str, Any]) -> Record:
    if operation in ("CreateSecret", "TagResource"):
        tags = {str(t["Key"]): str(t["Value"]) for t in params.get("Tags") or []}
        return {"request_tags": tags, "tag_keys": sorted(tags)} if tags else {}
    if operation == "UntagResource":
        return {"request_tags": {}, "tag_keys": sorted(str(k) for k in params.get("TagKeys", []))}
    return {}


def _secret_arn_and_tags(client: Any, secret_id: str, region: str) -> tuple[str, dict[str, str]]:
    """The secret's ARN and tags now; a secret that does not exist (yet) gets the ARN AWS would
    authorize against: its name with a placeholder for the random suffix."""
    if secret_id.startswith("arn:"):
        fallback = secret_id
    else:
        fallback = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret_id}-AbCdEf"
    lookup = _lookup_client(client, "secretsmanager")
    _guard.busy = True
    try:
        found = lookup.describe_secret(SecretId=secret_id)
    except Exception:
        return fallback, {}
    finally:
        _guard.busy = False
    return str(found["ARN"]), {t["Key"]: t["Value"] for t in found.get("Tags", [])}


def _lookup_client(client: Any, service: str) -> Any:
    """A client of our own for the tag lookups (its calls are not recorded, no retries)."""
    import botocore.session
    from botocore.config import Config

    key = (service, str(client.meta.endpoint_url), str(client.meta.region_name))
    with _lookup_lock:
        if key not in _lookups:
            _lookups[key] = botocore.session.Session().create_client(
                service,
                endpoint_url=client.meta.endpoint_url,
                region_name=client.meta.region_name,
                aws_access_key_id="test",
                aws_secret_access_key="test",
                config=Config(retries={"max_attempts": 1}),
            )
        return _lookups[key]


def _resource(service: str, operation: str, params: Mapping[str, Any], region: str) -> str:
    if service == "sns":
        return str(params.get("TopicArn") or params.get("TargetArn") or "*")
    if service == "lambda" and params.get("FunctionName"):
        return _function_arn(str(params["FunctionName"]), region)
    if service == "sqs" and params.get("QueueUrl"):
        name = urlsplit(str(params["QueueUrl"])).path.rstrip("/").rsplit("/", 1)[-1]
        return f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
    if service == "cloudformation" and params.get("StackName"):
        stack = str(params["StackName"])
        if stack.startswith("arn:"):
            return stack
        stack_id = "00000000-0000-0000-0000-000000000000"  # any: policies name stack/<name>/*
        return f"arn:aws:cloudformation:{region}:{ACCOUNT}:stack/{stack}/{stack_id}"
    return "*"


def _function_arn(name: str, region: str) -> str:
    if name.startswith("arn:"):
        parts = name.split(":")
        return ":".join(parts[:7])  # no qualifier: permissions are on the function
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name.split(':', maxsplit=1)[0]}"


def _bus_arn(bus: str, region: str) -> str:
    return bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{bus}"
