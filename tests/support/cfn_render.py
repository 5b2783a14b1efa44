"""template.yaml's function policies rendered for given parameter values, as CloudFormation and
the SAM transform would deploy them (each entry of a function's ``Policies`` becomes one inline
policy of its role).

Used where no stack is deployed: the integration layer's in-process handlers (the template's
policies for the values their environment stands for) and the two-instance negative matrix.
The e2e layer evaluates the policies LocalStack's IAM holds for the deployed roles instead
(tests/support/authz.py); tests/e2e/test_authorization_e2e.py checks both agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from tests.support.template import load_template

ACCOUNT = "000000000000"
REGION = "us-east-1"


@cache
def template() -> dict[str, Any]:
    return load_template()


_NO_VALUE = object()
# Resource types the template names: type -> (the name's property, its ARN before the name)
NAMED_BY_TEMPLATE = {
    "AWS::Events::EventBus": ("Name", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/"),
    "AWS::CloudWatch::Alarm": ("AlarmName", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:"),
}


class Renderer:
    """Resolves intrinsics for one stack: its name, parameter values and the physical ids of
    its resources (``bindings``: "AlertTopic" -> ARN, "RotationFunction.Arn" -> ARN; made up
    from the stack name when not given)."""

    def __init__(
        self, stack: str, params: Mapping[str, str] = {}, bindings: Mapping[str, str] = {}
    ) -> None:
        tpl = template()
        self.stack = stack
        self.params = {k: str(v.get("Default", "")) for k, v in tpl["Parameters"].items()}
        self.params.update({k: str(v) for k, v in params.items()})
        self.bindings = dict(bindings)
        self._conditions = tpl.get("Conditions", {})

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self._conditions[name]))

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::StackName": self.stack,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::NoValue": _NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.params:
            return self.params[name]
        return self.bindings.get(name) or self._made_up(name, "Ref")

    def _made_up(self, resource: str, attr: str) -> str:
        kind = template()["Resources"][resource]["Type"]
        physical = f"{self.stack}-{resource}"
        named = NAMED_BY_TEMPLATE.get(kind)
        if named:  # Ref is the name the template gives it
            field, arn_prefix = named
            name = self.resolve(template()["Resources"][resource]["Properties"][field])
            return str(name) if attr == "Ref" else f"{arn_prefix}{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{physical}"
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical}"
        if kind == "AWS::S3::Bucket":  # named by CloudFormation, lower case; ARNs without region
            return physical.lower() if attr == "Ref" else f"arn:aws:s3:::{physical.lower()}"
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}"
        return f"{physical}.{attr}"

    def getatt(self, resource: str, attr: str) -> Any:
        return self.bindings.get(f"{resource}.{attr}") or self._made_up(resource, attr)

    def sub(self, text: str, extra: Mapping[str, Any] = {}) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.getatt(*name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(n) for n in node]
            return [i for i in items if i is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Condition":
                return self.condition(value)
            if key.startswith("Fn::"):
                return self._function(key, value)
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}

    def _function(self, key: str, value: Any) -> Any:  # noqa: PLR0911 - one return per function
        if key == "Fn::If":
            return self.resolve(value[1] if self.condition(value[0]) else value[2])
        if key == "Fn::Sub":
            if isinstance(value, list):
                return self.sub(value[0], {k: self.resolve(v) for k, v in value[1].items()})
            return self.sub(value)
        if key == "Fn::GetAtt":
            return self.getatt(value[0], value[1])
        if key == "Fn::Join":
            items = self.resolve(value[1])
            return str(value[0]).join(
                str(i) for i in (items if isinstance(items, list) else [items])
            )
        if key == "Fn::Equals":
            left, right = (self.resolve(v) for v in value)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(value[0])
        if key == "Fn::And":
            return all(self.resolve(v) for v in value)
        if key == "Fn::Or":
            return any(self.resolve(v) for v in value)
        raise NotImplementedError(key)

    def function_policies(self) -> dict[str, list[dict[str, Any]]]:
        """Each function the stack creates -> its role's inline policies (from ``Policies``)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, resource in template()["Resources"].items():
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            policies = resource["Properties"].get("Policies", [])
            out[name] = [self.resolve(p) for p in policies if isinstance(p, dict)]
        return out

    def resource_policy(self, function: str, function_arn: str) -> dict[str, Any]:
        """The function's resource policy as Lambda builds it from the template's
        AWS::Lambda::Permission resources (AddPermission: principal, action, conditions)."""
        statements = []
        for name, resource in template()["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Permission":
                continue
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            props = resource["Properties"]
            target = props["FunctionName"]
            if function not in (target.get("Ref"), (target.get("Fn::GetAtt") or [None])[0]):
                continue
            statements.append(_permission_statement(name, props, function_arn, self))
        return {"Version": "2012-10-17", "Statement": statements}


def _permission_statement(
    sid: str, props: dict[str, Any], function_arn: str, renderer: Renderer
) -> dict[str, Any]:
    principal = renderer.resolve(props["Principal"])
    if principal != "*":
        principal = (
            {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal}
        )
    condition: dict[str, dict[str, str]] = {}
    if "SourceAccount" in props:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = renderer.resolve(
            props["SourceAccount"]
        )
    if "SourceArn" in props:
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = renderer.resolve(props["SourceArn"])
    if "FunctionUrlAuthType" in props:
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = props[
            "FunctionUrlAuthType"
        ]
    if props.get("InvokedViaFunctionUrl"):
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": renderer.resolve(props["Action"]),
        "Resource": function_arn,
    }
    return statement | ({"Condition": condition} if condition else {})
