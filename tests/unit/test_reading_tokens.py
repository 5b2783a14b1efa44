"""docs/reading-tokens.md: the reader example (docs/examples/read_token.py) run against an
in-memory Secrets Manager client, and the reader's IAM policy (docs/policies/reader.json) evaluated
with the IAM policy simulator like the other documented policies (tests/support/authz.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from tests.support import authz, examples
from tests.support.cfn_render import ACCOUNT, REGION

pytestmark = pytest.mark.unit

EXAMPLE = examples.EXAMPLES / "read_token.py"
DOC = authz.REPO_ROOT / "docs" / "reading-tokens.md"
NAME = "token-refresher/connections/acme-google"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


example = examples.load("read_token")


class InMemorySecretsManager:
    """GetSecretValue of AWSCURRENT, as Secrets Manager answers it; counts the reads."""

    def __init__(self) -> None:
        self.current: dict[str, dict[str, Any]] = {}
        self.reads: list[dict[str, Any]] = []

    def put(self, name: str, token: str, expires_at: datetime | None) -> None:
        self.current[name] = {
            "schema": 1,
            "provider": "google_ads",
            "access_token": token,
            "refresh_token": "refresh-token-of-the-refresher",
            "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if expires_at else None,
        }

    def get_secret_value(self, **params: Any) -> dict[str, Any]:
        self.reads.append(params)
        return {
            "Name": params["SecretId"],
            "SecretString": json.dumps(self.current[params["SecretId"]]),
        }


@pytest.fixture
def sm() -> InMemorySecretsManager:
    sm = InMemorySecretsManager()
    sm.put(NAME, "access-1", NOW + timedelta(minutes=50))
    return sm


def reader(sm: InMemorySecretsManager) -> Any:
    return example.TokenReader(SecretsProvider(boto3_client=sm), max_age=300, clock=lambda: NOW)  # type: ignore[arg-type]


def test_a_pipeline_reads_the_current_token_once_per_cache_period(sm):
    # Given a reader with a 5-minute cache
    tokens = reader(sm)
    # When a pipeline asks for the token a hundred times
    got = {tokens.access_token(NAME) for _ in range(100)}
    # Then it got the current token, from one GetSecretValue of AWSCURRENT (no stage named)
    assert got == {"access-1"}
    assert sm.reads == [{"SecretId": NAME}]


def test_a_token_rotated_under_the_reader_is_read_again_and_the_call_retried_once(sm):
    # Given a reader that cached access-1, then the refresher rotated the connection to access-2
    tokens = reader(sm)
    tokens.access_token(NAME)
    sm.put(NAME, "access-2", NOW + timedelta(minutes=60))
    seen: list[str] = []

    def report(token: str) -> str:
        seen.append(token)
        if token != "access-2":
            raise example.Unauthorized("401")
        return "rows"

    # When the pipeline's call is refused with the cached token
    result = tokens.call(NAME, report)
    # Then the reader read AWSCURRENT again (past its cache) and the retry succeeded
    assert result == "rows"
    assert seen == ["access-1", "access-2"]
    assert len(sm.reads) == 2


def test_a_token_refused_twice_is_not_retried_again_and_never_refreshed(sm):
    # Given a platform that refuses every token (a revoked grant)
    tokens = reader(sm)
    seen: list[str] = []

    def report(token: str) -> str:
        seen.append(token)
        raise example.Unauthorized("401")

    # When the pipeline calls
    with pytest.raises(example.Unauthorized, match="401"):
        tokens.call(NAME, report)
    # Then it tried twice (cached, then freshly read) and never used the refresh token
    assert seen == ["access-1", "access-1"]
    assert len(sm.reads) == 2
    code = EXAMPLE.read_text().split('"""', 2)[2]  # after the module docstring
    assert "refresh_token" not in code


