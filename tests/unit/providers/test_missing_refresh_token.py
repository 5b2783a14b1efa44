"""A missing refresh token is reported the same way by every provider that refreshes with one: a
secret document error naming ``refresh_token``, before any request. LinkedIn is the one documented
exception: there a consent without a refresh token is valid (apps not approved for programmatic
refresh get none), so its absence means "the member must consent again", not a broken document.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.fakes import NoNetwork

from token_refresher.errors import ErrorClass, ProviderError, SecretFormatError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers import PROVIDER_NAMES, get_provider
from token_refresher.providers.base import ProviderContext
from token_refresher.providers.tiktok import KIND_ACCOUNT
from token_refresher.timeutil import utcnow

pytestmark = pytest.mark.unit

APP = AppCredentials(client_id="client-id-1234", client_secret="client-secret-0001")

# provider -> what its document needs besides the missing refresh token
REFRESHED_WITH_ONE: dict[str, dict[str, Any]] = {
    "google_ads": {},
    "microsoft_ads": {},
    "amazon_ads": {},
    "oauth2": {"options": {"token_url": "https://auth.example.com/token"}},
    "tiktok": {"kind": KIND_ACCOUNT},
}
# Providers that never hold one: a long-lived or system user token is re-exchanged or validated
NO_REFRESH_TOKEN = {"meta", "meta_system_user"}


def _document(provider: str, extra: dict[str, Any]) -> TokenDocument:
    data = {"schema": 1, "provider": provider, "access_token": "old-access-0001"} | extra
    return TokenDocument.from_dict(data)


def _ctx() -> ProviderContext:
    return ProviderContext(http=NoNetwork(), clock=utcnow)  # type: ignore[arg-type]


def test_every_provider_is_placed():
    # Then every registered provider is refreshed with a refresh token, is LinkedIn, or holds none
    placed = set(REFRESHED_WITH_ONE) | {"linkedin"} | NO_REFRESH_TOKEN
    assert placed == set(PROVIDER_NAMES)


@pytest.mark.parametrize("provider", sorted(REFRESHED_WITH_ONE))
def test_a_missing_refresh_token_is_a_document_error_naming_the_field(provider: str):
    # Given a document of this provider without a refresh token
    doc = _document(provider, REFRESHED_WITH_ONE[provider])
    # When it is refreshed
    with pytest.raises(SecretFormatError) as refused:
        get_provider(provider).refresh(doc, APP, _ctx())
    # Then the error is a config error naming refresh_token, and nothing was sent
    assert refused.value.field == "refresh_token"
    assert refused.value.error_class is ErrorClass.CONFIG
    assert str(refused.value).startswith("refresh_token: ")


def test_linkedin_without_a_refresh_token_asks_for_a_new_consent():
    # Given a LinkedIn connection whose consent brought no refresh token
    doc = _document("linkedin", {"expires_at": "2027-01-31T00:00:00Z"})
    # When it is refreshed
    with pytest.raises(ProviderError) as refused:
        get_provider("linkedin").refresh(doc, APP, _ctx())
    # Then a human must consent again before the access token ends; nothing was sent
    assert refused.value.error_class is ErrorClass.REAUTH_REQUIRED
    assert "2027-01-31" in (refused.value.remediation or "")
