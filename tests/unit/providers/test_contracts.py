"""Contract fixtures: the requests we send and the answers we parse, held to the platforms' docs.

Each file in tests/fixtures/contracts/ lists calls of one platform. A contract names its source
(the official page or SDK file it follows, in our own words and values), the token document, and
the exchanges in order: the request the provider must send and the documented answer. Two checks
per contract:

1. the provider, given the documented answers, sends exactly the documented requests and turns
   the answers into the expected result (or error class);
2. the fake provider server, seeded as the contract's ``fake`` block says and left unscripted,
   answers each documented request with the documented status and an answer of the same shape,
   so that the fake the other tests rely on cannot drift from the platform.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.support.fake_providers import ALIASES, FakeProviders, Response

from token_refresher.errors import TokenRefresherError
from token_refresher.model import PROVIDER_NAMES, AppCredentials, TokenDocument
from token_refresher.providers import get_provider
from token_refresher.providers.base import ProviderContext
from token_refresher.providers.client import Endpoints, PlatformClient

pytestmark = pytest.mark.unit

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "contracts"
PLATFORMS = ("meta", "google", "linkedin", "tiktok", "amazon", "microsoft", "oauth2")


def _load() -> Iterator[Any]:
    for path in sorted(CONTRACTS_DIR.glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        for contract in spec["contracts"]:
            yield pytest.param(spec, contract, id=f"{path.stem}:{contract['name']}")


CASES = list(_load())


def _fill(value: Any, fake: FakeProviders, provider: str) -> Any:
    """``{fake}`` in a string stands for the fake server's base URL of that provider."""
    if isinstance(value, str):
        return value.replace("{fake}", fake.url(provider))
    if isinstance(value, dict):
        return {k: _fill(v, fake, provider) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, fake, provider) for v in value]
    return value


def _prefix(provider: str) -> str:
    return "/" + ALIASES.get(provider, provider)


def _app(spec: dict[str, Any], contract: dict[str, Any]) -> AppCredentials:
    return AppCredentials.from_json(json.dumps(contract.get("app") or spec["app"]))


def _seconds_from_now(when: datetime | None) -> float:
    assert when is not None
    return (when - datetime.now(UTC)).total_seconds()


def _check_expectations(expect: dict[str, Any], result: Any) -> None:
    if "access_token" in expect:
        assert result.access_token == expect["access_token"]
    if "refresh_token" in expect:
        assert result.refresh_token == expect["refresh_token"]
    if "valid" in expect:
        assert result.valid is expect["valid"]
    if "expires_in" in expect:
        assert _seconds_from_now(result.expires_at) == pytest.approx(expect["expires_in"], abs=30)
    if "expires_at" in expect:
        assert result.expires_at == datetime.fromtimestamp(expect["expires_at"], UTC)
    if "refresh_token_expires_in" in expect:
        left = _seconds_from_now(result.refresh_token_expires_at)
        assert left == pytest.approx(expect["refresh_token_expires_in"], abs=30)


@pytest.mark.parametrize(("spec", "contract"), CASES)
def test_provider_sends_the_documented_requests_and_parses_the_documented_answers(
    fake_provider: FakeProviders, ctx: ProviderContext, spec: Any, contract: Any
) -> None:
    # Given the fake plays back the documented answers, in order
    provider = contract["provider"]
    for exchange in contract["exchanges"]:
        answer = exchange["response"]
        fake_provider.script(
            provider, exchange["route"], [Response(answer["status"], answer["body"])]
        )
    doc = TokenDocument.from_dict(_fill(contract["document"], fake_provider, provider))
    call = getattr(get_provider(provider), contract["call"])
    expect = contract["expect"]
    # When the provider makes the call
    if "error_class" in expect:
        with pytest.raises(TokenRefresherError) as info:
            call(doc, _app(spec, contract), ctx)
        # Then the documented error is classified as the contract says
        assert info.value.error_class.value == expect["error_class"]
        if "provider_code" in expect:
            assert info.value.provider_code == expect["provider_code"]
        if "provider_subcode" in expect:
            assert info.value.provider_subcode == expect["provider_subcode"]
        for text in expect.get("message_contains", []):
            assert text in info.value.message
    else:
        # Then the documented answer becomes the expected result
        _check_expectations(expect, call(doc, _app(spec, contract), ctx))
    # And exactly the documented requests were sent
    sent = fake_provider.requests(provider)
    assert [r.route for r in sent] == [e["route"] for e in contract["exchanges"]]
    for request, exchange in zip(sent, contract["exchanges"], strict=True):
        documented = exchange["request"]
        assert request.method == documented["method"]
        assert request.path == _prefix(provider) + documented["path"]
        assert request.query == documented.get("query", {})
        assert request.form == documented.get("form")
        assert request.json == documented.get("json")
        for name, value in documented.get("headers", {}).items():
            assert request.headers.get(name) == value


