"""The authorization evaluation: every recorded AWS call (tests/support/aws_calls.py) evaluated
with an IAM policy simulator (@cloud-copilot/iam-simulate, tests/authz_sim/) against the
policies of the principal that made it. docs/aws-parity.md explains why and what it covers.

Principals and their policies:
- a deployed function (e2e: calls recorded in the function's own process): its role's inline and
  attached policies as LocalStack's IAM holds them, read right after the deploy (``snapshot``);
- an in-process handler (integration): the template's policies for that function, rendered for
  the instance, topic and rotation function its environment names (tests/support/cfn_render.py);
- the CLI: the documented human role (docs/policies/*.json) for the stack it acted on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.support import aws_calls
from tests.support.cfn_render import ACCOUNT, REGION, Renderer, template

REPO_ROOT = Path(__file__).resolve().parents[2]
SIMULATOR_DIR = REPO_ROOT / "tests" / "authz_sim"
POLICY_DIR = REPO_ROOT / "docs" / "policies"
# tools/localstack.sh's TR_AWS_CALL_LOG: in the state folder of the LocalStack on this port
CALL_LOG = REPO_ROOT / ".localstack" / os.environ.get("LOCALSTACK_PORT", "4566") / "aws-calls.jsonl"
# Which documented human role runs each CLI command (docs/security.md, docs/policies/).
COMMAND_ROLES = {
    "onboard": "app-credential-owner",
    "status": "operator",
    "rotate": "operator",
    "link": "operator",
    "connect": "operator",
    "check": "operator",
    "adopt": "operator",
}
# Functions the LocalStack executor's own tests create (tests/tooling/test_localstack_lambda.py):
# test tooling with no product role, so their calls are counted apart, never evaluated.
TOOLING_FUNCTIONS = "tooling-"
HUMAN_ROLES = ("connection-creator", "operator", "app-credential-owner")

Policy = dict[str, Any]
RECORDS: list[dict[str, Any]] = []  # this process's calls (in-process handlers and the CLI)


# --- principals ---


def function_of(function_dir: str) -> str:
    """The template's function whose code is functions/<function_dir>/."""
    for name, resource in template()["Resources"].items():
        code = str(resource.get("Properties", {}).get("CodeUri", "")).strip("/")
        if resource["Type"] == "AWS::Serverless::Function" and code == f"functions/{function_dir}":
            return str(name)
    raise KeyError(f"no function of template.yaml has its code in functions/{function_dir}/")


def handler_principal(function_dir: str) -> dict[str, Any]:
    """The function an in-process handler stands for, with what its environment names."""
    env = os.environ
    instance = env.get("INSTANCE_NAME", "")
    key = env.get("CONNECT_KEY_SECRET_ID", "")
    stack = key.split("/connect-signing-key", 1)[0] if "/connect-signing-key" in key else instance
    queue = env.get("ROTATION_QUEUE_URL", "")
    bindings = {
        "AlertTopic": env.get("ALERT_TOPIC_ARN", ""),
        "RotationFunction.Arn": env.get("ROTATION_FUNCTION_ARN", ""),
    }
    if queue:
        name = queue.rstrip("/").rsplit("/", 1)[-1]
        bindings["RotationQueue.Arn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    params = {
        "InstanceName": instance if instance != stack else "",
        "DispatchMode": "queue" if queue else "direct",
        "AdoptUntagged": env.get("ADOPT_UNTAGGED", "false"),
    }
    return {
        "kind": "handler",
        "function": function_of(function_dir),
        "stack": stack,
        "params": params,
        "bindings": {k: v for k, v in bindings.items() if v},
    }


