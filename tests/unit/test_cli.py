"""The operator CLI without AWS: parsing, formatting, status/check/rotate over in-memory fakes."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.support.fake_providers import FakeProviders
from tests.support.fakes import (
    TEST_INSTANCE,
    FixedClock,
    InMemorySecretStore,
    RecordingNotifier,
    client_error,
)
from token_refresher.http import HttpClient
from token_refresher.providers import get_provider
from token_refresher.providers.base import ProviderContext
from token_refresher.rotation.check import CheckRequest, ConnectionChecker
from token_refresher.rotation.factory import build_rotation_engine
from token_refresher.timeutil import to_epoch
from token_refresher_cli import rotate
from token_refresher_cli.app import build_parser, main
from token_refresher_cli.aws import Aws
from token_refresher_cli.console import EXIT_USAGE, CliError, Console, Progress
from token_refresher_cli.context import Context
from token_refresher_cli.onboard import plan_for
from token_refresher_cli.shared import fmt_delta, fmt_until, parse_options, read_secret_input

APP_ID = "token-refresher/apps/google-main"
APP_SECRET = "google-app-secret-NEVER-PRINTED-0001"


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store() -> InMemorySecretStore:
    return InMemorySecretStore()


@pytest.fixture
def fake() -> Any:
    with FakeProviders() as server:
        yield server


def make_ctx(
    store: InMemorySecretStore,
    clock: FixedClock,
    fake: FakeProviders | None = None,
    stdin: str = "",
) -> Context:
    pctx = None
    if fake is not None:
        http = HttpClient(max_attempts=1, connect_timeout=1.0, read_timeout=2.0)
        pctx = ProviderContext(http=http, endpoints=fake.endpoints(), clock=clock)
    return Context(
        console=Console(io.StringIO(), io.StringIO()),
        stdin=io.StringIO(stdin),
        env={},
        clock=clock,
        store_override=store,
        provider_ctx_override=pctx,
    )


def out(ctx: Context) -> str:
    return ctx.console.out.getvalue()  # type: ignore[attr-defined, no-any-return]


def err(ctx: Context) -> str:
    return ctx.console.err.getvalue()  # type: ignore[attr-defined, no-any-return]


def managed(clock: FixedClock, **tags: str) -> dict[str, str]:
    base = {
        "token-refresher:managed": "true",
        "token-refresher:provider": "google_ads",
        "token-refresher:status": "ok",
        "token-refresher:expires-at": str(to_epoch(clock.now + timedelta(days=40))),
        "token-refresher:last-rotated-at": str(to_epoch(clock.now - timedelta(hours=3))),
        "token-refresher:human-deadline": "never",
        "token-refresher:last-error-class": "none",
    }
    return base | {f"token-refresher:{k.replace('_', '-')}": v for k, v in tags.items()}


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["onboard", "meta", "--app-secret-id", "a"],  # --name missing
        ["onboard", "meta", "--name", "n", "--app-secret-id", "a", "--token", "EAAxyz"],
        [
            "onboard",
            "meta",
            "--name",
            "n",
            "--app-secret-id",
            "a",
            "--stack-name",
            "s",
            "--rotation-lambda-arn",
            "arn:aws:lambda:us-east-1:1:function:f",
        ],
        ["rotate", "s", "--provider", "meta", "--all"],
        ["check", "s", "--local", "--rotation-function", "f"],
        [],
    ],
)
def test_bad_command_lines_exit_with_the_usage_code(argv: list[str]) -> None:
    # Given a command line that is wrong (including a token passed as an argument)
    # When it is parsed
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    # Then the process exits with EX_USAGE, distinct from status's "needs a human" code
    assert exc.value.code == EXIT_USAGE


def test_stack_name_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given TOKEN_REFRESHER_STACK is set
    monkeypatch.setenv("TOKEN_REFRESHER_STACK", "tr-prod")
    # When rotate is parsed without --stack-name
    args = build_parser().parse_args(["rotate", "s1", "--dry-run"])
    # Then the stack comes from the environment
    assert args.stack_name == "tr-prod"


def test_options_become_strings_or_booleans_and_bad_pairs_are_refused() -> None:
    # Given/When repeated --option values are parsed / Then types and errors are as documented
    assert parse_options(["graph_version=v25.0", "public=true", "scope=a,b"]) == {
        "graph_version": "v25.0",
        "public": True,
        "scope": "a,b",
    }
    with pytest.raises(CliError, match="key=value"):
        parse_options(["graph_version"])
    with pytest.raises(CliError, match="given twice"):
        parse_options(["a=1", "a=2"])


def test_plans_pick_the_input_and_mode_per_provider() -> None:
    # Given each provider family / When the onboarding plan is made / Then input and mode match
    meta = plan_for("meta", {}, None)
    assert (meta.reads, meta.mode, meta.kind) == ("access_token", "refresh", "user_long_lived")
    assert plan_for("meta_system_user", {}, None).mode == "validate"
    advertiser, creator = plan_for("tiktok", {}, None), plan_for("tiktok", {}, "refresh")
    assert (advertiser.reads, advertiser.mode) == ("access_token", "validate")
    assert (creator.reads, creator.mode) == ("refresh_token", "refresh")
    assert plan_for("microsoft_ads", {}, None).reads == "refresh_token"
    assert plan_for("oauth2", {"grant_type": "client_credentials"}, None).reads is None
    with pytest.raises(CliError, match="tiktok only"):
        plan_for("google_ads", {}, "refresh")


# --- token input --------------------------------------------------------------------------------


def test_token_from_stdin_is_trimmed_and_masked_from_then_on(store, clock) -> None:
    # Given a token piped in with surrounding blank lines
    ctx = make_ctx(store, clock, stdin="\n  EAAFake-piped-token-0001  \n\n")
    # When it is read, then something tries to print it
    token = read_secret_input(ctx, "token")
    ctx.console.print(f"provider said: bad token {token}")
    ctx.console.error(f"again {token}")
    # Then the value is exact, and nothing printed contains it
    assert token == "EAAFake-piped-token-0001"
    assert token not in out(ctx) + err(ctx)
    assert "***" in out(ctx)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("", "no token on stdin"), ("a-token-1\na-token-2\n", "got 2 non-empty lines")],
)
def test_empty_or_multi_line_stdin_is_refused(store, clock, stdin: str, message: str) -> None:
    # Given stdin with no token, or two
    ctx = make_ctx(store, clock, stdin=stdin)
    # When a token is read / Then a clear error says why
    with pytest.raises(CliError, match=message):
        read_secret_input(ctx, "token")


def test_a_terminal_gets_a_hidden_prompt_not_an_echo(store, clock, monkeypatch) -> None:
    # Given stdin is a terminal
    ctx = make_ctx(store, clock)
    ctx.stdin = Tty()
    prompts: list[str] = []
    monkeypatch.setattr(
        "getpass.getpass",
        lambda prompt, stream=None: prompts.append(prompt) or "EAAFake-typed-0001",
    )
    # When a token is read / Then getpass (no echo) was used
    assert read_secret_input(ctx, "Meta token") == "EAAFake-typed-0001"
    assert prompts == ["Meta token (input hidden): "]


# --- formatting and progress --------------------------------------------------------------------


def test_durations_read_like_a_human_wrote_them(clock) -> None:
    # Given/When durations and deadlines are formatted / Then units fit the magnitude
    assert fmt_delta(timedelta(days=59, hours=5)) == "59d"
    assert fmt_delta(timedelta(hours=5)) == "5h"
    assert fmt_delta(timedelta(minutes=45)) == "45m"
    assert fmt_delta(-timedelta(hours=3)) == "3h ago"
    assert fmt_until(None, clock.now) == "never"
    assert fmt_until(clock.now - timedelta(days=3), clock.now) == "expired 3d ago"


def test_progress_prints_steps_on_a_pipe_and_stays_quiet_for_small_jobs() -> None:
    # Given a console writing to a pipe
    console = Console(io.StringIO(), io.StringIO())
    # When 250 items are processed, then 5
    big = Progress(console, "checked", 250)
    for _ in range(250):
        big.advance()
    big.finish()
    small = Progress(console, "checked", 5)
    for _ in range(5):
        small.advance()
    small.finish()
    # Then the big job reported every 25 items (and its total), the small one nothing
    lines = console.err.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "checked 25/250"
    assert lines[-1] == "checked 250/250"
    assert len(lines) == 10


# --- status -------------------------------------------------------------------------------------


def test_status_flags_what_needs_a_human_and_exits_2(store, clock) -> None:
    # Given healthy, re-auth, failing and near-deadline connections, and an unmanaged secret
    soon = str(to_epoch(clock.now + timedelta(days=3)))
    store.create("c/healthy", "{}", tags=managed(clock))
    store.create("c/reauth", "{}", tags=managed(clock, status="reauth-required"))
    store.create(
        "c/failing", "{}", tags=managed(clock, status="failing", last_error_class="transient")
    )
    store.create("c/deadline", "{}", tags=managed(clock, provider="linkedin", human_deadline=soon))
    store.create("c/other", "{}", tags={"team": "x"})
    ctx = make_ctx(store, clock)
    # When status runs
    code = main(["status", "--instance", TEST_INSTANCE], ctx)
    # Then three rows are flagged with their reason, listed first, and the exit code is 2
    text = out(ctx)
    assert code == 2
    assert "c/other" not in text
    lines = text.splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("CONNECTION")) :]
    assert lines[0].split() == ["CONNECTION", "PROVIDER", "STATE", "EXPIRES", "IN", "HUMAN",
                                "DEADLINE", "LAST", "ROTATION", "LAST", "ERROR"]  # fmt: skip
    assert lines[-5].startswith("c/healthy")
    assert "4 connections (1 failing, 2 ok, 1 reauth-required); 3 need a human" in text
    assert "! c/reauth: re-authorization required" in text
    assert "! c/failing: refresh failing (transient)" in text
    assert "! c/deadline: human deadline 2026-12-02T12:00:00Z" in text


def test_status_json_and_provider_filter_exit_0_when_all_is_well(store, clock) -> None:
    # Given one healthy Google connection and one LinkedIn connection needing re-auth
    store.create("c/google", "{}", tags=managed(clock))
    store.create("c/li", "{}", tags=managed(clock, provider="linkedin", status="reauth-required"))
    ctx = make_ctx(store, clock)
    # When status is asked for Google only, as JSON
    code = main(["status", "--json", "--provider", "google_ads", "--instance", TEST_INSTANCE], ctx)
    # Then stdout is JSON rows with ISO dates, and nothing in the selection needs a human
    rows = json.loads(out(ctx))
    assert code == 0
    assert [r["connection"] for r in rows] == ["c/google"]
    assert rows[0]["expires_at"] == "2027-01-08T12:00:00Z"
    assert rows[0]["last_rotated_at"] == "2026-11-29T09:00:00Z"
    assert rows[0]["needs_attention"] is False
    assert "1 connection (1 ok); 0 need a human" in err(ctx)


def test_status_with_an_unknown_provider_lists_the_known_ones(store, clock) -> None:
    # Given/When status is filtered by a misspelt provider
    ctx = make_ctx(store, clock)
    code = main(["status", "--provider", "gogle_ads", "--instance", "x"], ctx)
    # Then it fails with the list of providers
    assert code == 1
    assert "unknown provider 'gogle_ads'" in err(ctx)
    assert "google_ads, linkedin, meta" in err(ctx)


# --- rotate -------------------------------------------------------------------------------------


def test_rotate_details_are_split_at_the_sweeps_limit_and_validated() -> None:
    # Given 1200 secret ids and the force flag
    args = build_parser().parse_args(
        ["rotate", *(f"s/{n}" for n in range(1200)), "--force", "--reason", "bulk"]
    )
    # When the event details are built
    batch = rotate.details(args, "prod")
    # Then three events carry 500/500/200 ids, each with the flags, in the sweep's shape
    assert [len(d["secret_ids"]) for d in batch] == [500, 500, 200]
    assert all(d["force"] is True and d["reason"] == "bulk" for d in batch)
    assert all(d["instance"] == "prod" for d in batch)
    entry = rotate.entry(batch[0], "default")
    assert entry["Source"] == "token-refresher"
    assert entry["DetailType"] == "Token Rotation Requested"
    # And a detail the sweep would refuse is refused here
    too_long = build_parser().parse_args(["rotate", "s/1", "--reason", "x" * 300])
    with pytest.raises(CliError, match="256 characters"):
        rotate.details(too_long, "prod")


def test_rotate_refuses_unknown_and_unmanaged_ids_and_sends_nothing(store, clock) -> None:
    # Given one managed and one unmanaged secret
    store.create("c/ok", "{}", tags=managed(clock))
    store.create("c/unmanaged", "{}", tags={})
    ctx = make_ctx(store, clock)
    # When both and a missing id are named
    code = main(["rotate", "c/ok", "c/unmanaged", "c/missing", "--instance", TEST_INSTANCE], ctx)
    # Then the two bad ones are named and the request is refused
    assert code == 1
    assert "c/unmanaged: not managed" in err(ctx)
    assert "c/missing: not found" in err(ctx)
    assert "2 of 3 secret(s) cannot be rotated; nothing was sent" in err(ctx)


def test_rotate_refuses_another_instances_secret_and_one_of_no_instance(store, clock) -> None:
    # Given a secret of instance "staging" and one made before instances (managed tag only)
    store.create("c/staging", "{}", tags=managed(clock) | {"token-refresher:instance": "staging"})
    store.create("c/legacy", "{}", tags=managed(clock) | {"token-refresher:instance": None})
    ctx = make_ctx(store, clock)
    # When instance "production" is asked to rotate them
    code = main(["rotate", "c/staging", "c/legacy", "--instance", "production"], ctx)
    # Then both are refused with the reason, and nothing is sent
    assert code == 1
    assert "c/staging: belongs to instance 'staging', not to this instance 'production'" in err(ctx)
    assert "c/legacy: managed but belongs to no instance" in err(ctx)


def three_instances(store: InMemorySecretStore, clock: FixedClock) -> None:
    store.create("c/prod-1", "{}", tags=managed(clock) | {"token-refresher:instance": "prod"})
    store.create("c/prod-2", "{}", tags=managed(clock) | {"token-refresher:instance": "prod"})
    store.create("c/staging", "{}", tags=managed(clock) | {"token-refresher:instance": "staging"})
    # a name that starts like "prod": ListSecrets' tag-value filter matches prefixes
    store.create("c/prod2", "{}", tags=managed(clock) | {"token-refresher:instance": "prod2"})
    store.create("c/legacy", "{}", tags=managed(clock) | {"token-refresher:instance": None})


def test_status_shows_only_the_chosen_instance(store, clock) -> None:
    # Given connections of instances prod, prod2 and staging, and one of no instance
    three_instances(store, clock)
    ctx = make_ctx(store, clock)
    # When status is asked for instance prod
    code = main(["status", "--json", "--instance", "prod"], ctx)
    # Then only prod's connections are listed
    rows = json.loads(out(ctx))
    assert code == 0
    assert sorted(r["connection"] for r in rows) == ["c/prod-1", "c/prod-2"]
    assert {r["instance"] for r in rows} == {"prod"}


def test_status_all_instances_shows_every_instance_and_the_unowned(store, clock) -> None:
    # Given connections of three instances and one of no instance
    three_instances(store, clock)
    ctx = make_ctx(store, clock)
    # When status is asked for every instance
    code = main(["status", "--all-instances"], ctx)
    # Then every managed secret is listed with its instance ("-" for none)
    text = out(ctx)
    assert code == 0
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("INSTANCE"))
    assert lines[header].split()[:2] == ["INSTANCE", "CONNECTION"]
    rows = {line.split()[1]: line.split()[0] for line in lines[header + 1 : header + 6]}
    assert rows == {
        "c/prod-1": "prod",
        "c/prod-2": "prod",
        "c/prod2": "prod2",
        "c/staging": "staging",
        "c/legacy": "-",
    }


def test_instance_comes_from_the_stack_output_unless_given(store, clock) -> None:
    # Given a stack whose InstanceName output is "prod"
    three_instances(store, clock)
    ctx = make_ctx(store, clock)
    ctx.aws._outputs["tr-prod"] = {"InstanceName": "prod"}  # no AWS in unit tests
    # When status names only the stack
    code = main(["status", "--json", "--stack-name", "tr-prod"], ctx)
    # Then the stack's instance is listed
    assert code == 0
    assert sorted(r["connection"] for r in json.loads(out(ctx))) == ["c/prod-1", "c/prod-2"]


# --- check --------------------------------------------------------------------------------------


def google_doc(**overrides: Any) -> str:
    doc = {
        "schema": 1,
        "provider": "google_ads",
        "access_token": "ya29.cli-unit-access-0001",
        "refresh_token": "1//0g-cli-unit-refresh-0001",
        "expires_at": "2026-11-29T13:00:00Z",
        "app_secret_id": APP_ID,
    }
    return json.dumps(doc | overrides)


def test_check_local_validates_with_the_provider_and_reports_each_secret(
    store, clock, fake
) -> None:
    # Given a valid Google connection, one with a missing app secret, one with a bad provider
    fake.seed("google", access_token="ya29.cli-unit-access-0001", expires_in=3600)
    store.create(APP_ID, {"client_id": "g-client", "client_secret": APP_SECRET})
    store.create("c/good", google_doc(), tags=managed(clock))
    store.create("c/noapp", google_doc(app_secret_id="token-refresher/apps/gone"), tags={})
    store.create("c/typo", google_doc(provider="gogle_ads"), tags=managed(clock))
    ctx = make_ctx(store, clock, fake)
    # When the three are checked
    code = main(["check", "--local", "c/good", "c/noapp", "c/typo"], ctx)
    # Then each gets a verdict naming the problem, and the exit code reports the failures
    text = out(ctx)
    assert code == 1
    assert "ok    c/good (google_ads): valid" in text
    assert "FAIL  c/noapp: app secret 'token-refresher/apps/gone' not found" in text
    assert "FAIL  c/typo: c/typo: provider: unknown provider 'gogle_ads'" in text
    assert "checked 3: 1 ok, 2 failed" in text
    # And only tokeninfo was called (nothing refreshed), and no secret was printed
    assert [r.route for r in fake.requests()] == ["tokeninfo"]
    for secret in (APP_SECRET, "ya29.cli-unit-access-0001", "1//0g-cli-unit-refresh-0001"):
        assert secret not in text + err(ctx)


def test_check_reports_a_revoked_token_as_invalid(store, clock, fake) -> None:
    # Given a connection whose access token the provider no longer accepts
    store.create(APP_ID, {"client_id": "g-client", "client_secret": APP_SECRET})
    store.create("c/revoked", google_doc(), tags=managed(clock))
    ctx = make_ctx(store, clock, fake)
    # When it is checked
    code = main(["check", "--local", "c/revoked"], ctx)
    # Then it fails, saying the provider rejects it and what to do
    assert code == 1
    assert "google_ads reports the token invalid (tokeninfo rejected the access token)" in out(ctx)
    assert "re-authorize" in out(ctx)


class RotationFunctionInProcess:
    """The slice of a lambda client `check` uses: the deployed rotation function's check event,
    run by the library in this process over the same store and fake providers."""

    def __init__(self, store: InMemorySecretStore, clock: FixedClock, fake: FakeProviders):
        http = HttpClient(max_attempts=1, connect_timeout=1.0, read_timeout=2.0)
        pctx = ProviderContext(http=http, endpoints=fake.endpoints(), clock=clock)
        engine = build_rotation_engine(store, RecordingNotifier(), pctx, instance=TEST_INSTANCE)
        self.checker = ConnectionChecker(
            store, pctx, get_provider, engine.apps.for_token, instance=TEST_INSTANCE
        )
        self.invoked: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
        event = json.loads(Payload)
        self.invoked.append((FunctionName, event))
        body = self.checker.run(CheckRequest.from_event(event)).to_dict()
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}


class StackAws(Aws):
    def __init__(self, lambda_client: Any, outputs: dict[str, str]) -> None:
        super().__init__()
        self._lambda = lambda_client
        self._stack = outputs

    def client(self, service: str) -> Any:
        assert service == "lambda", f"the in-stack check called {service} from the machine"
        return self._lambda

    def stack_outputs(self, stack_name: str) -> dict[str, str]:
        return self._stack if stack_name == "token-refresher" else {}


def test_check_runs_inside_the_stack_through_the_rotation_function(store, clock, fake) -> None:
    # Given a deployed stack (its rotation function played in-process), a valid Google
    # connection, a revoked one and an unmanaged secret
    fake.seed("google", access_token="ya29.cli-unit-access-0001", expires_in=3600)
    store.create(APP_ID, {"client_id": "g-client", "client_secret": APP_SECRET})
    store.create("c/good", google_doc(), tags=managed(clock))
    store.create("c/revoked", google_doc(access_token="ya29.revoked-0002"), tags=managed(clock))
    store.create("c/foreign", google_doc(), tags={})
    function = RotationFunctionInProcess(store, clock, fake)
    ctx = make_ctx(store, clock)
    ctx.aws = StackAws(function, {"RotationFunctionName": "tr-RotationFunction-1"})
    # When they are checked without --local
    code = main(["check", "c/good", "c/revoked", "c/foreign"], ctx)
    # Then each was one invocation of the stack's rotation function with a check event
    assert function.invoked == [
        ("tr-RotationFunction-1", {"action": "check", "secret_id": name})
        for name in ("c/good", "c/revoked", "c/foreign")
    ]
    # And the verdicts come from it
    text = out(ctx)
    assert code == 1
    assert "ok    c/good (google_ads): valid" in text
    assert "scopes https://www.googleapis.com/auth/adwords" in text  # tokeninfo's answer
    assert f"      warning: app credentials '{APP_ID}' declare no provider" in text
    assert "FAIL  c/revoked: google_ads reports the token invalid" in text
    assert "FAIL  c/foreign: not managed by this deployment" in text
    assert "checked 3: 1 ok, 2 failed" in text
    assert "checking inside the stack (function tr-RotationFunction-1)" in err(ctx)
    # And nothing was refreshed, and no secret was printed
    assert {r.route for r in fake.requests()} == {"tokeninfo"}
    for secret in (APP_SECRET, "ya29.cli-unit-access-0001", "1//0g-cli-unit-refresh-0001"):
        assert secret not in text + err(ctx)


def test_check_names_the_missing_output_and_an_outdated_function(store, clock) -> None:
    ctx = make_ctx(store, clock)
    ctx.aws = StackAws(None, {})
    assert main(["check", "c/x"], ctx) == 1
    assert "has no RotationFunctionName output" in err(ctx)

    class OldFunction:
        def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
            body = {"errorMessage": "Step: is required and must be a non-empty string"}
            return {"FunctionError": "Unhandled", "Payload": io.BytesIO(json.dumps(body).encode())}

    ctx = make_ctx(store, clock)
    ctx.aws = StackAws(OldFunction(), {"RotationFunctionName": "old"})
    assert main(["check", "c/x"], ctx) == 1
    assert "the rotation function old failed: Step: is required" in out(ctx)
    assert "redeploy, or use --local" in out(ctx)


def test_aws_region_is_taken_from_aws_region_too(monkeypatch):
    # Given only AWS_REGION set (what Lambda and many tools set; botocore reads the other one)
    from token_refresher_cli.aws import Aws

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    # When a client is made, then it uses that region
    assert Aws().client("secretsmanager").meta.region_name == "eu-west-3"


# --- credential binding --------------------------------------------------------------


def test_check_refuses_another_providers_app_credentials_before_calling_anyone(
    store, clock, fake
) -> None:
    # Given a Google connection naming app credentials declared for Meta
    store.create(APP_ID, {"client_id": "m-client", "client_secret": APP_SECRET, "provider": "meta"})
    store.create("c/misbound", google_doc(), tags=managed(clock))
    ctx = make_ctx(store, clock, fake)
    # When it is checked
    code = main(["check", "--local", "c/misbound"], ctx)
    # Then it fails naming both secrets and the fix, and the provider saw no request
    assert code == 1
    text = out(ctx)
    assert (
        "FAIL  c/misbound: refused: connection 'c/misbound' (google_ads) and app credentials "
        in text
    )
    assert f"'{APP_ID}': the app credentials belong to meta, not google_ads" in text
    assert "-> point app_secret_id of 'c/misbound' at the google_ads app credentials" in text
    assert fake.requests() == []


def test_check_warns_about_undeclared_app_credentials_and_still_validates(
    store, clock, fake
) -> None:
    # Given a Google connection whose app secret predates the provider declaration
    fake.seed("google", access_token="ya29.cli-unit-access-0001", expires_in=3600)
    store.create(APP_ID, {"client_id": "g-client", "client_secret": APP_SECRET})
    store.create("c/legacy", google_doc(), tags=managed(clock))
    ctx = make_ctx(store, clock, fake)
    # When it is checked, then it passes with a warning saying how to declare the provider
    assert main(["check", "--local", "c/legacy"], ctx) == 0
    assert "ok    c/legacy (google_ads): valid" in out(ctx)
    assert f"warning: app credentials '{APP_ID}' declare no provider" in out(ctx)
    assert '"provider": "google_ads"' in out(ctx)


def test_status_shows_connections_whose_app_credentials_declare_no_provider(store, clock) -> None:
    # Given one connection tagged by the rotation function as using undeclared app credentials
    store.create("c/legacy", "{}", tags=managed(clock, app_binding="undeclared"))
    store.create("c/bound", "{}", tags=managed(clock, app_binding="declared"))
    ctx = make_ctx(store, clock)
    # When status runs (table and JSON)
    code = main(["status", "--instance", TEST_INSTANCE], ctx)
    as_json = make_ctx(store, clock)
    main(["status", "--json", "--instance", TEST_INSTANCE], as_json)
    # Then the warning names the connection and the fix, without asking for a human (exit 0)
    assert code == 0
    assert (
        '  warning: c/legacy: its app credentials declare no provider: add "provider": '
        '"google_ads" to the app-credentials secret (docs/security.md)'
    ) in out(ctx)
    assert "c/bound:" not in out(ctx)
    rows = {r["connection"]: r for r in json.loads(out(as_json))}
    assert rows["c/legacy"]["warnings"] == [
        'its app credentials declare no provider: add "provider": "google_ads" to the '
        "app-credentials secret (docs/security.md)"
    ]
    assert rows["c/bound"]["warnings"] == []


class _NoSuchSecret:
    """Secrets Manager as `onboard` sees it for a free connection name."""

    def describe_secret(self, SecretId: str) -> None:  # boto3's argument name
        raise client_error("ResourceNotFoundException", "DescribeSecret")


class _NoStackAws:
    def client(self, service: str) -> _NoSuchSecret:
        assert service == "secretsmanager"
        return _NoSuchSecret()


class _UnreadStdin(io.StringIO):
    def read(self, *args: Any) -> str:
        raise AssertionError("the token was read although the connection was refused")


def test_onboard_refuses_a_foreign_token_url_before_reading_the_token(store, clock, fake) -> None:
    # Given oauth2 app credentials allowed only on the fake server's /oauth2/ path
    fake.register_app("oauth2", "o-client", APP_SECRET)
    store.create(
        APP_ID,
        {
            "client_id": "o-client",
            "client_secret": APP_SECRET,
            "provider": "oauth2",
            "allowed_url_prefixes": [fake.url("oauth2") + "/"],
        },
    )
    ctx = make_ctx(store, clock, fake)
    ctx.aws = _NoStackAws()  # type: ignore[assignment]
    ctx.stdin = _UnreadStdin()
    # When a connection whose token URL is on another port is onboarded
    code = main(
        [
            "onboard",
            "oauth2",
            "--name",
            "c/new",
            "--app-secret-id",
            APP_ID,
            "--rotation-lambda-arn",
            "arn:aws:lambda:us-east-1:1:function:f",
            "--instance",
            TEST_INSTANCE,
            "--option",
            f"token_url=http://127.0.0.1:{fake.port + 1}/oauth2/token",
        ],
        ctx,
    )
    # Then it is refused naming the URL and the allowed prefix, before stdin and any request
    assert code == 1
    assert "refused: connection 'c/new' (oauth2) and app credentials" in err(ctx)
    assert f"options.token_url http://127.0.0.1:{fake.port + 1}/oauth2/token is not under" in err(
        ctx
    )
    assert fake.requests() == []


def test_the_cli_waits_for_a_synchronous_sweep_as_long_as_the_sweep_may_run() -> None:
    # rotate --dry-run invokes the sweep and reads its answer: a shorter read timeout would give
    # up and retry (invoking the sweep again) while a large fleet is still being listed
    from token_refresher.config import SWEEP_TIMEOUT_SECONDS
    from token_refresher_cli.aws import CLIENT_CONFIG

    assert CLIENT_CONFIG.read_timeout > SWEEP_TIMEOUT_SECONDS


class EventsAws(Aws):
    """The CLI's AWS: stack outputs and a recording EventBridge client (no AWS in unit tests)."""

    def __init__(self, outputs: dict[str, str]) -> None:
        super().__init__()
        self._stack = outputs
        self.sent: list[dict[str, Any]] = []

    def client(self, service: str) -> Any:
        assert service == "events"
        return self

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.sent += Entries
        return {"Entries": [{"EventId": "e"} for _ in Entries]}

    def stack_outputs(self, stack_name: str) -> dict[str, str]:
        return self._stack


