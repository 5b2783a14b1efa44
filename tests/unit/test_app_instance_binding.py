"""App credentials bound to instances: an app secret serves only the instances
its tag token-refresher:app-instances lists, checked in code before its value is read and by the
functions' IAM condition (template.yaml)."""

from __future__ import annotations

import pytest

from tests.support.fakes import TEST_INSTANCE
from tests.support.template import THIS_INSTANCE, load_template, statements
from tests.unit.conftest import APP_SECRET_ID, Harness
from token_refresher.config import Settings
from token_refresher.credentials.lookup import AppCredentialsLookup, require_app_instance
from token_refresher.errors import ConfigError
from token_refresher.providers import get_provider
from token_refresher.redact import Redactor
from token_refresher.rotation.engine import RotationEngine

pytestmark = pytest.mark.unit

TAG = "token-refresher:app-instances"
APP_INSTANCES = "aws:ResourceTag/token-refresher:app-instances"


def _bound_engine(harness: Harness) -> RotationEngine:
    engine = harness.engine
    engine.apps = AppCredentialsLookup(
        harness.store, lambda name: harness.provider, bound_to=TEST_INSTANCE
    )
    return engine


def test_another_instances_app_credentials_are_refused_before_their_value_is_read(
    harness: Harness,
) -> None:
    # Given stack "token-refresher" and a connection naming app credentials bound to "staging"
    harness.store.set_tags(APP_SECRET_ID, {TAG: "staging"})
    name = harness.add_secret("conn/uses-staging-app")
    engine = _bound_engine(harness)
    desc = harness.store.describe(name)
    doc = harness.store.current_doc(name)
    harness.store.calls.clear()
    # When its rotation looks the app credentials up
    with pytest.raises(ConfigError) as err:
        engine.apps.for_token(desc, doc, Redactor())
    # Then it is a config error naming the tag and both instances; the app's value was not read
    assert "not bound to this instance 'token-refresher'" in err.value.message
    assert f"{TAG} lists: staging" in err.value.message
    assert ("get_value", APP_SECRET_ID) not in harness.store.calls


def test_a_rotation_with_another_instances_app_alerts_once_and_calls_nobody(
    harness: Harness,
) -> None:
    harness.store.set_tags(APP_SECRET_ID, {TAG: "staging"})
    name = harness.add_secret("conn/rotates-with-staging-app")
    _bound_engine(harness)
    with pytest.raises(
        ConfigError, match="are not bound to this instance"
    ):  # the step fails, as Secrets Manager must see
        harness.rotate(name, "t-1", ("createSecret",))
    assert harness.provider.refresh_calls == 0
    assert harness.notifier.events() == ["token.config_invalid"]


@pytest.mark.parametrize(
    ("tag", "bound"),
    [
        ("token-refresher", True),
        ("staging token-refresher", True),
        ("token-refresher prod", True),
        ("a token-refresher b", True),
        ("token-refresher-staging", False),  # a name that starts like it
        ("refresher", False),
        ("", False),
        (None, False),
    ],
)
def test_the_tag_lists_instances_separated_by_spaces(
    harness: Harness, tag: str | None, bound: bool
) -> None:
    if tag is not None:
        harness.store.set_tags(APP_SECRET_ID, {TAG: tag})
    if bound:
        require_app_instance(harness.store, APP_SECRET_ID, TEST_INSTANCE)
    else:
        with pytest.raises(ConfigError, match="not bound"):
            require_app_instance(harness.store, APP_SECRET_ID, TEST_INSTANCE)


def test_binding_off_reads_by_name_as_before(harness: Harness) -> None:
    # Given AppSecretInstanceBinding=off (the engine's lookup not bound) and an untagged app
    name = harness.add_secret("conn/legacy-app")
    desc, doc = harness.store.describe(name), harness.store.current_doc(name)
    lookup = AppCredentialsLookup(harness.store, get_provider)
    assert lookup.for_token(desc, doc, Redactor()) is not None


def test_the_binding_is_required_unless_the_stack_says_off() -> None:
    assert Settings.from_env({}).app_instance_binding is True
    assert Settings.from_env({"APP_SECRET_INSTANCE_BINDING": "off"}).app_instance_binding is False
    with pytest.raises(ConfigError, match="APP_SECRET_INSTANCE_BINDING"):
        Settings.from_env({"APP_SECRET_INSTANCE_BINDING": "maybe"})


@pytest.mark.parametrize("function", ["RotationFunction", "ConnectFunction"])
@pytest.mark.parametrize("tag_required", [False, True])
def test_iam_reads_only_app_secrets_whose_tag_lists_this_instance(
    function: str, tag_required: bool
) -> None:
    # Given the template with the default AppSecretInstanceBinding=required
    template = load_template()
    assert template["Parameters"]["AppSecretInstanceBinding"]["Default"] == "required"
    conditions = {"AppSecretBound": True, "AppSecretTagRequired": tag_required, "ConnectOn": True}
    [statement] = [
        s for s in statements(template, function, conditions) if s.get("Sid") == "AppCredentials"
    ]
    # Then GetSecretValue on the prefix needs the instance as a whole word of the tag
    patterns = statement["Condition"]["StringLike"][APP_INSTANCES]
    assert patterns[0] == THIS_INSTANCE
    assert [p["Fn::Sub"][0] for p in patterns[1:]] == ["${I} *", "* ${I}", "* ${I} *"]
    assert all(p["Fn::Sub"][1] == {"I": THIS_INSTANCE} for p in patterns[1:])
    # and the app-for condition is kept when RequireAppSecretTag asks for it
    assert ("Null" in statement["Condition"]) is tag_required
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["APP_SECRET_INSTANCE_BINDING"] == {"Ref": "AppSecretInstanceBinding"}


def test_the_connect_function_may_read_an_app_secrets_tags() -> None:
    granted = statements(load_template(), "ConnectFunction", {"ConnectOn": True})
    [describe] = [s for s in granted if s.get("Sid") == "AppCredentialsInstanceTag"]
    assert describe["Action"] == "secretsmanager:DescribeSecret"
    assert describe["Resource"]["Fn::Sub"].endswith(":secret:${AppSecretPrefix}*")
