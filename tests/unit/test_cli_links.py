"""`token-refresher link` and `connect`: links for existing and new connections."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.support.fakes import TEST_INSTANCE, FixedClock, InMemorySecretStore
from tests.unit.test_cli import err, make_ctx, out
from token_refresher.connect.links import LINK_PARAM, Link
from token_refresher_cli.app import main
from token_refresher_cli.aws import Aws

pytestmark = pytest.mark.unit

KEY_ID = "tr/connect-signing-key"
KEY = "s" * 64
URL = "https://abc.lambda-url.us-east-1.on.aws/"


class FakeSecretsClient:
    def __init__(self, store: InMemorySecretStore) -> None:
        self.store = store

    def create_secret(
        self, *, Name: str, SecretString: str, Tags: list[dict[str, str]], **_: Any
    ) -> dict[str, str]:
        self.store.create(Name, SecretString, tags={t["Key"]: t["Value"] for t in Tags})
        return {"ARN": Name}


class StackAws(Aws):
    def __init__(self, store: InMemorySecretStore, outputs: dict[str, str]) -> None:
        super().__init__()
        self._client = FakeSecretsClient(store)
        self._outputs = outputs

    def client(self, service: str) -> Any:
        assert service == "secretsmanager"
        return self._client

    def stack_outputs(self, stack_name: str) -> dict[str, str]:
        return self._outputs


@pytest.fixture
def store() -> InMemorySecretStore:
    store = InMemorySecretStore()
    store.create(KEY_ID, {"key": KEY, "url": URL, "instance": TEST_INSTANCE})
    store.create(
        "tr/apps/google",
        {"client_id": "g", "client_secret": "g-secret-value-1", "provider": "google_ads"},
    )
    return store


def run(
    store: InMemorySecretStore, *argv: str, outputs: dict[str, str] | None = None
) -> tuple[int, str, str]:
    ctx = make_ctx(store, FixedClock())
    stack = {"ConnectKeySecretId": KEY_ID, "InstanceName": TEST_INSTANCE}
    ctx.aws = StackAws(store, stack if outputs is None else outputs)
    return main(list(argv), ctx), out(ctx), err(ctx)


def _link(out: str) -> Link:
    url = out.strip().splitlines()[0]
    assert url.startswith(URL + "?" + LINK_PARAM + "=")
    signed = url.split("=", 1)[1]
    return Link.verify(signed, KEY.encode(), now=FixedClock()(), instance=TEST_INSTANCE)


def test_link_prints_a_signed_link_bound_to_the_connection(store: InMemorySecretStore) -> None:
    doc = {
        "schema": 1,
        "provider": "google_ads",
        "refresh_token": "r",
        "app_secret_id": "tr/apps/google",
    }
    store.create(
        "c/google",
        json.dumps(doc),
        tags={"token-refresher:managed": "true", "token-refresher:provider": "google_ads"},
    )
    code, out, err = run(store, "link", "c/google")
    assert code == 0
    link = _link(out)
    assert (link.secret_id, link.provider, link.allow_new_account) == (
        "c/google",
        "google_ads",
        False,
    )
    assert store.tags_of("c/google")["token-refresher:connect-nonce"] == link.nonce
    assert URL + "callback/google_ads" in err  # the redirect URI to register
    assert KEY not in out + err


@pytest.mark.parametrize(
    ("stack_days", "argv", "days"),
    [("30", (), 30), ("30", ("--valid-days", "2"), 2), (None, (), 7)],
    ids=["the-stacks-ttl", "the-flag-wins", "no-output-seven-days"],
)
def test_a_cli_link_lasts_as_long_as_the_stacks_links_unless_told(
    store: InMemorySecretStore, stack_days: str | None, argv: tuple[str, ...], days: int
) -> None:
    # Given a stack deployed with ConnectLinkTtlDays=30 (its output), or one without the output
    outputs = {"ConnectKeySecretId": KEY_ID, "InstanceName": TEST_INSTANCE}
    if stack_days:
        outputs["ConnectLinkTtlDays"] = stack_days
    store.create(
        "c/google",
        json.dumps({"schema": 1, "provider": "google_ads", "refresh_token": "r"}),
        tags={"token-refresher:managed": "true", "token-refresher:provider": "google_ads"},
    )
    # When a link is printed for a connection
    code, out, err = run(store, "link", "c/google", *argv, outputs=outputs)
    # Then it expires after the stack's days (the flag's when given), as the note says
    assert code == 0, err
    expires = FixedClock()() + timedelta(days=days)
    assert _link(out).expires_at == expires
    assert f"valid until {expires:%Y-%m-%d %H:%M} UTC" in err


def test_link_refuses_unmanaged_and_system_user_connections(store: InMemorySecretStore) -> None:
    store.create("c/other", "{}")
    store.create(
        "c/su",
        "{}",
        tags={"token-refresher:managed": "true", "token-refresher:provider": "meta_system_user"},
    )
    assert run(store, "link", "c/other")[0] == 1
    code, _, err = run(store, "link", "c/su")
    assert code == 1
    assert "Business Manager" in err


def test_link_needs_a_stack_with_a_connect_endpoint(store: InMemorySecretStore) -> None:
    store.create(
        "c/google",
        "{}",
        tags={"token-refresher:managed": "true", "token-refresher:provider": "google_ads"},
    )
    code, _, err = run(store, "link", "c/google", outputs={"InstanceName": TEST_INSTANCE})
    assert code == 1
    assert "ConnectEndpoint" in err


def test_connect_creates_an_awaiting_connection_and_prints_its_link(
    store: InMemorySecretStore,
) -> None:
    code, out, _ = run(
        store,
        "connect",
        "google_ads",
        "--name",
        "c/new",
        "--app-secret-id",
        "tr/apps/google",
        "--option",
        "login_customer_id=123",
    )
    assert code == 0
    link = _link(out)
    assert (link.secret_id, link.allow_new_account) == ("c/new", True)
    tags = store.tags_of("c/new")
    assert tags["token-refresher:awaiting-consent"] == "true"
    assert tags["token-refresher:instance"] == TEST_INSTANCE  # the stack's ConnectFunction's own
    assert "token-refresher:managed" not in tags  # the sweep ignores it until the consent
    doc = json.loads(store.current_value("c/new"))
    assert doc["options"] == {"login_customer_id": "123"}
    assert "access_token" not in doc


def test_connect_tiktok_creates_an_advertiser_connection_and_prints_its_link(
    store: InMemorySecretStore,
) -> None:
    # Given TikTok app credentials
    store.create(
        "tr/apps/tiktok",
        {"client_id": "tt", "client_secret": "tt-secret-value-1", "provider": "tiktok"},
    )
    # When a TikTok connection is created for consent
    code, out, err = run(
        store, "connect", "tiktok", "--name", "c/tt-new", "--app-secret-id", "tr/apps/tiktok"
    )
    # Then it succeeds and prints the link (the secret it created is the link's, not an orphan)
    assert code == 0, err
    link = _link(out)
    assert (link.secret_id, link.provider) == ("c/tt-new", "tiktok")
    assert store.tags_of("c/tt-new")["token-refresher:connect-nonce"] == link.nonce
    # And the document says what the consent makes: an advertiser token
    doc = json.loads(store.current_value("c/tt-new"))
    assert doc["kind"] == "advertiser"
    assert "access_token" not in doc


def test_connect_checks_the_app_binding_before_creating_anything(
    store: InMemorySecretStore,
) -> None:
    code, _, err = run(
        store, "connect", "linkedin", "--name", "c/new", "--app-secret-id", "tr/apps/google"
    )
    assert code == 1
    assert "refused" in err
    with pytest.raises(KeyError, match="c/new"):
        store.tags_of("c/new")


def test_link_refuses_another_instances_connection(store: InMemorySecretStore) -> None:
    # Given a connection of instance "staging"
    store.create(
        "c/staging",
        "{}",
        tags={
            "token-refresher:managed": "true",
            "token-refresher:instance": "staging",
            "token-refresher:provider": "google_ads",
        },
    )
    # When this stack's instance is asked for a link to it
    code, out, err = run(store, "link", "c/staging")
    # Then no link is printed: the other instance's endpoint is the one to use
    assert code == 1
    assert out == ""
    assert "belongs to instance 'staging'" in err


OAUTH2_APP = {
    "client_id": "o",
    "client_secret": "o-secret-value-1",
    "provider": "oauth2",
    "allowed_url_prefixes": ["https://auth.example.com/"],
}
OAUTH2_OPTIONS = {
    "authorize_url": "https://auth.example.com/authorize",
    "token_url": "https://auth.example.com/token",
}


def test_connect_refuses_an_oauth2_connection_that_cannot_name_its_account(
    store: InMemorySecretStore,
) -> None:
    # Given oauth2 app credentials, and options naming neither an issuer nor a userinfo URL
    store.create("tr/apps/oauth2", OAUTH2_APP)
    argv = ["connect", "oauth2", "--name", "c/new", "--app-secret-id", "tr/apps/oauth2"]
    argv += [f"--option={k}={v}" for k, v in OAUTH2_OPTIONS.items()]
    # When the operator makes the connection, then it is refused before anything is created
    code, out, err = run(store, *argv)
    assert code == 1
    assert "options.issuer" in err
    assert "options.userinfo_url" in err
    assert LINK_PARAM + "=" not in out
    with pytest.raises(KeyError, match="c/new"):
        store.tags_of("c/new")
    # And with an issuer it is made
    assert run(store, *argv, "--option", "issuer=https://auth.example.com")[0] == 0


def test_connect_refuses_an_oauth2_issuer_its_token_url_cannot_vouch_for(
    store: InMemorySecretStore,
) -> None:
    # Given oauth2 options whose issuer is on another host than the token endpoint
    store.create("tr/apps/oauth2", OAUTH2_APP)
    argv = ["connect", "oauth2", "--name", "c/new", "--app-secret-id", "tr/apps/oauth2"]
    argv += [f"--option={k}={v}" for k, v in OAUTH2_OPTIONS.items()]
    argv += ["--option", "issuer=https://login.example.org"]
    # When the operator makes the connection / Then it is refused before anything is created
    # (the consent would otherwise spend the owner's code on an id_token it must refuse)
    code, out, err = run(store, *argv)
    assert code == 1
    assert "token_url is not on options.issuer's host" in err
    assert LINK_PARAM + "=" not in out
    with pytest.raises(KeyError, match="c/new"):
        store.tags_of("c/new")


@pytest.mark.parametrize(
    "options", [{}, {"userinfo_url": "https://auth.example.com/userinfo"}], ids=["none", "userinfo"]
)
def test_an_oauth2_link_is_made_from_tags_without_reading_the_connections_value(
    store: InMemorySecretStore, options: dict[str, str]
) -> None:
    # Given an existing oauth2 connection, with or without a userinfo URL in its options
    store.create("tr/apps/oauth2", OAUTH2_APP)
    doc = {
        "schema": 1,
        "provider": "oauth2",
        "refresh_token": "r",
        "app_secret_id": "tr/apps/oauth2",
        "options": OAUTH2_OPTIONS | options,
    }
    tags = {"token-refresher:managed": "true", "token-refresher:provider": "oauth2"}
    tags["token-refresher:instance"] = TEST_INSTANCE
    store.create("c/oauth2", json.dumps(doc), tags=tags)
    # When the operator asks for a link
    code, out, err = run(store, "link", "c/oauth2")
    # Then it is made from the tags: the connection's value is never read (the operator may
    # not), and the note says what the link page checks (a test of connect/landing.py refuses
    # a connection without either option there, before any consent)
    assert code == 0, err
    assert _link(out).provider == "oauth2"
    assert ("get_value", "c/oauth2") not in store.calls
    assert "options.issuer or options.userinfo_url" in err


def test_link_takes_the_provider_from_the_flag_only_where_the_tag_is_missing(
    store: InMemorySecretStore,
) -> None:
    # Given a managed connection created by hand without a provider tag (never rotated yet)
    doc = {"schema": 1, "provider": "google_ads", "refresh_token": "r"}
    store.create("c/untagged", json.dumps(doc), tags={"token-refresher:managed": "true"})
    # When a link is asked for without naming the provider, then it is refused with the fix
    code, out, err = run(store, "link", "c/untagged")
    assert code == 1
    assert "--provider" in err
    # And with --provider it is made, without reading the value
    code, out, err = run(store, "link", "c/untagged", "--provider", "google_ads")
    assert code == 0, err
    assert _link(out).provider == "google_ads"
    assert ("get_value", "c/untagged") not in store.calls
    # And a flag that contradicts the tag is refused
    store.set_tags("c/untagged", {"token-refresher:provider": "google_ads"})
    code, _, err = run(store, "link", "c/untagged", "--provider", "linkedin")
    assert code == 1
    assert "is a google_ads connection, not linkedin" in err


def test_link_refuses_a_tiktok_account_connection(store: InMemorySecretStore) -> None:
    # Given a TikTok connection holding an account token (kind tiktok_account)
    doc = {"schema": 1, "provider": "tiktok", "kind": "tiktok_account", "refresh_token": "r"}
    tags = {"token-refresher:managed": "true", "token-refresher:provider": "tiktok"}
    tags["token-refresher:instance"] = TEST_INSTANCE
    store.create("c/tt", json.dumps(doc), tags=tags)
    # When the operator asks for a link / Then it is refused with the reason, and no nonce is set
    code, out, err = run(store, "link", "c/tt")
    assert code == 1
    assert "tiktok_account" in err
    assert LINK_PARAM + "=" not in out
    assert "token-refresher:connect-nonce" not in store.tags_of("c/tt")


def test_connect_refuses_app_credentials_not_bound_to_the_instance_before_creating_anything(
    store: InMemorySecretStore,
) -> None:
    # Given a stack that binds app credentials to instances and an app secret
    # whose tag lists only "staging"
    store.set_tags("tr/apps/google", {"token-refresher:app-instances": "staging"})
    outputs = {
        "ConnectKeySecretId": KEY_ID,
        "InstanceName": TEST_INSTANCE,
        "AppSecretInstanceBinding": "required",
    }
    argv = ("connect", "google_ads", "--name", "c/new", "--app-secret-id", "tr/apps/google")
    # When a connection using it is asked for
    code, out, err = run(store, *argv, outputs=outputs)
    # Then nothing is created, and the tag and how to fix it are named
    assert code == 1
    assert "not bound to this instance 'token-refresher'" in err
    assert "token-refresher:app-instances" in err
    assert "c/new" not in [c[1] for c in store.calls if c[0] == "create"]
    with pytest.raises(KeyError, match="c/new"):
        store.tags_of("c/new")
    # And once the owner lists the instance, the same command creates it
    store.set_tags("tr/apps/google", {"token-refresher:app-instances": f"staging {TEST_INSTANCE}"})
    code, out, _ = run(store, *argv, outputs=outputs)
    assert code == 0
    assert _link(out).secret_id == "c/new"
