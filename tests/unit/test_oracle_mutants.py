"""The mutations of ``make oracle-mutants`` (tests/support/oracle_mutants.py): each corrupts a
request in the way its name says and only when active; tests/tooling/test_oracle_mutants.py runs
the oracle tests against every one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import oracle_mutants
from tests.support.oracle_mutants import ENV, MUTANTS, Call, Outcome, mutate_url
from tests.support.oracles import Recorder, Sent, our_context

TOKEN = "https://login.example.test/oauth2/token"
REFRESH = Call(
    "POST",
    TOKEN,
    data={
        "grant_type": "refresh_token",
        "client_id": "c",
        "client_secret": "s",
        "scope": "https://ads.example/manage offline_access",
    },
)
TIKTOK = Call("POST", TOKEN, json_body={"app_id": "7", "secret": "s", "auth_code": "a"})
ADVERTISERS = Call("GET", TOKEN, params={"app_id": "7"}, headers={"Access-Token": "tt"})


def _mutated(name: str, call: Call) -> Call:
    return MUTANTS[name][1](call)


@pytest.mark.parametrize(
    ("name", "call", "check"),
    [
        ("wrong-grant-type", REFRESH, lambda c: c.data["grant_type"] == "authorization_code"),
        ("secret-in-query", REFRESH, lambda c: c.params == {"client_secret": "s"}),
        ("secret-in-query", TIKTOK, lambda c: "secret" not in c.json_body),
        ("form-instead-of-json", TIKTOK, lambda c: c.json_body is None and c.data["secret"] == "s"),
        ("json-instead-of-form", REFRESH, lambda c: c.data is None and c.json_body["client_id"]),
        (
            "missing-offline_access",
            REFRESH,
            lambda c: c.data["scope"] == "https://ads.example/manage",
        ),
        ("wrong-host", REFRESH, lambda c: c.url.startswith("https://wrong-host.example/")),
        ("wrong-scope", REFRESH, lambda c: "manage.readonly offline_access" in c.data["scope"]),
        (
            "basic-instead-of-body",
            REFRESH,
            lambda c: c.auth == ("c", "s") and "client_id" not in c.data,
        ),
        (
            "token-in-query",
            ADVERTISERS,
            lambda c: c.params["access_token"] == "tt" and not c.headers,
        ),
        ("wrong-method", REFRESH, lambda c: c.method == "GET"),
        ("wrong-client-id", TIKTOK, lambda c: c.json_body["app_id"] == "7-other"),
        ("wrong-content-type", REFRESH, lambda c: c.headers == {"Content-Type": "text/plain"}),
        ("missing-pkce", Call("POST", TOKEN, data={"code_verifier": "v"}), lambda c: not c.data),
    ],
)
def test_each_mutation_corrupts_the_request_as_its_name_says(
    name: str, call: Call, check: Any
) -> None:
    # Given a well-formed request, When the mutation applies to it, Then it is corrupted so
    mutated = _mutated(name, call)
    assert mutated != call
    assert check(mutated)


def test_the_issues_mutants_are_all_listed() -> None:
    required = {"wrong-grant-type", "secret-in-query", "form-instead-of-json"}
    required |= {"missing-offline_access", "wrong-host", "wrong-scope"}
    assert required <= set(MUTANTS)


def test_our_requests_are_untouched_unless_a_mutant_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given our HTTP client in an oracle test, no mutant named
    monkeypatch.delenv(ENV, raising=False)
    recorder = Recorder()
    url = "https://login.example.test/authorize?scope=a+offline_access&state=s"
    our_context(recorder).http.request("POST", TOKEN, provider="x", data=REFRESH.data)
    assert recorder.only().form == REFRESH.data
    assert mutate_url(url) == url
    # When a mutant is named
    monkeypatch.setenv(ENV, "missing-offline_access")
    our_context(recorder).http.request("POST", TOKEN, provider="x", data=REFRESH.data)
    # Then the same request goes out corrupted, and so does an authorize URL
    assert recorder.sent[1].form["scope"] == "https://ads.example/manage"
    assert Sent.parse("GET", mutate_url(url), {}, None).query == {"scope": "a", "state": "s"}


def test_an_unknown_mutant_name_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "no-such-mutant")
    with pytest.raises(KeyError, match="no-such-mutant"):
        oracle_mutants.active()


def test_a_run_where_every_test_passed_is_reported_as_survived() -> None:
    survived = Outcome("wrong-host", 0, ())
    killed = Outcome("wrong-host", 1, ("tests/unit/oracles/test_x.py::test_y",))
    broken = Outcome("wrong-host", 2, ())  # pytest could not even collect: nothing was judged
    assert (survived.killed, killed.killed, broken.killed) == (False, True, False)
    assert survived.line().startswith("SURVIVED")
    assert killed.line().startswith("killed")
    assert "test_x.py::test_y" in killed.line()
