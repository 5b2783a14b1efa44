"""The platforms' official client libraries as judges (tests/unit/oracles/).

Each oracle test makes the library and our code perform the same operation with no network: both
send through a :class:`Recorder` mounted on a ``requests`` session (the libraries that use urllib3
get a recorder pool instead), which keeps what was sent and answers with a canned body. The
comparison is on what the platform would see, each place on its own: method, URL, query, body
encoding and Content-Type, body parameters (form or JSON, in any order) and the Authorization
header.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter

from tests.support import oracle_mutants
from token_refresher.http import HttpClient
from token_refresher.providers.base import ProviderContext
from token_refresher.timeutil import utcnow

Answer = tuple[int, Any]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "oracles"


def sourced(platform: str, name: str) -> Any:
    """A value the official library has no opinion on, as the platform's own page states it:
    ``tests/fixtures/oracles/<platform>.json``, where every entry names its source. A test that
    judges by one says so in its name (``..._fixture``): it is a fixture, not an oracle."""
    return _entry(platform, name)["value"]


def source_of(platform: str, name: str) -> list[str]:
    """The pages a sourced value comes from."""
    return _entry(platform, name)["source"]


def documented_answer(platform: str, contract: str, route: str) -> Any:
    """The answer body a platform's page documents for one call: the contract fixture's
    (tests/fixtures/contracts/<platform>.json, each contract with its source), so that a library's
    response model reads the platform's own example rather than one the test made up."""
    path = FIXTURES.parent / "contracts" / f"{platform}.json"
    contracts = json.loads(path.read_text(encoding="utf-8"))["contracts"]
    [found] = [c for c in contracts if c["name"] == contract]
    assert found["source"].startswith("https://"), found["source"]
    [exchange] = [e for e in found["exchanges"] if e["route"] == route]
    return exchange["response"]["body"]


def _entry(platform: str, name: str) -> dict[str, Any]:
    entry = json.loads((FIXTURES / f"{platform}.json").read_text(encoding="utf-8"))[name]
    if not isinstance(entry["source"], list):
        entry["source"] = [entry["source"]]
    assert entry["source"], f"{platform}.{name} names no source"
    assert all(s.startswith("https://") for s in entry["source"]), entry["source"]
    return dict(entry)


@dataclass(frozen=True)
class Sent:
    """One request as the platform would receive it: each place a value can travel kept apart."""

    method: str
    url: str  # scheme://host/path, no query
    query: dict[str, str]
    encoding: str  # the body's: "form", "json", "none" (no body) or "other"
    form: dict[str, str]
    json: dict[str, Any]
    content_type: str  # the media type, lower case, without parameters ("" when absent)
    authorization: str | None
    headers: dict[str, str] = field(compare=False)

    @classmethod
    def parse(
        cls, method: str, url: str, headers: Mapping[str, str], body: bytes | str | None
    ) -> Sent:
        parts = urlsplit(url)
        text = body.decode() if isinstance(body, bytes) else (body or "")
        lower = {k.lower(): str(v) for k, v in headers.items()}
        kind = lower.get("content-type", "").split(";")[0].strip().lower()
        encoding = _encoding(kind, text)
        data = json.loads(text) if encoding == "json" else {}
        return cls(
            method=method.upper(),
            url=f"{parts.scheme}://{parts.netloc}{parts.path}",
            query=dict(parse_qsl(parts.query)),
            encoding=encoding,
            form=dict(parse_qsl(text)) if encoding == "form" else {},
            json=data if isinstance(data, dict) else {"": data},
            content_type=kind,
            authorization=lower.get("authorization"),
            headers=lower,
        )

    @property
    def body(self) -> dict[str, Any]:
        """The body's parameters, form or JSON."""
        return {**self.form, **self.json}

    @property
    def params(self) -> dict[str, str]:
        """Every parameter, wherever it travels (query, form or JSON body): for reading one value.
        Comparisons keep the places apart (:func:`assert_same_request`)."""
        return {**self.query, **self.form, **{k: str(v) for k, v in self.json.items()}}

    def client_auth(self) -> tuple[str, str | None, str | None]:
        """Where the client authenticates ("basic", "body" or "query"), its id and its secret."""
        if (self.authorization or "").startswith("Basic "):
            user, _, secret = base64.b64decode(self.authorization[6:]).decode().partition(":")  # type: ignore[index]
            return "basic", user, secret
        client = {**self.query, **self.body}
        client_id = client.get("client_id") or client.get("app_id")
        for place, values in (("body", self.body), ("query", self.query)):
            secret = values.get("client_secret") or values.get("secret")
            if secret is not None:
                return place, client_id, secret
        return "body", client_id, None


def _encoding(content_type: str, text: str) -> str:
    if not text:
        return "none"
    if content_type == "application/x-www-form-urlencoded":
        return "form"
    if content_type == "application/json" or content_type.endswith("+json"):
        return "json"
    return "other"