def cli_principal(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
    """The documented human role that runs ``token-refresher ARGV``, for the stack it names."""
    command = next((a for a in argv if not a.startswith("-")), "")
    stack = env.get("TOKEN_REFRESHER_STACK") or os.environ.get(
        "TOKEN_REFRESHER_STACK", "token-refresher"
    )
    if "--stack-name" in argv:
        stack = argv[list(argv).index("--stack-name") + 1]
    return {"kind": "human", "role": COMMAND_ROLES.get(command, "operator"), "stack": stack}


# --- what each principal may do ---


@dataclass
class Deployment:
    """One deployed stack as its IAM holds it: function name -> (logical id, role, policies)."""

    stack: str
    instance: str
    functions: dict[str, tuple[str, str, list[Policy]]] = field(default_factory=dict)
    resource_policies: dict[str, Policy] = field(default_factory=dict)  # logical id -> policy
    bus_policies: dict[str, Policy] = field(default_factory=dict)  # event bus ARN -> policy


DEPLOYMENTS: dict[str, Deployment] = {}


def snapshot(endpoint: str, stack_name: str, outputs: Mapping[str, str]) -> Deployment:
    """Read the deployed functions' role policies (inline and attached) from LocalStack's IAM,
    and each function's resource policy, before anything can delete the stack."""
    from tests.support import stack as stack_support

    cfn = stack_support.client("cloudformation", endpoint)
    lam = stack_support.client("lambda", endpoint)
    iam = stack_support.client("iam", endpoint)
    deployment = Deployment(stack_name, outputs.get("InstanceName", stack_name))
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    for res in resources:
        if res["ResourceType"] != "AWS::Lambda::Function":
            continue
        name = res["PhysicalResourceId"]
        role_arn = lam.get_function(FunctionName=name)["Configuration"]["Role"]
        policies = _role_policies(iam, role_arn.rsplit("/", 1)[-1])
        deployment.functions[name] = (res["LogicalResourceId"], role_arn, policies)
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
            deployment.resource_policies[res["LogicalResourceId"]] = policy
    if outputs.get("RequestBusArn"):  # rendered, as the functions' resource policies are
        described = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        params = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
        raw = template()["Resources"]["RequestBus"]["Properties"]["Policy"]
        bus_policy = Renderer(stack_name, params).resolve(raw)
        deployment.bus_policies[outputs["RequestBusArn"]] = dict(bus_policy)
    return register(deployment)


def register(deployment: Deployment) -> Deployment:
    """Remember a deployment for the evaluation. The same stack name deployed again this session
    (the README demo, then the getting-started walk) keeps the earlier functions' roles too."""
    earlier = DEPLOYMENTS.get(deployment.stack)
    if earlier is not None:
        deployment.functions = earlier.functions | deployment.functions
        deployment.resource_policies = earlier.resource_policies | deployment.resource_policies
        deployment.bus_policies = earlier.bus_policies | deployment.bus_policies
    DEPLOYMENTS[deployment.stack] = deployment
    return deployment


def resource_policy_of(resource: str) -> Policy | None:
    """The resource policy a deployed stack put on ``resource`` (its request bus, a function),
    so that every evaluation includes it (a Deny there refuses what an identity policy allows)."""
    for deployment in DEPLOYMENTS.values():
        if resource in deployment.bus_policies:
            return deployment.bus_policies[resource]
        name = (
            resource.split(":function:", 1)[-1].split(":", 1)[0] if ":function:" in resource else ""
        )
        if name in deployment.functions:
            return deployment.resource_policies.get(deployment.functions[name][0])
    return None


def _role_policies(iam: Any, role: str) -> list[Policy]:
    out = []
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        out.append({"name": name, "policy": _document(document)})
    for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        arn = attached["PolicyArn"]
        try:
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)
        except iam.exceptions.NoSuchEntityException:
            continue  # an AWS-managed policy LocalStack does not carry (logs, X-Ray)
        out.append(
            {
                "name": attached["PolicyName"],
                "policy": _document(document["PolicyVersion"]["Document"]),
            }
        )
    return out


def _document(document: Any) -> Policy:
    return dict(json.loads(document)) if isinstance(document, str) else dict(document)


DEFAULT_CONNECTION_PREFIX = "token-refresher/connections/"  # template.yaml's ConnectionPrefix
ANY_NAME = "*"  # the recorded-call evaluation only: the tests name their connections freely


def human_policy(
    role: str, *, instance: str, stack: str, connection_prefix: str = DEFAULT_CONNECTION_PREFIX
) -> Policy:
    """docs/policies/<role>.json with its placeholders filled in. An empty ConnectionPrefix is
    refused, as the template refuses it: without it no name boundary holds (docs/security.md)."""
    if not connection_prefix:
        raise ValueError("ConnectionPrefix must not be empty (docs/security.md)")
    text = (POLICY_DIR / f"{role}.json").read_text()
    for placeholder, value in {
        "<AccountId>": ACCOUNT,
        "<Region>": REGION,
        "<InstanceName>": instance,
        "<StackName>": stack,
        "<ConnectionPrefix>": connection_prefix,
        "<AppSecretPrefix>": "token-refresher/apps/",
    }.items():
        text = text.replace(placeholder, value)
    return dict(json.loads(text))


@cache
def _rendered(stack: str, params: str, bindings: str) -> dict[str, list[Policy]]:
    renderer = Renderer(stack, json.loads(params), json.loads(bindings))
    return renderer.function_policies()


