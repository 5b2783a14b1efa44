"""Every RFC 6749-style provider treats an unusable 200 answer as a transient "malformed" error
that names the problem (and is not retried: the provider did answer)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.fake_providers import FakeProviders, Response

from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import amazon_ads, google_ads, linkedin, microsoft_ads
from token_refresher.providers.base import ProviderContext

pytestmark = pytest.mark.unit

# provider module, fake server prefix, the document's tokens
PROVIDERS: dict[str, tuple[Any, str, dict[str, str]]] = {
    "amazon_ads": (amazon_ads, "amazon", {"refresh_token": "Atzr|amazon-refresh-token-0001"}),
    "google_ads": (google_ads, "google", {"refresh_token": "1//0g-google-refresh-token-0001"}),
    "linkedin": (
        linkedin,
        "linkedin",
        {"access_token": "AQV-linkedin-access-0001", "refresh_token": "AQX-linkedin-refresh-0001"},
    ),
    "microsoft_ads": (microsoft_ads, "microsoft", {"refresh_token": "M.C5-microsoft-refresh-0001"}),
}

CASES = [
    ("amazon_ads", Response(200, text="<html>Amazon</html>"), "HTML page"),
    (
        "amazon_ads",
        Response(200, {"refresh_token": "Atzr|r", "expires_in": 3600}),
        "no access_token",
    ),
    ("amazon_ads", Response(200, {"access_token": "Atza|x", "expires_in": -5}), "plausible range"),
    ("google_ads", Response(200, text="<html>Error 502</html>"), "HTML page"),
    ("google_ads", Response(200, {"expires_in": 3599}), "no access_token"),
    ("google_ads", Response(200, {"access_token": "ya29.x", "expires_in": 5}), "plausible range"),
    ("linkedin", Response(200, text="<html><body>Maintenance</body></html>"), "HTML page"),
    ("linkedin", Response(200, {"expires_in": 5184000}), "no access_token"),
    ("linkedin", Response(200, {"access_token": "AQV-x", "expires_in": 10**9}), "plausible range"),
    (
        "linkedin",
        Response(
            200, {"access_token": "AQV-x", "expires_in": 100, "refresh_token_expires_in": "x"}
        ),
        "refresh_token_expires_in",
    ),
    ("microsoft_ads", Response(200, text="<html>Sign in</html>"), "HTML page"),
    (
        "microsoft_ads",
        Response(200, {"refresh_token": "M.C5-x", "expires_in": 3599}),
        "no access_token",
    ),
    (
        "microsoft_ads",
        Response(200, {"access_token": "EwB", "refresh_token": "M.C5", "expires_in": "never"}),
        "expires_in",
    ),
]


@pytest.mark.parametrize(
    ("provider", "response", "expected"), CASES, ids=[f"{p}-{e}" for p, _, e in CASES]
)
def test_unusable_200_answer_is_transient_and_named(
    fake_provider: FakeProviders,
    ctx: ProviderContext,
    app: AppCredentials,
    provider: str,
    response: Response,
    expected: str,
) -> None:
    # Given a provider answering 200 with something we cannot use
    module, prefix, tokens = PROVIDERS[provider]
    fake_provider.script(prefix, "token", [response])
    doc = TokenDocument.from_dict({"schema": 1, "provider": provider, **tokens})
    # When refreshed
    with pytest.raises(ProviderError) as info:
        module.PROVIDER.refresh(doc, app, ctx)
    # Then a transient error naming the problem, after exactly one request
    assert info.value.error_class is ErrorClass.TRANSIENT
    assert expected in str(info.value)
    assert len(fake_provider.requests(prefix)) == 1
