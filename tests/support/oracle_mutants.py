"""Deliberate mistakes in our requests, to show that the oracle tests catch each one.

``make oracle-mutants`` (and tests/tooling/test_oracle_mutants.py) runs ``tests/unit/oracles/``
once as it is, then once per mutant with ``TR_ORACLE_MUTANT=<name>``, all in one interpreter. A
mutant corrupts every request our code makes in one named way, at the boundary every adapter
uses: the requests session the project's ``HttpClient`` sends through (``MutantSession``, in the
oracle tests' ``our_context``) and, for the consent link, the authorize URL our code returns
(``our_authorize_request``). The libraries' own requests
go through their own sessions and are never touched. A mutant is *killed* when at least one oracle
test fails.

Why a hand-listed set and not mutmut or cosmic-ray: those mutate the source's syntax (operators,
constants) everywhere, so most of their mutants say nothing about the wire, and the ones that do
are tied to today's provider modules (which branch h26 restructures). The mistakes worth catching
here are request-level ones an OAuth reviewer names; applied at the HTTP boundary they survive any
rewrite of the modules behind it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

ENV = "TR_ORACLE_MUTANT"
REPO_ROOT = Path(__file__).resolve().parents[2]
ORACLE_TESTS = "tests/unit/oracles"
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
SECRET_NAMES = ("client_secret", "secret")


@dataclass(frozen=True)
class Call:
    """One request as our ``HttpClient`` hands it to its requests session."""

    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    json_body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return dict(self.data or self.json_body or {})

    def with_body(self, body: dict[str, Any]) -> Call:
        if self.json_body is not None:
            return replace(self, json_body=body)
        return replace(self, data=body) if self.data is not None or body else self

    def each_place(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Call:
        """``change`` applied to the query and to the body."""
        return self.with_body(change(self.body())) if self.body() else self._query(change)

    def _query(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Call:
        return replace(self, params=change(dict(self.params)))


def _swap_grant(values: dict[str, Any]) -> dict[str, Any]:
    swaps = {"refresh_token": "authorization_code", "authorization_code": "refresh_token"}
    if "grant_type" in values:
        values["grant_type"] = swaps.get(values["grant_type"], "client_credentials")
    return values


def _secret_in_query(call: Call) -> Call:
    body = call.body()
    moved = {k: body.pop(k) for k in SECRET_NAMES if k in body}
    if not moved:
        return call
    return replace(call.with_body(body), params={**call.params, **moved})


def _form_instead_of_json(call: Call) -> Call:
    if call.json_body is None:
        return call
    return replace(call, data={k: str(v) for k, v in call.json_body.items()}, json_body=None)


def _json_instead_of_form(call: Call) -> Call:
    if not call.data:
        return call
    return replace(call, json_body=dict(call.data), data=None)


def _scope_words(change: Callable[[list[str]], list[str]]) -> Callable[[Call], Call]:
    def mutate(values: dict[str, Any]) -> dict[str, Any]:
        if isinstance(values.get("scope"), str):
            separator = "," if "," in values["scope"] else " "
            values["scope"] = separator.join(change(values["scope"].split(separator)))
        return values

    return lambda call: call.with_body(mutate(call.body()))._query(mutate)


def _wrong_platform_scope(words: list[str]) -> list[str]:
    """The first platform scope (not an OpenID one) replaced by another permission."""
    index = next((i for i, w in enumerate(words) if w not in OIDC_SCOPES), None)
    if index is not None:
        words[index] += ".readonly"
    return words


def _wrong_host(call: Call) -> Call:
    parts = urlsplit(call.url)
    return replace(call, url=urlunsplit(parts._replace(netloc="wrong-host.example")))


def _basic_instead_of_body(call: Call) -> Call:
    body = call.body()
    if "client_secret" not in body or "client_id" not in body:
        return call
    auth = (str(body.pop("client_id")), str(body.pop("client_secret")))
    return replace(call.with_body(body), auth=auth)


def _token_in_query(call: Call) -> Call:
    headers = dict(call.headers)
    token = headers.pop("Access-Token", None)
    if token is None and headers.get("Authorization", "").startswith("Bearer "):
        token = headers.pop("Authorization")[7:]
    if token is None:
        return call
    return replace(call, headers=headers, params={**call.params, "access_token": token})


def _wrong_method(call: Call) -> Call:
    return replace(call, method="GET" if call.method.upper() == "POST" else "POST")


def _dropping(*names: str) -> Callable[[Call], Call]:
    def drop(values: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k not in names}

    return lambda call: call.with_body(drop(call.body()))._query(drop)


def _other_client(values: dict[str, Any]) -> dict[str, Any]:
    for name in ("client_id", "app_id"):
        if name in values:
            values[name] = f"{values[name]}-other"
    return values


def _wrong_client_id(call: Call) -> Call:
    call = call.with_body(_other_client(call.body()))._query(_other_client)
    return replace(call, auth=(f"{call.auth[0]}-other", call.auth[1])) if call.auth else call


def _wrong_content_type(call: Call) -> Call:
    if not call.body():
        return call
    return replace(call, headers={**call.headers, "Content-Type": "text/plain"})


def _without_offline_access(words: list[str]) -> list[str]:
    return [w for w in words if w != "offline_access"]


MUTANTS: dict[str, tuple[str, Callable[[Call], Call]]] = {
    "wrong-grant-type": (
        "grant_type swapped (refresh_token <-> authorization_code, else client_credentials)",
        lambda call: call.each_place(_swap_grant),
    ),
    "secret-in-query": (
        "client_secret / secret moved from the body to the URL query",
        _secret_in_query,
    ),
    "form-instead-of-json": ("a JSON body sent form-encoded", _form_instead_of_json),
    "json-instead-of-form": ("a form body sent as JSON", _json_instead_of_form),
    "missing-offline_access": (
        "offline_access left out of the scope",
        _scope_words(_without_offline_access),
    ),
    "missing-access_type-offline": ("access_type=offline left out", _dropping("access_type")),
    "wrong-host": ("the request sent to another host", _wrong_host),
    "wrong-scope": (
        "the first platform scope replaced by another permission",
        _scope_words(_wrong_platform_scope),
    ),
    "basic-instead-of-body": (
        "client_id/client_secret sent as HTTP Basic instead of in the body",
        _basic_instead_of_body,
    ),
    "missing-pkce": (
        "no code_verifier at the redemption, no code_challenge at the authorize URL",
        _dropping("code_verifier", "code_challenge", "code_challenge_method"),
    ),
    "token-in-query": (
        "the Access-Token / Bearer header sent as an access_token query parameter",
        _token_in_query,
    ),
    "missing-appsecret_proof": ("Meta's appsecret_proof left out", _dropping("appsecret_proof")),
    "missing-redirect_uri": ("redirect_uri left out", _dropping("redirect_uri")),
    "wrong-method": ("POST sent as GET and GET as POST", _wrong_method),
    "missing-state": ("the authorize URL without state", _dropping("state")),
    "wrong-client-id": ("another client_id / app_id, wherever it travels", _wrong_client_id),
    "wrong-content-type": ("the body declared text/plain", _wrong_content_type),
}


def active() -> Callable[[Call], Call] | None:
    """The mutation ``TR_ORACLE_MUTANT`` names, or None (a name not listed is an error)."""
    name = os.environ.get(ENV)
    if not name:
        return None
    if name not in MUTANTS:
        raise KeyError(f"{ENV}={name!r} is not a mutant ({', '.join(MUTANTS)})")
    return MUTANTS[name][1]


class MutantSession(requests.Session):
    """A requests session that corrupts each request with the active mutant before sending it.

    The seam is below ``HttpClient.request``: the project's client runs unchanged (its URL check,
    retries and error mapping) and hands its request to this session, as it would to any."""

    def request(  # type: ignore[override]
        self, method: str, url: str, **kwargs: Any
    ) -> requests.Response:
        mutation = active()
        if mutation is None:
            return super().request(method, url, **kwargs)
        call = mutation(
            Call(
                method,
                url,
                dict(kwargs.pop("params", None) or {}),
                _copy(kwargs.pop("data", None)),
                _copy(kwargs.pop("json", None)),
                dict(kwargs.pop("headers", None) or {}),
                kwargs.pop("auth", None),
            )
        )
        return super().request(
            call.method,
            call.url,
            params=call.params or None,
            data=call.data,
            json=call.json_body,
            headers=call.headers,
            auth=call.auth,
            **kwargs,
        )


def _copy(body: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if body is None else dict(body)


def mutate_url(url: str) -> str:
    """An authorize URL our code built, corrupted by the active mutant (a GET with a query)."""
    mutation = active()
    if mutation is None:
        return url
    parts = urlsplit(url)
    base = urlunsplit(parts._replace(query=""))
    call = mutation(Call("GET", base, dict(parse_qsl(parts.query))))
    query = {**call.params, **call.body()}
    return urlunsplit(urlsplit(call.url)._replace(query=urlencode(query)))


# --- the runner (make oracle-mutants) ---


@dataclass(frozen=True)
class Outcome:
    mutant: str
    exit_code: int  # pytest's: 0 every test passed, 1 some failed, anything else a broken run
    failed_tests: tuple[str, ...]

    @property
    def killed(self) -> bool:
        return self.exit_code == 1 and bool(self.failed_tests)

    def line(self) -> str:
        if self.killed:
            more = len(self.failed_tests) - 1
            return f"killed    {self.mutant:28} by {self.failed_tests[0]}" + (
                f" (+{more} more)" if more else ""
            )
        what = MUTANTS[self.mutant][0] if self.mutant in MUTANTS else ""
        return f"SURVIVED  {self.mutant:28} {what} (pytest exit {self.exit_code})"


class _Failures:
    """A pytest plugin that keeps the ids of the tests that failed."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.failed.append(report.nodeid)


def run_oracles(mutant: str | None) -> Outcome:
    """The oracle tests in this interpreter with ``mutant`` active (None: as they are). One
    interpreter for every run: the mutant is read per request, so nothing needs re-importing."""
    import pytest

    if mutant:
        os.environ[ENV] = mutant
    else:
        os.environ.pop(ENV, None)
    failures = _Failures()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            code = pytest.main([ORACLE_TESTS, "-q", "-p", "no:cacheprovider"], plugins=[failures])
    finally:
        os.environ.pop(ENV, None)
    return Outcome(mutant or "(none)", int(code), tuple(failures.failed))


def main() -> int:
    os.chdir(REPO_ROOT)
    baseline = run_oracles(None)
    if baseline.exit_code != 0:
        print(f"the oracle tests fail without a mutant ({baseline.failed_tests}): fix them first")
        return 2
    outcomes = [run_oracles(name) for name in MUTANTS]
    for outcome in outcomes:
        print(outcome.line())
    survived = [o.mutant for o in outcomes if not o.killed]
    print(f"{len(outcomes) - len(survived)} of {len(outcomes)} mutants killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