def rendered_policies(
    stack: str, params: Mapping[str, str], bindings: Mapping[str, str]
) -> dict[str, list[Policy]]:
    return _rendered(
        stack, json.dumps(params, sort_keys=True), json.dumps(bindings, sort_keys=True)
    )


def identity_of(principal: Mapping[str, Any]) -> tuple[str, str, list[Policy]] | None:
    """(label, principal ARN, named policies) of a recorded principal; None: not ours."""
    kind = principal.get("kind")
    if kind == "function":
        for deployment in DEPLOYMENTS.values():
            if principal["function"] in deployment.functions:
                logical, role_arn, policies = deployment.functions[principal["function"]]
                return f"{deployment.stack}/{logical} (deployed)", role_arn, policies
        return None
    if kind == "handler":
        docs = rendered_policies(principal["stack"], principal["params"], principal["bindings"])
        named = [
            {"name": f"policy{i}", "policy": p} for i, p in enumerate(docs[principal["function"]])
        ]
        role = f"arn:aws:iam::{ACCOUNT}:role/{principal['stack']}-{principal['function']}Role"
        return f"{principal['stack']}/{principal['function']} (in-process)", role, named
    if kind == "human":
        stack = principal["stack"]
        deployment = DEPLOYMENTS.get(stack)
        instance = deployment.instance if deployment else stack
        policy = human_policy(
            principal["role"], instance=instance, stack=stack, connection_prefix=ANY_NAME
        )
        role = f"arn:aws:iam::{ACCOUNT}:role/{principal['role']}"
        return (
            f"{principal['role']} of {stack} (CLI)",
            role,
            [{"name": principal["role"], "policy": policy}],
        )
    return None


# --- evaluation ---


