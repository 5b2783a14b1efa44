"""The token secret document: parsing, errors that name the field, unknown fields preserved."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from token_refresher.errors import ErrorClass, SecretFormatError
from token_refresher.model import AppCredentials, AppCredentialsError, TokenDocument

pytestmark = pytest.mark.unit

VALID = {
    "schema": 1,
    "provider": "meta",
    "kind": "user_long_lived",
    "access_token": "EAAB-access-token-value",
    "refresh_token": None,
    "expires_at": "2027-01-27T10:00:00Z",
    "refresh_token_expires_at": None,
    "data_access_expires_at": "2027-02-26T10:00:00+00:00",
    "app_secret_id": "token-refresher/apps/meta-main",
    "options": {"graph_version": "v25.0"},
}


def test_valid_document_round_trips_with_unknown_fields():
    # Given a document with the user's own fields at the top level
    raw = dict(VALID, owner="growth-team", labels={"env": "prod"})
    # When it is parsed and written back
    doc = TokenDocument.from_json(json.dumps(raw))
    out = json.loads(doc.to_json())
    # Then known fields are typed and unknown ones are kept verbatim
    assert doc.expires_at == datetime(2027, 1, 27, 10, 0, tzinfo=UTC)
    assert doc.option("graph_version") == "v25.0"
    assert out["owner"] == "growth-team"
    assert out["labels"] == {"env": "prod"}
    assert out["data_access_expires_at"] == "2027-02-26T10:00:00Z"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"schema": None}, "schema"),
        ({"schema": 2}, "schema"),
        ({"schema": True}, "schema"),
        ({"provider": None}, "provider"),
        ({"provider": ""}, "provider"),
        ({"provider": 7}, "provider"),
        ({"access_token": None}, "access_token"),
        ({"access_token": ["x"]}, "access_token"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        ({"expires_at": 1700000000}, "expires_at"),
        ({"refresh_token_expires_at": "2027-13-01T00:00:00Z"}, "refresh_token_expires_at"),
        ({"options": []}, "options"),
        ({"app_secret_id": 12}, "app_secret_id"),
        ({"notices": "none"}, "notices"),
    ],
)
def test_bad_fields_are_named(change, field):
    # Given a document with one bad field
    raw = dict(VALID, **change)
    # When it is parsed, then the error is a config error naming that field
    with pytest.raises(SecretFormatError) as info:
        TokenDocument.from_json(json.dumps(raw))
    assert info.value.field == field
    assert info.value.error_class is ErrorClass.CONFIG
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", "null", b"\xff\xfe", 42])
def test_non_object_documents_are_rejected(text):
    with pytest.raises(SecretFormatError) as info:
        TokenDocument.from_json(text)
    assert info.value.field == "secret"


def test_error_messages_never_echo_the_value():
    # Given a bad expires_at that happens to contain a token-like string
    raw = dict(VALID, expires_at="EAAB-secret-looking-value")
    with pytest.raises(SecretFormatError) as info:
        TokenDocument.from_json(json.dumps(raw))
    assert "EAAB-secret-looking-value" not in str(info.value)


def test_refresh_token_alone_is_enough():
    doc = TokenDocument.from_json(
        json.dumps({"schema": 1, "provider": "google_ads", "refresh_token": "1//refresh-value"})
    )
    assert doc.access_token is None
    assert doc.refresh_token == "1//refresh-value"


def test_app_credentials_accept_provider_spellings_and_hide_the_secret():
    # Given Meta's and TikTok's own key names
    meta = AppCredentials.from_json('{"app_id": "123", "app_secret": "meta-app-secret-value"}')
    tiktok = AppCredentials.from_json('{"app_id": "7", "secret": "tiktok-secret-value"}')
    # Then they map onto client_id / client_secret, and repr never shows the secret
    assert (meta.client_id, meta.client_secret) == ("123", "meta-app-secret-value")
    assert tiktok.client_secret == "tiktok-secret-value"
    assert "meta-app-secret-value" not in repr(meta)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"client_secret": "s"}', "app_secret_id.client_id"),
        ('{"client_id": "c"}', "app_secret_id.client_secret"),
        ('{"client_id": "", "client_secret": "s"}', "app_secret_id.client_id"),
        ("nope", "app_secret_id"),
    ],
)
def test_app_credentials_errors_name_the_field(text, field):
    with pytest.raises(AppCredentialsError) as info:
        AppCredentials.from_json(text)
    assert info.value.field == field