class Recorder(BaseAdapter):
    """A ``requests`` transport that records and answers from ``answer`` (status, JSON body)."""

    def __init__(self, answer: Callable[[Sent], Answer] | Answer = (200, {})) -> None:
        super().__init__()
        self._answer = answer
        self.sent: list[Sent] = []

    def respond(self, sent: Sent) -> Answer:
        self.sent.append(sent)
        return self._answer(sent) if callable(self._answer) else self._answer

    def send(self, request: requests.PreparedRequest, **_kw: Any) -> requests.Response:  # type: ignore[override]
        sent = Sent.parse(
            request.method or "GET", request.url or "", dict(request.headers), request.body
        )
        status, body = self.respond(sent)
        resp = requests.Response()
        resp.status_code = status
        resp._content = json.dumps(body).encode()
        resp.headers["Content-Type"] = "application/json"
        resp.url = request.url or ""
        resp.request = request
        return resp

    def close(self) -> None:
        """Nothing to release."""

    def session(self, session: requests.Session | None = None) -> requests.Session:
        """``session`` (a new one by default) sending every request here."""
        session = session or requests.Session()
        session.mount("https://", self)
        session.mount("http://", self)
        return session

    def only(self) -> Sent:
        assert len(self.sent) == 1, self.sent
        return self.sent[0]


def our_context(recorder: Recorder, endpoints: Mapping[str, str] | None = None) -> ProviderContext:
    """Our provider context, its HTTP client sending through ``recorder`` (and through the mutant
    ``make oracle-mutants`` names, when one is active: tests/support/oracle_mutants.py)."""
    session = recorder.session(oracle_mutants.MutantSession())
    http = HttpClient(session, sleep=lambda _s: None, max_attempts=1)
    return ProviderContext(http=http, endpoints=dict(endpoints or {}), clock=utcnow)


def authorize_request(url: str) -> Sent:
    """An authorize URL as the request the browser sends."""
    return Sent.parse("GET", url, {}, None)


def our_authorize_request(url: str) -> Sent:
    """The authorize URL our code built, as the browser sends it (mutated when a mutant is on)."""
    return authorize_request(oracle_mutants.mutate_url(url))


def assert_same_request(
    ours: Sent,
    theirs: Sent,
    *,
    ours_only: Mapping[str, str],
    theirs_only: Mapping[str, str],
    authorization: str | None = None,
) -> None:
    """Same method, URL, query, body encoding and Content-Type, body parameters and Authorization
    header, each compared on its own: a value that travels in another place (a client secret in
    the query instead of the body, JSON sent as a form) is a difference.

    ``ours_only``/``theirs_only`` name the parameters one side sends and the other does not, each
    with the reason why (the test's documentation of a deliberate gap); ``authorization`` is the
    reason why the Authorization headers differ, when they do on purpose."""
    assert (ours.method, ours.url) == (theirs.method, theirs.url), "method or URL"
    assert _without(ours.query, ours_only) == _without(theirs.query, theirs_only), "query"
    assert ours.encoding == theirs.encoding, "body encoding"
    if "none" not in (ours.encoding, theirs.encoding):  # a bodiless request's type says nothing
        assert ours.content_type == theirs.content_type, "Content-Type"
    assert _without(ours.body, ours_only) == _without(theirs.body, theirs_only), "body"
    if authorization is None:
        assert ours.authorization == theirs.authorization, "Authorization header"
    else:
        assert ours.authorization != theirs.authorization, "a documented gap that no longer exists"
    assert set(ours_only) <= set(ours.params), "a documented gap that no longer exists"
    assert set(theirs_only) <= set(theirs.params), "a documented gap that no longer exists"


def scopes(value: str) -> set[str]:
    return set(value.replace(",", " ").split())


def _without(params: Mapping[str, Any], gaps: Mapping[str, str]) -> dict[str, Any]:
    """The parameters less the documented gaps; scope lists compare as sets (the order of their
    words means nothing to a platform)."""
    return {k: scopes(v) if k == "scope" else v for k, v in params.items() if k not in gaps}


class RecorderPool:
    """A urllib3 pool manager stand-in for the libraries generated by Swagger Codegen (TikTok's
    SDK): ``request`` records what the platform would receive and answers from ``recorder``."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def request(
        self,
        method: str,
        url: str,
        fields: Any = None,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        **_kw: Any,
    ) -> Any:
        import urllib3

        headers = dict(headers or {})
        if method == "GET" and fields:
            url += ("&" if "?" in url else "?") + urlencode(list(fields))
        status, answer = self._recorder.respond(Sent.parse(method, url, headers, body))
        return urllib3.HTTPResponse(
            body=json.dumps(answer).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
            preload_content=True,
        )