def context_of(record: Mapping[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    for key, value in (record.get("resource_tags") or {}).items():
        context[f"aws:ResourceTag/{key}"] = value
    for key, value in (record.get("request_tags") or {}).items():
        context[f"aws:RequestTag/{key}"] = value
    if record.get("tag_keys"):
        context["aws:TagKeys"] = list(record["tag_keys"])
    context.update(record.get("context") or {})
    return context


def simulate(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluate the requests in one simulator process (tests/authz_sim/simulate.mjs)."""
    node = shutil.which("node")  # checked first: a missing simulator fails even with nothing to do
    if node is None or not (SIMULATOR_DIR / "node_modules" / "@cloud-copilot").is_dir():
        raise RuntimeError("the IAM policy simulator is not installed: run `make authz-sim`")
    if not requests:
        return []
    result = subprocess.run(
        [node, str(SIMULATOR_DIR / "simulate.mjs")],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the IAM policy simulator failed:\n{result.stderr[-4000:]}")
    return list(json.loads(result.stdout))


@dataclass
class Report:
    calls: int = 0
    pairs: set[tuple[str, str]] = field(default_factory=set)
    denied: list[str] = field(default_factory=list)
    unattributed: int = 0
    tooling: int = 0  # calls of the test tooling's own functions (TOOLING_FUNCTIONS), not evaluated
    unattributed_by: set[str] = field(default_factory=set)  # who made them (function names...)
    from_functions: int = 0
    requests: int = 0  # distinct requests the simulator evaluated
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)  # function / handler / human

    def line(self) -> str:
        return (
            f"authorization: {self.calls} calls evaluated, {len(self.pairs)} distinct "
            f"(principal, action) pairs, {len(self.denied)} denied "
            f"({self.requests} distinct requests simulated in {self.seconds:.1f} s; calls by "
            f"deployed functions {self.by_kind.get('function', 0)}, in-process handlers "
            f"{self.by_kind.get('handler', 0)}, the CLI {self.by_kind.get('human', 0)})"
        )


def explain(result: Mapping[str, Any]) -> str:
    """Which statement is missing, in words."""
    if result.get("decision") == "Error":
        return f"the simulator refused the request: {json.dumps(result.get('errors'))[:600]}"
    if result.get("deniedBy"):
        return f"explicitly denied by {', '.join(result['deniedBy'])}"
    misses = result.get("nearMisses") or []
    if not misses:
        return "no statement allows this action on this resource"
    parts = []
    for miss in misses:
        failed = "; ".join(
            f"{c['operator']} {c['key']} (request has {c['got']!r})" for c in miss["failed"]
        )
        parts.append(
            f"{miss['policy']}/{miss['sid'] or '?'} names it but its condition fails: {failed}"
        )
    return " | ".join(parts)


def evaluate(records: Iterable[Mapping[str, Any]]) -> Report:
    """Simulate every record; distinct requests are evaluated once."""
    report = Report()
    unique: dict[str, tuple[str, dict[str, Any], Mapping[str, Any]]] = {}
    for record in records:
        identity = identity_of(record["principal"])
        if str(record["principal"].get("function", "")).startswith(TOOLING_FUNCTIONS):
            report.tooling += 1  # the executor's own tests (tests/tooling/): no product role
            continue
        if identity is None:
            report.unattributed += 1
            who = record["principal"]
            report.unattributed_by.add(str(who.get("function") or who.get("role") or who))
            continue
        label, principal_arn, policies = identity
        report.calls += 1
        kind = str(record["principal"].get("kind"))
        report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
        report.from_functions += kind == "function"
        report.pairs.add((label, record["action"]))
        request = {
            "principal": principal_arn,
            "action": record["action"],
            "resource": record["resource"],
            "context": context_of(record)
            | {"aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": ACCOUNT},
            "identityPolicies": policies,
        }
        resource_policy = resource_policy_of(record["resource"])
        if resource_policy is not None:
            request["resourcePolicy"] = resource_policy
        unique.setdefault(json.dumps(request, sort_keys=True), (label, request, record))
    started = time.monotonic()
    results = simulate([request for _, request, _ in unique.values()])
    report.requests, report.seconds = len(unique), time.monotonic() - started
    for (label, request, record), result in zip(unique.values(), results, strict=True):
        if result.get("decision") != "Allowed":
            context = json.dumps(request["context"], sort_keys=True)
            report.denied.append(
                f"{label}: {record['action']} on {request['resource']} "
                f"(operation {record.get('operation')}, context {context}) "
                f"-> {result.get('decision')}: {explain(result)}"
            )
    return report


def read_call_log(offset: int) -> list[dict[str, Any]]:
    """Records the function processes appended to the call log after ``offset`` bytes."""
    if not CALL_LOG.exists():
        return []
    with CALL_LOG.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().splitlines()
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line a function process is still writing
    return out


def recorder_in_localstack() -> bool:
    """Whether the LocalStack on this port was started with the call log (its environment, read
    from /proc; False where that cannot be read): then no function call means none was made."""
    pid_file = CALL_LOG.parent / "localstack.pid"
    try:
        environ = Path(f"/proc/{int(pid_file.read_text())}/environ").read_bytes()
    except (OSError, ValueError):
        return False
    return f"{aws_calls.LOG_ENV}={CALL_LOG}".encode() in environ.split(b"\0")


def call_log_size() -> int:
    return CALL_LOG.stat().st_size if CALL_LOG.exists() else 0


@contextlib.contextmanager
def calls_made(*, take: bool = False) -> Iterator[list[dict[str, Any]]]:
    """The calls this process records inside the block, for a test that evaluates them itself;
    ``take``: also out of the session's evaluation (a case that is a strict xfail until the
    fix of a known denial lands)."""
    start = len(RECORDS)
    made: list[dict[str, Any]] = []
    try:
        yield made
    finally:
        made.extend(RECORDS[start:])
        if take:
            del RECORDS[start:]


def install_recorder() -> None:
    aws_calls.install(RECORDS.append)


def subprocess_env(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    """Variables that make a `token-refresher` subprocess record its calls as the documented
    role that runs ``argv`` (into the call log the session reads); nothing when not recording."""
    if not recording():
        return {}
    path = [str(REPO_ROOT / "tests" / "support" / "recorder_site")]
    if env.get("PYTHONPATH"):
        path.append(env["PYTHONPATH"])
    return {
        "PYTHONPATH": os.pathsep.join(path),
        aws_calls.LOG_ENV: str(CALL_LOG),
        aws_calls.PRINCIPAL_ENV: json.dumps(cli_principal(argv, env)),
    }


def recording() -> bool:
    return aws_calls.installed()


def reader_policy(connection_name: str, *, instance: str, prefix: str) -> Policy:
    """docs/policies/reader.json (docs/reading-tokens.md) for one connection, ``prefix`` +
    ``connection_name``, of ``instance``."""
    text = (POLICY_DIR / "reader.json").read_text()
    for placeholder, value in {
        "<AccountId>": ACCOUNT,
        "<Region>": REGION,
        "<InstanceName>": instance,
        "<ConnectionPrefix>": prefix,
        "<ConnectionName>": connection_name,
    }.items():
        text = text.replace(placeholder, value)
    return dict(json.loads(text))
