"""The token secret document (schema 1) and the app-credentials document.

A token secret holds one connection's token::

    {"schema": 1, "provider": "meta", "kind": "user_long_lived",
     "access_token": "...", "refresh_token": null,
     "expires_at": "2027-01-27T10:00:00Z", "refresh_token_expires_at": null,
     "data_access_expires_at": "2027-02-26T10:00:00Z",
     "app_secret_id": "token-refresher/apps/meta-main",
     "options": {"graph_version": "v25.0"}}

Fields the library does not know are kept verbatim and written back on every rotation, so users can
keep their own metadata in the secret. Parsing errors name the bad field and never echo its value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from token_refresher.errors import ConfigError, SecretFormatError
from token_refresher.timeutil import format_iso, parse_iso

SCHEMA_VERSION = 1
# The platforms a token document may name (``provider``); each has a module in providers/ (its
# registry is keyed by these names, and a unit test keeps the two equal).
PROVIDER_NAMES = (
    "amazon_ads",
    "google_ads",
    "linkedin",
    "meta",
    "meta_system_user",
    "microsoft_ads",
    "oauth2",
    "tiktok",
)
MAX_DOCUMENT_BYTES = 65_536  # Secrets Manager's own limit on a secret value

_KNOWN_FIELDS = (
    "schema",
    "provider",
    "kind",
    "access_token",
    "refresh_token",
    "expires_at",
    "refresh_token_expires_at",
    "data_access_expires_at",
    "app_secret_id",
    "options",
    "last_refreshed_at",
    "notices",
)


def _load_json_object(text: object, what: str, error: type[ConfigError]) -> dict[str, Any]:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise error("is not UTF-8 text", field=what) from None
    if not isinstance(text, str):
        raise error(f"must be a JSON string, got {type(text).__name__}", field=what)
    if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        raise error(f"is larger than {MAX_DOCUMENT_BYTES} bytes", field=what)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # json's message carries a line/column only, never the text itself.
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        raise error(f"is not valid JSON ({reason})", field=what) from None
    if not isinstance(data, dict):
        raise error(f"must be a JSON object, got {type(data).__name__}", field=what)
    return data


def _opt_str(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise SecretFormatError("is required", field=name)
        return None
    if not isinstance(value, str):
        raise SecretFormatError(f"must be a string, got {type(value).__name__}", field=name)
    if required and not value.strip():
        raise SecretFormatError("must not be empty", field=name)
    return value


def _opt_time(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SecretFormatError(
            f"must be an ISO-8601 string or null, got {type(value).__name__}", field=name
        )
    try:
        return parse_iso(value)
    except (ValueError, OverflowError):
        raise SecretFormatError("is not an ISO-8601 timestamp", field=name) from None


@dataclass(frozen=True)
class TokenDocument:
    provider: str
    access_token: str | None
    app_secret_id: str | None
    kind: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    refresh_token_expires_at: datetime | None = None
    data_access_expires_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    notices: tuple[Mapping[str, Any], ...] = ()  # written by the refresher, read at finishSecret
    extras: Mapping[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION

    @classmethod
    def from_json(cls, text: object) -> TokenDocument:
        return cls.from_dict(_load_json_object(text, "secret", SecretFormatError))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenDocument:
        schema = data.get("schema")
        if schema is None:
            raise SecretFormatError("is required (use 1)", field="schema")
        if isinstance(schema, bool) or schema != SCHEMA_VERSION:
            raise SecretFormatError(
                f"unsupported schema version (supported: {SCHEMA_VERSION})", field="schema"
            )
        provider = _opt_str(data, "provider", required=True)
        access_token = _opt_str(data, "access_token")
        refresh_token = _opt_str(data, "refresh_token")
        if not access_token and not refresh_token:
            raise SecretFormatError(
                "is required when there is no refresh_token", field="access_token"
            )
        options = data.get("options")
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise SecretFormatError(
                f"must be an object, got {type(options).__name__}", field="options"
            )
        for key in options:
            if not isinstance(key, str):  # pragma: no cover - JSON keys are always strings
                raise SecretFormatError("keys must be strings", field="options")
        notices = data.get("notices")
        notices = [] if notices is None else notices
        if not isinstance(notices, list) or not all(isinstance(n, dict) for n in notices):
            raise SecretFormatError("must be a list of objects", field="notices")
        return cls(
            schema=SCHEMA_VERSION,
            notices=tuple(notices),
            provider=provider or "",
            kind=_opt_str(data, "kind"),
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=_opt_time(data, "expires_at"),
            refresh_token_expires_at=_opt_time(data, "refresh_token_expires_at"),
            data_access_expires_at=_opt_time(data, "data_access_expires_at"),
            last_refreshed_at=_opt_time(data, "last_refreshed_at"),
            app_secret_id=_opt_str(data, "app_secret_id"),
            options=dict(options),
            extras={k: v for k, v in data.items() if k not in _KNOWN_FIELDS},
        )

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else format_iso(value)

        out: dict[str, Any] = dict(self.extras)
        out.update(
            {
                "schema": self.schema,
                "provider": self.provider,
                "kind": self.kind,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": iso(self.expires_at),
                "refresh_token_expires_at": iso(self.refresh_token_expires_at),
                "data_access_expires_at": iso(self.data_access_expires_at),
                "last_refreshed_at": iso(self.last_refreshed_at),
                "app_secret_id": self.app_secret_id,
                "options": dict(self.options),
                "notices": [dict(n) for n in self.notices],
            }
        )
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def str_option(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.options.get(name, default)
        if value is None and required:
            raise SecretFormatError("is required for this provider", field=f"options.{name}")
        if value is not None and not isinstance(value, str):
            raise SecretFormatError("must be a string", field=f"options.{name}")
        return value or ""

    def bool_option(self, name: str, default: bool = False) -> bool:
        value = self.options.get(name, default)
        if not isinstance(value, bool):
            raise SecretFormatError("must be true or false", field=f"options.{name}")
        return value

    def evolve(self, **changes: Any) -> TokenDocument:
        return replace(self, **changes)

    def secret_values(self) -> list[str]:
        """Every token string in this document, for redaction."""
        return [v for v in (self.access_token, self.refresh_token) if v]


class AppCredentialsError(ConfigError):
    """The app-credentials secret is missing or malformed."""


@dataclass(frozen=True)
class AppCredentials:
    """A provider app's credentials, stored in their own secret and shared by many connections.

    ``{"client_id": "...", "client_secret": "..."}``; Meta's ``app_id``/``app_secret`` and TikTok's
    ``app_id``/``secret`` spellings are accepted too. Other fields stay in ``extra``. A public
    client (``"client_auth": "none"``, RFC 7591's word; the older ``"public_client": true`` is still
    read) has no secret: ``client_secret`` is then optional and empty when absent.
    """

    client_id: str
    client_secret: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    _ID_KEYS = ("client_id", "app_id")
    _SECRET_KEYS = ("client_secret", "app_secret", "secret")

    @classmethod
    def from_json(cls, text: object, label: str = "app_secret_id") -> AppCredentials:
        data = _load_json_object(text, label, AppCredentialsError)

        def pick(keys: tuple[str, ...]) -> str:
            for key in keys:
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    return value
                if value is not None:
                    raise AppCredentialsError("must be a non-empty string", field=f"{label}.{key}")
            raise AppCredentialsError("is required", field=f"{label}.{keys[0]}")

        client_id = pick(cls._ID_KEYS)
        public = data.get("public_client") is True or data.get("client_auth") == "none"
        if public and all(data.get(key) is None for key in cls._SECRET_KEYS):
            client_secret = ""  # nosec B105 # a public client has no secret: nothing to send or mask
        else:
            client_secret = pick(cls._SECRET_KEYS)
        extra = {k: v for k, v in data.items() if k not in cls._ID_KEYS + cls._SECRET_KEYS}
        return cls(client_id=client_id, client_secret=client_secret, extra=extra)

    def __repr__(self) -> str:  # never print the secret
        return f"AppCredentials(client_id={self.client_id!r}, client_secret=<redacted>)"

    @property
    def is_public(self) -> bool:
        """A public client: it authenticates with its id alone (RFC 7591 ``none``)."""
        return self.extra.get("client_auth") == "none" or self.extra.get("public_client") is True

    def secret_values(self) -> list[str]:
        """The secret and Meta's app token (``client_id|client_secret``), for redaction."""
        if not self.client_secret:
            return []
        return [self.client_secret, f"{self.client_id}|{self.client_secret}"]