def _same_shape(documented: Any, actual: Any, where: str = "body") -> None:
    """Every documented key is in the fake's answer, with a value of the same JSON type."""
    if isinstance(documented, dict):
        assert isinstance(actual, dict), f"{where}: expected an object"
        for key, value in documented.items():
            assert key in actual, f"{where}.{key} missing from the fake's answer"
            _same_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list), f"{where}: expected a list"
        if documented and actual:
            _same_shape(documented[0], actual[0], f"{where}[0]")
    elif isinstance(documented, bool) or documented is None:
        assert type(actual) is type(documented), f"{where}: {actual!r} vs {documented!r}"
    elif isinstance(documented, int | float):
        assert isinstance(actual, int | float), f"{where}: expected a number"
        assert not isinstance(actual, bool), f"{where}: expected a number"
    else:
        assert isinstance(actual, str), f"{where}: expected a string"


def _dig(body: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def _set_up(fake: FakeProviders, spec: dict[str, Any], setup: dict[str, Any]) -> None:
    provider = setup["provider"]
    app = setup.get("register_app")
    if app:
        fake.register_app(provider, app["client_id"], app["client_secret"])
    for seed in setup.get("seed", []):
        fake.seed(provider, **seed)
    for token, info in setup.get("revoke", {}).items():
        fake.revoke(token, **info)
    if setup.get("configure"):
        fake.configure(provider, **setup["configure"])


FAKE_CASES = [c for c in CASES if c.values[1].get("fake")]


@pytest.mark.parametrize(("spec", "contract"), FAKE_CASES)
def test_the_fake_server_answers_the_documented_requests_like_the_platform(
    fake_provider: FakeProviders, spec: Any, contract: Any
) -> None:
    # Given the fake in its normal stateful mode, seeded as the contract says
    setup = contract["fake"]
    _set_up(fake_provider, spec, setup)
    provider = contract["provider"]
    for exchange in contract["exchanges"]:
        if exchange.get("fake") is False:
            continue  # a refusal the fake has no state for (documented, checked above)
        documented = exchange["request"]
        # When it receives the documented request
        resp = requests.request(
            documented["method"],
            fake_provider.url(provider) + documented["path"],
            params=documented.get("query"),
            data=documented.get("form"),
            json=documented.get("json"),
            headers=documented.get("headers"),
            timeout=5,
        )
        # Then the status is the documented one, the answer has the documented shape, and the
        # fields the provider decides on carry the documented values
        answer = exchange["response"]
        assert resp.status_code == answer["status"], resp.text
        _same_shape(answer["body"], resp.json())
        for dotted in exchange.get("same", []):
            assert _dig(resp.json(), dotted) == _dig(answer["body"], dotted), dotted


def test_every_platform_has_contracts_with_a_source() -> None:
    # Given the contract files / Then each platform is covered and every contract cites a source
    covered = {c.values[1]["provider"] for c in CASES}
    names = {ALIASES.get(p, p) for p in covered}
    assert names == set(PLATFORMS)
    for case in CASES:
        assert case.values[1]["source"].startswith("https://"), case.id


PROVIDER_MODULES = sorted(
    p.stem
    for p in (Path(__file__).parents[3] / "layers/core/python/token_refresher/providers").glob(
        "*.py"
    )
    if p.stem != "__init__"
)


@pytest.mark.parametrize("module", PROVIDER_MODULES)
def test_every_provider_module_declares_its_surface(module: str) -> None:
    # Given a module of the providers package
    loaded = importlib.import_module(f"token_refresher.providers.{module}")
    # Then it declares __all__, and every name in it exists
    declared = getattr(loaded, "__all__", None)
    assert declared, f"{module} declares no __all__"
    assert [name for name in declared if not hasattr(loaded, name)] == []


@pytest.mark.parametrize("name", sorted(PROVIDER_NAMES))
def test_every_provider_is_a_platform_client_with_declared_endpoints(name: str) -> None:
    # Given a registered provider / Then it is one PlatformClient with its endpoints declared
    provider = get_provider(name)
    assert isinstance(provider, PlatformClient)
    assert isinstance(provider.endpoints, Endpoints)
    assert provider.name == name