def test_rotate_force_leaves_out_a_secret_forced_within_the_floor_and_says_when(
    store, clock
) -> None:
    # Given two connections, one force-rotated 20 minutes ago, and a stack whose floor is 60
    forced_at = int((clock() - timedelta(minutes=20)).timestamp())
    store.create(
        "c/recent", "{}", tags=managed(clock) | {"token-refresher:force-after": str(forced_at)}
    )
    store.create("c/other", "{}", tags=managed(clock))
    ctx = make_ctx(store, clock)
    aws = EventsAws(
        {
            "InstanceName": TEST_INSTANCE,
            "ForcedRotationFloorMinutes": "60",
            "RequestBusName": "tr-requests",
        }
    )
    ctx.aws = aws
    # When both are force-rotated
    code = main(["rotate", "c/recent", "c/other", "--force"], ctx)
    # Then only the other one is requested, and the floor and the next allowed time are stated
    assert code == 0
    [entry] = aws.sent
    assert json.loads(entry["Detail"])["secret_ids"] == ["c/other"]
    assert (
        "c/recent: not forced: forced rotations of one secret are limited to one per 1 hour"
        in err(ctx)
    )
    assert "may be forced from" in err(ctx)
    assert "at most once per 1 hour per secret" in out(ctx)
    # And when every named secret is within the floor, nothing is sent (a skip, not an error)
    assert main(["rotate", "c/recent", "--force"], ctx) == 0
    assert "nothing was sent: every named secret was force-rotated less than 1 hour ago" in out(ctx)
    assert len(aws.sent) == 1


def test_rotate_sends_to_the_stacks_own_request_bus_and_names_it(store, clock) -> None:
    # Given a stack whose manual requests have their own bus
    store.create("c/one", "{}", tags=managed(clock))
    ctx = make_ctx(store, clock)
    aws = EventsAws({"InstanceName": TEST_INSTANCE, "RequestBusName": "tr-requests"})
    ctx.aws = aws
    # When a rotation is requested
    assert main(["rotate", "c/one"], ctx) == 0
    # Then the event goes to that bus, not the account's default one, and the CLI says so
    [entry] = aws.sent
    assert entry["EventBusName"] == "tr-requests"
    assert "sent to bus tr-requests" in out(ctx)
    # And a stack without the output is named, with what to do
    ctx = make_ctx(store, clock)
    ctx.aws = EventsAws({"InstanceName": TEST_INSTANCE})
    assert main(["rotate", "c/one"], ctx) == 1
    assert "has no RequestBusName output" in err(ctx)
    assert "--event-bus default" in err(ctx)