def test_a_cached_token_near_its_expiry_is_read_again_and_an_expired_one_is_refused(sm):
    # Given a reader that cached a token, which then came within a minute of its expires_at
    sm.put(NAME, "access-1", NOW + timedelta(seconds=30))
    tokens = reader(sm)
    # When the refresher has not rotated it (the connection is failing)
    with pytest.raises(example.TokenUnavailable) as refused:
        tokens.access_token(NAME)
    # Then the reader read once more past the cache, and refuses, naming the connection only
    assert len(sm.reads) == 2
    assert NAME in str(refused.value)
    assert "access-1" not in str(refused.value)
    # And once the refresher stored a new token, the next read returns it
    sm.put(NAME, "access-2", NOW + timedelta(minutes=60))
    assert tokens.access_token(NAME) == "access-2"


def test_a_token_that_never_expires_is_returned(sm):
    sm.put(NAME, "system-user-token", None)
    assert reader(sm).access_token(NAME) == "system-user-token"


# --- the reader's policy --------------------------------------------------------------------------


SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
PREFIX = "token-refresher/connections/"


def reader_policy(connection: str, instance: str = "tr-a") -> dict[str, Any]:
    policy = authz.reader_policy(connection, instance=instance, prefix=PREFIX)
    assert "<" not in json.dumps(policy)
    return policy


def request(action: str, name: str, tags: dict[str, str], stage: str | None) -> dict[str, Any]:
    context: dict[str, Any] = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
    if stage:
        context["secretsmanager:VersionStage"] = stage
    return {
        "principal": f"arn:aws:iam::{ACCOUNT}:role/pipeline",
        "action": action,
        "resource": f"{SECRET}{name}-AbCdEf",
        "context": context,
        "identityPolicies": [{"name": "reader", "policy": reader_policy("acme-google")}],
    }


OWN = {"token-refresher:managed": "true", "token-refresher:instance": "tr-a"}
OTHER = {"token-refresher:managed": "true", "token-refresher:instance": "tr-b"}
CASES = {
    # name: (action, secret name, its tags, version stage asked, allowed?)
    "the-named-connection": (
        "secretsmanager:GetSecretValue",
        PREFIX + "acme-google",
        OWN,
        None,
        True,
    ),
    "its-AWSCURRENT": (
        "secretsmanager:GetSecretValue",
        PREFIX + "acme-google",
        OWN,
        "AWSCURRENT",
        True,
    ),
    "its-AWSPENDING": (
        "secretsmanager:GetSecretValue",
        PREFIX + "acme-google",
        OWN,
        "AWSPENDING",
        False,
    ),
    "another-connection": ("secretsmanager:GetSecretValue", PREFIX + "acme-meta", OWN, None, False),
    "a-longer-name": ("secretsmanager:GetSecretValue", PREFIX + "acme-google-2", OWN, None, False),
    "same-name-other-instance": (
        "secretsmanager:GetSecretValue",
        PREFIX + "acme-google",
        OTHER,
        None,
        False,
    ),
    "app-credentials": (
        "secretsmanager:GetSecretValue",
        "token-refresher/apps/google-main",
        {},
        None,
        False,
    ),
    "writing-it": ("secretsmanager:PutSecretValue", PREFIX + "acme-google", OWN, None, False),
    "listing": ("secretsmanager:ListSecrets", "*", {}, None, False),
    "rotating-it": ("secretsmanager:RotateSecret", PREFIX + "acme-google", OWN, None, False),
}


@pytest.fixture(scope="module")
def decisions() -> dict[str, str]:
    results = authz.simulate([request(a, n, t, s) for a, n, t, s, _ in CASES.values()])
    return {name: r["decision"] for name, r in zip(CASES, results, strict=True)}


@pytest.mark.parametrize("case", list(CASES))
def test_the_reader_policy_allows_getsecretvalue_of_named_connections_only(decisions, case):
    # Given the reader's policy for one named connection of instance tr-a
    *_, allowed = CASES[case]
    # Then the simulator allows reading that connection's current value and nothing else
    assert (decisions[case] == "Allowed") is allowed, decisions[case]


def test_the_doc_links_the_policy_and_the_example_and_explains_every_placeholder():
    text = DOC.read_text()
    assert "(policies/reader.json)" in text
    assert "(examples/read_token.py)" in text
    for placeholder in set(
        re.findall(r"<[A-Za-z]+>", (authz.POLICY_DIR / "reader.json").read_text())
    ):
        assert f"`{placeholder}`" in text
