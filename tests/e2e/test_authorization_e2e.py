"""The deployed stack's policies as the authorization evaluation sees them (tests/support/authz.py):
LocalStack's IAM copies of the role policies are the template's (so the recorded calls are
evaluated against what was deployed), while its copies of the functions' resource policies lose
their conditions, so those are rendered from the template, as Lambda's AddPermission builds them,
and evaluated with the simulator: the public Function URL's, and the rotation function's for
Secrets Manager (docs/aws-parity.md)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import E2E_STACK, SWEEP_RATE_MINUTES, Deployed
from tests.support import authz
from tests.support.cfn_render import ACCOUNT, Renderer

pytestmark = [pytest.mark.e2e, pytest.mark.no_product_calls]


def _normal(policy: dict[str, Any]) -> list[tuple[str, ...]]:
    """Statements as comparable tuples (one string or a list of one is the same to IAM)."""

    def listed(value: Any) -> tuple[str, ...]:
        return tuple(sorted([value] if isinstance(value, str) else value or []))

    out = []
    for statement in policy["Statement"]:
        condition = {
            op: {key: listed(v) for key, v in sorted(pairs.items())}
            for op, pairs in sorted(statement.get("Condition", {}).items())
        }
        out.append(
            (
                str(statement.get("Sid")),
                statement["Effect"],
                *listed(statement["Action"]),
                "|",
                *listed(statement["Resource"]),
                repr(condition),
            )
        )
    return sorted(out)


@pytest.fixture(scope="module")
def deployment(deployed: Deployed) -> authz.Deployment:
    return authz.DEPLOYMENTS[E2E_STACK]


def test_localstacks_role_policies_are_the_templates_rendered_for_the_stack(deployed, deployment):
    # Given the template rendered for the deployed stack's parameters and resources
    rendered = Renderer(
        E2E_STACK,
        {
            "SweepRateMinutes": str(SWEEP_RATE_MINUTES),
            "TracingDisabled": "true",
            "Incidents": "false",  # as tests/support/stack.py deploys it
        },
        {
            "AlertTopic": deployed.outputs["AlertTopicArn"],
            "RotationFunction.Arn": deployed.outputs["RotationFunctionArn"],
        },
    ).function_policies()
    # When each deployed function's inline policies are read back from LocalStack's IAM
    for logical, _, policies in deployment.functions.values():
        inline = [p["policy"] for p in policies if p["name"].startswith(f"{logical}RolePolicy")]
        # Then they are the template's, statement for statement (nothing lost or added)
        assert [_normal(p) for p in inline] == [_normal(p) for p in rendered[logical]], logical
    assert {f[0] for f in deployment.functions.values()} == set(rendered)


def test_localstack_keeps_each_permission_but_not_always_its_conditions(deployment):
    # Given the connect and rotation functions' resource policies as LocalStack holds them
    for logical in ("ConnectFunction", "RotationFunction"):
        [name] = [n for n, f in deployment.functions.items() if f[0] == logical]
        arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
        held = deployment.resource_policies[logical]["Statement"]
        expected = Renderer(E2E_STACK).resource_policy(logical, arn)["Statement"]
        # Then every permission of the template is there (principal and action)...
        for statement in expected:
            assert any(
                h["Action"] == statement["Action"] and h["Principal"] == statement["Principal"]
                for h in held
            ), (logical, statement, held)
    # ...but a condition may be missing, which is why the evaluation renders them (aws-parity.md)


def _anonymous(
    action: str, resource: str, policy: dict[str, Any], **context: str
) -> dict[str, Any]:
    return {
        "principal": "*",
        "action": action,
        "resource": resource,
        "context": context,
        "resourcePolicy": policy,
    }


def test_the_public_url_admits_anyone_only_through_the_url(deployment):
    # Given the connect function's resource policy as deployed
    [name] = [n for n, f in deployment.functions.items() if f[0] == "ConnectFunction"]
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    policy = Renderer(E2E_STACK).resource_policy("ConnectFunction", arn)
    # When anonymous requests are evaluated: through the URL (both permissions AWS requires
    # since October 2025), and a direct invoke
    results = authz.simulate(
        [
            _anonymous(
                "lambda:InvokeFunctionUrl", arn, policy, **{"lambda:FunctionUrlAuthType": "NONE"}
            ),
            _anonymous(
                "lambda:InvokeFunction", arn, policy, **{"lambda:InvokedViaFunctionUrl": "true"}
            ),
            _anonymous("lambda:InvokeFunction", arn, policy),
        ]
    )
    # Then the URL works for anyone (each request carries a signed link), a direct invoke does not
    assert [r["decision"] for r in results[:2]] == ["Allowed", "Allowed"], results
    assert results[2]["decision"] != "Allowed"


def test_only_this_accounts_secrets_manager_may_invoke_the_rotation_function(deployment):
    # Given the rotation function's resource policy as deployed
    [name] = [n for n, f in deployment.functions.items() if f[0] == "RotationFunction"]
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    policy = Renderer(E2E_STACK).resource_policy("RotationFunction", arn)

    def invoke(account: str) -> dict[str, Any]:
        return {
            "principal": "secretsmanager.amazonaws.com",
            "action": "lambda:InvokeFunction",
            "resource": arn,
            "context": {"aws:SourceAccount": account},
            "resourcePolicy": policy,
        }

    # When Secrets Manager invokes it for a secret of this account, and of another
    results = authz.simulate([invoke(ACCOUNT), invoke("111122223333")])
    # Then only the first is allowed
    assert [r["decision"] for r in results] == ["Allowed", "ImplicitlyDenied"], results
